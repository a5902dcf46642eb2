/*
 * audit.c — refusals at the front door become change records (issue 10
 * item 6: "every refusal is a clear error and a change or audit record").
 *
 * A refusal is a REFUSED event (ingest's asynchronous refusal path: the
 * client never waits for it) of the tenant the request was aimed at, with
 * attempted_action naming what was asked, the actor (token id, "operator",
 * "anonymous") and the answer's status and detail; the reports API lists
 * it with eventAction "access", "admin", "token_revoke", ....
 *
 * Bounded: unauthenticated requests must not grow the log without limit.
 * Only existing tenants get records, and one (tenant, actor, attempted,
 * status, detail) is logged at most once per SCIM_AUDIT_WINDOW_MS: the ones in
 * between are counted and the next record says how many. For the
 * unauthenticated actors "anonymous" and "jwt" (a JWT that did not verify)
 * the detail is left out of that key: the caller chose it. The table of
 * windows is direct-mapped (AUDIT_SLOTS), so its memory is fixed; a
 * collision only means an earlier record. On top, a server-wide budget
 * (AUDIT_RATE records per second, bursts of AUDIT_BURST): requests spread
 * over many tenants (a table that thrashes) cannot turn the auth step into
 * a log writer at request rate; what the budget refuses is counted
 * (scim_audit_dropped, /metrics). It is process-wide (one mutex):
 * the admin handlers take no API handle, and the window is a property of
 * the log, not of a listener. Runs on http pool threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/audit_internal.h"

#define AUDIT_SLOTS 4096
#define AUDIT_RATE ((double)SCIM_AUDIT_RATE)
#define AUDIT_BURST ((double)SCIM_AUDIT_BURST)

typedef struct slot {
        uint64_t key;
        int64_t at_ms;
        uint64_t suppressed;
} slot_t;

static slot_t slots[AUDIT_SLOTS];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static double budget = AUDIT_BURST; /* under slots_mu */
static int64_t budget_ms;           /* under slots_mu */
static uint64_t dropped;            /* under slots_mu */

uint64_t scim_audit_dropped(void)
{
        uint64_t n;

        pthread_mutex_lock(&slots_mu);
        n = dropped;
        pthread_mutex_unlock(&slots_mu);
        return n;
}

static uint64_t fnv(uint64_t h, const char *s)
{
        for (; s && *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ULL;
        }
        h ^= 0xff; /* separator: ("ab","c") is not ("a","bc") */
        h *= 1099511628211ULL;
        return h;
}

int scim_audit_window_take(const char *tenant, const char *actor,
                           const char *attempted, int status,
                           const char *detail, uint64_t *before)
{
        char st[16];
        uint64_t k = 14695981039346656037ULL;
        slot_t *s;
        int64_t now = scim_now_ms();
        int take;

        snprintf(st, sizeof(st), "%d", status);
        k = fnv(fnv(fnv(fnv(fnv(k, tenant), actor), attempted), st), detail);
        if (!k)
                k = 1;
        s = &slots[k % AUDIT_SLOTS];
        pthread_mutex_lock(&slots_mu);
        if (s->key == k && now >= s->at_ms &&
            now - s->at_ms < SCIM_AUDIT_WINDOW_MS) {
                s->suppressed++;
                take = 0;
        } else {
                if (now > budget_ms) { /* refill the server-wide budget */
                        budget += (double)(now - budget_ms) * AUDIT_RATE / 1e3;
                        if (budget > AUDIT_BURST)
                                budget = AUDIT_BURST;
                        budget_ms = now;
                }
                if (budget < 1) {
                        dropped++;
                        pthread_mutex_unlock(&slots_mu);
                        return 0;
                }
                budget -= 1;
                *before = s->key == k ? s->suppressed : 0;
                s->key = k;
                s->at_ms = now;
                s->suppressed = 0;
                take = 1;
        }
        pthread_mutex_unlock(&slots_mu);
        return take;
}

void scim_audit_refusal(scim_ingest_t *ing, scim_store_t *st,
                        const char *tenant, const char *actor,
                        const char *request_id, const char *attempted,
                        const scim_err_t *answer)
{
        scim_err_t e;
        uint64_t before = 0;

        if (!ing || !st || !tenant || !answer || answer->status < 400 ||
            answer->status >= 500 || answer->status == 429 ||
            !scim_tenant_name_ok(tenant) ||
            !scim_store_tenant_exists(st, tenant))
                return;
        if (!actor || !*actor)
                actor = "anonymous";
        /* an unauthenticated caller writes its own detail (a forged
         * JWT's kid, alg or client): its refusals share one window per
         * kind, or a new kid per request made a record per request */
        if (!scim_audit_window_take(tenant, actor, attempted ? attempted : "",
                                    answer->status,
                                    strcmp(actor, "anonymous") &&
                                            strcmp(actor, "jwt")
                                        ? answer->detail
                                        : "",
                                    &before))
                return;
        e = *answer;
        if (before) {
                size_t n = strlen(e.detail);

                snprintf(e.detail + n, sizeof(e.detail) - n,
                         " (and %llu more like it in the %d s before)",
                         (unsigned long long)before,
                         SCIM_AUDIT_WINDOW_MS / 1000);
        }
        scim_ingest_refusal(ing, tenant, actor, request_id, attempted, &e);
}

void scim_audit_bad_token(scim_ingest_t *ing, scim_store_t *st,
                          const char *target, const char *secret,
                          const char *request_id, const char *attempted,
                          const scim_err_t *answer)
{
        char tenant[SCIM_MAX_TENANT_LEN + 8], tid[64], why[160];
        scim_err_t e;

        if (!answer)
                return;
        if (scim_store_token_refused(st, secret, tenant, sizeof(tenant), tid,
                                     sizeof(tid), why, sizeof(why)) &&
            (!target || !strcmp(target, tenant))) {
                size_t n;

                e = *answer;
                n = strlen(e.detail);
                snprintf(e.detail + n, sizeof(e.detail) - n, " (%s)", why);
                scim_audit_refusal(ing, st, tenant, tid, request_id, attempted,
                                   &e);
                return;
        }
        scim_audit_refusal(ing, st, target, "anonymous", request_id, attempted,
                           answer);
}
