/*
 * limits.c — size limits of one stored resource, checked where a
 * resource's new state is built (ingest) and again by the fold (events
 * from other producers), so one tenant cannot make a resource, a read or
 * a write arbitrarily expensive for everyone.
 */
#include <stdio.h>
#include <string.h>

#include "schemas/scim_schemas.h"

/* Walks v; path names the attribute for the error. */
static int walk(const json_t *v, const char *path, int depth, scim_err_t *err)
{
        const char *k;
        json_t *x;
        size_t i;
        char sub[200];

        if (depth > SCIM_MAX_RESOURCE_DEPTH)
                return scim_err_set(err, 400, "invalidValue",
                                    "attribute '%.120s' nests deeper than %d "
                                    "levels",
                                    path, SCIM_MAX_RESOURCE_DEPTH);
        switch (json_typeof(v)) {
        case JSON_STRING:
                if (json_string_length(v) > SCIM_MAX_STRING_BYTES)
                        return scim_err_set(err, 400, "invalidValue",
                                            "attribute '%.120s' is %zu bytes; "
                                            "at most %d bytes per value",
                                            path, json_string_length(v),
                                            SCIM_MAX_STRING_BYTES);
                return 0;
        case JSON_ARRAY:
                if (json_array_size(v) > SCIM_MAX_VALUES)
                        return scim_err_set(err, 400, "invalidValue",
                                            "attribute '%.120s' has %zu "
                                            "values; at most %d",
                                            path, json_array_size(v),
                                            SCIM_MAX_VALUES);
                json_array_foreach(
                    v, i, x) if (walk(x, path, depth + 1, err)) return -1;
                return 0;
        case JSON_OBJECT:
                json_object_foreach((json_t *)v, k, x)
                {
                        snprintf(sub, sizeof(sub), "%s%s%s", path,
                                 *path ? "." : "", k);
                        if (walk(x, sub, depth + 1, err))
                                return -1;
                }
                return 0;
        default:
                return 0;
        }
}

int scim_resource_limits(const json_t *res, size_t text_len, scim_err_t *err)
{
        if (text_len > SCIM_MAX_RESOURCE_BYTES)
                return scim_err_set(err, 413, NULL,
                                    "the resource would be %zu bytes; at "
                                    "most %d bytes per resource",
                                    text_len, SCIM_MAX_RESOURCE_BYTES);
        return res ? walk(res, "", 0, err) : 0;
}
