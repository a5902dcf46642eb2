/*
 * control.c — the control socket: a running server takes operator
 * commands from the same machine through DIR/control.sock (a Unix socket,
 * mode 0600, peers of another uid refused). The CLI uses it for what needs
 * the open database while the server holds its lock: `scimlog backup`.
 *
 * Protocol: one JSON object per connection, newline-terminated, each way:
 * {"op":"backup","to":PATH} -> {"ok":true,"to":PATH,"position":N};
 * {"op":"tenant","args":[...],"scope":S,"profile":P,"definition":D,...}
 * (the `scimlog tenant` commands, api/tenant_cmd.c) ->
 * {"ok":true,"result":...}; {"op":"snapshot","truncate":B,"list":B} (a log
 * snapshot, api/tenant_cmd.c scim_snapshot_command) -> {"ok":true,
 * "result":...}; failures {"ok":false,"error":TEXT}. JSON
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

#define REQ_MAX (2 * 1024 * 1024) /* a tenant definition is at most 1 MiB */

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

static void serve_one(scim_control_t *ctl, int fd)
{
        char *buf = malloc(REQ_MAX + 1);
        size_t n = 0;
        json_t *req;
        const char *op, *to;
        struct ucred cr;
        socklen_t crl = sizeof(cr);
        struct timeval tv = {5, 0};

        if (!buf) {
                answer(fd, json_pack("{s:b, s:s}", "ok", 0, "error",
                                     "out of memory"));
                return;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0 ||
            cr.uid != getuid()) {
                answer(fd, json_pack("{s:b, s:s}", "ok", 0, "error",
                                     "another user may not control this "
                                     "server"));
                free(buf);
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
                answer(fd, scim_tenant_command(ctl->st, ctl->ing, req));
        } else if (op && !strcmp(op, "backup") && to && *to) {
                scim_err_t e;
                uint64_t pos = scim_store_position(ctl->st);

                scim_err_clear(&e);
                if (scim_store_backup(ctl->st, to, &e) == 0)
                        answer(fd, json_pack("{s:b, s:s, s:I}", "ok", 1, "to",
                                             to, "position", (json_int_t)pos));
                else
                        answer(fd, json_pack("{s:b, s:s}", "ok", 0, "error",
                                             e.detail));
        } else if (op && !strcmp(op, "snapshot")) {
                answer(fd, scim_snapshot_command(ctl->st, req));
        } else {
                answer(fd, json_pack("{s:b, s:s}", "ok", 0, "error",
                                     "want {\"op\":\"backup\",\"to\":PATH}"));
        }
        json_decref(req);
        free(buf);
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
        char path[sizeof(sa.sun_path)], *buf;
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
        if (!(buf = malloc(REQ_MAX + 1))) {
                close(fd);
                return snprintf(errstr, errlen, "out of memory"), -1;
        }
        while (n < REQ_MAX) {
                ssize_t r = recv(fd, buf + n, REQ_MAX - n, 0);

                if (r <= 0)
                        break;
                n += (size_t)r;
        }
        close(fd);
        *reply = json_loadb(buf, n, JSON_DISABLE_EOF_CHECK, NULL);
        free(buf);
        if (!*reply)
                return snprintf(errstr, errlen,
                                "control socket: no answer from the server"),
                       -1;
        return 1;
}
