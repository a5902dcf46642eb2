/*
 * bench-reports.c — loads N change records (default 1,000,000) through the
 * real fold into a fresh data dir, then times the reports queries in
 * process (store API, no HTTP) and prints p50/p99 per query. Used by
 * ops/bench-reports; not part of CTest (figures, not assertions).
 *
 * Load: tenant "bench" plus a decoy tenant "bench2" sharing its prefix;
 * USERS users created, then updates (title changes, disable/enable) spread
 * evenly over 30 days, appended in batches of 1,000 events per synced
 * WriteBatch via scim_store_append_fold (the same path the server uses).
 *
 * usage: bench-reports DATADIR [N] [USERS]
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
                if (!rc && vs[i].status >= 400) {
                        fprintf(stderr, "event refused: %d %s\n", vs[i].status,
                                vs[i].detail);
                        rc = -1;
                }
                scim_verdict_clear(&vs[i]);
                scim_event_clear(&evs[i]);
                enc[i].len = 0;
        }
        nb = 0;
        return rc;
}

static int add(scim_store_t *st, scim_event_t *e)
{
        scim_err_t err;

        if (scim_event_encode(e, &enc[nb], &err) < 0) {
                fprintf(stderr, "encode: %s\n", err.detail);
                return -1;
        }
        evs[nb] = *e;
        if (++nb == BATCH)
                return flush(st);
        return 0;
}

int main(int argc, char **argv)
{
        scim_store_t *st = NULL;
        char errstr[512];
        long n = argc > 2 ? atol(argv[2]) : 1000000;
        long users = argc > 3 ? atol(argv[3]) : 100000;
        int64_t span = 30LL * 86400000, t0 = scim_now_ms() - span;
        double t_load, t[RUNS];
        scim_err_t err;
        size_t rows;
        scim_event_t e;

        if (argc < 2 || n < users + 2 || users < 1) {
                fprintf(stderr, "usage: bench-reports DATADIR [N] [USERS]\n");
                return 2;
        }
        if (scim_schemas_init(errstr, sizeof(errstr)) < 0 ||
            scim_store_open(argv[1], &st, errstr, sizeof(errstr)) < 0) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        /* ---- load */
        t_load = now_s();
        mk(&e, SCIM_ACT_TENANT_CREATE, "bench", NULL, NULL, t0);
        if (add(st, &e))
                return 1;
        mk(&e, SCIM_ACT_TENANT_CREATE, "bench2", NULL, NULL, t0);
        if (add(st, &e))
                return 1;
        for (long i = 0; i < n - 2; i++) {
                char id[40], js[256];
                long u = i < users ? i : (long)(next_rand() % (uint64_t)users);
                int64_t when = t0 + (int64_t)((double)span * i / (n - 2));
                int active = i < users ? 1 : (next_rand() % 10) != 0;

                snprintf(id, sizeof(id), "user-%08ld", u);
                snprintf(js, sizeof(js),
                         "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:"
                         "2.0:User\"],\"userName\":\"u%ld@example.com\","
                         "\"active\":%s,\"title\":\"title %ld\","
                         "\"name\":{\"givenName\":\"G%ld\"}}",
                         u, active ? "true" : "false", i % 97, u);
                if (i >= users && i % 50 == 49) {
                        /* every 50th event goes to the decoy tenant */
                        snprintf(id, sizeof(id), "decoy-%08ld", i);
                        snprintf(js, sizeof(js), "{\"userName\":\"decoy%ld\"}",
                                 i);
                        mk(&e, SCIM_ACT_CREATE, "bench2", id, js, when);
                } else {
                        mk(&e, i < users ? SCIM_ACT_CREATE : SCIM_ACT_REPLACE,
                           "bench", id, js, when);
                }
                if (add(st, &e))
                        return 1;
                if (i % 100000 == 0 && i)
                        fprintf(stderr, "  %ld events...\n", i);
        }
        if (flush(st))
                return 1;
        t_load = now_s() - t_load;
        printf("loaded %ld change records (%ld users) in %.1f s: %.0f "
               "events/s through the fold, one synced batch per %d\n",
               n, users, t_load, n / t_load, BATCH);

        /* ---- queries */
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

                /* one action in one random day: walks the action index */
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
                report("1 day, action=disable (action index), 100", t,
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
                        t0 + (int64_t)(next_rand() % (uint64_t)span), &out,
                        &err) == 0)
                        rows++;
                t[r] = now_s() - a;
                json_decref(out);
        }
        report("asOf one user at a random time", t, RUNS, rows * RUNS);
        /* the whole tenant as of a random time, filtered, a page of 100,
         * against a live list with the same filter (a scan: title has no
         * index) measured in the same run */
        {
                static const char *const fs[] = {
                    "title eq \"title 42\"", NULL};
                double live[LIST_RUNS], past[LIST_RUNS];

                for (size_t fi = 0; fi < 2; fi++) {
                        scim_filter_t *f = NULL;
                        size_t total = 0, tot_live = 0;

                        if (fs[fi] &&
                            scim_filter_parse(SCIM_RT_USER, fs[fi], &f, &err) < 0)
                                return 1;
                        for (int r = 0; r < LIST_RUNS; r++) {
                                json_t *out = NULL;
                                scim_query_t lq;
                                double a = now_s();

                                if (scim_changes_list_as_of(
                                        st, "bench", SCIM_RT_USER,
                                        t0 + (int64_t)(next_rand() %
                                                       (uint64_t)span),
                                        f, 1, 100, &total, &out, &err) < 0) {
                                        fprintf(stderr, "asOf list: %s\n",
                                                err.detail);
                                        return 1;
                                }
                                past[r] = now_s() - a;
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
                        qsort(past, LIST_RUNS, sizeof(double), cmp_d);
                        qsort(live, LIST_RUNS, sizeof(double), cmp_d);
                        printf("RESULT scenario=asof_list filter=%s users=%ld "
                               "events=%ld p50_ms=%.1f p99_ms=%.1f "
                               "live_p50_ms=%.1f ratio=%.2f\n",
                               fs[fi] ? "title_eq" : "none", users, n,
                               past[LIST_RUNS / 2] * 1e3,
                               past[LIST_RUNS - 1] * 1e3,
                               live[LIST_RUNS / 2] * 1e3,
                               live[LIST_RUNS / 2] / past[LIST_RUNS / 2]);
                        scim_filter_free(f);
                }
        }
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
