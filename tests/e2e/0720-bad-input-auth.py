"""0720 — bad input gets a clear SCIM error and writes nothing; bearer
tokens work only for their own tenant; discovery documents are complete."""
import json
from scimtest import Server, Check, USER, cli, patch_body

c = Check()
srv = Server(tenants=("a", "b"), extra=["--max-body", "65536"]).start()
try:
    ca, cb = srv.client("a"), srv.client("b")
    st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "same"})
    c.ok(st == 201, "create in a", (st, u))
    uid = u["id"]
    pos_before = None

    cases = [
        ("malformed JSON", "POST", "/Users", '{"userName": "x",', 400, "invalidSyntax"),
        ("deep nesting", "POST", "/Users", '{"a":' * 100 + '1' + '}' * 100, 400, "invalidSyntax"),
        ("invalid UTF-8", "POST", "/Users", b'{"userName": "\xff\xfe"}', 400, "invalidSyntax"),
        ("userName object", "POST", "/Users", {"schemas": [USER], "userName": {"x": 1}}, 400, "invalidValue"),
        ("missing userName", "POST", "/Users", {"schemas": [USER], "active": True}, 400, "invalidValue"),
        ("active not boolean", "POST", "/Users", {"schemas": [USER], "userName": "q", "active": "maybe"}, 400, "invalidValue"),
        ("JSON array body", "POST", "/Users", "[]", 400, "invalidSyntax"),
        ("empty body", "POST", "/Users", "", 400, "invalidSyntax"),
        ("unknown op", "PATCH", "/Users/" + uid, patch_body({"op": "nope", "path": "title", "value": "x"}), 400, "invalidSyntax"),
        ("too many ops", "PATCH", "/Users/" + uid, patch_body(*([{"op": "add", "path": "title", "value": "x"}] * 1001)), 400, "tooMany"),
        ("bad path", "PATCH", "/Users/" + uid, patch_body({"op": "add", "path": "emails[type eq", "value": "x"}), 400, "invalidPath"),
        ("read-only id", "PATCH", "/Users/" + uid, patch_body({"op": "replace", "path": "id", "value": "other"}), 400, "mutability"),
        ("group without displayName", "POST", "/Groups", {"members": []}, 400, "invalidValue"),
        ("group with unknown member", "POST", "/Groups", {"displayName": "g", "members": [{"value": "nobody"}]}, 400, "invalidValue"),
    ]
    for name, m, p, body, status, stype in cases:
        st, _, j = ca.raw(m, p, body)
        c.error_body(st, j, status, stype, name)
    st, _, j = ca.post("/Users", {"schemas": [USER], "userName": "big", "title": "x" * 100000})
    c.error_body(st, j, 413, None, "body over --max-body")
    st, _, j = ca.raw("POST", "/Users", "<user/>", headers={"Content-Type": "text/xml"})
    c.error_body(st, j, 415, None, "XML body")
    for q in ["filter=userName+eq", "filter=(userName+eq+%22x%22", "filter=%ZZ", "startIndex=abc", "count=1.5"]:
        st, _, j = ca.get("/Users?" + q)
        c.ok(st == 400 and j and j.get("status") == "400", "bad query " + q, (st, j))
    st, _, j = ca.get("/Users?count=0")
    c.ok(j["totalResults"] == 1, "nothing written by bad input", j)
    st, _, u2 = ca.get("/Users/" + uid)
    c.ok(u2["meta"]["version"] == 'W/"1"', "user untouched by failed PATCHes", u2["meta"])

    # auth and tenant isolation
    st, h, j = srv.client("a", token="").get("/Users")
    c.error_body(st, j, 401, None, "no token")
    c.ok("bearer" in h.get("www-authenticate", "").lower(), "WWW-Authenticate", h)
    st, _, j = srv.client("a", token="0" * 64).get("/Users")
    c.error_body(st, j, 401, None, "wrong token")
    from scimtest import Client
    st, _, j = Client(srv.port, "b", srv.tokens["a"]["secret"]).get("/Users")
    c.error_body(st, j, 401, None, "a's token on b's URL")
    st, _, j = cb.get("/Users/" + uid)
    c.error_body(st, j, 404, None, "a's user invisible in b")
    st, _, j = cb.post("/Users", {"schemas": [USER], "userName": "SAME"})
    c.ok(st == 201, "same userName in another tenant", (st, j))
    st, _, j = cb.get("/Users?filter=userName+eq+%22same%22")
    c.ok(j["totalResults"] == 1 and j["Resources"][0]["id"] != uid, "b sees only its own", j)

    # discovery documents: complete, no nulls, need auth
    def no_nulls(x):
        if x is None:
            return False
        if isinstance(x, dict):
            return all(no_nulls(v) for v in x.values())
        if isinstance(x, list):
            return all(no_nulls(v) for v in x)
        return True
    for path in ["/Schemas", "/ResourceTypes", "/ServiceProviderConfig", "/serviceConfiguration"]:
        st, _, j = ca.get(path)
        c.ok(st == 200 and no_nulls(j), path + " complete without nulls", st)
        st, _, j = srv.client("a", token="").get(path)
        c.ok(st == 401, path + " needs auth", st)
    st, _, j = ca.get("/ResourceTypes")
    c.ok(j["Resources"][0]["endpoint"] == "/Users" and isinstance(j["totalResults"], int), "ResourceTypes", j)
    st, _, j = ca.get("/Schemas")
    ids = [s["id"] for s in j["Resources"]]
    c.ok("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" in ids and "User Account" in json.dumps(j), "Schemas", ids)

    # revoked token
    srv.stop()
    cli("tenant", "token", "revoke", "a", srv.tokens["a"]["token_id"], "--data", srv.data)
    listed = json.loads(cli("tenant", "list", "--data", srv.data).stdout)
    c.ok([t["tenant"] for t in listed] == ["a", "b"] and listed[0]["tokens"][0]["revoked"] is True, "tenant list", listed)
    srv.start()
    st, _, j = srv.client("a").get("/Users")
    c.error_body(st, j, 401, None, "revoked token")
    st, _, j = srv.client("b").get("/Users")
    c.ok(st == 200, "other tenant unaffected", st)
finally:
    srv.cleanup()
c.done()
