/*
 * history_gen.h — random event histories for differential tests of the
 * fold (unit 0571, fuzz target replay_diff): the same history folded live
 * and replayed must give the same views.
 *
 * A history is driven by a byte source: a seeded PRNG (unit tests) or
 * fuzz input (the history ends when the bytes do). It mixes three tenants
 * and one that never exists; users created, replaced, patched, deleted
 * and re-created under old ids, with userNames drawn from a small pool
 * (taken names are refused, a freed name is taken over), extension
 * attributes, emails, version preconditions; groups created with
 * members, membership-only changes (add, remove, replace), renamed and
 * deleted, members deleted while in groups; tenant definitions put and
 * deleted (a required attribute with a catalog, or a tenant-defined type
 * Team and a User extension whose values must name a Team, so later
 * writes are refused or not); Team resources; change retention set
 * (records pruned); tokens issued and revoked; a lagging Kafka node's
 * probes (never applied); tenants disabled and
 * enabled; saved reports; refusals logged; resources that are bad JSON or over
 * a size limit (another producer's events: only the fold checks them); and
 * times that move forward by seconds to hours (reports' hourly counters).
 *
 * Every event is encoded, then decoded into the C form the projector
 * reads (current writer schema, nothing pre-parsed). Header-only, static
 * inline, no cmocka: the fuzz target includes it too.
 */
#ifndef SCIMLOG_TESTS_HISTORY_GEN_H
#define SCIMLOG_TESTS_HISTORY_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/scim_projector.h"
#include "schemas/scim_schemas.h"

/* The byte source: fuzz bytes (data, n) or, with data NULL, a PRNG. */
typedef struct hg_src {
        const uint8_t *data;
        size_t n, at;
        uint64_t s; /* PRNG state (data NULL) */
        int ended;  /* fuzz bytes used up */
} hg_src_t;

static inline unsigned hg_byte(hg_src_t *r)
{
        if (r->data) {
                if (r->at >= r->n) {
                        r->ended = 1;
                        return 0;
                }
                return r->data[r->at++];
        }
        r->s ^= r->s << 13; /* xorshift64 */
        r->s ^= r->s >> 7;
        r->s ^= r->s << 17;
        return (unsigned)(r->s >> 24) & 0xff;
}

/* A number in [0, n) (n <= 65536). */
static inline unsigned hg_pick(hg_src_t *r, unsigned n)
{
        unsigned v = hg_byte(r);

        if (n > 256)
                v = v << 8 | hg_byte(r);
        return n ? v % n : 0;
}

typedef struct hg_history {
        scim_event_t *evs; /* decoded, as the projector reads them */
        scim_buf_t *enc;   /* their encoded form */
        size_t n, cap;
        int64_t now_ms;
        /* ids this history created and did not delete, per tenant (the
         * generator's guess: some of those writes were refused) */
        uint32_t users[4], groups[4];
} hg_history_t;

static const char *const hg_tenants[] = {"ta", "tb", "tc", "tz"};

/* A resource of up to ~40 KB: pieces chosen by the source. */
static inline void hg_user_json(hg_src_t *r, scim_buf_t *b)
{
        char tmp[160];
        unsigned k = hg_pick(r, 16);

        b->len = 0;
        if (k == 0) { /* another producer's garbage */
                scim_buf_puts(b, hg_pick(r, 2) ? "{\"userName\":" : "[1,2]");
                return;
        }
        snprintf(tmp, sizeof(tmp), "{\"userName\":\"n%u@example.com\"",
                 hg_pick(r, 12));
        scim_buf_puts(b, tmp);
        if (hg_pick(r, 2)) {
                snprintf(tmp, sizeof(tmp), ",\"active\":%s",
                         hg_pick(r, 2) ? "true" : "false");
                scim_buf_puts(b, tmp);
        }
        if (hg_pick(r, 2)) {
                snprintf(tmp, sizeof(tmp), ",\"title\":\"title %u\"",
                         hg_pick(r, 4));
                scim_buf_puts(b, tmp);
        }
        if (hg_pick(r, 3) == 0) {
                snprintf(tmp, sizeof(tmp),
                         ",\"name\":{\"givenName\":\"G%u\",\"familyName\":"
                         "\"F%u\"}",
                         hg_pick(r, 3), hg_pick(r, 3));
                scim_buf_puts(b, tmp);
        }
        if (hg_pick(r, 2)) {
                unsigned ne = hg_pick(r, 4);

                scim_buf_puts(b, ",\"emails\":[");
                for (unsigned i = 0; i < ne; i++) {
                        snprintf(tmp, sizeof(tmp),
                                 "%s{\"value\":\"e%u@example.com\","
                                 "\"type\":\"%s\",\"primary\":%s}",
                                 i ? "," : "", hg_pick(r, 6),
                                 hg_pick(r, 2) ? "work" : "home",
                                 i == 0 ? "true" : "false");
                        scim_buf_puts(b, tmp);
                }
                scim_buf_puts(b, "]");
        }
        if (hg_pick(r, 2)) { /* the definition's required, catalogued one */
                static const char *const roles[] = {"User", "Manager", "Admin",
                                                    "Nobody"};

                snprintf(tmp, sizeof(tmp), ",\"roles\":[{\"value\":\"%s\"}]",
                         roles[hg_pick(r, 4)]);
                scim_buf_puts(b, tmp);
        }
        if (hg_pick(r, 3) == 0) {
                snprintf(tmp, sizeof(tmp),
                         ",\"urn:ietf:params:scim:schemas:extension:"
                         "enterprise:2.0:User\":{\"department\":\"D%u\","
                         "\"employeeNumber\":\"%u\"}",
                         hg_pick(r, 3), hg_pick(r, 50));
                scim_buf_puts(b, tmp);
        }
        if (hg_pick(r, 4) == 0) { /* def2's extension: Team names */
                snprintf(tmp, sizeof(tmp),
                         ",\"urn:ietf:params:scim:schemas:extension:"
                         "talkdesk:2.0:User\":{\"teamsString\":"
                         "[\"Team %u\"]}",
                         hg_pick(r, 5));
                scim_buf_puts(b, tmp);
        }
        if (hg_pick(r, 24) == 0) { /* over SCIM_MAX_STRING_BYTES or not */
                size_t n = SCIM_MAX_STRING_BYTES - 1 + hg_pick(r, 3);

                scim_buf_puts(b, ",\"nickName\":\"");
                for (size_t i = 0; i < n; i++)
                        scim_buf_puts(b, "z");
                scim_buf_puts(b, "\"");
        }
        if (hg_pick(r, 24) == 0) { /* nested around SCIM_MAX_RESOURCE_DEPTH */
                unsigned d = SCIM_MAX_RESOURCE_DEPTH - 1 + hg_pick(r, 3);

                scim_buf_puts(b, ",\"x\":");
                for (unsigned i = 0; i < d; i++)
                        scim_buf_puts(b, "{\"a\":");
                scim_buf_puts(b, "1");
                for (unsigned i = 0; i < d; i++)
                        scim_buf_puts(b, "}");
        }
        scim_buf_puts(b, "}");
}

/* Appends ev (taken: its fields move into the history) encoded, then
 * decoded. Returns 0, or -1 when the event does not encode or decode. */
static inline int hg_push(hg_history_t *h, scim_event_t *ev)
{
        scim_err_t err;
        scim_buf_t b = {0};
        scim_event_t d;
        int rc;

        if (h->n == h->cap) {
                size_t cap = h->cap ? 2 * h->cap : 64;
                scim_event_t *e = realloc(h->evs, cap * sizeof(*e));
                scim_buf_t *x;

                if (!e)
                        abort();
                h->evs = e;
                if (!(x = realloc(h->enc, cap * sizeof(*x))))
                        abort();
                h->enc = x;
                h->cap = cap;
        }
        scim_err_clear(&err);
        rc = scim_event_encode(ev, &b, &err);
        scim_event_clear(ev);
        if (rc != 0) {
                scim_buf_free(&b);
                return -1;
        }
        memset(&d, 0, sizeof(d));
        if (scim_event_decode(b.data, b.len, &d, &err) != 0) {
                scim_event_clear(&d);
                scim_buf_free(&b);
                return -1;
        }
        h->evs[h->n] = d;
        h->enc[h->n] = b;
        h->n++;
        return 0;
}

/* An index in [0, n): mostly one of the set bits of live (when any). */
static inline unsigned hg_pick_in(hg_src_t *r, uint32_t live, unsigned n)
{
        unsigned i = hg_pick(r, n);

        if (live && hg_pick(r, 5))
                while (!(live >> i & 1))
                        i = (i + 1) % n;
        return i;
}

/* A member id: mostly users of the tenant, sometimes a group or an id
 * never created. */
static inline char *hg_member_id(hg_src_t *r, const hg_history_t *h, int t)
{
        char id[16];
        unsigned k = hg_pick(r, 12);

        if (k < 10)
                snprintf(id, sizeof(id), "u%u", hg_pick_in(r, h->users[t], 12));
        else
                snprintf(id, sizeof(id), k < 11 ? "g%u" : "nx%u",
                         hg_pick(r, 5));
        return strdup(id);
}

/* Adds one random event to h. */
static inline void hg_step(hg_history_t *h, hg_src_t *r)
{
        static const char def[] =
            "{\"resourceTypes\":[{\"name\":\"User\",\"required\":"
            "[\"userName\",\"roles.value\"],\"attributeCatalogs\":"
            "{\"roles.value\":\"roles\"},\"unknownAttributes\":\"keep\"},"
            "{\"name\":\"Group\",\"unknownAttributes\":\"keep\"}],"
            "\"catalogs\":{\"roles\":{\"values\":[\"User\",\"Manager\","
            "\"Admin\"]}}}";
        /* a tenant-defined type, Team, and a User extension whose values
         * must name a Team */
        static const char def2[] =
            "{\"schemas\":[{\"id\":\"urn:ietf:params:scim:schemas:"
            "extension:talkdesk:2.0:User\",\"name\":\"TalkdeskUser\","
            "\"attributes\":[{\"name\":\"teamsString\",\"type\":"
            "\"string\",\"multiValued\":true,\"catalog\":"
            "\"Team.displayName\"}]},{\"id\":\"urn:acme:params:scim:"
            "schemas:core:2.0:Team\",\"name\":\"Team\",\"attributes\":"
            "[{\"name\":\"displayName\",\"type\":\"string\","
            "\"required\":true}]}],\"resourceTypes\":[{\"name\":\"User\","
            "\"schemaExtensions\":[{\"schema\":\"urn:ietf:params:scim:"
            "schemas:extension:talkdesk:2.0:User\",\"required\":false}]},"
            "{\"name\":\"Team\",\"endpoint\":\"/Teams\",\"schema\":"
            "\"urn:acme:params:scim:schemas:core:2.0:Team\"}]}";
        scim_event_t e;
        scim_buf_t b = {0};
        char id[16], tmp[96];
        unsigned kind = hg_pick(r, 100);
        unsigned gap = hg_pick(r, 8);
        unsigned u;
        int t;

        /* seconds to hours later; sometimes the same millisecond */
        h->now_ms += gap == 0  ? 0
                     : gap < 5 ? (int64_t)hg_pick(r, 60) * 1000
                     : gap < 7 ? (int64_t)hg_pick(r, 90) * 60000
                               : (int64_t)(1 + hg_pick(r, 5)) * 3600000;
        memset(&e, 0, sizeof(e));
        snprintf(e.event_id, sizeof(e.event_id),
                 "00000000-0000-4000-8000-%012zu", h->n);
        t = hg_pick(r, 16) == 0 ? 3 : (int)hg_pick(r, 3);
        e.tenant = strdup(hg_tenants[t]);
        e.time_ms = h->now_ms;
        e.actor = strdup("tok");
        e.request_id = strdup("r");
        e.expect_version = -1;
        if (kind < 4) {
                e.action = SCIM_ACT_TENANT_CREATE;
        } else if (kind < 5) {
                e.action = hg_pick(r, 3) ? SCIM_ACT_SCHEMA_PUT
                                         : SCIM_ACT_SCHEMA_DELETE;
                if (e.action == SCIM_ACT_SCHEMA_PUT)
                        e.admin_json = strdup(hg_pick(r, 2) ? def : def2);
        } else if (kind < 6) {
                e.action = SCIM_ACT_TENANT_UPDATE;
                snprintf(tmp, sizeof(tmp), "{\"changeRetentionSeconds\":%u}",
                         (1 + hg_pick(r, 48)) * 3600);
                e.admin_json = strdup(tmp);
        } else if (kind < 7) {
                e.action = hg_pick(r, 2) ? SCIM_ACT_TOKEN_ISSUE
                                         : SCIM_ACT_TOKEN_REVOKE;
                snprintf(tmp, sizeof(tmp), "tok%u", hg_pick(r, 3));
                e.token_id = strdup(tmp);
                e.token_hash = strdup("0000000000000000000000000000000000000"
                                      "000000000000000000000000000");
        } else if (kind < 9) {
                e.action = SCIM_ACT_REFUSED;
                e.rtype = SCIM_RT_USER;
                snprintf(id, sizeof(id), "u%u", hg_pick(r, 12));
                e.resource_id = strdup(id);
                e.refused_status = 409;
                e.refused_scim_type = strdup("uniqueness");
                e.refused_detail = strdup("userName is taken");
                e.attempted_action = strdup("CREATE");
        } else if (kind < 10 && hg_pick(r, 4) == 0) {
                e.action = SCIM_ACT_TENANT_DELETE;
                h->users[t] = h->groups[t] = 0;
        } else if (kind < 11) { /* saved reports */
                e.action = hg_pick(r, 3) ? SCIM_ACT_REPORT_SAVE
                                         : SCIM_ACT_REPORT_DELETE;
                e.resource_id = strdup(hg_pick(r, 2) ? "weekly" : "daily");
                if (e.action == SCIM_ACT_REPORT_SAVE)
                        e.resource_json = strdup(
                            hg_pick(r, 6) ? "{\"format\":\"csv\"}" : "[1]");
        } else if (kind < 12) {
                e.action = hg_pick(r, 2) ? SCIM_ACT_TENANT_DISABLE
                                         : SCIM_ACT_TENANT_ENABLE;
        } else if (kind < 16) { /* the tenant-defined type (def2) */
                static const scim_action_t acts[] = {
                    SCIM_ACT_CREATE, SCIM_ACT_CREATE, SCIM_ACT_REPLACE,
                    SCIM_ACT_DELETE};

                e.rtype = SCIM_RT_CUSTOM;
                e.resource_type_name = strdup("Team");
                e.action = acts[hg_pick(r, 4)];
                snprintf(id, sizeof(id), "tm%u", hg_pick(r, 4));
                e.resource_id = strdup(id);
                if (e.action != SCIM_ACT_DELETE) {
                        if (hg_pick(r, 8))
                                snprintf(tmp, sizeof(tmp),
                                         "{\"displayName\":\"Team %u\"}",
                                         hg_pick(r, 4));
                        else
                                snprintf(tmp, sizeof(tmp), "{}");
                        e.resource_json = strdup(tmp);
                }
        } else if (kind < 62) { /* users */
                static const scim_action_t acts[] = {
                    SCIM_ACT_CREATE, SCIM_ACT_CREATE, SCIM_ACT_REPLACE,
                    SCIM_ACT_PATCH,  SCIM_ACT_PATCH,  SCIM_ACT_DELETE};

                e.rtype = SCIM_RT_USER;
                e.action = acts[hg_pick(r, 6)];
                u = e.action == SCIM_ACT_CREATE
                        ? hg_pick(r, 12)
                        : hg_pick_in(r, h->users[t], 12);
                if (e.action == SCIM_ACT_CREATE)
                        h->users[t] |= 1u << u;
                else if (e.action == SCIM_ACT_DELETE)
                        h->users[t] &= ~(1u << u);
                snprintf(id, sizeof(id), "u%u", u);
                e.resource_id = strdup(id);
                if (e.action != SCIM_ACT_DELETE) {
                        hg_user_json(r, &b);
                        e.resource_json = strdup(b.data ? b.data : "");
                }
                if (e.action == SCIM_ACT_CREATE)
                        e.expect_version = hg_pick(r, 8) ? 0 : -1;
                else if (hg_pick(r, 4) == 0)
                        e.expect_version = 1 + hg_pick(r, 3);
                if (hg_pick(r, 24) == 0) { /* a lagging Kafka node's probe */
                        e.expect_version = SCIM_EXPECT_ABSENT;
                        free(e.resource_json);
                        e.resource_json = NULL;
                }
        } else { /* groups */
                unsigned g = hg_pick(r, 6);
                unsigned na, nr;

                e.rtype = SCIM_RT_GROUP;
                e.action = g < 2   ? SCIM_ACT_CREATE
                           : g < 4 ? SCIM_ACT_PATCH
                           : g < 5 ? SCIM_ACT_REPLACE
                                   : SCIM_ACT_DELETE;
                u = e.action == SCIM_ACT_CREATE
                        ? hg_pick(r, 5)
                        : hg_pick_in(r, h->groups[t], 5);
                if (e.action == SCIM_ACT_CREATE)
                        h->groups[t] |= 1u << u;
                else if (e.action == SCIM_ACT_DELETE)
                        h->groups[t] &= ~(1u << u);
                snprintf(id, sizeof(id), "g%u", u);
                e.resource_id = strdup(id);
                if (e.action == SCIM_ACT_CREATE ||
                    e.action == SCIM_ACT_REPLACE ||
                    (e.action == SCIM_ACT_PATCH && hg_pick(r, 4) == 0)) {
                        snprintf(tmp, sizeof(tmp),
                                 "{\"displayName\":\"Group %u\"}",
                                 hg_pick(r, 8));
                        e.resource_json = strdup(tmp);
                }
                if (e.action != SCIM_ACT_DELETE) {
                        na = hg_pick(r, 2) ? hg_pick(r, 4) : 0;
                        nr = e.action == SCIM_ACT_PATCH ? hg_pick(r, 3) : 0;
                        e.members_replace =
                            e.action == SCIM_ACT_REPLACE ||
                            (e.action == SCIM_ACT_PATCH && hg_pick(r, 6) == 0);
                        if (na) {
                                e.added = calloc(na, sizeof(*e.added));
                                for (unsigned i = 0; e.added && i < na; i++) {
                                        e.added[i].value =
                                            hg_member_id(r, h, t);
                                        if (hg_pick(r, 2))
                                                e.added[i].display =
                                                    strdup("Some One");
                                }
                                e.n_added = e.added ? na : 0;
                        }
                        if (nr) {
                                e.removed = calloc(nr, sizeof(char *));
                                for (unsigned i = 0; e.removed && i < nr; i++)
                                        e.removed[i] = hg_member_id(r, h, t);
                                e.n_removed = e.removed ? nr : 0;
                        }
                }
                if (e.action == SCIM_ACT_CREATE)
                        e.expect_version = 0;
        }
        scim_buf_free(&b);
        (void)hg_push(h, &e);
}

/* A history of at most n events (fewer when fuzz bytes end); the three
 * tenants are created first. */
static inline void hg_build(hg_history_t *h, hg_src_t *r, size_t n)
{
        memset(h, 0, sizeof(*h));
        h->now_ms = 1767225600000LL; /* 2026-01-01 */
        for (int t = 0; t < 3; t++) {
                scim_event_t e;

                memset(&e, 0, sizeof(e));
                snprintf(e.event_id, sizeof(e.event_id),
                         "00000000-0000-4000-8000-%012zu", h->n);
                e.tenant = strdup(hg_tenants[t]);
                e.action = SCIM_ACT_TENANT_CREATE;
                e.time_ms = h->now_ms;
                e.actor = strdup("cli");
                e.request_id = strdup("r");
                e.expect_version = -1;
                (void)hg_push(h, &e);
        }
        while (h->n < n && !r->ended)
                hg_step(h, r);
}

/* As ingest logs an event of the embedded log (encode_sealed): the
 * tenant's data key seals the resource, the refusal's detail and the
 * members' display names into sealed_json; the log gets the event
 * without them (enc, re-encoded), the fold the plain one (ev, which keeps
 * sealed_json and key_id, as ingest's does). Returns 0 or -1. */
static inline int hg_seal_for_log(scim_store_t *st, scim_event_t *ev,
                                  scim_buf_t *enc)
{
        char *plain, *detail;
        char *disp[8] = {0};
        scim_err_t err;
        int rc;

        scim_err_clear(&err);
        if (scim_store_seal(st, ev, &err) != 0 || ev->n_added > 8)
                return -1;
        if (!ev->sealed_json)
                return 0;
        plain = ev->resource_json;
        detail = ev->refused_detail;
        for (size_t i = 0; i < ev->n_added; i++) {
                disp[i] = ev->added[i].display;
                ev->added[i].display = NULL;
        }
        ev->resource_json = NULL;
        ev->refused_detail = NULL;
        enc->len = 0;
        rc = scim_event_encode(ev, enc, &err);
        ev->resource_json = plain;
        ev->refused_detail = detail;
        for (size_t i = 0; i < ev->n_added; i++)
                ev->added[i].display = disp[i];
        return rc;
}

static inline void hg_free(hg_history_t *h)
{
        for (size_t i = 0; i < h->n; i++) {
                scim_event_clear(&h->evs[i]);
                scim_buf_free(&h->enc[i]);
        }
        free(h->evs);
        free(h->enc);
        memset(h, 0, sizeof(*h));
}

#endif
