/*
 * tenant_cmd.c — the `scimlog tenant` commands, one implementation for
 * both ways they run: in the serving process (asked through
 * DIR/control.sock, api/control.c) and in the CLI when no server holds
 * DIR. Every change is an event through ingest, so both are the same
 * write as far as the log, reports and replay can tell.
 *
 * Profiles (the JSON files in profiles/, compiled into the binary) are tenant
 * definitions for the apps we serve: `tenant create NAME --profile P`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/scim_api.h"
#include "model/scim_model.h"
#include "schemas/scim_embedded.h"

extern const scim_embedded_file_t scim_profile_files[];

#define USAGE                                                                 \
        "want args: create NAME | token issue NAME | token revoke NAME ID | " \
        "token rotate NAME ID | disable NAME | enable NAME | list | "         \
        "delete NAME (with erase) | "                                          \
        "client register NAME | client revoke NAME ID | key rotate NAME | "   \
        "schema get NAME | schema put NAME (with a definition) | "            \
        "schema delete NAME"

static json_t *refused(const char *detail)
{
        return json_pack("{s:b, s:s}", "ok", 0, "error", detail);
}

static json_t *ok(json_t *result)
{
        return json_pack("{s:b, s:o}", "ok", 1, "result", result);
}

json_t *scim_profile(const char *name)
{
        char file[80];

        if (!name || strlen(name) > 64)
                return NULL;
        snprintf(file, sizeof(file), "%s.json", name);
        for (const scim_embedded_file_t *f = scim_profile_files; f->name; f++)
                if (!strcmp(f->name, file))
                        return json_loadb(f->data, f->len, 0, NULL);
        return NULL;
}

json_t *scim_profile_names(void)
{
        json_t *a = json_array();

        for (const scim_embedded_file_t *f = scim_profile_files; f->name;
             f++) {
                size_t n = strlen(f->name);

                if (n > 5 && !strcmp(f->name + n - 5, ".json"))
                        json_array_append_new(a, json_stringn(f->name, n - 5));
        }
        return a;
}

/* Puts def for tenant after checking the tenant's resources against it:
 * dry_run only reports, a violating change needs force. */
static json_t *schema_put(scim_store_t *st, scim_ingest_t *ing,
                          const char *tenant, const json_t *def, int dry_run,
                          int force)
{
        scim_model_t *m = NULL;
        scim_err_t e;
        json_t *report, *out;
        long bad = 0;
        char *txt;
        int status = 0;

        scim_err_clear(&e);
        if (!scim_store_tenant_exists(st, tenant))
                return refused("no such tenant");
        if (scim_model_compile(def, 0, &m, &e) < 0)
                return refused(e.detail);
        report = scim_store_model_check(st, tenant, m, 100, &bad);
        scim_model_unref(m);
        if (dry_run) {
                json_object_set_new(report, "applied", json_false());
                return ok(report);
        }
        if (bad && !force) {
                char msg[600];
                char *v = json_dumps(json_object_get(report, "violations"),
                                     JSON_COMPACT);

                snprintf(msg, sizeof(msg),
                         "%ld existing resource(s) would violate this "
                         "definition (--force applies it and keeps them as "
                         "stored): %.400s",
                         bad, v ? v : "");
                free(v);
                json_decref(report);
                return refused(msg);
        }
        txt = scim_json_dumps(def);
        if (!txt || scim_ingest_schema(ing, tenant, NULL, NULL, txt, -1,
                                       &status, &e) < 0) {
                free(txt);
                json_decref(report);
                return refused(e.status ? e.detail : "out of memory");
        }
        free(txt);
        m = scim_store_model(st, tenant);
        out = json_pack("{s:s, s:I, s:o}", "tenant", tenant, "generation",
                        (json_int_t)scim_model_generation(m), "check", report);
        scim_model_unref(m);
        return ok(out);
}

json_t *scim_tenant_command(scim_store_t *st, scim_ingest_t *ing,
                            const json_t *req)
{
        const json_t *args = json_object_get(req, "args");
        const char *a[4] = {NULL, NULL, NULL, NULL};
        const char *scope = json_string_value(json_object_get(req, "scope"));
        const char *profile =
            json_string_value(json_object_get(req, "profile"));
        size_t n = json_array_size(args);
        char token_id[64];
        char *secret = NULL;
        scim_err_t e;
        json_t *out, *def = NULL;

        if (json_is_true(json_object_get(req, "reports_only")))
                scope = "reports";
        if (scope && strcmp(scope, "reports") &&
            strcmp(scope, "tenant-admin") && strcmp(scope, "scim-read"))
                return refused("a token scope is reports, scim-read or "
                               "tenant-admin");
        if (n == 0 || n > 4)
                return refused(USAGE);
        for (size_t i = 0; i < n; i++)
                if (!(a[i] = json_string_value(json_array_get(args, i))))
                        return refused("args are strings");
        scim_err_clear(&e);
        if (!strcmp(a[0], "list") && n == 1) {
                json_t *list = NULL;

                if (scim_store_tenant_list(st, &list, &e) < 0)
                        return refused(e.detail);
                return ok(list);
        }
        if (!strcmp(a[0], "create") && n == 2) {
                if (profile && !(def = scim_profile(profile))) {
                        char msg[200];
                        json_t *names = scim_profile_names();
                        char *l = json_dumps(names, JSON_COMPACT);

                        snprintf(msg, sizeof(msg),
                                 "no profile '%.64s' (profiles: %.100s)",
                                 profile, l ? l : "");
                        free(l);
                        json_decref(names);
                        return refused(msg);
                }
                if (def) { /* refuse a broken profile before creating */
                        scim_model_t *m = NULL;

                        if (scim_model_compile(def, 0, &m, &e) < 0) {
                                json_decref(def);
                                return refused(e.detail);
                        }
                        scim_model_unref(m);
                }
                if (scim_ingest_admin(ing, SCIM_ACT_TENANT_CREATE, a[1], NULL,
                                      NULL, NULL, 0, &e) < 0) {
                        json_decref(def);
                        return refused(e.detail);
                }
                if (def) {
                        json_t *r = schema_put(st, ing, a[1], def, 0, 0);

                        json_decref(def);
                        if (!json_is_true(json_object_get(r, "ok")))
                                return r;
                        json_decref(r);
                }
                if (scim_ingest_admin(ing, SCIM_ACT_TOKEN_ISSUE, a[1], NULL,
                                      &secret, token_id, sizeof(token_id),
                                      &e) < 0)
                        return refused(e.detail);
                out = json_pack("{s:s, s:s, s:s}", "tenant", a[1], "token_id",
                                token_id, "secret", secret);
                if (profile)
                        json_object_set_new(out, "profile",
                                            json_string(profile));
                free(secret);
                return ok(out);
        }
        if (!strcmp(a[0], "token") && n == 3 && !strcmp(a[1], "issue")) {
                if (scim_ingest_admin_scoped(ing, SCIM_ACT_TOKEN_ISSUE, a[2],
                                             NULL, scope, &secret, token_id,
                                             sizeof(token_id), &e) < 0)
                        return refused(e.detail);
                out = json_pack("{s:s, s:s, s:s}", "tenant", a[2], "token_id",
                                token_id, "secret", secret);
                if (scope)
                        json_object_set_new(out, "scope", json_string(scope));
                free(secret);
                return ok(out);
        }
        if (!strcmp(a[0], "token") && n == 4 && !strcmp(a[1], "revoke")) {
                if (scim_ingest_admin(ing, SCIM_ACT_TOKEN_REVOKE, a[2], a[3],
                                      NULL, NULL, 0, &e) < 0)
                        return refused(e.detail);
                return ok(json_pack("{s:s, s:s, s:b}", "tenant", a[2],
                                    "token_id", a[3], "revoked", 1));
        }
        if (!strcmp(a[0], "token") && n == 4 && !strcmp(a[1], "rotate")) {
                json_t *ov = json_object_get(req, "overlap_s");
                int64_t overlap_s = ov ? json_integer_value(ov) : 3600;

                if (ov && !json_is_integer(ov))
                        return refused("overlap_s is a number of seconds");
                if (scim_ingest_lifecycle(ing, SCIM_ACT_TOKEN_ROTATE, a[2],
                                          json_string_value(json_object_get(
                                              req, "actor")),
                                          a[3], overlap_s * 1000, &secret,
                                          token_id, sizeof(token_id), &e) < 0)
                        return refused(e.detail);
                out = json_pack("{s:s, s:s, s:s, s:s, s:I}", "tenant", a[2],
                                "token_id", token_id, "secret", secret,
                                "rotates", a[3], "overlap_s",
                                (json_int_t)overlap_s);
                free(secret);
                return ok(out);
        }
        if (!strcmp(a[0], "client") && (n == 3 || n == 4) &&
            (!strcmp(a[1], "register") || !strcmp(a[1], "revoke"))) {
                int reg = !strcmp(a[1], "register");
                const char *cs = reg ? scope : a[3];

                if (reg && n != 3)
                        return refused(USAGE);
                if (!reg && n != 4)
                        return refused(USAGE);
                if (reg && scope && !strcmp(scope, "tenant-admin"))
                        return refused("an OAuth client's scope is scim, "
                                       "scim-read or reports");
                if (scim_ingest_lifecycle(
                        ing,
                        reg ? SCIM_ACT_CLIENT_REGISTER : SCIM_ACT_CLIENT_REVOKE,
                        a[2], json_string_value(json_object_get(req, "actor")),
                        cs, 0, &secret, token_id, sizeof(token_id), &e) < 0)
                        return refused(e.detail);
                if (!reg)
                        return ok(json_pack("{s:s, s:s, s:b}", "tenant", a[2],
                                            "client_id", a[3], "revoked", 1));
                out = json_pack("{s:s, s:s, s:s, s:s}", "tenant", a[2],
                                "client_id", token_id, "client_secret", secret,
                                "scope", scope ? scope : "scim");
                free(secret);
                return ok(out);
        }
        if (!strcmp(a[0], "key") && n == 3 && !strcmp(a[1], "rotate")) {
                json_t *ov = json_object_get(req, "overlap_s");
                int64_t overlap_s = ov ? json_integer_value(ov) : 3600;

                if (scim_ingest_lifecycle(ing, SCIM_ACT_KEY_ROTATE, a[2],
                                          json_string_value(json_object_get(
                                              req, "actor")),
                                          NULL, overlap_s * 1000, NULL,
                                          token_id, sizeof(token_id), &e) < 0)
                        return refused(e.detail);
                return ok(json_pack("{s:s, s:s, s:I}", "tenant", a[2], "kid",
                                    token_id, "previous_valid_s",
                                    (json_int_t)overlap_s));
        }
        if (!strcmp(a[0], "delete") && n == 2) {
                /* erasure: every row of the tenant goes and its data keys
                 * are destroyed, so the log's sealed copies of its
                 * personal data cannot be read any more */
                if (!json_is_true(json_object_get(req, "erase")))
                        return refused("deleting a tenant erases its data "
                                       "for good: confirm with --erase");
                if (scim_ingest_lifecycle(ing, SCIM_ACT_TENANT_DELETE, a[1],
                                          json_string_value(json_object_get(
                                              req, "actor")),
                                          NULL, 0, NULL, NULL, 0, &e) < 0)
                        return refused(e.detail);
                if (scim_store_purge(st, &e) < 0)
                        return refused(e.detail);
                return ok(json_pack("{s:s, s:b, s:b}", "tenant", a[1],
                                    "deleted", 1, "erased", 1));
        }
        if ((!strcmp(a[0], "disable") || !strcmp(a[0], "enable")) && n == 2) {
                int dis = !strcmp(a[0], "disable");

                if (scim_ingest_lifecycle(
                        ing, dis ? SCIM_ACT_TENANT_DISABLE : SCIM_ACT_TENANT_ENABLE,
                        a[1], json_string_value(json_object_get(req, "actor")),
                        NULL, 0, NULL, NULL, 0, &e) < 0)
                        return refused(e.detail);
                return ok(json_pack("{s:s, s:b}", "tenant", a[1], "disabled",
                                    dis));
        }
        if (!strcmp(a[0], "schema") && n == 3) {
                const char *t = a[2];

                if (!scim_store_tenant_exists(st, t))
                        return refused("no such tenant");
                if (!strcmp(a[1], "get")) {
                        scim_model_t *m = scim_store_model(st, t);

                        out = json_pack("{s:s, s:I, s:O?}", "tenant", t,
                                        "generation",
                                        (json_int_t)scim_model_generation(m),
                                        "definition",
                                        scim_model_definition(m));
                        scim_model_unref(m);
                        return ok(out);
                }
                if (!strcmp(a[1], "put")) {
                        const json_t *d = json_object_get(req, "definition");
                        json_t *pd = NULL;

                        if (!d && profile && !(d = pd = scim_profile(profile)))
                                return refused("no such profile");
                        if (!d)
                                return refused("schema put needs a "
                                               "definition (FILE or "
                                               "--profile P)");
                        out = schema_put(
                            st, ing, t, d,
                            json_is_true(json_object_get(req, "dry_run")),
                            json_is_true(json_object_get(req, "force")));
                        json_decref(pd);
                        return out;
                }
                if (!strcmp(a[1], "delete")) {
                        int status = 0;

                        if (scim_ingest_schema(ing, t, NULL, NULL, NULL, -1,
                                               &status, &e) < 0)
                                return refused(e.detail);
                        return ok(json_pack("{s:s, s:b}", "tenant", t,
                                            "deleted", 1));
                }
        }
        return refused(USAGE);
}
