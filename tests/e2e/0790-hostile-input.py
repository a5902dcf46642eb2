"""0790 — hostile input gets clear SCIM errors, never a silent mis-answer:
invalid UTF-8 in any query parameter, an ETag forged by user data, a
spoofed Host header, Expect: 100-continue with a huge body, CSV formula
injection, tenant names made of dots, read-only commands on a mistyped
path, invalid-UTF-8 ids, Cache-Control on SCIM answers."""
import http.client
import json
import urllib.parse
import os
import socket
from scimtest import Check, Server, USER, cli, patch_body

c = Check()
srv = Server()
srv.start()
cl = srv.client()
token = srv.tokens["t1"]["secret"]

st, _, bj = cl.post("/Users", {"schemas": [USER], "userName": "bjensen"})
uid = bj["id"]

# 1. invalid UTF-8 (and %00) in query parameters: 400, never ignored
for q in ['filter=userName%20eq%20%22%ff%22', 'attributes=%ff', 'excludedAttributes=%c3%28',
          'count=1%00', 'sortBy=%fe', 'cursor=%ff', '%ff=1']:
    st, _, j = cl.get("/Users?" + q)
    c.ok(st == 400 and j.get("scimType") == "invalidValue" and
         ("UTF-8" in j.get("detail", "") or "NUL" in j.get("detail", "")),
         "query %s is refused with 400 invalidValue" % q, (st, j))
st, _, j = cl.raw("GET", "/reports/v1/t1/changes?filter=%ff", base=False)
c.ok(st == 400, "reports: invalid UTF-8 filter is refused", (st, j))

# 2. ETag always equals meta.version, even when user data holds the pattern
evil = {"schemas": [USER, "urn:ietf:params:scim:schemas:extension:evil:2.0:User"],
        "userName": "evil",
        "urn:ietf:params:scim:schemas:extension:evil:2.0:User": {"version": "W/\"999\""}}
st, h, j = cl.post("/Users", evil)
c.ok(st == 201, "user with a forged version key created", (st, j))
eid = j["id"]
st, h, g = cl.get("/Users/" + eid)
c.ok(h.get("etag") == g["meta"]["version"], "ETag equals meta.version", (h.get("etag"), g["meta"]))
st, _, _ = cl.patch("/Users/" + eid, patch_body({"op": "replace", "path": "displayName", "value": "x"}),
                    headers={"If-Match": h.get("etag")})
c.ok(st in (200, 204), "If-Match with the ETag a GET gave succeeds", st)

# 3. Host header: a bad one is 400; a good one builds Location
conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
conn.putrequest("GET", "/scim/v2/t1/Users/" + uid, skip_host=True)
conn.putheader("Host", "evil.example/<script>")
conn.putheader("Authorization", "Bearer " + token)
conn.endheaders()
r = conn.getresponse()
body = json.loads(r.read() or b"{}")
c.ok(r.status == 400 and "Host" in body.get("detail", ""), "a Host header that is not a host is 400", (r.status, body))
conn.close()
st, h, j = cl.get("/Users/" + uid)
c.ok(j["meta"]["location"].startswith("http://127.0.0.1:%d/" % srv.port), "location from a valid Host", j["meta"])
c.ok(h.get("cache-control") == "no-store", "SCIM answers carry Cache-Control: no-store", h.get("cache-control"))

# 4. Expect: 100-continue with a 10 GB body: 413 before any body is read
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
s.sendall(("POST /scim/v2/t1/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/scim+json\r\nContent-Length: 10000000000\r\n"
           "Expect: 100-continue\r\n\r\n" % token).encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = s.recv(4096)
    if not chunk:
        break
    head += chunk
s.close()
c.ok(head.startswith(b"HTTP/1.1 413"), "Expect: 100-continue with a huge body gets 413, not 100", head[:80])

# 5. CSV formula injection: cells with ; or TAB are quoted, leading = guarded
st, _, _ = cl.post("/Users", {"schemas": [USER], "userName": "x;=1+1;y", "displayName": "a\t=2+2"})
c.ok(st == 201, "user with formula-like names created", st)
conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
conn.request("GET", "/reports/v1/t1/changes?format=csv&count=100",
             headers={"Authorization": "Bearer " + token})
r = conn.getresponse()
st, text = r.status, r.read().decode("utf-8", "replace")
conn.close()
c.ok(st == 200 and "\"x;=1+1;y\"" in text, "a cell holding ; is quoted", text[-400:])
import csv
import io
rows = list(csv.reader(io.StringIO(text)))
risky = [f for row in rows for f in row if ";" in f or "\t" in f]
unquoted = [f for f in risky if '"%s"' % f.replace('"', '""') not in text]
c.ok(risky and not unquoted, "every cell holding ; or TAB is quoted", (risky, unquoted))

# 6. tenant names made of dots are refused
for name in (".", "..", "..."):
    p = cli("tenant", "create", name, "--data", os.path.join(srv.root, "other"), check=False)
    c.ok(p.returncode != 0 and "dots" in p.stderr, "tenant name %r is refused" % name, p.stderr)

# 7. read-only commands on a mistyped path: error, and nothing created
ghost = os.path.join(srv.root, "no-such-dir")
p = cli("digest", "--data", ghost, check=False)
c.ok(p.returncode != 0 and not os.path.exists(ghost), "digest on a mistyped path fails and creates nothing", p.stderr)
p = cli("replay", "--data", ghost, "--into", os.path.join(srv.root, "r"), check=False)
c.ok(p.returncode != 0 and not os.path.exists(ghost), "replay from a mistyped path fails and creates nothing", p.stderr)

# 8. an id that is not UTF-8: 404 with a detail
for m in ("GET", "DELETE"):
    st, _, j = cl.raw(m, "/Users/%ff%fe")
    c.ok(st in (400, 404) and j.get("detail"), "%s of a non-UTF-8 id: an error with a detail" % m, (st, j))
st, _, j = cl.raw("PATCH", "/Users/%ff", patch_body({"op": "replace", "path": "displayName", "value": "x"}))
c.ok(st in (400, 404) and j.get("detail"), "PATCH of a non-UTF-8 id: an error with a detail", (st, j))
import time
deadline = time.time() + 20
while True:  # refusals are recorded without making the client wait
    st, _, j = cl.raw("GET", "/reports/v1/t1/changes?verdict=refused&count=100", base=False)
    details = [r.get("detail") or json.dumps(r) for r in (j or {}).get("changes", [])]
    if any("?" in d and "not found" in d for d in details) or time.time() > deadline:
        break
    time.sleep(0.1)
c.ok(any("?" in d and "not found" in d for d in details), "the refused write of a non-UTF-8 id has a change record", details[-3:])

# 9. writes without If-Match never get 412 because of another writer
import threading
st, _, ru = cl.post("/Users", {"schemas": [USER], "userName": "race"})
answers = {}
lock = threading.Lock()


def patcher(k):
    pc = srv.client()
    for i in range(25):
        st, _, j = pc.patch("/Users/" + ru["id"], patch_body(
            {"op": "replace", "path": "displayName", "value": "d%d-%d" % (k, i)}))
        with lock:
            answers[st] = answers.get(st, 0) + 1


ths = [threading.Thread(target=patcher, args=(k,)) for k in range(8)]
for t in ths:
    t.start()
for t in ths:
    t.join()
st, h, j = cl.get("/Users/" + ru["id"])
c.ok(answers == {204: 200} or answers == {200: 200}, "200 racing PATCHes without If-Match all apply", answers)
c.ok(j["meta"]["version"] == 'W/"201"', "the version counts every PATCH", j["meta"])
st, _, j = cl.patch("/Users/" + ru["id"], patch_body({"op": "replace", "path": "displayName", "value": "z"}),
                    headers={"If-Match": 'W/"5"'})
c.ok(st == 412, "a stale If-Match still gets 412", st)

# 10. over-long URLs and headers are SCIM errors up to libmicrohttpd's
# 16 KiB of connection memory (beyond it its own HTML page remains)
def raw_answer(req):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(req)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), head.lower(), body


tok = srv.tokens["t1"]["secret"]
st, head, body = raw_answer(("GET /scim/v2/t1/Users?filter=userName%%20eq%%20%%22%s%%22 HTTP/1.1\r\n"
                             "Host: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n"
                             % ("x" * 12000, tok)).encode())
j = json.loads(body) if body.startswith(b"{") else None
c.ok(st == 414 and j and j.get("status") == "414" and "8192" in j.get("detail", "")
     and b"cache-control: no-store" in head, "a 12 KB URL is 414 with a SCIM error", (st, body[:200]))
st, head, body = raw_answer(("GET /scim/v2/t1/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                             "X-Padding: %s\r\nConnection: close\r\n\r\n" % (tok, "y" * 12000)).encode())
j = json.loads(body) if body.startswith(b"{") else None
c.ok(st == 431 and j and j.get("status") == "431", "12 KB of headers is 431 with a SCIM error", (st, body[:200]))
# (attributes names at most 100 paths, e2e 0785: long ones and a filter)
url = "/Users?count=1&attributes=%s&filter=%s" % (
    ",".join(["urn:ietf:params:scim:schemas:core:2.0:User:userName"] * 100),
    urllib.parse.quote('userName eq "%s"' % ("x" * 1900)))
c.ok(7000 < len(url) < 8000, "the URL is about 7 KB", len(url))
st, _, j = cl.get(url)
c.ok(st == 200, "a 7 KB URL is still served", (st, j))

srv.cleanup()
c.done()
