/*
 * http_parse.c — the small parsers of request headers every API face
 * shares (SCIM, reports, stream): the bearer token of an Authorization
 * header and the Host header's syntax. Pure functions, fuzzed by
 * tests/fuzz/fuzz_http.c together with the query-string parser.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "api/http_internal.h"

const char *scim_http_bearer(const char *authorization)
{
        const char *p = authorization;

        if (!p || strncasecmp(p, "Bearer ", 7) != 0)
                return NULL;
        p += 7;
        while (*p == ' ')
                p++;
        return *p ? p : NULL;
}

int scim_http_host_ok(const char *h)
{
        size_t n = h ? strlen(h) : 0;

        if (!h)
                return 1;
        if (n == 0 || n > 255)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)h[i]) && !strchr(".-_~:[]", h[i]))
                        return 0;
        return 1;
}
