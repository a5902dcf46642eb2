/*
 * http_internal.h — helpers of api/ shared with their unit test: raw query
 * parsing and attribute projection. Not part of the public face.
 */
#ifndef SCIM_HTTP_INTERNAL_H
#define SCIM_HTTP_INTERNAL_H

#include <jansson.h>

#include "schemas/scim_schemas.h"

/* Parses a raw query string ("a=b&c=d", '+' = space, %XX decoded) into a
 * new object of lower-cased names -> decoded values (last one wins).
 * Returns 0, or -1 with err 400 invalidValue on a bad escape. */
int scim_query_parse(const char *raw, json_t **out, scim_err_t *err);
/* 1 when the query string raw is exactly `filter=` and a filter of the
 * shape `userName eq "LITERAL"` (any case and spacing; a literal without
 * escapes or control characters), which scim_query_parse and
 * scim_filter_parse would take without error: the decoded filter in
 * text (cap bytes), the literal in lit (litcap bytes). 0 otherwise (the
 * general path decides, errors included). The list fast path of the
 * provisioning clients' lookup, without the query object and the AST. */
int scim_query_username_eq(const char *raw, char *text, size_t cap, char *lit,
                           size_t litcap);

/* The SCIM Error body for e ({"schemas":[Error URN],"status":"NNN",
 * "scimType"?,"detail"}), shared by the SCIM and reports endpoints. New
 * string (caller frees), or NULL when out of memory. */
char *scim_error_body(const scim_err_t *e);

/* Turns a SearchRequest body (POST .../.search, RFC 7644 3.4.3: filter,
 * startIndex, count, attributes, excludedAttributes, sortBy, sortOrder)
 * into the same object scim_query_parse makes from a query string, so
 * one list path serves both. Wrong types, unknown "schemas" or bad JSON ->
 * -1 with err 400 (invalidSyntax / invalidValue). *out new reference. */
int scim_search_body_parse(const char *body, size_t len, json_t **out,
                           scim_err_t *err);

/* Applies attributes / excludedAttributes (comma lists, either may be
 * NULL) to res in place. id and schemas are always kept. Returns 0 or -1
 * with err 400 invalidPath on an unparsable name. */
int scim_project(scim_rtype_t rt, json_t *res, const char *attributes,
                 const char *excluded, scim_err_t *err);

/* attributes= and excludedAttributes= name at most this many paths each:
 * every resource of a page is projected through every name, so 10,000
 * names made one .search of 1,000 users take 75 s of a pool thread. */
#define SCIM_MAX_PROJECTION_ATTRS 100

/* 0 when q's attributes / excludedattributes lists are within
 * SCIM_MAX_PROJECTION_ATTRS names; else -1 with err 400 invalidValue
 * naming the parameter. */
int scim_attr_lists_check(const json_t *q, scim_err_t *err);

/* 1 if the comma list names attr (case-insensitive, URN prefix allowed). */
int scim_attr_list_has(const char *list, const char *attr);
/* 1 if the comma list (an `attributes` parameter) asks for attr or one of
 * its sub-attributes: "members" and "members.value" both want members
 * (case-insensitive, URN prefix allowed). */
int scim_attr_list_wants(const char *list, const char *attr);

/* RFC 9865 cursors (cursor.c): encode names the last id of a page (new
 * string, caller frees; NULL when out of memory); decode writes that id
 * into id ("" for an empty cursor: the first page), or returns -1 with
 * err 400 invalidCursor. */
char *scim_cursor_encode(const char *id);
int scim_cursor_decode(const char *cursor, char *id, size_t idlen,
                       scim_err_t *err);

/* The token of an "Authorization: Bearer <token>" header value (borrowed
 * from it), or NULL when the header is absent, of another scheme, or has
 * no token. (api/http_parse.c) */
const char *scim_http_bearer(const char *authorization);

/* 1 when a Host header is absent or a name / IPv4 / [IPv6] with an
 * optional :port (it is copied into Location); 0 otherwise. */
int scim_http_host_ok(const char *host);

/* ------------------------------------------- tenant routing (route.c) */

#include <sys/socket.h>

typedef struct scim_routes scim_routes_t;

enum { SCIM_TENANT_FROM_TOKEN, SCIM_TENANT_FROM_PATH, SCIM_TENANT_FROM_HOST };

typedef struct scim_target {
        char tenant[SCIM_MAX_TENANT_LEN + 1]; /* "" when the token says */
        int from;                             /* SCIM_TENANT_FROM_* */
        const char *mount;                    /* the template that matched */
        char base_path[512]; /* the request's path up to the endpoint, e.g.
                                /api/v1/scim/azure/acme or /scim/v2 */
        char *seg[4];        /* what follows: endpoint, id / .search */
        int n;
        char buf[1024];      /* seg[] point into it */
} scim_target_t;

/* Mount templates (besides /scim/v2/{tenant} and /scim/v2, always on),
 * a host suffix for host-named tenants (NULL: none) and trusted proxy
 * networks (ADDRESS[/BITS]). NULL with err on a bad setting. */
scim_routes_t *scim_routes_new(const char *const *mounts, size_t nmounts,
                               const char *host_suffix,
                               const char *const *proxies, size_t nproxies,
                               char *err, size_t errlen);
void scim_routes_free(scim_routes_t *rt);

/* Resolves a request path (and Host) to a tenant and endpoint: 1, or 0
 * when no mount matches. */
int scim_routes_resolve(const scim_routes_t *rt, const char *path,
                        const char *host, scim_target_t *t);

/* scheme://host[/prefix] the client used: from the request, or from
 * X-Forwarded-* / Forwarded when the peer is a trusted proxy. */
void scim_routes_origin(const scim_routes_t *rt, const struct sockaddr *peer,
                        int tls, const char *host, const char *xf_proto,
                        const char *xf_host, const char *xf_prefix,
                        const char *forwarded, char *out, size_t outlen);

#endif
