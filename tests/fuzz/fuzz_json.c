/* fuzz_json.c — libFuzzer target: the request-body parser, and the fast
 * JSON writer checked against jansson's on everything the parser accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/scim_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *j = NULL;
        scim_err_t err;

        if (scim_json_parse((const char *)data, size, &j, &err) == 0) {
                char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
                char *got = scim_json_dumps(j);

                if (!want || !got || strcmp(want, got) != 0)
                        abort();
                free(want);
                free(got);
                json_decref(j);
        }
        return 0;
}
