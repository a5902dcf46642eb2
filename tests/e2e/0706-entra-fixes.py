"""0706 — issue 8's "fix on the way" list over HTTP: a PATCH whose path is an
extension URN acts on the extension block (add/replace merge, remove drops
it); an unknown PATCH path is 400 invalidPath and nothing of that PATCH is
applied; attributes= / excludedAttributes= take whole extension blocks;
groups.value, manager and manager.value filters (Entra's reference check);
members and groups carry $ref; User.groups is returned on request as
/Schemas advertises; a user's deletion bumps its groups' versions and shows
in their history; change records carry the status the client got (PATCH
204); /Bulk, /.search and /Me answer 501; sortBy is refused as
ServiceProviderConfig says; emails[].type outside canonicalValues is 400."""
import urllib.parse
from scimtest import Check, Server, USER, GROUP, patch_body

c = Check()
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
srv = Server().start()
try:
    cl = srv.client()
    st, _, mgr = cl.post("/Users", {"schemas": [USER], "userName": "mgr"})
    st, _, u = cl.post("/Users", {"schemas": [USER, ENT], "userName": "u1", "displayName": "U",
                                  ENT: {"department": "x", "manager": {"value": mgr["id"]}}})
    c.ok(st == 201, "user", (st, u))
    uid = u["id"]

    # PATCH path = the extension URN
    st, _, _ = cl.patch("/Users/" + uid, patch_body({"op": "replace", "path": ENT,
                                                     "value": {"department": "y", "costCenter": "c1"}}))
    st, _, j = cl.get("/Users/" + uid)
    c.ok(j.get(ENT, {}).get("department") == "y" and j[ENT].get("costCenter") == "c1"
         and j[ENT].get("manager", {}).get("value") == mgr["id"]
         and "urn:ietf:params:scim:schemas:extension:enterprise:2.0" not in j,
         "replace on the extension URN merges into its block", j)
    st, _, _ = cl.patch("/Users/" + uid, patch_body({"op": "add", "path": ENT.upper().replace("URN:", "urn:"),
                                                     "value": {"division": "d"}}))
    st, _, j = cl.get("/Users/" + uid)
    c.ok(j.get(ENT, {}).get("division") == "d", "add on the URN in another case", j)
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "replace", "path": ENT, "value": "flat"}))
    c.error_body(st, j, 400, "invalidValue", "a URN path takes an object")
    st, _, _ = cl.patch("/Users/" + uid, patch_body({"op": "remove", "path": ENT}))
    st, _, j = cl.get("/Users/" + uid)
    c.ok(ENT not in j and ENT not in j.get("schemas", []), "remove on the URN drops the block", j)

    # unknown path: the whole PATCH is refused
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "replace", "path": "displayName", "value": "NEW"},
                                                    {"op": "replace", "path": "bogus", "value": "x"}))
    c.error_body(st, j, 400, "invalidPath", "unknown path")
    st, _, j = cl.get("/Users/" + uid)
    c.ok(j.get("displayName") == "U", "nothing of the refused PATCH was applied", j)
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "replace", "value": {"bogus": "x", "nickName": "n"}}))
    st2, _, j2 = cl.get("/Users/" + uid)
    c.ok(st == 204 and j2.get("nickName") == "n", "an unknown key of a path-less value is dropped as on create",
         (st, j, j2))

    # attributes / excludedAttributes with an extension URN
    cl.patch("/Users/" + uid, patch_body({"op": "add", "path": ENT + ":department", "value": "z"}))
    st, _, j = cl.get("/Users/%s?attributes=%s" % (uid, ENT))
    c.ok(j.get(ENT, {}).get("department") == "z" and "userName" not in j, "attributes=URN includes the block", j)
    st, _, j = cl.get("/Users/%s?excludedAttributes=%s" % (uid, ENT))
    c.ok(ENT not in j and j.get("userName") == "u1", "excludedAttributes=URN excludes the block", j)

    # filters Entra sends
    cl.patch("/Users/" + uid, patch_body({"op": "add", "path": ENT + ":manager", "value": mgr["id"]}))
    st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "g1", "members": [{"value": uid}]})
    gid = g["id"]

    def count(f):
        st, _, j = cl.get("/Users?filter=" + urllib.parse.quote(f))
        return j.get("totalResults") if st == 200 else (st, j)

    c.ok(count('groups.value eq "%s"' % gid) == 1, "groups.value eq finds the member")
    c.ok(count('groups.value eq "nope"') == 0, "groups.value eq another group")
    c.ok(count('manager eq "%s"' % mgr["id"]) == 1, "manager eq id")
    c.ok(count('manager.value eq "%s"' % mgr["id"]) == 1, "manager.value eq id")
    c.ok(count('%s:manager.value eq "%s"' % (ENT, mgr["id"])) == 1, "URN-qualified manager.value")

    # $ref, groups on request
    st, _, j = cl.get("/Groups/" + gid)
    m = j.get("members", [{}])[0]
    c.ok(m.get("$ref", "").endswith("/Users/" + uid) and m["$ref"].startswith("http"), "members carry $ref", j)
    st, _, j = cl.get("/Users/" + uid)
    c.ok("groups" not in j, "groups not returned by default (advertised returned=request)", j)
    st, _, sch = cl.get("/Schemas/" + USER)
    ga = [a for a in sch["attributes"] if a["name"] == "groups"][0]
    c.ok(ga["returned"] == "request", "/Schemas says groups are returned on request", ga)
    st, _, j = cl.get("/Users/%s?attributes=groups" % uid)
    gr = j.get("groups", [{}])[0]
    c.ok(gr.get("value") == gid and gr.get("display") == "g1" and gr.get("type") == "direct"
         and gr.get("$ref", "").endswith("/Groups/" + gid), "groups on request, with $ref", j)

    # a user's deletion is a change of its groups
    st, _, before = cl.get("/Groups/" + gid)
    st, _, _ = cl.delete("/Users/" + uid)
    st, _, after = cl.get("/Groups/" + gid)
    c.ok(int(after["meta"]["version"][3:-1]) == int(before["meta"]["version"][3:-1]) + 1
         and "members" not in after, "the group's version went up, the member is gone", (before, after))
    st, _, h = cl.raw("GET", "/reports/v1/t1/resources/%s/history" % gid, base=False)
    recs = h.get("changes", [])
    c.ok(any(r.get("id") == uid and r.get("eventAction") == "delete" and
             {"group": gid, "member": uid, "effect": "removed"} in r.get("membershipEffects", [])
             for r in recs), "the group's history lists the deletion", h)

    # change records carry the status the client got
    st, _, u2 = cl.post("/Users", {"schemas": [USER], "userName": "u2"})
    st, _, _ = cl.patch("/Users/" + u2["id"], patch_body({"op": "replace", "path": "nickName", "value": "x"}))
    c.ok(st == 204, "PATCH answers 204", st)
    st, _, h = cl.raw("GET", "/reports/v1/t1/resources/%s/history" % u2["id"], base=False)
    c.ok([r["status"] for r in h["changes"]][-1] == 204 or 204 in [r["status"] for r in h["changes"]],
         "the PATCH's change record says 204", h)

    # endpoints not offered, sorting, canonical types
    for m_, p in [("POST", "/Bulk"), ("POST", "/.search"), ("GET", "/Me")]:
        st, _, j = cl.raw(m_, p, {"schemas": []})
        c.error_body(st, j, 501, None, "%s %s" % (m_, p))
    st, _, j = cl.get("/Users?sortBy=userName")
    c.error_body(st, j, 400, "invalidValue", "sortBy refused (sort.supported false)")
    st, _, spc = cl.get("/ServiceProviderConfig")
    c.ok(spc["sort"]["supported"] is False and spc["bulk"]["supported"] is False, "SPC agrees", spc)
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "u3", "emails": [{"type": "bogus", "value": "a@b.c"}]})
    c.ok(st == 400 and j.get("scimType") == "invalidValue" and "emails.type" in j.get("detail", ""),
         "emails[].type outside canonicalValues", (st, j))
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "u3", "emails": [{"type": "Work", "value": "a@b.c"}]})
    c.ok(st == 201 and j["emails"][0]["type"] == "Work", "a canonical type in another case is accepted, stored as sent", (st, j))
finally:
    srv.cleanup()
c.done()
