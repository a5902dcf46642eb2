/*
 * 0130-rtype.c — the resource-type table (model/rtype.c): the built-in
 * rows and their lookups (by code, name, endpoint in any case, with or
 * without the slash), rows agreeing with the advertised /ResourceTypes
 * document, and a tenant's table following what its definition enables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/scim_model.h"

static int has(const char *const *list, const char *name)
{
        for (; list && *list; list++)
                if (!strcmp(*list, name))
                        return 1;
        return 0;
}

static void test_builtin_rows(void **state)
{
        const scim_rtype_row_t *u = scim_rtype_row(SCIM_RT_USER);
        const scim_rtype_row_t *g = scim_rtype_row(SCIM_RT_GROUP);

        (void)state;
        assert_int_equal(scim_rtype_count(), 2);
        assert_ptr_equal(scim_rtype_at(0), u);
        assert_ptr_equal(scim_rtype_at(1), g);
        assert_null(scim_rtype_at(2));
        assert_string_equal(u->name, "User");
        assert_string_equal(u->endpoint, "/Users");
        assert_string_equal(u->schema, SCIM_URN_USER);
        assert_int_equal(u->code, SCIM_RT_USER);
        assert_true(has(u->required, "userName"));
        assert_true(has(u->unique, "userName"));
        assert_true(has(u->indexed, "emails.value"));
        assert_int_equal(u->membership, SCIM_MEMBERSHIP_MEMBER);
        assert_string_equal(g->name, "Group");
        assert_string_equal(g->endpoint, "/Groups");
        assert_string_equal(g->schema, SCIM_URN_GROUP);
        assert_true(has(g->required, "displayName"));
        assert_false(has(g->unique, "displayName"));
        assert_false(has(g->indexed, "userName"));
        assert_int_equal(g->membership, SCIM_MEMBERSHIP_CONTAINER);
        assert_null(scim_rtype_row(SCIM_RT_CUSTOM));
        assert_null(scim_rtype_row(0));
        assert_null(scim_rtype_row((scim_rtype_t)'X'));
}

static void test_lookups(void **state)
{
        const scim_rtype_row_t *u = scim_rtype_row(SCIM_RT_USER);
        const scim_rtype_row_t *g = scim_rtype_row(SCIM_RT_GROUP);

        (void)state;
        assert_ptr_equal(scim_rtype_by_endpoint("Users"), u);
        assert_ptr_equal(scim_rtype_by_endpoint("/Users"), u);
        assert_ptr_equal(scim_rtype_by_endpoint("USERS"), u);
        assert_ptr_equal(scim_rtype_by_endpoint("groups"), g);
        assert_null(scim_rtype_by_endpoint("User"));
        assert_null(scim_rtype_by_endpoint("Users/"));
        assert_null(scim_rtype_by_endpoint("/"));
        assert_null(scim_rtype_by_endpoint(""));
        assert_null(scim_rtype_by_endpoint("Roles"));
        assert_null(scim_rtype_by_endpoint(NULL));
        assert_ptr_equal(scim_rtype_by_name("User"), u);
        assert_ptr_equal(scim_rtype_by_name("Group"), g);
        assert_null(scim_rtype_by_name("user")); /* the id is case-exact */
        assert_null(scim_rtype_by_name("Users"));
        assert_null(scim_rtype_by_name(NULL));
        assert_string_equal(scim_rtype_name(SCIM_RT_USER), "User");
        assert_string_equal(scim_rtype_name(SCIM_RT_GROUP), "Group");
        assert_null(scim_rtype_name(SCIM_RT_CUSTOM));
}

/* Every row is advertised with its endpoint and schema, and nothing else
 * is. */
static void test_rows_match_discovery(void **state)
{
        json_t *doc = scim_model_resource_types_doc(NULL), *rt;
        size_t i;

        (void)state;
        assert_non_null(doc);
        assert_int_equal(json_array_size(doc), scim_rtype_count());
        json_array_foreach(doc, i, rt)
        {
                const char *name = json_string_value(json_object_get(rt, "name"));
                const scim_rtype_row_t *row = scim_rtype_by_name(name);

                assert_non_null(row);
                assert_string_equal(
                    json_string_value(json_object_get(rt, "endpoint")),
                    row->endpoint);
                assert_string_equal(
                    json_string_value(json_object_get(rt, "schema")),
                    row->schema);
        }
        json_decref(doc);
}

static void test_tenant_table(void **state)
{
        const scim_rtype_row_t *rows[4];
        scim_model_t *m = NULL;
        scim_err_t err = {0};
        json_t *def = json_loads(
            "{\"resourceTypes\": [{\"name\": \"Group\", \"enabled\": false}]}",
            0, NULL);

        (void)state;
        assert_int_equal(scim_model_rtypes(NULL, rows, 4), 2);
        assert_ptr_equal(rows[0], scim_rtype_row(SCIM_RT_USER));
        assert_ptr_equal(rows[1], scim_rtype_row(SCIM_RT_GROUP));
        assert_int_equal(scim_model_rtypes(NULL, rows, 1), 1);
        assert_int_equal(scim_model_rtypes(NULL, rows, 0), 0);
        assert_int_equal(scim_model_compile(def, 1, &m, &err), 0);
        assert_int_equal(scim_model_rtypes(m, rows, 4), 1);
        assert_ptr_equal(rows[0], scim_rtype_row(SCIM_RT_USER));
        scim_model_unref(m);
        json_decref(def);

        /* a name that is no row of the table is refused by the compiler */
        def = json_loads("{\"resourceTypes\": [{\"name\": \"Users\"}]}", 0,
                         NULL);
        m = NULL;
        assert_int_equal(scim_model_compile(def, 1, &m, &err), -1);
        assert_int_equal(err.status, 400);
        assert_null(m);
        json_decref(def);
}

int main(void)
{
        char e[256];

        if (scim_schemas_init(e, sizeof(e)) < 0) {
                fprintf(stderr, "schemas: %s\n", e);
                return 1;
        }
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_builtin_rows),
            cmocka_unit_test(test_lookups),
            cmocka_unit_test(test_rows_match_discovery),
            cmocka_unit_test(test_tenant_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
