"""1460 — the admin API in Kafka mode: a tenant created through node a's
admin API works on node b once b has folded the admin topic; a revocation
and a disable made through node a are refused by node b within a bound
(printed: the fold of the admin topic plus b's 1 s auth cache); a rotation's
old token expires on both nodes; both nodes end with equal digests."""
import json
import os
import time
from scimtest import Check, USER
from kafkatest import DevKafka, Node, wait_until

c = Check()
kafka = DevKafka(partitions=2)
a = Node(kafka, tenants=())
b = Node(kafka, tenants=())
op_file = os.path.join(a.root, "operator.token")
OP = "op-" + "5" * 40
with open(op_file, "w") as f:
    f.write(OP)
a.extra += ["--operator-token-file", op_file]
a.start()
b.start()


def adm(method, path, body=None):
    return a.client("x", token=OP).raw(method, "/admin/v1/tenants" + path, body, base=False)


def refused_within(cl, status, timeout=20):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cl.get("/Users?count=1")[0] == status:
            return time.time() - t0
        time.sleep(0.02)
    return None


try:
    st, _, t = adm("POST", "", {"name": "k1"})
    c.ok(st == 201 and t.get("secret"), "create through node a", (st, t))
    cb = b.client("k1", token=t["secret"])
    c.ok(wait_until(lambda: cb.get("/Users?count=1")[0] == 200, 20), "the secret works on node b")
    st, _, u = cb.post("/Users", {"schemas": [USER], "userName": "kb"})
    c.ok(st == 201, "write through node b", (st, u))

    st, _, t2 = adm("POST", "/k1/tokens", {})
    cb2 = b.client("k1", token=t2["secret"])
    c.ok(wait_until(lambda: cb2.get("/Users?count=1")[0] == 200, 20), "a second token reaches node b")
    st, _, j = adm("DELETE", "/k1/tokens/" + t2["token_id"])
    took = refused_within(cb2, 401)
    c.ok(st == 200 and took is not None and took < 15, "node b refuses the revoked token", (st, took))
    print("# revocation through node a refused by node b after %.3f s" % (took or -1))

    st, _, rot = adm("POST", "/k1/tokens/%s/rotate" % t["token_id"], {"overlapSeconds": 1})
    c.ok(st == 201, "rotate through node a", (st, rot))
    cbn = b.client("k1", token=rot["secret"])
    c.ok(wait_until(lambda: cbn.get("/Users?count=1")[0] == 200, 20), "the successor works on node b")
    took = refused_within(cb, 401)
    c.ok(took is not None, "the old token expires on node b", took)

    st, _, j = adm("POST", "/k1/disable")
    took = refused_within(cbn, 403)
    c.ok(st == 200 and took is not None, "node b refuses a disabled tenant's tokens", (st, took))
    print("# disable through node a refused by node b after %.3f s" % (took or -1))
    st, _, j = adm("POST", "/k1/enable")
    c.ok(refused_within(cbn, 200) is not None, "enabled again on node b")
    c.ok(cbn.get("/Users/" + u["id"])[0] == 200, "the data was kept")

    a.stop()
    b.stop()
    c.ok(a.digest() == b.digest(), "both nodes hold identical views")
finally:
    a.cleanup()
    b.cleanup()
    kafka.stop()
c.done()
