/*
 * token_audit.c — why a secret was refused, for the audit trail: when a
 * bearer secret is no live token, the refusal record names the token it
 * was (a revoked one, or the old one of a rotation past its overlap), so
 * a vendor sees "the customer still sends token 3f2a…, revoked at …"
 * instead of an anonymous 401. Reads the token record now (no cache); runs
 * on http pool threads, only after the authentication has failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

int scim_store_token_refused(scim_store_t *st, const char *secret,
                             char *tenant_out, size_t tenant_len,
                             char *token_id_out, size_t token_id_len,
                             char *why_out, size_t why_len)
{
        char hash[65], ts[32];
        char *e = NULL, *v;
        size_t vl = 0;
        json_t *o;
        const char *t, *id;
        int64_t exp;
        int ok = 0;

        if (!secret || !*secret || strlen(secret) > 512)
                return 0;
        scim_sha256_hex(secret, strlen(secret), hash);
        v = rocksdb_get_cf(st->db, st->ro, st->cf[CF_TOKEN], hash, 64, &vl, &e);
        if (e) {
                free(e);
                free(v);
                return 0;
        }
        o = v ? scim_json_load(v, vl) : NULL;
        free(v);
        t = json_string_value(json_object_get(o, "tenant"));
        id = json_string_value(json_object_get(o, "token_id"));
        exp = json_integer_value(json_object_get(o, "expires_ms"));
        if (!t || !id)
                goto out;
        if (json_is_true(json_object_get(o, "revoked"))) {
                const char *at =
                    json_string_value(json_object_get(o, "revoked_at"));

                snprintf(why_out, why_len, "token %.32s was revoked%s%.32s", id,
                         at ? " at " : "", at ? at : "");
                ok = 1;
        } else if (exp && scim_now_ms() >= exp) {
                scim_time_format(exp, ts);
                snprintf(why_out, why_len,
                         "token %.32s expired at %s (the end of its "
                         "rotation overlap)",
                         id, ts);
                ok = 1;
        }
        if (ok) {
                snprintf(tenant_out, tenant_len, "%s", t);
                snprintf(token_id_out, token_id_len, "%s", id);
        }
out:
        json_decref(o);
        return ok;
}
