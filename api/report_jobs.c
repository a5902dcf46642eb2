/*
 * report_jobs.c — a few threads of their own for the reports that take
 * long (point-in-time reads), so that they never hold libmicrohttpd's pool.
 *
 * Why: a pool thread serves every connection assigned to it. A filtered
 * `Users?asOf=T` over 100k users takes ~1 s of CPU (more under load), and
 * "which groups held U at T" several; answered on a pool thread, four such
 * queries (one per pool thread) stalled every SCIM request of every tenant
 * for that long. Now the reports handler suspends the connection and
 * queues a job; a report worker runs it and resumes the connection; the
 * pool thread only sends the finished answer.
 *
 * Admission: at most `threads` jobs run at once server-wide, at most
 * `queue_max` more wait, and one tenant holds at most `per_tenant` places
 * (running or waiting). A job beyond that is refused at submit (the
 * caller answers 429 with Retry-After), so neither a flood of reports nor
 * one tenant's auditor can queue unbounded work or crowd out the others.
 * Waiting jobs are served first come, first served.
 *
 * Time limit: a worker starts the job's deadline (limit_ms) when it takes
 * the job, so time spent waiting in the queue is not charged to the read:
 * the queue is bounded (queue_max, per_tenant) and a read should not fail
 * because other tenants' reads ran first. The read itself checks the
 * deadline inside its loops (projector/asof.c) and stops; the worker is
 * then free for the next job within a few milliseconds of the limit. A
 * job stopped so is counted in over_limit, not in done.
 *
 * Shutdown (scim_report_jobs_stop): no job is accepted any more; waiting
 * jobs are finished without running (refused = 1: the caller answers 503)
 * and running ones complete; the call returns when every job has been
 * handed back, so libmicrohttpd is never stopped with a connection still
 * suspended for a report.
 *
 * Test hook: SCIMLOG_TEST_REPORT_DELAY_MS (read when the workers start)
 * makes each job wait that long before it runs, so that e2e 0799 can hold
 * a worker busy for a known time and check admission and shutdown without
 * depending on how fast a query is. The wait stands for work: it is
 * inside the job's time limit (the deadline starts before it), so a limit
 * shorter than the wait is hit by the read's own first check. Unset in
 * production.
 *
 * Threads: submit runs on pool threads; run and finish on a report worker;
 * one mutex guards the queue and the counters.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/report_jobs.h"

#define JOBS_MAX_THREADS 16

struct scim_report_jobs {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        pthread_t th[JOBS_MAX_THREADS];
        unsigned nth;
        unsigned queue_max, per_tenant, limit_ms;
        scim_report_job_t *head, *tail; /* waiting, oldest first */
        unsigned waiting, running;
        unsigned long long refused, done, over_limit;
        scim_report_job_t *active[JOBS_MAX_THREADS]; /* running, by worker */
        int stopping;
        unsigned delay_ms; /* test hook (see the top comment) */
};

/* How many places tenant holds (running or waiting). Under q->mu. */
static unsigned tenant_places(const scim_report_jobs_t *q, const char *tenant)
{
        unsigned n = 0;

        for (const scim_report_job_t *j = q->head; j; j = j->next)
                n += !strcmp(j->tenant, tenant);
        for (unsigned i = 0; i < q->nth; i++)
                n += q->active[i] && !strcmp(q->active[i]->tenant, tenant);
        return n;
}

static void *worker(void *arg)
{
        scim_report_jobs_t *q = arg;
        unsigned me;

        pthread_mutex_lock(&q->mu);
        for (me = 0; me < q->nth && !pthread_equal(q->th[me], pthread_self());
             me++)
                ;
        for (;;) {
                scim_report_job_t *j;

                while (!q->head && !q->stopping)
                        pthread_cond_wait(&q->cv, &q->mu);
                if (!q->head)
                        break; /* stopping and nothing waits */
                j = q->head;
                q->head = j->next;
                if (!q->head)
                        q->tail = NULL;
                q->waiting--;
                j->next = NULL;
                if (q->stopping) { /* handed back without running */
                        j->refused = 1;
                        pthread_mutex_unlock(&q->mu);
                        j->finish(j);
                        pthread_mutex_lock(&q->mu);
                        continue;
                }
                q->running++;
                if (me < q->nth)
                        q->active[me] = j;
                pthread_mutex_unlock(&q->mu);
                scim_deadline_start(&j->deadline, q->limit_ms);
                if (q->delay_ms) {
                        struct timespec ts = {q->delay_ms / 1000,
                                              (long)(q->delay_ms % 1000) *
                                                  1000000L};

                        nanosleep(&ts, NULL);
                }
                j->run(j);
                pthread_mutex_lock(&q->mu);
                if (me < q->nth)
                        q->active[me] = NULL;
                q->running--;
                if (scim_deadline_passed(&j->deadline))
                        q->over_limit++;
                else
                        q->done++;
                pthread_mutex_unlock(&q->mu);
                j->finish(j); /* may free j: not touched after */
                pthread_mutex_lock(&q->mu);
        }
        pthread_mutex_unlock(&q->mu);
        return NULL;
}

scim_report_jobs_t *scim_report_jobs_new(unsigned threads, unsigned queue_max,
                                         unsigned per_tenant, unsigned limit_ms)
{
        scim_report_jobs_t *q = calloc(1, sizeof(*q));

        if (!q)
                return NULL;
        if (threads < 1)
                threads = 1;
        if (threads > JOBS_MAX_THREADS)
                threads = JOBS_MAX_THREADS;
        q->queue_max = queue_max;
        q->per_tenant = per_tenant ? per_tenant : 1;
        q->limit_ms = limit_ms;
        {
                const char *d = getenv("SCIMLOG_TEST_REPORT_DELAY_MS");

                q->delay_ms = d ? (unsigned)strtoul(d, NULL, 10) % 600000u : 0;
        }
        pthread_mutex_init(&q->mu, NULL);
        pthread_cond_init(&q->cv, NULL);
        /* the workers find their slot by thread id: start them under the
         * lock so th[] is complete before any of them looks */
        pthread_mutex_lock(&q->mu);
        for (unsigned i = 0; i < threads; i++) {
                if (pthread_create(&q->th[q->nth], NULL, worker, q))
                        break;
                q->nth++;
        }
        pthread_mutex_unlock(&q->mu);
        if (!q->nth) {
                pthread_cond_destroy(&q->cv);
                pthread_mutex_destroy(&q->mu);
                free(q);
                return NULL;
        }
        return q;
}

int scim_report_jobs_submit(scim_report_jobs_t *q, scim_report_job_t *j)
{
        int rc = -1;

        pthread_mutex_lock(&q->mu);
        if (q->stopping)
                goto out;
        /* a free worker takes it at once; otherwise it waits, if there
         * is room in the queue */
        if (q->running + q->waiting >= q->nth &&
            q->waiting >= q->queue_max)
                goto out;
        if (tenant_places(q, j->tenant) >= q->per_tenant)
                goto out;
        j->next = NULL;
        j->refused = 0;
        if (q->tail)
                q->tail->next = j;
        else
                q->head = j;
        q->tail = j;
        q->waiting++;
        pthread_cond_signal(&q->cv);
        rc = 0;
out:
        if (rc)
                q->refused++;
        pthread_mutex_unlock(&q->mu);
        return rc;
}

void scim_report_jobs_stats(scim_report_jobs_t *q, scim_report_jobs_stats_t *s)
{
        memset(s, 0, sizeof(*s));
        if (!q)
                return;
        pthread_mutex_lock(&q->mu);
        s->threads = q->nth;
        s->queue_max = q->queue_max;
        s->per_tenant = q->per_tenant;
        s->limit_ms = q->limit_ms;
        s->running = q->running;
        s->waiting = q->waiting;
        s->refused = q->refused;
        s->done = q->done;
        s->over_limit = q->over_limit;
        pthread_mutex_unlock(&q->mu);
}

void scim_report_jobs_stop(scim_report_jobs_t *q)
{
        if (!q)
                return;
        pthread_mutex_lock(&q->mu);
        if (q->stopping) {
                pthread_mutex_unlock(&q->mu);
                return;
        }
        q->stopping = 1;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        for (unsigned i = 0; i < q->nth; i++)
                pthread_join(q->th[i], NULL);
}

void scim_report_jobs_free(scim_report_jobs_t *q)
{
        if (!q)
                return;
        scim_report_jobs_stop(q);
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        free(q);
}
