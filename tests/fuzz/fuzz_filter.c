/* fuzz_filter.c — libFuzzer target: SCIM filters and attribute paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        static json_t *res;
        char *s = malloc(size + 1);
        scim_filter_t *f = NULL;
        scim_path_t *p = NULL;
        scim_err_t err;

        if (!ready) {
                char e[256];

                if (scim_schemas_init(e, sizeof(e)) < 0)
                        abort();
                res = json_loads("{\"id\":\"1\",\"userName\":\"a\",\"emails\":"
                                 "[{\"type\":\"work\",\"value\":\"x\"}],"
                                 "\"meta\":{\"created\":\"2020-01-01T00:00:00Z\"}}",
                                 0, NULL);
                ready = 1;
        }
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        for (int rt = 0; rt < 2; rt++) {
                scim_rtype_t t = rt ? SCIM_RT_GROUP : SCIM_RT_USER;
                const char *v;

                if (scim_filter_parse(t, s, &f, &err) == 0) {
                        scim_filter_match(f, res);
                        /* an index-exact filter matches any resource
                         * whose indexed attribute holds its literal (the
                         * read path answers it from the index alone) */
                        if (scim_filter_index_hint(f, t, &v) &&
                            scim_filter_index_exact(f, t)) {
                                json_t *r = json_pack("{s:s,s:s}", "id", v,
                                                      "userName", v);

                                if (!r || !scim_filter_match(f, r))
                                        abort();
                                json_decref(r);
                        }
                        json_decref(scim_filter_eq_object(f));
                        scim_filter_free(f);
                }
                if (scim_path_parse(t, s, &p, &err) == 0)
                        scim_path_free(p);
        }
        free(s);
        return 0;
}
