"""1610 — the read fast paths (issue 13 item 3) answer what the general path
answers. An unfiltered page of users splices the stored texts; `userName eq`
and `id eq` alone are answered from the index without evaluating the filter
on the resource; GET by id splices the stored text. Each is compared with
the same query forced through the general path (a projection that removes
nothing, or an `and id pr` that must be evaluated), for users with Unicode
names, extensions, a user-defined "version" key, several emails, and after
PATCHes. While another client renames users back and forth, every `userName
eq` answer names a user that really carries that name. Tenants do not see
each other's users through any of these paths."""
import threading
import unicodedata
import urllib.parse

from scimtest import Server, Check, USER, ENT, patch_body

c = Check()
srv = Server(tenants=("a", "b")).start()
try:
    ca, cb = srv.client("a"), srv.client("b")
    EXT = "urn:example:params:scim:schemas:extension:acme:2.0:User"
    names = ["plain@x.example", "Straße@x.example", "ǅemal@x.example", "ＡＢＣ@x.example",
             "İstanbul@x.example", "quote\"back\\slash@x.example", "sp ace/sl@x.example",
             "emoji😀@x.example", "café@x.example"]
    for i in range(14):
        names.append("user%02d@x.example" % i)
    ids = {}
    for i, n in enumerate(names):
        body = {"schemas": [USER, ENT, EXT], "userName": n, "displayName": "D %d" % i,
                "active": i % 2 == 0, "emails": [{"value": "e%d@x.example" % i, "type": "work"},
                                                 {"value": "h%d@y.example" % i, "type": "home"}],
                ENT: {"employeeNumber": str(i), "manager": {"value": "m%d" % i}},
                EXT: {"version": "W/\"99\"", "score": i * 1.5, "tags": ["t%d" % i, "x"]}}
        st, _, u = ca.post("/Users", body)
        c.ok(st == 201, "create %r" % n, (st, u))
        ids[n] = u["id"]
    for n in names[:5]:
        st, _, _ = ca.patch("/Users/" + ids[n], patch_body(
            {"op": "replace", "path": "title", "value": "T " + n}))
        c.ok(st in (200, 204), "patch %r" % n, st)
    st, _, ub = cb.post("/Users", {"schemas": [USER], "userName": "plain@x.example"})
    c.ok(st == 201, "the same userName in tenant b", (st, ub))

    SLOW = "excludedAttributes=nickName"  # projects, removes nothing

    for n, i in ids.items():
        st1, h1, j1 = ca.get("/Users/" + i)
        st2, h2, j2 = ca.get("/Users/%s?%s" % (i, SLOW))
        c.ok(st1 == st2 == 200 and j1 == j2, "GET by id fast == general path for %r" % n, (j1, j2))
        c.ok(h1.get("etag") == h2.get("etag") and h1.get("etag"), "same ETag for %r" % n, (h1, h2))

    total = len(names)
    for start, count in ((1, 100), (1, 5), (3, 7), (total - 2, 10), (total, 1),
                         (total + 1, 10), (1, 0), (0, 4), (2, 1000)):
        q = "/Users?startIndex=%d&count=%d" % (start, count)
        st1, _, j1 = ca.get(q)
        st2, _, j2 = ca.get(q + "&" + SLOW)
        c.ok(st1 == st2 == 200 and j1 == j2, "list page %d/%d fast == general path" % (start, count),
             (j1, j2))
        c.ok(j1["totalResults"] == total and j1["itemsPerPage"] == len(j1["Resources"]),
             "list page %d/%d counts" % (start, count), j1)
        for r in j1["Resources"]:
            c.ok(r["meta"]["location"].endswith("/scim/v2/a/Users/" + r["id"]),
                 "location of a spliced page element", r["meta"])
    st, _, j = cb.get("/Users?count=100")
    c.ok(st == 200 and [r["id"] for r in j["Resources"]] == [ub["id"]],
         "tenant b's page holds only its own user", j)

    def filt(cl, f, extra=""):
        return cl.get("/Users?filter=" + urllib.parse.quote(f) + extra)

    def lit(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'

    for n, i in ids.items():
        variants = {n, n.upper(), n.lower(), unicodedata.normalize("NFKC", n).casefold()}
        for v in variants:
            st1, _, j1 = filt(ca, "userName eq " + lit(v))
            st2, _, j2 = filt(ca, "userName eq %s and id pr" % lit(v))
            c.ok(st1 == st2 == 200 and j1 == j2,
                 "userName eq %r: index answer == evaluated answer" % v, (j1, j2))
        st, _, j = filt(ca, "userName eq " + lit(n))
        c.ok(st == 200 and j["totalResults"] == 1 and j["Resources"][0]["id"] == i,
             "userName eq %r finds its user" % n, j)
        st1, _, j1 = filt(ca, "id eq " + lit(i))
        st2, _, j2 = filt(ca, "id eq %s and id pr" % lit(i))
        c.ok(st1 == st2 == 200 and j1 == j2 and j1["totalResults"] == 1, "id eq fast == evaluated",
             (j1, j2))
        st1, _, j1 = filt(ca, "id eq " + lit(i.upper()))
        st2, _, j2 = filt(ca, "id eq %s and id pr" % lit(i.upper()))
        c.ok(st1 == st2 == 200 and j1 == j2, "id eq in another case: fast == evaluated", (j1, j2))
        SR = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
        st3, _, j3 = ca.post("/Users/.search", {"schemas": [SR], "filter": "userName eq " + lit(n)})
        c.ok(st3 == 200 and j3 == j, ".search userName eq == GET filter for %r" % n, (j3, j))
    for f in ('userName eq "nobody@x.example"', 'id eq "0000"', 'userName eq ""'):
        st1, _, j1 = filt(ca, f)
        c.ok(st1 == 200 and j1["totalResults"] == 0 and j1["Resources"] == [], "no match: %s" % f, j1)
    st, _, j = filt(cb, 'userName eq "Straße@x.example"')
    c.ok(st == 200 and j["totalResults"] == 0, "tenant b does not find tenant a's user", j)
    st, _, j = filt(cb, "id eq " + lit(ids["user01@x.example"]))
    c.ok(st == 200 and j["totalResults"] == 0, "tenant b: id eq of tenant a's user finds nothing", j)
    st, _, j = filt(ca, "userName eq " + lit("plain@x.example"))
    c.ok(st == 200 and j["Resources"][0]["id"] == ids["plain@x.example"],
         "tenant a finds its own, not b's", j)

    # renames racing the index answer: an answer is empty or names a user
    # whose userName is the one asked for
    stop = threading.Event()
    renamer = srv.client("a")
    errors = []

    def rename():
        k = 0
        while not stop.is_set():
            for n in ("user00@x.example", "user01@x.example"):
                new = ("moved-" + n) if k % 2 == 0 else n
                st, _, _ = renamer.patch("/Users/" + ids[n], patch_body(
                    {"op": "replace", "path": "userName", "value": new}))
                if st not in (200, 204):
                    errors.append(st)
            k += 1
        # put the names back
        for n in ("user00@x.example", "user01@x.example"):
            renamer.patch("/Users/" + ids[n], patch_body(
                {"op": "replace", "path": "userName", "value": n}))

    t = threading.Thread(target=rename)
    t.start()
    bad, seen = [], 0
    try:
        for k in range(300):
            for n in ("user00@x.example", "moved-user01@x.example", "USER01@X.EXAMPLE"):
                st, _, j = filt(ca, "userName eq " + lit(n))
                if st != 200:
                    bad.append((n, st, j))
                    continue
                for r in j["Resources"]:
                    seen += 1
                    if r["userName"].casefold() != n.casefold():
                        bad.append((n, r["userName"]))
    finally:
        stop.set()
        t.join()
    c.ok(not bad, "every userName eq answer during renames names that user", bad[:5])
    c.ok(not errors, "renames succeeded", errors[:5])
    c.ok(seen > 0, "the race saw matches", seen)
finally:
    srv.stop()
c.done()
