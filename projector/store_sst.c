/*
 * store_sst.c — replay's records written straight into SST files.
 *
 * Three column families of a replayed dir hold records, not views: the
 * log copy and the change records (keyed by sequence) and the change
 * stream (keyed by tenant, then sequence). Together they are ~90% of the
 * bytes a replayed event stores ("Same-run floors"). Through a WriteBatch
 * each record was copied into the batch, inserted into a memtable
 * skiplist, flushed to a level-0 file (block building, snappy) and then
 * compacted into level 1 and below. During replay (store_sst_open) the
 * writer thread instead hands these column families' operations, in the
 * key order txn_write sorts them into, to one SstFileWriter per column
 * family, and files are ingested (rocksdb_ingest_external_file_cf, moved,
 * not copied) when they reach SST_FILE_BYTES, when a key comes out of
 * order, before the fold reads these column families, and at the end.
 * Keys only grow in the log and change families, so their files do not
 * overlap and go straight to the last level: no memtable, no flush, no
 * compaction.
 *
 * Why the database ends the same: an ingested file is newer than
 * everything in the column family at the time it is ingested (RocksDB
 * gives it a sequence number above all it overlaps), files are ingested
 * in the order their operations were written, and nothing else writes
 * these column families during replay (their operations all pass here).
 * A file holds each key at most once (keys strictly increase in it; an
 * operation whose key does not sort after the file's last one closes the
 * file first). Deletes (retention, tenant deletion) are tombstones in a
 * file, likewise ordered. The fold reads these column families from the
 * database only for events other than SCIM resource writes (retention on
 * a tenant update, a tenant deletion): replay ingests every open file
 * before it folds a batch holding such an event (store_sst_reads), so
 * the database then holds everything written before it, as without
 * this file.
 *
 * A column family whose files come out small (a key out of order before
 * SST_MIN_BYTES: many tenants' stream records interleaved) goes back to
 * the WriteBatch for the rest of the replay, after its file is ingested:
 * small overlapping files would only fill level 0.
 *
 * Failure: the first error is kept, every later operation is dropped,
 * replay stops after the batch (store_sst_failed) and store_sst_close
 * reports it; replay then fails and leaves the dir marked
 * replay_incomplete, as for a failed write (unit 0567).
 *
 * Memory: each open writer holds one data block and its file's index and
 * filter (~1 MiB for a 64 MiB file of log records: a hash of 8 bytes per
 * key for the filter, an index entry per block); the file's pages are
 * the kernel's.
 *
 * Threads: the replay writer thread calls store_sst_take; the fold
 * thread calls store_sst_ingest and store_sst_close only while the
 * writer is idle (replay's handoff under its mutex orders the two).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "projector/projector_internal.h"

/* Raw bytes (keys + values) after which a file is finished and ingested:
 * large enough that the per-file costs (a sync, a manifest write) vanish,
 * small enough that a file's index and filter stay small. */
#define SST_FILE_BYTES ((uint64_t)64 << 20)
/* A file cut by a key out of order below this size: the column family
 * goes back to the WriteBatch. */
#define SST_MIN_BYTES ((uint64_t)8 << 20)

/* The column families taken: records keyed by sequence (log, change) or
 * tenant and sequence (stream). */
static const int sst_cfs[] = {CF_LOG, CF_CHANGE, CF_STREAM};

/* In use (tests cut files after a few records, store_sst_limits). */
static uint64_t file_bytes = SST_FILE_BYTES, min_bytes = SST_MIN_BYTES;

void store_sst_limits(uint64_t file, uint64_t min)
{
        file_bytes = file ? file : SST_FILE_BYTES;
        min_bytes = file ? min : SST_MIN_BYTES;
}

typedef struct sst_file {
        rocksdb_sstfilewriter_t *w; /* open file, or NULL */
        char *last;                 /* its last key (malloc'd) */
        size_t last_len, last_cap;
        uint64_t bytes; /* raw bytes added to it */
        char path[4096];
} sst_file_t;

struct store_sst {
        scim_store_t *st;
        rocksdb_envoptions_t *env;
        rocksdb_ingestexternalfileoptions_t *io;
        unsigned mask; /* column families taken now */
        unsigned serial, tag; /* file names: cf, serial, tag (0: none) */
        sst_file_t f[CF_COUNT];
        char *err; /* the first error (malloc'd) */
        uint64_t files, keys;
};

static void sst_fail(store_sst_t *s, const char *what, char *rerr)
{
        if (!s->err) {
                size_t n = strlen(what) + (rerr ? strlen(rerr) : 0) + 3;

                s->err = malloc(n);
                if (s->err)
                        snprintf(s->err, n, "%s%s%s", what, rerr ? ": " : "",
                                 rerr ? rerr : "");
        }
        free(rerr);
        s->mask = 0; /* nothing more is taken; replay fails */
}

static unsigned default_cfs(void)
{
        unsigned cfs = 0;

        for (size_t i = 0; i < sizeof(sst_cfs) / sizeof(*sst_cfs); i++)
                cfs |= 1u << sst_cfs[i];
        return cfs;
}

store_sst_t *store_sst_open(scim_store_t *st)
{
        return store_sst_open_cfs(st, default_cfs());
}

store_sst_t *store_sst_open_cfs(scim_store_t *st, unsigned cfs)
{
        store_sst_t *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->st = st;
        s->env = rocksdb_envoptions_create();
        s->io = rocksdb_ingestexternalfileoptions_create();
        if (!s->env || !s->io) {
                store_sst_close(s, NULL);
                return NULL;
        }
        /* moved into the db (a hard link), not copied */
        rocksdb_ingestexternalfileoptions_set_move_files(s->io, 1);
        s->mask = cfs;
        s->tag = cfs == default_cfs() ? 0 : cfs;
        return s;
}

/* Finishes and ingests cf's open file, if any. */
static void sst_ingest_cf(store_sst_t *s, int cf)
{
        sst_file_t *f = &s->f[cf];
        char *rerr = NULL;
        const char *list[1];

        if (!f->w)
                return;
        if (f->bytes) {
                rocksdb_sstfilewriter_finish(f->w, &rerr);
                if (rerr) {
                        sst_fail(s, "cannot finish an SST file", rerr);
                } else {
                        list[0] = f->path;
                        /* RocksDB's TryAgain: Debian's librocksdb keeps
                         * its debug checks (no NDEBUG), and the ingestion
                         * job's Run() answers TryAgain when the memtable
                         * still overlaps the file after the flush the
                         * ingestion did (external_sst_file_ingestion_job.cc
                         * in 7.8.3). Seen once in ~300 fuzzed replays at
                         * the smallest memory budget under load; another
                         * attempt flushes again, so it is retried for up
                         * to ~5 s */
                        for (int i = 0;; i++) {
                                rocksdb_ingest_external_file_cf(
                                    s->st->db, s->st->cf[cf], list, 1, s->io,
                                    &rerr);
                                if (!rerr || i >= 100 ||
                                    strncmp(rerr, "Operation failed. Try again",
                                            27) != 0)
                                        break;
                                free(rerr);
                                rerr = NULL;
                                usleep(50000);
                        }
                        if (rerr)
                                sst_fail(s, "cannot ingest an SST file", rerr);
                        else
                                s->files++;
                }
        }
        rocksdb_sstfilewriter_destroy(f->w);
        f->w = NULL;
        (void)unlink(f->path); /* moved when ingested; else left over */
        f->last_len = 0;
        f->bytes = 0;
}

static int sst_open_cf(store_sst_t *s, int cf)
{
        sst_file_t *f = &s->f[cf];
        char *rerr = NULL;

        if (s->tag) /* apart from the records' writer's */
                snprintf(f->path, sizeof(f->path), "%s/replay-%d-%u-%x.sst.tmp",
                         s->st->dir, cf, s->serial++, s->tag);
        else
                snprintf(f->path, sizeof(f->path), "%s/replay-%d-%u.sst.tmp",
                         s->st->dir, cf, s->serial++);
        /* the store's options: comparator, table format, compression */
        f->w = rocksdb_sstfilewriter_create(s->env, s->st->opts);
        if (!f->w) {
                sst_fail(s, "cannot create an SST writer", NULL);
                return -1;
        }
        rocksdb_sstfilewriter_open(f->w, f->path, &rerr);
        if (rerr) {
                rocksdb_sstfilewriter_destroy(f->w);
                f->w = NULL;
                sst_fail(s, "cannot open an SST file", rerr);
                return -1;
        }
        return 0;
}

/* 1 if k sorts after f's last key (bytewise, a prefix first). */
static int sst_after_last(const sst_file_t *f, const char *k, size_t kl)
{
        size_t n = kl < f->last_len ? kl : f->last_len;
        int c = memcmp(k, f->last, n);

        return c > 0 || (c == 0 && kl > f->last_len);
}

int store_sst_take(store_sst_t *s, int cf, const char *k, size_t kl,
                   const char *v, size_t vl)
{
        sst_file_t *f;
        char *rerr = NULL;

        if (!s || cf < 0 || cf >= CF_COUNT)
                return 0;
        if (!(s->mask >> cf & 1))
                return s->err != NULL; /* after a failure: dropped */
        f = &s->f[cf];
        if (f->w && f->bytes && !sst_after_last(f, k, kl)) {
                int small = f->bytes < min_bytes;

                sst_ingest_cf(s, cf);
                if (small && !s->err) {
                        s->mask &= ~(1u << cf); /* back to the batch */
                        return 0;
                }
        }
        if (!f->w && sst_open_cf(s, cf) < 0)
                return 1;
        if (v)
                rocksdb_sstfilewriter_put(f->w, k, kl, v, vl, &rerr);
        else
                rocksdb_sstfilewriter_delete(f->w, k, kl, &rerr);
        if (rerr) {
                sst_fail(s, "cannot write an SST file", rerr);
                return 1;
        }
        if (f->last_cap < kl) {
                char *nl = realloc(f->last, kl);

                if (!nl)
                        abort(); /* as the overlay: the writer cannot go on */
                f->last = nl;
                f->last_cap = kl;
        }
        memcpy(f->last, k, kl);
        f->last_len = kl;
        f->bytes += kl + vl;
        s->keys++;
        if (f->bytes >= file_bytes)
                sst_ingest_cf(s, cf);
        return 1;
}

int store_sst_ingest(store_sst_t *s)
{
        if (!s)
                return 0;
        for (int cf = 0; cf < CF_COUNT; cf++)
                sst_ingest_cf(s, cf);
        return s->err ? -1 : 0;
}

int store_sst_failed(const store_sst_t *s)
{
        return s && s->err;
}

int store_sst_reads(const scim_event_t *ev)
{
        /* the SCIM resource writes read none of these column families
         * from the database (retain.c and erase.c do: tenant updates and
         * deletions); an undecoded event folds to a refusal */
        return ev && !store_resource_action(ev->action);
}

int store_sst_close(store_sst_t *s, char **err)
{
        int rc;

        if (err)
                *err = NULL;
        if (!s)
                return 0;
        (void)store_sst_ingest(s);
        rc = s->err ? -1 : 0;
        if (err) {
                *err = s->err;
                s->err = NULL;
        }
        for (int cf = 0; cf < CF_COUNT; cf++)
                free(s->f[cf].last);
        if (s->env)
                rocksdb_envoptions_destroy(s->env);
        if (s->io)
                rocksdb_ingestexternalfileoptions_destroy(s->io);
        free(s->err);
        free(s);
        return rc;
}
