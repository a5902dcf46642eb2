/*
 * 0580-readcache.c — the API's read cache (projector/readcache.c) answers
 * exactly what RocksDB would: a read that starts after a write was
 * acknowledged never sees the value before it.
 *  - the race: a writer thread replaces one user (displayName v<j>,
 *    userName n<j> at step j) one batch at a time and publishes j once
 *    append_fold returned; reader threads read it by id and by userName
 *    with a pause between a miss's RocksDB read and its insert (the
 *    window in which "read old, writer commits, insert old" happens). A
 *    read started after step c was acknowledged must see v>=c, and the
 *    superseded name n<c> must be free.
 *  - sequential: hit after miss, replace, delete (404 cached, then a
 *    create of the same id), tenant deletion and a new tenant of the same
 *    name holding a user of the same id, a rename freeing the old name.
 *  - memory: the entries stay within the budget (an eighth of the block
 *    cache: 1 MiB here) however many users are read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "projector/projector_internal.h"
#include "tests/unit/unit_harness.h"

static char dir[512];
static scim_store_t *st;
static int64_t clock_ms = 1767225600000LL;

/* Folds one event (owned: cleared here); returns its verdict status. */
static int fold1(scim_event_t ev)
{
        scim_buf_t enc = {0};
        scim_verdict_t v;
        scim_err_t err;
        int status;

        memset(&v, 0, sizeof(v));
        scim_err_clear(&err);
        assert_int_equal(scim_event_encode(&ev, &enc, &err), 0);
        assert_int_equal(scim_store_append_fold(st, &enc, &ev, 1, &v, &err), 0);
        status = v.status;
        scim_verdict_clear(&v);
        scim_buf_free(&enc);
        scim_event_clear(&ev);
        return status;
}

static int user_event(scim_action_t act, const char *tenant, const char *id,
                      const char *json)
{
        return fold1(
            unit_event(act, SCIM_RT_USER, tenant, id, json, clock_ms++));
}

static int tenant_event(scim_action_t act, const char *tenant)
{
        scim_event_t e = unit_event(act, 0, tenant, NULL, NULL, clock_ms++);

        return fold1(e);
}

/* The stored text of (tenant, id) in out (cleared first); 0 or 404. */
static int get(const char *tenant, const char *id, scim_buf_t *out)
{
        scim_err_t err;

        out->len = 0;
        scim_err_clear(&err);
        if (scim_store_get_raw(st, tenant, SCIM_RT_USER, id, out, &err) == 0)
                return 0;
        assert_int_equal(err.status, 404);
        return 404;
}

static int has_name(const char *tenant, const char *name, char *id,
                    size_t idlen)
{
        return scim_store_find_username(st, tenant, name, id, idlen);
}

/* ------------------------------------------------------------ race */

#define STEPS 300
#define READERS 3

static int committed; /* the last step acknowledged (atomic) */
static int writer_done;
static int stale_reads, stale_names, reads;

static void pause_fn(void)
{
        static __thread unsigned seed;
        unsigned r;

        if (!seed)
                seed = (unsigned)(uintptr_t)&seed;
        r = (unsigned)rand_r(&seed);
        if (r % 3 == 0)
                usleep(r % 300);
        else if (r % 3 == 1)
                sched_yield();
}

static void *writer(void *arg)
{
        (void)arg;
        for (int j = 1; j <= STEPS; j++) {
                char js[160];

                snprintf(js, sizeof(js),
                         "{\"userName\":\"n%d\",\"displayName\":\"v%d\"}", j,
                         j);
                assert_int_equal(user_event(SCIM_ACT_REPLACE, "t1", "race", js),
                                 200);
                __atomic_store_n(&committed, j, __ATOMIC_SEQ_CST);
        }
        __atomic_store_n(&writer_done, 1, __ATOMIC_SEQ_CST);
        return NULL;
}

static void *reader(void *arg)
{
        scim_buf_t b = {0};
        char name[32], id[64];

        (void)arg;
        while (!__atomic_load_n(&writer_done, __ATOMIC_SEQ_CST)) {
                int c = __atomic_load_n(&committed, __ATOMIC_SEQ_CST), c2;
                const char *v;

                /* by id: at least step c's value */
                if (get("t1", "race", &b) == 0) {
                        scim_buf_append(&b, "", 1);
                        v = strstr(b.data, "\"displayName\":\"v");
                        if (!v || atoi(v + 16) < c)
                                __atomic_add_fetch(&stale_reads, 1,
                                                   __ATOMIC_SEQ_CST);
                        __atomic_add_fetch(&reads, 1, __ATOMIC_SEQ_CST);
                } else {
                        __atomic_add_fetch(&stale_reads, 1, __ATOMIC_SEQ_CST);
                }
                /* by userName: the current name (cached found or not),
                 * then, once a later step is acknowledged, free */
                snprintf(name, sizeof(name), "n%d", c);
                has_name("t1", name, id, sizeof(id));
                c2 = __atomic_load_n(&committed, __ATOMIC_SEQ_CST);
                if (c2 > c && has_name("t1", name, id, sizeof(id)))
                        __atomic_add_fetch(&stale_names, 1, __ATOMIC_SEQ_CST);
        }
        scim_buf_free(&b);
        return NULL;
}

static void test_race(void **state)
{
        pthread_t w, r[READERS];

        (void)state;
        assert_int_equal(user_event(SCIM_ACT_CREATE, "t1", "race",
                                    "{\"userName\":\"n0\","
                                    "\"displayName\":\"v0\"}"),
                         201);
        rcache_test_pause(st, pause_fn);
        for (int i = 0; i < READERS; i++)
                assert_int_equal(pthread_create(&r[i], NULL, reader, NULL), 0);
        assert_int_equal(pthread_create(&w, NULL, writer, NULL), 0);
        pthread_join(w, NULL);
        for (int i = 0; i < READERS; i++)
                pthread_join(r[i], NULL);
        rcache_test_pause(st, NULL);
        fprintf(stderr, "# %d reads by id, %d stale; %d stale names\n", reads,
                stale_reads, stale_names);
        assert_true(reads > STEPS);
        assert_int_equal(stale_reads, 0);
        assert_int_equal(stale_names, 0);
}

/* ------------------------------------------------------- sequential */

static void expect_name(const char *tenant, const char *id, const char *want)
{
        scim_buf_t b = {0};
        char pat[96];

        assert_int_equal(get(tenant, id, &b), 0);
        assert_int_equal(get(tenant, id, &b), 0); /* the cached copy */
        scim_buf_append(&b, "", 1);
        snprintf(pat, sizeof(pat), "\"userName\":\"%s\"", want);
        if (!strstr(b.data, pat))
                fail_msg("%s/%s: want %s in %s", tenant, id, pat, b.data);
        scim_buf_free(&b);
}

static void test_sequential(void **state)
{
        scim_buf_t b = {0};
        char id[64];

        (void)state;
        /* absence is cached, and a create ends it */
        assert_int_equal(get("t1", "s1", &b), 404);
        assert_int_equal(get("t1", "s1", &b), 404);
        assert_false(has_name("t1", "alice", id, sizeof(id)));
        assert_int_equal(
            user_event(SCIM_ACT_CREATE, "t1", "s1", "{\"userName\":\"alice\"}"),
            201);
        expect_name("t1", "s1", "alice");
        assert_true(has_name("t1", "ALICE", id, sizeof(id)));
        assert_string_equal(id, "s1");
        /* a rename frees the old name and takes the new one */
        assert_int_equal(
            user_event(SCIM_ACT_REPLACE, "t1", "s1", "{\"userName\":\"bob\"}"),
            200);
        expect_name("t1", "s1", "bob");
        assert_false(has_name("t1", "alice", id, sizeof(id)));
        assert_true(has_name("t1", "bob", id, sizeof(id)));
        /* delete, then the same id again */
        assert_int_equal(user_event(SCIM_ACT_DELETE, "t1", "s1", NULL), 204);
        assert_int_equal(get("t1", "s1", &b), 404);
        assert_false(has_name("t1", "bob", id, sizeof(id)));
        assert_int_equal(
            user_event(SCIM_ACT_CREATE, "t1", "s1", "{\"userName\":\"carol\"}"),
            201);
        expect_name("t1", "s1", "carol");
        /* the same id in another tenant is another entry */
        assert_int_equal(
            user_event(SCIM_ACT_CREATE, "t2", "s1", "{\"userName\":\"dave\"}"),
            201);
        expect_name("t2", "s1", "dave");
        expect_name("t1", "s1", "carol");
        /* a tenant deleted and made again: nothing of the old one */
        assert_true(has_name("t2", "dave", id, sizeof(id)));
        assert_int_equal(tenant_event(SCIM_ACT_TENANT_DELETE, "t2"), 204);
        assert_int_equal(get("t2", "s1", &b), 404);
        assert_false(has_name("t2", "dave", id, sizeof(id)));
        assert_int_equal(tenant_event(SCIM_ACT_TENANT_CREATE, "t2"), 201);
        assert_int_equal(get("t2", "s1", &b), 404);
        assert_int_equal(
            user_event(SCIM_ACT_CREATE, "t2", "s1", "{\"userName\":\"erin\"}"),
            201);
        expect_name("t2", "s1", "erin");
        assert_false(has_name("t2", "dave", id, sizeof(id)));
        scim_buf_free(&b);
}

static void test_budget(void **state)
{
        scim_buf_t b = {0};

        (void)state;
        for (int i = 0; i < 6000; i += 300) {
                scim_event_t evs[300];
                scim_buf_t enc[300];
                char id[32], js[400];
                scim_err_t err;

                memset(enc, 0, sizeof(enc));
                for (int k = 0; k < 300; k++) {
                        snprintf(id, sizeof(id), "m%05d", i + k);
                        snprintf(js, sizeof(js),
                                 "{\"userName\":\"%s\",\"title\":\"%0300d\"}",
                                 id, i + k);
                        evs[k] = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, "t1",
                                            id, js, clock_ms++);
                        assert_int_equal(
                            scim_event_encode(&evs[k], &enc[k], &err), 0);
                }
                unit_fold_batches(st, enc, evs, 300, 300, NULL);
                for (int k = 0; k < 300; k++) {
                        scim_buf_free(&enc[k]);
                        scim_event_clear(&evs[k]);
                }
        }
        for (int round = 0; round < 2; round++)
                for (int i = 0; i < 6000; i++) {
                        char id[32];

                        snprintf(id, sizeof(id), "m%05d", i);
                        assert_int_equal(get("t1", id, &b), 0);
                }
        fprintf(stderr, "# entries hold %zu bytes\n", rcache_bytes(st));
        assert_true(rcache_bytes(st) > 0);
        assert_true(rcache_bytes(st) <= ((size_t)1 << 20));
        scim_buf_free(&b);
}

static int setup(void **state)
{
        (void)state;
        /* block cache 8 MiB: the read cache's budget is 1 MiB */
        scim_store_set_memory(8, 16);
        unit_store_setup(dir, sizeof(dir), "readcache", &st);
        assert_int_equal(tenant_event(SCIM_ACT_TENANT_CREATE, "t1"), 201);
        assert_int_equal(tenant_event(SCIM_ACT_TENANT_CREATE, "t2"), 201);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_store_teardown(dir, st);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sequential),
            cmocka_unit_test(test_race),
            cmocka_unit_test(test_budget),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
