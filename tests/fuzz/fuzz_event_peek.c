/*
 * fuzz_event_peek.c — libFuzzer target for the in-place record reader
 * (schemas/event_peek.c) that asOf uses instead of the full decoder:
 * arbitrary bytes must never crash, hang or read past the input, and the
 * two readers must agree. Whatever the full decoder accepts the peek
 * accepts too, with the same resource id, resource JSON, seal, key id,
 * members_replace and member lists; a record the peek accepts but the
 * decoder refuses is allowed only for what the peek does not check (the
 * text of strings, enum ranges, field values).
 * Corpus: tests/fuzz/corpus/event_peek/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

/* a span equals a decoded C string (which ends at a NUL inside) */
static int span_eq(const char *s, size_t n, const char *c)
{
        if (!s || !c)
                return !s && !c;
        return strlen(c) == strnlen(s, n) && !memcmp(s, c, strlen(c));
}

typedef struct walk {
        const scim_event_t *ev;
        size_t i;
        int added, bad;
} walk_t;

static void one(void *ctx, const char *v, size_t vl, const char *d, size_t dl)
{
        walk_t *w = ctx;

        if (w->added) {
                if (w->i >= w->ev->n_added ||
                    !span_eq(v, vl, w->ev->added[w->i].value) ||
                    !span_eq(d, dl, w->ev->added[w->i].display) ||
                    (d && !w->ev->added[w->i].display))
                        w->bad = 1;
        } else if (w->i >= w->ev->n_removed ||
                   !span_eq(v, vl, w->ev->removed[w->i])) {
                w->bad = 1;
        }
        w->i++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        scim_event_t ev;
        scim_event_peek_t pk;
        scim_err_t err;
        int pr, dr;

        if (!ready) {
                char errstr[256];

                if (scim_schemas_init(errstr, sizeof(errstr)) < 0)
                        abort();
                ready = 1;
        }
        pr = scim_event_peek(data, size, &pk);
        dr = scim_event_decode(data, size, &ev, &err);
        if (dr == 0) {
                walk_t a = {&ev, 0, 1, 0}, r = {&ev, 0, 0, 0};

                if (pr != 0 && ev.schema_version <= 3)
                        abort(); /* decoded, yet not peeked */
                if (pr == 0) {
                        if (!span_eq(pk.rid, pk.ridl, ev.resource_id) ||
                            !span_eq(pk.rj, pk.rjl, ev.resource_json) ||
                            !span_eq(pk.sealed, pk.sealedl, ev.sealed_json) ||
                            !span_eq(pk.kid, pk.kidl, ev.key_id) ||
                            pk.members_replace != ev.members_replace ||
                            pk.time_ms != ev.time_ms)
                                abort();
                        if (scim_event_peek_members(&pk, 1, one, &a) < 0 ||
                            scim_event_peek_members(&pk, 0, one, &r) < 0 ||
                            a.bad || r.bad || a.i != ev.n_added ||
                            r.i != ev.n_removed)
                                abort();
                }
                scim_event_clear(&ev);
        } else if (pr == 0) {
                /* the peek walks every member again without trouble */
                scim_event_peek_members(&pk, 1, NULL, NULL);
                scim_event_peek_members(&pk, 0, NULL, NULL);
        }
        return 0;
}
