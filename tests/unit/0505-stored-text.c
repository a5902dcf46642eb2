/*
 * 0505-stored-text.c — the stored form printed straight from a write's
 * attributes (projector/stored_text.c, replay) is byte for byte what
 * scim_json_dump writes of the tree the live fold builds from the same
 * arguments, or NULL where that is not certain (then replay builds the
 * tree): members left out (id, meta, members, schemas taken apart),
 * schemas absent or not an array, Unicode, escapes, control characters
 * and NUL inside strings, odd keys, reals and big integers, `created`
 * kept from the old resource (and one that is not a string), an id or
 * type name jansson refuses (not UTF-8), values nested around the
 * writer's depth limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

static json_t *J(const char *s)
{
        json_t *j = json_loads(s, JSON_ALLOW_NUL, NULL);

        assert_non_null(j);
        return j;
}

/* The tree's text, or NULL when the writer refuses it. */
static char *tree_text(const json_t *attrs, const char *id,
                       const scim_rtype_row_t *row, const json_t *old,
                       int64_t ms, int64_t ver)
{
        json_t *t = fold_build_stored(attrs, id, row, old, ms, ver);
        char *s = t ? scim_json_dumps(t) : NULL;

        json_decref(t);
        return s;
}

/* print == tree when print answers; returns 1 when it answered. */
static int same(const json_t *attrs, const char *id,
                const scim_rtype_row_t *row, const json_t *old, int64_t ms,
                int64_t ver)
{
        size_t len = 0;
        char *p = fold_print_stored(attrs, id, row, old, ms, ver, 0, &len);
        char *t = tree_text(attrs, id, row, old, ms, ver);

        if (p) {
                if (!t || strlen(t) != len || memcmp(p, t, len) != 0) {
                        fprintf(stderr, "print: %s\ntree:  %s\n", p,
                                t ? t : "(refused)");
                        fail();
                }
        }
        free(t);
        free(p);
        return p != NULL;
}

static const scim_rtype_row_t *user(void)
{
        return scim_rtype_row(SCIM_RT_USER);
}

static void test_members(void **state)
{
        const char *cases[] = {
            "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
            "\"userName\":\"a@b\",\"name\":{\"givenName\":\"A\"},"
            "\"emails\":[{\"value\":\"a@b\",\"primary\":true}],"
            "\"active\":false}",
            /* no schemas; id, meta, members left out wherever they are */
            "{\"id\":\"x\",\"userName\":\"u\",\"meta\":{\"version\":\"W/\\\"9\\\"\"},"
            "\"members\":[{\"value\":\"m\"}],\"title\":null}",
            /* schemas not an array: the type's schema */
            "{\"schemas\":\"urn:x\",\"userName\":\"u\"}",
            "{\"schemas\":[],\"userName\":\"u\"}",
            "{}",
            /* strings the writer escapes, Unicode, NUL */
            "{\"userName\":\"q\\\"b\\\\s\\n\\t\\u0001\\u001f\\u007f\","
            "\"displayName\":\"\\u00e9\\u4e2d\\ud83d\\ude00 long enough to be "
            "checked word by word\",\"nul\":\"a\\u0000b\",\"\":\"empty key\","
            "\"k\\\"ey\\u00e9\":1,\"e\":\"\"}",
            /* numbers */
            "{\"n\":-9223372036854775807,\"m\":9223372036854775807,"
            "\"r\":1.5,\"s\":-0.25e-7,\"z\":0,\"a\":[1,2.0,[],{},[[]]]}",
            /* an extension block */
            "{\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
            "{\"department\":\"d\",\"manager\":{\"value\":\"m\"}},\"userName\":"
            "\"u\"}",
        };
        json_t *old = J("{\"meta\":{\"created\":\"2020-01-01T00:00:00Z\","
                        "\"version\":\"W/\\\"3\\\"\"}}");
        json_t *old_nocreated = J("{\"meta\":{}}");

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_t *a = J(cases[i]);

                assert_true(same(a, "2819c223-7f76-453a-919d-413861904646",
                                 user(), NULL, 1700000000123LL, 1));
                assert_true(same(a, "id-\\\"quoted", user(), old,
                                 -62135596800000LL, 4));
                assert_true(same(a, "i", user(), old_nocreated, 0,
                                 INT64_MAX));
                assert_true(same(a, "g", scim_rtype_row(SCIM_RT_GROUP), old,
                                 1, 2));
                json_decref(a);
        }
        json_decref(old);
        json_decref(old_nocreated);
}

static void test_refusals(void **state)
{
        json_t *a = J("{\"userName\":\"u\"}");
        json_t *odd = J("{\"meta\":{\"created\":42}}");
        scim_rtype_row_t bad = *user();
        size_t len;
        char *p;

        (void)state;
        /* an id that is not UTF-8: the tree has no "id" member, the
         * printer leaves it to the tree */
        assert_false(same(a, "\xff\xfe", user(), NULL, 1, 1));
        /* a created that is not a string: the tree decides */
        assert_false(same(a, "i", user(), odd, 1, 1));
        /* a type name or schema jansson refuses */
        bad.name = "Us\xc3";
        assert_false(same(a, "i", &bad, NULL, 1, 1));
        bad = *user();
        bad.schema = "\xc0\x80";
        assert_false(same(a, "i", &bad, NULL, 1, 1));
        /* not an object */
        p = fold_print_stored(NULL, "i", user(), NULL, 1, 1, 0, &len);
        assert_null(p);
        json_decref(a);
        json_decref(odd);
}

/* {"deep":[[...[1]...]]} with n arrays around the 1. */
static json_t *deep(int n)
{
        json_t *v = json_integer(1), *o = json_object();

        for (int i = 0; i < n; i++) {
                json_t *a = json_array();

                json_array_append_new(a, v);
                v = a;
        }
        json_object_set_new(o, "deep", v);
        return o;
}

static void test_depth(void **state)
{
        (void)state;
        /* the writer refuses past depth 128 of the whole object; the
         * value sits at 1: 127 arrays around a scalar print, 128 do not */
        for (int n = 120; n <= 132; n++) {
                json_t *a = deep(n);
                char *t = tree_text(a, "i", user(), NULL, 1, 1);
                int printed = same(a, "i", user(), NULL, 1, 1);

                if (!t)
                        assert_false(printed);
                else
                        assert_true(printed);
                free(t);
                json_decref(a);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_members),
            cmocka_unit_test(test_refusals),
            cmocka_unit_test(test_depth),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
