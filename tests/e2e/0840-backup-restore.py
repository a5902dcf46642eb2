"""0840 — online backup, restore and verify: `scimlog backup` while the
server serves under write load (through DIR/control.sock), `restore` into
a new dir, and every write acknowledged before the backup began is there;
`verify` finds the restored views equal to a replay of the restored log;
offline backup; clear errors for an existing target, a non-backup, a
non-empty restore target; a path with spaces and a newline works."""
import json
import os
import subprocess
import threading
import time
from scimtest import Check, Server, USER, cli

c = Check()
srv = Server()
srv.start()
acked = []
lock = threading.Lock()
stop = threading.Event()


def writer(k):
    cl = srv.client()
    i = 0
    while not stop.is_set() and i < 3000:
        i += 1
        st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "b%d-%d" % (k, i)})
        if st == 201:
            with lock:
                acked.append(u["id"])


ths = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
for t in ths:
    t.start()
deadline = time.time() + 30
while len(acked) < 150 and time.time() < deadline:
    time.sleep(0.05)
with lock:
    before = list(acked)
dest = os.path.join(srv.root, "backup one\nnewline")
p = cli("backup", "--data", srv.data, "--to", dest, check=False)
out = json.loads(p.stdout) if p.returncode == 0 else {}
c.ok(p.returncode == 0 and out.get("online") is True and out.get("backup") == dest,
     "backup while serving under write load", (p.stdout, p.stderr))
time.sleep(0.3)
stop.set()
for t in ths:
    t.join()
c.ok(len(acked) > len(before), "writes went on during the backup", (len(before), len(acked)))
p = cli("backup", "--data", srv.data, "--to", dest, check=False)
c.ok(p.returncode != 0 and "already exists" in p.stderr, "a backup never overwrites", p.stderr)
srv.stop()

restored = os.path.join(srv.root, "restored")
p = cli("restore", "--from", dest, "--data", restored, check=False)
c.ok(p.returncode == 0 and json.loads(p.stdout).get("restored") is True, "restore into a new dir", p.stderr)
p = cli("verify", "--data", restored, check=False)
v = json.loads(p.stdout) if p.stdout.strip() else {}
c.ok(p.returncode == 0 and v.get("equal") is True, "verify: restored views equal a replay of the restored log", (p.stdout, p.stderr))
srv.start(data=restored)
cl = srv.client()
missing = [i for i in before if cl.get("/Users/" + i)[0] != 200]
c.ok(not missing, "every write acknowledged before the backup is in the restore (%d)" % len(before), missing[:5])
srv.stop()

# offline backup of the live dir (no server), and errors
off = os.path.join(srv.root, "offline")
p = cli("backup", "--data", srv.data, "--to", off, check=False)
c.ok(p.returncode == 0 and json.loads(p.stdout).get("online") is False, "offline backup", p.stderr)
p = cli("restore", "--from", srv.root, "--data", os.path.join(srv.root, "x"), check=False)
c.ok(p.returncode != 0 and "not a backup" in p.stderr, "restore refuses a dir that is not a backup", p.stderr)
p = cli("restore", "--from", off, "--data", restored, check=False)
c.ok(p.returncode != 0 and "already holds" in p.stderr, "restore refuses a dir with a database", p.stderr)
p = cli("backup", "--data", os.path.join(srv.root, "nothing-here"), "--to", os.path.join(srv.root, "b3"), check=False)
c.ok(p.returncode != 0 and not os.path.exists(os.path.join(srv.root, "nothing-here")), "backup of a dir without data fails", p.stderr)
p = cli("verify", "--data", off, check=False)
c.ok(p.returncode == 0 and json.loads(p.stdout)["equal"] is True, "verify the offline backup", p.stderr)
srv.cleanup()
c.done()
