/* model_internal.h — the compiled form of a tenant definition, shared by
 * model.c (compile, discovery, catalogs) and enforce.c (the validator). */
#ifndef SCIM_MODEL_INTERNAL_H
#define SCIM_MODEL_INTERNAL_H

#include "model/scim_model.h"

enum { MUT_READWRITE, MUT_READONLY, MUT_IMMUTABLE, MUT_WRITEONLY };
enum { UNKNOWN_KEEP, UNKNOWN_DROP, UNKNOWN_REFUSE };
enum { RT_USER, RT_GROUP, RT_N };
/* Tenant resource types: at most this many names per tenant, ever (each
 * gets a storage code 'a'.. that is never reused, see storageCodes). */
#define MODEL_MAX_TYPES 16
#define MODEL_CODE_FIRST 'a'

typedef struct mattr {
        char *name;            /* the schema's spelling */
        scim_atype_t type;
        int multi, required, case_exact, mut;
        int unique;            /* uniqueness server|global: per tenant */
        int ret;               /* returned: index into RETURNED_NAMES
                                  (always, never, default, request) */
        json_t *canon;         /* canonicalValues (array) or NULL */
        int catalog;           /* index into model->cats, or -1 */
        char *ref;             /* "Type.attr": values must name an existing
                                  resource's attribute (resolved below) */
        int ref_rt;            /* its type: index into model->rt */
        scim_model_ref_t refw; /* what the store looks up */
        json_t *dflt;          /* default or NULL */
        struct mattr *sub;     /* complex: sub-attributes */
        size_t nsub;
} mattr_t;

typedef struct mschema {
        char *urn;
        mattr_t *attrs;
        size_t nattrs;
        int rt;        /* index into model->rt of the type that names it
                          (RT_USER, RT_GROUP, a tenant type), -1 none */
        int core;      /* 1: the core schema of a tenant type (its
                          attributes are top-level), 0: an extension */
        int required;  /* schemaExtensions[].required */
        json_t *doc;   /* the advertised Schema resource */
} mschema_t;

typedef struct mcatalog {
        char *name;
        int case_exact;
        char **keys;   /* sorted caseless (or exact) keys, for bsearch */
        size_t n;
} mcatalog_t;

/* one required or default path: [urn:...:]attr[.sub] */
typedef struct mpath {
        char *urn;     /* extension URN (canonical) or NULL for core */
        char *attr;    /* canonical top-level name */
        char *sub;     /* canonical sub-attribute or NULL */
        json_t *value; /* defaults: the value (normalised) */
} mpath_t;

typedef struct mrtype {
        /* tenant types (index >= RT_N) only: the table row (name, endpoint,
         * core schema URN, storage code, required / unique names) */
        scim_rtype_row_t row;
        int core;      /* its core schema (index into schemas), -1 none */
        const char **req_names, **uniq_names, **idx_names; /* NULL-ended */
        int enabled;
        int unknown;   /* UNKNOWN_* */
        mpath_t *required;
        size_t nrequired;
        mpath_t *defaults;
        size_t ndefaults;
        mpath_t *catpaths;  /* attributeCatalogs: path -> catalog */
        int *catidx;
        size_t ncatpaths;
} mrtype_t;

struct scim_model {
        int refs;
        int64_t generation;
        json_t *def;
        mschema_t *schemas;
        size_t nschemas;
        mcatalog_t *cats;
        size_t ncats;
        mrtype_t *rt;  /* RT_USER, RT_GROUP, then the tenant types */
        size_t nrt;
};

/* The index of storage code rt in m->rt, or -1 (a built-in code is
 * always found, with or without a model). */
static inline int model_rt_index(const scim_model_t *m, scim_rtype_t rt)
{
        if (rt == SCIM_RT_USER)
                return RT_USER;
        if (rt == SCIM_RT_GROUP)
                return RT_GROUP;
        for (size_t i = RT_N; m && i < m->nrt; i++)
                if (m->rt[i].row.code == rt)
                        return (int)i;
        return -1;
}

/* 1 if storage code rt names a tenant type (not User or Group). */
static inline int model_is_tenant_code(scim_rtype_t rt)
{
        return (int)rt >= MODEL_CODE_FIRST &&
               (int)rt < MODEL_CODE_FIRST + MODEL_MAX_TYPES;
}

/* The extension schema of model m with this URN (any case) that resource
 * type rt carries, or NULL. */
const mschema_t *model_ext(const scim_model_t *m, scim_rtype_t rt,
                           const char *urn, size_t urn_len);
/* An attribute of a list by name, any case, or NULL. */
const mattr_t *model_attr(const mattr_t *list, size_t n, const char *name);
/* 1 if value s (a string) is in catalog c. */
int model_catalog_has(const mcatalog_t *c, const char *s);

#endif
