/*
 * 0320-limits.c — scim_resource_limits names the attribute at fault by its
 * dotted path (built only when a limit is hit): nested objects, values in
 * arrays, long keys cut at 120 characters, depth, and nothing refused
 * within the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

static json_t *long_string(size_t n)
{
        char *s = malloc(n + 1);
        json_t *j;

        assert_non_null(s);
        memset(s, 'x', n);
        s[n] = '\0';
        j = json_string(s);
        free(s);
        return j;
}

static void expect_detail(json_t *res, int status, const char *detail)
{
        scim_err_t e;

        scim_err_clear(&e);
        assert_int_equal(scim_resource_limits(res, 100, &e), -1);
        assert_int_equal(e.status, status);
        assert_string_equal(e.detail, detail);
        json_decref(res);
}

static void test_paths(void **state)
{
        char key[300], want[400];
        json_t *res, *o;
        scim_err_t e;

        (void)state;
        /* a nested string */
        res = json_pack("{s:s, s:{s:{s:o}}}", "userName", "u", "urn:x:User",
                        "manager", "value",
                        long_string(SCIM_MAX_STRING_BYTES + 1));
        snprintf(want, sizeof(want),
                 "attribute 'urn:x:User.manager.value' is %d bytes; at most "
                 "%d bytes per value",
                 SCIM_MAX_STRING_BYTES + 1, SCIM_MAX_STRING_BYTES);
        expect_detail(res, 400, want);
        /* a value inside an array of objects: the path has no index */
        res = json_pack("{s:[{s:s},{s:o}]}", "emails", "value", "a@x.org",
                        "value", long_string(SCIM_MAX_STRING_BYTES + 5));
        snprintf(want, sizeof(want),
                 "attribute 'emails.value' is %d bytes; at most %d bytes per "
                 "value",
                 SCIM_MAX_STRING_BYTES + 5, SCIM_MAX_STRING_BYTES);
        expect_detail(res, 400, want);
        /* too many values, at the top */
        o = json_array();
        for (int i = 0; i <= SCIM_MAX_VALUES; i++)
                json_array_append_new(o, json_integer(i));
        res = json_pack("{s:o}", "roles", o);
        snprintf(want, sizeof(want),
                 "attribute 'roles' has %d values; at most %d",
                 SCIM_MAX_VALUES + 1, SCIM_MAX_VALUES);
        expect_detail(res, 400, want);
        /* a 250-character key: the message shows its first 120 */
        memset(key, 'k', 250);
        key[250] = '\0';
        res = json_pack("{s:{s:o}}", "a", key,
                        long_string(SCIM_MAX_STRING_BYTES + 1));
        snprintf(want, sizeof(want),
                 "attribute 'a.%.118s' is %d bytes; at most %d bytes per "
                 "value",
                 key, SCIM_MAX_STRING_BYTES + 1, SCIM_MAX_STRING_BYTES);
        expect_detail(res, 400, want);
        /* depth: objects nested past the limit */
        o = json_string("deep");
        for (int i = SCIM_MAX_RESOURCE_DEPTH + 1; i >= 1; i--) {
                char k[8];

                snprintf(k, sizeof(k), "d%d", i);
                o = json_pack("{s:o}", k, o);
        }
        expect_detail(o, 400,
                      SCIM_MAX_RESOURCE_DEPTH == 8
                          ? "attribute 'd1.d2.d3.d4.d5.d6.d7.d8.d9' nests "
                            "deeper than 8 levels"
                          : e.detail);
        /* within every limit */
        res = json_pack("{s:s, s:[{s:s}], s:{s:o}}", "userName", "bjensen",
                        "emails", "value", "b@x.org", "urn:x:User", "note",
                        long_string(SCIM_MAX_STRING_BYTES));
        scim_err_clear(&e);
        assert_int_equal(scim_resource_limits(res, 100, &e), 0);
        json_decref(res);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_paths),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
