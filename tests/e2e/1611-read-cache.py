"""1611 — the read cache (projector/readcache.c) never answers a read with a
value older than a write already answered. Writers POST, PUT, PATCH and
DELETE their own users (renames, deletes and re-creates of the same
userName) and after each answer read the user back by id and by `userName
eq` (the old name must be free, the new one must name the user) while
reader threads keep every one of those keys in the cache by reading them
in a loop. Then the tenant is deleted with erasure over the admin API and
created again with the same name: none of its old users or names is seen,
the other tenant's cached users still are, and a new user with an old
userName is found. Finally a restart with the same data dir answers the
same. The write-then-read loop runs once more against a Kafka-mode node
(the mock cluster), whose fold writes the views the same way."""
import os
import threading
import urllib.parse

from scimtest import Check, Server, USER, patch_body
from kafkatest import DevKafka, Node

c = Check()
lock = threading.Lock()
fails = []


def fail(msg, extra):
    with lock:
        if len(fails) < 20:
            fails.append((msg, extra))


def q(name):
    return "/Users?filter=" + urllib.parse.quote('userName eq "%s"' % name)


srv = None  # the server the loops talk to (embedded, then Kafka)


def by_name(cl, name):
    st, _, j = cl.get(q(name))
    if st != 200:
        return st, None
    return st, [r["id"] for r in j["Resources"]]


stop = threading.Event()
watched = {}  # tenant -> set of ids and names the readers keep cached


def reader(tenant, token):
    cl = srv.client(tenant, token=token)
    while not stop.is_set():
        with lock:
            keys = list(watched.get(tenant, ()))
        for k in keys:
            if k.startswith("id:"):
                cl.get("/Users/" + k[3:])
            else:
                cl.get(q(k[5:]))


def writer(tenant, w, rounds):
    cl = srv.client(tenant)
    for r in range(rounds):
        name = "w%d-r%d@x.example" % (w, r)
        st, _, u = cl.post("/Users", {"schemas": [USER], "userName": name, "displayName": "d0"})
        if st != 201:
            fail("create", (st, u))
            continue
        uid = u["id"]
        with lock:
            watched.setdefault(tenant, set()).update({"id:" + uid, "name:" + name})
        st, h, j = cl.get("/Users/" + uid)
        if st != 200 or j["userName"] != name:
            fail("GET after POST", (st, j))
        # PATCH displayName: the next GET has it, with the new ETag
        st, h2, j2 = cl.patch("/Users/" + uid, patch_body(
            {"op": "replace", "path": "displayName", "value": "d1"}))
        st, h, j = cl.get("/Users/" + uid)
        if st != 200 or j.get("displayName") != "d1" or (h2.get("etag") and h.get("etag") != h2.get("etag")):
            fail("GET after PATCH", (st, j, h.get("etag"), h2.get("etag")))
        # PUT with a new userName: the old name is free at once
        new = "w%d-r%d-renamed@x.example" % (w, r)
        with lock:
            watched[tenant].add("name:" + new)
        by_name(cl, new)  # cached absent
        st, _, j = cl.put("/Users/" + uid, {"schemas": [USER], "userName": new, "displayName": "d2"})
        if st != 200:
            fail("PUT", (st, j))
        st, j = cl.get("/Users/" + uid)[0], cl.get("/Users/" + uid)[2]
        if st != 200 or j.get("userName") != new or j.get("displayName") != "d2":
            fail("GET after PUT", (st, j))
        if by_name(cl, name) != (200, []):
            fail("old name free after PUT", (name, by_name(cl, name)))
        if by_name(cl, new) != (200, [uid]):
            fail("new name found after PUT", (new, by_name(cl, new)))
        # PATCH the userName back
        st, _, j = cl.patch("/Users/" + uid, patch_body(
            {"op": "replace", "path": "userName", "value": name}))
        if by_name(cl, name) != (200, [uid]) or by_name(cl, new) != (200, []):
            fail("names after PATCH userName", (by_name(cl, name), by_name(cl, new)))
        # DELETE: 404 and the name free; then the name taken by a new user
        st, _, _ = cl.delete("/Users/" + uid)
        if st != 204:
            fail("DELETE", st)
        st, _, j = cl.get("/Users/" + uid)
        if st != 404:
            fail("GET after DELETE", (st, j))
        if by_name(cl, name) != (200, []):
            fail("name free after DELETE", by_name(cl, name))
        st, _, u2 = cl.post("/Users", {"schemas": [USER], "userName": name})
        if st != 201 or by_name(cl, name) != (200, [u2["id"]]):
            fail("name of a new user after DELETE", (st, u2, by_name(cl, name)))
        with lock:
            watched[tenant].add("id:" + u2["id"])


def loops(rounds, what):
    """writers and readers at once; every failure recorded in fails"""
    stop.clear()
    readers = [threading.Thread(target=reader, args=(t, srv.tokens[t]["secret"]))
               for t in ("a", "a", "b")]
    for t in readers:
        t.start()
    writers = [threading.Thread(target=writer, args=(t, w, rounds))
               for t, w in (("a", 0), ("a", 1), ("b", 2))]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    c.ok(not fails, "%s: every read after a write's answer saw the write" % what, fails)
    del fails[:]


srv = Server(tenants=("a", "b"))
OP = "op-" + "2" * 40
with open(os.path.join(srv.root, "op"), "w") as f:
    f.write(OP)
srv.extra = ["--operator-token-file", os.path.join(srv.root, "op")]
srv.start()
try:
    loops(12, "embedded log")

    # tenant a deleted with erasure, then created again with the same name
    ca, cb = srv.client("a"), srv.client("b")
    st, _, keep = cb.get("/Users?filter=" + urllib.parse.quote('userName eq "w2-r0@x.example"'))
    c.ok(st == 200 and keep["totalResults"] == 1, "tenant b's user before", keep)
    a_ids = sorted(k[3:] for k in watched["a"] if k.startswith("id:"))
    a_names = sorted(k[5:] for k in watched["a"] if k.startswith("name:"))
    for i in a_ids:
        ca.get("/Users/" + i)  # in the cache (found or not)
    for n in a_names:
        by_name(ca, n)
    op = srv.client("x", token=OP)
    st, _, j = op.raw("DELETE", "/admin/v1/tenants/a", base=False)
    c.ok(st == 200, "tenant a deleted", (st, j))
    st, _, j = op.raw("POST", "/admin/v1/tenants", {"name": "a"}, base=False)
    c.ok(st == 201 and j.get("secret"), "tenant a created again", (st, j))
    na = srv.client("a", token=j["secret"])
    seen = [i for i in a_ids if na.get("/Users/" + i)[0] != 404]
    c.ok(seen == [], "no user of the deleted tenant is read by id", seen)
    seen = [n for n in a_names if by_name(na, n) != (200, [])]
    c.ok(seen == [], "no userName of the deleted tenant is found", seen)
    st, _, j = cb.get("/Users/" + (keep["Resources"] or [{"id": "none"}])[0]["id"])
    c.ok(st == 200 and j["userName"] == "w2-r0@x.example", "tenant b's user still read", (st, j))
    st, _, u = na.post("/Users", {"schemas": [USER], "userName": a_names[0]})
    c.ok(st == 201 and by_name(na, a_names[0]) == (200, [u["id"]]),
         "an old userName taken by a new user of the new tenant", (st, u, by_name(na, a_names[0])))
    st, _, j = na.get("/Users/" + u["id"])
    c.ok(st == 200 and j["userName"] == a_names[0], "the new user by id", (st, j))

    # a restart answers the same
    srv.stop()
    srv.start()
    na = srv.client("a", token=na.token)
    c.ok(by_name(na, a_names[0]) == (200, [u["id"]]), "after restart: the new user by name")
    c.ok(na.get("/Users/" + a_ids[0])[0] == 404, "after restart: an old id is 404")
finally:
    stop.set()
    srv.cleanup()

# Kafka mode: the node's fold of consumed events writes the views
kafka = DevKafka(partitions=3)
srv = Node(kafka, tenants=("a", "b"))
watched.clear()
try:
    srv.start()
    loops(6, "Kafka mode")
finally:
    stop.set()
    srv.cleanup()
    kafka.stop()
c.done()
