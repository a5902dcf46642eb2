/*
 * admin_route.c — the operator's calls under /admin/v1/tenants, one row
 * each (as Redis keeps its commands in a table): method, path pattern
 * ("*" is a tenant name or id), the body members it takes, and the tenant
 * command it becomes. The handler (api/model_api.c) authenticates, runs
 * the command through api/tenant_cmd.c — the same code the CLI runs — and
 * answers. Routing is pure so a fuzzer can drive it with any path and body.
 *
 *   GET    /admin/v1/tenants                     list
 *   POST   /admin/v1/tenants                     {"name", "profile"?}
 *   GET    /admin/v1/tenants/{t}                 describe
 *   DELETE /admin/v1/tenants/{t}                 delete with erasure
 *   POST   /admin/v1/tenants/{t}/tokens          {"scope"?}
 *   DELETE /admin/v1/tenants/{t}/tokens/{id}     revoke
 *   POST   /admin/v1/tenants/{t}/tokens/{id}/rotate {"overlapSeconds"?}
 *   POST   /admin/v1/tenants/{t}/clients         {"scope"?}
 *   DELETE /admin/v1/tenants/{t}/clients/{id}    revoke
 *   POST   /admin/v1/tenants/{t}/keys/rotate     {"overlapSeconds"?}
 *   POST   /admin/v1/tenants/{t}/disable | /enable
 *   PATCH  /admin/v1/tenants/{t}                 {"changeRetentionDays"}
 *   POST   /admin/v1/tenants/{t}/prune           prune what retention says
 */
#include <stdio.h>
#include <string.h>

#include "api/admin_route.h"

#define MAX_SEGS 4
#define MAX_ID 128 /* a token or client id in the path */

/* body members a row takes */
enum {
        B_NONE = 0,
        B_NAME = 1,
        B_PROFILE = 2,
        B_SCOPE = 4,
        B_OVERLAP = 8,
        B_SETTINGS = 16
};

typedef struct row {
        const char *method;
        const char *pattern[MAX_SEGS]; /* NULL-terminated; "*" any */
        int kind;
        unsigned ok_status;
        const char *attempted;
        const char *args[3]; /* command words; "$0" / "$2": that segment */
        int body;            /* B_* */
        int erase;
} row_t;

static const row_t rows[] = {
    {"GET", {NULL}, SCIM_ADMIN_COMMAND, 200, NULL, {"list"}, B_NONE, 0},
    {"POST",
     {NULL},
     SCIM_ADMIN_CREATE,
     201,
     "TENANT_CREATE",
     {"create"},
     B_NAME | B_PROFILE,
     0},
    {"GET", {"*"}, SCIM_ADMIN_DESCRIBE, 200, NULL, {NULL}, B_NONE, 0},
    {"DELETE",
     {"*"},
     SCIM_ADMIN_COMMAND,
     200,
     "TENANT_DELETE",
     {"delete", "$0"},
     B_NONE,
     1},
    {"POST",
     {"*", "tokens"},
     SCIM_ADMIN_COMMAND,
     201,
     "TOKEN_ISSUE",
     {"token", "issue", "$0"},
     B_SCOPE,
     0},
    {"DELETE",
     {"*", "tokens", "*"},
     SCIM_ADMIN_COMMAND,
     200,
     "TOKEN_REVOKE",
     {"token", "revoke", "$0"},
     B_NONE,
     0},
    {"POST",
     {"*", "tokens", "*", "rotate"},
     SCIM_ADMIN_COMMAND,
     201,
     "TOKEN_ROTATE",
     {"token", "rotate", "$0"},
     B_OVERLAP,
     0},
    {"POST",
     {"*", "clients"},
     SCIM_ADMIN_COMMAND,
     201,
     "CLIENT_REGISTER",
     {"client", "register", "$0"},
     B_SCOPE,
     0},
    {"DELETE",
     {"*", "clients", "*"},
     SCIM_ADMIN_COMMAND,
     200,
     "CLIENT_REVOKE",
     {"client", "revoke", "$0"},
     B_NONE,
     0},
    {"POST",
     {"*", "keys", "rotate"},
     SCIM_ADMIN_COMMAND,
     200,
     "KEY_ROTATE",
     {"key", "rotate", "$0"},
     B_OVERLAP,
     0},
    {"POST",
     {"*", "disable"},
     SCIM_ADMIN_COMMAND,
     200,
     "TENANT_DISABLE",
     {"disable", "$0"},
     B_NONE,
     0},
    {"POST",
     {"*", "enable"},
     SCIM_ADMIN_COMMAND,
     200,
     "TENANT_ENABLE",
     {"enable", "$0"},
     B_NONE,
     0},
    {"PATCH",
     {"*"},
     SCIM_ADMIN_COMMAND,
     200,
     "TENANT_UPDATE",
     {"settings", "$0"},
     B_SETTINGS,
     0},
    {"POST",
     {"*", "prune"},
     SCIM_ADMIN_COMMAND,
     200,
     "TENANT_UPDATE",
     {"prune", "$0"},
     B_NONE,
     0},
};

static int seg_ok(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) /* ids are hex; names as tenants */
                if (!((s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])))
                        return 0;
        return n > 0 && n <= MAX_ID;
}

static int row_matches(const row_t *r, char *const *seg, int n)
{
        int i = 0;

        for (; i < MAX_SEGS && r->pattern[i]; i++)
                if (i >= n || (strcmp(r->pattern[i], "*") &&
                               strcmp(r->pattern[i], seg[i])))
                        return 0;
        return i == n;
}

void scim_admin_call_clear(scim_admin_call_t *call)
{
        if (!call)
                return;
        json_decref(call->req);
        call->req = NULL;
}

/* The row's body members into req; -1 with err on a wrong type. */
static int take_body(const row_t *r, const json_t *in, json_t *req,
                     scim_err_t *err)
{
        const json_t *v;

        if ((r->body & B_NAME)) {
                v = json_object_get(in, "name");
                if (!json_is_string(v))
                        return scim_err_set(err, 400, "invalidValue",
                                            "POST /admin/v1/tenants takes "
                                            "{\"name\": ..., \"profile\"?: "
                                            "...}");
        }
        if ((r->body & B_PROFILE) && (v = json_object_get(in, "profile"))) {
                if (!json_is_string(v))
                        return scim_err_set(err, 400, "invalidValue",
                                            "profile is a string");
                json_object_set(req, "profile", (json_t *)v);
        }
        if ((r->body & B_SCOPE) && (v = json_object_get(in, "scope"))) {
                if (!json_is_string(v))
                        return scim_err_set(err, 400, "invalidValue",
                                            "scope is a string");
                if (strcmp(json_string_value(v), "scim"))
                        json_object_set(req, "scope", (json_t *)v);
        }
        if ((r->body & B_OVERLAP) &&
            (v = json_object_get(in, "overlapSeconds"))) {
                if (!json_is_integer(v))
                        return scim_err_set(err, 400, "invalidValue",
                                            "overlapSeconds is an integer");
                json_object_set(req, "overlap_s", (json_t *)v);
        }
        if ((r->body & B_SETTINGS)) {
                /* checked by the fold (retain.c), which names the key */
                if (json_object_size(in) == 0)
                        return scim_err_set(err, 400, "invalidValue",
                                            "PATCH /admin/v1/tenants/{t} "
                                            "takes tenant settings: "
                                            "{\"changeRetentionDays\": N}");
                json_object_set(req, "settings", (json_t *)in);
        }
        return 0;
}

int scim_admin_route(const char *method, const char *rest, const char *body,
                     size_t len, scim_admin_call_t *call, scim_err_t *err)
{
        char path[512], *seg[MAX_SEGS + 1] = {NULL}, *save = NULL, *p;
        const row_t *r = NULL, *any_method = NULL;
        json_t *in = NULL, *args;
        int n = 0, rc = -1;

        memset(call, 0, sizeof(*call));
        if (strlen(rest) >= sizeof(path) || (*rest && *rest != '/'))
                return scim_err_set(err, 404, NULL, "no such admin resource");
        memcpy(path, rest, strlen(rest) + 1);
        for (p = strtok_r(path, "/", &save); p;
             p = strtok_r(NULL, "/", &save)) {
                if (n == MAX_SEGS || !seg_ok(p, strlen(p)))
                        return scim_err_set(err, 404, NULL,
                                            "no such admin resource");
                seg[n++] = p;
        }
        if (n && scim_tenant_name_ok(seg[0]))
                snprintf(call->tenant, sizeof(call->tenant), "%s", seg[0]);
        else if (n)
                return scim_err_set(err, 404, NULL, "no such tenant");
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                if (!row_matches(&rows[i], seg, n))
                        continue;
                any_method = &rows[i];
                if (!strcmp(rows[i].method, method)) {
                        r = &rows[i];
                        break;
                }
        }
        if (!r) {
                call->attempted = strcmp(method, "GET") ? "ADMIN" : NULL;
                return scim_err_set(err, any_method ? 405 : 404, NULL,
                                    "no such admin call: %.16s "
                                    "/admin/v1/tenants%.200s",
                                    method, rest);
        }
        call->attempted = r->attempted;
        call->kind = r->kind;
        call->ok_status = r->ok_status;
        if (len > SCIM_ADMIN_MAX_BODY)
                return scim_err_set(err, 413, NULL,
                                    "admin bodies are at most 64 KiB");
        in = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)
                 : json_object();
        if (!json_is_object(in)) {
                scim_err_set(err, 400, "invalidSyntax",
                             "the body must be a JSON object");
                goto out;
        }
        call->req = json_pack("{s:s, s:[]}", "op", "tenant", "args");
        if (!call->req) {
                scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        if (take_body(r, in, call->req, err) < 0)
                goto out;
        args = json_object_get(call->req, "args");
        for (int i = 0; i < 3 && r->args[i]; i++)
                json_array_append_new(
                    args, json_string(!strcmp(r->args[i], "$0") ? seg[0]
                                                                : r->args[i]));
        if (r->kind == SCIM_ADMIN_CREATE) {
                const char *name =
                    json_string_value(json_object_get(in, "name"));

                json_array_append_new(args, json_string(name));
                if (strlen(name) < sizeof(call->tenant))
                        snprintf(call->tenant, sizeof(call->tenant), "%s",
                                 name);
        }
        if (n == 3 && strcmp(seg[1], "keys")) /* tokens/{id}, clients/{id} */
                json_array_append_new(args, json_string(seg[2]));
        if (n == 4) /* tokens/{id}/rotate */
                json_array_append_new(args, json_string(seg[2]));
        if (r->erase)
                json_object_set_new(call->req, "erase", json_true());
        rc = 0;
out:
        json_decref(in);
        if (rc < 0)
                scim_admin_call_clear(call);
        return rc;
}
