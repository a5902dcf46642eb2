"""0708 — uniqueness on tenant extension attributes (issue 8 item 4):
`uniqueness: server` on an extension attribute is enforced per tenant by
the fold, case-insensitively with Unicode case folding (Straße = STRASSE)
unless caseExact; POST, PUT and PATCH are refused 409 uniqueness naming the
attribute; a value is freed by a change or a delete; another tenant may use
the same value; adding uniqueness to an attribute existing resources share
is a 409 listing them (dry run shows it, force applies it); /Schemas
advertises it; a replay gives the same digest."""
import json
import os
from scimtest import Check, Server, USER, cli, patch_body

c = Check()
EXT = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"


def definition(unique_code=True, unique_badge=True):
    return {
        "schemas": [{"id": EXT, "name": "AcmeUser", "attributes": [
            {"name": "code", "type": "string", "uniqueness": "server" if unique_code else "none"},
            {"name": "badge", "type": "string", "caseExact": True,
             "uniqueness": "server" if unique_badge else "none"},
            {"name": "note", "type": "string"}]}],
        "resourceTypes": [{"name": "User", "schemaExtensions": [{"schema": EXT, "required": False}]}],
    }


srv = Server(tenants=("acme", "other"))
OP = "op-" + "5" * 40
with open(os.path.join(srv.root, "op"), "w") as f:
    f.write(OP)
srv.extra = ["--operator-token-file", os.path.join(srv.root, "op")]
srv.start()
try:
    a, o = srv.client("acme"), srv.client("other")
    op = srv.client("x", token=OP)
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema", definition(), base=False)
    c.ok(st in (200, 201), "definition with two unique attributes", (st, j))
    st, _, j = op.raw("PUT", "/admin/v1/tenants/other/schema", definition(), base=False)
    st, _, sch = a.get("/Schemas/" + EXT)
    attrs = {x["name"]: x for x in sch.get("attributes", [])}
    c.ok(attrs.get("code", {}).get("uniqueness") == "server", "/Schemas advertises uniqueness", sch)

    def user(n, code=None, badge=None):
        ext = {}
        if code is not None:
            ext["code"] = code
        if badge is not None:
            ext["badge"] = badge
        return {"schemas": [USER, EXT], "userName": n + "@x.com", EXT: ext}

    st, _, u1 = a.post("/Users", user("u1", "Straße", "AbC"))
    c.ok(st == 201, "u1 holds Straße / AbC", (st, u1))
    st, _, j = a.post("/Users", user("u2", "STRASSE"))
    c.error_body(st, j, 409, "uniqueness", "STRASSE folds to Straße: refused")
    c.ok(EXT + ":code" in j.get("detail", ""), "the detail names the attribute", j)
    st, _, u2 = a.post("/Users", user("u2", "other", "abc"))
    c.ok(st == 201, "caseExact badge: abc is not AbC", (st, u2))
    st, _, j = a.post("/Users", user("u3", badge="AbC"))
    c.error_body(st, j, 409, "uniqueness", "badge AbC exactly: refused")
    st, _, j = a.patch("/Users/" + u2["id"], patch_body({"op": "replace", "path": EXT + ":code", "value": "strasse"}))
    c.error_body(st, j, 409, "uniqueness", "PATCH to a held value: refused")
    st, _, j = a.put("/Users/" + u2["id"], user("u2", "STRASSE", "abc"))
    c.error_body(st, j, 409, "uniqueness", "PUT to a held value: refused")
    st, _, j = a.patch("/Users/" + u1["id"], patch_body({"op": "replace", "path": EXT + ":note", "value": "n"}))
    c.ok(st == 204, "u1 changing another attribute keeps its own value", (st, j))
    st, _, j = o.post("/Users", user("v1", "Straße", "AbC"))
    c.ok(st == 201, "another tenant may hold the same values", (st, j))
    # freeing: a change, then a delete
    st, _, j = a.patch("/Users/" + u1["id"], patch_body({"op": "replace", "path": EXT + ":code", "value": "Moved"}))
    c.ok(st == 204, "u1 moves to another code", (st, j))
    st, _, j = a.patch("/Users/" + u2["id"], patch_body({"op": "replace", "path": EXT + ":code", "value": "STRASSE"}))
    c.ok(st == 204, "the freed value can be taken", (st, j))
    st, _, j = a.delete("/Users/" + u1["id"])
    st, _, u3 = a.post("/Users", user("u3", "moved", "AbC"))
    c.ok(st == 201, "a deleted user's values are free", (st, u3))
    st, _, j = a.get("/Users/" + u1["id"])
    c.ok(st == 404, "u1 is gone", st)
    # a tightening change against shared values
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema", definition(unique_badge=False), base=False)
    c.ok(st == 200, "badge no longer unique", (st, j))
    st, _, u4 = a.post("/Users", user("u4", badge="abc"))
    c.ok(st == 201, "now two users hold badge abc", (st, u4))
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema?dryRun=true", definition(), base=False)
    c.ok(st in (200, 409) and "abc" in json.dumps(j), "dry run lists the shared value", (st, j))
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema", definition(), base=False)
    c.ok(st == 409 and "also held by" in json.dumps(j), "making it unique again is refused (409 listing the holders)", (st, j))
    st, _, j = op.raw("PUT", "/admin/v1/tenants/acme/schema?force=true", definition(), base=False)
    c.ok(st == 200, "force applies it", (st, j))
    st, _, j = a.post("/Users", user("u5", badge="ABC"))
    c.ok(st == 201, "ABC (exact) is still free", (st, j))
    st, _, j = a.post("/Users", user("u6", badge="abc"))
    c.error_body(st, j, 409, "uniqueness", "abc is held again after the rebuild")
finally:
    srv.stop()
d1 = json.loads(cli("digest", "--data", srv.data).stdout)["digest"]
into = os.path.join(srv.root, "r")
cli("replay", "--data", srv.data, "--into", into)
c.ok(json.loads(cli("digest", "--data", into).stdout)["digest"] == d1, "replay: same digest")
srv.cleanup()
c.done()
