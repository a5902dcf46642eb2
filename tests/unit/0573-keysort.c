/*
 * 0573-keysort.c — keysort (projector/keysort.c) puts items in the order
 * qsort with the bytewise (column family, key) comparison gives: random
 * batches shaped like a replay's (a long prefix shared by every key of a
 * column family, then time-ordered or random bytes), keys that are
 * prefixes of others, keys ending in zero bytes (which a word's zero
 * padding cannot tell from a shorter key), keys equal for more than the
 * word's 7 bytes after the shared prefix, empty keys, one column family
 * and many, column family 255, runs of keys that tie for word after word
 * (sorted again further on); batches of 64 or fewer (sorted by
 * insertion); elements that are pointers (as txn_write
 * sorts) and elements larger than one. Bad input: a column family out of
 * range leaves the elements unchanged. Without memory (this test is
 * linked with --wrap=malloc, tests/CMakeLists.txt, and fails keysort's
 * allocations on demand: each one alone, then all): the same order, by
 * keysort's own qsort_r fallback, and nothing leaked (ASan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"
#include "tests/unit/unit_harness.h"

#define MAXK 48

/* malloc, through the linker's --wrap: while fail_at is j >= 1, the j-th
 * allocation from arming on returns NULL (FAIL_ALL: every one). */
#define FAIL_ALL 1000
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
static int fail_at, nalloc;

void *__wrap_malloc(size_t n)
{
        if (fail_at && (fail_at == FAIL_ALL || ++nalloc == fail_at))
                return NULL;
        return __real_malloc(n);
}

/* keysort with fail_at armed around it */
static int keysort_failing(void *base, size_t n, size_t size,
                           keysort_key_fn key_of, int at)
{
        int rc;

        fail_at = at;
        nalloc = 0;
        rc = keysort(base, n, size, key_of);
        fail_at = 0;
        return rc;
}

typedef struct key {
        int cf;
        size_t kl;
        char k[MAXK];
} tkey_t;

static uint64_t rng = 88172645463325252ull;

static int ref_cmp(const void *a, const void *b)
{
        const tkey_t *x = a, *y = b;
        size_t n = x->kl < y->kl ? x->kl : y->kl;
        int c;

        if (x->cf != y->cf)
                return x->cf < y->cf ? -1 : 1;
        c = n ? memcmp(x->k, y->k, n) : 0;
        return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

/* As txn_write sorts: an array of pointers to the keys. */
static void ptr_key(const void *p, int *cf, const char **k, size_t *kl)
{
        const tkey_t *x = *(const tkey_t *const *)p;

        *cf = x->cf;
        *k = x->k;
        *kl = x->kl;
}

/* Elements that are the keys themselves (size > a pointer's). */
static void self_key(const void *p, int *cf, const char **k, size_t *kl)
{
        const tkey_t *x = p;

        *cf = x->cf;
        *k = x->k;
        *kl = x->kl;
}

/* Sorts keys[0..n) both ways and compares, element by element; then the
 * keys themselves as the elements. fail: keysort's fail_at (0: none). */
static void check_failing(tkey_t *keys, size_t n, int fail)
{
        const tkey_t **v = calloc(n + 1, sizeof(*v));
        tkey_t *ref = malloc((n + 1) * sizeof(*ref));
        tkey_t *copy = malloc((n + 1) * sizeof(*copy));

        assert_non_null(v);
        assert_non_null(ref);
        assert_non_null(copy);
        for (size_t i = 0; i < n; i++)
                v[i] = &keys[i];
        memcpy(ref, keys, n * sizeof(*ref));
        memcpy(copy, keys, n * sizeof(*copy));
        qsort(ref, n, sizeof(*ref), ref_cmp);
        assert_int_equal(keysort_failing(v, n, sizeof(*v), ptr_key, fail), 0);
        assert_int_equal(
            keysort_failing(copy, n, sizeof(*copy), self_key, fail), 0);
        for (size_t i = 0; i < n; i++) {
                const tkey_t *it = v[i];

                /* every element once */
                assert_true(it >= keys && it < keys + n);
                assert_int_equal(ref_cmp(&copy[i], &ref[i]), 0);
                if (ref_cmp(it, &ref[i]) != 0) {
                        fprintf(
                            stderr,
                            "item %zu: cf %d len %zu against cf %d len %zu\n",
                            i, it->cf, it->kl, ref[i].cf, ref[i].kl);
                        fail();
                }
        }
        free(v);
        free(ref);
        free(copy);
}

static void check(tkey_t *keys, size_t n)
{
        check_failing(keys, n, 0);
}

static void put(tkey_t *k, int cf, const char *bytes, size_t n)
{
        k->cf = cf;
        k->kl = n;
        memcpy(k->k, bytes, n);
}

static void test_adversarial(void **state)
{
        tkey_t k[32];
        size_t n = 0;

        (void)state;
        put(&k[n++], 3, "ab", 2);
        put(&k[n++], 3, "ab\0", 3);
        put(&k[n++], 3, "ab\0\0", 4);
        put(&k[n++], 3, "a", 1);
        put(&k[n++], 3, "", 0);
        put(&k[n++], 3, "ab\0\0\0\0\0\0\0\0\x01", 11);
        put(&k[n++], 3, "ab\0\0\0\0\0\0\0\0", 10);
        put(&k[n++], 3, "ab\xff", 3);
        put(&k[n++], 3, "ab\x80\x00", 4);
        put(&k[n++], 3, "ab\x7f\xff", 4);
        put(&k[n++], 0, "ab", 2);
        put(&k[n++], 255, "ab", 2);
        put(&k[n++], 255, "", 0);
        put(&k[n++], 1, "tenant\0User\0aaaaaaaaaaZ", 23);
        put(&k[n++], 1, "tenant\0User\0aaaaaaaaaaA", 23);
        put(&k[n++], 1, "tenant\0User\0aaaaaaaaaa", 22);
        put(&k[n++], 1, "tenant\0User\0aaaaaaaab", 21);
        put(&k[n++], 1, "tenant\0User\0", 12);
        put(&k[n++], 1, "tenant\0User\0aaaaaaaaaaZ", 23); /* equal keys */
        check(k, n);
        /* one column family, every key sharing all but its last byte */
        n = 0;
        for (int i = 0; i < 20; i++)
                put(&k[n++], 7, "0123456789abcdef0123456789\0",
                    26 - (size_t)(i % 3)),
                    k[n - 1].k[k[n - 1].kl - 1] = (char)(200 - i * 9);
        check(k, n);
        /* nothing and one */
        check(k, 0);
        check(k, 1);
}

/* Keys that tie for the first word (bytes 0-6 of the tail: 4 values),
 * then for the second (bytes 7-14: 2 values) and differ from byte 15 on:
 * each word's run sorted again exactly where the word ended. */
static char sixth(size_t j, uint64_t r)
{
        if (j == 0 || j == 3 || j == 7)
                return (char)(r % 2);
        if (j < 7)
                return 'a';
        if (j < 15)
                return 'c';
        return (char)r;
}

static void test_random_batches(void **state)
{
        static tkey_t k[20000];

        (void)state;
        for (int round = 0; round < 200; round++) {
                /* large batches, then medium, then small ones (64 or
                 * fewer: sorted by insertion) */
                size_t n = 1 + unit_rand(&rng) % (round < 30    ? 20000
                                                  : round < 120 ? 600
                                                                : 64);
                unsigned ncf = 1 + unit_rand(&rng) % 6;
                unsigned shape = unit_rand(&rng) % 7;
                char prefix[8][24];
                size_t pl[8];

                for (unsigned c = 0; c < ncf; c++) {
                        pl[c] = unit_rand(&rng) % 20;
                        for (size_t j = 0; j < pl[c]; j++)
                                prefix[c][j] = (char)(unit_rand(&rng) % 4);
                }
                for (size_t i = 0; i < n; i++) {
                        unsigned c = unit_rand(&rng) % ncf;
                        size_t kl = pl[c], tail = shape >= 4 ? MAXK - 20 - 1
                                                             : unit_rand(&rng) %
                                                                   (MAXK - 20);

                        k[i].cf = (int)(c * 51); /* 0 .. 255 */
                        memcpy(k[i].k, prefix[c], pl[c]);
                        for (size_t j = 0; j < tail; j++) {
                                uint64_t r = unit_rand(&rng);
                                /* few distinct bytes: long ties, zeros */
                                /* 4, 5: keys of one length that tie
                                 * for words on end (sorted again past
                                 * them), as time-ordered ids do */
                                k[i].k[kl++] =
                                    shape == 0   ? (char)(r % 3)
                                    : shape == 1 ? (char)r
                                    : shape == 2 ? (char)(j < 8 ? 0 : r % 2)
                                    : shape == 3 ? (char)(i >> (8 * (j % 3)))
                                    : shape == 4 ? (char)(r % 2)
                                    : shape == 5 ? (char)(j < 20 ? j : r % 3)
                                                 : sixth(j, r);
                        }
                        k[i].kl = kl;
                        if (unit_rand(&rng) % 50 == 0 && i) /* a duplicate */
                                k[i] = k[unit_rand(&rng) % i];
                }
                check(k, n);
        }
}

static void test_bad_cf(void **state)
{
        tkey_t k[3];
        const tkey_t *v[3];

        (void)state;
        put(&k[0], 2, "b", 1);
        put(&k[1], 256, "a", 1);
        put(&k[2], 2, "a", 1);
        for (int i = 0; i < 3; i++)
                v[i] = &k[i];
        assert_int_equal(keysort(v, 3, sizeof(*v), ptr_key), -1);
        for (int i = 0; i < 3; i++)
                assert_ptr_equal(v[i], &k[i]);
        k[1].cf = -1;
        assert_int_equal(keysort(v, 3, sizeof(*v), ptr_key), -1);
        assert_ptr_equal(v[0], &k[0]);
        /* a batch past the small-batch path, its last key's cf bad */
        {
                static tkey_t many[100];
                const tkey_t *mv[100];

                for (int i = 0; i < 100; i++) {
                        put(&many[i], 1, "key", 3);
                        many[i].k[2] = (char)(100 - i);
                        mv[i] = &many[i];
                }
                many[99].cf = 300;
                assert_int_equal(keysort(mv, 100, sizeof(*mv), ptr_key), -1);
                for (int i = 0; i < 100; i++)
                        assert_ptr_equal(mv[i], &many[i]);
        }
}

/* Without memory for its words (each of its five allocations failing
 * alone, then all of them): the order qsort gives, from the fallback. */
static void test_no_memory(void **state)
{
        static tkey_t k[600];
        int ats[] = {1, 2, 3, 4, 5, FAIL_ALL};

        (void)state;
        for (size_t a = 0; a < sizeof(ats) / sizeof(ats[0]); a++) {
                for (size_t n = 65; n <= 600; n += 535) {
                        for (size_t i = 0; i < n; i++) {
                                /* a shared prefix, ties, prefixes of
                                 * others, several column families */
                                size_t kl = 12 + unit_rand(&rng) % 20;

                                memcpy(k[i].k, "tenant\0User\0", 12);
                                for (size_t j = 12; j < kl; j++)
                                        k[i].k[j] = (char)(unit_rand(&rng) % 3);
                                k[i].kl = kl;
                                k[i].cf = (int)(unit_rand(&rng) % 3) * 100;
                        }
                        check_failing(k, n, ats[a]);
                }
        }
        /* a bad column family is still refused without memory */
        k[10].cf = 256;
        {
                const tkey_t *v[100];

                for (int i = 0; i < 100; i++)
                        v[i] = &k[i];
                assert_int_equal(
                    keysort_failing(v, 100, sizeof(*v), ptr_key, FAIL_ALL), -1);
                for (int i = 0; i < 100; i++)
                        assert_ptr_equal(v[i], &k[i]);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_adversarial),
            cmocka_unit_test(test_random_batches),
            cmocka_unit_test(test_bad_cf),
            cmocka_unit_test(test_no_memory),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
