/* fuzz_patch.c — libFuzzer target: request JSON through the PATCH engine
 * for a user and a group, then normalisation of the result. */
#include <stdint.h>
#include <stdlib.h>

#include "ingest/scim_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        static json_t *user, *group;
        json_t *body = NULL, *out = NULL, *norm = NULL, *a = NULL, *r = NULL,
               *d = NULL;
        scim_err_t err;
        int rep;

        if (!ready) {
                char e[256];

                if (scim_schemas_init(e, sizeof(e)) < 0)
                        abort();
                user = json_loads("{\"userName\":\"u\",\"emails\":[{\"type\":"
                                  "\"work\",\"value\":\"x\"}]}",
                                  0, NULL);
                group = json_loads("{\"displayName\":\"g\"}", 0, NULL);
                ready = 1;
        }
        if (scim_json_parse((const char *)data, size, &body, &err) < 0)
                return 0;
        if (scim_patch_user(user, body, &out, &err) == 0) {
                if (scim_resource_normalize(SCIM_RT_USER, out, &norm, NULL,
                                            &err) == 0)
                        json_decref(norm);
                json_decref(out);
        }
        if (scim_patch_group(group, body, &a, &rep, &r, &d, &err) == 0) {
                json_decref(a);
                json_decref(r);
                json_decref(d);
        }
        if (scim_resource_normalize(SCIM_RT_USER, body, &norm, NULL, &err) == 0)
                json_decref(norm);
        if (scim_resource_normalize(SCIM_RT_GROUP, body, &norm, &a, &err) == 0) {
                json_decref(norm);
                json_decref(a);
        }
        json_decref(body);
        return 0;
}
