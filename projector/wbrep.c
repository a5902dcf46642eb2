/*
 * wbrep.c — a RocksDB WriteBatch written straight in its serialized form
 * (issue 13 item 2, seventh pass).
 *
 * rocksdb_writebatch_put_cf costs ~700 instructions per key (callgrind
 * of a POST: five std::string appends, a save point, the count and the
 * content flags kept per call; 12 keys, ~8.5k per create). The batch's
 * bytes are RocksDB's WAL record format, stable since LevelDB (db/
 * write_batch.cc): a 12-byte header (sequence, fixed64, filled in by the
 * write; count, fixed32), then per operation a tag byte, the column
 * family id as varint32 unless it is 0, and the key (and a put's value)
 * as varint32 length + bytes:
 *   put    kTypeValue 0x1 / kTypeColumnFamilyValue 0x5
 *   delete kTypeDeletion 0x0 / kTypeColumnFamilyDeletion 0x4
 * wbrep writes those bytes into one growing buffer and hands them to
 * rocksdb_writebatch_create_from (which copies them and counts the
 * operations from the header). The same operations in the same order as
 * the put/delete calls made, so the same WAL record and memtable inserts:
 * digests cannot tell the difference (unit 0569 compares the bytes with
 * rocksdb_writebatch_data of a batch built by the calls).
 *
 * Threads: a wbrep_t belongs to one thread (the writer's batch).
 */
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

enum {
        WB_DELETE = 0x0,
        WB_PUT = 0x1,
        WB_CF_DELETE = 0x4,
        WB_CF_PUT = 0x5,
        WB_HEADER = 12
};

void wbrep_init(wbrep_t *w, size_t bytes)
{
        memset(w, 0, sizeof(*w));
        if (scim_buf_reserve(&w->b, WB_HEADER + bytes) == 0) {
                memset(w->b.data, 0, WB_HEADER);
                w->b.len = WB_HEADER;
        }
}

size_t wbrep_size(size_t kl, size_t vl)
{
        return 1 + 5 + 5 + kl + 5 + vl;
}

void wbrep_free(wbrep_t *w)
{
        scim_buf_free(&w->b);
        memset(w, 0, sizeof(*w));
}

/* varint32 of v into p; returns the bytes written (1-5). */
static size_t varint32(unsigned char *p, uint32_t v)
{
        size_t n = 0;

        while (v >= 0x80) {
                p[n++] = (unsigned char)(v | 0x80);
                v >>= 7;
        }
        p[n++] = (unsigned char)v;
        return n;
}

/* One operation: tag, cf id (unless 0), key, value (puts). -1: no room. */
static int op(wbrep_t *w, int put, uint32_t cf, const char *k, size_t kl,
              const char *v, size_t vl)
{
        size_t need = 1 + 5 + 5 + kl + (put ? 5 + vl : 0);
        unsigned char *p;

        if (kl > UINT32_MAX || vl > UINT32_MAX)
                return -1;
        if (w->b.len == 0) {
                if (scim_buf_reserve(&w->b, WB_HEADER + need) < 0)
                        return -1;
                memset(w->b.data, 0, WB_HEADER);
                w->b.len = WB_HEADER;
        } else if (w->b.len + need + 1 > w->b.cap &&
                   scim_buf_reserve(&w->b, need) < 0) {
                return -1;
        }
        p = (unsigned char *)w->b.data + w->b.len;
        if (cf) {
                *p++ = put ? WB_CF_PUT : WB_CF_DELETE;
                p += varint32(p, cf);
        } else {
                *p++ = put ? WB_PUT : WB_DELETE;
        }
        p += varint32(p, (uint32_t)kl);
        memcpy(p, k, kl);
        p += kl;
        if (put) {
                p += varint32(p, (uint32_t)vl);
                memcpy(p, v, vl);
                p += vl;
        }
        w->b.len = (size_t)((char *)p - w->b.data);
        w->n++;
        return 0;
}

int wbrep_op(wbrep_t *w, int put, uint32_t cf, const char *k, size_t kl,
             const char *v, size_t vl)
{
        return op(w, put, cf, k, kl, v, vl);
}

rocksdb_writebatch_t *wbrep_batch(wbrep_t *w)
{
        unsigned char *c;

        if (w->b.len == 0 && scim_buf_reserve(&w->b, WB_HEADER) == 0) {
                memset(w->b.data, 0, WB_HEADER);
                w->b.len = WB_HEADER;
        }
        if (w->b.len < WB_HEADER)
                return NULL;
        c = (unsigned char *)w->b.data + 8; /* count, fixed32 LE */
        c[0] = (unsigned char)w->n;
        c[1] = (unsigned char)(w->n >> 8);
        c[2] = (unsigned char)(w->n >> 16);
        c[3] = (unsigned char)(w->n >> 24);
        return rocksdb_writebatch_create_from(w->b.data, w->b.len);
}
