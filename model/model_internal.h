/* model_internal.h — the compiled form of a tenant definition, shared by
 * model.c (compile, discovery, catalogs) and enforce.c (the validator). */
#ifndef SCIM_MODEL_INTERNAL_H
#define SCIM_MODEL_INTERNAL_H

#include "model/scim_model.h"

enum { MUT_READWRITE, MUT_READONLY, MUT_IMMUTABLE, MUT_WRITEONLY };
enum { UNKNOWN_KEEP, UNKNOWN_DROP, UNKNOWN_REFUSE };
enum { RT_USER, RT_GROUP, RT_N };

typedef struct mattr {
        char *name;            /* the schema's spelling */
        scim_atype_t type;
        int multi, required, case_exact, mut;
        int unique;            /* uniqueness server|global: per tenant */
        json_t *canon;         /* canonicalValues (array) or NULL */
        int catalog;           /* index into model->cats, or -1 */
        json_t *dflt;          /* default or NULL */
        struct mattr *sub;     /* complex: sub-attributes */
        size_t nsub;
} mattr_t;

typedef struct mschema {
        char *urn;
        mattr_t *attrs;
        size_t nattrs;
        int rt;        /* RT_USER or RT_GROUP: the type that names it, -1 none */
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
        mrtype_t rt[RT_N];
};

static inline int model_rt_index(scim_rtype_t rt)
{
        return rt == SCIM_RT_GROUP ? RT_GROUP : RT_USER;
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
