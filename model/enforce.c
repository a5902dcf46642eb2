/*
 * enforce.c — the one validator of a tenant's model. Ingest runs it on the
 * normalised resource of every write for a fast answer; the fold runs it
 * again on the event's resource as the authority (events of external
 * producers meet the same rules), so it must be deterministic: the same
 * model, resource and previous state give the same result and the same
 * output, byte for byte.
 */
#include "model/model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int model_value_check(const scim_model_t *m, const mattr_t *a,
                      const json_t *in, json_t **out, const char *path,
                      scim_err_t *err);

static int is_empty(const json_t *v)
{
        return !v || json_is_null(v) ||
               (json_is_string(v) && json_string_length(v) == 0) ||
               (json_is_array(v) && json_array_size(v) == 0) ||
               (json_is_object(v) && json_object_size(v) == 0);
}

static const char *type_word(scim_atype_t t)
{
        static const char *const w[] = {
            [SCIM_T_STRING] = "a string",     [SCIM_T_BOOLEAN] = "a boolean",
            [SCIM_T_DECIMAL] = "a number",    [SCIM_T_INTEGER] = "an integer",
            [SCIM_T_DATETIME] = "a dateTime", [SCIM_T_REFERENCE] = "a reference",
            [SCIM_T_BINARY] = "base64 text",  [SCIM_T_COMPLEX] = "an object"};
        return w[t];
}

static int in_canon(const mattr_t *a, const char *s)
{
        size_t i;
        json_t *c;

        json_array_foreach(a->canon, i, c)
        {
                const char *cv = json_string_value(c);

                if (a->case_exact ? !strcmp(cv, s) : scim_caseeq(cv, s))
                        return 1;
        }
        return 0;
}

static int is_base64(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= '0' && s[i] <= '9') || strchr("+/=-_", s[i])))
                        return 0;
        return 1;
}

/* One value of a single-valued position. New reference in *out, NULL
 * meaning "no value". */
static int check_one(const scim_model_t *m, const mattr_t *a, const json_t *v,
                     json_t **out, const char *path, scim_err_t *err)
{
        *out = NULL;
        if (is_empty(v))
                return 0;
        switch (a->type) {
        case SCIM_T_STRING:
        case SCIM_T_REFERENCE:
        case SCIM_T_BINARY:
        case SCIM_T_DATETIME: {
                const char *s = json_string_value(v);
                int64_t t;

                if (!s)
                        goto wrong;
                if (a->type == SCIM_T_DATETIME && scim_time_parse(s, &t) < 0)
                        return scim_err_set(err, 400, "invalidValue",
                                            "attribute '%.300s' must be an "
                                            "RFC 3339 dateTime",
                                            path);
                if (a->type == SCIM_T_BINARY &&
                    !is_base64(s, json_string_length(v)))
                        return scim_err_set(err, 400, "invalidValue",
                                            "attribute '%.300s' must be "
                                            "base64",
                                            path);
                if (a->canon && !in_canon(a, s))
                        return scim_err_set(err, 400, "invalidValue",
                                            "attribute '%.300s': '%.100s' is "
                                            "not one of its canonicalValues",
                                            path, s);
                if (a->catalog >= 0 &&
                    !model_catalog_has(&m->cats[a->catalog], s))
                        return scim_err_set(err, 400, "invalidValue",
                                            "attribute '%.300s': '%.100s' is "
                                            "not in catalog '%.64s'",
                                            path, s,
                                            m->cats[a->catalog].name);
                *out = json_incref((json_t *)v);
                return 0;
        }
        case SCIM_T_BOOLEAN:
                if (json_is_boolean(v)) {
                        *out = json_incref((json_t *)v);
                        return 0;
                }
                if (json_is_string(v) &&
                    (scim_strcaseeq(json_string_value(v), "true") ||
                     scim_strcaseeq(json_string_value(v), "false"))) {
                        *out = json_boolean(
                            scim_strcaseeq(json_string_value(v), "true"));
                        return 0;
                }
                goto wrong;
        case SCIM_T_INTEGER:
                if (!json_is_integer(v))
                        goto wrong;
                *out = json_incref((json_t *)v);
                return 0;
        case SCIM_T_DECIMAL:
                if (!json_is_number(v))
                        goto wrong;
                *out = json_incref((json_t *)v);
                return 0;
        case SCIM_T_COMPLEX: {
                const char *k;
                json_t *sv, *o;

                if (!json_is_object(v))
                        goto wrong;
                o = json_object();
                json_object_foreach((json_t *)v, k, sv)
                {
                        const mattr_t *s = model_attr(a->sub, a->nsub, k);
                        char sp[400];
                        json_t *nv;

                        snprintf(sp, sizeof(sp), "%s.%s", path, k);
                        if (!s) {
                                json_decref(o);
                                return scim_err_set(err, 400, "invalidValue",
                                                    "attribute '%.300s' is "
                                                    "not defined",
                                                    sp);
                        }
                        if (check_one(m, s, sv, &nv, sp, err) < 0) {
                                json_decref(o);
                                return -1;
                        }
                        if (nv)
                                json_object_set_new(o, s->name, nv);
                }
                if (json_object_size(o) == 0) {
                        json_decref(o);
                        return 0;
                }
                *out = o;
                return 0;
        }
        }
wrong:
        return scim_err_set(err, 400, "invalidValue",
                            "attribute '%.300s' must be %s", path,
                            type_word(a->type));
}

int model_value_check(const scim_model_t *m, const mattr_t *a,
                      const json_t *in, json_t **out, const char *path,
                      scim_err_t *err)
{
        size_t i;
        json_t *v, *arr;

        *out = NULL;
        if (!a->multi) {
                if (json_is_array(in)) {
                        if (json_array_size(in) > 1)
                                return scim_err_set(err, 400, "invalidValue",
                                                    "attribute '%.300s' is "
                                                    "single-valued",
                                                    path);
                        in = json_array_get(in, 0);
                }
                return check_one(m, a, in, out, path, err);
        }
        if (is_empty(in))
                return 0;
        arr = json_array();
        if (!json_is_array(in)) { /* one value for a multi-valued one */
                if (check_one(m, a, in, &v, path, err) < 0) {
                        json_decref(arr);
                        return -1;
                }
                if (v)
                        json_array_append_new(arr, v);
        } else {
                json_array_foreach(in, i, v)
                {
                        json_t *nv;

                        if (check_one(m, a, v, &nv, path, err) < 0) {
                                json_decref(arr);
                                return -1;
                        }
                        if (nv)
                                json_array_append_new(arr, nv);
                }
        }
        if (json_array_size(arr) == 0) {
                json_decref(arr);
                return 0;
        }
        *out = arr;
        return 0;
}

static int unknown(const mrtype_t *row, json_t *dropped, const char *path,
                   scim_err_t *err)
{
        if (row->unknown == UNKNOWN_REFUSE)
                return scim_err_set(err, 400, "invalidValue",
                                    "attribute '%.300s' is not defined for "
                                    "this tenant",
                                    path);
        if (row->unknown == UNKNOWN_DROP && dropped)
                json_array_append_new(dropped, json_string(path));
        return 0;
}

/* Checks one extension block into a new block with canonical names. */
static int enforce_block(const scim_model_t *m, const mrtype_t *row,
                         const mschema_t *s, const json_t *blk,
                         const json_t *prev_blk, scim_enforce_mode_t mode,
                         json_t *dropped, json_t **out, scim_err_t *err)
{
        json_t *nb = json_object(), *v;
        const char *k;

        *out = NULL;
        /* keys spelled as the schema spells them first, so that a key a
         * PATCH wrote in another case (LABEL1) wins over the old one */
        for (int pass = 0; pass < 2; pass++)
                json_object_foreach((json_t *)blk, k, v)
                {
                        const mattr_t *a = model_attr(s->attrs, s->nattrs, k);
                        char path[400];
                        json_t *nv;

                        if (a && (strcmp(a->name, k) == 0) != (pass == 0))
                                continue;
                        snprintf(path, sizeof(path), "%s:%s", s->urn,
                                 a ? a->name : k);
                        if (!a) {
                                if (pass == 1)
                                        continue;
                                if (row->unknown == UNKNOWN_KEEP) {
                                        json_object_set(nb, k, v);
                                        continue;
                                }
                                if (unknown(row, dropped, path, err) < 0)
                                        goto fail;
                                continue;
                        }
                        if (a->mut == MUT_READONLY &&
                            mode == SCIM_ENFORCE_WRITE) {
                                /* the server's to set: input ignored, the
                                 * stored value kept */
                                json_t *pv = json_object_get(prev_blk, a->name);

                                if (pv)
                                        json_object_set(nb, a->name, pv);
                                continue;
                        }
                        if (model_value_check(m, a, v, &nv, path, err) < 0)
                                goto fail;
                        if (nv)
                                json_object_set_new(nb, a->name, nv);
                        else
                                json_object_del(nb, a->name);
                }
        if (mode == SCIM_ENFORCE_WRITE && prev_blk)
                for (size_t i = 0; i < s->nattrs; i++) {
                        const mattr_t *a = &s->attrs[i];
                        json_t *pv = json_object_get(prev_blk, a->name);

                        if (a->mut == MUT_IMMUTABLE && pv &&
                            !json_equal(pv, json_object_get(nb, a->name))) {
                                scim_err_set(err, 400, "mutability",
                                             "attribute '%.200s:%s' is "
                                             "immutable",
                                             s->urn, a->name);
                                goto fail;
                        }
                        if (a->mut == MUT_READONLY && pv &&
                            !json_object_get(nb, a->name))
                                json_object_set(nb, a->name, pv);
                }
        *out = nb;
        return 0;
fail:
        json_decref(nb);
        return -1;
}

/* The value at a path (NULL when absent). */
static json_t *path_get(json_t *res, const mpath_t *p)
{
        json_t *c = p->urn ? json_object_get(res, p->urn) : res;

        c = json_object_get(c, p->attr);
        if (c && p->sub) {
                if (json_is_array(c)) { /* any element with the sub */
                        size_t i;
                        json_t *e;

                        json_array_foreach(c, i, e) if (!is_empty(json_object_get(e, p->sub))) return json_object_get(e, p->sub);
                        return NULL;
                }
                c = json_object_get(c, p->sub);
        }
        return is_empty(c) ? NULL : c;
}

static void path_set(json_t *res, const char *urn, const char *attr,
                     json_t *v)
{
        json_t *c = res;

        if (urn) {
                c = json_object_get(res, urn);
                if (!json_is_object(c)) {
                        c = json_object();
                        json_object_set_new(res, urn, c);
                }
        }
        json_object_set(c, attr, v);
}

static int catval_str(const mcatalog_t *c, const mpath_t *p, const char *s,
                      scim_err_t *err);

static int catval(const mcatalog_t *c, const mpath_t *p, const json_t *v,
                  scim_err_t *err)
{
        const char *s = json_string_value(v);
        json_t *doc = NULL;
        int rc;

        if (!v || is_empty(v))
                return 0;
        /* Entra's AppRoleAssignmentsComplex sends a role as a JSON
         * document in a string ({"id":..,"value":"Manager",..}): its
         * "value" is what names the role */
        if (s && s[0] == '{' &&
            (doc = scim_json_load(s, strlen(s))) &&
            json_string_value(json_object_get(doc, "value")))
                s = json_string_value(json_object_get(doc, "value"));
        rc = catval_str(c, p, s, err);
        json_decref(doc);
        return rc;
}

static int catval_str(const mcatalog_t *c, const mpath_t *p, const char *s,
                      scim_err_t *err)
{
        if (!s || !model_catalog_has(c, s))
                return scim_err_set(err, 400, "invalidValue",
                                    "attribute '%s%s%s%s%s': '%.100s' is not "
                                    "in catalog '%.64s'",
                                    p->urn ? p->urn : "", p->urn ? ":" : "",
                                    p->attr, p->sub ? "." : "",
                                    p->sub ? p->sub : "", s ? s : "(not a string)",
                                    c->name);
        return 0;
}

/* Every value at path p (through arrays) must be in catalog c. */
static int check_catpath(const scim_model_t *m, json_t *res, const mpath_t *p,
                         const mcatalog_t *c, scim_err_t *err)
{
        json_t *top = json_object_get(p->urn ? json_object_get(res, p->urn)
                                             : res,
                                      p->attr);
        size_t i;
        json_t *e;

        (void)m;
        if (!top)
                return 0;
        if (!json_is_array(top))
                return catval(c, p, p->sub ? json_object_get(top, p->sub) : top,
                              err);
        json_array_foreach(top, i, e) if (catval(
            c, p, p->sub ? json_object_get(e, p->sub) : e, err) < 0) return -1;
        return 0;
}

static void rebuild_schemas(json_t *res, const char *core)
{
        json_t *s = json_array(), *v;
        const char *k;

        json_array_append_new(s, json_string(core));
        json_object_foreach(res, k, v) if (!strncasecmp(k, "urn:", 4) &&
                                           json_is_object(v))
            json_array_append_new(s, json_string(k));
        if (json_object_get(res, "schemas"))
                json_object_set_new(res, "schemas", s);
        else {
                /* schemas goes first */
                json_t *copy = json_object();

                json_object_set_new(copy, "schemas", s);
                json_object_update(copy, res);
                json_object_clear(res);
                json_object_update(res, copy);
                json_decref(copy);
        }
}

int scim_model_enforce(const scim_model_t *m, scim_rtype_t rt, json_t *res,
                       const json_t *prev, scim_enforce_mode_t mode,
                       json_t *dropped, scim_err_t *err)
{
        const mrtype_t *row;
        const char **keys = NULL;
        size_t nkeys = 0, i;
        const char *k;
        json_t *v;
        int rc = -1, r;

        if (!m || !json_is_object(res))
                return 0;
        r = model_rt_index(m, rt);
        if (r < 0)
                return scim_err_set(err, 404, NULL,
                                    "no such resource type for this tenant");
        row = &m->rt[r];
        keys = calloc(json_object_size(res) + 1, sizeof(char *));
        if (!keys)
                return scim_err_set_retry(err, 503, "out of memory");
        if (r >= RT_N && row->core >= 0) {
                /* a tenant type: its core schema's attributes are the
                 * top-level keys (not urn: blocks, schemas, externalId) */
                const mschema_t *cs = &m->schemas[row->core];
                json_t *blk = json_object(), *pblk = NULL, *nb = NULL;
                void *tmp;

                json_object_foreach(res, k, v) if (strncasecmp(k, "urn:", 4) &&
                                                   strcmp(k, "schemas") &&
                                                   strcmp(k, "externalId") &&
                                                   strcmp(k, "id") &&
                                                   strcmp(k, "meta"))
                    json_object_set(blk, k, v);
                if (prev) {
                        pblk = json_object();
                        json_object_foreach((json_t *)prev, k, v) if (
                            strncasecmp(k, "urn:", 4) && strcmp(k, "schemas") &&
                            strcmp(k, "externalId") && strcmp(k, "id") &&
                            strcmp(k, "meta")) json_object_set(pblk, k, v);
                }
                {
                        /* unknown attributes of a type of one's own: keep
                         * means drop (nowhere to keep them unvalidated) */
                        mrtype_t crow = *row;

                        if (crow.unknown == UNKNOWN_KEEP)
                                crow.unknown = UNKNOWN_DROP;
                        rc = enforce_block(m, &crow, cs, blk, pblk, mode,
                                           dropped, &nb, err);
                }
                json_decref(pblk);
                if (rc < 0) {
                        json_decref(blk);
                        rc = -1;
                        goto out;
                }
                rc = -1;
                json_object_foreach_safe(res, tmp, k, v) if (json_object_get(
                    blk, k)) json_object_del(res, k);
                json_decref(blk);
                json_object_update(res, nb);
                json_decref(nb);
                for (size_t j = 0; j < cs->nattrs; j++) {
                        if (mode == SCIM_ENFORCE_WRITE && !prev &&
                            cs->attrs[j].dflt &&
                            is_empty(json_object_get(res, cs->attrs[j].name)))
                                json_object_set(res, cs->attrs[j].name,
                                                cs->attrs[j].dflt);
                        if (cs->attrs[j].required &&
                            is_empty(json_object_get(res, cs->attrs[j].name))) {
                                scim_err_set(err, 400, "invalidValue",
                                             "attribute '%s' is required",
                                             cs->attrs[j].name);
                                goto out;
                        }
                }
        }
        json_object_foreach(res, k, v) keys[nkeys++] = k;
        for (i = 0; i < nkeys; i++) {
                const mschema_t *s;
                json_t *nb, *blk;
                char *key;

                k = keys[i];
                blk = json_object_get(res, k);
                if (strncasecmp(k, "urn:", 4) || !json_is_object(blk))
                        continue;
                if (scim_strcaseeq(k, SCIM_URN_ENTERPRISE) ||
                    scim_strcaseeq(k, SCIM_URN_USER) ||
                    scim_strcaseeq(k, SCIM_URN_GROUP))
                        continue; /* the built-in normalisation's */
                s = model_ext(m, rt, k, strlen(k));
                if (!s) {
                        if (row->unknown == UNKNOWN_KEEP)
                                continue;
                        if (unknown(row, dropped, k, err) < 0)
                                goto out;
                        keys[i] = NULL;
                        json_object_del(res, k);
                        continue;
                }
                if (enforce_block(m, row, s, blk,
                                  json_object_get(prev, s->urn), mode, dropped,
                                  &nb, err) < 0)
                        goto out;
                key = strdup(k);
                if (!key) {
                        json_decref(nb);
                        scim_err_set_retry(err, 503, "out of memory");
                        goto out;
                }
                keys[i] = NULL; /* its key string may go with the delete */
                if (strcmp(key, s->urn))
                        json_object_del(res, key);
                free(key);
                if (json_object_size(nb) > 0)
                        json_object_set_new(res, s->urn, nb);
                else {
                        json_object_del(res, s->urn);
                        json_decref(nb);
                }
        }
        /* readOnly extension attributes keep their stored values even when
         * the write left the block out */
        for (i = 0; prev && mode == SCIM_ENFORCE_WRITE && i < m->nschemas;
             i++) {
                const mschema_t *s = &m->schemas[i];
                json_t *pb = json_object_get(prev, s->urn);

                if (s->rt != r || s->core || !json_is_object(pb))
                        continue;
                for (size_t j = 0; j < s->nattrs; j++)
                        if (s->attrs[j].mut == MUT_READONLY &&
                            json_object_get(pb, s->attrs[j].name) &&
                            !path_get(res, &(mpath_t){.urn = s->urn,
                                                      .attr = s->attrs[j].name}))
                                path_set(res, s->urn, s->attrs[j].name,
                                         json_object_get(pb,
                                                         s->attrs[j].name));
        }
        if (mode == SCIM_ENFORCE_WRITE && !prev) { /* create: defaults */
                for (i = 0; i < row->ndefaults; i++)
                        if (!path_get(res, &row->defaults[i]))
                                path_set(res, row->defaults[i].urn,
                                         row->defaults[i].attr,
                                         row->defaults[i].value);
                for (i = 0; i < m->nschemas; i++) {
                        const mschema_t *s = &m->schemas[i];

                        if (s->rt != r || s->core)
                                continue;
                        for (size_t j = 0; j < s->nattrs; j++) {
                                mpath_t p = {.urn = s->urn,
                                             .attr = s->attrs[j].name};

                                if (s->attrs[j].dflt && !path_get(res, &p))
                                        path_set(res, s->urn, p.attr,
                                                 s->attrs[j].dflt);
                        }
                }
        }
        for (i = 0; i < row->nrequired; i++)
                if (!path_get(res, &row->required[i])) {
                        const mpath_t *p = &row->required[i];

                        scim_err_set(err, 400, "invalidValue",
                                     "attribute '%s%s%s%s%s' is required",
                                     p->urn ? p->urn : "", p->urn ? ":" : "",
                                     p->attr, p->sub ? "." : "",
                                     p->sub ? p->sub : "");
                        goto out;
                }
        for (i = 0; i < row->ncatpaths; i++)
                if (check_catpath(m, res, &row->catpaths[i],
                                  &m->cats[row->catidx[i]], err) < 0)
                        goto out;
        for (i = 0; i < m->nschemas; i++) {
                const mschema_t *s = &m->schemas[i];
                json_t *blk = json_object_get(res, s->urn);

                if (s->rt != r || s->core)
                        continue;
                if (s->required && !blk) {
                        scim_err_set(err, 400, "invalidValue",
                                     "extension '%.200s' is required",
                                     s->urn);
                        goto out;
                }
                if (!blk)
                        continue;
                for (size_t j = 0; j < s->nattrs; j++)
                        if (s->attrs[j].required &&
                            is_empty(json_object_get(blk, s->attrs[j].name))) {
                                scim_err_set(err, 400, "invalidValue",
                                             "attribute '%.200s:%s' is "
                                             "required",
                                             s->urn, s->attrs[j].name);
                                goto out;
                        }
        }
        rebuild_schemas(res, r >= RT_N ? m->rt[r].row.schema
                             : rt == SCIM_RT_GROUP ? SCIM_URN_GROUP
                                                   : SCIM_URN_USER);
        rc = 0;
out:
        free(keys);
        return rc;
}

/* ------------------------------------------------------------ requests */

int scim_model_unflatten(const scim_model_t *m, scim_rtype_t rt,
                         json_t *body, scim_err_t *err)
{
        const char **keys;
        size_t n = 0;
        const char *k;
        json_t *v;
        const mrtype_t *row;

        if (!m || !json_is_object(body) || model_rt_index(m, rt) < 0)
                return 0;
        row = &m->rt[model_rt_index(m, rt)];
        keys = calloc(json_object_size(body) + 1, sizeof(char *));
        if (!keys)
                return scim_err_set_retry(err, 503, "out of memory");
        json_object_foreach(body, k, v) keys[n++] = k;
        for (size_t i = 0; i < n; i++) {
                const char *colon;
                const mschema_t *s;
                json_t *blk;
                char *key;

                k = keys[i];
                if (strncasecmp(k, "urn:", 4))
                        continue;
                if (model_ext(m, rt, k, strlen(k)))
                        continue; /* a block */
                colon = strrchr(k, ':');
                s = model_ext(m, rt, k, (size_t)(colon - k));
                if (!s)
                        continue;
                if (!(key = strdup(k))) {
                        free(keys);
                        return scim_err_set_retry(err, 503, "out of memory");
                }
                v = json_incref(json_object_get(body, key));
                json_object_del(body, key);
                blk = scim_json_get_ci(body, s->urn);
                if (!json_is_object(blk)) {
                        blk = json_object();
                        json_object_set_new(body, s->urn, blk);
                }
                json_object_set_new(blk, key + (colon - k) + 1, v);
                free(key);
                keys[i] = NULL;
        }
        free(keys);
        /* unknownAttributes refuse: an unknown top-level key of the body is
         * named here, before the built-in normalisation drops it */
        if (row->unknown == UNKNOWN_REFUSE && model_rt_index(m, rt) < RT_N)
                json_object_foreach(body, k, v)
                {
                        if (!strcmp(k, "schemas") || !strcmp(k, "id") ||
                            !strcmp(k, "meta") ||
                            (!strncasecmp(k, "urn:", 4) &&
                             (model_ext(m, rt, k, strlen(k)) ||
                              scim_schema_extension(rt, k))) ||
                            scim_schema_attr(rt, NULL, k))
                                continue;
                        return scim_err_set(err, 400, "invalidValue",
                                            "attribute '%.300s' is not "
                                            "defined for this tenant",
                                            k);
                }
        return 0;
}
