/*
 * event_peek.c — reads one log record in place, without building the
 * event: where its resource id, resource JSON, member lists and seal are
 * in the bytes. For readers that look at many records and need few of
 * their fields (point-in-time lists and groups, projector/asof.c): the
 * full decoder (event.c) allocates every string of every field.
 *
 * Knows the field layout of the three event schema versions (v1 fields
 * 0-19, v2 adds 2 optional strings, v3 adds 3 optional strings, a long and
 * 2 optional strings; schemas/avro/event.vN.avsc, which never change
 * once released). A record of any other writer schema is not peeked
 * (-1): the caller decodes it fully. Every length is checked against the
 * end of the record, and the whole datum must be consumed, as the full
 * decoder requires; the fuzz target fuzz_event_peek compares the two.
 *
 * Reentrant; no allocation.
 */
#include <string.h>

#include "schemas/scim_schemas.h"

#define PEEK_HEADER_LEN 10 /* C3 01 + the 8-byte fingerprint */

typedef struct avr {
        const unsigned char *p, *end;
        int bad;
} avr_t;

static int64_t avr_long(avr_t *r)
{
        uint64_t v = 0;
        int shift = 0;

        while (r->p < r->end) {
                unsigned char b = *r->p++;

                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
                shift += 7;
                if (shift > 63)
                        break;
        }
        r->bad = 1;
        return 0;
}

static void avr_str(avr_t *r, const char **s, size_t *n)
{
        int64_t len = avr_long(r);

        if (r->bad || len < 0 || len > r->end - r->p) {
                r->bad = 1;
                *s = NULL;
                *n = 0;
                return;
        }
        *s = (const char *)r->p;
        *n = (size_t)len;
        r->p += len;
}

/* ["null", "string"]: *s NULL when null */
static void avr_ostr(avr_t *r, const char **s, size_t *n)
{
        int64_t i = avr_long(r);

        *s = NULL;
        *n = 0;
        if (i == 1)
                avr_str(r, s, n);
        else if (i != 0)
                r->bad = 1;
}

static void avr_skip_ostr(avr_t *r)
{
        const char *s;
        size_t n;

        avr_ostr(r, &s, &n);
}

/* The item count of the array block at r (0: the array's end); a block
 * with a negative count carries its byte size, which is skipped. */
static int64_t avr_block(avr_t *r)
{
        int64_t n = avr_long(r);

        if (n < 0) {
                if (n == INT64_MIN)
                        return r->bad = 1, 0;
                n = -n;
                (void)avr_long(r);
        }
        if (r->bad || n > r->end - r->p) /* every item takes a byte */
                return r->bad = 1, 0;
        return n;
}

/* Walks members_added (members 1) or members_removed (0) from p; calls fn
 * for each member unless fn is NULL. Returns where the array ends, NULL
 * when malformed. */
static const unsigned char *walk_members(
    const unsigned char *p, const unsigned char *end, int added,
    void (*fn)(void *ctx, const char *v, size_t vl, const char *d, size_t dl),
    void *ctx)
{
        avr_t r = {p, end, 0};

        for (;;) {
                int64_t n = avr_block(&r);

                if (r.bad)
                        return NULL;
                if (n == 0)
                        return r.p;
                for (int64_t i = 0; i < n; i++) {
                        const char *v, *d = NULL;
                        size_t vl, dl = 0;

                        avr_str(&r, &v, &vl);
                        if (added)
                                avr_ostr(&r, &d, &dl);
                        if (r.bad)
                                return NULL;
                        if (fn)
                                fn(ctx, v, vl, d, dl);
                }
        }
}

int scim_event_peek(const void *data, size_t len, scim_event_peek_t *pk)
{
        const unsigned char *p = data;
        uint64_t fp = 0;
        int version = 0;
        avr_t r;
        const char *s;
        size_t n;

        memset(pk, 0, sizeof(*pk));
        if (!p || len < PEEK_HEADER_LEN || p[0] != 0xC3 || p[1] != 0x01)
                return -1;
        for (int i = 7; i >= 0; i--)
                fp = (fp << 8) | p[2 + i];
        for (int v = 1; v <= 3 && !version; v++)
                if (scim_event_schema_fingerprint(v) == fp)
                        version = v;
        if (!version)
                return -1;
        r.p = p + PEEK_HEADER_LEN;
        r.end = p + len;
        r.bad = 0;
        avr_str(&r, &s, &n);               /* event_id */
        (void)avr_long(&r);                /* schema_version */
        avr_str(&r, &s, &n);               /* tenant */
        pk->rtype_index = avr_long(&r);    /* resource_type */
        avr_ostr(&r, &pk->rid, &pk->ridl); /* resource_id */
        pk->action_index = avr_long(&r);   /* action */
        pk->time_ms = avr_long(&r);        /* time_ms */
        avr_str(&r, &s, &n);               /* actor */
        avr_str(&r, &s, &n);               /* request_id */
        (void)avr_long(&r);                /* expect_version */
        avr_ostr(&r, &pk->rj, &pk->rjl);   /* resource_json */
        if (r.bad || r.p >= r.end || *r.p > 1)
                return -1;
        pk->members_replace = *r.p++; /* members_replace */
        pk->added = r.p;
        r.p = walk_members(r.p, r.end, 1, NULL, NULL);
        if (!r.p)
                return -1;
        pk->removed = r.p;
        r.p = walk_members(r.p, r.end, 0, NULL, NULL);
        if (!r.p)
                return -1;
        (void)avr_long(&r); /* refused_status */
        for (int i = 0; i < 5; i++)
                avr_skip_ostr(&r); /* refused_scim_type .. token_hash */
        if (version >= 2) {
                avr_skip_ostr(&r); /* token_scope */
                avr_skip_ostr(&r); /* attempted_action */
        }
        if (version >= 3) {
                avr_skip_ostr(&r);  /* resource_type_name */
                avr_skip_ostr(&r);  /* admin_json */
                (void)avr_long(&r); /* expires_ms */
                avr_ostr(&r, &pk->sealed, &pk->sealedl); /* sealed_json */
                avr_ostr(&r, &pk->kid, &pk->kidl);       /* key_id */
        }
        if (r.bad || r.p != r.end) {
                memset(pk, 0, sizeof(*pk));
                return -1;
        }
        pk->end = r.end;
        return 0;
}

int scim_event_peek_members(const scim_event_peek_t *pk, int added,
                            void (*fn)(void *ctx, const char *value,
                                       size_t value_len, const char *display,
                                       size_t display_len),
                            void *ctx)
{
        if (!pk->end)
                return -1;
        return walk_members(added ? pk->added : pk->removed, pk->end, added, fn,
                            ctx)
                   ? 0
                   : -1;
}
