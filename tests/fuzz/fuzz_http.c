/* fuzz_http.c — libFuzzer target: the request-header and query parsers
 * every API face shares. The input is split at newlines into a query
 * string, an If-Match value, an Authorization value and a Host value.
 * Whatever the query parser accepts must be an object of valid UTF-8
 * strings with lower-case keys; If-Match must match its own rendering of
 * a version and "*"; a bearer token is a suffix of its header without
 * leading spaces; an accepted Host holds only host characters. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_internal.h"
#include "ingest/scim_ingest.h"

static char *part(const uint8_t **p, const uint8_t *end)
{
        const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
        size_t n = (size_t)((nl ? nl : end) - *p);
        char *s = malloc(n + 1);

        if (!s)
                abort();
        memcpy(s, *p, n);
        s[n] = '\0';
        *p = nl ? nl + 1 : end;
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *p = data, *end = data + size;
        char *query = part(&p, end), *ifm = part(&p, end);
        char *authz = part(&p, end), *host = part(&p, end);
        json_t *q = NULL, *v;
        const char *k, *tok;
        scim_err_t err;
        char tag[40];

        scim_err_clear(&err);
        if (scim_query_parse(query, &q, &err) == 0) {
                json_object_foreach(q, k, v)
                {
                        if (!json_is_string(v) ||
                            !scim_utf8_valid(json_string_value(v),
                                             json_string_length(v)))
                                abort();
                        for (const char *c = k; *c; c++)
                                if (isupper((unsigned char)*c))
                                        abort();
                }
                json_decref(q);
        } else if (err.status != 400 || !err.detail[0] ||
                   !scim_utf8_valid(err.detail, strlen(err.detail))) {
                abort();
        }
        (void)scim_etag_matches(ifm, (int64_t)size);
        snprintf(tag, sizeof(tag), "W/\"%lld\"", (long long)size);
        if (!scim_etag_matches(tag, (int64_t)size) ||
            !scim_etag_matches("*", (int64_t)size))
                abort();
        tok = scim_http_bearer(authz);
        if (tok && (tok < authz || tok >= authz + strlen(authz) ||
                    *tok == ' ' || !*tok))
                abort();
        if (scim_http_host_ok(host))
                for (const char *c = host; *c; c++)
                        if (!isalnum((unsigned char)*c) &&
                            !strchr(".-_~:[]", *c))
                                abort();
        free(query);
        free(ifm);
        free(authz);
        free(host);
        return 0;
}
