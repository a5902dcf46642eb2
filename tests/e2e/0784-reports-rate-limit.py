"""0784 — the reports API counts against its tenant's rate limit: a tenant
over its bucket gets 429 with Retry-After and a SCIM error naming it on
/reports/v1/ as on /scim/v2/ (one bucket for both). Before, reports were
not limited at all (a tenant held to 20/s on SCIM read change pages as
fast as it liked). Only a live token of the tenant the URL names takes
from the bucket: a stranger's bad tokens aimed at a tenant's reports are
401 and leave that tenant's bucket alone. Another tenant is served."""
import time
from scimtest import Check, Server, USER

c = Check()
srv = Server(tenants=("a", "b"), extra=["--rate-limit", "20/40"]).start()
a, b = srv.client("a"), srv.client("b")
try:
    time.sleep(2.5)  # buckets full
    seen, last = {}, None
    for _ in range(100):
        st, h, j = a.raw("GET", "/reports/v1/a/changes?count=1", base=False)
        seen[st] = seen.get(st, 0) + 1
        if st == 429:
            last = (h, j)
    c.ok(seen.get(200, 0) >= 30 and seen.get(429, 0) >= 30, "a burst of reports is limited", seen)
    if last:
        h, j = last
        c.error_body(429, j, 429, None, "a reports request over the limit")
        c.ok("tenant 'a'" in j.get("detail", "") and "rate limit" in j.get("detail", ""),
             "the detail names the tenant and its limit", j)
        c.ok(h.get("retry-after", "").isdigit(), "Retry-After is set", h)
    st, _, j = a.get("/Users?count=1")
    c.ok(st == 429, "the SCIM API shares the bucket", (st, j))

    st, _, j = b.raw("GET", "/reports/v1/b/changes?count=1", base=False)
    c.ok(st == 200, "another tenant's reports are served", (st, j))
    stranger = srv.client("b", token="not-a-token")
    sts = {stranger.raw("GET", "/reports/v1/b/changes?count=1", base=False)[0] for _ in range(100)}
    c.ok(sts == {401}, "a stranger's requests are 401", sts)
    sts = {b.raw("GET", "/reports/v1/b/changes?count=1", base=False)[0] for _ in range(10)}
    c.ok(sts == {200}, "the stranger did not spend b's bucket", sts)
    time.sleep(2.5)
    st, _, j = a.raw("GET", "/reports/v1/a/changes?count=1", base=False)
    c.ok(st == 200, "the bucket refills", (st, j))
finally:
    srv.cleanup()
c.done()
