/* fuzz_query_eq.c — libFuzzer target: the userName-eq fast path's
 * recogniser (api/http_query.c scim_query_username_eq). Whatever it
 * accepts, the general path must take the same way: the query string
 * parses to the one parameter `filter` holding the decoded text, which
 * the filter parser takes as an index-exact userName eq of the literal
 * the recogniser returned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        char *s = malloc(size + 1), text[512], lit[512];
        json_t *q = NULL;
        scim_filter_t *f = NULL;
        scim_err_t err;
        const char *v = NULL, *key;
        json_t *val;

        if (!ready) {
                char e[256];

                if (scim_schemas_init(e, sizeof(e)) < 0)
                        abort();
                ready = 1;
        }
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (strlen(s) == size &&
            scim_query_username_eq(s, text, sizeof(text), lit, sizeof(lit))) {
                if (scim_query_parse(s, &q, &err) != 0 || json_object_size(q) != 1)
                        abort();
                json_object_foreach(q, key, val)
                {
                        if (strcmp(key, "filter") ||
                            strcmp(json_string_value(val), text))
                                abort();
                }
                if (scim_filter_parse(SCIM_RT_USER, text, &f, &err) != 0 ||
                    scim_filter_index_hint(f, SCIM_RT_USER, &v) !=
                        SCIM_IDX_USERNAME ||
                    !v || strcmp(v, lit) ||
                    !scim_filter_index_exact(f, SCIM_RT_USER))
                        abort();
                scim_filter_free(f);
                json_decref(q);
        }
        free(s);
        return 0;
}
