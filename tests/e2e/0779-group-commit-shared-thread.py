"""0779 — a pool thread serving several connections never waits for a
commit: their writes are group-committed together. With one pool thread
(`--threads 1`) every connection lives on the same thread; before, a write
finding the committer idle was committed on that thread, so the others
queued behind its fdatasync and every synced batch held one event (16
connections on one of four threads in `ops/bench`: 3.4k POST/s instead of
~14k). Every write is still answered 201 after its batch is durable, and
the stored users are all there after a restart."""
import re
import threading
from scimtest import Check, Server, USER

CLIENTS, EACH = 8, 40
c = Check()
srv = Server(extra=["--threads", "1"])
srv.start()
clients = [srv.client() for _ in range(CLIENTS)]
statuses = [[] for _ in range(CLIENTS)]
go = threading.Barrier(CLIENTS)


def writer(i):
    cl = clients[i]
    go.wait()
    for k in range(EACH):
        st, _, _ = cl.post("/Users", {"schemas": [USER], "userName": "w%d-%d" % (i, k)})
        statuses[i].append(st)


threads = [threading.Thread(target=writer, args=(i,)) for i in range(CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=120)
c.ok(not any(t.is_alive() for t in threads), "every writer finished")
flat = [s for row in statuses for s in row]
c.ok(len(flat) == CLIENTS * EACH and all(s == 201 for s in flat), "every POST answered 201",
     sorted(set(flat)))
c.ok(srv.stop() == 0, "clean stop")
log = open(srv.root + "/serve.log", "rb").read().decode(errors="replace")
m = re.findall(r"(\d+) events in (\d+) synced batches", log)
c.ok(m, "the group-commit line is logged at stop", log[-400:])
if m:
    events, batches = map(int, m[-1])
    print("%d events in %d synced batches (%.2f per batch)" % (events, batches, events / max(batches, 1)))
    c.ok(events >= CLIENTS * EACH, "every write was an event", (events, batches))
    # one thread committing inline would give exactly one event per batch
    c.ok(batches and events / batches >= 1.5, "writes of connections sharing a thread are committed together",
         (events, batches))
srv.start()
st, _, j = srv.client().get("/Users?count=1&filter=userName%20sw%20%22w%22")
c.ok(st == 200 and j.get("totalResults") == CLIENTS * EACH, "every acknowledged user is stored",
     (st, j and j.get("totalResults")))
srv.cleanup()
c.done()
