"""0725 — POST /Users/.search and /Groups/.search (RFC 7644 3.4.3) answer
like the GET list they mirror, with bad SearchRequests refused; the server
also listens on IPv6 loopback ([::1]:PORT)."""
import http.client
import json
import socket
import subprocess
import time
from scimtest import Server, Check, USER, GROUP, BIN, free_port

c = Check()
srv = Server(tenants=("a", "b")).start()
try:
    ca, cb = srv.client("a"), srv.client("b")
    ids = []
    for i in range(5):
        st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "s%d@x" % i,
                                      "emails": [{"type": "work", "value": "s%d@x" % i}],
                                      "title": "t%d" % (i % 2)})
        c.ok(st == 201, "create s%d" % i, (st, u))
        ids.append(u["id"])
    st, _, g = ca.post("/Groups", {"schemas": [GROUP], "displayName": "Eng",
                                   "members": [{"value": ids[0]}]})
    c.ok(st == 201, "create group", (st, g))
    SR = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

    st, _, j = ca.raw("POST", "/Users/.search", {"schemas": [SR], "filter": 'title eq "t1"',
                                                 "attributes": ["userName"], "startIndex": 1, "count": 10})
    c.ok(st == 200 and j["totalResults"] == 2 and len(j["Resources"]) == 2,
         ".search filter + count", (st, j))
    c.ok(all(set(r) <= {"id", "schemas", "userName", "meta"} and "title" not in r for r in j["Resources"]),
         ".search attributes projection", j)
    st2, _, j2 = ca.get('/Users?filter=title+eq+%22t1%22&attributes=userName&startIndex=1&count=10')
    c.ok(st2 == 200 and j2["Resources"] == j["Resources"], ".search equals GET list", (j, j2))

    st, _, j = ca.raw("POST", "/Users/.search", {"schemas": [SR], "startIndex": 2, "count": 2})
    c.ok(st == 200 and j["totalResults"] == 5 and j["startIndex"] == 2 and len(j["Resources"]) == 2,
         ".search paging", (st, j))
    st, _, j = ca.raw("POST", "/Users/.search", {"schemas": [SR], "filter": 'emails[type eq "work"].value eq "s3@x"',
                                                 "excludedAttributes": "emails"})
    c.ok(st == 200 and j["totalResults"] == 1 and j["Resources"][0]["id"] == ids[3]
         and "emails" not in j["Resources"][0], ".search value path + excludedAttributes string", (st, j))
    st, _, j = ca.raw("POST", "/Groups/.search", {"schemas": [SR], "filter": 'displayName eq "eng"',
                                                  "excludedAttributes": ["members"]})
    c.ok(st == 200 and j["totalResults"] == 1 and "members" not in j["Resources"][0],
         "groups .search excludedAttributes=members", (st, j))
    st, _, j = ca.raw("POST", "/Users/.search", "")
    c.ok(st == 200 and j["totalResults"] == 5, "empty .search body lists all", (st, j))
    st, _, j = cb.raw("POST", "/Users/.search", {"schemas": [SR]})
    c.ok(st == 200 and j["totalResults"] == 0, ".search is per tenant", (st, j))

    for name, body, stype in [
        ("bad filter", {"schemas": [SR], "filter": "userName eq"}, "invalidFilter"),
        ("filter not a string", {"schemas": [SR], "filter": 5}, "invalidFilter"),
        ("count not integer", {"schemas": [SR], "count": "ten"}, "invalidValue"),
        ("attributes not list", {"schemas": [SR], "attributes": 3}, "invalidValue"),
        ("wrong schemas", {"schemas": [USER]}, "invalidValue"),
        ("unknown member", {"schemas": [SR], "fliter": "x"}, "invalidSyntax"),
        ("malformed JSON", '{"schemas":', "invalidSyntax"),
    ]:
        st, _, j = ca.raw("POST", "/Users/.search", body)
        c.error_body(st, j, 400, stype, ".search " + name)
    st, _, j = ca.raw("GET", "/Users/.search")
    c.ok(st == 404, "GET .search is a lookup of an unknown id", (st, j))
    st, _, j = ca.raw("PUT", "/Users/.search", {"schemas": [SR]})
    c.error_body(st, j, 405, None, "PUT .search")
    st, _, j = srv.client("a", token="wrong").raw("POST", "/Users/.search", {"schemas": [SR]})
    c.error_body(st, j, 401, None, ".search needs the token")
    st, _, j = ca.get("/Users?count=0")
    c.ok(st == 200 and j["totalResults"] == 5, ".search wrote nothing", j)
    st, _, j = ca.get("/Users/%s%%00tail" % ids[0])
    c.error_body(st, j, 400, "invalidValue", "encoded NUL in the path")
    st, _, j = ca.get("/Users?filter=userName+eq+%22s1@x%00%22")
    c.error_body(st, j, 400, "invalidValue", "encoded NUL in the query")
finally:
    srv.cleanup()

# IPv6 loopback
has_v6 = True
try:
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    s.close()
except OSError:
    has_v6 = False
if has_v6:
    srv6 = Server(tenants=("v6",))
    port = free_port()
    log = open(srv6.root + "/serve6.log", "wb")
    p = subprocess.Popen([BIN, "serve", "--data", srv6.data, "--listen", "[::1]:%d" % port],
                         stdout=log, stderr=log)
    try:
        ok = False
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("::1", port, timeout=2)
                conn.request("GET", "/scim/v2/v6/Users",
                             headers={"Authorization": "Bearer " + srv6.tokens["v6"]["secret"]})
                r = conn.getresponse()
                body = json.loads(r.read())
                ok = r.status == 200 and body["totalResults"] == 0
                break
            except OSError:
                time.sleep(0.1)
        c.ok(ok, "serves on [::1]")
    finally:
        p.terminate()
        p.wait(timeout=30)
        srv6.cleanup()
    bad = subprocess.run([BIN, "serve", "--data", "/nonexistent-never", "--listen", "[::1:80"],
                         capture_output=True, text=True, timeout=30)
    c.ok(bad.returncode != 0 and "listen" in bad.stderr, "bad [::1 listen refused", bad.stderr)
else:
    print("no IPv6 loopback on this machine; IPv6 listen not checked")
c.done()
