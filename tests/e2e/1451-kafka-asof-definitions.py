"""1451 — point-in-time answers in Kafka mode equal a replay of the topic up
to T, for a tenant with a definition, when an external producer writes
events scimlog never validated: the fold (the authority) drops what the
definition does not define (an unknown `urn:` block, an unknown attribute
of a tenant type), applies the defaults (`active`, the talkdesk
`rolesString`), stores extension attribute names in the schema's spelling,
refuses an event without a required attribute; a user is deleted and
re-created under the same id; then a definition change keeps unknown
blocks from there on. asOf (`Users?asOf=T` with filters, `Roles?asOf=T`,
each resource by id) at three times is compared with `scimlog replay
--kafka --until OFFSET` served by an embedded server (its SCIM answers,
without the `returned: never` attribute, and its reports at its end, with
the stored state whole). One partition: offsets are the tenant's order."""
import json
import os
import time
import urllib.parse
import uuid
from scimtest import Check, Server, USER, cli, asof_ts as ts, asof_pause as pause, quote_all as q
from kafkatest import DevKafka, EventWriter, Node, user_event, wait_until

c = Check()
EXT = "urn:ietf:params:scim:schemas:extension:talkdesk:2.0:User"
COL = "urn:acme:params:scim:schemas:extension:colour:2.0:User"  # defined nowhere
ROLE = "urn:acme:params:scim:schemas:core:2.0:Role"
kafka = DevKafka(partitions=1)
node = Node(kafka, tenants=("t1",))
w = EventWriter(3)


def produce(uid, rj, action="CREATE", expect=0, rtype="USER", name=None):
    ev = dict(user_event("t1", uid, "x", action=action, expect_version=expect), schema_version=3,
              resource_type=rtype, resource_json=json.dumps(rj) if rj is not None else None)
    if name:
        ev["resource_type_name"] = name
    kafka.produce("t1", w.encode(ev))


def strip(r, never=()):
    r = json.loads(json.dumps(r))
    r.get("meta", {}).pop("location", None)
    for a in never:
        r.pop(a, None)
    if "schemas" in r:
        r["schemas"] = sorted(r["schemas"])
    return r


with open(os.path.join(os.path.dirname(__file__), "..", "..", "profiles", "talkdesk.json")) as f:
    TD = json.load(f)


def definition(keep=False):
    d = json.loads(json.dumps(TD))
    d["catalogs"]["teams"]["values"] = ["Sales"]
    if keep:
        [r for r in d["resourceTypes"] if r["name"] == "User"][0]["unknownAttributes"] = "keep"
    d["schemas"].append({"id": ROLE, "attributes": [
        {"name": "name", "type": "string", "required": True, "uniqueness": "server"},
        {"name": "secret", "type": "string", "returned": "never"},
        {"name": "level", "type": "integer"}]})
    d["resourceTypes"].append({"name": "Role", "endpoint": "/Roles", "schema": ROLE,
                               "unknownAttributes": "drop"})
    return d


USER_FILTERS = ["", COL + ':favourite eq "blue"', COL + ':favourite pr', 'active eq true',
                EXT + ':rolesString eq "Agent"', EXT + ':rolesString eq "Admin"', 'userName sw "e"',
                'title eq "Ext"']
ROLE_FILTERS = ["", 'name eq "Ext"', 'level eq 3']
ids = {"Users": [], "Roles": []}
snaps, offs = {}, {}
node.start()
try:
    adm = json.loads(cli("tenant", "token", "issue", "t1", "--scope", "tenant-admin",
                         "--data", node.data, "--kafka", kafka.bootstrap).stdout)
    cl = node.client("t1")
    ad = node.client("t1", token=adm["secret"])
    c.ok(wait_until(lambda: ad.raw("GET", "/admin/v1/tenants/t1/schema", base=False)[0] in (200, 404), 20),
         "the tenant-admin token reached the node")
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/t1/schema", definition(), base=False)
    c.ok(st == 201, "definition 1 (talkdesk, unknown dropped, a Role type)", (st, j))
    full = {"schemas": [USER], "name": {"givenName": "E", "familyName": "X"}}

    # ---- external events under definition 1
    e1, e2, bad, r1 = (str(uuid.uuid4()) for _ in range(4))
    produce(e1, dict(full, userName="e1", title="Ext", **{COL: {"favourite": "blue"},
                                                         EXT: {"ROLESSTRING": "Admin"}}))
    produce(e2, dict(full, userName="e2", **{COL: {"favourite": "blue"}}))
    produce(bad, {"schemas": [USER], "userName": "bad"})                    # no name: refused
    produce(r1, {"schemas": [ROLE], "name": "Ext", "secret": "s", "level": 3, "colour": "red"},
            rtype="CUSTOM", name="Role")
    ids["Users"] += [e1, e2, bad]
    ids["Roles"].append(r1)
    c.ok(wait_until(lambda: cl.get("/Roles/" + r1)[0] == 200, 20), "the external events are folded")
    st, _, j = cl.get("/Users/" + e1)
    c.ok(st == 200 and COL not in j and j.get(EXT, {}).get("rolesString") == "Admin" and j.get("active") is True,
         "the fold dropped the block, took the schema's spelling, applied the default", (st, j))
    st, _, j = cl.get("/Users/" + e2)
    c.ok(j.get(EXT, {}).get("rolesString") == "Agent", "the extension default applied by the fold", j)
    T1 = pause()

    # ---- e2 deleted, re-created under its id; e1 replaced
    produce(e2, None, action="DELETE", expect=1)
    produce(e2, dict(full, userName="e2-again", **{COL: {"favourite": "blue"}}))
    produce(e1, dict(full, userName="e1", active=False, **{COL: {"favourite": "green"}}), action="REPLACE", expect=1)
    c.ok(wait_until(lambda: (cl.get("/Users/" + e1)[2] or {}).get("meta", {}).get("version") == 'W/"2"', 20),
         "the replace is folded")
    st, _, j = cl.get("/Users/" + e2)
    c.ok(st == 200 and j.get("userName") == "e2-again" and COL not in j, "e2 re-created under its id", (st, j))
    T2 = pause()

    # ---- definition 2 keeps unknown blocks from here on
    st, _, j = ad.raw("PUT", "/admin/v1/tenants/t1/schema", definition(keep=True), base=False)
    c.ok(st == 200, "definition 2 (unknown blocks kept)", (st, j))
    e3 = str(uuid.uuid4())
    ids["Users"].append(e3)
    produce(e3, dict(full, userName="e3", **{COL: {"favourite": "blue"}}))
    c.ok(wait_until(lambda: cl.get("/Users/" + e3)[0] == 200, 20), "e3 folded")
    st, _, j = cl.get("/Users/" + e3)
    c.ok(j.get(COL) == {"favourite": "blue"}, "kept under definition 2", j)
    T3 = pause()

    for Tm in (T1, T2, T3):
        s = {"list": {}, "one": {}}
        for kind, flts in (("Users", USER_FILTERS), ("Roles", ROLE_FILTERS)):
            for f in flts:
                st, _, j = cl.raw("GET", "/reports/v1/t1/%s?asOf=%s&count=1000%s" % (
                    kind, ts(Tm), "&filter=" + q(f) if f else ""), base=False)
                c.ok(st == 200, "asOf list", (st, j))
                s["list"][(kind, f)] = (j or {}).get("Resources", [])
            for x in ids[kind]:
                st, _, j = cl.raw("GET", "/reports/v1/t1/%s/%s?asOf=%s" % (kind, x, ts(Tm)), base=False)
                s["one"][(kind, x)] = (st, j)
        snaps[Tm] = s
    past = snaps[T2]["list"][("Users", COL + ':favourite eq "blue"')]
    c.ok(past == [], "asOf T2: no user holds the block the fold dropped", past)
    c.ok([r["id"] for r in snaps[T3]["list"][("Users", COL + ':favourite eq "blue"')]] == [e3],
         "asOf T3: only the one written under definition 2", snaps[T3]["list"])
finally:
    node.stop()

srv = Server(tenants=())
for Tm in (T1, T2, T3):
    # messages carry their produce time: --until T takes the data topic
    # up to T (one partition: the tenant's order)
    into = os.path.join(node.root, "at-%d" % Tm)
    cli("replay", "--kafka", kafka.bootstrap, "--into", into, "--until", ts(Tm))
    srv.start(data=into)
    try:
        cl = srv.client("t1", token=node.tokens["t1"]["secret"])
        for (kind, f), pastl in snaps[Tm]["list"].items():
            never = ("secret",) if kind == "Roles" else ()
            st, _, live = cl.get("/%s?count=1000%s" % (kind, "&filter=" + q(f) if f else ""))
            if st != 200:
                continue  # a filter the live list does not take (an undefined block)
            c.ok(sorted(json.dumps(strip(r, never), sort_keys=True) for r in pastl) ==
                 sorted(json.dumps(strip(r, never), sort_keys=True) for r in live["Resources"]),
                 "%s asOf %s filter %r == replay --until (SCIM)" % (kind, ts(Tm), f), (pastl, live))
            st, _, whole = cl.raw("GET", "/reports/v1/t1/%s?asOf=2100-01-01T00:00:00Z&count=1000%s" % (
                kind, "&filter=" + q(f) if f else ""), base=False)
            c.ok(sorted(json.dumps(strip(r), sort_keys=True) for r in pastl) ==
                 sorted(json.dumps(strip(r), sort_keys=True) for r in (whole or {}).get("Resources", [])),
                 "%s asOf %s filter %r == replay --until (stored state whole)" % (kind, ts(Tm), f), (pastl, whole))
        for (kind, x), (st, pastr) in snaps[Tm]["one"].items():
            never = ("secret",) if kind == "Roles" else ()
            lst, _, live = cl.get("/%s/%s" % (kind, x))
            c.ok(st == lst and (st != 200 or strip(pastr, never) == strip(live, never)),
                 "%s/%s asOf %s == replay --until" % (kind, x, ts(Tm)), (st, pastr, lst, live))
    finally:
        srv.stop()
srv.cleanup()
node.cleanup()
kafka.stop()
c.done()
