"""1600 — deep paging (issue 13): RFC 9865 cursor paging (`cursor`,
`nextCursor`) enumerates every user exactly once in id order, for GET and
.search, with or without a filter; bad cursors are a 400 invalidCursor;
ServiceProviderConfig advertises it. Index paging (startIndex) served from
remembered positions gives the same pages as a fresh count, also after a
create or delete shifts the positions."""
from scimtest import Server, Check, USER, GROUP

c = Check()
srv = Server(tenants=("a", "b")).start()
try:
    ca, cb = srv.client("a"), srv.client("b")
    ids = []
    for i in range(23):
        st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "p%02d@x" % i,
                                      "title": "odd" if i % 2 else "even"})
        c.ok(st == 201, "create p%02d" % i, (st, u))
        ids.append(u["id"])
    st, _, u = cb.post("/Users", {"schemas": [USER], "userName": "other@x"})
    c.ok(st == 201, "create in tenant b", (st, u))
    ids.sort()

    st, _, spc = ca.get("/ServiceProviderConfig")
    pg = spc.get("pagination", {})
    c.ok(st == 200 and pg.get("cursor") is True and pg.get("index") is True
         and pg.get("defaultPaginationMethod") == "index" and pg.get("maxPageSize") == 1000,
         "ServiceProviderConfig advertises cursor and index paging", spc)

    def walk(first, nxt):
        seen, pages, cur = [], 0, None
        for _ in range(50):
            st, _, j = ca.get(first if cur is None else nxt(cur))
            if st != 200:
                return None, (st, j)
            pages += 1
            seen += [r["id"] for r in j["Resources"]]
            c.ok("startIndex" not in j and j["itemsPerPage"] == len(j["Resources"]),
                 "cursor page shape", j)
            cur = j.get("nextCursor")
            if not cur:
                return seen, pages
        return None, "no end"

    seen, pages = walk("/Users?cursor&count=5", lambda k: "/Users?count=5&cursor=" + k)
    c.ok(seen == ids and pages == 5, "cursor walk: every user once, id order, 5 pages", (seen, pages))
    seen, pages = walk("/Users?cursor=&count=23", lambda k: "/Users?count=23&cursor=" + k)
    c.ok(seen == ids and pages == 1, "exactly one full page has no nextCursor", (seen, pages))
    odd = [u for u in ids]
    st, _, j = ca.get('/Users?filter=title+eq+%22odd%22&count=1000')
    odd = sorted(r["id"] for r in j["Resources"])
    seen, pages = walk('/Users?filter=title+eq+%22odd%22&cursor&count=4',
                       lambda k: '/Users?filter=title+eq+%22odd%22&count=4&cursor=' + k)
    c.ok(seen == odd and len(odd) == 11, "cursor walk with a filter", (seen, odd))

    SR = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    st, _, j = ca.raw("POST", "/Users/.search", {"schemas": [SR], "cursor": "", "count": 10})
    c.ok(st == 200 and [r["id"] for r in j["Resources"]] == ids[:10] and j.get("nextCursor"),
         ".search first cursor page", j)
    st, _, j2 = ca.raw("POST", "/Users/.search", {"schemas": [SR], "cursor": j["nextCursor"], "count": 10})
    c.ok(st == 200 and [r["id"] for r in j2["Resources"]] == ids[10:20], ".search next cursor page", j2)
    st, _, j = ca.raw("POST", "/Users/.search", {"schemas": [SR], "cursor": 5})
    c.error_body(st, j, 400, "invalidCursor", ".search cursor must be a string")

    for bad in ("zz", "abc", "00", "%20"):
        st, _, j = ca.get("/Users?cursor=" + bad)
        c.error_body(st, j, 400, "invalidCursor", "bad cursor %r" % bad)
    st, _, j = ca.get("/Users?cursor&startIndex=2")
    c.error_body(st, j, 400, "invalidValue", "cursor and startIndex together")
    # a cursor from tenant a used on tenant b lists b's users after that id
    st, _, j = cb.get("/Users?cursor&count=1")
    c.ok(st == 200 and j["totalResults"] == 1 and "nextCursor" not in j, "tenant b alone", j)

    # `userName eq` / `id eq` lists answered by one lookup (fast path) say
    # what the general list path says (a cursor takes the general path)
    for f in ('userName+eq+%22p03@x%22', 'userName+eq+%22P03@X%22', 'id+eq+%22' + ids[4] + '%22',
              'userName+eq+%22p03@x%22+and+title+eq+%22odd%22', 'userName+eq+%22p04@x%22+and+title+eq+%22odd%22',
              'userName+eq+%22nobody@x%22', 'id+eq+%22nope%22'):
        st, _, fast = ca.get("/Users?filter=" + f)
        st2, _, slow = ca.get("/Users?cursor&filter=" + f)
        c.ok(st == st2 == 200 and fast["Resources"] == slow["Resources"] and
             fast["totalResults"] == slow["totalResults"] == len(fast["Resources"]) and
             fast["startIndex"] == 1 and fast["itemsPerPage"] == len(fast["Resources"]),
             "filter %s: one-lookup answer equals the general one" % f, (fast, slow))
    st, _, j = ca.get('/Users?filter=userName+eq+%22p03@x%22')
    c.ok(len(j["Resources"]) == 1 and j["Resources"][0]["meta"]["location"].endswith("/Users/" + j["Resources"][0]["id"]),
         "one-lookup answer carries meta.location", j)
    st, _, j = cb.get('/Users?filter=userName+eq+%22p03@x%22')
    c.ok(st == 200 and j["totalResults"] == 0, "one-lookup answer stays in its tenant", j)

    # index paging: sequential pages (remembered positions) == fresh pages
    def index_pages():
        out = []
        for s in range(1, 24, 5):
            st, _, j = ca.get("/Users?startIndex=%d&count=5" % s)
            out.append([r["id"] for r in j["Resources"]])
        return out
    first = index_pages()
    c.ok(sum(first, []) == ids, "index pages in id order", first)
    again = index_pages()
    c.ok(again == first, "index pages again (from remembered positions)", again)
    st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "new@x"})
    c.ok(st == 201, "create shifts positions", (st, u))
    ids2 = sorted(ids + [u["id"]])
    after = []
    for s in range(1, 25, 5):
        st, _, j = ca.get("/Users?startIndex=%d&count=5" % s)
        after += [r["id"] for r in j["Resources"]]
    c.ok(after == ids2, "index pages after a create", (after, ids2))
    st, _, _ = ca.delete("/Users/" + ids[0])
    c.ok(st == 204, "delete shifts positions", st)
    after = []
    for s in range(1, 25, 5):
        st, _, j = ca.get("/Users?startIndex=%d&count=5" % s)
        after += [r["id"] for r in j["Resources"]]
    c.ok(after == ids2[1:] if ids2[0] == ids[0] else [i for i in ids2 if i != ids[0]],
         "index pages after a delete", after)
finally:
    srv.cleanup()
c.done()
