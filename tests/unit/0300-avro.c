/*
 * 0300-avro.c — the Avro event contract: CRC-64-AVRO fingerprints, the
 * single-object encoding, round trips of every action, rejection of hostile
 * bytes, and schema evolution (every event.vN.avsc stays readable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <avro.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/schemas_internal.h"
#include "schemas/scim_schemas.h"

/* Parsing Canonical Form of event.v1.avsc, written out by hand from the
 * spec's rules (and checked against an independent implementation when the
 * schema was made). v1 events exist in logs forever: this must never
 * change, and the decoder must always know its fingerprint. */
static const char V1_CANONICAL[] =
    "{\"name\":\"io.scimlog.Event\",\"type\":\"record\",\"fields\":["
    "{\"name\":\"event_id\",\"type\":\"string\"},"
    "{\"name\":\"schema_version\",\"type\":\"int\"},"
    "{\"name\":\"tenant\",\"type\":\"string\"},"
    "{\"name\":\"resource_type\",\"type\":{\"name\":\"io.scimlog."
    "ResourceType\",\"type\":\"enum\",\"symbols\":[\"NONE\",\"USER\","
    "\"GROUP\"]}},"
    "{\"name\":\"resource_id\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"action\",\"type\":{\"name\":\"io.scimlog.Action\",\"type\":"
    "\"enum\",\"symbols\":[\"CREATE\",\"REPLACE\",\"PATCH\",\"DELETE\","
    "\"REFUSED\",\"TENANT_CREATE\",\"TOKEN_ISSUE\",\"TOKEN_REVOKE\"]}},"
    "{\"name\":\"time_ms\",\"type\":\"long\"},"
    "{\"name\":\"actor\",\"type\":\"string\"},"
    "{\"name\":\"request_id\",\"type\":\"string\"},"
    "{\"name\":\"expect_version\",\"type\":\"long\"},"
    "{\"name\":\"resource_json\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"members_replace\",\"type\":\"boolean\"},"
    "{\"name\":\"members_added\",\"type\":{\"type\":\"array\",\"items\":"
    "{\"name\":\"io.scimlog.Member\",\"type\":\"record\",\"fields\":["
    "{\"name\":\"value\",\"type\":\"string\"},"
    "{\"name\":\"display\",\"type\":[\"null\",\"string\"]}]}}},"
    "{\"name\":\"members_removed\",\"type\":{\"type\":\"array\",\"items\":"
    "\"string\"}},"
    "{\"name\":\"refused_status\",\"type\":\"int\"},"
    "{\"name\":\"refused_scim_type\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"refused_detail\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"request_digest\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"token_id\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"token_hash\",\"type\":[\"null\",\"string\"]}]}";
#define V1_FINGERPRINT 0x01eea4b9e047bb28ULL

#define UUID1 "123e4567-e89b-12d3-a456-426614174000"

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

/* ------------------------------------------------------------- helpers */

static void assert_str_eq_null(const char *a, const char *b)
{
        if (!a || !b)
                assert_ptr_equal(a, b);
        else
                assert_string_equal(a, b);
}

static void assert_events_equal(const scim_event_t *a, const scim_event_t *b)
{
        assert_string_equal(a->event_id, b->event_id);
        assert_int_equal(a->rtype, b->rtype);
        assert_int_equal(a->action, b->action);
        assert_int_equal(a->time_ms, b->time_ms);
        assert_int_equal(a->expect_version, b->expect_version);
        assert_int_equal(!!a->members_replace, !!b->members_replace);
        assert_int_equal(a->refused_status, b->refused_status);
        assert_str_eq_null(a->tenant, b->tenant);
        assert_str_eq_null(a->resource_id, b->resource_id);
        assert_str_eq_null(a->actor ? a->actor : "", b->actor ? b->actor : "");
        assert_str_eq_null(a->request_id ? a->request_id : "",
                           b->request_id ? b->request_id : "");
        assert_str_eq_null(a->resource_json, b->resource_json);
        assert_str_eq_null(a->refused_scim_type, b->refused_scim_type);
        assert_str_eq_null(a->refused_detail, b->refused_detail);
        assert_str_eq_null(a->request_digest, b->request_digest);
        assert_str_eq_null(a->token_id, b->token_id);
        assert_str_eq_null(a->token_hash, b->token_hash);
        assert_str_eq_null(a->token_scope, b->token_scope);
        assert_str_eq_null(a->attempted_action, b->attempted_action);
        assert_str_eq_null(a->resource_type_name, b->resource_type_name);
        assert_str_eq_null(a->admin_json, b->admin_json);
        assert_str_eq_null(a->sealed_json, b->sealed_json);
        assert_str_eq_null(a->key_id, b->key_id);
        assert_int_equal(a->expires_ms, b->expires_ms);
        assert_int_equal(a->n_added, b->n_added);
        for (size_t i = 0; i < a->n_added; i++) {
                assert_string_equal(a->added[i].value, b->added[i].value);
                assert_str_eq_null(a->added[i].display, b->added[i].display);
        }
        assert_int_equal(a->n_removed, b->n_removed);
        for (size_t i = 0; i < a->n_removed; i++)
                assert_string_equal(a->removed[i], b->removed[i]);
}

/* Encodes ev, decodes the bytes, and checks the result equals ev. */
static void round_trip(const scim_event_t *ev)
{
        scim_buf_t b = {0};
        scim_event_t d;
        scim_err_t err;

        assert_int_equal(scim_event_encode(ev, &b, &err), 0);
        assert_true(b.len > 10);
        assert_int_equal(scim_event_decode(b.data, b.len, &d, &err), 0);
        assert_int_equal(d.schema_version, scim_event_schema_count());
        assert_events_equal(ev, &d);
        scim_event_clear(&d);
        scim_buf_free(&b);
}

/* A group PATCH carrying every field, with UTF-8 and NULL displays. */
static scim_member_t sample_added[] = {
    {"2819c223-7f76-453a-919d-413861904646", "Babs Jensen"},
    {"902c246b-6245-4190-8e05-00816be7344a", NULL},
    {"e9e30dba-f08f-4109-8486-d5c6a331660a", "Åsa Ström 日本語 🎉"},
};
static char *sample_removed[] = {"c3a26dd3-2e31-4d2b-9a1c-3b0e0c8e4b4a",
                                 "ünïcode-id"};

static void sample_event(scim_event_t *ev, scim_action_t action)
{
        memset(ev, 0, sizeof(*ev));
        strcpy(ev->event_id, UUID1);
        ev->schema_version = 1;
        ev->tenant = "acme.example-1";
        ev->rtype = SCIM_RT_GROUP;
        ev->resource_id = "b3d0f1e2-1111-4222-8333-944455556666";
        ev->action = action;
        ev->time_ms = 1795359972123LL;
        ev->actor = "0123456789abcdef";
        ev->request_id = "req-42";
        ev->expect_version = 7;
        ev->resource_json = "{\"displayName\":\"Tour Guides — Zürich\"}";
        ev->members_replace = 1;
        ev->added = sample_added;
        ev->n_added = 3;
        ev->removed = sample_removed;
        ev->n_removed = 2;
        ev->refused_status = 409;
        ev->refused_scim_type = "uniqueness";
        ev->refused_detail = "userName \"bjensen\" is taken";
        ev->request_digest =
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        ev->token_id = "fedcba9876543210";
        ev->token_hash =
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        ev->token_scope = "reports";    /* since v2 */
        ev->attempted_action = "PATCH"; /* since v2 */
        ev->resource_type_name = "Role";  /* since v3 */
        ev->admin_json = "{\"rules\":[]}";
        ev->expires_ms = 1795359999000LL;
        ev->sealed_json = "bm9uY2VjaXBoZXJ0YWc=";
        ev->key_id = "k1";
}

/* Encodes the sample event (caller frees b). */
static void encode_sample(scim_buf_t *b)
{
        scim_event_t ev;
        scim_err_t err;

        sample_event(&ev, SCIM_ACT_PATCH);
        memset(b, 0, sizeof(*b));
        assert_int_equal(scim_event_encode(&ev, b, &err), 0);
}

static void expect_reject(const void *data, size_t len, const char *needle)
{
        scim_event_t d, zero;
        scim_err_t err;

        memset(&zero, 0, sizeof(zero));
        scim_err_clear(&err);
        assert_int_equal(scim_event_decode(data, len, &d, &err), -1);
        assert_int_equal(err.status, 400);
        assert_string_equal(err.scim_type, "invalidSyntax");
        assert_true(err.detail[0] != 0);
        if (needle && !strstr(err.detail, needle)) {
                fprintf(stderr, "detail \"%s\" lacks \"%s\"\n", err.detail,
                        needle);
                fail();
        }
        assert_memory_equal(&d, &zero, sizeof(d));
}

/* A tiny Avro binary writer to hand-craft datums, hostile or unusual. */
typedef struct wb {
        unsigned char buf[4096];
        size_t len;
} wb_t;

static void wb_header(wb_t *w, uint64_t fp)
{
        w->len = 0;
        w->buf[w->len++] = 0xC3;
        w->buf[w->len++] = 0x01;
        for (int i = 0; i < 8; i++)
                w->buf[w->len++] = (unsigned char)(fp >> (8 * i));
}

static void wb_long(wb_t *w, int64_t v)
{
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

        while (u > 0x7f) {
                w->buf[w->len++] = (unsigned char)(0x80 | (u & 0x7f));
                u >>= 7;
        }
        w->buf[w->len++] = (unsigned char)u;
}

static void wb_raw(wb_t *w, const void *p, size_t n)
{
        memcpy(w->buf + w->len, p, n);
        w->len += n;
}

static void wb_str(wb_t *w, const char *s)
{
        wb_long(w, (int64_t)strlen(s));
        wb_raw(w, s, strlen(s));
}

/* v1 fields up to and including expect_version (a TENANT_CREATE). */
static void wb_v1_head(wb_t *w, const char *event_id, int schema_version)
{
        wb_header(w, V1_FINGERPRINT);
        wb_str(w, event_id);
        wb_long(w, schema_version);
        wb_str(w, "acme");
        wb_long(w, 0);        /* resource_type NONE */
        wb_long(w, 0);        /* resource_id null */
        wb_long(w, 5);        /* TENANT_CREATE */
        wb_long(w, 1000);     /* time_ms */
        wb_str(w, "cli");     /* actor */
        wb_str(w, "");        /* request_id */
        wb_long(w, -1);       /* expect_version */
        wb_long(w, 0);        /* resource_json null */
        w->buf[w->len++] = 0; /* members_replace */
}

/* The v1 fields after the member arrays. */
static void wb_v1_tail(wb_t *w)
{
        wb_long(w, 0); /* refused_status */
        for (int i = 0; i < 5; i++)
                wb_long(w, 0); /* five null unions */
}

/* ------------------------------------------------------ fingerprints */

static void test_fingerprint_vectors(void **state)
{
        /* From the Avro specification's test data (schema-tests.txt),
         * given there as signed 64-bit decimals. */
        static const struct {
                const char *text;
                int64_t fp;
        } v[] = {
            {"\"null\"", 7195948357588979594LL},
            {"\"boolean\"", -6970731678124411036LL},
            {"\"int\"", 8247732601305521295LL},
            {"\"long\"", -3434872931120570953LL},
            {"\"float\"", 5583340709985441680LL},
            {"\"double\"", -8181574048448539266LL},
            {"\"bytes\"", 5746618253357095269LL},
            {"\"string\"", -8142146995180207161LL},
            {"[]", -1241056759729112623LL},
            {"{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
             -4824392279771201922LL},
        };

        (void)state;
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
                assert_int_equal(
                    scim_avro_fingerprint(v[i].text, strlen(v[i].text)),
                    (uint64_t)v[i].fp);
        assert_int_equal(scim_avro_fingerprint("\"int\"", 5),
                         0x7275d51a3f395c8fULL);
        assert_int_equal(scim_avro_fingerprint("\"string\"", 8),
                         0x8f014872634503c7ULL);
        /* The empty input is the Rabin EMPTY constant itself. */
        assert_int_equal(scim_avro_fingerprint("", 0), 0xc15d213aa4d7a795ULL);
}

static void test_v1_fingerprint_pinned(void **state)
{
        (void)state;
        assert_true(scim_event_schema_count() >= 1);
        assert_int_equal(
            scim_avro_fingerprint(V1_CANONICAL, strlen(V1_CANONICAL)),
            V1_FINGERPRINT);
        /* Our canonical form of event.v1.avsc gives the same fingerprint. */
        assert_int_equal(scim_event_schema_fingerprint(1), V1_FINGERPRINT);
        assert_int_equal(scim_event_schema_fingerprint(0), 0);
        assert_null(scim_event_schema_text(0));
        assert_null(scim_event_schema_text(scim_event_schema_count() + 1));
        assert_non_null(strstr(scim_event_schema_text(1), "io.scimlog"));
        assert_int_equal(
            scim_event_writer_fingerprint(),
            scim_event_schema_fingerprint(scim_event_schema_count()));
}

static void test_header_bytes(void **state)
{
        uint64_t fp = scim_event_writer_fingerprint();
        const unsigned char *p;
        scim_buf_t b;

        (void)state;
        encode_sample(&b);
        p = (const unsigned char *)b.data;
        assert_int_equal(p[0], 0xC3);
        assert_int_equal(p[1], 0x01);
        for (int i = 0; i < 8; i++)
                assert_int_equal(p[2 + i], (fp >> (8 * i)) & 0xff);
        /* Appends to what the buffer holds. */
        {
                scim_event_t ev;
                scim_err_t err;
                size_t first = b.len;

                sample_event(&ev, SCIM_ACT_CREATE);
                assert_int_equal(scim_event_encode(&ev, &b, &err), 0);
                assert_int_equal(b.len, 2 * first);
                assert_int_equal((unsigned char)b.data[first], 0xC3);
        }
        scim_buf_free(&b);
}

/* ------------------------------------------------------------ round trip */

static void test_round_trip_every_action(void **state)
{
        scim_event_t ev;

        (void)state;
        for (int a = SCIM_ACT_CREATE; a <= SCIM_ACT_LAST; a++) {
                sample_event(&ev, (scim_action_t)a);
                round_trip(&ev);
                /* Same action with every optional field NULL, empty
                 * arrays, and the other resource types. */
                ev.resource_id = NULL;
                ev.resource_json = NULL;
                ev.refused_scim_type = ev.refused_detail = NULL;
                ev.request_digest = ev.token_id = ev.token_hash = NULL;
                ev.token_scope = ev.attempted_action = NULL;
                ev.resource_type_name = ev.admin_json = NULL;
                ev.sealed_json = ev.key_id = NULL;
                ev.expires_ms = 0;
                ev.n_added = ev.n_removed = 0;
                ev.added = NULL;
                ev.removed = NULL;
                ev.members_replace = 0;
                ev.refused_status = 0;
                ev.rtype = a % 3 == 0   ? 0
                           : a % 3 == 1 ? SCIM_RT_USER
                                        : SCIM_RT_GROUP;
                ev.expect_version = a % 2 ? -1 : 0;
                round_trip(&ev);
        }
}

static void test_round_trip_edges(void **state)
{
        scim_event_t ev;
        scim_buf_t b = {0};
        scim_event_t d;
        scim_err_t err;

        (void)state;
        sample_event(&ev, SCIM_ACT_REPLACE);
        ev.time_ms = INT64_MIN;
        ev.expect_version = INT64_MAX;
        ev.refused_status = INT32_MIN;
        ev.resource_json = "";
        ev.tenant = "";
        round_trip(&ev);
        ev.time_ms = INT64_MAX;
        ev.expect_version = INT64_MIN;
        ev.refused_status = INT32_MAX;
        round_trip(&ev);

        /* NULL actor and request_id are written as "". */
        ev.actor = NULL;
        ev.request_id = NULL;
        assert_int_equal(scim_event_encode(&ev, &b, &err), 0);
        assert_int_equal(scim_event_decode(b.data, b.len, &d, &err), 0);
        assert_string_equal(d.actor, "");
        assert_string_equal(d.request_id, "");
        scim_event_clear(&d);
        scim_buf_free(&b);

        /* Upper-case UUIDs are kept as given. */
        strcpy(ev.event_id, "123E4567-E89B-12D3-A456-426614174ABC");
        round_trip(&ev);
}

static void test_round_trip_large_members(void **state)
{
        const size_t n = 200000;
        scim_member_t *m = calloc(n, sizeof(*m));
        char **r = calloc(n, sizeof(*r));
        scim_event_t ev;

        (void)state;
        assert_non_null(m);
        assert_non_null(r);
        for (size_t i = 0; i < n; i++) {
                m[i].value = malloc(37);
                r[i] = malloc(37);
                snprintf(m[i].value, 37, "%08zx-0000-4000-8000-%012zx", i,
                         i * 7);
                snprintf(r[i], 37, "%08zx-1111-4000-8000-%012zx", i, i);
                if (i % 3 == 0) {
                        m[i].display = malloc(32);
                        snprintf(m[i].display, 32, "Member %zu ✓", i);
                }
        }
        sample_event(&ev, SCIM_ACT_REPLACE);
        ev.added = m;
        ev.n_added = n;
        ev.removed = r;
        ev.n_removed = n;
        round_trip(&ev);
        for (size_t i = 0; i < n; i++) {
                free(m[i].value);
                free(m[i].display);
                free(r[i]);
        }
        free(m);
        free(r);
}

static void test_encode_rejects_bad_events(void **state)
{
        scim_buf_t b = {0};
        scim_event_t ev;
        scim_err_t err;
        scim_member_t bad_member = {NULL, "x"};
        char *bad_removed[] = {NULL};

        (void)state;
        sample_event(&ev, SCIM_ACT_CREATE);
        strcpy(ev.event_id, "not-a-uuid");
        assert_int_equal(scim_event_encode(&ev, &b, &err), -1);
        assert_int_equal(err.status, 500);

        sample_event(&ev, SCIM_ACT_CREATE);
        ev.tenant = NULL;
        assert_int_equal(scim_event_encode(&ev, &b, &err), -1);

        sample_event(&ev, SCIM_ACT_CREATE);
        ev.resource_json = "\xff\xfe bad utf-8";
        assert_int_equal(scim_event_encode(&ev, &b, &err), -1);

        sample_event(&ev, SCIM_ACT_CREATE);
        ev.action = (scim_action_t)(SCIM_ACT_LAST + 1);
        assert_int_equal(scim_event_encode(&ev, &b, &err), -1);

        sample_event(&ev, SCIM_ACT_CREATE);
        ev.rtype = (scim_rtype_t)'X';
        assert_int_equal(scim_event_encode(&ev, &b, &err), -1);

        sample_event(&ev, SCIM_ACT_CREATE);
        ev.added = &bad_member;
        ev.n_added = 1;
        assert_int_equal(scim_event_encode(&ev, &b, &err), -1);

        sample_event(&ev, SCIM_ACT_CREATE);
        ev.removed = bad_removed;
        ev.n_removed = 1;
        assert_int_equal(scim_event_encode(&ev, &b, &err), -1);

        /* Nothing was appended by the failures. */
        assert_int_equal(b.len, 0);
        scim_buf_free(&b);
}

/* ------------------------------------------------------ hostile input */

static void test_reject_header(void **state)
{
        scim_buf_t b;
        char *copy;

        (void)state;
        encode_sample(&b);
        copy = malloc(b.len);
        assert_non_null(copy);

        expect_reject(NULL, 0, "too short");
        expect_reject(b.data, 9, "too short");

        memcpy(copy, b.data, b.len);
        copy[0] = 0x4f; /* 'O' of an Avro container file "Obj\1" */
        expect_reject(copy, b.len, "C3 01");
        memcpy(copy, b.data, b.len);
        copy[1] = 0x02;
        expect_reject(copy, b.len, "C3 01");

        memcpy(copy, b.data, b.len);
        copy[5] ^= 0x10;
        expect_reject(copy, b.len, "unknown schema");

        free(copy);
        scim_buf_free(&b);
}

static void test_reject_every_truncation(void **state)
{
        scim_buf_t b;

        (void)state;
        encode_sample(&b);
        for (size_t n = 0; n < b.len; n++) {
                /* An exact-size copy, so ASan sees any read past n. */
                char *copy = malloc(n ? n : 1);

                assert_non_null(copy);
                memcpy(copy, b.data, n);
                expect_reject(copy, n, NULL);
                free(copy);
        }
        scim_buf_free(&b);
}

static void test_reject_trailing_bytes(void **state)
{
        scim_buf_t b;

        (void)state;
        encode_sample(&b);
        assert_int_equal(scim_buf_append(&b, "\0", 1), 0);
        expect_reject(b.data, b.len, "trailing");
        assert_int_equal(scim_buf_append(&b, "garbage", 7), 0);
        expect_reject(b.data, b.len, "8 trailing bytes");
        scim_buf_free(&b);
}

/* Every single-bit flip of a valid event either decodes or is refused with
 * 400; none crashes (run under ASan/UBSan). */
static void test_bit_flips(void **state)
{
        scim_buf_t b;
        int ok = 0, refused = 0;

        (void)state;
        encode_sample(&b);
        for (size_t i = 0; i < b.len; i++) {
                for (int bit = 0; bit < 8; bit++) {
                        scim_event_t d;
                        scim_err_t err;

                        b.data[i] ^= (char)(1 << bit);
                        if (scim_event_decode(b.data, b.len, &d, &err) == 0) {
                                ok++;
                                scim_event_clear(&d);
                        } else {
                                assert_int_equal(err.status, 400);
                                refused++;
                        }
                        b.data[i] ^= (char)(1 << bit);
                }
        }
        assert_true(refused > 0);
        assert_true(ok > 0); /* e.g. a flipped letter inside a string */
        scim_buf_free(&b);
}

static void test_reject_hostile_datums(void **state)
{
        wb_t w;

        (void)state;
        /* Baseline: the hand-written datum is valid. */
        wb_v1_head(&w, UUID1, 1);
        wb_long(&w, 0);
        wb_long(&w, 0);
        wb_v1_tail(&w);
        {
                scim_event_t d;
                scim_err_t err;

                assert_int_equal(scim_event_decode(w.buf, w.len, &d, &err), 0);
                assert_int_equal(d.action, SCIM_ACT_TENANT_CREATE);
                assert_int_equal(d.rtype, 0);
                assert_string_equal(d.tenant, "acme");
                assert_int_equal(d.expect_version, -1);
                scim_event_clear(&d);
        }

        /* A huge negative string length where event_id starts. */
        wb_header(&w, V1_FINGERPRINT);
        wb_long(&w, INT64_MIN);
        expect_reject(w.buf, w.len, "negative length");

        /* A string length far past the end. */
        wb_header(&w, V1_FINGERPRINT);
        wb_long(&w, INT64_MAX);
        expect_reject(w.buf, w.len, "past the end");

        /* A varint of 11 bytes, and one overflowing 64 bits. */
        wb_header(&w, V1_FINGERPRINT);
        for (int i = 0; i < 11; i++)
                w.buf[w.len++] = 0xff;
        expect_reject(w.buf, w.len, "varint");
        wb_header(&w, V1_FINGERPRINT);
        for (int i = 0; i < 9; i++)
                w.buf[w.len++] = 0xff;
        w.buf[w.len++] = 0x02;
        expect_reject(w.buf, w.len, "64 bits");

        /* Not a UUID. */
        wb_v1_head(&w, "123e4567e89b12d3a456426614174000", 1);
        expect_reject(w.buf, w.len, "UUID");

        /* schema_version disagreeing with the fingerprint. */
        wb_v1_head(&w, UUID1, 2);
        expect_reject(w.buf, w.len, "version");

        /* An int out of int32 range. */
        wb_header(&w, V1_FINGERPRINT);
        wb_str(&w, UUID1);
        wb_long(&w, (int64_t)1 << 40);
        expect_reject(w.buf, w.len, "int out of range");

        /* Enum and union indexes out of range. */
        wb_header(&w, V1_FINGERPRINT);
        wb_str(&w, UUID1);
        wb_long(&w, 1);
        wb_str(&w, "acme");
        wb_long(&w, 3);
        expect_reject(w.buf, w.len, "enum index 3");
        wb_header(&w, V1_FINGERPRINT);
        wb_str(&w, UUID1);
        wb_long(&w, 1);
        wb_str(&w, "acme");
        wb_long(&w, -1);
        expect_reject(w.buf, w.len, "enum index -1");
        wb_header(&w, V1_FINGERPRINT);
        wb_str(&w, UUID1);
        wb_long(&w, 1);
        wb_str(&w, "acme");
        wb_long(&w, 1);
        wb_long(&w, 2);
        expect_reject(w.buf, w.len, "union branch 2");

        /* Bad boolean byte. */
        wb_v1_head(&w, UUID1, 1);
        w.buf[w.len - 1] = 2;
        expect_reject(w.buf, w.len, "boolean");

        /* Invalid UTF-8 and an embedded NUL. */
        wb_header(&w, V1_FINGERPRINT);
        wb_str(&w, UUID1);
        wb_long(&w, 1);
        wb_long(&w, 3);
        wb_raw(&w, "\xc3\x28x", 3);
        expect_reject(w.buf, w.len, "UTF-8");
        wb_header(&w, V1_FINGERPRINT);
        wb_str(&w, UUID1);
        wb_long(&w, 1);
        wb_long(&w, 3);
        wb_raw(&w, "a\0b", 3);
        expect_reject(w.buf, w.len, "NUL");

        /* Member array counts: huge, INT64_MIN, beyond the data, and a
         * block whose declared byte size does not match its items. */
        wb_v1_head(&w, UUID1, 1);
        wb_long(&w, 2000000);
        expect_reject(w.buf, w.len, "more than 1000000 items");
        wb_v1_head(&w, UUID1, 1);
        wb_long(&w, INT64_MIN);
        expect_reject(w.buf, w.len, "block count");
        wb_v1_head(&w, UUID1, 1);
        wb_long(&w, 500000);
        wb_str(&w, "x");
        wb_long(&w, 0);
        expect_reject(w.buf, w.len, "past the end");
        wb_v1_head(&w, UUID1, 1);
        wb_long(&w, -1);
        wb_long(&w, 5); /* says 5 bytes, the item takes 3 */
        wb_str(&w, "u1");
        wb_long(&w, 0);
        wb_long(&w, 0);
        wb_long(&w, 0);
        wb_v1_tail(&w);
        expect_reject(w.buf, w.len, "block size");
        wb_v1_head(&w, UUID1, 1);
        wb_long(&w, -1);
        wb_long(&w, 1000); /* byte size past the end */
        expect_reject(w.buf, w.len, "block size");
}

/* Writers may split arrays into several blocks, and give negative counts
 * followed by the block's byte size (Java's blocking encoder does). */
static void test_accept_array_blocks(void **state)
{
        scim_event_t d;
        scim_err_t err;
        wb_t w;

        (void)state;
        wb_v1_head(&w, UUID1, 1);
        /* members_added: a block of 1, then a sized block of 2. */
        wb_long(&w, 1);
        wb_str(&w, "u1");
        wb_long(&w, 1);
        wb_str(&w, "One");
        wb_long(&w, -2);
        wb_long(&w, 8);
        wb_str(&w, "u2");
        wb_long(&w, 0);
        wb_str(&w, "u3");
        wb_long(&w, 0);
        wb_long(&w, 0);
        /* members_removed: two blocks of 1. */
        wb_long(&w, 1);
        wb_str(&w, "r1");
        wb_long(&w, -1);
        wb_long(&w, 3);
        wb_str(&w, "r2");
        wb_long(&w, 0);
        wb_v1_tail(&w);
        assert_int_equal(scim_event_decode(w.buf, w.len, &d, &err), 0);
        assert_int_equal(d.n_added, 3);
        assert_string_equal(d.added[0].value, "u1");
        assert_string_equal(d.added[0].display, "One");
        assert_string_equal(d.added[2].value, "u3");
        assert_null(d.added[2].display);
        assert_int_equal(d.n_removed, 2);
        assert_string_equal(d.removed[1], "r2");
        scim_event_clear(&d);
}

/* ------------------------------------------------------- evolution */

/* Fills an avro-c value of any schema with sample data keyed by field
 * name, so that a datum can be written with every known writer version. */
static void fill_sample(avro_value_t *v, const char *field, int version)
{
        avro_schema_t s = avro_value_get_schema(v);
        avro_value_t child;
        const char *name;

        switch (avro_value_get_type(v)) {
        case AVRO_STRING:
                if (strcmp(field, "event_id") == 0)
                        assert_int_equal(avro_value_set_string(v, UUID1), 0);
                else
                        assert_int_equal(avro_value_set_string(v, field), 0);
                break;
        case AVRO_BYTES:
                assert_int_equal(avro_value_set_bytes(v, (void *)"b", 1), 0);
                break;
        case AVRO_INT32:
                assert_int_equal(
                    avro_value_set_int(
                        v, strcmp(field, "schema_version") ? 404 : version),
                    0);
                break;
        case AVRO_INT64:
                assert_int_equal(avro_value_set_long(v, 1234567890123LL), 0);
                break;
        case AVRO_FLOAT:
                assert_int_equal(avro_value_set_float(v, 1.5f), 0);
                break;
        case AVRO_DOUBLE:
                assert_int_equal(avro_value_set_double(v, 2.5), 0);
                break;
        case AVRO_BOOLEAN:
                assert_int_equal(avro_value_set_boolean(v, 1), 0);
                break;
        case AVRO_NULL:
                assert_int_equal(avro_value_set_null(v), 0);
                break;
        case AVRO_ENUM: {
                int idx = avro_schema_enum_get_by_name(
                    s, strcmp(field, "action") == 0 ? "PATCH" : "GROUP");

                assert_int_equal(avro_value_set_enum(v, idx < 0 ? 0 : idx), 0);
                break;
        }
        case AVRO_FIXED: {
                char zeros[64] = {0};
                size_t n = (size_t)avro_schema_fixed_size(s);

                assert_true(n <= sizeof(zeros));
                assert_int_equal(avro_value_set_fixed(v, zeros, n), 0);
                break;
        }
        case AVRO_UNION: {
                /* Prefer a non-null branch, to carry data. */
                size_t nb = avro_schema_union_size(s), pick = 0;

                for (size_t i = 0; i < nb; i++)
                        if (!is_avro_null(avro_schema_union_branch(s, (int)i)))
                                pick = i;
                assert_int_equal(avro_value_set_branch(v, (int)pick, &child),
                                 0);
                fill_sample(&child, field, version);
                break;
        }
        case AVRO_RECORD: {
                size_t n = 0;

                assert_int_equal(avro_value_get_size(v, &n), 0);
                for (size_t i = 0; i < n; i++) {
                        assert_int_equal(
                            avro_value_get_by_index(v, i, &child, &name), 0);
                        fill_sample(&child, name, version);
                }
                break;
        }
        case AVRO_ARRAY:
                for (int i = 0; i < 2; i++) {
                        assert_int_equal(avro_value_append(v, &child, NULL), 0);
                        fill_sample(&child, field, version);
                }
                break;
        case AVRO_MAP:
                assert_int_equal(avro_value_add(v, "k", &child, NULL, NULL), 0);
                fill_sample(&child, field, version);
                break;
        default:
                fail();
        }
}

static void test_every_version_readable(void **state)
{
        int n = scim_event_schema_count();

        (void)state;
        assert_true(n >= 1);
        for (int version = 1; version <= n; version++) {
                const char *text = scim_event_schema_text(version);
                uint64_t fp = scim_event_schema_fingerprint(version);
                avro_schema_t schema = NULL;
                avro_value_iface_t *iface;
                avro_value_t rec;
                avro_writer_t w;
                unsigned char *buf;
                size_t size = 0;
                scim_event_t d;
                scim_err_t err;

                assert_non_null(text);
                assert_int_equal(
                    avro_schema_from_json_length(text, strlen(text), &schema),
                    0);
                iface = avro_generic_class_from_schema(schema);
                assert_non_null(iface);
                assert_int_equal(avro_generic_value_new(iface, &rec), 0);
                fill_sample(&rec, "", version);
                assert_int_equal(avro_value_sizeof(&rec, &size), 0);
                buf = malloc(size + 10);
                assert_non_null(buf);
                buf[0] = 0xC3;
                buf[1] = 0x01;
                for (int i = 0; i < 8; i++)
                        buf[2 + i] = (unsigned char)(fp >> (8 * i));
                w = avro_writer_memory((const char *)buf + 10, (int64_t)size);
                assert_int_equal(avro_value_write(w, &rec), 0);
                avro_writer_free(w);

                assert_int_equal(scim_event_decode(buf, size + 10, &d, &err),
                                 0);
                assert_int_equal(d.schema_version, version);
                assert_string_equal(d.event_id, UUID1);
                assert_string_equal(d.tenant, "tenant");
                assert_int_equal(d.rtype, SCIM_RT_GROUP);
                assert_int_equal(d.action, SCIM_ACT_PATCH);
                assert_string_equal(d.resource_id, "resource_id");
                assert_string_equal(d.actor, "actor");
                assert_string_equal(d.request_id, "request_id");
                assert_string_equal(d.resource_json, "resource_json");
                assert_int_equal(d.time_ms, 1234567890123LL);
                assert_int_equal(d.refused_status, 404);
                assert_true(d.members_replace);
                assert_int_equal(d.n_added, 2);
                assert_string_equal(d.added[1].value, "value");
                assert_string_equal(d.added[1].display, "display");
                assert_int_equal(d.n_removed, 2);
                assert_string_equal(d.removed[0], "members_removed");
                assert_string_equal(d.token_hash, "token_hash");
                /* v2 added token_scope and attempted_action (default
                 * null): a v1 writer gets the defaults */
                if (version >= 2) {
                        assert_string_equal(d.token_scope, "token_scope");
                        assert_string_equal(d.attempted_action,
                                            "attempted_action");
                } else {
                        assert_null(d.token_scope);
                        assert_null(d.attempted_action);
                }
                /* v3 added resource_type_name, admin_json, sealed_json,
                 * key_id (default null) and expires_ms (default 0) */
                if (version >= 3) {
                        assert_string_equal(d.admin_json, "admin_json");
                        assert_string_equal(d.key_id, "key_id");
                } else {
                        assert_null(d.admin_json);
                        assert_null(d.key_id);
                        assert_int_equal(d.expires_ms, 0);
                }
                scim_event_clear(&d);

                /* avro-c reads back what our encoder writes, too (for the
                 * current version). */
                if (version == n) {
                        scim_event_t ev;
                        scim_buf_t b = {0};
                        avro_value_t back;
                        avro_reader_t r;
                        const char *s = NULL;
                        size_t slen = 0;
                        avro_value_t f;

                        sample_event(&ev, SCIM_ACT_DELETE);
                        assert_int_equal(scim_event_encode(&ev, &b, &err), 0);
                        assert_int_equal(avro_generic_value_new(iface, &back),
                                         0);
                        r = avro_reader_memory(b.data + 10,
                                               (int64_t)(b.len - 10));
                        assert_int_equal(avro_value_read(r, &back), 0);
                        assert_int_equal(
                            avro_value_get_by_name(&back, "tenant", &f, NULL),
                            0);
                        assert_int_equal(avro_value_get_string(&f, &s, &slen),
                                         0);
                        assert_string_equal(s, ev.tenant);
                        avro_reader_free(r);
                        avro_value_decref(&back);
                        scim_buf_free(&b);
                }
                free(buf);
                avro_value_decref(&rec);
                avro_value_iface_decref(iface);
                avro_schema_decref(schema);
        }
}

/* ------------------------------------------------------------ threads */

static void *thread_main(void *arg)
{
        long id = (long)arg;
        int bad = 0;

        for (int i = 0; i < 300 && !bad; i++) {
                scim_event_t ev, d;
                scim_buf_t b = {0};
                scim_err_t err;
                char tenant[32];

                sample_event(&ev, (scim_action_t)(i % 8));
                snprintf(tenant, sizeof(tenant), "t%ld-%d", id, i);
                ev.tenant = tenant;
                ev.time_ms = i;
                if (scim_event_encode(&ev, &b, &err) ||
                    scim_event_decode(b.data, b.len, &d, &err))
                        bad = 1;
                else if (strcmp(d.tenant, tenant) || d.time_ms != i ||
                         d.n_added != 3)
                        bad = 1;
                if (!bad)
                        scim_event_clear(&d);
                scim_buf_free(&b);
        }
        return (void *)(long)bad;
}

static void test_threads(void **state)
{
        pthread_t t[4];

        (void)state;
        for (long i = 0; i < 4; i++)
                assert_int_equal(
                    pthread_create(&t[i], NULL, thread_main, (void *)i), 0);
        for (int i = 0; i < 4; i++) {
                void *ret;

                assert_int_equal(pthread_join(t[i], &ret), 0);
                assert_null(ret);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fingerprint_vectors),
            cmocka_unit_test(test_v1_fingerprint_pinned),
            cmocka_unit_test(test_header_bytes),
            cmocka_unit_test(test_round_trip_every_action),
            cmocka_unit_test(test_round_trip_edges),
            cmocka_unit_test(test_round_trip_large_members),
            cmocka_unit_test(test_encode_rejects_bad_events),
            cmocka_unit_test(test_reject_header),
            cmocka_unit_test(test_reject_every_truncation),
            cmocka_unit_test(test_reject_trailing_bytes),
            cmocka_unit_test(test_bit_flips),
            cmocka_unit_test(test_reject_hostile_datums),
            cmocka_unit_test(test_accept_array_blocks),
            cmocka_unit_test(test_every_version_readable),
            cmocka_unit_test(test_threads),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
