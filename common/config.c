/*
 * config.c — settings from a file and the environment, for any command
 * whose flags are a getopt_long table: every long option has a config
 * key (its name) and an environment variable (SCIMLOG_ + the name in
 * upper case, '-' as '_'). The file is lines of `key = value` (`#`
 * comments, blank lines, values optionally in double quotes; a flag
 * without an argument takes true or false; a key may repeat where the
 * flag may). Unknown keys and bad lines are errors naming FILE:LINE.
 * Precedence: file < environment < command line — the expansion simply
 * puts the file's options first, then the environment's, then the command
 * line's, and getopt keeps the last value (repeatable flags collect all).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/scim_common.h"

#define MAX_ARGS 512
#define MAX_LINE 4096

typedef struct args {
        char **v;
        int n;
} args_t;

static int push(args_t *a, const char *s)
{
        char *d;

        if (a->n >= MAX_ARGS - 1 || !(d = strdup(s)))
                return -1;
        a->v[a->n++] = d;
        a->v[a->n] = NULL;
        return 0;
}

static const struct option *find(const struct option *opts, const char *name)
{
        for (const struct option *o = opts; o->name; o++)
                if (!strcmp(o->name, name) && strcmp(name, "help"))
                        return o;
        return NULL;
}

static char *trim(char *s)
{
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

/* Adds "--name [value]" for an option given value text v. */
static int add_opt(args_t *a, const struct option *o, const char *v,
                   const char *where, char *err, size_t errlen)
{
        char flag[128];

        snprintf(flag, sizeof(flag), "--%s", o->name);
        if (o->has_arg == no_argument) {
                if (!strcmp(v, "true") || !strcmp(v, "1")) {
                        if (push(a, flag) == 0)
                                return 0;
                        goto full;
                }
                if (!strcmp(v, "false") || !strcmp(v, "0"))
                        return 0;
                snprintf(err, errlen,
                         "%s: %s takes true or false, got '%.100s'", where,
                         o->name, v);
                return -1;
        }
        if (!*v) {
                snprintf(err, errlen, "%s: %s needs a value", where, o->name);
                return -1;
        }
        if (push(a, flag) == 0 && push(a, v) == 0)
                return 0;
full:
        snprintf(err, errlen, "%s: out of memory, or more than %d arguments",
                 where, MAX_ARGS);
        return -1;
}

static int read_file(args_t *a, const struct option *opts, const char *path,
                     char *err, size_t errlen)
{
        FILE *f = fopen(path, "r");
        char line[MAX_LINE + 2], where[600];
        int ln = 0;

        if (!f) {
                snprintf(err, errlen, "--config %s: %s", path, strerror(errno));
                return -1;
        }
        while (fgets(line, sizeof(line), f)) {
                char *s, *eq, *key, *val;
                const struct option *o;

                ln++;
                snprintf(where, sizeof(where), "%.500s:%d", path, ln);
                if (!strchr(line, '\n') && !feof(f)) {
                        snprintf(err, errlen, "%s: line longer than %d bytes",
                                 where, MAX_LINE);
                        goto fail;
                }
                s = trim(line);
                if (!*s || *s == '#')
                        continue;
                eq = strchr(s, '=');
                if (!eq) {
                        snprintf(err, errlen,
                                 "%s: want key = value, got '%.100s'", where,
                                 s);
                        goto fail;
                }
                *eq = '\0';
                key = trim(s);
                val = trim(eq + 1);
                if (*val == '"') {
                        size_t l = strlen(val);

                        if (l < 2 || val[l - 1] != '"') {
                                snprintf(err, errlen, "%s: unclosed quote",
                                         where);
                                goto fail;
                        }
                        val[l - 1] = '\0';
                        val++;
                }
                o = find(opts, key);
                if (!o || !strcmp(key, "config")) {
                        snprintf(err, errlen, "%s: unknown key '%.100s'", where,
                                 key);
                        goto fail;
                }
                if (add_opt(a, o, val, where, err, errlen) < 0)
                        goto fail;
        }
        fclose(f);
        return 0;
fail:
        fclose(f);
        return -1;
}

static int read_env(args_t *a, const struct option *opts, char *err,
                    size_t errlen)
{
        for (const struct option *o = opts; o->name; o++) {
                char name[160], where[200];
                const char *v;
                size_t i = 0;

                if (!strcmp(o->name, "help") || !strcmp(o->name, "config"))
                        continue;
                i = (size_t)snprintf(name, sizeof(name), "SCIMLOG_");
                for (const char *p = o->name; *p && i + 1 < sizeof(name); p++)
                        name[i++] =
                            *p == '-' ? '_' : (char)toupper((unsigned char)*p);
                name[i] = '\0';
                v = getenv(name);
                if (!v)
                        continue;
                snprintf(where, sizeof(where), "environment %s", name);
                if (add_opt(a, o, v, where, err, errlen) < 0)
                        return -1;
        }
        return 0;
}

int scim_config_expand(const struct option *opts, int argc, char **argv,
                       int *out_argc, char ***out_argv, char *err,
                       size_t errlen)
{
        args_t a = {calloc(MAX_ARGS, sizeof(char *)), 0};
        const char *file = getenv("SCIMLOG_CONFIG");
        int i;

        *out_argv = NULL;
        if (!a.v || push(&a, argc > 0 ? argv[0] : "scimlog") < 0)
                goto oom;
        for (i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--config") && i + 1 < argc)
                        file = argv[++i];
                else if (!strncmp(argv[i], "--config=", 9))
                        file = argv[i] + 9;
                else if (!strcmp(argv[i], "--"))
                        break;
        }
        if (file && read_file(&a, opts, file, err, errlen) < 0)
                goto fail;
        if (read_env(&a, opts, err, errlen) < 0)
                goto fail;
        for (i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--config") && i + 1 < argc) {
                        i++;
                        continue;
                }
                if (!strncmp(argv[i], "--config=", 9))
                        continue;
                if (push(&a, argv[i]) < 0)
                        goto oom;
        }
        *out_argc = a.n;
        *out_argv = a.v;
        return 0;
oom:
        /* the file's settings, the environment's and the command line
         * together: name the file, where the many settings come from */
        if (file)
                snprintf(err, errlen,
                         "%.500s: out of memory, or more than %d arguments "
                         "with the command line's",
                         file, MAX_ARGS);
        else
                snprintf(err, errlen,
                         "out of memory, or more than %d arguments", MAX_ARGS);
fail:
        scim_config_free(a.v);
        return -1;
}

void scim_config_free(char **argv)
{
        for (int i = 0; argv && argv[i]; i++)
                free(argv[i]);
        free(argv);
}
