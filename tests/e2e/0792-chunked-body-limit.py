"""0792 — --max-body holds for bodies without Content-Length: a chunked
body past the limit gets its connection closed once the limit is passed,
instead of being read to its end (before: the server read 445 MB in 8 s of
an endless chunked body and never answered). A chunked body within the
limit is served as usual, and other requests are answered meanwhile.
Bounded: the attacker stops after 64 MiB (the server must close long
before: it reads at most --max-body plus what the kernel buffers)."""
import socket
from scimtest import Check, Server, USER
import json

c = Check()
LIMIT = 65536
srv = Server(extra=["--max-body", str(LIMIT)]).start()
tok = srv.tokens["t1"]["secret"]
cl = srv.client()


def head(extra=""):
    return ("POST /scim/v2/t1/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n%s\r\n" % (tok, extra)).encode()


def answer(s):
    out = b""
    s.settimeout(10)
    try:
        while b"\r\n\r\n" not in out or len(out) < out.find(b"\r\n\r\n") + 4 + int(
                [l for l in out.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1]):
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (OSError, IndexError, ValueError):
        pass
    return out


try:
    # within the limit, in several chunks: served
    body = json.dumps({"schemas": [USER], "userName": "chunky", "title": "x" * 20000}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(head())
    for i in range(0, len(body), 7000):
        part = body[i:i + 7000]
        s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    a = answer(s)
    s.close()
    c.ok(a.startswith(b"HTTP/1.1 201"), "a chunked body within the limit is served", a[:200])

    # past the limit: the connection is closed, the stream is not swallowed
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(head())
    chunk = b"x" * 65536
    sent, closed = 0, False
    s.settimeout(10)
    try:
        while sent < 64 << 20:
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
    except OSError:
        closed = True
    if not closed:  # everything went out: did the server close its end?
        try:
            closed = s.recv(1) == b""
        except OSError:
            closed = True
    s.close()
    print("chunked attacker sent %.1f MiB before the close" % (sent / 1048576.0))
    c.ok(closed and sent < 64 << 20, "an endless chunked body is cut off (sent %d bytes)" % sent)

    st, _, j = cl.get("/Users?filter=userName%20eq%20%22chunky%22")
    c.ok(st == 200 and j.get("totalResults") == 1, "the server still answers; one user stored", (st, j))
    c.ok(srv.proc.poll() is None, "the server is running")
finally:
    srv.cleanup()
c.done()
