/*
 * inflight.c — how many expensive requests one tenant has on the pool
 * threads at once. The rate limit bounds how often a tenant asks, not how
 * much of the pool it holds: 8 concurrent change-record pages of one
 * tenant (each ~0.45 s of CPU under ASan), well within its rate, took
 * every pool thread and raised another tenant's GET by id p50 from 0.8 ms
 * to ~500 ms. Now a tenant runs at most `per_tenant` list pages, .search
 * requests and reports API reads at once; one more is answered 429 with
 * Retry-After at once (it never waits on a pool thread), so the rest of
 * the pool stays free for other tenants.
 *
 * A place is held only while its request runs on a pool thread (a
 * suspended write or a point-in-time read queued on a report worker holds
 * none), so at most as many tenants as pool threads hold places: the
 * table has SLOTS entries, and a tenant that finds it full is let through
 * (it cannot be one of the tenants holding places).
 *
 * Threads: any pool thread; one mutex around the table.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/inflight_internal.h"
#include "common/scim_common.h"

#define SLOTS 256

struct scim_inflight {
        pthread_mutex_t mu;
        unsigned per_tenant;
        unsigned long refused;
        struct slot {
                unsigned n; /* 0: free */
                char tenant[SCIM_MAX_TENANT_LEN + 1];
        } slots[SLOTS];
};

scim_inflight_t *scim_inflight_new(unsigned per_tenant)
{
        scim_inflight_t *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        pthread_mutex_init(&t->mu, NULL);
        t->per_tenant = per_tenant ? per_tenant : 1;
        return t;
}

void scim_inflight_free(scim_inflight_t *t)
{
        if (!t)
                return;
        pthread_mutex_destroy(&t->mu);
        free(t);
}

int scim_inflight_enter(scim_inflight_t *t, const char *tenant)
{
        int ok = 1;
        struct slot *own = NULL, *spare = NULL;

        if (!t)
                return 1;
        pthread_mutex_lock(&t->mu);
        for (int i = 0; i < SLOTS && !own; i++) {
                struct slot *s = &t->slots[i];

                if (s->n && !strcmp(s->tenant, tenant))
                        own = s;
                else if (!s->n && !spare)
                        spare = s;
        }
        if (own && own->n >= t->per_tenant) {
                ok = 0;
                t->refused++;
        } else if (own) {
                own->n++;
        } else if (spare) {
                strncpy(spare->tenant, tenant, sizeof(spare->tenant) - 1);
                spare->tenant[sizeof(spare->tenant) - 1] = '\0';
                spare->n = 1;
        }
        pthread_mutex_unlock(&t->mu);
        return ok;
}

void scim_inflight_leave(scim_inflight_t *t, const char *tenant)
{
        if (!t)
                return;
        pthread_mutex_lock(&t->mu);
        for (int i = 0; i < SLOTS; i++)
                if (t->slots[i].n && !strcmp(t->slots[i].tenant, tenant)) {
                        t->slots[i].n--;
                        break;
                }
        pthread_mutex_unlock(&t->mu);
}

unsigned scim_inflight_limit(const scim_inflight_t *t)
{
        return t ? t->per_tenant : 0;
}

unsigned long scim_inflight_refused(scim_inflight_t *t)
{
        unsigned long n;

        pthread_mutex_lock(&t->mu);
        n = t->refused;
        pthread_mutex_unlock(&t->mu);
        return n;
}
