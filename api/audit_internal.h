/*
 * audit_internal.h — refusals at the front door as change records
 * (api/audit.c): a refused authentication or scope on the SCIM, reports
 * and admin APIs, and a refused admin call that wrote no event, become a
 * REFUSED event of the tenant it was aimed at, so the reports API shows
 * who was refused what, when and why. Internal to api/.
 */
#ifndef SCIM_AUDIT_INTERNAL_H
#define SCIM_AUDIT_INTERNAL_H

#include "common/scim_common.h"
#include "ingest/scim_ingest.h"
#include "projector/scim_projector.h"

/* Records within this window with the same (tenant, actor, attempted,
 * status, detail) are counted, not logged: the next record says how many. */
#define SCIM_AUDIT_WINDOW_MS 10000

/*
 * Records answer (status >= 400) in tenant's change records, attempted
 * naming what was asked ("ACCESS", "ADMIN", "TOKEN_REVOKE", ...). Not
 * recorded: a tenant that does not exist (an attacker must not write
 * into the log under names it makes up), a NULL tenant, and what
 * scim_ingest_refusal does not log (429, 5xx, queue half full). Any
 * thread.
 */
void scim_audit_refusal(scim_ingest_t *ing, scim_store_t *st,
                        const char *tenant, const char *actor,
                        const char *request_id, const char *attempted,
                        const scim_err_t *answer);

/* Server-wide budget of refusal records: per second, and at once. */
#define SCIM_AUDIT_RATE 50
#define SCIM_AUDIT_BURST 500

/* The window and budget step of scim_audit_refusal: 1 to log now (with
 * *before the same refusals counted since the last record), 0 when
 * counted in the window or over the budget. Any thread. */
int scim_audit_window_take(const char *tenant, const char *actor,
                           const char *attempted, int status,
                           const char *detail, uint64_t *before);

/* Refusals not recorded because the server-wide budget of refusal
 * records was spent (requests spread over many tenants). */
uint64_t scim_audit_dropped(void);

/*
 * A bearer secret that is no live token: when it names a revoked token or
 * one past its rotation overlap, the record goes to that token's tenant
 * (if target is NULL or that tenant) with the token id as actor and the
 * reason added to the detail; otherwise to target (actor "anonymous").
 */
void scim_audit_bad_token(scim_ingest_t *ing, scim_store_t *st,
                          const char *target, const char *secret,
                          const char *request_id, const char *attempted,
                          const scim_err_t *answer);

#endif /* SCIM_AUDIT_INTERNAL_H */
