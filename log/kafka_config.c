/*
 * kafka_config.c — `--kafka-config FILE`: librdkafka properties for a
 * production cluster (security.protocol, sasl.*, ssl.*, client tuning),
 * passed through to the producer and the consumer.
 *
 * Format (a subset of Java .properties, as Kafka tools write them): one
 * `key=value` per line; blank lines and lines starting with # or ! are
 * ignored; whitespace around key and value is trimmed; no escapes and no
 * line continuations. Ceilings: 64 KiB file, 4 KiB line, 256 properties.
 *
 * Keys that carry scimlog's guarantees are refused with the reason
 * (acks, idempotence, offsets and groups, the produce bound, the fetch
 * wait); every other key goes to rd_kafka_conf_set, and its errstr (an
 * unknown key, a bad value) comes back as "FILE:LINE: ...". Loading
 * checks every property against a scratch configuration, so a bad file
 * stops the command before it connects anywhere.
 *
 * Threads: parse/load on the caller; apply on whoever builds a client.
 * A loaded set is read-only afterwards.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_internal.h"

#define PROPS_MAX 256
#define PROPS_FILE_MAX 65536
#define PROPS_LINE_MAX 4096

struct scim_kafka_props {
        char *name; /* file name for messages */
        size_t n;
        struct {
                char *key, *value;
                int line;
        } p[PROPS_MAX];
};

/* Keys scimlog sets itself, and why a file may not change them. */
static const struct {
        const char *key, *why;
} reserved[] = {
    {"bootstrap.servers", "give the brokers with --kafka"},
    {"metadata.broker.list", "give the brokers with --kafka"},
    {"enable.idempotence", "scimlog needs the idempotent producer"},
    {"acks", "scimlog needs acks=all"},
    {"request.required.acks", "scimlog needs acks=all"},
    {"transactional.id", "scimlog does not use transactions"},
    {"message.timeout.ms", "use --kafka-timeout"},
    {"delivery.timeout.ms", "use --kafka-timeout"},
    {"fetch.wait.max.ms", "use --kafka-fetch-wait"},
    {"group.id", "scimlog assigns every partition itself"},
    {"enable.auto.commit", "offsets are stored with the views"},
    {"enable.auto.offset.store", "offsets are stored with the views"},
    {"auto.offset.reset", "a lost offset must be an error"},
};

void scim_kafka_props_free(scim_kafka_props_t *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++) {
                free(p->p[i].key);
                free(p->p[i].value);
        }
        free(p->name);
        free(p);
}

static int is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int key_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int scim_kafka_props_parse(const char *text, size_t len, const char *name,
                           scim_kafka_props_t **out, char *errstr,
                           size_t errlen)
{
        scim_kafka_props_t *p = calloc(1, sizeof(*p));
        size_t pos = 0;
        int line = 0, rc = -1;

        *out = NULL;
        if (!p || !(p->name = strdup(name ? name : "kafka config"))) {
                snprintf(errstr, errlen, "out of memory");
                goto out;
        }
        if (len > PROPS_FILE_MAX) {
                snprintf(errstr, errlen, "%s: larger than %d bytes", p->name,
                         PROPS_FILE_MAX);
                goto out;
        }
        while (pos < len) {
                const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
                size_t ll = nl ? (size_t)(nl - l) : len - pos;
                size_t a = 0, b = ll, eq, ks, ke, vs, ve;

                pos += ll + (nl ? 1 : 0);
                line++;
                if (ll > PROPS_LINE_MAX) {
                        snprintf(errstr, errlen, "%s:%d: line longer than %d "
                                 "bytes", p->name, line, PROPS_LINE_MAX);
                        goto out;
                }
                if (memchr(l, '\0', ll)) {
                        snprintf(errstr, errlen, "%s:%d: NUL byte", p->name,
                                 line);
                        goto out;
                }
                while (a < b && is_space(l[a]))
                        a++;
                while (b > a && is_space(l[b - 1]))
                        b--;
                if (a == b || l[a] == '#' || l[a] == '!')
                        continue;
                for (eq = a; eq < b && l[eq] != '='; eq++)
                        ;
                if (eq == b) {
                        snprintf(errstr, errlen,
                                 "%s:%d: expected key=value, got \"%.*s\"",
                                 p->name, line, (int)(b - a > 80 ? 80 : b - a),
                                 l + a);
                        goto out;
                }
                ks = a;
                ke = eq;
                while (ke > ks && is_space(l[ke - 1]))
                        ke--;
                vs = eq + 1;
                ve = b;
                while (vs < ve && is_space(l[vs]))
                        vs++;
                if (ke == ks) {
                        snprintf(errstr, errlen, "%s:%d: empty key", p->name,
                                 line);
                        goto out;
                }
                for (size_t i = ks; i < ke; i++)
                        if (!key_char(l[i])) {
                                snprintf(errstr, errlen,
                                         "%s:%d: bad character in key "
                                         "\"%.*s\"",
                                         p->name, line,
                                         (int)(ke - ks > 80 ? 80 : ke - ks),
                                         l + ks);
                                goto out;
                        }
                if (p->n == PROPS_MAX) {
                        snprintf(errstr, errlen,
                                 "%s:%d: more than %d properties", p->name,
                                 line, PROPS_MAX);
                        goto out;
                }
                p->p[p->n].key = strndup(l + ks, ke - ks);
                p->p[p->n].value = strndup(l + vs, ve - vs);
                p->p[p->n].line = line;
                if (!p->p[p->n].key || !p->p[p->n].value) {
                        free(p->p[p->n].key);
                        free(p->p[p->n].value);
                        snprintf(errstr, errlen, "out of memory");
                        goto out;
                }
                p->n++;
                for (size_t r = 0; r < sizeof(reserved) / sizeof(*reserved);
                     r++)
                        if (!strcmp(p->p[p->n - 1].key, reserved[r].key)) {
                                snprintf(errstr, errlen,
                                         "%s:%d: %s is set by scimlog (%s)",
                                         p->name, line, reserved[r].key,
                                         reserved[r].why);
                                goto out;
                        }
        }
        *out = p;
        p = NULL;
        rc = 0;
out:
        scim_kafka_props_free(p);
        return rc;
}

int scim_kafka_props_apply(const scim_kafka_props_t *p, rd_kafka_conf_t *conf,
                           char *errstr, size_t errlen)
{
        char e[512];

        for (size_t i = 0; p && i < p->n; i++)
                if (rd_kafka_conf_set(conf, p->p[i].key, p->p[i].value, e,
                                      sizeof(e)) != RD_KAFKA_CONF_OK) {
                        snprintf(errstr, errlen, "%s:%d: %s", p->name,
                                 p->p[i].line, e);
                        return -1;
                }
        return 0;
}

int scim_kafka_props_load(const char *path, scim_kafka_props_t **out,
                          char *errstr, size_t errlen)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t n = 0;
        rd_kafka_conf_t *scratch = NULL;
        int rc = -1;

        *out = NULL;
        if (!f) {
                snprintf(errstr, errlen, "cannot open %s", path);
                return -1;
        }
        buf = malloc(PROPS_FILE_MAX + 1);
        if (!buf) {
                snprintf(errstr, errlen, "out of memory");
                goto out;
        }
        n = fread(buf, 1, PROPS_FILE_MAX + 1, f);
        if (ferror(f)) {
                snprintf(errstr, errlen, "cannot read %s", path);
                goto out;
        }
        if (scim_kafka_props_parse(buf, n, path, out, errstr, errlen) < 0)
                goto out;
        /* every key and value checked now, before anything connects */
        scratch = rd_kafka_conf_new();
        if (scim_kafka_props_apply(*out, scratch, errstr, errlen) < 0) {
                scim_kafka_props_free(*out);
                *out = NULL;
                goto out;
        }
        rc = 0;
out:
        if (scratch)
                rd_kafka_conf_destroy(scratch);
        free(buf);
        fclose(f);
        return rc;
}
