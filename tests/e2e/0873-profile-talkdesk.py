"""0873 — Talkdesk's profile end to end (profiles/talkdesk.json, guide
../shared/apps/talkdesk-entra-scim.txt). The vendor's product creates the
tenant over HTTP with `"profile": "talkdesk"` and a tenant-admin token;
Entra uses Talkdesk's URL `/scim/v2` (the tenant implied by the token).
The guide's rules: userName, name.givenName and name.familyName are
mandatory; a user is created active=true when active is not mapped, and
with the role Agent when the role is not mapped; rolesString / teamsString
(`urn:ietf:params:scim:schemas:extension:talkdesk:2.0:User`) must name a
role / team that already exists in the account (the catalogs `roles` and
`teams`, managed by the tenant over HTTP); groups mapping disabled
(Groups 404); only supported fields are kept. Replayed as Entra sends
them: test connection, matching on userName, POST with the active
expression's "True", PATCH of each mapped attribute, disable with "False",
delete. Discovery, isolation from a tenant without a profile, and a replay
with the same digest."""
import json
from scimtest import Check, Server, USER, GROUP
from entra import (App, admin_create, check_definition, check_discovery, check_replay, create_matched,
                   operator_args, patch_ok, post_body, profile, reads_back, test_connection)

c = Check()
N = "talkdesk"
T = "td-acct-eu1"
TD = "urn:ietf:params:scim:schemas:extension:talkdesk:2.0:User"
ROLE, TEAM = TD + ":rolesString", TD + ":teamsString"
prof = profile(N)

srv = Server(tenants=("plain",))
srv.extra = operator_args(srv.root)
srv.start()
try:
    st, t = admin_create(srv, T, N)
    c.ok(st == 201 and t.get("profile") == N, "tenant created over HTTP from the talkdesk profile", (st, t))
    app = App(srv, "/scim/v2", t["secret"])
    plain = App(srv, "/scim/v2", srv.tokens["plain"]["secret"])
    check_definition(c, app, N, T, prof)
    check_discovery(c, app, N, prof)
    test_connection(c, app, N, groups=False)
    st, _, adm = app.admin("POST", "/%s/tokens" % T, {"scope": "tenant-admin"})
    c.ok(st == 201 and adm.get("secret"), N + ": tenant-admin token issued over HTTP", (st, adm))
    atok = adm.get("secret", "x")

    def catalog(method, name, body=None, token=atok):
        return app.admin(method, "/%s/catalogs/%s" % (T, name), body, token=token)

    # ---- groups mapping disabled
    st, _, j = app.get("/ResourceTypes")
    c.ok(st == 200 and [r["name"] for r in j.get("Resources", [])] == ["User"], N + ": only User advertised", j)
    for method, path, body in (("GET", "/Groups", None),
                               ("GET", '/Groups?filter=displayName%20eq%20%22Sales%22&excludedAttributes=members', None),
                               ("POST", "/Groups", {"schemas": [GROUP], "displayName": "Sales"}),
                               ("GET", "/ResourceTypes/Group", None)):
        st, _, j = app.raw(method, path, body)
        c.error_body(st, j, 404, None, "%s: %s %s" % (N, method, path.split("?")[0]))

    # ---- the mandatory fields
    full = {"userName": "maria.silva@contoso.com", "name.givenName": "Maria", "name.familyName": "Silva",
            "externalId": "9a8b7c6d-0000-4000-8000-0000000000d1"}
    for missing in ("userName", "name.givenName", "name.familyName"):
        st, _, j = app.post("/Users", post_body({k: v for k, v in full.items() if k != missing}, [USER]))
        c.error_body(st, j, 400, "invalidValue", "%s: missing %s" % (N, missing))
        c.ok(missing in (j or {}).get("detail", ""), "%s: the refusal names %s" % (N, missing), j)

    # ---- the catalogs: unknown role or team, wrong type
    for attr, val, what in ((ROLE, "NoSuchRole", "catalog 'roles'"), (TEAM, "Support", "catalog 'teams'"),
                            (TEAM, 12345, "teamsString"), (ROLE, ["Agent", "Admin"], "rolesString")):
        st, _, j = app.post("/Users", post_body(dict(full, **{attr: val}), [USER]))
        c.error_body(st, j, 400, "invalidValue", "%s: %s %r" % (N, attr.rsplit(":", 1)[1], val))
        c.ok(what in (j or {}).get("detail", ""), "%s: the refusal names %s" % (N, what), j)
    st, _, j = app.query("Users", 'userName eq "maria.silva@contoso.com"')
    c.ok(j.get("totalResults") == 0, N + ": nothing stored by the refusals", j)

    # ---- defaults: neither active nor the role mapped
    u = create_matched(c, app, N, post_body(full, [USER]), 'userName eq "maria.silva@contoso.com"')
    uid = u["id"]
    c.ok(u.get("active") is True and u.get(TD, {}).get("rolesString") == "Agent" and "teamsString" not in u.get(TD, {}),
         N + ": created active=true with the role Agent and no team", u)
    reads_back(c, N, u, full, "POST answer")
    st, _, j = app.get("/Users/" + uid)
    c.ok(j.get("active") is True and j.get(TD, {}).get("rolesString") == "Agent", N + ": the defaults are stored", j)

    # ---- mapped: active through the expression ("True"/"False"), role and team constants
    st, _, j = catalog("PATCH", "teams", {"add": ["Support", "Sales EMEA"]})
    c.ok(st == 200, N + ": teams created over HTTP", (st, j))
    st, _, j = catalog("GET", "teams")
    c.ok(st == 200 and sorted(j.get("values", [])) == ["Sales EMEA", "Support"], N + ": the teams catalog read back",
         (st, j))
    st, _, j = catalog("PUT", "roles", {"values": ["Agent", "Admin", "Supervisor", "Quality Analyst"]})
    c.ok(st == 200, N + ": roles replaced over HTTP", (st, j))
    st, _, before = catalog("GET", "roles")
    st, _, j = catalog("PATCH", "roles", {"add": ["agent", "Supervisor"]})
    c.ok(st == 200 and j.get("changed") is False and j.get("generation") == before.get("generation"),
         N + ": a catalog edit that changes nothing writes nothing (a product syncing its list)", (st, j, before))
    st, _, j = catalog("PUT", "roles", {"values": before.get("values")})
    c.ok(st == 200 and j.get("changed") is False and j.get("generation") == before.get("generation"),
         N + ": the same values PUT again change nothing", (st, j))
    st, _, j = catalog("PATCH", "teams", {"add": ["x"]}, token=t["secret"])
    c.error_body(st, j, 403, None, N + ": Entra's SCIM token may not change the catalogs")
    mapped = dict(full, userName="joao.costa@contoso.com", externalId="9a8b7c6d-0000-4000-8000-0000000000d2",
                  active="True", **{ROLE: "Quality Analyst", TEAM: "Support"})
    v = create_matched(c, app, N, post_body(mapped, [USER]), 'userName eq "joao.costa@contoso.com"')
    c.ok(v.get("active") is True and v.get(TD) == {"rolesString": "Quality Analyst", "teamsString": "Support"},
         N + ": mapped role and team, \"True\" a boolean", v)
    w = create_matched(c, app, N, post_body(dict(full, userName="soft.deleted@contoso.com", active="False"), [USER]),
                       'userName eq "soft.deleted@contoso.com"')
    c.ok(w.get("active") is False and w.get(TD, {}).get("rolesString") == "Agent",
         N + ": active mapped to \"False\" is not overridden by the default", w)

    # ---- only supported fields: anything the profile does not define is dropped
    junk = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
    st, _, j = app.post("/Users", post_body(dict(full, userName="extra@contoso.com",
                                                 **{TD + ":ringGroups": "x", junk + ":badge": "7"}), [USER]))
    c.ok(st == 201 and junk not in j and "ringGroups" not in j.get(TD, {}) and junk not in j.get("schemas", []),
         N + ": undefined attributes dropped", (st, j))

    # ---- an update cycle, each mapped attribute in Entra's shapes
    upd = dict(full, **{"name.familyName": "Silva Santos", "name.givenName": "Maria Jose",
                        ROLE: "Supervisor", TEAM: "Sales EMEA", "active": True})
    r = patch_ok(c, app, N, uid, [
        {"op": "Replace", "path": "name.givenName", "value": "Maria Jose"},
        {"op": "Replace", "path": "name.familyName", "value": "Silva Santos"},
        {"op": "Replace", "path": ROLE, "value": "Supervisor"},
        {"op": "Add", "path": TEAM, "value": "Sales EMEA"}], "every mapped attribute")
    reads_back(c, N, r, upd, "after the update cycle")
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "value": {ROLE: "admin", "externalId": "9a8b7c6d-0000-4000-8000-0000000000e1"}}],
                 "path-less, a role in another case")
    c.ok(r.get(TD, {}).get("rolesString") == "admin" and r.get("externalId").endswith("e1"),
         N + ": role matched case-insensitively, stored as sent", r)
    st, _, j = app.patch("/Users/" + uid, [{"op": "Replace", "path": ROLE, "value": "Pilot"}])
    c.error_body(st, j, 400, "invalidValue", N + ": PATCH to an unknown role")
    st, _, j = app.patch("/Users/" + uid, [{"op": "Replace", "path": TEAM, "value": 12345}])
    c.error_body(st, j, 400, "invalidValue", N + ": PATCH a team that is a number")
    st, _, j = app.patch("/Users/" + uid, [{"op": "Remove", "path": "name.familyName"}])
    c.error_body(st, j, 400, "invalidValue", N + ": familyName cannot be removed")
    st, _, j = app.patch("/Users/" + uid, [{"op": "Remove", "path": "name.givenName"}])
    c.error_body(st, j, 400, "invalidValue", N + ": givenName cannot be removed")
    st, _, j = app.patch("/Users/" + uid, [{"op": "Replace", "path": "name.givenName", "value": ""}])
    c.error_body(st, j, 400, "invalidValue", N + ": givenName cannot be emptied")
    st, _, r = app.get("/Users/" + uid)
    c.ok(r.get(TD, {}).get("rolesString") == "admin" and r["name"]["familyName"] == "Silva Santos",
         N + ": nothing of the refused PATCHes applied", r)
    st, _, j = catalog("PATCH", "teams", {"remove": ["Sales EMEA"]})
    c.error_body(st, j, 409, "invalidValue", N + ": a team in use cannot leave the catalog")
    r = patch_ok(c, app, N, uid, [{"op": "Remove", "path": TEAM}], "team unassigned")
    c.ok("teamsString" not in r.get(TD, {}), N + ": no team", r.get(TD))
    st, _, j = catalog("PATCH", "teams", {"remove": ["Sales EMEA"]})
    c.ok(st == 200, N + ": an unused team leaves the catalog", (st, j))
    st, _, j = catalog("GET", "teams")
    c.ok(st == 200 and j.get("values") == ["Support"], N + ": one team left", (st, j))

    # ---- disable (IsSoftDeleted) and enable, then delete
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": "active", "value": "False"}], "disable")
    c.ok(r.get("active") is False, N + ": disabled", r)
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": "active", "value": "True"}], "enable")
    c.ok(r.get("active") is True, N + ": enabled again", r)
    for rid in (uid, w["id"]):
        st, _, _ = app.delete("/Users/" + rid)
        c.ok(st == 204, N + ": DELETE", st)
    st, _, j = app.query("Users", 'userName eq "maria.silva@contoso.com"')
    c.ok(j.get("totalResults") == 0, N + ": deleted", j)

    # ---- hostile catalog edits: named refusals, nothing applied, never another tenant's
    st, t2 = admin_create(srv, "td-acct-us1", N)
    c.ok(st == 201, N + ": a second Talkdesk account", (st, t2))
    app2 = App(srv, "/scim/v2", t2.get("secret", "x"))
    for method, path, body, want, frag in (
            ("PATCH", "/td-acct-us1/catalogs/roles", {"add": ["Quality Analyst"]}, 401, "tenant-admin"),
            ("PUT", "/td-acct-us1/schema", {}, 401, "tenant-admin"),
            ("PATCH", "/%s/catalogs/roles" % T, {"add": [1, None]}, 400, "not a string"),
            ("PATCH", "/%s/catalogs/roles" % T, {"add": "Agent"}, 400, "array of strings"),
            ("PATCH", "/%s/catalogs/roles" % T, {"add": ["r" * 257]}, 400, "256 bytes"),
            ("PATCH", "/%s/catalogs/roles" % T, {"bogus": ["x"]}, 400, "add"),
            ("PUT", "/%s/catalogs/roles" % T, {"values": ["v%d" % i for i in range(10001)]}, 400, "10000"),
            ("PUT", "/%s/catalogs/roles" % T, {"values": ["Agent", "AGENT"]}, 400, "twice"),
            ("PATCH", "/%s/catalogs/roles" % T, {"remove": ["Agent"]}, 400, "default"),
            ("PATCH", "/%s/catalogs/nosuch" % T, {"add": ["x"]}, 404, "nosuch"),
            ("PUT", "/%s/catalogs/..%%2Fschema" % T, {"values": ["x"]}, 404, "not defined")):
        st, _, j = app.admin(method, path, body, token=atok)
        c.ok(st == want and frag in (j or {}).get("detail", ""), "%s: %s %s %.40r refused" % (N, method, path, body),
             (st, j))
    st, _, j = catalog("GET", "roles")
    c.ok(j.get("values") == ["Agent", "Admin", "Supervisor", "Quality Analyst"], N + ": the roles are unchanged", j)
    st, _, j = app2.post("/Users", post_body(dict(full, **{ROLE: "Quality Analyst"}), [USER]))
    c.error_body(st, j, 400, "invalidValue", N + ": a role added in one account is not a role of another")
    st, _, j = catalog("PATCH", "roles", {"add": ["Straße"]})
    r = patch_ok(c, app, N, v["id"], [{"op": "Replace", "path": ROLE, "value": "STRASSE"}], "a role by Unicode caseless match")
    c.ok(r.get(TD, {}).get("rolesString") == "STRASSE", N + ": Straße matches STRASSE", r.get(TD))

    # ---- the reports: refusals name the rule, the defaults show as changes, catalog edits are events
    st, _, j = app.get("/reports/v1/%s/changes?verdict=refused&count=100" % T, absolute=True)
    details = [r.get("detail") or "" for r in (j or {}).get("changes", [])]
    c.ok(st == 200 and any("'NoSuchRole' is not in catalog 'roles'" in d for d in details)
         and any("name.familyName" in d for d in details), N + ": refused changes in the reports, with their reason",
         (st, details))
    st, _, j = app.get("/reports/v1/%s/changes?resource=%s&order=asc" % (T, uid), absolute=True)
    recs = (j or {}).get("changes", [])
    mod = {m["path"]: m["new"] for m in (recs[0].get("modified", []) if recs else [])}
    c.ok(st == 200 and recs and recs[0].get("action") == "create" and mod.get("active") is True
         and mod.get(ROLE) == "Agent", N + ": the create's change record shows the defaults applied", (st, recs[:1]))
    st, _, j = app.get("/reports/v1/%s/changes?count=1000" % T, absolute=True)
    recs = [r for r in (j or {}).get("changes", []) if r.get("action") == "schema_put"]
    # the profile, teams added, roles replaced, a team removed, a role added; no-op and refused edits none
    c.ok(st == 200 and len(recs) == 5 and all(r.get("actor") == adm.get("token_id") for r in recs[:4]),
         N + ": the profile and each catalog edit that changed something are schema events, by the "
         "tenant-admin token", (st, recs))

    # ---- isolation: a tenant without a profile, on the same /scim/v2 URL
    st, _, j = plain.post("/Users", {"schemas": [USER], "userName": "maria.silva@contoso.com",
                                     TD: {"rolesString": "NoSuchRole", "teamsString": 12345}})
    c.ok(st == 201 and "active" not in j and j.get(TD) == {"rolesString": "NoSuchRole", "teamsString": 12345},
         "plain tenant: no name required, no defaults, the block kept verbatim", (st, j))
    st, _, j = plain.query("Groups", 'displayName eq "x"', "&excludedAttributes=members")
    c.ok(st == 200, "plain tenant: Groups enabled", (st, j))
    st, _, j = plain.get("/Schemas/" + TD)
    c.error_body(st, j, 404, None, "plain tenant: no talkdesk schema")
    st, _, j = app.admin("GET", "/plain/catalogs/roles", token=atok)
    c.ok(st in (401, 403), N + ": its admin token cannot reach another tenant", (st, j))

    into = check_replay(c, srv, N)
    srv.start(data=into)
    app = App(srv, "/scim/v2", t["secret"])
    st, _, j = app.post("/Users", post_body(dict(full, userName="after@contoso.com", **{ROLE: "Quality Analyst"}), [USER]))
    c.ok(st == 201 and j.get("active") is True, N + ": after replay the HTTP-managed role exists and defaults apply",
         (st, j))
    st, _, j = app.post("/Users", post_body(dict(full, userName="after2@contoso.com", **{TEAM: "Sales EMEA"}), [USER]))
    c.error_body(st, j, 400, "invalidValue", N + ": after replay the removed team is gone")
finally:
    srv.cleanup()
c.done()
