"""0791 — a PATCH that names what the schema does not have is refused, never
applied as an empty value: a sub-attribute the schema lacks
(`emails.nosuch`, `name.nosuch`, `emails[type eq "work"].value.x`) is 400
invalidPath and nothing of that PATCH is applied (before: 204, and
`add emails.nosuch` dropped every email; a filter that matched nothing
created an empty element); `add`/`replace` without a `value` member is 400
invalidSyntax (before: 204, and the attribute was removed). Found by the
red-team pass; the stored user is compared whole after every refusal."""
from scimtest import Check, Server, USER, patch_body

c = Check()
srv = Server().start()
cl = srv.client()
try:
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "victim", "nickName": "nick",
                                  "name": {"givenName": "Vic"},
                                  "emails": [{"type": "work", "value": "v@work.example"}]})
    c.ok(st == 201, "create", (st, u))
    uid = u["id"]
    st, _, before = cl.get("/Users/" + uid)

    def patch(*ops):
        return cl.patch("/Users/" + uid, patch_body(*ops))

    unknown_subs = ['emails.nosuch', 'name.nosuch', 'emails[type eq "work"].nosuch',
                    'emails[type eq "home"].nosuch', 'emails[type eq "work"].value.x']
    for path in unknown_subs:
        for op in ("add", "replace", "remove"):
            o = {"op": op, "path": path}
            if op != "remove":
                o["value"] = "x@y.example"
            # a valid op first: the whole PATCH is refused, not half of it
            st, _, j = patch({"op": "replace", "path": "nickName", "value": "changed"}, o)
            c.error_body(st, j, 400, "invalidPath", "%s %s" % (op, path))
            c.ok("nosuch" in j.get("detail", "") or "value.x" in j.get("detail", ""),
                 "%s %s: the detail names the path" % (op, path), j)
            st, _, now = cl.get("/Users/" + uid)
            c.ok(now == before, "%s %s: the user is unchanged" % (op, path), (before, now))

    for op in ("add", "replace"):
        for o in ({"op": op, "path": "nickName"}, {"op": op, "path": "emails"}, {"op": op}):
            st, _, j = patch(o)
            c.error_body(st, j, 400, "invalidSyntax", "%r without value" % (o,))
            c.ok('"value"' in j.get("detail", ""), "%r: the detail names value" % (o,), j)
            st, _, now = cl.get("/Users/" + uid)
            c.ok(now == before, "%r: the user is unchanged" % (o,), (before, now))

    # what stays allowed: known sub-attributes in any case, explicit null or
    # "" to clear, unknown keys of a path-less value dropped as on create
    st, _, j = patch({"op": "replace", "path": 'emails[type eq "work"].Value', "value": "new@work.example"},
                     {"op": "replace", "path": "name.familyname", "value": "Tim"},
                     {"op": "add", "value": {"nosuch": "x", "title": "T"}},
                     {"op": "replace", "path": "nickName", "value": None})
    c.ok(st == 204, "valid PATCH still applies", (st, j))
    st, _, now = cl.get("/Users/" + uid)
    c.ok(now.get("emails") == [{"type": "work", "value": "new@work.example"}] and
         now.get("name") == {"givenName": "Vic", "familyName": "Tim"} and
         now.get("title") == "T" and "nickName" not in now,
         "valid PATCH applied exactly", now)

    # groups: the same for members' sub-attributes and value-less ops
    st, _, g = cl.post("/Groups", {"displayName": "grp", "members": [{"value": uid}]})
    gid = g["id"]
    for o in ({"op": "add", "path": "members.nosuch", "value": "x"},
              {"op": "remove", "path": 'members[value eq "%s"].nosuch' % uid},
              {"op": "add", "path": "members"}, {"op": "replace", "path": "displayName"}):
        st, _, j = cl.patch("/Groups/" + gid, patch_body(o))
        c.ok(st == 400 and j.get("scimType") in ("invalidPath", "invalidSyntax"),
             "group %r is refused" % (o,), (st, j))
    st, _, g2 = cl.get("/Groups/" + gid)
    c.ok(g2.get("displayName") == "grp" and [m["value"] for m in g2.get("members", [])] == [uid],
         "the group is unchanged", g2)
finally:
    srv.cleanup()
c.done()
