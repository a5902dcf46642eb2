/*
 * state_topic.c — `--state-topic T`: publishes every resource's state to a
 * compacted Kafka topic, so a consumer can bootstrap the current state of
 * every tenant without reading the whole history.
 *
 * Message: key "tenant/User/id" (or Group); value a JSON envelope
 *   {"op","tenant","resourceType","id","before","after","sourcePosition",
 *    "time"}
 * built from the change stream record of the event (projector/stream.c);
 * a group's "after" carries its full member list as the views hold it
 * when the envelope is published. A delete publishes the envelope
 * (after null), the state of every group the resource left (op
 * "membership"), and then a tombstone (null value) so compaction drops
 * the key. Refused events change no state and publish nothing.
 *
 * Source and cursor: a publisher thread walks the events this node folded
 * (the `log` column family, position order) partition by partition,
 * woken by every fold batch (scim_store_watch). What the brokers
 * acknowledged is remembered per data partition in DIR/state-topic.cursor
 * (written with write-rename), so after a restart or a crash publishing
 * resumes there: at least once, per key in order (idempotent producer, one
 * partition per key); a re-published state is the same state.
 *
 * Threads: the publisher thread owns the producer and the scan positions;
 * delivery reports run inside its rd_kafka_poll; the fold watcher only
 * bumps a counter under sp->mu.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/log_internal.h"

#define SP_PARTS 1024      /* data partitions tracked */
#define SP_BATCH 1000      /* events read per partition per round */
#define SP_NOPOS UINT64_MAX

struct state_pub {
        scim_store_t *st;
        rd_kafka_t *prod;
        char *topic;
        char *cursor_path;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        uint64_t gen; /* folds seen (under mu) */
        int stopping;
        int started;
        pthread_t thr;
        /* publisher thread only: */
        uint64_t acked[SP_PARTS];  /* last acknowledged position, 0 none */
        uint64_t queued[SP_PARTS]; /* last position handed to the producer */
        int failed[SP_PARTS];      /* a delivery failed: rewind to acked */
        int dirty;                 /* acked changed since the last save */
};

/* ------------------------------------------------------------ cursor */

static void cursor_load(state_pub_t *sp)
{
        FILE *f = fopen(sp->cursor_path, "r");
        unsigned p;
        unsigned long long pos;

        if (!f)
                return;
        while (fscanf(f, "%u %llu", &p, &pos) == 2)
                if (p < SP_PARTS && (pos >> 48) == p)
                        sp->acked[p] = sp->queued[p] = pos;
        fclose(f);
}

static void cursor_save(state_pub_t *sp)
{
        char tmp[1100];
        FILE *f;

        snprintf(tmp, sizeof(tmp), "%s.tmp", sp->cursor_path);
        f = fopen(tmp, "w");
        if (!f)
                return;
        for (unsigned p = 0; p < SP_PARTS; p++)
                if (sp->acked[p])
                        fprintf(f, "%u %llu\n", p,
                                (unsigned long long)sp->acked[p]);
        if (fflush(f) == 0 && fsync(fileno(f)) == 0 && fclose(f) == 0) {
                if (rename(tmp, sp->cursor_path) == 0)
                        sp->dirty = 0;
        } else {
                fclose(f);
        }
}

/* ------------------------------------------------------------ producer */

/* Delivery report (publisher thread, inside rd_kafka_poll). The opaque
 * is the position; per partition they arrive in order. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        state_pub_t *sp = opaque;
        uint64_t pos = (uint64_t)(uintptr_t)m->_private;
        unsigned p = (unsigned)(pos >> 48);

        if (p >= SP_PARTS || !pos)
                return;
        if (m->err) {
                sp->failed[p] = 1;
                scim_event("warn", "state_topic_error",
                           "state topic: %s (will publish again)",
                           rd_kafka_err2str(m->err));
                return;
        }
        if (pos > sp->acked[p]) {
                sp->acked[p] = pos;
                sp->dirty = 1;
        }
}

/* A delete took the resource out of these groups: publishes each group's
 * state as the views hold it now (op "membership"), since a compacted
 * topic keeps no deltas. Returns 0 or -1 when the queue is full. */
static int publish_groups_left(state_pub_t *sp, const char *tenant,
                               const json_t *effects, uint64_t pos,
                               const json_t *time)
{
        size_t i;
        json_t *fx;

        json_array_foreach(effects, i, fx)
        {
                const char *gid =
                    json_string_value(json_object_get(fx, "group"));
                json_t *g = NULL, *members = NULL, *env;
                scim_err_t e;
                char key[SCIM_MAX_TENANT_LEN + SCIM_MAX_ID_LEN + 16], *txt;
                rd_kafka_resp_err_t re;

                if (!gid || scim_store_get(sp->st, tenant, SCIM_RT_GROUP, gid,
                                           &g, NULL, &e) < 0)
                        continue; /* gone since: its tombstone follows */
                if (scim_store_group_members(sp->st, tenant, gid, &members,
                                             &e) == 0)
                        json_object_set_new(g, "members", members);
                env = json_pack("{s:s, s:s, s:s, s:s, s:n, s:o, s:I, s:O}",
                                "op", "membership", "tenant", tenant,
                                "resourceType", "Group", "id", gid, "before",
                                "after", g, "sourcePosition", (json_int_t)pos,
                                "time", time);
                txt = env ? scim_json_dumps(env) : NULL;
                json_decref(env);
                if (!txt)
                        continue;
                snprintf(key, sizeof(key), "%s/Group/%s", tenant, gid);
                re = rd_kafka_producev(
                    sp->prod, RD_KAFKA_V_TOPIC(sp->topic),
                    RD_KAFKA_V_KEY(key, strlen(key)),
                    RD_KAFKA_V_VALUE(txt, strlen(txt)),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_HEADER("content-type", "application/json",
                                      -1),
                    RD_KAFKA_V_END);
                free(txt);
                if (re == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        return -1;
        }
        return 0;
}

/* Collects one stream record (the first after pos - 1). */
static int take_record(void *ctx, uint64_t pos, const char *json, size_t len)
{
        json_t **out = ctx;

        *out = scim_json_load(json, len);
        return 1;
}

/* Builds and produces the messages of the event at pos. Returns 0, or -1
 * when the producer queue is full (try again later). */
static int publish_one(state_pub_t *sp, uint64_t pos, const void *data,
                       size_t len)
{
        scim_event_t ev;
        scim_err_t err;
        json_t *rec = NULL, *env = NULL;
        char key[SCIM_MAX_TENANT_LEN + SCIM_MAX_ID_LEN + 16], *txt = NULL;
        const char *op, *rt, *id;
        int tombstone, rc = 0;
        void *env_opaque;
        rd_kafka_resp_err_t e = 0;

        memset(&ev, 0, sizeof(ev));
        if (scim_event_decode(data, len, &ev, &err) < 0 || !ev.tenant)
                goto out;
        if (scim_store_stream_read(sp->st, ev.tenant, pos - 1, 1, 1 << 30,
                                   take_record, &rec, &err) < 1 ||
            !rec ||
            (uint64_t)json_integer_value(json_object_get(rec, "position")) !=
                pos ||
            !json_is_true(json_object_get(rec, "applied")))
                goto out; /* not a resource event, or refused */
        op = json_string_value(json_object_get(rec, "op"));
        rt = json_string_value(json_object_get(rec, "resourceType"));
        id = json_string_value(json_object_get(rec, "id"));
        if (!op || !rt || !id)
                goto out;
        tombstone = json_is_true(json_object_get(rec, "tombstone"));
        snprintf(key, sizeof(key), "%s/%s/%s", ev.tenant, rt, id);
        env = json_pack("{s:s, s:s, s:s, s:s, s:O?, s:O?, s:I, s:O}", "op",
                        op, "tenant", ev.tenant, "resourceType", rt, "id", id,
                        "before", json_object_get(rec, "before"), "after",
                        json_object_get(rec, "after"), "sourcePosition",
                        (json_int_t)pos, "time", json_object_get(rec, "time"));
        if (!env)
                goto out;
        if (!json_object_get(env, "before"))
                json_object_set_new(env, "before", json_null());
        if (!json_object_get(env, "after"))
                json_object_set_new(env, "after", json_null());
        if (!tombstone && !strcmp(rt, "Group")) {
                /* the full member list (a compacted topic keeps no deltas) */
                json_t *members = NULL, *after = json_object_get(env, "after");
                scim_err_t e2;

                if (json_is_object(after) &&
                    scim_store_group_members(sp->st, ev.tenant, id, &members,
                                             &e2) == 0) {
                        json_t *copy = json_deep_copy(after);

                        json_object_set_new(copy, "members", members);
                        json_object_set_new(env, "after", copy);
                }
        }
        txt = scim_json_dumps(env);
        if (!txt)
                goto out;
        /* the position travels with the last message of the event */
        env_opaque = tombstone ? NULL : (void *)(uintptr_t)pos;
        e = rd_kafka_producev(
            sp->prod, RD_KAFKA_V_TOPIC(sp->topic),
            RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(txt, strlen(txt)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("content-type", "application/json", -1),
            RD_KAFKA_V_OPAQUE(env_opaque),
            RD_KAFKA_V_END);
        if (!e && tombstone &&
            publish_groups_left(sp, ev.tenant,
                                json_object_get(rec, "membershipEffects"), pos,
                                json_object_get(rec, "time")) < 0)
                e = RD_KAFKA_RESP_ERR__QUEUE_FULL;
        if (!e && tombstone)
                e = rd_kafka_producev(
                    sp->prod, RD_KAFKA_V_TOPIC(sp->topic),
                    RD_KAFKA_V_KEY(key, strlen(key)),
                    RD_KAFKA_V_VALUE(NULL, 0),
                    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)pos), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rc = -1;
        else if (e)
                scim_event("warn", "state_topic_error", "state topic: %s",
                           rd_kafka_err2str(e));
out:
        free(txt);
        json_decref(env);
        json_decref(rec);
        scim_event_clear(&ev);
        return rc;
}

/* ------------------------------------------------------------ the loop */

typedef struct scan {
        state_pub_t *sp;
        unsigned part;   /* partition being scanned */
        uint64_t next;   /* first position of a later partition seen, or 0 */
        int full;        /* producer queue full */
        size_t n;
} scan_t;

static int scan_one(void *ctx, uint64_t pos, const void *data, size_t len)
{
        scan_t *s = ctx;

        if ((pos >> 48) != s->part) {
                s->next = pos;
                return 1;
        }
        if (publish_one(s->sp, pos, data, len) < 0) {
                s->full = 1;
                return 1;
        }
        s->sp->queued[s->part] = pos;
        s->n++;
        return 0;
}

/* Publishes what was folded since the last round. Returns events queued. */
static size_t publish_round(state_pub_t *sp)
{
        size_t total = 0;
        unsigned p = 0;
        scim_err_t err;

        while (p < SP_PARTS) {
                scan_t s = {sp, p, 0, 0, 0};
                uint64_t after;

                if (sp->failed[p]) { /* publish again from the last ack */
                        sp->failed[p] = 0;
                        sp->queued[p] = sp->acked[p];
                }
                after = sp->queued[p] ? sp->queued[p]
                                      : ((uint64_t)p << 48);
                if (scim_log_read(sp->st, after, SP_BATCH, scan_one, &s,
                                  &err) < 0 ||
                    s.full)
                        break;
                total += s.n;
                if (s.next) {
                        /* skip empty partitions; admin positions end it */
                        unsigned q = (unsigned)(s.next >> 48);

                        p = q > p ? q : p + 1;
                } else if (s.n < SP_BATCH) {
                        break; /* nothing beyond this partition */
                }
        }
        return total;
}

static void *pub_main(void *arg)
{
        state_pub_t *sp = arg;
        uint64_t seen = (uint64_t)-1;

        for (;;) {
                uint64_t gen;
                int stop;

                pthread_mutex_lock(&sp->mu);
                if (!sp->stopping && sp->gen == seen) {
                        struct timespec ts;

                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_nsec += 200 * 1000 * 1000;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&sp->cv, &sp->mu, &ts);
                }
                gen = sp->gen;
                stop = sp->stopping;
                pthread_mutex_unlock(&sp->mu);
                if (gen != seen || rd_kafka_outq_len(sp->prod) > 0)
                        publish_round(sp);
                seen = gen;
                rd_kafka_poll(sp->prod, 10);
                if (sp->dirty)
                        cursor_save(sp);
                if (stop)
                        break;
        }
        rd_kafka_flush(sp->prod, 5000);
        rd_kafka_poll(sp->prod, 0);
        if (sp->dirty)
                cursor_save(sp);
        return NULL;
}

/* Fold watcher (writer thread): something new to publish. */
static void on_folded(void *ctx)
{
        state_pub_t *sp = ctx;

        pthread_mutex_lock(&sp->mu);
        sp->gen++;
        pthread_cond_signal(&sp->cv);
        pthread_mutex_unlock(&sp->mu);
}

int state_pub_start(scim_store_t *st, const scim_kafka_config_t *cfg,
                    state_pub_t **out, char *errstr, size_t errlen)
{
        state_pub_t *sp = calloc(1, sizeof(*sp));
        rd_kafka_conf_t *conf = NULL;

        *out = NULL;
        if (!sp) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        pthread_mutex_init(&sp->mu, NULL);
        pthread_cond_init(&sp->cv, NULL);
        sp->st = st;
        sp->topic = strdup(cfg->state_topic);
        sp->cursor_path = strdup(cfg->state_cursor ? cfg->state_cursor
                                                   : "state-topic.cursor");
        conf = rd_kafka_conf_new();
        if (!sp->topic || !sp->cursor_path || !conf ||
            rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, errstr,
                              errlen) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                              errlen) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "acks", "all", errstr, errlen) !=
                RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "linger.ms", "5", errstr, errlen) !=
                RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "log_level", "3", errstr, errlen) !=
                RD_KAFKA_CONF_OK ||
            scim_kafka_props_apply(cfg->props, conf, errstr, errlen) < 0)
                goto fail;
        rd_kafka_conf_set_opaque(conf, sp);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        sp->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errlen);
        if (!sp->prod)
                goto fail;
        conf = NULL;
        cursor_load(sp);
        if (scim_store_watch(st, on_folded, sp) < 0) {
                snprintf(errstr, errlen, "too many fold watchers");
                goto fail;
        }
        if (pthread_create(&sp->thr, NULL, pub_main, sp) != 0) {
                scim_store_unwatch(st, on_folded, sp);
                snprintf(errstr, errlen, "cannot start the state publisher");
                goto fail;
        }
        sp->started = 1;
        *out = sp;
        return 0;
fail:
        if (conf)
                rd_kafka_conf_destroy(conf);
        state_pub_stop(sp);
        return -1;
}

void state_pub_stop(state_pub_t *sp)
{
        if (!sp)
                return;
        if (sp->started) {
                scim_store_unwatch(sp->st, on_folded, sp);
                pthread_mutex_lock(&sp->mu);
                sp->stopping = 1;
                pthread_cond_signal(&sp->cv);
                pthread_mutex_unlock(&sp->mu);
                pthread_join(sp->thr, NULL);
        }
        if (sp->prod)
                rd_kafka_destroy(sp->prod);
        pthread_mutex_destroy(&sp->mu);
        pthread_cond_destroy(&sp->cv);
        free(sp->topic);
        free(sp->cursor_path);
        free(sp);
}
