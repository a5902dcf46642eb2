"""0850 — tenant and token commands while a server serves the data dir:
the CLI asks that server (DIR/control.sock), so nothing stops; a new
tenant's token works at once, a revoked token stops working within the
auth cache's bound (1 s; measured and printed), errors come back as
errors, and the events are in the log (replay equals the views)."""
import json
import os
import time
from scimtest import Check, Server, USER, cli

c = Check()
srv = Server()
srv.start()

p = cli("tenant", "create", "online1", "--data", srv.data, check=False)
t = json.loads(p.stdout) if p.returncode == 0 else {}
c.ok(p.returncode == 0 and t.get("tenant") == "online1" and len(t.get("secret", "")) > 20,
     "tenant create while serving", (p.stdout, p.stderr))
cl = srv.client("online1", token=t.get("secret", "x"))
st, _, _ = cl.post("/Users", {"schemas": [USER], "userName": "first"})
c.ok(st == 201, "the new tenant's token works at once", st)

p = cli("tenant", "token", "issue", "online1", "--data", srv.data, check=False)
t2 = json.loads(p.stdout) if p.returncode == 0 else {}
c.ok(p.returncode == 0 and t2.get("token_id") and t2.get("token_id") != t.get("token_id"), "token issue while serving", p.stderr)
cl2 = srv.client("online1", token=t2.get("secret", "x"))
st, _, _ = cl2.get("/Users?count=1")
c.ok(st == 200, "the second token works", st)

p = cli("tenant", "token", "issue", "online1", "--reports-only", "--data", srv.data, check=False)
c.ok(p.returncode == 0, "a reports-only token while serving", p.stderr)
rt = json.loads(p.stdout)
st, _, _ = srv.client("online1", token=rt["secret"]).get("/Users?count=1")
c.ok(st == 403, "the reports-only token is refused on SCIM", st)

t0 = time.time()
p = cli("tenant", "token", "revoke", "online1", t2["token_id"], "--data", srv.data, check=False)
c.ok(p.returncode == 0 and json.loads(p.stdout).get("revoked") is True, "token revoke while serving", p.stderr)
gone = None
while time.time() - t0 < 10:
    st, _, _ = cl2.get("/Users?count=1")
    if st == 401:
        gone = time.time() - t0
        break
    time.sleep(0.05)
print("revocation took effect after %.2f s (bound: the 1 s auth cache)" % (gone or -1))
c.ok(gone is not None and gone < 3.0, "a revoked token is refused within the bound", gone)
st, _, _ = cl.get("/Users?count=1")
c.ok(st == 200, "the other token still works", st)

p = cli("tenant", "create", "online1", "--data", srv.data, check=False)
c.ok(p.returncode != 0 and "exists" in p.stderr, "a duplicate tenant is an error", p.stderr)
p = cli("tenant", "create", "Users", "--data", srv.data, check=False)
c.ok(p.returncode != 0 and "endpoint" in p.stderr, "an endpoint-named tenant is an error", p.stderr)
p = cli("tenant", "list", "--data", srv.data, check=False)
names = [x.get("tenant") for x in json.loads(p.stdout)] if p.returncode == 0 else []
c.ok("online1" in names and "t1" in names, "tenant list while serving", (p.stdout, p.stderr))
srv.stop()

# the tenant events are in the log: a replay equals the views
p = cli("verify", "--data", srv.data, check=False)
c.ok(p.returncode == 0 and json.loads(p.stdout)["equal"] is True, "replay equals the views", p.stdout)
srv.cleanup()
c.done()
