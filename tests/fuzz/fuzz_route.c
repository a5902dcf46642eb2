/* fuzz_route.c — libFuzzer target: tenant routing and the public origin
 * (api/route.c). The input is split at newlines into a mount template, a
 * trusted-proxy network, a request path, a Host header, and the
 * X-Forwarded-Proto / -Host / -Prefix and Forwarded values.
 *
 * Whatever mount or proxy is refused must come with an error message;
 * whatever path resolves must name a tenant that is valid (from the path),
 * one label under the host suffix (from Host) or empty (from the token),
 * and hand back 1-4 non-empty segments without '/'. The origin must be
 * http(s)://host with only URL-safe characters (it goes into Location),
 * and an untrusted peer's forwarded headers must change nothing. */
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http_internal.h"

#define SUFFIX ".t.example"

static char *part(const uint8_t **p, const uint8_t *end)
{
        const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
        size_t n = (size_t)((nl ? nl : end) - *p);
        char *s = malloc(n + 1);

        if (!s)
                abort();
        memcpy(s, *p, n);
        s[n] = '\0';
        *p = nl ? nl + 1 : end;
        return s;
}

static void check_origin(const char *o, const char *host, int trusted)
{
        const char *h;

        if (strncmp(o, "http://", 7) && strncmp(o, "https://", 8))
                abort();
        for (const char *c = o; *c; c++)
                if (!isalnum((unsigned char)*c) && !strchr(":/.-_~[]", *c))
                        abort();
        if (trusted)
                return;
        /* untrusted: exactly the request's Host (or localhost), no prefix */
        h = strstr(o, "://") + 3;
        if (strcmp(h, host && scim_http_host_ok(host) ? host : "localhost"))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *p = data, *end = data + size;
        char *mount = part(&p, end), *proxy = part(&p, end);
        char *path = part(&p, end), *hostl = part(&p, end);
        char *xproto = part(&p, end), *xhost = part(&p, end);
        char *xprefix = part(&p, end), *fwd = part(&p, end);
        const char *mounts[1] = {mount}, *proxies[1] = {proxy};
        const char *host = *hostl ? hostl : NULL;
        char err[256] = "", origin[1024];
        scim_routes_t *rt, *plain;
        scim_target_t t;
        struct sockaddr_in peer;
        size_t nm = *mount ? 1 : 0;

        rt = scim_routes_new(mounts, nm, SUFFIX, proxies, *proxy ? 1 : 0, err,
                             sizeof(err));
        if (!rt) {
                if (!err[0] || !memchr(err, '\0', sizeof(err)))
                        abort();
                /* the built-in mounts alone always work */
                nm = 0;
                rt =
                    scim_routes_new(NULL, 0, SUFFIX, NULL, 0, err, sizeof(err));
                if (!rt)
                        abort();
        }
        /* the same mounts with no trusted proxy */
        plain = scim_routes_new(mounts, nm, SUFFIX, NULL, 0, err, sizeof(err));
        if (!plain)
                plain =
                    scim_routes_new(NULL, 0, SUFFIX, NULL, 0, err, sizeof(err));
        if (!plain)
                abort();
        if (scim_routes_resolve(rt, path, host, &t)) {
                if (t.n < 1 || t.n > 4 || !t.mount ||
                    (t.base_path[0] && t.base_path[0] != '/'))
                        abort();
                for (int i = 0; i < t.n; i++)
                        if (!t.seg[i][0] || strchr(t.seg[i], '/'))
                                abort();
                if (t.from == SCIM_TENANT_FROM_PATH &&
                    !scim_tenant_name_ok(t.tenant))
                        abort();
                if (t.from == SCIM_TENANT_FROM_HOST &&
                    (!scim_tenant_name_ok(t.tenant) || strchr(t.tenant, '.') ||
                     !strcasestr(host, SUFFIX)))
                        abort();
                if (t.from == SCIM_TENANT_FROM_TOKEN && t.tenant[0])
                        abort();
        }
        memset(&peer, 0, sizeof(peer));
        peer.sin_family = AF_INET;
        peer.sin_addr.s_addr = htonl(0x7F000001); /* 127.0.0.1 */
        scim_routes_origin(rt, (struct sockaddr *)&peer, (int)(size & 1), host,
                           xproto, xhost, xprefix, fwd, origin, sizeof(origin));
        check_origin(origin, host, 1);
        scim_routes_origin(plain, (struct sockaddr *)&peer, 0, host, xproto,
                           xhost, xprefix, fwd, origin, sizeof(origin));
        check_origin(origin, host, 0);
        scim_routes_free(rt);
        scim_routes_free(plain);
        free(mount);
        free(proxy);
        free(path);
        free(hostl);
        free(xproto);
        free(xhost);
        free(xprefix);
        free(fwd);
        return 0;
}
