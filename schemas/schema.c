/*
 * schema.c — SCIM resource schemas as code: the attribute tables built from
 * the schemas/scim JSON files at start-up, attribute lookup, resource normalisation
 * (the liberal reading of what Entra and Okta send), discovery documents.
 *
 * Threads: scim_schemas_init runs once on the main thread; afterwards all
 * tables are read-only and every function is reentrant.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_embedded.h"
#include "schemas/scim_schemas.h"
#include "schemas/schemas_internal.h"

struct scim_attr {
        const char *name;
        scim_atype_t type;
        int multi, case_exact, read_only, required;
        const char *schema;
        const json_t *canon; /* canonicalValues enforced (the "type" of
                                multi-valued attributes), borrowed from the
                                schema document, or NULL */
        struct scim_attr *subs;
        size_t nsubs;
};

typedef struct schema_tab {
        const char *urn;
        scim_attr_t *attrs;
        size_t n;
} schema_tab_t;

static json_t *doc_user, *doc_group, *doc_ent, *doc_schemas, *doc_rtypes,
    *doc_spc;
static schema_tab_t tab_user, tab_group, tab_ent;
static scim_attr_t common_attrs[3];
static scim_attr_t meta_subs[5];

static scim_atype_t parse_type(const char *t)
{
        if (!t)
                return SCIM_T_STRING;
        if (!strcmp(t, "boolean"))
                return SCIM_T_BOOLEAN;
        if (!strcmp(t, "decimal"))
                return SCIM_T_DECIMAL;
        if (!strcmp(t, "integer"))
                return SCIM_T_INTEGER;
        if (!strcmp(t, "dateTime"))
                return SCIM_T_DATETIME;
        if (!strcmp(t, "reference"))
                return SCIM_T_REFERENCE;
        if (!strcmp(t, "binary"))
                return SCIM_T_BINARY;
        if (!strcmp(t, "complex"))
                return SCIM_T_COMPLEX;
        return SCIM_T_STRING;
}

/* Builds attribute definitions from a JSON "attributes" array; the strings
 * are borrowed from the documents, which live until shutdown. */
static scim_attr_t *build_attrs(const json_t *arr, const char *urn, size_t *n)
{
        size_t i, cnt = json_array_size(arr);
        scim_attr_t *out = calloc(cnt ? cnt : 1, sizeof(*out));
        json_t *a;

        if (!out)
                return NULL;
        json_array_foreach(arr, i, a)
        {
                const char *mut =
                    json_string_value(json_object_get(a, "mutability"));

                out[i].name = json_string_value(json_object_get(a, "name"));
                out[i].type =
                    parse_type(json_string_value(json_object_get(a, "type")));
                out[i].multi = json_is_true(json_object_get(a, "multiValued"));
                out[i].case_exact =
                    json_is_true(json_object_get(a, "caseExact"));
                out[i].required = json_is_true(json_object_get(a, "required"));
                out[i].read_only = mut && !strcmp(mut, "readOnly");
                out[i].schema = urn;
                /* a multi-valued attribute's "type" is refused outside
                 * its canonicalValues (work/home/other, ...): Entra and
                 * Okta send exactly those; anything else is a mapping
                 * error better answered than stored */
                if (!strcmp(out[i].name, "type") &&
                    json_array_size(json_object_get(a, "canonicalValues")))
                        out[i].canon = json_object_get(a, "canonicalValues");
                if (json_object_get(a, "subAttributes"))
                        out[i].subs = build_attrs(
                            json_object_get(a, "subAttributes"), urn,
                            &out[i].nsubs);
        }
        *n = cnt;
        return out;
}

static void free_attrs(scim_attr_t *a, size_t n)
{
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                free_attrs(a[i].subs, a[i].nsubs);
        free(a);
}

static json_t *load_doc(const char *name, char *errstr, size_t errlen)
{
        const scim_embedded_file_t *f = scim_embedded_find(name);
        json_error_t je;
        json_t *j;

        if (!f) {
                snprintf(errstr, errlen, "schema file %s is not compiled in",
                         name);
                return NULL;
        }
        j = json_loadb(f->data, f->len, 0, &je);
        if (!j)
                snprintf(errstr, errlen, "%s:%d: %s", name, je.line, je.text);
        return j;
}

int scim_schemas_init(char *errstr, size_t errlen)
{
        static const char *meta_names[5] = {"resourceType", "created",
                                            "lastModified", "location",
                                            "version"};

        if (doc_user)
                return 0;
        if (!(doc_user = load_doc("scim/User.json", errstr, errlen)) ||
            !(doc_group = load_doc("scim/Group.json", errstr, errlen)) ||
            !(doc_ent = load_doc("scim/EnterpriseUser.json", errstr, errlen)) ||
            !(doc_rtypes = load_doc("scim/ResourceTypes.json", errstr, errlen)) ||
            !(doc_spc = load_doc("scim/ServiceProviderConfig.json", errstr,
                                 errlen)))
                return -1;
        tab_user.urn = SCIM_URN_USER;
        tab_user.attrs = build_attrs(json_object_get(doc_user, "attributes"),
                                     SCIM_URN_USER, &tab_user.n);
        tab_group.urn = SCIM_URN_GROUP;
        tab_group.attrs = build_attrs(json_object_get(doc_group, "attributes"),
                                      SCIM_URN_GROUP, &tab_group.n);
        tab_ent.urn = SCIM_URN_ENTERPRISE;
        tab_ent.attrs = build_attrs(json_object_get(doc_ent, "attributes"),
                                    SCIM_URN_ENTERPRISE, &tab_ent.n);
        for (int i = 0; i < 5; i++) {
                meta_subs[i].name = meta_names[i];
                meta_subs[i].type = (i == 1 || i == 2) ? SCIM_T_DATETIME
                                    : i == 3           ? SCIM_T_REFERENCE
                                                       : SCIM_T_STRING;
                meta_subs[i].read_only = 1;
                meta_subs[i].case_exact = (i == 4);
        }
        common_attrs[0] = (scim_attr_t){.name = "id", .case_exact = 1,
                                        .read_only = 1};
        common_attrs[1] = (scim_attr_t){.name = "externalId", .case_exact = 1};
        common_attrs[2] = (scim_attr_t){.name = "meta",
                                        .type = SCIM_T_COMPLEX,
                                        .read_only = 1,
                                        .subs = meta_subs,
                                        .nsubs = 5};
        doc_schemas = json_array();
        {
                json_t *docs[3] = {doc_user, doc_ent, doc_group};

                for (int i = 0; i < 3; i++) {
                        json_t *d = json_deep_copy(docs[i]);

                        json_object_set_new(d, "meta",
                                            json_pack("{s:s}", "resourceType",
                                                      "Schema"));
                        json_array_append_new(doc_schemas, d);
                }
        }
        if (!tab_user.attrs || !tab_group.attrs || !tab_ent.attrs) {
                snprintf(errstr, errlen, "out of memory building schemas");
                return -1;
        }
        return scim_event_init(errstr, errlen);
}

void scim_schemas_shutdown(void)
{
        if (!doc_user)
                return;
        scim_event_shutdown();
        free_attrs(tab_user.attrs, tab_user.n);
        free_attrs(tab_group.attrs, tab_group.n);
        free_attrs(tab_ent.attrs, tab_ent.n);
        memset(&tab_user, 0, sizeof(tab_user));
        memset(&tab_group, 0, sizeof(tab_group));
        memset(&tab_ent, 0, sizeof(tab_ent));
        json_decref(doc_user);
        json_decref(doc_group);
        json_decref(doc_ent);
        json_decref(doc_schemas);
        json_decref(doc_rtypes);
        json_decref(doc_spc);
        doc_user = doc_group = doc_ent = doc_schemas = doc_rtypes = doc_spc =
            NULL;
}

const char *scim_attr_name(const scim_attr_t *a) { return a->name; }
scim_atype_t scim_attr_type(const scim_attr_t *a) { return a->type; }
int scim_attr_multi(const scim_attr_t *a) { return a->multi; }
int scim_attr_case_exact(const scim_attr_t *a) { return a->case_exact; }
int scim_attr_read_only(const scim_attr_t *a) { return a->read_only; }
const char *scim_attr_schema(const scim_attr_t *a) { return a->schema; }

static const scim_attr_t *find_in(const scim_attr_t *a, size_t n,
                                  const char *name, size_t len)
{
        /* the first letters first (| 0x20 folds case; any pair that
         * compares equal caselessly passes it): one byte, not a strlen,
         * for each attribute that is not the one */
        for (size_t i = 0; i < n; i++)
                if (len && (a[i].name[0] | 0x20) == (name[0] | 0x20) &&
                    strlen(a[i].name) == len &&
                    strncasecmp(a[i].name, name, len) == 0)
                        return &a[i];
        return NULL;
}

const char *scim_schema_extension(scim_rtype_t rt, const char *urn)
{
        if (rt == SCIM_RT_USER && urn && scim_strcaseeq(urn, SCIM_URN_ENTERPRISE))
                return SCIM_URN_ENTERPRISE;
        return NULL;
}

/* 1 for User and Group; a tenant type (any other code) has only the
 * common attributes here: its own schema is the tenant model's. */
static int builtin_rt(scim_rtype_t rt)
{
        return rt == SCIM_RT_USER || rt == SCIM_RT_GROUP;
}

static const scim_attr_t *top_attr(scim_rtype_t rt, const char *name,
                                   size_t len)
{
        const schema_tab_t *t = rt == SCIM_RT_GROUP ? &tab_group : &tab_user;
        const scim_attr_t *a =
            builtin_rt(rt) ? find_in(t->attrs, t->n, name, len) : NULL;

        return a ? a : find_in(common_attrs, 3, name, len);
}

const scim_attr_t *scim_schema_attr(scim_rtype_t rt, const scim_attr_t *parent,
                                    const char *name)
{
        size_t core_len;
        const char *core = rt == SCIM_RT_GROUP ? SCIM_URN_GROUP : SCIM_URN_USER;

        if (!name)
                return NULL;
        if (parent)
                return find_in(parent->subs, parent->nsubs, name, strlen(name));
        if (!builtin_rt(rt))
                return top_attr(rt, name, strlen(name));
        core_len = strlen(core);
        if (strncasecmp(name, core, core_len) == 0 && name[core_len] == ':')
                return top_attr(rt, name + core_len + 1,
                                strlen(name + core_len + 1));
        if (rt == SCIM_RT_USER) {
                size_t el = strlen(SCIM_URN_ENTERPRISE);

                if (strncasecmp(name, SCIM_URN_ENTERPRISE, el) == 0 &&
                    name[el] == ':')
                        return find_in(tab_ent.attrs, tab_ent.n, name + el + 1,
                                       strlen(name + el + 1));
        }
        return top_attr(rt, name, strlen(name));
}

/* ------------------------------------------------------ normalisation */

static int is_empty(const json_t *v)
{
        return !v || json_is_null(v) ||
               (json_is_string(v) && json_string_length(v) == 0) ||
               (json_is_array(v) && json_array_size(v) == 0) ||
               (json_is_object(v) && json_object_size(v) == 0);
}

static int norm_value(scim_rtype_t rt, const scim_attr_t *a, const json_t *in,
                      json_t **out, scim_err_t *err, int depth);

/* Normalises a simple (non-complex) single value of attribute a. */
static int norm_simple(const scim_attr_t *a, const json_t *in, json_t **out,
                       scim_err_t *err)
{
        *out = NULL;
        if (is_empty(in))
                return 0;
        if (json_is_object(in) || json_is_array(in))
                return scim_err_set(err, 400, "invalidValue",
                                    "attribute '%s' takes a single %s value, "
                                    "not an %s",
                                    a->name,
                                    a->type == SCIM_T_BOOLEAN ? "boolean"
                                                              : "simple",
                                    json_is_object(in) ? "object" : "array");
        if (a->type == SCIM_T_BOOLEAN) {
                if (json_is_boolean(in)) {
                        *out = json_incref((json_t *)in);
                        return 0;
                }
                if (json_is_string(in)) {
                        const char *s = json_string_value(in);

                        if (scim_strcaseeq(s, "true")) {
                                *out = json_true();
                                return 0;
                        }
                        if (scim_strcaseeq(s, "false")) {
                                *out = json_false();
                                return 0;
                        }
                }
                return scim_err_set(err, 400, "invalidValue",
                                    "attribute '%s' must be a boolean",
                                    a->name);
        }
        if (a->type == SCIM_T_INTEGER || a->type == SCIM_T_DECIMAL) {
                if (json_is_number(in)) {
                        *out = json_incref((json_t *)in);
                        return 0;
                }
                return scim_err_set(err, 400, "invalidValue",
                                    "attribute '%s' must be a number", a->name);
        }
        /* string-like: keep strings verbatim, turn scalars into text */
        if (json_is_string(in) && a->canon && !a->read_only) {
                size_t i;
                json_t *c;

                json_array_foreach(a->canon, i, c) if (scim_caseeq(
                    json_string_value(c), json_string_value(in)))
                {
                        /* stored as sent: Entra re-sends whatever does not
                         * read back exactly as it wrote it */
                        *out = json_incref((json_t *)in);
                        return 0;
                }
                return scim_err_set(err, 400, "invalidValue",
                                    "'%.64s' is not a valid %s (one of its "
                                    "canonicalValues is expected)",
                                    json_string_value(in), a->name);
        }
        if (json_is_string(in)) {
                if (a->type == SCIM_T_DATETIME) {
                        int64_t ms;

                        if (scim_time_parse(json_string_value(in), &ms) < 0)
                                return scim_err_set(
                                    err, 400, "invalidValue",
                                    "attribute '%s' must be a dateTime",
                                    a->name);
                }
                *out = json_incref((json_t *)in);
                return 0;
        }
        {
                char *txt = json_dumps(in, JSON_ENCODE_ANY);

                if (!txt)
                        return scim_err_set_retry(err, 503, "out of memory");
                *out = json_string(txt);
                free(txt);
        }
        return 0;
}

/* Complex single value: canonical sub-attribute names, unknown subs kept
 * verbatim (clients send e.g. "display" variants), empties dropped. */
static int norm_complex(scim_rtype_t rt, const scim_attr_t *a, const json_t *in,
                        json_t **out, scim_err_t *err, int depth)
{
        const char *k;
        json_t *v, *o;

        *out = NULL;
        if (is_empty(in))
                return 0;
        if (!json_is_object(in))
                return scim_err_set(err, 400, "invalidValue",
                                    "attribute '%s' must be an object",
                                    a->name);
        o = json_object();
        json_object_foreach((json_t *)in, k, v)
        {
                const scim_attr_t *s = find_in(a->subs, a->nsubs, k, strlen(k));
                json_t *nv = NULL;

                if (!s)
                        continue; /* unknown sub-attribute: dropped */
                if (norm_value(rt, s, v, &nv, err, depth + 1) < 0) {
                        if (s->canon) { /* name the attribute: emails.type */
                                char d[sizeof(err->detail)];

                                snprintf(d, sizeof(d), "attribute '%s.%s': %s",
                                         a->name, s->name, err->detail);
                                snprintf(err->detail, sizeof(err->detail),
                                         "%s", d);
                        }
                        json_decref(o);
                        return -1;
                }
                if (nv)
                        json_object_set_new_nocheck(o, s->name, nv);
        }
        if (json_object_size(o) == 0) {
                json_decref(o);
                return 0;
        }
        *out = o;
        return 0;
}

static int is_manager(const scim_attr_t *a)
{
        return a->schema && !strcmp(a->schema, SCIM_URN_ENTERPRISE) &&
               !strcmp(a->name, "manager");
}

static int norm_value(scim_rtype_t rt, const scim_attr_t *a, const json_t *in,
                      json_t **out, scim_err_t *err, int depth)
{
        *out = NULL;
        if (depth > SCIM_MAX_JSON_DEPTH)
                return scim_err_set(err, 400, "invalidValue", "too deep");
        if (!a)
                return (*out = is_empty(in) ? NULL : json_deep_copy(in)), 0;
        if (is_manager(a)) {
                const json_t *m = in;

                if (json_is_array(m))
                        m = json_array_get(m, 0);
                if (json_is_string(m)) {
                        if (json_string_length(m) == 0)
                                return 0;
                        *out = json_pack("{s:O}", "value", m);
                        return 0;
                }
                if (is_empty(m))
                        return 0;
                if (norm_complex(rt, a, m, out, err, depth) < 0)
                        return -1;
                if (*out && !json_string_value(json_object_get(*out, "value"))) {
                        json_decref(*out);
                        *out = NULL;
                }
                return 0;
        }
        if (a->multi) {
                json_t *arr, *e;
                size_t i;

                if (is_empty(in))
                        return 0;
                arr = json_array();
                if (!json_is_array(in)) {
                        json_t *one = NULL;

                        if ((a->type == SCIM_T_COMPLEX
                                 ? norm_complex(rt, a, in, &one, err, depth)
                                 : norm_simple(a, in, &one, err)) < 0) {
                                json_decref(arr);
                                return -1;
                        }
                        if (one)
                                json_array_append_new(arr, one);
                } else {
                        json_array_foreach(in, i, e)
                        {
                                json_t *ne = NULL;

                                if (a->type == SCIM_T_COMPLEX &&
                                    json_is_string(e) &&
                                    json_string_length(e) > 0)
                                        ne = json_pack("{s:O}", "value", e);
                                else if ((a->type == SCIM_T_COMPLEX
                                              ? norm_complex(rt, a, e, &ne, err,
                                                             depth)
                                              : norm_simple(a, e, &ne, err)) <
                                         0) {
                                        json_decref(arr);
                                        return -1;
                                }
                                if (ne)
                                        json_array_append_new(arr, ne);
                        }
                }
                if (json_array_size(arr) == 0) {
                        json_decref(arr);
                        return 0;
                }
                *out = arr;
                return 0;
        }
        if (a->type == SCIM_T_COMPLEX)
                return norm_complex(rt, a, in, out, err, depth);
        return norm_simple(a, in, out, err);
}

int scim_value_normalize(scim_rtype_t rt, const scim_attr_t *a,
                         const json_t *in, json_t **out, scim_err_t *err)
{
        return norm_value(rt, a, in, out, err, 0);
}

/* Normalises an extension block's attributes into *blk. */
static int norm_ext_block(scim_rtype_t rt, const json_t *in, json_t *blk,
                          scim_err_t *err)
{
        const char *k;
        json_t *v;

        if (!json_is_object(in))
                return scim_err_set(err, 400, "invalidValue",
                                    "extension %s must be an object",
                                    SCIM_URN_ENTERPRISE);
        json_object_foreach((json_t *)in, k, v)
        {
                const scim_attr_t *a = find_in(tab_ent.attrs, tab_ent.n, k,
                                               strlen(k));
                json_t *nv = NULL;

                if (!a)
                        continue;
                if (norm_value(rt, a, v, &nv, err, 1) < 0)
                        return -1;
                if (nv)
                        json_object_set_new_nocheck(blk, a->name, nv);
                else
                        json_object_del(blk, a->name);
        }
        return 0;
}

static int norm_members(const json_t *in, json_t **out, scim_err_t *err)
{
        json_t *arr = json_array(), *e, *seen = json_object();
        size_t i;

        if (!json_is_array(in) && !is_empty(in)) {
                json_t *wrap = json_array();

                json_array_append(wrap, (json_t *)in);
                int rc = norm_members(wrap, out, err);

                json_decref(wrap);
                json_decref(arr);
                json_decref(seen);
                return rc;
        }
        if (json_array_size(in) > SCIM_MAX_MEMBERS_PER_REQUEST) {
                json_decref(arr);
                json_decref(seen);
                return scim_err_set(err, 400, "tooMany",
                                    "more than %d members in one request",
                                    SCIM_MAX_MEMBERS_PER_REQUEST);
        }
        json_array_foreach(in, i, e)
        {
                const char *val = NULL, *disp = NULL;
                json_t *m;

                if (json_is_string(e)) {
                        val = json_string_value(e);
                } else if (json_is_object(e)) {
                        const char *k;
                        json_t *v;

                        json_object_foreach(e, k, v)
                        {
                                if (scim_strcaseeq(k, "value"))
                                        val = json_string_value(v);
                                else if (scim_strcaseeq(k, "display") ||
                                         (scim_strcaseeq(k, "displayName") &&
                                          !disp))
                                        disp = json_string_value(v);
                        }
                }
                if (!val || !*val) {
                        json_decref(arr);
                        json_decref(seen);
                        return scim_err_set(err, 400, "invalidValue",
                                            "member %zu has no string value",
                                            i);
                }
                if (json_object_get(seen, val))
                        continue;
                json_object_set_new(seen, val, json_true());
                m = json_pack("{s:s}", "value", val);
                if (disp && *disp)
                        json_object_set_new(m, "display", json_string(disp));
                json_array_append_new(arr, m);
        }
        json_decref(seen);
        *out = arr;
        return 0;
}

int scim_resource_normalize(scim_rtype_t rt, const json_t *in, json_t **out,
                            json_t **members_out, scim_err_t *err)
{
        json_t *o = NULL, *ent = NULL, *custom = NULL, *schemas = NULL;
        const char *k;
        json_t *v;
        size_t el = strlen(SCIM_URN_ENTERPRISE);
        int rc = -1;

        *out = NULL;
        if (members_out)
                *members_out = NULL;
        if (!json_is_object(in))
                return scim_err_set(err, 400, "invalidSyntax",
                                    "resource must be a JSON object");
        /* o becomes *out: "schemas" first (its URNs are added at the
         * end), then the attributes in the order they came, then the
         * extension blocks (one object built in place, not a second one
         * with o copied into it). Keys and URNs are the schema tables'
         * names or keys of the parsed input, valid UTF-8 already: set
         * without jansson checking them again (_nocheck). */
        o = json_object();
        schemas = json_array();
        json_object_set_new_nocheck(o, "schemas", schemas);
        ent = json_object();
        custom = json_object();
        json_object_foreach((json_t *)in, k, v)
        {
                const scim_attr_t *a;
                json_t *nv = NULL;

                if (scim_strcaseeq(k, "schemas"))
                        continue;
                if (rt == SCIM_RT_GROUP && scim_strcaseeq(k, "members")) {
                        if (members_out && !is_empty(v)) {
                                json_decref(*members_out);
                                *members_out = NULL;
                                if (norm_members(v, members_out, err) < 0)
                                        goto out;
                        }
                        continue;
                }
                if (rt == SCIM_RT_USER && strncasecmp(k, SCIM_URN_ENTERPRISE,
                                                      el) == 0) {
                        if (k[el] == '\0') {
                                if (!is_empty(v) &&
                                    norm_ext_block(rt, v, ent, err) < 0)
                                        goto out;
                                continue;
                        }
                        if (k[el] == ':') {
                                json_t *one = json_object();

                                json_object_set(one, k + el + 1, v);
                                rc = norm_ext_block(rt, one, ent, err);
                                json_decref(one);
                                if (rc < 0)
                                        goto out;
                                rc = -1;
                                continue;
                        }
                }
                if (strncasecmp(k, "urn:", 4) == 0) {
                        /* custom extension block, kept verbatim */
                        if (json_is_object(v) && json_object_size(v) > 0)
                                json_object_set_new_nocheck(
                                    custom, k, json_deep_copy(v));
                        continue;
                }
                a = scim_schema_attr(rt, NULL, k);
                if (!a && !builtin_rt(rt)) {
                        /* a tenant type's attribute: the tenant model
                         * checks it (scim_model_enforce); "no value"s go */
                        if (!is_empty(v))
                                json_object_set_new_nocheck(
                                    o, k, json_deep_copy(v));
                        continue;
                }
                if (!a || a->read_only || !strcmp(a->name, "password"))
                        continue;
                if (norm_value(rt, a, v, &nv, err, 1) < 0)
                        goto out;
                if (nv)
                        json_object_set_new_nocheck(o, a->name, nv);
        }
        if (rt == SCIM_RT_USER &&
            !json_string_value(json_object_get(o, "userName"))) {
                scim_err_set(err, 400, "invalidValue",
                             "userName is required and must be a non-empty "
                             "string");
                goto out;
        }
        if (rt == SCIM_RT_GROUP &&
            !json_string_value(json_object_get(o, "displayName"))) {
                scim_err_set(err, 400, "invalidValue",
                             "displayName is required and must be a "
                             "non-empty string");
                goto out;
        }
        json_object_foreach(o, k, v)
        {
                /* RFC 7643 2.4: "primary" true at most once (a PATCH
                 * settles it before, ingest/patch.c) */
                size_t i, n = 0;
                json_t *e;

                json_array_foreach(v, i, e) n +=
                    json_is_true(json_object_get(e, "primary"));
                if (n > 1) {
                        scim_err_set(err, 400, "invalidValue",
                                     "%s: %zu values have primary true; at "
                                     "most one may",
                                     k, n);
                        goto out;
                }
        }
        if (builtin_rt(rt)) /* a tenant type's: the model rebuilds it */
                json_array_append_new(schemas,
                                      json_string_nocheck(rt == SCIM_RT_GROUP
                                                      ? SCIM_URN_GROUP
                                                      : SCIM_URN_USER));
        if (json_object_size(ent) > 0) {
                json_array_append_new(schemas,
                                      json_string_nocheck(SCIM_URN_ENTERPRISE));
                json_object_set(o, SCIM_URN_ENTERPRISE, ent);
        }
        json_object_foreach(custom, k, v)
        {
                json_array_append_new(schemas, json_string_nocheck(k));
                json_object_set(o, k, v);
        }
        *out = json_incref(o);
        rc = 0;
out:
        if (rc < 0 && members_out) {
                json_decref(*members_out);
                *members_out = NULL;
        }
        json_decref(o);
        json_decref(ent);
        json_decref(custom);
        return rc;
}

const json_t *scim_schemas_doc(void) { return doc_schemas; }
const json_t *scim_resource_types_doc(void) { return doc_rtypes; }
const json_t *scim_service_provider_doc(void) { return doc_spc; }
