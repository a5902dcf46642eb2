"""0930 — retention and log snapshots (issue 12 item 7).

Change-record retention per tenant: records older than the retention are
pruned by TENANT_UPDATE events (so replay prunes the same), what they did to
their resources is kept as a base, so asOf and history still answer from the
retained horizon on (410 before it), the change feed and the change stream
say what they cover (`retainedFrom`, 410 for a stream position before it).

Log snapshots: `scimlog snapshot` checkpoints the views without the log;
`--truncate` deletes the log up to the newest snapshot no retained record
needs. Replay, verify, backup/restore start from that base and give the
same digest as the live views; erasure reaches the snapshots too. The
server's own pruner (--prune-interval) prunes without being asked."""
import json
import os
import time
from scimtest import files_containing as scim_files_containing
from scimtest import Check, Server, USER, GROUP, cli, patch_body

c = Check()
srv = Server(tenants=("t1", "t2", "gone"))
OP = "op-" + "7" * 40
with open(os.path.join(srv.root, "op"), "w") as f:
    f.write(OP)
srv.extra = ["--operator-token-file", os.path.join(srv.root, "op"), "--prune-interval", "0"]
srv.start()
MARK = "Xavier-Erasable-4417"


def files_containing(needle):
    return scim_files_containing(srv.data, needle)


def ts(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)


def strip(r):
    """What asOf and a live read share: attributes, members as a set."""
    out = {k: v for k, v in r.items() if k not in ("meta", "members", "groups")}
    out["members"] = sorted(m["value"] for m in r.get("members", []))
    out["version"] = r.get("meta", {}).get("version")
    return out


def snapshot(*extra):
    p = cli("snapshot", "--data", srv.data, *extra, check=False)
    c.ok(p.returncode == 0, "scimlog snapshot %s" % " ".join(extra), p.stderr)
    return json.loads(p.stdout) if p.returncode == 0 else {}


try:
    op = srv.client("x", token=OP)
    t1, t2, gone = srv.client("t1"), srv.client("t2"), srv.client("gone")
    # -- phase A: history that will be pruned
    t0 = int(time.time() * 1000)
    u = {}
    for n in ("u1", "u2", "u3", "u4"):
        st, _, j = t1.post("/Users", {"schemas": [USER], "userName": n + "@x.com", "title": "A"})
        c.ok(st == 201, "A: create " + n, (st, j))
        u[n] = j["id"]
    t1.patch("/Users/" + u["u1"], patch_body({"op": "replace", "path": "title", "value": "A2"}))
    st, _, g = t1.post("/Groups", {"schemas": [GROUP], "displayName": "grp",
                                   "members": [{"value": u["u1"]}, {"value": u["u2"]}, {"value": u["u3"]}]})
    c.ok(st == 201, "A: group with u1 u2 u3", (st, g))
    st, _, v2 = t2.post("/Users", {"schemas": [USER], "userName": "v@x.com"})
    st, _, gu = gone.post("/Users", {"schemas": [USER], "userName": MARK + "@x.com", "displayName": MARK})
    c.ok(st == 201, "A: the tenant that will be erased", (st, gu))
    s1 = snapshot()
    c.ok(s1.get("snapshot") and s1.get("logBase") == 0, "snapshot S1 after phase A", s1)
    a_end = int(time.time() * 1000)
    time.sleep(6)
    # -- phase B: history that stays
    b_start = int(time.time() * 1000)
    t1.patch("/Users/" + u["u2"], patch_body({"op": "replace", "path": "title", "value": "B"}))
    st, _, _ = t1.delete("/Users/" + u["u3"])
    c.ok(st == 204, "B: delete u3 (a member of grp)", st)
    t1.patch("/Groups/" + g["id"], patch_body({"op": "add", "path": "members", "value": [{"value": u["u4"]}]}))

    # -- the retention: 3 s (phase A is >= 6 s old, phase B is not)
    for name in ("t1", "t2", "gone"):
        st, _, j = op.raw("PATCH", "/admin/v1/tenants/" + name, {"changeRetentionSeconds": 3}, base=False)
        c.ok(st == 200 and j.get("pruned", 0) > 0 and j.get("retainedFrom"),
             "%s: retention set, phase A pruned by the same event" % name, (st, j))
    st, _, j = op.raw("PATCH", "/admin/v1/tenants/t1", {"changeRetentionDays": "x"}, base=False)
    c.error_body(st, j, 400, "invalidValue", "a bad retention is refused")
    c.ok("changeRetentionDays" in j.get("detail", ""), "the detail names the setting", j)
    st, _, j = op.raw("PATCH", "/admin/v1/tenants/t1", {"keepFor": 3}, base=False)
    c.error_body(st, j, 400, "invalidValue", "an unknown setting is refused")
    st, _, d = op.raw("GET", "/admin/v1/tenants/t1", base=False)
    c.ok(st == 200 and d["changeRetention"]["changeRetentionSeconds"] == 3, "describe shows the retention", d)

    st, _, j = t1.raw("GET", "/reports/v1/t1/changes?count=100", base=False)
    c.ok(st == 200 and j.get("retainedFrom"), "the feed says what it covers", j.get("retainedFrom"))
    times = [ch["appliedAt"] for ch in j["changes"]]
    c.ok(all(t >= ts(a_end) for t in times), "no record of phase A is left", times)
    c.ok(any(ch.get("id") == u["u2"] for ch in j["changes"]), "phase B is kept", len(j["changes"]))
    st, _, j = t1.raw("GET", "/reports/v1/t1/resources/%s/history" % u["u1"], base=False)
    c.ok(st == 200 and j["changes"] == [] and j.get("retainedFrom"), "u1's history: nothing retained", j)

    # asOf from the bases: equal to the live views now
    now = ts(int(time.time() * 1000) + 1000)
    for n in ("u1", "u2", "u4"):
        st, _, live = t1.get("/Users/" + u[n])
        st2, _, past = t1.raw("GET", "/reports/v1/t1/Users/%s?asOf=%s" % (u[n], now), base=False)
        c.ok(st2 == 200 and strip(past) == strip(live), "asOf now of %s equals the live view" % n, (past, live))
    st, _, live = t1.get("/Groups/" + g["id"])
    st2, _, past = t1.raw("GET", "/reports/v1/t1/Groups/%s?asOf=%s" % (g["id"], now), base=False)
    c.ok(st2 == 200 and strip(past) == strip(live), "asOf now of the group (deleted member gone, u4 in)",
         (past, live))
    st, _, j = t1.raw("GET", "/reports/v1/t1/Users/%s?asOf=%s" % (u["u1"], ts(t0)), base=False)
    c.error_body(st, j, 410, None, "asOf before the retained history is 410")
    c.ok("retained" in j.get("detail", ""), "naming the retention", j)
    st, _, j = t1.raw("GET", "/reports/v1/t1/Users/%s?asOf=%s" % (u["u3"], now), base=False)
    c.ok(st == 404, "asOf now of the deleted u3: did not exist", (st, j))

    # the change stream
    st, _, j = t1.raw("GET", "/stream/v1/t1?after=0&wait=0", base=False)
    c.error_body(st, j, 410, None, "a stream position before the horizon is 410")
    ret = op.raw("GET", "/admin/v1/tenants/t1", base=False)[2]["changeRetention"]
    st, _, body = t1.raw("GET", "/stream/v1/t1?after=%d&wait=0" % ret["retainedAfterPosition"], base=False)
    c.ok(st == 200, "the stream resumes from the horizon", (st, body))

    # -- truncation: S1 is older than every retained record
    s2 = snapshot("--truncate")
    c.ok(s2.get("logBase") == s1["position"], "the log now starts after S1", s2)
    c.ok([s["position"] for s in s2.get("snapshots", [])] == [s1["position"], s2["position"]],
         "S1 (the base) and S2 are kept", s2)
    st, _, live = t1.get("/Users/" + u["u2"])
    st2, _, past = t1.raw("GET", "/reports/v1/t1/Users/%s?asOf=%s" % (u["u2"], now), base=False)
    c.ok(st2 == 200 and strip(past) == strip(live), "asOf still answers after the truncation", past)

    # -- erasure reaches the snapshots
    st, _, j = op.raw("DELETE", "/admin/v1/tenants/gone", base=False)
    c.ok(st == 200, "erase 'gone'", (st, j))
    c.ok(files_containing(MARK) == [], "no file (snapshots included) holds the erased data",
         files_containing(MARK))
finally:
    srv.stop()
if os.environ.get("KEEP"):
    os.system("cp -a %s /tmp/keep0930" % srv.data)

# -- replay, verify, backup/restore from the base snapshot
d1 = json.loads(cli("digest", "--data", srv.data).stdout)["digest"]
into = os.path.join(srv.root, "replayed")
p = cli("replay", "--data", srv.data, "--into", into, check=False)
c.ok(p.returncode == 0, "replay of a truncated log", p.stderr)
d2 = json.loads(cli("digest", "--data", into).stdout)["digest"]
c.ok(d1 == d2, "replay (base snapshot + log after it) gives the live digest", (d1, d2))
if d1 != d2:
    a = json.loads(cli("digest", "--data", srv.data).stdout)["columnFamilies"]
    b = json.loads(cli("digest", "--data", into).stdout)["columnFamilies"]
    print("differing column families:", [k for k in a if a[k] != b.get(k)])
p = cli("verify", "--data", srv.data, check=False)
c.ok(p.returncode == 0 and json.loads(p.stdout)["equal"], "verify", (p.stdout, p.stderr))
p = cli("replay", "--data", srv.data, "--into", os.path.join(srv.root, "r2"), "--until", "2", check=False)
c.ok(p.returncode == 1 and "truncated" in p.stderr, "replay --until before the base is refused", p.stderr)
again = os.path.join(srv.root, "again")
p = cli("replay", "--data", into, "--into", again, check=False)
c.ok(p.returncode == 0 and json.loads(cli("digest", "--data", again).stdout)["digest"] == d1,
     "the replayed dir carries its base and replays again", p.stderr)
bk = os.path.join(srv.root, "bk")
cli("backup", "--data", srv.data, "--to", bk)
rs = os.path.join(srv.root, "restored")
p = cli("restore", "--from", bk, "--data", rs, check=False)
c.ok(p.returncode == 0 and json.loads(p.stdout)["digest"] == d1, "backup + restore", (p.stdout, p.stderr))
p = cli("verify", "--data", rs, check=False)
c.ok(p.returncode == 0, "the restored dir verifies (it has its base)", p.stdout + p.stderr)

# -- the server prunes by itself
srv.extra = ["--operator-token-file", os.path.join(srv.root, "op"), "--prune-interval", "1",
             "--snapshot-interval", "1"]
srv.start()
try:
    t1 = srv.client("t1")
    deadline = time.time() + 60
    pruned = None
    while time.time() < deadline:
        st, _, j = t1.raw("GET", "/reports/v1/t1/resources/%s/history" % u["u2"], base=False)
        if st == 200 and j["changes"] == []:
            pruned = j
            break
        time.sleep(0.5)
    c.ok(pruned is not None, "the pruner removed phase B once it was older than the retention")
    st, _, j = t1.raw("GET", "/reports/v1/t1/changes?count=100&action=tenant_update", base=False)
    c.ok(st == 200 and any(ch.get("actor") == "retention" for ch in j["changes"]),
         "its prune events are in the log, actor 'retention'", j)
    # its snapshots: the log base moves on once the pruned history allows
    deadline = time.time() + 60
    lst = {}
    while time.time() < deadline:
        lst = json.loads(cli("snapshot", "--data", srv.data, "--list").stdout)
        if lst["logBase"] > s1["position"]:
            break
        time.sleep(0.5)
    c.ok(lst.get("logBase", 0) > s1["position"], "the server snapshots and truncates by itself", lst)
    c.ok(len(lst.get("snapshots", [])) <= 4, "snapshots stay bounded (base + 3)", lst)
finally:
    srv.stop()
d1 = json.loads(cli("digest", "--data", srv.data).stdout)["digest"]
into = os.path.join(srv.root, "replayed3")
cli("replay", "--data", srv.data, "--into", into)
c.ok(json.loads(cli("digest", "--data", into).stdout)["digest"] == d1,
     "replay after the server's own truncation: same digest")
srv.cleanup()
c.done()
