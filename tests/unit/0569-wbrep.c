/*
 * 0569-wbrep.c — a WriteBatch written in its serialized form (wbrep.c)
 * holds the very bytes RocksDB's own rocksdb_writebatch_put_cf /
 * _delete_cf calls make (default and other column families, empty values,
 * keys and values whose lengths need 1, 2 and 3 varint bytes, deletes,
 * growing past the room asked for), and a store written through it reads
 * back what was written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"
#include "tests/unit/unit_harness.h"

static char dir[512];

/* Column families of a scratch DB: default and three more (ids 0-3). */
static const char *names[] = {"default", "a", "b", "c"};
#define NCF 4

typedef struct op {
        int put;
        unsigned cf;
        size_t kl, vl;
        char fill;
} op_t;

static char *bytes(size_t n, char fill)
{
        char *p = malloc(n + 1);

        assert_non_null(p);
        for (size_t i = 0; i < n; i++)
                p[i] = (char)(fill + (char)(i % 7));
        return p;
}

static void test_same_bytes(void **state)
{
        static const op_t ops[] = {
            {1, 0, 8, 8, 'p'},       {1, 1, 3, 0, 'e'},
            {0, 2, 5, 0, 'd'},       {0, 0, 1, 0, 'x'},
            {1, 3, 127, 128, 'k'},   {1, 2, 200, 16383, 'm'},
            {1, 1, 16384, 70000, 'z'}, {0, 3, 300, 0, 'q'},
            {1, 0, 0, 0, 'n'},
        };
        rocksdb_column_family_handle_t *cf[NCF];
        const rocksdb_options_t *cfo[NCF];
        rocksdb_options_t *o = rocksdb_options_create();
        rocksdb_writebatch_t *ref = rocksdb_writebatch_create(), *got;
        rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        char *err = NULL;
        const char *rb, *gb;
        size_t rl, gl;
        wbrep_t w;
        rocksdb_t *db;

        (void)state;
        unit_tmpdir(dir, sizeof(dir), "wbrep");
        rocksdb_options_set_create_if_missing(o, 1);
        rocksdb_options_set_create_missing_column_families(o, 1);
        for (int i = 0; i < NCF; i++)
                cfo[i] = o;
        db = rocksdb_open_column_families(o, dir, NCF, names, cfo, cf, &err);
        assert_null(err);
        wbrep_init(&w, 16); /* less than it needs: it grows */
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
                char *k = bytes(ops[i].kl, ops[i].fill);
                char *v = bytes(ops[i].vl, (char)(ops[i].fill + 1));
                uint32_t id = rocksdb_column_family_handle_get_id(
                    cf[ops[i].cf]);

                assert_int_equal(id, ops[i].cf);
                if (ops[i].put)
                        rocksdb_writebatch_put_cf(ref, cf[ops[i].cf], k,
                                                  ops[i].kl, v, ops[i].vl);
                else
                        rocksdb_writebatch_delete_cf(ref, cf[ops[i].cf], k,
                                                     ops[i].kl);
                assert_int_equal(wbrep_op(&w, ops[i].put, id, k, ops[i].kl,
                                          v, ops[i].vl),
                                 0);
                free(k);
                free(v);
        }
        got = wbrep_batch(&w);
        assert_non_null(got);
        rb = rocksdb_writebatch_data(ref, &rl);
        gb = rocksdb_writebatch_data(got, &gl);
        assert_int_equal(gl, rl);
        assert_memory_equal(gb, rb, rl);
        assert_int_equal(rocksdb_writebatch_count(got),
                         (int)(sizeof(ops) / sizeof(ops[0])));

        /* written, it reads back: the 70,000-byte value in family a,
         * the empty one in a, no deleted key in b */
        rocksdb_write(db, wo, got, &err);
        assert_null(err);
        {
                char *k = bytes(16384, 'z'), *want = bytes(70000, 'z' + 1);
                size_t vl = 0;
                char *val = rocksdb_get_cf(db, ro, cf[1], k, 16384, &vl, &err);

                assert_null(err);
                assert_int_equal(vl, 70000);
                assert_memory_equal(val, want, vl);
                free(val);
                free(k);
                free(want);
                k = bytes(3, 'e');
                val = rocksdb_get_cf(db, ro, cf[1], k, 3, &vl, &err);
                assert_non_null(val);
                assert_int_equal(vl, 0);
                free(val);
                free(k);
                k = bytes(5, 'd');
                val = rocksdb_get_cf(db, ro, cf[2], k, 5, &vl, &err);
                assert_null(val);
                free(k);
        }
        rocksdb_writebatch_destroy(got);
        rocksdb_writebatch_destroy(ref);
        wbrep_free(&w);

        /* an empty batch is a valid batch of no operations */
        wbrep_init(&w, 0);
        got = wbrep_batch(&w);
        assert_non_null(got);
        assert_int_equal(rocksdb_writebatch_count(got), 0);
        rocksdb_write(db, wo, got, &err);
        assert_null(err);
        rocksdb_writebatch_destroy(got);
        wbrep_free(&w);

        for (int i = 0; i < NCF; i++)
                rocksdb_column_family_handle_destroy(cf[i]);
        rocksdb_close(db);
        rocksdb_readoptions_destroy(ro);
        rocksdb_writeoptions_destroy(wo);
        rocksdb_options_destroy(o);
        unit_rmtree(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_same_bytes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
