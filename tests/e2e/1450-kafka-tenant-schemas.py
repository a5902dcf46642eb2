"""1450 — tenant definitions in Kafka mode: a definition put through node a
(HTTP admin call) travels on the data topic with the tenant's key, so node b
folds it at the same place in the tenant's order and enforces it too; an
external producer's event that breaks the definition is refused by the fold
on every node (the fold is the authority, not ingest); a profile is applied
with `tenant create --profile` through the topic; both nodes and a replay
of the topic end with equal digests."""
import json
import os
import uuid
from scimtest import Check, USER, cli, patch_body
from kafkatest import DevKafka, EventWriter, Node, user_event, wait_until

c = Check()
EXT = "urn:ietf:params:scim:schemas:extension:talkdesk:2.0:User"
kafka = DevKafka(partitions=3)
a = Node(kafka, tenants=("t1",))
b = Node(kafka, tenants=(), tokens=a.tokens)
a.start()
b.start()
try:
    adm = json.loads(cli("tenant", "token", "issue", "t1", "--scope", "tenant-admin",
                         "--data", a.data).stdout)
    ca, cb = a.client("t1"), b.client("t1")
    ad = a.client("t1", token=adm["secret"])
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "profiles", "talkdesk.json")) as f:
        td = json.load(f)
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/t1/schema", td, base=False)
    c.ok(st == 201 and j.get("generation") == 1, "definition put through node a", (st, j))
    c.ok(wait_until(lambda: EXT in [s["id"] for s in (cb.get("/Schemas")[2] or {}).get("Resources", [])], 20),
         "node b advertises it")
    full = {"schemas": [USER], "userName": "u1", "name": {"givenName": "A", "familyName": "B"}}
    st, _, j = cb.post("/Users", dict(full, **{EXT: {"rolesString": "NoSuchRole"}}))
    c.error_body(st, j, 400, "invalidValue", "node b enforces the catalog")
    st, _, u = cb.post("/Users", full)
    c.ok(st == 201 and u.get(EXT, {}).get("rolesString") == "Agent" and u.get("active") is True,
         "node b applies the defaults", (st, u))
    st, _, j = ca.get("/Groups")
    c.error_body(st, j, 404, None, "Groups disabled on node a")

    # the catalog changes on node a; node b accepts the new role afterwards
    st, _, j = ad.raw("PATCH", "/admin/v1/tenants/t1/catalogs/teams", {"add": ["Sales"]}, base=False)
    c.ok(st == 200, "catalog edit through node a", (st, j))
    ok = wait_until(lambda: cb.patch("/Users/" + u["id"], patch_body(
        {"op": "Replace", "path": EXT + ":teamsString", "value": "Sales"}))[0] in (200, 204), 20)
    c.ok(ok, "node b accepts the new team once it has folded the change")

    # an external producer breaks the definition: every node's fold refuses
    w = EventWriter(1)
    bad = str(uuid.uuid4())
    ev = user_event("t1", bad, "ext1")  # no name.familyName
    kafka.produce("t1", w.encode(ev))
    good = str(uuid.uuid4())
    ev = user_event("t1", good, "ext2")
    ev["resource_json"] = json.dumps(dict(full, userName="ext2"))
    kafka.produce("t1", w.encode(ev))
    c.ok(wait_until(lambda: ca.get("/Users/" + good)[0] == 200 and cb.get("/Users/" + good)[0] == 200, 20),
         "a valid external event is folded by both nodes (defaults applied)")
    st, _, j = cb.get("/Users/" + good)
    c.ok(j.get("active") is True and j.get(EXT, {}).get("rolesString") == "Agent",
         "the fold applies the defaults to an external producer's event", j)
    c.ok(ca.get("/Users/" + bad)[0] == 404 and cb.get("/Users/" + bad)[0] == 404,
         "the invalid external event is refused on both nodes")
    st, _, j = ca.raw("GET", "/reports/v1/t1/resources/%s/history" % bad, base=False)
    recs = (j or {}).get("Resources") or (j or {}).get("changes") or []
    c.ok(st == 200 and any(r.get("verdict") == "refused" and "is required" in (r.get("detail") or "")
                           for r in recs),
         "the refusal is a change record naming the attribute", (st, j))

    # a profile through the topic
    p = cli("tenant", "create", "td2", "--profile", "talkdesk", "--data", a.data, check=False)
    c.ok(p.returncode == 0, "tenant create --profile through node a", p.stderr)
    t2 = json.loads(p.stdout)
    c2 = b.client("td2", token=t2["secret"])
    c.ok(wait_until(lambda: c2.get("/Groups")[0] == 404 and
                    c2.post("/Users", {"schemas": [USER], "userName": "x"})[0] == 400, 20),
         "node b serves the profile's rules")

    # a resource type of the tenant's own (issue 8 item 1): defined through
    # node a, served by node b; an external producer's event names it by
    # rtype CUSTOM + resource_type_name and is folded the same on both
    ROLE = "urn:acme:params:scim:schemas:core:2.0:Role"
    st, _, cur = ad.raw("GET", "/admin/v1/tenants/t1/schema", base=False)
    td3 = cur["definition"]
    td3["schemas"].append({"id": ROLE, "attributes": [
        {"name": "name", "required": True, "uniqueness": "server"}]})
    td3["resourceTypes"].append({"name": "Role", "endpoint": "/Roles", "schema": ROLE})
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/t1/schema", td3, base=False)
    c.ok(st == 200, "a Role type added through node a", (st, j))
    c.ok(wait_until(lambda: cb.get("/Roles")[0] == 200, 20), "node b serves /Roles")
    st, _, r1 = cb.post("/Roles", {"name": "Agent"})
    c.ok(st == 201 and r1.get("meta", {}).get("resourceType") == "Role", "POST /Roles on node b", (st, r1))
    c.ok(wait_until(lambda: ca.get("/Roles/" + r1["id"])[0] == 200, 20), "node a folds it")
    w3 = EventWriter(3)
    ext_role = str(uuid.uuid4())
    kafka.produce("t1", w3.encode(dict(user_event("t1", ext_role, "x"), schema_version=3,
                                       resource_type="CUSTOM", resource_type_name="Role",
                                       resource_json=json.dumps({"name": "Ext"}))))
    dup_role = str(uuid.uuid4())
    kafka.produce("t1", w3.encode(dict(user_event("t1", dup_role, "x"), schema_version=3,
                                       resource_type="CUSTOM", resource_type_name="Role",
                                       resource_json=json.dumps({"name": "AGENT"}))))
    widget = str(uuid.uuid4())
    kafka.produce("t1", w3.encode(dict(user_event("t1", widget, "x"), schema_version=3,
                                       resource_type="CUSTOM", resource_type_name="Widget",
                                       resource_json=json.dumps({"name": "w"}))))
    c.ok(wait_until(lambda: ca.get("/Roles/" + ext_role)[0] == 200 and cb.get("/Roles/" + ext_role)[0] == 200, 20),
         "an external producer's Role event is folded by both nodes")
    st, _, j = ca.get("/Roles/" + ext_role)
    c.ok(j.get("name") == "Ext" and j.get("schemas") == [ROLE], "as a Role", j)
    c.ok(wait_until(lambda: ca.raw("GET", "/reports/v1/t1/resources/%s/history" % widget, base=False)[0] == 200, 20),
         "the unknown type's event has a change record")
    def refused_on(cl, rid, why):
        st, _, j = cl.raw("GET", "/reports/v1/t1/resources/%s/history" % rid, base=False)
        recs = (j or {}).get("Resources") or (j or {}).get("changes") or []
        return any(r.get("verdict") == "refused" and why in (r.get("detail") or "") for r in recs)

    for rid, why in ((dup_role, "already used"), (widget, "not defined")):
        c.ok(wait_until(lambda: refused_on(ca, rid, why) and refused_on(cb, rid, why), 20),
             "refused on every node: " + why)

    # convergence
    a.stop()
    b.stop()
    da, db = a.digest(), b.digest()
    c.ok(da == db, "both nodes hold identical views", (da, db))
    into = os.path.join(a.root, "replayed")
    cli("replay", "--kafka", kafka.bootstrap, "--into", into)
    dr = json.loads(cli("digest", "--data", into).stdout)["digest"]
    c.ok(dr == da, "a replay of the topic gives the same digest", (dr, da))
finally:
    a.cleanup()
    b.cleanup()
    kafka.stop()
c.done()
