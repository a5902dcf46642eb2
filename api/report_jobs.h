/*
 * report_jobs.h — report workers: long reports run off libmicrohttpd's
 * pool (api/report_jobs.c has the why). Internal to api/.
 */
#ifndef SCIM_REPORT_JOBS_H
#define SCIM_REPORT_JOBS_H

#include "common/scim_common.h"

typedef struct scim_report_jobs scim_report_jobs_t;

/*
 * One job. The submitter owns it and fills run, finish and tenant; the
 * queue links it through next. run computes (report worker); finish hands
 * the result over (report worker, after run, or without run with refused
 * set when the queue stopped first) and may free the job: the queue does
 * not touch it afterwards. deadline is started by the worker when it
 * takes the job (the queue's limit_ms from then: time spent waiting does
 * not count); run passes it to the work, which stops once it has passed,
 * and the queue counts the job as over the limit when it has.
 */
typedef struct scim_report_job {
        void (*run)(struct scim_report_job *j);
        void (*finish)(struct scim_report_job *j);
        char tenant[SCIM_MAX_TENANT_LEN + 8];
        int refused;                  /* out: never ran (shutting down) */
        scim_deadline_t deadline;     /* the worker's, for run */
        struct scim_report_job *next; /* the queue's */
} scim_report_job_t;

typedef struct scim_report_jobs_stats {
        unsigned threads, running, waiting;
        unsigned queue_max, per_tenant; /* the limits it was made with */
        unsigned limit_ms;              /* ... (0: none) */
        unsigned long long refused, done;
        unsigned long long over_limit; /* stopped at limit_ms (not in done) */
} scim_report_jobs_stats_t;

/* threads workers (1-16); queue_max jobs may wait beyond those running;
 * per_tenant places (running + waiting) per tenant; limit_ms the time
 * each job may run (0: no limit). NULL if no thread could start. Free
 * with scim_report_jobs_free. */
scim_report_jobs_t *scim_report_jobs_new(unsigned threads, unsigned queue_max,
                                         unsigned per_tenant,
                                         unsigned limit_ms);

/* Queues j (any thread). 0: queued, finish will be called exactly once;
 * -1: refused (no room, the tenant's places taken, or stopping): j was
 * not taken and finish will not be called. */
int scim_report_jobs_submit(scim_report_jobs_t *q, scim_report_job_t *j);

/* Counters for /metrics (NULL-safe: zeros). */
void scim_report_jobs_stats(scim_report_jobs_t *q, scim_report_jobs_stats_t *s);

/* Refuses new jobs, finishes waiting ones without running them (refused =
 * 1), lets running ones complete, and returns when every job is handed
 * back and the workers have ended. NULL-safe; idempotent. */
void scim_report_jobs_stop(scim_report_jobs_t *q);

/* Stops (as above) and frees. NULL-safe. */
void scim_report_jobs_free(scim_report_jobs_t *q);

#endif
