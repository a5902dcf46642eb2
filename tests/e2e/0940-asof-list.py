"""0940 — point-in-time tenant queries (issue 13 item 4): `GET
/reports/v1/{t}/Users?asOf=T&filter=...` and `/Groups?asOf=T` list the
tenant as it was at T (filtered and paged like a live list), and equal what
a replay of the log up to T serves (`scimlog replay --until SEQ`, then a
live list on the replayed dir). Also "who was a member of group X on date
T" (`Groups/{id}?asOf=T`) after members were removed, deleted and added."""
import json
import os
import time
from scimtest import Check, Server, USER, GROUP, cli, patch_body

c = Check()
srv = Server(tenants=("t1",))
srv.start()


def ts(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)


def pause():
    """a clear gap between phases (event times have ms resolution)"""
    time.sleep(0.05)
    t = int(time.time() * 1000)
    time.sleep(0.05)
    return t


def key(r):
    return (r["id"], r.get("userName") or r.get("displayName"), r.get("title"), r["meta"]["version"],
            tuple(sorted(m["value"] for m in r.get("members", []))))


def listing(cl, path):
    st, _, j = cl.raw("GET", path, base=False)
    c.ok(st == 200, "GET " + path, (st, j))
    return j or {"Resources": [], "totalResults": -1}


try:
    t1 = srv.client("t1")
    u = []
    for i in range(12):
        st, _, j = t1.post("/Users", {"schemas": [USER], "userName": "p%02d@x.com" % i,
                                      "title": "t%d" % (i % 3)})
        u.append(j["id"])
    st, _, g = t1.post("/Groups", {"schemas": [GROUP], "displayName": "G",
                                   "members": [{"value": x} for x in u[:5]]})
    c.ok(st == 201, "group G with 5 members", st)
    T1 = pause()
    t1.patch("/Users/" + u[1], patch_body({"op": "replace", "path": "title", "value": "changed"}))
    t1.delete("/Users/" + u[2])                                   # a member, deleted
    st, _, j = t1.post("/Users", {"schemas": [USER], "userName": "late@x.com", "title": "t0"})
    late = j["id"]
    t1.patch("/Groups/" + g["id"], patch_body({"op": "remove", "path": 'members[value eq "%s"]' % u[0]},
                                              {"op": "add", "path": "members", "value": [{"value": u[7]}]}))
    T2 = pause()
    t1.delete("/Users/" + u[3])
    t1.patch("/Users/" + u[4], patch_body({"op": "replace", "path": "title", "value": "again"}))

    base = "/reports/v1/t1/Users?asOf=%s" % ts(T1)
    j = listing(t1, base + "&count=1000")
    c.ok(j["totalResults"] == 12 and {r["id"] for r in j["Resources"]} == set(u),
         "Users asOf T1: the 12 users of then", j["totalResults"])
    c.ok([r["id"] for r in j["Resources"]] == sorted(u), "in id order, like a live list")
    byid = {r["id"]: r for r in j["Resources"]}
    c.ok(byid[u[1]]["title"] == "t1" and byid[u[1]]["meta"]["version"] == 'W/"1"',
         "u1 as it was", byid[u[1]])
    j = listing(t1, base + "&filter=" + 'title%20eq%20%22t0%22')
    c.ok(j["totalResults"] == 4, "filter title eq t0 at T1", j["totalResults"])
    j = listing(t1, base + "&startIndex=3&count=4")
    c.ok(j["totalResults"] == 12 and j["itemsPerPage"] == 4 and j["startIndex"] == 3 and
         [r["id"] for r in j["Resources"]] == sorted(u)[2:6], "paging", j.get("itemsPerPage"))
    j = listing(t1, "/reports/v1/t1/Users?asOf=%s&count=1000" % ts(T2))
    ids2 = {r["id"] for r in j["Resources"]}
    c.ok(ids2 == (set(u) - {u[2]}) | {late}, "Users asOf T2: u2 gone, late there", j["totalResults"])
    j = listing(t1, "/reports/v1/t1/Users?asOf=%s&filter=title%%20eq%%20%%22changed%%22" % ts(T2))
    c.ok([r["id"] for r in j["Resources"]] == [u[1]], "filter on the changed title at T2", j)

    # who was a member of G then
    for T, want in ((T1, set(u[:5])), (T2, {u[1], u[3], u[4], u[7]})):
        st, _, gj = t1.raw("GET", "/reports/v1/t1/Groups/%s?asOf=%s" % (g["id"], ts(T)), base=False)
        c.ok(st == 200 and {m["value"] for m in gj.get("members", [])} == want,
             "members of G at %s" % ts(T), gj)
    j = listing(t1, "/reports/v1/t1/Groups?asOf=%s" % ts(T2))
    c.ok(j["totalResults"] == 1 and {m["value"] for m in j["Resources"][0]["members"]} ==
         {u[1], u[3], u[4], u[7]}, "Groups asOf T2 with members", j)

    # bad input
    st, _, j = t1.raw("GET", "/reports/v1/t1/Users", base=False)
    c.error_body(st, j, 400, "invalidValue", "asOf is required")
    st, _, j = t1.raw("GET", base + "&filter=title%20eq", base=False)
    c.error_body(st, j, 400, "invalidFilter", "a bad filter")
    st, _, j = t1.raw("GET", base + "&count=5000", base=False)
    c.error_body(st, j, 400, "invalidValue", "count over 1000")
    st, _, j = srv.client("t1", token="nope").raw("GET", base, base=False)
    c.ok(st == 401, "needs the tenant's token", st)

    # the same lists from a replay of the log up to T1 and T2
    snaps = {}
    for T in (T1, T2):
        snaps[T] = (listing(t1, "/reports/v1/t1/Users?asOf=%s&count=1000" % ts(T))["Resources"],
                    listing(t1, "/reports/v1/t1/Groups?asOf=%s&count=1000" % ts(T))["Resources"])
    seqs = {}
    for T in (T1, T2):
        st, _, j = t1.raw("GET", "/reports/v1/t1/changes?to=%s&order=desc&count=1" % ts(T), base=False)
        seqs[T] = j["changes"][0]["seq"]
finally:
    srv.stop()

for T in (T1, T2):
    into = os.path.join(srv.root, "until-%d" % seqs[T])
    cli("replay", "--data", srv.data, "--into", into, "--until", str(seqs[T]))
    srv.start(data=into)
    try:
        live_u = srv.client("t1").get("/Users?count=1000")[2]["Resources"]
        live_g = srv.client("t1").get("/Groups?count=1000")[2]["Resources"]
    finally:
        srv.stop()
    c.ok(sorted(map(key, snaps[T][0])) == sorted(map(key, live_u)),
         "Users asOf %s == a replay --until %d" % (ts(T), seqs[T]),
         (sorted(map(key, snaps[T][0])), sorted(map(key, live_u))))
    c.ok(sorted(map(key, snaps[T][1])) == sorted(map(key, live_g)),
         "Groups asOf %s == a replay --until %d" % (ts(T), seqs[T]),
         (sorted(map(key, snaps[T][1])), sorted(map(key, live_g))))
srv.cleanup()
c.done()
