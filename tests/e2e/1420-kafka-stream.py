"""1420 — the change stream in Kafka mode, two nodes: positions are the
same on every node (partition << 48 | offset + 1), so a consumer follows
node b while writes go to node a, keeps its position across b's restart,
moves to node a, survives a's kill -9, and ends equal to both nodes' SCIM
views; a refused duplicate create is flagged; both nodes serve the same
records at the same positions."""
import http.client
import random
import threading
import time
from scimtest import Check, USER
from kafkatest import DevKafka, Node, wait_until
from streamtest import Mirror, Workload

c = Check()
kafka = DevKafka(partitions=3)
a = Node(kafka, tenants=("t1",))
a.start()
b = Node(kafka, tenants=(), tokens=a.tokens)
b.start()
secret = a.tokens["t1"]["secret"]


class Follower(threading.Thread):
    def __init__(self, mirror):
        super().__init__(daemon=True)
        self.m, self.stop, self.node, self.reconnects = mirror, False, b, 0

    def run(self):
        while not self.stop:
            try:
                self.m.poll(self.node.port, wait=1)
            except (OSError, http.client.HTTPException, RuntimeError, TypeError):
                self.reconnects += 1
                time.sleep(0.1)


def drain(m, port):
    empty = 0
    for _ in range(300):
        empty = empty + 1 if m.poll(port, wait=0) == 0 else 0
        if empty >= 3:
            return True
        time.sleep(0.05)
    return False


try:
    m = Mirror("t1", secret)
    f = Follower(m)
    f.start()
    wl = Workload(random.Random(1420))
    cl = a.client("t1")
    for phase in range(3):
        for _ in range(50):
            wl.step(cl)
        if phase == 0:
            b.stop()
            b.start()
            f.node = a          # same positions on every node
        elif phase == 1:
            a.kill9()
            a.start()
            cl = a.client("t1")
    f.stop = True
    f.join(10)
    # node b must have folded everything node a answered before comparing
    st, _, last = cl.post("/Users", {"schemas": [USER], "userName": "final@example.com"})
    c.ok(st == 201, "a last write", st)
    cb = b.client("t1")
    c.ok(wait_until(lambda: cb.get("/Users/" + last["id"])[0] == 200, 30), "node b folded the last write")
    c.ok(drain(m, b.port), "the consumer caught up on node b")
    for node in (a, b):
        diffs = m.diff(node.client("t1"))
        c.ok(not diffs, "the mirror equals node %d's SCIM view" % node.port, diffs[:5])
    c.ok(not m.errors, "every record kept the contract", m.errors[:5])
    c.ok(f.reconnects > 0, "the consumer reconnected", f.reconnects)
    c.ok(any(r["refused"]["status"] == 409 for r in m.refused), "refusals are flagged", len(m.refused))
    c.ok(m.pos >> 48 < 3 and m.pos & ((1 << 48) - 1) > 0, "positions are Kafka positions", m.pos)
    ma, mb = Mirror("t1", secret), Mirror("t1", secret)
    drain(ma, a.port)
    drain(mb, b.port)
    c.ok(ma.records == mb.records == m.records and ma.pos == mb.pos == m.pos,
         "both nodes serve the same stream", (ma.records, mb.records, m.records))
finally:
    a.cleanup()
    b.cleanup()
    kafka.stop()
c.done()
