"""0872 — Workteam's profile end to end (profiles/workteam.json, guide
../shared/apps/workteam-entra-tutorial.txt). The vendor's product creates
the tenant over HTTP (`POST /admin/v1/tenants` with `"profile":
"workteam"`) and hands out the path-shaped base URL `/scim/v2/{tenant}`.
The guide's rule: a user must be assigned an application-specific role
(Default Access users are not provisioned). Entra sends the role through
SingleAppRoleAssignment into `roles[primary eq "True"].value`: POST with
the role, matching on userName, PATCH of every mapped attribute (the role
through its value filter with "True" as a string), a role outside the
catalog (Entra's `msiam_access` for Default Access) refused, the role
required on create, PUT and PATCH remove, the tenant's roles catalog managed
over HTTP with a tenant-admin token, disable, delete. Discovery, isolation
from a tenant without a profile, and a replay with the same digest."""
import json
from scimtest import Check, Server, USER, GROUP
from entra import (ADSCIM, App, admin_create, check_definition, check_discovery, check_replay, create_matched,
                   operator_args, patch_ok, post_body, profile, reads_back, test_connection)

c = Check()
N = "workteam"
T = "workteam-acme"
ROLE = 'roles[primary eq "True"].value'
prof = profile(N)

srv = Server(tenants=("plain",))
srv.extra = operator_args(srv.root)
srv.start()
try:
    st, t = admin_create(srv, T, N)
    c.ok(st == 201 and t.get("profile") == N and t.get("scimUrl", "").endswith("/scim/v2/" + T),
         "tenant created over HTTP from the workteam profile, with its base URL", (st, t))
    app = App(srv, "/scim/v2/" + T, t["secret"])
    plain = App(srv, "/scim/v2/plain", srv.tokens["plain"]["secret"])
    check_definition(c, app, N, T, prof)
    check_discovery(c, app, N, prof)
    test_connection(c, app, N)

    # the tenant's admin token, issued over HTTP by the vendor's product
    st, _, adm = app.admin("POST", "/%s/tokens" % T, {"scope": "tenant-admin"})
    c.ok(st == 201 and adm.get("secret"), N + ": tenant-admin token issued", (st, adm))
    atok = adm.get("secret", "x")
    st, _, j = app.admin("GET", "/%s/catalogs/roles" % T, token=atok)
    c.ok(st == 200 and j.get("values") == prof["catalogs"]["roles"]["values"], N + ": the roles catalog", (st, j))
    st, _, j = app.admin("PATCH", "/%s/catalogs/roles" % T, {"add": ["x"]}, token=t["secret"])
    c.error_body(st, j, 403, None, N + ": the SCIM token Entra holds may not change the catalog")

    # ---- the app role is required
    base = {"userName": "nils.role@contoso.com", "active": True, "name.givenName": "Nils",
            "name.familyName": "Holm", 'emails[type eq "work"].value': "nils.role@contoso.com"}
    st, _, j = app.post("/Users", post_body(base, [USER]))
    c.error_body(st, j, 400, "invalidValue", N + ": a user without an app role")
    c.ok("roles" in (j or {}).get("detail", ""), N + ": the refusal names roles", j)
    st, _, j = app.post("/Users", post_body(dict(base, **{ROLE: "msiam_access"}), [USER]))
    c.error_body(st, j, 400, "invalidValue", N + ": Default Access (msiam_access) is not a Workteam role")
    c.ok("catalog 'roles'" in (j or {}).get("detail", ""), N + ": the refusal names the catalog", j)
    st, _, j = app.query("Users", 'userName eq "nils.role@contoso.com"')
    c.ok(j.get("totalResults") == 0, N + ": nothing stored by the refusals", j)

    first = dict(base, externalId="3e4f5a6b-0000-4000-8000-00000000a001", **{ROLE: "Manager"})
    u = create_matched(c, app, N, post_body(first, [USER]), 'userName eq "nils.role@contoso.com"')
    uid = u["id"]
    c.ok(u.get("roles") and u["roles"][0].get("primary") is True, N + ": the role is the primary one", u.get("roles"))
    reads_back(c, N, u, first, "POST answer")

    # ---- an update cycle: every mapped attribute, the role through its filter
    second = dict(first, **{"name.familyName": "Holmberg", 'emails[type eq "work"].value': "nils.holmberg@contoso.com",
                            ROLE: "Admin"})
    r = patch_ok(c, app, N, uid, [
        {"op": "Replace", "path": "name.familyName", "value": "Holmberg"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "nils.holmberg@contoso.com"},
        {"op": "Replace", "path": ROLE, "value": "Admin"}], "every mapped attribute")
    reads_back(c, N, r, second, "after the update cycle")
    c.ok(len(r.get("roles", [])) == 1, N + ": still one role", r.get("roles"))
    st, _, j = app.patch("/Users/" + uid, [{"op": "Replace", "path": ROLE, "value": "msiam_access"}])
    c.error_body(st, j, 400, "invalidValue", N + ": PATCH to Default Access")
    st, _, j = app.patch("/Users/" + uid, [{"op": "Remove", "path": "roles"}])
    c.error_body(st, j, 400, "invalidValue", N + ": the role cannot be removed")
    st, _, j = app.put("/Users/" + uid, post_body({"userName": "nils.role@contoso.com"}, [USER]))
    c.error_body(st, j, 400, "invalidValue", N + ": PUT without the role")
    st, _, r = app.get("/Users/" + uid)
    reads_back(c, N, r, second, "nothing of the refused writes applied")

    # ---- the vendor adds a role; Entra may assign it at once
    st, _, j = app.admin("PATCH", "/%s/catalogs/roles" % T, {"add": ["Shift Lead"]}, token=atok)
    c.ok(st == 200, N + ": role added to the catalog over HTTP", (st, j))
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": ROLE, "value": "Shift Lead"}], "the new role")
    c.ok(r["roles"][0]["value"] == "Shift Lead", N + ": the new role is accepted", r.get("roles"))
    st, _, j = app.admin("PATCH", "/%s/catalogs/roles" % T, {"remove": ["Shift Lead"]}, token=atok)
    c.error_body(st, j, 409, "invalidValue", N + ": a role in use cannot leave the catalog")
    # the role in another case matches (catalogs are case-insensitive unless caseExact)
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": ROLE, "value": "admin"}], "role in another case")
    c.ok(r["roles"][0]["value"] == "admin", N + ": stored as sent", r.get("roles"))
    # the role set by a whole-list replace, as AppRoleAssignmentsComplex sends it
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": "roles", "value": [
        {"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "display": "Manager", "value": "Manager"}]}],
        "whole roles list")
    c.ok([x["value"] for x in r.get("roles", [])] == ["Manager"], N + ": the list replaced", r.get("roles"))

    # AppRoleAssignmentsComplex: Entra adds roles as JSON documents encoded as strings; the catalog
    # checks their "value"
    doc = json.dumps({"id": "06b07648-ecfe-589f-9d2f-6325724a46ee", "value": "Admin", "displayName": "Admin"})
    r = patch_ok(c, app, N, uid, [{"op": "Add", "path": "roles", "value": [{"value": doc}]}],
                 "a role as a JSON document in a string")
    c.ok([x["value"] for x in r.get("roles", [])] == ["Manager", doc], N + ": stored as sent", r.get("roles"))
    bad = json.dumps({"id": "18d14569-c3bd-439b-9a66-3a2aee01d14f", "value": "msiam_access",
                      "displayName": "Default Access"})
    st, _, j = app.patch("/Users/" + uid, [{"op": "Add", "path": "roles", "value": [{"value": bad}]}])
    c.error_body(st, j, 400, "invalidValue", N + ": Default Access as a JSON document")
    c.ok("msiam_access" in (j or {}).get("detail", ""), N + ": the refusal names the role inside", j)
    r = patch_ok(c, app, N, uid, [{"op": "Remove", "path": "roles", "value": [{"value": doc}]}],
                 "the JSON-document role removed")
    c.ok([x["value"] for x in r.get("roles", [])] == ["Manager"], N + ": one role left", r.get("roles"))

    # ---- groups are provisioned as Entra's defaults have them
    g = create_matched(c, app, N, {"schemas": [GROUP, ADSCIM], "displayName": "Warehouse", "members": []},
                       'displayName eq "Warehouse"', rtype="Groups")
    patch_ok(c, app, N, g["id"], [{"op": "Add", "path": "members", "value": [{"value": uid}]}], "member added",
             rtype="Groups")
    st, _, j = app.query("Users", 'groups.value eq "%s"' % g["id"])
    c.ok(j.get("totalResults") == 1, N + ": member found", j)

    # ---- disable, delete
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": "active", "value": "False"}], "disable")
    c.ok(r.get("active") is False and r["roles"][0]["value"] == "Manager", N + ": disabled, role kept", r)
    st, _, _ = app.delete("/Users/" + uid)
    c.ok(st == 204, N + ": DELETE", st)
    st, _, j = app.query("Users", 'userName eq "nils.role@contoso.com"')
    c.ok(j.get("totalResults") == 0, N + ": gone", j)
    st, _, j = app.get("/Groups/" + g["id"])
    c.ok(not j.get("members"), N + ": the deleted user left its group", j)

    # ---- isolation
    st, _, j = plain.post("/Users", post_body(base, [USER]))
    c.ok(st == 201, "plain tenant: a user without a role is fine there", (st, j))
    st, _, j = plain.post("/Users", post_body({"userName": "r@contoso.com", ROLE: "msiam_access"}, [USER]))
    c.ok(st == 201 and j["roles"][0]["value"] == "msiam_access", "plain tenant: any role value", (st, j))
    st, _, j = app.admin("GET", "/plain/catalogs/roles", token=atok)
    c.ok(st in (401, 403), N + ": its admin token cannot read another tenant's catalogs", (st, j))

    into = check_replay(c, srv, N)
    srv.start(data=into)
    app = App(srv, "/scim/v2/" + T, t["secret"])
    st, _, j = app.post("/Users", post_body({"userName": "late@contoso.com", ROLE: "Shift Lead"}, [USER]))
    c.ok(st == 201, N + ": after replay the catalog holds the role added over HTTP", (st, j))
    st, _, j = app.post("/Users", post_body({"userName": "late2@contoso.com"}, [USER]))
    c.error_body(st, j, 400, "invalidValue", N + ": after replay the role is still required")
finally:
    srv.cleanup()
c.done()
