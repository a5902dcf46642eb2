"""0787 — a point-in-time read stops at its time limit (--report-ms).

Point-in-time reads run on the report workers (e2e 0799); before this limit
a read held its worker until done, so one tenant's broad asOf list made
every other tenant's reports wait. Now each read may run --report-ms once
a worker has it; past that its own loops (projector/asof.c) see the
deadline and stop, and the answer is 400 tooMany naming the limit.

Real work, no test hook: tenant "big" gets users and groups that each hold
all of them (members must exist), added until a filtered Groups asOf list
(every group rebuilt at T with its members, then filtered) takes at least
HEAVY_MIN_S with the default limit. Then the server restarts with
--report-ms LIMIT_MS and:
- reads under the limit (a small tenant's lists, filtered lists, one
  resource; a user of "big") answer exactly what they answered without it;
- the heavy read answers 400 tooMany with a detail naming the limit, its
  value and what to do, no Retry-After, well before it would have ended;
- the worker is free right after: another tenant's read queued behind the
  heavy one, and one sent right after the 400, answer promptly and right;
- /metrics counts scimlog_report_jobs_total{result="over_limit"}, nothing is
  left running, and the server log has a report_over_limit event;
- --report-ms takes the config file and environment like every flag, and a
  bad value is refused naming the flag.
"""
import http.client
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from scimtest import Check, Server, USER, GROUP, PATCHOP, asof_pause, cli, quote_all

LIMIT_MS = 200
HEAVY_MIN_S = 2.0  # the heavy read without a limit, at least
N_USERS = 1500
GROUP_BATCH = 10
MAX_GROUPS = 400

c = Check()
srv = Server(tenants=("big", "small"))
srv.start()
tok = {t: srv.tokens[t]["secret"] for t in ("big", "small")}


def get(path, tenant="big", timeout=300):
    """status, headers (lower-case), JSON body, seconds"""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    t0 = time.time()
    conn.request("GET", path, headers={"Authorization": "Bearer " + tok[tenant]})
    r = conn.getresponse()
    data = r.read()
    dt = time.time() - t0
    conn.close()
    data = data.replace(b"127.0.0.1:%d/" % srv.port, b"HOST/")  # the port changes
    try:
        j = json.loads(data) if data else None
    except ValueError:
        j = data
    return r.status, {k.lower(): v for k, v in r.getheaders()}, j, dt


def metrics():
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    out = {}
    for line in text.splitlines():
        m = re.match(r'scimlog_report_jobs(_total)?\{(state|result)="(\w+)"\} (\S+)', line)
        if m:
            out[m.group(3)] = float(m.group(4))
    return out


# ---- the small tenant: a little history on both sides of T
s = srv.client("small")
small_ids = []
for i in range(4):
    st, _, u = s.post("/Users", {"schemas": [USER], "userName": "s%d@x.com" % i, "title": "t%d" % (i % 2)})
    c.ok(st == 201, "small user created", st)
    small_ids.append(u["id"])
st, _, sg = s.post("/Groups", {"schemas": [GROUP], "displayName": "sg",
                               "members": [{"value": x} for x in small_ids[:3]]})
c.ok(st == 201, "small group created", st)

# ---- the big tenant: users (8 connections, so commits group), then groups
# holding all of them until the heavy read takes long enough


def make_users(k):
    cl = srv.client("big")
    ids = []
    for i in range(k, N_USERS, 8):
        st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "u%05d@x.com" % i,
                                      "title": "t%d" % (i % 7)})
        if st != 201:
            raise RuntimeError("user POST %s" % st)
        ids.append(u["id"])
    return ids


with ThreadPoolExecutor(8) as ex:
    uids = sorted(x for part in ex.map(make_users, range(8)) for x in part)
c.ok(len(uids) == N_USERS, "big users created", len(uids))
b = srv.client("big")
members = [{"value": x} for x in uids]
ngroups = 0
heavy_s = 0.0
heavy_want = None
T = None
HEAVY = None
bad = []
while ngroups < MAX_GROUPS:
    for _ in range(GROUP_BATCH):
        st, _, g = b.post("/Groups", {"schemas": [GROUP], "displayName": "g%03d" % ngroups,
                                      "members": members})
        if st != 201:
            bad.append(st)
        ngroups += 1
    T = asof_pause()
    HEAVY = "/reports/v1/big/Groups?asOf=%d&count=1&filter=%s" % (T, quote_all('displayName co "g"'))
    st, _, heavy_want, heavy_s = get(HEAVY)
    c.ok(st == 200, "heavy read without a limit answers", (st, heavy_want if st != 200 else ""))
    if st != 200 or heavy_s >= HEAVY_MIN_S:
        break
c.ok(not bad, "big groups created", bad[:5])
print("big: %d users, %d groups of %d members; heavy read %.2f s without a limit"
      % (N_USERS, ngroups, N_USERS, heavy_s))
c.ok(heavy_s >= HEAVY_MIN_S, "the heavy read takes at least %.1f s without a limit" % HEAVY_MIN_S, heavy_s)
c.ok(isinstance(heavy_want, dict) and heavy_want.get("totalResults") == ngroups,
     "heavy read: every group matches", heavy_want.get("totalResults") if isinstance(heavy_want, dict) else None)

# after T: changes the reads at T must not see
s.patch("/Users/" + small_ids[0], {"schemas": [PATCHOP],
                                   "Operations": [{"op": "replace", "path": "title", "value": "later"}]})
b.patch("/Users/" + uids[0], {"schemas": [PATCHOP],
                              "Operations": [{"op": "replace", "path": "title", "value": "later"}]})

NORMAL = [
    ("small", "/reports/v1/small/Users?asOf=%d" % T),
    ("small", "/reports/v1/small/Users?asOf=%d&filter=%s" % (T, quote_all('title eq "t1"'))),
    ("small", "/reports/v1/small/Groups?asOf=%d" % T),
    ("small", "/reports/v1/small/Groups?asOf=%d&filter=%s" % (T, quote_all('members.value eq "%s"' % small_ids[1]))),
    ("small", "/reports/v1/small/Users/%s?asOf=%d" % (small_ids[0], T)),
    ("small", "/reports/v1/small/Groups/%s?asOf=%d" % (sg["id"], T)),
    ("big", "/reports/v1/big/Users/%s?asOf=%d" % (uids[0], T)),
    ("big", "/reports/v1/big/Users?asOf=%d&count=3" % T),
]
want = {}
for tenant, p in NORMAL:
    st, _, j, _ = get(p, tenant)
    c.ok(st == 200, "without a limit: " + p, st)
    want[p] = j
c.ok(want[NORMAL[4][1]].get("title") == "t0", "the small user as it was at T", want[NORMAL[4][1]])

# ---- a bad value is refused naming the flag; config file and environment
p = cli("serve", "--data", srv.data, "--report-ms", "0", check=False)
c.ok(p.returncode != 0 and "--report-ms" in p.stderr, "--report-ms 0 refused naming the flag", p.stderr)
p = cli("serve", "--data", srv.data, "--report-ms", "5s", check=False)
c.ok(p.returncode != 0 and "--report-ms" in p.stderr, "--report-ms 5s refused naming the flag", p.stderr)
conf = os.path.join(srv.root, "serve.conf")
with open(conf, "w") as f:
    f.write("report-ms = 1234\n")
p = cli("config", "check", "--config", conf, check=False)
c.ok(p.returncode == 0 and json.loads(p.stdout or "{}").get("report-ms") == "1234",
     "config check shows report-ms from the file", (p.returncode, p.stdout, p.stderr))

# ---- the same server with a tiny limit
c.ok(srv.stop() == 0, "server stopped cleanly")
srv.extra = ["--report-ms", str(LIMIT_MS)]
srv.start()
m0 = metrics()

for tenant, p in NORMAL:  # under the limit: the same answers
    st, _, j, dt = get(p, tenant)
    c.ok(st == 200 and j == want[p], "under the limit, the same answer: " + p, (st, dt, j if st != 200 else ""))

st, h, j, dt = get(HEAVY)
c.error_body(st, j, 400, "tooMany", "the heavy read at the limit")
detail = (j or {}).get("detail", "") if isinstance(j, dict) else ""
c.ok("--report-ms" in detail and ("%d ms" % LIMIT_MS) in detail, "the detail names the flag and its value", detail)
c.ok("filter" in detail and "asOf does not help" in detail and "operator" in detail,
     "the detail says what to do (narrow the filter, not another asOf, ask the operator)", detail)
c.ok("retry-after" not in h, "no Retry-After: retrying the same read cannot help", h)
c.ok(dt < heavy_s / 2 and dt < LIMIT_MS / 1000.0 + 1.5,
     "stopped near the limit (%.3f s; %.2f s without a limit)" % (dt, heavy_s), dt)
print("heavy read with --report-ms %d: %d after %.3f s (%.2f s without the limit)" % (LIMIT_MS, st, dt, heavy_s))

# the worker is free at once: a read sent right after the 400 answers promptly
st, _, j, dt = get(NORMAL[0][1], "small")
c.ok(st == 200 and j == want[NORMAL[0][1]] and dt < 1.0,
     "right after the stopped read, another tenant's read answers promptly", (st, dt))

# another tenant's read queued behind a heavy one (one worker) waits at most
# about the limit, not the heavy read's full time
res = {}


def heavy_bg():
    res["heavy"] = get(HEAVY)


th = threading.Thread(target=heavy_bg)
th.start()
time.sleep(0.03)
st, _, j, dt = get(NORMAL[1][1], "small")
th.join(120)
c.ok(st == 200 and j == want[NORMAL[1][1]], "the queued read of another tenant answers right", st)
c.ok(dt < LIMIT_MS / 1000.0 + 1.0 and dt < heavy_s / 2,
     "queued behind the heavy read, it waited about the limit (%.3f s), not %.2f s" % (dt, heavy_s), dt)
hs, _, hj, _ = res.get("heavy", (0, {}, None, 0))
c.error_body(hs, hj, 400, "tooMany", "the second heavy read")

# one resource is held to the same limit (a group of N_USERS members is
# cheaper than the limit: it answers, and equals the answer without one)
gid = heavy_want["Resources"][0]["id"] if isinstance(heavy_want, dict) and heavy_want.get("Resources") else None
if gid:
    st, _, j, dt = get("/reports/v1/big/Groups/%s?asOf=%d" % (gid, T))
    c.ok(st in (200, 400), "one big group at T: answered or stopped", st)
    if st == 200:
        c.ok(j == heavy_want["Resources"][0], "one big group at T equals the list's", gid)
    else:
        c.error_body(st, j, 400, "tooMany", "one big group at T")

m1 = metrics()
over = m1.get("over_limit", 0) - m0.get("over_limit", 0)
c.ok(over >= 2, "metrics: scimlog_report_jobs_total{result=\"over_limit\"} counts the stopped reads", (m0, m1))
c.ok(m1.get("done", 0) - m0.get("done", 0) >= len(NORMAL) + 2, "metrics: the other reads count as done", (m0, m1))
c.ok(m1.get("running", -1) == 0 and m1.get("waiting", -1) == 0, "metrics: nothing left running or waiting", m1)

c.ok(srv.stop() == 0, "server stopped cleanly")
with open(os.path.join(srv.root, "serve.log"), "rb") as f:
    log = f.read().decode(errors="replace")
c.ok("report_over_limit" in log or "stopped at its time limit" in log,
     "the server log names the stopped read", log[-2000:])
c.ok("ERROR: AddressSanitizer" not in log and "LeakSanitizer" not in log, "no sanitizer report", log[-2000:])

srv.cleanup()
c.done()
