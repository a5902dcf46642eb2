/*
 * metrics_internal.h — request counters and latency histograms for
 * GET /metrics (Prometheus text format), api/metrics.c. Internal to api/.
 */
#ifndef SCIM_METRICS_INTERNAL_H
#define SCIM_METRICS_INTERNAL_H

#include <stddef.h>
#include <sys/socket.h>

#include "common/scim_common.h"

/* Distinct (endpoint, tenant, resource type, method, status) series kept;
 * past it, new tenants are counted under tenant="_other". */
#define SCIM_METRICS_MAX_SERIES 4096

typedef struct scim_metrics scim_metrics_t;

scim_metrics_t *scim_metrics_new(void);
void scim_metrics_free(scim_metrics_t *m);

/* One answered request. endpoint: "scim", "reports", "stream", "admin",
 * "health", "metrics" or "other"; tenant and rtype may be "" (unknown);
 * status 0 = the connection ended without an answer. */
void scim_metrics_request(scim_metrics_t *m, const char *endpoint,
                          const char *tenant, const char *rtype,
                          const char *method, unsigned status, double seconds,
                          size_t bytes_out);

/* Appends the request families (counters, bytes, latency histogram). */
void scim_metrics_render(scim_metrics_t *m, scim_buf_t *out);

/* Appends one sample line: name{labels} value (labels may be NULL). */
void scim_metrics_sample(scim_buf_t *out, const char *name, const char *labels,
                         double value);

/* Appends the # HELP and # TYPE lines of a family. */
void scim_metrics_family(scim_buf_t *out, const char *name, const char *type,
                         const char *help);

/* Whether /metrics, with no --metrics-token-file, answers this request:
 * only a peer on the loopback interface (127.0.0.0/8, ::1, ::ffff:127/104)
 * whose request carries no proxy forwarding header (forwarded != 0), so
 * the tenant names in the series do not reach the network by default, and
 * a reverse proxy on the same host does not open them either. peer may be
 * NULL (unknown: not local). */
int scim_metrics_local(const struct sockaddr *peer, int forwarded);

#endif /* SCIM_METRICS_INTERNAL_H */
