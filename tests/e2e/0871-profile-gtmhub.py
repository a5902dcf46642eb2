"""0871 — Gtmhub's profile end to end (profiles/gtmhub.json, guide
../shared/apps/gtmhub-entra-tutorial.txt). The tenant is created with
`scimlog tenant create --profile gtmhub` while the server runs, and served
at Gtmhub's URL shape `/api/v1/scim/azure/{account_id}`. Entra's user
mappings (userName, externalId, the enterprise manager reference) are
replayed: test connection, matching on userName and on externalId, POST,
the manager set afterwards in each shape Entra uses (bare id on the URN
path, a [{"$ref", "value"}] list, "" to clear) with Entra's reference check
(`id eq X and manager eq Y&attributes=id`), disable, delete; teams from
groups (member add, rename with a membership change, remove by value list,
by filter, all). Discovery is the built-in one, another account's token is
refused on this URL, a tenant without a profile is unaffected, and a replay
has the same digest."""
import json
from scimtest import Check, Server, USER, GROUP, cli
from entra import (ADSCIM, ENT, App, check_definition, check_discovery, check_replay, create_matched,
                   operator_args, patch_ok, post_body, profile, reads_back, test_connection)

c = Check()
N = "gtmhub"
ACCT = "5f3c0a1b2c3d4e5f6a7b8c9d"
BASE = "/api/v1/scim/azure/" + ACCT
prof = profile(N)

srv = Server(tenants=("plain",))
srv.extra = ["--mount", "/api/v1/scim/azure/{tenant}"] + operator_args(srv.root)
srv.start()
try:
    p = cli("tenant", "create", ACCT, "--profile", N, "--data", srv.data, check=False)
    t = json.loads(p.stdout) if p.returncode == 0 else {}
    c.ok(t.get("profile") == N and t.get("secret"), "tenant created from the gtmhub profile while serving", p.stderr)
    app = App(srv, BASE, t.get("secret", "x"))
    plain_tok = srv.tokens["plain"]["secret"]
    check_definition(c, app, N, ACCT, prof)
    check_discovery(c, app, N, prof)
    test_connection(c, app, N)
    st, _, j = app.get("/Users", token=plain_tok)
    c.error_body(st, j, 401, None, N + ": another tenant's token on this account's URL")
    st, _, j = app.get("/ResourceTypes/User")
    c.ok(st == 200 and [e["schema"] for e in j.get("schemaExtensions", [])] == [ENT],
         N + ": the User type carries only the enterprise extension (the manager lives there)", j)

    # ---- users: userName, externalId; the manager comes after both exist
    boss_map = {"userName": "petra.boss@contoso.com", "externalId": "0b1c2d3e-0000-4000-8000-00000000b055"}
    boss = create_matched(c, app, N, post_body(boss_map, [USER]), 'userName eq "petra.boss@contoso.com"')
    emp_map = {"userName": "eric.emp@contoso.com", "externalId": "0b1c2d3e-0000-4000-8000-000000000e01"}
    emp = create_matched(c, app, N, post_body(emp_map, [USER]), 'externalId eq "%s"' % emp_map["externalId"])
    reads_back(c, N, emp, emp_map, "POST answer")
    uid, bid = emp["id"], boss["id"]

    # Entra's reference check before exporting the manager: no match yet
    ref = 'id eq "%s" and manager eq "%s"' % (uid, bid)
    st, _, j = app.query("Users", ref, "&attributes=id")
    c.ok(st == 200 and j.get("totalResults") == 0, N + ": reference check before the manager is set", (st, j))
    r = patch_ok(c, app, N, uid, [{"op": "Add", "path": ENT + ":manager", "value": bid}], "manager as a bare id")
    c.ok(r.get(ENT, {}).get("manager", {}).get("value") == bid, N + ": manager reads back as an object", r.get(ENT))
    st, _, j = app.query("Users", ref, "&attributes=id")
    c.ok(st == 200 and j.get("totalResults") == 1 and set(j["Resources"][0]) <= {"id", "schemas", "meta"},
         N + ": Entra's reference check (attributes=id)", (st, j))
    st, _, j = app.query("Users", 'manager.value eq "%s"' % bid)
    c.ok(st == 200 and j.get("totalResults") == 1, N + ": manager.value filter", (st, j))

    # a new manager in the list shape, then the matching attributes change
    boss2 = create_matched(c, app, N, post_body({"userName": "quinn.lead@contoso.com",
                                                 "externalId": "0b1c2d3e-0000-4000-8000-0000000b0552"}, [USER]),
                           'userName eq "quinn.lead@contoso.com"')
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": ENT + ":manager",
                                   "value": [{"$ref": None, "value": boss2["id"]}]}], "manager as a list")
    c.ok(r.get(ENT, {}).get("manager", {}).get("value") == boss2["id"], N + ": the new manager", r.get(ENT))
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": "userName", "value": "eric.employee@contoso.com"},
                                  {"op": "Replace", "path": "externalId", "value": "0b1c2d3e-0000-4000-8000-000000000e02"}],
                 "userName and externalId")
    reads_back(c, N, r, {"userName": "eric.employee@contoso.com",
                         "externalId": "0b1c2d3e-0000-4000-8000-000000000e02"}, "after the update")
    st, _, j = app.query("Users", 'userName eq "eric.emp@contoso.com"')
    c.ok(j.get("totalResults") == 0, N + ": the old userName no longer matches", j)
    st, _, j = app.patch("/Users/" + bid, [{"op": "Replace", "path": "userName", "value": "ERIC.EMPLOYEE@contoso.com"}])
    c.error_body(st, j, 409, "uniqueness", N + ": a userName taken in another case")
    st, _, j = app.post("/Users", post_body({"userName": "dup.ext@contoso.com",
                                             "externalId": "0b1c2d3e-0000-4000-8000-000000000e02"}, [USER]))
    c.ok(st == 201, N + ": externalId is not unique (RFC 7643)", (st, j))
    dup = (j or {}).get("id")
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": ENT + ":manager", "value": ""}], "manager cleared")
    c.ok("manager" not in r.get(ENT, {}), N + ": manager cleared by \"\"", r)

    # ---- teams from groups
    g = create_matched(c, app, N, {"schemas": [GROUP, ADSCIM], "displayName": "Team Alpha", "members": []},
                       'displayName eq "Team Alpha"', rtype="Groups")
    gid = g["id"]
    patch_ok(c, app, N, gid, [{"op": "Add", "path": "members",
                               "value": [{"$ref": None, "value": uid}, {"value": bid}, {"value": boss2["id"]}]}],
             "three members added", rtype="Groups")
    st, _, j = app.query("Users", 'groups.value eq "%s"' % gid)
    c.ok(st == 200 and j.get("totalResults") == 3, N + ": three team members", (st, j))
    r = patch_ok(c, app, N, gid, [{"op": "Replace", "path": "displayName", "value": "Team Alpha (EMEA)"},
                                  {"op": "Remove", "path": 'members[value eq "%s"]' % bid}],
                 "rename with a member removed by filter", rtype="Groups")
    c.ok(r.get("displayName") == "Team Alpha (EMEA)" and "members" not in r, N + ": renamed", r)
    patch_ok(c, app, N, gid, [{"op": "Remove", "path": "members", "value": [{"value": boss2["id"]}]}],
             "a member removed by value list", rtype="Groups")
    st, _, j = app.get("/Groups/" + gid)
    c.ok([m["value"] for m in j.get("members", [])] == [uid], N + ": one member left", j.get("members"))
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": "active", "value": "False"}], "disable")
    c.ok(r.get("active") is False, N + ": disabled", r)
    st, _, j = app.query("Users", 'groups.value eq "%s"' % gid)
    c.ok(j.get("totalResults") == 1, N + ": a disabled user stays in its team", j)
    patch_ok(c, app, N, gid, [{"op": "Remove", "path": "members"}], "all members removed", rtype="Groups")
    st, _, j = app.get("/Groups/" + gid)
    c.ok(not j.get("members"), N + ": no members left", j)

    # ---- delete
    for rid in (uid, dup, boss2["id"]):
        st, _, _ = app.delete("/Users/" + rid)
        c.ok(st == 204, N + ": DELETE user", st)
    st, _, j = app.query("Users", 'externalId eq "0b1c2d3e-0000-4000-8000-000000000e02"')
    c.ok(j.get("totalResults") == 0, N + ": deleted users no longer match", j)

    # ---- isolation
    plain = App(srv, "/scim/v2/plain", plain_tok)
    st, _, j = plain.query("Users", 'userName eq "petra.boss@contoso.com"')
    c.ok(st == 200 and j.get("totalResults") == 0, "plain tenant: sees none of the account's users", j)
    st, _, j = plain.get("/Users/" + bid)
    c.error_body(st, j, 404, None, "plain tenant: the account's user by id")
    st, _, j = plain.post("/Users", post_body(boss_map, [USER]))
    c.ok(st == 201, "plain tenant: the same userName is free there", (st, j))
    into = check_replay(c, srv, N)
    srv.start(data=into)
    app = App(srv, BASE, t.get("secret", "x"))
    st, _, j = app.get("/Users/" + bid)
    c.ok(st == 200 and j.get("userName") == "petra.boss@contoso.com", N + ": served from the replayed views", (st, j))
finally:
    srv.cleanup()
c.done()
