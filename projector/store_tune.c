/*
 * store_tune.c — how much memory a store may use.
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
 * None of this changes a key or a value: digests are the same whatever
 * the settings. (Measured and not kept, README "Replay": replay without
 * automatic compaction and one compaction at the end saves ~4% CPU at 1M
 * events but lets level 0 grow with the data, so every read and iterator
 * of the fold gets slower as the log grows; batches of 8,000 events
 * instead of 2,000 save nothing and hold more memory.)
 *
 * Per-thread counters: RocksDB counts every key comparison, block read
 * and memtable step in a thread-local perf context unless the calling
 * thread's perf level says not to (its default counts). Nothing here
 * reads those counters, and reaching the thread-local context from a
 * shared library cost ~10% of a memtable insert (callgrind of replay:
 * __tls_get_addr and the context's TLS init behind each comparison), so
 * the threads that write and fold switch it off (store_tune_thread).
 *
 * Threads: scim_store_set_memory before any store is opened (process
 * setup); store_tune_thread from any thread (its own setting).
 */
#include <stddef.h>

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

void store_tune_thread(void)
{
        static __thread int done;

        if (!done) {
                rocksdb_set_perf_level(rocksdb_disable);
                done = 1;
        }
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
