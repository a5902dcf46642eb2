/*
 * stream.c — the change stream API: GET /stream/v1/{tenant}?after=POSITION
 * sends the tenant's change stream records (projector/stream.c) with
 * positions after POSITION, in apply order, as JSON lines (one record per
 * line; a long poll: the answer ends once it has sent something and caught
 * up, or after `wait` seconds with nothing new) or, with
 * `Accept: text/event-stream`, as Server-Sent Events (`id:` = position, so
 * a browser's EventSource resumes with Last-Event-ID; endless, with a
 * comment line every 15 s).
 *
 * No thread ever waits for data: the response comes from a content reader
 * callback (libmicrohttpd pool thread) that fills a bounded buffer from
 * the store; when there is nothing to send it suspends the connection and
 * parks the stream on the hub. The fold wakes the hub after every durable
 * batch (scim_store_watch, writer thread), which resumes every parked
 * stream; a timer thread resumes streams whose heartbeat or long-poll
 * deadline is due. A wake is never lost: the callback reads the hub's
 * generation before it reads the store, suspends, and resumes itself at
 * once if the generation moved meanwhile.
 *
 * Threads and locks: hub->mu guards the stream lists, the counters,
 * closing and gen; libmicrohttpd is never called under it (suspend and
 * resume happen outside, and a parked stream cannot be freed because its
 * connection is suspended). One stream is only touched by the pool thread
 * running its callback, or by the thread that took it off the park list.
 *
 * Trade-off: a fold wakes every parked stream, also those of other
 * tenants, which then read nothing and park again: a seek per stream per
 * batch, bounded by SCIM_STREAM_MAX; per-tenant wake lists would need the
 * fold to report its tenants.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "api/audit_internal.h"
#include "api/http_internal.h"
#include "api/stream_internal.h"

typedef struct stream {
        struct stream *next;      /* hub->all */
        struct stream *next_park; /* hub->parked */
        scim_stream_hub_t *hub;
        struct MHD_Connection *conn;
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        uint64_t pos;     /* last position put in out */
        int sse;
        size_t limit;     /* JSON lines: records per answer */
        size_t sent;      /* records put in out so far */
        int64_t deadline; /* JSON lines: answer ends (empty) at this time */
        int64_t next_beat; /* SSE: next comment line */
        int parked;       /* under hub->mu */
        scim_buf_t out;   /* bytes not yet handed to libmicrohttpd */
        size_t off;
        char *secret;     /* the bearer secret, checked again before every
                             read of records (owned; wiped when freed) */
        int fd;           /* the connection's socket (-1: unknown), for the
                             timer's check of parked streams' peers */
} stream_t;

struct scim_stream_hub {
        scim_store_t *st;
        scim_ingest_t *ing; /* refusal records (api/audit.c); may be NULL */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        uint64_t gen; /* bumped by every fold batch */
        stream_t *all, *parked;
        size_t n;
        int closing;
        int timer_started;
        pthread_t timer;
};

/* ---------------------------------------------------------- the hub */

/* 1 when the peer of a parked stream has closed its end (plain TCP; the
 * socket stays open while the connection is suspended, so fd is still
 * its own). Over TLS a close_notify is data: found at the next wake. */
static int parked_peer_gone(const stream_t *s)
{
        char b;
        ssize_t n;

        if (s->fd < 0)
                return 0;
        n = recv(s->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                          errno != EINTR);
}

/* Takes the parked streams matching due (all when due < 0) off the park
 * list, and with peers set also those whose client has gone (its slot is
 * freed now, not at its heartbeat, deadline or the next fold: 8 streams
 * of a tenant whose consumer restarted kept it out for up to 55 s). Needs
 * hub->mu. The caller resumes them after unlocking. */
static stream_t *unpark_locked(scim_stream_hub_t *hub, int64_t due, int peers)
{
        stream_t **pp = &hub->parked, *out = NULL;

        while (*pp) {
                stream_t *s = *pp;

                if (due < 0 || (s->sse ? s->next_beat : s->deadline) <= due ||
                    (peers && parked_peer_gone(s))) {
                        *pp = s->next_park;
                        s->parked = 0;
                        s->next_park = out;
                        out = s;
                } else {
                        pp = &s->next_park;
                }
        }
        return out;
}

static void resume_list(stream_t *s)
{
        while (s) {
                stream_t *next = s->next_park;

                s->next_park = NULL;
                MHD_resume_connection(s->conn);
                s = next;
        }
}

/* Fold watcher (writer thread): new records may be there for anyone. */
static void on_folded(void *ctx)
{
        scim_stream_hub_t *hub = ctx;
        stream_t *wake;

        pthread_mutex_lock(&hub->mu);
        hub->gen++;
        wake = unpark_locked(hub, -1, 0);
        pthread_mutex_unlock(&hub->mu);
        resume_list(wake);
}

/* Timer thread: heartbeats and long-poll deadlines. */
static void *timer_main(void *arg)
{
        scim_stream_hub_t *hub = arg;

        pthread_mutex_lock(&hub->mu);
        while (!hub->closing) {
                struct timespec ts;
                stream_t *due;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 250 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&hub->cv, &hub->mu, &ts);
                if (hub->closing)
                        break;
                due = unpark_locked(hub, scim_now_ms(), 1);
                if (due) {
                        pthread_mutex_unlock(&hub->mu);
                        resume_list(due);
                        pthread_mutex_lock(&hub->mu);
                }
        }
        pthread_mutex_unlock(&hub->mu);
        return NULL;
}

scim_stream_hub_t *scim_stream_hub_new(scim_store_t *st)
{
        scim_stream_hub_t *hub = calloc(1, sizeof(*hub));

        if (!hub)
                return NULL;
        hub->st = st;
        pthread_mutex_init(&hub->mu, NULL);
        pthread_cond_init(&hub->cv, NULL);
        if (pthread_create(&hub->timer, NULL, timer_main, hub) != 0) {
                pthread_mutex_destroy(&hub->mu);
                pthread_cond_destroy(&hub->cv);
                free(hub);
                return NULL;
        }
        hub->timer_started = 1;
        if (scim_store_watch(st, on_folded, hub) < 0) {
                scim_stream_hub_free(hub);
                return NULL;
        }
        return hub;
}

void scim_stream_hub_close(scim_stream_hub_t *hub)
{
        stream_t *wake;

        if (!hub)
                return;
        scim_store_unwatch(hub->st, on_folded, hub);
        pthread_mutex_lock(&hub->mu);
        hub->closing = 1;
        wake = unpark_locked(hub, -1, 0);
        pthread_cond_broadcast(&hub->cv);
        pthread_mutex_unlock(&hub->mu);
        resume_list(wake);
        if (hub->timer_started)
                pthread_join(hub->timer, NULL);
        hub->timer_started = 0;
}

void scim_stream_hub_free(scim_stream_hub_t *hub)
{
        if (!hub)
                return;
        scim_stream_hub_close(hub);
        pthread_mutex_destroy(&hub->mu);
        pthread_cond_destroy(&hub->cv);
        free(hub);
}

/* ------------------------------------------------------- one stream */

static int add_record(void *ctx, uint64_t pos, const char *json, size_t len)
{
        stream_t *s = ctx;
        char num[32];

        if (s->sse) {
                snprintf(num, sizeof(num), "%llu", (unsigned long long)pos);
                scim_buf_puts(&s->out, "id: ");
                scim_buf_puts(&s->out, num);
                scim_buf_puts(&s->out, "\nevent: change\ndata: ");
                scim_buf_append(&s->out, json, len);
                scim_buf_puts(&s->out, "\n\n");
        } else {
                scim_buf_append(&s->out, json, len);
                scim_buf_puts(&s->out, "\n");
        }
        s->pos = pos;
        s->sent++;
        return 0;
}

/* 1 while the stream's token still opens it: not revoked or rotated
 * out, its tenant neither disabled nor deleted (nor a new tenant of the
 * same name), its scope not reports-only. Checked before every read of
 * records, so an open stream sends nothing its token could no longer ask
 * for (the auth cache is dropped by every folded token event). */
static int still_allowed(stream_t *s)
{
        char t[SCIM_MAX_TENANT_LEN + 8], tid[64];
        int scope = SCIM_SCOPE_ALL;

        return scim_store_auth_scope(s->hub->st, s->secret, t, sizeof(t), tid,
                                     sizeof(tid), &scope) &&
               !strcmp(t, s->tenant) && scope != SCIM_SCOPE_DISABLED &&
               scope != SCIM_SCOPE_REPORTS;
}

/* Reads the next records into s->out. Returns how many, or -1 (also when
 * the token no longer opens the stream). */
static long refill(stream_t *s)
{
        size_t max = SCIM_STREAM_FILL_RECORDS;
        scim_err_t err;

        if (!still_allowed(s))
                return -1;

        if (!s->sse) {
                if (s->sent >= s->limit)
                        return 0;
                if (s->limit - s->sent < max)
                        max = s->limit - s->sent;
        }
        scim_err_clear(&err);
        s->out.len = 0;
        s->off = 0;
        return scim_store_stream_read(s->hub->st, s->tenant, s->pos, max,
                                      SCIM_STREAM_FILL_BYTES, add_record, s,
                                      &err);
}

/* Takes s off the hub's lists (its slot is free again) and returns ret:
 * the stream has ended, though libmicrohttpd may keep the response (and
 * s) until the connection's next request. */
static ssize_t finish(stream_t *s, ssize_t ret)
{
        scim_stream_hub_t *hub = s->hub;
        stream_t **pp;

        pthread_mutex_lock(&hub->mu);
        for (pp = &hub->all; *pp; pp = &(*pp)->next)
                if (*pp == s) {
                        *pp = s->next;
                        hub->n--;
                        break;
                }
        pthread_mutex_unlock(&hub->mu);
        return ret;
}

/* 1 when the client closed its end: a suspended connection is not
 * watched by libmicrohttpd, so a stream checks before it parks (plain
 * TCP; over TLS the next heartbeat finds out). */
static int peer_gone(struct MHD_Connection *c)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        char b;
        ssize_t n;

        if (!ci)
                return 0;
        n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                          errno != EINTR);
}

/* libmicrohttpd's content reader (pool thread of s's connection). */
static ssize_t reader(void *cls, uint64_t at, char *buf, size_t max)
{
        stream_t *s = cls;
        scim_stream_hub_t *hub = s->hub;

        for (;;) {
                uint64_t gen;
                long got;
                int64_t now;
                int moved;

                if (s->off < s->out.len) {
                        size_t n = s->out.len - s->off;

                        if (n > max)
                                n = max;
                        memcpy(buf, s->out.data + s->off, n);
                        s->off += n;
                        return (ssize_t)n;
                }
                gen = __atomic_load_n(&hub->gen, __ATOMIC_ACQUIRE);
                if (__atomic_load_n(&hub->closing, __ATOMIC_ACQUIRE))
                        return finish(s, MHD_CONTENT_READER_END_OF_STREAM);
                got = refill(s);
                if (got < 0)
                        return finish(s, MHD_CONTENT_READER_END_WITH_ERROR);
                if (got > 0)
                        continue;
                now = scim_now_ms();
                if (!s->sse) {
                        /* long poll: done once something was sent and
                         * we are caught up, or at the deadline */
                        if (s->sent > 0 || now >= s->deadline)
                                return finish(
                                    s, MHD_CONTENT_READER_END_OF_STREAM);
                } else if (now >= s->next_beat) {
                        scim_buf_puts(&s->out, ": keep-alive\n\n");
                        s->next_beat = now + SCIM_STREAM_HEARTBEAT_MS;
                        continue;
                }
                /* nothing to send: park until a fold or the timer */
                if (peer_gone(s->conn))
                        return finish(s, MHD_CONTENT_READER_END_WITH_ERROR);
                MHD_suspend_connection(s->conn);
                pthread_mutex_lock(&hub->mu);
                moved = hub->gen != gen || hub->closing;
                if (!moved) {
                        s->parked = 1;
                        s->next_park = hub->parked;
                        hub->parked = s;
                }
                pthread_mutex_unlock(&hub->mu);
                if (moved)
                        MHD_resume_connection(s->conn);
                return 0;
        }
}

/* Response freed (connection done): drop the stream. */
static void stream_free(void *cls)
{
        stream_t *s = cls;
        scim_stream_hub_t *hub = s->hub;
        stream_t **pp;

        finish(s, 0);
        pthread_mutex_lock(&hub->mu);
        for (pp = &hub->parked; *pp; pp = &(*pp)->next_park)
                if (*pp == s) {
                        *pp = s->next_park;
                        break;
                }
        pthread_mutex_unlock(&hub->mu);
        scim_buf_free(&s->out);
        if (s->secret)
                explicit_bzero(s->secret, strlen(s->secret));
        free(s->secret);
        free(s);
}

/* ------------------------------------------------------- the request */

int scim_stream_match(const char *url)
{
        return !strncmp(url, "/stream/", 8) || !strcmp(url, "/stream");
}

int scim_stream_parse_pos(const char *s, uint64_t *out)
{
        uint64_t v = 0;
        size_t n = 0;

        if (!s || !*s)
                return -1;
        for (; s[n]; n++) {
                unsigned d;

                if (s[n] < '0' || s[n] > '9' || n >= 20)
                        return -1;
                d = (unsigned)(s[n] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -1;
                v = v * 10 + d;
        }
        *out = v;
        return 0;
}

static enum MHD_Result send_err(struct MHD_Connection *c, const scim_err_t *e,
                                const char *request_id)
{
        char *body = scim_error_body(e);
        struct MHD_Response *resp;
        enum MHD_Result rc;

        resp = MHD_create_response_from_buffer(body ? strlen(body) : 0,
                                               body ? body : (char *)"",
                                               MHD_RESPMEM_MUST_COPY);
        free(body);
        MHD_add_response_header(resp, "Content-Type", "application/scim+json");
        if (request_id && *request_id)
                MHD_add_response_header(resp, "X-Request-Id", request_id);
        if (e->status == 429 || e->status == 503)
                MHD_add_response_header(resp, "Retry-After", "1");
        if (e->status == 401)
                MHD_add_response_header(resp, "WWW-Authenticate",
                                        "Bearer realm=\"scimlog\"");
        rc = MHD_queue_response(c, (unsigned)e->status, resp);
        MHD_destroy_response(resp);
        return rc;
}

/* A parameter as a bounded unsigned number. */
static int param_num(json_t *q, const char *name, long lo, long hi, long dflt,
                     long *out, scim_err_t *err)
{
        const char *v = json_string_value(json_object_get(q, name));
        uint64_t x;

        if (!v) {
                *out = dflt;
                return 0;
        }
        if (scim_stream_parse_pos(v, &x) < 0 || x < (uint64_t)lo ||
            x > (uint64_t)hi)
                return scim_err_set(err, 400, "invalidValue",
                                    "%s must be a number from %ld to %ld",
                                    name, lo, hi);
        *out = (long)x;
        return 0;
}

void scim_stream_hub_set_ingest(scim_stream_hub_t *hub, scim_ingest_t *ing)
{
        if (hub)
                hub->ing = ing;
}

/* A refused stream request, recorded in the tenant's change records when
 * the tenant is known (api/audit.c), then answered. */
static enum MHD_Result refuse(scim_stream_hub_t *hub, struct MHD_Connection *c,
                              const char *tenant, size_t tlen,
                              const char *actor, const char *secret,
                              const char *request_id, const scim_err_t *e)
{
        char t[SCIM_MAX_TENANT_LEN + 1];

        if (hub && hub->ing && tlen <= SCIM_MAX_TENANT_LEN) {
                memcpy(t, tenant, tlen);
                t[tlen] = '\0';
                if (secret)
                        scim_audit_bad_token(hub->ing, hub->st, t, secret,
                                             request_id, "ACCESS", e);
                else
                        scim_audit_refusal(hub->ing, hub->st, t, actor,
                                           request_id, "ACCESS", e);
        }
        return send_err(c, e, request_id);
}

enum MHD_Result scim_stream_handle(scim_stream_hub_t *hub,
                                   struct MHD_Connection *c, const char *url,
                                   const char *method, const char *raw_uri,
                                   const char *request_id)
{
        const char *tenant, *auth, *accept, *last_id, *raw_q;
        char tok_tenant[SCIM_MAX_TENANT_LEN + 8], tid[64];
        int reports_only = 0, per_tenant = 0;
        size_t tlen;
        json_t *q = NULL;
        scim_err_t e;
        stream_t *s = NULL;
        struct MHD_Response *resp;
        enum MHD_Result rc;
        long wait_s = 0, limit = 0;
        uint64_t after = 0;

        scim_err_clear(&e);
        if (strncmp(url, "/stream/v1/", 11) != 0) {
                scim_err_set(&e, 404, NULL,
                             "no such endpoint; the change stream is "
                             "/stream/v1/{tenant}");
                goto fail;
        }
        tenant = url + 11;
        tlen = strcspn(tenant, "/");
        if (tlen == 0 || tlen > SCIM_MAX_TENANT_LEN ||
            (tenant[tlen] && strcmp(tenant + tlen, "/"))) {
                scim_err_set(&e, 404, NULL,
                             "no such endpoint; the change stream is "
                             "/stream/v1/{tenant}");
                goto fail;
        }
        if (strcmp(method, "GET") != 0) {
                scim_err_set(&e, 405, NULL, "the change stream takes GET");
                goto fail;
        }
        if (!hub) {
                scim_err_set_retry(&e, 503, "the change stream is not running");
                goto fail;
        }
        auth = scim_http_bearer(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
        if (!auth) {
                scim_err_set(&e, 401, NULL,
                             "missing bearer token (Authorization: Bearer "
                             "<secret>)");
                return refuse(hub, c, tenant, tlen, "anonymous", NULL,
                              request_id, &e);
        }
        {
                int scope = SCIM_SCOPE_ALL;

                if (!scim_store_auth_scope(hub->st, auth, tok_tenant,
                                           sizeof(tok_tenant), tid, sizeof(tid),
                                           &scope) ||
                    strlen(tok_tenant) != tlen ||
                    memcmp(tok_tenant, tenant, tlen)) {
                        scim_err_set(&e, 401, NULL,
                                     "the bearer token is not valid for "
                                     "this tenant");
                        return refuse(hub, c, tenant, tlen, NULL, auth,
                                      request_id, &e);
                }
                if (scope == SCIM_SCOPE_DISABLED) {
                        scim_err_set(&e, 403, NULL,
                                     "tenant '%.64s' is disabled; its data "
                                     "is kept, and an operator can enable "
                                     "it again",
                                     tok_tenant);
                        return refuse(hub, c, tenant, tlen, tid, NULL,
                                      request_id, &e);
                }
                reports_only = scope == SCIM_SCOPE_REPORTS;
        }
        if (reports_only) {
                scim_err_set(&e, 403, NULL,
                             "this token may only read /reports/v1/");
                return refuse(hub, c, tenant, tlen, tid, NULL, request_id, &e);
        }
        raw_q = raw_uri ? strchr(raw_uri, '?') : NULL;
        if (scim_query_parse(raw_q ? raw_q + 1 : "", &q, &e) < 0)
                goto fail;
        if (json_object_get(q, "after") &&
            scim_stream_parse_pos(
                json_string_value(json_object_get(q, "after")), &after) < 0) {
                scim_err_set(&e, 400, "invalidValue",
                             "after must be a position (a decimal number)");
                goto fail;
        }
        last_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                              "Last-Event-ID");
        if (last_id && *last_id &&
            scim_stream_parse_pos(last_id, &after) < 0) {
                scim_err_set(&e, 400, "invalidValue",
                             "Last-Event-ID must be a position");
                goto fail;
        }
        { /* records pruned by the tenant's retention cannot be sent */
                scim_changes_horizon_t h;
                char tenant_z[SCIM_MAX_TENANT_LEN + 1];

                snprintf(tenant_z, sizeof(tenant_z), "%.*s", (int)tlen,
                         tenant);
                scim_changes_horizon(hub->st, tenant_z, &h);
                if (h.through_seq && after < h.through_seq) {
                        char ts[32];

                        scim_time_format(h.through_ms, ts);
                        scim_err_set(&e, 410, NULL,
                                     "positions up to %llu are past this "
                                     "tenant's retention (records kept from "
                                     "%s): resume with after=%llu or later, "
                                     "and take the state before it from "
                                     "GET /Users and /Groups",
                                     (unsigned long long)h.through_seq, ts,
                                     (unsigned long long)h.through_seq);
                        goto fail;
                }
        }
        if (param_num(q, "wait", 0, SCIM_STREAM_WAIT_MAX,
                      SCIM_STREAM_WAIT_DEFAULT, &wait_s, &e) < 0 ||
            param_num(q, "limit", 1, SCIM_STREAM_LIMIT_MAX,
                      SCIM_STREAM_LIMIT_DEFAULT, &limit, &e) < 0)
                goto fail;
        accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        s = calloc(1, sizeof(*s));
        if (!s) {
                scim_err_set_retry(&e, 503, "out of memory");
                goto fail;
        }
        s->hub = hub;
        s->conn = c;
        {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
                    c, MHD_CONNECTION_INFO_CONNECTION_FD);

                s->fd = ci ? ci->connect_fd : -1;
        }
        s->secret = strdup(auth);
        if (!s->secret) {
                free(s);
                s = NULL;
                scim_err_set_retry(&e, 503, "out of memory");
                goto fail;
        }
        memcpy(s->tenant, tenant, tlen);
        s->tenant[tlen] = '\0';
        s->pos = after;
        s->sse = accept && strstr(accept, "text/event-stream") != NULL;
        s->limit = (size_t)limit;
        s->deadline = scim_now_ms() + wait_s * 1000;
        s->next_beat = scim_now_ms() + SCIM_STREAM_HEARTBEAT_MS;
        if (s->sse) /* EventSource reconnects after 1 s */
                scim_buf_puts(&s->out, "retry: 1000\n\n");
        pthread_mutex_lock(&hub->mu);
        for (stream_t *o = hub->all; o; o = o->next)
                per_tenant += !strcmp(o->tenant, s->tenant);
        if (hub->closing) {
                scim_err_set_retry(&e, 503, "server is shutting down");
        } else if (hub->n >= SCIM_STREAM_MAX) {
                scim_err_set_retry(&e, 429,
                                   "too many change streams (at most %d per "
                                   "server)",
                                   SCIM_STREAM_MAX);
        } else if (per_tenant >= SCIM_STREAM_MAX_TENANT) {
                scim_err_set_retry(&e, 429,
                                   "too many change streams for this tenant "
                                   "(at most %d)",
                                   SCIM_STREAM_MAX_TENANT);
        } else {
                s->next = hub->all;
                hub->all = s;
                hub->n++;
        }
        pthread_mutex_unlock(&hub->mu);
        if (e.status) {
                scim_buf_free(&s->out);
                explicit_bzero(s->secret, strlen(s->secret));
                free(s->secret);
                free(s);
                s = NULL;
                goto fail;
        }
        /* from here s belongs to the response (stream_free) */
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8192,
                                                 reader, s, stream_free);
        if (!resp) {
                stream_free(s);
                scim_err_set_retry(&e, 503, "out of memory");
                goto fail;
        }
        MHD_add_response_header(resp, "Content-Type",
                                s->sse ? "text/event-stream"
                                       : "application/x-ndjson");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
        if (request_id && *request_id)
                MHD_add_response_header(resp, "X-Request-Id", request_id);
        rc = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        json_decref(q);
        return rc;
fail:
        json_decref(q);
        return send_err(c, &e, request_id);
}
