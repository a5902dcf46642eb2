"""1040 — `scimlog replay --kafka BROKERS --into DIR [--until OFFSET|TIME]`
rebuilds views from the topic: everything (same digest as the live node),
up to an offset, or up to a time; on a terminal it prints a progress line
with events/s and an ETA."""
import json
import os
import pty
import subprocess
import time
import zlib
from scimtest import Check, Server, USER, BIN, cli
from kafkatest import DevKafka, Node

c = Check()
kafka = DevKafka(partitions=1)   # one partition: offsets are a total order
node = Node(kafka, tenants=("t1",))
node.start()
cl = node.client("t1")
ids = []
for i in range(10):
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "u%d" % i})
    ids.append(j["id"])
    if i == 5:
        time.sleep(0.3)
        now = time.time()
        cut = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (int(now * 1000) % 1000)
        time.sleep(0.3)
node.stop()
# data topic offsets 0..9: users u0..u9; admin topic: tenant, token


def users_in(data):
    """Starts an embedded-log server on a replayed dir just to read it."""
    srv = Server(tenants=())
    srv.tokens = node.tokens
    srv.start(data=data)
    st, _, j = srv.client("t1").get("/Users?count=100&attributes=userName")
    names = sorted(r["userName"] for r in j.get("Resources", []))
    srv.cleanup()
    return names


# 1. everything
full = os.path.join(node.root, "full")
out = json.loads(cli("replay", "--kafka", kafka.bootstrap, "--into", full).stdout)
c.ok(out["events"] == 12, "replay folds every event of the topic", out)
d = json.loads(cli("digest", "--data", full).stdout)["digest"]
c.ok(d == node.digest(), "full replay equals the live views", (d, node.digest()))

# 2. --until OFFSET (inclusive)
upto = os.path.join(node.root, "upto")
out = json.loads(cli("replay", "--kafka", kafka.bootstrap, "--into", upto, "--until", "4").stdout)
c.ok(out["events"] == 7, "--until 4 folds data offsets 0..4 and the admin topic (tenant, token)", out)
c.ok(users_in(upto) == ["u0", "u1", "u2", "u3", "u4"], "--until 4 shows the first five users", users_in(upto))

# 3. --until TIME
attime = os.path.join(node.root, "attime")
out = json.loads(cli("replay", "--kafka", kafka.bootstrap, "--into", attime, "--until", cut).stdout)
c.ok(out["events"] == 8, "--until TIME folds the events written before it", (out, cut))
c.ok(users_in(attime) == ["u%d" % i for i in range(6)], "--until TIME shows the users of that time", users_in(attime))

# 4. bad --until, existing target dir
p = cli("replay", "--kafka", kafka.bootstrap, "--into", os.path.join(node.root, "x"), "--until", "yesterday", check=False)
c.ok(p.returncode != 0 and "--until" in p.stderr, "a bad --until is refused", p.stderr)
p = cli("replay", "--kafka", kafka.bootstrap, "--into", full, check=False)
c.ok(p.returncode != 0, "replay refuses a dir that already holds a database", p.stderr)

# 5. progress line on a terminal
master, slave = pty.openpty()
proc = subprocess.Popen([BIN, "replay", "--kafka", kafka.bootstrap, "--into", os.path.join(node.root, "tty")],
                        stdout=subprocess.PIPE, stderr=slave)
os.close(slave)
proc.wait(timeout=120)
err = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    err += chunk
os.close(master)
c.ok(b"events/s" in err and b"ETA" in err and b"12/12" in err, "progress line with rate and ETA", err)

node.cleanup()
kafka.stop()
c.done()
