"""0701 — `attributes` naming a sub-attribute (RFC 7644 3.9): `members.value`
returns each group's members holding only their value, `groups.value` each
user's groups, on GET by id, lists and `.search`, bare or URN-qualified;
`excludedAttributes=members.display` keeps the members (without display).
Also `.search` refuses sortBy/sortOrder as a GET list does; HEAD answers
as GET without the body; a 405 carries Allow."""
from scimtest import Check, Server, USER, GROUP

c = Check()
srv = Server().start()
cl = srv.client()

uids = []
for i in range(3):
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "sub%d@example.com" % i,
                                  "emails": [{"value": "sub%d@example.com" % i, "type": "work"}]})
    c.ok(st == 201, "user %d created" % i, (st, j))
    uids.append(j["id"])
st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "subs",
                               "members": [{"value": u} for u in uids]})
c.ok(st == 201, "group created", (st, g))
gid = g["id"]
want = sorted(uids)


def member_values(r):
    return sorted(m.get("value") for m in (r or {}).get("members", []))


for attrs in ("members.value", "Members.Value", GROUP + ":members.value", "members.value,displayName"):
    st, _, j = cl.get("/Groups/%s?attributes=%s" % (gid, attrs))
    c.ok(st == 200 and member_values(j) == want, "GET group ?attributes=%s has its members" % attrs, (st, j))
    c.ok(all(set(m) <= {"value"} for m in j.get("members", [])),
         "?attributes=%s: members hold only value" % attrs, j)
    st, _, j = cl.get("/Groups?filter=displayName%%20eq%%20%%22subs%%22&attributes=%s" % attrs)
    res = (j or {}).get("Resources", [])
    c.ok(st == 200 and len(res) == 1 and member_values(res[0]) == want,
         "list ?attributes=%s has the members" % attrs, (st, j))
    if attrs == "members.value,displayName":
        c.ok(res and res[0].get("displayName") == "subs", "displayName kept with members.value", j)

st, _, j = cl.post("/Groups/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                        "filter": 'displayName eq "subs"', "attributes": ["members.value"]})
res = (j or {}).get("Resources", [])
c.ok(st == 200 and len(res) == 1 and member_values(res[0]) == want, ".search attributes members.value", (st, j))

st, _, j = cl.get("/Groups/%s?excludedAttributes=members.display" % gid)
c.ok(st == 200 and member_values(j) == want, "excludedAttributes=members.display keeps the members", (st, j))
st, _, j = cl.get("/Groups/%s?excludedAttributes=members" % gid)
c.ok(st == 200 and "members" not in j, "excludedAttributes=members drops them", (st, j))

for attrs in ("groups.value", USER + ":groups.value", "groups"):
    st, _, j = cl.get("/Users/%s?attributes=%s" % (uids[0], attrs))
    c.ok(st == 200 and [x.get("value") for x in j.get("groups", [])] == [gid],
         "GET user ?attributes=%s has its group" % attrs, (st, j))
st, _, j = cl.get("/Users/%s?attributes=emails.value" % uids[0])
c.ok(st == 200 and j.get("emails") == [{"value": "sub0@example.com"}] and "groups" not in j,
     "emails.value: no groups asked for", (st, j))

# sorting is not offered (ServiceProviderConfig sort.supported false): the
# same answer from .search as from a GET list
for body in ({"sortBy": "userName"}, {"sortOrder": "descending"}):
    b = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName pr"}
    b.update(body)
    st, _, j = cl.post("/Users/.search", b)
    c.error_body(st, j, 400, "invalidValue", ".search with %s" % list(body))
st, _, j = cl.get("/Users?sortBy=userName")
c.error_body(st, j, 400, "invalidValue", "GET list with sortBy")

# HEAD is a GET without the body (RFC 9110 9.3.2); a 405 says what the
# endpoint allows (RFC 9110 15.5.6)
st, h, j = cl.raw("HEAD", "/Users/" + uids[0])
st2, h2, _ = cl.get("/Users/" + uids[0])
c.ok(st == 200 and j is None and h.get("etag") == h2.get("etag") and h.get("content-length") == h2.get("content-length"),
     "HEAD of a user: the GET's headers, no body", (st, h, j))
st, _, j = cl.raw("HEAD", "/Users?count=1")
c.ok(st == 200 and j is None, "HEAD of a list", (st, j))
st, _, j = cl.raw("HEAD", "/Users/00000000-0000-0000-0000-000000000000")
c.ok(st == 404, "HEAD of a missing user is 404", st)
for method, path, allow in (("DELETE", "/Users", "GET, HEAD, POST"), ("POST", "/Users/" + uids[0], "GET, HEAD, PUT, PATCH, DELETE"),
                            ("PUT", "/Users/.search", "POST"), ("PUT", "/Schemas", "GET, HEAD")):
    st, h, j = cl.raw(method, path, {} if method in ("POST", "PUT") else None)
    c.error_body(st, j, 405, None, "%s %s" % (method, path))
    c.ok(h.get("allow") == allow, "%s %s: Allow %s" % (method, path, allow), h.get("allow"))
srv.cleanup()
c.done()
