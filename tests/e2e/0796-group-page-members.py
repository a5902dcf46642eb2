"""0796 — the answer-page budget counts group members: a page of groups
stops once their members fill it, like a page of large resources, and
says there is more (itemsPerPage, nextCursor). Before, members were not
counted, so 100 groups of 2,000 members made one 30 MB answer whatever
--unsent-limit-mb said (peak RSS ~1 GB under ASan); with groups of 20,000
members a page of 1,000 groups would be gigabytes. Paging on with the
cursor or startIndex still returns every group with all its members, also
for an indexed filter (displayName eq) that matches them all. The same
for users listed with attributes=groups (600 users in 40 groups: 3.6 MB
in one page before)."""
import json
import threading
import urllib.parse
from scimtest import Check, Server, USER

c = Check()
# --unsent-limit-mb 1: the page budget is half the room left (~512 KiB)
srv = Server(tenants=("a",), extra=["--unsent-limit-mb", "1"]).start()
NU, NG = 600, 40
try:
    ids, lock = [], threading.Lock()

    def users(k):
        cl = srv.client("a")
        for i in range(k, NU, 4):
            st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "member%04d" % i,
                                          "displayName": "Member Display Name %04d" % i})
            with lock:
                ids.append(j["id"])
    ts = [threading.Thread(target=users, args=(k,)) for k in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    c.ok(len(ids) == NU, "users created", len(ids))
    bad = []

    def groups(k):
        cl = srv.client("a")
        for g in range(k, NG, 4):
            st, _, j = cl.post("/Groups", {"displayName": "same name", "externalId": "g%02d" % g,
                                           "members": [{"value": u} for u in ids]})
            if st != 201:
                bad.append((st, j))
    ts = [threading.Thread(target=groups, args=(k,)) for k in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    c.ok(not bad, "groups of %d members created" % NU, bad[:2])

    cl = srv.client("a")
    for label, first, nxt in (
            ("startIndex", "/Groups?count=1000", lambda j, seen: "/Groups?count=1000&startIndex=%d" % (seen + 1)),
            ("cursor", "/Groups?count=1000&cursor=", lambda j, seen: "/Groups?count=1000&cursor=" + j["nextCursor"]),
            ("indexed filter", "/Groups?count=1000&filter=" + urllib.parse.quote('displayName eq "same name"'),
             lambda j, seen: "/Groups?count=1000&filter=" + urllib.parse.quote('displayName eq "same name"') +
             "&startIndex=%d" % (seen + 1))):
        url, got, pages, biggest = first, {}, 0, 0
        while url and pages < NG + 2:
            st, _, j = cl.get(url)
            if st != 200:
                c.ok(False, "%s page answered" % label, (st, j))
                break
            pages += 1
            biggest = max(biggest, len(json.dumps(j)))
            for g in j["Resources"]:
                got[g["externalId"]] = len(g.get("members", []))
            more = j.get("nextCursor") if label == "cursor" else len(got) < j["totalResults"]
            url = nxt(j, len(got)) if more and j["Resources"] else None
        print("%s: %d pages, largest answer %d bytes" % (label, pages, biggest))
        c.ok(pages > 1, "%s: the groups' members split the listing into pages" % label, pages)
        c.ok(biggest < 3 * 1024 * 1024, "%s: no page near the 3.6 MB of all groups" % label, biggest)
        c.ok(len(got) == NG and set(got.values()) == {NU},
             "%s: paging returns every group with all its members" % label, (len(got), set(got.values())))
    # the other direction: users with their groups (attributes=groups are
    # attached after the page was filled; they count too)
    for label, first, nxt in (
            ("users startIndex", "/Users?count=1000&attributes=userName,groups",
             lambda j, seen: "/Users?count=1000&attributes=userName,groups&startIndex=%d" % (seen + 1)),
            ("users cursor", "/Users?count=1000&attributes=userName,groups&cursor=",
             lambda j, seen: "/Users?count=1000&attributes=userName,groups&cursor=" + j["nextCursor"])):
        url, got, pages, biggest = first, {}, 0, 0
        while url and pages < NU + 2:
            st, _, j = cl.get(url)
            if st != 200:
                c.ok(False, "%s page answered" % label, (st, j))
                break
            pages += 1
            biggest = max(biggest, len(json.dumps(j)))
            for u in j["Resources"]:
                got[u["userName"]] = len(u.get("groups", []))
            more = j.get("nextCursor") if "cursor" in label else len(got) < j["totalResults"]
            url = nxt(j, len(got)) if more and j["Resources"] else None
        print("%s: %d pages, largest answer %d bytes" % (label, pages, biggest))
        c.ok(pages > 1 and biggest < 3 * 1024 * 1024, "%s: users' groups split the listing into pages" % label,
             (pages, biggest))
        c.ok(len(got) == NU and set(got.values()) == {NG},
             "%s: paging returns every user with all its groups" % label, (len(got), set(got.values())))
    st, _, j = cl.get("/Groups?count=1000&excludedAttributes=members")
    c.ok(st == 200 and j["itemsPerPage"] == NG, "without members one page holds every group", (st, j.get("itemsPerPage")))
finally:
    srv.cleanup()
c.done()
