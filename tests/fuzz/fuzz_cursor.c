/* fuzz_cursor.c — libFuzzer target: RFC 9865 list cursors (api/cursor.c).
 * Whatever decodes must be an id without NUL that encodes back to the same
 * cursor (lower-cased); everything else is a 400 invalidCursor. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *in = malloc(size + 1), id[SCIM_MAX_ID_LEN + 1], *back;
        scim_err_t err;

        if (!in)
                return 0;
        memcpy(in, data, size);
        in[size] = '\0'; /* the query parser hands over C strings */
        scim_err_clear(&err);
        if (scim_cursor_decode(in, id, sizeof(id), &err) == 0) {
                if (strlen(id) > SCIM_MAX_ID_LEN)
                        abort();
                back = scim_cursor_encode(id);
                if (!back || strcasecmp(back, in) != 0)
                        abort();
                free(back);
        } else if (err.status != 400 ||
                   strcmp(err.scim_type, "invalidCursor")) {
                abort();
        }
        free(in);
        return 0;
}
