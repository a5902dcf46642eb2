/*
 * 0550-fold-logged.c — Kafka mode's store entry point: messages already in
 * the topic are validated like API writes (bad Avro, unknown tenant, key
 * that is not the tenant, broken preconditions, a repeated event_id are
 * refused with a SCIM verdict, never applied), each partition's next offset
 * is stored with the views, and the log position of an event comes from
 * (partition, offset) only.
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

#include "projector/scim_projector.h"
#include "tests/unit/unit_harness.h"

static char dir[512];
static scim_store_t *st;

static int setup(void **state)
{
        (void)state;
        unit_store_setup(dir, sizeof(dir), "foldlogged", &st);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_store_teardown(dir, st);
        return 0;
}

/* Encodes an event into *out (caller frees). */
static void enc_event(scim_action_t act, const char *tenant, const char *id,
                      const char *json, int64_t expect, const char *event_id,
                      scim_buf_t *out)
{
        scim_event_t e;
        scim_err_t err;

        memset(&e, 0, sizeof(e));
        if (event_id)
                snprintf(e.event_id, sizeof(e.event_id), "%s", event_id);
        else
                scim_uuid4(e.event_id);
        e.schema_version = 1;
        e.tenant = strdup(tenant);
        e.rtype = id ? SCIM_RT_USER : 0;
        e.resource_id = id ? strdup(id) : NULL;
        e.action = act;
        e.time_ms = 1700000000000;
        e.actor = strdup("external");
        e.request_id = strdup("");
        e.expect_version = expect;
        e.resource_json = json ? strdup(json) : NULL;
        memset(out, 0, sizeof(*out));
        assert_int_equal(scim_event_encode(&e, out, &err), 0);
        scim_event_clear(&e);
}

static void msg(scim_logged_t *m, int32_t p, int64_t off, const char *key,
                const scim_buf_t *b)
{
        memset(m, 0, sizeof(*m));
        m->partition = p;
        m->offset = off;
        m->key = key;
        m->key_len = key ? strlen(key) : 0;
        m->data = b->data;
        m->len = b->len;
}

#define UJSON(name)                                                           \
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"     \
        "\"userName\":\"" name "\"}"

/* 1. valid events apply; invalid ones are refused with the right verdict */
static void test_validation(void **state)
{
        scim_buf_t b[10];
        scim_logged_t m[10];
        scim_verdict_t v[10];
        scim_err_t err;
        const char dup_id[] = "11111111-2222-4333-8444-555555555555";
        static const char garbage[] = "\xc3\x01garbage";
        scim_buf_t g = {(char *)garbage, sizeof(garbage) - 1, 0};
        int64_t next = -1;

        enc_event(SCIM_ACT_TENANT_CREATE, "t1", NULL, NULL, -1, NULL, &b[0]);
        enc_event(SCIM_ACT_CREATE, "t1", "u1", UJSON("alice"), 0, dup_id,
                  &b[1]);
        enc_event(SCIM_ACT_CREATE, "t1", "u1", UJSON("alice"), 0, dup_id,
                  &b[2]); /* the same event again */
        enc_event(SCIM_ACT_CREATE, "nope", "u2", UJSON("bob"), 0, NULL,
                  &b[3]); /* unknown tenant */
        enc_event(SCIM_ACT_CREATE, "t1", "u3", UJSON("ALICE"), 0, NULL,
                  &b[4]); /* userName taken */
        enc_event(SCIM_ACT_PATCH, "t1", "u1", UJSON("alice"), 7, NULL,
                  &b[5]); /* wrong version */
        enc_event(SCIM_ACT_CREATE, "t1", "u4", UJSON("carol"), 0, NULL,
                  &b[6]); /* sent with the wrong key */
        enc_event(SCIM_ACT_REPLACE, "t1", "u1", UJSON("alice2"), 1, NULL,
                  &b[7]);

        msg(&m[0], 0, 0, "t1", &b[0]);
        m[0].admin = 1; /* tenant events come from the admin topic */
        m[0].topic = "admin";
        msg(&m[1], 0, 1, "t1", &b[1]);
        msg(&m[2], 0, 2, "t1", &b[2]);
        msg(&m[3], 1, 0, "nope", &b[3]);
        msg(&m[4], 0, 3, "t1", &b[4]);
        msg(&m[5], 0, 4, "t1", &b[5]);
        msg(&m[6], 0, 5, "t2", &b[6]);
        msg(&m[7], 2, 9, "t1", &g); /* bad Avro */
        msg(&m[8], 0, 6, "t1", &b[7]);
        assert_int_equal(scim_store_fold_logged(st, "topic", m, 9, v, &err),
                         0);
        assert_int_equal(v[0].status, 201);
        assert_int_equal(v[1].status, 201);
        assert_string_equal(m[1].event_id, dup_id);
        assert_int_equal(v[2].status, 409); /* duplicate event_id */
        assert_non_null(strstr(v[2].detail, "duplicate"));
        assert_int_equal(v[3].status, 404); /* unknown tenant */
        assert_int_equal(v[4].status, 409);
        assert_string_equal(v[4].scim_type, "uniqueness");
        assert_int_equal(v[5].status, 412);
        assert_int_equal(v[6].status, 400); /* key is not the tenant */
        assert_non_null(strstr(v[6].detail, "key"));
        assert_int_equal(v[7].status, 400); /* undecodable */
        assert_string_equal(v[7].scim_type, "invalidSyntax");
        assert_string_equal(m[7].event_id, "");
        assert_int_equal(v[8].status, 200); /* u1 at version 1 -> 2 */
        /* 2. the verdict's position comes from (partition, offset) */
        assert_true(v[3].seq == scim_kafka_seq(1, 0));
        assert_true(v[8].seq == scim_kafka_seq(0, 6));
        for (int i = 0; i < 9; i++)
                scim_verdict_clear(&v[i]);

        /* only u1 exists, once, at version 2 */
        assert_int_equal(scim_store_exists(st, "t1", SCIM_RT_USER, "u1"), 1);
        assert_int_equal(scim_store_exists(st, "t1", SCIM_RT_USER, "u3"), 0);
        assert_int_equal(scim_store_exists(st, "t1", SCIM_RT_USER, "u4"), 0);
        assert_int_equal(scim_store_exists(st, "nope", SCIM_RT_USER, "u2"),
                         0);
        {
                json_t *u = NULL;
                int64_t ver = 0;

                assert_int_equal(scim_store_get(st, "t1", SCIM_RT_USER, "u1",
                                                &u, &ver, &err),
                                 0);
                assert_int_equal(ver, 2);
                json_decref(u);
        }

        /* 3. next offsets per partition, stored with the views */
        assert_int_equal(scim_store_kafka_offset(st, "topic", 0, &next), 1);
        assert_int_equal(next, 7);
        assert_int_equal(scim_store_kafka_offset(st, "topic", 1, &next), 1);
        assert_int_equal(next, 1);
        assert_int_equal(scim_store_kafka_offset(st, "topic", 2, &next), 1);
        assert_int_equal(next, 10);
        assert_int_equal(scim_store_kafka_offset(st, "topic", 3, &next), 0);
        assert_int_equal(scim_store_kafka_offset(st, "other", 0, &next), 0);
        assert_int_equal(scim_store_kafka_offset(st, "admin", 0, &next), 1);
        assert_int_equal(next, 1);
        for (int i = 0; i < 8; i++)
                scim_buf_free(&b[i]);
}

/* 4. the same messages folded into two stores give identical digests,
 * whatever the interleaving of partitions */
static void test_deterministic(void **state)
{
        char d2[600], e[256], dg1[65], dg2[65];
        scim_store_t *st2 = NULL;
        scim_buf_t b[4];
        scim_logged_t m[4], r[4];
        scim_verdict_t v[4];
        scim_err_t err;

        snprintf(d2, sizeof(d2), "%s/second", dir);
        assert_int_equal(scim_store_open(d2, &st2, e, sizeof(e)), 0);
        enc_event(SCIM_ACT_TENANT_CREATE, "a", NULL, NULL, -1, NULL, &b[0]);
        enc_event(SCIM_ACT_TENANT_CREATE, "b", NULL, NULL, -1, NULL, &b[1]);
        enc_event(SCIM_ACT_CREATE, "a", "x", UJSON("same"), 0, NULL, &b[2]);
        enc_event(SCIM_ACT_CREATE, "b", "x", UJSON("same"), 0, NULL, &b[3]);
        msg(&m[0], 0, 0, "a", &b[0]);
        msg(&m[1], 0, 1, "a", &b[2]);
        msg(&m[2], 1, 0, "b", &b[1]);
        msg(&m[3], 1, 1, "b", &b[3]);
        m[0].admin = m[2].admin = 1;
        m[0].topic = m[2].topic = "tp.admin";
        /* the other node sees partition 1 first */
        r[0] = m[2];
        r[1] = m[0];
        r[2] = m[3];
        r[3] = m[1];
        assert_int_equal(scim_store_fold_logged(st, "tp", m, 4, v, &err), 0);
        for (int i = 0; i < 4; i++) {
                assert_true(v[i].status == 201);
                scim_verdict_clear(&v[i]);
        }
        assert_int_equal(scim_store_fold_logged(st2, "tp", r, 4, v, &err), 0);
        for (int i = 0; i < 4; i++)
                scim_verdict_clear(&v[i]);
        /* st also holds test 1's data: compare a fresh pair instead */
        assert_int_equal(scim_store_digest(st2, dg2, &err), 0);
        scim_store_close(st2);
        snprintf(d2, sizeof(d2), "%s/third", dir);
        assert_int_equal(scim_store_open(d2, &st2, e, sizeof(e)), 0);
        assert_int_equal(scim_store_fold_logged(st2, "tp", m, 4, v, &err), 0);
        for (int i = 0; i < 4; i++)
                scim_verdict_clear(&v[i]);
        assert_int_equal(scim_store_digest(st2, dg1, &err), 0);
        scim_store_close(st2);
        assert_string_equal(dg1, dg2);
        for (int i = 0; i < 4; i++)
                scim_buf_free(&b[i]);
}

/* 5. the admin topic: a tenant or token event from the data topic is
 * refused (403) and recorded; the admin topic takes nothing else (400);
 * admin positions carry SCIM_KAFKA_ADMIN_POS */
static void test_admin_topic(void **state)
{
        scim_buf_t b[3];
        scim_logged_t m[3];
        scim_verdict_t v[3];
        scim_err_t err;
        json_t *rec = NULL;

        enc_event(SCIM_ACT_TENANT_CREATE, "evil", NULL, NULL, -1, NULL, &b[0]);
        enc_event(SCIM_ACT_TENANT_CREATE, "good", NULL, NULL, -1, NULL, &b[1]);
        enc_event(SCIM_ACT_CREATE, "good", "u", UJSON("u"), 0, NULL, &b[2]);
        msg(&m[0], 0, 0, "evil", &b[0]);   /* data topic */
        msg(&m[1], 0, 0, "good", &b[1]);   /* admin topic */
        m[1].admin = 1;
        m[1].topic = "adm";
        msg(&m[2], 0, 1, "good", &b[2]);   /* a user event on the admin topic */
        m[2].admin = 1;
        m[2].topic = "adm";
        assert_int_equal(scim_store_fold_logged(st, "dat", m, 3, v, &err), 0);
        assert_int_equal(v[0].status, 403);
        assert_non_null(strstr(v[0].detail, "admin topic"));
        assert_int_equal(v[1].status, 201);
        assert_true(v[1].seq == (SCIM_KAFKA_ADMIN_POS | scim_kafka_seq(0, 0)));
        assert_int_equal(v[2].status, 400);
        assert_int_equal(scim_store_tenant_exists(st, "evil"), 0);
        assert_int_equal(scim_store_tenant_exists(st, "good"), 1);
        assert_int_equal(scim_store_exists(st, "good", SCIM_RT_USER, "u"), 0);
        /* the refusal is reported: a change record at its position */
        assert_int_equal(scim_changes_get(st, "evil", v[0].seq, &rec, &err), 0);
        assert_string_equal(
            json_string_value(json_object_get(rec, "verdict")), "refused");
        json_decref(rec);
        for (int i = 0; i < 3; i++) {
                scim_verdict_clear(&v[i]);
                scim_buf_free(&b[i]);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_validation),
            cmocka_unit_test(test_deterministic),
            cmocka_unit_test(test_admin_topic),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
