"""0942 — asOf after retention pruned a tenant type's history: a resource
of a type of the tenant's own (Role) whose records were all pruned is
still there asOf a time after the horizon, as the pruned records left it
(the base retention keeps), like users and groups (e2e 0930); and the
answers equal a replay --until T (which prunes the same records)."""
import json
import os
import time
import urllib.parse
from scimtest import Check, Server, USER, cli, patch_body, asof_ts as ts

c = Check()
ROLE = "urn:acme:params:scim:schemas:core:2.0:Role"
srv = Server(tenants=("acme",))
OP = "op-" + "7" * 40
with open(os.path.join(srv.root, "op"), "w") as f:
    f.write(OP)
srv.extra = ["--operator-token-file", os.path.join(srv.root, "op"), "--prune-interval", "0"]
adm = json.loads(cli("tenant", "token", "issue", "acme", "--scope", "tenant-admin", "--data", srv.data).stdout)


def strip(r):
    r = json.loads(json.dumps(r))
    r.get("meta", {}).pop("location", None)
    r.pop("secret", None)  # returned: never (SCIM answers leave it out)
    return r


srv.start()
try:
    cl = srv.client("acme")
    ad = srv.client("acme", token=adm["secret"])
    op = srv.client("acme", token=OP)
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/acme/schema", {
        "schemas": [{"id": ROLE, "attributes": [
            {"name": "name", "type": "string", "required": True, "uniqueness": "server"},
            {"name": "secret", "type": "string", "returned": "never"},
            {"name": "level", "type": "integer"}]}],
        "resourceTypes": [{"name": "Role", "endpoint": "/Roles", "schema": ROLE}]}, base=False)
    c.ok(st == 201, "a Role type", (st, j))
    roles = {}
    for name, lvl in (("Quiet", 1), ("Busy", 2), ("Gone", 3)):
        st, _, r = cl.post("/Roles", {"schemas": [ROLE], "name": name, "secret": "s", "level": lvl})
        c.ok(st == 201, "role " + name, (st, r))
        roles[name] = r["id"]
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "quiet@x.com"})
    cl.patch("/Roles/" + roles["Busy"], patch_body({"op": "replace", "path": "level", "value": 5}))
    time.sleep(5)
    # -- kept: Busy patched again, Gone deleted
    cl.patch("/Roles/" + roles["Busy"], patch_body({"op": "replace", "path": "level", "value": 6}))
    st, _, _ = cl.delete("/Roles/" + roles["Gone"])
    c.ok(st == 204, "Gone deleted", st)
    st, _, j = op.raw("PATCH", "/admin/v1/tenants/acme", {"changeRetentionSeconds": 3}, base=False)
    c.ok(st == 200 and j.get("pruned", 0) > 0, "retention set: the first records pruned", (st, j))
    T = int(time.time() * 1000)
    time.sleep(0.05)
    st, _, j = cl.raw("GET", "/reports/v1/acme/changes?to=%s&order=desc&count=1" % ts(T), base=False)
    seq = j["changes"][0]["seq"]
    past = {}
    st, _, j = cl.raw("GET", "/reports/v1/acme/Roles?asOf=%s" % ts(T), base=False)
    past["list"] = (st, j)
    for n, x in roles.items():
        past[n] = cl.raw("GET", "/reports/v1/acme/Roles/%s?asOf=%s" % (x, ts(T)), base=False)[::2]
    past["user"] = cl.raw("GET", "/reports/v1/acme/Users/%s?asOf=%s" % (u["id"], ts(T)), base=False)[::2]
    c.ok(past["list"][0] == 200 and sorted(r["name"] for r in past["list"][1]["Resources"]) == ["Busy", "Quiet"],
         "Roles asOf after the horizon: the one whose records were all pruned too", past["list"])
    c.ok(past["Quiet"][0] == 200 and past["Quiet"][1].get("level") == 1 and
         past["Quiet"][1]["meta"]["resourceType"] == "Role" and past["Quiet"][1].get("secret") == "s",
         "Quiet asOf then: from its base, the stored state whole", past["Quiet"])
    c.ok(past["user"][0] == 200, "a user from its base, as before", past["user"])
finally:
    srv.stop()

into = os.path.join(srv.root, "until")
cli("replay", "--data", srv.data, "--into", into, "--until", str(seq))
srv.start(data=into)
try:
    cl = srv.client("acme")
    st, _, live = cl.get("/Roles")
    c.ok(st == 200 and sorted(json.dumps(strip(r), sort_keys=True) for r in live["Resources"]) ==
         sorted(json.dumps(strip(r), sort_keys=True) for r in past["list"][1]["Resources"]),
         "Roles asOf == a replay --until %d" % seq, (live, past["list"]))
    for n, x in roles.items():
        st, _, r = cl.get("/Roles/" + x)
        c.ok(st == past[n][0] and (st != 200 or strip(r) == strip(past[n][1])),
             "Roles/%s asOf == a replay" % n, (st, r, past[n]))
finally:
    srv.stop()
srv.cleanup()
c.done()
