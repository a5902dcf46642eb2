/*
 * maintain.c — the server's own housekeeping thread: every prune interval
 * it asks the store which tenants have change records older than their
 * retention and appends a TENANT_UPDATE {"prune": true} event for each
 * (actor "retention"), so pruning is in the log and replays the same
 * (projector/retain.c); every snapshot interval it takes a log snapshot
 * and truncates the log behind it (projector/snapshot.c, embedded mode).
 * A prune that stopped at its budget is followed by the next one at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/scim_api.h"

struct scim_maintain {
        scim_store_t *st;
        scim_ingest_t *ing;
        scim_maintain_config_t cfg;
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int stop;
        int64_t next_prune_ms, next_snapshot_ms;
};

/* Appends the prune events that are due; 1 if any was appended. */
static int prune_due(scim_maintain_t *m)
{
        json_t *due = scim_changes_prune_due(m->st, scim_now_ms());
        size_t i;
        json_t *t;
        int any = 0;

        json_array_foreach(due, i, t)
        {
                scim_changes_horizon_t before, after;
                scim_err_t e;
                int status = 0;
                const char *name = json_string_value(t);

                scim_changes_horizon(m->st, name, &before);
                scim_err_clear(&e);
                if (scim_ingest_tenant_update(m->ing, name, "retention",
                                              "{\"prune\":true}", &status,
                                              &e) < 0) {
                        scim_event("warn", "prune_failed",
                                   "pruning tenant %s: %s", name, e.detail);
                        continue;
                }
                scim_changes_horizon(m->st, name, &after);
                if (after.pruned > before.pruned)
                        any = 1;
        }
        json_decref(due);
        return any;
}

static void snapshot_now(scim_maintain_t *m)
{
        scim_snapshot_info_t info;
        scim_err_t e;

        scim_err_clear(&e);
        if (scim_store_snapshot(m->st, &info, &e) < 0) {
                scim_event("warn", "snapshot_failed", "log snapshot: %s",
                           e.detail);
                return;
        }
        if (scim_store_log_truncate(m->st, &info, &e) < 0)
                scim_event("warn", "truncate_failed", "log truncation: %s",
                           e.detail);
        else
                scim_event("info", "log_snapshot",
                           "log snapshot at position %llu; the log now "
                           "starts after %llu",
                           (unsigned long long)info.position,
                           (unsigned long long)info.log_base);
}

static void *maintain_main(void *arg)
{
        scim_maintain_t *m = arg;
        int64_t now = scim_now_ms();

        m->next_prune_ms = now + m->cfg.prune_interval_ms;
        m->next_snapshot_ms = now + m->cfg.snapshot_interval_ms;
        pthread_mutex_lock(&m->mu);
        while (!m->stop) {
                int64_t wake = INT64_MAX;
                struct timespec ts;

                now = scim_now_ms();
                if (m->cfg.prune_interval_ms > 0 && now >= m->next_prune_ms) {
                        int more;

                        pthread_mutex_unlock(&m->mu);
                        more = prune_due(m);
                        pthread_mutex_lock(&m->mu);
                        /* a prune that did something may have stopped at
                         * its budget: look again soon */
                        m->next_prune_ms =
                            scim_now_ms() +
                            (more ? 100 : m->cfg.prune_interval_ms);
                        continue;
                }
                if (m->cfg.snapshot_interval_ms > 0 &&
                    now >= m->next_snapshot_ms) {
                        pthread_mutex_unlock(&m->mu);
                        snapshot_now(m);
                        pthread_mutex_lock(&m->mu);
                        m->next_snapshot_ms =
                            scim_now_ms() + m->cfg.snapshot_interval_ms;
                        continue;
                }
                if (m->cfg.prune_interval_ms > 0)
                        wake = m->next_prune_ms;
                if (m->cfg.snapshot_interval_ms > 0 &&
                    m->next_snapshot_ms < wake)
                        wake = m->next_snapshot_ms;
                if (wake == INT64_MAX) {
                        pthread_cond_wait(&m->cv, &m->mu);
                        continue;
                }
                ts.tv_sec = wake / 1000;
                ts.tv_nsec = (wake % 1000) * 1000000L;
                pthread_cond_timedwait(&m->cv, &m->mu, &ts);
        }
        pthread_mutex_unlock(&m->mu);
        return NULL;
}

int scim_maintain_start(scim_store_t *st, scim_ingest_t *ing,
                        const scim_maintain_config_t *cfg,
                        scim_maintain_t **out, char *errstr, size_t errlen)
{
        scim_maintain_t *m = calloc(1, sizeof(*m));
        pthread_condattr_t ca;

        *out = NULL;
        if (!m)
                return snprintf(errstr, errlen, "out of memory"), -1;
        m->st = st;
        m->ing = ing;
        m->cfg = *cfg;
        pthread_mutex_init(&m->mu, NULL);
        pthread_condattr_init(&ca); /* scim_now_ms is wall-clock time */
        pthread_cond_init(&m->cv, &ca);
        pthread_condattr_destroy(&ca);
        if (pthread_create(&m->thread, NULL, maintain_main, m) != 0) {
                pthread_mutex_destroy(&m->mu);
                pthread_cond_destroy(&m->cv);
                free(m);
                return snprintf(errstr, errlen, "maintenance: no thread"), -1;
        }
        *out = m;
        return 0;
}

void scim_maintain_stop(scim_maintain_t *m)
{
        if (!m)
                return;
        pthread_mutex_lock(&m->mu);
        m->stop = 1;
        pthread_cond_signal(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->thread, NULL);
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        free(m);
}
