/*
 * share.c — per-tenant accounting of the write queue (share_internal.h).
 *
 * The queue is one FIFO feeding one committer (ingest.c), which is what
 * keeps group commits large; fairness comes from admission instead: a
 * tenant holds at most SCIM_SHARE_WRITES_MAX writes and
 * SCIM_SHARE_BYTES_MAX bytes in it, so another tenant's write waits behind
 * at most that much of each busy tenant, however many connections the
 * busy one opens (libmicrohttpd suspends writing connections, so their
 * number is not bounded by pool threads).
 *
 * A chained hash of the tenants with writes in flight; an entry goes when
 * its count drops to 0, so the table only holds active tenants.
 * Threads: the caller holds the ingest mutex (any http pool thread, the
 * committer, the Kafka poll thread).
 */
#include <stdlib.h>
#include <string.h>

#include "ingest/share_internal.h"

#define SLOTS 1024

typedef struct entry {
        struct entry *next;
        size_t writes, bytes;
        char tenant[]; /* NUL-terminated */
} entry_t;

struct scim_share {
        entry_t *slot[SLOTS];
        uint64_t refused;
};

static unsigned hash(const char *s)
{
        unsigned h = 2166136261u; /* FNV-1a */

        while (*s)
                h = (h ^ (unsigned char)*s++) * 16777619u;
        return h % SLOTS;
}

scim_share_t *scim_share_new(void)
{
        return calloc(1, sizeof(scim_share_t));
}

void scim_share_free(scim_share_t *s)
{
        if (!s)
                return;
        for (int i = 0; i < SLOTS; i++)
                while (s->slot[i]) {
                        entry_t *e = s->slot[i];

                        s->slot[i] = e->next;
                        free(e);
                }
        free(s);
}

int scim_share_take(scim_share_t *s, const char *tenant, size_t bytes, int *oom)
{
        unsigned h = hash(tenant);
        entry_t *e = s->slot[h];
        size_t tl;

        *oom = 0;
        while (e && strcmp(e->tenant, tenant))
                e = e->next;
        if (!e) {
                tl = strlen(tenant);
                e = calloc(1, sizeof(*e) + tl + 1);
                if (!e) {
                        *oom = 1;
                        return -1;
                }
                memcpy(e->tenant, tenant, tl + 1);
                e->next = s->slot[h];
                s->slot[h] = e;
        }
        /* one write always fits, whatever its size (it passed the body
         * and resource limits already) */
        if (e->writes >= SCIM_SHARE_WRITES_MAX ||
            (e->writes && e->bytes + bytes > SCIM_SHARE_BYTES_MAX)) {
                s->refused++;
                return -1;
        }
        e->writes++;
        e->bytes += bytes;
        return 0;
}

void scim_share_give(scim_share_t *s, const char *tenant, size_t bytes)
{
        entry_t **pp = &s->slot[hash(tenant)];

        while (*pp && strcmp((*pp)->tenant, tenant))
                pp = &(*pp)->next;
        if (!*pp)
                return;
        (*pp)->writes--;
        (*pp)->bytes -= bytes <= (*pp)->bytes ? bytes : (*pp)->bytes;
        if (!(*pp)->writes) {
                entry_t *e = *pp;

                *pp = e->next;
                free(e);
        }
}

uint64_t scim_share_refused(const scim_share_t *s)
{
        return s ? s->refused : 0;
}
