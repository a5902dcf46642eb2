"""0810 — GET /metrics in Prometheus text format, parsed by an independent
parser (Debian's python3-prometheus-client): request counters move with the
traffic this test sends, per tenant, resource type, method and status;
group commits, connections, rate-limit refusals and RocksDB sizes are
there; /livez and /readyz answer; --metrics-token-file guards /metrics."""
import http.client
import os
import time
from prometheus_client.parser import text_string_to_metric_families
from scimtest import Check, Server, USER, patch_body

c = Check()
srv = Server(tenants=("m1", "m2"), extra=["--rate-limit", "5/20"])
srv.start()


def scrape(token=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", "/metrics", headers={"Authorization": "Bearer " + token} if token else {})
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    return r.status, r.getheader("Content-Type"), body


def samples(text):
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(smp, name, **labels):
    return smp.get((name, tuple(sorted(labels.items()))), 0.0)


st, ctype, before = scrape()
c.ok(st == 200 and ctype.startswith("text/plain; version=0.0.4"), "GET /metrics answers the text format", (st, ctype))
s0 = samples(before)
a, b = srv.client("m1"), srv.client("m2")
ids = []
for i in range(7):
    st, _, u = a.post("/Users", {"schemas": [USER], "userName": "met%d" % i})
    ids.append(u["id"])
for i in ids[:3]:
    a.get("/Users/" + i)
a.patch("/Users/" + ids[0], patch_body({"op": "replace", "path": "active", "value": False}))
a.get("/Users/does-not-exist")
b.get("/Groups?count=1")
limited = 0
for _ in range(40):
    st, _, _ = b.get("/Users?count=1")
    limited += st == 429
lab = dict(endpoint="scim", tenant="m1", resource_type="User")
# a request is counted when libmicrohttpd reports it complete, just after
# the client has its answer: scrape until the last ones are in
deadline = time.time() + 10
while True:
    st, _, text = scrape()
    s1 = samples(text)
    if (value(s1, "scimlog_http_requests_total", endpoint="scim", tenant="m2", resource_type="User",
              method="GET", status="429") >= limited and
            value(s1, "scimlog_http_requests_total", method="POST", status="201", **lab) -
            value(s0, "scimlog_http_requests_total", method="POST", status="201", **lab) >= 7) or \
            time.time() > deadline:
        break
    time.sleep(0.1)
c.ok(value(s1, "scimlog_http_requests_total", method="POST", status="201", **lab) -
     value(s0, "scimlog_http_requests_total", method="POST", status="201", **lab) == 7,
     "7 POST 201 counted for tenant m1, User", text[:2000])
c.ok(value(s1, "scimlog_http_requests_total", method="GET", status="200", **lab) >= 3, "GETs counted")
c.ok(value(s1, "scimlog_http_requests_total", method="PATCH", status="204", **lab) == 1, "PATCH 204 counted")
c.ok(value(s1, "scimlog_http_requests_total", method="GET", status="404", **lab) == 1, "404 counted")
c.ok(value(s1, "scimlog_http_requests_total", endpoint="scim", tenant="m2", resource_type="Group",
           method="GET", status="200") == 1, "tenant m2's group list counted apart")
c.ok(limited > 0 and value(s1, "scimlog_rate_limited_total") >= limited, "rate-limit refusals counted",
     (limited, value(s1, "scimlog_rate_limited_total")))
c.ok(value(s1, "scimlog_http_requests_total", endpoint="scim", tenant="m2", resource_type="User",
           method="GET", status="429") == limited, "429s counted by status")
c.ok(value(s1, "scimlog_ingest_events_total") >= 8, "ingest events counted", value(s1, "scimlog_ingest_events_total"))
c.ok(value(s1, "scimlog_group_commit_events_count") >= 1 and
     value(s1, "scimlog_group_commit_events_bucket", le="+Inf") == value(s1, "scimlog_group_commit_events_count"),
     "group-commit histogram consistent")
c.ok(value(s1, "scimlog_http_request_duration_seconds_count", method="POST") >= 7, "latency histogram counts POSTs")
c.ok(value(s1, "scimlog_connections", state="limit") > 0, "connection gauges present")
c.ok(("scimlog_rocksdb_bytes", (("kind", "memtable"),)) in s1, "RocksDB sizes present")
c.ok(value(s1, "scimlog_log_position") >= 10, "log position present", value(s1, "scimlog_log_position"))
c.ok(("scimlog_fold_lag_events", ()) in s1 and value(s1, "scimlog_fold_lag_events") == 0
     and value(s1, "scimlog_fold_lag_seconds") == 0,
     "fold lag: 0 events, 0 s in embedded mode (append and fold are one batch)")

for path, want in (("/livez", 200), ("/readyz", 200), ("/healthz", 200)):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    c.ok(r.status == want, "%s answers %d" % (path, want), r.status)
srv.stop()

# JSON access log: one line per request with the request id echoed;
# server events as JSON lines too (--log-format json)
import json as _json
srv.extra = ["--access-log", "json", "--log-format", "json"]
srv.start()
cl = srv.client("m1")
st, h, u = cl.post("/Users", {"schemas": [USER], "userName": "logged"}, headers={"X-Request-Id": "req-0810-a"})
c.ok(h.get("x-request-id") == "req-0810-a", "the request id is echoed", h.get("x-request-id"))
st, _, _ = cl.get("/Users/" + u["id"])
srv.stop()
lines = []
for line in open(os.path.join(srv.root, "serve.log"), encoding="utf-8", errors="replace"):
    if line.startswith("{"):
        lines.append(_json.loads(line))
post = [l for l in lines if l.get("request_id") == "req-0810-a"]
c.ok(len(post) == 1 and post[0]["status"] == 201 and post[0]["tenant"] == "m1" and
     post[0]["path"] == "/scim/v2/{tenant}/Users" and post[0]["method"] == "POST" and
     post[0]["actor"] == srv.tokens["m1"]["token_id"] and post[0]["latency_ms"] >= 0 and post[0]["bytes"] > 0,
     "a JSON access-log line per request", post)
c.ok(any(l.get("path") == "/scim/v2/{tenant}/Users/{id}" and l.get("status") == 200 for l in lines),
     "GET by id logged with its path template", lines[-3:])
evs = {l.get("event"): l for l in lines if "event" in l}
c.ok(evs.get("listening", {}).get("level") == "info" and "listening on http://" in evs["listening"].get("msg", "")
     and evs.get("stopping") and evs.get("group_commit") and all(l.get("time") for l in evs.values()),
     "server events are JSON lines with time, level, event, msg", list(evs))
c.ok(not any(l.startswith("scimlog:") for l in open(os.path.join(srv.root, "serve.log"), encoding="utf-8",
                                                    errors="replace").read().splitlines()[-6:]),
     "no text server lines in JSON mode")
# the request id reaches the change record
srv.extra = []
srv.start()
st, _, j = srv.client("m1").raw("GET", "/reports/v1/m1/changes?count=100", base=False)
c.ok(any(r.get("requestId") == "req-0810-a" for r in (j or {}).get("changes", [])),
     "the request id is carried into the change record", (j or {}).get("changes", [])[:1])
srv.stop()

tokfile = os.path.join(srv.root, "metrics.token")
with open(tokfile, "w") as f:
    f.write("s3cret-metrics-token-0123456789\n")
srv.extra = ["--metrics-token-file", tokfile]
srv.start()
st, _, _ = scrape()
c.ok(st == 401, "/metrics without its token is 401", st)
st, _, _ = scrape("wrong-token-0123456789")
c.ok(st == 401, "/metrics with a wrong token is 401", st)
st, _, text = scrape("s3cret-metrics-token-0123456789")
c.ok(st == 200 and "scimlog_http_requests_total" in text, "/metrics with its token answers", st)
srv.cleanup()
c.done()
