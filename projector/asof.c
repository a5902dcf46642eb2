/*
 * asof.c — point-in-time reads of the change log: one resource as it stood
 * at a time T (scim_changes_as_of) and a tenant's resources of one type at
 * T (scim_changes_list_as_of), rebuilt from the resource-history index
 * (chidx `tenant \0 R id \0 seq`, whose values carry each record's time and
 * kind) and the events in the log, plus the history state (hstate_*) that
 * retention keeps as a pruned resource's base. Reader side: any thread,
 * committed state only.
 *
 * Time limit: both reads take a deadline (scim_deadline_t, NULL: none;
 * api/reports.c starts it when a report worker picks the read up). Every
 * loop whose length grows with the tenant's history (the index walks, the
 * bases, the candidate lists, a group's records and members, the filter's
 * evaluation, the page) ticks it; the clock is read every
 * SCIM_DEADLINE_EVERY iterations or per chunk of candidates. Once it has
 * passed, the helper threads of a list stop at their next tick (the flag
 * is shared), the read frees what it built and answers 400 tooMany
 * (over_time): never a partial page.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "projector/changes_internal.h"

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The error of a read its deadline stopped (api/reports.c words the
 * answer's detail: the limit, its value, what to do). Always -1. */
static int over_time(scim_err_t *err)
{
        return scim_err_set(err, 400, "tooMany",
                            "the point-in-time read went over its time "
                            "limit and was stopped");
}
/* ------------------------------------------------------------ asOf */

static void members_apply(hstate_t *h, const scim_event_t *ev);

void hstate_init(hstate_t *h)
{
        memset(h, 0, sizeof(*h));
        h->members = json_object();
}

void hstate_free(hstate_t *h)
{
        json_decref(h->attrs);
        json_decref(h->members);
        memset(h, 0, sizeof(*h));
}

void hstate_apply(hstate_t *h, const scim_event_t *ev)
{
        h->last_ms = ev->time_ms;
        h->rtype = ev->rtype;
        if (ev->action == SCIM_ACT_DELETE) {
                h->exists = 0;
                h->version = 0;
                h->deleted_ms = ev->time_ms;
                json_decref(h->attrs);
                h->attrs = NULL;
                json_object_clear(h->members);
                return;
        }
        if (!h->exists) {
                h->created_ms = ev->time_ms;
                h->exists = 1;
                h->deleted_ms = 0;
        }
        h->version++;
        if (ev->resource_json) {
                json_decref(h->attrs);
                h->attrs = scim_json_load(ev->resource_json,
                                          strlen(ev->resource_json));
        }
        if (ev->rtype == SCIM_RT_GROUP)
                members_apply(h, ev);
}

void hstate_bump(hstate_t *h, int64_t ms)
{
        if (!h->exists)
                return;
        h->version++;
        h->last_ms = ms;
}

json_t *hstate_dump(const hstate_t *h)
{
        return json_pack(
            "{s:b, s:I, s:I, s:I, s:I, s:s, s:O?, s:O}", "exists", h->exists,
            "version", (json_int_t)h->version, "created",
            (json_int_t)h->created_ms, "last", (json_int_t)h->last_ms,
            "deleted", (json_int_t)h->deleted_ms, "type",
            h->rtype == SCIM_RT_GROUP        ? "Group"
            : scim_rtype_is_tenant(h->rtype) ? (const char[]){(char)h->rtype, 0}
                                             : "User",
            "attrs", h->attrs, "members", h->members);
}

int hstate_load(hstate_t *h, const json_t *o)
{
        const json_t *m = json_object_get(o, "members");
        const char *ty = json_string_value(json_object_get(o, "type"));

        if (!json_is_object(o))
                return -1;
        h->exists = json_is_true(json_object_get(o, "exists"));
        h->version = json_integer_value(json_object_get(o, "version"));
        h->created_ms = json_integer_value(json_object_get(o, "created"));
        h->last_ms = json_integer_value(json_object_get(o, "last"));
        h->deleted_ms = json_integer_value(json_object_get(o, "deleted"));
        h->rtype =
            ty && !strcmp(ty, "Group") ? SCIM_RT_GROUP
            : ty && strlen(ty) == 1 && scim_rtype_is_tenant((scim_rtype_t)ty[0])
                ? (scim_rtype_t)ty[0]
                : SCIM_RT_USER;
        json_decref(h->attrs);
        h->attrs = json_is_object(json_object_get(o, "attrs"))
                       ? json_deep_copy(json_object_get(o, "attrs"))
                       : NULL;
        if (json_is_object(m))
                json_object_update(h->members, (json_t *)m);
        return 0;
}

void changes_base_key(scim_buf_t *b, const char *tenant, const char *id)
{
        changes_key_start(b, tenant, 'B');
        scim_buf_puts(b, id);
}

/* The state retention folded in for id (what its pruned records did), or
 * 0 when there is none. */
static int base_of(scim_store_t *st, const char *tenant, const char *id,
                   hstate_t *h)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;
        json_t *o;
        int found = 0;

        changes_base_key(&k, tenant, id);
        v = db_get(st, CF_CHIDX, k.data, k.len, &vl);
        o = v ? scim_json_load(v, vl) : NULL;
        if (o && hstate_load(h, o) == 0)
                found = 1;
        json_decref(o);
        free(v);
        scim_buf_free(&k);
        return found;
}

int changes_event_decode(scim_store_t *st, const char *v, size_t vl,
                         scim_event_t *ev)
{
        scim_err_t e;
        int rc = scim_event_decode(v, vl, ev, &e);

        if (rc == 0 && scim_store_unseal(st, ev) != 0)
                return -1; /* erased (or damaged): no state to rebuild */
        return rc;
}

/* Decodes the log event at seq into *ev (caller clears). */
static int event_at(scim_store_t *st, uint64_t seq, scim_event_t *ev)
{
        unsigned char k[8];
        size_t vl = 0;
        char *v;
        int rc;

        scim_put_be64(k, seq);
        v = db_get(st, CF_LOG, (char *)k, 8, &vl);
        if (!v)
                return -1;
        rc = changes_event_decode(st, v, vl, ev);
        free(v);
        return rc;
}

/* ------------------------------------------------ reading the log */

/* Opens the records of one tenant for an asOf reader without decoding
 * them: a record is peeked in place (scim_event_peek), and a sealed one
 * opened with its key, a few of which are remembered (a key lookup parses
 * a row). One per thread. */
typedef struct opener {
        scim_store_t *st;
        const char *tenant;
        struct {
                char kid[17];
                uint8_t key[32];
                int ok;
        } keys[4];
        int nkeys;
        scim_buf_t plain; /* the last opened payload */
} opener_t;

static void opener_init(opener_t *o, scim_store_t *st, const char *tenant)
{
        memset(o, 0, sizeof(*o));
        o->st = st;
        o->tenant = tenant;
}

static void opener_free(opener_t *o)
{
        scim_buf_free(&o->plain);
        memset(o->keys, 0, sizeof(o->keys));
}

/* The text that holds a peeked record's resource JSON: the resource JSON
 * itself (*sealed 0), or its opened seal's payload (*sealed 1: the
 * resource JSON is the string "r" in it, display names the array "m");
 * NULL when it has neither (or its key is erased, or the seal is
 * damaged). Valid until the next call. */
static const char *opener_text(opener_t *o, const scim_event_peek_t *pk,
                               size_t *tl, int *sealed)
{
        int k;

        if (pk->rj) {
                *tl = pk->rjl;
                *sealed = 0;
                return pk->rj;
        }
        if (!pk->sealed || !pk->kid || pk->kidl != 16)
                return NULL;
        for (k = 0; k < o->nkeys; k++)
                if (!memcmp(o->keys[k].kid, pk->kid, 16))
                        break;
        if (k == o->nkeys) {
                if (o->nkeys < 4)
                        o->nkeys++;
                else
                        k = (int)(pk->kid[0] & 3); /* any slot will do */
                memcpy(o->keys[k].kid, pk->kid, 16);
                o->keys[k].kid[16] = '\0';
                o->keys[k].ok = erase_data_key(o->st, o->tenant, o->keys[k].kid,
                                               o->keys[k].key);
        }
        if (!o->keys[k].ok)
                return NULL;
        o->plain.len = 0;
        if (erase_open(o->keys[k].key, o->tenant, pk->sealed, pk->sealedl,
                       &o->plain) < 0)
                return NULL;
        *tl = o->plain.len;
        *sealed = 1;
        return o->plain.data;
}

/* A peeked record's resource JSON into *rj (new C string, NULL when it
 * has none) and for a sealed one its display names (*m, new reference or
 * NULL), as scim_store_unseal gives them. -1 when a sealed record cannot
 * be opened (its key erased, or damaged): decoding it would fail too. */
static int opener_open(opener_t *o, const scim_event_peek_t *pk, char **rj,
                       json_t **m)
{
        size_t tl = 0;
        int sealed = 0;
        const char *t = opener_text(o, pk, &tl, &sealed), *r;
        json_t *p;

        *rj = NULL;
        if (m)
                *m = NULL;
        if (!t)
                return pk->rj || !pk->sealed ? 0 : -1;
        if (!sealed) {
                *rj = strndup(t, tl);
                return 0;
        }
        p = scim_json_load(t, tl);
        if (!json_is_object(p)) {
                json_decref(p);
                return -1;
        }
        r = json_string_value(json_object_get(p, "r"));
        *rj = r ? strdup(r) : NULL;
        if (m)
                *m = json_incref(json_object_get(p, "m"));
        json_decref(p);
        return 0;
}

/* Reads the log records at seqs[0..n) (ascending) into vals (NULL where
 * absent; the caller destroys each). */
#define LOG_CHUNK 256
static void log_read(scim_store_t *st, const uint64_t *seqs, size_t n,
                     rocksdb_pinnableslice_t **vals)
{
        unsigned char keys[LOG_CHUNK][8];
        const char *kp[LOG_CHUNK];
        size_t kl[LOG_CHUNK];
        char *errs[LOG_CHUNK];

        for (size_t i = 0; i < n; i += LOG_CHUNK) {
                size_t m = n - i < LOG_CHUNK ? n - i : LOG_CHUNK;

                for (size_t j = 0; j < m; j++) {
                        scim_put_be64(keys[j], seqs[i + j]);
                        kp[j] = (const char *)keys[j];
                        kl[j] = 8;
                        errs[j] = NULL;
                        vals[i + j] = NULL;
                }
                rocksdb_batched_multi_get_cf(st->db, st->ro, st->cf[CF_LOG], m,
                                             kp, kl, vals + i, errs, 1);
                for (size_t j = 0; j < m; j++)
                        free(errs[j]);
        }
}

/* ----------------------------------------- the fold's stored output */

/*
 * What a resource held after an applied write is what the fold stored,
 * not the event's resource JSON: the fold applies the tenant's definition
 * in force at that point of the log (model_store.c: a definition that
 * landed between the write's ingest and its fold, an external producer's
 * event that ingest never saw: unknown attributes dropped, defaults
 * applied, names in the schema's spelling, "true" made true, readOnly
 * input dropped, schemas rebuilt). The fold writes that text once more,
 * as the "after" of the event's change stream record (stream.c: column
 * family `stream`, tenant \0 seq, pruned with the change records), so an
 * asOf answer reads it there: a replay --until T holds the same text.
 */

/* The stream key tenant \0 seq into k (room for SCIM_MAX_TENANT_LEN + 9
 * bytes); its length. */
#define STREAM_KEY_MAX (SCIM_MAX_TENANT_LEN + 9)
static size_t stream_key(char *k, const char *tenant, uint64_t seq)
{
        size_t tl = strlen(tenant);

        if (tl > SCIM_MAX_TENANT_LEN)
                tl = SCIM_MAX_TENANT_LEN;
        memcpy(k, tenant, tl);
        k[tl] = '\0';
        scim_put_be64((unsigned char *)k + tl + 1, seq);
        return tl + 9;
}

/* The resource the fold stored for the applied write at seq (its "after",
 * parsed; new reference), or NULL when its stream record is missing. */
static json_t *stored_at(scim_store_t *st, const char *tenant, uint64_t seq)
{
        char k[STREAM_KEY_MAX];
        size_t kl = stream_key(k, tenant, seq), vl = 0, al = 0;
        char *v = db_get(st, CF_STREAM, k, kl, &vl);
        const char *a;
        json_t *res = NULL;

        if (v && changes_stream_after(v, vl, &a, &al))
                res = scim_json_load(a, al);
        free(v);
        if (res && !json_is_object(res)) {
                json_decref(res);
                res = NULL;
        }
        return res;
}

/* ------------------------------------------- one resource as of T */

/* The name of resource type rt of the tenant ("User", "Group", or a type
 * of its own: its storage code is never reused, so today's model names
 * it) into buf. */
static const char *type_name(scim_store_t *st, const char *tenant,
                             scim_rtype_t rt, char *buf, size_t n)
{
        scim_model_t *m;
        const scim_rtype_row_t *row;

        if (rt == SCIM_RT_USER || rt == SCIM_RT_GROUP)
                return rt == SCIM_RT_USER ? "User" : "Group";
        m = scim_store_model(st, tenant);
        row = scim_model_rtype(m, rt);
        snprintf(buf, n, "%s", row && row->name ? row->name : "Resource");
        scim_model_unref(m);
        return buf;
}

/* The group part of hstate_apply: members of one applied group event. */
static void members_apply(hstate_t *h, const scim_event_t *ev)
{
        if (ev->members_replace)
                json_object_clear(h->members);
        for (size_t i = 0; i < ev->n_removed; i++)
                if (ev->removed[i])
                        json_object_del(h->members, ev->removed[i]);
        for (size_t i = 0; i < ev->n_added; i++) {
                json_t *m;

                if (!ev->added[i].value)
                        continue;
                m = json_object();
                if (ev->added[i].display)
                        json_object_set_new(m, "display",
                                            json_string(ev->added[i].display));
                json_object_set_new(h->members, ev->added[i].value, m);
        }
}

/* The same from a peeked record (display names from the record, or from
 * the seal's "m" by position, as scim_store_unseal fills them). */
typedef struct madd {
        hstate_t *h;
        json_t *readded; /* ids added after the base */
        const json_t *m;
        size_t i;
} madd_t;

static void member_removed(void *ctx, const char *v, size_t vl, const char *d,
                           size_t dl)
{
        madd_t *a = ctx;
        char *id = strndup(v, vl);

        (void)d;
        (void)dl;
        if (id)
                json_object_del(a->h->members, id);
        free(id);
}

static void member_added(void *ctx, const char *v, size_t vl, const char *d,
                         size_t dl)
{
        madd_t *a = ctx;
        char *id = strndup(v, vl);
        const json_t *x = json_array_get(a->m, a->i++);
        json_t *m;

        if (!id)
                return;
        m = json_object();
        if (d) {
                char *ds = strndup(d, dl);

                if (ds)
                        json_object_set_new(m, "display", json_string(ds));
                free(ds);
        } else if (json_is_string(x)) {
                json_object_set(m, "display", (json_t *)x);
        }
        json_object_set_new(a->h->members, id, m);
        if (a->readded)
                json_object_set_new(a->readded, id, json_true());
        free(id);
}

/* One entry of a resource's history index up to T. */
typedef struct hent {
        uint64_t seq;
        int64_t ms;
        char kind;
} hent_t;

/* What the fold stored at the last applied write among ents[from..n)
 * (new reference), or NULL: none, or its stream record is missing. */
static json_t *stored_last(scim_store_t *st, const char *tenant,
                           const hent_t *ents, size_t from, size_t n)
{
        for (size_t i = n; i-- > from;)
                if (ents[i].kind != CHANGES_R_EFFECT)
                        return stored_at(st, tenant, ents[i].seq);
        return NULL;
}

/* Each member's type ("User" or "Group": from its base, else from its
 * first record) and whether it is gone: a member the group's base brought
 * (not added again since) whose own base says retention folded its delete
 * in (a delete after the horizon removed it through the group's own
 * history already). ids sorted; one iterator over the resource-history
 * index seeks each id, one over the bases walks along. */
static int members_out(scim_store_t *st, const char *tenant, const char **ids,
                       size_t n, const json_t *readded, int had_base,
                       const json_t *members, json_t *arr, scim_deadline_t *dl)
{
        scim_buf_t pre = {0}, bpre = {0}, k = {0};
        rocksdb_iterator_t *it, *bit;
        int bases = 1;

        changes_key_start(&pre, tenant, 'R');
        changes_key_start(&bpre, tenant, 'B');
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        bit = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        if (n) {
                k.len = 0;
                scim_buf_append(&k, bpre.data, bpre.len);
                scim_buf_puts(&k, ids[0]);
                rocksdb_iter_seek(bit, k.data, k.len);
        }
        for (size_t i = 0; i < n && !scim_deadline_tick(dl, i); i++) {
                const char *type = NULL, *id = ids[i];
                size_t idl = strlen(id);
                int gone = 0;
                json_t *m, *src = json_object_get(members, id);

                /* the bases, in id order */
                while (bases && rocksdb_iter_valid(bit)) {
                        size_t bkl, bl;
                        const char *bk = rocksdb_iter_key(bit, &bkl);
                        int c;

                        if (bkl < bpre.len || memcmp(bk, bpre.data, bpre.len)) {
                                bases = 0; /* past the tenant's bases */
                                break;
                        }
                        bl = bkl - bpre.len;
                        c = memcmp(bk + bpre.len, id, bl < idl ? bl : idl);
                        if (c < 0 || (c == 0 && bl < idl)) {
                                rocksdb_iter_next(bit);
                                continue;
                        }
                        if (c == 0 && bl == idl) {
                                size_t bvl;
                                const char *bv = rocksdb_iter_value(bit, &bvl);
                                json_t *o = scim_json_load(bv, bvl);
                                hstate_t b;

                                hstate_init(&b);
                                if (o && hstate_load(&b, o) == 0) {
                                        type = b.rtype == SCIM_RT_GROUP
                                                   ? "Group"
                                                   : "User";
                                        if (had_base && b.deleted_ms &&
                                            !b.exists &&
                                            !json_object_get(readded, id))
                                                gone = 1;
                                }
                                hstate_free(&b);
                                json_decref(o);
                        }
                        break;
                }
                if (bases && !rocksdb_iter_valid(bit))
                        bases = 0;
                if (gone)
                        continue;
                if (!type) { /* its first record of a user or group */
                        k.len = 0;
                        scim_buf_append(&k, pre.data, pre.len);
                        scim_buf_append(&k, id, idl + 1);
                        type = "User";
                        for (rocksdb_iter_seek(it, k.data, k.len);
                             rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
                                size_t kl, vl;
                                const char *key = rocksdb_iter_key(it, &kl);
                                const unsigned char *rv =
                                    (const unsigned char *)rocksdb_iter_value(
                                        it, &vl);

                                if (kl != k.len + 8 ||
                                    memcmp(key, k.data, k.len))
                                        break;
                                if (vl == CHANGES_RVAL_LEN &&
                                    (rv[8] == CHANGES_R_USER ||
                                     rv[8] == CHANGES_R_GROUP)) {
                                        type = rv[8] == CHANGES_R_GROUP
                                                   ? "Group"
                                                   : "User";
                                        break;
                                }
                        }
                }
                m = json_pack("{s:s}", "value", id);
                if (json_object_get(src, "display"))
                        json_object_set(m, "display",
                                        json_object_get(src, "display"));
                json_object_set_new(m, "type", json_string(type));
                json_array_append_new(arr, m);
        }
        rocksdb_iter_destroy(it);
        rocksdb_iter_destroy(bit);
        scim_buf_free(&pre);
        scim_buf_free(&bpre);
        scim_buf_free(&k);
        return scim_deadline_passed(dl) ? -1 : 0;
}

/*
 * One resource as it stood at as_of_ms: its base (what retention folded
 * in), then its history index entries up to then. Only what the answer
 * needs is read: the last delete wipes what came before; meta (version,
 * created, lastModified) comes from the index values; a user's attributes
 * from its last record; a group's members from its records since the
 * delete (each peeked in place, sealed ones opened), with members a
 * deleted resource left (the index's 'M' entries: the record there is
 * that member's delete) dropped then. The same state hstate_apply gives
 * by applying every event.
 */
int scim_changes_as_of(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                       const char *id, int64_t as_of_ms, scim_deadline_t *dl,
                       json_t **out, scim_err_t *err)
{
        scim_buf_t pre = {0}, last_rj = {0};
        rocksdb_iterator_t *it = NULL;
        json_t *res = NULL, *meta, *mem_arr, *readded = NULL, *stored = NULL;
        hstate_t h;
        scim_changes_horizon_t hz;
        hent_t *ents = NULL;
        uint64_t *seqs = NULL;
        size_t *pos = NULL;
        rocksdb_pinnableslice_t **vals = NULL;
        size_t n = 0, cap = 0, from = 0, nread = 0, steps = 0;
        int rc = -1, had_base = 0, have_rj = 0;
        char ts[32], ver[32], nb[SCIM_MAX_ID_LEN + 1];
        const char *rname = type_name(st, tenant, rt, nb, sizeof(nb));
        opener_t op;

        *out = NULL;
        hstate_init(&h);
        opener_init(&op, st, tenant);
        if (!id || !*id || strlen(id) > SCIM_MAX_ID_LEN) {
                scim_err_set(err, 404, NULL, "%s not found", rname);
                goto out;
        }
        scim_changes_horizon(st, tenant, &hz);
        if (hz.through_ms && as_of_ms < hz.through_ms) {
                scim_time_format(hz.through_ms, ts);
                scim_err_set(err, 410, NULL,
                             "asOf is before this tenant's retained history "
                             "(change records are kept from %s: retention "
                             "%lld days)",
                             ts, (long long)(hz.retention_ms / 86400000));
                goto out;
        }
        if (base_of(st, tenant, id, &h)) {
                if (h.rtype != rt)
                        hstate_free(&h), hstate_init(&h);
                else
                        had_base = 1;
        }
        /* 1. its index entries up to as_of_ms */
        changes_key_start(&pre, tenant, 'R');
        scim_buf_append(&pre, id, strlen(id) + 1);
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        for (rocksdb_iter_seek(it, pre.data, pre.len); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl);
                const unsigned char *rv =
                    (const unsigned char *)rocksdb_iter_value(it, &vl);
                hent_t e;

                if (kl != pre.len + 8 || memcmp(k, pre.data, pre.len))
                        break;
                if (scim_deadline_tick(dl, steps++)) {
                        over_time(err);
                        goto out;
                }
                if (n >= SCIM_CHANGES_MAX_HISTORY) {
                        scim_err_set(err, 400, "tooMany",
                                     "history longer than %d events",
                                     SCIM_CHANGES_MAX_HISTORY);
                        goto out;
                }
                if (vl != CHANGES_RVAL_LEN)
                        continue;
                e.seq = scim_get_be64((const unsigned char *)k + pre.len);
                e.ms = changes_get_time(rv);
                e.kind = (char)rv[8];
                if (e.ms > as_of_ms || e.kind == CHANGES_R_REFUSED ||
                    (e.kind != CHANGES_R_EFFECT && e.kind != CHANGES_R_DELETE &&
                     e.kind != (char)rt)) /* 'U', 'G' or the tenant code */
                        continue;
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 64;
                        hent_t *x = realloc(ents, nc * sizeof(*x));

                        if (!x) {
                                scim_err_set_retry(err, 503, "out of memory");
                                goto out;
                        }
                        ents = x;
                        cap = nc;
                }
                ents[n++] = e;
        }
        /* 2. the last delete wipes what came before it */
        for (size_t i = n; i-- > 0;)
                if (ents[i].kind == CHANGES_R_DELETE) {
                        scim_event_t ev;

                        memset(&ev, 0, sizeof(ev));
                        ev.action = SCIM_ACT_DELETE;
                        ev.rtype = rt;
                        ev.time_ms = ents[i].ms;
                        hstate_apply(&h, &ev);
                        had_base = 0;
                        from = i + 1;
                        break;
                }
        /* 3. meta from the entries since; which records to read */
        seqs = calloc(n - from + 1, sizeof(*seqs));
        pos = calloc(n - from + 1, sizeof(*pos));
        if (!seqs || !pos) {
                scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        for (size_t i = from; i < n; i++) {
                if (ents[i].kind == CHANGES_R_EFFECT) {
                        /* a deleted member left this group: the live
                         * fold bumped the group's version */
                        hstate_bump(&h, ents[i].ms);
                        if (rt == SCIM_RT_GROUP)
                                pos[nread] = i, seqs[nread++] = ents[i].seq;
                        continue;
                }
                h.last_ms = ents[i].ms;
                h.rtype = rt;
                if (!h.exists) {
                        h.created_ms = ents[i].ms;
                        h.exists = 1;
                        h.deleted_ms = 0;
                }
                h.version++;
                if (rt == SCIM_RT_GROUP)
                        pos[nread] = i, seqs[nread++] = ents[i].seq;
        }
        if (!h.exists) {
                scim_err_set(err, 404, NULL, "%s %.128s did not exist then",
                             rname, id);
                goto out;
        }
        if (rt != SCIM_RT_GROUP) {
                /* attributes: what the fold stored at the last record
                 * (else, for a record without its stream record, the
                 * last event that carries them) */
                stored = stored_last(st, tenant, ents, from, n);
                for (size_t i = n; !stored && i-- > from && !have_rj;) {
                        rocksdb_pinnableslice_t *v = NULL;
                        size_t vl = 0;
                        const char *vp;
                        scim_event_peek_t pk;
                        char *rj = NULL;

                        if (ents[i].kind == CHANGES_R_EFFECT)
                                continue;
                        log_read(st, &ents[i].seq, 1, &v);
                        vp = v ? rocksdb_pinnableslice_value(v, &vl) : NULL;
                        if (vp && scim_event_peek(vp, vl, &pk) == 0) {
                                (void)opener_open(&op, &pk, &rj, NULL);
                        } else if (vp) {
                                scim_event_t ev;

                                memset(&ev, 0, sizeof(ev));
                                if (changes_event_decode(st, vp, vl, &ev) ==
                                        0 &&
                                    ev.resource_json)
                                        rj = strdup(ev.resource_json);
                                scim_event_clear(&ev);
                        }
                        rocksdb_pinnableslice_destroy(v);
                        if (rj) {
                                scim_buf_puts(&last_rj, rj);
                                have_rj = 1;
                        }
                        free(rj);
                }
        } else {
                /* members: every record since, in order */
                readded = had_base ? json_object() : NULL;
                vals = calloc(nread + 1, sizeof(*vals));
                if (!vals) {
                        scim_err_set_retry(err, 503, "out of memory");
                        goto out;
                }
                log_read(st, seqs, nread, vals);
                for (size_t r = 0; r < nread; r++) {
                        size_t vl = 0;
                        const char *vp =
                            vals[r] ? rocksdb_pinnableslice_value(vals[r], &vl)
                                    : NULL;
                        scim_event_peek_t pk;
                        int effect = ents[pos[r]].kind == CHANGES_R_EFFECT;

                        if (scim_deadline_tick(dl, r)) {
                                over_time(err);
                                goto out;
                        }
                        if (!vp)
                                continue;
                        if (scim_event_peek(vp, vl, &pk) == 0) {
                                madd_t a = {&h, readded, NULL, 0};
                                json_t *mm = NULL;
                                char *rj = NULL;

                                if (effect) { /* the member's delete */
                                        char *mid =
                                            pk.rid ? strndup(pk.rid, pk.ridl)
                                                   : NULL;

                                        if (mid)
                                                json_object_del(h.members, mid);
                                        free(mid);
                                        continue;
                                }
                                if (opener_open(&op, &pk, &rj, &mm) < 0)
                                        continue; /* as a failed decode */
                                if (rj) {
                                        last_rj.len = 0;
                                        scim_buf_puts(&last_rj, rj);
                                        have_rj = 1;
                                }
                                free(rj);
                                a.m = mm;
                                if (pk.members_replace)
                                        json_object_clear(h.members);
                                scim_event_peek_members(&pk, 0, member_removed,
                                                        &a);
                                scim_event_peek_members(&pk, 1, member_added,
                                                        &a);
                                json_decref(mm);
                        } else { /* another writer schema */
                                scim_event_t ev;

                                memset(&ev, 0, sizeof(ev));
                                if (changes_event_decode(st, vp, vl, &ev) ==
                                    0) {
                                        if (effect) {
                                                if (ev.resource_id)
                                                        json_object_del(
                                                            h.members,
                                                            ev.resource_id);
                                        } else {
                                                if (ev.resource_json) {
                                                        last_rj.len = 0;
                                                        scim_buf_puts(
                                                            &last_rj,
                                                            ev.resource_json);
                                                        have_rj = 1;
                                                }
                                                members_apply(&h, &ev);
                                                for (size_t j = 0;
                                                     readded && j < ev.n_added;
                                                     j++)
                                                        if (ev.added[j].value)
                                                                json_object_set_new(
                                                                    readded,
                                                                    ev.added[j]
                                                                        .value,
                                                                    json_true());
                                        }
                                }
                                scim_event_clear(&ev);
                        }
                }
        }
        /* a group's attributes: the stored ones, unless the tenant never
         * had a definition (its events are what the fold stored, and the
         * loop above read them already) */
        if (rt == SCIM_RT_GROUP && have_rj && store_model_ever(st, tenant))
                stored = stored_last(st, tenant, ents, from, n);
        if (stored) {
                json_decref(h.attrs);
                h.attrs = stored;
                stored = NULL;
        } else if (have_rj) {
                json_decref(h.attrs);
                h.attrs = scim_json_load(last_rj.data, last_rj.len);
        }
        /* the type's name: the stored meta's (a tenant type's own) */
        if (json_string_value(
                json_object_get(json_object_get(h.attrs, "meta"), "resourceType")))
                rname = json_string_value(json_object_get(
                    json_object_get(h.attrs, "meta"), "resourceType"));
        if (!json_is_object(h.attrs)) {
                scim_err_set(err, 404, NULL, "%s %.128s did not exist then",
                             rname, id);
                goto out;
        }
        res = json_object();
        if (json_is_array(json_object_get(h.attrs, "schemas")))
                json_object_set(res, "schemas",
                                json_object_get(h.attrs, "schemas"));
        else
                json_object_set_new(res, "schemas",
                                    json_pack("[s]", rt == SCIM_RT_USER
                                                         ? SCIM_URN_USER
                                                         : SCIM_URN_GROUP));
        json_object_set_new(res, "id", json_string(id));
        {
                const char *k;
                json_t *v;

                json_object_foreach(h.attrs, k, v)
                {
                        if (!strcmp(k, "schemas") || !strcmp(k, "id") ||
                            !strcmp(k, "meta") || !strcmp(k, "members"))
                                continue;
                        json_object_set(res, k, v);
                }
        }
        if (rt == SCIM_RT_GROUP) {
                /* members in id order, like the live view */
                const char **ids =
                    calloc(json_object_size(h.members) + 1, sizeof(*ids));
                const char *k;
                json_t *v;
                size_t nm = 0;

                mem_arr = json_array();
                json_object_foreach(h.members, k, v) if (ids) ids[nm++] = k;
                if (ids)
                        qsort(ids, nm, sizeof(*ids), cmp_str);
                if (members_out(st, tenant, ids, ids ? nm : 0, readded,
                                had_base, h.members, mem_arr, dl) < 0) {
                        free(ids);
                        json_decref(mem_arr);
                        over_time(err);
                        goto out;
                }
                free(ids);
                if (json_array_size(mem_arr))
                        json_object_set_new(res, "members", mem_arr);
                else
                        json_decref(mem_arr);
        }
        meta = json_object();
        json_object_set_new(meta, "resourceType", json_string(rname));
        scim_time_format(h.created_ms, ts);
        json_object_set_new(meta, "created", json_string(ts));
        scim_time_format(h.last_ms, ts);
        json_object_set_new(meta, "lastModified", json_string(ts));
        snprintf(ver, sizeof(ver), "W/\"%lld\"", (long long)h.version);
        json_object_set_new(meta, "version", json_string(ver));
        json_object_set_new(res, "meta", meta);
        *out = res;
        res = NULL;
        rc = 0;
out:
        if (it)
                rocksdb_iter_destroy(it);
        for (size_t r = 0; vals && r < nread; r++)
                rocksdb_pinnableslice_destroy(vals[r]);
        free(vals);
        free(seqs);
        free(pos);
        free(ents);
        json_decref(readded);
        json_decref(stored);
        opener_free(&op);
        scim_buf_free(&pre);
        scim_buf_free(&last_rj);
        hstate_free(&h);
        json_decref(res);
        return rc;
}

/* One resource of a tenant-wide asOf list, walking the R index in key
 * order: what it was at the asOf time. */
typedef struct lstate {
        char id[SCIM_MAX_ID_LEN + 1];
        int exists;   /* after the records seen so far */
        uint64_t seq; /* its last applied create/replace/patch */
        int64_t version, created_ms, last_ms;
        json_t *base_attrs; /* exists through the base only: its attrs */
} lstate_t;

/* An event's resource JSON parsed, without the meta a producer may have
 * put in it (the fold builds its own). New reference, or NULL. */
static json_t *event_res(const char *rj)
{
        json_t *r = scim_json_load(rj, strlen(rj));

        json_object_del(r, "meta");
        return r;
}

/* A user's (or a tenant type's) state for the list from its stored form
 * res (taken; NULL: none) plus meta counted from the index. New
 * reference, or NULL. */
static json_t *list_item_done(scim_store_t *st, const char *tenant,
                              scim_rtype_t rt, const lstate_t *ls, json_t *res)
{
        json_t *meta, *rtn;
        char ts[32], ver[32], nb[SCIM_MAX_ID_LEN + 1];

        if (!json_is_object(res)) {
                json_decref(res);
                return NULL;
        }
        /* the stored form is the answer: id and meta added in place (the
         * type's name kept: a tenant type's own) */
        json_object_del(res, "members");
        if (!json_is_array(json_object_get(res, "schemas")))
                json_object_set_new(res, "schemas",
                                    json_pack("[s]", SCIM_URN_USER));
        json_object_set_new(res, "id", json_string(ls->id));
        rtn = json_object_get(json_object_get(res, "meta"), "resourceType");
        rtn = json_is_string(rtn)
                  ? json_incref(rtn)
                  : json_string(type_name(st, tenant, rt, nb, sizeof(nb)));
        meta = json_object();
        json_object_set_new(meta, "resourceType", rtn);
        scim_time_format(ls->created_ms, ts);
        json_object_set_new(meta, "created", json_string(ts));
        scim_time_format(ls->last_ms, ts);
        json_object_set_new(meta, "lastModified", json_string(ts));
        snprintf(ver, sizeof(ver), "W/\"%lld\"", (long long)ls->version);
        json_object_set_new(meta, "version", json_string(ver));
        json_object_set_new(res, "meta", meta);
        return res;
}

/* The resource's state for the list: a user what the fold stored at its
 * last applied write (stored_at; the event's resource when its stream
 * record is missing, logv when given: that event), or the base's, plus
 * meta counted from the index; a group through scim_changes_as_of (its
 * members need the deltas). New reference, or NULL. */
static json_t *list_item_from(scim_store_t *st, const char *tenant,
                              scim_rtype_t rt, const lstate_t *ls,
                              int64_t as_of_ms, const char *logv, size_t logl,
                              scim_deadline_t *dl)
{
        json_t *res = NULL;
        scim_event_t ev;
        scim_err_t e;

        if (rt == SCIM_RT_GROUP) {
                scim_err_clear(&e);
                scim_changes_as_of(st, tenant, rt, ls->id, as_of_ms, dl, &res,
                                   &e);
                return res;
        }
        if (ls->seq && !logv)
                res = stored_at(st, tenant, ls->seq);
        if (ls->seq && !res) { /* no stream record: the event's */
                memset(&ev, 0, sizeof(ev));
                if ((logv ? changes_event_decode(st, logv, logl, &ev)
                          : event_at(st, ls->seq, &ev)) == 0 &&
                    ev.resource_json)
                        res = event_res(ev.resource_json);
                scim_event_clear(&ev);
        } else if (ls->base_attrs) {
                res = json_deep_copy(ls->base_attrs);
        }
        return list_item_done(st, tenant, rt, ls, res);
}

static json_t *list_item(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                         const lstate_t *ls, int64_t as_of_ms,
                         scim_deadline_t *dl)
{
        return list_item_from(st, tenant, rt, ls, as_of_ms, NULL, 0, dl);
}

/* The filtered case: candidates are evaluated on several threads (each
 * costs a log read, and most only a look at the record's bytes: see
 * text_may_match), then the page is built in id order. */
#define LIST_NEEDLES 8
typedef struct lwork {
        scim_store_t *st;
        const char *tenant;
        scim_rtype_t rt;
        int64_t as_of_ms;
        const scim_filter_t *filter;
        lstate_t *c;
        unsigned char *match;
        size_t n, next; /* next: shared cursor (atomic) */
        /* users and tenant types: the candidates with a log record, in the
         * order of their records (neighbours share the log's blocks), and
         * a second cursor over the others (bases only; groups) */
        size_t *order, n_order, next2;
        /* literals one of which a match's resource JSON holds
         * (scim_filter_needles; users and tenant types only) */
        const char *lit[LIST_NEEDLES];
        size_t lit_len[LIST_NEEDLES];
        int caseless[LIST_NEEDLES], nlit, any_caseless;
        /* the tenant never had a definition (store_model_ever): each
         * event's resource is what the fold stored, so the log's records
         * are read (sealed, but a third smaller than stream records and
         * not compressed: ~20% less CPU per candidate) */
        int events;
        json_t **keep; /* non-NULL: each match as built (the page's) */
        scim_deadline_t *dl; /* the read's (NULL: none) */
} lwork_t;

/* 1 if l (ln > 0 bytes, ASCII) is in t, ASCII-caselessly. */
static int find_caseless(const char *t, size_t n, const char *l, size_t ln)
{
        int lo = tolower((unsigned char)l[0]),
            up = toupper((unsigned char)l[0]);

        for (size_t i = 0; i + ln <= n; i++)
                if ((t[i] == lo || t[i] == up) &&
                    !strncasecmp(t + i + 1, l + 1, ln - 1))
                        return 1;
        return 0;
}

/*
 * 0 when the resource whose JSON text t holds (the text itself, or a
 * sealed record's payload where it is a JSON string) cannot match the
 * filter: none of the filter's literals is in it. A literal is printable
 * ASCII without ", \ or /, so its bytes in a JSON string are itself,
 * escaped once or twice alike, unless the text writes characters as \u
 * escapes (then 1: evaluate). A caseless literal is looked for only in
 * ASCII text: a Unicode fold can turn other bytes into ASCII.
 */
static int text_may_match(const lwork_t *w, const char *t, size_t n)
{
        if (!w->nlit || memmem(t, n, "\\u", 2))
                return 1;
        if (w->any_caseless)
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char)t[i] & 0x80)
                                return 1;
        for (int k = 0; k < w->nlit; k++)
                if (w->caseless[k]
                        ? find_caseless(t, n, w->lit[k], w->lit_len[k])
                        : memmem(t, n, w->lit[k], w->lit_len[k]) != NULL)
                        return 1;
        return 0;
}

/* A user (or tenant type) candidate of a filtered list from its log
 * record v, for a write without its stream record (see list_eval): 1 if
 * it matches, 2 if not. The record is peeked, a sealed one opened (op),
 * its text tested for the filter's literals, and only then parsed, built
 * and evaluated. */
static int list_eval_log(lwork_t *w, opener_t *op, const lstate_t *ls,
                         const char *v, size_t vl)
{
        scim_event_peek_t pk;
        const char *t;
        size_t tl = 0;
        int sealed = 0, hit;
        char *rj = NULL;
        json_t *r;

        if (scim_event_peek(v, vl, &pk) < 0) { /* another writer schema */
                r = list_item_from(w->st, w->tenant, w->rt, ls, w->as_of_ms, v,
                                   vl, w->dl);
                hit = r && scim_filter_match(w->filter, r);
                json_decref(r);
                return hit ? 1 : 2;
        }
        t = opener_text(op, &pk, &tl, &sealed);
        if (!t || !text_may_match(w, t, tl))
                return 2; /* no resource (erased, damaged), or no literal */
        if (sealed) {
                json_t *p = scim_json_load(t, tl);
                const char *s = json_string_value(json_object_get(p, "r"));

                rj = s ? strdup(s) : NULL;
                json_decref(p);
        } else {
                rj = strndup(t, tl);
        }
        r = rj ? list_item_done(w->st, w->tenant, w->rt, ls, event_res(rj))
               : NULL;
        hit = r && scim_filter_match(w->filter, r);
        json_decref(r);
        free(rj);
        return hit ? 1 : 2;
}

/* A user (or tenant type) candidate of a filtered list from the change
 * stream record v of its last applied write: 1 if it matches, 2 if not.
 * The text the fold stored (the record's "after", in clear: no seal to
 * open) is tested for the filter's literals, and only then parsed, built
 * and evaluated: sound, since an attribute the fold dropped is not in it
 * (its tail is tested first, without parsing: changes_stream_tail).
 * Without a stream record (v NULL, or no "after"), the event's. */
static int list_eval(lwork_t *w, opener_t *op, const lstate_t *ls,
                     const char *v, size_t vl)
{
        const char *a = NULL;
        size_t al = 0;
        json_t *r;
        int hit;

        /* the literals first, in the record from its first `,"after":{`
         * on (no parse): a superset of the "after" (see changes_stream_tail), so
         * sound to skip on; most records are never parsed or split */
        if (v && (a = changes_stream_tail(v, vl)) != NULL &&
            !text_may_match(w, a, (size_t)(v + vl - a)))
                return 2;
        if (!v || !changes_stream_after(v, vl, &a, &al)) {
                unsigned char k[8];
                size_t ll = 0;
                char *lv;

                scim_put_be64(k, ls->seq);
                lv = db_get(w->st, CF_LOG, (char *)k, 8, &ll);
                hit = lv ? list_eval_log(w, op, ls, lv, ll) : 2;
                free(lv);
                return hit;
        }
        if (!text_may_match(w, a, al))
                return 2;
        r = list_item_done(w->st, w->tenant, w->rt, ls, scim_json_load(a, al));
        hit = r && scim_filter_match(w->filter, r);
        json_decref(r);
        return hit ? 1 : 2;
}

#define LIST_CHUNK 256

/* (seq, candidate) pairs sorted by seq */
typedef struct lseq {
        uint64_t seq;
        size_t i;
} lseq_t;

static int lseq_cmp(const void *a, const void *b)
{
        uint64_t x = ((const lseq_t *)a)->seq, y = ((const lseq_t *)b)->seq;

        return x < y ? -1 : x > y;
}

static void *list_worker(void *arg)
{
        lwork_t *w = arg;
        const char *kp[LIST_CHUNK];
        char(*keys)[STREAM_KEY_MAX] = malloc(LIST_CHUNK * sizeof(*keys));
        size_t kl[LIST_CHUNK];
        rocksdb_pinnableslice_t *vals[LIST_CHUNK];
        char *errs[LIST_CHUNK];
        opener_t op;

        opener_init(&op, w->st, w->tenant);
        for (;;) { /* stream records: one sorted MultiGet per chunk */
                size_t i =
                    __atomic_fetch_add(&w->next, LIST_CHUNK, __ATOMIC_RELAXED);
                size_t end =
                    i + LIST_CHUNK < w->n_order ? i + LIST_CHUNK : w->n_order;

                if (i >= w->n_order || scim_deadline_check(w->dl))
                        break;
                for (size_t j = i; !keys && j < end; j++) { /* no memory */
                        json_t *r =
                            list_item(w->st, w->tenant, w->rt,
                                      &w->c[w->order[j]], w->as_of_ms, w->dl);

                        w->match[w->order[j]] =
                            r && scim_filter_match(w->filter, r) ? 1 : 2;
                        json_decref(r);
                }
                if (!keys)
                        continue;
                for (size_t j = i; j < end; j++) {
                        uint64_t seq = w->c[w->order[j]].seq;

                        if (w->events) {
                                scim_put_be64((unsigned char *)keys[j - i],
                                              seq);
                                kl[j - i] = 8;
                        } else {
                                kl[j - i] =
                                    stream_key(keys[j - i], w->tenant, seq);
                        }
                        kp[j - i] = keys[j - i];
                        vals[j - i] = NULL;
                        errs[j - i] = NULL;
                }
                rocksdb_batched_multi_get_cf(
                    w->st->db, w->st->ro,
                    w->st->cf[w->events ? CF_LOG : CF_STREAM], end - i, kp, kl,
                    vals, errs, 1);
                for (size_t j = i; j < end; j++) {
                        size_t vl = 0, c = w->order[j];
                        const char *v =
                            vals[j - i]
                                ? rocksdb_pinnableslice_value(vals[j - i], &vl)
                                : NULL;

                        if (w->events)
                                w->match[c] =
                                    v ? (unsigned char)list_eval_log(
                                            w, &op, &w->c[c], v, vl)
                                      : 2;
                        else
                                w->match[c] = (unsigned char)list_eval(
                                    w, &op, &w->c[c], v, vl);
                        rocksdb_pinnableslice_destroy(vals[j - i]);
                        free(errs[j - i]);
                }
        }
        for (;;) { /* the others, one by one */
                size_t i =
                    __atomic_fetch_add(&w->next2, LIST_CHUNK, __ATOMIC_RELAXED);
                size_t end = i + LIST_CHUNK < w->n ? i + LIST_CHUNK : w->n;

                if (i >= w->n || scim_deadline_check(w->dl))
                        break;
                for (; i < end; i++) {
                        json_t *r;

                        if (w->rt != SCIM_RT_GROUP && w->c[i].seq)
                                continue; /* the first loop's */
                        /* a group is a rebuild each: the flag every one */
                        if (scim_deadline_tick(w->dl, 1))
                                break;
                        r = list_item(w->st, w->tenant, w->rt, &w->c[i],
                                      w->as_of_ms, w->dl);
                        w->match[i] =
                            r && scim_filter_match(w->filter, r) ? 1 : 2;
                        if (w->keep && w->match[i] == 1)
                                w->keep[i] = r;
                        else
                                json_decref(r);
                }
        }
        opener_free(&op);
        free(keys);
        return NULL;
}

static int lstate_push(lstate_t **c, size_t *n, size_t *cap, const lstate_t *ls)
{
        if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 1024;
                lstate_t *x = realloc(*c, nc * sizeof(*x));

                if (!x)
                        return -1;
                *c = x;
                *cap = nc;
        }
        (*c)[(*n)++] = *ls;
        return 0;
}

/* One walk of part of the tenant's resource-history index: ids in
 * [lo, hi) (hi empty: to the end of the tenant), with the bases alongside;
 * every resource that existed at as_of_ms becomes a candidate. */
typedef struct lwalk {
        scim_store_t *st;
        const char *tenant;
        scim_rtype_t rt;
        int64_t as_of_ms;
        scim_buf_t lo, hi; /* full keys */
        lstate_t *c;
        size_t n, cap;
        int oom;
        scim_deadline_t *dl; /* the read's (NULL: none) */
} lwalk_t;

static void *list_walk(void *arg)
{
        lwalk_t *w = arg;
        scim_buf_t pre = {0}, bpre = {0};
        rocksdb_iterator_t *it, *bit;
        lstate_t ls;
        int have = 0;
        char want = (char)w->rt; /* 'U', 'G' or a tenant type's code */
        size_t steps = 0;

        changes_key_start(&pre, w->tenant, 'R');
        changes_key_start(&bpre, w->tenant, 'B');
        it = rocksdb_create_iterator_cf(w->st->db, w->st->ro,
                                        w->st->cf[CF_CHIDX]);
        bit = rocksdb_create_iterator_cf(w->st->db, w->st->ro,
                                         w->st->cf[CF_CHIDX]);
        /* bases from the same id on */
        scim_buf_append(&bpre, w->lo.data + pre.len, w->lo.len - pre.len);
        rocksdb_iter_seek(bit, bpre.data, bpre.len);
        memset(&ls, 0, sizeof(ls));
        rocksdb_iter_seek(it, w->lo.data, w->lo.len);
        for (;;) {
                size_t kl = 0, vl = 0, idl = 0;
                const char *k = NULL, *id = NULL;
                const unsigned char *rv = NULL;
                int valid = rocksdb_iter_valid(it), same;

                if (valid) {
                        k = rocksdb_iter_key(it, &kl);
                        if (kl < pre.len + 10 || memcmp(k, pre.data, pre.len))
                                valid = 0;
                        else if (w->hi.len) {
                                int c = memcmp(k, w->hi.data,
                                               kl < w->hi.len ? kl : w->hi.len);

                                if (c > 0 || (c == 0 && kl >= w->hi.len))
                                        valid = 0;
                        }
                }
                if (valid && scim_deadline_tick(w->dl, steps++)) {
                        json_decref(ls.base_attrs); /* the caller answers */
                        break;
                }
                if (valid) {
                        id = k + pre.len;
                        idl = kl - pre.len - 9;
                        rv = (const unsigned char *)rocksdb_iter_value(it, &vl);
                }
                same = valid && have && strlen(ls.id) == idl &&
                       !memcmp(ls.id, id, idl);
                if (have && !same) { /* ls.id is complete */
                        if (ls.exists) {
                                if (lstate_push(&w->c, &w->n, &w->cap, &ls) <
                                    0) {
                                        w->oom = 1;
                                        json_decref(ls.base_attrs);
                                        break;
                                }
                        } else {
                                json_decref(ls.base_attrs);
                        }
                        ls.base_attrs = NULL;
                        have = 0;
                }
                if (!valid)
                        break;
                if (!have) { /* a new id: its base, if retention left one */
                        memset(&ls, 0, sizeof(ls));
                        if (idl > SCIM_MAX_ID_LEN) {
                                rocksdb_iter_next(it);
                                continue;
                        }
                        memcpy(ls.id, id, idl);
                        ls.id[idl] = '\0';
                        have = 1;
                        /* the bases walk along in id order (no seek per
                         * id: most tenants have none) */
                        while (rocksdb_iter_valid(bit)) {
                                size_t bkl, bvl, bl;
                                const char *bk = rocksdb_iter_key(bit, &bkl);
                                int cmp;

                                if (bkl < pre.len ||
                                    memcmp(bk, bpre.data, pre.len))
                                        break; /* past the tenant's bases */
                                bl = bkl - pre.len;
                                cmp = memcmp(bk + pre.len, ls.id,
                                             bl < idl ? bl : idl);
                                if (cmp < 0 || (cmp == 0 && bl < idl)) {
                                        rocksdb_iter_next(bit);
                                        continue;
                                }
                                if (cmp == 0 && bl == idl) {
                                        const char *bv =
                                            rocksdb_iter_value(bit, &bvl);
                                        json_t *o = scim_json_load(bv, bvl);
                                        hstate_t base;

                                        hstate_init(&base);
                                        if (hstate_load(&base, o) == 0 &&
                                            base.exists &&
                                            base.rtype == w->rt) {
                                                ls.exists = 1;
                                                ls.version = base.version;
                                                ls.created_ms = base.created_ms;
                                                ls.last_ms = base.last_ms;
                                                ls.base_attrs =
                                                    json_incref(base.attrs);
                                        }
                                        hstate_free(&base);
                                        json_decref(o);
                                }
                                break;
                        }
                }
                if (vl == CHANGES_RVAL_LEN &&
                    changes_get_time(rv) <= w->as_of_ms) {
                        int64_t ms = changes_get_time(rv);

                        if (rv[8] == want) {
                                if (!ls.exists) {
                                        ls.version = 0;
                                        ls.created_ms = ms;
                                }
                                ls.exists = 1;
                                ls.version++;
                                ls.last_ms = ms;
                                ls.seq = scim_get_be64(
                                    (const unsigned char *)k + kl - 8);
                                json_decref(ls.base_attrs);
                                ls.base_attrs = NULL;
                        } else if (rv[8] == CHANGES_R_DELETE) {
                                ls.exists = 0;
                                ls.seq = 0;
                                json_decref(ls.base_attrs);
                                ls.base_attrs = NULL;
                        } else if (rv[8] == CHANGES_R_EFFECT && ls.exists) {
                                ls.version++;
                                ls.last_ms = ms;
                        }
                }
                rocksdb_iter_next(it);
        }
        rocksdb_iter_destroy(it);
        rocksdb_iter_destroy(bit);
        scim_buf_free(&pre);
        scim_buf_free(&bpre);
        return NULL;
}

/* A key between the tenant's first and last resource-history keys (their
 * bytewise average after the common prefix): the two halves' walks run
 * on two threads. 0 when there is no useful split. */
static int list_split(scim_store_t *st, const scim_buf_t *pre, scim_buf_t *mid)
{
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        scim_buf_t first = {0}, last = {0}, end = {0};
        int ok = 0;

        rocksdb_iter_seek(it, pre->data, pre->len);
        if (rocksdb_iter_valid(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                if (kl > pre->len && !memcmp(k, pre->data, pre->len))
                        scim_buf_append(&first, k, kl);
        }
        scim_buf_append(&end, pre->data, pre->len - 1);
        scim_buf_append(&end, "S", 1); /* 'R' + 1 */
        rocksdb_iter_seek_for_prev(it, end.data, end.len);
        if (rocksdb_iter_valid(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                if (kl > pre->len && !memcmp(k, pre->data, pre->len))
                        scim_buf_append(&last, k, kl);
        }
        if (first.len && last.len) {
                size_t n = first.len < last.len ? first.len : last.len, i = 0;

                while (i < n && first.data[i] == last.data[i])
                        i++;
                if (i < n) {
                        unsigned a = (unsigned char)first.data[i];
                        unsigned b = (unsigned char)last.data[i];
                        unsigned a2 = i + 1 < first.len
                                          ? (unsigned char)first.data[i + 1]
                                          : 0;
                        unsigned b2 = i + 1 < last.len
                                          ? (unsigned char)last.data[i + 1]
                                          : 0;
                        unsigned v = ((a << 8 | a2) + (b << 8 | b2)) / 2;
                        char m[2] = {(char)(v >> 8), (char)(v & 0xff)};

                        scim_buf_append(mid, first.data, i);
                        scim_buf_append(mid, m, 2);
                        ok = memcmp(mid->data, first.data,
                                    mid->len < first.len ? mid->len
                                                         : first.len) > 0;
                }
        }
        rocksdb_iter_destroy(it);
        scim_buf_free(&first);
        scim_buf_free(&last);
        scim_buf_free(&end);
        return ok;
}

/* The candidates of a Groups list whose filter needs member (see
 * scim_filter_member_value): the groups the member-history index says
 * held it at as_of_ms (memhist_groups), in the walk's order: groups with
 * records in id order, then those retention left bases only. 0 or -1. */
static int member_candidates(scim_store_t *st, const char *tenant,
                             const char *member, int64_t as_of_ms, lstate_t **c,
                             size_t *n, size_t *cap, scim_deadline_t *dl)
{
        char **ids = NULL;
        size_t nid = 0;
        int rc = memhist_groups(st, tenant, member, as_of_ms, &ids, &nid);
        unsigned char *hist = nid ? calloc(nid, 1) : NULL;

        if (nid && !hist)
                rc = -1;
        for (size_t i = 0; rc == 0 && i < nid; i++)
                if (scim_deadline_tick(dl, i))
                        rc = -1; /* the caller tells from dl */
                else
                        hist[i] = strlen(ids[i]) <= SCIM_MAX_ID_LEN &&
                                  changes_has_history(st, tenant, ids[i],
                                                      strlen(ids[i]));
        for (int pass = 1; rc == 0 && pass >= 0; pass--)
                for (size_t i = 0; rc == 0 && i < nid; i++) {
                        lstate_t ls;

                        if (hist[i] != pass || strlen(ids[i]) > SCIM_MAX_ID_LEN)
                                continue;
                        memset(&ls, 0, sizeof(ls));
                        memcpy(ls.id, ids[i], strlen(ids[i]) + 1);
                        ls.exists = 1;
                        rc = lstate_push(c, n, cap, &ls);
                }
        for (size_t i = 0; i < nid; i++)
                free(ids[i]);
        free(ids);
        free(hist);
        return rc;
}

int scim_changes_list_as_of(scim_store_t *st, const char *tenant,
                            scim_rtype_t rt, int64_t as_of_ms,
                            const scim_filter_t *filter, size_t start_index,
                            size_t count, scim_deadline_t *dl, size_t *total,
                            json_t **out, scim_err_t *err)
{
        scim_buf_t pre = {0}, bpre = {0}, mid = {0};
        rocksdb_iterator_t *bit = NULL;
        scim_changes_horizon_t hz;
        lwalk_t wk[2];
        lstate_t ls, *cands = NULL;
        size_t ncand = 0, capcand = 0, n = 0;
        unsigned char *match = NULL;
        size_t *order = NULL;
        json_t **keep = NULL;
        const char *member = NULL;
        int rc = 0, nw = 1;
        size_t steps = 0;

        *total = 0;
        *out = json_array();
        if (start_index < 1)
                start_index = 1;
        scim_changes_horizon(st, tenant, &hz);
        if (hz.through_ms && as_of_ms < hz.through_ms) {
                char ts[32];

                scim_time_format(hz.through_ms, ts);
                return scim_err_set(err, 410, NULL,
                                    "asOf is before this tenant's retained "
                                    "history (change records are kept from "
                                    "%s)",
                                    ts);
        }
        changes_key_start(&pre, tenant, 'R');
        memset(wk, 0, sizeof(wk));
        /* "which groups held U at T": the candidates are the groups the
         * member-history index names (memhist.c), built and filtered
         * below like the others */
        if (rt == SCIM_RT_GROUP &&
            (member = scim_filter_member_value(filter)) != NULL) {
                rc = member_candidates(st, tenant, member, as_of_ms, &cands,
                                       &ncand, &capcand, dl);
                if (rc < 0) {
                        if (scim_deadline_passed(dl))
                                over_time(err);
                        else
                                scim_err_set_retry(err, 503, "out of memory");
                        goto out;
                }
                goto filtered;
        }
        /* 1. walk the resource-history index, in two halves on two
         * threads when the machine has the cores */
        for (int i = 0; i < 2; i++) {
                wk[i].st = st;
                wk[i].tenant = tenant;
                wk[i].rt = rt;
                wk[i].as_of_ms = as_of_ms;
                wk[i].dl = dl;
        }
        scim_buf_append(&wk[0].lo, pre.data, pre.len);
        if (sysconf(_SC_NPROCESSORS_ONLN) > 1 && list_split(st, &pre, &mid)) {
                pthread_t thr;

                scim_buf_append(&wk[0].hi, mid.data, mid.len);
                scim_buf_append(&wk[1].lo, mid.data, mid.len);
                nw = 2;
                if (pthread_create(&thr, NULL, list_walk, &wk[1]) == 0) {
                        list_walk(&wk[0]);
                        pthread_join(thr, NULL);
                } else {
                        list_walk(&wk[0]);
                        list_walk(&wk[1]);
                }
        } else {
                list_walk(&wk[0]);
        }
        for (int i = 0; i < nw; i++) { /* in id order: the halves follow */
                for (size_t j = 0; j < wk[i].n; j++)
                        if (lstate_push(&cands, &ncand, &capcand, &wk[i].c[j]) <
                            0) {
                                json_decref(wk[i].c[j].base_attrs);
                                wk[i].oom = 1;
                        }
                free(wk[i].c);
                if (wk[i].oom)
                        rc = -1;
        }
        if (scim_deadline_passed(dl)) {
                rc = over_time(err);
                goto out;
        }
        if (rc < 0) {
                scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        /* resources all of whose records retention pruned: bases only
         * (after the others: such lists are not in strict id order) */
        changes_key_start(&bpre, tenant, 'B');
        bit = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        for (rocksdb_iter_seek(bit, bpre.data, bpre.len);
             rocksdb_iter_valid(bit); rocksdb_iter_next(bit)) {
                size_t bkl, bvl;
                const char *bk = rocksdb_iter_key(bit, &bkl);
                json_t *o;
                hstate_t base;

                if (bkl <= pre.len || memcmp(bk, bpre.data, pre.len))
                        break;
                if (scim_deadline_tick(dl, steps++)) {
                        rc = over_time(err);
                        goto out;
                }
                if (bkl - pre.len > SCIM_MAX_ID_LEN)
                        continue;
                if (changes_has_history(st, tenant, bk + pre.len,
                                        bkl - pre.len))
                        continue; /* handled with its records above */
                o = scim_json_load(rocksdb_iter_value(bit, &bvl), bvl);
                hstate_init(&base);
                if (o && hstate_load(&base, o) == 0 && base.exists &&
                    base.rtype == rt) {
                        memset(&ls, 0, sizeof(ls));
                        memcpy(ls.id, bk + pre.len, bkl - pre.len);
                        ls.exists = 1;
                        ls.version = base.version;
                        ls.created_ms = base.created_ms;
                        ls.last_ms = base.last_ms;
                        ls.base_attrs = json_incref(base.attrs);
                        if (lstate_push(&cands, &ncand, &capcand, &ls) < 0) {
                                json_decref(ls.base_attrs);
                                rc = scim_err_set_retry(err, 503,
                                                        "out of memory");
                        }
                }
                hstate_free(&base);
                json_decref(o);
                if (rc < 0)
                        goto out;
        }
filtered:
        /* 2. filtered: evaluate the candidates in parallel */
        if (filter && ncand) {
                lwork_t w;
                pthread_t thr[3];
                long cpus = sysconf(_SC_NPROCESSORS_ONLN);
                int nthr = cpus > 4 ? 3 : cpus > 1 ? (int)cpus - 1 : 0, started;

                memset(&w, 0, sizeof(w));
                w.st = st;
                w.tenant = tenant;
                w.rt = rt;
                w.as_of_ms = as_of_ms;
                w.filter = filter;
                w.c = cands;
                w.n = ncand;
                w.dl = dl;
                w.events = !store_model_ever(st, tenant);
                if (rt != SCIM_RT_GROUP)
                        w.nlit = scim_filter_needles(filter, w.lit, w.lit_len,
                                                     w.caseless, LIST_NEEDLES);
                for (int k = 0; k < w.nlit; k++)
                        w.any_caseless |= w.caseless[k];

                match = w.match = calloc(ncand, 1);
                order = w.order = calloc(ncand, sizeof(*order));
                /* few candidates (by the index): keep what matched */
                if (member)
                        keep = w.keep = calloc(ncand, sizeof(*keep));
                if (!w.match || !w.order || (member && !w.keep)) {
                        rc = scim_err_set_retry(err, 503, "out of memory");
                        goto out;
                }
                if (rt != SCIM_RT_GROUP) {
                        lseq_t *byseq = malloc(ncand * sizeof(*byseq));

                        if (!byseq) {
                                rc = scim_err_set_retry(err, 503,
                                                        "out of memory");
                                goto out;
                        }
                        for (size_t i = 0; i < ncand; i++)
                                if (cands[i].seq)
                                        byseq[w.n_order++] =
                                            (lseq_t){cands[i].seq, i};
                        qsort(byseq, w.n_order, sizeof(*byseq), lseq_cmp);
                        for (size_t i = 0; i < w.n_order; i++)
                                order[i] = byseq[i].i;
                        free(byseq);
                }
                if (ncand < 4 * LIST_CHUNK)
                        nthr = 0;
                for (started = 0; started < nthr; started++)
                        if (pthread_create(&thr[started], NULL, list_worker,
                                           &w) != 0)
                                break;
                list_worker(&w);
                for (int i = 0; i < started; i++)
                        pthread_join(thr[i], NULL);
                if (scim_deadline_passed(dl)) { /* matches incomplete */
                        rc = over_time(err);
                        goto out;
                }
        }
        /* 3. the page, in id order (unfiltered: every candidate counts) */
        for (size_t i = 0; i < ncand; i++) {
                if (match && match[i] != 1)
                        continue;
                n++;
                if (n >= start_index && json_array_size(*out) < count) {
                        json_t *r;

                        if (scim_deadline_tick(dl, json_array_size(*out))) {
                                rc = over_time(err);
                                goto out;
                        }
                        r = keep && keep[i]
                                ? keep[i]
                                : list_item(st, tenant, rt, &cands[i], as_of_ms,
                                            dl);

                        if (keep)
                                keep[i] = NULL;
                        if (r)
                                json_array_append_new(*out, r);
                }
        }
        if (scim_deadline_passed(dl)) /* a group's rebuild stopped */
                rc = over_time(err);
out:
        if (rc < 0) { /* nothing partial */
                json_array_clear(*out);
                n = 0;
        }
        for (size_t i = 0; keep && i < ncand; i++)
                json_decref(keep[i]);
        free(keep);
        free(match);
        free(order);
        for (size_t i = 0; i < ncand; i++)
                json_decref(cands[i].base_attrs);
        free(cands);
        if (bit)
                rocksdb_iter_destroy(bit);
        for (int i = 0; i < 2; i++) {
                scim_buf_free(&wk[i].lo);
                scim_buf_free(&wk[i].hi);
        }
        scim_buf_free(&pre);
        scim_buf_free(&bpre);
        scim_buf_free(&mid);
        *total = n;
        return rc;
}
