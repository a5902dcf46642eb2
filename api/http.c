/*
 * http.c — the HTTP face: libmicrohttpd daemon, per-request context,
 * bearer auth, tenant routing and the SCIM endpoints.
 *
 * Threads: libmicrohttpd's pool threads run the access handler. A write
 * suspends its connection before handing the request to ingest; the
 * ingest committer thread stores the verdict in the request context and
 * resumes the connection, and a pool thread then sends the answer. No pool
 * thread ever waits for the disk. ctx->mu guards the verdict hand-over.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <linux/filter.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/audit_internal.h"
#include "api/oauth_internal.h"
#include "log/scim_log.h"
#include "api/model_api_internal.h"
#include "model/scim_model.h"
#include "api/admin_internal.h"
#include "api/conn_guard_internal.h"
#include "api/inflight_internal.h"
#include "api/metrics_internal.h"
#include "api/ratelimit_internal.h"
#include "api/http_internal.h"
#include "api/report_jobs.h"
#include "api/reports_internal.h"
#include "api/scim_api.h"
#include "api/stream_internal.h"

#define SCAN_SLOTS 64     /* tenants scanning at once (server-wide) */
#define SCANS_PER_TENANT 1 /* unindexed scans one tenant may run at once */

struct scim_api {
        struct MHD_Daemon *d;
        scim_store_t *st;
        scim_ingest_t *ing;
        size_t max_body;
        int tls;
        int port;
        int access_log;
        char *cert, *key;
        scim_stream_hub_t *stream; /* change stream waiters (api/stream.c) */
        unsigned conn_limit;
        scim_conn_guard_t *guard;  /* connection deadlines, shedding */
        scim_inflight_t *inflight; /* expensive requests per tenant */
        scim_ratelimit_t *rate;    /* per-tenant token buckets */
        scim_routes_t *routes;     /* mounts, host suffix, trusted proxies */
        scim_metrics_t *metrics;   /* request counters for /metrics */
        char *metrics_token;       /* bearer /metrics wants, or NULL */
        char operator_hash[65];    /* SHA-256 hex of the operator token,
                                      "" when the admin API is off */
        char *jwt_master;          /* --jwt-key-file secret, or NULL */
        int64_t jwt_ttl;           /* seconds an issued JWT lives */
        double rate_per_s, rate_burst;
        unsigned drain_ms;         /* shutdown: longest wait for requests */
        size_t scan_limit;         /* unindexed filter: resources examined */
        unsigned scan_ms;          /* ... and milliseconds */
        pthread_mutex_t scan_mu;   /* unindexed scans running per tenant */
        struct scan_slot {
                char tenant[SCIM_MAX_TENANT_LEN + 1];
                unsigned n;
        } scans[SCAN_SLOTS];
        volatile int stopping;     /* new requests get 503 + close */
        scim_report_jobs_t *jobs;  /* point-in-time reads, off the pool */
};

typedef struct req {
        char *raw_uri;
        scim_buf_t body;
        int started, submitted, body_done;
        pthread_mutex_t mu;
        int done;
        scim_write_result_t result;
        struct MHD_Connection *conn;
        int close; /* answer with Connection: close (shutting down) */
        char request_id[72];
        /* set by route(): the tenant (exact), resource type and public
         * base URL, for the answer after a suspended write */
        char tenant[SCIM_MAX_TENANT_LEN + 8];
        scim_rtype_t rt;
        /* for /metrics: when parsing began, the answer sent by
         * send_text, the endpoint family and the method */
        struct timespec t0;
        unsigned status;
        size_t bytes;
        const char *endpoint;
        char method[8];
        char actor[64];  /* token id, once authenticated */
        char tmpl[160];  /* path template, e.g. /scim/v2/{tenant}/Users/{id} */
        /* the request headers the SCIM path reads, collected in one pass
         * over the header list when the request starts (first occurrence
         * of each, as MHD_lookup_connection_value answers; the strings
         * live in the connection's pool until the request completes) */
        struct req_headers {
                const char *host, *auth, *clen, *ctype, *xrid, *crid;
                const char *inm, *ifmatch, *xfproto, *xfhost, *xfprefix;
                const char *fwd;
        } h;
        scim_reports_write_t rw; /* a saved-report write in flight */
        const char *allow;       /* a 405's Allow header (RFC 9110 15.5.6) */
        /* last, and not cleared when the request starts (route() writes
         * it before anything reads it) */
        char base[1300];
} req_t;

/* ------------------------------------------------------- responses */

static enum MHD_Result send_text(struct MHD_Connection *c, req_t *r,
                                 unsigned status, const char *body, size_t len,
                                 const char *etag, const char *location,
                                 int retry)
{
        struct MHD_Response *resp = scim_resp_new(body, len);
        enum MHD_Result rc;

        if (!resp) { /* answer-byte budget spent by slow readers */
                status = 503;
                retry = 1;
                etag = location = NULL;
                resp = scim_resp_busy();
                if (!resp)
                        return MHD_NO;
        }
        if (r) {
                r->status = status;
                r->bytes = len;
        }
        MHD_add_response_header(resp, "Content-Type",
                                "application/scim+json; charset=utf-8");
        if (r && r->request_id[0])
                MHD_add_response_header(resp, "X-Request-Id", r->request_id);
        if (r && r->close)
                MHD_add_response_header(resp, "Connection", "close");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        if (etag)
                MHD_add_response_header(resp, "ETag", etag);
        if (location)
                MHD_add_response_header(resp, "Location", location);
        if (retry) {
                char ra[16];

                snprintf(ra, sizeof(ra), "%d", retry > 0 ? retry : 1);
                MHD_add_response_header(resp, "Retry-After", ra);
        }
        if (status == 401)
                MHD_add_response_header(resp, "WWW-Authenticate",
                                        "Bearer realm=\"scimlog\"");
        if (status == 405 && r && r->allow)
                MHD_add_response_header(resp, "Allow", r->allow);
        rc = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, req_t *r,
                                 unsigned status, const json_t *j,
                                 const char *etag, const char *location)
{
        char *txt = scim_json_dumps(j);
        enum MHD_Result rc;

        if (!txt)
                return send_text(c, r, 500, "{}", 2, NULL, NULL, 0);
        rc = send_text(c, r, status, txt, strlen(txt), etag, location, 0);
        free(txt);
        return rc;
}

char *scim_error_body(const scim_err_t *e)
{
        json_t *o = json_object();
        char st[16], *txt;

        snprintf(st, sizeof(st), "%d", e->status ? e->status : 500);
        json_object_set_new(o, "schemas", json_pack("[s]", SCIM_URN_ERROR));
        json_object_set_new(o, "status", json_string(st));
        if (e->scim_type[0])
                json_object_set_new(o, "scimType", json_string(e->scim_type));
        json_object_set_new(o, "detail",
                            json_string(e->detail[0] ? e->detail : "error"));
        txt = scim_json_dumps(o);
        json_decref(o);
        return txt;
}

static enum MHD_Result send_error(struct MHD_Connection *c, req_t *r,
                                  const scim_err_t *e)
{
        char *txt = scim_error_body(e);
        enum MHD_Result rc;
        int status = e->status ? e->status : 500;

        rc = send_text(c, r, (unsigned)status, txt ? txt : "{}",
                       txt ? strlen(txt) : 2, NULL, NULL,
                       e->retriable || status == 429 || status == 503);
        free(txt);
        return rc;
}

static enum MHD_Result fail(struct MHD_Connection *c, req_t *r, int status,
                            const char *type, const char *detail)
{
        scim_err_t e;

        scim_err_clear(&e);
        scim_err_set(&e, status, type, "%s", detail);
        return send_error(c, r, &e);
}

/* A refused authentication or scope: answered, and recorded in the
 * tenant's change records (api/audit.c). secret set: a bad bearer secret
 * (the record names the revoked or expired token it was). */
static enum MHD_Result refuse_access(scim_api_t *api, struct MHD_Connection *c,
                                     req_t *r, const char *tenant,
                                     const char *actor, const char *secret,
                                     const scim_err_t *e)
{
        if (secret)
                scim_audit_bad_token(api->ing, api->st, tenant, secret,
                                     r->request_id, "ACCESS", e);
        else
                scim_audit_refusal(api->ing, api->st, tenant, actor,
                                   r->request_id, "ACCESS", e);
        return send_error(c, r, e);
}

static enum MHD_Result refuse_msg(scim_api_t *api, struct MHD_Connection *c,
                                  req_t *r, int status, const char *tenant,
                                  const char *actor, const char *secret,
                                  const char *detail)
{
        scim_err_t e;

        scim_err_clear(&e);
        scim_err_set(&e, status, NULL, "%s", detail);
        return refuse_access(api, c, r, tenant, actor, secret, &e);
}

/* ------------------------------------------------------- helpers */

/* The public base URL of the request being handled on this pool thread
 * (origin + mount path, e.g. https://acme.example.com/scim/v2): set by
 * route() and again when a write's answer is sent; resource locations are
 * built from it. */
static __thread const char *tl_base = "http://localhost/scim/v2";

static void add_location(struct MHD_Connection *c, scim_api_t *api,
                         const char *tenant, json_t *res, char *loc,
                         size_t loclen)
{
        const char *rt = json_string_value(
            json_object_get(json_object_get(res, "meta"), "resourceType"));
        const char *id = json_string_value(json_object_get(res, "id"));
        json_t *meta = json_object_get(res, "meta");

        (void)c;
        if (rt && strcmp(rt, "Group") && strcmp(rt, "User")) {
                /* a tenant's own type: its endpoint from the model */
                scim_model_t *m = scim_store_model(api->st, tenant);
                const scim_rtype_row_t *row = scim_model_rtype_by_name(m, rt);

                scim_strjoin(loc, loclen, tl_base,
                             row ? row->endpoint : "/Users", "/",
                             id ? id : "", (char *)NULL);
                scim_model_unref(m);
        } else {
                scim_strjoin(loc, loclen, tl_base,
                             rt && !strcmp(rt, "Group") ? "/Groups/"
                                                        : "/Users/",
                             id ? id : "", (char *)NULL);
        }
        if (json_is_object(meta))
                json_object_set_new(meta, "location", json_string(loc));
}

static const char *etag_of(const json_t *res)
{
        return json_string_value(
            json_object_get(json_object_get(res, "meta"), "version"));
}

/* Membership semantics of a type, from its row in the resource-type
 * table: a container has `members`; a member carries derived `groups`. */
static int has_members(scim_rtype_t rt)
{
        const scim_rtype_row_t *row = scim_rtype_row(rt);

        return row && row->membership == SCIM_MEMBERSHIP_CONTAINER;
}

static int is_member(scim_rtype_t rt)
{
        const scim_rtype_row_t *row = scim_rtype_row(rt);

        return row && row->membership == SCIM_MEMBERSHIP_MEMBER;
}

static void attach_members(scim_api_t *api, const char *tenant, json_t *res)
{
        json_t *m = NULL;
        scim_err_t e;
        json_t *meta = json_incref(json_object_get(res, "meta"));

        if (scim_store_group_members(api->st, tenant,
                                     json_string_value(json_object_get(res,
                                                                       "id")),
                                     &m, &e) == 0 &&
            json_array_size(m) > 0) {
                /* keep meta last */
                json_object_del(res, "meta");
                json_object_set_new(res, "members", m);
                json_object_set_new(res, "meta", meta);
                return;
        }
        json_decref(m);
        json_decref(meta);
}

/* A query parameter's value, or NULL. A request's query holds a few
 * parameters (often one, or none), which a walk compares faster than
 * jansson hashes the key (a filter request asks for ten). */
static const char *qget(json_t *q, const char *k)
{
        const char *key;
        json_t *v;

        if (json_object_size(q) > 4)
                return json_string_value(json_object_get(q, k));
        json_object_foreach(q, key, v)
        {
                if (!strcmp(key, k))
                        return json_string_value(v);
        }
        return NULL;
}

static int members_wanted(json_t *q)
{
        const char *attrs = qget(q, "attributes");
        const char *excl = qget(q, "excludedattributes");

        if (excl && scim_attr_list_has(excl, "members"))
                return 0;
        if (attrs && *attrs && !scim_attr_list_wants(attrs, "members"))
                return 0;
        return 1;
}

/* Gives each element of res[key] (members, groups) its "$ref": the URL
 * of the resource it names, under this request's base. */
static void add_refs(json_t *res, const char *key)
{
        json_t *arr = json_object_get(res, key), *e;
        size_t i;
        char ref[1024];

        json_array_foreach(arr, i, e)
        {
                const char *v = json_string_value(json_object_get(e, "value"));
                const char *t = json_string_value(json_object_get(e, "type"));

                if (!v || json_object_get(e, "$ref"))
                        continue;
                scim_strjoin(ref, sizeof(ref), tl_base,
                             !strcmp(key, "groups") ||
                                     (t && !strcmp(t, "Group"))
                                 ? "/Groups/"
                                 : "/Users/",
                             v, (char *)NULL);
                json_object_set_new(e, "$ref", json_string(ref));
        }
}

static int finish_resource_in(struct MHD_Connection *c, scim_api_t *api,
                              const char *tenant, scim_rtype_t rt,
                              json_t *res, json_t *q, int with_members,
                              char *loc, size_t loclen, scim_err_t *err);

/* `returned` of the tenant's model (scim_model_each_returned) applied
 * to one resource: never and unasked-for request attributes go, always
 * ones are kept aside and put back after the projection. */
typedef struct returned_ctx {
        json_t *res;
        const char *attrs;
        json_t *always; /* [urn or null, name, value] */
} returned_ctx_t;

static void returned_one(void *ctx, const char *urn, const char *name,
                         char kind)
{
        returned_ctx_t *x = ctx;
        json_t *blk = urn ? json_object_get(x->res, urn) : x->res;
        json_t *v = json_object_get(blk, name);
        char full[400];

        if (!v)
                return;
        snprintf(full, sizeof(full), "%s%s%s", urn ? urn : "", urn ? ":" : "",
                 name);
        if (kind == 'a') {
                json_array_append_new(x->always,
                                      json_pack("[s?, s, O]", urn, name, v));
                return;
        }
        if (kind == 'r' && x->attrs &&
            (scim_attr_list_wants(x->attrs, full) ||
             (!urn && scim_attr_list_wants(x->attrs, name))))
                return;
        json_object_del(blk, name);
        if (urn && json_object_size(blk) == 0)
                json_object_del(x->res, urn);
}

/* 1 when the tenant's model says something about `returned` for rt: the
 * spliced fast paths (stored text as is) are then not taken. */
static int has_returned_rules(scim_api_t *api, const char *tenant,
                              scim_rtype_t rt)
{
        scim_model_t *m = scim_store_model(api->st, tenant);
        size_t n = scim_model_each_returned(m, rt, NULL, NULL);

        scim_model_unref(m);
        return n > 0;
}

/* Finishes a resource for the wire: members, location, projection. */
static int finish_resource(struct MHD_Connection *c, scim_api_t *api,
                           const char *tenant, scim_rtype_t rt, json_t *res,
                           json_t *q, int with_members, char *loc,
                           size_t loclen, scim_err_t *err)
{
        scim_model_t *m = scim_store_model(api->st, tenant);
        returned_ctx_t rx = {res, q ? qget(q, "attributes") : NULL, NULL};
        int rc = 0;

        if (m && scim_model_each_returned(m, rt, NULL, NULL)) {
                rx.always = json_array();
                scim_model_each_returned(m, rt, returned_one, &rx);
        }
        scim_model_unref(m);
        rc = finish_resource_in(c, api, tenant, rt, res, q, with_members, loc,
                                loclen, err);
        if (rc == 0 && rx.always) {
                size_t i;
                json_t *e;

                json_array_foreach(rx.always, i, e)
                {
                        const char *urn = json_string_value(json_array_get(e, 0));
                        json_t *blk = res;

                        if (urn) {
                                blk = json_object_get(res, urn);
                                if (!json_is_object(blk)) {
                                        blk = json_object();
                                        json_object_set_new(res, urn, blk);
                                }
                        }
                        json_object_set(blk,
                                        json_string_value(json_array_get(e, 1)),
                                        json_array_get(e, 2));
                }
        }
        json_decref(rx.always);
        return rc;
}

static int finish_resource_in(struct MHD_Connection *c, scim_api_t *api,
                              const char *tenant, scim_rtype_t rt,
                              json_t *res, json_t *q, int with_members,
                              char *loc, size_t loclen, scim_err_t *err)
{
        if (has_members(rt) && with_members &&
            !json_object_get(res, "members"))
                attach_members(api, tenant, res);
        if (is_member(rt) && q &&
            scim_attr_list_wants(qget(q, "attributes"), "groups")) {
                json_t *g = NULL;

                if (scim_store_user_groups(api->st, tenant,
                                           json_string_value(
                                               json_object_get(res, "id")),
                                           &g, err) == 0)
                        json_object_set_new(res, "groups", g);
        }
        add_refs(res, "members");
        add_refs(res, "groups");
        add_location(c, api, tenant, res, loc, loclen);
        if (q)
                return scim_project(rt, res, qget(q, "attributes"),
                                    qget(q, "excludedattributes"), err);
        return 0;
}

/*
 * Answers with a user's stored text (o: the bytes the fold stored, read
 * or handed over) and its "location" spliced in as the last member of
 * meta, which is the stored text's last member (its keys are the
 * server's): the bytes finish_resource and scim_json_dumps would write
 * for a user asked for without attributes (e2e 1610 compares them).
 * Location is also sent as a header when loc_hdr. Frees nothing.
 */
static enum MHD_Result send_stored_user(struct MHD_Connection *c, req_t *r,
                                        unsigned status, scim_buf_t *o,
                                        const char *id, const char *etag,
                                        int loc_hdr)
{
        char loc[1024];
        size_t len = o->len;
        int ln;

        if (o->len >= 2 && o->data[o->len - 1] == '}' &&
            o->data[o->len - 2] == '}') {
                ln = (int)scim_strjoin(loc, sizeof(loc), tl_base, "/Users/",
                                       id, (char *)NULL);
                o->len -= 2;
                if (scim_buf_puts(o, ",\"location\":") == 0 &&
                    scim_json_dump_string(loc, (size_t)ln, o) == 0 &&
                    scim_buf_puts(o, "}}") == 0)
                        return send_text(c, r, status, o->data, o->len, etag,
                                         loc_hdr ? loc : NULL, 0);
                /* no location (not UTF-8, no memory): the stored text as
                 * it stands */
                o->len = len;
                o->data[len - 2] = '}';
                o->data[len - 1] = '}';
                o->data[len] = '\0';
        }
        return send_text(c, r, status, o->data, o->len, NULL, NULL, 0);
}

/* ------------------------------------------------------- writes */

static void on_write_done(void *ctx, scim_write_result_t *res)
{
        req_t *r = ctx;

        pthread_mutex_lock(&r->mu);
        r->result = *res;
        r->done = 1;
        pthread_mutex_unlock(&r->mu);
        MHD_resume_connection(r->conn);
}

static enum MHD_Result answer_write(struct MHD_Connection *c, scim_api_t *api,
                                    req_t *r, const char *tenant,
                                    scim_rtype_t rt, const char *method,
                                    json_t *q)
{
        scim_write_result_t *res = &r->result;
        char loc[1024];
        scim_err_t e;
        enum MHD_Result rc;
        int with_members;

        if (res->status >= 400 || res->status == 0) {
                if (!res->err.status)
                        res->err.status = res->status ? res->status : 500;
                return send_error(c, r, &res->err);
        }
        if (!strcmp(method, "DELETE"))
                return send_text(c, r, 204, "", 0, NULL, NULL, 0);
        if (!strcmp(method, "PATCH") && !(qget(q, "attributes")) ) {
                const char *etag = res->resource ? etag_of(res->resource) : NULL;
                char tag[64];

                snprintf(tag, sizeof(tag), "%s", etag ? etag : "");
                return send_text(c, r, 204, "", 0, etag ? tag : NULL, NULL, 0);
        }
        if (!res->resource)
                return send_text(c, r, 204, "", 0, NULL, NULL, 0);
        if (res->text.data && rt == SCIM_RT_USER && !qget(q, "attributes") &&
            !qget(q, "excludedattributes") &&
            json_string_value(json_object_get(res->resource, "id")) &&
            !has_returned_rules(api, tenant, rt)) {
                /* the text the fold stored, as GET /Users/{id} answers
                 * it: not serialised again (issue 13) */
                /* etag and id live in res->resource until it is freed
                 * with the request; the headers are copied when added */
                rc = send_stored_user(
                    c, r, !strcmp(method, "POST") ? 201 : 200, &res->text,
                    json_string_value(json_object_get(res->resource, "id")),
                    etag_of(res->resource), !strcmp(method, "POST"));
                return rc;
        }
        with_members = has_members(rt) && strcmp(method, "PATCH") &&
                       members_wanted(q);
        scim_err_clear(&e);
        if (finish_resource(c, api, tenant, rt, res->resource, q, with_members,
                            loc, sizeof(loc), &e) < 0)
                return send_error(c, r, &e);
        rc = send_json(c, r, !strcmp(method, "POST") ? 201 : 200,
                       res->resource, etag_of(res->resource),
                       !strcmp(method, "POST") ? loc : NULL);
        return rc;
}

/* ------------------------------------------------------- reads */

/* W/"n" into tag (at least 28 bytes), as snprintf's "W/\"%lld\"". */
static void weak_etag(char *tag, long long n)
{
        char d[24];
        size_t k = 0, o = 0;
        unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n
                                     : (unsigned long long)n;

        do
                d[k++] = (char)('0' + u % 10);
        while ((u /= 10) > 0);
        tag[o++] = 'W';
        tag[o++] = '/';
        tag[o++] = '"';
        if (n < 0)
                tag[o++] = '-';
        while (k > 0)
                tag[o++] = d[--k];
        tag[o++] = '"';
        tag[o] = '\0';
}

/* The last "meta":{ in stored resource text, or NULL. */
static const char *last_meta(const char *text, size_t len)
{
        static const char pat[] = "\"meta\":{";
        const size_t pn = sizeof(pat) - 1;

        for (size_t i = len >= pn ? len - pn + 1 : 0; i-- > 0;)
                if (text[i] == '"' && !memcmp(text + i, pat, pn))
                        return text + i;
        return NULL;
}

static enum MHD_Result get_one(struct MHD_Connection *c, scim_api_t *api,
                               req_t *r, const char *tenant, scim_rtype_t rt,
                               const char *id, json_t *q)
{
        json_t *res = NULL;
        scim_err_t e;
        char loc[1024];
        const char *inm = r->h.inm;
        enum MHD_Result rc;

        scim_err_clear(&e);
        if (rt == SCIM_RT_USER && !qget(q, "attributes") &&
            !qget(q, "excludedattributes") && !inm &&
            !has_returned_rules(api, tenant, rt)) {
                /* fast path: splice location into the stored text,
                 * read straight into the answer's buffer */
                scim_buf_t o = {0};
                char tag[48] = "", *v;

                if (scim_store_get_raw(api->st, tenant, rt, id, &o, &e) < 0) {
                        scim_buf_free(&o);
                        return send_error(c, r, &e);
                }
                /* meta is the stored text's last member, and its keys
                 * are the server's: a user's own "version" key (in an
                 * extension block) comes before it */
                v = (char *)last_meta(o.data, o.len);
                v = v ? strstr(v, "\"version\":\"W/\\\"") : NULL;
                if (v)
                        weak_etag(tag, strtoll(v + 15, NULL, 10));
                rc = send_stored_user(c, r, 200, &o, id, tag[0] ? tag : NULL,
                                      0);
                scim_buf_free(&o);
                return rc;
        }
        if (scim_store_get(api->st, tenant, rt, id, &res, NULL, &e) < 0)
                return send_error(c, r, &e);
        if (inm && etag_of(res) && !strcmp(inm, etag_of(res))) {
                rc = send_text(c, r, 304, "", 0, etag_of(res), NULL, 0);
                json_decref(res);
                return rc;
        }
        if (finish_resource(c, api, tenant, rt, res, q,
                            has_members(rt) && members_wanted(q), loc,
                            sizeof(loc), &e) < 0) {
                json_decref(res);
                return send_error(c, r, &e);
        }
        {
                char tag[64];
                const char *et = etag_of(res);

                snprintf(tag, sizeof(tag), "%s", et ? et : "");
                rc = send_json(c, r, 200, res, et ? tag : NULL, NULL);
        }
        json_decref(res);
        return rc;
}

static int parse_uint(const char *s, long *out)
{
        char *end;
        long v;

        if (!s)
                return 0;
        v = strtol(s, &end, 10);
        if (!*s || *end)
                return -1;
        *out = v;
        return 0;
}

/* Fast path of a user list whose filter is answered by one point lookup
 * (`userName eq` or `id eq`, maybe and-ed with more conditions), first
 * page, no projection: the filter is checked on the parsed resource, the
 * answer splices the stored text (as GET by id does) instead of building
 * and re-serialising a ListResponse. Sets *done when it answered. */
/* Whether `userName eq "x"` is answered exactly by its index (the filter
 * parser and the built-in schemas say; the same for every tenant): 1 yes,
 * 0 no (the general path then), -1 not asked yet. */
static int username_eq_exact = -1;

static int username_eq_ok(void)
{
        int v = __atomic_load_n(&username_eq_exact, __ATOMIC_RELAXED);

        if (v < 0) { /* two threads may both ask: same answer */
                scim_filter_t *f = NULL;
                scim_err_t e;
                const char *value = NULL;

                v = scim_filter_parse(SCIM_RT_USER, "userName eq \"x\"", &f,
                                      &e) == 0 &&
                    scim_filter_index_hint(f, SCIM_RT_USER, &value) ==
                        SCIM_IDX_USERNAME &&
                    value && !strcmp(value, "x") &&
                    scim_filter_index_exact(f, SCIM_RT_USER);
                scim_filter_free(f);
                __atomic_store_n(&username_eq_exact, v, __ATOMIC_RELAXED);
        }
        return v;
}

/* f, or, when f is NULL, the filter ftext (`userName eq "uvalue"`, which
 * scim_query_username_eq recognised and username_eq_ok says its index
 * answers exactly): parsed here only if the views changed between the
 * two reads. */
static enum MHD_Result list_one_fast(struct MHD_Connection *c, scim_api_t *api,
                                     req_t *r, const char *tenant,
                                     const scim_filter_t *f, const char *ftext,
                                     const char *uvalue, int *done)
{
        static const char head[] =
            "{\"schemas\":[\"" SCIM_URN_LIST "\"],\"totalResults\":";
        static const char one[] =
            "1,\"startIndex\":1,\"itemsPerPage\":1,\"Resources\":[";
        static const char none[] =
            "0,\"startIndex\":1,\"itemsPerPage\":0,\"Resources\":[]}";
        const size_t hl = sizeof(head) - 1, at = hl + sizeof(one) - 1;
        const char *value = f ? NULL : uvalue;
        scim_index_t ix = f ? scim_filter_index_hint(f, SCIM_RT_USER, &value)
                            : SCIM_IDX_USERNAME;
        char id[SCIM_MAX_ID_LEN + 1], loc[1024];
        scim_buf_t o = {0};
        json_t *res = NULL;
        scim_filter_t *own = NULL;
        scim_err_t e;
        enum MHD_Result rc;
        /* a single eq its index answers exactly (scim_filter_index_exact)
         * needs no parse of the resource when the index entry and the
         * resource were read from one state of the views */
        int exact = f ? scim_filter_index_exact(f, SCIM_RT_USER) : 1, found = 0;
        uint64_t epoch = exact ? scim_store_read_epoch(api->st) : 0;

        *done = 0;
        if (!value || (ix != SCIM_IDX_USERNAME && ix != SCIM_IDX_ID))
                return MHD_NO;
        *done = 1;
        scim_err_clear(&e);
        /* the answer's head, then the stored text read straight after it */
        if (scim_buf_puts(&o, head) < 0 || scim_buf_puts(&o, one) < 0) {
                scim_buf_free(&o);
                return fail(c, r, 503, NULL, "out of memory");
        }
        if (ix == SCIM_IDX_ID)
                snprintf(id, sizeof(id), "%s", value);
        if ((ix == SCIM_IDX_ID && strlen(value) <= SCIM_MAX_ID_LEN) ||
            (ix == SCIM_IDX_USERNAME &&
             scim_store_find_username(api->st, tenant, value, id,
                                      sizeof(id))))
                found = scim_store_get_raw(api->st, tenant, SCIM_RT_USER, id,
                                           &o, &e) == 0;
        if (found && !(exact && scim_store_read_epoch(api->st) == epoch)) {
                if (!f && scim_filter_parse(SCIM_RT_USER, ftext, &own, &e) == 0)
                        f = own;
                res = f ? scim_json_load(o.data + at, o.len - at) : NULL;
                found = res && scim_filter_match(f, res);
        }
        if (!found || o.len < at + 2 || o.data[o.len - 1] != '}' ||
            o.data[o.len - 2] != '}') {
                o.len = hl;
                o.data[hl] = '\0';
                scim_buf_puts(&o, none);
        } else {
                size_t n = scim_strjoin(loc, sizeof(loc), tl_base, "/Users/",
                                        id, (char *)NULL);

                o.len -= 2;
                scim_buf_puts(&o, ",\"location\":");
                if (scim_json_dump_string(loc, n, &o) < 0)
                        scim_buf_puts(&o, "null");
                scim_buf_puts(&o, "}}]}");
        }
        rc = send_text(c, r, 200, o.data, o.len, NULL, NULL, 0);
        json_decref(res);
        scim_filter_free(own);
        scim_buf_free(&o);
        return rc;
}

/* Takes one of the tenant's unindexed-scan places; 0 when none is free. */
static int scan_enter(scim_api_t *api, const char *tenant)
{
        int ok = 0, freeslot = -1;

        pthread_mutex_lock(&api->scan_mu);
        for (int i = 0; i < SCAN_SLOTS; i++) {
                struct scan_slot *s = &api->scans[i];

                if (s->n && !strcmp(s->tenant, tenant)) {
                        if (s->n < SCANS_PER_TENANT) {
                                s->n++;
                                ok = 1;
                        }
                        freeslot = -2;
                        break;
                }
                if (!s->n && freeslot == -1)
                        freeslot = i;
        }
        if (freeslot >= 0) {
                snprintf(api->scans[freeslot].tenant,
                         sizeof(api->scans[freeslot].tenant), "%s", tenant);
                api->scans[freeslot].n = 1;
                ok = 1;
        }
        pthread_mutex_unlock(&api->scan_mu);
        return ok;
}

static void scan_leave(scim_api_t *api, const char *tenant)
{
        pthread_mutex_lock(&api->scan_mu);
        for (int i = 0; i < SCAN_SLOTS; i++)
                if (api->scans[i].n && !strcmp(api->scans[i].tenant, tenant)) {
                        api->scans[i].n--;
                        break;
                }
        pthread_mutex_unlock(&api->scan_mu);
}

/* The answer to an unfiltered list page whose elements are [id, stored
 * text] (scim_query_t.raw): each text gets its location spliced in as
 * GET by id does; a text not ending in meta's "}}" is parsed and finished
 * the slow way. Takes page. */
static enum MHD_Result list_raw_answer(struct MHD_Connection *c,
                                       scim_api_t *api, req_t *r,
                                       const char *tenant, scim_rtype_t rt,
                                       json_t *q, json_t *page, size_t total,
                                       long start)
{
        scim_buf_t o = {0};
        char loc[1024], num[32];
        json_t *el;
        size_t i, n = json_array_size(page);
        enum MHD_Result rc;
        scim_err_t e;

        scim_buf_puts(&o, "{\"schemas\":[\"" SCIM_URN_LIST
                          "\"],\"totalResults\":");
        snprintf(num, sizeof(num), "%zu", total);
        scim_buf_puts(&o, num);
        snprintf(num, sizeof(num), "%ld", start);
        scim_buf_puts(&o, ",\"startIndex\":");
        scim_buf_puts(&o, num);
        snprintf(num, sizeof(num), "%zu", n);
        scim_buf_puts(&o, ",\"itemsPerPage\":");
        scim_buf_puts(&o, num);
        scim_buf_puts(&o, ",\"Resources\":[");
        json_array_foreach(page, i, el)
        {
                const char *id = json_string_value(json_array_get(el, 0));
                json_t *tj = json_array_get(el, 1);
                const char *t = json_string_value(tj);
                size_t tl = json_string_length(tj);

                if (i)
                        scim_buf_puts(&o, ",");
                if (id && t && tl >= 2 && t[tl - 1] == '}' &&
                    t[tl - 2] == '}') {
                        scim_buf_append(&o, t, tl - 2);
                        scim_buf_puts(&o, ",\"location\":");
                        scim_strjoin(loc, sizeof(loc), tl_base, "/Users/", id,
                                     (char *)NULL);
                        if (scim_json_dump_string(loc, strlen(loc), &o) < 0)
                                scim_buf_puts(&o, "null");
                        scim_buf_puts(&o, "}}");
                } else {
                        json_t *res = t ? scim_json_load(t, tl) : NULL;

                        scim_err_clear(&e);
                        if (!res || finish_resource(c, api, tenant, rt, res, q,
                                                    0, loc, sizeof(loc),
                                                    &e) < 0 ||
                            scim_json_dump(res, &o) < 0) {
                                json_decref(res);
                                json_decref(page);
                                scim_buf_free(&o);
                                if (!e.status)
                                        scim_err_set(&e, 500, NULL,
                                                     "stored resource corrupt");
                                return send_error(c, r, &e);
                        }
                        json_decref(res);
                }
        }
        scim_buf_puts(&o, "]}");
        json_decref(page);
        rc = o.data ? send_text(c, r, 200, o.data, o.len, NULL, NULL, 0)
                    : fail(c, r, 503, NULL, "out of memory");
        scim_buf_free(&o);
        return rc;
}

/* fail() for list() before its filter is parsed: frees the caller's f. */
static enum MHD_Result list_refuse(struct MHD_Connection *c, req_t *r,
                                   scim_filter_t *f, int status,
                                   const char *type, const char *detail)
{
        scim_filter_free(f);
        return fail(c, r, status, type, detail);
}

/* A list page. f is the page's filter when the caller parsed it (taken:
 * freed here), NULL to parse q's. */
static enum MHD_Result list(struct MHD_Connection *c, scim_api_t *api,
                            req_t *r, const char *tenant, scim_rtype_t rt,
                            json_t *q, scim_filter_t *f)
{
        scim_query_t query;
        scim_err_t e;
        long start = 1, count = 100;
        size_t total = 0, i, groups_bytes = 0;
        json_t *page = NULL, *res, *out;
        char loc[1024], after[SCIM_MAX_ID_LEN + 1];
        /* the parameters this function reads, in one walk of q (eleven
         * lookups before) */
        enum {
                P_CURSOR,
                P_SORTBY,
                P_SORTORDER,
                P_START,
                P_COUNT,
                P_FILTER,
                P_ATTRS,
                P_EXCL,
                P_N
        };
        static const char *const pname[P_N] = {
            "cursor", "sortby", "sortorder",  "startindex",
            "count",  "filter", "attributes", "excludedattributes"};
        const char *pv[P_N] = {NULL};
        const char *cursor;
        int more = 0, scanning = 0, rc2;
        const char *hint = NULL;
        enum MHD_Result rc;

        {
                const char *key;
                json_t *v;

                json_object_foreach(q, key, v)
                {
                        for (int k = 0; k < P_N; k++)
                                if (!strcmp(key, pname[k]))
                                        pv[k] = json_string_value(v);
                }
        }
        cursor = pv[P_CURSOR];
        scim_err_clear(&e);
        if (pv[P_SORTBY] || pv[P_SORTORDER])
                return list_refuse(c, r, f, 400, "invalidValue",
                            "sorting is not supported (ServiceProviderConfig: "
                            "sort.supported is false); results come in id "
                            "order");
        if (cursor && pv[P_START])
                return list_refuse(c, r, f, 400, "invalidValue",
                            "use either cursor or startIndex paging");
        if (cursor && scim_cursor_decode(cursor, after, sizeof(after), &e) < 0) {
                scim_filter_free(f);
                return send_error(c, r, &e);
        }
        if (parse_uint(pv[P_START], &start) < 0 ||
            parse_uint(pv[P_COUNT], &count) < 0)
                return list_refuse(c, r, f, 400, "invalidValue",
                            "startIndex and count must be integers");
        if (start < 1)
                start = 1;
        if (count < 0)
                count = 0;
        if (count > SCIM_MAX_LIST_COUNT)
                count = SCIM_MAX_LIST_COUNT;
        if (!f && pv[P_FILTER] && *pv[P_FILTER] &&
            scim_filter_parse(rt, pv[P_FILTER], &f, &e) < 0)
                return send_error(c, r, &e);
        if (f && rt == SCIM_RT_USER && !cursor && start == 1 && count >= 1 &&
            !pv[P_ATTRS] && !pv[P_EXCL] &&
            !has_returned_rules(api, tenant, rt)) {
                int done;

                rc = list_one_fast(c, api, r, tenant, f, NULL, NULL, &done);
                if (done) {
                        scim_filter_free(f);
                        return rc;
                }
        }
        memset(&query, 0, sizeof(query));
        if (f && scim_filter_index_hint(f, rt, &hint) == SCIM_IDX_NONE) {
                /* a scan: bounded per request, one per tenant at a time,
                 * so a tenant's slow filters cannot take every pool
                 * thread from the others */
                if (!scan_enter(api, tenant)) {
                        scim_filter_free(f);
                        scim_err_set_retry(&e, 429,
                                           "another unindexed filter of this "
                                           "tenant is running; retry, or "
                                           "filter with eq on id, userName, "
                                           "externalId, emails.value or "
                                           "displayName (indexed)");
                        return send_error(c, r, &e);
                }
                scanning = 1;
                query.scan_limit = api->scan_limit;
                query.scan_ms = api->scan_ms;
        }
        query.filter = f;
        query.start_index = (size_t)start;
        query.count = (size_t)count;
        query.with_members = has_members(rt) && members_wanted(q);
        query.after_id = cursor ? after : NULL;
        query.more = &more;
        /* an unfiltered page of users with no projection splices the
         * stored texts (list_raw_answer) instead of parsing and
         * re-serialising each resource */
        query.raw = rt == SCIM_RT_USER && !f && !cursor && !pv[P_ATTRS] &&
                    !pv[P_EXCL] && !has_returned_rules(api, tenant, rt);
        rc2 = scim_store_list(api->st, tenant, rt, &query, &total, &page, &e);
        if (scanning)
                scan_leave(api, tenant);
        scim_filter_free(f);
        if (rc2 < 0)
                return send_error(c, r, &e);
        if (query.raw)
                return list_raw_answer(c, api, r, tenant, rt, q, page, total,
                                       start);
        json_array_foreach(page, i, res)
        {
                if (finish_resource(c, api, tenant, rt, res, q, 0, loc,
                                    sizeof(loc), &e) < 0) {
                        json_decref(page);
                        return send_error(c, r, &e);
                }
                /* groups (attributes=groups) are attached here, after the
                 * store filled the page: they count against the page
                 * budget too, so users in many groups end the page early */
                groups_bytes += scim_store_attached_bytes(res, "groups");
                if (groups_bytes >= scim_page_bytes() &&
                    i + 1 < json_array_size(page)) {
                        while (json_array_size(page) > i + 1)
                                json_array_remove(page, i + 1);
                        more = 1;
                        break;
                }
        }
        out = json_object();
        json_object_set_new(out, "schemas", json_pack("[s]", SCIM_URN_LIST));
        json_object_set_new(out, "totalResults", json_integer((json_int_t)total));
        if (!cursor)
                json_object_set_new(out, "startIndex", json_integer(start));
        json_object_set_new(out, "itemsPerPage",
                            json_integer((json_int_t)json_array_size(page)));
        if (cursor && more && json_array_size(page) > 0) {
                /* RFC 9865: the id of the page's last resource */
                const char *last = json_string_value(json_object_get(
                    json_array_get(page, json_array_size(page) - 1), "id"));
                char *next = last ? scim_cursor_encode(last) : NULL;

                if (next)
                        json_object_set_new(out, "nextCursor",
                                            json_string(next));
                free(next);
        }
        json_object_set_new(out, "Resources", page);
        rc = send_json(c, r, 200, out, NULL, NULL);
        json_decref(out);
        return rc;
}

/* The tenant's own discovery documents (model/: built-in plus its
 * definition). */
static enum MHD_Result discovery(struct MHD_Connection *c, req_t *r,
                                 const scim_model_t *m, const char *what,
                                 const char *id)
{
        json_t *doc;
        json_t *out;
        enum MHD_Result rc;

        if (!strcasecmp(what, "ServiceProviderConfig") ||
            !strcasecmp(what, "serviceConfiguration")) {
                doc = scim_model_service_provider_doc(m);
                rc = send_json(c, r, 200, doc, NULL, NULL);
                json_decref(doc);
                return rc;
        }
        doc = !strcasecmp(what, "Schemas") ? scim_model_schemas_doc(m)
                                           : scim_model_resource_types_doc(m);
        if (id) {
                size_t i;
                json_t *e;

                json_array_foreach(doc, i, e) if (scim_strcaseeq(
                    json_string_value(json_object_get(e, "id")), id))
                {
                        rc = send_json(c, r, 200, e, NULL, NULL);
                        json_decref(doc);
                        return rc;
                }
                json_decref(doc);
                return fail(c, r, 404, NULL, "no such schema or resource type");
        }
        out = json_object();
        json_object_set_new(out, "schemas", json_pack("[s]", SCIM_URN_LIST));
        json_object_set_new(out, "totalResults",
                            json_integer((json_int_t)json_array_size(doc)));
        json_object_set_new(out, "startIndex", json_integer(1));
        json_object_set_new(out, "itemsPerPage",
                            json_integer((json_int_t)json_array_size(doc)));
        json_object_set_new(out, "Resources", doc);
        rc = send_json(c, r, 200, out, NULL, NULL);
        json_decref(out);
        return rc;
}

/* ------------------------------------------------------- routing */

static int content_type_ok(const req_t *r)
{
        const char *ct = r->h.ctype;

        if (!ct || !*ct)
                return 1;
        return strncasecmp(ct, "application/scim+json", 21) == 0 ||
               strncasecmp(ct, "application/json", 16) == 0 ||
               strncasecmp(ct, "text/plain", 10) == 0;
}

/* MHD_get_connection_values callback: keeps the first value of each
 * header req_t.h names (names compared without case, as libmicrohttpd's
 * lookup does). */
static enum MHD_Result header_one(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
        struct req_headers *h = cls;
        const char **slot = NULL;

        (void)kind;
        if (!key || !value)
                return MHD_YES;
        switch (key[0] | 0x20) {
        case 'h':
                slot = !strcasecmp(key, "Host") ? &h->host : NULL;
                break;
        case 'a':
                slot = !strcasecmp(key, "Authorization") ? &h->auth : NULL;
                break;
        case 'c':
                slot = !strcasecmp(key, "Content-Length") ? &h->clen
                       : !strcasecmp(key, "Content-Type") ? &h->ctype
                       : !strcasecmp(key, "client-request-id") ? &h->crid
                                                               : NULL;
                break;
        case 'x':
                slot = !strcasecmp(key, "X-Request-Id")         ? &h->xrid
                       : !strcasecmp(key, "X-Forwarded-Proto")  ? &h->xfproto
                       : !strcasecmp(key, "X-Forwarded-Host")   ? &h->xfhost
                       : !strcasecmp(key, "X-Forwarded-Prefix") ? &h->xfprefix
                                                                : NULL;
                break;
        case 'i':
                slot = !strcasecmp(key, "If-None-Match") ? &h->inm
                       : !strcasecmp(key, "If-Match")    ? &h->ifmatch
                                                         : NULL;
                break;
        case 'f':
                slot = !strcasecmp(key, "Forwarded") ? &h->fwd : NULL;
                break;
        }
        if (slot && !*slot)
                *slot = value;
        return MHD_YES;
}

static void set_request_id(req_t *r)
{
        const char *h = r->h.xrid ? r->h.xrid : r->h.crid;
        size_t n;

        n = h ? strlen(h) : 0;
        if (n > 0 && n <= 64) {
                for (size_t i = 0; i < n; i++)
                        if (!isalnum((unsigned char)h[i]) && !strchr("-_.", h[i]))
                                n = 0;
        }
        if (n > 0 && n <= 64)
                memcpy(r->request_id, h, n + 1);
        else
                scim_uuid4(r->request_id);
}

/* Whether a /metrics request without a token may be answered. */
static int metrics_local(struct MHD_Connection *c)
{
        static const char *const FWD[] = {"Forwarded", "X-Forwarded-For",
                                          "X-Forwarded-Host", "X-Real-IP"};
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        int fwd = 0;

        for (size_t i = 0; i < sizeof(FWD) / sizeof(FWD[0]); i++)
                fwd |= MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                   FWD[i]) != NULL;
        return scim_metrics_local(ci ? ci->client_addr : NULL, fwd);
}

/* GET /metrics: Prometheus text exposition format 0.0.4. */
static enum MHD_Result metrics_answer(scim_api_t *api,
                                      struct MHD_Connection *c, req_t *r)
{
        scim_buf_t b = {0};
        scim_ingest_stats_t is;
        scim_conn_guard_stats_t gs;
        struct MHD_Response *resp;
        enum MHD_Result rc;
        char lab[64];
        uint64_t cum = 0;

        if (api->metrics_token) {
                const char *tok = scim_http_bearer(MHD_lookup_connection_value(
                    c, MHD_HEADER_KIND, "Authorization"));

                if (!tok || !scim_secret_equal(tok, api->metrics_token))
                        return fail(c, r, 401, NULL,
                                    "/metrics wants the --metrics-token "
                                    "bearer");
        } else if (!metrics_local(c)) {
                return fail(c, r, 403, NULL,
                            "/metrics answers only loopback peers unless "
                            "serve has --metrics-token-file");
        }
        scim_metrics_render(api->metrics, &b);
        scim_ingest_stats(api->ing, &is);
        scim_metrics_family(&b, "scimlog_ingest_events_total", "counter",
                            "Events handed to the log by this node's ingest");
        scim_metrics_sample(&b, "scimlog_ingest_events_total", NULL,
                            (double)is.events);
        scim_metrics_family(&b, "scimlog_ingest_queue_depth", "gauge",
                            "Writes waiting for the committer");
        scim_metrics_sample(&b, "scimlog_ingest_queue_depth", NULL,
                            (double)is.queue_depth);
        scim_metrics_family(&b, "scimlog_group_commit_seconds_total",
                            "counter",
                            "Time in the log's append: embedded, the synced "
                            "WriteBatch with the fold (fsync included)");
        scim_metrics_sample(&b, "scimlog_group_commit_seconds_total", NULL,
                            (double)is.commit_ns / 1e9);
        scim_metrics_family(&b, "scimlog_group_commit_events", "histogram",
                            "Events per group commit (synced batch)");
        for (int i = 0; i < 10; i++) {
                cum += is.batch_le[i];
                snprintf(lab, sizeof(lab), "le=\"%d\"", 1 << i);
                scim_metrics_sample(&b, "scimlog_group_commit_events_bucket",
                                    lab, (double)cum);
        }
        scim_metrics_sample(&b, "scimlog_group_commit_events_bucket",
                            "le=\"+Inf\"", (double)is.batches);
        scim_metrics_sample(&b, "scimlog_group_commit_events_sum", NULL,
                            (double)is.events);
        scim_metrics_sample(&b, "scimlog_group_commit_events_count", NULL,
                            (double)is.batches);
        scim_metrics_family(&b, "scimlog_refusals_dropped_total", "counter",
                            "Refusal records not logged (queue half full, "
                            "or the front door's record budget spent)");
        scim_metrics_sample(&b, "scimlog_refusals_dropped_total", NULL,
                            (double)scim_ingest_refusals_dropped(api->ing) +
                                (double)scim_audit_dropped());
        scim_conn_guard_stats(api->guard, &gs);
        scim_metrics_family(&b, "scimlog_connections", "gauge",
                            "Open connections, by state");
        scim_metrics_sample(&b, "scimlog_connections", "state=\"open\"",
                            gs.open);
        scim_metrics_sample(&b, "scimlog_connections", "state=\"busy\"",
                            gs.busy);
        scim_metrics_sample(&b, "scimlog_connections", "state=\"limit\"",
                            gs.limit);
        scim_metrics_family(&b, "scimlog_connections_accepted_total",
                            "counter", "Connections accepted");
        scim_metrics_sample(&b, "scimlog_connections_accepted_total", NULL,
                            (double)gs.accepted);
        scim_metrics_family(&b, "scimlog_connections_closed_total", "counter",
                            "Connections the guard closed, by reason");
        scim_metrics_sample(&b, "scimlog_connections_closed_total",
                            "reason=\"header_timeout\"",
                            (double)gs.header_timeouts);
        scim_metrics_sample(&b, "scimlog_connections_closed_total",
                            "reason=\"idle\"", (double)gs.idle_closed);
        scim_metrics_sample(&b, "scimlog_connections_closed_total",
                            "reason=\"shed\"", (double)gs.shed);
        scim_metrics_sample(&b, "scimlog_connections_closed_total",
                            "reason=\"body_timeout\"",
                            (double)gs.body_timeouts);
        scim_metrics_sample(&b, "scimlog_connections_closed_total",
                            "reason=\"send_timeout\"",
                            (double)gs.send_timeouts);
        scim_metrics_family(&b, "scimlog_rate_limited_total", "counter",
                            "Requests refused 429 by a tenant's rate limit");
        scim_metrics_sample(&b, "scimlog_rate_limited_total", NULL,
                            (double)scim_ratelimit_refused(api->rate));
        scim_metrics_family(&b, "scimlog_tenant_concurrency_refused_total",
                            "counter",
                            "Requests refused 429: their tenant had "
                            "--tenant-concurrency expensive requests running");
        scim_metrics_sample(&b, "scimlog_tenant_concurrency_refused_total",
                            NULL,
                            api->inflight ? (double)scim_inflight_refused(
                                                api->inflight)
                                          : 0.0);
        {
                scim_report_jobs_stats_t js;

                scim_report_jobs_stats(api->jobs, &js);
                scim_metrics_family(&b, "scimlog_report_jobs", "gauge",
                                    "Point-in-time reads on the report "
                                    "workers, by state");
                scim_metrics_sample(&b, "scimlog_report_jobs",
                                    "state=\"running\"", js.running);
                scim_metrics_sample(&b, "scimlog_report_jobs",
                                    "state=\"waiting\"", js.waiting);
                scim_metrics_sample(&b, "scimlog_report_jobs",
                                    "state=\"threads\"", js.threads);
                scim_metrics_family(&b, "scimlog_report_jobs_total", "counter",
                                    "Point-in-time reads answered by the "
                                    "report workers, stopped at the time "
                                    "limit (400), and refused 429");
                scim_metrics_sample(&b, "scimlog_report_jobs_total",
                                    "result=\"done\"", (double)js.done);
                scim_metrics_sample(&b, "scimlog_report_jobs_total",
                                    "result=\"over_limit\"",
                                    (double)js.over_limit);
                scim_metrics_sample(&b, "scimlog_report_jobs_total",
                                    "result=\"refused\"", (double)js.refused);
        }
        scim_metrics_family(&b, "scimlog_unsent_answer_bytes", "gauge",
                            "Answer bytes waiting for their readers");
        scim_metrics_sample(&b, "scimlog_unsent_answer_bytes", NULL,
                            (double)scim_resp_inflight());
        scim_metrics_family(&b, "scimlog_log_position", "gauge",
                            "Position of the last event folded into the "
                            "views");
        scim_metrics_sample(&b, "scimlog_log_position", NULL,
                            (double)scim_store_position(api->st));
        scim_metrics_family(&b, "scimlog_rocksdb_bytes", "gauge",
                            "RocksDB: SST files, memtables, and compaction "
                            "work pending (estimate)");
        scim_metrics_sample(
            &b, "scimlog_rocksdb_bytes", "kind=\"sst\"",
            (double)scim_store_property_sum(api->st,
                                            "rocksdb.total-sst-files-size"));
        scim_metrics_sample(
            &b, "scimlog_rocksdb_bytes", "kind=\"memtable\"",
            (double)scim_store_property_sum(api->st,
                                            "rocksdb.cur-size-all-mem-tables"));
        scim_metrics_sample(
            &b, "scimlog_rocksdb_bytes", "kind=\"pending_compaction\"",
            (double)scim_store_property_sum(
                api->st, "rocksdb.estimate-pending-compaction-bytes"));
        {
                /* fold lag: embedded mode appends and folds in one batch
                 * (0 by construction); Kafka mode: the consumer's distance
                 * to the partition ends, and how old the newest folded
                 * message is while it is behind */
                scim_kafka_stats_t ks;
                int kafka = scim_ingest_is_kafka(api->ing);
                double lag_s = 0;

                scim_kafka_stats_get(&ks);
                if (kafka && ks.consumer_lag > 0 && ks.last_folded_ms > 0)
                        lag_s = (double)(scim_now_ms() - ks.last_folded_ms) /
                                1000.0;
                scim_metrics_family(&b, "scimlog_fold_lag_events", "gauge",
                                    "Log events not folded into this node's "
                                    "views yet");
                scim_metrics_sample(&b, "scimlog_fold_lag_events", NULL,
                                    kafka ? (double)ks.consumer_lag : 0);
                scim_metrics_family(&b, "scimlog_fold_lag_seconds", "gauge",
                                    "Age of the newest folded event while "
                                    "the node is behind, else 0");
                scim_metrics_sample(&b, "scimlog_fold_lag_seconds", NULL,
                                    lag_s);
                if (kafka) {
                        scim_metrics_family(
                            &b, "scimlog_kafka_producer_queue_messages",
                            "gauge",
                            "Produced messages not acknowledged yet "
                            "(librdkafka msg_cnt)");
                        scim_metrics_sample(
                            &b, "scimlog_kafka_producer_queue_messages", NULL,
                            (double)ks.producer_queue);
                        scim_metrics_family(
                            &b, "scimlog_kafka_consumer_lag_messages", "gauge",
                            "Messages behind the partition ends, all "
                            "partitions (librdkafka consumer_lag)");
                        scim_metrics_sample(
                            &b, "scimlog_kafka_consumer_lag_messages", NULL,
                            (double)ks.consumer_lag);
                        scim_metrics_family(
                            &b, "scimlog_kafka_partitions", "gauge",
                            "Partitions of each topic this node reads "
                            "(partitions added later included)");
                        scim_metrics_sample(&b, "scimlog_kafka_partitions",
                                            "topic=\"data\"",
                                            (double)ks.partitions_data);
                        scim_metrics_sample(&b, "scimlog_kafka_partitions",
                                            "topic=\"admin\"",
                                            (double)ks.partitions_admin);
                        scim_metrics_family(&b, "scimlog_kafka_errors_total",
                                            "counter",
                                            "Kafka errors: librdkafka error "
                                            "callbacks, transmit and receive "
                                            "errors");
                        scim_metrics_sample(&b, "scimlog_kafka_errors_total",
                                            "kind=\"callback\"",
                                            (double)ks.errors);
                        scim_metrics_sample(&b, "scimlog_kafka_errors_total",
                                            "kind=\"producer_tx\"",
                                            (double)ks.producer_tx_errors);
                        scim_metrics_sample(&b, "scimlog_kafka_errors_total",
                                            "kind=\"consumer_rx\"",
                                            (double)ks.consumer_rx_errors);
                        scim_metrics_family(
                            &b, "scimlog_kafka_stats_age_seconds", "gauge",
                            "Seconds since librdkafka's last statistics");
                        scim_metrics_sample(
                            &b, "scimlog_kafka_stats_age_seconds", NULL,
                            ks.updated_ms ? (double)(scim_now_ms() -
                                                     ks.updated_ms) /
                                                1000.0
                                          : -1);
                }
        }
        resp = scim_resp_new(b.data ? b.data : "", b.len);
        r->status = 200;
        r->bytes = b.len;
        scim_buf_free(&b);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, "Content-Type",
                                "text/plain; version=0.0.4; charset=utf-8");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        rc = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return rc;
}

/* The tenant a resolved URL names (NULL when the token is to say). */
static const char *target_tenant(const scim_target_t *t)
{
        return t->from == SCIM_TENANT_FROM_TOKEN || !t->tenant[0] ? NULL
                                                                  : t->tenant;
}

/* /reports/v1/{tenant}/health */
static int is_health(const char *url)
{
        size_t n = strlen(url);

        return !strncmp(url, "/reports/v1/", 12) && n > 19 &&
               !strcmp(url + n - 7, "/health") &&
               memchr(url + 12, '/', n - 19) == NULL;
}

/* GET /reports/v1/{tenant}/health (the tenant's or a reports-only token):
 * what the admin page's health panel shows. */
static enum MHD_Result tenant_health(scim_api_t *api, struct MHD_Connection *c,
                                     req_t *r, const char *url)
{
        char tenant[SCIM_MAX_TENANT_LEN + 8], want[SCIM_MAX_TENANT_LEN + 8],
            tid[64];
        const char *auth = scim_http_bearer(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
        size_t tl = strlen(url) - 19;
        int reports_only = 0;
        json_t *out, *sum = NULL, *trec;
        scim_model_t *m;
        scim_err_t e;
        int64_t now = scim_now_ms();
        enum MHD_Result rc;

        if (tl >= sizeof(want))
                return fail(c, r, 404, NULL, "no such tenant");
        memcpy(want, url + 12, tl);
        want[tl] = '\0';
        if (!auth || !scim_store_auth_scoped(api->st, auth, tenant,
                                             sizeof(tenant), tid, sizeof(tid),
                                             &reports_only) ||
            strcmp(tenant, want))
                return refuse_msg(api, c, r, 401, want,
                                  auth ? NULL : "anonymous", auth,
                                  "the bearer token is not valid for this "
                                  "tenant");
        scim_err_clear(&e);
        scim_changes_summary(api->st, tenant, now - 24 * 3600000LL,
                             now + 3600000LL, 24, &sum, &e);
        m = scim_store_model(api->st, tenant);
        trec = scim_store_tenant_get(api->st, tenant, 0, NULL);
        out = json_pack(
            "{s:s, s:s, s:I, s:{s:i, s:i}, s:O?, s:{s:I, s:s}, s:b, s:I}",
            "tenant", tenant, "log", scim_ingest_is_kafka(api->ing) ? "kafka" : "embedded",
            "position", (json_int_t)scim_store_position(api->st), "foldLag",
            "events", 0, "seconds", 0, "last24h",
            json_object_get(sum, "totals"), "rateLimited", "recent",
            (json_int_t)scim_ratelimit_tenant_refused(api->rate, tenant),
            "limit", api->rate_per_s > 0 ? "on" : "off", "disabled",
            json_is_true(json_object_get(trec, "disabled")),
            "schemaGeneration", (json_int_t)scim_model_generation(m));
        if (scim_ingest_is_kafka(api->ing)) /* a node answers writes once it folded them; the
                           consumer's distance to the topic end is not
                           measured here yet */
                json_object_set_new(out, "foldLag", json_null());
        rc = send_json(c, r, 200, out, NULL, NULL);
        json_decref(out);
        json_decref(sum);
        json_decref(trec);
        scim_model_unref(m);
        return rc;
}

/* Takes a request of tenant from its token bucket; when the bucket is
 * empty answers 429 (Retry-After, a SCIM error naming the tenant and its
 * limit) into *rc and returns 1. */
static int over_rate(scim_api_t *api, struct MHD_Connection *c, req_t *r,
                     const char *tenant, enum MHD_Result *rc)
{
        unsigned wait_s = 1;
        scim_err_t e;
        char *txt;

        if (scim_ratelimit_take(api->rate, tenant, &wait_s))
                return 0;
        scim_err_clear(&e);
        scim_err_set(&e, 429, NULL,
                     "tenant '%.64s' is over its rate limit (%g requests/s, "
                     "bursts of %g); retry after %u s",
                     tenant, api->rate_per_s, api->rate_burst, wait_s);
        txt = scim_error_body(&e);
        *rc = send_text(c, r, 429, txt ? txt : "{}", txt ? strlen(txt) : 2,
                        NULL, NULL, (int)wait_s);
        free(txt);
        return 1;
}

/* Takes one of the tenant's places for an expensive request (a list
 * page, .search, a reports API read: api/inflight.c); 0 when it may run,
 * 1 when answered 429 with Retry-After. */
static int over_inflight(scim_api_t *api, struct MHD_Connection *c, req_t *r,
                         const char *tenant, enum MHD_Result *rc)
{
        scim_err_t e;

        if (scim_inflight_enter(api->inflight, tenant))
                return 0;
        scim_err_clear(&e);
        scim_err_set(&e, 429, NULL,
                     "tenant '%.64s' has %u list pages or report reads in "
                     "progress, its most at once (--tenant-concurrency); "
                     "retry after 1 s",
                     tenant, scim_inflight_limit(api->inflight));
        *rc = send_error(c, r, &e); /* 429: Retry-After: 1 */
        return 1;
}

/* The parsed filter (the caller's) when a list is a lookup, else NULL.
 * A lookup's filter seeks one key of an index (an
 * `eq` on id, userName, externalId, emails.value or displayName, alone or
 * under an `and`: scim_filter_index_hint) and it does not ask for a
 * group's members. Entra checks whether a user or group exists this way
 * before every create (`userName eq`, `displayName eq` with
 * excludedAttributes=members); such a page costs about a GET by id, so it
 * does not take one of the tenant's places for expensive requests. A
 * filter that does not parse is left to list() to refuse. */
static scim_filter_t *list_is_lookup(scim_rtype_t rt, json_t *q)
{
        const char *fs = qget(q, "filter"), *v = NULL;
        scim_filter_t *f = NULL;
        scim_err_t e;

        scim_err_clear(&e);
        if (!fs || !*fs || (has_members(rt) && members_wanted(q)) ||
            scim_filter_parse(rt, fs, &f, &e) < 0)
                return NULL;
        if (scim_filter_index_hint(f, rt, &v) == SCIM_IDX_NONE) {
                scim_filter_free(f);
                f = NULL;
        }
        return f;
}

/* list() within the tenant's share of expensive requests (lookups
 * excepted: list_is_lookup). */
static enum MHD_Result list_capped(struct MHD_Connection *c, scim_api_t *api,
                                   req_t *r, const char *tenant,
                                   scim_rtype_t rt, json_t *q)
{
        scim_filter_t *lookup = list_is_lookup(rt, q);
        enum MHD_Result rc;

        if (lookup)
                return list(c, api, r, tenant, rt, q, lookup);
        if (over_inflight(api, c, r, tenant, &rc))
                return rc;
        rc = list(c, api, r, tenant, rt, q, NULL);
        scim_inflight_leave(api->inflight, tenant);
        return rc;
}

/* The reports API's share of its tenant's rate limit: a request whose
 * bearer token is a live token of the tenant the URL names takes from the
 * same bucket as that tenant's SCIM requests (reports.c authenticates it
 * again); any other request goes on to be refused there, so a stranger
 * cannot spend a tenant's bucket. Before, reports were not limited: a
 * tenant held to 20/s on SCIM read 4 MiB change pages at 75/s and another
 * tenant's reads went from 0.8 ms to 491 ms. 1 when answered 429. */
static int reports_over_rate(scim_api_t *api, struct MHD_Connection *c,
                             req_t *r, const char *url, char *who,
                             enum MHD_Result *rc)
{
        const char *auth = scim_http_bearer(r->h.auth), *t;
        char tenant[SCIM_MAX_TENANT_LEN + 8], tid[64];
        int scope = SCIM_SCOPE_ALL;
        size_t tl;

        if (!auth || strncmp(url, "/reports/v1/", 12))
                return 0;
        t = url + 12;
        tl = strcspn(t, "/");
        if (!scim_store_auth_scope(api->st, auth, tenant, sizeof(tenant), tid,
                                   sizeof(tid), &scope) ||
            strlen(tenant) != tl || strncmp(tenant, t, tl) ||
            scope == SCIM_SCOPE_DISABLED)
                return 0;
        memcpy(who, tenant, tl + 1); /* who has SCIM_MAX_TENANT_LEN + 8 */
        return over_rate(api, c, r, tenant, rc);
}

static enum MHD_Result route(scim_api_t *api, struct MHD_Connection *c,
                             req_t *r, const char *url, const char *method)
{
        scim_target_t target;
        char *seg[8];
        int n = 0;
        const char *auth, *raw_q;
        char tenant[SCIM_MAX_TENANT_LEN + 8], tid[64];
        char ftext[512], ulit[512]; /* the userName eq fast path */
        int reports_only = 0, scope = SCIM_SCOPE_ALL, fast_eq = 0, capped;
        scim_rtype_t rt;
        json_t *q = NULL;
        scim_err_t e;
        enum MHD_Result rc;

        /* libmicrohttpd decodes %00 and hands us the path cut there: an
         * id or file name would silently lose its tail */
        if (r->raw_uri && strstr(r->raw_uri, "%00"))
                return fail(c, r, 400, "invalidValue",
                            "the URL contains an encoded NUL (%00)");
        if (!strcmp(url, "/healthz") || !strcmp(url, "/livez")) {
                r->endpoint = "health";
                return send_text(c, r, 200, "{\"status\":\"ok\"}", 15, NULL,
                                 NULL, 0);
        }
        if (!strcmp(url, "/readyz")) { /* ready: serving, not stopping */
                r->endpoint = "health";
                return api->stopping
                           ? send_text(c, r, 503,
                                       "{\"status\":\"stopping\"}", 21,
                                       NULL, NULL, 1)
                           : send_text(c, r, 200, "{\"status\":\"ready\"}",
                                       18, NULL, NULL, 0);
        }
        if (!strcmp(url, "/metrics")) {
                r->endpoint = "metrics";
                return metrics_answer(api, c, r);
        }
        if (scim_model_api_match(url)) { /* tenant definitions */
                r->endpoint = "admin_api";
                return scim_model_api_handle(
                    c, api->st, api->ing,
                    api->operator_hash[0] ? api->operator_hash : NULL, url,
                    method, r->raw_uri, r->body.data, r->body.len,
                    r->request_id);
        }
        if (scim_oauth_match(url)) { /* OAuth 2.0 token endpoint */
                r->endpoint = "oauth";
                return scim_oauth_handle(
                    c, api->st, api->jwt_master, api->jwt_ttl, url, method,
                    r->body.data, r->body.len, api->ing, r->request_id);
        }
        if (scim_admin_api_match(url)) { /* tenants and tokens */
                r->endpoint = "admin_api";
                return scim_admin_api_handle(
                    c, api->st, api->ing,
                    api->operator_hash[0] ? api->operator_hash : NULL,
                    api->tls, url, method, r->body.data, r->body.len,
                    r->request_id);
        }
        if (scim_admin_match(url)) { /* the admin web page, api/admin.c */
                r->endpoint = "admin";
                return scim_admin_serve(c, url, method);
        }
        if (scim_stream_match(url)) { /* the change stream, api/stream.c */
                r->endpoint = "stream";
                scim_conn_guard_streaming(api->guard, c);
                return scim_stream_handle(api->stream, c, url, method,
                                          r->raw_uri, r->request_id);
        }
        r->endpoint = "scim";
        if (is_health(url)) { /* a tenant's health, for the admin page */
                r->endpoint = "reports";
                return tenant_health(api, c, r, url);
        }
        if (scim_reports_match(url)) { /* the reports API, api/reports.c */
                r->endpoint = "reports";
                tenant[0] = '\0';
                if (reports_over_rate(api, c, r, url, tenant, &rc))
                        return rc;
                /* a live token's read holds one of its tenant's places
                 * while it runs here (a point-in-time read only until it
                 * is queued for a report worker) */
                capped = *tenant && (!strcmp(method, "GET") ||
                                     !strcmp(method, "HEAD"));
                if (capped && over_inflight(api, c, r, tenant, &rc))
                        return rc;
                r->conn = c;
                r->rw.cb = on_write_done; /* saved-report writes and
                                             report workers resume */
                r->rw.cb_ctx = r;
                r->rw.jobs = api->jobs;
                rc = scim_reports_handle(c, api->st, api->ing, api->tls, url,
                                         method, r->raw_uri, r->body.data,
                                         r->body.len, r->request_id, &r->rw);
                r->submitted = r->rw.submitted;
                if (capped) /* HEAD builds the page too */
                        scim_inflight_leave(api->inflight, tenant);
                return rc;
        }
        if (!scim_routes_resolve(api->routes, url, r->h.host, &target) ||
            target.n < 1 || target.n > 2)
                return fail(c, r, 404, NULL,
                            "no such endpoint; the SCIM base URL is "
                            "/scim/v2/{tenant}/ (or /scim/v2/ with the "
                            "tenant's token, or a configured mount)");
        auth = scim_http_bearer(r->h.auth);
        if (!auth)
                return refuse_msg(api, c, r, 401, target_tenant(&target),
                                  "anonymous", NULL,
                                  "missing bearer token (Authorization: "
                                  "Bearer <secret>)");
        if (scim_jwt_looks_like(auth)) { /* OAuth 2.0: a signed JWT */
                char client[80], jscope[32];

                scim_err_clear(&e);
                if (scim_jwt_verify(api->st, api->jwt_master, auth,
                                    target.from == SCIM_TENANT_FROM_TOKEN
                                        ? NULL
                                        : target.tenant,
                                    tenant, sizeof(tenant), client,
                                    sizeof(client), jscope, sizeof(jscope),
                                    &e) < 0)
                        return refuse_access(api, c, r, target_tenant(&target),
                                             "jwt", NULL, &e);
                snprintf(tid, sizeof(tid), "client:%.56s", client);
                scope = !strcmp(jscope, "scim-read") ? SCIM_SCOPE_READ
                        : !strcmp(jscope, "reports") ? SCIM_SCOPE_REPORTS
                                                     : SCIM_SCOPE_ALL;
        } else if (!scim_store_auth_scope(api->st, auth, tenant,
                                          sizeof(tenant), tid, sizeof(tid),
                                          &scope))
                return refuse_msg(api, c, r, 401, target_tenant(&target), NULL,
                                  auth, "the bearer token is not valid");
        reports_only = scope == SCIM_SCOPE_REPORTS;
        if (target.from == SCIM_TENANT_FROM_PATH &&
            strcmp(tenant, target.tenant) != 0 && target.n < 4 &&
            target.mount && !strcmp(target.mount, "/scim/v2/{tenant}")) {
                /* /scim/v2/Roles/{id} with the token of a tenant that has
                 * a /Roles endpoint of its own: the token-implied shape
                 * (/scim/v2 + endpoint + id), not a tenant named Roles */
                scim_model_t *m = scim_store_model(api->st, tenant);

                if (scim_model_rtype_by_endpoint(m, target.tenant) &&
                    scim_rtype_is_tenant(
                        scim_model_rtype_by_endpoint(m, target.tenant)->code)) {
                        char *sl = strrchr(target.base_path, '/');

                        for (int k = target.n; k > 0; k--)
                                target.seg[k] = target.seg[k - 1];
                        target.seg[0] = target.tenant;
                        target.n++;
                        if (sl)
                                *sl = '\0';
                        target.from = SCIM_TENANT_FROM_TOKEN;
                        target.mount = "/scim/v2";
                }
                scim_model_unref(m);
        }
        if (target.from != SCIM_TENANT_FROM_TOKEN &&
            strcmp(tenant, target.tenant) != 0) {
                char msg[300];

                /* names match exactly, as created: say so when only the
                 * case differs */
                snprintf(msg, sizeof(msg),
                         strcasecmp(tenant, target.tenant)
                             ? "the bearer token is not valid for this tenant"
                             : "the bearer token is not valid for this "
                               "tenant; tenant names are case-sensitive and "
                               "this token's tenant is spelled '%.64s'",
                         tenant);
                return refuse_msg(api, c, r, 401, target.tenant, "anonymous",
                                  NULL, msg);
        }
        {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                    c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
                char origin[700];

                scim_routes_origin(api->routes, ci ? ci->client_addr : NULL,
                                   api->tls, r->h.host, r->h.xfproto,
                                   r->h.xfhost, r->h.xfprefix, r->h.fwd,
                                   origin, sizeof(origin));
                scim_strjoin(r->base, sizeof(r->base), origin,
                             target.base_path, (char *)NULL);
                tl_base = r->base;
                scim_strjoin(r->tenant, sizeof(r->tenant), tenant,
                             (char *)NULL);
                scim_strjoin(r->actor, sizeof(r->actor), tid, (char *)NULL);
                scim_strjoin(r->tmpl, sizeof(r->tmpl), target.mount, "/",
                             target.seg[0],
                             target.n < 2                      ? ""
                             : !strcmp(target.seg[1], ".search") ? "/.search"
                                                                 : "/{id}",
                             (char *)NULL);
                if (scim_rtype_by_endpoint(target.seg[0])) {
                        r->rt = scim_rtype_by_endpoint(target.seg[0])->code;
                } else {
                        scim_model_t *m = scim_store_model(api->st, tenant);
                        const scim_rtype_row_t *row =
                            scim_model_rtype_by_endpoint(m, target.seg[0]);

                        r->rt = row ? row->code : 0;
                        scim_model_unref(m);
                }
        }
        /* the rest of routing sees /scim/v2/{tenant}/endpoint[/id] */
        seg[0] = "scim";
        seg[1] = "v2";
        seg[2] = r->tenant;
        seg[3] = target.seg[0];
        seg[4] = target.n > 1 ? target.seg[1] : NULL;
        n = 3 + target.n;
        if (reports_only) /* a report-only token (reports API) */
                return refuse_msg(api, c, r, 403, tenant, tid, NULL,
                                  "this token may only read /reports/v1/");
        if (scope == SCIM_SCOPE_DISABLED) {
                char msg[160];

                snprintf(msg, sizeof(msg),
                         "tenant '%.64s' is disabled; its data is kept, "
                         "and an operator can enable it again",
                         tenant);
                return refuse_msg(api, c, r, 403, tenant, tid, NULL, msg);
        }
        if (!strcmp(method, "HEAD")) /* a GET whose answer has no body */
                method = "GET";      /* (libmicrohttpd sends none) */
        if (scope == SCIM_SCOPE_READ && strcmp(method, "GET") &&
            !(!strcmp(method, "POST") && target.n == 2 &&
              !strcmp(target.seg[1], ".search")))
                return refuse_msg(api, c, r, 403, tenant, tid, NULL,
                                  "this token may only read (scope "
                                  "scim-read)");
        if (over_rate(api, c, r, tenant, &rc))
                return rc;
        raw_q = r->raw_uri ? strchr(r->raw_uri, '?') : NULL;
        scim_err_clear(&e);
        /* GET /Users?filter=userName eq "x" alone (the clients' lookup
         * before a create): answered below without the query object,
         * which nothing before it reads */
        if (!strcmp(method, "GET") && n == 4 && raw_q &&
            scim_query_username_eq(raw_q + 1, ftext, sizeof(ftext), ulit,
                                   sizeof(ulit)) &&
            username_eq_ok()) {
                fast_eq = 1;
        } else if (scim_query_parse(raw_q ? raw_q + 1 : "", &q, &e) < 0 ||
                   scim_attr_lists_check(q, &e) < 0) {
                json_decref(q);
                return send_error(c, r, &e);
        }

        if (!strcasecmp(seg[3], "Schemas") ||
            !strcasecmp(seg[3], "ResourceTypes") ||
            !strcasecmp(seg[3], "ServiceProviderConfig") ||
            !strcasecmp(seg[3], "serviceConfiguration")) {
                scim_model_t *m = scim_store_model(api->st, tenant);

                r->allow = "GET, HEAD";
                rc = strcmp(method, "GET")
                         ? fail(c, r, 405, NULL, "discovery is read-only")
                         : discovery(c, r, m, seg[3], n == 5 ? seg[4] : NULL);
                scim_model_unref(m);
                goto out;
        }
        if (r->rt) /* the tenant's table (built-in rows or its own) */
                rt = r->rt;
        else if (scim_rtype_by_endpoint(seg[3]))
                rt = scim_rtype_by_endpoint(seg[3])->code;
        else if (!strcasecmp(seg[3], "Bulk") || !strcasecmp(seg[3], "Me") ||
                 !strcmp(seg[3], ".search")) {
                /* RFC 7644 endpoints this server does not offer (bulk and
                 * sort are "supported": false in ServiceProviderConfig) */
                rc = fail(c, r, 501, NULL,
                          !strcasecmp(seg[3], "Bulk")
                              ? "bulk operations are not supported; send "
                                "one request per resource"
                          : !strcasecmp(seg[3], "Me")
                              ? "/Me is not supported: a token names a "
                                "tenant, not a user"
                              : "search across resource types is not "
                                "supported; POST /Users/.search or "
                                "/Groups/.search");
                goto out;
        } else {
                rc = fail(c, r, 404, NULL, "no such resource endpoint");
                goto out;
        }
        r->rt = rt;
        {
                scim_model_t *m = scim_store_model(api->st, tenant);
                int on = scim_model_enabled(m, rt);

                scim_model_unref(m);
                if (!on) {
                        rc = fail(c, r, 404, NULL,
                                  rt == SCIM_RT_GROUP
                                      ? "Groups are not enabled for this "
                                        "tenant"
                                  : rt == SCIM_RT_USER
                                      ? "Users are not enabled for this "
                                        "tenant"
                                      : "this resource type is not enabled "
                                        "for this tenant");
                        goto out;
                }
        }
        if (!strcmp(method, "GET")) {
                if (fast_eq && rt == SCIM_RT_USER &&
                    !has_returned_rules(api, tenant, rt)) {
                        int done = 0;

                        rc = list_one_fast(c, api, r, tenant, NULL, ftext, ulit,
                                           &done);
                        if (done)
                                goto out;
                }
                /* not answered above: the query object after all (it
                 * parses: scim_query_username_eq said so) */
                if (fast_eq && (scim_query_parse(raw_q + 1, &q, &e) < 0 ||
                                scim_attr_lists_check(q, &e) < 0)) {
                        rc = send_error(c, r, &e);
                        goto out;
                }
                rc = n == 5 ? get_one(c, api, r, tenant, rt, seg[4], q)
                            : list_capped(c, api, r, tenant, rt, q);
                goto out;
        }
        if (n == 5 && !strcmp(seg[4], ".search")) {
                json_t *sq = NULL;

                r->allow = "POST";
                if (strcmp(method, "POST"))
                        rc = fail(c, r, 405, NULL, ".search takes POST");
                else if (!content_type_ok(r))
                        rc = fail(c, r, 415, NULL,
                                  "send application/scim+json or "
                                  "application/json");
                else if (scim_search_body_parse(r->body.data, r->body.len,
                                                &sq, &e) < 0 ||
                         scim_attr_lists_check(sq, &e) < 0)
                        rc = send_error(c, r, &e);
                else
                        rc = list_capped(c, api, r, tenant, rt, sq);
                json_decref(sq);
                goto out;
        }
        {
                scim_write_t w;
                scim_write_result_t now;

                memset(&w, 0, sizeof(w));
                if (!strcmp(method, "POST") && n == 4)
                        w.action = SCIM_ACT_CREATE;
                else if (!strcmp(method, "PUT") && n == 5)
                        w.action = SCIM_ACT_REPLACE;
                else if (!strcmp(method, "PATCH") && n == 5)
                        w.action = SCIM_ACT_PATCH;
                else if (!strcmp(method, "DELETE") && n == 5)
                        w.action = SCIM_ACT_DELETE;
                else {
                        r->allow = n == 5 ? "GET, HEAD, PUT, PATCH, DELETE"
                                          : "GET, HEAD, POST";
                        rc = fail(c, r, 405, NULL,
                                  "method not allowed on this endpoint");
                        goto out;
                }
                if (w.action != SCIM_ACT_DELETE && !content_type_ok(r)) {
                        rc = fail(c, r, 415, NULL,
                                  "send application/scim+json or "
                                  "application/json");
                        goto out;
                }
                w.tenant = tenant;
                w.actor = tid;
                w.request_id = r->request_id;
                w.rtype = rt;
                r->rt = rt;
                w.id = n == 5 ? seg[4] : NULL;
                w.body = r->body.data;
                w.body_len = r->body.len;
                w.if_match = r->h.ifmatch;
                w.want_text = 1; /* answer_write splices it */
                /* a pool thread serving other connections never waits
                 * for a commit: they would queue behind its fdatasync
                 * one at a time (16 connections on one thread: batches
                 * of 1, a fifth of the throughput) */
                w.may_wait = scim_conn_guard_thread_alone();
                r->conn = c;
                r->submitted = 1;
                /* suspend first: the verdict may arrive before submit
                 * returns */
                MHD_suspend_connection(c);
                if (scim_ingest_submit(api->ing, &w, on_write_done, r, &now) ==
                    0) {
                        pthread_mutex_lock(&r->mu);
                        r->result = now;
                        r->done = 1;
                        pthread_mutex_unlock(&r->mu);
                        MHD_resume_connection(c);
                }
                rc = MHD_YES;
        }
out:
        json_decref(q);
        return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
                               const char *url, const char *method,
                               const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
        scim_api_t *api = cls;
        req_t *r = *con_cls;

        if (!r) /* no URI log callback ran: should not happen */
                return MHD_NO;
        if (!r->started) {
                const char *cl;

                MHD_get_connection_values(c, MHD_HEADER_KIND, header_one,
                                          &r->h);
                cl = r->h.clen;
                r->started = 1;
                scim_strjoin(r->method, sizeof(r->method), method,
                             (char *)NULL);
                scim_conn_guard_busy(api->guard, c);
                set_request_id(r);
                {
                        char detail[160];
                        int st = scim_conn_guard_oversize(c, r->raw_uri,
                                                          detail,
                                                          sizeof(detail));

                        if (st) { /* 414/431 as SCIM errors */
                                r->close = 1;
                                return fail(c, r, st, NULL, detail);
                        }
                }
                if (!scim_http_host_ok(r->h.host))
                        /* it would be copied into Location (RFC 9112 3.2:
                         * an invalid Host is a 400) */
                        return fail(c, r, 400, "invalidValue",
                                    "the Host header is not a host name "
                                    "with an optional port");
                if (api->stopping) /* draining for shutdown: answered
                                      503 once the body is read (an answer
                                      before it, then a close, would reset
                                      the connection under the client) */
                        r->close = 1;
                if (cl && strtoull(cl, NULL, 10) > api->max_body) {
                        /* answered before the body is read, so a client
                         * sending Expect: 100-continue gets 413, not 100 */
                        char msg[96];

                        snprintf(msg, sizeof(msg),
                                 "request body exceeds %zu bytes",
                                 api->max_body);
                        r->close = 1;
                        return fail(c, r, 413, NULL, msg);
                }
                return MHD_YES;
        }
        if (*upload_data_size) {
                if (r->body.len + *upload_data_size <= api->max_body) {
                        scim_buf_append(&r->body, upload_data, *upload_data_size);
                        *upload_data_size = 0;
                        return MHD_YES;
                }
                /* a body without Content-Length (chunked) past the
                 * limit: the connection is closed here rather than the
                 * body read to its end (an endless one never ends, and
                 * libmicrohttpd 0.9.75 takes no answer in mid-body) */
                r->status = 413;
                *upload_data_size = 0;
                return MHD_NO;
        }
        if (!r->body_done) { /* the body is complete */
                r->body_done = 1;
                scim_conn_guard_body_done(api->guard, c);
        }
        if (r->submitted) {
                int done;

                pthread_mutex_lock(&r->mu);
                done = r->done;
                pthread_mutex_unlock(&r->mu);
                if (!done)
                        return MHD_YES;
                {
                        json_t *q = NULL;
                        const char *raw_q = r->raw_uri ? strchr(r->raw_uri, '?')
                                                       : NULL;
                        scim_err_t e;
                        enum MHD_Result rc;

                        if (r->rw.submitted)
                                return scim_reports_answer_write(
                                    c, api->st, &r->rw, &r->result,
                                    r->request_id);
                        tl_base = r->base;
                        scim_query_parse(raw_q ? raw_q + 1 : "", &q, &e);
                        rc = answer_write(c, api, r, r->tenant, r->rt, method,
                                          q);
                        json_decref(q);
                        return rc;
                }
        }
        if (r->close && !r->submitted)
                return fail(c, r, 503, NULL,
                            "the server is shutting down; retry on another "
                            "node or after restart");
        /* pages shrink while slow readers hold the answer budget */
        scim_page_bytes_set(scim_resp_page_cap());
        return route(api, c, r, url, method);
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
        req_t *r = malloc(sizeof(*r));

        if (!r)
                return NULL;
        memset(r, 0, offsetof(req_t, base));
        r->base[0] = '\0';
        r->raw_uri = strdup(uri ? uri : "");
        clock_gettime(CLOCK_MONOTONIC, &r->t0);
        pthread_mutex_init(&r->mu, NULL);
        return r;
}

/* One access-log line on stderr when a request ends: JSON (time, request
 * id, tenant, method, path template, status, latency, bytes, actor) or
 * the human form "METHOD URI STATUS MS". */
static void access_log(scim_api_t *api, const req_t *r,
                       const struct timespec *t1)
{
        double ms = (double)(t1->tv_sec - r->t0.tv_sec) * 1e3 +
                    (double)(t1->tv_nsec - r->t0.tv_nsec) / 1e6;
        char ts[32], *txt;
        json_t *o;

        if (api->access_log == 1) {
                fprintf(stderr, "%s %s %u %.1fms\n", r->method,
                        r->raw_uri ? r->raw_uri : "", r->status, ms);
                return;
        }
        scim_time_format(scim_now_ms(), ts);
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:I, "
                      "s:s}",
                      "time", ts, "level", "info", "msg", "request",
                      "request_id", r->request_id, "tenant", r->tenant,
                      "method", r->method, "path",
                      r->tmpl[0]       ? r->tmpl
                      : r->endpoint    ? r->endpoint
                                       : "other",
                      "status", (int)r->status, "latency_ms", ms, "bytes",
                      (json_int_t)r->bytes, "actor", r->actor);
        txt = o ? scim_json_dumps(o) : NULL;
        if (txt)
                fprintf(stderr, "%s\n", txt);
        free(txt);
        json_decref(o);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
        scim_api_t *api = cls;
        req_t *r = *con_cls;

        (void)toe;
        scim_conn_guard_idle(api->guard, c);
        if (!r)
                return;
        {
                struct timespec t1;

                clock_gettime(CLOCK_MONOTONIC, &t1);
                if (api->access_log)
                        access_log(api, r, &t1);
                scim_metrics_request(
                    api->metrics, r->endpoint ? r->endpoint : "other",
                    r->tenant,
                    !r->tenant[0]                  ? ""
                    : scim_rtype_is_tenant(r->rt)   ? "Custom"
                    : !scim_rtype_name(r->rt)       ? ""
                                                    : scim_rtype_name(r->rt),
                    r->method, r->status,
                    (double)(t1.tv_sec - r->t0.tv_sec) +
                        (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e9,
                    r->bytes);
        }
        json_decref(r->result.resource);
        scim_buf_free(&r->result.text);
        scim_reports_write_release(&r->rw); /* a read whose client left */
        scim_buf_free(&r->body);
        free(r->raw_uri);
        pthread_mutex_destroy(&r->mu);
        free(r);
        *con_cls = NULL;
}

static char *read_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        scim_buf_t b = {0};
        char chunk[4096];
        size_t n;

        if (!f)
                return NULL;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                scim_buf_append(&b, chunk, n);
        fclose(f);
        if (!b.data)
                scim_buf_append(&b, "", 0);
        return b.data;
}

int scim_api_start(const scim_api_config_t *cfg, scim_store_t *st,
                   scim_ingest_t *ing, scim_api_t **out, char *errstr,
                   size_t errlen)
{
        scim_api_t *api = calloc(1, sizeof(*api));
        struct sockaddr_storage sa;
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        /* reads are CPU work: a few more threads than cores let the
         * kernel share the cores when one request is slow */
        unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads
                           : ncpu >= 2      ? (unsigned)(2 * ncpu)
                                            : 4;
        const union MHD_DaemonInfo *info;

        *out = NULL;
        if (!api) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        api->st = st;
        api->ing = ing;
        api->max_body = cfg->max_body ? cfg->max_body : SCIM_MAX_BODY_DEFAULT;
        {
                const char *al = cfg->access_log ? cfg->access_log
                                                 : getenv("SCIMLOG_ACCESS_LOG");

                api->access_log = !al || !strcmp(al, "off") || !strcmp(al, "0")
                                      ? 0
                                  : !strcmp(al, "json") ? 2
                                                        : 1;
        }
        {
                /* numeric IPv4 or IPv6, or a name resolved once at start */
                struct addrinfo hints, *ai = NULL;
                char port[16];

                memset(&hints, 0, sizeof(hints));
                hints.ai_family = AF_UNSPEC;
                hints.ai_socktype = SOCK_STREAM;
                hints.ai_flags = AI_PASSIVE;
                snprintf(port, sizeof(port), "%d", cfg->port);
                if (getaddrinfo(cfg->host && *cfg->host ? cfg->host : NULL,
                                port, &hints, &ai) != 0 ||
                    !ai || ai->ai_addrlen > sizeof(sa)) {
                        snprintf(errstr, errlen,
                                 "listen address '%s' is not an address",
                                 cfg->host ? cfg->host : "");
                        if (ai)
                                freeaddrinfo(ai);
                        free(api);
                        return -1;
                }
                memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
                if (ai->ai_family == AF_INET6)
                        flags |= MHD_USE_IPv6;
                freeaddrinfo(ai);
        }
        if (cfg->tls_cert) {
                api->cert = read_file(cfg->tls_cert);
                api->key = read_file(cfg->tls_key);
                if (!api->cert || !api->key) {
                        snprintf(errstr, errlen, "cannot read TLS cert/key");
                        free(api->cert);
                        free(api->key);
                        free(api);
                        return -1;
                }
                api->tls = 1;
                flags |= MHD_USE_TLS;
        }
        api->stream = scim_stream_hub_new(st); /* NULL: streams answer 503 */
        scim_stream_hub_set_ingest(api->stream, api->ing);
        {
                /* connections: as configured, within the descriptors left
                 * after RocksDB, Kafka and the log (1,024 kept back) */
                unsigned budget = scim_conn_guard_fd_budget();
                unsigned limit = cfg->max_conns ? cfg->max_conns
                                                : SCIM_MAX_CONNS_DEFAULT;

                if (budget < 1024 + 64)
                        budget = 1024 + 64;
                if (limit > budget - 1024)
                        limit = budget - 1024;
                api->guard = scim_conn_guard_new(
                    limit,
                    cfg->header_timeout_s ? cfg->header_timeout_s
                                          : SCIM_HEADER_TIMEOUT_DEFAULT,
                    cfg->idle_timeout_s ? cfg->idle_timeout_s
                                        : SCIM_IDLE_TIMEOUT_DEFAULT);
                api->conn_limit = limit;
                api->drain_ms = cfg->drain_ms ? cfg->drain_ms
                                              : SCIM_DRAIN_MS_DEFAULT;
                api->scan_limit = cfg->scan_limit ? cfg->scan_limit
                                                  : SCIM_SCAN_LIMIT_DEFAULT;
                api->scan_ms = cfg->scan_ms ? cfg->scan_ms
                                            : SCIM_SCAN_MS_DEFAULT;
                pthread_mutex_init(&api->scan_mu, NULL);
                api->rate_per_s = cfg->rate_per_s < 0  ? 0
                                  : cfg->rate_per_s > 0 ? cfg->rate_per_s
                                                        : SCIM_RATE_DEFAULT;
                api->rate_burst = cfg->rate_burst > 0 ? cfg->rate_burst
                                  : cfg->rate_per_s > 0
                                      ? 2 * cfg->rate_per_s
                                      : SCIM_BURST_DEFAULT;
                api->routes = scim_routes_new(
                    cfg->mounts, cfg->n_mounts, cfg->host_suffix,
                    cfg->trusted_proxies, cfg->n_trusted_proxies, errstr,
                    errlen);
                if (!api->routes) {
                        scim_conn_guard_free(api->guard);
                        scim_stream_hub_free(api->stream);
                        free(api->cert);
                        free(api->key);
                        free(api);
                        return -1;
                }
                api->rate = api->rate_per_s > 0
                                ? scim_ratelimit_new(api->rate_per_s,
                                                     api->rate_burst)
                                : NULL;
                api->inflight = scim_inflight_new(
                    cfg->tenant_concurrency ? cfg->tenant_concurrency
                    : threads / 2 > 2      ? threads / 2
                                           : 2);
                scim_resp_budget_set(cfg->unsent_bytes);
                api->metrics = scim_metrics_new();
                api->jobs = scim_report_jobs_new(
                    cfg->report_threads ? cfg->report_threads : 1,
                    cfg->report_queue ? cfg->report_queue
                                      : SCIM_REPORT_QUEUE_DEFAULT,
                    SCIM_REPORT_PER_TENANT,
                    cfg->report_ms ? cfg->report_ms : SCIM_REPORT_MS_DEFAULT);
                api->metrics_token =
                    cfg->metrics_token ? strdup(cfg->metrics_token) : NULL;
                if (cfg->operator_token)
                        scim_sha256_hex(cfg->operator_token,
                                        strlen(cfg->operator_token),
                                        api->operator_hash);
                api->jwt_master =
                    cfg->jwt_key ? strdup(cfg->jwt_key) : NULL;
                api->jwt_ttl = cfg->jwt_ttl > 0 ? cfg->jwt_ttl
                                                : SCIM_JWT_TTL_DEFAULT;
        }
        {
                /* TLS options only when serving HTTPS; empty list otherwise */
                struct MHD_OptionItem tls_opts[3] = {
                    {MHD_OPTION_HTTPS_MEM_CERT, 0, api->cert},
                    {MHD_OPTION_HTTPS_MEM_KEY, 0, api->key},
                    {MHD_OPTION_END, 0, NULL}};

                api->d = MHD_start_daemon(
                    flags, 0, NULL, NULL, handler, api,
                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                    MHD_OPTION_THREAD_POOL_SIZE, threads,
                    /* inactivity while receiving a body or sending an
                     * answer; header and keep-alive deadlines are the
                     * guard's */
                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                    MHD_OPTION_CONNECTION_LIMIT, api->conn_limit,
                    MHD_OPTION_NOTIFY_CONNECTION, scim_conn_guard_notify,
                    api->guard,
                    /* libmicrohttpd clears a connection's pool on every
                     * request: 16 KiB (default 32) still takes 14 KB of
                     * headers and streams bodies of any size */
                    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
                    MHD_OPTION_URI_LOG_CALLBACK, uri_log, api,
                    MHD_OPTION_NOTIFY_COMPLETED, completed, api,
                    MHD_OPTION_ARRAY, api->tls ? tls_opts : tls_opts + 2,
                    MHD_OPTION_END);
        }
        if (!api->d || !api->guard || !api->jobs) {
                snprintf(errstr, errlen, "cannot listen on %s:%d%s",
                         cfg->host ? cfg->host : "127.0.0.1", cfg->port,
                         api->jobs ? "" : " (no report worker thread)");
                if (api->d)
                        MHD_stop_daemon(api->d);
                scim_report_jobs_free(api->jobs);
                scim_conn_guard_free(api->guard);
                scim_ratelimit_free(api->rate);
                scim_inflight_free(api->inflight);
                scim_routes_free(api->routes);
                scim_stream_hub_free(api->stream);
                free(api->cert);
                free(api->key);
                free(api);
                return -1;
        }
        info = MHD_get_daemon_info(api->d, MHD_DAEMON_INFO_BIND_PORT);
        api->port = info ? info->port : cfg->port;
        *out = api;
        return 0;
}

int scim_api_port(const scim_api_t *api)
{
        return api->port;
}

/* Sleeps ms milliseconds. */
static void nap(unsigned ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

/*
 * Stops new connections without closing the listening socket: a socket
 * filter that accepts nothing drops every new SYN (the client retries it,
 * then finds the port closed — it never sent a request), while
 * libmicrohttpd still accepts what the kernel already queued, so no
 * connection is reset. (MHD_quiesce_daemon races with the pool threads'
 * own epoll bookkeeping in libmicrohttpd 0.9.75 and can abort.)
 */
static void drop_new_connections(struct MHD_Daemon *d)
{
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
        struct sock_filter none[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
        struct sock_fprog prog = {1, none};

        if (di && di->listen_fd != MHD_INVALID_SOCKET)
                setsockopt(di->listen_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                           sizeof(prog));
}

/*
 * Clean stop: no new connections (the listening socket is closed), new
 * requests on open connections get 503 with Connection: close, parked
 * streams end, and every request in progress — above all writes
 * suspended until their commit — is answered before the daemon stops
 * (libmicrohttpd must not be stopped with suspended connections). Ingest
 * keeps committing meanwhile; the wait is bounded by drain_ms.
 */
void scim_api_stop(scim_api_t *api)
{
        unsigned waited = 0;

        if (!api)
                return;
        /* requests on open connections are answered 503 + close, new
         * connections are not let in, parked streams end */
        api->stopping = 1;
        drop_new_connections(api->d);
        scim_stream_hub_close(api->stream); /* resumes parked streams */
        scim_conn_guard_close_idle(api->guard);
        nap(20); /* handshakes under way reach libmicrohttpd */
        /* every request in progress (writes waiting for their commit
         * too), and connections accepted whose request is still to come */
        while (scim_conn_guard_unsettled(api->guard) > 0 &&
               waited < api->drain_ms) {
                nap(10);
                waited += 10;
        }
        /* point-in-time reads still waiting are answered 503; running
         * ones complete (a connection must not be suspended at
         * MHD_stop_daemon), and a pool thread sends their answers */
        scim_report_jobs_stop(api->jobs);
        for (waited = 0; scim_conn_guard_unsettled(api->guard) > 0 &&
                         waited < 1000;
             waited += 10)
                nap(10);
        if (scim_conn_guard_unsettled(api->guard) > 0)
                fprintf(stderr,
                        "scimlog: %u requests still in progress after %u ms; "
                        "stopping anyway\n",
                        scim_conn_guard_unsettled(api->guard), api->drain_ms);
        scim_conn_guard_close_idle(api->guard);
        MHD_stop_daemon(api->d);
        scim_report_jobs_free(api->jobs);
        scim_conn_guard_free(api->guard);
        scim_ratelimit_free(api->rate);
        scim_inflight_free(api->inflight);
        scim_routes_free(api->routes);
        scim_metrics_free(api->metrics);
        free(api->metrics_token);
        free(api->jwt_master);
        scim_stream_hub_free(api->stream);
        free(api->cert);
        free(api->key);
        free(api);
}
