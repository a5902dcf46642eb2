"""0860 — tenant-defined schemas over HTTP against the real server
(docs/tenant-schemas.md): the admin calls and their credentials, bad
definitions named precisely, per-tenant discovery documents, enforcement of
types, canonicalValues, catalogs, required (create, PUT, PATCH remove),
immutable and readOnly attributes, unknownAttributes refuse/drop, flat
extension keys, Entra's PATCH shapes on extension attributes, defaults,
tightening checked against existing resources (dry run, 409, force), the
CLI while serving, isolation between tenants, and replay: the definitions
are events, so a replay has the same digest."""
import json
import os
from scimtest import Check, Server, USER, cli, patch_body

c = Check()
EXT = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
GEXT = "urn:ietf:params:scim:schemas:extension:acme:2.0:Group"

DEF = {
    "description": "acme",
    "schemas": [
        {"id": EXT, "name": "AcmeUser", "attributes": [
            {"name": "label1", "type": "string"},
            {"name": "level", "type": "integer"},
            {"name": "vip", "type": "boolean"},
            {"name": "badge", "type": "string", "mutability": "immutable"},
            {"name": "score", "type": "integer", "mutability": "readOnly"},
            {"name": "tier", "type": "string", "canonicalValues": ["gold", "silver"]},
            {"name": "role", "type": "string", "catalog": "roles", "default": "Agent"},
            {"name": "startDate", "type": "dateTime"},
            {"name": "desk", "type": "complex", "subAttributes": [
                {"name": "floor", "type": "integer"}, {"name": "room", "type": "string"}]},
        ]},
        {"id": GEXT, "name": "AcmeGroup", "attributes": [
            {"name": "description", "type": "string"}]},
    ],
    "resourceTypes": [
        {"name": "User", "schemaExtensions": [{"schema": EXT, "required": False}],
         "required": ["userName", "name.familyName"], "defaults": {"active": True},
         "unknownAttributes": "refuse"},
        {"name": "Group", "schemaExtensions": [{"schema": GEXT, "required": False}]},
    ],
    "catalogs": {"roles": {"values": ["Agent", "Admin"]}},
}

srv = Server(tenants=("acme", "other"))
admin = json.loads(cli("tenant", "token", "issue", "acme", "--scope", "tenant-admin",
                       "--data", srv.data).stdout)
srv.start()
try:
    cl = srv.client("acme")
    ad = srv.client("acme", token=admin["secret"])
    oth = srv.client("other")

    def aput(path, body, cl_=None, **kw):
        return (cl_ or ad).raw("PUT", "/admin/v1/tenants/acme" + path, body, base=False, **kw)

    # --- credentials
    st, _, j = aput("/schema", DEF, cl_=cl)
    c.error_body(st, j, 403, None, "the tenant's SCIM token may not change its model")
    st, _, j = aput("/schema", DEF, cl_=oth)
    c.error_body(st, j, 401, None, "another tenant's token is refused")
    st, _, j = srv.client("acme", token="nope").raw("GET", "/admin/v1/tenants/acme/schema", base=False)
    c.error_body(st, j, 401, None, "no valid token")

    # --- bad definitions name the place
    for bad, frag in [
        ({"schemas": [{"id": "notaurn", "attributes": []}]}, "schemas[0]"),
        ({"schemas": [{"id": EXT, "attributes": [{"name": "x", "type": "strung"}]}],
          "resourceTypes": [{"name": "User", "schemaExtensions": [{"schema": EXT}]}]},
         "schemas[0].attributes[0]"),
        ({"schemas": [{"id": EXT, "attributes": [{"name": "x", "catalog": "nope"}]}],
          "resourceTypes": [{"name": "User", "schemaExtensions": [{"schema": EXT}]}]},
         "catalog"),
        ({"resourceTypes": [{"name": "User", "required": ["name.nope"]}]}, "required[0]"),
        ({"resourceTypes": [{"name": "Robots"}]}, "resourceTypes[0]"),
        ({"schemas": [{"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": []}]},
         "built-in"),
        ({"bogus": 1}, "unknown key 'bogus'"),
        ({"schemas": [{"id": EXT, "attributes": [{"name": "x"}]}]}, "not in any resource type"),
        ({"catalogs": {"r": {"values": ["a", "A"]}}}, "listed twice"),
        ({"schemas": [{"id": EXT, "attributes": [{"name": "n", "type": "integer", "default": "x"}]}],
          "resourceTypes": [{"name": "User", "schemaExtensions": [{"schema": EXT}]}]}, "default"),
    ]:
        st, _, j = aput("/schema", bad)
        c.ok(st == 400 and frag in (j or {}).get("detail", ""), "bad definition: %s" % frag, (st, j))
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/acme/schema", "{not json", base=False)
    c.error_body(st, j, 400, "invalidSyntax", "not JSON")

    # --- a user created before the definition
    st, _, old = cl.post("/Users", {"schemas": [USER], "userName": "old"})
    c.ok(st == 201, "a user without familyName before the definition", (st, old))

    # dry run lists the violation, a plain put is 409, force applies
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/acme/schema?dryRun=true", DEF, base=False)
    c.ok(st == 200 and j.get("violating") == 1 and j["violations"][0]["id"] == old["id"]
         and "familyName" in j["violations"][0]["detail"] and j.get("applied") is False,
         "dry run lists the resource the change would violate", (st, j))
    st, _, j = aput("/schema", DEF)
    c.error_body(st, j, 409, "invalidValue", "tightening refused without force")
    st, _, j = ad.raw("GET", "/admin/v1/tenants/acme/schema", base=False)
    c.ok(st == 200 and j.get("definition") is None and j.get("generation") == 0,
         "nothing applied by the refusal", j)
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/acme/schema?force=true", DEF, base=False)
    c.ok(st == 201 and j.get("generation") == 1, "applied with force", (st, j))
    st, _, j = cl.get("/Users/" + old["id"])
    c.ok(st == 200 and "active" not in j, "the old user stays as stored (no silent rewrite)", j)

    # --- discovery is the tenant's own
    st, _, j = cl.get("/Schemas")
    ids = [s["id"] for s in j["Resources"]]
    c.ok(EXT in ids and GEXT in ids, "/Schemas lists the tenant's extensions", ids)
    st, _, j = cl.get("/Schemas/" + EXT)
    names = [a["name"] for a in j.get("attributes", [])]
    c.ok(st == 200 and "role" in names and all("catalog" not in a for a in j["attributes"]),
         "/Schemas/{urn} is RFC 7643 form", j)
    st, _, j = cl.get("/ResourceTypes/User")
    c.ok(st == 200 and {"schema": EXT, "required": False} in j["schemaExtensions"],
         "/ResourceTypes carries schemaExtensions", j)
    st, _, j = oth.get("/Schemas")
    c.ok(EXT not in [s["id"] for s in j["Resources"]], "another tenant does not see it", j)

    # --- enforcement on create
    base = {"schemas": [USER], "userName": "u1", "name": {"givenName": "A", "familyName": "B"}}
    for body, st_want, frag in [
        (dict(base, **{EXT: {"level": "high"}}), 400, "must be an integer"),
        (dict(base, **{EXT: {"tier": "bronze"}}), 400, "canonicalValues"),
        (dict(base, **{EXT: {"role": "Pilot"}}), 400, "catalog 'roles'"),
        (dict(base, **{EXT: {"startDate": "yesterday"}}), 400, "dateTime"),
        (dict(base, **{EXT: {"desk": {"floor": 3, "wing": "E"}}}), 400, "desk.wing"),
        (dict(base, **{EXT: {"nosuch": "x"}}), 400, "nosuch"),
        (dict(base, nickName=None, **{"urn:ietf:params:scim:schemas:extension:zzz:2.0:User": {"a": 1}}),
         400, "zzz"),
        (dict(base, favouriteColour="red"), 400, "favouriteColour"),
        ({"schemas": [USER], "userName": "u1", "name": {"givenName": "A"}}, 400, "name.familyName"),
    ]:
        st, _, j = cl.post("/Users", body)
        c.ok(st == st_want and frag in (j or {}).get("detail", "") and j.get("scimType") == "invalidValue",
             "create refused: %s" % frag, (st, j))
    st, _, u = cl.post("/Users", dict(base, **{
        EXT + ":LABEL1": "flat", EXT: {"Level": 3, "VIP": "True", "tier": "GOLD", "badge": "B1",
                                       "score": 99, "desk": {"floor": 2}}}))
    e = (u or {}).get(EXT, {})
    c.ok(st == 201 and e.get("label1") == "flat" and e.get("level") == 3 and e.get("vip") is True
         and e.get("role") == "Agent" and "score" not in e and u.get("active") is True
         and EXT in u.get("schemas", []),
         "create: flat key moved into its block, names take the schema's spelling, "
         "\"True\" is a boolean, defaults applied, readOnly input ignored", (st, u))
    uid = u["id"]

    # --- Entra's PATCH shapes
    st, _, _ = cl.patch("/Users/" + uid, patch_body(
        {"op": "Replace", "path": EXT + ":label1", "value": "two"},
        {"op": "Add", "value": {EXT + ":vip": "False"}},
        {"op": "replace", "path": EXT + ":ROLE", "value": "admin"}))
    st, _, j = cl.get("/Users/" + uid)
    e = j.get(EXT, {})
    c.ok(st == 200 and e.get("label1") == "two" and e.get("vip") is False and e.get("role") == "admin"
         and "ROLE" not in e, "PATCH by URN path, path-less URN key, any case", j)
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "replace", "path": EXT + ":role", "value": "Pilot"}))
    c.error_body(st, j, 400, "invalidValue", "PATCH to a value outside the catalog")
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "remove", "path": "name.familyName"}))
    c.error_body(st, j, 400, "invalidValue", "PATCH removing a required attribute")
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "replace", "path": EXT + ":badge", "value": "B2"}))
    c.error_body(st, j, 400, "mutability", "immutable attribute changed")
    st, _, j = cl.put("/Users/" + uid, {"schemas": [USER], "userName": "u1", "name": {"givenName": "A"}})
    c.error_body(st, j, 400, "invalidValue", "PUT without a required attribute")
    st, _, j = cl.get("/Users?filter=" + EXT + ":label1%20eq%20%22two%22")
    c.ok(st == 200 and j.get("totalResults") == 1, "filter on an extension attribute", j)

    # --- catalogs managed over HTTP
    st, _, j = ad.raw("PATCH", "/admin/v1/tenants/acme/catalogs/roles", {"add": ["Pilot"]}, base=False)
    c.ok(st == 200 and j.get("generation") == 2, "catalog value added", (st, j))
    st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "replace", "path": EXT + ":role", "value": "Pilot"}))
    c.ok(st in (200, 204), "the new value is accepted at once", (st, j))
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/acme/catalogs/roles", {"values": ["Agent"]}, base=False)
    c.error_body(st, j, 409, "invalidValue", "shrinking a catalog under a user that uses it")
    st, _, j = ad.raw("GET", "/admin/v1/tenants/acme/catalogs/roles", base=False)
    c.ok(st == 200 and "Pilot" in j.get("values", []), "catalog read", j)
    st, _, j = ad.raw("GET", "/admin/v1/tenants/acme/catalogs/nope", base=False)
    c.error_body(st, j, 404, None, "unknown catalog")
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/acme/schema", DEF, base=False,
                      headers={"If-Match": 'W/"1"'})
    c.error_body(st, j, 412, None, "If-Match on an old generation")

    # --- groups carry their extension
    st, _, g = cl.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                   "displayName": "g1", GEXT + ":description": "desc"})
    c.ok(st == 201 and g.get(GEXT, {}).get("description") == "desc", "group extension, flat key", (st, g))

    # --- the other tenant is unaffected
    st, _, j = oth.post("/Users", {"schemas": [USER], "userName": "x", EXT: {"level": "high"}})
    c.ok(st == 201 and j.get(EXT) == {"level": "high"}, "other tenant: built-in model, block kept verbatim", (st, j))

    # --- the CLI while serving
    p = cli("tenant", "schema", "get", "acme", "--data", srv.data, check=False)
    c.ok(p.returncode == 0 and json.loads(p.stdout)["generation"] == 2, "schema get while serving", p.stderr)
    f = os.path.join(srv.root, "def.json")
    d2 = json.loads(json.dumps(DEF))
    d2["catalogs"]["roles"]["values"] = ["Agent", "Admin", "Chef"]  # drops Pilot, which u1 holds
    with open(f, "w") as fh:
        json.dump(d2, fh)
    p = cli("tenant", "schema", "put", "acme", f, "--dry-run", "--data", srv.data, check=False)
    c.ok(p.returncode == 0 and json.loads(p.stdout)["applied"] is False, "schema put --dry-run", (p.stdout, p.stderr))
    p = cli("tenant", "schema", "put", "acme", f, "--data", srv.data, check=False)
    c.ok(p.returncode == 1 and "would violate" in p.stderr, "schema put refused (u1's role leaves the catalog)", p.stderr)
    p = cli("tenant", "schema", "put", "acme", f, "--force", "--data", srv.data, check=False)
    c.ok(p.returncode == 0 and json.loads(p.stdout)["generation"] == 3, "schema put --force", (p.stdout, p.stderr))
    p = cli("tenant", "create", "td", "--profile", "talkdesk", "--data", srv.data, check=False)
    c.ok(p.returncode == 0 and json.loads(p.stdout).get("profile") == "talkdesk", "create --profile while serving", p.stderr)
    p = cli("tenant", "create", "zz", "--profile", "nosuch", "--data", srv.data, check=False)
    c.ok(p.returncode == 1 and "talkdesk" in p.stderr, "unknown profile lists the known ones", p.stderr)

    # --- the definition change is in the reports
    st, _, j = cl.raw("GET", "/reports/v1/acme/changes?count=100", base=False)
    recs = (j or {}).get("Resources") or (j or {}).get("changes") or []
    c.ok(st == 200, "reports readable", (st, j))

    # --- replay: the same views
    srv.stop()
    d1 = cli("digest", "--data", srv.data).stdout.strip()
    into = os.path.join(srv.root, "replayed")
    cli("replay", "--data", srv.data, "--into", into)
    d2 = cli("digest", "--data", into).stdout.strip()
    c.ok(d1 == d2 and d1, "replay gives the same digest", (d1, d2))
    srv.start(data=into)
    cl = srv.client("acme")
    st, _, j = cl.post("/Users", dict(base, userName="after", **{EXT: {"role": "Nope"}}))
    c.error_body(st, j, 400, "invalidValue", "after replay the definition is enforced")
    st, _, j = cl.get("/Schemas/" + EXT)
    c.ok(st == 200, "after replay the definition is advertised", st)
finally:
    srv.cleanup()
c.done()
