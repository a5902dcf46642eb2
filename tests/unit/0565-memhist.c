/*
 * 0565-memhist.c — the member-history index (projector/memhist.c): "which
 * groups held member U at T" from U's entries alone.
 *
 * - Key codec: entry and base keys, the caseless key of the member id,
 *   parsing back, malformed keys refused.
 * - The writer on a folded log: a seeded random sequence of group creates
 *   with members, PATCH adds and removes (several at once, an id both
 *   removed and added, ids already members or not), PUT replaces, groups
 *   as members, users and groups deleted and re-created with the same id,
 *   refusals, and two member ids that differ only in case. At every event
 *   time, for every id (and a case variant of it), memhist_groups equals
 *   what rebuilding every group at T says (scim_changes_as_of).
 * - The same log folded one event per batch, all in one batch, in batches
 *   of 7, and replayed: the same digest, and the member-history keys are
 *   in it (the same count of them everywhere, more than a hundred).
 * - Retention: after a TENANT_UPDATE that prunes half the records, the
 *   entries of the pruned records are gone (their bases hold what they
 *   said) and the answers after the horizon are unchanged; a replay
 *   prunes the same (same digest); the tenant's delete leaves no key. A
 *   member deleted and created again before the horizon: neither the
 *   group's base nor the index says it is a member.
 * - The filters the asOf Groups list answers from the index
 *   (scim_filter_member_value) and those it does not.
 * The expected memberships come from a model of the log written here
 * (model_at), and, without retention and after it, from every group
 * rebuilt at T (scim_changes_as_of). MEMHIST_SEED=N runs another
 * sequence.
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

#include "projector/changes_internal.h"
#include "projector/scim_projector.h"
#include "tests/unit/unit_harness.h"

#define MAXEV 900
#define NU 14
#define NG 6
#define T0 1767225600000LL

static char base[512];
static scim_event_t evs[MAXEV];
static scim_buf_t enc[MAXEV];
static size_t nev;
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static int u_live[NU], g_live[NG]; /* as the generator expects the fold */

/* the ids: users "user-00".., one "User-Up" and one "user-up" (the same
 * caseless key), groups "grp-0".. */
static void uid(char *out, size_t n, int u)
{
        if (u == NU - 2)
                snprintf(out, n, "User-Up");
        else if (u == NU - 1)
                snprintf(out, n, "user-up");
        else
                snprintf(out, n, "user-%02d", u);
}

static void gname(char *out, size_t n, int g)
{
        snprintf(out, n, "grp-%d", g);
}

static scim_event_t *add(scim_action_t act, scim_rtype_t rt, const char *id,
                         const char *json)
{
        scim_event_t *e = &evs[nev];

        assert_true(nev < MAXEV);
        memset(e, 0, sizeof(*e));
        snprintf(e->event_id, sizeof(e->event_id),
                 "00000000-0000-4000-8000-%012zu", nev);
        e->schema_version = 2;
        e->tenant = strdup("t1");
        e->rtype = rt;
        e->resource_id = id ? strdup(id) : NULL;
        e->action = act;
        e->time_ms = T0 + (int64_t)nev * 60000;
        e->actor = strdup("test");
        e->request_id = strdup("r");
        e->expect_version = -1;
        e->resource_json = json ? strdup(json) : NULL;
        nev++;
        return e;
}

static void encode_all(void)
{
        scim_err_t err;

        for (size_t i = 0; i < nev; i++) {
                enc[i].len = 0;
                assert_int_equal(scim_event_encode(&evs[i], &enc[i], &err), 0);
        }
}

/* k random members (users, sometimes a group) into e's added or removed */
static void members(scim_event_t *e, int adding, int k, int self)
{
        char id[32];

        for (int i = 0; i < k; i++) {
                /* mostly ids that exist (an add of another refuses the
                 * whole event) */
                for (int tries = 0; tries < 20; tries++) {
                        if (unit_rand(&rng) % 6 == 0) {
                                int g = (int)(unit_rand(&rng) % NG);

                                if (g == self)
                                        continue;
                                gname(id, sizeof(id), g);
                                if (g_live[g] || unit_rand(&rng) % 10 == 0)
                                        break;
                        } else {
                                int u = (int)(unit_rand(&rng) % NU);

                                uid(id, sizeof(id), u);
                                if (u_live[u] || unit_rand(&rng) % 10 == 0)
                                        break;
                        }
                }
                if (adding) {
                        e->added = realloc(e->added, (e->n_added + 1) *
                                                         sizeof(*e->added));
                        memset(&e->added[e->n_added], 0, sizeof(*e->added));
                        e->added[e->n_added++].value = strdup(id);
                } else {
                        e->removed = realloc(e->removed, (e->n_removed + 1) *
                                                             sizeof(char *));
                        e->removed[e->n_removed++] = strdup(id);
                }
        }
}

static void build(void)
{
        char id[32], js[128];

        add(SCIM_ACT_TENANT_CREATE, 0, NULL, NULL);
        for (int u = 0; u < NU; u++) {
                uid(id, sizeof(id), u);
                snprintf(js, sizeof(js), "{\"userName\":\"%s@x\"}", id);
                add(SCIM_ACT_CREATE, SCIM_RT_USER, id, js);
                u_live[u] = 1;
        }
        for (int g = 0; g < NG; g++) {
                scim_event_t *e;

                gname(id, sizeof(id), g);
                snprintf(js, sizeof(js), "{\"displayName\":\"G%d\"}", g);
                e = add(SCIM_ACT_CREATE, SCIM_RT_GROUP, id, js);
                e->members_replace = 1;
                members(e, 1, 3, g);
                g_live[g] = 1;
        }
        while (nev < MAXEV - 20) {
                int g = (int)(unit_rand(&rng) % NG),
                    r = (int)(unit_rand(&rng) % 100);
                scim_event_t *e;

                for (int tries = 0; tries < 4 && !g_live[g]; tries++)
                        g = (int)(unit_rand(&rng) %
                                  NG); /* mostly a group that is */

                gname(id, sizeof(id), g);
                if (r < 45) { /* PATCH: adds and removes */
                        e = add(SCIM_ACT_PATCH, SCIM_RT_GROUP, id, NULL);
                        members(e, 1, (int)(unit_rand(&rng) % 3), g);
                        members(e, 0, (int)(unit_rand(&rng) % 3), g);
                        if (e->n_added && unit_rand(&rng) % 4 == 0) {
                                /* an id both removed and added */
                                e->removed =
                                    realloc(e->removed, (e->n_removed + 1) *
                                                            sizeof(char *));
                                e->removed[e->n_removed++] =
                                    strdup(e->added[0].value);
                        }
                } else if (r < 55) { /* PUT: a replace */
                        snprintf(js, sizeof(js), "{\"displayName\":\"G%d\"}",
                                 g);
                        e = add(SCIM_ACT_REPLACE, SCIM_RT_GROUP, id, js);
                        e->members_replace = 1;
                        members(e, 1, (int)(unit_rand(&rng) % 4), g);
                } else if (r < 62) { /* a group goes, or comes back */
                        if ((g_live[g] && unit_rand(&rng) % 2) ||
                            unit_rand(&rng) % 8 == 0) {
                                add(SCIM_ACT_DELETE, SCIM_RT_GROUP, id, NULL);
                                g_live[g] = 0;
                        } else {
                                snprintf(js, sizeof(js),
                                         "{\"displayName\":\"G%d\"}", g);
                                e = add(SCIM_ACT_CREATE, SCIM_RT_GROUP, id, js);
                                e->members_replace = 1;
                                members(e, 1, (int)(unit_rand(&rng) % 3), g);
                                g_live[g] = 1;
                        }
                } else if (r < 75) { /* a user goes, or comes back */
                        int u = (int)(unit_rand(&rng) % NU);

                        uid(id, sizeof(id), u);
                        if ((u_live[u] && unit_rand(&rng) % 3 == 0) ||
                            unit_rand(&rng) % 8 == 0) {
                                add(SCIM_ACT_DELETE, SCIM_RT_USER, id, NULL);
                                u_live[u] = 0;
                        } else {
                                snprintf(js, sizeof(js),
                                         "{\"userName\":\"%s-%zu@x\"}", id,
                                         nev);
                                add(SCIM_ACT_CREATE, SCIM_RT_USER, id, js);
                                u_live[u] = 1;
                        }
                } else { /* a rename: no membership */
                        snprintf(js, sizeof(js),
                                 "{\"displayName\":\"G%d-%zu\"}", g, nev);
                        add(SCIM_ACT_PATCH, SCIM_RT_GROUP, id, js);
                }
        }
        encode_all();
}

static scim_store_t *fold_into(const char *name, size_t per, int *status)
{
        char dir[700];
        scim_store_t *st;

        snprintf(dir, sizeof(dir), "%s/%s", base, name);
        st = unit_store_open(dir);
        unit_fold_batches(st, enc, evs, nev, per, status);
        return st;
}

/* Keys of chidx under tenant t1 of one kind ('m' or 'n'). */
static size_t count_kind(scim_store_t *st, char kind)
{
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        char pre[4] = {'t', '1', '\0', kind};
        size_t n = 0;

        for (rocksdb_iter_seek(it, pre, 4); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                if (kl < 4 || memcmp(k, pre, 4))
                        break;
                n++;
        }
        rocksdb_iter_destroy(it);
        return n;
}

/* On a failure: q's entries and bases. */
static void dump(scim_store_t *st, const char *q)
{
        scim_buf_t p = {0};
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);

        memhist_prefix(&p, "t1", q);
        for (rocksdb_iter_seek(it, p.data, p.len); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl), *gid, *id = NULL;
                const char *v = rocksdb_iter_value(it, &vl);
                size_t gl = 0, il = 0;
                uint64_t seq = 0;
                int kind;

                if (kl < p.len || memcmp(k, p.data, p.len))
                        break;
                kind =
                    memhist_key_parse(k, kl, p.len, &gid, &gl, &seq, &id, &il);
                fprintf(stderr, "  %.*s %s seq %llu id %.*s vl %zu", (int)gl,
                        gid, kind == 1 ? "base" : "entry",
                        (unsigned long long)seq, (int)il, id ? id : "", vl);
                if (vl >= 9)
                        fprintf(stderr, " t %lld %c",
                                (long long)((changes_get_time(
                                                 (const unsigned char *)v) -
                                             T0) /
                                            60000),
                                v[8]);
                fprintf(stderr, "\n");
        }
        rocksdb_iter_destroy(it);
        scim_buf_free(&p);
}

/* The ids that can be members: users 0..NU-1, then groups. */
#define NM (NU + NG)

static void mname(char *out, size_t n, int m)
{
        if (m < NU)
                uid(out, n, m);
        else
                gname(out, n, m - NU);
}

static int mindex(const char *id)
{
        char x[32];

        for (int m = 0; m < NM; m++) {
                mname(x, sizeof(x), m);
                if (!strcmp(x, id))
                        return m;
        }
        return -1;
}

/* The membership the log gives at T, by its own rules (independent of
 * the store): the applied events (status) with a time at most T. */
static void model_at(const int *status, int64_t T, unsigned char in[NG][NM])
{
        memset(in, 0, NG * NM);
        for (size_t i = 0; i < nev && evs[i].time_ms <= T; i++) {
                const scim_event_t *e = &evs[i];
                int self;

                if (status[i] >= 400 || !e->resource_id)
                        continue;
                self = mindex(e->resource_id);
                if (e->action == SCIM_ACT_DELETE) {
                        for (int g = 0; self >= 0 && g < NG; g++)
                                in[g][self] = 0; /* it leaves its groups */
                        if (e->rtype == SCIM_RT_GROUP)
                                memset(in[self - NU], 0, NM);
                        continue;
                }
                if (e->rtype != SCIM_RT_GROUP)
                        continue;
                if (e->members_replace)
                        memset(in[self - NU], 0, NM);
                for (size_t k = 0; k < e->n_removed; k++)
                        if (mindex(e->removed[k]) >= 0)
                                in[self - NU][mindex(e->removed[k])] = 0;
                for (size_t k = 0; k < e->n_added; k++)
                        in[self - NU][mindex(e->added[k].value)] = 1;
        }
}

/* Compares memhist_groups at T with the model, for every id and its
 * upper-case variant, and (asof set) with every group rebuilt at T by
 * scim_changes_as_of; returns how many (id, T) had a group. */
static size_t check_at(scim_store_t *st, const int *status, int64_t T, int asof)
{
        static unsigned char in[NG][NM];
        json_t *grp[NG];
        size_t held = 0;
        scim_err_t err;

        model_at(status, T, in);
        for (int g = 0; g < NG; g++) {
                char id[32];

                gname(id, sizeof(id), g);
                grp[g] = NULL;
                scim_err_clear(&err);
                if (asof)
                        (void)scim_changes_as_of(st, "t1", SCIM_RT_GROUP, id, T,
                                                 NULL, &grp[g], &err);
        }
        for (int u = 0; u < NM; u++) {
                char id[32], up[32];

                mname(id, sizeof(id), u);
                for (size_t i = 0; i <= strlen(id); i++)
                        up[i] = (char)(id[i] >= 'a' && id[i] <= 'z' ? id[i] - 32
                                                                    : id[i]);
                for (int variant = 0; variant < 2; variant++) {
                        const char *q = variant ? up : id;
                        char want[256] = "", got[256] = "", asw[256] = "";
                        char **ids = NULL;
                        size_t n = 0, o = 0, oa = 0;

                        for (int g = 0; g < NG; g++) {
                                json_t *m;
                                size_t i;
                                int hit = 0;
                                char x[32];

                                for (int k = 0; k < NM; k++) {
                                        mname(x, sizeof(x), k);
                                        hit |= in[g][k] && scim_caseeq(x, q);
                                }
                                if (hit)
                                        o += (size_t)snprintf(want + o,
                                                              sizeof(want) - o,
                                                              "grp-%d,", g);
                                hit = 0;
                                json_array_foreach(
                                    json_object_get(grp[g], "members"), i, m)
                                    hit |= scim_caseeq(
                                        json_string_value(
                                            json_object_get(m, "value")),
                                        q);
                                if (hit)
                                        oa += (size_t)snprintf(asw + oa,
                                                               sizeof(asw) - oa,
                                                               "grp-%d,", g);
                        }
                        assert_int_equal(
                            memhist_groups(st, "t1", q, T, &ids, &n), 0);
                        o = 0;
                        for (size_t i = 0; i < n; i++) {
                                o += (size_t)snprintf(got + o, sizeof(got) - o,
                                                      "%s,", ids[i]);
                                free(ids[i]);
                        }
                        free(ids);
                        if (strcmp(want, got) || (asof && strcmp(want, asw))) {
                                fprintf(stderr,
                                        "%s at %lld: want %s got %s asOf "
                                        "%s\n",
                                        q, (long long)((T - T0) / 60000), want,
                                        got, asw);
                                dump(st, q);
                        }
                        assert_string_equal(want, got);
                        if (asof)
                                assert_string_equal(want, asw);
                        held += n > 0;
                }
        }
        for (int g = 0; g < NG; g++)
                json_decref(grp[g]);
        return held;
}

static int setup(void **state)
{
        char e[256];

        (void)state;
        unit_tmpdir(base, sizeof(base), "memhist");
        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        if (getenv("MEMHIST_SEED")) /* other sequences, by hand */
                rng = strtoull(getenv("MEMHIST_SEED"), NULL, 0);
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

static void test_keys(void **state)
{
        scim_buf_t k = {0}, p = {0};
        const char *gid = NULL, *id = NULL;
        size_t gl = 0, il = 0;
        uint64_t seq = 0;
        static const char want[] = "t1\0muser-up\0grp-1\0"
                                   "\0\0\0\0\0\0\x01\x02";

        (void)state;
        /* an id that is its own caseless key: the key ends with seq */
        assert_int_equal(memhist_key(&k, "t1", "user-up", "grp-1", 0x102, 0),
                         0);
        assert_int_equal(k.len, sizeof(want) - 1);
        assert_memory_equal(k.data, want, k.len);
        assert_int_equal(memhist_prefix(&p, "t1", "USER-UP"), 0);
        assert_int_equal(p.len, strlen("t1") + 2 + strlen("user-up") + 1);
        assert_memory_equal(k.data, p.data, p.len);
        assert_int_equal(
            memhist_key_parse(k.data, k.len, p.len, &gid, &gl, &seq, &id, &il),
            0);
        assert_int_equal(gl, 5);
        assert_memory_equal(gid, "grp-1", 5);
        assert_int_equal(seq, 0x102);
        assert_null(id);
        /* another id with that caseless key: itself after seq */
        assert_int_equal(memhist_key(&k, "t1", "User-Up", "grp-1", 0x102, 0),
                         0);
        assert_int_equal(k.len, sizeof(want) - 1 + strlen("User-Up"));
        assert_memory_equal(k.data, want, sizeof(want) - 1);
        assert_int_equal(
            memhist_key_parse(k.data, k.len, p.len, &gid, &gl, &seq, &id, &il),
            0);
        assert_int_equal(seq, 0x102);
        assert_int_equal(il, strlen("User-Up"));
        assert_memory_equal(id, "User-Up", il);
        /* a seq holding NUL bytes and a group id that is a prefix */
        assert_int_equal(memhist_key(&k, "t1", "user-up", "grp", 0, 0), 0);
        assert_int_equal(
            memhist_key_parse(k.data, k.len, p.len, &gid, &gl, &seq, &id, &il),
            0);
        assert_int_equal(gl, 3);
        assert_int_equal(seq, 0);
        /* the base: no seq, no id */
        assert_int_equal(memhist_key(&k, "t1", "User-Up", "grp-1", 9, 1), 0);
        assert_int_equal(k.len, p.len + strlen("grp-1") + 1);
        assert_int_equal(
            memhist_key_parse(k.data, k.len, p.len, &gid, &gl, &seq, &id, &il),
            1);
        assert_memory_equal(gid, "grp-1", 5);
        /* malformed: no group, no terminator, a short seq, empty group */
        assert_int_equal(
            memhist_key_parse(k.data, p.len, p.len, &gid, &gl, &seq, &id, &il),
            -1);
        assert_int_equal(memhist_key_parse(k.data, p.len + 3, p.len, &gid, &gl,
                                           &seq, &id, &il),
                         -1);
        assert_int_equal(memhist_key(&k, "t1", "user-up", "grp-1", 9, 0), 0);
        assert_int_equal(memhist_key_parse(k.data, k.len - 1, p.len, &gid, &gl,
                                           &seq, &id, &il),
                         -1);
        k.data[p.len] = '\0';
        assert_int_equal(
            memhist_key_parse(k.data, k.len, p.len, &gid, &gl, &seq, &id, &il),
            -1);
        /* Unicode: the caseless key (NFKC of the full fold) */
        k.len = 0;
        assert_int_equal(memhist_fold(&k, "STRASSE"), 0);
        p.len = 0;
        assert_int_equal(memhist_fold(&p, "Straße"), 0);
        assert_int_equal(k.len, p.len);
        assert_memory_equal(k.data, p.data, k.len);
        scim_buf_free(&k);
        scim_buf_free(&p);
}

static void test_fold_and_query(void **state)
{
        static int s1[MAXEV], sall[MAXEV], s7[MAXEV];
        char d1[65], dall[65], d7[65], drep[65], rdir[700], e[256];
        scim_store_t *a = fold_into("one", 1, s1);
        scim_store_t *b = fold_into("all", nev, sall);
        scim_store_t *c = fold_into("seven", 7, s7);
        scim_store_t *r = NULL;
        scim_err_t err;
        size_t applied = 0, held = 0, nm;

        (void)state;
        for (size_t i = 0; i < nev; i++) {
                assert_int_equal(s1[i], sall[i]);
                assert_int_equal(s1[i], s7[i]);
                applied += s1[i] < 400;
        }
        fprintf(stderr, "%zu events, %zu applied\n", nev, applied);
        assert_true(applied > nev / 2 && applied < nev);
        assert_int_equal(scim_store_digest(a, d1, &err), 0);
        assert_int_equal(scim_store_digest(b, dall, &err), 0);
        assert_int_equal(scim_store_digest(c, d7, &err), 0);
        assert_string_equal(d1, dall);
        assert_string_equal(d1, d7);
        snprintf(rdir, sizeof(rdir), "%s/replayed", base);
        assert_int_equal(scim_store_open(rdir, &r, e, sizeof(e)), 0);
        assert_int_equal(scim_store_replay(a, r, 0, NULL, &err), 0);
        assert_int_equal(scim_store_digest(r, drep, &err), 0);
        assert_string_equal(d1, drep);
        /* the keys are there, and so in the digests */
        nm = count_kind(a, 'm');
        fprintf(stderr, "%zu member-history entries, %zu event lists\n", nm,
                count_kind(a, 'n'));
        assert_true(nm > 100);
        assert_int_equal(count_kind(b, 'm'), nm);
        assert_int_equal(count_kind(r, 'm'), nm);
        assert_int_equal(count_kind(r, 'n'), count_kind(a, 'n'));
        /* the answers, at every event time (and just before the first) */
        for (size_t i = 0; i <= nev; i++)
                held += check_at(r, s1, T0 + (int64_t)i * 60000 - 1, 1);
        fprintf(stderr, "%zu (id, time) pairs held by some group\n", held);
        assert_true(held > nev);
        scim_store_close(r);
        scim_store_close(a);
        scim_store_close(b);
        scim_store_close(c);
}

static void test_retention(void **state)
{
        static int s50[MAXEV];
        scim_store_t *st = fold_into("retained", 50, s50);
        size_t nm = count_kind(st, 'm'), nl = count_kind(st, 'n');
        int64_t end = T0 + (int64_t)nev * 60000;
        scim_changes_horizon_t h;
        scim_event_t *ev;
        scim_verdict_t v;
        scim_err_t err;
        char d1[65], d2[65], rdir[700], e[256];
        scim_store_t *r = NULL;

        (void)state;
        /* keep the last half of the log's minutes */
        ev = add(SCIM_ACT_TENANT_UPDATE, 0, NULL, NULL);
        ev->schema_version = 3;
        ev->time_ms = end;
        {
                char js[80];

                snprintf(js, sizeof(js), "{\"changeRetentionSeconds\": %zu}",
                         nev / 2 * 60);
                ev->admin_json = strdup(js);
        }
        enc[nev - 1].len = 0;
        assert_int_equal(scim_event_encode(ev, &enc[nev - 1], &err), 0);
        memset(&v, 0, sizeof(v));
        assert_int_equal(
            scim_store_append_fold(st, &enc[nev - 1], ev, 1, &v, &err), 0);
        assert_int_equal(v.status, 200);
        scim_verdict_clear(&v);
        scim_changes_horizon(st, "t1", &h);
        fprintf(stderr,
                "pruned %llu records; entries %zu -> %zu, lists %zu "
                "-> %zu\n",
                (unsigned long long)h.pruned, nm, count_kind(st, 'm'), nl,
                count_kind(st, 'n'));
        assert_true(h.pruned > 300);
        assert_true(count_kind(st, 'n') < nl);
        assert_true(count_kind(st, 'm') < nm);
        for (int64_t T = h.through_ms; T <= end; T += 60000)
                check_at(st, s50, T, 1);
        /* a replay prunes the same */
        snprintf(rdir, sizeof(rdir), "%s/retained-replayed", base);
        assert_int_equal(scim_store_open(rdir, &r, e, sizeof(e)), 0);
        assert_int_equal(scim_store_replay(st, r, 0, NULL, &err), 0);
        assert_int_equal(scim_store_digest(st, d1, &err), 0);
        assert_int_equal(scim_store_digest(r, d2, &err), 0);
        assert_string_equal(d1, d2);
        scim_store_close(r);
        /* the tenant's delete takes every entry, list and base with it */
        ev = add(SCIM_ACT_TENANT_DELETE, 0, NULL, NULL);
        ev->schema_version = 3;
        enc[nev - 1].len = 0;
        assert_int_equal(scim_event_encode(ev, &enc[nev - 1], &err), 0);
        memset(&v, 0, sizeof(v));
        assert_int_equal(
            scim_store_append_fold(st, &enc[nev - 1], ev, 1, &v, &err), 0);
        assert_int_equal(v.status, 204);
        scim_verdict_clear(&v);
        assert_int_equal(count_kind(st, 'm'), 0);
        assert_int_equal(count_kind(st, 'n'), 0);
        scim_store_close(st);
}

/* Folds one event into st (its own batch); returns the verdict's status. */
static int fold_one(scim_store_t *st, scim_action_t act, scim_rtype_t rt,
                    const char *id, const char *json, const char *member,
                    const char *admin, int64_t ms)
{
        scim_event_t e;
        scim_buf_t b = {0};
        scim_verdict_t v;
        scim_err_t err;
        int status;

        memset(&e, 0, sizeof(e));
        scim_uuid4(e.event_id);
        e.schema_version = admin ? 3 : 2;
        e.tenant = strdup("t1");
        e.rtype = rt;
        e.resource_id = id ? strdup(id) : NULL;
        e.action = act;
        e.time_ms = ms;
        e.expect_version = -1;
        e.resource_json = json ? strdup(json) : NULL;
        e.admin_json = admin ? strdup(admin) : NULL;
        if (member) {
                e.added = calloc(1, sizeof(*e.added));
                e.added[0].value = strdup(member);
                e.n_added = 1;
        }
        assert_int_equal(scim_event_encode(&e, &b, &err), 0);
        memset(&v, 0, sizeof(v));
        assert_int_equal(scim_store_append_fold(st, &b, &e, 1, &v, &err), 0);
        status = v.status;
        scim_verdict_clear(&v);
        scim_event_clear(&e);
        scim_buf_free(&b);
        return status;
}

/* A member deleted and its id created again, both before the retention
 * horizon: the group's base must not list it any more (retain.c
 * base_bump), and the index agrees. */
static void test_retention_recreated_member(void **state)
{
        char dir[700], e[256];
        scim_store_t *st = NULL;
        json_t *g = NULL;
        char **ids = NULL;
        size_t n = 0;
        scim_err_t err;
        int64_t ms = T0;

        (void)state;
        snprintf(dir, sizeof(dir), "%s/recreated", base);
        assert_int_equal(scim_store_open(dir, &st, e, sizeof(e)), 0);
        assert_int_equal(
            fold_one(st, SCIM_ACT_TENANT_CREATE, 0, NULL, NULL, NULL, NULL, ms),
            201);
        assert_int_equal(fold_one(st, SCIM_ACT_CREATE, SCIM_RT_USER, "u1",
                                  "{\"userName\":\"a\"}", NULL, NULL,
                                  ms += 60000),
                         201);
        assert_int_equal(fold_one(st, SCIM_ACT_CREATE, SCIM_RT_GROUP, "g1",
                                  "{\"displayName\":\"G\"}", "u1", NULL,
                                  ms += 60000),
                         201);
        assert_int_equal(fold_one(st, SCIM_ACT_DELETE, SCIM_RT_USER, "u1", NULL,
                                  NULL, NULL, ms += 60000),
                         204);
        assert_int_equal(fold_one(st, SCIM_ACT_CREATE, SCIM_RT_USER, "u1",
                                  "{\"userName\":\"b\"}", NULL, NULL,
                                  ms += 60000),
                         201);
        ms += 3600000;
        assert_int_equal(fold_one(st, SCIM_ACT_CREATE, SCIM_RT_USER, "u2",
                                  "{\"userName\":\"c\"}", NULL, NULL, ms),
                         201);
        assert_int_equal(fold_one(st, SCIM_ACT_TENANT_UPDATE, 0, NULL, NULL,
                                  NULL, "{\"changeRetentionSeconds\": 1800}",
                                  ms),
                         200);
        assert_int_equal(scim_changes_as_of(st, "t1", SCIM_RT_GROUP, "g1", ms,
                                            NULL, &g, &err),
                         0);
        assert_null(json_object_get(g, "members"));
        json_decref(g);
        assert_int_equal(memhist_groups(st, "t1", "u1", ms, &ids, &n), 0);
        assert_int_equal(n, 0);
        free(ids);
        scim_store_close(st);
}

/* Which Groups filters the asOf list answers from the index: those that
 * need a member with a given value. */
static void test_filter_shapes(void **state)
{
        static const char *const yes[][2] = {
            {"members.value eq \"U1\"", "U1"},
            {"MEMBERS.VALUE EQ \"u1\"", "u1"},
            {"members[value eq \"u1\"]", "u1"},
            {"members.value eq 12", "12"}, /* a string attribute */
            {"members[type eq \"User\" and value eq \"u1\"]", "u1"},
            {"members[type eq \"User\"].value eq \"u1\"", "u1"},
            {"displayName eq \"A\" and members.value eq \"u1\"", "u1"},
            {"(displayName sw \"A\" and (members.value eq \"u1\" and "
             "displayName co \"x\"))",
             "u1"},
        };
        static const char *const no[] = {
            "members.value eq \"u1\" or displayName eq \"A\"",
            "not (members.value eq \"u1\")",
            "members.value ne \"u1\"",
            "members.value co \"u1\"",
            "members.display eq \"u1\"",
            "members[value eq \"u1\" or type eq \"Group\"]",
            "members[type eq \"User\"].value pr",
            "displayName eq \"u1\"",
            "members pr",
        };
        scim_filter_t *f;
        scim_err_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
                assert_int_equal(
                    scim_filter_parse(SCIM_RT_GROUP, yes[i][0], &f, &err), 0);
                assert_non_null(scim_filter_member_value(f));
                assert_string_equal(scim_filter_member_value(f), yes[i][1]);
                scim_filter_free(f);
        }
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
                assert_int_equal(
                    scim_filter_parse(SCIM_RT_GROUP, no[i], &f, &err), 0);
                if (scim_filter_member_value(f))
                        fail_msg("%s: %s", no[i], scim_filter_member_value(f));
                scim_filter_free(f);
        }
        assert_null(scim_filter_member_value(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_keys),
            cmocka_unit_test(test_filter_shapes),
            cmocka_unit_test(test_fold_and_query),
            cmocka_unit_test(test_retention),
            cmocka_unit_test(test_retention_recreated_member),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
