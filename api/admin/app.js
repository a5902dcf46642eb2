/*
 * app.js — the scimlog admin page: change feed with filters and cursor
 * paging, a chart of changes over time by verdict, and the history of one
 * resource with an "as of" view. Talks only to this server's reports API
 * (/reports/v1/{tenant}/, see docs/reports-api.md) with the token the
 * operator typed in, kept in sessionStorage (this tab only).
 *
 * Every value from the server goes into the DOM through textContent or
 * setAttribute on a fixed attribute name, never parsed as HTML: a
 * userName like "<img onerror=...>" shows as text. The page runs under a
 * Content-Security-Policy without inline script or style.
 */
"use strict";

(function () {
  const PAGE = 50; // rows per feed request
  const MAX_ROWS = 5000; // ceiling on rows kept in the feed table
  const HISTORY_MAX = 5000; // ceiling on history entries shown
  const KEY_TENANT = "scimlog.admin.tenant";
  const KEY_TOKEN = "scimlog.admin.token";
  const SVG = "http://www.w3.org/2000/svg";
  const VERDICTS = ["applied", "refused"];

  const state = {
    tenant: null,
    token: null,
    filters: {},
    cursor: null,
    rows: 0,
    feedGen: 0, // bumps on every new query: late answers of old ones are dropped
    historyGen: 0,
    chartGen: 0,
    asofGen: 0,
    historyId: null,
    historyType: null,
  };

  function $(id) {
    return document.getElementById(id);
  }

  /* Creates an element with a class and text; text goes in as text. */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, String(attrs[k]));
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /* data-loading="1" while a request for this part is in flight: lets a
   * screen reader (aria-busy) and the end-to-end test know when it is done */
  function busy(id, on) {
    const n = $(id);
    n.dataset.loading = on ? "1" : "0";
    n.setAttribute("aria-busy", on ? "true" : "false");
  }

  function showError(id, msg) {
    const p = $(id);
    p.textContent = msg || "";
    p.hidden = !msg;
  }

  /* ------------------------------------------------------------ API */

  class ApiError extends Error {
    constructor(status, scimType, detail) {
      super(status + (scimType ? " " + scimType : "") + ": " + detail);
      this.status = status;
    }
  }

  function base() {
    return "/reports/v1/" + encodeURIComponent(state.tenant) + "/";
  }

  /* GET base()+path with the query params that are set; resolves to the
   * parsed JSON body, rejects with ApiError carrying the SCIM error. */
  async function api(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {}))
      if (v !== undefined && v !== null && v !== "") q.set(k, v);
    const qs = q.toString();
    let resp;
    /* 429 (a point-in-time read while the report workers are busy, or the
     * tenant's rate limit): wait as Retry-After says, at most three times */
    for (let attempt = 0; ; attempt++) {
      resp = await fetch(base() + path + (qs ? "?" + qs : ""), {
        headers: { Authorization: "Bearer " + state.token, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
      if (resp.status !== 429 || attempt >= 3) break;
      const wait = Math.min(Math.max(Number(resp.headers.get("Retry-After")) || 1, 1), 5);
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
    let body = null;
    try {
      body = await resp.json();
    } catch (e) {
      body = null;
    }
    if (!resp.ok) {
      const b = body || {};
      throw new ApiError(resp.status, b.scimType || "", b.detail || resp.statusText || "request failed");
    }
    return body;
  }

  /* PUT/DELETE (saved reports); resolves to the JSON body or null. */
  async function apiSend(method, path, body) {
    const resp = await fetch(base() + path, {
      method: method,
      headers: {
        Authorization: "Bearer " + state.token,
        Accept: "application/json",
        "Content-Type": "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
    let b = null;
    try {
      b = await resp.json();
    } catch (e) {
      b = null;
    }
    if (!resp.ok) {
      const x = b || {};
      throw new ApiError(resp.status, x.scimType || "", x.detail || resp.statusText || "request failed");
    }
    return b;
  }

  /* GET as CSV; resolves to an object URL of the text (revoked on the
   * next download of the same link). */
  async function csvUrl(path, params, link) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {}))
      if (v !== undefined && v !== null && v !== "") q.set(k, v);
    q.set("format", "csv");
    const resp = await fetch(base() + path + "?" + q.toString(), {
      headers: { Authorization: "Bearer " + state.token, Accept: "text/csv" },
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
    if (!resp.ok) {
      let b = {};
      try {
        b = await resp.json();
      } catch (e) {
        b = {};
      }
      throw new ApiError(resp.status, b.scimType || "", b.detail || resp.statusText);
    }
    const blob = await resp.blob();
    const text = await blob.text();
    /* what the download holds, for the reader and the end-to-end test */
    link.dataset.lines = String(text.split("\n").filter((l) => l.length).length);
    link.dataset.header = text.split("\n")[0] || "";
    if (link.dataset.url) URL.revokeObjectURL(link.dataset.url);
    const url = URL.createObjectURL(blob);
    link.dataset.url = url;
    link.href = url;
    link.hidden = false;
    return url;
  }

  /* ------------------------------------------------------- formatting */

  /* datetime-local value (local time) -> ISO 8601 UTC, or "" */
  function toIso(local) {
    if (!local) return "";
    const d = new Date(local);
    return isNaN(d.getTime()) ? "" : d.toISOString();
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  /* ISO time -> "YYYY-MM-DD HH:MM:SS" in the browser's time zone */
  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso || "");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function verdictOf(rec) {
    return VERDICTS.includes(rec.verdict) ? rec.verdict : "other";
  }

  function verdictText(rec) {
    const v = verdictOf(rec);
    return v + (rec.status ? " " + rec.status : "") + (rec.scimType ? " " + rec.scimType : "");
  }

  function fmtValue(v) {
    if (v === undefined) return "";
    if (v === null) return "(none)";
    if (typeof v === "string") return v;
    return JSON.stringify(v);
  }

  function nameOf(rec) {
    return rec.userName || rec.displayName || "";
  }

  /* ------------------------------------------------------------ feed */

  function readFilters() {
    return {
      from: toIso($("f-from").value),
      to: toIso($("f-to").value),
      action: $("f-action").value,
      verdict: $("f-verdict").value,
      resource: $("f-resource").value.trim(),
      userName: $("f-username").value.trim(),
      actor: $("f-actor").value.trim(),
      attribute: $("f-attribute").value.trim(),
    };
  }

  function feedRow(rec) {
    const tr = el("tr");
    tr.dataset.seq = String(rec.seq);
    tr.className = verdictOf(rec);
    tr.appendChild(el("td", "time", fmtTime(rec.time)));
    tr.appendChild(el("td", "action", rec.action));
    const res = el("td", "resource");
    res.appendChild(el("span", "rtype", (rec.resourceType || "") + " "));
    if (rec.id && (rec.resourceType === "User" || rec.resourceType === "Group")) {
      const b = el("button", "link", rec.id);
      b.type = "button";
      b.title = "Show the history of this resource";
      b.addEventListener("click", () => openHistory(rec.id, rec.resourceType, nameOf(rec)));
      res.appendChild(b);
    }
    tr.appendChild(res);
    tr.appendChild(el("td", "name", nameOf(rec)));
    const vd = el("td", "verdict-cell");
    vd.appendChild(el("span", "verdict " + verdictOf(rec), verdictText(rec)));
    tr.appendChild(vd);
    tr.appendChild(el("td", "detail", rec.detail || ""));
    tr.appendChild(el("td", "actor", rec.actor || ""));
    return tr;
  }

  async function loadFeed(more) {
    const gen = more ? state.feedGen : ++state.feedGen;
    const tbody = $("feed").tBodies[0];
    const btn = $("load-more");
    if (!more) {
      clear(tbody);
      state.rows = 0;
      state.cursor = null;
      $("feed-count").textContent = "";
    }
    btn.disabled = true;
    busy("feed", true);
    showError("app-error", "");
    try {
      const params = Object.assign({ count: PAGE }, state.filters);
      if (more) params.cursor = state.cursor;
      const page = await api("changes", params);
      if (gen !== state.feedGen) return; // a newer query took over
      for (const rec of page.changes || []) {
        if (state.rows >= MAX_ROWS) break;
        tbody.appendChild(feedRow(rec));
        state.rows++;
      }
      state.cursor = page.nextCursor || null;
      btn.hidden = !state.cursor || state.rows >= MAX_ROWS;
      $("feed-empty").hidden = state.rows > 0;
      $("feed-count").textContent = state.rows + (state.cursor ? "+" : "") +
        (state.rows === 1 ? " change" : " changes");
    } catch (e) {
      if (gen === state.feedGen) handleError(e);
    } finally {
      if (gen === state.feedGen) {
        btn.disabled = false;
        busy("feed", false);
      }
    }
  }

  /* ----------------------------------------------------------- chart */

  /* The summary lists non-empty buckets only: put the empty ones between
   * them back so that the time axis is even (up to MAX_SLOTS bars). */
  const MAX_SLOTS = 400;
  function fillGaps(rows, bucket) {
    const step = bucket === "day" ? 86400000 : 3600000;
    if (rows.length < 2) return rows;
    const t0 = Date.parse(rows[0].start), t1 = Date.parse(rows[rows.length - 1].start);
    if (isNaN(t0) || isNaN(t1) || (t1 - t0) / step >= MAX_SLOTS) return rows;
    const have = new Map(rows.map((r) => [Date.parse(r.start), r]));
    const out = [];
    for (let t = t0; t <= t1; t += step)
      out.push(have.get(t) || { start: new Date(t).toISOString(), applied: 0, refused: 0, other: 0 });
    return out;
  }

  /* Draws stacked bars (one per bucket, one segment per verdict) from
   * the summary endpoint's buckets; bars and segments carry their counts
   * in data-* attributes and an SVG <title> tooltip. */
  function drawChart(summary, bucket) {
    const box = $("chart");
    clear(box);
    const rows = fillGaps((summary.series || []).map((b) => {
      const by = b.byVerdict || {};
      const applied = Number(by.applied) || 0, refused = Number(by.refused) || 0;
      return { start: b.start, applied: applied, refused: refused,
        other: Math.max(0, (Number(b.total) || 0) - applied - refused) };
    }), bucket);
    if (!rows.length) {
      box.appendChild(el("p", "hint", "No changes in this range."));
      return;
    }
    const W = Math.max(600, rows.length * 34 + 60), H = 220, top = 18, bottom = 40, left = 40;
    const plotH = H - top - bottom;
    const max = Math.max(1, ...rows.map((r) => r.applied + r.refused + r.other));
    const slot = (W - left - 10) / rows.length;
    const bw = Math.max(4, Math.min(28, slot - 6));
    const s = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": "changes per " + bucket + " by verdict" });
    s.appendChild(svg("line", { class: "axis", x1: left, y1: top + plotH, x2: W - 5, y2: top + plotH }));
    s.appendChild(svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: top + plotH }));
    const ymax = svg("text", { x: left - 4, y: top + 4, "text-anchor": "end" });
    ymax.textContent = String(max);
    s.appendChild(ymax);
    const y0 = svg("text", { x: left - 4, y: top + plotH, "text-anchor": "end" });
    y0.textContent = "0";
    s.appendChild(y0);
    rows.forEach((r, i) => {
      const x = left + i * slot + (slot - bw) / 2;
      const total = r.applied + r.refused + r.other;
      const g = svg("g", { class: "bucket", "data-start": r.start, "data-total": total });
      let y = top + plotH;
      for (const v of ["applied", "refused", "other"]) {
        if (!r[v]) continue;
        const h = (r[v] / max) * plotH;
        y -= h;
        const rect = svg("rect", { class: "bar " + v, x: x, y: y, width: bw, height: Math.max(h, 1),
          "data-verdict": v, "data-count": r[v] });
        const t = svg("title");
        t.textContent = fmtTime(r.start) + " — " + v + ": " + r[v];
        rect.appendChild(t);
        g.appendChild(rect);
      }
      const lbl = svg("text", { class: "total", x: x + bw / 2, y: y - 3, "text-anchor": "middle" });
      lbl.textContent = total ? String(total) : "";
      g.appendChild(lbl);
      const d = new Date(r.start);
      const tick = svg("text", { x: x + bw / 2, y: top + plotH + 14, "text-anchor": "middle" });
      tick.textContent = isNaN(d.getTime()) ? String(r.start)
        : bucket === "day" ? pad(d.getMonth() + 1) + "-" + pad(d.getDate())
        : pad(d.getHours()) + ":00";
      g.appendChild(tick);
      if (i === 0 || bucket === "hour" && d.getHours() === 0) {
        const day = svg("text", { x: x + bw / 2, y: top + plotH + 28, "text-anchor": "middle" });
        day.textContent = isNaN(d.getTime()) ? "" : d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
        g.appendChild(day);
      }
      s.appendChild(g);
    });
    box.appendChild(s);
  }

  async function loadChart() {
    const bucket = $("chart-bucket").value === "day" ? "day" : "hour";
    const gen = ++state.chartGen;
    busy("chart", true);
    try {
      const f = state.filters;
      const summary = await api("summary", { bucket: bucket, from: f.from, to: f.to });
      if (gen !== state.chartGen) return;
      drawChart(summary, bucket);
    } catch (e) {
      if (gen === state.chartGen) handleError(e);
    } finally {
      if (gen === state.chartGen) busy("chart", false);
    }
  }

  function drawLegend() {
    const ul = $("chart-legend");
    clear(ul);
    for (const v of VERDICTS) ul.appendChild(el("li", v, v));
  }

  /* --------------------------------------------------------- history */

  function changesTable(mods) {
    const t = el("table", "mods");
    const head = el("tr");
    head.appendChild(el("th", null, "attribute"));
    head.appendChild(el("th", null, "old"));
    head.appendChild(el("th", null, "new"));
    t.appendChild(head);
    for (const m of mods) {
      const tr = el("tr");
      tr.appendChild(el("td", "attr", m.path));
      if (m.added || m.removed) { // group membership delta
        tr.appendChild(el("td", "old", m.removed && m.removed.length ? "removed: " + m.removed.join(", ") : ""));
        tr.appendChild(el("td", "new", m.added && m.added.length ? "added: " + m.added.join(", ") : ""));
      } else {
        tr.appendChild(el("td", m.old === null || m.old === undefined ? "old none" : "old", fmtValue(m.old)));
        tr.appendChild(el("td", m.new === null || m.new === undefined ? "new none" : "new", fmtValue(m.new)));
      }
      t.appendChild(tr);
    }
    return t;
  }

  async function openHistory(id, rtype, name) {
    const gen = ++state.historyGen;
    state.historyId = id;
    /* User, Group, or a resource type of the tenant's own (its name) */
    state.historyType = rtype || "User";
    $("history-panel").hidden = false;
    $("history-title").textContent = (name || id) + " (" + state.historyType + ")";
    $("history-id").textContent = id;
    $("asof-result").hidden = true;
    const ol = $("history");
    clear(ol);
    busy("history", true);
    try {
      // oldest first; follow the cursor, but keep at most HISTORY_MAX entries
      let recs = [], cursor = null, more = false;
      do {
        const h = await api("resources/" + encodeURIComponent(id) + "/history",
          { count: 1000, cursor: cursor });
        if (gen !== state.historyGen) return;
        recs = recs.concat(h.changes || []);
        cursor = h.nextCursor || null;
        more = cursor && recs.length < HISTORY_MAX;
      } while (more);
      if (recs.length > HISTORY_MAX) recs.length = HISTORY_MAX;
      for (const rec of recs) {
        const li = el("li", verdictOf(rec));
        li.dataset.seq = String(rec.seq);
        li.appendChild(el("span", "when", fmtTime(rec.time)));
        li.appendChild(el("span", "what", rec.action + " "));
        li.appendChild(el("span", "verdict " + verdictOf(rec), verdictText(rec)));
        if (rec.detail) li.appendChild(el("div", "detail", rec.detail));
        if (rec.actor) li.appendChild(el("div", "hint", "by token " + rec.actor +
          (rec.requestId ? ", request " + rec.requestId : "")));
        if (rec.modified && rec.modified.length) li.appendChild(changesTable(rec.modified));
        ol.appendChild(li);
      }
      if (!ol.firstChild) ol.appendChild(el("li", null, "No recorded changes."));
      if (cursor) ol.appendChild(el("li", "hint", "Only the first " + recs.length +
        " changes are shown; narrow the time range in the reports API for the rest."));
      $("history-panel").scrollIntoView({ block: "start" });
    } catch (e) {
      if (gen === state.historyGen) handleError(e);
    } finally {
      if (gen === state.historyGen) busy("history", false);
    }
  }

  /* Flattens a resource into [path, value] rows for display. */
  function flatten(obj, prefix, out) {
    for (const [k, v] of Object.entries(obj)) {
      const p = prefix ? prefix + "." + k : k;
      if (Array.isArray(v) && v.some((x) => x && typeof x === "object"))
        v.forEach((x, i) => (x && typeof x === "object" ? flatten(x, p + "[" + i + "]", out)
          : out.push([p + "[" + i + "]", fmtValue(x)])));
      else if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, p, out);
      else out.push([p, fmtValue(v)]);
    }
    return out;
  }

  async function showAsOf(ev) {
    ev.preventDefault();
    const when = toIso($("asof-time").value);
    const box = $("asof-result");
    const tbody = $("asof-table").tBodies[0];
    if (!when || !state.historyId) return;
    clear(tbody);
    box.hidden = false;
    $("asof-caption").textContent = "";
    const gen = ++state.asofGen;
    busy("asof-result", true);
    try {
      const t = state.historyType;
      const path = (t === "Group" ? "Groups/" : t === "User" ? "Users/" : encodeURIComponent(t) + "/") +
        encodeURIComponent(state.historyId);
      const res = await api(path, { asOf: when });
      if (gen !== state.asofGen) return;
      $("asof-caption").textContent = "As of " + fmtTime(when) + ":";
      for (const [k, v] of flatten(res, "", [])) {
        if (k === "schemas" || k.startsWith("meta.location")) continue;
        const tr = el("tr");
        tr.appendChild(el("th", null, k));
        tr.appendChild(el("td", null, v));
        tbody.appendChild(tr);
      }
    } catch (e) {
      if (gen !== state.asofGen) return;
      if (e instanceof ApiError && e.status === 401) return handleError(e);
      $("asof-caption").textContent = e.status === 404
        ? "The resource did not exist at " + fmtTime(when) + "."
        : "Could not load: " + e.message;
    } finally {
      if (gen === state.asofGen) busy("asof-result", false);
    }
  }

  /* ----------------------------------------------------------- session */

  function handleError(e) {
    if (e instanceof ApiError && e.status === 401) {
      logout("The token was refused: " + e.message);
      return;
    }
    showError("app-error", e instanceof ApiError ? e.message : "network error: " + e.message);
  }

  function refresh() {
    state.filters = readFilters();
    loadFeed(false);
    loadChart();
    loadHealth();
    loadSaved();
  }

  /* ------------------------------------------------------------ health */

  async function loadHealth() {
    busy("health", true);
    const dl = $("health");
    try {
      const h = await api("health");
      clear(dl);
      const t = h.last24h || {};
      const bv = t.byVerdict || {};
      const rows = [
        ["Log", h.log + ", position " + h.position],
        ["Fold lag", h.foldLag ? h.foldLag.events + " events, " + h.foldLag.seconds + " s" : "not measured (Kafka)"],
        ["Changes, last 24 h", String(t.total || 0)],
        ["Refused, last 24 h", String(bv.refused || 0)],
        ["Rate-limit refusals (recent)", String(h.rateLimited.recent) + " (limit " + h.rateLimited.limit + ")"],
        ["Status", h.disabled ? "disabled" : "enabled"],
        ["Schema generation", String(h.schemaGeneration)],
      ];
      for (const [k, v] of rows) {
        dl.appendChild(el("dt", null, k));
        dl.appendChild(el("dd", null, v));
      }
    } catch (e) {
      clear(dl);
      dl.appendChild(el("dd", "error", e.message));
    } finally {
      busy("health", false);
    }
  }

  /* ----------------------------------------------------- saved reports */

  function filterText(f) {
    return Object.entries(f || {})
      .map(([k, v]) => k + "=" + v)
      .join(" ");
  }

  async function loadSaved() {
    busy("saved", true);
    const tb = $("saved").tBodies[0];
    try {
      const r = await api("saved");
      clear(tb);
      for (const d of r.reports || []) {
        const tr = el("tr");
        tr.dataset.name = d.name;
        tr.appendChild(el("td", "name", d.name));
        tr.appendChild(el("td", null, d.description || ""));
        tr.appendChild(el("td", null, filterText(d.filter)));
        tr.appendChild(el("td", null, d.format || "json"));
        const td = el("td");
        const run = el("button", "run", "Run");
        run.type = "button";
        run.addEventListener("click", () => runSaved(d.name));
        const del = el("button", "delete", "Delete");
        del.type = "button";
        del.addEventListener("click", () => deleteSaved(d.name));
        td.appendChild(run);
        td.appendChild(del);
        tr.appendChild(td);
        tb.appendChild(tr);
      }
      showError("saved-error", "");
    } catch (e) {
      showError("saved-error", e.message);
    } finally {
      busy("saved", false);
    }
  }

  async function saveReport(ev) {
    ev.preventDefault();
    const name = $("save-name").value.trim();
    const filter = {};
    for (const [k, v] of Object.entries(readFilters())) if (v) filter[k] = v;
    busy("saved", true);
    try {
      const def = { filter: filter, format: $("save-format").value };
      const desc = $("save-desc").value.trim();
      if (desc) def.description = desc;
      await apiSend("PUT", "saved/" + encodeURIComponent(name), def);
      showError("saved-error", "");
      $("save-form").reset();
    } catch (e) {
      showError("saved-error", e.message);
    } finally {
      busy("saved", false);
    }
    loadSaved();
  }

  async function runSaved(name) {
    busy("run-result", true);
    $("run-result").hidden = false;
    $("run-download").hidden = true;
    try {
      const r = await api("saved/" + encodeURIComponent(name) + "/run", { format: "json", count: 1000 });
      const n = (r.changes || r.Resources || []).length;
      $("run-caption").textContent =
        "Report " + name + ": " + n + " record" + (n === 1 ? "" : "s") + (r.nextCursor ? " (first page)" : "");
      $("run-caption").dataset.count = String(n);
      await csvUrl("saved/" + encodeURIComponent(name) + "/run", { count: 1000 }, $("run-download"));
      $("run-download").setAttribute("download", name + ".csv");
    } catch (e) {
      $("run-caption").textContent = e.message;
    } finally {
      busy("run-result", false);
    }
  }

  async function deleteSaved(name) {
    busy("saved", true);
    try {
      await apiSend("DELETE", "saved/" + encodeURIComponent(name));
      showError("saved-error", "");
    } catch (e) {
      showError("saved-error", e.message);
    } finally {
      busy("saved", false);
    }
    loadSaved();
  }

  async function downloadFeed() {
    busy("feed-download", true);
    try {
      await csvUrl("changes", Object.assign({ count: 1000 }, state.filters), $("feed-download"));
      $("feed-download").setAttribute("download", "changes-" + state.tenant + ".csv");
    } catch (e) {
      showError("app-error", e.message);
    } finally {
      busy("feed-download", false);
    }
  }

  async function login(tenant, token) {
    state.tenant = tenant;
    state.token = token;
    showError("login-error", "");
    try {
      await api("changes", { count: 1 }); // proves tenant + token before showing anything
    } catch (e) {
      state.tenant = state.token = null;
      sessionStorage.removeItem(KEY_TENANT);
      sessionStorage.removeItem(KEY_TOKEN);
      showError("login-error", e instanceof ApiError ? e.message : "network error: " + e.message);
      return;
    }
    sessionStorage.setItem(KEY_TENANT, tenant);
    sessionStorage.setItem(KEY_TOKEN, token);
    $("login-panel").hidden = true;
    $("app").hidden = false;
    $("session").hidden = false;
    $("session-tenant").textContent = tenant;
    refresh();
  }

  function logout(msg) {
    sessionStorage.removeItem(KEY_TENANT);
    sessionStorage.removeItem(KEY_TOKEN);
    state.tenant = state.token = null;
    state.feedGen++;
    state.historyGen++;
    $("app").hidden = true;
    $("session").hidden = true;
    $("history-panel").hidden = true;
    $("login-panel").hidden = false;
    $("login-token").value = "";
    showError("login-error", msg || "");
  }

  function init() {
    drawLegend();
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      login($("login-tenant").value.trim(), $("login-token").value.trim());
    });
    $("logout").addEventListener("click", () => logout(""));
    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      refresh();
    });
    $("f-clear").addEventListener("click", () => {
      $("filters").reset();
      refresh();
    });
    $("load-more").addEventListener("click", () => loadFeed(true));
    $("chart-bucket").addEventListener("change", loadChart);
    $("history-close").addEventListener("click", () => {
      state.historyGen++;
      $("history-panel").hidden = true;
    });
    $("asof-form").addEventListener("submit", showAsOf);
    $("health-refresh").addEventListener("click", loadHealth);
    $("save-form").addEventListener("submit", saveReport);
    $("feed-csv").addEventListener("click", downloadFeed);
    const t = sessionStorage.getItem(KEY_TENANT), k = sessionStorage.getItem(KEY_TOKEN);
    if (t && k) {
      $("login-tenant").value = t;
      login(t, k);
    }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
