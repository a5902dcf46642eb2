/*
 * scim_api.h — the HTTP face: libmicrohttpd server, bearer-token auth,
 * tenant routing (/scim/v2/{tenant}/...), SCIM endpoints (Users, Groups,
 * Schemas, ResourceTypes, ServiceProviderConfig), list/filter/paging and
 * attribute projection, SCIM error bodies.
 *
 * Threads: libmicrohttpd's pool threads run every handler. Reads go to the
 * store directly; writes go to ingest, and the connection is suspended until
 * the committer thread resumes it with the verdict (a pool thread never
 * waits for the disk).
 */
#ifndef SCIM_API_H
#define SCIM_API_H

#include <stddef.h>

#include "ingest/scim_ingest.h"
#include "projector/scim_projector.h"

typedef struct scim_api_config {
        const char *host;        /* listen address, e.g. "127.0.0.1" */
        int port;                /* 0 = pick a free port */
        size_t max_body;         /* request body cap; 0 = default */
        int threads;             /* pool threads; 0 = number of cores */
        const char *tls_cert;    /* PEM file, or NULL for plain HTTP */
        const char *tls_key;     /* PEM file, or NULL */
        unsigned max_conns;      /* open connections; 0 = default, capped
                                    by RLIMIT_NOFILE - 1024 */
        unsigned header_timeout_s; /* accept -> headers complete; 0 = default */
        unsigned idle_timeout_s; /* keep-alive idle; 0 = default */
        unsigned drain_ms;       /* stop: longest wait for requests in
                                    progress; 0 = default */
        size_t scan_limit;       /* unindexed filter: resources examined
                                    per request; 0 = default */
        unsigned scan_ms;        /* ... milliseconds per request */
        size_t unsent_bytes;     /* answers not yet sent, server-wide;
                                    0 = default */
        double rate_per_s;       /* per-tenant requests/s: 0 = default
                                    (100), < 0 = no limit */
        double rate_burst;       /* bucket; 0 = default (200, or twice
                                    a given rate) */
        /* tenant routing (api/route.c): mount templates besides
         * /scim/v2/{tenant} and /scim/v2 (e.g. "/api/v1/scim/azure/{tenant}",
         * "/api/scim"), a host suffix (".scim.example.com": the tenant is
         * the host's first label on mounts without {tenant}), and trusted
         * proxy networks whose X-Forwarded-* / Forwarded headers build
         * Location */
        const char *const *mounts;
        size_t n_mounts;
        const char *host_suffix;
        const char *const *trusted_proxies;
        size_t n_trusted_proxies;
        const char *operator_token; /* the admin API's bearer (/admin/v1/
                                       tenants); NULL: admin API off */
        const char *jwt_key;        /* master secret signing keys derive
                                       from; NULL: OAuth/JWT off */
        long jwt_ttl;               /* seconds a JWT lives (0: 3600) */
        const char *metrics_token; /* GET /metrics wants this bearer; NULL:
                                      loopback peers only, unproxied */
        unsigned report_threads; /* report workers for point-in-time
                                    reads (api/report_jobs.c); 0 = 1 */
        unsigned report_queue;   /* ... reads that may wait beyond them;
                                    0 = default */
        unsigned report_ms;      /* ... the time one may run once a
                                    worker has it (400 tooMany after);
                                    0 = default */
        unsigned tenant_concurrency; /* list pages, .search and reports
                                        reads one tenant runs at once
                                        (api/inflight.c); 0 = half the pool
                                        threads, at least 2 */
        const char *access_log;  /* "off", "text" or "json" (one stderr line
                                    per request); NULL: SCIMLOG_ACCESS_LOG
                                    (1 = text, json), else off */
} scim_api_config_t;

#define SCIM_MAX_CONNS_DEFAULT 10000
#define SCIM_HEADER_TIMEOUT_DEFAULT 10 /* s */
#define SCIM_IDLE_TIMEOUT_DEFAULT 30   /* s */
#define SCIM_DRAIN_MS_DEFAULT 10000
#define SCIM_SCAN_LIMIT_DEFAULT 1000000
#define SCIM_SCAN_MS_DEFAULT 2000
#define SCIM_REPORT_QUEUE_DEFAULT 8
#define SCIM_REPORT_MS_DEFAULT 30000 /* one point-in-time read's time */
#define SCIM_REPORT_PER_TENANT 2 /* point-in-time reads running or waiting */

typedef struct scim_api scim_api_t;

/* Starts serving. Returns 0 or -1 with errstr. */
int scim_api_start(const scim_api_config_t *cfg, scim_store_t *st,
                   scim_ingest_t *ing, scim_api_t **out, char *errstr,
                   size_t errlen);

/* The port actually bound (useful with port 0). */
int scim_api_port(const scim_api_t *api);

/* Stops accepting, finishes in-flight requests, frees. NULL-safe. */
void scim_api_stop(scim_api_t *api);

/* --------------------------------------- control socket (api/control.c) */

typedef struct scim_control scim_control_t;

/* Listens on DIR/control.sock (mode 0600, same-uid peers only) for
 * operator commands while serving: {"op":"backup","to":PATH} takes a
 * checkpoint of the open store. 0 or -1 with errstr. */
int scim_control_start(scim_store_t *st, scim_ingest_t *ing, const char *dir,
                       scim_control_t **out, char *errstr, size_t errlen);
void scim_control_stop(scim_control_t *ctl); /* NULL-safe; removes it */

/* The housekeeping thread (api/maintain.c): change-record pruning for
 * the tenants with a retention, and log snapshots with log truncation
 * (embedded log only). An interval of 0 turns that part off. */
typedef struct scim_maintain_config {
        int64_t prune_interval_ms;    /* default 60 s */
        int64_t snapshot_interval_ms; /* default off */
} scim_maintain_config_t;
typedef struct scim_maintain scim_maintain_t;
int scim_maintain_start(scim_store_t *st, scim_ingest_t *ing,
                        const scim_maintain_config_t *cfg,
                        scim_maintain_t **out, char *errstr, size_t errlen);
void scim_maintain_stop(scim_maintain_t *m); /* NULL-safe */

/* One `scimlog tenant` command (api/tenant_cmd.c), run by the serving
 * process for the control socket and by the CLI without a server: req is
 * {"args": [create NAME | token issue NAME | token revoke NAME ID | list |
 * schema get|put|delete NAME], "scope": "reports"|"tenant-admin",
 * "profile": P, "definition": {...}, "dry_run": B, "force": B}. Returns
 * {"ok": true, "result": ...} or {"ok": false, "error": TEXT}. */
json_t *scim_tenant_command(scim_store_t *st, scim_ingest_t *ing,
                            const json_t *req);

/* The tenant's change-record retention as the admin API and CLI show it:
 * {"tenant","changeRetentionDays","pruned","retainedFrom",
 * "retainedAfterPosition"?} (new reference). */
json_t *scim_tenant_retention(scim_store_t *st, const char *tenant);

/* A log snapshot command (control socket and CLI): req {"truncate": B,
 * "list": B}: takes a snapshot (unless list), then truncates the log as far
 * as it may (truncate). {"ok":true,"result":{"position","logBase",
 * "snapshots","snapshot"?,"safePosition"?}} or {"ok":false,"error"}. */
json_t *scim_snapshot_command(scim_store_t *st, const json_t *req);

/* A profile compiled into the binary (profiles/NAME.json; new reference,
 * NULL when unknown) and the names of all of them. */
json_t *scim_profile(const char *name);
json_t *scim_profile_names(void);

/* Sends one request to the server serving DIR: 1 with *reply (caller
 * decrefs), 0 when no server listens there, -1 with errstr. */
int scim_control_call(const char *dir, const json_t *req, json_t **reply,
                      char *errstr, size_t errlen);

/* Asks the server serving DIR for a backup into dest: 1 with *reply (the
 * server's JSON answer, caller decrefs), 0 when no server listens there,
 * -1 with errstr when the exchange failed. */
int scim_control_backup(const char *dir, const char *dest, json_t **reply,
                        char *errstr, size_t errlen);

#endif /* SCIM_API_H */
