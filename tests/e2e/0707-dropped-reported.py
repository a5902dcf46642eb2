"""0707 — unknownAttributes: drop is reported (issue 8 item 2): a tenant
whose definition drops attributes it does not define answers the write
(201/204) without them, and the write's change record lists what was
dropped (`droppedAttributes`), for POST, PUT and PATCH; a tenant that keeps
unknown attributes has no such list; a replay gives the same records."""
import json
import os
from scimtest import Check, Server, USER, cli, patch_body

c = Check()
EXT = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
DEF = {
    "schemas": [{"id": EXT, "name": "AcmeUser", "attributes": [{"name": "label1", "type": "string"}]}],
    "resourceTypes": [{"name": "User", "schemaExtensions": [{"schema": EXT, "required": False}],
                       "unknownAttributes": "drop"}],
}
srv = Server(tenants=("acme", "plain"))
with open(os.path.join(srv.root, "def.json"), "w") as f:
    json.dump(DEF, f)
cli("tenant", "schema", "put", "acme", os.path.join(srv.root, "def.json"), "--data", srv.data)
srv.start()


def record_of(cl, tenant, rid, action=None):
    st, _, j = cl.raw("GET", "/reports/v1/%s/resources/%s/history" % (tenant, rid), base=False)
    c.ok(st == 200, "history of " + rid, (st, j))
    return (j or {}).get("changes", [])


try:
    a, p = srv.client("acme"), srv.client("plain")
    body = {"schemas": [USER, EXT], "userName": "d1@x.com", "nickName": "kept",
            EXT: {"label1": "ok", "label9": "nope"},
            "urn:ietf:params:scim:schemas:extension:other:2.0:User": {"x": 1}}
    st, _, u = a.post("/Users", body)
    c.ok(st == 201 and u[EXT] == {"label1": "ok"} and
         "urn:ietf:params:scim:schemas:extension:other:2.0:User" not in u, "POST: unknown attributes dropped", u)
    recs = record_of(a, "acme", u["id"])
    dropped = recs[0].get("droppedAttributes", []) if recs else []
    c.ok(any("label9" in d for d in dropped) and any("other" in d for d in dropped),
         "the create's change record lists what was dropped", recs)
    st, _, _ = a.patch("/Users/" + u["id"], patch_body({"op": "add", "path": EXT + ":label7", "value": "x"},
                                                       {"op": "replace", "path": "nickName", "value": "k2"}))
    c.ok(st in (204, 400), "PATCH with an unknown extension attribute answered", st)
    if st == 204:
        recs = record_of(a, "acme", u["id"])
        c.ok(any("label7" in d for d in recs[-1].get("droppedAttributes", [])),
             "the PATCH's record lists it", recs[-1])
    body2 = dict(body, nickName="k3")
    body2[EXT] = {"label1": "ok2", "label8": "nope"}
    st, _, r = a.put("/Users/" + u["id"], body2)
    c.ok(st == 200 and r[EXT] == {"label1": "ok2"}, "PUT: dropped again", r)
    recs = record_of(a, "acme", u["id"])
    c.ok(any("label8" in d for d in recs[-1].get("droppedAttributes", [])), "the PUT's record lists it", recs[-1])
    st, _, v = p.post("/Users", {"schemas": [USER], "userName": "p1@x.com",
                                 "urn:ietf:params:scim:schemas:extension:other:2.0:User": {"x": 1}})
    recs = record_of(p, "plain", v["id"])
    c.ok(st == 201 and "droppedAttributes" not in recs[0], "a tenant that keeps unknown blocks: no list", recs)
finally:
    srv.stop()
d1 = json.loads(cli("digest", "--data", srv.data).stdout)["digest"]
into = os.path.join(srv.root, "r")
cli("replay", "--data", srv.data, "--into", into)
c.ok(json.loads(cli("digest", "--data", into).stdout)["digest"] == d1, "replay: same records")
srv.cleanup()
c.done()
