"""1490 — partitions added to the data and admin topics while two nodes run.

librdkafka's mock cluster cannot grow a topic, so the topics are created
with 6 data / 3 admin partitions and kafkaproxy.py (between the nodes and
the mock brokers) shows only 3 / 1 of them, then reveals the rest while the
nodes serve. Checked: both nodes assign the new partitions (log line,
scimlog_kafka_partitions gauge) and fold what is written there; a tenant
keeps the partition it was pinned to at creation (the key hash for 3
partitions) while writes go on through both nodes, in order; tenants created
after the growth are pinned among 6 and readable on both nodes, including
ones an external producer creates on a new admin partition (a tenant's
admin events stay on its TENANT_CREATE's admin partition; one elsewhere is
refused); an unpinned
tenant (an older producer's TENANT_CREATE) is pinned with `tenant pin`;
events an external producer sends to a tenant's other partition (hashing
over 6) are refused on every node with a change record naming the pinned
partition, while one sent to the pinned partition is applied; the pin is in
GET /admin/v1/tenants/{t} and `tenant list --kafka`; both nodes' digests and
a replay's (reading every partition) are equal."""
import hashlib
import http.client
import json
import os
import time
import uuid
import zlib

from confluent_kafka import KafkaException, Producer

from scimtest import Check, USER, cli, patch_body
from kafkatest import DevKafka, Node, EventWriter, user_event, wait_until
from kafkaproxy import KafkaProxy

DATA, ADMIN = "scim.events", "scim.admin"
OLD, NEW = 3, 6          # data partitions before / after
OLD_A, NEW_A = 1, 3      # admin partitions before / after
REFRESH = ["--kafka-metadata-refresh", "300"]


def key_partition(name, count):
    """librdkafka's default partitioner for a key: CRC-32 modulo count."""
    return zlib.crc32(name.encode()) % count


def names(pred, prefix, n):
    out, i = [], 0
    while len(out) < n:
        cand = "%s%d" % (prefix, i)
        if pred(cand):
            out.append(cand)
        i += 1
    return out


# tenants created before the growth whose hash moves with 6 partitions
MOVED = names(lambda t: key_partition(t, OLD) != key_partition(t, NEW), "old", 3)
STAYS = names(lambda t: key_partition(t, OLD) == key_partition(t, NEW), "keep", 1)
# created after it: data on a new partition, admin event on a new one too
LATE = names(lambda t: key_partition(t, NEW) >= OLD and key_partition(t, NEW_A) >= OLD_A, "late", 2)
EXT = names(lambda t: key_partition(t, NEW_A) >= OLD_A, "ext", 1)[0]
LEGACY = "legacy0"

c = Check()
kafka = DevKafka(brokers=3, partitions=NEW, admin_partitions=NEW_A)
proxy = KafkaProxy(kafka.bootstrap, {DATA: OLD, ADMIN: OLD_A})


class Via:
    bootstrap = proxy.bootstrap


a = Node(Via, tenants=MOVED + STAYS, extra=REFRESH)
b = Node(Via, tenants=(), extra=REFRESH)
b.tokens = a.tokens  # one dict: tenants created later reach both
op_file = os.path.join(a.root, "operator.token")
OP = "op-" + "7" * 40
with open(op_file, "w") as f:
    f.write(OP)
a.extra += ["--operator-token-file", op_file]
a.start()
b.start()
ext = Producer({"bootstrap.servers": proxy.bootstrap, "log_level": 3,
                "topic.metadata.refresh.interval.ms": 300})
w3 = EventWriter(3)


def produce_to(topic, key, value, partition):
    """An external producer that picks the partition itself."""
    got = []
    deadline = time.time() + 60
    while True:
        try:
            ext.produce(topic, key=key.encode(), value=value, partition=partition,
                        on_delivery=lambda e, m: got.append((e, m.partition())))
            break
        except KafkaException:   # a partition its metadata does not show yet
            if time.time() > deadline:
                raise
            ext.poll(0.2)
    ext.flush(30)
    return got and got[0][0] is None


def admin_event(tenant, action, **kw):
    ev = {"event_id": str(uuid.uuid4()), "schema_version": 3, "tenant": tenant,
          "resource_type": "NONE", "action": action, "time_ms": int(time.time() * 1000),
          "actor": "external", "request_id": "", "expect_version": -1}
    ev.update(kw)
    return w3.encode(ev)


def write(cl, method, path, body=None, ok=(200, 201, 204)):
    """A write, retried while the node answers 503/429 (a node whose
    producer has not read the new partitions yet answers 503)."""
    deadline = time.time() + 60
    while True:
        st, h, j = cl.raw(method, path, body)
        if st in ok or st not in (429, 503) or time.time() > deadline:
            return st, h, j
        time.sleep(0.2)


def metric(node, name, labels):
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode(errors="replace")
    except OSError:
        return None
    finally:
        conn.close()
    for line in text.splitlines():
        if line.startswith(name + "{" + labels + "}"):
            return float(line.split()[-1])
    return None


def tenant_info(tenant):
    st, _, j = a.client("x", token=OP).raw("GET", "/admin/v1/tenants/" + tenant, base=False)
    return j if st == 200 else None


def diff(d1, d2):
    """Where two data dirs differ: the column families, and a few keys."""
    c1 = json.loads(cli("digest", "--data", d1).stdout)["columnFamilies"]
    c2 = json.loads(cli("digest", "--data", d2).stdout)["columnFamilies"]
    out = []
    for cf in sorted(set(c1) | set(c2)):
        if c1.get(cf) != c2.get(cf):
            l1 = set(cli("digest", "--data", d1, "--dump", cf).stdout.splitlines())
            l2 = set(cli("digest", "--data", d2, "--dump", cf).stdout.splitlines())
            out.append((cf, sorted(l1 - l2)[:3], sorted(l2 - l1)[:3]))
    return out


def refused(cl):
    st, _, j = cl.raw("GET", "/reports/v1/%s/changes?verdict=refused&count=100" % cl.tenant, base=False)
    return j.get("changes", []) if st == 200 else []


try:
    # 1. before: 3 data / 1 admin partitions; pins are the key hash over 3
    for n in (a, b):
        c.ok(wait_until(lambda: metric(n, "scimlog_kafka_partitions", 'topic="data"') == OLD, 30),
             "node on port %d reads %d data partitions" % (n.port, OLD))
    for t in MOVED + STAYS:
        info = tenant_info(t)
        c.ok(info and info.get("partition") == key_partition(t, OLD),
             "tenant %s pinned to the key hash over %d partitions" % (t, OLD), info)
    # an older producer's tenant: no pin in its TENANT_CREATE
    sec = "5" * 64
    c.ok(produce_to(ADMIN, LEGACY, admin_event(LEGACY, "TENANT_CREATE"), 0)
         and produce_to(ADMIN, LEGACY, admin_event(LEGACY, "TOKEN_ISSUE", token_id="1e9ac1e9ac1e9ac1",
                                                   token_hash=hashlib.sha256(sec.encode()).hexdigest()), 0),
         "external TENANT_CREATE without a pin")
    a.tokens[LEGACY] = {"secret": sec}
    c.ok(wait_until(lambda: tenant_info(LEGACY) is not None, 30), "unpinned tenant folded", tenant_info(LEGACY))
    c.ok("partition" not in (tenant_info(LEGACY) or {}), "it has no pin", tenant_info(LEGACY))
    out = json.loads(cli("tenant", "pin", "--data", a.data).stdout)
    c.ok({"tenant": LEGACY, "partition": key_partition(LEGACY, OLD)} in out.get("pinned", []),
         "`tenant pin` pins it to the key hash over today's count", out)
    c.ok(wait_until(lambda: (tenant_info(LEGACY) or {}).get("partition") == key_partition(LEGACY, OLD), 30),
         "and the pin is folded", tenant_info(LEGACY))

    # 2. writes before the growth: one user per tenant, PATCHed in turns
    users = {}
    ORDER = MOVED + STAYS + [LEGACY]
    for i, t in enumerate(ORDER):
        st, _, u = write((a if i % 2 else b).client(t), "POST", "/Users",
                         {"schemas": [USER], "userName": "u@" + t, "displayName": "v0"})
        c.ok(st == 201, "create in %s" % t, (st, u))
        users[t] = (u or {}).get("id", "missing")
    steps = {t: 0 for t in ORDER}

    def patch_round(tenants, k):
        for i, t in enumerate(tenants):
            node = a if (i + k) % 2 else b
            steps[t] = steps.get(t, 0) + 1
            st, _, j = write(node.client(t), "PATCH", "/Users/" + users[t],
                             patch_body({"op": "replace", "path": "displayName", "value": "v%d" % steps[t]}))
            c.ok(st in (200, 204), "patch %d of %s through node %d" % (steps[t], t, node.port), (st, j))

    for k in range(3):
        patch_round(ORDER, k)

    # 3. the growth: 6 data / 3 admin partitions appear
    proxy.reveal(DATA, NEW)
    proxy.reveal(ADMIN, NEW_A)
    for n in (a, b):
        c.ok(wait_until(lambda: metric(n, "scimlog_kafka_partitions", 'topic="data"') == NEW and
                        metric(n, "scimlog_kafka_partitions", 'topic="admin"') == NEW_A, 60),
             "node on port %d reads %d data and %d admin partitions" % (n.port, NEW, NEW_A))
        with open(os.path.join(n.root, "serve.log"), errors="replace") as f:
            log = f.read()
        c.ok("partition 5 of scim.events added" in log and "partition 2 of scim.admin added" in log,
             "node on port %d logs the partitions added" % n.port,
             [x for x in log.splitlines() if "partition" in x or "kafka" in x][-12:])

    # an operator's explicit pin: beyond the partitions, or another one
    # than the tenant's, is refused; the tenant's own pin is a no-op
    t0 = MOVED[0]
    st, _, j = a.client("x", token=OP).raw("PATCH", "/admin/v1/tenants/" + t0, {"partition": 99}, base=False)
    c.ok(st == 400 and "no partition 99" in (j or {}).get("detail", ""), "pin to partition 99 refused", (st, j))
    other = (key_partition(t0, OLD) + 1) % NEW
    st, _, j = a.client("x", token=OP).raw("PATCH", "/admin/v1/tenants/" + t0, {"partition": other}, base=False)
    c.ok(st in (400, 409) and "never changes" in (j or {}).get("detail", ""), "a different pin refused", (st, j))
    st, _, j = a.client("x", token=OP).raw("PATCH", "/admin/v1/tenants/" + t0,
                                           {"partition": key_partition(t0, OLD)}, base=False)
    c.ok(st == 200, "the same pin again is accepted", (st, j))

    # 4. writes go on: old tenants stay on their pinned partitions
    for k in range(3, 6):
        patch_round(ORDER, k)
    for t in MOVED + STAYS + [LEGACY]:
        c.ok(tenant_info(t).get("partition") == key_partition(t, OLD), "%s keeps its pin" % t, tenant_info(t))

    # 5. tenants created after the growth: pinned among 6, admin events on
    #    the new admin partitions, readable through both nodes
    for t in LATE:
        a.tokens[t] = json.loads(cli("tenant", "create", t, "--data", a.data).stdout)
        c.ok((tenant_info(t) or {}).get("partition") == key_partition(t, NEW),
             "new tenant %s pinned to the key hash over %d partitions" % (t, NEW), tenant_info(t))
    sec2 = "6" * 64
    c.ok(produce_to(ADMIN, EXT, admin_event(EXT, "TENANT_CREATE",
                                            admin_json=json.dumps({"partition": key_partition(EXT, NEW)})),
                    key_partition(EXT, NEW_A))
         and produce_to(ADMIN, EXT, admin_event(EXT, "TOKEN_ISSUE", token_id="e7e7e7e7e7e7e7e7",
                                                token_hash=hashlib.sha256(sec2.encode()).hexdigest()),
                        key_partition(EXT, NEW_A)),
         "external tenant created on admin partition %d" % key_partition(EXT, NEW_A))
    a.tokens[EXT] = {"secret": sec2}
    for t in LATE + [EXT]:
        for n in (a, b):
            c.ok(wait_until(lambda: n.client(t).get("/Users?count=0")[0] == 200, 60),
                 "node on port %d knows %s" % (n.port, t))
        st, _, u = write((b if t == LATE[0] else a).client(t), "POST", "/Users",
                         {"schemas": [USER], "userName": "u@" + t, "displayName": "v0"})
        c.ok(st == 201, "create in new tenant %s" % t, (st, u))
        users[t] = (u or {}).get("id", "missing")
    LATER = LATE + [EXT]
    for k in range(4):
        patch_round(LATER, k)
    lows = [kafka.watermark(p, DATA)[1] for p in range(OLD, NEW)]
    c.ok(sum(lows) > 0, "events were written to the new data partitions", lows)
    c.ok(sum(kafka.watermark(p, ADMIN)[1] for p in range(OLD_A, NEW_A)) > 0,
         "and to the new admin partitions")

    # 6. external producers: hashing over 6 sends a moved tenant's event to
    #    another partition (refused everywhere); the pinned one is applied
    w1 = EventWriter(1)
    stray = {}
    for t in MOVED:
        uid = str(uuid.uuid4())
        p, _ = kafka.produce(t, w1.encode(user_event(t, uid, "stray@" + t)))
        c.ok(p == key_partition(t, NEW) and p != key_partition(t, OLD),
             "external event of %s went to partition %d (hash over 6)" % (t, p), p)
        stray[t] = (uid, p)
    # an admin event on another admin partition than the tenant's
    # TENANT_CREATE (0 here): refused as for an unknown tenant, everywhere
    sec3 = "8" * 64
    c.ok(produce_to(ADMIN, MOVED[0], admin_event(MOVED[0], "TOKEN_ISSUE", token_id="a5a5a5a5a5a5a5a5",
                                                 token_hash=hashlib.sha256(sec3.encode()).hexdigest()), 2),
         "external token event on admin partition 2")
    good = str(uuid.uuid4())
    c.ok(produce_to(DATA, MOVED[0], w1.encode(user_event(MOVED[0], good, "pinned@" + MOVED[0])),
                    key_partition(MOVED[0], OLD)), "external event sent to the pinned partition")
    for n in (a, b):
        c.ok(wait_until(lambda: n.client(MOVED[0]).get("/Users/" + good)[0] == 200, 60),
             "node on port %d applies the event on the pinned partition" % n.port)
        for t, (uid, p) in stray.items():
            def named():
                return [r for r in refused(n.client(t))
                        if "pinned to partition %d" % key_partition(t, OLD) in (r.get("detail") or "")
                        and "from partition %d" % p in (r.get("detail") or "")]
            c.ok(wait_until(lambda: len(named()) == 1, 60),
                 "node on port %d records the stray event of %s as refused, naming partition %d"
                 % (n.port, t, key_partition(t, OLD)), refused(n.client(t))[:2])
            c.ok(n.client(t).get("/Users/" + uid)[0] == 404, "and never applies it (%s)" % t)
        c.ok(wait_until(lambda: any("does not exist on partition 2 of the admin topic" in (r.get("detail") or "")
                                    for r in refused(n.client(MOVED[0]))), 60),
             "node on port %d refuses the admin event off the tenant's admin partition" % n.port)
        c.ok(n.client(MOVED[0], token=sec3).get("/Users")[0] == 401, "and its token does not authenticate")

    # 7. every tenant's writes applied in order, the same on both nodes
    for t in ORDER + LATER:
        for n in (a, b):
            want = "v%d" % steps[t]
            c.ok(wait_until(lambda: n.client(t).get("/Users/" + users[t])[2].get("displayName") == want, 60),
                 "node on port %d: %s ends at %s" % (n.port, t, want), n.client(t).get("/Users/" + users[t])[2])
            st, _, j = n.client(t).get("/Users/" + users[t])
            c.ok(j.get("meta", {}).get("version") == 'W/"%d"' % (steps[t] + 1),
                 "every write of %s applied once" % t, j.get("meta"))

    # 8. the pin for external producers: `tenant list --kafka` on a fresh dir
    fresh = os.path.join(b.root, "listdir")
    lst = json.loads(cli("tenant", "list", "--data", fresh, "--kafka", proxy.bootstrap).stdout)
    pins = {x["tenant"]: x.get("partition") for x in lst}
    c.ok(all(pins.get(t) == key_partition(t, OLD) for t in MOVED + STAYS + [LEGACY]) and
         all(pins.get(t) == key_partition(t, NEW) for t in LATER),
         "tenant list --kafka shows every pin", pins)
    apins = {x["tenant"]: x.get("adminPartition") for x in lst}
    c.ok(all(apins.get(t) == 0 for t in MOVED + STAYS + [LEGACY]) and apins.get(EXT) == key_partition(EXT, NEW_A)
         and all(apins.get(t) in range(NEW_A) for t in LATE),
         "and the admin partition of every tenant's TENANT_CREATE", apins)
    # `tenant pin --kafka` without a server: folds the topics first, then
    # finds nothing left to pin; embedded mode has no partitions
    out = json.loads(cli("tenant", "pin", "--data", os.path.join(b.root, "pindir"),
                         "--kafka", proxy.bootstrap).stdout)
    c.ok(out == {"pinned": []}, "tenant pin --kafka: every tenant is pinned already", out)
    emb = cli("tenant", "pin", "--data", os.path.join(b.root, "embedded"), check=False)
    c.ok(emb.returncode == 1 and "Kafka mode" in emb.stderr, "tenant pin in embedded mode refused",
         (emb.returncode, emb.stderr))
    c.ok(proxy.uncapped == 0 and proxy.metadata_seen > 0, "every Metadata answer went through the proxy's rewrite",
         (proxy.uncapped, proxy.metadata_seen))

    # 9. convergence: both nodes and a replay of every partition agree
    for n in (a, b):
        c.ok(n.stop() == 0, "node on port %d stops cleanly" % n.port)
        n.start()
        n.stop()
    da, db = a.digest(), b.digest()
    c.ok(da == db, "both nodes hold identical views", (da, db))
    for i, src in enumerate((proxy.bootstrap, kafka.bootstrap)):
        into = os.path.join(a.root, "replayed-%d" % i)
        cli("replay", "--kafka", src, "--into", into)
        dr = json.loads(cli("digest", "--data", into).stdout)["digest"]
        c.ok(dr == da, "a replay into a new dir gives the same views", (dr, da) if dr == da else diff(a.data, into))
finally:
    a.cleanup()
    b.cleanup()
    proxy.stop()
    kafka.stop()
c.done()
