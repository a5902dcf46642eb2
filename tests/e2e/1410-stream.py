"""1410 — the change stream (GET /stream/v1/{tenant}), embedded log: a
consumer mirrors tenant t1 into dictionaries from the stream alone while
writes of every kind run, the server is restarted and then killed with -9;
it resumes from its last position each time and ends equal to the SCIM view
(users, groups, members), having seen every position once, in order. Also:
refusals flagged, tombstones with membership effects, the long poll answers
when a write lands (not at its deadline), SSE with id = position and
Last-Event-ID resuming exactly, tenant isolation, auth, bad parameters and
the per-tenant cap."""
import random
import threading
import time
import http.client
from scimtest import Server, Check, USER, GROUP, patch_body
from streamtest import Mirror, Workload

c = Check()
srv = Server(tenants=("t1", "t2")).start()


class Follower(threading.Thread):
    """Long-polls in the background, reconnecting while the server is away."""

    def __init__(self, mirror):
        super().__init__(daemon=True)
        self.m, self.stop, self.reconnects = mirror, False, 0

    def run(self):
        while not self.stop:
            try:
                self.m.poll(srv.port, wait=1)
            except (OSError, http.client.HTTPException, RuntimeError, TypeError):
                self.reconnects += 1
                time.sleep(0.1)


def drain(m, port):
    """Polls until two empty long polls in a row."""
    empty = 0
    for _ in range(200):
        empty = empty + 1 if m.poll(port, wait=0) == 0 else 0
        if empty >= 2:
            return True
    return False


try:
    cl = srv.client("t1")
    m = Mirror("t1", srv.tokens["t1"]["secret"])
    f = Follower(m)
    f.start()
    wl = Workload(random.Random(1410))
    for phase in range(3):
        for _ in range(70):
            wl.step(cl)
        if phase == 0:
            srv.stop()
            srv.start()
        elif phase == 1:
            srv.kill9()
            srv.start()
        cl = srv.client("t1")
    f.stop = True
    f.join(10)
    c.ok(drain(m, srv.port), "the consumer caught up")
    diffs = m.diff(cl)
    c.ok(not diffs, "the mirror built from the stream equals the SCIM view", diffs[:5])
    c.ok(not m.errors, "every record kept the contract (positions increasing, states present)", m.errors[:5])
    c.ok(len(m.users) > 10 and len(m.groups) > 3, "the workload left users and groups", (len(m.users), len(m.groups)))
    c.ok(f.reconnects > 0, "the consumer reconnected across the restart and the kill -9", f.reconnects)
    c.ok(any(r["refused"]["status"] == 409 for r in m.refused), "a refused duplicate is flagged with its status",
         [r["refused"] for r in m.refused][:3])

    # a fresh consumer from 0 sees the same, in one pass
    m2 = Mirror("t1", srv.tokens["t1"]["secret"])
    c.ok(drain(m2, srv.port) and m2.records == m.records and m2.pos == m.pos,
         "a second consumer from position 0 reads the same records", (m2.records, m.records))

    # tombstones carry membership effects
    st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "leaver@example.com"})
    st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "club", "members": [{"value": u["id"]}]})
    st, _, _ = cl.delete("/Users/" + u["id"])
    c.ok(st == 204, "delete the member", st)
    m.poll(srv.port, wait=0)
    c.ok(m.groups[g["id"]]["members"] == set(), "the mirror dropped the deleted member from its group",
         m.groups.get(g["id"]))

    # the long poll is answered by the fold, not by its deadline
    late = [0]

    def later():
        time.sleep(0.5)
        late[0] += 1
        srv.client("t1").post("/Users", {"schemas": [USER], "userName": "late%d@example.com" % late[0]})
    t = threading.Thread(target=later)
    t.start()
    t0 = time.time()
    n = m.poll(srv.port, wait=20)
    took = time.time() - t0
    t.join()
    c.ok(n >= 1 and took < 10, "a waiting long poll returns when a write lands", (n, took))
    n = m.poll(srv.port, wait=1)
    c.ok(n == 0, "a long poll with nothing new ends empty after its wait", n)

    # SSE: id = position, Last-Event-ID resumes exactly
    s1 = Mirror("t1", srv.tokens["t1"]["secret"])
    ids = s1.sse(srv.port, until=lambda mm: mm.records >= 5, seconds=20)
    c.ok(len(ids) == 5 and ids == sorted(ids) and not s1.errors, "SSE delivers records with id = position", (ids, s1.errors))
    s2 = Mirror("t1", srv.tokens["t1"]["secret"])
    s2.pos = 0
    ids2 = s2.sse(srv.port, until=lambda mm: mm.records >= 3, seconds=20, last_event_id=ids[2])
    s3 = Mirror("t1", srv.tokens["t1"]["secret"])
    s3.poll(srv.port, wait=0, limit=6)
    c.ok(s3.records == 6, "limit bounds a long-poll answer", s3.records)
    c.ok(ids2 and ids2[0] > ids[2] and ids2[0] == ids[3], "Last-Event-ID resumes right after that position", (ids, ids2))

    # SSE waits for new records and delivers them as they are folded
    s4 = Mirror("t1", srv.tokens["t1"]["secret"])
    s4.pos = m.pos
    t = threading.Thread(target=later)
    t.start()
    ids4 = s4.sse(srv.port, until=lambda mm: mm.records >= 1, seconds=20)
    t.join()
    c.ok(len(ids4) == 1 and s4.users and list(s4.users.values())[0]["userName"] == "late2@example.com",
         "an open SSE stream delivers a write folded later", (ids4, s4.users))

    # isolation, auth, parameters
    m_t2 = Mirror("t2", srv.tokens["t2"]["secret"])
    drain(m_t2, srv.port)
    c.ok(m_t2.records == 0, "tenant t2 sees none of t1's records", m_t2.records)
    other = srv.client("t1", token=srv.tokens["t2"]["secret"])
    st, _, j = other.raw("GET", "/stream/v1/t1", base=False)
    c.error_body(st, j, 401, None, "t2's token on t1's stream")
    st, _, j = srv.client("t1", token="").raw("GET", "/stream/v1/t1", base=False)
    c.error_body(st, j, 401, None, "no token")
    st, _, j = cl.raw("GET", "/stream/v1/t1?after=abc", base=False)
    c.error_body(st, j, 400, "invalidValue", "after not a number")
    st, _, j = cl.raw("GET", "/stream/v1/t1?after=99999999999999999999999", base=False)
    c.error_body(st, j, 400, "invalidValue", "after overflows")
    st, _, j = cl.raw("GET", "/stream/v1/t1?wait=999", base=False)
    c.error_body(st, j, 400, "invalidValue", "wait beyond its ceiling")
    st, _, j = cl.raw("GET", "/stream/v1/t1", headers={"Last-Event-ID": "x"}, base=False)
    c.error_body(st, j, 400, "invalidValue", "bad Last-Event-ID")
    st, _, j = cl.raw("POST", "/stream/v1/t1", body={}, base=False)
    c.error_body(st, j, 405, None, "POST on the stream")
    st, _, j = cl.raw("GET", "/stream/v2/t1", base=False)
    c.error_body(st, j, 404, None, "unknown stream version")

    def slots_free():
        """Streams whose client left are noticed at their next send: a
        write wakes them, the send fails, the slot frees."""
        cl.post("/Users", {"schemas": [USER], "userName": "wake%d@example.com" % time.time_ns()})
        for _ in range(100):
            st, _, _ = cl.raw("GET", "/stream/v1/t1?wait=0&after=%d" % (1 << 60), base=False)
            if st == 200:
                return True
            time.sleep(0.1)
        return False

    # the per-tenant cap: 8 open SSE streams, the 9th is refused with 429
    time.sleep(0.5)
    c.ok(slots_free(), "streams of clients that left are dropped")
    conns = []
    for i in range(8):
        hc = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        hc.request("GET", "/stream/v1/t1?after=%d" % m.pos,
                   headers={"Authorization": "Bearer " + srv.tokens["t1"]["secret"], "Accept": "text/event-stream"})
        r = hc.getresponse()
        c.ok(r.status == 200, "open stream %d" % i, r.status)
        conns.append((hc, r))
    st, h, j = cl.raw("GET", "/stream/v1/t1", base=False)
    c.error_body(st, j, 429, None, "a ninth stream of one tenant")
    c.ok(h.get("retry-after") == "1", "429 carries Retry-After", h)
    for hc, r in conns:
        hc.close()
    c.ok(slots_free(), "closed streams free their slots")
    # a clean stop with a stream parked
    hc = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    hc.request("GET", "/stream/v1/t1?after=%d" % (1 << 60),
               headers={"Authorization": "Bearer " + srv.tokens["t1"]["secret"], "Accept": "text/event-stream"})
    r = hc.getresponse()
    time.sleep(0.3)
    rc = srv.stop()
    c.ok(rc == 0, "the server stops cleanly while a stream waits", rc)
    hc.close()
finally:
    srv.cleanup()
c.done()
