/*
 * store_log.c — reads of the event bytes a store folded (column family
 * `log`, key = position as u64 BE). In embedded mode that column family is
 * the log itself; in Kafka mode the fold writes a per-node copy of every
 * consumed message there, so readers of past events (asOf, history, the
 * change stream, log/scim_log.h's scim_log_read) work the same in both.
 *
 * Threads: any thread; RocksDB iterators see a consistent snapshot.
 */
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

long scim_store_log_scan(scim_store_t *st, uint64_t after, size_t max,
                         int (*fn)(void *ctx, uint64_t pos, const void *data,
                                   size_t len),
                         void *ctx, scim_err_t *err)
{
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_LOG]);
        unsigned char k[8];
        long n = 0;

        if (after == UINT64_MAX) {
                rocksdb_iter_destroy(it);
                return 0;
        }
        scim_put_be64(k, after + 1);
        for (rocksdb_iter_seek(it, (char *)k, 8);
             rocksdb_iter_valid(it) && (size_t)n < max;
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *key = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);

                if (kl != 8)
                        continue;
                n++;
                if (fn(ctx, scim_get_be64((const unsigned char *)key), v, vl))
                        break;
        }
        {
                char *e = NULL;

                rocksdb_iter_get_error(it, &e);
                if (e) {
                        scim_err_set_retry(err, 503, "log read failed: %.400s",
                                           e);
                        free(e);
                        n = -1;
                }
        }
        rocksdb_iter_destroy(it);
        return n;
}

int scim_store_log_load(scim_store_t *st, const scim_buf_t *encoded, size_t n,
                        scim_err_t *err)
{
        rocksdb_writebatch_t *wb;
        uint64_t pos = scim_store_position(st);
        unsigned char k[8];
        char *werr = NULL;

        if (n == 0)
                return 0;
        if (store_replay_mark_set(st, 1) < 0)
                return scim_err_set(err, 500, NULL,
                                    "cannot mark the dir as a replay source");
        wb = rocksdb_writebatch_create();
        for (size_t i = 0; i < n; i++) {
                scim_put_be64(k, pos + 1 + i);
                rocksdb_writebatch_put_cf(wb, st->cf[CF_LOG], (char *)k, 8,
                                          encoded[i].data, encoded[i].len);
        }
        scim_put_be64(k, pos + n);
        rocksdb_writebatch_put_cf(wb, st->cf[CF_DEFAULT], "position", 8,
                                  (char *)k, 8);
        rocksdb_write(st->db, st->wo_nosync, wb, &werr);
        rocksdb_writebatch_destroy(wb);
        if (werr) {
                scim_err_set(err, 500, NULL, "log write: %s", werr);
                free(werr);
                return -1;
        }
        st->views_current = 0;
        __atomic_store_n(&st->position, pos + n, __ATOMIC_RELEASE);
        return 0;
}
