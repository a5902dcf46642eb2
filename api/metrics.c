/*
 * metrics.c — request counters for GET /metrics.
 *
 * Series live in a fixed open-addressing table (SCIM_METRICS_MAX_SERIES
 * entries, twice that many slots) under one mutex: a request adds one
 * series lookup to its completion. Label cardinality is bounded — tenants
 * beyond the table's room are counted as tenant="_other" — so a server
 * with many tenants cannot grow /metrics without bound. Latency is one
 * histogram per method (a fixed set), not per series.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics_internal.h"

#define SLOTS (2 * SCIM_METRICS_MAX_SERIES)
#define NBUCKETS 13

static const double BUCKETS[NBUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
static const char *const METHODS[] = {"GET",    "POST", "PUT",   "PATCH",
                                      "DELETE", "HEAD", "OTHER", NULL};
#define NMETHODS 7

typedef struct series {
        int used;
        char endpoint[12];
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        char rtype[8];
        char method[8];
        unsigned status;
        unsigned long long count, bytes;
} series_t;

struct scim_metrics {
        pthread_mutex_t mu;
        series_t s[SLOTS];
        size_t n;
        unsigned long long hist[NMETHODS][NBUCKETS + 1];
        double hist_sum[NMETHODS];
        unsigned long long hist_count[NMETHODS];
};

scim_metrics_t *scim_metrics_new(void)
{
        scim_metrics_t *m = calloc(1, sizeof(*m));

        if (m)
                pthread_mutex_init(&m->mu, NULL);
        return m;
}

void scim_metrics_free(scim_metrics_t *m)
{
        if (!m)
                return;
        pthread_mutex_destroy(&m->mu);
        free(m);
}

static unsigned hash(const char *a, const char *b, const char *c, const char *d,
                     unsigned st)
{
        unsigned h = 2166136261u;
        const char *parts[4] = {a, b, c, d};

        for (int i = 0; i < 4; i++) {
                for (const char *p = parts[i]; *p; p++)
                        h = (h ^ (unsigned char)*p) * 16777619u;
                h = (h ^ 0xFFu) * 16777619u;
        }
        return (h ^ st) * 16777619u;
}

static int method_index(const char *method)
{
        for (int i = 0; i < NMETHODS - 1; i++)
                if (!strcmp(method, METHODS[i]))
                        return i;
        return NMETHODS - 1;
}

void scim_metrics_request(scim_metrics_t *m, const char *endpoint,
                          const char *tenant, const char *rtype,
                          const char *method, unsigned status, double seconds,
                          size_t bytes_out)
{
        int mi = method_index(method ? method : "");
        const char *meth = METHODS[mi];
        series_t *x = NULL;
        unsigned h;
        int b = 0;

        if (!m)
                return;
        tenant = tenant ? tenant : "";
        rtype = rtype ? rtype : "";
        pthread_mutex_lock(&m->mu);
        for (int pass = 0; pass < 2 && !x; pass++) {
                h = hash(endpoint, tenant, rtype, meth, status);
                for (size_t i = 0; i < SLOTS; i++) {
                        series_t *y = &m->s[(h + i) % SLOTS];

                        if (!y->used) {
                                if (m->n >= SCIM_METRICS_MAX_SERIES)
                                        break; /* full: count as _other */
                                y->used = 1;
                                m->n++;
                                snprintf(y->endpoint, sizeof(y->endpoint), "%s",
                                         endpoint);
                                snprintf(y->tenant, sizeof(y->tenant), "%s",
                                         tenant);
                                snprintf(y->rtype, sizeof(y->rtype), "%s",
                                         rtype);
                                snprintf(y->method, sizeof(y->method), "%s",
                                         meth);
                                y->status = status;
                                x = y;
                                break;
                        }
                        if (y->status == status && !strcmp(y->tenant, tenant) &&
                            !strcmp(y->endpoint, endpoint) &&
                            !strcmp(y->rtype, rtype) &&
                            !strcmp(y->method, meth)) {
                                x = y;
                                break;
                        }
                }
                tenant = "_other";
        }
        if (x) {
                x->count++;
                x->bytes += bytes_out;
        }
        while (b < NBUCKETS && seconds > BUCKETS[b])
                b++;
        m->hist[mi][b]++;
        m->hist_sum[mi] += seconds;
        m->hist_count[mi]++;
        pthread_mutex_unlock(&m->mu);
}

void scim_metrics_family(scim_buf_t *out, const char *name, const char *type,
                         const char *help)
{
        char line[512];

        snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help,
                 name, type);
        scim_buf_puts(out, line);
}

void scim_metrics_sample(scim_buf_t *out, const char *name, const char *labels,
                         double value)
{
        char line[640];

        snprintf(line, sizeof(line), "%s%s%s%s %.17g\n", name,
                 labels ? "{" : "", labels ? labels : "", labels ? "}" : "",
                 value);
        scim_buf_puts(out, line);
}

/* A series' labels. Tenant names and the other labels hold no quote or
 * backslash (their characters are checked before they get here). */
static void series_labels(const series_t *x, char *buf, size_t len)
{
        snprintf(buf, len,
                 "endpoint=\"%s\",tenant=\"%s\",resource_type=\"%s\","
                 "method=\"%s\",status=\"%u\"",
                 x->endpoint, x->tenant, x->rtype, x->method, x->status);
}

void scim_metrics_render(scim_metrics_t *m, scim_buf_t *out)
{
        char labels[300];

        if (!m)
                return;
        pthread_mutex_lock(&m->mu);
        scim_metrics_family(out, "scimlog_http_requests_total", "counter",
                            "HTTP requests answered, by endpoint, tenant, "
                            "resource type, method and status");
        for (size_t i = 0; i < SLOTS; i++) {
                const series_t *x = &m->s[i];

                if (!x->used)
                        continue;
                series_labels(x, labels, sizeof(labels));
                scim_metrics_sample(out, "scimlog_http_requests_total", labels,
                                    (double)x->count);
        }
        scim_metrics_family(out, "scimlog_http_response_bytes_total", "counter",
                            "Answer body bytes, by series");
        for (size_t i = 0; i < SLOTS; i++) {
                const series_t *x = &m->s[i];

                if (!x->used)
                        continue;
                series_labels(x, labels, sizeof(labels));
                scim_metrics_sample(out, "scimlog_http_response_bytes_total",
                                    labels, (double)x->bytes);
        }
        scim_metrics_family(out, "scimlog_http_request_duration_seconds",
                            "histogram",
                            "Time from a request's first byte parsed to its "
                            "answer sent, by method");
        for (int mi = 0; mi < NMETHODS; mi++) {
                unsigned long long cum = 0;

                if (!m->hist_count[mi])
                        continue;
                for (int b = 0; b <= NBUCKETS; b++) {
                        cum += m->hist[mi][b];
                        if (b < NBUCKETS)
                                snprintf(labels, sizeof(labels),
                                         "method=\"%s\",le=\"%g\"", METHODS[mi],
                                         BUCKETS[b]);
                        else
                                snprintf(labels, sizeof(labels),
                                         "method=\"%s\",le=\"+Inf\"",
                                         METHODS[mi]);
                        scim_metrics_sample(
                            out, "scimlog_http_request_duration_seconds_bucket",
                            labels, (double)cum);
                }
                snprintf(labels, sizeof(labels), "method=\"%s\"", METHODS[mi]);
                scim_metrics_sample(out,
                                    "scimlog_http_request_duration_seconds_sum",
                                    labels, m->hist_sum[mi]);
                scim_metrics_sample(
                    out, "scimlog_http_request_duration_seconds_count", labels,
                    (double)m->hist_count[mi]);
        }
        pthread_mutex_unlock(&m->mu);
}

int scim_metrics_local(const struct sockaddr *peer, int forwarded)
{
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0xff, 0xff};
        int local = 0;

        if (peer && peer->sa_family == AF_INET) {
                const struct sockaddr_in *a = (const void *)peer;

                local = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
        } else if (peer && peer->sa_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const void *)peer;
                const uint8_t *b = a->sin6_addr.s6_addr;

                local = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                        (!memcmp(b, v4mapped, 12) && b[12] == 127);
        }
        return local && !forwarded;
}
