/*
 * share_internal.h — fair share of the write queue between tenants
 * (ingest/share.c): how many writes, and how many bytes of them, each
 * tenant has waiting for their commit. Internal to ingest/.
 *
 * Threads: not locked; the caller holds the ingest queue's mutex.
 */
#ifndef SCIM_INGEST_SHARE_INTERNAL_H
#define SCIM_INGEST_SHARE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* A tenant may have this many writes, and this many bytes of them (the
 * event and the kept request), queued or in a commit at once. At the cap
 * its next write is 429, so one tenant's flood never queues more than a
 * few group commits ahead of another tenant's write. */
#define SCIM_SHARE_WRITES_MAX 1024
#define SCIM_SHARE_BYTES_MAX ((size_t)32 << 20)

typedef struct scim_share scim_share_t;

/* NULL when out of memory; _free is NULL-safe. */
scim_share_t *scim_share_new(void);
void scim_share_free(scim_share_t *s);

/* Counts one write of bytes for tenant: 0, or -1 when the tenant is at
 * either cap (nothing counted) or out of memory (*oom set). */
int scim_share_take(scim_share_t *s, const char *tenant, size_t bytes,
                    int *oom);

/* Releases what _take counted (same tenant and bytes). */
void scim_share_give(scim_share_t *s, const char *tenant, size_t bytes);

/* Writes refused at a cap since start. */
uint64_t scim_share_refused(const scim_share_t *s);

#endif
