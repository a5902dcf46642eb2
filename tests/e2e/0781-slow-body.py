"""0781 — a slow body cannot hold a connection for ever: a request whose
body is not complete 30 s after its headers has its connection closed,
like slow headers at --header-timeout. Before, a body sent a byte every
2 s kept its connection busy (so never shed, never timed out: libmicrohttpd
only closes after 30 s without a byte), and connections filled with such
requests refused good clients for as long as the attacker dripped (a 1 MiB
body at a byte per 25 s lasts 300 days). A good client is served once they
are closed; a body sent in parts within the deadline is served; the
closes are counted in scimlog_connections_closed_total{reason=
"body_timeout"}. Bounded loops, loopback only."""
import http.client
import json
import socket
import threading
import time
from scimtest import Check, Server, USER

c = Check()
LIMIT = 40
srv = Server(extra=["--max-connections", str(LIMIT), "--header-timeout", "3", "--idle-timeout", "5"]).start()
tok = srv.tokens["t1"]["secret"]
HEAD = ("POST /scim/v2/t1/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/scim+json\r\nContent-Length: %%d\r\n\r\n" % tok)


def good_request():
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/scim/v2/t1/Users?count=1", headers={"Authorization": "Bearer " + tok})
        r = conn.getresponse()
        r.read()
        conn.close()
        return r.status
    except (OSError, http.client.HTTPException) as e:
        return repr(e)


try:
    # a body in three parts, 1 s apart: well within the deadline
    body = json.dumps({"schemas": [USER], "userName": "patient"}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
    s.sendall((HEAD % len(body)).encode())
    for i in range(0, len(body), len(body) // 3 + 1):
        s.sendall(body[i:i + len(body) // 3 + 1])
        time.sleep(1)
    ans = s.recv(4096)
    s.close()
    c.ok(ans.startswith(b"HTTP/1.1 201"), "a body sent in parts within the deadline is served", ans[:100])

    # slow bodies on every connection the server lets in
    slow = []
    for i in range(LIMIT):
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall((HEAD % 100000).encode() + b"{")
            slow.append(s)
        except OSError:
            break
    c.ok(len(slow) >= LIMIT // 2, "slow-body connections opened", len(slow))
    open_now = set(slow)
    stop = threading.Event()

    def drip():
        while not stop.is_set():
            for s in list(open_now):
                try:
                    s.send(b" ")
                except OSError:
                    open_now.discard(s)
            stop.wait(2)

    th = threading.Thread(target=drip)
    th.start()
    t0 = time.time()
    time.sleep(5)  # past the header deadline: what is open now is busy
    busy = len(open_now)
    c.ok(busy >= LIMIT // 2, "slow bodies still open past the header deadline", busy)
    # every slow body is closed by the server, bytes arriving or not
    while open_now and time.time() - t0 < 60:
        time.sleep(1)
    stop.set()
    th.join()
    print("slow bodies: %d/%d closed after %.1f s" % (len(slow) - len(open_now), len(slow), time.time() - t0))
    c.ok(not open_now, "every slow-body connection is closed at the body deadline", len(open_now))
    st = good_request()
    c.ok(st == 200, "a good client is served after the slow bodies", st)
    for s in slow:
        s.close()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", "/metrics")
    m = conn.getresponse().read().decode()
    n = [float(l.split()[-1]) for l in m.splitlines()
         if l.startswith('scimlog_connections_closed_total{reason="body_timeout"}')]
    c.ok(n and n[0] >= busy, "closes counted as body_timeout", (n, busy))
    st, _, j = srv.client().get("/Users?filter=userName%20eq%20%22patient%22")
    c.ok(st == 200 and j["totalResults"] == 1, "nothing but the patient user was created", (st, j))
    st, _, j = srv.client().get("/Users")
    c.ok(st == 200 and j["totalResults"] == 1, "the slow bodies created nothing", (st, j.get("totalResults")))
finally:
    srv.cleanup()
c.done()
