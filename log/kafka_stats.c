/*
 * kafka_stats.c — what /metrics says about Kafka: librdkafka's statistics
 * (statistics.interval.ms, one JSON document per second per client) parsed
 * for the producer's queue and transmit errors and the consumer's lag per
 * partition, the error callback's count, and the timestamp of the newest
 * message this node folded (fold lag in seconds). Process-wide: one
 * producer and one consumer per serving process.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <string.h>

#include "log/scim_log.h"

static scim_kafka_stats_t g; /* fields read and written atomically */

#define SET(f, v) __atomic_store_n(&g.f, (v), __ATOMIC_RELAXED)
#define GET(f) __atomic_load_n(&g.f, __ATOMIC_RELAXED)

void scim_kafka_stats_error(void)
{
        __atomic_add_fetch(&g.errors, 1, __ATOMIC_RELAXED);
}

void scim_kafka_stats_folded(int64_t msg_ts_ms)
{
        if (msg_ts_ms > GET(last_folded_ms))
                SET(last_folded_ms, msg_ts_ms);
}

void scim_kafka_stats_partitions(int admin, int32_t n)
{
        if (admin)
                SET(partitions_admin, (uint64_t)n);
        else
                SET(partitions_data, (uint64_t)n);
}

int scim_kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
        json_t *j = json_loadb(json, len, 0, NULL), *x, *b, *t, *p;
        const char *k, *pk;

        (void)rk;
        (void)opaque;
        if (!j)
                return 0;
        SET(active, 1);
        SET(updated_ms, scim_now_ms());
        if (json_string_value(json_object_get(j, "type")) &&
            !strcmp(json_string_value(json_object_get(j, "type")),
                    "producer")) {
                uint64_t txerrs = 0;

                SET(producer_queue,
                    (uint64_t)json_integer_value(json_object_get(j, "msg_cnt")));
                json_object_foreach(json_object_get(j, "brokers"), k, b)
                    txerrs += (uint64_t)json_integer_value(
                        json_object_get(b, "txerrs"));
                SET(producer_tx_errors, txerrs);
        } else {
                int64_t lag = 0;
                uint64_t rxerrs = 0;

                json_object_foreach(json_object_get(j, "brokers"), k, b)
                    rxerrs += (uint64_t)json_integer_value(
                        json_object_get(b, "rxerrs"));
                json_object_foreach(json_object_get(j, "topics"), k, t)
                {
                        json_object_foreach(json_object_get(t, "partitions"),
                                            pk, p)
                        {
                                json_int_t l;

                                if (!strcmp(pk, "-1"))
                                        continue; /* the internal one */
                                x = json_object_get(p, "consumer_lag");
                                l = json_integer_value(x);
                                if (l > 0)
                                        lag += l;
                        }
                }
                SET(consumer_lag, (uint64_t)lag);
                SET(consumer_rx_errors, rxerrs);
        }
        json_decref(j);
        return 0;
}

void scim_kafka_stats_get(scim_kafka_stats_t *out)
{
        out->active = GET(active);
        out->producer_queue = GET(producer_queue);
        out->producer_tx_errors = GET(producer_tx_errors);
        out->consumer_rx_errors = GET(consumer_rx_errors);
        out->errors = GET(errors);
        out->consumer_lag = GET(consumer_lag);
        out->last_folded_ms = GET(last_folded_ms);
        out->updated_ms = GET(updated_ms);
        out->partitions_data = GET(partitions_data);
        out->partitions_admin = GET(partitions_admin);
}
