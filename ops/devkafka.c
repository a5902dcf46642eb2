/*
 * devkafka.c — scimlog-devkafka: a Kafka cluster for local runs and tests,
 * made of librdkafka's mock brokers (the real Kafka protocol over TCP on
 * loopback, data kept in this process's memory, 5 MiB retention per
 * partition). No broker can be installed on the development machines.
 *
 *   scimlog-devkafka [--brokers N] [--topic T] [--partitions P]
 *                    [--admin-partitions A]
 *
 * Prints "bootstrap HOST:PORT,..." on stdout once the cluster is up (the
 * librdkafka 2.0 mock picks free ports itself), then reads fault-injection
 * commands, one per line, on stdin and answers "ok" or "error: ...":
 *   down ID | up ID             take broker ID (-1 = all) down / up
 *   leader PARTITION ID         move a partition's leader to broker ID
 *   errors API N CODE           the next N requests of API (produce, fetch,
 *                               metadata, or a number) fail with CODE (a
 *                               Kafka error name such as
 *                               NOT_LEADER_FOR_PARTITION, or a number)
 *   rtt ID MS                   delay broker ID's responses by MS
 *   topic NAME PARTITIONS       create another topic
 *   produce KEY HEX [TOPIC]     an external producer: sends the bytes HEX
 *                               with key KEY (the default partitioner picks
 *                               the partition, as for scimlog's own
 *                               events); answers "ok PARTITION OFFSET"
 *   read PARTITION OFFSET [TOPIC]
 *                               answers "ok KEY HEADERS HEX" for that
 *                               message (HEADERS: name=value,...)
 *   watermark PARTITION [TOPIC] answers "ok LOW HIGH"
 * TOPIC defaults to the data topic. Besides it the cluster holds the admin
 * topic scim.admin (A partitions, default 1) and the state topic scim.state (as many
 * partitions as the data topic).
 *   quit
 * At end of input it keeps running until SIGINT/SIGTERM.
 *
 * Threads: the main thread reads commands; the mock brokers run on
 * librdkafka's own threads.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/scim_common.h"

static const char *topic = "scim.events";
static rd_kafka_t *prod, *cons; /* test clients of the mock, made lazily */

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

static rd_kafka_t *client(rd_kafka_mock_cluster_t *mc, rd_kafka_type_t type)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[256];

        rd_kafka_conf_set(conf, "bootstrap.servers",
                          rd_kafka_mock_cluster_bootstraps(mc), errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
        rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
        if (type == RD_KAFKA_CONSUMER) {
                rd_kafka_conf_set(conf, "group.id", "devkafka-reader", errstr,
                                  sizeof(errstr));
                rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                                  sizeof(errstr));
        } else {
                rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                                  sizeof(errstr));
        }
        return rd_kafka_new(type, conf, errstr, sizeof(errstr));
}

/* produce KEY HEX: blocks until delivered (the caller wants the offset). */
static void cmd_produce(rd_kafka_mock_cluster_t *mc, const char *key,
                        const char *hex, const char *to)
{
        static rd_kafka_message_t last;
        size_t n = strlen(hex) / 2;
        unsigned char *buf = malloc(n ? n : 1);
        rd_kafka_resp_err_t e;

        if (!buf || scim_hex_decode(hex, n, buf) < 0) {
                printf("error: bad hex\n");
                free(buf);
                return;
        }
        if (!prod)
                prod = client(mc, RD_KAFKA_PRODUCER);
        memset(&last, 0, sizeof(last));
        last.partition = -1;
        e = rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(to),
                              RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE(buf, n),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE(&last), RD_KAFKA_V_END);
        free(buf);
        if (e) {
                printf("error: %s\n", rd_kafka_err2str(e));
                return;
        }
        rd_kafka_flush(prod, 10000);
        if (last.err || last.partition < 0)
                printf("error: %s\n", rd_kafka_err2str(last.err));
        else
                printf("ok %d %lld\n", (int)last.partition,
                       (long long)last.offset);
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        rd_kafka_message_t *last = m->_private;

        if (last) {
                last->err = m->err;
                last->partition = m->partition;
                last->offset = m->offset;
        }
}

static void cmd_read(rd_kafka_mock_cluster_t *mc, int partition,
                     long long offset, const char *from)
{
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_message_t *m = NULL;
        rd_kafka_headers_t *hdrs = NULL;

        if (!cons) {
                cons = client(mc, RD_KAFKA_CONSUMER);
                rd_kafka_poll_set_consumer(cons);
        }
        rd_kafka_topic_partition_list_add(l, from, partition)->offset =
            offset;
        rd_kafka_assign(cons, l);
        rd_kafka_topic_partition_list_destroy(l);
        for (int i = 0; i < 100 && !m; i++) {
                m = rd_kafka_consumer_poll(cons, 100);
                if (m && m->err) {
                        rd_kafka_message_destroy(m);
                        m = NULL;
                }
        }
        rd_kafka_assign(cons, NULL);
        if (!m) {
                printf("error: no message\n");
                return;
        }
        printf("ok %.*s ", (int)m->key_len, m->key ? (char *)m->key : "");
        if (rd_kafka_message_headers(m, &hdrs) == 0) {
                const char *name;
                const void *val;
                size_t sz;

                for (size_t i = 0;
                     rd_kafka_header_get_all(hdrs, i, &name, &val, &sz) == 0;
                     i++)
                        printf("%s%s=%.*s", i ? "," : "", name, (int)sz,
                               val ? (const char *)val : "");
        } else {
                printf("-");
        }
        printf(" ");
        for (size_t i = 0; i < m->len; i++)
                printf("%02x", ((unsigned char *)m->payload)[i]);
        printf("\n");
        rd_kafka_message_destroy(m);
}

static int api_key(const char *s)
{
        if (!strcmp(s, "produce"))
                return 0;
        if (!strcmp(s, "fetch"))
                return 1;
        if (!strcmp(s, "listoffsets"))
                return 2;
        if (!strcmp(s, "metadata"))
                return 3;
        if (!strcmp(s, "initproducerid"))
                return 22;
        return atoi(s);
}

static int err_code(const char *s, rd_kafka_resp_err_t *out)
{
        const struct rd_kafka_err_desc *d;
        size_t n;
        char *end;
        long v = strtol(s, &end, 10);

        if (*s && *end == '\0') {
                *out = (rd_kafka_resp_err_t)v;
                return 0;
        }
        rd_kafka_get_err_descs(&d, &n);
        for (size_t i = 0; i < n; i++)
                if (d[i].name && (!strcmp(d[i].name, s) ||
                                  (d[i].name[0] == '_' &&
                                   !strcmp(d[i].name + 1, s)))) {
                        *out = d[i].code;
                        return 0;
                }
        return -1;
}

static void command(rd_kafka_mock_cluster_t *mc, char *line)
{
        char a[128] = "", b[128] = "", c[128] = "", d[128] = "";
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        int n = sscanf(line, "%127s %127s %127s %127s", a, b, c, d);

        if (n < 1)
                return;
        if (!strcmp(a, "produce") && n >= 2) {
                /* the hex may be longer than the scanf fields */
                char *key = strtok(line + strlen("produce"), " \t\r\n");
                char *hex = key ? strtok(NULL, " \t\r\n") : NULL;
                char *to = hex ? strtok(NULL, " \t\r\n") : NULL;

                cmd_produce(mc, key ? key : "", hex ? hex : "",
                            to ? to : topic);
                fflush(stdout);
                return;
        }
        if (!strcmp(a, "watermark") && (n == 2 || n == 3)) {
                int64_t lo = 0, hi = 0;

                if (!cons) {
                        cons = client(mc, RD_KAFKA_CONSUMER);
                        rd_kafka_poll_set_consumer(cons);
                }
                e = rd_kafka_query_watermark_offsets(
                    cons, n == 3 ? c : topic, atoi(b), &lo, &hi, 10000);
                if (e)
                        printf("error: %s\n", rd_kafka_err2str(e));
                else
                        printf("ok %lld %lld\n", (long long)lo,
                               (long long)hi);
                fflush(stdout);
                return;
        }
        if (!strcmp(a, "read") && (n == 3 || n == 4)) {
                cmd_read(mc, atoi(b), atoll(c), n == 4 ? d : topic);
                fflush(stdout);
                return;
        }
        if (!strcmp(a, "down") && n == 2)
                e = rd_kafka_mock_broker_set_down(mc, atoi(b));
        else if (!strcmp(a, "up") && n == 2)
                e = rd_kafka_mock_broker_set_up(mc, atoi(b));
        else if (!strcmp(a, "leader") && n == 3)
                e = rd_kafka_mock_partition_set_leader(mc, topic, atoi(b),
                                                       atoi(c));
        else if (!strcmp(a, "rtt") && n == 3)
                e = rd_kafka_mock_broker_set_rtt(mc, atoi(b), atoi(c));
        else if (!strcmp(a, "topic") && n == 3)
                e = rd_kafka_mock_topic_create(mc, b, atoi(c), 1);
        else if (!strcmp(a, "errors") && n == 4) {
                rd_kafka_resp_err_t code;
                int cnt = atoi(c);

                if (err_code(d, &code) < 0 || cnt < 1 || cnt > 10000) {
                        printf("error: unknown error code or count\n");
                        fflush(stdout);
                        return;
                }
                for (int i = 0; i < cnt; i++)
                        rd_kafka_mock_push_request_errors(
                            mc, (int16_t)api_key(b), 1, code);
        } else if (!strcmp(a, "quit")) {
                printf("ok\n");
                fflush(stdout);
                exit(0);
        } else {
                printf("error: unknown command\n");
                fflush(stdout);
                return;
        }
        if (e)
                printf("error: %s\n", rd_kafka_err2str(e));
        else
                printf("ok\n");
        fflush(stdout);
}

int main(int argc, char **argv)
{
        int brokers = 3, partitions = 3, admin_partitions = 1;
        char errstr[512];
        static char line[1 << 20]; /* produce carries hex bytes */
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mc;
        rd_kafka_resp_err_t e;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
                        brokers = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--partitions") && i + 1 < argc)
                        partitions = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--admin-partitions") &&
                         i + 1 < argc)
                        admin_partitions = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--topic") && i + 1 < argc)
                        topic = argv[++i];
                else {
                        fprintf(stderr,
                                "usage: scimlog-devkafka [--brokers N] "
                                "[--topic T] [--partitions P] "
                                "[--admin-partitions A]\n");
                        return 2;
                }
        }
        if (brokers < 1 || brokers > 16 || partitions < 1 ||
            partitions > 1024 || admin_partitions < 1 ||
            admin_partitions > 1024) {
                fprintf(stderr, "scimlog-devkafka: 1-16 brokers, 1-1024 "
                                "partitions\n");
                return 2;
        }
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "scimlog-devkafka: %s\n", errstr);
                return 1;
        }
        mc = rd_kafka_mock_cluster_new(rk, brokers);
        if (!mc) {
                fprintf(stderr, "scimlog-devkafka: cannot start the mock "
                                "cluster\n");
                return 1;
        }
        e = rd_kafka_mock_topic_create(mc, topic, partitions,
                                       brokers < 3 ? brokers : 3);
        if (e) {
                fprintf(stderr, "scimlog-devkafka: topic: %s\n",
                        rd_kafka_err2str(e));
                return 1;
        }
        if (!e)
                e = rd_kafka_mock_topic_create(mc, "scim.admin",
                                               admin_partitions,
                                               brokers < 3 ? brokers : 3);
        if (!e)
                e = rd_kafka_mock_topic_create(mc, "scim.state", partitions,
                                               brokers < 3 ? brokers : 3);
        if (e) {
                fprintf(stderr, "scimlog-devkafka: topic: %s\n",
                        rd_kafka_err2str(e));
                return 1;
        }
        printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);
        while (fgets(line, sizeof(line), stdin))
                command(mc, line);
        for (;;)
                pause();
        return 0;
}
