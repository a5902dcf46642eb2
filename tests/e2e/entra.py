"""entra — replaying an app's Entra provisioning against a tenant created
from that app's profile (e2e 0870-0874). The requests are shaped as
../shared/SCIM_CLIENTS.md describes Entra's: the test connection, the
matching GET before a create, POST built from the attribute mappings,
PATCH with "Replace"/"Add"/"Remove", "False" as a string, extension
attributes by their full URN path, groups read with
excludedAttributes=members. Stdlib only."""
import http.client
import json
import os
import re
import urllib.parse

from scimtest import SRC, USER, GROUP, cli, patch_body

ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TEST_GUID = "5b3d4c2e-9f1a-4e7b-8c6d-0a1b2c3d4e5f"
OPERATOR = "op-" + "e" * 40


def profile(app):
    with open(os.path.join(SRC, "profiles", app + ".json")) as f:
        return json.load(f)


def operator_args(root):
    """serve flags turning on the admin API with a known operator token."""
    path = os.path.join(root, "operator.token")
    with open(path, "w") as f:
        f.write(OPERATOR + "\n")
    os.chmod(path, 0o600)
    return ["--operator-token-file", path]


class App:
    """One app's Entra job: a base path in the app's published URL shape,
    an optional Host header, and the tenant's secret token."""

    def __init__(self, srv, base, token, host=None):
        self.srv, self.base, self.token, self.host = srv, base, token, host
        self.conn = None

    def raw(self, method, path, body=None, token=None, headers=None, absolute=False):
        h = {"Content-Type": "application/scim+json; charset=utf-8",
             "Authorization": "Bearer " + (token or self.token)}
        if self.host:
            h["Host"] = self.host
        h.update(headers or {})
        url = path if absolute else self.base + path
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
            try:
                self.conn.request(method, url, body=data, headers=h)
                r = self.conn.getresponse()
                out = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        try:
            j = json.loads(out) if out else None
        except ValueError:
            j = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, j

    def get(self, p, **kw):
        return self.raw("GET", p, **kw)

    def post(self, p, b, **kw):
        return self.raw("POST", p, b, **kw)

    def put(self, p, b, **kw):
        return self.raw("PUT", p, b, **kw)

    def patch(self, p, ops, **kw):
        return self.raw("PATCH", p, patch_body(*ops), **kw)

    def delete(self, p, **kw):
        return self.raw("DELETE", p, **kw)

    def query(self, rtype, flt, extra=""):
        """A matching query as Entra sends it (the filter URL-encoded)."""
        return self.get("/%s?filter=%s%s" % (rtype, urllib.parse.quote(flt, safe=""), extra))

    def admin(self, method, path, body=None, token=OPERATOR):
        return self.raw(method, "/admin/v1/tenants" + path, body, token=token, absolute=True,
                        headers={"Host": "127.0.0.1:%d" % self.srv.port})


def admin_create(srv, name, app):
    """POST /admin/v1/tenants with a profile (the vendor's product does it)."""
    a = App(srv, "", OPERATOR)
    st, _, t = a.admin("POST", "", {"name": name, "profile": app})
    return st, t


# ---------------------------------------------------------------- paths
FILTERED = re.compile(r'^(\w+)\[(\w+) eq "([^"]+)"\]\.(\w+)$')


def _filter_value(v):
    """Entra writes booleans in value filters as "True"/"False"."""
    return {"True": True, "False": False}.get(v, v)


def read_path(res, path):
    """The value of an Entra target attribute in a resource, or None:
    `title`, `name.givenName`, `emails[type eq "work"].value`,
    `urn:...:User:attr` (and `manager`, read as its value)."""
    if path.startswith("urn:"):
        urn, attr = path.rsplit(":", 1)
        v = (res.get(urn) or {}).get(attr)
        return v.get("value") if isinstance(v, dict) else v
    m = FILTERED.match(path)
    if m:
        for el in res.get(m.group(1)) or []:
            if el.get(m.group(2)) == _filter_value(m.group(3)):
                return el.get(m.group(4))
        return None
    cur = res
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def post_body(mapping, schemas):
    """A POST body built from target attribute -> value the way Entra builds
    one: filtered paths become elements carrying the filter's attribute
    (`type`, or `primary` as a boolean; emails get primary true),
    dotted paths nested objects, URN paths the extension's block, with the
    extension's URN added to schemas."""
    body = {"schemas": list(schemas)}
    for path, val in mapping.items():
        if path.startswith("urn:"):
            urn, attr = path.rsplit(":", 1)
            body.setdefault(urn, {})[attr] = val
            if urn not in body["schemas"]:
                body["schemas"].append(urn)
            continue
        m = FILTERED.match(path)
        if m:
            lst = body.setdefault(m.group(1), [])
            key, want = m.group(2), _filter_value(m.group(3))
            el = next((e for e in lst if e.get(key) == want), None)
            if el is None:
                el = {key: want}
                if m.group(1) == "emails":
                    el["primary"] = True
                lst.append(el)
            el[m.group(4)] = val
            continue
        if "." in path:
            a, b = path.split(".", 1)
            body.setdefault(a, {})[b] = val
        else:
            body[path] = val
    return body


# ---------------------------------------------------------------- checks shared by the five tests
def test_connection(c, app, name, groups=True):
    st, h, j = app.query("Users", 'userName eq "%s"' % TEST_GUID)
    c.ok(st == 200 and j.get("totalResults") == 0 and j.get("Resources") == []
         and h.get("content-type", "").startswith("application/scim+json"),
         name + ": test connection: 200 and an empty list", (st, j))
    if groups:
        st, _, j = app.query("Groups", 'displayName eq "%s"' % TEST_GUID, "&excludedAttributes=members")
        c.ok(st == 200 and j.get("totalResults") == 0, name + ": test connection on Groups", (st, j))


def create_matched(c, app, name, body, match, rtype="Users"):
    """Entra's create: the matching query finds nothing, POST, then the
    matching query finds exactly the new resource."""
    extra = "&excludedAttributes=members" if rtype == "Groups" else ""
    st, _, j = app.query(rtype, match, extra)
    c.ok(st == 200 and j.get("totalResults") == 0, "%s: matching query before create (%s)" % (name, match), (st, j))
    st, h, r = app.post("/" + rtype, body)
    ok = c.ok(st == 201 and isinstance(r, dict) and r.get("id"), "%s: POST /%s as Entra sends it" % (name, rtype), (st, r))
    if not ok:
        raise SystemExit("%s: cannot go on without the created resource" % name)
    c.ok(h.get("location", "").endswith(app.base + "/" + rtype + "/" + r["id"]),
         "%s: Location in the app's URL shape" % name, h.get("location"))
    st, _, j = app.query(rtype, match, extra)
    c.ok(st == 200 and j.get("totalResults") == 1 and j["Resources"][0]["id"] == r["id"],
         "%s: the matching query finds it (%s)" % (name, match), (st, j))
    return r


def patch_ok(c, app, name, rid, ops, what, rtype="Users"):
    """One PATCH as Entra sends it: 204 and no body; returns the resource
    read back."""
    st, _, j = app.patch("/%s/%s" % (rtype, rid), ops)
    c.ok(st == 204 and j is None, "%s: PATCH %s: 204" % (name, what), (st, j))
    extra = "?excludedAttributes=members" if rtype == "Groups" else ""
    st, _, r = app.get("/%s/%s%s" % (rtype, rid, extra))
    c.ok(st == 200, "%s: read back after %s" % (name, what), (st, r))
    return r or {}


def reads_back(c, name, res, expect, what):
    """Every mapped attribute reads back exactly as written (or Entra sees a
    difference each cycle and patches again)."""
    bad = {p: (read_path(res, p), v) for p, v in expect.items() if read_path(res, p) != v}
    c.ok(not bad, "%s: %s: every mapped attribute reads back as written" % (name, what), bad or None)


def check_discovery(c, app, name, prof):
    """/Schemas, /Schemas/{urn} and /ResourceTypes are the profile's."""
    st, _, j = app.get("/Schemas")
    ids = [s.get("id") for s in (j or {}).get("Resources", [])]
    want = [s["id"] for s in prof.get("schemas", [])]
    c.ok(st == 200 and all(u in ids for u in want), name + ": /Schemas lists the profile's extensions", ids)
    for s in prof.get("schemas", []):
        st, _, j = app.get("/Schemas/" + s["id"])
        got = {a.get("name"): a for a in (j or {}).get("attributes", [])}
        c.ok(st == 200 and sorted(got) == sorted(a["name"] for a in s["attributes"])
             and all(got[a["name"]].get("type") == a.get("type", "string") for a in s["attributes"]),
             "%s: /Schemas/%s describes every mapped attribute with its type" % (name, s["id"]), (st, j))
        leaked = [a["name"] for a in got.values() if "catalog" in a or "default" in a]
        c.ok(not leaked, "%s: /Schemas/%s is RFC 7643 form (no scimlog rule keys)" % (name, s["id"]), leaked)
    core = {"User": "urn:ietf:params:scim:schemas:core:2.0:User",
            "Group": "urn:ietf:params:scim:schemas:core:2.0:Group"}
    for rt in prof.get("resourceTypes", []):
        if rt.get("enabled") is False:
            c.ok(core[rt["name"]] not in ids, "%s: /Schemas leaves out the disabled %s" % (name, rt["name"]), ids)
            st, _, j = app.get("/Schemas/" + core[rt["name"]])
            c.error_body(st, j, 404, None, "%s: /Schemas/{urn} of the disabled %s" % (name, rt["name"]))
            continue
        st, _, j = app.get("/Schemas/" + core[rt["name"]])
        attrs = {a.get("name"): a for a in (j or {}).get("attributes", [])}
        for path in rt.get("required", []):
            top, _, sub = path.partition(".")
            a = attrs.get(top, {})
            subs = {x.get("name"): x for x in a.get("subAttributes", [])}
            c.ok(a.get("required") is True and (not sub or subs.get(sub, {}).get("required") is True),
                 "%s: /Schemas advertises %s as required" % (name, path), a)
    st, _, j = app.get("/ResourceTypes")
    rts = {r.get("name"): r for r in (j or {}).get("Resources", [])}
    c.ok(st == 200, name + ": /ResourceTypes", (st, j))
    for rt in prof.get("resourceTypes", []):
        if rt.get("enabled") is False:
            c.ok(rt["name"] not in rts, "%s: /ResourceTypes leaves out the disabled %s" % (name, rt["name"]), list(rts))
            continue
        have = [e.get("schema") for e in rts.get(rt["name"], {}).get("schemaExtensions", [])]
        for e in rt.get("schemaExtensions", []):
            c.ok(e["schema"] in have, "%s: /ResourceTypes/%s carries %s" % (name, rt["name"], e["schema"]), have)
    st, _, j = app.get("/ServiceProviderConfig")
    c.ok(st == 200 and j.get("patch", {}).get("supported") is True, name + ": /ServiceProviderConfig", (st, j))


def check_definition(c, app, name, tenant, prof, token=OPERATOR):
    """The definition the tenant got is the profile file in the repo."""
    st, _, j = app.admin("GET", "/%s/schema" % tenant, token=token)
    c.ok(st == 200 and j.get("definition") == prof and j.get("generation", 0) >= 1,
         "%s: the tenant's definition is profiles/%s.json" % (name, prof["profile"]), (st, j))


def check_replay(c, srv, name):
    """Stopped server: a replay into a new directory has the same digest."""
    srv.stop()
    d1 = cli("digest", "--data", srv.data).stdout.strip()
    into = os.path.join(srv.root, "replayed")
    cli("replay", "--data", srv.data, "--into", into)
    d2 = cli("digest", "--data", into).stdout.strip()
    c.ok(d1 and d1 == d2, name + ": scimlog replay into a new directory gives the same digest", (d1, d2))
    return into
