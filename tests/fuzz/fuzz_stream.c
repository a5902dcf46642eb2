/* fuzz_stream.c — libFuzzer target: the change stream's position parser
 * (after=, Last-Event-ID) checked against an independent reading with
 * strtoull, and its query string (after, wait, limit) through the shared
 * query parser. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_internal.h"
#include "api/stream_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);
        uint64_t got = 0;
        size_t n;
        int rc, digits;
        json_t *q = NULL;
        scim_err_t err;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        n = strlen(s); /* what a C string parser sees */
        digits = n > 0 && n <= 20;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        digits = 0;
        rc = scim_stream_parse_pos(s, &got);
        if (digits) {
                unsigned long long want;
                char *end;

                errno = 0;
                want = strtoull(s, &end, 10);
                if (errno == ERANGE ? rc != -1 : (rc != 0 || got != want))
                        abort();
        } else if (rc != -1) {
                abort();
        }
        if (scim_query_parse(s, &q, &err) == 0) {
                const char *a = json_string_value(json_object_get(q, "after"));

                if (a)
                        (void)scim_stream_parse_pos(a, &got);
                json_decref(q);
        }
        free(s);
        return 0;
}
