/*
 * 0560-batching.c — the fold does not depend on how the log is cut into
 * batches (issue 13: the fold transaction is an in-memory overlay over a
 * plain WriteBatch, and replay folds 2,000 events per batch): the same
 * events folded one per batch, all in one batch, in batches of 7, and
 * replayed give the same verdicts and the same digest. The sequence mixes
 * what reads back its own batch: userName handed from one user to another,
 * members added to a group created in the same batch, a members replace,
 * a user deleted while it is a member, a group deleted, refusals (taken
 * userName, missing member, stale version), re-created ids, and
 * change-record retention: TENANT_UPDATE events that set a retention and
 * prune (retain.c), inside batches that also hold the records they prune.
 * Replay is also run in batches of 1, 3 and 64 (its pipeline folds a
 * batch while the previous one is written), the one of 3 with its log,
 * change and stream records in SST files of a few records each.
 * Replay's hot cache and its filter of keys written, with and without
 * views already in the dir, and its write-back of resources, indexes
 * and memberships (a scan sees the cache's unwritten values; the last
 * flush gives the digest).
 * Also: cursor pages and remembered index positions of scim_store_list.
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

#define MAXEV 700

static char base[512];
static scim_event_t evs[MAXEV];
static scim_buf_t enc[MAXEV];
static size_t nev;

static void add(scim_action_t act, scim_rtype_t rt, const char *id,
                const char *json, int64_t expect)
{
        scim_event_t *e = &evs[nev];
        scim_err_t err;

        assert_true(nev < MAXEV);
        memset(e, 0, sizeof(*e));
        snprintf(e->event_id, sizeof(e->event_id),
                 "00000000-0000-4000-8000-%012zu", nev);
        e->schema_version = 2;
        e->tenant = strdup("t1");
        e->rtype = rt;
        e->resource_id = id ? strdup(id) : NULL;
        e->action = act;
        e->time_ms = 1767225600000LL + (int64_t)nev * 60000;
        e->actor = strdup("test");
        e->request_id = strdup("r");
        e->expect_version = expect;
        e->resource_json = json ? strdup(json) : NULL;
        memset(&enc[nev], 0, sizeof(enc[nev]));
        assert_int_equal(scim_event_encode(e, &enc[nev], &err), 0);
        nev++;
}

static void member(scim_event_t *e, const char *add_id, const char *rm_id,
                   int replace)
{
        scim_err_t err;
        size_t i = (size_t)(e - evs);

        if (add_id) {
                e->added = calloc(1, sizeof(*e->added));
                e->added[0].value = strdup(add_id);
                e->n_added = 1;
        }
        if (rm_id) {
                e->removed = calloc(1, sizeof(char *));
                e->removed[0] = strdup(rm_id);
                e->n_removed = 1;
        }
        e->members_replace = replace;
        enc[i].len = 0;
        assert_int_equal(scim_event_encode(e, &enc[i], &err), 0);
}

static void user(int u, const char *name, int active, int64_t expect)
{
        char id[32], js[512];

        snprintf(id, sizeof(id), "user-%03d", u);
        snprintf(js, sizeof(js),
                 "{\"userName\":\"%s\",\"active\":%s,\"title\":\"t%zu\","
                 "\"emails\":[{\"value\":\"%s\",\"type\":\"work\"}],"
                 "\"externalId\":\"x%d\"}",
                 name, active ? "true" : "false", nev % 5, name, u);
        add(expect == 0 ? SCIM_ACT_CREATE : SCIM_ACT_REPLACE, SCIM_RT_USER, id,
            js, expect);
}

/* TENANT_UPDATE with settings (admin_json, event v3). */
static void settings(const char *json)
{
        scim_event_t *e;
        scim_err_t err;

        add(SCIM_ACT_TENANT_UPDATE, 0, NULL, NULL, -1);
        e = &evs[nev - 1];
        e->schema_version = 3;
        e->admin_json = strdup(json);
        enc[nev - 1].len = 0;
        assert_int_equal(scim_event_encode(e, &enc[nev - 1], &err), 0);
}

/* Moves the last event to tenant t2, dt ms earlier or later. */
static void retarget(int64_t dt)
{
        scim_event_t *e = &evs[nev - 1];
        scim_err_t err;

        free(e->tenant);
        e->tenant = strdup("t2");
        e->time_ms += dt;
        enc[nev - 1].len = 0;
        assert_int_equal(scim_event_encode(e, &enc[nev - 1], &err), 0);
}

/* A tenant event of t2 (v3 for TENANT_DELETE) shifted by dt ms. */
static void tenant_event(scim_action_t act, int64_t dt)
{
        add(act, 0, NULL, NULL, -1);
        evs[nev - 1].schema_version = act == SCIM_ACT_TENANT_DELETE ? 3 : 2;
        retarget(dt);
}

static void build(void)
{
        char name[64], gid[32], uid[32];

        add(SCIM_ACT_TENANT_CREATE, 0, NULL, NULL, -1);
        for (int u = 0; u < 60; u++) {
                snprintf(name, sizeof(name), "u%d@example.com", u);
                user(u, name, 1, 0);
        }
        for (int g = 0; g < 6; g++) {
                char js[128];

                snprintf(gid, sizeof(gid), "group-%d", g);
                snprintf(js, sizeof(js), "{\"displayName\":\"G%d\"}", g);
                add(SCIM_ACT_CREATE, SCIM_RT_GROUP, gid, js, 0);
                for (int k = 0; k < 8; k++) { /* members right away */
                        snprintf(uid, sizeof(uid), "user-%03d", g * 8 + k);
                        add(SCIM_ACT_PATCH, SCIM_RT_GROUP, gid, NULL, -1);
                        member(&evs[nev - 1], uid, NULL, 0);
                }
        }
        /* events are a minute apart: keep the last 100 minutes */
        settings("{\"changeRetentionSeconds\": 6000}");
        for (int round = 0; round < 6; round++) {
                if (round % 2)
                        settings("{\"prune\": true}");
                for (int u = round; u < 60; u += 6) {
                        /* userName moves: u takes a name another user
                         * frees earlier in the log (maybe the same batch) */
                        snprintf(name, sizeof(name), "moved%d-%d@example.com",
                                 round, u);
                        user(u, name, u % 3 != 0, -1);
                }
                /* a taken userName: refused 409 */
                snprintf(name, sizeof(name), "moved%d-%d@example.com", round,
                         round);
                user(59 - round, name, 1, -1);
                /* member changes, a replace, a missing member (400) */
                snprintf(gid, sizeof(gid), "group-%d", round);
                snprintf(uid, sizeof(uid), "user-%03d", 50 - round);
                add(SCIM_ACT_PATCH, SCIM_RT_GROUP, gid, NULL, -1);
                member(&evs[nev - 1], uid, NULL, round == 3);
                snprintf(uid, sizeof(uid), "user-%03d", round * 8 + 1);
                add(SCIM_ACT_PATCH, SCIM_RT_GROUP, gid, NULL, -1);
                member(&evs[nev - 1], NULL, uid, 0);
                add(SCIM_ACT_PATCH, SCIM_RT_GROUP, gid, NULL, -1);
                member(&evs[nev - 1], "no-such-user", NULL, 0);
                /* delete a member user, then re-create its id */
                snprintf(uid, sizeof(uid), "user-%03d", round * 8 + 2);
                add(SCIM_ACT_DELETE, SCIM_RT_USER, uid, NULL, -1);
                snprintf(name, sizeof(name), "again%d@example.com", round);
                user(round * 8 + 2, name, 1, 0);
                /* stale version: refused 412 */
                snprintf(uid, sizeof(uid), "user-%03d", 40 + round);
                add(SCIM_ACT_DELETE, SCIM_RT_USER, uid, NULL, 99);
        }
        settings("{\"prune\": true}");
        add(SCIM_ACT_DELETE, SCIM_RT_GROUP, "group-5", NULL, -1);
        add(SCIM_ACT_PATCH, SCIM_RT_GROUP, "group-4", NULL, -1);
        member(&evs[nev - 1], "group-3", NULL, 1); /* a nested group */
        /* tenant t2: a clock behind (events stamped two hours back are
         * indexed at the tenant's latest apply time, chidx L, and counted
         * in their own hour, chidx H: the writer keeps both in memory
         * across batches, txn.c's hot cache); then the tenant goes (its
         * counters with it) and comes back: its counters start again
         * from zero in the same hours */
        tenant_event(SCIM_ACT_TENANT_CREATE, 0);
        for (int u = 0; u < 6; u++) {
                snprintf(name, sizeof(name), "late%d@example.com", u);
                user(u, name, 1, 0);
                retarget(-(u % 2) * 2 * 3600000LL);
        }
        tenant_event(SCIM_ACT_TENANT_DELETE, -3 * 3600000LL);
        tenant_event(SCIM_ACT_TENANT_CREATE, -3 * 3600000LL);
        for (int u = 0; u < 5; u++) {
                snprintf(name, sizeof(name), "reborn%d@example.com", u);
                user(u, name, 1, 0);
                retarget(-(u % 2) * 2 * 3600000LL); /* the hours of
                                                        t2's old counters */
        }
}

/* Folds every event into a new store in batches of `per`; returns the
 * store (caller closes) and fills status[]. */
static scim_store_t *fold_into(const char *name, size_t per, int *status)
{
        char dir[700];
        scim_store_t *st;

        snprintf(dir, sizeof(dir), "%s/%s", base, name);
        st = unit_store_open(dir);
        unit_fold_batches(st, enc, evs, nev, per, status);
        return st;
}

static int setup(void **state)
{
        char e[256];

        unit_tmpdir(base, sizeof(base), "batching");
        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        build();
        return 0;
}

static int teardown(void **state)
{
        unit_events_free(evs, enc, nev);
        unit_rmtree(base);
        scim_schemas_shutdown();
        return 0;
}

static void test_batch_boundaries(void **state)
{
        static int s1[MAXEV], sall[MAXEV], s7[MAXEV];
        char d1[65], dall[65], d7[65], drep[65], rdir[700], e[256];
        scim_store_t *a = fold_into("one", 1, s1);
        scim_store_t *b = fold_into("all", nev, sall);
        scim_store_t *c = fold_into("seven", 7, s7);
        scim_store_t *r = NULL;
        scim_err_t err;
        int refused = 0, applied = 0;

        for (size_t i = 0; i < nev; i++) {
                assert_int_equal(s1[i], sall[i]);
                assert_int_equal(s1[i], s7[i]);
                if (s1[i] >= 400)
                        refused++;
                else
                        applied++;
        }
        /* the sequence exercises both outcomes */
        fprintf(stderr, "%zu events: %d applied, %d refused\n", nev, applied,
                refused);
        assert_true(refused >= 18);
        assert_true(applied > 150);
        assert_int_equal(scim_store_digest(a, d1, &err), 0);
        assert_int_equal(scim_store_digest(b, dall, &err), 0);
        assert_int_equal(scim_store_digest(c, d7, &err), 0);
        assert_string_equal(d1, dall);
        assert_string_equal(d1, d7);
        snprintf(rdir, sizeof(rdir), "%s/replayed", base);
        assert_int_equal(scim_store_open(rdir, &r, e, sizeof(e)), 0);
        assert_int_equal(r->vector_cfs, 0); /* a served store's skiplists */
        assert_int_equal(scim_store_replay(a, r, 0, NULL, &err), 0);
        assert_int_equal(scim_store_digest(r, drep, &err), 0);
        assert_string_equal(d1, drep);
        /* replay's pipeline (a batch folded while the previous one is
         * written) across many batch boundaries: batches of 1, 3 and 64 */
        for (size_t per = 1; per <= 64; per = per == 1 ? 3 : 64) {
                scim_store_t *rp = NULL;
                char dp[65];

                snprintf(rdir, sizeof(rdir), "%s/replayed-%zu", base, per);
                /* opened as `scimlog replay` opens its new dir (a
                 * vector memtable for chidx, store_tune.c) */
                assert_int_equal(
                    scim_store_open_replay(rdir, &rp, e, sizeof(e)), 0);
                assert_int_equal(rp->vector_cfs, 1u << CF_CHIDX);
                scim_store_replay_batch(per);
                if (per == 3) /* SST files of a few records (store_sst.c),
                                 overlapping when tenants interleave */
                        store_sst_limits(600, 0);
                assert_int_equal(scim_store_replay(a, rp, 0, NULL, &err), 0);
                scim_store_replay_batch(0);
                store_sst_limits(0, 0);
                assert_int_equal(scim_store_digest(rp, dp, &err), 0);
                assert_string_equal(d1, dp);
                scim_store_close(rp);
                if (per == 64)
                        break;
        }
        { /* retention pruned something, the same everywhere */
                scim_changes_horizon_t h;

                scim_changes_horizon(a, "t1", &h);
                fprintf(stderr, "retention: %llu records pruned\n",
                        (unsigned long long)h.pruned);
                assert_true(h.pruned > 100);
                assert_true(h.through_ms > 0);
        }
        /* group-4 now holds exactly group-3 (members replace) */
        {
                json_t *m = NULL;

                assert_int_equal(
                    scim_store_group_members(a, "t1", "group-4", &m, &err), 0);
                assert_int_equal(json_array_size(m), 1);
                assert_string_equal(json_string_value(json_object_get(
                                        json_array_get(m, 0), "value")),
                                    "group-3");
                json_decref(m);
        }
        scim_store_close(r);
        scim_store_close(a);
        scim_store_close(b);
        scim_store_close(c);
}

/* A batch folded but never written (a failed write) leaves nothing
 * behind, not even in the writer's memory (txn.c's hot cache of the
 * change records' apply-time and hourly counters): the events after it
 * fold as if it had never been. The aborted batch's events are stamped
 * ten hours ahead, so a leaked apply time would show in every later
 * record's index keys and in the digest. */
static void test_aborted_batch(void **state)
{
        static int sref[MAXEV];
        char dref[65], dx[65], dir[700], e[256];
        scim_store_t *ref = fold_into("abort-ref", 1, sref), *x = NULL;
        scim_verdict_t v;
        scim_err_t err;
        size_t half = nev / 2;

        (void)state;
        snprintf(dir, sizeof(dir), "%s/abort-x", base);
        assert_int_equal(scim_store_open(dir, &x, e, sizeof(e)), 0);
        for (size_t i = 0; i < nev; i++) {
                if (i == half) {
                        txn_t t;

                        txn_begin(&t, x);
                        for (size_t j = half; j < half + 20 && j < nev; j++) {
                                scim_event_t late = evs[j];

                                late.time_ms += 10 * 3600000LL;
                                fold_event(
                                    &t, scim_store_position(x) + 1 + (j - half),
                                    &late, NULL, &v);
                                scim_verdict_clear(&v);
                        }
                        txn_end(&t); /* never written */
                        x->pidx_pending.len = 0;
                }
                memset(&v, 0, sizeof(v));
                assert_int_equal(
                    scim_store_append_fold(x, enc + i, evs + i, 1, &v, &err),
                    0);
                assert_int_equal(v.status, sref[i]);
                scim_verdict_clear(&v);
        }
        assert_int_equal(scim_store_digest(ref, dref, &err), 0);
        assert_int_equal(scim_store_digest(x, dx, &err), 0);
        assert_string_equal(dref, dx);
        scim_store_close(x);
        scim_store_close(ref);
}

/* Appends every key of cf under prefix p (as a txn sees them) to ctx. */
static void keys_add(void *ctx, const char *k, size_t kl)
{
        scim_buf_append(ctx, k, kl);
        scim_buf_append(ctx, "|", 1);
}

static void keys_of(scim_store_t *st, int cf, scim_buf_t *out)
{
        txn_t t;

        txn_begin(&t, st);
        txn_scan_prefix(&t, cf, "t1", 3, keys_add, out);
        txn_end(&t);
        scim_buf_append(out, "", 1);
}

/* Replay's hot cache (txn_hot_replay) answers every read of resources,
 * indexes and memberships, and "absent" for a key its filter says no
 * batch wrote, which holds only when the dir started without any such
 * key. Folded through that cache in batches of 7, the log gives the
 * reference's verdicts and digest: on a new dir (every batch's writes
 * must reach the filter, or a user created in one batch is "absent" to
 * the PATCH of a later one), on a dir already holding the first half's
 * views (the filter must stay off, as for a log snapshot restored before
 * a replay), each with a budget that holds everything and one that holds
 * a few keys (the rest read from RocksDB). Variants 4-7 again with the
 * write-back (txn_hot_write_back) of resources, indexes and memberships
 * (those whole in memory, memshadow.c, on a new dir only): the tiny
 * budget spills most values as they are evicted and turns the membership
 * shadow off after the first batch (its rows must then be in RocksDB and
 * in the filter of keys written); a scan of tenant t1's resources, index
 * keys and membership rows (txn_iter) must list the reference's keys
 * while the cache still holds values no batch wrote to RocksDB (without
 * the flush before a scan it misses them), and the last flush (SST
 * files) gives the reference's digest. */
static void test_replay_cache(void **state)
{
        static int sref[MAXEV], sx[MAXEV];
        static const size_t budgets[2] = {(size_t)64 << 20, (size_t)150 << 10};
        char dref[65], dir[700], what[32];
        scim_store_t *ref = fold_into("cache-ref", 1, sref);
        scim_err_t err;
        size_t half = nev / 2;

        (void)state;
        assert_int_equal(scim_store_digest(ref, dref, &err), 0);
        for (int v = 0; v < 8; v++) {
                size_t from = v & 1 ? half : 0;
                scim_store_t *x;
                scim_buf_t kr = {0}, kx = {0};

                snprintf(dir, sizeof(dir), "%s/cache-%d", base, v);
                x = unit_store_open(dir);
                /* odd variants: the first half folded before the cache
                 * is set up (the dir is not new) */
                unit_fold_batches(x, enc, evs, from, 7, sx);
                assert_int_equal(txn_hot_replay(x, budgets[v >> 1 & 1]), 0);
                if (v >= 4) { /* replay frees the read cache first */
                        rcache_free(x);
                        assert_int_equal(
                            txn_hot_write_back(x, 1u << CF_RES | 1u << CF_IDX |
                                                      1u << CF_MEM),
                            0);
                }
                unit_fold_batches(x, enc + from, evs + from, nev - from, 7,
                                  sx + from);
                for (int cf = CF_RES; v >= 4 && cf <= CF_MEM; cf++) {
                        kr.len = kx.len = 0;
                        keys_of(ref, cf, &kr);
                        keys_of(x, cf, &kx);
                        assert_true(kr.len > 1);
                        assert_string_equal(kr.data, kx.data);
                }
                if (v >= 4)
                        assert_int_equal(txn_hot_flush(x, 1), 0);
                scim_buf_free(&kr);
                scim_buf_free(&kx);
                snprintf(what, sizeof(what), "variant %d", v);
                unit_assert_same_run(x, sx, sref, nev, dref, what);
                scim_store_close(x);
        }
        scim_store_close(ref);
}

/* Ids of a page, joined with ',' into out. */
static void page_ids(json_t *page, char *out, size_t len)
{
        size_t i, o = 0;
        json_t *r;

        out[0] = '\0';
        json_array_foreach(page, i, r) o +=
            (size_t)snprintf(out + o, len - o, "%s,",
                             json_string_value(json_object_get(r, "id")));
}

static void test_cursor_and_positions(void **state)
{
        static int st1[MAXEV];
        scim_store_t *st = fold_into("paging", 50, st1);
        scim_query_t q;
        scim_err_t err;
        json_t *page = NULL;
        size_t total = 0, seen = 0;
        char last[64] = "", ids[4096], again[4096];
        int more = 1;

        /* cursor: every user once, in id order, nextCursor until the end */
        while (more) {
                size_t i;
                json_t *r;

                memset(&q, 0, sizeof(q));
                q.count = 7;
                q.after_id = last;
                more = 0;
                q.more = &more;
                assert_int_equal(scim_store_list(st, "t1", SCIM_RT_USER, &q,
                                                 &total, &page, &err),
                                 0);
                json_array_foreach(page, i, r)
                {
                        const char *id =
                            json_string_value(json_object_get(r, "id"));

                        assert_true(strcmp(id, last) > 0);
                        snprintf(last, sizeof(last), "%s", id);
                        seen++;
                }
                assert_true(json_array_size(page) == 7 || !more);
                json_decref(page);
        }
        assert_int_equal(seen, total);
        assert_int_equal(total, 60);

        /* index pages: page 2 after page 1 (a remembered position) equals
         * page 2 asked first; a create between them is seen */
        memset(&q, 0, sizeof(q));
        q.count = 10;
        q.start_index = 1;
        assert_int_equal(
            scim_store_list(st, "t1", SCIM_RT_USER, &q, &total, &page, &err),
            0);
        json_decref(page);
        q.start_index = 11;
        assert_int_equal(
            scim_store_list(st, "t1", SCIM_RT_USER, &q, &total, &page, &err),
            0);
        page_ids(page, again, sizeof(again)); /* from the position */
        json_decref(page);
        q.start_index = 10;
        assert_int_equal(
            scim_store_list(st, "t1", SCIM_RT_USER, &q, &total, &page, &err),
            0);
        page_ids(page, ids, sizeof(ids));
        json_decref(page);
        assert_string_not_equal(ids, again);
        assert_memory_equal(ids + strlen("user-000,"), again,
                            strlen(again) - strlen("user-000,"));
        {
                /* a new user sorting first shifts every index by one */
                scim_event_t e;
                scim_buf_t b = {0};
                scim_verdict_t v;

                memset(&e, 0, sizeof(e));
                scim_uuid4(e.event_id);
                e.tenant = strdup("t1");
                e.rtype = SCIM_RT_USER;
                e.resource_id = strdup("a-first");
                e.action = SCIM_ACT_CREATE;
                e.time_ms = 1767225600000LL;
                e.expect_version = 0;
                e.resource_json = strdup("{\"userName\":\"first\"}");
                assert_int_equal(scim_event_encode(&e, &b, &err), 0);
                memset(&v, 0, sizeof(v));
                assert_int_equal(
                    scim_store_append_fold(st, &b, &e, 1, &v, &err), 0);
                assert_int_equal(v.status, 201);
                scim_verdict_clear(&v);
                scim_event_clear(&e);
                scim_buf_free(&b);
        }
        /* the remembered position of 11 is gone: 11 is the old 10 */
        q.start_index = 11;
        assert_int_equal(
            scim_store_list(st, "t1", SCIM_RT_USER, &q, &total, &page, &err),
            0);
        page_ids(page, again, sizeof(again));
        json_decref(page);
        assert_string_equal(ids, again);
        assert_int_equal(total, 61);
        scim_store_close(st);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_batch_boundaries),
            cmocka_unit_test(test_aborted_batch),
            cmocka_unit_test(test_replay_cache),
            cmocka_unit_test(test_cursor_and_positions),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
