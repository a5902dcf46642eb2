/*
 * projector_internal.h — shared between store.c and fold.c: the store's
 * handles, column family ids and key builders. Not part of the public face.
 */
#ifndef SCIM_PROJECTOR_INTERNAL_H
#define SCIM_PROJECTOR_INTERNAL_H

#include <pthread.h>
#include <rocksdb/c.h>

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
 * stream records (column family `stream`), time indexes in apply order. */
#define SCIM_VIEWS_FORMAT "0003"

#define AUTH_CACHE_SLOTS 256
#define AUTH_CACHE_TTL_MS 1000
typedef struct auth_slot {
        char hash[65];
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        char token_id[40];
        int reports_only; /* token scope "reports" */
        uint64_t gen;
        int64_t at_ms;
} auth_slot_t;

struct scim_store {
        rocksdb_t *db;
        rocksdb_options_t *opts;
        rocksdb_block_based_table_options_t *topts;
        rocksdb_cache_t *cache;
        rocksdb_filterpolicy_t *bloom;
        rocksdb_column_family_handle_t *cf[CF_COUNT];
        rocksdb_readoptions_t *ro;
        rocksdb_writeoptions_t *wo_sync;
        rocksdb_writeoptions_t *wo_nosync;
        uint64_t position; /* written by the single writer, read atomically */
        uint64_t auth_gen; /* bumped (atomically) after token changes land */
        int views_current; /* views built with this SCIM_VIEWS_FORMAT */
        pthread_mutex_t auth_mu; /* guards auth[] */
        void (*watch_fn[4])(void *ctx); /* scim_store_watch (stream.c) */
        void *watch_ctx[4];
        auth_slot_t auth[AUTH_CACHE_SLOTS];
};

/* A fold transaction: reads see the batch, then the database. */
typedef struct txn {
        scim_store_t *st;
        rocksdb_writebatch_wi_t *wb;
} txn_t;

/* Returns a malloc'd value (caller frees) or NULL when absent. */
char *txn_get(txn_t *t, int cf, const char *k, size_t klen, size_t *vlen);
void txn_put(txn_t *t, int cf, const char *k, size_t klen, const char *v,
             size_t vlen);
void txn_del(txn_t *t, int cf, const char *k, size_t klen);
/* Iterator over batch + database for cf; caller destroys it. */
rocksdb_iterator_t *txn_iter(txn_t *t, int cf);

/* Key builder: tenant \0 then parts; returns length. */
size_t key_make(scim_buf_t *b, const char *tenant, char rt, const char *a,
                const char *c);

/* 1 if folding ev changes what a bearer token authenticates as (tenant and
 * token events): after such a batch lands, the writer bumps st->auth_gen
 * so cached authentications are looked up again. */
static inline int event_changes_auth(const scim_event_t *ev)
{
        return ev->action == SCIM_ACT_TENANT_CREATE ||
               ev->action == SCIM_ACT_TOKEN_ISSUE ||
               ev->action == SCIM_ACT_TOKEN_REVOKE;
}

/* Folds one event (already decoded, or decode failed: ev NULL with derr)
 * at sequence seq into t; fills *v. Runs on the single writer thread. */
void fold_event(txn_t *t, uint64_t seq, const scim_event_t *ev,
                const scim_err_t *derr, scim_verdict_t *v);

/* After a fold batch is durable: wakes the store's watcher (change
 * stream readers; stream.c). Runs on the writer thread. */
void store_notify_folded(scim_store_t *st);

#endif
