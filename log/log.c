/*
 * log.c — the log component's face: picks the backend, and is the embedded
 * backend itself (the column family `log` of the node's RocksDB).
 *
 * Embedded append: the batch the caller hands over (the ingest committer's
 * group commit) is appended at the next sequence numbers and folded in ONE
 * synced WriteBatch (scim_store_append_fold); the callbacks then run on
 * the calling thread, in order, before scim_log_append returns. A failed
 * write answers every entry 503 and writes nothing.
 *
 * Kafka append: each entry is produced (log_kafka.c); its callback runs
 * once this node's consumer (kafka_consumer.c) has folded it, or with a
 * retriable error. An entry the producer refuses at once (queue full,
 * draining) gets its callback here, with the error.
 *
 * Threads: scim_log_append on one thread at a time (the ingest committer);
 * nothing here takes a lock of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_internal.h"

struct scim_log {
        scim_store_t *st;
        scim_kafka_t *kafka; /* NULL: embedded */
        state_pub_t *state;  /* --state-topic publisher, or NULL */
};

int scim_log_open(scim_store_t *st, const scim_kafka_config_t *kcfg,
                  scim_log_t **out, char *errstr, size_t errlen)
{
        scim_log_t *log = calloc(1, sizeof(*log));

        *out = NULL;
        if (!log) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        log->st = st;
        if (kcfg && kcfg->brokers &&
            scim_kafka_start(st, kcfg, &log->kafka, errstr, errlen) < 0) {
                free(log);
                return -1;
        }
        if (log->kafka && kcfg->state_topic && kcfg->state_cursor &&
            state_pub_start(st, kcfg, &log->state, errstr, errlen) < 0) {
                scim_kafka_stop(log->kafka);
                free(log);
                return -1;
        }
        *out = log;
        return 0;
}

int scim_log_is_kafka(const scim_log_t *log)
{
        return log && log->kafka != NULL;
}

int scim_log_catch_up(scim_log_t *log, int timeout_ms, char *errstr,
                      size_t errlen)
{
        if (!log->kafka)
                return 0; /* the embedded views are always caught up */
        return scim_kafka_catch_up(log->kafka, timeout_ms, errstr, errlen);
}

/* Answers every entry with err (embedded write failed, or out of memory). */
static void fail_all(const scim_log_entry_t *e, size_t n,
                     const scim_err_t *err)
{
        for (size_t i = 0; i < n; i++)
                e[i].cb(e[i].ctx, NULL, err);
}

static void append_embedded(scim_log_t *log, const scim_log_entry_t *e,
                            size_t n)
{
        /* scim_store_append_fold takes arrays: shallow copies, ownership
         * stays with the caller's events and buffers */
        scim_buf_t *enc = malloc(n * sizeof(*enc));
        scim_event_t *evs = malloc(n * sizeof(*evs));
        scim_verdict_t *vs = calloc(n, sizeof(*vs));
        scim_err_t err;

        scim_err_clear(&err);
        if (!enc || !evs || !vs) {
                scim_err_set_retry(&err, 503, "out of memory");
                fail_all(e, n, &err);
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                enc[i] = *e[i].enc;
                evs[i] = *e[i].ev;
        }
        if (scim_store_append_fold(log->st, enc, evs, n, vs, &err) < 0) {
                if (!err.status)
                        scim_err_set_retry(&err, 503, "log append failed");
                fail_all(e, n, &err);
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                e[i].cb(e[i].ctx, &vs[i], NULL);
                scim_verdict_clear(&vs[i]);
        }
out:
        if (vs)
                for (size_t i = 0; i < n; i++)
                        scim_verdict_clear(&vs[i]);
        free(enc);
        free(evs);
        free(vs);
}

void scim_log_append(scim_log_t *log, const scim_log_entry_t *entries,
                     size_t n)
{
        if (n == 0)
                return;
        if (!log->kafka) {
                append_embedded(log, entries, n);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                scim_err_t err;

                scim_err_clear(&err);
                if (scim_kafka_submit(log->kafka, entries[i].ev,
                                      entries[i].enc, entries[i].cb,
                                      entries[i].ctx, &err) < 0)
                        entries[i].cb(entries[i].ctx, NULL, &err);
        }
}

long scim_log_read(scim_store_t *st, scim_log_pos_t after, size_t max,
                   scim_log_read_cb fn, void *ctx, scim_err_t *err)
{
        return scim_store_log_scan(st, after, max, fn, ctx, err);
}

void scim_log_drain(scim_log_t *log, int timeout_ms)
{
        if (log && log->kafka)
                scim_kafka_drain(log->kafka, timeout_ms);
}

void scim_log_close(scim_log_t *log)
{
        if (!log)
                return;
        state_pub_stop(log->state);
        scim_kafka_stop(log->kafka);
        free(log);
}
