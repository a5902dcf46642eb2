"""1615 — a durable POST or PUT of a user answers with the text the fold
stored, its location spliced in (issue 13 item 2), instead of serialising
the resource again: the answer must be what the general path answers. For
users with Unicode and escaped names, extensions, a user-defined "version"
key and numbers, each POST and PUT answer is compared byte for byte with
GET /Users/{id} (the stored text spliced the same way) and as JSON with the
general path (a projection that removes nothing, on GET and on the write
itself); status, ETag and the Location header are checked too. A group's
answer (members attached) and a projected write answer still take the
general path."""
import http.client
import json

from scimtest import Server, Check, USER, ENT, GROUP

c = Check()
srv = Server(tenants=("a",)).start()
try:
    ca = srv.client("a")
    conn = http.client.HTTPConnection("127.0.0.1", ca.port, timeout=30)

    def raw(method, path, body=None):
        """status, headers, body bytes (the answer as sent)"""
        h = {"Authorization": "Bearer " + ca.token,
             "Content-Type": "application/scim+json"}
        conn.request(method, "/scim/v2/a" + path,
                     body=json.dumps(body).encode() if body is not None else None,
                     headers=h)
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    EXT = "urn:example:params:scim:schemas:extension:acme:2.0:User"
    SLOW = "excludedAttributes=nickName"  # projects, removes nothing
    names = ["plain@x.example", "Straße@x.example", "ǅemal@x.example",
             "quote\"back\\slash@x.example", "sp ace/sl@x.example",
             "emoji😀@x.example", "a<b>&amp;c@x.example", "ＡＢＣ@x.example"]

    def body_of(i, n, title=None):
        b = {"schemas": [USER, ENT, EXT], "userName": n, "displayName": "D \"%d\"" % i,
             "active": i % 2 == 0,
             "emails": [{"value": "e%d@x.example" % i, "type": "work", "primary": True},
                        {"value": "h%d@y.example" % i, "type": "home"}],
             ENT: {"employeeNumber": str(i), "manager": {"value": "m%d" % i}},
             EXT: {"version": "W/\"99\"", "score": i * 1.5, "count": i, "tags": ["t%d" % i, "x"]}}
        if title:
            b["title"] = title
        return b

    for i, n in enumerate(names):
        st, h, data = raw("POST", "/Users", body_of(i, n))
        c.ok(st == 201, "create %r" % n, (st, data[:200]))
        if st != 201:
            continue
        u = json.loads(data)
        uid = u["id"]
        st2, h2, data2 = raw("GET", "/Users/" + uid)
        c.ok(st2 == 200 and data == data2, "POST answer == GET bytes for %r" % n, (data, data2))
        st3, h3, data3 = raw("GET", "/Users/%s?%s" % (uid, SLOW))
        c.ok(st3 == 200 and u == json.loads(data3), "POST answer == general path for %r" % n,
             (data, data3))
        c.ok(h.get("etag") and h.get("etag") == h2.get("etag") == u["meta"]["version"],
             "POST ETag for %r" % n, (h, h2))
        c.ok(h.get("location") == u["meta"]["location"] and
             h["location"].endswith("/scim/v2/a/Users/" + uid), "POST Location for %r" % n, h)
        c.ok(data.endswith(b'"location":' + json.dumps(h.get("location", "")).encode() + b"}}"),
             "location is meta's last member for %r" % n, data[-200:])

        st, h, data = raw("PUT", "/Users/" + uid, body_of(i, n, title="T %d" % i))
        c.ok(st == 200, "replace %r" % n, (st, data[:200]))
        st2, h2, data2 = raw("GET", "/Users/" + uid)
        c.ok(st2 == 200 and data == data2, "PUT answer == GET bytes for %r" % n, (data, data2))
        c.ok(h.get("etag") == h2.get("etag") == 'W/"2"', "PUT ETag for %r" % n, (h, h2))
        c.ok("location" not in h, "no Location header on PUT for %r" % n, h)

        # the same write through the general path (a projection)
        st, h, data = raw("PUT", "/Users/%s?%s" % (uid, SLOW), body_of(i, n, title="U %d" % i))
        st2, _, data2 = raw("GET", "/Users/" + uid)
        c.ok(st == 200 and json.loads(data) == json.loads(data2),
             "projected PUT answer == GET for %r" % n, (data, data2))

    # projected POST: the general path, attributes honoured
    st, h, data = raw("POST", "/Users?attributes=userName", body_of(99, "proj@x.example"))
    j = json.loads(data) if data else None
    c.ok(st == 201 and set(j) == {"schemas", "id", "userName"}, "projected POST answer", j)
    c.ok(h.get("location", "").endswith("/Users/" + (j or {}).get("id", "?")),
         "projected POST Location", h)

    # a group: members attached by the general path
    st, _, data = raw("POST", "/Users", body_of(100, "member@x.example"))
    mid = json.loads(data)["id"]
    st, h, data = raw("POST", "/Groups", {"schemas": [GROUP], "displayName": "G",
                                           "members": [{"value": mid}]})
    g = json.loads(data)
    c.ok(st == 201 and [m["value"] for m in g.get("members", [])] == [mid] and
         g["members"][0].get("$ref", "").endswith("/Users/" + mid),
         "group POST answer carries its members", g)
    st2, _, data2 = raw("GET", "/Groups/" + g["id"])
    c.ok(st2 == 200 and g == json.loads(data2), "group POST answer == GET", (data, data2))

    # a refused write keeps its SCIM error
    st, _, data = raw("POST", "/Users", body_of(0, names[0]))
    c.error_body(st, json.loads(data), 409, "uniqueness", "duplicate userName")
finally:
    srv.stop()
c.done()
