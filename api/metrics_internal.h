/*
 * metrics_internal.h — request counters and latency histograms for
 * GET /metrics (Prometheus text format), api/metrics.c. Internal to api/.
 */
#ifndef SCIM_METRICS_INTERNAL_H
#define SCIM_METRICS_INTERNAL_H

#include <stddef.h>

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

#endif /* SCIM_METRICS_INTERNAL_H */
