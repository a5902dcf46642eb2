"""0910 — the admin web page (/admin/) against the real server, in headless
Chromium driven over WebDriver (chromedriver, stdlib client in
webdriver.py).

Serving: redirect, Content-Type, the strict Content-Security-Policy, the
exact embedded bytes, read-only methods, unknown files, no inline script or
style and no foreign URL in the page's sources.

In the browser: provisions users and a group over SCIM (creates, an update,
a disable and an enable, a refused duplicate create, a write with a second
token, a delete, a membership add, a userName full of HTML), signs in with
the token, and checks what the page SHOWS against the reports API: feed
rows and their order, verdict texts, "load more" paging, every filter, the
chart's bars and their counts, one user's history with old/new values, the
"as of" view at three instants, a point-in-time read stopped at the
server's time limit (the SCIM error's detail shown), token kept in
sessionStorage only, sign out; that CSP blocks an injected inline script; and that the browser asked
nothing of any host but this server. Leaves a screenshot in the build dir.
"""
import datetime
import html.parser
import http.client
import json
import os
import re
import threading
import time
import urllib.parse

import scimtest
from scimtest import Server, Check, cli, USER, GROUP, TMP, SRC, patch_body
import webdriver

ADMIN_FILES = ("index.html", "app.js", "style.css", "icon.svg")
TYPES = {"html": "text/html", "js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
HOSTILE = '<img src=x onerror="window.__pwned=1">@evil.example'

c = Check()


def http_get(port, path, method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def csp_directives(h):
    out = {}
    for part in h.get("content-security-policy", "").split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


class Sources(html.parser.HTMLParser):
    """Collects what matters for CSP from index.html."""

    def __init__(self):
        super().__init__()
        self.inline_scripts = 0
        self.in_script = False
        self.urls = []
        self.bad_attrs = []
        self.styles = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k, v in attrs:
            if k.startswith("on") or k == "style":
                self.bad_attrs.append((tag, k))
            if k in ("src", "href", "action", "formaction") and v is not None:
                self.urls.append(v)
        if tag == "script":
            self.in_script = True
            if not a.get("src"):
                self.inline_scripts += 1
        if tag == "style":
            self.styles += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.inline_scripts += 1


def check_serving(port):
    st, h, _ = http_get(port, "/admin")
    c.ok(st == 301 and h.get("location") == "/admin/", "/admin redirects to /admin/", (st, h))
    for name in ADMIN_FILES:
        st, h, body = http_get(port, "/admin/" + name)
        ext = name.rsplit(".", 1)[1]
        c.ok(st == 200, "GET /admin/%s 200" % name, st)
        c.ok(h.get("content-type", "").startswith(TYPES[ext]), "%s Content-Type %s" % (name, TYPES[ext]),
             h.get("content-type"))
        with open(os.path.join(SRC, "api", "admin", name), "rb") as f:
            c.ok(body == f.read(), "%s: the embedded bytes are the source file's" % name)
        d = csp_directives(h)
        c.ok(d.get("default-src") == ["'self'"] and d.get("script-src") == ["'self'"]
             and d.get("style-src") == ["'self'"] and d.get("connect-src") == ["'self'"]
             and d.get("object-src") == ["'none'"] and d.get("frame-ancestors") == ["'none'"]
             and d.get("base-uri") == ["'none'"] and d.get("form-action") == ["'none'"],
             "%s: strict CSP (self only, no inline, no frames, no plugins)" % name, h.get("content-security-policy"))
        c.ok(not any("unsafe" in w or w in ("*", "data:", "http:", "https:") for ws in d.values() for w in ws),
             "%s: CSP allows no unsafe-*, wildcard or scheme source" % name, d)
        c.ok(h.get("x-content-type-options") == "nosniff", "%s: nosniff" % name, h)
    st, h, body = http_get(port, "/admin/")
    c.ok(st == 200 and h.get("content-type", "").startswith("text/html") and b"<title>scimlog admin" in body,
         "/admin/ is index.html", (st, h.get("content-type")))
    st, h, body = http_get(port, "/admin/", method="HEAD")
    c.ok(st == 200 and body == b"" and h.get("content-type", "").startswith("text/html"), "HEAD /admin/", (st, h))
    for m in ("POST", "PUT", "DELETE", "PATCH"):
        st, h, _ = http_get(port, "/admin/", method=m)
        c.ok(st == 405 and h.get("allow") == "GET, HEAD", "%s /admin/ is 405 with Allow" % m, (st, h.get("allow")))
    for p in ("/admin/nope.js", "/admin/index.htm", "/admin/../healthz", "/admin/%2e%2e/healthz",
              "/admin//index.html", "/admin/app.js/"):
        st, h, body = http_get(port, p)
        c.ok(st == 404, "GET %s is 404" % p, (st, body[:80]))
    st, h, body = http_get(port, "/administrator")
    c.ok(st == 404 and h.get("content-type", "").startswith("application/scim+json"),
         "/administrator is not the admin page", (st, h.get("content-type")))

    # the sources themselves: nothing inline, nothing foreign
    with open(os.path.join(SRC, "api", "admin", "index.html"), encoding="utf-8") as f:
        p = Sources()
        p.feed(f.read())
    c.ok(p.inline_scripts == 0 and p.styles == 0 and not p.bad_attrs,
         "index.html: no inline script, <style>, on* or style attribute",
         (p.inline_scripts, p.styles, p.bad_attrs))
    c.ok(p.urls and all(not urllib.parse.urlsplit(u).scheme and not u.startswith("//") for u in p.urls),
         "index.html: every src/href is relative to this server", p.urls)
    with open(os.path.join(SRC, "api", "admin", "app.js"), encoding="utf-8") as f:
        js = f.read()
    foreign = [w for w in ("http://", "https://", "//cdn", "innerHTML", "outerHTML", "insertAdjacentHTML",
                           "document.write", "eval(", "new Function", "localStorage")
               if w in js.replace('"http://www.w3.org/2000/svg"', "")]
    c.ok(not foreign, "app.js: no foreign URL, no HTML sinks, no eval, no localStorage", foreign)
    with open(os.path.join(SRC, "api", "admin", "style.css"), encoding="utf-8") as f:
        css = f.read()
    c.ok("url(" not in css and "@import" not in css, "style.css loads nothing (no url(), no @import)")


def iso_ms(s):
    return datetime.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def local_input(t):
    """A datetime-local value (seconds precision) for UNIX time t; the
    browser runs with TZ=UTC."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def iso_utc(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Reports:
    """Ground truth straight from the reports API."""

    def __init__(self, port, tenant, token):
        self.port, self.tenant, self.token = port, tenant, token

    def get(self, path, **params):
        q = urllib.parse.urlencode({k: v for k, v in params.items() if v not in (None, "")})
        st, h, body = http_get(self.port, "/reports/v1/%s/%s%s" % (self.tenant, path, "?" + q if q else ""),
                               headers={"Authorization": "Bearer " + self.token})
        try:
            j = json.loads(body) if body else None
        except ValueError:
            j = None
        return st, j

    def changes(self, **params):
        out, cursor = [], None
        for _ in range(100):  # bounded
            st, j = self.get("changes", count=1000, cursor=cursor, **params)
            if st != 200:
                raise RuntimeError("reports changes %r: %s %r" % (params, st, j))
            out += j["changes"]
            cursor = j.get("nextCursor")
            if not cursor:
                return out
        raise RuntimeError("changes: too many pages")


def endpoint_present(rep, path, **params):
    """False only when the route itself is missing (the generic 404 of
    the URL router), so that a missing backend part is skipped, never an
    error of a present one."""
    st, j = rep.get(path, **params)
    missing = st == 404 and isinstance(j, dict) and "no such endpoint" in (j.get("detail") or "")
    return not missing


# ------------------------------------------------------------------ browser

def feed_rows(b):
    return b.js("""
      return Array.from(document.querySelectorAll('#feed tbody tr')).map(tr => ({
        seq: Number(tr.dataset.seq),
        cells: Array.from(tr.cells).map(td => td.textContent),
        verdictClass: tr.className,
        imgs: tr.querySelectorAll('img').length}));""")


def wait_idle(b, ids=("feed", "chart"), timeout=30):
    b.wait("return arguments[0].every(id => document.getElementById(id).dataset.loading === '0')",
           list(ids), timeout=timeout, what="%s loaded" % ",".join(ids))


def apply_filters(b, **f):
    """Fills the filter form as a user would and presses Apply."""
    b.click("#f-clear")
    wait_idle(b)
    for key, val in f.items():
        if key in ("from", "to"):
            # datetime-local has no portable typing format: set the value
            b.js("document.getElementById(arguments[0]).value = arguments[1]", "f-" + key, val)
        elif key in ("action", "verdict"):
            b.select("#f-" + key, val)
        else:
            b.type("#f-" + key.lower(), val)
    b.click("#filters button[type=submit]")
    wait_idle(b)


def load_all(b, limit=20):
    for _ in range(limit):
        if not b.js("return !document.getElementById('load-more').hidden"):
            return
        b.click("#load-more")
        wait_idle(b, ("feed",))


def chart_counts(b):
    return b.js("""
      const out = {bars: 0, applied: 0, refused: 0, other: 0, totals: 0, titles: 0};
      for (const r of document.querySelectorAll('#chart svg rect.bar')) {
        out.bars++;
        out[r.dataset.verdict] += Number(r.dataset.count);
        if (r.querySelector('title') && r.querySelector('title').textContent.includes(r.dataset.count)) out.titles++;
        if (!(Number(r.getAttribute('height')) > 0)) out.bars = -1000;
      }
      for (const g of document.querySelectorAll('#chart svg g.bucket')) out.totals += Number(g.dataset.total);
      return out;""")


def run_browser(srv, tok, tok2, tok_ro, facts):
    port = srv.port
    origin = "http://127.0.0.1:%d/" % port
    rep = Reports(port, "t1", tok["secret"])
    have = {
        "changes": endpoint_present(rep, "changes", count=1),
        "summary": endpoint_present(rep, "summary"),
        "history": endpoint_present(rep, "resources/%s/history" % facts["alice"]),
        "asof": endpoint_present(rep, "Users/%s" % facts["alice"], asOf=iso_utc(time.time())),
    }
    for k, v in have.items():
        if not v:
            print("SKIP: the reports endpoint for %s is not in this build; its page checks are skipped" % k)

    b = webdriver.Browser(TMP)
    try:
        b.requested_urls()  # drop the browser's own start-up page
        b.get(origin + "admin")
        c.ok(b.js("return location.pathname") == "/admin/", "browser follows /admin -> /admin/")
        c.ok(b.js("return document.title") == "scimlog admin", "page title")
        c.ok(b.js("return !document.getElementById('login-panel').hidden && document.getElementById('app').hidden"),
             "signed out: only the sign-in form shows")
        c.ok(b.js("return getComputedStyle(document.querySelector('.top')).display") == "flex",
             "style.css applied under the CSP")

        # CSP enforcement: an injected inline script must not run
        b.js("const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
             "document.head.appendChild(s);")
        time.sleep(0.2)
        c.ok(b.js("return window.__inline === undefined"), "CSP blocks an injected inline script")

        # a wrong token is refused with the server's words, nothing kept
        b.type("#login-tenant", "t1")
        b.type("#login-token", "0" * 64)
        b.click("#login-form button[type=submit]")
        err = b.wait("const e = document.getElementById('login-error'); return !e.hidden && e.textContent",
                     what="login error")
        if have["changes"]:
            c.ok(err.startswith("401"), "wrong token: 401 shown", err)
        else:
            c.ok(len(err) > 0, "wrong token: the error is shown", err)
        c.ok(b.js("return sessionStorage.length === 0 && localStorage.length === 0"),
             "a refused token is not stored")
        c.ok(b.js("return !document.getElementById('login-panel').hidden"), "still signed out")

        if not have["changes"]:
            b.screenshot(os.path.join(os.path.dirname(TMP), "0910-admin-ui.png"))
            return b.requested_urls()

        # sign in
        b.type("#login-token", tok["secret"])
        b.click("#login-form button[type=submit]")
        b.wait("return !document.getElementById('app').hidden", what="signed in")
        wait_idle(b)
        c.ok(b.text("#session-tenant") == "t1", "signed in as tenant t1")
        c.ok(b.js("return sessionStorage.getItem('scimlog.admin.token')") == tok["secret"]
             and b.js("return localStorage.length === 0 && document.cookie === ''"),
             "token in sessionStorage only (no localStorage, no cookie)")

        # ---- health, saved reports, CSV downloads (issue 12 item 8)
        wait_idle(b, ids=("health", "saved"))
        hv = dict(zip(b.js("return [...document.querySelectorAll('#health dt')].map(e => e.textContent)"),
                      b.js("return [...document.querySelectorAll('#health dd')].map(e => e.textContent)")))
        st, api_h = rep.get("health")
        c.ok(st == 200 and hv.get("Log") == "embedded, position %d" % api_h["position"]
             and hv.get("Refused, last 24 h") == str(api_h["last24h"]["byVerdict"].get("refused", 0))
             and hv.get("Changes, last 24 h") == str(api_h["last24h"]["total"])
             and hv.get("Status") == "enabled" and hv.get("Fold lag") == "0 events, 0 s",
             "the health panel shows the tenant's health endpoint", (hv, api_h))
        st, j = Reports(port, "t2", tok2["secret"]).get("../t1/health")
        c.ok(st == 401, "another tenant's token cannot read this tenant's health", (st, j))
        b.js("document.getElementById('f-verdict').value = 'refused'")
        b.type("#save-name", "refusals-x")
        b.type("#save-desc", "what was refused")
        b.js("document.getElementById('save-format').value = 'csv'")
        b.click("#save-form button[type=submit]")
        b.wait("return document.querySelector('#saved tr[data-name=\"refusals-x\"]') !== null",
               what="saved report listed")
        st, d = rep.get("saved/refusals-x")
        c.ok(st == 200 and d.get("filter", {}).get("verdict") == "refused" and d.get("format") == "csv"
             and d.get("description") == "what was refused", "the page saved the report with its filters", (st, d))
        want = len(rep.changes(verdict="refused"))
        b.click("#saved tr[data-name=\"refusals-x\"] button.run")
        b.wait("const l = document.getElementById('run-download'); return !l.hidden && l.dataset.lines",
               what="report run")
        c.ok(b.js("return document.getElementById('run-caption').dataset.count") == str(want),
             "running it shows the API's number of records", (want, b.text("#run-caption")))
        c.ok(b.js("return document.getElementById('run-download').dataset.lines") == str(want + 1)
             and b.js("return document.getElementById('run-download').href.startsWith('blob:')")
             and b.js("return document.getElementById('run-download').getAttribute('download')") == "refusals-x.csv",
             "its CSV (header + one line per record) is offered for download", b.text("#run-caption"))
        b.click("#saved tr[data-name=\"refusals-x\"] button.delete")
        b.wait("return document.querySelector('#saved tr[data-name=\"refusals-x\"]') === null",
               what="saved report deleted")
        c.ok(rep.get("saved/refusals-x")[0] == 404, "deleted through the page")
        b.js("document.getElementById('f-verdict').value = ''")
        all_recs = rep.changes()
        b.click("#feed-csv")
        b.wait("const l = document.getElementById('feed-download'); return !l.hidden && l.dataset.lines",
               what="feed CSV")
        c.ok(b.js("return document.getElementById('feed-download').dataset.lines") == str(min(1000, len(all_recs)) + 1)
             and b.js("return document.getElementById('feed-download').dataset.header").startswith("seq,"),
             "the feed's CSV download holds the filtered records", b.js("return document.getElementById('feed-download').dataset.header"))
        # the report's save and delete are change records too: show them
        b.click("#filters button[type=submit]")
        time.sleep(0.2)
        wait_idle(b)

        # ---- the feed: first page, then "load more", against the API
        truth = rep.changes()
        rows = feed_rows(b)
        c.ok(len(rows) == min(50, len(truth)), "first page shows 50 rows", len(rows))
        c.ok((not b.js("return document.getElementById('load-more').hidden")) == (len(truth) > 50),
             "load more offered when there is more", len(truth))
        load_all(b)
        rows = feed_rows(b)
        c.ok([r["seq"] for r in rows] == [r["seq"] for r in truth],
             "after load more: every change record, newest first, none twice",
             ([r["seq"] for r in rows][:5], [r["seq"] for r in truth][:5], len(rows), len(truth)))
        c.ok(b.js("return document.getElementById('load-more').hidden"), "no load more on the last page")
        c.ok(b.text("#feed-count") == "%d changes" % len(truth), "row count shown", b.text("#feed-count"))
        by_seq = {r["seq"]: r for r in truth}
        mism = []
        for r in rows:
            t = by_seq.get(r["seq"], {})
            time_s, action, res, name, verdict, detail, actor = r["cells"]
            exp_verdict = t["verdict"] + " " + str(t["status"]) + (" " + t["scimType"] if t.get("scimType") else "")
            exp_time = t["time"][:10] + " " + t["time"][11:19]
            if (action != t["action"] or verdict != exp_verdict or time_s != exp_time
                    or name != (t.get("userName") or t.get("displayName") or "")
                    or detail != (t.get("detail") or "") or actor != (t.get("actor") or "")
                    or (t.get("id") and t.get("resourceType") and t["id"] not in res)
                    or r["verdictClass"] != t["verdict"]):
                mism.append((r["cells"], t))
        c.ok(not mism, "every row shows its record's time, action, resource, name, verdict, detail, actor",
             mism[:2])

        # the things we did, as the page shows them
        def rows_where(pred):
            return [r for r in rows if pred(r["cells"])]
        dup = rows_where(lambda cl: cl[1] == "refused" and cl[3].lower() == "alice@example.com")
        c.ok(len(dup) == 1 and dup[0]["cells"][4] == "refused 409 uniqueness" and dup[0]["cells"][5],
             "the refused duplicate create shows 'refused 409 uniqueness' with its detail", dup)
        c.ok(len(rows_where(lambda cl: cl[1] == "disable" and cl[3] == "alice@example.com")) == 1,
             "alice's disable shows as 'disable'")
        c.ok(len(rows_where(lambda cl: cl[1] == "enable" and cl[3] == "bob@example.com")) == 1,
             "bob's enable shows as 'enable'")
        c.ok(len(rows_where(lambda cl: cl[1] == "update" and cl[3] == "alice@example.com")) == 1,
             "alice's update shows as 'update'")
        c.ok(len(rows_where(lambda cl: cl[1] == "delete")) == 1, "the delete shows")
        c.ok(len(rows_where(lambda cl: cl[1] == "member_add" and cl[3] == "Engineering")) == 1,
             "the membership add shows with the group's displayName")
        c.ok(len(rows_where(lambda cl: cl[1] == "create" and cl[4].startswith("applied 201"))) >= 60,
             "creates show 'applied 201'")
        hostile = rows_where(lambda cl: cl[3] == HOSTILE)
        c.ok(len(hostile) == 1 and hostile[0]["imgs"] == 0 and b.js("return window.__pwned === undefined"),
             "a userName made of HTML shows as text, nothing runs", hostile)

        # ---- filters, each against the same query on the API
        def filtered(label, api_params, pred, **form):
            apply_filters(b, **form)
            load_all(b)
            got = feed_rows(b)
            want = rep.changes(**api_params)
            c.ok([r["seq"] for r in got] == [r["seq"] for r in want] and len(want) > 0,
                 "filter %s: the rows the API gives" % label, ([r["seq"] for r in got], [r["seq"] for r in want]))
            c.ok(all(pred(r) for r in want), "filter %s: only matching records" % label, want[:2])
            return got

        filtered("verdict=refused", {"verdict": "refused"}, lambda r: r["verdict"] == "refused", verdict="refused")
        got = filtered("action=disable", {"action": "disable"}, lambda r: r["action"] == "disable", action="disable")
        c.ok(sorted(r["cells"][3] for r in got) == ["alice@example.com", "bob@example.com"],
             "action=disable: alice and bob", got)
        got = filtered("resource", {"resource": facts["alice"]}, lambda r: r["id"] == facts["alice"],
                       resource=facts["alice"])
        c.ok([r["cells"][1] for r in got] == ["disable", "update", "create"],
             "resource=alice: create, update, disable (newest first)", [r["cells"][1] for r in got])
        got = filtered("actor", {"actor": tok2["token_id"]}, lambda r: r["actor"] == tok2["token_id"],
                       actor=tok2["token_id"])
        c.ok(len(got) == 1 and got[0]["cells"][3] == "carol@example.com", "actor=second token: carol's create", got)
        got = filtered("attribute=title", {"attribute": "title"},
                       lambda r: any(m["path"].lower().startswith("title") for m in r["modified"]), attribute="title")
        c.ok([r["cells"][3] for r in got] == ["alice@example.com"], "attribute=title: alice's update", got)
        filtered("userName", {"userName": "BOB@example.com"},
                 lambda r: (r["userName"] or "").lower() == "bob@example.com", userName="BOB@example.com")
        t_from = local_input(facts["t_update"] + 1)
        filtered("from", {"from": t_from + "Z"}, lambda r: iso_ms(r["time"]) >= facts["t_update"], **{"from": t_from})
        t_to = local_input(facts["t_update"] + 1)
        got = filtered("from+to", {"from": facts["t0_input"] + "Z", "to": t_to + "Z"},
                       lambda r: iso_ms(r["time"]) <= facts["t_update"] + 1, **{"from": facts["t0_input"], "to": t_to})
        c.ok([r["cells"][1] for r in got] == ["update", "create"],
             "from+to around alice's create and update: just those two", [r["cells"] for r in got])
        if have["summary"]:
            # the chart asks the summary for the same range (whose
            # counters are hourly, so it covers the whole hours around it)
            st, summ = rep.get("summary", bucket="hour", **{"from": facts["t0_input"] + "Z", "to": t_to + "Z"})
            cc = chart_counts(b)
            c.ok(st == 200 and cc["totals"] == summ["totals"]["total"] >= 2
                 and cc["applied"] == summ["totals"]["byVerdict"].get("applied", 0),
                 "chart under from+to: the summary of that range", (cc, summ.get("totals")))
        filtered("action+verdict", {"action": "create", "verdict": "applied"},
                 lambda r: r["action"] == "create" and r["verdict"] == "applied", action="create", verdict="applied")
        apply_filters(b)  # cleared again
        load_all(b)

        # ---- chart: bars by verdict whose counts are the summary's and the feed's
        if have["summary"]:
            st, summ = rep.get("summary", bucket="hour")
            cc = chart_counts(b)
            applied = sum(1 for r in truth if r["verdict"] == "applied")
            refused = sum(1 for r in truth if r["verdict"] == "refused")
            c.ok(cc["bars"] >= 2, "chart draws bars (applied and refused)", cc)
            c.ok(cc["applied"] == summ["totals"]["byVerdict"].get("applied", 0) == applied
                 and cc["refused"] == summ["totals"]["byVerdict"].get("refused", 0) == refused,
                 "chart counts by verdict = summary totals = feed", (cc, summ.get("totals"), applied, refused))
            c.ok(cc["titles"] == cc["bars"], "every bar has a tooltip with its count", cc)
            c.ok(cc["totals"] == len(truth), "bucket totals add up to every record", (cc, len(truth)))
            c.ok(b.js("return document.querySelectorAll('#chart-legend li.applied, #chart-legend li.refused').length")
                 == 2, "legend: applied and refused")
            b.select("#chart-bucket", "day")
            wait_idle(b, ("chart",))
            cd = chart_counts(b)
            c.ok(cd["applied"] == applied and cd["refused"] == refused and cd["bars"] >= 2,
                 "per-day chart: same counts", cd)
            b.select("#chart-bucket", "hour")
            wait_idle(b, ("chart",))

        # ---- history of alice: click her resource in a row
        if have["history"]:
            b.click("#feed tbody tr[data-seq='%d'] button.link" % facts["alice_create_seq"])
            b.wait("return !document.getElementById('history-panel').hidden", what="history panel")
            wait_idle(b, ("history",))
            hist = b.js("""
              return Array.from(document.querySelectorAll('#history > li')).map(li => ({
                what: (li.querySelector('.what') || {}).textContent,
                verdict: (li.querySelector('.verdict') || {}).textContent,
                mods: Array.from(li.querySelectorAll('table.mods tr')).slice(1).map(
                  tr => Array.from(tr.cells).map(td => td.textContent))}));""")
            c.ok(b.text("#history-id") == facts["alice"] and "alice@example.com" in b.text("#history-title"),
                 "history panel names alice", b.text("#history-title"))
            c.ok([h["what"].strip() for h in hist] == ["create", "update", "disable"],
                 "history: create, update, disable, oldest first", hist)
            if len(hist) == 3:
                mods = {m[0]: m[1:] for m in hist[0]["mods"]}
                c.ok(mods.get("userName") == ["(none)", "alice@example.com"]
                     and mods.get("name.givenName") == ["(none)", "Alice"],
                     "history: the create lists its attributes with no old value", mods)
                mods = {m[0]: m[1:] for m in hist[1]["mods"]}
                c.ok(mods.get("name.givenName") == ["Alice", "Alicia"] and mods.get("title") == ["(none)", "Engineer"],
                     "history: the update shows givenName Alice -> Alicia and title added", mods)
                mods = {m[0]: m[1:] for m in hist[2]["mods"]}
                c.ok(mods == {"active": ["true", "false"]}, "history: the disable shows active true -> false", mods)
                c.ok(all(h["verdict"].startswith("applied 20") for h in hist), "history verdicts", hist)

        # ---- as of: before creation, after create, after update
        if have["asof"] and have["history"]:
            def as_of(t):
                b.js("document.getElementById('asof-time').value = arguments[0]", local_input(t))
                b.click("#asof-form button[type=submit]")
                b.wait("return document.getElementById('asof-result').dataset.loading === '0'", what="as-of")
                return b.text("#asof-caption"), dict(b.js("""
                  return Array.from(document.querySelectorAll('#asof-table tr')).map(
                    tr => [tr.cells[0].textContent, tr.cells[1].textContent]);"""))

            cap, view = as_of(facts["t_create"] - 30)
            c.ok("did not exist" in cap and not view, "as of before the create: did not exist", (cap, view))
            cap, view = as_of(facts["t_create"] + 1)  # whole second after the create, before the update
            c.ok(view.get("userName") == "alice@example.com" and view.get("name.givenName") == "Alice"
                 and view.get("active") == "true" and "title" not in view,
                 "as of after the create: givenName Alice, active, no title", (cap, view))
            cap, view = as_of(facts["t_update"] + 1)
            c.ok(view.get("name.givenName") == "Alicia" and view.get("title") == "Engineer"
                 and view.get("active") == "true", "as of after the update: Alicia, Engineer, still active", view)
            cap, view = as_of(time.time())
            c.ok(view.get("active") == "false", "as of now: disabled", view)

            # the report workers busy: one worker and one queue place, each
            # read held 1.5 s by the test hook (the server restarts on the
            # same port for this): two reads of t1 take both places, then
            # the page asks; its read is refused 429, and the page waits as
            # Retry-After says and asks again. The page's request must
            # come while both places are still taken, so the test waits
            # until /metrics shows them taken and the hold is long enough
            # for a slow browser under a loaded machine
            def jobs():
                st, _, body = http_get(srv.port, "/metrics")
                text = body.decode()
                got = {}
                for k in ("refused",):
                    m = re.search(r'scimlog_report_jobs_total\{result="%s"\} (\d+)' % k, text)
                    got[k] = int(m.group(1)) if m else -1
                for k in ("running", "waiting"):
                    m = re.search(r'scimlog_report_jobs\{state="%s"\} (\d+)' % k, text)
                    got[k] = int(m.group(1)) if m else -1
                return got
            restart_same_port(srv, 1500)
            before = jobs()["refused"]
            hold = [threading.Thread(target=rep.get, args=("Users/%s" % facts["alice"],),
                                     kwargs={"asOf": iso_utc(time.time())}) for _ in range(2)]
            for t in hold:
                t.start()
                time.sleep(0.1)
            deadline = time.time() + 10
            while time.time() < deadline:
                j = jobs()
                if j["running"] == 1 and j["waiting"] == 1:
                    break
                time.sleep(0.02)
            c.ok(j["running"] == 1 and j["waiting"] == 1, "both report places taken before the page asks", j)
            cap, view = as_of(time.time())
            for t in hold:
                t.join()
            c.ok(view.get("active") == "false" and "As of" in cap,
                 "as of while the report workers are busy: answered after a retry", (cap, view))
            c.ok(jobs()["refused"] > before, "the page's first read was refused 429 (and retried)",
                 (before, jobs()))

        shot = b.screenshot(os.path.join(os.path.dirname(TMP), "0910-admin-ui.png"), full=True, max_height=1800)
        print("screenshot: %s" % shot)

        # a read stopped at the server's time limit: the page shows the SCIM
        # error's detail (what the limit is and what to do). The server
        # restarts on the same port with --report-ms 100; the test hook's
        # 0.8 s wait is inside the limit, so the read's own first deadline
        # check stops it (e2e 0787 does this with real work)
        if have["asof"] and have["history"]:
            srv.extra = ["--report-threads", "1", "--report-queue", "1", "--report-ms", "100"]
            restart_same_port(srv, 800)
            cap, view = as_of(time.time())
            c.ok("400 tooMany" in cap and "time limit of 100 ms" in cap and "--report-ms" in cap
                 and "operator" in cap and not view,
                 "as of past the time limit: the page shows the error's detail, no stale view", (cap, view))

        # a reload keeps the session (sessionStorage) and signs in again
        b.get(origin + "admin/")
        b.wait("return !document.getElementById('app').hidden", what="signed in after reload")
        wait_idle(b)
        c.ok(len(feed_rows(b)) == min(50, len(truth)), "after a reload: signed in, the feed shows again")

        # sign out clears the token
        b.click("#logout")
        c.ok(b.js("return sessionStorage.length === 0 && !document.getElementById('login-panel').hidden"
                  " && document.getElementById('app').hidden"), "sign out forgets the token")

        # a report-only token is enough for the page
        b.type("#login-tenant", "t1")
        b.type("#login-token", tok_ro["secret"])
        b.click("#login-form button[type=submit]")
        b.wait("return !document.getElementById('app').hidden", what="signed in with a report-only token")
        wait_idle(b)
        c.ok(len(feed_rows(b)) == min(50, len(truth)), "report-only token: the feed shows")
        # t1's token for tenant t2 is refused by the page with the server's 401
        b.click("#logout")
        b.type("#login-tenant", "t2")
        b.type("#login-token", tok["secret"])
        b.click("#login-form button[type=submit]")
        err = b.wait("const e = document.getElementById('login-error'); return !e.hidden && e.textContent",
                     what="login error for another tenant")
        c.ok(err.startswith("401"), "t1's token under tenant t2: 401 shown, nothing else", err)
        return b.requested_urls()
    finally:
        b.quit()


def restart_same_port(srv, delay_ms):
    """Restarts srv on its port (the page keeps its origin), every report
    read held delay_ms by the test hook."""
    port = srv.port
    srv.stop()
    free = scimtest.free_port
    scimtest.free_port = lambda: port
    os.environ["SCIMLOG_TEST_REPORT_DELAY_MS"] = str(delay_ms)
    try:
        srv.start()
    finally:
        scimtest.free_port = free
        del os.environ["SCIMLOG_TEST_REPORT_DELAY_MS"]


# ------------------------------------------------------------------ main

ok, why = webdriver.available()
# one report worker whose reads each wait 0.8 s (test hook): the page's
# retry of a 429 is checked below
srv = Server(tenants=("t1", "t2"), extra=["--report-threads", "1", "--report-queue", "1"])
try:
    tok = srv.tokens["t1"]
    tok2 = json.loads(cli("tenant", "token", "issue", "t1", "--data", srv.data).stdout)
    tok_ro = json.loads(cli("tenant", "token", "issue", "t1", "--reports-only", "--data", srv.data).stdout)
    os.environ["SCIMLOG_TEST_REPORT_DELAY_MS"] = "800"
    srv.start()
    del os.environ["SCIMLOG_TEST_REPORT_DELAY_MS"]
    check_serving(srv.port)

    cl = srv.client()
    facts = {}
    time.sleep(1.0 - time.time() % 1.0 + 0.05)  # a fresh second: nothing else of t1 falls in it
    facts["t0_input"] = local_input(time.time())
    st, _, a = cl.post("/Users", {"schemas": [USER], "userName": "alice@example.com", "active": True,
                                  "name": {"givenName": "Alice", "familyName": "Liddell"}})
    c.ok(st == 201, "create alice", a)
    facts["alice"] = a["id"]
    facts["t_create"] = iso_ms(a["meta"]["created"])
    time.sleep(1.6)  # whole seconds between create, update and disable: the as-of picker has 1 s steps
    st, _, a2 = cl.patch("/Users/" + a["id"], patch_body({"op": "replace", "path": "name.givenName", "value": "Alicia"},
                                                        {"op": "add", "path": "title", "value": "Engineer"}),
                         headers={"Content-Type": "application/scim+json"})
    c.ok(st in (200, 204), "update alice", (st, a2))
    st, _, a3 = cl.get("/Users/" + a["id"])
    facts["t_update"] = iso_ms(a3["meta"]["lastModified"])
    time.sleep(1.6)
    st, _, _ = cl.patch("/Users/" + a["id"], patch_body({"op": "replace", "path": "active", "value": False}))
    c.ok(st in (200, 204), "disable alice", st)
    st, _, j = cl.post("/Users", {"schemas": [USER], "userName": "Alice@Example.com"})
    c.error_body(st, j, 409, "uniqueness", "duplicate alice refused")
    st, _, bob = cl.post("/Users", {"schemas": [USER], "userName": "bob@example.com", "active": True})
    c.ok(st == 201, "create bob", bob)
    st, _, _ = cl.patch("/Users/" + bob["id"], patch_body({"op": "replace", "path": "active", "value": False}))
    st2, _, _ = cl.patch("/Users/" + bob["id"], patch_body({"op": "replace", "path": "active", "value": True}))
    c.ok(st in (200, 204) and st2 in (200, 204), "disable and enable bob", (st, st2))
    st, _, h = cl.post("/Users", {"schemas": [USER], "userName": HOSTILE})
    c.ok(st == 201, "create the user whose userName is HTML", h)
    st, _, carol = srv.client(token=tok2["secret"]).post("/Users", {"schemas": [USER], "userName": "carol@example.com"})
    c.ok(st == 201, "create carol with the second token", carol)
    ids = []
    for i in range(58):  # more than one page (50) of feed
        st, _, u = cl.post("/Users", {"schemas": [USER], "userName": "filler%02d@example.com" % i})
        ids.append(u["id"] if st == 201 else None)
    c.ok(all(ids), "58 more users")
    st, _, _ = cl.delete("/Users/" + ids[0])
    c.ok(st == 204, "delete one", st)
    st, _, g = cl.post("/Groups", {"schemas": [GROUP], "displayName": "Engineering"})
    st2, _, _ = cl.patch("/Groups/" + g["id"], patch_body({"op": "add", "path": "members", "value": [{"value": a["id"]}]}))
    c.ok(st == 201 and st2 in (200, 204), "group and a membership add", (st, st2))
    # tenant t2's activity must never show in t1's page
    srv.client("t2").post("/Users", {"schemas": [USER], "userName": "other-tenant@example.com"})

    rep = Reports(srv.port, "t1", tok["secret"])
    if endpoint_present(rep, "changes", count=1):
        rec = [r for r in rep.changes(resource=a["id"]) if r["action"] == "create"]
        facts["alice_create_seq"] = rec[0]["seq"] if rec else -1
        c.ok(not [r for r in rep.changes() if r.get("userName") == "other-tenant@example.com"],
             "t2's change is not in t1's reports")

    if not ok:
        c.ok(False, "headless Chromium: " + why)
    else:
        urls = run_browser(srv, tok, tok2, tok_ro, facts)
        origin = "http://127.0.0.1:%d/" % srv.port
        c.ok(len(urls) > 3, "the browser's requests were recorded", len(urls))
        # data: URLs name no host (Chromium draws the date picker's icon
        # with one); anything else must be this server
        foreign = [u for u in urls if not u.startswith(origin) and not u.startswith("data:")]
        c.ok(not foreign, "the page asked nothing of any host but this server", foreign[:5])
finally:
    rc = srv.stop()
    c.ok(rc == 0, "server exits cleanly", rc)
    srv.cleanup()
c.done()
