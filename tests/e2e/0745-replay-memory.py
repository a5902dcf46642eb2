"""0745 — replay under a memory budget: a mixed history written over HTTP
(creates, PATCHes, memberships, deletes of users that are group members,
deletes of groups, a user deleted and its group changed in the same
moment) replays into identical views (same digest, every column family)
with the default budget and with the smallest one (`--memory-mb 48`);
the deleted members' groups show in their change stream records exactly
as the live fold wrote them; bad budgets are refused before anything is
written; `serve --memory-mb` starts and answers."""
import http.client
import json
import os
from scimtest import Server, Check, USER, cli, patch_body

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
c = Check()
srv = Server().start()
cl = srv.client()

users = []
for i in range(60):
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "m%02d" % i, "title": "t%d" % (i % 7)})
    c.ok(st == 201, "user %d created" % i, (st, j))
    users.append(j["id"])
groups = []
for g in range(5):
    members = [{"value": users[k]} for k in range(g, 60, 5)]
    st, _, j = cl.post("/Groups", {"schemas": [GROUP], "displayName": "g%d" % g, "members": members})
    c.ok(st == 201, "group %d created" % g, (st, j))
    groups.append(j["id"])
# a user in several groups: deleting it must list every one of them
for g in groups[1:]:
    st, _, _ = cl.patch("/Groups/" + g, patch_body({"op": "add", "path": "members", "value": [{"value": users[0]}]}))
    c.ok(st in (200, 204), "user 0 added to another group", st)
for i in range(0, 60, 3):
    st, _, _ = cl.patch("/Users/" + users[i], patch_body({"op": "replace", "path": "title", "value": "p%d" % i}))
    c.ok(st in (200, 204), "user %d patched" % i, st)
deleted = [users[0]] + users[10:60:9]
for u in deleted:
    st, _, _ = cl.delete("/Users/" + u)
    c.ok(st == 204, "member %s deleted" % u, st)
st, _, _ = cl.patch("/Groups/" + groups[2], patch_body({"op": "remove", "path": "members[value eq \"%s\"]" % users[2]}))
c.ok(st in (200, 204), "member removed", st)
st, _, _ = cl.delete("/Groups/" + groups[4])
c.ok(st == 204, "group 4 deleted", st)
# the same user deleted twice (the second is refused) and re-created
st, _, _ = cl.delete("/Users/" + users[0])
c.ok(st == 404, "second delete refused", st)
st, _, _ = cl.post("/Users", {"schemas": [USER], "userName": "m00"})
c.ok(st == 201, "userName free again after the delete", st)

# the live fold's stream records of the deletes: groups listed
records, pos = [], 0
for _ in range(100):
    hc = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    hc.request("GET", "/stream/v1/t1?after=%d&wait=0" % pos,
               headers={"Authorization": "Bearer " + srv.tokens["t1"]["secret"]})
    r = hc.getresponse()
    body = r.read()
    hc.close()
    c.ok(r.status == 200, "stream readable", (r.status, body[:200]))
    page = [json.loads(x) for x in body.split(b"\n") if x]
    if not page:
        break
    records += page
    pos = page[-1]["position"]
live_effects = {}
for r in records:
    if r.get("op") == "delete" and r.get("resourceType") == "User" and r.get("applied"):
        live_effects[r["id"]] = sorted(e["group"] for e in r.get("membershipEffects", []))
c.ok(live_effects.get(users[0]) == sorted(groups),
     "user 0's delete lists all five groups it was in", live_effects.get(users[0]))
c.ok(len(live_effects) == len(deleted), "one tombstone per deleted user", len(live_effects))
srv.stop()

d0 = json.loads(cli("digest", "--data", srv.data).stdout)
for budget in (None, "48", "4096"):
    into = os.path.join(srv.root, "replayed-%s" % (budget or "default"))
    args = ["replay", "--data", srv.data, "--into", into]
    if budget:
        args += ["--memory-mb", budget]
    p = cli(*args)
    out = json.loads(p.stdout)
    c.ok(out.get("position") == d0["position"], "replay (%s) reached the log's end" % budget, p.stdout)
    # where its CPU went, by thread: every event was folded on the fold
    # thread, read by the reader and written by the writer
    cpu = out.get("cpu_s", {})
    c.ok(sorted(cpu) == ["fold", "other", "reader", "writer"] and
         all(isinstance(v, (int, float)) and v >= 0 for v in cpu.values()) and
         cpu["fold"] > 0, "replay (%s) reports its CPU by thread" % budget, p.stdout)
    d = json.loads(cli("digest", "--data", into).stdout)
    c.ok(d == d0, "replay with --memory-mb %s gives the live views (every column family)" % budget,
         [k for k in d0["columnFamilies"] if d0["columnFamilies"][k] != d["columnFamilies"].get(k)])

# refused budgets: nothing written, a message naming the flag
for bad in ("0", "47", "-5", "12x", "", "99999999999999999999"):
    into = os.path.join(srv.root, "bad")
    p = cli("replay", "--data", srv.data, "--into", into, "--memory-mb", bad, check=False)
    c.ok(p.returncode != 0 and "--memory-mb" in p.stderr, "budget %r refused" % bad, (p.returncode, p.stderr))
    c.ok(not os.path.exists(os.path.join(into, "CURRENT")), "nothing written for budget %r" % bad)
p = cli("serve", "--data", srv.data, "--memory-mb", "1", check=False)
c.ok(p.returncode != 0 and "--memory-mb" in p.stderr, "serve refuses a budget below 48", (p.returncode, p.stderr))
# the config key's environment form reaches the same check
os.environ["SCIMLOG_MEMORY_MB"] = "7"
p = cli("serve", "--data", srv.data, check=False)
del os.environ["SCIMLOG_MEMORY_MB"]
c.ok(p.returncode != 0 and "--memory-mb" in p.stderr, "SCIMLOG_MEMORY_MB=7 refused too", (p.returncode, p.stderr))

# serve under a budget: answers from the same views
srv.extra = ["--memory-mb", "64"]
srv.start()
cl = srv.client()
st, _, j = cl.get("/Users?count=0")
c.ok(st == 200 and j["totalResults"] == 60 - len(deleted) + 1, "serve --memory-mb 64 answers", (st, j))
st, _, j = cl.get("/Groups/" + groups[0])
c.ok(st == 200 and users[0] not in [m["value"] for m in j.get("members", [])],
     "the deleted member is gone from its group", j)
srv.cleanup()
c.done()
