/*
 * scim_model.h — a tenant's model as data (docs/tenant-schemas.md).
 *
 * A tenant's model is the built-in one (schemas/: User, Group, the
 * enterprise extension) plus one tenant definition: extension schemas in
 * RFC 7643 form, per resource type the extensions it carries, required
 * attributes, defaults on create, what happens to unknown attributes and
 * whether the type is enabled, and catalogs (value sets a string attribute
 * must belong to). This component compiles a definition into an immutable
 * model, enforces it on a resource (one validator: ingest runs it for a
 * fast answer and the fold runs it again as the authority), compares two
 * models (what a change tightens) and builds the tenant's discovery
 * documents.
 *
 * A model is immutable once compiled and reference-counted, so readers on
 * any thread use it without locks. NULL is a valid model everywhere here:
 * the built-in one (no tenant definition).
 */
#ifndef SCIM_MODEL_H
#define SCIM_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/scim_common.h"
#include "schemas/scim_schemas.h"

/* Limits of a definition (400 invalidValue naming the limit). */
#define SCIM_MODEL_MAX_BYTES (1024 * 1024)
#define SCIM_MODEL_MAX_SCHEMAS 64
#define SCIM_MODEL_MAX_ATTRS 256 /* per schema, sub-attributes included */
#define SCIM_MODEL_MAX_CATALOGS 64
#define SCIM_MODEL_MAX_CATALOG_VALUES 10000
#define SCIM_MODEL_MAX_VALUE_BYTES 256
#define SCIM_MODEL_MAX_URN_BYTES 256
#define SCIM_MODEL_MAX_NAME_BYTES 64

typedef struct scim_model scim_model_t;

/*
 * Compiles a tenant definition (JSON object, docs/tenant-schemas.md).
 * Everything is checked: an unknown key, a bad type, a URN that is not a
 * URN or is a core schema, an extension a resource type names but the
 * definition does not define, a catalog an attribute names but nobody
 * defines, a default of the wrong type, a limit -> -1 with err 400
 * invalidValue whose detail names the place ("schemas[0].attributes[2].
 * type: ..."). On success *out is a new model (refcount 1). `generation`
 * is stored with it (the fold counts SCHEMA_PUTs per tenant).
 */
int scim_model_compile(const json_t *def, int64_t generation,
                       scim_model_t **out, scim_err_t *err);

/*
 * The same, with the tenant's storage codes: `codes` (an object of type
 * name -> one letter, the store keeps it, it only grows) names the code
 * each tenant resource type had before; a type it does not name gets the
 * next letter no name ever had. With codes NULL the definition's own
 * `storageCodes` are used. The compiled definition carries the full map
 * as `storageCodes` (scim_model_codes). At most 16 names per tenant, ever.
 */
int scim_model_compile_codes(const json_t *def, const json_t *codes,
                             int64_t generation, scim_model_t **out,
                             scim_err_t *err);
/* The storageCodes map of a compiled model (borrowed) or NULL. */
const json_t *scim_model_codes(const scim_model_t *m);

scim_model_t *scim_model_ref(scim_model_t *m);
void scim_model_unref(scim_model_t *m);

int64_t scim_model_generation(const scim_model_t *m);
/* The definition as compiled (canonical: defaults filled in). Borrowed. */
const json_t *scim_model_definition(const scim_model_t *m);

/* 1 if resource type rt is enabled for the tenant (built-in: both). */
int scim_model_enabled(const scim_model_t *m, scim_rtype_t rt);

/*
 * Moves flat extension keys of the model's extensions
 * ("urn:...:grouptalk:2.0:User:label1": "x") into their block
 * ({"urn:...:grouptalk:2.0:User": {"label1": "x"}}) in a request body,
 * before the built-in normalisation sees it. Any case of the URN matches.
 * body is modified in place. Returns 0 or -1 (out of memory).
 */
int scim_model_unflatten(const scim_model_t *m, scim_rtype_t rt,
                         json_t *body, scim_err_t *err);

/* What happens in scim_model_enforce. */
typedef enum scim_enforce_mode {
        SCIM_ENFORCE_WRITE,  /* a write: prev is the stored resource or NULL
                                (create: defaults applied) */
        SCIM_ENFORCE_CHECK,  /* an existing resource against a new model:
                                nothing applied, nothing dropped */
} scim_enforce_mode_t;

/*
 * Enforces the model on res, a resource in normalised stored form (the
 * output of scim_resource_normalize, without id/meta), in place:
 *  - extension blocks of defined extensions: attribute names take the
 *    schema's spelling; values are type-checked (400 invalidValue), "true"
 *    / "false" strings become booleans for boolean attributes,
 *    canonicalValues and catalogs are checked (400 invalidValue naming the
 *    attribute and the catalog), readOnly attributes are dropped,
 *    immutable ones may not change once set (400 mutability);
 *  - unknownAttributes: keep / drop (what is dropped is appended to
 *    *dropped, an array of attribute paths, when dropped is not NULL) /
 *    refuse (400 invalidValue naming it);
 *  - defaults on create (mode WRITE, prev NULL), then required
 *    attributes (400 invalidValue "... is required");
 *  - `schemas` is rebuilt from the URNs present.
 * With m NULL it does nothing and returns 0.
 */
int scim_model_enforce(const scim_model_t *m, scim_rtype_t rt, json_t *res,
                       const json_t *prev, scim_enforce_mode_t mode,
                       json_t *dropped, scim_err_t *err);

/* Discovery documents for the tenant (new references): the array of
 * Schema resources (built-in + the tenant's extensions), the array of
 * ResourceType resources (enabled ones, with the tenant's extensions and
 * their `required`), and ServiceProviderConfig. */
json_t *scim_model_schemas_doc(const scim_model_t *m);
json_t *scim_model_resource_types_doc(const scim_model_t *m);
json_t *scim_model_service_provider_doc(const scim_model_t *m);

/* The tenant's extensions of rt, for PATCH (new object; empty for the
 * built-in model): each URN -> the array of its multi-valued attributes'
 * names (what `add` appends to rather than replaces). */
json_t *scim_model_ext_urns(const scim_model_t *m, scim_rtype_t rt);

/* The catalog `name`'s values (borrowed array) or NULL. */
const json_t *scim_model_catalog(const scim_model_t *m, const char *name);

/*
 * A definition with catalog `name` changed: op "put" replaces its values
 * with `values`, "add" adds them, "remove" removes them (caseless keys
 * unless the catalog is caseExact). New reference in *out, or -1 with err
 * (404 when the catalog does not exist, 400 for bad values).
 */
int scim_model_catalog_edit(const scim_model_t *m, const char *name,
                            const char *op, const json_t *values,
                            json_t **out, scim_err_t *err);

/* The attributes of rt's schemas declared unique (`uniqueness` server or
 * global: enforced per tenant, by the fold, case-insensitively unless
 * caseExact): fn(ctx, urn, name, case_exact) for each, in the schema's
 * spelling. urn is the extension's URN, or the core schema's URN of a
 * tenant resource type (its attributes are top-level: use
 * scim_model_value). Nothing for the built-in model. */
void scim_model_each_unique(const scim_model_t *m, scim_rtype_t rt,
                            void (*fn)(void *ctx, const char *urn,
                                       const char *name, int case_exact),
                            void *ctx);
/* The value of attribute `name` of schema `urn` in resource res: in the
 * extension block `urn`, or top-level when urn is the core schema of res's
 * type (borrowed, or NULL). */
const json_t *scim_model_value(const json_t *res, const char *urn,
                               const char *name);

/*
 * References: an attribute whose `catalog` is "Type.attr" (Role.name,
 * Group.displayName, User.userName) takes only values that an existing
 * resource of that type holds in that attribute. The store answers: fn
 * returns 1 when some resource of type ref->rt has the value (caseless
 * unless ref->case_exact), 0 when none.
 */
typedef struct scim_model_ref {
        scim_rtype_t rt;   /* the referenced type's storage code */
        char index;        /* 'u' userName, 'd' displayName, 'x' externalId
                              (the store's indexes), 'X' a unique attribute */
        const char *urn;   /* 'X': the attribute's schema URN */
        const char *name;  /* 'X': its name */
        const char *type_name; /* for messages: "Role" */
        const char *attr_name; /* for messages: "name" */
        int case_exact;
} scim_model_ref_t;
typedef int (*scim_model_ref_fn)(void *ctx, const scim_model_ref_t *ref,
                                 const char *value);
/* Checks every reference value of res (type rt): 0, or -1 with 400
 * invalidValue naming the attribute, the value and the type. With m NULL,
 * or no references, 0. */
int scim_model_check_refs(const scim_model_t *m, scim_rtype_t rt,
                          const json_t *res, scim_model_ref_fn fn, void *ctx,
                          scim_err_t *err);

/*
 * The resource-type table (model/rtype.c): one row per resource type.
 * Code paths that need a type's name, endpoint, schema, storage code,
 * required / unique / indexed attributes or membership semantics look its
 * row up instead of branching on User or Group.
 */
typedef enum scim_membership {
        SCIM_MEMBERSHIP_NONE,      /* neither has nor is a member */
        SCIM_MEMBERSHIP_MEMBER,    /* may be a member; `groups` is derived */
        SCIM_MEMBERSHIP_CONTAINER, /* has `members` (users and groups) */
} scim_membership_t;

typedef struct scim_rtype_row {
        const char *name;     /* "User" (ResourceType id and meta type) */
        const char *endpoint; /* "/Users" */
        const char *schema;   /* core schema URN */
        scim_rtype_t code;    /* storage code: event rtype, key prefix byte */
        const char *const *required; /* NULL-terminated attribute names */
        const char *const *unique;   /* server-unique (case-insensitive) */
        const char *const *indexed;  /* filters answered from an index */
        scim_membership_t membership;
} scim_rtype_row_t;

/* The built-in rows, in ResourceTypes.json order. */
size_t scim_rtype_count(void);
const scim_rtype_row_t *scim_rtype_at(size_t i);
/* Lookups; NULL when there is no such type. by_name is case-exact (the
 * ResourceType id), by_endpoint case-insensitive ("Users" or "/Users"). */
const scim_rtype_row_t *scim_rtype_row(scim_rtype_t rt);
const scim_rtype_row_t *scim_rtype_by_name(const char *name);
const scim_rtype_row_t *scim_rtype_by_endpoint(const char *seg);
/* The type's name ("User", "Group") or NULL. */
const char *scim_rtype_name(scim_rtype_t rt);
/* The tenant's table: the rows its model enables, at most cap, into out.
 * Returns how many. */
size_t scim_model_rtypes(const scim_model_t *m, const scim_rtype_row_t **out,
                         size_t cap);
/* Every row the tenant's model has, enabled or not (a disabled type may
 * still hold resources). */
size_t scim_model_rtypes_all(const scim_model_t *m,
                             const scim_rtype_row_t **out, size_t cap);
/* The tenant's lookups: built-in rows and the tenant's own types (NULL
 * when none; by_name any case). A tenant type's storage code is a letter
 * 'a'..'p'; events carry it as rtype CUSTOM + resource_type_name. */
const scim_rtype_row_t *scim_model_rtype(const scim_model_t *m,
                                         scim_rtype_t rt);
const scim_rtype_row_t *scim_model_rtype_by_name(const scim_model_t *m,
                                                 const char *name);
const scim_rtype_row_t *scim_model_rtype_by_endpoint(const scim_model_t *m,
                                                     const char *seg);
/* `returned` (RFC 7643 section 7) of the tenant's attributes of rt: fn
 * for each top-level attribute whose `returned` is not default, with kind
 * 'a' always (even when excludedAttributes names it), 'n' never, 'r'
 * request (only when attributes names it); urn is the extension's URN, or
 * NULL for a core attribute of a type of the tenant's own. Returns how
 * many (fn may be NULL: just count). */
size_t scim_model_each_returned(const scim_model_t *m, scim_rtype_t rt,
                                void (*fn)(void *ctx, const char *urn,
                                           const char *name, char kind),
                                void *ctx);

/* A core attribute of tenant type rt declared unique (answered from the
 * uniqueness index): 1 with its schema URN, its spelling and caseExact
 * (borrowed), 0 when name is no such attribute. */
int scim_model_core_unique(const scim_model_t *m, scim_rtype_t rt,
                           const char *name, const char **urn,
                           const char **canon, int *case_exact);
/* 1 if rt is a tenant type's storage code. */
int scim_rtype_is_tenant(scim_rtype_t rt);
/* Names of the attributes of tenant type rt's core schema (new array:
 * [{"name": .., "multi": bool}]) — what a PATCH path may name. */
json_t *scim_model_core_attrs(const scim_model_t *m, scim_rtype_t rt);

#endif /* SCIM_MODEL_H */
