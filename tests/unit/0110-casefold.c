/*
 * 0110-casefold.c — Unicode caseless keys (common/casefold.c) and the
 * filter operators that use them on caseExact=false attributes: ß/SS,
 * final sigma, titlecase digraphs, fullwidth forms, combining marks, the
 * ASCII fast path, caller buffers too small, and caseExact attributes that
 * must stay exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/scim_common.h"
#include "schemas/scim_schemas.h"

static void key_is(const char *in, const char *want)
{
        char *k = scim_casefold(in);

        assert_non_null(k);
        assert_string_equal(k, want);
        free(k);
}

static void test_keys(void **state)
{
        key_is("Alice@Example.COM", "alice@example.com");
        key_is("", "");
        key_is("Straße", "strasse");
        key_is("STRASSE", "strasse");
        key_is("ΟΔΥΣΣΕΥΣ", "οδυσσευσ");
        key_is("Οδυσσεύς", "οδυσσεύσ"); /* final sigma folds to σ */
        key_is("ǅemal", "džemal");         /* titlecase digraph */
        key_is("ＡＢＣ", "abc");            /* fullwidth: NFKC */
        key_is("Émile", "émile");
        key_is("E\xcc\x81mile", "émile"); /* E + combining acute */
        key_is("İstanbul", "i\xcc\x87stanbul");
}

static void test_eq(void **state)
{
        assert_true(scim_caseeq("Straße", "STRASSE"));
        assert_true(scim_caseeq("straße", "strasse"));
        assert_true(scim_caseeq("ÅSA", "åsa"));
        assert_true(scim_caseeq("Bob", "bOB"));
        assert_false(scim_caseeq("Bob", "Bobby"));
        assert_false(scim_caseeq("Straße", "Strase"));
        assert_false(scim_caseeq("a", NULL));
        assert_true(scim_caseeq(NULL, NULL));
}

static void test_buffers(void **state)
{
        char buf[8];
        size_t n = 0;
        char *k;

        /* fits: written into buf */
        k = scim_casefold_n("ABC", 3, buf, sizeof(buf), &n);
        assert_ptr_equal(k, buf);
        assert_int_equal(n, 3);
        assert_string_equal(k, "abc");
        k = scim_casefold_n("ßß", 4, buf, sizeof(buf), &n);
        assert_ptr_equal(k, buf);
        assert_string_equal(k, "ssss");
        /* too long for buf: malloc'd */
        k = scim_casefold_n("ßßßßß", 10, buf, sizeof(buf), &n);
        assert_ptr_not_equal(k, buf);
        assert_int_equal(n, 10);
        assert_string_equal(k, "ssssssssss");
        free(k);
        k = scim_casefold_n("ABCDEFGHIJ", 10, buf, sizeof(buf), &n);
        assert_ptr_not_equal(k, buf);
        assert_string_equal(k, "abcdefghij");
        free(k);
        /* not UTF-8 (never stored: JSON is checked first): the bad byte
         * becomes U+FFFD, deterministically */
        k = scim_casefold_n("A\xff", 2, NULL, 0, &n);
        assert_non_null(k);
        assert_int_equal(n, 4);
        assert_memory_equal(k, "a\xef\xbf\xbd", 4);
        free(k);
}

static json_t *user;

static int m(const char *f)
{
        scim_filter_t *flt = NULL;
        scim_err_t err;
        int r;

        scim_err_clear(&err);
        if (scim_filter_parse(SCIM_RT_USER, f, &flt, &err) < 0)
                fail_msg("parse failed for %s: %s", f, err.detail);
        r = scim_filter_match(flt, user);
        scim_filter_free(flt);
        return r;
}

static void test_filters(void **state)
{
        char e[256];

        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        user = json_loads("{\"userName\":\"Jürgen.Straße@Example.com\","
                          "\"displayName\":\"ΟΔΥΣΣΕΥΣ\","
                          "\"externalId\":\"Straße\","
                          "\"emails\":[{\"value\":\"ＪＯ@example.com\"}]}",
                          0, NULL);
        assert_non_null(user);
        assert_true(m("userName eq \"JÜRGEN.STRASSE@EXAMPLE.COM\""));
        assert_false(m("userName ne \"jürgen.strasse@example.com\""));
        assert_true(m("userName sw \"jürgen.STRASS\""));
        assert_true(m("userName co \"STRASSE@\""));
        assert_true(m("userName ew \"SSE@example.COM\""));
        assert_false(m("userName co \"strase\""));
        assert_true(m("displayName eq \"Οδυσσεύς\"") == 0); /* accent */
        assert_true(m("displayName eq \"οδυσσευς\""));
        assert_true(m("displayName gt \"α\""));
        assert_true(m("emails.value eq \"jo@EXAMPLE.com\""));
        assert_true(m("emails[value sw \"Jo@\"]"));
        /* externalId is caseExact: exact bytes only */
        assert_true(m("externalId eq \"Straße\""));
        assert_false(m("externalId eq \"STRASSE\""));
        assert_false(m("externalId eq \"straße\""));
        /* long values take the allocating path */
        json_object_set_new(
            user, "nickName",
            json_string("Überlange-Überschrift-mit-vielen-Zeichen-und-noch-"
                        "mehr-Zeichen-damit-der-Puffer-nicht-reicht-"
                        "und-noch-ein-bisschen-mehr-Text-hinten-dran-"
                        "und-noch-ein-bisschen-mehr-Text-hinten-dran-"
                        "und-noch-ein-bisschen-mehr-Text-hinten-dran-"
                        "ENDE-STRASSE"));
        assert_true(m("nickName ew \"ende-straße\""));
        assert_true(m("nickName sw \"ÜBERLANGE\""));
        json_decref(user);
        scim_schemas_shutdown();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_keys),
            cmocka_unit_test(test_eq),
            cmocka_unit_test(test_buffers),
            cmocka_unit_test(test_filters),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
