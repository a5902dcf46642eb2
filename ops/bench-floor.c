/*
 * bench-floor.c — same-run ceilings for ops/bench (issue 13 items 1-2):
 * what the storage alone reaches on this machine, so that "the target is
 * out of reach" is a printed figure, not an argument. Not part of CTest:
 * it prints figures, it asserts nothing.
 *
 *   bench-floor write SRC DST MEMORY_MB [BATCH]
 *       Replay's storage floor. Reads every key and value of every column
 *       family of SRC (a dir `scimlog replay` just built) into memory, then
 *       times writing exactly those into a fresh store DST opened as replay
 *       opens its new dir (scim_store_open_replay: the same column families
 *       and options, store_tune.c's budget for --memory-mb MEMORY_MB), without
 *       the WAL as replay writes, in batches of BATCH events' worth of keys
 *       (default 2,000, REPLAY_BATCH of projector/store.c), every column
 *       family's share in each batch; the log, change and stream records
 *       go into SST files and are ingested, as replay writes them
 *       (projector/store_sst.c), the other families through the batch;
 *       the time ends when the files are ingested and the store is
 *       closed (its memtables flushed and waited for). No decode, no fold.
 *       Optimistic: the keys go in sorted order, and only the keys alive
 *       at the end are written (replay also writes what later PATCHes
 *       overwrite and deletes remove). Prints
 *         floor events=N keys=K bytes=B secs=S events_s=X cpu_s=C
 *           cpu_us_per_event=U
 *       and a `# ` line of keys and bytes per event by column family.
 *
 *   bench-floor fsync DIR CONNS SECONDS [RECORD_BYTES]
 *       POST's durability floor. CONNS threads, each a closed loop like a
 *       wrk connection: append one record (default 1,024 bytes) and wait
 *       until it is durable, then the next. Two rounds of SECONDS each:
 *         file  the records go to one file (DIR/floor.log) with a group
 *               commit: whoever finds no sync running writes every record
 *               queued so far and fdatasyncs once; the others wait for it
 *         wal   the records are put into column family `log` of a store
 *               opened with scim_store_open (the server's options), each
 *               put synced (RocksDB's own write group commit and WAL sync:
 *               what a durable POST's log write needs, without the views)
 *       Prints per round
 *         floor mode=M conns=N records=R secs=S rec_s=X p50_ms=Y p99_ms=Z
 *           cpu_us_per_record=C syncs=G records_per_sync=P
 *       (syncs: the file round's fdatasyncs; 0 for wal, whose syncs
 *       RocksDB makes).
 *
 * Threads: `write` runs on the main thread (plus RocksDB's flush and
 * compaction threads); `fsync` starts CONNS threads that share one group
 * (mutex + condition variable) in the file round and RocksDB's writer
 * queue in the wal round.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "projector/projector_internal.h"

#define REPLAY_BATCH_EVENTS 2000 /* projector/store.c REPLAY_BATCH */

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process (every thread, RocksDB's too). */
static double cpu_s(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------ write */

/* One column family's keys and values as read: records of
 * [u32 klen][u32 vlen][key][value] in key order. */
typedef struct cfdata {
        char *data;
        size_t len, cap;
        size_t keys, kbytes, vbytes;
        size_t at, done; /* write position: bytes and keys written */
        char *name;      /* owned */
} cfdata_t;

static int cf_append(cfdata_t *c, const char *k, size_t kl, const char *v,
                     size_t vl)
{
        size_t need = 8 + kl + vl;
        uint32_t l[2] = {(uint32_t)kl, (uint32_t)vl};

        if (c->len + need > c->cap) {
                size_t cap = c->cap ? c->cap : (size_t)1 << 20;
                char *d;

                while (cap < c->len + need)
                        cap *= 2;
                d = realloc(c->data, cap);
                if (!d)
                        return -1;
                c->data = d;
                c->cap = cap;
        }
        memcpy(c->data + c->len, l, 8);
        memcpy(c->data + c->len + 8, k, kl);
        memcpy(c->data + c->len + 8 + kl, v, vl);
        c->len += need;
        c->keys++;
        c->kbytes += kl;
        c->vbytes += vl;
        return 0;
}

/* Reads every column family of src into cf[]; 0 or -1. */
static int load(scim_store_t *src, cfdata_t *cf)
{
        rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
        int rc = 0;

        rocksdb_readoptions_set_fill_cache(ro, 0);
        for (int c = 0; c < CF_COUNT && rc == 0; c++) {
                rocksdb_iterator_t *it =
                    rocksdb_create_iterator_cf(src->db, ro, src->cf[c]);
                size_t nl;
                char *nm =
                    rocksdb_column_family_handle_get_name(src->cf[c], &nl);

                /* not NUL-terminated */
                cf[c].name = nm ? strndup(nm, nl) : NULL;
                free(nm);
                if (!cf[c].name)
                        rc = -1;
                for (rocksdb_iter_seek_to_first(it);
                     rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
                        size_t kl, vl;
                        const char *k = rocksdb_iter_key(it, &kl);
                        const char *v = rocksdb_iter_value(it, &vl);

                        rc = cf_append(&cf[c], k, kl, v, vl);
                }
                rocksdb_iter_destroy(it);
        }
        rocksdb_readoptions_destroy(ro);
        return rc;
}

/* Adds cf's records up to key number upto to wb, or to replay's SST
 * files (sst, NULL for none) for the families replay writes there. */
static void put_upto(rocksdb_writebatch_t *wb, store_sst_t *sst, int cf,
                     rocksdb_column_family_handle_t *h, cfdata_t *c,
                     size_t upto)
{
        while (c->done < upto) {
                uint32_t l[2];
                const char *k = c->data + c->at + 8;

                memcpy(l, c->data + c->at, 8);
                if (!store_sst_take(sst, cf, k, l[0], k + l[0], l[1]))
                        rocksdb_writebatch_put_cf(wb, h, k, l[0], k + l[0],
                                                  l[1]);
                c->at += 8 + (size_t)l[0] + l[1];
                c->done++;
        }
}

static int write_floor(const char *srcdir, const char *dstdir, long mb,
                       long batch)
{
        scim_store_t *src = NULL, *dst = NULL;
        cfdata_t cf[CF_COUNT];
        char errstr[512];
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
        uint64_t n;
        size_t keys = 0, bytes = 0;
        double t, c0;
        int rc = 1;

        memset(cf, 0, sizeof(cf));
        /* what `scimlog replay --memory-mb` sets (scimlog.c) */
        scim_store_set_memory((size_t)(mb - mb / 3), (size_t)(mb / 3));
        if (scim_store_open(srcdir, &src, errstr, sizeof(errstr)) < 0) {
                fprintf(stderr, "%s: %s\n", srcdir, errstr);
                goto out;
        }
        n = scim_store_position(src);
        if (n == 0 || load(src, cf) < 0) {
                fprintf(stderr, "%s: nothing to read or no memory\n", srcdir);
                goto out;
        }
        scim_store_close(src);
        src = NULL;
        if (scim_store_open_replay(dstdir, &dst, errstr, sizeof(errstr)) <
            0) {
                fprintf(stderr, "%s: %s\n", dstdir, errstr);
                goto out;
        }
        rocksdb_writeoptions_disable_WAL(wo, 1); /* as replay writes */
        store_tune_thread();                     /* as replay's writer */
        t = now_s();
        c0 = cpu_s();
        dst->sst = store_sst_open(dst); /* NULL: all through the batch */
        for (uint64_t e = 0; e < n;) {
                char *err = NULL;

                e = e + (uint64_t)batch < n ? e + (uint64_t)batch : n;
                for (int c = 0; c < CF_COUNT; c++)
                        put_upto(
                            wb, dst->sst, c, dst->cf[c], &cf[c],
                            (size_t)((unsigned __int128)cf[c].keys * e / n));
                rocksdb_write(dst->db, wo, wb, &err);
                rocksdb_writebatch_clear(wb);
                if (err) {
                        fprintf(stderr, "write: %s\n", err);
                        free(err);
                        goto out;
                }
        }
        {
                char *serr = NULL;
                int sc = store_sst_close(dst->sst, &serr);

                dst->sst = NULL;
                if (sc < 0) {
                        fprintf(stderr, "sst: %s\n", serr ? serr : "failed");
                        free(serr);
                        goto out;
                }
        }
        scim_store_close(dst); /* flushes every memtable and waits */
        dst = NULL;
        t = now_s() - t;
        c0 = cpu_s() - c0;
        printf("# per event, by column family (keys alive at the end):");
        for (int c = 0; c < CF_COUNT; c++) {
                keys += cf[c].keys;
                bytes += cf[c].kbytes + cf[c].vbytes;
                if (cf[c].keys)
                        printf(" %s %.2f keys %.0f B;", cf[c].name,
                               (double)cf[c].keys / (double)n,
                               (double)(cf[c].kbytes + cf[c].vbytes) /
                                   (double)n);
        }
        printf(" total %.2f keys %.0f B\n", (double)keys / (double)n,
               (double)bytes / (double)n);
        printf("floor events=%llu keys=%zu bytes=%zu secs=%.2f events_s=%.0f "
               "cpu_s=%.2f cpu_us_per_event=%.2f\n",
               (unsigned long long)n, keys, bytes, t, (double)n / t, c0,
               c0 * 1e6 / (double)n);
        rc = 0;
out:
        scim_store_close(src);
        if (dst && dst->sst) { /* failed before the end */
                (void)store_sst_close(dst->sst, NULL);
                dst->sst = NULL;
        }
        scim_store_close(dst);
        for (int c = 0; c < CF_COUNT; c++) {
                free(cf[c].data);
                free(cf[c].name);
        }
        rocksdb_writebatch_destroy(wb);
        rocksdb_writeoptions_destroy(wo);
        return rc;
}

/* ------------------------------------------------------------ fsync */

/* Shared by the fsync round's threads. mu guards the group: q (records
 * waiting for a sync), queued, synced, syncing, syncs. */
typedef struct fgroup {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        char *q, *spare;
        size_t qlen, qcap;
        uint64_t queued, synced, syncs;
        int syncing, fd, failed;
        scim_store_t *st; /* wal round */
        uint64_t key;     /* wal round: next key (atomic) */
        size_t rec;       /* record bytes */
        double stop;      /* now_s() deadline */
} fgroup_t;

/* One connection's latencies (ms). */
typedef struct fconn {
        fgroup_t *g;
        double *lat;
        size_t n, cap;
        int ok;
} fconn_t;

/* Appends one record and waits until a sync covers it (file round). */
static int file_append(fgroup_t *g, const char *rec)
{
        uint64_t mine;
        int rc = 0;

        pthread_mutex_lock(&g->mu);
        memcpy(g->q + g->qlen, rec, g->rec);
        g->qlen += g->rec;
        mine = ++g->queued;
        while (g->synced < mine && !g->failed) {
                if (!g->syncing) {
                        /* lead a group: everything queued so far */
                        char *buf = g->q;
                        size_t len = g->qlen;
                        uint64_t upto = g->queued;
                        ssize_t w = 0;

                        g->syncing = 1;
                        g->q = g->spare;
                        g->spare = buf;
                        g->qlen = 0;
                        pthread_mutex_unlock(&g->mu);
                        for (size_t off = 0; off < len && w >= 0;
                             off += (size_t)w)
                                w = write(g->fd, buf + off, len - off);
                        if (w < 0 || fdatasync(g->fd) < 0)
                                rc = -1;
                        pthread_mutex_lock(&g->mu);
                        g->syncing = 0;
                        g->syncs++;
                        if (rc < 0)
                                g->failed = 1;
                        else
                                g->synced = upto;
                        pthread_cond_broadcast(&g->cv);
                } else {
                        pthread_cond_wait(&g->cv, &g->mu);
                }
        }
        rc = g->failed ? -1 : 0;
        pthread_mutex_unlock(&g->mu);
        return rc;
}

static int wal_append(fgroup_t *g, const char *rec)
{
        uint64_t k = __atomic_fetch_add(&g->key, 1, __ATOMIC_RELAXED);
        unsigned char key[8];
        char *err = NULL;

        scim_put_be64(key, k);
        rocksdb_put_cf(g->st->db, g->st->wo_sync, g->st->cf[CF_LOG],
                       (const char *)key, 8, rec, g->rec, &err);
        free(err);
        return err ? -1 : 0;
}

static void *conn_main(void *arg)
{
        fconn_t *c = arg;
        fgroup_t *g = c->g;
        char *rec = malloc(g->rec);

        c->ok = rec != NULL;
        if (rec)
                memset(rec, 'x', g->rec);
        store_tune_thread();
        while (c->ok) {
                double t = now_s();

                if (t >= g->stop)
                        break;
                if ((g->st ? wal_append(g, rec) : file_append(g, rec)) < 0) {
                        c->ok = 0;
                        break;
                }
                if (c->n == c->cap) {
                        size_t cap = c->cap ? c->cap * 2 : 65536;
                        double *l = realloc(c->lat, cap * sizeof(*l));

                        if (!l) {
                                c->ok = 0;
                                break;
                        }
                        c->lat = l;
                        c->cap = cap;
                }
                c->lat[c->n++] = (now_s() - t) * 1000;
        }
        free(rec);
        return NULL;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/* One round; 0 or -1. */
static int fsync_round(const char *mode, fgroup_t *g, int conns, double secs)
{
        fconn_t *c = calloc((size_t)conns, sizeof(*c));
        pthread_t *th = calloc((size_t)conns, sizeof(*th));
        double *all = NULL, t, c0;
        size_t n = 0, k = 0;
        int started = 0, rc = -1;

        if (!c || !th)
                goto out;
        t = now_s();
        c0 = cpu_s();
        g->stop = t + secs;
        for (; started < conns; started++) {
                c[started].g = g;
                if (pthread_create(&th[started], NULL, conn_main, &c[started]))
                        break;
        }
        for (int i = 0; i < started; i++)
                pthread_join(th[i], NULL);
        t = now_s() - t;
        c0 = cpu_s() - c0;
        for (int i = 0; i < started; i++)
                n += c[i].n;
        all = malloc((n ? n : 1) * sizeof(*all));
        if (!all || started < conns || !n)
                goto out;
        for (int i = 0; i < started; i++) {
                if (!c[i].ok)
                        goto out;
                memcpy(all + k, c[i].lat, c[i].n * sizeof(*all));
                k += c[i].n;
        }
        qsort(all, n, sizeof(*all), cmp_double);
        printf("floor mode=%s conns=%d records=%zu secs=%.2f rec_s=%.0f "
               "p50_ms=%.3f p99_ms=%.3f cpu_us_per_record=%.1f syncs=%llu "
               "records_per_sync=%.1f\n",
               mode, conns, n, t, (double)n / t, all[n / 2],
               all[(size_t)((double)n * 0.99)], c0 * 1e6 / (double)n,
               (unsigned long long)g->syncs,
               g->syncs ? (double)n / (double)g->syncs : 0.0);
        rc = 0;
out:
        if (rc < 0)
                fprintf(stderr, "fsync floor (%s): a write or sync failed\n",
                        mode);
        for (int i = 0; c && i < conns; i++)
                free(c[i].lat);
        free(c);
        free(th);
        free(all);
        return rc;
}

static int fsync_floor(const char *dir, int conns, double secs, size_t rec)
{
        fgroup_t g;
        char path[4096], errstr[512];
        int rc = 1;

        memset(&g, 0, sizeof(g));
        pthread_mutex_init(&g.mu, NULL);
        pthread_cond_init(&g.cv, NULL);
        g.rec = rec;
        g.qcap = rec * (size_t)conns; /* each connection queues at most one */
        g.q = malloc(g.qcap);
        g.spare = malloc(g.qcap);
        snprintf(path, sizeof(path), "%s/floor.log", dir);
        g.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
        if (!g.q || !g.spare || g.fd < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                goto out;
        }
        if (fsync_round("file", &g, conns, secs) < 0)
                goto out;
        snprintf(path, sizeof(path), "%s/floor.store", dir);
        if (scim_store_open(path, &g.st, errstr, sizeof(errstr)) < 0) {
                fprintf(stderr, "%s: %s\n", path, errstr);
                goto out;
        }
        g.syncs = 0;
        if (fsync_round("wal", &g, conns, secs) < 0)
                goto out;
        rc = 0;
out:
        scim_store_close(g.st);
        if (g.fd >= 0)
                close(g.fd);
        free(g.q);
        free(g.spare);
        pthread_mutex_destroy(&g.mu);
        pthread_cond_destroy(&g.cv);
        return rc;
}

int main(int argc, char **argv)
{
        if ((argc == 5 || argc == 6) && !strcmp(argv[1], "write")) {
                long mb = atol(argv[4]);
                long batch = argc > 5 ? atol(argv[5]) : REPLAY_BATCH_EVENTS;

                if (mb < 48 || batch < 1) {
                        fprintf(stderr, "MEMORY_MB >= 48, BATCH >= 1\n");
                        return 2;
                }
                return write_floor(argv[2], argv[3], mb, batch);
        }
        if ((argc == 5 || argc == 6) && !strcmp(argv[1], "fsync")) {
                int conns = atoi(argv[3]);
                double secs = atof(argv[4]);
                long rec = argc > 5 ? atol(argv[5]) : 1024;

                if (conns < 1 || conns > 1024 || secs <= 0 || rec < 1 ||
                    rec > (1 << 20)) {
                        fprintf(stderr, "1 <= CONNS <= 1024, SECONDS > 0, "
                                        "1 <= RECORD_BYTES <= 1 MiB\n");
                        return 2;
                }
                return fsync_floor(argv[2], conns, secs, (size_t)rec);
        }
        fprintf(stderr, "usage: bench-floor write SRC DST MEMORY_MB [BATCH] | "
                        "fsync DIR CONNS SECONDS [RECORD_BYTES]\n");
        return 2;
}
