/*
 * 0460-ingest-refusals.c — writes answered at once with a 4xx become
 * REFUSED events in the log (for reports) without the client waiting:
 * each carries the status, scimType, detail, attempted action, the body's
 * SHA-256 and the request's userName; 429/5xx are not logged; a burst of
 * bad writes is either logged or counted as dropped, never both, never
 * lost silently; report-only tokens and saved report events go through
 * the same committer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/scim_ingest.h"
#include "tests/unit/unit_harness.h"

typedef struct fixture {
        char dir[512];
        scim_store_t *st;
        scim_ingest_t *ing;
} fixture_t;

static int setup(void **state)
{
        fixture_t *f = calloc(1, sizeof(*f));
        char errstr[256];
        scim_err_t err;

        unit_tmpdir(f->dir, sizeof(f->dir), "refusals");
        assert_int_equal(scim_schemas_init(errstr, sizeof(errstr)), 0);
        assert_int_equal(
            scim_store_open(f->dir, &f->st, errstr, sizeof(errstr)), 0);
        assert_int_equal(
            scim_ingest_new(f->st, &f->ing, errstr, sizeof(errstr)), 0);
        scim_err_clear(&err);
        assert_int_equal(scim_ingest_admin(f->ing, SCIM_ACT_TENANT_CREATE, "t1",
                                           NULL, NULL, NULL, 0, &err),
                         0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        fixture_t *f = *state;
        scim_ingest_destroy(f->ing);
        scim_store_close(f->st);
        unit_rmtree(f->dir);
        scim_schemas_shutdown();
        free(f);
        return 0;
}

/* Submits a write that must be answered at once with `status`. */
static void refused(fixture_t *f, scim_action_t act, const char *id,
                    const char *body, int status)
{
        scim_write_t w;
        scim_write_result_t now;

        memset(&w, 0, sizeof(w));
        w.tenant = "t1";
        w.actor = "abcdef0123456789";
        w.request_id = "req-1";
        w.rtype = SCIM_RT_USER;
        w.action = act;
        w.id = id;
        w.body = body;
        w.body_len = body ? strlen(body) : 0;
        assert_int_equal(scim_ingest_submit(f->ing, &w, NULL, NULL, &now), 0);
        assert_int_equal(now.status, status);
}

/* Waits (bounded) until the views reach position pos. */
static void wait_position(fixture_t *f, uint64_t pos)
{
        for (int i = 0; i < 2000 && scim_store_position(f->st) < pos; i++)
                usleep(5000);
        assert_true(scim_store_position(f->st) >= pos);
}

static void test_refusal_events_carry_the_answer(void **state)
{
        fixture_t *f = *state;
        uint64_t p0 = scim_store_position(f->st);
        json_t *rec = NULL;
        scim_err_t err;

        refused(f, SCIM_ACT_CREATE, NULL,
                "{\"userName\":\"=cmd\",\"active\":\"maybe\"}", 400);
        refused(f, SCIM_ACT_PATCH, "ghost",
                "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:"
                "PatchOp\"],\"Operations\":[]}",
                404);
        wait_position(f, p0 + 2);
        assert_int_equal(scim_changes_get(f->st, "t1", p0 + 1, &rec, &err), 0);
        assert_string_equal(json_string_value(json_object_get(rec, "action")),
                            "refused");
        assert_string_equal(
            json_string_value(json_object_get(rec, "eventAction")), "create");
        assert_int_equal(json_integer_value(json_object_get(rec, "status")),
                         400);
        assert_string_equal(json_string_value(json_object_get(rec, "scimType")),
                            "invalidValue");
        assert_string_equal(json_string_value(json_object_get(rec, "userName")),
                            "=cmd");
        assert_string_equal(json_string_value(json_object_get(rec, "actor")),
                            "abcdef0123456789");
        assert_string_equal(
            json_string_value(json_object_get(rec, "requestId")), "req-1");
        assert_true(json_is_null(json_object_get(rec, "id")));
        json_decref(rec);
        assert_int_equal(scim_changes_get(f->st, "t1", p0 + 2, &rec, &err), 0);
        assert_string_equal(json_string_value(json_object_get(rec, "id")),
                            "ghost");
        assert_string_equal(
            json_string_value(json_object_get(rec, "eventAction")), "patch");
        assert_int_equal(json_integer_value(json_object_get(rec, "status")),
                         404);
        json_decref(rec);
}

static void test_burst_logged_or_counted(void **state)
{
        fixture_t *f = *state;
        uint64_t p0 = scim_store_position(f->st), dropped0, dropped;
        const int n = 3000;

        dropped0 = scim_ingest_refusals_dropped(f->ing);
        for (int i = 0; i < n; i++)
                refused(f, SCIM_ACT_CREATE, NULL, "{", 400);
        dropped = scim_ingest_refusals_dropped(f->ing) - dropped0;
        wait_position(f, p0 + (uint64_t)n - dropped);
        /* every refusal is either in the log or counted as dropped */
        usleep(50000);
        assert_int_equal(scim_store_position(f->st) - p0 + dropped,
                         (uint64_t)n);
}

static void test_saved_report_and_scoped_token(void **state)
{
        fixture_t *f = *state;
        scim_err_t err;
        int status = 0;
        char *secret = NULL, tid[64], tenant[80], tok[64];
        int ro = 0;
        json_t *def = NULL;

        scim_err_clear(&err);
        assert_int_equal(
            scim_ingest_report_def(f->ing, SCIM_ACT_REPORT_SAVE, "t1",
                                   "abcdef0123456789", "r", "weekly",
                                   "{\"format\":\"csv\"}", &status, &err),
            0);
        assert_int_equal(status, 201);
        assert_int_equal(
            scim_reports_saved_get(f->st, "t1", "weekly", &def, &err), 0);
        assert_string_equal(
            json_string_value(json_object_get(def, "updatedBy")),
            "abcdef0123456789");
        json_decref(def);
        assert_int_equal(scim_ingest_report_def(f->ing, SCIM_ACT_REPORT_SAVE,
                                                "t1", "a", "r", "weekly", "[1]",
                                                &status, &err),
                         -1);
        assert_int_equal(status, 400);
        assert_int_equal(scim_ingest_report_def(f->ing, SCIM_ACT_REPORT_DELETE,
                                                "nope", "a", "r", "weekly",
                                                NULL, &status, &err),
                         -1);
        assert_int_equal(status, 404);
        assert_int_equal(scim_ingest_admin_scoped(
                             f->ing, SCIM_ACT_TOKEN_ISSUE, "t1", NULL,
                             "reports", &secret, tid, sizeof(tid), &err),
                         0);
        assert_int_equal(scim_store_auth_scoped(f->st, secret, tenant,
                                                sizeof(tenant), tok,
                                                sizeof(tok), &ro),
                         1);
        assert_int_equal(ro, 1);
        assert_string_equal(tenant, "t1");
        assert_string_equal(tok, tid);
        free(secret);
        secret = NULL;
        assert_int_equal(scim_ingest_admin(f->ing, SCIM_ACT_TOKEN_ISSUE, "t1",
                                           NULL, &secret, tid, sizeof(tid),
                                           &err),
                         0);
        assert_int_equal(scim_store_auth_scoped(f->st, secret, tenant,
                                                sizeof(tenant), tok,
                                                sizeof(tok), &ro),
                         1);
        assert_int_equal(ro, 0);
        free(secret);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(
                test_refusal_events_carry_the_answer, setup, teardown),
            cmocka_unit_test_setup_teardown(test_burst_logged_or_counted, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_saved_report_and_scoped_token,
                                            setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
