/*
 * 0567-replay-sst.c — replay writes the log, change and stream records
 * straight into SST files (store_sst.c) and ingests them; the views and
 * records must be the live fold's whatever the files' size, and a replay
 * whose files cannot be written must fail and leave the new dir marked
 * incomplete (serve refuses it), as a failed write does.
 *
 * The history: 400 users created, replaced, every fifth deleted, folded
 * live in batches of 40. Replayed with the default files, with files of
 * ~2 KB (cut every few records) in batches of 7 and 1, and into a dir
 * where the first file's name is taken by a directory (opening it fails,
 * even as root): that replay returns 503 naming the SST file, stops
 * early, and the reopened dir is not current. Likewise when the last
 * write of the write-back (resources and indexes written again after
 * their first write, held in the hot cache, written at the end in SST
 * files) cannot open its first file: the whole log was folded (in
 * batches of 7), yet the replay fails and the dir stays marked.
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

#include "projector/projector_internal.h"
#include "projector/scim_projector.h"
#include "tests/unit/unit_harness.h"

#define USERS 400
#define MAXEV (USERS * 3 + 8)

static char base[512];
static scim_event_t evs[MAXEV];
static scim_buf_t enc[MAXEV];
static size_t nev;

static void add(scim_action_t act, const char *id, const char *json)
{
        scim_err_t err;

        assert_true(nev < MAXEV);
        evs[nev] =
            unit_event(act, act == SCIM_ACT_TENANT_CREATE ? 0 : SCIM_RT_USER,
                       "t1", id, json, 1767225600000LL + (int64_t)nev * 1000);
        evs[nev].schema_version = 2;
        memset(&enc[nev], 0, sizeof(enc[nev]));
        assert_int_equal(scim_event_encode(&evs[nev], &enc[nev], &err), 0);
        nev++;
}

static void build(void)
{
        char id[32], js[256];

        add(SCIM_ACT_TENANT_CREATE, NULL, NULL);
        for (int pass = 0; pass < 2; pass++)
                for (int u = 0; u < USERS; u++) {
                        snprintf(id, sizeof(id), "u-%05d", u);
                        snprintf(js, sizeof(js),
                                 "{\"userName\":\"user%d@example.com\","
                                 "\"active\":true,\"title\":\"pass %d\"}",
                                 u, pass);
                        add(pass ? SCIM_ACT_REPLACE : SCIM_ACT_CREATE, id, js);
                }
        for (int u = 0; u < USERS; u += 5) {
                snprintf(id, sizeof(id), "u-%05d", u);
                add(SCIM_ACT_DELETE, id, NULL);
        }
}

static int setup(void **state)
{
        char e[256];

        (void)state;
        unit_tmpdir(base, sizeof(base), "replaysst");
        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        build();
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_events_free(evs, enc, nev);
        unit_rmtree(base);
        scim_schemas_shutdown();
        return 0;
}

/* Replays live into BASE/name in batches of per (0: the default) with
 * files cut after file bytes (0: the default); the digest must be want. */
static void replay_equal(scim_store_t *live, const char *name, size_t per,
                         uint64_t file, const char *want)
{
        char dir[700], d[65];
        scim_store_t *r;

        snprintf(dir, sizeof(dir), "%s/%s", base, name);
        store_sst_limits(file, 0);
        r = unit_replay_into(live, dir, per, d);
        store_sst_limits(0, 0);
        assert_string_equal(want, d);
        assert_int_equal(scim_store_views_current(r), 1);
        scim_store_close(r);
}

static void test_replay_sst(void **state)
{
        static int status[MAXEV];
        char dir[700], want[65], e[256];
        scim_store_t *live, *r = NULL;
        scim_err_t err;
        size_t applied = 0;

        (void)state;
        snprintf(dir, sizeof(dir), "%s/live", base);
        live = unit_store_open(dir);
        unit_fold_batches(live, enc, evs, nev, 40, status);
        for (size_t i = 0; i < nev; i++)
                applied += status[i] < 400;
        assert_int_equal(applied, nev); /* the history is all valid */
        assert_int_equal(scim_store_digest(live, want, &err), 0);

        replay_equal(live, "default", 0, 0, want);
        replay_equal(live, "small-7", 7, 2000, want);
        replay_equal(live, "small-1", 1, 2000, want);

        /* the first SST file (the log's) cannot be opened */
        snprintf(dir, sizeof(dir), "%s/failing", base);
        assert_int_equal(scim_store_open(dir, &r, e, sizeof(e)), 0);
        snprintf(dir, sizeof(dir), "%s/failing/replay-%d-0.sst.tmp", base,
                 CF_LOG);
        assert_int_equal(mkdir(dir, 0700), 0);
        scim_store_replay_batch(7);
        scim_err_clear(&err);
        assert_true(scim_store_replay(live, r, 0, NULL, &err) < 0);
        scim_store_replay_batch(0);
        assert_int_equal(err.status, 503);
        assert_non_null(strstr(err.detail, "SST file"));
        /* it stopped after the batch that failed */
        assert_true(scim_store_position(r) < 20);
        scim_store_close(r);
        snprintf(dir, sizeof(dir), "%s/failing", base);
        assert_int_equal(scim_store_open(dir, &r, e, sizeof(e)), 0);
        assert_int_equal(scim_store_views_current(r), 0); /* the mark */
        scim_store_close(r);

        /* the write-back's first file (resources: cf, serial 0, the
         * families' bits) cannot be opened */
        snprintf(dir, sizeof(dir), "%s/failing-wb", base);
        assert_int_equal(scim_store_open(dir, &r, e, sizeof(e)), 0);
        snprintf(dir, sizeof(dir), "%s/failing-wb/replay-%d-0-%x.sst.tmp",
                 base, CF_RES, 1u << CF_RES | 1u << CF_IDX | 1u << CF_MEM);
        assert_int_equal(mkdir(dir, 0700), 0);
        /* in batches of 7: a user's replacement comes in a later batch
         * than its create, so it waits in the cache (a key's first write
         * goes through the batch's write) */
        scim_store_replay_batch(7);
        scim_err_clear(&err);
        assert_true(scim_store_replay(live, r, 0, NULL, &err) < 0);
        scim_store_replay_batch(0);
        assert_int_equal(err.status, 503);
        assert_non_null(strstr(err.detail, "SST file"));
        assert_int_equal(scim_store_position(r), nev); /* all folded */
        scim_store_close(r);
        snprintf(dir, sizeof(dir), "%s/failing-wb", base);
        assert_int_equal(scim_store_open(dir, &r, e, sizeof(e)), 0);
        assert_int_equal(scim_store_views_current(r), 0); /* the mark */
        scim_store_close(r);
        scim_store_close(live);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_replay_sst),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
