/*
 * fuzz_event.c — libFuzzer target for the Avro event decoder: arbitrary
 * bytes must either decode or be refused with 400, never crash, hang or
 * leak. Whatever decodes must re-encode, decode again to the same event,
 * and re-encode to the same bytes (encoding is deterministic).
 * Corpus: tests/fuzz/corpus/event/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/schemas_internal.h"
#include "schemas/scim_schemas.h"

static int str_eq(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static int events_equal(const scim_event_t *a, const scim_event_t *b)
{
        if (strcmp(a->event_id, b->event_id) ||
            a->schema_version != b->schema_version || a->rtype != b->rtype ||
            a->action != b->action || a->time_ms != b->time_ms ||
            a->expect_version != b->expect_version ||
            a->members_replace != b->members_replace ||
            a->refused_status != b->refused_status ||
            !str_eq(a->tenant, b->tenant) ||
            !str_eq(a->resource_id, b->resource_id) ||
            !str_eq(a->actor, b->actor) ||
            !str_eq(a->request_id, b->request_id) ||
            !str_eq(a->resource_json, b->resource_json) ||
            !str_eq(a->refused_scim_type, b->refused_scim_type) ||
            !str_eq(a->refused_detail, b->refused_detail) ||
            !str_eq(a->request_digest, b->request_digest) ||
            !str_eq(a->token_id, b->token_id) ||
            !str_eq(a->token_hash, b->token_hash) || a->n_added != b->n_added ||
            a->n_removed != b->n_removed)
                return 0;
        for (size_t i = 0; i < a->n_added; i++)
                if (!str_eq(a->added[i].value, b->added[i].value) ||
                    !str_eq(a->added[i].display, b->added[i].display))
                        return 0;
        for (size_t i = 0; i < a->n_removed; i++)
                if (!str_eq(a->removed[i], b->removed[i]))
                        return 0;
        return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        scim_event_t ev, again;
        scim_buf_t b1 = {0}, b2 = {0};
        scim_err_t err;

        if (!ready) {
                char errstr[256];

                if (scim_schemas_init(errstr, sizeof(errstr))) {
                        fprintf(stderr, "scim_schemas_init: %s\n", errstr);
                        abort();
                }
                ready = 1;
        }
        if (scim_event_decode(data, size, &ev, &err)) {
                if (err.status != 400 ||
                    strcmp(err.scim_type, "invalidSyntax") != 0)
                        abort();
                return 0;
        }
        /* Decoded events carry the version they were written with; the
         * re-encoded one carries the current version. */
        if (scim_event_encode(&ev, &b1, &err) ||
            scim_event_decode(b1.data, b1.len, &again, &err)) {
                fprintf(stderr, "decoded event does not re-encode: %s\n",
                        err.detail);
                abort();
        }
        {
                scim_buf_t ref = {0};

                if (scim_event_encode_avroc(&ev, &ref, &err) ||
                    ref.len != b1.len || memcmp(ref.data, b1.data, b1.len)) {
                        fprintf(stderr, "direct and avro-c encodings differ\n");
                        abort();
                }
                scim_buf_free(&ref);
        }
        ev.schema_version = again.schema_version;
        if (!events_equal(&ev, &again))
                abort();
        if (scim_event_encode(&again, &b2, &err) || b1.len != b2.len ||
            memcmp(b1.data, b2.data, b1.len) != 0)
                abort();
        scim_event_clear(&ev);
        scim_event_clear(&again);
        scim_buf_free(&b1);
        scim_buf_free(&b2);
        return 0;
}
