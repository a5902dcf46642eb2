"""0870 — the five app profiles end to end (profiles/*.json, guides in
../shared/apps/): a tenant per app created with `--profile`, then each
app's Entra attribute mappings replayed as Entra sends them (test
connection, matching GET on the app's matching attribute, POST, PATCH of
every mapped attribute in Entra's shapes, disable with "False", groups
where the app uses them, delete), the app's rules (Talkdesk: unknown role
400, missing familyName 400, defaults active and role Agent, roles managed
over HTTP, Groups 404; Workteam: an app role is required), each tenant's
/Schemas, and a replay with the same digest."""
import json
import os
import urllib.parse
from scimtest import Check, Server, USER, GROUP, cli, patch_body

c = Check()
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GT_U = "urn:ietf:params:scim:schemas:extension:grouptalk:2.0:User"
GT_G = "urn:ietf:params:scim:schemas:extension:grouptalk:2.0:Group"
TD = "urn:ietf:params:scim:schemas:extension:talkdesk:2.0:User"
SP = "urn:ietf:params:scim:schemas:extension:SpokeCustom:2.0:User"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"

srv = Server(tenants=())
toks = {}
for app in ("grouptalk", "gtmhub", "workteam", "talkdesk", "askspoke"):
    toks[app] = json.loads(cli("tenant", "create", app, "--profile", app, "--data", srv.data).stdout)
    c.ok(toks[app].get("profile") == app, "tenant created from profile " + app, toks[app])
srv.tokens = toks
tdadmin = json.loads(cli("tenant", "token", "issue", "talkdesk", "--scope", "tenant-admin",
                         "--data", srv.data).stdout)
srv.start()


def q(f, extra=""):
    return "?filter=" + urllib.parse.quote(f) + extra


def entra_connect(cl, app):
    st, _, j = cl.get("/Users" + q('userName eq "f6a1c6c2-0000-4000-8000-000000000000"'))
    c.ok(st == 200 and j["totalResults"] == 0, app + ": test connection (200, empty)", (st, j))


def entra_create(cl, app, body, match):
    st, _, j = cl.get("/Users" + q(match))
    c.ok(st == 200 and j["totalResults"] == 0, app + ": matching query before create", (st, j))
    st, _, u = cl.post("/Users", body)
    c.ok(st == 201 and u.get("id"), app + ": POST as Entra sends it", (st, u))
    st, _, j = cl.get("/Users" + q(match))
    c.ok(st == 200 and j["totalResults"] == 1, app + ": matching query finds it", (st, j))
    return u or {}


def patch_ok(cl, app, uid, ops, what):
    st, _, j = cl.patch("/Users/" + uid, patch_body(*ops))
    c.ok(st == 204, "%s: PATCH %s" % (app, what), (st, j))
    st, _, j = cl.get("/Users/" + uid)
    return j or {}


def schemas_have(cl, app, urns):
    st, _, j = cl.get("/Schemas")
    ids = [s["id"] for s in j.get("Resources", [])]
    c.ok(all(u in ids for u in urns), app + ": /Schemas lists its extensions", ids)


try:
    # ------------------------------------------------------------ GroupTalk
    cl = srv.client("grouptalk")
    entra_connect(cl, "grouptalk")
    schemas_have(cl, "grouptalk", [GT_U, GT_G])
    u = entra_create(cl, "grouptalk", {
        "schemas": [USER, ENT, GT_U], "externalId": "e1", "userName": "anna@contoso.com", "active": True,
        "name": {"givenName": "Anna", "familyName": "Berg"},
        "emails": [{"primary": True, "type": "work", "value": "anna@contoso.com"}],
        "phoneNumbers": [{"type": "mobile", "value": "+46 70 000 00 00"}],
        ENT: {"costCenter": "CC1", "organization": "Org"},
        GT_U: {"label1": "Driver", "label2": "North"}}, 'userName eq "anna@contoso.com"')
    uid = u.get("id", "x")
    j = patch_ok(cl, "grouptalk", uid, [
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+46 70 111 11 11"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "anna.berg@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Berg-Lund"},
        {"op": "Replace", "path": ENT + ":organization", "value": "Org2"},
        {"op": "Add", "path": GT_U + ":label3", "value": "Shift B"},
        {"op": "Replace", "path": GT_U + ":label1", "value": "Dispatcher"}], "mapped attributes")
    c.ok(j["phoneNumbers"][0]["value"] == "+46 70 111 11 11" and j["emails"][0]["value"] == "anna.berg@contoso.com"
         and j[ENT]["organization"] == "Org2" and j[GT_U] == {"label1": "Dispatcher", "label2": "North", "label3": "Shift B"},
         "grouptalk: every mapped attribute reads back as written", j)
    j = patch_ok(cl, "grouptalk", uid, [{"op": "Replace", "value": {GT_U + ":label5": "L5", "name.givenName": "Ann"}}],
                 "path-less with a flat extension key")
    c.ok(j[GT_U].get("label5") == "L5" and j["name"]["givenName"] == "Ann", "grouptalk: path-less flat key", j)
    st, _, g = cl.post("/Groups", {"schemas": [GROUP, ADSCIM, GT_G], "displayName": "Drivers", "externalId": "g1",
                                   GT_G: {"description": "All drivers"}, "members": []})
    c.ok(st == 201 and g[GT_G] == {"description": "All drivers"}, "grouptalk: group with its extension", (st, g))
    st, _, _ = cl.patch("/Groups/" + g["id"], patch_body({"op": "Add", "path": "members", "value": [{"$ref": None, "value": uid}]},
                                                         {"op": "Replace", "path": GT_G + ":description", "value": "Drivers, all regions"}))
    st2, _, gg = cl.get("/Groups/%s?excludedAttributes=members" % g["id"])
    c.ok(st == 204 and "members" not in gg and gg[GT_G]["description"] == "Drivers, all regions",
         "grouptalk: member add and description PATCH", (st, gg))
    st, _, j = cl.get("/Groups" + q('displayName eq "Drivers"', "&excludedAttributes=members"))
    c.ok(j["totalResults"] == 1, "grouptalk: group matching query", j)
    j = patch_ok(cl, "grouptalk", uid, [{"op": "Replace", "path": "active", "value": "False"}], "disable")
    c.ok(j.get("active") is False, "grouptalk: disabled, still visible", j)
    st, _, _ = cl.delete("/Users/" + uid)
    c.ok(st == 204, "grouptalk: delete", st)

    # ------------------------------------------------------------ Gtmhub
    cl = srv.client("gtmhub")
    entra_connect(cl, "gtmhub")
    mgr = entra_create(cl, "gtmhub", {"schemas": [USER], "userName": "boss@contoso.com", "externalId": "m1"},
                       'userName eq "boss@contoso.com"')
    u = entra_create(cl, "gtmhub", {"schemas": [USER, ENT], "userName": "emp@contoso.com", "externalId": "u1",
                                    ENT: {"manager": {"value": mgr.get("id")}}}, 'externalId eq "u1"')
    uid = u.get("id", "x")
    st, _, j = cl.get("/Users" + q('id eq "%s" and manager eq "%s"' % (uid, mgr.get("id")), "&attributes=id"))
    c.ok(st == 200 and j["totalResults"] == 1 and set(j["Resources"][0]) <= {"id", "schemas", "meta"},
         "gtmhub: Entra's manager reference check", (st, j))
    j = patch_ok(cl, "gtmhub", uid, [{"op": "Replace", "path": ENT + ":manager", "value": ""}], "clear manager")
    c.ok("manager" not in j.get(ENT, {}), "gtmhub: manager cleared", j)
    st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "Team A"})
    st, _, _ = cl.patch("/Groups/" + g["id"], patch_body({"op": "Add", "path": "members", "value": [{"value": uid}]}))
    st2, _, j = cl.get("/Users" + q('groups.value eq "%s"' % g["id"]))
    c.ok(st == 204 and j["totalResults"] == 1, "gtmhub: team membership", (st, j))
    st, _, _ = cl.patch("/Groups/" + g["id"], patch_body({"op": "remove", "path": 'members[value eq "%s"]' % uid}))
    c.ok(st == 204, "gtmhub: member removed by value filter", st)

    # ------------------------------------------------------------ Workteam
    cl = srv.client("workteam")
    entra_connect(cl, "workteam")
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "norole@contoso.com"})
    c.error_body(st, j, 400, "invalidValue", "workteam: a user without an app role")
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "x@contoso.com",
                                  "roles": [{"primary": True, "value": "Default Access"}]})
    c.ok(st == 400 and "catalog 'roles'" in j.get("detail", ""), "workteam: Default Access is not a Workteam role", (st, j))
    u = entra_create(cl, "workteam", {"schemas": [USER], "userName": "w@contoso.com", "roles": [
        {"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "display": "Manager", "value": "Manager"}]},
        'userName eq "w@contoso.com"')
    j = patch_ok(cl, "workteam", u.get("id", "x"), [{"op": "Replace", "path": "roles", "value": [
        {"primary": True, "value": "Admin", "display": "Admin"}]}], "role change")
    c.ok(j["roles"][0]["value"] == "Admin", "workteam: role changed", j)
    st, _, j = cl.patch("/Users/" + u.get("id", "x"), patch_body({"op": "Remove", "path": "roles"}))
    c.error_body(st, j, 400, "invalidValue", "workteam: the role cannot be removed")

    # ------------------------------------------------------------ Talkdesk
    cl = srv.client("talkdesk")
    ad = srv.client("talkdesk", token=tdadmin["secret"])
    entra_connect(cl, "talkdesk")
    schemas_have(cl, "talkdesk", [TD])
    st, _, j = cl.get("/Groups" + q('displayName eq "x"'))
    c.error_body(st, j, 404, None, "talkdesk: Groups are not provisioned")
    st, _, j = cl.get("/ResourceTypes")
    c.ok([r["id"] for r in j["Resources"]] == ["User"], "talkdesk: only User advertised", j)
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "a@td.com", "name": {"givenName": "A"}})
    c.ok(st == 400 and "familyName" in j.get("detail", ""), "talkdesk: missing familyName", (st, j))
    st, _, j = cl.post("/Users", {"schemas": [USER, TD], "userName": "a@td.com",
                                  "name": {"givenName": "A", "familyName": "B"}, TD: {"rolesString": "Pilot"}})
    c.ok(st == 400 and "catalog 'roles'" in j.get("detail", ""), "talkdesk: unknown role", (st, j))
    u = entra_create(cl, "talkdesk", {"schemas": [USER], "userName": "a@td.com", "externalId": "oid1",
                                      "name": {"givenName": "A", "familyName": "B"}}, 'userName eq "a@td.com"')
    c.ok(u.get("active") is True and u.get(TD, {}).get("rolesString") == "Agent",
         "talkdesk: defaults active=true and role Agent", u)
    uid = u.get("id", "x")
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "Add", "path": TD + ":teamsString", "value": "Support"}))
    c.error_body(st, j, 400, "invalidValue", "talkdesk: a team that does not exist yet")
    st, _, j = ad.raw("PATCH", "/admin/v1/tenants/talkdesk/catalogs/teams", {"add": ["Support"]}, base=False)
    c.ok(st == 200, "talkdesk: the account's team created over HTTP", (st, j))
    j = patch_ok(cl, "talkdesk", uid, [{"op": "Add", "path": TD + ":teamsString", "value": "Support"},
                                        {"op": "Replace", "path": TD + ":rolesString", "value": "Supervisor"}],
                 "team and role")
    c.ok(j[TD] == {"rolesString": "Supervisor", "teamsString": "Support"}, "talkdesk: team and role set", j)
    j = patch_ok(cl, "talkdesk", uid, [{"op": "Replace", "path": "active", "value": "False"}], "disable (IsSoftDeleted)")
    c.ok(j.get("active") is False, "talkdesk: disabled", j)
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "Remove", "path": "name.givenName"}))
    c.error_body(st, j, 400, "invalidValue", "talkdesk: givenName cannot be removed")
    st, _, _ = cl.delete("/Users/" + uid)
    c.ok(st == 204, "talkdesk: delete", st)

    # ------------------------------------------------------------ askSpoke
    cl = srv.client("askspoke")
    entra_connect(cl, "askspoke")
    schemas_have(cl, "askspoke", [SP])
    st, _, mgr = cl.post("/Users", {"schemas": [USER], "userName": "lead@contoso.com"})
    u = entra_create(cl, "askspoke", {
        "schemas": [USER, ENT, SP], "userName": "s@contoso.com", "active": True, "title": "Engineer",
        "name": {"givenName": "S", "familyName": "T", "formatted": "S T"},
        "emails": [{"type": "work", "value": "s@contoso.com"}],
        "addresses": [{"type": "work", "locality": "Oslo", "country": "NO", "region": "Oslo"}],
        ENT: {"department": "R&D", "manager": {"value": mgr["id"]}},
        SP: {"startDate": "2026-01-05"}}, 'userName eq "s@contoso.com"')
    uid = u.get("id", "x")
    j = patch_ok(cl, "askspoke", uid, [
        {"op": "Replace", "path": 'addresses[type eq "work"].locality', "value": "Bergen"},
        {"op": "Replace", "path": SP + ":startDate", "value": "2026-02-01"},
        {"op": "Replace", "path": ENT + ":manager", "value": mgr["id"]},
        {"op": "Replace", "path": "title", "value": "Lead"}], "mapped attributes")
    c.ok(j["addresses"][0]["locality"] == "Bergen" and j[SP] == {"startDate": "2026-02-01"} and j["title"] == "Lead"
         and j[ENT]["manager"]["value"] == mgr["id"], "askspoke: every mapped attribute reads back", j)
    st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "IT", "members": [{"value": uid}]})
    st, _, _ = cl.patch("/Groups/" + g["id"], patch_body({"op": "Remove", "path": "members", "value": [{"value": uid}]}))
    st2, _, gg = cl.get("/Groups/" + g["id"])
    c.ok(st == 204 and not gg.get("members"), "askspoke: group member removed", (st, gg))

    # the profiles are per tenant: gtmhub sees none of the others
    st, _, j = srv.client("gtmhub").get("/Schemas")
    c.ok(not any(x in [s["id"] for s in j["Resources"]] for x in (GT_U, TD, SP)), "profiles stay in their tenant", j)
finally:
    srv.stop()
    d1 = cli("digest", "--data", srv.data).stdout.strip()
    into = os.path.join(srv.root, "replayed")
    cli("replay", "--data", srv.data, "--into", into)
    d2 = cli("digest", "--data", into).stdout.strip()
    c.ok(d1 == d2, "replay of the five tenants gives the same digest", (d1, d2))
    srv.cleanup()
c.done()
