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

/* The URNs of the tenant's extensions of rt (new array; empty for the
 * built-in model). */
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

/* The attributes of rt's extensions declared unique (`uniqueness`
 * server or global: enforced per tenant, by the fold, case-insensitively
 * unless caseExact): fn(ctx, urn, name, case_exact) for each, in the
 * schema's spelling. Nothing for the built-in model. */
void scim_model_each_unique(const scim_model_t *m, scim_rtype_t rt,
                            void (*fn)(void *ctx, const char *urn,
                                       const char *name, int case_exact),
                            void *ctx);

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

#endif /* SCIM_MODEL_H */
