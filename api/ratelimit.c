/*
 * ratelimit.c — per-tenant token buckets (see ratelimit_internal.h).
 *
 * A fixed table of TABLE_SLOTS buckets, found by hashing the tenant name
 * and probing PROBES slots; the table is split into STRIPES locks so pool
 * threads rarely wait for each other. When every probed slot holds
 * another tenant, the least recently used of them is taken over with a
 * full bucket — so memory is bounded whatever the number of tenants, and
 * the only effect of a crowded table is a tenant occasionally getting a
 * fresh burst.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/ratelimit_internal.h"
#include "common/scim_common.h"

#define TABLE_SLOTS 4096
#define PROBES 8
#define STRIPES 64

typedef struct bucket {
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        double tokens;
        double last; /* seconds, monotonic */
        uint64_t refused; /* this tenant's 429s while it holds the slot */
} bucket_t;

struct scim_ratelimit {
        double rate, burst;
        pthread_mutex_t mu[STRIPES];
        bucket_t slot[TABLE_SLOTS];
        uint64_t refused; /* atomic */
};

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t hash(const char *s)
{
        uint32_t h = 2166136261u; /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h;
}

scim_ratelimit_t *scim_ratelimit_new(double rate, double burst)
{
        scim_ratelimit_t *rl = calloc(1, sizeof(*rl));

        if (!rl)
                return NULL;
        rl->rate = rate;
        rl->burst = burst >= 1 ? burst : 1;
        for (int i = 0; i < STRIPES; i++)
                pthread_mutex_init(&rl->mu[i], NULL);
        return rl;
}

void scim_ratelimit_free(scim_ratelimit_t *rl)
{
        if (!rl)
                return;
        for (int i = 0; i < STRIPES; i++)
                pthread_mutex_destroy(&rl->mu[i]);
        free(rl);
}

int scim_ratelimit_take(scim_ratelimit_t *rl, const char *tenant,
                        unsigned *retry_s)
{
        uint32_t h;
        /* the probe window lies within one stripe: TABLE_SLOTS / STRIPES
         * slots per stripe, probes wrap inside it */
        size_t per = TABLE_SLOTS / STRIPES, stripe, base;
        bucket_t *b = NULL, *lru = NULL;
        double t;
        int ok;

        if (!rl || rl->rate <= 0)
                return 1;
        h = hash(tenant);
        stripe = h % STRIPES;
        base = stripe * per;
        t = now_s();
        pthread_mutex_lock(&rl->mu[stripe]);
        for (size_t i = 0; i < PROBES; i++) {
                bucket_t *x = &rl->slot[base + (h / STRIPES + i) % per];

                if (!strcmp(x->tenant, tenant)) {
                        b = x;
                        break;
                }
                if (!lru || x->last < lru->last)
                        lru = x;
        }
        if (!b) { /* new here, or taken over from the least recent */
                b = lru;
                snprintf(b->tenant, sizeof(b->tenant), "%s", tenant);
                b->tokens = rl->burst;
                b->last = t;
                b->refused = 0;
        }
        b->tokens += (t - b->last) * rl->rate;
        if (b->tokens > rl->burst)
                b->tokens = rl->burst;
        b->last = t;
        ok = b->tokens >= 1.0;
        if (ok)
                b->tokens -= 1.0;
        else {
                b->refused++;
                if (retry_s)
                        *retry_s =
                            (unsigned)ceil((1.0 - b->tokens) / rl->rate);
        }
        pthread_mutex_unlock(&rl->mu[stripe]);
        if (!ok) {
                __atomic_fetch_add(&rl->refused, 1, __ATOMIC_RELAXED);
                if (retry_s && *retry_s < 1)
                        *retry_s = 1;
        }
        return ok;
}

uint64_t scim_ratelimit_refused(scim_ratelimit_t *rl)
{
        return rl ? __atomic_load_n(&rl->refused, __ATOMIC_RELAXED) : 0;
}

uint64_t scim_ratelimit_tenant_refused(scim_ratelimit_t *rl, const char *tenant)
{
        uint32_t h;
        size_t per = TABLE_SLOTS / STRIPES, stripe, base;
        uint64_t n = 0;

        if (!rl || rl->rate <= 0)
                return 0;
        h = hash(tenant);
        stripe = h % STRIPES;
        base = stripe * per;
        pthread_mutex_lock(&rl->mu[stripe]);
        for (size_t i = 0; i < PROBES; i++) {
                bucket_t *x = &rl->slot[base + (h / STRIPES + i) % per];

                if (!strcmp(x->tenant, tenant)) {
                        n = x->refused;
                        break;
                }
        }
        pthread_mutex_unlock(&rl->mu[stripe]);
        return n;
}
