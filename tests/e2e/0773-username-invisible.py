"""0773 — a userName holding a character a reader cannot see (zero-width
space, joiner and non-joiner, BOM, soft hyphen, bidi marks and embeddings,
word joiner, a variation selector, a control character) or white space at
either end is refused 400 invalidValue naming the code point, on create,
PUT and PATCH (path, path-less), so "alice" and "al<ZWSP>ice" can no
longer be two users that look alike. Before, each was stored as given and
took its own uniqueness key (NFKC case folding keeps them), so an
attacker-controlled directory entry could shadow a real one. Visible
non-ASCII names (Straße, José, 田中) are untouched, and the caseless
uniqueness (ALICE vs alice) still holds. Found by the red-team pass."""
from scimtest import Check, Server, USER, PATCHOP

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u00ad", "\u200e", "\u200f", "\u202e",
             "\u2066", "\u2060", "\ufe0f", "\u034f", "\u0007", "\u007f", "\u0085", "\U000e0041"]

c = Check()
srv = Server().start()
cl = srv.client()
try:
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "alice@example.com"})
    c.ok(st == 201, "create alice", (st, u))
    uid = u["id"]
    st, _, before = cl.get("/Users/" + uid)
    bad = ["al%sice@example.com" % ch for ch in INVISIBLE] + \
          ["%salice@example.com" % ch for ch in ("\u200b", "\ufeff")] + \
          ["alice@example.com%s" % ch for ch in ("\u200d", "\u00ad")] + \
          [" alice@example.com", "alice@example.com ", "\u3000alice@example.com", "alice@example.com\u00a0",
           "\talice@example.com"]
    for name in bad:
        tag = ascii(name)
        st, _, j = cl.post("/Users", {"schemas": [USER], "userName": name})
        c.error_body(st, j, 400, "invalidValue", "create %s" % tag)
        c.ok("userName" in (j or {}).get("detail", "") and "U+" in (j or {}).get("detail", ""),
             "create %s: the detail names userName and the code point" % tag, j)
        st, _, j = cl.put("/Users/" + uid, {"schemas": [USER], "userName": name})
        c.error_body(st, j, 400, "invalidValue", "PUT %s" % tag)
        st, _, j = cl.patch("/Users/" + uid, {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "path": "userName", "value": name}]})
        c.error_body(st, j, 400, "invalidValue", "PATCH %s" % tag)
        st, _, j = cl.patch("/Users/" + uid, {"schemas": [PATCHOP], "Operations": [
            {"op": "replace", "value": {"userName": name}}]})
        c.error_body(st, j, 400, "invalidValue", "path-less PATCH %s" % tag)
    st, _, now = cl.get("/Users/" + uid)
    c.ok(now == before, "alice is unchanged", (before, now))
    st, _, lst = cl.get("/Users?count=100")
    c.ok(lst.get("totalResults") == 1, "no look-alike user was created", lst.get("totalResults"))

    # visible names: accepted; caseless uniqueness as before
    for name in ("Straße@example.com", "josé@example.com", "田中@example.com", "a b@example.com"):
        st, _, j = cl.post("/Users", {"schemas": [USER], "userName": name})
        c.ok(st == 201 and j.get("userName") == name, "create %s" % ascii(name), (st, j))
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "ALICE@example.com"})
    c.error_body(st, j, 409, "uniqueness", "ALICE is alice")
    st, _, j = cl.patch("/Users/" + uid, {"schemas": [PATCHOP], "Operations": [
        {"op": "replace", "path": "userName", "value": "alice2@example.com"}]})
    c.ok(st == 204, "a clean rename applies", (st, j))
finally:
    srv.cleanup()
c.done()
