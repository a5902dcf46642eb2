"""0705 — case-insensitive values compare by Unicode caseless keys (NFKC of
the full case folding), over HTTP against the real server: userName
uniqueness (Straße / STRASSE, Greek, fullwidth, combining marks), filter
eq/ne/co/sw/ew on caseExact=false attributes via the index and via scans,
caseExact attributes untouched, and the same verdicts after a replay."""
import json
import os
import urllib.parse
from scimtest import Server, Check, USER, GROUP, cli

c = Check()
srv = Server().start()


def q(f):
    return "?filter=" + urllib.parse.quote(f)


def ids(j):
    return sorted(r["id"] for r in (j or {}).get("Resources", []))


try:
    cl = srv.client()
    st, _, a = cl.post("/Users", {"schemas": [USER], "userName": "Straße", "externalId": "Straße",
                                  "displayName": "ΟΔΥΣΣΕΥΣ", "nickName": "Jürgen",
                                  "emails": [{"type": "work", "value": "ＪＯ@example.com"}]})
    c.ok(st == 201, "create Straße", (st, a))
    aid = a["id"]
    c.ok(a["userName"] == "Straße", "stored as sent", a)
    for dup in ["STRASSE", "strasse", "STRAẞE", "Ｓｔｒａｓｓｅ"]:
        st, _, j = cl.post("/Users", {"schemas": [USER], "userName": dup})
        c.error_body(st, j, 409, "uniqueness", "duplicate userName %r" % dup)
    st, _, b = cl.post("/Users", {"schemas": [USER], "userName": "Émile"})
    c.ok(st == 201, "create Émile", (st, b))
    bid = b["id"]
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "E\u0301MILE"})
    c.error_body(st, j, 409, "uniqueness", "combining acute = precomposed")
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "Emile"})
    c.ok(st == 201, "no accent is another name", (st, j))
    eid = j["id"]
    # rename onto a taken key: PUT and PATCH
    st, _, j = cl.put("/Users/" + eid, {"schemas": [USER], "userName": "émile"})
    c.error_body(st, j, 409, "uniqueness", "PUT onto a folded duplicate")
    st, _, j = cl.patch("/Users/" + eid, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                          "Operations": [{"op": "replace", "path": "userName",
                                                          "value": "STRASSE"}]})
    c.error_body(st, j, 409, "uniqueness", "PATCH onto a folded duplicate")

    # filters: index seek (userName/displayName/emails eq) and scans
    for f, want in [('userName eq "STRASSE"', [aid]),
                    ('userName eq "strasse"', [aid]),
                    ('userName ne "STRASSE"', sorted([bid, eid])),
                    ('userName sw "STRAS"', [aid]),
                    ('userName ew "SSE"', [aid]),
                    ('userName co "ASS"', [aid]),
                    ('userName eq "ÉMILE"', [bid]),
                    ('userName eq "émile"', [bid]),
                    ('displayName eq "οδυσσευς"', [aid]),
                    ('displayName co "ΣΣΕ"', [aid]),
                    ('nickName eq "JÜRGEN"', [aid]),
                    ('emails.value eq "jo@EXAMPLE.com"', [aid]),
                    ('emails[value eq "Jo@Example.Com"]', [aid]),
                    ('externalId eq "Straße"', [aid]),
                    ('externalId eq "STRASSE"', [])]:
        st, _, j = cl.get("/Users" + q(f))
        c.ok(st == 200 and ids(j) == want, "filter %s" % f, (st, j, want))

    # groups: displayName is caseExact=false too
    st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "Größe"})
    c.ok(st == 201, "group", (st, g))
    st, _, j = cl.get("/Groups" + q('displayName eq "GRÖSSE"'))
    c.ok(st == 200 and ids(j) == [g["id"]], "group displayName folded", j)

    # the same views after a replay into a new dir
    srv.stop()
    into = os.path.join(srv.root, "replayed")
    cli("replay", "--data", srv.data, "--into", into)
    srv.start(data=into)
    cl = srv.client()
    st, _, j = cl.get("/Users" + q('userName eq "STRASSE"'))
    c.ok(st == 200 and ids(j) == [aid], "after replay: folded index", j)
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "straße"})
    c.error_body(st, j, 409, "uniqueness", "after replay: still unique")
    st, _, j = cl.get("/Users?count=0")
    c.ok(st == 200 and j["totalResults"] == 3, "after replay: 3 users", j)
finally:
    srv.cleanup()
c.done()
