/*
 * 0570-posindex.c — index pages at any depth (issue 13 item 5,
 * projector/posindex.c): an unfiltered page at startIndex N starts from a
 * checkpoint instead of skipping N-1 keys. The pages must equal a fresh
 * count at every depth, also after creates and deletes on either side of
 * the checkpoints, a deleted checkpoint key, a tenant whose name shares
 * the prefix, and inserts piling up between two checkpoints (rebuild).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "projector/scim_projector.h"
#include "tests/unit/unit_harness.h"

#define MAXIDS 6000

static char base[512];
static scim_store_t *st;
static char *ids[MAXIDS]; /* the reference: tenant t1's user ids */
static size_t nids;
static unsigned rng = 12345;
static int64_t clock_ms = 1767225600000LL;

static unsigned rnd(void)
{
        rng = rng * 1103515245u + 12345u;
        return (rng >> 8) & 0xffffff;
}

static int cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Folds n events of one kind in one batch. */
static void fold(scim_event_t *evs, size_t n)
{
        scim_buf_t *enc = calloc(n, sizeof(*enc));
        scim_verdict_t *v = calloc(n, sizeof(*v));
        scim_err_t err;

        for (size_t i = 0; i < n; i++)
                assert_int_equal(scim_event_encode(&evs[i], &enc[i], &err), 0);
        assert_int_equal(scim_store_append_fold(st, enc, evs, n, v, &err), 0);
        for (size_t i = 0; i < n; i++) {
                assert_true(v[i].status == 201 || v[i].status == 204);
                scim_verdict_clear(&v[i]);
                scim_buf_free(&enc[i]);
                scim_event_clear(&evs[i]);
        }
        free(enc);
        free(v);
}

static void ev_init(scim_event_t *e, const char *tenant, scim_action_t act,
                    const char *id)
{
        static unsigned n;

        memset(e, 0, sizeof(*e));
        snprintf(e->event_id, sizeof(e->event_id),
                 "00000000-0000-4000-8000-%012u", n++);
        e->schema_version = 2;
        e->tenant = strdup(tenant);
        e->rtype = act == SCIM_ACT_TENANT_CREATE ? 0 : SCIM_RT_USER;
        e->resource_id = id ? strdup(id) : NULL;
        e->action = act;
        e->time_ms = clock_ms++;
        e->actor = strdup("test");
        e->request_id = strdup("r");
        e->expect_version = act == SCIM_ACT_CREATE ? 0 : -1;
}

/* Creates n users with random ids in tenant (and in the reference when
 * tenant is t1), in batches of at most 300. */
static void create(const char *tenant, size_t n)
{
        scim_event_t evs[300];
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                char id[40], js[128];

                snprintf(id, sizeof(id), "u-%06x-%04zx", rnd(), nids);
                snprintf(js, sizeof(js), "{\"userName\":\"%s@x\"}", id);
                ev_init(&evs[k], tenant, SCIM_ACT_CREATE, id);
                evs[k].resource_json = strdup(js);
                k++;
                if (!strcmp(tenant, "t1")) {
                        assert_true(nids < MAXIDS);
                        ids[nids++] = strdup(id);
                }
                if (k == 300 || i + 1 == n) {
                        fold(evs, k);
                        k = 0;
                }
        }
        qsort(ids, nids, sizeof(ids[0]), cmp);
}

/* Deletes the reference ids at positions (0-based) in one batch. */
static void delete_at(const size_t *pos, size_t n)
{
        scim_event_t evs[64];

        assert_true(n <= 64);
        for (size_t i = 0; i < n; i++)
                ev_init(&evs[i], "t1", SCIM_ACT_DELETE, ids[pos[i]]);
        fold(evs, n);
        for (size_t i = 0; i < n; i++) {
                free(ids[pos[i]]);
                ids[pos[i]] = NULL;
        }
        {
                size_t w = 0;

                for (size_t i = 0; i < nids; i++)
                        if (ids[i])
                                ids[w++] = ids[i];
                nids = w;
        }
}

/* The page at start (1-based) must be the reference's slice. */
static void check_page(size_t start, size_t count)
{
        scim_query_t q;
        json_t *page = NULL;
        size_t total = 0;
        scim_err_t err;

        memset(&q, 0, sizeof(q));
        q.start_index = start;
        q.count = count;
        assert_int_equal(scim_store_list(st, "t1", SCIM_RT_USER, &q, &total,
                                         &page, &err),
                         0);
        assert_int_equal(total, nids);
        for (size_t i = 0; i < count; i++) {
                json_t *r = json_array_get(page, i);
                const char *got = json_string_value(json_object_get(r, "id"));

                if (start - 1 + i >= nids) {
                        assert_null(r);
                        continue;
                }
                if (!got || strcmp(got, ids[start - 1 + i]))
                        fail_msg("startIndex %zu item %zu: got %s, want %s",
                                 start, i, got ? got : "(none)",
                                 ids[start - 1 + i]);
        }
        json_decref(page);
}

static void check_random_pages(int n)
{
        for (int i = 0; i < n; i++)
                check_page(1 + rnd() % (nids + 5), 1 + rnd() % 40);
        check_page(nids, 10);
        check_page(nids - 20, 30);
        check_page(513, 5);
        check_page(1024, 5);
}

static void test_deep_pages(void **state)
{
        (void)state;
        create("t1", 3000);
        create("t10", 700); /* shares the prefix "t1" */
        check_random_pages(60);
        /* creates and deletes around the checkpoints */
        for (int round = 0; round < 5; round++) {
                size_t del[20];

                create("t1", 90);
                for (int i = 0; i < 20; i++) {
                        del[i] = rnd() % nids;
                        for (int j = 0; j < i; j++)
                                if (del[j] == del[i])
                                        del[i] = (del[i] + 1) % nids;
                }
                /* distinct positions */
                for (int i = 0; i < 20; i++)
                        for (int j = 0; j < i; j++)
                                while (del[j] == del[i])
                                        del[i] = (del[i] + 7) % nids;
                delete_at(del, 20);
                check_random_pages(30);
        }
        /* every checkpoint-ish key: the first key and every 512th go */
        {
                size_t del[8] = {0, 511, 512, 1023, 1024, 1536, 2047, 2048};

                delete_at(del, 8);
                check_random_pages(30);
        }
        /* inserts piling up in one place: a gap over 4 checkpoints grows
         * and is rebuilt */
        {
                scim_event_t evs[300];

                for (int round = 0; round < 8; round++) {
                        for (int i = 0; i < 300; i++) {
                                char id[40], js[96];

                                snprintf(id, sizeof(id), "u-800000-%02x%03x",
                                         round, i);
                                snprintf(js, sizeof(js),
                                         "{\"userName\":\"%s@x\"}", id);
                                ev_init(&evs[i], "t1", SCIM_ACT_CREATE, id);
                                evs[i].resource_json = strdup(js);
                                ids[nids++] = strdup(id);
                        }
                        fold(evs, 300);
                        qsort(ids, nids, sizeof(ids[0]), cmp);
                        check_random_pages(10);
                }
        }
        check_random_pages(60);
}

static int setup(void **state)
{
        char e[256], dir[700];
        scim_event_t ev[2];

        (void)state;
        unit_tmpdir(base, sizeof(base), "posindex");
        assert_int_equal(scim_schemas_init(e, sizeof(e)), 0);
        snprintf(dir, sizeof(dir), "%s/d", base);
        assert_int_equal(scim_store_open(dir, &st, e, sizeof(e)), 0);
        ev_init(&ev[0], "t1", SCIM_ACT_TENANT_CREATE, NULL);
        ev_init(&ev[1], "t10", SCIM_ACT_TENANT_CREATE, NULL);
        {
                scim_buf_t enc[2] = {{0}, {0}};
                scim_verdict_t v[2];
                scim_err_t err;

                memset(v, 0, sizeof(v));
                for (int i = 0; i < 2; i++)
                        assert_int_equal(scim_event_encode(&ev[i], &enc[i], &err),
                                         0);
                assert_int_equal(
                    scim_store_append_fold(st, enc, ev, 2, v, &err), 0);
                for (int i = 0; i < 2; i++) {
                        assert_int_equal(v[i].status, 201);
                        scim_buf_free(&enc[i]);
                        scim_event_clear(&ev[i]);
                }
        }
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        scim_store_close(st);
        for (size_t i = 0; i < nids; i++)
                free(ids[i]);
        unit_rmtree(base);
        scim_schemas_shutdown();
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_deep_pages),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
