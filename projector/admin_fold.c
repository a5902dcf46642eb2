/*
 * admin_fold.c — the fold of the tenant lifecycle and token rotation
 * events (event schema v3): TENANT_DISABLE / TENANT_ENABLE flag the tenant
 * record (its tokens are then refused, its data kept), TOKEN_ROTATE issues
 * a new token with the old one's scope and gives the old one an end
 * (expires_ms: the event's time plus the overlap the operator asked for),
 * after which authentication refuses it by itself. Every input comes from
 * the event, so a replay gives the same records.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

__attribute__((format(printf, 4, 5))) static void
refuse(scim_verdict_t *v, int status, const char *type, const char *fmt, ...)
{
        va_list ap;

        v->status = status;
        snprintf(v->scim_type, sizeof(v->scim_type), "%s", type ? type : "");
        va_start(ap, fmt);
        vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
        va_end(ap);
}

static json_t *load_json(txn_t *t, int cf, const char *k, size_t kl)
{
        size_t vl = 0;
        char *v = txn_get(t, cf, k, kl, &vl);
        json_t *o = v ? scim_json_load(v, vl) : NULL;

        free(v);
        return o;
}

static void put_json(txn_t *t, int cf, const char *k, size_t kl,
                     const json_t *o)
{
        char *txt = scim_json_dumps(o);

        if (txt)
                txn_put(t, cf, k, kl, txt, strlen(txt));
        free(txt);
}

static void tenant_state(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        json_t *rec = load_json(t, CF_TENANT, ev->tenant, strlen(ev->tenant));
        int disable = ev->action == SCIM_ACT_TENANT_DISABLE;
        char ts[32];

        if (!rec) {
                refuse(v, 404, NULL, "tenant '%.64s' does not exist",
                       ev->tenant);
                return;
        }
        scim_time_format(ev->time_ms, ts);
        json_object_set_new(rec, "disabled", json_boolean(disable));
        json_object_set_new(rec, disable ? "disabled_at" : "enabled_at",
                            json_string(ts));
        put_json(t, CF_TENANT, ev->tenant, strlen(ev->tenant), rec);
        json_decref(rec);
        v->status = 200;
}

static void token_rotate(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        json_t *meta = ev->admin_json ? scim_json_load(ev->admin_json,
                                                       strlen(ev->admin_json))
                                      : NULL;
        const char *old_id = json_string_value(json_object_get(meta, "rotates"));
        scim_buf_t k = {0};
        size_t hl = 0;
        char *old_hash = NULL, ts[32];
        json_t *old = NULL, *nw = NULL, *prev = NULL;

        if (!old_id || !ev->token_id || !ev->token_hash ||
            strlen(ev->token_hash) != 64 || ev->expires_ms <= 0) {
                refuse(v, 400, "invalidValue",
                       "a rotation names the old token, the new token and "
                       "the old one's end%s",
                       "");
                goto out;
        }
        {
                json_t *tr = load_json(t, CF_TENANT, ev->tenant,
                                       strlen(ev->tenant));

                json_decref(tr);
                if (!tr) {
                        refuse(v, 404, NULL, "tenant '%.64s' does not exist",
                               ev->tenant);
                        goto out;
                }
        }
        key_make(&k, ev->tenant, 'T', old_id, NULL);
        old_hash = txn_get(t, CF_TENANT, k.data, k.len, &hl);
        old = old_hash && hl == 64 ? load_json(t, CF_TOKEN, old_hash, 64)
                                   : NULL;
        if (!old || json_is_true(json_object_get(old, "revoked"))) {
                refuse(v, 404, NULL, "token '%.64s' not found (or revoked)",
                       old_id);
                goto out;
        }
        if (json_integer_value(json_object_get(old, "expires_ms")) &&
            json_integer_value(json_object_get(old, "expires_ms")) <=
                ev->time_ms) {
                refuse(v, 409, NULL,
                       "token '%.64s' has already expired: rotate its "
                       "successor",
                       old_id);
                goto out;
        }
        prev = load_json(t, CF_TOKEN, ev->token_hash, 64);
        if (prev) {
                refuse(v, 409, "uniqueness", "token already exists%s", "");
                goto out;
        }
        scim_time_format(ev->time_ms, ts);
        nw = json_pack("{s:s, s:s, s:s, s:b, s:s}", "tenant", ev->tenant,
                       "token_id", ev->token_id, "created", ts, "revoked", 0,
                       "rotated_from", old_id);
        if (json_object_get(old, "scope"))
                json_object_set(nw, "scope", json_object_get(old, "scope"));
        put_json(t, CF_TOKEN, ev->token_hash, 64, nw);
        key_make(&k, ev->tenant, 'T', ev->token_id, NULL);
        txn_put(t, CF_TENANT, k.data, k.len, ev->token_hash, 64);
        json_object_set_new(old, "expires_ms", json_integer(ev->expires_ms));
        json_object_set_new(old, "rotated_to", json_string(ev->token_id));
        put_json(t, CF_TOKEN, old_hash, 64, old);
        v->status = 201;
out:
        json_decref(meta);
        json_decref(old);
        json_decref(nw);
        json_decref(prev);
        free(old_hash);
        scim_buf_free(&k);
}

void fold_lifecycle(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        if (ev->action == SCIM_ACT_TOKEN_ROTATE)
                token_rotate(t, ev, v);
        else
                tenant_state(t, ev, v);
}
