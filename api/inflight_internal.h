/*
 * inflight_internal.h — per-tenant concurrency of expensive requests
 * (api/inflight.c): list pages, .search and reports API reads that run on
 * a pool thread. Internal to api/.
 */
#ifndef SCIM_INFLIGHT_INTERNAL_H
#define SCIM_INFLIGHT_INTERNAL_H

typedef struct scim_inflight scim_inflight_t;

/* At most per_tenant expensive requests of one tenant at once (at least
 * 1). NULL when out of memory. */
scim_inflight_t *scim_inflight_new(unsigned per_tenant);
void scim_inflight_free(scim_inflight_t *t); /* NULL-safe */

/* Takes one of the tenant's places: 1, or 0 when all are taken (answer
 * 429). NULL t: always 1. */
int scim_inflight_enter(scim_inflight_t *t, const char *tenant);

/* Gives back a place taken by scim_inflight_enter. */
void scim_inflight_leave(scim_inflight_t *t, const char *tenant);

unsigned scim_inflight_limit(const scim_inflight_t *t);

/* Requests refused so far. */
unsigned long scim_inflight_refused(scim_inflight_t *t);

#endif /* SCIM_INFLIGHT_INTERNAL_H */
