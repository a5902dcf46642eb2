"""0785 — attributes= and excludedAttributes= name at most 100 paths each
(400 invalidValue naming the parameter and the limit): every resource of a
page is projected through every name, so before, a .search body of 10,000
names (160 KB) made one answer of 1,000 users take 75 s of a pool thread
(ASan), and a few such requests held every thread. 100 names still work,
in a query string, a SearchRequest and on a write's answer; a write whose
answer asks for too many is refused before anything is written."""
import urllib.parse
from scimtest import Check, Server, USER

SR = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
c = Check()
srv = Server().start()
cl = srv.client()
try:
    for i in range(5):
        cl.post("/Users", {"schemas": [USER], "userName": "p%d" % i, "title": "t"})
    many = ["emails.value"] * 101
    ok = ["emails.value"] * 99 + ["userName"]
    for key in ("attributes", "excludedAttributes"):
        st, _, j = cl.post("/Users/.search", {"schemas": [SR], key: many, "count": 1000})
        c.error_body(st, j, 400, "invalidValue", ".search %s of 101 names" % key)
        c.ok(key in j.get("detail", "") and "100" in j.get("detail", ""), "the detail names %s and the limit" % key, j)
        st, _, j = cl.post("/Users/.search", {"schemas": [SR], key: ",".join(many)})
        c.ok(st == 400, ".search %s as one comma list of 101 names" % key, (st, j))
        st, _, j = cl.get("/Users?%s=%s" % (key, urllib.parse.quote(",".join(many))))
        c.error_body(st, j, 400, "invalidValue", "GET %s of 101 names" % key)
        st, _, j = cl.post("/Users/.search", {"schemas": [SR], key: ok})
        c.ok(st == 200 and j["totalResults"] == 5, ".search %s of 100 names works" % key, (st, j))
    st, _, j = cl.get("/Users?attributes=" + urllib.parse.quote(",".join(ok)))
    c.ok(st == 200 and all(set(u) <= {"id", "schemas", "userName"} for u in j["Resources"]),
         "GET with 100 names projects", j.get("Resources", [])[:1])
    st, _, j = cl.post("/Users?attributes=" + urllib.parse.quote(",".join(many)),
                       {"schemas": [USER], "userName": "never"})
    c.ok(st == 400, "a write asking for 101 names in its answer is refused", (st, j))
    st, _, j = cl.get("/Users?filter=" + urllib.parse.quote('userName eq "never"'))
    c.ok(st == 200 and j["totalResults"] == 0, "and nothing was written", j)
    st, _, j = cl.post("/Users?attributes=userName", {"schemas": [USER], "userName": "written"})
    c.ok(st == 201 and set(j) <= {"id", "schemas", "userName"}, "a write with a short list works", (st, j))
finally:
    srv.cleanup()
c.done()
