/*
 * snapshot.c — log snapshots and log truncation (issue 12 item 7).
 *
 * A snapshot is a RocksDB checkpoint of the store at a position with its
 * log column family emptied: the views (resources, indexes, tenants,
 * tokens, change records, stream records, offsets) exactly as the fold
 * left them after that position. It lives in DIR/snapshots/POSITION (20
 * digits, so names sort as numbers); while being made it is
 * DIR/snapshots/.tmp-*, which nothing reads and the next snapshot removes.
 *
 * Truncation: the log records up to a snapshot's position go (a range
 * delete, then compaction of that range), `log_base` in the default column
 * family says where the log starts, and older snapshots go. The position
 * is the newest snapshot at or below the highest position no retained
 * change record needs: asOf and history rebuild a resource from the log
 * records of its retained change records, so a tenant that keeps its
 * change records for ever keeps the log for ever (retain.c prunes them).
 * `log_base` is written (synced) before the range delete, so a crash in
 * between leaves records the reader skips.
 *
 * Replay (store.c) of a truncated log starts from the base snapshot: its
 * column families except the log and the data keys are copied into the new
 * store, then the log after it is folded; the new store gets the snapshot
 * too, so it can be replayed again.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "projector/changes_internal.h"

#define MAX_SNAPSHOTS 64
#define KEEP_NEWER 3 /* snapshots kept after the base (the candidates for the
                      next truncation) */

static int snap_root(const char *dir, char *out, size_t n)
{
        return snprintf(out, n, "%s/snapshots", dir) >= (int)n ? -1 : 0;
}

static int snap_path(const char *dir, uint64_t pos, char *out, size_t n)
{
        return snprintf(out, n, "%s/snapshots/%020llu", dir,
                        (unsigned long long)pos) >= (int)n
                   ? -1
                   : 0;
}

/* Removes a flat directory (a checkpoint has no subdirectories). */
static int rm_flat(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *e;
        char p[2048];

        if (!d)
                return errno == ENOENT ? 0 : -1;
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
                unlink(p);
        }
        closedir(d);
        return rmdir(path);
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return (x > y) - (x < y);
}

/* The positions of the snapshots (ascending); removes stale .tmp-* dirs
 * when clean is set. */
static size_t list_snaps(const char *dir, uint64_t *out, size_t max,
                         int clean)
{
        char root[1024], p[2048];
        DIR *d;
        struct dirent *e;
        size_t n = 0;

        if (snap_root(dir, root, sizeof(root)) < 0 || !(d = opendir(root)))
                return 0;
        while ((e = readdir(d))) {
                char *end = NULL;
                unsigned long long v;

                if (!strncmp(e->d_name, ".tmp-", 5) && clean) {
                        snprintf(p, sizeof(p), "%s/%s", root, e->d_name);
                        rm_flat(p);
                        continue;
                }
                if (strlen(e->d_name) != 20)
                        continue;
                v = strtoull(e->d_name, &end, 10);
                if (end && *end == '\0' && n < max)
                        out[n++] = v;
        }
        closedir(d);
        qsort(out, n, sizeof(*out), cmp_u64);
        return n;
}

static void put_be(scim_store_t *st, const char *key, uint64_t v,
                   char **werr)
{
        unsigned char b[8];

        scim_put_be64(b, v);
        rocksdb_put_cf(st->db, st->wo_sync, st->cf[CF_DEFAULT], key,
                       strlen(key), (char *)b, 8, werr);
}

/* Empties the log column family of a store (range delete + compaction). */
static int drop_log_upto(scim_store_t *st, uint64_t last, scim_err_t *err)
{
        unsigned char end[9];
        char *e = NULL;
        size_t endl;

        if (last == UINT64_MAX) { /* everything */
                memset(end, 0xff, sizeof(end));
                endl = 9;
        } else {
                scim_put_be64(end, last + 1);
                endl = 8;
        }
        rocksdb_delete_range_cf(st->db, st->wo_sync, st->cf[CF_LOG], "", 0,
                                (char *)end, endl, &e);
        if (e) {
                scim_err_set_retry(err, 503, "log range delete: %.300s", e);
                free(e);
                return -1;
        }
        rocksdb_compact_range_cf(st->db, st->cf[CF_LOG], NULL, 0, (char *)end,
                                 endl);
        return 0;
}

void scim_store_mark_kafka(scim_store_t *st)
{
        st->kafka = 1;
}

/* A store that consumed a topic (store_kafka.c keeps "koff" offsets). */
static int is_kafka(scim_store_t *st)
{
        rocksdb_iterator_t *it;
        int yes;

        if (st->kafka)
                return 1;
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_DEFAULT]);
        rocksdb_iter_seek(it, "koff", 5);
        yes = 0;
        if (rocksdb_iter_valid(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                yes = kl > 5 && !memcmp(k, "koff", 5);
        }
        rocksdb_iter_destroy(it);
        return yes;
}

uint64_t scim_store_log_base(scim_store_t *st)
{
        return __atomic_load_n(&st->log_base, __ATOMIC_ACQUIRE);
}

int scim_store_snapshot(scim_store_t *st, scim_snapshot_info_t *info,
                        scim_err_t *err)
{
        char root[1024], tmp[1100], fin[1100], errstr[512];
        scim_store_t *snap = NULL;
        uint64_t have[MAX_SNAPSHOTS];
        struct stat sb;
        int rc = -1;

        memset(info, 0, sizeof(*info));
        info->log_base = scim_store_log_base(st);
        if (is_kafka(st))
                return scim_err_set(err, 400, NULL,
                                    "log snapshots are for the embedded log: "
                                    "in Kafka mode the topic is the log and "
                                    "its retention is the broker's (a backup "
                                    "keeps this node's views)");
        if (!st->dir || snap_root(st->dir, root, sizeof(root)) < 0)
                return scim_err_set(err, 500, NULL, "data dir path too long");
        if (mkdir(root, 0700) != 0 && errno != EEXIST)
                return scim_err_set(err, 503, NULL, "mkdir %s: %s", root,
                                    strerror(errno));
        list_snaps(st->dir, have, MAX_SNAPSHOTS, 1);
        snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%lld", root, (long)getpid(),
                 (long long)scim_now_ms());
        if (scim_store_checkpoint(st, tmp, err) < 0)
                return -1;
        if (scim_store_open(tmp, &snap, errstr, sizeof(errstr)) < 0) {
                scim_err_set(err, 503, NULL, "opening the new snapshot: %s",
                             errstr);
                goto out;
        }
        info->position = snap->position;
        if (drop_log_upto(snap, UINT64_MAX, err) < 0)
                goto out;
        scim_store_close(snap);
        snap = NULL;
        snap_path(st->dir, info->position, fin, sizeof(fin));
        if (stat(fin, &sb) == 0) { /* nothing new since that one */
                rm_flat(tmp);
        } else if (rename(tmp, fin) != 0) {
                scim_err_set(err, 503, NULL, "rename %s: %s", tmp,
                             strerror(errno));
                goto out;
        }
        snprintf(info->path, sizeof(info->path), "%s", fin);
        { /* bounded: the base and the newest KEEP_NEWER after it */
                size_t n = list_snaps(st->dir, have, MAX_SNAPSHOTS, 0), kept = 0;

                for (size_t i = n; i-- > 0;) {
                        if (have[i] <= info->log_base)
                                break;
                        if (++kept > KEEP_NEWER &&
                            snap_path(st->dir, have[i], fin, sizeof(fin)) == 0)
                                rm_flat(fin);
                }
        }
        rc = 0;
out:
        scim_store_close(snap);
        if (rc < 0)
                rm_flat(tmp);
        return rc;
}

static void floor_one(void *ctx, const char *tenant, int64_t itime,
                      uint64_t seq)
{
        uint64_t *floor = ctx;

        (void)tenant;
        (void)itime;
        if (seq - 1 < *floor)
                *floor = seq - 1;
}

/* Highest position no retained change record needs: one below the oldest
 * record of any tenant (its time index's first entry: apply order is
 * position order in the embedded log). */
static uint64_t retained_floor(scim_store_t *st)
{
        uint64_t floor = scim_store_position(st);

        changes_each_oldest(st, floor_one, &floor);
        return floor;
}

int scim_store_log_truncate(scim_store_t *st, scim_snapshot_info_t *info,
                            scim_err_t *err)
{
        uint64_t have[MAX_SNAPSHOTS], base = 0;
        size_t n;
        char *e = NULL, p[1100];

        if (!st->dir)
                return scim_err_set(err, 500, NULL, "no data dir");
        if (is_kafka(st))
                return scim_err_set(err, 400, NULL,
                                    "the log of a Kafka node is the topic");
        info->safe = retained_floor(st);
        n = list_snaps(st->dir, have, MAX_SNAPSHOTS, 0);
        for (size_t i = 0; i < n; i++)
                if (have[i] <= info->safe)
                        base = have[i];
        info->log_base = scim_store_log_base(st);
        if (base <= info->log_base)
                return 0; /* nothing more can go */
        put_be(st, "log_base", base, &e);
        if (e) {
                scim_err_set_retry(err, 503, "writing log_base: %.300s", e);
                free(e);
                return -1;
        }
        __atomic_store_n(&st->log_base, base, __ATOMIC_RELEASE);
        info->log_base = base;
        if (drop_log_upto(st, base, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (have[i] < base && snap_path(st->dir, have[i], p,
                                                sizeof(p)) == 0)
                        rm_flat(p);
        return 0;
}

json_t *scim_store_snapshots(scim_store_t *st)
{
        uint64_t have[MAX_SNAPSHOTS];
        size_t n = st->dir ? list_snaps(st->dir, have, MAX_SNAPSHOTS, 0) : 0;
        json_t *out = json_array();
        char p[1100], f[2200];

        for (size_t i = 0; i < n; i++) {
                DIR *d;
                struct dirent *e;
                json_int_t bytes = 0;

                snap_path(st->dir, have[i], p, sizeof(p));
                if ((d = opendir(p))) {
                        while ((e = readdir(d))) {
                                struct stat sb;

                                snprintf(f, sizeof(f), "%s/%s", p, e->d_name);
                                if (stat(f, &sb) == 0 && S_ISREG(sb.st_mode))
                                        bytes += (json_int_t)sb.st_size;
                        }
                        closedir(d);
                }
                json_array_append_new(
                    out, json_pack("{s:I, s:s, s:I, s:b}", "position",
                                   (json_int_t)have[i], "path", p, "bytes",
                                   bytes, "base",
                                   have[i] == scim_store_log_base(st)));
        }
        return out;
}

/* ------------------------------------------------------- replay side */

/* Hard-links (or copies) every file of a flat dir into a new dir. */
static int clone_flat(const char *src, const char *dst)
{
        DIR *d = opendir(src);
        struct dirent *e;
        char a[2048], b[2048], buf[65536];
        int rc = 0;

        if (!d || mkdir(dst, 0700) != 0) {
                if (d)
                        closedir(d);
                return -1;
        }
        while (rc == 0 && (e = readdir(d))) {
                FILE *in, *out;
                size_t got;

                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                snprintf(a, sizeof(a), "%s/%s", src, e->d_name);
                snprintf(b, sizeof(b), "%s/%s", dst, e->d_name);
                if (link(a, b) == 0)
                        continue;
                in = fopen(a, "rb");
                out = in ? fopen(b, "wb") : NULL;
                if (!in || !out)
                        rc = -1;
                while (rc == 0 && (got = fread(buf, 1, sizeof(buf), in)) > 0)
                        if (fwrite(buf, 1, got, out) != got)
                                rc = -1;
                if (in)
                        fclose(in);
                if (out && fclose(out) != 0)
                        rc = -1;
        }
        closedir(d);
        return rc;
}

int snapshot_restore(scim_store_t *src, uint64_t base, scim_store_t *dst,
                     scim_err_t *err)
{
        char p[1100], q[1100], root[1024], errstr[512];
        scim_store_t *snap = NULL;
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
        int rc = -1;

        if (!src->dir || snap_path(src->dir, base, p, sizeof(p)) < 0 ||
            access(p, F_OK) != 0) {
                scim_err_set(err, 500, NULL,
                             "the log starts after position %llu but its "
                             "snapshot %s is missing",
                             (unsigned long long)base, p);
                goto out;
        }
        if (scim_store_open(p, &snap, errstr, sizeof(errstr)) < 0) {
                scim_err_set(err, 500, NULL, "opening snapshot %s: %s", p,
                             errstr);
                goto out;
        }
        for (int cf = 0; cf < CF_COUNT; cf++) {
                rocksdb_iterator_t *it;
                size_t nb = 0;

                if (cf == CF_LOG || cf == CF_DKEY) /* keys: from src */
                        continue;
                it = rocksdb_create_iterator_cf(snap->db, snap->ro,
                                                snap->cf[cf]);
                for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
                     rocksdb_iter_next(it)) {
                        size_t kl, vl;
                        const char *k = rocksdb_iter_key(it, &kl);
                        const char *v = rocksdb_iter_value(it, &vl);
                        char *e = NULL;

                        if (cf == CF_DEFAULT &&
                            ((kl == 8 && !memcmp(k, "log_base", 8)) ||
                             (kl == 17 && !memcmp(k, "replay_incomplete", 17))))
                                continue;
                        rocksdb_writebatch_put_cf(wb, dst->cf[cf], k, kl, v,
                                                  vl);
                        if (++nb % 10000 == 0) {
                                rocksdb_write(dst->db, dst->wo_nosync, wb, &e);
                                rocksdb_writebatch_clear(wb);
                                if (e) {
                                        scim_err_set(err, 500, NULL,
                                                     "copying the snapshot: "
                                                     "%.300s",
                                                     e);
                                        free(e);
                                        rocksdb_iter_destroy(it);
                                        goto out;
                                }
                        }
                }
                rocksdb_iter_destroy(it);
                {
                        char *e = NULL;

                        rocksdb_write(dst->db, dst->wo_nosync, wb, &e);
                        rocksdb_writebatch_clear(wb);
                        if (e) {
                                scim_err_set(err, 500, NULL,
                                             "copying the snapshot: %.300s", e);
                                free(e);
                                goto out;
                        }
                }
        }
        __atomic_store_n(&dst->position, snap->position, __ATOMIC_RELEASE);
        /* the new store keeps the base, so it can be replayed again */
        if (dst->dir && snap_root(dst->dir, root, sizeof(root)) == 0 &&
            snap_path(dst->dir, base, q, sizeof(q)) == 0) {
                scim_store_close(snap);
                snap = NULL;
                if ((mkdir(root, 0700) != 0 && errno != EEXIST) ||
                    clone_flat(p, q) != 0) {
                        scim_err_set(err, 500, NULL,
                                     "copying snapshot %s into %s", p, q);
                        goto out;
                }
        }
        rc = 0;
out:
        scim_store_close(snap);
        rocksdb_writebatch_destroy(wb);
        return rc;
}

int snapshot_finish_replay(scim_store_t *dst, uint64_t base, scim_err_t *err)
{
        char *e = NULL;

        put_be(dst, "log_base", base, &e);
        if (e) {
                scim_err_set(err, 500, NULL, "writing log_base: %.300s", e);
                free(e);
                return -1;
        }
        dst->log_base = base;
        return 0;
}

/* ------------------------------------------------------------ erasure */

int scim_store_snapshots_erase(scim_store_t *st, const scim_event_t *ev,
                               scim_err_t *err)
{
        uint64_t have[MAX_SNAPSHOTS];
        size_t n = st->dir ? list_snaps(st->dir, have, MAX_SNAPSHOTS, 0) : 0;
        char p[1100], errstr[512];

        for (size_t i = 0; i < n; i++) {
                scim_store_t *snap = NULL;
                scim_verdict_t v;
                txn_t t;
                char *row, *werr = NULL;
                size_t rl = 0;

                snap_path(st->dir, have[i], p, sizeof(p));
                if (scim_store_open(p, &snap, errstr, sizeof(errstr)) < 0)
                        return scim_err_set(err, 503, NULL,
                                            "erasing in snapshot %s: %s", p,
                                            errstr);
                memset(&v, 0, sizeof(v));
                txn_begin(&t, snap);
                row = txn_get(&t, CF_TENANT, ev->tenant, strlen(ev->tenant),
                              &rl);
                if (row) {
                        fold_tenant_delete(&t, UINT64_MAX, ev, &v);
                        /* the tenant row stays (no personal data): a replay
                         * from here folds the TENANT_DELETE as the live
                         * fold did */
                        txn_put(&t, CF_TENANT, ev->tenant, strlen(ev->tenant),
                                row, rl);
                        txn_write(&t, snap->wo_sync, &werr);
                }
                txn_end(&t);
                free(row);
                if (!werr && scim_store_purge(snap, err) < 0)
                        werr = strdup(err->detail);
                scim_store_close(snap);
                if (werr) {
                        scim_err_set(err, 503, NULL,
                                     "erasing in snapshot %s: %.300s", p,
                                     werr);
                        free(werr);
                        return -1;
                }
        }
        return 0;
}

/* ------------------------------------------------------------ backup */

int scim_store_backup(scim_store_t *st, const char *dest, scim_err_t *err)
{
        uint64_t base = scim_store_log_base(st);
        char from[1100], root[1100], into[1200];

        if (scim_store_checkpoint(st, dest, err) < 0)
                return -1;
        if (!base)
                return 0;
        /* a truncated log is replayed from its base snapshot: the backup
         * carries it (hard links on the same file system) */
        snap_path(st->dir, base, from, sizeof(from));
        snprintf(root, sizeof(root), "%s/snapshots", dest);
        snprintf(into, sizeof(into), "%s/%020llu", root,
                 (unsigned long long)base);
        if ((mkdir(root, 0700) != 0 && errno != EEXIST) ||
            clone_flat(from, into) != 0)
                return scim_err_set(err, 503, NULL,
                                    "copying the base snapshot %s into the "
                                    "backup",
                                    from);
        return 0;
}
