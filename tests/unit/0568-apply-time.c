/*
 * 0568-apply-time.c — a tenant's apply time (views_format 0012): an event
 * stamped before the tenant's latest indexed event is indexed (and
 * reported as appliedAt) at that later time; the row lives in the default
 * column family ("atime" \0 tenant \0 partition, updated in place), no
 * longer in chidx; a tenant delete drops it (then its own record sets it
 * to the delete's time, as when the row was in chidx), so a tenant created
 * again does not inherit a later time; replay gives the same digest; a data
 * dir whose views carry format 0011 is not current until replayed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/scim_projector.h"
#include "tests/unit/unit_harness.h"

#define T0 1699999200000LL /* 2023-11-14T22:00:00Z */
#define MIN 60000LL

static char dir[512];
static scim_store_t *st;

static int setup(void **state)
{
        (void)state;
        unit_store_setup(dir, sizeof(dir), "applytime", &st);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_store_teardown(dir, st);
        unit_rmtree_sibling(dir, ".replay");
        unit_rmtree_sibling(dir, ".old");
        unit_rmtree_sibling(dir, ".fresh");
        return 0;
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

static void user(const char *tenant, const char *id, int64_t ms)
{
        char js[64];
        scim_event_t e;

        snprintf(js, sizeof(js), "{\"userName\":\"%s\"}", id);
        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, tenant, id, js, ms);
        append(&e, 201);
}

static void tenant_event(scim_action_t act, const char *tenant, int64_t ms,
                         int want)
{
        scim_event_t e = unit_event(act, 0, tenant, NULL, NULL, ms);

        e.schema_version = act == SCIM_ACT_TENANT_DELETE ? 3 : 2;
        append(&e, want);
}

/* appliedAt and time of the tenant's user records, in index order, as
 * "id@appliedAt(time)" joined by spaces (new string). */
static char *applied(const char *tenant)
{
        scim_change_query_t q;
        scim_buf_t next = {0}, out = {0};
        json_t *recs = NULL, *r;
        scim_err_t err;
        size_t i;

        memset(&q, 0, sizeof(q));
        q.from_ms = INT64_MIN;
        q.to_ms = INT64_MAX;
        q.rtype = 'U';
        q.count = 100;
        assert_int_equal(scim_changes_query(st, tenant, &q, &recs, &next, &err),
                         0);
        json_array_foreach(recs, i, r)
        {
                char one[160];

                snprintf(one, sizeof(one), "%s%s@%s(%s)", i ? " " : "",
                         json_string_value(json_object_get(r, "id")),
                         json_string_value(json_object_get(r, "appliedAt")),
                         json_string_value(json_object_get(r, "time")));
                scim_buf_puts(&out, one);
        }
        json_decref(recs);
        scim_buf_free(&next);
        scim_buf_append(&out, "", 1);
        return out.data;
}

/* The column family's dump (scim_store_dump) as one string (new). */
static char *dump(const char *cf)
{
        char *buf = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&buf, &n);

        assert_non_null(f);
        assert_int_equal(scim_store_dump(st, cf, f), 0);
        fclose(f);
        return buf;
}

static void test_apply_time(void **state)
{
        char *got, *d, rdir[600], dlive[65], drep[65];
        scim_store_t *r;
        scim_err_t err;

        (void)state;
        tenant_event(SCIM_ACT_TENANT_CREATE, "a", T0, 201);
        tenant_event(SCIM_ACT_TENANT_CREATE, "ab", T0, 201);
        user("a", "u1", T0 + 10 * MIN);
        user("a", "u2", T0 + 5 * MIN); /* a clock behind: indexed later */
        user("ab", "v1", T0 + 2 * MIN); /* another tenant: its own time */
        user("a", "u3", T0 + 20 * MIN);
        got = applied("a");
        assert_string_equal(got, "u1@2023-11-14T22:10:00.000Z"
                                 "(2023-11-14T22:10:00.000Z) "
                                 "u2@2023-11-14T22:10:00.000Z"
                                 "(2023-11-14T22:05:00.000Z) "
                                 "u3@2023-11-14T22:20:00.000Z"
                                 "(2023-11-14T22:20:00.000Z)");
        free(got);
        got = applied("ab");
        assert_string_equal(got, "v1@2023-11-14T22:02:00.000Z"
                                 "(2023-11-14T22:02:00.000Z)");
        free(got);

        /* where the rows live: the default family, not chidx's L */
        d = dump("default");
        assert_non_null(strstr(d, "atime\\x00a\\x00\\x00\\x00\\x00\\x00"
                                  "\\x00\\x00\\x00\\x00 = "));
        assert_non_null(strstr(d, "atime\\x00ab\\x00"));
        free(d);
        d = dump("chidx");
        assert_null(strstr(d, "a\\x00L"));
        free(d);

        /* replay writes the same rows */
        assert_int_equal(scim_store_digest(st, dlive, &err), 0);
        snprintf(rdir, sizeof(rdir), "%s.replay", dir);
        r = unit_replay_into(st, rdir, 0, drep);
        assert_string_equal(dlive, drep);
        scim_store_close(r);

        /* a tenant delete drops its apply time (and only its own): the
         * delete's own record then indexes at the delete's time, stamped
         * here before the tenant's latest (T0 + 20 min), so the tenant
         * created again indexes at its own times, not at T0 + 20 min */
        tenant_event(SCIM_ACT_TENANT_DELETE, "a", T0 + 3 * MIN, 204);
        d = dump("default");
        assert_non_null(strstr(d, "atime\\x00ab\\x00"));
        free(d);
        tenant_event(SCIM_ACT_TENANT_CREATE, "a", T0 + 4 * MIN, 201);
        user("a", "w1", T0 + 1 * MIN);
        got = applied("a");
        assert_string_equal(got, "w1@2023-11-14T22:04:00.000Z"
                                 "(2023-11-14T22:01:00.000Z)");
        free(got);
        user("ab", "v2", T0 + 1 * MIN); /* ab kept its apply time */
        got = applied("ab");
        assert_string_equal(got, "v1@2023-11-14T22:02:00.000Z"
                                 "(2023-11-14T22:02:00.000Z) "
                                 "v2@2023-11-14T22:02:00.000Z"
                                 "(2023-11-14T22:01:00.000Z)");
        free(got);
        unit_rmtree_sibling(dir, ".replay");
        assert_int_equal(scim_store_digest(st, dlive, &err), 0);
        r = unit_replay_into(st, rdir, 0, drep);
        assert_string_equal(dlive, drep);
        scim_store_close(r);
}

/* A store whose views say format 0011 (the layout with chidx L rows) is
 * not current; a replay of its log builds current views. */
static void test_format_0011_rebuilt(void **state)
{
        static const char *names[] = {"default", "log",    "res",   "idx",
                                      "mem",     "tenant", "token", "change",
                                      "chidx",   "stream", "dkey"};
        const size_t ncf = sizeof(names) / sizeof(names[0]);
        const rocksdb_options_t *cfo[11];
        rocksdb_column_family_handle_t *cf[11];
        rocksdb_options_t *o = rocksdb_options_create();
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        char odir[600], fdir[600], e[256], *werr = NULL;
        scim_store_t *old = NULL, *fresh = NULL;
        scim_err_t err;
        rocksdb_t *db;

        (void)state;
        tenant_event(SCIM_ACT_TENANT_CREATE, "a", T0, 201);
        user("a", "u1", T0 + 10 * MIN);
        user("a", "u2", T0 + 5 * MIN);
        assert_int_equal(scim_store_views_current(st), 1);
        snprintf(odir, sizeof(odir), "%s.old", dir);
        assert_int_equal(scim_store_open(odir, &old, e, sizeof(e)), 0);
        assert_int_equal(scim_store_replay(st, old, 0, NULL, &err), 0);
        scim_store_close(old);
        for (size_t i = 0; i < ncf; i++)
                cfo[i] = o;
        db = rocksdb_open_column_families(o, odir, (int)ncf, names, cfo, cf,
                                          &werr);
        assert_null(werr);
        rocksdb_put_cf(db, wo, cf[0], "views_format", 12, "0011", 4, &werr);
        assert_null(werr);
        for (size_t i = 0; i < ncf; i++)
                rocksdb_column_family_handle_destroy(cf[i]);
        rocksdb_close(db);
        rocksdb_writeoptions_destroy(wo);
        rocksdb_options_destroy(o);

        assert_int_equal(scim_store_open(odir, &old, e, sizeof(e)), 0);
        assert_int_equal(scim_store_views_current(old), 0);
        snprintf(fdir, sizeof(fdir), "%s.fresh", dir);
        assert_int_equal(scim_store_open(fdir, &fresh, e, sizeof(e)), 0);
        assert_int_equal(scim_store_replay(old, fresh, 0, NULL, &err), 0);
        assert_int_equal(scim_store_views_current(fresh), 1);
        scim_store_close(old);
        /* the rebuilt views answer as the live ones */
        {
                scim_store_t *live = st;
                char *a, *b;

                a = applied("a");
                st = fresh;
                b = applied("a");
                st = live;
                assert_string_equal(a, b);
                free(a);
                free(b);
        }
        scim_store_close(fresh);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_apply_time, setup, teardown),
            cmocka_unit_test_setup_teardown(test_format_0011_rebuilt, setup,
                                            teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
