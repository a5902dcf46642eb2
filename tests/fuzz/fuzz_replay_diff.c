/*
 * fuzz_replay_diff.c — libFuzzer target: the input drives a history of
 * events (tests/unit/history_gen.h: users, groups and memberships of
 * three tenants and an unknown one, tenant definitions, retention,
 * tokens, refusals, bad and over-limit resources), folded live in
 * batches whose sizes the input also picks, then replayed into new dirs
 * in batches of 1 and 5, the second at the smallest memory budget (the
 * hot cache evicts and writes back). The replays' views must be the live
 * fold's (same digest); anything else aborts. When the input's last byte
 * is odd, events are logged sealed with their tenant's data key, as
 * ingest writes the embedded log (replay unseals them; a tenant deletion
 * erases keys). Each input opens three
 * RocksDB dirs, so this target runs tens of inputs a second, not
 * thousands. Corpus: tests/fuzz/corpus/replay_diff/ (each file a
 * history: the bytes a PRNG seed of unit 0571 would give are as good).
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "projector/scim_projector.h"
#include "tests/unit/history_gen.h"

#define MAX_EVENTS 120

static char base[512];

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
        (void)sb;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static void rmtree(const char *path)
{
        (void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The digest of a replay of live into base/name in batches of per. */
static void replay_digest(scim_store_t *live, const char *name, size_t per,
                          int small, char *d)
{
        char dir[700], e[256];
        scim_store_t *r = NULL;
        scim_err_t err;

        snprintf(dir, sizeof(dir), "%s/%s", base, name);
        rmtree(dir);
        if (small)
                scim_store_set_memory(1, 4);
        if (scim_store_open_replay(dir, &r, e, sizeof(e)) != 0) {
                fprintf(stderr, "open %s: %s\n", dir, e);
                abort();
        }
        scim_store_replay_batch(per);
        scim_err_clear(&err);
        if (scim_store_replay(live, r, 0, NULL, &err) != 0) {
                fprintf(stderr, "replay %s: %d %s\n", name, err.status,
                        err.detail);
                abort();
        }
        scim_store_replay_batch(0);
        if (small)
                scim_store_set_memory(256, 128); /* the defaults */
        if (scim_store_digest(r, d, &err) != 0)
                abort();
        scim_store_close(r);
        rmtree(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        hg_src_t src = {.data = data, .n = size};
        hg_history_t h;
        char dir[700], e[256], want[65], got[65];
        scim_store_t *live = NULL;
        scim_err_t err;
        int sealed = data && size ? data[size - 1] & 1 : 0;

        if (!ready) {
                const char *tmp = getenv("SCIMLOG_TMP");

                if (scim_schemas_init(e, sizeof(e))) {
                        fprintf(stderr, "scim_schemas_init: %s\n", e);
                        abort();
                }
                snprintf(base, sizeof(base), "%s/fuzz-replay-diff-%d",
                         tmp && *tmp ? tmp : "/tmp", (int)getpid());
                rmtree(base);
                if (mkdir(base, 0700) != 0 && access(base, W_OK) != 0)
                        abort();
                ready = 1;
        }
        if (size < 2)
                return 0;
        hg_build(&h, &src, MAX_EVENTS);
        snprintf(dir, sizeof(dir), "%s/live", base);
        rmtree(dir);
        if (scim_store_open(dir, &live, e, sizeof(e)) != 0) {
                fprintf(stderr, "open %s: %s\n", dir, e);
                abort();
        }
        /* the live fold in batches of 1-16, sizes from the input's first
         * byte on (read again from the start: the history used them) */
        for (size_t i = 0, c = 0; i < h.n; c++) {
                size_t k = 1 + data[c % size] % 16;
                scim_verdict_t v[16];

                if (k > h.n - i)
                        k = h.n - i;
                memset(v, 0, sizeof(v));
                for (size_t j = i; sealed && j < i + k; j++)
                        if (hg_seal_for_log(live, &h.evs[j], &h.enc[j]) != 0)
                                abort();
                scim_err_clear(&err);
                if (scim_store_append_fold(live, h.enc + i, h.evs + i, k, v,
                                           &err) != 0) {
                        fprintf(stderr, "append_fold: %d %s\n", err.status,
                                err.detail);
                        abort();
                }
                for (size_t j = 0; j < k; j++)
                        scim_verdict_clear(&v[j]);
                i += k;
        }
        if (scim_store_digest(live, want, &err) != 0)
                abort();
        replay_digest(live, "replay-1", 1, 0, got);
        if (strcmp(want, got) != 0) {
                fprintf(stderr, "replay in batches of 1: %s, live %s\n", got,
                        want);
                abort();
        }
        replay_digest(live, "replay-small-5", 5, 1, got);
        if (strcmp(want, got) != 0) {
                fprintf(stderr,
                        "replay in batches of 5 at the smallest budget: %s, "
                        "live %s\n",
                        got, want);
                abort();
        }
        scim_store_close(live);
        rmtree(dir);
        hg_free(&h);
        return 0;
}
