/*
 * model_store.c — tenant models in the views: the fold of SCHEMA_PUT /
 * SCHEMA_DELETE events and the compiled-model cache readers share.
 *
 * Keys (column family `tenant`): `tenant\0M` -> the definition's
 * generation (decimal text; one more per applied SCHEMA_PUT), `tenant\0D`
 * -> the definition (compact JSON as compiled). Both are written by the
 * fold in the batch of the event, so a replay rebuilds them and a crash
 * keeps them with the views.
 *
 * The cache maps (tenant, generation) to a compiled model: readers (ingest,
 * the API) read the generation key (a point Get) and find the model
 * compiled once; the fold reads through its transaction, so an event later
 * in the same batch as a SCHEMA_PUT is checked against the new model.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/scim_model.h"
#include "projector/projector_internal.h"

#define MODEL_SLOTS 256

typedef struct mslot {
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        int64_t gen;
        scim_model_t *m;
        /* readers' shortcut: the answer of scim_store_model (m, or NULL
         * for the built-in model) holds while the store's model_gen is
         * still `seen` (bumped after every batch with a definition) */
        int valid;
        uint64_t seen;
} mslot_t;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static mslot_t cache[MODEL_SLOTS]; /* process-wide: keyed by store too */
static const void *cache_owner[MODEL_SLOTS];

static size_t mkey(scim_buf_t *b, const char *tenant, char what)
{
        b->len = 0;
        scim_buf_append(b, tenant, strlen(tenant) + 1);
        scim_buf_append(b, &what, 1);
        return b->len;
}

static unsigned slot_of(const void *st, const char *tenant)
{
        uint64_t h = 1469598103934665603ULL ^ (uintptr_t)st;

        for (const char *p = tenant; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        return (unsigned)(h % MODEL_SLOTS);
}

/* Finds or compiles the model of (tenant, gen); def_text read by the
 * caller only when the cache misses (read_def). */
static scim_model_t *cached(const void *st, const char *tenant, int64_t gen,
                            char *(*read_def)(void *ctx, size_t *len),
                            void *ctx)
{
        unsigned s = slot_of(st, tenant);
        scim_model_t *m = NULL, *old = NULL;
        char *txt;
        size_t len = 0;
        json_t *def;
        scim_err_t err;

        pthread_mutex_lock(&cache_mu);
        if (cache_owner[s] == st && cache[s].gen == gen &&
            !strcmp(cache[s].tenant, tenant))
                m = scim_model_ref(cache[s].m);
        pthread_mutex_unlock(&cache_mu);
        if (m)
                return m;
        txt = read_def(ctx, &len);
        def = txt ? scim_json_load(txt, len) : NULL;
        free(txt);
        scim_err_clear(&err);
        if (!def || scim_model_compile(def, gen, &m, &err) < 0) {
                /* the fold compiled it before storing it: only a damaged
                 * store gets here */
                scim_event("error", "model_damaged",
                           "tenant %s: stored model generation %lld does not "
                           "compile (%s); using the built-in model",
                           tenant, (long long)gen, err.detail);
                json_decref(def);
                return NULL;
        }
        json_decref(def);
        pthread_mutex_lock(&cache_mu);
        old = cache_owner[s] ? cache[s].m : NULL;
        snprintf(cache[s].tenant, sizeof(cache[s].tenant), "%s", tenant);
        cache[s].gen = gen;
        cache[s].m = scim_model_ref(m);
        cache[s].valid = 0;
        cache_owner[s] = st;
        pthread_mutex_unlock(&cache_mu);
        scim_model_unref(old);
        return m;
}

void model_cache_forget(const void *st)
{
        pthread_mutex_lock(&cache_mu);
        for (int i = 0; i < MODEL_SLOTS; i++)
                if (cache_owner[i] == st) {
                        scim_model_unref(cache[i].m);
                        cache[i].m = NULL;
                        cache_owner[i] = NULL;
                }
        pthread_mutex_unlock(&cache_mu);
}

static int64_t parse_gen(const char *v, size_t vl)
{
        char b[24];

        if (!v || vl == 0 || vl >= sizeof(b))
                return 0;
        memcpy(b, v, vl);
        b[vl] = '\0';
        return strtoll(b, NULL, 10);
}

/* --------------------------------------------------- readers (committed) */

typedef struct dbctx {
        scim_store_t *st;
        const char *tenant;
} dbctx_t;

static char *db_read(scim_store_t *st, const char *k, size_t kl, size_t *vl)
{
        return db_get(st, CF_TENANT, k, kl, vl);
}

static char *db_def(void *ctx, size_t *len)
{
        dbctx_t *c = ctx;
        scim_buf_t b = {0};
        char *v;

        mkey(&b, c->tenant, 'D');
        v = db_read(c->st, b.data, b.len, len);
        scim_buf_free(&b);
        return v;
}

scim_model_t *scim_store_model(scim_store_t *st, const char *tenant)
{
        scim_buf_t b = {0};
        size_t vl = 0;
        char *v;
        int64_t gen;
        dbctx_t c = {st, tenant};
        uint64_t mg;
        unsigned s;
        scim_model_t *m = NULL, *old = NULL;

        if (!tenant || !*tenant || strlen(tenant) > SCIM_MAX_TENANT_LEN)
                return NULL;
        /* read the generation before the database (as auth does): a
         * definition landing after this point leaves our answer stale,
         * and its bump makes the next reader look again */
        mg = __atomic_load_n(&st->model_gen, __ATOMIC_ACQUIRE);
        s = slot_of(st, tenant);
        pthread_mutex_lock(&cache_mu);
        if (cache_owner[s] == st && cache[s].valid && cache[s].seen == mg &&
            !strcmp(cache[s].tenant, tenant)) {
                m = scim_model_ref(cache[s].m);
                pthread_mutex_unlock(&cache_mu);
                return m;
        }
        pthread_mutex_unlock(&cache_mu);
        mkey(&b, tenant, 'M');
        v = db_read(st, b.data, b.len, &vl);
        scim_buf_free(&b);
        gen = parse_gen(v, vl);
        free(v);
        m = gen > 0 ? cached(st, tenant, gen, db_def, &c) : NULL;
        pthread_mutex_lock(&cache_mu);
        if (gen <= 0) { /* the built-in model: remember that too */
                old = cache_owner[s] ? cache[s].m : NULL;
                snprintf(cache[s].tenant, sizeof(cache[s].tenant), "%s",
                         tenant);
                cache[s].gen = 0;
                cache[s].m = NULL;
                cache_owner[s] = st;
        }
        if (cache_owner[s] == st && !strcmp(cache[s].tenant, tenant) &&
            cache[s].m == m) {
                cache[s].valid = 1;
                cache[s].seen = mg;
        }
        pthread_mutex_unlock(&cache_mu);
        scim_model_unref(old);
        return m;
}

int store_model_ever(scim_store_t *st, const char *tenant)
{
        scim_buf_t b = {0};
        size_t vl = 0;
        char *v;
        int ever;

        mkey(&b, tenant, 'M');
        v = db_read(st, b.data, b.len, &vl);
        ever = v != NULL;
        free(v);
        scim_buf_free(&b);
        return ever;
}

/* --------------------------------------------------- the fold's view */

typedef struct txctx {
        txn_t *t;
        const char *tenant;
} txctx_t;

static char *tx_def(void *ctx, size_t *len)
{
        txctx_t *c = ctx;
        scim_buf_t b = {0};
        char *v;

        mkey(&b, c->tenant, 'D');
        v = txn_get(c->t, CF_TENANT, b.data, b.len, len);
        scim_buf_free(&b);
        return v;
}

static int64_t tx_gen(txn_t *t, const char *tenant)
{
        scim_buf_t b = {0};
        size_t vl = 0;
        char *v;
        int64_t gen;

        mkey(&b, tenant, 'M');
        /* asked several times per event: the writer's hot cache (txn.c) */
        v = txn_get_hot(t, CF_TENANT, b.data, b.len, &vl);
        scim_buf_free(&b);
        gen = parse_gen(v, vl);
        free(v);
        return gen;
}

scim_model_t *txn_model(txn_t *t, const char *tenant)
{
        int64_t gen = tx_gen(t, tenant);
        txctx_t c = {t, tenant};

        return gen > 0 ? cached(t->st, tenant, gen, tx_def, &c) : NULL;
}

/* SCHEMA_PUT: admin_json is the definition; expect_version >= 0 is the
 * generation the writer saw (0: none yet). SCHEMA_DELETE: back to the
 * built-in model. */
void fold_schema(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        int64_t gen = tx_gen(t, ev->tenant);
        scim_buf_t b = {0};
        scim_err_t err;

        scim_err_clear(&err);
        if (ev->expect_version >= 0 &&
            ev->expect_version != (gen > 0 ? gen : 0)) {
                v->status = 412;
                snprintf(v->detail, sizeof(v->detail),
                         "the tenant definition is at generation %lld, not "
                         "%lld",
                         (long long)(gen > 0 ? gen : 0),
                         (long long)ev->expect_version);
                return;
        }
        if (ev->action == SCIM_ACT_SCHEMA_DELETE) {
                if (gen <= 0) {
                        v->status = 404;
                        snprintf(v->detail, sizeof(v->detail),
                                 "tenant '%.64s' has no definition",
                                 ev->tenant);
                        return;
                }
                /* generation keeps counting so that caches never confuse
                 * an old definition with a new one */
                mkey(&b, ev->tenant, 'D');
                txn_del(t, CF_TENANT, b.data, b.len);
                mkey(&b, ev->tenant, 'M');
                {
                        char g[24];
                        int n = snprintf(g, sizeof(g), "-%lld",
                                         (long long)(gen + 1));

                        /* negative: no definition, next is -gen+1 */
                        txn_put(t, CF_TENANT, b.data, b.len, g, (size_t)n);
                }
                scim_buf_free(&b);
                fold_unique_rebuild(t, ev->tenant, NULL);
                v->status = 204;
                return;
        }
        {
                json_t *def = ev->admin_json
                                  ? scim_json_load(ev->admin_json,
                                                   strlen(ev->admin_json))
                                  : NULL;
                scim_model_t *m = NULL;
                char *txt;
                char g[24];
                int n;
                int64_t next = (gen < 0 ? -gen : gen) + 1;

                if (!def) {
                        v->status = 400;
                        snprintf(v->scim_type, sizeof(v->scim_type),
                                 "invalidValue");
                        snprintf(v->detail, sizeof(v->detail),
                                 "the event carries no tenant definition "
                                 "(admin_json)");
                        return;
                }
                json_t *codes = NULL;

                /* the tenant's storage codes (they only grow, and outlive
                 * a SCHEMA_DELETE): a type's resources keep their keys */
                {
                        size_t cl = 0;
                        char *ct;

                        mkey(&b, ev->tenant, 'S');
                        ct = txn_get(t, CF_TENANT, b.data, b.len, &cl);
                        codes = ct ? scim_json_load(ct, cl) : NULL;
                        free(ct);
                        if (!json_is_object(codes)) {
                                json_decref(codes);
                                codes = json_object();
                        }
                }
                if (strlen(ev->admin_json) > SCIM_MODEL_MAX_BYTES ||
                    scim_model_compile_codes(def, codes,
                                             next, &m, &err) < 0) {
                        json_decref(codes);
                        scim_buf_free(&b);
                        if (!err.status)
                                scim_err_set(&err, 413, NULL,
                                             "tenant definition over %d "
                                             "bytes",
                                             SCIM_MODEL_MAX_BYTES);
                        v->status = err.status;
                        snprintf(v->scim_type, sizeof(v->scim_type), "%s",
                                 err.scim_type);
                        snprintf(v->detail, sizeof(v->detail), "%s",
                                 err.detail);
                        json_decref(def);
                        return;
                }
                json_decref(codes);
                if (scim_model_codes(m)) {
                        char *ct = scim_json_dumps(scim_model_codes(m));

                        mkey(&b, ev->tenant, 'S');
                        if (ct)
                                txn_put(t, CF_TENANT, b.data, b.len, ct,
                                        strlen(ct));
                        free(ct);
                }
                txt = scim_json_dumps(scim_model_definition(m));
                fold_unique_rebuild(t, ev->tenant, m);
                scim_model_unref(m);
                json_decref(def);
                if (!txt) {
                        v->status = 503;
                        return;
                }
                mkey(&b, ev->tenant, 'D');
                txn_put(t, CF_TENANT, b.data, b.len, txt, strlen(txt));
                free(txt);
                mkey(&b, ev->tenant, 'M');
                n = snprintf(g, sizeof(g), "%lld", (long long)next);
                txn_put(t, CF_TENANT, b.data, b.len, g, (size_t)n);
                scim_buf_free(&b);
                v->status = gen > 0 ? 200 : 201;
        }
}

json_t *scim_store_model_codes(scim_store_t *st, const char *tenant)
{
        scim_buf_t b = {0};
        size_t vl = 0;
        char *v;
        json_t *j;

        mkey(&b, tenant, 'S');
        v = db_read(st, b.data, b.len, &vl);
        scim_buf_free(&b);
        j = v ? scim_json_load(v, vl) : NULL;
        free(v);
        return json_is_object(j) ? j : (json_decref(j), json_object());
}

/* --------------------------------------------------- checking a change */

long scim_store_each_resource(scim_store_t *st, const char *tenant,
                              scim_rtype_t rt,
                              int (*fn)(void *ctx, json_t *res), void *ctx)
{
        scim_buf_t b = {0};
        char r = (char)rt;
        rocksdb_iterator_t *it;
        long n = 0;

        scim_buf_append(&b, tenant, strlen(tenant) + 1);
        scim_buf_append(&b, &r, 1);
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_RES]);
        for (rocksdb_iter_seek(it, b.data, b.len); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);
                json_t *res;
                int stop;

                if (kl < b.len || memcmp(k, b.data, b.len))
                        break;
                res = scim_json_load(v, vl);
                if (!res)
                        continue;
                n++;
                stop = fn(ctx, res);
                json_decref(res);
                if (stop)
                        break;
        }
        rocksdb_iter_destroy(it);
        scim_buf_free(&b);
        return n;
}

int scim_store_token_scope(scim_store_t *st, const char *secret,
                           char *tenant_out, size_t tenant_len,
                           char *token_id_out, size_t token_id_len,
                           char *scope_out, size_t scope_len)
{
        char hash[65];
        char *v;
        size_t vl = 0;
        json_t *o;
        int ok = 0;

        if (!secret || !*secret || strlen(secret) > 512)
                return 0;
        scim_sha256_hex(secret, strlen(secret), hash);
        v = db_get(st, CF_TOKEN, hash, 64, &vl);
        o = v ? scim_json_load(v, vl) : NULL;
        free(v);
        if (o && !json_is_true(json_object_get(o, "revoked")) &&
            json_string_value(json_object_get(o, "tenant"))) {
                const char *sc = json_string_value(json_object_get(o, "scope"));

                snprintf(tenant_out, tenant_len, "%s",
                         json_string_value(json_object_get(o, "tenant")));
                snprintf(token_id_out, token_id_len, "%s",
                         json_string_value(json_object_get(o, "token_id"))
                             ? json_string_value(json_object_get(o, "token_id"))
                             : "");
                snprintf(scope_out, scope_len, "%s", sc ? sc : "");
                ok = 1;
        }
        json_decref(o);
        return ok;
}

typedef struct vctx {
        const scim_model_t *m;
        const scim_model_t *old; /* the current model (NULL: built-in) */
        long before;             /* violating it already: not counted */
        scim_rtype_t rt;
        const char *rname;
        json_t *violations;
        size_t max;
        long bad;
        json_t *seen;  /* unique attribute values seen: key -> id */
        json_t *res;   /* the resource being checked */
        scim_err_t *e; /* its first violation */
} vctx_t;

/* A value of a unique attribute (the new model's) that an earlier resource
 * already holds is a violation of the change. */
static void check_unique(void *ctx, const char *urn, const char *name, int ce)
{
        vctx_t *v = ctx;
        const json_t *val = scim_model_value(v->res, urn, name);
        char *text, key[1024];
        const char *other;

        if (!val || json_is_null(val) || v->e->status)
                return;
        text = json_is_string(val)
                   ? (ce ? strdup(json_string_value(val))
                         : scim_casefold(json_string_value(val)))
                   : scim_json_dumps(val);
        if (!text)
                return;
        snprintf(key, sizeof(key), "%c\x1f%s\x1f%s\x1f%s", (char)v->rt, urn,
                 name, text);
        other = json_string_value(json_object_get(v->seen, key));
        if (other)
                scim_err_set(v->e, 409, "uniqueness",
                             "%.256s:%.64s '%.128s' is also held by %.128s",
                             urn, name, text, other);
        else if (json_string_value(json_object_get(v->res, "id")))
                json_object_set_new(
                    v->seen, key,
                    json_string(json_string_value(json_object_get(v->res, "id"))));
        free(text);
}

static int check_one(void *ctx, json_t *res)
{
        vctx_t *v = ctx;
        json_t *copy = json_deep_copy(res);
        scim_err_t e;

        scim_err_clear(&e);
        json_object_del(copy, "meta");
        if (!scim_model_enabled(v->m, v->rt))
                scim_err_set(&e, 400, "invalidValue",
                             "the resource type would be disabled");
        else
                scim_model_enforce(v->m, v->rt, copy, NULL,
                                   SCIM_ENFORCE_CHECK, NULL, &e);
        if (!e.status) {
                v->res = copy;
                v->e = &e;
                scim_model_each_unique(v->m, v->rt, check_unique, v);
                v->res = NULL;
                v->e = NULL;
        }
        if (e.status && v->old) { /* a violation the change does not add */
                json_t *c2 = json_deep_copy(res);
                scim_err_t e2;

                scim_err_clear(&e2);
                json_object_del(c2, "meta");
                if (!scim_model_enabled(v->old, v->rt) ||
                    scim_model_enforce(v->old, v->rt, c2, NULL,
                                       SCIM_ENFORCE_CHECK, NULL, &e2) < 0) {
                        v->before++;
                        scim_err_clear(&e);
                }
                json_decref(c2);
        }
        if (e.status) {
                v->bad++;
                if (json_array_size(v->violations) < v->max)
                        json_array_append_new(
                            v->violations,
                            json_pack("{s:s, s:O?, s:s}", "resourceType",
                                      v->rname,
                                      "id", json_object_get(res, "id"),
                                      "detail", e.detail));
        }
        json_decref(copy);
        return 0;
}

json_t *scim_store_model_check(scim_store_t *st, const char *tenant,
                               const scim_model_t *m, size_t max_listed,
                               long *violating)
{
        scim_model_t *old = scim_store_model(st, tenant);
        vctx_t v = {m,          old, 0, SCIM_RT_USER, "User", json_array(),
                    max_listed, 0,   json_object(), NULL, NULL};
        long n = 0;
        const scim_rtype_row_t *rows[64];
        size_t nrows = scim_model_rtypes_all(old, rows, 64);

        /* every type of the table, enabled or not: a type the new model
         * disables (or drops) may still hold resources */
        for (size_t i = 0; i < nrows; i++) {
                v.rt = rows[i]->code;
                v.rname = rows[i]->name;
                n += scim_store_each_resource(st, tenant, v.rt, check_one, &v);
        }
        scim_model_unref(old);
        json_decref(v.seen);
        *violating = v.bad;
        return json_pack("{s:I, s:I, s:I, s:o}", "checked", (json_int_t)n,
                         "violating", (json_int_t)v.bad,
                         "alreadyViolating", (json_int_t)v.before,
                         "violations", v.violations);
}

json_t *scim_store_tenant_get(scim_store_t *st, const char *tenant, char kind,
                              const char *id)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;
        json_t *o;

        if (!tenant || strlen(tenant) > SCIM_MAX_TENANT_LEN)
                return NULL;
        if (kind) {
                if (!id || strlen(id) > 128)
                        return NULL;
                key_make(&k, tenant, kind, id, NULL);
        } else {
                scim_buf_append(&k, tenant, strlen(tenant));
        }
        v = db_read(st, k.data, k.len, &vl);
        scim_buf_free(&k);
        o = v ? scim_json_load(v, vl) : NULL;
        free(v);
        return o;
}
