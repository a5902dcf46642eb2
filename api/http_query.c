/*
 * http_query.c — query strings parsed from the raw URI (so that '+' is a
 * space and %2B a plus, as form encoding says) and the attributes /
 * excludedAttributes projection. Reentrant; http pool threads.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http_internal.h"
#include "ingest/scim_ingest.h"

#define SCIM_URN_SEARCH "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

/* %-decodes s[0..n) into out (n + 1 bytes at least), '+' as a space,
 * lowercased when lower; -1 on a bad escape. */
static int decode_to(const char *s, size_t n, int lower, char *out)
{
        char *o = out;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '+') {
                        c = ' ';
                } else if (c == '%') {
                        int h = i + 1 < n ? scim_hex_digit(s[i + 1]) : -1;
                        int l = i + 2 < n ? scim_hex_digit(s[i + 2]) : -1;

                        if (h < 0 || l < 0)
                                return -1;
                        c = (char)(h * 16 + l);
                        i += 2;
                }
                *o++ = lower ? (char)tolower((unsigned char)c) : c;
        }
        *o = '\0';
        return 0;
}

static char *decode(const char *s, size_t n, int lower, scim_err_t *err)
{
        char *out = malloc(n + 1);

        if (!out) {
                scim_err_set_retry(err, 503, "out of memory");
                return NULL;
        }
        if (decode_to(s, n, lower, out) < 0) {
                free(out);
                scim_err_set(err, 400, "invalidValue",
                             "bad %%-escape in query string");
                return NULL;
        }
        return out;
}

/* 1 if raw[0..n) holds %00 (a NUL that would cut the value short). */
static int has_nul_escape(const char *raw, size_t n)
{
        for (size_t i = 0; i + 2 < n; i++)
                if (raw[i] == '%' && raw[i + 1] == '0' && raw[i + 2] == '0')
                        return 1;
        return 0;
}

int scim_query_parse(const char *raw, json_t **out, scim_err_t *err)
{
        json_t *o = json_object();

        *out = NULL;
        while (raw && *raw) {
                const char *amp = strchr(raw, '&');
                size_t len = amp ? (size_t)(amp - raw) : strlen(raw);
                const char *eq = memchr(raw, '=', len);
                size_t klen = eq ? (size_t)(eq - raw) : len;
                char *k = decode(raw, klen, 1, err), *v;

                if (!k) {
                        json_decref(o);
                        return -1;
                }
                v = eq ? decode(eq + 1, len - klen - 1, 0, err) : strdup("");
                if (!v) {
                        free(k);
                        json_decref(o);
                        return -1;
                }
                if (!scim_utf8_valid(k, strlen(k)) ||
                    !scim_utf8_valid(v, strlen(v)) ||
                    memchr(raw, '\0', len) || has_nul_escape(raw, len)) {
                        scim_err_set(err, 400, "invalidValue",
                                     "query parameter '%.64s' is not valid "
                                     "UTF-8 text (after %%-decoding)",
                                     scim_utf8_valid(k, strlen(k)) ? k : "?");
                        free(k);
                        free(v);
                        json_decref(o);
                        return -1;
                }
                if (*k) /* UTF-8 checked above: jansson need not again */
                        json_object_set_new_nocheck(o, k,
                                                    json_string_nocheck(v));
                free(k);
                free(v);
                raw += len;
                if (*raw == '&')
                        raw++;
        }
        *out = o;
        return 0;
}

/* p past any white space (isspace, as the filter parser skips it). */
static const char *skip_space(const char *p)
{
        while (isspace((unsigned char)*p))
                p++;
        return p;
}

int scim_query_username_eq(const char *raw, char *text, size_t cap, char *lit,
                           size_t litcap)
{
        size_t n = strlen(raw);
        const char *p, *start;

        /* exactly one parameter, spelled filter, nothing scim_query_parse
         * would refuse (a bad escape, %00, text that is not UTF-8) */
        if (strncmp(raw, "filter=", 7) || strchr(raw, '&') || n - 7 >= cap ||
            has_nul_escape(raw, n) || decode_to(raw + 7, n - 7, 0, text) < 0 ||
            !scim_utf8_valid(text, strlen(text)))
                return 0;
        /* userName eq "LITERAL": the literal without escapes or control
         * characters, as the filter parser takes it as it stands */
        p = skip_space(text);
        if (strncasecmp(p, "username", 8) || !isspace((unsigned char)p[8]))
                return 0;
        p = skip_space(p + 8);
        if (strncasecmp(p, "eq", 2) || !isspace((unsigned char)p[2]))
                return 0;
        p = skip_space(p + 2);
        if (*p != '"')
                return 0;
        for (start = ++p; *p && *p != '"'; p++)
                if (*p == '\\' || (unsigned char)*p < 0x20)
                        return 0;
        if (*p != '"' || p == start || (size_t)(p - start) >= litcap)
                return 0;
        memcpy(lit, start, (size_t)(p - start));
        lit[p - start] = '\0';
        return *skip_space(p + 1) == '\0';
}

/* Splits a comma list honouring [...] (filters may contain commas). */
static json_t *split_list(const char *list)
{
        json_t *arr = json_array();
        int depth = 0;
        const char *start = list;

        for (const char *p = list;; p++) {
                if (*p == '[')
                        depth++;
                else if (*p == ']')
                        depth--;
                if ((*p == ',' && depth <= 0) || !*p) {
                        const char *a = start, *b = p;

                        while (a < b && isspace((unsigned char)*a))
                                a++;
                        while (b > a && isspace((unsigned char)b[-1]))
                                b--;
                        if (b > a)
                                json_array_append_new(
                                    arr, json_stringn(a, (size_t)(b - a)));
                        start = p + 1;
                        if (!*p)
                                break;
                }
        }
        return arr;
}

/* name is attr (subs 0), or attr or one of its sub-attributes attr.sub
 * (subs 1); any case. */
static int names_attr(const char *name, const char *attr, int subs)
{
        size_t n = strlen(attr);

        return strncasecmp(name, attr, n) == 0 &&
               (name[n] == '\0' || (subs && name[n] == '.'));
}

/* 1 when the comma list has a name that names attr, bare or after a URN
 * prefix. */
static int attr_list_match(const char *list, const char *attr, int subs)
{
        json_t *arr, *e;
        size_t i;
        int hit = 0;

        if (!list)
                return 0;
        arr = split_list(list);
        json_array_foreach(arr, i, e)
        {
                const char *s = json_string_value(e), *c = strrchr(s, ':');

                if (names_attr(s, attr, subs) ||
                    (c && names_attr(c + 1, attr, subs)))
                        hit = 1;
        }
        json_decref(arr);
        return hit;
}

int scim_attr_list_has(const char *list, const char *attr)
{
        return attr_list_match(list, attr, 0);
}

int scim_attr_list_wants(const char *list, const char *attr)
{
        return attr_list_match(list, attr, 1);
}

/* Copies what path p names from src into dst. */
static void copy_path(const scim_path_t *p, json_t *src, json_t *dst)
{
        json_t *sblk = src, *dblk = dst, *v;

        if (p->urn) {
                sblk = scim_json_get_ci(src, p->urn);
                if (!sblk)
                        return;
                dblk = json_object_get(dst, p->urn);
                if (!dblk) {
                        dblk = json_object();
                        json_object_set_new(dst, p->urn, dblk);
                }
        }
        v = scim_json_get_ci(sblk, p->attr);
        if (!v)
                return;
        if (p->filter && json_is_array(v)) {
                json_t *arr = json_array(), *e;
                size_t i;

                json_array_foreach(v, i, e)
                {
                        if (scim_filter_match_element(p->filter, e))
                                json_array_append(arr, e);
                }
                json_object_set_new(dblk, p->attr, arr);
                return;
        }
        if (p->sub) {
                json_t *cur = json_object_get(dblk, p->attr);

                if (json_is_object(v)) {
                        json_t *sv = scim_json_get_ci(v, p->sub);

                        if (!sv)
                                return;
                        if (!json_is_object(cur)) {
                                cur = json_object();
                                json_object_set_new(dblk, p->attr, cur);
                        }
                        json_object_set(cur, p->sub, sv);
                } else if (json_is_array(v)) {
                        json_t *arr = json_array(), *e;
                        size_t i;

                        json_array_foreach(v, i, e)
                        {
                                json_t *sv = scim_json_get_ci(e, p->sub);

                                if (sv)
                                        json_array_append_new(
                                            arr,
                                            json_pack("{s:O}", p->sub, sv));
                        }
                        json_object_set_new(dblk, p->attr, arr);
                }
                return;
        }
        json_object_set(dblk, p->attr, v);
}

static void del_ci(json_t *o, const char *k)
{
        const char *key;
        json_t *v;
        void *tmp;

        json_object_foreach_safe(o, tmp, key, v)
        {
                if (scim_strcaseeq(key, k))
                        json_object_del(o, key);
        }
}

static void drop_path(const scim_path_t *p, json_t *res)
{
        json_t *blk = res, *v;

        if (p->urn)
                blk = scim_json_get_ci(res, p->urn);
        if (!blk)
                return;
        if (p->sub) {
                v = scim_json_get_ci(blk, p->attr);
                if (json_is_object(v)) {
                        del_ci(v, p->sub);
                } else if (json_is_array(v)) {
                        size_t i;
                        json_t *e;

                        json_array_foreach(v, i, e) del_ci(e, p->sub);
                }
                return;
        }
        del_ci(blk, p->attr);
}

/* The key of res's extension block that name (a schema URN) names, in
 * any case, or NULL: attributes= / excludedAttributes= take whole blocks. */
static const char *block_key(const json_t *res, const char *name)
{
        const char *k;
        json_t *v;

        if (strncasecmp(name, "urn:", 4))
                return NULL;
        json_object_foreach((json_t *)res, k, v) if (json_is_object(v) &&
                                                    scim_strcaseeq(k, name))
            return k;
        return NULL;
}

int scim_attr_lists_check(const json_t *q, scim_err_t *err)
{
        static const char *const keys[] = {"attributes", "excludedattributes"};

        for (size_t k = 0; k < 2; k++) {
                const char *v =
                    json_string_value(json_object_get(q, keys[k]));
                json_t *list;
                size_t n;

                if (!v)
                        continue;
                list = split_list(v);
                n = json_array_size(list);
                json_decref(list);
                if (n > SCIM_MAX_PROJECTION_ATTRS)
                        return scim_err_set(err, 400, "invalidValue",
                                            "%s names %zu attribute paths; "
                                            "at most %d",
                                            k ? "excludedAttributes"
                                              : "attributes",
                                            n, SCIM_MAX_PROJECTION_ATTRS);
        }
        return 0;
}

int scim_project(scim_rtype_t rt, json_t *res, const char *attributes,
                 const char *excluded, scim_err_t *err)
{
        json_t *list, *e;
        size_t i;

        if (attributes && *attributes) {
                json_t *out = json_object();

                json_object_set(out, "schemas",
                                json_object_get(res, "schemas"));
                json_object_set(out, "id", json_object_get(res, "id"));
                list = split_list(attributes);
                json_array_foreach(list, i, e)
                {
                        scim_path_t *p = NULL;
                        const char *bk = block_key(res, json_string_value(e));

                        if (bk) {
                                json_object_set(out, bk,
                                                json_object_get(res, bk));
                                continue;
                        }
                        if (scim_path_parse(rt, json_string_value(e), &p, err) <
                            0) {
                                json_decref(list);
                                json_decref(out);
                                return -1;
                        }
                        copy_path(p, res, out);
                        scim_path_free(p);
                }
                json_decref(list);
                json_object_clear(res);
                json_object_update(res, out);
                json_decref(out);
        }
        if (excluded && *excluded) {
                list = split_list(excluded);
                json_array_foreach(list, i, e)
                {
                        scim_path_t *p = NULL;
                        const char *bk = block_key(res, json_string_value(e));

                        if (bk) {
                                json_object_del(res, bk);
                                continue;
                        }
                        if (scim_path_parse(rt, json_string_value(e), &p, err) <
                            0) {
                                json_decref(list);
                                return -1;
                        }
                        if (strcmp(p->attr, "id") && strcmp(p->attr, "schemas"))
                                drop_path(p, res);
                        scim_path_free(p);
                }
                json_decref(list);
        }
        return 0;
}

/* A SearchRequest list attribute: an array of names or one comma list. */
static int search_list(json_t *q, const char *key, json_t *v, scim_err_t *err)
{
        scim_buf_t b = {0};
        size_t i;
        json_t *e;

        if (json_is_string(v)) {
                json_object_set(q, key, v);
                return 0;
        }
        if (!json_is_array(v))
                return scim_err_set(err, 400, "invalidValue",
                                    "%s must be an array of attribute names",
                                    key);
        json_array_foreach(v, i, e)
        {
                if (!json_is_string(e)) {
                        scim_buf_free(&b);
                        return scim_err_set(err, 400, "invalidValue",
                                            "%s must be an array of attribute "
                                            "names",
                                            key);
                }
                if ((i && scim_buf_puts(&b, ",") < 0) ||
                    scim_buf_puts(&b, json_string_value(e)) < 0) {
                        scim_buf_free(&b);
                        return scim_err_set_retry(err, 503, "out of memory");
                }
        }
        json_object_set_new(q, key, json_string(b.data ? b.data : ""));
        scim_buf_free(&b);
        return 0;
}

int scim_search_body_parse(const char *body, size_t len, json_t **out,
                           scim_err_t *err)
{
        json_t *in = NULL, *q = json_object(), *v, *schemas;
        const char *k;
        int rc = -1;

        *out = NULL;
        if (!body || len == 0) {
                *out = q; /* an empty search lists everything */
                return 0;
        }
        if (scim_json_parse(body, len, &in, err) < 0)
                goto out;
        if (!json_is_object(in)) {
                scim_err_set(err, 400, "invalidSyntax",
                             "a SearchRequest is a JSON object");
                goto out;
        }
        schemas = scim_json_get_ci(in, "schemas");
        if (schemas) {
                size_t i;
                int found = 0;

                json_array_foreach(
                    schemas, i, v) if (json_is_string(v) &&
                                       !strcasecmp(json_string_value(v),
                                                   SCIM_URN_SEARCH)) found = 1;
                if (!json_is_array(schemas) || !found) {
                        scim_err_set(err, 400, "invalidValue",
                                     "schemas must list " SCIM_URN_SEARCH);
                        goto out;
                }
        }
        json_object_foreach(in, k, v)
        {
                if (json_is_null(v) || !strcasecmp(k, "schemas"))
                        continue;
                if (!strcasecmp(k, "sortBy") || !strcasecmp(k, "sortOrder")) {
                        /* as a GET list answers them */
                        scim_err_set(err, 400, "invalidValue",
                                     "sorting is not supported "
                                     "(ServiceProviderConfig: sort.supported "
                                     "is false); results come in id order");
                        goto out;
                }
                if (!strcasecmp(k, "filter")) {
                        if (!json_is_string(v)) {
                                scim_err_set(err, 400, "invalidFilter",
                                             "filter must be a string");
                                goto out;
                        }
                        json_object_set(q, "filter", v);
                } else if (!strcasecmp(k, "cursor")) { /* RFC 9865 */
                        if (!json_is_string(v)) {
                                scim_err_set(err, 400, "invalidCursor",
                                             "cursor must be a string");
                                goto out;
                        }
                        json_object_set(q, "cursor", v);
                } else if (!strcasecmp(k, "startIndex") ||
                           !strcasecmp(k, "count")) {
                        char num[32];

                        if (!json_is_integer(v)) {
                                scim_err_set(err, 400, "invalidValue",
                                             "%s must be an integer", k);
                                goto out;
                        }
                        snprintf(num, sizeof(num), "%lld",
                                 (long long)json_integer_value(v));
                        json_object_set_new(
                            q, strcasecmp(k, "count") ? "startindex" : "count",
                            json_string(num));
                } else if (!strcasecmp(k, "attributes") ||
                           !strcasecmp(k, "excludedAttributes")) {
                        if (search_list(q,
                                        strcasecmp(k, "attributes")
                                            ? "excludedattributes"
                                            : "attributes",
                                        v, err) < 0)
                                goto out;
                } else {
                        scim_err_set(err, 400, "invalidSyntax",
                                     "unknown SearchRequest attribute "
                                     "'%.64s'",
                                     k);
                        goto out;
                }
        }
        *out = q;
        q = NULL;
        rc = 0;
out:
        json_decref(in);
        json_decref(q);
        return rc;
}
