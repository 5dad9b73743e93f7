"""The browser extension's recorder side without a browser: screen geometry, what the
bridge vouches for, the gate on elements, the native host's framing and forwarding, and
`workprint browser install` / `extension-path`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workprint.capture.browser_ext import BrowserBridge, BrowserElementSource, screen_box, title_shows
from workprint.capture.browser_host import Forwarder, encode_message, read_message
from workprint.capture.control import ControlServer
from workprint.capture.linux.secure_input import LinuxSecureInput
from workprint.events import ElementEvent, FocusEvent, Geometry, KeyEvent
from workprint.policy.gate import SafeguardGate
from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor

WORKPRINT = [sys.executable, "-m", "workprint.cli"]


# -- geometry --------------------------------------------------------------------------------
def test_screen_box_from_a_pointer_calibration_with_zoom_and_a_moved_window():
    # viewport origin at screen (104, 223) when the window was at (100, 80); 150 % zoom
    calib = {"sx": 104 + 20 * 1.5, "sy": 223 + 10 * 1.5, "cx": 20, "cy": 10, "wx": 100, "wy": 80}
    geom = {"rect": {"x": 40, "y": 30, "w": 120, "h": 26}, "dpr": 1.5, "screenX": 160, "screenY": 90,
            "calib": calib}
    # the window moved by (60, 10) since: the origin moves with it
    assert screen_box(geom, 1.5) == Geometry(164 + 60, 233 + 45, 180, 39)


def test_screen_box_of_the_top_frame_from_window_metrics_and_device_scale():
    geom = {"rect": {"x": 10, "y": 20, "w": 100, "h": 50}, "dpr": 2.0, "top": True, "screenX": 50,
            "screenY": 40, "outerWidth": 1000, "outerHeight": 800, "innerWidth": 992, "innerHeight": 700}
    # side border 4, toolbar 800 - 700 - 4 = 96 (DIPs); zoom 1, dsf 2
    assert screen_box(geom, 1.0) == Geometry(2 * (54 + 10), 2 * (136 + 20), 200, 100)


def test_screen_box_refuses_what_it_cannot_tell():
    rect = {"x": 1, "y": 1, "w": 5, "h": 5}
    assert screen_box({"rect": rect, "screenX": 0, "screenY": 0, "top": False}, 1.0) is None  # iframe, no pointer yet
    assert screen_box({"rect": rect, "screenX": "x", "screenY": 0, "top": True}, 1.0) is None
    assert screen_box({"rect": {"x": float("nan"), "y": 0, "w": 1, "h": 1}, "screenX": 0, "screenY": 0,
                       "calib": {"sx": 0, "sy": 0, "cx": 0, "cy": 0, "wx": 0, "wy": 0}}, 1.0) is None
    assert screen_box({"rect": rect, "screenX": 0, "screenY": 0, "top": True, "outerWidth": 10,
                       "outerHeight": 10, "innerWidth": 500, "innerHeight": 10}, 1.0) is None


def test_window_titles_show_the_tab_title():
    assert title_shows("Report - Chromium", "Report")
    assert title_shows("A - B - Chromium", "A - B")
    assert not title_shows("A - B - Chromium", "A")
    assert not title_shows("Reports - Chromium", "Report")
    assert not title_shows("", "Report") and not title_shows("Report - Chromium", "")


# -- the bridge ---------------------------------------------------------------------------------
BROWSER, HOST = 4000, 4100


def bridge() -> BrowserBridge:
    b = BrowserBridge(parent_of=lambda pid: BROWSER if pid == HOST else 1,
                      same_program=lambda a, b: {a, b} <= {BROWSER, BROWSER + 1},
                      exe_of=lambda pid: "/usr/lib/chromium/chromium" if pid == BROWSER else "/usr/bin/python3")
    return b


def focus(title="Report - Chromium", pid=BROWSER + 1, geometry=Geometry(100, 80, 1300, 900)) -> FocusEvent:
    return FocusEvent(1, 0x400001, title=title, app_id="Chromium", app_instance="chromium", pid=pid,
                      geometry=geometry)


WIN = {"t": "win", "windowId": 7, "focused": True, "bounds": {"left": 100, "top": 80, "width": 1300, "height": 900},
       "tab": {"id": 3, "windowId": 7, "url": "https://intranet.example/report", "title": "Report"}}


def secure(password: bool, frame=0, reset=False) -> dict:
    return {"t": "secure", "password": password, "reset": reset, "tab": {"id": 3, "windowId": 7}, "frameId": frame}


def test_the_bridge_vouches_only_for_the_window_it_reports():
    b = bridge()
    assert b.url_for(focus()) is None and b.secret_focus(focus()) is None  # nothing reported yet
    assert b.handle(WIN, HOST)["ok"]
    assert b.url_for(focus()) == "https://intranet.example/report"
    assert b.secret_focus(focus()) is None  # the page has not said anything yet
    b.handle(secure(False), HOST)
    assert b.secret_focus(focus()) is False
    b.handle(secure(True, frame=5), HOST)  # an iframe's password field
    assert b.secret_focus(focus()) is True
    b.handle(secure(False, frame=5), HOST)
    assert b.secret_focus(focus()) is False
    # another title, another place on screen, another program, another app: not vouched for
    assert b.url_for(focus(title="Other - Chromium")) is None
    assert b.secret_focus(focus(geometry=Geometry(700, 80, 1300, 900))) is None
    assert b.url_for(focus(pid=999)) is None
    xterm = FocusEvent(1, 5, title="Report - Chromium", app_id="XTerm", app_instance="xterm", pid=BROWSER + 1)
    assert b.url_for(xterm) is None
    # focus went where the extension cannot see (a private window): nothing is vouched for
    b.handle({"t": "nofocus"}, HOST)
    assert b.url_for(focus()) is None and b.secret_focus(focus()) is None


def test_a_window_on_a_scaled_screen_is_the_same_place():
    from workprint.capture.browser_ext import same_place

    assert same_place(Geometry(200, 150, 1200, 800), (133, 100, 800, 533))  # bounds in DIPs at 1.5
    assert same_place(Geometry(100, 80, 1300, 900), (100, 80, 1300, 900))
    assert not same_place(Geometry(700, 80, 1300, 900), (100, 80, 1300, 900))
    assert not same_place(Geometry(200, 150, 1200, 800), (133, 100, 800, 300))


def test_keys_typed_before_a_press_are_judged_by_the_field_focused_before_it():
    clock = [10_000_000_000]
    b = BrowserBridge(clock=lambda: clock[0], wall=lambda: 5_000_000_000_000 + clock[0],
                      parent_of=lambda pid: BROWSER if pid == HOST else 1,
                      same_program=lambda a, b: {a, b} <= {BROWSER, BROWSER + 1},
                      exe_of=lambda pid: "/usr/lib/chromium/chromium" if pid == BROWSER else None)
    at_ms = lambda t_ns: (5_000_000_000_000 + t_ns) / 1e6  # noqa: E731  (the page's clock)
    b.handle(WIN, HOST)
    b.handle({**secure(False), "ts": at_ms(9_000_000_000)}, HOST)  # the title field took focus
    clock[0] = 10_100_000_000
    b.handle({**secure(True), "ts": at_ms(10_050_000_000)}, HOST)  # a press at 10.05 s focused the password
    probe = LinuxSecureInput(browser=b)
    assert probe(focus()) is True  # now
    assert probe.before(focus(), 10_040_000_000) is False  # the keys before the press: the title field
    assert probe.before(focus(), 10_060_000_000) is True
    assert probe.before(focus(), 8_000_000_000) is True  # nothing said before: as now
    gate = SafeguardGate(POLICY, Redactor.from_policy(POLICY), secure_input=probe)
    gate.process(FocusEvent(5, 0x400001, title="Report - Chromium", app_id="Chromium", app_instance="chromium",
                            pid=BROWSER + 1, geometry=Geometry(100, 80, 1300, 900),
                            url="https://intranet.example/report"))
    from workprint.events import ButtonEvent

    b.handle({**secure(False), "ts": at_ms(10_000_000_000)}, HOST)
    out = []
    for i, ch in enumerate("memo"):
        out += gate.process(KeyEvent(10_010_000_000 + i, True, keycode=40 + i, key=ch, char=ch))
    b.handle({**secure(True), "ts": at_ms(10_090_000_000)}, HOST)  # the press's report is in first
    out += gate.process(ButtonEvent(10_080_000_000, True, 5, 5, "left")) + gate.flush()
    assert "".join(k.char or "" for k in out if isinstance(k, KeyEvent)) == "memo"


def test_a_new_page_resets_what_its_frames_said():
    b = bridge()
    b.handle(WIN, HOST)
    b.handle(secure(True, frame=5), HOST)
    b.handle(secure(False, frame=0, reset=True), HOST)
    assert b.secret_focus(focus()) is False


def test_a_closed_tab_or_window_is_forgotten():
    b = bridge()
    b.handle(WIN, HOST)
    b.handle(secure(True), HOST)
    b.handle({"t": "closed", "tabId": 3}, HOST)
    assert b.secret_focus(focus()) is None and b.url_for(focus()) is not None
    b.handle({"t": "closed", "windowId": 7}, HOST)
    assert b.url_for(focus()) is None


def test_messages_from_anyone_but_the_browsers_host_are_refused():
    b = bridge()
    for peer in (None, 4200, 1):
        assert not b.handle(WIN, peer)["ok"]
    assert b.url_for(focus()) is None and b.refused == 3


def test_a_press_is_answered_with_the_report_of_that_press_and_keys_with_the_focused_element():
    b = bridge()
    b.handle(WIN, HOST)
    source = BrowserElementSource(b)
    el = {"tag": "button", "role": "button", "name": "Save  report", "text": "Save report" * 40,
          "selector": "#save", "password": False, "rect": {"x": 40, "y": 30, "w": 180, "h": 40}}
    geom = {"dpr": 1, "top": True, "screenX": 100, "screenY": 80, "outerWidth": 1300, "outerHeight": 900,
            "innerWidth": 1292, "innerHeight": 809,
            "calib": {"sx": 234, "sy": 217, "cx": 130, "cy": 50, "wx": 100, "wy": 80}}
    msg = {"t": "el", "cause": "point", "ts": time.time() * 1000, "url": "https://intranet.example/report",
           "el": el, "geom": geom, "zoom": 1, "tab": {"id": 3, "windowId": 7}, "frameId": 0}
    assert source.at_point(BROWSER + 1, None, 234, 217, time.monotonic() + 0.02) is None  # not reported (yet)
    threading.Timer(0.02, lambda: b.handle(msg, HOST)).start()  # the report comes after the press
    e = source.at_point(BROWSER + 1, None, 235, 216, time.monotonic() + 0.5)
    assert e is not None
    assert (e.source, e.via, e.role, e.name, e.selector, e.states) == ("browser", "point", "button", "Save report",
                                                                        "#save", ())
    # viewport origin from the press: 234 - 130 = 104, 217 - 50 = 167
    assert e.box == Geometry(144, 197, 180, 40) and len(e.text) == 200
    assert source.at_point(BROWSER + 1, None, 234, 217, time.monotonic()) is None  # answered once
    b.handle({**msg, "tab": {"id": 9, "windowId": 8}}, HOST)  # a window not in front: dropped
    assert source.at_point(BROWSER + 1, None, 234, 217, time.monotonic()) is None
    pw = {**el, "tag": "input", "role": "textbox", "name": "Password", "password": True, "text": "x"}
    b.handle({**msg, "cause": "focus", "el": pw}, HOST)
    f = source.focused(BROWSER + 1, time.monotonic() + 0.05)
    assert (f.via, f.name, f.states, f.text) == ("focus", "Password", ("focused", "password"), "")
    assert source.focused(999, time.monotonic()) is None  # not a browser it reports about


# -- the gate ------------------------------------------------------------------------------------
POLICY = parse_policy('[scope]\nallow_apps = ["chromium"]\nallow_sites = ["intranet.example"]\n'
                          'deny_sites = ["ads.example"]\n')


def element(t_ns: int, **kw) -> ElementEvent:
    base = dict(role="button", name="Save", url="https://intranet.example/a", box=Geometry(1, 2, 3, 4),
                source="browser", via="point", app="Chromium")
    return ElementEvent(t_ns=t_ns, **{**base, **kw})


def test_the_gate_stores_web_elements_with_their_press_in_scope_and_redacted():
    from workprint.events import ButtonEvent

    gate = SafeguardGate(POLICY, Redactor.from_policy(POLICY))
    gate.process(FocusEvent(5, 1, title="A - Chromium", app_id="Chromium", app_instance="chromium",
                            url="https://intranet.example/a"))
    stored = []
    for t in (10, 20, 30):
        stored += gate.process(ButtonEvent(t, True, 5, 5, "left")) + gate.process(ButtonEvent(t + 1, False, 5, 5, "left"))
    assert len(stored) == 6
    [e] = gate.element(element(10, name="Mail alice.smith@example.com", text="call +1 415 555 0100",
                               selector="#alice.smith@example.com"))
    assert "alice.smith" not in e.name + e.selector and "555" not in e.text
    assert gate.element(element(20, url="https://ads.example/frame")) == []  # a denied site's iframe
    assert gate.element(element(30, url="https://elsewhere.example/")) == []  # a site not allowed
    assert gate.element(element(40)) == []  # no such press was stored


def test_the_extension_saying_password_makes_the_gate_swallow_keys():
    b = bridge()
    probe = LinuxSecureInput(browser=b)
    gate = SafeguardGate(POLICY, Redactor.from_policy(POLICY), secure_input=probe)
    f = focus()
    b.handle(WIN, HOST)
    gate.process(FocusEvent(5, f.window, title=f.title, app_id="Chromium", app_instance="chromium", pid=f.pid,
                            geometry=f.geometry, url="https://intranet.example/report"))
    b.handle(secure(True), HOST)
    out = []
    for i, ch in enumerate("hunter2"):
        out += gate.process(KeyEvent(100 + i * 2, True, keycode=30 + i, key=ch, char=ch))
        out += gate.process(KeyEvent(101 + i * 2, False, keycode=30 + i, key=ch, char=ch))
    out += gate.flush()
    assert not any(k.char for k in out if isinstance(k, KeyEvent))
    assert [k.redacted for k in out if isinstance(k, KeyEvent)] == ["PASSWORD", "PASSWORD"]
    b.handle({"t": "nofocus"}, HOST)
    assert probe(f) is None  # the extension cannot vouch: a browser fails closed


# -- the native host ------------------------------------------------------------------------------
def test_native_messaging_framing():
    import io

    stream = io.BytesIO(encode_message({"t": "hello"}) + encode_message([1]) + b"\x05\x00\x00\x00{bad}"
                        + (2 << 20).to_bytes(4, sys.byteorder) + b"x" * (2 << 20) + encode_message({"a": 1}))
    assert read_message(stream) == {"t": "hello"}
    assert read_message(stream) == {} and read_message(stream) == {} and read_message(stream) == {}
    assert read_message(stream) == {"a": 1} and read_message(stream) is None


def test_the_host_replays_the_state_to_a_recorder_started_later(tmp_path):
    got: list[dict] = []

    def serve(session: str) -> ControlServer:
        def handle(req):
            got.append(req)
            return {"ok": True, "session": session}
        server = ControlServer(tmp_path, handle)
        server.start()
        return server

    fwd = Forwarder(tmp_path, timeout=1.0)
    assert not fwd.forward(WIN)  # no recorder yet
    assert not fwd.forward(secure(True))
    first = serve("s1")
    try:
        assert fwd.retry()
        msgs = [r["msg"] for r in got]
        assert msgs == [{"t": "hello"}, WIN, secure(True)] and all(r["peer_pid"] == os.getpid() for r in got)
    finally:
        first.stop()
    got.clear()
    second = serve("s2")  # a recorder restarted: it is told everything again
    try:
        assert fwd.forward({"t": "el", "cause": "click"})
        assert [r["msg"]["t"] for r in got] == ["el", "hello", "win", "secure"]
    finally:
        second.stop()


# -- the commands -----------------------------------------------------------------------------------
def test_install_writes_a_host_the_browser_can_start(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    env.pop("WORKPRINT_DATA_DIR", None)
    data = tmp_path / "data"
    res = subprocess.run([*WORKPRINT, "browser", "install", "--data-dir", str(data), "--json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    ext = json.loads(subprocess.run([*WORKPRINT, "browser", "extension-path", "--json"], env=env, check=True,
                                    capture_output=True, text=True).stdout)
    assert (Path(ext["path"]) / "manifest.json").exists() and (Path(ext["path"]) / "sw.js").exists()
    assert sorted(out["manifests"]) == sorted(str(tmp_path / "config" / d / "NativeMessagingHosts" /
                                                  "org.workprint.recorder.json") for d in ("chromium", "google-chrome"))
    manifest = json.loads(Path(out["manifests"][0]).read_text())
    assert manifest["allowed_origins"] == [f"chrome-extension://{ext['id']}/"] and manifest["type"] == "stdio"
    # the browser starts the host with the extension's origin; it forwards to the recorder
    got: list[dict] = []
    server = ControlServer(data, lambda req: got.append(req) or {"ok": True, "session": "s"})
    server.start()
    try:
        host = subprocess.run([manifest["path"], f"chrome-extension://{ext['id']}/"], input=encode_message(WIN),
                              capture_output=True, timeout=30, env={k: v for k, v in env.items() if k != "PYTHONPATH"})
        assert host.returncode == 0, host.stderr
    finally:
        server.stop()
    assert [r["msg"] for r in got] == [{"t": "hello"}, WIN]
    bad = subprocess.run([*WORKPRINT, "browser", "install", "--data-dir", str(data), "--extension-id", "nope"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "not an extension id" in bad.stderr


def test_a_key_gets_the_element_focused_in_the_page_when_it_was_pressed():
    """Focus reports are kept with the time they happened in the page: a key's element is
    the last one that took focus before the key (a Tab's is the field it was pressed in,
    not the one whose report came in since), none when none is that old; a key right after
    a press waits for the press's own focus report and takes it only if it names the
    pressed element (else, and for a press elsewhere, no element)."""
    b = bridge()
    b.handle(WIN, HOST)
    source = BrowserElementSource(b)
    pid = BROWSER + 1
    def field(selector, name, ms_ago, cause="focus"):
        el = {"tag": "input", "role": "textbox", "name": name, "selector": selector, "password": False,
              "rect": {"x": 40, "y": 30, "w": 180, "h": 40}}
        geom = {"dpr": 1, "top": True, "screenX": 100, "screenY": 80, "outerWidth": 1300, "outerHeight": 900,
                "innerWidth": 1292, "innerHeight": 809,
                "calib": {"sx": 234, "sy": 217, "cx": 130, "cy": 50, "wx": 100, "wy": 80}}
        return {"t": "el", "cause": cause, "ts": time.time() * 1000 - ms_ago, "url": "https://intranet.example/report",
                "el": el, "geom": geom, "zoom": 1, "tab": {"id": 3, "windowId": 7}, "frameId": 0}

    t0 = time.monotonic_ns()
    at = lambda ms_ago: t0 - int(ms_ago * 1e6)  # noqa: E731  (recorder time of a page moment)
    b.handle(field("#title", "Report title", 900), HOST)
    b.handle(field("#pw", "Password", 500), HOST)       # a Tab pressed 600 ms ago moved it on
    b.handle(field("#notes", "Notes", 700), HOST)       # an iframe reports late: kept in page order
    deadline = time.monotonic() + 1
    name = lambda e: e and e.name  # noqa: E731
    assert name(source.focused(pid, deadline)) == "Password"                      # now
    assert name(source.focused(pid, deadline, at(600))) == "Notes"                # the Tab's moment
    assert name(source.focused(pid, deadline, at(800))) == "Report title"
    assert source.focused(pid, deadline, at(1000)) is None                        # none that old

    # #pw has the focus; a press on #title, a key 1 ms after it, before the page's focus
    # report came in (``later``: the report that comes 20 ms later, if any)
    def press_then_key(later, *, pressed_pid=pid, focused=("#pw", "Password")):
        b.handle(field(*focused, 0), HOST)
        time.sleep(0.002)
        t = time.monotonic_ns()
        b.handle(field("#title", "Report title", 0, cause="point"), HOST)
        source.at_point(pid, None, 234, 217, time.monotonic() + 0.2)
        source.pressed(pressed_pid, t)
        timer = threading.Timer(0.02, lambda: later and b.handle(field(*later, 0), HOST))
        timer.start()
        got = source.focused(pid, time.monotonic() + 1, t + 1_000_000)
        timer.join()
        return name(got)

    assert press_then_key(("#title", "Report title")) == "Report title"  # waited for
    assert press_then_key(None) is None                                  # no focus came: not #pw
    assert press_then_key(("#pw", "Password")) is None                   # another field took it
    assert press_then_key(("#title", "Report title"), pressed_pid=None) is None  # a press out of scope
    assert press_then_key(None, focused=("#title", "Report title")) == "Report title"  # on the focused field
    # a press on the page's background takes the focus from the field: keys after it have
    # no element (a blur another window reports changes nothing here)
    blur = {"t": "el", "cause": "blur", "ts": time.time() * 1000, "url": "https://intranet.example/report",
            "tab": {"id": 3, "windowId": 7}, "frameId": 0}
    b.handle({**blur, "tab": {"id": 9, "windowId": 8}}, HOST)
    assert name(source.focused(pid, time.monotonic() + 1, time.monotonic_ns())) == "Report title"
    b.handle(blur, HOST)
    assert source.focused(pid, time.monotonic() + 1, time.monotonic_ns()) is None
    assert source.focused(pid, time.monotonic() + 1) is None
