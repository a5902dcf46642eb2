"""streamtest — a change stream consumer for the e2e tests and ops/bench-stream:
follows GET /stream/v1/{tenant} (JSON lines long poll, or Server-Sent Events),
mirrors the tenant into dictionaries from the records alone (full state after,
tombstones with their membership effects, member deltas), and compares the
mirror with the SCIM view. Stdlib only, every loop bounded."""
import http.client
import json
import socket
import time


class Mirror:
    def __init__(self, tenant, token):
        self.tenant, self.token = tenant, token
        self.pos = 0
        self.users = {}
        self.groups = {}      # id -> {"res": stored group, "members": set()}
        self.refused = []
        self.records = 0
        self.errors = []      # contract violations seen while applying

    # ---------------------------------------------------------- apply
    def apply(self, rec):
        p = rec.get("position")
        if not isinstance(p, int) or p <= self.pos:
            self.errors.append("position %r not after %r" % (p, self.pos))
            return
        self.pos = p
        self.records += 1
        if not rec.get("applied"):
            if not isinstance(rec.get("refused"), dict) or not rec["refused"].get("status"):
                self.errors.append("refused record without refused.status: %r" % rec)
            self.refused.append(rec)
            return
        rid, rt = rec["id"], rec["resourceType"]
        if rec.get("tombstone"):
            if rec["op"] != "delete" or "after" in rec:
                self.errors.append("bad tombstone %r" % rec)
            (self.users if rt == "User" else self.groups).pop(rid, None)
            for fx in rec.get("membershipEffects", []):
                g = self.groups.get(fx["group"])
                if g is not None and fx.get("effect") == "removed":
                    g["members"].discard(fx["member"])
                    if isinstance(fx.get("meta"), dict) and isinstance(g.get("res"), dict):
                        g["res"] = dict(g["res"], meta=fx["meta"])  # its version went up
            return
        after = rec.get("after")
        if not isinstance(after, dict) or after.get("id") != rid:
            self.errors.append("applied record without after state %r" % rec)
            return
        if rec["op"] in ("replace", "patch") and not isinstance(rec.get("before"), dict):
            self.errors.append("update without before state %r" % rec)
        if rt == "User":
            self.users[rid] = after
        else:
            g = self.groups.setdefault(rid, {"members": set()})
            g["res"] = after
            m = rec.get("members")
            if m:
                for r in m["removed"]:
                    g["members"].discard(r)
                for a in m["added"]:
                    g["members"].add(a["value"])

    # ---------------------------------------------------------- follow
    def _conn(self, port, timeout):
        return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def poll(self, port, wait=1, limit=None):
        """One long poll (JSON lines). Returns the records applied; raises
        OSError / HTTPException when the server is away."""
        q = "after=%d&wait=%d" % (self.pos, wait)
        if limit:
            q += "&limit=%d" % limit
        c = self._conn(port, wait + 10)
        try:
            c.request("GET", "/stream/v1/%s?%s" % (self.tenant, q),
                      headers={"Authorization": "Bearer " + self.token})
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError("stream answered %d: %r" % (r.status, body[:300]))
            if r.getheader("Content-Type") != "application/x-ndjson":
                self.errors.append("content type %r" % r.getheader("Content-Type"))
            n = 0
            for line in body.split(b"\n"):
                if line:
                    self.apply(json.loads(line))
                    n += 1
            return n
        finally:
            c.close()

    def sse(self, port, until, seconds=30, last_event_id=None, on_record=None):
        """Follows the stream as Server-Sent Events until until(self) holds
        (checked after every event and keep-alive) or seconds pass. Returns
        the ids seen."""
        c = self._conn(port, 5)
        h = {"Authorization": "Bearer " + self.token, "Accept": "text/event-stream"}
        if last_event_id is not None:
            h["Last-Event-ID"] = str(last_event_id)
        ids = []
        deadline = time.time() + seconds
        try:
            c.request("GET", "/stream/v1/%s?after=%d" % (self.tenant, self.pos), headers=h)
            r = c.getresponse()
            if r.status != 200 or r.getheader("Content-Type") != "text/event-stream":
                raise RuntimeError("SSE answered %d %r" % (r.status, r.getheader("Content-Type")))
            ev = {}
            while time.time() < deadline and not until(self):
                try:
                    line = r.fp.readline()
                except socket.timeout:
                    continue
                if not line:
                    break
                line = line.rstrip(b"\r\n").decode()
                if line == "":
                    if "data" in ev:
                        rec = json.loads(ev["data"])
                        if ev.get("id") != str(rec.get("position")):
                            self.errors.append("SSE id %r is not the position %r" % (ev.get("id"), rec.get("position")))
                        ids.append(int(ev["id"]))
                        self.apply(rec)
                        if on_record:
                            on_record(rec)
                    ev = {}
                elif line.startswith(":"):
                    continue
                elif ":" in line:
                    k, v = line.split(":", 1)
                    ev[k] = v[1:] if v.startswith(" ") else v
            return ids
        finally:
            c.close()

    # ---------------------------------------------------------- compare
    def scim_view(self, client):
        """(users, groups) of the SCIM view through the API, in the mirror's
        shapes (meta.location dropped; groups' members as a set)."""
        def strip(r):
            r = dict(r)
            r["meta"] = {k: v for k, v in r["meta"].items() if k != "location"}
            return r
        users, groups = {}, {}
        for ep, out in (("/Users", users), ("/Groups", groups)):
            start = 1
            while True:
                st, _, j = client.get("%s?startIndex=%d&count=200" % (ep, start))
                if st != 200:
                    raise RuntimeError("list %s: %d %r" % (ep, st, j))
                for r in j.get("Resources", []):
                    out[r["id"]] = strip(r)
                start += len(j.get("Resources", []))
                if not j.get("Resources") or start > j["totalResults"]:
                    break
        gv = {}
        for gid, g in groups.items():
            st, _, full = client.get("/Groups/" + gid)
            members = {m["value"] for m in (full or {}).get("members", [])}
            g.pop("members", None)
            gv[gid] = {"res": g, "members": members}
        return users, gv

    def diff(self, client):
        """Differences between the mirror and the SCIM view ([] = equal)."""
        users, groups = self.scim_view(client)
        out = []
        if set(users) != set(self.users):
            out.append("user ids differ: only view %s, only mirror %s"
                       % (sorted(set(users) - set(self.users))[:5], sorted(set(self.users) - set(users))[:5]))
        for uid in set(users) & set(self.users):
            if users[uid] != self.users[uid]:
                out.append("user %s differs: view %r mirror %r" % (uid, users[uid], self.users[uid]))
        if set(groups) != set(self.groups):
            out.append("group ids differ")
        for gid in set(groups) & set(self.groups):
            if groups[gid]["res"] != self.groups[gid].get("res"):
                out.append("group %s differs: %r vs %r" % (gid, groups[gid]["res"], self.groups[gid].get("res")))
            if groups[gid]["members"] != self.groups[gid]["members"]:
                out.append("group %s members differ: view %r mirror %r"
                           % (gid, groups[gid]["members"], self.groups[gid]["members"]))
        return out


# -------------------------------------------------------------- workload
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Workload:
    """Random SCIM writes of every kind through one client: user create /
    PATCH / PUT / DELETE, group create with members, member add / remove,
    group PUT and DELETE, and a refused duplicate create. Tracks live ids
    from the answers; a write the server could not answer (it was killed)
    is simply not tracked."""

    def __init__(self, rnd):
        self.rnd = rnd
        self.users, self.groups = [], []
        self.n = 0

    def step(self, cl):
        r, self.n = self.rnd, self.n + 1
        k = r.random()
        try:
            if k < 0.30 or len(self.users) < 3:
                st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "u%d-%d@example.com" % (self.n, r.randrange(1 << 30)),
                                              "title": "t%d" % r.randrange(100), "active": True})
                if st == 201:
                    self.users.append(u["id"])
            elif k < 0.42:
                uid = r.choice(self.users)
                cl.patch("/Users/" + uid, {"schemas": [PATCHOP], "Operations": [
                    {"op": "replace", "path": "title", "value": "p%d" % self.n}]})
            elif k < 0.50:
                uid = r.choice(self.users)
                cl.put("/Users/" + uid, {"schemas": [USER], "userName": "put-%s@example.com" % uid, "displayName": "P %d" % self.n})
            elif k < 0.58:
                uid = self.users.pop(r.randrange(len(self.users)))
                cl.delete("/Users/" + uid)
            elif k < 0.68 or not self.groups:
                members = [{"value": v} for v in r.sample(self.users, min(3, len(self.users)))]
                if self.groups and r.random() < 0.3:
                    members.append({"value": r.choice(self.groups)})   # nested group
                st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "g%d" % self.n, "members": members})
                if st == 201:
                    self.groups.append(g["id"])
            elif k < 0.78:
                gid = r.choice(self.groups)
                cl.patch("/Groups/" + gid, {"schemas": [PATCHOP], "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": r.choice(self.users)}]}]})
            elif k < 0.85:
                gid, uid = r.choice(self.groups), r.choice(self.users)
                cl.patch("/Groups/" + gid, {"schemas": [PATCHOP], "Operations": [
                    {"op": "remove", "path": "members[value eq \"%s\"]" % uid}]})
            elif k < 0.90:
                gid = r.choice(self.groups)
                cl.put("/Groups/" + gid, {"schemas": [GROUP], "displayName": "put g%d" % self.n,
                                          "members": [{"value": v} for v in r.sample(self.users, min(2, len(self.users)))]})
            elif k < 0.95:
                gid = self.groups.pop(r.randrange(len(self.groups)))
                cl.delete("/Groups/" + gid)
            else:
                uid = r.choice(self.users)
                st, _, u = cl.get("/Users/" + uid)
                if st == 200:   # duplicate userName: refused (409), flagged in the stream
                    cl.post("/Users", {"schemas": [USER], "userName": u["userName"]})
        except (OSError, http.client.HTTPException):
            cl.conn = None
