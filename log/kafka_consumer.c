/*
 * kafka_consumer.c — the projector of Kafka mode: consumes EVERY partition
 * of the data topic and of the admin topic (rd_kafka_assign at the offsets
 * stored with the views; no consumer group, no Kafka offset commits: each
 * node keeps a full replica),
 * folds what it reads in per-partition order, and hands every verdict to
 * the producer side so that the node answers a write once it has folded it.
 * The same loop, bounded by the high watermarks and an optional --until,
 * rebuilds a fresh store for `scimlog replay --kafka`.
 *
 * Threads: one projector thread runs proj_main (the single writer of the
 * store); scim_kproj_catch_up runs on any thread and waits on kp->cv.
 * kp->mu guards each topic's next[] (the next offset the views reflect,
 * per partition) and kp->stopping.
 *
 * Partitions added later: every --kafka-metadata-refresh ms (default
 * 5000) the projector thread asks for both topics' metadata and assigns
 * each partition it has not seen (rd_kafka_incremental_assign) at its
 * stored offset or from offset 0, logging "partition N of T added". A
 * replay reads the partitions present when it starts.
 *
 * Trade-off: partitions are folded interleaved in arrival order, which
 * differs from node to node. That is safe because the key is the tenant:
 * every event of a tenant lives in one partition and the fold never lets
 * one tenant's events read another tenant's state. The fold refuses a
 * message whose key is not its tenant. Across the two topics the one
 * dependency is a tenant's existence: hold_data folds a data message of a
 * tenant this node does not know only once the admin topic is read to its
 * end as far as known, so every node and every replay agree.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log_internal.h"

#define BATCH_MAX 512       /* messages folded per WriteBatch */
#define MAX_PARTITIONS 1024 /* ceiling on a topic's partition count */
#define METADATA_WAIT_MS 30000
#define REFRESH_DEFAULT_MS 5000
#define REFRESH_WAIT_MS 2000 /* bound of one refresh's metadata request */

enum { T_DATA, T_ADMIN, T_COUNT };

/* One consumed topic. */
typedef struct ktopic {
        char *name;
        int admin;
        int32_t nparts;
        int64_t *next;    /* next offset the views reflect; guarded by mu */
        int64_t *hi;      /* replay: end; admin: high watermark at open */
        int *stopped;     /* replay only */
} ktopic_t;

struct scim_kproj {
        scim_store_t *st;
        ktopic_t t[T_COUNT];
        rd_kafka_t *rk;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int stopping;
        int started;
        pthread_t thr;
        scim_kproj_verdict_cb cb;
        void *ctx;
        scim_registry_t *reg; /* reads Confluent framing; NULL = none */
        int refresh_ms;        /* metadata refresh period (serve) */
        int64_t next_refresh;  /* projector thread only */
        /* replay only */
        const scim_kafka_until_t *until;
        uint64_t folded;
};

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v,
                    char *errstr, size_t errlen)
{
        if (rd_kafka_conf_set(conf, k, v, errstr, errlen) != RD_KAFKA_CONF_OK)
                return -1;
        return 0;
}

/* Adds partition p of t to parts at its stored offset, or from the
 * beginning when this store never folded it; returns the offset the views
 * reflect (the value for t->next[p]). */
static int64_t part_start(scim_kproj_t *kp, ktopic_t *t, int32_t p,
                          rd_kafka_topic_partition_list_t *parts)
{
        int64_t off = 0;
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_add(parts, t->name, p);

        if (scim_store_kafka_offset(kp->st, t->name, p, &off)) {
                tp->offset = off;
                return off;
        }
        tp->offset = RD_KAFKA_OFFSET_BEGINNING;
        return 0;
}

/* Waits (bounded) until the topic's metadata names its partitions; adds
 * each at its stored offset to parts. Runs on the caller's thread. */
static int kp_topic_open(scim_kproj_t *kp, ktopic_t *t, const char *brokers,
                         rd_kafka_topic_partition_list_t *parts, char *errstr,
                         size_t errlen)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(kp->rk, t->name, NULL);
        int64_t deadline = scim_now_ms() + METADATA_WAIT_MS;
        rd_kafka_resp_err_t e;
        int rc = -1;

        for (;;) {
                e = rd_kafka_metadata(kp->rk, 0, rkt, &md, 5000);
                if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
                    md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    md->topics[0].partition_cnt > 0)
                        break;
                if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
                        e = md->topics[0].err;
                if (md)
                        rd_kafka_metadata_destroy(md);
                md = NULL;
                if (scim_now_ms() > deadline) {
                        snprintf(errstr, errlen,
                                 "topic %s is not available from %s: %s",
                                 t->name, brokers, rd_kafka_err2str(e));
                        goto out;
                }
                {
                        struct timespec ts = {0, 200 * 1000 * 1000};

                        nanosleep(&ts, NULL);
                }
        }
        t->nparts = md->topics[0].partition_cnt;
        if (t->nparts > MAX_PARTITIONS) {
                snprintf(errstr, errlen, "topic %s has %d partitions; at most "
                         "%d are supported",
                         t->name, (int)t->nparts, MAX_PARTITIONS);
                goto out;
        }
        t->next = calloc(MAX_PARTITIONS, sizeof(*t->next));
        t->hi = calloc(MAX_PARTITIONS, sizeof(*t->hi));
        t->stopped = calloc(MAX_PARTITIONS, sizeof(*t->stopped));
        if (!t->next || !t->hi || !t->stopped) {
                snprintf(errstr, errlen, "out of memory");
                goto out;
        }
        for (int32_t p = 0; p < t->nparts; p++)
                t->next[p] = part_start(kp, t, p, parts);
        rc = 0;
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        return rc;
}

/* Creates the consumer, learns the partitions of both topics and assigns
 * all of them at the offsets stored in kp->st; notes the admin topic's
 * high watermarks (see hold_data). Runs on the caller's thread. */
static int kp_open(scim_kproj_t *kp, const scim_kafka_config_t *cfg,
                   char *errstr, size_t errlen)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_resp_err_t e;
        char fetch_wait[16];
        int rc = -1;

        snprintf(fetch_wait, sizeof(fetch_wait), "%d",
                 cfg->fetch_wait_ms > 0 ? cfg->fetch_wait_ms : 100);
        if (conf_set(conf, "bootstrap.servers", cfg->brokers, errstr,
                     errlen) < 0 ||
            /* librdkafka 2.0 wants a group id even for assign(); no group
             * is ever joined (no subscribe) and nothing is committed */
            conf_set(conf, "group.id", "scimlog-projector", errstr, errlen) <
                0 ||
            conf_set(conf, "enable.auto.commit", "false", errstr, errlen) <
                0 ||
            conf_set(conf, "enable.auto.offset.store", "false", errstr,
                     errlen) < 0 ||
            conf_set(conf, "fetch.wait.max.ms", fetch_wait, errstr, errlen) <
                0 ||
            conf_set(conf, "fetch.error.backoff.ms", "20", errstr, errlen) <
                0 ||
            conf_set(conf, "reconnect.backoff.max.ms", "1000", errstr,
                     errlen) < 0 ||
            /* a stored offset that is no longer in the topic is an error
             * to report, never a silent skip */
            conf_set(conf, "auto.offset.reset", "error", errstr, errlen) <
                0 ||
            conf_set(conf, "log_level", "3", errstr, errlen) < 0 ||
            conf_set(conf, "statistics.interval.ms", "1000", errstr, errlen) <
                0 ||
            scim_kafka_props_apply(cfg->props, conf, errstr, errlen) < 0) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rd_kafka_conf_set_stats_cb(conf, scim_kafka_stats_cb);
        kp->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errlen);
        if (!kp->rk) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rd_kafka_poll_set_consumer(kp->rk);
        parts = rd_kafka_topic_partition_list_new(64);
        for (int i = 0; i < T_COUNT; i++)
                if (kp_topic_open(kp, &kp->t[i], cfg->brokers, parts, errstr,
                                  errlen) < 0)
                        goto out;
        for (int32_t p = 0; p < kp->t[T_ADMIN].nparts; p++) {
                int64_t lo = 0, hi = 0;

                if (rd_kafka_query_watermark_offsets(kp->rk,
                                                     kp->t[T_ADMIN].name, p,
                                                     &lo, &hi, 10000) == 0)
                        kp->t[T_ADMIN].hi[p] = hi;
        }
        e = rd_kafka_assign(kp->rk, parts);
        if (e) {
                snprintf(errstr, errlen, "assign failed: %s",
                         rd_kafka_err2str(e));
                goto out;
        }
        rc = 0;
out:
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        return rc;
}

/* Which of kp's topics m came from, or -1. */
static int topic_of(scim_kproj_t *kp, const rd_kafka_message_t *m)
{
        const char *name = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;

        for (int i = 0; name && i < T_COUNT; i++)
                if (!strcmp(name, kp->t[i].name))
                        return i;
        return -1;
}

/* In replay: should m be folded? Marks partitions finished. */
static int replay_wants(scim_kproj_t *kp, ktopic_t *t,
                        const rd_kafka_message_t *m)
{
        int32_t p = m->partition;
        rd_kafka_timestamp_type_t tt;
        int64_t ts;

        if (!kp->until)
                return 1;
        if (t->stopped[p])
                return 0;
        if (m->offset >= t->hi[p] ||
            (!t->admin && kp->until->offset >= 0 &&
             m->offset > kp->until->offset)) {
                t->stopped[p] = 1;
                return 0;
        }
        ts = rd_kafka_message_timestamp(m, &tt);
        if (kp->until->time_ms >= 0 && ts >= 0 && ts > kp->until->time_ms) {
                t->stopped[p] = 1;
                return 0;
        }
        return 1;
}

/*
 * The admin topic first: a data message whose tenant (its key) this store
 * does not know yet, or knows without a partition pin, is held back while the admin topic has messages this
 * node has not folded (as far as the watermarks at open and the latest
 * fetches show), so a tenant's first events are not refused as "unknown
 * tenant" on a node that read the topics in another order (a fresh node,
 * a replay). admin_next: the admin offsets including the batch so far.
 */
static int hold_data(scim_kproj_t *kp, const rd_kafka_message_t *m,
                     const int64_t *admin_next)
{
        ktopic_t *a = &kp->t[T_ADMIN];
        char tenant[SCIM_MAX_TENANT_LEN + 1];

        if (!m->key || m->key_len == 0 || m->key_len > SCIM_MAX_TENANT_LEN)
                return 0;
        memcpy(tenant, m->key, m->key_len);
        tenant[m->key_len] = '\0';
        /* a pinned tenant's data waits for nothing; an unknown tenant
         * waits for its TENANT_CREATE, an unpinned one (created before
         * pins) for a pin that may be on its way (tenant_pin.c) */
        if (memchr(tenant, '\0', m->key_len) ||
            scim_store_tenant_partition(kp->st, tenant) >= 0)
                return 0;
        for (int32_t p = 0; p < a->nparts; p++) {
                int64_t lo = 0, hi = 0;

                if (a->stopped[p]) /* replay: past its --until */
                        continue;
                if (rd_kafka_get_watermark_offsets(kp->rk, a->name, p, &lo,
                                                   &hi) != 0)
                        hi = 0;
                if (a->hi[p] > hi)
                        hi = a->hi[p];
                if (admin_next[p] < hi)
                        return 1;
        }
        return 0;
}

/*
 * One step: waits up to wait_ms for messages, takes up to BATCH_MAX,
 * folds them in one WriteBatch and hands out the verdicts. Held data
 * partitions are sought back to their first held message. Returns the
 * number of messages folded, or -1 when stopping.
 */
static int kp_step(scim_kproj_t *kp, int wait_ms)
{
        rd_kafka_message_t *ms[BATCH_MAX];
        scim_logged_t lg[BATCH_MAX];
        scim_verdict_t vs[BATCH_MAX];
        int64_t admin_next[MAX_PARTITIONS];
        rd_kafka_topic_partition_list_t *held = NULL;
        unsigned char *unframed[BATCH_MAX];
        size_t n = 0;
        int rc = 0;

        pthread_mutex_lock(&kp->mu);
        memcpy(admin_next, kp->t[T_ADMIN].next,
               sizeof(int64_t) * (size_t)kp->t[T_ADMIN].nparts);
        pthread_mutex_unlock(&kp->mu);
        while (n < BATCH_MAX) {
                rd_kafka_message_t *m =
                    rd_kafka_consumer_poll(kp->rk, n == 0 ? wait_ms : 0);
                int ti;

                if (!m)
                        break;
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                scim_event("warn", "kafka_consumer_error",
                                           "kafka consumer: %s",
                                           rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                ti = topic_of(kp, m);
                if (ti < 0 || m->partition < 0 ||
                    m->partition >= kp->t[ti].nparts) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                /* a partition held back in this batch is fetched again
                 * from its first held message: what follows it is not
                 * looked at now (nor may it end a replay's partition) */
                if (ti == T_DATA && held &&
                    rd_kafka_topic_partition_list_find(held, kp->t[ti].name,
                                                       m->partition)) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (!replay_wants(kp, &kp->t[ti], m)) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (ti == T_DATA) {
                        rd_kafka_topic_partition_t *h = NULL;

                        if (hold_data(kp, m, admin_next)) {
                                if (!held)
                                        held =
                                            rd_kafka_topic_partition_list_new(
                                                4);
                                h = rd_kafka_topic_partition_list_add(
                                    held, kp->t[ti].name, m->partition);
                                h->offset = m->offset;
                        }
                        if (h) { /* keep the partition's order */
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                } else {
                        admin_next[m->partition] = m->offset + 1;
                }
                memset(&lg[n], 0, sizeof(lg[n]));
                lg[n].topic = kp->t[ti].name;
                lg[n].admin = ti == T_ADMIN;
                ms[n++] = m;
        }
        for (size_t i = 0; i < n; i++)
                unframed[i] = NULL;
        for (size_t i = 0; i < n; i++) {
                lg[i].partition = ms[i]->partition;
                lg[i].offset = ms[i]->offset;
                lg[i].key = ms[i]->key;
                lg[i].key_len = ms[i]->key ? ms[i]->key_len : 0;
                lg[i].data = ms[i]->payload;
                lg[i].len = ms[i]->payload ? ms[i]->len : 0;
                /* Confluent framing -> the single-object form the fold
                 * decodes; a registry that cannot be asked is waited
                 * for (skipping would fold the event as refused) */
                while (kp->reg && lg[i].len > 0) {
                        size_t ul = 0;
                        int u = scim_registry_unframe(
                            kp->reg, (const unsigned char *)lg[i].data,
                            lg[i].len, &unframed[i], &ul);
                        struct timespec ts = {1, 0};

                        if (u == 1) {
                                lg[i].data = unframed[i];
                                lg[i].len = ul;
                        }
                        if (u >= 0)
                                break;
                        nanosleep(&ts, NULL);
                        pthread_mutex_lock(&kp->mu);
                        rc = kp->stopping ? -1 : 0;
                        pthread_mutex_unlock(&kp->mu);
                        if (rc < 0)
                                goto out;
                }
        }
        while (n > 0) {
                scim_err_t err;

                scim_err_clear(&err);
                if (scim_store_fold_logged(kp->st, kp->t[T_DATA].name, lg, n,
                                           vs, &err) == 0)
                        break;
                /* The views could not be written: never skip, retry. */
                scim_event("error", "fold_retry",
                           "kafka projector: %s (retrying)", err.detail);
                {
                        struct timespec ts = {1, 0};

                        nanosleep(&ts, NULL);
                }
                pthread_mutex_lock(&kp->mu);
                rc = kp->stopping ? -1 : 0;
                pthread_mutex_unlock(&kp->mu);
                if (rc < 0)
                        goto out;
        }
        for (size_t i = 0; i < n; i++)
                scim_kafka_stats_folded(
                    rd_kafka_message_timestamp(ms[i], NULL));
        pthread_mutex_lock(&kp->mu);
        for (size_t i = 0; i < n; i++)
                kp->t[lg[i].admin ? T_ADMIN : T_DATA].next[lg[i].partition] =
                    lg[i].offset + 1;
        pthread_cond_broadcast(&kp->cv);
        pthread_mutex_unlock(&kp->mu);
        for (size_t i = 0; i < n; i++) {
                if (kp->cb)
                        kp->cb(kp->ctx, lg[i].event_id, &vs[i]);
                scim_verdict_clear(&vs[i]);
        }
        kp->folded += n;
        rc = (int)n;
out:
        for (size_t i = 0; i < n; i++) {
                free(unframed[i]);
                rd_kafka_message_destroy(ms[i]);
        }
        if (held) {
                /* fetch the held partitions again from their first held
                 * message, once the admin topic has moved on */
                rd_kafka_error_t *se =
                    rd_kafka_seek_partitions(kp->rk, held, 5000);

                if (se)
                        rd_kafka_error_destroy(se);
                rd_kafka_topic_partition_list_destroy(held);
                if (n == 0) {
                        struct timespec ts = {0, 10 * 1000 * 1000};

                        nanosleep(&ts, NULL);
                }
        }
        return rc;
}

/*
 * Partitions added later: asks for t's metadata (bounded) and assigns
 * every partition beyond the ones this node reads, at its stored offset
 * or from offset 0 (incremental: the others keep their fetch positions).
 * A topic never loses partitions in Kafka; a smaller count (a broker
 * answering from stale metadata) is ignored. Runs on the projector
 * thread, between two steps (nothing consumed is unfolded then).
 */
static void kp_refresh_topic(scim_kproj_t *kp, ktopic_t *t)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(kp->rk, t->name, NULL);
        rd_kafka_topic_partition_list_t *parts = NULL;
        int64_t start[MAX_PARTITIONS];
        rd_kafka_error_t *ae;
        int32_t cnt;

        if (!rkt)
                return;
        if (rd_kafka_metadata(kp->rk, 0, rkt, &md, REFRESH_WAIT_MS) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            md->topic_cnt != 1 ||
            md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
                goto out;
        cnt = md->topics[0].partition_cnt;
        if (cnt <= t->nparts)
                goto out;
        if (cnt > MAX_PARTITIONS) {
                scim_event("error", "kafka_partitions_max",
                           "kafka: topic %s has %d partitions; only the "
                           "first %d are read",
                           t->name, (int)cnt, MAX_PARTITIONS);
                cnt = MAX_PARTITIONS;
                if (cnt <= t->nparts)
                        goto out;
        }
        parts = rd_kafka_topic_partition_list_new(cnt - t->nparts);
        for (int32_t p = t->nparts; p < cnt; p++)
                start[p] = part_start(kp, t, p, parts);
        ae = rd_kafka_incremental_assign(kp->rk, parts);
        if (ae) {
                scim_event("warn", "kafka_assign_failed",
                           "kafka: cannot assign the new partitions of %s "
                           "(%s); trying again later",
                           t->name, rd_kafka_error_string(ae));
                rd_kafka_error_destroy(ae);
                goto out;
        }
        pthread_mutex_lock(&kp->mu);
        for (int32_t p = t->nparts; p < cnt; p++)
                t->next[p] = start[p];
        for (int32_t p = t->nparts; p < cnt; p++)
                scim_event("info", "kafka_partition_added",
                           "kafka: partition %d of %s added (reading from "
                           "offset %lld)",
                           (int)p, t->name, (long long)start[p]);
        t->nparts = cnt;
        pthread_cond_broadcast(&kp->cv);
        pthread_mutex_unlock(&kp->mu);
        scim_kafka_stats_partitions(t->admin, cnt);
out:
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
}

static void *proj_main(void *arg)
{
        scim_kproj_t *kp = arg;

        for (;;) {
                int stop;

                pthread_mutex_lock(&kp->mu);
                stop = kp->stopping;
                pthread_mutex_unlock(&kp->mu);
                if (stop)
                        break;
                if (scim_now_ms() >= kp->next_refresh) {
                        for (int i = 0; i < T_COUNT; i++)
                                kp_refresh_topic(kp, &kp->t[i]);
                        kp->next_refresh = scim_now_ms() + kp->refresh_ms;
                }
                if (kp_step(kp, 100) < 0)
                        break;
        }
        return NULL;
}

int32_t scim_kproj_partitions(scim_kproj_t *kp)
{
        int32_t n;

        pthread_mutex_lock(&kp->mu);
        n = kp->t[T_DATA].nparts;
        pthread_mutex_unlock(&kp->mu);
        return n;
}

static void kp_free(scim_kproj_t *kp)
{
        if (!kp)
                return;
        if (kp->rk) {
                rd_kafka_consumer_close(kp->rk);
                rd_kafka_destroy(kp->rk);
        }
        scim_registry_free(kp->reg);
        pthread_mutex_destroy(&kp->mu);
        pthread_cond_destroy(&kp->cv);
        for (int i = 0; i < T_COUNT; i++) {
                free(kp->t[i].next);
                free(kp->t[i].hi);
                free(kp->t[i].stopped);
                free(kp->t[i].name);
        }
        free(kp);
}

static scim_kproj_t *kp_new(scim_store_t *st, const scim_kafka_config_t *cfg)
{
        scim_kproj_t *kp = calloc(1, sizeof(*kp));

        if (!kp)
                return NULL;
        kp->st = st;
        kp->t[T_DATA].name =
            strdup(cfg->topic ? cfg->topic : SCIM_KAFKA_TOPIC_DEFAULT);
        kp->t[T_ADMIN].name = strdup(cfg->admin_topic
                                         ? cfg->admin_topic
                                         : SCIM_KAFKA_ADMIN_TOPIC_DEFAULT);
        kp->t[T_ADMIN].admin = 1;
        pthread_mutex_init(&kp->mu, NULL);
        pthread_cond_init(&kp->cv, NULL);
        if (cfg->schema_registry)
                kp->reg = scim_registry_new(cfg->schema_registry);
        if (!kp->t[T_DATA].name || !kp->t[T_ADMIN].name ||
            (cfg->schema_registry && !kp->reg)) {
                kp_free(kp);
                return NULL;
        }
        return kp;
}

int scim_kproj_start(scim_store_t *st, const scim_kafka_config_t *cfg,
                     scim_kproj_verdict_cb cb, void *ctx, scim_kproj_t **out,
                     char *errstr, size_t errlen)
{
        scim_kproj_t *kp = kp_new(st, cfg);

        *out = NULL;
        if (!kp) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        kp->cb = cb;
        kp->ctx = ctx;
        kp->refresh_ms = cfg->metadata_refresh_ms > 0
                             ? cfg->metadata_refresh_ms
                             : REFRESH_DEFAULT_MS;
        if (kp_open(kp, cfg, errstr, errlen) < 0) {
                kp_free(kp);
                return -1;
        }
        kp->next_refresh = scim_now_ms() + kp->refresh_ms;
        for (int i = 0; i < T_COUNT; i++)
                scim_kafka_stats_partitions(kp->t[i].admin, kp->t[i].nparts);
        if (pthread_create(&kp->thr, NULL, proj_main, kp) != 0) {
                snprintf(errstr, errlen, "cannot start projector thread");
                kp_free(kp);
                return -1;
        }
        kp->started = 1;
        *out = kp;
        return 0;
}

int scim_kproj_catch_up(scim_kproj_t *kp, int timeout_ms, char *errstr,
                        size_t errlen)
{
        int64_t deadline = scim_now_ms() + timeout_ms;
        int64_t *hi[T_COUNT] = {NULL, NULL};
        int rc = -1;

        for (int i = 0; i < T_COUNT; i++) {
                int32_t np;

                hi[i] = calloc(MAX_PARTITIONS, sizeof(**hi));
                if (!hi[i]) {
                        snprintf(errstr, errlen, "out of memory");
                        goto out;
                }
                pthread_mutex_lock(&kp->mu);
                np = kp->t[i].nparts; /* grows on the projector thread */
                pthread_mutex_unlock(&kp->mu);
                for (int32_t p = 0; p < np; p++) {
                        int64_t lo = 0, h = 0;
                        rd_kafka_resp_err_t e;

                        for (;;) {
                                e = rd_kafka_query_watermark_offsets(
                                    kp->rk, kp->t[i].name, p, &lo, &h, 5000);
                                if (!e)
                                        break;
                                if (scim_now_ms() > deadline) {
                                        snprintf(errstr, errlen,
                                                 "cannot read the end of "
                                                 "partition %d of %s: %s",
                                                 (int)p, kp->t[i].name,
                                                 rd_kafka_err2str(e));
                                        goto out;
                                }
                        }
                        /* an emptied partition is caught up */
                        hi[i][p] = h > lo ? h : 0;
                }
        }
        pthread_mutex_lock(&kp->mu);
        for (;;) {
                int i, p = 0;
                struct timespec ts;
                int64_t now = scim_now_ms();

                for (i = 0; i < T_COUNT; i++) {
                        for (p = 0; p < kp->t[i].nparts &&
                                    kp->t[i].next[p] >= hi[i][p];
                             p++)
                                ;
                        if (p < kp->t[i].nparts)
                                break;
                }
                if (i == T_COUNT) {
                        rc = 0;
                        break;
                }
                if (now > deadline || kp->stopping) {
                        snprintf(errstr, errlen,
                                 "projector has not caught up with partition "
                                 "%d of %s (at %lld of %lld)",
                                 p, kp->t[i].name,
                                 (long long)kp->t[i].next[p],
                                 (long long)hi[i][p]);
                        break;
                }
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 100 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&kp->cv, &kp->mu, &ts);
        }
        pthread_mutex_unlock(&kp->mu);
out:
        for (int i = 0; i < T_COUNT; i++)
                free(hi[i]);
        return rc;
}

void scim_kproj_stop(scim_kproj_t *kp)
{
        if (!kp)
                return;
        pthread_mutex_lock(&kp->mu);
        kp->stopping = 1;
        pthread_cond_broadcast(&kp->cv);
        pthread_mutex_unlock(&kp->mu);
        if (kp->started)
                pthread_join(kp->thr, NULL);
        kp_free(kp);
}

/* ----------------------------------------------------------- replay */

/* 1 while some partition of some topic still has messages to fold. */
static int replay_pending(scim_kproj_t *kp)
{
        for (int i = 0; i < T_COUNT; i++) {
                ktopic_t *t = &kp->t[i];

                for (int32_t p = 0; p < t->nparts; p++)
                        if (!t->stopped[p] && t->next[p] < t->hi[p] &&
                            (t->admin || kp->until->offset < 0 ||
                             t->next[p] <= kp->until->offset))
                                return 1;
        }
        return 0;
}

int scim_log_replay_kafka(scim_store_t *dst, const scim_kafka_config_t *cfg,
                          const scim_kafka_until_t *until,
                          void (*progress)(uint64_t done, uint64_t total),
                          uint64_t *folded, scim_err_t *err)
{
        static const scim_kafka_until_t none = {-1, -1};
        scim_kproj_t *kp = kp_new(dst, cfg);
        char errstr[512];
        uint64_t total = 0;
        int64_t last = scim_now_ms();
        int rc = -1;

        *folded = 0;
        if (!kp)
                return scim_err_set_retry(err, 503, "out of memory");
        kp->until = until ? until : &none;
        if (kp_open(kp, cfg, errstr, sizeof(errstr)) < 0) {
                scim_err_set_retry(err, 503, "%s", errstr);
                goto out;
        }
        for (int i = 0; i < T_COUNT; i++) {
                ktopic_t *t = &kp->t[i];

                for (int32_t p = 0; p < t->nparts; p++) {
                        int64_t lo = 0, hi = 0, end;
                        rd_kafka_resp_err_t e =
                            rd_kafka_query_watermark_offsets(
                                kp->rk, t->name, p, &lo, &hi, 10000);

                        if (e) {
                                scim_err_set_retry(err, 503,
                                                   "cannot read the "
                                                   "watermarks of partition "
                                                   "%d of %s: %s",
                                                   (int)p, t->name,
                                                   rd_kafka_err2str(e));
                                goto out;
                        }
                        if (lo > 0) {
                                /* retention deleted the start of the
                                 * partition: a rebuild from here would
                                 * silently differ */
                                scim_err_set(err, 409, NULL,
                                             "partition %d of %s no longer "
                                             "starts at offset 0 (first "
                                             "offset %lld): the topic's "
                                             "retention deleted events, a "
                                             "replay would be incomplete",
                                             (int)p, t->name, (long long)lo);
                                goto out;
                        }
                        t->hi[p] = hi;
                        end = hi;
                        if (!t->admin && kp->until->offset >= 0 &&
                            kp->until->offset + 1 < end)
                                end = kp->until->offset + 1;
                        if (end <= lo)
                                t->stopped[p] = 1;
                        else
                                total += (uint64_t)(end - lo);
                }
        }
        while (replay_pending(kp)) {
                if (kp_step(kp, 500) < 0) {
                        scim_err_set_retry(err, 503, "replay interrupted");
                        goto out;
                }
                if (progress && scim_now_ms() - last >= 1000) {
                        progress(kp->folded, total);
                        last = scim_now_ms();
                }
        }
        if (progress)
                progress(kp->folded, total);
        *folded = kp->folded;
        rc = 0;
out:
        kp_free(kp);
        return rc;
}
