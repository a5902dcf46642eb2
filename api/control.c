/*
 * control.c — the control socket: a running server takes operator
 * commands from the same machine through DIR/control.sock (a Unix socket,
 * mode 0600, peers of another uid refused). The CLI uses it for what needs
 * the open database while the server holds its lock: `scimlog backup`.
 *
 * Protocol: one JSON object per connection, newline-terminated, each way:
 * {"op":"backup","to":PATH} -> {"ok":true,"to":PATH,"position":N};
 * {"op":"tenant","args":[...],"reports_only":B} (the `scimlog tenant`
 * commands: create NAME, token issue NAME, token revoke NAME ID, list) ->
 * {"ok":true,"result":...}; failures {"ok":false,"error":TEXT}. JSON
 * framing carries any path (newlines too). The tenant commands go through
 * this server's ingest, so they are events in the log like any write.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/scim_api.h"

#define REQ_MAX 8192

struct scim_control {
        scim_store_t *st;
        scim_ingest_t *ing;
        int fd;
        int stop_pipe[2];
        pthread_t thread;
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static int sock_path(const char *dir, char *out, size_t outlen)
{
        return snprintf(out, outlen, "%s/control.sock", dir) >= (int)outlen ? -1
                                                                            : 0;
}

static void answer(int fd, json_t *o)
{
        char *txt = json_dumps(o, JSON_COMPACT);

        if (txt) {
                size_t n = strlen(txt), off = 0;

                while (off < n) {
                        ssize_t w = send(fd, txt + off, n - off, MSG_NOSIGNAL);

                        if (w <= 0)
                                break;
                        off += (size_t)w;
                }
                send(fd, "\n", 1, MSG_NOSIGNAL);
        }
        free(txt);
        json_decref(o);
}

static json_t *token_result(const char *tenant, const char *token_id,
                            const char *secret)
{
        return json_pack("{s:b, s:{s:s, s:s, s:s}}", "ok", 1, "result",
                         "tenant", tenant, "token_id", token_id, "secret",
                         secret);
}

static json_t *refused(const char *detail)
{
        return json_pack("{s:b, s:s}", "ok", 0, "error", detail);
}

/* The `scimlog tenant` commands, run by the serving process. */
static json_t *tenant_op(scim_control_t *ctl, const json_t *args,
                         int reports_only)
{
        const char *a[4] = {NULL, NULL, NULL, NULL};
        size_t n = json_array_size(args);
        char token_id[64];
        char *secret = NULL;
        scim_err_t e;
        json_t *out;

        if (n == 0 || n > 4)
                return refused("want args: create NAME | token issue NAME | "
                               "token revoke NAME ID | list");
        for (size_t i = 0; i < n; i++)
                if (!(a[i] = json_string_value(json_array_get(args, i))))
                        return refused("args are strings");
        scim_err_clear(&e);
        if (!strcmp(a[0], "list") && n == 1) {
                json_t *list = NULL;

                if (scim_store_tenant_list(ctl->st, &list, &e) < 0)
                        return refused(e.detail);
                return json_pack("{s:b, s:o}", "ok", 1, "result", list);
        }
        if (!strcmp(a[0], "create") && n == 2) {
                if (scim_ingest_admin(ctl->ing, SCIM_ACT_TENANT_CREATE, a[1],
                                      NULL, NULL, NULL, 0, &e) < 0 ||
                    scim_ingest_admin(ctl->ing, SCIM_ACT_TOKEN_ISSUE, a[1],
                                      NULL, &secret, token_id, sizeof(token_id),
                                      &e) < 0)
                        return refused(e.detail);
                out = token_result(a[1], token_id, secret);
                free(secret);
                return out;
        }
        if (!strcmp(a[0], "token") && n == 3 && !strcmp(a[1], "issue")) {
                if (scim_ingest_admin_scoped(
                        ctl->ing, SCIM_ACT_TOKEN_ISSUE, a[2], NULL,
                        reports_only ? "reports" : NULL, &secret, token_id,
                        sizeof(token_id), &e) < 0)
                        return refused(e.detail);
                out = token_result(a[2], token_id, secret);
                free(secret);
                return out;
        }
        if (!strcmp(a[0], "token") && n == 4 && !strcmp(a[1], "revoke")) {
                if (scim_ingest_admin(ctl->ing, SCIM_ACT_TOKEN_REVOKE, a[2],
                                      a[3], NULL, NULL, 0, &e) < 0)
                        return refused(e.detail);
                return json_pack("{s:b, s:{s:s, s:s, s:b}}", "ok", 1, "result",
                                 "tenant", a[2], "token_id", a[3], "revoked",
                                 1);
        }
        return refused("want args: create NAME | token issue NAME | token "
                       "revoke NAME ID | list");
}

static void serve_one(scim_control_t *ctl, int fd)
{
        char buf[REQ_MAX + 1];
        size_t n = 0;
        json_t *req;
        const char *op, *to;
        struct ucred cr;
        socklen_t crl = sizeof(cr);
        struct timeval tv = {5, 0};

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0 ||
            cr.uid != getuid()) {
                answer(fd, json_pack("{s:b, s:s}", "ok", 0, "error",
                                     "another user may not control this "
                                     "server"));
                return;
        }
        while (n < REQ_MAX && !memchr(buf, '\n', n)) {
                ssize_t r = recv(fd, buf + n, REQ_MAX - n, 0);

                if (r <= 0)
                        break;
                n += (size_t)r;
        }
        buf[n] = '\0';
        req = json_loadb(buf, n, JSON_DISABLE_EOF_CHECK, NULL);
        op = json_string_value(json_object_get(req, "op"));
        to = json_string_value(json_object_get(req, "to"));
        if (op && !strcmp(op, "tenant")) {
                answer(fd, tenant_op(ctl, json_object_get(req, "args"),
                                     json_is_true(json_object_get(
                                         req, "reports_only"))));
        } else if (op && !strcmp(op, "backup") && to && *to) {
                scim_err_t e;
                uint64_t pos = scim_store_position(ctl->st);

                scim_err_clear(&e);
                if (scim_store_checkpoint(ctl->st, to, &e) == 0)
                        answer(fd, json_pack("{s:b, s:s, s:I}", "ok", 1, "to",
                                             to, "position", (json_int_t)pos));
                else
                        answer(fd, json_pack("{s:b, s:s}", "ok", 0, "error",
                                             e.detail));
        } else {
                answer(fd, json_pack("{s:b, s:s}", "ok", 0, "error",
                                     "want {\"op\":\"backup\",\"to\":PATH}"));
        }
        json_decref(req);
}

static void *control_main(void *arg)
{
        scim_control_t *ctl = arg;

        for (;;) {
                struct pollfd pf[2] = {{ctl->fd, POLLIN, 0},
                                       {ctl->stop_pipe[0], POLLIN, 0}};
                int fd;

                if (poll(pf, 2, -1) < 0 && errno != EINTR)
                        break;
                if (pf[1].revents)
                        break;
                if (!(pf[0].revents & POLLIN))
                        continue;
                fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                serve_one(ctl, fd); /* one at a time: backups are rare */
                close(fd);
        }
        return NULL;
}

int scim_control_start(scim_store_t *st, scim_ingest_t *ing, const char *dir,
                       scim_control_t **out, char *errstr, size_t errlen)
{
        scim_control_t *ctl = calloc(1, sizeof(*ctl));
        struct sockaddr_un sa;
        mode_t old;

        *out = NULL;
        if (!ctl)
                return snprintf(errstr, errlen, "out of memory"), -1;
        ctl->st = st;
        ctl->ing = ing;
        ctl->fd = -1;
        if (sock_path(dir, ctl->path, sizeof(ctl->path)) < 0) {
                snprintf(errstr, errlen,
                         "data dir path too long for %s/control.sock "
                         "(at most %zu bytes)",
                         dir, sizeof(ctl->path) - 14);
                free(ctl);
                return -1;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, ctl->path, strlen(ctl->path) + 1);
        unlink(ctl->path); /* a stale one: this process holds the DB lock */
        ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        old = umask(0077);
        if (ctl->fd < 0 || bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
            listen(ctl->fd, 8) || pipe(ctl->stop_pipe)) {
                umask(old);
                snprintf(errstr, errlen, "control socket %s: %s", ctl->path,
                         strerror(errno));
                if (ctl->fd >= 0)
                        close(ctl->fd);
                free(ctl);
                return -1;
        }
        umask(old);
        if (pthread_create(&ctl->thread, NULL, control_main, ctl) != 0) {
                snprintf(errstr, errlen, "control socket: no thread");
                close(ctl->fd);
                close(ctl->stop_pipe[0]);
                close(ctl->stop_pipe[1]);
                unlink(ctl->path);
                free(ctl);
                return -1;
        }
        *out = ctl;
        return 0;
}

void scim_control_stop(scim_control_t *ctl)
{
        if (!ctl)
                return;
        if (write(ctl->stop_pipe[1], "x", 1) < 0) {
                /* the thread also ends when the socket closes below */
        }
        pthread_join(ctl->thread, NULL);
        close(ctl->fd);
        close(ctl->stop_pipe[0]);
        close(ctl->stop_pipe[1]);
        unlink(ctl->path);
        free(ctl);
}

int scim_control_backup(const char *dir, const char *dest, json_t **reply,
                        char *errstr, size_t errlen)
{
        json_t *req = json_pack("{s:s, s:s}", "op", "backup", "to", dest);
        int rc = scim_control_call(dir, req, reply, errstr, errlen);

        json_decref(req);
        return rc;
}

int scim_control_call(const char *dir, const json_t *req, json_t **reply,
                      char *errstr, size_t errlen)
{
        struct sockaddr_un sa;
        char path[sizeof(sa.sun_path)], buf[REQ_MAX + 1];
        char *txt;
        size_t n = 0;
        int fd;

        *reply = NULL;
        if (sock_path(dir, path, sizeof(path)) < 0)
                return 0;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
                if (fd >= 0)
                        close(fd);
                return 0; /* no server: the caller opens the store */
        }
        txt = req ? json_dumps(req, JSON_COMPACT) : NULL;
        if (!txt || send(fd, txt, strlen(txt), MSG_NOSIGNAL) < 0 ||
            send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
                free(txt);
                close(fd);
                return snprintf(errstr, errlen, "control socket: send failed"),
                       -1;
        }
        free(txt);
        while (n < REQ_MAX) {
                ssize_t r = recv(fd, buf + n, REQ_MAX - n, 0);

                if (r <= 0)
                        break;
                n += (size_t)r;
        }
        close(fd);
        *reply = json_loadb(buf, n, JSON_DISABLE_EOF_CHECK, NULL);
        if (!*reply)
                return snprintf(errstr, errlen,
                                "control socket: no answer from the server"),
                       -1;
        return 1;
}
