/*
 * reports_internal.h — the reports API (/reports/v1/{tenant}/...) as seen by
 * http.c, and its parsers (shared with the unit test and fuzz target). Not
 * part of the public face. Contract: docs/reports-api.md.
 */
#ifndef SCIM_REPORTS_INTERNAL_H
#define SCIM_REPORTS_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>

#include "ingest/scim_ingest.h"
#include "projector/scim_projector.h"

#define SCIM_REPORTS_MAX_PARAM 1024 /* bytes of one filter value */

/* 1 if url is under /reports/ (http.c's hook). */
int scim_reports_match(const char *url);

/*
 * A saved-report save or delete in flight. http.c owns it (in its request
 * state) and sets cb/cb_ctx: cb stores the verdict and resumes the
 * connection. scim_reports_handle suspends the connection, submits, fills
 * the rest and sets submitted; after the resume http.c calls
 * scim_reports_answer_write with the verdict. No pool thread waits for
 * the commit.
 */
typedef struct scim_reports_write {
        scim_write_cb cb;
        void *cb_ctx;
        int submitted; /* out: the answer comes after the resume */
        int action;    /* SCIM_ACT_REPORT_SAVE / _DELETE */
        char tenant[SCIM_MAX_TENANT_LEN + 8];
        char name[72];
        /* point-in-time reads: with jobs set (http.c, api/report_jobs.c)
         * they run on a report worker, the connection suspended; job is
         * the read in flight (reports.c's), answered and freed by
         * scim_reports_answer_write after cb resumed the connection */
        struct scim_report_jobs *jobs;
        struct asof_job *job;
} scim_reports_write_t;

/*
 * Answers one request under /reports/v1/. Runs on an http pool thread;
 * reads go to the store directly; a saved-report save or delete is
 * submitted without waiting (see scim_reports_write_t; wr may be NULL,
 * then it waits for its group commit). body/raw_uri are borrowed.
 */
enum MHD_Result scim_reports_handle(struct MHD_Connection *c, scim_store_t *st,
                                    scim_ingest_t *ing, int tls,
                                    const char *url, const char *method,
                                    const char *raw_uri, const char *body,
                                    size_t body_len, const char *request_id,
                                    scim_reports_write_t *wr);

/* The answer to a submitted saved-report write once its verdict is in,
 * or to a point-in-time read a report worker finished (pool thread, after
 * the resume). Releases res->resource and the read (wr->job). */
enum MHD_Result scim_reports_answer_write(struct MHD_Connection *c,
                                          scim_store_t *st,
                                          scim_reports_write_t *wr,
                                          scim_write_result_t *res,
                                          const char *request_id);

/* Frees the point-in-time read wr still holds when its connection ended
 * before the answer went out (the client left while the read ran or
 * waited): http.c's request-completed callback, after the read finished
 * (a read's connection stays suspended until then). NULL-safe. */
void scim_reports_write_release(scim_reports_write_t *wr);

/*
 * Turns request parameters (object of lower-cased names -> string values,
 * as scim_query_parse makes them) into a change query. Pointers in *q
 * borrow from params and *cursor (which receives the decoded cursor bytes;
 * caller frees). now_ms anchors relative times ("-7d"). strict: unknown
 * parameter names are an error (saved report filters). Bad values -> -1
 * with err 400 invalidValue.
 */
int scim_reports_parse_query(const json_t *params, int64_t now_ms, int strict,
                             scim_change_query_t *q, scim_buf_t *cursor,
                             scim_err_t *err);

/* A time parameter: RFC 3339, integer ms since the epoch, or relative to
 * now_ms as -N followed by m, h or d. Returns 0 or -1. */
int scim_reports_parse_time(const char *s, int64_t now_ms, int64_t *out);

/* base64url without padding. decode returns 0, or -1 on a bad character,
 * bad length or more than max bytes out. */
void scim_b64url_encode(const unsigned char *in, size_t n, scim_buf_t *out);
int scim_b64url_decode(const char *in, scim_buf_t *out, size_t max);

/* Appends one CSV cell: RFC 4180 quoting, and a leading ' when the text
 * starts with = + - @ TAB or CR (spreadsheet formula injection). */
void scim_csv_cell(scim_buf_t *out, const char *s);

/* 1 when s is one of the NULL-terminated set (ci: any case). */
int scim_reports_in_set(const char *const *set, const char *s, int ci);

/* Known CSV / saved report column names, NULL-terminated. */
extern const char *const scim_reports_columns[];

/* Appends change records as CSV (header + rows) with the given columns
 * (array of names; NULL = all). */
void scim_reports_csv(const json_t *records, const json_t *columns,
                      scim_buf_t *out);

/* Checks a saved report definition and returns its normalised form (new
 * reference): {"description"?, "filter":{..strings..}, "columns"?: [..],
 * "format": "json"|"csv"}. Bad -> -1 with err 400 invalidValue. */
int scim_reports_check_definition(const json_t *def, json_t **out,
                                  scim_err_t *err);

#endif
