"""1010 — two `scimlog serve --kafka` nodes on one topic, each with its own
RocksDB: a write through one node shows up on the other; concurrent
conflicting creates (same userName) through different nodes end with exactly
one 201 and 409 for the rest; concurrent PATCHes without If-Match on one user
through both nodes all land; afterwards both nodes (and a replay of the
topic) hold identical views (equal digests)."""
import json
import os
import threading
from scimtest import Check, USER, cli, patch_body
from kafkatest import DevKafka, Node, wait_until

c = Check()
kafka = DevKafka(partitions=3)
a = Node(kafka, tenants=("t1", "t2"))
b = Node(kafka, tenants=(), tokens=a.tokens)   # tenants reach b through the topic
a.start()
b.start()
ca, cb = a.client("t1"), b.client("t1")

# 1. a write on node a is readable on node b once b has folded it
st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "shared@example.com"})
c.ok(st == 201, "create through node a", (st, u))
c.ok(wait_until(lambda: cb.get("/Users/" + u["id"])[0] == 200, 20), "node b folds node a's write")
st, _, j = cb.post("/Users", {"schemas": [USER], "userName": "SHARED@example.com"})
c.error_body(st, j, 409, "uniqueness", "node b refuses a userName taken through node a")

# 2. racing creates of the same userName through both nodes
ROUNDS, PER_NODE = 25, 2
results = {}
lock = threading.Lock()


def racer(node, name, barrier):
    cl = node.client("t1")
    barrier.wait()
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": name})
    with lock:
        results.setdefault(name, []).append((st, j.get("scimType") if isinstance(j, dict) else None))


for r in range(ROUNDS):
    name = "race-%d" % r
    barrier = threading.Barrier(2 * PER_NODE)
    ts = [threading.Thread(target=racer, args=(n, name, barrier)) for n in (a, b) for _ in range(PER_NODE)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
bad = {n: r for n, r in results.items()
       if sorted(s for s, _ in r) != [201] + [409] * (2 * PER_NODE - 1)
       or any(s == 409 and t != "uniqueness" for s, t in r)}
c.ok(len(results) == ROUNDS and not bad, "every race: exactly one 201, the others 409 uniqueness", list(bad.items())[:3])

# 3. both nodes see exactly one user per raced name
for node in (a, b):
    cl = node.client("t1")
    ok = wait_until(lambda: cl.get('/Users?filter=userName%20sw%20%22race-%22&count=0')[2]["totalResults"] == ROUNDS, 20)
    c.ok(ok, "node on port %d holds one user per raced name" % node.port)

# 4. concurrent PATCH without If-Match through both nodes: all land
st, _, u = ca.post("/Users", {"schemas": [USER], "userName": "patched", "emails": []})
uid = u["id"]
c.ok(wait_until(lambda: cb.get("/Users/" + uid)[0] == 200, 20), "node b sees the patched user")
statuses = []


def patcher(node, i):
    cl = node.client("t1")
    for k in range(5):
        st, _, _ = cl.patch("/Users/" + uid, patch_body(
            {"op": "add", "path": "emails", "value": [{"value": "n%d-%d@x" % (i, k)}]}))
        with lock:
            statuses.append(st)


ts = [threading.Thread(target=patcher, args=(n, i)) for i, n in enumerate((a, b, a, b))]
for t in ts:
    t.start()
for t in ts:
    t.join(timeout=120)
c.ok(statuses == [204] * 20, "20 racing PATCHes answered 204 (version races re-prepared)", statuses)
# the last PATCH may have been answered by the other node: each node holds
# it once its own projector has folded it (read-your-writes is per node)
for node in (a, b):
    cl = node.client("t1")
    c.ok(wait_until(lambda: cl.get("/Users/" + uid)[2]["meta"]["version"] == 'W/"21"', 20),
         "node on port %d folded all 20 PATCHes" % node.port)
st, _, j = ca.get("/Users/" + uid)
c.ok(len(j.get("emails", [])) == 20 and j["meta"]["version"] == 'W/"21"', "every PATCH applied once", j.get("meta"))

# 5. convergence: after both caught up, identical views (and equal to a replay)
ca.post("/Users", {"schemas": [USER], "userName": "last-a"})
cb.post("/Users", {"schemas": [USER], "userName": "last-b"})
for node in (a, b):
    node.stop()
    node.start()   # a start catches up with the whole topic before serving
    node.stop()
da, db = a.digest(), b.digest()
c.ok(da == db, "both nodes converge to identical views", (da, db))
into = os.path.join(a.root, "replayed")
cli("replay", "--kafka", kafka.bootstrap, "--into", into)
dr = json.loads(cli("digest", "--data", into).stdout)["digest"]
c.ok(dr == da, "a replay of the topic gives the same views", (dr, da))

a.cleanup()
b.cleanup()
kafka.stop()
c.done()
