/*
 * kafka_pin.c — the producer's half of tenant partition pins
 * (projector/tenant_pin.c has the fold's half and the why).
 *
 * A TENANT_CREATE leaves this node with {"partition": P} in its
 * admin_json, P = the partition librdkafka's default partitioner
 * (consistent_random: CRC-32 of the key modulo the partition count) gives
 * the tenant for the data topic's partition count this node reads now:
 * the partition the tenant's events would have gone to before pins
 * existed. A TENANT_UPDATE {"partition": "auto"} (`scimlog tenant pin`)
 * becomes {"partition": P} with the tenant's pin in this node's views or,
 * for a tenant without one, the same key hash. Every data event then goes
 * to its tenant's pin explicitly, whatever the count is by then.
 *
 * Threads: the ingest committer (scim_kafka_submit).
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_internal.h"

int32_t scim_kafka_key_partition(const char *tenant, int32_t nparts)
{
        if (nparts <= 0)
                return RD_KAFKA_PARTITION_UA;
        /* the function librdkafka's default partitioner calls for a key;
         * it reads neither the topic nor the opaques */
        return rd_kafka_msg_partitioner_consistent(NULL, tenant,
                                                   strlen(tenant), nparts,
                                                   NULL, NULL);
}

int32_t scim_kafka_data_partition(scim_store_t *st, const char *tenant)
{
        int pin = scim_store_tenant_partition(st, tenant);

        return pin >= 0 ? (int32_t)pin : RD_KAFKA_PARTITION_UA;
}

int scim_kafka_pin_event(scim_store_t *st, int32_t nparts,
                         const scim_event_t *ev, scim_buf_t *out,
                         scim_err_t *err)
{
        json_t *in = NULL, *p;
        scim_event_t copy;
        int32_t pin;
        char *txt = NULL;
        int rc = 0;

        if (ev->action != SCIM_ACT_TENANT_CREATE &&
            ev->action != SCIM_ACT_TENANT_UPDATE)
                return 0;
        if (!ev->tenant || !*ev->tenant)
                return 0; /* the fold refuses it */
        in = ev->admin_json ? scim_json_load(ev->admin_json,
                                             strlen(ev->admin_json))
                            : NULL;
        p = json_object_get(in, "partition");
        if (json_is_integer(p) && nparts > 0 &&
            json_integer_value(p) >= nparts) {
                /* a pin never changes: one to a partition that does not
                 * exist would leave the tenant without a place to write */
                rc = scim_err_set(err, 400, "invalidValue",
                                  "the data topic has no partition %lld "
                                  "(this node reads %d partitions)",
                                  (long long)json_integer_value(p),
                                  (int)nparts);
                goto out;
        }
        if (ev->action == SCIM_ACT_TENANT_CREATE) {
                if (p || (ev->admin_json && !json_is_object(in)))
                        goto out; /* given (the fold checks it) */
                if (!in && !(in = json_object())) {
                        rc = scim_err_set_retry(err, 503, "out of memory");
                        goto out;
                }
                pin = scim_kafka_key_partition(ev->tenant, nparts);
        } else {
                if (!json_is_string(p) ||
                    strcmp(json_string_value(p), "auto") != 0)
                        goto out;
                pin = scim_kafka_data_partition(st, ev->tenant);
                if (pin < 0)
                        pin = scim_kafka_key_partition(ev->tenant, nparts);
        }
        if (pin < 0) {
                rc = scim_err_set_retry(err, 503,
                                        "the data topic's partitions are "
                                        "not known yet; retry");
                goto out;
        }
        json_object_set_new(in, "partition", json_integer(pin));
        txt = scim_json_dumps(in);
        if (!txt) {
                rc = scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        copy = *ev; /* shallow: only admin_json differs */
        copy.admin_json = txt;
        out->len = 0;
        rc = scim_event_encode(&copy, out, err) < 0 ? -1 : 1;
out:
        free(txt);
        json_decref(in);
        return rc;
}
