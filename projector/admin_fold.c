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

/* OAuth clients: tenant \0 C client_id \0 -> {secret_hash, scope,
 * created, revoked}; the secret itself is never in the log. */
static void client(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        scim_buf_t k = {0};
        json_t *rec, *tr;
        char ts[32];

        tr = load_json(t, CF_TENANT, ev->tenant, strlen(ev->tenant));
        json_decref(tr);
        if (!tr) {
                refuse(v, 404, NULL, "tenant '%.64s' does not exist",
                       ev->tenant);
                return;
        }
        if (!ev->token_id || !*ev->token_id || strlen(ev->token_id) > 64) {
                refuse(v, 400, "invalidValue", "a client needs an id%s", "");
                return;
        }
        key_make(&k, ev->tenant, 'C', ev->token_id, NULL);
        rec = load_json(t, CF_TENANT, k.data, k.len);
        scim_time_format(ev->time_ms, ts);
        if (ev->action == SCIM_ACT_CLIENT_REGISTER) {
                if (rec) {
                        refuse(v, 409, "uniqueness",
                               "client '%.64s' already exists", ev->token_id);
                } else if (!ev->token_hash || strlen(ev->token_hash) != 64) {
                        refuse(v, 400, "invalidValue",
                               "a client needs its secret's hash%s", "");
                } else {
                        json_t *o = json_pack(
                            "{s:s, s:s, s:s, s:b}", "secret_hash",
                            ev->token_hash, "scope",
                            ev->token_scope ? ev->token_scope : "scim",
                            "created", ts, "revoked", 0);

                        put_json(t, CF_TENANT, k.data, k.len, o);
                        json_decref(o);
                        v->status = 201;
                }
        } else if (!rec || json_is_true(json_object_get(rec, "revoked"))) {
                refuse(v, 404, NULL, "client '%.64s' not found (or revoked)",
                       ev->token_id);
        } else {
                json_object_set_new(rec, "revoked", json_true());
                json_object_set_new(rec, "revoked_at", json_string(ts));
                put_json(t, CF_TENANT, k.data, k.len, rec);
                v->status = 200;
        }
        json_decref(rec);
        scim_buf_free(&k);
}

/* Signing key ids: tenant \0 K \0 -> {current, previous, previous_until}.
 * The keys are derived by each node from its --jwt-key-file; the log says
 * only which id signs now and until when the previous one verifies. */
static void key_rotate(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        scim_buf_t k = {0};
        json_t *rec, *o, *tr;
        const char *cur;

        tr = load_json(t, CF_TENANT, ev->tenant, strlen(ev->tenant));
        json_decref(tr);
        if (!tr) {
                refuse(v, 404, NULL, "tenant '%.64s' does not exist",
                       ev->tenant);
                return;
        }
        if (!ev->key_id || !*ev->key_id || strlen(ev->key_id) > 64 ||
            ev->expires_ms <= 0) {
                refuse(v, 400, "invalidValue",
                       "a key rotation names the new key id and the old "
                       "one's end%s",
                       "");
                return;
        }
        key_make(&k, ev->tenant, 'K', "", NULL);
        rec = load_json(t, CF_TENANT, k.data, k.len);
        cur = json_string_value(json_object_get(rec, "current"));
        o = json_pack("{s:s, s:s, s:I}", "current", ev->key_id, "previous",
                      cur ? cur : "0", "previous_until",
                      (json_int_t)ev->expires_ms);
        put_json(t, CF_TENANT, k.data, k.len, o);
        json_decref(o);
        json_decref(rec);
        scim_buf_free(&k);
        v->status = 200;
}

void fold_lifecycle(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        switch (ev->action) {
        case SCIM_ACT_TOKEN_ROTATE:
                token_rotate(t, ev, v);
                break;
        case SCIM_ACT_CLIENT_REGISTER:
        case SCIM_ACT_CLIENT_REVOKE:
                client(t, ev, v);
                break;
        case SCIM_ACT_KEY_ROTATE:
                key_rotate(t, ev, v);
                break;
        default:
                tenant_state(t, ev, v);
        }
}
