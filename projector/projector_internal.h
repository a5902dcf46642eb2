/*
 * projector_internal.h — shared between store.c and fold.c: the store's
 * handles, column family ids and key builders. Not part of the public face.
 */
#ifndef SCIM_PROJECTOR_INTERNAL_H
#define SCIM_PROJECTOR_INTERNAL_H

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
        CF_COUNT
};

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

/* Folds one event (already decoded, or decode failed: ev NULL with derr)
 * at sequence seq into t; fills *v. Runs on the single writer thread. */
void fold_event(txn_t *t, uint64_t seq, const scim_event_t *ev,
                const scim_err_t *derr, scim_verdict_t *v);

#endif
