/*
 * event.c — the Avro event contract in C (part 3 of scim_schemas.h).
 *
 * Every schemas/avro/event.vN.avsc compiled into the binary is a writer
 * schema this process can read; the highest N is the one it writes. At
 * start-up each is parsed into a small node tree of our own, its Parsing
 * Canonical Form (Avro spec, "Schema Resolution / Parsing Canonical Form")
 * and CRC-64-AVRO fingerprint are computed, and its fields are checked
 * against the C event struct.
 *
 * Wire form (Avro single-object encoding): C3 01, the writer fingerprint as
 * 8 bytes little-endian, then the binary datum.
 *
 * Encoding writes the binary datum directly, field by field in the writer
 * schema's order (a POST's event used to spend ~22k instructions in avro-c's
 * generic values, lock and sizing pass). avro-c's generic values stay as an
 * independent implementation of the format: scim_event_encode_avroc, which
 * the tests and fuzz_event compare byte for byte with the direct encoder,
 * so our decoder is still checked against avro-c.
 * Decoding uses a hand-written reader driven by the writer's node tree, for
 * two reasons: avro-c 1.11.1 trusts lengths and counts in the data (tried:
 * 8 bytes make avro_value_read ask for a 1 TiB buffer; a 5-byte count of an
 * array of nulls keeps it looping for minutes), and it crashes resolving a
 * writer to a reader that added a field with a default. So the decoder,
 * which caps every length and count, maps writer fields to the C struct BY
 * NAME, skips fields it does not know, and fills fields an older writer
 * lacks with the defaults in ev_set_defaults().
 *
 * Evolution rules (checked by scim_event_init and tests/unit/0300-avro.c):
 * a new version may add fields (give them a default in the .avsc AND in
 * ev_set_defaults, a `since` in FIELDS, and a member in scim_event_t), add
 * enum symbols (and teach RTYPE_SYMS / ACTION_SYMS them), widen an int to a
 * long, and widen an optional string's union; it never renames, removes or
 * retypes a field an older version carries. Init refuses a schema set that
 * breaks these rules, so a bad .avsc fails every test at start-up.
 *
 * Threads: scim_event_init/shutdown run on the main thread; decode and
 * encode are lock-free (they only read tables built at init);
 * scim_event_encode_avroc takes enc_lock because avro-c keeps its error
 * text in process-wide static buffers and we share one generic value class.
 */
#include "schemas/scim_schemas.h"

#include <avro.h>
#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/schemas_internal.h"
#include "schemas/scim_embedded.h"

#define EV_MAGIC0 0xC3
#define EV_MAGIC1 0x01
#define EV_HEADER_LEN 10
#define EV_MAX_VERSIONS 64
#define EV_MAX_DEPTH 32                 /* schema and datum nesting */
#define EV_MAX_NAMED 256                /* named types in one schema */
#define EV_MAX_TEXT (16u * 1024 * 1024) /* string bytes in one event */
#define EV_MAX_ITEMS 1000000u           /* items in one array */
#define EV_MAX_ITEMS_TOTAL 4000000u     /* items in one datum */
#define EV_MAX_INPUT (64u * 1024 * 1024)
#define EV_FP_EMPTY 0xc15d213aa4d7a795ULL

/* ------------------------------------------------------ schema node tree */

typedef enum nd_kind {
        ND_NULL,
        ND_BOOLEAN,
        ND_INT,
        ND_LONG,
        ND_FLOAT,
        ND_DOUBLE,
        ND_BYTES,
        ND_STRING,
        ND_RECORD,
        ND_ENUM,
        ND_ARRAY,
        ND_MAP,
        ND_UNION,
        ND_FIXED,
} nd_kind_t;

static const char *const prim_names[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
};

/*
 * One schema node. Named types (record, enum, fixed) are defined once and
 * referenced by pointer wherever their name is used, so the tree is a graph;
 * every node is on its schema's `next_alloc` list, which owns them.
 */
typedef struct nd {
        nd_kind_t kind;
        char *fullname;   /* record, enum, fixed */
        size_t n;         /* fields, symbols or branches */
        char **names;     /* field names or enum symbols */
        struct nd **kids; /* field types or union branches */
        struct nd *items; /* array items, map values */
        int64_t size;     /* fixed */
        int emitted;      /* canonical form: already written in full */
        struct nd *next_alloc;
} nd_t;

typedef struct pctx {
        nd_t *all;
        nd_t *named[EV_MAX_NAMED];
        size_t n_named;
        char *errstr;
        size_t errlen;
} pctx_t;

/* ---------------------------------------------------- the C field table */

typedef enum shape {
        SH_STRING,     /* string */
        SH_OPT_STRING, /* string or a union of null and string */
        SH_INT,        /* int */
        SH_LONG,       /* int or long */
        SH_BOOL,       /* boolean */
        SH_RTYPE,      /* enum of ResourceType symbols */
        SH_ACTION,     /* enum of Action symbols */
        SH_MEMBERS,    /* array of Member records */
        SH_STRINGS,    /* array of string */
} shape_t;

enum {
        F_EVENT_ID,
        F_SCHEMA_VERSION,
        F_TENANT,
        F_RESOURCE_TYPE,
        F_RESOURCE_ID,
        F_ACTION,
        F_TIME_MS,
        F_ACTOR,
        F_REQUEST_ID,
        F_EXPECT_VERSION,
        F_RESOURCE_JSON,
        F_MEMBERS_REPLACE,
        F_MEMBERS_ADDED,
        F_MEMBERS_REMOVED,
        F_REFUSED_STATUS,
        F_REFUSED_SCIM_TYPE,
        F_REFUSED_DETAIL,
        F_REQUEST_DIGEST,
        F_TOKEN_ID,
        F_TOKEN_HASH,
        F_TOKEN_SCOPE,
        F_ATTEMPTED_ACTION,
        F_RESOURCE_TYPE_NAME,
        F_ADMIN_JSON,
        F_EXPIRES_MS,
        F_SEALED_JSON,
        F_KEY_ID,
        F_COUNT
};

/*
 * The fields the C struct carries, by Avro field name. `since` is the first
 * schema version that has the field: a writer older than that gets the
 * default from ev_set_defaults(); a writer at or after it must carry it.
 */
static const struct field_def {
        const char *name;
        shape_t shape;
        int since;
} FIELDS[F_COUNT] = {
    [F_EVENT_ID] = {"event_id", SH_STRING, 1},
    [F_SCHEMA_VERSION] = {"schema_version", SH_INT, 1},
    [F_TENANT] = {"tenant", SH_STRING, 1},
    [F_RESOURCE_TYPE] = {"resource_type", SH_RTYPE, 1},
    [F_RESOURCE_ID] = {"resource_id", SH_OPT_STRING, 1},
    [F_ACTION] = {"action", SH_ACTION, 1},
    [F_TIME_MS] = {"time_ms", SH_LONG, 1},
    [F_ACTOR] = {"actor", SH_STRING, 1},
    [F_REQUEST_ID] = {"request_id", SH_STRING, 1},
    [F_EXPECT_VERSION] = {"expect_version", SH_LONG, 1},
    [F_RESOURCE_JSON] = {"resource_json", SH_OPT_STRING, 1},
    [F_MEMBERS_REPLACE] = {"members_replace", SH_BOOL, 1},
    [F_MEMBERS_ADDED] = {"members_added", SH_MEMBERS, 1},
    [F_MEMBERS_REMOVED] = {"members_removed", SH_STRINGS, 1},
    [F_REFUSED_STATUS] = {"refused_status", SH_INT, 1},
    [F_REFUSED_SCIM_TYPE] = {"refused_scim_type", SH_OPT_STRING, 1},
    [F_REFUSED_DETAIL] = {"refused_detail", SH_OPT_STRING, 1},
    [F_REQUEST_DIGEST] = {"request_digest", SH_OPT_STRING, 1},
    [F_TOKEN_ID] = {"token_id", SH_OPT_STRING, 1},
    [F_TOKEN_HASH] = {"token_hash", SH_OPT_STRING, 1},
    [F_TOKEN_SCOPE] = {"token_scope", SH_OPT_STRING, 2},
    [F_ATTEMPTED_ACTION] = {"attempted_action", SH_OPT_STRING, 2},
    [F_RESOURCE_TYPE_NAME] = {"resource_type_name", SH_OPT_STRING, 3},
    [F_ADMIN_JSON] = {"admin_json", SH_OPT_STRING, 3},
    [F_EXPIRES_MS] = {"expires_ms", SH_LONG, 3},
    [F_SEALED_JSON] = {"sealed_json", SH_OPT_STRING, 3},
    [F_KEY_ID] = {"key_id", SH_OPT_STRING, 3},
};

struct sym_def {
        const char *name;
        int value;
};

static const struct sym_def RTYPE_SYMS[] = {
    {"NONE", 0},
    {"USER", SCIM_RT_USER},
    {"GROUP", SCIM_RT_GROUP},
    {"CUSTOM", SCIM_RT_CUSTOM},
    {NULL, 0},
};

static const struct sym_def ACTION_SYMS[] = {
    {"CREATE", SCIM_ACT_CREATE},
    {"REPLACE", SCIM_ACT_REPLACE},
    {"PATCH", SCIM_ACT_PATCH},
    {"DELETE", SCIM_ACT_DELETE},
    {"REFUSED", SCIM_ACT_REFUSED},
    {"TENANT_CREATE", SCIM_ACT_TENANT_CREATE},
    {"TOKEN_ISSUE", SCIM_ACT_TOKEN_ISSUE},
    {"TOKEN_REVOKE", SCIM_ACT_TOKEN_REVOKE},
    {"REPORT_SAVE", SCIM_ACT_REPORT_SAVE},
    {"REPORT_DELETE", SCIM_ACT_REPORT_DELETE},
    {"SCHEMA_PUT", SCIM_ACT_SCHEMA_PUT},
    {"SCHEMA_DELETE", SCIM_ACT_SCHEMA_DELETE},
    {"TENANT_UPDATE", SCIM_ACT_TENANT_UPDATE},
    {"TENANT_DISABLE", SCIM_ACT_TENANT_DISABLE},
    {"TENANT_ENABLE", SCIM_ACT_TENANT_ENABLE},
    {"TENANT_DELETE", SCIM_ACT_TENANT_DELETE},
    {"TOKEN_ROTATE", SCIM_ACT_TOKEN_ROTATE},
    {"CLIENT_REGISTER", SCIM_ACT_CLIENT_REGISTER},
    {"CLIENT_REVOKE", SCIM_ACT_CLIENT_REVOKE},
    {"KEY_ROTATE", SCIM_ACT_KEY_ROTATE},
    {NULL, 0},
};

/* One known writer schema version, built by scim_event_init. */
typedef struct evver {
        int version;
        const char *text; /* embedded .avsc text (borrowed, static) */
        nd_t *nodes;      /* owns every node of this schema */
        nd_t *root;       /* the Event record */
        char *canonical;  /* Parsing Canonical Form */
        uint64_t fp;      /* CRC-64-AVRO of canonical */
        int *slot;        /* per writer field: F_* index or -1 (skip) */
        int at[F_COUNT];  /* per F_*: writer field index or -1 (absent) */
        int mem_value;    /* field index of "value" in Member, or -1 */
        int mem_display;  /* field index of "display" in Member, or -1 */
        int *sym_rtype;   /* writer ResourceType index -> scim_rtype_t */
        int *sym_action;  /* writer Action index -> scim_action_t */
} evver_t;

static evver_t g_ver[EV_MAX_VERSIONS];
static int g_nver;
static avro_schema_t g_avro;        /* current writer schema */
static avro_value_iface_t *g_iface; /* its generic value class */
static pthread_mutex_t enc_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------ fingerprint */

uint64_t scim_avro_fingerprint(const char *canonical, size_t len)
{
        const unsigned char *p = (const unsigned char *)canonical;
        uint64_t fp = EV_FP_EMPTY;

        /* Bitwise form of the spec's table-driven Rabin fingerprint: the
         * table entry for byte i is exactly these eight steps on i. */
        for (size_t i = 0; i < len; i++) {
                fp ^= p[i];
                for (int j = 0; j < 8; j++)
                        fp = (fp >> 1) ^ (EV_FP_EMPTY & (0 - (fp & 1)));
        }
        return fp;
}

/* --------------------------------------------------------- schema parsing */

static int pfail(pctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int pfail(pctx_t *c, const char *fmt, ...)
{
        va_list ap;

        if (c->errstr && c->errlen) {
                va_start(ap, fmt);
                vsnprintf(c->errstr, c->errlen, fmt, ap);
                va_end(ap);
        }
        return -1;
}

static void nodes_free(nd_t *n)
{
        while (n) {
                nd_t *next = n->next_alloc;

                for (size_t i = 0; n->names && i < n->n; i++)
                        free(n->names[i]);
                free(n->names);
                free(n->kids);
                free(n->fullname);
                free(n);
                n = next;
        }
}

static nd_t *nd_new(pctx_t *c, nd_kind_t kind)
{
        nd_t *n = calloc(1, sizeof(*n));

        if (!n) {
                pfail(c, "out of memory");
                return NULL;
        }
        n->kind = kind;
        n->next_alloc = c->all;
        c->all = n;
        return n;
}

static int prim_kind(const char *s)
{
        for (size_t i = 0; i < sizeof(prim_names) / sizeof(prim_names[0]); i++)
                if (strcmp(s, prim_names[i]) == 0)
                        return (int)i;
        return -1;
}

/* Avro name: [A-Za-z_][A-Za-z0-9_]* */
static int name_valid(const char *s, size_t n)
{
        if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
                return 0;
        for (size_t i = 1; i < n; i++)
                if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
                        return 0;
        return 1;
}

/* Dotted namespace or fullname: names separated by single dots. */
static int dotted_valid(const char *s)
{
        const char *p = s;

        for (;;) {
                const char *dot = strchr(p, '.');
                size_t n = dot ? (size_t)(dot - p) : strlen(p);

                if (!name_valid(p, n))
                        return 0;
                if (!dot)
                        return 1;
                p = dot + 1;
        }
}

static nd_t *named_find(pctx_t *c, const char *fullname)
{
        for (size_t i = 0; i < c->n_named; i++)
                if (strcmp(c->named[i]->fullname, fullname) == 0)
                        return c->named[i];
        return NULL;
}

/* Resolves a type name used as a reference (relative to ns). */
static nd_t *named_ref(pctx_t *c, const char *name, const char *ns)
{
        nd_t *n = NULL;

        if (!strchr(name, '.') && ns && *ns) {
                size_t len = strlen(ns) + strlen(name) + 2;
                char *full = malloc(len);

                if (!full) {
                        pfail(c, "out of memory");
                        return NULL;
                }
                snprintf(full, len, "%s.%s", ns, name);
                n = named_find(c, full);
                free(full);
        }
        if (!n)
                n = named_find(c, name);
        if (!n)
                pfail(c, "unknown type name \"%s\"", name);
        return n;
}

static nd_t *nd_parse(pctx_t *c, json_t *j, const char *ns, int depth);

/*
 * Defines a named type from object j (enclosing namespace ns): computes its
 * fullname and registers it. *ns_out receives the namespace its children
 * inherit, as a new heap string the caller frees.
 */
static nd_t *named_define(pctx_t *c, json_t *j, nd_kind_t kind, const char *ns,
                          char **ns_out)
{
        const char *name = json_string_value(json_object_get(j, "name"));
        json_t *jns = json_object_get(j, "namespace");
        const char *space = ns;
        const char *last;
        char *full = NULL;
        nd_t *n;

        *ns_out = NULL;
        if (!name || !dotted_valid(name)) {
                pfail(c, "named type without a valid \"name\"");
                return NULL;
        }
        if (jns && !json_is_null(jns)) {
                if (!json_is_string(jns)) {
                        pfail(c, "\"namespace\" of %s is not a string", name);
                        return NULL;
                }
                space = json_string_value(jns);
                if (*space && !dotted_valid(space)) {
                        pfail(c, "bad namespace \"%s\"", space);
                        return NULL;
                }
        }
        if (strchr(name, '.')) {
                full = strdup(name);
        } else if (space && *space) {
                size_t len = strlen(space) + strlen(name) + 2;

                full = malloc(len);
                if (full)
                        snprintf(full, len, "%s.%s", space, name);
        } else {
                full = strdup(name);
        }
        if (!full) {
                pfail(c, "out of memory");
                return NULL;
        }
        last = strrchr(full, '.');
        if (prim_kind(last ? last + 1 : full) >= 0) {
                pfail(c, "type name \"%s\" is a primitive name", full);
                free(full);
                return NULL;
        }
        if (named_find(c, full)) {
                pfail(c, "type \"%s\" defined twice", full);
                free(full);
                return NULL;
        }
        if (c->n_named >= EV_MAX_NAMED) {
                pfail(c, "too many named types");
                free(full);
                return NULL;
        }
        *ns_out = last ? strndup(full, (size_t)(last - full)) : strdup("");
        n = *ns_out ? nd_new(c, kind) : NULL;
        if (!n) {
                free(*ns_out);
                *ns_out = NULL;
                free(full);
                pfail(c, "out of memory");
                return NULL;
        }
        n->fullname = full;
        c->named[c->n_named++] = n;
        return n;
}

static int parse_record(pctx_t *c, nd_t *n, json_t *j, const char *ns,
                        int depth)
{
        json_t *fields = json_object_get(j, "fields");
        size_t nf;

        if (!json_is_array(fields))
                return pfail(c, "record %s has no \"fields\" array",
                             n->fullname);
        nf = json_array_size(fields);
        n->names = calloc(nf ? nf : 1, sizeof(char *));
        n->kids = calloc(nf ? nf : 1, sizeof(nd_t *));
        if (!n->names || !n->kids)
                return pfail(c, "out of memory");
        for (size_t i = 0; i < nf; i++) {
                json_t *f = json_array_get(fields, i);
                const char *fname =
                    json_string_value(json_object_get(f, "name"));

                if (!fname || !name_valid(fname, strlen(fname)))
                        return pfail(c,
                                     "record %s: field %zu has no valid name",
                                     n->fullname, i);
                for (size_t k = 0; k < n->n; k++)
                        if (strcmp(n->names[k], fname) == 0)
                                return pfail(c, "record %s: field %s twice",
                                             n->fullname, fname);
                n->names[i] = strdup(fname);
                if (!n->names[i])
                        return pfail(c, "out of memory");
                n->n = i + 1;
                n->kids[i] =
                    nd_parse(c, json_object_get(f, "type"), ns, depth + 1);
                if (!n->kids[i])
                        return -1;
        }
        n->n = nf;
        return 0;
}

static int parse_enum(pctx_t *c, nd_t *n, json_t *j)
{
        json_t *syms = json_object_get(j, "symbols");
        size_t ns;

        if (!json_is_array(syms) || json_array_size(syms) == 0)
                return pfail(c, "enum %s has no \"symbols\"", n->fullname);
        ns = json_array_size(syms);
        n->names = calloc(ns, sizeof(char *));
        if (!n->names)
                return pfail(c, "out of memory");
        for (size_t i = 0; i < ns; i++) {
                const char *s = json_string_value(json_array_get(syms, i));

                if (!s || !name_valid(s, strlen(s)))
                        return pfail(c, "enum %s: bad symbol %zu", n->fullname,
                                     i);
                for (size_t k = 0; k < n->n; k++)
                        if (strcmp(n->names[k], s) == 0)
                                return pfail(c, "enum %s: symbol %s twice",
                                             n->fullname, s);
                n->names[i] = strdup(s);
                if (!n->names[i])
                        return pfail(c, "out of memory");
                n->n = i + 1;
        }
        return 0;
}

static nd_t *parse_union(pctx_t *c, json_t *j, const char *ns, int depth)
{
        size_t nb = json_array_size(j);
        nd_t *n;

        if (nb == 0) {
                pfail(c, "empty union");
                return NULL;
        }
        n = nd_new(c, ND_UNION);
        if (!n)
                return NULL;
        n->kids = calloc(nb, sizeof(nd_t *));
        if (!n->kids) {
                pfail(c, "out of memory");
                return NULL;
        }
        for (size_t i = 0; i < nb; i++) {
                nd_t *b = nd_parse(c, json_array_get(j, i), ns, depth + 1);

                if (!b)
                        return NULL;
                if (b->kind == ND_UNION) {
                        pfail(c, "union directly inside a union");
                        return NULL;
                }
                for (size_t k = 0; k < i; k++)
                        if (n->kids[k] == b ||
                            (n->kids[k]->kind == b->kind &&
                             b->kind != ND_RECORD && b->kind != ND_ENUM &&
                             b->kind != ND_FIXED)) {
                                pfail(c, "union has the same type twice");
                                return NULL;
                        }
                n->kids[i] = b;
        }
        n->n = nb;
        return n;
}

/*
 * Parses one schema JSON value into nodes (owned by c->all). ns is the
 * enclosing namespace ("" or NULL for none). NULL with c->errstr on error.
 */
static nd_t *nd_parse(pctx_t *c, json_t *j, const char *ns, int depth)
{
        const char *type;
        char *child_ns = NULL;
        nd_t *n = NULL;
        int k;

        if (depth > EV_MAX_DEPTH) {
                pfail(c, "schema nested too deeply");
                return NULL;
        }
        if (json_is_string(j)) {
                type = json_string_value(j);
                k = prim_kind(type);
                return k >= 0 ? nd_new(c, (nd_kind_t)k)
                              : named_ref(c, type, ns);
        }
        if (json_is_array(j))
                return parse_union(c, j, ns, depth);
        if (!json_is_object(j) ||
            !(type = json_string_value(json_object_get(j, "type")))) {
                pfail(c, "schema is not a string, array or object with a "
                         "string \"type\"");
                return NULL;
        }
        /* Attributes such as logicalType, doc, default and aliases do not
         * change how a datum is parsed: they are ignored here, as the
         * canonical form strips them. */
        if ((k = prim_kind(type)) >= 0)
                return nd_new(c, (nd_kind_t)k);
        if (strcmp(type, "record") == 0) {
                n = named_define(c, j, ND_RECORD, ns, &child_ns);
                if (n && parse_record(c, n, j, child_ns, depth))
                        n = NULL;
        } else if (strcmp(type, "enum") == 0) {
                n = named_define(c, j, ND_ENUM, ns, &child_ns);
                if (n && parse_enum(c, n, j))
                        n = NULL;
        } else if (strcmp(type, "fixed") == 0) {
                json_t *size = json_object_get(j, "size");

                n = named_define(c, j, ND_FIXED, ns, &child_ns);
                if (n &&
                    (!json_is_integer(size) || json_integer_value(size) < 0 ||
                     json_integer_value(size) > EV_MAX_TEXT)) {
                        pfail(c, "fixed %s has no valid \"size\"", n->fullname);
                        n = NULL;
                }
                if (n)
                        n->size = json_integer_value(size);
        } else if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
                int arr = type[0] == 'a';

                n = nd_new(c, arr ? ND_ARRAY : ND_MAP);
                if (n)
                        n->items = nd_parse(
                            c, json_object_get(j, arr ? "items" : "values"), ns,
                            depth + 1);
                if (n && !n->items)
                        n = NULL;
        } else {
                n = named_ref(c, type, ns);
        }
        free(child_ns);
        return n;
}

/* ------------------------------------------------------ canonical form */

static int pcf_emit(scim_buf_t *b, nd_t *n)
{
        int rc = 0;

        switch (n->kind) {
        case ND_NULL:
        case ND_BOOLEAN:
        case ND_INT:
        case ND_LONG:
        case ND_FLOAT:
        case ND_DOUBLE:
        case ND_BYTES:
        case ND_STRING:
                return scim_buf_printf(b, "\"%s\"", prim_names[n->kind]);
        case ND_RECORD:
        case ND_ENUM:
        case ND_FIXED:
                if (n->emitted)
                        return scim_buf_printf(b, "\"%s\"", n->fullname);
                n->emitted = 1;
                rc = scim_buf_printf(b, "{\"name\":\"%s\",\"type\":\"%s\"",
                                     n->fullname,
                                     n->kind == ND_RECORD ? "record"
                                     : n->kind == ND_ENUM ? "enum"
                                                          : "fixed");
                if (n->kind == ND_RECORD) {
                        rc |= scim_buf_puts(b, ",\"fields\":[");
                        for (size_t i = 0; i < n->n && !rc; i++) {
                                rc |= scim_buf_printf(
                                    b, "%s{\"name\":\"%s\",\"type\":",
                                    i ? "," : "", n->names[i]);
                                rc |= pcf_emit(b, n->kids[i]);
                                rc |= scim_buf_puts(b, "}");
                        }
                        rc |= scim_buf_puts(b, "]");
                } else if (n->kind == ND_ENUM) {
                        rc |= scim_buf_puts(b, ",\"symbols\":[");
                        for (size_t i = 0; i < n->n; i++)
                                rc |= scim_buf_printf(
                                    b, "%s\"%s\"", i ? "," : "", n->names[i]);
                        rc |= scim_buf_puts(b, "]");
                } else {
                        rc |= scim_buf_printf(b, ",\"size\":%lld",
                                              (long long)n->size);
                }
                rc |= scim_buf_puts(b, "}");
                return rc ? -1 : 0;
        case ND_ARRAY:
        case ND_MAP:
                rc = scim_buf_printf(b, "{\"type\":\"%s\",\"%s\":",
                                     n->kind == ND_ARRAY ? "array" : "map",
                                     n->kind == ND_ARRAY ? "items" : "values");
                rc |= pcf_emit(b, n->items);
                rc |= scim_buf_puts(b, "}");
                return rc ? -1 : 0;
        case ND_UNION:
                rc = scim_buf_puts(b, "[");
                for (size_t i = 0; i < n->n && !rc; i++) {
                        if (i)
                                rc |= scim_buf_puts(b, ",");
                        rc |= pcf_emit(b, n->kids[i]);
                }
                rc |= scim_buf_puts(b, "]");
                return rc ? -1 : 0;
        }
        return -1;
}

/* ------------------------------------------- writer schema vs. C fields */

static int field_index(const nd_t *rec, const char *name)
{
        for (size_t i = 0; i < rec->n; i++)
                if (strcmp(rec->names[i], name) == 0)
                        return (int)i;
        return -1;
}

static int opt_string_ok(const nd_t *w)
{
        int strings = 0;

        if (w->kind == ND_STRING)
                return 1;
        if (w->kind != ND_UNION)
                return 0;
        for (size_t i = 0; i < w->n; i++) {
                if (w->kids[i]->kind == ND_STRING)
                        strings++;
                else if (w->kids[i]->kind != ND_NULL)
                        return 0;
        }
        return strings == 1;
}

/* Builds the writer enum index -> C value map; every symbol must be known. */
static int map_symbols(const nd_t *w, const struct sym_def *defs, int **out,
                       const char *field, char *errstr, size_t errlen)
{
        int *map = calloc(w->n, sizeof(int));

        if (!map) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        for (size_t i = 0; i < w->n; i++) {
                const struct sym_def *d = defs;

                while (d->name && strcmp(d->name, w->names[i]) != 0)
                        d++;
                if (!d->name) {
                        snprintf(errstr, errlen,
                                 "field %s: symbol %s unknown to this build",
                                 field, w->names[i]);
                        free(map);
                        return -1;
                }
                map[i] = d->value;
        }
        *out = map;
        return 0;
}

/* Checks that writer node w has the shape the C field expects, and fills
 * the per-version maps it needs. */
static int check_field(evver_t *v, int f, const nd_t *w, char *errstr,
                       size_t errlen)
{
        const char *name = FIELDS[f].name;
        const nd_t *m;

        switch (FIELDS[f].shape) {
        case SH_STRING:
                if (w->kind == ND_STRING)
                        return 0;
                break;
        case SH_OPT_STRING:
                if (opt_string_ok(w))
                        return 0;
                break;
        case SH_INT:
                if (w->kind == ND_INT)
                        return 0;
                break;
        case SH_LONG:
                if (w->kind == ND_INT || w->kind == ND_LONG)
                        return 0;
                break;
        case SH_BOOL:
                if (w->kind == ND_BOOLEAN)
                        return 0;
                break;
        case SH_RTYPE:
                if (w->kind == ND_ENUM)
                        return map_symbols(w, RTYPE_SYMS, &v->sym_rtype, name,
                                           errstr, errlen);
                break;
        case SH_ACTION:
                if (w->kind == ND_ENUM)
                        return map_symbols(w, ACTION_SYMS, &v->sym_action, name,
                                           errstr, errlen);
                break;
        case SH_STRINGS:
                if (w->kind == ND_ARRAY && w->items->kind == ND_STRING)
                        return 0;
                break;
        case SH_MEMBERS:
                if (w->kind != ND_ARRAY || w->items->kind != ND_RECORD)
                        break;
                m = w->items;
                v->mem_value = field_index(m, "value");
                v->mem_display = field_index(m, "display");
                if (v->mem_value < 0 ||
                    m->kids[v->mem_value]->kind != ND_STRING)
                        break;
                if (v->mem_display >= 0 &&
                    !opt_string_ok(m->kids[v->mem_display]))
                        break;
                return 0;
        }
        snprintf(errstr, errlen, "field %s has a type this build cannot read",
                 name);
        return -1;
}

static int map_version(evver_t *v, int current, char *errstr, size_t errlen)
{
        const nd_t *root = v->root;
        int rc = -1;

        v->mem_value = v->mem_display = -1;
        v->slot = calloc(root->n ? root->n : 1, sizeof(int));
        if (!v->slot) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        for (int f = 0; f < F_COUNT; f++)
                v->at[f] = -1;
        for (size_t i = 0; i < root->n; i++) {
                int f = 0;

                while (f < F_COUNT && strcmp(FIELDS[f].name, root->names[i]))
                        f++;
                if (f == F_COUNT) {
                        /* A field this build does not carry: skipped when
                         * reading, but the writer we encode with must not
                         * have one (we could not fill it). */
                        if (current) {
                                snprintf(errstr, errlen,
                                         "field %s is unknown to the encoder",
                                         root->names[i]);
                                goto out;
                        }
                        v->slot[i] = -1;
                        continue;
                }
                if (check_field(v, f, root->kids[i], errstr, errlen))
                        goto out;
                if (current && f == F_MEMBERS_ADDED &&
                    root->kids[i]->items->n != 1u + (v->mem_display >= 0)) {
                        snprintf(errstr, errlen,
                                 "Member has fields unknown "
                                 "to the encoder");
                        goto out;
                }
                v->slot[i] = f;
                v->at[f] = (int)i;
        }
        for (int f = 0; f < F_COUNT; f++) {
                if (v->at[f] < 0 && FIELDS[f].since <= v->version) {
                        snprintf(errstr, errlen,
                                 "lacks field %s (required "
                                 "since version %d)",
                                 FIELDS[f].name, FIELDS[f].since);
                        goto out;
                }
        }
        rc = 0;
out:
        return rc;
}

/* ------------------------------------------------------------ init, exit */

static void version_free(evver_t *v)
{
        nodes_free(v->nodes);
        free(v->canonical);
        free(v->slot);
        free(v->sym_rtype);
        free(v->sym_action);
        memset(v, 0, sizeof(*v));
}

static int load_version(evver_t *v, const scim_embedded_file_t *file,
                        int version, char *errstr, size_t errlen)
{
        pctx_t c = {.errstr = errstr, .errlen = errlen};
        scim_buf_t pcf = {0};
        json_error_t jerr;
        json_t *j = NULL;
        int rc = -1;

        v->version = version;
        v->text = file->data;
        j = json_loadb(file->data, file->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j) {
                pfail(&c, "line %d: %s", jerr.line, jerr.text);
                goto out;
        }
        v->root = nd_parse(&c, j, "", 0);
        v->nodes = c.all;
        if (!v->root)
                goto out;
        if (v->root->kind != ND_RECORD ||
            strcmp(v->root->fullname, "io.scimlog.Event") != 0) {
                pfail(&c, "top level is not the record io.scimlog.Event");
                goto out;
        }
        if (pcf_emit(&pcf, v->root) || !pcf.data) {
                pfail(&c, "out of memory");
                goto out;
        }
        v->canonical = pcf.data;
        pcf.data = NULL;
        v->fp = scim_avro_fingerprint(v->canonical, strlen(v->canonical));
        rc = 0;
out:
        scim_buf_free(&pcf);
        json_decref(j);
        return rc;
}

int scim_event_init(char *errstr, size_t errlen)
{
        char name[64] = "avro/event.v*.avsc", detail[256] = "";
        int embedded = 0, n = 0, rc = -1;
        evver_t *cur;

        if (g_nver > 0)
                return 0;
        for (const scim_embedded_file_t *f = scim_embedded_files; f->name; f++)
                if (strncmp(f->name, "avro/event.v", 12) == 0)
                        embedded++;
        for (int version = 1; version <= EV_MAX_VERSIONS; version++) {
                const scim_embedded_file_t *f;
                evver_t *v = &g_ver[version - 1];

                snprintf(name, sizeof(name), "avro/event.v%d.avsc", version);
                if (!(f = scim_embedded_find(name)))
                        break;
                n = version;
                if (load_version(v, f, version, detail, sizeof(detail)))
                        goto out;
                for (int k = 0; k < version - 1; k++) {
                        if (g_ver[k].fp == v->fp) {
                                snprintf(detail, sizeof(detail),
                                         "same canonical form as version %d",
                                         k + 1);
                                goto out;
                        }
                }
        }
        if (n == 0 || n != embedded) {
                snprintf(name, sizeof(name), "avro/event.v*.avsc");
                snprintf(detail, sizeof(detail),
                         "must be numbered 1..N without gaps (%d files, "
                         "%d in sequence)",
                         embedded, n);
                goto out;
        }
        for (int k = 0; k < n; k++) {
                snprintf(name, sizeof(name), "avro/event.v%d.avsc", k + 1);
                if (map_version(&g_ver[k], k == n - 1, detail, sizeof(detail)))
                        goto out;
        }

        /* The schema we write with must also be accepted by avro-c, which
         * does the encoding. */
        cur = &g_ver[n - 1];
        if (avro_schema_from_json_length(cur->text, strlen(cur->text),
                                         &g_avro)) {
                snprintf(detail, sizeof(detail), "avro-c: %s", avro_strerror());
                g_avro = NULL;
                goto out;
        }
        g_iface = avro_generic_class_from_schema(g_avro);
        if (!g_iface) {
                snprintf(detail, sizeof(detail), "avro-c: %s", avro_strerror());
                goto out;
        }
        g_nver = n;
        rc = 0;
out:
        if (rc) {
                snprintf(errstr, errlen, "%s: %s", name, detail);
                scim_event_shutdown();
        }
        return rc;
}

void scim_event_shutdown(void)
{
        if (g_iface)
                avro_value_iface_decref(g_iface);
        g_iface = NULL;
        if (g_avro)
                avro_schema_decref(g_avro);
        g_avro = NULL;
        for (int k = 0; k < EV_MAX_VERSIONS; k++)
                version_free(&g_ver[k]);
        g_nver = 0;
}

uint64_t scim_event_writer_fingerprint(void)
{
        return g_nver ? g_ver[g_nver - 1].fp : 0;
}

uint64_t scim_event_schema_fingerprint(int version)
{
        if (version < 1 || version > g_nver)
                return 0;
        return g_ver[version - 1].fp;
}

int scim_event_schema_count(void)
{
        return g_nver;
}

const char *scim_event_schema_text(int version)
{
        if (version < 1 || version > g_nver)
                return NULL;
        return g_ver[version - 1].text;
}

/* -------------------------------------------------------------- the event */

/* free, skipping the call for the many fields an event leaves NULL (a
 * new event is cleared once, a sent one once more: ~0.6k instructions of
 * a POST were free(NULL)) */
static inline void ev_free(void *p)
{
        if (p)
                free(p);
}

void scim_event_clear(scim_event_t *ev)
{
        if (!ev)
                return;
        ev_free(ev->tenant);
        ev_free(ev->resource_id);
        ev_free(ev->actor);
        ev_free(ev->request_id);
        ev_free(ev->resource_json);
        json_decref(ev->resource_parsed);
        for (size_t i = 0; ev->added && i < ev->n_added; i++) {
                ev_free(ev->added[i].value);
                ev_free(ev->added[i].display);
        }
        ev_free(ev->added);
        for (size_t i = 0; ev->removed && i < ev->n_removed; i++)
                ev_free(ev->removed[i]);
        ev_free(ev->removed);
        ev_free(ev->refused_scim_type);
        ev_free(ev->refused_detail);
        ev_free(ev->request_digest);
        ev_free(ev->token_id);
        ev_free(ev->token_hash);
        ev_free(ev->token_scope);
        ev_free(ev->attempted_action);
        ev_free(ev->resource_type_name);
        ev_free(ev->admin_json);
        ev_free(ev->sealed_json);
        ev_free(ev->key_id);
        memset(ev, 0, sizeof(*ev));
}

/*
 * The value a field takes when the writer schema lacks it. Every field
 * added in a later schema version must get its default here (the same one
 * as the "default" in its .avsc). Version 1 lacks token_scope and
 * attempted_action (version 2), whose default null is the zero value; so
 * this only sets expect_version's "no precondition".
 */
static void ev_set_defaults(scim_event_t *ev, int writer_version)
{
        (void)writer_version;
        ev->expect_version = -1;
        ev->token_scope = NULL;      /* since 2: default null */
        ev->attempted_action = NULL; /* since 2: default null */
        ev->expires_ms = 0;          /* since 3: default 0; the strings
                                        added in 3 default to null */
}

static int uuid_valid(const char *s, size_t n)
{
        if (n != 36)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return 0;
                } else if (!isxdigit((unsigned char)s[i])) {
                        return 0;
                }
        }
        return 1;
}

/* ------------------------------------------------------------- decoding */

/* Reader state of one decode call (stack-owned; no shared state). */
typedef struct rd {
        const unsigned char *p, *end;
        size_t text;       /* string bytes decoded so far */
        size_t items;      /* array/map items seen so far */
        const char *field; /* top-level field being read, for messages */
        scim_err_t *err;
} rd_t;

static int rd_fail(rd_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int rd_fail(rd_t *r, const char *fmt, ...)
{
        char msg[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (r->field)
                scim_err_set(r->err, 400, "invalidSyntax",
                             "malformed event: field %s: %s", r->field, msg);
        else
                scim_err_set(r->err, 400, "invalidSyntax",
                             "malformed event: %s", msg);
        return -1;
}

static size_t rd_left(const rd_t *r)
{
        return (size_t)(r->end - r->p);
}

/* Zig-zag varint, at most 10 bytes, must fit in 64 bits. */
static int rd_long(rd_t *r, int64_t *out)
{
        uint64_t u = 0;

        for (int i = 0; i < 10; i++) {
                unsigned char b;

                if (r->p >= r->end)
                        return rd_fail(r, "truncated");
                b = *r->p++;
                if (i == 9 && b > 1)
                        return rd_fail(r, "varint overflows 64 bits");
                u |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80)) {
                        *out = (int64_t)((u >> 1) ^ (0 - (u & 1)));
                        return 0;
                }
        }
        return rd_fail(r, "varint longer than 10 bytes");
}

static int rd_int(rd_t *r, int32_t *out)
{
        int64_t v = 0;

        if (rd_long(r, &v))
                return -1;
        if (v < INT32_MIN || v > INT32_MAX)
                return rd_fail(r, "int out of range");
        *out = (int32_t)v;
        return 0;
}

static int rd_bool(rd_t *r, int *out)
{
        if (r->p >= r->end)
                return rd_fail(r, "truncated");
        if (*r->p > 1)
                return rd_fail(r, "boolean byte is %u", *r->p);
        *out = *r->p++;
        return 0;
}

static int rd_raw(rd_t *r, size_t n)
{
        if (n > rd_left(r))
                return rd_fail(r, "truncated");
        r->p += n;
        return 0;
}

/* Length-prefixed bytes; *s points into the input. */
static int rd_bytes(rd_t *r, const char **s, size_t *n)
{
        int64_t len = 0;

        if (rd_long(r, &len))
                return -1;
        if (len < 0)
                return rd_fail(r, "negative length");
        if ((uint64_t)len > rd_left(r))
                return rd_fail(r, "length %lld past the end", (long long)len);
        *s = (const char *)r->p;
        *n = (size_t)len;
        r->p += len;
        return 0;
}

/* A string as a new NUL-terminated heap copy (caller owns *out): must be
 * UTF-8 without NUL, within the per-event text budget. */
static int rd_text(rd_t *r, char **out)
{
        const char *s = NULL;
        size_t n = 0;

        if (rd_bytes(r, &s, &n))
                return -1;
        if (n + 1 > EV_MAX_TEXT - r->text)
                return rd_fail(r, "event text over %u bytes", EV_MAX_TEXT);
        r->text += n + 1;
        if (memchr(s, 0, n))
                return rd_fail(r, "string contains NUL");
        if (!scim_utf8_valid(s, n))
                return rd_fail(r, "string is not UTF-8");
        *out = strndup(s, n);
        if (!*out)
                return scim_err_set(r->err, 500, "", "out of memory");
        return 0;
}

/* Reads a union discriminant and returns the branch node. */
static int rd_branch(rd_t *r, const nd_t *u, const nd_t **b)
{
        int64_t i = 0;

        if (rd_long(r, &i))
                return -1;
        if (i < 0 || (uint64_t)i >= u->n)
                return rd_fail(r, "union branch %lld out of range",
                               (long long)i);
        *b = u->kids[i];
        return 0;
}

static int rd_opt_text(rd_t *r, const nd_t *w, char **out)
{
        if (w->kind == ND_UNION && rd_branch(r, w, &w))
                return -1;
        if (w->kind == ND_NULL)
                return 0;
        return rd_text(r, out);
}

static int rd_enum(rd_t *r, const nd_t *w, size_t *out)
{
        int32_t i = 0;

        if (rd_int(r, &i))
                return -1;
        if (i < 0 || (size_t)i >= w->n)
                return rd_fail(r, "enum index %d out of range", i);
        *out = (size_t)i;
        return 0;
}

/*
 * Reads one block header of an array or map. *count is the number of items
 * in the block (0 at the end); when the writer gave the block's byte size,
 * *block_end is where the block must end, else NULL. min_item is the least
 * number of bytes one item takes (0 if an item can be empty).
 */
static int rd_block(rd_t *r, size_t *total, size_t min_item, size_t *count,
                    const unsigned char **block_end)
{
        int64_t c = 0, size = 0;

        *block_end = NULL;
        if (rd_long(r, &c))
                return -1;
        if (c < 0) {
                if (c == INT64_MIN)
                        return rd_fail(r, "bad block count");
                c = -c;
                if (rd_long(r, &size))
                        return -1;
                if (size < 0 || (uint64_t)size > rd_left(r))
                        return rd_fail(r, "bad block size");
                *block_end = r->p + size;
        }
        if ((uint64_t)c > EV_MAX_ITEMS - *total)
                return rd_fail(r, "more than %u items", EV_MAX_ITEMS);
        if ((uint64_t)c > EV_MAX_ITEMS_TOTAL - r->items)
                return rd_fail(r, "more than %u items in the event",
                               EV_MAX_ITEMS_TOTAL);
        if (min_item && (uint64_t)c > rd_left(r) / min_item)
                return rd_fail(r, "item count %lld past the end", (long long)c);
        *total += (size_t)c;
        r->items += (size_t)c;
        *count = (size_t)c;
        return 0;
}

static int rd_block_end(rd_t *r, const unsigned char *block_end)
{
        if (block_end && r->p != block_end)
                return rd_fail(r, "block size does not match its items");
        return 0;
}

/* Skips one value of writer type n (a field this build does not map). */
static int rd_skip(rd_t *r, const nd_t *n, int depth)
{
        const char *s = NULL;
        size_t len = 0, total = 0, count = 0, e = 0;
        const unsigned char *bend = NULL;
        int32_t i32 = 0;
        int64_t i64 = 0;
        int b = 0;

        if (depth > EV_MAX_DEPTH)
                return rd_fail(r, "nested too deeply");
        switch (n->kind) {
        case ND_NULL:
                return 0;
        case ND_BOOLEAN:
                return rd_bool(r, &b);
        case ND_INT:
                return rd_int(r, &i32);
        case ND_LONG:
                return rd_long(r, &i64);
        case ND_FLOAT:
                return rd_raw(r, 4);
        case ND_DOUBLE:
                return rd_raw(r, 8);
        case ND_BYTES:
        case ND_STRING:
                return rd_bytes(r, &s, &len);
        case ND_FIXED:
                return rd_raw(r, (size_t)n->size);
        case ND_ENUM:
                return rd_enum(r, n, &e);
        case ND_UNION: {
                const nd_t *br = NULL;

                if (rd_branch(r, n, &br))
                        return -1;
                return rd_skip(r, br, depth + 1);
        }
        case ND_RECORD:
                for (size_t i = 0; i < n->n; i++)
                        if (rd_skip(r, n->kids[i], depth + 1))
                                return -1;
                return 0;
        case ND_ARRAY:
        case ND_MAP:
                for (;;) {
                        if (rd_block(r, &total, n->kind == ND_MAP, &count,
                                     &bend))
                                return -1;
                        if (count == 0)
                                return 0;
                        for (size_t i = 0; i < count; i++) {
                                if (n->kind == ND_MAP && rd_bytes(r, &s, &len))
                                        return -1;
                                if (rd_skip(r, n->items, depth + 1))
                                        return -1;
                        }
                        if (rd_block_end(r, bend))
                                return -1;
                }
        }
        return rd_fail(r, "unknown type");
}

/* Grows an array of `size`-byte items to hold at least `need`; new items
 * are zeroed. */
static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
        size_t ncap = *cap ? *cap : 16;
        void *p;

        if (need <= *cap)
                return 0;
        while (ncap < need)
                ncap *= 2;
        p = realloc(*arr, ncap * size);
        if (!p)
                return -1;
        memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
        *arr = p;
        *cap = ncap;
        return 0;
}

static int rd_members(rd_t *r, const evver_t *v, const nd_t *w,
                      scim_event_t *ev)
{
        const nd_t *m = w->items;
        size_t total = 0, cap = 0, count = 0;
        const unsigned char *bend = NULL;

        for (;;) {
                if (rd_block(r, &total, 1, &count, &bend))
                        return -1;
                if (count == 0)
                        return 0;
                if (grow((void **)&ev->added, &cap, total,
                         sizeof(scim_member_t)))
                        return scim_err_set(r->err, 500, "", "out of memory");
                for (size_t i = 0; i < count; i++) {
                        scim_member_t *mem = &ev->added[ev->n_added++];

                        for (size_t k = 0; k < m->n; k++) {
                                int rc;

                                if ((int)k == v->mem_value)
                                        rc = rd_text(r, &mem->value);
                                else if ((int)k == v->mem_display)
                                        rc = rd_opt_text(r, m->kids[k],
                                                         &mem->display);
                                else
                                        rc = rd_skip(r, m->kids[k], 2);
                                if (rc)
                                        return -1;
                        }
                }
                if (rd_block_end(r, bend))
                        return -1;
        }
}

static int rd_strings(rd_t *r, scim_event_t *ev)
{
        size_t total = 0, cap = 0, count = 0;
        const unsigned char *bend = NULL;

        for (;;) {
                if (rd_block(r, &total, 1, &count, &bend))
                        return -1;
                if (count == 0)
                        return 0;
                if (grow((void **)&ev->removed, &cap, total, sizeof(char *)))
                        return scim_err_set(r->err, 500, "", "out of memory");
                for (size_t i = 0; i < count; i++)
                        if (rd_text(r, &ev->removed[ev->n_removed++]))
                                return -1;
                if (rd_block_end(r, bend))
                        return -1;
        }
}

static int rd_field(rd_t *r, const evver_t *v, int f, const nd_t *w,
                    scim_event_t *ev)
{
        char *s = NULL;
        int32_t i32 = 0;
        int64_t i64 = 0;
        size_t sym = 0;
        int rc = 0;

        switch (f) {
        case F_EVENT_ID:
                if (rd_text(r, &s))
                        return -1;
                if (!uuid_valid(s, strlen(s)))
                        rc = rd_fail(r, "not a UUID");
                else
                        memcpy(ev->event_id, s, 37);
                free(s);
                return rc;
        case F_SCHEMA_VERSION:
                if (rd_int(r, &i32))
                        return -1;
                if (i32 != v->version)
                        return rd_fail(r,
                                       "%d but the fingerprint names "
                                       "version %d",
                                       i32, v->version);
                return 0;
        case F_TENANT:
                return rd_text(r, &ev->tenant);
        case F_RESOURCE_TYPE:
                if (rd_enum(r, w, &sym))
                        return -1;
                ev->rtype = (scim_rtype_t)v->sym_rtype[sym];
                return 0;
        case F_RESOURCE_ID:
                return rd_opt_text(r, w, &ev->resource_id);
        case F_ACTION:
                if (rd_enum(r, w, &sym))
                        return -1;
                ev->action = (scim_action_t)v->sym_action[sym];
                return 0;
        case F_TIME_MS:
        case F_EXPECT_VERSION:
        case F_EXPIRES_MS:
                if (w->kind == ND_INT) {
                        if (rd_int(r, &i32))
                                return -1;
                        i64 = i32;
                } else if (rd_long(r, &i64)) {
                        return -1;
                }
                *(f == F_TIME_MS          ? &ev->time_ms
                  : f == F_EXPECT_VERSION ? &ev->expect_version
                                          : &ev->expires_ms) = i64;
                return 0;
        case F_ACTOR:
                return rd_text(r, &ev->actor);
        case F_REQUEST_ID:
                return rd_text(r, &ev->request_id);
        case F_RESOURCE_JSON:
                return rd_opt_text(r, w, &ev->resource_json);
        case F_MEMBERS_REPLACE:
                return rd_bool(r, &ev->members_replace);
        case F_MEMBERS_ADDED:
                return rd_members(r, v, w, ev);
        case F_MEMBERS_REMOVED:
                return rd_strings(r, ev);
        case F_REFUSED_STATUS:
                return rd_int(r, &ev->refused_status);
        case F_REFUSED_SCIM_TYPE:
                return rd_opt_text(r, w, &ev->refused_scim_type);
        case F_REFUSED_DETAIL:
                return rd_opt_text(r, w, &ev->refused_detail);
        case F_REQUEST_DIGEST:
                return rd_opt_text(r, w, &ev->request_digest);
        case F_TOKEN_ID:
                return rd_opt_text(r, w, &ev->token_id);
        case F_TOKEN_HASH:
                return rd_opt_text(r, w, &ev->token_hash);
        case F_TOKEN_SCOPE:
                return rd_opt_text(r, w, &ev->token_scope);
        case F_ATTEMPTED_ACTION:
                return rd_opt_text(r, w, &ev->attempted_action);
        case F_RESOURCE_TYPE_NAME:
                return rd_opt_text(r, w, &ev->resource_type_name);
        case F_ADMIN_JSON:
                return rd_opt_text(r, w, &ev->admin_json);
        case F_SEALED_JSON:
                return rd_opt_text(r, w, &ev->sealed_json);
        case F_KEY_ID:
                return rd_opt_text(r, w, &ev->key_id);
        }
        return rd_fail(r, "unmapped field");
}

int scim_event_decode(const void *data, size_t len, scim_event_t *ev,
                      scim_err_t *err)
{
        const unsigned char *p = data;
        const evver_t *v = NULL;
        rd_t r = {.err = err};
        uint64_t fp = 0;
        int rc = -1;

        memset(ev, 0, sizeof(*ev));
        if (!p || len < EV_HEADER_LEN) {
                scim_err_set(err, 400, "invalidSyntax",
                             "event too short (%zu bytes)", len);
                goto out;
        }
        if (p[0] != EV_MAGIC0 || p[1] != EV_MAGIC1) {
                scim_err_set(err, 400, "invalidSyntax",
                             "event does not start with the Avro "
                             "single-object marker C3 01");
                goto out;
        }
        if (len > EV_MAX_INPUT + EV_HEADER_LEN) {
                scim_err_set(err, 400, "invalidSyntax",
                             "event larger than %u bytes", EV_MAX_INPUT);
                goto out;
        }
        for (int i = 7; i >= 0; i--)
                fp = (fp << 8) | p[2 + i];
        for (int k = 0; k < g_nver && !v; k++)
                if (g_ver[k].fp == fp)
                        v = &g_ver[k];
        if (!v) {
                scim_err_set(err, 400, "invalidSyntax",
                             "event written with an unknown schema "
                             "(fingerprint 0x%016llx)",
                             (unsigned long long)fp);
                goto out;
        }
        ev_set_defaults(ev, v->version);
        ev->schema_version = v->version;
        r.p = p + EV_HEADER_LEN;
        r.end = p + len;
        for (size_t i = 0; i < v->root->n; i++) {
                r.field = v->root->names[i];
                if (v->slot[i] < 0) {
                        if (rd_skip(&r, v->root->kids[i], 1))
                                goto out;
                } else if (rd_field(&r, v, v->slot[i], v->root->kids[i], ev)) {
                        goto out;
                }
        }
        r.field = NULL;
        if (r.p != r.end) {
                rd_fail(&r, "%zu trailing bytes after the datum", rd_left(&r));
                goto out;
        }
        rc = 0;
out:
        if (rc)
                scim_event_clear(ev);
        return rc;
}

/* ------------------------------------------------------------- encoding */

/* Checks that an event can be written and read back; the limits mirror the
 * decoder's, so whatever we encode we can decode. *text_out (may be NULL):
 * the bytes of its strings, each counted one more. */
static int ev_check(const scim_event_t *ev, scim_err_t *err,
                    size_t *text_out)
{
        const char *strs[] = {ev->tenant,         ev->resource_id,
                              ev->actor,          ev->request_id,
                              ev->resource_json,  ev->refused_scim_type,
                              ev->refused_detail, ev->request_digest,
                              ev->token_id,       ev->token_hash,
                              ev->token_scope,    ev->attempted_action,
                              ev->resource_type_name, ev->admin_json,
                              ev->sealed_json,    ev->key_id};
        size_t text = 0;

        if (!uuid_valid(ev->event_id, strnlen(ev->event_id, 37)))
                return scim_err_set(err, 500, "", "event_id is not a UUID");
        if (!ev->tenant)
                return scim_err_set(err, 500, "", "event has no tenant");
        if (ev->rtype != 0 && ev->rtype != SCIM_RT_USER &&
            ev->rtype != SCIM_RT_GROUP && ev->rtype != SCIM_RT_CUSTOM)
                return scim_err_set(err, 500, "", "bad resource type %d",
                                    (int)ev->rtype);
        if ((int)ev->action < SCIM_ACT_CREATE ||
            ev->action > SCIM_ACT_LAST)
                return scim_err_set(err, 500, "", "bad action %d",
                                    (int)ev->action);
        if (ev->n_added > EV_MAX_ITEMS || ev->n_removed > EV_MAX_ITEMS)
                return scim_err_set(err, 500, "",
                                    "more than %u members in one event",
                                    EV_MAX_ITEMS);
        if ((ev->n_added && !ev->added) || (ev->n_removed && !ev->removed))
                return scim_err_set(err, 500, "", "member array missing");
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
                size_t n = strs[i] ? strlen(strs[i]) : 0;

                if (strs[i] && !scim_utf8_valid(strs[i], n))
                        return scim_err_set(err, 500, "",
                                            "event string is not UTF-8");
                text += n + 1;
        }
        for (size_t i = 0; i < ev->n_added; i++) {
                const scim_member_t *m = &ev->added[i];

                if (!m->value)
                        return scim_err_set(err, 500, "",
                                            "member %zu has no value", i);
                text += strlen(m->value) + 1 +
                        (m->display ? strlen(m->display) + 1 : 0);
                if (!scim_utf8_valid(m->value, strlen(m->value)) ||
                    (m->display &&
                     !scim_utf8_valid(m->display, strlen(m->display))))
                        return scim_err_set(err, 500, "",
                                            "member %zu is not UTF-8", i);
        }
        for (size_t i = 0; i < ev->n_removed; i++) {
                if (!ev->removed[i])
                        return scim_err_set(err, 500, "",
                                            "removed member %zu is NULL", i);
                if (!scim_utf8_valid(ev->removed[i], strlen(ev->removed[i])))
                        return scim_err_set(
                            err, 500, "", "removed member %zu is not UTF-8", i);
                text += strlen(ev->removed[i]) + 1;
        }
        if (text > EV_MAX_TEXT)
                return scim_err_set(err, 500, "", "event text over %u bytes",
                                    EV_MAX_TEXT);
        if (text_out)
                *text_out = text;
        return 0;
}

/* Index of the first union branch of kind k, or -1. */
static int branch_of(const nd_t *u, nd_kind_t k)
{
        for (size_t i = 0; i < u->n; i++)
                if (u->kids[i]->kind == k)
                        return (int)i;
        return -1;
}

/* Sets a string or [null,string] avro value. A NULL string in a field the
 * schema does not let be null is written as "". enc_lock held. */
static int set_opt_string(avro_value_t *val, const nd_t *w, const char *s)
{
        avro_value_t br;

        if (w->kind == ND_UNION) {
                int null_br = branch_of(w, ND_NULL);

                if (!s && null_br >= 0)
                        return avro_value_set_branch(val, null_br, &br) ||
                               avro_value_set_null(&br);
                if (avro_value_set_branch(val, branch_of(w, ND_STRING), &br))
                        return -1;
                val = &br;
        }
        return avro_value_set_string(val, s ? s : "");
}

static int enum_index(const nd_t *w, const struct sym_def *defs, int value)
{
        for (const struct sym_def *d = defs; d->name; d++) {
                if (d->value != value)
                        continue;
                for (size_t i = 0; i < w->n; i++)
                        if (strcmp(w->names[i], d->name) == 0)
                                return (int)i;
        }
        return -1;
}

/* Fills the generic record `rec` from ev for writer version v. enc_lock
 * held. */
static int fill_record(const evver_t *v, const scim_event_t *ev,
                       avro_value_t *rec)
{
        for (int f = 0; f < F_COUNT; f++) {
                const nd_t *w;
                avro_value_t val, item, sub;
                int idx, rc = 0;

                if (v->at[f] < 0)
                        continue;
                w = v->root->kids[v->at[f]];
                if (avro_value_get_by_index(rec, (size_t)v->at[f], &val, NULL))
                        return -1;
                switch (f) {
                case F_EVENT_ID:
                        rc = avro_value_set_string(&val, ev->event_id);
                        break;
                case F_SCHEMA_VERSION:
                        rc = avro_value_set_int(&val, v->version);
                        break;
                case F_TENANT:
                        rc = set_opt_string(&val, w, ev->tenant);
                        break;
                case F_RESOURCE_TYPE:
                        idx = enum_index(w, RTYPE_SYMS, (int)ev->rtype);
                        rc = idx < 0 || avro_value_set_enum(&val, idx);
                        break;
                case F_RESOURCE_ID:
                        rc = set_opt_string(&val, w, ev->resource_id);
                        break;
                case F_ACTION:
                        idx = enum_index(w, ACTION_SYMS, (int)ev->action);
                        rc = idx < 0 || avro_value_set_enum(&val, idx);
                        break;
                case F_TIME_MS:
                case F_EXPECT_VERSION:
                case F_EXPIRES_MS: {
                        int64_t x = f == F_TIME_MS ? ev->time_ms
                                    : f == F_EXPECT_VERSION
                                        ? ev->expect_version
                                        : ev->expires_ms;

                        if (w->kind == ND_LONG)
                                rc = avro_value_set_long(&val, x);
                        else if (x >= INT32_MIN && x <= INT32_MAX)
                                rc = avro_value_set_int(&val, (int32_t)x);
                        else
                                rc = -1;
                        break;
                }
                case F_ACTOR:
                        rc = set_opt_string(&val, w, ev->actor);
                        break;
                case F_REQUEST_ID:
                        rc = set_opt_string(&val, w, ev->request_id);
                        break;
                case F_RESOURCE_JSON:
                        rc = set_opt_string(&val, w, ev->resource_json);
                        break;
                case F_MEMBERS_REPLACE:
                        rc = avro_value_set_boolean(&val,
                                                    ev->members_replace != 0);
                        break;
                case F_MEMBERS_ADDED:
                        for (size_t i = 0; i < ev->n_added && !rc; i++) {
                                const nd_t *m = w->items;

                                rc = avro_value_append(&val, &item, NULL) ||
                                     avro_value_get_by_index(
                                         &item, (size_t)v->mem_value, &sub,
                                         NULL) ||
                                     avro_value_set_string(&sub,
                                                           ev->added[i].value);
                                if (!rc && v->mem_display >= 0)
                                        rc = avro_value_get_by_index(
                                                 &item, (size_t)v->mem_display,
                                                 &sub, NULL) ||
                                             set_opt_string(
                                                 &sub, m->kids[v->mem_display],
                                                 ev->added[i].display);
                        }
                        break;
                case F_MEMBERS_REMOVED:
                        for (size_t i = 0; i < ev->n_removed && !rc; i++)
                                rc = avro_value_append(&val, &item, NULL) ||
                                     avro_value_set_string(&item,
                                                           ev->removed[i]);
                        break;
                case F_REFUSED_STATUS:
                        rc = avro_value_set_int(&val, ev->refused_status);
                        break;
                case F_REFUSED_SCIM_TYPE:
                        rc = set_opt_string(&val, w, ev->refused_scim_type);
                        break;
                case F_REFUSED_DETAIL:
                        rc = set_opt_string(&val, w, ev->refused_detail);
                        break;
                case F_REQUEST_DIGEST:
                        rc = set_opt_string(&val, w, ev->request_digest);
                        break;
                case F_TOKEN_ID:
                        rc = set_opt_string(&val, w, ev->token_id);
                        break;
                case F_TOKEN_HASH:
                        rc = set_opt_string(&val, w, ev->token_hash);
                        break;
                case F_TOKEN_SCOPE:
                        rc = set_opt_string(&val, w, ev->token_scope);
                        break;
                case F_ATTEMPTED_ACTION:
                        rc = set_opt_string(&val, w, ev->attempted_action);
                        break;
                case F_RESOURCE_TYPE_NAME:
                        rc = set_opt_string(&val, w, ev->resource_type_name);
                        break;
                case F_ADMIN_JSON:
                        rc = set_opt_string(&val, w, ev->admin_json);
                        break;
                case F_SEALED_JSON:
                        rc = set_opt_string(&val, w, ev->sealed_json);
                        break;
                case F_KEY_ID:
                        rc = set_opt_string(&val, w, ev->key_id);
                        break;
                }
                if (rc)
                        return -1;
        }
        return 0;
}

/* ------------------------------------------- direct binary encoding */

typedef struct enc {
        scim_buf_t *b;
        int oom; /* an append failed */
} enc_t;

static void put_raw(enc_t *e, const void *p, size_t n)
{
        scim_buf_t *b = e->b;

        /* room is made once for the whole event (scim_event_encode) */
        if (b->data && b->len + n < b->cap) {
                memcpy(b->data + b->len, p, n);
                b->len += n;
                b->data[b->len] = '\0';
        } else if (!e->oom && scim_buf_append(b, p, n) < 0) {
                e->oom = 1;
        }
}

/* Avro long/int: zig-zag, then base-128 varint (low groups first). */
static void put_long(enc_t *e, int64_t x)
{
        uint64_t z = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
        unsigned char t[10];
        size_t n = 0;

        while (z > 0x7f) {
                t[n++] = (unsigned char)((z & 0x7f) | 0x80);
                z >>= 7;
        }
        t[n++] = (unsigned char)z;
        put_raw(e, t, n);
}

static void put_str(enc_t *e, const char *s)
{
        size_t n = strlen(s);

        put_long(e, (int64_t)n);
        put_raw(e, s, n);
}

/* set_opt_string's datum: the null branch for NULL when the union has
 * one, else the string (NULL written as ""). */
static int put_opt(enc_t *e, const nd_t *w, const char *s)
{
        if (w->kind == ND_UNION) {
                int br = s ? -1 : branch_of(w, ND_NULL);

                if (br >= 0) {
                        put_long(e, br);
                        return 0;
                }
                if ((br = branch_of(w, ND_STRING)) < 0)
                        return -1;
                put_long(e, br);
        } else if (w->kind != ND_STRING) {
                return -1;
        }
        put_str(e, s ? s : "");
        return 0;
}

/* Arrays as avro-c writes them: one block of n items (when n > 0), then
 * the empty block that ends the array. */
static int put_members(enc_t *e, const evver_t *v, const nd_t *w,
                       const scim_event_t *ev)
{
        const nd_t *m = w->items;

        if (ev->n_added) {
                put_long(e, (int64_t)ev->n_added);
                for (size_t i = 0; i < ev->n_added; i++)
                        for (size_t k = 0; k < m->n; k++) {
                                if ((int)k == v->mem_value)
                                        put_str(e, ev->added[i].value);
                                else if ((int)k != v->mem_display ||
                                         put_opt(e, m->kids[k],
                                                 ev->added[i].display))
                                        return -1;
                        }
        }
        put_long(e, 0);
        return 0;
}

/* The string a [null,]string field of the C struct carries. */
static const char *opt_field(const scim_event_t *ev, int f)
{
        switch (f) {
        case F_TENANT: return ev->tenant;
        case F_RESOURCE_ID: return ev->resource_id;
        case F_ACTOR: return ev->actor;
        case F_REQUEST_ID: return ev->request_id;
        case F_RESOURCE_JSON: return ev->resource_json;
        case F_REFUSED_SCIM_TYPE: return ev->refused_scim_type;
        case F_REFUSED_DETAIL: return ev->refused_detail;
        case F_REQUEST_DIGEST: return ev->request_digest;
        case F_TOKEN_ID: return ev->token_id;
        case F_TOKEN_HASH: return ev->token_hash;
        case F_TOKEN_SCOPE: return ev->token_scope;
        case F_ATTEMPTED_ACTION: return ev->attempted_action;
        case F_RESOURCE_TYPE_NAME: return ev->resource_type_name;
        case F_ADMIN_JSON: return ev->admin_json;
        case F_SEALED_JSON: return ev->sealed_json;
        default: return ev->key_id;
        }
}

/*
 * The binary datum of ev under writer v, field by field in the writer's
 * order: byte for byte what fill_record + avro_value_write produce
 * (tests/unit/0310-avro-encoder.c and fuzz_event compare the two), without
 * avro-c's lock, generic value, sizing pass and copies. -1: a value the
 * writer cannot carry (unknown enum value, a time beyond an int field).
 */
static int write_datum(const evver_t *v, const scim_event_t *ev, enc_t *e)
{
        const nd_t *root = v->root;

        for (size_t i = 0; i < root->n; i++) {
                const nd_t *w = root->kids[i];
                int f = v->slot[i], idx;
                int64_t x;

                switch (f) {
                case F_EVENT_ID:
                        if (w->kind != ND_STRING)
                                return -1;
                        put_str(e, ev->event_id);
                        break;
                case F_SCHEMA_VERSION:
                        put_long(e, v->version);
                        break;
                case F_RESOURCE_TYPE:
                        idx = enum_index(w, RTYPE_SYMS, (int)ev->rtype);
                        if (idx < 0)
                                return -1;
                        put_long(e, idx);
                        break;
                case F_ACTION:
                        idx = enum_index(w, ACTION_SYMS, (int)ev->action);
                        if (idx < 0)
                                return -1;
                        put_long(e, idx);
                        break;
                case F_TIME_MS:
                case F_EXPECT_VERSION:
                case F_EXPIRES_MS:
                        x = f == F_TIME_MS          ? ev->time_ms
                            : f == F_EXPECT_VERSION ? ev->expect_version
                                                    : ev->expires_ms;
                        if (w->kind != ND_LONG &&
                            (x < INT32_MIN || x > INT32_MAX))
                                return -1;
                        put_long(e, x);
                        break;
                case F_MEMBERS_REPLACE: {
                        unsigned char c = ev->members_replace != 0;

                        put_raw(e, &c, 1);
                        break;
                }
                case F_MEMBERS_ADDED:
                        if (put_members(e, v, w, ev))
                                return -1;
                        break;
                case F_MEMBERS_REMOVED:
                        if (ev->n_removed) {
                                put_long(e, (int64_t)ev->n_removed);
                                for (size_t k = 0; k < ev->n_removed; k++)
                                        put_str(e, ev->removed[k]);
                        }
                        put_long(e, 0);
                        break;
                case F_REFUSED_STATUS:
                        put_long(e, ev->refused_status);
                        break;
                case F_TENANT:
                case F_RESOURCE_ID:
                case F_ACTOR:
                case F_REQUEST_ID:
                case F_RESOURCE_JSON:
                case F_REFUSED_SCIM_TYPE:
                case F_REFUSED_DETAIL:
                case F_REQUEST_DIGEST:
                case F_TOKEN_ID:
                case F_TOKEN_HASH:
                case F_TOKEN_SCOPE:
                case F_ATTEMPTED_ACTION:
                case F_RESOURCE_TYPE_NAME:
                case F_ADMIN_JSON:
                case F_SEALED_JSON:
                case F_KEY_ID:
                        if (put_opt(e, w, opt_field(ev, f)))
                                return -1;
                        break;
                default: /* a field the encoder cannot fill (init refuses
                            such a writer) */
                        return -1;
                }
        }
        return 0;
}

int scim_event_encode(const scim_event_t *ev, scim_buf_t *out, scim_err_t *err)
{
        const evver_t *v = g_nver ? &g_ver[g_nver - 1] : NULL;
        unsigned char hdr[EV_HEADER_LEN];
        size_t old_len = out->len;
        enc_t e = {out, 0};
        size_t text = 0;
        int bad;

        if (!v) {
                scim_err_set(err, 500, "", "event schemas not loaded");
                return -1;
        }
        if (ev_check(ev, err, &text))
                return -1;
        /* the strings, a length and union branch for each, the members'
         * counts and the longs: one allocation, then plain copies */
        if (scim_buf_reserve(out, sizeof(hdr) + text +
                                      20 * (ev->n_added + ev->n_removed) +
                                      512) < 0) {
                scim_err_set(err, 500, "", "out of memory");
                return -1;
        }
        hdr[0] = EV_MAGIC0;
        hdr[1] = EV_MAGIC1;
        for (int i = 0; i < 8; i++)
                hdr[2 + i] = (unsigned char)(v->fp >> (8 * i));
        put_raw(&e, hdr, sizeof(hdr));
        bad = write_datum(v, ev, &e);
        if (bad || e.oom) {
                if (out->data && out->len > old_len) {
                        out->len = old_len;
                        out->data[old_len] = 0;
                }
                scim_err_set(err, 500, "",
                             bad ? "avro encode: a value the writer schema "
                                   "cannot carry"
                                 : "out of memory");
                return -1;
        }
        return 0;
}

/* The same encoding through avro-c's generic values: the independent
 * implementation the direct encoder is checked against. */
int scim_event_encode_avroc(const scim_event_t *ev, scim_buf_t *out,
                            scim_err_t *err)
{
        const evver_t *v = g_nver ? &g_ver[g_nver - 1] : NULL;
        unsigned char hdr[EV_HEADER_LEN];
        avro_value_t rec;
        avro_writer_t w = NULL;
        char *body = NULL;
        size_t size = 0, old_len;
        int have_rec = 0, locked = 0, rc = -1;

        if (!v || !g_iface) {
                scim_err_set(err, 500, "", "event schemas not loaded");
                goto out;
        }
        if (ev_check(ev, err, NULL))
                goto out;
        pthread_mutex_lock(&enc_lock);
        locked = 1;
        if (avro_generic_value_new(g_iface, &rec)) {
                scim_err_set(err, 500, "", "avro: %s", avro_strerror());
                goto out;
        }
        have_rec = 1;
        if (fill_record(v, ev, &rec) || avro_value_sizeof(&rec, &size)) {
                scim_err_set(err, 500, "", "avro encode: %s", avro_strerror());
                goto out;
        }
        body = malloc(size ? size : 1);
        if (!body) {
                scim_err_set(err, 500, "", "out of memory");
                goto out;
        }
        w = avro_writer_memory(body, (int64_t)size);
        if (!w || avro_value_write(w, &rec) ||
            avro_writer_tell(w) != (int64_t)size) {
                scim_err_set(err, 500, "", "avro write: %s", avro_strerror());
                goto out;
        }
        old_len = out->len;
        hdr[0] = EV_MAGIC0;
        hdr[1] = EV_MAGIC1;
        for (int i = 0; i < 8; i++)
                hdr[2 + i] = (unsigned char)(v->fp >> (8 * i));
        if (scim_buf_append(out, hdr, sizeof(hdr)) ||
            scim_buf_append(out, body, size)) {
                if (out->data && out->len > old_len) {
                        out->len = old_len;
                        out->data[old_len] = 0;
                }
                scim_err_set(err, 500, "", "out of memory");
                goto out;
        }
        rc = 0;
out:
        if (w)
                avro_writer_free(w);
        if (have_rec)
                avro_value_decref(&rec);
        if (locked)
                pthread_mutex_unlock(&enc_lock);
        free(body);
        return rc;
}
