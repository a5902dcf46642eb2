/*
 * model.c — compiles a tenant definition (docs/tenant-schemas.md) into an
 * immutable scim_model_t, builds the tenant's discovery documents, edits
 * catalogs. The validator is enforce.c.
 *
 * Every check names the place in the document that fails, so a vendor who
 * writes a definition by hand gets an answer it can act on.
 */
#include "model/model_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int model_value_check(const scim_model_t *m, const mattr_t *a,
                      const json_t *in, json_t **out, const char *path,
                      scim_err_t *err);

/* ------------------------------------------------------------ errors */

__attribute__((format(printf, 3, 4))) static int
bad(scim_err_t *err, const char *where, const char *fmt, ...)
{
        char msg[400];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return scim_err_set(err, 400, "invalidValue",
                            "tenant definition: %.200s: %s", where, msg);
}

/* 0 if every key of o is in the NULL-terminated list, else -1 with err. */
static int keys_known(const json_t *o, const char *const *known,
                      const char *where, scim_err_t *err)
{
        const char *k;
        json_t *v;

        json_object_foreach((json_t *)o, k, v)
        {
                size_t i;

                (void)v;
                for (i = 0; known[i]; i++)
                        if (!strcmp(known[i], k))
                                break;
                if (!known[i])
                        return bad(err, where, "unknown key '%.64s'", k);
        }
        return 0;
}

static int get_bool(const json_t *o, const char *k, int dflt, int *out,
                    const char *where, scim_err_t *err)
{
        json_t *v = json_object_get(o, k);

        if (!v) {
                *out = dflt;
                return 0;
        }
        if (!json_is_boolean(v))
                return bad(err, where, "'%s' must be true or false", k);
        *out = json_is_true(v);
        return 0;
}

/* Looks s up in a NULL-terminated name table; index or -1. */
static int table_index(const char *const *tab, const char *s)
{
        for (int i = 0; s && tab[i]; i++)
                if (!strcmp(tab[i], s))
                        return i;
        return -1;
}

static const char *const TYPE_NAMES[] = {
    "string", "boolean", "decimal", "integer", "dateTime",
    "reference", "binary", "complex", NULL};
static const scim_atype_t TYPE_VALUES[] = {
    SCIM_T_STRING,    SCIM_T_BOOLEAN,   SCIM_T_DECIMAL, SCIM_T_INTEGER,
    SCIM_T_DATETIME,  SCIM_T_REFERENCE, SCIM_T_BINARY,  SCIM_T_COMPLEX};
static const char *const MUT_NAMES[] = {"readWrite", "readOnly", "immutable",
                                        "writeOnly", NULL};
static const char *const RETURNED_NAMES[] = {"always", "never", "default",
                                             "request", NULL};
static const char *const UNIQ_NAMES[] = {"none", "server", "global", NULL};
static const char *const UNKNOWN_NAMES[] = {"keep", "drop", "refuse", NULL};

/* ------------------------------------------------------------ freeing */

static void attrs_free(mattr_t *a, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(a[i].name);
                free(a[i].ref);
                json_decref(a[i].canon);
                json_decref(a[i].dflt);
                attrs_free(a[i].sub, a[i].nsub);
        }
        free(a);
}

static void paths_free(mpath_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(p[i].urn);
                free(p[i].attr);
                free(p[i].sub);
                json_decref(p[i].value);
        }
        free(p);
}

static void model_free(scim_model_t *m)
{
        for (size_t i = 0; i < m->nschemas; i++) {
                free(m->schemas[i].urn);
                attrs_free(m->schemas[i].attrs, m->schemas[i].nattrs);
                json_decref(m->schemas[i].doc);
        }
        free(m->schemas);
        for (size_t i = 0; i < m->ncats; i++) {
                free(m->cats[i].name);
                for (size_t j = 0; j < m->cats[i].n; j++)
                        free(m->cats[i].keys[j]);
                free(m->cats[i].keys);
        }
        free(m->cats);
        for (size_t r = 0; m->rt && r < m->nrt; r++) {
                paths_free(m->rt[r].required, m->rt[r].nrequired);
                paths_free(m->rt[r].defaults, m->rt[r].ndefaults);
                paths_free(m->rt[r].catpaths, m->rt[r].ncatpaths);
                free(m->rt[r].catidx);
                free(m->rt[r].req_names);
                free(m->rt[r].uniq_names);
                free(m->rt[r].idx_names);
        }
        free(m->rt);
        json_decref(m->def);
        free(m);
}

scim_model_t *scim_model_ref(scim_model_t *m)
{
        if (m)
                __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
        return m;
}

void scim_model_unref(scim_model_t *m)
{
        if (m && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0)
                model_free(m);
}

int64_t scim_model_generation(const scim_model_t *m)
{
        return m ? m->generation : 0;
}

const json_t *scim_model_definition(const scim_model_t *m)
{
        return m ? m->def : NULL;
}

int scim_model_enabled(const scim_model_t *m, scim_rtype_t rt)
{
        int r = model_rt_index(m, rt);

        if (r < 0)
                return 0;
        return m ? m->rt[r].enabled : 1;
}

/* ------------------------------------------------------------ lookups */

const mattr_t *model_attr(const mattr_t *list, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (scim_strcaseeq(list[i].name, name))
                        return &list[i];
        return NULL;
}

const mschema_t *model_ext(const scim_model_t *m, scim_rtype_t rt,
                           const char *urn, size_t urn_len)
{
        int r = model_rt_index(m, rt);

        if (!m || r < 0)
                return NULL;
        for (size_t i = 0; i < m->nschemas; i++) {
                const mschema_t *s = &m->schemas[i];

                if (s->rt == r && !s->core && strlen(s->urn) == urn_len &&
                    !strncasecmp(s->urn, urn, urn_len))
                        return s;
        }
        return NULL;
}

static char *cat_key(const mcatalog_t *c, const char *s)
{
        return c->case_exact ? strdup(s) : scim_casefold(s);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int model_catalog_has(const mcatalog_t *c, const char *s)
{
        char *k = cat_key(c, s);
        int hit;

        if (!k)
                return 0;
        hit = bsearch(&k, c->keys, c->n, sizeof(char *), cmp_str) != NULL;
        free(k);
        return hit;
}

static int catalog_index(const scim_model_t *m, const char *name)
{
        for (size_t i = 0; i < m->ncats; i++)
                if (!strcmp(m->cats[i].name, name))
                        return (int)i;
        return -1;
}

const json_t *scim_model_catalog(const scim_model_t *m, const char *name)
{
        json_t *c;

        if (!m || !name)
                return NULL;
        c = json_object_get(json_object_get(m->def, "catalogs"), name);
        return c ? json_object_get(c, "values") : NULL;
}

/* ------------------------------------------------------------ compile */

static int name_ok(const char *s, int allow_ref)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > SCIM_MODEL_MAX_NAME_BYTES)
                return 0;
        if (allow_ref && !strcmp(s, "$ref"))
                return 1;
        if (!isalpha((unsigned char)s[0]))
                return 0;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
                        return 0;
        return 1;
}

static int urn_ok(const char *s)
{
        size_t n = s ? strlen(s) : 0, colons = 0;

        if (n < 5 || n > SCIM_MODEL_MAX_URN_BYTES || strncasecmp(s, "urn:", 4))
                return 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == ':') {
                        if (s[i + 1] == ':' || s[i + 1] == '\0')
                                return 0;
                        colons++;
                } else if (!isalnum(c) && !strchr("-._", c)) {
                        return 0;
                }
        }
        return colons >= 3;
}

static int compile_catalogs(scim_model_t *m, const json_t *cats,
                            scim_err_t *err)
{
        static const char *const known[] = {"values", "caseExact",
                                            "description", NULL};
        const char *name;
        json_t *c;

        if (!cats)
                return 0;
        if (!json_is_object(cats))
                return bad(err, "catalogs", "must be an object");
        if (json_object_size(cats) > SCIM_MODEL_MAX_CATALOGS)
                return bad(err, "catalogs", "at most %d catalogs",
                           SCIM_MODEL_MAX_CATALOGS);
        m->cats = calloc(json_object_size(cats) + 1, sizeof(mcatalog_t));
        if (!m->cats)
                return scim_err_set_retry(err, 503, "out of memory");
        json_object_foreach((json_t *)cats, name, c)
        {
                char where[128];
                mcatalog_t *mc = &m->cats[m->ncats];
                json_t *vals, *v;
                size_t i;

                snprintf(where, sizeof(where), "catalogs.%.64s", name);
                if (!name_ok(name, 0))
                        return bad(err, where,
                                   "a catalog name is 1-64 characters of "
                                   "A-Z a-z 0-9 _ - starting with a letter");
                if (!json_is_object(c) || keys_known(c, known, where, err) < 0)
                        return json_is_object(c)
                                   ? -1
                                   : bad(err, where, "must be an object");
                vals = json_object_get(c, "values");
                if (!json_is_array(vals))
                        return bad(err, where, "'values' must be an array");
                if (json_array_size(vals) > SCIM_MODEL_MAX_CATALOG_VALUES)
                        return bad(err, where, "at most %d values",
                                   SCIM_MODEL_MAX_CATALOG_VALUES);
                mc->name = strdup(name);
                m->ncats++;
                if (get_bool(c, "caseExact", 0, &mc->case_exact, where, err) <
                    0)
                        return -1;
                mc->keys = calloc(json_array_size(vals) + 1, sizeof(char *));
                if (!mc->name || !mc->keys)
                        return scim_err_set_retry(err, 503, "out of memory");
                json_array_foreach(vals, i, v)
                {
                        const char *s = json_string_value(v);

                        if (!s || !*s ||
                            json_string_length(v) > SCIM_MODEL_MAX_VALUE_BYTES ||
                            strlen(s) != json_string_length(v))
                                return bad(err, where,
                                           "values[%zu] must be a non-empty "
                                           "string of at most %d bytes",
                                           i, SCIM_MODEL_MAX_VALUE_BYTES);
                        if (!(mc->keys[mc->n] = cat_key(mc, s)))
                                return scim_err_set_retry(err, 503,
                                                          "out of memory");
                        mc->n++;
                }
                qsort(mc->keys, mc->n, sizeof(char *), cmp_str);
                for (i = 1; i < mc->n; i++)
                        if (!strcmp(mc->keys[i - 1], mc->keys[i]))
                                return bad(err, where,
                                           "value '%.64s' is listed twice",
                                           mc->keys[i]);
        }
        return 0;
}

static int compile_attrs(scim_model_t *m, const json_t *arr, mattr_t **out,
                         size_t *nout, int depth, const char *where,
                         scim_err_t *err);

static int compile_attr(scim_model_t *m, const json_t *o, mattr_t *a,
                        int depth, const char *where, scim_err_t *err)
{
        static const char *const known[] = {
            "name",           "type",          "multiValued", "required",
            "caseExact",      "mutability",    "returned",    "uniqueness",
            "canonicalValues", "referenceTypes", "subAttributes",
            "description",    "default",       "catalog",     NULL};
        const char *s;
        json_t *v;
        int i;

        a->catalog = -1;
        if (!json_is_object(o))
                return bad(err, where, "an attribute must be an object");
        if (keys_known(o, known, where, err) < 0)
                return -1;
        s = json_string_value(json_object_get(o, "name"));
        if (!name_ok(s, depth > 0))
                return bad(err, where,
                           "'name' must be 1-64 characters of A-Z a-z 0-9 _ "
                           "- starting with a letter");
        if (!(a->name = strdup(s)))
                return scim_err_set_retry(err, 503, "out of memory");
        s = json_string_value(json_object_get(o, "type"));
        if ((i = table_index(TYPE_NAMES, s ? s : "string")) < 0)
                return bad(err, where,
                           "'type' must be one of string boolean decimal "
                           "integer dateTime reference binary complex");
        a->type = TYPE_VALUES[i];
        if (get_bool(o, "multiValued", 0, &a->multi, where, err) < 0 ||
            get_bool(o, "required", 0, &a->required, where, err) < 0 ||
            get_bool(o, "caseExact", 0, &a->case_exact, where, err) < 0)
                return -1;
        s = json_string_value(json_object_get(o, "mutability"));
        if (json_object_get(o, "mutability") &&
            (a->mut = table_index(MUT_NAMES, s)) < 0)
                return bad(err, where,
                           "'mutability' must be readWrite, readOnly, "
                           "immutable or writeOnly");
        if (a->mut < 0)
                a->mut = MUT_READWRITE;
        s = json_string_value(json_object_get(o, "returned"));
        if (json_object_get(o, "returned") && table_index(RETURNED_NAMES, s) < 0)
                return bad(err, where,
                           "'returned' must be always, never, default or "
                           "request");
        a->ret = s ? table_index(RETURNED_NAMES, s) : 2; /* default */
        s = json_string_value(json_object_get(o, "uniqueness"));
        if (json_object_get(o, "uniqueness") && table_index(UNIQ_NAMES, s) < 0)
                return bad(err, where,
                           "'uniqueness' must be none, server or global");
        if (s && strcmp(s, "none")) {
                if (depth > 0 || a->multi || a->type == SCIM_T_COMPLEX)
                        return bad(err, where,
                                   "uniqueness '%s' is supported for "
                                   "single-valued, non-complex top-level "
                                   "attributes (not sub-attributes)",
                                   s);
                a->unique = 1; /* global: enforced per tenant */
        }
        if ((v = json_object_get(o, "canonicalValues"))) {
                size_t k;
                json_t *e;

                if (!json_is_array(v) ||
                    json_array_size(v) > SCIM_MODEL_MAX_CATALOG_VALUES)
                        return bad(err, where,
                                   "'canonicalValues' must be an array of "
                                   "strings");
                json_array_foreach(v, k, e) if (!json_is_string(e)) return bad(
                    err, where, "canonicalValues[%zu] must be a string", k);
                if (json_array_size(v) > 0)
                        a->canon = json_incref(v);
        }
        if ((v = json_object_get(o, "referenceTypes"))) {
                size_t k;
                json_t *e;

                if (!json_is_array(v))
                        return bad(err, where,
                                   "'referenceTypes' must be an array");
                json_array_foreach(v, k, e) if (!json_is_string(e)) return bad(
                    err, where, "referenceTypes[%zu] must be a string", k);
        }
        if ((v = json_object_get(o, "catalog")) && json_is_string(v) &&
            strchr(json_string_value(v), '.')) {
                /* "Role.name": resolved once the resource types are */
                if (a->type != SCIM_T_STRING)
                        return bad(err, where,
                                   "only string attributes take a catalog");
                if (!(a->ref = strdup(json_string_value(v))))
                        return scim_err_set_retry(err, 503, "out of memory");
        } else if (v) {
                if (!json_is_string(v) ||
                    (a->catalog = catalog_index(m, json_string_value(v))) < 0)
                        return bad(err, where,
                                   "'catalog' names no catalog of this "
                                   "definition (or no Type.attribute)");
                if (a->type != SCIM_T_STRING)
                        return bad(err, where,
                                   "only string attributes take a catalog");
        }
        v = json_object_get(o, "subAttributes");
        if (a->type == SCIM_T_COMPLEX) {
                char w[256];

                if (depth > 0)
                        return bad(err, where,
                                   "complex attributes nest one level only");
                if (!json_is_array(v) || json_array_size(v) == 0)
                        return bad(err, where,
                                   "a complex attribute needs "
                                   "'subAttributes'");
                snprintf(w, sizeof(w), "%s.subAttributes", where);
                if (compile_attrs(m, v, &a->sub, &a->nsub, depth + 1, w, err) <
                    0)
                        return -1;
        } else if (v) {
                return bad(err, where,
                           "only complex attributes have 'subAttributes'");
        }
        if ((v = json_object_get(o, "default"))) {
                char w[256];

                snprintf(w, sizeof(w), "%s.default", where);
                if (a->mut == MUT_READONLY)
                        return bad(err, where,
                                   "a readOnly attribute takes no default");
                if (model_value_check(m, a, v, &a->dflt, w, err) < 0)
                        return -1;
        }
        return 0;
}

static int compile_attrs(scim_model_t *m, const json_t *arr, mattr_t **out,
                         size_t *nout, int depth, const char *where,
                         scim_err_t *err)
{
        size_t i;
        json_t *o;

        if (!json_is_array(arr))
                return bad(err, where, "must be an array");
        if (json_array_size(arr) > SCIM_MODEL_MAX_ATTRS)
                return bad(err, where, "at most %d attributes",
                           SCIM_MODEL_MAX_ATTRS);
        *out = calloc(json_array_size(arr) + 1, sizeof(mattr_t));
        if (!*out)
                return scim_err_set_retry(err, 503, "out of memory");
        json_array_foreach(arr, i, o)
        {
                char w[256];

                snprintf(w, sizeof(w), "%s[%zu]", where, i);
                (*nout)++;
                if (compile_attr(m, o, &(*out)[i], depth, w, err) < 0)
                        return -1;
                if (model_attr(*out, i, (*out)[i].name))
                        return bad(err, w, "attribute '%s' is defined twice",
                                   (*out)[i].name);
        }
        return 0;
}

/* The advertised attribute (RFC 7643 keys only, every key present). */
static json_t *attr_doc(const json_t *in, const mattr_t *a)
{
        json_t *o = json_object(), *v;

        json_object_set_new(o, "name", json_string(a->name));
        for (int i = 0; TYPE_NAMES[i]; i++)
                if (TYPE_VALUES[i] == a->type)
                        json_object_set_new(o, "type",
                                            json_string(TYPE_NAMES[i]));
        json_object_set_new(o, "multiValued", json_boolean(a->multi));
        if ((v = json_object_get(in, "description")))
                json_object_set(o, "description", v);
        json_object_set_new(o, "required", json_boolean(a->required));
        json_object_set_new(o, "caseExact", json_boolean(a->case_exact));
        if (a->canon)
                json_object_set(o, "canonicalValues", a->canon);
        json_object_set_new(o, "mutability", json_string(MUT_NAMES[a->mut]));
        v = json_object_get(in, "returned");
        json_object_set_new(o, "returned",
                            v ? json_incref(v) : json_string("default"));
        json_object_set_new(o, "uniqueness",
                            json_string(a->unique ? "server" : "none"));
        if ((v = json_object_get(in, "referenceTypes")))
                json_object_set(o, "referenceTypes", v);
        if (a->nsub) {
                json_t *subs = json_array();
                json_t *insub = json_object_get(in, "subAttributes");

                for (size_t i = 0; i < a->nsub; i++)
                        json_array_append_new(
                            subs, attr_doc(json_array_get(insub, i), &a->sub[i]));
                json_object_set_new(o, "subAttributes", subs);
        }
        return o;
}

static int compile_schemas(scim_model_t *m, const json_t *arr,
                           scim_err_t *err)
{
        static const char *const known[] = {"id", "name", "description",
                                            "attributes", "schemas", "meta",
                                            NULL};
        size_t i;
        json_t *o;

        if (!arr)
                return 0;
        if (!json_is_array(arr))
                return bad(err, "schemas", "must be an array");
        if (json_array_size(arr) > SCIM_MODEL_MAX_SCHEMAS)
                return bad(err, "schemas", "at most %d schemas",
                           SCIM_MODEL_MAX_SCHEMAS);
        m->schemas = calloc(json_array_size(arr) + 1, sizeof(mschema_t));
        if (!m->schemas)
                return scim_err_set_retry(err, 503, "out of memory");
        json_array_foreach(arr, i, o)
        {
                char where[64], w2[96];
                mschema_t *s = &m->schemas[i];
                const char *id;
                json_t *attrs;

                snprintf(where, sizeof(where), "schemas[%zu]", i);
                s->rt = -1;
                s->core = 0;
                m->nschemas++;
                if (!json_is_object(o))
                        return bad(err, where, "must be an object");
                if (keys_known(o, known, where, err) < 0)
                        return -1;
                id = json_string_value(json_object_get(o, "id"));
                if (!urn_ok(id))
                        return bad(err, where,
                                   "'id' must be a URN (urn: and at least "
                                   "three more :-separated parts, at most "
                                   "%d bytes)",
                                   SCIM_MODEL_MAX_URN_BYTES);
                if (scim_strcaseeq(id, SCIM_URN_USER) ||
                    scim_strcaseeq(id, SCIM_URN_GROUP) ||
                    scim_strcaseeq(id, SCIM_URN_ENTERPRISE) ||
                    !strncasecmp(id, "urn:ietf:params:scim:schemas:core:", 34) ||
                    !strncasecmp(id, "urn:ietf:params:scim:api:", 25))
                        return bad(err, where,
                                   "'%.200s' is a built-in schema; define "
                                   "extensions and the core schemas of "
                                   "resource types of your own only",
                                   id);
                for (size_t j = 0; j < i; j++)
                        if (scim_strcaseeq(m->schemas[j].urn, id))
                                return bad(err, where,
                                           "schema '%.200s' is defined twice",
                                           id);
                if (!(s->urn = strdup(id)))
                        return scim_err_set_retry(err, 503, "out of memory");
                attrs = json_object_get(o, "attributes");
                snprintf(w2, sizeof(w2), "%s.attributes", where);
                if (!attrs)
                        return bad(err, where, "'attributes' is missing");
                if (compile_attrs(m, attrs, &s->attrs, &s->nattrs, 0, w2,
                                  err) < 0)
                        return -1;
                s->doc = json_object();
                json_object_set_new(s->doc, "schemas",
                                    json_pack("[s]", "urn:ietf:params:scim:"
                                                     "schemas:core:2.0:Schema"));
                json_object_set_new(s->doc, "id", json_string(s->urn));
                json_object_set(s->doc, "name",
                                json_object_get(o, "name")
                                    ? json_object_get(o, "name")
                                    : json_object_get(s->doc, "id"));
                if (json_object_get(o, "description"))
                        json_object_set(s->doc, "description",
                                        json_object_get(o, "description"));
                {
                        json_t *ad = json_array();

                        for (size_t k = 0; k < s->nattrs; k++)
                                json_array_append_new(
                                    ad, attr_doc(json_array_get(attrs, k),
                                                 &s->attrs[k]));
                        json_object_set_new(s->doc, "attributes", ad);
                }
                json_object_set_new(s->doc, "meta",
                                    json_pack("{s:s}", "resourceType",
                                              "Schema"));
        }
        return 0;
}

/* Resolves "attr[.sub]" within schema s (core: top-level attributes). */
static int resolve_in(const mschema_t *s, const char *name, int core,
                      mpath_t *p, const mattr_t **def_out, const char *path,
                      const char *where, scim_err_t *err)
{
        const char *dot = strchr(name, '.');
        size_t tl = dot ? (size_t)(dot - name) : strlen(name);
        char top[SCIM_MODEL_MAX_NAME_BYTES + 1];
        const mattr_t *a;

        if (tl > SCIM_MODEL_MAX_NAME_BYTES)
                return bad(err, where, "unknown attribute");
        memcpy(top, name, tl);
        top[tl] = '\0';
        if (!(a = model_attr(s->attrs, s->nattrs, top)))
                return bad(err, where, "'%.200s' names no attribute of %.200s",
                           path, s->urn);
        p->urn = core ? NULL : strdup(s->urn);
        p->attr = strdup(a->name);
        *def_out = a;
        if (dot) {
                const mattr_t *sub = model_attr(a->sub, a->nsub, dot + 1);

                if (!sub)
                        return bad(err, where,
                                   "'%.200s' names no sub-attribute", path);
                p->sub = strdup(sub->name);
                *def_out = sub;
        }
        return 0;
}

/* Resolves a path "attr", "attr.sub", "urn:...:attr[.sub]" for rt. */
static int resolve_path(scim_model_t *m, scim_rtype_t rt, const char *path,
                        mpath_t *p, const mattr_t **def_out,
                        const scim_attr_t **core_out, const char *where,
                        scim_err_t *err)
{
        const char *dot;
        int r = model_rt_index(m, rt);

        *def_out = NULL;
        *core_out = NULL;
        if (!path || !*path || strlen(path) > 512)
                return bad(err, where, "must be an attribute path");
        if (r >= RT_N && m->rt[r].core >= 0) {
                /* a tenant type: its core schema's attributes, given bare
                 * or after the core URN */
                const mschema_t *cs = &m->schemas[m->rt[r].core];
                size_t cl = strlen(cs->urn);
                const char *q = path;

                if (!strncasecmp(q, cs->urn, cl) && q[cl] == ':')
                        q += cl + 1;
                if (strncasecmp(q, "urn:", 4) &&
                    strncasecmp(q, "externalId", 10))
                        return resolve_in(cs, q, 1, p, def_out, path, where,
                                          err);
        }
        if (!strncasecmp(path, "urn:", 4)) {
                const char *colon = strrchr(path, ':');
                const mschema_t *s =
                    model_ext(m, rt, path, (size_t)(colon - path));

                if (s)
                        return resolve_in(s, colon + 1, 0, p, def_out, path,
                                          where, err);
                /* the enterprise extension and core URN prefixes */
        }
        {
                /* "attr[.sub]" or a built-in URN prefix
                 * ("urn:...:enterprise:2.0:User:department"): the dot is
                 * looked for after the URN's last colon */
                const char *colon =
                    !strncasecmp(path, "urn:", 4) ? strrchr(path, ':') : NULL;
                char *t;
                const scim_attr_t *a;
                const char *urn;
                size_t tl;

                dot = strchr(colon ? colon + 1 : path, '.');
                tl = dot ? (size_t)(dot - path) : strlen(path);
                t = strndup(path, tl);
                a = t ? scim_schema_attr(rt, NULL, t) : NULL;
                urn = a ? scim_attr_schema(a) : NULL;
                free(t);
                if (!a || !strcmp(scim_attr_name(a), "id") ||
                    !strcmp(scim_attr_name(a), "meta"))
                        return bad(err, where,
                                   "'%.200s' names no attribute of %s", path,
                                   r >= RT_N ? m->rt[r].row.name
                                             : scim_rtype_name(rt));
                if (urn && strcmp(urn, SCIM_URN_USER) &&
                    strcmp(urn, SCIM_URN_GROUP) && r < RT_N)
                        p->urn = strdup(urn);
                p->attr = strdup(scim_attr_name(a));
                *core_out = a;
                if (dot) {
                        const scim_attr_t *s =
                            scim_schema_attr(rt, a, dot + 1);

                        if (!s)
                                return bad(err, where,
                                           "'%.200s' names no sub-attribute",
                                           path);
                        p->sub = strdup(scim_attr_name(s));
                        *core_out = s;
                }
        }
        return 0;
}

/* Endpoint names a tenant type may not take (any case). */
static const char *const RESERVED_ENDPOINTS[] = {
    "Users",   "Groups", "Schemas",   "ResourceTypes", "ServiceProviderConfig",
    "Bulk",    "Me",     ".search",   "serviceConfiguration",
    /* the reports API's own paths (/reports/v1/{t}/changes, ...) */
    "changes", "resources", "summary", "reports", "User", "Group", NULL};

static const char *INDEXED_TENANT[] = {"id", "externalId", "displayName",
                                       NULL};

/* The storage code map: codes (the store's, authoritative) or the
 * definition's own storageCodes; checked; a new object. */
static json_t *codes_start(const json_t *def, const json_t *codes,
                           scim_err_t *err)
{
        const json_t *in = codes ? codes : json_object_get(def, "storageCodes");
        json_t *out = json_object(), *v;
        const char *k;
        int used[MODEL_MAX_TYPES] = {0};

        if (in && !json_is_object(in)) {
                json_decref(out);
                bad(err, "storageCodes", "must be an object of name: letter");
                return NULL;
        }
        json_object_foreach((json_t *)in, k, v)
        {
                const char *c = json_string_value(v);

                if (!name_ok(k, 0) || !c || strlen(c) != 1 ||
                    !model_is_tenant_code((scim_rtype_t)c[0]) ||
                    used[c[0] - MODEL_CODE_FIRST]++) {
                        json_decref(out);
                        bad(err, "storageCodes",
                            "'%.64s' must map to its own letter a-p (the "
                            "codes are scimlog's: leave them as read)",
                            k);
                        return NULL;
                }
                json_object_set(out, k, v);
        }
        return out;
}

/* The storage code of tenant type `name`: its code in map, or the next
 * letter nobody has had (added to map). 0 when all are taken. */
static scim_rtype_t code_for(json_t *map, const char *name)
{
        const char *k;
        json_t *v;
        int used[MODEL_MAX_TYPES] = {0};

        json_object_foreach(map, k, v)
        {
                if (scim_strcaseeq(k, name))
                        return (scim_rtype_t)json_string_value(v)[0];
                used[json_string_value(v)[0] - MODEL_CODE_FIRST] = 1;
        }
        for (int i = 0; i < MODEL_MAX_TYPES; i++)
                if (!used[i]) {
                        char c[2] = {(char)(MODEL_CODE_FIRST + i), 0};

                        json_object_set_new(map, name, json_string(c));
                        return (scim_rtype_t)c[0];
                }
        return (scim_rtype_t)0;
}

/* A tenant type's own keys: name, endpoint, core schema -> its row. */
static int compile_tenant_type(scim_model_t *m, const json_t *o, int r,
                               json_t *codes, const char *where,
                               scim_err_t *err)
{
        mrtype_t *row = &m->rt[r];
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *ep = json_string_value(json_object_get(o, "endpoint"));
        const char *urn = json_string_value(json_object_get(o, "schema"));
        size_t j, nreq = 0, nuq = 0;
        mschema_t *cs = NULL;

        if (!name_ok(name, 0))
                return bad(err, where,
                           "'name' must be User, Group, or 1-64 characters of "
                           "A-Z a-z 0-9 _ - starting with a letter (a "
                           "resource type of your own)");
        if (scim_strcaseeq(name, "User") || scim_strcaseeq(name, "Group"))
                return bad(err, where, "'name' %s is built in: spell it so",
                           name);
        for (j = 0; RESERVED_ENDPOINTS[j]; j++)
                if (scim_strcaseeq(name, RESERVED_ENDPOINTS[j]))
                        return bad(err, where,
                                   "'name' %s is taken by the protocol or "
                                   "the reports API",
                                   name);
        if (!ep || ep[0] != '/' || !name_ok(ep + 1, 0))
                return bad(err, where,
                           "'endpoint' must be '/' and 1-64 characters of "
                           "A-Z a-z 0-9 _ - starting with a letter");
        for (j = 0; RESERVED_ENDPOINTS[j]; j++)
                if (scim_strcaseeq(ep + 1, RESERVED_ENDPOINTS[j]))
                        return bad(err, where,
                                   "endpoint %s is taken by the protocol", ep);
        for (j = RT_N; j < (size_t)r; j++) {
                if (scim_strcaseeq(m->rt[j].row.name, name))
                        return bad(err, where,
                                   "resource type %s is listed twice", name);
                if (scim_strcaseeq(m->rt[j].row.endpoint, ep))
                        return bad(err, where,
                                   "endpoint %s is used twice", ep);
        }
        for (j = 0; urn && j < m->nschemas; j++)
                if (scim_strcaseeq(m->schemas[j].urn, urn))
                        cs = &m->schemas[j];
        if (!cs)
                return bad(err, where,
                           "'schema' must name a schema of this definition "
                           "(the type's core schema)");
        if (cs->rt >= 0)
                return bad(err, where,
                           "schema %.200s already belongs to another "
                           "resource type",
                           cs->urn);
        cs->rt = r;
        cs->core = 1;
        row->core = (int)(cs - m->schemas);
        row->row.code = code_for(codes, name);
        if (!row->row.code)
                return bad(err, where,
                           "a tenant has at most %d resource types of its "
                           "own, ever (names keep their storage code)",
                           MODEL_MAX_TYPES);
        row->row.name = name; /* borrowed from m->def */
        row->row.endpoint = ep;
        row->row.schema = cs->urn;
        row->row.membership = SCIM_MEMBERSHIP_NONE;
        row->req_names = calloc(cs->nattrs + 1, sizeof(char *));
        row->uniq_names = calloc(cs->nattrs + 1, sizeof(char *));
        if (!row->req_names || !row->uniq_names)
                return scim_err_set_retry(err, 503, "out of memory");
        for (j = 0; j < cs->nattrs; j++) {
                if (cs->attrs[j].required)
                        row->req_names[nreq++] = cs->attrs[j].name;
                if (cs->attrs[j].unique)
                        row->uniq_names[nuq++] = cs->attrs[j].name;
                if (scim_strcaseeq(cs->attrs[j].name, "id") ||
                    scim_strcaseeq(cs->attrs[j].name, "meta") ||
                    scim_strcaseeq(cs->attrs[j].name, "schemas") ||
                    scim_strcaseeq(cs->attrs[j].name, "externalId"))
                        return bad(err, where,
                                   "attribute '%s' of %.200s is common to "
                                   "every resource: leave it out",
                                   cs->attrs[j].name, cs->urn);
        }
        row->row.required = (const char *const *)row->req_names;
        row->row.unique = (const char *const *)row->uniq_names;
        /* filters answered from an index: the common ones, and each
         * unique attribute (the uniqueness index) */
        row->idx_names = calloc(4 + nuq, sizeof(char *));
        if (!row->idx_names)
                return scim_err_set_retry(err, 503, "out of memory");
        for (j = 0; INDEXED_TENANT[j]; j++)
                row->idx_names[j] = INDEXED_TENANT[j];
        for (size_t u = 0; u < nuq; u++)
                row->idx_names[j + u] = row->uniq_names[u];
        row->row.indexed = (const char *const *)row->idx_names;
        return 0;
}

/* Resolves the "Type.attr" catalogs of the schemas' attributes. */
static int resolve_refs_in(scim_model_t *m, mattr_t *list, size_t n,
                           const char *urn, scim_err_t *err)
{
        for (size_t i = 0; i < n; i++) {
                mattr_t *a = &list[i];
                char where[400], tname[SCIM_MODEL_MAX_NAME_BYTES + 1];
                const char *dot;
                size_t tl;
                int r = -1;

                if (a->nsub && resolve_refs_in(m, a->sub, a->nsub, urn, err) < 0)
                        return -1;
                if (!a->ref)
                        continue;
                snprintf(where, sizeof(where), "%.256s:%s.catalog", urn,
                         a->name);
                dot = strchr(a->ref, '.');
                tl = (size_t)(dot - a->ref);
                if (tl > SCIM_MODEL_MAX_NAME_BYTES)
                        return bad(err, where, "names no resource type");
                memcpy(tname, a->ref, tl);
                tname[tl] = '\0';
                for (size_t k = 0; k < m->nrt; k++) {
                        const char *nm = k == RT_USER    ? "User"
                                         : k == RT_GROUP ? "Group"
                                                         : m->rt[k].row.name;

                        if (nm && scim_strcaseeq(nm, tname))
                                r = (int)k;
                }
                if (r < 0)
                        return bad(err, where,
                                   "'%.200s': %s is no resource type of this "
                                   "tenant",
                                   a->ref, tname);
                a->ref_rt = r;
                a->refw.rt = r == RT_USER    ? SCIM_RT_USER
                             : r == RT_GROUP ? SCIM_RT_GROUP
                                             : m->rt[r].row.code;
                a->refw.type_name = r == RT_USER    ? "User"
                                    : r == RT_GROUP ? "Group"
                                                    : m->rt[r].row.name;
                a->refw.attr_name = dot + 1;
                if (scim_strcaseeq(dot + 1, "externalId")) {
                        a->refw.index = 'x';
                        a->refw.case_exact = 1;
                } else if (scim_strcaseeq(dot + 1, "displayName")) {
                        a->refw.index = 'd';
                } else if (r == RT_USER && scim_strcaseeq(dot + 1, "userName")) {
                        a->refw.index = 'u';
                } else if (r >= RT_N) {
                        const mschema_t *cs = &m->schemas[m->rt[r].core];
                        const mattr_t *t =
                            model_attr(cs->attrs, cs->nattrs, dot + 1);

                        if (!t || !t->unique)
                                return bad(err, where,
                                           "'%.200s': a reference names "
                                           "displayName, externalId, "
                                           "userName (User) or an attribute "
                                           "of the type's core schema with "
                                           "uniqueness server",
                                           a->ref);
                        a->refw.index = 'X';
                        a->refw.urn = cs->urn;
                        a->refw.name = t->name;
                        a->refw.attr_name = t->name;
                        a->refw.case_exact = t->case_exact;
                } else {
                        return bad(err, where,
                                   "'%.200s': a reference names displayName, "
                                   "externalId, userName (User) or a unique "
                                   "attribute of a resource type of your own",
                                   a->ref);
                }
        }
        return 0;
}

static int compile_rtypes_in(scim_model_t *m, const json_t *arr,
                             json_t *codes, scim_err_t *err)
{
        static const char *const known[] = {
            "name",     "schemaExtensions",  "required", "defaults",
            "enabled", "unknownAttributes", "description",
            "attributeCatalogs", "endpoint", "schema", NULL};
        static const char *const ext_known[] = {"schema", "required", NULL};
        size_t i, ntenant = 0;
        json_t *o;
        int *ridx;

        if (!json_is_array(arr))
                return bad(err, "resourceTypes", "must be an array");
        json_array_foreach(arr, i, o)
        {
                const char *name = json_string_value(json_object_get(o, "name"));

                if (!scim_rtype_by_name(name))
                        ntenant++;
        }
        if (ntenant > MODEL_MAX_TYPES)
                return bad(err, "resourceTypes",
                           "at most %d resource types of your own",
                           MODEL_MAX_TYPES);
        m->rt = calloc(RT_N + ntenant + 1, sizeof(mrtype_t));
        ridx = calloc(json_array_size(arr) + 1, sizeof(int));
        if (!m->rt || !ridx) {
                free(ridx);
                return scim_err_set_retry(err, 503, "out of memory");
        }
        m->nrt = RT_N;
        for (int r = 0; r < RT_N; r++) {
                m->rt[r].enabled = 1;
                m->rt[r].core = -1;
        }
        json_array_foreach(arr, i, o)
        {
                char where[64];
                const char *name, *s;
                scim_rtype_t rt;
                mrtype_t *row;
                json_t *v, *e;
                size_t k;
                int u, r;

                snprintf(where, sizeof(where), "resourceTypes[%zu]", i);
                if (!json_is_object(o)) {
                        free(ridx);
                        return bad(err, where, "must be an object");
                }
                if (keys_known(o, known, where, err) < 0) {
                        free(ridx);
                        return -1;
                }
                name = json_string_value(json_object_get(o, "name"));
                if (scim_rtype_by_name(name)) {
                        rt = scim_rtype_by_name(name)->code;
                        r = model_rt_index(m, rt);
                        if (json_object_get(o, "endpoint") ||
                            json_object_get(o, "schema")) {
                                free(ridx);
                                return bad(err, where,
                                           "%s is built in: its endpoint "
                                           "and schema are fixed",
                                           name);
                        }
                        for (size_t j = 0; j < i; j++)
                                if (json_equal(
                                        json_object_get(
                                            json_array_get(arr, j), "name"),
                                        json_object_get(o, "name"))) {
                                        free(ridx);
                                        return bad(err, where,
                                                   "resource type %s is "
                                                   "listed twice",
                                                   name);
                                }
                } else {
                        r = (int)m->nrt++;
                        m->rt[r].enabled = 1;
                        m->rt[r].core = -1;
                        if (compile_tenant_type(m, o, r, codes, where, err) <
                            0) {
                                free(ridx);
                                return -1;
                        }
                        rt = m->rt[r].row.code;
                }
                ridx[i] = r;
                row = &m->rt[r];
#define FAIL(x)                                                               \
        do {                                                                  \
                free(ridx);                                                   \
                return (x);                                                   \
        } while (0)
                if (get_bool(o, "enabled", 1, &row->enabled, where, err) < 0)
                        FAIL(-1);
                s = json_string_value(json_object_get(o, "unknownAttributes"));
                if (json_object_get(o, "unknownAttributes") &&
                    (u = table_index(UNKNOWN_NAMES, s)) < 0)
                        FAIL(bad(err, where,
                                 "'unknownAttributes' must be keep, drop or "
                                 "refuse"));
                row->unknown = json_object_get(o, "unknownAttributes")
                                   ? table_index(UNKNOWN_NAMES, s)
                                   : UNKNOWN_KEEP;
                v = json_object_get(o, "schemaExtensions");
                if (v && !json_is_array(v))
                        FAIL(bad(err, where,
                                 "'schemaExtensions' must be an array"));
                json_array_foreach(v, k, e)
                {
                        char w[96];
                        const char *urn;
                        size_t j;

                        snprintf(w, sizeof(w), "%s.schemaExtensions[%zu]",
                                 where, k);
                        if (!json_is_object(e))
                                FAIL(bad(err, w, "must be an object"));
                        if (keys_known(e, ext_known, w, err) < 0)
                                FAIL(-1);
                        urn = json_string_value(json_object_get(e, "schema"));
                        if (urn && scim_strcaseeq(urn, SCIM_URN_ENTERPRISE) &&
                            rt == SCIM_RT_USER)
                                continue; /* built in */
                        for (j = 0; j < m->nschemas; j++)
                                if (urn && scim_strcaseeq(m->schemas[j].urn, urn))
                                        break;
                        if (j == m->nschemas)
                                FAIL(bad(err, w,
                                         "'schema' must name a schema of "
                                         "this definition"));
                        if (m->schemas[j].rt >= 0)
                                FAIL(bad(err, w,
                                         "schema %.200s extends two "
                                         "resource types (or is a core "
                                         "schema)",
                                         m->schemas[j].urn));
                        m->schemas[j].rt = r;
                        if (get_bool(e, "required", 0, &m->schemas[j].required,
                                     w, err) < 0)
                                FAIL(-1);
                }
                v = json_object_get(o, "required");
                if (v && !json_is_array(v))
                        FAIL(bad(err, where,
                                 "'required' must be an array of paths"));
                row->required = calloc(json_array_size(v) + 1, sizeof(mpath_t));
                if (!row->required)
                        FAIL(scim_err_set_retry(err, 503, "out of memory"));
                json_array_foreach(v, k, e)
                {
                        char w[96];
                        const mattr_t *d;
                        const scim_attr_t *c;

                        snprintf(w, sizeof(w), "%s.required[%zu]", where, k);
                        row->nrequired++;
                        if (resolve_path(m, rt, json_string_value(e),
                                         &row->required[k], &d, &c, w,
                                         err) < 0)
                                FAIL(-1);
                }
                v = json_object_get(o, "defaults");
                if (v && !json_is_object(v))
                        FAIL(bad(err, where,
                                 "'defaults' must be an object of path: "
                                 "value"));
                row->defaults =
                    calloc(json_object_size(v) + 1, sizeof(mpath_t));
                if (!row->defaults)
                        FAIL(scim_err_set_retry(err, 503, "out of memory"));
                {
                        const char *path;

                        json_object_foreach(v, path, e)
                        {
                                char w[160];
                                const mattr_t *d;
                                const scim_attr_t *c;
                                mpath_t *p = &row->defaults[row->ndefaults++];

                                snprintf(w, sizeof(w), "%s.defaults.%.64s",
                                         where, path);
                                if (resolve_path(m, rt, path, p, &d, &c, w,
                                                 err) < 0)
                                        FAIL(-1);
                                if (p->sub)
                                        FAIL(bad(err, w,
                                                 "defaults take top-level "
                                                 "attributes"));
                                if (d) {
                                        if (model_value_check(m, d, e,
                                                              &p->value, w,
                                                              err) < 0)
                                                FAIL(-1);
                                } else {
                                        scim_err_t ve;

                                        scim_err_clear(&ve);
                                        if (scim_attr_read_only(c))
                                                FAIL(bad(err, w,
                                                         "attribute is "
                                                         "readOnly"));
                                        if (scim_value_normalize(
                                                rt, c, e, &p->value, &ve) <
                                                0 ||
                                            !p->value)
                                                FAIL(bad(err, w,
                                                         "not a value of "
                                                         "the attribute: "
                                                         "%.200s",
                                                         ve.detail));
                                }
                        }
                }
        }
        json_array_foreach(arr, i, o)
        {
                mrtype_t *row = &m->rt[ridx[i]];
                scim_rtype_t rt = ridx[i] == RT_USER    ? SCIM_RT_USER
                                  : ridx[i] == RT_GROUP ? SCIM_RT_GROUP
                                                        : row->row.code;
                json_t *v = json_object_get(o, "attributeCatalogs"), *e;
                const char *path;
                char where[64];

                snprintf(where, sizeof(where),
                         "resourceTypes[%zu].attributeCatalogs", i);
                if (!v)
                        continue;
                if (!json_is_object(v))
                        FAIL(bad(err, where,
                                 "must be an object of path: catalog"));
                row->catpaths = calloc(json_object_size(v) + 1,
                                       sizeof(mpath_t));
                row->catidx = calloc(json_object_size(v) + 1, sizeof(int));
                if (!row->catpaths || !row->catidx)
                        FAIL(scim_err_set_retry(err, 503, "out of memory"));
                json_object_foreach(v, path, e)
                {
                        const mattr_t *d;
                        const scim_attr_t *c;
                        size_t k = row->ncatpaths++;
                        char w[160];

                        snprintf(w, sizeof(w), "%s.%.64s", where, path);
                        if (resolve_path(m, rt, path, &row->catpaths[k], &d,
                                         &c, w, err) < 0)
                                FAIL(-1);
                        if ((d ? d->type : scim_attr_type(c)) !=
                            SCIM_T_STRING)
                                FAIL(bad(err, w,
                                         "only string attributes take a "
                                         "catalog"));
                        if (!json_is_string(e) ||
                            (row->catidx[k] = catalog_index(
                                 m, json_string_value(e))) < 0)
                                FAIL(bad(err, w,
                                         "names no catalog of this "
                                         "definition"));
                }
        }
#undef FAIL
        free(ridx);
        /* an extension nobody names extends nothing: refuse, it would be
         * advertised but never accepted */
        for (size_t j = 0; j < m->nschemas; j++)
                if (m->schemas[j].rt < 0) {
                        char w[32];

                        snprintf(w, sizeof(w), "schemas[%zu]", j);
                        return bad(err, w,
                                   "schema %.200s is not in any resource "
                                   "type's schemaExtensions (nor any type's "
                                   "core schema)",
                                   m->schemas[j].urn);
                }
        for (size_t j = 0; j < m->nschemas; j++)
                if (resolve_refs_in(m, m->schemas[j].attrs,
                                    m->schemas[j].nattrs, m->schemas[j].urn,
                                    err) < 0)
                        return -1;
        return 0;
}

int scim_model_compile_codes(const json_t *def, const json_t *codes,
                             int64_t generation, scim_model_t **out,
                             scim_err_t *err)
{
        static const char *const known[] = {"profile",   "description",
                                            "schemas",   "resourceTypes",
                                            "catalogs",  "storageCodes",
                                            NULL};
        scim_model_t *m;
        json_t *map = NULL, *empty = json_array();
        int rc = -1;

        *out = NULL;
        if (!json_is_object(def)) {
                json_decref(empty);
                return bad(err, "document", "must be a JSON object");
        }
        if (keys_known(def, known, "document", err) < 0 ||
            (json_object_get(def, "profile") &&
             !json_is_string(json_object_get(def, "profile")))) {
                json_decref(empty);
                return err->status ? -1 : bad(err, "profile", "must be a string");
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                json_decref(empty);
                return scim_err_set_retry(err, 503, "out of memory");
        }
        m->refs = 1;
        m->generation = generation;
        m->def = json_deep_copy(def);
        if (!m->def) {
                scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        if (!(map = codes_start(def, codes, err)))
                goto out;
        if (compile_catalogs(m, json_object_get(m->def, "catalogs"), err) < 0 ||
            compile_schemas(m, json_object_get(m->def, "schemas"), err) < 0)
                goto out;
        {
                const json_t *rts = json_object_get(m->def, "resourceTypes");

                if (compile_rtypes_in(m, rts ? rts : empty, map, err) < 0)
                        goto out;
        }
        if (json_object_size(map))
                json_object_set(m->def, "storageCodes", map);
        else
                json_object_del(m->def, "storageCodes");
        *out = m;
        m = NULL;
        rc = 0;
out:
        json_decref(map);
        json_decref(empty);
        if (m)
                model_free(m);
        return rc;
}

int scim_model_compile(const json_t *def, int64_t generation,
                       scim_model_t **out, scim_err_t *err)
{
        return scim_model_compile_codes(def, NULL, generation, out, err);
}

const json_t *scim_model_codes(const scim_model_t *m)
{
        return m ? json_object_get(m->def, "storageCodes") : NULL;
}

/* ------------------------------------------------------------ discovery */

/* The advertised attribute of schema doc s at path p (top, sub). */
static json_t *doc_attr(json_t *s, const mpath_t *p)
{
        json_t *attrs = json_object_get(s, "attributes"), *a, *subs, *x;
        size_t i, j;

        json_array_foreach(attrs, i, a) if (scim_strcaseeq(
            json_string_value(json_object_get(a, "name")), p->attr))
        {
                if (!p->sub)
                        return a;
                subs = json_object_get(a, "subAttributes");
                json_array_foreach(subs, j, x) if (scim_strcaseeq(
                    json_string_value(json_object_get(x, "name")), p->sub)) return x;
        }
        return NULL;
}

json_t *scim_model_schemas_doc(const scim_model_t *m)
{
        json_t *a = json_deep_copy(scim_schemas_doc()), *s;
        size_t i;

        if (!m)
                return a;
        /* the built-in schemas as this tenant has them: a disabled type's
         * core schema left out, the definition's required paths marked */
        for (i = json_array_size(a); i-- > 0;) {
                const char *id;
                scim_rtype_t rt;

                s = json_array_get(a, i);
                id = json_string_value(json_object_get(s, "id"));
                if (!id)
                        continue;
                if (!strcmp(id, SCIM_URN_GROUP) &&
                    !scim_model_enabled(m, SCIM_RT_GROUP)) {
                        json_array_remove(a, i);
                        continue;
                }
                rt = !strcmp(id, SCIM_URN_GROUP) ? SCIM_RT_GROUP
                                                 : SCIM_RT_USER;
                for (size_t r = 0; r < m->rt[model_rt_index(m, rt)].nrequired;
                     r++) {
                        const mpath_t *p =
                            &m->rt[model_rt_index(m, rt)].required[r];
                        const char *want = p->urn ? p->urn
                                           : rt == SCIM_RT_GROUP ? SCIM_URN_GROUP
                                                                 : SCIM_URN_USER;
                        json_t *x;

                        if (strcmp(want, id))
                                continue;
                        if ((x = doc_attr(s, p))) {
                                json_object_set_new(x, "required", json_true());
                                if (p->sub) { /* and its parent */
                                        mpath_t top = {.attr = p->attr};
                                        json_t *pa = doc_attr(s, &top);

                                        if (pa)
                                                json_object_set_new(
                                                    pa, "required", json_true());
                                }
                        }
                }
        }
        for (i = 0; i < m->nschemas; i++)
                if (m->schemas[i].rt >= 0 && m->rt[m->schemas[i].rt].enabled)
                        json_array_append(a, m->schemas[i].doc);
        return a;
}

json_t *scim_model_resource_types_doc(const scim_model_t *m)
{
        json_t *in = (json_t *)scim_resource_types_doc(), *out = json_array();
        size_t i;
        json_t *rt;

        json_array_foreach(in, i, rt)
        {
                const scim_rtype_row_t *row = scim_rtype_by_name(
                    json_string_value(json_object_get(rt, "id")));
                scim_rtype_t t = row ? row->code : 0;
                json_t *c, *ext;

                if (!row || !scim_model_enabled(m, t))
                        continue;
                c = json_deep_copy(rt);
                ext = json_object_get(c, "schemaExtensions");
                for (size_t j = 0; m && j < m->nschemas; j++) {
                        if (m->schemas[j].rt != model_rt_index(m, t) ||
                            m->schemas[j].core)
                                continue;
                        if (!ext) {
                                ext = json_array();
                                json_object_set_new(c, "schemaExtensions", ext);
                                /* keep meta last */
                                json_t *meta = json_incref(
                                    json_object_get(c, "meta"));
                                if (meta) {
                                        json_object_del(c, "meta");
                                        json_object_set_new(c, "meta", meta);
                                }
                        }
                        json_array_append_new(
                            ext, json_pack("{s:s, s:b}", "schema",
                                           m->schemas[j].urn, "required",
                                           m->schemas[j].required));
                }
                json_array_append_new(out, c);
        }
        for (size_t r = RT_N; m && r < m->nrt; r++) {
                const mrtype_t *t = &m->rt[r];
                json_t *c, *ext = json_array();
                const char *desc;

                if (!t->enabled)
                        continue;
                for (size_t j = 0; j < m->nschemas; j++)
                        if (m->schemas[j].rt == (int)r && !m->schemas[j].core)
                                json_array_append_new(
                                    ext, json_pack("{s:s, s:b}", "schema",
                                                   m->schemas[j].urn,
                                                   "required",
                                                   m->schemas[j].required));
                c = json_pack("{s:[s], s:s, s:s, s:s, s:s}", "schemas",
                              "urn:ietf:params:scim:schemas:core:2.0:"
                              "ResourceType",
                              "id", t->row.name, "name", t->row.name,
                              "endpoint", t->row.endpoint, "schema",
                              t->row.schema);
                for (size_t k = 0; k < json_array_size(
                                           json_object_get(m->def,
                                                           "resourceTypes"));
                     k++) {
                        json_t *e = json_array_get(
                            json_object_get(m->def, "resourceTypes"), k);

                        desc = json_string_value(
                            json_object_get(e, "description"));
                        if (desc && scim_strcaseeq(json_string_value(
                                                       json_object_get(e, "name")),
                                                   t->row.name))
                                json_object_set_new(c, "description",
                                                    json_string(desc));
                }
                if (json_array_size(ext))
                        json_object_set(c, "schemaExtensions", ext);
                json_decref(ext);
                json_object_set_new(c, "meta",
                                    json_pack("{s:s}", "resourceType",
                                              "ResourceType"));
                json_array_append_new(out, c);
        }
        return out;
}

json_t *scim_model_service_provider_doc(const scim_model_t *m)
{
        (void)m; /* nothing per tenant yet: the same features for all */
        return json_deep_copy(scim_service_provider_doc());
}

/* ------------------------------------------------------------ catalogs */

int scim_model_catalog_edit(const scim_model_t *m, const char *name,
                            const char *op, const json_t *values,
                            json_t **out, scim_err_t *err)
{
        json_t *def, *cat, *vals, *nv;
        int ci, exact;
        size_t i;
        json_t *v;

        *out = NULL;
        if (!m || !name || (ci = catalog_index(m, name)) < 0)
                return scim_err_set(err, 404, NULL,
                                    "catalog '%.64s' is not defined for this "
                                    "tenant",
                                    name ? name : "");
        if (!json_is_array(values))
                return scim_err_set(err, 400, "invalidValue",
                                    "catalog values must be an array of "
                                    "strings");
        json_array_foreach(values, i, v) if (!json_is_string(v)) return
            scim_err_set(err, 400, "invalidValue",
                         "catalog values[%zu] is not a string", i);
        exact = m->cats[ci].case_exact;
        def = json_deep_copy(m->def);
        cat = json_object_get(json_object_get(def, "catalogs"), name);
        vals = json_object_get(cat, "values");
        if (!strcmp(op, "put")) {
                nv = json_deep_copy(values);
        } else {
                nv = json_array();
                /* keep the old values unless removed */
                json_array_foreach(vals, i, v)
                {
                        const char *s = json_string_value(v);
                        int drop = 0;
                        size_t j;
                        json_t *r;

                        if (!strcmp(op, "remove"))
                                json_array_foreach(values, j, r) if (
                                    exact ? !strcmp(s, json_string_value(r))
                                          : scim_caseeq(s,
                                                        json_string_value(r)))
                                    drop = 1;
                        if (!drop)
                                json_array_append(nv, v);
                }
                if (!strcmp(op, "add"))
                        json_array_foreach(values, i, v)
                        {
                                int have = 0;
                                size_t j;
                                json_t *e;

                                json_array_foreach(nv, j, e) if (
                                    exact ? !strcmp(json_string_value(e),
                                                    json_string_value(v))
                                          : scim_caseeq(json_string_value(e),
                                                        json_string_value(v)))
                                    have = 1;
                                if (!have)
                                        json_array_append(nv, v);
                        }
        }
        json_object_set_new(cat, "values", nv);
        *out = def;
        return 0;
}

json_t *scim_model_ext_urns(const scim_model_t *m, scim_rtype_t rt)
{
        json_t *o = json_object();

        for (size_t i = 0; m && i < m->nschemas; i++) {
                const mschema_t *sc = &m->schemas[i];
                json_t *multi;

                if (sc->rt != model_rt_index(m, rt) || sc->core)
                        continue;
                multi = json_array();
                for (size_t j = 0; j < sc->nattrs; j++)
                        if (sc->attrs[j].multi)
                                json_array_append_new(
                                    multi, json_string(sc->attrs[j].name));
                json_object_set_new(o, sc->urn, multi);
        }
        return o;
}

void scim_model_each_unique(const scim_model_t *m, scim_rtype_t rt,
                            void (*fn)(void *ctx, const char *urn,
                                       const char *name, int case_exact),
                            void *ctx)
{
        int ri = model_rt_index(m, rt);

        if (!m || ri < 0)
                return;
        for (size_t i = 0; i < m->nschemas; i++) {
                const mschema_t *sc = &m->schemas[i];

                if (sc->rt != ri)
                        continue;
                for (size_t j = 0; j < sc->nattrs; j++)
                        if (sc->attrs[j].unique)
                                fn(ctx, sc->urn, sc->attrs[j].name,
                                   sc->attrs[j].case_exact);
        }
}

const json_t *scim_model_value(const json_t *res, const char *urn,
                               const char *name)
{
        const json_t *blk = json_object_get(res, urn);

        if (json_is_object(blk))
                return json_object_get(blk, name);
        /* the core schema of a tenant type: top-level, and `schemas`
         * names it */
        {
                const json_t *sc = json_object_get(res, "schemas");
                size_t i;
                json_t *v;

                json_array_foreach(sc, i, v) if (i == 0 &&
                                                 json_string_value(v) &&
                                                 !strcmp(json_string_value(v),
                                                         urn))
                    return json_object_get(res, name);
        }
        return NULL;
}

static int refs_in(const mattr_t *list, size_t n, const json_t *obj,
                   const char *urn, scim_model_ref_fn fn, void *ctx,
                   scim_err_t *err)
{
        for (size_t i = 0; i < n; i++) {
                const mattr_t *a = &list[i];
                const json_t *v = json_object_get(obj, a->name), *e;
                size_t k;

                if (!v)
                        continue;
                if (a->nsub) {
                        if (json_is_array(v)) {
                                json_array_foreach(v, k, e) if (refs_in(
                                    a->sub, a->nsub, e, urn, fn, ctx,
                                    err) < 0) return -1;
                        } else if (refs_in(a->sub, a->nsub, v, urn, fn, ctx,
                                           err) < 0)
                                return -1;
                        continue;
                }
                if (!a->ref)
                        continue;
                for (k = 0; k < (json_is_array(v) ? json_array_size(v) : 1);
                     k++) {
                        const json_t *x = json_is_array(v) ? json_array_get(v, k)
                                                           : v;
                        const char *s = json_string_value(x);
                        json_t *doc = NULL;
                        int ok;

                        if (!s || !*s)
                                continue;
                        /* a JSON document in a string: its "value" */
                        if (s[0] == '{' && (doc = scim_json_load(s, strlen(s))) &&
                            json_string_value(json_object_get(doc, "value")))
                                s = json_string_value(
                                    json_object_get(doc, "value"));
                        ok = fn(ctx, &a->refw, s);
                        if (!ok)
                                scim_err_set(err, 400, "invalidValue",
                                             "attribute '%.200s%s%s': "
                                             "'%.100s' is no %s's %s",
                                             urn ? urn : "", urn ? ":" : "",
                                             a->name, s, a->refw.type_name,
                                             a->refw.attr_name);
                        json_decref(doc);
                        if (!ok)
                                return -1;
                }
        }
        return 0;
}

int scim_model_check_refs(const scim_model_t *m, scim_rtype_t rt,
                          const json_t *res, scim_model_ref_fn fn, void *ctx,
                          scim_err_t *err)
{
        int r = model_rt_index(m, rt);

        if (!m || r < 0 || !fn)
                return 0;
        for (size_t i = 0; i < m->nschemas; i++) {
                const mschema_t *s = &m->schemas[i];
                const json_t *obj = s->core ? res : json_object_get(res, s->urn);

                if (s->rt != r || !json_is_object(obj))
                        continue;
                if (refs_in(s->attrs, s->nattrs, obj, s->core ? NULL : s->urn,
                            fn, ctx, err) < 0)
                        return -1;
        }
        return 0;
}

json_t *scim_model_core_attrs(const scim_model_t *m, scim_rtype_t rt)
{
        int r = model_rt_index(m, rt);
        json_t *a = json_array();

        if (!m || r < RT_N || m->rt[r].core < 0)
                return a;
        {
                const mschema_t *cs = &m->schemas[m->rt[r].core];

                for (size_t i = 0; i < cs->nattrs; i++)
                        json_array_append_new(
                            a, json_pack("{s:s, s:b}", "name",
                                         cs->attrs[i].name, "multi",
                                         cs->attrs[i].multi));
        }
        return a;
}

int scim_model_core_unique(const scim_model_t *m, scim_rtype_t rt,
                           const char *name, const char **urn,
                           const char **canon, int *case_exact)
{
        int r = model_rt_index(m, rt);
        const mschema_t *cs;
        const mattr_t *a;

        if (!m || r < RT_N || m->rt[r].core < 0 || !name)
                return 0;
        cs = &m->schemas[m->rt[r].core];
        a = model_attr(cs->attrs, cs->nattrs, name);
        if (!a || !a->unique)
                return 0;
        *urn = cs->urn;
        *canon = a->name;
        *case_exact = a->case_exact;
        return 1;
}

size_t scim_model_each_returned(const scim_model_t *m, scim_rtype_t rt,
                                void (*fn)(void *ctx, const char *urn,
                                           const char *name, char kind),
                                void *ctx)
{
        static const char KIND[] = {'a', 'n', 0, 'r'};
        int r = model_rt_index(m, rt);
        size_t n = 0;

        if (!m || r < 0)
                return 0;
        for (size_t i = 0; i < m->nschemas; i++) {
                const mschema_t *sc = &m->schemas[i];

                if (sc->rt != r)
                        continue;
                for (size_t j = 0; j < sc->nattrs; j++) {
                        int k = sc->attrs[j].ret;

                        if (k < 0 || k > 3 || !KIND[k])
                                continue;
                        n++;
                        if (fn)
                                fn(ctx, sc->core ? NULL : sc->urn,
                                   sc->attrs[j].name, KIND[k]);
                }
        }
        return n;
}
