/* fuzz_kafkaconf.c — libFuzzer target: the `--kafka-config` properties
 * parser (key=value lines, comments, ceilings, reserved keys). Whatever
 * it accepts has only keys of [A-Za-z0-9._-] and is applied to a scratch
 * librdkafka configuration without crashing. */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        scim_kafka_props_t *p = NULL;
        char errstr[512] = "";

        if (scim_kafka_props_parse((const char *)data, size, "fuzz", &p,
                                   errstr, sizeof(errstr)) == 0) {
                rd_kafka_conf_t *c = rd_kafka_conf_new();

                /* unknown keys are refused by librdkafka, never a crash */
                (void)scim_kafka_props_apply(p, c, errstr, sizeof(errstr));
                rd_kafka_conf_destroy(c);
                scim_kafka_props_free(p);
        } else if (!errstr[0]) {
                abort(); /* a refusal always says why */
        }
        return 0;
}
