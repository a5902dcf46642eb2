"""0881 — the audit trail of the front door (issue 10 item 6): every admin
action is a change record naming the operator and the request id it came
with; every refusal (a revoked or rotated-out token, a wrong operator
token, a scope, a disabled tenant, a refused admin call) is a change record
of the tenant it was aimed at, with the token it was when the secret names
one; the admin API's tenant-admin token is refused once revoked, rotated
out or its tenant disabled, and may describe its own tenant (only that);
refused OAuth token requests are recorded with the client; a flood of bad tokens is coalesced into a few
records; secrets aimed at a tenant that does not exist create nothing; the
reports' action= filter takes the admin actions; a replay agrees."""
import http.client
import json
import os
import time
import urllib.parse
from scimtest import Check, Server, USER, cli

c = Check()
srv = Server(tenants=())
op_file = os.path.join(srv.root, "operator.token")
OP = "op-" + "8" * 40
with open(op_file, "w") as f:
    f.write(OP + "\n")
with open(os.path.join(srv.root, "jwt.key"), "w") as f:
    f.write("jwt-master-" + "4" * 40 + "\n")
srv.extra = ["--operator-token-file", op_file, "--jwt-key-file", os.path.join(srv.root, "jwt.key")]
srv.start()


def adm(method, path, body=None, token=OP, rid=None):
    cl = srv.client("x", token=token)
    return cl.raw(method, "/admin/v1/tenants" + path, body, base=False,
                  headers={"X-Request-Id": rid} if rid else None)


def records(rep, query=""):
    st, _, j = rep.raw("GET", "/reports/v1/acme/changes?count=1000" + query, base=False)
    return j.get("changes", []) if st == 200 else []


def wait_record(rep, pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        hit = [x for x in records(rep) if pred(x)]
        if hit:
            return hit
        time.sleep(0.05)
    return []


try:
    st, _, t = adm("POST", "", {"name": "acme"}, rid="rid-create-1")
    c.ok(st == 201, "create acme", (st, t))
    st, _, rp = adm("POST", "/acme/tokens", {"scope": "reports"}, rid="rid-issue-1")
    c.ok(st == 201, "a reports token", (st, rp))
    rep = srv.client("acme", token=rp["secret"])

    # admin actions: actor and request id come from the HTTP call
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-create-1")
    c.ok(len(recs) >= 1 and all(x["actor"] == "operator" for x in recs) and
         "tenant_create" in [x["eventAction"] for x in recs],
         "tenant_create names the operator and the request id", recs)
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-issue-1")
    c.ok(len(recs) == 1 and recs[0]["eventAction"] == "token_issue" and recs[0]["actor"] == "operator",
         "token_issue names the operator and the request id", recs)

    # a revoked token: 401, recorded with the token it was
    st, _, old = adm("POST", "/acme/tokens", {})
    st, _, j = adm("DELETE", "/acme/tokens/" + old["token_id"], rid="rid-revoke-1")
    c.ok(st == 200, "revoke", (st, j))
    clo = srv.client("acme", token=old["secret"])
    deadline = time.time() + 10
    while time.time() < deadline and clo.get("/Users")[0] != 401:
        time.sleep(0.05)
    st, _, j = clo.get("/Users", headers={"X-Request-Id": "rid-revoked-use"})
    c.error_body(st, j, 401, None, "a revoked token")
    # the first refusal of this token is recorded (the polling above may
    # have made it; the same refusal again within 10 s is counted)
    recs = wait_record(rep, lambda x: x.get("actor") == old["token_id"] and x["verdict"] == "refused")
    c.ok(len(recs) >= 1 and all(x["action"] == "refused" and x["eventAction"] == "access" and
                                x["status"] == 401 and "was revoked" in x["detail"] for x in recs),
         "the revoked token's use is a refusal record naming it", recs)

    st, _, j = clo.raw("GET", "/stream/v1/acme?wait=0", base=False,
                       headers={"X-Request-Id": "rid-stream-revoked"})
    c.error_body(st, j, 401, None, "a revoked token on the change stream")
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-stream-revoked")
    c.ok(len(recs) == 1 and recs[0]["actor"] == old["token_id"] and "was revoked" in recs[0]["detail"],
         "the stream's refusal is recorded with the token", recs)

    # a wrong operator token: recorded in the tenant it was aimed at
    st, _, j = adm("POST", "/acme/tokens", {}, token="wrong-" + "1" * 40, rid="rid-badop")
    c.error_body(st, j, 401, None, "a wrong operator token")
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-badop")
    c.ok(len(recs) == 1 and recs[0]["eventAction"] == "admin" and recs[0]["actor"] == "anonymous" and
         recs[0]["status"] == 401, "a wrong operator token is a refusal record", recs)
    # a SCIM token is no operator token either
    st, _, j = adm("GET", "/acme", token=t["secret"], rid="rid-scim-as-op")
    c.error_body(st, j, 403, None, "the tenant's SCIM token on the admin API")
    st, _, j = adm("POST", "/acme/tokens", {}, token=t["secret"])
    c.error_body(st, j, 403, None, "the tenant's SCIM token issues a token")
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-scim-as-op")
    c.ok(len(recs) == 1 and recs[0]["actor"] == t["token_id"] and recs[0]["eventAction"] == "admin",
         "the SCIM token on the admin API is recorded with its id", recs)

    # scopes
    st, _, ro = adm("POST", "/acme/tokens", {"scope": "scim-read"})
    st, _, j = srv.client("acme", token=ro["secret"]).post(
        "/Users", {"schemas": [USER], "userName": "x"}, headers={"X-Request-Id": "rid-ro-write"})
    c.error_body(st, j, 403, None, "a read-only token writes")
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-ro-write")
    c.ok(len(recs) == 1 and recs[0]["actor"] == ro["token_id"] and recs[0]["status"] == 403 and
         "scim-read" in recs[0]["detail"], "the scope refusal is recorded with the token", recs)
    st, _, j = rep.get("/Users", headers={"X-Request-Id": "rid-rep-scim"})
    c.error_body(st, j, 403, None, "a reports token reads SCIM")
    c.ok(len(wait_record(rep, lambda x: x.get("requestId") == "rid-rep-scim")) == 1,
         "the reports token's SCIM read is recorded")

    # refused admin calls that write no event are recorded once; those the
    # fold refused are its own record, not doubled
    st, _, j = adm("POST", "/acme/tokens", {"scope": "god"}, rid="rid-badscope")
    c.error_body(st, j, 400, "invalidValue", "an unknown scope")
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-badscope")
    c.ok(len(recs) == 1 and recs[0]["eventAction"] == "token_issue" and recs[0]["actor"] == "operator" and
         recs[0]["status"] == 400, "a refused token issue is recorded", recs)
    # a scope that is no string is refused, not read as the default (full
    # SCIM access)
    st, _, before = adm("GET", "/acme")
    st, _, j = adm("POST", "/acme/tokens", {"scope": ["scim-read"]})
    c.error_body(st, j, 400, "invalidValue", "a scope that is a list")
    st, _, after = adm("GET", "/acme")
    c.ok(len(after["tokens"]) == len(before["tokens"]), "no token was issued", after)
    st, _, j = adm("POST", "", {"name": 5})
    c.error_body(st, j, 400, "invalidValue", "a tenant name that is a number")
    st, _, j = adm("PUT", "/acme/tokens", {})
    c.error_body(st, j, 405, None, "PUT on the tokens collection")
    st, _, j = adm("GET", "/acme/nothing/here")
    c.error_body(st, j, 404, None, "no such admin call")
    st, _, j = adm("POST", "/acme/tokens/%s/rotate" % t["token_id"], {"overlapSeconds": "x"}, rid="rid-badov")
    c.error_body(st, j, 400, "invalidValue", "a non-integer overlap")
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-badov")
    c.ok(len(recs) == 1 and recs[0]["eventAction"] == "token_rotate", "a refused rotation is recorded", recs)
    st, _, j = adm("DELETE", "/acme/tokens/ffffffffffffffff", rid="rid-unknown-tok")
    c.ok(st in (400, 404), "revoke an unknown token", (st, j))
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-unknown-tok")
    time.sleep(0.5)  # a second record would be asynchronous too
    recs = [x for x in records(rep) if x.get("requestId") == "rid-unknown-tok"]
    c.ok(len(recs) == 1 and recs[0]["verdict"] == "refused" and recs[0]["eventAction"] == "token_revoke",
         "an unknown token's revocation is one refused record", recs)

    # tenant-admin: refused once rotated out, and while the tenant is disabled
    st, _, ta = adm("POST", "/acme/tokens", {"scope": "tenant-admin"})
    cta = srv.client("acme", token=ta["secret"])
    st, _, j = cta.raw("GET", "/admin/v1/tenants/acme/schema", base=False)
    c.ok(st == 200, "tenant-admin reads its definition", (st, j))
    st, _, j = cta.raw("GET", "/admin/v1/tenants/acme", base=False)
    c.ok(st == 200 and j["tenant"] == "acme" and "secret" not in json.dumps(j) and
         ta["token_id"] in [x["id"] for x in j["tokens"]], "tenant-admin describes its own tenant", (st, j))
    st, _, j = cta.raw("GET", "/admin/v1/tenants", base=False)
    c.error_body(st, j, 401, None, "tenant-admin lists all tenants")
    st, _, j = cta.raw("POST", "/admin/v1/tenants/acme/tokens", {}, base=False)
    c.error_body(st, j, 403, None, "tenant-admin issues a token")
    st, _, j = cta.raw("POST", "/admin/v1/tenants/acme/disable", {}, base=False)
    c.error_body(st, j, 403, None, "tenant-admin disables its tenant")
    adm("POST", "", {"name": "other"})
    st, _, j = cta.raw("GET", "/admin/v1/tenants/other", base=False)
    c.error_body(st, j, 401, None, "tenant-admin describes another tenant")
    st, _, j = adm("POST", "/acme/disable", rid="rid-disable")
    c.ok(st == 200, "disable", (st, j))
    st, _, j = cta.raw("GET", "/admin/v1/tenants/acme/schema", base=False,
                       headers={"X-Request-Id": "rid-ta-disabled"})
    c.error_body(st, j, 403, None, "a disabled tenant's tenant-admin token")
    c.ok("disabled" in (j or {}).get("detail", ""), "the refusal says disabled", j)
    st, _, j = srv.client("acme", token=ro["secret"]).get("/Users", headers={"X-Request-Id": "rid-disabled-use"})
    c.error_body(st, j, 403, None, "a disabled tenant's SCIM token")
    st, _, j = rep.raw("GET", "/reports/v1/acme/changes", base=False)
    c.error_body(st, j, 403, None, "the reports token of a disabled tenant too")
    st, _, j = srv.client("acme", token=t["secret"]).raw(
        "GET", "/stream/v1/acme?wait=0", base=False, headers={"X-Request-Id": "rid-stream-disabled"})
    c.error_body(st, j, 403, None, "the change stream of a disabled tenant")
    c.ok("disabled" in (j or {}).get("detail", ""), "the stream's refusal says disabled", j)
    adm("POST", "/acme/enable")
    deadline = time.time() + 10
    while time.time() < deadline and rep.raw("GET", "/reports/v1/acme/changes?count=1", base=False)[0] != 200:
        time.sleep(0.05)
    recs = wait_record(rep, lambda x: x.get("requestId") in ("rid-ta-disabled", "rid-disabled-use"))
    time.sleep(0.3)
    recs = [x for x in records(rep) if x.get("requestId") in ("rid-ta-disabled", "rid-disabled-use")]
    c.ok(len(recs) == 2 and all(x["status"] == 403 and "disabled" in x["detail"] for x in recs),
         "both refusals of the disabled tenant are recorded", recs)
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-stream-disabled")
    c.ok(len(recs) == 1 and recs[0]["actor"] == t["token_id"] and recs[0]["status"] == 403,
         "the stream's disabled refusal is recorded", recs)
    recs = [x for x in records(rep) if x.get("requestId") == "rid-disable"]
    c.ok(len(recs) == 1 and recs[0]["eventAction"] == "tenant_disable" and recs[0]["actor"] == "operator",
         "the disable itself is recorded with its request id", recs)
    st, _, rot = adm("POST", "/acme/tokens/%s/rotate" % ta["token_id"], {"overlapSeconds": 0})
    c.ok(st == 201, "rotate the tenant-admin token with no overlap", (st, rot))
    deadline = time.time() + 10
    st = None
    while time.time() < deadline:
        st, _, j = cta.raw("GET", "/admin/v1/tenants/acme/schema", base=False)
        if st == 401:
            break
        time.sleep(0.05)
    c.ok(st == 401, "the rotated-out tenant-admin token is refused on the admin API", (st, j))
    st, _, j = srv.client("acme", token=rot["secret"]).raw("GET", "/admin/v1/tenants/acme/schema", base=False)
    c.ok(st == 200, "its successor works", (st, j))

    # OAuth: refused token requests, with the client when it is registered
    st, _, cli_reg = adm("POST", "/acme/clients", {})
    c.ok(st == 201 and cli_reg.get("client_id"), "register an OAuth client", (st, cli_reg))

    def token_req(form, rid):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("POST", "/oauth/v1/acme/token", urllib.parse.urlencode(form),
                     {"Content-Type": "application/x-www-form-urlencoded", "X-Request-Id": rid})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    st, j = token_req({"grant_type": "client_credentials", "client_id": cli_reg["client_id"],
                       "client_secret": "wrong"}, "rid-oauth-bad")
    c.ok(st == 401 and j.get("error") == "invalid_client", "a wrong client secret", (st, j))
    st, j = token_req({"grant_type": "client_credentials", "client_id": cli_reg["client_id"],
                       "client_secret": cli_reg["client_secret"]}, "rid-oauth-ok")
    c.ok(st == 200 and j.get("access_token"), "the right one", (st, j))
    recs = wait_record(rep, lambda x: x.get("requestId") == "rid-oauth-bad")
    c.ok(len(recs) == 1 and recs[0]["eventAction"] == "oauth_token" and
         recs[0]["actor"] == "client:" + cli_reg["client_id"] and recs[0]["status"] == 401,
         "the refused token request is recorded with the client", recs)

    # a flood of bad tokens is coalesced
    bad = srv.client("acme", token="not-a-token-" + "2" * 30)
    for i in range(60):
        bad.get("/Users", headers={"X-Request-Id": "rid-flood-%d" % i})
    wait_record(rep, lambda x: (x.get("requestId") or "").startswith("rid-flood-"))
    time.sleep(0.5)
    flood = [x for x in records(rep) if (x.get("requestId") or "").startswith("rid-flood-")]
    print("# 60 bad-token requests left %d refusal record(s)" % len(flood))
    c.ok(1 <= len(flood) < 30, "a flood of bad tokens leaves a few records, not one each", len(flood))
    # after the window, the next record counts the ones in between
    more = []
    deadline = time.time() + 40
    while time.time() < deadline and not more:
        bad.get("/Users", headers={"X-Request-Id": "rid-flood-late"})
        time.sleep(0.5)
        more = [x for x in records(rep) if "more like it" in (x.get("detail") or "")]
    c.ok(more and "anonymous" == more[0]["actor"], "a later record counts the coalesced refusals",
         more[:1])

    # a tenant that does not exist gets nothing
    st, _, j = srv.client("ghost", token="x" * 40).get("/Users")
    c.ok(st == 401, "a bad token for an unknown tenant", (st, j))
    st, _, j = adm("POST", "/ghost/tokens", {}, token="y" * 40)
    st, _, j = adm("GET", "")
    c.ok(st == 200 and "ghost" not in [x["tenant"] for x in j], "no tenant appears from refusals", j)

    # the reports filter takes the admin actions
    st, _, j = rep.raw("GET", "/reports/v1/acme/changes?action=token_rotate", base=False)
    c.ok(st == 200 and len(j["changes"]) >= 1 and
         all(x["eventAction"] == "token_rotate" for x in j["changes"]),
         "action=token_rotate", (st, j))
    st, _, j = rep.raw("GET", "/reports/v1/acme/changes?action=tenant_disable,tenant_enable", base=False)
    c.ok(st == 200 and sorted(x["action"] for x in j["changes"]) == ["tenant_disable", "tenant_enable"],
         "action=tenant_disable,tenant_enable", (st, j))
    st, _, j = rep.raw("GET", "/reports/v1/acme/changes?action=refused&count=1000", base=False)
    c.ok(st == 200 and {"access", "admin", "token_issue", "oauth_token"} <= {x["eventAction"] for x in j["changes"]},
         "action=refused lists the front door's refusals", sorted({x["eventAction"] for x in j["changes"]}))
finally:
    srv.stop()
    d1 = cli("digest", "--data", srv.data).stdout.strip()
    into = os.path.join(srv.root, "replayed")
    cli("replay", "--data", srv.data, "--into", into)
    d2 = cli("digest", "--data", into).stdout.strip()
    c.ok(d1 == d2, "replay gives the same digest", (d1, d2))
    srv.cleanup()
c.done()
