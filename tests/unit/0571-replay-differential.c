/*
 * 0571-replay-differential.c — random histories (history_gen.h: three
 * tenants and an unknown one, users and groups written every way ingest
 * and other producers write them, tenant definitions, retention, tokens,
 * refusals, bad and over-limit resources) folded live in batches of
 * random sizes, then replayed into new dirs: with replay's default
 * batches and memory, in batches of 1, and in batches of 7 at the
 * smallest memory budget (the hot cache evicts, writes back and spills).
 * Odd seeds log the events sealed with their tenant's data key, as
 * ingest writes the embedded log (the fold gets the plain event, replay
 * unseals the log's copy); tenant deletes then destroy keys, and replay
 * skips the erased tenant's events. Every replay's views must be the
 * live fold's (the same digest), for every seed; a failure names the
 * seed and the replay.
 *
 * Replay has its own paths the live fold does not take (the reader
 * parses resources ahead of the fold; the hot cache with its filters,
 * write-back and clock eviction; records written straight into SST
 * files; a vector memtable for the report index); this is the test that
 * they change nothing a reader can see, over histories nobody wrote by
 * hand. SCIMLOG_DIFF_SEEDS=N runs N seeds (default 20);
 * SCIMLOG_DIFF_SEED=S runs seed S alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"
#include "projector/scim_projector.h"
#include "tests/unit/history_gen.h"
#include "tests/unit/unit_harness.h"

#define EVENTS 260 /* per history */

static char base[512];

static int setup(void **state)
{
        char e[256];

        (void)state;
        unit_tmpdir(base, sizeof(base), "replaydiff");
        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_rmtree(base);
        scim_schemas_shutdown();
        return 0;
}

/* Debugging aid: every key and value of st, one line each, into path. */
static void dump_store(scim_store_t *st, const char *path)
{
        FILE *f = fopen(path, "w");

        for (int c = 0; f && c < CF_COUNT; c++) {
                rocksdb_iterator_t *it =
                    rocksdb_create_iterator_cf(st->db, st->ro, st->cf[c]);

                for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
                     rocksdb_iter_next(it)) {
                        size_t kl, vl;
                        const char *k = rocksdb_iter_key(it, &kl);
                        const char *v = rocksdb_iter_value(it, &vl);

                        fprintf(f, "%d ", c);
                        for (size_t i = 0; i < kl; i++)
                                fputc(k[i] >= 32 && k[i] < 127 ? k[i] : '.', f);
                        fputs(" = ", f);
                        for (size_t i = 0; i < vl && i < 600; i++)
                                fputc(v[i] >= 32 && v[i] < 127 ? v[i] : '.', f);
                        fputc('\n', f);
                }
                rocksdb_iter_destroy(it);
        }
        if (f)
                fclose(f);
}

/* Replays live into base/name (batches of per, 0: the default; small:
 * the smallest memory budget) and fails naming seed and name unless the
 * digest is want. */
static void replay_check(scim_store_t *live, unsigned seed, const char *name,
                         size_t per, int small, const char *want)
{
        char dir[700], d[65];
        scim_store_t *r;

        snprintf(dir, sizeof(dir), "%s/s%u-%s", base, seed, name);
        if (small)
                scim_store_set_memory(1, 4);
        r = unit_replay_into(live, dir, per, d);
        if (small)
                scim_store_set_memory(256, 128); /* the defaults */
        if (strcmp(want, d) != 0 && getenv("SCIMLOG_DIFF_DUMP")) {
                char p[800];

                snprintf(p, sizeof(p), "%s.live", getenv("SCIMLOG_DIFF_DUMP"));
                dump_store(live, p);
                snprintf(p, sizeof(p), "%s.replay",
                         getenv("SCIMLOG_DIFF_DUMP"));
                dump_store(r, p);
        }
        if (strcmp(want, d) != 0)
                fail_msg("seed %u: replay '%s' digest %s, live %s", seed, name,
                         d, want);
        scim_store_close(r);
        unit_rmtree(dir);
}

/* One seed: the live fold in random batches, then three replays. Returns
 * how many events were applied (status < 400). */
static size_t one_seed(unsigned seed)
{
        hg_src_t src = {.s = 0x9e3779b97f4a7c15ULL ^ (uint64_t)seed * 7919};
        hg_history_t h;
        hg_src_t cut = {.s = (uint64_t)seed * 104729 + 1};
        char dir[700], want[65];
        int *status;
        scim_store_t *live;
        scim_err_t err;
        size_t applied = 0;
        int sealed = seed % 2; /* odd seeds: as ingest logs them */

        hg_build(&h, &src, EVENTS);
        status = calloc(h.n, sizeof(*status));
        assert_non_null(status);
        snprintf(dir, sizeof(dir), "%s/s%u-live", base, seed);
        live = unit_store_open(dir);
        for (size_t i = 0; i < h.n;) {
                size_t k = 1 + hg_pick(&cut, 40);

                if (k > h.n - i)
                        k = h.n - i;
                for (size_t j = i; sealed && j < i + k; j++)
                        assert_int_equal(
                            hg_seal_for_log(live, &h.evs[j], &h.enc[j]), 0);
                unit_fold_batches(live, h.enc + i, h.evs + i, k, k, status + i);
                i += k;
        }
        for (size_t i = 0; i < h.n; i++) {
                applied += status[i] > 0 && status[i] < 400;
                if (getenv("SCIMLOG_DIFF_VERBOSE"))
                        fprintf(stderr,
                                "seed %u event %zu: %s action %d "
                                "rt %d id %s -> %d\n",
                                seed, i, h.evs[i].tenant, (int)h.evs[i].action,
                                (int)h.evs[i].rtype,
                                h.evs[i].resource_id ? h.evs[i].resource_id
                                                     : "-",
                                status[i]);
        }
        scim_err_clear(&err);
        assert_int_equal(scim_store_digest(live, want, &err), 0);

        replay_check(live, seed, "default", 0, 0, want);
        replay_check(live, seed, "batch-1", 1, 0, want);
        replay_check(live, seed, "small-7", 7, 1, want);

        scim_store_close(live);
        unit_rmtree(dir);
        free(status);
        hg_free(&h);
        return applied;
}

static void test_random_histories(void **state)
{
        const char *one = getenv("SCIMLOG_DIFF_SEED");
        const char *many = getenv("SCIMLOG_DIFF_SEEDS");
        unsigned from = one ? (unsigned)atoi(one) : 1;
        unsigned n = one ? 1 : many ? (unsigned)atoi(many) : 20;
        size_t applied = 0, total = 0;

        (void)state;
        for (unsigned s = from; s < from + n; s++) {
                applied += one_seed(s);
                total += EVENTS;
        }
        fprintf(stderr, "%u histories, %zu events, %zu applied\n", n, total,
                applied);
        /* the histories are not all refusals */
        assert_true(applied > total / 4);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_random_histories),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
