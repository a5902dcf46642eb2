"""1020 — events written to the topic by an external producer (here
devkafka's producer, with Avro bytes from an independent Python writer, for
every writer schema in schemas/avro) are
folded exactly like API writes: valid ones show up in reads on every node,
invalid ones (bad Avro, empty value, unknown tenant, broken precondition,
wrong key, a repeated event) are refused without crashing or stalling the
projector."""
import uuid
from scimtest import Check, USER
from kafkatest import DevKafka, Node, EventWriter, user_event, wait_until

c = Check()
kafka = DevKafka(partitions=2)
node = Node(kafka, tenants=("t1",))
node.start()
cl = node.client("t1")
w = EventWriter(1)

# 1. a valid create from outside the API shows up in reads
uid = str(uuid.uuid4())
ev = user_event("t1", uid, "external@example.com")
kafka.produce("t1", w.encode(ev))
c.ok(wait_until(lambda: cl.get("/Users/" + uid)[0] == 200, 20), "external create is folded and readable")
st, _, j = cl.get("/Users/" + uid)
c.ok(j.get("userName") == "external@example.com" and j["meta"]["version"] == 'W/"1"', "as the producer wrote it", j)

# 1b. every writer schema in schemas/avro stays readable over the topic
import glob, os, re
from kafkatest import SRC
versions = sorted(int(re.search(r"event\.v(\d+)\.avsc$", f).group(1))
                  for f in glob.glob(os.path.join(SRC, "schemas", "avro", "event.v*.avsc")))
c.ok(versions and versions[0] == 1, "schemas/avro holds event.v1.avsc onwards", versions)
for v in versions:
    vid = str(uuid.uuid4())
    kafka.produce("t1", EventWriter(v).encode(user_event("t1", vid, "writer-v%d" % v, schema_version=v)))
    c.ok(wait_until(lambda: cl.get("/Users/" + vid)[0] == 200, 20), "an event written with event.v%d.avsc is folded" % v)
    st, _, _ = cl.delete("/Users/" + vid)
    c.ok(st == 204, "and is a normal user afterwards (v%d)" % v, st)

# 2. garbage and contract violations: refused, nothing applied
bad_uid = str(uuid.uuid4())
kafka.produce("t1", b"\xc3\x01not avro at all")
kafka.produce("t1", b"")
kafka.produce("t1", b"\x00" * 64)
kafka.produce("nope", w.encode(user_event("nope", str(uuid.uuid4()), "x")))           # unknown tenant
kafka.produce("t1", w.encode(user_event("t1", bad_uid, "EXTERNAL@example.com")))     # userName taken
kafka.produce("t1", w.encode(user_event("t1", uid, "external@example.com",
                                        action="REPLACE", expect_version=9)))        # wrong version
kafka.produce("other", w.encode(user_event("t1", str(uuid.uuid4()), "wrongkey")))    # key != tenant
kafka.produce("t1", w.encode(ev))                                                   # the same event again
trunc = w.encode(user_event("t1", str(uuid.uuid4()), "trunc"))
kafka.produce("t1", trunc[:len(trunc) // 2])                                        # truncated datum

# 3. the projector is not stalled: an API write after the garbage answers
st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "after-garbage"})
c.ok(st == 201, "API write after the garbage is folded and answered", (st, j))
st, _, j = cl.get("/Users?count=0")
c.ok(j["totalResults"] == 2, "only the valid events applied", j["totalResults"])
st, _, j = cl.get("/Users/" + bad_uid)
c.ok(st == 404, "create with a taken userName was refused", st)
st, _, j = cl.get("/Users/" + uid)
c.ok(j["meta"]["version"] == 'W/"1"', "neither the stale REPLACE nor the repeated event applied", j["meta"])
st, _, j = cl.get("/Users?filter=userName%20eq%20%22wrongkey%22")
c.ok(j["totalResults"] == 0, "event with a key that is not its tenant refused", j)

# 4. a second node folding the same topic from scratch agrees
node2 = Node(kafka, tenants=(), tokens=node.tokens)
node2.start()
st, _, j = node2.client("t1").get("/Users?count=0")
c.ok(j["totalResults"] == 2, "a fresh node folds the same verdicts", j["totalResults"])
rc = node.stop()
c.ok(rc == 0, "node survived the garbage and stops cleanly", rc)
node2.stop()
c.ok(node.digest() == node2.digest(), "both nodes hold identical views", (node.digest(), node2.digest()))

node.cleanup()
node2.cleanup()
kafka.stop()
c.done()
