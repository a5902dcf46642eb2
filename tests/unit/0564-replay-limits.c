/*
 * 0564-replay-limits.c — the size limits of a stored resource
 * (scim_resource_limits: a string value, a multi-valued attribute, the
 * nesting, the whole resource) are the fold's for events ingest did not
 * check (another producer's, written to Kafka): the live fold refuses
 * them, and a replay must refuse the same events the same way, although
 * its reader parses every event's resource ahead of the fold.
 *
 * The history: a tenant, a valid user, then events a producer other than
 * ingest wrote (decoded from their Avro form, as the projector reads
 * them), each over one limit, and valid events between them. Folded live
 * in batches of 3; replayed with the default batches and in batches of
 * 1; every replay's digest must be the live one, and the live verdicts
 * must be the refusals (400 for a value, 413 for the whole resource).
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
#include "tests/unit/unit_harness.h"

#define MAXEV 16

static char base[512];
static scim_event_t evs[MAXEV];
static scim_buf_t enc[MAXEV];
static int want_status[MAXEV];
static size_t nev;

/* Adds an event as another producer writes it: encoded, then decoded
 * (the projector's C form: the current writer schema, nothing parsed). */
static void add(scim_action_t act, const char *id, const char *json,
                int status)
{
        scim_event_t e;
        scim_err_t err;

        assert_true(nev < MAXEV);
        e = unit_event(act, act == SCIM_ACT_TENANT_CREATE ? 0 : SCIM_RT_USER,
                       "t1", id, json, 1767225600000LL + (int64_t)nev * 1000);
        memset(&enc[nev], 0, sizeof(enc[nev]));
        scim_err_clear(&err);
        assert_int_equal(scim_event_encode(&e, &enc[nev], &err), 0);
        scim_event_clear(&e);
        memset(&evs[nev], 0, sizeof(evs[nev]));
        assert_int_equal(
            scim_event_decode(enc[nev].data, enc[nev].len, &evs[nev], &err), 0);
        assert_true(evs[nev].schema_version >= 3); /* limits apply */
        assert_null(evs[nev].resource_parsed);
        want_status[nev] = status;
        nev++;
}

/* {"userName":NAME,"title":"xxx..."} with n x's (malloc'd) */
static char *user_with_title(const char *name, size_t n)
{
        size_t cap = n + strlen(name) + 64, o;
        char *t = malloc(cap);

        assert_non_null(t);
        o = (size_t)snprintf(t, cap, "{\"userName\":\"%s\",\"title\":\"",
                             name);
        memset(t + o, 'x', n);
        memcpy(t + o + n, "\"}", 3);
        return t;
}

static void build(void)
{
        char *js;
        scim_buf_t b = {0};

        add(SCIM_ACT_TENANT_CREATE, NULL, NULL, 0);
        add(SCIM_ACT_CREATE, "u1", "{\"userName\":\"one@example.com\"}", 201);

        /* one string value over SCIM_MAX_STRING_BYTES */
        js = user_with_title("two@example.com", SCIM_MAX_STRING_BYTES + 1);
        add(SCIM_ACT_CREATE, "u2", js, 400);
        free(js);
        /* exactly at it: stored */
        js = user_with_title("three@example.com", SCIM_MAX_STRING_BYTES);
        add(SCIM_ACT_CREATE, "u3", js, 201);
        free(js);

        /* a replacement with more values than SCIM_MAX_VALUES */
        scim_buf_puts(&b, "{\"userName\":\"one@example.com\",\"emails\":[");
        for (int i = 0; i <= SCIM_MAX_VALUES; i++) {
                char v[64];

                snprintf(v, sizeof(v), "%s{\"value\":\"e%d@example.com\"}",
                         i ? "," : "", i);
                scim_buf_puts(&b, v);
        }
        scim_buf_puts(&b, "]}");
        add(SCIM_ACT_REPLACE, "u1", b.data, 400);
        b.len = 0;

        /* nested deeper than SCIM_MAX_RESOURCE_DEPTH */
        scim_buf_puts(&b, "{\"userName\":\"four@example.com\",\"x\":");
        for (int i = 0; i <= SCIM_MAX_RESOURCE_DEPTH + 1; i++)
                scim_buf_puts(&b, "{\"a\":");
        scim_buf_puts(&b, "1");
        for (int i = 0; i <= SCIM_MAX_RESOURCE_DEPTH + 1; i++)
                scim_buf_puts(&b, "}");
        scim_buf_puts(&b, "}");
        add(SCIM_ACT_CREATE, "u4", b.data, 400);
        b.len = 0;

        /* the whole resource over SCIM_MAX_RESOURCE_BYTES, every value
         * under the string limit */
        scim_buf_puts(&b, "{\"userName\":\"five@example.com\"");
        for (int i = 0; i < 5; i++) {
                char k[32];

                snprintf(k, sizeof(k), ",\"attr%d\":\"", i);
                scim_buf_puts(&b, k);
                for (int j = 0; j < 30000; j++)
                        scim_buf_puts(&b, "y");
                scim_buf_puts(&b, "\"");
        }
        scim_buf_puts(&b, "}");
        add(SCIM_ACT_CREATE, "u5", b.data, 413);
        scim_buf_free(&b);

        /* valid events after the refusals */
        add(SCIM_ACT_REPLACE, "u1",
            "{\"userName\":\"one@example.com\",\"title\":\"after\"}", 200);
        add(SCIM_ACT_CREATE, "u2", "{\"userName\":\"two@example.com\"}", 201);
}

static int setup(void **state)
{
        char e[256];

        (void)state;
        unit_tmpdir(base, sizeof(base), "replaylimits");
        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        build();
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_events_free(evs, enc, nev);
        unit_rmtree(base);
        scim_schemas_shutdown();
        return 0;
}

static void test_replay_refuses_as_live(void **state)
{
        static int status[MAXEV];
        char dir[700], want[65], d[65];
        scim_store_t *live, *r;
        scim_err_t err;

        (void)state;
        snprintf(dir, sizeof(dir), "%s/live", base);
        live = unit_store_open(dir);
        unit_fold_batches(live, enc, evs, nev, 3, status);
        for (size_t i = 1; i < nev; i++)
                if (status[i] != want_status[i])
                        fail_msg("live event %zu: status %d, want %d", i,
                                 status[i], want_status[i]);
        scim_err_clear(&err);
        assert_int_equal(scim_store_digest(live, want, &err), 0);

        snprintf(dir, sizeof(dir), "%s/replay-default", base);
        r = unit_replay_into(live, dir, 0, d);
        assert_string_equal(want, d);
        scim_store_close(r);

        snprintf(dir, sizeof(dir), "%s/replay-1", base);
        r = unit_replay_into(live, dir, 1, d);
        assert_string_equal(want, d);
        scim_store_close(r);
        scim_store_close(live);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_replay_refuses_as_live),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
