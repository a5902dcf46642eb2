/*
 * 0480-audit-window.c — the front door's refusal records (api/audit.c):
 * the same refusal within the window is counted, not logged, and the next
 * record after the window carries the count; different tenants, actors,
 * statuses and details are separate; refusals spread over many tenants
 * meet the server-wide budget, and what it refuses is counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>

#include "api/audit_internal.h"

static void test_window(void **state)
{
        uint64_t before = 99;

        (void)state;
        assert_int_equal(scim_audit_window_take("t1", "anonymous", "ACCESS",
                                                401, "bad", &before),
                         1);
        assert_int_equal(before, 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(scim_audit_window_take("t1", "anonymous",
                                                        "ACCESS", 401, "bad",
                                                        &before),
                                 0);
        /* each part of the key makes another refusal */
        assert_int_equal(scim_audit_window_take("t2", "anonymous", "ACCESS",
                                                401, "bad", &before),
                         1);
        assert_int_equal(
            scim_audit_window_take("t1", "tok1", "ACCESS", 401, "bad", &before),
            1);
        assert_int_equal(scim_audit_window_take("t1", "anonymous", "ADMIN", 401,
                                                "bad", &before),
                         1);
        assert_int_equal(scim_audit_window_take("t1", "anonymous", "ACCESS",
                                                403, "bad", &before),
                         1);
        assert_int_equal(scim_audit_window_take("t1", "anonymous", "ACCESS",
                                                401, "other", &before),
                         1);
        /* ("ab","c") is not ("a","bc") */
        assert_int_equal(scim_audit_window_take("t1a", "nonymous", "ACCESS",
                                                401, "bad", &before),
                         1);
}

static void test_budget(void **state)
{
        char tenant[32];
        int logged = 0;
        uint64_t before, d0 = scim_audit_dropped();

        (void)state;
        /* far more distinct refusals than the burst, at once: the budget
         * (refilled at SCIM_AUDIT_RATE/s while this runs) lets about a
         * burst through and counts the rest */
        for (int i = 0; i < 4 * SCIM_AUDIT_BURST; i++) {
                snprintf(tenant, sizeof(tenant), "budget%d", i);
                logged += scim_audit_window_take(tenant, "anonymous", "ACCESS",
                                                 401, "bad", &before);
        }
        assert_true(logged <= 2 * SCIM_AUDIT_BURST);
        assert_true(logged >= SCIM_AUDIT_BURST / 2);
        assert_int_equal(scim_audit_dropped() - d0,
                         (uint64_t)(4 * SCIM_AUDIT_BURST - logged));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_window),
            cmocka_unit_test(test_budget),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
