// workprint recorder - service worker.
//
// Adds what only the extension knows (tab, window, frame, page zoom) to the content
// scripts' reports and forwards them to the workprint native host, which hands them to
// the running recorder. Also reports which window has focus and the URL and title of each
// window's active tab. Keeps no state of its own (Chromium stops idle workers); private
// (incognito) tabs and windows are never reported - the extension is not allowed in them
// at all, and anything marked incognito is dropped here as well.
"use strict";

const HOST = "org.workprint.recorder";
const RETRY_MS = 2000;
let port = null;
let lastTry = 0;

function connect() {
  if (port) return port;
  const now = Date.now();
  if (now - lastTry < RETRY_MS) return null;
  lastTry = now;
  try {
    const p = chrome.runtime.connectNative(HOST);
    p.onDisconnect.addListener(() => {
      void chrome.runtime.lastError;  // host not installed or ended: try again later
      if (port === p) port = null;
    });
    p.onMessage.addListener(() => {});
    port = p;
    announce();
  } catch (e) {
    port = null;
  }
  return port;
}

function post(msg) {
  const p = connect();
  if (!p) return;
  try {
    p.postMessage(msg);
  } catch (e) {
    if (port === p) port = null;
  }
}

function tabInfo(tab) {
  return {id: tab.id, windowId: tab.windowId, url: tab.url || "", title: tab.title || ""};
}

async function reportWindow(windowId, focused) {
  if (windowId === chrome.windows.WINDOW_ID_NONE) {
    post({t: "nofocus"});
    return;
  }
  let win;
  try {
    win = await chrome.windows.get(windowId, {populate: true});
  } catch (e) {
    return;
  }
  if (win.incognito) {
    if (focused) post({t: "nofocus"});
    return;
  }
  const tab = (win.tabs || []).find((t) => t.active);
  post({t: "win", windowId: win.id, focused: !!(focused || win.focused), type: win.type,
        bounds: {left: win.left, top: win.top, width: win.width, height: win.height},
        tab: tab && !tab.incognito ? tabInfo(tab) : null});
}

async function announce() {
  // a (re)connected host learns every window's state at once
  try {
    const wins = await chrome.windows.getAll({populate: false});
    for (const w of wins) if (!w.focused) await reportWindow(w.id, false);
    const focused = wins.find((w) => w.focused);
    if (focused) await reportWindow(focused.id, true);
    else post({t: "nofocus"});
  } catch (e) { /* nothing to tell */ }
}

chrome.windows.onFocusChanged.addListener((windowId) => reportWindow(windowId, true));
chrome.windows.onBoundsChanged.addListener((win) => reportWindow(win.id, false));
chrome.windows.onRemoved.addListener((windowId) => post({t: "closed", windowId: windowId}));
chrome.tabs.onRemoved.addListener((tabId) => post({t: "closed", tabId: tabId}));
chrome.tabs.onActivated.addListener((info) => reportWindow(info.windowId, false));
chrome.tabs.onUpdated.addListener((tabId, change, tab) => {
  if (tab.active && (change.url || change.title || change.status === "complete")) reportWindow(tab.windowId, false);
});

chrome.runtime.onMessage.addListener((msg, sender) => {
  if (sender.id !== chrome.runtime.id || !sender.tab || sender.tab.incognito || !msg || typeof msg !== "object") return;
  const base = {tab: tabInfo(sender.tab), frameId: sender.frameId, documentId: sender.documentId || ""};
  if (msg.t === "secure") {
    post({t: "secure", ts: msg.ts, password: !!msg.password, reset: !!msg.reset, url: msg.url, ...base});
  } else if (msg.t === "el") {
    chrome.tabs.getZoom(sender.tab.id).then(
      (zoom) => post({t: "el", cause: msg.cause, ts: msg.ts, url: msg.url, el: msg.el, geom: msg.geom, zoom: zoom, ...base}),
      () => {});
  }
});

chrome.runtime.onStartup.addListener(connect);
chrome.runtime.onInstalled.addListener(connect);
connect();
