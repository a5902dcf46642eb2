/*
 * patch.c — the PATCH engine (RFC 7644 §3.5.2 as Entra and Okta speak it):
 * pure functions from (current resource, PatchOp body) to a new resource,
 * or, for groups, new attributes plus a membership delta.
 *
 * Liberal in what it accepts (any-case ops, "True"/"False" strings,
 * path-less ops with dotted and URN keys, value-filter upserts, manager in
 * three shapes), strict in what it produces (canonical names, values
 * normalised through the schema). Reentrant; runs on http pool threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/scim_ingest.h"

typedef enum { P_ADD, P_REPLACE, P_REMOVE } pop_t;

/* The tenant's extensions for the PATCH running on this thread, URN ->
 * multi-valued attribute names (set by scim_patch_set_extensions; NULL:
 * the built-in ones only). */
static __thread const json_t *tl_exts;

void scim_patch_set_extensions(const json_t *urns) { tl_exts = urns; }

/* A tenant type's core attributes for the PATCH running on this thread. */
static __thread const json_t *tl_core;

void scim_patch_set_core(const json_t *attrs) { tl_core = attrs; }

/* The tenant type's attribute that a bare top-level name names (any
 * case): its entry {"name", "multi"}, or NULL. */
static const json_t *core_attr(const char *name)
{
        size_t i;
        json_t *a;

        json_array_foreach(tl_core, i, a) if (scim_strcaseeq(
            json_string_value(json_object_get(a, "name")), name)) return a;
        return NULL;
}

/* The canonical spelling of an extension URN that a whole PATCH path
 * names: a built-in extension of rt, one of the tenant's, or a block the
 * resource already holds. NULL when the path is not a schema URN. */
static const char *ext_block_urn(scim_rtype_t rt, const json_t *res,
                                 const char *path)
{
        const char *c = scim_schema_extension(rt, path), *k;
        json_t *v;

        if (c)
                return c;
        json_object_foreach((json_t *)tl_exts, k,
                            v) if (scim_strcaseeq(k, path)) return k;
        json_object_foreach((json_t *)res, k, v) if (
            json_is_object(v) && !strncasecmp(k, "urn:", 4) &&
            scim_strcaseeq(k, path)) return k;
        return NULL;
}

/* Deletes every key equal to k in any case. */
static void del_ci(json_t *o, const char *k)
{
        const char *key;
        json_t *v;
        void *tmp;

        json_object_foreach_safe(o, tmp, key, v) if (scim_strcaseeq(key, k))
            json_object_del(o, key);
}

static int is_empty_value(const json_t *v)
{
        return !v || json_is_null(v) ||
               (json_is_string(v) && json_string_length(v) == 0);
}

static int parse_ops(const json_t *patch, json_t **ops, scim_err_t *err)
{
        json_t *o = scim_json_get_ci((json_t *)patch, "Operations");

        if (!json_is_array(o) || json_array_size(o) == 0)
                return scim_err_set(err, 400, "invalidValue",
                                    "PatchOp needs a non-empty Operations "
                                    "array");
        if (json_array_size(o) > SCIM_MAX_PATCH_OPS)
                return scim_err_set(err, 400, "tooMany",
                                    "more than %d PATCH operations",
                                    SCIM_MAX_PATCH_OPS);
        *ops = o;
        return 0;
}

static int op_kind(const json_t *op, pop_t *k, scim_err_t *err)
{
        const char *s = json_string_value(scim_json_get_ci((json_t *)op, "op"));

        if (!json_is_object(op))
                return scim_err_set(err, 400, "invalidSyntax",
                                    "each operation must be an object");
        if (s && scim_strcaseeq(s, "add"))
                *k = P_ADD;
        else if (s && scim_strcaseeq(s, "replace"))
                *k = P_REPLACE;
        else if (s && scim_strcaseeq(s, "remove"))
                *k = P_REMOVE;
        else
                return scim_err_set(err, 400, "invalidSyntax",
                                    "unknown PATCH op '%.64s' (add, replace "
                                    "or remove)",
                                    s ? s : "(missing)");
        return 0;
}

/* Reads one operation: kind, path (NULL when absent or ""), value. */
static int read_op(const json_t *op, pop_t *k, const char **path,
                   json_t **value, scim_err_t *err)
{
        if (op_kind(op, k, err) < 0)
                return -1;
        *path = json_string_value(scim_json_get_ci(op, "path"));
        *value = scim_json_get_ci(op, "value");
        if (*path && !**path)
                *path = NULL;
        if (!*path && *k == P_REMOVE)
                return scim_err_set(err, 400, "noTarget",
                                    "remove needs a path");
        if (!*value && *k != P_REMOVE)
                /* RFC 7644 3.5.2.1/3.5.2.3: add and replace carry a
                 * value; without one they removed the attribute */
                return scim_err_set(err, 400, "invalidSyntax",
                                    "%s needs a \"value\"",
                                    *k == P_ADD ? "add" : "replace");
        return 0;
}

/* Type-unique append: elements with a "type" replace the same type. */
static void append_typed(json_t *arr, json_t *elems)
{
        size_t i, j;
        json_t *e, *x;

        json_array_foreach(elems, i, e)
        {
                const char *t = json_string_value(json_object_get(e, "type"));
                int done = 0;

                if (t)
                        json_array_foreach(arr, j, x)
                        {
                                const char *xt = json_string_value(
                                    json_object_get(x, "type"));

                                if (xt && !strcmp(xt, t)) {
                                        json_array_set(arr, j, e);
                                        done = 1;
                                        break;
                                }
                        }
                if (!done)
                        json_array_append(arr, e);
        }
}

/* 1 when attr of the tenant's extension urn is multi-valued. */
static int ext_multi(const char *urn, const char *attr)
{
        const char *k;
        json_t *names, *n;
        size_t i;

        json_object_foreach((json_t *)tl_exts, k, names)
        {
                if (!scim_strcaseeq(k, urn))
                        continue;
                json_array_foreach(
                    names, i,
                    n) if (scim_strcaseeq(json_string_value(n), attr)) return 1;
        }
        return 0;
}

/* `add` to a multi-valued attribute of a tenant's extension: the values
 * (an array, or one value) not already in arr are appended; an element
 * whose "type" an existing one has replaces it (as for core ones). */
static void append_new(json_t *arr, json_t *values)
{
        json_t *one = json_is_array(values) ? NULL : json_pack("[O]", values);
        json_t *vs = one ? one : values, *e, *x;
        size_t i, j;
        int dup;

        json_array_foreach(vs, i, e)
        {
                dup = 0;
                json_array_foreach(arr, j, x) if (json_equal(x, e)) dup = 1;
                if (!dup) {
                        json_t *single = json_pack("[O]", e);

                        append_typed(arr, single);
                        json_decref(single);
                }
        }
        json_decref(one);
}

/* Applies one op at a path string to res (users and group attributes). */
static int apply_path(scim_rtype_t rt, json_t *res, const char *pathstr,
                      pop_t op, const json_t *value, int pathless,
                      scim_err_t *err)
{
        scim_path_t *p = NULL;
        json_t *container, *nv = NULL, *cur;
        int rc = -1;

        if (!strncasecmp(pathstr, "urn:", 4)) {
                /* the path is a whole extension: add/replace merge into
                 * its block, remove drops it */
                const char *urn = ext_block_urn(rt, res, pathstr);

                if (urn) {
                        char *u = strdup(urn), full[600];
                        const char *k;
                        json_t *v;

                        if (!u)
                                return scim_err_set_retry(err, 503,
                                                          "out of memory");
                        if (op == P_REMOVE) {
                                del_ci(res, u);
                                free(u);
                                return 0;
                        }
                        if (!json_is_object(value)) {
                                free(u);
                                return scim_err_set(
                                    err, 400, "invalidValue",
                                    "a PATCH of extension %.300s takes an "
                                    "object of its attributes",
                                    pathstr);
                        }
                        json_object_foreach((json_t *)value, k, v)
                        {
                                size_t ul = strlen(u);

                                if (strncasecmp(k, "urn:", 4)) {
                                        snprintf(full, sizeof(full), "%s:%s", u,
                                                 k);
                                } else if (!strncasecmp(k, u, ul) &&
                                           k[ul] == ':') {
                                        /* the attribute's full path */
                                        snprintf(full, sizeof(full), "%s", k);
                                } else {
                                        scim_err_set(
                                            err, 400, "invalidPath",
                                            "PATCH of extension %.200s: key "
                                            "'%.200s' names another schema",
                                            u, k);
                                        free(u);
                                        return -1;
                                }
                                if (apply_path(rt, res, full, op, v, 1, err) <
                                    0) {
                                        free(u);
                                        return -1;
                                }
                        }
                        free(u);
                        return 0;
                }
        }
        if (scim_path_parse(rt, pathstr, &p, err) < 0)
                return -1;
        if (!p->attr_def && !p->urn && tl_core && core_attr(p->attr)) {
                /* an attribute of a tenant type: the model checks the
                 * value (scim_model_enforce); stored under its spelling */
                const json_t *ca = core_attr(p->attr);
                const char *canon = json_string_value(json_object_get(ca, "name"));
                int multi = json_is_true(json_object_get(ca, "multi"));

                cur = scim_json_get_ci(res, canon);
                if (p->filter || p->sub) {
                        scim_err_set(err, 400, "invalidPath",
                                     "PATCH path '%.200s': attributes of "
                                     "this resource type take whole values",
                                     pathstr);
                        goto out;
                }
                if (op == P_REMOVE || is_empty_value(value) ||
                    (json_is_array(value) && json_array_size(value) == 0)) {
                        del_ci(res, canon);
                } else if (op == P_ADD && multi && json_is_array(cur)) {
                        if (json_is_array(value))
                                json_array_extend(cur, (json_t *)value);
                        else
                                json_array_append(cur, (json_t *)value);
                } else {
                        del_ci(res, canon);
                        json_object_set_new(
                            res, canon,
                            multi && !json_is_array(value)
                                ? json_pack("[O]", value)
                                : json_deep_copy(value));
                }
                rc = 0;
                goto out;
        }
        if (!p->attr_def && !p->urn) {
                /* an attribute the schema does not have: a path names it,
                 * so the whole PATCH is refused (nothing of it applied); a
                 * key of a path-less value is dropped like on create */
                if (pathless) {
                        rc = 0;
                        goto out;
                }
                scim_err_set(err, 400, "invalidPath",
                             "PATCH path '%.200s': no such attribute",
                             pathstr);
                goto out;
        }
        if (p->attr_def && p->sub && !p->sub_def) {
                /* a sub-attribute the schema does not have (emails.nosuch,
                 * emails[type eq "work"].value.x): refused like an unknown
                 * attribute, never applied as an empty value (which
                 * dropped every email) */
                if (pathless) {
                        rc = 0;
                        goto out;
                }
                scim_err_set(err, 400, "invalidPath",
                             "PATCH path '%.200s': '%s' has no "
                             "sub-attribute '%.64s'",
                             pathstr, p->attr, p->sub);
                goto out;
        }
        if (p->attr_def && scim_attr_read_only(p->attr_def)) {
                if (!strcmp(p->attr, "id") && json_is_string(value) &&
                    json_equal(scim_json_get_ci(res, "id"), value)) {
                        rc = 0;
                        goto out;
                }
                scim_err_set(err, 400, "mutability",
                             "attribute '%s' is read-only", p->attr);
                goto out;
        }
        if (rt == SCIM_RT_USER && !p->urn && !strcmp(p->attr, "userName") &&
            !p->sub && (op == P_REMOVE || is_empty_value(value))) {
                scim_err_set(err, 400, "mutability",
                             "userName is required and cannot be removed");
                goto out;
        }
        container = res;
        if (p->urn) {
                container = scim_json_get_ci(res, p->urn);
                if (!json_is_object(container)) {
                        if (op == P_REMOVE) {
                                rc = 0;
                                goto out;
                        }
                        container = json_object();
                        json_object_set_new(res, p->urn, container);
                }
        }
        cur = scim_json_get_ci(container, p->attr);
        if (p->filter) {
                json_t *arr = cur, *e, *created = NULL;
                size_t i;
                int matched = 0;

                if (op == P_REMOVE) {
                        if (!json_is_array(arr)) {
                                rc = 0;
                                goto out;
                        }
                        for (i = json_array_size(arr); i-- > 0;) {
                                e = json_array_get(arr, i);
                                if (!scim_filter_match_element(p->filter, e))
                                        continue;
                                if (p->sub)
                                        del_ci(e, p->sub);
                                else
                                        json_array_remove(arr, i);
                        }
                        rc = 0;
                        goto out;
                }
                if (p->sub) {
                        if (scim_value_normalize(rt, p->sub_def, value, &nv,
                                                 err) < 0)
                                goto out;
                } else if (!json_is_object(value)) {
                        scim_err_set(err, 400, "invalidValue",
                                     "a value filter path without a "
                                     "sub-attribute needs an object value");
                        goto out;
                }
                if (!json_is_array(arr)) {
                        arr = json_array();
                        json_object_set_new(container, p->attr, arr);
                }
                json_array_foreach(arr, i, e)
                {
                        if (!scim_filter_match_element(p->filter, e))
                                continue;
                        matched = 1;
                        if (p->sub) {
                                if (nv)
                                        json_object_set(e, p->sub, nv);
                                else
                                        del_ci(e, p->sub);
                        } else {
                                json_object_update(e, (json_t *)value);
                        }
                }
                if (!matched && (nv || !p->sub)) {
                        created = scim_filter_eq_object(p->filter);
                        if (!created) {
                                scim_err_set(err, 400, "noTarget",
                                             "no element matches %.200s and "
                                             "the filter does not say how to "
                                             "create one",
                                             pathstr);
                                goto out;
                        }
                        if (p->sub)
                                json_object_set(created, p->sub, nv);
                        else
                                json_object_update(created, (json_t *)value);
                        json_array_append_new(arr, created);
                }
                rc = 0;
                goto out;
        }
        if (p->sub) {
                if (op == P_REMOVE) {
                        if (json_is_array(cur)) {
                                size_t i;
                                json_t *e;

                                json_array_foreach(cur, i, e) del_ci(e, p->sub);
                        } else if (json_is_object(cur)) {
                                del_ci(cur, p->sub);
                        }
                        rc = 0;
                        goto out;
                }
                if (p->attr_def && scim_attr_multi(p->attr_def)) {
                        /* add/replace of a sub-attribute of every element
                         * (RFC 7644 3.5.2.1/3.5.2.3 define no target for
                         * it): refused, where it replaced the whole list
                         * by one object (every email lost) */
                        scim_err_set(err, 400, "invalidPath",
                                     "PATCH path '%.200s': '%s' is "
                                     "multi-valued; name the element with a "
                                     "filter (%s[type eq \"work\"].%s) or "
                                     "%s whole elements with path '%s'",
                                     pathstr, p->attr, p->attr, p->sub,
                                     op == P_ADD ? "add" : "replace", p->attr);
                        goto out;
                }
                if (scim_value_normalize(rt, p->sub_def, value, &nv, err) < 0)
                        goto out;
                if (!json_is_object(cur)) {
                        if (!nv) {
                                rc = 0;
                                goto out;
                        }
                        cur = json_object();
                        json_object_set_new(container, p->attr, cur);
                }
                if (nv)
                        json_object_set(cur, p->sub, nv);
                else
                        del_ci(cur, p->sub);
                rc = 0;
                goto out;
        }
        if (op == P_REMOVE) {
                if (value && json_is_array(cur) && json_is_array(value)) {
                        /* remove only the listed elements */
                        size_t i, j;
                        json_t *e, *x;

                        json_array_foreach(value, j, x)
                        {
                                for (i = json_array_size(cur); i-- > 0;) {
                                        e = json_array_get(cur, i);
                                        if (json_equal(e, x) ||
                                            json_equal(scim_json_get_ci(e, "value"),
                                                       scim_json_get_ci(x, "value")))
                                                json_array_remove(cur, i);
                                }
                        }
                } else {
                        del_ci(container, p->attr);
                }
                rc = 0;
                goto out;
        }
        if (scim_value_normalize(rt, p->attr_def, value, &nv, err) < 0)
                goto out;
        if (!nv) {
                del_ci(container, p->attr);
        } else if (op == P_ADD && p->attr_def && scim_attr_multi(p->attr_def) &&
                   json_is_array(cur)) {
                append_typed(cur, nv);
        } else if (op == P_ADD && !p->attr_def && p->urn && !p->filter &&
                   !p->sub && json_is_array(cur) &&
                   ext_multi(p->urn, p->attr)) {
                append_new(cur, nv);
        } else if (!p->attr_def && json_is_object(nv) && json_is_object(cur) &&
                   pathless) {
                json_object_update(cur, nv);
        } else {
                del_ci(container, p->attr);
                json_object_set(container, p->attr, nv);
        }
        rc = 0;
out:
        json_decref(nv);
        scim_path_free(p);
        return rc;
}

/* A path-less add/replace: every key of the value object is a path. */
static int apply_pathless(scim_rtype_t rt, json_t *res, pop_t op,
                          const json_t *value, scim_err_t *err)
{
        const char *k;
        json_t *v;

        if (!json_is_object(value))
                return scim_err_set(err, 400, "invalidValue",
                                    "an operation without path needs an "
                                    "object value");
        json_object_foreach((json_t *)value, k, v)
        {
                int is_block = strncasecmp(k, "urn:", 4) == 0 &&
                               json_is_object(v) &&
                               (scim_schema_extension(rt, k) ||
                                !scim_schema_attr(rt, NULL, k));

                if (is_block && scim_schema_extension(rt, k)) {
                        const char *k2;
                        json_t *v2;

                        json_object_foreach(v, k2, v2)
                        {
                                char full[512];

                                snprintf(full, sizeof(full), "%s:%s",
                                         scim_schema_extension(rt, k), k2);
                                if (apply_path(rt, res, full, P_REPLACE, v2, 1,
                                               err) < 0)
                                        return -1;
                        }
                        continue;
                }
                if (is_block) {
                        json_t *blk = scim_json_get_ci(res, k);

                        if (json_is_object(blk))
                                json_object_update(blk, v);
                        else
                                json_object_set_new(res, k, json_deep_copy(v));
                        continue;
                }
                /* path-less add of a single-valued attribute = replace */
                if (apply_path(rt, res, k, op, v, 1, err) < 0)
                        return -1;
        }
        return 0;
}

/* ---------------------------------------------------------- primary */

/* An element of a multi-valued attribute marked primary (true, or the
 * string "True" as Entra sends booleans; any case of the key). */
static int is_primary(const json_t *e)
{
        const json_t *p = scim_json_get_ci(e, "primary");

        return json_is_true(p) ||
               (json_is_string(p) && !strcasecmp(json_string_value(p), "true"));
}

/* Calls fn for every multi-valued attribute of res (top level and in
 * extension blocks). */
static void each_array(json_t *res, void (*fn)(void *ctx, json_t *arr),
                       void *ctx)
{
        const char *k, *k2;
        json_t *v, *v2;

        json_object_foreach(res, k, v)
        {
                if (json_is_array(v))
                        fn(ctx, v);
                else if (json_is_object(v) && !strncasecmp(k, "urn:", 4))
                        json_object_foreach(v, k2, v2) if (json_is_array(v2))
                            fn(ctx, v2);
        }
}

/* The elements marked primary before a PATCH (by identity: an element
 * the PATCH leaves or edits in place keeps its json_t). */
typedef struct primaries {
        const json_t **e;
        size_t n, cap;
} primaries_t;

static void primaries_note(void *ctx, json_t *arr)
{
        primaries_t *pr = ctx;
        size_t i;
        json_t *e;

        json_array_foreach(arr, i, e)
        {
                if (!is_primary(e))
                        continue;
                if (pr->n == pr->cap) {
                        size_t cap = pr->cap ? 2 * pr->cap : 8;
                        const json_t **ne = realloc(pr->e, cap * sizeof(*ne));

                        if (!ne)
                                return; /* fewer known: newer ones win */
                        pr->e = ne;
                        pr->cap = cap;
                }
                pr->e[pr->n++] = e;
        }
}

/* RFC 7644 3.5.2: a PATCH that sets a value's primary to true sets it
 * false on the others (RFC 7643 2.4: true at most once). Of several
 * primaries the last one this PATCH marked wins, else (stored before)
 * the first. */
static void primaries_settle(void *ctx, json_t *arr)
{
        const primaries_t *pr = ctx;
        json_t *e, *win = NULL, *first = NULL;
        size_t i, j;

        json_array_foreach(arr, i, e)
        {
                int old = 0;

                if (!is_primary(e))
                        continue;
                if (!first)
                        first = e;
                for (j = 0; j < pr->n; j++)
                        old |= pr->e[j] == e;
                if (!old)
                        win = e;
        }
        if (!win)
                win = first;
        json_array_foreach(arr, i, e) if (e != win && is_primary(e))
        {
                del_ci(e, "primary");
                json_object_set_new(e, "primary", json_false());
        }
}

int scim_patch_user(const json_t *current, const json_t *patch, json_t **out,
                    scim_err_t *err)
{
        return scim_patch_resource(SCIM_RT_USER, current, patch, out, err);
}

int scim_patch_resource(scim_rtype_t rt, const json_t *current,
                        const json_t *patch, json_t **out, scim_err_t *err)
{
        json_t *ops, *op, *res;
        primaries_t before = {0};
        size_t i;

        *out = NULL;
        if (parse_ops(patch, &ops, err) < 0)
                return -1;
        res = json_deep_copy(current);
        if (!res)
                return scim_err_set_retry(err, 503, "out of memory");
        if (json_is_object(res))
                each_array(res, primaries_note, &before);
        json_array_foreach(ops, i, op)
        {
                pop_t k;
                const char *path;
                json_t *value;

                if (read_op(op, &k, &path, &value, err) < 0)
                        goto fail;
                if (!path) {
                        if (apply_pathless(rt, res, k, value, err) < 0)
                                goto fail;
                } else if (apply_path(rt, res, path, k, value, 0, err) < 0) {
                        goto fail;
                }
        }
        if (json_is_object(res))
                each_array(res, primaries_settle, &before);
        free(before.e);
        *out = res;
        return 0;
fail:
        free(before.e);
        json_decref(res);
        return -1;
}

/* ------------------------------------------------------------ groups */

typedef struct delta {
        int replace;
        json_t *added;   /* array of {"value","display"?} */
        json_t *removed; /* array of strings */
} delta_t;

static void drop_id(json_t *arr, const char *id, int objects)
{
        for (size_t i = json_array_size(arr); i-- > 0;) {
                json_t *e = json_array_get(arr, i);
                const char *v = objects
                                    ? json_string_value(json_object_get(e, "value"))
                                    : json_string_value(e);

                if (v && !strcmp(v, id))
                        json_array_remove(arr, i);
        }
}

static void delta_add(delta_t *d, json_t *m)
{
        const char *id = json_string_value(json_object_get(m, "value"));

        drop_id(d->removed, id, 0);
        drop_id(d->added, id, 1);
        json_array_append(d->added, m);
}

static void delta_remove(delta_t *d, const char *id)
{
        drop_id(d->added, id, 1);
        drop_id(d->removed, id, 0);
        json_array_append_new(d->removed, json_string(id));
}

static void delta_remove_all(delta_t *d)
{
        d->replace = 1;
        json_array_clear(d->added);
        json_array_clear(d->removed);
}

/* Reads a member list in any of the shapes clients send. */
static int member_list(const json_t *value, json_t **out, scim_err_t *err)
{
        json_t *wrap = json_object(), *norm = NULL, *members = NULL;
        int rc;

        json_object_set_new(wrap, "displayName", json_string("x"));
        json_object_set(wrap, "members", (json_t *)value);
        rc = scim_resource_normalize(SCIM_RT_GROUP, wrap, &norm, &members, err);
        json_decref(wrap);
        json_decref(norm);
        if (rc < 0)
                return -1;
        *out = members ? members : json_array();
        return 0;
}

static int members_op(delta_t *d, pop_t k, const json_t *value,
                      const scim_path_t *p, scim_err_t *err)
{
        json_t *list = NULL, *m;
        size_t i;

        if (p && p->filter) {
                json_t *eq = scim_filter_eq_object(p->filter);
                const char *id = json_string_value(json_object_get(eq, "value"));

                if (k != P_REMOVE || !id) {
                        json_decref(eq);
                        return scim_err_set(err, 400, "invalidPath",
                                            "members[...] paths support only "
                                            "remove with value eq \"id\"");
                }
                delta_remove(d, id);
                json_decref(eq);
                return 0;
        }
        if (k == P_REMOVE && is_empty_value(value)) {
                delta_remove_all(d);
                return 0;
        }
        if (is_empty_value(value)) {
                if (k == P_REPLACE)
                        delta_remove_all(d);
                return 0;
        }
        if (member_list(value, &list, err) < 0)
                return -1;
        if (k == P_REPLACE)
                delta_remove_all(d);
        json_array_foreach(list, i, m)
        {
                if (k == P_REMOVE)
                        delta_remove(d, json_string_value(
                                            json_object_get(m, "value")));
                else
                        delta_add(d, m);
        }
        json_decref(list);
        return 0;
}

int scim_patch_group(const json_t *current_attrs, const json_t *patch,
                     json_t **attrs_out, int *replace, json_t **removed,
                     json_t **added, scim_err_t *err)
{
        json_t *ops, *op, *attrs = json_deep_copy(current_attrs);
        delta_t d = {0, json_array(), json_array()};
        size_t i;
        int changed = 0;

        *attrs_out = *removed = *added = NULL;
        *replace = 0;
        if (parse_ops(patch, &ops, err) < 0)
                goto fail;
        json_array_foreach(ops, i, op)
        {
                pop_t k;
                const char *path;
                json_t *value;

                if (read_op(op, &k, &path, &value, err) < 0)
                        goto fail;
                if (!path) {
                        const char *key;
                        json_t *v;

                        if (!json_is_object(value)) {
                                scim_err_set(err, 400, "invalidValue",
                                             "an operation without path "
                                             "needs an object value");
                                goto fail;
                        }
                        json_object_foreach(value, key, v)
                        {
                                if (scim_strcaseeq(key, "members")) {
                                        if (members_op(&d, k, v, NULL, err) < 0)
                                                goto fail;
                                        continue;
                                }
                                if (apply_path(SCIM_RT_GROUP, attrs, key, k, v,
                                               1, err) < 0)
                                        goto fail;
                                changed = 1;
                        }
                        continue;
                }
                {
                        scim_path_t *p = NULL;
                        int is_members, rc;

                        if (scim_path_parse(SCIM_RT_GROUP, path, &p, err) < 0)
                                goto fail;
                        is_members = !p->urn && !strcmp(p->attr, "members") &&
                                     !p->sub;
                        rc = is_members ? members_op(&d, k, value, p, err)
                                        : 0;
                        scim_path_free(p);
                        if (rc < 0)
                                goto fail;
                        if (is_members)
                                continue;
                }
                if (apply_path(SCIM_RT_GROUP, attrs, path, k, value, 0, err) < 0)
                        goto fail;
                changed = 1;
        }
        if (json_array_size(d.added) + json_array_size(d.removed) >
            SCIM_MAX_MEMBERS_PER_REQUEST) {
                scim_err_set(err, 400, "tooMany",
                             "more than %d member changes in one request",
                             SCIM_MAX_MEMBERS_PER_REQUEST);
                goto fail;
        }
        if (changed)
                *attrs_out = attrs;
        else
                json_decref(attrs);
        *replace = d.replace;
        *removed = d.removed;
        *added = d.added;
        return 0;
fail:
        json_decref(attrs);
        json_decref(d.added);
        json_decref(d.removed);
        return -1;
}
