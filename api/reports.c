/*
 * reports.c — the reports API under /reports/v1/{tenant}/ (contract:
 * docs/reports-api.md): change feed with filters and cursor paging (JSON or
 * CSV), one change record, one resource's history, point-in-time views of
 * users and groups, summaries per hour/day, saved reports.
 *
 * Auth: the tenant's SCIM token or a report-only token (scope "reports");
 * a token never reaches another tenant's reports (401). Saving or deleting
 * a saved report needs the full token (403 for report-only).
 *
 * Threads: runs on libmicrohttpd pool threads; reads go to the store. A
 * saved-report save/delete suspends its connection and is answered after
 * the commit (scim_reports_write_t), like SCIM writes: no pool thread
 * waits for it. Point-in-time reads (`?asOf=`), which can take seconds,
 * suspend their connection too and run on a report worker
 * (api/report_jobs.c): the handler then runs on that worker with its
 * answer captured (rq_t.cap) and sent by a pool thread after the resume.
 *
 * Time limit: a point-in-time read gets --report-ms (default 30 s) from
 * when a worker takes it (rq_t.dl, the job's deadline); the read checks it
 * in its loops (projector/asof.c) and, once over, stops and is answered
 * 400 tooMany (over_limit: the limit, its value, what to do), counted in
 * /metrics and logged as a server event. 400, not 503: the same read
 * would only fail the same way, and a 503 invites blind retries that
 * would hold the worker again. The inline path (no workers) starts the
 * same deadline with the default, so both answer alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/audit_internal.h"
#include "api/conn_guard_internal.h"
#include "api/http_internal.h"
#include "api/report_jobs.h"
#include "api/reports_internal.h"
#include "api/scim_api.h"
#include "model/scim_model.h"

#define REPORTS_MAX_SEGS 8

typedef struct rq {
        struct MHD_Connection *c;
        scim_store_t *st;
        scim_ingest_t *ing;
        int tls;
        const char *request_id;
        char tenant[SCIM_MAX_TENANT_LEN + 8];
        char token_id[64];
        int reports_only;
        json_t *params; /* lower-cased query parameters */
        scim_reports_write_t *wr; /* saved-report writes without waiting */
        const char *endpoint;     /* asOf: the type's endpoint ("/Users") */
        const char *host;         /* the Host header, for locations */
        struct asof_job *cap;     /* on a report worker: the answer goes
                                     here, not to the connection */
        scim_deadline_t *dl;      /* a point-in-time read's time limit */
} rq_t;

/*
 * A point-in-time read on a report worker. Made on the pool thread with
 * copies of what the read needs (the request's strings die with the
 * handler's frame), run by the worker, and answered by a pool thread
 * after the resume (scim_reports_answer_write). Owned by the request's
 * scim_reports_write_t (wr->job) from submit until that answer frees it.
 */
typedef struct asof_job {
        scim_report_job_t job; /* first: the queue's view */
        scim_store_t *st;
        scim_reports_write_t *wr; /* resumes through wr->cb */
        int tls;
        scim_rtype_t rt;
        int one;                 /* one resource (id), else a list */
        char id[SCIM_MAX_ID_LEN + 1];
        char *endpoint, *host, *request_id;
        json_t *params;
        /* the answer */
        unsigned status;
        const char *ctype;
        char *body;
        size_t len;
} asof_job_t;

static void asof_job_free(asof_job_t *j);

static int g_def_write_busy; /* a blocking saved-report write is waiting
                               (atomic; only when no wr is given) */

/* ------------------------------------------------------ responses */

static enum MHD_Result send_body(rq_t *r, unsigned status, const char *ctype,
                                 const char *body, size_t len,
                                 const char *next_cursor)
{
        if (r->cap) { /* a report worker: kept for the pool thread */
                asof_job_t *j = r->cap;

                free(j->body);
                j->body = malloc(len + 1);
                if (!j->body) {
                        j->status = 0; /* answered 503 */
                        return MHD_YES;
                }
                memcpy(j->body, body, len);
                j->body[len] = '\0';
                j->len = len;
                j->status = status;
                j->ctype = ctype; /* string literals only */
                return MHD_YES;
        }
        return scim_answer(r->c, status, ctype, body, len, r->request_id,
                           "X-Next-Cursor", next_cursor);
}

static enum MHD_Result send_json(rq_t *r, unsigned status, const json_t *j)
{
        char *txt = scim_json_dumps(j);
        enum MHD_Result rc;

        if (!txt)
                return send_body(r, 500, "application/json", "{}", 2, NULL);
        rc = send_body(r, status, "application/json; charset=utf-8", txt,
                       strlen(txt), NULL);
        free(txt);
        return rc;
}

static enum MHD_Result send_err(rq_t *r, const scim_err_t *e)
{
        char *txt = scim_error_body(e);
        enum MHD_Result rc;
        int status = e->status ? e->status : 500;

        rc = send_body(r, (unsigned)status,
                       "application/scim+json; charset=utf-8", txt ? txt : "{}",
                       txt ? strlen(txt) : 2, NULL);
        free(txt);
        return rc;
}

static enum MHD_Result fail(rq_t *r, int status, const char *type,
                            const char *detail)
{
        scim_err_t e;

        scim_err_clear(&e);
        scim_err_set(&e, status, type, "%s", detail);
        return send_err(r, &e);
}

/* ------------------------------------------------------- helpers */

static const char *param(rq_t *r, const char *k)
{
        return json_string_value(json_object_get(r->params, k));
}

static int wants_csv(rq_t *r, const char *default_format)
{
        const char *f = param(r, "format");
        const char *acc;

        if (f)
                return scim_strcaseeq(f, "csv");
        acc = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, "Accept");
        if (acc && strcasestr(acc, "text/csv"))
                return 1;
        return default_format && !strcmp(default_format, "csv");
}

/* Keeps only the named columns of each record (JSON output of a saved
 * report with columns). */
static void project_columns(json_t *records, const json_t *columns)
{
        size_t i, j;
        json_t *r, *c;

        if (!json_array_size(columns))
                return;
        json_array_foreach(records, i, r)
        {
                json_t *n = json_object();

                json_array_foreach(columns, j, c)
                {
                        const char *k = json_string_value(c);
                        json_t *v = k ? json_object_get(r, k) : NULL;

                        if (k)
                                json_object_set(n, k, v ? v : json_null());
                }
                json_array_set_new(records, i, n);
        }
}

/* Runs a change query from params and answers it (JSON or CSV). */
static enum MHD_Result answer_changes(rq_t *r, json_t *params,
                                      const char *resource, int default_desc,
                                      const json_t *columns,
                                      const char *default_format)
{
        scim_change_query_t q;
        scim_buf_t cur = {0}, next = {0}, next64 = {0}, csv = {0};
        json_t *recs = NULL, *o = NULL;
        scim_err_t e;
        enum MHD_Result rc;

        scim_err_clear(&e);
        if (scim_reports_parse_query(params, scim_now_ms(), 1, &q, &cur, &e) <
            0) {
                rc = send_err(r, &e);
                goto out;
        }
        if (resource)
                q.resource = resource;
        if (q.desc < 0)
                q.desc = default_desc;
        if (scim_changes_query(r->st, r->tenant, &q, &recs, &next, &e) < 0) {
                rc = send_err(r, &e);
                goto out;
        }
        if (next.len)
                scim_b64url_encode((const unsigned char *)next.data, next.len,
                                   &next64);
        if (wants_csv(r, default_format)) {
                scim_reports_csv(recs, columns, &csv);
                rc = send_body(r, 200, "text/csv; charset=utf-8",
                               csv.data ? csv.data : "", csv.len,
                               next64.len ? next64.data : NULL);
                goto out;
        }
        project_columns(recs, columns);
        o = json_object();
        if (resource)
                json_object_set_new(o, "resource", json_string(resource));
        json_object_set_new(o, "count",
                            json_integer((json_int_t)json_array_size(recs)));
        json_object_set_new(o, "changes", recs);
        recs = NULL;
        json_object_set_new(o, "nextCursor",
                            next64.len ? json_string(next64.data)
                                       : json_null());
        { /* what history the answer covers (retain.c) */
                scim_changes_horizon_t h;
                char ts[32];

                scim_changes_horizon(r->st, r->tenant, &h);
                if (h.through_ms)
                        scim_time_format(h.through_ms, ts);
                json_object_set_new(o, "retainedFrom",
                                    h.through_ms ? json_string(ts)
                                                 : json_null());
        }
        rc = send_json(r, 200, o);
out:
        json_decref(recs);
        json_decref(o);
        scim_buf_free(&cur);
        scim_buf_free(&next);
        scim_buf_free(&next64);
        scim_buf_free(&csv);
        return rc;
}

static enum MHD_Result change_detail(rq_t *r, const char *seqs)
{
        char *end;
        unsigned long long seq = strtoull(seqs, &end, 10);
        json_t *rec = NULL;
        scim_err_t e;
        enum MHD_Result rc;

        if (!*seqs || *end || seqs[0] == '-')
                return fail(r, 400, "invalidValue",
                            "a change is named by its sequence number");
        scim_err_clear(&e);
        if (scim_changes_get(r->st, r->tenant, (uint64_t)seq, &rec, &e) < 0)
                return send_err(r, &e);
        rc = send_json(r, 200, rec);
        json_decref(rec);
        return rc;
}

/* The parameters a point-in-time read takes (lower-cased, as r->params
 * holds them), and how its refusal says so. */
typedef struct as_of_takes {
        const char *const names[5];
        const char *says;
} as_of_takes_t;

static const as_of_takes_t as_of_list_takes = {
    {"asof", "filter", "startindex", "count", NULL},
    "a point-in-time list takes asOf, filter, startIndex and count"};
static const as_of_takes_t as_of_one_takes = {
    {"asof", NULL}, "a point-in-time read takes asOf"};

/* The asOf parameter as ms; -1 after answering 400 (also for a parameter
 * the read does not take, as the changes endpoint refuses one). */
static int as_of_param(rq_t *r, const as_of_takes_t *takes, int64_t *ms,
                       enum MHD_Result *rc)
{
        const char *t = param(r, "asof"), *k;
        json_t *v;

        json_object_foreach(r->params, k, v)
        {
                if (!scim_reports_in_set(takes->names, k, 0)) {
                        char d[200];

                        snprintf(d, sizeof(d), "unknown parameter '%.64s': %s",
                                 k, takes->says);
                        *rc = fail(r, 400, "invalidValue", d);
                        return -1;
                }
        }
        if (!t || !*t) {
                *rc = fail(r, 400, "invalidValue",
                           "asOf=TIME is required (RFC 3339 or ms)");
                return -1;
        }
        if (scim_reports_parse_time(t, scim_now_ms(), ms) < 0) {
                *rc = fail(r, 400, "invalidValue",
                           "asOf: not a dateTime or ms since the epoch");
                return -1;
        }
        return 0;
}

/* The answer to a point-in-time read its deadline stopped (e came back
 * from asOf with dl passed): 400 tooMany naming the limit, its value and
 * what to do; logged as a server event (one line per stopped read: at
 * most one per report worker at a time). */
static enum MHD_Result over_limit(rq_t *r, int list, scim_err_t *e)
{
        unsigned ms = r->dl ? r->dl->limit_ms : 0;

        scim_event("warn", "report_over_limit",
                   "tenant %s: point-in-time read stopped at its time limit "
                   "of %u ms (--report-ms; request %s)",
                   r->tenant, ms, r->request_id ? r->request_id : "-");
        scim_err_clear(e);
        scim_err_set(e, 400, "tooMany",
                     "this point-in-time read went over its time limit of "
                     "%u ms (serve --report-ms; time waiting for a report "
                     "worker does not count) and was stopped. Its cost "
                     "grows with the %s history, not with asOf: an earlier "
                     "or later asOf does not help. %s, or ask the operator "
                     "to raise --report-ms",
                     ms, list ? "tenant's" : "resource's",
                     list ? "Narrow the filter (eq on a value; for Groups, "
                            "members.value eq \"ID\" uses an index)"
                          : "Page through its changes instead "
                            "(/reports/v1/{tenant}/resources/{id}/history)");
        return send_err(r, e);
}

/* meta.location of a resource rebuilt as of a time: its live URL. */
static void set_location(rq_t *r, scim_rtype_t rt, json_t *res)
{
        const char *host = r->host;
        char loc[1024];

        snprintf(loc, sizeof(loc), "%s://%s/scim/v2/%s/%s/%s",
                 r->tls ? "https" : "http", host ? host : "localhost",
                 r->tenant,
                 r->endpoint ? r->endpoint + 1
                 : rt == SCIM_RT_USER ? "Users"
                                      : "Groups",
                 json_string_value(json_object_get(res, "id"))
                     ? json_string_value(json_object_get(res, "id"))
                     : "");
        json_object_set_new(json_object_get(res, "meta"), "location",
                            json_string(loc));
}

static enum MHD_Result send_scim(rq_t *r, json_t *o)
{
        char *txt = scim_json_dumps(o);
        enum MHD_Result rc =
            txt ? send_body(r, 200, "application/scim+json; charset=utf-8",
                            txt, strlen(txt), NULL)
                : fail(r, 500, NULL, "out of memory");

        free(txt);
        return rc;
}

/* GET /reports/v1/{t}/Users|Groups?asOf=TIME[&filter=F][&startIndex=N]
 * [&count=N]: the tenant's resources as they were, as a ListResponse. */
static enum MHD_Result as_of_list(rq_t *r, scim_rtype_t rt)
{
        const char *f = param(r, "filter");
        const char *si = param(r, "startindex"), *cn = param(r, "count");
        scim_filter_t *filter = NULL;
        long long start = 1, count = 100;
        int64_t ms;
        size_t total = 0, i;
        json_t *items = NULL, *o, *it;
        scim_err_t e;
        char *end;
        enum MHD_Result rc;

        if (as_of_param(r, &as_of_list_takes, &ms, &rc) < 0)
                return rc;
        if (si && (start = strtoll(si, &end, 10), !*si || *end || start < 1))
                return fail(r, 400, "invalidValue",
                            "startIndex is a number from 1");
        if (cn && (count = strtoll(cn, &end, 10),
                   !*cn || *end || count < 0 || count > 1000))
                return fail(r, 400, "invalidValue",
                            "count is a number from 0 to 1000");
        scim_err_clear(&e);
        if (f && *f && scim_filter_parse(rt, f, &filter, &e) < 0)
                return send_err(r, &e);
        if (scim_changes_list_as_of(r->st, r->tenant, rt, ms, filter,
                                    (size_t)start, (size_t)count, r->dl, &total,
                                    &items, &e) < 0) {
                scim_filter_free(filter);
                json_decref(items);
                if (scim_deadline_passed(r->dl))
                        return over_limit(r, 1, &e);
                return send_err(r, &e);
        }
        scim_filter_free(filter);
        json_array_foreach(items, i, it) set_location(r, rt, it);
        o = json_pack("{s:[s], s:I, s:I, s:I, s:o, s:s}", "schemas",
                      "urn:ietf:params:scim:api:messages:2.0:ListResponse",
                      "totalResults", (json_int_t)total, "startIndex",
                      (json_int_t)start, "itemsPerPage",
                      (json_int_t)json_array_size(items), "Resources", items,
                      "asOf", param(r, "asof"));
        rc = send_scim(r, o);
        json_decref(o);
        return rc;
}

static enum MHD_Result as_of(rq_t *r, scim_rtype_t rt, const char *id)
{
        int64_t ms;
        json_t *res = NULL;
        scim_err_t e;
        enum MHD_Result rc;

        if (as_of_param(r, &as_of_one_takes, &ms, &rc) < 0)
                return rc;
        scim_err_clear(&e);
        if (scim_changes_as_of(r->st, r->tenant, rt, id, ms, r->dl, &res, &e) <
            0)
                return scim_deadline_passed(r->dl) ? over_limit(r, 0, &e)
                                                   : send_err(r, &e);
        set_location(r, rt, res);
        rc = send_scim(r, res);
        json_decref(res);
        return rc;
}

static enum MHD_Result summary(rq_t *r)
{
        const char *b = param(r, "bucket");
        const char *f = param(r, "from"), *t = param(r, "to");
        int64_t now = scim_now_ms(), from, to;
        int hours = 1;
        json_t *out = NULL;
        scim_err_t e;
        enum MHD_Result rc;

        if (b && scim_strcaseeq(b, "day"))
                hours = 24;
        else if (b && !scim_strcaseeq(b, "hour"))
                return fail(r, 400, "invalidValue", "bucket: hour or day");
        to = now + 1;
        if (t && *t && scim_reports_parse_time(t, now, &to) < 0)
                return fail(r, 400, "invalidValue", "to: not a time");
        from = to - 7 * 86400000LL;
        if (f && *f && scim_reports_parse_time(f, now, &from) < 0)
                return fail(r, 400, "invalidValue", "from: not a time");
        if (from >= to)
                return fail(r, 400, "invalidValue", "from must be before to");
        if (to - from > SCIM_CHANGES_MAX_SUMMARY_DAYS * 86400000LL)
                return fail(r, 400, "invalidValue",
                            "a summary covers at most 400 days");
        scim_err_clear(&e);
        if (scim_changes_summary(r->st, r->tenant, from, to, hours, &out, &e) <
            0)
                return send_err(r, &e);
        rc = send_json(r, 200, out);
        json_decref(out);
        return rc;
}

/* ------------------------------------------------- saved reports */

static int name_ok(const char *n)
{
        size_t l = strlen(n);

        if (l == 0 || l > 64)
                return 0;
        for (size_t i = 0; i < l; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                            "VWXYZ0123456789._-",
                            n[i]))
                        return 0;
        return 1;
}

/* Submits a saved-report save/delete without waiting for its commit:
 * the connection is suspended first (the verdict may arrive before the
 * submit returns) and resumed by wr->cb; scim_reports_answer_write then
 * answers. */
static enum MHD_Result def_submit(rq_t *r, int action, const char *name,
                                  const char *txt)
{
        scim_reports_write_t *wr = r->wr;
        scim_write_result_t now;

        wr->action = action;
        snprintf(wr->tenant, sizeof(wr->tenant), "%s", r->tenant);
        snprintf(wr->name, sizeof(wr->name), "%s", name);
        MHD_suspend_connection(r->c);
        if (scim_ingest_report_def_submit(r->ing, (scim_action_t)action,
                                          r->tenant, r->token_id,
                                          r->request_id, name, txt, wr->cb,
                                          wr->cb_ctx, &now) == 0)
                wr->cb(wr->cb_ctx, &now); /* stores it, resumes */
        wr->submitted = 1;
        return MHD_YES;
}

enum MHD_Result scim_reports_answer_write(struct MHD_Connection *c,
                                          scim_store_t *st,
                                          scim_reports_write_t *wr,
                                          scim_write_result_t *res,
                                          const char *request_id)
{
        rq_t r;
        json_t *stored = NULL;
        scim_err_t e;
        enum MHD_Result rc;

        memset(&r, 0, sizeof(r));
        r.c = c;
        r.st = st;
        r.request_id = request_id;
        json_decref(res->resource);
        res->resource = NULL;
        if (wr->job) { /* a point-in-time read a worker answered */
                asof_job_t *j = wr->job;

                if (j->job.refused)
                        rc = fail(&r, 503, NULL,
                                  "the server is shutting down; retry on "
                                  "another node or after restart");
                else if (!j->status)
                        rc = fail(&r, 503, NULL, "out of memory");
                else
                        rc = send_body(&r, j->status, j->ctype, j->body,
                                       j->len, NULL);
                wr->job = NULL;
                asof_job_free(j);
                return rc;
        }
        if (res->status >= 400 || res->status == 0)
                return send_err(&r, &res->err);
        if (wr->action == SCIM_ACT_REPORT_DELETE)
                return send_body(&r, 204, "application/json", "", 0, NULL);
        scim_err_clear(&e);
        if (scim_reports_saved_get(st, wr->tenant, wr->name, &stored, &e) < 0)
                return send_err(&r, &e);
        rc = send_json(&r, (unsigned)res->status, stored);
        json_decref(stored);
        return rc;
}

static enum MHD_Result saved_put(rq_t *r, const char *name, const char *body,
                                 size_t body_len)
{
        json_t *def = NULL, *norm = NULL, *stored = NULL;
        scim_err_t e;
        char *txt = NULL;
        int status = 0;
        enum MHD_Result rc;

        scim_err_clear(&e);
        if (!body || !body_len) {
                rc = fail(r, 400, "invalidSyntax", "request body is empty");
                goto out;
        }
        if (scim_json_parse(body, body_len, &def, &e) < 0 ||
            scim_reports_check_definition(def, &norm, &e) < 0) {
                rc = send_err(r, &e);
                goto out;
        }
        if (json_is_string(json_object_get(def, "name")) &&
            strcmp(json_string_value(json_object_get(def, "name")), name)) {
                rc = fail(r, 400, "invalidValue",
                          "name in the body differs from the URL");
                goto out;
        }
        if (scim_reports_saved_room(r->st, r->tenant, name, &e) < 0) {
                rc = send_err(r, &e);
                goto out;
        }
        txt = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS);
        if (txt && r->wr) {
                rc = def_submit(r, SCIM_ACT_REPORT_SAVE, name, txt);
                goto out;
        }
        if (!txt || scim_ingest_report_def(
                        r->ing, SCIM_ACT_REPORT_SAVE, r->tenant, r->token_id,
                        r->request_id, name, txt, &status, &e) < 0) {
                rc = send_err(r, &e);
                goto out;
        }
        if (scim_reports_saved_get(r->st, r->tenant, name, &stored, &e) < 0) {
                rc = send_err(r, &e);
                goto out;
        }
        rc = send_json(r, (unsigned)status, stored);
out:
        free(txt);
        json_decref(def);
        json_decref(norm);
        json_decref(stored);
        return rc;
}

static enum MHD_Result saved(rq_t *r, const char *method, char **seg, int n,
                             const char *body, size_t body_len)
{
        json_t *def = NULL, *list = NULL, *params = NULL, *o;
        scim_err_t e;
        enum MHD_Result rc;
        const char *name = n >= 5 ? seg[4] : NULL;
        int status = 0;

        scim_err_clear(&e);
        if (name && !name_ok(name))
                return fail(r, 404, NULL, "no such saved report");
        if (n == 4) {
                if (strcmp(method, "GET"))
                        return fail(r, 405, NULL, "GET lists saved reports");
                scim_reports_saved_list(r->st, r->tenant, &list, &e);
                o = json_pack("{s:o}", "reports", list);
                rc = send_json(r, 200, o);
                json_decref(o);
                return rc;
        }
        if (n == 6) {
                const char *k;
                json_t *v;

                if (strcasecmp(seg[5], "run"))
                        return fail(r, 404, NULL, "no such endpoint");
                if (strcmp(method, "GET"))
                        return fail(r, 405, NULL, "GET runs a saved report");
                if (scim_reports_saved_get(r->st, r->tenant, name, &def, &e) <
                    0)
                        return send_err(r, &e);
                /* the saved filter, then paging/format from the URL */
                params = json_object();
                json_object_foreach(json_object_get(def, "filter"), k, v)
                {
                        char lower[32];
                        size_t l = strlen(k);

                        if (l >= sizeof(lower))
                                continue;
                        for (size_t i = 0; i <= l; i++)
                                lower[i] = (char)((k[i] >= 'A' && k[i] <= 'Z')
                                                      ? k[i] + 32
                                                      : k[i]);
                        json_object_set(params, lower, v);
                }
                json_object_foreach(r->params, k, v)
                {
                        if (!strcmp(k, "count") || !strcmp(k, "cursor") ||
                            !strcmp(k, "format") || !strcmp(k, "order"))
                                json_object_set(params, k, v);
                }
                rc = answer_changes(
                    r, params, NULL, 1, json_object_get(def, "columns"),
                    json_string_value(json_object_get(def, "format")));
                json_decref(params);
                json_decref(def);
                return rc;
        }
        if (n != 5)
                return fail(r, 404, NULL, "no such endpoint");
        if (!strcmp(method, "GET")) {
                if (scim_reports_saved_get(r->st, r->tenant, name, &def, &e) <
                    0)
                        return send_err(r, &e);
                rc = send_json(r, 200, def);
                json_decref(def);
                return rc;
        }
        if (strcmp(method, "PUT") && strcmp(method, "DELETE"))
                return fail(r, 405, NULL, "GET, PUT or DELETE a saved report");
        if (r->reports_only)
                return fail(r, 403, NULL,
                            "a report-only token cannot change saved "
                            "reports");
        if (r->wr) { /* answered after the commit, no thread waits */
                if (!strcmp(method, "PUT"))
                        return saved_put(r, name, body, body_len);
                return def_submit(r, SCIM_ACT_REPORT_DELETE, name, NULL);
        }
        /* without wr a saved-report write waits for its commit on this
         * pool thread: one at a time server-wide, so such writes (of any
         * tenant) can never hold more than one pool thread */
        if (__atomic_exchange_n(&g_def_write_busy, 1, __ATOMIC_ACQUIRE)) {
                scim_err_set_retry(&e, 429,
                                   "another saved report is being written; "
                                   "retry");
                return send_err(r, &e);
        }
        if (!strcmp(method, "PUT")) {
                rc = saved_put(r, name, body, body_len);
        } else if (scim_ingest_report_def(r->ing, SCIM_ACT_REPORT_DELETE,
                                          r->tenant, r->token_id,
                                          r->request_id, name, NULL, &status,
                                          &e) < 0) {
                rc = send_err(r, &e);
        } else {
                rc = send_body(r, 204, "application/json", "", 0, NULL);
        }
        __atomic_store_n(&g_def_write_busy, 0, __ATOMIC_RELEASE);
        return rc;
}

/* ------------------------------------------------- report workers */

static void asof_job_free(asof_job_t *j)
{
        if (!j)
                return;
        free(j->endpoint);
        free(j->host);
        free(j->request_id);
        json_decref(j->params);
        free(j->body);
        free(j);
}

void scim_reports_write_release(scim_reports_write_t *wr)
{
        if (wr && wr->job) {
                asof_job_free(wr->job);
                wr->job = NULL;
        }
}

/* Report worker: the read, its answer captured in j. */
static void asof_job_run(scim_report_job_t *job)
{
        asof_job_t *j = (asof_job_t *)job;
        rq_t r;

        memset(&r, 0, sizeof(r));
        r.st = j->st;
        r.tls = j->tls;
        r.request_id = j->request_id;
        snprintf(r.tenant, sizeof(r.tenant), "%s", j->job.tenant);
        r.params = j->params;
        r.endpoint = j->endpoint;
        r.host = j->host;
        r.cap = j;
        r.dl = &j->job.deadline; /* started by the worker */
        if (j->one)
                as_of(&r, j->rt, j->id);
        else
                as_of_list(&r, j->rt);
}

/* Report worker, after the run (or instead of it when stopping): resumes
 * the connection through the request's write callback; the pool thread
 * then calls scim_reports_answer_write, which sends and frees j. */
static void asof_job_finish(scim_report_job_t *job)
{
        asof_job_t *j = (asof_job_t *)job;
        scim_write_result_t none;

        memset(&none, 0, sizeof(none));
        none.status = 200; /* not a write: the answer is j's */
        j->wr->cb(j->wr->cb_ctx, &none);
}

/* Suspends the connection and queues the read on a report worker (r->wr
 * with its worker pool). 429 when there is no room: the tenant already
 * has its places, or every worker and queue place is taken. */
static enum MHD_Result asof_submit(rq_t *r, scim_rtype_t rt, const char *id)
{
        asof_job_t *j = calloc(1, sizeof(*j));
        scim_err_t e;

        if (j) {
                j->st = r->st;
                j->wr = r->wr;
                j->tls = r->tls;
                j->rt = rt;
                j->one = id != NULL;
                if (id)
                        snprintf(j->id, sizeof(j->id), "%s", id);
                snprintf(j->job.tenant, sizeof(j->job.tenant), "%s",
                         r->tenant);
                j->job.run = asof_job_run;
                j->job.finish = asof_job_finish;
                j->endpoint = r->endpoint ? strdup(r->endpoint) : NULL;
                j->host = strdup(r->host ? r->host : "localhost");
                j->request_id = strdup(r->request_id ? r->request_id : "");
                j->params = json_incref(r->params);
        }
        if (!j || !j->host || !j->request_id ||
            (r->endpoint && !j->endpoint)) {
                asof_job_free(j);
                return fail(r, 503, NULL, "out of memory");
        }
        /* suspend first: a free worker may finish before submit returns */
        MHD_suspend_connection(r->c);
        if (scim_report_jobs_submit(r->wr->jobs, &j->job) < 0) {
                MHD_resume_connection(r->c);
                asof_job_free(j);
                scim_report_jobs_stats_t js;

                scim_report_jobs_stats(r->wr->jobs, &js);
                scim_err_clear(&e);
                scim_err_set_retry(&e, 429,
                                   "too many point-in-time reports in "
                                   "progress: a tenant may have %u running "
                                   "or waiting, the server runs %u at a "
                                   "time with %u more waiting; retry",
                                   js.per_tenant, js.threads, js.queue_max);
                return send_err(r, &e);
        }
        r->wr->job = j;
        r->wr->submitted = 1;
        return MHD_YES;
}

/* ------------------------------------------------------- routing */

int scim_reports_match(const char *url)
{
        return url && (!strncasecmp(url, "/reports/", 9) ||
                       !strcasecmp(url, "/reports"));
}

enum MHD_Result scim_reports_handle(struct MHD_Connection *c, scim_store_t *st,
                                    scim_ingest_t *ing, int tls,
                                    const char *url, const char *method,
                                    const char *raw_uri, const char *body,
                                    size_t body_len, const char *request_id,
                                    scim_reports_write_t *wr)
{
        rq_t r;
        char path[1024], *seg[REPORTS_MAX_SEGS + 1], *save = NULL, *tok;
        int n = 0;
        scim_model_t *model = NULL;
        const scim_rtype_row_t *row;
        const char *auth, *raw_q;
        scim_err_t e;
        enum MHD_Result rc;

        memset(&r, 0, sizeof(r));
        r.c = c;
        r.st = st;
        r.ing = ing;
        r.tls = tls;
        r.request_id = request_id;
        r.wr = wr;
        r.host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        if (strlen(url) >= sizeof(path))
                return fail(&r, 404, NULL, "no such endpoint");
        snprintf(path, sizeof(path), "%s", url);
        for (tok = strtok_r(path, "/", &save); tok;
             tok = strtok_r(NULL, "/", &save)) {
                if (n == REPORTS_MAX_SEGS)
                        return fail(&r, 404, NULL, "no such endpoint");
                seg[n++] = tok;
        }
        if (n < 4 || strcasecmp(seg[0], "reports") || strcmp(seg[1], "v1"))
                return fail(&r, 404, NULL,
                            "no such endpoint; the reports base URL is "
                            "/reports/v1/{tenant}/");
        auth = scim_http_bearer(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
        {
                int scope = SCIM_SCOPE_ALL;

                scim_err_clear(&e);
                if (!auth)
                        scim_err_set(&e, 401, NULL,
                                     "missing bearer token (Authorization: "
                                     "Bearer <secret>)");
                else if (!scim_store_auth_scope(st, auth, r.tenant,
                                                sizeof(r.tenant), r.token_id,
                                                sizeof(r.token_id), &scope) ||
                         strcmp(r.tenant, seg[2]) != 0)
                        scim_err_set(&e, 401, NULL,
                                     "the bearer token is not valid for this "
                                     "tenant");
                else if (scope == SCIM_SCOPE_DISABLED)
                        scim_err_set(&e, 403, NULL,
                                     "tenant '%.64s' is disabled; its data "
                                     "is kept, and an operator can enable it "
                                     "again",
                                     r.tenant);
                if (e.status) { /* refused: recorded (api/audit.c) */
                        if (e.status == 401 && auth)
                                scim_audit_bad_token(ing, st, seg[2], auth,
                                                     request_id, "ACCESS", &e);
                        else
                                scim_audit_refusal(ing, st, seg[2],
                                                   e.status == 401 ? "anonymous"
                                                                   : r.token_id,
                                                   request_id, "ACCESS", &e);
                        return send_err(&r, &e);
                }
                r.reports_only = scope == SCIM_SCOPE_REPORTS;
        }
        raw_q = raw_uri ? strchr(raw_uri, '?') : NULL;
        scim_err_clear(&e);
        if (scim_query_parse(raw_q ? raw_q + 1 : "", &r.params, &e) < 0)
                return send_err(&r, &e);

        if (!strcasecmp(seg[3], "saved")) {
                rc = saved(&r, method, seg, n, body, body_len);
                goto out;
        }
        if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
                rc = fail(&r, 405, NULL, "reports are read-only");
                goto out;
        }
        if (!strcasecmp(seg[3], "changes") && n == 4)
                rc = answer_changes(&r, r.params, NULL, 1, NULL, NULL);
        else if (!strcasecmp(seg[3], "changes") && n == 5)
                rc = change_detail(&r, seg[4]);
        else if (!strcasecmp(seg[3], "resources") && n == 6 &&
                 !strcasecmp(seg[5], "history")) {
                if (strlen(seg[4]) > SCIM_MAX_ID_LEN ||
                    !scim_changes_resource_known(st, r.tenant, seg[4]))
                        rc = fail(&r, 404, NULL,
                                  "no change record for that resource");
                else
                        rc =
                            answer_changes(&r, r.params, seg[4], 0, NULL, NULL);
        } else if ((n == 4 || n == 5) &&
                   ((row = scim_model_rtype_by_endpoint(
                         (model = scim_store_model(st, r.tenant)), seg[3])) ||
                    (row = scim_model_rtype_by_name(model, seg[3])))) {
                /* by endpoint (Roles) or by type name (Role: what change
                 * records call it) */
                /* a type of the tenant's table: built in or its own */
                r.endpoint = row->endpoint;
                if (wr && wr->jobs) { /* seconds of work: a report worker */
                        rc = asof_submit(&r, row->code,
                                         n == 5 ? seg[4] : NULL);
                } else { /* here, with the same limit */
                        scim_deadline_t dl;

                        scim_deadline_start(&dl, SCIM_REPORT_MS_DEFAULT);
                        r.dl = &dl;
                        rc = n == 4 ? as_of_list(&r, row->code)
                                    : as_of(&r, row->code, seg[4]);
                        r.dl = NULL;
                }
        } else if (!strcasecmp(seg[3], "summary") && n == 4)
                rc = summary(&r);
        else
                rc = fail(&r, 404, NULL, "no such reports endpoint");
out:
        scim_model_unref(model);
        json_decref(r.params);
        return rc;
}
