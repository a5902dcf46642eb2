"""0782 — a change stream whose client went away gives its slot back at
once (the timer that ends long polls also looks at the parked streams'
sockets, four times a second), not at its heartbeat, its `wait` or the
next fold batch: before, a consumer that restarted found its tenant's 8
slots taken by its own dead long polls for up to 55 s (429) while no
tenant wrote. Live streams are not touched."""
import socket
import struct
import time
from scimtest import Check, Server

c = Check()
srv = Server(tenants=("a",)).start()
tok = srv.tokens["a"]["secret"]


def open_stream(sse=False):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(("GET /stream/v1/a?after=999999&wait=55 HTTP/1.1\r\nHost: localhost\r\n"
               "Authorization: Bearer %s\r\n%s\r\n" % (tok, "Accept: text/event-stream\r\n" if sse else "")).encode())
    return s


def status(s, secs=1.0):
    """The status line (a parked stream has sent its headers), or None."""
    s.settimeout(secs)
    try:
        d = s.recv(200)
    except socket.timeout:
        return None
    return d.split(b"\r\n", 1)[0]


try:
    live = open_stream()
    c.ok((status(live) or b"").startswith(b"HTTP/1.1 200"), "a live stream is admitted")
    dead = [open_stream(sse=i % 2 == 1) for i in range(7)]  # 8 in all: the tenant's limit
    time.sleep(0.5)
    s = open_stream()
    c.ok((status(s) or b"").startswith(b"HTTP/1.1 429"), "the 9th stream of the tenant is 429")
    s.close()
    for i, s in enumerate(dead):
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    got, t0 = None, time.time()
    while time.time() - t0 < 15:
        s = open_stream()
        st = status(s, 0.5) or b""
        if st.startswith(b"HTTP/1.1 200"):  # admitted (and parked)
            got = s
            break
        s.close()
        time.sleep(0.25)
    print("a new stream was admitted %.1f s after the clients left" % (time.time() - t0))
    c.ok(got is not None, "the dead streams' slots are free long before their 55 s wait")
    live.settimeout(0.3)
    try:
        closed = live.recv(4096) == b""
    except socket.timeout:
        closed = False
    c.ok(not closed, "the live stream is still open")
    if got:
        got.close()
    live.close()
    c.ok(srv.proc.poll() is None, "the server is running")
finally:
    srv.cleanup()
c.done()
