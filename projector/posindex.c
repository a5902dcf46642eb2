/*
 * posindex.c — where a page at any startIndex begins (issue 13 item 5).
 *
 * An unfiltered list pages through a (tenant, type)'s resource keys in key
 * order. Without help, startIndex N skips N-1 keys. A position index holds
 * one checkpoint every POSIDX_STEP keys: (id, position of the first key >=
 * id). A page seeks the last checkpoint at or before startIndex and skips
 * fewer than 2 * POSIDX_STEP keys, whatever startIndex is.
 *
 * Exactness: the index is built under pidx_mu, which the writer also holds
 * from its WriteBatch to applying that batch's creates and deletes
 * (posidx_write_begin / posidx_write_end), so a build sees the database
 * exactly as the deltas applied after it expect. A create of id X moves
 * every checkpoint with an id after X one position on, a delete one back
 * (a deleted checkpoint id still names the first key after it, at its old
 * position). A gap between checkpoints that grew past 4 * POSIDX_STEP is
 * rebuilt on the next seek. A failed write or a tenant delete drops the
 * indexes it touches; they are built again on demand.
 *
 * Memory: at most POSIDX_SLOTS indexes (least recently used evicted), each
 * about 48 bytes per POSIDX_STEP resources (1M users: ~190 KiB).
 */
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

#define POSIDX_STEP 512

typedef struct posidx_cp {
        char id[SCIM_MAX_ID_LEN + 1];
        size_t pos; /* 1-based position of the first key >= id */
} posidx_cp_t;

struct posidx {
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        char rt;
        posidx_cp_t *cps;
        size_t n, cap;
        uint64_t used;
};

void posidx_note(txn_t *t, char sign, const char *tenant, char rt,
                 const char *id)
{
        scim_buf_t *b = &t->st->pidx_pending;

        if (strlen(tenant) > SCIM_MAX_TENANT_LEN ||
            (id && strlen(id) > SCIM_MAX_ID_LEN))
                return;
        scim_buf_append(b, &sign, 1);
        scim_buf_append(b, &rt, 1);
        scim_buf_append(b, tenant, strlen(tenant) + 1);
        scim_buf_append(b, id ? id : "", (id ? strlen(id) : 0) + 1);
}

static void idx_free(struct posidx *p)
{
        if (p) {
                free(p->cps);
                free(p);
        }
}

void posidx_write_begin(scim_store_t *st)
{
        pthread_mutex_lock(&st->pidx_mu);
}

/* First checkpoint whose id sorts after id (binary search). */
static size_t first_after(const struct posidx *p, const char *id)
{
        size_t lo = 0, hi = p->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (strcmp(p->cps[mid].id, id) > 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

void posidx_write_end(scim_store_t *st, int ok)
{
        scim_buf_t *b = &st->pidx_pending;
        size_t off = 0;

        if (!ok) { /* nothing of the batch is written: start afresh */
                for (int i = 0; i < POSIDX_SLOTS; i++) {
                        idx_free(st->pidx[i]);
                        st->pidx[i] = NULL;
                }
        }
        while (ok && off + 2 < b->len) {
                char sign = b->data[off], rt = b->data[off + 1];
                const char *tenant = b->data + off + 2;
                const char *id = tenant + strlen(tenant) + 1;

                off = (size_t)(id - b->data) + strlen(id) + 1;
                for (int i = 0; i < POSIDX_SLOTS; i++) {
                        struct posidx *p = st->pidx[i];

                        if (!p || strcmp(p->tenant, tenant))
                                continue;
                        if (sign == 'X' || p->rt != rt) { /* tenant gone */
                                if (sign == 'X') {
                                        idx_free(p);
                                        st->pidx[i] = NULL;
                                }
                                continue;
                        }
                        for (size_t j = first_after(p, id); j < p->n; j++)
                                p->cps[j].pos += sign == '+' ? 1 : (size_t)-1;
                }
        }
        b->len = 0;
        pthread_mutex_unlock(&st->pidx_mu);
}

/* Scans the type's keys (caller holds pidx_mu: no write in progress). */
static struct posidx *build(scim_store_t *st, const char *tenant, char rt)
{
        struct posidx *p = calloc(1, sizeof(*p));
        scim_buf_t pre = {0};
        rocksdb_iterator_t *it;
        size_t pos = 0;

        if (!p)
                return NULL;
        snprintf(p->tenant, sizeof(p->tenant), "%s", tenant);
        p->rt = rt;
        scim_buf_append(&pre, tenant, strlen(tenant) + 1);
        scim_buf_append(&pre, &rt, 1);
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_RES]);
        for (rocksdb_iter_seek(it, pre.data, pre.len); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                if (kl < pre.len || memcmp(k, pre.data, pre.len))
                        break;
                if (pos++ % POSIDX_STEP)
                        continue;
                if (kl - pre.len > SCIM_MAX_ID_LEN ||
                    memchr(k + pre.len, '\0', kl - pre.len))
                        continue;
                if (p->n == p->cap) {
                        size_t nc = p->cap ? 2 * p->cap : 64;
                        posidx_cp_t *x = realloc(p->cps, nc * sizeof(*x));

                        if (!x) {
                                idx_free(p);
                                p = NULL;
                                break;
                        }
                        p->cps = x;
                        p->cap = nc;
                }
                memcpy(p->cps[p->n].id, k + pre.len, kl - pre.len);
                p->cps[p->n].id[kl - pre.len] = '\0';
                p->cps[p->n].pos = pos;
                p->n++;
        }
        rocksdb_iter_destroy(it);
        scim_buf_free(&pre);
        return p;
}

int posidx_seek(scim_store_t *st, const char *tenant, char rt, size_t start,
                scim_buf_t *key, size_t *cp_pos)
{
        struct posidx *p = NULL;
        int slot = -1, found = 0;

        if (strlen(tenant) > SCIM_MAX_TENANT_LEN || start <= POSIDX_STEP)
                return 0;
        pthread_mutex_lock(&st->pidx_mu);
        for (int i = 0; i < POSIDX_SLOTS; i++)
                if (st->pidx[i] && st->pidx[i]->rt == rt &&
                    !strcmp(st->pidx[i]->tenant, tenant)) {
                        p = st->pidx[i];
                        slot = i;
                        break;
                }
        for (int pass = 0; pass < 2 && !found; pass++) {
                if (!p) {
                        int victim = 0;

                        for (int i = 0; i < POSIDX_SLOTS; i++) {
                                if (!st->pidx[i]) {
                                        victim = i;
                                        break;
                                }
                                if (st->pidx[i]->used <
                                    st->pidx[victim]->used)
                                        victim = i;
                        }
                        idx_free(st->pidx[victim]);
                        st->pidx[victim] = p = build(st, tenant, rt);
                        slot = victim;
                        if (!p)
                                break;
                }
                p->used = ++st->pidx_clock;
                {
                        /* the last checkpoint at or before start */
                        size_t lo = 0, hi = p->n;

                        while (lo < hi) {
                                size_t mid = lo + (hi - lo) / 2;

                                if (p->cps[mid].pos <= start)
                                        lo = mid + 1;
                                else
                                        hi = mid;
                        }
                        if (lo == 0)
                                break;
                        if (start - p->cps[lo - 1].pos > 4 * POSIDX_STEP &&
                            pass == 0) {
                                /* inserts piled up here: rebuild once */
                                idx_free(p);
                                st->pidx[slot] = p = NULL;
                                continue;
                        }
                        scim_buf_puts(key, p->cps[lo - 1].id);
                        *cp_pos = p->cps[lo - 1].pos;
                        found = 1;
                }
        }
        pthread_mutex_unlock(&st->pidx_mu);
        return found;
}

void posidx_free_all(scim_store_t *st)
{
        for (int i = 0; i < POSIDX_SLOTS; i++) {
                idx_free(st->pidx[i]);
                st->pidx[i] = NULL;
        }
        scim_buf_free(&st->pidx_pending);
}
