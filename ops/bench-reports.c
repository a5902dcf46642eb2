/*
 * bench-reports.c — loads N change records (default 1,000,000) through the
 * real fold into a fresh data dir, then times the reports queries in
 * process (store API, no HTTP) and prints p50/p99 per query, and RESULT
 * lines for the point-in-time ones (asof_list, asof_group,
 * asof_group_list: wall p50/p99, the CPU seconds of all threads per query,
 * and a live reference from the same run). Used by ops/bench-reports; not
 * part of CTest (figures, not assertions).
 *
 * Load: see load() — users, groups (one with thousands of members),
 * replaces, member adds and removes, deletes, re-created users, renames,
 * a decoy tenant; batches of 1,000 events per synced WriteBatch via
 * scim_store_append_fold (the path the server uses), sealed as the
 * embedded server's ingest seals them unless BENCH_REPORTS_SEAL=0.
 *
 * usage: bench-reports DATADIR [N] [USERS] [--query-only|--load-only]
 *   --query-only: query a data dir loaded before (DATADIR.t0 holds the
 *   load's start time), e.g. with another build; BENCH_ONLY=asof (or
 *   asof_users, or asof_group_list: the Groups lists alone) runs the
 *   point-in-time queries only; BENCH_LIST_RUNS (2-20)
 *   sets the whole-tenant lists' runs; BENCH_MEMORY_MB the RocksDB budget
 *   (as serve --memory-mb, default 384).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "projector/scim_projector.h"

#define BATCH 1000
#define RUNS 2000
#define LIST_RUNS 20 /* whole-tenant asOf lists: about a second each */

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
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of all the process's threads (less sensitive than wall time
 * to others sharing the cores) */
static double cpu_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static void report(const char *name, double *t, int n, size_t rows)
{
        qsort(t, (size_t)n, sizeof(*t), cmp_d);
        printf("%-44s p50 %8.3f ms  p99 %8.3f ms  (%d runs, %zu rows/run "
               "avg)\n",
               name, t[n / 2] * 1e3, t[(n * 99) / 100] * 1e3, n,
               rows / (size_t)n);
}

static void mk(scim_event_t *e, scim_action_t act, const char *tenant,
               const char *id, const char *json, int64_t t)
{
        memset(e, 0, sizeof(*e));
        scim_uuid4(e->event_id);
        e->tenant = strdup(tenant);
        e->rtype = id ? SCIM_RT_USER : 0;
        e->resource_id = id ? strdup(id) : NULL;
        e->action = act;
        e->time_ms = t;
        e->actor = strdup("0123456789abcdef");
        e->request_id = strdup("bench");
        e->expect_version = -1;
        e->resource_json = json ? strdup(json) : NULL;
}

static long n_refused;
static int list_runs = LIST_RUNS;
static scim_buf_t enc[BATCH];
static scim_event_t evs[BATCH];
static scim_verdict_t vs[BATCH];
static size_t nb;

static int flush(scim_store_t *st)
{
        scim_err_t err;
        int rc = 0;

        if (!nb)
                return 0;
        if (scim_store_append_fold(st, enc, evs, nb, vs, &err) < 0) {
                fprintf(stderr, "append: %s\n", err.detail);
                rc = -1;
        }
        for (size_t i = 0; i < nb; i++) {
                if (vs[i].status >= 400 && n_refused++ < 5)
                        fprintf(stderr, "event refused: %d %s\n", vs[i].status,
                                vs[i].detail);
                scim_verdict_clear(&vs[i]);
                scim_event_clear(&evs[i]);
                enc[i].len = 0;
        }
        nb = 0;
        return rc;
}

/* 1 (default): events go to the log sealed, as the embedded server's
 * ingest writes them (the resource JSON and member display names only in
 * sealed_json, projector/erase.c); 0 (BENCH_REPORTS_SEAL=0): in clear, as
 * in Kafka mode. */
static int g_seal = 1;

static int add(scim_store_t *st, scim_event_t *e)
{
        scim_err_t err;
        int rc;

        scim_err_clear(&err);
        if (g_seal && scim_store_seal(st, e, &err) < 0) {
                fprintf(stderr, "seal: %s\n", err.detail);
                return -1;
        }
        if (e->sealed_json) { /* the log gets the sealed copy only */
                char *plain = e->resource_json;
                char **disp = calloc(e->n_added + 1, sizeof(*disp));

                for (size_t i = 0; i < e->n_added; i++) {
                        disp[i] = e->added[i].display;
                        e->added[i].display = NULL;
                }
                e->resource_json = NULL;
                rc = scim_event_encode(e, &enc[nb], &err);
                e->resource_json = plain;
                for (size_t i = 0; i < e->n_added; i++)
                        e->added[i].display = disp[i];
                free(disp);
        } else {
                rc = scim_event_encode(e, &enc[nb], &err);
        }
        if (rc < 0) {
                fprintf(stderr, "encode: %s\n", err.detail);
                return -1;
        }
        evs[nb] = *e;
        if (++nb == BATCH)
                return flush(st);
        return 0;
}

/* A user's stored form: g is the generation (title), name the number in
 * its userName (a re-created user reuses a deleted one's). */
static char *user_json(long name, long g, int active)
{
        char *js = malloc(320);

        snprintf(js, 320,
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:"
                 "2.0:User\"],\"userName\":\"u%ld@example.com\","
                 "\"active\":%s,\"title\":\"title %ld\","
                 "\"name\":{\"givenName\":\"G%ld\"},\"emails\":[{\"value\":"
                 "\"u%ld@example.com\",\"type\":\"work\"}]}",
                 name, active ? "true" : "false", g % 97, name, name);
        return js;
}

static char *group_json(long g, long rev)
{
        char *js = malloc(160);

        snprintf(js, 160,
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:"
                 "Group\"],\"displayName\":\"group %ld rev %ld\"}",
                 g, rev);
        return js;
}

/* One member row the generator knows: group g holds user number u. */
typedef struct row {
        long g, u;
} row_t;

static void uid(char *out, size_t n, long u)
{
        snprintf(out, n, "user-%08ld", u);
}

static void gid(char *out, size_t n, long g)
{
        snprintf(out, n, "group-%05ld", g);
}

/*
 * The load: tenant "bench" plus a decoy tenant "bench2" sharing its
 * prefix; USERS users, USERS/100 groups (group 0 created with BIG_GROUP
 * members, the others with 10), then over 30 days: 65% user replaces
 * (title and active change), 10% member removes, 15% member adds (a fifth
 * of them to group 0), 3% user deletes (the fold drops their
 * memberships), 3% new users (reusing a deleted user's userName when there
 * is one: deleted and re-created), 2% group renames with a member add, 2%
 * creates in the decoy tenant. Deterministic (fixed seed).
 */
#define BIG_GROUP 5000

static int load(scim_store_t *st, long n, long users, int64_t t0, int64_t span,
                long *groups_out)
{
        long groups = users / 100 > 0 ? users / 100 : 1, made = 0;
        long next_user = users, ndead = 0, cap = users + n;
        unsigned char *alive = calloc((size_t)cap, 1);
        long *name = calloc((size_t)cap, sizeof(long));
        long *dead = calloc((size_t)cap, sizeof(long));
        row_t *rows =
            calloc((size_t)n + BIG_GROUP + 10 * groups, sizeof(*rows));
        size_t nrows = 0;
        scim_event_t e;
        char id[40], mid[40];
        int rc = -1;

        *groups_out = groups;
        if (!alive || !name || !dead || !rows)
                goto out;
        mk(&e, SCIM_ACT_TENANT_CREATE, "bench", NULL, NULL, t0);
        if (add(st, &e))
                goto out;
        mk(&e, SCIM_ACT_TENANT_CREATE, "bench2", NULL, NULL, t0);
        if (add(st, &e) || flush(st)) /* the tenants, before their keys */
                goto out;
        made = 2;
        for (long u = 0; u < users; u++, made++) {
                uid(id, sizeof(id), u);
                mk(&e, SCIM_ACT_CREATE, "bench", id, NULL, t0 + made);
                e.resource_json = user_json(u, u, 1);
                alive[u] = 1;
                name[u] = u;
                if (add(st, &e))
                        goto out;
        }
        for (long g = 0; g < groups; g++, made++) {
                long k = g == 0 ? BIG_GROUP : 10;

                gid(id, sizeof(id), g);
                mk(&e, SCIM_ACT_CREATE, "bench", id, NULL, t0 + made);
                e.rtype = SCIM_RT_GROUP;
                e.resource_json = group_json(g, 0);
                e.added = calloc((size_t)k, sizeof(*e.added));
                for (long j = 0; j < k; j++) {
                        long u = g == 0 ? j *
                                              (users / BIG_GROUP > 0
                                                   ? users / BIG_GROUP
                                                   : 1) %
                                              users
                                        : (g * 10 + j) % users;

                        uid(mid, sizeof(mid), u);
                        e.added[e.n_added++].value = strdup(mid);
                        rows[nrows++] = (row_t){g, u};
                }
                if (add(st, &e))
                        goto out;
        }
        for (long i0 = made; made < n; made++) {
                int64_t when =
                    t0 + 1000 +
                    (int64_t)((double)(span - 2000) * (made - i0) / (n - i0));
                unsigned r = (unsigned)(next_rand() % 100);
                long u = (long)(next_rand() % (uint64_t)next_user);
                long g = (long)(next_rand() % (uint64_t)groups);

                while (!alive[u])
                        u = (long)(next_rand() % (uint64_t)next_user);
                uid(mid, sizeof(mid), u);
                if (r < 10) { /* remove a known member row */
                        size_t k = 0;

                        while (nrows > 0 && !alive[rows[nrows - 1].u])
                                nrows--; /* a delete dropped it */
                        if (nrows) {
                                k = (size_t)(next_rand() % nrows);
                                if (!alive[rows[k].u])
                                        k = nrows - 1;
                        }
                        if (!nrows) {
                                r = 99; /* nothing to remove: a replace */
                        } else {
                                gid(id, sizeof(id), rows[k].g);
                                uid(mid, sizeof(mid), rows[k].u);
                                mk(&e, SCIM_ACT_PATCH, "bench", id, NULL, when);
                                e.rtype = SCIM_RT_GROUP;
                                e.removed = calloc(1, sizeof(char *));
                                e.removed[0] = strdup(mid);
                                e.n_removed = 1;
                                rows[k] = rows[--nrows];
                        }
                } else if (r < 25 || (r >= 88 && r < 90)) {
                        /* add a member (a fifth to group 0); 88-89: with a
                         * rename */
                        if (next_rand() % 5 == 0)
                                g = 0;
                        gid(id, sizeof(id), g);
                        mk(&e, SCIM_ACT_PATCH, "bench", id, NULL, when);
                        e.rtype = SCIM_RT_GROUP;
                        if (r >= 88)
                                e.resource_json = group_json(g, made);
                        e.added = calloc(1, sizeof(*e.added));
                        e.added[0].value = strdup(mid);
                        if (next_rand() % 2) { /* half name a display */
                                e.added[0].display = malloc(40);
                                snprintf(e.added[0].display, 40,
                                         "u%ld@example.com", name[u]);
                        }
                        e.n_added = 1;
                        rows[nrows++] = (row_t){g, u};
                } else if (r < 28) { /* delete a user */
                        mk(&e, SCIM_ACT_DELETE, "bench", mid, NULL, when);
                        alive[u] = 0;
                        dead[ndead++] = name[u];
                } else if (r < 31) { /* a new user, or one re-created */
                        long nm = ndead ? dead[--ndead] : next_user;

                        uid(id, sizeof(id), next_user);
                        mk(&e, SCIM_ACT_CREATE, "bench", id, NULL, when);
                        e.resource_json = user_json(nm, made, 1);
                        name[next_user] = nm;
                        alive[next_user++] = 1;
                } else if (r < 33) { /* the decoy tenant */
                        snprintf(id, sizeof(id), "decoy-%08ld", made);
                        mk(&e, SCIM_ACT_CREATE, "bench2", id, NULL, when);
                        e.resource_json = malloc(64);
                        snprintf(e.resource_json, 64,
                                 "{\"userName\":\"decoy%ld\"}", made);
                }
                if (r >= 33 && r != 88 && r != 89) {
                        mk(&e, SCIM_ACT_REPLACE, "bench", mid, NULL, when);
                        e.resource_json =
                            user_json(name[u], made, next_rand() % 10 != 0);
                }
                if (add(st, &e))
                        goto out;
                if (made % 100000 == 0)
                        fprintf(stderr, "  %ld events...\n", made);
        }
        rc = flush(st);
out:
        free(alive);
        free(name);
        free(dead);
        free(rows);
        return rc;
}

int main(int argc, char **argv)
{
        scim_store_t *st = NULL;
        char errstr[512];
        long n = argc > 2 ? atol(argv[2]) : 1000000;
        long users = argc > 3 ? atol(argv[3]) : 100000, groups = 1;
        int query_only = argc > 4 && !strcmp(argv[4], "--query-only");
        int load_only = argc > 4 && !strcmp(argv[4], "--load-only");
        int64_t span = 30LL * 86400000, t0;
        double t_load, t[RUNS];
        scim_err_t err;
        size_t rows;
        /* the point-in-time reads check a deadline as the server's do
         * (--report-ms): an hour, never reached, so that the figures
         * include the checks' cost */
        scim_deadline_t dl;
        char t0path[4096];
        FILE *tf;

        if (argc < 2 || n < users + users / 100 + 3 || users < 100) {
                fprintf(stderr, "usage: bench-reports DATADIR [N] [USERS] "
                                "[--query-only|--load-only]\n");
                return 2;
        }
        /* the load's start time, kept next to the data dir so that a
         * query-only run (another build on the same data) asks the same
         * times */
        snprintf(t0path, sizeof(t0path), "%s.t0", argv[1]);
        if (query_only) {
                long long x = 0;

                tf = fopen(t0path, "r");
                if (!tf || fscanf(tf, "%lld", &x) != 1) {
                        fprintf(stderr, "%s: no load start time\n", t0path);
                        return 1;
                }
                fclose(tf);
                t0 = x;
                groups = users / 100 > 0 ? users / 100 : 1;
        } else {
                t0 = scim_now_ms() - span;
        }
        if (getenv("BENCH_MEMORY_MB")) { /* as serve --memory-mb */
                size_t mb = (size_t)atol(getenv("BENCH_MEMORY_MB"));

                if (mb >= 48)
                        scim_store_set_memory(mb - mb / 3, mb / 3);
        }
        if (getenv("BENCH_REPORTS_SEAL"))
                g_seal = atoi(getenv("BENCH_REPORTS_SEAL")) != 0;
        if (scim_schemas_init(errstr, sizeof(errstr)) < 0 ||
            scim_store_open(argv[1], &st, errstr, sizeof(errstr)) < 0) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        if (!query_only) {
                /* ---- load */
                t_load = now_s();
                if (load(st, n, users, t0, span, &groups))
                        return 1;
                t_load = now_s() - t_load;
                tf = fopen(t0path, "w");
                if (tf) {
                        fprintf(tf, "%lld\n", (long long)t0);
                        fclose(tf);
                }
                printf("loaded %ld change records (%ld users, %ld groups) in "
                       "%.1f s: %.0f events/s through the fold, one synced "
                       "batch per %d, %ld refused\n",
                       n, users, groups, t_load, n / t_load, BATCH, n_refused);
                fflush(stdout);
                if (load_only) {
                        scim_store_close(st);
                        scim_schemas_shutdown();
                        return 0;
                }
        }
        if (getenv("BENCH_LIST_RUNS")) /* the whole-tenant lists' runs */
                list_runs = atoi(getenv("BENCH_LIST_RUNS"));
        if (list_runs < 2 || list_runs > LIST_RUNS)
                list_runs = LIST_RUNS;

        scim_deadline_start(&dl, 3600000);
        /* ---- queries (BENCH_ONLY=asof: the point-in-time ones only) */
        if (getenv("BENCH_ONLY") && !strncmp(getenv("BENCH_ONLY"), "asof", 4))
                goto as_of;
        {
                scim_change_query_t q;
                scim_buf_t next = {0};
                json_t *recs;

                /* history of one resource (all its records, oldest first) */
                rows = 0;
                for (int r = 0; r < RUNS; r++) {
                        char id[40];
                        double a = now_s();

                        snprintf(id, sizeof(id), "user-%08ld",
                                 (long)(next_rand() % (uint64_t)users));
                        memset(&q, 0, sizeof(q));
                        q.from_ms = INT64_MIN;
                        q.to_ms = INT64_MAX;
                        q.resource = id;
                        q.count = 100;
                        next.len = 0;
                        if (scim_changes_query(st, "bench", &q, &recs, &next,
                                               &err) < 0)
                                return 1;
                        t[r] = now_s() - a;
                        rows += json_array_size(recs);
                        json_decref(recs);
                }
                report("history of one user (count=100)", t, RUNS, rows);

                /* time range: one random hour, newest first, page of 100 */
                rows = 0;
                for (int r = 0; r < RUNS; r++) {
                        double a = now_s();

                        memset(&q, 0, sizeof(q));
                        q.from_ms = t0 + (int64_t)(next_rand() %
                                                   (uint64_t)(span - 3600000));
                        q.to_ms = q.from_ms + 3600000;
                        q.count = 100;
                        q.desc = 1;
                        next.len = 0;
                        if (scim_changes_query(st, "bench", &q, &recs, &next,
                                               &err) < 0)
                                return 1;
                        t[r] = now_s() - a;
                        rows += json_array_size(recs);
                        json_decref(recs);
                }
                report("time range 1h, page of 100", t, RUNS, rows);

                /* one action in one random day: walks the time index, skipping other
                 * actions by the index value */
                rows = 0;
                for (int r = 0; r < RUNS / 10; r++) {
                        double a = now_s();

                        memset(&q, 0, sizeof(q));
                        q.from_ms = t0 + (int64_t)(next_rand() %
                                                   (uint64_t)(span - 86400000));
                        q.to_ms = q.from_ms + 86400000;
                        q.count = 100;
                        q.desc = 1;
                        q.actions = "disable";
                        next.len = 0;
                        if (scim_changes_query(st, "bench", &q, &recs, &next,
                                               &err) < 0)
                                return 1;
                        t[r] = now_s() - a;
                        rows += json_array_size(recs);
                        json_decref(recs);
                }
                report("1 day, action=disable (time index), 100", t,
                       RUNS / 10, rows);

                /* two actions: post-filter over the time index */
                rows = 0;
                for (int r = 0; r < RUNS / 10; r++) {
                        double a = now_s();

                        memset(&q, 0, sizeof(q));
                        q.from_ms = t0 + (int64_t)(next_rand() %
                                                   (uint64_t)(span - 86400000));
                        q.to_ms = q.from_ms + 86400000;
                        q.count = 100;
                        q.desc = 1;
                        q.actions = "disable,enable";
                        next.len = 0;
                        if (scim_changes_query(st, "bench", &q, &recs, &next,
                                               &err) < 0)
                                return 1;
                        t[r] = now_s() - a;
                        rows += json_array_size(recs);
                        json_decref(recs);
                }
                report("1 day, action=disable,enable (filter), 100", t,
                       RUNS / 10, rows);

                /* ten pages deep by cursor (1,000 newest records) */
                rows = 0;
                for (int r = 0; r < RUNS / 10; r++) {
                        scim_buf_t cur = {0};
                        double a = now_s();

                        memset(&q, 0, sizeof(q));
                        q.from_ms = INT64_MIN;
                        q.to_ms = INT64_MAX;
                        q.count = 100;
                        q.desc = 1;
                        for (int p = 0; p < 10; p++) {
                                next.len = 0;
                                if (scim_changes_query(st, "bench", &q, &recs,
                                                       &next, &err) < 0)
                                        return 1;
                                rows += json_array_size(recs);
                                json_decref(recs);
                                cur.len = 0;
                                scim_buf_append(&cur, next.data, next.len);
                                q.cursor = (const unsigned char *)cur.data;
                                q.cursor_len = cur.len;
                        }
                        t[r] = now_s() - a;
                        scim_buf_free(&cur);
                }
                report("10 cursor pages of 100 (newest first)", t, RUNS / 10,
                       rows);
                scim_buf_free(&next);
        }
        /* summaries from counters */
        rows = 0;
        for (int r = 0; r < RUNS; r++) {
                json_t *out;
                double a = now_s();

                if (scim_changes_summary(st, "bench", t0, t0 + span, 24, &out,
                                         &err) < 0)
                        return 1;
                t[r] = now_s() - a;
                rows += json_array_size(json_object_get(out, "series"));
                json_decref(out);
        }
        report("summary 30 days by day", t, RUNS, rows);
        rows = 0;
        for (int r = 0; r < RUNS; r++) {
                json_t *out;
                double a = now_s();

                if (scim_changes_summary(st, "bench", t0 + span - 7 * 86400000,
                                         t0 + span, 1, &out, &err) < 0)
                        return 1;
                t[r] = now_s() - a;
                rows += json_array_size(json_object_get(out, "series"));
                json_decref(out);
        }
        report("summary 7 days by hour", t, RUNS, rows);
as_of:
        if (getenv("BENCH_ONLY") &&
            !strcmp(getenv("BENCH_ONLY"), "asof_group_list"))
                goto group_lists;
        /* asOf: random user at a random time */
        rows = 0;
        for (int r = 0; r < RUNS; r++) {
                char id[40];
                json_t *out = NULL;
                double a = now_s();

                snprintf(id, sizeof(id), "user-%08ld",
                         (long)(next_rand() % (uint64_t)users));
                if (scim_changes_as_of(
                        st, "bench", SCIM_RT_USER, id,
                        t0 + (int64_t)(next_rand() % (uint64_t)span), &dl,
                        &out, &err) == 0)
                        rows++;
                t[r] = now_s() - a;
                json_decref(out);
        }
        report("asOf one user at a random time", t, RUNS, rows * RUNS);
        /* the whole tenant as of a random time, filtered, a page of 100,
         * against a live list with the same filter (a scan: title has no
         * index) measured in the same run */
        {
                static const char *const fs[] = {"title eq \"title 42\"", NULL};
                double live[LIST_RUNS], past[LIST_RUNS];

                for (size_t fi = 0; fi < 2; fi++) {
                        scim_filter_t *f = NULL;
                        size_t total = 0, tot_live = 0;
                        double cpu = 0;

                        if (fs[fi] && scim_filter_parse(SCIM_RT_USER, fs[fi],
                                                        &f, &err) < 0)
                                return 1;
                        for (int r = 0; r < list_runs; r++) {
                                json_t *out = NULL;
                                scim_query_t lq;
                                double a = now_s(), c = cpu_s();

                                if (scim_changes_list_as_of(
                                        st, "bench", SCIM_RT_USER,
                                        t0 + (int64_t)(next_rand() %
                                                       (uint64_t)span),
                                        f, 1, 100, &dl, &total, &out,
                                        &err) < 0) {
                                        fprintf(stderr, "asOf list: %s\n",
                                                err.detail);
                                        return 1;
                                }
                                past[r] = now_s() - a;
                                cpu += cpu_s() - c;
                                json_decref(out);
                                memset(&lq, 0, sizeof(lq));
                                lq.filter = f;
                                lq.start_index = 1;
                                lq.count = 100;
                                a = now_s();
                                if (scim_store_list(st, "bench", SCIM_RT_USER,
                                                    &lq, &tot_live, &out,
                                                    &err) < 0) {
                                        fprintf(stderr, "list: %s\n",
                                                err.detail);
                                        return 1;
                                }
                                live[r] = now_s() - a;
                                json_decref(out);
                        }
                        qsort(past, list_runs, sizeof(double), cmp_d);
                        qsort(live, list_runs, sizeof(double), cmp_d);
                        printf("RESULT scenario=asof_list filter=%s users=%ld "
                               "events=%ld p50_ms=%.1f p99_ms=%.1f "
                               "live_p50_ms=%.1f ratio=%.2f cpu_ms=%.1f\n",
                               fs[fi] ? "title_eq" : "none", users, n,
                               past[list_runs / 2] * 1e3,
                               past[list_runs - 1] * 1e3,
                               live[list_runs / 2] * 1e3,
                               live[list_runs / 2] / past[list_runs / 2],
                               cpu / list_runs * 1e3);
                        scim_filter_free(f);
                }
        }
        if (getenv("BENCH_ONLY") && !strcmp(getenv("BENCH_ONLY"), "asof_users"))
                goto done;
        /* "who was a member of group X on date T": one group as of a
         * random time (GET Groups/{id}?asOf=T with its members), group 0
         * (thousands of members, the longest history) and a random group,
         * against a live GET of the same group in the same run */
        for (int big = 1; big >= 0; big--) {
                int runs = big ? list_runs * 5 : RUNS / 4;
                double past[RUNS], live[RUNS], cpu = 0;
                size_t members = 0;

                for (int r = 0; r < runs; r++) {
                        char id[40];
                        json_t *out = NULL;
                        int64_t v;
                        double a, c;

                        gid(id, sizeof(id),
                            big ? 0 : (long)(next_rand() % (uint64_t)groups));
                        a = now_s();
                        c = cpu_s();
                        if (scim_changes_as_of(
                                st, "bench", SCIM_RT_GROUP, id,
                                t0 + users + groups + 2 +
                                    (int64_t)(next_rand() %
                                              (uint64_t)(span - users)),
                                &dl, &out, &err) < 0) {
                                fprintf(stderr, "asOf group %s: %s\n", id,
                                        err.detail);
                                return 1;
                        }
                        past[r] = now_s() - a;
                        cpu += cpu_s() - c;
                        members +=
                            json_array_size(json_object_get(out, "members"));
                        json_decref(out);
                        out = NULL;
                        a = now_s();
                        if (scim_store_get(st, "bench", SCIM_RT_GROUP, id, &out,
                                           &v, &err) < 0) {
                                fprintf(stderr, "get group %s: %s\n", id,
                                        err.detail);
                                return 1;
                        }
                        live[r] = now_s() - a;
                        json_decref(out);
                }
                qsort(past, (size_t)runs, sizeof(double), cmp_d);
                qsort(live, (size_t)runs, sizeof(double), cmp_d);
                printf("RESULT scenario=asof_group group=%s members_avg=%zu "
                       "users=%ld events=%ld p50_ms=%.2f p99_ms=%.2f "
                       "live_p50_ms=%.2f ratio=%.3f cpu_ms=%.2f\n",
                       big ? "big" : "random", members / (size_t)runs, users, n,
                       past[runs / 2] * 1e3, past[(runs * 99) / 100] * 1e3,
                       live[runs / 2] * 1e3, live[runs / 2] / past[runs / 2],
                       cpu / runs * 1e3);
        }
group_lists:
        /* the tenant's groups as of a random time: a page of 100, and
         * "which groups held user U then" (members.value eq), against the
         * same live list */
        for (int fi = 0; fi < 2; fi++) {
                double live[LIST_RUNS], past[LIST_RUNS], cpu = 0;
                size_t total = 0, tot_live = 0, found = 0;

                for (int r = 0; r < list_runs; r++) {
                        scim_filter_t *f = NULL;
                        json_t *out = NULL;
                        scim_query_t lq;
                        char fs[96], id[40];
                        double a, c;

                        /* users of group 0's first members: most are in
                         * some group at most times */
                        uid(id, sizeof(id),
                            (long)(next_rand() % BIG_GROUP) *
                                (users / BIG_GROUP > 0 ? users / BIG_GROUP
                                                       : 1) %
                                users);
                        snprintf(fs, sizeof(fs), "members.value eq \"%s\"", id);
                        if (fi &&
                            scim_filter_parse(SCIM_RT_GROUP, fs, &f, &err) < 0)
                                return 1;
                        a = now_s();
                        c = cpu_s();
                        if (scim_changes_list_as_of(
                                st, "bench", SCIM_RT_GROUP,
                                t0 + (int64_t)(next_rand() % (uint64_t)span), f,
                                1, 100, &dl, &total, &out, &err) < 0) {
                                fprintf(stderr, "asOf groups: %s\n",
                                        err.detail);
                                return 1;
                        }
                        past[r] = now_s() - a;
                        cpu += cpu_s() - c;
                        found += total;
                        json_decref(out);
                        memset(&lq, 0, sizeof(lq));
                        lq.filter = f;
                        lq.start_index = 1;
                        lq.count = 100;
                        a = now_s();
                        if (scim_store_list(st, "bench", SCIM_RT_GROUP, &lq,
                                            &tot_live, &out, &err) < 0) {
                                fprintf(stderr, "list: %s\n", err.detail);
                                return 1;
                        }
                        live[r] = now_s() - a;
                        json_decref(out);
                        scim_filter_free(f);
                }
                qsort(past, list_runs, sizeof(double), cmp_d);
                qsort(live, list_runs, sizeof(double), cmp_d);
                printf("RESULT scenario=asof_group_list filter=%s groups=%ld "
                       "users=%ld events=%ld total_avg=%.1f p50_ms=%.1f "
                       "p99_ms=%.1f live_p50_ms=%.1f ratio=%.3f cpu_ms=%.1f\n",
                       fi ? "members_value_eq" : "none", groups, users, n,
                       (double)found / list_runs, past[list_runs / 2] * 1e3,
                       past[list_runs - 1] * 1e3, live[list_runs / 2] * 1e3,
                       live[list_runs / 2] / past[list_runs / 2],
                       cpu / list_runs * 1e3);
        }
done:
        /* one record by seq */
        rows = 0;
        for (int r = 0; r < RUNS; r++) {
                json_t *out = NULL;
                double a = now_s();

                if (scim_changes_get(st, "bench", 1 + next_rand() % (uint64_t)n,
                                     &out, &err) == 0)
                        rows++;
                t[r] = now_s() - a;
                json_decref(out);
        }
        report("changes/{seq}", t, RUNS, rows * RUNS);
        for (size_t i = 0; i < BATCH; i++)
                scim_buf_free(&enc[i]);
        scim_store_close(st);
        scim_schemas_shutdown();
        return 0;
}
