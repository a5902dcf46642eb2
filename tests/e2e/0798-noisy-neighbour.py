"""0798 — fair share: tenant B's reads and writes are answered while tenant
A misbehaves in each way issue 9 lists, one after another: idle connection
floods and slow-loris headers from B's own address, unindexed filter scans,
a flood of large writes, many writers racing on one resource, slow readers
of large pages, saved-report writes, and huge announced bodies.

B's p50/p99 per phase and the server's resident memory are printed, not
asserted (timing on a shared 2-core machine is no test); the assertions are
that every one of B's requests is answered with success and that A gets
the documented refusals. Bounded loops, loopback only."""
import json
import os
import socket
import threading
import time
from scimtest import Check, Server, USER, patch_body

EXT = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
c = Check()
srv = Server(tenants=("a", "b"),
             extra=["--max-connections", "300", "--header-timeout", "3",
                    "--idle-timeout", "5", "--scan-limit", "200",
                    "--unsent-limit-mb", "8"])
srv.start()
a, b = srv.client("a"), srv.client("b")
tok = {t: srv.tokens[t]["secret"] for t in ("a", "b")}


def rss_mb():
    try:
        with open("/proc/%d/status" % srv.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return -1.0


# setup: B has a user to read and patch; A has data to scan and page
st, _, bu = b.post("/Users", {"schemas": [USER], "userName": "b-user"})
c.ok(st == 201, "B's user created", st)
for i in range(250):
    a.post("/Users", {"schemas": [USER], "userName": "a%d" % i, "title": "t"})
for i in range(40):
    a.post("/Users", {"schemas": [USER, EXT], "userName": "wide%d" % i,
                      EXT: {"f%d" % k: "z" * 30000 for k in range(3)}})
st, _, au = a.post("/Users", {"schemas": [USER], "userName": "a-hot"})
c.ok(st == 201, "A's contended user created", st)

results = []
b_failures = []


def measure_b(phase, n=30):
    """B reads and patches its own user on one keep-alive connection."""
    cl = srv.client("b")
    reads, writes = [], []
    for i in range(n):
        t0 = time.time()
        st, _, _ = cl.get("/Users?count=1")
        reads.append(time.time() - t0)
        if st != 200:
            b_failures.append((phase, "GET", st))
        if i % 2 == 0:
            t0 = time.time()
            st, _, _ = cl.patch("/Users/" + bu["id"], patch_body(
                {"op": "replace", "path": "displayName", "value": "%s %d" % (phase, i)}))
            writes.append(time.time() - t0)
            if st not in (200, 204):
                b_failures.append((phase, "PATCH", st))
    reads.sort()
    writes.sort()

    def pct(v, p):
        return v[min(len(v) - 1, int(len(v) * p))] * 1e3
    results.append((phase, pct(reads, 0.5), pct(reads, 0.99), pct(writes, 0.5),
                    pct(writes, 0.99), rss_mb()))


def run_phase(phase, noisy, nthreads, warmup=0.3):
    stop = threading.Event()
    counts = {}
    lock = threading.Lock()

    def loop():
        state = {}
        while not stop.is_set():
            try:
                st = noisy(state)
            except OSError:
                st = "oserror"
            with lock:
                counts[st] = counts.get(st, 0) + 1
        cleanup = state.get("cleanup")
        if cleanup:
            cleanup()
    ths = [threading.Thread(target=loop) for _ in range(nthreads)]
    for t in ths:
        t.start()
    time.sleep(warmup)
    measure_b(phase)
    stop.set()
    for t in ths:
        t.join(timeout=60)
    return counts


measure_b("quiet")

# 1. idle connections from B's own address, beyond --max-connections
idle = []
for _ in range(400):
    try:
        idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
    except OSError:
        break
measure_b("400 idle connections (limit 300)")
for s in idle:
    s.close()

# 2. slow-loris: 150 connections each sending a header byte every 0.2 s
loris = []
for _ in range(150):
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"GET /scim/v2/a/Users HTTP/1.1\r\nHost: x\r\n")
        loris.append(s)
    except OSError:
        break
stop_loris = threading.Event()


def drip():
    while not stop_loris.is_set():
        for s in loris:
            try:
                s.sendall(b"X")
            except OSError:
                pass
        time.sleep(0.2)


dt = threading.Thread(target=drip)
dt.start()
measure_b("150 slow-loris connections")
stop_loris.set()
dt.join()
for s in loris:
    s.close()

# 3. unindexed filter scans
def scan(state):
    cl = state.setdefault("cl", srv.client("a"))
    return cl.get('/Users?filter=title%20co%20%22zzzz%22')[0]


counts = run_phase("4 threads of unindexed scans", scan, 4)
c.ok(set(counts) <= {400, 429}, "A's scans are refused (400 tooMany) or turned away (429)", counts)

# 4. a flood of large creates (100 KiB users)
def big_write(state):
    cl = state.setdefault("cl", srv.client("a"))
    state["n"] = state.get("n", 0) + 1
    st, _, j = cl.post("/Users", {"schemas": [USER, EXT],
                                  "userName": "flood-%d-%d" % (id(state), state["n"]),
                                  EXT: {"f%d" % k: "w" * 30000 for k in range(3)}})
    if st == 201:
        cl.delete("/Users/" + j["id"])
    return st


counts = run_phase("8 threads of 90 KB creates", big_write, 8)
c.ok(set(counts) <= {201, 429}, "A's large writes are applied or turned away with 429", counts)

# 5. writers racing on one resource, without If-Match
def hot_patch(state):
    cl = state.setdefault("cl", srv.client("a"))
    state["n"] = state.get("n", 0) + 1
    return cl.patch("/Users/" + au["id"], patch_body(
        {"op": "replace", "path": "displayName", "value": "v%d" % state["n"]}))[0]


counts = run_phase("8 threads patching one user", hot_patch, 8)
c.ok(set(counts) <= {200, 204}, "racing writes without If-Match are all applied (no 412)", counts)

# 6. slow readers of large pages (tiny receive windows, never read)
def slow_reader(state):
    socks = state.setdefault("socks", [])
    state["cleanup"] = lambda: [s.close() for s in socks]
    if len(socks) >= 3:
        time.sleep(0.05)
        return "holding"
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(("GET /reports/v1/a/changes?count=1000&action=create HTTP/1.1\r\n"
               "Host: x\r\nAuthorization: Bearer %s\r\n\r\n" % tok["a"]).encode())
    socks.append(s)
    return "sent"


run_phase("12 slow readers of ~4 MiB pages", slow_reader, 4, warmup=1.0)

# 7. saved-report writes (answered after their commit; no pool thread waits)
def report_put(state):
    cl = state.setdefault("cl", srv.client("a"))
    state["n"] = state.get("n", 0) + 1
    return cl.raw("PUT", "/reports/v1/a/saved/r%d" % (state["n"] % 5),
                  {"description": "noisy", "filter": {"action": "create"}}, base=False)[0]


counts = run_phase("16 threads of saved-report PUTs", report_put, 16)
c.ok(set(counts) <= {200, 201}, "A's saved-report writes are all applied", counts)
st, _, j = b.raw("PUT", "/reports/v1/b/saved/mine",
                 {"description": "b", "filter": {"action": "create"}}, base=False)
c.ok(st in (200, 201), "B saves a report after A's flood", (st, j))

# 8. huge announced bodies with Expect: 100-continue (413 before any body)
def huge_expect(state):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(("POST /scim/v2/a/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/scim+json\r\nContent-Length: 10000000000\r\n"
                   "Expect: 100-continue\r\n\r\n" % tok["a"]).encode())
        data = s.recv(64)
    finally:
        s.close()
    return data.split(b" ")[1].decode() if data.count(b" ") else "closed"


counts = run_phase("8 threads announcing 10 GB bodies", huge_expect, 8)
c.ok(set(counts) <= {"413"}, "huge announced bodies get 413 before the body", counts)

c.ok(not b_failures, "every one of tenant B's requests succeeded", b_failures[:10])
print("%-36s %9s %9s %10s %10s %8s" % ("tenant A does", "B GET p50", "B GET p99",
                                        "B PATCH p50", "B PATCH p99", "RSS MiB"))
for phase, r50, r99, w50, w99, rss in results:
    print("%-36s %7.1fms %7.1fms %8.1fms %8.1fms %8.0f" % (phase, r50, r99, w50, w99, rss))

srv.cleanup()
c.done()
