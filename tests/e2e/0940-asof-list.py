"""0940 — point-in-time tenant queries (issue 13 item 4): `GET
/reports/v1/{t}/Users?asOf=T&filter=...` and `/Groups?asOf=T` list the
tenant as it was at T (filtered and paged like a live list), and equal what
a replay of the log up to T serves (`scimlog replay --until SEQ`, then a
live list on the replayed dir); `replay --until T` (a time) builds the
same views as `--until SEQ`, and bad `--until` values are refused. Also "who was a member of group X on date
T" (`Groups/{id}?asOf=T`) after members were removed, deleted and added.

Compared with a replay at three times, for many filters: attributes that
changed over time, caseless and case-exact ones, literals the list can look
for in the stored bytes and literals it cannot (non-ASCII, quotes,
backslashes; a non-ASCII value whose fold holds an ASCII literal), `or`,
`not`, value paths, meta; users deleted and re-created with the same
userName; group renames; members removed by a user's delete; member
display names (sealed in the log) and a group as a member."""
import json
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
    return (r["id"], r.get("userName") or r.get("displayName"), r.get("title"), r.get("active"),
            tuple(sorted(e.get("value", "") for e in r.get("emails", []))), r["meta"]["version"],
            r["meta"].get("created"), r["meta"].get("lastModified"), members(r))


def listing(cl, path):
    st, _, j = cl.raw("GET", path, base=False)
    c.ok(st == 200, "GET " + path, (st, j))
    return j or {"Resources": [], "totalResults": -1}


def user(cl, name, title, **extra):
    body = {"schemas": [USER], "userName": name, "title": title,
            "emails": [{"value": name, "type": "work"}]}
    body.update(extra)
    st, _, j = cl.post("/Users", body)
    c.ok(st == 201, "create " + name, (st, j))
    return j["id"]


USER_FILTERS = [
    'title eq "t0"', 'title eq "T0"', 'title co "ang"', 'title sw "t"', 'title ew "1"',
    'userName eq "p02@x.com"', 'userName sw "P0"', 'emails[type eq "work" and value co "p1"]',
    'emails.value ew "@x.com"', 'title eq "t1" or title eq "changed"',
    'title eq "t2" and userName co "0"', 'title eq "größe"', 'title eq "GRÖSSE"', 'title co "ss"',
    'title eq "a\\"b\\\\c"', 'title co "b\\\\"', 'not (title eq "t0")', 'active eq false',
    'title pr', 'title eq "nothing like it"', 'displayName co "seven"',
]
GROUP_FILTERS = ['displayName eq "G"', 'displayName sw "G"', 'displayName co "renamed"',
                 'displayName eq "H"']

try:
    t1 = srv.client("t1")
    u = []
    for i in range(12):
        u.append(user(t1, "p%02d@x.com" % i, "t%d" % (i % 3)))
    big = user(t1, "big@x.com", "T0")                                # caseless eq "t0"
    nonascii = user(t1, "gross@x.com", "Größe")                       # folds to "grösse"
    odd = user(t1, "odd@x.com", 'a"b\\c', displayName="Seven Odd")   # escaped in JSON
    st, _, h = t1.post("/Groups", {"schemas": [GROUP], "displayName": "H",
                                   "members": [{"value": u[6], "display": "six"},
                                               {"value": odd, "display": "seven odd"}]})
    c.ok(st == 201, "group H with display names", (st, h))
    st, _, g = t1.post("/Groups", {"schemas": [GROUP], "displayName": "G",
                                   "members": [{"value": x} for x in u[:5]] + [{"value": h["id"]}]})
    c.ok(st == 201, "group G with 5 users and group H", (st, g))
    T1 = pause()
    t1.patch("/Users/" + u[1], patch_body({"op": "replace", "path": "title", "value": "changed"}))
    t1.delete("/Users/" + u[2])                                   # a member of G, deleted
    again = user(t1, "p02@x.com", "t1")                           # re-created: same userName
    late = user(t1, "late@x.com", "t0")
    t1.patch("/Groups/" + g["id"], patch_body({"op": "remove", "path": 'members[value eq "%s"]' % u[0]},
                                              {"op": "add", "path": "members",
                                               "value": [{"value": u[7]}, {"value": again}]}))
    t1.patch("/Groups/" + h["id"], patch_body({"op": "replace", "path": "displayName", "value": "H renamed"},
                                              {"op": "add", "path": "members",
                                               "value": [{"value": u[8], "display": "eight"}]}))
    t1.patch("/Users/" + big, patch_body({"op": "replace", "path": "active", "value": False}))
    T2 = pause()
    t1.delete("/Users/" + u[3])                                   # a member of G, deleted
    t1.delete("/Users/" + odd)                                    # a member of H, deleted
    t1.patch("/Users/" + u[4], patch_body({"op": "replace", "path": "title", "value": "again"}))
    t1.patch("/Users/" + again, patch_body({"op": "replace", "path": "title", "value": "t0"}))
    t1.patch("/Users/" + nonascii, patch_body({"op": "replace", "path": "title", "value": "GROSSE"}))
    t1.put("/Groups/" + g["id"], {"schemas": [GROUP], "displayName": "G renamed",
                                  "members": [{"value": u[5]}, {"value": again, "display": "p02 again"}]})
    T3 = pause()
    t1.delete("/Users/" + again)                                  # the re-created one, deleted too

    base = "/reports/v1/t1/Users?asOf=%s" % ts(T1)
    j = listing(t1, base + "&count=1000")
    want1 = set(u) | {big, nonascii, odd}
    c.ok(j["totalResults"] == 15 and {r["id"] for r in j["Resources"]} == want1,
         "Users asOf T1: the 15 users of then", j["totalResults"])
    c.ok([r["id"] for r in j["Resources"]] == sorted(want1), "in id order, like a live list")
    byid = {r["id"]: r for r in j["Resources"]}
    c.ok(byid[u[1]]["title"] == "t1" and byid[u[1]]["meta"]["version"] == 'W/"1"',
         "u1 as it was", byid[u[1]])
    j = listing(t1, base + "&filter=" + q('title eq "t0"'))
    c.ok(j["totalResults"] == 5, "filter title eq t0 at T1 (4 + T0 caselessly)", j["totalResults"])
    j = listing(t1, base + "&startIndex=3&count=4")
    c.ok(j["totalResults"] == 15 and j["itemsPerPage"] == 4 and j["startIndex"] == 3 and
         [r["id"] for r in j["Resources"]] == sorted(want1)[2:6], "paging", j.get("itemsPerPage"))
    j = listing(t1, "/reports/v1/t1/Users?asOf=%s&count=1000" % ts(T2))
    ids2 = {r["id"] for r in j["Resources"]}
    c.ok(ids2 == (want1 - {u[2]}) | {late, again}, "Users asOf T2: u2 gone, late and u2 again there",
         j["totalResults"])
    j = listing(t1, "/reports/v1/t1/Users?asOf=%s&filter=%s" % (ts(T2), q('title eq "changed"')))
    c.ok([r["id"] for r in j["Resources"]] == [u[1]], "filter on the changed title at T2", j)
    for T, want in ((T1, [u[2]]), (T2, [again]), (T3, [again])):
        j = listing(t1, "/reports/v1/t1/Users?asOf=%s&filter=%s" % (ts(T), q('userName eq "p02@x.com"')))
        c.ok([r["id"] for r in j["Resources"]] == want, "p02@x.com at %s: deleted and re-created" % ts(T), j)
    j = listing(t1, "/reports/v1/t1/Users?asOf=%s&filter=%s" % (ts(T1), q('title co "ss"')))
    c.ok([r["id"] for r in j["Resources"]] == [nonascii], "Größe folds to hold 'ss'", j)
    j = listing(t1, "/reports/v1/t1/Users?asOf=%s&filter=%s" % (ts(T1), q('title eq "a\\"b\\\\c"')))
    c.ok([r["id"] for r in j["Resources"]] == [odd], "a title with a quote and a backslash", j)

    # who was a member of G then
    for T, want in ((T1, set(u[:5]) | {h["id"]}), (T2, {u[1], u[3], u[4], u[7], h["id"], again}),
                    (T3, {u[5], again})):
        st, _, gj = t1.raw("GET", "/reports/v1/t1/Groups/%s?asOf=%s" % (g["id"], ts(T)), base=False)
        c.ok(st == 200 and {m["value"] for m in gj.get("members", [])} == want,
             "members of G at %s" % ts(T), gj)
    st, _, gj = t1.raw("GET", "/reports/v1/t1/Groups/%s?asOf=%s" % (g["id"], ts(T1)), base=False)
    c.ok([m["type"] for m in gj["members"] if m["value"] == h["id"]] == ["Group"], "H is a Group member", gj)
    st, _, hj = t1.raw("GET", "/reports/v1/t1/Groups/%s?asOf=%s" % (h["id"], ts(T2)), base=False)
    c.ok(hj.get("displayName") == "H renamed" and
         {(m["value"], m.get("display")) for m in hj.get("members", [])} ==
         {(u[6], "six"), (odd, "seven odd"), (u[8], "eight")}, "H at T2: renamed, display names", hj)
    j = listing(t1, "/reports/v1/t1/Groups?asOf=%s" % ts(T2))
    c.ok(j["totalResults"] == 2, "Groups asOf T2", j)
    j = listing(t1, "/reports/v1/t1/Groups?asOf=%s&filter=%s" % (ts(T2), q('members.value eq "%s"' % u[2])))
    c.ok(j["totalResults"] == 0, "nobody held u2 once it was deleted", j)
    j = listing(t1, "/reports/v1/t1/Groups?asOf=%s&filter=%s" % (ts(T1), q('members.value eq "%s"' % u[2])))
    c.ok([r["id"] for r in j["Resources"]] == [g["id"]], "G held u2 at T1", j)

    # bad input
    st, _, j = t1.raw("GET", "/reports/v1/t1/Users", base=False)
    c.error_body(st, j, 400, "invalidValue", "asOf is required")
    st, _, j = t1.raw("GET", base + "&filter=title%20eq", base=False)
    c.error_body(st, j, 400, "invalidFilter", "a bad filter")
    st, _, j = t1.raw("GET", base + "&count=5000", base=False)
    c.error_body(st, j, 400, "invalidValue", "count over 1000")
    st, _, j = srv.client("t1", token="nope").raw("GET", base, base=False)
    c.ok(st == 401, "needs the tenant's token", st)

    # the same lists from a replay of the log up to T1, T2 and T3
    ids = [g["id"], h["id"]]
    snaps, seqs = {}, {}
    for T in (T1, T2, T3):
        snaps[T] = {
            "users": {f: listing(t1, "/reports/v1/t1/Users?asOf=%s&count=1000&filter=%s" % (ts(T), q(f)))
                      ["Resources"] for f in USER_FILTERS + [""]},
            "groups": {f: listing(t1, "/reports/v1/t1/Groups?asOf=%s&count=1000&filter=%s" % (ts(T), q(f)))
                       ["Resources"] for f in GROUP_FILTERS + [""] +
                       ['members.value eq "%s"' % x for x in (u[2], u[3], u[7], again, odd, h["id"])]},
            "one": {x: t1.raw("GET", "/reports/v1/t1/Groups/%s?asOf=%s" % (x, ts(T)), base=False)[2]
                    for x in ids},
        }
        st, _, j = t1.raw("GET", "/reports/v1/t1/changes?to=%s&order=desc&count=1" % ts(T), base=False)
        seqs[T] = j["changes"][0]["seq"]
finally:
    srv.stop()

for T in (T1, T2, T3):
    into = os.path.join(srv.root, "until-%d" % seqs[T])
    cli("replay", "--data", srv.data, "--into", into, "--until", str(seqs[T]))
    # the same state by time: --until T stops before the first event
    # stamped after T (the pause keeps every event away from T itself)
    by_time = os.path.join(srv.root, "until-time-%d" % seqs[T])
    p = cli("replay", "--data", srv.data, "--into", by_time, "--until", ts(T))
    c.ok("up to log position" in p.stderr, "--until TIME names the position", p.stderr)
    dig = [json.loads(cli("digest", "--data", d).stdout) for d in (into, by_time)]
    c.ok(dig[0] == dig[1], "replay --until %s == --until %d (digest, position)" % (ts(T), seqs[T]), dig)
    srv.start(data=into)
    try:
        cl = srv.client("t1")
        live = {"users": {f: cl.get("/Users?count=1000" + ("&filter=" + q(f) if f else ""))[2]["Resources"]
                          for f in snaps[T]["users"]},
                "groups": {f: cl.get("/Groups?count=1000" + ("&filter=" + q(f) if f else ""))[2]["Resources"]
                           for f in snaps[T]["groups"]},
                "one": {x: cl.get("/Groups/" + x)[2] for x in ids}}
    finally:
        srv.stop()
    for kind in ("users", "groups"):
        for f, past in snaps[T][kind].items():
            c.ok(sorted(map(key, past)) == sorted(map(key, live[kind][f])),
                 "%s asOf %s filter %r == a replay --until %d" % (kind, ts(T), f, seqs[T]),
                 (sorted(map(key, past)), sorted(map(key, live[kind][f]))))
    for x in ids:
        c.ok(members(snaps[T]["one"][x]) == members(live["one"][x]) and
             key(snaps[T]["one"][x]) == key(live["one"][x]),
             "Groups/%s asOf %s == a replay --until %d" % (x, ts(T), seqs[T]),
             (snaps[T]["one"][x], live["one"][x]))
# --until's bad values are refused before anything is written
for bad in ("12abc", "-3", "2026-13-01T00:00:00Z", "yesterday", "99999999999999999999999"):
    d = os.path.join(srv.root, "bad-until")
    p = cli("replay", "--data", srv.data, "--into", d, "--until", bad, check=False)
    c.ok(p.returncode != 0 and "--until" in p.stderr and not os.path.exists(os.path.join(d, "CURRENT")),
         "replay --until %r refused" % bad, (p.returncode, p.stderr))
# a time before the first event: nothing to replay, said so
p = cli("replay", "--data", srv.data, "--into", os.path.join(srv.root, "early"),
        "--until", "2001-01-01T00:00:00Z", check=False)
c.ok(p.returncode != 0 and "nothing to replay" in p.stderr, "--until before the log refused", p.stderr)
srv.cleanup()
c.done()
