/*
 * model_api.c — a tenant's definition over HTTP (docs/tenant-schemas.md):
 *
 *   GET    /admin/v1/tenants/{t}/schema             the definition
 *   PUT    /admin/v1/tenants/{t}/schema[?dryRun=true][&force=true]
 *   DELETE /admin/v1/tenants/{t}/schema             back to built-in
 *   GET    /admin/v1/tenants/{t}/catalogs/{name}    its values
 *   PUT    /admin/v1/tenants/{t}/catalogs/{name}    {"values": [...]}
 *   PATCH  /admin/v1/tenants/{t}/catalogs/{name}    {"add": [...],
 *                                                    "remove": [...]}
 *
 * Credential: a token of tenant t with scope "tenant-admin" (scimlog
 * tenant token issue t --scope tenant-admin), or an operator token
 * (serve --operator-token-file). A SCIM token of the tenant is refused
 * (403): the customer's identity provider holds it, and the rules are the
 * vendor's. Every change is a SCHEMA_PUT/DELETE event (reports show who
 * made it); a change that existing resources would violate is refused
 * (409, listing them) unless force=true, and dryRun=true answers what the
 * change would do without writing.
 */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admin_route.h"
#include "api/audit_internal.h"
#include "api/conn_guard_internal.h"
#include "api/http_internal.h"
#include "api/model_api_internal.h"
#include "api/scim_api.h"
#include "model/scim_model.h"

#define PREFIX "/admin/v1/tenants/"
#define MAX_VIOLATIONS 100

typedef struct mq {
        struct MHD_Connection *c;
        scim_store_t *st;
        scim_ingest_t *ing;
        const char *request_id;
        const char *operator_hash; /* sha256 hex or NULL */
        char tenant[SCIM_MAX_TENANT_LEN + 8];
        char actor[80];
        json_t *params;
        /* audit (api/audit.c): what the call asks ("TOKEN_REVOKE", ...;
         * NULL for reads); an error answer is recorded as a refusal of
         * r->tenant unless the call appended an event (the fold recorded
         * its verdict) */
        const char *attempted;
        scim_ingest_caller_t caller;
} mq_t;

int scim_model_api_match(const char *url)
{
        const char *p;

        if (strncmp(url, PREFIX, strlen(PREFIX)))
                return 0;
        p = strchr(url + strlen(PREFIX), '/');
        return p && (!strcmp(p, "/schema") || !strncmp(p, "/catalogs/", 10));
}

static enum MHD_Result send_body(mq_t *r, unsigned status, const char *ctype,
                                 const char *body, size_t len)
{
        return scim_answer(r->c, status, ctype, body, len, r->request_id, NULL,
                           NULL);
}

static enum MHD_Result send_json(mq_t *r, unsigned status, const json_t *j)
{
        char *txt = scim_json_dumps(j);
        enum MHD_Result rc;

        if (!txt)
                return send_body(r, 503, "application/json", "{}", 2);
        rc = send_body(r, status, "application/json; charset=utf-8", txt,
                       strlen(txt));
        free(txt);
        return rc;
}

static enum MHD_Result send_err(mq_t *r, const scim_err_t *e)
{
        char *txt = scim_error_body(e);
        enum MHD_Result rc;

        if (r->attempted && !r->caller.appended)
                scim_audit_refusal(r->ing, r->st,
                                   r->tenant[0] ? r->tenant : NULL,
                                   r->actor[0] ? r->actor : "anonymous",
                                   r->request_id, r->attempted, e);

        rc = send_body(r, (unsigned)(e->status ? e->status : 500),
                       "application/scim+json; charset=utf-8",
                       txt ? txt : "{}", txt ? strlen(txt) : 2);
        free(txt);
        return rc;
}

__attribute__((format(printf, 4, 5))) static enum MHD_Result
fail(mq_t *r, int status, const char *type, const char *fmt, ...)
{
        scim_err_t e;
        char msg[600];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        scim_err_clear(&e);
        scim_err_set(&e, status, type, "%s", msg);
        return send_err(r, &e);
}

static int param_true(mq_t *r, const char *k)
{
        const char *v = json_string_value(json_object_get(r->params, k));

        return v && (scim_strcaseeq(v, "true") || !strcmp(v, "1"));
}

/* ------------------------------------------------------- auth */

/* 0 when the caller may administer r->tenant, else the status to send
 * (401; 403 not tenant-admin; 423 for a disabled tenant's token, sent as
 * 403). Live tokens only: a revoked token, or the old one of a rotation
 * past its overlap, is 401 here as on the SCIM API. */
static int authorize(mq_t *r, const char *secret)
{
        char tenant[SCIM_MAX_TENANT_LEN + 8], tid[64];
        int scope = SCIM_SCOPE_ALL;

        if (!secret)
                return 401;
        if (r->operator_hash) {
                char h[65];

                scim_sha256_hex(secret, strlen(secret), h);
                if (scim_ct_equal(h, r->operator_hash, 64)) {
                        snprintf(r->actor, sizeof(r->actor), "operator");
                        return 0;
                }
        }
        if (!scim_store_auth_scope(r->st, secret, tenant, sizeof(tenant), tid,
                                   sizeof(tid), &scope))
                return 401;
        if (strcmp(tenant, r->tenant))
                return 401;
        snprintf(r->actor, sizeof(r->actor), "%s", tid);
        if (scope == SCIM_SCOPE_DISABLED)
                return 423;
        if (scope != SCIM_SCOPE_ADMIN)
                return 403;
        return 0;
}

/* Compiles def, checks the tenant's resources, writes it unless dryRun
 * (or refused). expect: generation the change was made from, -1 any. */
static enum MHD_Result put_definition(mq_t *r, const json_t *def,
                                      int64_t expect)
{
        scim_model_t *m = NULL;
        scim_err_t e;
        json_t *report, *out;
        long bad = 0;
        char *txt;
        int status = 0;
        enum MHD_Result rc;

        scim_err_clear(&e);
        {
                json_t *codes = scim_store_model_codes(r->st, r->tenant);
                int crc = scim_model_compile_codes(def, codes, 0, &m, &e);

                json_decref(codes);
                if (crc < 0)
                        return send_err(r, &e);
        }
        if (expect >= 0) { /* If-Match first: the check is against now */
                scim_model_t *cur = scim_store_model(r->st, r->tenant);
                int64_t g = scim_model_generation(cur);

                scim_model_unref(cur);
                if (g != expect) {
                        scim_model_unref(m);
                        return fail(r, 412, NULL,
                                    "the tenant definition is at generation "
                                    "%lld, not %lld",
                                    (long long)g, (long long)expect);
                }
        }
        report = scim_store_model_check(r->st, r->tenant, m, MAX_VIOLATIONS,
                                        &bad);
        scim_model_unref(m);
        if (param_true(r, "dryrun")) {
                json_object_set_new(report, "valid", json_true());
                json_object_set_new(report, "applied", json_false());
                rc = send_json(r, 200, report);
                json_decref(report);
                return rc;
        }
        if (bad && !param_true(r, "force")) {
                char *v = scim_json_dumps(json_object_get(report, "violations"));

                scim_err_set(&e, 409, "invalidValue",
                             "%ld existing resource(s) would violate this "
                             "definition (apply with force=true to keep "
                             "them as stored): %.400s",
                             bad, v ? v : "");
                free(v);
                json_decref(report);
                return send_err(r, &e);
        }
        txt = scim_json_dumps(def);
        if (!txt ||
            scim_ingest_schema(r->ing, r->tenant, r->actor, r->request_id, txt,
                               expect, &status, &e) < 0) {
                free(txt);
                json_decref(report);
                if (!e.status)
                        scim_err_set_retry(&e, 503, "out of memory");
                return send_err(r, &e);
        }
        free(txt);
        m = scim_store_model(r->st, r->tenant);
        out = json_pack("{s:s, s:I, s:O?, s:o}", "tenant", r->tenant,
                        "generation", (json_int_t)scim_model_generation(m),
                        "definition", scim_model_definition(m), "check",
                        report);
        scim_model_unref(m);
        rc = send_json(r, (unsigned)status, out);
        json_decref(out);
        return rc;
}

static int64_t if_match_generation(mq_t *r)
{
        const char *h = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
                                                    "If-Match");
        char *end;
        long long g;

        if (!h)
                return -1;
        while (*h == 'W' || *h == '/' || *h == '"')
                h++;
        g = strtoll(h, &end, 10);
        return end == h ? -2 : g;
}

static enum MHD_Result schema_call(mq_t *r, const char *method,
                                   const char *body, size_t len)
{
        scim_err_t e;

        scim_err_clear(&e);
        if (!strcmp(method, "GET")) {
                scim_model_t *m = scim_store_model(r->st, r->tenant);
                json_t *out = json_pack(
                    "{s:s, s:I, s:O?}", "tenant", r->tenant, "generation",
                    (json_int_t)scim_model_generation(m), "definition",
                    scim_model_definition(m));
                enum MHD_Result rc = send_json(r, 200, out);

                json_decref(out);
                scim_model_unref(m);
                return rc;
        }
        if (!strcmp(method, "PUT")) {
                json_t *def;
                json_error_t je;
                enum MHD_Result rc;
                int64_t g = if_match_generation(r);

                if (g == -2)
                        return fail(r, 400, "invalidValue",
                                    "If-Match must name a generation "
                                    "(W/\"3\")");
                if (len > SCIM_MODEL_MAX_BYTES)
                        return fail(r, 413, NULL,
                                    "a tenant definition is at most %d bytes",
                                    SCIM_MODEL_MAX_BYTES);
                def = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES,
                                 &je);
                if (!def)
                        return fail(r, 400, "invalidSyntax",
                                    "the definition is not JSON: %s at "
                                    "line %d column %d",
                                    je.text, je.line, je.column);
                rc = put_definition(r, def, g);
                json_decref(def);
                return rc;
        }
        if (!strcmp(method, "DELETE")) {
                int status = 0;

                if (scim_ingest_schema(r->ing, r->tenant, r->actor,
                                       r->request_id, NULL, -1, &status,
                                       &e) < 0)
                        return send_err(r, &e);
                return send_body(r, 204, "application/json", "", 0);
        }
        return fail(r, 405, NULL, "the schema takes GET, PUT and DELETE");
}

static enum MHD_Result catalog_call(mq_t *r, const char *method,
                                    const char *name, const char *body,
                                    size_t len)
{
        scim_model_t *m = scim_store_model(r->st, r->tenant);
        const json_t *vals = scim_model_catalog(m, name);
        json_t *in = NULL, *def = NULL;
        scim_err_t e;
        enum MHD_Result rc;

        scim_err_clear(&e);
        if (!vals) {
                rc = fail(r, 404, NULL,
                          "catalog '%.64s' is not defined for tenant "
                          "'%.64s'",
                          name, r->tenant);
                goto out;
        }
        if (!strcmp(method, "GET")) {
                json_t *o = json_pack("{s:s, s:O, s:I}", "catalog", name,
                                      "values", vals, "generation",
                                      (json_int_t)scim_model_generation(m));

                rc = send_json(r, 200, o);
                json_decref(o);
                goto out;
        }
        if (strcmp(method, "PUT") && strcmp(method, "PATCH")) {
                rc = fail(r, 405, NULL, "a catalog takes GET, PUT and PATCH");
                goto out;
        }
        in = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(in)) {
                rc = fail(r, 400, "invalidSyntax",
                          "send a JSON object: {\"values\": [...]} (PUT) or "
                          "{\"add\": [...], \"remove\": [...]} (PATCH)");
                goto out;
        }
        if (!strcmp(method, "PUT")) {
                if (!json_is_array(json_object_get(in, "values")) ||
                    json_object_size(in) != 1) {
                        rc = fail(r, 400, "invalidValue",
                                  "PUT takes exactly {\"values\": [...]}");
                        goto out;
                }
                if (scim_model_catalog_edit(m, name, "put",
                                            json_object_get(in, "values"),
                                            &def, &e) < 0) {
                        rc = send_err(r, &e);
                        goto out;
                }
        } else {
                json_t *add = json_object_get(in, "add");
                json_t *rem = json_object_get(in, "remove");
                json_t *tmp = NULL;
                scim_model_t *mid = NULL;

                if ((!add && !rem) ||
                    json_object_size(in) != (size_t)(!!add + !!rem)) {
                        rc = fail(r, 400, "invalidValue",
                                  "PATCH takes {\"add\": [...], "
                                  "\"remove\": [...]}");
                        goto out;
                }
                if (rem && scim_model_catalog_edit(m, name, "remove", rem,
                                                   &tmp, &e) < 0) {
                        rc = send_err(r, &e);
                        goto out;
                }
                if (tmp && scim_model_compile(tmp, 0, &mid, &e) < 0) {
                        json_decref(tmp);
                        rc = send_err(r, &e);
                        goto out;
                }
                if (add) {
                        if (scim_model_catalog_edit(mid ? mid : m, name, "add",
                                                    add, &def, &e) < 0) {
                                scim_model_unref(mid);
                                json_decref(tmp);
                                rc = send_err(r, &e);
                                goto out;
                        }
                        json_decref(tmp);
                } else {
                        def = tmp;
                }
                scim_model_unref(mid);
        }
        if (json_equal(def, scim_model_definition(m))) {
                /* nothing changes: no event, the same generation */
                json_t *o = json_pack("{s:s, s:O, s:I, s:b}", "catalog", name,
                                      "values", scim_model_catalog(m, name),
                                      "generation",
                                      (json_int_t)scim_model_generation(m),
                                      "changed", 0);

                rc = send_json(r, 200, o);
                json_decref(o);
                goto out;
        }
        /* from the generation read: a concurrent change makes this 412 */
        rc = put_definition(r, def, scim_model_generation(m));
out:
        json_decref(in);
        json_decref(def);
        scim_model_unref(m);
        return rc;
}

enum MHD_Result scim_model_api_handle(struct MHD_Connection *c,
                                      scim_store_t *st, scim_ingest_t *ing,
                                      const char *operator_hash,
                                      const char *url, const char *method,
                                      const char *raw_uri, const char *body,
                                      size_t len, const char *request_id)
{
        mq_t r;
        const char *t = url + strlen(PREFIX), *slash = strchr(t, '/');
        const char *q = raw_uri ? strchr(raw_uri, '?') : NULL;
        const char *secret;
        scim_err_t e;
        enum MHD_Result rc;
        int st_auth;

        memset(&r, 0, sizeof(r));
        r.c = c;
        r.st = st;
        r.ing = ing;
        r.request_id = request_id;
        r.operator_hash = operator_hash;
        if (!slash || (size_t)(slash - t) > SCIM_MAX_TENANT_LEN ||
            slash == t)
                return fail(&r, 404, NULL, "no such tenant");
        memcpy(r.tenant, t, (size_t)(slash - t));
        if (!scim_tenant_name_ok(r.tenant))
                return fail(&r, 404, NULL, "no such tenant");
        secret = scim_http_bearer(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
        st_auth = authorize(&r, secret);
        if (st_auth == 401) {
                scim_err_clear(&e);
                scim_err_set(&e, 401, NULL,
                             "a tenant-admin token of tenant '%.64s' or an "
                             "operator token is required",
                             r.tenant);
                scim_audit_bad_token(ing, st, r.tenant, secret, request_id,
                                     "ADMIN", &e);
                return send_err(&r, &e);
        }
        r.attempted = "ADMIN"; /* refusals from here on are recorded */
        if (st_auth == 423)
                return fail(&r, 403, NULL,
                            "tenant '%.64s' is disabled; an operator can "
                            "enable it again",
                            r.tenant);
        if (st_auth == 403)
                return fail(&r, 403, NULL,
                            "this token may not change the tenant's "
                            "definition (issue one with --scope "
                            "tenant-admin)");
        if (!scim_store_tenant_exists(st, r.tenant))
                return fail(&r, 404, NULL, "no such tenant '%.64s'", r.tenant);
        r.attempted = !strcmp(method, "GET")      ? NULL
                      : !strcmp(method, "DELETE") ? "SCHEMA_DELETE"
                                                  : "SCHEMA_PUT";
        scim_err_clear(&e);
        if (scim_query_parse(q ? q + 1 : "", &r.params, &e) < 0)
                return send_err(&r, &e);
        r.caller.actor = r.actor;
        r.caller.request_id = request_id;
        scim_ingest_caller(&r.caller);
        if (!strcmp(slash, "/schema"))
                rc = schema_call(&r, method, body, len);
        else
                rc = catalog_call(&r, method, slash + 10, body, len);
        scim_ingest_caller(NULL);
        json_decref(r.params);
        return rc;
}

/* ================================================ tenants and tokens ===
 *
 *   GET  /admin/v1/tenants                       list (tokens without
 *                                                secrets)
 *   POST /admin/v1/tenants                       {"name", "profile"?} ->
 *                                                201 {tenant, token_id,
 *                                                secret, scimUrl}
 *   GET  /admin/v1/tenants/{t}                   one tenant
 *   POST /admin/v1/tenants/{t}/tokens            {"scope"?} -> 201 secret
 *   DELETE /admin/v1/tenants/{t}/tokens/{id}     revoke
 *   POST /admin/v1/tenants/{t}/tokens/{id}/rotate {"overlapSeconds"?}
 *   POST /admin/v1/tenants/{t}/disable | /enable
 *
 * Operator token only (serve --operator-token-file). Every call is the
 * same command the CLI runs (api/tenant_cmd.c): an event in the log, on
 * the admin topic in Kafka mode, in the reports as an admin change. */

int scim_admin_api_match(const char *url)
{
        return !strcmp(url, "/admin/v1/tenants") ||
               (!strncmp(url, PREFIX, strlen(PREFIX)) &&
                !scim_model_api_match(url));
}

/* Without the operator token: 0 when secret is a live tenant-admin token
 * of the tenant a GET /admin/v1/tenants/{t} describes (r->actor set to its
 * id), 403 for another token of that tenant or another call, 423 when the
 * tenant is disabled, 401 otherwise. */
static int tenant_admin_reads(mq_t *r, const char *url, const char *method,
                              const char *secret)
{
        char tenant[SCIM_MAX_TENANT_LEN + 8], tid[64];
        int scope = SCIM_SCOPE_ALL;

        if (!secret || !r->tenant[0] ||
            !scim_store_auth_scope(r->st, secret, tenant, sizeof(tenant), tid,
                                   sizeof(tid), &scope) ||
            strcmp(tenant, r->tenant))
                return 401;
        snprintf(r->actor, sizeof(r->actor), "%s", tid);
        if (scope == SCIM_SCOPE_DISABLED)
                return 423;
        if (scope != SCIM_SCOPE_ADMIN || strcmp(method, "GET") ||
            strncmp(url, PREFIX, strlen(PREFIX)) ||
            strchr(url + strlen(PREFIX), '/'))
                return 403;
        return 0;
}

/* Answers a tenant command's reply (status on success). */
static enum MHD_Result reply_cmd(mq_t *r, json_t *out, unsigned status)
{
        enum MHD_Result rc;

        if (json_is_true(json_object_get(out, "ok"))) {
                rc = send_json(r, status, json_object_get(out, "result"));
        } else {
                const char *d = json_string_value(json_object_get(out, "error"));

                rc = fail(r,
                          d && (strstr(d, "already exists") ||
                                strstr(d, "already expired"))
                              ? 409
                          : d && (strstr(d, "not found") ||
                                  strstr(d, "does not exist") ||
                                  strstr(d, "no such"))
                              ? 404
                              : 400,
                          d && strstr(d, "already exists") ? "uniqueness"
                                                           : "invalidValue",
                          "%s", d ? d : "refused");
        }
        return rc;
}

/* Runs a tenant command and answers its result (status on success). */
static enum MHD_Result command(mq_t *r, json_t *req, unsigned status)
{
        json_t *out;
        enum MHD_Result rc;

        json_object_set_new(req, "actor", json_string("operator"));
        out = scim_tenant_command(r->st, r->ing, req);
        rc = reply_cmd(r, out, status);
        json_decref(out);
        return rc;
}

/* GET /admin/v1/tenants/{t}: the tenant, its tokens (no secrets), its
 * schema generation. */
static enum MHD_Result describe(mq_t *r, const char *tenant)
{
        json_t *list = NULL, *e, *one = NULL;
        scim_err_t err;
        enum MHD_Result rc;
        size_t i;

        scim_err_clear(&err);
        scim_store_tenant_list(r->st, &list, &err);
        json_array_foreach(
            list, i,
            e) if (!strcmp(json_string_value(json_object_get(e, "tenant")),
                           tenant)) one = e;
        if (one) {
                scim_model_t *m = scim_store_model(r->st, tenant);

                json_object_set_new(one, "schemaGeneration",
                                    json_integer(scim_model_generation(m)));
                {
                        json_t *ret = scim_tenant_retention(r->st, tenant);

                        json_object_del(ret, "tenant");
                        json_object_set_new(one, "changeRetention", ret);
                }
                scim_model_unref(m);
                rc = send_json(r, 200, one);
        } else {
                rc = fail(r, 404, NULL, "no such tenant '%.64s'", tenant);
        }
        json_decref(list);
        return rc;
}

enum MHD_Result scim_admin_api_handle(struct MHD_Connection *c,
                                      scim_store_t *st, scim_ingest_t *ing,
                                      const char *operator_hash, int tls,
                                      const char *url, const char *method,
                                      const char *body, size_t len,
                                      const char *request_id)
{
        mq_t r;
        const char *secret, *rest;
        scim_admin_call_t call;
        scim_err_t e;
        enum MHD_Result rc;

        memset(&r, 0, sizeof(r));
        r.c = c;
        r.st = st;
        r.ing = ing;
        r.request_id = request_id;
        if (!operator_hash)
                return fail(&r, 404, NULL,
                            "the admin API is off (serve "
                            "--operator-token-file FILE turns it on)");
        { /* the tenant a call is about, for its refusal record */
                const char *t = url + strlen("/admin/v1/tenants");
                size_t tl = *t == '/' ? strcspn(t + 1, "/") : 0;

                if (tl && tl < sizeof(r.tenant))
                        memcpy(r.tenant, t + 1, tl);
        }
        r.attempted = "ADMIN";
        secret = scim_http_bearer(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
        {
                char h[65];

                if (secret)
                        scim_sha256_hex(secret, strlen(secret), h);
                if (!secret || !scim_ct_equal(h, operator_hash, 64)) {
                        int sa = tenant_admin_reads(&r, url, method, secret);

                        if (sa == 401)
                                return fail(&r, 401, NULL,
                                            "the admin API wants the "
                                            "operator token%s",
                                            "");
                        if (sa)
                                return fail(&r, 403, NULL,
                                            "%s",
                                            sa == 423
                                                ? "the tenant is disabled"
                                                : "a tenant's token may only "
                                                  "describe its own tenant "
                                                  "(GET /admin/v1/tenants/"
                                                  "{t}, scope tenant-admin)");
                } else {
                        snprintf(r.actor, sizeof(r.actor), "operator");
                }
        }
        rest = url + strlen("/admin/v1/tenants");
        scim_err_clear(&e);
        if (scim_admin_route(method, rest, body, len, &call, &e) < 0) {
                r.attempted = call.attempted;
                return send_err(&r, &e);
        }
        r.attempted = call.attempted;
        if (call.tenant[0])
                snprintf(r.tenant, sizeof(r.tenant), "%s", call.tenant);
        r.caller.actor = r.actor;
        r.caller.request_id = request_id;
        scim_ingest_caller(&r.caller);
        if (call.kind == SCIM_ADMIN_DESCRIBE) {
                rc = describe(&r, call.tenant);
        } else if (call.kind == SCIM_ADMIN_CREATE) {
                json_t *out;

                json_object_set_new(call.req, "actor", json_string("operator"));
                out = scim_tenant_command(st, ing, call.req);
                if (json_is_true(json_object_get(out, "ok"))) {
                        json_t *res = json_object_get(out, "result");
                        const char *host = MHD_lookup_connection_value(
                            c, MHD_HEADER_KIND, "Host");
                        char u[400];

                        snprintf(u, sizeof(u), "%s://%s/scim/v2/%s",
                                 tls ? "https" : "http",
                                 host && scim_http_host_ok(host) ? host
                                                                 : "localhost",
                                 call.tenant);
                        json_object_set_new(res, "scimUrl", json_string(u));
                        rc = send_json(&r, 201, res);
                } else {
                        rc = reply_cmd(&r, out, 201);
                }
                json_decref(out);
        } else {
                rc = command(&r, call.req, call.ok_status);
        }
        scim_ingest_caller(NULL);
        scim_admin_call_clear(&call);
        return rc;
}
