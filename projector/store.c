/*
 * store.c — the RocksDB side of the projector: opening the database and
 * its column families, the durable append+fold batch, replay, digest, and
 * every read the API serves (by id, by index, by scan, members, tokens).
 *
 * Threads: one writer (ingest committer or replay) calls append_fold; any
 * number of http pool threads call the readers. RocksDB's C API never
 * clears its error pointer, so every call here starts with err = NULL.
 */
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "projector/projector_internal.h"

static const char *cf_names[CF_COUNT] = {"default", "log",    "res",
                                         "idx",     "mem",    "tenant",
                                         "token",   "change",
                                         "chidx",   "stream", "dkey"};

/* Marks dst as being rebuilt. Replay writes without the WAL (a crash
 * means: run replay again into a new dir), so until the final flush the
 * column families may stand at different points; scim_store_open treats a
 * store carrying this key as not current, and serve refuses it. */
static const char replay_mark[] = "replay_incomplete";

/* ------------------------------------------------------------ open */

/* The API's read cache, an eighth of the block cache's budget
 * (readcache.c), unless the store has one; none when it cannot be had. */
static void store_rcache_attach(scim_store_t *st)
{
        if (!st->rc)
                (void)rcache_open(st, store_tune_cache_bytes() / 8);
}

static int store_open(const char *dir, scim_store_t **out, char *errstr,
                      size_t errlen, int replay)
{
        scim_store_t *st = calloc(1, sizeof(*st));
        const rocksdb_options_t *cfopts[CF_COUNT];
        rocksdb_options_t *own[CF_COUNT];
        char *err = NULL;
        size_t vlen = 0;
        char *pos;

        *out = NULL;
        if (!st) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        pthread_mutex_init(&st->auth_mu, NULL);
        pthread_mutex_init(&st->pos_mu, NULL);
        pthread_mutex_init(&st->pidx_mu, NULL);
        st->opts = rocksdb_options_create();
        rocksdb_options_set_create_if_missing(st->opts, 1);
        rocksdb_options_set_create_missing_column_families(st->opts, 1);
        rocksdb_options_increase_parallelism(st->opts, 2);
        store_tune_open(st->opts); /* memtable sizes and budget */
        st->topts = rocksdb_block_based_options_create();
        st->cache = rocksdb_cache_create_lru(store_tune_cache_bytes());
        rocksdb_block_based_options_set_block_cache(st->topts, st->cache);
        store_tune_table(st->topts); /* index/filter blocks in the cache */
        st->bloom = rocksdb_filterpolicy_create_bloom(10);
        rocksdb_block_based_options_set_filter_policy(st->topts, st->bloom);
        /* Point reads (GET by id, index lookups, the fold's reads): a hash
         * index inside each data block replaces the binary search of the
         * block, and a bloom filter over the memtable's keys lets a Get of
         * a key the memtable lacks skip its skiplist (issue 13: about a
         * quarter of a Get's instructions each). */
        rocksdb_block_based_options_set_data_block_index_type(
            st->topts,
            rocksdb_block_based_table_data_block_index_type_binary_search_and_hash);
        rocksdb_block_based_options_set_data_block_hash_ratio(st->topts, 0.75);
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(st->opts, 0.02);
        rocksdb_options_set_memtable_whole_key_filtering(st->opts, 1);
        rocksdb_options_set_block_based_table_factory(st->opts, st->topts);
        /* memtable insert hints; a replay's vector memtables */
        st->vector_cfs = store_tune_cf(st->opts, cfopts, own, replay);
        st->db = rocksdb_open_column_families(st->opts, dir, CF_COUNT,
                                              cf_names, cfopts, st->cf, &err);
        store_tune_cf_free(own);
        if (err) {
                snprintf(errstr, errlen, "%s", err);
                free(err);
                st->db = NULL;
                scim_store_close(st);
                return -1;
        }
        for (int i = 0; i < CF_COUNT; i++)
                st->cf_id[i] = rocksdb_column_family_handle_get_id(st->cf[i]);
        st->dir = strdup(dir);
        store_rcache_attach(st);
        st->ro = rocksdb_readoptions_create();
        st->wo_sync = rocksdb_writeoptions_create();
        rocksdb_writeoptions_set_sync(st->wo_sync, 1);
        st->wo_nosync = rocksdb_writeoptions_create();
        err = NULL;
        pos = rocksdb_get_cf(st->db, st->ro, st->cf[CF_DEFAULT], "position", 8,
                             &vlen, &err);
        free(err);
        if (pos && vlen == 8)
                st->position = scim_get_be64((unsigned char *)pos);
        free(pos);
        err = NULL;
        pos = rocksdb_get_cf(st->db, st->ro, st->cf[CF_DEFAULT], "log_base", 8,
                             &vlen, &err);
        free(err);
        if (pos && vlen == 8)
                st->log_base = scim_get_be64((unsigned char *)pos);
        free(pos);
        {
                /* The views' key layout version. A store that already
                 * holds tenants but no (or an older) version was built by
                 * an older scimlog: its views must be rebuilt by replay. */
                rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
                    st->db, st->ro, st->cf[CF_TENANT]);
                int has_data;
                char *fmt;

                rocksdb_iter_seek_to_first(it);
                has_data = rocksdb_iter_valid(it);
                rocksdb_iter_destroy(it);
                err = NULL;
                fmt = rocksdb_get_cf(st->db, st->ro, st->cf[CF_DEFAULT],
                                     "views_format", 12, &vlen, &err);
                free(err);
                if (fmt && vlen == 4 && memcmp(fmt, SCIM_VIEWS_FORMAT, 4) == 0)
                        st->views_current = 1;
                else if (!fmt && !has_data) {
                        err = NULL;
                        rocksdb_put_cf(st->db, st->wo_sync,
                                       st->cf[CF_DEFAULT], "views_format", 12,
                                       SCIM_VIEWS_FORMAT, 4, &err);
                        st->views_current = err == NULL;
                        free(err);
                }
                {
                        /* a replay that did not finish (no WAL) */
                        char *mark;

                        err = NULL;
                        mark = rocksdb_get_cf(st->db, st->ro,
                                              st->cf[CF_DEFAULT],
                                              replay_mark,
                                              sizeof(replay_mark) - 1, &vlen,
                                              &err);
                        free(err);
                        if (mark)
                                st->views_current = 0;
                        free(mark);
                }
                free(fmt);
        }
        *out = st;
        return 0;
}

int scim_store_open(const char *dir, scim_store_t **out, char *errstr,
                    size_t errlen)
{
        return store_open(dir, out, errstr, errlen, 0);
}

int scim_store_open_replay(const char *dir, scim_store_t **out,
                           char *errstr, size_t errlen)
{
        return store_open(dir, out, errstr, errlen, 1);
}

int scim_store_views_current(scim_store_t *st)
{
        return st->views_current;
}

void scim_store_close(scim_store_t *st)
{
        if (!st)
                return;
        erase_store_closed(); /* its cached data keys (erase.c) */
        if (st->db) {
                char *err = NULL;
                rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();

                rocksdb_flushoptions_set_wait(fo, 1);
                for (int i = 0; i < CF_COUNT; i++) {
                        err = NULL;
                        rocksdb_flush_cf(st->db, fo, st->cf[i], &err);
                        free(err);
                }
                rocksdb_flushoptions_destroy(fo);
                for (int i = 0; i < CF_COUNT; i++)
                        if (st->cf[i])
                                rocksdb_column_family_handle_destroy(st->cf[i]);
                rocksdb_close(st->db);
        }
        rcache_free(st);
        if (st->ro)
                rocksdb_readoptions_destroy(st->ro);
        if (st->wo_sync)
                rocksdb_writeoptions_destroy(st->wo_sync);
        if (st->wo_nosync)
                rocksdb_writeoptions_destroy(st->wo_nosync);
        rocksdb_options_destroy(st->opts);
        rocksdb_block_based_options_destroy(st->topts);
        rocksdb_cache_destroy(st->cache);
        pthread_mutex_destroy(&st->auth_mu);
        pthread_mutex_destroy(&st->pos_mu);
        posidx_free_all(st);
        txn_hot_free(st);
        pthread_mutex_destroy(&st->pidx_mu);
        model_cache_forget(st);
        free(st->dir);
        free(st);
}

uint64_t scim_store_position(scim_store_t *st)
{
        return __atomic_load_n(&st->position, __ATOMIC_ACQUIRE);
}

void scim_verdict_clear(scim_verdict_t *v)
{
        if (!v)
                return;
        json_decref(v->resource);
        json_decref(v->dropped);
        scim_buf_free(&v->text);
        memset(v, 0, sizeof(*v));
}

/* ------------------------------------------------------ append+fold */

/* v->text: a copy of the text the fold stored for v->resource (fold.c
 * store_res; txn_text is reset for every event), for the answer of a
 * user's create or replace (api/http.c answer_write splices it; a PATCH
 * answers 204 or with a projection, so it is not copied for one). */
static void verdict_text(txn_t *t, scim_verdict_t *v)
{
        size_t tl = 0;
        const char *tx = txn_text(t, &tl);

        /* the answer adds ,"location":"<base>/Users/<id>" */
        if (tx && scim_buf_reserve(&v->text, tl + 200) == 0)
                scim_buf_append(&v->text, tx, tl);
}

/* Folds events (and their log records) into t, starting at seq first.
 * drop (replay: the same events, which nobody answers): each verdict's
 * resource and dropped attributes, and the event's parsed resource, go
 * right after its event, while their nodes are still in this CPU's cache
 * (verdicts freed a batch later were ~5% of a replay's CPU; the parsed
 * resources, freed by the reader thread when it reused the event, ~6%
 * of all samples, as much as parsing them). NULL: kept (serve). */
static void fold_into(txn_t *t, const scim_buf_t *encoded,
                      const scim_event_t *events, const int *decoded,
                      const scim_err_t *derrs, size_t n, uint64_t first,
                      scim_verdict_t *verdicts, scim_event_t *drop)
{
        unsigned char k[8];

        for (size_t i = 0; i < n; i++) {
                scim_put_be64(k, first + i);
                txn_append(t, CF_LOG, (char *)k, 8, encoded[i].data,
                           encoded[i].len);
                fold_event(t, first + i, decoded[i] ? &events[i] : NULL,
                           &derrs[i], &verdicts[i]);
                if (!drop && verdicts[i].resource && decoded[i] &&
                    events[i].rtype == SCIM_RT_USER &&
                    (events[i].action == SCIM_ACT_CREATE ||
                     events[i].action == SCIM_ACT_REPLACE))
                        verdict_text(t, &verdicts[i]);
                if (drop) {
                        json_decref(verdicts[i].resource);
                        json_decref(verdicts[i].dropped);
                        verdicts[i].resource = verdicts[i].dropped = NULL;
                        json_decref(drop[i].resource_parsed);
                        drop[i].resource_parsed = NULL;
                }
        }
        scim_put_be64(k, first + n - 1);
        txn_put(t, CF_DEFAULT, "position", 8, (char *)k, 8);
}

/* Folds events into a fresh batch starting at seq first, optionally
 * copying log records; writes with the given options. */
static int fold_write(scim_store_t *st, const scim_buf_t *encoded,
                      const scim_event_t *events, const int *decoded,
                      const scim_err_t *derrs, size_t n, uint64_t first,
                      scim_verdict_t *verdicts,
                      const rocksdb_writeoptions_t *wo, scim_err_t *err)
{
        txn_t t;
        char *werr = NULL;

        txn_begin(&t, st);
        fold_into(&t, encoded, events, decoded, derrs, n, first, verdicts,
                  NULL);
        posidx_write_begin(st);
        txn_write(&t, wo, &werr);
        posidx_write_end(st, werr == NULL);
        if (!werr)
                txn_committed(&t);
        txn_end(&t);
        if (werr) {
                scim_err_set_retry(err, 503, "log write failed: %.400s", werr);
                free(werr);
                for (size_t i = 0; i < n; i++) {
                        scim_verdict_clear(&verdicts[i]);
                        verdicts[i].status = 503;
                        snprintf(verdicts[i].detail, sizeof(verdicts[i].detail),
                                 "%s", err->detail);
                }
                return -1;
        }
        store_note_batch(st, verdicts, n);
        __atomic_store_n(&st->position, first + n - 1, __ATOMIC_RELEASE);
        store_notify_folded(st); /* change stream readers (stream.c) */
        for (size_t i = 0; i < n; i++)
                if (decoded[i] && event_changes_auth(&events[i])) {
                        __atomic_add_fetch(&st->auth_gen, 1, __ATOMIC_RELEASE);
                        break;
                }
        for (size_t i = 0; i < n; i++)
                if (decoded[i] && event_changes_model(&events[i])) {
                        __atomic_add_fetch(&st->model_gen, 1,
                                           __ATOMIC_RELEASE);
                        break;
                }
        return 0;
}

int scim_store_append_fold(scim_store_t *st, const scim_buf_t *encoded,
                           const scim_event_t *events, size_t n,
                           scim_verdict_t *verdicts, scim_err_t *err)
{
        int *decoded;
        scim_err_t *derrs;
        int rc;

        if (n == 0)
                return 0;
        decoded = malloc(n * sizeof(*decoded));
        derrs = calloc(n, sizeof(*derrs));
        if (!decoded || !derrs) {
                free(decoded);
                free(derrs);
                return scim_err_set_retry(err, 503, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
                decoded[i] = 1;
        rc = fold_write(st, encoded, events, decoded, derrs, n,
                        st->position + 1, verdicts, st->wo_sync, err);
        free(decoded);
        free(derrs);
        return rc;
}

/* ----------------------------------------------------------- replay */

uint64_t scim_store_log_each(scim_store_t *st, uint64_t until_seq,
                             int (*fn)(void *ctx, uint64_t seq,
                                       const void *data, size_t len),
                             void *ctx)
{
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_LOG]);
        uint64_t n = 0;

        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);
                uint64_t seq = kl == 8 ? scim_get_be64((unsigned char *)k) : 0;

                if (until_seq && seq > until_seq)
                        break;
                n++;
                if (fn(ctx, seq, v, vl))
                        break;
        }
        rocksdb_iter_destroy(it);
        return n;
}

/* Events per replay batch: large enough that per-batch costs (the write,
 * counters read once per batch) vanish, small enough that the overlay
 * and the two batches in flight stay a few MiB. */
#define REPLAY_BATCH 2000

/* Events per replay batch in use (tests cut the log finer to exercise
 * the pipeline across many batch boundaries). */
static size_t replay_batch = REPLAY_BATCH;

void scim_store_replay_batch(size_t n)
{
        replay_batch = n && n < REPLAY_BATCH ? n : REPLAY_BATCH;
}


int store_replay_mark_set(scim_store_t *dst, int on)
{
        char *werr = NULL;

        if (on)
                rocksdb_put_cf(dst->db, dst->wo_sync, dst->cf[CF_DEFAULT],
                               replay_mark, sizeof(replay_mark) - 1, "1", 1,
                               &werr);
        else
                rocksdb_delete_cf(dst->db, dst->wo_sync, dst->cf[CF_DEFAULT],
                                  replay_mark, sizeof(replay_mark) - 1, &werr);
        free(werr);
        return werr ? -1 : 0;
}

static void flush_all(scim_store_t *st)
{
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();

        rocksdb_flushoptions_set_wait(fo, 1);
        for (int i = 0; i < CF_COUNT; i++) {
                char *werr = NULL;

                rocksdb_flush_cf(st->db, fo, st->cf[i], &werr);
                free(werr);
        }
        rocksdb_flushoptions_destroy(fo);
}

/* The calling thread's CPU time so far, ns. */
static uint64_t thread_cpu_ns(void)
{
        struct timespec ts;

        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
                return 0;
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One replay batch: log records as read, decoded events, fold inputs. */
typedef struct rbatch {
        scim_buf_t enc[REPLAY_BATCH];
        scim_event_t evs[REPLAY_BATCH];
        scim_err_t derrs[REPLAY_BATCH];
        int decoded[REPLAY_BATCH];
        size_t n;
        uint64_t first;
        int full; /* under rp->mu: filled, waiting for the fold */
        int reads; /* an event may read the records in SST files */
} rbatch_t;

/* Replay runs in two stages on two threads: the reader reads the log,
 * decodes every event and parses its resource JSON (pure work that
 * depends on nothing but the bytes) into one batch while the folder
 * thread folds the other one. The fold itself stays sequential. */
typedef struct replay {
        scim_store_t *src;
        uint64_t until_seq;
        rbatch_t b[2];
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int done, stop; /* reader finished / folder gave up */
        uint64_t cpu_ns;  /* the reader's CPU time, set as it ends */
} replay_t;

/* Parses the event's resource ahead of the fold, which takes the tree as
 * checked: what fails to parse or is over a size limit the fold checks
 * for events of schema v3 on (another producer's events) stays text, so
 * the fold parses and refuses it itself, as the live fold does. */
static void reader_parse(scim_event_t *ev)
{
        size_t len = strlen(ev->resource_json);
        scim_err_t le;

        ev->resource_parsed = scim_json_load(ev->resource_json, len);
        scim_err_clear(&le);
        if (ev->resource_parsed && ev->schema_version >= 3 &&
            scim_resource_limits(ev->resource_parsed, len, &le) < 0) {
                json_decref(ev->resource_parsed);
                ev->resource_parsed = NULL;
        }
}

static void rbatch_fill(replay_t *rp, rocksdb_iterator_t *it, rbatch_t *rb)
{
        rb->n = 0;
        rb->reads = 0;
        while (rb->n < replay_batch && rocksdb_iter_valid(it)) {
                size_t kl, vl, i = rb->n;
                const char *k = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);
                uint64_t seq = kl == 8 ? scim_get_be64((unsigned char *)k) : 0;
                scim_event_t *ev = &rb->evs[i];

                if (rp->until_seq && seq > rp->until_seq)
                        break;
                if (i == 0)
                        rb->first = seq;
                rb->enc[i].len = 0;
                scim_buf_append(&rb->enc[i], v, vl);
                scim_event_clear(ev);
                scim_err_clear(&rb->derrs[i]);
                rb->decoded[i] =
                    scim_event_decode(v, vl, ev, &rb->derrs[i]) == 0;
                if (rb->decoded[i]) /* sealed: the source's data keys */
                        scim_store_unseal(rp->src, ev);
                rb->reads |= rb->decoded[i] && store_sst_reads(ev);
                if (rb->decoded[i] && ev->resource_json &&
                    (ev->action == SCIM_ACT_CREATE ||
                     ev->action == SCIM_ACT_REPLACE ||
                     ev->action == SCIM_ACT_PATCH))
                        reader_parse(ev);
                rb->n++;
                rocksdb_iter_next(it);
        }
}

/* Reader thread: fills the two batches in turn until the log ends. */
static void *replay_reader(void *arg)
{
        replay_t *rp = arg;
        /* one sequential pass: the log's blocks would only evict
         * everything else from the source's block cache (RSS) */
        rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
        rocksdb_iterator_t *it;
        int k = 0;

        store_tune_thread();
        rocksdb_readoptions_set_fill_cache(ro, 0);
        rocksdb_readoptions_set_readahead_size(ro, 2 << 20);
        it = rocksdb_create_iterator_cf(rp->src->db, ro, rp->src->cf[CF_LOG]);

        {
                unsigned char from[8]; /* the log starts after its base */

                scim_put_be64(from, rp->src->log_base + 1);
                rocksdb_iter_seek(it, (char *)from, 8);
        }
        for (;;) {
                rbatch_t *rb = &rp->b[k];

                pthread_mutex_lock(&rp->mu);
                while (rb->full && !rp->stop)
                        pthread_cond_wait(&rp->cv, &rp->mu);
                pthread_mutex_unlock(&rp->mu);
                if (rp->stop)
                        break;
                rbatch_fill(rp, it, rb);
                pthread_mutex_lock(&rp->mu);
                if (rb->n)
                        rb->full = 1;
                else
                        rp->done = 1;
                pthread_cond_broadcast(&rp->cv);
                pthread_mutex_unlock(&rp->mu);
                if (!rb->n)
                        break;
                k ^= 1;
        }
        rocksdb_iter_destroy(it);
        rocksdb_readoptions_destroy(ro);
        rp->cpu_ns = thread_cpu_ns(); /* read after the join */
        return NULL;
}

/* Replay's write stage: batch N is written to RocksDB (memtable inserts,
 * ~a quarter of the fold thread's instructions) on this thread while the
 * fold thread folds batch N+1 over it (txn_stack: N+1 reads N's overlay
 * before the database; scans wait for N's write). One write in flight,
 * batches written in log order, so the database ends the same. */
typedef struct rwriter {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        txn_t *job; /* being written; NULL when idle */
        /* the batch written before job, done with (in the hot cache):
         * freed here once job is written, off the fold thread (freeing a
         * batch's overlay was ~5% of that thread's time) */
        txn_t trash;
        const rocksdb_writeoptions_t *wo;
        char *werr; /* the first write error */
        int quit;
        uint64_t cpu_ns; /* the writer's CPU time, set as it ends */
} rwriter_t;

static void *rwriter_main(void *arg)
{
        rwriter_t *w = arg;

        pthread_mutex_lock(&w->mu);
        for (;;) {
                txn_t *t, old;
                char *e = NULL;

                while (!w->job && !w->quit)
                        pthread_cond_wait(&w->cv, &w->mu);
                if (!w->job)
                        break;
                t = w->job;
                old = w->trash;
                w->trash.ov = NULL;
                pthread_mutex_unlock(&w->mu);
                txn_write(t, w->wo, &e);
                pthread_mutex_lock(&w->mu);
                if (e && !w->werr)
                        w->werr = e;
                else
                        free(e);
                w->job = NULL;
                pthread_cond_broadcast(&w->cv);
                pthread_mutex_unlock(&w->mu);
                txn_end(&old); /* the fold goes on meanwhile */
                pthread_mutex_lock(&w->mu);
        }
        txn_end(&w->trash);
        w->cpu_ns = thread_cpu_ns();
        pthread_mutex_unlock(&w->mu);
        return NULL;
}

/* Waits until the batch in flight is written (txn_stack's settle). */
static void rwriter_wait(void *arg)
{
        rwriter_t *w = arg;

        pthread_mutex_lock(&w->mu);
        while (w->job)
                pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
}

/* Starts t's write; done (written and committed, or NULL) goes with it,
 * to be freed by the writer. */
static void rwriter_start(rwriter_t *w, txn_t *t, txn_t *done)
{
        pthread_mutex_lock(&w->mu);
        w->job = t;
        if (done) {
                txn_end(&w->trash); /* none: the writer took the last */
                w->trash = *done;
                done->ov = NULL;
        }
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
}

/* After batch [first, first+n) is written: what fold_write does then. */
static void replay_written(scim_store_t *dst, scim_verdict_t *vs, size_t n,
                           uint64_t first, int auth, int model)
{
        store_note_batch(dst, vs, n);
        __atomic_store_n(&dst->position, first + n - 1, __ATOMIC_RELEASE);
        if (auth)
                __atomic_add_fetch(&dst->auth_gen, 1, __ATOMIC_RELEASE);
        if (model)
                __atomic_add_fetch(&dst->model_gen, 1, __ATOMIC_RELEASE);
        for (size_t i = 0; i < n; i++)
                scim_verdict_clear(&vs[i]);
        /* nobody lists the new dir while it is rebuilt: drop the notes */
        posidx_write_begin(dst);
        posidx_write_end(dst, 1);
}

int scim_store_replay(scim_store_t *src, scim_store_t *dst, uint64_t until_seq,
                      void (*progress)(uint64_t done, uint64_t total),
                      scim_err_t *err)
{
        replay_t *rp = calloc(1, sizeof(*rp));
        scim_verdict_t *vs[2] = {calloc(REPLAY_BATCH, sizeof(**vs)),
                                 calloc(REPLAY_BATCH, sizeof(**vs))};
        rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
        rwriter_t w = {.wo = wo};
        txn_t tx[2];
        size_t pn = 0; /* the batch in flight: tx[cur ^ 1], vs[cur ^ 1] */
        uint64_t pfirst = 0;
        int pending = 0, pauth = 0, pmodel = 0, cur = 0, wstarted = 0;
        pthread_t wthr;
        uint64_t base = src->log_base;
        uint64_t total = (until_seq && until_seq < src->position ? until_seq
                                                                  : src->position) -
                         base;
        uint64_t done = 0;
        int64_t last = scim_now_ms();
        int rc = 0, k = 0, started = 0;
        /* replay's cache: three quarters of the block cache's budget (it
         * holds the resources and indexes written back, and nearly every
         * read; RocksDB's own reads are mostly memberships) */
        size_t hot_bytes = store_tune_cache_bytes() / 4 * 3;
        pthread_t thr;
        uint64_t cpu0 = thread_cpu_ns();

        memset(&dst->replay_cpu, 0, sizeof(dst->replay_cpu));

        pthread_mutex_init(&w.mu, NULL);
        pthread_cond_init(&w.cv, NULL);
        if (!rp || !vs[0] || !vs[1]) {
                rc = scim_err_set(err, 500, NULL, "out of memory");
                goto out;
        }
        rp->src = src;
        rp->until_seq = until_seq;
        pthread_mutex_init(&rp->mu, NULL);
        pthread_cond_init(&rp->cv, NULL);
        rocksdb_writeoptions_disable_WAL(wo, 1);
        if (base && until_seq && until_seq < base) {
                rc = scim_err_set(err, 400, NULL,
                                  "the log before position %llu was "
                                  "truncated (its state is snapshot %llu): "
                                  "--until must be at least %llu",
                                  (unsigned long long)base + 1,
                                  (unsigned long long)base,
                                  (unsigned long long)base);
                goto out;
        }
        store_copy_keys(src, dst); /* not in the log: copied */
        if (store_replay_mark_set(dst, 1) < 0) {
                rc = scim_err_set(err, 500, NULL, "cannot write to the new dir");
                goto out;
        }
        if (base && snapshot_restore(src, base, dst, err) < 0) {
                rc = -1;
                goto out;
        }
        /* nobody reads the new dir while it is rebuilt: no read cache
         * (its marks were ~2.5% of a replay's CPU); the fold's own reads
         * of stored resources and indexes come from the hot cache
         * (txn_hot_replay) */
        rcache_free(dst);
        if (txn_hot_replay(dst, hot_bytes) == 0) {
                /* the budget stays the same: the block cache gives it */
                rocksdb_cache_set_capacity(
                    dst->cache, store_tune_cache_bytes() - hot_bytes);
                /* resources, indexes and memberships written back: a key
                 * written many times (a user patched again and again)
                 * reaches RocksDB once, at the end, in SST files */
                (void)txn_hot_write_back(dst, 1u << CF_RES | 1u << CF_IDX |
                                                  1u << CF_MEM);
        }
        /* log, change and stream records straight into SST files (none:
         * through the batch as before) */
        dst->sst = store_sst_open(dst);
        if (pthread_create(&thr, NULL, replay_reader, rp) != 0) {
                rc = scim_err_set(err, 500, NULL, "cannot start a thread");
                goto out;
        }
        started = 1;
        if (pthread_create(&wthr, NULL, rwriter_main, &w) != 0) {
                rc = scim_err_set(err, 500, NULL, "cannot start a thread");
                goto out;
        }
        wstarted = 1;
        fold_set_replay(1); /* fold_into drops each verdict at once */
        while (rc == 0) {
                rbatch_t *rb = &rp->b[k];
                size_t n;
                uint64_t first;
                int auth = 0, model = 0;

                pthread_mutex_lock(&rp->mu);
                while (!rb->full && !rp->done)
                        pthread_cond_wait(&rp->cv, &rp->mu);
                pthread_mutex_unlock(&rp->mu);
                if (!rb->full)
                        break; /* the log ended */
                if (rb->reads) {
                        /* the fold will read records (and tenant-wide
                         * views): all in the db */
                        rwriter_wait(&w);
                        if (pending && !w.werr)
                                txn_committed(&tx[cur ^ 1]);
                        (void)txn_hot_flush(dst, 0); /* failed says */
                        if (dst->sst)
                                (void)store_sst_ingest(dst->sst);
                        store_tune_flush_vector(dst); /* reads sort it */
                }
                /* fold batch k over the one being written */
                txn_begin(&tx[cur], dst);
                if (pending)
                        txn_stack(&tx[cur], &tx[cur ^ 1], rwriter_wait, &w);
                fold_into(&tx[cur], rb->enc, rb->evs, rb->decoded, rb->derrs,
                          rb->n, rb->first, vs[cur], rb->evs);
                n = rb->n;
                first = rb->first;
                for (size_t i = 0; i < n; i++) {
                        auth |= rb->decoded[i] && event_changes_auth(&rb->evs[i]);
                        model |=
                            rb->decoded[i] && event_changes_model(&rb->evs[i]);
                }
                pthread_mutex_lock(&rp->mu);
                rb->full = 0; /* the txn holds copies of what it needs */
                pthread_cond_broadcast(&rp->cv);
                pthread_mutex_unlock(&rp->mu);
                k ^= 1;
                txn_settle(&tx[cur]); /* the previous batch is written */
                if (pending) {
                        if (!w.werr)
                                txn_committed(&tx[cur ^ 1]);
                        replay_written(dst, vs[cur ^ 1], pn, pfirst, pauth,
                                       pmodel);
                }
                if (w.werr || store_sst_failed(dst->sst) ||
                    txn_hot_failed(dst)) {
                        /* the writer is idle: close reports the SST's */
                        if (pending)
                                txn_end(&tx[cur ^ 1]);
                        pending = 0;
                        txn_end(&tx[cur]);
                        for (size_t i = 0; i < n; i++)
                                scim_verdict_clear(&vs[cur][i]);
                        break;
                }
                /* the previous batch (committed above) is freed by the
                 * writer */
                rwriter_start(&w, &tx[cur], pending ? &tx[cur ^ 1] : NULL);
                pending = 1;
                pn = n;
                pfirst = first;
                pauth = auth;
                pmodel = model;
                cur ^= 1;
                done += n;
                if (progress && scim_now_ms() - last >= 1000) {
                        progress(done, total);
                        last = scim_now_ms();
                }
        }
        if (pending) {
                rwriter_wait(&w);
                if (!w.werr)
                        txn_committed(&tx[cur ^ 1]);
                txn_end(&tx[cur ^ 1]);
                replay_written(dst, vs[cur ^ 1], pn, pfirst, pauth, pmodel);
                pending = 0;
        }
        if (w.werr && rc == 0)
                rc = scim_err_set_retry(err, 503, "log write failed: %.400s",
                                        w.werr);
        /* the write-back's last values (none after a failure: the dir
         * stays marked) */
        if (rc == 0 && !store_sst_failed(dst->sst) &&
            txn_hot_flush(dst, 1) < 0)
                rc = scim_err_set_retry(err, 503, "log write failed: %.400s",
                                        txn_hot_failed(dst));
        if (dst->sst) { /* the writer is idle: the last files in */
                char *serr = NULL;

                if (store_sst_close(dst->sst, &serr) < 0 && rc == 0)
                        rc = scim_err_set_retry(err, 503,
                                                "log write failed: %.400s",
                                                serr ? serr : "SST files");
                free(serr);
                dst->sst = NULL;
        }
        if (progress)
                progress(done, total);
        if (rc == 0 && base) {
                store_tune_flush_vector(dst);
                rc = snapshot_finish_replay(dst, base, err);
        }
        if (rc == 0) {
                /* everything on disk, then the mark goes */
                flush_all(dst);
                if (store_replay_mark_set(dst, 0) < 0)
                        rc = scim_err_set(err, 500, NULL,
                                          "cannot finish the new dir");
                flush_all(dst);
        }
out:
        fold_set_replay(0);
        if (wstarted) {
                pthread_mutex_lock(&w.mu);
                w.quit = 1;
                pthread_cond_broadcast(&w.cv);
                pthread_mutex_unlock(&w.mu);
                pthread_join(wthr, NULL);
        }
        if (dst->sst) { /* failed before the end: the mark stays */
                (void)store_sst_close(dst->sst, NULL);
                dst->sst = NULL;
        }
        free(w.werr);
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
        if (started) {
                pthread_mutex_lock(&rp->mu);
                rp->stop = 1;
                pthread_cond_broadcast(&rp->cv);
                pthread_mutex_unlock(&rp->mu);
                pthread_join(thr, NULL);
                dst->replay_cpu.reader_s = (double)rp->cpu_ns / 1e9;
        }
        if (rp) {
                for (int j = 0; j < 2; j++)
                        for (size_t i = 0; i < REPLAY_BATCH; i++) {
                                scim_event_clear(&rp->b[j].evs[i]);
                                scim_buf_free(&rp->b[j].enc[i]);
                        }
                pthread_mutex_destroy(&rp->mu);
                pthread_cond_destroy(&rp->cv);
        }
        free(rp);
        free(vs[0]);
        free(vs[1]);
        rocksdb_writeoptions_destroy(wo);
        dst->replay_cpu.fold_s = (double)(thread_cpu_ns() - cpu0) / 1e9;
        dst->replay_cpu.writer_s = wstarted ? (double)w.cpu_ns / 1e9 : 0;
        /* the dir as any store: the small hot cache (serve writes some
         * column families outside batches) and the read cache back */
        txn_hot_free(dst);
        rocksdb_cache_set_capacity(dst->cache, store_tune_cache_bytes());
        store_rcache_attach(dst);
        return rc;
}

scim_replay_cpu_t scim_store_replay_cpu(const scim_store_t *st)
{
        return st->replay_cpu;
}

int scim_store_dump(scim_store_t *st, const char *cf_name, FILE *out)
{
        int c = 0;
        rocksdb_iterator_t *it;

        while (c < CF_COUNT && strcmp(cf_names[c], cf_name))
                c++;
        if (c == CF_COUNT)
                return -1;
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[c]);
        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);

                for (size_t i = 0; i < kl; i++)
                        fprintf(out, (k[i] >= 32 && k[i] < 127 && k[i] != '\\')
                                         ? "%c"
                                         : "\\x%02x",
                                (unsigned char)k[i]);
                fputs(" = ", out);
                for (size_t i = 0; i < vl && i < 400; i++)
                        fprintf(out, (v[i] >= 32 && v[i] < 127 && v[i] != '\\')
                                         ? "%c"
                                         : "\\x%02x",
                                (unsigned char)v[i]);
                fputc('\n', out);
        }
        rocksdb_iter_destroy(it);
        return 0;
}

int scim_store_digest(scim_store_t *st, char out[65], scim_err_t *err)
{
        return scim_store_digest_cf(st, out, NULL, err);
}

int scim_store_digest_cf(scim_store_t *st, char out[65], json_t *per_cf,
                         scim_err_t *err)
{
        gnutls_hash_hd_t h, hc = NULL;
        unsigned char md[32];

        if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
                return scim_err_set(err, 500, NULL, "sha256 unavailable");
        for (int c = 0; c < CF_COUNT; c++) {
                rocksdb_iterator_t *it =
                    rocksdb_create_iterator_cf(st->db, st->ro, st->cf[c]);

                if (per_cf && gnutls_hash_init(&hc, GNUTLS_DIG_SHA256) < 0)
                        hc = NULL;
                gnutls_hash(h, cf_names[c], strlen(cf_names[c]) + 1);
                for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
                     rocksdb_iter_next(it)) {
                        size_t kl, vl;
                        const char *k = rocksdb_iter_key(it, &kl);
                        const char *v = rocksdb_iter_value(it, &vl);
                        unsigned char len[8];

                        scim_put_be64(len, kl);
                        gnutls_hash(h, len, 8);
                        gnutls_hash(h, k, kl);
                        scim_put_be64(len, vl);
                        gnutls_hash(h, len, 8);
                        gnutls_hash(h, v, vl);
                        if (hc) {
                                scim_put_be64(len, kl);
                                gnutls_hash(hc, len, 8);
                                gnutls_hash(hc, k, kl);
                                scim_put_be64(len, vl);
                                gnutls_hash(hc, len, 8);
                                gnutls_hash(hc, v, vl);
                        }
                }
                rocksdb_iter_destroy(it);
                if (hc) {
                        char x[65];

                        gnutls_hash_deinit(hc, md);
                        scim_hex_encode(md, 32, x);
                        json_object_set_new(per_cf, cf_names[c],
                                            json_string(x));
                        hc = NULL;
                }
        }
        gnutls_hash_deinit(h, md);
        scim_hex_encode(md, 32, out);
        return 0;
}

/* ------------------------------------------------------------ reads */

static void res_key(scim_buf_t *b, const char *tenant, char rt, const char *id)
{
        b->len = 0;
        scim_buf_append(b, tenant, strlen(tenant) + 1);
        scim_buf_append(b, &rt, 1);
        scim_buf_puts(b, id);
}

char *db_get(scim_store_t *st, int cf, const char *k, size_t kl, size_t *vl)
{
        char *err = NULL;
        char *v = rocksdb_get_cf(st->db, st->ro, st->cf[cf], k, kl, vl, &err);

        if (err) {
                free(err);
                free(v);
                return NULL;
        }
        return v;
}

/* A point read of the views through the read cache (cf one rcache_cf
 * says is cached): 1 and the value appended to out, 0 absent, -1 a read
 * error (not cached). Any thread. */
static int cached_get(scim_store_t *st, int cf, const char *k, size_t kl,
                      scim_buf_t *out)
{
        rcache_ticket_t tk;
        rocksdb_pinnableslice_t *ps;
        char *err = NULL;
        const char *v;
        size_t vl = 0;
        int hit = rcache_get(st, cf, k, kl, out, &tk);

        if (hit >= 0)
                return hit;
        /* pinned: copied once, from the block cache or memtable */
        ps = rocksdb_get_pinned_cf(st->db, st->ro, st->cf[cf], k, kl, &err);
        if (err) {
                free(err);
                rocksdb_pinnableslice_destroy(ps);
                return -1;
        }
        if (!ps) {
                rcache_put(st, &tk, cf, k, kl, NULL, 0);
                return 0;
        }
        v = rocksdb_pinnableslice_value(ps, &vl);
        scim_buf_append(out, v, vl);
        rcache_put(st, &tk, cf, k, kl, v, vl);
        rocksdb_pinnableslice_destroy(ps);
        return 1;
}

int scim_store_get_raw(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                       const char *id, scim_buf_t *out, scim_err_t *err)
{
        char kb[320], *k = kb;
        size_t tl = strlen(tenant), il = strlen(id);
        int found;

        /* the key res_key builds, on the stack when it fits */
        if (tl + il + 2 > sizeof(kb) && !(k = malloc(tl + il + 2)))
                return scim_err_set_retry(err, 503, "out of memory");
        memcpy(k, tenant, tl + 1);
        k[tl + 1] = (char)rt;
        memcpy(k + tl + 2, id, il);
        found = cached_get(st, CF_RES, k, tl + il + 2, out);
        if (k != kb)
                free(k);
        if (found <= 0)
                return scim_err_set(
                    err, 404, NULL, "%s %.128s not found",
                    scim_rtype_name(rt) ? scim_rtype_name(rt) : "Resource", id);
        return 0;
}

int scim_store_get(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                   const char *id, json_t **out, int64_t *version,
                   scim_err_t *err)
{
        scim_buf_t b = {0};
        const char *ver;

        *out = NULL;
        if (scim_store_get_raw(st, tenant, rt, id, &b, err) < 0)
                return -1;
        *out = scim_json_load(b.data, b.len);
        scim_buf_free(&b);
        if (!*out)
                return scim_err_set(err, 500, NULL, "stored resource corrupt");
        if (version) {
                ver = json_string_value(
                    json_object_get(json_object_get(*out, "meta"), "version"));
                *version = 0;
                while (ver && *ver && (*ver < '0' || *ver > '9'))
                        ver++;
                if (ver)
                        *version = strtoll(ver, NULL, 10);
        }
        return 0;
}

int scim_store_exists(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                      const char *id)
{
        scim_buf_t k = {0};
        size_t vl;
        char *v;

        res_key(&k, tenant, (char)rt, id);
        v = db_get(st, CF_RES, k.data, k.len, &vl);
        scim_buf_free(&k);
        free(v);
        return v != NULL;
}

/* Collects ids under an index prefix (sorted by RocksDB key order). */
static json_t *index_ids(scim_store_t *st, const char *tenant, char rt,
                         char code, const char *value, int fold)
{
        scim_buf_t b = {0};
        char *f = fold ? scim_casefold(value) : strdup(value);
        json_t *ids = json_array();
        rocksdb_iterator_t *it;

        if (!f)
                return ids;
        b.len = 0;
        scim_buf_append(&b, tenant, strlen(tenant) + 1);
        scim_buf_append(&b, &rt, 1);
        scim_buf_append(&b, &code, 1);
        scim_buf_append(&b, "", 1);
        scim_buf_append(&b, f, strlen(f) + 1);
        if (code == 'u') { /* unique index: point key -> id */
                size_t vl = 0;
                char *v = db_get(st, CF_IDX, b.data, b.len, &vl);

                if (v)
                        json_array_append_new(ids, json_stringn(v, vl));
                free(v);
                free(f);
                scim_buf_free(&b);
                return ids;
        }
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_IDX]);
        for (rocksdb_iter_seek(it, b.data, b.len); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                if (kl < b.len || memcmp(k, b.data, b.len) != 0)
                        break;
                json_array_append_new(ids,
                                      json_stringn(k + b.len, kl - b.len));
        }
        rocksdb_iter_destroy(it);
        free(f);
        scim_buf_free(&b);
        return ids;
}

/* The holder of a unique attribute's value (the fold's uniqueness index):
 * malloc'd id, or NULL. */
static char *unique_owner(scim_store_t *st, const char *tenant, char rt,
                          const char *urn, const char *name, const char *value,
                          int case_exact, size_t *idlen)
{
        scim_buf_t b = {0};
        char *f = case_exact ? strdup(value) : scim_casefold(value), *owner;

        if (!f)
                return NULL;
        key_unique(&b, tenant, rt, urn, name, f);
        owner = db_get(st, CF_IDX, b.data, b.len, idlen);
        free(f);
        scim_buf_free(&b);
        return owner;
}

int scim_store_ref_exists(scim_store_t *st, const char *tenant,
                          const scim_model_ref_t *ref, const char *value)
{
        if (ref->index == 'X') { /* the fold's uniqueness index */
                size_t vl = 0;
                char *owner = unique_owner(st, tenant, (char)ref->rt, ref->urn,
                                           ref->name, value, ref->case_exact,
                                           &vl);

                free(owner);
                return owner != NULL;
        }
        {
                json_t *ids = index_ids(st, tenant, (char)ref->rt, ref->index,
                                        value, !ref->case_exact);
                int found = json_array_size(ids) > 0;

                json_decref(ids);
                return found;
        }
}

int scim_store_find_username(scim_store_t *st, const char *tenant,
                             const char *user_name, char *id_out,
                             size_t id_len)
{
        /* the unique index's point key, as index_ids builds it, read
         * without the id array (the filter eq and POST hot paths) */
        char kb[320], *k = kb, fb[256], *f;
        size_t tl = strlen(tenant), fl = 0, vl = 0;
        scim_buf_t b = {0};
        int found = 0;

        f = scim_casefold_n(user_name, strlen(user_name), fb, sizeof(fb),
                            &fl);
        if (!f)
                return 0;
        if (tl + fl + 5 > sizeof(kb) && !(k = malloc(tl + fl + 5))) {
                if (f != fb)
                        free(f);
                return 0;
        }
        memcpy(k, tenant, tl + 1);
        k[tl + 1] = (char)SCIM_RT_USER;
        k[tl + 2] = 'u';
        k[tl + 3] = '\0';
        memcpy(k + tl + 4, f, fl + 1);
        if (cached_get(st, CF_IDX, k, tl + fl + 5, &b) > 0 && id_len > 0) {
                vl = b.len < id_len - 1 ? b.len : id_len - 1;
                memcpy(id_out, b.data, vl);
                id_out[vl] = '\0';
                found = 1;
        }
        scim_buf_free(&b);
        if (f != fb)
                free(f);
        if (k != kb)
                free(k);
        return found;
}

uint64_t scim_store_read_epoch(scim_store_t *st)
{
        return rocksdb_get_latest_sequence_number(st->db);
}

static int scan_mem(scim_store_t *st, const char *tenant, char dir,
                    const char *id, json_t **out)
{
        scim_buf_t b = {0};
        rocksdb_iterator_t *it;

        *out = json_array();
        scim_buf_append(&b, tenant, strlen(tenant) + 1);
        scim_buf_append(&b, &dir, 1);
        scim_buf_append(&b, id, strlen(id) + 1);
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_MEM]);
        for (rocksdb_iter_seek(it, b.data, b.len); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);
                json_t *m, *meta;

                if (kl < b.len || memcmp(k, b.data, b.len) != 0)
                        break;
                m = json_object();
                json_object_set_new(m, "value",
                                    json_stringn(k + b.len, kl - b.len));
                if (dir == 'G') {
                        meta = scim_json_load(v, vl);
                        if (json_object_get(meta, "display"))
                                json_object_set(m, "display",
                                                json_object_get(meta,
                                                                "display"));
                        if (json_object_get(meta, "type"))
                                json_object_set(m, "type",
                                                json_object_get(meta, "type"));
                        json_decref(meta);
                }
                json_array_append_new(*out, m);
        }
        rocksdb_iter_destroy(it);
        scim_buf_free(&b);
        return 0;
}

int scim_store_group_members(scim_store_t *st, const char *tenant,
                             const char *gid, json_t **out, scim_err_t *err)
{
        return scan_mem(st, tenant, 'G', gid, out);
}

int scim_store_user_groups(scim_store_t *st, const char *tenant,
                           const char *uid, json_t **out, scim_err_t *err)
{
        size_t i;
        json_t *g;

        scan_mem(st, tenant, 'R', uid, out);
        json_array_foreach(*out, i, g)
        {
                json_t *grp = NULL;
                scim_err_t e;

                if (scim_store_get(st, tenant, SCIM_RT_GROUP,
                                   json_string_value(json_object_get(g,
                                                                     "value")),
                                   &grp, NULL, &e) == 0)
                        json_object_set(g, "display",
                                        json_object_get(grp, "displayName"));
                json_object_set_new(g, "type", json_string("direct"));
                json_decref(grp);
        }
        return 0;
}

static uint64_t counter_get(scim_store_t *st, const char *tenant, char rt)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;
        uint64_t n = 0;

        scim_buf_puts(&k, "count");
        scim_buf_append(&k, "", 1);
        scim_buf_append(&k, tenant, strlen(tenant) + 1);
        scim_buf_append(&k, &rt, 1);
        v = db_get(st, CF_DEFAULT, k.data, k.len, &vl);
        if (v && vl == 8)
                n = scim_get_be64((unsigned char *)v);
        free(v);
        scim_buf_free(&k);
        return n;
}

/* Evaluates q on one stored resource; appends to page when in range. */
static void consider(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                     const scim_query_t *q, json_t *res, size_t *matched,
                     json_t *page)
{
        size_t start = q->start_index < 1 ? 1 : q->start_index;
        int in_page;

        if (q->filter) {
                if (rt == SCIM_RT_GROUP &&
                    scim_filter_mentions(q->filter, "members")) {
                        json_t *m = NULL;

                        scan_mem(st, tenant, 'G',
                                 json_string_value(json_object_get(res, "id")),
                                 &m);
                        json_object_set_new(res, "members", m);
                }
                if (rt == SCIM_RT_USER &&
                    scim_filter_mentions(q->filter, "groups")) {
                        json_t *g = NULL;

                        scan_mem(st, tenant, 'R',
                                 json_string_value(json_object_get(res, "id")),
                                 &g);
                        json_object_set_new(res, "groups", g);
                }
                if (!scim_filter_match(q->filter, res)) {
                        json_object_del(res, "groups");
                        return;
                }
                json_object_del(res, "groups"); /* returned on request */
        }
        (*matched)++;
        if (q->after_id) /* cursor: ids after the cursor's, in order */
                in_page = strcmp(json_string_value(json_object_get(res, "id")),
                                 q->after_id) > 0;
        else
                in_page = *matched >= start;
        if (in_page && json_array_size(page) >= q->count && q->more)
                *q->more = 1;
        if (in_page && json_array_size(page) < q->count) {
                if (rt == SCIM_RT_GROUP && q->with_members &&
                    !json_object_get(res, "members")) {
                        json_t *m = NULL;

                        scan_mem(st, tenant, 'G',
                                 json_string_value(json_object_get(res, "id")),
                                 &m);
                        if (json_array_size(m))
                                json_object_set_new(res, "members", m);
                        else
                                json_decref(m);
                }
                if (!q->with_members)
                        json_object_del(res, "members");
                json_array_append(page, res);
        }
}

size_t scim_store_attached_bytes(const json_t *res, const char *key)
{
        json_t *a = json_object_get(res, key), *e;
        size_t i, n = 0;

        json_array_foreach(a, i, e)
        {
                n += 32 + json_string_length(json_object_get(e, "value")) +
                     json_string_length(json_object_get(e, "display")) +
                     json_string_length(json_object_get(e, "$ref"));
        }
        return n;
}

/* Remembered positions for deep index paging (see scim_store_list).
 * pos_recall appends the remembered id at start to key (tenant\0 rt) and
 * returns 1, or returns 0. Any thread; takes pos_mu. */
static int pos_recall(scim_store_t *st, const char *tenant, char rt,
                      size_t start, uint64_t gen, scim_buf_t *key)
{
        int hit = 0;

        pthread_mutex_lock(&st->pos_mu);
        for (int i = 0; i < LIST_POS_SLOTS; i++) {
                list_pos_t *p = &st->pos[i];

                if (p->gen == gen && p->start_index == start && p->rt == rt &&
                    p->used && !strcmp(p->tenant, tenant)) {
                        scim_buf_puts(key, p->id);
                        p->used = ++st->pos_clock;
                        hit = 1;
                        break;
                }
        }
        pthread_mutex_unlock(&st->pos_mu);
        return hit;
}

static void pos_remember(scim_store_t *st, const char *tenant, char rt,
                         size_t start, uint64_t gen, const char *id,
                         size_t idlen)
{
        list_pos_t *victim;

        if (strlen(tenant) > SCIM_MAX_TENANT_LEN || idlen > SCIM_MAX_ID_LEN ||
            memchr(id, '\0', idlen))
                return;
        pthread_mutex_lock(&st->pos_mu);
        victim = &st->pos[0];
        for (int i = 0; i < LIST_POS_SLOTS; i++) {
                list_pos_t *p = &st->pos[i];

                if (p->used && p->start_index == start && p->rt == rt &&
                    !strcmp(p->tenant, tenant)) {
                        victim = p; /* same position: refresh it */
                        break;
                }
                if (p->used < victim->used)
                        victim = p;
        }
        snprintf(victim->tenant, sizeof(victim->tenant), "%s", tenant);
        victim->rt = rt;
        victim->start_index = start;
        memcpy(victim->id, id, idlen);
        victim->id[idlen] = '\0';
        victim->gen = gen;
        victim->used = ++st->pos_clock;
        pthread_mutex_unlock(&st->pos_mu);
}

/* 1 when a scan has gone past its row or time bound. */
static int scan_over(const scim_query_t *q, size_t scanned,
                     const struct timespec *t0)
{
        struct timespec now;
        long ms;

        if (q->scan_limit && scanned > q->scan_limit)
                return 1;
        if (!q->scan_ms || scanned % 256)
                return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        ms = (now.tv_sec - t0->tv_sec) * 1000L +
             (now.tv_nsec - t0->tv_nsec) / 1000000L;
        return ms > (long)q->scan_ms;
}

/* A filter that is an eq (or an and of eqs) on a unique core attribute
 * of a tenant type: the one id the uniqueness index names for it (a new
 * array, empty when nobody holds the value), or NULL when the filter has
 * no such eq. The whole filter is still evaluated on the candidate. */
static json_t *unique_eq_ids(scim_store_t *st, const char *tenant,
                             scim_rtype_t rt, const scim_filter_t *f)
{
        json_t *eqs = scim_filter_eq_object(f), *v, *ids = NULL;
        scim_model_t *m = eqs ? scim_store_model(st, tenant) : NULL;
        const char *k;

        json_object_foreach(eqs, k, v)
        {
                const char *urn, *canon;
                int ce;
                char *owner;
                size_t vl = 0;

                if (ids || !json_is_string(v) ||
                    !scim_model_core_unique(m, rt, k, &urn, &canon, &ce))
                        continue;
                owner = unique_owner(st, tenant, (char)rt, urn, canon,
                                     json_string_value(v), ce, &vl);
                ids = json_array();
                if (owner)
                        json_array_append_new(ids, json_stringn(owner, vl));
                free(owner);
        }
        scim_model_unref(m);
        json_decref(eqs);
        return ids;
}

int scim_store_list(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                    const scim_query_t *q, size_t *total, json_t **out,
                    scim_err_t *err)
{
        const char *value = NULL;
        scim_index_t ix = scim_filter_index_hint(q->filter, rt, &value);
        json_t *page = json_array();
        size_t matched = 0, page_bytes = 0, scanned = 0;
        scim_query_t qq = *q; /* count shrinks when the page is full */
        struct timespec t0;

        json_t *uq_ids = NULL; /* a tenant type's unique attribute eq */

        q = &qq;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        *out = NULL;
        if ((ix == SCIM_IDX_NONE || !value) && q->filter &&
            scim_rtype_is_tenant(rt))
                uq_ids = unique_eq_ids(st, tenant, rt, q->filter);
        if ((ix != SCIM_IDX_NONE && value) || uq_ids) {
                json_t *ids = NULL, *idv;
                size_t i;

                switch (uq_ids ? SCIM_IDX_NONE : ix) {
                case SCIM_IDX_NONE:
                        ids = uq_ids;
                        break;
                case SCIM_IDX_ID:
                        ids = json_pack("[s]", value);
                        break;
                case SCIM_IDX_USERNAME:
                        ids = index_ids(st, tenant, (char)rt, 'u', value, 1);
                        break;
                case SCIM_IDX_EXTERNALID:
                        ids = index_ids(st, tenant, (char)rt, 'x', value, 0);
                        break;
                case SCIM_IDX_EMAIL:
                        ids = index_ids(st, tenant, (char)rt, 'e', value, 1);
                        break;
                default:
                        ids = index_ids(st, tenant, (char)rt, 'd', value, 1);
                }
                json_array_foreach(ids, i, idv)
                {
                        json_t *res = NULL;
                        scim_err_t e;
                        size_t before = json_array_size(page);

                        /* an id can appear twice (two emails) */
                        if (i > 0 && json_equal(idv, json_array_get(ids, i - 1)))
                                continue;
                        if (scim_store_get(st, tenant, rt,
                                           json_string_value(idv), &res, NULL,
                                           &e) < 0)
                                continue;
                        consider(st, tenant, rt, q, res, &matched, page);
                        if (json_array_size(page) > before)
                                page_bytes +=
                                    scim_store_attached_bytes(res, "members");
                        if (page_bytes >= scim_page_bytes() &&
                            qq.count > json_array_size(page))
                                qq.count = json_array_size(page);
                        json_decref(res);
                }
                json_decref(ids);
                *total = matched;
        } else {
                scim_buf_t pre = {0};
                rocksdb_iterator_t *it;
                char c = (char)rt;
                size_t start = q->start_index < 1 ? 1 : q->start_index;
                uint64_t gen = __atomic_load_n(&st->list_gen, __ATOMIC_ACQUIRE);
                int unfiltered = !q->filter;
                size_t cpos = 0;

                scim_buf_append(&pre, tenant, strlen(tenant) + 1);
                scim_buf_append(&pre, &c, 1);
                it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_RES]);
                if (q->after_id && *q->after_id && unfiltered) {
                        /* cursor: seek to its id (the cursor's own key is
                         * skipped below). A filtered scan starts at the
                         * beginning: it counts every match for
                         * totalResults anyway, consider() skips to the
                         * cursor. */
                        size_t pl = pre.len;

                        scim_buf_puts(&pre, q->after_id);
                        rocksdb_iter_seek(it, pre.data, pre.len);
                        pre.len = pl;
                } else if (unfiltered && !q->after_id && start > 1 &&
                           pos_recall(st, tenant, c, start, gen, &pre)) {
                        /* a remembered position: the id at start */
                        matched = start - 1;
                } else if (unfiltered && !q->after_id &&
                           posidx_seek(st, tenant, c, start, &pre, &cpos)) {
                        /* a checkpoint at most a few hundred keys before
                         * start (posindex.c) */
                        matched = cpos - 1;
                } else {
                        rocksdb_iter_seek(it, pre.data, pre.len);
                }
                if (pre.len > strlen(tenant) + 2) { /* pos_recall's key */
                        rocksdb_iter_seek(it, pre.data, pre.len);
                        pre.len = strlen(tenant) + 2;
                }
                for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
                        size_t kl, vl;
                        const char *k = rocksdb_iter_key(it, &kl);
                        const char *v;
                        json_t *res;

                        if (kl < pre.len || memcmp(k, pre.data, pre.len) != 0)
                                break;
                        if (unfiltered) {
                                /* unfiltered: count from the counter, only
                                 * materialise the page */
                                if (q->after_id) {
                                        if (*q->after_id &&
                                            kl - pre.len ==
                                                strlen(q->after_id) &&
                                            !memcmp(k + pre.len, q->after_id,
                                                    kl - pre.len))
                                                continue; /* the cursor's */
                                } else {
                                        matched++;
                                        if (matched < start)
                                                continue;
                                        matched--;
                                }
                                if (json_array_size(page) >= q->count) {
                                        if (q->more)
                                                *q->more = 1;
                                        if (!q->after_id &&
                                            json_array_size(page) > 0)
                                                pos_remember(
                                                    st, tenant, c,
                                                    start +
                                                        json_array_size(page),
                                                    gen, k + pre.len,
                                                    kl - pre.len);
                                        break;
                                }
                        }
                        if (q->filter && scan_over(q, ++scanned, &t0)) {
                                rocksdb_iter_destroy(it);
                                scim_buf_free(&pre);
                                json_decref(page);
                                return scim_err_set(
                                    err, 400, "tooMany",
                                    "this filter is not answered by an "
                                    "index and examined more than %zu "
                                    "resources or %u ms of this tenant; "
                                    "filter with eq on id, userName, "
                                    "externalId, emails.value or "
                                    "displayName (indexed)",
                                    scanned - 1, q->scan_ms);
                        }
                        v = rocksdb_iter_value(it, &vl);
                        if (q->raw && unfiltered && !q->after_id) {
                                res = json_array();
                                json_array_append_new(
                                    res, json_stringn_nocheck(k + pre.len,
                                                              kl - pre.len));
                                json_array_append_new(
                                    res, json_stringn_nocheck(v, vl));
                        } else {
                                res = scim_json_load(v, vl);
                        }
                        if (res) {
                                size_t before = json_array_size(page);

                                consider(st, tenant, rt, q, res, &matched,
                                         page);
                                if (json_array_size(page) > before)
                                        page_bytes +=
                                            vl + scim_store_attached_bytes(
                                                     res, "members");
                                if (page_bytes >= scim_page_bytes() &&
                                    qq.count > json_array_size(page))
                                        qq.count = json_array_size(page);
                        }
                        json_decref(res);
                }
                rocksdb_iter_destroy(it);
                scim_buf_free(&pre);
                *total = q->filter ? matched
                                   : (size_t)counter_get(st, tenant, (char)rt);
        }
        *out = page;
        return 0;
}

/* ------------------------------------------------------ tenants, tokens */

/* Slot of a token hash: its first two hex digits. */
static auth_slot_t *auth_slot(scim_store_t *st, const char hash[65])
{
        unsigned v = 0;

        for (int i = 0; i < 2; i++)
                v = v * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0'
                                                       : hash[i] - 'a' + 10);
        return &st->auth[v % AUTH_CACHE_SLOTS];
}

int scim_store_auth(scim_store_t *st, const char *secret, char *tenant_out,
                    size_t tenant_len, char *token_id_out, size_t token_id_len)
{
        int reports_only;

        return scim_store_auth_scoped(st, secret, tenant_out, tenant_len,
                                      token_id_out, token_id_len,
                                      &reports_only);
}

/* The SHA-256 hex of a bearer secret (at most 512 bytes), remembered per
 * thread for the last secret seen: a keep-alive client sends the same
 * token with every request, and hashing it was ~6k instructions of a
 * ~75k GET. The secret is compared in constant time (for its length). */
static void auth_hash(const char *secret, char hash[65])
{
        static __thread char memo[513], memo_hash[65];
        static __thread size_t memo_len;
        size_t n = strlen(secret);

        if (memo_len && n == memo_len && scim_ct_equal(secret, memo, n)) {
                memcpy(hash, memo_hash, 65);
                return;
        }
        scim_sha256_hex(secret, n, hash);
        memcpy(memo, secret, n + 1);
        memcpy(memo_hash, hash, 65);
        memo_len = n;
}

int scim_store_auth_scope(scim_store_t *st, const char *secret,
                          char *tenant_out, size_t tenant_len,
                          char *token_id_out, size_t token_id_len,
                          int *scope)
{
        char hash[65];
        size_t vl = 0;
        char *v;
        json_t *o;
        int ok = 0;
        auth_slot_t *slot;
        uint64_t gen;
        int64_t now;

        *scope = SCIM_SCOPE_ALL;
        if (!secret || !*secret || strlen(secret) > 512)
                return 0;
        auth_hash(secret, hash);
        slot = auth_slot(st, hash);
        /* read the generation before the database: a revocation landing
         * after this point leaves the entry we may add below stale */
        gen = __atomic_load_n(&st->auth_gen, __ATOMIC_ACQUIRE);
        now = scim_now_ms();
        pthread_mutex_lock(&st->auth_mu);
        if (slot->gen == gen && now - slot->at_ms < AUTH_CACHE_TTL_MS &&
            now >= slot->at_ms && scim_ct_equal(slot->hash, hash, 64) &&
            (!slot->expires_ms || now < slot->expires_ms)) {
                scim_strjoin(tenant_out, tenant_len, slot->tenant,
                             (char *)NULL);
                scim_strjoin(token_id_out, token_id_len, slot->token_id,
                             (char *)NULL);
                *scope = slot->scope;
                pthread_mutex_unlock(&st->auth_mu);
                return 1;
        }
        pthread_mutex_unlock(&st->auth_mu);

        v = db_get(st, CF_TOKEN, hash, 64, &vl);
        if (!v)
                return 0;
        o = scim_json_load(v, vl);
        free(v);
        if (o && !json_is_true(json_object_get(o, "revoked")) &&
            json_string_value(json_object_get(o, "tenant"))) {
                const char *t = json_string_value(json_object_get(o, "tenant"));
                const char *id =
                    json_string_value(json_object_get(o, "token_id"));
                const char *sc =
                    json_string_value(json_object_get(o, "scope"));
                int64_t exp = json_integer_value(json_object_get(o, "expires_ms"));
                size_t tl = 0;
                char *tr = db_get(st, CF_TENANT, t, strlen(t), &tl);
                json_t *tj = tr ? scim_json_load(tr, tl) : NULL;

                free(tr);
                *scope = !sc                             ? SCIM_SCOPE_ALL
                         : !strcmp(sc, "reports")        ? SCIM_SCOPE_REPORTS
                         : !strcmp(sc, "scim-read")      ? SCIM_SCOPE_READ
                         : !strcmp(sc, "tenant-admin")   ? SCIM_SCOPE_ADMIN
                                                         : SCIM_SCOPE_REPORTS;
                if (json_is_true(json_object_get(tj, "disabled")))
                        *scope = SCIM_SCOPE_DISABLED;
                json_decref(tj);
                if (exp && now >= exp) { /* rotated: the overlap is over */
                        json_decref(o);
                        return 0;
                }
                snprintf(tenant_out, tenant_len, "%s", t);
                snprintf(token_id_out, token_id_len, "%s", id ? id : "");
                ok = 1;
                if (strlen(t) < sizeof(slot->tenant) &&
                    strlen(id ? id : "") < sizeof(slot->token_id)) {
                        pthread_mutex_lock(&st->auth_mu);
                        memcpy(slot->hash, hash, sizeof(slot->hash));
                        snprintf(slot->tenant, sizeof(slot->tenant), "%s", t);
                        snprintf(slot->token_id, sizeof(slot->token_id), "%s",
                                 id ? id : "");
                        slot->scope = *scope;
                        slot->expires_ms = exp;
                        slot->gen = gen;
                        slot->at_ms = now;
                        pthread_mutex_unlock(&st->auth_mu);
                }
        }
        json_decref(o);
        return ok;
}

int scim_store_auth_scoped(scim_store_t *st, const char *secret,
                           char *tenant_out, size_t tenant_len,
                           char *token_id_out, size_t token_id_len,
                           int *reports_only)
{
        int scope = SCIM_SCOPE_ALL;
        int ok = scim_store_auth_scope(st, secret, tenant_out, tenant_len,
                                       token_id_out, token_id_len, &scope);

        /* the reports API and the stream: a disabled tenant's tokens are
         * refused like unknown ones */
        if (ok && scope == SCIM_SCOPE_DISABLED)
                return 0;
        *reports_only = scope == SCIM_SCOPE_REPORTS;
        return ok;
}

int scim_store_tenant_exists(scim_store_t *st, const char *tenant)
{
        size_t vl;
        char *v = db_get(st, CF_TENANT, tenant, strlen(tenant), &vl);

        free(v);
        return v != NULL;
}

int scim_store_tenant_list(scim_store_t *st, json_t **out, scim_err_t *err)
{
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_TENANT]);
        json_t *cur = NULL;

        *out = json_array();
        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);
                size_t tl = strnlen(k, kl);

                if (tl == kl) { /* a tenant record */
                        json_t *meta = scim_json_load(v, vl);

                        cur = json_object();
                        json_object_set_new(cur, "tenant",
                                            json_stringn(k, kl));
                        json_object_set(cur, "created",
                                        json_object_get(meta, "created"));
                        json_object_set_new(
                            cur, "disabled",
                            json_boolean(json_is_true(
                                json_object_get(meta, "disabled"))));
                        if (json_is_integer(
                                json_object_get(meta, "partition")))
                                json_object_set(
                                    cur, "partition",
                                    json_object_get(meta, "partition"));
                        if (json_is_integer(
                                json_object_get(meta, "adminPartition")))
                                json_object_set(
                                    cur, "adminPartition",
                                    json_object_get(meta, "adminPartition"));
                        json_object_set_new(cur, "tokens", json_array());
                        json_array_append_new(*out, cur);
                        json_decref(meta);
                } else if (cur && tl + 2 < kl && k[tl + 1] == 'T' && vl == 64) {
                        size_t tvl = 0;
                        char *tok = db_get(st, CF_TOKEN, v, 64, &tvl);
                        json_t *o = tok ? scim_json_load(tok, tvl) : NULL;
                        json_t *t = json_object();

                        json_object_set_new(
                            t, "id",
                            json_stringn(k + tl + 2,
                                         strnlen(k + tl + 2, kl - tl - 2)));
                        json_object_set(t, "created",
                                        json_object_get(o, "created"));
                        json_object_set_new(
                            t, "revoked",
                            json_boolean(json_is_true(
                                json_object_get(o, "revoked"))));
                        if (json_object_get(o, "scope")) /* reports-only */
                                json_object_set(t, "scope",
                                                json_object_get(o, "scope"));
                        if (json_integer_value(
                                json_object_get(o, "expires_ms"))) {
                                char ts[32];

                                scim_time_format(
                                    json_integer_value(
                                        json_object_get(o, "expires_ms")),
                                    ts);
                                json_object_set_new(t, "expires",
                                                    json_string(ts));
                        }
                        json_array_append_new(json_object_get(cur, "tokens"),
                                              t);
                        json_decref(o);
                        free(tok);
                }
        }
        rocksdb_iter_destroy(it);
        return 0;
}

uint64_t scim_store_property_sum(scim_store_t *st, const char *name)
{
        uint64_t sum = 0;

        for (int i = 0; i < CF_COUNT; i++) {
                uint64_t v = 0;

                if (st->cf[i] &&
                    rocksdb_property_int_cf(st->db, st->cf[i], name, &v) == 0)
                        sum += v;
        }
        return sum;
}

int scim_store_checkpoint(scim_store_t *st, const char *dest, scim_err_t *err)
{
        char *e = NULL;
        rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(st->db, &e);

        if (e || !cp) {
                scim_err_set(err, 500, NULL, "checkpoint: %s",
                             e ? e : "cannot create");
                free(e);
                return -1;
        }
        /* 0: flush the memtables first, so the copy needs no WAL replay */
        rocksdb_checkpoint_create(cp, dest, 0, &e);
        rocksdb_checkpoint_object_destroy(cp);
        if (e) {
                scim_err_set(err, 500, NULL, "checkpoint into %s: %s", dest, e);
                free(e);
                return -1;
        }
        return 0;
}
