/*
 * 0400-patch.c — the PATCH engine on the shapes Entra and Okta send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/scim_ingest.h"

#define ENT SCIM_URN_ENTERPRISE

static const char *base_user =
    "{\"schemas\":[\"" SCIM_URN_USER "\"],\"userName\":\"u1\","
    "\"active\":true,\"emails\":[{\"type\":\"work\",\"value\":\"w@x\"}],"
    "\"" ENT "\":{\"department\":\"D\"}}";

static int setup(void **state)
{
        char e[256];

        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        return 0;
}

static int teardown(void **state)
{
        scim_schemas_shutdown();
        return 0;
}

/* Applies ops (a JSON array text) and returns the normalised result. */
static json_t *apply(const char *ops, scim_err_t *err)
{
        json_t *cur = json_loads(base_user, 0, NULL), *out = NULL, *norm = NULL;
        json_t *patch = json_pack("{s:[s], s:o}", "schemas", SCIM_URN_PATCHOP,
                                  "Operations", json_loads(ops, 0, NULL));
        int rc;

        scim_err_clear(err);
        rc = scim_patch_user(cur, patch, &out, err);
        if (rc == 0 &&
            scim_resource_normalize(SCIM_RT_USER, out, &norm, NULL, err) < 0)
                norm = NULL;
        json_decref(cur);
        json_decref(patch);
        json_decref(out);
        return norm;
}

static const char *s(json_t *o, const char *path)
{
        json_t *v = json_object_get(o, path);

        return json_string_value(v);
}

static void test_user_shapes(void **state)
{
        scim_err_t err;
        json_t *r;

        r = apply("[{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}]",
                  &err);
        assert_non_null(r);
        assert_true(json_is_false(json_object_get(r, "active")));
        json_decref(r);

        r = apply("[{\"op\":\"replace\",\"value\":{\"displayName\":\"A\","
                  "\"name.givenName\":\"B\",\"" ENT ":employeeNumber\":\"C\"}}]",
                  &err);
        assert_non_null(r);
        assert_string_equal(s(r, "displayName"), "A");
        assert_string_equal(s(json_object_get(r, "name"), "givenName"), "B");
        assert_string_equal(s(json_object_get(r, ENT), "employeeNumber"), "C");
        assert_string_equal(s(json_object_get(r, ENT), "department"), "D");
        json_decref(r);

        r = apply("[{\"op\":\"add\",\"path\":\"phoneNumbers[type eq "
                  "\\\"mobile\\\"].value\",\"value\":\"555\"},"
                  "{\"op\":\"replace\",\"path\":\"emails[type eq "
                  "\\\"work\\\"].value\",\"value\":\"new@x\"},"
                  "{\"op\":\"replace\",\"path\":\"addresses[type eq "
                  "\\\"work\\\"].locality\",\"value\":\"Oslo\"}]",
                  &err);
        assert_non_null(r);
        assert_string_equal(
            s(json_array_get(json_object_get(r, "phoneNumbers"), 0), "type"),
            "mobile");
        assert_string_equal(
            s(json_array_get(json_object_get(r, "emails"), 0), "value"), "new@x");
        assert_int_equal(json_array_size(json_object_get(r, "emails")), 1);
        assert_string_equal(
            s(json_array_get(json_object_get(r, "addresses"), 0), "locality"),
            "Oslo");
        json_decref(r);

        /* manager: list, bare string, empty string */
        r = apply("[{\"op\":\"Add\",\"path\":\"" ENT ":manager\",\"value\":"
                  "[{\"$ref\":null,\"value\":\"m1\"}]}]",
                  &err);
        assert_string_equal(
            s(json_object_get(json_object_get(r, ENT), "manager"), "value"),
            "m1");
        json_decref(r);
        r = apply("[{\"op\":\"replace\",\"path\":\"" ENT
                  ":manager\",\"value\":\"m2\"}]",
                  &err);
        assert_string_equal(
            s(json_object_get(json_object_get(r, ENT), "manager"), "value"),
            "m2");
        json_decref(r);
        r = apply("[{\"op\":\"replace\",\"path\":\"" ENT
                  ":manager\",\"value\":\"m2\"},{\"op\":\"replace\",\"path\":"
                  "\"" ENT ":manager\",\"value\":\"\"}]",
                  &err);
        assert_null(json_object_get(json_object_get(r, ENT), "manager"));
        json_decref(r);

        /* empty / null removes; Okta deactivate */
        r = apply("[{\"op\":\"replace\",\"path\":\"" ENT
                  ":department\",\"value\":null},{\"op\":\"replace\","
                  "\"value\":{\"active\":false}}]",
                  &err);
        assert_null(json_object_get(r, ENT));
        assert_true(json_is_false(json_object_get(r, "active")));
        json_decref(r);

        /* roles JSON in a string stays verbatim */
        r = apply("[{\"op\":\"add\",\"path\":\"roles\",\"value\":[{\"value\":"
                  "\"{\\\"a\\\":1}\",\"primary\":\"True\"}]}]",
                  &err);
        assert_string_equal(
            s(json_array_get(json_object_get(r, "roles"), 0), "value"),
            "{\"a\":1}");
        assert_true(json_is_true(
            json_object_get(json_array_get(json_object_get(r, "roles"), 0),
                            "primary")));
        json_decref(r);
}

static void test_user_errors(void **state)
{
        scim_err_t err;

        assert_null(apply("[{\"op\":\"jump\",\"path\":\"title\"}]", &err));
        assert_string_equal(err.scim_type, "invalidSyntax");
        assert_null(apply("[{\"op\":\"remove\"}]", &err));
        assert_string_equal(err.scim_type, "noTarget");
        assert_null(apply("[{\"op\":\"remove\",\"path\":\"userName\"}]", &err));
        assert_string_equal(err.scim_type, "mutability");
        assert_null(apply("[]", &err));
        assert_int_equal(err.status, 400);
        assert_null(apply("[{\"op\":\"add\",\"path\":\"emails[\",\"value\":1}]",
                          &err));
        assert_string_equal(err.scim_type, "invalidPath");
}

static void group(const char *ops, int *replace, json_t **removed,
                  json_t **added, json_t **attrs)
{
        json_t *cur = json_pack("{s:s}", "displayName", "G");
        json_t *patch = json_pack("{s:o}", "Operations", json_loads(ops, 0, NULL));
        scim_err_t err;

        assert_int_equal(scim_patch_group(cur, patch, attrs, replace, removed,
                                          added, &err),
                         0);
        json_decref(cur);
        json_decref(patch);
}

static void test_group_members(void **state)
{
        int rep;
        json_t *rm, *add, *attrs;

        group("[{\"op\":\"Add\",\"path\":\"members\",\"value\":[{\"$ref\":null,"
              "\"value\":\"a\"},{\"value\":\"b\",\"displayName\":\"B\"}]},"
              "{\"op\":\"Remove\",\"path\":\"members\",\"value\":[{\"value\":"
              "\"a\"}]},{\"op\":\"remove\",\"path\":\"members[value eq "
              "\\\"c\\\"]\"}]",
              &rep, &rm, &add, &attrs);
        assert_int_equal(rep, 0);
        assert_null(attrs);
        assert_int_equal(json_array_size(add), 1);
        assert_string_equal(s(json_array_get(add, 0), "value"), "b");
        assert_string_equal(s(json_array_get(add, 0), "display"), "B");
        assert_int_equal(json_array_size(rm), 2);
        json_decref(rm);
        json_decref(add);

        group("[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":"
              "\"x\"}]},{\"op\":\"remove\",\"path\":\"members\"},"
              "{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"H\"}]",
              &rep, &rm, &add, &attrs);
        assert_int_equal(rep, 1);
        assert_int_equal(json_array_size(add), 0);
        assert_string_equal(s(attrs, "displayName"), "H");
        json_decref(rm);
        json_decref(add);
        json_decref(attrs);

        group("[{\"op\":\"replace\",\"value\":{\"displayName\":\"R\","
              "\"members\":[{\"value\":\"z\"}]}}]",
              &rep, &rm, &add, &attrs);
        assert_int_equal(rep, 1);
        assert_string_equal(s(json_array_get(add, 0), "value"), "z");
        assert_string_equal(s(attrs, "displayName"), "R");
        json_decref(rm);
        json_decref(add);
        json_decref(attrs);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_user_shapes),
            cmocka_unit_test(test_user_errors),
            cmocka_unit_test(test_group_members),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
