// workprint recorder - content script (isolated world, every frame).
//
// Reports to the extension's service worker, never to the page:
//  * "el": the element a trusted mouse press or focus change landed on - tag, role, an
//    approximation of its accessible name, its visible text (not for form fields), a CSS
//    selector, its box in this frame's viewport (CSS px) and the window metrics needed to
//    put it on the screen;
//  * "secure": whether the focused element of this frame reads a secret (password field).
// It never reads a field's value and never reports keys. Untrusted (script-made) events
// are ignored, so a page cannot make it report anything it did not really show.
(() => {
  "use strict";
  if (globalThis.__workprintProbe) return;
  globalThis.__workprintProbe = true;
  if (chrome.extension && chrome.extension.inIncognitoContext) return;  // never in private windows

  const MAX_TEXT = 160;
  const MAX_NAME = 160;
  const ACTIONABLE = "a[href],button,input,select,textarea,summary,label,option,[role],[contenteditable=''],[contenteditable=true],[tabindex]";
  const NAME_FROM_CONTENT = new Set(["button", "link", "menuitem", "menuitemcheckbox", "menuitemradio",
    "tab", "option", "heading", "cell", "columnheader", "rowheader", "treeitem", "listitem", "switch",
    "checkbox", "radio", "tooltip"]);
  let calib = null;  // last trusted pointer event of this frame (see screen geometry in browser_ext.py)
  let lastSecure = null;

  function send(msg) {
    try {
      chrome.runtime.sendMessage(msg).catch(() => {});
    } catch (e) { /* extension reloaded: this old script is orphaned */ }
  }

  function deepActive() {
    let el = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    return el;
  }

  function isPassword(el) {
    if (!el || el.tagName !== "INPUT") return false;
    const type = (el.getAttribute("type") || "").toLowerCase();
    const ac = (el.getAttribute("autocomplete") || "").toLowerCase();
    // a "show password" toggle turns type into text: autocomplete still says what it is
    return el.type === "password" || type === "password" || /(^|\s)(current|new)-password(\s|$)/.test(ac);
  }

  function clip(s, n) {
    s = (s || "").replace(/\s+/g, " ").trim();
    return s.length > n ? s.slice(0, n - 1) + "\u2026" : s;
  }

  function implicitRole(el) {
    const tag = el.tagName.toLowerCase();
    switch (tag) {
      case "a": return el.hasAttribute("href") ? "link" : "generic";
      case "button": case "summary": return "button";
      case "select": return (el.multiple || el.size > 1) ? "listbox" : "combobox";
      case "textarea": return "textbox";
      case "img": return "img";
      case "option": return "option";
      case "li": return "listitem";
      case "nav": return "navigation";
      case "form": return "form";
      case "dialog": return "dialog";
      case "table": return "table";
      case "td": return "cell";
      case "th": return "columnheader";
      case "progress": return "progressbar";
      case "label": return "label";
      case "h1": case "h2": case "h3": case "h4": case "h5": case "h6": return "heading";
      case "input": {
        const t = (el.type || "text").toLowerCase();
        if (["button", "submit", "reset", "image"].includes(t)) return "button";
        if (t === "checkbox") return "checkbox";
        if (t === "radio") return "radio";
        if (t === "range") return "slider";
        if (t === "number") return "spinbutton";
        if (t === "search") return "searchbox";
        return "textbox";
      }
    }
    if (el.isContentEditable) return "textbox";
    return "generic";
  }

  function textOf(node) {
    return node ? (node.innerText || node.textContent || "") : "";
  }

  function isFormField(el) {
    const tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  // An approximation of the accessible name (accname): labelledby, label, labels, alt,
  // button values, content for roles named from content, title, placeholder. Never a
  // text field's value.
  function accessibleName(el, role) {
    const ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    if (ids.length) {
      const root = el.getRootNode();
      const parts = ids.map((id) => textOf(root.getElementById ? root.getElementById(id) : document.getElementById(id)));
      const s = clip(parts.join(" "), MAX_NAME);
      if (s) return s;
    }
    const label = clip(el.getAttribute("aria-label"), MAX_NAME);
    if (label) return label;
    if (el.labels && el.labels.length) {
      const s = clip(Array.from(el.labels).map(textOf).join(" "), MAX_NAME);
      if (s) return s;
    }
    const alt = clip(el.getAttribute("alt"), MAX_NAME);
    if (alt) return alt;
    if (el.tagName === "INPUT" && ["button", "submit", "reset"].includes((el.type || "").toLowerCase())) {
      const v = clip(el.value, MAX_NAME);  // a button's value is its caption
      if (v) return v;
    }
    if (NAME_FROM_CONTENT.has(role) && !isFormField(el)) {
      const s = clip(textOf(el), MAX_NAME);
      if (s) return s;
    }
    return clip(el.getAttribute("title") || el.getAttribute("placeholder"), MAX_NAME);
  }

  function cssId(id) {
    return "#" + CSS.escape(id);
  }

  function unique(sel, root) {
    try { return root.querySelectorAll(sel).length === 1; } catch (e) { return false; }
  }

  // A selector that finds the element again: a unique id, test id or form name; else a
  // tag:nth-of-type path up to the nearest ancestor with a unique id (at most 12 steps).
  function selectorOf(el) {
    const root = el.getRootNode();
    const q = root.querySelectorAll ? root : document;
    if (el.id && unique(cssId(el.id), q)) return cssId(el.id);
    for (const attr of ["data-testid", "data-test", "name"]) {
      const v = el.getAttribute(attr);
      if (v) {
        const sel = `${el.tagName.toLowerCase()}[${attr}="${CSS.escape(v)}"]`;
        if (unique(sel, q)) return sel;
      }
    }
    const steps = [];
    let node = el;
    while (node && node.nodeType === 1 && steps.length < 12) {
      if (node !== el && node.id && unique(cssId(node.id), q)) { steps.unshift(cssId(node.id)); break; }
      const tag = node.tagName.toLowerCase();
      let step = tag;
      const parent = node.parentElement;
      if (parent) {
        const same = Array.from(parent.children).filter((c) => c.tagName === node.tagName);
        if (same.length > 1) step += `:nth-of-type(${same.indexOf(node) + 1})`;
      }
      steps.unshift(step);
      if (tag === "html") break;
      node = parent;
    }
    return steps.join(" > ");
  }

  function metrics() {
    return {
      screenX: window.screenX, screenY: window.screenY,
      outerWidth: window.outerWidth, outerHeight: window.outerHeight,
      innerWidth: window.innerWidth, innerHeight: window.innerHeight,
      dpr: window.devicePixelRatio, top: window === window.top,
      calib: calib,
    };
  }

  function describe(target) {
    if (!(target instanceof Element)) return null;
    const el = target.closest(ACTIONABLE) || target;
    const role = clip(el.getAttribute("role"), 40).split(" ")[0] || implicitRole(el);
    const r = el.getBoundingClientRect();
    const secret = isPassword(el);
    return {
      tag: el.tagName.toLowerCase(), role: role, name: accessibleName(el, role),
      text: (isFormField(el) || secret) ? "" : clip(textOf(el), MAX_TEXT),
      selector: selectorOf(el),
      inputType: el.tagName === "INPUT" ? (el.type || "text").toLowerCase() : "",
      password: secret,
      rect: {x: r.x, y: r.y, w: r.width, h: r.height},
    };
  }

  function stamp(e) {
    return performance.timeOrigin + e.timeStamp;  // epoch ms
  }

  function report(cause, e, target) {
    const el = describe(target);
    if (!el) return;
    send({t: "el", cause: cause, ts: stamp(e), url: location.href, el: el, geom: metrics()});
  }

  function reportSecure(ts, reset) {
    const now = isPassword(deepActive());
    if (now === lastSecure && !reset) return;
    lastSecure = now;
    send({t: "secure", ts: ts, password: now, reset: !!reset, url: location.href});
  }

  function calibrate(e) {
    if (!e.isTrusted) return;
    calib = {sx: e.screenX, sy: e.screenY, cx: e.clientX, cy: e.clientY, wx: window.screenX, wy: window.screenY};
  }

  const opts = {capture: true, passive: true};
  window.addEventListener("mousemove", calibrate, opts);
  // a press: what it lands on (the recorder joins it to the press it saw, by screen point)
  window.addEventListener("mousedown", (e) => {
    if (!e.isTrusted) return;
    calibrate(e);
    report("point", e, e.composedPath()[0] || e.target);
  }, opts);
  window.addEventListener("focusin", (e) => {
    if (!e.isTrusted) return;
    reportSecure(stamp(e), false);
    report("focus", e, e.composedPath()[0] || e.target);
  }, opts);
  window.addEventListener("focusout", (e) => {
    if (!e.isTrusted) return;
    const ts = stamp(e);
    // where focus went is known once this event is over
    setTimeout(() => {
      reportSecure(performance.timeOrigin + performance.now(), false);
      // nothing of this frame has the focus now (a press on the page's background): the
      // field that had it is no longer where keys go (another frame taking it reports so)
      const now = deepActive();
      if (!now || now === document.body || now === document.documentElement) {
        send({t: "el", cause: "blur", ts: ts, url: location.href});
      }
    }, 0);
  }, opts);
  window.addEventListener("keydown", (e) => {
    if (e.isTrusted) reportSecure(stamp(e), false);  // a field's type may have changed
  }, opts);
  // a new document: everything this frame said before is over
  reportSecure(performance.timeOrigin + performance.now(), true);
  document.addEventListener("DOMContentLoaded", () => reportSecure(performance.timeOrigin + performance.now(), false));
})();
