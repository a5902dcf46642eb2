"""1400 — history and asOf in Kafka mode: the fold keeps a per-node copy of
each consumed event under its position (log/scim_log.h), so
`Users/{id}?asOf=`, `Groups/{id}?asOf=` and `resources/{id}/history` answer
on every node, equal to what the node served at that time, also after a
restart and on a second node that only ever read the topic."""
import time
import urllib.parse
from scimtest import Check, USER, GROUP, patch_body
from kafkatest import DevKafka, Node, wait_until

c = Check()
kafka = DevKafka(partitions=3)
a = Node(kafka, tenants=("t1",))
a.start()
b = Node(kafka, tenants=(), tokens=a.tokens)
b.start()


def rep(cl, path):
    return cl.raw("GET", "/reports/v1/%s%s" % (cl.tenant, path), base=False)


def no_meta_location(r):
    return {**r, "meta": {k: v for k, v in r["meta"].items() if k != "location"}}


try:
    ca, cb = a.client("t1"), b.client("t1")
    st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "hist@example.com", "title": "one"})
    c.ok(st == 201, "create", (st, u))
    uid = u["id"]
    st, _, v1 = ca.get("/Users/" + uid)
    time.sleep(0.02)
    st, _, _ = ca.patch("/Users/" + uid, patch_body({"op": "replace", "path": "title", "value": "two"}))
    c.ok(st == 204, "patch", st)
    st, _, v2 = ca.get("/Users/" + uid)
    t2 = v2["meta"]["lastModified"]
    time.sleep(0.02)
    st, _, g = ca.post("/Groups", {"schemas": [GROUP], "displayName": "g", "members": [{"value": uid}]})
    c.ok(st == 201, "group create", (st, g))
    gid = g["id"]
    t_group = g["meta"]["created"]
    time.sleep(0.02)
    st, _, _ = ca.delete("/Users/" + uid)
    c.ok(st == 204, "delete user", st)
    t_after = "%d" % (int(time.time() * 1000) + 1000)

    c.ok(wait_until(lambda: cb.get("/Groups/" + gid)[0] == 200 and cb.get("/Users/" + uid)[0] == 404),
         "node b folded everything")

    def check(node_client, label):
        st, _, v = rep(node_client, "/Users/%s?asOf=%s" % (uid, urllib.parse.quote(v1["meta"]["created"])))
        c.ok(st == 200 and no_meta_location(v) == no_meta_location(v1), label + ": user asOf creation equals the GET then",
             (st, v, v1))
        st, _, v = rep(node_client, "/Users/%s?asOf=%s" % (uid, urllib.parse.quote(t2)))
        c.ok(st == 200 and v.get("title") == "two" and v["meta"]["version"] == 'W/"2"',
             label + ": user asOf the PATCH", (st, v))
        st, _, v = rep(node_client, "/Users/%s?asOf=%s" % (uid, t_after))
        c.error_body(st, v, 404, None, label + ": user asOf after its delete")
        st, _, v = rep(node_client, "/Groups/%s?asOf=%s" % (gid, urllib.parse.quote(t_group)))
        c.ok(st == 200 and [m["value"] for m in v.get("members", [])] == [uid],
             label + ": group asOf its creation has the member", (st, v))
        st, _, v = rep(node_client, "/Groups/%s?asOf=%s" % (gid, t_after))
        c.ok(st == 200 and not v.get("members"), label + ": group asOf after the member's delete is empty", (st, v))
        st, _, h = rep(node_client, "/resources/%s/history" % uid)
        c.ok(st == 200 and [r["action"] for r in h["changes"]] == ["create", "update", "delete"],
             label + ": user history", (st, h))

    check(ca, "node a")
    check(cb, "node b")
    a.stop()
    a.start()
    check(a.client("t1"), "node a after restart")
    a.stop()
    b.stop()
    c.ok(a.digest() == b.digest(), "both nodes hold identical views and event copies (digest)")
finally:
    a.cleanup()
    b.cleanup()
    kafka.stop()
c.done()
