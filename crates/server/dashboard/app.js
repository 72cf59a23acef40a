// The dashboard: reads the JSON API with the viewer's token and follows the event stream.
// Text from the API is only ever set as textContent, never parsed as HTML.
"use strict";

const TOKEN_KEY = "bellwether-token";
const HISTORY_KEPT = 400; // events kept for a service's charts and history
const POLL_MS = 1000; // how often the log of a running step is read again

const state = { me: null, route: null, page: null, stream: null };

// ---- elements ----------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function badge(text) {
  return h("span", { class: `badge ${String(text).toLowerCase()}` }, text);
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function when(ms) {
  const d = new Date(ms);
  return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + time(ms);
}

function percent(bp) {
  return `${(bp / 100).toLocaleString([], { maximumFractionDigits: 2 })}%`;
}

function formatValue(unit, v) {
  if (v === null || v === undefined) return "–";
  switch (unit) {
    case "ratio": return `${(v * 100).toLocaleString([], { maximumFractionDigits: 3 })}%`;
    case "seconds": return v < 1 ? `${(v * 1000).toLocaleString([], { maximumFractionDigits: 1 })}ms` : `${v.toLocaleString([], { maximumFractionDigits: 2 })}s`;
    case "per_second": return `${v.toLocaleString([], { maximumFractionDigits: 2 })}/s`;
    default: return v.toLocaleString([], { maximumFractionDigits: 3 });
  }
}

function show(node, title) {
  const main = document.getElementById("main");
  main.replaceChildren(node);
  if (title) document.title = `${title} · bellwether`;
}

function notice(text, ok) {
  const el = document.getElementById("notice");
  el.textContent = text;
  el.className = ok ? "notice ok" : "notice";
  el.hidden = !text;
}

// ---- the API -----------------------------------------------------------------------------

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, body) {
  const init = { headers: { Authorization: `Bearer ${token()}` } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.me = null;
    route();
  }
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || response.statusText);
  return data;
}

function may(permission) {
  return !!state.me && state.me.permissions.includes(permission);
}

// An action button: runs `act`, shows what came of it, and reloads the page's data.
function action(label, act, opts = {}) {
  const button = h("button", { class: opts.class || "", type: "button", "data-action": opts.name || label });
  button.textContent = label;
  let armed = false;
  button.addEventListener("click", async () => {
    if (opts.confirm && !armed) {
      armed = true;
      button.textContent = opts.confirm;
      setTimeout(() => { armed = false; button.textContent = label; }, 5000);
      return;
    }
    button.disabled = true;
    try {
      await act();
      notice(`${opts.done || label}: done`, true);
    } catch (e) {
      notice(`${label}: ${e.message}`);
    } finally {
      button.disabled = false;
      refresh();
    }
  });
  return button;
}

// ---- live updates ------------------------------------------------------------------------

// The event streams, read with fetch so that the token goes in a header.
function follow() {
  if (state.stream) return;
  const controller = new AbortController();
  state.stream = controller;
  const live = document.getElementById("live");
  listen("/v1/events", controller, received, (up) => {
    live.textContent = up ? "● live" : "○ reconnecting";
    if (up) refresh(); // anything missed while disconnected
  });
  listen("/v1/runs/events", controller, runChanged, (up) => {
    if (up && state.page && state.page.run) refresh();
  });
}

// Calls `block` with each event of the stream at `path` and `opened(true)` each time it
// connects, `opened(false)` when it is lost; reconnects with back-off until aborted. A control
// plane without the stream (404) is not asked again.
async function listen(path, controller, block, opened) {
  let wait = 500;
  while (state.stream === controller) {
    try {
      const response = await fetch(path, {
        headers: { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" },
        signal: controller.signal,
      });
      if (response.status === 404) return;
      if (!response.ok) throw new Error(response.statusText);
      opened(true);
      wait = 500;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const text = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          block(text);
        }
      }
    } catch (e) {
      if (controller.signal.aborted) return;
    }
    opened(false);
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 10000);
  }
}

// A run changed: the runs pages read it again; `lagged` means changes were missed.
function runChanged(block) {
  const lines = block.split("\n");
  if (lines.some((l) => l.startsWith("event:") && l.slice(6).trim() === "lagged")) {
    if (state.page && state.page.run) refresh();
    return;
  }
  const data = lines.find((l) => l.startsWith("data:"));
  if (data && state.page && state.page.run) state.page.run(Number(data.slice(5).trim()));
}

function received(block) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (kind === "lagged") return refresh();
  if (!data.length) return;
  let event;
  try { event = JSON.parse(data.join("\n")); } catch { return; }
  if (state.page && state.page.event) state.page.event(event);
}

// Reloads the page's data, at most once per 200 ms however many events arrive.
let pending = null;
function refresh() {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    if (state.page && state.page.load) state.page.load().catch((e) => notice(e.message));
  }, 200);
}

// ---- pages -------------------------------------------------------------------------------

function login(message) {
  const input = h("input", { type: "password", id: "token", autocomplete: "off", required: true });
  const form = h("form", { class: "login card" },
    h("h1", {}, "Sign in"),
    message ? h("p", { class: "reason" }, message) : null,
    h("label", { for: "token" }, "Token (`bellwether dashboard` prints a link with yours, or `bellwether token create`)"),
    input,
    h("button", { class: "primary", type: "submit" }, "Sign in"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    route();
  });
  show(form, "Sign in");
  input.focus();
}

function servicesPage() {
  const body = h("tbody");
  const table = h("table", {},
    h("caption", { class: "sr-only" }, "Services"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Service"), h("th", { scope: "col" }, "Phase"),
      h("th", { scope: "col" }, "Stable"), h("th", { scope: "col" }, "Rolling out"),
      h("th", { scope: "col" }, "Ready"),
      h("th", { scope: "col", class: "hide-narrow" }, "Step"),
      h("th", { scope: "col", class: "hide-narrow" }, "Why"))),
    body);
  show(h("section", {}, h("h1", {}, "Services"), table), "Services");
  return {
    async load() {
      const services = await api("/v1/services");
      body.replaceChildren(...services.map((s) => h("tr", { "data-service": s.name },
        h("td", {}, h("a", { href: `#/services/${encodeURIComponent(s.name)}` }, s.name)),
        h("td", {}, badge(s.phase)),
        h("td", {}, s.stable ? s.stable.version : "–"),
        h("td", {}, s.target ? `${s.target.version} at ${percent(s.target_weight)}` : "–"),
        h("td", { "data-ready": `${s.ready}/${s.desired}` }, `${s.ready}/${s.desired}`),
        h("td", { class: "hide-narrow" }, s.step ? `${s.step.index + 1}/${s.step.total}: ${s.step.description}` : s.strategy),
        h("td", { class: "hide-narrow reason" }, s.reason))));
      if (!services.length) body.append(h("tr", {}, h("td", { colspan: 7 }, "No services: `bellwether apply` declares them.")));
    },
    event() { refresh(); },
  };
}

function duration(ms) {
  if (ms === null || ms === undefined) return "n/a";
  const s = ms / 1000;
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86400).toFixed(1)}d`;
}

// The four DORA figures of each service and environment, beside the project's targets.
function doraPage() {
  const since = h("select", { id: "since" }, ["7d", "30d", "90d"].map((d) => h("option", { value: d, selected: d === "30d" }, d)));
  const body = h("div");
  since.addEventListener("change", () => refresh());
  show(h("section", {}, h("h1", {}, "DORA metrics"),
    h("p", {}, h("label", { for: "since" }, "Window: "), since),
    body), "DORA");
  const verdict = (check) => {
    if (!check) return null;
    const look = { met: "success", not_met: "failure" }[check.verdict] || "";
    return h("span", {}, ` target ${check.target} `,
      h("span", { class: `badge ${look}`, "data-verdict": check.verdict }, check.verdict.replace("_", " ")));
  };
  return {
    async load() {
      const report = await api(`/v1/dora?since=${encodeURIComponent(since.value)}`);
      const rows = report.figures.map((f) => {
        const t = f.targets || {};
        const d = f.deployment_frequency, l = f.lead_time, c = f.change_failure_rate, r = f.time_to_restore;
        return h("tr", { "data-dora": `${f.service}/${f.environment || ""}` },
          h("td", {}, f.service), h("td", {}, f.environment || "–"),
          h("td", {}, d.per_day === null ? "n/a" : `${d.per_day.toFixed(2)}/day (${d.deployments})`, verdict(t.deployment_frequency)),
          h("td", {}, l.count ? `${duration(l.median_ms)} median, ${duration(l.p90_ms)} p90` : "n/a: no known commit",
            l.excluded ? h("span", { class: "muted" }, ` (${l.excluded} without a commit)`) : null, verdict(t.lead_time)),
          h("td", {}, c.rate === null ? "n/a: no rollouts" : `${(c.rate * 100).toFixed(1)}% (${c.failed} of ${c.rollouts})`, verdict(t.change_failure_rate)),
          h("td", {}, r.count ? `${duration(r.median_ms)} median, ${duration(r.p90_ms)} p90` : "n/a: no failure restored",
            r.unrestored ? h("span", { class: "muted" }, ` (${r.unrestored} open, oldest ${duration(r.longest_open_ms)})`) : null,
            verdict(t.time_to_restore)));
      });
      body.replaceChildren(rows.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["Service", "Environment", "Deployment frequency", "Lead time", "Change failure rate", "Time to restore"]
          .map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))
        : h("p", {}, "No rollouts in this window."));
    },
    event() { refresh(); },
  };
}

const COLORS = ["#0b5cad", "#c62828", "#1a7f37", "#9a6700", "#6a1b9a", "#00796b"];

// A line chart of `lines` ([{name, points: [[t, v]]}]) over time, values from 0 to `top`.
function chart(title, lines, opts) {
  const W = 560, H = 200, L = 48, R = 10, T = 10, B = 24;
  const all = lines.flatMap((l) => l.points);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  if (!all.length) {
    svg.append(s("text", { x: L, y: H / 2 }, "no data yet"));
    return h("figure", { class: "chart card" }, h("figcaption", {}, title), svg);
  }
  const t0 = Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(...all.map((p) => p[0]), opts.until || 0, t0 + 1000);
  const values = all.map((p) => p[1]).concat(opts.band ? opts.band.flatMap((b) => [b[1], b[2]]) : []);
  if (opts.threshold !== null && opts.threshold !== undefined) values.push(opts.threshold);
  const top = opts.top !== undefined ? opts.top : Math.max(...values, 0) * 1.15 || 1;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - Math.min(v, top) / top) * (H - T - B);
  svg.append(
    s("line", { class: "axis", x1: L, y1: y(0), x2: W - R, y2: y(0) }),
    s("line", { class: "axis", x1: L, y1: T, x2: L, y2: y(0) }),
    s("text", { x: 2, y: y(top) + 10 }, opts.format(top)),
    s("text", { x: 2, y: y(0) }, opts.format(0)),
    s("text", { x: L, y: H - 6 }, time(t0)),
    s("text", { x: W - R - 60, y: H - 6 }, time(t1)));
  if (opts.band && opts.band.length) {
    const upper = opts.band.map((b) => `${x(b[0])},${y(b[2])}`);
    const lower = opts.band.slice().reverse().map((b) => `${x(b[0])},${y(b[1])}`);
    svg.append(s("polygon", { class: "band", points: upper.concat(lower).join(" ") }));
  }
  if (opts.threshold !== null && opts.threshold !== undefined) {
    svg.append(s("line", { class: "threshold", x1: L, y1: y(opts.threshold), x2: W - R, y2: y(opts.threshold) }),
      s("text", { x: W - R - 110, y: y(opts.threshold) - 4 }, `limit ${opts.format(opts.threshold)}`));
  }
  const legend = h("div", { class: "legend" });
  lines.forEach((line, i) => {
    const color = COLORS[i % COLORS.length];
    // A share holds until it changes, and the last one until now.
    const held = opts.steps ? line.points.concat([[t1, line.points[line.points.length - 1][1]]]) : line.points;
    const points = opts.steps
      ? held.flatMap((p, j) => (j ? [[p[0], held[j - 1][1]], p] : [p]))
      : held;
    svg.append(s("polyline", { fill: "none", stroke: color, "stroke-width": 2,
      points: points.map((p) => `${x(p[0])},${y(p[1])}`).join(" ") }));
    const last = line.points[line.points.length - 1];
    const entry = h("span", { "data-line": line.name }, `${line.name}: ${opts.format(last[1])}`);
    entry.style.setProperty("--c", color);
    legend.append(entry);
  });
  return h("figure", { class: "chart card" }, h("figcaption", {}, title), svg, legend);
}

// Each revision's share of traffic over the events kept.
function weightsChart(history) {
  const revisions = new Map();
  let before = null;
  for (const e of history) {
    const seen = new Set();
    for (const [rev, bp] of e.weights || []) {
      // A revision new to the chart had no traffic until now.
      if (!revisions.has(rev)) revisions.set(rev, before === null ? [] : [[before, 0]]);
      revisions.get(rev).push([e.at, bp]);
      seen.add(rev);
    }
    before = e.at;
    for (const [rev, points] of revisions) {
      if (!seen.has(rev) && points.length && points[points.length - 1][1] !== 0) points.push([e.at, 0]);
    }
  }
  const lines = [...revisions].map(([rev, points]) => ({ name: `revision ${rev}`, points }));
  return chart("Traffic by revision", lines, { top: 10000, format: percent, steps: true, until: Date.now() });
}

function servicePage(name) {
  const path = `/v1/services/${encodeURIComponent(name)}`;
  let history = [];
  const parts = {
    head: h("div"), actions: h("div", { class: "actions", role: "group", "aria-label": "actions" }),
    steps: h("div"), revisions: h("div"), charts: h("div", { class: "charts" }),
    history: h("ol", { class: "history", reversed: true }),
  };
  show(h("section", {}, parts.head, parts.actions, parts.steps,
    h("h2", {}, "Revisions"), parts.revisions,
    h("h2", {}, "Over time"), parts.charts,
    h("h2", {}, "History"), parts.history), name);

  const command = (c) => api(`${path}/commands`, { command: c });
  function render(view) {
    parts.head.replaceChildren(
      h("h1", {}, view.name, badge(view.phase), h("span", { class: "muted" }, view.strategy)),
      h("p", { class: "reason", id: "reason" }, view.reason));
    const buttons = [];
    const inProgress = view.phase === "progressing" || view.phase === "paused";
    if (may("operate")) {
      if (inProgress) {
        buttons.push(action("Promote", () => command({ promote: { full: false } }), { class: "primary", name: "promote" }));
        buttons.push(action("Promote fully", () => command({ promote: { full: true } }), { name: "promote-full" }));
        buttons.push(view.phase === "paused"
          ? action("Resume", () => command("resume"), { name: "resume" })
          : action("Pause", () => command("pause"), { name: "pause" }));
        buttons.push(action("Abort", () => command({ abort: { reason: "aborted from the dashboard" } }),
          { class: "danger", name: "abort", confirm: "Confirm abort" }));
      }
      if (view.phase === "degraded") buttons.push(action("Retry", () => command("retry"), { name: "retry" }));
      if (view.stable && !inProgress) {
        buttons.push(action("Undo", () => api(`${path}/undo`, {}), { name: "undo", confirm: "Confirm undo" }));
      }
    }
    parts.actions.replaceChildren(...buttons);
    if (view.steps && view.steps.length) {
      const at = view.step ? view.step.index : (view.target ? -1 : view.steps.length);
      parts.steps.replaceChildren(h("h2", {}, "Steps"), h("ol", { class: "steps" },
        view.steps.map((d, i) => h("li", {
          class: i < at ? "done" : i === at ? "current" : "",
          "aria-current": i === at ? "step" : null,
        }, `${i + 1}. ${d}`))));
    } else {
      parts.steps.replaceChildren();
    }
    parts.revisions.replaceChildren(h("table", {},
      h("thead", {}, h("tr", {}, ["Revision", "Version", "Role", "Traffic", "Ready"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, view.revisions.map((r) => h("tr", { "data-revision": r.number },
        h("td", {}, r.number), h("td", {}, r.version), h("td", {}, r.role),
        h("td", {}, percent(r.weight)), h("td", {}, `${r.ready}/${r.desired}`))))));
    const charts = [weightsChart(history)];
    for (const analysis of view.analyses) {
      for (const series of analysis.series || []) {
        const points = series.points.filter((p) => p.value !== null).map((p) => [p.at, p.value]);
        const band = series.points.filter((p) => p.low !== null && p.high !== null).map((p) => [p.at, p.low, p.high]);
        charts.push(chart(`${series.metric} ${series.condition} (${analysis.run}, revision ${analysis.revision})`,
          [{ name: series.metric, points }],
          { threshold: series.threshold, band, format: (v) => formatValue(series.unit, v) }));
      }
    }
    parts.charts.replaceChildren(...charts);
    parts.history.replaceChildren(...history.slice().reverse().slice(0, 100).map((e) => h("li", {},
      h("time", {}, time(e.at)), " ", badge(e.phase), " ", e.kind,
      e.notes.length ? h("span", {}, ": ", e.notes.join("; ")) : null)));
  }
  return {
    async load() {
      const [view, entries] = await Promise.all([api(path), api(`${path}/history`)]);
      history = entries.slice(-HISTORY_KEPT);
      render(view);
    },
    event(e) {
      if (e.service === name) refresh();
    },
  };
}

// A form per manual pipeline: its inputs, and a button that starts a run and opens it.
function dispatchForms(pipelines) {
  return pipelines.filter((p) => p.manual).map((p) => {
    const fields = p.inputs.map((input) => {
      const id = `input-${p.name}-${input.name}`;
      let field;
      if (input.kind === "boolean") {
        field = h("input", { type: "checkbox", id, checked: input.default === "true" });
      } else if (input.kind === "choice") {
        field = h("select", { id }, input.options.map((o) => h("option", { value: o, selected: o === input.default }, o)));
      } else {
        field = h("input", { type: input.kind === "number" ? "number" : "text", id, value: input.default || "", required: input.required });
      }
      const read = () => (input.kind === "boolean" ? field.checked
        : input.kind === "number" ? Number(field.value) : field.value);
      return { input, read, node: h("label", { for: id }, `${input.name}${input.required ? " *" : ""} `, field,
        input.description ? h("span", { class: "muted" }, ` ${input.description}`) : null) };
    });
    const start = action(`Start ${p.name}`, async () => {
      const inputs = {};
      for (const f of fields) {
        const value = f.read();
        if (value !== "" || f.input.required) inputs[f.input.name] = value;
      }
      const started = await api(`/v1/pipelines/${encodeURIComponent(p.name)}/dispatch`, { inputs });
      if (started.runs && started.runs.length) location.hash = `#/runs/${started.runs[0].number}`;
    }, { class: "primary", name: `dispatch-${p.name}`, done: `${p.name} started` });
    return h("div", { class: "card dispatch", "data-pipeline": p.name }, fields.map((f) => f.node), start);
  });
}

function runsPage() {
  const body = h("tbody");
  const dispatch = h("div");
  if (may("dispatch")) {
    api("/v1/pipelines").then((pipelines) => {
      const forms = dispatchForms(pipelines);
      if (forms.length) dispatch.replaceChildren(h("h2", {}, "Start a run"), ...forms);
    }).catch((e) => notice(e.message));
  }
  show(h("section", {}, h("h1", {}, "Pipeline runs"), dispatch, h("table", { class: "runs" },
    h("caption", { class: "sr-only" }, "Pipeline runs, newest first"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Run"), h("th", { scope: "col" }, "Pipeline"),
      h("th", { scope: "col" }, "Status"), h("th", { scope: "col", class: "hide-narrow" }, "By"),
      h("th", { scope: "col", class: "hide-narrow" }, "What"), h("th", { scope: "col" }, "Started"),
      h("th", { scope: "col", class: "hide-narrow" }, "Took"))),
    body)), "Runs");
  return {
    async load() {
      const runs = await api("/v1/runs?limit=50");
      body.replaceChildren(...runs.map((r) => h("tr", { "data-run": r.number },
        h("td", {}, h("a", { href: `#/runs/${r.number}` }, `#${r.number}`)),
        h("td", {}, r.pipeline), h("td", {}, badge(r.status)),
        h("td", { class: "hide-narrow" }, r.actor), h("td", { class: "hide-narrow" }, r.summary),
        h("td", {}, when(r.started_ms)),
        h("td", { class: "hide-narrow" }, r.finished_ms ? took(r.started_ms, r.finished_ms) : "–"))));
      if (!runs.length) body.append(h("tr", {}, h("td", { colspan: 7 }, "No runs yet.")));
    },
    run() { refresh(); },
  };
}

// How long from `start` to `end` (or until now): `4.2s`, `3m 05s`, `1h 02m`.
function took(start, end) {
  if (!start) return "";
  const ms = Math.max(0, (end || Date.now()) - start);
  if (ms < 60000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60000), sec = Math.floor(ms / 1000) % 60;
  if (m < 60) return `${m}m ${String(sec).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

// Each job's column in the graph: 0 for a job that needs none, else one past its deepest need.
function depths(jobs) {
  const byId = new Map(jobs.map((j) => [j.job, j]));
  const depth = new Map();
  const of = (id, seen) => {
    if (depth.has(id)) return depth.get(id);
    const job = byId.get(id);
    if (!job || seen.has(id)) return -1;
    seen.add(id);
    const d = Math.max(-1, ...job.needs.map((n) => of(n, seen))) + 1;
    depth.set(id, d);
    return d;
  };
  for (const j of jobs) of(j.job, new Set());
  return depth;
}

// The leg to show when nobody has picked one: a running one, else a failed one, else the last
// that started.
function defaultLeg(run) {
  const legs = run.jobs.flatMap((j) => j.instances.map((i) => ({ job: j.job, leg: i })));
  const pick = legs.find((l) => l.leg.status === "running")
    || legs.find((l) => l.leg.status === "failure")
    || legs.filter((l) => l.leg.started_ms).pop();
  return pick ? { job: pick.job, index: pick.leg.index } : null;
}

function stepOf(leg) {
  if (!leg.steps.length) return null;
  const running = leg.steps.findIndex((st) => st.status === "running");
  const failed = leg.steps.findIndex((st) => st.status === "failure");
  return (running >= 0 ? running : failed >= 0 ? failed : leg.steps.length - 1) + 1;
}

const LOG_KEPT = 200 * 1024; // characters of a step's log kept on the page

// A step's log, read from where the last read ended while the step runs, and only its last
// LOG_KEPT characters kept.
function logFollower(number, pre, note) {
  let key = null, offset = 0, text = "", decoder = null, timer = null, running = false, cut = false;
  // One read at a time per step, so no part is read twice; a tick during one reads again after.
  let busy = null, again = false;
  const path = (sel) => `/v1/runs/${number}/logs?job=${encodeURIComponent(sel.job)}&instance=${sel.index}&step=${sel.step}`;
  async function read(sel, mine) {
    for (;;) {
      const response = await fetch(`${path(sel)}&offset=${offset}`, { headers: { Authorization: `Bearer ${token()}` } });
      if (mine !== key) return;
      if (!response.ok) {
        let message = response.statusText;
        try { message = (await response.json()).error || message; } catch { /* not JSON */ }
        note.textContent = response.status === 404 ? `No log: ${message}` : message;
        return;
      }
      const size = Number(response.headers.get("x-log-size") || 0);
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (mine !== key) return;
      // A long log is read from near its end.
      if (offset === 0 && size - bytes.length > LOG_KEPT) {
        offset = size - LOG_KEPT;
        cut = true;
        continue;
      }
      offset += bytes.length;
      append(decoder.decode(bytes, { stream: true }));
      if (bytes.length === 0 || offset >= size) break;
    }
    note.textContent = cut ? "Earlier output is not shown." : "";
  }
  function append(more) {
    if (!more) return;
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    text += more;
    if (text.length > LOG_KEPT) {
      const from = text.indexOf("\n", text.length - LOG_KEPT);
      text = text.slice(from >= 0 ? from + 1 : text.length - LOG_KEPT);
      cut = true;
    }
    pre.textContent = text;
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }
  async function tick(sel, mine) {
    if (busy === mine) { again = true; return; }
    busy = mine;
    try {
      do {
        again = false;
        await read(sel, mine);
      } while (again && mine === key);
    } catch (e) {
      if (mine === key) note.textContent = e.message;
    } finally {
      if (busy === mine) busy = null;
    }
    if (mine === key && running) {
      clearTimeout(timer);
      timer = setTimeout(() => tick(sel, mine), POLL_MS);
    }
  }
  return {
    // Shows step `sel.step` of leg `sel.index` of job `sel.job`, still `isRunning` or not.
    show(sel, isRunning) {
      const next = `${sel.job}/${sel.index}/${sel.step}`;
      const wasRunning = running;
      running = isRunning;
      if (next === key) {
        // It just ended: read what it wrote last.
        if (wasRunning && !isRunning) { clearTimeout(timer); tick(sel, key); }
        return;
      }
      clearTimeout(timer);
      key = next; offset = 0; text = ""; cut = false; decoder = new TextDecoder();
      pre.textContent = "";
      note.textContent = "";
      tick(sel, key);
    },
    stop() { clearTimeout(timer); key = null; },
  };
}

function runPage(number) {
  const comment = h("input", { type: "text", id: "comment", placeholder: "comment (optional)" });
  const parts = {
    head: h("div"), actions: h("div", { class: "actions", role: "group", "aria-label": "actions" }),
    gates: h("div"), graph: h("div", { class: "graph" }), steps: h("div"),
    stepsTitle: h("h2", { id: "steps-title" }, "Steps"), logTitle: h("h2", { id: "log-title" }, "Log"),
    log: h("pre", { class: "log", id: "log", tabindex: 0, "aria-labelledby": "log-title" }),
    logNote: h("p", { class: "muted", role: "status" }), reviews: h("div"),
  };
  show(h("section", { class: "run" }, parts.head, parts.actions, parts.gates,
    h("h2", {}, "Jobs"), parts.graph,
    h("div", { class: "detail" },
      h("div", {}, parts.stepsTitle, parts.steps),
      h("div", { class: "logpane" }, parts.logTitle, parts.logNote, parts.log)),
    h("h2", {}, "Reviews"), parts.reviews), `Run ${number}`);
  const follower = logFollower(number, parts.log, parts.logNote);
  let picked = null; // { job, index, step } chosen by the viewer
  let last = null;
  const page = {};

  function choose(sel) {
    picked = sel;
    render(last);
    const focus = document.querySelector(`[data-key="${CSS.escape(sel.step ? `step:${sel.step}` : `leg:${sel.job}/${sel.index}`)}"]`);
    if (focus) focus.focus();
  }

  function legButton(job, leg, selected) {
    // A job without a matrix has one leg, which the job's own name and badge describe.
    const only = job.instances.length === 1;
    return h("button", {
      type: "button", class: "leg", "data-key": `leg:${job.job}/${leg.index}`, "data-leg": `${job.job}/${leg.index}`,
      "aria-pressed": selected ? "true" : "false", "aria-label": `${leg.name}: ${leg.status}, steps and log`,
      onclick: () => choose({ job: job.job, index: leg.index, step: null }),
    }, h("span", { class: "leg-name" }, only ? "Steps and log" : leg.name), only ? null : badge(leg.status),
    h("span", { class: "muted" }, leg.started_ms ? took(leg.started_ms, leg.finished_ms) : ""));
  }

  function graph(run, sel) {
    const depth = depths(run.jobs);
    const columns = [];
    for (const job of run.jobs) {
      const d = Math.max(0, depth.get(job.job) || 0);
      (columns[d] = columns[d] || []).push(job);
    }
    return columns.filter(Boolean).map((jobs, i) => h("div", { class: "stage", role: "list", "aria-label": `stage ${i + 1}` },
      jobs.map((job) => h("div", { class: "jobbox", role: "listitem", "data-job": job.job },
        h("div", { class: "jobhead" }, h("strong", {}, job.name || job.job),
          badge(job.conclusion || (job.instances.some((l) => l.status === "running") ? "running"
            : job.instances.some((l) => l.status === "gated") ? "gated" : job.instances.length ? "queued" : "pending"))),
        job.needs.length ? h("div", { class: "needs" }, `needs ${job.needs.join(", ")}`) : null,
        job.message ? h("div", { class: "reason" }, job.message) : null,
        h("div", { class: "legs" }, job.instances.map((leg) =>
          legButton(job, leg, sel && sel.job === job.job && sel.index === leg.index)))))));
  }

  function render(run) {
    if (!run) return;
    const active = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
    const review = (approved) => () => api(`/v1/runs/${number}/reviews`, {
      approved, comment: comment.value.trim() || null,
    }).then((answers) => {
      const refused = answers.filter((a) => a.refused);
      if (refused.length) throw new Error(refused.map((a) => `${a.environment}: ${a.refused}`).join("; "));
      comment.value = "";
    });
    parts.head.replaceChildren(
      h("h1", {}, `Run #${run.number}`, badge(run.status), h("span", { class: "muted" }, run.pipeline)),
      h("p", { class: "reason" }, `${run.summary} · by ${run.actor} · ${run.sha.slice(0, 12)} · attempt ${run.attempt} · started ${when(run.started_ms)}`
        + (run.finished_ms ? ` · took ${took(run.started_ms, run.finished_ms)}` : "")));
    const waiting = run.gates.filter((g) => g.state === "waiting");
    const actions = [];
    if (waiting.length && may("approve")) {
      actions.push(h("label", { for: "comment", class: "sr-only" }, "Comment"), comment,
        action("Approve", review(true), { class: "primary", name: "approve" }),
        action("Reject", review(false), { class: "danger", name: "reject", confirm: "Confirm reject" }));
    }
    if (!parts.actions.contains(comment) || !actions.length) parts.actions.replaceChildren(...actions);
    parts.gates.replaceChildren(...(run.gates.length ? [h("h2", {}, "Gates"), h("ul", { class: "gates" },
      run.gates.map((g) => h("li", { class: `card gate ${g.state}`, "data-gate": `${g.job}/${g.index}` },
        h("div", { class: "jobhead" }, h("strong", {}, `${g.job} → ${g.environment}`), badge(g.state),
          h("span", { class: "muted" }, g.decided_ms ? `decided ${when(g.decided_ms)}` : `since ${when(g.since_ms)}`)),
        g.rules.length ? h("ul", { class: "rules", "aria-label": "rules" }, g.rules.map((r) => h("li", {}, r))) : null)))] : []));

    const sel = picked || defaultLeg(run);
    parts.graph.replaceChildren(...graph(run, sel));
    const job = sel && run.jobs.find((j) => j.job === sel.job);
    const leg = job && job.instances.find((i) => i.index === sel.index);
    if (leg) {
      const step = (sel.step && sel.step <= leg.steps.length) ? sel.step : stepOf(leg);
      parts.stepsTitle.textContent = `Steps of ${leg.name}`;
      parts.steps.replaceChildren(leg.steps.length ? h("ol", { class: "runsteps" }, leg.steps.map((st, i) => h("li", {},
        h("button", {
          type: "button", "data-key": `step:${i + 1}`, "data-step": i + 1, "aria-pressed": i + 1 === step ? "true" : "false",
          onclick: () => choose({ job: sel.job, index: sel.index, step: i + 1 }),
        }, h("span", { class: "step-name" }, `${i + 1}. ${st.name}`), badge(st.status),
        h("span", { class: "muted" }, [took(st.started_ms, st.finished_ms), st.exit].filter(Boolean).join(" · ")))))) :
        h("p", { class: "muted" }, leg.message || `No step has started (${leg.status}).`));
      if (leg.message && leg.steps.length) parts.steps.append(h("p", { class: "reason" }, leg.message));
      parts.log.hidden = !step;
      if (step) {
        parts.logTitle.textContent = `Log of step ${step}: ${leg.steps[step - 1].name}`;
        follower.show({ job: sel.job, index: sel.index, step }, leg.steps[step - 1].status === "running");
      } else {
        parts.logTitle.textContent = "Log";
        follower.stop();
        parts.log.textContent = "";
      }
    } else {
      parts.stepsTitle.textContent = "Steps";
      parts.steps.replaceChildren(h("p", { class: "muted" }, "No job has started yet."));
      parts.logTitle.textContent = "Log";
      parts.log.hidden = true;
    }

    parts.reviews.replaceChildren(run.reviews.length ? h("ul", { class: "reviews" }, run.reviews.map((r) => h("li", {
      class: "card", "data-review": r.by,
    }, h("strong", {}, r.by), " ", badge(r.approved ? "approved" : "rejected"), " ", r.environment,
    h("span", { class: "muted" }, ` · ${when(r.at_ms)}`),
    r.comment ? h("blockquote", {}, r.comment) : null))) : h("p", { class: "muted" }, "Nobody has reviewed this attempt."));
    if (active) {
      const again = document.querySelector(`[data-key="${CSS.escape(active)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
  }

  page.load = async () => {
    last = await api(`/v1/runs/${number}`);
    if (state.page === page) render(last);
  };
  page.run = (n) => { if (String(n) === String(number)) refresh(); };
  page.leave = () => follower.stop();
  return page;
}

// ---- routing -----------------------------------------------------------------------------

async function route() {
  if (state.page && state.page.leave) state.page.leave();
  notice("");
  const hash = location.hash || "#/";
  if (hash.startsWith("#token=")) {
    // A link from `bellwether dashboard`: keep the token for this tab, out of the address bar.
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(hash.slice(7)));
    history.replaceState(null, "", location.pathname + "#/");
    return route();
  }
  if (!token()) return login();
  if (!state.me) {
    try {
      state.me = await api("/v1/whoami");
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      return login(e.message);
    }
    const who = document.getElementById("who");
    who.replaceChildren(`${state.me.name} (${state.me.role})`, h("button", {
      type: "button", onclick: () => {
        sessionStorage.removeItem(TOKEN_KEY);
        state.me = null;
        if (state.stream) state.stream.abort();
        state.stream = null;
        route();
      },
    }, "Sign out"));
    follow();
  }
  const parts = hash.slice(2).split("/").map(decodeURIComponent);
  let page;
  if (parts[0] === "services" && parts[1]) page = servicePage(parts[1]);
  else if (parts[0] === "runs" && parts[1]) page = runPage(parts[1]);
  else if (parts[0] === "runs") page = runsPage();
  else if (parts[0] === "dora") page = doraPage();
  else page = servicesPage();
  for (const a of document.querySelectorAll("[data-nav]")) {
    const current = a.dataset.nav === (["runs", "dora"].includes(parts[0]) ? parts[0] : "services");
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  state.page = page;
  try {
    await page.load();
  } catch (e) {
    notice(e.message);
  }
  document.getElementById("main").focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
route();
