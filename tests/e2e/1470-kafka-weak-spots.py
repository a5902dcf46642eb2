"""1470 — Kafka weak spots, against the mock cluster: during a broker
outage longer than the wait bound every write sent while the brokers are
down is answered 503 with Retry-After (their count is asserted) and every
write answered 201 around it is there after recovery; a tiny producer queue
(queue.buffering.max.messages via --kafka-config) answers 429 with
Retry-After when full; a fatal error of the idempotent producer (a produce
answered "out of order sequence number", which librdkafka treats as fatal
for a non-transactional idempotent producer) replaces the producer, and writes work again
without restarting the server."""
import os
import tempfile
import threading
import time
from scimtest import Check, USER, TMP
from kafkatest import DevKafka, Node, wait_until

c = Check()
kafka = DevKafka(brokers=3, partitions=3)
acked = {}      # (node, userName) -> id
lock = threading.Lock()
bad = []


def post_user(node, name):
    st, h, j = node.client(node.tenant).post("/Users", {"schemas": [USER], "userName": name})
    if st == 201:
        with lock:
            acked[(node.root, name)] = j["id"]
    elif st in (503, 429):
        if "retry-after" not in h:
            with lock:
                bad.append(("no Retry-After", name, st, j))
    else:
        with lock:
            bad.append((name, st, j))
    return st, h


def write_again(node, prefix):
    """Polls (bounded) until a write is answered 201 again."""
    n = [0]

    def once():
        n[0] += 1
        st, _ = post_user(node, "%s-%d" % (prefix, n[0]))
        return st == 201
    return wait_until(once, timeout=60, step=0.5)


def verify(node, label):
    wrong = []
    for (root, name), uid in sorted(acked.items()):
        if root != node.root:
            continue
        st, _, j = node.client(node.tenant).get("/Users/" + uid)
        if st != 200 or j.get("userName") != name:
            wrong.append((name, st))
    mine = sum(1 for (root, _) in acked if root == node.root)
    c.ok(mine > 0 and not wrong, "%s: every write answered 201 is present (%d)" % (label, mine), wrong[:3])
    c.ok(not bad, "%s: answers are 201, or 503/429 with Retry-After" % label, bad[:3])


try:
    # 1. a long outage: writers before, during and after; probes sent while
    #    every broker is down are each answered 503 with Retry-After
    node = Node(kafka, tenants=("t1",))
    node.tenant = "t1"
    node.start()
    stop = threading.Event()

    def writer(w):
        i = 0
        while not stop.is_set() and i < 200:
            i += 1
            try:
                post_user(node, "bg-w%d-%d" % (w, i))
            except Exception as e:
                bad.append(("writer", repr(e)))
                return

    ws = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(2)]
    for t in ws:
        t.start()
    wait_until(lambda: len(acked) >= 5, timeout=60)
    kafka.cmd("down -1")
    probes = {}

    def probe(n):
        probes[n] = post_user(node, "probe-%d" % n)

    ps = [threading.Thread(target=probe, args=(n,), daemon=True) for n in range(6)]
    for t in ps:
        t.start()
    for t in ps:
        t.join(timeout=120)
    # the brokers stay down until every probe has its answer (3 s produce
    # timeout, 6 s wait bound): the outage outlasts both
    kafka.cmd("up -1")
    n503 = sum(1 for st, h in probes.values() if st == 503 and "retry-after" in h)
    c.ok(len(probes) == 6 and n503 == 6, "outage: all 6 writes sent while the brokers were down answered 503 "
         "with Retry-After", probes)
    c.ok(write_again(node, "after-outage"), "outage: writes are answered 201 again after recovery")
    stop.set()
    for t in ws:
        t.join(timeout=120)
    verify(node, "outage")
    node.stop()
    node.cleanup()

    # 2. the queue-full path: a one-message producer queue, brokers down
    conf = os.path.join(tempfile.mkdtemp(prefix="e2e-1470-", dir=TMP), "tiny.properties")
    with open(conf, "w") as f:
        f.write("# a producer queue of one message\nqueue.buffering.max.messages=1\n")
    node = Node(kafka, tenants=("t2",), extra=("--kafka-config", conf))
    node.tenant = "t2"
    node.start()
    c.ok(post_user(node, "q-first")[0] == 201, "tiny queue: a write with the brokers up is answered 201")
    kafka.cmd("down -1")
    first = {}
    t = threading.Thread(target=lambda: first.update(a=post_user(node, "q-held")), daemon=True)
    t.start()
    seen = []
    # while the held write occupies the only queue slot (until its 3 s
    # produce timeout), further writes find the queue full
    for i in range(200):
        st, h = post_user(node, "q-more-%d" % i)
        seen.append(st)
        if st == 429 or not t.is_alive():
            break
        time.sleep(0.02)
    t.join(timeout=60)
    kafka.cmd("up -1")
    # whichever of the held write and the others reached the queue first
    # holds the slot (503 after the produce timeout); the others found it full
    during = seen + [first.get("a", (0,))[0]]
    c.ok(429 in during, "tiny queue: a write finding the producer queue full is answered 429 with Retry-After",
         (during[-5:], first))
    c.ok(all(s in (429, 503) for s in during) and 503 in during,
         "tiny queue: the writes during the outage are answered 429 or 503", (during[-5:], first))
    c.ok(write_again(node, "q-after"), "tiny queue: writes are answered 201 after recovery")
    verify(node, "tiny queue")
    node.stop()
    node.cleanup()

    # 3. a fatal producer error: the broker answers a produce with a
    #    sequence desynchronisation (the partition already holds f-first, so
    #    the sequence is not the first); the node replaces its producer
    node = Node(kafka, tenants=("t3",))
    node.tenant = "t3"
    node.start()
    c.ok(post_user(node, "f-first")[0] == 201, "fatal: a write before the error is answered 201")
    kafka.cmd("errors produce 1 OUT_OF_ORDER_SEQUENCE_NUMBER")
    st, h = post_user(node, "f-fenced")
    c.ok(st == 503 and "retry-after" in h, "fatal: the write that met the fatal error is answered 503 "
         "with Retry-After", st)
    c.ok(write_again(node, "f-after"), "fatal: writes are answered 201 again without a restart")
    with open(os.path.join(node.root, "serve.log"), errors="replace") as f:
        log = f.read()
    c.ok("kafka producer failed" in log and "kafka producer replaced after a fatal error" in log,
         "fatal: the server reported the fatal error and the new producer")
    c.ok(node.proc.poll() is None, "fatal: the same server process still runs")
    verify(node, "fatal")
    node.stop()
    node.cleanup()
finally:
    kafka.stop()
c.done()
