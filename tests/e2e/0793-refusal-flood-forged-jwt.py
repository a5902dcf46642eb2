"""0793 — refusal records stay coalesced when the attacker writes the
detail: forged JWTs (a new kid, alg or client in every request, no key
needed) aimed at an existing tenant leave a few change records, like a
flood of bad static tokens (before: the refusal window was keyed on the
detail, which echoes the kid, so 60 forged JWTs left 60 records in the
victim's change feed and spent the server-wide budget other tenants'
refusals share). The record that is written says how many more there were,
after the window the next record says how many it stands for."""
import base64
import json
import os
import time
from scimtest import Check, Server

c = Check()
srv = Server(tenants=("victim",))
with open(os.path.join(srv.root, "jwt.key"), "w") as f:
    f.write("jwt-master-" + "5" * 40 + "\n")
srv.extra = ["--jwt-key-file", os.path.join(srv.root, "jwt.key")]
srv.start()


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def forged(header, claims):
    return b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode()) + "." + b64u(b"s" * 32)


def refused():
    st, _, j = srv.client("victim").raw("GET", "/reports/v1/victim/changes?verdict=refused&count=1000", base=False)
    return j.get("changes", []) if st == 200 else None


try:
    claims = {"tid": "victim", "sub": "c", "aud": "scimlog:victim", "exp": int(time.time()) + 600}
    floods = {
        "kid": lambda i: forged({"alg": "HS256", "kid": "kid-%d" % i}, claims),
        "alg": lambda i: forged({"alg": "HS%d" % (300 + i), "kid": "k"}, claims),
        "client": lambda i: forged({"alg": "HS256", "kid": "k"}, dict(claims, sub="client-%d" % i)),
    }
    statuses = set()
    for name, make in floods.items():
        for i in range(40):
            st, _, j = srv.client("victim", token=make(i)).get("/Users")
            statuses.add(st)
    c.ok(statuses == {401}, "every forged JWT is refused with 401", statuses)
    time.sleep(0.5)  # refusal records are appended without the client waiting
    recs = [r for r in refused() or [] if r.get("actor") in ("anonymous", "jwt")]
    print("120 forged JWTs left %d refusal records" % len(recs))
    c.ok(1 <= len(recs) <= 3, "120 forged JWTs leave at most 3 records (one per 10 s window)", len(recs))

    # a further burst well within the window adds nothing, and the next
    # record (after the window) says how many it stood for
    for i in range(40, 60):
        srv.client("victim", token=floods["kid"](i)).get("/Users")
    time.sleep(0.5)
    c.ok(len([r for r in refused() or [] if r.get("actor") in ("anonymous", "jwt")]) == len(recs),
         "a burst inside the window adds no record")

    # the record names the kind of refusal and says it stood for more
    later = []
    deadline = time.time() + 15
    while time.time() < deadline and not later:
        time.sleep(1)
        srv.client("victim", token=floods["kid"](99)).get("/Users")
        time.sleep(0.3)
        later = [r for r in refused() or [] if r.get("actor") in ("anonymous", "jwt") and
                 "more like it" in (r.get("detail") or "")]
    c.ok(len(later) >= 1 and "JWT" in later[0]["detail"],
         "after the window, a record says how many forged JWTs it stands for", later[:1])
    c.ok(srv.proc.poll() is None, "the server is running")
finally:
    srv.cleanup()
c.done()
