/* fuzz_jsonload.c — libFuzzer target: the fast JSON parser against
 * jansson's json_loadb(flags 0) on arbitrary bytes. Both must accept the
 * same inputs and build equal values with the same key order. The one
 * known difference: jansson skips a NUL byte right after a number or
 * literal (its lexer "ungets" the NUL and then reads past it); the fast
 * parser refuses any NUL outside strings, so for texts with a NUL byte it
 * may only be stricter. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_error_t e;
        json_t *want = json_loadb((const char *)data, size, 0, &e);
        json_t *got = scim_json_load((const char *)data, size);

        if (!want != !got && (!want || !memchr(data, 0, size)))
                abort();
        if (!got) {
                json_decref(want);
                return 0;
        }
        if (want) {
                char *a = json_dumps(want, JSON_COMPACT);
                char *b = json_dumps(got, JSON_COMPACT);

                if (!json_equal(want, got) || !a || !b || strcmp(a, b) != 0)
                        abort();
                free(a);
                free(b);
        }
        json_decref(want);
        json_decref(got);
        return 0;
}
