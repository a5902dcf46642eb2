"""0880 — the admin API over HTTP (issue 10): with the operator token a
vendor's product creates a tenant (optionally from a profile) and gets its
SCIM URL and secret, issues scoped tokens (scim-read, reports,
tenant-admin), rotates one (old and new valid during the overlap, then the
old one expires by itself), revokes one, disables and enables the tenant;
without the operator token every call is refused; each action is an event
(the reports list it, a replay has the same digest); the CLI does the same
while the server runs. Timing is measured and printed, never asserted
beyond generous bounds."""
import json
import os
import time
from scimtest import Check, Server, USER, cli

c = Check()
srv = Server(tenants=())
op_file = os.path.join(srv.root, "operator.token")
OP = "op-" + "7" * 40
with open(op_file, "w") as f:
    f.write(OP + "\n")
os.chmod(op_file, 0o600)
srv.extra = ["--operator-token-file", op_file]
srv.start()


def adm(method, path, body=None, token=OP):
    cl = srv.client("x", token=token if token is not None else "")
    return cl.raw(method, "/admin/v1/tenants" + path, body, base=False)


def wait_status(cl, want, timeout=10):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cl.get("/Users?count=1")[0] == want:
            return time.time() - t0
        time.sleep(0.02)
    return None


try:
    st, _, j = adm("GET", "", token="wrong")
    c.error_body(st, j, 401, None, "a wrong operator token")
    st, _, j = adm("GET", "", token=None)
    c.error_body(st, j, 401, None, "no token")

    st, _, t = adm("POST", "", {"name": "acme"})
    c.ok(st == 201 and t.get("secret") and t.get("scimUrl", "").endswith("/scim/v2/acme"),
         "create a tenant: URL and secret for the customer", (st, t))
    st, _, j = adm("POST", "", {"name": "acme"})
    c.error_body(st, j, 409, "uniqueness", "the same name again")
    st, _, j = adm("POST", "", {"name": "Users"})
    c.error_body(st, j, 400, "invalidValue", "an endpoint's name")
    st, _, j = adm("POST", "", {"nom": "x"})
    c.error_body(st, j, 400, "invalidValue", "no name")
    st, _, td = adm("POST", "", {"name": "td", "profile": "talkdesk"})
    c.ok(st == 201 and td.get("profile") == "talkdesk", "create from a profile", (st, td))
    st, _, j = adm("POST", "", {"name": "zz", "profile": "nope"})
    c.ok(st == 400 and "talkdesk" in j.get("detail", ""), "unknown profile", (st, j))

    cl = srv.client("acme", token=t["secret"])
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "a1"})
    c.ok(st == 201, "the new tenant's secret works at once", (st, u))

    st, _, j = adm("GET", "")
    c.ok(st == 200 and {"acme", "td"} <= {x["tenant"] for x in j}, "list tenants", j)
    st, _, j = adm("GET", "/acme")
    c.ok(st == 200 and j["tenant"] == "acme" and len(j["tokens"]) == 1 and "secret" not in json.dumps(j),
         "describe a tenant (no secrets)", j)
    st, _, j = adm("GET", "/nope")
    c.error_body(st, j, 404, None, "describe an unknown tenant")

    # scopes
    st, _, ro = adm("POST", "/acme/tokens", {"scope": "scim-read"})
    c.ok(st == 201 and ro.get("scope") == "scim-read", "a read-only token", (st, ro))
    clr = srv.client("acme", token=ro["secret"])
    c.ok(clr.get("/Users/" + u["id"])[0] == 200, "read-only: GET works")
    c.ok(clr.raw("POST", "/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})[0] == 200,
         "read-only: .search works")
    st, _, j = clr.post("/Users", {"schemas": [USER], "userName": "nope"})
    c.error_body(st, j, 403, None, "read-only: POST refused")
    st, _, j = clr.delete("/Users/" + u["id"])
    c.error_body(st, j, 403, None, "read-only: DELETE refused")
    st, _, rep = adm("POST", "/acme/tokens", {"scope": "reports"})
    c.ok(st == 201 and srv.client("acme", token=rep["secret"]).get("/Users")[0] == 403, "reports scope", (st, rep))
    st, _, j = adm("POST", "/acme/tokens", {"scope": "god"})
    c.error_body(st, j, 400, "invalidValue", "an unknown scope")

    # rotation: both valid during the overlap, then the old one expires
    st, _, rot = adm("POST", "/acme/tokens/%s/rotate" % t["token_id"], {"overlapSeconds": 2})
    c.ok(st == 201 and rot.get("secret") and rot["rotates"] == t["token_id"], "rotate with a 2 s overlap", (st, rot))
    cln = srv.client("acme", token=rot["secret"])
    c.ok(cl.get("/Users?count=1")[0] == 200 and cln.get("/Users?count=1")[0] == 200,
         "old and new tokens both work during the overlap")
    gone = wait_status(cl, 401, 15)
    c.ok(gone is not None, "the old token expires by itself after the overlap")
    print("# old token refused %.2f s after the rotation answer (overlap 2 s)" % (gone or -1))
    c.ok(cln.get("/Users?count=1")[0] == 200, "the new token still works")
    st, _, j = adm("GET", "/acme")
    old = [x for x in j["tokens"] if x["id"] == t["token_id"]][0]
    c.ok(old.get("expires"), "the old token's end is listed", old)
    st, _, j = adm("POST", "/acme/tokens/%s/rotate" % t["token_id"], {})
    c.ok(st in (404, 409), "an expired token cannot be rotated again", (st, j))
    st, _, j = adm("POST", "/acme/tokens/ffff/rotate", {})
    c.error_body(st, j, 404, None, "rotate an unknown token")

    # revoke
    t0 = time.time()
    st, _, j = adm("DELETE", "/acme/tokens/" + ro["token_id"])
    c.ok(st == 200 and j.get("revoked") is True, "revoke", (st, j))
    gone = wait_status(clr, 401, 5)
    c.ok(gone is not None, "a revoked token is refused within the 1 s cache bound")
    print("# revoked token refused after %.3f s" % (time.time() - t0))

    # disable / enable
    st, _, j = adm("POST", "/acme/disable")
    c.ok(st == 200 and j.get("disabled") is True, "disable", (st, j))
    c.ok(wait_status(cln, 403, 5) is not None, "a disabled tenant's tokens are refused")
    st, _, j = cln.get("/Users")
    c.ok(st == 403 and "disabled" in j.get("detail", ""), "the refusal says why", j)
    st, _, j = adm("GET", "/acme")
    c.ok(j.get("disabled") is True, "the tenant is listed as disabled", j)
    st, _, j = adm("POST", "/acme/enable")
    c.ok(st == 200 and wait_status(cln, 200, 5) is not None, "enable: the data is still there", (st, j))
    c.ok(cln.get("/Users/" + u["id"])[0] == 200, "the user survived the disable")
    st, _, j = adm("POST", "/nope/disable")
    c.error_body(st, j, 404, None, "disable an unknown tenant")

    # the tenant-admin scope works on the definition calls; the operator too
    st, _, j = adm("GET", "/td/schema")
    c.ok(st == 200 and j.get("generation") == 1, "the operator reads a tenant's definition", (st, j))

    # the CLI while serving: same operations
    p = cli("tenant", "token", "rotate", "td", td["token_id"], "--overlap", "0", "--data", srv.data, check=False)
    c.ok(p.returncode == 0 and json.loads(p.stdout)["overlap_s"] == 0, "CLI rotate while serving", p.stderr)
    c.ok(wait_status(srv.client("td", token=td["secret"]), 401, 5) is not None, "overlap 0: the old token ends at once")
    p = cli("tenant", "disable", "td", "--data", srv.data, check=False)
    c.ok(p.returncode == 0, "CLI disable while serving", p.stderr)

    # audit: the admin actions are in the reports
    st, _, j = srv.client("acme", token=rep["secret"]).raw("GET", "/reports/v1/acme/changes?count=100", base=False)
    acts = [x.get("eventAction") for x in j.get("changes", [])]
    c.ok(st == 200, "reports readable with the reports token", (st, j))
    print("# acme's change records: %s" % acts)
finally:
    srv.stop()
    d1 = cli("digest", "--data", srv.data).stdout.strip()
    into = os.path.join(srv.root, "replayed")
    cli("replay", "--data", srv.data, "--into", into)
    d2 = cli("digest", "--data", into).stdout.strip()
    c.ok(d1 == d2, "replay gives the same digest (tenants, tokens, rotations, disables)", (d1, d2))
    srv.cleanup()
c.done()
