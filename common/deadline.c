/*
 * deadline.c — a time limit shared by the threads of one piece of work
 * (scim_deadline_t in common/scim_common.h): a point-in-time read's
 * budget, checked inside projector/asof.c's loops so that the work
 * actually stops when the budget is spent.
 *
 * CLOCK_MONOTONIC_COARSE: immune to wall-clock steps and read from the
 * vDSO without a system call (~20 ns); its resolution is the kernel tick
 * (1-10 ms), which is nothing against limits of seconds and still fine
 * for the tens of milliseconds a test sets. Where the coarse clock is
 * missing, CLOCK_MONOTONIC.
 *
 * Threads: any. The limit is written once (scim_deadline_start) before
 * the deadline is shared; `passed` only ever goes from 0 to 1 (atomic).
 */
#include <time.h>

#include "common/scim_common.h"

#ifdef CLOCK_MONOTONIC_COARSE
#define DEADLINE_CLOCK CLOCK_MONOTONIC_COARSE
#else
#define DEADLINE_CLOCK CLOCK_MONOTONIC
#endif

static int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(DEADLINE_CLOCK, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void scim_deadline_start(scim_deadline_t *d, unsigned limit_ms)
{
        d->limit_ms = limit_ms;
        d->passed = 0;
        d->at_ns = limit_ms ? now_ns() + (int64_t)limit_ms * 1000000LL : 0;
}

int scim_deadline_check(scim_deadline_t *d)
{
        if (!d || !d->at_ns)
                return 0;
        if (__atomic_load_n(&d->passed, __ATOMIC_RELAXED))
                return 1;
        if (now_ns() < d->at_ns)
                return 0;
        __atomic_store_n(&d->passed, 1, __ATOMIC_RELAXED);
        return 1;
}
