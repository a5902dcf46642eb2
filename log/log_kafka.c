/*
 * log_kafka.c — the producer side of Kafka mode and the table of writes
 * waiting for their verdict.
 *
 * A write's event is produced with librdkafka's idempotent producer
 * (acks=all; retries cannot duplicate or reorder it) to the data topic
 * (at its tenant's pinned partition, kafka_pin.c), or
 * for tenant and token events to the admin topic (token hashes never reach
 * the data topic, and the fold refuses admin events read from it), key =
 * tenant, headers event_type (the Action symbol) and schema_fingerprint
 * (16 hex digits of the writer schema's CRC-64-AVRO fingerprint). The
 * request then waits, without holding any thread, in a table keyed by
 * event_id until this node's projector folds the event and reports its
 * verdict (read-your-writes: the answer is the fold's, after the views
 * show it).
 *
 * Failures, all answered as retriable errors with Retry-After:
 *  - producer queue full -> 429;
 *  - delivery failed and librdkafka says the message was NOT persisted ->
 *    503 at once;
 *  - delivery failed but the message MAY have been persisted (timeout
 *    after it was sent) -> keep waiting for the fold: if the event shows
 *    up, the client gets its real verdict; if it does not within the wait
 *    bound, 503 "outcome unknown". A client that retries after such a 503
 *    sends a new event: a retried create then meets its own first attempt
 *    (409 uniqueness on userName), a retried PUT/PATCH is applied again as
 *    the same full state, a retried DELETE answers 404. Nothing is lost
 *    and no event is applied twice (the fold also refuses a repeated
 *    event_id).
 *
 * A fatal error of the idempotent producer (librdkafka raises one when it
 * can no longer guarantee order and no duplicates, e.g. the broker
 * answers a produce with an out-of-order sequence or a fenced epoch) ends
 * that producer, not the node: writes are answered 503 at once while the
 * poller thread purges it (queued messages are answered 503, nothing was
 * written; messages in flight keep waiting for the fold, as for a
 * timeout), destroys it and builds a new one from the same configuration
 * (a new producer id). Writes work again without a restart.
 *
 * Threads: the ingest committer (and the projector, for 412 retries) call
 * scim_kafka_submit; the projector thread calls on_verdict; one poller
 * thread serves librdkafka's delivery reports, expires waiters and
 * recreates a failed producer. k->mu guards the waiter table, nwait,
 * draining and fatal; k->prod_lk guards k->prod (read-held around every
 * use, write-held by the poller to swap it); callbacks always run
 * outside k->mu.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log_internal.h"

#define NBUCKETS 4096
#define WAIT_MAX 50000          /* writes waiting for a verdict (ceiling) */
#define TIMEOUT_DEFAULT_MS 10000

typedef struct waiter {
        struct waiter *next;
        char event_id[37];
        scim_log_done_cb cb;
        void *ctx;
        int64_t deadline;
} waiter_t;

struct scim_kafka {
        scim_store_t *st;
        char *topic;
        char *admin_topic; /* tenant and token events (never on topic) */
        int timeout_ms;
        rd_kafka_t *prod;
        rd_kafka_conf_t *conf_tmpl; /* to build a new producer from */
        pthread_rwlock_t prod_lk;
        unsigned long recreated;
        scim_registry_t *reg; /* --kafka-framing confluent, or NULL */
        uint32_t reg_id[2];   /* schema ids: data topic, admin topic */
        scim_kproj_t *kp;
        char fp_hex[17];
        pthread_mutex_t mu;
        waiter_t *buckets[NBUCKETS];
        size_t nwait;
        int draining;
        int fatal;
        int stop_poller;
        int refresh; /* a write named a partition the producer does not
                        know: the poller asks for metadata */
        int poller_started;
        pthread_t poller;
};

static const char *action_symbol(scim_action_t a)
{
        static const char *names[] = {"CREATE",        "REPLACE",
                                      "PATCH",         "DELETE",
                                      "REFUSED",       "TENANT_CREATE",
                                      "TOKEN_ISSUE",   "TOKEN_REVOKE"};

        return (unsigned)a < 8 ? names[a] : "UNKNOWN";
}

static unsigned bucket_of(const char *id)
{
        uint32_t h = 2166136261u;

        for (; *id; id++)
                h = (h ^ (unsigned char)*id) * 16777619u;
        return h % NBUCKETS;
}

/* Removes and returns the waiter for id, or NULL. Needs k->mu. */
static waiter_t *take_locked(scim_kafka_t *k, const char *id)
{
        waiter_t **pp = &k->buckets[bucket_of(id)];

        for (; *pp; pp = &(*pp)->next)
                if (strcmp((*pp)->event_id, id) == 0) {
                        waiter_t *w = *pp;

                        *pp = w->next;
                        k->nwait--;
                        return w;
                }
        return NULL;
}

static waiter_t *take(scim_kafka_t *k, const char *id)
{
        waiter_t *w;

        pthread_mutex_lock(&k->mu);
        w = take_locked(k, id);
        pthread_mutex_unlock(&k->mu);
        return w;
}

/* Answers a waiter with a retriable error and frees it. */
static void fail_waiter(waiter_t *w, int status, const char *detail)
{
        scim_err_t err;

        scim_err_clear(&err);
        scim_err_set_retry(&err, status, "%s", detail);
        w->cb(w->ctx, NULL, &err);
        free(w);
}

/* Projector thread: a verdict for event_id is durable in the views. */
static void on_verdict(void *ctx, const char *event_id, scim_verdict_t *v)
{
        scim_kafka_t *k = ctx;
        waiter_t *w;

        if (!event_id[0])
                return;
        w = take(k, event_id);
        if (!w)
                return; /* another node's event, or a waiter gone */
        w->cb(w->ctx, v, NULL);
        free(w);
}

/* Poller thread (inside rd_kafka_poll): delivery report. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        scim_kafka_t *k = opaque;
        char *id = m->_private;
        char detail[256];

        if (!id)
                return;
        if (m->err) {
                rd_kafka_msg_status_t s = rd_kafka_message_status(m);

                if (s == RD_KAFKA_MSG_STATUS_NOT_PERSISTED) {
                        waiter_t *w = take(k, id);

                        snprintf(detail, sizeof(detail),
                                 "the event log did not take the write (%s); "
                                 "nothing was written, retry",
                                 rd_kafka_err2str(m->err));
                        if (w)
                                fail_waiter(w, 503, detail);
                }
                /* POSSIBLY_PERSISTED: the fold decides; keep waiting until
                 * the waiter's deadline. */
        }
        free(id);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque)
{
        scim_kafka_t *k = opaque;

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                char buf[256];

                rd_kafka_fatal_error(rk, buf, sizeof(buf));
                pthread_mutex_lock(&k->mu);
                k->fatal = 1;
                pthread_mutex_unlock(&k->mu);
                scim_event("error", "kafka_producer_fatal",
                           "kafka producer failed: %s", buf);
                return;
        }
        scim_kafka_stats_error();
        scim_event("warn", "kafka_error", "kafka: %s", reason);
}

/* Answers every waiter whose deadline passed (all of them when force).
 * Runs on the poller thread, or on the caller of drain/stop. */
static void expire(scim_kafka_t *k, int force)
{
        waiter_t *done = NULL;
        int64_t now = scim_now_ms();

        pthread_mutex_lock(&k->mu);
        for (int b = 0; b < NBUCKETS; b++) {
                waiter_t **pp = &k->buckets[b];

                while (*pp) {
                        waiter_t *w = *pp;

                        if (force || w->deadline <= now) {
                                *pp = w->next;
                                k->nwait--;
                                w->next = done;
                                done = w;
                        } else {
                                pp = &w->next;
                        }
                }
        }
        pthread_mutex_unlock(&k->mu);
        while (done) {
                waiter_t *w = done;

                done = w->next;
                fail_waiter(w, 503,
                            force ? "server is shutting down before the "
                                    "write was confirmed; its outcome is "
                                    "unknown"
                                  : "the event log did not confirm the write "
                                    "in time; its outcome is unknown (a "
                                    "retried create may answer 409)");
        }
}

/* Poller thread: replaces a producer that raised a fatal error. The old
 * one is purged (queued messages get NOT_PERSISTED delivery reports: 503
 * at once; in-flight ones keep their waiters until the fold or the
 * deadline) and destroyed; the new one has a new producer id. On failure
 * (no memory) the node keeps answering 503 and tries again later. */
static void recreate(scim_kafka_t *k)
{
        char errstr[512], why[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_dup(k->conf_tmpl);
        rd_kafka_t *old = k->prod, *nu;

        why[0] = '\0';
        rd_kafka_fatal_error(old, why, sizeof(why));
        rd_kafka_purge(old, RD_KAFKA_PURGE_F_QUEUE |
                                RD_KAFKA_PURGE_F_INFLIGHT);
        /* serve the purged messages' delivery reports (bounded) */
        for (int i = 0; i < 100 && rd_kafka_outq_len(old) > 0; i++)
                rd_kafka_poll(old, 10);
        nu = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                 sizeof(errstr))
                  : NULL;
        if (!nu) {
                if (conf)
                        rd_kafka_conf_destroy(conf);
                scim_event("error", "kafka_producer_recreate_failed",
                           "cannot build a new kafka producer: %s",
                           conf ? errstr : "out of memory");
                return;
        }
        pthread_rwlock_wrlock(&k->prod_lk);
        k->prod = nu;
        pthread_rwlock_unlock(&k->prod_lk);
        rd_kafka_destroy(old);
        pthread_mutex_lock(&k->mu);
        k->fatal = 0;
        k->recreated++;
        pthread_mutex_unlock(&k->mu);
        scim_event("warn", "kafka_producer_recreated",
                   "kafka producer replaced after a fatal error (%s)", why);
}

/* Poller thread: reads the data topic's metadata again (bounded), so that
 * the producer learns partitions added since its last refresh. */
static void refresh_metadata(scim_kafka_t *k)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt;

        pthread_rwlock_rdlock(&k->prod_lk);
        rkt = rd_kafka_topic_new(k->prod, k->topic, NULL);
        if (rkt && rd_kafka_metadata(k->prod, 0, rkt, &md, 2000) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        pthread_rwlock_unlock(&k->prod_lk);
}

static void *poller_main(void *arg)
{
        scim_kafka_t *k = arg;
        int64_t next_try = 0;

        for (;;) {
                int stop, fatal, refresh;

                pthread_rwlock_rdlock(&k->prod_lk);
                rd_kafka_poll(k->prod, 100);
                pthread_rwlock_unlock(&k->prod_lk);
                expire(k, 0);
                pthread_mutex_lock(&k->mu);
                stop = k->stop_poller;
                fatal = k->fatal && !k->draining;
                pthread_mutex_unlock(&k->mu);
                if (stop)
                        break;
                if (fatal && scim_now_ms() >= next_try) {
                        next_try = scim_now_ms() + 1000;
                        recreate(k);
                }
                pthread_mutex_lock(&k->mu);
                refresh = k->refresh;
                k->refresh = 0;
                pthread_mutex_unlock(&k->mu);
                if (refresh)
                        refresh_metadata(k);
        }
        return NULL;
}

int scim_kafka_submit(scim_kafka_t *k, const scim_event_t *ev,
                      const scim_buf_t *enc, scim_log_done_cb cb, void *ctx,
                      scim_err_t *err)
{
        waiter_t *w = calloc(1, sizeof(*w));
        char *opaque = malloc(37);
        const char *to = scim_event_is_admin(ev) ? k->admin_topic : k->topic;
        int32_t part = RD_KAFKA_PARTITION_UA; /* admin: key hash */
        scim_buf_t framed = {0}, pinned = {0};
        rd_kafka_resp_err_t e;
        int rc = -1;

        if (!w || !opaque) {
                scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        /* partition pins (kafka_pin.c): a tenant's data goes to its
         * pinned partition; a new tenant's pin travels in its
         * TENANT_CREATE */
        if (!scim_event_is_admin(ev)) {
                part = scim_kafka_data_partition(k->st, ev->tenant);
        } else {
                /* a tenant's administration: where its TENANT_CREATE is */
                int ap = ev->action == SCIM_ACT_TENANT_CREATE
                             ? -1
                             : scim_store_tenant_admin_partition(k->st,
                                                                 ev->tenant);
                int pr;

                if (ap >= 0)
                        part = ap;
                pr = scim_kafka_pin_event(k->st, scim_kproj_partitions(k->kp),
                                          ev, &pinned, err);
                if (pr < 0)
                        goto out;
                if (pr > 0)
                        enc = &pinned;
        }
        if (k->reg) { /* Confluent wire format: 0, schema id, datum */
                if (scim_registry_frame(
                        k->reg_id[scim_event_is_admin(ev) ? 1 : 0],
                        (const unsigned char *)enc->data, enc->len,
                        &framed) < 0) {
                        scim_err_set_retry(err, 503, "out of memory");
                        goto out;
                }
                enc = &framed;
        }
        snprintf(w->event_id, sizeof(w->event_id), "%s", ev->event_id);
        memcpy(opaque, w->event_id, 37);
        w->cb = cb;
        w->ctx = ctx;
        w->deadline = scim_now_ms() + 2 * (int64_t)k->timeout_ms;
        pthread_mutex_lock(&k->mu);
        if (k->draining || k->fatal) {
                pthread_mutex_unlock(&k->mu);
                scim_err_set_retry(err, 503,
                                   k->fatal ? "the event log producer failed "
                                              "and is being replaced; retry"
                                            : "server is shutting down");
                goto out;
        }
        if (k->nwait >= WAIT_MAX) {
                pthread_mutex_unlock(&k->mu);
                scim_err_set_retry(err, 429,
                                   "too many writes waiting for the event "
                                   "log; retry shortly");
                goto out;
        }
        {
                unsigned b = bucket_of(w->event_id);

                w->next = k->buckets[b];
                k->buckets[b] = w;
                k->nwait++;
        }
        pthread_mutex_unlock(&k->mu);
        pthread_rwlock_rdlock(&k->prod_lk);
        e = rd_kafka_producev(
            k->prod, RD_KAFKA_V_TOPIC(to), RD_KAFKA_V_PARTITION(part),
            RD_KAFKA_V_KEY(ev->tenant, strlen(ev->tenant)),
            RD_KAFKA_V_VALUE(enc->data, enc->len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("event_type", action_symbol(ev->action), -1),
            RD_KAFKA_V_HEADER("schema_fingerprint", k->fp_hex, -1),
            RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        pthread_rwlock_unlock(&k->prod_lk);
        if (e) {
                /* Not produced: no verdict will come. The waiter may only be
                 * gone if a verdict did come, which cannot happen here. */
                waiter_t *mine = take(k, w->event_id);

                if (!mine) {
                        /* drain already answered it (shutdown) */
                        w = NULL;
                        rc = 0;
                        goto out;
                }
                w = mine;
                if (e == RD_KAFKA_RESP_ERR__FATAL) {
                        pthread_mutex_lock(&k->mu);
                        k->fatal = 1; /* the poller recreates it */
                        pthread_mutex_unlock(&k->mu);
                        scim_err_set_retry(err, 503,
                                           "the event log producer failed "
                                           "and is being replaced; retry");
                } else if (e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
                        /* the tenant's pin is a partition added after
                         * this producer last read the topic's metadata */
                        pthread_mutex_lock(&k->mu);
                        k->refresh = 1; /* the poller asks for it */
                        pthread_mutex_unlock(&k->mu);
                        scim_err_set_retry(err, 503,
                                           "partition %d of %s is not known "
                                           "to this node yet (added "
                                           "lately); retry",
                                           (int)part, to);
                } else if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        scim_err_set_retry(err, 429,
                                           "event log producer queue is "
                                           "full; retry shortly");
                else
                        scim_err_set_retry(err, 503, "cannot produce: %s",
                                           rd_kafka_err2str(e));
                goto out;
        }
        w = NULL;
        opaque = NULL; /* owned by the message now */
        rc = 0;
out:
        scim_buf_free(&framed);
        scim_buf_free(&pinned);
        free(w);
        free(opaque);
        return rc;
}

static int set(rd_kafka_conf_t *c, const char *k, const char *v, char *errstr,
               size_t errlen)
{
        return rd_kafka_conf_set(c, k, v, errstr, errlen) == RD_KAFKA_CONF_OK
                   ? 0
                   : -1;
}

/* Connects the producer before the first write: metadata for the topic,
 * then a bounded wait for the idempotent producer id, so that the first
 * write does not pay for them (hundreds of ms). Best effort. */
static void warm_up(scim_kafka_t *k)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->prod, k->topic, NULL);

        if (rkt && rd_kafka_metadata(k->prod, 0, rkt, &md, 5000) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        for (int i = 0; i < 50; i++) {
                char buf[512];

                if (rd_kafka_fatal_error(k->prod, buf, sizeof(buf)))
                        break;
                /* outq stays 0; poll lets the PID request complete */
                rd_kafka_poll(k->prod, 20);
                if (i >= 5 && rd_kafka_outq_len(k->prod) == 0)
                        break;
        }
}

int scim_kafka_start(scim_store_t *st, const scim_kafka_config_t *cfg,
                     scim_kafka_t **out, char *errstr, size_t errlen)
{
        scim_kafka_t *k = calloc(1, sizeof(*k));
        rd_kafka_conf_t *conf = NULL;
        char tmo[32], refresh[32];

        *out = NULL;
        if (!k) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        pthread_mutex_init(&k->mu, NULL);
        pthread_rwlock_init(&k->prod_lk, NULL);
        k->st = st;
        k->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms
                                            : TIMEOUT_DEFAULT_MS;
        k->topic = strdup(cfg->topic ? cfg->topic : SCIM_KAFKA_TOPIC_DEFAULT);
        k->admin_topic = strdup(cfg->admin_topic
                                    ? cfg->admin_topic
                                    : SCIM_KAFKA_ADMIN_TOPIC_DEFAULT);
        snprintf(k->fp_hex, sizeof(k->fp_hex), "%016llx",
                 (unsigned long long)scim_event_writer_fingerprint());
        if (cfg->confluent) {
                if (!cfg->schema_registry) {
                        snprintf(errstr, errlen, "--kafka-framing confluent "
                                 "needs --schema-registry URL");
                        goto fail;
                }
                k->reg = scim_registry_new(cfg->schema_registry);
                if (!k->reg) {
                        snprintf(errstr, errlen, "out of memory");
                        goto fail;
                }
                if (scim_registry_register(k->reg, k->topic, &k->reg_id[0],
                                           errstr, errlen) < 0 ||
                    scim_registry_register(k->reg, k->admin_topic,
                                           &k->reg_id[1], errstr,
                                           errlen) < 0)
                        goto fail;
        }
        snprintf(tmo, sizeof(tmo), "%d", k->timeout_ms);
        snprintf(refresh, sizeof(refresh), "%d",
                 cfg->metadata_refresh_ms > 0 ? cfg->metadata_refresh_ms
                                              : 5000);
        conf = rd_kafka_conf_new();
        if (!k->topic || !k->admin_topic || !conf ||
            set(conf, "bootstrap.servers", cfg->brokers, errstr, errlen) <
                0 ||
            set(conf, "enable.idempotence", "true", errstr, errlen) < 0 ||
            set(conf, "acks", "all", errstr, errlen) < 0 ||
            set(conf, "message.timeout.ms", tmo, errstr, errlen) < 0 ||
            set(conf, "linger.ms", "1", errstr, errlen) < 0 ||
            set(conf, "queue.buffering.max.messages", "100000", errstr,
                errlen) < 0 ||
            set(conf, "reconnect.backoff.max.ms", "1000", errstr, errlen) <
                0 ||
            set(conf, "log_level", "3", errstr, errlen) < 0 ||
            set(conf, "statistics.interval.ms", "1000", errstr, errlen) < 0 ||
            /* learn added partitions as often as the projector does */
            set(conf, "topic.metadata.refresh.interval.ms", refresh, errstr,
                errlen) < 0 ||
            scim_kafka_props_apply(cfg->props, conf, errstr, errlen) < 0)
                goto fail;
        rd_kafka_conf_set_stats_cb(conf, scim_kafka_stats_cb);
        rd_kafka_conf_set_opaque(conf, k);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_error_cb(conf, on_error);
        k->conf_tmpl = rd_kafka_conf_dup(conf);
        if (!k->conf_tmpl) {
                snprintf(errstr, errlen, "out of memory");
                goto fail;
        }
        k->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errlen);
        if (!k->prod)
                goto fail;
        conf = NULL;
        warm_up(k);
        if (scim_kproj_start(st, cfg, on_verdict, k, &k->kp, errstr, errlen) <
            0)
                goto fail;
        if (pthread_create(&k->poller, NULL, poller_main, k) != 0) {
                snprintf(errstr, errlen, "cannot start producer thread");
                goto fail;
        }
        k->poller_started = 1;
        *out = k;
        return 0;
fail:
        if (conf)
                rd_kafka_conf_destroy(conf);
        scim_kafka_stop(k);
        return -1;
}

int scim_kafka_catch_up(scim_kafka_t *k, int timeout_ms, char *errstr,
                        size_t errlen)
{
        return scim_kproj_catch_up(k->kp, timeout_ms, errstr, errlen);
}

void scim_kafka_drain(scim_kafka_t *k, int timeout_ms)
{
        int64_t deadline = scim_now_ms() + timeout_ms;

        if (!k)
                return;
        pthread_mutex_lock(&k->mu);
        k->draining = 1;
        pthread_mutex_unlock(&k->mu);
        for (;;) {
                size_t n;
                struct timespec ts = {0, 20 * 1000 * 1000};

                pthread_mutex_lock(&k->mu);
                n = k->nwait;
                pthread_mutex_unlock(&k->mu);
                if (n == 0 || scim_now_ms() > deadline)
                        break;
                nanosleep(&ts, NULL);
        }
        expire(k, 1);
}

void scim_kafka_stop(scim_kafka_t *k)
{
        if (!k)
                return;
        pthread_mutex_lock(&k->mu);
        k->draining = 1;
        k->stop_poller = 1;
        pthread_mutex_unlock(&k->mu);
        if (k->poller_started)
                pthread_join(k->poller, NULL);
        scim_kproj_stop(k->kp);
        if (k->prod) {
                rd_kafka_flush(k->prod, 2000);
                rd_kafka_destroy(k->prod);
        }
        expire(k, 1);
        if (k->conf_tmpl)
                rd_kafka_conf_destroy(k->conf_tmpl);
        scim_registry_free(k->reg);
        pthread_rwlock_destroy(&k->prod_lk);
        pthread_mutex_destroy(&k->mu);
        free(k->topic);
        free(k->admin_topic);
        free(k);
}
