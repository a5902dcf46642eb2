/* fuzz_json.c — libFuzzer target: the request-body parser. */
#include <stdint.h>

#include "ingest/scim_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *j = NULL;
        scim_err_t err;

        if (scim_json_parse((const char *)data, size, &j, &err) == 0)
                json_decref(j);
        return 0;
}
