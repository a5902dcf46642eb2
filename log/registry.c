/*
 * registry.c — Confluent Schema Registry interop (`--kafka-framing
 * confluent --schema-registry URL`): the writer schema is registered under
 * the subject <topic>-value (POST /subjects/<subject>/versions) and every
 * produced value is framed in the Confluent wire format: magic byte 0, the
 * schema id as 4 bytes big-endian, the Avro binary datum. The consumer
 * reads both framings: a Confluent-framed value's schema is fetched by id
 * (GET /schemas/ids/<id>, cached; an id the registry answers 404 for is
 * a value of no known schema), matched to one of the event schema
 * versions compiled in (same JSON, or same CRC-64-AVRO fingerprint when
 * the registry holds the Parsing Canonical Form), and the value is turned
 * into the single-object form the fold decodes (C3 01, fingerprint, the
 * same datum): the resolution of an old writer version is then the one of
 * schemas/event.c. A schema that matches no known version leaves the value
 * as it is, and the fold records it as refused (bad Avro).
 *
 * HTTP with libcurl; the registry's answers are bounded (64 KiB) and
 * parsed with jansson. Threads: any caller; the id cache is guarded by
 * reg->mu, and HTTP calls run outside it.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_internal.h"
#include "schemas/scim_schemas.h"

#define BODY_MAX 65536
#define CACHE_MAX 256
#define HTTP_TIMEOUT_MS 10000

struct scim_registry {
        char *url;
        pthread_mutex_t mu;
        size_t n;
        struct {
                uint32_t id;
                uint64_t fp; /* 0 = matches no known version */
        } cache[CACHE_MAX];
};

typedef struct {
        char *data;
        size_t len;
        int too_big;
} body_t;

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
        body_t *b = ctx;
        size_t k = size * n;
        char *nd;

        if (b->len + k > BODY_MAX) {
                b->too_big = 1;
                return 0;
        }
        nd = realloc(b->data, b->len + k + 1);
        if (!nd)
                return 0;
        b->data = nd;
        memcpy(b->data + b->len, p, k);
        b->len += k;
        b->data[b->len] = '\0';
        return k;
}

/* One HTTP exchange; post_body NULL = GET. Returns the parsed JSON answer
 * of a 2xx, or NULL with errstr. */
static json_t *http_json(const char *url, const char *post_body,
                         long *status_out, char *errstr, size_t errlen)
{
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        body_t b = {0};
        long status = 0;
        json_t *j = NULL;
        json_error_t jerr;
        CURLcode rc;

        if (!c) {
                snprintf(errstr, errlen, "cannot start an HTTP client");
                return NULL;
        }
        h = curl_slist_append(
            h, "Content-Type: application/vnd.schemaregistry.v1+json");
        h = curl_slist_append(h, "Accept: application/vnd.schemaregistry."
                                 "v1+json, application/json");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)HTTP_TIMEOUT_MS);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (post_body)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        *status_out = rc == CURLE_OK || b.too_big ? status : 0;
        if (rc != CURLE_OK)
                snprintf(errstr, errlen, "schema registry %s: %s", url,
                         b.too_big ? "answer larger than 64 KiB"
                                   : curl_easy_strerror(rc));
        else if (status < 200 || status > 299)
                snprintf(errstr, errlen, "schema registry %s answered %ld: %.200s",
                         url, status, b.data ? b.data : "");
        else if (!(j = json_loadb(b.data ? b.data : "", b.len, 0, &jerr)))
                snprintf(errstr, errlen,
                         "schema registry %s: answer is not JSON (%s)", url,
                         jerr.text);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        free(b.data);
        return j;
}

scim_registry_t *scim_registry_new(const char *url)
{
        scim_registry_t *r = calloc(1, sizeof(*r));
        size_t n;

        if (!r)
                return NULL;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        r->url = strdup(url);
        if (!r->url) {
                free(r);
                return NULL;
        }
        n = strlen(r->url);
        while (n > 0 && r->url[n - 1] == '/')
                r->url[--n] = '\0';
        pthread_mutex_init(&r->mu, NULL);
        return r;
}

void scim_registry_free(scim_registry_t *r)
{
        if (!r)
                return;
        pthread_mutex_destroy(&r->mu);
        free(r->url);
        free(r);
}

/* The compiled-in version whose schema equals text (JSON equality, or the
 * text's fingerprint when it is a canonical form); 0 if none. */
static uint64_t match_version(const char *text)
{
        json_t *j = json_loads(text, 0, NULL);
        uint64_t fp = scim_avro_fingerprint(text, strlen(text)), found = 0;

        for (int v = 1; v <= scim_event_schema_count() && !found; v++) {
                const char *mine = scim_event_schema_text(v);
                json_t *m = mine ? json_loads(mine, 0, NULL) : NULL;

                if (fp == scim_event_schema_fingerprint(v) ||
                    (j && m && json_equal(j, m)))
                        found = scim_event_schema_fingerprint(v);
                json_decref(m);
        }
        json_decref(j);
        return found;
}

int scim_registry_register(scim_registry_t *r, const char *topic,
                           uint32_t *id, char *errstr, size_t errlen)
{
        int n = scim_event_schema_count();
        const char *text = scim_event_schema_text(n);
        char url[2048];
        json_t *req, *ans;
        char *body;
        json_int_t got;
        long status;

        if (!text) {
                snprintf(errstr, errlen, "no event schema compiled in");
                return -1;
        }
        for (const char *p = topic; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
                      *p == '-')) {
                        snprintf(errstr, errlen, "topic name %s cannot be a "
                                 "registry subject", topic);
                        return -1;
                }
        snprintf(url, sizeof(url), "%s/subjects/%s-value/versions", r->url,
                 topic);
        req = json_pack("{s:s}", "schema", text);
        body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        json_decref(req);
        if (!body) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        ans = http_json(url, body, &status, errstr, errlen);
        free(body);
        if (!ans)
                return -1;
        if (!json_is_integer(json_object_get(ans, "id")) ||
            (got = json_integer_value(json_object_get(ans, "id"))) < 0 ||
            got > 0x7fffffff) {
                snprintf(errstr, errlen,
                         "schema registry %s: answer has no schema id", url);
                json_decref(ans);
                return -1;
        }
        json_decref(ans);
        *id = (uint32_t)got;
        pthread_mutex_lock(&r->mu);
        if (r->n < CACHE_MAX) {
                r->cache[r->n].id = *id;
                r->cache[r->n].fp = scim_event_writer_fingerprint();
                r->n++;
        }
        pthread_mutex_unlock(&r->mu);
        return 0;
}

/* The fingerprint of schema id (0 when the registry's schema is none of
 * ours; -1 when the registry could not be asked: not cached, retry). */
static int fp_of(scim_registry_t *r, uint32_t id, uint64_t *fp)
{
        char url[2048], errstr[512];
        json_t *ans;
        const char *text;
        long status = 0;

        pthread_mutex_lock(&r->mu);
        for (size_t i = 0; i < r->n; i++)
                if (r->cache[i].id == id) {
                        *fp = r->cache[i].fp;
                        pthread_mutex_unlock(&r->mu);
                        return 0;
                }
        pthread_mutex_unlock(&r->mu);
        snprintf(url, sizeof(url), "%s/schemas/ids/%u", r->url, id);
        ans = http_json(url, NULL, &status, errstr, sizeof(errstr));
        if (!ans && (status == 404 || (status >= 200 && status < 300))) {
                /* the registry does not know the id, or its answer is no
                 * schema (not JSON, over 64 KiB): a value no reader can
                 * decode, refused by the fold like bad Avro */
                *fp = 0;
                goto cache;
        }
        if (!ans) {
                scim_event("warn", "schema_registry",
                           "cannot read schema id %u: %s", id, errstr);
                return -1;
        }
        text = json_string_value(json_object_get(ans, "schema"));
        *fp = text ? match_version(text) : 0;
        json_decref(ans);
cache:
        pthread_mutex_lock(&r->mu);
        if (r->n < CACHE_MAX) {
                r->cache[r->n].id = id;
                r->cache[r->n].fp = *fp;
                r->n++;
        }
        pthread_mutex_unlock(&r->mu);
        return 0;
}

int scim_registry_frame(uint32_t id, const unsigned char *so, size_t len,
                        scim_buf_t *out)
{
        unsigned char hdr[5] = {0, (unsigned char)(id >> 24),
                                (unsigned char)(id >> 16),
                                (unsigned char)(id >> 8), (unsigned char)id};

        if (len < 10 || so[0] != 0xC3 || so[1] != 0x01)
                return -1;
        out->len = 0;
        if (scim_buf_append(out, hdr, sizeof(hdr)) < 0 ||
            scim_buf_append(out, so + 10, len - 10) < 0)
                return -1;
        return 0;
}

int scim_registry_unframe(scim_registry_t *r, const unsigned char *data,
                          size_t len, unsigned char **out, size_t *out_len)
{
        uint32_t id;
        uint64_t fp = 0;
        unsigned char *b;

        *out = NULL;
        if (!r || len < 5 || data[0] != 0)
                return 0;
        id = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
             (uint32_t)data[3] << 8 | data[4];
        if (fp_of(r, id, &fp) < 0)
                return -1;
        if (!fp)
                return 0;
        b = malloc(len - 5 + 10);
        if (!b)
                return -1;
        b[0] = 0xC3;
        b[1] = 0x01;
        for (int i = 0; i < 8; i++)
                b[2 + i] = (unsigned char)(fp >> (8 * i));
        memcpy(b + 10, data + 5, len - 5);
        *out = b;
        *out_len = len - 5 + 10;
        return 1;
}
