/*
 * memhist.c — the member-history index (issue 13 item 4, reverse
 * direction): "which groups held member U at time T" as one range scan,
 * instead of rebuilding every group of the tenant at T and filtering.
 *
 * Keys (column family chidx, written by the fold with the change record's
 * other index keys, in the live fold and in replay alike, so they are in
 * the digest):
 *   tenant \0 m key(U) \0 gid \0 seq [U] -> time sign
 *       one per (member, group) an applied event touched: sign '+' when
 *       U is a member of gid after the event, '-' when not; time the
 *       event's time (changes_put_time, what the resource-history index
 *       carries and asOf compares with T); key(U) U's caseless key
 *       (members.value is caseExact=false, so a filter on it compares
 *       caselessly); U itself ends the key only when it differs from
 *       key(U) (two ids with one caseless key stay apart, also when one
 *       event names both).
 *   tenant \0 m key(U) \0 gid \0         -> (time U \0)...
 *       the base retention leaves (retain.c prunes records): the ids with
 *       that key that were members of gid after the pruned records, each
 *       with the time of its last pruned add.
 *   tenant \0 n seq                      -> time (sign U \0 gid \0)...
 *       the entries record seq wrote, so pruning it finds them (the log
 *       before a snapshot may be gone; this does not need it).
 *
 * What an event writes is what asOf's reader (asof.c members_apply: a
 * replace clears, then removes, then adds) does to each id it names,
 * whatever the id's state before: added ids '+', removed ids '-', a
 * replace also '-' for the members the group had; a group's delete '-'
 * for its members; a member's delete '-' for the groups that held it
 * (changes_pre_t's holders, the change record's membershipEffects). Not
 * the change record's delta of what really changed (changes_member_delta):
 * asOf applies the events whose time is at most T, and when event times
 * are out of log order (an external producer's clock) an add the live
 * fold saw as a no-op is the add that makes U a member at T. The only
 * entries that depend on the live state are a replace's and a delete's
 * removals, and they name at most more ids than asOf removes; so the last
 * entry at or before T of (U, group) is '+' whenever U was a member at T
 * (never a missing group), and rarely '+' when not: the reader builds each
 * candidate at T anyway (asof.c) and evaluates the filter on it.
 *
 * Trade-off: one key per membership change (and one per event that
 * changes any) in exchange for an answer that reads U's entries only.
 *
 * This file is the writer side and the key codec; the reader
 * (memhist_groups) is memhist_read.c.
 *
 * Threads: memhist_record and memhist_prune run on the single writer
 * inside a fold transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "projector/changes_internal.h"

/* ------------------------------------------------------------ keys */

int memhist_fold(scim_buf_t *b, const char *id)
{
        char buf[256];
        size_t n = 0;
        char *f = scim_casefold_n(id, strlen(id), buf, sizeof(buf), &n);

        if (!f)
                return -1;
        scim_buf_append(b, f, n);
        if (f != buf)
                free(f);
        return 0;
}

int memhist_prefix(scim_buf_t *b, const char *tenant, const char *member)
{
        b->len = 0;
        changes_key_start(b, tenant, 'm');
        if (memhist_fold(b, member) < 0)
                return -1;
        scim_buf_append(b, "", 1);
        return 0;
}

int memhist_key(scim_buf_t *b, const char *tenant, const char *member,
                const char *gid, uint64_t seq, int base)
{
        unsigned char be[8];
        size_t fo = strlen(tenant) + 2, ml = strlen(member), fl;

        if (memhist_prefix(b, tenant, member) < 0 || !b->data)
                return -1;
        fl = b->len - fo - 1;
        scim_buf_append(b, gid, strlen(gid) + 1);
        if (!base) {
                scim_put_be64(be, seq);
                scim_buf_append(b, be, 8);
                /* U itself when its caseless key is not U */
                if (b->data && (fl != ml || memcmp(b->data + fo, member, ml)))
                        scim_buf_append(b, member, ml);
        }
        return b->data ? 0 : -1;
}

int memhist_key_parse(const char *k, size_t kl, size_t plen, const char **gid,
                      size_t *gidl, uint64_t *seq, const char **id, size_t *idl)
{
        const char *z;
        size_t rest;

        if (kl <= plen)
                return -1;
        z = memchr(k + plen, 0, kl - plen);
        if (!z || z == k + plen)
                return -1;
        *gid = k + plen;
        *gidl = (size_t)(z - (k + plen));
        rest = kl - (size_t)(z + 1 - k);
        if (rest == 0)
                return 1; /* a base */
        if (rest < 8)
                return -1;
        *seq = scim_get_be64((const unsigned char *)z + 1);
        *id = rest > 8 ? z + 9 : NULL;
        *idl = rest - 8;
        return 0;
}

/* ---------------------------------------------------------- writer */

typedef struct mh {
        txn_t *t;
        const char *tenant;
        uint64_t seq;
        unsigned char tv[8]; /* the event's time */
        scim_buf_t key, val, list;
} mh_t;

/* One entry: member mid of group gid is (sign '+') or is not ('-') a
 * member after the event. */
static void mh_put(mh_t *m, const char *mid, const char *gid, char sign)
{
        size_t kl;

        if (!mid || !*mid || !gid || !*gid || strlen(mid) > SCIM_MAX_ID_LEN)
                return;
        if (memhist_key(&m->key, m->tenant, mid, gid, m->seq, 0) < 0)
                return;
        kl = m->key.len;
        m->val.len = 0;
        scim_buf_append(&m->val, m->tv, 8);
        scim_buf_append(&m->val, &sign, 1);
        if (!m->val.data)
                return;
        txn_append(m->t, CF_CHIDX, m->key.data, kl, m->val.data, m->val.len);
        scim_buf_append(&m->list, &sign, 1);
        scim_buf_append(&m->list, mid, strlen(mid) + 1);
        scim_buf_append(&m->list, gid, strlen(gid) + 1);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ids[0..n) (no NULL) sorted, duplicates dropped; returns the new n. */
static size_t sort_unique(const char **ids, size_t n)
{
        size_t w = 0;

        if (n > 1)
                qsort(ids, n, sizeof(*ids), cmp_str);
        for (size_t i = 0; i < n; i++) {
                if (w && !strcmp(ids[w - 1], ids[i]))
                        continue;
                ids[w++] = ids[i];
        }
        return w;
}

static int in_sorted(const char **ids, size_t n, const char *id)
{
        return n && bsearch(&id, ids, n, sizeof(*ids), cmp_str) != NULL;
}

void memhist_record(txn_t *t, uint64_t seq, const scim_event_t *ev,
                    const scim_verdict_t *v, const changes_pre_t *pre)
{
        mh_t m;
        const char **add = NULL, **rem = NULL;
        size_t na = 0, nr = 0;
        int applied = v->status > 0 && v->status < 400;

        if (!applied || !pre || !ev || !ev->tenant || !ev->resource_id ||
            !*ev->resource_id || strlen(ev->resource_id) > SCIM_MAX_ID_LEN)
                return;
        if (ev->action == SCIM_ACT_DELETE
                ? !json_array_size(pre->holders) &&
                      !(ev->rtype == SCIM_RT_GROUP &&
                        json_object_size(pre->old_members))
                : ev->rtype != SCIM_RT_GROUP ||
                      (ev->action != SCIM_ACT_CREATE &&
                       ev->action != SCIM_ACT_REPLACE &&
                       ev->action != SCIM_ACT_PATCH) ||
                      (!ev->n_added && !ev->n_removed && !ev->members_replace))
                return;
        memset(&m, 0, sizeof(m));
        m.t = t;
        m.tenant = ev->tenant;
        m.seq = seq;
        changes_put_time(m.tv, ev->time_ms);
        scim_buf_append(&m.list, m.tv, 8);
        if (ev->action == SCIM_ACT_DELETE) {
                json_t *g;
                const char *mid;
                size_t i;

                /* the deleted resource leaves the groups that held it */
                json_array_foreach(pre->holders, i, g)
                {
                        mh_put(&m, ev->resource_id, json_string_value(g), '-');
                }
                /* a deleted group's members leave it */
                if (ev->rtype == SCIM_RT_GROUP) {
                        json_object_foreach(pre->old_members, mid, g)
                        {
                                mh_put(&m, mid, ev->resource_id, '-');
                        }
                }
                goto done;
        }
        add = calloc(ev->n_added + 1, sizeof(*add));
        rem = calloc(ev->n_removed + 1, sizeof(*rem));
        if (!add || !rem)
                goto out;
        for (size_t i = 0; i < ev->n_added; i++)
                if (ev->added[i].value)
                        add[na++] = ev->added[i].value;
        na = sort_unique(add, na);
        for (size_t i = 0; i < ev->n_removed; i++)
                if (ev->removed[i])
                        rem[nr++] = ev->removed[i];
        nr = sort_unique(rem, nr);
        if (ev->members_replace) {
                const char *mid;
                json_t *x;

                /* the replace clears: every member it does not add */
                json_object_foreach(pre->old_members, mid, x)
                {
                        if (!in_sorted(add, na, mid))
                                mh_put(&m, mid, ev->resource_id, '-');
                }
        }
        for (size_t i = 0; i < nr; i++)
                if (!in_sorted(add, na, rem[i]) &&
                    !(ev->members_replace &&
                      json_object_get(pre->old_members, rem[i])))
                        mh_put(&m, rem[i], ev->resource_id, '-');
        for (size_t i = 0; i < na; i++)
                mh_put(&m, add[i], ev->resource_id, '+');
done:
        if (m.list.len > 8 && m.list.data) {
                unsigned char be[8];

                m.key.len = 0;
                changes_key_start(&m.key, ev->tenant, 'n');
                scim_put_be64(be, seq);
                scim_buf_append(&m.key, be, 8);
                if (m.key.data)
                        txn_append(t, CF_CHIDX, m.key.data, m.key.len,
                                   m.list.data, m.list.len);
        }
out:
        free(add);
        free(rem);
        scim_buf_free(&m.key);
        scim_buf_free(&m.val);
        scim_buf_free(&m.list);
}

/* --------------------------------------------------------- pruning */

/* The base of (mid's key, gid) after one more pruned entry of mid: an add
 * sets mid's time in it, a removal drops mid; an empty base is deleted. */
static void base_fold(txn_t *t, const scim_buf_t *bkey, const char *mid,
                      char sign, const unsigned char tv[8])
{
        size_t vl = 0, ml = strlen(mid);
        char *v = txn_get(t, CF_CHIDX, bkey->data, bkey->len, &vl);
        scim_buf_t nv = {0};

        /* the other ids' records, as they were */
        for (size_t p = 0; v && p + 8 < vl;) {
                const char *id = v + p + 8;
                const char *z = memchr(id, 0, vl - p - 8);
                size_t rl;

                if (!z)
                        break;
                rl = (size_t)(z + 1 - (v + p));
                if ((size_t)(z - id) != ml || memcmp(id, mid, ml))
                        scim_buf_append(&nv, v + p, rl);
                p += rl;
        }
        if (sign == '+') {
                scim_buf_append(&nv, tv, 8);
                scim_buf_append(&nv, mid, ml + 1);
        }
        if (nv.len && nv.data)
                txn_put(t, CF_CHIDX, bkey->data, bkey->len, nv.data, nv.len);
        else if (v)
                txn_del(t, CF_CHIDX, bkey->data, bkey->len);
        free(v);
        scim_buf_free(&nv);
}

void memhist_prune(txn_t *t, const char *tenant, uint64_t seq)
{
        scim_buf_t nk = {0}, key = {0};
        unsigned char be[8];
        size_t vl = 0;
        char *v;

        changes_key_start(&nk, tenant, 'n');
        scim_put_be64(be, seq);
        scim_buf_append(&nk, be, 8);
        v = txn_get_any(t, CF_CHIDX, nk.data, nk.len, &vl);
        /* time, then (sign mid \0 gid \0)... */
        for (size_t p = 8; v && vl > 8 && p < vl;) {
                char sign = v[p];
                const char *mid = v + p + 1, *gid, *z;

                z = p + 1 < vl ? memchr(mid, 0, vl - p - 1) : NULL;
                if (!z || (size_t)(z + 1 - v) >= vl)
                        break;
                gid = z + 1;
                z = memchr(gid, 0, vl - (size_t)(gid - v));
                if (!z)
                        break;
                p = (size_t)(z + 1 - v);
                if (memhist_key(&key, tenant, mid, gid, seq, 0) < 0)
                        continue;
                /* the entry goes; what it said goes into the base */
                txn_del(t, CF_CHIDX, key.data, key.len);
                if (memhist_key(&key, tenant, mid, gid, 0, 1) == 0)
                        base_fold(t, &key, mid, sign, (const unsigned char *)v);
        }
        if (v)
                txn_del(t, CF_CHIDX, nk.data, nk.len);
        free(v);
        scim_buf_free(&nk);
        scim_buf_free(&key);
}
