"""kafkatest — helpers for scimlog's Kafka-mode end-to-end tests: start
scimlog-devkafka (librdkafka's mock cluster over TCP on loopback), drive its
fault injection, start `scimlog serve --kafka` nodes, and encode events as an
external producer would (a small Avro writer driven by the .avsc, written
independently of the C codec). Stdlib only, every loop bounded."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import scimtest
from scimtest import BIN, TMP, SRC, cli

DEVKAFKA = os.environ.get("SCIMLOG_DEVKAFKA_BIN",
                          os.path.join(os.path.dirname(BIN), "scimlog-devkafka"))
TOPIC = "scim.events"


class DevKafka:
    """A mock Kafka cluster in a child process, controlled over stdin."""

    def __init__(self, brokers=3, partitions=3, admin_partitions=1):
        os.makedirs(TMP, exist_ok=True)
        self.proc = subprocess.Popen([DEVKAFKA, "--brokers", str(brokers), "--partitions", str(partitions),
                                      "--admin-partitions", str(admin_partitions)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if not line.startswith("bootstrap "):
            raise RuntimeError("devkafka did not start: %r" % line)
        self.bootstrap = line.split()[1]

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline().strip()
        if not out.startswith("ok"):
            raise RuntimeError("devkafka %r: %s" % (line, out))
        return out[2:].strip()

    def produce(self, key, data, topic=None):
        p, o = self.cmd("produce %s %s%s" % (key, data.hex(), " " + topic if topic else "")).split()
        return int(p), int(o)

    def read(self, partition, offset, topic=None):
        parts = self.cmd("read %d %d%s" % (partition, offset, " " + topic if topic else "")).split(" ")
        key, headers, value = (parts + [""])[:3]   # a tombstone has no value
        hdrs = dict(h.split("=", 1) for h in headers.split(",")) if headers != "-" else {}
        return key, hdrs, bytes.fromhex(value)

    def watermark(self, partition, topic=None):
        lo, hi = self.cmd("watermark %d%s" % (partition, " " + topic if topic else "")).split()
        return int(lo), int(hi)

    def messages(self, topic, partitions):
        """Every message of topic: list of (partition, offset, key, headers, value)."""
        out = []
        for p in range(partitions):
            lo, hi = self.watermark(p, topic)
            for off in range(lo, hi):
                key, hdrs, value = self.read(p, off, topic)
                out.append((p, off, key, hdrs, value))
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Node(scimtest.Server):
    """One `scimlog serve --kafka` node with its own data dir. Tenants are
    created through the topic (the first node's CLI) and reach every node."""

    def __init__(self, kafka, tenants=("t1",), extra=(), tokens=None):
        os.makedirs(TMP, exist_ok=True)
        self.kafka = kafka
        self.root = tempfile.mkdtemp(prefix="e2e-kafka-", dir=TMP)
        self.data = os.path.join(self.root, "data")
        self.kopts = ["--kafka", kafka.bootstrap, "--kafka-fetch-wait", "1"]
        self.extra = self.kopts + ["--kafka-timeout", "3000"] + list(extra)
        self.tokens = dict(tokens or {})
        for t in tenants:
            self.tokens[t] = json.loads(cli("tenant", "create", t, "--data", self.data,
                                            "--kafka", kafka.bootstrap).stdout)
        self.proc = None
        self.port = None

    def digest(self):
        return json.loads(cli("digest", "--data", self.data).stdout)["digest"]


def wait_until(pred, timeout=30, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


# ---------------------------------------------------------------- Avro

def _zigzag(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _named(schema, names, ns):
    if isinstance(schema, str):
        return names.get(schema) or names.get("%s.%s" % (ns, schema)) or schema
    return schema


def _encode(schema, value, names, ns):
    schema = _named(schema, names, ns)
    if isinstance(schema, list):  # union: index, then the branch
        for i, branch in enumerate(schema):
            b = _named(branch, names, ns)
            t = b if isinstance(b, str) else b.get("type")
            if (value is None) == (t == "null"):
                return _zigzag(i) + _encode(branch, value, names, ns)
        raise ValueError("no union branch for %r" % (value,))
    t = schema if isinstance(schema, str) else schema["type"]
    if t == "null":
        return b""
    if t == "boolean":
        return b"\x01" if value else b"\x00"
    if t in ("int", "long"):
        return _zigzag(int(value))
    if t == "string":
        raw = value.encode()
        return _zigzag(len(raw)) + raw
    if t == "enum":
        return _zigzag(schema["symbols"].index(value))
    if t == "array":
        if not value:
            return b"\x00"
        return _zigzag(len(value)) + b"".join(_encode(schema["items"], v, names, ns) for v in value) + b"\x00"
    if t == "record":
        out = b""
        for f in schema["fields"]:
            v = value.get(f["name"], f.get("default"))
            out += _encode(f["type"], v, names, ns)
        return out
    raise ValueError("unsupported type %r" % (t,))


def _collect(schema, names, ns):
    if isinstance(schema, list):
        for s in schema:
            _collect(s, names, ns)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed"):
            ns = schema.get("namespace", ns)
            full = schema["name"] if "." in schema["name"] else "%s.%s" % (ns, schema["name"])
            names[full] = schema
        for f in schema.get("fields", []):
            _collect(f["type"], names, ns)
        if "items" in schema:
            _collect(schema["items"], names, ns)


def _canonical(schema, ns, seen):
    """Parsing Canonical Form (Avro spec): full names, only the attributes
    that matter, in a fixed order, no whitespace."""
    if isinstance(schema, str):
        if schema in ("null", "boolean", "int", "long", "float", "double", "bytes", "string"):
            return json.dumps(schema)
        return json.dumps(schema if "." in schema else "%s.%s" % (ns, schema))
    if isinstance(schema, list):
        return "[" + ",".join(_canonical(s, ns, seen) for s in schema) + "]"
    t = schema["type"]
    if t in ("record", "enum", "fixed"):
        ns = schema.get("namespace", ns)
        full = schema["name"] if "." in schema["name"] else "%s.%s" % (ns, schema["name"])
        if full in seen:
            return json.dumps(full)
        seen.add(full)
        parts = ['"name":' + json.dumps(full), '"type":' + json.dumps(t)]
        if t == "record":
            parts.append('"fields":[' + ",".join(
                '{"name":%s,"type":%s}' % (json.dumps(f["name"]), _canonical(f["type"], ns, seen))
                for f in schema["fields"]) + "]")
        if t == "enum":
            parts.append('"symbols":' + json.dumps(schema["symbols"], separators=(",", ":")))
        if t == "fixed":
            parts.append('"size":%d' % schema["size"])
        return "{" + ",".join(parts) + "}"
    if t == "array":
        return '{"type":"array","items":%s}' % _canonical(schema["items"], ns, seen)
    if t == "map":
        return '{"type":"map","values":%s}' % _canonical(schema["values"], ns, seen)
    return _canonical(t, ns, seen)


def _rabin(data):
    empty = 0xc15d213aa4d7a795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for b in data:
        fp = (fp >> 8) ^ table[(fp ^ b) & 0xff]
    return fp


class EventWriter:
    """Writes events with schemas/avro/event.vN.avsc, single-object encoded."""

    def __init__(self, version=1):
        with open(os.path.join(SRC, "schemas", "avro", "event.v%d.avsc" % version)) as f:
            self.schema = json.load(f)
        self.names = {}
        _collect(self.schema, self.names, None)
        self.canonical = _canonical(self.schema, None, set())
        self.fingerprint = _rabin(self.canonical.encode())

    def encode(self, ev):
        return b"\xc3\x01" + self.fingerprint.to_bytes(8, "little") + _encode(self.schema, ev, self.names, None)


def user_event(tenant, uid, user_name, action="CREATE", expect_version=0, **kw):
    ev = {"event_id": kw.pop("event_id", None) or __import__("uuid").uuid4().__str__(),
          "schema_version": 1, "tenant": tenant, "resource_type": "USER", "resource_id": uid,
          "action": action, "time_ms": int(time.time() * 1000), "actor": "external", "request_id": "",
          "expect_version": expect_version,
          "resource_json": json.dumps({"schemas": [scimtest.USER], "userName": user_name})}
    ev.update(kw)
    return ev
