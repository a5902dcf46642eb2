"""0783 — an open change stream ends when its token stops opening it: the
token revoked, its tenant disabled, or its tenant deleted (and the name
created again for someone else). Before, the token was checked only when
the stream began, so a Server-Sent Events stream (endless) of a revoked
token went on receiving the tenant's changes, and after DELETE + create
of the same name the old stream received the new tenant's records. Now the
token is checked again before every read of records: the stream ends
(the connection closes) without sending anything written after the
change, and a reconnect is refused. A stream of a token still valid goes
on. Bounded waits, loopback only."""
import os
import socket
import time
from scimtest import Check, Server, USER

c = Check()
srv = Server(tenants=())
OP = "op-" + "6" * 40
with open(os.path.join(srv.root, "op"), "w") as f:
    f.write(OP)
srv.extra = ["--operator-token-file", os.path.join(srv.root, "op")]
srv.start()


def adm(method, path, body=None):
    return srv.client("x", token=OP).raw(method, "/admin/v1/tenants" + path, body, base=False)


def stream(tok, tenant="acme", sse=True):
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.settimeout(0.3)
    s.sendall(("GET /stream/v1/%s?after=0&wait=30 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n%s\r\n"
               % (tenant, tok, "Accept: text/event-stream\r\n" if sse else "")).encode())
    return s


def drain(s, secs=0.5):
    """What arrived within secs, and whether the server closed."""
    out, closed, end = b"", False, time.time() + secs
    while time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
        if not d:
            closed = True
            break
        out += d
    return out, closed


def write(tok, name, tenant="acme"):
    st, _, j = srv.client(tenant, token=tok).post("/Users", {"schemas": [USER], "userName": name})
    return st


try:
    st, _, t = adm("POST", "", {"name": "acme"})
    keep = t["secret"]
    st, _, t2 = adm("POST", "/acme/tokens", {})
    gone = t2["secret"]
    c.ok(write(keep, "before") == 201, "a first write")

    # 1. revoke: the revoked token's streams end, the other token's goes on
    s_keep, s_gone, lp_gone = stream(keep), stream(gone), stream(gone, sse=False)
    out, _ = drain(s_gone)
    c.ok(b"before" in out, "the stream sends what was there", out[-200:])
    drain(s_keep)
    st, _, j = adm("DELETE", "/acme/tokens/" + t2["token_id"])
    c.ok(st == 200, "revoke", (st, j))
    c.ok(write(keep, "after-revoke") == 201, "a write after the revoke")
    out, closed = drain(s_gone, 3)
    c.ok(closed and b"after-revoke" not in out, "the revoked token's SSE stream ends, sending nothing new",
         (closed, out[-200:]))
    out, closed = drain(lp_gone, 3)
    c.ok(b"after-revoke" not in out, "the revoked token's long poll sends nothing new", out[-200:])
    out, closed = drain(s_keep, 2)
    c.ok(not closed and b"after-revoke" in out, "the valid token's stream goes on", (closed, out[-200:]))
    s_again = stream(gone)
    out, _ = drain(s_again, 1)
    c.ok(out.startswith(b"HTTP/1.1 401"), "a reconnect with the revoked token is 401", out[:60])
    s_again.close()

    # 2. disable the tenant: its streams end
    st, _, j = adm("POST", "/acme/disable")
    c.ok(st == 200, "disable", (st, j))
    st, _, t3 = adm("POST", "", {"name": "other"})
    write(t3["secret"], "wakes-the-streams", "other")  # a fold wakes every parked stream
    out, closed = drain(s_keep, 3)
    c.ok(closed, "the stream of a disabled tenant ends", out[-200:])
    st, _, j = adm("POST", "/acme/enable")

    # 3. delete and create the name again: the old stream never sees the new tenant
    s_old = stream(keep)
    drain(s_old)
    st, _, j = adm("DELETE", "/acme")
    c.ok(st == 200, "delete with erasure", (st, j))
    st, _, t4 = adm("POST", "", {"name": "acme"})
    c.ok(st == 201, "the name is taken again", (st, t4))
    c.ok(write(t4["secret"], "new-customer") == 201, "the new tenant writes")
    out, closed = drain(s_old, 3)
    c.ok(closed and b"new-customer" not in out, "the deleted tenant's stream ends without the new tenant's data",
         (closed, out[-200:]))
    s_new = stream(t4["secret"])
    out, _ = drain(s_new, 1)
    c.ok(b"new-customer" in out and b"before" not in out, "the new tenant's own stream has its data only", out[-200:])
    for s in (s_keep, s_gone, lp_gone, s_old, s_new):
        s.close()
    c.ok(srv.proc.poll() is None, "the server is running")
finally:
    srv.cleanup()
c.done()
