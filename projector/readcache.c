/*
 * readcache.c — a bounded in-memory cache of the API's point reads of the
 * views: stored resources (column family `res`, GET by id) and the
 * userName index (`idx`, filter `userName eq`). A hit copies the value
 * from memory instead of a RocksDB Get (~11k instructions even from the
 * block cache: issue 13 item 3, README "Reads against the no-op, fourth
 * pass").
 *
 * The one rule: a hit returns what a RocksDB Get of the same key would
 * return at that moment. Every write of these column families goes through
 * txn_write (txn.c; nothing else writes `res` or `idx` of a store that
 * serves), which brackets the RocksDB write of each such key with
 * rcache_write_begin / rcache_write_end. Each set of the cache carries a
 * generation and a count of writes in flight, both changed only under
 * the set's lock:
 *  - begin: pending++ and the key's entry dropped (before the write is
 *    visible);
 *  - end:   pending--, generation++ and the entry dropped again (after
 *    the write returned);
 *  - a reader that misses takes a ticket (the set's generation, and
 *    whether a write was pending) under the lock, reads RocksDB without
 *    the lock, and inserts under the lock only if the generation is
 *    unchanged and nothing is pending.
 * So an entry is only ever inserted by a reader whose Get ran while no
 * write of any key of the set began or ended, and an entry present at a
 * moment has had no write of its key made visible since its Get (a write
 * drops it before becoming visible and no insert can happen until the
 * write ended, after which an older ticket is refused). The classic race
 * — a reader reads the old value, the writer commits and invalidates,
 * the reader inserts the old value — is refused by the generation check;
 * a reader that raced the write's begin is refused by pending. Unit 0580
 * runs that race with threads and a widened window. The live fold, Kafka
 * mode, tenant deletion and erasure, retention and PATCH/PUT/DELETE all
 * write through txn_write; restore and replay build another data dir
 * (another store, another cache), and a store's cache dies with it.
 * Absence is cached too (a 404, a userName nobody holds), under the
 * same rule: a put of the key drops it.
 *
 * Memory: RC_SETS(budget) sets of RC_WAYS entries, each entry one malloc
 * (key, then value); values over RC_MAX_VALUE are not cached, and an
 * insert that would take the entries past the budget is skipped. The
 * budget is an eighth of the store's block cache (store_tune.c: 32 MiB
 * with serve's defaults, `--memory-mb` scales it), so a store's memory is
 * still bounded by configuration. The set array (~220 bytes a set) is
 * calloc'd at open; its pages are touched only by use. Keys carry their
 * tenant (`tenant \0 ...`), so tenants never share an entry.
 *
 * Threads: any http pool thread reads and inserts; the single writer
 * thread (ingest committer, Kafka projector, replay's write thread)
 * begins and ends writes. Locks: each set's mutex, held for a lookup, an
 * insert or a mark; never while RocksDB is read or written.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

#define RC_WAYS 4
#define RC_MAX_VALUE ((size_t)16 << 10)
/* a typical stored user is ~0.7 KB: sets for budget / 512 bytes a way */
#define RC_BYTES_PER_WAY 512

typedef struct rc_entry {
        uint64_t hash;
        char *kv; /* key then value, malloc'd; NULL: empty way */
        uint32_t klen, vlen;
        int cf;
        int present;  /* 0: the key is known absent */
        uint64_t use; /* set clock at the last hit or insert (LRU) */
} rc_entry_t;

/* The lock and the counters share the set's first cache line: a hit
 * touches the set, then its value. */
typedef struct rc_set {
        pthread_mutex_t mu;
        uint32_t pending; /* writes of a key of this set in flight */
        uint32_t clock;
        uint64_t gen; /* writes of a key of this set that ended */
        rc_entry_t e[RC_WAYS];
} rc_set_t;

struct store_rcache {
        rc_set_t *sets;
        size_t nsets; /* a power of two */
        size_t budget;
        size_t used;         /* bytes held by entries (atomic) */
        void (*pause)(void); /* tests: runs between a miss's Get and
                                its insert (rcache_test_pause) */
};

static size_t entry_bytes(size_t klen, size_t vlen)
{
        return klen + vlen + sizeof(rc_entry_t);
}

int rcache_open(scim_store_t *st, size_t budget)
{
        struct store_rcache *rc;
        size_t want, n = 64;

        if (budget < ((size_t)1 << 20))
                return 0; /* too small to be worth it: no cache */
        rc = calloc(1, sizeof(*rc));
        if (!rc)
                return -1;
        want = budget / (RC_WAYS * RC_BYTES_PER_WAY);
        while (n * 2 <= want)
                n *= 2;
        rc->sets = calloc(n, sizeof(*rc->sets));
        if (!rc->sets) {
                free(rc);
                return -1;
        }
        rc->nsets = n;
        rc->budget = budget;
        for (size_t i = 0; i < n; i++)
                pthread_mutex_init(&rc->sets[i].mu, NULL);
        st->rc = rc;
        return 0;
}

void rcache_free(scim_store_t *st)
{
        struct store_rcache *rc = st->rc;

        if (!rc)
                return;
        for (size_t i = 0; i < rc->nsets; i++) {
                for (int w = 0; w < RC_WAYS; w++)
                        free(rc->sets[i].e[w].kv);
                pthread_mutex_destroy(&rc->sets[i].mu);
        }
        free(rc->sets);
        free(rc);
        st->rc = NULL;
}

static rc_entry_t *find(rc_set_t *s, uint64_t h, int cf, const char *k,
                        size_t kl)
{
        for (int w = 0; w < RC_WAYS; w++) {
                rc_entry_t *e = &s->e[w];

                if (e->kv && e->hash == h && e->cf == cf && e->klen == kl &&
                    !memcmp(e->kv, k, kl))
                        return e;
        }
        return NULL;
}

/* Empties e; returns its kv for the caller to free outside the lock. */
static char *drop(struct store_rcache *rc, rc_entry_t *e)
{
        char *kv = e->kv;

        if (kv)
                __atomic_sub_fetch(&rc->used, entry_bytes(e->klen, e->vlen),
                                   __ATOMIC_RELAXED);
        e->kv = NULL;
        return kv;
}

int rcache_get(scim_store_t *st, int cf, const char *k, size_t kl,
               scim_buf_t *out, rcache_ticket_t *tk)
{
        struct store_rcache *rc = st->rc;
        uint64_t h;
        rc_set_t *s;
        rc_entry_t *e;
        pthread_mutex_t *mu;
        int rv = -1;

        tk->ok = 0;
        if (!rc)
                return -1;
        h = store_key_hash(cf, k, kl);
        tk->set = (size_t)(h >> 20) & (rc->nsets - 1);
        tk->hash = h;
        s = &rc->sets[tk->set];
        mu = &s->mu;
        pthread_mutex_lock(mu);
        e = find(s, h, cf, k, kl);
        if (e) {
                e->use = ++s->clock;
                if (e->present)
                        scim_buf_append(out, e->kv + e->klen, e->vlen);
                rv = e->present;
        } else if (s->pending == 0) {
                tk->gen = s->gen;
                tk->ok = 1;
        }
        pthread_mutex_unlock(mu);
        return rv;
}

void rcache_put(scim_store_t *st, const rcache_ticket_t *tk, int cf,
                const char *k, size_t kl, const char *v, size_t vl)
{
        struct store_rcache *rc = st->rc;
        rc_set_t *s;
        rc_entry_t *e, *victim = NULL;
        pthread_mutex_t *mu;
        size_t need;
        char *kv, *old = NULL;

        if (!rc || !tk->ok || (v && vl > RC_MAX_VALUE))
                return;
        if (rc->pause)
                rc->pause();
        need = entry_bytes(kl, v ? vl : 0);
        kv = malloc(kl + (v ? vl : 0) + 1);
        if (!kv)
                return; /* not cached: the next read goes to RocksDB */
        memcpy(kv, k, kl);
        if (v)
                memcpy(kv + kl, v, vl);
        s = &rc->sets[tk->set];
        mu = &s->mu;
        pthread_mutex_lock(mu);
        if (s->gen != tk->gen || s->pending != 0 ||
            find(s, tk->hash, cf, k, kl)) {
                /* a write of this set began or ended since the ticket
                 * (the value read may be older than the database), or
                 * another reader inserted it meanwhile */
                pthread_mutex_unlock(mu);
                free(kv);
                return;
        }
        for (int w = 0; w < RC_WAYS; w++) {
                e = &s->e[w];
                if (!e->kv) {
                        victim = e;
                        break;
                }
                if (!victim || e->use < victim->use)
                        victim = e;
        }
        if (__atomic_load_n(&rc->used, __ATOMIC_RELAXED) + need -
                (victim->kv ? entry_bytes(victim->klen, victim->vlen) : 0) >
            rc->budget) {
                pthread_mutex_unlock(mu);
                free(kv);
                return; /* the budget is full: keep what is there */
        }
        old = drop(rc, victim);
        victim->kv = kv;
        victim->hash = tk->hash;
        victim->cf = cf;
        victim->klen = (uint32_t)kl;
        victim->vlen = v ? (uint32_t)vl : 0;
        victim->present = v != NULL;
        victim->use = ++s->clock;
        __atomic_add_fetch(&rc->used, need, __ATOMIC_RELAXED);
        pthread_mutex_unlock(mu);
        free(old);
}

/* Marks the set of key (cf, k) with hash h: begin (end = 0) or end of a
 * write; the key's entry is dropped either way. */
static void mark(scim_store_t *st, int cf, const char *k, size_t kl, uint64_t h,
                 int end)
{
        struct store_rcache *rc = st->rc;
        size_t i;
        rc_set_t *s;
        rc_entry_t *e;
        pthread_mutex_t *mu;
        char *old = NULL;

        if (!rc)
                return;
        i = (size_t)(h >> 20) & (rc->nsets - 1);
        s = &rc->sets[i];
        mu = &s->mu;
        pthread_mutex_lock(mu);
        if (end) {
                s->pending--;
                s->gen++;
        } else {
                s->pending++;
        }
        e = find(s, h, cf, k, kl);
        if (e)
                old = drop(rc, e);
        pthread_mutex_unlock(mu);
        free(old);
}

void rcache_write_begin(scim_store_t *st, int cf, const char *k, size_t kl,
                        uint64_t h)
{
        mark(st, cf, k, kl, h, 0);
}

void rcache_write_end(scim_store_t *st, int cf, const char *k, size_t kl,
                      uint64_t h)
{
        mark(st, cf, k, kl, h, 1);
}

void rcache_test_pause(scim_store_t *st, void (*fn)(void))
{
        if (st->rc)
                st->rc->pause = fn;
}

size_t rcache_bytes(const scim_store_t *st)
{
        return st->rc ? __atomic_load_n(&st->rc->used, __ATOMIC_RELAXED) : 0;
}
