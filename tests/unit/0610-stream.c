/*
 * 0610-stream.c — change stream records and the log's read side against a
 * real store: records in apply order with full state before and after,
 * group membership deltas as they really happened (add, remove, replace),
 * tombstones naming the groups a deleted member left, refusals flagged,
 * admin events and other tenants left out; exact resumption after a
 * position and bounded reads; scim_log_read from a position; the reports
 * time index in apply order (an event stamped earlier but folded later is
 * found from the last appliedAt seen); a replay writes identical records;
 * every record's text is the compact JSON dump of its value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log/scim_log.h"
#include "projector/scim_projector.h"
#include "tests/unit/unit_harness.h"

static char dir[512];
static scim_store_t *st;

static int setup(void **state)
{
        (void)state;
        unit_store_setup(dir, sizeof(dir), "stream", &st);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_store_teardown(dir, st);
        unit_rmtree_sibling(dir, ".replay");
        return 0;
}

static void add_members(scim_event_t *e, const char *a, const char *b)
{
        e->added = calloc(2, sizeof(*e->added));
        e->added[e->n_added++].value = strdup(a);
        if (b)
                e->added[e->n_added++].value = strdup(b);
}

static void append(scim_event_t *e, int want)
{
        scim_buf_t enc = {0};
        scim_verdict_t v;
        scim_err_t err;

        assert_int_equal(scim_event_encode(e, &enc, &err), 0);
        assert_int_equal(scim_store_append_fold(st, &enc, e, 1, &v, &err), 0);
        if (v.status != want)
                fail_msg("status %d, want %d (%s)", v.status, want, v.detail);
        scim_verdict_clear(&v);
        scim_buf_free(&enc);
        scim_event_clear(e);
}

static int collect(void *ctx, uint64_t pos, const char *json, size_t len)
{
        json_t *arr = ctx, *r = json_loadb(json, len, 0, NULL);
        char *again;

        assert_non_null(r);
        /* the record's text is exactly the compact dump of its value (it
         * is written member by member, not dumped: same bytes) */
        again = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_non_null(again);
        assert_int_equal(strlen(again), len);
        assert_memory_equal(again, json, len);
        free(again);
        assert_int_equal((uint64_t)json_integer_value(
                             json_object_get(r, "position")),
                         pos);
        json_array_append_new(arr, r);
        return 0;
}

static json_t *read_all(const char *tenant, uint64_t after, size_t max)
{
        json_t *arr = json_array();
        scim_err_t err;

        assert_true(scim_store_stream_read(st, tenant, after, max, 1 << 20,
                                           collect, arr, &err) >= 0);
        return arr;
}

static const char *S(const json_t *o, const char *path1, const char *path2)
{
        const json_t *v = json_object_get(o, path1);

        if (path2)
                v = json_object_get(v, path2);
        return json_string_value(v);
}

#define T0 1699999200000LL

static void test_records(void **state)
{
        scim_event_t e;
        json_t *recs, *r, *m;

        (void)state;
        e = unit_event(SCIM_ACT_TENANT_CREATE, 0, "t", NULL, NULL, T0);
        append(&e, 201);
        e = unit_event(SCIM_ACT_TENANT_CREATE, 0, "t2", NULL, NULL, T0);
        append(&e, 201);
        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "u1",
                       "{\"userName\":\"one\"}", T0 + 1000);
        append(&e, 201);
        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, "t2", "x1",
                       "{\"userName\":\"other\"}", T0 + 1000);
        append(&e, 201);
        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "u2",
                       "{\"userName\":\"two\"}", T0 + 2000);
        append(&e, 201);
        e = unit_event(SCIM_ACT_REPLACE, SCIM_RT_USER, "t", "u1",
                       "{\"userName\":\"one\",\"title\":\"boss\"}", T0 + 3000);
        append(&e, 200);
        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_GROUP, "t", "g",
                       "{\"displayName\":\"G\"}", T0 + 4000);
        add_members(&e, "u1", "u2");
        append(&e, 201);
        e = unit_event(SCIM_ACT_PATCH, SCIM_RT_GROUP, "t", "g", NULL,
                       T0 + 5000);
        e.removed = calloc(2, sizeof(*e.removed));
        e.removed[0] = strdup("u2");
        e.removed[1] = strdup("nobody"); /* not a member: no effect */
        e.n_removed = 2;
        add_members(&e, "u1", NULL); /* already a member: no effect */
        append(&e, 200);
        e = unit_event(SCIM_ACT_REPLACE, SCIM_RT_GROUP, "t", "g",
                       "{\"displayName\":\"G2\"}", T0 + 6000);
        e.members_replace = 1;
        add_members(&e, "u2", NULL);
        append(&e, 200);
        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "u3",
                       "{\"userName\":\"ONE\"}", T0 + 7000);
        append(&e, 409); /* userName taken: refused by the fold */
        e = unit_event(SCIM_ACT_DELETE, SCIM_RT_USER, "t", "u2", NULL,
                       T0 + 8000);
        append(&e, 204);
        e = unit_event(SCIM_ACT_TOKEN_ISSUE, 0, "t", NULL, NULL, T0 + 9000);
        e.token_id = strdup("abcd");
        e.token_hash = strdup("0000000000000000000000000000000000000000000000"
                              "000000000000000000");
        append(&e, 201);

        recs = read_all("t", 0, 100);
        /* creates u1 u2, replace u1, group create, patch, put, refused,
         * delete; no admin events, nothing of t2 */
        assert_int_equal(json_array_size(recs), 8);
        for (size_t i = 1; i < json_array_size(recs); i++)
                assert_true(json_integer_value(json_object_get(
                                json_array_get(recs, i), "position")) >
                            json_integer_value(json_object_get(
                                json_array_get(recs, i - 1), "position")));
        r = json_array_get(recs, 0);
        assert_string_equal(S(r, "op", NULL), "create");
        assert_true(json_is_true(json_object_get(r, "applied")));
        assert_string_equal(S(r, "after", "userName"), "one");
        assert_string_equal(S(r, "after", "id"), "u1");
        assert_null(json_object_get(r, "before"));
        r = json_array_get(recs, 2);
        assert_string_equal(S(r, "op", NULL), "replace");
        assert_null(json_object_get(json_object_get(r, "before"), "title"));
        assert_string_equal(S(r, "after", "title"), "boss");
        r = json_array_get(recs, 3); /* group create: both members added */
        m = json_object_get(r, "members");
        assert_int_equal(json_array_size(json_object_get(m, "added")), 2);
        assert_string_equal(
            S(json_array_get(json_object_get(m, "added"), 0), "type", NULL),
            "User");
        assert_null(json_object_get(r, "before"));
        r = json_array_get(recs, 4); /* patch: only u2 really left */
        m = json_object_get(r, "members");
        assert_int_equal(json_array_size(json_object_get(m, "added")), 0);
        assert_int_equal(json_array_size(json_object_get(m, "removed")), 1);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(m, "removed"), 0)),
            "u2");
        r = json_array_get(recs, 5); /* put: u2 back, u1 out */
        m = json_object_get(r, "members");
        assert_true(json_is_true(json_object_get(m, "replaced")));
        assert_string_equal(
            S(json_array_get(json_object_get(m, "added"), 0), "value", NULL),
            "u2");
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(m, "removed"), 0)),
            "u1");
        assert_string_equal(S(r, "before", "displayName"), "G");
        assert_string_equal(S(r, "after", "displayName"), "G2");
        r = json_array_get(recs, 6); /* refused by the fold */
        assert_true(json_is_false(json_object_get(r, "applied")));
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(r, "refused"),
                                               "status")),
            409);
        assert_string_equal(S(r, "refused", "scimType"), "uniqueness");
        assert_null(json_object_get(r, "after"));
        r = json_array_get(recs, 7); /* tombstone with its effects */
        assert_string_equal(S(r, "op", NULL), "delete");
        assert_true(json_is_true(json_object_get(r, "tombstone")));
        assert_string_equal(S(r, "before", "userName"), "two");
        assert_null(json_object_get(r, "after"));
        m = json_array_get(json_object_get(r, "membershipEffects"), 0);
        assert_string_equal(S(m, "group", NULL), "g");
        assert_string_equal(S(m, "member", NULL), "u2");
        assert_string_equal(S(m, "effect", NULL), "removed");
        {
                /* exact resumption, bounded reads */
                uint64_t p3 = (uint64_t)json_integer_value(json_object_get(
                    json_array_get(recs, 3), "position"));
                json_t *rest = read_all("t", p3, 2);

                assert_int_equal(json_array_size(rest), 2);
                assert_true(json_equal(json_array_get(rest, 0),
                                       json_array_get(recs, 4)));
                json_decref(rest);
                rest = read_all("t", UINT64_MAX, 10);
                assert_int_equal(json_array_size(rest), 0);
                json_decref(rest);
                rest = read_all("t2", 0, 10);
                assert_int_equal(json_array_size(rest), 1);
                json_decref(rest);
        }
        json_decref(recs);
}

static int count_log(void *ctx, uint64_t pos, const void *data, size_t len)
{
        uint64_t *last = ctx;
        scim_event_t ev;
        scim_err_t err;

        assert_true(pos > *last);
        *last = pos;
        memset(&ev, 0, sizeof(ev));
        assert_int_equal(scim_event_decode(data, len, &ev, &err), 0);
        scim_event_clear(&ev);
        return 0;
}

static void test_log_read(void **state)
{
        uint64_t last = 3;
        scim_err_t err;
        long n;

        (void)state;
        n = scim_log_read(st, 3, 1000, count_log, &last, &err);
        assert_int_equal(n, (long)scim_store_position(st) - 3);
        assert_int_equal(last, scim_store_position(st));
        last = 0;
        assert_int_equal(scim_log_read(st, 0, 2, count_log, &last, &err), 2);
        assert_int_equal(last, 2);
}

/* An event stamped before one already folded (an external producer, a
 * clock behind) is indexed at the tenant's latest apply time: a reader
 * that saw appliedAt X and asks from=X finds it. */
static void test_apply_order_index(void **state)
{
        scim_event_t e;
        scim_change_query_t q;
        json_t *recs = NULL;
        scim_buf_t next = {0};
        scim_err_t err;
        int64_t t_late = T0 + 3600000;

        (void)state;
        e = unit_event(SCIM_ACT_TENANT_CREATE, 0, "late", NULL, NULL, T0);
        append(&e, 201);
        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, "late", "a",
                       "{\"userName\":\"a\"}", t_late);
        append(&e, 201);
        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, "late", "b",
                       "{\"userName\":\"b\"}", T0 + 60000); /* older stamp */
        append(&e, 201);
        memset(&q, 0, sizeof(q));
        q.from_ms = t_late;
        q.to_ms = INT64_MAX;
        q.count = 10;
        assert_int_equal(scim_changes_query(st, "late", &q, &recs, &next, &err),
                         0);
        assert_int_equal(json_array_size(recs), 2);
        assert_string_equal(S(json_array_get(recs, 1), "id", NULL), "b");
        assert_string_equal(S(json_array_get(recs, 1), "time", NULL),
                            "2023-11-14T22:01:00.000Z");
        assert_string_equal(S(json_array_get(recs, 1), "appliedAt", NULL),
                            "2023-11-14T23:00:00.000Z");
        json_decref(recs);
        scim_buf_free(&next);
}

static void test_replay_same_records(void **state)
{
        scim_store_t *rep;
        char rdir[600], e[256], d1[65], d2[65];
        scim_err_t err;

        (void)state;
        snprintf(rdir, sizeof(rdir), "%s.replay", dir);
        assert_int_equal(scim_store_open(rdir, &rep, e, sizeof(e)), 0);
        assert_int_equal(scim_store_replay(st, rep, 0, NULL, &err), 0);
        assert_int_equal(scim_store_digest(st, d1, &err), 0);
        assert_int_equal(scim_store_digest(rep, d2, &err), 0);
        assert_string_equal(d1, d2);
        scim_store_close(rep);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_records),
            cmocka_unit_test(test_log_read),
            cmocka_unit_test(test_apply_order_index),
            cmocka_unit_test(test_replay_same_records),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
