/*
 * 0555-tenant-pin.c — tenant partition pins (projector/tenant_pin.c): a
 * TENANT_CREATE with admin_json {"partition": P} pins the tenant; its data
 * events are applied from P only and refused from any other partition
 * (the detail names both); an unpinned tenant accepts any partition until
 * a TENANT_UPDATE {"partition": P} pins it; a pin never changes (the same
 * value again is a no-op); bad values are refused; a tenant's admin events
 * are applied from the admin partition of its TENANT_CREATE only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "projector/scim_projector.h"
#include "tests/unit/unit_harness.h"

static char dir[512];
static scim_store_t *st;
static int64_t next_off[2][8]; /* [admin][partition] */

static int setup(void **state)
{
        (void)state;
        unit_store_setup(dir, sizeof(dir), "tenantpin", &st);
        memset(next_off, 0, sizeof(next_off));
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_store_teardown(dir, st);
        return 0;
}

/* Folds one event read from (admin topic or data topic, partition);
 * returns the verdict's status, the detail in detail. */
static int fold(scim_action_t act, const char *tenant, const char *uid,
                const char *admin_json, int admin, int32_t partition,
                char *detail, size_t dlen)
{
        scim_event_t e;
        scim_err_t err;
        scim_buf_t b = {0};
        scim_logged_t m;
        scim_verdict_t v;
        char json[200];
        int status;

        memset(&e, 0, sizeof(e));
        scim_uuid4(e.event_id);
        e.schema_version = 3;
        e.tenant = strdup(tenant);
        e.action = act;
        e.time_ms = 1700000000000;
        e.actor = strdup("test");
        e.request_id = strdup("");
        e.expect_version = uid ? 0 : -1;
        if (uid) {
                snprintf(json, sizeof(json),
                         "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:"
                         "2.0:User\"],\"userName\":\"%s\"}",
                         uid);
                e.rtype = SCIM_RT_USER;
                e.resource_id = strdup(uid);
                e.resource_json = strdup(json);
        }
        if (admin_json)
                e.admin_json = strdup(admin_json);
        assert_int_equal(scim_event_encode(&e, &b, &err), 0);
        memset(&m, 0, sizeof(m));
        m.topic = admin ? "admin" : "data";
        m.admin = admin;
        m.partition = partition;
        m.offset = next_off[admin][partition]++;
        m.key = tenant;
        m.key_len = strlen(tenant);
        m.data = b.data;
        m.len = b.len;
        assert_int_equal(scim_store_fold_logged(st, "data", &m, 1, &v, &err),
                         0);
        status = v.status;
        if (detail)
                snprintf(detail, dlen, "%s", v.detail);
        scim_verdict_clear(&v);
        scim_buf_free(&b);
        scim_event_clear(&e);
        return status;
}

/* 1. pinned at creation: applied from its partition, refused elsewhere */
static void test_pinned_at_create(void **state)
{
        char d[512];

        (void)state;
        assert_int_equal(fold(SCIM_ACT_TENANT_CREATE, "t", NULL,
                              "{\"partition\":2}", 1, 0, NULL, 0),
                         201);
        assert_int_equal(scim_store_tenant_partition(st, "t"), 2);
        assert_int_equal(fold(SCIM_ACT_CREATE, "t", "u1", NULL, 0, 2, NULL, 0),
                         201);
        assert_int_equal(fold(SCIM_ACT_CREATE, "t", "u2", NULL, 0, 5, d,
                              sizeof(d)),
                         400);
        assert_non_null(strstr(d, "pinned to partition 2"));
        assert_non_null(strstr(d, "from partition 5"));
        /* the refused event changed nothing: u2 can still be created */
        assert_int_equal(fold(SCIM_ACT_CREATE, "t", "u2", NULL, 0, 2, NULL, 0),
                         201);
        /* a pin never changes; the same pin again is a no-op */
        assert_int_equal(fold(SCIM_ACT_TENANT_UPDATE, "t", NULL,
                              "{\"partition\":4}", 1, 0, d, sizeof(d)),
                         409);
        assert_non_null(strstr(d, "pinned to partition 2"));
        assert_int_equal(fold(SCIM_ACT_TENANT_UPDATE, "t", NULL,
                              "{\"partition\":2}", 1, 0, NULL, 0),
                         200);
        assert_int_equal(scim_store_tenant_partition(st, "t"), 2);
        /* the pin does not disturb other settings updates */
        assert_int_equal(fold(SCIM_ACT_TENANT_UPDATE, "t", NULL,
                              "{\"changeRetentionDays\":30}", 1, 0, NULL, 0),
                         200);
        assert_int_equal(scim_store_tenant_partition(st, "t"), 2);
        assert_int_equal(scim_store_tenant_partition(st, "nope"),
                         SCIM_TENANT_NONE);
}

/* 2. an unpinned tenant (older producer) until a pin is folded */
static void test_unpinned_then_pinned(void **state)
{
        (void)state;
        assert_int_equal(fold(SCIM_ACT_TENANT_CREATE, "old", NULL, NULL, 1, 0,
                              NULL, 0),
                         201);
        assert_int_equal(scim_store_tenant_partition(st, "old"), -1);
        assert_int_equal(
            fold(SCIM_ACT_CREATE, "old", "a", NULL, 0, 1, NULL, 0), 201);
        assert_int_equal(
            fold(SCIM_ACT_CREATE, "old", "b", NULL, 0, 3, NULL, 0), 201);
        assert_int_equal(fold(SCIM_ACT_TENANT_UPDATE, "old", NULL,
                              "{\"partition\":1}", 1, 0, NULL, 0),
                         200);
        assert_int_equal(scim_store_tenant_partition(st, "old"), 1);
        assert_int_equal(
            fold(SCIM_ACT_CREATE, "old", "c", NULL, 0, 3, NULL, 0), 400);
        assert_int_equal(
            fold(SCIM_ACT_CREATE, "old", "c", NULL, 0, 1, NULL, 0), 201);
}

/* 3. hostile values: refused, nothing pinned */
static void test_bad_values(void **state)
{
        static const char *const bad[] = {
            "{\"partition\":-1}",   "{\"partition\":1024}",
            "{\"partition\":\"auto\"}", "{\"partition\":1.5}",
            "{\"partition\":null}", "{\"partition\":99999999999999999}",
            "{\"partition\":1,\"prune\":true}"};

        (void)state;
        assert_int_equal(fold(SCIM_ACT_TENANT_CREATE, "x", NULL,
                              "{\"partition\":1024}", 1, 0, NULL, 0),
                         400);
        assert_int_equal(scim_store_tenant_partition(st, "x"),
                         SCIM_TENANT_NONE);
        assert_int_equal(fold(SCIM_ACT_TENANT_CREATE, "x", NULL,
                              "{\"partition\":\"7\"}", 1, 0, NULL, 0),
                         400);
        assert_int_equal(fold(SCIM_ACT_TENANT_CREATE, "x", NULL, "not json",
                              1, 0, NULL, 0),
                         201); /* admin_json without a pin: unpinned */
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(fold(SCIM_ACT_TENANT_UPDATE, "x", NULL,
                                      bad[i], 1, 0, NULL, 0),
                                 400);
                assert_int_equal(scim_store_tenant_partition(st, "x"), -1);
        }
        assert_int_equal(fold(SCIM_ACT_TENANT_UPDATE, "ghost", NULL,
                              "{\"partition\":1}", 1, 0, NULL, 0),
                         404);
}

/* 4. administration stays on the admin partition of TENANT_CREATE */
static void test_admin_partition(void **state)
{
        char d[512];

        (void)state;
        assert_int_equal(fold(SCIM_ACT_TENANT_CREATE, "a", NULL,
                              "{\"partition\":0}", 1, 1, NULL, 0),
                         201);
        assert_int_equal(scim_store_tenant_admin_partition(st, "a"), 1);
        /* from another admin partition: as for an unknown tenant */
        assert_int_equal(fold(SCIM_ACT_TENANT_DISABLE, "a", NULL, NULL, 1, 2,
                              d, sizeof(d)),
                         404);
        assert_non_null(strstr(d, "does not exist on partition 2"));
        assert_int_equal(fold(SCIM_ACT_TENANT_DISABLE, "zz", NULL, NULL, 1, 2,
                              d, sizeof(d)),
                         404);
        assert_non_null(strstr(d, "does not exist on partition 2"));
        /* from its own: applied */
        assert_int_equal(fold(SCIM_ACT_TENANT_DISABLE, "a", NULL, NULL, 1, 1,
                              NULL, 0),
                         200);
        /* a duplicate create elsewhere changes nothing */
        assert_int_equal(fold(SCIM_ACT_TENANT_CREATE, "a", NULL, NULL, 1, 0,
                              NULL, 0),
                         409);
        assert_int_equal(scim_store_tenant_admin_partition(st, "a"), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_pinned_at_create, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_unpinned_then_pinned, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
            cmocka_unit_test_setup_teardown(test_admin_partition, setup,
                                            teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
