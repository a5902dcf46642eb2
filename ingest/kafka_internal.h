/*
 * kafka_internal.h — between the ingest pipeline (ingest.c) and its Kafka
 * log (kafka_log.c). Not part of the public face.
 */
#ifndef SCIM_KAFKA_INTERNAL_H
#define SCIM_KAFKA_INTERNAL_H

#include "ingest/scim_ingest.h"

/* Called exactly once per submitted event: with the fold's verdict (v, err
 * NULL; the callee may take v->resource, the caller clears v) on the
 * projector thread, or with a retriable error (v NULL) when the log did not
 * take the event or gave no verdict in time (producer poll thread). */
typedef void (*scim_kafka_done_cb)(void *ctx, scim_verdict_t *v,
                                   const scim_err_t *err);

/*
 * Produces one encoded event (enc borrowed; librdkafka copies it). Returns
 * 0 when produced (cb will be called), or -1 with err (429 when the
 * producer queue is full, 503 otherwise; cb is never called). Never blocks.
 * Runs on the ingest committer thread or the projector thread (retries).
 */
int scim_kafka_submit(scim_kafka_t *k, const scim_event_t *ev,
                      const scim_buf_t *enc, scim_kafka_done_cb cb, void *ctx,
                      scim_err_t *err);

#endif
