/*
 * 0572-erase-incarnations.c — a tenant's data keys across its deletion
 * and re-creation, live and in a replay (projector/erase.c; found by the
 * differential test 0571):
 *
 * - A key made while the tenant did not exist (an event of the deleted
 *   tenant sealed after the deletion landed) became the current key of
 *   the tenant's next incarnation, which sealed its data with it. A
 *   replay copies every key first, and the first incarnation's deletion
 *   erased that key too (it belonged to no incarnation): the replay
 *   skipped the new incarnation's events, its users were gone. Keys now
 *   record the log position before which they did not exist (`since`),
 *   and a deletion erases the keys made before it was folded.
 * - An event sealed with the current key just before the deletion landed,
 *   folded after it: the live fold refused it (the tenant is gone) and
 *   kept the refusal's record, a replay found its key erased and skipped
 *   it. The live fold now checks the key too: 404, nothing written.
 *
 * Each case: the live fold's verdicts, then replay's digest against it.
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
#include "projector/scim_projector.h"
#include "tests/unit/history_gen.h"
#include "tests/unit/unit_harness.h"

#define MAXEV 16

static char base[512];
static scim_event_t evs[MAXEV];
static scim_buf_t enc[MAXEV];
static size_t nev;

static int setup(void **state)
{
        char e[256];

        (void)state;
        unit_tmpdir(base, sizeof(base), "eraseinc");
        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_rmtree(base);
        scim_schemas_shutdown();
        return 0;
}

/* Adds an event of tenant tn (decoded form, encoded in enc). */
static scim_event_t *add(scim_action_t act, const char *tn, const char *id,
                         const char *json)
{
        scim_event_t *e = &evs[nev];
        scim_err_t err;

        assert_true(nev < MAXEV);
        *e = unit_event(act, id ? SCIM_RT_USER : 0, tn, id, json,
                        1767225600000LL + (int64_t)nev * 60000);
        e->schema_version = 3;
        memset(&enc[nev], 0, sizeof(enc[nev]));
        assert_int_equal(scim_event_encode(e, &enc[nev], &err), 0);
        nev++;
        return e;
}

/* Adds a refusal ingest logs for tenant tn (status, detail). */
static void add_refusal(const char *tn, const char *id, const char *json,
                        int status, const char *detail)
{
        scim_event_t *r = add(SCIM_ACT_REFUSED, tn, id, json);
        scim_err_t err;

        r->refused_status = status;
        r->refused_detail = strdup(detail);
        enc[nev - 1].len = 0;
        assert_int_equal(scim_event_encode(r, &enc[nev - 1], &err), 0);
}

/* Seals events [from, to) with st's keys now, as ingest logs them. */
static void seal(scim_store_t *st, size_t from, size_t to)
{
        for (size_t i = from; i < to; i++)
                assert_int_equal(hg_seal_for_log(st, &evs[i], &enc[i]), 0);
}

/* Folds events [from, to) in one batch; returns the last one's status. */
static int fold(scim_store_t *st, size_t from, size_t to, int *status)
{
        unit_fold_batches(st, enc + from, evs + from, to - from, to - from,
                          status + from);
        return status[to - 1];
}

static void replay_equal(scim_store_t *live, const char *name)
{
        char dir[700], want[65], got[65];
        scim_store_t *r;
        scim_err_t err;

        assert_int_equal(scim_store_digest(live, want, &err), 0);
        snprintf(dir, sizeof(dir), "%s/%s", base, name);
        r = unit_replay_into(live, dir, 0, got);
        assert_string_equal(want, got);
        scim_store_close(r);
}

/* A new store at base/name with tenant tn and one sealed user in it
 * (events 0 and 1). */
static scim_store_t *start(const char *name, const char *tn, const char *uid)
{
        int status[2];
        char dir[700], js[80];
        scim_store_t *live;

        nev = 0;
        snprintf(dir, sizeof(dir), "%s/%s", base, name);
        live = unit_store_open(dir);
        add(SCIM_ACT_TENANT_CREATE, tn, NULL, NULL);
        assert_int_equal(fold(live, 0, 1, status), 201);
        snprintf(js, sizeof(js), "{\"userName\":\"%s@example.com\"}", uid);
        add(SCIM_ACT_CREATE, tn, uid, js);
        seal(live, 1, 2);
        assert_int_equal(fold(live, 1, 2, status), 201);
        return live;
}

static void test_key_made_while_gone(void **state)
{
        int status[MAXEV];
        scim_store_t *live = start("gone", "tb", "u1");
        size_t u2;

        (void)state;
        add(SCIM_ACT_TENANT_DELETE, "tb", NULL, NULL);
        assert_int_equal(fold(live, 2, 3, status), 204);
        /* a refusal of the deleted tenant, sealed after its deletion
         * landed: the tenant's next key is made now */
        add_refusal("tb", "u9", "{\"userName\":\"nine@example.com\"}", 401,
                    "token revoked");
        seal(live, 3, 4);
        assert_non_null(evs[3].sealed_json);
        (void)fold(live, 3, 4, status);
        /* the next incarnation seals with that key */
        add(SCIM_ACT_TENANT_CREATE, "tb", NULL, NULL);
        assert_int_equal(fold(live, 4, 5, status), 201);
        u2 = nev;
        add(SCIM_ACT_CREATE, "tb", "u2", "{\"userName\":\"two@example.com\"}");
        seal(live, u2, u2 + 1);
        assert_string_equal(evs[u2].key_id, evs[3].key_id);
        assert_int_equal(fold(live, u2, u2 + 1, status), 201);
        replay_equal(live, "gone-replayed"); /* u2 was lost before */
        scim_store_close(live);
        unit_events_free(evs, enc, nev);
}

static void test_sealed_before_delete_landed(void **state)
{
        int status[MAXEV];
        scim_store_t *live = start("race", "ta", "x1");

        (void)state;
        /* one batch: the deletion, then a write and a refusal sealed
         * before it landed (with the key it erases) */
        add(SCIM_ACT_TENANT_DELETE, "ta", NULL, NULL);
        add(SCIM_ACT_CREATE, "ta", "x2", "{\"userName\":\"x2@example.com\"}");
        add_refusal("ta", "x3", "{\"userName\":\"x3@example.com\"}", 409,
                    "userName x3@example.com is taken");
        seal(live, 2, 5);
        assert_string_equal(evs[3].key_id, evs[1].key_id);
        assert_int_equal(fold(live, 2, 5, status), 404);
        assert_int_equal(status[2], 204);
        assert_int_equal(status[3], 404);
        replay_equal(live, "race-replayed");
        scim_store_close(live);
        unit_events_free(evs, enc, nev);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_key_made_while_gone),
            cmocka_unit_test(test_sealed_before_delete_landed),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
