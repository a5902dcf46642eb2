"""0794 — a tenant keeps at most 200 saved reports: the list of them is one
answer, so before this a token could save reports without end (each up to
~6 KB of filters and description, 400 in 1.7 s) and make every GET of
/reports/v1/{t}/saved build an answer of hundreds of MB. The 201st new
name is 409 naming the limit and writes nothing; replacing an existing
report and saving after a delete still work; another tenant is unaffected."""
import json
import threading
from scimtest import Check, Server

c = Check()
srv = Server(tenants=("a", "b")).start()
LIMIT = 200
BIG = {"description": "d" * 1024,
       "filter": {"actor": "a" * 1024, "attribute": "b" * 1024, "userName": "c" * 1024},
       "columns": ["detail"] * 32, "format": "json"}


def put(tenant, name, body=BIG):
    return srv.client(tenant).raw("PUT", "/reports/v1/%s/saved/%s" % (tenant, name), body, base=False)


def listing(tenant):
    st, _, j = srv.client(tenant).raw("GET", "/reports/v1/%s/saved" % tenant, base=False)
    return st, j


try:
    bad = []

    def saver(k):
        for i in range(k, LIMIT, 4):
            st, _, j = put("a", "r%03d" % i)
            if st != 201:
                bad.append((i, st, j))
    ts = [threading.Thread(target=saver, args=(k,)) for k in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    c.ok(not bad, "the first 200 saved reports are created", bad[:3])

    st, _, j = put("a", "one-too-many")
    c.error_body(st, j, 409, None, "the 201st saved report")
    c.ok("200" in j.get("detail", "") and "saved reports" in j.get("detail", ""),
         "the detail names the limit", j)
    st, j = listing("a")
    names = [r["name"] for r in j.get("reports", [])]
    c.ok(st == 200 and len(names) == LIMIT and "one-too-many" not in names,
         "the refused report was not written", (st, len(names)))
    print("list of %d saved reports: %d bytes" % (len(names), len(json.dumps(j))))

    st, _, j = put("a", "r007", {"description": "replaced", "format": "csv"})
    c.ok(st == 200 and j.get("description") == "replaced", "replacing an existing report works at the limit", (st, j))
    st, _, j = srv.client("a").raw("DELETE", "/reports/v1/a/saved/r000", base=False)
    c.ok(st == 204, "delete one", (st, j))
    st, _, j = put("a", "after-delete")
    c.ok(st == 201, "a delete makes room for one more", (st, j))
    st, _, j = put("a", "and-no-more")
    c.ok(st == 409, "then the limit holds again", (st, j))

    st, _, j = put("b", "b1")
    c.ok(st == 201, "another tenant saves as usual", (st, j))
    c.ok(srv.proc.poll() is None, "the server is running")
finally:
    srv.cleanup()
c.done()
