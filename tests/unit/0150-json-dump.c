/*
 * 0150-json-dump.c — scim_json_dump writes exactly what jansson's
 * json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) writes: escapes, control
 * characters, embedded NULs, UTF-8, integers at the limits, reals, nesting
 * and insertion order; and refuses nesting past its ceiling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

static void same_as_jansson(const json_t *j)
{
        char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        char *got = scim_json_dumps(j);

        assert_non_null(want);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(want);
        free(got);
}

static void test_documents(void **state)
{
        static const char *docs[] = {
            "{}",
            "[]",
            "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
            "{\"z\":1,\"a\":2,\"m\":3}",
            "[\"q\\\"uote\",\"back\\\\slash\",\"sl/ash\",\"\\b\\f\\n\\r\\t\"]",
            "[\"\\u0001\\u001f\\u007f\",\"caf\\u00e9 \\u65e5\\u672c "
            "\\ud83d\\ude00\"]",
            "[9223372036854775807,-9223372036854775808,0,-1,10]",
            "[1.5,-0.25,1e300,3.0,0.1,123456789.123456789]",
            "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
            "\"userName\":\"bjensen@example.com\",\"name\":{\"givenName\":"
            "\"Barbara\"},\"emails\":[{\"type\":\"work\",\"value\":\"b@x\","
            "\"primary\":true}],\"meta\":{\"version\":\"W/\\\"3\\\"\"}}",
            "\"just a string\"",
            "42",
        };

        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
                json_error_t e;
                json_t *j = json_loads(docs[i], JSON_DECODE_ANY, &e);

                assert_non_null(j);
                same_as_jansson(j);
                json_decref(j);
        }
}

static void test_embedded_nul_and_keys(void **state)
{
        json_t *o = json_object();

        json_object_set_new(o, "k\"ey\n", json_stringn("a\0b", 3));
        json_object_set_new(o, "", json_string(""));
        same_as_jansson(o);
        json_decref(o);
}

static void test_appends_and_depth_ceiling(void **state)
{
        scim_buf_t b = {0};
        json_t *deep = json_array(), *cur = deep;

        scim_buf_puts(&b, "prefix:");
        assert_int_equal(scim_json_dump(json_true(), &b), 0);
        assert_string_equal(b.data, "prefix:true");
        for (int i = 0; i < 200; i++) {
                json_t *n = json_array();

                json_array_append_new(cur, n);
                cur = n;
        }
        assert_int_equal(scim_json_dump(deep, &b), -1);
        assert_string_equal(b.data, "prefix:true"); /* unchanged */
        assert_null(scim_json_dumps(deep));
        assert_null(scim_json_dumps(NULL));
        json_decref(deep);
        scim_buf_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_documents),
            cmocka_unit_test(test_embedded_nul_and_keys),
            cmocka_unit_test(test_appends_and_depth_ceiling),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
