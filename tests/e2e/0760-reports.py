"""0760 — reports API (docs/reports-api.md) against the real server:
change records with attribute diffs and actions, refusals logged, filters,
cursor paging, CSV (formula-injection safe), change detail, resource
history, asOf views of users and groups, summary counts, saved reports
(events in the log: they survive a replay), report-only tokens, and tenant
isolation."""
import csv
import http.client
import io
import json
import os
import time
import urllib.parse
from scimtest import Server, Check, USER, GROUP, ENT, cli, patch_body

c = Check()
srv = Server(tenants=("t1", "t2")).start()


def wait_for(fn, what, secs=10):
    """Refusals are logged asynchronously: poll (bounded) until fn() holds."""
    deadline = time.time() + secs
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    c.ok(False, "timed out waiting for " + what)
    return None


def rep(cl, path, headers=None):
    return cl.raw("GET", "/reports/v1/%s%s" % (cl.tenant, path), headers=headers, base=False)


def changes(cl, **params):
    st, h, j = rep(cl, "/changes?" + urllib.parse.urlencode(params))
    c.ok(st == 200, "changes %r" % params, (st, j))
    return j


try:
    c1, c2 = srv.client("t1"), srv.client("t2")

    # ---- writes that make change records
    st, _, u = c1.post("/Users", {"schemas": [USER, ENT], "userName": "alice@x.com", "active": True,
                                  "name": {"givenName": "Al", "familyName": "Smith"},
                                  "emails": [{"type": "work", "value": "alice@x.com"}],
                                  ENT: {"department": "IT"}})
    c.ok(st == 201, "create alice", (st, u))
    uid = u["id"]
    t_created = u["meta"]["created"]
    time.sleep(0.02)
    st, _, _ = c1.patch("/Users/" + uid, patch_body(
        {"op": "replace", "path": "name.givenName", "value": "Alice"},
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "alice@y.com"},
        {"op": "replace", "path": ENT + ":department", "value": "Sales"}))
    c.ok(st == 204, "patch alice", st)
    time.sleep(0.02)
    st, _, after_update = c1.get("/Users/" + uid)
    t_updated = after_update["meta"]["lastModified"]
    time.sleep(0.02)
    st, _, _ = c1.patch("/Users/" + uid, patch_body({"op": "replace", "path": "active", "value": False}))
    c.ok(st == 204, "disable alice", st)
    st, _, _ = c1.patch("/Users/" + uid, patch_body({"op": "replace", "path": "active", "value": True}))
    c.ok(st == 204, "enable alice", st)
    st, _, b = c1.post("/Users", {"schemas": [USER], "userName": "bob@x.com"})
    bid = b["id"]
    st, _, g = c1.post("/Groups", {"schemas": [GROUP], "displayName": "Eng", "members": [{"value": uid}]})
    c.ok(st == 201, "create group", (st, g))
    gid = g["id"]
    time.sleep(0.02)
    t_group_one_member = g["meta"]["created"]
    st, _, _ = c1.patch("/Groups/" + gid, patch_body({"op": "add", "path": "members", "value": [{"value": bid}]}))
    c.ok(st == 204, "add member", st)
    st, _, g2 = c1.get("/Groups/" + gid)
    t_group_two = g2["meta"]["lastModified"]
    time.sleep(0.02)
    st, _, _ = c1.patch("/Groups/" + gid, patch_body({"op": "remove", "path": "members[value eq \"%s\"]" % uid}))
    c.ok(st == 204, "remove member", st)
    # refused writes: 409, 400, 404, 412 (answered at once by ingest)
    st, _, _ = c1.post("/Users", {"schemas": [USER], "userName": "ALICE@x.com"})
    c.ok(st == 409, "duplicate userName refused", st)
    st, _, _ = c1.post("/Users", {"schemas": [USER], "userName": "=HYPERLINK(\"http://evil\")", "active": "maybe"})
    c.ok(st == 400, "bad active refused", st)
    st, _, _ = c1.patch("/Users/no-such-id", patch_body({"op": "replace", "path": "title", "value": "x"}))
    c.ok(st == 404, "patch unknown id refused", st)
    st, _, _ = c1.raw("PATCH", "/Users/" + uid, patch_body({"op": "replace", "path": "title", "value": "x"}),
                      headers={"If-Match": 'W/"1"'})
    c.ok(st == 412, "stale If-Match refused", st)
    time.sleep(0.02)
    st, _, _ = c1.delete("/Users/" + bid)
    c.ok(st == 204, "delete bob", st)
    # 401 for an unknown token: an anonymous access refusal of the tenant
    # the URL names (api/audit.c), without anything from the body
    st, _, _ = srv.client("t1", token="f" * 64).post("/Users", {"schemas": [USER], "userName": "ghost"})
    c.ok(st == 401, "unknown token 401", st)
    # t2 writes something of its own
    st, _, other = c2.post("/Users", {"schemas": [USER], "userName": "carol@t2.com"})
    c.ok(st == 201, "t2 create", st)

    # ---- the change feed
    def refusals():
        j = changes(c1, verdict="refused", count=100)
        return j if len(j["changes"]) >= 5 else None
    j = wait_for(refusals, "5 refusals logged")
    if j:
        statuses = sorted(r["status"] for r in j["changes"])
        c.ok(statuses == [400, 401, 404, 409, 412], "refusals 400/401/404/409/412 recorded", statuses)
        anon = [r for r in j["changes"] if r["status"] == 401][0]
        c.ok(anon["eventAction"] == "access" and anon["actor"] == "anonymous" and anon["userName"] is None,
             "401 record: an anonymous access refusal", anon)
        dup = [r for r in j["changes"] if r["status"] == 409][0]
        c.ok(dup["action"] == "refused" and dup["eventAction"] == "create" and dup["scimType"] == "uniqueness"
             and "taken" in dup["detail"] and dup["userName"] == "ALICE@x.com" and dup["actor"] == srv.tokens["t1"]["token_id"],
             "409 record: action, scimType, detail, request userName, actor", dup)
        nf = [r for r in j["changes"] if r["status"] == 404][0]
        c.ok(nf["id"] == "no-such-id" and nf["eventAction"] == "patch", "404 record names the id", nf)
        pre = [r for r in j["changes"] if r["status"] == 412][0]
        c.ok(pre["id"] == uid and pre["userName"] == "alice@x.com", "412 record names the user", pre)
    allc = changes(c1, count=1000)["changes"]
    c.ok(all(r["tenant"] == "t1" for r in allc), "feed holds only t1 records")
    c.ok(not any(r.get("userName") == "ghost" for r in allc), "401: nothing of the body logged")
    c.ok(not any(r.get("userName") == "carol@t2.com" for r in allc), "t2 record not in t1 feed")
    c.ok([r["seq"] for r in allc] == sorted([r["seq"] for r in allc], reverse=True), "newest first by default")
    by_action = {}
    for r in allc:
        by_action.setdefault(r["action"], []).append(r)
    for a in ["create", "update", "disable", "enable", "member_add", "member_remove", "delete", "refused"]:
        c.ok(a in by_action, "action %s classified" % a, sorted(by_action))
    upd = [r for r in by_action.get("update", []) if r["id"] == uid]
    if c.ok(len(upd) == 1, "one update of alice", upd):
        mods = {m["path"]: (m["old"], m["new"]) for m in upd[0]["modified"]}
        c.ok(mods.get("name.givenName") == ("Al", "Alice"), "diff name.givenName", mods)
        c.ok(mods.get('emails[type eq "work"].value') == ("alice@x.com", "alice@y.com"), "diff typed email", mods)
        c.ok(mods.get(ENT + ":department") == ("IT", "Sales"), "diff enterprise URN attribute", mods)
        c.ok(len(mods) == 3, "no spurious paths (meta, schemas)", mods)
        c.ok(upd[0]["verdict"] == "applied" and upd[0]["status"] == 204 and upd[0]["scimType"] is None
             and upd[0]["requestId"], "applied record fields", upd[0])
    dis = by_action.get("disable", [{}])[0]
    c.ok(dis.get("modified") == [{"path": "active", "old": True, "new": False}], "disable diff", dis)
    madd = by_action.get("member_add", [{}])[0]
    c.ok(madd.get("modified") == [{"path": "members", "added": [bid], "removed": []}], "member add lists the id", madd)
    mrem = by_action.get("member_remove", [{}])[0]
    c.ok(mrem.get("modified") == [{"path": "members", "added": [], "removed": [uid]}], "member remove lists the id", mrem)
    dele = by_action.get("delete", [{}])[0]
    c.ok(dele.get("id") == bid and dele.get("userName") == "bob@x.com", "delete record keeps the userName", dele)

    # ---- filters
    j = changes(c1, action="disable,enable")
    c.ok(sorted(r["action"] for r in j["changes"]) == ["disable", "enable"], "action filter", j)
    j = changes(c1, action="create", order="asc", count=1)
    seen, cur = [], j["nextCursor"]
    seen += [r["seq"] for r in j["changes"]]
    while cur:
        j = changes(c1, action="create", order="asc", count=1, cursor=cur)
        seen += [r["seq"] for r in j["changes"]]
        cur = j["nextCursor"]
        if len(seen) > 10:
            break
    c.ok(seen == sorted(r["seq"] for r in by_action["create"]), "one action (its own index) paged by 1", seen)
    j = changes(c1, attribute="name")
    c.ok([r["action"] for r in j["changes"]] == ["update", "create"], "attribute filter name matches name.givenName", j)
    j = changes(c1, attribute="members", resourceType="Group")
    c.ok(len(j["changes"]) == 3, "attribute members (create, add, remove)", j)
    j = changes(c1, status="409")
    c.ok(len(j["changes"]) == 1 and j["changes"][0]["status"] == 409, "status filter", j)
    j = changes(c1, userName="ALICE@X.COM", verdict="applied")
    c.ok(len(j["changes"]) == 4 and all(r["id"] == uid for r in j["changes"]), "userName filter, case-insensitive", j)
    j = changes(c1, actor=srv.tokens["t1"]["token_id"], resourceType="User", verdict="applied")
    c.ok(len(j["changes"]) == 6, "actor + resourceType filter", [r["action"] for r in j["changes"]])
    j = changes(c1, resource=uid, order="asc")
    c.ok([r["action"] for r in j["changes"]] == ["create", "update", "disable", "enable", "refused"],
         "resource filter uses its history, oldest first", [r["action"] for r in j["changes"]])
    # time range: only changes in [created of alice, lastModified of update]
    j = changes(c1, resource=uid, to=t_updated, order="asc")
    c.ok([r["action"] for r in j["changes"]] == ["create"], "to is exclusive", j)
    j = changes(c1, **{"from": t_created, "to": t_updated, "order": "asc"})
    c.ok([r["action"] for r in j["changes"]] == ["create"], "time range from/to", [r["action"] for r in j["changes"]])
    for bad in [{"from": "yesterday"}, {"count": "0"}, {"action": "explode"}, {"verdict": "maybe"},
                {"cursor": "!!!"}, {"order": "up"}, {"status": "99"}, {"resourceType": "Robot"},
                {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}]:
        st, _, e = rep(c1, "/changes?" + urllib.parse.urlencode(bad))
        c.error_body(st, e, 400, "invalidValue", "bad parameter %r" % bad)

    # ---- cursor paging: pages of 3 cover the feed exactly once
    seen, cur, pages = [], None, 0
    while pages < 100:
        params = {"count": 3}
        if cur:
            params["cursor"] = cur
        j = changes(c1, **params)
        seen += [r["seq"] for r in j["changes"]]
        pages += 1
        cur = j["nextCursor"]
        if not cur:
            break
    c.ok(seen == [r["seq"] for r in allc], "cursor pages = whole feed, no dups, no gaps", (seen, [r["seq"] for r in allc]))
    c.ok(pages == (len(allc) + 2) // 3, "page count", pages)
    # ascending pages of one resource
    j1 = changes(c1, resource=uid, order="asc", count=2)
    j2 = changes(c1, resource=uid, order="asc", count=2, cursor=j1["nextCursor"])
    c.ok([r["action"] for r in j1["changes"] + j2["changes"]] == ["create", "update", "disable", "enable"], "resource pages asc")
    # a time cursor is refused for a resource query
    st, _, e = rep(c1, "/changes?resource=%s&cursor=%s" % (uid, j["nextCursor"] or changes(c1, count=1)["nextCursor"]))
    c.error_body(st, e, 400, "invalidValue", "cursor of another query")

    # ---- CSV
    st, h, _ = rep(c1, "/changes?count=1000", headers={"Accept": "text/csv"})
    c.ok(st == 200 and h.get("content-type", "").startswith("text/csv"), "CSV by Accept", (st, h))
    # Client.raw parses JSON; fetch the CSV text directly
    hc = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    hc.request("GET", "/reports/v1/t1/changes?format=csv&count=1000",
               headers={"Authorization": "Bearer " + srv.tokens["t1"]["secret"]})
    resp = hc.getresponse()
    text = resp.read().decode()
    rows = list(csv.reader(io.StringIO(text)))
    c.ok(rows[0][:3] == ["seq", "time", "resourceType"] and "modified" in rows[0], "CSV header", rows[0])
    c.ok(len(rows) == len(allc) + 1, "CSV row per record", (len(rows), len(allc)))
    c.ok("\r\n" in text, "CSV CRLF line ends")
    inj = [r for r in rows if r[4].startswith("'=HYPERLINK")]
    c.ok(len(inj) == 1, "formula-injection cell prefixed with '", [r[4] for r in rows])
    c.ok(not any(cell[:1] in ("=", "+", "-", "@") for row in rows[1:] for cell in row), "no cell starts with = + - @")
    upd_row = [r for r in rows if r[6] == "update" and r[3] == uid]
    c.ok(upd_row and "name.givenName: Al -> Alice" in upd_row[0][14], "CSV modified text", upd_row)
    hc.request("GET", "/reports/v1/t1/changes?format=csv&count=2",
               headers={"Authorization": "Bearer " + srv.tokens["t1"]["secret"]})
    resp = hc.getresponse()
    resp.read()
    c.ok(resp.getheader("X-Next-Cursor"), "CSV next cursor header")

    # ---- detail
    one = allc[0]
    st, _, d = rep(c1, "/changes/%d" % one["seq"])
    c.ok(st == 200 and d == one, "change detail equals the feed record", (st, d))
    st, _, e = rep(c1, "/changes/%d" % 999999)
    c.error_body(st, e, 404, None, "unknown seq")
    st, _, e = rep(c1, "/changes/abc")
    c.error_body(st, e, 400, "invalidValue", "seq not a number")

    # ---- history
    st, _, hst = rep(c1, "/resources/%s/history" % gid)
    c.ok(st == 200 and hst["resource"] == gid and [r["action"] for r in hst["changes"]] == ["create", "member_add", "member_remove", "delete"]
         and hst["changes"][-1].get("membershipEffects") == [{"group": gid, "member": hst["changes"][-1]["id"], "effect": "removed"}],
         "group history oldest first", hst)
    st, _, e = rep(c1, "/resources/nope/history")
    c.error_body(st, e, 404, None, "history of unknown resource")

    # ---- asOf
    st, h, v = rep(c1, "/Users/%s?asOf=%s" % (uid, urllib.parse.quote(t_created)))
    c.ok(st == 200 and v["name"]["givenName"] == "Al" and v[ENT]["department"] == "IT" and v["meta"]["version"] == 'W/"1"'
         and v["meta"]["location"].endswith("/scim/v2/t1/Users/" + uid) and v["id"] == uid, "user asOf creation", v)
    st, _, v = rep(c1, "/Users/%s?asOf=%s" % (uid, urllib.parse.quote(t_updated)))
    c.ok(st == 200 and v["name"]["givenName"] == "Alice" and v["emails"][0]["value"] == "alice@y.com"
         and v == {**after_update, "meta": {**after_update["meta"], "location": v["meta"]["location"]}},
         "user asOf equals GET at that time", (v, after_update))
    st, _, e = rep(c1, "/Users/%s?asOf=2000-01-01T00:00:00Z" % uid)
    c.error_body(st, e, 404, None, "asOf before creation")
    st, _, v = rep(c1, "/Users/%s?asOf=%d" % (bid, int(time.time() * 1000) + 1000))
    c.error_body(st, v, 404, None, "asOf after deletion")
    st, _, v = rep(c1, "/Groups/%s?asOf=%s" % (gid, urllib.parse.quote(t_group_one_member)))
    c.ok(st == 200 and [m["value"] for m in v.get("members", [])] == [uid] and v["displayName"] == "Eng",
         "group asOf creation: one member", v)
    st, _, v = rep(c1, "/Groups/%s?asOf=%s" % (gid, urllib.parse.quote(t_group_two)))
    c.ok(st == 200 and sorted(m["value"] for m in v.get("members", [])) == sorted([uid, bid]),
         "group asOf after add: two members", v)
    st, _, v = rep(c1, "/Groups/%s?asOf=-0m" % gid)
    c.ok(st == 200 and "members" not in v, "group now: bob deleted, alice removed", v)
    st, _, e = rep(c1, "/Users/%s" % uid)
    c.error_body(st, e, 400, "invalidValue", "asOf required")

    # ---- summary
    st, _, s = rep(c1, "/summary?bucket=hour")
    c.ok(st == 200 and s["bucket"] == "hour" and s["series"], "summary answers", s)
    tot = s["totals"]
    c.ok(tot["total"] == len(allc) and tot["byVerdict"].get("refused") == 5
         and tot["byAction"].get("disable") == 1 and tot["byAction"].get("member_add") == 1,
         "summary totals match the feed", (tot, len(allc)))
    st, _, s = rep(c1, "/summary?bucket=day&from=-2d")
    c.ok(st == 200 and s["totals"]["total"] == len(allc) and s["series"][0]["start"].endswith("T00:00:00.000Z"),
         "summary by day", s)
    st, _, s2 = rep(c2, "/summary")
    c.ok(st == 200 and s2["totals"]["total"] == len(changes(c2, count=1000)["changes"]), "t2 summary only counts t2", s2)
    st, _, e = rep(c1, "/summary?bucket=week")
    c.error_body(st, e, 400, "invalidValue", "bad bucket")

    # ---- report-only token
    # issued while serving: the CLI asks the server (DIR/control.sock)
    rtok = json.loads(cli("tenant", "token", "issue", "t1", "--reports-only", "--data", srv.data).stdout)
    c.ok(rtok.get("secret"), "token issue while the server serves the data dir", rtok)
    srv.stop()
    srv.start()
    c1, c2 = srv.client("t1"), srv.client("t2")
    hc = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    cr = srv.client("t1", token=rtok["secret"])
    st, _, e = cr.get("/Users")
    c.error_body(st, e, 403, None, "report-only token on SCIM")
    st, _, e = cr.post("/Users", {"schemas": [USER], "userName": "nope"})
    c.error_body(st, e, 403, None, "report-only token cannot write SCIM")
    st, _, j = rep(cr, "/changes?count=5")
    c.ok(st == 200 and len(j["changes"]) == 5, "report-only token reads reports", (st, j))

    # ---- tenant isolation
    for path in ["/changes", "/changes/%d" % one["seq"], "/resources/%s/history" % uid, "/Users/%s?asOf=-0m" % uid,
                 "/summary", "/saved"]:
        st, _, e = c2.raw("GET", "/reports/v1/t1" + path, base=False)
        c.error_body(st, e, 401, None, "t2 token on t1 " + path)
        st, _, e = cr.raw("GET", "/reports/v1/t2" + path, base=False)
        c.error_body(st, e, 401, None, "t1 report token on t2 " + path)
    st, _, e = rep(c2, "/changes/%d" % one["seq"])
    c.error_body(st, e, 404, None, "t1 seq under t2's own URL")
    st, _, e = rep(c2, "/resources/%s/history" % uid)
    c.error_body(st, e, 404, None, "t1 resource history under t2")
    st, _, e = rep(c2, "/Users/%s?asOf=-0m" % uid)
    c.error_body(st, e, 404, None, "t1 user asOf under t2")
    t2c = changes(c2, count=1000)["changes"]
    c.ok(t2c and all(r["tenant"] == "t2" for r in t2c), "t2 feed holds only t2", t2c)
    st, _, e = c1.raw("GET", "/reports/v1/t1/changes", base=False, headers={"Authorization": ""})
    c.ok(st == 401, "no token 401", st)

    # ---- saved reports
    sdef = {"description": "who was deprovisioned", "filter": {"action": "delete,disable", "from": "-7d"},
            "columns": ["time", "userName", "action", "actor"], "format": "csv"}
    st, _, d = c1.raw("PUT", "/reports/v1/t1/saved/deprov", sdef, base=False)
    c.ok(st == 201 and d["name"] == "deprov" and d["columns"] == sdef["columns"] and d["created"], "save report", (st, d))
    st, _, d2 = c1.raw("PUT", "/reports/v1/t1/saved/deprov", {**sdef, "description": "v2"}, base=False)
    c.ok(st == 200 and d2["description"] == "v2" and d2["created"] == d["created"], "replace report keeps created", (st, d2))
    st, _, e = cr.raw("PUT", "/reports/v1/t1/saved/x", sdef, base=False)
    c.error_body(st, e, 403, None, "report-only token cannot save")
    for bad in [{"filter": {"action": "explode"}}, {"columns": ["password"]}, {"format": "xml"},
                {"filter": {"bogus": "1"}}, {"filter": "action=delete"}, {"extra": 1}]:
        st, _, e = c1.raw("PUT", "/reports/v1/t1/saved/bad", bad, base=False)
        c.error_body(st, e, 400, "invalidValue", "bad definition %r" % bad)
    st, _, e = c1.raw("PUT", "/reports/v1/t1/saved/bad", "{", base=False)
    c.error_body(st, e, 400, "invalidSyntax", "definition not JSON")
    st, _, e = c1.raw("PUT", "/reports/v1/t1/saved/bad%20name", sdef, base=False)
    c.ok(st == 404, "bad report name", st)
    st, _, lst = rep(cr, "/saved")
    c.ok(st == 200 and [r["name"] for r in lst["reports"]] == ["deprov"], "list saved", lst)
    hc.request("GET", "/reports/v1/t1/saved/deprov/run", headers={"Authorization": "Bearer " + rtok["secret"]})
    resp = hc.getresponse()
    rows = list(csv.reader(io.StringIO(resp.read().decode())))
    c.ok(resp.status == 200 and rows[0] == ["time", "userName", "action", "actor"]
         and sorted(r[2] for r in rows[1:]) == ["delete", "disable"], "run saved report (CSV, columns)", rows)
    st, _, j = rep(cr, "/saved/deprov/run?format=json")
    c.ok(st == 200 and sorted(r["action"] for r in j["changes"]) == ["delete", "disable"]
         and set(j["changes"][0]) == {"time", "userName", "action", "actor"}, "run saved report as JSON", j)
    st, _, e = rep(c2, "/saved/deprov")
    c.error_body(st, e, 404, None, "t2 cannot see t1's saved report")
    st, _, _ = c1.raw("PUT", "/reports/v1/t1/saved/temp", {"filter": {}}, base=False)
    st, _, _ = c1.raw("DELETE", "/reports/v1/t1/saved/temp", base=False)
    c.ok(st == 204, "delete saved report", st)
    st, _, e = c1.raw("DELETE", "/reports/v1/t1/saved/temp", base=False)
    c.error_body(st, e, 404, None, "delete twice")
    st, _, e = rep(c1, "/saved/temp")
    c.error_body(st, e, 404, None, "deleted report gone")
    st, _, e = c1.raw("POST", "/reports/v1/t1/changes", {}, base=False)
    c.ok(st == 405, "reports are read-only", st)

    # ---- everything above is in the log: a replay rebuilds it identically
    feed_before = changes(c1, count=1000)["changes"]
    srv.stop()
    replayed = os.path.join(srv.root, "replayed")
    cli("replay", "--data", srv.data, "--into", replayed)
    d1 = json.loads(cli("digest", "--data", srv.data).stdout)
    d2 = json.loads(cli("digest", "--data", replayed).stdout)
    c.ok(d1["digest"] == d2["digest"], "replay digest equals live (records, indexes, counters, saved reports)", (d1, d2))
    srv.start(data=replayed)
    c1 = srv.client("t1")
    c.ok(changes(c1, count=1000)["changes"] == feed_before, "replayed feed identical")
    st, _, lst = rep(c1, "/saved")
    c.ok(st == 200 and [r["name"] for r in lst["reports"]] == ["deprov"] and lst["reports"][0]["description"] == "v2",
         "saved reports replay", lst)
    st, _, e = srv.client("t1", token=rtok["secret"]).get("/Users")
    c.ok(st == 403, "report-only scope replays", st)
finally:
    srv.cleanup()
c.done()
