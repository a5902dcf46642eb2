/*
 * scim_log.h — the event log as one component: the position type, append
 * with a completion callback (the fold's verdict), and reads from a
 * position. Ingest appends and waits for callbacks; the projector folds
 * what the log delivers; neither knows which backend runs.
 *
 * Backends:
 *  - embedded (default): column family `log` of the node's RocksDB. An
 *    append is folded in the same synced WriteBatch (group commit: the
 *    caller hands a whole batch to one scim_log_append call), so each
 *    callback runs before scim_log_append returns, in order.
 *  - Kafka (`--kafka`): a topic. Appends are produced (idempotent
 *    producer, acks=all, key = tenant; a data event goes to its tenant's
 *    pinned partition) and never block; a consumer thread assigns every
 *    partition, and those added later, at the offsets stored with the
 *    views, folds
 *    what it reads, and calls the callback of each of this node's appends
 *    once this node has folded it (read-your-writes).
 *
 * Positions: the position of an event is the key of its change record and
 * stream record, the same on every node: embedded, the sequence number
 * (1, 2, ...); Kafka, partition << 48 | (offset + 1). One tenant's events
 * always have increasing positions in apply order (a tenant lives in one
 * partition).
 *
 * Reads: both backends keep a copy of every folded event's bytes in the
 * node's `log` column family under its position (embedded: that IS the
 * log; Kafka: a per-node copy written in the fold's batch), so history,
 * `asOf` and the change stream read the same way in both modes.
 *
 * Threads: scim_log_append runs on one thread at a time (the ingest
 * committer); callbacks run on that thread (embedded) or on the Kafka
 * projector / producer poll threads; reads run on any thread.
 */
#ifndef SCIM_LOG_H
#define SCIM_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/scim_common.h"
#include "projector/scim_projector.h"
#include "schemas/scim_schemas.h"

/* An event's position in the log (0 = before the first event). */
typedef uint64_t scim_log_pos_t;

/* librdkafka properties from `--kafka-config FILE` (kafka_config.c). */
typedef struct scim_kafka_props scim_kafka_props_t;

/*
 * Reads a properties file (key=value lines; # and ! comments) and checks
 * every property with librdkafka. Keys scimlog sets itself (acks,
 * idempotence, offsets, ...) are refused with the reason. Errors name the
 * file and line ("FILE:3: No such configuration property: \"foo\"").
 * *out freed with scim_kafka_props_free. Returns 0 or -1 with errstr.
 */
int scim_kafka_props_load(const char *path, scim_kafka_props_t **out,
                          char *errstr, size_t errlen);
/* The parser alone (name is used in messages); no librdkafka check. */
int scim_kafka_props_parse(const char *text, size_t len, const char *name,
                           scim_kafka_props_t **out, char *errstr,
                           size_t errlen);
void scim_kafka_props_free(scim_kafka_props_t *p);

/* Kafka mode settings (serve/tenant/replay --kafka). */
typedef struct scim_kafka_config {
        const char *brokers;  /* bootstrap.servers; NULL = embedded log */
        const char *topic;    /* default "scim.events" */
        int timeout_ms;       /* produce/delivery bound; 0 = 10000 */
        int fetch_wait_ms;    /* fetch.wait.max.ms; 0 = 100. A real broker
                                 answers a fetch as soon as data arrives;
                                 librdkafka's mock waits the whole time, so
                                 tests against it use 1 */
        const scim_kafka_props_t *props; /* --kafka-config, or NULL */
        const char *admin_topic; /* tenants and tokens; NULL = default */
        const char *state_topic; /* compacted state topic; NULL = none */
        const char *state_cursor; /* file of what the state topic has
                                     acknowledged; the publisher runs only
                                     when set (serve) */
        int confluent;               /* --kafka-framing confluent */
        const char *schema_registry; /* --schema-registry URL: needed to
                                        write Confluent framing, and to
                                        read it */
        int metadata_refresh_ms;     /* --kafka-metadata-refresh: how
                                        often a running node looks for
                                        partitions added to the topics;
                                        0 = 5000 */
} scim_kafka_config_t;

#define SCIM_KAFKA_TOPIC_DEFAULT "scim.events"
#define SCIM_KAFKA_ADMIN_TOPIC_DEFAULT "scim.admin"

typedef struct scim_log scim_log_t;

/*
 * Opens the log over st: embedded when kcfg is NULL or has no brokers,
 * else Kafka (starts the producer and the consumer thread; the views catch
 * up in the background, see scim_log_catch_up). Returns 0 or -1 with
 * errstr.
 */
int scim_log_open(scim_store_t *st, const scim_kafka_config_t *kcfg,
                  scim_log_t **out, char *errstr, size_t errlen);

/* 1 for the Kafka backend. */
int scim_log_is_kafka(const scim_log_t *log);

/* Waits until the views reflect the whole log as it stands now (Kafka:
 * the high watermarks; embedded: at once). Returns 0 or -1 with errstr. */
int scim_log_catch_up(scim_log_t *log, int timeout_ms, char *errstr,
                      size_t errlen);

/*
 * Completion of one append, called exactly once: with the fold's verdict
 * (v, err NULL; the callee may take v->resource, the log clears v
 * afterwards) or with a retriable error (v NULL): 429 when the producer
 * queue is full, 503 when the event was not written or its outcome is
 * unknown after the wait bound. Must not block.
 */
typedef void (*scim_log_done_cb)(void *ctx, scim_verdict_t *v,
                                 const scim_err_t *err);

typedef struct scim_log_entry {
        const scim_event_t *ev;  /* decoded event (borrowed for the call) */
        const scim_buf_t *enc;   /* its single-object Avro bytes (borrowed) */
        scim_log_done_cb cb;
        void *ctx;
} scim_log_entry_t;

/*
 * Appends n events in order. Embedded: one synced WriteBatch with their
 * folds, callbacks before return. Kafka: produced, callbacks later. Never
 * blocks on the network.
 */
void scim_log_append(scim_log_t *log, const scim_log_entry_t *entries,
                     size_t n);

/*
 * Reads the events this node folded with positions > after, in position
 * order, calling fn(ctx, pos, bytes, len) for each (bytes borrowed for the
 * call) until fn returns nonzero or max events were read. Returns the
 * number read, or -1 with err.
 */
typedef int (*scim_log_read_cb)(void *ctx, scim_log_pos_t pos,
                                const void *data, size_t len);
long scim_log_read(scim_store_t *st, scim_log_pos_t after, size_t max,
                   scim_log_read_cb fn, void *ctx, scim_err_t *err);

/* Stops taking appends (503), lets in-flight ones finish for up to
 * timeout_ms, then answers the rest 503. Call before scim_api_stop. */
void scim_log_drain(scim_log_t *log, int timeout_ms);

/* Stops the threads and frees (after the last append). NULL-safe. */
void scim_log_close(scim_log_t *log);

/* Replay limit: fold each partition up to and including this offset, or
 * the messages whose timestamp is <= this time (ms). -1 = none. */
typedef struct scim_kafka_until {
        int64_t offset;
        int64_t time_ms;
} scim_kafka_until_t;

/* Rebuilds views into the fresh store dst from the topic (everything up to
 * the high watermarks seen at the start, within until). progress as for
 * scim_store_replay. Runs on the calling thread. Returns 0 or -1 + err. */
int scim_log_replay_kafka(scim_store_t *dst, const scim_kafka_config_t *cfg,
                          const scim_kafka_until_t *until,
                          void (*progress)(uint64_t done, uint64_t total),
                          uint64_t *folded, scim_err_t *err);

/* Kafka figures for /metrics (log/kafka_stats.c): librdkafka statistics
 * of this process's producer and consumer (every second), error-callback
 * count, and the timestamp of the newest message folded here. active is 0
 * until the first statistics arrive (embedded mode: always 0). */
typedef struct scim_kafka_stats {
        int active;
        uint64_t producer_queue;     /* messages waiting for the brokers */
        uint64_t producer_tx_errors; /* transmit errors, all brokers */
        uint64_t consumer_rx_errors;
        uint64_t errors;             /* librdkafka error callbacks */
        uint64_t consumer_lag;       /* messages behind the partition ends */
        int64_t last_folded_ms;      /* newest folded message's timestamp */
        int64_t updated_ms;
        uint64_t partitions_data;    /* partitions this node reads */
        uint64_t partitions_admin;
} scim_kafka_stats_t;

void scim_kafka_stats_get(scim_kafka_stats_t *out);
void scim_kafka_stats_error(void);
void scim_kafka_stats_folded(int64_t msg_ts_ms);
/* The number of partitions of the data (admin 0) or admin topic this
 * node reads (grows when partitions are added). */
void scim_kafka_stats_partitions(int admin, int32_t n);
struct rd_kafka_s;
int scim_kafka_stats_cb(struct rd_kafka_s *rk, char *json, size_t len,
                        void *opaque);

#endif /* SCIM_LOG_H */
