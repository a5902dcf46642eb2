"""0709 — resource types of a tenant's own (issue 8 item 1): a tenant
definition declares `Role` (endpoint /Roles, a core schema of its own with
a unique `name`) and `Team`; they get CRUD, filters, PATCH, events (change
records and the change stream), reports (history, the change feed) and
replay with no code of their own. A Talkdesk-style User extension takes
`rolesString` / `teamsString` only when a Role / Team of that name exists
(`catalog: "Role.name"`). Another tenant has no /Roles. Dropping the type
while roles exist is a tightening (409, force applies it, the data stays
and comes back with the type); storage codes are never reused; a replay
gives the same digest."""
import json
import os
from urllib.parse import quote
from scimtest import Check, Server, USER, cli, patch_body

c = Check()
ROLE = "urn:acme:params:scim:schemas:core:2.0:Role"
TEAM = "urn:acme:params:scim:schemas:core:2.0:Team"
ROLE_EXT = "urn:acme:params:scim:schemas:extension:audit:2.0:Role"
EXT = "urn:ietf:params:scim:schemas:extension:talkdesk:2.0:User"


def definition(roles=True, teams=True):
    schemas = [
        {"id": EXT, "name": "TalkdeskUser", "attributes": [
            {"name": "rolesString", "type": "string", "catalog": "Role.name"},
            {"name": "teamsString", "type": "string", "multiValued": True,
             "catalog": "Team.displayName"},
            {"name": "pin", "type": "string", "returned": "never"}]},
    ]
    rts = [{"name": "User", "schemaExtensions": [{"schema": EXT, "required": False}]}]
    if roles:
        schemas += [
            {"id": ROLE, "name": "Role", "description": "an app role", "attributes": [
                {"name": "name", "type": "string", "required": True, "uniqueness": "server",
                 "returned": "always"},
                {"name": "secret", "type": "string", "returned": "never"},
                {"name": "notes", "type": "string", "returned": "request"},
                {"name": "description", "type": "string"},
                {"name": "level", "type": "integer", "default": 1},
                {"name": "permissions", "type": "string", "multiValued": True,
                 "canonicalValues": ["read", "write", "admin"]}]},
            {"id": ROLE_EXT, "name": "RoleAudit", "attributes": [
                {"name": "owner", "type": "string"}]},
        ]
        rts.append({"name": "Role", "endpoint": "/Roles", "schema": ROLE,
                    "description": "Talkdesk roles",
                    "schemaExtensions": [{"schema": ROLE_EXT, "required": False}],
                    "unknownAttributes": "refuse"})
    if teams:
        schemas.append({"id": TEAM, "name": "Team", "attributes": [
            {"name": "displayName", "type": "string", "required": True}]})
        rts.append({"name": "Team", "endpoint": "/Teams", "schema": TEAM})
    if not (roles and teams):
        # the catalogs name the types: without them, plain attributes
        for a in schemas[0]["attributes"]:
            a.pop("catalog", None)
    return {"schemas": schemas, "resourceTypes": rts}


srv = Server(tenants=("acme", "other"))
OP = "op-" + "7" * 40
with open(os.path.join(srv.root, "op"), "w") as f:
    f.write(OP)
# a scan may examine 2 resources: a filter on a unique attribute of a
# type of one's own is answered from the uniqueness index instead
srv.extra = ["--operator-token-file", os.path.join(srv.root, "op"), "--scan-limit", "2"]
srv.start()
try:
    a, o = srv.client("acme"), srv.client("other")
    op = srv.client("x", token=OP)
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema", definition(), base=False)
    c.ok(st in (200, 201), "definition with Role and Team", (st, j))

    # discovery
    st, _, rts = a.get("/ResourceTypes")
    byname = {r["id"]: r for r in rts.get("Resources", [])}
    c.ok("Role" in byname and byname["Role"].get("endpoint") == "/Roles", "/ResourceTypes lists Role at /Roles", rts)
    c.ok(byname.get("Role", {}).get("schema") == ROLE, "Role's core schema", byname.get("Role"))
    c.ok([e["schema"] for e in byname.get("Role", {}).get("schemaExtensions", [])] == [ROLE_EXT],
         "Role's extension", byname.get("Role"))
    st, _, sch = a.get("/Schemas/" + ROLE)
    c.ok(st == 200 and {x["name"] for x in sch.get("attributes", [])} >= {"name", "permissions"},
         "/Schemas/{Role URN}", (st, sch))
    st, _, j = o.get("/Roles")
    c.error_body(st, j, 404, None, "another tenant has no /Roles")
    st, _, j = o.get("/ResourceTypes")
    c.ok("Role" not in json.dumps(j), "nor advertises it", j)

    # create
    st, h, r1 = a.post("/Roles", {"schemas": [ROLE], "Name": "Agent", "permissions": ["read"]})
    c.ok(st == 201, "POST /Roles", (st, r1))
    c.ok(r1.get("name") == "Agent" and "Name" not in r1, "the attribute takes the schema's spelling", r1)
    c.ok(r1.get("meta", {}).get("resourceType") == "Role", "meta.resourceType Role", r1)
    c.ok(r1.get("meta", {}).get("location", "").endswith("/Roles/" + r1.get("id", "?")), "location under /Roles", r1)
    c.ok(r1.get("schemas") == [ROLE], "schemas names the core schema", r1)
    c.ok(r1.get("level") == 1, "default applied on create", r1)
    c.ok({k.lower(): v for k, v in h.items()}.get("location", "").endswith("/Roles/" + r1.get("id", "?")), "Location header", h)
    st, _, j = a.post("/Roles", {"schemas": [ROLE], "description": "no name"})
    c.error_body(st, j, 400, "invalidValue", "name is required")
    c.ok("name" in j.get("detail", ""), "the detail names it", j)
    st, _, j = a.post("/Roles", {"schemas": [ROLE], "name": "AGENT"})
    c.error_body(st, j, 409, "uniqueness", "name is unique, caselessly")
    st, _, j = a.post("/Roles", {"schemas": [ROLE], "name": "x", "permissions": ["fly"]})
    c.error_body(st, j, 400, "invalidValue", "canonicalValues")
    st, _, j = a.post("/Roles", {"schemas": [ROLE], "name": "x", "level": "high"})
    c.error_body(st, j, 400, "invalidValue", "an integer")
    st, _, j = a.post("/Roles", {"schemas": [ROLE], "name": "x", "bogus": 1})
    c.error_body(st, j, 400, "invalidValue", "unknownAttributes refuse")
    c.ok("bogus" in j.get("detail", ""), "names the unknown attribute", j)
    st, _, r2 = a.post("/Roles", {"schemas": [ROLE, ROLE_EXT], "name": "Supervisor",
                                  "externalId": "sup-1", ROLE_EXT: {"owner": "ops"}})
    c.ok(st == 201 and r2.get(ROLE_EXT, {}).get("owner") == "ops", "a Role with its extension", (st, r2))
    st, _, t1 = a.post("/Teams", {"displayName": "Blue"})
    c.ok(st == 201 and t1.get("meta", {}).get("resourceType") == "Team", "POST /Teams", (st, t1))

    # the token-implied URL shape (/scim/v2 + endpoint): /scim/v2/Roles/{id}
    # is acme's Roles endpoint, not a tenant named Roles
    st, _, j = a.raw("GET", "/scim/v2/Roles/" + r1["id"], base=False)
    c.ok(st == 200 and j.get("name") == "Agent" and
         j.get("meta", {}).get("location", "").endswith("/scim/v2/Roles/" + r1["id"]),
         "token-implied GET /scim/v2/Roles/{id}", (st, j))
    st, _, j = a.raw("GET", "/scim/v2/Roles", base=False)
    c.ok(st == 200 and j.get("totalResults") == 2, "token-implied GET /scim/v2/Roles", (st, j))
    st, _, j = o.raw("GET", "/scim/v2/Roles/" + r1["id"], base=False)
    c.ok(st == 401, "another tenant's token: no such tenant Roles (401)", (st, j))

    # read, filter, paging
    st, _, j = a.get("/Roles/" + r1["id"])
    c.ok(st == 200 and j.get("name") == "Agent", "GET /Roles/{id}", (st, j))
    st, _, j = a.get("/Teams/" + r1["id"])
    c.error_body(st, j, 404, None, "a Role is not a Team")
    st, _, j = a.get("/Users/" + r1["id"])
    c.error_body(st, j, 404, None, "nor a User")
    st, _, j = a.get("/Roles")
    c.ok(j.get("totalResults") == 2, "list: two roles", j)
    st, _, j = a.get("/Roles?filter=" + quote('name eq "agent"'))
    c.ok([x["id"] for x in j.get("Resources", [])] == [r1["id"]], "filter name eq (caseless)", j)
    st, _, j = a.get("/Roles?filter=" + quote('externalId eq "sup-1"'))
    c.ok([x["id"] for x in j.get("Resources", [])] == [r2["id"]], "filter externalId eq", j)
    st, _, j = a.get("/Roles?filter=" + quote('permissions eq "read"') + "&attributes=name")
    c.ok([x.get("name") for x in j.get("Resources", [])] == ["Agent"] and
         "permissions" not in json.dumps(j.get("Resources")), "filter on a multi-valued attribute, attributes=", j)
    st, _, j = a.post("/Roles/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                         "filter": 'name sw "Sup"'})
    c.ok(st == 200 and j.get("totalResults") == 1, "POST /Roles/.search", (st, j))
    st, _, j = a.get("/Roles?count=1")
    c.ok(len(j.get("Resources", [])) == 1 and j.get("totalResults") == 2, "paging", j)

    # PATCH, PUT
    st, _, j = a.patch("/Roles/" + r1["id"], patch_body(
        {"op": "replace", "path": "description", "value": "answers calls"},
        {"op": "add", "path": "permissions", "value": ["write"]}))
    c.ok(st in (200, 204), "PATCH replace + add", (st, j))
    st, _, j = a.get("/Roles/" + r1["id"])
    c.ok(j.get("description") == "answers calls" and j.get("permissions") == ["read", "write"],
         "PATCH applied (add appends to a multi-valued attribute)", j)
    c.ok(j.get("meta", {}).get("version") == 'W/"2"', "version bumped", j)
    st, _, j = a.patch("/Roles/" + r1["id"], patch_body({"op": "replace", "path": "nosuch", "value": 1}))
    c.error_body(st, j, 400, "invalidPath", "an unknown path")
    st, _, j = a.patch("/Roles/" + r1["id"], patch_body({"op": "remove", "path": "name"}))
    c.error_body(st, j, 400, "invalidValue", "removing a required attribute")
    st, _, j = a.patch("/Roles/" + r1["id"], patch_body({"op": "replace", "path": "name", "value": "supervisor"}))
    c.error_body(st, j, 409, "uniqueness", "PATCH to a held name")
    st, _, j = a.put("/Roles/" + r2["id"], {"schemas": [ROLE], "name": "Lead", "level": 3})
    c.ok(st == 200 and j.get("name") == "Lead" and ROLE_EXT not in j, "PUT replaces", (st, j))
    st, _, j = a.post("/Roles", {"schemas": [ROLE], "name": "Supervisor"})
    c.ok(st == 201, "the old name is free after the PUT", (st, j))
    r3 = j
    st, _, j = a.get("/Roles?filter=" + quote('description eq "answers calls"'))
    c.error_body(st, j, 400, "tooMany", "three roles: a scan is over the limit")
    st, _, j = a.get("/Roles?filter=" + quote('name eq "AGENT" and level eq 1'))
    c.ok(st == 200 and [x["id"] for x in j.get("Resources", [])] == [r1["id"]],
         "name eq is answered from the uniqueness index (the rest of the filter still applies)", (st, j))
    st, _, j = a.get("/Roles?filter=" + quote('name eq "AGENT" and level eq 2'))
    c.ok(st == 200 and j.get("totalResults") == 0, "and refuses a candidate the rest rules out", (st, j))
    st, _, j = a.get("/Roles?filter=" + quote('name eq "nobody"'))
    c.ok(st == 200 and j.get("totalResults") == 0, "no holder: no result", (st, j))

    # references from a User extension
    def user(n, role=None, teams=None):
        ext = {}
        if role is not None:
            ext["rolesString"] = role
        if teams is not None:
            ext["teamsString"] = teams
        return {"schemas": [USER, EXT], "userName": n + "@x.com", EXT: ext}

    st, _, u1 = a.post("/Users", user("u1", "agent", ["BLUE"]))
    c.ok(st == 201, "a user naming an existing role and team (caseless)", (st, u1))
    st, _, j = a.post("/Users", user("u2", "NoSuchRole"))
    c.error_body(st, j, 400, "invalidValue", "a role that does not exist")
    c.ok("NoSuchRole" in j.get("detail", "") and "Role" in j.get("detail", ""), "the detail names value and type", j)
    st, _, j = a.post("/Users", user("u2", teams=["Red"]))
    c.error_body(st, j, 400, "invalidValue", "a team that does not exist")
    st, _, j = a.patch("/Users/" + u1["id"], patch_body({"op": "replace", "path": EXT + ":rolesString", "value": "Lead"}))
    c.ok(st in (200, 204), "PATCH to another existing role", (st, j))

    # returned: never / request / always (RFC 7643 section 7)
    st, _, rr = a.post("/Roles", {"name": "Vault", "secret": "s3", "notes": "n1"})
    c.ok(st == 201 and "secret" not in rr and "notes" not in rr and rr.get("name") == "Vault",
         "returned never/request: not in the POST answer", (st, rr))
    st, _, j = a.get("/Roles/" + rr["id"])
    c.ok("secret" not in j and "notes" not in j, "nor in a GET", j)
    st, _, j = a.get("/Roles/" + rr["id"] + "?attributes=notes")
    c.ok(j.get("notes") == "n1" and j.get("name") == "Vault" and "secret" not in j,
         "request: returned when asked; always: returned anyway", j)
    st, _, j = a.get("/Roles/" + rr["id"] + "?attributes=secret")
    c.ok("secret" not in j, "never: not even when asked", j)
    st, _, j = a.get("/Roles/" + rr["id"] + "?excludedAttributes=name")
    c.ok(j.get("name") == "Vault", "always: excludedAttributes does not remove it", j)
    st, _, j = a.get("/Roles?count=100")
    c.ok("s3" not in json.dumps(j) and "n1" not in json.dumps(j), "nor in a list", j)
    st, _, j = a.patch("/Roles/" + rr["id"], patch_body({"op": "replace", "path": "description", "value": "d"}))
    st, _, j = a.get("/Roles/" + rr["id"] + "?attributes=notes")
    c.ok(j.get("notes") == "n1", "a PATCH keeps what is not returned", j)
    # (a value no id or time can hold: "1234" once matched a v7 id's time)
    st, _, pu = a.post("/Users", {"schemas": [USER, EXT], "userName": "pin@x.com", EXT: {"pin": "pinzq42"}})
    c.ok(st == 201 and "pinzq42" not in json.dumps(pu), "a user's never attribute: not in the POST answer", pu)
    for path in ("/Users/" + pu["id"], "/Users?count=100",
                 "/Users?filter=" + quote('userName eq "pin@x.com"')):
        st, _, j = a.get(path)
        c.ok(st == 200 and "pinzq42" not in json.dumps(j), "nor in GET " + path.split("?")[0], (path, j))
    st, _, j = a.delete("/Roles/" + rr["id"])

    # delete
    st, _, j = a.delete("/Roles/" + r3["id"])
    c.ok(st == 204, "DELETE /Roles/{id}", (st, j))
    st, _, j = a.get("/Roles/" + r3["id"])
    c.error_body(st, j, 404, None, "gone")
    st, _, j = a.post("/Users", user("u3", "Supervisor"))
    c.error_body(st, j, 400, "invalidValue", "a deleted role is no longer a value")

    # reports: the change feed and a role's history
    st, _, j = a.raw("GET", "/reports/v1/acme/resources/" + r1["id"] + "/history", base=False)
    recs = j.get("Resources", j.get("changes", [])) if isinstance(j, dict) else []
    c.ok(st == 200 and len(recs) >= 2, "a role's history", (st, j))
    c.ok(all(r.get("resourceType") == "Role" for r in recs), "its records say Role", recs)
    st, _, j = a.raw("GET", "/reports/v1/acme/changes?count=200", base=False)
    types = {r.get("resourceType") for r in j.get("Resources", j.get("changes", []))}
    c.ok({"Role", "Team", "User"} <= types, "the change feed carries Role and Team records", types)
    refused = [r for r in j.get("Resources", j.get("changes", []))
               if r.get("resourceType") == "Role" and r.get("verdict", r.get("status")) in ("REFUSED", 409, 400)]
    c.ok(len(refused) >= 1 or any(r.get("status") in (400, 409) for r in j.get("Resources", j.get("changes", []))),
         "refusals are recorded", j)
    # the change stream: full state of a role
    import http.client
    hc = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
    hc.request("GET", "/stream/v1/acme?after=0&wait=0&limit=1000",
               headers={"Authorization": "Bearer " + a.token})
    resp = hc.getresponse()
    lines = [json.loads(x) for x in resp.read().split(b"\n") if x.strip()]
    hc.close()
    c.ok(any(x.get("resourceType") == "Role" and (x.get("after") or {}).get("name") == "Agent" for x in lines),
         "the change stream carries a role's state", lines[:3])
    c.ok(any(x.get("resourceType") == "Role" and x.get("tombstone") for x in lines),
         "and a role's delete as a tombstone", [x for x in lines if x.get("op") == "delete"])
    # point in time: a role as it was, and the tenant's roles as they were
    t_create = r1["meta"]["lastModified"]
    st, _, j = a.raw("GET", "/reports/v1/acme/Roles/%s?asOf=%s" % (r1["id"], quote(t_create)), base=False)
    c.ok(st == 200 and j.get("name") == "Agent" and "description" not in j and
         j.get("meta", {}).get("location", "").endswith("/Roles/" + r1["id"]),
         "a role asOf its creation", (st, j))
    st, _, j2 = a.raw("GET", "/reports/v1/acme/Role/%s?asOf=%s" % (r1["id"], quote(t_create)), base=False)
    c.ok(st == 200 and j2 == j, "the same by the type's name (what change records say)", (st, j2))
    st, _, j = a.raw("GET", "/reports/v1/acme/Roles?asOf=%s" % quote(t_create), base=False)
    c.ok(st == 200 and [x["id"] for x in j.get("Resources", [])] == [r1["id"]],
         "the roles asOf then: only Agent", (st, j))
    st, _, j = a.raw("GET", "/reports/v1/acme/Roles?asOf=%s&filter=%s" % (
        quote(r3["meta"]["lastModified"]), quote('name eq "supervisor"')), base=False)
    c.ok(st == 200 and [x["id"] for x in j.get("Resources", [])] == [r3["id"]],
         "a deleted role is listed asOf before its delete", (st, j))
    st, _, j = a.raw("GET", "/reports/v1/acme/Users?asOf=%s" % quote(t_create), base=False)
    c.ok(st == 200 and j.get("totalResults") == 0, "roles are not users asOf", (st, j))

    # tightening: dropping Role while roles exist
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema", definition(roles=False), base=False)
    c.ok(st == 409 and "Role" in json.dumps(j), "dropping Role with roles left is refused, listing them", (st, j))
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema?force=true", definition(roles=False), base=False)
    c.ok(st == 200, "force drops it", (st, j))
    st, _, j = a.get("/Roles")
    c.error_body(st, j, 404, None, "/Roles is gone")
    st, _, j = op.raw("GET", "/admin/v1/tenants/acme/schema", base=False)
    codes = (j.get("definition") or j).get("storageCodes", {})
    c.ok("Role" in codes and "Team" in codes, "the storage codes are kept", j)
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema", definition(), base=False)
    c.ok(st == 200, "Role comes back", (st, j))
    st, _, j = a.get("/Roles/" + r1["id"])
    c.ok(st == 200 and j.get("name") == "Agent", "with its data", (st, j))

    # a bad definition of a type
    bad = definition()
    bad["resourceTypes"].append({"name": "Widget", "endpoint": "/Users", "schema": TEAM})
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema?dryRun=true", bad, base=False)
    c.error_body(st, j, 400, "invalidValue", "an endpoint taken by the protocol")
    bad = definition()
    bad["resourceTypes"][1]["schema"] = "urn:acme:nope:x:Role"
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema?dryRun=true", bad, base=False)
    c.error_body(st, j, 400, "invalidValue", "a core schema the definition lacks")
finally:
    srv.stop()
d1 = json.loads(cli("digest", "--data", srv.data).stdout)["digest"]
into = os.path.join(srv.root, "r")
cli("replay", "--data", srv.data, "--into", into)
c.ok(json.loads(cli("digest", "--data", into).stdout)["digest"] == d1, "replay: same digest")
srv.cleanup()
c.done()
