/* oauth_internal.h — OAuth 2.0 client credentials and JWTs (api/oauth.c),
 * used by http.c and the fuzz target. */
#ifndef SCIM_OAUTH_INTERNAL_H
#define SCIM_OAUTH_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>

#include "ingest/scim_ingest.h"
#include "projector/scim_projector.h"

#define SCIM_JWT_TTL_DEFAULT 3600 /* seconds */
#define SCIM_JWT_TTL_MAX 86400

/* 1 if a bearer value has the shape of a JWT (two dots). */
int scim_jwt_looks_like(const char *token);

/* Splits and decodes a compact JWS: header and claims (new objects), the
 * length of the signed part, the signature bytes (malloc'd). 0, or -1 with
 * err 401 naming what is malformed. Fuzzed (tests/fuzz/fuzz_jwt.c). */
int scim_jwt_parse(const char *token, json_t **header, json_t **claims,
                   size_t *signed_len, unsigned char **sig, size_t *siglen,
                   scim_err_t *err);

/* A new JWT (HS256, kid) for client_id of tenant, or NULL (out of
 * memory). The key is derived from master, tenant and kid. */
char *scim_jwt_issue(const char *master, const char *tenant, const char *kid,
                     const char *client_id, const char *scope, int64_t now_ms,
                     int64_t ttl_s);

/* Verifies a JWT for a request whose URL names url_tenant (NULL or "":
 * the token says). 0 with the tenant, the client id and the scope, or -1
 * with err (401 naming the reason; 403 for a disabled tenant). */
int scim_jwt_verify(scim_store_t *st, const char *master, const char *token,
                    const char *url_tenant, char *tenant_out,
                    size_t tenant_len, char *client_out, size_t client_len,
                    char *scope_out, size_t scope_len, scim_err_t *err);

/* POST /oauth/v1/{tenant}/token. master NULL: OAuth is off (404). */
int scim_oauth_match(const char *url);
enum MHD_Result scim_oauth_handle(struct MHD_Connection *c, scim_store_t *st,
                                  const char *master, int64_t ttl_s,
                                  const char *url, const char *method,
                                  const char *body, size_t len,
                                  scim_ingest_t *ing, const char *request_id);

#endif
