"""webdriver — a small W3C WebDriver client (stdlib only) that drives
Debian's headless Chromium through chromedriver, for the end-to-end tests
of the admin page. Loopback only: chromedriver listens on 127.0.0.1 and the
browser is started with every background network feature off. Every wait
is bounded."""
import base64
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time

from scimtest import free_port

CHROMIUM = os.environ.get("SCIMLOG_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SCIMLOG_CHROMEDRIVER", "/usr/bin/chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # W3C web element key


def available():
    """(True, "") when chromium and chromedriver are installed."""
    for p in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            return False, "%s is not installed (ops/install-deps installs it)" % p
    return True, ""


class WebDriverError(RuntimeError):
    pass


class Browser:
    """One chromedriver process and one headless Chromium session with a
    fresh profile. The performance log (DevTools network events) and the
    console log are enabled so that a test can list every request the page
    made and every CSP violation it caused."""

    def __init__(self, tmp, width=1400, height=1000, tz="UTC"):
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp)
        self.port = free_port()
        env = dict(os.environ, TZ=tz)
        self.log = open(os.path.join(self.profile, "chromedriver.log"), "ab")
        self.proc = subprocess.Popen([CHROMEDRIVER, "--port=%d" % self.port, "--allowed-ips=127.0.0.1"],
                                     stdout=self.log, stderr=self.log, env=env)
        self.session = None
        deadline = time.time() + 30
        while True:
            try:
                st, j = self._call("GET", "/status")
                if st == 200 and j.get("value", {}).get("ready"):
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.quit()
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--disable-default-apps", "--disable-extensions",
                         "--disable-dev-shm-usage", "--no-default-browser-check",
                         "--disable-features=Translate,OptimizationHints,MediaRouter",
                         "--user-data-dir=" + os.path.join(self.profile, "profile"),
                         "--window-size=%d,%d" % (width, height)],
            },
            "goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"},
            "timeouts": {"implicit": 0, "pageLoad": 30000, "script": 30000},
        }}}
        st, j = self._call("POST", "/session", caps, timeout=90)
        if st != 200:
            self.quit()
            raise WebDriverError("new session: %r" % (j,))
        self.session = j["value"]["sessionId"]
        # leave the start-up tab for a blank page and forget what it loaded
        self.get("about:blank")
        time.sleep(0.3)
        self.logs("performance")

    # ------------------------------------------------------------ wire

    def _call(self, method, path, body=None, timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data,
                      headers={"Content-Type": "application/json; charset=utf-8"} if data else {})
            r = c.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw else {})
        finally:
            c.close()

    def cmd(self, method, path, body=None):
        st, j = self._call(method, "/session/%s%s" % (self.session, path), body)
        if st != 200:
            raise WebDriverError("%s %s: %s %r" % (method, path, st, j.get("value")))
        return j.get("value")

    # ------------------------------------------------------------ verbs

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        """Runs script (a function body; arguments[i] are args) in the page
        and returns its JSON-able result."""
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        v = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [e[ELEMENT] for e in v]

    def one(self, css):
        els = self.find(css)
        if not els:
            raise WebDriverError("no element matches %s" % css)
        return els[0]

    def click(self, css):
        self.cmd("POST", "/element/%s/click" % self.one(css), {})

    def type(self, css, text, clear=True):
        e = self.one(css)
        if clear:
            self.cmd("POST", "/element/%s/clear" % e, {})
        self.cmd("POST", "/element/%s/value" % e, {"text": text})

    def text(self, css):
        return self.cmd("GET", "/element/%s/text" % self.one(css))

    def select(self, css, value):
        """Picks the <option> with this value in the <select> css, by
        clicking it as a user would."""
        e = self.one(css)
        self.cmd("POST", "/element/%s/click" % e, {})
        opts = self.cmd("POST", "/element/%s/elements" % e,
                        {"using": "css selector", "value": "option"})
        for o in opts:
            oid = o[ELEMENT]
            if self.cmd("GET", "/element/%s/property/value" % oid) == value:
                self.cmd("POST", "/element/%s/click" % oid, {})
                return
        raise WebDriverError("%s has no option %r" % (css, value))

    def wait(self, script, *args, timeout=20, what="condition"):
        """Polls script until it returns something truthy; returns it."""
        deadline = time.time() + timeout
        while True:
            v = self.js(script, *args)
            if v:
                return v
            if time.time() > deadline:
                raise WebDriverError("timed out waiting for %s" % what)
            time.sleep(0.1)

    def screenshot(self, path, full=False, max_height=6000):
        """Saves a PNG of the window; full=True first grows the window to
        the page's height (at most max_height pixels)."""
        if full:
            h = self.js("return document.documentElement.scrollHeight")
            w = self.js("return window.outerWidth")
            self.cmd("POST", "/window/rect", {"width": w, "height": min(int(h) + 120, max_height)})
            self.js("window.scrollTo(0, 0)")
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return path

    def logs(self, kind):
        """Drains the browser's log of this kind ("performance" or
        "browser") since the last call."""
        return self.cmd("POST", "/se/log", {"type": kind})

    def requested_urls(self):
        """Every URL the browser asked for since the last call (DevTools
        Network.requestWillBeSent events), less the browser's own internal
        pages (chrome://, chrome-untrusted://, devtools://), which its
        start-up tab may still be loading and which never leave it."""
        urls = []
        for entry in self.logs("performance"):
            try:
                m = json.loads(entry["message"])["message"]
            except (ValueError, KeyError):
                continue
            if m.get("method") == "Network.requestWillBeSent":
                url = m["params"]["request"]["url"]
                if not url.split(":", 1)[0] in ("chrome", "chrome-untrusted", "devtools"):
                    urls.append(url)
        return urls

    def quit(self):
        if self.session:
            try:
                self._call("DELETE", "/session/%s" % self.session, timeout=30)
            except OSError:
                pass
            self.session = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
