/*
 * scim_schemas.h — the contracts, as code.
 *
 * Three parts, one face:
 *   1. SCIM resource schemas (schemas/scim/ JSON files, compiled into the binary):
 *      attribute metadata, resource normalisation, discovery documents.
 *   2. SCIM attribute paths and filters (RFC 7644 §3.4.2.2, §3.5.2): parse,
 *      evaluate against a resource, and tell the store which index can answer.
 *   3. The Avro event contract (schemas/avro/ .avsc files, compiled in): the C form
 *      of an event and its single-object encoding (C3 01 + CRC-64-AVRO
 *      fingerprint of the writer schema + binary datum).
 *
 * JSON values are jansson's json_t throughout. Thread safety: after
 * scim_schemas_init() everything here is reentrant and lock-free.
 */
#ifndef SCIM_SCHEMAS_H
#define SCIM_SCHEMAS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/scim_common.h"

#define SCIM_URN_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define SCIM_URN_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define SCIM_URN_ENTERPRISE                                                   \
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define SCIM_URN_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define SCIM_URN_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"
#define SCIM_URN_PATCHOP "urn:ietf:params:scim:api:messages:2.0:PatchOp"

/* Resource types; the char values are also used in storage keys. */
typedef enum scim_rtype {
        SCIM_RT_USER = 'U',
        SCIM_RT_GROUP = 'G',
        SCIM_RT_CUSTOM = 'C', /* since event v3: a tenant-defined type,
                                 named by the event's resource_type_name */
} scim_rtype_t;

/* Loads and checks the compiled-in SCIM and Avro schemas. Call once at
 * start-up (main thread) before anything else here. Returns 0 or -1 with a
 * message in errstr. */
int scim_schemas_init(char *errstr, size_t errlen);
void scim_schemas_shutdown(void);

/* ===================================================== 1. SCIM schemas === */

typedef enum scim_atype {
        SCIM_T_STRING,
        SCIM_T_BOOLEAN,
        SCIM_T_DECIMAL,
        SCIM_T_INTEGER,
        SCIM_T_DATETIME,
        SCIM_T_REFERENCE,
        SCIM_T_BINARY,
        SCIM_T_COMPLEX,
} scim_atype_t;

/* One attribute definition from the SCIM schema JSON (opaque; lives as long
 * as the process). */
typedef struct scim_attr scim_attr_t;

const char *scim_attr_name(const scim_attr_t *a);   /* canonical spelling */
scim_atype_t scim_attr_type(const scim_attr_t *a);
int scim_attr_multi(const scim_attr_t *a);          /* multiValued */
int scim_attr_case_exact(const scim_attr_t *a);
int scim_attr_read_only(const scim_attr_t *a);      /* mutability readOnly */
/* Schema URN the attribute belongs to (core or extension). */
const char *scim_attr_schema(const scim_attr_t *a);

/*
 * Finds an attribute by name, case-insensitively. With parent == NULL the
 * name is a top-level attribute of rt's core schema, or of one of its
 * extensions when prefixed by the extension URN and ':'
 * ("urn:...:enterprise:2.0:User:department"), or a core attribute prefixed by
 * the core URN. With a parent, a sub-attribute of that complex attribute.
 * Also resolves the common attributes id, externalId, meta (and meta.*).
 * Returns NULL when unknown.
 */
const scim_attr_t *scim_schema_attr(scim_rtype_t rt, const scim_attr_t *parent,
                                    const char *name);

/* Returns the canonical extension URN if `urn` (any case) names an extension
 * schema known for rt, else NULL. */
const char *scim_schema_extension(scim_rtype_t rt, const char *urn);

/*
 * Normalises a client-supplied resource body (POST/PUT) into its canonical
 * stored form. Does not take ownership of `in`; on success *out is a new
 * reference the caller owns.
 *  - attribute names get their schema spelling ("Primary" -> "primary",
 *    "Department" -> "department"), at every level;
 *  - booleans given as "True"/"False"/"true"/"false" strings become booleans;
 *  - nulls, "" and empty arrays/objects are dropped (they mean "no value");
 *  - read-only attributes (id, meta, groups; members is kept for groups and
 *    returned separately) and `schemas` are dropped; `schemas` is rebuilt
 *    from the URNs present;
 *  - unknown core attributes are dropped; extension blocks with a known URN
 *    are normalised like core, blocks keyed by any other "urn:" key are kept
 *    verbatim (custom extensions);
 *  - extension attributes given flat with the URN prefix
 *    ("urn:...:User:department": "x") are moved into their block;
 *  - manager given as a bare string id or as [{"value":..}] becomes
 *    {"value": id}; "" clears it;
 *  - wrong types (object where a string belongs, ...) -> 400 invalidValue;
 *  - required attributes (userName for Users, displayName for Groups)
 *    missing -> 400 invalidValue.
 * For groups, members are removed from *out and returned in *members_out
 * (array of {"value":id, "display":..}; "displayName" is accepted for
 * display; bare string entries are accepted as the value); members_out may
 * be NULL for users. Returns 0, or -1 with *err filled.
 */
int scim_resource_normalize(scim_rtype_t rt, const json_t *in, json_t **out,
                            json_t **members_out, scim_err_t *err);

/*
 * A userName's characters (schemas/username.c): no control, format or
 * default-ignorable code point anywhere, no white space at either end;
 * else 400 invalidValue naming the code point. 0 or -1 with err.
 */
int scim_username_check(const char *s, scim_err_t *err);

/*
 * Size limits of one resource (schemas/limits.c): strings at most
 * SCIM_MAX_STRING_BYTES, arrays at most SCIM_MAX_VALUES values, nesting
 * at most SCIM_MAX_RESOURCE_DEPTH (400 invalidValue naming the
 * attribute), and text_len (its JSON text) at most SCIM_MAX_RESOURCE_BYTES
 * (413). res may be NULL (only the length is checked). 0 or -1 with err.
 */
int scim_resource_limits(const json_t *res, size_t text_len, scim_err_t *err);

/*
 * Normalises one attribute value (as PATCH supplies it) for the attribute a
 * (same rules as above, applied to that value). New reference in *out, or
 * NULL in *out meaning "no value" (null, "", [], {}). Returns 0 or -1.
 */
int scim_value_normalize(scim_rtype_t rt, const scim_attr_t *a,
                         const json_t *in, json_t **out, scim_err_t *err);

/* Discovery documents as served under /Schemas, /ResourceTypes and
 * /ServiceProviderConfig (without meta.location, which the API adds).
 * Borrowed references valid for the life of the process. */
const json_t *scim_schemas_doc(void);           /* array of Schema resources */
const json_t *scim_resource_types_doc(void);    /* array of ResourceType */
const json_t *scim_service_provider_doc(void);  /* ServiceProviderConfig */

/* ============================================ 2. attribute paths, filters */

typedef struct scim_filter scim_filter_t; /* opaque AST */

/*
 * A parsed attribute path: [URN ":"] attr ["." sub] | attr "[" filter "]"
 * ["." sub]. Names are given canonical spelling when the schema knows them.
 */
typedef struct scim_path {
        char *urn;  /* extension URN (canonical) or NULL for core */
        char *attr; /* top-level attribute name */
        char *sub;  /* sub-attribute or NULL */
        scim_filter_t *filter;        /* value filter inside [...] or NULL */
        const scim_attr_t *attr_def;  /* NULL when unknown to the schema */
        const scim_attr_t *sub_def;   /* NULL when no sub or unknown */
} scim_path_t;

/* Parses a PATCH/attributes path. *out is owned by the caller
 * (scim_path_free). Bad syntax -> 400 invalidPath. */
int scim_path_parse(scim_rtype_t rt, const char *s, scim_path_t **out,
                    scim_err_t *err);
void scim_path_free(scim_path_t *p);

/*
 * Parses a filter (full RFC 7644 grammar: eq ne co sw ew gt ge lt le pr,
 * and/or/not, parentheses, value paths attr[filter], sub-attributes,
 * URN-qualified names, case-insensitive names and operators, unquoted
 * values, true/false/null, numbers). Length over SCIM_MAX_FILTER_LEN or more
 * than SCIM_MAX_FILTER_NODES nodes -> 400 invalidFilter; bad syntax -> 400
 * invalidFilter with the position in detail. *out owned by the caller.
 */
int scim_filter_parse(scim_rtype_t rt, const char *s, scim_filter_t **out,
                      scim_err_t *err);
void scim_filter_free(scim_filter_t *f);

/*
 * Evaluates f against a resource in stored form (canonical names). String
 * comparisons follow caseExact from the schema (case-insensitive unless
 * caseExact); dateTime attributes compare as instants; a comparison on a
 * multi-valued attribute matches if any element matches. Returns 1 or 0.
 */
int scim_filter_match(const scim_filter_t *f, const json_t *resource);

/* Evaluates a value filter (the part inside [...]) against one element of a
 * multi-valued attribute. Returns 1 or 0. */
int scim_filter_match_element(const scim_filter_t *f, const json_t *element);

/*
 * Literals one of which the stored JSON text of a resource must contain
 * for f to match it (a test that spares parsing most non-matches): for a
 * comparison of a string or reference attribute by eq, co, sw or ew with
 * a string (alone, under an `and`, or on every branch of an `or`), up to
 * max literals into lit/len (borrowed from f; printable ASCII without ",
 * \ or /), caseless[i] 1 when that attribute compares caselessly (an
 * ASCII literal then matches only ASCII text, or text a Unicode fold turns
 * into ASCII: callers look for it ASCII-caselessly in text without other
 * bytes). id, meta and schemas (not in the stored text), not and pr give
 * none. Returns how many, 0 when no such condition is known.
 */
int scim_filter_needles(const scim_filter_t *f, const char **lit, size_t *len,
                        int *caseless, int max);

/* Index the store can use for a filter. */
typedef enum scim_index {
        SCIM_IDX_NONE = 0,
        SCIM_IDX_ID,          /* id eq X (either type) */
        SCIM_IDX_USERNAME,    /* Users userName eq X (case-insensitive) */
        SCIM_IDX_EXTERNALID,  /* externalId eq X (case-exact, both types) */
        SCIM_IDX_EMAIL,       /* Users emails.value eq X, also
                                 emails[...].value eq X (case-insensitive) */
        SCIM_IDX_DISPLAYNAME, /* displayName eq X (case-insensitive, both) */
} scim_index_t;

/*
 * If f is an `eq` on an indexed attribute, or an `and` with such an `eq` on
 * either side (recursively), returns that index and sets *value to the
 * comparison string (borrowed from f). Otherwise SCIM_IDX_NONE. The store
 * seeks the index and still evaluates the whole filter on each candidate.
 */
scim_index_t scim_filter_index_hint(const scim_filter_t *f, scim_rtype_t rt,
                                    const char **value);

/* 1 when f is a single `eq` that its index answers exactly: `id eq X`, or
 * (Users) `userName eq X` with userName case-insensitive, X a string
 * without NUL. A resource found under X's index key then matches f, so a
 * reader that read the index entry and the resource from one state of the
 * views need not evaluate f. Otherwise 0. */
int scim_filter_index_exact(const scim_filter_t *f, scim_rtype_t rt);

/* For a Groups filter that needs a member with a given value: `members.value
 * eq "X"`, `members[value eq "X"]` (inside the brackets alone or under
 * an `and`) or `members[...].value eq "X"`, alone or under an `and`
 * (either side, recursively): X
 * (borrowed from f; a string without NUL). Otherwise NULL. A group
 * matching f has a member whose value equals X as the filter compares it
 * (caselessly: members.value is not caseExact). The asOf Groups list
 * reads the member-history index for it. */
const char *scim_filter_member_value(const scim_filter_t *f);

/* For a filter that is an `eq` or an `and` of `eq`s on plain attributes
 * (type eq "work" and primary eq true), a new object {attr: value, ...};
 * else NULL. PATCH uses it to create the element a value filter names. */
json_t *scim_filter_eq_object(const scim_filter_t *f);

/* Parses JSON text into jansson values: accepts and builds exactly what
 * json_loadb(text, len, 0, NULL) does (one object or array; UTF-8; no
 * \u0000; overflowing numbers refused; depth <= 2048), several times
 * faster. New reference, or NULL for text jansson would refuse too (ask
 * jansson for an error message when one is needed). */
json_t *scim_json_load(const char *text, size_t len);
/* The same, and NULL also when objects and arrays nest more than
 * max_nest deep (the outermost counts 1). What it accepts is valid UTF-8:
 * every string is checked, and no other byte above 0x7F is JSON. */
json_t *scim_json_load_nested(const char *text, size_t len, int max_nest);

/* Appends the compact JSON text of j to *out: byte for byte what
 * json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) writes (insertion order,
 * same escapes), several times faster. Returns 0, or -1 (out of memory,
 * nesting deeper than 128) with *out unchanged. */
int scim_json_dump(const json_t *j, scim_buf_t *out);

/* Appends s (n bytes) as a JSON string literal, byte for byte what
 * scim_json_dump of json_stringn(s, n) writes, without building the
 * value. Returns 0, or -1 (not UTF-8, out of memory) with *out as it was.
 */
int scim_json_dump_string(const char *s, size_t n, scim_buf_t *out);

/* Same, as a new NUL-terminated string (caller frees), or NULL. */
char *scim_json_dumps(const json_t *j);

/* Member of a JSON object by key, exact match first, then any case (SCIM
 * attribute names are case-insensitive). Borrowed reference or NULL. */
json_t *scim_json_get_ci(const json_t *o, const char *key);

/* 1 if the filter mentions the top-level attribute `attr` (so the store
 * knows whether it must load group members before evaluating). */
int scim_filter_mentions(const scim_filter_t *f, const char *attr);

/* ====================================================== 3. Avro events === */

typedef enum scim_action {
        SCIM_ACT_CREATE = 0,  /* POST */
        SCIM_ACT_REPLACE = 1, /* PUT */
        SCIM_ACT_PATCH = 2,   /* PATCH */
        SCIM_ACT_DELETE = 3,  /* DELETE */
        SCIM_ACT_REFUSED = 4, /* refused before reaching the fold */
        SCIM_ACT_TENANT_CREATE = 5,
        SCIM_ACT_TOKEN_ISSUE = 6,
        SCIM_ACT_TOKEN_REVOKE = 7,
        SCIM_ACT_REPORT_SAVE = 8,   /* since v2: saved report definition */
        SCIM_ACT_REPORT_DELETE = 9, /* since v2 */
        /* since v3 (see schemas/avro/event.v3.avsc for each one's fields) */
        SCIM_ACT_SCHEMA_PUT = 10,      /* tenant model definition stored */
        SCIM_ACT_SCHEMA_DELETE = 11,   /* ... removed */
        SCIM_ACT_TENANT_UPDATE = 12,   /* tenant settings (admin_json) */
        SCIM_ACT_TENANT_DISABLE = 13,  /* all credentials refused */
        SCIM_ACT_TENANT_ENABLE = 14,
        SCIM_ACT_TENANT_DELETE = 15,   /* deleted, data key destroyed */
        SCIM_ACT_TOKEN_ROTATE = 16,    /* new token; old valid until
                                          expires_ms */
        SCIM_ACT_CLIENT_REGISTER = 17, /* OAuth 2.0 client */
        SCIM_ACT_CLIENT_REVOKE = 18,
        SCIM_ACT_KEY_ROTATE = 19,      /* new signing key (key_id) */
        SCIM_ACT_LAST = SCIM_ACT_KEY_ROTATE,
} scim_action_t;

typedef struct scim_member {
        char *value;   /* member id */
        char *display; /* may be NULL */
} scim_member_t;

/*
 * The C form of one event. All strings are heap-owned by the event and freed
 * by scim_event_clear(); pointers not used by an action are NULL / 0.
 */
/* scim_event_t.expect_version of a lagging node's probe (see there). */
#define SCIM_EXPECT_ABSENT (-2)

typedef struct scim_event {
        char event_id[37];     /* UUID */
        int32_t schema_version; /* writer schema version (1, 2, ...) */
        char *tenant;
        scim_rtype_t rtype;    /* SCIM_RT_USER or SCIM_RT_GROUP; 0 for
                                  tenant/token events */
        char *resource_id;     /* NULL for tenant/token events */
        scim_action_t action;
        int64_t time_ms;
        char *actor;           /* token id that wrote it; "cli" for admin */
        char *request_id;

        /* Preconditions stamped by ingest and re-checked by the fold:
         * expect_version -1: none; 0: resource must not exist;
         * n > 0: resource must be at version n; SCIM_EXPECT_ABSENT (-2,
         * Kafka mode): a probe from a node whose views refused the write
         * (target missing, or a member, reference or userName owner not
         * as needed) and may lag — never applied, no payload: the fold
         * answers 404 when the target does not exist at this point of the
         * log, else 412 (the node then prepares the write again, having
         * folded past it). */
        int64_t expect_version;

        /* Users (CREATE/REPLACE/PATCH): full new state, canonical JSON
         * text (no id, no meta). Groups: full new non-member attributes, or
         * NULL on a PATCH that changes members only. */
        char *resource_json;
        /* Optional, never encoded: resource_json already parsed, set by
         * ingest for the events it builds (one reference, owned by the
         * event) so the fold need not parse the text again. Decoded events
         * leave it NULL; replay's reader sets it ahead of the fold. Whoever
         * sets it has checked the tree against scim_resource_limits (the
         * fold skips that check for a parsed event) or leaves it NULL. */
        json_t *resource_parsed;
        /* Optional, never encoded: set when the event's sealed payload
         * belongs to an erased tenant (its data key is destroyed): the
         * fold then writes nothing for it (projector/erase.c). */
        int erased;

        /* Groups: membership delta, applied as: if members_replace, drop all
         * current members; then remove `removed`; then add `added`. */
        int members_replace;
        scim_member_t *added;
        size_t n_added;
        char **removed;
        size_t n_removed;

        /* REFUSED: the answer the client got. */
        int refused_status;
        char *refused_scim_type;
        char *refused_detail;
        char *request_digest; /* sha256 hex of the request body */

        /* TOKEN_ISSUE / TOKEN_REVOKE */
        char *token_id;
        char *token_hash; /* sha256 hex of the secret; never the secret */

        /* since schema v2 (NULL when an older writer lacks them) */
        char *token_scope;      /* TOKEN_ISSUE: NULL all, "reports" only
                                   the reports API */
        char *attempted_action; /* REFUSED: "CREATE", "REPLACE", "PATCH",
                                   "DELETE" or NULL */

        /* since schema v3 (NULL / 0 when an older writer lacks them) */
        char *resource_type_name; /* rtype SCIM_RT_CUSTOM: the type's name */
        char *admin_json;  /* payload of administration events (schema
                              definitions, tenant settings, client
                              metadata); never a secret */
        int64_t expires_ms; /* credential expiry / old token's end, 0 none */
        char *sealed_json; /* resource_json sealed with the tenant data key
                              (base64); resource_json is then NULL */
        char *key_id;      /* data key of sealed_json, or signing key */
} scim_event_t;

/* Frees every owned field and zeroes *ev (schema_version stays 0). */
void scim_event_clear(scim_event_t *ev);

/*
 * Encodes ev with the current writer schema as single-object encoding into
 * *out (appended). Returns 0 or -1 with err (500) filled.
 */
int scim_event_encode(const scim_event_t *ev, scim_buf_t *out, scim_err_t *err);

/*
 * Decodes single-object encoded bytes written by any known schema version
 * into *ev (which must be zeroed; the caller clears it). Unknown
 * fingerprint, bad magic, truncated or malformed datum -> -1 with err (400
 * invalidSyntax) and *ev left cleared. Never crashes on hostile input.
 */
int scim_event_decode(const void *data, size_t len, scim_event_t *ev,
                      scim_err_t *err);

/*
 * A log record read in place (schemas/event_peek.c): where some of its
 * fields are in the bytes, for readers that need few fields of many
 * records. Pointers point into the record (not NUL-terminated); a null
 * union is a NULL pointer. Records of writer schema versions 1-3 only.
 */
typedef struct scim_event_peek {
        int64_t rtype_index, action_index; /* enum positions as written */
        int64_t time_ms;
        const char *rid, *rj, *sealed, *kid; /* resource_id, resource_json,
                                                sealed_json, key_id */
        size_t ridl, rjl, sealedl, kidl;
        int members_replace;
        const unsigned char *added, *removed, *end; /* the member arrays */
} scim_event_peek_t;

/* Fills *pk from single-object encoded bytes (no allocation). Returns 0,
 * or -1 when the record is malformed or of another writer schema (decode
 * it with scim_event_decode then). Never crashes on hostile input. */
int scim_event_peek(const void *data, size_t len, scim_event_peek_t *pk);

/* Calls fn for each member of members_added (added 1: value and display,
 * the display NULL when null) or members_removed (0: value only) of a
 * peeked record, in order. Returns 0, -1 when malformed. */
int scim_event_peek_members(const scim_event_peek_t *pk, int added,
                            void (*fn)(void *ctx, const char *value,
                                       size_t value_len, const char *display,
                                       size_t display_len),
                            void *ctx);

/* CRC-64-AVRO (Rabin) fingerprint of a canonical schema text. */
uint64_t scim_avro_fingerprint(const char *canonical, size_t len);

/* Fingerprint of the current writer schema (headers, README). */
uint64_t scim_event_writer_fingerprint(void);

/* Number of known writer schema versions and the JSON text of version v
 * (1-based); used by the evolution test and `scimlog schemas`. */
int scim_event_schema_count(void);
const char *scim_event_schema_text(int version);
/* CRC-64-AVRO fingerprint of version v (1-based), 0 if unknown. */
uint64_t scim_event_schema_fingerprint(int version);

#endif /* SCIM_SCHEMAS_H */
