/*
 * 0200-filter.c — the SCIM filter and path parser: grammar, precedence,
 * the shapes Entra and the Microsoft conformance collection send,
 * evaluation rules, index hints and errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

static json_t *user;

static int setup(void **state)
{
        char e[256];

        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        user = json_loads(
            "{\"schemas\":[\"" SCIM_URN_USER "\"],\"id\":\"abc\","
            "\"externalId\":\"jYoung\",\"userName\":\"Alice@Example.com\","
            "\"active\":true,\"displayName\":\"Alice Liddell\","
            "\"name\":{\"familyName\":\"Employee\",\"givenName\":\"Alice\"},"
            "\"emails\":[{\"type\":\"work\",\"value\":\"a@example.com\","
            "\"primary\":true},{\"type\":\"home\",\"value\":\"a@home.org\"}],"
            "\"roles\":[{\"value\":\"admin\",\"primary\":true}],"
            "\"" SCIM_URN_ENTERPRISE "\":{\"department\":\"Sales\","
            "\"manager\":{\"value\":\"m1\"}},"
            "\"meta\":{\"resourceType\":\"User\",\"created\":"
            "\"2026-11-22T10:00:00.000Z\",\"lastModified\":"
            "\"2026-11-22T10:00:00.000Z\",\"version\":\"W/\\\"1\\\"\"}}",
            0, NULL);
        assert_non_null(user);
        return 0;
}

static int teardown(void **state)
{
        json_decref(user);
        scim_schemas_shutdown();
        return 0;
}

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

static void test_matches(void **state)
{
        assert_true(m("userName eq \"alice@example.com\""));
        assert_true(m("UserName EQ \"ALICE@EXAMPLE.COM\""));
        assert_true(m("urn:ietf:params:scim:schemas:core:2.0:User:userName "
                      "eq \"alice@example.com\""));
        assert_true(m("externalId eq jYoung"));
        assert_false(m("externalId eq jyoung")); /* caseExact */
        assert_true(m("emails[type eq \"work\"].value eq \"a@example.com\""));
        assert_false(m("emails[type eq \"home\"].value eq \"a@example.com\""));
        assert_true(m("emails.Value co example.com"));
        assert_true(m("name.FamilyName eq Employee and (emails.Value co "
                      "example.com or emails.Value co example.org)"));
        assert_true(m("userName sw A"));
        assert_true(m("userName ew \".COM\""));
        assert_true(m("meta.Created gt 2015-10-10T14:38:21.8617979-07:00"));
        assert_false(m("meta.created gt 2026-11-22T11:00:00+02:00") == 0);
        assert_false(m("meta.created lt 2026-11-22T10:00:00Z"));
        assert_true(m("active eq true"));
        assert_true(m("active eq \"True\""));
        assert_true(m("roles[primary eq \"True\"].value eq admin"));
        assert_true(m("title pr") == 0);
        assert_true(m("displayName pr"));
        assert_true(m("not (title pr)"));
        assert_true(m("urn:ietf:params:scim:schemas:extension:enterprise:2.0:"
                      "User:manager.value eq m1"));
        assert_true(m("urn:ietf:params:scim:schemas:extension:enterprise:2.0:"
                      "User:department eq sales"));
        assert_true(m("title ne x"));
        /* and binds tighter than or */
        assert_true(m("userName eq x or userName sw a and active eq true"));
        assert_false(m("(userName eq x or userName sw a) and active eq false"));
        assert_true(m("emails[type eq \"work\" and primary eq true]"));
        assert_true(m("id eq abc and urn:ietf:params:scim:schemas:extension:"
                      "enterprise:2.0:User:manager eq m1"));
}

static void test_errors(void **state)
{
        const char *bad[] = {"", "userName", "userName eq", "userName zz 1",
                             "(userName eq 1", "emails[type eq 1",
                             "userName eq \"unterminated", "and", ")"};
        char big[SCIM_MAX_FILTER_LEN + 10];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                scim_filter_t *f = NULL;
                scim_err_t err;

                scim_err_clear(&err);
                assert_int_equal(scim_filter_parse(SCIM_RT_USER, bad[i], &f, &err),
                                 -1);
                assert_null(f);
                assert_int_equal(err.status, 400);
                assert_string_equal(err.scim_type, "invalidFilter");
        }
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        {
                scim_filter_t *f = NULL;
                scim_err_t err;

                assert_int_equal(scim_filter_parse(SCIM_RT_USER, big, &f, &err),
                                 -1);
        }
}

static void test_hints(void **state)
{
        struct {
                const char *f;
                scim_index_t ix;
                const char *v;
        } cases[] = {
            {"userName eq \"Bob\"", SCIM_IDX_USERNAME, "Bob"},
            {"externalId eq jyoung", SCIM_IDX_EXTERNALID, "jyoung"},
            {"emails[type eq \"work\"].value eq \"x@y\"", SCIM_IDX_EMAIL, "x@y"},
            {"emails.value eq \"x@y\"", SCIM_IDX_EMAIL, "x@y"},
            {"displayName eq G", SCIM_IDX_DISPLAYNAME, "G"},
            {"id eq X and manager eq Y", SCIM_IDX_ID, "X"},
            {"active eq true and userName eq u", SCIM_IDX_USERNAME, "u"},
            {"userName eq a or userName eq b", SCIM_IDX_NONE, NULL},
            {"userName co a", SCIM_IDX_NONE, NULL},
            {"not (userName eq a)", SCIM_IDX_NONE, NULL},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                scim_filter_t *f = NULL;
                scim_err_t err;
                const char *v = NULL;

                assert_int_equal(
                    scim_filter_parse(SCIM_RT_USER, cases[i].f, &f, &err), 0);
                assert_int_equal(scim_filter_index_hint(f, SCIM_RT_USER, &v),
                                 cases[i].ix);
                if (cases[i].v)
                        assert_string_equal(v, cases[i].v);
                scim_filter_free(f);
        }
}

static void test_paths(void **state)
{
        scim_path_t *p = NULL;
        scim_err_t err;

        assert_int_equal(scim_path_parse(SCIM_RT_USER,
                                         "emails[type eq \"work\"].Value", &p,
                                         &err),
                         0);
        assert_string_equal(p->attr, "emails");
        assert_string_equal(p->sub, "value");
        assert_non_null(p->filter);
        assert_true(scim_filter_match_element(
            p->filter, json_array_get(json_object_get(user, "emails"), 0)));
        scim_path_free(p);
        assert_int_equal(
            scim_path_parse(SCIM_RT_USER,
                            "urn:ietf:params:scim:schemas:extension:enterprise:"
                            "2.0:User:Department",
                            &p, &err),
            0);
        assert_string_equal(p->urn, SCIM_URN_ENTERPRISE);
        assert_string_equal(p->attr, "department");
        scim_path_free(p);
        assert_int_equal(scim_path_parse(SCIM_RT_USER,
                                         "urn:ietf:params:scim:schemas:core:"
                                         "2.0:User:userName",
                                         &p, &err),
                         0);
        assert_null(p->urn);
        assert_string_equal(p->attr, "userName");
        scim_path_free(p);
        assert_int_equal(scim_path_parse(SCIM_RT_GROUP, "members[value eq \"x\"]",
                                         &p, &err),
                         0);
        scim_path_free(p);
        assert_int_equal(scim_path_parse(SCIM_RT_USER, "emails[", &p, &err), -1);
        assert_string_equal(err.scim_type, "invalidPath");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_matches),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_hints),
            cmocka_unit_test(test_paths),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
