"""0861 — PATCH `add` to a multi-valued attribute of a tenant's extension
appends (RFC 7644 3.5.2.1), in every shape a client sends it: a path
naming the attribute (an array or one value, any op case), a path-less
value keyed by the attribute's full path, and a path naming the extension
with an object (its keys bare or full paths; a key naming another schema
is 400 invalidPath); values already there are not added twice; `replace` and
`remove` still replace and remove; a single-valued attribute is replaced.
Before, every `add` replaced the list: a client adding one tag lost the
others."""
import json
from scimtest import Check, Server, USER, cli, patch_body

c = Check()
EXT = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
DEF = {
    "schemas": [{"id": EXT, "name": "AcmeUser", "attributes": [
        {"name": "tags", "type": "string", "multiValued": True},
        {"name": "label", "type": "string"},
        {"name": "phones", "type": "complex", "multiValued": True, "subAttributes": [
            {"name": "value", "type": "string"}, {"name": "type", "type": "string"}]},
    ]}],
    "resourceTypes": [{"name": "User", "schemaExtensions": [{"schema": EXT, "required": False}]}],
}

srv = Server(tenants=("acme",))
admin = json.loads(cli("tenant", "token", "issue", "acme", "--scope", "tenant-admin",
                       "--data", srv.data).stdout)
srv.start()
cl = srv.client("acme")
ad = srv.client("acme", token=admin["secret"])
st, _, j = ad.raw("PUT", "/admin/v1/tenants/acme/schema", DEF, base=False)
c.ok(st == 201, "definition applied", (st, j))

st, _, u = cl.post("/Users", {"schemas": [USER, EXT], "userName": "tags@example.com",
                               EXT: {"tags": ["a", "b"], "label": "one",
                                     "phones": [{"value": "1", "type": "work"}]}})
c.ok(st == 201, "user created", (st, u))
uid = u["id"]


def ext():
    st, _, j = cl.get("/Users/" + uid)
    return (j or {}).get(EXT, {})


def patch(*ops):
    st, _, j = cl.patch("/Users/" + uid, patch_body(*ops))
    c.ok(st in (200, 204), "PATCH %s" % json.dumps(ops), (st, j))


for ops, want, what in [
    ([{"op": "add", "path": EXT + ":tags", "value": ["c"]}], ["a", "b", "c"], "path, array"),
    ([{"op": "Add", "path": EXT + ":tags", "value": "d"}], ["a", "b", "c", "d"], "path, one value, op Add"),
    ([{"op": "add", "value": {EXT + ":tags": ["a", "e"]}}], ["a", "b", "c", "d", "e"],
     "path-less, a value already there skipped"),
    ([{"op": "add", "path": EXT, "value": {"tags": ["f"]}}], ["a", "b", "c", "d", "e", "f"],
     "path naming the extension"),
    ([{"op": "add", "path": EXT + ":tags", "value": ["b"]}], ["a", "b", "c", "d", "e", "f"],
     "adding only what is there changes nothing"),
    ([{"op": "replace", "path": EXT + ":tags", "value": ["x"]}], ["x"], "replace replaces"),
    ([{"op": "remove", "path": EXT + ":tags"}], None, "remove removes"),
    ([{"op": "add", "path": EXT + ":tags", "value": ["y"]}], ["y"], "add to an absent attribute sets it"),
]:
    patch(*ops)
    got = ext().get("tags")
    c.ok(got == want, "%s: tags %r" % (what, want), got)

patch({"op": "add", "path": EXT + ":label", "value": "two"})
c.ok(ext().get("label") == "two", "a single-valued attribute is replaced by add", ext())
patch({"op": "add", "path": EXT + ":phones", "value": [{"value": "2", "type": "home"}]})
c.ok(ext().get("phones") == [{"value": "1", "type": "work"}, {"value": "2", "type": "home"}],
     "complex multi-valued: appended", ext())
patch({"op": "add", "path": EXT + ":phones", "value": [{"value": "3", "type": "work"}]})
c.ok(ext().get("phones") == [{"value": "3", "type": "work"}, {"value": "2", "type": "home"}],
     "complex multi-valued: an element of a type already there replaces it", ext())

# keys of an extension path's value: names, or the attribute's full path
# (some clients qualify them); a key naming another schema is refused
patch({"op": "add", "path": EXT, "value": {EXT + ":label": "three"}})
st, _, j = cl.get("/Users/" + uid)
c.ok(j.get(EXT, {}).get("label") == "three" and not any(k.startswith(EXT + ":") for k in j),
     "a full-path key lands in the extension, not in a block named by both", j)
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "add", "path": EXT, "value": {ENT + ":department": "x"}}))
c.error_body(st, j, 400, "invalidPath", "a key naming another schema")
c.ok(ENT in (j or {}).get("detail", ""), "the detail names the key", j)

# the fold is the authority: a replay builds the same views
srv.stop()
into = srv.root + "/replayed"
cli("replay", "--data", srv.data, "--into", into)
d = [json.loads(cli("digest", "--data", x).stdout)["digest"] for x in (srv.data, into)]
c.ok(d[0] == d[1], "replay gives the same views", d)
srv.cleanup()
c.done()
