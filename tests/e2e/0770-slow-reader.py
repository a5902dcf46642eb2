"""0770 — a client that reads its answer very slowly (a 4 KiB receive
buffer, ~60 bytes/s) no longer keeps it coming for hours: an answer must be
taken by the peer within 25 s (SCIM_SEND_TIMEOUT_MS) of its first bytes
waiting in the socket, else the guard closes the connection with a reset,
dropping the bytes not taken (counted as
scimlog_connections_closed_total{reason="send_timeout"}); a 4 MiB page
needs ~170 KB/s. Before, libmicrohttpd's inactivity timeout closed its
side after 30 s without a write, but a plain close left the ~2.8 MB still
in the socket to the kernel, which went on trickling them out to the
reader (at 60 bytes/s: 13 hours per connection, the reader never saw an
end). A good client reading the same page at full speed gets all of it,
and other clients are served while the slow readers hang on. Found by the
red-team pass."""
import http.client
import json
import socket
import threading
import time
from scimtest import Check, Server, create_big_users

c = Check()
# 6 threads: 3 list pages of the tenant at once (--tenant-concurrency's
# default, half the pool), one per slow reader
srv = Server(tenants=("t1",), extra=["--threads", "6"])
srv.start()
cl = srv.client()
try:
    create_big_users(c, cl)
    token = srv.tokens["t1"]["secret"]
    req = ("GET /scim/v2/t1/Users?count=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Authorization: Bearer %s\r\n\r\n" % token).encode()

    # a good client: the whole page, at full speed
    st, _, page = cl.get("/Users?count=1000")
    full = len(json.dumps(page))
    c.ok(st == 200 and len(page.get("Resources", [])) == 40 and full > 3_500_000,
         "a fast reader gets the whole 4 MB page", (st, full))

    results = []

    def slow_reader():
        """Reads 60 bytes a second; notes when its TCP connection is
        closed (TCP_INFO state CLOSE: a reset came; bytes already in the
        small receive buffer may still be read after it)."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(req)
        got, head, t0, closed_at = 0, b"", time.time(), None
        s.settimeout(1)
        while time.time() - t0 < 45 and closed_at is None:
            try:
                b = s.recv(60)
                got += len(b)
                head = head if len(head) >= 12 else head + b
            except OSError:
                pass
            if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == 7:  # TCP_CLOSE
                closed_at = time.time() - t0
            time.sleep(1)
        s.close()
        results.append((closed_at, got, head[:12]))

    threads = [threading.Thread(target=slow_reader) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(3)
    # others are served while the slow readers hang on
    ok = 0
    for _ in range(20):
        st, _, _ = cl.get("/Users?count=1")
        ok += st == 200
    c.ok(ok == 20, "other requests are served meanwhile", ok)
    for t in threads:
        t.join(70)
    for closed_at, got, head in results:
        c.ok(head == b"HTTP/1.1 200", "a slow reader's page was answered 200", head)
        c.ok(closed_at is not None and 20 <= closed_at <= 35,
             "a slow reader's connection is reset about 25 s after its answer began", (closed_at, got))
        c.ok(got < full, "the slow reader did not get the whole page", (got, full))
    c.ok(len(results) == 3, "all three slow readers finished", results)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    line = [l for l in text.splitlines() if l.startswith('scimlog_connections_closed_total{reason="send_timeout"}')]
    c.ok(len(line) == 1 and float(line[0].split()[-1]) >= 3, "counted as send_timeout", line)
    st, _, page = cl.get("/Users?count=1000")
    c.ok(st == 200 and len(page.get("Resources", [])) == 40, "the page is served whole again afterwards", st)
finally:
    srv.cleanup()
c.done()
