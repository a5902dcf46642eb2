"""scimtest — helpers for scimlog's end-to-end tests: start the real server
on a fresh data dir, talk HTTP to it, count checks. Stdlib only, loopback
only, every loop bounded."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

BIN = os.environ.get("SCIMLOG_BIN", "build/test/scimlog")
TMP = os.environ.get("SCIMLOG_TMP", "/tmp")
SRC = os.environ.get("SCIMLOG_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cli(*args, check=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise RuntimeError("scimlog %s failed: %s" % (" ".join(args), p.stderr))
    return p


class Server:
    def __init__(self, tenants=("t1",), extra=()):
        os.makedirs(TMP, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="e2e-", dir=TMP)
        self.data = os.path.join(self.root, "data")
        self.extra = list(extra)
        self.tokens = {}
        for t in tenants:
            self.tokens[t] = json.loads(cli("tenant", "create", t, "--data", self.data).stdout)
        self.proc = None
        self.port = None

    def start(self, data=None):
        self.port = free_port()
        self.log = open(os.path.join(self.root, "serve.log"), "ab")
        # tests drive hundreds of requests a second: the per-tenant rate
        # limit is off unless a test sets one
        limit = [] if "--rate-limit" in self.extra else ["--rate-limit", "off"]
        self.proc = subprocess.Popen([BIN, "serve", "--data", data or self.data, "--listen",
                                      "127.0.0.1:%d" % self.port, *self.extra, *limit],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: see %s/serve.log" % self.root)
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def client(self, tenant="t1", token=None):
        return Client(self.port, tenant, token if token is not None else self.tokens[tenant]["secret"])

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Client:
    def __init__(self, port, tenant, token):
        self.port, self.tenant, self.token = port, tenant, token
        self.conn = None

    def raw(self, method, path, body=None, headers=None, base=True):
        h = {"Content-Type": "application/scim+json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        h.update(headers or {})
        url = ("/scim/v2/%s%s" % (self.tenant, path)) if base else path
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, url, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        j = None
        if data:
            try:
                j = json.loads(data)
            except ValueError:
                j = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, j

    def get(self, p, **kw):
        return self.raw("GET", p, **kw)

    def post(self, p, b, **kw):
        return self.raw("POST", p, b, **kw)

    def put(self, p, b, **kw):
        return self.raw("PUT", p, b, **kw)

    def patch(self, p, b, **kw):
        return self.raw("PATCH", p, b, **kw)

    def delete(self, p, **kw):
        return self.raw("DELETE", p, **kw)


class Check:
    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, cond, msg, extra=None):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: %s%s" % (msg, ("  -- %r" % (extra,)) if extra is not None else ""))
        return cond

    def error_body(self, st, j, status, scim_type=None, msg=""):
        self.ok(st == status, "%s: status %s" % (msg, status), (st, j))
        self.ok(isinstance(j, dict) and j.get("schemas") == ["urn:ietf:params:scim:api:messages:2.0:Error"]
                and j.get("status") == str(status) and j.get("detail"), "%s: SCIM error body" % msg, j)
        if scim_type:
            self.ok(isinstance(j, dict) and j.get("scimType") == scim_type, "%s: scimType %s" % (msg, scim_type), j)

    def done(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch_body(*ops):
    return {"schemas": [PATCHOP], "Operations": list(ops)}


def create_big_users(c, cl, n=40, size=30000):
    """Creates n users big00.. of ~3 * size bytes each (title, nickName,
    displayName) through cl, each checked with c: a page of them costs
    real work to build and send. False when one was not created."""
    blob = "x" * size
    for i in range(n):
        st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "big%02d" % i, "title": blob,
                                      "nickName": blob, "displayName": blob})
        if not c.ok(st == 201, "create big user %d" % i, (st, j)):
            return False
    return True


def files_containing(root, needle):
    """Files under root (relative paths) whose bytes contain needle: where
    erased data could still be (erasure tests)."""
    hits = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            try:
                with open(p, "rb") as f:
                    if needle.encode() in f.read():
                        hits.append(os.path.relpath(p, root))
            except OSError:
                pass
    return hits


# ---- point-in-time tests (asOf): times as the reports API takes them

def asof_ts(ms):
    """RFC 3339 with milliseconds, UTC, for ?asOf= (ms since the epoch)"""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)


def asof_pause():
    """a clear gap between phases (event times have ms resolution); the
    time in ms in the middle of it"""
    time.sleep(0.05)
    t = int(time.time() * 1000)
    time.sleep(0.05)
    return t


def quote_all(f):
    """a filter or value %-encoded for a query string (no safe characters)"""
    return urllib.parse.quote(f, safe="")
