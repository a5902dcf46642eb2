/*
 * conn_guard.c — connection accounting for the HTTP daemon: idle and
 * slow-loris connections cannot take the server down.
 *
 * libmicrohttpd's own defences are one inactivity timeout for every phase
 * and a connection limit; a client that sends a header byte every few
 * seconds keeps a connection forever, and ~1,000 idle sockets used to fill
 * the default limit. The guard tracks every connection from accept to
 * close (MHD_OPTION_NOTIFY_CONNECTION) with its phase:
 *   IDLE  waiting for a request's headers (a new connection, or keep-alive
 *         between requests);
 *   BUSY  a request is being received, worked on (possibly suspended on a
 *         write) or answered.
 * A guard thread (woken every 100 ms, or at once when the daemon is near
 * its limit) closes IDLE connections older than their deadline (headers
 * must be complete within header_timeout of accept; keep-alive connections
 * may idle for idle_timeout), BUSY ones whose body is not complete
 * SCIM_BODY_TIMEOUT_MS after their headers (a body sent a byte every few
 * seconds kept a connection busy, so never shed, for ever), BUSY ones
 * whose answer is not sent SCIM_SEND_TIMEOUT_MS after the guard first saw
 * answer bytes the peer had not yet taken (SIOCOUTQ > 0: a client reading
 * ~60 bytes/s kept its connection and its answer's memory for hours, since
 * libmicrohttpd's timeout only measures inactivity and any byte read
 * resets it; change streams, endless by design, are exempt), and when more
 * than 90% of the limit is in
 * use it sheds the oldest IDLE connections down to 75%, so a flood of
 * connections — even from the address a good client uses — cannot keep a
 * request from being accepted. BUSY connections are never shed.
 *
 * Closing is shutdown(2) on the socket while the guard's lock is held:
 * libmicrohttpd reports a connection closed (which removes it here under
 * the same lock) before it closes the descriptor, so the descriptor is
 * still this connection's. The epoll loop then sees the hang-up and frees
 * the connection on its own thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/sockios.h>

#include "api/conn_guard_internal.h"
#include "schemas/scim_schemas.h"
#include "common/scim_common.h"

typedef struct gconn {
        struct gconn *prev, *next; /* oldest first */
        int fd;
        int busy;
        int receiving;  /* busy, and the request's body is still coming */
        int served;     /* a request has completed on it (keep-alive) */
        int streaming;  /* busy with a change stream: no send deadline */
        uint64_t sending; /* ms: first seen with unsent answer bytes, or 0 */
        int probed;     /* idle: looked for an answer not taken yet */
        uint64_t since; /* ms: accepted, went idle, or headers complete */
} gconn_t;

struct scim_conn_guard {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        pthread_t thread;
        int running;
        gconn_t *head, *tail;
        unsigned n, busy;
        unsigned limit;
        uint64_t header_ms, idle_ms;
        scim_conn_guard_stats_t stats;
};

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void unlink_conn(scim_conn_guard_t *g, gconn_t *x)
{
        if (x->prev)
                x->prev->next = x->next;
        else
                g->head = x->next;
        if (x->next)
                x->next->prev = x->prev;
        else
                g->tail = x->prev;
        x->prev = x->next = NULL;
}

static void append_conn(scim_conn_guard_t *g, gconn_t *x)
{
        x->prev = g->tail;
        x->next = NULL;
        if (g->tail)
                g->tail->next = x;
        else
                g->head = x;
        g->tail = x;
}

/* Bytes written to x's socket that its peer has not taken yet. */
static int unsent(const gconn_t *x)
{
        int n = 0;

        return ioctl(x->fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

/* Closes x's socket for both directions (lock held); counted once. On a
 * send timeout the bytes its peer has not taken are dropped (SO_LINGER 0:
 * libmicrohttpd's close resets the connection), not left to the kernel to
 * trickle out to the slow reader. */
static void shed(scim_conn_guard_t *g, gconn_t *x, uint64_t *counter)
{
        if (x->fd < 0)
                return;
        if (counter == &g->stats.send_timeouts) {
                struct linger l = {1, 0};

                setsockopt(x->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        shutdown(x->fd, SHUT_RDWR);
        x->fd = -1; /* stays listed until libmicrohttpd reports it closed */
        (*counter)++;
}

/* A busy connection whose answer is being sent: closed when it is not
 * sent SCIM_SEND_TIMEOUT_MS after unsent bytes were first seen in its
 * socket (the answer waits for the peer, not for the server). Lock held. */
static void send_deadline(scim_conn_guard_t *g, gconn_t *x, uint64_t now)
{
        if (!x->sending && unsent(x) > 0)
                x->sending = now;
        if (x->sending && now >= x->sending + SCIM_SEND_TIMEOUT_MS)
                shed(g, x, &g->stats.send_timeouts);
}

/* One pass: deadlines, then load shedding. Lock held. */
static void sweep(scim_conn_guard_t *g, uint64_t now)
{
        unsigned high = g->limit - g->limit / 10, low = g->limit - g->limit / 4;
        unsigned open = 0;

        for (gconn_t *x = g->head; x; x = x->next) {
                uint64_t deadline;

                if (x->busy && x->receiving && x->fd >= 0 &&
                    now >= x->since + SCIM_BODY_TIMEOUT_MS)
                        shed(g, x, &g->stats.body_timeouts);
                if (x->busy && !x->receiving && !x->streaming && x->fd >= 0)
                        send_deadline(g, x, now);
                if (x->busy || x->fd < 0)
                        continue;
                /* an answer that went whole into the socket and is still
                 * not taken SCIM_SEND_TIMEOUT_MS after: a slow reader too
                 * (looked at once per idle spell) */
                if (x->served && !x->probed &&
                    now >= x->since + SCIM_SEND_TIMEOUT_MS) {
                        x->probed = 1;
                        if (unsent(x) > 0) {
                                shed(g, x, &g->stats.send_timeouts);
                                continue;
                        }
                }
                deadline = x->since + (x->served ? g->idle_ms : g->header_ms);
                if (now >= deadline)
                        shed(g, x,
                             x->served ? &g->stats.idle_closed
                                       : &g->stats.header_timeouts);
        }
        for (gconn_t *x = g->head; x; x = x->next)
                open += x->fd >= 0;
        if (open <= high)
                return;
        for (gconn_t *x = g->head; x && open > low; x = x->next)
                if (!x->busy && x->fd >= 0) {
                        shed(g, x, &g->stats.shed);
                        open--;
                }
}

static void *guard_main(void *arg)
{
        scim_conn_guard_t *g = arg;

        pthread_mutex_lock(&g->mu);
        while (g->running) {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 100 * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&g->cv, &g->mu, &ts);
                if (g->running)
                        sweep(g, now_ms());
        }
        pthread_mutex_unlock(&g->mu);
        return NULL;
}

unsigned scim_conn_guard_fd_budget(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
                return 1024;
        if (rl.rlim_cur < rl.rlim_max) {
                rlim_t want =
                    rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;

                rl.rlim_cur = want;
                if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                        getrlimit(RLIMIT_NOFILE, &rl);
        }
        return rl.rlim_cur > 1u << 30 ? 1u << 30 : (unsigned)rl.rlim_cur;
}

scim_conn_guard_t *scim_conn_guard_new(unsigned limit, unsigned header_s,
                                       unsigned idle_s)
{
        scim_conn_guard_t *g = calloc(1, sizeof(*g));

        if (!g)
                return NULL;
        g->limit = limit < 16 ? 16 : limit;
        g->header_ms = (uint64_t)(header_s ? header_s : 1) * 1000u;
        g->idle_ms = (uint64_t)(idle_s ? idle_s : 1) * 1000u;
        pthread_mutex_init(&g->mu, NULL);
        pthread_cond_init(&g->cv, NULL);
        g->running = 1;
        if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
                pthread_cond_destroy(&g->cv);
                pthread_mutex_destroy(&g->mu);
                free(g);
                return NULL;
        }
        return g;
}

void scim_conn_guard_free(scim_conn_guard_t *g)
{
        if (!g)
                return;
        pthread_mutex_lock(&g->mu);
        g->running = 0;
        pthread_cond_signal(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
        while (g->head) {
                gconn_t *x = g->head;

                unlink_conn(g, x);
                free(x);
        }
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
}

/* Connections of the calling pool thread: libmicrohttpd's thread pool
 * accepts, serves and closes a connection on one worker thread, which
 * runs both notifications. */
static __thread unsigned tl_conns;

int scim_conn_guard_thread_alone(void)
{
        return tl_conns <= 1;
}

void scim_conn_guard_notify(void *cls, struct MHD_Connection *c,
                            void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
        scim_conn_guard_t *g = cls;
        gconn_t *x;

        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                    c, MHD_CONNECTION_INFO_CONNECTION_FD);

                x = calloc(1, sizeof(*x));
                *socket_context = x;
                tl_conns++;
                if (!x)
                        return;
                x->fd = ci ? ci->connect_fd : -1;
                x->since = now_ms();
                pthread_mutex_lock(&g->mu);
                append_conn(g, x);
                g->n++;
                g->stats.accepted++;
                if (g->n > g->limit - g->limit / 10)
                        pthread_cond_signal(&g->cv); /* shed now */
                pthread_mutex_unlock(&g->mu);
                return;
        }
        if (tl_conns) /* MHD_CONNECTION_NOTIFY_CLOSED */
                tl_conns--;
        x = *socket_context;
        if (!x)
                return;
        pthread_mutex_lock(&g->mu);
        unlink_conn(g, x);
        g->n--;
        if (x->busy)
                g->busy--;
        pthread_mutex_unlock(&g->mu);
        free(x);
        *socket_context = NULL;
}

static gconn_t *conn_of(struct MHD_Connection *c)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return ci ? ci->socket_context : NULL;
}

void scim_conn_guard_busy(scim_conn_guard_t *g, struct MHD_Connection *c)
{
        gconn_t *x = conn_of(c);

        if (!x)
                return;
        pthread_mutex_lock(&g->mu);
        if (!x->busy) {
                x->busy = 1;
                x->receiving = 1;
                x->since = now_ms();
                g->busy++;
        }
        pthread_mutex_unlock(&g->mu);
}

void scim_conn_guard_body_done(scim_conn_guard_t *g, struct MHD_Connection *c)
{
        gconn_t *x = conn_of(c);

        if (!x)
                return;
        pthread_mutex_lock(&g->mu);
        x->receiving = 0;
        pthread_mutex_unlock(&g->mu);
}

void scim_conn_guard_idle(scim_conn_guard_t *g, struct MHD_Connection *c)
{
        gconn_t *x = conn_of(c);

        if (!x)
                return;
        pthread_mutex_lock(&g->mu);
        if (x->busy) {
                x->busy = 0;
                g->busy--;
        }
        x->receiving = 0;
        x->streaming = 0;
        x->sending = 0;
        x->probed = 0;
        x->served = 1;
        x->since = now_ms();
        unlink_conn(g, x); /* the youngest idle connection now */
        append_conn(g, x);
        pthread_mutex_unlock(&g->mu);
}

void scim_conn_guard_streaming(scim_conn_guard_t *g, struct MHD_Connection *c)
{
        gconn_t *x = conn_of(c);

        if (!x)
                return;
        pthread_mutex_lock(&g->mu);
        x->streaming = 1;
        pthread_mutex_unlock(&g->mu);
}

unsigned scim_conn_guard_busy_count(scim_conn_guard_t *g)
{
        unsigned n;

        pthread_mutex_lock(&g->mu);
        n = g->busy;
        pthread_mutex_unlock(&g->mu);
        return n;
}

void scim_conn_guard_close_idle(scim_conn_guard_t *g)
{
        pthread_mutex_lock(&g->mu);
        for (gconn_t *x = g->head; x; x = x->next)
                if (!x->busy && x->served)
                        shed(g, x, &g->stats.idle_closed);
        pthread_mutex_unlock(&g->mu);
}

unsigned scim_conn_guard_unsettled(scim_conn_guard_t *g)
{
        unsigned n = 0;

        pthread_mutex_lock(&g->mu);
        for (gconn_t *x = g->head; x; x = x->next)
                n += x->fd >= 0 && (x->busy || !x->served);
        pthread_mutex_unlock(&g->mu);
        return n;
}

void scim_conn_guard_stats(scim_conn_guard_t *g, scim_conn_guard_stats_t *out)
{
        pthread_mutex_lock(&g->mu);
        *out = g->stats;
        out->open = g->n;
        out->busy = g->busy;
        out->limit = g->limit;
        pthread_mutex_unlock(&g->mu);
}

/* ------------------------------------------------------- answer budget */

static size_t g_resp_budget = SCIM_RESP_BUDGET_DEFAULT;
static size_t g_resp_inflight; /* atomic */

static void resp_free(void *cls)
{
        size_t *blk = cls;

        __atomic_fetch_sub(&g_resp_inflight, blk[0], __ATOMIC_RELAXED);
        free(blk);
}

struct MHD_Response *scim_resp_new(const void *body, size_t len)
{
        size_t *blk, now;
        struct MHD_Response *resp;

        now = __atomic_add_fetch(&g_resp_inflight, len, __ATOMIC_RELAXED);
        /* one answer may always go when nothing else waits (a page may
         * be larger than a small budget) */
        if (len > SCIM_RESP_SMALL && now > g_resp_budget && now > len) {
                __atomic_fetch_sub(&g_resp_inflight, len, __ATOMIC_RELAXED);
                return NULL;
        }
        blk = malloc(sizeof(size_t) + (len ? len : 1));
        if (!blk) {
                __atomic_fetch_sub(&g_resp_inflight, len, __ATOMIC_RELAXED);
                return NULL;
        }
        blk[0] = len;
        if (len)
                memcpy(blk + 1, body, len);
        resp = MHD_create_response_from_buffer_with_free_callback_cls(
            len, blk + 1, resp_free, blk);
        if (!resp)
                resp_free(blk);
        return resp;
}

struct MHD_Response *scim_resp_busy(void)
{
        static const char busy[] =
            "{\"schemas\":[\"" SCIM_URN_ERROR "\"],\"status\":\"503\","
            "\"detail\":\"the server is holding too many unsent answers; "
            "retry\"}";

        return scim_resp_new(busy, sizeof(busy) - 1); /* small: always fits */
}

void scim_resp_budget_set(size_t bytes)
{
        g_resp_budget = bytes ? bytes : SCIM_RESP_BUDGET_DEFAULT;
}

size_t scim_resp_page_cap(void)
{
        size_t used = __atomic_load_n(&g_resp_inflight, __ATOMIC_RELAXED);
        size_t room = g_resp_budget > used ? g_resp_budget - used : 0;

        /* half the room left, so a few pages built at once still fit */
        room /= 2;
        if (room < SCIM_RESP_SMALL)
                room = SCIM_RESP_SMALL;
        return room < SCIM_MAX_PAGE_BYTES ? room : SCIM_MAX_PAGE_BYTES;
}

size_t scim_resp_inflight(void)
{
        return __atomic_load_n(&g_resp_inflight, __ATOMIC_RELAXED);
}

/* ------------------------------------------------- request-line limits */

static enum MHD_Result add_header_bytes(void *cls, enum MHD_ValueKind kind,
                                        const char *key, const char *value)
{
        size_t *n = cls;

        (void)kind;
        *n += (key ? strlen(key) : 0) + (value ? strlen(value) : 0) + 4;
        return MHD_YES;
}

int scim_conn_guard_oversize(struct MHD_Connection *c, const char *raw_uri,
                             char *detail, size_t detail_len)
{
        size_t n = raw_uri ? strlen(raw_uri) : 0;

        if (n > SCIM_MAX_URI_BYTES) {
                snprintf(detail, detail_len,
                         "the URL is %zu bytes, over the limit of %d; send "
                         "a long filter with POST .search",
                         n, SCIM_MAX_URI_BYTES);
                return 414;
        }
        n = 0;
        MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_bytes, &n);
        if (n > SCIM_MAX_HEADER_BYTES) {
                snprintf(detail, detail_len,
                         "the request headers are %zu bytes, over the limit "
                         "of %d",
                         n, SCIM_MAX_HEADER_BYTES);
                return 431;
        }
        return 0;
}

enum MHD_Result scim_answer(struct MHD_Connection *c, unsigned status,
                            const char *ctype, const char *body, size_t len,
                            const char *request_id, const char *hname,
                            const char *hvalue)
{
        struct MHD_Response *resp = scim_resp_new(body, len);
        enum MHD_Result rc;

        if (!resp) { /* answer-byte budget spent by slow readers */
                status = 503;
                ctype = "application/scim+json; charset=utf-8";
                hname = NULL;
                if (!(resp = scim_resp_busy()))
                        return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", ctype);
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        if (request_id && *request_id)
                MHD_add_response_header(resp, "X-Request-Id", request_id);
        if (hname && hvalue && *hvalue)
                MHD_add_response_header(resp, hname, hvalue);
        if (status == 401)
                MHD_add_response_header(resp, "WWW-Authenticate",
                                        "Bearer realm=\"scimlog\"");
        if (status == 503 || status == 429)
                MHD_add_response_header(resp, "Retry-After", "1");
        rc = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return rc;
}
