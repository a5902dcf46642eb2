"""0830 — serve's configuration file: every flag has a key, the
environment (SCIMLOG_<FLAG>) overrides the file, flags override both;
unknown keys and bad values are errors naming FILE:LINE; `scimlog config
check` prints the effective settings; a server started from a file uses
it."""
import http.client
import json
import os
import subprocess
import time
from scimtest import Check, Server, BIN, free_port

c = Check()
srv = Server()
root = srv.root


def run(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SCIMLOG_") or k in ("SCIMLOG_TMP",)}
    e.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, env=e)


conf = os.path.join(root, "scimlog.conf")
with open(conf, "w") as f:
    f.write("# scimlog settings\nlisten = 127.0.0.1:1111\nthreads = 3\nmount = /api/scim\n"
            "mount = \"/api/v1/scim/azure/{tenant}\"\nrate-limit = 50/100\naccess-log = json\n")
p = run("config", "check", "--config", conf)
eff = json.loads(p.stdout) if p.returncode == 0 else {}
c.ok(eff.get("listen") == "127.0.0.1:1111" and eff.get("threads") == "3" and
     eff.get("mount") == ["/api/scim", "/api/v1/scim/azure/{tenant}"] and eff.get("rate-limit") == "50/100",
     "config check prints the file's settings", (p.stdout, p.stderr))
p = run("config", "check", "--config", conf, env={"SCIMLOG_LISTEN": "127.0.0.1:2222", "SCIMLOG_THREADS": "5"})
eff = json.loads(p.stdout) if p.returncode == 0 else {}
c.ok(eff.get("listen") == "127.0.0.1:2222" and eff.get("threads") == "5", "the environment overrides the file", p.stdout)
p = run("config", "check", "--config", conf, "--listen", "127.0.0.1:3333", env={"SCIMLOG_LISTEN": "127.0.0.1:2222"})
eff = json.loads(p.stdout) if p.returncode == 0 else {}
c.ok(eff.get("listen") == "127.0.0.1:3333", "flags override the environment", p.stdout)
p = run("config", "check", env={"SCIMLOG_CONFIG": conf})
c.ok(p.returncode == 0 and json.loads(p.stdout).get("threads") == "3", "SCIMLOG_CONFIG names the file", p.stderr)

for text, want in (("listen = 1:2\nbogus = 1\n", ":2: unknown key 'bogus'"),
                   ("listen 127.0.0.1:1\n", ":1: want key = value"),
                   ("mount = \"/x\n", ":1: unclosed quote"),
                   ("threads =\n", ":1: threads needs a value"),
                   ("rate-limit = fast\n", "--rate-limit"),
                   ("listen = nocolon\n", "--listen"),
                   # numbers are whole, in range, without units or junk
                   ("threads = many\n", "--threads wants a number from 1 to 1024, got 'many'"),
                   ("threads = 0\n", "--threads wants a number from 1"),
                   ("listen = 127.0.0.1:http\n", "--listen wants a port from 1 to 65535, got 'http'"),
                   ("listen = 127.0.0.1:70000\n", "--listen wants a port"),
                   ("max-body = 10MB\n", "--max-body wants bytes from 1024"),
                   ("max-body = 99999999999\n", "--max-body wants bytes"),
                   ("kafka-timeout = 5s\n", "--kafka-timeout wants milliseconds"),
                   ("kafka-fetch-wait = -1\n", "--kafka-fetch-wait wants milliseconds"),
                   ("max-connections = 1e3\n", "--max-connections wants a number from 16"),
                   ("memory-mb = 12\n", "--memory-mb wants MiB from 48"),
                   ("prune-interval = 2h\n", "--prune-interval wants seconds")):
    with open(conf, "w") as f:
        f.write(text)
    p = run("config", "check", "--config", conf)
    c.ok(p.returncode != 0 and want in p.stderr, "bad config %r is refused: %s" % (text, want), p.stderr)
p = run("config", "check", "--config", os.path.join(root, "missing.conf"))
c.ok(p.returncode != 0 and "missing.conf" in p.stderr, "a missing file is an error", p.stderr)
for val, want in (("0", "off"), ("1", "text"), ("json", "json")):
    p = run("config", "check", env={"SCIMLOG_ACCESS_LOG": val})
    c.ok(p.returncode == 0, "SCIMLOG_ACCESS_LOG=%s is taken" % val, p.stderr)
p = run("config", "check", env={"SCIMLOG_THREADS": ""})
c.ok(p.returncode != 0 and "SCIMLOG_THREADS" in p.stderr, "a bad environment value names the variable", p.stderr)

# a server started from a file uses it
port = free_port()
with open(conf, "w") as f:
    f.write("listen = 127.0.0.1:%d\ndata = %s\nmount = /api/scim\nrate-limit = off\n" % (port, srv.data))
proc = subprocess.Popen([BIN, "serve", "--config", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ok = False
deadline = time.time() + 30
while time.time() < deadline and not ok:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/api/scim/Users?count=1",
                     headers={"Authorization": "Bearer " + srv.tokens["t1"]["secret"]})
        ok = conn.getresponse().status == 200
    except OSError:
        time.sleep(0.1)
c.ok(ok, "serve --config listens where the file says, with its mounts")
proc.terminate()
c.ok(proc.wait(timeout=30) == 0, "and stops cleanly")
srv.cleanup()
c.done()
