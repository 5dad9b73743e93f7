"use strict";
// workprint viewer: lists sessions, steps through episodes, draws the action over the keyframe.
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const MOUSE = new Set(["click", "doubleClick", "tripleClick", "rightClick", "middleClick"]);
  const $ = (id) => document.getElementById(id);
  const state = { sessions: [], sid: null, episodes: [], ep: null, epIndex: 0, step: 0 };

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
      const badge = el("span", { class: "badge " + (s.review || "") }, s.review || "awaiting review");
      rv.append(badge);
      for (const [label, decision] of [["approve", "approved"], ["withhold", "withheld"]]) {
        if (s.review === decision) continue;
        const b = el("button", { type: "button", "data-decision": decision }, label);
        b.addEventListener("click", async (ev) => {
          ev.stopPropagation();
          try {
            await api(`/api/sessions/${encodeURIComponent(s.id)}/review`, {
              method: "POST", headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ decision }),
            });
            s.review = decision;
            renderSessions();
          } catch (e) { status("review: " + e.message); }
        });
        rv.append(b);
      }
      li.append(rv);
      li.addEventListener("click", () => selectSession(s.id, 0, 0));
      ul.append(li);
    }
  }

  async function selectSession(sid, epIndex, step) {
    state.sid = sid;
    renderSessions();
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
    history.replaceState(null, "", `${location.pathname}${location.search}#session=${encodeURIComponent(state.sid)}&episode=${state.epIndex}&step=${i}`);
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
      c.append(el("span", {}, "⌨ "), el("span", { id: "typed", class: "typed" }, a.text || ""));
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
    if (e.altKey || e.ctrlKey || e.metaKey || e.target.tagName === "INPUT") return;
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

  async function start() {
    try {
      state.sessions = await api("/api/sessions");
    } catch (e) { status(e.message); return; }
    renderSessions();
    const h = new URLSearchParams(location.hash.slice(1));
    const want = h.get("session");
    const sid = state.sessions.some((s) => s.id === want) ? want
      : (state.sessions.length ? state.sessions[state.sessions.length - 1].id : null);
    if (sid) await selectSession(sid, Number(h.get("episode") || 0), Number(h.get("step") || 0));
    document.body.dataset.ready = "1";
  }
  start();
})();
