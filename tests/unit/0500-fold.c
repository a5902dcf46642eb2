/*
 * 0500-fold.c — the fold's preconditions, re-checked in log order,
 * including between events of the same group-commit batch; and replay
 * giving the same views (digest) as the live store.
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

#include <rocksdb/c.h>

#include "projector/scim_projector.h"
#include "schemas/scim_schemas.h"
#include "tests/unit/unit_harness.h"

static char dir[512];
static scim_store_t *st;

static int setup(void **state)
{
        (void)state;
        unit_store_setup(dir, sizeof(dir), "fold", &st);
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

static scim_event_t ev(scim_action_t act, scim_rtype_t rt, const char *tenant,
                       const char *id, const char *json, int64_t expect)
{
        scim_event_t e;

        memset(&e, 0, sizeof(e));
        scim_uuid4(e.event_id);
        e.schema_version = 1;
        e.tenant = strdup(tenant);
        e.rtype = rt;
        e.resource_id = id ? strdup(id) : NULL;
        e.action = act;
        e.time_ms = 1700000000000;
        e.actor = strdup("test");
        e.request_id = strdup("r");
        e.expect_version = expect;
        e.resource_json = json ? strdup(json) : NULL;
        return e;
}

/* Appends n events as one batch; checks the statuses. */
static void batch(scim_event_t *evs, size_t n, const int *want)
{
        scim_buf_t enc[8];
        scim_verdict_t v[8];
        scim_err_t err;

        memset(enc, 0, sizeof(enc));
        for (size_t i = 0; i < n; i++)
                assert_int_equal(scim_event_encode(&evs[i], &enc[i], &err), 0);
        assert_int_equal(scim_store_append_fold(st, enc, evs, n, v, &err), 0);
        for (size_t i = 0; i < n; i++) {
                if (v[i].status != want[i])
                        fail_msg("event %zu: status %d, want %d (%s)", i,
                                 v[i].status, want[i], v[i].detail);
                scim_verdict_clear(&v[i]);
                scim_buf_free(&enc[i]);
                scim_event_clear(&evs[i]);
        }
}

static void test_preconditions(void **state)
{
        scim_event_t e[8];

        e[0] = ev(SCIM_ACT_TENANT_CREATE, 0, "t", NULL, NULL, -1);
        e[1] = ev(SCIM_ACT_TENANT_CREATE, 0, "t", NULL, NULL, -1);
        batch(e, 2, (int[]){201, 409});

        /* same userName twice in ONE batch: the second sees the first */
        e[0] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "u1",
                  "{\"userName\":\"Ann\"}", 0);
        e[1] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "u2",
                  "{\"userName\":\"ANN\"}", 0);
        e[2] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "nope", "u3",
                  "{\"userName\":\"x\"}", 0);
        e[3] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "u1",
                  "{\"userName\":\"other\"}", 0);
        e[4] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "u4", "not json", 0);
        e[5] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "u5", "{\"active\":true}",
                  0);
        batch(e, 6, (int[]){201, 409, 404, 409, 400, 400});

        /* versions */
        e[0] = ev(SCIM_ACT_REPLACE, SCIM_RT_USER, "t", "u1",
                  "{\"userName\":\"ann\",\"title\":\"x\"}", 1);
        e[1] = ev(SCIM_ACT_REPLACE, SCIM_RT_USER, "t", "u1",
                  "{\"userName\":\"ann\",\"title\":\"y\"}", 1);
        e[2] = ev(SCIM_ACT_PATCH, SCIM_RT_USER, "t", "missing",
                  "{\"userName\":\"q\"}", -1);
        batch(e, 3, (int[]){200, 412, 404});

        /* groups: unknown member refused, known member kept, delete
         * removes memberships */
        e[0] = ev(SCIM_ACT_CREATE, SCIM_RT_GROUP, "t", "g1",
                  "{\"displayName\":\"G\"}", 0);
        e[0].added = calloc(1, sizeof(scim_member_t));
        e[0].added[0].value = strdup("nobody");
        e[0].n_added = 1;
        e[1] = ev(SCIM_ACT_CREATE, SCIM_RT_GROUP, "t", "g1",
                  "{\"displayName\":\"G\"}", 0);
        e[1].added = calloc(1, sizeof(scim_member_t));
        e[1].added[0].value = strdup("u1");
        e[1].n_added = 1;
        batch(e, 2, (int[]){400, 201});
        {
                json_t *m = NULL;
                scim_err_t err;

                scim_store_group_members(st, "t", "g1", &m, &err);
                assert_int_equal(json_array_size(m), 1);
                json_decref(m);
                e[0] = ev(SCIM_ACT_DELETE, SCIM_RT_USER, "t", "u1", NULL, -1);
                e[1] = ev(SCIM_ACT_DELETE, SCIM_RT_USER, "t", "u1", NULL, -1);
                batch(e, 2, (int[]){204, 404});
                scim_store_group_members(st, "t", "g1", &m, &err);
                assert_int_equal(json_array_size(m), 0);
                json_decref(m);
        }
        /* a group created and deleted in one batch: the delete walks member
         * rows that exist only in the batch, and deletes while it walks
         * (once a use-after-free under ASan: a delete can grow the batch
         * under the iterator's keys; drop_rows now collects first) */
        e[0] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "m1",
                  "{\"userName\":\"m1\"}", 0);
        e[1] = ev(SCIM_ACT_CREATE, SCIM_RT_GROUP, "t", "g2",
                  "{\"displayName\":\"G2\"}", 0);
        e[1].added = calloc(2, sizeof(scim_member_t));
        e[1].added[0].value = strdup("m1");
        e[1].added[1].value = strdup("u9"); /* not yet created -> 400 */
        e[1].n_added = 2;
        e[2] = ev(SCIM_ACT_CREATE, SCIM_RT_GROUP, "t", "g2",
                  "{\"displayName\":\"G2\"}", 0);
        e[2].added = calloc(1, sizeof(scim_member_t));
        e[2].added[0].value = strdup("m1");
        e[2].n_added = 1;
        e[3] = ev(SCIM_ACT_DELETE, SCIM_RT_GROUP, "t", "g2", NULL, -1);
        batch(e, 4, (int[]){201, 400, 201, 204});
        {
                json_t *m = NULL;
                scim_err_t err;

                scim_store_user_groups(st, "t", "m1", &m, &err);
                assert_int_equal(json_array_size(m), 0);
                json_decref(m);
        }
        /* the userName is free again after the delete */
        e[0] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "t", "u9",
                  "{\"userName\":\"Ann\"}", 0);
        batch(e, 1, (int[]){201});
}

/* bytes as scim_store_dump prints them */
static void dump_esc(scim_buf_t *b, const char *s)
{
        char x[8];

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if (c >= 32 && c < 127 && c != '\\')
                        scim_buf_append(b, s, 1);
                else {
                        snprintf(x, sizeof(x), "\\x%02x", c);
                        scim_buf_puts(b, x);
                }
        }
}

/* A membership row's text is the bytes scim_json_dumps writes of
 * {"type", "display"?} (fold.c writes it without the tree): displays
 * with escapes, control bytes and Unicode, and none. (A display jansson
 * refuses, not UTF-8, cannot be encoded in an event: fold.c leaves it
 * out as json_object_set_new of NULL did.) */
static void test_member_rows(void **state)
{
        static const char *disp[] = {"Ann \"A\"\t\\ / x", "\x01 caf\xc3\xa9 \xe2\x80\xa8", NULL,
                                     "plain"};
        const char *ids[] = {"m1", "m2", "m3", "m4"};
        scim_event_t e[8];
        char *got = NULL;
        size_t n = 0;
        FILE *f;

        (void)state;
        e[0] = ev(SCIM_ACT_TENANT_CREATE, 0, "mr", NULL, NULL, -1);
        e[1] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "mr", "m1",
                  "{\"userName\":\"m1\"}", 0);
        e[2] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "mr", "m2",
                  "{\"userName\":\"m2\"}", 0);
        e[3] = ev(SCIM_ACT_CREATE, SCIM_RT_GROUP, "mr", "m3",
                  "{\"displayName\":\"inner\"}", 0);
        e[4] = ev(SCIM_ACT_CREATE, SCIM_RT_USER, "mr", "m4",
                  "{\"userName\":\"m4\"}", 0);
        e[5] = ev(SCIM_ACT_CREATE, SCIM_RT_GROUP, "mr", "mg",
                  "{\"displayName\":\"outer\"}", 0);
        e[5].added = calloc(4, sizeof(scim_member_t));
        for (size_t i = 0; i < 4; i++) {
                e[5].added[i].value = strdup(ids[i]);
                e[5].added[i].display = disp[i] ? strdup(disp[i]) : NULL;
        }
        e[5].n_added = 4;
        batch(e, 6, (int[]){201, 201, 201, 201, 201, 201});
        f = open_memstream(&got, &n);
        assert_non_null(f);
        assert_int_equal(scim_store_dump(st, "mem", f), 0);
        fclose(f);
        for (size_t i = 0; i < 4; i++) {
                json_t *o = json_pack("{s:s}", "type",
                                      i == 2 ? "Group" : "User");
                scim_buf_t want = {0};
                char *txt;

                if (disp[i])
                        json_object_set_new(o, "display",
                                            json_string(disp[i]));
                txt = scim_json_dumps(o);
                scim_buf_puts(&want, "mr\\x00Gmg\\x00");
                scim_buf_puts(&want, ids[i]);
                scim_buf_puts(&want, " = ");
                dump_esc(&want, txt);
                scim_buf_puts(&want, "\n");
                if (!strstr(got, want.data))
                        fail_msg("row %zu: want %s in\n%s", i, want.data,
                                 got);
                free(txt);
                json_decref(o);
                scim_buf_free(&want);
        }
        assert_non_null(strstr(got, "\"display\":\"Ann "));
        free(got);
}

static void test_replay_same_digest(void **state)
{
        char rdir[600], d1[65], d2[65], e[256];
        scim_store_t *dst = NULL;
        scim_err_t err;

        snprintf(rdir, sizeof(rdir), "%s.replay", dir);
        assert_int_equal(scim_store_open(rdir, &dst, e, sizeof(e)), 0);
        assert_int_equal(scim_store_replay(st, dst, 0, NULL, &err), 0);
        assert_int_equal(scim_store_position(dst), scim_store_position(st));
        assert_int_equal(scim_store_digest(st, d1, &err), 0);
        assert_int_equal(scim_store_digest(dst, d2, &err), 0);
        assert_string_equal(d1, d2);
        scim_store_close(dst);
}

/* A store whose views carry no layout version (as an older scimlog left
 * them) is reported stale; replaying it gives a current store. */
static void test_views_format(void **state)
{
        static const char *names[] = {"default", "log",    "res",
                                      "idx",     "mem",    "tenant",
                                      "token",   "change", "chidx",
                                      "stream",  "dkey"};
        const size_t ncf = sizeof(names) / sizeof(names[0]);
        const rocksdb_options_t *cfo[11];
        rocksdb_column_family_handle_t *cf[11];
        rocksdb_options_t *o = rocksdb_options_create();
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        char odir[600], rdir[600], e[256], *err = NULL;
        scim_store_t *old = NULL, *dst = NULL;
        scim_err_t serr;
        rocksdb_t *db;

        assert_int_equal(scim_store_views_current(st), 1);
        /* copy the current store's data by replay, then drop its marker */
        snprintf(odir, sizeof(odir), "%s.old", dir);
        assert_int_equal(scim_store_open(odir, &old, e, sizeof(e)), 0);
        assert_int_equal(scim_store_replay(st, old, 0, NULL, &serr), 0);
        scim_store_close(old);
        for (size_t i = 0; i < ncf; i++)
                cfo[i] = o;
        db = rocksdb_open_column_families(o, odir, (int)ncf, names, cfo, cf,
                                          &err);
        assert_null(err);
        rocksdb_delete_cf(db, wo, cf[0], "views_format", 12, &err);
        assert_null(err);
        for (size_t i = 0; i < ncf; i++)
                rocksdb_column_family_handle_destroy(cf[i]);
        rocksdb_close(db);
        rocksdb_writeoptions_destroy(wo);
        rocksdb_options_destroy(o);

        assert_int_equal(scim_store_open(odir, &old, e, sizeof(e)), 0);
        assert_int_equal(scim_store_views_current(old), 0);
        snprintf(rdir, sizeof(rdir), "%s.fresh", dir);
        assert_int_equal(scim_store_open(rdir, &dst, e, sizeof(e)), 0);
        assert_int_equal(scim_store_replay(old, dst, 0, NULL, &serr), 0);
        assert_int_equal(scim_store_views_current(dst), 1);
        scim_store_close(dst);
        scim_store_close(old);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_preconditions),
            cmocka_unit_test(test_member_rows),
            cmocka_unit_test(test_replay_same_digest),
            cmocka_unit_test(test_views_format),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
