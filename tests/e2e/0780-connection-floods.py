"""0780 — an attacker with idle connections, slow-loris headers or a
connection flood from the good client's own address cannot keep the server
from answering; SIGTERM under write load answers every request in progress
(no resets) and every acknowledged write survives.

Bounded loops, loopback only. Latencies are printed, not asserted; the
assertion is that every well-behaved request is answered."""
import http.client
import json
import socket
import threading
import time
from scimtest import Check, Server, USER

c = Check()
LIMIT = 200
srv = Server(extra=["--max-connections", str(LIMIT), "--header-timeout", "3",
                    "--idle-timeout", "5"])
srv.start()
port = srv.port
token = srv.tokens["t1"]["secret"]


def good_request(timeout=10):
    """One GET on a fresh connection; returns (status, seconds)."""
    t0 = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/scim/v2/t1/Users?count=1",
                     headers={"Authorization": "Bearer " + token})
        st = conn.getresponse().status
    finally:
        conn.close()
    return st, time.time() - t0


def open_idle(n, send=b""):
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if send:
                s.sendall(send)
            socks.append(s)
        except OSError:
            break
    return socks


def closed_by_server(s, wait):
    """True when the server closed s within `wait` seconds."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True  # reset: closed too


# 1. a flood of idle connections, 3x the limit, from the good client's address
flood = open_idle(3 * LIMIT)
c.ok(len(flood) >= LIMIT, "the flood opened more connections than the limit", len(flood))
lat = []
for _ in range(10):
    st, dt = good_request()
    lat.append(dt)
    c.ok(st == 200, "a well-behaved client is answered during an idle flood", st)
print("idle flood: good client latency max %.3f s, median %.3f s" % (max(lat), sorted(lat)[len(lat) // 2]))
for s in flood:
    s.close()

# 2. slow-loris: headers a byte at a time; the server closes them at the
# header deadline (3 s) even though bytes keep arriving
loris = open_idle(50, b"GET /healthz HTTP/1.1\r\n")
stop = threading.Event()


def drip():
    while not stop.is_set():
        for s in loris:
            try:
                s.send(b"X")
            except OSError:
                pass
        stop.wait(0.5)


th = threading.Thread(target=drip)
th.start()
t0 = time.time()
closed = sum(1 for s in loris if closed_by_server(s, 20))
stop.set()
th.join()
print("slow-loris: %d/%d closed after %.1f s" % (closed, len(loris), time.time() - t0))
c.ok(closed == len(loris), "slow-loris connections are closed at the header deadline", closed)
st, dt = good_request()
c.ok(st == 200, "served after the slow-loris wave", st)
for s in loris:
    s.close()

# 3. a keep-alive connection left idle is closed after --idle-timeout
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.request("GET", "/healthz")
r = conn.getresponse()
r.read()
c.ok(r.status == 200, "keep-alive request answered", r.status)
c.ok(closed_by_server(conn.sock, 20), "an idle keep-alive connection is closed after its timeout")
conn.close()

# 4. shedding: fill to the limit with idle connections opened just now
# (before any deadline), then a good client still gets in
flood = open_idle(LIMIT + 20)
st, dt = good_request()
c.ok(st == 200, "a good client gets in when the limit is full of idle connections", (st, dt))
shed = sum(1 for s in flood[:LIMIT // 4] if closed_by_server(s, 10))
c.ok(shed > 0, "the oldest idle connections were shed", shed)
for s in flood:
    s.close()

# 5. SIGTERM under write load: every request in progress is answered (201
# or 503), never reset; every 201 is there after a restart
acked, errors, answers = [], [], {}
t_term = [time.time() + 3600]
lock = threading.Lock()
go = threading.Event()


def writer(k):
    i = 0
    while not go.is_set() and i < 2000:
        i += 1
        body = json.dumps({"schemas": [USER], "userName": "w%d-%d" % (k, i)})
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.connect()
        except OSError:
            return  # listener closed: the stop has begun
        try:
            conn.request("POST", "/scim/v2/t1/Users", body=body,
                         headers={"Authorization": "Bearer " + token,
                                  "Content-Type": "application/scim+json",
                                  "Connection": "close"})
        except OSError:
            conn.close()
            return  # not sent: the listener closed under a queued connect
        try:
            resp = conn.getresponse()
            data = resp.read()
            with lock:
                answers[resp.status] = answers.get(resp.status, 0) + 1
                if resp.status == 201:
                    acked.append(json.loads(data)["id"])
        except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError) as e:
            with lock:
                errors.append("%r at %+.3f s from SIGTERM" % (e, time.time() - t_term[0]))
            return
        finally:
            conn.close()


threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
deadline = time.time() + 30
while time.time() < deadline and len(acked) < 100:
    time.sleep(0.05)
t_term[0] = time.time()
rc = srv.stop()
print("stop took %.3f s" % (time.time() - t_term[0]))
go.set()
for t in threads:
    t.join()
log = open(srv.root + "/serve.log", "rb").read().decode("utf-8", "replace")
print("SIGTERM under load: answers %s, connection errors %d" % (answers, len(errors)))
c.ok(rc == 0, "the server exits 0 after SIGTERM under write load", (rc, log[-2000:]))
c.ok("suspended connections" not in log, "libmicrohttpd was not stopped with suspended connections", log[-2000:])
c.ok(not errors, "no request in progress was reset", errors[:5])
c.ok(len(acked) >= 100, "writes were acknowledged before the stop", len(acked))
srv.start()
cl = srv.client()
missing = [i for i in acked if cl.get("/Users/" + i)[0] != 200]
c.ok(not missing, "every acknowledged write survives the stop", missing[:5])
srv.cleanup()
c.done()
