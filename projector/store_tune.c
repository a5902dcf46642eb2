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
 * Memtable insert hints (issue 13 item 2): a create writes 12 keys, and
 * in the column families where one batch's keys fall in several regions
 * (the report index's `H`, `L`, `R`, `T` keys of a tenant; the userName
 * and email index keys; the `count` and `position` rows) each insert
 * searched the skiplist from near its top, since RocksDB keeps one
 * "last position" per memtable. With an insert-hint prefix RocksDB keeps
 * one last position per key prefix instead, and the time-ordered keys
 * (ids are UUIDv7, times, sequences) continue from it. The C API has no
 * setter for memtable_insert_with_hint_prefix_extractor; it is set from
 * an option string (store_tune_cf). The prefix is a key's first bytes
 * ("capped"): 6 in the default family ("count\0", "positi", "log_ba"),
 * 8 in the resource, index, member and report-index families, which is
 * tenant \0 and its type byte(s) for tenant names of up to 5-6 bytes
 * (`bench`: callgrind of a POST 315.3k -> ~289k instructions); a longer
 * tenant name shares one hint for its keys, as without hints (no loss).
 * Not in the log, change and stream families, keyed by a sequence from
 * their first byte, where 8 bytes would give each key its own hint (a
 * splice in the memtable's arena per key). Memory: one hint per distinct
 * prefix and memtable. No key or value changes.
 *
 * Rows updated in place (issue 13 item 2, seventh pass): the default
 * family holds rows that every batch overwrites (`position`, the
 * `count` rows, the apply times `atime`, Kafka's `koff`). A skiplist
 * memtable adds a new version per write, in front of the last one (a
 * search from near the top: `position` ~35 key comparisons per write,
 * `count` ~18), and keeps every version until a flush. With
 * inplace_update_support the memtable overwrites the value of an existing
 * row of the same size under a per-row lock (a short search, 2-5
 * comparisons; callgrind of a POST 245.4k -> 238.1k counted). RocksDB
 * requires allow_concurrent_memtable_write off for it; one writer
 * thread writes at a time here anyway. What in-place updates give up:
 * an iterator or snapshot of the default family may see a row's newer
 * value. Nothing reads these rows that way while a writer runs: readers
 * use point Gets (which take the row's lock), iterators of this family
 * run on the writer's own thread (tenant delete) or on a checkpoint
 * (snapshots) or read keys only (is_kafka). A new row (Kafka's `evid`)
 * costs one search more than before. Not for the report index (chidx):
 * its new keys each paid that search (POST +11k).
 *
 * A replay's new dir (scim_store_open_replay, issue 13 item 1): the
 * report index (chidx) takes ~2.7 new keys per replayed event (each
 * resource version's `R` key, random by resource id; the time index's
 * `T`; the member history's `m` and `n`), and nothing reads them while
 * replay writes them. A skiplist memtable searched its levels for each
 * insert (the writer thread's memtable inserts were ~15% of a replay's
 * samples, `FindSpliceForLevel` and the comparator behind it). There
 * the family's memtable is a vector instead: an insert appends, and the
 * flush sorts the vector once. What it gives up: a read of that memtable
 * sorts a copy of it first, so replay keeps the fold's reads of chidx
 * off it (the hourly counters come from the hot cache and its filter,
 * txn.c; before a batch that reads records or tenant-wide rows the
 * family is flushed, store_tune_flush_vector). A served store never
 * opens this way, and the memtable factory is not stored in the dir:
 * reopened by serve, the family has a skiplist again. No key or value
 * changes.
 *
 * Threads: scim_store_set_memory before any store is opened (process
 * setup); store_tune_thread from any thread (its own setting).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

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
        /* for in-place updates of the default family (hint_opts) */
        rocksdb_options_set_allow_concurrent_memtable_write(opts, 0);
}

/* Each column family's options string: its insert-hint prefix, and for
 * the default family updates in place (NULL: the base options). */
static const char *const hint_opts[CF_COUNT] = {
    [CF_DEFAULT] = "memtable_insert_with_hint_prefix_extractor=capped:6;"
                   "inplace_update_support=true;inplace_update_num_locks=16",
    [CF_RES] = "memtable_insert_with_hint_prefix_extractor=capped:8",
    [CF_IDX] = "memtable_insert_with_hint_prefix_extractor=capped:8",
    [CF_MEM] = "memtable_insert_with_hint_prefix_extractor=capped:8",
    [CF_CHIDX] = "memtable_insert_with_hint_prefix_extractor=capped:8",
};

/* The families a replay's new dir gives a vector memtable, with the
 * options string added to their own. */
static const char *const replay_opts[CF_COUNT] = {
    [CF_CHIDX] = "memtable_factory=vector",
};

unsigned store_tune_cf(const rocksdb_options_t *base,
                       const rocksdb_options_t **cfopts,
                       rocksdb_options_t **own, int replay)
{
        unsigned vector = 0;
        int rc = 0;

        for (int i = 0; i < CF_COUNT; i++) {
                const char *more = replay ? replay_opts[i] : NULL;
                char *err = NULL, o[256];

                own[i] = NULL;
                cfopts[i] = base;
                if (rc < 0 || !hint_opts[i])
                        continue;
                if (!(own[i] = rocksdb_options_create())) {
                        rc = -1;
                        continue;
                }
                snprintf(o, sizeof(o), "%s%s%s", hint_opts[i], more ? ";" : "",
                         more ? more : "");
                rocksdb_get_options_from_string(base, o, own[i], &err);
                if (err && more) { /* a library without it: the skiplist */
                        free(err);
                        err = NULL;
                        more = NULL;
                        rocksdb_get_options_from_string(base, hint_opts[i],
                                                        own[i], &err);
                }
                if (err) { /* a library without the option: no hint */
                        free(err);
                        rocksdb_options_destroy(own[i]);
                        own[i] = NULL;
                        continue;
                }
                cfopts[i] = own[i];
                if (more)
                        vector |= 1u << i;
        }
        return vector;
}

void store_tune_flush_vector(scim_store_t *st)
{
        rocksdb_flushoptions_t *fo;

        if (!st->vector_cfs || !(fo = rocksdb_flushoptions_create()))
                return;
        rocksdb_flushoptions_set_wait(fo, 1);
        for (int i = 0; i < CF_COUNT; i++) {
                char *err = NULL;

                if (st->vector_cfs >> i & 1)
                        rocksdb_flush_cf(st->db, fo, st->cf[i], &err);
                free(err); /* a failed flush: the reads are only slower */
        }
        rocksdb_flushoptions_destroy(fo);
}

void store_tune_cf_free(rocksdb_options_t **own)
{
        for (int i = 0; i < CF_COUNT; i++)
                if (own[i])
                        rocksdb_options_destroy(own[i]);
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
