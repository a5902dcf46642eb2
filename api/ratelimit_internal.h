/*
 * ratelimit_internal.h — per-tenant token buckets for the HTTP API
 * (api/ratelimit.c): each tenant may make `rate` requests per second
 * sustained, `burst` at once; a request over it is answered 429 with
 * Retry-After. Internal to api/.
 */
#ifndef SCIM_RATELIMIT_INTERNAL_H
#define SCIM_RATELIMIT_INTERNAL_H

#include <stdint.h>

#define SCIM_RATE_DEFAULT 100.0  /* requests per second per tenant */
#define SCIM_BURST_DEFAULT 200.0 /* bucket size */

typedef struct scim_ratelimit scim_ratelimit_t;

/* rate <= 0: no limit (every take succeeds). NULL when out of memory. */
scim_ratelimit_t *scim_ratelimit_new(double rate, double burst);
void scim_ratelimit_free(scim_ratelimit_t *rl);

/* Takes one token of the tenant's bucket: 1 allowed; 0 refused, with
 * *retry_s the whole seconds until a token is there (at least 1). */
int scim_ratelimit_take(scim_ratelimit_t *rl, const char *tenant,
                        unsigned *retry_s);

/* Requests refused so far. */
uint64_t scim_ratelimit_refused(scim_ratelimit_t *rl);

/* 429s of one tenant since its bucket was made on this node (buckets of
 * tenants idle the longest are reused when the table is full, so this is
 * "recent", not lifetime). */
uint64_t scim_ratelimit_tenant_refused(scim_ratelimit_t *rl,
                                       const char *tenant);

#endif /* SCIM_RATELIMIT_INTERNAL_H */
