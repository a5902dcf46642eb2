/* fuzz_jsonload.c — libFuzzer target: the fast JSON parser against
 * jansson's json_loadb(flags 0) on arbitrary bytes. Both must accept the
 * same inputs and build equal values with the same key order. The one
 * known difference: jansson skips a NUL byte right after a number or
 * literal (its lexer "ungets" the NUL and then reads past it); the fast
 * parser refuses any NUL outside strings, so for texts with a NUL byte it
 * may only be stricter.
 * The nesting-bounded parse (scim_json_load_nested, which the request-body
 * parser trusts instead of checking UTF-8 and depth again) must accept
 * exactly what the plain one accepts with containers nested at most that
 * deep, build the same value, and accept only valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

/* Deepest nesting of [ and { outside strings (ingest's too_deep). */
static int nest_of(const uint8_t *s, size_t n)
{
        int depth = 0, max = 0, in_str = 0;

        for (size_t i = 0; i < n; i++) {
                if (in_str) {
                        if (s[i] == '\\')
                                i++;
                        else if (s[i] == '"')
                                in_str = 0;
                } else if (s[i] == '"') {
                        in_str = 1;
                } else if (s[i] == '[' || s[i] == '{') {
                        if (++depth > max)
                                max = depth;
                } else if (s[i] == ']' || s[i] == '}') {
                        depth--;
                }
        }
        return max;
}

static void check_nested(const uint8_t *data, size_t size, const json_t *plain)
{
        const int lim = 3 + (int)(size % 4) * 10; /* 3, 13, 23, 33 */
        json_t *b = scim_json_load_nested((const char *)data, size, lim);
        int fits = plain && nest_of(data, size) <= lim;

        if (!b != !fits)
                abort();
        if (b && (!json_equal(b, plain) ||
                  !scim_utf8_valid((const char *)data, size)))
                abort();
        json_decref(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_error_t e;
        json_t *want = json_loadb((const char *)data, size, 0, &e);
        json_t *got = scim_json_load((const char *)data, size);

        check_nested(data, size, got);

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
