"""Scope by where the input lands (pure, no X): which window lies under a point, and the
gate's pointer path over a scripted window list - a click, scroll or drag whose point lies
in a window that is not recorded leaves a gap marker only, never its coordinates."""

from __future__ import annotations

import json

import pytest

from workprint.capture.backend import WindowInfo
from workprint.events import ButtonEvent, FocusEvent, GapEvent, Geometry, MoveEvent, ScrollEvent, to_row
from workprint.policy.gate import POINTER_GAP, SafeguardGate
from workprint.policy.model import parse_policy
from workprint.policy.redact_pixels import out_of_scope_rects
from workprint.policy.redact_text import Redactor
from workprint.policy.scope import decide, window_at

POLICY = parse_policy('[scope]\nallow_apps = ["Workbench"]\nallow_sites = ["*"]\n')
MS = 1_000_000

# bottom first: an allowed app (left), a denied app (right, with a 20 px title bar above
# its client area), an unnamed window (no WM_CLASS), a browser in the background, a popup
# of the denied app on top of the allowed one
ALLOWED = WindowInfo(11, "Workbench", "workbench", "Notes", Geometry(0, 20, 600, 500), Geometry(0, 0, 600, 520))
DENIED = WindowInfo(22, "KeePassXC", "keepassxc", "Vault", Geometry(700, 120, 500, 400),
                    Geometry(695, 100, 510, 425))
NONAME = WindowInfo(33, "", "", "", Geometry(1300, 0, 300, 300))
BROWSER = WindowInfo(44, "Chromium", "chromium", "Bank - Chromium", Geometry(1300, 500, 500, 400))
POPUP = WindowInfo(55, "KeePassXC", "keepassxc", "Vault", Geometry(400, 300, 100, 100))
STACK = [ALLOWED, DENIED, NONAME, BROWSER, POPUP]


# --- window under a point ---------------------------------------------------------------------
@pytest.mark.parametrize("point,want", [
    ((10, 30), ALLOWED), ((10, 5), ALLOWED),            # client area, own title bar
    ((800, 200), DENIED), ((800, 105), DENIED),         # client area, title bar (frame only)
    ((697, 300), DENIED),                               # left border of the frame
    ((1400, 100), NONAME), ((1400, 600), BROWSER),
    ((450, 350), POPUP),                                # the popup lies on top of ALLOWED
    ((650, 50), None), ((1900, 1000), None),            # bare desktop
])
def test_window_at_takes_the_topmost_window_with_its_frame(point, want):
    assert window_at(STACK, *point) is want


def test_window_at_prefers_later_windows_and_skips_unknown_geometry():
    below = WindowInfo(1, "A", "a", "", Geometry(0, 0, 100, 100))
    above = WindowInfo(2, "B", "b", "", Geometry(50, 50, 100, 100))
    gone = WindowInfo(3, "C", "c", "", None)
    assert window_at([below, above], 60, 60) is above
    assert window_at([above, below], 60, 60) is below
    assert window_at([below, gone], 10, 10) is below
    assert window_at([], 1, 1) is None


# --- scope per window -------------------------------------------------------------------------
def test_a_browser_window_whose_url_is_unknown_is_out_even_with_allow_sites_star():
    r = decide(POLICY, app_id="Chromium", app_instance="chromium", title="Docs", url=None)
    assert not r.allowed and r.reason == "browser url unknown"
    assert decide(POLICY, app_id="Chromium", app_instance="chromium", title="Docs",
                  url="https://docs.example.com/").allowed


def _gate(stack=STACK, focused=ALLOWED, url=None):
    state = {"stack": stack}
    gate = SafeguardGate(POLICY, Redactor(username=None, hostname=None), windows=lambda: state["stack"])
    out = gate.process(FocusEvent(0, focused.window, focused.title, focused.app_id, focused.app_instance,
                                  geometry=focused.geometry, url=url))
    return gate, out, state


def test_frames_black_out_denied_windows_with_their_frames_and_background_browsers():
    gate, _, _ = _gate()
    rects = out_of_scope_rects(STACK, gate.window_in_scope)
    assert (695, 100, 510, 425) in rects, "the denied window's title bar and borders too"
    assert (1300, 0, 300, 300) in rects, "no WM_CLASS: out"
    assert (1300, 500, 500, 400) in rects, "a background browser: its site is unknown"
    assert (0, 0, 600, 520) not in rects


def test_the_focused_browsers_url_counts_for_its_own_window_only():
    gate, out, _ = _gate(focused=BROWSER, url="https://docs.example.com/")
    assert gate.window_in_scope(BROWSER)
    other = WindowInfo(45, "Chromium", "chromium", "Other tab", Geometry(0, 0, 10, 10))
    assert not gate.window_in_scope(other)


def _pointer(gate, events, end=None):
    out = []
    for e in events:
        out += gate.process(e)
    out += gate.flush(end or events[-1].t_ns + 2_000 * MS)
    return out


def _click(t, x, y, button="left"):
    return [MoveEvent(t, x, y), ButtonEvent(t + 1 * MS, True, x, y, button),
            ButtonEvent(t + 60 * MS, False, x, y, button)]


def _coords(events):
    return {(e.x, e.y) for e in events if isinstance(e, (ButtonEvent, ScrollEvent, MoveEvent))}


def _assert_nothing_at(events, points):
    coords = _coords(events)
    for p in points:
        assert p not in coords, f"pointer input at {p} was stored"
    raw = "".join(to_row(e)[2] for e in events)
    for x, y in points:
        assert f'"x":{x},"y":{y}' not in raw


# each: the events, and the points that must leave nothing but a gap
DENIED_INPUT = {
    "click": (_click(100 * MS, 800, 200), [(800, 200)]),
    "title-bar click": (_click(100 * MS, 800, 105), [(800, 105)]),
    "right click": (_click(100 * MS, 900, 300, "right"), [(900, 300)]),
    "double click": (_click(100 * MS, 810, 210) + _click(300 * MS, 810, 210), [(810, 210)]),
    "triple click": (_click(100 * MS, 810, 210) + _click(250 * MS, 810, 210) + _click(400 * MS, 810, 210),
                     [(810, 210)]),
    "scroll": ([MoveEvent(100 * MS, 820, 220)] + [ScrollEvent((110 + 20 * i) * MS, 820, 220, 0, -1)
                                                   for i in range(5)], [(820, 220)]),
    "no WM_CLASS": (_click(100 * MS, 1400, 100), [(1400, 100)]),
    "background browser": (_click(100 * MS, 1400, 600), [(1400, 600)]),
    "popup over the allowed app": (_click(100 * MS, 450, 350), [(450, 350)]),
    "bare desktop": (_click(100 * MS, 650, 50), [(650, 50)]),
    "drag inside": ([ButtonEvent(100 * MS, True, 750, 150, "left"), MoveEvent(120 * MS, 800, 180),
                     MoveEvent(140 * MS, 900, 250), ButtonEvent(160 * MS, False, 950, 300, "left")],
                    [(750, 150), (800, 180), (900, 250), (950, 300)]),
    "drag from allowed into denied": (
        [ButtonEvent(100 * MS, True, 100, 100, "left"), MoveEvent(120 * MS, 300, 150),
         MoveEvent(140 * MS, 650, 200), MoveEvent(160 * MS, 800, 220),
         ButtonEvent(180 * MS, False, 850, 240, "left")],
        [(100, 100), (300, 150), (650, 200), (800, 220), (850, 240)]),
    "drag from denied into allowed": (
        [ButtonEvent(100 * MS, True, 800, 200, "left"), MoveEvent(120 * MS, 300, 150),
         ButtonEvent(180 * MS, False, 100, 100, "left")],
        [(800, 200), (300, 150), (100, 100)]),
    "scroll during a drag in the allowed app that ends in it, wheel over the denied one": (
        [ButtonEvent(100 * MS, True, 100, 100, "left"), MoveEvent(120 * MS, 800, 220),
         ScrollEvent(130 * MS, 800, 220, 0, 1), MoveEvent(140 * MS, 200, 200),
         ButtonEvent(180 * MS, False, 200, 200, "left")],
        [(100, 100), (800, 220), (200, 200)]),
}


@pytest.mark.parametrize("name", list(DENIED_INPUT))
def test_pointer_input_landing_outside_the_recorded_windows_leaves_a_gap_only(name):
    events, points = DENIED_INPUT[name]
    gate, _, _ = _gate()
    out = _pointer(gate, events)
    _assert_nothing_at(out, points)
    assert not [e for e in out if isinstance(e, (ButtonEvent, ScrollEvent))], out
    gaps = [e for e in out if isinstance(e, GapEvent)]
    assert [g.reason for g in gaps] == [POINTER_GAP]
    assert gaps[0].t_ns >= events[0].t_ns and gaps[0].t_ns <= events[-1].t_ns


def test_moves_over_a_window_not_recorded_are_dropped_and_around_it_kept():
    gate, _, _ = _gate()
    path = [MoveEvent(t * MS, x, y) for t, (x, y) in enumerate([(100, 100), (650, 110), (800, 200),
                                                               (900, 210), (500, 200)], 1)]
    out = _pointer(gate, path)
    assert _coords(out) == {(100, 100), (500, 200)}  # the desktop and the vault left no trace
    assert not [e for e in out if isinstance(e, GapEvent)], "moves leave no marker"


def test_allowed_clicks_drags_and_scrolls_are_stored_whole_and_in_order():
    gate, _, _ = _gate()
    events = (_click(100 * MS, 100, 100) + _click(300 * MS, 100, 100)
              + [ButtonEvent(500 * MS, True, 50, 400, "left"), MoveEvent(520 * MS, 200, 420),
                 MoveEvent(540 * MS, 300, 450), ButtonEvent(560 * MS, False, 300, 450, "left")]
              + [ScrollEvent(700 * MS, 200, 200, 0, -1), ScrollEvent(720 * MS, 200, 200, 0, -1)]
              + _click(900 * MS, 10, 5))  # its own title bar
    out = _pointer(gate, events)
    assert out == events[:]  # nothing lost, nothing reordered, no gap


def test_a_click_in_scope_after_a_denied_one_closes_the_gap_before_it():
    gate, _, _ = _gate()
    out = _pointer(gate, _click(100 * MS, 800, 200) + _click(1_000 * MS, 100, 100))
    kinds = [type(e).__name__ for e in out]
    assert kinds == ["GapEvent", "MoveEvent", "ButtonEvent", "ButtonEvent"]
    assert (out[0].t_ns, out[0].duration_ns) == (101 * MS, 59 * MS)  # press to release


def test_a_window_list_that_cannot_be_had_fails_closed():
    gate, _, state = _gate()
    state["stack"] = None
    out = _pointer(gate, _click(100 * MS, 100, 100))
    assert not _coords(out) and [e.reason for e in out] == [POINTER_GAP]
    gate, _, state = _gate()
    state["stack"] = [ALLOWED, WindowInfo(9, "Workbench", "workbench", "", None)]
    assert not _coords(_pointer(gate, _click(100 * MS, 100, 100)))


def test_a_press_that_focuses_a_denied_window_drops_the_whole_gesture():
    """Press in the allowed app, the focus moves to a denied window before the release."""
    gate, _, _ = _gate()
    out = gate.process(ButtonEvent(100 * MS, True, 100, 100, "left"))
    out += gate.process(FocusEvent(120 * MS, DENIED.window, DENIED.title, DENIED.app_id, DENIED.app_instance))
    out += gate.process(ButtonEvent(150 * MS, False, 100, 100, "left"))
    out += gate.flush(3_000 * MS)
    assert not _coords(out)


def test_without_a_window_list_the_focused_window_decides_as_before():
    gate = SafeguardGate(POLICY, Redactor(username=None, hostname=None))
    gate.process(FocusEvent(0, 11, "Notes", "Workbench", "workbench"))
    events = _click(100 * MS, 800, 200)
    assert _pointer(gate, events) == events


def test_stored_rows_of_a_denied_click_hold_no_coordinates():
    gate, _, _ = _gate()
    out = _pointer(gate, _click(100 * MS, 812, 233))
    rows = json.dumps([to_row(e) for e in out])
    assert "812" not in rows and "233" not in rows
