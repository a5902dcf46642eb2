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
        "schema delete NAME | retention NAME DAYS | prune NAME | "           \
        "settings NAME (with settings) | pin [NAME] (Kafka)"

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
        {
                json_t *codes = scim_store_model_codes(st, tenant);
                int crc = scim_model_compile_codes(def, codes, 0, &m, &e);

                json_decref(codes);
                if (crc < 0)
                        return refused(e.detail);
        }
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

json_t *scim_tenant_retention(scim_store_t *st, const char *tenant)
{
        scim_changes_horizon_t h;
        char ts[32];
        json_t *o;

        scim_changes_horizon(st, tenant, &h);
        o = json_pack("{s:s, s:I, s:I}", "tenant", tenant,
                      "changeRetentionSeconds",
                      (json_int_t)(h.retention_ms / 1000), "pruned",
                      (json_int_t)h.pruned);
        if (h.through_ms) {
                scim_time_format(h.through_ms, ts);
                json_object_set_new(o, "retainedFrom", json_string(ts));
                json_object_set_new(o, "retainedAfterPosition",
                                    json_integer((json_int_t)h.through_seq));
        } else {
                json_object_set_new(o, "retainedFrom", json_null());
        }
        return o;
}

#define retention_of scim_tenant_retention

/* `tenant pin [NAME]` (Kafka mode): pins NAME, or every tenant this node
 * knows without a pin, to its data partition with a TENANT_UPDATE
 * {"partition": "auto"} that the producer resolves (log/kafka_pin.c: the
 * pin the views have, else the key hash over today's partition count).
 * Run it before adding partitions when tenants were created by a scimlog
 * without pins (README, Kafka: growing a topic). */
static json_t *pin_cmd(scim_store_t *st, scim_ingest_t *ing,
                       const char *one, const char *actor)
{
        json_t *names = json_array(), *list = NULL, *e, *res = json_array();
        scim_err_t err;
        size_t i;

        scim_err_clear(&err);
        if (!ing || !scim_ingest_is_kafka(ing)) {
                json_decref(names);
                json_decref(res);
                return refused("partition pins are for Kafka mode (--kafka)");
        }
        if (one) {
                json_array_append_new(names, json_string(one));
        } else if (scim_store_tenant_list(st, &list, &err) == 0) {
                json_array_foreach(list, i, e) if (!json_object_get(
                                                       e, "partition"))
                    json_array_append(names, json_object_get(e, "tenant"));
        }
        json_decref(list);
        json_array_foreach(names, i, e)
        {
                const char *t = json_string_value(e);
                int status = 0;

                scim_err_clear(&err);
                if (scim_ingest_tenant_update(ing, t, actor,
                                              "{\"partition\":\"auto\"}",
                                              &status, &err) < 0) {
                        json_decref(names);
                        json_decref(res);
                        return refused(err.detail);
                }
                json_array_append_new(
                    res, json_pack("{s:s, s:i}", "tenant", t, "partition",
                                   scim_store_tenant_partition(st, t)));
        }
        json_decref(names);
        return ok(json_pack("{s:o}", "pinned", res));
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
                { /* the log snapshots hold the tenant's views too */
                        scim_event_t ev;

                        memset(&ev, 0, sizeof(ev));
                        ev.tenant = (char *)a[1];
                        ev.action = SCIM_ACT_TENANT_DELETE;
                        ev.time_ms = scim_now_ms();
                        if (scim_store_snapshots_erase(st, &ev, &e) < 0)
                                return refused(e.detail);
                }
                return ok(json_pack("{s:s, s:b, s:b}", "tenant", a[1],
                                    "deleted", 1, "erased", 1));
        }
        if (!strcmp(a[0], "pin") && n <= 2)
                return pin_cmd(st, ing, n == 2 ? a[1] : NULL,
                               json_string_value(json_object_get(req, "actor")));
        if ((!strcmp(a[0], "settings") && n == 2) ||
            (!strcmp(a[0], "retention") && n == 3) ||
            (!strcmp(a[0], "prune") && n == 2)) {
                /* TENANT_UPDATE: change-record retention (retain.c) */
                json_t *set;
                char *txt;
                int status = 0, rc2;

                if (!strcmp(a[0], "settings")) {
                        set = json_deep_copy(json_object_get(req, "settings"));
                } else if (!strcmp(a[0], "prune")) {
                        set = json_pack("{s:b}", "prune", 1);
                } else { /* 30 | 30d | 12h | 90m | 45s */
                        char *end = NULL;
                        long long d = strtoll(a[2], &end, 10), mul = 86400;

                        if (end && *end && !end[1] && end != a[2])
                                mul = *end == 'd'   ? 86400
                                      : *end == 'h' ? 3600
                                      : *end == 'm' ? 60
                                      : *end == 's' ? 1
                                                    : 0;
                        if (!end || end == a[2] || (*end && (end[1] || !mul)) ||
                            d < 0 || d > SCIM_RETAIN_MAX_DAYS * 86400LL / mul)
                                return refused("retention is a number of "
                                               "days, or of hours, minutes "
                                               "or seconds with h, m or s "
                                               "(0: for ever)");
                        set = json_pack("{s:I}", "changeRetentionSeconds",
                                        (json_int_t)(d * mul));
                }
                if (!json_is_object(set)) {
                        json_decref(set);
                        return refused("tenant settings are a JSON object");
                }
                txt = scim_json_dumps(set);
                json_decref(set);
                rc2 = txt ? scim_ingest_tenant_update(
                                ing, a[1],
                                json_string_value(json_object_get(req, "actor")),
                                txt, &status, &e)
                          : -1;
                free(txt);
                if (rc2 < 0)
                        return refused(e.detail);
                return ok(retention_of(st, a[1]));
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

json_t *scim_snapshot_command(scim_store_t *st, const json_t *req)
{
        scim_snapshot_info_t info;
        scim_err_t e;
        json_t *out;

        scim_err_clear(&e);
        memset(&info, 0, sizeof(info));
        if (!json_is_true(json_object_get(req, "list"))) {
                if (scim_store_snapshot(st, &info, &e) < 0)
                        return refused(e.detail);
                if (json_is_true(json_object_get(req, "truncate")) &&
                    scim_store_log_truncate(st, &info, &e) < 0)
                        return refused(e.detail);
        }
        out = json_pack("{s:I, s:I, s:o}", "position",
                        (json_int_t)scim_store_position(st), "logBase",
                        (json_int_t)scim_store_log_base(st), "snapshots",
                        scim_store_snapshots(st));
        if (info.path[0])
                json_object_set_new(out, "snapshot", json_string(info.path));
        if (json_is_true(json_object_get(req, "truncate")))
                json_object_set_new(out, "safePosition",
                                    json_integer((json_int_t)info.safe));
        return ok(out);
}
