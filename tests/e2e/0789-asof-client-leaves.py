"""0789 — a point-in-time read whose client leaves is freed: the read runs
on a report worker while its connection is suspended; when the client had
closed (or reset) the connection by the time the answer was ready,
libmicrohttpd ended the request without calling the handler again and the
read, with its whole answer (up to a 4 MiB page), was never freed (40
allocations, 8.9 KB here; under ASan the server's exit reports the leak).
Also reads left waiting at a clean stop. The server keeps answering reads
of both tenants throughout. SCIMLOG_TEST_REPORT_DELAY_MS keeps each read
on its worker long enough for the client to leave."""
import os
import socket
import struct
import time
from scimtest import Check, Server, USER

os.environ["SCIMLOG_TEST_REPORT_DELAY_MS"] = "200"
c = Check()
srv = Server(tenants=("a", "b"), extra=["--report-threads", "1", "--report-queue", "4"]).start()
tok = srv.tokens["a"]["secret"]


def leave(s, reset):
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def ask(path):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n\r\n" % (path, tok)).encode())
    return s


try:
    cl = srv.client("a")
    for i in range(20):
        cl.post("/Users", {"schemas": [USER], "userName": "u%02d" % i, "title": "t" * 500})
    st, _, j = cl.get("/Users?count=1")
    uid = j["Resources"][0]["id"]
    for rnd in range(6):
        socks = [ask("/reports/v1/a/Users?asOf=-0m" if i % 2 else "/reports/v1/a/Users/%s?asOf=-0m" % uid)
                 for i in range(6)]
        time.sleep(0.05)
        for i, s in enumerate(socks):
            leave(s, i % 2)
        time.sleep(1.5)  # the reads finish, their connections end
        st, _, j = srv.client("b").raw("GET", "/reports/v1/b/Users?asOf=-0m", base=False)
        c.ok(st in (200, 429), "round %d: another tenant's read is answered" % rnd, (st, j))
    for _ in range(20):
        st, _, j = cl.raw("GET", "/reports/v1/a/Users?asOf=-0m&count=5", base=False)
        if st != 429:
            break
        time.sleep(0.5)
    c.ok(st == 200 and j.get("totalResults") == 20, "a read after the leavers is answered", (st, j))
    waiting = [ask("/reports/v1/a/Users?asOf=-0m") for _ in range(3)]  # some still waiting at the stop
    time.sleep(0.1)
    rc = srv.stop()
    for s in waiting:
        s.close()
    with open(os.path.join(srv.root, "serve.log"), errors="replace") as f:
        log = f.read()
    leaks = [l for l in log.splitlines() if "LeakSanitizer" in l or "AddressSanitizer" in l]
    c.ok(rc == 0 and not leaks, "the server stops cleanly with nothing leaked", (rc, leaks[:3]))
finally:
    srv.cleanup()
c.done()
