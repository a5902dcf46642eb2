"""1000 — Kafka mode, one node: `scimlog serve --kafka` against the mock
cluster. Writes go to the topic (key = tenant, headers event_type and
schema_fingerprint, the same single-object Avro bytes as the embedded log),
the node answers after its own projector folded them (read-your-writes),
consumed offsets persist with the views across a restart, and the views equal
a `replay --kafka` of the topic."""
import glob
import json
import os
import zlib
from scimtest import Check, USER, GROUP, SRC, cli, patch_body
from kafkatest import DevKafka, Node, EventWriter, wait_until

c = Check()
kafka = DevKafka(partitions=3)
node = Node(kafka, tenants=("t1", "t2"))
node.start()
cl = node.client("t1")

# 1. create answers 201 with the folded resource, readable at once
st, h, u = cl.post("/Users", {"schemas": [USER], "userName": "alice@example.com", "title": "eng"})
c.ok(st == 201 and u.get("userName") == "alice@example.com", "create answers 201", (st, u))
uid = u["id"]
st, _, j = cl.get("/Users/" + uid)
c.ok(st == 200 and j.get("title") == "eng", "read-your-writes: the user is readable at once", (st, j))

# 2. PUT, PATCH, conflicts, If-Match, DELETE: same verdicts as the embedded log
st, _, j = cl.put("/Users/" + uid, {"schemas": [USER], "userName": "alice@example.com", "title": "mgr"})
c.ok(st == 200 and j["meta"]["version"] == 'W/"2"', "PUT answers 200 at version 2", (st, j))
st, _, _ = cl.patch("/Users/" + uid, patch_body({"op": "replace", "path": "title", "value": "cto"}))
c.ok(st == 204, "PATCH answers 204", st)
st, _, j = cl.get("/Users/" + uid)
c.ok(j.get("title") == "cto" and j["meta"]["version"] == 'W/"3"', "PATCH folded before the answer", j)
st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "ALICE@example.com"})
c.error_body(st, j, 409, "uniqueness", "duplicate userName")
st, _, j = cl.patch("/Users/" + uid, patch_body({"op": "replace", "path": "title", "value": "x"}),
                    headers={"If-Match": 'W/"1"'})
c.error_body(st, j, 412, None, "stale If-Match")
st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "admins", "members": [{"value": uid}]})
c.ok(st == 201, "group create", (st, g))
st, _, j = cl.get("/Groups/" + g["id"])
c.ok(st == 200 and [m["value"] for m in j.get("members", [])] == [uid], "group members folded", j)
st, _, _ = cl.delete("/Groups/" + g["id"])
c.ok(st == 204, "group delete", st)
st, _, _ = cl.get("/Groups/" + g["id"])
c.ok(st == 404, "deleted group is gone", st)

# 3. tenants are isolated; the second tenant (created through the topic) works
cl2 = node.client("t2")
st, _, j = cl2.post("/Users", {"schemas": [USER], "userName": "alice@example.com"})
c.ok(st == 201, "same userName in another tenant", (st, j))
st, _, j = cl2.get("/Users/" + uid)
c.ok(st == 404, "tenant t2 cannot see t1's user", st)

# 4. the topic contract: key = tenant, headers, single-object Avro
# the current writer schema is the newest schemas/avro/event.vN.avsc
writer = EventWriter(len(glob.glob(os.path.join(SRC, "schemas", "avro", "event.v*.avsc"))))
part = zlib.crc32(b"t1") % 3   # librdkafka's default partitioner
# tenant and token events (with token hashes) are on the admin topic only
key, hdrs, value = kafka.read(0, 0, "scim.admin")
c.ok(key == "t1" and hdrs.get("event_type") == "TENANT_CREATE", "TENANT_CREATE is on the admin topic", (key, hdrs))
key, hdrs, value = kafka.read(0, 1, "scim.admin")
c.ok(key == "t1" and hdrs.get("event_type") == "TOKEN_ISSUE", "TOKEN_ISSUE is on the admin topic", (key, hdrs))
key, hdrs, value = kafka.read(part, 0)
c.ok(key == "t1", "message key is the tenant", key)
c.ok(hdrs.get("event_type") == "CREATE", "the data topic starts with the first write", hdrs)
c.ok(hdrs.get("schema_fingerprint") == "%016x" % writer.fingerprint, "schema_fingerprint header", hdrs)
c.ok(value[:2] == b"\xc3\x01" and value[2:10] == writer.fingerprint.to_bytes(8, "little"),
     "value is single-object encoded with the current writer fingerprint", value[:10].hex())
found = None
for off in range(0, 12):   # t1: the writes above
    key, hdrs, value = kafka.read(part, off)
    if uid.encode() in value:
        found = (key, hdrs)
        break
c.ok(found and found[0] == "t1" and found[1].get("event_type") == "CREATE", "the user's CREATE is on the topic", found)

# 5. restart: offsets were stored with the views, nothing is folded twice
for i in range(20):
    st, _, _ = cl.post("/Users", {"schemas": [USER], "userName": "u%d" % i})
    c.ok(st == 201, "bulk create %d" % i, st)
rc = node.stop()
c.ok(rc == 0, "clean stop", rc)
before = node.digest()
node.start()
cl = node.client("t1")
st, _, j = cl.get("/Users?count=0")
c.ok(j["totalResults"] == 21, "after restart every user once (no double fold)", j)
st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "after-restart"})
c.ok(st == 201, "writes after restart", st)
node.stop()
c.ok(node.digest() != before, "the new write changed the views", before)

# 5b. /metrics in Kafka mode: librdkafka's statistics (every second),
# parsed by an independent Prometheus parser
from prometheus_client.parser import text_string_to_metric_families
import http.client as _hc


def kscrape():
    conn = _hc.HTTPConnection("127.0.0.1", node.port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return {s.name + str(sorted(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


node.start()
got = {}
c.ok(wait_until(lambda: got.update(kscrape()) or got.get("scimlog_kafka_stats_age_seconds[]", -1) >= 0, 20),
     "librdkafka statistics reach /metrics", sorted(k for k in got if "kafka" in k))
c.ok(wait_until(lambda: got.update(kscrape()) or (got.get("scimlog_kafka_consumer_lag_messages[]") == 0
                                                   and got.get("scimlog_fold_lag_events[]") == 0
                                                   and got.get("scimlog_fold_lag_seconds[]") == 0), 20),
     "caught up: consumer lag and fold lag 0", {k: v for k, v in got.items() if "lag" in k})
c.ok("scimlog_kafka_producer_queue_messages[]" in got and
     "scimlog_kafka_errors_total[('kind', 'callback')]" in got, "producer queue and error counters present",
     sorted(k for k in got if "kafka" in k))
node.stop()

# 6. the views equal a rebuild from the topic
into = os.path.join(node.root, "replayed")
p = cli("replay", "--kafka", kafka.bootstrap, "--into", into)
c.ok(json.loads(p.stdout).get("events", 0) >= 30, "replay --kafka folded the topic", p.stdout)
d2 = json.loads(cli("digest", "--data", into).stdout)["digest"]
c.ok(node.digest() == d2, "views equal replay --kafka (same digest)", (node.digest(), d2))

node.cleanup()
kafka.stop()
c.done()
