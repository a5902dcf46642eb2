"""1480 — Schema Registry interop: `--kafka-framing confluent
--schema-registry URL` registers the writer schema (subject
<topic>-value) with a registry (a small stub of its REST API here) and
frames every event in the Confluent wire format (0, schema id big-endian,
Avro datum); an independent reader (Debian's python3-avro, with the schema
the registry holds) decodes the topic's values. The consumer reads both
framings: an external producer's Confluent-framed event (an old writer
version registered by that producer) and a single-object one are folded;
a Confluent-framed value whose schema id is unknown, or whose schema is
none of ours, folds nothing and the projector goes on. Without
--schema-registry the option is refused."""
import io
import json
import os
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import avro.io
import avro.schema

from scimtest import Check, USER, cli, SRC, TMP
from kafkatest import DevKafka, Node, EventWriter, user_event, wait_until

c = Check()


class Registry:
    """The Confluent Schema Registry REST calls scimlog uses: POST
    /subjects/S/versions (same schema, same id) and GET /schemas/ids/N."""

    def __init__(self):
        self.schemas = []      # id - 1 -> schema text
        self.subjects = {}     # subject -> [ids]
        self.calls = []
        reg = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, st, obj):
                b = json.dumps(obj).encode()
                self.send_response(st)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                reg.calls.append(("POST", self.path, self.headers.get("Content-Type")))
                parts = self.path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
                    return self.answer(404, {"error_code": 404, "message": "not found"})
                self.answer(200, {"id": reg.register(parts[1], body["schema"])})

            def do_GET(self):
                reg.calls.append(("GET", self.path, None))
                hostile = {"/schemas/ids/7001": b"<html>not json</html>",
                           "/schemas/ids/7002": b'{"schema": "' + b"x" * 100000 + b'"}',
                           "/schemas/ids/7003": b'{"schema": 42}'}
                if self.path in hostile:   # a broken or hostile registry
                    b = hostile[self.path]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(b)))
                    self.end_headers()
                    self.wfile.write(b)
                    return
                parts = self.path.strip("/").split("/")
                if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit() \
                        and 1 <= int(parts[2]) <= len(reg.schemas):
                    return self.answer(200, {"schema": reg.schemas[int(parts[2]) - 1]})
                self.answer(404, {"error_code": 40403, "message": "Schema not found"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def register(self, subject, text):
        norm = json.dumps(json.loads(text), sort_keys=True)
        for i, t in enumerate(self.schemas):
            if json.dumps(json.loads(t), sort_keys=True) == norm:
                sid = i + 1
                break
        else:
            self.schemas.append(text)
            sid = len(self.schemas)
        self.subjects.setdefault(subject, [])
        if sid not in self.subjects[subject]:
            self.subjects[subject].append(sid)
        return sid

    def stop(self):
        self.httpd.shutdown()


def decode(schema_text, datum):
    s = avro.schema.parse(schema_text)
    return avro.io.DatumReader(s).read(avro.io.BinaryDecoder(io.BytesIO(datum)))


kafka = DevKafka(partitions=2)
reg = Registry()
try:
    # refused without a registry (checked before anything is written)
    # a dir of its own (a fixed path outside the test's tmp could hold a
    # store an older run left, refused for its views format first)
    p = cli("serve", "--data", os.path.join(tempfile.mkdtemp(prefix="e2e-1480-", dir=TMP), "absent"),
            "--kafka", kafka.bootstrap,
            "--kafka-framing", "confluent", check=False)
    c.ok(p.returncode != 0 and "--schema-registry" in p.stderr, "confluent framing without a registry is refused",
         p.stderr[-300:])
    p = cli("serve", "--kafka", kafka.bootstrap, "--kafka-framing", "protobuf", check=False)
    c.ok(p.returncode != 0 and "--kafka-framing" in p.stderr, "an unknown framing is refused", p.stderr[-300:])

    opts = ("--kafka-framing", "confluent", "--schema-registry", reg.url)
    node = Node(kafka, tenants=("t1",), extra=opts)
    node.start()
    cl = node.client("t1")
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "alice", "title": "Engineer"})
    c.ok(st == 201, "a write in confluent framing is answered 201", (st, u))
    c.ok("scim.events-value" in reg.subjects and "scim.admin-value" in reg.subjects,
         "the writer schema is registered under <topic>-value for both topics", reg.subjects)
    posts = [x for x in reg.calls if x[0] == "POST"]
    c.ok(posts and all(ct == "application/vnd.schemaregistry.v1+json" for _, _, ct in posts),
         "registration uses the registry's content type", posts)

    # 1. the topic holds Confluent-framed values, decoded by python3-avro
    msgs = kafka.messages("scim.events", 2)
    mine = [m for m in msgs if m[2] == "t1"]
    c.ok(mine and all(v[0] == 0 and len(v) > 5 for *_, v in mine), "every value starts with magic byte 0",
         [v[:6].hex() for *_, v in mine][:3])
    decoded = []
    for *_, v in mine:
        sid = int.from_bytes(v[1:5], "big")
        c.ok(sid in reg.subjects["scim.events-value"], "the schema id is the registered one", sid)
        decoded.append(decode(reg.schemas[sid - 1], v[5:]))
    ev = [d for d in decoded if d["action"] == "CREATE"]
    c.ok(len(ev) == 1 and ev[0]["tenant"] == "t1" and ev[0]["resource_id"] == u["id"]
         and json.loads(ev[0]["resource_json"])["userName"] == "alice",
         "python3-avro decodes the event with the registry's schema", decoded)
    # a tenant created by the CLI in confluent framing: its admin event is
    # framed too, and the node (which also read t1's single-object one)
    # folds it
    t2 = json.loads(cli("tenant", "create", "t2", "--data", os.path.join(node.root, "cli"),
                        "--kafka", kafka.bootstrap, *opts).stdout)
    framed = []
    for *_, v in kafka.messages("scim.admin", 1):
        if v[0] == 0:
            sid = int.from_bytes(v[1:5], "big")
            c.ok(sid in reg.subjects["scim.admin-value"], "admin schema id is the registered one", sid)
            framed.append(decode(reg.schemas[sid - 1], v[5:]))
    c.ok(any(d["action"] == "TENANT_CREATE" and d["tenant"] == "t2" for d in framed),
         "the admin topic's tenant event is Confluent-framed and decodes", framed)
    node.tokens["t2"] = t2
    c.ok(wait_until(lambda: node.client("t2").get("/Users")[0] == 200, timeout=60),
         "the node folds the framed tenant event: t2's token works")

    # 2. an external producer: an old writer version (v1) registered by it,
    #    Confluent-framed; and a single-object event: both folded
    w1 = EventWriter(version=1)
    with open(os.path.join(SRC, "schemas", "avro", "event.v1.avsc")) as f:
        v1_id = reg.register("scim.events-value", f.read())
    uid_c, uid_s = str(uuid.uuid4()), str(uuid.uuid4())
    body = w1.encode(user_event("t1", uid_c, "bob-confluent"))[10:]
    kafka.produce("t1", b"\x00" + v1_id.to_bytes(4, "big") + body)
    kafka.produce("t1", w1.encode(user_event("t1", uid_s, "carol-single-object")))
    ok = wait_until(lambda: cl.get("/Users/" + uid_c)[0] == 200 and cl.get("/Users/" + uid_s)[0] == 200, timeout=60)
    c.ok(ok, "a Confluent-framed event of an old version and a single-object event are both folded")
    c.ok(("GET", "/schemas/ids/%d" % v1_id, None) in reg.calls, "the unknown id was looked up in the registry")
    st, _, j = cl.get("/Users/" + uid_c)
    c.ok(st == 200 and j["userName"] == "bob-confluent", "the Confluent-framed user reads back", j)

    # 3. hostile values: an id the registry does not have, a schema that is
    #    none of ours, a truncated frame, ids the registry answers with
    #    garbage, 100 KB or a non-string schema: nothing folded
    other = reg.register("scim.events-value", json.dumps(
        {"type": "record", "name": "Other", "fields": [{"name": "x", "type": "string"}]}))
    bad_ids = [str(uuid.uuid4()) for _ in range(2)]
    kafka.produce("t1", b"\x00" + (9999).to_bytes(4, "big") +
                  w1.encode(user_event("t1", bad_ids[0], "nobody-1"))[10:])
    kafka.produce("t1", b"\x00" + other.to_bytes(4, "big") +
                  w1.encode(user_event("t1", bad_ids[1], "nobody-2"))[10:])
    kafka.produce("t1", b"\x00\x00\x01")
    for n, hid in enumerate((7001, 7002, 7003)):
        bad_ids.append(str(uuid.uuid4()))
        kafka.produce("t1", b"\x00" + hid.to_bytes(4, "big") +
                      w1.encode(user_event("t1", bad_ids[-1], "hostile-%d" % n))[10:])
    last = str(uuid.uuid4())
    kafka.produce("t1", w1.encode(user_event("t1", last, "after-bad")))
    c.ok(wait_until(lambda: cl.get("/Users/" + last)[0] == 200, timeout=60),
         "the projector goes on after the hostile values")
    c.ok(all(cl.get("/Users/" + b)[0] == 404 for b in bad_ids), "values with an unknown id or foreign schema fold nothing")
    st, _, j = cl.get("/Users?count=0")
    c.ok(st == 200 and j["totalResults"] == 4, "the tenant holds exactly the four users", j)

    # 4. a second node and a replay read the same topic to the same views
    node.stop()
    into = os.path.join(node.root, "replayed")
    p = cli("replay", "--kafka", kafka.bootstrap, "--schema-registry", reg.url, "--into", into, check=False)
    c.ok(p.returncode == 0, "replay of a Confluent-framed topic", p.stderr[-300:])
    d2 = json.loads(cli("digest", "--data", into).stdout)["digest"]
    c.ok(node.digest() == d2, "the replay's views equal the node's", (node.digest(), d2))
    node.cleanup()
finally:
    reg.stop()
    kafka.stop()
c.done()
