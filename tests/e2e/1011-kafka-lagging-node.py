"""1011 — a write through a node that has not read the resource yet.

Two Kafka nodes; node b fetches at most every 1.5 s (--kafka-fetch-wait
1500: the mock cluster waits each fetch out), so it lags behind node a by
up to that much, as an overloaded node does. A client creates through node a
and changes the resource through node b at once (an IdP behind a load
balancer without affinity does this): node b does not find it in its own
views, so it writes a probe (expect_version -2) to the tenant's partition
instead of answering 404; when b folds the probe it has folded everything
before it, the create included, so the fold answers 412 and b prepares the
write again against its now current views. The same holds when the views
refuse a change for a member they do not know yet (added through b right
after its create through a). A resource that really does not exist is
still 404, answered by the fold at the probe's place in the log, and a
member that exists nowhere is still 400 naming it. The probes show in the
change records as refused changes that say so. Both nodes end with equal
digests. Creates too: a group with a member made through a moments ago, a
userName freed by a rename through a. Without the probe every write
through b here answered 404 (or 400 for the member, 409 for the name)."""
import json
import time
from urllib.parse import quote
from scimtest import Check, USER, GROUP, patch_body
from kafkatest import DevKafka, Node, wait_until

c = Check()
kafka = DevKafka(partitions=3)
a = Node(kafka, tenants=("t1",))
b = Node(kafka, tenants=(), tokens=a.tokens, extra=["--kafka-fetch-wait", "1500"])
a.start()
b.start()
ca, cb = a.client("t1"), b.client("t1")
c.ok(wait_until(lambda: cb.get("/Users?count=0")[0] == 200, 30), "node b knows the tenant")

lagged = 0
for i in range(3):
    st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "lag%d@example.com" % i})
    c.ok(st == 201, "create %d through node a" % i, (st, u))
    if cb.get("/Users/" + u["id"])[0] == 404:
        lagged += 1
    t0 = time.time()
    st, _, j = cb.patch("/Users/" + u["id"], patch_body({"op": "replace", "path": "title", "value": "t%d" % i}))
    c.ok(st in (200, 204), "PATCH %d through the lagging node b lands" % i, (st, j, round(time.time() - t0, 2)))
    st, _, j = ca.get("/Users/" + u["id"])
    c.ok(wait_until(lambda: ca.get("/Users/" + u["id"])[2].get("title") == "t%d" % i, 20),
         "node a shows the PATCH %d" % i)
c.ok(lagged >= 1, "node b really lagged (its GET right after a create was 404 at least once)", lagged)

# PUT and DELETE through b right after a's create
st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "put@example.com"})
st, _, j = cb.put("/Users/" + u["id"], {"schemas": [USER], "userName": "put@example.com", "title": "replaced"})
c.ok(st == 200 and j.get("title") == "replaced", "PUT through node b lands", (st, j))
st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "del@example.com"})
st, _, j = cb.delete("/Users/" + u["id"])
c.ok(st == 204, "DELETE through node b lands", (st, j))
c.ok(wait_until(lambda: ca.get("/Users/" + u["id"])[0] == 404, 20), "node a no longer has it")
# a group created through a, its members changed through b
st, _, g = ca.post("/Groups", {"schemas": [GROUP], "displayName": "lagging"})
st, _, j = cb.patch("/Groups/" + g["id"], patch_body({"op": "replace", "path": "displayName", "value": "renamed"}))
c.ok(st in (200, 204), "group PATCH through node b lands", (st, j))
# a member created through a, added to a group through b at once: b's
# views lack the member, so the probe (of the group) decides, not them
st, _, m = ca.post("/Users", {"schemas": [USER], "userName": "member@example.com"})
st, _, j = cb.patch("/Groups/" + g["id"], patch_body({"op": "add", "path": "members", "value": [{"value": m["id"]}]}))
c.ok(st in (200, 204), "member added through node b right after its create through node a", (st, j))
c.ok(wait_until(lambda: any(x.get("value") == m["id"] for x in ca.get("/Groups/" + g["id"])[2].get("members", [])), 20),
     "node a shows the new member")
# a member that does not exist is still refused, with the usual detail
st, _, j = cb.patch("/Groups/" + g["id"], patch_body({"op": "add", "path": "members", "value": [{"value": "nobody"}]}))
c.error_body(st, j, 400, "invalidValue", "adding a member that exists nowhere through node b")
c.ok(j and "nobody" in j.get("detail", ""), "the detail names the member", j)
# a group created through b with a member created through a at once, and
# a user whose userName a rename through a has just freed
st, _, m2 = ca.post("/Users", {"schemas": [USER], "userName": "member2@example.com"})
st, _, g2 = cb.post("/Groups", {"schemas": [GROUP], "displayName": "made on b", "members": [{"value": m2["id"]}]})
c.ok(st == 201 and [x["value"] for x in g2.get("members", [])] == [m2["id"]],
     "POST /Groups through node b with a member created through node a at once", (st, g2))
st, _, r = ca.post("/Users", {"schemas": [USER], "userName": "old-name@example.com"})
c.ok(wait_until(lambda: cb.get("/Users/" + r["id"])[0] == 200, 20), "node b has the user to rename")
st, _, _ = ca.patch("/Users/" + r["id"], patch_body({"op": "replace", "path": "userName", "value": "new-name@example.com"}))
st, _, n = cb.post("/Users", {"schemas": [USER], "userName": "old-name@example.com"})
c.ok(st == 201, "POST through node b of a userName freed through node a at once", (st, n))
st, _, j = cb.post("/Users", {"schemas": [USER], "userName": "new-name@example.com"})
c.error_body(st, j, 409, "uniqueness", "a userName really taken is still 409 through node b")
st, _, j = cb.post("/Groups", {"schemas": [GROUP], "displayName": "bad", "members": [{"value": "nobody"}]})
c.error_body(st, j, 400, "invalidValue", "POST /Groups with a member that exists nowhere is still 400")
# with If-Match of the version node a answered
st, h, u = ca.post("/Users", {"schemas": [USER], "userName": "etag@example.com"})
st, _, j = cb.patch("/Users/" + u["id"], patch_body({"op": "replace", "path": "title", "value": "m"}),
                    headers={"If-Match": h.get("etag", "")})
c.ok(st in (200, 204), "PATCH with If-Match through node b lands", (st, j, h.get("etag")))

# what does not exist is still 404, as the fold finds at the probe's place
for method, body in (("PATCH", patch_body({"op": "replace", "path": "title", "value": "x"})),
                     ("PUT", {"schemas": [USER], "userName": "ghost@example.com"}), ("DELETE", None)):
    st, _, j = cb.raw(method, "/Users/no-such-user", body)
    c.error_body(st, j, 404, None, method + " of an unknown id through node b")
    c.ok(j and "not found" in j.get("detail", ""), method + ": detail says not found", j)
st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "gone@example.com"})
st, _, _ = ca.delete("/Users/" + u["id"])
st, _, j = cb.patch("/Users/" + u["id"], patch_body({"op": "replace", "path": "title", "value": "late"}))
c.error_body(st, j, 404, None, "PATCH through node b of a user deleted through node a")

# support staff see the probes for what they are: refused records whose
# detail says probe, and no change applied twice
st, _, j = ca.raw("GET", "/reports/v1/t1/changes?verdict=refused&count=100", base=False)
probes = [x for x in (j or {}).get("changes", []) if "probe" in json.dumps(x)]
c.ok(st == 200 and probes, "the probes are recorded as refused changes saying probe", (st, len(probes)))
st, _, u0 = ca.get("/Users?filter=" + quote('userName eq "lag0@example.com"'))
c.ok(st == 200 and u0["Resources"][0]["meta"]["version"] == 'W/"2"',
     "a user created once and patched once through the lagging node is at version 2", u0)

# both nodes end equal
a.stop()
b.stop()
c.ok(a.digest() == b.digest(), "both nodes hold identical views")
a.cleanup()
b.cleanup()
kafka.stop()
c.done()
