/*
 * fuzz_admin_route.c — libFuzzer target: the admin API's router
 * (api/admin_route.c). The input is "METHOD PATH\n" and a body; the router
 * must either refuse with 400/404/405/413 (and no request) or produce a
 * tenant command whose args are strings (none for a describe), whose tenant is
 * a valid tenant name, and which names what a write attempts (NULL only for
 * reads).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/admin_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *nl = memchr(data, '\n', size);
        char line[700], method[16] = "GET", *sp;
        const char *body = "";
        size_t blen = 0, ll;
        scim_admin_call_t call;
        scim_err_t err;

        ll = nl ? (size_t)(nl - (const char *)data) : size;
        if (ll >= sizeof(line))
                return 0;
        memcpy(line, data, ll);
        line[ll] = '\0';
        if (strlen(line) != ll) /* a NUL in the request line */
                return 0;
        if (nl) {
                body = nl + 1;
                blen = size - ll - 1;
        }
        sp = strchr(line, ' ');
        if (sp && (size_t)(sp - line) < sizeof(method)) {
                memcpy(method, line, (size_t)(sp - line));
                method[sp - line] = '\0';
                sp++;
        } else {
                sp = line;
        }
        scim_err_clear(&err);
        if (scim_admin_route(method, sp, body, blen, &call, &err) < 0) {
                if (call.req || (err.status != 400 && err.status != 404 &&
                                 err.status != 405 && err.status != 413))
                        abort();
                return 0;
        }
        {
                json_t *args = json_object_get(call.req, "args"), *a;
                size_t i;

                if (!json_is_array(args) || (call.kind != SCIM_ADMIN_DESCRIBE &&
                                             !json_array_size(args)))
                        abort();
                json_array_foreach(args, i, a) if (!json_is_string(a)) abort();
                if (call.tenant[0] && !scim_tenant_name_ok(call.tenant) &&
                    call.kind != SCIM_ADMIN_CREATE)
                        abort();
                if (strcmp(method, "GET") && !call.attempted)
                        abort();
                if (call.ok_status != 200 && call.ok_status != 201)
                        abort();
        }
        scim_admin_call_clear(&call);
        return 0;
}
