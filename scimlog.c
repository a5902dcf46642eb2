/*
 * scimlog.c — the one binary: `serve`, `tenant ...`, `replay`, `digest`.
 *
 * Every subcommand opens the data dir (a RocksDB database, one process at a
 * time) itself; tenant commands therefore run while the server is stopped.
 * Runs on the main thread; `serve` parks the main thread in sigwait while
 * libmicrohttpd's pool and the ingest committer do the work.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/scim_api.h"
#include "ingest/scim_ingest.h"
#include "projector/scim_projector.h"
#include "schemas/scim_schemas.h"

static const char *usage_main =
    "usage: scimlog <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve                      run the SCIM server\n"
    "  tenant create NAME         create a tenant and its first token\n"
    "  tenant list                list tenants and their tokens\n"
    "  tenant token issue NAME    issue another token for a tenant\n"
    "                             (--reports-only: reports API only)\n"
    "  tenant token revoke NAME TOKEN_ID\n"
    "                             revoke a token\n"
    "  replay --into NEWDIR       rebuild every view from the log\n"
    "  digest                     print a digest of the views\n"
    "  backup --to DEST           online backup (checkpoint) of a data dir\n"
    "  restore --from B --data D  a backup into a new data dir\n"
    "  verify                     views equal a replay of the log?\n"
    "  snapshot [--truncate]      a log snapshot (and log truncation)\n"
    "  config check               effective serve settings\n"
    "\n"
    "Every command takes --data DIR (default ./data) and --help.\n";

static const char *usage_serve =
    "usage: scimlog serve [--data DIR] [--listen HOST:PORT] [--max-body N]\n"
    "                     [--threads N] [--tls-cert PEM --tls-key PEM]\n"
    "                     [--max-connections N] [--header-timeout S]\n"
    "                     [--idle-timeout S] [--drain-timeout S]\n"
    "                     [--scan-limit N] [--scan-ms MS]\n"
    "                     [--unsent-limit-mb N] [--rate-limit RATE[/BURST]|off]\n"
    "                     [--mount TEMPLATE]... [--host-suffix .DOMAIN]\n"
    "                     [--trusted-proxy ADDR[/BITS]]...\n"
    "                     [--metrics-token-file FILE] [--access-log off|text|json]\n"
    "                     [--operator-token-file FILE] [--jwt-key-file FILE]\n"
    "                     [--jwt-ttl SECONDS] [--log-format text|json]\n"
    "                     [--prune-interval S] [--snapshot-interval S]\n"
    "                     [--memory-mb N] [--report-threads N]\n"
    "                     [--report-queue N] [--report-ms MS]\n"
    "                     [--tenant-concurrency N]\n"
    "                     [--kafka BROKERS [--topic T] [--kafka-timeout MS]\n"
    "                      [--kafka-fetch-wait MS] [--kafka-config FILE]\n"
    "                      [--admin-topic T] [--state-topic T]\n"
    "                      [--kafka-framing confluent --schema-registry URL]\n"
    "                      [--kafka-metadata-refresh MS]]\n"
    "\n"
    "Serves SCIM 2.0 at http://HOST:PORT/scim/v2/{tenant}/ with the embedded\n"
    "log in DIR (default ./data). Defaults: --listen 127.0.0.1:8080,\n"
    "--max-body 1048576 bytes.\n"
    "GET /healthz answers 200 once ready. SIGINT/SIGTERM stop cleanly:\n"
    "no new connections, requests in progress (writes waiting for their\n"
    "commit too) are answered, for at most --drain-timeout (default 10) s.\n"
    "Connections: at most --max-connections (default 10000, capped by the\n"
    "open-file limit minus 1024); headers must arrive within\n"
    "--header-timeout (default 10) s of connecting, keep-alive connections\n"
    "idle at most --idle-timeout (default 30) s, and above 90% of the\n"
    "limit the oldest idle connections are closed.\n"
    "A filter no index answers scans the tenant: one such scan per tenant\n"
    "at a time (others 429), each stopped with 400 tooMany after\n"
    "--scan-limit (default 1000000) resources or --scan-ms (default 2000).\n"
    "--threads defaults to twice the cores (at least 4).\n"
    "Point-in-time reads (?asOf=) run on --report-threads (default 1)\n"
    "threads of their own, not the pool; --report-queue (default 8) more\n"
    "may wait, at most 2 per tenant running or waiting (others 429).\n"
    "Each runs at most --report-ms (default 30000) once a worker has it\n"
    "(time waiting does not count); past it, it stops: 400 tooMany.\n"
    "Answers waiting for slow readers may hold --unsent-limit-mb (default\n"
    "512) MiB in all; past it, answers over 64 KiB get 503 + Retry-After.\n"
    "Each tenant may make --rate-limit (default 100/200: 100 requests/s,\n"
    "bursts of 200) SCIM requests; over it, 429 with Retry-After. off\n"
    "turns it off (benchmarks). A tenant runs at most --tenant-concurrency\n"
    "(default half of --threads, at least 2) list pages (indexed eq\n"
    "lookups excepted), .search and\n"
    "reports reads at once; more get 429 with Retry-After.\n"
    "Tenant URLs: /scim/v2/{tenant}/ and /scim/v2/ (tenant from the token)\n"
    "always; --mount adds templates such as /api/v1/scim/azure/{tenant} or\n"
    "/api/scim (tenant from the token); --host-suffix .scim.example.com\n"
    "takes the tenant from the host acme.scim.example.com on mounts without\n"
    "{tenant}. Tenant names match exactly as created. --trusted-proxy: the\n"
    "X-Forwarded-Proto/Host/Prefix and Forwarded headers of these peers\n"
    "build Location and meta.location; other peers' are ignored.\n"
    "GET /metrics (Prometheus text), /livez, /readyz (503 while stopping);\n"
    "/metrics answers only loopback peers without a proxy's forwarding\n"
    "headers; --metrics-token-file puts it behind that bearer token instead\n"
    "(any peer).\n"
    "--operator-token-file FILE enables the admin API (/admin/v1/tenants:\n"
    "tenants, tokens, rotation, disable/enable; README) for that bearer\n"
    "token (at least 32 characters; keep the file mode 0600).\n"
    "--jwt-key-file FILE enables OAuth 2.0 client credentials: POST\n"
    "/oauth/v1/{tenant}/token issues JWTs (HS256, keys derived from the\n"
    "file's secret, the same file on every node) that the SCIM API accepts;\n"
    "--jwt-ttl S is their lifetime (default 3600, 60 to 86400).\n"
    "--log-format text|json: server events (listening, stopping, Kafka\n"
    "errors, ...) as text lines (default) or JSON lines {time, level,\n"
    "event, msg}; --access-log sets the request lines' format.\n"
    "--access-log json: one JSON line per request on stderr (time,\n"
    "request_id, tenant, method, path template, status, latency_ms, bytes,\n"
    "actor); text: METHOD URI STATUS MS.\n"
    "With --kafka the log is the Kafka topic T (default scim.events) on\n"
    "BROKERS; DIR holds this node's views and consumed offsets. The node\n"
    "catches up with the topic before it listens. --kafka-timeout bounds a\n"
    "produce (default 10000 ms); a write waits at most twice that.\n"
    "--kafka-fetch-wait is the consumer's fetch.wait.max.ms (default 100;\n"
    "use 1 against scimlog-devkafka, whose mock brokers always wait it out).\n"
    "--kafka-config FILE: librdkafka properties (key=value lines: security.\n"
    "protocol, sasl.*, ssl.*, tuning) for every Kafka client. Tenant and\n"
    "token events use the admin topic (default scim.admin). --state-topic T\n"
    "publishes every resource's current state to T (compacted; key\n"
    "tenant/type/id; tombstone on delete). --kafka-framing confluent frames\n"
    "events in the Confluent wire format (0, schema id, Avro datum) after\n"
    "registering the writer schema with the registry at --schema-registry\n"
    "URL (subject <topic>-value); with --schema-registry the consumer also\n"
    "reads that framing (default framing: Avro single-object).\n"
    "--kafka-metadata-refresh MS: how often a running node looks for\n"
    "partitions added to the topics (default 5000).\n";

static const char *usage_tenant =
    "usage: scimlog tenant create NAME [--profile P] [--data DIR]\n"
    "       scimlog tenant list [--data DIR]\n"
    "       scimlog tenant token issue NAME [--reports-only |\n"
    "                          --scope reports|scim-read|tenant-admin]\n"
    "       scimlog tenant token revoke NAME TOKEN_ID [--data DIR]\n"
    "       scimlog tenant token rotate NAME TOKEN_ID [--overlap SECONDS]\n"
    "       scimlog tenant client register NAME [--scope scim|scim-read|\n"
    "                          reports]\n"
    "       scimlog tenant client revoke NAME CLIENT_ID\n"
    "       scimlog tenant key rotate NAME [--overlap SECONDS]\n"
    "       scimlog tenant disable|enable NAME\n"
    "       scimlog tenant pin [NAME] --kafka BROKERS   (pin to the data\n"
    "                          partition; before adding partitions)\n"
    "       scimlog tenant delete NAME --erase\n"
    "       scimlog tenant schema get NAME\n"
    "       scimlog tenant schema put NAME FILE|--profile P [--dry-run]\n"
    "                                                      [--force]\n"
    "       scimlog tenant schema delete NAME\n"
    "       scimlog tenant retention NAME DAYS\n"
    "       scimlog tenant prune NAME\n"
    "\n"
    "Tenant names are 1-64 characters of A-Z a-z 0-9 . _ -. create and\n"
    "token issue print {\"tenant\",\"token_id\",\"secret\"} as JSON; the\n"
    "secret is shown once and stored only as a SHA-256 hash. While a server\n"
    "serves the data dir these go through its control socket (the dir\n"
    "admits one process); otherwise they open the dir themselves.\n"
    "client register prints an OAuth client's id and secret (client\n"
    "credentials, /oauth/v1/NAME/token); key rotate makes a new JWT signing\n"
    "key current (tokens signed with the previous one verify for --overlap\n"
    "seconds more).\n"
    "--reports-only issues a token that reads /reports/v1/NAME/ and is\n"
    "refused (403) on /scim/v2/NAME/. --scope scim-read: SCIM reads only.\n"
    "token rotate issues a successor with the same scope; the old token\n"
    "stays valid for --overlap seconds (default 3600), then expires.\n"
    "disable refuses every token of NAME (403; data kept) until enable.\n"
    "--scope tenant-admin issues a token\n"
    "for /admin/v1/tenants/NAME/schema and /catalogs/ (a tenant's own model:\n"
    "docs/tenant-schemas.md). --profile P (grouptalk, gtmhub, workteam,\n"
    "talkdesk, askspoke) creates the tenant with that app's definition.\n"
    "schema put checks every stored resource first: --dry-run only reports,\n"
    "--force applies a change that existing resources violate.\n"
    "retention keeps NAME's change records (reports, history, asOf, the\n"
    "change stream) for DAYS days (0: for ever); older ones are pruned by\n"
    "the server (prune: now). Prints what is retained.\n"
    "With --kafka BROKERS [--topic T] [--admin-topic T] [--kafka-config F]\n"
    "the event goes to the admin topic and the command waits until DIR has\n"
    "folded it; `tenant list --kafka` first folds both topics into DIR.\n";

static const char *usage_replay =
    "usage: scimlog replay [--data DIR] --into NEWDIR [--until SEQ|TIME]\n"
    "                      [--memory-mb N]\n"
    "       scimlog replay --kafka BROKERS [--topic T] [--admin-topic T]\n"
    "                      [--kafka-config FILE] --into NEWDIR\n"
    "                      [--until OFFSET|TIME]\n"
    "\n"
    "Rebuilds every view from DIR's log into the new data dir NEWDIR (which\n"
    "must not exist or be empty), up to log position SEQ (default: all),\n"
    "or up to the last event before the first one stamped after TIME\n"
    "(RFC 3339: the state the service showed at that time).\n"
    "With --kafka, from the topic: every partition up to and including\n"
    "OFFSET, or the messages whose timestamp is at most TIME (RFC 3339),\n"
    "or everything present when replay starts.\n"
    "--memory-mb N (default 384) bounds RocksDB's memory in the new dir:\n"
    "two thirds block cache, one third memtables (peak RSS is about N\n"
    "plus 150 MiB of working set; see README, Benchmarks).\n";

static const char *usage_digest =
    "usage: scimlog digest [--data DIR] [--dump CF]\n"
    "\n"
    "Prints {\"digest\": sha256 of every view, \"position\": log position,\n"
    "\"columnFamilies\": the digest of each column family}. Two data dirs\n"
    "with equal digests hold identical views. --dump CF prints every key and\n"
    "value of one column family instead (escaped; to see where two differ).\n";

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "scimlog: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 1;
}

/* A whole decimal number from lo to hi for option --name (digits, an
 * optional leading '-' only when lo < 0): into *out, or -1 after saying
 * what the option takes. */
static int num_arg(const char *name, const char *arg, long long lo,
                   long long hi, const char *unit, long long *out)
{
        char *end = NULL;
        long long v;

        errno = 0;
        v = strtoll(arg, &end, 10);
        if (end == arg || *end || errno || v < lo || v > hi ||
            (arg[0] < '0' && !(lo < 0 && arg[0] == '-')) || arg[0] > '9') {
                fail("--%s wants %s from %lld to %lld, got '%.40s'", name,
                     unit ? unit : "a number", lo, hi, arg);
                return -1;
        }
        *out = v;
        return 0;
}

/* Reads the one-line secret a --*-file option names into buf (size
 * cap): the first line, without its line end; shorter than min characters
 * is an error (printed, naming the option and the file). 0 or 1. */
static int secret_file(const char *opt, const char *path, char *buf,
                       size_t cap, size_t min, const char *what)
{
        FILE *f = fopen(path, "r");
        size_t got;

        if (!f)
                return fail("%s: cannot read %s", opt, path);
        got = fread(buf, 1, cap - 1, f);
        fclose(f);
        buf[got] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        if (strlen(buf) < min)
                return fail("%s: %s in %s is shorter than %zu characters",
                            opt, what, path, min);
        return 0;
}

/* Opens dir (replay set: a new dir that scim_store_replay fills). */
static int open_store_as(const char *dir, scim_store_t **st, int replay)
{
        char errstr[512];

        if ((replay ? scim_store_open_replay : scim_store_open)(
                dir, st, errstr, sizeof(errstr)) < 0) {
                fprintf(stderr, "scimlog: cannot open data dir %s: %s\n", dir,
                        errstr);
                return -1;
        }
        return 0;
}

static int open_store(const char *dir, scim_store_t **st)
{
        return open_store_as(dir, st, 0);
}

/* Commands that only read (digest, the source of replay) must not create
 * an empty store on a mistyped path and report success. */
static int open_existing_store(const char *dir, scim_store_t **st)
{
        char current[4200];
        struct stat sb;

        snprintf(current, sizeof(current), "%s/CURRENT", dir);
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                fprintf(stderr, "scimlog: %s is not a directory\n", dir);
                return -1;
        }
        if (stat(current, &sb) != 0) {
                fprintf(stderr,
                        "scimlog: %s holds no scimlog data (no RocksDB "
                        "CURRENT file); check --data\n",
                        dir);
                return -1;
        }
        return open_store(dir, st);
}

/* Serving and writing need views in the current layout. */
static int require_current_views(scim_store_t *st, const char *dir)
{
        if (scim_store_views_current(st))
                return 0;
        fprintf(stderr,
                "scimlog: the views in %s are not current (built by an "
                "older scimlog with another key layout, an interrupted "
                "replay, or a log-only bulk load); rebuild them from the "
                "log with\n"
                "  scimlog replay --data %s --into NEWDIR\n"
                "and serve NEWDIR\n",
                dir, dir);
        return -1;
}

static int wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--help") == 0 ||
                    strcmp(argv[i], "-h") == 0)
                        return 1;
        return 0;
}

/* Options every --kafka command takes besides --kafka and --topic. */
#define KAFKA_MORE_OPTIONS                                                    \
        {"kafka-config", required_argument, NULL, 'C'},                       \
            {"admin-topic", required_argument, NULL, 'A'},                    \
            {"state-topic", required_argument, NULL, 'S'},                \
            {"kafka-framing", required_argument, NULL, 1101},             \
            {"schema-registry", required_argument, NULL, 1102},          \
            {"kafka-metadata-refresh", required_argument, NULL, 1103},
static const char *kafka_config_path; /* --kafka-config */
static scim_kafka_props_t *kafka_props; /* loaded once, freed by main */

/* Handles an option of KAFKA_MORE_OPTIONS; 0 when c is not one. */
static int kafka_more_option(int c, scim_kafka_config_t *k)
{
        if (c == 'C')
                kafka_config_path = optarg;
        else if (c == 'A')
                k->admin_topic = optarg;
        else if (c == 'S')
                k->state_topic = optarg;
        else if (c == 1101) {
                if (strcmp(optarg, "confluent") &&
                    strcmp(optarg, "single-object")) {
                        fail("--kafka-framing: confluent or single-object, "
                             "not %s", optarg);
                        exit(2);
                }
                k->confluent = !strcmp(optarg, "confluent");
        } else if (c == 1102)
                k->schema_registry = optarg;
        else if (c == 1103) {
                long long ms;

                if (num_arg("kafka-metadata-refresh", optarg, 100, 3600000,
                            "milliseconds", &ms) < 0)
                        exit(2);
                k->metadata_refresh_ms = (int)ms;
        }
        else
                return 0;
        return 1;
}

/* Loads --kafka-config into k->props. Returns 0 or -1 (message printed). */
static int kafka_load_props(scim_kafka_config_t *k)
{
        char errstr[512];

        if (kafka_config_path && !kafka_props &&
            scim_kafka_props_load(kafka_config_path, &kafka_props, errstr,
                                  sizeof(errstr)) < 0) {
                fail("--kafka-config: %s", errstr);
                return -1;
        }
        k->props = kafka_props;
        return 0;
}

/* Kafka mode: opens the Kafka log (producer + projector), catches up
 * with the topic, and points ing at it. Returns 0 or -1 (message
 * printed). */
static int start_kafka(scim_store_t *st, scim_kafka_config_t *kcfg,
                       scim_ingest_t *ing, scim_log_t **kafka)
{
        char errstr[512];

        if (kafka_load_props(kcfg) < 0)
                return -1;
        if (scim_log_open(st, kcfg, kafka, errstr, sizeof(errstr)) < 0 ||
            scim_log_catch_up(*kafka, 600000, errstr, sizeof(errstr)) < 0) {
                fail("kafka: %s", errstr);
                return -1;
        }
        scim_ingest_use_log(ing, *kafka);
        scim_store_mark_kafka(st);
        return 0;
}

/* ------------------------------------------------------------ serve */

/* `config check`: serve's flags are parsed and checked, then printed. */
static int g_config_check;
/* serve's argv with the config file and environment folded in; kept for
 * the process's life (the parsed settings point into it) */
static char **g_serve_argv;

/* Prints the effective settings of an expanded argv as JSON (the last
 * value of each flag; every value of a repeatable one). */
static void print_effective(const struct option *opts, int argc, char **argv)
{
        json_t *o = json_object();
        char *txt;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *name, *val = NULL, *eq;
                char key[128];
                const struct option *op = NULL;

                if (strncmp(a, "--", 2))
                        continue;
                name = a + 2;
                eq = strchr(name, '=');
                snprintf(key, sizeof(key), "%.*s",
                         (int)(eq ? (size_t)(eq - name) : strlen(name)), name);
                for (const struct option *x = opts; x->name; x++)
                        if (!strcmp(x->name, key))
                                op = x;
                if (!op)
                        continue;
                if (op->has_arg == required_argument)
                        val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : "");
                if (!strcmp(key, "mount") || !strcmp(key, "trusted-proxy")) {
                        json_t *arr = json_object_get(o, key);

                        if (!arr) {
                                arr = json_array();
                                json_object_set_new(o, key, arr);
                        }
                        json_array_append_new(arr, json_string(val));
                } else {
                        json_object_set_new(o, key,
                                            val ? json_string(val)
                                                : json_true());
                }
        }
        txt = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (txt)
                puts(txt);
        free(txt);
        json_decref(o);
}

/* --memory-mb N: RocksDB's memory per store, two thirds block cache and
 * one third memtables (store_tune.c); 0 on success. */
static int memory_option(const char *arg)
{
        long long mb;

        if (num_arg("memory-mb", arg, 48, 1048576, "MiB", &mb) < 0)
                return 1;
        scim_store_set_memory((size_t)(mb - mb / 3), (size_t)(mb / 3));
        return 0;
}

static int cmd_serve(int argc, char **argv)
{
        static const struct option opts[] = {
            {"data", required_argument, NULL, 'd'},
            {"listen", required_argument, NULL, 'l'},
            {"max-body", required_argument, NULL, 'b'},
            {"threads", required_argument, NULL, 't'},
            {"tls-cert", required_argument, NULL, 'c'},
            {"tls-key", required_argument, NULL, 'k'},
            {"kafka", required_argument, NULL, 'K'},
            {"topic", required_argument, NULL, 'T'},
            {"kafka-timeout", required_argument, NULL, 'M'},
            {"kafka-fetch-wait", required_argument, NULL, 'W'},
            KAFKA_MORE_OPTIONS
            {"max-connections", required_argument, NULL, 1001},
            {"header-timeout", required_argument, NULL, 1002},
            {"idle-timeout", required_argument, NULL, 1003},
            {"drain-timeout", required_argument, NULL, 1004},
            {"scan-limit", required_argument, NULL, 1005},
            {"scan-ms", required_argument, NULL, 1006},
            {"unsent-limit-mb", required_argument, NULL, 1007},
            {"rate-limit", required_argument, NULL, 1008},
            {"mount", required_argument, NULL, 1009},
            {"host-suffix", required_argument, NULL, 1010},
            {"trusted-proxy", required_argument, NULL, 1011},
            {"metrics-token-file", required_argument, NULL, 1012},
            {"access-log", required_argument, NULL, 1013},
            {"operator-token-file", required_argument, NULL, 1014},
            {"jwt-key-file", required_argument, NULL, 1015},
            {"jwt-ttl", required_argument, NULL, 1016},
            {"log-format", required_argument, NULL, 1017},
            {"prune-interval", required_argument, NULL, 1018},
            {"snapshot-interval", required_argument, NULL, 1019},
            {"memory-mb", required_argument, NULL, 1020},
            {"report-threads", required_argument, NULL, 1021},
            {"report-queue", required_argument, NULL, 1022},
            {"report-ms", required_argument, NULL, 1023},
            {"tenant-concurrency", required_argument, NULL, 1024},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0}};
        const char *data = "./data", *listen = "127.0.0.1:8080";
        scim_kafka_config_t kcfg = {.topic = SCIM_KAFKA_TOPIC_DEFAULT};
        scim_log_t *kafka = NULL;
        scim_api_config_t cfg;
        scim_store_t *st = NULL;
        scim_ingest_t *ing = NULL;
        scim_api_t *api = NULL;
        scim_control_t *ctl = NULL;
        scim_maintain_t *maint = NULL;
        scim_maintain_config_t mcfg = {.prune_interval_ms = 60000};
        char errstr[512], host[256], state_cursor[1100];
        const char *mounts[16], *proxies[32];
        static char metrics_token[256], operator_token[256], jwt_key[256];
        size_t n_mounts = 0, n_proxies = 0;
        const char *colon;
        sigset_t set;
        long long v;
        int sig, c, rc = 1;

        if (scim_config_expand(opts, argc, argv, &argc, &g_serve_argv, errstr,
                               sizeof(errstr)) < 0)
                return fail("%s", errstr);
        argv = g_serve_argv;
        memset(&cfg, 0, sizeof(cfg));
        cfg.mounts = mounts;
        cfg.trusted_proxies = proxies;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        data = optarg;
                        break;
                case 'l':
                        listen = optarg;
                        break;
                case 'b':
                        if (num_arg("max-body", optarg, 1024, 1LL << 30,
                                    "bytes", &v) < 0)
                                return 1;
                        cfg.max_body = (size_t)v;
                        break;
                case 't':
                        if (num_arg("threads", optarg, 1, 1024, NULL, &v) < 0)
                                return 1;
                        cfg.threads = (int)v;
                        break;
                case 'c':
                        cfg.tls_cert = optarg;
                        break;
                case 'k':
                        cfg.tls_key = optarg;
                        break;
                case 'K':
                        kcfg.brokers = optarg;
                        break;
                case 'T':
                        kcfg.topic = optarg;
                        break;
                case 'M':
                        if (num_arg("kafka-timeout", optarg, 100, 3600000,
                                    "milliseconds", &v) < 0)
                                return 1;
                        kcfg.timeout_ms = (int)v;
                        break;
                case 'W':
                        if (num_arg("kafka-fetch-wait", optarg, 1, 60000,
                                    "milliseconds", &v) < 0)
                                return 1;
                        kcfg.fetch_wait_ms = (int)v;
                        break;
                case 'C':
                case 'A':
                case 'S':
                case 1101:
                case 1102:
                case 1103:
                        kafka_more_option(c, &kcfg);
                        break;
                case 1001:
                case 1002:
                case 1003:
                case 1004:
                case 1005:
                case 1006:
                case 1007:
                case 1023:
                case 1024: {
                        const char *name = "";

                        for (const struct option *o = opts; o->name; o++)
                                if (o->val == c)
                                        name = o->name;
                        if (num_arg(name, optarg, c == 1001 ? 16 : 1, 1000000,
                                    NULL, &v) < 0)
                                return 1;
                        if (c == 1001)
                                cfg.max_conns = (unsigned)v;
                        else if (c == 1002)
                                cfg.header_timeout_s = (unsigned)v;
                        else if (c == 1003)
                                cfg.idle_timeout_s = (unsigned)v;
                        else if (c == 1004)
                                cfg.drain_ms = (unsigned)v * 1000u;
                        else if (c == 1005)
                                cfg.scan_limit = (size_t)v;
                        else if (c == 1006)
                                cfg.scan_ms = (unsigned)v;
                        else if (c == 1023)
                                cfg.report_ms = (unsigned)v;
                        else if (c == 1024)
                                cfg.tenant_concurrency = (unsigned)v;
                        else
                                cfg.unsent_bytes = (size_t)v << 20;
                        break;
                }
                case 1009:
                        if (n_mounts >= 16)
                                return fail("at most 16 --mount");
                        mounts[n_mounts++] = optarg;
                        break;
                case 1010:
                        cfg.host_suffix = optarg;
                        break;
                case 1011:
                        if (n_proxies >= 32)
                                return fail("at most 32 --trusted-proxy");
                        proxies[n_proxies++] = optarg;
                        break;
                case 1013:
                        if (!strcmp(optarg, "1")) /* SCIMLOG_ACCESS_LOG=1 */
                                optarg = "text";
                        else if (!strcmp(optarg, "0")) /* and =0 */
                                optarg = "off";
                        if (strcmp(optarg, "off") && strcmp(optarg, "text") &&
                            strcmp(optarg, "json"))
                                return fail("--access-log wants off, text or "
                                            "json, got '%s'",
                                            optarg);
                        cfg.access_log = optarg;
                        break;
                case 1015: /* the JWT signing master secret */
                        if (secret_file("--jwt-key-file", optarg, jwt_key,
                                        sizeof(jwt_key), 32, "the secret"))
                                return 1;
                        cfg.jwt_key = jwt_key;
                        break;
                case 1017: /* server events: text or JSON lines */
                        if (strcmp(optarg, "text") && strcmp(optarg, "json"))
                                return fail("--log-format is text or json");
                        scim_events_json(!strcmp(optarg, "json"));
                        break;
                case 1016:
                        if (num_arg("jwt-ttl", optarg, 60, 86400, "seconds",
                                    &v) < 0)
                                return 1;
                        cfg.jwt_ttl = v;
                        break;
                case 1014: /* the admin API's operator token */
                        if (secret_file("--operator-token-file", optarg, operator_token,
                                        sizeof(operator_token), 32, "the token"))
                                return 1;
                        cfg.operator_token = operator_token;
                        break;
                case 1012: /* the /metrics bearer, from a file */
                        if (secret_file("--metrics-token-file", optarg, metrics_token,
                                        sizeof(metrics_token), 16, "the token"))
                                return 1;
                        cfg.metrics_token = metrics_token;
                        break;
                case 1008: { /* RATE[/BURST] or off */
                        char *end = NULL;
                        double rate, burst = 0;

                        if (!strcmp(optarg, "off")) {
                                cfg.rate_per_s = -1;
                                break;
                        }
                        rate = strtod(optarg, &end);
                        if (end && *end == '/') {
                                const char *bs = end + 1;

                                burst = strtod(bs, &end);
                                if (end == bs)
                                        burst = -1; /* nothing after / */
                        }
                        if (!end || end == optarg || *end ||
                            !(rate >= 0.1 && rate <= 1e6) ||
                            (burst != 0 && !(burst >= 1 && burst <= 1e7)))
                                return fail("--rate-limit wants RATE[/BURST] "
                                            "(requests per second per "
                                            "tenant, 0.1 to 1000000) or "
                                            "off, got '%s'",
                                            optarg);
                        cfg.rate_per_s = rate;
                        cfg.rate_burst = burst;
                        break;
                }
                case 1018:
                case 1019: /* seconds; 0 = off */
                        if (num_arg(c == 1018 ? "prune-interval"
                                              : "snapshot-interval",
                                    optarg, 0, 366LL * 86400,
                                    "seconds (0 = off)", &v) < 0)
                                return 1;
                        if (c == 1018)
                                mcfg.prune_interval_ms = v * 1000;
                        else
                                mcfg.snapshot_interval_ms = v * 1000;
                        break;
                case 1020:
                        if (memory_option(optarg))
                                return 1;
                        break;
                case 1021:
                case 1022: /* report workers and their queue */
                        if (num_arg(
                                c == 1021 ? "report-threads" : "report-queue",
                                optarg, 1, c == 1021 ? 16 : 1000, NULL, &v) < 0)
                                return 1;
                        if (c == 1021)
                                cfg.report_threads = (unsigned)v;
                        else
                                cfg.report_queue = (unsigned)v;
                        break;
                case 'h':
                        fputs(usage_serve, stdout);
                        return 0;
                default:
                        fputs(usage_serve, stderr);
                        return 2;
                }
        }
        cfg.n_mounts = n_mounts;
        if (kcfg.brokers && mcfg.snapshot_interval_ms)
                return fail("--snapshot-interval is for the embedded log (in "
                            "Kafka mode the topic's retention is the "
                            "broker's)");
        cfg.n_trusted_proxies = n_proxies;
        if (optind < argc)
                return fail("serve takes no arguments, got '%s'",
                            argv[optind]);
        if (!!cfg.tls_cert != !!cfg.tls_key)
                return fail("--tls-cert and --tls-key go together");
        if (kcfg.state_topic && !kcfg.brokers)
                return fail("--state-topic needs --kafka");
        if (kcfg.state_topic) { /* what the state topic acknowledged */
                snprintf(state_cursor, sizeof(state_cursor),
                         "%s/state-topic.cursor", data);
                kcfg.state_cursor = state_cursor;
        }
        colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof(host))
                return fail("--listen wants HOST:PORT, got '%s'", listen);
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        if (host[0] == '[') { /* [::1]:8080 */
                size_t hl = strlen(host);

                if (hl < 3 || host[hl - 1] != ']')
                        return fail("--listen wants [IPv6]:PORT, got '%s'",
                                    listen);
                memmove(host, host + 1, hl - 2);
                host[hl - 2] = '\0';
        }
        cfg.host = host;
        if (num_arg("listen", colon + 1, 1, 65535, "a port", &v) < 0)
                return 1;
        cfg.port = (int)v;
        if (g_config_check) { /* every flag parsed and checked */
                print_effective(opts, argc, argv);
                return 0;
        }

        /* Block the stop signals before any thread starts, so only the main
         * thread's sigwait receives them. */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (open_store(data, &st) < 0 || require_current_views(st, data) < 0)
                goto out;
        if (scim_ingest_new(st, &ing, errstr, sizeof(errstr)) < 0) {
                fail("%s", errstr);
                goto out;
        }
        if (kcfg.brokers && start_kafka(st, &kcfg, ing, &kafka) < 0)
                goto out;
        if (scim_api_start(&cfg, st, ing, &api, errstr, sizeof(errstr)) < 0) {
                fail("%s", errstr);
                goto out;
        }
        if (scim_control_start(st, ing, data, &ctl, errstr, sizeof(errstr)) <
            0)
                scim_event("warn", "control_unavailable",
                           "%s; online backup is unavailable", errstr);
        if (scim_maintain_start(st, ing, &mcfg, &maint, errstr,
                                sizeof(errstr)) < 0)
                scim_event("warn", "maintenance_unavailable",
                           "%s; change records are not pruned", errstr);
        scim_event("info", "listening", "listening on %s://%s%s%s:%d (data %s)",
                   cfg.tls_cert ? "https" : "http",
                   strchr(host, ':') ? "[" : "", host,
                   strchr(host, ':') ? "]" : "", scim_api_port(api), data);
        if (sigwait(&set, &sig) == 0)
                scim_event("info", "stopping", "%s, stopping",
                           sig == SIGINT ? "SIGINT" : "SIGTERM");
        {
                scim_ingest_stats_t sx;

                scim_ingest_stats(ing, &sx);
                scim_event("info", "group_commit",
                           "%llu events in %llu synced batches "
                           "(%.1f events per group commit, %.2f s in the "
                           "synced append)",
                           (unsigned long long)sx.events,
                           (unsigned long long)sx.batches,
                           sx.batches ? (double)sx.events / (double)sx.batches
                                      : 0.0,
                           (double)sx.commit_ns / 1e9);
        }
        rc = 0;
out:
        scim_maintain_stop(maint); /* before ingest: it appends */
        scim_log_drain(kafka, 5000);
        scim_api_stop(api);
        scim_control_stop(ctl);
        scim_ingest_destroy(ing);
        scim_log_close(kafka);
        scim_store_close(st);
        return rc;
}

/* ----------------------------------------------------------- tenant */


/* Prints a tenant command's answer: the result as JSON, or the error. */
static int print_tenant_reply(json_t *reply)
{
        int rc = 1;

        if (json_is_true(json_object_get(reply, "ok"))) {
                char *txt = json_dumps(json_object_get(reply, "result"),
                                       JSON_INDENT(2));

                printf("%s\n", txt ? txt : "null");
                free(txt);
                rc = 0;
        } else {
                fail("%s", json_string_value(json_object_get(reply, "error")));
        }
        return rc;
}

static int cmd_tenant(int argc, char **argv)
{
        static const struct option opts[] = {
            {"data", required_argument, NULL, 'd'},
            {"kafka", required_argument, NULL, 'K'},
            {"topic", required_argument, NULL, 'T'},
            KAFKA_MORE_OPTIONS
            {"help", no_argument, NULL, 'h'},
            {"reports-only", no_argument, NULL, 'r'},
            {"scope", required_argument, NULL, 's'},
            {"profile", required_argument, NULL, 'p'},
            {"dry-run", no_argument, NULL, 'n'},
            {"force", no_argument, NULL, 'f'},
            {"overlap", required_argument, NULL, 'o'},
            {"erase", no_argument, NULL, 'E'},
            {NULL, 0, NULL, 0}};
        scim_kafka_config_t kcfg = {.topic = SCIM_KAFKA_TOPIC_DEFAULT};
        scim_log_t *kafka = NULL;
        const char *data = "./data";
        const char *pos[5] = {NULL, NULL, NULL, NULL, NULL};
        const char *scope = NULL, *profile = NULL;
        int npos = 0, c, rc = 1, dry_run = 0, force = 0;
        long overlap = -1;
        int erase = 0;
        scim_store_t *st = NULL;
        scim_ingest_t *ing = NULL;
        char errstr[512];
        scim_err_t err;
        json_t *req, *reply = NULL;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'd') {
                        data = optarg;
                } else if (c == 'r') {
                        scope = "reports";
                } else if (c == 's') {
                        scope = optarg;
                } else if (c == 'p') {
                        profile = optarg;
                } else if (c == 'n') {
                        dry_run = 1;
                } else if (c == 'f') {
                        force = 1;
                } else if (c == 'E') {
                        erase = 1;
                } else if (c == 'o') {
                        long long v;

                        if (num_arg("overlap", optarg, 0, 30LL * 86400,
                                    "seconds", &v) < 0)
                                return 1;
                        overlap = (long)v;
                } else if (c == 'K') {
                        kcfg.brokers = optarg;
                } else if (c == 'T') {
                        kcfg.topic = optarg;
                } else if (kafka_more_option(c, &kcfg)) {
                        continue;
                } else if (c == 'h') {
                        fputs(usage_tenant, stdout);
                        return 0;
                } else {
                        fputs(usage_tenant, stderr);
                        return 2;
                }
        }
        for (int i = optind; i < argc && npos < 5; i++)
                pos[npos++] = argv[i];
        if (npos == 0) {
                fputs(usage_tenant, stderr);
                return 2;
        }
        req = json_pack("{s:s, s:[], s:s?, s:s?, s:b, s:b}", "op", "tenant",
                        "args", "scope", scope, "profile", profile, "dry_run",
                        dry_run, "force", force);
        if (overlap >= 0)
                json_object_set_new(req, "overlap_s", json_integer(overlap));
        if (erase)
                json_object_set_new(req, "erase", json_true());
        /* schema put NAME FILE: the definition travels in the request */
        if (npos == 4 && !strcmp(pos[0], "schema") && !strcmp(pos[1], "put")) {
                json_error_t je;
                json_t *def = json_load_file(pos[3], JSON_REJECT_DUPLICATES,
                                             &je);

                if (!def) {
                        json_decref(req);
                        return fail("%s:%d:%d: %s", pos[3], je.line, je.column,
                                    je.text);
                }
                json_object_set_new(req, "definition", def);
                npos = 3;
        }
        for (int i = 0; i < npos; i++)
                json_array_append_new(json_object_get(req, "args"),
                                      json_string(pos[i]));
        { /* a server serving DIR does it (its log, embedded or Kafka):
           * no downtime */
                int got = scim_control_call(data, req, &reply, errstr,
                                            sizeof(errstr));

                if (got < 0) {
                        json_decref(req);
                        return fail("%s", errstr);
                }
                if (got == 1) {
                        rc = print_tenant_reply(reply);
                        json_decref(reply);
                        json_decref(req);
                        return rc;
                }
        }
        if (open_store(data, &st) < 0) {
                json_decref(req);
                return 1;
        }
        if ((strcmp(pos[0], "list") != 0 || kcfg.brokers) &&
            require_current_views(st, data) < 0) {
                scim_store_close(st);
                json_decref(req);
                return 1;
        }
        scim_err_clear(&err);
        if (strcmp(pos[0], "list") != 0 || kcfg.brokers) {
                /* --kafka: events go through the topics, and `list` folds
                 * both topics into DIR first */
                if (scim_ingest_new(st, &ing, errstr, sizeof(errstr)) < 0) {
                        fail("%s", errstr);
                        goto out;
                }
                if (kcfg.brokers && start_kafka(st, &kcfg, ing, &kafka) < 0)
                        goto out;
        }
        reply = scim_tenant_command(st, ing, req);
        rc = print_tenant_reply(reply);
        if (rc == 1 && strstr(json_string_value(json_object_get(reply, "error"))
                                  ? json_string_value(
                                        json_object_get(reply, "error"))
                                  : "",
                              "want args"))
                fputs(usage_tenant, stderr), rc = 2;
out:
        json_decref(reply);
        json_decref(req);
        scim_log_drain(kafka, 0);
        scim_ingest_destroy(ing);
        scim_log_close(kafka);
        scim_store_close(st);
        return rc;
}

/* ----------------------------------------------------- replay, digest */

static void progress(uint64_t done, uint64_t total)
{
        static int64_t start_ms;
        int64_t now = scim_now_ms();
        double secs, rate, eta;

        if (!isatty(STDERR_FILENO))
                return;
        if (!start_ms)
                start_ms = now;
        secs = (double)(now - start_ms) / 1000.0;
        rate = secs > 0 ? (double)done / secs : 0;
        eta = rate > 0 ? (double)(total - done) / rate : 0;
        fprintf(stderr, "\rreplay: %llu/%llu events, %.0f events/s, ETA %.0fs ",
                (unsigned long long)done, (unsigned long long)total, rate, eta);
}

static int dir_is_empty_or_absent(const char *dir)
{
        struct stat sb;
        char probe[4096];

        if (stat(dir, &sb) != 0)
                return errno == ENOENT;
        snprintf(probe, sizeof(probe), "%s/CURRENT", dir);
        return access(probe, F_OK) != 0;
}

/* --until's argument: 0 for a log position or offset (digits only) in
 * *pos, 1 for an RFC 3339 time in *ms, -1 after saying what is wrong. */
static int until_parse(const char *arg, unsigned long long *pos, int64_t *ms)
{
        char *end = NULL;

        if (arg[0] >= '0' && arg[0] <= '9') {
                errno = 0;
                *pos = strtoull(arg, &end, 10);
                if (*end == '\0' && errno == 0 && *pos <= INT64_MAX)
                        return 0;
        }
        if (scim_time_parse(arg, ms) == 0)
                return 1;
        fail("--until wants a log position or an RFC 3339 time "
             "(2026-03-01T00:00:00Z), got '%.60s'",
             arg);
        return -1;
}

/* Embedded --until TIME: the log up to the last event before the first
 * one stamped after the time (log order is apply order, so this is the
 * state the service showed at that time; an event stamped back in time
 * after it does not count). Records that do not decode count as before. */
typedef struct until_scan {
        int64_t ms;
        uint64_t last, first_after;
} until_scan_t;

static int until_scan_one(void *ctx, uint64_t seq, const void *data, size_t len)
{
        until_scan_t *u = ctx;
        scim_event_peek_t pk;
        int64_t t = INT64_MIN;

        if (scim_event_peek(data, len, &pk) == 0) {
                t = pk.time_ms;
        } else {
                scim_event_t ev;
                scim_err_t err;

                memset(&ev, 0, sizeof(ev));
                scim_err_clear(&err);
                if (scim_event_decode(data, len, &ev, &err) == 0)
                        t = ev.time_ms;
                scim_event_clear(&ev);
        }
        if (t > u->ms) {
                u->first_after = seq;
                return 1;
        }
        u->last = seq;
        return 0;
}

/* replay --kafka: rebuilds NEWDIR from the topic. */
static int replay_kafka(scim_kafka_config_t *kcfg, const char *into,
                        const char *until_arg)
{
        scim_kafka_until_t until = {-1, -1};
        scim_store_t *dst = NULL;
        uint64_t folded = 0;
        scim_err_t err;
        int rc = 1;

        if (until_arg) {
                unsigned long long pos;

                switch (until_parse(until_arg, &pos, &until.time_ms)) {
                case 0:
                        until.offset = (int64_t)pos;
                        break;
                case -1:
                        return 1;
                }
        }
        if (kafka_load_props(kcfg) < 0 || open_store(into, &dst) < 0)
                return 1;
        scim_err_clear(&err);
        if (scim_log_replay_kafka(dst, kcfg, &until, progress, &folded, &err) <
            0) {
                fail("replay failed: %s", err.detail);
                goto out;
        }
        if (isatty(STDERR_FILENO))
                fputc('\n', stderr);
        printf("{\"events\": %llu}\n", (unsigned long long)folded);
        rc = 0;
out:
        scim_store_close(dst);
        return rc;
}

static int cmd_replay(int argc, char **argv)
{
        static const struct option opts[] = {
            {"data", required_argument, NULL, 'd'},
            {"into", required_argument, NULL, 'i'},
            {"until", required_argument, NULL, 'u'},
            {"kafka", required_argument, NULL, 'K'},
            {"topic", required_argument, NULL, 'T'},
            KAFKA_MORE_OPTIONS
            {"memory-mb", required_argument, NULL, 1020},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0}};
        const char *data = "./data", *into = NULL, *until_arg = NULL;
        scim_kafka_config_t kcfg = {.topic = SCIM_KAFKA_TOPIC_DEFAULT};
        uint64_t until = 0;
        scim_store_t *src = NULL, *dst = NULL;
        scim_err_t err;
        int c, rc = 1;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        data = optarg;
                        break;
                case 'i':
                        into = optarg;
                        break;
                case 'u':
                        until_arg = optarg;
                        break;
                case 'K':
                        kcfg.brokers = optarg;
                        break;
                case 'T':
                        kcfg.topic = optarg;
                        break;
                case 'C':
                case 'A':
                case 'S':
                case 1101:
                case 1102:
                case 1103:
                        kafka_more_option(c, &kcfg);
                        break;
                case 1020:
                        if (memory_option(optarg))
                                return 1;
                        break;
                case 'h':
                        fputs(usage_replay, stdout);
                        return 0;
                default:
                        fputs(usage_replay, stderr);
                        return 2;
                }
        }
        if (!into) {
                fputs(usage_replay, stderr);
                return 2;
        }
        if (!dir_is_empty_or_absent(into))
                return fail("%s already holds a database; replay needs a "
                            "new dir",
                            into);
        if (kcfg.brokers)
                return replay_kafka(&kcfg, into, until_arg);
        if (until_arg) {
                unsigned long long pos = 0;
                int64_t ms = 0;
                int kind = until_parse(until_arg, &pos, &ms);

                if (kind < 0)
                        return 1;
                until = pos;
                if (kind == 1) {
                        until_scan_t u = {ms, 0, 0};

                        if (open_existing_store(data, &src) < 0)
                                goto out;
                        scim_store_log_each(src, 0, until_scan_one, &u);
                        if (!u.last) {
                                fail("no event in %s is stamped at or "
                                     "before %s: nothing to replay",
                                     data, until_arg);
                                goto out;
                        }
                        /* every event at or before the time: replay all
                         * (0), as a replay without --until would */
                        until = u.first_after ? u.last : 0;
                        fprintf(stderr, "--until %s: up to log position %llu\n",
                                until_arg, (unsigned long long)u.last);
                }
        }
        if ((!src && open_existing_store(data, &src) < 0) ||
            open_store_as(into, &dst, 1) < 0)
                goto out;
        scim_err_clear(&err);
        if (scim_store_replay(src, dst, until, progress, &err) < 0) {
                fail("replay failed: %s", err.detail);
                goto out;
        }
        if (isatty(STDERR_FILENO))
                fputc('\n', stderr);
        {
                /* where the CPU went: replay's threads, and the rest of
                 * the process so far (RocksDB's flushes and compactions,
                 * the opens) */
                scim_replay_cpu_t cpu = scim_store_replay_cpu(dst);
                struct rusage ru;
                double all = 0;

                if (getrusage(RUSAGE_SELF, &ru) == 0)
                        all = (double)ru.ru_utime.tv_sec +
                              (double)ru.ru_utime.tv_usec / 1e6 +
                              (double)ru.ru_stime.tv_sec +
                              (double)ru.ru_stime.tv_usec / 1e6;
                all -= cpu.fold_s + cpu.writer_s + cpu.reader_s;
                printf("{\"position\": %llu, \"cpu_s\": {\"fold\": %.3f, "
                       "\"writer\": %.3f, \"reader\": %.3f, \"other\": "
                       "%.3f}}\n",
                       (unsigned long long)scim_store_position(dst),
                       cpu.fold_s, cpu.writer_s, cpu.reader_s,
                       all > 0 ? all : 0);
        }
        rc = 0;
out:
        scim_store_close(dst);
        scim_store_close(src);
        return rc;
}

static int cmd_digest(int argc, char **argv)
{
        static const struct option opts[] = {
            {"data", required_argument, NULL, 'd'},
            {"dump", required_argument, NULL, 'D'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0}};
        const char *data = "./data", *dump = NULL;
        scim_store_t *st = NULL;
        scim_err_t err;
        char digest[65];
        int c, rc = 1;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'd') {
                        data = optarg;
                } else if (c == 'D') {
                        dump = optarg;
                } else if (c == 'h') {
                        fputs(usage_digest, stdout);
                        return 0;
                } else {
                        fputs(usage_digest, stderr);
                        return 2;
                }
        }
        if (open_existing_store(data, &st) < 0)
                return 1;
        if (dump) {
                rc = scim_store_dump(st, dump, stdout) == 0 ? 0 : 1;
                if (rc)
                        fail("no column family '%s'", dump);
                goto out;
        }
        scim_err_clear(&err);
        {
                json_t *per = json_object(), *o;
                char *txt;

                if (scim_store_digest_cf(st, digest, per, &err) < 0) {
                        json_decref(per);
                        fail("digest failed: %s", err.detail);
                        goto out;
                }
                o = json_pack("{s:s, s:I, s:o}", "digest", digest, "position",
                              (json_int_t)scim_store_position(st),
                              "columnFamilies", per);
                txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
                if (txt)
                        puts(txt);
                free(txt);
                json_decref(o);
        }
        rc = 0;
out:
        scim_store_close(st);
        return rc;
}

/* ---------------------------------------------- backup, restore, verify */

static const char *usage_backup =
    "usage: scimlog backup [--data DIR] --to DEST\n"
    "\n"
    "A consistent copy of DIR's database (log, views, offsets) into DEST,\n"
    "which must not exist. While a server serves DIR it takes the copy (a\n"
    "RocksDB checkpoint, through DIR/control.sock) without stopping; every\n"
    "write acknowledged before the command is in it. Otherwise the command\n"
    "opens DIR itself. Prints {\"backup\", \"position\", \"online\"}.\n";
static const char *usage_restore =
    "usage: scimlog restore --from BACKUP --data NEWDIR\n"
    "\n"
    "Copies a backup into NEWDIR (absent or empty) and checks it opens;\n"
    "then `scimlog serve --data NEWDIR`. Prints {\"restored\", \"digest\"}.\n";
static const char *usage_verify =
    "usage: scimlog verify [--data DIR]\n"
    "\n"
    "Replays DIR's log into a temporary dir and compares digests: exit 0\n"
    "when the views equal a replay of the log (embedded log; a Kafka-mode\n"
    "dir's log is the topic: use replay --kafka). DIR must not be served.\n";

static int two_path_args(int argc, char **argv, const char *a_name,
                         const char **a, const char **data,
                         const char *usage)
{
        const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                      {a_name, required_argument, NULL, 'a'},
                                      {"help", no_argument, NULL, 'h'},
                                      {NULL, 0, NULL, 0}};
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'd')
                        *data = optarg;
                else if (c == 'a')
                        *a = optarg;
                else if (c == 'h')
                        return fputs(usage, stdout), 0;
                else
                        return fputs(usage, stderr), 2;
        }
        if ((a_name && !*a) || optind < argc)
                return fputs(usage, stderr), 2;
        return -1;
}

static void print_backup(const char *to, uint64_t position, int online)
{
        json_t *o = json_pack("{s:s, s:I, s:b}", "backup", to, "position",
                              (json_int_t)position, "online", online);
        char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;

        if (txt)
                puts(txt);
        free(txt);
        json_decref(o);
}

static int cmd_backup(int argc, char **argv)
{
        const char *data = "./data", *to = NULL;
        scim_store_t *st = NULL;
        json_t *reply = NULL;
        char errstr[512];
        struct stat sb;
        scim_err_t err;
        int rc = two_path_args(argc, argv, "to", &to, &data, usage_backup);

        if (rc >= 0)
                return rc;
        if (stat(to, &sb) == 0 || errno != ENOENT)
                return fail("--to %s already exists; a backup goes into a new "
                            "path",
                            to);
        rc = scim_control_backup(data, to, &reply, errstr, sizeof(errstr));
        if (rc < 0)
                return fail("%s", errstr);
        if (rc == 1) { /* the server serving DIR took it */
                int ok = json_is_true(json_object_get(reply, "ok"));

                if (ok)
                        print_backup(to, (uint64_t)json_integer_value(
                                             json_object_get(reply, "position")),
                                     1);
                else
                        fail("backup failed: %s",
                             json_string_value(json_object_get(reply, "error")));
                json_decref(reply);
                return ok ? 0 : 1;
        }
        if (open_existing_store(data, &st) < 0)
                return 1;
        scim_err_clear(&err);
        rc = scim_store_backup(st, to, &err);
        if (rc == 0)
                print_backup(to, scim_store_position(st), 0);
        else
                fail("backup failed: %s", err.detail);
        scim_store_close(st);
        return rc == 0 ? 0 : 1;
}

/* Copies every regular file of a checkpoint dir (flat) into dst. */
static int copy_dir_files(const char *src, const char *dst, char *errstr,
                          size_t errlen)
{
        DIR *d = opendir(src);
        struct dirent *de;
        int rc = 0;

        if (!d)
                return snprintf(errstr, errlen, "cannot read %s: %s", src,
                                strerror(errno)),
                       -1;
        while (rc == 0 && (de = readdir(d))) {
                char from[4200], into[4200], buf[65536];
                FILE *in, *out;
                size_t n;
                struct stat sb;

                snprintf(from, sizeof(from), "%s/%s", src, de->d_name);
                snprintf(into, sizeof(into), "%s/%s", dst, de->d_name);
                if (stat(from, &sb) != 0 || !S_ISREG(sb.st_mode))
                        continue;
                in = fopen(from, "rb");
                out = in ? fopen(into, "wbx") : NULL;
                while (in && out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
                        if (fwrite(buf, 1, n, out) != n)
                                rc = -1;
                if (!in || !out || ferror(in) || fflush(out) != 0 ||
                    fsync(fileno(out)) != 0)
                        rc = -1;
                if (rc < 0)
                        snprintf(errstr, errlen, "copying %s: %s", from,
                                 strerror(errno));
                if (in)
                        fclose(in);
                if (out)
                        fclose(out);
        }
        closedir(d);
        return rc;
}

static int cmd_restore(int argc, char **argv)
{
        const char *data = NULL, *from = NULL;
        scim_store_t *st = NULL;
        char errstr[600], probe[4200], digest[65];
        scim_err_t err;
        int rc = two_path_args(argc, argv, "from", &from, &data, usage_restore);

        if (rc >= 0)
                return rc;
        if (!data)
                return fputs(usage_restore, stderr), 2;
        snprintf(probe, sizeof(probe), "%s/CURRENT", from);
        if (access(probe, R_OK) != 0)
                return fail("%s is not a backup (no CURRENT file)", from);
        if (!dir_is_empty_or_absent(data))
                return fail("%s already holds a database; restore needs a new "
                            "dir",
                            data);
        if (mkdir(data, 0700) != 0 && errno != EEXIST)
                return fail("cannot create %s: %s", data, strerror(errno));
        if (copy_dir_files(from, data, errstr, sizeof(errstr)) < 0)
                return fail("%s", errstr);
        { /* the base snapshot of a truncated log */
                char sf[4200], sd[4200];
                DIR *d;
                struct dirent *de;

                snprintf(sf, sizeof(sf), "%s/snapshots", from);
                if ((d = opendir(sf))) {
                        snprintf(sd, sizeof(sd), "%s/snapshots", data);
                        mkdir(sd, 0700);
                        while ((de = readdir(d))) {
                                char a[4300], b[4300];

                                if (de->d_name[0] == '.')
                                        continue;
                                snprintf(a, sizeof(a), "%s/%s", sf, de->d_name);
                                snprintf(b, sizeof(b), "%s/%s", sd, de->d_name);
                                if (mkdir(b, 0700) != 0 ||
                                    copy_dir_files(a, b, errstr,
                                                   sizeof(errstr)) < 0) {
                                        closedir(d);
                                        return fail("%s", errstr[0] ? errstr
                                                                    : b);
                                }
                        }
                        closedir(d);
                }
        }
        if (open_existing_store(data, &st) < 0)
                return 1;
        scim_err_clear(&err);
        rc = scim_store_digest(st, digest, &err);
        if (rc == 0)
                printf("{\"restored\": true, \"digest\": \"%s\", "
                       "\"position\": %llu}\n",
                       digest, (unsigned long long)scim_store_position(st));
        else
                fail("restored dir does not read: %s", err.detail);
        scim_store_close(st);
        return rc == 0 ? 0 : 1;
}

static int cmd_verify(int argc, char **argv)
{
        const char *data = "./data", *none = NULL;
        scim_store_t *src = NULL, *dst = NULL;
        char tmpl[] = "/tmp/scimlog-verify-XXXXXX", into[64], d1[65], d2[65];
        scim_err_t err;
        int rc = two_path_args(argc, argv, NULL, &none, &data, usage_verify);

        if (rc >= 0)
                return rc;
        if (open_existing_store(data, &src) < 0)
                return 1;
        if (!mkdtemp(tmpl)) {
                scim_store_close(src);
                return fail("cannot make a temporary dir: %s", strerror(errno));
        }
        snprintf(into, sizeof(into), "%s/replay", tmpl);
        scim_err_clear(&err);
        rc = 1;
        if (scim_store_digest(src, d1, &err) < 0) {
                fail("digest of %s failed: %s", data, err.detail);
        } else if (open_store_as(into, &dst, 1) < 0) {
                /* said */
        } else if (scim_store_replay(src, dst, 0, NULL, &err) < 0) {
                fail("replay failed: %s", err.detail);
        } else if (scim_store_digest(dst, d2, &err) < 0) {
                fail("digest of the replay failed: %s", err.detail);
        } else {
                rc = strcmp(d1, d2) != 0;
                printf("{\"views\": \"%s\", \"replayed\": \"%s\", "
                       "\"equal\": %s, \"position\": %llu}\n",
                       d1, d2, rc ? "false" : "true",
                       (unsigned long long)scim_store_position(src));
        }
        scim_store_close(dst);
        scim_store_close(src);
        {
                char cmd[200];

                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
                if (system(cmd) != 0)
                        fprintf(stderr, "scimlog: could not remove %s\n", tmpl);
        }
        return rc;
}

static const char *usage_snapshot =
    "usage: scimlog snapshot [--data DIR] [--truncate] [--list]\n"
    "Takes a log snapshot: a checkpoint of DIR's views at the current\n"
    "position, without the log, in DIR/snapshots/POSITION. --truncate then\n"
    "deletes the log up to the newest snapshot that no retained change\n"
    "record still needs (set a tenant's retention with `tenant retention`;\n"
    "a tenant that keeps its change records for ever keeps the log), and\n"
    "the snapshots before it. --list only lists. While a server serves DIR\n"
    "the server does it (control socket). Replay, verify, backup and\n"
    "restore start from the base snapshot. Prints JSON.\n";

static int cmd_snapshot(int argc, char **argv)
{
        static const struct option opts[] = {
            {"data", required_argument, NULL, 'd'},
            {"truncate", no_argument, NULL, 't'},
            {"list", no_argument, NULL, 'L'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0}};
        const char *data = "./data";
        int c, truncate = 0, list = 0, rc;
        json_t *req, *reply = NULL;
        scim_store_t *st = NULL;
        char errstr[512];

        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'd')
                        data = optarg;
                else if (c == 't')
                        truncate = 1;
                else if (c == 'L')
                        list = 1;
                else if (c == 'h')
                        return fputs(usage_snapshot, stdout), 0;
                else
                        return fputs(usage_snapshot, stderr), 2;
        }
        if (optind < argc)
                return fputs(usage_snapshot, stderr), 2;
        req = json_pack("{s:s, s:b, s:b}", "op", "snapshot", "truncate",
                        truncate, "list", list);
        rc = scim_control_call(data, req, &reply, errstr, sizeof(errstr));
        if (rc < 0) {
                json_decref(req);
                return fail("%s", errstr);
        }
        if (rc == 0) { /* no server: this process opens DIR */
                if (open_existing_store(data, &st) < 0) {
                        json_decref(req);
                        return 1;
                }
                reply = scim_snapshot_command(st, req);
                scim_store_close(st);
        }
        json_decref(req);
        rc = print_tenant_reply(reply);
        json_decref(reply);
        return rc;
}

/* scimlog config check [...]: serve's settings, checked and printed */
static int cmd_config(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "check")) {
                fputs("usage: scimlog config check [--config FILE] "
                      "[serve flags]\n"
                      "Prints the effective serve settings (file, "
                      "then SCIMLOG_* environment, then flags) as "
                      "JSON, or the first error.\n",
                      argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        g_config_check = 1;
        return cmd_serve(argc - 1, argv + 1);
}

/* The commands: each gets its own name as argv[0]. */
static const struct command {
        const char *name;
        int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", cmd_serve},       {"config", cmd_config},
    {"tenant", cmd_tenant},     {"replay", cmd_replay},
    {"digest", cmd_digest},     {"backup", cmd_backup},
    {"restore", cmd_restore},   {"verify", cmd_verify},
    {"snapshot", cmd_snapshot},
};

int main(int argc, char **argv)
{
        char errstr[512];
        const struct command *c = NULL;
        int rc = 2;

        if (argc < 2 || (argc == 2 && wants_help(argc, argv))) {
                fputs(usage_main, argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        if (scim_schemas_init(errstr, sizeof(errstr)) < 0)
                return fail("schemas: %s", errstr);
        for (size_t i = 0; !c && i < sizeof(commands) / sizeof(commands[0]);
             i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        c = &commands[i];
        if (c)
                rc = c->run(argc - 1, argv + 1);
        else
                fprintf(stderr, "scimlog: unknown command '%s'\n\n%s", argv[1],
                        usage_main);
        scim_kafka_props_free(kafka_props);
        scim_schemas_shutdown();
        return rc;
}
