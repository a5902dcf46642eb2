/*
 * 0105-deadline.c — the time limit shared by a point-in-time read's
 * threads (scim_deadline_t, common/deadline.c): no deadline and a 0 ms
 * one never pass; a tick reads the clock only every SCIM_DEADLINE_EVERY
 * iterations (i = 0 included) and otherwise only the flag; once a check
 * has seen the time past, every later check on any thread says so; a
 * restart clears it; threads spinning on one deadline all stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "common/scim_common.h"

static void nap_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

static void test_none(void **state)
{
        scim_deadline_t d;

        (void)state;
        assert_int_equal(scim_deadline_check(NULL), 0);
        assert_int_equal(scim_deadline_passed(NULL), 0);
        for (size_t i = 0; i < 3 * SCIM_DEADLINE_EVERY; i++)
                assert_int_equal(scim_deadline_tick(NULL, i), 0);
        scim_deadline_start(&d, 0); /* no limit */
        nap_ms(10);
        assert_int_equal(scim_deadline_check(&d), 0);
        assert_int_equal(scim_deadline_tick(&d, 0), 0);
        assert_int_equal(scim_deadline_passed(&d), 0);
        assert_int_equal(d.limit_ms, 0);
}

static void test_passes(void **state)
{
        scim_deadline_t d;

        (void)state;
        scim_deadline_start(&d, 60000);
        assert_int_equal(d.limit_ms, 60000);
        for (size_t i = 0; i < 4 * SCIM_DEADLINE_EVERY; i++)
                assert_int_equal(scim_deadline_tick(&d, i), 0);
        assert_int_equal(scim_deadline_check(&d), 0);

        scim_deadline_start(&d, 1);
        nap_ms(20); /* past, whatever the coarse clock's tick (1-10 ms) */
        /* between clock reads only the flag is looked at: not set yet */
        assert_int_equal(scim_deadline_tick(&d, 1), 0);
        assert_int_equal(scim_deadline_tick(&d, SCIM_DEADLINE_EVERY - 1), 0);
        assert_int_equal(scim_deadline_passed(&d), 0);
        /* a clock read sees it, and from then on every tick says so */
        assert_int_equal(scim_deadline_tick(&d, SCIM_DEADLINE_EVERY), 1);
        assert_int_equal(scim_deadline_passed(&d), 1);
        assert_int_equal(scim_deadline_tick(&d, 1), 1);
        assert_int_equal(scim_deadline_check(&d), 1);
        /* a restart clears it */
        scim_deadline_start(&d, 60000);
        assert_int_equal(scim_deadline_passed(&d), 0);
        assert_int_equal(scim_deadline_tick(&d, 0), 0);
}

typedef struct spin {
        scim_deadline_t *d;
        size_t iters;
} spin_t;

static void *spinner(void *arg)
{
        spin_t *s = arg;

        while (!scim_deadline_tick(s->d, s->iters) && s->iters < (1u << 31))
                s->iters++;
        return NULL;
}

static void test_threads(void **state)
{
        scim_deadline_t d;
        pthread_t th[4];
        spin_t sp[4];

        (void)state;
        scim_deadline_start(&d, 30);
        for (int i = 0; i < 4; i++) {
                sp[i].d = &d;
                sp[i].iters = 1; /* off the clock-read beat: flag first */
                assert_int_equal(pthread_create(&th[i], NULL, spinner, &sp[i]),
                                 0);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                assert_true(sp[i].iters < (1u << 31)); /* stopped by d */
        }
        assert_int_equal(scim_deadline_passed(&d), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_none),
            cmocka_unit_test(test_passes),
            cmocka_unit_test(test_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
