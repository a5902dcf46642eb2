/*
 * 0470-ingest-share.c — the per-tenant share of the write queue
 * (ingest/share.c): the write and byte caps hold per tenant, a tenant at
 * its cap leaves others unaffected, one write always fits whatever its
 * size, giving back frees the entry, and the refusals are counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>

#include "ingest/share_internal.h"

static void test_write_cap(void **state)
{
        scim_share_t *s = scim_share_new();
        int oom;

        (void)state;
        assert_non_null(s);
        for (int i = 0; i < SCIM_SHARE_WRITES_MAX; i++)
                assert_int_equal(scim_share_take(s, "a", 100, &oom), 0);
        assert_int_equal(scim_share_take(s, "a", 100, &oom), -1);
        assert_int_equal(oom, 0);
        /* another tenant is not held back by a's */
        assert_int_equal(scim_share_take(s, "b", 100, &oom), 0);
        assert_int_equal(scim_share_refused(s), 1);
        scim_share_give(s, "a", 100);
        assert_int_equal(scim_share_take(s, "a", 100, &oom), 0);
        for (int i = 0; i < SCIM_SHARE_WRITES_MAX; i++)
                scim_share_give(s, "a", 100);
        scim_share_give(s, "b", 100);
        /* entries are gone: a starts from zero again */
        for (int i = 0; i < SCIM_SHARE_WRITES_MAX; i++)
                assert_int_equal(scim_share_take(s, "a", 1, &oom), 0);
        scim_share_free(s);
}

static void test_byte_cap(void **state)
{
        scim_share_t *s = scim_share_new();
        size_t big = SCIM_SHARE_BYTES_MAX / 4;
        int oom;

        (void)state;
        /* a single write over the cap still fits when nothing is queued */
        assert_int_equal(
            scim_share_take(s, "x", SCIM_SHARE_BYTES_MAX * 2, &oom), 0);
        assert_int_equal(scim_share_take(s, "x", 1, &oom), -1);
        scim_share_give(s, "x", SCIM_SHARE_BYTES_MAX * 2);
        for (int i = 0; i < 4; i++)
                assert_int_equal(scim_share_take(s, "x", big, &oom), 0);
        assert_int_equal(scim_share_take(s, "x", 1, &oom), -1);
        assert_int_equal(scim_share_take(s, "y", big, &oom), 0);
        scim_share_give(s, "x", big);
        assert_int_equal(scim_share_take(s, "x", big, &oom), 0);
        assert_int_equal(scim_share_refused(s), 2);
        scim_share_free(s); /* frees entries still counted */
        scim_share_free(NULL);
}

static void test_many_tenants(void **state)
{
        scim_share_t *s = scim_share_new();
        char t[32];
        int oom;

        (void)state;
        for (int i = 0; i < 5000; i++) { /* more tenants than slots */
                snprintf(t, sizeof(t), "tenant-%d", i);
                assert_int_equal(scim_share_take(s, t, 10, &oom), 0);
        }
        for (int i = 0; i < 5000; i += 2) {
                snprintf(t, sizeof(t), "tenant-%d", i);
                scim_share_give(s, t, 10);
        }
        scim_share_give(s, "never-seen", 10); /* ignored */
        assert_int_equal(scim_share_refused(s), 0);
        scim_share_free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_write_cap),
            cmocka_unit_test(test_byte_cap),
            cmocka_unit_test(test_many_tenants),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
