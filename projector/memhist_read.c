/*
 * memhist_read.c — the reader side of the member-history index: which
 * groups held member U at time T (memhist_groups), for asof.c's Groups
 * list when its filter names a member. The key layout, what each entry
 * means and why the last entry at or before T decides are in memhist.c
 * (the writer side, with the key codec both sides use).
 *
 * Threads: any thread; reads committed state through its own iterator.
 */
#include <stdlib.h>
#include <string.h>

#include "projector/changes_internal.h"

/* The states at T of the ids under one (key, group): usually one id,
 * NULL standing for the key itself. The array is reused group to group. */
typedef struct mstate {
        char *id; /* owned, or NULL */
        size_t idl;
        char sign;
} mstate_t;

typedef struct mgroup {
        mstate_t *s;
        size_t n, cap;
} mgroup_t;

static int mg_set(mgroup_t *g, const char *id, size_t idl, char sign)
{
        for (size_t i = 0; i < g->n; i++)
                if ((!id && !g->s[i].id) ||
                    (id && g->s[i].id && g->s[i].idl == idl &&
                     !memcmp(g->s[i].id, id, idl))) {
                        g->s[i].sign = sign;
                        return 0;
                }
        if (g->n == g->cap) {
                size_t nc = g->cap ? g->cap * 2 : 4;
                mstate_t *x = realloc(g->s, nc * sizeof(*x));

                if (!x)
                        return -1;
                g->s = x;
                g->cap = nc;
        }
        g->s[g->n].id = NULL;
        if (id && !(g->s[g->n].id = strndup(id, idl)))
                return -1;
        g->s[g->n].idl = idl;
        g->s[g->n++].sign = sign;
        return 0;
}

/* 1 if some id of the group was a member; empties it. */
static int mg_take(mgroup_t *g)
{
        int in = 0;

        for (size_t i = 0; i < g->n; i++) {
                in |= g->s[i].sign == '+';
                free(g->s[i].id);
        }
        g->n = 0;
        return in;
}

int memhist_groups(scim_store_t *st, const char *tenant, const char *member,
                   int64_t as_of_ms, char ***ids_out, size_t *n_out)
{
        scim_buf_t pre = {0}, cur = {0};
        rocksdb_iterator_t *it = NULL;
        char **ids = NULL;
        size_t n = 0, cap = 0, fo, fl;
        mgroup_t g = {0};
        int rc = -1, have = 0;

        *ids_out = NULL;
        *n_out = 0;
        if (memhist_prefix(&pre, tenant, member) < 0 || !pre.data)
                goto out;
        fo = strlen(tenant) + 2; /* the caseless key: pre.data + fo */
        fl = pre.len - fo - 1;
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        for (rocksdb_iter_seek(it, pre.data, pre.len);; rocksdb_iter_next(it)) {
                size_t kl = 0, vl = 0, gidl = 0, eidl = 0;
                const char *k = NULL, *v, *gid = NULL, *eid = NULL;
                uint64_t seq = 0;
                int kind = -1;

                if (rocksdb_iter_valid(it)) {
                        k = rocksdb_iter_key(it, &kl);
                        if (kl < pre.len || memcmp(k, pre.data, pre.len))
                                k = NULL;
                        else
                                kind =
                                    memhist_key_parse(k, kl, pre.len, &gid,
                                                      &gidl, &seq, &eid, &eidl);
                }
                if (have &&
                    (!k || (kind >= 0 && (cur.len != gidl ||
                                          memcmp(cur.data, gid, gidl))))) {
                        /* the group before is complete */
                        have = 0;
                        if (mg_take(&g)) {
                                if (n == cap) {
                                        size_t nc = cap ? cap * 2 : 16;
                                        char **x =
                                            realloc(ids, nc * sizeof(*x));

                                        if (!x)
                                                goto out;
                                        ids = x;
                                        cap = nc;
                                }
                                if (!(ids[n] = strndup(cur.data, cur.len)))
                                        goto out;
                                n++;
                        }
                }
                if (!k)
                        break;
                if (kind < 0)
                        continue;
                if (!have) {
                        cur.len = 0;
                        scim_buf_append(&cur, gid, gidl);
                        if (!cur.data)
                                goto out;
                        have = 1;
                }
                v = rocksdb_iter_value(it, &vl);
                if (kind == 1) { /* a base: (time id \0)... */
                        for (size_t p = 0; p + 8 < vl;) {
                                const char *id = v + p + 8;
                                const char *z = memchr(id, 0, vl - p - 8);
                                size_t idl;

                                if (!z)
                                        break;
                                idl = (size_t)(z - id);
                                p = (size_t)(z + 1 - v);
                                if (changes_get_time((const unsigned char *)id -
                                                     8) > as_of_ms)
                                        continue;
                                if (idl == fl && !memcmp(id, pre.data + fo, fl))
                                        id = NULL, idl = 0;
                                if (mg_set(&g, id, idl, '+') < 0)
                                        goto out;
                        }
                        continue;
                }
                if (vl != 9 ||
                    changes_get_time((const unsigned char *)v) > as_of_ms)
                        continue;
                if (mg_set(&g, eid, eidl, v[8]) < 0)
                        goto out;
        }
        rc = 0;
out:
        if (it)
                rocksdb_iter_destroy(it);
        mg_take(&g);
        free(g.s);
        if (rc < 0) {
                for (size_t i = 0; i < n; i++)
                        free(ids[i]);
                free(ids);
                ids = NULL;
                n = 0;
        }
        *ids_out = ids;
        *n_out = n;
        scim_buf_free(&pre);
        scim_buf_free(&cur);
        return rc;
}
