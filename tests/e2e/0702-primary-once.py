"""0702 — `primary` is true on at most one value of a multi-valued
attribute (RFC 7643 2.4): a POST or PUT with two is 400 invalidValue
naming the attribute; a PATCH that marks a value primary (adding one,
through a value filter, with Entra's string "True", or replacing the whole
list) makes it the only one (RFC 7644 3.5.2: the others become false);
other attributes' primaries are untouched."""
from scimtest import Check, Server, USER, patch_body

c = Check()
srv = Server().start()
cl = srv.client()

two = [{"value": "a@example.com", "type": "work", "primary": True},
       {"value": "b@example.com", "type": "home", "primary": True}]
st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "p0@example.com", "emails": two})
c.error_body(st, j, 400, "invalidValue", "POST with two primary emails")
c.ok("emails" in (j or {}).get("detail", ""), "the detail names emails", j)

st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "p1@example.com",
                               "emails": [{"value": "w@example.com", "type": "work", "Primary": True}],
                               "phoneNumbers": [{"value": "1", "type": "work", "primary": True}]})
c.ok(st == 201, "POST with one primary (key in any case)", (st, u))
uid = u["id"]


def prim():
    st, _, j = cl.get("/Users/" + uid)
    return {e["type"]: e.get("primary") for e in j.get("emails", [])}, \
        [p.get("primary") for p in j.get("phoneNumbers", [])]


def patch(*ops):
    st, _, j = cl.patch("/Users/" + uid, patch_body(*ops))
    c.ok(st in (200, 204), "PATCH %r" % (ops,), (st, j))


patch({"op": "add", "path": "emails", "value": [{"value": "h@example.com", "type": "home", "primary": True}]})
c.ok(prim() == ({"work": False, "home": True}, [True]), "an added primary email is the only one", prim())
patch({"op": "replace", "path": 'emails[type eq "work"].primary', "value": True})
c.ok(prim() == ({"work": True, "home": False}, [True]), "marked through a value filter", prim())
patch({"op": "replace", "path": 'emails[type eq "home"].primary', "value": "True"})
c.ok(prim() == ({"work": False, "home": True}, [True]), "Entra's string \"True\"", prim())
patch({"op": "replace", "path": "title", "value": "x"})
c.ok(prim() == ({"work": False, "home": True}, [True]), "an unrelated PATCH leaves them", prim())
patch({"op": "replace", "path": "emails", "value": [
    {"value": "1@example.com", "type": "work", "primary": True},
    {"value": "2@example.com", "type": "other", "primary": True}]})
c.ok(prim()[0] == {"work": False, "other": True}, "a whole list with two: the last one marked wins", prim())

st, _, j = cl.put("/Users/" + uid, {"schemas": [USER], "userName": "p1@example.com", "emails": two})
c.error_body(st, j, 400, "invalidValue", "PUT with two primary emails")
srv.cleanup()
c.done()
