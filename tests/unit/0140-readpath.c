/*
 * 0140-readpath.c — the helpers the read path uses instead of stdio and
 * jansson (issue 13): scim_strjoin writes what snprintf("%s%s...") writes,
 * truncation included; scim_json_dump_string writes what dumping a
 * jansson string writes, and refuses what jansson refuses; and
 * scim_filter_index_exact says yes only for single eq filters whose index
 * hit implies the match (it is checked here against scim_filter_match on
 * resources whose index key equals the literal's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/scim_common.h"
#include "schemas/scim_schemas.h"

static void test_strjoin_like_snprintf(void **state)
{
        static const char *parts[] = {"", "a", "tenant", "https://host:8443",
                                      "/scim/v2/acme", "\xc3\xa9t\xc3\xa9",
                                      "0123456789abcdef0123456789abcdef"};
        const size_t np = sizeof(parts) / sizeof(parts[0]);

        (void)state;
        for (size_t cap = 0; cap < 80; cap++)
                for (size_t i = 0; i < np; i++)
                        for (size_t j = 0; j < np; j++)
                                for (size_t k = 0; k < np; k++) {
                                        char a[96], b[96];
                                        size_t n;
                                        int m;

                                        memset(a, 'x', sizeof(a));
                                        memset(b, 'x', sizeof(b));
                                        n = scim_strjoin(a, cap, parts[i],
                                                         parts[j], parts[k],
                                                         (char *)NULL);
                                        m = snprintf(b, cap, "%s%s%s",
                                                     parts[i], parts[j],
                                                     parts[k]);
                                        assert_memory_equal(a, b, sizeof(a));
                                        if (cap)
                                                assert_int_equal(
                                                    n, (size_t)m < cap
                                                           ? (size_t)m
                                                           : cap - 1);
                                        else
                                                assert_int_equal(n, 0);
                                }
}

static void dump_both(const char *s, size_t n)
{
        json_t *j = json_stringn(s, n);
        scim_buf_t a = {0}, b = {0};

        scim_buf_puts(&a, "pre");
        if (!j) {
                /* jansson refuses it: so does the direct writer, and the
                 * buffer is left as it was */
                assert_int_equal(scim_json_dump_string(s, n, &a), -1);
                assert_int_equal(a.len, 3);
                assert_string_equal(a.data, "pre");
        } else {
                assert_int_equal(scim_json_dump_string(s, n, &a), 0);
                scim_buf_puts(&b, "pre");
                assert_int_equal(scim_json_dump(j, &b), 0);
                assert_int_equal(a.len, b.len);
                assert_memory_equal(a.data, b.data, a.len);
        }
        json_decref(j);
        scim_buf_free(&a);
        scim_buf_free(&b);
}

/* scim_ct_equal (word at a time) agrees with memcmp for every length and
 * every position of a difference. */
static void test_ct_equal_like_memcmp(void **state)
{
        unsigned char a[80], b[80];

        (void)state;
        for (size_t i = 0; i < sizeof(a); i++)
                a[i] = b[i] = (unsigned char)(i * 37 + 11);
        for (size_t n = 0; n <= sizeof(a); n++) {
                assert_true(scim_ct_equal(a, b, n));
                for (size_t k = 0; k < n; k++) {
                        b[k] ^= (unsigned char)(1u << (k % 8));
                        assert_false(scim_ct_equal(a, b, n));
                        assert_true(scim_ct_equal(a, b, k)); /* before k */
                        b[k] = a[k];
                }
        }
        /* unaligned starts */
        assert_true(scim_ct_equal(a + 3, b + 3, 70));
        b[60] ^= 0x80;
        assert_false(scim_ct_equal(a + 3, b + 3, 70));
}

/* scim_json_dump_string against jansson's own json_dumps. */
static void dump_vs_jansson(const char *s, size_t n)
{
        json_t *j = json_stringn(s, n);
        char *want = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        scim_buf_t a = {0};

        assert_non_null(want);
        assert_int_equal(scim_json_dump_string(s, n, &a), 0);
        assert_string_equal(a.data, want);
        free(want);
        json_decref(j);
        scim_buf_free(&a);
}

static void test_dump_string_like_jansson(void **state)
{
        static const char *cases[] = {
            "", "plain", "https://h/scim/v2/t/Users/abc", "quote\"back\\slash",
            "ctl\x01\x1f\ttab\nnl\rcr\bbs\fff", "slash/", "\xc3\xa9t\xc3\xa9",
            "\xe2\x82\xac\xf0\x9f\x98\x80", "bad\xff", "bad\xc3", "\xed\xa0\x80",
            "\x7f"};

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                dump_both(cases[i], strlen(cases[i]));
        dump_both("nul\0inside", 10);
        {
                /* every single byte, and every pair of bytes */
                for (int x = 0; x < 256; x++) {
                        char s[2] = {(char)x, 0};

                        dump_both(s, 1);
                        for (int y = 0; y < 256; y += 7) {
                                char t[2] = {(char)x, (char)y};

                                dump_both(t, 2);
                        }
                }
        }
        {
                /* long strings that are mostly escapes (6 bytes for 1:
                 * the writer grows its buffer mid-string), escapes at
                 * every offset of the 8-byte blocks, and long plain runs */
                static char s[5000];

                for (size_t n = 1; n < sizeof(s); n = n * 3 + 1) {
                        for (size_t k = 0; k < n; k++)
                                s[k] = (char)(k % 3 ? 1 + k % 31 : 'a');
                        dump_both(s, n);
                        dump_vs_jansson(s, n);
                        for (size_t k = 0; k < n; k++)
                                s[k] = k % 11 == 5 ? '"' : 'x';
                        dump_both(s, n);
                        dump_vs_jansson(s, n);
                }
        }
}

static int exact(scim_rtype_t rt, const char *text)
{
        scim_filter_t *f = NULL;
        scim_err_t e;
        int r;

        scim_err_clear(&e);
        assert_int_equal(scim_filter_parse(rt, text, &f, &e), 0);
        r = scim_filter_index_exact(f, rt);
        scim_filter_free(f);
        return r;
}

static void test_index_exact_which(void **state)
{
        (void)state;
        assert_int_equal(exact(SCIM_RT_USER, "userName eq \"bjensen\""), 1);
        assert_int_equal(exact(SCIM_RT_USER, "id eq \"abc\""), 1);
        assert_int_equal(exact(SCIM_RT_GROUP, "id eq \"abc\""), 1);
        /* an and: the other side must still be evaluated */
        assert_int_equal(
            exact(SCIM_RT_USER, "userName eq \"b\" and active eq true"), 0);
        assert_int_equal(exact(SCIM_RT_USER, "userName ne \"b\""), 0);
        assert_int_equal(exact(SCIM_RT_USER, "userName sw \"b\""), 0);
        /* other indexes: candidates are still evaluated */
        assert_int_equal(exact(SCIM_RT_USER, "externalId eq \"x\""), 0);
        assert_int_equal(exact(SCIM_RT_USER, "emails.value eq \"x@y\""), 0);
        assert_int_equal(exact(SCIM_RT_GROUP, "displayName eq \"x\""), 0);
        assert_int_equal(exact(SCIM_RT_GROUP, "userName eq \"x\""), 0);
        /* the core schema's URN names the same attribute */
        assert_int_equal(exact(SCIM_RT_USER,
                               "urn:ietf:params:scim:schemas:core:2.0:User:"
                               "userName eq \"x\""),
                         1);
        assert_int_equal(scim_filter_index_exact(NULL, SCIM_RT_USER), 0);
}

/* Where index_exact says yes, every stored userName with the literal's
 * caseless key (the unique index key) matches the filter. */
static void test_index_exact_implies_match(void **state)
{
        static const char *pairs[][2] = {
            {"bjensen", "BJensen"},     {"Straße", "STRASSE"},
            {"ǅemal", "ǆEMAL"},         {"İstanbul", "i̇stanbul"},
            {"ＡＢＣ", "abc"},          {"café", "CAFÉ"},
            {"x@Example.COM", "X@example.com"}};

        (void)state;
        for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
                char *k1 = scim_casefold(pairs[i][0]);
                char *k2 = scim_casefold(pairs[i][1]);
                char text[200];
                scim_filter_t *f = NULL;
                scim_err_t e;
                json_t *res;

                assert_non_null(k1);
                assert_non_null(k2);
                if (strcmp(k1, k2) == 0) {
                        snprintf(text, sizeof(text), "userName eq \"%s\"",
                                 pairs[i][0]);
                        scim_err_clear(&e);
                        assert_int_equal(
                            scim_filter_parse(SCIM_RT_USER, text, &f, &e), 0);
                        assert_int_equal(
                            scim_filter_index_exact(f, SCIM_RT_USER), 1);
                        res = json_pack("{s:s,s:s}", "id", "1", "userName",
                                        pairs[i][1]);
                        assert_int_equal(scim_filter_match(f, res), 1);
                        json_decref(res);
                        scim_filter_free(f);
                }
                free(k1);
                free(k2);
        }
}

static int setup(void **state)
{
        char e[256];

        (void)state;
        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_strjoin_like_snprintf),
            cmocka_unit_test(test_dump_string_like_jansson),
            cmocka_unit_test(test_ct_equal_like_memcmp),
            cmocka_unit_test(test_index_exact_which),
            cmocka_unit_test(test_index_exact_implies_match),
        };

        return cmocka_run_group_tests(tests, setup, NULL);
}
