/*
 * retain.c — change-record retention (issue 12 item 7). A tenant's
 * retention is tenant state set by a TENANT_UPDATE event; pruning is done
 * by the fold of TENANT_UPDATE events too (the server appends
 * {"prune": true} when scim_changes_prune_due says so), so which records
 * are gone is a function of the log: a replay prunes the same ones and the
 * digests agree.
 *
 * Keys (column family chidx):
 *   tenant \0 P                 -> retention_ms, through_ms, through_seq,
 *                                  pruned (4 x 8 bytes, big-endian; times
 *                                  as changes_put_time)
 *   tenant \0 B id              -> hstate_dump of what the pruned records
 *                                  of resource id did (asOf starts there)
 *
 * A pruned record takes with it: its `change` row, its time and
 * resource index keys (and those of the groups a deleted member left), its
 * change stream record; its member-history entries go into their bases
 * (memhist.c). The hourly counters stay (summaries keep counting
 * older periods). The log itself is not touched here: see snapshot.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/changes_internal.h"

#define DAY_MS 86400000LL

static void hz_key(scim_buf_t *b, const char *tenant)
{
        b->len = 0;
        scim_buf_append(b, tenant, strlen(tenant) + 1);
        scim_buf_append(b, "P", 1);
}

static void hz_decode(const char *v, size_t vl, scim_changes_horizon_t *h)
{
        memset(h, 0, sizeof(*h));
        if (!v || vl != 32)
                return;
        h->retention_ms = (int64_t)scim_get_be64((const unsigned char *)v);
        h->through_ms = changes_get_time((const unsigned char *)v + 8);
        h->through_seq = scim_get_be64((const unsigned char *)v + 16);
        h->pruned = scim_get_be64((const unsigned char *)v + 24);
        if (!h->pruned)
                h->through_ms = 0;
}

static void hz_put(txn_t *t, const char *tenant,
                   const scim_changes_horizon_t *h)
{
        scim_buf_t k = {0};
        unsigned char v[32];

        hz_key(&k, tenant);
        scim_put_be64(v, (uint64_t)h->retention_ms);
        changes_put_time(v + 8, h->through_ms);
        scim_put_be64(v + 16, h->through_seq);
        scim_put_be64(v + 24, h->pruned);
        txn_put(t, CF_CHIDX, k.data, k.len, (char *)v, sizeof(v));
        scim_buf_free(&k);
}

static void hz_get_txn(txn_t *t, const char *tenant,
                       scim_changes_horizon_t *h)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;

        hz_key(&k, tenant);
        v = txn_get(t, CF_CHIDX, k.data, k.len, &vl);
        hz_decode(v, vl, h);
        free(v);
        scim_buf_free(&k);
}

void scim_changes_horizon(scim_store_t *st, const char *tenant,
                          scim_changes_horizon_t *out)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;

        hz_key(&k, tenant);
        v = db_get(st, CF_CHIDX, k.data, k.len, &vl);
        hz_decode(v, vl, out);
        free(v);
        scim_buf_free(&k);
}

void changes_retention_set(txn_t *t, const char *tenant, int64_t retention_ms)
{
        scim_changes_horizon_t h;

        hz_get_txn(t, tenant, &h);
        h.retention_ms = retention_ms;
        hz_put(t, tenant, &h);
}

/* ------------------------------------------------------------ prune */

typedef struct keys {
        char **k;
        size_t want, n, cap; /* want: the length of every key kept */
} keys_t;

static void keys_add(void *ctx, const char *k, size_t kl)
{
        keys_t *l = ctx;

        if (kl != l->want)
                return;
        if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 256;
                char **nk = realloc(l->k, cap * sizeof(*nk));

                if (!nk)
                        abort();
                l->k = nk;
                l->cap = cap;
        }
        if (!(l->k[l->n] = malloc(kl)))
                abort();
        memcpy(l->k[l->n++], k, kl);
}

/* keys of one tenant's time index: all l->want bytes long */
static int key_cmp(const void *a, const void *b, void *ctx)
{
        const char *const *x = a, *const *y = b;

        return memcmp(*x, *y, *(const size_t *)ctx);
}

/* The resource's base in the cache `bases` (id -> hstate_dump), loaded
 * from the batch/database the first time. */
static json_t *base_get(txn_t *t, json_t *bases, const char *tenant,
                        const char *id)
{
        json_t *b = json_object_get(bases, id);
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;

        if (b)
                return b;
        changes_base_key(&k, tenant, id);
        v = txn_get(t, CF_CHIDX, k.data, k.len, &vl);
        b = v ? scim_json_load(v, vl) : NULL;
        free(v);
        scim_buf_free(&k);
        if (!json_is_object(b)) {
                hstate_t h;

                json_decref(b);
                hstate_init(&h);
                b = hstate_dump(&h);
                hstate_free(&h);
        }
        json_object_set_new(bases, id, b);
        return b;
}

static void del_r(txn_t *t, scim_buf_t *k, const char *tenant, const char *id,
                  uint64_t seq)
{
        unsigned char be[8];

        if (!id || !*id || strlen(id) > SCIM_MAX_ID_LEN)
                return;
        k->len = 0;
        scim_buf_append(k, tenant, strlen(tenant) + 1);
        scim_buf_append(k, "R", 1);
        scim_buf_append(k, id, strlen(id) + 1);
        scim_put_be64(be, seq);
        scim_buf_append(k, be, 8);
        txn_del(t, CF_CHIDX, k->data, k->len);
}

static int64_t meta_ms(const json_t *meta, const char *k, int64_t dflt)
{
        const char *s = json_string_value(json_object_get(meta, k));
        int64_t ms;

        return s && scim_time_parse(s, &ms) == 0 ? ms : dflt;
}

/* Folds what the applied event at seq did to resource id into its base,
 * from its change stream record (the state after it, or a tombstone, and
 * the membership delta): the same in a live store and in one replayed
 * from a log snapshot, where the log before the snapshot is gone. */
static void base_apply(txn_t *t, json_t *bases, const char *tenant,
                       const char *id, uint64_t seq)
{
        scim_buf_t k = {0};
        unsigned char be[8];
        size_t vl = 0;
        char *v;
        json_t *rec, *after, *meta, *delta, *e;
        const char *ver;
        hstate_t h;
        int64_t ms;
        size_t i;

        scim_buf_append(&k, tenant, strlen(tenant) + 1);
        scim_put_be64(be, seq);
        scim_buf_append(&k, be, 8);
        v = txn_get(t, CF_STREAM, k.data, k.len, &vl);
        scim_buf_free(&k);
        rec = v ? scim_json_load(v, vl) : NULL;
        free(v);
        if (!json_is_true(json_object_get(rec, "applied"))) {
                json_decref(rec);
                return;
        }
        hstate_init(&h);
        hstate_load(&h, base_get(t, bases, tenant, id));
        ms = 0;
        scim_time_parse(json_string_value(json_object_get(rec, "time"))
                            ? json_string_value(json_object_get(rec, "time"))
                            : "",
                        &ms);
        if (json_is_true(json_object_get(rec, "tombstone"))) {
                h.exists = 0;
                h.version = 0;
                h.deleted_ms = ms;
                h.last_ms = ms;
                json_decref(h.attrs);
                h.attrs = NULL;
                json_object_clear(h.members);
        } else if (json_is_object(after = json_object_get(rec, "after"))) {
                const char *rt =
                    json_string_value(json_object_get(rec, "resourceType"));

                meta = json_object_get(after, "meta");
                h.rtype = rt && !strcmp(rt, "Group") ? SCIM_RT_GROUP
                                                     : SCIM_RT_USER;
                if (rt && strcmp(rt, "Group") && strcmp(rt, "User")) {
                        /* a tenant type: its storage code (none: the type
                         * is gone from the definition, and so is its
                         * asOf route; no base) */
                        scim_model_t *m = txn_model(t, tenant);
                        const scim_rtype_row_t *row =
                            scim_model_rtype_by_name(m, rt);

                        if (row)
                                h.rtype = row->code;
                        scim_model_unref(m);
                        if (!row) {
                                hstate_free(&h);
                                json_decref(rec);
                                return;
                        }
                }
                h.exists = 1;
                h.deleted_ms = 0;
                h.created_ms = meta_ms(meta, "created", ms);
                h.last_ms = meta_ms(meta, "lastModified", ms);
                ver = json_string_value(json_object_get(meta, "version"));
                if (ver && !strncmp(ver, "W/\"", 3))
                        h.version = strtoll(ver + 3, NULL, 10);
                json_decref(h.attrs);
                h.attrs = json_deep_copy(after);
                json_object_del(h.attrs, "id");
                json_object_del(h.attrs, "meta");
                delta = json_object_get(rec, "members");
                if (json_is_true(json_object_get(delta, "replaced")))
                        json_object_clear(h.members);
                json_array_foreach(json_object_get(delta, "removed"), i, e)
                    if (json_is_string(e))
                        json_object_del(h.members, json_string_value(e));
                json_array_foreach(json_object_get(delta, "added"), i, e)
                {
                        const char *mid =
                            json_string_value(json_object_get(e, "value"));
                        json_t *m = json_object();

                        if (!mid) {
                                json_decref(m);
                                continue;
                        }
                        if (json_object_get(e, "display"))
                                json_object_set(m, "display",
                                                json_object_get(e, "display"));
                        json_object_set_new(h.members, mid, m);
                }
        }
        json_object_set_new(bases, id, hstate_dump(&h));
        hstate_free(&h);
        json_decref(rec);
}

/* A deleted member left group gid (record rec): its version went up, and
 * the member is no longer one (were its id created again before the
 * horizon, the base would otherwise still list it). */
static void base_bump(txn_t *t, json_t *bases, const char *tenant,
                      const char *gid, const json_t *rec)
{
        const char *tm = json_string_value(json_object_get(rec, "time"));
        const char *mid = json_string_value(json_object_get(rec, "id"));
        int64_t ms;
        hstate_t h;

        if (!tm || scim_time_parse(tm, &ms) < 0)
                return;
        hstate_init(&h);
        hstate_load(&h, base_get(t, bases, tenant, gid));
        hstate_bump(&h, ms);
        if (mid)
                json_object_del(h.members, mid);
        json_object_set_new(bases, gid, hstate_dump(&h));
        hstate_free(&h);
}

size_t changes_prune(txn_t *t, const char *tenant, int64_t now_ms,
                     size_t budget)
{
        scim_changes_horizon_t h;
        scim_buf_t pre = {0}, lim = {0}, k = {0};
        keys_t l = {0};
        json_t *bases;
        size_t done = 0, tl = strlen(tenant);
        unsigned char x[8];

        hz_get_txn(t, tenant, &h);
        if (h.retention_ms <= 0 || budget == 0)
                return 0;
        scim_buf_append(&pre, tenant, tl + 1);
        scim_buf_append(&pre, "T", 1);
        scim_buf_append(&lim, pre.data, pre.len);
        changes_put_time(x, now_ms - h.retention_ms);
        scim_buf_append(&lim, x, 8);
        l.want = pre.len + 16;
        txn_scan_below(t, CF_CHIDX, pre.data, pre.len, lim.data, lim.len,
                       budget, keys_add, &l);
        if (l.n > 1)
                qsort_r(l.k, l.n, sizeof(*l.k), key_cmp, &l.want);
        bases = json_object();
        for (size_t i = 0; i < l.n && done < budget; i++) {
                const unsigned char *kk = (const unsigned char *)l.k[i];
                int64_t itime;
                uint64_t seq;
                size_t vl = 0;
                char *rv;
                json_t *rec, *fx, *e;
                const char *id, *rtn;
                size_t j;

                itime = changes_get_time(kk + pre.len);
                seq = scim_get_be64(kk + pre.len + 8);
                rv = txn_get_any(t, CF_CHANGE, (char *)kk + pre.len + 8, 8,
                                 &vl);
                rec = rv ? scim_json_load(rv, vl) : NULL;
                free(rv);
                id = json_string_value(json_object_get(rec, "id"));
                rtn = json_string_value(json_object_get(rec, "resourceType"));
                /* the record and its keys */
                txn_del(t, CF_CHANGE, (char *)kk + pre.len + 8, 8);
                txn_del(t, CF_CHIDX, l.k[i], l.want);
                del_r(t, &k, tenant, id, seq);
                fx = json_object_get(rec, "membershipEffects");
                json_array_foreach(fx, j, e)
                {
                        const char *gid =
                            json_string_value(json_object_get(e, "group"));

                        del_r(t, &k, tenant, gid, seq);
                        if (gid && *gid)
                                base_bump(t, bases, tenant, gid, rec);
                }
                memhist_prune(t, tenant, seq); /* its member-history keys */
                /* what it did to its resource goes into the base */
                if (id && *id && rtn && /* users, groups, tenant types */
                    json_string_value(json_object_get(rec, "verdict")) &&
                    !strcmp(json_string_value(json_object_get(rec, "verdict")),
                            "applied"))
                        base_apply(t, bases, tenant, id, seq);
                k.len = 0;
                scim_buf_append(&k, tenant, tl + 1);
                scim_put_be64(x, seq);
                scim_buf_append(&k, x, 8);
                txn_del(t, CF_STREAM, k.data, k.len);
                if (itime > h.through_ms || !h.pruned)
                        h.through_ms = itime;
                if (seq > h.through_seq)
                        h.through_seq = seq;
                h.pruned++;
                done++;
                json_decref(rec);
        }
        {
                const char *id;
                json_t *b;

                json_object_foreach(bases, id, b)
                {
                        char *txt = scim_json_dumps(b);

                        changes_base_key(&k, tenant, id);
                        if (txt)
                                txn_put(t, CF_CHIDX, k.data, k.len, txt,
                                        strlen(txt));
                        free(txt);
                }
        }
        if (done)
                hz_put(t, tenant, &h);
        json_decref(bases);
        for (size_t i = 0; i < l.n; i++)
                free(l.k[i]);
        free(l.k);
        scim_buf_free(&pre);
        scim_buf_free(&lim);
        scim_buf_free(&k);
        return done;
}

/* ----------------------------------------------------- TENANT_UPDATE */

void fold_tenant_update(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        size_t vl = 0;
        char *row = txn_get(t, CF_TENANT, ev->tenant, strlen(ev->tenant), &vl);
        json_t *rec = row ? scim_json_load(row, vl) : NULL;
        json_t *in = ev->admin_json ? scim_json_load(ev->admin_json,
                                                     strlen(ev->admin_json))
                                    : NULL;
        const char *key;
        json_t *val, *days, *secs;
        char *txt;

        free(row);
        if (!rec) {
                refuse(v, 404, NULL, "tenant '%.64s' does not exist",
                       ev->tenant);
                goto out;
        }
        if (!json_is_object(in)) {
                refuse(v, 400, "invalidSyntax",
                       "tenant settings are a JSON object%s", "");
                goto out;
        }
        json_object_foreach(in, key, val)
        {
                if (strcmp(key, "changeRetentionDays") &&
                    strcmp(key, "changeRetentionSeconds") &&
                    strcmp(key, "prune")) {
                        refuse(v, 400, "invalidValue",
                               "unknown tenant setting '%.64s' (settings: "
                               "changeRetentionDays, changeRetentionSeconds, "
                               "prune)",
                               key);
                        goto out;
                }
        }
        val = json_object_get(in, "prune");
        if (val && !json_is_boolean(val)) {
                refuse(v, 400, "invalidValue", "prune is true or false%s", "");
                goto out;
        }
        days = json_object_get(in, "changeRetentionDays");
        secs = json_object_get(in, "changeRetentionSeconds");
        if (days && secs) {
                refuse(v, 400, "invalidValue",
                       "give changeRetentionDays or changeRetentionSeconds, "
                       "not both%s",
                       "");
                goto out;
        }
        if ((days && !json_is_null(days) &&
             (!json_is_integer(days) || json_integer_value(days) < 0 ||
              json_integer_value(days) > SCIM_RETAIN_MAX_DAYS)) ||
            (secs && !json_is_null(secs) &&
             (!json_is_integer(secs) || json_integer_value(secs) < 0 ||
              json_integer_value(secs) > SCIM_RETAIN_MAX_DAYS * 86400LL))) {
                refuse(v, 400, "invalidValue",
                       "%s is a whole number from 1 to %lld, or 0 or null to "
                       "keep change records for ever",
                       days ? "changeRetentionDays" : "changeRetentionSeconds",
                       days ? (long long)SCIM_RETAIN_MAX_DAYS
                            : (long long)SCIM_RETAIN_MAX_DAYS * 86400LL);
                goto out;
        }
        if (days || secs) {
                int64_t ms = days && json_is_integer(days)
                                 ? (int64_t)json_integer_value(days) * DAY_MS
                             : secs && json_is_integer(secs)
                                 ? (int64_t)json_integer_value(secs) * 1000
                                 : 0;

                changes_retention_set(t, ev->tenant, ms);
                json_object_del(rec, "changeRetentionDays");
                json_object_del(rec, "changeRetentionSeconds");
                if (ms)
                        json_object_set_new(rec, "changeRetentionSeconds",
                                            json_integer(ms / 1000));
                txt = scim_json_dumps(rec);
                if (txt)
                        txn_put(t, CF_TENANT, ev->tenant, strlen(ev->tenant),
                                txt, strlen(txt));
                free(txt);
        }
        changes_prune(t, ev->tenant, ev->time_ms, SCIM_RETAIN_BUDGET);
        v->status = 200;
out:
        json_decref(in);
        json_decref(rec);
}

/* ------------------------------------------------------------ due */

void changes_each_oldest(scim_store_t *st,
                         void (*fn)(void *ctx, const char *tenant,
                                    int64_t itime, uint64_t seq),
                         void *ctx)
{
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_TENANT]);
        rocksdb_iterator_t *ti =
            rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        scim_buf_t k = {0};

        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, tkl;
                const char *key = rocksdb_iter_key(it, &kl), *tk;
                char name[SCIM_MAX_TENANT_LEN + 1];

                if (kl == 0 || kl > SCIM_MAX_TENANT_LEN || memchr(key, 0, kl))
                        continue; /* token rows: tenant \0 T id */
                memcpy(name, key, kl);
                name[kl] = '\0';
                k.len = 0;
                scim_buf_append(&k, name, kl + 1);
                scim_buf_append(&k, "T", 1);
                rocksdb_iter_seek(ti, k.data, k.len);
                if (!rocksdb_iter_valid(ti))
                        continue;
                tk = rocksdb_iter_key(ti, &tkl);
                if (tkl == k.len + 16 && !memcmp(tk, k.data, k.len))
                        fn(ctx, name,
                           changes_get_time((const unsigned char *)tk + k.len),
                           scim_get_be64((const unsigned char *)tk + k.len +
                                         8));
        }
        rocksdb_iter_destroy(ti);
        rocksdb_iter_destroy(it);
        scim_buf_free(&k);
}

typedef struct due {
        scim_store_t *st;
        int64_t now_ms;
        json_t *out;
} due_t;

static void due_one(void *ctx, const char *tenant, int64_t itime,
                    uint64_t seq)
{
        due_t *d = ctx;
        scim_changes_horizon_t h;

        (void)seq;
        scim_changes_horizon(d->st, tenant, &h);
        if (h.retention_ms > 0 && itime < d->now_ms - h.retention_ms)
                json_array_append_new(d->out, json_string(tenant));
}

json_t *scim_changes_prune_due(scim_store_t *st, int64_t now_ms)
{
        due_t d = {st, now_ms, json_array()};

        changes_each_oldest(st, due_one, &d);
        return d.out;
}
