"""0795 — bounded memory per request and fair share between tenants:
per-attribute, per-resource and per-page limits with clear SCIM errors;
unindexed scans bounded (400 tooMany naming the indexed alternatives);
slow readers cannot pin unbounded answer memory (503 past the budget);
tenant B's latency printed while tenant A misbehaves (not asserted)."""
import http.client
import json
import socket
import threading
import time
from scimtest import Check, Server, USER, patch_body

EXT = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
c = Check()
srv = Server(tenants=("a", "b"), extra=["--scan-limit", "300", "--unsent-limit-mb", "1"])
srv.start()
a, b = srv.client("a"), srv.client("b")

# 1. attribute and resource limits
st, _, j = a.post("/Users", {"schemas": [USER], "userName": "u" * 40000})
c.ok(st == 400 and j.get("scimType") == "invalidValue" and "userName" in j.get("detail", ""),
     "a 40 KB userName is refused naming the attribute", (st, j))
st, _, j = a.post("/Users", {"schemas": [USER], "userName": "many",
                            "emails": [{"value": "e%d@x.org" % i} for i in range(201)]})
c.ok(st == 400 and "emails" in j.get("detail", "") and "200" in j.get("detail", ""),
     "201 emails are refused", (st, j))
st, _, j = a.post("/Users", {"schemas": [USER, EXT], "userName": "big",
                            EXT: {"f%d" % i: "x" * 30000 for i in range(5)}})
c.ok(st == 413 and "131072" in j.get("detail", ""), "a resource over 128 KiB is 413", (st, j))
st, _, u = a.post("/Users", {"schemas": [USER], "userName": "grow"})
for i in range(5):
    st, _, j = a.patch("/Users/" + u["id"], patch_body(
        {"op": "add", "path": EXT + ":f%d" % i, "value": "y" * 30000}))
c.ok(st == 413, "a PATCH that grows the resource past 128 KiB is 413", (st, j))
st, _, g = a.get("/Users/" + u["id"])
c.ok(st == 200 and len(json.dumps(g)) < 131072, "the resource stays within the limit", len(json.dumps(g)))

# 2. answer pages stop at 4 MiB (fewer items, a next cursor)
for i in range(60):
    st, _, _ = a.post("/Users", {"schemas": [USER, EXT], "userName": "wide%d" % i,
                                EXT: {"f%d" % k: "z" * 30000 for k in range(3)}})
    c.ok(st == 201, "wide user %d created" % i, st) if st != 201 else None
st, _, j = a.raw("GET", "/reports/v1/a/changes?count=1000&action=create", base=False)
size = len(json.dumps(j))
c.ok(st == 200 and 0 < j["count"] < 60 and j.get("nextCursor"), "a changes page stops near 4 MiB with a cursor",
     (st, j and j.get("count"), size))
c.ok(size < 6 * 1024 * 1024, "the changes page is bounded", size)
st, _, j = a.get("/Users?count=1000&filter=userName%20sw%20%22wide%22")
c.ok(st == 200 and j["totalResults"] == 60 and j["itemsPerPage"] < 60, "a list page stops near 4 MiB and says how many it holds",
     (st, j.get("totalResults"), j.get("itemsPerPage")))

# 3. unindexed scans are bounded; indexed ones are not
for i in range(300):
    a.post("/Users", {"schemas": [USER], "userName": "n%d" % i, "title": "t"})
st, _, j = a.get('/Users?filter=title%20co%20%22zzzz%22')
c.ok(st == 400 and j.get("scimType") == "tooMany" and "userName" in j.get("detail", ""),
     "an unindexed filter past --scan-limit is 400 tooMany naming indexed filters", (st, j))
st, _, j = a.get('/Users?filter=userName%20eq%20%22n7%22')
c.ok(st == 200 and j["totalResults"] == 1, "an indexed filter still answers", (st, j))
st, _, j = b.get('/Users?filter=title%20co%20%22zzzz%22')
c.ok(st == 200, "another tenant's small scan is unaffected", (st, j))

# 4. slow readers: answers they do not read count against --unsent-limit-mb
socks = []
for k in range(3):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(("GET /reports/v1/a/changes?count=1000&action=create HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\n\r\n" % srv.tokens["a"]["secret"]).encode())
    socks.append(s)
time.sleep(1.0)
st, h, j = a.raw("GET", "/reports/v1/a/changes?count=1000&action=create", base=False)
# the page shrinks to what the budget has room for (at least 64 KiB of
# stored text), or is 503 when even that does not fit
c.ok((st == 503 and h.get("retry-after")) or
     (st == 200 and j.get("nextCursor") and len(json.dumps(j)) < 1024 * 1024),
     "past the unsent budget a large answer shrinks (with a cursor) or is 503 with Retry-After",
     (st, h.get("retry-after"), j and j.get("count"), j and len(json.dumps(j))))
st, _, j = b.get("/Users?count=1")
c.ok(st == 200, "small answers still flow", st)
for s in socks:
    s.close()
deadline = time.time() + 20
while time.time() < deadline:
    st, _, j = a.raw("GET", "/reports/v1/a/changes?count=1000&action=create", base=False)
    if st == 200:
        break
    time.sleep(0.2)
c.ok(st == 200, "once the slow readers go, large answers flow again", st)

# 5. tenant B's latency while tenant A floods unindexed filters (printed)


def b_latencies(n=60):
    out = []
    cl = srv.client("b")
    for _ in range(n):
        t0 = time.time()
        st, _, _ = cl.get("/Users?count=1")
        out.append(time.time() - t0)
    out.sort()
    return out


base = b_latencies()
stop = threading.Event()
counts = {}


def noisy():
    cl = srv.client("a")
    while not stop.is_set():
        st, _, _ = cl.get('/Users?filter=title%20co%20%22zzzz%22')
        counts[st] = counts.get(st, 0) + 1


ths = [threading.Thread(target=noisy) for _ in range(4)]
for t in ths:
    t.start()
busy = b_latencies()
stop.set()
for t in ths:
    t.join()
print("tenant B GET /Users?count=1: quiet p50 %.1f ms p99 %.1f ms; while A scans p50 %.1f ms p99 %.1f ms; A's answers %s" % (
    base[len(base) // 2] * 1e3, base[int(len(base) * 0.99)] * 1e3,
    busy[len(busy) // 2] * 1e3, busy[int(len(busy) * 0.99)] * 1e3, counts))
c.ok(set(counts) <= {400, 429}, "tenant A's scans are bounded (400) or turned away (429)", counts)

srv.cleanup()
c.done()
