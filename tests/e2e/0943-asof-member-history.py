"""0943 — "which groups held user U at date T" (issue 13 item 4, the audit
question in reverse): `GET /reports/v1/{t}/Groups?asOf=T&filter=members.value
eq "U"` is answered from the member-history index (projector/memhist.c)
and must equal what a replay of the log up to T serves (`scimlog replay
--until SEQ`, then a live `/Groups?filter=...` on the replayed dir), for
every user and group id at four times.

The history: users in several groups, removed and re-added, removed by a
filter path (members[value eq "U"]), members replaced by PUT and by PATCH
replace, a user removed and added in one PATCH, users deleted while they
are members, a group deleted and another created with its name, a group as
a member of a group (and deleted), and a member's delete after a group
held it. The filters: `members.value eq` (also with the id in upper case:
members.value is not caseExact), `members[value eq ...]`, both under `and`
with displayName, `members[type eq "User"].value eq`, paging of a user in
several groups, and an `or` (answered by the full walk) for comparison."""
import os
import time
import urllib.parse
from scimtest import Check, Server, USER, GROUP, cli, patch_body, asof_ts as ts, asof_pause as pause, quote_all as q

c = Check()
srv = Server(tenants=("t1",))
srv.start()


def members(r):
    return tuple(sorted((m["value"], m.get("display"), m.get("type")) for m in r.get("members", [])))


def key(r):
    return (r["id"], r.get("displayName"), r["meta"]["version"], r["meta"].get("created"),
            r["meta"].get("lastModified"), members(r))


def listing(cl, path):
    st, _, j = cl.raw("GET", path, base=False)
    c.ok(st == 200, "GET " + path, (st, j))
    return j or {"Resources": [], "totalResults": -1}


def ok(st, j, want, what):
    c.ok(st == want, what, (st, j))
    return j


try:
    t1 = srv.client("t1")
    u = []
    for i in range(11):
        st, _, j = t1.post("/Users", {"schemas": [USER], "userName": "m%02d@x.com" % i})
        u.append(ok(st, j, 201, "user %d" % i)["id"])

    def group(name, ids):
        st, _, j = t1.post("/Groups", {"schemas": [GROUP], "displayName": name,
                                       "members": [{"value": x} for x in ids]})
        return ok(st, j, 201, "group " + name)["id"]

    A = group("A", u[0:5])
    B = group("B", u[3:8])
    C = group("C", [u[0], u[8], A])                       # a group as a member
    D = group("D", [])
    t1.patch("/Groups/" + D, patch_body({"op": "add", "path": "members", "value": [{"value": u[9]}]}))
    T1 = pause()
    t1.patch("/Groups/" + A, patch_body({"op": "remove", "path": "members[value eq \"%s\"]" % u[1]},
                                        {"op": "add", "path": "members", "value": [{"value": u[8]}]}))
    t1.patch("/Groups/" + B, patch_body({"op": "remove", "path": "members[value eq \"%s\"]" % u[3]}))
    st, _, j = t1.delete("/Users/" + u[4])                # a member of A and B
    c.ok(st == 204, "delete u4", (st, j))
    st, _, j = t1.delete("/Groups/" + C)                  # held u0, u8 and A
    c.ok(st == 204, "delete C", (st, j))
    C2 = group("C", [u[0], u[9]])                         # another C
    st, _, j = t1.put("/Groups/" + B, {"schemas": [GROUP], "displayName": "B",
                                      "members": [{"value": x} for x in (u[5], u[6], u[1])]})
    ok(st, j, 200, "PUT B")
    t1.patch("/Groups/" + D, patch_body({"op": "replace", "path": "members",
                                         "value": [{"value": u[2]}, {"value": u[3]}]}))
    T2 = pause()
    t1.patch("/Groups/" + A, patch_body({"op": "add", "path": "members", "value": [{"value": u[1]}]}))
    st, _, j = t1.delete("/Users/" + u[5])                # in B
    c.ok(st == 204, "delete u5", (st, j))
    st, _, j = t1.post("/Users", {"schemas": [USER], "userName": "m10b@x.com"})
    late = ok(st, j, 201, "a late user")["id"]
    t1.patch("/Groups/" + A, patch_body({"op": "add", "path": "members", "value": [{"value": late}]}))
    t1.patch("/Groups/" + B, patch_body({"op": "add", "path": "members", "value": [{"value": late}, {"value": D}]}))
    t1.patch("/Groups/" + C2, patch_body({"op": "add", "path": "members", "value": [{"value": u[3]}]}))
    t1.patch("/Groups/" + A, patch_body({"op": "remove", "path": "members[value eq \"%s\"]" % u[0]},
                                        {"op": "add", "path": "members", "value": [{"value": u[0]}]}))
    T3 = pause()
    st, _, j = t1.delete("/Groups/" + D)                  # a member of B, holding u2, u3
    c.ok(st == 204, "delete D", (st, j))
    st, _, j = t1.delete("/Users/" + u[1])                # in A and B
    c.ok(st == 204, "delete u1", (st, j))
    t1.patch("/Groups/" + A, patch_body({"op": "remove", "path": "members[value eq \"%s\"]" % u[8]}))
    T4 = pause()
    t1.patch("/Groups/" + B, patch_body({"op": "add", "path": "members", "value": [{"value": u[9]}]}))

    ids = u + [late, A, B, C, D, C2]
    filters = []
    for x in ids:
        filters += ['members.value eq "%s"' % x, 'members.value eq "%s"' % x.upper(),
                    'members[value eq "%s"]' % x, 'displayName eq "A" and members.value eq "%s"' % x,
                    'members[type eq "User" and value eq "%s"] and displayName sw "B"' % x,
                    'members[type eq "User"].value eq "%s"' % x]
    filters += ['members.value eq "%s" or members.value eq "%s"' % (u[0], u[9]), 'members.value eq "nobody"']

    # hand-checked answers
    def held(T, x):
        j = listing(t1, "/reports/v1/t1/Groups?asOf=%s&count=1000&filter=%s" % (ts(T), q('members.value eq "%s"' % x)))
        return sorted(r["id"] for r in j["Resources"])
    c.ok(held(T1, u[4]) == sorted([A, B]), "u4 in A and B at T1")
    c.ok(held(T2, u[4]) == [], "u4 nowhere once deleted")
    c.ok(held(T1, u[0]) == sorted([A, C]), "u0 in A and C at T1")
    c.ok(held(T2, u[0]) == sorted([A, C2]), "u0 in A and the new C at T2 (the old C deleted)")
    c.ok(held(T1, A) == [C], "group A held by C at T1")
    c.ok(held(T2, A) == [], "A held by nobody once C is deleted")
    c.ok(held(T2, u[1]) == [B], "u1 removed from A by a filter path, put in B by PUT")
    c.ok(held(T3, u[1]) == sorted([A, B]), "u1 re-added to A")
    c.ok(held(T4, u[1]) == [], "u1 deleted")
    c.ok(held(T3, D) == [B] and held(T4, D) == [], "D held by B until its delete")
    c.ok(held(T3, u[2]) == sorted([A, D]) and held(T4, u[2]) == [A], "D's members leave with D")
    j = listing(t1, "/reports/v1/t1/Groups?asOf=%s&filter=%s" % (ts(T3), q('members.value eq "%s"' % u[0].upper())))
    c.ok(sorted(r["id"] for r in j["Resources"]) == sorted([A, C2]), "an upper-case id finds u0 (caseless)", j)
    j = listing(t1, "/reports/v1/t1/Groups?asOf=%s&count=1&startIndex=2&filter=%s" % (ts(T3), q('members.value eq "%s"' % late)))
    c.ok(j["totalResults"] == 2 and j["itemsPerPage"] == 1 and j["startIndex"] == 2 and
         [r["id"] for r in j["Resources"]] == sorted([A, B])[1:], "paging a user in two groups", j)

    snaps, seqs = {}, {}
    for T in (T1, T2, T3, T4):
        snaps[T] = {f: listing(t1, "/reports/v1/t1/Groups?asOf=%s&count=1000&filter=%s" % (ts(T), q(f)))["Resources"]
                    for f in filters}
        snaps[T]["page"] = listing(t1, "/reports/v1/t1/Groups?asOf=%s&count=1&startIndex=2&filter=%s" % (
            ts(T), q('members.value eq "%s"' % u[0])))
        st, _, j = t1.raw("GET", "/reports/v1/t1/changes?to=%s&order=desc&count=1" % ts(T), base=False)
        seqs[T] = j["changes"][0]["seq"]
finally:
    srv.stop()

nonempty = 0
for T in (T1, T2, T3, T4):
    into = os.path.join(srv.root, "until-%d" % seqs[T])
    cli("replay", "--data", srv.data, "--into", into, "--until", str(seqs[T]))
    srv.start(data=into)
    try:
        cl = srv.client("t1")
        live = {f: cl.get("/Groups?count=1000&filter=" + q(f))[2]["Resources"] for f in filters}
        page = cl.get("/Groups?count=1&startIndex=2&filter=" + q('members.value eq "%s"' % u[0]))[2]
    finally:
        srv.stop()
    for f in filters:
        past = snaps[T][f]
        nonempty += bool(past)
        c.ok([r["id"] for r in past] == sorted(r["id"] for r in past) and
             sorted(map(key, past)) == sorted(map(key, live[f])),
             "Groups asOf %s filter %r == a replay --until %d" % (ts(T), f, seqs[T]),
             (sorted(map(key, past)), sorted(map(key, live[f]))))
    p = snaps[T]["page"]
    c.ok(p["totalResults"] == page["totalResults"] and
         [r["id"] for r in p["Resources"]] == [r["id"] for r in page["Resources"]],
         "page 2 of u0's groups at %s == a replay's" % ts(T), (p, page))
c.ok(nonempty > 100, "the comparisons are not all empty lists", nonempty)
srv.cleanup()
c.done()
