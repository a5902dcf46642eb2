/*
 * route.c — which tenant a SCIM request is for, and the public URL it was
 * sent to.
 *
 * Vendors publish their own URL shapes (Talkdesk `/scim/v2` with the
 * tenant implied by the token, askSpoke `{customer}.askspoke.com/scim/v2`,
 * Gtmhub `/api/v1/scim/azure/{account_id}`, GroupTalk `/api/scim/`), so
 * the SCIM base is a table of mount templates: literal segments (matched
 * in any case) and at most one `{tenant}` segment (matched exactly, as
 * created). A template without `{tenant}` takes the tenant from the Host
 * header when a host suffix is configured and the host ends with it, else
 * from the bearer token. The longest template that matches wins; a
 * segment after a token-implied mount that names a resource endpoint
 * (Users, Groups, ...) is always that endpoint, which is why no tenant may
 * be named like one.
 *
 * The public URL (for Location and meta.location) is the request's scheme
 * and Host, unless the peer is a trusted proxy: then X-Forwarded-Proto,
 * X-Forwarded-Host and X-Forwarded-Prefix (or RFC 7239 Forwarded proto=
 * and host=) say what the client used. Headers from other peers are
 * ignored, so they cannot be spoofed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http_internal.h"

#define MAX_MOUNTS 16
#define MAX_SEGS 8
#define MAX_PROXIES 32

typedef struct mount {
        char *text;          /* as configured */
        char *seg[MAX_SEGS]; /* literal segments; NULL at tenant_at */
        int nseg;
        int tenant_at; /* index of {tenant}, or -1 */
} mount_t;

typedef struct cidr {
        int family;
        unsigned char addr[16];
        int bits;
} cidr_t;

struct scim_routes {
        mount_t m[MAX_MOUNTS];
        int n;
        char *host_suffix; /* ".example.com", or NULL */
        cidr_t proxy[MAX_PROXIES];
        int nproxy;
};

static int add_mount(scim_routes_t *rt, const char *text, char *err,
                     size_t errlen)
{
        mount_t *m;
        char *copy, *save = NULL, *tok;

        if (rt->n >= MAX_MOUNTS)
                return snprintf(err, errlen, "at most %d mounts", MAX_MOUNTS),
                       -1;
        if (text[0] != '/' || strlen(text) > 200)
                return snprintf(err, errlen,
                                "mount '%.200s' must be a path starting "
                                "with /",
                                text),
                       -1;
        m = &rt->m[rt->n];
        memset(m, 0, sizeof(*m));
        m->tenant_at = -1;
        m->text = strdup(text);
        copy = strdup(text);
        if (!m->text || !copy) {
                free(m->text);
                free(copy);
                return snprintf(err, errlen, "out of memory"), -1;
        }
        for (tok = strtok_r(copy, "/", &save); tok;
             tok = strtok_r(NULL, "/", &save)) {
                if (m->nseg >= MAX_SEGS - 2)
                        goto bad;
                if (!strcmp(tok, "{tenant}")) {
                        if (m->tenant_at >= 0)
                                goto bad;
                        m->tenant_at = m->nseg++;
                        continue;
                }
                for (const char *c = tok; *c; c++)
                        if (!isalnum((unsigned char)*c) && !strchr("-._~", *c))
                                goto bad;
                m->seg[m->nseg] = strdup(tok);
                if (!m->seg[m->nseg++])
                        goto bad;
        }
        free(copy);
        rt->n++;
        return 0;
bad:
        free(copy);
        for (int i = 0; i < m->nseg; i++)
                free(m->seg[i]);
        free(m->text);
        return snprintf(err, errlen,
                        "mount '%.200s': segments of A-Z a-z 0-9 - . _ ~, "
                        "at most one {tenant}, at most %d segments",
                        text, MAX_SEGS - 2),
               -1;
}

static int add_proxy(scim_routes_t *rt, const char *text, char *err,
                     size_t errlen)
{
        char addr[64];
        const char *slash = strchr(text, '/');
        size_t al = slash ? (size_t)(slash - text) : strlen(text);
        cidr_t *c;
        char *end = NULL;

        if (rt->nproxy >= MAX_PROXIES || al == 0 || al >= sizeof(addr))
                goto bad;
        c = &rt->proxy[rt->nproxy];
        memcpy(addr, text, al);
        addr[al] = '\0';
        if (inet_pton(AF_INET, addr, c->addr) == 1) {
                c->family = AF_INET;
                c->bits = 32;
        } else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
                c->family = AF_INET6;
                c->bits = 128;
        } else {
                goto bad;
        }
        if (slash) {
                long b = strtol(slash + 1, &end, 10);

                if (!end || *end || end == slash + 1 || b < 0 || b > c->bits)
                        goto bad;
                c->bits = (int)b;
        }
        rt->nproxy++;
        return 0;
bad:
        return snprintf(err, errlen,
                        "--trusted-proxy wants ADDRESS[/BITS] (IPv4 or "
                        "IPv6, at most %d), got '%.100s'",
                        MAX_PROXIES, text),
               -1;
}

scim_routes_t *scim_routes_new(const char *const *mounts, size_t nmounts,
                               const char *host_suffix,
                               const char *const *proxies, size_t nproxies,
                               char *err, size_t errlen)
{
        scim_routes_t *rt = calloc(1, sizeof(*rt));

        if (!rt) {
                snprintf(err, errlen, "out of memory");
                return NULL;
        }
        /* path and token-implied are always on */
        if (add_mount(rt, "/scim/v2/{tenant}", err, errlen) < 0 ||
            add_mount(rt, "/scim/v2", err, errlen) < 0)
                goto fail;
        for (size_t i = 0; i < nmounts; i++)
                if (add_mount(rt, mounts[i], err, errlen) < 0)
                        goto fail;
        for (size_t i = 0; i < nproxies; i++)
                if (add_proxy(rt, proxies[i], err, errlen) < 0)
                        goto fail;
        if (host_suffix && *host_suffix) {
                if (host_suffix[0] != '.' || strlen(host_suffix) > 200 ||
                    !scim_http_host_ok(host_suffix) ||
                    strchr(host_suffix, ':')) {
                        snprintf(err, errlen,
                                 "--host-suffix wants a domain starting with "
                                 "a dot (.scim.example.com), got '%.100s'",
                                 host_suffix);
                        goto fail;
                }
                rt->host_suffix = strdup(host_suffix);
        }
        return rt;
fail:
        scim_routes_free(rt);
        return NULL;
}

void scim_routes_free(scim_routes_t *rt)
{
        if (!rt)
                return;
        for (int i = 0; i < rt->n; i++) {
                for (int k = 0; k < rt->m[i].nseg; k++)
                        free(rt->m[i].seg[k]);
                free(rt->m[i].text);
        }
        free(rt->host_suffix);
        free(rt);
}

/* The tenant a Host header names under the suffix, or 0. */
static int tenant_from_host(const scim_routes_t *rt, const char *host,
                            char *out, size_t outlen)
{
        size_t hl, sl;
        const char *colon;

        if (!rt->host_suffix || !host)
                return 0;
        colon = strrchr(host, ':');
        hl =
            colon && !strchr(host, ']') ? (size_t)(colon - host) : strlen(host);
        sl = strlen(rt->host_suffix);
        if (hl <= sl || strncasecmp(host + hl - sl, rt->host_suffix, sl) ||
            hl - sl >= outlen)
                return 0;
        memcpy(out, host, hl - sl);
        out[hl - sl] = '\0';
        /* one label, and a name a tenant could have (a Host such as
         * a~b.suffix or a%00b.suffix names none) */
        return !strchr(out, '.') && scim_tenant_name_ok(out);
}

int scim_routes_resolve(const scim_routes_t *rt, const char *path,
                        const char *host, scim_target_t *t)
{
        char *seg[MAX_SEGS + 4], *p;
        int n = 0, best = -1, best_len = -1;
        size_t plen = strlen(path);

        /* every field the callers read, without clearing the buffers
         * (1.6 KB on every request) */
        t->tenant[0] = '\0';
        t->from = 0;
        t->mount = NULL;
        t->base_path[0] = '\0';
        memset(t->seg, 0, sizeof(t->seg));
        t->n = 0;
        if (plen >= sizeof(t->buf))
                return 0;
        memcpy(t->buf, path, plen + 1);
        /* the non-empty segments between slashes, as strtok_r splits */
        for (p = t->buf;;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                if (n == MAX_SEGS + 4)
                        return 0; /* too deep for any mount */
                seg[n++] = p;
                p += strcspn(p, "/");
                if (*p)
                        *p++ = '\0';
        }
        for (int i = 0; i < rt->n; i++) {
                const mount_t *m = &rt->m[i];
                int ok = n > m->nseg;

                for (int k = 0; ok && k < m->nseg; k++)
                        if (k != m->tenant_at && strcasecmp(seg[k], m->seg[k]))
                                ok = 0;
                /* no tenant is named Users (or invalidly): /scim/v2/Users
                 * is the token-implied mount's */
                if (ok && m->tenant_at >= 0 &&
                    !scim_tenant_name_ok(seg[m->tenant_at]))
                        ok = 0;
                if (ok && m->nseg > best_len) {
                        best = i;
                        best_len = m->nseg;
                }
        }
        if (best < 0)
                return 0;
        {
                const mount_t *m = &rt->m[best];
                size_t bl = 0;

                for (int k = 0; k < m->nseg; k++)
                        bl += scim_strjoin(t->base_path + bl,
                                           sizeof(t->base_path) - bl, "/",
                                           seg[k], (char *)NULL);
                if (m->tenant_at >= 0) {
                        scim_strjoin(t->tenant, sizeof(t->tenant),
                                     seg[m->tenant_at], (char *)NULL);
                        t->from = SCIM_TENANT_FROM_PATH;
                } else if (tenant_from_host(rt, host, t->tenant,
                                            sizeof(t->tenant))) {
                        t->from = SCIM_TENANT_FROM_HOST;
                } else {
                        t->tenant[0] = '\0'; /* a refused Host label */
                        t->from = SCIM_TENANT_FROM_TOKEN;
                }
                t->mount = m->text;
                for (int k = m->nseg; k < n && t->n < 4; k++)
                        t->seg[t->n++] = seg[k];
                if (n - m->nseg > 4)
                        return 0;
        }
        return 1;
}

/* 1 if the peer address is a configured trusted proxy. */
static int trusted(const scim_routes_t *rt, const struct sockaddr *peer)
{
        const unsigned char *a = NULL;
        int fam = 0;

        if (!peer)
                return 0;
        if (peer->sa_family == AF_INET) {
                a = (const unsigned char *)&((const struct sockaddr_in *)peer)
                        ->sin_addr;
                fam = AF_INET;
        } else if (peer->sa_family == AF_INET6) {
                a = (const unsigned char *)&((const struct sockaddr_in6 *)peer)
                        ->sin6_addr;
                fam = AF_INET6;
        }
        for (int i = 0; a && i < rt->nproxy; i++) {
                const cidr_t *c = &rt->proxy[i];
                int full = c->bits / 8, rest = c->bits % 8;

                if (c->family != fam || memcmp(a, c->addr, (size_t)full))
                        continue;
                if (rest && ((a[full] ^ c->addr[full]) &
                             (unsigned char)(0xFF << (8 - rest))))
                        continue;
                return 1;
        }
        return 0;
}

/* First value of a comma list, trimmed, into out; 0 if empty. */
static int first_item(const char *v, char *out, size_t outlen)
{
        size_t n;

        while (v && *v == ' ')
                v++;
        if (!v)
                return 0;
        n = strcspn(v, ",");
        while (n && v[n - 1] == ' ')
                n--;
        if (!n || n >= outlen)
                return 0;
        memcpy(out, v, n);
        out[n] = '\0';
        return 1;
}

/* A parameter (proto=, host=) of the first element of Forwarded. */
static int forwarded_param(const char *fwd, const char *name, char *out,
                           size_t outlen)
{
        size_t nl = strlen(name), n;
        const char *p = fwd;

        while (p && *p && *p != ',') {
                while (*p == ' ' || *p == ';')
                        p++;
                if (!strncasecmp(p, name, nl) && p[nl] == '=') {
                        p += nl + 1;
                        if (*p == '"')
                                p++;
                        n = strcspn(p, "\";,");
                        if (!n || n >= outlen)
                                return 0;
                        memcpy(out, p, n);
                        out[n] = '\0';
                        return 1;
                }
                p += strcspn(p, ";,");
        }
        return 0;
}

void scim_routes_origin(const scim_routes_t *rt, const struct sockaddr *peer,
                        int tls, const char *host, const char *xf_proto,
                        const char *xf_host, const char *xf_prefix,
                        const char *forwarded, char *out, size_t outlen)
{
        char proto[16], h[256], prefix[256] = "";

        scim_strjoin(proto, sizeof(proto), tls ? "https" : "http",
                     (char *)NULL);
        scim_strjoin(h, sizeof(h),
                     host && scim_http_host_ok(host) ? host : "localhost",
                     (char *)NULL);
        if (trusted(rt, peer)) {
                char v[256];

                if (forwarded) {
                        if (forwarded_param(forwarded, "proto", v, sizeof(v)) &&
                            (!strcasecmp(v, "http") || !strcasecmp(v, "https")))
                                snprintf(proto, sizeof(proto), "%s",
                                         strcasecmp(v, "https") ? "http"
                                                                : "https");
                        if (forwarded_param(forwarded, "host", v, sizeof(v)) &&
                            scim_http_host_ok(v))
                                snprintf(h, sizeof(h), "%s", v);
                }
                if (first_item(xf_proto, v, sizeof(v)) &&
                    (!strcasecmp(v, "http") || !strcasecmp(v, "https")))
                        snprintf(proto, sizeof(proto), "%s",
                                 strcasecmp(v, "https") ? "http" : "https");
                if (first_item(xf_host, v, sizeof(v)) && scim_http_host_ok(v))
                        snprintf(h, sizeof(h), "%s", v);
                if (first_item(xf_prefix, v, sizeof(v)) && v[0] == '/') {
                        int ok = 1;

                        for (const char *c = v; *c; c++)
                                if (!isalnum((unsigned char)*c) &&
                                    !strchr("/-._~", *c))
                                        ok = 0;
                        if (ok) {
                                size_t l = strlen(v);

                                while (l && v[l - 1] == '/')
                                        v[--l] = '\0';
                                snprintf(prefix, sizeof(prefix), "%s", v);
                        }
                }
        }
        for (char *c = proto; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        scim_strjoin(out, outlen, proto, "://", h, prefix, (char *)NULL);
}
