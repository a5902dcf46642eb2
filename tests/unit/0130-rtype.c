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

        /* a type of the tenant's own needs an endpoint and a schema */
        def = json_loads("{\"resourceTypes\": [{\"name\": \"Users\"}]}", 0,
                         NULL);
        m = NULL;
        assert_int_equal(scim_model_compile(def, 1, &m, &err), -1);
        assert_int_equal(err.status, 400);
        assert_null(m);
        json_decref(def);
}


/* A definition with two types of the tenant's own, as a JSON text with
 * the Role type first or second. */
static const char *ROLE_TEAM =
    "{\"schemas\": ["
    " {\"id\": \"urn:acme:params:scim:schemas:core:2.0:Role\","
    "  \"attributes\": [{\"name\": \"name\", \"required\": true,"
    "                    \"uniqueness\": \"server\"},"
    "                   {\"name\": \"level\", \"type\": \"integer\","
    "                    \"default\": 1}]},"
    " {\"id\": \"urn:acme:params:scim:schemas:core:2.0:Team\","
    "  \"attributes\": [{\"name\": \"displayName\"}]},"
    " {\"id\": \"urn:acme:params:scim:schemas:extension:x:2.0:User\","
    "  \"attributes\": [{\"name\": \"role\", \"catalog\": \"Role.name\"},"
    "                   {\"name\": \"team\", \"catalog\": \"Team.displayName\"},"
    "                   {\"name\": \"boss\", \"catalog\": \"User.userName\"}]}],"
    " \"resourceTypes\": ["
    "  {\"name\": \"User\", \"schemaExtensions\": [{\"schema\":"
    "    \"urn:acme:params:scim:schemas:extension:x:2.0:User\"}]},"
    "  {\"name\": \"Role\", \"endpoint\": \"/Roles\","
    "   \"schema\": \"urn:acme:params:scim:schemas:core:2.0:Role\"},"
    "  {\"name\": \"Team\", \"endpoint\": \"/Teams\","
    "   \"schema\": \"urn:acme:params:scim:schemas:core:2.0:Team\"}]}";

static scim_model_t *compile_text(const char *txt, const json_t *codes,
                                  scim_err_t *err)
{
        json_t *def = json_loads(txt, 0, NULL);
        scim_model_t *m = NULL;

        assert_non_null(def);
        memset(err, 0, sizeof(*err));
        scim_model_compile_codes(def, codes, 1, &m, err);
        json_decref(def);
        return m;
}

static void test_tenant_types(void **state)
{
        scim_err_t err;
        scim_model_t *m = compile_text(ROLE_TEAM, NULL, &err);
        const scim_rtype_row_t *rows[8], *role, *team;
        json_t *codes;

        (void)state;
        assert_non_null(m);
        role = scim_model_rtype_by_endpoint(m, "roles");
        team = scim_model_rtype_by_name(m, "team");
        assert_non_null(role);
        assert_non_null(team);
        assert_string_equal(role->name, "Role");
        assert_string_equal(role->endpoint, "/Roles");
        assert_string_equal(role->schema,
                            "urn:acme:params:scim:schemas:core:2.0:Role");
        assert_true(scim_rtype_is_tenant(role->code));
        assert_true(scim_rtype_is_tenant(team->code));
        assert_int_not_equal(role->code, team->code);
        assert_ptr_equal(scim_model_rtype(m, role->code), role);
        assert_true(has(role->required, "name"));
        assert_true(has(role->unique, "name"));
        assert_true(has(role->indexed, "externalId"));
        assert_true(has(role->indexed, "name")); /* unique: indexed */
        assert_false(has(role->indexed, "level"));
        assert_int_equal(role->membership, SCIM_MEMBERSHIP_NONE);
        assert_true(scim_model_enabled(m, role->code));
        assert_int_equal(scim_model_rtypes(m, rows, 8), 4);
        /* the built-in lookups do not see a tenant's types */
        assert_null(scim_rtype_by_endpoint("Roles"));
        assert_null(scim_model_rtype_by_endpoint(NULL, "Roles"));
        assert_null(scim_model_rtype(NULL, role->code));
        /* the advertised documents carry them */
        {
                json_t *d = scim_model_resource_types_doc(m);
                char *t = json_dumps(d, 0);

                assert_non_null(strstr(t, "\"/Roles\""));
                free(t);
                json_decref(d);
        }
        /* the codes are kept: a later definition listing Team first keeps
         * both codes; a new type gets a letter nobody had */
        codes = json_deep_copy(scim_model_codes(m));
        {
                scim_rtype_t rc = role->code, tc = team->code;
                scim_model_t *m2;
                char *swapped = calloc(1, strlen(ROLE_TEAM) + 32);
                char *r;

                strcpy(swapped, ROLE_TEAM);
                r = strstr(swapped, "{\"name\": \"Role\"");

                /* rename Role -> Rank: a new name, a new code (the
                 * reference to Role.name goes to Team.displayName) */
                memcpy(r + 10, "Rank", 4);
                {
                        char *ref = strstr(swapped, "\"Role.name\"");

                        memmove(ref + 18, ref + 11, strlen(ref + 11) + 1);
                        memcpy(ref, "\"Team.displayName\"", 18);
                }
                m2 = compile_text(swapped, codes, &err);
                assert_non_null(m2);
                assert_int_equal(scim_model_rtype_by_name(m2, "Team")->code,
                                 tc);
                assert_int_not_equal(
                    scim_model_rtype_by_name(m2, "Rank")->code, rc);
                assert_int_not_equal(
                    scim_model_rtype_by_name(m2, "Rank")->code, tc);
                /* the map still names Role's code */
                assert_non_null(
                    json_object_get(scim_model_codes(m2), "Role"));
                scim_model_unref(m2);
                free(swapped);
        }
        json_decref(codes);
        scim_model_unref(m);
}

static void expect_400(const char *txt, const char *needle)
{
        scim_err_t err;
        scim_model_t *m = compile_text(txt, NULL, &err);

        assert_null(m);
        assert_int_equal(err.status, 400);
        if (!strstr(err.detail, needle))
                fail_msg("'%s' not in '%s'", needle, err.detail);
}

static void test_tenant_type_errors(void **state)
{
        (void)state;
        expect_400("{\"resourceTypes\": [{\"name\": \"Role\"}]}", "endpoint");
        expect_400("{\"schemas\": [{\"id\": \"urn:a:b:c:Role\", \"attributes\": []}],"
                   "\"resourceTypes\": [{\"name\": \"Role\", \"endpoint\": \"/Users\","
                   "\"schema\": \"urn:a:b:c:Role\"}]}",
                   "taken");
        expect_400("{\"resourceTypes\": [{\"name\": \"Role\", \"endpoint\": \"/Roles\","
                   "\"schema\": \"urn:a:b:c:Nope\"}]}",
                   "core schema");
        expect_400("{\"schemas\": [{\"id\": \"urn:a:b:c:Role\", \"attributes\": []}],"
                   "\"resourceTypes\": [{\"name\": \"user\", \"endpoint\": \"/Roles\","
                   "\"schema\": \"urn:a:b:c:Role\"}]}",
                   "built in");
        expect_400("{\"schemas\": [{\"id\": \"urn:a:b:c:Role\", \"attributes\": ["
                   "{\"name\": \"id\"}]}],"
                   "\"resourceTypes\": [{\"name\": \"Role\", \"endpoint\": \"/Roles\","
                   "\"schema\": \"urn:a:b:c:Role\"}]}",
                   "common");
        expect_400("{\"schemas\": [{\"id\": \"urn:a:b:c:Role\", \"attributes\": ["
                   "{\"name\": \"x\", \"catalog\": \"Nope.name\"}]}],"
                   "\"resourceTypes\": [{\"name\": \"Role\", \"endpoint\": \"/Roles\","
                   "\"schema\": \"urn:a:b:c:Role\"}]}",
                   "no resource type");
        expect_400("{\"schemas\": [{\"id\": \"urn:a:b:c:Role\", \"attributes\": ["
                   "{\"name\": \"x\", \"catalog\": \"Role.x\"}]}],"
                   "\"resourceTypes\": [{\"name\": \"Role\", \"endpoint\": \"/Roles\","
                   "\"schema\": \"urn:a:b:c:Role\"}]}",
                   "uniqueness server");
        expect_400("{\"storageCodes\": {\"Role\": \"a\", \"Team\": \"a\"}}",
                   "storageCodes");
        expect_400("{\"storageCodes\": {\"Role\": \"Z\"}}", "storageCodes");
        {
                /* 16 names ever: the 17th is refused */
                json_t *codes = json_object();
                scim_err_t err;
                scim_model_t *m;

                for (int i = 0; i < 16; i++) {
                        char k[8], v[2] = {(char)('a' + i), 0};

                        snprintf(k, sizeof(k), "T%d", i);
                        json_object_set_new(codes, k, json_string(v));
                }
                m = compile_text(
                    "{\"schemas\": [{\"id\": \"urn:a:b:c:Role\", \"attributes\": []}],"
                    "\"resourceTypes\": [{\"name\": \"Role\", \"endpoint\": \"/Roles\","
                    "\"schema\": \"urn:a:b:c:Role\"}]}",
                    codes, &err);
                assert_null(m);
                assert_int_equal(err.status, 400);
                assert_non_null(strstr(err.detail, "at most 16"));
                json_decref(codes);
        }
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
            cmocka_unit_test(test_tenant_types),
            cmocka_unit_test(test_tenant_type_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
