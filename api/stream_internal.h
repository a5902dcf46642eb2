/*
 * stream_internal.h — the change stream API (GET /stream/v1/{tenant}) as
 * seen by http.c, and its position parser (shared with the fuzz target).
 * Not part of the public face. Contract: README "Change stream".
 */
#ifndef SCIM_STREAM_API_INTERNAL_H
#define SCIM_STREAM_API_INTERNAL_H

#include <microhttpd.h>
#include <stdint.h>

#include "projector/scim_projector.h"

/* Ceilings (README states them). */
#define SCIM_STREAM_MAX 64            /* concurrent streams per server */
#define SCIM_STREAM_MAX_TENANT 8      /* concurrent streams per tenant */
#define SCIM_STREAM_FILL_RECORDS 64   /* records read per refill */
#define SCIM_STREAM_FILL_BYTES 262144 /* buffered bytes per refill */
#define SCIM_STREAM_HEARTBEAT_MS 15000
#define SCIM_STREAM_WAIT_DEFAULT 30   /* long-poll seconds */
#define SCIM_STREAM_WAIT_MAX 55       /* below the 60 s connection timeout */
#define SCIM_STREAM_LIMIT_DEFAULT 1000 /* records per long-poll answer */
#define SCIM_STREAM_LIMIT_MAX 10000

/* The streams of one server: the waiters the fold wakes, the caps, and a
 * timer thread for heartbeats and long-poll deadlines. */
typedef struct scim_stream_hub scim_stream_hub_t;

/* Starts the hub over st (registers the store's fold watcher). NULL when
 * out of memory (streams are then answered 503). */
scim_stream_hub_t *scim_stream_hub_new(scim_store_t *st);
/* Where refused stream requests are recorded (api/audit.c); NULL-safe.
 * Set once, before the listener starts. */
struct scim_ingest;
void scim_stream_hub_set_ingest(scim_stream_hub_t *hub,
                                struct scim_ingest *ing);
/* Before MHD_stop_daemon: ends every stream (resuming the suspended ones)
 * and refuses new ones. NULL-safe. */
void scim_stream_hub_close(scim_stream_hub_t *hub);
/* After MHD_stop_daemon: frees. NULL-safe. */
void scim_stream_hub_free(scim_stream_hub_t *hub);

/* 1 if url is under /stream/ (http.c's hook). */
int scim_stream_match(const char *url);

/* Answers GET /stream/v1/{tenant}. Runs on an http pool thread; never
 * blocks it: the response is produced by a callback that suspends the
 * connection while there is nothing to send. */
enum MHD_Result scim_stream_handle(scim_stream_hub_t *hub,
                                   struct MHD_Connection *c, const char *url,
                                   const char *method, const char *raw_uri,
                                   const char *request_id);

/* A position parameter: decimal digits only, at most 20, no overflow.
 * Returns 0 or -1. */
int scim_stream_parse_pos(const char *s, uint64_t *out);

#endif
