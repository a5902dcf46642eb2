/*
 * 0150-json-dump.c — the fast JSON writer and reader agree with jansson:
 * scim_json_dump writes exactly what json_dumps(JSON_COMPACT |
 * JSON_ENCODE_ANY) writes (escapes, control characters, embedded NULs,
 * UTF-8, integer limits, reals, nesting, insertion order) and refuses
 * nesting past its ceiling; scim_json_load accepts and refuses what
 * json_loadb(0) does and builds equal values.
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

/* The writer scans plain bytes eight at a time: every byte that needs an
 * escape (and the bytes next to the ranges the word test looks at: 0x1f,
 * 0x20, '!', '#', '[', ']', 0x7f, 0x80, 0xff in UTF-8) at every offset of
 * strings of 1..40 bytes, alone and next to a second one. */
static void test_escapes_at_every_offset(void **state)
{
        static const char *specials[] = {"\x01", "\x1f", " ", "!", "\"",
                                          "#", "\\", "[", "]", "\x7f",
                                          "\xc2\x80", "\xc3\xbf", "\t",
                                          "\n"};
        (void)state;
        for (size_t n = 1; n <= 40; n++)
                for (size_t at = 0; at < n; at++)
                        for (size_t s = 0;
                             s < sizeof(specials) / sizeof(*specials); s++) {
                                char buf[64];
                                size_t sl = strlen(specials[s]);
                                json_t *j;

                                memset(buf, 'a', n);
                                memcpy(buf + at, specials[s],
                                       at + sl <= n ? sl : n - at);
                                if (at + 9 < n)
                                        buf[at + 9] = '"';
                                buf[n] = '\0';
                                /* the UTF-8 pair may be cut at the end:
                                 * jansson refuses that, so skip it */
                                j = json_string(buf);
                                if (!j)
                                        continue;
                                same_as_jansson(j);
                                json_decref(j);
                        }
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

/* Both parsers agree: same acceptance, equal values, same key order. */
static void load_agrees(const char *text, size_t len, int expect_ok)
{
        json_error_t e;
        json_t *want = json_loadb(text, len, 0, &e);
        json_t *got = scim_json_load(text, len);

        assert_int_equal(!!want, expect_ok);
        assert_int_equal(!!got, expect_ok);
        if (want) {
                char *a = json_dumps(want, JSON_COMPACT);
                char *b = json_dumps(got, JSON_COMPACT);

                assert_true(json_equal(want, got));
                assert_string_equal(a, b);
                free(a);
                free(b);
        }
        json_decref(want);
        json_decref(got);
}

static void test_load(void **state)
{
        static const struct {
                const char *text;
                int ok;
        } cases[] = {
            {"{}", 1},
            {" [ ] ", 1},
            {"{\"a\":1,\"a\":2,\"b\":[true,false,null]}", 1},
            {"{\"a\":1,\"\":2,\"a\":3}", 1}, /* empty key after "a" */
            {"[\"\\ud83d\\ude00\\u00e9\\/\\b\\f\\n\\r\\t\"]", 1},
            {"[9223372036854775807,-9223372036854775808,-0,-0.0,1e-400]", 1},
            {"[1.5,2E+3,7e-2]", 1},
            {"[\"caf\xc3\xa9\"]", 1},
            {"", 0},
            {"1", 0},
            {"\"s\"", 0},
            {"[9223372036854775808]", 0},
            {"[1e400]", 0},
            {"[01]", 0},
            {"[1.]", 0},
            {"[.5]", 0},
            {"[-]", 0},
            {"[\"\\ud800\"]", 0},
            {"[\"\\udc00\"]", 0},
            {"[\"\\u0000\"]", 0},
            {"{\"a\\u0000\":1}", 0},
            {"[\"\x01\"]", 0},
            {"[\"\xc0\xaf\"]", 0},
            {"[\"\xed\xa0\x80\"]", 0},
            {"[\"\xf4\x90\x80\x80\"]", 0},
            {"[\"abc]", 0},
            {"[1,]", 0},
            {"{\"a\":1,}", 0},
            {"{\"a\" 1}", 0},
            {"[truex]", 0},
            {"[nul]", 0},
            {"{} x", 0},
            {"\xef\xbb\xbf{}", 0},
        };
        char *deep;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                load_agrees(cases[i].text, strlen(cases[i].text), cases[i].ok);
        load_agrees("[1,\0]", 5, 0); /* NUL byte in the text */
        /* jansson's one quirk: it skips a NUL right after a number; the
         * fast parser refuses it */
        {
                json_error_t e;
                json_t *j = json_loadb("[10\0,2]", 7, 0, &e);

                assert_non_null(j);
                json_decref(j);
                assert_null(scim_json_load("[10\0,2]", 7));
        }
        /* depth: every value counts; 2048 is the last accepted level */
        deep = malloc(2 * 2049 + 2);
        for (int d = 2047; d <= 2049; d++) {
                size_t n = 0;

                for (int i = 0; i < d; i++)
                        deep[n++] = '[';
                for (int i = 0; i < d; i++)
                        deep[n++] = ']';
                load_agrees(deep, n, d <= 2048);
        }
        free(deep);
}

/* The string lexer skips plain bytes eight at a time: every byte that
 * ends such a run (quote, backslash escape, control, DEL, UTF-8 lead and
 * continuation, invalid UTF-8) at every offset of a long string, in a
 * key and in a value, is accepted or refused as jansson does. */
static void test_load_string_offsets(void **state)
{
        static const char *const special[] = {
            "\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "\x01", "\x1f",
            "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3",
            "\xff", "\x80", "\"", " ", "~"};
        char text[128];

        (void)state;
        for (size_t s = 0; s < sizeof(special) / sizeof(special[0]); s++)
                for (size_t at = 0; at <= 24; at++)
                        for (int in_key = 0; in_key < 2; in_key++) {
                                size_t n = 0, sl = strlen(special[s]);

                                n += (size_t)snprintf(text + n, sizeof(text) - n,
                                                      in_key ? "{\"" : "[\"");
                                for (size_t i = 0; i < at; i++)
                                        text[n++] = (char)('a' + i % 26);
                                memcpy(text + n, special[s], sl);
                                n += sl;
                                for (size_t i = 0; i < 19; i++)
                                        text[n++] = (char)('A' + i % 26);
                                n += (size_t)snprintf(text + n, sizeof(text) - n,
                                                      in_key ? "\":1}" : "\"]");
                                {
                                        json_error_t e;
                                        json_t *j = json_loadb(text, n, 0, &e);

                                        load_agrees(text, n, j != NULL);
                                        json_decref(j);
                                }
                        }
}

/* Two escapes at every pair of offsets (the writer copies a block's plain
 * bytes up to its first escape, then goes on from the byte after it),
 * beside bytes >= 0x80 (a borrow in the word test must not hide or move
 * an escape), and a resource text escaped whole (a quote every few
 * bytes, as in a sealed payload). */
static void test_dense_escapes(void **state)
{
        static const char sp[] = {'"', '\\', '\n', '\x01', '\x1f', 'a'};
        const char *doc = "{\"schemas\":[\"urn:ietf:params:scim:schemas:"
                          "core:2.0:User\"],\"id\":\"01a2\",\"userName\":"
                          "\"b@x\",\"a\":\"\\\"\\\\\",\"e\":\"\xc3\xa9\"}";
        json_t *j;

        (void)state;
        for (size_t n = 2; n <= 24; n++)
                for (size_t a = 0; a < n; a++)
                        for (size_t b = a + 1; b < n; b++)
                                for (size_t x = 0; x < sizeof(sp); x++)
                                        for (size_t y = 0; y < sizeof(sp);
                                             y++) {
                                                char buf[32];

                                                memset(buf, 'b', n);
                                                if (n > 4)
                                                        buf[n - 1] = '\x7f';
                                                if (a >= 2) {
                                                        buf[a - 2] = '\xc3';
                                                        buf[a - 1] = '\xa9';
                                                }
                                                buf[a] = sp[x];
                                                buf[b] = sp[y];
                                                buf[n] = '\0';
                                                j = json_stringn(buf, n);
                                                assert_non_null(j);
                                                same_as_jansson(j);
                                                json_decref(j);
                                        }
        j = json_string(doc);
        assert_non_null(j);
        same_as_jansson(j);
        json_decref(j);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_documents),
            cmocka_unit_test(test_embedded_nul_and_keys),
            cmocka_unit_test(test_escapes_at_every_offset),
            cmocka_unit_test(test_dense_escapes),
            cmocka_unit_test(test_appends_and_depth_ceiling),
            cmocka_unit_test(test_load),
            cmocka_unit_test(test_load_string_offsets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
