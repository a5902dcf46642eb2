/*
 * 0566-replay-hot-cache.c — replay reads stored resources through a hot
 * cache that is bounded in bytes (txn_hot_replay, three quarters of the
 * block cache budget): when the resources do not fit, a clock hand frees
 * older entries, and a batch's writes go in when the batch is written;
 * with the write-back (txn_hot_write_back) an evicted entry no batch
 * wrote to RocksDB is written then. Whatever the cache holds or has
 * dropped, replay must give the live fold's views.
 *
 * The history: 1,500 users of ~1 KiB each (~1.6 MB of stored resources,
 * about three times the 640 KiB the cache keeps at the smallest budget), each
 * replaced twice in later passes (the second pass in reverse order, so a
 * read finds entries that were freed, re-read and replaced), every
 * seventh deleted and its userName taken by a new user, and every
 * eleventh re-created under its old id after the delete. Folded live in
 * batches of 50; replayed at the smallest budget in batches of 1, 7 and
 * 2,000 and at the default budget; every digest equal.
 *
 * With the write-back a key's first write (a create's) goes through its
 * batch's write instead of the cache (test_first_writes_through): at
 * three budgets RocksDB holds each created user before any flush, a
 * replacement waits in the cache, and the last flush gives the live
 * fold's digest.
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

#define USERS 1500
#define MAXEV (USERS * 4 + 16)

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

/* A user of about 1 KiB: its title is pass and u over ~900 bytes. */
static void user(scim_action_t act, int u, const char *name, int pass)
{
        char id[32], title[1000], js[1400];
        size_t n = 0;

        snprintf(id, sizeof(id), "u-%05d", u);
        while (n + 32 < sizeof(title) - 100)
                n += (size_t)snprintf(title + n, sizeof(title) - n,
                                      "pass %d user %d; ", pass, u);
        snprintf(js, sizeof(js),
                 "{\"userName\":\"%s\",\"active\":true,\"title\":\"%s\","
                 "\"externalId\":\"x%d-%d\"}",
                 name, title, u, pass);
        add(act, id, js);
}

static void build(void)
{
        char name[64];

        add(SCIM_ACT_TENANT_CREATE, NULL, NULL);
        for (int u = 0; u < USERS; u++) {
                snprintf(name, sizeof(name), "user%d@example.com", u);
                user(SCIM_ACT_CREATE, u, name, 0);
        }
        for (int u = 0; u < USERS; u++) {
                snprintf(name, sizeof(name), "user%d@example.com", u);
                user(SCIM_ACT_REPLACE, u, name, 1);
        }
        for (int u = USERS - 1; u >= 0; u--) {
                char id[32];

                snprintf(id, sizeof(id), "u-%05d", u);
                if (u % 7 == 0) {
                        add(SCIM_ACT_DELETE, id, NULL);
                        /* the freed userName, taken by a new user */
                        snprintf(name, sizeof(name), "user%d@example.com", u);
                        user(SCIM_ACT_CREATE, USERS + u, name, 2);
                        if (u % 11 == 0) { /* the old id, created again */
                                snprintf(name, sizeof(name),
                                         "again%d@example.com", u);
                                user(SCIM_ACT_CREATE, u, name, 3);
                        }
                        continue;
                }
                snprintf(name, sizeof(name), "user%d@example.com", u);
                user(SCIM_ACT_REPLACE, u, name, 2);
        }
}

static int setup(void **state)
{
        char e[256];

        (void)state;
        unit_tmpdir(base, sizeof(base), "hotcache");
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

/* Replays live into BASE/name in batches of per (0: the default) and
 * checks the digest's equality with want; returns the replayed store
 * (open, the caller closes it) with its fold's RocksDB reads counted. */
static scim_store_t *replay_equal(scim_store_t *live, const char *name,
                                  size_t per, const char *want)
{
        char dir[700], d[65];
        scim_store_t *r;

        snprintf(dir, sizeof(dir), "%s/%s", base, name);
        r = unit_replay_into(live, dir, per, d);
        fprintf(stderr, "replay %s: %s (RocksDB reads: res %llu, chidx %llu)\n",
                name, d, (unsigned long long)r->fold_gets[CF_RES],
                (unsigned long long)r->fold_gets[CF_CHIDX]);
        assert_string_equal(want, d);
        return r;
}

static void test_replay_evicting(void **state)
{
        static int status[MAXEV];
        char dir[700], want[65];
        scim_store_t *live, *r;
        scim_err_t err;
        size_t applied = 0;

        (void)state;
        snprintf(dir, sizeof(dir), "%s/live", base);
        live = unit_store_open(dir);
        unit_fold_batches(live, enc, evs, nev, 50, status);
        for (size_t i = 0; i < nev; i++)
                applied += status[i] < 400;
        fprintf(stderr, "%zu events, %zu applied\n", nev, applied);
        assert_int_equal(applied, nev); /* the history is all valid */
        assert_int_equal(scim_store_digest(live, want, &err), 0);

        /* the smallest block cache (1 MiB): the hot cache gets 768 KiB,
         * 128 KiB of it slots, and the resources are ~1.6 MB */
        scim_store_set_memory(1, 4);
        scim_store_close(replay_equal(live, "small-1", 1, want));
        scim_store_close(replay_equal(live, "small-7", 7, want));
        scim_store_close(replay_equal(live, "small-2000", 0, want));
        scim_store_set_memory(256, 128); /* the defaults */
        r = replay_equal(live, "default", 0, want);
        /* with room for everything the fold never reads RocksDB: every
         * resource is in the cache (creates kept clean, updates dirty),
         * and the hourly counters are there or absent by the filter (a
         * read of the report index's vector memtable sorts it) */
        assert_int_equal(r->fold_gets[CF_RES], 0);
        assert_int_equal(r->fold_gets[CF_CHIDX], 0);
        scim_store_close(r);
        scim_store_close(live);
}

/* Keys of cf in x's RocksDB (not its caches); the value of the first in
 * *v0 (malloc'd, NUL-terminated) when v0 is not NULL. */
static size_t raw_keys(scim_store_t *x, int cf, char **v0)
{
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(x->db, x->ro, x->cf[cf]);
        size_t n = 0;

        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                if (n++ == 0 && v0) {
                        size_t vl;
                        const char *v = rocksdb_iter_value(it, &vl);

                        *v0 = strndup(v, vl);
                }
        }
        rocksdb_iter_destroy(it);
        return n;
}

/* Replay's write-back keeps a key's later writes in the cache, but its
 * first write (a create's resource and index keys: no batch wrote them,
 * the filter of keys written says so) goes through the batch's own write,
 * since it is most often the only one. Folded with the write-back on a
 * new dir: after the creates RocksDB holds every user (nothing of them
 * waits in the cache; clean copies while the cache is under half full),
 * after the replacements it still holds the
 * created values (the second writes wait in the cache: the first user's
 * title is pass 0 there), and after the last flush the views equal the
 * live fold's, at a budget that holds everything, one that holds a few
 * users and one that holds nearly nothing (dirty values spilled as they
 * are evicted, the first writes never cached). */
static void test_first_writes_through(void **state)
{
        static int sref[MAXEV], sx[MAXEV];
        static const size_t budgets[3] = {(size_t)64 << 20, (size_t)1 << 20,
                                          (size_t)160 << 10};
        char dir[700], want[65], what[32];
        scim_store_t *ref;
        scim_err_t err;

        (void)state;
        snprintf(dir, sizeof(dir), "%s/through-ref", base);
        ref = unit_store_open(dir);
        unit_fold_batches(ref, enc, evs, nev, 50, sref);
        assert_int_equal(scim_store_digest(ref, want, &err), 0);
        scim_store_close(ref);
        for (int b = 0; b < 3; b++) {
                scim_store_t *x;
                char *v0 = NULL;
                size_t n;

                snprintf(dir, sizeof(dir), "%s/through-%d", base, b);
                x = unit_store_open(dir);
                assert_int_equal(txn_hot_replay(x, budgets[b]), 0);
                rcache_free(x);
                assert_int_equal(txn_hot_write_back(x, 1u << CF_RES |
                                                           1u << CF_IDX |
                                                           1u << CF_MEM),
                                 0);
                /* the tenant and the creates */
                unit_fold_batches(x, enc, evs, 1 + USERS, 50, sx);
                /* all of them: the filter of keys written, as large as
                 * the budget allows, calls a few keys of the smaller
                 * ones written (false positives: read, then cached) */
                n = raw_keys(x, CF_RES, NULL);
                assert_true(b ? n >= USERS - USERS / 100 : n == USERS);
                {
                        /* and kept clean in the cache while it is under
                         * half full: every user at the large budget, a
                         * few at the small ones (nothing evicted for
                         * them) */
                        size_t dirty = 0, held = txn_hot_held(x, CF_RES, &dirty);

                        if (b == 0) {
                                assert_int_equal(held, USERS);
                                assert_int_equal(dirty, 0);
                        } else { /* (dirty: the filter's false positives) */
                                assert_true(held > dirty && held < USERS);
                        }
                }
                /* userName and externalId of each */
                n = raw_keys(x, CF_IDX, NULL);
                assert_true(n >= 2 * (USERS - USERS / 100));
                /* the replacements: second writes */
                unit_fold_batches(x, enc + 1 + USERS, evs + 1 + USERS, USERS,
                                  50, sx + 1 + USERS);
                assert_int_equal(raw_keys(x, CF_RES, &v0), USERS);
                assert_non_null(v0);
                if (b == 0) /* nothing evicted: all still in the cache */
                        assert_non_null(strstr(v0, "pass 0 user 0;"));
                free(v0);
                unit_fold_batches(x, enc + 1 + 2 * USERS, evs + 1 + 2 * USERS,
                                  nev - 1 - 2 * USERS, 50, sx + 1 + 2 * USERS);
                assert_int_equal(txn_hot_flush(x, 1), 0);
                snprintf(what, sizeof(what), "budget %d", b);
                unit_assert_same_run(x, sx, sref, nev, want, what);
                scim_store_close(x);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_replay_evicting),
            cmocka_unit_test(test_first_writes_through),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
