/*
 * erase.c — tenant erasure (docs/erasure.md). The log is immutable, so
 * personal data reaches it only sealed: each tenant has random data keys
 * (column family `dkey`, never in the log), every event's resource JSON is
 * sealed with the tenant's current key (AES-256-GCM, Nettle; the tenant
 * name as associated data) into `sealed_json` + `key_id`, and deleting a
 * tenant with erasure destroys its keys in the same batch that deletes
 * every view row of the tenant. Afterwards the log still holds the
 * tenant's events, but their personal data cannot be read by anyone; a
 * replay skips them (ev->erased) and rebuilds every other tenant exactly.
 *
 * Keys (column family dkey): `tenant` -> {"current": kid}; `tenant\0kid`
 * -> {"key": 64 hex, "tenant_created", "since": log position} or, once
 * erased, {"erased": time}. A key is created on the tenant's first sealed
 * write (a synced write before the event is appended); a deletion erases
 * the keys made before it was folded (since below its position), live
 * and in a replay alike. Embedded log only: in Kafka mode every node
 * would need the same keys (a key service), see docs/erasure.md.
 */
#include <nettle/base64.h>
#include <nettle/gcm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/changes_internal.h"

#define NONCE 12
#define TAG 16

static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;

static char *dk_get(scim_store_t *st, const char *k, size_t kl, size_t *vl)
{
        return db_get(st, CF_DKEY, k, kl, vl);
}

/* The key (tenant, kid): 1 with key, 0 erased or unknown. */
static int key_of(scim_store_t *st, const char *tenant, const char *kid,
                  uint8_t key[32])
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;
        json_t *o;
        const char *hx;
        int ok = 0;

        scim_buf_append(&k, tenant, strlen(tenant) + 1);
        scim_buf_puts(&k, kid);
        v = dk_get(st, k.data, k.len, &vl);
        scim_buf_free(&k);
        o = v ? scim_json_load(v, vl) : NULL;
        free(v);
        hx = json_string_value(json_object_get(o, "key"));
        if (hx && strlen(hx) == 64 && scim_hex_decode(hx, 32, key) == 0)
                ok = 1;
        json_decref(o);
        return ok;
}

/*
 * The last current keys seen, by (tenant, the bytes of its pointer row),
 * under key_mu: a sealed write reads the pointer row (one Get) and, when
 * its bytes are the ones cached, takes the key without parsing the row or
 * reading the key's own (issue 13: ~8k instructions of a ~535k POST). The
 * bytes name the key id, ids are random per key, and a key is erased only
 * together with the pointer naming it (fold_tenant_delete), so equal bytes
 * mean the same, live key; rotation writes other bytes.
 */
#define KEY_CACHE 16
static struct key_cache {
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        char ptr[64]; /* the pointer row's bytes ({"current":"<kid>"}) */
        size_t ptr_len;
        char kid[17];
        uint8_t key[32];
        unsigned used;
} key_cache[KEY_CACHE];
static unsigned key_clock;

static int key_cached(const char *tenant, const char *ptr, size_t pl,
                      char kid[17], uint8_t key[32])
{
        for (int i = 0; i < KEY_CACHE; i++) {
                struct key_cache *c = &key_cache[i];

                if (c->used && c->ptr_len == pl && !memcmp(c->ptr, ptr, pl) &&
                    !strcmp(c->tenant, tenant)) {
                        memcpy(kid, c->kid, 17);
                        memcpy(key, c->key, 32);
                        c->used = ++key_clock;
                        return 1;
                }
        }
        return 0;
}

static void key_remember(const char *tenant, const char *ptr, size_t pl,
                         const char kid[17], const uint8_t key[32])
{
        struct key_cache *v = &key_cache[0];

        if (strlen(tenant) > SCIM_MAX_TENANT_LEN || pl > sizeof(v->ptr))
                return;
        for (int i = 1; i < KEY_CACHE && v->used; i++)
                if (key_cache[i].used < v->used)
                        v = &key_cache[i];
        memcpy(v->tenant, tenant, strlen(tenant) + 1);
        memcpy(v->ptr, ptr, pl);
        v->ptr_len = pl;
        memcpy(v->kid, kid, 17);
        memcpy(v->key, key, 32);
        v->used = ++key_clock;
}

/*
 * Per thread, the current keys it sealed with last, without the pointer
 * row's Get or key_mu (issue 13: 2.7k of a POST's instructions): an entry
 * holds while its store's auth_gen and the count of stores closed are what
 * they were before the entry's pointer row was read. The pointer of a
 * tenant changes only when its first sealed write creates it (below; a
 * thread that missed reads the row) and when TENANT_DELETE erases its keys
 * (fold_tenant_delete), and the writer bumps auth_gen after a batch with
 * a TENANT_DELETE (or TENANT_CREATE) has landed (store.c fold_write,
 * event_changes_auth). A write sealed with a key read just before an
 * erasure lands is what reading the row at that moment gave too. The
 * count of stores closed keeps an entry from matching another store
 * opened later at the same address. An entry found stale is wiped.
 */
#define TKEYS 4
static __thread struct tkey {
        const scim_store_t *st;
        uint64_t gen, closed;
        char tenant[SCIM_MAX_TENANT_LEN + 1];
        char kid[17];
        uint8_t key[32];
} tkeys[TKEYS];
static __thread unsigned tkey_next;
static uint64_t stores_closed; /* atomic */

void erase_store_closed(void)
{
        __atomic_add_fetch(&stores_closed, 1, __ATOMIC_RELEASE);
}

static int tkey_find(const scim_store_t *st, const char *tenant, uint64_t gen,
                     uint64_t closed, char kid[17], uint8_t key[32])
{
        for (int i = 0; i < TKEYS; i++) {
                struct tkey *k = &tkeys[i];

                if (k->st != st || strcmp(k->tenant, tenant))
                        continue;
                if (k->gen == gen && k->closed == closed) {
                        memcpy(kid, k->kid, 17);
                        memcpy(key, k->key, 32);
                        return 1;
                }
                memset(k, 0, sizeof(*k)); /* stale: its key may be erased */
        }
        return 0;
}

static void tkey_keep(const scim_store_t *st, const char *tenant,
                      uint64_t gen, uint64_t closed, const char kid[17],
                      const uint8_t key[32])
{
        struct tkey *k = &tkeys[tkey_next++ % TKEYS];

        if (strlen(tenant) > SCIM_MAX_TENANT_LEN)
                return;
        k->st = st;
        k->gen = gen;
        k->closed = closed;
        memcpy(k->tenant, tenant, strlen(tenant) + 1);
        memcpy(k->kid, kid, 17);
        memcpy(k->key, key, 32);
}

/* Under key_mu: the log position no deletion folded so far exceeds (the
 * views' position, or a deletion folded in a batch not yet written). */
static uint64_t key_since(scim_store_t *st)
{
        uint64_t pos = scim_store_position(st);

        return st->dkey_seq > pos ? st->dkey_seq : pos;
}

/* The tenant's current key, created when it has none. */
static int current_key(scim_store_t *st, const char *tenant, char kid[17],
                       uint8_t key[32], scim_err_t *err)
{
        size_t vl = 0;
        char *v;
        json_t *o;
        const char *cur;
        int rc = -1;
        /* read before the pointer row (see tkeys) */
        uint64_t gen = __atomic_load_n(&st->auth_gen, __ATOMIC_ACQUIRE);
        uint64_t closed = __atomic_load_n(&stores_closed, __ATOMIC_ACQUIRE);

        if (tkey_find(st, tenant, gen, closed, kid, key))
                return 0;
        pthread_mutex_lock(&key_mu);
        v = dk_get(st, tenant, strlen(tenant), &vl);
        if (v && key_cached(tenant, v, vl, kid, key)) {
                free(v);
                pthread_mutex_unlock(&key_mu);
                tkey_keep(st, tenant, gen, closed, kid, key);
                return 0;
        }
        o = v ? scim_json_load(v, vl) : NULL;
        cur = json_string_value(json_object_get(o, "current"));
        if (cur && strlen(cur) == 16 && key_of(st, tenant, cur, key)) {
                memcpy(kid, cur, 17);
                key_remember(tenant, v, vl, kid, key);
                free(v);
                rc = 0;
        } else {
                free(v); /* the first sealed write: a new random key, synced */
                uint8_t raw[8];
                char hx[65], *e = NULL;
                scim_buf_t k = {0};
                json_t *row = NULL, *ptr = NULL;
                char *rt = NULL, *pt = NULL;
                rocksdb_writebatch_t *wb = rocksdb_writebatch_create();

                size_t tl = 0;
                char *tr = db_get(st, CF_TENANT, tenant, strlen(tenant), &tl);
                json_t *tj = tr ? scim_json_load(tr, tl) : NULL;

                free(tr);
                scim_random_bytes(raw, sizeof(raw));
                scim_hex_encode(raw, sizeof(raw), kid);
                scim_random_bytes(key, 32);
                scim_hex_encode(key, 32, hx);
                /* since: the log position before which the key did not
                 * exist (no deletion folded after it has been folded): a
                 * deletion erases the keys that existed when it was
                 * folded, those with a smaller since than its own
                 * position, in a replay too, which copies every key
                 * first (a key made while the tenant was gone, made
                 * current and used by its next incarnation, is not
                 * erased by the earlier deletion). tenant_created (the
                 * incarnation, from the log) is kept for reading. */
                row = json_pack("{s:s, s:O?, s:I}", "key", hx, "tenant_created",
                                json_object_get(tj, "created"), "since",
                                (json_int_t)key_since(st));
                json_decref(tj);
                ptr = json_pack("{s:s}", "current", kid);
                rt = scim_json_dumps(row);
                pt = scim_json_dumps(ptr);
                scim_buf_append(&k, tenant, strlen(tenant) + 1);
                scim_buf_puts(&k, kid);
                if (rt && pt) {
                        rocksdb_writebatch_put_cf(wb, st->cf[CF_DKEY], k.data,
                                                  k.len, rt, strlen(rt));
                        rocksdb_writebatch_put_cf(wb, st->cf[CF_DKEY], tenant,
                                                  strlen(tenant), pt,
                                                  strlen(pt));
                        rocksdb_write(st->db, st->wo_sync, wb, &e);
                }
                if (!rt || !pt || e)
                        scim_err_set_retry(err, 503,
                                           "cannot store the tenant's data "
                                           "key: %.200s",
                                           e ? e : "out of memory");
                else
                        rc = 0;
                free(e);
                free(rt);
                free(pt);
                json_decref(row);
                json_decref(ptr);
                scim_buf_free(&k);
                rocksdb_writebatch_destroy(wb);
        }
        json_decref(o);
        pthread_mutex_unlock(&key_mu);
        if (rc == 0)
                tkey_keep(st, tenant, gen, closed, kid, key);
        return rc;
}

/* What a sealed event carries (sealed_json decrypted): {"r": the resource
 * JSON, "d": a refusal's detail (it names the values it refused), "m":
 * the display names of added members}; the encoded event has them NULL. */
static char *payload(const scim_event_t *ev)
{
        /* written directly: the bytes the jansson object {"r","d","m"}
         * dumped to (a member whose string is not UTF-8 left out, as
         * jansson refused it), without building and escaping it twice */
        scim_buf_t b = {0};
        size_t mark;
        int any = 0, m = 0;
        char *txt;

        scim_buf_puts(&b, "{");
        if (ev->resource_json) {
                mark = b.len;
                scim_buf_puts(&b, "\"r\":");
                if (scim_json_dump_string(ev->resource_json,
                                          strlen(ev->resource_json), &b) == 0)
                        any = 1;
                else
                        b.len = mark;
        }
        if (ev->refused_detail) {
                mark = b.len;
                scim_buf_puts(&b, any ? ",\"d\":" : "\"d\":");
                if (scim_json_dump_string(ev->refused_detail,
                                          strlen(ev->refused_detail), &b) == 0)
                        any = 1;
                else
                        b.len = mark;
        }
        for (size_t i = 0; i < ev->n_added; i++)
                if (ev->added[i].display) {
                        m = 1;
                        break;
                }
        if (m) {
                size_t nm = 0;

                scim_buf_puts(&b, any ? ",\"m\":[" : "\"m\":[");
                for (size_t i = 0; i < ev->n_added; i++) {
                        const char *d = ev->added[i].display;

                        mark = b.len;
                        if (nm)
                                scim_buf_puts(&b, ",");
                        if (!d || scim_json_dump_string(d, strlen(d), &b) < 0) {
                                /* jansson: a NULL display is null; one
                                 * that is not UTF-8 is not appended */
                                if (d) {
                                        b.len = mark;
                                        continue;
                                }
                                scim_buf_puts(&b, "null");
                        }
                        nm++;
                }
                scim_buf_puts(&b, "]");
                any = 1;
        }
        scim_buf_puts(&b, "}");
        if (!any || !b.data) {
                scim_buf_free(&b);
                return NULL;
        }
        txt = strndup(b.data, b.len);
        scim_buf_free(&b);
        return txt;
}

/* The last key scim_store_seal or erase_open used on this thread,
 * expanded (the key schedule and GCM's hash tables cost more than sealing
 * or opening a small event: 1.3k of a POST's instructions). set_iv starts
 * each message afresh. */
static __thread struct {
        uint8_t key[32];
        struct gcm_aes256_ctx g;
        int set;
} keyed;

/* keyed, set to key. */
static struct gcm_aes256_ctx *keyed_ctx(const uint8_t key[32])
{
        if (!keyed.set || memcmp(keyed.key, key, 32)) {
                gcm_aes256_set_key(&keyed.g, key);
                memcpy(keyed.key, key, 32);
                keyed.set = 1;
        }
        return &keyed.g;
}

int scim_store_seal(scim_store_t *st, scim_event_t *ev, scim_err_t *err)
{
        uint8_t key[32], nonce[NONCE];
        char kid[17];
        struct gcm_aes256_ctx *g;
        size_t n;
        uint8_t *buf;
        char *b64, *plain;
        struct base64_encode_ctx bc;
        size_t o;

        if (!ev->tenant || ev->sealed_json || !(plain = payload(ev)))
                return 0;
        if (current_key(st, ev->tenant, kid, key, err) < 0) {
                free(plain);
                return -1;
        }
        n = strlen(plain);
        buf = malloc(NONCE + n + TAG);
        b64 = malloc(BASE64_ENCODE_LENGTH(NONCE + n + TAG) +
                     BASE64_ENCODE_FINAL_LENGTH + 1);
        if (!buf || !b64) {
                free(buf);
                free(b64);
                free(plain);
                return scim_err_set_retry(err, 503, "out of memory");
        }
        scim_random_bytes(nonce, sizeof(nonce));
        memcpy(buf, nonce, NONCE);
        g = keyed_ctx(key);
        gcm_aes256_set_iv(g, NONCE, nonce);
        gcm_aes256_update(g, strlen(ev->tenant), (const uint8_t *)ev->tenant);
        gcm_aes256_encrypt(g, n, buf + NONCE, (const uint8_t *)plain);
        free(plain);
        gcm_aes256_digest(g, TAG, buf + NONCE + n);
        base64_encode_init(&bc);
        o = base64_encode_update(&bc, b64, NONCE + n + TAG, buf);
        o += base64_encode_final(&bc, b64 + o);
        b64[o] = '\0';
        free(buf);
        memset(key, 0, sizeof(key));
        ev->sealed_json = b64;
        ev->key_id = strdup(kid);
        if (!ev->key_id)
                return scim_err_set_retry(err, 503, "out of memory");
        return 0;
}

/* The slot of tenant in the list of tenants whose deletion this store
 * folded since it opened (the fold thread's), st->n_erased_names when
 * it is not there. */
static unsigned erased_name_at(const scim_store_t *st, const char *tenant)
{
        unsigned i;

        for (i = 0; i < st->n_erased_names; i++)
                if (!strcmp(st->erased_names[i], tenant))
                        break;
        return i;
}

int fold_key_erased(txn_t *t, const scim_event_t *ev)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;
        int erased;

        if (!ev || ev->erased || !ev->sealed_json || !ev->key_id || !ev->tenant)
                return 0;
        if (!t->st->erased_many &&
            erased_name_at(t->st, ev->tenant) == t->st->n_erased_names)
                return 0; /* not deleted since the store opened */
        scim_buf_append(&k, ev->tenant, strlen(ev->tenant) + 1);
        scim_buf_puts(&k, ev->key_id);
        v = txn_get(t, CF_DKEY, k.data, k.len, &vl);
        erased = v && memmem(v, vl, "\"erased\"", 8) != NULL;
        free(v);
        scim_buf_free(&k);
        return erased;
}

int erase_data_key(scim_store_t *st, const char *tenant, const char *kid,
                   uint8_t key[32])
{
        return key_of(st, tenant, kid, key);
}

int erase_open(const uint8_t key[32], const char *tenant, const char *b64,
               size_t len, scim_buf_t *plain)
{
        uint8_t tag[TAG], stackbuf[2048], *buf = stackbuf;
        struct base64_decode_ctx bc;
        struct gcm_aes256_ctx *g;
        size_t dl = BASE64_DECODE_LENGTH(len), mark = plain->len;
        long fast;
        int rc = -1;

        if (dl + 1 > sizeof(stackbuf) && !(buf = malloc(dl + 1)))
                return -1;
        fast = scim_b64_decode_strict(b64, len, buf);
        if (fast >= 0) {
                dl = (size_t)fast; /* what the encoder wrote: the fast way */
        } else {
                base64_decode_init(&bc);
                if (!base64_decode_update(&bc, &dl, buf, len, b64) ||
                    !base64_decode_final(&bc))
                        goto out;
        }
        if (dl < NONCE + TAG)
                goto out;
        if (plain->len + dl + 1 > plain->cap) { /* room for the text */
                char *p = realloc(plain->data, plain->len + dl + 1);

                if (!p)
                        goto out;
                plain->data = p;
                plain->cap = plain->len + dl + 1;
        }
        g = keyed_ctx(key);
        gcm_aes256_set_iv(g, NONCE, buf);
        gcm_aes256_update(g, strlen(tenant), (const uint8_t *)tenant);
        gcm_aes256_decrypt(g, dl - NONCE - TAG,
                           (uint8_t *)plain->data + plain->len, buf + NONCE);
        gcm_aes256_digest(g, TAG, tag);
        /* forged or damaged; compared in constant time */
        if (!scim_ct_equal(tag, buf + dl - TAG, TAG))
                goto out;
        plain->len += dl - NONCE - TAG;
        plain->data[plain->len] = '\0';
        rc = 0;
out:
        if (rc && plain->data)
                plain->data[plain->len = mark] = '\0';
        if (buf != stackbuf)
                free(buf);
        return rc;
}

int scim_store_unseal(scim_store_t *st, scim_event_t *ev)
{
        uint8_t key[32];
        scim_buf_t pb = {0};
        char *plain;

        if (!ev->sealed_json || ev->resource_json || !ev->tenant)
                return 0; /* not sealed, or unsealed in memory already */
        if (!ev->key_id || !key_of(st, ev->tenant, ev->key_id, key)) {
                ev->erased = 1; /* its key is destroyed (or never was) */
                return 1;
        }
        if (erase_open(key, ev->tenant, ev->sealed_json,
                       strlen(ev->sealed_json), &pb) < 0) {
                memset(key, 0, sizeof(key));
                scim_buf_free(&pb);
                return -1; /* the fold refuses it: no resource */
        }
        memset(key, 0, sizeof(key));
        plain = pb.data;
        {
                json_t *o = scim_json_load(plain, strlen(plain)), *m;
                const char *r = json_string_value(json_object_get(o, "r"));
                const char *d = json_string_value(json_object_get(o, "d"));
                size_t i;
                json_t *x;

                free(plain);
                if (!json_is_object(o)) {
                        json_decref(o);
                        return -1;
                }
                if (r)
                        ev->resource_json = strdup(r);
                if (d && !ev->refused_detail)
                        ev->refused_detail = strdup(d);
                m = json_object_get(o, "m");
                json_array_foreach(m, i, x) if (i < ev->n_added &&
                                                !ev->added[i].display &&
                                                json_is_string(x))
                    ev->added[i].display = strdup(json_string_value(x));
                json_decref(o);
        }
        return 0;
}

/* ------------------------------------------------------------ the fold */

typedef struct ectx {
        txn_t *t;
        size_t skip; /* bytes of the index key before the seq */
} ectx_t;

static void drop_change(void *ctx, const char *k, size_t kl)
{
        ectx_t *c = ctx;

        if (kl == c->skip + 16) /* tenant \0 T time(8) seq(8) */
                txn_del(c->t, CF_CHANGE, k + c->skip + 8, 8);
}

static void drop_token(void *ctx, const char *k, size_t kl)
{
        txn_t *t = ctx;
        size_t vl = 0;
        char *h = txn_get(t, CF_TENANT, k, kl, &vl);

        if (h && vl == 64)
                txn_del(t, CF_TOKEN, h, 64);
        free(h);
}

/* Which keys a deletion at log position seq erases: those made before it
 * was folded (since < seq); a key written before `since` was recorded,
 * those of its incarnation (tenant_created equal, or unknown). */
static int key_erased_by(const json_t *o, uint64_t seq, const char *created)
{
        const json_t *since = json_object_get(o, "since");
        const char *kc =
            json_string_value(json_object_get(o, "tenant_created"));

        if (!json_object_get(o, "key"))
                return 0; /* erased already */
        if (json_is_integer(since))
                return (uint64_t)json_integer_value(since) < seq;
        return !kc || !created || !strcmp(kc, created);
}

static void erase_key(void *ctx, const char *k, size_t kl)
{
        void **a = ctx;
        txn_t *t = a[0];
        const char *ts = a[1], *created = a[2];
        const uint64_t *seq = a[4];
        size_t vl = 0;
        char *old = txn_get(t, CF_DKEY, k, kl, &vl);
        json_t *o = old ? scim_json_load(old, vl) : NULL;

        free(old);
        if (key_erased_by(o, *seq, created)) {
                char v[64];
                int n = snprintf(v, sizeof(v), "{\"erased\":\"%s\"}", ts);

                txn_put(t, CF_DKEY, k, kl, v, (size_t)n);
                a[3] = (void *)1; /* erased something */
        }
        json_decref(o);
}

void fold_tenant_delete(txn_t *t, uint64_t seq, const scim_event_t *ev,
                        scim_verdict_t *v)
{
        const char *tn = ev->tenant;
        size_t tl = strlen(tn);
        scim_buf_t p = {0};
        size_t vl = 0;
        char *rec = txn_get(t, CF_TENANT, tn, tl, &vl), ts[32];
        json_t *rj = rec ? scim_json_load(rec, vl) : NULL;
        char created[40] = "";
        ectx_t ec = {t, tl + 2};
        void *ka[5];

        posidx_note(t, 'X', tn, 0, NULL); /* its position indexes go */
        free(rec);
        snprintf(created, sizeof(created), "%s",
                 json_string_value(json_object_get(rj, "created"))
                     ? json_string_value(json_object_get(rj, "created"))
                     : "");
        json_decref(rj);
        if (!rec) {
                v->status = 404;
                snprintf(v->detail, sizeof(v->detail),
                         "tenant '%.64s' does not exist", tn);
                return;
        }
        scim_time_format(ev->time_ms, ts);
        /* change records, by the tenant's time index, then the indexes */
        scim_buf_append(&p, tn, tl + 1);
        scim_buf_append(&p, "T", 1);
        txn_scan_prefix(t, CF_CHIDX, p.data, p.len, drop_change, &ec);
        /* token records, by the tenant's token rows */
        p.len = tl + 1;
        scim_buf_append(&p, "T", 1);
        txn_scan_prefix(t, CF_TENANT, p.data, p.len, drop_token, t);
        /* everything keyed by the tenant */
        p.len = tl + 1;
        for (int cf = CF_RES; cf < CF_COUNT; cf++)
                if (cf != CF_TOKEN && cf != CF_CHANGE && cf != CF_LOG &&
                    cf != CF_DKEY)
                        txn_del_prefix(t, cf, p.data, p.len);
        txn_del(t, CF_TENANT, tn, tl);
        p.len = 0;
        scim_buf_puts(&p, "count");
        scim_buf_append(&p, "", 1);
        scim_buf_append(&p, tn, tl + 1);
        txn_del_prefix(t, CF_DEFAULT, p.data, p.len);
        changes_counters_drop(t, tn); /* its apply times (counters.c) */
        /* this incarnation's data keys: destroyed (the rows say when);
         * the current-key pointer goes with them unless a later
         * incarnation's key is current (a replay copies every key) */
        p.len = 0;
        scim_buf_append(&p, tn, tl + 1);
        ka[0] = t;
        ka[1] = ts;
        ka[2] = created[0] ? created : NULL;
        ka[3] = NULL;
        ka[4] = &seq;
        /* under key_mu: a key is made (current_key) either before this
         * scan, and erased here, or after it with a since of seq or more */
        pthread_mutex_lock(&key_mu);
        txn_scan_prefix(t, CF_DKEY, p.data, p.len, erase_key, ka);
        if (seq != UINT64_MAX && seq > t->st->dkey_seq)
                t->st->dkey_seq = seq;
        pthread_mutex_unlock(&key_mu);
        {
                scim_store_t *st = t->st;
                const unsigned cap =
                    sizeof(st->erased_names) / sizeof(st->erased_names[0]);

                if (erased_name_at(st, tn) < st->n_erased_names)
                        ; /* known */
                else if (tl > SCIM_MAX_TENANT_LEN || st->n_erased_names == cap)
                        st->erased_many = 1; /* every tenant is checked */
                else
                        memcpy(st->erased_names[st->n_erased_names++], tn,
                               tl + 1);
        }
        {
                size_t pl = 0;
                char *ptr = txn_get(t, CF_DKEY, tn, tl, &pl);
                json_t *pj = ptr ? scim_json_load(ptr, pl) : NULL;
                const char *cur = json_string_value(json_object_get(pj, "current"));

                free(ptr);
                if (cur) {
                        size_t kl2 = 0;
                        char *kr;

                        p.len = tl + 1;
                        scim_buf_puts(&p, cur);
                        kr = txn_get(t, CF_DKEY, p.data, p.len, &kl2);
                        if (!kr || kl2 == 0 ||
                            memmem(kr, kl2, "\"erased\"", 8))
                                txn_del(t, CF_DKEY, tn, tl);
                        free(kr);
                }
                json_decref(pj);
        }
        scim_buf_free(&p);
        v->status = 204;
}

int scim_store_purge(scim_store_t *st, scim_err_t *err)
{
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        char *e = NULL;

        rocksdb_flushoptions_set_wait(fo, 1);
        for (int cf = 0; cf < CF_COUNT && !e; cf++)
                rocksdb_flush_cf(st->db, fo, st->cf[cf], &e);
        rocksdb_flushoptions_destroy(fo);
        {
                /* kForce: the bottommost level is rewritten too. With the
                 * default, RocksDB may move a file that holds a deleted
                 * row down unchanged (seen in snapshot erasure), and the
                 * row stays on disk. */
                rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();

                rocksdb_compactoptions_set_bottommost_level_compaction(co, 2);
                for (int cf = 0; cf < CF_COUNT && !e; cf++)
                        rocksdb_compact_range_cf_opt(st->db, st->cf[cf], co,
                                                     NULL, 0, NULL, 0);
                rocksdb_compactoptions_destroy(co);
        }
        if (e) {
                scim_err_set_retry(err, 503, "purge failed: %.300s", e);
                free(e);
                return -1;
        }
        return 0;
}

void store_copy_keys(scim_store_t *src, scim_store_t *dst)
{
        rocksdb_iterator_t *it =
            rocksdb_create_iterator_cf(src->db, src->ro, src->cf[CF_DKEY]);
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
        char *e = NULL;

        for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);

                rocksdb_writebatch_put_cf(wb, dst->cf[CF_DKEY], k, kl, v, vl);
        }
        rocksdb_iter_destroy(it);
        rocksdb_write(dst->db, dst->wo_sync, wb, &e);
        free(e);
        rocksdb_writebatch_destroy(wb);
}
