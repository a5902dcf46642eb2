/* fuzz_jwt.c — libFuzzer target: the compact JWS parser the SCIM API runs
 * on every bearer value with two dots (api/oauth.c). Any bytes give either
 * a 401 naming what is malformed or a header and claims object with the
 * signature; and a token we issue always parses back to the claims we
 * put in. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/oauth_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = strndup((const char *)data, size);
        json_t *h = NULL, *cl = NULL;
        unsigned char *sig = NULL;
        size_t sl = 0, sigl = 0;
        scim_err_t e;

        if (!s)
                return 0;
        scim_err_clear(&e);
        if (scim_jwt_parse(s, &h, &cl, &sl, &sig, &sigl, &e) == 0) {
                if (!json_is_object(h) || !json_is_object(cl) || !sig ||
                    sl >= strlen(s) || s[sl] != '.')
                        abort();
        } else if (e.status != 401 || !e.detail[0] || h || cl || sig) {
                abort();
        }
        json_decref(h);
        json_decref(cl);
        free(sig);
        /* round trip: the input as a client id */
        if (size < 64 && memchr(data, 0, size) == NULL &&
            scim_utf8_valid(s, size)) {
                char *t = scim_jwt_issue("k", "t1", "0", s, NULL, 1000, 60);

                h = cl = NULL;
                sig = NULL;
                if (!t || scim_jwt_parse(t, &h, &cl, &sl, &sig, &sigl, &e) < 0 ||
                    strcmp(json_string_value(json_object_get(cl, "sub")), s) ||
                    sigl != 32)
                        abort();
                json_decref(h);
                json_decref(cl);
                free(sig);
                free(t);
        }
        free(s);
        return 0;
}
