"""0772 — PATCH add/replace of a sub-attribute of a multi-valued attribute
without a value filter (`emails.value`, `addresses.locality`,
`members.display`) is refused 400 invalidPath, with a detail that names the
filter form, and nothing of that PATCH is applied. Before, `add
emails.value` replaced every email by one object: silent data loss.
RFC 7644 3.5.2.1/3.5.2.3 give such a path no target (which element?);
Entra and Okta send `emails[type eq "work"].value` (SCIM_CLIENTS.md),
which keeps working, as does remove of a sub-attribute of every element.
Found by the red-team pass; the stored resource is compared whole after
every refusal."""
from scimtest import Check, Server, USER, patch_body

c = Check()
srv = Server().start()
cl = srv.client()
try:
    emails = [{"type": "work", "value": "v@work.example", "primary": True},
              {"type": "home", "value": "v@home.example"}]
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "victim", "emails": emails,
                                  "addresses": [{"type": "work", "locality": "Oslo"}],
                                  "phoneNumbers": [{"type": "mobile", "value": "+4712345678"}]})
    c.ok(st == 201, "create", (st, u))
    uid = u["id"]
    st, _, before = cl.get("/Users/" + uid)

    def patch(*ops):
        return cl.patch("/Users/" + uid, patch_body(*ops))

    for op in ("add", "replace", "Add", "Replace"):
        for path, val in (("emails.value", "new@x.example"), ("emails.type", "other"),
                          ("emails.primary", True), ("addresses.locality", "Bergen"),
                          ("phoneNumbers.value", "+4700000000"), ("Emails.Value", "n@x.example")):
            # a valid op first: the whole PATCH is refused, not half of it
            st, _, j = patch({"op": "replace", "path": "nickName", "value": "changed"},
                             {"op": op, "path": path, "value": val})
            c.error_body(st, j, 400, "invalidPath", "%s %s" % (op, path))
            c.ok("[type eq" in (j or {}).get("detail", ""), "%s %s: the detail names the filter form" % (op, path), j)
            st, _, now = cl.get("/Users/" + uid)
            c.ok(now == before, "%s %s: the user is unchanged" % (op, path), (before, now))
        # the same key in a path-less value
        st, _, j = patch({"op": op, "value": {"emails.value": "p@x.example"}})
        c.error_body(st, j, 400, "invalidPath", "%s path-less emails.value" % op)
        st, _, now = cl.get("/Users/" + uid)
        c.ok(now == before, "%s path-less emails.value: the user is unchanged" % op, (before, now))

    # what the clients send keeps working
    st, _, j = patch({"op": "replace", "path": 'emails[type eq "work"].value', "value": "w2@work.example"},
                     {"op": "add", "path": "emails", "value": [{"type": "other", "value": "o@x.example"}]},
                     {"op": "Add", "value": {'phoneNumbers[type eq "fax"].value': "+4711111111"}})
    c.ok(st == 204, "filtered and whole-element PATCH applies", (st, j))
    st, _, now = cl.get("/Users/" + uid)
    got = sorted((e.get("type"), e.get("value")) for e in now.get("emails", []))
    c.ok(got == [("home", "v@home.example"), ("other", "o@x.example"), ("work", "w2@work.example")],
         "emails: one replaced through its filter, one added, none lost", now.get("emails"))
    c.ok(sorted(p.get("type") for p in now.get("phoneNumbers", [])) == ["fax", "mobile"],
         "phoneNumbers: the fax added through a path-less filter key", now.get("phoneNumbers"))
    # remove of a sub-attribute of every element stays (RFC 7644 3.5.2.2)
    st, _, j = patch({"op": "remove", "path": "emails.primary"})
    c.ok(st == 204, "remove emails.primary", (st, j))
    st, _, now = cl.get("/Users/" + uid)
    c.ok(len(now.get("emails", [])) == 3 and not any("primary" in e for e in now["emails"]),
         "remove emails.primary: every email kept, primary gone", now.get("emails"))

    # groups: members.display without a filter
    st, _, g = cl.post("/Groups", {"displayName": "grp", "members": [{"value": uid}]})
    gid = g["id"]
    for o in ({"op": "add", "path": "members.display", "value": "x"},
              {"op": "replace", "path": "members.value", "value": uid}):
        st, _, j = cl.patch("/Groups/" + gid, patch_body(o))
        c.error_body(st, j, 400, "invalidPath", "group %r" % (o,))
    st, _, g2 = cl.get("/Groups/" + gid)
    c.ok(g2.get("displayName") == "grp" and [m["value"] for m in g2.get("members", [])] == [uid],
         "the group is unchanged", g2)
finally:
    srv.cleanup()
c.done()
