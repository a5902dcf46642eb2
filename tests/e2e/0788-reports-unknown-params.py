"""0788 — the change feed and a resource's history refuse a query
parameter they do not know (400 invalidValue naming it), as saved reports
already did: before, `changes?form=-1d` (a typo of from) or `since=` were
ignored and the whole feed came back as if it answered the question. The
documented parameters, in any case, still work. The same for point-in-time
reads (`Users?asOf=`, `Users/{id}?asOf=`)."""
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
    # point-in-time reads too: a list takes asOf, filter, startIndex and
    # count (attributes, cursor and sortBy are not offered there: refused,
    # not ignored), one resource asOf alone
    T = "asOf=9999999999999"
    for path, bad, good in (("/reports/v1/t1/Users", ("attributes=userName", "excludedAttributes=title",
                                                      "cursor=", "sortBy=userName", "bogus=1"),
                             ("filter=userName%20eq%20%22feedme%22", "startIndex=1", "Count=5")),
                            ("/reports/v1/t1/Users/" + uid, ("filter=userName%20pr", "count=1", "bogus=1"), ())):
        for q in bad:
            st, _, j = cl.raw("GET", "%s?%s&%s" % (path, T, q), base=False)
            c.error_body(st, j, 400, "invalidValue", "%s?%s" % (path, q))
            c.ok(q.split("=")[0].lower() in (j or {}).get("detail", ""), "%s?%s: the detail names it" % (path, q), j)
        for q in good + ("",):
            st, _, j = cl.raw("GET", "%s?%s&%s" % (path, T, q) if q else "%s?%s" % (path, T), base=False)
            c.ok(st == 200, "%s?%s is served" % (path, q), (st, j))
finally:
    srv.cleanup()
c.done()
