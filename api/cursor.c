/*
 * cursor.c — RFC 9865 cursors for SCIM list pages. A cursor names the
 * last resource of the page it came from: the hex digits of its id, so it
 * is URL-safe as it stands, and the next page is a seek to the key after
 * that id (the cost of a page does not depend on how deep it is). Cursors
 * do not expire: resources created or deleted meanwhile show up or vanish
 * like in any key-ordered listing, and nothing is repeated or skipped
 * among the resources that exist throughout.
 *
 * Pure functions, any thread.
 */
#include <stdlib.h>
#include <string.h>

#include "api/http_internal.h"

char *scim_cursor_encode(const char *id)
{
        size_t n = strlen(id);
        char *out = malloc(2 * n + 1);

        if (out)
                scim_hex_encode(id, n, out);
        return out;
}

int scim_cursor_decode(const char *cursor, char *id, size_t idlen,
                       scim_err_t *err)
{
        size_t n = strlen(cursor);

        if (n == 0) { /* "cursor" without a value: the first page */
                id[0] = '\0';
                return 0;
        }
        if (n % 2 || n / 2 > SCIM_MAX_ID_LEN || n / 2 >= idlen)
                goto bad;
        /* an id never holds a NUL byte */
        if (scim_hex_decode(cursor, n / 2, (unsigned char *)id) < 0 ||
            memchr(id, '\0', n / 2))
                goto bad;
        id[n / 2] = '\0';
        return 0;
bad:
        return scim_err_set(err, 400, "invalidCursor",
                            "cursor is not one this server issued (use the "
                            "nextCursor of a previous page, or an empty "
                            "cursor for the first page)");
}
