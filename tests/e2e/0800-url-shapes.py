"""0800 — the five apps' published tenant URL shapes, served at once:
Talkdesk `/scim/v2` (tenant from the token), askSpoke `{customer}.askspoke
.com/scim/v2` (tenant from the host), Gtmhub `/api/v1/scim/azure/{account}`,
GroupTalk `/api/scim/` (tenant from the token), Workteam's base URL (the
path shape `/scim/v2/{tenant}`). Each gets CRUD with Location and
meta.location in its own shape; tokens never cross tenants; tenant names
match exactly (a case slip gets a hint); X-Forwarded-* are honoured from a
trusted proxy only; no tenant may be named like an endpoint."""
import http.client
import json
from scimtest import Check, Server, USER, cli, patch_body

c = Check()
TENANTS = ("talkdesk1", "spokeco", "acct42", "gt1", "workteam-9", "Acme5F")
srv = Server(tenants=TENANTS, extra=[
    "--mount", "/api/v1/scim/azure/{tenant}", "--mount", "/api/scim",
    "--host-suffix", ".askspoke.test"])
srv.start()
tok = {t: srv.tokens[t]["secret"] for t in TENANTS}


def req(method, path, token, body=None, host=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    h = {"Authorization": "Bearer " + token, "Content-Type": "application/scim+json"}
    if host:
        h["Host"] = host
    h.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, (json.loads(data) if data else None)


def crud(name, tenant, base, host=None):
    """base: the path prefix the app publishes (no trailing slash)."""
    hostname = host or "127.0.0.1:%d" % srv.port
    st, h, u = req("POST", base + "/Users", tok[tenant],
                   {"schemas": [USER], "userName": "%s-user@x.org" % name}, host)
    ok = st == 201
    c.ok(ok, "%s: POST %s/Users" % (name, base), (st, u))
    if not ok:
        return
    want = "http://%s%s/Users/%s" % (hostname, base, u["id"])
    c.ok(h.get("location") == want and u["meta"]["location"] == want,
         "%s: Location in the app's own shape" % name, (h.get("location"), want))
    st, _, g = req("GET", base + "/Users/" + u["id"], tok[tenant], host=host)
    c.ok(st == 200 and g["meta"]["location"] == want, "%s: GET by id" % name, (st, g))
    st, _, l = req("GET", base + "/Users?filter=userName%20eq%20%22" + name + "-user%40x.org%22", tok[tenant], host=host)
    c.ok(st == 200 and l["totalResults"] == 1 and l["Resources"][0]["meta"]["location"] == want,
         "%s: filter eq" % name, (st, l))
    st, _, _ = req("PATCH", base + "/Users/" + u["id"], tok[tenant],
                   patch_body({"op": "replace", "path": "active", "value": False}), host)
    c.ok(st in (200, 204), "%s: PATCH" % name, st)
    st, _, d = req("GET", base + "/ServiceProviderConfig", tok[tenant], host=host)
    c.ok(st == 200, "%s: discovery" % name, st)
    st, _, _ = req("DELETE", base + "/Users/" + u["id"], tok[tenant], host=host)
    c.ok(st == 204, "%s: DELETE" % name, st)
    # another tenant's token on this URL
    other = "workteam-9" if tenant != "workteam-9" else "gt1"
    st, _, j = req("GET", base + "/Users/" + u["id"], tok[other], host=host)
    if "{" not in base and host is None and base in ("/scim/v2", "/api/scim"):
        c.ok(st == 404, "%s: another tenant's token sees its own (empty) tenant" % name, (st, j))
    else:
        c.ok(st == 401, "%s: another tenant's token is refused" % name, (st, j))


crud("talkdesk", "talkdesk1", "/scim/v2")
crud("askspoke", "spokeco", "/scim/v2", host="spokeco.askspoke.test")
crud("gtmhub", "acct42", "/api/v1/scim/azure/acct42")
crud("grouptalk", "gt1", "/api/scim")
crud("workteam", "workteam-9", "/scim/v2/workteam-9")

# host-named tenant: the token must be that tenant's
st, _, j = req("GET", "/scim/v2/Users", tok["gt1"], host="spokeco.askspoke.test")
c.ok(st == 401, "askspoke: a token of another tenant on the tenant's host is refused", (st, j))
st, _, j = req("GET", "/scim/v2/Users", tok["spokeco"], host="nosuch.askspoke.test")
c.ok(st == 401, "askspoke: an unknown host tenant is refused", (st, j))

# exact names, with a hint on a case slip
st, _, j = req("GET", "/scim/v2/acme5f/Users", tok["Acme5F"])
c.ok(st == 401 and "case-sensitive" in j.get("detail", "") and "Acme5F" in j.get("detail", ""),
     "a tenant name in another case is 401 with a hint", (st, j))
st, _, j = req("GET", "/scim/v2/Acme5F/Users", tok["Acme5F"])
c.ok(st == 200, "the exact name works", (st, j))

# unknown shapes are still 404 with a hint
st, _, j = req("GET", "/api/v2/scim/Users", tok["gt1"])
c.ok(st == 404 and "/scim/v2" in j.get("detail", ""), "an unknown URL shape is 404 naming the base URLs", (st, j))

# no tenant named like an endpoint
for bad in ("Users", "groups", "Schemas"):
    p = cli("tenant", "create", bad, "--data", srv.root + "/other", check=False)
    c.ok(p.returncode != 0 and "endpoint" in p.stderr, "tenant name %r is refused" % bad, p.stderr)

# X-Forwarded-* from an untrusted peer are ignored
fw = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com", "X-Forwarded-Prefix": "/edge"}
st, h, u = req("POST", "/scim/v2/Users", tok["talkdesk1"], {"schemas": [USER], "userName": "fw1"}, headers=fw)
c.ok(st == 201 and h["location"].startswith("http://127.0.0.1:%d/scim/v2/Users/" % srv.port),
     "X-Forwarded-* from an untrusted peer do not change Location", h.get("location"))
srv.stop()

# ... and honoured from a trusted proxy (loopback here)
srv.extra = ["--trusted-proxy", "127.0.0.0/8"]
srv.start()
st, h, u = req("POST", "/scim/v2/Users", tok["talkdesk1"], {"schemas": [USER], "userName": "fw2"}, headers=fw)
c.ok(st == 201 and h["location"] == "https://api.example.com/edge/scim/v2/Users/" + u["id"] and
     u["meta"]["location"] == h["location"], "a trusted proxy's X-Forwarded-* build Location", h.get("location"))
st, h, u = req("POST", "/scim/v2/talkdesk1/Users", tok["talkdesk1"], {"schemas": [USER], "userName": "fw3"},
               headers={"Forwarded": 'for=1.2.3.4;proto=https;host="scim.example.org"'})
c.ok(st == 201 and h["location"] == "https://scim.example.org/scim/v2/talkdesk1/Users/" + u["id"],
     "RFC 7239 Forwarded from a trusted proxy", h.get("location"))
st, h, u = req("POST", "/scim/v2/Users", tok["talkdesk1"], {"schemas": [USER], "userName": "fw4"},
               headers={"X-Forwarded-Host": "evil/<x>", "X-Forwarded-Proto": "javascript"})
c.ok(st == 201 and h["location"].startswith("http://127.0.0.1:%d/" % srv.port),
     "malformed forwarded values are ignored", h.get("location"))
srv.cleanup()

for bad in (["--mount", "api/scim"], ["--mount", "/a/{tenant}/{tenant}"], ["--host-suffix", "example.com"],
            ["--trusted-proxy", "10.0.0.0/33"], ["--trusted-proxy", "nope"]):
    p = cli("serve", "--data", "/tmp/never-made-0800", "--listen", "127.0.0.1:1", *bad, check=False)
    c.ok(p.returncode != 0 and p.stderr.strip(), "bad setting %s is refused" % bad, p.stderr)
c.done()
