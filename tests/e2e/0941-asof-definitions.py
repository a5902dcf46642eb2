"""0941 — point-in-time answers equal a replay `--until T` for a tenant with a
definition of its own that changes in the middle of its history (issue 13
item 4). The tenant starts from the grouptalk profile (extension labels on
users, a description on groups, unknown attributes kept); then a definition
drops unknown user attributes, gives `title` a default, and adds a
resource type of its own (Role, with a `returned: never` attribute); writes
race that change (a write prepared against one definition is folded under
the next one: the fold, the authority, drops and defaults what ingest did
not); then a tightening applied with `force` (stored resources stay as
they are); then the definition is deleted (the built-in model again).

At five times, every asOf answer — `Users?asOf=T` and `Groups?asOf=T` with
and without filters (one on the block the fold drops, one on the
default it adds), `Roles?asOf=T`, and each resource by id — is compared
with a replay of the log up to T served by a second server (its live SCIM
answers, which leave `returned: never` out, and its own reports at its
end, which carry the stored state whole). The asOf answer is what the fold
stored, not what the event carried."""
import json
import os
import threading
import time
import urllib.parse
from scimtest import Check, Server, USER, GROUP, cli, patch_body, asof_ts as ts, asof_pause as pause, quote_all as q

c = Check()
GT_U = "urn:ietf:params:scim:schemas:extension:grouptalk:2.0:User"
GT_G = "urn:ietf:params:scim:schemas:extension:grouptalk:2.0:Group"
ROLE = "urn:acme:params:scim:schemas:core:2.0:Role"
COL = "urn:acme:params:scim:schemas:extension:colour:2.0:User"  # defined nowhere
T = "gt"

srv = Server(tenants=())
tok = json.loads(cli("tenant", "create", T, "--profile", "grouptalk", "--data", srv.data).stdout)
adm = json.loads(cli("tenant", "token", "issue", T, "--scope", "tenant-admin", "--data", srv.data).stdout)
srv.tokens[T] = tok
with open(os.path.join(os.path.dirname(__file__), "..", "..", "profiles", "grouptalk.json")) as f:
    PROFILE = json.load(f)


def definition(drop=False, role=False, force_label=False):
    d = json.loads(json.dumps(PROFILE))
    users = [r for r in d["resourceTypes"] if r["name"] == "User"][0]
    if drop:
        users["unknownAttributes"] = "drop"
        users["defaults"] = {"title": "Staff"}
    if force_label:  # a tightening existing users violate
        for a in d["schemas"][0]["attributes"]:
            if a["name"] == "label1":
                a["canonicalValues"] = ["A", "B"]
    if role:
        d["schemas"].append({"id": ROLE, "attributes": [
            {"name": "name", "type": "string", "required": True, "uniqueness": "server"},
            {"name": "secret", "type": "string", "returned": "never"},
            {"name": "level", "type": "integer"}]})
        d["resourceTypes"].append({"name": "Role", "endpoint": "/Roles", "schema": ROLE,
                                   "unknownAttributes": "drop"})
    return d


def user(cl, name, **extra):
    body = {"schemas": [USER], "userName": name}
    body.update(extra)
    st, _, j = cl.post("/Users", body)
    c.ok(st == 201, "create " + name, (st, j))
    return j["id"] if st == 201 else None


def strip(r, never=()):
    """an answer without what differs by server (location) or by kind of
    answer (`returned: never`: left out of SCIM answers, kept in reports)"""
    r = json.loads(json.dumps(r))
    r.get("meta", {}).pop("location", None)
    for a in never:
        r.pop(a, None)
    if "members" in r:
        r["members"] = sorted((m["value"], m.get("display"), m.get("type")) for m in r["members"])
    if "schemas" in r:
        r["schemas"] = sorted(r["schemas"])
    return r


def listing(cl, path):
    st, _, j = cl.raw("GET", path, base=False)
    c.ok(st == 200, "GET " + path, (st, j))
    return (j or {}).get("Resources", [])


USER_FILTERS = ["", 'title eq "Staff"', COL + ':favourite eq "blue"', COL + ':favourite pr',
                'userName sw "race"', 'title pr', GT_U + ':label1 eq "A"', GT_U + ':label1 eq "x1"',
                'active eq true', 'not (title eq "Staff")']
GROUP_FILTERS = ["", 'displayName sw "G"', GT_G + ':description eq "first"']
ROLE_FILTERS = ["", 'name eq "Agent"', 'level eq 3']


def snap(Tm):
    """every asOf answer at Tm, and the last change seq then"""
    s = {"list": {}, "one": {}}
    for kind, flts in (("Users", USER_FILTERS), ("Groups", GROUP_FILTERS), ("Roles", ROLE_FILTERS)):
        for f in flts:
            st, _, j = cl.raw("GET", "/reports/v1/%s/%s?asOf=%s&count=1000%s" % (
                T, kind, ts(Tm), "&filter=" + q(f) if f else ""), base=False)
            s["list"][(kind, f)] = (st, (j or {}).get("Resources"))
        for x in ids[kind]:
            st, _, j = cl.raw("GET", "/reports/v1/%s/%s/%s?asOf=%s" % (T, kind, x, ts(Tm)), base=False)
            s["one"][(kind, x)] = (st, j)
    snaps[Tm] = s
    st, _, j = cl.raw("GET", "/reports/v1/%s/changes?to=%s&order=desc&count=1" % (T, ts(Tm)), base=False)
    seqs[Tm] = j["changes"][0]["seq"]


snaps, seqs = {}, {}
times = ()
ids = {"Users": [], "Groups": [], "Roles": []}
srv.start()
try:
    cl = srv.client(T)
    ad = srv.client(T, token=adm["secret"])

    # ---- generation 1: the grouptalk profile, unknown attributes kept
    for i in range(6):
        ids["Users"].append(user(cl, "u%d@x.com" % i, **{COL: {"favourite": "blue"},
                                    GT_U: {"label1": "x%d" % i, "label2": "two"}}))
    st, _, g = cl.post("/Groups", {"schemas": [GROUP, GT_G], "displayName": "G",
                                   GT_G: {"description": "first"},
                                   "members": [{"value": ids["Users"][0], "display": "zero"},
                                               {"value": ids["Users"][1], "display": "one"},
                                               {"value": ids["Users"][2]}]})
    c.ok(st == 201, "group with an extension and display names", (st, g))
    ids["Groups"].append(g["id"])
    T1 = pause()

    # ---- generation 2, raced by writes prepared against generation 1
    race_ids, stop = [], threading.Event()

    def racer(k):
        rc = srv.client(T)
        n = 0
        while not stop.is_set() and n < 60:
            st, _, j = rc.post("/Users", {"schemas": [USER], "userName": "race%d-%d@x.com" % (k, n),
                                          COL: {"favourite": "blue"}})
            if st == 201:
                race_ids.append(j["id"])
            n += 1

    threads = [threading.Thread(target=racer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.15)
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/%s/schema" % T, definition(drop=True, role=True), base=False)
    c.ok(st == 200 and j.get("generation") == 2, "definition 2 put while users are written", (st, j))
    time.sleep(0.15)
    stop.set()
    for t in threads:
        t.join()
    ids["Users"] += race_ids
    st, _, j = cl.patch("/Users/" + ids["Users"][1], patch_body(
        {"op": "replace", "path": GT_U + ":label1", "value": "A"}))
    c.ok(st in (200, 204), "patch under definition 2", (st, j))
    st, _, j = cl.put("/Users/" + ids["Users"][2], {"schemas": [USER], "userName": "u2@x.com",
                                                    COL: {"favourite": "green"}, "title": "Boss"})
    c.ok(st == 200 and COL not in j, "PUT drops the unknown block now", (st, j))
    later = user(cl, "later@x.com", **{COL: {"favourite": "blue"}})
    ids["Users"].append(later)
    for name, lvl in (("Agent", 1), ("Admin", 3), ("Gone", 2)):
        st, _, r = cl.post("/Roles", {"schemas": [ROLE], "name": name, "secret": "s-" + name, "level": lvl,
                                      "colour": "red"})
        c.ok(st == 201 and "secret" not in r and "colour" not in r, "role " + name, (st, r))
        ids["Roles"].append(r["id"])
    st, _, j = cl.patch("/Groups/" + g["id"], patch_body(
        {"op": "remove", "path": 'members[value eq "%s"]' % ids["Users"][0]},
        {"op": "add", "path": "members", "value": [{"value": later, "display": "late one"}]}))
    c.ok(st in (200, 204), "group members changed", (st, j))
    T2 = pause()

    # ---- generation 3: a tightening, with force (stored users keep x0..)
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/%s/schema" % T,
                      definition(drop=True, role=True, force_label=True), base=False)
    c.ok(st == 409, "the tightening is refused without force", (st, j))
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/%s/schema?force=true" % T,
                      definition(drop=True, role=True, force_label=True), base=False)
    c.ok(st == 200 and j.get("generation") == 3, "applied with force", (st, j))
    st, _, j = cl.patch("/Users/" + ids["Users"][3], patch_body(
        {"op": "replace", "path": GT_U + ":label1", "value": "B"}))
    c.ok(st in (200, 204), "a stored user made to comply", (st, j))
    st, _, j = cl.delete("/Users/" + ids["Users"][1])                 # a member of G
    c.ok(st == 204, "a member deleted", st)
    st, _, j = cl.delete("/Roles/" + ids["Roles"][2])
    c.ok(st == 204, "a role deleted", st)
    st, _, r = cl.patch("/Roles/" + ids["Roles"][1], patch_body({"op": "replace", "path": "level", "value": 4}))
    c.ok(st in (200, 204), "a role patched", (st, r))
    T3 = pause()
    for Tm in (T1, T2, T3):  # Roles: while the type is defined
        snap(Tm)

    # ---- the definition deleted: the built-in model (unknown kept again)
    st, _, j = ad.raw("DELETE", "/admin/v1/tenants/%s/schema?force=true" % T, base=False)
    c.ok(st in (200, 204), "definition deleted", (st, j))
    ids["Users"].append(user(cl, "plain@x.com", **{COL: {"favourite": "blue"}}))
    st, _, j = cl.put("/Users/" + ids["Users"][4], {"schemas": [USER], "userName": "u4@x.com",
                                                    COL: {"favourite": "red"}})
    c.ok(st == 200 and j.get(COL) == {"favourite": "red"}, "unknown blocks kept again", (st, j))
    T4 = pause()
    snap(T4)
    times = (T1, T2, T3, T4)
    # the race: some writes were prepared against definition 1 and folded
    # under definition 2 (their events carry the colour block, no title)
    u2 = snaps[T4]["one"][("Users", ids["Users"][2])][1]
    c.ok(u2.get("title") == "Boss" and COL not in u2, "u2 asOf T4 as PUT stored it", u2)
    c.ok(len(race_ids) >= 12, "users written across the definition change", len(race_ids))
finally:
    srv.stop()

for Tm in times:
    into = os.path.join(srv.root, "until-%d" % seqs[Tm])
    cli("replay", "--data", srv.data, "--into", into, "--until", str(seqs[Tm]))
    srv.start(data=into)
    try:
        cl = srv.client(T)
        st, _, d = srv.client(T, token=adm["secret"]).raw("GET", "/admin/v1/tenants/%s/schema" % T, base=False)
        roles_defined = any(r.get("name") == "Role" for r in
                            ((d or {}).get("definition") or {}).get("resourceTypes", []))
        for (kind, f), (st, past) in snaps[Tm]["list"].items():
            if kind == "Roles" and not roles_defined:
                continue  # no such type then (the route follows today's definition)
            never = ("secret",) if kind == "Roles" else ()
            lst, _, live = cl.get("/%s?count=1000%s" % (kind, "&filter=" + q(f) if f else ""))
            whole = listing(cl, "/reports/v1/%s/%s?asOf=2100-01-01T00:00:00Z&count=1000%s" % (
                T, kind, "&filter=" + q(f) if f else ""))
            if lst != 200:  # a filter today's model knows but the model then did not
                c.ok(st in (200, 400), "%s %r at %s: answered" % (kind, f, ts(Tm)), st)
                continue
            c.ok(st == 200 and sorted(json.dumps(strip(r, never), sort_keys=True) for r in past) ==
                 sorted(json.dumps(strip(r, never), sort_keys=True) for r in live["Resources"]),
                 "%s asOf %s filter %r == a replay --until %d (SCIM)" % (kind, ts(Tm), f, seqs[Tm]),
                 (past, live["Resources"]))
            c.ok(sorted(json.dumps(strip(r), sort_keys=True) for r in past or []) ==
                 sorted(json.dumps(strip(r), sort_keys=True) for r in whole),
                 "%s asOf %s filter %r == a replay --until %d (stored state whole)" % (kind, ts(Tm), f, seqs[Tm]),
                 (past, whole))
        for (kind, x), (st, past) in snaps[Tm]["one"].items():
            if kind == "Roles" and not roles_defined:
                continue
            never = ("secret",) if kind == "Roles" else ()
            lst, _, live = cl.get("/%s/%s" % (kind, x))
            c.ok(st == lst and (st != 200 or strip(past, never) == strip(live, never)),
                 "%s/%s asOf %s == a replay --until %d" % (kind, x, ts(Tm), seqs[Tm]), (st, past, lst, live))
    finally:
        srv.stop()
srv.cleanup()
c.done()
