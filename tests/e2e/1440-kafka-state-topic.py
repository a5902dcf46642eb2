"""1440 — the compacted state topic (`serve --kafka ... --state-topic T`):
every applied resource event publishes key tenant/type/id with an envelope
{op, tenant, resourceType, id, before, after, sourcePosition, time} (groups
with their full member list), a delete publishes its envelope and then a
tombstone; the last message per key rebuilds the SCIM view (a consumer can
bootstrap from it); a restart resumes from the acknowledged cursor instead
of publishing everything again; after a kill -9 the state is still
complete (at least once)."""
import json
import random
from scimtest import Check, USER, GROUP, patch_body
from kafkatest import DevKafka, Node, wait_until
from streamtest import Workload

c = Check()
kafka = DevKafka(partitions=2)
node = Node(kafka, tenants=("t1",), extra=["--state-topic", "scim.state"])
node.start()


def state():
    """key -> last value (None = tombstone); also checks per-key partitions."""
    last, part_of = {}, {}
    for p, off, key, hdrs, value in kafka.messages("scim.state", 2):
        if part_of.setdefault(key, p) != p:
            c.ok(False, "key %s in one partition" % key)
        last[key] = json.loads(value) if value else None
    return last


def strip(r):
    r = dict(r)
    r["meta"] = {k: v for k, v in r["meta"].items() if k != "location"}
    return r


def compare(cl, label):
    st = state()
    live = {k: v for k, v in st.items() if v is not None}
    view = {}
    for ep, rt in (("/Users", "User"), ("/Groups", "Group")):
        s, _, j = cl.get(ep + "?count=1000")
        for r in j.get("Resources", []):
            view["t1/%s/%s" % (rt, r["id"])] = strip(r)
    c.ok(set(live) == set(view), label + ": the state topic holds exactly the live resources",
         (sorted(set(live) - set(view))[:3], sorted(set(view) - set(live))[:3]))
    bad = []
    for k in set(live) & set(view):
        after = dict(live[k]["after"])
        want = dict(view[k])
        if k.split("/")[1] == "Group":
            am = sorted(m["value"] for m in after.pop("members", []))
            s, _, full = cl.get("/Groups/" + k.split("/")[2])
            wm = sorted(m["value"] for m in full.get("members", []))
            want.pop("members", None)
            if am != wm:
                bad.append((k, "members", am, wm))
        if after != want:
            bad.append((k, after, want))
        env = live[k]
        if set(env) != {"op", "tenant", "resourceType", "id", "before", "after", "sourcePosition", "time"}:
            bad.append((k, "envelope", sorted(env)))
    c.ok(not bad, label + ": each key's last envelope carries the current state", bad[:3])
    return st


try:
    cl = node.client("t1")
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "s1@example.com", "title": "a"})
    uid = u["id"]
    st, _, u2 = cl.post("/Users", {"schemas": [USER], "userName": "s2@example.com"})
    st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "sg", "members": [{"value": uid}, {"value": u2["id"]}]})
    cl.patch("/Users/" + uid, patch_body({"op": "replace", "path": "title", "value": "b"}))
    cl.delete("/Users/" + u2["id"])
    key_u2 = "t1/User/" + u2["id"]
    c.ok(wait_until(lambda: key_u2 in state() and state()[key_u2] is None, 30), "the delete reached the state topic")
    msgs = [(k, v) for _, _, k, _, v in kafka.messages("scim.state", 2) if k == key_u2]
    c.ok(len(msgs) == 3 and json.loads(msgs[1][1])["op"] == "delete" and json.loads(msgs[1][1])["after"] is None
         and json.loads(msgs[1][1])["before"]["userName"] == "s2@example.com" and msgs[2][1] == b"",
         "create, delete envelope with before, then a tombstone", msgs)
    env = state()["t1/User/" + uid]
    c.ok(env["op"] == "patch" and env["before"]["title"] == "a" and env["after"]["title"] == "b"
         and isinstance(env["sourcePosition"], int), "an update carries before and after", env)
    compare(cl, "after the first writes")

    # restart: nothing is published again
    node.stop()
    marks = [kafka.watermark(p, "scim.state") for p in range(2)]
    node.start()
    cl = node.client("t1")
    st, _, x = cl.post("/Users", {"schemas": [USER], "userName": "after-restart@example.com"})
    c.ok(wait_until(lambda: ("t1/User/" + x["id"]) in state(), 30), "a write after the restart is published")
    marks2 = [kafka.watermark(p, "scim.state") for p in range(2)]
    c.ok(sum(h for _, h in marks2) - sum(h for _, h in marks) == 1,
         "the restart resumed from the cursor (one new message, nothing re-published)", (marks, marks2))

    # a workload, a kill -9, more writes: the state is still complete
    wl = Workload(random.Random(1440))
    for _ in range(40):
        wl.step(cl)
    node.kill9()
    node.start()
    cl = node.client("t1")
    for _ in range(30):
        wl.step(cl)
    st, _, fin = cl.post("/Users", {"schemas": [USER], "userName": "final@example.com"})
    c.ok(wait_until(lambda: ("t1/User/" + fin["id"]) in state(), 30), "the final write is published")
    compare(cl, "after a kill -9")
finally:
    node.cleanup()
    kafka.stop()
c.done()
