"""0820 — ops/scimlog.service: systemd accepts it (systemd-analyze verify,
where systemd is installed), it carries the hardening the README promises,
and its ExecStart line (with this test's paths) starts a server that
answers /readyz and stops cleanly on the unit's KillSignal."""
import http.client
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from scimtest import Check, BIN, SRC, free_port

c = Check()
unit_path = os.path.join(SRC, "ops", "scimlog.service")
unit = open(unit_path).read()
keys = {}
for line in unit.splitlines():
    m = re.match(r"^([A-Za-z]+)=(.*)$", line)
    if m:
        keys.setdefault(m.group(1), []).append(m.group(2))
for k, v in (("User", "scimlog"), ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
             ("StateDirectory", "scimlog"), ("PrivateTmp", "yes"), ("KillSignal", "SIGTERM")):
    c.ok(v in keys.get(k, []), "unit sets %s=%s" % (k, v), keys.get(k))
c.ok(any("/var/lib/scimlog" in x for x in keys.get("ReadWritePaths", [])), "state dir is the only writable path")

tmp = tempfile.mkdtemp(prefix="e2e-unit-")
if shutil.which("systemd-analyze"):
    local = os.path.join(tmp, "scimlog.service")
    with open(local, "w") as f:
        f.write(unit.replace("/usr/local/bin/scimlog", os.path.abspath(BIN)))
    p = subprocess.run(["systemd-analyze", "verify", local], capture_output=True, text=True, timeout=60)
    c.ok(p.returncode == 0 and not p.stderr.strip(), "systemd-analyze verify accepts the unit", p.stderr)
else:
    print("systemd-analyze not installed: verify skipped, the rest still runs")

# the ExecStart line, with the unit's default flags, runs
env_flags = [x for x in keys.get("Environment", []) if "SCIMLOG_FLAGS=" in x][0].strip('"').split("=", 1)[1]
port = free_port()
env_flags = env_flags.replace("127.0.0.1:8080", "127.0.0.1:%d" % port)
cmd = keys["ExecStart"][0].replace("$SCIMLOG_FLAGS", env_flags)
cmd = cmd.replace("/usr/local/bin/scimlog", os.path.abspath(BIN)).replace("/var/lib/scimlog", tmp)
proc = subprocess.Popen(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
ready = False
deadline = time.time() + 30
while time.time() < deadline and not ready:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/readyz")
        ready = conn.getresponse().status == 200
    except OSError:
        time.sleep(0.1)
c.ok(ready, "the unit's ExecStart serves and is ready", cmd)
proc.send_signal(signal.SIGTERM)
rc = proc.wait(timeout=30)
c.ok(rc == 0, "it stops cleanly on SIGTERM", (rc, proc.stderr.read()[-500:]))
shutil.rmtree(tmp, ignore_errors=True)
c.done()
