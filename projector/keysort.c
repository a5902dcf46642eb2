/*
 * keysort.c — a batch's operations in (column family, key) order
 * (issue 13 item 1).
 *
 * txn_write hands a batch's operations to RocksDB and to replay's SST
 * files in key order per column family (memtable inserts continue from
 * the previous position; an SST file needs its keys increasing), and so
 * do replay's hot-cache and membership-shadow flushes. With qsort and a
 * comparator that called memcmp, sorting a replay batch (~14,000 keys)
 * was ~3.5% of all of replay's samples (perf, the 1M-event log): ~14
 * comparisons per key, each an indirect call and a memcmp over the
 * keys' long common prefix (a tenant's name, a resource type, the
 * leading digits of time-ordered ids and sequence numbers).
 *
 * Here each key gets a 64-bit sort word: its column family in the top
 * byte, then the 7 bytes that follow the prefix every key of that column
 * family in the batch shares (zero-padded past the key's end). Words are
 * sorted by a least-significant-digit radix sort (passes of 8 bits over
 * 16-byte records, a pass skipped when every word has the same byte
 * there). A run of equal words, keys the word did not tell apart, is
 * sorted the same way again from where its keys stop sharing bytes (8
 * key bytes a word now: one column family); a small run, or one holding
 * a key that ended inside the word (its zero padding may tie with real
 * zero bytes), by the full bytewise comparison. A batch of 64 or fewer
 * (a POST writes ~20 keys) is sorted by insertion, without allocating;
 * without memory for the words, by qsort_r over the elements.
 *
 * Why that is the comparator's order: keys that share their first L
 * bytes compare as their remainders do; a word holds the next bytes of
 * the remainder, and zero padding sorts a key that ends there before or
 * level with another (level: the run, compared in full). Unit 0573
 * compares the result with qsort's over random and adversarial keys.
 */
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

typedef struct rec {
        const char *key;
        size_t klen;
        int cf;
} rec_t;

typedef struct word {
        uint64_t w;
        const rec_t *r; /* the element's: r - recs is its index */
} word_t;

/* SMALL_RUN: a run of equal words this long or shorter is sorted by
 * insertion; SMALL_BATCH: likewise a whole batch of elements of up to
 * SMALL_ELEM bytes, on the stack. */
enum { SMALL_RUN = 16, SMALL_BATCH = 64, SMALL_ELEM = 64 };

static int rec_cmp(const rec_t *x, const rec_t *y)
{
        size_t n = x->klen < y->klen ? x->klen : y->klen;
        int c;

        if (x->cf != y->cf)
                return x->cf < y->cf ? -1 : 1;
        c = n ? memcmp(x->key, y->key, n) : 0;
        return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static int full_cmp(const void *a, const void *b)
{
        return rec_cmp(((const word_t *)a)->r, ((const word_t *)b)->r);
}

static void insertion(word_t *a, size_t n)
{
        for (size_t i = 1; i < n; i++) {
                word_t x = a[i];
                size_t j = i;

                for (; j > 0 && full_cmp(&x, &a[j - 1]) < 0; j--)
                        a[j] = a[j - 1];
                a[j] = x;
        }
}

/* The n bytes of k from off, big-endian, zero past klen. */
static uint64_t bytes_at(const char *k, size_t klen, size_t off, unsigned n)
{
        uint64_t w = 0;

        for (unsigned j = 0; j < n; j++)
                w = w << 8 |
                    (off + j < klen ? (uint64_t)(unsigned char)k[off + j] : 0);
        return w;
}

/* a[0..n) by word, b as scratch; the result in a. count: 8 x 256. */
static void radix(word_t *a, word_t *b, size_t n, size_t (*count)[256])
{
        word_t *src = a, *dst = b, *t;

        memset(count, 0, 8 * sizeof(*count));
        for (size_t i = 0; i < n; i++)
                for (unsigned d = 0; d < 8; d++)
                        count[d][(a[i].w >> (8 * d)) & 0xff]++;
        for (unsigned d = 0; d < 8; d++) {
                size_t pos = 0;

                if (count[d][(src[0].w >> (8 * d)) & 0xff] == n)
                        continue; /* one value of this byte: order kept */
                for (unsigned c = 0; c < 256; c++) {
                        size_t k = count[d][c];

                        count[d][c] = pos;
                        pos += k;
                }
                for (size_t i = 0; i < n; i++)
                        dst[count[d][(src[i].w >> (8 * d)) & 0xff]++] = src[i];
                t = src;
                src = dst;
                dst = t;
        }
        if (src != a)
                memcpy(a, src, n * sizeof(*a));
}

static void sort_run(word_t *a, word_t *b, size_t n, size_t off,
                     size_t (*count)[256]);

/* a[0..n) sorted by word: each run of equal words whose keys all reach
 * past the word's bytes (they share their first end bytes) sorted from
 * end on, any other run in full. */
static void runs(word_t *a, word_t *b, size_t n, size_t end,
                 size_t (*count)[256])
{
        for (size_t i = 0, j; i < n; i = j) {
                int reach = a[i].r->klen >= end;

                for (j = i + 1; j < n && a[j].w == a[i].w; j++)
                        reach &= a[j].r->klen >= end;
                if (j - i < 2)
                        continue;
                if (reach && j - i > SMALL_RUN)
                        sort_run(a + i, b + i, j - i, end, count);
                else if (j - i > SMALL_RUN)
                        qsort(a + i, j - i, sizeof(*a), full_cmp);
                else
                        insertion(a + i, j - i);
        }
}

/* Keys of one column family sharing their first off bytes. */
static void sort_run(word_t *a, word_t *b, size_t n, size_t off,
                     size_t (*count)[256])
{
        const rec_t *f = a[0].r;
        size_t l = f->klen;

        for (size_t i = 1; i < n && l > off; i++) {
                const rec_t *r = a[i].r;
                size_t m = l < r->klen ? l : r->klen, j = off;

                while (j < m && f->key[j] == r->key[j])
                        j++;
                l = j;
        }
        for (size_t i = 0; i < n; i++)
                a[i].w = bytes_at(a[i].r->key, a[i].r->klen, l, 8);
        radix(a, b, n, count);
        runs(a, b, n, l + 8, count);
}

/* Without memory for the words: qsort_r on the elements themselves,
 * each comparison asking key_of for both keys. */
static int elem_cmp(const void *x, const void *y, void *key_of)
{
        keysort_key_fn fn = *(const keysort_key_fn *)key_of;
        rec_t a, b;

        fn(x, &a.cf, &a.key, &a.klen);
        fn(y, &b.cf, &b.key, &b.klen);
        return rec_cmp(&a, &b);
}

int keysort(void *base, size_t n, size_t size, keysort_key_fn key_of)
{
        /* a small batch (a POST's ~20 keys) on the stack: no allocation
         * (the radix sort's counts alone are 16 KiB) */
        rec_t small_recs[SMALL_BATCH];
        word_t small_words[SMALL_BATCH];
        char small_out[SMALL_BATCH * SMALL_ELEM];
        int small = n <= SMALL_BATCH && size <= SMALL_ELEM;
        size_t lcp[256];
        const rec_t *first[256] = {0};
        size_t(*count)[256] = NULL;
        rec_t *recs = small_recs;
        word_t *a = small_words, *b = NULL;
        char *out = small_out;
        int rc = -1;

        if (n < 2)
                return 0;
        if (!small) {
                count = malloc(8 * sizeof(*count));
                recs = malloc(n * sizeof(*recs));
                a = malloc(n * sizeof(*a));
                b = malloc(n * sizeof(*b));
                out = malloc(n * size);
        }
        /* each element's key, and the prefix every key of a column family
         * shares */
        for (size_t i = 0; i < n; i++) {
                rec_t r, *rp = recs ? &recs[i] : &r;
                const rec_t *f;
                size_t j, m;

                key_of((const char *)base + i * size, &rp->cf, &rp->key,
                       &rp->klen);
                if (rp->cf < 0 || rp->cf > 255)
                        goto done;
                if (!recs || small)
                        continue; /* only checked; a small batch compares
                                     whole keys */
                if (!(f = first[rp->cf])) {
                        first[rp->cf] = rp;
                        lcp[rp->cf] = rp->klen;
                        continue;
                }
                m = lcp[rp->cf] < rp->klen ? lcp[rp->cf] : rp->klen;
                for (j = 0; j < m && f->key[j] == rp->key[j]; j++)
                        ;
                lcp[rp->cf] = j;
        }
        rc = 0;
        if (!small && (!count || !recs || !a || !b || !out)) {
                qsort_r(base, n, size, elem_cmp, &key_of); /* no memory */
                goto done;
        }
        if (small) {
                for (size_t i = 0; i < n; i++)
                        a[i] = (word_t){0, &recs[i]};
                insertion(a, n);
        } else {
                /* words: the column family, then 7 bytes past its shared
                 * prefix; a run of equal words shares one column family */
                for (size_t i = 0; i < n; i++) {
                        const rec_t *r = &recs[i];

                        a[i].w = (uint64_t)r->cf << 56 |
                                 bytes_at(r->key, r->klen, lcp[r->cf], 7);
                        a[i].r = r;
                }
                radix(a, b, n, count);
                for (size_t i = 0, j; i < n; i = j) { /* by column family */
                        int cf = a[i].r->cf;

                        for (j = i + 1; j < n && a[j].r->cf == cf; j++)
                                ;
                        runs(a + i, b + i, j - i, lcp[cf] + 7, count);
                }
        }
        for (size_t i = 0; i < n; i++)
                memcpy(out + i * size,
                       (const char *)base + (size_t)(a[i].r - recs) * size,
                       size);
        memcpy(base, out, n * size);
done:
        if (!small) {
                free(count);
                free(recs);
                free(a);
                free(b);
                free(out);
        }
        return rc;
}
