/*
 * admin_route.h — the operator's tenants-and-tokens calls as a table
 * (api/admin_route.c): method and path under /admin/v1/tenants plus the
 * JSON body become one tenant command (api/tenant_cmd.c's request), or a
 * SCIM error. Pure: no store, no connection (fuzz target admin_route).
 * Internal to api/.
 */
#ifndef SCIM_ADMIN_ROUTE_H
#define SCIM_ADMIN_ROUTE_H

#include <jansson.h>

#include "common/scim_common.h"

#define SCIM_ADMIN_MAX_BODY 65536 /* bytes of a request body */

enum {
        SCIM_ADMIN_COMMAND = 1, /* run call->req, answer ok_status */
        SCIM_ADMIN_CREATE,      /* a tenant create: answer adds scimUrl */
        SCIM_ADMIN_DESCRIBE,    /* one tenant, read from the store */
};

typedef struct scim_admin_call {
        int kind;
        unsigned ok_status;    /* 200 or 201 */
        const char *attempted; /* event action asked for ("TOKEN_REVOKE");
                                  NULL for reads */
        char tenant[SCIM_MAX_TENANT_LEN + 1]; /* the tenant it is about, ""
                                                 for the collection */
        json_t *req; /* the tenant command {"op", "args", ...}; owned by
                        the call (scim_admin_call_clear) */
} scim_admin_call_t;

/*
 * Routes method and rest (the path after /admin/v1/tenants, "" or "/..."):
 * 0 with *call filled, or -1 with err (404 no such call or an invalid
 * tenant name, 405 the wrong method, 413 a body over SCIM_ADMIN_MAX_BODY,
 * 400 a body that is no JSON object or a member of the wrong type). On
 * both, call->attempted and call->tenant say what was asked as far as
 * known. Any thread.
 */
int scim_admin_route(const char *method, const char *rest, const char *body,
                     size_t len, scim_admin_call_t *call, scim_err_t *err);

/* Releases call->req (NULL-safe). */
void scim_admin_call_clear(scim_admin_call_t *call);

#endif /* SCIM_ADMIN_ROUTE_H */
