"""The browser extension end to end: real Chromium (no accessibility flag) on a virtual
desktop with the shipped extension loaded, `workprint browser install` for the native
host, `workprint record` running; a local site on 127.0.0.1 (plus a cross-origin iframe on
localhost and a denied one on 127.0.0.2).

One recording covers everything (Chromium starts once): a click on a named button, typing
into a labelled field, a password typed with no accessibility flag, a click in an iframe,
a click at 125 % page zoom, a page script forging events all along, and an incognito
window. Element boxes are checked against the screen itself: each element has a colour of
its own, and its true box is where that colour shows in a screenshot.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "adversarial"))
from conftest import wait_for  # noqa: E402
from leaks import assert_no_leak, spelled, written_bytes  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WORKPRINT = [sys.executable, "-m", "workprint.cli"]
SECRET = "Qv7!hunter-pW42"
PRIVATE_TYPED = "private-typed-jm"

# solid colours (RGB) that mark each element on screen
COLOURS = {"save": (255, 0, 0), "title": (0, 200, 0), "pw": (0, 0, 255), "inner": (255, 0, 255),
           "denied": (0, 128, 128), "private": (0, 255, 255)}


def _css(name: str) -> str:
    r, g, b = COLOURS[name]
    return f"background:rgb({r},{g},{b});border:none;outline:none;color:white;padding:0"


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Extension Test Page</title>
<style>body{{margin:0;font:16px sans-serif}} input,button{{font:16px sans-serif}}
:focus{{outline:none}}</style></head><body>
<div style="position:absolute;left:40px;top:30px">
  <button id="save" style="{save};width:180px;height:40px"><span>Save report</span></button>
</div>
<div style="position:absolute;left:40px;top:110px">
  <label for="title">Report title</label>
  <input id="title" style="{title};width:300px;height:32px;color:black">
</div>
<div style="position:absolute;left:40px;top:170px">
  <input id="pw" type="password" aria-label="Account password" style="{pw};width:300px;height:32px">
</div>
<button id="forge" aria-label="FORGED-el-qv" style="position:absolute;left:600px;top:30px">forge</button>
<iframe id="frame" src="{frame}" style="position:absolute;left:40px;top:260px;width:420px;height:140px;border:0"></iframe>
<iframe id="denied" src="{denied}" style="position:absolute;left:500px;top:260px;width:420px;height:140px;border:0"></iframe>
<script>
  // what reached the page, told to the test's server (never to the recorder)
  for (const id of ["title", "pw"]) {{
    document.getElementById(id).addEventListener("input", (e) =>
      fetch("/seen?f=" + id + "&v=" + encodeURIComponent(e.target.value)));
  }}
  // a page script trying to pass itself off as the user or the extension: a made-up press
  // at the very point of each real one, before it (pointerdown comes first) ...
  window.addEventListener("pointerdown", (e) => {{
    if (!e.isTrusted) return;
    document.getElementById("forge").dispatchEvent(new MouseEvent("mousedown", {{bubbles: true,
      screenX: e.screenX, screenY: e.screenY, clientX: e.clientX, clientY: e.clientY}}));
    fetch("/seen?f=forge-press&v=1");
  }}, true);
  // ... and made-up clicks, focus changes and messages all the time
  let n = 0;
  setInterval(() => {{
    const f = document.getElementById("forge");
    f.dispatchEvent(new MouseEvent("click", {{bubbles: true, clientX: 5, clientY: 5}}));
    f.dispatchEvent(new MouseEvent("mousedown", {{bubbles: true, clientX: 5, clientY: 5}}));
    f.dispatchEvent(new FocusEvent("focusin", {{bubbles: true}}));
    window.postMessage({{t: "el", cause: "click", el: {{tag: "button", role: "button", name: "FORGED-el-qv"}}}}, "*");
    try {{ chrome.runtime.sendMessage("{ext_id}", {{t: "el", name: "FORGED-el-qv"}}); }} catch (e) {{}}
    n += 1;
    fetch("/seen?f=forge&v=" + n);
  }}, 250);
</script></body></html>"""

FRAME = """<!doctype html><html><head><title>inner</title><style>body{{margin:0}}</style></head><body>
<button id="inner" style="{css};position:absolute;left:30px;top:40px;width:200px;height:50px">{label}</button>
</body></html>"""

PRIVATE = """<!doctype html><html><head><title>Private Page</title><style>body{{margin:0}}</style></head><body>
<button id="private" style="{css};position:absolute;left:40px;top:40px;width:220px;height:50px">PRIVATE-btn-wy</button>
<input id="ptext" style="position:absolute;left:40px;top:120px;width:300px;height:30px">
<script>document.getElementById("ptext").addEventListener("input", (e) =>
  fetch("/seen?f=private&v=" + encodeURIComponent(e.target.value)));</script>
</body></html>"""


class _Site:
    """Pages served from memory on one loopback address; remembers /seen reports."""

    def __init__(self, host: str, pages: dict[str, str]):
        self.seen: list[tuple[str, str]] = []
        site = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path == "/seen":
                    q = parse_qs(parts.query)
                    site.seen.append((q.get("f", [""])[0], q.get("v", [""])[0]))
                    body, ctype = b"ok", "text/plain"
                elif parts.path.lstrip("/") in pages:
                    body, ctype = pages[parts.path.lstrip("/")].encode(), "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def values(self, field: str) -> list[str]:
        return [v for f, v in self.seen if f == field]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def colour_box(shot: np.ndarray, rgb: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of where exactly this colour shows on the screen, or None."""
    mask = (shot[:, :, 2] == rgb[0]) & (shot[:, :, 1] == rgb[1]) & (shot[:, :, 0] == rgb[2])
    ys, xs = np.nonzero(mask)
    if len(xs) < 50:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def grab(display: str) -> np.ndarray:
    import mss

    with mss.MSS(display=display) as sct:
        return np.array(sct.grab(sct.monitors[0]))  # BGRA


def centre(box) -> tuple[int, int]:
    x, y, w, h = box
    return x + w // 2, y + h // 2


class Run:
    """What the scenario did: where things were on screen, the data dir, the sites."""

    boxes: dict[str, tuple[int, int, int, int]]
    zoomed: dict[str, tuple[int, int, int, int]]
    data: Path
    session: str
    site: _Site
    stderr: str


def _status(data: Path, env: dict) -> dict:
    res = subprocess.run([*WORKPRINT, "status", "--json", "--data-dir", str(data)], env=env,
                         capture_output=True, text=True, timeout=30)
    try:
        return json.loads(res.stdout)
    except ValueError:
        return {}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not os.path.exists(CHROMIUM) or shutil.which("xdotool") is None:
        pytest.skip("needs chromium and xdotool")
    from workprint.commands.browser import shipped_extension
    from workprint.virtual_desktop import VirtualDesktop

    tmp = tmp_path_factory.mktemp("browser-ext")
    ext_dir, ext_id = shipped_extension()
    main_pages: dict[str, str] = {}
    main = _Site("127.0.0.1", main_pages)
    frame_site = _Site("127.0.0.1", {"frame.html": FRAME.format(css=_css("inner"), label="Inner action")})
    denied_site = _Site("127.0.0.2", {"frame.html": FRAME.format(css=_css("denied"), label="DENIED-frame-kx")})
    main_pages["index.html"] = PAGE.format(
        frame=frame_site.base.replace("127.0.0.1", "localhost") + "/frame.html",  # another origin
        denied=denied_site.base + "/frame.html", ext_id=ext_id, **{k: _css(k) for k in ("save", "title", "pw")})
    main_pages["private.html"] = PRIVATE.format(css=_css("private"))

    home = tmp / "home"
    home.mkdir()
    data = tmp / "data"
    policy = tmp / "policy.toml"
    policy.write_text('[scope]\nallow_apps = ["chromium"]\nallow_sites = ["127.0.0.1", "localhost"]\n'
                      'deny_sites = ["127.0.0.2"]\n')
    vd = VirtualDesktop(1920, 1080).start()
    env = {**{k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS",)}, **vd.env,
           "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache")}
    env.pop("WORKPRINT_DATA_DIR", None)
    rec = chrome = log = None
    r = Run()
    r.site, r.data = main, data
    try:
        res = subprocess.run([*WORKPRINT, "browser", "install", "--data-dir", str(data), "--json"], env=env,
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        subprocess.run([*WORKPRINT, "notice", "--accept", "--data-dir", str(data), "--policy", str(policy)],
                       env=env, check=True, capture_output=True, timeout=60)
        rec = subprocess.Popen([*WORKPRINT, "record", "--data-dir", str(data), "--policy", str(policy), "--no-frames"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        while not lines or "recording session" not in lines[-1]:
            line = rec.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        log = open(tmp / "chromium.log", "wb")
        # no --user-data-dir: the default profile under $XDG_CONFIG_HOME, where install put the host
        chrome = subprocess.Popen(
            [CHROMIUM, "--no-sandbox", "--test-type", "--no-first-run", "--no-default-browser-check",
             "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--password-store=basic", "--disable-features=Translate,MediaRouter", "--disable-quic",
             f"--load-extension={ext_dir}", f"--disable-extensions-except={ext_dir}",
             "--window-position=100,80", "--window-size=1300,900", f"{main.base}/index.html"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wid = vd.wait_window("^Extension Test Page", timeout=30)
        vd.xdotool("windowactivate", "--sync", str(wid))
        # the recorder knows the site (from the extension: there is no accessibility bus)
        try:
            wait_for(lambda: _status(data, env).get("recording"), timeout=20, what="the page in scope")
        except AssertionError as exc:
            log.flush()
            raise AssertionError(f"{exc}: {_status(data, env)}\n"
                                 f"{(tmp / 'chromium.log').read_text(errors='replace')[-3000:]}") from None
        time.sleep(0.5)
        shot = grab(vd.display)
        r.boxes = {k: colour_box(shot, COLOURS[k]) for k in ("save", "title", "pw", "inner", "denied")}
        assert all(r.boxes.values()), r.boxes

        def click(box):
            x, y = centre(box)
            vd.xdotool("mousemove", "--sync", str(x), str(y))
            vd.xdotool("click", "1")
            time.sleep(0.3)

        click(r.boxes["save"])
        click(r.boxes["title"])
        vd.xdotool("type", "--delay", "30", "quarterly report")
        time.sleep(0.1)
        vd.xdotool("key", "Tab")  # into the password field
        time.sleep(0.3)
        click(r.boxes["pw"])
        vd.xdotool("type", "--delay", "30", SECRET)
        click(r.boxes["title"])
        vd.xdotool("type", "--delay", "30", " done")
        click(r.boxes["inner"])
        click(r.boxes["denied"])
        # page zoom 125 %: everything moves and grows
        vd.xdotool("key", "ctrl+plus", "ctrl+plus")
        time.sleep(0.8)
        shot = grab(vd.display)
        r.zoomed = {k: colour_box(shot, COLOURS[k]) for k in ("save",)}
        assert r.zoomed["save"] and r.zoomed["save"][2] > r.boxes["save"][2] + 20, r.zoomed
        click(r.zoomed["save"])
        vd.xdotool("key", "ctrl+0")
        time.sleep(0.5)
        # an incognito window: never reported, so never in scope
        vd.xdotool("key", "ctrl+shift+n")
        time.sleep(1.5)
        vd.xdotool("key", "ctrl+l")
        vd.xdotool("type", "--delay", "5", f"{main.base}/private.html\n")
        pwid = vd.wait_window("^Private Page", timeout=20)
        vd.xdotool("windowactivate", "--sync", str(pwid))
        time.sleep(0.8)
        box = wait_for(lambda: colour_box(grab(vd.display), COLOURS["private"]), timeout=10, what="the private page")
        click(box)
        x, y = centre(box)
        vd.xdotool("mousemove", "--sync", str(x), str(y + 65))
        vd.xdotool("click", "1")
        vd.xdotool("type", "--delay", "30", PRIVATE_TYPED)
        time.sleep(1.0)
    finally:
        if rec is not None:
            if rec.poll() is None:
                rec.send_signal(signal.SIGINT)
            out, err = rec.communicate(timeout=60)
            r.stderr = err
            r.session = out.strip().splitlines()[-1] if out.strip() else ""
        if chrome is not None:
            os.killpg(chrome.pid, signal.SIGTERM)
            try:
                chrome.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(chrome.pid, signal.SIGKILL)
                chrome.wait()
        if log is not None:
            log.close()
        vd.stop()
        for s in (main, frame_site, denied_site):
            s.close()
    assert rec.returncode == 0, r.stderr[-2000:]
    r.frame_site, r.denied_site = frame_site, denied_site
    yield r


def _elements(r: Run):
    from workprint.store.session import DataDir

    with DataDir(r.data).open(r.session) as s:
        return list(s.events(["element"])), s.meta


def _near(box, truth, slack=4) -> bool:
    return box is not None and all(abs(a - b) <= slack for a, b in zip(box, truth))


def _box(e) -> tuple[int, int, int, int] | None:
    return None if e.box is None else (e.box.x, e.box.y, e.box.width, e.box.height)


def _presses(r: Run) -> dict[int, tuple[int, int]]:
    from workprint.store.session import DataDir

    with DataDir(r.data).open(r.session) as s:
        return {b.t_ns: (b.x, b.y) for b in s.events(["mouse_down"])}


@pytest.mark.x11
def test_a_click_stores_the_button_with_its_box_on_screen(run):
    els, meta = _elements(run)
    presses = _presses(run)
    saves = [e for e in els if e.via == "point" and e.selector == "#save"]
    assert saves, [(e.via, e.name, e.selector) for e in els]
    e = saves[0]
    assert (e.source, e.role, e.name, e.tag, e.app) == ("browser", "button", "Save report", "button", "Chromium")
    assert e.text == "Save report" and e.url.endswith("/index.html")
    assert e.t_ns in presses  # joined to the press it belongs to
    assert _near(_box(e), run.boxes["save"]), (e.box, run.boxes["save"])
    assert meta["secure_input"]["accessibility"] == "no session bus"  # no accessibility at all


@pytest.mark.x11
def test_typing_goes_to_the_focused_field_it_names(run):
    from workprint.store.session import DataDir

    els, _ = _elements(run)
    with DataDir(run.data).open(run.session) as s:
        keys = {k.t_ns: k for k in s.events(["key_down"])}
    typed = [e for e in els if e.via == "focus" and e.selector == "#title"]
    assert typed, [(e.via, e.name, e.selector) for e in els]
    e = typed[0]
    assert (e.role, e.name, e.states) == ("textbox", "Report title", ("focused",))
    assert e.t_ns in keys and keys[e.t_ns].char == "q"  # the first key typed into it
    assert _near(_box(e), run.boxes["title"])
    assert "quarterly report" in spelled(run.data)["chars"]
    assert run.site.values("title")[-1] == "quarterly report done"  # what the page got


@pytest.mark.x11
def test_a_tab_carries_the_field_it_was_pressed_in(run):
    """A key's element is the field focused in the page when it was pressed: the Tab typed
    in the title field moved the focus to the password field (whose report comes in before
    the Tab is answered), and its element is the title field."""
    from workprint.store.session import DataDir

    els, _ = _elements(run)
    with DataDir(run.data).open(run.session) as s:
        tabs = [k.t_ns for k in s.events(["key_down"]) if k.key == "Tab"]
    assert len(tabs) == 1, tabs
    tab = [e for e in els if e.t_ns == tabs[0]]
    assert [(e.via, e.selector, e.name) for e in tab] == [("focus", "#title", "Report title")], \
        [(e.t_ns, e.via, e.selector) for e in els]


@pytest.mark.x11
def test_a_password_typed_without_accessibility_never_reaches_disk(run):
    assert SECRET in run.site.values("pw")  # it reached the page
    els, _ = _elements(run)
    pw = [e for e in els if e.selector == "#pw"]
    assert pw and all("password" in e.states and e.name == "Account password" and not e.text for e in pw)
    assert all(e.via == "point" for e in pw)  # the swallowed keys' elements are not stored
    assert "quarterly report" in spelled(run.data)["chars"]  # and the recorder was recording
    assert_no_leak(run.data, [SECRET, SECRET[:6], SECRET[-6:]])
    from workprint.store.session import DataDir

    with DataDir(run.data).open(run.session) as s:
        placeholders = [k.down for k in s.events(["key_down", "key_up"]) if k.redacted == "PASSWORD"]
    assert placeholders[:2] == [True, False], placeholders


@pytest.mark.x11
def test_an_element_in_a_cross_origin_iframe_has_its_screen_box(run):
    els, _ = _elements(run)
    inner = [e for e in els if e.via == "point" and e.name == "Inner action"]
    assert inner, [(e.via, e.name) for e in els]
    assert inner[0].url.startswith("http://localhost:") and inner[0].selector == "#inner"
    assert _near(_box(inner[0]), run.boxes["inner"]), (inner[0].box, run.boxes["inner"])


@pytest.mark.x11
def test_page_zoom_is_taken_into_account(run):
    els, _ = _elements(run)
    saves = [e for e in els if e.via == "point" and e.selector == "#save"]
    assert len(saves) == 2, saves
    assert _near(_box(saves[1]), run.zoomed["save"]), (saves[1].box, run.zoomed["save"])


@pytest.mark.x11
def test_elements_of_a_denied_site_are_dropped(run):
    blob = written_bytes(run.data)
    assert b"DENIED-frame" not in blob
    els, _ = _elements(run)
    assert all("127.0.0.2" not in (e.url or "") for e in els)
    assert els  # others were stored


@pytest.mark.x11
def test_a_page_script_cannot_forge_an_element(run):
    assert len(run.site.values("forge")) > 10  # the forging script ran all along
    assert len(run.site.values("forge-press")) >= 4  # and shadowed the real presses
    assert b"FORGED" not in written_bytes(run.data)


@pytest.mark.x11
def test_an_incognito_window_reports_nothing(run):
    assert PRIVATE_TYPED in run.site.values("private")  # the keys reached the private page
    blob = written_bytes(run.data)
    assert b"PRIVATE-btn" not in blob and b"private.html" not in blob and b"Private Page" not in blob
    assert_no_leak(run.data, [PRIVATE_TYPED])


@pytest.mark.x11
def test_the_actions_carry_their_web_elements(run):
    res = subprocess.run([*WORKPRINT, "inspect", run.session, "--data-dir", str(run.data), "--json"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    actions = json.loads(res.stdout)["actions"]
    clicks = [a["element"] for a in actions if a["kind"] == "click" and a.get("element")]
    writes = [a["element"] for a in actions if a["kind"] == "write" and a.get("element")]
    assert clicks and (clicks[0]["source"], clicks[0]["role"], clicks[0]["name"]) == ("browser", "button", "Save report")
    assert writes and writes[0]["name"] == "Report title" and writes[0]["source"] == "browser"


@pytest.mark.x11
def test_a_device_scale_factor_is_taken_into_account(tmp_path):
    """Chromium drawing at 1.5 device pixels per CSS pixel (a HiDPI screen): the box is still
    where the element shows, in screen pixels."""
    if not os.path.exists(CHROMIUM) or shutil.which("xdotool") is None:
        pytest.skip("needs chromium and xdotool")
    from workprint.commands.browser import shipped_extension
    from workprint.store.session import DataDir
    from workprint.virtual_desktop import VirtualDesktop

    ext_dir, _ = shipped_extension()
    site = _Site("127.0.0.1", {"index.html": FRAME.format(css=_css("save"), label="Scaled action")})
    home, data, policy = tmp_path / "home", tmp_path / "data", tmp_path / "policy.toml"
    home.mkdir()
    policy.write_text('[scope]\nallow_apps = ["chromium"]\nallow_sites = ["127.0.0.1"]\n')
    vd = VirtualDesktop(1920, 1080).start()
    env = {**{k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "WORKPRINT_DATA_DIR")},
           **vd.env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache")}
    rec = chrome = None
    try:
        subprocess.run([*WORKPRINT, "browser", "install", "--data-dir", str(data)], env=env, check=True,
                       capture_output=True, timeout=60)
        subprocess.run([*WORKPRINT, "notice", "--accept", "--data-dir", str(data), "--policy", str(policy)],
                       env=env, check=True, capture_output=True, timeout=60)
        rec = subprocess.Popen([*WORKPRINT, "record", "--data-dir", str(data), "--policy", str(policy), "--no-frames"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while "recording session" not in (line := rec.stderr.readline()):
            assert line, "the recorder did not start"
        chrome = subprocess.Popen(
            [CHROMIUM, "--no-sandbox", "--test-type", "--no-first-run", "--no-default-browser-check", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--password-store=basic", "--force-device-scale-factor=1.5",
             f"--load-extension={ext_dir}", f"--disable-extensions-except={ext_dir}",
             "--window-position=200,150", "--window-size=1200,800", f"{site.base}/index.html"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wid = vd.wait_window("^inner", timeout=30)
        vd.xdotool("windowactivate", "--sync", str(wid))
        wait_for(lambda: _status(data, env).get("recording"), timeout=20, what="the page in scope")
        time.sleep(0.3)
        truth = colour_box(grab(vd.display), COLOURS["save"])
        assert truth and truth[2] == 300, truth  # 200 CSS px at 1.5
        x, y = centre(truth)
        vd.xdotool("mousemove", "--sync", str(x), str(y))
        vd.xdotool("click", "1")
        time.sleep(0.5)
    finally:
        if rec is not None:
            if rec.poll() is None:
                rec.send_signal(signal.SIGINT)
            out, err = rec.communicate(timeout=60)
        if chrome is not None:
            os.killpg(chrome.pid, signal.SIGTERM)
            try:
                chrome.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(chrome.pid, signal.SIGKILL)
                chrome.wait()
        vd.stop()
        site.close()
    assert rec.returncode == 0, err[-2000:]
    with DataDir(data).open(out.strip().splitlines()[-1]) as s:
        els = [e for e in s.events(["element"]) if e.via == "point" and e.name == "Scaled action"]
    assert els, "no element for the press"
    assert _near(_box(els[0]), truth), (els[0].box, truth)
