"""1430 — Kafka for a production cluster: `--kafka-config FILE` passes
librdkafka properties through (a bad key or a key scimlog owns stops the
command with FILE:LINE and the reason); tenant and token events travel on
the admin topic only (no token hash on the data topic); a tenant or token
event an external producer puts on the data topic is refused, reported,
and mints nothing; `tenant list --kafka` folds the topics first."""
import hashlib
import json
import os
import time
import uuid
from scimtest import Check, USER, cli, BIN
from kafkatest import DevKafka, Node, EventWriter, user_event, wait_until
import subprocess

c = Check()
kafka = DevKafka(partitions=2)
node = Node(kafka, tenants=("t1",))
conf_dir = node.root


def write(name, text):
    p = os.path.join(conf_dir, name)
    with open(p, "w") as f:
        f.write(text)
    return p


try:
    # 1. --kafka-config: good properties are used, bad ones stop the command
    good = write("good.properties", "# tuning for this cluster\nclient.id = scimlog-e2e\n"
                 "linger.ms=2\nsocket.keepalive.enable=true\nsecurity.protocol=PLAINTEXT\n")
    bad_key = write("badkey.properties", "linger.ms=2\nno.such.property=1\n")
    bad_val = write("badval.properties", "security.protocol=CARRIER_PIGEON\n")
    reserved = write("reserved.properties", "acks=1\n")
    syntax = write("syntax.properties", "just words\n")
    for path, want in ((bad_key, "badkey.properties:2: No such configuration property"),
                       (bad_val, "badval.properties:1:"),
                       (reserved, "reserved.properties:1: acks is set by scimlog"),
                       (syntax, "syntax.properties:1: expected key=value")):
        p = subprocess.run([BIN, "serve", "--data", node.data, "--listen", "127.0.0.1:1",
                            "--kafka", kafka.bootstrap, "--kafka-config", path],
                           capture_output=True, text=True, timeout=60)
        c.ok(p.returncode != 0 and want in p.stderr, "serve refuses %s with a clear error" % os.path.basename(path),
             (p.returncode, p.stderr))
    p = subprocess.run([BIN, "replay", "--kafka", kafka.bootstrap, "--kafka-config", bad_key,
                        "--into", os.path.join(conf_dir, "never")], capture_output=True, text=True, timeout=60)
    c.ok(p.returncode != 0 and "No such configuration property" in p.stderr, "replay checks --kafka-config too", p.stderr)
    node.extra += ["--kafka-config", good]
    node.start()
    cl = node.client("t1")
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "conf@example.com"})
    c.ok(st == 201, "a node configured from the properties file serves writes", (st, u))

    # 2. token hashes never reach the data topic
    secret = node.tokens["t1"]["secret"]
    token_hash = hashlib.sha256(secret.encode()).hexdigest().encode()
    seen_hash_on_data = False
    data_msgs = 0
    for part in range(2):
        for off in range(0, 50):
            try:
                key, hdrs, value = kafka.read(part, off)
            except RuntimeError:
                break
            data_msgs += 1
            if token_hash in value or hdrs.get("event_type") in ("TENANT_CREATE", "TOKEN_ISSUE", "TOKEN_REVOKE"):
                seen_hash_on_data = True
    c.ok(data_msgs >= 1 and not seen_hash_on_data, "no tenant or token event on the data topic", data_msgs)
    key, hdrs, value = kafka.read(0, 1, "scim.admin")
    c.ok(hdrs.get("event_type") == "TOKEN_ISSUE" and token_hash in value, "the token hash is on the admin topic", hdrs)

    # 3. an admin event on the data topic is refused and reported
    w = EventWriter(1)
    evil_secret = "e" * 64
    evil_hash = hashlib.sha256(evil_secret.encode()).hexdigest()
    now = int(time.time() * 1000)
    kafka.produce("evil", w.encode({"event_id": str(uuid.uuid4()), "schema_version": 1, "tenant": "evil",
                                    "resource_type": "NONE", "action": "TENANT_CREATE", "time_ms": now,
                                    "actor": "external", "request_id": "", "expect_version": -1}))
    kafka.produce("t1", w.encode({"event_id": str(uuid.uuid4()), "schema_version": 1, "tenant": "t1",
                                  "resource_type": "NONE", "action": "TOKEN_ISSUE", "time_ms": now,
                                  "actor": "external", "request_id": "", "expect_version": -1,
                                  "token_id": "beefbeefbeefbeef", "token_hash": evil_hash}))
    st, _, _ = cl.post("/Users", {"schemas": [USER], "userName": "after-evil@example.com"})
    c.ok(st == 201, "the projector goes on after the refusals", st)
    st, _, j = node.client("t1", token=evil_secret).get("/Users")
    c.ok(st == 401, "a token minted on the data topic does not authenticate", st)
    st, _, j = cl.raw("GET", "/reports/v1/t1/changes?verdict=refused&status=403", base=False)
    c.ok(st == 200 and any(r.get("eventAction") == "token_issue" and "admin topic" in (r.get("detail") or "")
                           for r in j.get("changes", [])),
         "the refused token event is reported", j)
    rc = node.stop()
    c.ok(rc == 0, "clean stop", rc)

    # 4. tenant list --kafka folds the topics into a fresh dir first
    fresh = os.path.join(conf_dir, "listdir")
    out = json.loads(cli("tenant", "list", "--data", fresh, "--kafka", kafka.bootstrap,
                         "--kafka-config", good).stdout)
    names = [t["tenant"] for t in out]
    c.ok(names == ["t1"], "tenant list --kafka shows the topic's tenants (not the refused one)", out)
    c.ok(out and len(out[0]["tokens"]) == 1, "with their tokens", out)
finally:
    node.cleanup()
    kafka.stop()
c.done()
