/*
 * store_tune.c — how much memory a store may use, and the RocksDB settings
 * of a replay's destination while it is being rebuilt.
 *
 * Memory: a store's RSS is its block cache, its memtables and whatever the
 * writer holds (the fold overlay of one batch). Left alone RocksDB gives
 * each of the 11 column families two 64 MiB memtables, so a long replay's
 * RSS grew toward 1.4 GiB with the data. scim_store_set_memory (called by
 * a command before it opens stores) sets the block cache and one budget
 * for all memtables of a store together (RocksDB's write buffer manager:
 * the largest memtable is flushed when the total reaches the budget).
 *
 * Index and filter blocks are kept in the block cache (store_tune_table),
 * so they too are bounded by it rather than by the size of the data.
 *
 * Replay (store.c scim_store_replay) bulk-loads a new dir nobody reads
 * yet: replay_tune_begin turns automatic compaction off for its column
 * families, replay_tune_end turns it back on and compacts once. None of
 * this changes a key or a value: digests are the same whatever the
 * settings.
 *
 * Threads: scim_store_set_memory before any store is opened (process
 * setup); replay_tune_* on the replay thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

/* Defaults: the block cache serve always had; memtables 128 MiB in all
 * for a store (each column family still switches memtables at 64 MiB). */
static size_t cache_bytes = (size_t)256 << 20;
static size_t write_bytes = (size_t)128 << 20;

void scim_store_set_memory(size_t cache_mb, size_t write_mb)
{
        if (cache_mb)
                cache_bytes = cache_mb << 20;
        if (write_mb)
                write_bytes = write_mb << 20;
}

void store_tune_open(rocksdb_options_t *opts)
{
        size_t per_cf = write_bytes / 2;

        if (per_cf > ((size_t)64 << 20))
                per_cf = (size_t)64 << 20;
        if (per_cf < ((size_t)4 << 20))
                per_cf = (size_t)4 << 20;
        rocksdb_options_set_write_buffer_size(opts, per_cf);
        rocksdb_options_set_db_write_buffer_size(opts, write_bytes);
}

size_t store_tune_cache_bytes(void)
{
        return cache_bytes;
}

void store_tune_table(rocksdb_block_based_table_options_t *topts)
{
        /* index and filter blocks live in the block cache (so they count
         * against its size instead of growing with the data), ahead of
         * data blocks, level 0's pinned */
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(topts,
                                                                      1);
        rocksdb_block_based_options_set_cache_index_and_filter_blocks_with_high_priority(
            topts, 1);
        rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(
            topts, 1);
}

/* Applies "k=v;k=v" to every column family; -1 on a RocksDB refusal. */
static int set_all(scim_store_t *st, const char *spec)
{
        char *copy = strdup(spec), *save = NULL, *kv;
        int rc = 0;

        if (!copy)
                return -1;
        for (kv = strtok_r(copy, ";", &save); kv;
             kv = strtok_r(NULL, ";", &save)) {
                char *eq = strchr(kv, '=');
                const char *k[1], *v[1];

                if (!eq)
                        continue;
                *eq = '\0';
                k[0] = kv;
                v[0] = eq + 1;
                for (int c = 0; c < CF_COUNT; c++) {
                        char *err = NULL;

                        rocksdb_set_options_cf(st->db, st->cf[c], 1, k, v,
                                               &err);
                        if (err) {
                                fprintf(stderr, "replay: option %s: %s\n",
                                        kv, err);
                                free(err);
                                rc = -1;
                        }
                }
        }
        free(copy);
        return rc;
}

/* Bulk load: no compaction while loading (measured at 1M events: less
 * CPU in all than compacting along the way, see README), one at the end.
 * The memtable bloom filters are on in every store (store.c). */
static const char bulk[] = "disable_auto_compactions=true";
static const char serving[] = "disable_auto_compactions=false";

void replay_tune_begin(scim_store_t *dst)
{
        const char *x = getenv("SCIMLOG_REPLAY_OPTS");

        set_all(dst, x ? x : bulk);
}

void replay_tune_end(scim_store_t *dst)
{
        const char *x = getenv("SCIMLOG_REPLAY_OPTS_END");

        set_all(dst, x ? x : serving);
        if (!getenv("SCIMLOG_REPLAY_NO_COMPACT"))
                for (int c = 0; c < CF_COUNT; c++)
                        rocksdb_compact_range_cf(dst->db, dst->cf[c], NULL, 0,
                                                 NULL, 0);
}
