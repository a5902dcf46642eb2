/*
 * limits.c — size limits of one stored resource, checked where a
 * resource's new state is built (ingest) and again by the fold (events
 * from other producers), so one tenant cannot make a resource, a read or
 * a write arbitrarily expensive for everyone.
 */
#include <stdio.h>
#include <string.h>

#include "schemas/scim_schemas.h"

/* The attribute path of a walk, one key per level, joined with "." only
 * when an error names it (joining it per member cost ~400 instructions a
 * key on every write). */
typedef struct path {
        const char *key; /* NULL at the top */
        const struct path *up;
} path_t;

/* The path as "a.b.c" in out (cap bytes, truncated as snprintf would). */
static void path_text(const path_t *p, char *out, size_t cap)
{
        const char *keys[SCIM_MAX_RESOURCE_DEPTH + 4];
        int n = 0;
        size_t o = 0;

        for (; p && p->key && n < (int)(sizeof(keys) / sizeof(keys[0]));
             p = p->up)
                keys[n++] = p->key;
        out[0] = '\0';
        while (n-- > 0 && o + 1 < cap) {
                size_t l = strlen(keys[n]);

                if (o && o + 1 < cap)
                        out[o++] = '.';
                if (l > cap - 1 - o)
                        l = cap - 1 - o;
                memcpy(out + o, keys[n], l);
                o += l;
                out[o] = '\0';
        }
}

/* Walks v; path names the attribute for the error. */
static int walk(const json_t *v, const path_t *path, int depth,
                scim_err_t *err)
{
        const char *k;
        json_t *x;
        size_t i;
        char text[200];

        if (depth > SCIM_MAX_RESOURCE_DEPTH) {
                path_text(path, text, sizeof(text));
                return scim_err_set(err, 400, "invalidValue",
                                    "attribute '%.120s' nests deeper than %d "
                                    "levels",
                                    text, SCIM_MAX_RESOURCE_DEPTH);
        }
        switch (json_typeof(v)) {
        case JSON_STRING:
                if (json_string_length(v) > SCIM_MAX_STRING_BYTES) {
                        path_text(path, text, sizeof(text));
                        return scim_err_set(err, 400, "invalidValue",
                                            "attribute '%.120s' is %zu bytes; "
                                            "at most %d bytes per value",
                                            text, json_string_length(v),
                                            SCIM_MAX_STRING_BYTES);
                }
                return 0;
        case JSON_ARRAY:
                if (json_array_size(v) > SCIM_MAX_VALUES) {
                        path_text(path, text, sizeof(text));
                        return scim_err_set(err, 400, "invalidValue",
                                            "attribute '%.120s' has %zu "
                                            "values; at most %d",
                                            text, json_array_size(v),
                                            SCIM_MAX_VALUES);
                }
                json_array_foreach(
                    v, i, x) if (walk(x, path, depth + 1, err)) return -1;
                return 0;
        case JSON_OBJECT:
                json_object_foreach((json_t *)v, k, x)
                {
                        path_t sub = {k, path};

                        if (walk(x, &sub, depth + 1, err))
                                return -1;
                }
                return 0;
        default:
                return 0;
        }
}

int scim_resource_limits(const json_t *res, size_t text_len, scim_err_t *err)
{
        path_t top = {NULL, NULL};

        if (text_len > SCIM_MAX_RESOURCE_BYTES)
                return scim_err_set(err, 413, NULL,
                                    "the resource would be %zu bytes; at "
                                    "most %d bytes per resource",
                                    text_len, SCIM_MAX_RESOURCE_BYTES);
        return res ? walk(res, &top, 0, err) : 0;
}
