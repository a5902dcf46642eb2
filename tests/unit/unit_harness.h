/*
 * unit_harness.h — the set-up code of the store-backed unit tests, once:
 * a scratch directory under SCIMLOG_TMP and its removal, a store opened
 * in it, an event built field by field, a run of encoded events folded
 * into a store in batches of a given size, a store replayed into a new
 * one, and a seeded pseudo-random sequence (the same on every run).
 *
 * Header-only: every tests/unit/NNNN-*.c is its own executable
 * (tests/CMakeLists.txt), so these are static inline and a test pays only
 * for what it calls. Include it after <cmocka.h>: failures are cmocka
 * assertions, which end the test with the file and line of the check.
 *
 * Ownership: unit_event returns an event whose strings are heap-owned
 * (release with scim_event_clear); everything else is the caller's.
 */
#ifndef SCIM_UNIT_HARNESS_H
#define SCIM_UNIT_HARNESS_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "projector/scim_projector.h"

/* The next number of the xorshift64 sequence in *s (nonzero seed): the
 * same on every run, so a failure replays. */
static inline uint64_t unit_rand(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

/* Sets dir (n bytes) to a new directory SCIMLOG_TMP/NAME-XXXXXX (/tmp
 * when SCIMLOG_TMP is unset; created if missing). */
static inline void unit_tmpdir(char *dir, size_t n, const char *name)
{
        const char *tmp = getenv("SCIMLOG_TMP");

        if (!tmp || !*tmp)
                tmp = "/tmp";
        mkdir(tmp, 0700);
        assert_true((size_t)snprintf(dir, n, "%s/%s-XXXXXX", tmp, name) < n);
        assert_non_null(mkdtemp(dir));
}

static inline int unit_rm_one(const char *path, const struct stat *sb, int flag,
                              struct FTW *ftw)
{
        (void)sb;
        (void)flag;
        (void)ftw;
        if (remove(path) != 0)
                fprintf(stderr, "cannot remove %s\n", path);
        return 0;
}

/* Removes path and everything below it, without a shell (paths may hold
 * any byte); a path that does not exist is no error. */
static inline void unit_rmtree(const char *path)
{
        struct stat sb;

        if (lstat(path, &sb) == 0)
                nftw(path, unit_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes the sibling dir+suffix (a store a test made beside dir, such as
 * dir.replay) and everything below it. */
static inline void unit_rmtree_sibling(const char *dir, const char *suffix)
{
        char p[1024];

        assert_true((size_t)snprintf(p, sizeof(p), "%s%s", dir, suffix) <
                    sizeof(p));
        unit_rmtree(p);
}

/* Opens (creating) the store in dir; the test fails if it cannot. */
static inline scim_store_t *unit_store_open(const char *dir)
{
        scim_store_t *st = NULL;
        char e[256];

        e[0] = '\0';
        if (scim_store_open(dir, &st, e, sizeof(e)) != 0)
                fail_msg("cannot open a store in %s: %s", dir, e);
        return st;
}

/* Makes dir (n bytes) a new scratch directory NAME-XXXXXX, initialises
 * the schemas and opens a store in it (*st). */
static inline void unit_store_setup(char *dir, size_t n, const char *name,
                                    scim_store_t **st)
{
        char e[256];

        unit_tmpdir(dir, n, name);
        e[0] = '\0';
        if (scim_schemas_init(e, sizeof(e)) != 0)
                fail_msg("scim_schemas_init: %s", e);
        *st = unit_store_open(dir);
}

/* Closes st (may be NULL), removes dir and shuts the schemas down. */
static inline void unit_store_teardown(const char *dir, scim_store_t *st)
{
        scim_store_close(st);
        unit_rmtree(dir);
        scim_schemas_shutdown();
}

/* A resource event as ingest would stamp it: a new event id, actor "tok",
 * request id "r", no version precondition; id and json may be NULL. */
static inline scim_event_t unit_event(scim_action_t act, scim_rtype_t rt,
                                      const char *tenant, const char *id,
                                      const char *json, int64_t time_ms)
{
        scim_event_t e;

        memset(&e, 0, sizeof(e));
        scim_uuid4(e.event_id);
        e.tenant = strdup(tenant);
        e.rtype = rt;
        e.resource_id = id ? strdup(id) : NULL;
        e.action = act;
        e.time_ms = time_ms;
        e.actor = strdup("tok");
        e.request_id = strdup("r");
        e.expect_version = -1;
        e.resource_json = json ? strdup(json) : NULL;
        return e;
}

/* Releases the n events evs[] and their encodings enc[] (the arrays
 * themselves are the caller's). */
static inline void unit_events_free(scim_event_t *evs, scim_buf_t *enc,
                                    size_t n)
{
        for (size_t i = 0; i < n; i++) {
                scim_event_clear(&evs[i]);
                scim_buf_free(&enc[i]);
        }
}

/* Appends and folds the n encoded events enc[] (their C form evs[]) into
 * st in batches of per, as the committer does; status[i], when status is
 * not NULL, is event i's verdict. */
static inline void unit_fold_batches(scim_store_t *st, const scim_buf_t *enc,
                                     const scim_event_t *evs, size_t n,
                                     size_t per, int *status)
{
        for (size_t i = 0; i < n; i += per) {
                size_t k = n - i < per ? n - i : per;
                scim_verdict_t *v = calloc(k, sizeof(*v));
                scim_err_t err;

                assert_non_null(v);
                scim_err_clear(&err);
                if (scim_store_append_fold(st, enc + i, evs + i, k, v, &err) !=
                    0)
                        fail_msg("append_fold of events %zu..%zu: %d %s", i,
                                 i + k - 1, err.status, err.detail);
                for (size_t j = 0; j < k; j++) {
                        if (status)
                                status[i + j] = v[j].status;
                        scim_verdict_clear(&v[j]);
                }
                free(v);
        }
}

/* A run against its reference: the n verdicts st[] equal ref[] and x's
 * views' digest equals want (65 bytes); what names the run in a
 * failure. */
static inline void unit_assert_same_run(scim_store_t *x, const int *st,
                                        const int *ref, size_t n,
                                        const char *want, const char *what)
{
        char got[65];
        scim_err_t err;

        for (size_t i = 0; i < n; i++)
                if (st[i] != ref[i])
                        fail_msg("%s: event %zu status %d, reference %d", what,
                                 i, st[i], ref[i]);
        scim_err_clear(&err);
        assert_int_equal(scim_store_digest(x, got, &err), 0);
        assert_string_equal(want, got);
}

/* Replays live into a new store at dir in batches of per (0: replay's
 * default) and sets d (65 bytes) to the replayed views' digest; returns
 * the replayed store, open (the caller closes it). */
static inline scim_store_t *unit_replay_into(scim_store_t *live,
                                             const char *dir, size_t per,
                                             char *d)
{
        char e[256];
        scim_store_t *r = NULL;
        scim_err_t err;

        /* as `scimlog replay` opens its new dir */
        assert_int_equal(scim_store_open_replay(dir, &r, e, sizeof(e)), 0);
        scim_store_replay_batch(per);
        scim_err_clear(&err);
        assert_int_equal(scim_store_replay(live, r, 0, NULL, &err), 0);
        scim_store_replay_batch(0);
        assert_int_equal(scim_store_digest(r, d, &err), 0);
        return r;
}

#endif
