/*
 * projector_internal.h — shared between store.c and fold.c: the store's
 * handles, column family ids and key builders. Not part of the public face.
 */
#ifndef SCIM_PROJECTOR_INTERNAL_H
#define SCIM_PROJECTOR_INTERNAL_H

#include <pthread.h>
#include <rocksdb/c.h>

#include "model/scim_model.h"
#include "projector/scim_projector.h"

enum {
        CF_DEFAULT,
        CF_LOG,
        CF_RES,
        CF_IDX,
        CF_MEM,
        CF_TENANT,
        CF_TOKEN,
        CF_CHANGE,
        CF_CHIDX, /* reports: change indexes, counters, saved reports */
        CF_STREAM, /* change stream records: tenant \0 seq -> record */
        CF_DKEY,   /* tenant data keys (erase.c): never in the log */
        CF_COUNT
};

/* One cached authentication: a live token's hash and what it resolves to.
 * Only positive answers are cached. An entry is trusted while the store's
 * auth generation is unchanged (every batch that folds a tenant or token
 * event bumps it) and for at most AUTH_CACHE_TTL_MS. */
/* Version of the views' key layout ("views_format" in the default column
 * family). Bump it whenever the fold writes keys another way; stores built
 * by an older layout are rebuilt with `scimlog replay`. 0002: unique
 * userName point keys, change records with chidx indexes. 0003: change
 * stream records (column family `stream`), time indexes in apply order.
 * 0004: case-insensitive index keys (userName, displayName, emails) are
 * Unicode caseless keys, NFKC(case fold), no longer ASCII-lowered.
 * 0005: a member's deletion bumps the version of the groups that held it
 * (and their history lists it); tenant definitions (tenant\0M, \0D).
 * 0006: change records name the v3 administration actions (schema_put,
 * token_rotate, tenant_disable, ...) instead of "unknown".
 * 0007: column family dkey (tenant data keys), sealed events.
 * 0009: Kafka mode: the tenant record holds "adminPartition", the admin
 * partition of its TENANT_CREATE (projector/tenant_pin.c).
 * 0010: no per-action change index (chidx tenant\0 A); the time index's
 * value (tenant\0 T time seq) is the record's action.
 * 0011: the member-history index (chidx tenant\0 m, tenant\0 n:
 * projector/memhist.c), "which groups held member U at T".
 * 0012: a tenant's apply time per partition moves from chidx tenant\0 L
 * to the default family's "atime" \0 tenant \0 partition, whose memtable
 * updates rows in place (projector/counters.c, store_tune.c). */
#define SCIM_VIEWS_FORMAT "0012"

#define AUTH_CACHE_SLOTS 256
#define AUTH_CACHE_TTL_MS 1000
typedef struct auth_slot {
        char hash[65];
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        char token_id[40];
        int scope;        /* SCIM_SCOPE_* */
        int64_t expires_ms; /* a rotated token's end, 0 none */
        uint64_t gen;
        int64_t at_ms;
} auth_slot_t;

/* Remembered list positions (deep index paging): the id found at
 * start_index of an unfiltered list, valid while gen equals the store's
 * list_gen (bumped by every batch that creates or deletes anything). */
#define LIST_POS_SLOTS 64
#define POSIDX_SLOTS 16
typedef struct list_pos {
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        char rt;
        size_t start_index;
        char id[SCIM_MAX_ID_LEN + 1];
        uint64_t gen;
        uint64_t used; /* LRU clock */
} list_pos_t;

struct scim_store {
        rocksdb_t *db;
        rocksdb_options_t *opts;
        rocksdb_block_based_table_options_t *topts;
        rocksdb_cache_t *cache;
        rocksdb_filterpolicy_t *bloom;
        rocksdb_column_family_handle_t *cf[CF_COUNT];
        uint32_t cf_id[CF_COUNT]; /* their ids (wbrep.c) */
        rocksdb_readoptions_t *ro;
        rocksdb_writeoptions_t *wo_sync;
        rocksdb_writeoptions_t *wo_nosync;
        uint64_t position; /* written by the single writer, read atomically */
        uint64_t auth_gen; /* bumped (atomically) after token changes land */
        uint64_t dkey_seq; /* under erase.c's key_mu: the last TENANT_DELETE
                              whose fold scanned the data keys */
        /* the tenants whose deletion this store folded since it opened
         * (the fold thread's, erase.c fold_key_erased); erased_many: more
         * than fit */
        char erased_names[16][SCIM_MAX_TENANT_LEN + 1];
        unsigned n_erased_names;
        int erased_many;
        uint64_t model_gen; /* bumped (atomically) after a tenant
                               definition lands (model_store.c) */
        int views_current; /* views built with this SCIM_VIEWS_FORMAT */
        pthread_mutex_t auth_mu; /* guards auth[] */
        void (*watch_fn[4])(void *ctx); /* scim_store_watch (stream.c) */
        void *watch_ctx[4];
        auth_slot_t auth[AUTH_CACHE_SLOTS];
        uint64_t list_gen;      /* bumped (atomically) by creates/deletes */
        pthread_mutex_t pos_mu; /* guards pos[] and pos_clock */
        list_pos_t pos[LIST_POS_SLOTS];
        uint64_t pos_clock;
        /* position indexes (posindex.c); pidx_mu also spans each view
         * write and the application of its creates and deletes */
        pthread_mutex_t pidx_mu;
        struct posidx *pidx[POSIDX_SLOTS];
        uint64_t pidx_clock;
        scim_buf_t pidx_pending; /* the batch's creates and deletes (the
                                    writer's, until posidx_write_end) */
        char *dir;         /* the data dir (snapshot.c) */
        uint64_t log_base; /* the log starts after this position: a log
                              snapshot holds the views at it (snapshot.c) */
        int kafka;         /* the log is a topic: no log snapshots */
        struct txn_hot *hot; /* the writer's hot cache (txn.c) */
        struct store_rcache *rc; /* the API's read cache (readcache.c) */
        struct store_sst *sst; /* replay: records into SST files (store_sst.c) */
        unsigned vector_cfs; /* bit cf: a vector memtable (a replay's new
                                dir, store_tune.c): reads sort it */
        scim_replay_cpu_t replay_cpu; /* the last replay into it */
        uint64_t fold_gets[CF_COUNT]; /* the fold's point reads that went
                                         to RocksDB, by family (txn.c's
                                         lookup; writer thread) */
};

/* After a batch is written: invalidates remembered list positions when
 * any event of it created or deleted something (201/204). */
static inline void store_note_batch(scim_store_t *st,
                                    const scim_verdict_t *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (v[i].status == 201 || v[i].status == 204) {
                        __atomic_add_fetch(&st->list_gen, 1,
                                           __ATOMIC_RELEASE);
                        return;
                }
}

/* keysort.c: like qsort, the n elements of size bytes at base put in
 * (column family, key) order, keys compared bytewise (RocksDB's default
 * comparator, within a column family): the order txn_write gives a
 * batch's operations. key_of gives an element's column family (0-255)
 * and key. Elements with equal (cf, key) keep no particular order. 0, or
 * -1 with base unchanged when a cf is out of range (never for column
 * family ids). Without memory it still sorts (qsort_r). */
typedef void (*keysort_key_fn)(const void *elem, int *cf, const char **key,
                               size_t *klen);
int keysort(void *base, size_t n, size_t size, keysort_key_fn key_of);

/* A WriteBatch written in its serialized form (wbrep.c): the operations
 * of rocksdb_writebatch_put_cf / _delete_cf without their per-call cost.
 * cf is the column family's id (rocksdb_column_family_handle_get_id). */
typedef struct wbrep {
        scim_buf_t b; /* header + operations */
        uint32_t n;   /* operations */
} wbrep_t;
/* An empty batch with room for bytes of operations (a sum of wbrep_size:
 * the most one operation takes; more room is made as needed). */
void wbrep_init(wbrep_t *w, size_t bytes);
size_t wbrep_size(size_t kl, size_t vl);
void wbrep_free(wbrep_t *w);
/* A put of k = v (put 0: a delete of k) in column family id cf; 0 or -1
 * (no memory). */
int wbrep_op(wbrep_t *w, int put, uint32_t cf, const char *k, size_t kl,
             const char *v, size_t vl);
/* A new batch holding w's operations (the caller destroys it), or NULL. */
rocksdb_writebatch_t *wbrep_batch(wbrep_t *w);

/* A fold transaction (txn.c): reads see the batch, then the database.
 * Writes collect in an in-memory overlay and become one plain WriteBatch
 * at txn_write. Single writer thread. */
typedef struct txn {
        scim_store_t *st;
        struct txn_overlay *ov;
} txn_t;

/* Starts an empty transaction on st; release with txn_end. */
/* A committed value (RocksDB's error pointer handled): malloc'd, or NULL
 * when absent or unreadable. */
char *db_get(scim_store_t *st, int cf, const char *k, size_t kl, size_t *vl);

void txn_begin(txn_t *t, scim_store_t *st);
/* Frees everything the transaction holds (written or not). */
void txn_end(txn_t *t);
/* Writes the batch (appended records, then the overlay's last value or
 * tombstone per key) with wo; *werr as rocksdb_write sets it. */
void txn_write(txn_t *t, const rocksdb_writeoptions_t *wo, char **werr);
/* The stored text of the resource the event being folded created or
 * changed (fold.c sets it, taking text, a malloc'd string of len bytes,
 * or NULL at the start of each event; stream.c writes it as the record's
 * "after" instead of printing the resource again). */
void txn_set_text(txn_t *t, char *text, size_t len);
const char *txn_text(const txn_t *t, size_t *len);
/* Number of distinct keys the overlay holds (for batch sizing). */
size_t txn_size(const txn_t *t);

/* Returns a malloc'd value (caller frees) or NULL when absent. */
char *txn_get(txn_t *t, int cf, const char *k, size_t klen, size_t *vlen);
void txn_put(txn_t *t, int cf, const char *k, size_t klen, const char *v,
             size_t vlen);
void txn_del(txn_t *t, int cf, const char *k, size_t klen);
/* txn_get for a key nearly every event reads (a tenant's row, model
 * generation and resource counters, the change records' apply-time and
 * hourly counters): its committed value comes from
 * the writer's hot cache when there, and goes there at txn_committed. */
char *txn_get_hot(txn_t *t, int cf, const char *k, size_t klen, size_t *vlen);
/* After txn_write succeeded (writer thread): the hot cache takes the
 * batch's values of hot keys and of any cached key it wrote or deleted.
 * Not called for a batch that failed: the cache keeps the database's
 * state. txn_hot_free (store close) releases the cache. */
void txn_committed(txn_t *t);
void txn_hot_free(scim_store_t *st);
/* Replay's hot cache (txn.c): every read and write of the stored
 * resources goes through a cache of at most bytes (its slots included), exact
 * because the fold is the new dir's only writer. Before the fold starts;
 * -1 (the small cache stays) when memory is short. */
int txn_hot_replay(scim_store_t *st, size_t bytes);
/* Replay's write-back (after txn_hot_replay): the batches' writes of the
 * column families cfs (not CF_MEM) stay in the hot cache instead of going
 * to RocksDB with their batch; a value evicted from the cache is written
 * when its batch is committed (txn_committed), every other one by
 * txn_hot_flush: before a scan of its column family (txn_iter), when the
 * caller asks (final 0: a write batch) and at the end (final 1: SST files,
 * and write-back stops). A key written many times reaches RocksDB once.
 * -1 when there is no replay cache. Fold thread, the writer idle. */
int txn_hot_write_back(scim_store_t *st, unsigned cfs);
/* memshadow.c: replay's membership rows whole in memory (txn.c's
 * write-back of CF_MEM). new: at most cap bytes held before memsh_over
 * says so (NULL out of memory). get: 1 and the row's value (borrowed)
 * when present. set: a committed put (v) or delete (v NULL) of key k
 * (its parent prefix pl bytes long, hash store_key_hash(CF_MEM, ...)).
 * children: fn per present row under parent prefix p (unordered).
 * flush: fn per dirty row in key order (v NULL: a tombstone to write),
 * then they are clean; returns how many. Fold thread only. */
typedef struct memshadow memshadow_t;
memshadow_t *memsh_new(size_t cap);
void memsh_free(memshadow_t *m);
int memsh_over(const memshadow_t *m);
int memsh_get(const memshadow_t *m, const char *k, size_t kl, uint64_t h,
              const char **v, size_t *vl);
void memsh_set(memshadow_t *m, const char *k, size_t kl, size_t pl, uint64_t h,
               const char *v, size_t vl);
void memsh_children(const memshadow_t *m, const char *p, size_t pl,
                    void (*fn)(void *ctx, const char *k, size_t kl),
                    void *ctx);
size_t memsh_flush(memshadow_t *m,
                   void (*fn)(void *ctx, const char *k, size_t kl,
                              const char *v, size_t vl),
                   void *ctx);
int txn_hot_flush(scim_store_t *st, int final);
/* The first failed write of the write-back (NULL: none); replay fails. */
const char *txn_hot_failed(const scim_store_t *st);
/* How many keys of cf the hot cache holds, and (dirty set) how many of
 * them wait to be written (tests and diagnostics; writer thread). */
size_t txn_hot_held(const scim_store_t *st, int cf, size_t *dirty);
/* A write the fold never reads back in the same batch (log and change
 * records, change indexes): straight into the batch, not the overlay. A
 * key written this way must not also be written with txn_put/txn_del. */
void txn_append(txn_t *t, int cf, const char *k, size_t klen, const char *v,
                size_t vlen);
/* CF_MEM: the children of parent prefix `tenant\0 dir id\0` as they stand
 * in this batch (database rows merged with the batch's puts and deletes),
 * as a new JSON array of the key suffixes in key order (caller owns). */
json_t *txn_children(txn_t *t, const char *prefix, size_t plen);
/* Replay's pipeline (store.c): t's reads see below (the previous batch,
 * being written by another thread; read only) between t's own overlay
 * and the database. Scans and txn_get_any call settle(ctx) first (it
 * waits until below is written) and then read the database alone. */
void txn_stack(txn_t *t, txn_t *below, void (*settle)(void *ctx), void *ctx);
void txn_settle(txn_t *t);
/* Iterator over batch + database for cf; caller destroys it. Correct but
 * slow (copies the batch's keys of cf): prefer txn_children. */
rocksdb_iterator_t *txn_iter(txn_t *t, int cf);
/* Every key of cf starting with prefix as the batch sees it (database,
 * this batch's puts and appends, minus its deletes): fn per key; then
 * txn_del_prefix deletes them all. */
void txn_scan_prefix(txn_t *t, int cf, const char *prefix, size_t plen,
                     void (*fn)(void *ctx, const char *k, size_t kl),
                     void *ctx);
void txn_del_prefix(txn_t *t, int cf, const char *prefix, size_t plen);
/* txn_get that also finds a record txn_append wrote in this batch (a
 * linear walk of the batch's appended records when the key is not
 * elsewhere: for rare readers such as retention). */
char *txn_get_any(txn_t *t, int cf, const char *k, size_t klen, size_t *vlen);
/* Calls fn for keys under prefix that sort before limit: at most max of
 * them from the database and the batch's puts (in key order), then every
 * such record appended in this batch (unordered). The caller sorts and
 * keeps the first max: the smallest max keys are always among these. */
void txn_scan_below(txn_t *t, int cf, const char *prefix, size_t plen,
                    const char *limit, size_t llen, size_t max,
                    void (*fn)(void *ctx, const char *k, size_t kl),
                    void *ctx);

/* The hash of (cf, key) of the fold overlay, the hot cache and the read
 * cache (txn.c); in memory only. */
uint64_t store_key_hash(int cf, const char *k, size_t n);

/* The read cache (readcache.c): point reads of stored resources and the
 * userName index, equal to a RocksDB Get at every moment because
 * txn_write (the only writer of those column families) brackets each
 * write of a cached key with rcache_write_begin / rcache_write_end. */
static inline int rcache_cf(int cf)
{
        return cf == CF_RES || cf == CF_IDX;
}
typedef struct rcache_ticket {
        size_t set;
        uint64_t hash, gen;
        int ok; /* 0: do not insert (no cache, or a write was pending) */
} rcache_ticket_t;
/* At open: a cache of at most budget bytes (0 when too small: none);
 * -1 out of memory. rcache_free at close. */
int rcache_open(scim_store_t *st, size_t budget);
void rcache_free(scim_store_t *st);
/* Any thread. 1: hit, the value appended to out; 0: hit, the key is
 * known absent; -1: miss, *tk filled: read RocksDB, then rcache_put the
 * value read (v NULL: absent; a read error is not put). */
int rcache_get(scim_store_t *st, int cf, const char *k, size_t kl,
               scim_buf_t *out, rcache_ticket_t *tk);
void rcache_put(scim_store_t *st, const rcache_ticket_t *tk, int cf,
                const char *k, size_t kl, const char *v, size_t vl);
/* Writer thread, around the RocksDB write of key (cf, k) (h its
 * store_key_hash): begin before, end after (whether it failed or not). */
void rcache_write_begin(scim_store_t *st, int cf, const char *k, size_t kl,
                        uint64_t h);
void rcache_write_end(scim_store_t *st, int cf, const char *k, size_t kl,
                      uint64_t h);
/* Tests: fn runs between a miss's RocksDB read and its insert. */
void rcache_test_pause(scim_store_t *st, void (*fn)(void));
/* Bytes the entries hold now. */
size_t rcache_bytes(const scim_store_t *st);

/* Position indexes (posindex.c): deep startIndex pages in bounded time.
 * The fold notes each create ('+') and delete ('-') of a resource, and a
 * tenant delete ('X', rt 0, id NULL); the writer brackets each view write
 * with posidx_write_begin / posidx_write_end(ok) (applied when ok, every
 * index dropped when not). posidx_seek appends to key (tenant \0 rt) the
 * id of the last checkpoint at or before start, sets *cp_pos to its
 * position and returns 1; 0 when there is none (start small, no keys). */
struct txn;
void posidx_note(struct txn *t, char sign, const char *tenant, char rt,
                 const char *id);
void posidx_write_begin(scim_store_t *st);
void posidx_write_end(scim_store_t *st, int ok);
int posidx_seek(scim_store_t *st, const char *tenant, char rt, size_t start,
                scim_buf_t *key, size_t *cp_pos);
void posidx_free_all(scim_store_t *st);

/* The member-history index (memhist.c; key layout there). The writer
 * side runs on the writer thread in a fold transaction: memhist_record
 * writes the entries of the event at seq (v its verdict, pre what
 * changes_pre_load read before the fold), memhist_prune folds the entries
 * of the pruned record seq into their bases (retain.c). memhist_groups
 * (any thread, committed state): the ids of the groups (new strings in
 * *ids, sorted bytewise; caller frees each and the array) whose entries
 * say that an id with member's caseless key was a member at as_of_ms: a
 * superset of the groups that held it then. 0, or -1 out of memory. */
struct changes_pre;
void memhist_record(txn_t *t, uint64_t seq, const scim_event_t *ev,
                    const scim_verdict_t *v, const struct changes_pre *pre);
void memhist_prune(txn_t *t, const char *tenant, uint64_t seq);
int memhist_groups(scim_store_t *st, const char *tenant, const char *member,
                   int64_t as_of_ms, char ***ids, size_t *n);
/* Key codec (exposed for the unit test). memhist_fold appends id's
 * caseless key; memhist_prefix sets b to `tenant \0 m key(member) \0`;
 * memhist_key to an entry's key (base: the base's, without seq). 0 or -1.
 * memhist_key_parse splits the key k (kl bytes) after a prefix of plen:
 * 0 an entry (gid, *seq, and the member's id when it is not the prefix's
 * caseless key: *id, else NULL), 1 a base (gid), -1 neither. */
int memhist_fold(scim_buf_t *b, const char *id);
int memhist_prefix(scim_buf_t *b, const char *tenant, const char *member);
int memhist_key(scim_buf_t *b, const char *tenant, const char *member,
                const char *gid, uint64_t seq, int base);
int memhist_key_parse(const char *k, size_t kl, size_t plen, const char **gid,
                      size_t *gidl, uint64_t *seq, const char **id,
                      size_t *idl);

/* Key builder: tenant \0 then parts; returns length. */
size_t key_make(scim_buf_t *b, const char *tenant, char rt, const char *a,
                const char *c);
/* The uniqueness index key (CF_IDX): tenant \0 'X' rt urn \0 name \0 text,
 * text the value as compared (case-folded unless caseExact) -> the id of
 * its holder. */
void key_unique(scim_buf_t *b, const char *tenant, char rt, const char *urn,
                const char *name, const char *text);

/* 1 if folding ev changes what a bearer token authenticates as (tenant and
 * token events): after such a batch lands, the writer bumps st->auth_gen
 * so cached authentications are looked up again. */
static inline int event_changes_model(const scim_event_t *ev)
{
        return ev->action == SCIM_ACT_SCHEMA_PUT ||
               ev->action == SCIM_ACT_SCHEMA_DELETE ||
               ev->action == SCIM_ACT_TENANT_DELETE;
}

static inline int event_changes_auth(const scim_event_t *ev)
{
        return ev->action == SCIM_ACT_TENANT_CREATE ||
               ev->action == SCIM_ACT_TOKEN_ISSUE ||
               ev->action == SCIM_ACT_TOKEN_REVOKE ||
               ev->action == SCIM_ACT_TOKEN_ROTATE ||
               ev->action == SCIM_ACT_TENANT_DISABLE ||
               ev->action == SCIM_ACT_TENANT_ENABLE ||
               ev->action == SCIM_ACT_CLIENT_REVOKE ||
               ev->action == SCIM_ACT_TENANT_DELETE;
}

/* Folds one event (already decoded, or decode failed: ev NULL with derr)
 * at sequence seq into t; fills *v. Runs on the single writer thread. */
/* Tenant models (model_store.c): the model as the transaction sees it (a
 * reference, NULL for the built-in one), the fold of SCHEMA_PUT/DELETE,
 * and dropping a closing store's cache entries. */
scim_model_t *txn_model(txn_t *t, const char *tenant);
void fold_schema(txn_t *t, const scim_event_t *ev, scim_verdict_t *v);
/* 1 when the tenant ever had a definition (committed state; its
 * generation key outlives a SCHEMA_DELETE), 0 when the built-in model was
 * in force at every point of its log: the fold then stored each event's
 * resource as it came (asof.c reads events instead of stream records). */
int store_model_ever(scim_store_t *st, const char *tenant);
/* TENANT_DISABLE / TENANT_ENABLE / TOKEN_ROTATE (admin_fold.c). */
void fold_lifecycle(txn_t *t, const scim_event_t *ev, scim_verdict_t *v);
/* 1 when ev was sealed with a data key a TENANT_DELETE has erased by now
 * (in this batch or one before): an event ingest sealed just before the
 * deletion landed and logged after it. A replay finds its key erased and
 * skips it (scim_store_unseal), so the live fold writes nothing of it
 * either. Checked (one read of the key's row) only for the sealed events
 * of a tenant whose deletion this store folded since it opened; a
 * replay's fold does not ask (its reader found such keys erased). */
int fold_key_erased(txn_t *t, const scim_event_t *ev);

/* TENANT_DELETE: every row of the tenant, its data keys destroyed
 * (erase.c). seq: the event's log position (UINT64_MAX: erase every key
 * present, as in a snapshot older than the deletion). */
void fold_tenant_delete(txn_t *t, uint64_t seq, const scim_event_t *ev,
                        scim_verdict_t *v);
/* For readers opening many sealed events of a tenant (asOf lists,
 * asof.c; any thread, committed state): its data key kid (1), 0 when
 * erased or unknown; and a sealed_json (b64, len bytes) of tenant opened
 * with key, its payload text ({"r","d","m"}, NUL-terminated) appended to
 * *plain: 0, or -1 when damaged or forged (*plain unchanged). */
int erase_data_key(scim_store_t *st, const char *tenant, const char *kid,
                   uint8_t key[32]);
/* A store is being closed: keys cached per thread for it go (erase.c). */
void erase_store_closed(void);
int erase_open(const uint8_t key[32], const char *tenant, const char *b64,
               size_t len, scim_buf_t *plain);
/* Replay of a truncated log (snapshot.c): copies src's base snapshot into
 * dst (every column family but the log and the data keys; dst's position
 * becomes the snapshot's) and a copy of the snapshot into dst's dir; after
 * the fold, marks dst's log as starting after base. 0 or -1 with err. */
int snapshot_restore(scim_store_t *src, uint64_t base, scim_store_t *dst,
                     scim_err_t *err);
int snapshot_finish_replay(scim_store_t *dst, uint64_t base, scim_err_t *err);
/* Rebuilds the tenant's extension-uniqueness keys for model m (NULL:
 * none) from its resources (fold.c; a tenant definition changed). */
void fold_unique_rebuild(txn_t *t, const char *tenant,
                         const scim_model_t *m);
/* TENANT_UPDATE (retain.c): admin_json {"changeRetentionDays": N|0|null,
 * "prune": true}: sets the tenant's change-record retention, then prunes
 * what is due at the event's time (at most SCIM_RETAIN_BUDGET records). */
void fold_tenant_update(txn_t *t, const scim_event_t *ev, scim_verdict_t *v);
/* Tenant partition pins (tenant_pin.c). tenant_pin_txn: the tenant's pin
 * as the batch sees it, -1 unpinned, SCIM_TENANT_NONE no such tenant.
 * tenant_pin_create: puts admin_json's "partition" of a TENANT_CREATE in
 * rec; -1 (v refused) when it is not a valid partition. fold_tenant_pin:
 * folds a TENANT_UPDATE {"partition": P} and returns 1; 0 when the
 * update is not a pin (fold_tenant_update's). */
int tenant_pin_txn(txn_t *t, const char *tenant);
/* The admin partition of the tenant's TENANT_CREATE (same returns), and
 * its recording after a TENANT_CREATE folded from the admin topic. */
int tenant_admin_pin_txn(txn_t *t, const char *tenant);
void tenant_admin_pin_set(txn_t *t, const char *tenant, int32_t partition);
int tenant_pin_create(json_t *rec, const scim_event_t *ev, scim_verdict_t *v);
int fold_tenant_pin(txn_t *t, const scim_event_t *ev, scim_verdict_t *v);
/* Sets (on) or clears the dir's "replay incomplete" mark: a store carrying
 * it is not current and serve refuses it (store.c). 0 or -1. */
int store_replay_mark_set(scim_store_t *dst, int on);
/* The replay's copy of src's data keys into dst (erase.c). */
void store_copy_keys(scim_store_t *src, scim_store_t *dst);
/* store_tune.c: memory settings applied at open. */
void store_tune_open(rocksdb_options_t *opts);
size_t store_tune_cache_bytes(void);
void store_tune_table(rocksdb_block_based_table_options_t *topts);
/* RocksDB's per-thread perf counters off for the calling thread (once). */
void store_tune_thread(void);
/* Per column family options for the open (insert hints; replay set: a
 * replay's new dir): fills cfopts[CF_COUNT] with base or an owned copy
 * (own[CF_COUNT], freed by store_tune_cf_free once the store is open;
 * out of memory: the families left get base). Returns the bits of the
 * families given a vector memtable (replay only). */
unsigned store_tune_cf(const rocksdb_options_t *base,
                       const rocksdb_options_t **cfopts,
                       rocksdb_options_t **own, int replay);
/* Flushes the families with a vector memtable (st->vector_cfs), so the
 * fold's reads of them do not sort it; before a replay batch that reads
 * records or tenant-wide rows. Writer idle. */
void store_tune_flush_vector(scim_store_t *st);
void store_tune_cf_free(rocksdb_options_t **own);
/* store_sst.c: replay's log, change and stream records written straight
 * into SST files and ingested. open: NULL when it cannot be had (replay
 * then writes them as before). take: 1 if the operation (v NULL: a
 * delete) went into a file, 0 to write it in the batch; called with a
 * batch's operations in txn_write's (cf, key) order. ingest: every open
 * file into the db (0 or -1). reads: 1 if folding ev may read those
 * column families from the db (then ingest first). close: ingests what
 * is left, frees s; -1 and *err (malloc'd) after any failure. */
typedef struct store_sst store_sst_t;
/* 1 when a is a SCIM resource write (create, replace, patch, delete) or
 * the refusal of one: the actions the change stream records and that
 * read no log, change or stream row from the database. */
static inline int store_resource_action(scim_action_t a)
{
        return a == SCIM_ACT_CREATE || a == SCIM_ACT_REPLACE ||
               a == SCIM_ACT_PATCH || a == SCIM_ACT_DELETE ||
               a == SCIM_ACT_REFUSED;
}
store_sst_t *store_sst_open(scim_store_t *st);
/* The same for the column families cfs (a bit per cf): txn_hot_flush's
 * last write of replay's write-back. */
store_sst_t *store_sst_open_cfs(scim_store_t *st, unsigned cfs);
int store_sst_take(store_sst_t *s, int cf, const char *k, size_t kl,
                   const char *v, size_t vl);
int store_sst_ingest(store_sst_t *s);
/* 1 after any failure (read while the writer is idle). */
int store_sst_failed(const store_sst_t *s);
int store_sst_reads(const scim_event_t *ev);
int store_sst_close(store_sst_t *s, char **err);
/* Tests: files cut after file raw bytes, back to the batch when one is
 * cut below min by a key out of order; 0, 0: the defaults. */
void store_sst_limits(uint64_t file, uint64_t min);
void model_cache_forget(const void *st);

/* A refusal verdict: status, scimType ("" for none), detail. */
__attribute__((format(printf, 4, 5))) void
refuse(scim_verdict_t *v, int status, const char *type, const char *fmt, ...);

void fold_event(txn_t *t, uint64_t seq, const scim_event_t *ev,
                const scim_err_t *derr, scim_verdict_t *v);
/* on: this thread's verdicts are dropped right after their event (replay):
 * an applied write's verdict then carries no resource tree. */
void fold_set_replay(int on);

/* stored_text.c: a resource's stored form (schemas, id, attrs' other
 * members but members, meta) as a tree (new reference), or printed from
 * attrs: the bytes scim_json_dump writes of that tree (malloc'd, *len),
 * or NULL when that is not certain (then build the tree). */
json_t *fold_build_stored(const json_t *attrs, const char *id,
                          const scim_rtype_row_t *row, const json_t *old,
                          int64_t time_ms, int64_t version);
char *fold_print_stored(const json_t *attrs, const char *id,
                        const scim_rtype_row_t *row, const json_t *old,
                        int64_t time_ms, int64_t version, size_t hint,
                        size_t *len);

/* After a fold batch is durable: wakes the store's watcher (change
 * stream readers; stream.c). Runs on the writer thread. */
void store_notify_folded(scim_store_t *st);

#endif
