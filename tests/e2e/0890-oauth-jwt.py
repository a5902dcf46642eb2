"""0890 — OAuth 2.0 client credentials (issue 10 item 3): the operator
registers a client for a tenant; POST /oauth/v1/{tenant}/token (form body
or HTTP Basic) issues a short-lived HS256 JWT that the SCIM API accepts
alongside static tokens. The JWT is checked here with Python's own hmac
(an independent implementation of HS256 and of the key derivation the
README states), and forged ones are refused with 401 naming the reason:
bad signature, another tenant or audience, expired, issued in the future,
alg none, an unknown key id, a revoked client, a disabled tenant (403).
Key rotation keeps tokens in flight valid for the stated overlap."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import time
import urllib.parse
from scimtest import Check, Server, USER, cli

c = Check()
srv = Server(tenants=())
OP = "op-" + "3" * 40
MASTER = "jwt-master-" + "9" * 40
for name, val in (("operator.token", OP), ("jwt.key", MASTER)):
    with open(os.path.join(srv.root, name), "w") as f:
        f.write(val + "\n")
srv.extra = ["--operator-token-file", os.path.join(srv.root, "operator.token"),
             "--jwt-key-file", os.path.join(srv.root, "jwt.key"), "--jwt-ttl", "60"]
srv.start()


def adm(method, path, body=None):
    return srv.client("x", token=OP).raw(method, "/admin/v1/tenants" + path, body, base=False)


def token_req(tenant, form, basic=None, method="POST"):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic:
        h["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % basic).encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request(method, "/oauth/v1/%s/token" % tenant, urllib.parse.urlencode(form), h)
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"null")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def key_for(tenant, kid):
    return hmac.new(MASTER.encode(), tenant.encode() + b"\0" + kid.encode(), hashlib.sha256).digest()


def mint(header, claims, tenant, kid):
    signing = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    sig = hmac.new(key_for(tenant, kid), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64u(sig)


def scim(tenant, tok, path="/Users?count=1"):
    return srv.client(tenant, token=tok).get(path)


try:
    for t in ("t1", "t2"):
        st, _, j = adm("POST", "", {"name": t})
        c.ok(st == 201, "tenant " + t, (st, j))
    st, _, cl = adm("POST", "/t1/clients", {})
    c.ok(st == 201 and cl.get("client_id") and cl.get("client_secret"), "register a client", (st, cl))
    st, _, clr = adm("POST", "/t1/clients", {"scope": "scim-read"})
    c.ok(st == 201 and clr.get("scope") == "scim-read", "register a read-only client", (st, clr))

    # the token endpoint
    st, j = token_req("t1", {"grant_type": "client_credentials", "client_id": cl["client_id"],
                             "client_secret": cl["client_secret"]})
    c.ok(st == 200 and j.get("token_type") == "Bearer" and j.get("expires_in") == 60 and j.get("access_token"),
         "client credentials in the form body", (st, j))
    jwt = j["access_token"]
    st, j2 = token_req("t1", {"grant_type": "client_credentials"}, basic=(cl["client_id"], cl["client_secret"]))
    c.ok(st == 200 and j2.get("access_token"), "client credentials by HTTP Basic", (st, j2))
    for form, basic, want, err in [
        ({"grant_type": "client_credentials", "client_id": cl["client_id"], "client_secret": "nope"}, None, 401, "invalid_client"),
        ({"grant_type": "password", "client_id": cl["client_id"], "client_secret": cl["client_secret"]}, None, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "scope": "reports"}, (cl["client_id"], cl["client_secret"]), 400, "invalid_scope"),
    ]:
        st, j = token_req("t1", form, basic)
        c.ok(st == want and j.get("error") == err, "token endpoint refuses: " + err, (st, j))
    st, j = token_req("t2", {"grant_type": "client_credentials", "client_id": cl["client_id"],
                             "client_secret": cl["client_secret"]})
    c.ok(st == 401 and j.get("error") == "invalid_client", "t1's client at t2's endpoint", (st, j))
    st, j = token_req("t1", {}, method="GET")
    c.ok(st == 405, "GET on the token endpoint", (st, j))

    # an independent HS256 check of what the server issued
    h, p, s = jwt.split(".")
    hdr, claims = json.loads(unb64u(h)), json.loads(unb64u(p))
    c.ok(hdr["alg"] == "HS256" and hdr["typ"] == "JWT" and claims["aud"] == "scimlog:t1" and claims["tid"] == "t1"
         and claims["sub"] == cl["client_id"] and claims["exp"] - claims["iat"] == 60, "JWT header and claims", (hdr, claims))
    good = hmac.new(key_for("t1", hdr["kid"]), (h + "." + p).encode(), hashlib.sha256).digest()
    c.ok(hmac.compare_digest(good, unb64u(s)), "the signature verifies with Python's hmac and the stated derivation")

    # the SCIM API accepts it
    st, _, u = srv.client("t1", token=jwt).post("/Users", {"schemas": [USER], "userName": "via-jwt"})
    c.ok(st == 201, "a write with the JWT", (st, u))
    st, _, j = srv.client("t1", token=jwt).raw("GET", "/scim/v2/Users?count=1", base=False)
    c.ok(st == 200, "token-implied tenant URL with the JWT", (st, j))
    st, _, j = scim("t2", jwt)
    c.ok(st == 401 and "audience or tenant" in j.get("detail", ""), "t1's JWT on t2's URL", (st, j))
    st, j = token_req("t1", {"grant_type": "client_credentials"}, basic=(clr["client_id"], clr["client_secret"]))
    ro = j["access_token"]
    c.ok(scim("t1", ro)[0] == 200, "read-only JWT reads")
    st, _, j = srv.client("t1", token=ro).post("/Users", {"schemas": [USER], "userName": "nope"})
    c.error_body(st, j, 403, None, "read-only JWT cannot write")

    # forged tokens
    now = int(time.time())
    base = {"iss": "scimlog", "sub": cl["client_id"], "aud": "scimlog:t1", "tid": "t1", "iat": now, "exp": now + 60}
    kid = hdr["kid"]
    hdr0 = {"alg": "HS256", "typ": "JWT", "kid": kid}
    c.ok(scim("t1", mint(hdr0, base, "t1", kid))[0] == 200, "a token minted with the right key works (derivation matches)")
    for name, tok, frag in [
        ("bad signature", h + "." + p + "." + b64u(b"\0" * 32), "signature"),
        ("payload swapped", h + "." + b64u(json.dumps(dict(claims, tid="t2", aud="scimlog:t2")).encode()) + "." + s, "signature"),
        ("expired", mint(hdr0, dict(base, iat=now - 120, exp=now - 60), "t1", kid), "expired"),
        ("issued in the future", mint(hdr0, dict(base, iat=now + 3600, exp=now + 3700), "t1", kid), "future"),
        ("alg none", b64u(json.dumps({"alg": "none", "kid": kid}).encode()) + "." + b64u(json.dumps(base).encode()) + ".", "alg"),
        ("unknown kid", mint(dict(hdr0, kid="zz"), base, "t1", "zz"), "signing key"),
        ("wrong audience", mint(hdr0, dict(base, aud="other"), "t1", kid), "audience"),
        ("unregistered client", mint(hdr0, dict(base, sub="ghost"), "t1", kid), "not registered"),
        ("not base64", "a.b!.c", "base64url"),
    ]:
        st, _, j = scim("t1", tok)
        c.ok(st == 401 and frag in (j or {}).get("detail", ""), "forged JWT refused: " + name, (st, j))

    # key rotation: tokens in flight stay valid for the overlap
    st, _, k = adm("POST", "/t1/keys/rotate", {"overlapSeconds": 2})
    c.ok(st == 200 and k.get("kid") and k["kid"] != kid, "rotate the signing key", (st, k))
    c.ok(scim("t1", jwt)[0] == 200, "a token signed with the previous key works during the overlap")
    st, j = token_req("t1", {"grant_type": "client_credentials"}, basic=(cl["client_id"], cl["client_secret"]))
    newjwt = j["access_token"]
    c.ok(json.loads(unb64u(newjwt.split(".")[0]))["kid"] == k["kid"], "new tokens carry the new key id")
    t0 = time.time()
    while time.time() - t0 < 15 and scim("t1", jwt)[0] == 200:
        time.sleep(0.1)
    st, _, j = scim("t1", jwt)
    c.ok(st == 401 and "signing key" in j.get("detail", ""), "after the overlap the previous key is refused", (st, j))
    print("# previous key refused %.2f s after the rotation (overlap 2 s)" % (time.time() - t0))
    c.ok(scim("t1", newjwt)[0] == 200, "the new key's token works")

    # revocation and disable
    st, _, j = adm("DELETE", "/t1/clients/" + cl["client_id"])
    c.ok(st == 200, "revoke the client", (st, j))
    st, _, j = scim("t1", newjwt)
    c.ok(st == 401 and "not registered" in j.get("detail", ""), "a revoked client's JWT is refused at once", (st, j))
    st, j = token_req("t1", {"grant_type": "client_credentials"}, basic=(cl["client_id"], cl["client_secret"]))
    c.ok(st == 401, "a revoked client gets no new token", (st, j))
    st, j = token_req("t1", {"grant_type": "client_credentials"}, basic=(clr["client_id"], clr["client_secret"]))
    ro = j["access_token"]
    c.ok(scim("t1", ro)[0] == 200, "a fresh read-only JWT works before the disable")
    st, _, j = adm("POST", "/t1/disable")
    st, _, j = scim("t1", ro)
    c.ok(st == 403 and "disabled" in j.get("detail", ""), "a disabled tenant's JWT is refused", (st, j))
finally:
    srv.stop()
    d1 = cli("digest", "--data", srv.data).stdout.strip()
    into = os.path.join(srv.root, "replayed")
    cli("replay", "--data", srv.data, "--into", into)
    d2 = cli("digest", "--data", into).stdout.strip()
    c.ok(d1 == d2, "replay gives the same digest (clients, keys)", (d1, d2))
    srv.cleanup()
c.done()
