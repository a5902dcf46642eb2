"""0799 — point-in-time reads run on report workers, not on the HTTP pool.

A filtered `Users?asOf=T` over a large tenant takes a second or more; run on
libmicrohttpd's pool it held that pool thread, and four of them stalled
every tenant's SCIM traffic. Now such reads suspend their connection and
queue for `--report-threads` workers, with `--report-queue` places to wait
and at most 2 places (running or waiting) per tenant; beyond that 429 with
Retry-After.

The workers are held busy for a known time with the test hook
SCIMLOG_TEST_REPORT_DELAY_MS (each job waits that long before it runs), so
what is checked is order and admission, not speed:
- answers through the workers equal the same reads answered at once
  (users, groups, one resource, filters, paging, errors);
- with one worker busy and one read waiting, a tenant's third read and
  another tenant's read are refused 429 (SCIM error, Retry-After);
- while reads wait, SCIM reads and writes of another tenant and /healthz
  are all answered before the first read comes back;
- /metrics shows the running and waiting reads and the refusals;
- SIGTERM with a read running and one waiting (drain 1 s): the running one
  is answered 200, the waiting one 503, the server exits 0.
"""
import http.client
import json
import os
import threading
import time
import urllib.parse
from scimtest import Check, Server, USER, GROUP

c = Check()
srv = Server(tenants=("a", "b"))
srv.start()
a, b = srv.client("a"), srv.client("b")
tok = {t: srv.tokens[t]["secret"] for t in ("a", "b")}

uids = []
for i in range(60):
    st, _, u = a.post("/Users", {"schemas": [USER], "userName": "u%02d@x.com" % i,
                                 "title": "t%d" % (i % 3)})
    c.ok(st == 201, "user created", st)
    uids.append(u["id"])
st, _, g = a.post("/Groups", {"schemas": [GROUP], "displayName": "g1",
                              "members": [{"value": x} for x in uids[:10]]})
c.ok(st == 201, "group created", st)
time.sleep(0.05)
T = int(time.time() * 1000)
time.sleep(0.05)
for x in uids[:5]:
    a.patch("/Users/" + x, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "path": "title", "value": "later"}]})
st, _, _ = b.post("/Users", {"schemas": [USER], "userName": "b-user"})
c.ok(st == 201, "B's user created", st)

q = urllib.parse.quote
READS = [
    "/reports/v1/a/Users?asOf=%d" % T,
    "/reports/v1/a/Users?asOf=%d&filter=%s" % (T, q('title eq "t1"')),
    "/reports/v1/a/Users?asOf=%d&startIndex=11&count=7" % T,
    "/reports/v1/a/Groups?asOf=%d" % T,
    "/reports/v1/a/Groups?asOf=%d&filter=%s" % (T, q('members.value eq "%s"' % uids[3])),
    "/reports/v1/a/Users/%s?asOf=%d" % (uids[2], T),
    "/reports/v1/a/Groups/%s?asOf=%d" % (g["id"], T),
    "/reports/v1/a/Users/nope?asOf=%d" % T,
    "/reports/v1/a/Users?asOf=yesterday-ish",
    "/reports/v1/a/Users?asOf=%d&filter=%s" % (T, q("title eq")),
]


def get(path, tenant="a", timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    conn.request("GET", path, headers={"Authorization": "Bearer " + tok[tenant]})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    # locations carry the port, which changes when the server restarts
    data = data.replace(b"127.0.0.1:%d/" % srv.port, b"HOST/")
    try:
        j = json.loads(data) if data else None
    except ValueError:
        j = None
    return r.status, {k.lower(): v for k, v in r.getheaders()}, j


# the answers with no wait (workers free): the reference
ref = {p: get(p) for p in READS}
for p, (st, _, j) in ref.items():
    c.ok(st in (200, 400, 404), "reference answer for " + p, (st, j))
c.ok(ref[READS[0]][0] == 200 and ref[READS[0]][2]["totalResults"] == 60,
     "60 users at T", ref[READS[0]][2] and ref[READS[0]][2].get("totalResults"))
c.ok(ref[READS[7]][0] == 404, "unknown id at T: 404", ref[READS[7]])
c.ok(ref[READS[8]][0] == 400, "bad asOf: 400", ref[READS[8]])
c.ok(ref[READS[9]][0] == 400, "bad filter: 400", ref[READS[9]])
srv.stop()

# the same data, one worker that waits 1.5 s before each read
DELAY = 1.5
os.environ["SCIMLOG_TEST_REPORT_DELAY_MS"] = str(int(DELAY * 1000))
srv.extra = ["--report-threads", "1", "--report-queue", "1", "--drain-timeout", "1"]
srv.start()
del os.environ["SCIMLOG_TEST_REPORT_DELAY_MS"]
a, b = srv.client("a"), srv.client("b")

# 1. each read through the (slow) worker equals its reference
for p in READS:
    st, h, j = get(p)
    rst, rh, rj = ref[p]
    c.ok(st == rst and j == rj, "same answer through the worker: " + p, (st, rst))
    c.ok(h.get("content-type") == rh.get("content-type"), "same content type: " + p,
         (h.get("content-type"), rh.get("content-type")))


# 2. admission
done = {}


def bg(name, path, tenant="a"):
    def run():
        t0 = time.time()
        done[name] = get(path, tenant) + (time.time() - t0, time.time())
    th = threading.Thread(target=run)
    th.start()
    return th


t_start = time.time()
th1 = bg("first", READS[1])           # runs (after the delay)
time.sleep(0.3)
th2 = bg("second", READS[3])          # waits: the queue's one place
time.sleep(0.3)
st, h, j = get(READS[0])              # a's third: its 2 places are taken
c.error_body(st, j, 429, None, "a tenant's third point-in-time read")
c.ok(h.get("retry-after") == "1", "429 has Retry-After", h)
c.ok(j and "point-in-time" in j.get("detail", "") and "2 running or waiting" in j.get("detail", ""), "detail names point-in-time reads", j)
st, h, j = get("/reports/v1/b/Users?asOf=%d" % T, "b")   # queue full
c.error_body(st, j, 429, None, "another tenant's read with the queue full")

# the pool is free meanwhile: B's SCIM reads and writes, /healthz
pool_answers = []
for i in range(20):
    t0 = time.time()
    st, _, _ = b.get("/Users?filter=" + q('userName eq "b-user"'))
    st2, _, _ = b.post("/Users", {"schemas": [USER], "userName": "b%d" % i})
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", "/healthz")
    st3 = conn.getresponse().status
    conn.close()
    pool_answers.append((st, st2, st3, time.time()))
    # change reports (bounded pages) stay on the pool too
    st4, _, _ = get("/reports/v1/b/changes?count=5", "b")
    c.ok(st4 == 200, "change report answered on the pool", st4)
c.ok(all(x[:3] == (200, 201, 200) for x in pool_answers),
     "B's reads, writes and /healthz answered while reads wait",
     [x[:3] for x in pool_answers if x[:3] != (200, 201, 200)])
# metrics while they run (the first is still waiting out its delay or
# running, the second waiting)
conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
conn.request("GET", "/metrics")
metrics = conn.getresponse().read().decode()
conn.close()
th1.join()
th2.join()
c.ok(all(x[3] < done["first"][4] for x in pool_answers),
     "every SCIM answer came before the first point-in-time read's",
     (pool_answers[-1][3] - t_start, done["first"][4] - t_start))
c.ok(done["first"][0] == 200 and done["first"][2] == ref[READS[1]][2],
     "first read answered, same as reference", done["first"][:2])
c.ok(done["second"][0] == 200 and done["second"][2] == ref[READS[3]][2],
     "second (queued) read answered, same as reference", done["second"][:2])
c.ok(done["second"][4] - done["first"][4] > DELAY * 0.8,
     "the queued read ran after the first (one worker)",
     done["second"][4] - done["first"][4])


def metric(text, name, labels):
    for line in text.splitlines():
        if line.startswith(name + "{" + labels + "}"):
            return float(line.split()[-1])
    return None


c.ok(metric(metrics, "scimlog_report_jobs", 'state="threads"') == 1, "metrics: 1 worker", metrics[-800:])
c.ok((metric(metrics, "scimlog_report_jobs", 'state="running"') or 0) +
     (metric(metrics, "scimlog_report_jobs", 'state="waiting"') or 0) == 2,
     "metrics: two reads running or waiting", metrics[-800:])
c.ok((metric(metrics, "scimlog_report_jobs_total", 'result="refused"') or 0) >= 2,
     "metrics: refusals counted", metrics[-800:])

# 3. shutdown with one read running and one waiting: the drain (1 s) ends
# while the first still waits out its delay (4 s), so the second is still
# queued when the workers stop
srv.stop()
os.environ["SCIMLOG_TEST_REPORT_DELAY_MS"] = "4000"
srv.start()
del os.environ["SCIMLOG_TEST_REPORT_DELAY_MS"]
done.clear()
th1 = bg("running", READS[0])
time.sleep(0.3)
th2 = bg("waiting", READS[5])
time.sleep(0.3)
t_sig = time.time()
rc = srv.stop()
th1.join()
th2.join()
c.ok(rc == 0, "server exits 0 with report reads in flight", rc)
c.ok(done["running"][0] == 200 and done["running"][2] == ref[READS[0]][2],
     "the running read is answered in full at shutdown", done["running"][:2])
c.ok(done["waiting"][0] in (503,) and done["waiting"][2] and
     "shutting down" in done["waiting"][2].get("detail", ""),
     "the waiting read is answered 503 at shutdown", done["waiting"][:3])

srv.cleanup()
c.done()
