"""0797 — per-tenant rate limits: a tenant over its token bucket gets 429
with Retry-After and a SCIM error; another tenant is served all the while
(its latency printed, not asserted); the bucket refills; bad flags are
refused."""
import threading
import time
from scimtest import Check, Server, BIN
import subprocess

c = Check()
srv = Server(tenants=("a", "b"), extra=["--rate-limit", "20/40"])
srv.start()

answers, lat_b, b_status = {}, [], {}
stop = threading.Event()


def tenant_b():
    cl = srv.client("b")
    while not stop.is_set():
        t0 = time.time()
        st, _, _ = cl.get("/Users?count=1")
        lat_b.append(time.time() - t0)
        b_status[st] = b_status.get(st, 0) + 1
        time.sleep(0.1)  # 10 requests/s: within b's own limit


tb = threading.Thread(target=tenant_b)
tb.start()
cl = srv.client("a")
first429 = None
t_end = time.time() + 3
while time.time() < t_end:
    st, h, j = cl.get("/Users?count=1")
    answers[st] = answers.get(st, 0) + 1
    if st == 429 and first429 is None:
        first429 = (h, j)
stop.set()
tb.join()
c.ok(40 <= answers.get(200, 0) <= 40 + 3 * 20 + 10 and answers.get(429, 0) > 50,
     "tenant a gets its burst and its rate, then 429", answers)
h, j = first429 or ({}, {})
c.ok(int(h.get("retry-after", "0")) >= 1, "429 carries Retry-After", h)
c.ok(j and j.get("status") == "429" and "rate limit" in j.get("detail", "") and "'a'" in j.get("detail", ""),
     "429 is a SCIM error naming the tenant and its limit", j)
c.ok(set(b_status) == {200}, "tenant b is served while a is throttled", b_status)
lat_b.sort()
if lat_b:
    print("tenant b while a is throttled: %d requests, p50 %.1f ms, max %.1f ms" % (
        len(lat_b), lat_b[len(lat_b) // 2] * 1e3, lat_b[-1] * 1e3))
time.sleep(2.5)
st, _, _ = cl.get("/Users?count=1")
c.ok(st == 200, "the bucket refills", st)
srv.cleanup()

import os
import tempfile
for bad in ("0", "fast", "10/0.5", "-1", "5/", "/5", ""):
    p = subprocess.run([BIN, "serve", "--rate-limit", bad, "--data", os.path.join(tempfile.gettempdir(), "never-made")],
                       capture_output=True, text=True, timeout=30)
    c.ok(p.returncode != 0 and "--rate-limit" in p.stderr, "--rate-limit %r is refused" % bad, p.stderr)
c.done()
