"""1612 — `GET /Users?filter=userName eq "x"` alone is answered without the
query object and the filter AST (api/http_query.c scim_query_username_eq,
api/http.c): every query string of that shape, and every near miss that
must take the general path (other parameters, another key spelling,
escapes, a long literal, other operators and attributes), answers byte for
byte what the general path answers for the same filter (forced through it
by a second parameter that changes nothing), with the same status for the
ones the general path refuses (bad escape, %00, not UTF-8). A tenant with
a definition whose userName is `returned: never`-free but has returned
rules still gets its own path's answer."""
import http.client

from scimtest import Check, Server, USER

c = Check()
srv = Server(tenants=("a", "b")).start()
try:
    ca, cb = srv.client("a"), srv.client("b")
    names = ["plain@x.example", "Mixed.Case@x.example", "Straße@x.example", "ＡＢＣ@x.example",
             "space name@x.example", "plus+sign@x.example", "quote\"q@x.example",
             "back\\slash@x.example", "x" * 300 + "@x.example", "é"]
    ids = {}
    for n in names:
        st, _, u = ca.post("/Users", {"schemas": [USER], "userName": n})
        c.ok(st == 201, "create %r" % n, (st, u))
        ids[n] = u["id"]
    st, _, ub = cb.post("/Users", {"schemas": [USER], "userName": "plain@x.example"})

    def raw(cl, path):
        h = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        h.request("GET", "/scim/v2/%s/Users?%s" % (cl.tenant, path),
                  headers={"Authorization": "Bearer " + cl.token})
        r = h.getresponse()
        body = r.read()
        h.close()
        return r.status, body

    def pct(s, plus=False):
        out = []
        for b in s.encode():
            ch = chr(b)
            if (ch.isascii() and ch.isalnum()) or ch in "-_.~@":
                out.append(ch)
            elif ch == " " and plus:
                out.append("+")
            else:
                out.append("%%%02X" % b)
        return "".join(out)

    def lit(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    # filters: (text, the user it must find or None)
    cases = []
    for n in names:
        cases.append(('userName eq %s' % lit(n), n))
        cases.append(('USERNAME EQ %s' % lit(n.upper()), n if n.upper().casefold() == n.casefold() else None))
        cases.append(('  userName   eq\t%s  ' % lit(n.lower()), n))
    cases += [('userName eq "nobody@x.example"', None), ('userName eq ""', None),
              ('userName eq "plain@x.example" ', "plain@x.example"),
              ('userName  eq  "plain@x.example"', "plain@x.example"),
              ('userName ne "plain@x.example"', "skip"), ('userName co "plain"', "skip"),
              ('displayName eq "plain@x.example"', "skip"),
              ('userName eq "plain@x.example" or userName eq "é"', "skip"),
              ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "plain@x.example"', "plain@x.example"),
              ('userName eq plain@x.example', "skip"), ('userName eq "\\u0070lain@x.example"', "plain@x.example")]
    for f, who in cases:
        for plus in (False, True):
            q = "filter=" + pct(f, plus)
            st1, b1 = raw(ca, q)
            st2, b2 = raw(ca, q + "&excludedAttributes=nickName")  # the general path
            c.ok(st1 == st2 == 200 and b1 == b2, "fast == general for %r (plus=%s)" % (f, plus),
                 (st1, st2, b1[:300], b2[:300]))
            if who not in (None, "skip"):
                c.ok(b1.count(ids[who].encode()) == 2, "%r finds %r" % (f, who), b1[:300])
            if who is None:
                c.ok(b'"totalResults":0' in b1, "%r finds nobody" % f, b1[:300])
    # tenant b sees only its own user under the same name
    st, b = raw(cb, "filter=" + pct('userName eq "plain@x.example"'))
    c.ok(st == 200 and ub["id"].encode() in b and ids["plain@x.example"].encode() not in b,
         "tenant b's own user", b[:300])
    # near misses of the query string: other spellings of the key, more parameters
    f = pct('userName eq "plain@x.example"')
    for q in ("Filter=" + f, "filter=" + f + "&", "filter=" + f + "&count=0", "count=5&filter=" + f,
              "filter=" + f + "&startIndex=2", "filter=" + f + "&attributes=userName"):
        st1, b1 = raw(ca, q)
        st2, b2 = raw(ca, q + "&excludedAttributes=nickName")
        c.ok(st1 == st2 == 200 and b1 == b2, "near miss %r answers as the general path" % q, (b1[:200], b2[:200]))
    # refused the same way as before
    for q in ("filter=userName%20eq%20%22a%zz%22", "filter=userName%20eq%20%22a%00b%22",
              "filter=userName%20eq%20%22%ff%22", "filter=userName%20eq%20%22" + "x" * 5000 + "%22",
              "filter=userName%20eq%20%22unterminated"):
        st, b = raw(ca, q)
        c.ok(st == 400, "refused: %r" % q[:60], (st, b[:200]))
    # Groups take the general path
    st, b = raw(ca, "filter=" + pct('userName eq "x"'))
    c.ok(st == 200, "users again", st)
    h = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    h.request("GET", "/scim/v2/a/Groups?filter=" + pct('displayName eq "g"'),
              headers={"Authorization": "Bearer " + ca.token})
    r = h.getresponse()
    c.ok(r.status == 200 and b'"totalResults":0' in r.read(), "Groups filter", r.status)
finally:
    srv.cleanup()
c.done()
