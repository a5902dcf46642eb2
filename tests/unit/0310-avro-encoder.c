/*
 * 0310-avro-encoder.c — the direct Avro encoder (scim_event_encode) writes
 * the same bytes as avro-c's generic values (scim_event_encode_avroc) for
 * every shape of event: each optional string NULL, empty or long (lengths
 * across varint boundaries), every action and resource type, members with
 * and without display names, empty and long member arrays, negative and
 * large longs; both refuse the same events; and what it writes decodes to
 * the event it was given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/schemas_internal.h"
#include "schemas/scim_schemas.h"
#include "tests/unit/unit_harness.h"

static int setup(void **state)
{
        char errstr[256];

        (void)state;
        if (scim_event_init(errstr, sizeof(errstr))) {
                fprintf(stderr, "scim_event_init: %s\n", errstr);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        scim_event_shutdown();
        return 0;
}

/* unit_rand's state: the same sequence on every run */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

/* NULL, "", or a UTF-8 string whose length is picked around the varint
 * boundaries (63/64 bytes: one/two length bytes; 8191/8192: two/three). */
static char *rnd_text(int nullable)
{
        static const size_t lens[] = {0,   1,   5,   63,   64,   65,  127,
                                      128, 300, 8191, 8192, 8193, 20000};
        static const char *const pieces[] = {"a", "Z", "\"", "\\", "é",
                                             "—", "😀", " ", "{", "0"};
        size_t want, n = 0;
        char *s;

        if (nullable && unit_rand(&rnd_state) % 4 == 0)
                return NULL;
        /* the long ones (two- and three-byte lengths) one time in 16 */
        want =
            lens[unit_rand(&rnd_state) % 16 == 0 ? 9 + unit_rand(&rnd_state) % 4
                                                 : unit_rand(&rnd_state) % 9];
        s = malloc(want + 8);
        assert_non_null(s);
        while (n < want) {
                const char *p = pieces[unit_rand(&rnd_state) % 10];
                size_t k = strlen(p);

                if (n + k > want)
                        p = "x", k = 1;
                memcpy(s + n, p, k);
                n += k;
        }
        s[n] = '\0';
        return s;
}

static const scim_action_t ACTIONS[] = {
    SCIM_ACT_CREATE,         SCIM_ACT_REPLACE,        SCIM_ACT_PATCH,
    SCIM_ACT_DELETE,         SCIM_ACT_REFUSED,        SCIM_ACT_TENANT_CREATE,
    SCIM_ACT_TOKEN_ISSUE,    SCIM_ACT_TOKEN_REVOKE,   SCIM_ACT_REPORT_SAVE,
    SCIM_ACT_REPORT_DELETE,  SCIM_ACT_SCHEMA_PUT,     SCIM_ACT_SCHEMA_DELETE,
    SCIM_ACT_TENANT_UPDATE,  SCIM_ACT_TENANT_DISABLE, SCIM_ACT_TENANT_ENABLE,
    SCIM_ACT_TENANT_DELETE,  SCIM_ACT_TOKEN_ROTATE,   SCIM_ACT_CLIENT_REGISTER,
    SCIM_ACT_CLIENT_REVOKE,  SCIM_ACT_KEY_ROTATE};

static int64_t rnd_long(void)
{
        static const int64_t edges[] = {0,          -1,        1,
                                        63,         64,        -64,
                                        -65,        INT32_MAX, INT32_MIN,
                                        INT64_MAX,  INT64_MIN, 1795359972123LL};

        return unit_rand(&rnd_state) % 2
                   ? edges[unit_rand(&rnd_state) %
                           (sizeof(edges) / sizeof(edges[0]))]
                   : (int64_t)unit_rand(&rnd_state);
}

/* A random event (strings owned: scim_event_clear frees them). */
static void rnd_event(scim_event_t *ev)
{
        static const scim_rtype_t RT[] = {0, SCIM_RT_USER, SCIM_RT_GROUP,
                                          SCIM_RT_CUSTOM};
        char *t;

        memset(ev, 0, sizeof(*ev));
        scim_uuid4(ev->event_id);
        t = rnd_text(0);
        ev->tenant = t;
        ev->rtype = RT[unit_rand(&rnd_state) % 4];
        ev->action = ACTIONS[unit_rand(&rnd_state) %
                             (sizeof(ACTIONS) / sizeof(ACTIONS[0]))];
        ev->resource_id = rnd_text(1);
        ev->time_ms = rnd_long();
        ev->actor = rnd_text(1);
        ev->request_id = rnd_text(1);
        ev->expect_version = rnd_long();
        ev->resource_json = rnd_text(1);
        ev->members_replace = (int)(unit_rand(&rnd_state) % 3);
        ev->n_added = unit_rand(&rnd_state) % 3 == 0 ? 0
                      : unit_rand(&rnd_state) % 2    ? unit_rand(&rnd_state) % 4
                                                     : 70;
        if (ev->n_added) {
                ev->added = calloc(ev->n_added, sizeof(*ev->added));
                for (size_t i = 0; i < ev->n_added; i++) {
                        ev->added[i].value = rnd_text(0);
                        ev->added[i].display = rnd_text(1);
                }
        }
        ev->n_removed = unit_rand(&rnd_state) % 3 == 0 ? 0
                        : unit_rand(&rnd_state) % 2 ? unit_rand(&rnd_state) % 4
                                                    : 65;
        if (ev->n_removed) {
                ev->removed = calloc(ev->n_removed, sizeof(*ev->removed));
                for (size_t i = 0; i < ev->n_removed; i++)
                        ev->removed[i] = rnd_text(0);
        }
        ev->refused_status =
            (int)(unit_rand(&rnd_state) % 2 ? unit_rand(&rnd_state) % 600
                                            : unit_rand(&rnd_state));
        ev->refused_scim_type = rnd_text(1);
        ev->refused_detail = rnd_text(1);
        ev->request_digest = rnd_text(1);
        ev->token_id = rnd_text(1);
        ev->token_hash = rnd_text(1);
        ev->token_scope = rnd_text(1);
        ev->attempted_action = rnd_text(1);
        ev->resource_type_name = rnd_text(1);
        ev->admin_json = rnd_text(1);
        ev->expires_ms = rnd_long();
        ev->sealed_json = rnd_text(1);
        ev->key_id = rnd_text(1);
}

/* Both encoders: same verdict, same bytes (appended after a prefix). */
static void same_bytes(const scim_event_t *ev)
{
        scim_buf_t a = {0}, b = {0};
        scim_err_t ea, eb;
        int ra, rb;

        scim_buf_append(&a, "prefix", 6);
        scim_buf_append(&b, "prefix", 6);
        ra = scim_event_encode(ev, &a, &ea);
        rb = scim_event_encode_avroc(ev, &b, &eb);
        assert_int_equal(ra, rb);
        if (ra == 0) {
                assert_int_equal(a.len, b.len);
                assert_memory_equal(a.data, b.data, a.len);
        } else {
                assert_int_equal(ea.status, 500);
                assert_int_equal(a.len, 6); /* nothing left appended */
        }
        scim_buf_free(&a);
        scim_buf_free(&b);
}

static void test_random_events(void **state)
{
        (void)state;
        for (int i = 0; i < 400; i++) {
                scim_event_t ev, d;
                scim_buf_t b = {0};
                scim_err_t err;

                rnd_event(&ev);
                same_bytes(&ev);
                /* and what it wrote decodes to the same event */
                assert_int_equal(scim_event_encode(&ev, &b, &err), 0);
                memset(&d, 0, sizeof(d));
                assert_int_equal(scim_event_decode(b.data, b.len, &d, &err),
                                 0);
                assert_string_equal(d.event_id, ev.event_id);
                assert_string_equal(d.tenant, ev.tenant);
                assert_int_equal(d.action, ev.action);
                assert_int_equal(d.rtype, ev.rtype);
                assert_int_equal(d.time_ms, ev.time_ms);
                assert_int_equal(d.expires_ms, ev.expires_ms);
                assert_int_equal(d.n_added, ev.n_added);
                assert_int_equal(d.n_removed, ev.n_removed);
                if (ev.resource_json)
                        assert_string_equal(d.resource_json, ev.resource_json);
                else
                        assert_null(d.resource_json);
                for (size_t k = 0; k < ev.n_added; k++) {
                        assert_string_equal(d.added[k].value,
                                            ev.added[k].value);
                        if (ev.added[k].display)
                                assert_string_equal(d.added[k].display,
                                                    ev.added[k].display);
                        else
                                assert_null(d.added[k].display);
                }
                scim_event_clear(&d);
                scim_event_clear(&ev);
                scim_buf_free(&b);
        }
}

/* Events both encoders refuse, with nothing appended. */
static void test_refusals(void **state)
{
        scim_event_t ev;
        char bad[] = {'a', (char)0xff, 'b', 0};

        (void)state;
        rnd_event(&ev);
        ev.action = (scim_action_t)999; /* no such action */
        same_bytes(&ev);
        ev.action = SCIM_ACT_CREATE;
        ev.rtype = (scim_rtype_t)77; /* no such resource type */
        same_bytes(&ev);
        ev.rtype = SCIM_RT_USER;
        free(ev.actor);
        ev.actor = strdup(bad); /* not UTF-8 */
        same_bytes(&ev);
        free(ev.actor);
        ev.actor = NULL;
        ev.event_id[3] = 'x'; /* not a UUID */
        same_bytes(&ev);
        scim_event_clear(&ev);
}

/* A typical user create: the bytes the server writes for a POST. */
static void test_user_create(void **state)
{
        scim_event_t ev;

        (void)state;
        memset(&ev, 0, sizeof(ev));
        scim_uuid4(ev.event_id);
        ev.tenant = strdup("bench");
        ev.rtype = SCIM_RT_USER;
        ev.action = SCIM_ACT_CREATE;
        ev.resource_id = strdup("2f1e0d3c-1111-4222-8333-944455556666");
        ev.time_ms = 1795359972123LL;
        ev.actor = strdup("tok1");
        ev.request_id = strdup("req-1");
        ev.expect_version = 0;
        ev.resource_json = strdup(
            "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
            "\"userName\":\"bjensen@example.com\",\"active\":true}");
        same_bytes(&ev);
        scim_event_clear(&ev);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_random_events),
            cmocka_unit_test(test_refusals),
            cmocka_unit_test(test_user_create),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
