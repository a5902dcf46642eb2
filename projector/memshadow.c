/*
 * memshadow.c — replay's membership rows (column family `mem`) held whole
 * in memory, so the fold neither reads them from RocksDB nor writes each
 * version of them through a memtable.
 *
 * Replay into a dir whose `mem` family started empty (no log snapshot
 * restored) has one writer, the fold: every row is put and deleted by a
 * batch. The shadow holds every row any committed batch left (txn.c's
 * hot_commit applies each batch's `mem` writes once the batch is written),
 * so it answers the fold's point reads ("is U a member of G") and its
 * children lists (txn_children: the members of G, the groups holding U)
 * instead of a RocksDB Get or iterator, and the rows reach RocksDB only
 * when txn_hot_flush writes the dirty ones (before a scan of `mem`, before
 * a batch that reads tenant-wide rows, and at the end in an SST file). A
 * row added and removed between two flushes never reaches RocksDB. The
 * write-back of `res` and `idx` (txn.c) keeps a bounded cache instead;
 * membership rows are few and small (72k rows, ~7 MB at 1M events), and a
 * children list needs all of a parent's rows, which a cache that drops
 * entries cannot give.
 *
 * Bounded: past its budget (memsh_over) txn.c writes every dirty row and
 * drops the shadow; RocksDB then answers as before.
 *
 * A row: key `tenant \0 dir id \0 member` (its parent is the key up to the
 * second \0 after the direction byte, txn.c's mem_parent_len), value, and
 * whether it is present (a deleted row stays, dirty, until a flush writes
 * its tombstone or finds it was never written) and dirty (not in RocksDB
 * as it stands here).
 *
 * Threads: the fold thread only (replay's writer never touches it: a
 * batch's `mem` writes are skipped by txn_write, applied by hot_commit).
 */
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

typedef struct msh_row {
        struct msh_row *next; /* hash chain */
        struct msh_par *par;
        size_t pos; /* index in par->rows */
        uint64_t hash;
        int present, dirty, indb; /* indb: RocksDB may hold the key */
        char *val;                /* malloc'd (present) or NULL */
        size_t vlen, klen;
        char key[];
} msh_row_t;

typedef struct msh_par {
        struct msh_par *next;
        uint64_t hash;
        msh_row_t **rows; /* every row of the parent, unordered */
        size_t n, cap, plen;
        char prefix[];
} msh_par_t;

struct memshadow {
        msh_row_t **slots;
        size_t nslots, n;
        msh_par_t **pslots;
        size_t npslots, np;
        size_t bytes, cap; /* held, at most (memsh_over) */
};

memshadow_t *memsh_new(size_t cap)
{
        memshadow_t *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        m->nslots = 1024;
        m->npslots = 256;
        m->slots = calloc(m->nslots, sizeof(*m->slots));
        m->pslots = calloc(m->npslots, sizeof(*m->pslots));
        m->cap = cap;
        m->bytes = (m->nslots + m->npslots) * sizeof(void *);
        if (!m->slots || !m->pslots) {
                memsh_free(m);
                return NULL;
        }
        return m;
}

void memsh_free(memshadow_t *m)
{
        if (!m)
                return;
        for (size_t i = 0; m->slots && i < m->nslots; i++)
                for (msh_row_t *r = m->slots[i], *nx; r; r = nx) {
                        nx = r->next;
                        free(r->val);
                        free(r);
                }
        for (size_t i = 0; m->pslots && i < m->npslots; i++)
                for (msh_par_t *p = m->pslots[i], *nx; p; p = nx) {
                        nx = p->next;
                        free(p->rows);
                        free(p);
                }
        free(m->slots);
        free(m->pslots);
        free(m);
}

int memsh_over(const memshadow_t *m)
{
        return m && m->bytes > m->cap;
}

static msh_row_t *row_find(const memshadow_t *m, const char *k, size_t kl,
                           uint64_t h)
{
        for (msh_row_t *r = m->slots[h & (m->nslots - 1)]; r; r = r->next)
                if (r->hash == h && r->klen == kl && !memcmp(r->key, k, kl))
                        return r;
        return NULL;
}

static msh_par_t *par_find(memshadow_t *m, const char *p, size_t pl, int make)
{
        uint64_t h = store_key_hash(-2, p, pl);
        msh_par_t **slot, *e;

        for (e = m->pslots[h & (m->npslots - 1)]; e; e = e->next)
                if (e->hash == h && e->plen == pl && !memcmp(e->prefix, p, pl))
                        return e;
        if (!make)
                return NULL;
        if (m->np >= m->npslots) { /* grow: chains stay short */
                size_t ns = m->npslots * 2;
                msh_par_t **s = calloc(ns, sizeof(*s));

                if (s) {
                        for (size_t i = 0; i < m->npslots; i++)
                                for (msh_par_t *q = m->pslots[i], *nx; q;
                                     q = nx) {
                                        nx = q->next;
                                        q->next = s[q->hash & (ns - 1)];
                                        s[q->hash & (ns - 1)] = q;
                                }
                        free(m->pslots);
                        m->bytes += (ns - m->npslots) * sizeof(*s);
                        m->pslots = s;
                        m->npslots = ns;
                }
        }
        if (!(e = calloc(1, sizeof(*e) + pl)))
                abort(); /* the rows exist nowhere else */
        e->hash = h;
        e->plen = pl;
        memcpy(e->prefix, p, pl);
        slot = &m->pslots[h & (m->npslots - 1)];
        e->next = *slot;
        *slot = e;
        m->np++;
        m->bytes += sizeof(*e) + pl;
        return e;
}

int memsh_get(const memshadow_t *m, const char *k, size_t kl, uint64_t h,
              const char **v, size_t *vl)
{
        const msh_row_t *r = row_find(m, k, kl, h);

        if (!r || !r->present)
                return 0;
        *v = r->val;
        *vl = r->vlen;
        return 1;
}

/* Unlinks r from its hash chain and its parent's list, and frees it. */
static void row_drop(memshadow_t *m, msh_row_t *r)
{
        msh_row_t **pp = &m->slots[r->hash & (m->nslots - 1)];
        msh_par_t *p = r->par;

        while (*pp != r)
                pp = &(*pp)->next;
        *pp = r->next;
        p->rows[r->pos] = p->rows[--p->n];
        p->rows[r->pos]->pos = r->pos;
        m->n--;
        m->bytes -= sizeof(*r) + r->klen + r->vlen;
        free(r->val);
        free(r);
}

static void grow(memshadow_t *m)
{
        size_t ns = m->nslots * 2;
        msh_row_t **s = calloc(ns, sizeof(*s));

        if (!s)
                return; /* longer chains, still correct */
        for (size_t i = 0; i < m->nslots; i++)
                for (msh_row_t *r = m->slots[i], *nx; r; r = nx) {
                        nx = r->next;
                        r->next = s[r->hash & (ns - 1)];
                        s[r->hash & (ns - 1)] = r;
                }
        free(m->slots);
        m->bytes += (ns - m->nslots) * sizeof(*s);
        m->slots = s;
        m->nslots = ns;
}

void memsh_set(memshadow_t *m, const char *k, size_t kl, size_t pl, uint64_t h,
               const char *v, size_t vl)
{
        msh_row_t *r = row_find(m, k, kl, h);
        char *nv = NULL;

        if (!r && !v)
                return; /* absent and never written: nothing to note */
        if (v && (!(nv = malloc(vl ? vl : 1))))
                abort();
        if (v)
                memcpy(nv, v, vl);
        if (!r) {
                msh_par_t *p = par_find(m, k, pl, 1);

                if (m->n >= m->nslots)
                        grow(m);
                if (!(r = calloc(1, sizeof(*r) + kl)))
                        abort();
                r->hash = h;
                r->klen = kl;
                memcpy(r->key, k, kl);
                r->next = m->slots[h & (m->nslots - 1)];
                m->slots[h & (m->nslots - 1)] = r;
                if (p->n == p->cap) {
                        size_t cap = p->cap ? p->cap * 2 : 4;
                        msh_row_t **rows = realloc(p->rows, cap * sizeof(*rows));

                        if (!rows)
                                abort();
                        m->bytes += (cap - p->cap) * sizeof(*rows);
                        p->rows = rows;
                        p->cap = cap;
                }
                r->par = p;
                r->pos = p->n;
                p->rows[p->n++] = r;
                m->n++;
                m->bytes += sizeof(*r) + kl;
        }
        m->bytes = m->bytes - r->vlen + (v ? vl : 0);
        free(r->val);
        r->val = nv;
        r->vlen = v ? vl : 0;
        r->present = v != NULL;
        r->dirty = 1;
        if (!v && !r->indb)
                row_drop(m, r); /* never written: the absence is known */
}

void memsh_children(const memshadow_t *m, const char *p, size_t pl,
                    void (*fn)(void *ctx, const char *k, size_t kl),
                    void *ctx)
{
        msh_par_t *par = par_find((memshadow_t *)m, p, pl, 0);

        for (size_t i = 0; par && i < par->n; i++)
                if (par->rows[i]->present)
                        fn(ctx, par->rows[i]->key, par->rows[i]->klen);
}

/* A row's key, for keysort (bytewise, a key before the keys it is a
 * prefix of: the order SST files need). */
static void row_key(const void *p, int *cf, const char **k, size_t *kl)
{
        const msh_row_t *x = *(const msh_row_t *const *)p;

        *cf = 0; /* one column family */
        *k = x->key;
        *kl = x->klen;
}

size_t memsh_flush(memshadow_t *m,
                   void (*fn)(void *ctx, const char *k, size_t kl,
                              const char *v, size_t vl),
                   void *ctx)
{
        msh_row_t **d = malloc((m->n + 1) * sizeof(*d));
        size_t n = 0;

        if (!d)
                abort(); /* the rows exist nowhere else */
        for (size_t i = 0; i < m->nslots; i++)
                for (msh_row_t *r = m->slots[i]; r; r = r->next)
                        if (r->dirty)
                                d[n++] = r;
        (void)keysort(d, n, sizeof(*d), row_key); /* key order: SST files */
        for (size_t i = 0; i < n; i++) {
                msh_row_t *r = d[i];

                fn(ctx, r->key, r->klen, r->present ? r->val : NULL, r->vlen);
                r->dirty = 0;
                r->indb = 1;
                if (!r->present) /* its tombstone written */
                        row_drop(m, r);
        }
        free(d);
        return n;
}
