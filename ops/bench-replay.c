/*
 * bench-replay.c — the replay benchmark's helper (ops/bench --replay, issue
 * 13). Not part of CTest: it prints figures, it asserts nothing.
 *
 *   bench-replay gen DIR N [USERS [KEYS]]
 *                                    writes N events through the live fold
 *                                    (scim_store_append_fold, batches of
 *                                    1,000, each synced) into a new DIR
 *   bench-replay log DIR N [USERS [KEYS]]
 *                                    writes the same N events straight into
 *                                    DIR's embedded log (column family
 *                                    `log`, key = position, and the
 *                                    position; batches of 10,000, no fold,
 *                                    no views): the source `scimlog replay`
 *                                    builds the views from, as a restore
 *                                    does (ops/bench-scale, issue 13 item
 *                                    6: 10M events without an hour of
 *                                    synced live batches)
 *   bench-replay decode DIR          Avro-decodes every log record of DIR
 *                                    (no fold, no writes): the decode-only
 *                                    rate replay is compared with
 *
 * The mix (USERS default N/10): one tenant; USERS user creates and
 * USERS/100 group creates, then events spread over 30 days: 55% user
 * PATCH (full new state: title, active, department change), 30% group
 * membership changes (add or remove one member), 5% user deletes, 5% new
 * users, 5% group PATCH with a member add and a displayName change. Every
 * event is valid when written, so each one is applied (the generator keeps
 * its own picture of which users live and which memberships exist).
 *
 * Single-threaded; deterministic (fixed xorshift seed, fixed times, event
 * ids numbered in log order), so `gen` and `log` write the same log
 * bytes: a `log` dir replayed has the digest of the `gen` dir of the same
 * N and USERS (ops/bench-scale checks it on its scaled-down run).
 *
 * KEYS (optional): KEYS.ids and KEYS.names get the ids and userNames of
 * up to 20,000 users alive at the end, drawn at random from all of them
 * (wrk's keys for GET by id and filter eq). Last line on stdout:
 * `live users=U groups=G` (what the views must hold).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "projector/scim_projector.h"

#define BATCH 1000      /* live fold: events per synced batch */
#define LOG_BATCH 10000 /* log only: events per write */

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static scim_buf_t enc[LOG_BATCH];
static scim_event_t evs[BATCH];
static scim_verdict_t vs[BATCH];
static size_t nb;
static long refused;
static int log_only;      /* `log`: no fold, records straight into the log */
static uint64_t numbered; /* events numbered so far (= log position) */

/* `log`: enc[0..nb) after the log's end, no fold (the dir becomes a
 * replay source only: scim_store_log_load); unsynced (close flushes). */
static int flush_log(scim_store_t *st)
{
        scim_err_t err;

        scim_err_clear(&err);
        if (scim_store_log_load(st, enc, nb, &err) < 0) {
                fprintf(stderr, "log write: %s\n", err.detail);
                return -1;
        }
        for (size_t i = 0; i < nb; i++)
                enc[i].len = 0;
        nb = 0;
        return 0;
}

static int flush(scim_store_t *st)
{
        scim_err_t err;
        int rc = 0;

        if (!nb)
                return 0;
        if (log_only)
                return flush_log(st);
        scim_err_clear(&err);
        if (scim_store_append_fold(st, enc, evs, nb, vs, &err) < 0) {
                fprintf(stderr, "append: %s\n", err.detail);
                rc = -1;
        }
        for (size_t i = 0; i < nb; i++) {
                if (vs[i].status >= 400 && refused++ < 5)
                        fprintf(stderr, "event refused: %d %s\n", vs[i].status,
                                vs[i].detail);
                scim_verdict_clear(&vs[i]);
                scim_event_clear(&evs[i]);
                enc[i].len = 0;
        }
        nb = 0;
        return rc;
}

/* Takes ownership of *e's fields. */
static int add(scim_store_t *st, scim_event_t *e)
{
        scim_err_t err;

        scim_err_clear(&err);
        if (scim_event_encode(e, &enc[nb], &err) < 0) {
                fprintf(stderr, "encode: %s\n", err.detail);
                return -1;
        }
        if (log_only) {
                scim_event_clear(e);
                if (++nb == LOG_BATCH)
                        return flush(st);
                return 0;
        }
        evs[nb] = *e;
        if (++nb == BATCH)
                return flush(st);
        return 0;
}

static void mk(scim_event_t *e, scim_action_t act, scim_rtype_t rt,
               const char *id, char *json, int64_t t)
{
        memset(e, 0, sizeof(*e));
        /* numbered, not random: `gen` and `log` write the same bytes */
        numbered++;
        snprintf(e->event_id, sizeof(e->event_id),
                 "00000000-0000-4000-8000-%012llx",
                 (unsigned long long)numbered);
        e->tenant = strdup("bench");
        e->rtype = rt;
        e->resource_id = id ? strdup(id) : NULL;
        e->action = act;
        e->time_ms = t;
        e->actor = strdup("0123456789abcdef");
        e->request_id = strdup("bench-replay");
        e->expect_version = -1;
        e->resource_json = json; /* owned */
}

static char *user_json(long u, long gen, int active)
{
        scim_buf_t b = {0};

        scim_buf_printf(
            &b,
            "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","
            "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
            "\"externalId\":\"ext-%ld\",\"userName\":\"user%ld@example.com\","
            "\"name\":{\"givenName\":\"Given%ld\",\"familyName\":\"Family%ld\"}"
            ","
            "\"displayName\":\"Given%ld Family%ld\",\"title\":\"title %ld\","
            "\"active\":%s,\"emails\":[{\"value\":\"user%ld@example.com\","
            "\"type\":\"work\",\"primary\":true}],"
            "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
            "{\"department\":\"dept %ld\",\"employeeNumber\":\"%ld\"}}",
            u, u, u, u, u, u, gen % 97, active ? "true" : "false", u, gen % 13,
            u);
        return b.data; /* owned by the caller */
}

static char *group_json(long g, long gen)
{
        scim_buf_t b = {0};

        scim_buf_printf(&b,
                        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:"
                        "2.0:Group\"],\"displayName\":\"group %ld rev %ld\"}",
                        g, gen);
        return b.data;
}

static void uid(char *out, size_t n, long u)
{
        snprintf(out, n, "u-%08ld-5f0c-4b7e-9a55-3d2f1e0c9b8a", u);
}

static void gid(char *out, size_t n, long g)
{
        snprintf(out, n, "g-%06ld-1c2d-4e5f-8a9b-0c1d2e3f4a5b", g);
}

/* One member row the generator knows: group g holds user u. */
typedef struct row {
        long g, u;
} row_t;

/* KEYS.ids and KEYS.names: up to 20,000 users alive at the end, drawn at
 * random over every user number ever used (so over the whole key space,
 * not the first pages). 0 or -1. */
static int write_keys(const char *keys, const unsigned char *alive,
                      long next_user, long live)
{
        char path[4096], id[64];
        FILE *fi, *fn;
        long want = live < 20000 ? live : 20000, got = 0;
        int rc = 0;

        snprintf(path, sizeof(path), "%s.ids", keys);
        fi = fopen(path, "w");
        snprintf(path, sizeof(path), "%s.names", keys);
        fn = fopen(path, "w");
        if (!fi || !fn) {
                fprintf(stderr, "cannot write %s.ids / .names\n", keys);
                rc = -1;
                goto out;
        }
        while (got < want) {
                long u = (long)(next_rand() % (uint64_t)next_user);

                if (!alive[u])
                        continue;
                uid(id, sizeof(id), u);
                fprintf(fi, "%s\n", id);
                fprintf(fn, "user%ld@example.com\n", u);
                got++;
        }
out:
        if (fi && fclose(fi))
                rc = -1;
        if (fn && fclose(fn))
                rc = -1;
        return rc;
}

static int gen(const char *dir, long n, long users, const char *keys)
{
        scim_store_t *st = NULL;
        char errstr[512], id[64], mid[64];
        long groups = users / 100 > 0 ? users / 100 : 1, made = 0, cap;
        int64_t span = 30LL * 86400000, t0 = 1767225600000LL; /* 2026-01-01 */
        long next_user = users, live = 0;
        unsigned char *alive;
        row_t *rows;
        size_t nrows = 0, rows_cap;
        double t;
        scim_event_t e;
        int rc = 1;

        cap = users + n; /* user numbers ever used */
        alive = calloc((size_t)cap, 1);
        rows_cap = (size_t)n + 1;
        rows = calloc(rows_cap, sizeof(*rows));
        if (!alive || !rows ||
            scim_store_open(dir, &st, errstr, sizeof(errstr)) < 0) {
                fprintf(stderr, "%s\n", alive && rows ? errstr : "no memory");
                goto out;
        }
        t = now_s();
        mk(&e, SCIM_ACT_TENANT_CREATE, 0, NULL, NULL, t0);
        if (add(st, &e))
                goto out;
        made = 1;
        for (long u = 0; u < users && made < n; u++, made++) {
                uid(id, sizeof(id), u);
                mk(&e, SCIM_ACT_CREATE, SCIM_RT_USER, id, user_json(u, 0, 1),
                   t0 + made);
                alive[u] = 1;
                if (add(st, &e))
                        goto out;
        }
        for (long g = 0; g < groups && made < n; g++, made++) {
                gid(id, sizeof(id), g);
                mk(&e, SCIM_ACT_CREATE, SCIM_RT_GROUP, id, group_json(g, 0),
                   t0 + made);
                if (add(st, &e))
                        goto out;
        }
        {
                long i0 = made;

                for (; made < n; made++) {
                        int64_t when =
                            t0 + 1000 +
                            (int64_t)((double)span * (made - i0) / (n - i0));
                        unsigned r = (unsigned)(next_rand() % 100);
                        long u = (long)(next_rand() % (uint64_t)next_user);
                        long g = (long)(next_rand() % (uint64_t)groups);

                        while (!alive[u])
                                u = (long)(next_rand() % (uint64_t)next_user);
                        uid(mid, sizeof(mid), u);
                        if (r < 55) { /* user PATCH: full new state */
                                mk(&e, SCIM_ACT_PATCH, SCIM_RT_USER, mid,
                                   user_json(u, made, next_rand() % 10 != 0),
                                   when);
                        } else if (r < 85 || r >= 95) {
                                /* membership: remove a known row, or add */
                                gid(id, sizeof(id), g);
                                mk(&e, SCIM_ACT_PATCH, SCIM_RT_GROUP, id,
                                   r >= 95 ? group_json(g, made) : NULL, when);
                                while (nrows > 0 && r < 70 &&
                                       !alive[rows[nrows - 1].u])
                                        nrows--; /* the delete dropped it */
                                if (r < 70 && nrows > 0) {
                                        size_t k =
                                            (size_t)(next_rand() % nrows);

                                        if (!alive[rows[k].u])
                                                k = nrows - 1;
                                        free(e.resource_id);
                                        gid(id, sizeof(id), rows[k].g);
                                        e.resource_id = strdup(id);
                                        uid(mid, sizeof(mid), rows[k].u);
                                        e.removed = calloc(1, sizeof(char *));
                                        e.removed[0] = strdup(mid);
                                        e.n_removed = 1;
                                        rows[k] = rows[--nrows];
                                } else {
                                        e.added = calloc(1, sizeof(*e.added));
                                        e.added[0].value = strdup(mid);
                                        e.n_added = 1;
                                        if (nrows < rows_cap)
                                                rows[nrows++] = (row_t){g, u};
                                }
                        } else if (r < 90) { /* delete a user */
                                mk(&e, SCIM_ACT_DELETE, SCIM_RT_USER, mid, NULL,
                                   when);
                                alive[u] = 0; /* its rows go stale */
                        } else {              /* a new user */
                                uid(id, sizeof(id), next_user);
                                mk(&e, SCIM_ACT_CREATE, SCIM_RT_USER, id,
                                   user_json(next_user, 0, 1), when);
                                alive[next_user++] = 1;
                        }
                        if (add(st, &e))
                                goto out;
                        if (made % (log_only ? 1000000 : 100000) == 0)
                                fprintf(stderr, "  %ld events...\n", made);
                }
        }
        if (flush(st))
                goto out;
        t = now_s() - t;
        printf("generated %ld events (%ld users, %ld groups) %s in %.1f s: "
               "%.0f events/s, %ld refused\n",
               made, users, groups,
               log_only ? "into the log (no fold)" : "through the live fold", t,
               (double)made / t, refused);
        for (long u = 0; u < next_user; u++)
                live += alive[u];
        if (keys && write_keys(keys, alive, next_user, live) < 0)
                goto out;
        printf("live users=%ld groups=%ld\n", live, groups);
        rc = refused ? 1 : 0;
out:
        scim_store_close(st);
        free(alive);
        free(rows);
        return rc;
}

typedef struct decode_ctx {
        uint64_t n, bad;
} decode_ctx_t;

static int decode_one(void *ctx, uint64_t seq, const void *data, size_t len)
{
        decode_ctx_t *c = ctx;
        scim_event_t ev;
        scim_err_t err;

        memset(&ev, 0, sizeof(ev));
        scim_err_clear(&err);
        if (scim_event_decode(data, len, &ev, &err) < 0)
                c->bad++;
        scim_event_clear(&ev);
        c->n++;
        return 0;
}

static int decode(const char *dir)
{
        scim_store_t *st = NULL;
        char errstr[512];
        decode_ctx_t c = {0, 0};
        double t;

        if (scim_store_open(dir, &st, errstr, sizeof(errstr)) < 0) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        /* once to warm the block cache (replay reads the log too) */
        scim_store_log_each(st, 0, decode_one, &c);
        c.n = c.bad = 0;
        t = now_s();
        scim_store_log_each(st, 0, decode_one, &c);
        t = now_s() - t;
        printf("decoded %llu events in %.2f s: %.0f events/s (%llu bad)\n",
               (unsigned long long)c.n, t, (double)c.n / t,
               (unsigned long long)c.bad);
        scim_store_close(st);
        return c.bad ? 1 : 0;
}

int main(int argc, char **argv)
{
        char errstr[512];

        if (scim_schemas_init(errstr, sizeof(errstr)) < 0) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        if (argc >= 4 && argc <= 6 &&
            (!strcmp(argv[1], "gen") || !strcmp(argv[1], "log"))) {
                long n = atol(argv[3]);
                long users = argc > 4 ? atol(argv[4]) : n / 10;

                if (n < 10 || users < 1 || users >= n) {
                        fprintf(stderr, "N >= 10, 1 <= USERS < N\n");
                        return 2;
                }
                log_only = !strcmp(argv[1], "log");
                return gen(argv[2], n, users, argc > 5 ? argv[5] : NULL);
        }
        if (argc == 3 && !strcmp(argv[1], "decode"))
                return decode(argv[2]);
        fprintf(stderr, "usage: bench-replay gen|log DIR N [USERS [KEYS]] | "
                        "decode DIR\n");
        return 2;
}
