/*
 * stored_text.c — a resource's stored form (schemas, id, attributes, meta
 * last), as a jansson tree (fold_build_stored) or printed straight from
 * the event's attributes (fold_print_stored, issue 13 item 1).
 *
 * Why two: the live fold hands the stored tree to the HTTP answer, so it
 * builds it and prints it. Replay drops every verdict right after its
 * event; building the tree there (a new object, its meta object, ~15
 * jansson hash inserts) was ~17% of the fold's cycles for a user PATCH.
 * fold_print_stored writes the bytes scim_json_dump writes of the tree
 * fold_build_stored builds from the same arguments, member by member from
 * attrs, or returns NULL where it cannot promise that (a string jansson
 * would refuse, a value nested near the writer's depth limit, a `created`
 * that is not a string): the caller then builds the tree as before. Unit
 * 0500 compares both on tricky resources; replay's digest (units 0560,
 * 0600, e2e 0740, 0745) compares the whole views.
 *
 * Threads: reentrant, no shared state.
 */
#include <stdlib.h>
#include <string.h>

#include "projector/changes_internal.h"
#include "projector/projector_internal.h"

/* W/"<version>" as snprintf("W/\"%lld\"") wrote it. */
static void version_text(char out[32], int64_t version)
{
        size_t n = changes_int_text(out + 3, (json_int_t)version);

        out[0] = 'W';
        out[1] = '/';
        out[2] = '"';
        out[3 + n] = '"';
        out[4 + n] = '\0';
}

/* The attributes the stored form takes from the event under its own
 * rules (schemas, id, meta) or never (members: rows of their own). */
/* Appends the literal l (its length known at compile time). */
#define PUT_LIT(b, l) scim_buf_append((b), (l), sizeof(l) - 1)

json_t *fold_build_stored(const json_t *attrs, const char *id,
                          const scim_rtype_row_t *row, const json_t *old,
                          int64_t time_ms, int64_t version)
{
        json_t *o = json_object(), *meta, *schemas;
        const char *k;
        json_t *v;
        char ts[32], ver[32];

        schemas = json_object_get(attrs, "schemas");
        if (json_is_array(schemas))
                json_object_set(o, "schemas", schemas);
        else
                json_object_set_new(o, "schemas",
                                    json_pack("[s]", row->schema));
        json_object_set_new(o, "id", json_string(id));
        json_object_foreach((json_t *)attrs, k, v)
        {
                if (changes_attr_skipped(k))
                        continue;
                json_object_set(o, k, v);
        }
        changes_time_text(time_ms, ts);
        version_text(ver, version);
        meta = json_object();
        json_object_set_new(meta, "resourceType", json_string(row->name));
        if (old && json_object_get(json_object_get(old, "meta"), "created"))
                json_object_set(meta, "created",
                                json_object_get(json_object_get(old, "meta"),
                                                "created"));
        else
                json_object_set_new(meta, "created", json_string(ts));
        json_object_set_new(meta, "lastModified", json_string(ts));
        json_object_set_new(meta, "version", json_string(ver));
        json_object_set_new(o, "meta", meta);
        return o;
}

/* How deep v nests: the depth of its deepest value below it (a scalar
 * or an empty container 0, [1] 1, ...), counted up to cap. */
static int nest_depth(const json_t *v, int cap)
{
        int d = 0;
        size_t i;
        const char *k;
        json_t *x;

        if (cap <= 0)
                return 0;
        if (json_is_object(v)) {
                json_object_foreach((json_t *)v, k, x)
                {
                        int e = 1 + nest_depth(x, cap - 1);

                        if (e > d)
                                d = e;
                }
        } else if (json_is_array(v)) {
                json_array_foreach(v, i, x)
                {
                        int e = 1 + nest_depth(x, cap - 1);

                        if (e > d)
                                d = e;
                }
        }
        return d;
}

/* scim_json_dump's writer refuses a value deeper than 128 below the top
 * object; a member value of the stored form sits at depth `at` (1)
 * there, at 0 when dumped alone: a value nesting to the limit would print
 * alone and not in the tree. It takes a bracket pair per level, so only a
 * value printed in at least 2 * (128 - at) bytes has its depth counted. */
#define STORED_DUMP_DEPTH 128

static int put_value_at(scim_buf_t *b, const json_t *v, int at)
{
        size_t mark = b->len;

        if (scim_json_dump(v, b) < 0)
                return -1;
        if (b->len - mark >= 2 * (size_t)(STORED_DUMP_DEPTH - at) &&
            nest_depth(v, STORED_DUMP_DEPTH + 1) + at > STORED_DUMP_DEPTH)
                return -1;
        return 0;
}

/* `"s"` (n bytes) as scim_json_dump writes json_stringn(s, n) or the
 * key s; -1 when jansson would refuse s (not UTF-8). */
static int put_strn(scim_buf_t *b, const char *s, size_t n)
{
        return changes_json_str(b, s, n);
}

static int put_str(scim_buf_t *b, const char *s)
{
        return put_strn(b, s, strlen(s));
}

char *fold_print_stored(const json_t *attrs, const char *id,
                        const scim_rtype_row_t *row, const json_t *old,
                        int64_t time_ms, int64_t version, size_t hint,
                        size_t *len)
{
        scim_buf_t b = {0};
        json_t *schemas = json_object_get(attrs, "schemas"), *v, *created;
        const char *k;
        char ts[32], ver[32];

        if (!json_is_object(attrs) || !id || !row || !row->name ||
            !row->schema ||
            scim_buf_reserve(&b, (hint ? hint : 768) + 256) < 0)
                goto fail;
        PUT_LIT(&b, "{\"schemas\":");
        if (json_is_array(schemas)) {
                if (put_value_at(&b, schemas, 1) < 0)
                        goto fail;
        } else {
                PUT_LIT(&b, "[");
                if (put_str(&b, row->schema) < 0)
                        goto fail;
                PUT_LIT(&b, "]");
        }
        PUT_LIT(&b, ",\"id\":");
        if (put_str(&b, id) < 0)
                goto fail;
        json_object_foreach((json_t *)attrs, k, v)
        {
                if (changes_attr_skipped(k))
                        continue;
                PUT_LIT(&b, ",");
                if (put_str(&b, k) < 0)
                        goto fail;
                PUT_LIT(&b, ":");
                if (put_value_at(&b, v, 1) < 0)
                        goto fail;
        }
        changes_time_text(time_ms, ts);
        version_text(ver, version);
        PUT_LIT(&b, ",\"meta\":{\"resourceType\":");
        if (put_str(&b, row->name) < 0)
                goto fail;
        PUT_LIT(&b, ",\"created\":");
        created = old ? json_object_get(json_object_get(old, "meta"),
                                        "created")
                      : NULL;
        if (created && !json_is_string(created))
                goto fail; /* never written so: the tree decides */
        if (created ? put_strn(&b, json_string_value(created),
                               json_string_length(created)) < 0
                    : put_str(&b, ts) < 0)
                goto fail;
        PUT_LIT(&b, ",\"lastModified\":");
        put_str(&b, ts);
        PUT_LIT(&b, ",\"version\":");
        put_str(&b, ver);
        PUT_LIT(&b, "}}");
        if (!b.data)
                goto fail;
        *len = b.len;
        return b.data;
fail:
        scim_buf_free(&b);
        return NULL;
}
