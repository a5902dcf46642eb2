/*
 * fold.c — the fold: one event in, view changes and a verdict out.
 *
 * The fold is the authority on every precondition (tenant exists, id free or
 * present, userName unique case-insensitively, version, member ids exist)
 * and is deterministic: it reads only the views as they stand at that point
 * of the log (batch included) and the event itself — times come from the
 * event, never from the clock. Refusals change nothing but their change
 * record. Runs on the single writer thread (ingest committer or replay).
 *
 * Deleting a user removes its membership rows without bumping the versions
 * of the groups that held it (like Entra, which never re-reads groups for
 * that); group reads always show current members.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/changes_internal.h"
#include "projector/projector_internal.h"
#include "projector/stream_internal.h"

/* Replay's fold thread: verdicts die with their event (store.c drops
 * them), so no stored tree is built for them. */
static __thread int fold_replaying;

void fold_set_replay(int on)
{
        fold_replaying = on;
}

void refuse(scim_verdict_t *v, int status, const char *type, const char *fmt,
            ...)
{
        va_list ap;

        v->status = status;
        snprintf(v->scim_type, sizeof(v->scim_type), "%s", type ? type : "");
        va_start(ap, fmt);
        vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
        va_end(ap);
}

/* ---------------------------------------------------------- keys */

static void res_key(scim_buf_t *b, const char *tenant, char rt, const char *id)
{
        b->len = 0;
        scim_buf_append(b, tenant, strlen(tenant) + 1);
        scim_buf_append(b, &rt, 1);
        scim_buf_puts(b, id);
}

/* 1 if key k exists as the batch sees it. */
static int txn_get_found(txn_t *t, int cf, const char *k, size_t kl)
{
        size_t vl = 0;
        char *v = txn_get(t, cf, k, kl, &vl);

        free(v);
        return v != NULL;
}

static void idx_key(scim_buf_t *b, const char *tenant, char rt, char code,
                    const char *value, const char *id)
{
        b->len = 0;
        scim_buf_append(b, tenant, strlen(tenant) + 1);
        scim_buf_append(b, &rt, 1);
        scim_buf_append(b, &code, 1);
        scim_buf_append(b, "", 1);
        scim_buf_append(b, value, strlen(value) + 1);
        if (id)
                scim_buf_puts(b, id);
}

static void mem_key(scim_buf_t *b, const char *tenant, char dir, const char *a,
                    const char *c)
{
        b->len = 0;
        scim_buf_append(b, tenant, strlen(tenant) + 1);
        scim_buf_append(b, &dir, 1);
        scim_buf_append(b, a, strlen(a) + 1);
        if (c)
                scim_buf_puts(b, c);
}

size_t key_make(scim_buf_t *b, const char *tenant, char rt, const char *a,
                const char *c)
{
        mem_key(b, tenant, rt, a, c);
        return b->len;
}

/* ------------------------------------------------------- counters */

static void counter_add(txn_t *t, const char *tenant, char rt, int delta)
{
        scim_buf_t k = {0};
        size_t vlen = 0;
        char *v;
        uint64_t n = 0;
        unsigned char be[8];

        scim_buf_puts(&k, "count");
        scim_buf_append(&k, "", 1);
        scim_buf_append(&k, tenant, strlen(tenant) + 1);
        scim_buf_append(&k, &rt, 1);
        v = txn_get_hot(t, CF_DEFAULT, k.data, k.len, &vlen);
        if (v && vlen == 8)
                n = scim_get_be64((unsigned char *)v);
        free(v);
        n = (delta < 0 && n == 0) ? 0 : n + (uint64_t)(int64_t)delta;
        scim_put_be64(be, n);
        txn_put(t, CF_DEFAULT, k.data, k.len, (char *)be, 8);
        scim_buf_free(&k);
}

/* ------------------------------------------------------- indexes */

typedef void (*idx_fn)(txn_t *t, const char *k, size_t klen);

static void idx_put(txn_t *t, const char *k, size_t klen)
{
        txn_put(t, CF_IDX, k, klen, "", 0);
}

static void idx_del(txn_t *t, const char *k, size_t klen)
{
        txn_del(t, CF_IDX, k, klen);
}

static void idx_one(txn_t *t, const char *tenant, char rt, char code,
                    const char *value, int fold, const char *id, idx_fn fn)
{
        scim_buf_t b = {0};
        char *f;

        if (!value || !*value)
                return;
        f = fold ? scim_casefold(value) : strdup(value);
        if (!f)
                return;
        if (code == 'u') {
                /* unique: one point key per value, the id as its value, so
                 * the uniqueness check is a Get, not an iterator seek */
                idx_key(&b, tenant, rt, code, f, NULL);
                if (fn == idx_put)
                        txn_put(t, CF_IDX, b.data, b.len, id, strlen(id));
                else
                        txn_del(t, CF_IDX, b.data, b.len);
        } else {
                idx_key(&b, tenant, rt, code, f, id);
                fn(t, b.data, b.len);
        }
        free(f);
        scim_buf_free(&b);
}

/* Applies fn to every index entry of a stored resource. */
static void index_all(txn_t *t, const char *tenant, char rt, const char *id,
                      const json_t *res, idx_fn fn)
{
        size_t i;
        json_t *e;

        if (!res)
                return;
        idx_one(t, tenant, rt, 'x',
                json_string_value(json_object_get(res, "externalId")), 0, id,
                fn);
        idx_one(t, tenant, rt, 'd',
                json_string_value(json_object_get(res, "displayName")), 1, id,
                fn);
        if (rt != SCIM_RT_USER)
                return;
        idx_one(t, tenant, rt, 'u',
                json_string_value(json_object_get(res, "userName")), 1, id, fn);
        json_array_foreach(json_object_get(res, "emails"), i, e)
            idx_one(t, tenant, rt, 'e',
                    json_string_value(json_object_get(e, "value")), 1, id, fn);
}

/* One index entry of a resource: its key and (unique index) value. */
typedef struct ikey {
        scim_buf_t k;
        const char *v; /* id for the unique userName key, else "" */
} ikey_t;

#define IKEYS_MAX 64 /* beyond this, entries are deleted and put again */

static size_t ikey_collect(ikey_t *out, size_t cap, const char *tenant,
                           char rt, char code, const char *value, int fold,
                           const char *id, size_t n)
{
        char *f;

        if (!value || !*value || n >= cap)
                return n;
        f = fold ? scim_casefold(value) : strdup(value);
        if (!f)
                return n;
        memset(&out[n], 0, sizeof(out[n]));
        idx_key(&out[n].k, tenant, rt, code, f, code == 'u' ? NULL : id);
        out[n].v = code == 'u' ? id : "";
        free(f);
        return n + 1;
}

/* The attributes the index keys read, in the order ikeys reads them. */
static const char *const ikey_attr[] = {"externalId", "displayName",
                                        "userName", "emails"};
#define IKEY_ATTRS (sizeof(ikey_attr) / sizeof(ikey_attr[0]))

/* For each attribute of ikey_attr: 1 when it is the same in both
 * resources (present in both): its index keys are then the same on both
 * sides and are not built. Equality is symmetric, so index_update asks
 * once for both directions (it asked each of the four twice). */
static void same_attrs(const json_t *a, const json_t *b, char rt,
                       int same[IKEY_ATTRS])
{
        size_t n = rt == SCIM_RT_USER ? IKEY_ATTRS : 2;

        for (size_t i = 0; i < IKEY_ATTRS; i++) {
                json_t *x = i < n && a && b
                                ? json_object_get(a, ikey_attr[i])
                                : NULL,
                       *y = x ? json_object_get(b, ikey_attr[i]) : NULL;

                same[i] = y && json_equal(x, y);
        }
}

/* The index entries of res, leaving out the attributes same marks
 * (same_attrs of res and the other side; keys of different attributes
 * never coincide, as each carries its attribute's code). */
static size_t ikeys(ikey_t *out, const char *tenant, char rt, const char *id,
                    const json_t *res, const int same[IKEY_ATTRS])
{
        size_t n = 0, i;
        json_t *e;

        if (!res)
                return 0;
        if (!same[0])
                n = ikey_collect(
                    out, IKEYS_MAX, tenant, rt, 'x',
                    json_string_value(json_object_get(res, "externalId")), 0,
                    id, n);
        if (!same[1])
                n = ikey_collect(
                    out, IKEYS_MAX, tenant, rt, 'd',
                    json_string_value(json_object_get(res, "displayName")), 1,
                    id, n);
        if (rt != SCIM_RT_USER)
                return n;
        if (!same[2])
                n = ikey_collect(
                    out, IKEYS_MAX, tenant, rt, 'u',
                    json_string_value(json_object_get(res, "userName")), 1, id,
                    n);
        if (!same[3])
                json_array_foreach(json_object_get(res, "emails"), i, e)
                    n = ikey_collect(
                        out, IKEYS_MAX, tenant, rt, 'e',
                        json_string_value(json_object_get(e, "value")), 1, id,
                        n);
        return n;
}

static int ikey_in(const ikey_t *set, size_t n, const ikey_t *k)
{
        for (size_t i = 0; i < n; i++)
                if (set[i].k.len == k->k.len &&
                    !memcmp(set[i].k.data, k->k.data, k->k.len) &&
                    !strcmp(set[i].v, k->v))
                        return 1;
        return 0;
}

/* Moves the index entries of a resource from old to cur, touching only
 * the keys that differ (a PATCH of `title` writes no index key). */
static void index_update(txn_t *t, const char *tenant, char rt, const char *id,
                         const json_t *old, const json_t *cur)
{
        /* not zeroed: ikey_collect sets each entry it fills (zeroing
         * 3 KiB per event was ~4k instructions) */
        ikey_t *a = malloc(2 * IKEYS_MAX * sizeof(*a)), *b;
        size_t na, nb;
        int same[IKEY_ATTRS];

        if (!a) {
                index_all(t, tenant, rt, id, old, idx_del);
                index_all(t, tenant, rt, id, cur, idx_put);
                return;
        }
        b = a + IKEYS_MAX;
        /* an attribute both sides have the same needs no key (a PATCH
         * of `title` casefolds nothing) */
        same_attrs(old, cur, rt, same);
        na = ikeys(a, tenant, rt, id, old, same);
        nb = ikeys(b, tenant, rt, id, cur, same);
        if (na == IKEYS_MAX || nb == IKEYS_MAX) {
                /* too many to compare: the plain way */
                index_all(t, tenant, rt, id, old, idx_del);
                index_all(t, tenant, rt, id, cur, idx_put);
        } else {
                for (size_t i = 0; i < na; i++)
                        if (!ikey_in(b, nb, &a[i]))
                                txn_del(t, CF_IDX, a[i].k.data, a[i].k.len);
                for (size_t i = 0; i < nb; i++)
                        if (!ikey_in(a, na, &b[i]))
                                txn_put(t, CF_IDX, b[i].k.data, b[i].k.len,
                                        b[i].v, strlen(b[i].v));
        }
        for (size_t i = 0; i < na; i++)
                scim_buf_free(&a[i].k);
        for (size_t i = 0; i < nb; i++)
                scim_buf_free(&b[i].k);
        free(a);
}

/* Who holds userName (case-folded) in the txn view; malloc'd id or NULL. */
static char *username_owner(txn_t *t, const char *tenant, const char *un)
{
        scim_buf_t b = {0};
        char *f = scim_casefold(un), *owner = NULL, *v;
        size_t vlen = 0;

        if (!f)
                return NULL;
        idx_key(&b, tenant, SCIM_RT_USER, 'u', f, NULL);
        v = txn_get(t, CF_IDX, b.data, b.len, &vlen);
        if (v)
                owner = strndup(v, vlen);
        free(v);
        free(f);
        scim_buf_free(&b);
        return owner;
}

/* ------------------------------------------------------- resources */

static json_t *load_res(txn_t *t, const char *tenant, char rt, const char *id)
{
        scim_buf_t b = {0};
        size_t vlen = 0;
        char *v;
        json_t *j = NULL;

        res_key(&b, tenant, rt, id);
        v = txn_get(t, CF_RES, b.data, b.len, &vlen);
        if (v)
                j = scim_json_load(v, vlen);
        free(v);
        scim_buf_free(&b);
        return j;
}

/* 1 if the resource is stored (what load_res != NULL says, without
 * parsing it: a member check needs only its existence and type). */
static int res_exists(txn_t *t, const char *tenant, char rt, const char *id)
{
        scim_buf_t b = {0};
        size_t vlen = 0;
        char *v;
        int found;

        res_key(&b, tenant, rt, id);
        v = txn_get(t, CF_RES, b.data, b.len, &vlen);
        found = v != NULL;
        free(v);
        scim_buf_free(&b);
        return found;
}

static int64_t res_version(const json_t *res)
{
        const char *v = json_string_value(
            json_object_get(json_object_get(res, "meta"), "version"));

        if (!v)
                return 0;
        while (*v && (*v < '0' || *v > '9'))
                v++;
        return strtoll(v, NULL, 10);
}

/* Stores res; returns its text (caller frees) or NULL (not stored).
 * hint: its likely length (the text it replaces, or 0): the text is
 * printed into one buffer of that size instead of one grown by
 * doubling from 256 bytes (three reallocs for a user). */
static char *store_res(txn_t *t, const char *tenant, char rt, const char *id,
                       const json_t *res, size_t hint)
{
        scim_buf_t b = {0}, txt = {0};

        if (scim_buf_reserve(&txt, (hint ? hint : 768) + 256) < 0 ||
            scim_json_dump(res, &txt) < 0) {
                scim_buf_free(&txt);
                return NULL;
        }
        res_key(&b, tenant, rt, id);
        txn_put(t, CF_RES, b.data, b.len, txt.data, txt.len);
        scim_buf_free(&b);
        return txt.data;
}

/* Stores the text txt (len bytes) as the resource's stored form. */
static void store_text(txn_t *t, const char *tenant, char rt, const char *id,
                       const char *txt, size_t len)
{
        scim_buf_t b = {0};

        res_key(&b, tenant, rt, id);
        txn_put(t, CF_RES, b.data, b.len, txt, len);
        scim_buf_free(&b);
}

static int tenant_exists(txn_t *t, const char *tenant)
{
        size_t vlen;
        /* every event asks: the writer's hot cache answers (txn.c) */
        char *v = txn_get_hot(t, CF_TENANT, tenant, strlen(tenant), &vlen);

        free(v);
        return v != NULL;
}

/* ------------------------------------------------------- membership */

/* Deletes every row under prefix tenant\0 dir a \0 in mem CF, and the
 * mirror rows (tenant\0 mirror c \0 a). known: those rows' ids as
 * txn_children gives them now, or NULL (read them). */
static void drop_rows(txn_t *t, const char *tenant, char dir, char mirror,
                      const char *a, const json_t *known)
{
        scim_buf_t pre = {0}, other = {0};
        json_t *ids;
        size_t i;
        json_t *id;

        mem_key(&pre, tenant, dir, a, NULL);
        ids = json_is_array(known) ? json_incref((json_t *)known)
                                   : txn_children(t, pre.data, pre.len);
        json_array_foreach(ids, i, id)
        {
                const char *c = json_string_value(id);

                mem_key(&other, tenant, mirror, c, a);
                txn_del(t, CF_MEM, other.data, other.len);
                mem_key(&other, tenant, dir, a, c);
                txn_del(t, CF_MEM, other.data, other.len);
        }
        json_decref(ids);
        scim_buf_free(&pre);
        scim_buf_free(&other);
}

/* A member's deletion changes the groups that held it: each one's version
 * goes up and its lastModified is the event's time. known: as drop_rows'
 * (the ids of the `R` rows of id). */
static void bump_holders(txn_t *t, const char *tenant, const char *id,
                         int64_t time_ms, const json_t *known)
{
        scim_buf_t pre = {0};
        json_t *gids, *gid;
        size_t i;

        mem_key(&pre, tenant, 'R', id, NULL);
        gids = json_is_array(known) ? json_incref((json_t *)known)
                                    : txn_children(t, pre.data, pre.len);
        json_array_foreach(gids, i, gid)
        {
                const char *g = json_string_value(gid);
                json_t *grp = load_res(t, tenant, SCIM_RT_GROUP, g);
                json_t *meta = json_object_get(grp, "meta");
                char ts[32], ver[32];

                if (!json_is_object(meta)) {
                        json_decref(grp);
                        continue;
                }
                scim_time_format(time_ms, ts);
                snprintf(ver, sizeof(ver), "W/\"%lld\"",
                         (long long)(res_version(grp) + 1));
                json_object_set_new(meta, "lastModified", json_string(ts));
                json_object_set_new(meta, "version", json_string(ver));
                free(store_res(t, tenant, SCIM_RT_GROUP, g, grp, 0));
                json_decref(grp);
        }
        json_decref(gids);
        scim_buf_free(&pre);
}

/* Appends the literal l (its length known at compile time). */
#define PUT_LIT(b, l) scim_buf_append((b), (l), sizeof(l) - 1)

/* type: "User" or "Group". The row's text is written as scim_json_dumps
 * wrote {"type": type, "display"?: m->display} (a display jansson would
 * refuse, not UTF-8, was no member), without the tree. */
static void member_put(txn_t *t, const char *tenant, const char *gid,
                       const scim_member_t *m, const char *type)
{
        scim_buf_t b = {0}, txt = {0};

        scim_buf_reserve(&txt, 64);
        PUT_LIT(&txt, "{\"type\":\"");
        scim_buf_puts(&txt, type);
        PUT_LIT(&txt, "\"");
        if (m->display) {
                size_t mark = txt.len;

                PUT_LIT(&txt, ",\"display\":");
                if (changes_json_str(&txt, m->display,
                                     strlen(m->display)) < 0) {
                        txt.len = mark;
                        if (txt.data)
                                txt.data[mark] = '\0';
                }
        }
        PUT_LIT(&txt, "}");
        mem_key(&b, tenant, 'G', gid, m->value);
        if (txt.data)
                txn_put(t, CF_MEM, b.data, b.len, txt.data, txt.len);
        mem_key(&b, tenant, 'R', m->value, gid);
        txn_put(t, CF_MEM, b.data, b.len, "", 0);
        scim_buf_free(&txt);
        scim_buf_free(&b);
}

static void member_del(txn_t *t, const char *tenant, const char *gid,
                       const char *mid)
{
        scim_buf_t b = {0};

        mem_key(&b, tenant, 'G', gid, mid);
        txn_del(t, CF_MEM, b.data, b.len);
        mem_key(&b, tenant, 'R', mid, gid);
        txn_del(t, CF_MEM, b.data, b.len);
        scim_buf_free(&b);
}

/* ------------------------------------------------------- the fold */

/* ------------------------------------------- extension uniqueness */

/* An extension attribute declared unique (model uniqueness server|global)
 * has one index key per value: idx `tenant \0 X rt urn \0 name \0 key` ->
 * id, key the caseless form of a string (exact when caseExact), else the
 * value's compact JSON. The fold checks it before a write, moves it with
 * the value, and drops it with the resource. */
enum { UQ_CHECK, UQ_APPLY, UQ_DROP };

typedef struct uctx {
        txn_t *t;
        const char *tenant;
        char rt;
        const char *id;
        const json_t *old, *cur; /* stored forms (either may be NULL) */
        int phase;
        scim_verdict_t *v;
        int refused;
} uctx_t;

static char *uq_text(const json_t *val, int case_exact)
{
        if (!val || json_is_null(val))
                return NULL;
        if (json_is_string(val))
                return case_exact ? strdup(json_string_value(val))
                                  : scim_casefold(json_string_value(val));
        return scim_json_dumps(val);
}

void key_unique(scim_buf_t *b, const char *tenant, char rt, const char *urn,
                const char *name, const char *text)
{
        b->len = 0;
        scim_buf_append(b, tenant, strlen(tenant) + 1);
        scim_buf_append(b, "X", 1);
        scim_buf_append(b, &rt, 1);
        scim_buf_append(b, urn, strlen(urn) + 1);
        scim_buf_append(b, name, strlen(name) + 1);
        scim_buf_puts(b, text);
}

static void uq_one(void *ctx, const char *urn, const char *name, int ce)
{
        uctx_t *u = ctx;
        char *tn, *to;
        scim_buf_t k = {0};

        if (u->refused)
                return;
        tn = uq_text((json_t *)scim_model_value(u->cur, urn, name), ce);
        to = uq_text((json_t *)scim_model_value(u->old, urn, name), ce);
        if (u->phase == UQ_CHECK && tn) {
                size_t vl = 0;
                char *owner;

                key_unique(&k, u->tenant, u->rt, urn, name, tn);
                owner = txn_get(u->t, CF_IDX, k.data, k.len, &vl);
                if (owner && (vl != strlen(u->id) ||
                              memcmp(owner, u->id, vl) != 0)) {
                        const json_t *val = scim_model_value(u->cur, urn, name);
                        char *txt = json_is_string(val)
                                        ? NULL
                                        : scim_json_dumps(val);

                        refuse(u->v, 409, "uniqueness",
                               "%.256s:%.64s '%.128s' is already used by "
                               "another %s",
                               urn, name,
                               json_is_string(val) ? json_string_value(val)
                                                   : (txt ? txt : ""),
                               u->rt == 'G'   ? "Group"
                               : u->rt == 'U' ? "User"
                                              : "resource of the type");
                        free(txt);
                        u->refused = 1;
                }
                free(owner);
        } else if (u->phase != UQ_CHECK) {
                if (to && (u->phase == UQ_DROP || !tn || strcmp(to, tn))) {
                        size_t vl = 0;
                        char *owner;

                        key_unique(&k, u->tenant, u->rt, urn, name, to);
                        owner = txn_get(u->t, CF_IDX, k.data, k.len, &vl);
                        if (owner && vl == strlen(u->id) &&
                            !memcmp(owner, u->id, vl))
                                txn_del(u->t, CF_IDX, k.data, k.len);
                        free(owner);
                }
                if (u->phase == UQ_APPLY && tn && (!to || strcmp(to, tn))) {
                        key_unique(&k, u->tenant, u->rt, urn, name, tn);
                        txn_put(u->t, CF_IDX, k.data, k.len, u->id,
                                strlen(u->id));
                }
        }
        free(tn);
        free(to);
        scim_buf_free(&k);
}

/* Runs one phase over the unique attributes of the tenant's model; 1 when
 * a check refused (v filled). */
/* m: the tenant's model as txn_model gives it at this point of the log
 * (the caller's reference; NULL: none). */
static int unique_phase(txn_t *t, const scim_model_t *m, const char *tenant,
                        scim_rtype_t rt, const char *id, const json_t *old,
                        const json_t *cur, int phase, scim_verdict_t *v)
{
        uctx_t u = {t, tenant, (char)rt, id, old, cur, phase, v, 0};

        if (m)
                scim_model_each_unique(m, rt, uq_one, &u);
        return u.refused;
}

typedef struct urebuild {
        txn_t *t;
        const char *tenant;
        const scim_model_t *m;
        scim_rtype_t rt;
} urebuild_t;

static void rebuild_one(void *ctx, const char *k, size_t kl)
{
        urebuild_t *r = ctx;
        size_t vl = 0, pl = strlen(r->tenant) + 2;
        char *val = txn_get(r->t, CF_RES, k, kl, &vl);
        json_t *res = val ? scim_json_load(val, vl) : NULL;
        char id[SCIM_MAX_ID_LEN + 1];
        scim_verdict_t dummy;
        uctx_t u;

        free(val);
        if (res && kl > pl && kl - pl <= SCIM_MAX_ID_LEN) {
                memcpy(id, k + pl, kl - pl);
                id[kl - pl] = '\0';
                memset(&dummy, 0, sizeof(dummy));
                /* first holder (key order) keeps a value others share: a
                 * forced change may leave duplicates behind */
                memset(&u, 0, sizeof(u));
                u.t = r->t;
                u.tenant = r->tenant;
                u.rt = (char)r->rt;
                u.id = id;
                u.cur = res;
                u.phase = UQ_CHECK;
                u.v = &dummy;
                scim_model_each_unique(r->m, r->rt, uq_one, &u);
                if (!u.refused) {
                        u.phase = UQ_APPLY;
                        scim_model_each_unique(r->m, r->rt, uq_one, &u);
                }
        }
        json_decref(res);
}

void fold_unique_rebuild(txn_t *t, const char *tenant, const scim_model_t *m)
{
        scim_buf_t p = {0};

        scim_buf_append(&p, tenant, strlen(tenant) + 1);
        scim_buf_append(&p, "X", 1);
        txn_del_prefix(t, CF_IDX, p.data, p.len);
        const scim_rtype_row_t *rows[64];
        size_t nrows = scim_model_rtypes_all(m, rows, 64);

        for (size_t i = 0; m && i < nrows; i++) {
                scim_rtype_t code = rows[i]->code;
                urebuild_t r = {t, tenant, m, code};
                char c = (char)code;

                p.len = strlen(tenant) + 1;
                scim_buf_append(&p, &c, 1);
                txn_scan_prefix(t, CF_RES, p.data, p.len, rebuild_one, &r);
        }
        scim_buf_free(&p);
}

typedef struct refctx {
        txn_t *t;
        const char *tenant;
        int found;
} refctx_t;

static void ref_found(void *ctx, const char *k, size_t kl)
{
        (void)k;
        (void)kl;
        ((refctx_t *)ctx)->found = 1;
}

/* A reference value (scim_model_check_refs): 1 when a resource of the
 * referenced type holds it, as this batch sees the indexes. */
static int fold_ref_exists(void *ctx, const scim_model_ref_t *ref,
                           const char *value)
{
        refctx_t *r = ctx;
        scim_buf_t b = {0};
        char *f = ref->case_exact ? strdup(value) : scim_casefold(value);
        int found = 0;

        if (!f)
                return 0;
        if (ref->index == 'X') {
                key_unique(&b, r->tenant, (char)ref->rt, ref->urn, ref->name, f);
                found = txn_get_found(r->t, CF_IDX, b.data, b.len);
        } else if (ref->index == 'u') {
                idx_key(&b, r->tenant, (char)ref->rt, 'u', f, NULL);
                found = txn_get_found(r->t, CF_IDX, b.data, b.len);
        } else {
                scim_buf_t lim = {0};

                idx_key(&b, r->tenant, (char)ref->rt, ref->index, f, "");
                scim_buf_append(&lim, b.data, b.len);
                scim_buf_append(&lim, "\xff", 1);
                r->found = 0;
                txn_scan_below(r->t, CF_IDX, b.data, b.len, lim.data, lim.len,
                               1, ref_found, r);
                found = r->found;
                scim_buf_free(&lim);
        }
        free(f);
        scim_buf_free(&b);
        return found;
}

/* pre: what changes_pre_load read for this event: the stored resource
 * (or NULL), reused rather than read and parsed again; the length of its
 * text (the new text's likely size); a delete's holding groups
 * (txn_children of the `R` rows), or NULL. In replay the applied
 * resource's attributes go to pre->cur instead of a stored tree in the
 * verdict (fold_set_replay). */
static void fold_resource(txn_t *t, const scim_event_t *ev, scim_verdict_t *v,
                          changes_pre_t *pre)
{
        const json_t *pre_old = pre->old, *pre_holders = pre->holders;
        size_t pre_old_len = pre->old_len;
        char rt = (char)ev->rtype;
        const char *tenant = ev->tenant, *id = ev->resource_id;
        json_t *old = NULL, *attrs = NULL, *stored = NULL;
        char *is_user = NULL; /* per added member: 1 a user, 0 a group */
        int64_t version = 0;
        scim_model_t *tm = tenant ? txn_model(t, tenant) : NULL;
        const scim_rtype_row_t *row = scim_model_rtype(tm, (scim_rtype_t)rt);
        const char *rname = row ? row->name : NULL;

        /* the model stays alive while row is used: txn_model keeps a
         * reference in its cache, and this fold holds one more */
        if (!row) {
                if (ev->rtype == SCIM_RT_CUSTOM || scim_rtype_is_tenant(ev->rtype))
                        refuse(v, 404, NULL,
                               "resource type '%.64s' is not defined for "
                               "tenant '%.64s'",
                               ev->resource_type_name
                                   ? ev->resource_type_name
                                   : "",
                               tenant ? tenant : "");
                else
                        refuse(v, 400, "invalidValue",
                               "event has no resource type%s", "");
                scim_model_unref(tm);
                return;
        }
        if (!id || !*id || strlen(id) > SCIM_MAX_ID_LEN) {
                refuse(v, 400, "invalidValue", "event has no resource id%s",
                       "");
                return;
        }
        if (!tenant_exists(t, tenant)) {
                refuse(v, 404, NULL, "tenant '%.64s' does not exist", tenant);
                return;
        }
        old = pre_old ? json_incref((json_t *)pre_old)
                      : load_res(t, tenant, rt, id);
        if (ev->action == SCIM_ACT_CREATE && old) {
                refuse(v, 409, "uniqueness", "id '%.128s' already exists", id);
                goto out;
        }
        if (ev->action != SCIM_ACT_CREATE && !old) {
                v->status = 404;
                snprintf(v->detail, sizeof(v->detail), "%s %.128s not found",
                         rname, id);
                goto out;
        }
        if (ev->expect_version == SCIM_EXPECT_ABSENT) {
                /* a probe (Kafka mode, ingest.c `lagging`): the node that
                 * took the write refused it from views that may lag; it
                 * prepares the write again on this 412. Never applied. */
                v->status = 412;
                if (ev->action == SCIM_ACT_CREATE)
                        snprintf(v->detail, sizeof(v->detail),
                                 "probe of a %s create: the node that took "
                                 "it checks it again against views that "
                                 "have caught up with this point of the log",
                                 rname);
                else
                        snprintf(v->detail, sizeof(v->detail),
                                 "%s %.128s exists (probe: the node that "
                                 "took this write checks it again against "
                                 "views that have caught up with this point "
                                 "of the log)",
                                 rname, id);
                goto out;
        }
        version = old ? res_version(old) : 0;
        if (ev->expect_version > 0 && ev->expect_version != version &&
            (rt == SCIM_RT_USER || ev->resource_json ||
             ev->action == SCIM_ACT_DELETE)) {
                v->status = 412;
                snprintf(v->detail, sizeof(v->detail),
                         "version W/\"%lld\" expected, resource is at "
                         "W/\"%lld\"",
                         (long long)ev->expect_version, (long long)version);
                goto out;
        }
        if (ev->action == SCIM_ACT_DELETE) {
                index_all(t, tenant, rt, id, old, idx_del);
                unique_phase(t, tm, tenant, rt, id, old, NULL, UQ_DROP, v);
                /* the groups holding it: the list changes_pre_load read
                 * (nothing since wrote a membership row: one scan of
                 * them, not three) */
                bump_holders(t, tenant, id, ev->time_ms, pre_holders);
                drop_rows(t, tenant, 'R', 'G', id, pre_holders);
                if (rt == SCIM_RT_GROUP)
                        drop_rows(t, tenant, 'G', 'R', id, NULL); /* its
                                                                     members */
                {
                        scim_buf_t b = {0};

                        res_key(&b, tenant, rt, id);
                        txn_del(t, CF_RES, b.data, b.len);
                        scim_buf_free(&b);
                }
                counter_add(t, tenant, rt, -1);
                posidx_note(t, '-', tenant, rt, id);
                v->status = 204;
                goto out;
        }
        if (ev->action != SCIM_ACT_CREATE && ev->action != SCIM_ACT_REPLACE &&
            ev->action != SCIM_ACT_PATCH) {
                refuse(v, 400, "invalidValue", "unsupported action%s", "");
                goto out;
        }
        if (ev->resource_json) {
                attrs = ev->resource_parsed
                            ? json_incref(ev->resource_parsed)
                            : scim_json_load(ev->resource_json,
                                             strlen(ev->resource_json));
                if (!json_is_object(attrs)) {
                        refuse(v, 400, "invalidValue",
                               "resource_json is not a JSON object%s", "");
                        goto out;
                }
                /* the size limits ingest applies, for events other
                 * producers wrote; events older than schema v3 were
                 * written before the limits and fold as they always did
                 * (replay stays identical) */
                if (!ev->resource_parsed && ev->schema_version >= 3) {
                        scim_err_t le;

                        scim_err_clear(&le);
                        if (scim_resource_limits(attrs,
                                                 strlen(ev->resource_json),
                                                 &le) < 0) {
                                refuse(v, le.status, le.scim_type, "%s",
                                       le.detail);
                                goto out;
                        }
                }
        } else if (rt == SCIM_RT_USER || ev->action == SCIM_ACT_CREATE) {
                refuse(v, 400, "invalidValue", "event carries no resource%s",
                       "");
                goto out;
        } else {
                attrs = json_incref(old); /* membership-only change */
        }
        if (ev->resource_json) { /* the tenant's model, as ingest checks it */
                const scim_model_t *m = tm; /* this event's model */

                if (m) {
                        scim_err_t me;
                        json_t *copy = json_deep_copy(attrs);
                        json_t *prev = NULL;

                        scim_err_clear(&me);
                        if (old) { /* stored form: without id and meta */
                                prev = json_copy(old);
                                json_object_del(prev, "id");
                                json_object_del(prev, "meta");
                        }
                        json_decref(attrs);
                        attrs = copy;
                        if (!scim_model_enabled(m, (scim_rtype_t)rt)) {
                                scim_err_set(&me, 404, NULL,
                                             "%s is not enabled for tenant "
                                             "'%.64s'",
                                             rname, tenant);
                        } else {
                                if (!v->dropped)
                                        v->dropped = json_array();
                                refctx_t rc = {t, tenant, 0};

                                if (scim_model_enforce(m, (scim_rtype_t)rt,
                                                       attrs, prev,
                                                       SCIM_ENFORCE_WRITE,
                                                       v->dropped, &me) == 0)
                                        scim_model_check_refs(
                                            m, (scim_rtype_t)rt, attrs,
                                            fold_ref_exists, &rc, &me);
                        }
                        json_decref(prev);
                        if (me.status) {
                                refuse(v, me.status, me.scim_type, "%s",
                                       me.detail);
                                goto out;
                        }
                }
        }
        if (rt == SCIM_RT_USER) {
                const char *un =
                    json_string_value(json_object_get(attrs, "userName"));
                const char *was =
                    json_string_value(json_object_get(old, "userName"));
                char *owner;

                if (!un || !*un) {
                        refuse(v, 400, "invalidValue", "userName is required%s",
                               "");
                        goto out;
                }
                /* unchanged: its index key names this id (index_update
                 * leaves the keys of unchanged attributes as they are on
                 * the same grounds), so no read (~40% of a replay's
                 * RocksDB reads were this key) */
                owner = was && !strcmp(was, un) ? NULL
                                                : username_owner(t, tenant, un);
                if (owner && strcmp(owner, id) != 0) {
                        free(owner);
                        refuse(v, 409, "uniqueness",
                               "userName '%.200s' is already taken", un);
                        goto out;
                }
                free(owner);
        } else if (rt == SCIM_RT_GROUP) {
                if (!json_string_value(json_object_get(attrs, "displayName"))) {
                        refuse(v, 400, "invalidValue",
                               "displayName is required%s", "");
                        goto out;
                }
                if (ev->n_added)
                        is_user = malloc(ev->n_added);
                for (size_t i = 0; i < ev->n_added; i++) {
                        const char *mid = ev->added[i].value;
                        int user;

                        if (!mid || !strcmp(mid, id)) {
                                refuse(v, 400, "invalidValue",
                                       "a group cannot be a member of itself%s",
                                       "");
                                goto out;
                        }
                        user = res_exists(t, tenant, SCIM_RT_USER, mid);
                        if (is_user)
                                is_user[i] = (char)user;
                        if (!user &&
                            !res_exists(t, tenant, SCIM_RT_GROUP, mid)) {
                                refuse(v, 400, "invalidValue",
                                       "member '%.128s' is not a user or group "
                                       "of this tenant",
                                       mid);
                                goto out;
                        }
                }
        }
        if (unique_phase(t, tm, tenant, rt, id, old, attrs, UQ_CHECK, v))
                goto out;
        unique_phase(t, tm, tenant, rt, id, old, attrs, UQ_APPLY, v);
        if (fold_replaying) {
                /* nobody reads the verdict's tree: the stored text is
                 * printed from attrs (stored_text.c), and the record reads
                 * attrs (its diff, names and `active` are the stored
                 * form's: the same values, id, schemas and meta left out) */
                size_t tl = 0;
                char *txt = fold_print_stored(attrs, id, row, old,
                                              ev->time_ms, version + 1,
                                              pre_old_len, &tl);

                if (txt) {
                        if (attrs != old) /* else no attribute moved */
                                index_update(t, tenant, rt, id, old, attrs);
                        store_text(t, tenant, rt, id, txt, tl);
                        txn_set_text(t, txt, tl);
                        pre->cur = json_incref(attrs);
                }
        }
        if (!pre->cur) {
                stored = fold_build_stored(attrs, id, row, old, ev->time_ms,
                                           version + 1);
                index_update(t, tenant, rt, id, old, stored);
                /* the change stream record's "after" (stream.c) */
                char *txt = store_res(t, tenant, rt, id, stored,
                                      pre_old_len);

                txn_set_text(t, txt, txt ? strlen(txt) : 0);
        }
        if (!old) {
                counter_add(t, tenant, rt, 1);
                posidx_note(t, '+', tenant, rt, id);
        }
        if (rt == SCIM_RT_GROUP) {
                if (ev->members_replace)
                        drop_rows(t, tenant, 'G', 'R', id, NULL);
                for (size_t i = 0; i < ev->n_removed; i++)
                        member_del(t, tenant, id, ev->removed[i]);
                /* the member's type as the check above found it (no
                 * write since touched a resource row: one read, not two) */
                for (size_t i = 0; i < ev->n_added; i++)
                        member_put(t, tenant, id, &ev->added[i],
                                   (is_user ? is_user[i]
                                            : res_exists(t, tenant,
                                                         SCIM_RT_USER,
                                                         ev->added[i].value))
                                       ? "User"
                                       : "Group");
        }
        v->status = ev->action == SCIM_ACT_CREATE ? 201 : 200;
        v->resource = stored;
        stored = NULL;
out:
        free(is_user);
        json_decref(old);
        json_decref(attrs);
        json_decref(stored);
        scim_model_unref(tm);
}

static void fold_admin(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        scim_buf_t b = {0};
        char ts[32];

        scim_time_format(ev->time_ms, ts);
        if (ev->action == SCIM_ACT_TENANT_CREATE) {
                json_t *o;
                char *txt;

                /* ingest's rule, for events of other producers too */
                if (!scim_tenant_name_ok(ev->tenant)) {
                        refuse(v, 400, "invalidValue",
                               "tenant name '%.64s' is not 1-64 characters "
                               "of A-Z a-z 0-9 . _ - (not dots only, not "
                               "an endpoint name)",
                               ev->tenant);
                        return;
                }
                if (tenant_exists(t, ev->tenant)) {
                        refuse(v, 409, "uniqueness",
                               "tenant '%.64s' already exists", ev->tenant);
                        return;
                }
                o = json_pack("{s:s}", "created", ts);
                if (tenant_pin_create(o, ev, v) < 0) { /* tenant_pin.c */
                        json_decref(o);
                        return;
                }
                txt = scim_json_dumps(o);
                txn_put(t, CF_TENANT, ev->tenant, strlen(ev->tenant), txt,
                        strlen(txt));
                free(txt);
                json_decref(o);
                v->status = 201;
                return;
        }
        if (!tenant_exists(t, ev->tenant)) {
                refuse(v, 404, NULL, "tenant '%.64s' does not exist",
                       ev->tenant);
                return;
        }
        if (!ev->token_id || !*ev->token_id) {
                refuse(v, 400, "invalidValue", "token id missing%s", "");
                return;
        }
        /* tenant-side record: tenant \0 'T' token_id -> hash */
        mem_key(&b, ev->tenant, 'T', ev->token_id, NULL);
        if (ev->action == SCIM_ACT_TOKEN_ISSUE) {
                json_t *o;
                char *txt, *prev;
                size_t vl;

                if (!ev->token_hash || strlen(ev->token_hash) != 64) {
                        refuse(v, 400, "invalidValue", "token hash missing%s",
                               "");
                        goto out;
                }
                prev = txn_get(t, CF_TOKEN, ev->token_hash, 64, &vl);
                free(prev);
                if (prev) {
                        refuse(v, 409, "uniqueness", "token already exists%s",
                               "");
                        goto out;
                }
                o = json_pack("{s:s, s:s, s:s, s:b}", "tenant", ev->tenant,
                              "token_id", ev->token_id, "created", ts,
                              "revoked", 0);
                if (ev->token_scope && *ev->token_scope) /* v2: reports */
                        json_object_set_new(o, "scope",
                                            json_string(ev->token_scope));
                txt = scim_json_dumps(o);
                txn_put(t, CF_TOKEN, ev->token_hash, 64, txt, strlen(txt));
                txn_put(t, CF_TENANT, b.data, b.len, ev->token_hash, 64);
                free(txt);
                json_decref(o);
                v->status = 201;
        } else {
                size_t hl, tl;
                char *hash = txn_get(t, CF_TENANT, b.data, b.len, &hl);
                char *tok = hash && hl == 64
                                ? txn_get(t, CF_TOKEN, hash, 64, &tl)
                                : NULL;
                json_t *o = tok ? scim_json_load(tok, tl) : NULL;

                if (!o) {
                        refuse(v, 404, NULL, "token '%.64s' not found",
                               ev->token_id);
                } else {
                        char *txt;

                        json_object_set_new(o, "revoked", json_true());
                        json_object_set_new(o, "revoked_at", json_string(ts));
                        txt = scim_json_dumps(o);
                        txn_put(t, CF_TOKEN, hash, 64, txt, strlen(txt));
                        free(txt);
                        v->status = 200;
                }
                json_decref(o);
                free(hash);
                free(tok);
        }
out:
        scim_buf_free(&b);
}

/* An event of a tenant's own resource type names it (rtype CUSTOM and
 * resource_type_name, or ingest's storage code and the name): the fold
 * works on a shallow copy whose rtype is the type's storage code in the
 * tenant's model as it stands at this point of the log; a name the model
 * does not define keeps CUSTOM (fold_resource refuses it). */
static const scim_event_t *resolve_type(txn_t *t, const scim_event_t *ev,
                                        scim_event_t *copy)
{
        scim_model_t *m;
        const scim_rtype_row_t *row;

        if (!ev || !ev->tenant ||
            (ev->rtype != SCIM_RT_CUSTOM && !scim_rtype_is_tenant(ev->rtype)))
                return ev;
        *copy = *ev;
        copy->rtype = SCIM_RT_CUSTOM;
        m = txn_model(t, ev->tenant);
        row = scim_model_rtype_by_name(m, ev->resource_type_name);
        if (row && scim_rtype_is_tenant(row->code))
                copy->rtype = row->code;
        scim_model_unref(m);
        return copy;
}

void fold_event(txn_t *t, uint64_t seq, const scim_event_t *ev0,
                const scim_err_t *derr, scim_verdict_t *v)
{
        changes_pre_t pre; /* state before, for the change record */
        stream_pre_t spre; /* and for the change stream record */
        scim_event_t copy;
        const scim_event_t *ev = resolve_type(t, ev0, &copy);

        memset(v, 0, sizeof(*v));
        v->seq = seq;
        txn_set_text(t, NULL, 0); /* this event's stored resource, if any */
        if (ev && ev->erased) /* an erased tenant's event: nothing of it */
                return;
        if (!fold_replaying && fold_key_erased(t, ev)) { /* as replay
                                                            finds it */
                refuse(v, 404, NULL,
                       "tenant '%.64s' was deleted (its data key is erased)",
                       ev->tenant);
                return;
        }
        changes_pre_load(t, ev, &pre);
        stream_pre_load(t, ev, &pre, &spre);
        if (!ev) {
                refuse(v, 400, "invalidSyntax", "undecodable event: %.400s",
                       derr ? derr->detail : "");
        } else if (!ev->tenant || !*ev->tenant) {
                refuse(v, 400, "invalidValue", "event has no tenant%s", "");
        } else {
                switch (ev->action) {
                case SCIM_ACT_REFUSED:
                        v->status = ev->refused_status ? ev->refused_status
                                                       : 400;
                        snprintf(v->scim_type, sizeof(v->scim_type), "%s",
                                 ev->refused_scim_type ? ev->refused_scim_type
                                                       : "");
                        snprintf(v->detail, sizeof(v->detail), "%s",
                                 ev->refused_detail ? ev->refused_detail : "");
                        break;
                case SCIM_ACT_TENANT_CREATE:
                case SCIM_ACT_TOKEN_ISSUE:
                case SCIM_ACT_TOKEN_REVOKE:
                        fold_admin(t, ev, v);
                        break;
                case SCIM_ACT_REPORT_SAVE:
                case SCIM_ACT_REPORT_DELETE:
                        changes_fold_report(t, ev, v);
                        break;
                case SCIM_ACT_TENANT_DELETE:
                        fold_tenant_delete(t, seq, ev, v);
                        break;
                case SCIM_ACT_TENANT_UPDATE:
                        if (!fold_tenant_pin(t, ev, v)) /* tenant_pin.c */
                                fold_tenant_update(t, ev, v);
                        break;
                case SCIM_ACT_TENANT_DISABLE:
                case SCIM_ACT_TENANT_ENABLE:
                case SCIM_ACT_TOKEN_ROTATE:
                case SCIM_ACT_CLIENT_REGISTER:
                case SCIM_ACT_CLIENT_REVOKE:
                case SCIM_ACT_KEY_ROTATE:
                        fold_lifecycle(t, ev, v);
                        break;
                case SCIM_ACT_SCHEMA_PUT:
                case SCIM_ACT_SCHEMA_DELETE:
                        if (!tenant_exists(t, ev->tenant))
                                refuse(v, 404, NULL,
                                       "tenant '%.64s' does not exist",
                                       ev->tenant);
                        else
                                fold_schema(t, ev, v);
                        break;
                default:
                        if (scim_event_is_admin(ev)) /* the v3 admin
                                                        actions not above */
                                refuse(v, 501, "",
                                       "action %d is not supported by this "
                                       "server",
                                       (int)ev->action);
                        else
                                fold_resource(t, ev, v, &pre);
                }
        }
        changes_record(t, seq, ev, v, &pre);
        stream_record(t, seq, ev, v, &pre, &spre); /* frees spre */
        changes_pre_free(&pre);
}
