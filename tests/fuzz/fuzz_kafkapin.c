/*
 * fuzz_kafkapin.c — libFuzzer target for the producer's partition pin
 * rewrite (log/kafka_pin.c): byte 0 is the data topic's partition count,
 * byte 1 picks TENANT_CREATE or TENANT_UPDATE, the rest is admin_json.
 * Whatever it rewrites must decode again to the same event with an
 * admin_json object whose "partition" is an integer below the count (the
 * key hash; the test store holds no pins); what it leaves alone is
 * returned as 0, a count of 0 as a 503, an explicit pin beyond the count
 * as a 400. Never a crash or a leak.
 * Corpus: tests/fuzz/corpus/kafkapin/.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log/log_internal.h"

static scim_store_t *st;
static char dir[256];

/* The scratch store goes when the fuzzer exits. */
static void cleanup(void)
{
        char cmd[300];

        scim_store_close(st);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char e[256];
        const char *tmp = getenv("SCIMLOG_TMP");

        (void)argc;
        (void)argv;
        snprintf(dir, sizeof(dir), "%s/fuzz-kafkapin-XXXXXX",
                 tmp ? tmp : "/tmp");
        if (!mkdtemp(dir) || scim_schemas_init(e, sizeof(e)) != 0 ||
            scim_store_open(dir, &st, e, sizeof(e)) != 0)
                abort();
        atexit(cleanup);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        scim_event_t ev, back;
        scim_buf_t out = {0};
        scim_err_t err;
        char *aj = NULL;
        int32_t nparts;
        int rc;

        if (size < 2)
                return 0;
        nparts = data[0];
        memset(&ev, 0, sizeof(ev));
        memset(&back, 0, sizeof(back));
        scim_uuid4(ev.event_id);
        ev.schema_version = 3;
        ev.tenant = "fuzz-tenant";
        ev.action = data[1] & 1 ? SCIM_ACT_TENANT_UPDATE
                                : SCIM_ACT_TENANT_CREATE;
        ev.time_ms = 1700000000000;
        ev.actor = "fuzz";
        ev.request_id = "";
        ev.expect_version = -1;
        if (size > 2) {
                aj = malloc(size - 1);
                if (!aj)
                        return 0;
                memcpy(aj, data + 2, size - 2);
                aj[size - 2] = '\0';
                ev.admin_json = aj;
        }
        scim_err_clear(&err);
        rc = scim_kafka_pin_event(st, nparts, &ev, &out, &err);
        if (rc < 0 && err.status != 503 && err.status != 400)
                abort(); /* a pin beyond the count, no partitions known,
                            or no memory */
        if (rc == 1) {
                json_t *o, *p;

                if (scim_event_decode(out.data, out.len, &back, &err) != 0 ||
                    back.action != ev.action ||
                    strcmp(back.event_id, ev.event_id) ||
                    strcmp(back.tenant, ev.tenant) || !back.admin_json)
                        abort();
                o = json_loads(back.admin_json, 0, NULL);
                p = json_object_get(o, "partition");
                if (!json_is_object(o) || !json_is_integer(p) ||
                    json_integer_value(p) < 0 ||
                    json_integer_value(p) >= nparts)
                        abort();
                json_decref(o);
                scim_event_clear(&back);
        }
        scim_buf_free(&out);
        free(aj);
        return 0;
}
