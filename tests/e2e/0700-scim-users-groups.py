"""0700 — SCIM users and groups as Entra and Okta use them, over HTTP
against the real server: creates, matching queries, every PATCH shape from
SCIM_CLIENTS.md, groups and memberships, paging, deletes."""
import uuid
from scimtest import Server, Check, USER, GROUP, ENT, patch_body

c = Check()
srv = Server().start()
try:
    cl = srv.client()
    # Test Connection: empty ListResponse, not 404
    st, h, j = cl.get("/Users?filter=userName+eq+%22" + str(uuid.uuid4()) + "%22")
    c.ok(st == 200 and j["totalResults"] == 0 and j["Resources"] == [] and j["startIndex"] == 1
         and j["itemsPerPage"] == 0, "test connection users", j)
    c.ok(h.get("content-type", "").startswith("application/scim+json"), "content type")
    st, h, j = cl.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22" + str(uuid.uuid4()) + "%22")
    c.ok(st == 200 and j["totalResults"] == 0, "test connection groups", j)

    # create with Entra's quirks
    body = {"schemas": [USER], "userName": "Alice@Contoso.com", "active": "True", "externalId": "alice",
            "name": {"givenName": "Alice", "familyName": "Liddell", "honorificPrefix": None},
            "emails": [{"Primary": True, "type": "work", "value": "Alice@Contoso.com"}],
            "phoneNumbers": [{"type": "work", "value": "+1 (555) 010-2000"}],
            "roles": [], "meta": {"created": "2019-01-01T00:00:00Z"},
            ENT: {"Department": "Sales", "Manager": {"Value": "mgr-1"}},
            "urn:ietf:params:scim:schemas:extension:Custom:2.0:User": {"labels": ["a", "b"], "startDate": "2026-01-01"}}
    st, h, u = cl.post("/Users", body)
    c.ok(st == 201, "create user 201", (st, u))
    uid = u["id"]
    c.ok(u["active"] is True, "active 'True' -> true", u)
    c.ok(u["emails"][0] == {"primary": True, "type": "work", "value": "Alice@Contoso.com"}, "emails canonical, exact", u)
    c.ok(u["phoneNumbers"][0]["value"] == "+1 (555) 010-2000", "phone exact")
    c.ok(u[ENT] == {"department": "Sales", "manager": {"value": "mgr-1"}}, "enterprise canonical", u.get(ENT))
    c.ok(ENT in u["schemas"] and "urn:ietf:params:scim:schemas:extension:Custom:2.0:User" in u["schemas"], "schemas rebuilt", u["schemas"])
    c.ok(u["meta"]["created"] != "2019-01-01T00:00:00Z" and u["meta"]["version"] == 'W/"1"', "meta server-owned", u["meta"])
    c.ok(h.get("location", "").endswith("/Users/" + uid) and u["meta"]["location"] == h.get("location"), "location", h)
    c.ok("roles" not in u and "honorificPrefix" not in u["name"], "empties dropped", u)

    st, _, g = cl.get("/users/" + uid)
    c.ok(st == 200 and g["id"] == uid and g["userName"] == "Alice@Contoso.com", "GET lower-case path", g)

    # uniqueness (case-insensitive), externalId not unique
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "alice@contoso.COM"})
    c.error_body(st, j, 409, "uniqueness", "duplicate userName")
    st, _, u2 = cl.post("/Users", {"schemas": [USER], "userName": "bob", "externalId": "alice",
                                    "emails": [{"type": "work", "value": "bob@contoso.com"}]})
    c.ok(st == 201, "externalId not unique", u2)
    bid = u2["id"]

    # matching queries
    for q, expect in [("userName eq \"alice@contoso.com\"", [uid]),
                      ("externalId eq alice", sorted([uid, bid])),
                      ("externalId eq ALICE", []),
                      ("emails[type eq \"work\"].value eq \"bob@contoso.com\"", [bid]),
                      ("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bob\"", [bid]),
                      ("name.FamilyName eq \"liddell\"", [uid]),
                      ("emails.Value co \"contoso\" and not (userName eq \"bob\")", [uid]),
                      ("userName sw \"A\" or userName ew \"ob\"", sorted([uid, bid])),
                      ("meta.created gt 2015-10-10T14:38:21.8617979-07:00", sorted([uid, bid])),
                      (ENT + ":department eq \"Sales\"", [uid])]:
        st, _, j = cl.get("/Users?filter=" + q.replace(" ", "+").replace("\"", "%22"))
        got = sorted(r["id"] for r in j["Resources"]) if st == 200 else None
        c.ok(st == 200 and got == sorted(expect) and j["totalResults"] == len(expect), "filter " + q, (st, j))
    st, _, j = cl.get("/Users?aadOptscim062020&filter=id+eq+%22" + uid + "%22+and+" + ENT + ":manager+eq+%22mgr-1%22&attributes=id")
    c.ok(st == 200 and j["totalResults"] == 1 and set(j["Resources"][0].keys()) <= {"id", "schemas"}, "reference check", j)
    st, _, j = cl.get("/Users?filter=userName+eq")
    c.error_body(st, j, 400, "invalidFilter", "bad filter")

    # PATCH shapes
    def patch_ok(ops, msg):
        st, h, j = cl.patch("/Users/" + uid, patch_body(*ops))
        c.ok(st == 204 and j is None, msg + " -> 204", (st, j))
        return cl.get("/Users/" + uid)[2]
    u = patch_ok([{"op": "Replace", "path": "active", "value": "False"}], "capitalised op, 'False'")
    c.ok(u["active"] is False, "active false", u)
    st, _, j = cl.get("/Users?filter=userName+eq+%22alice@contoso.com%22")
    c.ok(j["totalResults"] == 1, "disabled user still visible")
    u = patch_ok([{"op": "replace", "value": {"displayName": "A", "name.givenName": "B", ENT + ":employeeNumber": "C"}}], "path-less multi-key")
    c.ok(u["displayName"] == "A" and u["name"]["givenName"] == "B" and u[ENT]["employeeNumber"] == "C", "path-less applied", u)
    u = patch_ok([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "home@x.org"},
                  {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555"},
                  {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Oslo"}], "filter upserts")
    c.ok({"type": "home", "value": "home@x.org"} in u["emails"], "home email created", u["emails"])
    c.ok({"type": "mobile", "value": "555"} in u["phoneNumbers"], "mobile created", u["phoneNumbers"])
    c.ok(u["addresses"] == [{"type": "work", "locality": "Oslo"}], "address created", u.get("addresses"))
    u = patch_ok([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "alice2@contoso.com"}], "filter replace")
    c.ok(u["emails"][0]["value"] == "alice2@contoso.com" and len(u["emails"]) == 2, "work email replaced", u["emails"])
    st, _, j = cl.get("/Users?filter=emails.value+eq+%22ALICE2@contoso.com%22")
    c.ok(j["totalResults"] == 1, "email index updated", j)
    u = patch_ok([{"op": "add", "path": ENT + ":department", "value": "Ops"}], "enterprise path")
    c.ok(u[ENT]["department"] == "Ops", "department", u[ENT])
    u = patch_ok([{"op": "Add", "path": "manager", "value": [{"$ref": None, "value": bid}]}], "manager as list")
    u = patch_ok([{"op": "replace", "path": ENT + ":manager", "value": bid}], "manager bare string")
    c.ok(u[ENT]["manager"] == {"value": bid}, "manager reads back as object", u[ENT])
    u = patch_ok([{"op": "replace", "path": ENT + ":manager", "value": ""}], "manager cleared")
    c.ok("manager" not in u[ENT], "manager gone", u[ENT])
    u = patch_ok([{"op": "replace", "path": "title", "value": "T"}, {"op": "replace", "path": "title", "value": None}], "null removes")
    c.ok("title" not in u, "title removed", u)
    u = patch_ok([{"op": "add", "path": "roles", "value": [{"value": "{\"id\":\"r1\",\"n\":2}", "primary": "True"}]}], "roles JSON string")
    c.ok(u["roles"] == [{"value": "{\"id\":\"r1\",\"n\":2}", "primary": True}], "roles verbatim", u.get("roles"))
    u = patch_ok([{"op": "replace", "value": {"active": True}}], "okta activate")
    c.ok(u["active"] is True and u["meta"]["version"] != 'W/"1"', "okta activate applied", u)
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "frobnicate", "path": "title", "value": "x"}))
    c.error_body(st, j, 400, "invalidSyntax", "unknown op")

    # PUT replaces
    st, _, j = cl.put("/Users/" + bid, {"schemas": [USER], "userName": "bob", "displayName": "Bobby",
                                        "phoneNumbers": [{"type": "work", "value": "+47 22 00 00 00"}]})
    c.ok(st == 200 and j["displayName"] == "Bobby" and "emails" not in j and j["meta"]["version"] == 'W/"2"', "PUT", j)

    # groups
    st, _, gr = cl.post("/Groups", {"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                                    "displayName": "Team", "members": [{"value": uid, "display": "Alice"}]})
    c.ok(st == 201 and gr["members"] == [{"value": uid, "display": "Alice", "type": "User",
                                          "$ref": "http://127.0.0.1:%d/scim/v2/t1/Users/%s" % (srv.port, uid)}],
         "group create", gr)
    gid = gr["id"]
    ids = []
    for i in range(20):
        ids.append(cl.post("/Users", {"schemas": [USER], "userName": "m%d" % i})[2]["id"])
    st, _, j = cl.patch("/Groups/" + gid, patch_body({"op": "Add", "path": "members",
                                                       "value": [{"$ref": None, "value": x} for x in ids] + [{"value": bid}]}))
    c.ok(st == 204 and j is None, "add many members", (st, j))
    st, _, g = cl.get("/Groups/" + gid)
    c.ok(len(g["members"]) == 22, "22 members", len(g.get("members", [])))
    st, _, g = cl.get("/Groups/" + gid + "?excludedAttributes=members")
    c.ok("members" not in g and g["displayName"] == "Team", "excludedAttributes=members", g)
    cl.patch("/Groups/" + gid, patch_body({"op": "Remove", "path": "members", "value": [{"value": ids[0]}, {"value": ids[1]}]}))
    cl.patch("/Groups/" + gid, patch_body({"op": "remove", "path": "members[value eq \"%s\"]" % ids[2]}))
    st, _, g = cl.get("/Groups/" + gid)
    c.ok(len(g["members"]) == 19 and ids[0] not in [m["value"] for m in g["members"]], "remove listed and by filter", len(g["members"]))
    st, _, j = cl.patch("/Groups/" + gid, patch_body({"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}))
    c.error_body(st, j, 400, "invalidValue", "unknown member")
    cl.delete("/Users/" + ids[3])
    st, _, g = cl.get("/Groups/" + gid)
    c.ok(ids[3] not in [m["value"] for m in g["members"]], "deleted user leaves group")
    st, _, j = cl.patch("/Groups/" + gid, patch_body({"op": "replace", "path": "members", "value": [{"value": bid}]},
                                                     {"op": "replace", "path": "displayName", "value": "Team 2"}))
    st, _, g = cl.get("/Groups/" + gid)
    c.ok(g["displayName"] == "Team 2" and [m["value"] for m in g["members"]] == [bid], "okta replace list + rename", g)
    cl.patch("/Groups/" + gid, patch_body({"op": "remove", "path": "members"}))
    st, _, g = cl.get("/Groups/" + gid)
    c.ok("members" not in g, "remove all", g)
    st, _, j = cl.get("/Groups?filter=displayName+eq+%22team+2%22&excludedAttributes=members")
    c.ok(j["totalResults"] == 1 and "members" not in j["Resources"][0], "group filter", j)

    # paging: stable order, totals
    st, _, p1 = cl.get("/Users?startIndex=1&count=5")
    st, _, p1b = cl.get("/Users?startIndex=1&count=5")
    st, _, p2 = cl.get("/Users?startIndex=6&count=5")
    c.ok(p1["totalResults"] == 21 and p1["itemsPerPage"] == 5 and p2["startIndex"] == 6, "paging totals", (p1["totalResults"], p2["startIndex"]))
    c.ok([r["id"] for r in p1["Resources"]] == [r["id"] for r in p1b["Resources"]], "stable order")
    c.ok(not set(r["id"] for r in p1["Resources"]) & set(r["id"] for r in p2["Resources"]), "pages disjoint")
    st, _, j = cl.get("/Users?attributes=userName,emails&count=1")
    c.ok(set(j["Resources"][0].keys()) <= {"id", "schemas", "userName", "emails"}, "attributes projection", j)
    st, _, j = cl.get("/Users/" + uid + "?attributes=emails[type eq \"work\"]".replace(" ", "+").replace("\"", "%22"))
    c.ok(st == 200 and [e["type"] for e in j["emails"]] == ["work"], "attributes with value filter", j)

    # delete and re-create
    st, _, j = cl.delete("/Users/" + uid)
    c.ok(st == 204, "delete 204", (st, j))
    st, _, j = cl.get("/Users/" + uid)
    c.error_body(st, j, 404, None, "GET deleted")
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "alice@contoso.com"})
    c.ok(st == 201, "re-create after delete", (st, j))
    for m, p in [("PUT", "/Users/nope"), ("PATCH", "/Users/nope"), ("DELETE", "/Users/nope")]:
        st, _, j = cl.raw(m, p, {"schemas": [USER], "userName": "x"} if m != "DELETE" else None)
        c.error_body(st, j, 404, None, m + " unknown id")
finally:
    srv.cleanup()
c.done()
