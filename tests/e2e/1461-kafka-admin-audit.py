"""1461 — the front door's audit trail in Kafka mode: admin calls made
through node a carry the operator and their request id; a token revoked
through node a and then used on node b is refused by node b (the time from
the revoke answer is printed: node b's fold of the admin topic, then at
most its 1 s auth cache), and node b's refusal record names the revoked
token and reaches node a's reports (refusals travel on the data topic like
refused writes); both nodes end with equal digests."""
import os
import time
from scimtest import Check
from kafkatest import DevKafka, Node, wait_until

c = Check()
kafka = DevKafka(partitions=2)
a = Node(kafka, tenants=())
b = Node(kafka, tenants=())
op_file = os.path.join(a.root, "operator.token")
OP = "op-" + "6" * 40
with open(op_file, "w") as f:
    f.write(OP)
a.extra += ["--operator-token-file", op_file]
a.start()
b.start()


def adm(method, path, body=None, rid=None):
    return a.client("x", token=OP).raw(method, "/admin/v1/tenants" + path, body, base=False,
                                       headers={"X-Request-Id": rid} if rid else None)


try:
    st, _, t = adm("POST", "", {"name": "k2"}, rid="rid-k-create")
    c.ok(st == 201, "create through node a", (st, t))
    st, _, rp = adm("POST", "/k2/tokens", {"scope": "reports"}, rid="rid-k-issue")
    c.ok(st == 201, "a reports token", (st, rp))
    rep_a = a.client("k2", token=rp["secret"])

    def recs(node_client, pred):
        st, _, j = node_client.raw("GET", "/reports/v1/k2/changes?count=1000", base=False)
        return [x for x in (j or {}).get("changes", []) if pred(x)] if st == 200 else []

    c.ok(wait_until(lambda: recs(rep_a, lambda x: x.get("requestId") == "rid-k-issue"
                                 and x.get("actor") == "operator"), 20),
         "the token issue names the operator and the request id")

    st, _, victim = adm("POST", "/k2/tokens", {})
    cb = b.client("k2", token=victim["secret"])
    c.ok(wait_until(lambda: cb.get("/Users?count=1")[0] == 200, 20), "the token works on node b")
    st, _, j = adm("DELETE", "/k2/tokens/" + victim["token_id"], rid="rid-k-revoke")
    t0 = time.time()
    c.ok(st == 200, "revoke through node a", (st, j))
    took = None
    while time.time() - t0 < 20:
        if cb.get("/Users?count=1", headers={"X-Request-Id": "rid-k-use"})[0] == 401:
            took = time.time() - t0
            break
        time.sleep(0.02)
    c.ok(took is not None, "node b refuses the revoked token", took)
    print("# revoked through node a, refused by node b after %.3f s (bound: fold of the admin topic + 1 s cache)"
          % (took or -1))
    hit = []
    c.ok(wait_until(lambda: hit.extend(recs(rep_a, lambda x: x.get("actor") == victim["token_id"]
                                            and x.get("verdict") == "refused")) or hit, 20),
         "node b's refusal is in node a's reports")
    c.ok(hit and hit[0]["eventAction"] == "access" and "was revoked" in hit[0]["detail"] and
         hit[0]["status"] == 401, "the record names the revoked token and why", hit[:1])
    rep_b = b.client("k2", token=rp["secret"])
    c.ok(wait_until(lambda: recs(rep_b, lambda x: x.get("requestId") == "rid-k-revoke"
                                 and x.get("eventAction") == "token_revoke"), 20),
         "node b's reports show the revocation made through node a")

    a.stop()
    b.stop()
    c.ok(a.digest() == b.digest(), "both nodes hold identical views")
finally:
    a.cleanup()
    b.cleanup()
    kafka.stop()
c.done()
