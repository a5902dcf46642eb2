"""0730 — HTTPS: serve with --tls-cert/--tls-key (GnuTLS inside
libmicrohttpd), talk SCIM over TLS, locations say https."""
import http.client
import json
import os
import socket
import ssl
import subprocess
import time
from scimtest import BIN, Server, Check, USER, free_port

c = Check()
srv = Server()
cert, key = os.path.join(srv.root, "cert.pem"), os.path.join(srv.root, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
srv.extra = ["--tls-cert", cert, "--tls-key", key]
try:
    # the readiness probe speaks plain HTTP, so start by hand and poll TLS
    srv.port = free_port()
    log = open(os.path.join(srv.root, "serve.log"), "ab")
    srv.proc = subprocess.Popen([BIN, "serve", "--data", srv.data, "--listen",
                                 "127.0.0.1:%d" % srv.port, *srv.extra], stdout=log, stderr=log)
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    ok = False
    for _ in range(100):
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=5)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            break
        except OSError:
            time.sleep(0.1)
    c.ok(ok, "healthz over TLS")
    tok = srv.tokens["t1"]["secret"]
    hdr = {"Authorization": "Bearer " + tok, "Content-Type": "application/scim+json", "Host": "scim.example:443"}
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=10)
    conn.request("POST", "/scim/v2/t1/Users", body=json.dumps({"schemas": [USER], "userName": "tls"}), headers=hdr)
    r = conn.getresponse()
    u = json.loads(r.read())
    c.ok(r.status == 201, "create over TLS", (r.status, u))
    c.ok(u.get("meta", {}).get("location", "").startswith("https://scim.example:443/scim/v2/t1/Users/"), "https location", u.get("meta"))
    conn.request("GET", "/scim/v2/t1/Users/" + u["id"], headers=hdr)
    r = conn.getresponse()
    g = json.loads(r.read())
    c.ok(r.status == 200 and g["meta"]["location"].startswith("https://"), "GET fast path location over TLS", g.get("meta"))
    plain = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = plain.recv(100)
    except OSError:
        data = b""
    c.ok(not data.startswith(b"HTTP/1.1 200"), "plain HTTP is not served on the TLS port", data[:40])
    plain.close()
finally:
    srv.cleanup()
c.done()
