/*
 * conn_guard_internal.h — connection accounting and shedding for the HTTP
 * daemon (api/conn_guard.c): header and keep-alive deadlines, the oldest
 * idle connections shed near the connection limit, and the count of busy
 * connections a clean shutdown waits for. Internal to api/.
 */
#ifndef SCIM_CONN_GUARD_INTERNAL_H
#define SCIM_CONN_GUARD_INTERNAL_H

#include <microhttpd.h>
#include <stdint.h>

typedef struct scim_conn_guard scim_conn_guard_t;

typedef struct scim_conn_guard_stats {
        uint64_t accepted;        /* connections accepted */
        uint64_t header_timeouts; /* closed: headers not complete in time */
        uint64_t idle_closed;     /* closed: keep-alive idle too long, or
                                     at shutdown */
        uint64_t shed;            /* closed: oldest idle, near the limit */
        uint64_t body_timeouts;   /* closed: body not complete in time */
        uint64_t send_timeouts;   /* closed: answer not taken in time */
        unsigned open, busy, limit;
} scim_conn_guard_stats_t;

/* Raises the soft RLIMIT_NOFILE to the hard limit and returns the soft
 * limit now in force. */
unsigned scim_conn_guard_fd_budget(void);

/* A guard for a daemon of at most `limit` connections; header_s: seconds
 * from accept until a request's headers must be complete; idle_s: seconds
 * a keep-alive connection may wait for its next request. Starts the guard
 * thread. NULL when out of memory. */
scim_conn_guard_t *scim_conn_guard_new(unsigned limit, unsigned header_s,
                                       unsigned idle_s);

/* Stops the thread and frees (after MHD_stop_daemon). NULL-safe. */
void scim_conn_guard_free(scim_conn_guard_t *g);

/* 1 when the calling libmicrohttpd pool thread serves at most one
 * connection (the caller's): it may then wait for a commit without
 * holding up another client (ingest's commit on the request's thread). */
int scim_conn_guard_thread_alone(void);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the guard. */
void scim_conn_guard_notify(void *cls, struct MHD_Connection *c,
                            void **socket_context,
                            enum MHD_ConnectionNotificationCode toe);

/* A request's headers are complete (busy until its answer is sent). */
void scim_conn_guard_busy(scim_conn_guard_t *g, struct MHD_Connection *c);

/* A request's body must be complete this long after its headers (a slow
 * body is closed like slow headers); a 1 MiB body needs 35 KB/s. */
#define SCIM_BODY_TIMEOUT_MS 30000

/* The request's body is complete (its deadline no longer applies). */
void scim_conn_guard_body_done(scim_conn_guard_t *g, struct MHD_Connection *c);

/* An answer must be taken by its peer this long after the guard first saw
 * bytes of it waiting in the socket (a slow reader is closed like a slow
 * body, and the bytes it has not taken are dropped with a reset); a 4 MiB
 * page needs ~170 KB/s. Below libmicrohttpd's 30 s inactivity timeout,
 * whose close would leave the unsent bytes to the kernel to trickle out. */
#define SCIM_SEND_TIMEOUT_MS 25000

/* The request is a change stream (endless by design; its memory is bounded
 * by the stream limits): the send deadline does not apply to it. */
void scim_conn_guard_streaming(scim_conn_guard_t *g, struct MHD_Connection *c);

/* Its answer was sent (or it ended): idle again, keep-alive deadline. */
void scim_conn_guard_idle(scim_conn_guard_t *g, struct MHD_Connection *c);

/* Requests in progress (received, worked on, suspended or answering). */
unsigned scim_conn_guard_busy_count(scim_conn_guard_t *g);

/* Closes every keep-alive connection waiting for its next request
 * (shutdown); new connections keep their chance to send theirs. */
void scim_conn_guard_close_idle(scim_conn_guard_t *g);

/* Connections with a request in progress or still to come: busy ones and
 * new ones whose first request has not arrived (nor timed out). */
unsigned scim_conn_guard_unsettled(scim_conn_guard_t *g);

void scim_conn_guard_stats(scim_conn_guard_t *g, scim_conn_guard_stats_t *out);

/* Request-line and header limits answered as SCIM errors. libmicrohttpd
 * answers its own HTML 414/431 only when a request does not fit the
 * connection's 16 KiB of memory; below that, scimlog refuses URLs over
 * SCIM_MAX_URI_BYTES and headers over SCIM_MAX_HEADER_BYTES (names and
 * values together) itself, with a SCIM error body. */
#define SCIM_MAX_URI_BYTES 8192
#define SCIM_MAX_HEADER_BYTES 8192

/* 0 when the request's URI and headers are within the limits, else 414
 * or 431 with detail (NUL-terminated) filled. Pool thread. */
int scim_conn_guard_oversize(struct MHD_Connection *c, const char *raw_uri,
                             char *detail, size_t detail_len);

/*
 * Answer bytes waiting to be sent, server-wide (api/conn_guard.c): a
 * response made here holds a copy of body that counts against the budget
 * until libmicrohttpd frees it, so slow readers cannot pin unbounded
 * memory. Bodies up to SCIM_RESP_SMALL always pass (errors can always be
 * sent), and so does any body when nothing else is waiting; a larger one
 * that would overrun the budget gets NULL, and the caller answers 503 with
 * Retry-After. NULL also when out of memory.
 */
#define SCIM_RESP_SMALL (64 * 1024)
#define SCIM_RESP_BUDGET_DEFAULT ((size_t)512 * 1024 * 1024)
struct MHD_Response *scim_resp_new(const void *body, size_t len);
void scim_resp_budget_set(size_t bytes);

/* The 503 SCIM error a caller sends when scim_resp_new refused its answer
 * (small, so it always fits); NULL only when out of memory. */
struct MHD_Response *scim_resp_busy(void);

/* Queues an answer of the reports and admin faces: body (through
 * scim_resp_new, so 503 when the budget is spent), Content-Type, no-store,
 * nosniff, X-Request-Id, one optional extra header, WWW-Authenticate on
 * 401, Retry-After on 429/503. */
enum MHD_Result scim_answer(struct MHD_Connection *c, unsigned status,
                            const char *ctype, const char *body, size_t len,
                            const char *request_id, const char *hname,
                            const char *hvalue);
size_t scim_resp_inflight(void);
/* The page byte cap a request should build to now: SCIM_MAX_PAGE_BYTES,
 * down to SCIM_RESP_SMALL as unsent answers fill the budget (a page then
 * holds fewer items and a next cursor rather than being built and
 * answered 503). */
size_t scim_resp_page_cap(void);

#endif /* SCIM_CONN_GUARD_INTERNAL_H */
