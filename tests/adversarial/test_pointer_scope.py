"""Scope follows where the pointer input lands and what the screen shows (issue 11, class 5).

A real `workprint record` on Xvfb + openbox, an allowed Tk app focused, and next to it a
window that must not be recorded: a denied app, a window without WM_CLASS, a browser in the
background (its URL is never known, so it is out even with ``allow_sites = ["*"]``). Clicks,
double clicks, right clicks, scrolls and drags into it must leave no event with a point in
it - only a gap marker - and its pixels, title bar included, must be black in every stored
frame. Each test first proves the input reached the app (its state file counts the presses
and wheel ticks) and that the recorder was recording (an ordinary click in the allowed app
is stored)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from workprint.events import ButtonEvent, GapEvent, MoveEvent, ScrollEvent
from workprint.policy.gate import POINTER_GAP
from workprint.store.session import DataDir

from conftest import APPS, wait_for

from .leaks import ocr_frames, recording, written_bytes

pytestmark = pytest.mark.x11

POLICY = """
[scope]
allow_apps = ["Workbench"]
deny_apps = ["Payroll"]
allow_sites = ["*"]
[screenshots]
enabled = true
ocr_mask = false
"""
ALLOWED_GEO = (40, 60, 700, 640)     # x, y, w, h of the allowed app's client area
OTHER_GEO = (1000, 160, 800, 640)    # the window that must not be recorded
DENIED_TITLE = "Quarterly Bonuses Zebra Ledger"

# the window next to the allowed app: (WM_CLASS, extra args, title)
TARGETS = {
    "denied app": ("Payroll", [], DENIED_TITLE),
    "built-in deny": ("KeePassXC", [], DENIED_TITLE),
    "no WM_CLASS": ("Workbench", ["--no-class"], DENIED_TITLE),
    "background browser": ("Chromium", [], DENIED_TITLE + " - Chromium"),
}


def _app(desk, cls: str, title: str, geo, extra=()):
    state = desk.tmp / f"state-{cls}-{time.monotonic_ns()}.json"
    x, y, w, h = geo
    desk.vd.spawn([sys.executable, str(APPS / "workbench.py"), "--title", title, "--class", cls,
                   "--state", str(state), "--geometry", f"{w}x{h}+{x}+{y}", *extra])
    wid = desk.vd.wait_window("^" + title.split(" - ")[0])
    wait_for(state.exists, what=f"{title} state file")
    return wid, state


def _state(path: Path) -> dict:
    return json.loads(path.read_text())


def _client_origin(desk, wid: int) -> tuple[int, int]:
    out = desk.xdotool("getwindowgeometry", "--shell", str(wid))
    vals = dict(line.split("=") for line in out.splitlines() if "=" in line)
    return int(vals["X"]), int(vals["Y"])


def _policy(tmp_path: Path) -> Path:
    p = tmp_path / "policy.toml"
    p.write_text(POLICY)
    return p


@pytest.fixture
def two_apps(desk):
    def setup(target: str):
        cls, extra, title = TARGETS[target]
        allowed, allowed_state = _app(desk, "Workbench", "Notes - Workbench", ALLOWED_GEO)
        other, other_state = _app(desk, cls, title, OTHER_GEO, extra)
        if "--no-class" in extra:
            from Xlib import display
            d = display.Display(desk.display)
            try:
                wait_for(lambda: d.create_resource_object("window", other).get_wm_class() is None,
                         what="WM_CLASS removed")
            finally:
                d.close()
        desk.activate(allowed)
        return allowed, allowed_state, other, other_state
    return setup


def _stored_pointer(data: Path, sid: str):
    with DataDir(data).open(sid) as s:
        return [e for e in s.events() if isinstance(e, (ButtonEvent, ScrollEvent, MoveEvent, GapEvent))]


def _inside(e, rect) -> bool:
    x, y, w, h = rect
    return x <= e.x < x + w and y <= e.y < y + h


def _outer(desk, wid: int) -> tuple[int, int, int, int]:
    """The window with its frame (title bar, borders) on screen."""
    from Xlib import display
    d = display.Display(desk.display)
    try:
        win = d.create_resource_object("window", wid)
        root = d.screen().root
        while True:
            parent = win.query_tree().parent
            if parent.id == root.id:
                break
            win = parent
        g = win.get_geometry()
        return g.x, g.y, g.width + 2 * g.border_width, g.height + 2 * g.border_width
    finally:
        d.close()


def _actions(desk, other: int, kind: str):
    """Input of one kind into the other window (xdotool moves into it first)."""
    x = desk.xdotool
    if kind == "click":
        x("mousemove", "--window", str(other), "100", "400", "click", "1")
    elif kind == "double click":
        x("mousemove", "--window", str(other), "120", "420", "click", "--repeat", "2", "--delay", "80", "1")
    elif kind == "right click":
        x("mousemove", "--window", str(other), "140", "440", "click", "3")
    elif kind == "scroll":
        x("mousemove", "--window", str(other), "700", "150", "click", "--repeat", "4", "--delay", "60", "5")
    elif kind == "drag":
        x("mousemove", "--window", str(other), "100", "350", "mousedown", "1")
        for dx in range(0, 300, 30):
            x("mousemove", "--window", str(other), str(100 + dx), str(350 + dx // 3))
            time.sleep(0.02)
        x("mouseup", "1")
    elif kind == "title bar":
        # a click on the frame's title bar (openbox: the window manager's own window)
        fx, fy, _, _ = _outer(desk, other)
        x("mousemove", str(fx + 300), str(fy + 8), "click", "1")
    else:
        raise ValueError(kind)


def _expect_reached(kind: str, before: dict, after: dict) -> None:
    if kind == "scroll":
        assert after["wheel"] >= before["wheel"] + 4, (before, after)
    elif kind != "title bar":
        assert after["presses"] > before["presses"], (before, after)


def _run(desk, tmp_path, two_apps, target: str, kinds: list[str]):
    allowed, allowed_state, other, other_state = two_apps(target)
    data = tmp_path / "data"
    with recording(desk, data, _policy(tmp_path)) as info:
        # recording, and an ordinary click in the allowed app is stored (the marker)
        desk.xdotool("mousemove", "--window", str(allowed), "200", "500", "click", "1")
        wait_for(lambda: _state(allowed_state)["presses"] >= 1, what="allowed click reached the app")
        time.sleep(0.4)
        for kind in kinds:
            before = _state(other_state)
            desk.activate(allowed)  # the allowed app has the focus when the input lands
            time.sleep(0.3)
            _actions(desk, other, kind)
            wait_for(lambda: _safe(kind, before, other_state), timeout=5,
                     what=f"{kind} reached the other window")
            time.sleep(0.4)
        desk.activate(allowed)
        desk.xdotool("mousemove", "--window", str(allowed), "220", "520", "click", "1")
        wait_for(lambda: _state(allowed_state)["presses"] >= 2, what="second allowed click")
        time.sleep(1.0)
    return data, info["session"], allowed, other


def _safe(kind, before, path) -> bool:
    try:
        _expect_reached(kind, before, _state(path))
        return True
    except AssertionError:
        return False


def _check(desk, data, sid, allowed, other, *, titles=True):
    outer = _outer(desk, other)
    stored = _stored_pointer(data, sid)
    allowed_rect = _outer(desk, allowed)
    clicks = [e for e in stored if isinstance(e, ButtonEvent) and _inside(e, allowed_rect)]
    assert len(clicks) >= 4, "the allowed clicks are stored: the recorder was recording"
    leaked = [e for e in stored if not isinstance(e, GapEvent) and _inside(e, outer)]
    assert not leaked, f"pointer input in the window that is not recorded was stored: {leaked[:5]}"
    assert any(isinstance(e, GapEvent) and e.reason == POINTER_GAP for e in stored), \
        "a gap marker says pointer input was left out"
    with DataDir(data).open(sid) as s:
        refs = s.frames()
        assert refs
        ax, ay, aw, ah = allowed_rect
        seen_allowed = False
        for ref in refs:
            img = np.asarray(s.frame_image(ref.frame_id).convert("RGB"))
            x, y, w, h = outer
            assert img[y:y + h, x:x + w].max() == 0, f"the other window (or its frame) shows in a {ref.reason} frame"
            seen_allowed |= img[ay:ay + ah, ax:ax + aw].max() > 0
        assert seen_allowed, "the allowed app shows in the frames"
    if titles:
        # both title bars lie in the top band; openbox's title font needs 4x to be read
        texts = ocr_frames(data, region=(0, 0, 1920, OTHER_GEO[1] + 40), scale=4)
        assert any("Notes" in t and "Workbench" in t for t in texts), \
            "OCR reads the allowed app's title bar (else the check proves nothing)"
        for word in ("Quarterly", "Bonuses", "Zebra", "Ledger"):
            assert not any(word in t for t in texts), f"{word!r} of the other window's title is readable"
    blob = written_bytes(data)
    assert b"Zebra" not in blob and b"Quarterly" not in blob


@pytest.mark.parametrize("target", list(TARGETS))
def test_clicks_double_clicks_and_right_clicks_into_a_window_not_recorded(desk, tmp_path, two_apps, target):
    data, sid, allowed, other = _run(desk, tmp_path, two_apps, target,
                                     ["click", "double click", "right click"])
    _check(desk, data, sid, allowed, other, titles=target == "denied app")


@pytest.mark.parametrize("target", ["denied app", "background browser"])
def test_scrolls_and_drags_into_a_window_not_recorded(desk, tmp_path, two_apps, target):
    data, sid, allowed, other = _run(desk, tmp_path, two_apps, target, ["scroll", "drag", "title bar"])
    _check(desk, data, sid, allowed, other, titles=False)


def test_a_drag_from_the_allowed_app_into_a_denied_one_leaves_a_gap_only(desk, tmp_path, two_apps):
    allowed, allowed_state, other, other_state = two_apps("denied app")
    data = tmp_path / "data"
    x = desk.xdotool
    with recording(desk, data, _policy(tmp_path)) as info:
        x("mousemove", "--window", str(allowed), "200", "500", "click", "1")
        wait_for(lambda: _state(allowed_state)["presses"] >= 1, what="allowed click")
        time.sleep(0.4)
        for start in ((100, 400), (300, 450)):  # from the allowed canvas, across, into the other
            x("mousemove", "--window", str(allowed), str(start[0]), str(start[1]), "mousedown", "1")
            for step in range(1, 13):
                x("mousemove", str(ALLOWED_GEO[0] + start[0] + step * 90), str(ALLOWED_GEO[1] + start[1]))
                time.sleep(0.02)
            x("mouseup", "1")
            time.sleep(0.5)
            desk.activate(allowed)
        before = _state(allowed_state)["presses"]
        x("mousemove", "--window", str(allowed), "220", "520", "click", "1")
        wait_for(lambda: _state(allowed_state)["presses"] > before, what="allowed click after")
        x("mousemove", "--window", str(allowed), "230", "530", "click", "1")
        time.sleep(1.0)
    sid = info["session"]
    assert _state(allowed_state)["presses"] >= 4, "the drags started in the allowed app"
    outer = _outer(desk, other)
    stored = _stored_pointer(data, sid)
    assert not [e for e in stored if not isinstance(e, GapEvent) and _inside(e, outer)]
    # the presses that started the drags are gone too: no press without its release
    downs = [e for e in stored if isinstance(e, ButtonEvent) and e.down]
    ups = [e for e in stored if isinstance(e, ButtonEvent) and not e.down]
    assert len(downs) == len(ups) >= 3
    assert not [e for e in downs if (e.x, e.y) in {(ALLOWED_GEO[0] + 100, ALLOWED_GEO[1] + 400),
                                                   (ALLOWED_GEO[0] + 300, ALLOWED_GEO[1] + 450)}]
    assert sum(isinstance(e, GapEvent) and e.reason == POINTER_GAP for e in stored) >= 1


def test_without_a_window_manager_the_window_list_still_knows_the_windows(tmp_path):
    """No EWMH window manager (no _NET_CLIENT_LIST_STACKING): the backend lists the root's
    children, so the pointer's scope and the frame safeguard still see every window."""
    from workprint.capture.linux.x11 import X11Backend
    from workprint.policy.scope import window_at
    from workprint.virtual_desktop import VirtualDesktop

    with VirtualDesktop(1920, 1080, window_manager=False) as vd:
        states = []
        for cls, geo in (("Workbench", "600x400+0+0"), ("Payroll", "600x400+900+100")):
            st = tmp_path / f"{cls}.json"
            vd.spawn([sys.executable, str(APPS / "workbench.py"), "--title", f"{cls} win", "--class", cls,
                      "--state", str(st), "--geometry", geo])
            states.append(st)
        for st in states:
            wait_for(st.exists, what="app up")
        backend = X11Backend(vd.display)
        try:
            wins = wait_for(lambda: (lambda w: w if len({x.app_id for x in w} & {"Workbench", "Payroll"}) == 2
                                     else None)(backend.visible_windows()), what="both windows listed")
            assert window_at(wins, 100, 100).app_id == "Workbench"
            assert window_at(wins, 1000, 200).app_id == "Payroll"
            assert window_at(wins, 1700, 900) is None
        finally:
            backend.close()
