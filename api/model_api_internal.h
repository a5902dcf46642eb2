/* model_api_internal.h — the tenant-definition calls (api/model_api.c),
 * routed by http.c. */
#ifndef SCIM_MODEL_API_INTERNAL_H
#define SCIM_MODEL_API_INTERNAL_H

#include <microhttpd.h>

#include "ingest/scim_ingest.h"
#include "projector/scim_projector.h"

/* 1 if url is /admin/v1/tenants/{t}/schema or .../catalogs/{name}. */
int scim_model_api_match(const char *url);

/* Answers one such call. operator_hash: SHA-256 hex of the operator
 * token, or NULL when none is configured. */
enum MHD_Result scim_model_api_handle(struct MHD_Connection *c,
                                      scim_store_t *st, scim_ingest_t *ing,
                                      const char *operator_hash,
                                      const char *url, const char *method,
                                      const char *raw_uri, const char *body,
                                      size_t len, const char *request_id);

/* 1 if url is under /admin/v1/tenants and not a definition call. */
int scim_admin_api_match(const char *url);

/* The operator's calls (api/admin_api.c): tenants, tokens, rotation,
 * disable/enable. operator_hash NULL: the admin API is off (404). */
enum MHD_Result scim_admin_api_handle(struct MHD_Connection *c,
                                      scim_store_t *st, scim_ingest_t *ing,
                                      const char *operator_hash, int tls,
                                      const char *url, const char *method,
                                      const char *body, size_t len,
                                      const char *request_id);

#endif
