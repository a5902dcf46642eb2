/*
 * oauth.c — OAuth 2.0 client credentials (RFC 6749 §4.4) with short-lived
 * JWTs (RFC 7519, HS256), what Entra's gallery asks of new apps:
 *
 *   POST /oauth/v1/{tenant}/token
 *        grant_type=client_credentials, client_id, client_secret (form
 *        body, or HTTP Basic) -> {"access_token": JWT, "token_type":
 *        "Bearer", "expires_in": N, "scope": S}
 *
 * Clients are registered per tenant by the operator (CLIENT_REGISTER /
 * CLIENT_REVOKE events: the secret only as its SHA-256). Signing keys are
 * never in the log: each node derives the key of (tenant, kid) from the
 * master secret in --jwt-key-file, HMAC-SHA256(master, tenant \0 kid), and
 * the log only says which kid is current (KEY_ROTATE). After a rotation the
 * previous kid still verifies for the longest token lifetime, so tokens in
 * flight stay valid: no downtime. Signatures and hashes are Nettle's; the
 * comparison is constant-time.
 *
 * A JWT is accepted by the SCIM API alongside static bearer tokens when
 * its signature, kid, audience (scimlog:{tenant}), expiry (and not before
 * its iat, with 60 s of skew), client (registered, not revoked) and tenant
 * (not disabled) all check out; each refusal is a 401 naming the reason.
 */
#include <microhttpd.h>
#include <nettle/base64.h>
#include <nettle/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/audit_internal.h"
#include "api/conn_guard_internal.h"
#include "api/http_internal.h"
#include "api/oauth_internal.h"

#define SKEW_MS 60000
#define MAX_JWT 4096

/* --------------------------------------------------------- base64url */

static char *b64url(const void *data, size_t n)
{
        struct base64_encode_ctx ctx;
        char *out = malloc(BASE64_ENCODE_LENGTH(n) + BASE64_ENCODE_FINAL_LENGTH + 1);
        size_t o;

        if (!out)
                return NULL;
        base64url_encode_init(&ctx);
        o = base64_encode_update(&ctx, out, n, data);
        o += base64_encode_final(&ctx, out + o);
        while (o && out[o - 1] == '=') /* JWTs carry no padding */
                o--;
        out[o] = '\0';
        return out;
}

/* Decodes unpadded base64url s[0..n) into a new buffer; NULL when bad. */
static unsigned char *unb64url(const char *s, size_t n, size_t *outlen)
{
        struct base64_decode_ctx ctx;
        char *padded;
        unsigned char *out;
        size_t pn = n + (4 - n % 4) % 4, dl;

        if (n % 4 == 1)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '=' || s[i] == '+' || s[i] == '/')
                        return NULL; /* base64url, unpadded: nothing else */
        padded = malloc(pn + 1);
        out = malloc(BASE64_DECODE_LENGTH(pn) + 1);
        if (!padded || !out) {
                free(padded);
                free(out);
                return NULL;
        }
        memcpy(padded, s, n);
        memset(padded + n, '=', pn - n);
        base64url_decode_init(&ctx);
        dl = BASE64_DECODE_LENGTH(pn);
        if (!base64_decode_update(&ctx, &dl, out, pn, padded) ||
            !base64_decode_final(&ctx)) {
                free(padded);
                free(out);
                return NULL;
        }
        free(padded);
        out[dl] = '\0';
        *outlen = dl;
        return out;
}

/* ------------------------------------------------------------ keys */

static void derive_key(const char *master, const char *tenant,
                       const char *kid, uint8_t key[SHA256_DIGEST_SIZE])
{
        struct hmac_sha256_ctx h;

        hmac_sha256_set_key(&h, strlen(master), (const uint8_t *)master);
        hmac_sha256_update(&h, strlen(tenant) + 1, (const uint8_t *)tenant);
        hmac_sha256_update(&h, strlen(kid), (const uint8_t *)kid);
        hmac_sha256_digest(&h, SHA256_DIGEST_SIZE, key);
}

static void sign(const uint8_t key[SHA256_DIGEST_SIZE], const char *data,
                 size_t n, uint8_t mac[SHA256_DIGEST_SIZE])
{
        struct hmac_sha256_ctx h;

        hmac_sha256_set_key(&h, SHA256_DIGEST_SIZE, key);
        hmac_sha256_update(&h, n, (const uint8_t *)data);
        hmac_sha256_digest(&h, SHA256_DIGEST_SIZE, mac);
}

/* The tenant's current kid and the one before it (valid until
 * prev_until_ms), from the views; "0" before any rotation. */
static void tenant_kids(scim_store_t *st, const char *tenant, char *cur,
                        size_t curlen, char *prev, size_t prevlen,
                        int64_t *prev_until)
{
        json_t *k = scim_store_tenant_get(st, tenant, 'K', "");

        snprintf(cur, curlen, "%s",
                 json_string_value(json_object_get(k, "current"))
                     ? json_string_value(json_object_get(k, "current"))
                     : "0");
        snprintf(prev, prevlen, "%s",
                 json_string_value(json_object_get(k, "previous"))
                     ? json_string_value(json_object_get(k, "previous"))
                     : "");
        *prev_until = json_integer_value(json_object_get(k, "previous_until"));
        json_decref(k);
}

/* ------------------------------------------------------------ issue */

char *scim_jwt_issue(const char *master, const char *tenant, const char *kid,
                     const char *client_id, const char *scope, int64_t now_ms,
                     int64_t ttl_s)
{
        uint8_t key[SHA256_DIGEST_SIZE], mac[SHA256_DIGEST_SIZE];
        json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "typ", "JWT",
                                "kid", kid);
        char aud[SCIM_MAX_TENANT_LEN + 16], jti[37];
        json_t *claims;
        char *h = NULL, *p = NULL, *hj = NULL, *pj = NULL, *s = NULL;
        char *out = NULL;
        scim_buf_t b = {0};

        snprintf(aud, sizeof(aud), "scimlog:%s", tenant);
        scim_uuid4(jti);
        claims = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:I, s:s}", "iss",
                           "scimlog", "sub", client_id, "aud", aud, "tid",
                           tenant, "scope", scope, "iat",
                           (json_int_t)(now_ms / 1000), "exp",
                           (json_int_t)(now_ms / 1000 + ttl_s), "jti", jti);
        hj = scim_json_dumps(hdr);
        pj = scim_json_dumps(claims);
        if (!hj || !pj)
                goto out;
        h = b64url(hj, strlen(hj));
        p = b64url(pj, strlen(pj));
        if (!h || !p)
                goto out;
        scim_buf_puts(&b, h);
        scim_buf_puts(&b, ".");
        scim_buf_puts(&b, p);
        derive_key(master, tenant, kid, key);
        sign(key, b.data, b.len, mac);
        s = b64url(mac, sizeof(mac));
        if (!s)
                goto out;
        scim_buf_puts(&b, ".");
        scim_buf_puts(&b, s);
        out = strndup(b.data, b.len);
out:
        json_decref(hdr);
        json_decref(claims);
        free(h);
        free(p);
        free(hj);
        free(pj);
        free(s);
        scim_buf_free(&b);
        return out;
}

/* ------------------------------------------------------------ verify */

int scim_jwt_looks_like(const char *token)
{
        const char *d1 = token ? strchr(token, '.') : NULL;

        return d1 && strchr(d1 + 1, '.') != NULL;
}

int scim_jwt_parse(const char *token, json_t **header, json_t **claims,
                   size_t *signed_len, unsigned char **sig, size_t *siglen,
                   scim_err_t *err)
{
        const char *d1, *d2;
        unsigned char *hb = NULL, *pb = NULL;
        size_t hl = 0, pl = 0;

        *header = *claims = NULL;
        *sig = NULL;
        if (!token || strlen(token) > MAX_JWT)
                return scim_err_set(err, 401, NULL,
                                    "the JWT is missing or over %d bytes",
                                    MAX_JWT);
        d1 = strchr(token, '.');
        d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (!d1 || !d2 || strchr(d2 + 1, '.'))
                return scim_err_set(err, 401, NULL,
                                    "the JWT must have three parts");
        hb = unb64url(token, (size_t)(d1 - token), &hl);
        pb = unb64url(d1 + 1, (size_t)(d2 - d1 - 1), &pl);
        *sig = unb64url(d2 + 1, strlen(d2 + 1), siglen);
        if (hb)
                *header = json_loadb((char *)hb, hl, JSON_REJECT_DUPLICATES,
                                     NULL);
        if (pb)
                *claims = json_loadb((char *)pb, pl, JSON_REJECT_DUPLICATES,
                                     NULL);
        free(hb);
        free(pb);
        if (!json_is_object(*header) || !json_is_object(*claims) || !*sig) {
                json_decref(*header);
                json_decref(*claims);
                free(*sig);
                *header = *claims = NULL;
                *sig = NULL;
                return scim_err_set(err, 401, NULL,
                                    "the JWT is not base64url JSON");
        }
        *signed_len = (size_t)(d2 - token);
        return 0;
}

int scim_jwt_verify(scim_store_t *st, const char *master, const char *token,
                    const char *url_tenant, char *tenant_out,
                    size_t tenant_len, char *client_out, size_t client_len,
                    char *scope_out, size_t scope_len, scim_err_t *err)
{
        json_t *hdr = NULL, *cl = NULL, *client = NULL, *trec = NULL;
        unsigned char *sig = NULL;
        size_t slen = 0, siglen = 0;
        const char *alg, *kid, *aud, *tid, *sub, *scope;
        char cur[80], prev[80];
        int64_t prev_until = 0, now = scim_now_ms();
        json_int_t exp, iat;
        uint8_t key[SHA256_DIGEST_SIZE], mac[SHA256_DIGEST_SIZE];
        int rc = -1;

        if (!master)
                return scim_err_set(err, 401, NULL,
                                    "this server does not accept JWTs "
                                    "(no --jwt-key-file)");
        if (scim_jwt_parse(token, &hdr, &cl, &slen, &sig, &siglen, err) < 0)
                return -1;
        alg = json_string_value(json_object_get(hdr, "alg"));
        kid = json_string_value(json_object_get(hdr, "kid"));
        tid = json_string_value(json_object_get(cl, "tid"));
        aud = json_string_value(json_object_get(cl, "aud"));
        sub = json_string_value(json_object_get(cl, "sub"));
        scope = json_string_value(json_object_get(cl, "scope"));
        exp = json_integer_value(json_object_get(cl, "exp"));
        iat = json_integer_value(json_object_get(cl, "iat"));
        if (!alg || strcmp(alg, "HS256")) {
                scim_err_set(err, 401, NULL,
                             "JWT alg must be HS256 (got %.16s)",
                             alg ? alg : "none");
                goto out;
        }
        if (!kid || !tid || !scim_tenant_name_ok(tid) || !sub || !aud ||
            !json_is_integer(json_object_get(cl, "exp")) || strlen(kid) > 64) {
                scim_err_set(err, 401, NULL,
                             "the JWT lacks kid, tid, sub, aud or exp");
                goto out;
        }
        tenant_kids(st, tid, cur, sizeof(cur), prev, sizeof(prev),
                    &prev_until);
        if (strcmp(kid, cur) && !(prev[0] && !strcmp(kid, prev) &&
                                  now < prev_until)) {
                scim_err_set(err, 401, NULL,
                             "the JWT's signing key '%.64s' is not (or no "
                             "longer) valid",
                             kid);
                goto out;
        }
        derive_key(master, tid, kid, key);
        sign(key, token, slen, mac);
        if (siglen != sizeof(mac) || !scim_ct_equal(mac, sig, sizeof(mac))) {
                scim_err_set(err, 401, NULL, "the JWT's signature is wrong");
                goto out;
        }
        {
                char want[SCIM_MAX_TENANT_LEN + 16];

                snprintf(want, sizeof(want), "scimlog:%s", tid);
                if (strcmp(aud, want) ||
                    (url_tenant && *url_tenant && strcmp(url_tenant, tid))) {
                        scim_err_set(err, 401, NULL,
                                     "the JWT is for another audience or "
                                     "tenant (%.80s)",
                                     aud);
                        goto out;
                }
        }
        if (now / 1000 >= exp) {
                scim_err_set(err, 401, NULL, "the JWT has expired");
                goto out;
        }
        if (iat && iat * 1000 > now + SKEW_MS) {
                scim_err_set(err, 401, NULL, "the JWT is issued in the future");
                goto out;
        }
        client = scim_store_tenant_get(st, tid, 'C', sub);
        if (!client || json_is_true(json_object_get(client, "revoked"))) {
                scim_err_set(err, 401, NULL,
                             "the JWT's client '%.64s' is not registered "
                             "(or revoked)",
                             sub);
                goto out;
        }
        trec = scim_store_tenant_get(st, tid, 0, NULL);
        if (!trec || json_is_true(json_object_get(trec, "disabled"))) {
                scim_err_set(err, trec ? 403 : 401, NULL,
                             "tenant '%.64s' is %s", tid,
                             trec ? "disabled" : "unknown");
                goto out;
        }
        snprintf(tenant_out, tenant_len, "%s", tid);
        snprintf(client_out, client_len, "%s", sub);
        snprintf(scope_out, scope_len, "%s", scope ? scope : "");
        rc = 0;
out:
        json_decref(hdr);
        json_decref(cl);
        json_decref(client);
        json_decref(trec);
        free(sig);
        return rc;
}

/* ------------------------------------------------------------ endpoint */

int scim_oauth_match(const char *url)
{
        return !strncmp(url, "/oauth/v1/", 10);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status,
                              const json_t *j)
{
        char *txt = scim_json_dumps(j);
        struct MHD_Response *resp =
            scim_resp_new(txt ? txt : "{}", txt ? strlen(txt) : 2);
        enum MHD_Result rc;

        free(txt);
        if (!resp) {
                status = 503;
                if (!(resp = scim_resp_busy()))
                        return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type",
                                "application/json; charset=utf-8");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "Pragma", "no-cache");
        if (status == 401)
                MHD_add_response_header(resp, "WWW-Authenticate",
                                        "Basic realm=\"scimlog\"");
        rc = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return rc;
}

static enum MHD_Result oauth_error(struct MHD_Connection *c, unsigned status,
                                   const char *code, const char *desc)
{
        json_t *j = json_pack("{s:s, s:s}", "error", code, "error_description",
                              desc);
        enum MHD_Result rc = answer(c, status, j);

        json_decref(j);
        return rc;
}

/* client_id / client_secret from HTTP Basic (RFC 6749 §2.3.1). */
static int basic_auth(struct MHD_Connection *c, char *id, size_t idlen,
                      char *secret, size_t seclen)
{
        const char *h =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        struct base64_decode_ctx ctx;
        char buf[600];
        size_t n = sizeof(buf) - 1;
        char *colon;

        if (!h || strncasecmp(h, "Basic ", 6) || strlen(h + 6) > 780)
                return 0;
        base64_decode_init(&ctx);
        if (!base64_decode_update(&ctx, &n, (uint8_t *)buf, strlen(h + 6),
                                  h + 6) ||
            !base64_decode_final(&ctx))
                return 0;
        buf[n] = '\0';
        if (!(colon = strchr(buf, ':')))
                return 0;
        *colon = '\0';
        snprintf(id, idlen, "%s", buf);
        snprintf(secret, seclen, "%s", colon + 1);
        return 1;
}

/* A refused token request, in the tenant's change records (api/audit.c):
 * actor "client:ID" when the client is registered, else "anonymous". */
static void refusal(scim_ingest_t *ing, scim_store_t *st, const char *tenant,
                    const char *client_id, const char *request_id, int status,
                    const char *detail)
{
        char actor[80];
        scim_err_t e;

        snprintf(actor, sizeof(actor), "client:%.56s",
                 client_id ? client_id : "");
        scim_err_clear(&e);
        scim_err_set(&e, status, NULL, "%s", detail);
        scim_audit_refusal(ing, st, tenant, client_id ? actor : "anonymous",
                           request_id, "OAUTH_TOKEN", &e);
}

enum MHD_Result scim_oauth_handle(struct MHD_Connection *c, scim_store_t *st,
                                  const char *master, int64_t ttl_s,
                                  const char *url, const char *method,
                                  const char *body, size_t len,
                                  scim_ingest_t *ing, const char *request_id)
{
        const char *t = url + 10, *slash = strchr(t, '/');
        char tenant[SCIM_MAX_TENANT_LEN + 8], id[128] = "", secret[256] = "";
        char kid[80], prev[80], hash[65];
        int64_t prev_until;
        json_t *form = NULL, *client = NULL, *trec = NULL, *out;
        const char *gt, *want_scope;
        char *jwt = NULL;
        scim_err_t e;
        enum MHD_Result rc;

        if (!master)
                return oauth_error(c, 404, "invalid_request",
                                   "OAuth is off (serve --jwt-key-file)");
        if (!slash || strcmp(slash, "/token") ||
            (size_t)(slash - t) > SCIM_MAX_TENANT_LEN || slash == t)
                return oauth_error(c, 404, "invalid_request",
                                   "the token endpoint is "
                                   "/oauth/v1/{tenant}/token");
        memcpy(tenant, t, (size_t)(slash - t));
        tenant[slash - t] = '\0';
        if (strcmp(method, "POST"))
                return oauth_error(c, 405, "invalid_request",
                                   "the token endpoint takes POST");
        if (len > 8192)
                return oauth_error(c, 413, "invalid_request",
                                   "the body is over 8 KiB");
        {
                /* the form body: the same decoder as query strings */
                char *b = strndup(body ? body : "", len);

                scim_err_clear(&e);
                if (!b || scim_query_parse(b, &form, &e) < 0) {
                        free(b);
                        return oauth_error(c, 400, "invalid_request",
                                           "the body must be "
                                           "application/x-www-form-urlencoded");
                }
                free(b);
        }
        gt = json_string_value(json_object_get(form, "grant_type"));
        if (!gt || strcmp(gt, "client_credentials")) {
                rc = oauth_error(c, 400, "unsupported_grant_type",
                                 "grant_type must be client_credentials");
                goto out;
        }
        if (!basic_auth(c, id, sizeof(id), secret, sizeof(secret))) {
                const char *i = json_string_value(json_object_get(form, "client_id"));
                const char *s = json_string_value(
                    json_object_get(form, "client_secret"));

                snprintf(id, sizeof(id), "%s", i ? i : "");
                snprintf(secret, sizeof(secret), "%s", s ? s : "");
        }
        if (!id[0] || !secret[0]) {
                rc = oauth_error(c, 401, "invalid_client",
                                 "client_id and client_secret are required");
                refusal(ing, st, tenant, NULL, request_id, 401,
                        "token endpoint: no client credentials");
                goto out;
        }
        client = scim_tenant_name_ok(tenant)
                     ? scim_store_tenant_get(st, tenant, 'C', id)
                     : NULL;
        scim_sha256_hex(secret, strlen(secret), hash);
        if (!client || json_is_true(json_object_get(client, "revoked")) ||
            !json_string_value(json_object_get(client, "secret_hash")) ||
            !scim_ct_equal(hash,
                           json_string_value(json_object_get(client, "secret_hash")),
                           64)) {
                rc = oauth_error(c, 401, "invalid_client",
                                 "unknown client, wrong secret, or revoked");
                refusal(ing, st, tenant, client ? id : NULL, request_id, 401,
                        "token endpoint: unknown client, wrong secret, or "
                        "revoked client");
                goto out;
        }
        trec = scim_store_tenant_get(st, tenant, 0, NULL);
        if (!trec || json_is_true(json_object_get(trec, "disabled"))) {
                rc = oauth_error(c, 400, "unauthorized_client",
                                 "the tenant is disabled");
                refusal(ing, st, tenant, id, request_id, 400,
                        "token endpoint: the tenant is disabled");
                goto out;
        }
        want_scope = json_string_value(json_object_get(form, "scope"));
        if (want_scope && *want_scope &&
            strcmp(want_scope, json_string_value(json_object_get(client, "scope"))
                                   ? json_string_value(json_object_get(client, "scope"))
                                   : "scim")) {
                rc = oauth_error(c, 400, "invalid_scope",
                                 "the client is registered for another scope");
                refusal(ing, st, tenant, id, request_id, 400,
                        "token endpoint: the client is registered for "
                        "another scope");
                goto out;
        }
        tenant_kids(st, tenant, kid, sizeof(kid), prev, sizeof(prev),
                    &prev_until);
        jwt = scim_jwt_issue(master, tenant, kid, id,
                             json_string_value(json_object_get(client, "scope")),
                             scim_now_ms(), ttl_s);
        if (!jwt) {
                rc = oauth_error(c, 503, "temporarily_unavailable",
                                 "out of memory");
                goto out;
        }
        out = json_pack("{s:s, s:s, s:I, s:s}", "access_token", jwt,
                        "token_type", "Bearer", "expires_in", (json_int_t)ttl_s,
                        "scope",
                        json_string_value(json_object_get(client, "scope"))
                            ? json_string_value(json_object_get(client, "scope"))
                            : "scim");
        rc = answer(c, 200, out);
        json_decref(out);
out:
        free(jwt);
        json_decref(form);
        json_decref(client);
        json_decref(trec);
        return rc;
}
