/*
 * log_internal.h — between the log dispatcher (log.c) and its Kafka
 * backend: the producer with its table of waiting appends (log_kafka.c)
 * and the consumer thread that folds the topic (kafka_consumer.c). Not
 * part of the public face (log/scim_log.h).
 */
#ifndef SCIM_LOG_INTERNAL_H
#define SCIM_LOG_INTERNAL_H

#include <librdkafka/rdkafka.h>

#include "log/scim_log.h"

/* Sets every property of p on conf (after scimlog's own settings).
 * Returns 0, or -1 with "FILE:LINE: reason" in errstr. */
int scim_kafka_props_apply(const scim_kafka_props_t *p, rd_kafka_conf_t *conf,
                           char *errstr, size_t errlen);

/* --------------------------------------- schema registry (registry.c) */

typedef struct scim_registry scim_registry_t;

/* A client of the registry at url (http or https). NULL on no memory. */
scim_registry_t *scim_registry_new(const char *url);
void scim_registry_free(scim_registry_t *r);
/* Registers the writer schema under <topic>-value; *id its schema id.
 * Returns 0 or -1 with errstr. */
int scim_registry_register(scim_registry_t *r, const char *topic,
                           uint32_t *id, char *errstr, size_t errlen);
/* Single-object encoded event -> Confluent framing (0, id BE, datum) in
 * out (reset first). Returns 0 or -1 (not single-object, no memory). */
int scim_registry_frame(uint32_t id, const unsigned char *so, size_t len,
                        scim_buf_t *out);
/* A Confluent-framed value whose schema is one of ours -> its
 * single-object form in *out (malloc'd): returns 1. 0: not Confluent
 * framing, or a schema none of ours (value unchanged, *out NULL). -1: the
 * registry could not be asked (retry later). r may be NULL (returns 0). */
int scim_registry_unframe(scim_registry_t *r, const unsigned char *data,
                          size_t len, unsigned char **out, size_t *out_len);

/* ------------------------------------------------ producer (log_kafka.c) */

typedef struct scim_kafka scim_kafka_t;

/* Starts the producer and the consumer thread over st. Returns 0 or -1
 * with errstr. */
int scim_kafka_start(scim_store_t *st, const scim_kafka_config_t *cfg,
                     scim_kafka_t **out, char *errstr, size_t errlen);

/*
 * Produces one encoded event (enc borrowed; librdkafka copies it). Returns
 * 0 when produced (cb will be called), or -1 with err (429 when the
 * producer queue is full, 503 otherwise; cb is never called). Never blocks.
 * Runs on the ingest committer thread or the projector thread (retries).
 */
int scim_kafka_submit(scim_kafka_t *k, const scim_event_t *ev,
                      const scim_buf_t *enc, scim_log_done_cb cb, void *ctx,
                      scim_err_t *err);
/* Waits until st reflects the whole topic as it stands now. */
int scim_kafka_catch_up(scim_kafka_t *k, int timeout_ms, char *errstr,
                        size_t errlen);
/* Stops taking new writes (503), lets in-flight ones finish for up to
 * timeout_ms, then answers the rest 503. */
void scim_kafka_drain(scim_kafka_t *k, int timeout_ms);
/* Stops the consumer and the producer and frees. NULL-safe. */
void scim_kafka_stop(scim_kafka_t *k);

/* --------------------------------------- partition pins (kafka_pin.c) */

/* The partition librdkafka's default partitioner gives tenant among
 * nparts (RD_KAFKA_PARTITION_UA when nparts <= 0). */
int32_t scim_kafka_key_partition(const char *tenant, int32_t nparts);
/* Where a data event of tenant goes: its pin in st, or
 * RD_KAFKA_PARTITION_UA (no pin: the key hash). */
int32_t scim_kafka_data_partition(scim_store_t *st, const char *tenant);
/* Puts the partition pin into a TENANT_CREATE (none given) or a
 * TENANT_UPDATE {"partition": "auto"}: returns 1 with the re-encoded event
 * in out (reset first), 0 when ev goes as it is, -1 with err (400: an
 * explicit pin >= nparts; 503: no partitions known, no memory). */
int scim_kafka_pin_event(scim_store_t *st, int32_t nparts,
                         const scim_event_t *ev, scim_buf_t *out,
                         scim_err_t *err);

/* ------------------------------------------ state topic (state_topic.c) */

typedef struct state_pub state_pub_t;

/* Starts publishing resource states to cfg->state_topic (a thread with
 * its own producer). Returns 0 or -1 with errstr. */
int state_pub_start(scim_store_t *st, const scim_kafka_config_t *cfg,
                    state_pub_t **out, char *errstr, size_t errlen);
/* Flushes (bounded), saves the cursor, stops, frees. NULL-safe. */
void state_pub_stop(state_pub_t *sp);

/* ------------------------------------------ consumer (kafka_consumer.c) */

/*
 * The Kafka projector: a consumer thread that assigns EVERY partition of
 * the topic (no consumer group: each node keeps a full replica) at the
 * offsets stored in st, folds what it consumes with scim_store_fold_logged
 * and hands each verdict to cb (on the projector thread; cb may take
 * v->resource, the projector clears v afterwards; event_id is "" for
 * undecodable messages).
 */
typedef struct scim_kproj scim_kproj_t;
typedef void (*scim_kproj_verdict_cb)(void *ctx, const char *event_id,
                                      scim_verdict_t *v);

int scim_kproj_start(scim_store_t *st, const scim_kafka_config_t *cfg,
                     scim_kproj_verdict_cb cb, void *ctx, scim_kproj_t **out,
                     char *errstr, size_t errlen);
/* Waits until the views reflect every message that was in the topic when
 * called (high watermarks). Returns 0, or -1 with errstr on timeout. */
int scim_kproj_catch_up(scim_kproj_t *kp, int timeout_ms, char *errstr,
                        size_t errlen);
/* The number of data topic partitions the projector reads now (grows as
 * partitions are added). Any thread. */
int32_t scim_kproj_partitions(scim_kproj_t *kp);
/* Stops the thread and frees. NULL-safe. */
void scim_kproj_stop(scim_kproj_t *kp);

#endif
