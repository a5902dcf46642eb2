"""1481 — Schema Registry at start: a registry that is down (nothing
listening), answers an error status, answers without a usable id, or
accepts the connection and never answers, makes `scimlog serve
--kafka-framing confluent` (and the CLI that writes admin events) exit
non-zero with an error naming the registry and what went wrong — within
the bounded registration timeout, never a server that writes unframed.
The two options are also config-file keys: a node started from a config
file frames its events in the Confluent wire format, and an independent
reader (python3-avro, with the schema the registry holds for the id in
each value's header) decodes every event written over SCIM to the
resource state the SCIM API answers."""
import io
import json
import os
import socket
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import avro.io
import avro.schema

from scimtest import Check, USER, BIN, TMP
from kafkatest import DevKafka, Node

c = Check()


class Registry:
    """POST /subjects/S/versions and GET /schemas/ids/N; `mode` makes it
    misbehave: "500", "no-id", "hang" (answers only once released)."""

    def __init__(self, mode="ok"):
        self.mode = mode
        self.schemas = []
        self.subjects = {}
        self.release = threading.Event()
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
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                if reg.mode == "hang":
                    reg.release.wait(300)
                    return
                if reg.mode == "500":
                    return self.answer(500, {"error_code": 50001, "message": "store unavailable"})
                if reg.mode == "no-id":
                    return self.answer(200, {"id": "one"})
                parts = self.path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
                    return self.answer(404, {"error_code": 404, "message": "not found"})
                if body["schema"] not in reg.schemas:
                    reg.schemas.append(body["schema"])
                sid = reg.schemas.index(body["schema"]) + 1
                reg.subjects.setdefault(parts[1], set()).add(sid)
                self.answer(200, {"id": sid})

            def do_GET(self):
                parts = self.path.strip("/").split("/")
                if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit() \
                        and 1 <= int(parts[2]) <= len(reg.schemas):
                    return self.answer(200, {"schema": reg.schemas[int(parts[2]) - 1]})
                self.answer(404, {"error_code": 40403, "message": "Schema not found"})

        ThreadingHTTPServer.daemon_threads = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def serve_fails(kafka, url, label, expect):
    """Starts serve against the registry at url: it must exit non-zero
    (bounded: the subprocess timeout is far above the registry timeout)
    with an error naming the registry and `expect`."""
    root = tempfile.mkdtemp(prefix="e2e-1481-", dir=TMP)
    try:
        p = subprocess.run([BIN, "serve", "--data", os.path.join(root, "data"), "--listen",
                            "127.0.0.1:%d" % closed_port(), "--kafka", kafka.bootstrap,
                            "--kafka-framing", "confluent", "--schema-registry", url],
                           capture_output=True, text=True, timeout=180)
        timed_out = False
    except subprocess.TimeoutExpired as e:
        p, timed_out = e, True
    err = p.stderr if isinstance(p.stderr, str) else (p.stderr or b"").decode(errors="replace")
    c.ok(not timed_out and p.returncode != 0, "%s: serve exits with an error" % label,
         (None if timed_out else p.returncode, err[-300:]))
    c.ok(url in err and expect.lower() in err.lower(), "%s: the error names the registry and %r" % (label, expect),
         err[-300:])
    # the CLI that writes an admin event refuses the same way
    p = subprocess.run([BIN, "tenant", "create", "tx", "--data", os.path.join(root, "cli"), "--kafka",
                        kafka.bootstrap, "--kafka-framing", "confluent", "--schema-registry", url],
                       capture_output=True, text=True, timeout=180)
    c.ok(p.returncode != 0 and url in p.stderr, "%s: tenant create refuses too" % label, p.stderr[-300:])
    return err


def decode(schema_text, datum):
    s = avro.schema.parse(schema_text)
    return avro.io.DatumReader(s).read(avro.io.BinaryDecoder(io.BytesIO(datum)))


kafka = DevKafka(partitions=2)
regs = []
try:
    # 1. registries that do not register: each a clear startup error
    serve_fails(kafka, "http://127.0.0.1:%d" % closed_port(), "registry down", "schema registry")
    for mode, expect in (("500", "answered 500"), ("no-id", "no schema id"), ("hang", "timeout")):
        r = Registry(mode)
        regs.append(r)
        serve_fails(kafka, r.url, "registry " + mode, expect)
    before = kafka.messages("scim.events", 2) + kafka.messages("scim.admin", 1)
    c.ok(not before, "nothing was written to the topics by the refused starts", len(before))

    # 2. the options as config-file keys; events decoded by python3-avro
    reg = Registry()
    regs.append(reg)
    node = Node(kafka, tenants=("t1",))
    conf = os.path.join(node.root, "scimlog.conf")
    with open(conf, "w") as f:
        f.write("# Confluent framing from the config file\nkafka-framing = confluent\n"
                "schema-registry = \"%s\"\n" % reg.url)
    node.extra += ["--config", conf]
    node.start()
    cl = node.client("t1")
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "dana", "title": "Analyst"})
    c.ok(st == 201, "a write is answered 201", (st, u))
    st, _, u2 = cl.patch("/Users/" + u["id"], {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]})
    c.ok(st == 204 or (st == 200 and u2["title"] == "Lead"), "a patch is answered", (st, u2))
    st, _, v = cl.post("/Users", {"schemas": [USER], "userName": "erik"})
    st_d, _, _ = cl.delete("/Users/" + v["id"])
    c.ok(st == 201 and st_d == 204, "a create and delete are answered", (st, st_d))
    c.ok("scim.events-value" in reg.subjects, "registered under scim.events-value from the config file", reg.subjects)

    mine = [m for m in kafka.messages("scim.events", 2) if m[2] == "t1"]
    c.ok(len(mine) == 4 and all(val[0] == 0 and len(val) > 5 for *_, val in mine),
         "the four events are Confluent-framed (magic byte 0)", [val[:6].hex() for *_, val in mine])
    decoded = []
    for *_, val in mine:
        sid = int.from_bytes(val[1:5], "big")
        c.ok(sid in reg.subjects.get("scim.events-value", ()), "the header's id is the registered one", sid)
        decoded.append(decode(reg.schemas[sid - 1], val[5:]))
    by = {}
    for d in decoded:
        by.setdefault((d["resource_id"], d["action"]), d)
    got = {k[1] for k in by if k[0] == u["id"]}
    c.ok({"CREATE"} <= got and len([d for d in decoded if d["resource_id"] == u["id"]]) == 2,
         "two events for dana (create, then the patch)", sorted(k for k in by))
    c.ok((v["id"], "DELETE") in by and (v["id"], "CREATE") in by, "erik's create and delete are on the topic",
         sorted(k for k in by))
    first = by[(u["id"], "CREATE")]
    c.ok(json.loads(first["resource_json"])["userName"] == "dana" and first["tenant"] == "t1",
         "the decoded create carries what was written over SCIM", first)
    dana = [d for d in decoded if d["resource_id"] == u["id"]]
    st, _, now = cl.get("/Users/" + u["id"])
    last = dana[-1]
    blob = json.dumps(last, default=str)
    c.ok(st == 200 and now["title"] == "Lead" and "Lead" in blob,
         "the decoded patch event carries the new title the API answers", (now.get("title"), last))
    node.cleanup()
finally:
    for r in regs:
        r.stop()
    kafka.stop()
c.done()
