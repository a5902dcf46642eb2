"""0774 — /metrics (which names every tenant in its series) is no longer
open to the network by default: without --metrics-token-file it answers
only peers on the loopback interface whose request carries no proxy
forwarding header (Forwarded, X-Forwarded-For, X-Forwarded-Host,
X-Real-IP), so neither a client reaching the listener's outside address
nor one coming through a reverse proxy on the same host reads it (403
with a detail naming --metrics-token-file). A local Prometheus scrape
(ops/run's loopback listener, every other test) works as before; with
--metrics-token-file any peer with the bearer is answered, and a wrong
or missing bearer is 401. /healthz stays open to everyone. Before,
/metrics answered anyone who could connect. Found by the red-team pass."""
import http.client
import os
import socket
import time
import scimtest
from scimtest import Check, Server


def outside_address():
    """A local address that is not loopback, or None."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))  # no packet is sent
        a = s.getsockname()[0]
        s.close()
        return None if a.startswith("127.") else a
    except OSError:
        return None


def get(host, port, path, headers=None):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    body = r.read().decode("utf-8", "replace")
    conn.close()
    return r.status, body


c = Check()
outside = outside_address()
port = scimtest.free_port()
scimtest.free_port = lambda: port  # the server listens on every address
srv = Server(tenants=("secret-customer",), extra=["--listen", "0.0.0.0:%d" % port])
srv.start()
try:
    cl = srv.client("secret-customer")
    cl.get("/Users?count=1")
    # a request's series is recorded when libmicrohttpd reports it
    # completed, which may be just after the client read the answer
    for _ in range(50):
        st, body = get("127.0.0.1", port, "/metrics")
        if 'tenant="secret-customer"' in body:
            break
        time.sleep(0.1)
    c.ok(st == 200 and "scimlog_" in body, "loopback scrape answers", (st, body[:200]))
    c.ok('tenant="secret-customer"' in body, "the series name the tenant (why it is guarded)", body[:200])
    for h in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"},
              {"X-Forwarded-Host": "scim.example.com"}, {"X-Real-IP": "203.0.113.9"}):
        st, body = get("127.0.0.1", port, "/metrics", h)
        c.ok(st == 403 and "secret-customer" not in body and "--metrics-token-file" in body,
             "through a local proxy (%s): 403" % list(h)[0], (st, body[:300]))
    if outside:
        st, body = get(outside, port, "/metrics")
        c.ok(st == 403 and "secret-customer" not in body, "from %s (not loopback): 403" % outside, (st, body[:300]))
        st, body = get(outside, port, "/healthz")
        c.ok(st == 200, "/healthz stays open from %s" % outside, (st, body[:200]))
    else:
        print("note: no non-loopback local address; checked the proxy headers only")
    srv.stop()

    tokfile = os.path.join(srv.root, "metrics.token")
    with open(tokfile, "w") as f:
        f.write("m" * 24 + "\n")
    os.chmod(tokfile, 0o600)
    srv.extra += ["--metrics-token-file", tokfile]
    srv.start()
    good = {"Authorization": "Bearer " + "m" * 24}
    for host in ["127.0.0.1"] + ([outside] if outside else []):
        st, body = get(host, port, "/metrics", good)
        c.ok(st == 200 and "scimlog_" in body, "token: %s with the bearer answers" % host, (st, body[:200]))
        st, body = get(host, port, "/metrics")
        c.ok(st == 401, "token: %s without the bearer is 401" % host, (st, body[:200]))
    st, body = get("127.0.0.1", port, "/metrics", dict(good, **{"X-Forwarded-For": "203.0.113.9"}))
    c.ok(st == 200, "token: through a proxy with the bearer answers", (st, body[:200]))
finally:
    srv.cleanup()
c.done()
