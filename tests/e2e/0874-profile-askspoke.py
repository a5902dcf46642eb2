"""0874 — askSpoke's profile end to end (profiles/askspoke.json, guide
../shared/apps/askspoke-entra-tutorial.txt). The tenant is created over
HTTP with `"profile": "askspoke"` and served at askSpoke's host-named URL
`https://{customer}.askspoke.com/scim/v2` (`--host-suffix`). Entra's user
mappings are replayed in the guide's order: test connection, matching on
userName, POST with every mapped attribute (work email, active, title,
name.givenName/familyName/formatted, the work address's locality, country
and region, externalId, enterprise department, SpokeCustom:2.0 startDate),
the manager exported afterwards, a PATCH of each mapped attribute (address
parts through `addresses[type eq "work"]`), path-less flat URN keys, a
cleared start date, disable with "False", delete; groups by displayName
with members added and removed. Discovery, the start date must be a string,
another host's tenant and a tenant without a profile are unaffected, and a
replay has the same digest."""
from scimtest import Check, Server, USER, GROUP
from entra import (ADSCIM, ENT, App, admin_create, check_definition, check_discovery, check_replay, create_matched,
                   operator_args, patch_ok, post_body, profile, reads_back, test_connection)

c = Check()
N = "askspoke"
T = "contoso"
SP = "urn:ietf:params:scim:schemas:extension:SpokeCustom:2.0:User"
WORK = 'addresses[type eq "work"].'
prof = profile(N)

srv = Server(tenants=("plain",))
srv.extra = ["--host-suffix", ".askspoke.test"] + operator_args(srv.root)
srv.start()
try:
    st, t = admin_create(srv, T, N)
    c.ok(st == 201 and t.get("profile") == N, "tenant created over HTTP from the askspoke profile", (st, t))
    app = App(srv, "/scim/v2", t["secret"], host=T + ".askspoke.test")
    plain = App(srv, "/scim/v2", srv.tokens["plain"]["secret"], host="plain.askspoke.test")
    check_definition(c, app, N, T, prof)
    check_discovery(c, app, N, prof)
    test_connection(c, app, N)
    st, _, j = app.get("/Users", token=srv.tokens["plain"]["secret"])
    c.error_body(st, j, 401, None, N + ": another customer's token on this host")

    # ---- the manager first (a user of its own), then the user with every mapped attribute
    boss = create_matched(c, app, N, post_body({"userName": "ingrid.lead@contoso.com", "active": True}, [USER]),
                          'userName eq "ingrid.lead@contoso.com"')
    first = {
        "userName": "sven.tore@contoso.com",
        'emails[type eq "work"].value': "sven.tore@contoso.com",
        "active": True,
        "title": "Support Engineer",
        "name.givenName": "Sven",
        "name.familyName": "Tore",
        "name.formatted": "Sven Tore",
        WORK + "locality": "Oslo",
        WORK + "country": "NO",
        WORK + "region": "Oslo",
        "externalId": "1d2e3f40-0000-4000-8000-00000000c0de",
        ENT + ":department": "IT Support",
        SP + ":startDate": "2026-01-05T00:00:00Z",
    }
    u = create_matched(c, app, N, post_body(first, [USER, ENT]), 'userName eq "sven.tore@contoso.com"')
    uid = u["id"]
    reads_back(c, N, u, first, "POST answer")
    c.ok(SP in u.get("schemas", []) and len(u.get("addresses", [])) == 1,
         N + ": SpokeCustom listed in schemas, one work address", u)
    st, _, j = app.query("Users", 'id eq "%s" and manager eq "%s"' % (uid, boss["id"]), "&attributes=id")
    c.ok(st == 200 and j.get("totalResults") == 0, N + ": reference check before the manager", (st, j))
    r = patch_ok(c, app, N, uid, [{"op": "Add", "path": ENT + ":manager", "value": boss["id"]}], "manager exported")
    first[ENT + ":manager"] = boss["id"]
    reads_back(c, N, r, first, "after the manager")
    st, _, j = app.query("Users", 'id eq "%s" and manager eq "%s"' % (uid, boss["id"]), "&attributes=id")
    c.ok(st == 200 and j.get("totalResults") == 1, N + ": reference check finds the manager", (st, j))

    # ---- an update cycle with every mapped attribute
    second = dict(first, **{
        'emails[type eq "work"].value': "sven.tore@support.contoso.com",
        "title": "Support Lead",
        "name.familyName": "Tore-Hansen",
        "name.formatted": "Sven Tore-Hansen",
        WORK + "locality": "Bergen",
        WORK + "region": "Vestland",
        ENT + ":department": "IT",
        SP + ":startDate": "2026-02-01T00:00:00Z",
    })
    r = patch_ok(c, app, N, uid, [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "sven.tore@support.contoso.com"},
        {"op": "Replace", "path": "title", "value": "Support Lead"},
        {"op": "Replace", "path": "name.familyName", "value": "Tore-Hansen"},
        {"op": "Replace", "path": "name.formatted", "value": "Sven Tore-Hansen"},
        {"op": "Replace", "path": WORK + "locality", "value": "Bergen"},
        {"op": "Replace", "path": WORK + "region", "value": "Vestland"},
        {"op": "Replace", "path": ENT + ":department", "value": "IT"},
        {"op": "Replace", "path": SP + ":startDate", "value": "2026-02-01T00:00:00Z"}], "every mapped attribute")
    reads_back(c, N, r, second, "after the update cycle")
    c.ok(len(r.get("addresses", [])) == 1 and r["addresses"][0].get("country") == "NO",
         N + ": the address parts change in place", r.get("addresses"))
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "value": {SP + ":startDate": "2026-03-01T00:00:00Z",
                                                              ENT + ":department": "Service Desk"}}],
                 "path-less with flat URN keys")
    second.update({SP + ":startDate": "2026-03-01T00:00:00Z", ENT + ":department": "Service Desk"})
    reads_back(c, N, r, second, "after the path-less PATCH")
    st, _, j = app.patch("/Users/" + uid, [{"op": "Replace", "path": SP + ":startDate", "value": 20260401}])
    c.error_body(st, j, 400, "invalidValue", N + ": a start date that is not a string")
    c.ok("startDate" in (j or {}).get("detail", ""), N + ": the refusal names startDate", j)
    r = patch_ok(c, app, N, uid, [{"op": "Remove", "path": SP + ":startDate"}], "start date cleared")
    c.ok("startDate" not in r.get(SP, {}), N + ": no start date", r)
    r = patch_ok(c, app, N, uid, [{"op": "Add", "path": SP + ":STARTDATE", "value": "2026-04-01T00:00:00Z"}],
                 "start date in another case")
    c.ok(r.get(SP) == {"startDate": "2026-04-01T00:00:00Z"}, N + ": stored as startDate", r.get(SP))

    # the manager's work address arrives later, one part at a time: the first creates the element
    r = patch_ok(c, app, N, boss["id"], [{"op": "Replace", "path": WORK + "locality", "value": "Trondheim"},
                                         {"op": "Replace", "path": WORK + "country", "value": "NO"}],
                 "address parts on a user without an address")
    c.ok(r.get("addresses") == [{"type": "work", "locality": "Trondheim", "country": "NO"}],
         N + ": one work address created", r.get("addresses"))

    # ---- groups with members
    g = create_matched(c, app, N, {"schemas": [GROUP, ADSCIM], "displayName": "IT Support", "members": []},
                       'displayName eq "IT Support"', rtype="Groups")
    gid = g["id"]
    patch_ok(c, app, N, gid, [{"op": "Add", "path": "members",
                               "value": [{"$ref": None, "value": uid}, {"value": boss["id"]}]}],
             "members added", rtype="Groups")
    st, _, j = app.get("/Groups/" + gid)
    c.ok(sorted(m["value"] for m in j.get("members", [])) == sorted([uid, boss["id"]]), N + ": two members", j)
    patch_ok(c, app, N, gid, [{"op": "Remove", "path": "members", "value": [{"value": uid}]}], "member removed",
             rtype="Groups")
    st, _, j = app.query("Users", 'groups.value eq "%s"' % gid)
    c.ok(j.get("totalResults") == 1 and j["Resources"][0]["id"] == boss["id"], N + ": one member left", j)

    # ---- disable, delete
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": "active", "value": "False"}], "disable")
    c.ok(r.get("active") is False and r.get(SP), N + ": disabled, attributes kept", r)
    st, _, _ = app.delete("/Users/" + uid)
    c.ok(st == 204, N + ": DELETE", st)
    st, _, j = app.query("Users", 'userName eq "sven.tore@contoso.com"')
    c.ok(j.get("totalResults") == 0, N + ": deleted", j)

    # ---- isolation: another customer's host, without a profile
    st, _, j = plain.get("/Schemas")
    c.ok(st == 200 and SP not in [s["id"] for s in j.get("Resources", [])], "plain tenant: no SpokeCustom schema", j)
    st, _, j = plain.post("/Users", post_body({"userName": "sven.tore@contoso.com", SP + ":startDate": 20260401},
                                              [USER]))
    c.ok(st == 201 and j.get(SP) == {"startDate": 20260401}, "plain tenant: the block is not checked there", (st, j))
    st, _, j = plain.get("/Users/" + boss["id"])
    c.error_body(st, j, 404, None, "plain tenant: the askspoke user is not visible")

    into = check_replay(c, srv, N)
    srv.start(data=into)
    app = App(srv, "/scim/v2", t["secret"], host=T + ".askspoke.test")
    st, _, j = app.patch("/Users/" + boss["id"], [{"op": "Add", "path": SP + ":startDate", "value": 1}])
    c.error_body(st, j, 400, "invalidValue", N + ": after replay the profile is enforced")
finally:
    srv.cleanup()
c.done()
