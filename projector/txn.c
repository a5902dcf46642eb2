/*
 * txn.c — the fold transaction: a plain RocksDB WriteBatch built at commit
 * from an in-memory overlay that answers the fold's read-your-own-batch
 * lookups.
 *
 * Why not WriteBatchWithIndex: profiles of replay and of the durable POST
 * path showed half the time in its skiplist (every put and every read of the
 * batch compares keys through it), while the fold reads back only a few of
 * the keys it writes. The overlay is a hash table (cf, key) -> latest value
 * or tombstone, which also
 *  - caches what the fold read from the database (a tenant, a counter, a
 *    stored resource looked up by several events of one batch is read once),
 *  - collapses repeated writes of a key (per-tenant counters, hourly
 *    counters, a resource changed twice, an index entry deleted and put back
 *    unchanged) into one WriteBatch operation, so the memtable sees one
 *    insert per distinct key instead of one per write,
 *  - keeps, for column family `mem`, each parent's children (the rows under
 *    `tenant\0 dir id\0`) in a list, so "all members of group G as of this
 *    point of the batch" merges a database range with the batch's rows.
 * Keys the fold never reads back (log records, change records, change
 * indexes) skip the hash table: txn_append queues them for the write.
 * txn_write sorts every operation by (column family, key) before the
 * WriteBatch is built, so memtable inserts walk the skiplist forward.
 * The database content after commit is the same as with the indexed batch
 * (same last value per key), so digests do not change.
 *
 * Threads: a txn belongs to the single writer thread (ingest committer,
 * Kafka projector, replay). Replay's pipeline (store.c) hands a finished
 * txn to its write thread and folds the next batch with txn_stack: the
 * fold thread then only reads the finished overlay (never changes it)
 * while the write thread builds and writes its WriteBatch; scans settle
 * (wait for that write) first. Memory: bounded by the batch (callers cap
 * it); two batches while pipelined.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

enum { OV_CLEAN = 0, OV_ABSENT, OV_PUT, OV_DEL };

typedef struct ov_entry {
        struct ov_entry *next;  /* hash chain */
        struct ov_entry *order; /* every entry, in creation order */
        struct ov_entry *sib;   /* CF_MEM: next child of the same parent */
        uint64_t hash;
        int cf;
        int state;
        int hot;   /* read through txn_get_hot: its value goes to the
                      store's hot cache when the batch is written */
        int first; /* replay: no batch wrote the key before (a known
                      absence in a column family that started empty) */
        int through; /* replay's write-back: a first write, written by
                        the batch (txn_write), not kept in the cache */
        char *val;   /* in the overlay's arena; NULL when absent/deleted */
        size_t vlen, klen;
        char key[]; /* klen bytes */
} ov_entry_t;

/* A CF_MEM parent prefix and its children created in this batch. */
typedef struct ov_parent {
        struct ov_parent *next;
        uint64_t hash;
        ov_entry_t *children;
        size_t plen;
        char prefix[];
} ov_parent_t;

/* A block of the overlay's arena (ov_alloc). */
typedef struct ov_chunk {
        struct ov_chunk *next;
        size_t used, cap;
        max_align_t data[]; /* cap bytes */
} ov_chunk_t;

/* One arena: its blocks, the one being filled first. */
typedef struct ov_arena {
        ov_chunk_t *chunks;
        unsigned nchunks;
} ov_arena_t;

struct txn_overlay {
        ov_arena_t ent;  /* entries (with their keys) and parents */
        ov_arena_t vals; /* values */
        ov_entry_t **slots;
        size_t nslots, n;
        ov_entry_t *first, *last;
        ov_parent_t **pslots;
        size_t npslots, np;
        rocksdb_writebatch_t *wb;
        ov_entry_t *appended; /* txn_append'ed records (not in slots) */
        size_t nappended;
        rocksdb_writebatch_wi_t **compat; /* txn_iter's temporaries */
        size_t ncompat;
        /* txn_stack: the previous batch, still being written by another
         * thread (read only here); settle waits for that write */
        struct txn_overlay *below;
        void (*settle)(void *ctx);
        void *settle_ctx;
        char *res_text; /* txn_set_text: the event's stored resource */
        size_t res_len;
        int hot_done; /* its writes are in the hot cache (hot_commit) */
};

/* The overlay's entries, keys, values and parents come from two arenas
 * freed whole at txn_end: one allocation per 128 KiB instead of two per
 * key (malloc and free were ~5% of a replay, a batch holding ~14,000
 * keys). Entries (with their keys) and parents in one, values in the
 * other, so a batch's entries lie side by side for the hash probes and
 * the walks of hot_commit and txn_write (~1.4 MB for a replay batch,
 * where the records' values, ~3 KB an event, spread them over ~7 MB:
 * perf, the 1M log: txn_write -30%, hot_commit -16%, add -20%). Blocks of 8 KiB, doubling to 128 KiB (a POST's batch
 * takes one); a value larger than a quarter of the block gets its own.
 * A value a later put or delete replaces stays until txn_end (a batch
 * is bounded). */
#define OV_CHUNK ((size_t)128 << 10)

static void *arena_alloc(ov_arena_t *o, size_t n)
{
        ov_chunk_t *c = o->chunks;
        void *p;

        n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
        if (!c || c->cap - c->used < n) {
                /* small first (a POST's batch holds ~20 keys), then
                 * doubling up to OV_CHUNK */
                size_t cap =
                    o->nchunks < 5 ? (size_t)8192 << o->nchunks : OV_CHUNK;

                if (n > cap / 4)
                        cap = n;
                else
                        o->nchunks++;

                if (!(c = malloc(sizeof(*c) + cap)))
                        abort(); /* the writer cannot fold without it */
                c->used = 0;
                c->cap = cap;
                if (cap == n && o->chunks) {
                        /* a large one alone: the block being filled
                         * stays first */
                        c->next = o->chunks->next;
                        o->chunks->next = c;
                } else {
                        c->next = o->chunks;
                        o->chunks = c;
                }
        }
        p = (char *)c->data + c->used;
        c->used += n;
        return p;
}

/* An entry or parent of n bytes, in the entries' arena. */
static void *ov_alloc(struct txn_overlay *o, size_t n)
{
        return arena_alloc(&o->ent, n);
}

/* A copy of v (vl bytes) in the values' arena. */
static char *ov_copy(struct txn_overlay *o, const char *v, size_t vl)
{
        char *c = arena_alloc(&o->vals, vl ? vl : 1);

        memcpy(c, v, vl);
        return c;
}

/* The overlay's and the hot cache's hash of (cf, key): eight bytes a
 * step (a byte-at-a-time FNV was a chain of ~40 dependent multiplies per
 * key, ~20 keys hashed per event), then a final mix for the low bits the
 * tables index by. In memory only: nothing stored depends on it. */
uint64_t store_key_hash(int cf, const char *k, size_t n)
{
        const uint64_t m = 0xff51afd7ed558ccdULL;
        uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uint32_t)cf ^
                     ((uint64_t)n << 32);
        uint64_t w;

        for (; n >= 8; k += 8, n -= 8) {
                memcpy(&w, k, 8);
                h = (h ^ w) * m;
                h ^= h >> 32;
        }
        w = 0;
        memcpy(&w, k, n);
        h = (h ^ w) * m;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 33;
        return h;
}

void txn_begin(txn_t *t, scim_store_t *st)
{
        store_tune_thread(); /* the folding thread: no perf counters */
        t->st = st;
        t->ov = calloc(1, sizeof(*t->ov));
        if (!t->ov)
                abort(); /* the writer cannot fold without it */
        /* small to start (a POST's batch holds ~20 keys; zeroing 10 KiB
         * of slots was ~9k instructions of it): both tables grow */
        t->ov->nslots = 64;
        t->ov->slots = calloc(t->ov->nslots, sizeof(*t->ov->slots));
        t->ov->npslots = 16;
        t->ov->pslots = calloc(t->ov->npslots, sizeof(*t->ov->pslots));
        t->ov->wb = rocksdb_writebatch_create();
        if (!t->ov->slots || !t->ov->pslots)
                abort();
}

void txn_end(txn_t *t)
{
        struct txn_overlay *o = t->ov;

        if (!o)
                return;
        for (ov_chunk_t *c = o->ent.chunks, *nx; c; c = nx) {
                nx = c->next;
                free(c);
        }
        for (ov_chunk_t *c = o->vals.chunks, *nx; c; c = nx) {
                nx = c->next;
                free(c);
        }
        for (size_t i = 0; i < o->ncompat; i++)
                rocksdb_writebatch_wi_destroy(o->compat[i]);
        free(o->compat);
        free(o->res_text);
        free(o->slots);
        free(o->pslots);
        rocksdb_writebatch_destroy(o->wb);
        free(o);
        t->ov = NULL;
}

static void grow(struct txn_overlay *o)
{
        size_t ns = o->nslots * 2;
        ov_entry_t **s = calloc(ns, sizeof(*s));

        if (!s)
                return; /* longer chains, still correct */
        for (ov_entry_t *e = o->first; e; e = e->order) {
                size_t i = e->hash & (ns - 1);

                e->next = s[i];
                s[i] = e;
        }
        free(o->slots);
        o->slots = s;
        o->nslots = ns;
}

/* Length of a CF_MEM parent prefix (tenant \0 dir id \0), or 0. */
static size_t mem_parent_len(const char *k, size_t kl)
{
        const char *z = memchr(k, '\0', kl);

        if (!z || (size_t)(z - k) + 2 >= kl)
                return 0;
        z = memchr(z + 2, '\0', kl - (size_t)(z - k) - 2);
        return z ? (size_t)(z - k) + 1 : 0;
}

static ov_parent_t *parent_find(struct txn_overlay *o, const char *p, size_t pl,
                                int create)
{
        uint64_t h = store_key_hash(-1, p, pl);
        ov_parent_t **slot = &o->pslots[h & (o->npslots - 1)], *e;

        for (e = *slot; e; e = e->next)
                if (e->hash == h && e->plen == pl && !memcmp(e->prefix, p, pl))
                        return e;
        if (!create)
                return NULL;
        if (o->np >= o->npslots * 2) {
                size_t ns = o->npslots * 4;
                ov_parent_t **s = calloc(ns, sizeof(*s));

                if (s) {
                        for (size_t i = 0; i < o->npslots; i++)
                                for (ov_parent_t *q = o->pslots[i], *nx; q;
                                     q = nx) {
                                        nx = q->next;
                                        q->next = s[q->hash & (ns - 1)];
                                        s[q->hash & (ns - 1)] = q;
                                }
                        free(o->pslots);
                        o->pslots = s;
                        o->npslots = ns;
                        slot = &o->pslots[h & (o->npslots - 1)];
                }
        }
        e = ov_alloc(o, sizeof(*e) + pl);
        e->hash = h;
        e->plen = pl;
        e->children = NULL;
        memcpy(e->prefix, p, pl);
        e->next = *slot;
        *slot = e;
        o->np++;
        return e;
}

static ov_entry_t *find(struct txn_overlay *o, int cf, const char *k, size_t kl,
                        uint64_t h)
{
        for (ov_entry_t *e = o->slots[h & (o->nslots - 1)]; e; e = e->next)
                if (e->hash == h && e->cf == cf && e->klen == kl &&
                    !memcmp(e->key, k, kl))
                        return e;
        return NULL;
}

static ov_entry_t *add(struct txn_overlay *o, int cf, const char *k, size_t kl,
                       uint64_t h)
{
        ov_entry_t *e;

        if (o->n >= o->nslots)
                grow(o);
        e = ov_alloc(o, sizeof(*e) + kl);
        memset(e, 0, sizeof(*e));
        e->hash = h;
        e->cf = cf;
        e->klen = kl;
        memcpy(e->key, k, kl);
        e->next = o->slots[h & (o->nslots - 1)];
        o->slots[h & (o->nslots - 1)] = e;
        if (o->last)
                o->last->order = e;
        else
                o->first = e;
        o->last = e;
        o->n++;
        if (cf == CF_MEM) {
                size_t pl = mem_parent_len(k, kl);

                if (pl) {
                        ov_parent_t *p = parent_find(o, k, pl, 1);

                        e->sib = p->children;
                        p->children = e;
                }
        }
        return e;
}

/*
 * The hot cache: the committed values of a few keys nearly every event
 * reads (the tenant's row, its model generation and resource counters, the
 * change records' apply-time and hourly counters), kept in the
 * writer's memory across batches so an event does not read them from
 * RocksDB (~12k instructions per memtable Get). Two-way, HOT_SLOTS
 * entries, so its memory is bounded whatever the number of tenants and
 * hours. An entry holds a key's value (or its absence) as of the last
 * batch written: txn_committed copies in the values of the keys the batch
 * read through txn_get_hot and refreshes any entry whose key the batch
 * wrote or deleted by other means (a tenant's delete drops its counters);
 * a batch that is not written changes nothing here. Writer thread only
 * (replay: the fold thread, which calls txn_committed after the write
 * thread finished).
 *
 * Replay (txn_hot_replay) widens it: the new dir has one writer, the
 * fold, and every write of the stored resources goes through a batch, so
 * the cache may hold them all (every read of them goes through it, every
 * batch's writes of them go in when it is written). The stored resource
 * an event reads before folding was a RocksDB Get per event (~10% of a
 * replay's CPU). Larger table (a slot per 128 bytes of the budget),
 * bounded in bytes: past the budget a clock hand frees older entries.
 * (Indexes and memberships too were measured: their many short keys
 * crowded the resources out of the budget for little gain.) When the dir
 * started without resources, indexes and memberships (no log snapshot
 * restored), a filter of the keys any batch wrote answers "absent" for
 * a key none wrote, in all three: a create reads its resource, userName
 * and membership keys before any exists.
 * Write-back (txn_hot_write_back, replay of resources and indexes): a
 * batch's writes of those families skip its WriteBatch and stay in the
 * cache marked dirty (a user patched nine times reached the memtable
 * nine times, and was flushed and compacted with every version). A key's
 * first write (no batch wrote it: the filter of keys written, and the
 * batch in flight, say so) goes through its batch's own write instead
 * and is not cached: a create's keys are most often written once, and
 * holding them dirty filled the cache with values nothing read again,
 * whose spills and final sort cost more than the memtable (1M creates at
 * --memory-mb 2048: 43 -> 32 CPU s, 1.5 -> 0.55 GiB peak). A dirty
 * entry the cache gives up (the clock hand, a full bucket, a value over
 * the budget) is written at the end of hot_commit, before the fold reads
 * again; txn_hot_flush writes them all before a scan of their family
 * (scans read RocksDB), when replay asks (before a batch that reads
 * tenant-wide rows) and at the end, in SST files. While no entry of a
 * family that started empty was written (dirty or first), every key ever
 * written is in the cache, so a miss is an absence without a RocksDB
 * Get. Serve
 * never writes back.
 * Serve keeps the small cache: its erasure and maintenance write those
 * column families outside the batches.
 */
#define HOT_SLOTS 4096

/* A cached key and its value (or its absence). */
typedef struct hot_kv {
        int cf, present;
        int dirty; /* write-back: not in the database yet (txn_hot_write_back) */
        size_t klen, vlen;
        char data[]; /* key then value */
} hot_kv_t;

/* Two-way: a key lives in one of the two slots of its bucket. */
typedef struct hot_slot {
        uint64_t hash;
        hot_kv_t *kv; /* malloc'd; NULL: empty slot */
} hot_slot_t;

struct txn_hot {
        hot_slot_t *s;
        size_t mask;  /* slots - 1 (a power of two, at least 2 slots) */
        size_t bytes; /* keys and values held */
        size_t cap;   /* at most this many bytes of them */
        unsigned cfs; /* bit cf: a key of column family cf was cached */
        unsigned all; /* bit cf: every read and write of cf (replay) */
        unsigned flip; /* which way a full bucket gives up next */
        size_t hand;   /* the next slot to free when over the budget */
        /* replay into a dir whose column families `seen_cfs` started
         * empty: two bits per key any batch wrote in them (a Bloom
         * filter), so a key none wrote is absent without asking RocksDB */
        unsigned seen_cfs;
        /* bit cf: the keys of cf read through txn_get_hot are in the
         * filter too (chidx: the hourly counters, every write of which
         * follows such a read; a new hour's counter is absent without a
         * Get, which a replay's vector memtable answers by sorting a
         * copy of itself, store_tune.c) */
        unsigned seen_hot_cfs;
        uint64_t *seen;   /* NULL: no filter */
        size_t seen_mask; /* its bits - 1 */
        /* write-back (replay, txn_hot_write_back): bit cf: the batches'
         * writes of cf stay here (dirty) instead of going to RocksDB,
         * until evicted (spilled) or flushed (txn_hot_flush) */
        unsigned wb;
        unsigned fresh;   /* bit cf: cf held no key when replay started */
        unsigned spilled; /* bit cf: some dirty entry of cf went to the db */
        size_t ndirty;
        rocksdb_writebatch_t *spill; /* evicted dirty entries, to write */
        rocksdb_writeoptions_t *wo;  /* for them: no WAL, as replay */
        char *werr;                  /* the first failed spill (malloc'd) */
        memshadow_t *mem; /* write-back of CF_MEM: every row (memshadow.c) */
};

static struct txn_hot *hot_new(size_t slots, size_t cap, unsigned all)
{
        struct txn_hot *h = calloc(1, sizeof(*h));

        if (h && !(h->s = calloc(slots, sizeof(*h->s)))) {
                free(h);
                h = NULL;
        }
        if (h) {
                h->mask = slots - 1;
                h->cap = cap;
                h->all = all;
        }
        return h;
}

static hot_slot_t *hot_slot(struct txn_hot *h, int cf, const char *k, size_t kl,
                            uint64_t hash)
{
        hot_slot_t *b = &h->s[hash & h->mask & ~(size_t)1];

        for (int w = 0; w < 2; w++)
                if (b[w].kv && b[w].hash == hash && b[w].kv->cf == cf &&
                    b[w].kv->klen == kl && !memcmp(b[w].kv->data, k, kl))
                        return &b[w];
        return NULL;
}

static hot_slot_t *hot_find(scim_store_t *st, int cf, const char *k, size_t kl,
                            uint64_t h)
{
        return st->hot ? hot_slot(st->hot, cf, k, kl, h) : NULL;
}

/* A dirty key's value (v NULL: its absence) into the spill batch, which
 * hot_commit writes before the fold reads again. */
static void hot_spill(struct txn_hot *h, scim_store_t *st, int cf,
                      const char *k, size_t kl, const char *v, size_t vl)
{
        if (!h->spill && !(h->spill = rocksdb_writebatch_create()))
                abort(); /* the value exists nowhere else */
        if (v)
                rocksdb_writebatch_put_cf(h->spill, st->cf[cf], k, kl, v, vl);
        else
                rocksdb_writebatch_delete_cf(h->spill, st->cf[cf], k, kl);
        h->spilled |= 1u << cf;
}

/* Frees slot s's entry; a dirty one goes to the spill batch first. */
static void hot_drop(struct txn_hot *h, scim_store_t *st, hot_slot_t *s)
{
        hot_kv_t *kv = s->kv;

        if (kv->dirty) {
                hot_spill(h, st, kv->cf, kv->data, kv->klen,
                          kv->present ? kv->data + kv->klen : NULL, kv->vlen);
                h->ndirty--;
        }
        h->bytes -= kv->klen + kv->vlen;
        free(kv);
        s->kv = NULL;
}

/* e's value (or absence) into the cache; dirty: a write-back write,
 * not in the database (spilled if the cache cannot keep it). */
static void hot_set(scim_store_t *st, const ov_entry_t *e, int dirty)
{
        struct txn_hot *h;
        hot_slot_t *s, *b;
        int present = e->state == OV_PUT || e->state == OV_CLEAN;
        size_t vlen = present ? e->vlen : 0;
        hot_kv_t *kv;

        if (!st->hot && !(st->hot = hot_new(HOT_SLOTS, SIZE_MAX, 0)))
                return; /* no cache: reads go to the database */
        h = st->hot;
        h->cfs |= 1u << e->cf;
        /* the key's own slot, else an empty one, else the bucket's turn
         * (a clean entry first: giving up a dirty one writes it) */
        b = &h->s[e->hash & h->mask & ~(size_t)1];
        s = hot_slot(h, e->cf, e->key, e->klen, e->hash);
        if (s && s->kv->dirty) {
                /* the same key: a clean value here is the one the dirty
                 * entry holds (read back unchanged), still not written */
                dirty = 1;
                s->kv->dirty = 0;
                h->ndirty--;
        }
        if (!s)
                s = !b[0].kv          ? &b[0]
                    : !b[1].kv        ? &b[1]
                    : !b[0].kv->dirty ? &b[0]
                    : !b[1].kv->dirty ? &b[1]
                                      : &b[h->flip++ & 1];
        if (s->kv)
                hot_drop(h, st, s);
        /* over the budget: a clock hand frees other entries in slot
         * order until it fits (older entries first, roughly); a value
         * larger than the whole budget leaves the slot empty */
        for (size_t n = 0; h->bytes + e->klen + vlen > h->cap && n <= h->mask;
             n++) {
                hot_slot_t *v = &h->s[h->hand++ & h->mask];

                if (v->kv && v != s)
                        hot_drop(h, st, v);
        }
        if (h->bytes + e->klen + vlen > h->cap ||
            !(kv = malloc(sizeof(*kv) + e->klen + vlen))) {
                if (dirty) /* not kept: written now */
                        hot_spill(h, st, e->cf, e->key, e->klen,
                                  present ? e->val : NULL, vlen);
                return;
        }
        kv->cf = e->cf;
        kv->present = present;
        kv->dirty = dirty;
        kv->klen = e->klen;
        kv->vlen = vlen;
        memcpy(kv->data, e->key, e->klen);
        if (present)
                memcpy(kv->data + e->klen, e->val, vlen);
        s->hash = e->hash;
        s->kv = kv;
        h->bytes += e->klen + vlen;
        h->ndirty += dirty != 0;
}

/* Writes the spill batch (fold thread, the writer idle); a failure is
 * kept for txn_hot_failed (replay then fails: the value is lost). */
static void hot_spill_write(struct txn_hot *h, scim_store_t *st)
{
        char *err = NULL;

        if (!h->spill || !rocksdb_writebatch_count(h->spill))
                return;
        rocksdb_write(st->db, h->wo, h->spill, &err);
        rocksdb_writebatch_clear(h->spill);
        if (err && !h->werr)
                h->werr = err;
        else
                free(err);
}

/* The two filter bits of hash h (its high bits: slots use the low). */
static size_t seen_bit(const struct txn_hot *h, uint64_t hash, int which)
{
        return (size_t)(which ? hash >> 40 ^ hash << 7 : hash >> 20) &
               h->seen_mask;
}

static void seen_set(struct txn_hot *h, uint64_t hash)
{
        for (int i = 0; i < 2; i++) {
                size_t b = seen_bit(h, hash, i);

                h->seen[b / 64] |= 1ULL << (b % 64);
        }
}

/* 1 when the filter says no batch wrote key (cf, hash): it is absent. */
static int seen_never(const struct txn_hot *h, int cf, uint64_t hash,
                      int hot)
{
        if (!h || !h->seen ||
            !((h->seen_cfs | (hot ? h->seen_hot_cfs : 0)) >> cf & 1))
                return 0;
        for (int i = 0; i < 2; i++) {
                size_t b = seen_bit(h, hash, i);

                if (!(h->seen[b / 64] >> (b % 64) & 1))
                        return 1;
        }
        return 0;
}

/* A flush's sink: SST files (the last flush) or a write batch written
 * every FLUSH_BATCH_BYTES. */
typedef struct flush_sink {
        struct txn_hot *h;
        scim_store_t *st;
        store_sst_t *sst;
        rocksdb_writebatch_t *b;
        size_t bytes;
        int cf;
} flush_sink_t;

/* Raw bytes after which a flush writes its batch and starts another. */
#define FLUSH_BATCH_BYTES ((size_t)8 << 20)

/* Writes b (no WAL, as replay) and empties it; the first error kept. */
static void flush_write(struct txn_hot *h, scim_store_t *st,
                        rocksdb_writebatch_t *b)
{
        char *err = NULL;

        if (!rocksdb_writebatch_count(b))
                return;
        rocksdb_write(st->db, h->wo, b, &err);
        rocksdb_writebatch_clear(b);
        if (err && !h->werr)
                h->werr = err;
        else
                free(err);
}

/* One dirty value (v NULL: a tombstone) into the sink's files or batch. */
static void sink_put(void *ctx, const char *k, size_t kl, const char *v,
                     size_t vl)
{
        flush_sink_t *f = ctx;

        if (f->sst && store_sst_take(f->sst, f->cf, k, kl, v, vl))
                return;
        if (v)
                rocksdb_writebatch_put_cf(f->b, f->st->cf[f->cf], k, kl, v,
                                          vl);
        else
                rocksdb_writebatch_delete_cf(f->b, f->st->cf[f->cf], k, kl);
        if ((f->bytes += kl + vl) >= FLUSH_BATCH_BYTES) {
                flush_write(f->h, f->st, f->b);
                f->bytes = 0;
        }
}

/* The membership shadow over its budget (or going): its dirty rows into
 * RocksDB, and CF_MEM back to the database (fold thread, writer idle:
 * the next batch is written with its rows). */
static void hot_mem_off(scim_store_t *st)
{
        struct txn_hot *h = st->hot;
        flush_sink_t f = {h, st, NULL, rocksdb_writebatch_create(), 0, CF_MEM};

        if (!f.b)
                abort(); /* the rows exist nowhere else */
        if (memsh_flush(h->mem, sink_put, &f))
                h->spilled |= 1u << CF_MEM;
        flush_write(h, st, f.b);
        rocksdb_writebatch_destroy(f.b);
        memsh_free(h->mem);
        h->mem = NULL;
        h->wb &= ~(1u << CF_MEM);
}

/* Replay: a resource's first write (a create, written by its batch) is
 * also kept, clean, while the cache is under half its budget and the
 * key's bucket has an empty slot: a user's first PATCH read it back from
 * RocksDB (141k Gets in the 1M-event log, ~7% of the fold thread),
 * while a copy costs a malloc and a memcpy. Never evicts anything for
 * it, so the dirty values the write-back holds keep their room, and a
 * log of creates nothing reads again stops copying at half the budget
 * (measured: "Replay's report index in a vector memtable, ninth pass"). */
static void hot_keep_clean(struct txn_hot *h, const ov_entry_t *e)
{
        hot_slot_t *b = &h->s[e->hash & h->mask & ~(size_t)1], *s;
        hot_kv_t *kv;

        if (e->state != OV_PUT || h->bytes + e->klen + e->vlen > h->cap / 2)
                return;
        s = !b[0].kv ? &b[0] : !b[1].kv ? &b[1] : NULL;
        if (!s || !(kv = malloc(sizeof(*kv) + e->klen + e->vlen)))
                return;
        kv->cf = e->cf;
        kv->present = 1;
        kv->dirty = 0;
        kv->klen = e->klen;
        kv->vlen = e->vlen;
        memcpy(kv->data, e->key, e->klen);
        memcpy(kv->data + e->klen, e->val, e->vlen);
        s->hash = e->hash;
        s->kv = kv;
        h->bytes += e->klen + e->vlen;
        h->cfs |= 1u << e->cf;
}

size_t txn_hot_held(const scim_store_t *st, int cf, size_t *dirty)
{
        size_t n = 0, d = 0;

        for (size_t i = 0; st->hot && i <= st->hot->mask; i++) {
                const hot_kv_t *kv = st->hot->s[i].kv;

                if (kv && kv->cf == cf) {
                        n++;
                        d += kv->dirty != 0;
                }
        }
        if (dirty)
                *dirty = d;
        return n;
}

/* The written batch o's values into the hot cache (once per batch). */
static void hot_commit(scim_store_t *st, struct txn_overlay *o)
{
        unsigned all = st->hot ? st->hot->all : 0;

        if (o->hot_done)
                return;
        o->hot_done = 1;
        for (ov_entry_t *e = o->first; e; e = e->order) {
                int written = e->state == OV_PUT || e->state == OV_DEL;
                int dirty = written && st->hot && (st->hot->wb >> e->cf & 1) &&
                            !e->through;

                if (e->state == OV_PUT && st->hot && st->hot->seen &&
                    ((st->hot->seen_cfs |
                      (e->hot ? st->hot->seen_hot_cfs : 0)) >> e->cf & 1))
                        seen_set(st->hot, e->hash); /* before any read
                                                       misses the batch */
                if (dirty && e->cf == CF_MEM && st->hot->mem) {
                        /* the shadow holds every row: nothing cached (the
                         * filter has it too, for after the shadow) */
                        memsh_set(st->hot->mem, e->key, e->klen,
                                  mem_parent_len(e->key, e->klen), e->hash,
                                  e->state == OV_PUT ? e->val : NULL, e->vlen);
                        continue;
                }
                if (e->through) {
                        /* written by the batch: the database holds keys
                         * of cf now (a miss asks it) */
                        st->hot->spilled |= 1u << e->cf;
                        if (e->cf == CF_RES) /* a create */
                                hot_keep_clean(st->hot, e);
                        continue;
                }
                if (e->first && e->state == OV_ABSENT)
                        continue; /* the filter answers it: no entry of a
                                     key no batch wrote (a first write
                                     then finds none to make stale) */
                /* read through the cache; in replay every write of its
                 * column families; else a write of a key it holds (only
                 * column families it ever held a key of are looked up: a
                 * replay batch writes ~14,000 keys, nearly all in others) */
                if (e->hot || (written && (all >> e->cf & 1)) ||
                    (written && st->hot && (st->hot->cfs >> e->cf & 1) &&
                     hot_find(st, e->cf, e->key, e->klen, e->hash)))
                        hot_set(st, e, dirty);
        }
        if (st->hot && memsh_over(st->hot->mem))
                hot_mem_off(st); /* RocksDB answers from now on */
        if (st->hot)
                hot_spill_write(st->hot, st);
}

void txn_committed(txn_t *t)
{
        hot_commit(t->st, t->ov);
}

void txn_hot_free(scim_store_t *st)
{
        if (!st->hot)
                return;
        for (size_t i = 0; i <= st->hot->mask; i++)
                free(st->hot->s[i].kv);
        free(st->hot->s);
        free(st->hot->seen);
        if (st->hot->spill)
                rocksdb_writebatch_destroy(st->hot->spill);
        if (st->hot->wo)
                rocksdb_writeoptions_destroy(st->hot->wo);
        free(st->hot->werr);
        memsh_free(st->hot->mem);
        free(st->hot);
        st->hot = NULL;
}

/* 1 when column family cf of st holds no key. */
static int cf_empty(scim_store_t *st, int cf)
{
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(st->db, st->ro, st->cf[cf]);
        int empty;

        rocksdb_iter_seek_to_first(it);
        empty = !rocksdb_iter_valid(it);
        rocksdb_iter_destroy(it);
        return empty;
}

int txn_hot_replay(scim_store_t *st, size_t bytes)
{
        /* a slot per 128 bytes of the budget (most cached keys are index
         * and membership keys with short values), a power of two; the
         * filter of keys written a sixteenth of it (two bits per key: at
         * 1M keys in 4 MiB, 1 in 4,000 absent keys is read from RocksDB
         * after all); the slots' and filter's own memory comes out of it */
        size_t slots = HOT_SLOTS, fbits = (size_t)1 << 16, fixed;
        unsigned seen_cfs = 1u << CF_RES | 1u << CF_IDX | 1u << CF_MEM;
        int fresh = 1;
        struct txn_hot *h;

        while (slots < bytes / 128 && slots < ((size_t)1 << 24))
                slots <<= 1;
        while (fbits / 8 < bytes / 16 && fbits < ((size_t)1 << 34))
                fbits <<= 1;
        for (int cf = 0; cf < CF_COUNT; cf++)
                if (seen_cfs >> cf & 1)
                        fresh &= cf_empty(st, cf);
        fixed = slots * sizeof(hot_slot_t) + (fresh ? fbits / 8 : 0);
        if (bytes <= fixed)
                return -1;
        h = hot_new(slots, bytes - fixed, 1u << CF_RES);
        if (!h)
                return -1;
        h->fresh = fresh ? seen_cfs : 0;
        if (fresh && (h->seen = calloc(fbits / 64, sizeof(*h->seen)))) {
                h->seen_cfs = seen_cfs;
                h->seen_hot_cfs = cf_empty(st, CF_CHIDX) << CF_CHIDX;
                h->seen_mask = fbits - 1;
        }
        txn_hot_free(st);
        st->hot = h;
        return 0;
}

int txn_hot_write_back(scim_store_t *st, unsigned cfs)
{
        struct txn_hot *h = st->hot;

        if (!h || !h->all || h->wb || !(h->wo = rocksdb_writeoptions_create()))
                return -1;
        rocksdb_writeoptions_disable_WAL(h->wo, 1);
        if (cfs & 1u << CF_MEM) {
                /* whole in memory, so only from an empty family; its
                 * budget (an eighth) comes out of the cache's */
                cfs &= ~(1u << CF_MEM);
                if ((h->fresh >> CF_MEM & 1) && (h->mem = memsh_new(h->cap / 8))) {
                        h->cap -= h->cap / 8;
                        cfs |= 1u << CF_MEM;
                }
        }
        /* every read of the cached ones through the cache */
        h->all |= cfs & ~(1u << CF_MEM);
        h->wb = cfs;
        return 0;
}

/* A hot entry's column family and key, for keysort. */
static void kv_key(const void *p, int *cf, const char **k, size_t *kl)
{
        const hot_kv_t *x = *(const hot_kv_t *const *)p;

        *cf = x->cf;
        *k = x->data;
        *kl = x->klen;
}

int txn_hot_flush(scim_store_t *st, int final)
{
        struct txn_hot *h = st->hot;
        hot_kv_t **v = NULL;
        size_t n = 0;
        flush_sink_t f = {h, st, NULL, NULL, 0, 0};
        unsigned wrote = 0;

        if (!h || !h->wb)
                return h && h->werr ? -1 : 0;
        if (!(f.b = rocksdb_writebatch_create()) ||
            !(v = malloc((h->ndirty + 1) * sizeof(*v))))
                abort(); /* the values exist nowhere else */
        for (size_t i = 0; i <= h->mask && n < h->ndirty; i++)
                if (h->s[i].kv && h->s[i].kv->dirty)
                        v[n++] = h->s[i].kv;
        /* in key order: memtable inserts walk forward, and the last
         * flush's SST files take them as they come */
        (void)keysort(v, n, sizeof(*v), kv_key); /* cf ids: cannot fail */
        /* the last: into SST files (no memtable, flush or compaction; a
         * column family nothing was spilled to holds no key, so its files
         * go to the last level) */
        if (final)
                f.sst = store_sst_open_cfs(st, h->wb);
        for (size_t i = 0; i < n; i++) {
                hot_kv_t *kv = v[i];

                kv->dirty = 0;
                /* absent and never in the database: nothing to delete */
                if (!kv->present && ((h->fresh & ~h->spilled) >> kv->cf & 1))
                        continue;
                wrote |= 1u << kv->cf;
                f.cf = kv->cf;
                sink_put(&f, kv->data, kv->klen,
                         kv->present ? kv->data + kv->klen : NULL, kv->vlen);
        }
        f.cf = CF_MEM;
        if (h->mem && memsh_flush(h->mem, sink_put, &f))
                wrote |= 1u << CF_MEM;
        flush_write(h, st, f.b);
        rocksdb_writebatch_destroy(f.b);
        if (f.sst) {
                char *err = NULL;

                if (store_sst_close(f.sst, &err) < 0 && !h->werr)
                        h->werr = err ? err : strdup("SST files");
                else
                        free(err);
        }
        free(v);
        h->spilled |= wrote; /* what was dirty is in the database now */
        h->ndirty = 0;
        if (final) {
                h->wb = 0;
                memsh_free(h->mem);
                h->mem = NULL;
        }
        return h->werr ? -1 : 0;
}

const char *txn_hot_failed(const scim_store_t *st)
{
        return st->hot ? st->hot->werr : NULL;
}

/* The overlay entry of (cf, k) after reading it from the batch being
 * written, the hot cache (hot set) or the database; NULL on a read error
 * (not cached: a read error is not an answer). */
static ov_entry_t *lookup(txn_t *t, int cf, const char *k, size_t klen, int hot)
{
        struct txn_overlay *o = t->ov;
        uint64_t h = store_key_hash(cf, k, klen);
        ov_entry_t *e = find(o, cf, k, klen, h);
        char *v;

        if (!e && o->below) {
                /* the batch being written: its value is the database's
                 * once that write is done (CLEAN here: not written again) */
                ov_entry_t *b = find(o->below, cf, k, klen, h);

                if (b) {
                        e = add(o, cf, k, klen, h);
                        if (b->state == OV_PUT || b->state == OV_CLEAN) {
                                e->val = ov_copy(o, b->val, b->vlen);
                                e->vlen = b->vlen;
                                e->state = OV_CLEAN;
                        } else {
                                e->state = OV_ABSENT;
                                e->first = b->first;
                        }
                }
        }
        if (!e && cf == CF_MEM && t->st->hot && t->st->hot->mem) {
                /* replay's membership rows, all of them (memshadow.c) */
                const char *mv;
                size_t ml = 0;

                e = add(o, cf, k, klen, h);
                e->state = OV_ABSENT;
                if (memsh_get(t->st->hot->mem, k, klen, h, &mv, &ml)) {
                        e->val = ov_copy(o, mv, ml);
                        e->vlen = ml;
                        e->state = OV_CLEAN;
                }
        }
        if (!e && !hot && t->st->hot && (t->st->hot->all >> cf & 1))
                hot = 1; /* replay: every read of these goes through it */
        if (!e && hot) {
                hot_slot_t *s = hot_find(t->st, cf, k, klen, h);

                if (s) {
                        const hot_kv_t *kv = s->kv;

                        e = add(o, cf, k, klen, h);
                        e->state = kv->present ? OV_CLEAN : OV_ABSENT;
                        if (kv->present) {
                                e->val =
                                    ov_copy(o, kv->data + kv->klen, kv->vlen);
                                e->vlen = kv->vlen;
                        }
                }
        }
        if (!e && (seen_never(t->st->hot, cf, h, hot) ||
                   (t->st->hot && (t->st->hot->wb & t->st->hot->fresh &
                                   ~t->st->hot->spilled) >> cf & 1))) {
                /* (write-back: every key of cf ever written is in the
                 * cache while none was spilled) */
                /* no batch wrote it, and the dir started without any key
                 * of cf (indexes and memberships: not cached, filtered) */
                e = add(o, cf, k, klen, h);
                e->state = OV_ABSENT;
                e->first = 1;
        }
        if (!e) {
                char *err = NULL;
                size_t vl = 0;
                /* pinned: the value is copied once, from the block cache
                 * or memtable into the overlay (rocksdb_get_cf copies it
                 * into a std::string first: ~5% of a 1M-event replay) */
                rocksdb_pinnableslice_t *ps = rocksdb_get_pinned_cf(
                    t->st->db, t->st->ro, t->st->cf[cf], k, klen, &err);
                const char *pv;

                t->st->fold_gets[cf]++;
                if (err) {
                        free(err);
                        rocksdb_pinnableslice_destroy(ps);
                        return NULL;
                }
                v = NULL;
                if (ps) {
                        pv = rocksdb_pinnableslice_value(ps, &vl);
                        v = ov_copy(o, pv, vl);
                        rocksdb_pinnableslice_destroy(ps);
                }
                e = add(o, cf, k, klen, h);
                e->state = v ? OV_CLEAN : OV_ABSENT;
                e->val = v;
                e->vlen = vl;
        }
        if (hot)
                e->hot = 1;
        return e;
}

static char *entry_value(const ov_entry_t *e, size_t *vlen)
{
        char *v;

        if (!e || e->state == OV_ABSENT || e->state == OV_DEL)
                return NULL;
        v = malloc(e->vlen ? e->vlen : 1);
        if (!v)
                return NULL;
        memcpy(v, e->val, e->vlen);
        *vlen = e->vlen;
        return v;
}

char *txn_get(txn_t *t, int cf, const char *k, size_t klen, size_t *vlen)
{
        return entry_value(lookup(t, cf, k, klen, 0), vlen);
}

char *txn_get_hot(txn_t *t, int cf, const char *k, size_t klen, size_t *vlen)
{
        return entry_value(lookup(t, cf, k, klen, 1), vlen);
}

/* 1 when no batch wrote (cf, k) (replay into a dir whose cf started
 * empty): the filter of keys committed, and the batch being written. */
static int first_write(txn_t *t, int cf, const char *k, size_t klen, uint64_t h)
{
        struct txn_overlay *o = t->ov;

        return seen_never(t->st->hot, cf, h, 0) &&
               !(o->below && find(o->below, cf, k, klen, h));
}

void txn_put(txn_t *t, int cf, const char *k, size_t klen, const char *v,
             size_t vlen)
{
        struct txn_overlay *o = t->ov;
        uint64_t h = store_key_hash(cf, k, klen);
        ov_entry_t *e = find(o, cf, k, klen, h);
        char *copy = ov_copy(o, v, vlen);

        if (!e) {
                e = add(o, cf, k, klen, h);
                e->first = first_write(t, cf, k, klen, h); /* blind */
        }
        e->val = copy; /* the old one stays in the arena */
        e->vlen = vlen;
        e->state = OV_PUT;
        /* replay's write-back: a key's first write goes through the
         * batch's own write, not the cache (a create's keys are written
         * once: holding them dirty only filled the cache) */
        e->through = e->first && t->st->hot && cf != CF_MEM &&
                     (t->st->hot->wb >> cf & 1);
}

void txn_del(txn_t *t, int cf, const char *k, size_t klen)
{
        struct txn_overlay *o = t->ov;
        uint64_t h = store_key_hash(cf, k, klen);
        ov_entry_t *e = find(o, cf, k, klen, h);

        /* a record appended in this batch (the column families written
         * only by txn_append) is dropped in place: a second entry for the
         * same key would race it in the sort (erasure deletes these) */
        if (cf == CF_CHANGE || cf == CF_CHIDX || cf == CF_LOG)
                for (ov_entry_t *a = o->appended; a; a = a->order)
                        if (a->cf == cf && a->klen == klen &&
                            !memcmp(a->key, k, klen))
                                a->state = OV_DEL;

        if (!e) {
                e = add(o, cf, k, klen, h);
                e->first = first_write(t, cf, k, klen, h);
        } else if (e->state == OV_ABSENT) {
                return; /* known absent: nothing to delete */
        }
        e->val = NULL;
        e->vlen = 0;
        /* a key no batch wrote (put in this one at most): absent, no
         * tombstone (one in the cache would outlive a later first write,
         * which goes through) */
        e->state = e->first ? OV_ABSENT : OV_DEL;
        e->through = 0;
}

void txn_append(txn_t *t, int cf, const char *k, size_t klen, const char *v,
                size_t vlen)
{
        struct txn_overlay *o = t->ov;
        ov_entry_t *e = ov_alloc(o, sizeof(*e) + klen);

        memset(e, 0, sizeof(*e));
        e->cf = cf;
        e->state = OV_PUT;
        e->val = ov_copy(o, v, vlen);
        e->vlen = vlen;
        e->klen = klen;
        memcpy(e->key, k, klen);
        e->order = o->appended;
        o->appended = e;
        o->nappended++;
}

typedef struct child {
        const char *s;
        size_t n;
} child_t;

static int child_cmp(const void *a, const void *b)
{
        const child_t *x = a, *y = b;
        int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);

        return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Appends (s, n) to *all (n_all used of cap), doubling it when full. */
static void child_push(child_t **all, size_t *n_all, size_t *cap,
                       const char *s, size_t n)
{
        if (*n_all == *cap) {
                child_t *a = realloc(*all, (*cap *= 2) * sizeof(**all));

                if (!a)
                        abort();
                *all = a;
        }
        (*all)[*n_all].s = s;
        (*all)[(*n_all)++].n = n;
}

/* txn_children's committed rows: the batches decide the keys they hold. */
typedef struct children_ctx {
        struct txn_overlay *o;
        ov_parent_t *p, *pb;
        json_t *db;
        size_t plen;
} children_ctx_t;

static void child_db(void *ctx, const char *k, size_t kl)
{
        children_ctx_t *c = ctx;
        ov_entry_t *e = NULL;

        if (c->p) /* this batch decides first */
                e = find(c->o, CF_MEM, k, kl, store_key_hash(CF_MEM, k, kl));
        if (!e && c->pb) /* the batch being written decides next */
                e = find(c->o->below, CF_MEM, k, kl,
                         store_key_hash(CF_MEM, k, kl));
        if (e) /* the batch decides: listed below if present */
                return;
        json_array_append_new(c->db, json_stringn(k + c->plen, kl - c->plen));
}

json_t *txn_children(txn_t *t, const char *prefix, size_t plen)
{
        struct txn_overlay *o = t->ov;
        ov_parent_t *p = parent_find(o, prefix, plen, 0);
        ov_parent_t *pb =
            o->below ? parent_find(o->below, prefix, plen, 0) : NULL;
        rocksdb_iterator_t *it;
        json_t *db = json_array(), *out = json_array();
        child_t *all = NULL;
        size_t n = 0, cap = 0, i;
        json_t *s;

        children_ctx_t cc = {o, p, pb, db, plen};

        if (t->st->hot && t->st->hot->mem) {
                /* replay: the committed rows are all in memory */
                memsh_children(t->st->hot->mem, prefix, plen, child_db, &cc);
        } else {
                it = rocksdb_create_iterator_cf(t->st->db, t->st->ro,
                                                t->st->cf[CF_MEM]);
                for (rocksdb_iter_seek(it, prefix, plen);
                     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
                        size_t kl;
                        const char *k = rocksdb_iter_key(it, &kl);

                        if (kl < plen || memcmp(k, prefix, plen) != 0)
                                break;
                        child_db(&cc, k, kl);
                }
                rocksdb_iter_destroy(it);
        }
        cap = json_array_size(db) + 16;
        all = malloc(cap * sizeof(*all));
        if (!all)
                abort();
        json_array_foreach(db, i, s)
        {
                all[n].s = json_string_value(s);
                all[n++].n = json_string_length(s);
        }
        for (ov_entry_t *e = pb ? pb->children : NULL; e; e = e->sib) {
                if (e->state != OV_PUT && e->state != OV_CLEAN)
                        continue;
                if (p && find(o, CF_MEM, e->key, e->klen,
                              store_key_hash(CF_MEM, e->key, e->klen)))
                        continue; /* this batch decides (next loop) */
                child_push(&all, &n, &cap, e->key + plen, e->klen - plen);
        }
        for (ov_entry_t *e = p ? p->children : NULL; e; e = e->sib) {
                if (e->state != OV_PUT && e->state != OV_CLEAN)
                        continue;
                child_push(&all, &n, &cap, e->key + plen, e->klen - plen);
        }
        qsort(all, n, sizeof(*all), child_cmp);
        for (i = 0; i < n; i++)
                json_array_append_new(out, json_stringn(all[i].s, all[i].n));
        free(all);
        json_decref(db);
        return out;
}

void txn_stack(txn_t *t, txn_t *below, void (*settle)(void *ctx), void *ctx)
{
        t->ov->below = below->ov;
        t->ov->settle = settle;
        t->ov->settle_ctx = ctx;
}

void txn_settle(txn_t *t)
{
        struct txn_overlay *o = t->ov;

        if (o->below) {
                o->settle(o->settle_ctx);
                /* replay's cache answers every read of some column
                 * families: once this batch stops reading the one below,
                 * the cache must hold what that one wrote (a failed write
                 * fails the replay, whose cache then goes) */
                if (t->st->hot && t->st->hot->all)
                        hot_commit(t->st, o->below);
                o->below = NULL;
        }
}

rocksdb_iterator_t *txn_iter(txn_t *t, int cf)
{
        struct txn_overlay *o = t->ov;
        rocksdb_writebatch_wi_t *wi;
        rocksdb_writebatch_wi_t **c;
        rocksdb_iterator_t *base;

        txn_settle(t); /* scans read the database: the previous batch in */
        if (t->st->hot && (t->st->hot->wb >> cf & 1))
                (void)txn_hot_flush(t->st, 0); /* and the write-back's */
        wi = rocksdb_writebatch_wi_create(0, 1);
        c = realloc(o->compat, (o->ncompat + 1) * sizeof(*c));
        base = rocksdb_create_iterator_cf(t->st->db, t->st->ro, t->st->cf[cf]);
        if (!c)
                abort();
        o->compat = c;
        o->compat[o->ncompat++] = wi;
        for (ov_entry_t *e = o->first; e; e = e->order) {
                if (e->cf != cf)
                        continue;
                if (e->state == OV_PUT)
                        rocksdb_writebatch_wi_put_cf(wi, t->st->cf[cf], e->key,
                                                     e->klen, e->val, e->vlen);
                else if (e->state == OV_DEL)
                        rocksdb_writebatch_wi_delete_cf(wi, t->st->cf[cf],
                                                        e->key, e->klen);
        }
        /* takes ownership of base; wi lives until txn_end */
        return rocksdb_writebatch_wi_create_iterator_with_base_cf(
            wi, base, t->st->cf[cf]);
}

/* An overlay entry's column family and key, for keysort. */
static void entry_key(const void *p, int *cf, const char **k, size_t *kl)
{
        const ov_entry_t *e = *(const ov_entry_t *const *)p;

        *cf = e->cf;
        *k = e->key;
        *kl = e->klen;
}

/* The read cache (readcache.c): every key of a cached column family the
 * batch writes, marked before the write (end 0) and after it (end 1), so
 * no reader inserts a value the write made stale. */
static void rc_mark(txn_t *t, int end)
{
        struct txn_overlay *o = t->ov;

        if (!t->st->rc)
                return;
        for (ov_entry_t *e = o->first; e; e = e->order)
                if ((e->state == OV_PUT || e->state == OV_DEL) &&
                    rcache_cf(e->cf))
                        (end ? rcache_write_end : rcache_write_begin)(
                            t->st, e->cf, e->key, e->klen, e->hash);
        for (ov_entry_t *e = o->appended; e; e = e->order)
                if (rcache_cf(e->cf)) /* none today: appends are records */
                        (end ? rcache_write_end : rcache_write_begin)(
                            t->st, e->cf, e->key, e->klen,
                            store_key_hash(e->cf, e->key, e->klen));
}

void txn_write(txn_t *t, const rocksdb_writeoptions_t *wo, char **werr)
{
        struct txn_overlay *o = t->ov;
        ov_entry_t **v = malloc((o->n + o->nappended + 1) * sizeof(*v));
        size_t n = 0, kept = 0;
        wbrep_t w; /* the batch's bytes (wbrep.c) */
        size_t room = 0;
        rocksdb_writebatch_t *batch;
        /* set before the writer starts, cleared after it stopped */
        unsigned wb = t->st->hot ? t->st->hot->wb : 0;

        if (!v && (t->st->sst || wb))
                abort(); /* store_sst_take needs the key order */

        store_tune_thread(); /* replay writes on its own thread */

        /* In key order per column family: each memtable insert then
         * continues from the previous one's position in the skiplist
         * instead of searching from the top (callgrind: 13k instructions
         * per insert in random order). The database content does not
         * depend on the order (one operation per distinct key). */
        for (ov_entry_t *e = o->first; e; e = e->order)
                if (e->state == OV_PUT || e->state == OV_DEL) {
                        if (v)
                                v[n++] = e;
                        else if (e->state == OV_PUT)
                                rocksdb_writebatch_put_cf(
                                    o->wb, t->st->cf[e->cf], e->key, e->klen,
                                    e->val, e->vlen);
                        else
                                rocksdb_writebatch_delete_cf(
                                    o->wb, t->st->cf[e->cf], e->key, e->klen);
                }
        for (ov_entry_t *e = o->appended; e; e = e->order)
                if (v)
                        v[n++] = e;
                else if (e->state == OV_PUT)
                        rocksdb_writebatch_put_cf(o->wb, t->st->cf[e->cf],
                                                  e->key, e->klen, e->val,
                                                  e->vlen);
                else
                        rocksdb_writebatch_delete_cf(
                            o->wb, t->st->cf[e->cf], e->key, e->klen);
        if (v)
                (void)keysort(v, n, sizeof(*v), entry_key); /* cannot fail */
        /* What goes elsewhere first, so the batch's buffer is sized for
         * what it holds (in replay ~10% of the bytes: a buffer sized for
         * all of them was ~8 MB of fresh pages a batch, a third of
         * replay's page faults). The WriteBatch keeps the operations'
         * key order, and the SST files theirs. */
        for (size_t i = 0; i < n; i++) {
                ov_entry_t *e = v[i];

                if ((wb >> e->cf & 1) && !e->through)
                        continue; /* replay's write-back: hot_commit */
                if (t->st->sst && /* replay: records into SST files */
                    store_sst_take(t->st->sst, e->cf, e->key, e->klen,
                                   e->state == OV_PUT ? e->val : NULL, e->vlen))
                        continue;
                v[kept++] = e; /* the WriteBatch's, in order */
                room += wbrep_size(e->klen, e->vlen);
        }
        wbrep_init(&w, room);
        for (size_t i = 0; i < kept; i++) {
                ov_entry_t *e = v[i];

                if (wbrep_op(&w, e->state == OV_PUT, t->st->cf_id[e->cf],
                             e->key, e->klen, e->val, e->vlen) < 0)
                        abort(); /* the writer cannot write without it */
        }
        free(v);
        batch = v ? wbrep_batch(&w) : o->wb; /* o->wb: no key order */
        if (!batch)
                abort();
        rc_mark(t, 0);
        rocksdb_write(t->st->db, wo, batch, werr);
        rc_mark(t, 1);
        if (batch != o->wb)
                rocksdb_writebatch_destroy(batch);
        wbrep_free(&w);
}

void txn_set_text(txn_t *t, char *text, size_t len)
{
        free(t->ov->res_text);
        t->ov->res_text = text;
        t->ov->res_len = len;
}

const char *txn_text(const txn_t *t, size_t *len)
{
        *len = t->ov->res_len;
        return t->ov->res_text;
}

size_t txn_size(const txn_t *t)
{
        return t->ov->n;
}

/* 1 if key k sorts before limit (bytewise, a prefix before the longer). */
static int key_below(const char *k, size_t kl, const char *limit, size_t llen)
{
        int c = memcmp(k, limit, kl < llen ? kl : llen);

        return c < 0 || (c == 0 && kl < llen);
}

/* Keys under prefix that sort before limit (limit NULL: no bound): at
 * most max from the database and the batch's puts, in key order, then
 * every such record appended in this batch. */
static void scan_core(txn_t *t, int cf, const char *prefix, size_t plen,
                      const char *limit, size_t llen, size_t max,
                      void (*fn)(void *ctx, const char *k, size_t kl),
                      void *ctx)
{
        rocksdb_iterator_t *it = txn_iter(t, cf);
        size_t n = 0;

        for (rocksdb_iter_seek(it, prefix, plen);
             rocksdb_iter_valid(it) && n < max; rocksdb_iter_next(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                if (kl < plen || memcmp(k, prefix, plen))
                        break;
                if (limit && !key_below(k, kl, limit, llen))
                        break;
                fn(ctx, k, kl);
                n++;
        }
        rocksdb_iter_destroy(it);
        for (ov_entry_t *e = t->ov->appended; e; e = e->order)
                if (e->cf == cf && e->state == OV_PUT && e->klen >= plen &&
                    !memcmp(e->key, prefix, plen) &&
                    (!limit || key_below(e->key, e->klen, limit, llen)))
                        fn(ctx, e->key, e->klen);
}

void txn_scan_prefix(txn_t *t, int cf, const char *prefix, size_t plen,
                     void (*fn)(void *ctx, const char *k, size_t kl),
                     void *ctx)
{
        scan_core(t, cf, prefix, plen, NULL, 0, SIZE_MAX, fn, ctx);
}

typedef struct keylist {
        char **k;
        size_t *kl, n, cap;
} keylist_t;

static void collect(void *ctx, const char *k, size_t kl)
{
        keylist_t *l = ctx;

        if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 64;
                char **nk = realloc(l->k, cap * sizeof(*nk));
                size_t *nl = nk ? realloc(l->kl, cap * sizeof(*nl)) : NULL;

                if (!nk || !nl)
                        abort();
                l->k = nk;
                l->kl = nl;
                l->cap = cap;
        }
        if (!(l->k[l->n] = malloc(kl ? kl : 1)))
                abort();
        memcpy(l->k[l->n], k, kl);
        l->kl[l->n++] = kl;
}

void txn_del_prefix(txn_t *t, int cf, const char *prefix, size_t plen)
{
        keylist_t l = {0};
        rocksdb_iterator_t *it = txn_iter(t, cf);

        for (rocksdb_iter_seek(it, prefix, plen); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                if (kl < plen || memcmp(k, prefix, plen))
                        break;
                collect(&l, k, kl);
        }
        rocksdb_iter_destroy(it);
        for (size_t i = 0; i < l.n; i++) {
                txn_del(t, cf, l.k[i], l.kl[i]);
                free(l.k[i]);
        }
        free(l.k);
        free(l.kl);
        /* appended records (never read back) are dropped in place: a
         * second entry for the same key would race it in the sort */
        for (ov_entry_t *e = t->ov->appended; e; e = e->order)
                if (e->cf == cf && e->klen >= plen &&
                    !memcmp(e->key, prefix, plen))
                        e->state = OV_DEL;
}

char *txn_get_any(txn_t *t, int cf, const char *k, size_t klen, size_t *vlen)
{
        char *v;

        txn_settle(t); /* the previous batch's appended records, written */
        v = txn_get(t, cf, k, klen, vlen);

        if (v)
                return v;
        /* appended in this batch: never in the hash table (the list is
         * newest first; one record per key) */
        for (ov_entry_t *e = t->ov->appended; e; e = e->order)
                if (e->cf == cf && e->state == OV_PUT && e->klen == klen &&
                    !memcmp(e->key, k, klen)) {
                        v = malloc(e->vlen ? e->vlen : 1);
                        if (!v)
                                abort();
                        memcpy(v, e->val, e->vlen);
                        *vlen = e->vlen;
                        return v;
                }
        return NULL;
}

void txn_scan_below(txn_t *t, int cf, const char *prefix, size_t plen,
                    const char *limit, size_t llen, size_t max,
                    void (*fn)(void *ctx, const char *k, size_t kl),
                    void *ctx)
{
        scan_core(t, cf, prefix, plen, limit, llen, max, fn, ctx);
}
