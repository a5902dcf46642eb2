"""0788 — the change feed and a resource's history refuse a query
parameter they do not know (400 invalidValue naming it), as saved reports
already did: before, `changes?form=-1d` (a typo of from) or `since=` were
ignored and the whole feed came back as if it answered the question. The
documented parameters, in any case, still work."""
from scimtest import Check, Server, USER

c = Check()
srv = Server().start()
cl = srv.client()
try:
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "feedme"})
    uid = u["id"]
    for path in ("/reports/v1/t1/changes", "/reports/v1/t1/resources/%s/history" % uid):
        for q in ("form=-1d", "since=-1d", "until=-1m", "filter=action", "limit=5", "Since="):
            st, _, j = cl.raw("GET", path + "?" + q, base=False)
            c.error_body(st, j, 400, "invalidValue", "%s?%s" % (path, q))
            c.ok(q.split("=")[0].lower() in j.get("detail", ""), "%s?%s: the detail names the parameter" % (path, q), j)
        for q in ("from=-1d", "To=9999999999999", "action=create", "verdict=applied", "count=5", "order=asc",
                  "resourceType=User", "userName=feedme", "attribute=userName", "actor=x", "status=201", "format=json"):
            st, _, j = cl.raw("GET", path + "?" + q, base=False)
            c.ok(st == 200, "%s?%s is served" % (path, q), (st, j))
    st, _, j = cl.raw("GET", "/reports/v1/t1/changes?userName=feedme&action=create", base=False)
    c.ok(st == 200 and [x["id"] for x in j["changes"]] == [uid], "a known filter still filters", j)
finally:
    srv.cleanup()
c.done()
