"use strict";
// workprint viewer: lists sessions, steps through episodes, draws the action over the keyframe.
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const MOUSE = new Set(["click", "doubleClick", "tripleClick", "rightClick", "middleClick"]);
  const $ = (id) => document.getElementById(id);
  const state = { sessions: [], sid: null, episodes: [], ep: null, epIndex: 0, step: 0,
                  days: [], day: null, selection: null, legend: null };
  const KIND_NAMES = { recorded: "recorded", paused: "paused", idle: "idle", out_of_scope: "out of scope",
                       forgotten: "forgotten", not_recorded: "not recorded" };

  function withToken(path) {
    return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
  }

  async function api(path, opts) {
    const r = await fetch(withToken(path), Object.assign({ credentials: "same-origin" }, opts || {}));
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try { const j = await r.json(); msg = j.detail || j.error || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return r.json();
  }

  function status(text) { $("status").textContent = text || ""; }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }

  // -- sessions ---------------------------------------------------------------------
  function renderSessions() {
    const ul = $("sessions");
    ul.replaceChildren();
    if (!state.sessions.length) ul.append(el("li", { class: "meta" }, "no sessions in this data dir"));
    for (const s of state.sessions) {
      const li = el("li", { "data-session": s.id });
      if (s.id === state.sid) li.classList.add("active");
      li.append(el("div", { class: "sid" }, s.id));
      const when = (s.start || "").replace("T", " ").slice(0, 19);
      const dur = s.duration_s != null ? ` · ${Math.round(s.duration_s)} s` : "";
      li.append(el("div", { class: "meta" }, s.error ? s.error : `${when}${dur} · ${s.state || ""}`));
      if (s.apps && s.apps.length) li.append(el("div", { class: "meta" }, s.apps.join(", ")));
      const rv = el("div", { class: "review meta" });
      const up = s.upload || { state: s.review || "pending_review", label: s.review || "pending review" };
      const badge = el("span", { class: "badge upload " + up.state, "data-upload": up.state }, up.label);
      rv.append(badge);
      for (const [label, decision] of [["approve", "approved"], ["withhold", "withheld"]]) {
        if (s.review === decision) continue;
        const b = el("button", { type: "button", "data-decision": decision }, label);
        b.addEventListener("click", async (ev) => {
          ev.stopPropagation();
          try {
            const r = await api(`/api/sessions/${encodeURIComponent(s.id)}/review`, {
              method: "POST", headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ decision }),
            });
            s.review = decision;
            s.upload = r.upload || s.upload;
            if (r.note) status(r.note);
            renderSessions();
          } catch (e) { status("review: " + e.message); }
        });
        rv.append(b);
      }
      li.append(rv);
      if (up.state === "refused") {
        const r = el("div", { class: "refusal" });
        r.append(el("div", { class: "why" }, "Refused: " + up.reason));
        r.append(el("div", { class: "todo" }, "What to do: " + up.todo));
        li.append(r);
      } else if (up.reason && up.state !== "pending_review") {
        li.append(el("div", { class: "meta upload-reason" }, up.reason));
      }
      li.addEventListener("click", () => selectSession(s.id, 0, 0));
      ul.append(li);
    }
  }

  async function selectSession(sid, epIndex, step) {
    const changed = state.sid !== sid;
    state.sid = sid;
    renderSessions();
    if (changed && state.zoom && state.day) renderDay();
    status("loading " + sid + " …");
    try {
      state.episodes = await api(`/api/sessions/${encodeURIComponent(sid)}/episodes`);
    } catch (e) {
      state.episodes = [];
      status(e.message);
      renderEpisodes();
      return;
    }
    status("");
    renderEpisodes();
    if (state.episodes.length) await selectEpisode(Math.min(epIndex || 0, state.episodes.length - 1), step || 0);
    else clearView("no episodes in this session");
  }

  // -- episodes ---------------------------------------------------------------------
  function renderEpisodes() {
    const ul = $("episodes");
    ul.replaceChildren();
    for (const ep of state.episodes) {
      const li = el("li", { "data-episode": ep.index });
      if (state.ep && ep.index === state.epIndex) li.classList.add("active");
      li.append(el("div", {}, ep.instruction || "(unlabelled)"));
      li.append(el("div", { class: "meta" }, `${ep.n_steps} steps · ${ep.status}`));
      li.addEventListener("click", () => selectEpisode(ep.index, 0));
      ul.append(li);
    }
  }

  async function selectEpisode(n, step) {
    try {
      state.ep = await api(`/api/sessions/${encodeURIComponent(state.sid)}/episodes/${n}`);
    } catch (e) { status(e.message); return; }
    state.epIndex = n;
    renderEpisodes();
    const ep = state.ep;
    $("instruction").textContent = ep.instruction || "(unlabelled work)";
    $("instruction").classList.toggle("unlabelled", !ep.instruction);
    $("outcome").textContent = ep.status;
    $("outcome").className = "badge " + ep.status;
    const shot = $("shot");
    shot.setAttribute("viewBox", `0 0 ${ep.screen.width} ${ep.screen.height}`);
    $("frame").setAttribute("width", ep.screen.width);
    $("frame").setAttribute("height", ep.screen.height);
    fit();
    renderTimeline();
    showStep(Math.max(0, Math.min(step || 0, ep.steps.length - 1)));
  }

  function clearView(msg) {
    state.ep = null;
    $("instruction").textContent = msg || "";
    $("outcome").textContent = "";
    $("timeline").replaceChildren();
    $("overlay").replaceChildren();
    $("caption").replaceChildren();
    $("pos").textContent = "";
  }

  function renderTimeline() {
    const tl = $("timeline");
    tl.replaceChildren();
    for (const st of state.ep.steps) {
      const t = el("div", { class: `tick k-${st.kind}`, "data-step": st.index,
                            title: `${st.index + 1}. ${st.kind}: ${st.label}` }, String(st.index + 1));
      t.addEventListener("click", () => showStep(st.index));
      tl.append(t);
    }
  }

  // -- one step ---------------------------------------------------------------------
  function frameUrl(f) {
    return withToken(`/api/sessions/${encodeURIComponent(state.sid)}/frames/${f.id}.jpg`);
  }

  function showStep(i) {
    const ep = state.ep;
    if (!ep) return;
    i = Math.max(0, Math.min(i, ep.steps.length - 1));
    state.step = i;
    const st = ep.steps[i];
    $("pos").textContent = `step ${i + 1} / ${ep.steps.length}`;
    $("kind").textContent = st.kind;
    $("code").textContent = st.code.replace(/\n/g, "; ");
    $("code").title = st.code;
    $("app").textContent = st.app || "";
    $("title").textContent = st.title ? "— " + st.title : "";
    $("prev").disabled = i === 0;
    $("next").disabled = i === ep.steps.length - 1;
    const img = $("frame");
    if (st.frame) {
      img.setAttribute("href", frameUrl(st.frame));
      img.style.display = "";
      $("noframe").hidden = true;
    } else {
      img.removeAttribute("href");
      img.style.display = "none";
      $("noframe").hidden = false;
    }
    const next = ep.steps[i + 1];
    if (next && next.frame) new Image().src = frameUrl(next.frame);  // preload
    drawOverlay(st, ep.screen);
    drawCaption(st);
    for (const t of $("timeline").children) t.classList.toggle("active", Number(t.dataset.step) === i);
    history.replaceState(null, "", `${location.pathname}${location.search}#session=${encodeURIComponent(state.sid)}&episode=${state.epIndex}&step=${i}${state.day ? "&day=" + state.day.day : ""}`);
  }

  function drawOverlay(st, screen) {
    const g = $("overlay");
    g.replaceChildren();
    const a = st.action || {};
    const unit = Math.max(screen.width, screen.height) / 200;  // ~1% of the screen
    const stroke = unit * 0.45;
    if (st.path && st.path.length > 1 && (MOUSE.has(st.kind) || st.kind === "drag")) {
      g.append(svg("polyline", { id: "approach", class: "approach", "stroke-width": stroke,
        points: st.path.map((p) => p.join(",")).join(" ") }));
    }
    if (MOUSE.has(st.kind) && a.x != null) {
      const m = svg("g", { id: "marker", "data-x": a.x, "data-y": a.y });
      m.append(svg("circle", { id: "marker-dot", class: "marker", cx: a.x, cy: a.y, r: unit * 2.2, "stroke-width": stroke }));
      const c = unit * 3.4;
      m.append(svg("line", { class: "cross", x1: a.x - c, y1: a.y, x2: a.x + c, y2: a.y, "stroke-width": stroke }));
      m.append(svg("line", { class: "cross", x1: a.x, y1: a.y - c, x2: a.x, y2: a.y + c, "stroke-width": stroke }));
      if (st.kind !== "click") {
        const t = svg("text", { x: a.x + c, y: a.y - c, "font-size": unit * 3, fill: "#e0533d",
          stroke: "#fff", "stroke-width": unit * 0.3, "paint-order": "stroke" });
        t.textContent = st.kind;
        m.append(t);
      }
      g.append(m);
    } else if (st.kind === "drag" && a.x != null) {
      const defs = svg("defs");
      const mk = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 8, refY: 5,
        markerWidth: 5, markerHeight: 5, orient: "auto-start-reverse" });
      mk.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8e44ad" }));
      defs.append(mk);
      g.append(defs);
      g.append(svg("line", { id: "drag", class: "dragline", x1: a.x, y1: a.y, x2: a.x2, y2: a.y2,
        "stroke-width": stroke * 1.6, "marker-end": "url(#arrow)" }));
      g.append(svg("circle", { id: "drag-start", class: "dragstart", cx: a.x, cy: a.y, r: unit * 1.8, "stroke-width": stroke }));
      g.append(svg("circle", { id: "drag-end", class: "dragend", cx: a.x2, cy: a.y2, r: unit * 0.9 }));
    } else if ((st.kind === "scroll" || st.kind === "hscroll") && a.x != null) {
      g.append(svg("circle", { id: "scroll-at", class: "scroll", cx: a.x, cy: a.y, r: unit * 2.2, "stroke-width": stroke }));
      const n = st.kind === "scroll" ? -(a.dy || 0) : (a.dx || 0);   // screen direction of travel
      const len = unit * 6 * Math.sign(n || 1);
      const [x2, y2] = st.kind === "scroll" ? [a.x, a.y + len] : [a.x + len, a.y];
      g.append(svg("line", { class: "scrollarrow", x1: a.x, y1: a.y, x2, y2, "stroke-width": stroke * 1.6 }));
    }
  }

  function drawCaption(st) {
    const c = $("caption");
    c.replaceChildren();
    const a = st.action || {};
    if (st.kind === "write") {
      c.append(el("span", {}, "⌨ "), withPlaceholders(a.text || ""));
    } else if (st.kind === "press" || st.kind === "hotkey") {
      const keys = el("span", { id: "keys" });
      (a.keys || []).forEach((k, n) => {
        if (n) keys.append(" + ");
        keys.append(el("kbd", {}, k));
      });
      c.append(keys);
    } else if (st.kind === "wait" || st.kind === "end") {
      c.append(el("span", {}, st.label));
    } else if (a.keys && a.keys.length) {
      c.append(el("span", {}, "held: " + a.keys.join("+")));
    }
  }

  // -- refusals ----------------------------------------------------------------------
  function renderRefusals() {
    const box = $("refusals");
    const refused = state.sessions.filter((s) => s.upload && s.upload.state === "refused");
    box.replaceChildren();
    box.hidden = !refused.length;
    if (!refused.length) return;
    box.append(el("strong", {}, `${refused.length} session(s) refused by the collector. `));
    for (const s of refused) {
      const p = el("div", { class: "refused-session", "data-session": s.id });
      p.append(el("code", {}, s.id), ": " + s.upload.reason + " — " + s.upload.todo);
      box.append(p);
    }
  }

  async function reloadSessions() {
    state.sessions = await api("/api/sessions");
    renderSessions();
    renderRefusals();
  }

  // -- the day -----------------------------------------------------------------------
  const pad2 = (n) => String(n).padStart(2, "0");
  function clock(ms) {
    const d = new Date(ms);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  function length(s) {
    s = Math.round(s);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (h) return `${h} h ${m % 60} min`;
    return `${m} min${s % 60 ? ` ${s % 60} s` : ""}`;
  }
  function spanText(sp) {
    let t = `${KIND_NAMES[sp.kind] || sp.kind} ${clock(sp.start_ms)}–${clock(sp.end_ms)} (${length(sp.duration_s)})`;
    if (sp.kind === "recorded") t += sp.app ? ` in ${sp.app}${sp.title ? " — " + sp.title : ""}` : " (no window in front)";
    else if (sp.words) t += `: ${sp.words}`;
    return t;
  }

  async function loadDays(want) {
    state.days = await api("/api/days");
    const names = state.days.map((d) => d.day);
    const day = names.includes(want) ? want : (names.length ? names[names.length - 1] : null);
    await selectDay(day);
  }

  async function selectDay(day) {
    state.selection = null;
    if (!day) {
      state.day = null;
      $("day-name").textContent = "nothing recorded yet";
      $("daybar").replaceChildren();
      $("day-axis").replaceChildren();
      $("day-totals").textContent = "";
      showSelection();
      return;
    }
    state.day = await api(`/api/days/${day}`);
    renderDay();
  }

  function dayRange() {
    const mine = state.day.spans.filter((s) => s.session === state.sid);
    const spans = state.zoom && mine.length ? mine : state.day.spans;
    if (!spans.length) return [state.day.start_ms, state.day.end_ms];
    let a = Math.min(...spans.map((s) => s.start_ms)), b = Math.max(...spans.map((s) => s.end_ms));
    const pad = Math.max((b - a) * 0.02, 1000);
    return [Math.max(state.day.start_ms, a - pad), Math.min(state.day.end_ms, b + pad)];
  }

  function renderDay() {
    const day = state.day;
    const i = state.days.findIndex((d) => d.day === day.day);
    $("day-name").textContent = new Date(day.start_ms).toLocaleDateString(undefined,
      { weekday: "long", year: "numeric", month: "long", day: "numeric" });
    $("day-name").dataset.day = day.day;
    $("day-prev").disabled = i <= 0;
    $("day-next").disabled = i < 0 || i >= state.days.length - 1;
    const t = day.totals;
    $("day-totals").textContent = ["recorded", "paused", "idle", "out_of_scope", "forgotten"]
      .filter((k) => t[k] > 0).map((k) => `${KIND_NAMES[k]} ${length(t[k])}`).join(" · ");
    const [a, b] = dayRange();
    const bar = $("daybar");
    bar.replaceChildren();
    bar.dataset.from = a;
    bar.dataset.to = b;
    const pct = (ms) => (100 * (ms - a) / (b - a));
    day.spans.forEach((sp, n) => {
      const d = el("div", { class: `span k-${sp.kind}`, "data-kind": sp.kind, "data-session": sp.session,
                            "data-n": n, title: spanText(sp) });
      d.style.left = pct(sp.start_ms) + "%";
      d.style.width = Math.max(pct(sp.end_ms) - pct(sp.start_ms), 0.15) + "%";
      d.addEventListener("click", (ev) => { if (!state.dragged) selectSpan(n); ev.stopPropagation(); });
      bar.append(d);
    });
    for (const m of day.markers) {
      if (m.name !== "task_start" && m.name !== "task_end") continue;
      const d = el("div", { class: "marker " + m.name, title: `${m.name === "task_start" ? "task: " + m.text : "task ended"} at ${clock(m.at_ms)}` });
      d.style.left = pct(m.at_ms) + "%";
      bar.append(d);
    }
    const sel = el("div", { id: "sel", hidden: "" });
    bar.append(sel);
    const axis = $("day-axis");
    axis.replaceChildren();
    const steps = [60e3, 300e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3];
    const step = steps.find((s) => (b - a) / s <= 8) || 21600e3;
    for (let x = Math.ceil(a / step) * step; x <= b; x += step) {
      const d = new Date(x);
      const tick = el("span", { class: "tick" }, `${pad2(d.getHours())}:${pad2(d.getMinutes())}`);
      tick.style.left = pct(x) + "%";
      axis.append(tick);
    }
    const ol = $("day-spans");
    ol.replaceChildren();
    day.spans.forEach((sp, n) => {
      const li = el("li", { class: `k-${sp.kind}-text`, "data-n": n }, spanText(sp));
      li.addEventListener("click", () => selectSpan(n));
      ol.append(li);
    });
    showSelection();
  }

  function selectSpan(n) {
    const sp = state.day.spans[n];
    const sel = { since_ms: sp.start_ms, until_ms: sp.end_ms, spans: [sp], text: spanText(sp) };
    if (sp.start_t_ns != null) {
      // exact, on the session's clock; the event that starts the next span is not part of this one
      const next = state.day.spans.some((o) => o.session === sp.session && o.start_t_ns === sp.end_t_ns);
      sel.since_t_ns = sp.start_t_ns;
      sel.until_t_ns = next ? (BigInt(sp.end_t_ns) - 1n).toString() : sp.end_t_ns;
    }
    state.selection = sel;
    showSelection();
    if (sp.kind === "recorded") jumpTo(sp.session, sp.start_ms);
  }

  function showSelection() {
    const sel = $("sel");
    const s = state.selection;
    for (const d of $("daybar").querySelectorAll(".span")) d.classList.remove("selected");
    if (!s) {
      if (sel) sel.hidden = true;
      $("span-info").textContent = "Click a span of the day to see it; drag across the bar to select a stretch.";
      $("forget-button").hidden = true;
      return;
    }
    const [a, b] = dayRange();
    sel.hidden = false;
    sel.style.left = (100 * (s.since_ms - a) / (b - a)) + "%";
    sel.style.width = Math.max(100 * (s.until_ms - s.since_ms) / (b - a), 0.15) + "%";
    if (s.spans.length === 1) {
      const n = state.day.spans.indexOf(s.spans[0]);
      const d = $("daybar").querySelector(`.span[data-n="${n}"]`);
      if (d) d.classList.add("selected");
    }
    $("span-info").textContent = s.text;
    // something can be forgotten where something was recorded
    $("forget-button").hidden = !s.spans.some((sp) => sp.kind === "recorded");
  }

  function selectStretch(x0, x1) {
    const [a, b] = dayRange();
    const bar = $("daybar").getBoundingClientRect();
    const ms = (x) => a + (b - a) * Math.min(1, Math.max(0, (x - bar.left) / bar.width));
    const since = Math.round(ms(Math.min(x0, x1))), until = Math.round(ms(Math.max(x0, x1)));
    const spans = state.day.spans.filter((sp) => sp.end_ms > since && sp.start_ms < until);
    if (!spans.length) { state.selection = null; showSelection(); return; }
    const lo = Math.max(since, Math.min(...spans.map((sp) => sp.start_ms)));
    const hi = Math.min(until, Math.max(...spans.map((sp) => sp.end_ms)));
    state.selection = { since_ms: lo, until_ms: hi, spans,
      text: `selected ${clock(lo)}–${clock(hi)} (${length((hi - lo) / 1000)}): ` +
            [...new Set(spans.map((sp) => KIND_NAMES[sp.kind]))].join(", ") };
    showSelection();
  }

  (function dragging() {
    const bar = $("daybar");
    let x0 = null;
    bar.addEventListener("mousedown", (e) => { x0 = e.clientX; state.dragged = false; e.preventDefault(); });
    window.addEventListener("mousemove", (e) => {
      if (x0 === null || Math.abs(e.clientX - x0) < 4) return;
      state.dragged = true;
      selectStretch(x0, e.clientX);
    });
    window.addEventListener("mouseup", (e) => {
      if (x0 !== null && state.dragged) selectStretch(x0, e.clientX);
      x0 = null;
      setTimeout(() => { state.dragged = false; }, 0);
    });
  })();

  // -- forgetting a span -----------------------------------------------------------
  function askForget() {
    const s = state.selection;
    if (!s) return;
    const sessions = [...new Set(s.spans.filter((sp) => sp.kind === "recorded").map((sp) => sp.session))];
    $("confirm-text").textContent = `${clock(s.since_ms)} – ${clock(s.until_ms)} (${length((s.until_ms - s.since_ms) / 1000)}) ` +
      `on ${$("day-name").textContent}, session${sessions.length > 1 ? "s" : ""} ${sessions.join(", ")}.`;
    $("confirm").hidden = false;
    $("confirm-cancel").focus();
  }

  async function doForget() {
    const s = state.selection;
    $("confirm").hidden = true;
    if (!s) return;
    const sessions = [...new Set(s.spans.filter((sp) => sp.kind === "recorded").map((sp) => sp.session))];
    let events = 0, frames = 0;
    try {
      for (const sid of sessions) {
        const r = await api(`/api/sessions/${encodeURIComponent(sid)}/forget`, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify(s.since_t_ns != null
            ? { since_t_ns: s.since_t_ns, until_t_ns: s.until_t_ns, confirm: true }
            : { since_ms: s.since_ms, until_ms: s.until_ms, confirm: true }),
        });
        events += r.report.events;
        frames += r.report.frames;
      }
    } catch (e) { status("forget: " + e.message); return; }
    const day = state.day && state.day.day;
    await reloadSessions();
    await loadDays(day);
    if (state.sid) await selectSession(state.sid, state.epIndex, state.step);
    status(`forgotten: ${events} events, ${frames} screenshots deleted`);
    document.body.dataset.forgot = String(Number(document.body.dataset.forgot || 0) + 1);
  }

  // -- jumping to a time or step ----------------------------------------------------
  async function jumpTo(sid, atMs, episode, step) {
    if (sid !== state.sid || !state.episodes.length) {
      state.sid = sid;
      renderSessions();
      if (state.zoom && state.day) renderDay();
      try { state.episodes = await api(`/api/sessions/${encodeURIComponent(sid)}/episodes`); }
      catch (e) { status(e.message); return; }
      renderEpisodes();
    }
    if (episode == null && atMs != null) {
      const eps = state.episodes;
      const hit = eps.find((e) => e.start_ms != null && e.start_ms <= atMs && atMs <= e.end_ms) ||
                  eps.find((e) => e.start_ms != null && e.start_ms >= atMs) || eps[eps.length - 1];
      if (!hit) return;
      episode = hit.index;
    }
    if (episode == null) return;
    const ep = await api(`/api/sessions/${encodeURIComponent(sid)}/episodes/${episode}`);
    if (step == null && atMs != null) {
      step = ep.steps.findIndex((st) => st.at_ms != null && st.at_ms >= atMs);
      if (step < 0) step = ep.steps.length - 1;
    }
    await selectEpisode(episode, step || 0);
  }

  // -- search ----------------------------------------------------------------------
  async function runSearch(q) {
    const box = $("results");
    if (!q.trim()) { box.hidden = true; return; }
    let r;
    try { r = await api(`/api/search?q=${encodeURIComponent(q)}`); } catch (e) { status(e.message); return; }
    const ol = $("results-list");
    ol.replaceChildren();
    $("results-count").textContent = `${r.results.length}${r.truncated ? "+" : ""} match${r.results.length === 1 ? "" : "es"} for “${r.query}”`;
    for (const hit of r.results) {
      const li = el("li", { class: "hit", "data-session": hit.session, "data-kind": hit.kind });
      li.append(el("span", { class: "badge" }, hit.kind));
      const text = el("span", { class: "snippet" });
      const [at, n] = hit.match;
      text.append(hit.snippet.slice(0, at), el("mark", {}, hit.snippet.slice(at, at + n)), hit.snippet.slice(at + n));
      li.append(" ", text);
      li.append(el("span", { class: "meta" }, ` ${hit.at_ms != null ? new Date(hit.at_ms).toLocaleString() : ""} · ${hit.session}`));
      li.addEventListener("click", async () => {
        const day = hit.at_ms != null ? localDay(hit.at_ms) : null;
        if (day && (!state.day || state.day.day !== day)) await selectDay(day);
        await jumpTo(hit.session, hit.at_ms, hit.episode, hit.step);
      });
      ol.append(li);
    }
    box.hidden = false;
  }
  function localDay(ms) {
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  }

  // -- legend ----------------------------------------------------------------------
  function renderLegend() {
    const L = state.legend;
    const fill = (id, rows, term) => {
      const dl = $(id);
      dl.replaceChildren();
      for (const r of rows) dl.append(el("dt", {}, term(r)), el("dd", {}, r.meaning));
    };
    fill("legend-placeholders", L.placeholders, (r) => r.placeholder);
    $("legend-custom").textContent = "Any other <NAME>: " + L.custom + ".";
    fill("legend-areas", L.areas, (r) => r.name);
    fill("legend-timeline", L.timeline, (r) => KIND_NAMES[r.kind] || r.kind);
    for (const dt of $("legend-timeline").querySelectorAll("dt")) {
      const k = L.timeline.find((r) => (KIND_NAMES[r.kind] || r.kind) === dt.textContent);
      if (k) dt.prepend(el("span", { class: `swatch k-${k.kind}` }));
    }
  }

  function placeholderMeaning(name) {
    const p = state.legend && state.legend.placeholders.find((r) => r.name === name);
    return p ? p.meaning : (state.legend ? state.legend.custom : "");
  }

  function withPlaceholders(text) {
    const out = el("span", { id: "typed", class: "typed" });
    const re = /<([A-Z][A-Z0-9_]*)>/g;
    let pos = 0, m;
    while ((m = re.exec(text))) {
      out.append(text.slice(pos, m.index));
      out.append(el("span", { class: "ph", title: placeholderMeaning(m[1]) }, m[0]));
      pos = m.index + m[0].length;
    }
    out.append(text.slice(pos));
    return out;
  }

  // -- layout and keys -------------------------------------------------------------
  function fit() {
    const stage = $("stage"), shot = $("shot");
    const vb = shot.viewBox.baseVal;
    if (!vb || !vb.width) return;
    const w = stage.clientWidth, h = stage.clientHeight;
    const s = Math.min(w / vb.width, h / vb.height);
    shot.setAttribute("width", Math.floor(vb.width * s));
    shot.setAttribute("height", Math.floor(vb.height * s));
  }

  function move(d) { if (state.ep) showStep(state.step + d); }

  async function episode(d) {
    const n = state.epIndex + d;
    if (state.sid && n >= 0 && n < state.episodes.length) await selectEpisode(n, 0);
  }

  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.target.tagName === "INPUT" || !$("confirm").hidden) return;
    const k = e.key;
    if (k === "ArrowRight" || k === "j") move(1);
    else if (k === "ArrowLeft" || k === "k") move(-1);
    else if (k === "ArrowDown" || k === "PageDown") episode(1);
    else if (k === "ArrowUp" || k === "PageUp") episode(-1);
    else if (k === "Home") move(-1e9);
    else if (k === "End") move(1e9);
    else return;
    e.preventDefault();
  });
  $("prev").addEventListener("click", () => move(-1));
  $("next").addEventListener("click", () => move(1));
  window.addEventListener("resize", fit);
  $("day-prev").addEventListener("click", () => {
    const i = state.days.findIndex((d) => d.day === state.day.day);
    if (i > 0) selectDay(state.days[i - 1].day);
  });
  $("day-next").addEventListener("click", () => {
    const i = state.days.findIndex((d) => d.day === state.day.day);
    if (i >= 0 && i < state.days.length - 1) selectDay(state.days[i + 1].day);
  });
  $("forget-button").addEventListener("click", askForget);
  $("day-zoom").addEventListener("click", () => {
    state.zoom = !state.zoom;
    $("day-zoom").textContent = state.zoom ? "whole day" : "zoom to session";
    $("day-zoom").setAttribute("aria-pressed", String(!!state.zoom));
    if (state.day) renderDay();
  });
  $("confirm-cancel").addEventListener("click", () => { $("confirm").hidden = true; status("nothing forgotten"); });
  $("confirm-forget").addEventListener("click", doForget);
  $("confirm").addEventListener("keydown", (e) => { if (e.key === "Escape") { $("confirm").hidden = true; e.stopPropagation(); } });
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch($("search").value); });
  $("results-close").addEventListener("click", () => { $("results").hidden = true; });
  $("legend-button").addEventListener("click", () => {
    const L = $("legend");
    L.hidden = !L.hidden;
    $("legend-button").setAttribute("aria-expanded", String(!L.hidden));
  });

  async function start() {
    try {
      state.legend = await api("/api/legend");
      renderLegend();
      await reloadSessions();
    } catch (e) { status(e.message); return; }
    const h = new URLSearchParams(location.hash.slice(1));
    const want = h.get("session");
    const sid = state.sessions.some((s) => s.id === want) ? want
      : (state.sessions.length ? state.sessions[state.sessions.length - 1].id : null);
    try {
      const s = state.sessions.find((x) => x.id === sid);
      await loadDays(h.get("day") || (s && s.start ? localDay(Date.parse(s.start)) : null));
    } catch (e) { status("day: " + e.message); }
    if (sid) await selectSession(sid, Number(h.get("episode") || 0), Number(h.get("step") || 0));
    document.body.dataset.ready = "1";
  }
  start();
})();
