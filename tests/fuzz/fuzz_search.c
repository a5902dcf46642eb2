/* fuzz_search.c — libFuzzer target: the SearchRequest body parser behind
 * POST .../.search; whatever it accepts must be a query object of strings. */
#include <stdint.h>
#include <stdlib.h>

#include "api/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *q = NULL, *v;
        const char *k;
        scim_err_t err;

        scim_err_clear(&err);
        if (scim_search_body_parse((const char *)data, size, &q, &err) == 0) {
                if (!json_is_object(q))
                        abort();
                json_object_foreach(q, k, v) if (!json_is_string(v)) abort();
                json_decref(q);
        } else if (err.status != 400 && err.status != 503) {
                abort();
        }
        return 0;
}
