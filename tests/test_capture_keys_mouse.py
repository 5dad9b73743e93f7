"""Real X11 capture: every key and pointer event reaches the store with its identity."""

from __future__ import annotations

import time

from workprint.events import ButtonEvent, KeyEvent, MoveEvent, ScrollEvent

from conftest import wait_for


def _keys(session):
    return [e for e in session.events(["key_down", "key_up"])]


def test_typed_text_keeps_every_key_identity(desk, record):
    wid = desk.xterm("keys-term")
    desk.activate(wid)
    rec = record()
    text = "Hello, World! 42 ~/a_b"
    desk.xdotool("type", "--delay", "15", text)
    desk.xdotool("key", "Return", "ctrl+a", "F5", "BackSpace", "Escape")
    time.sleep(0.6)
    session = rec.stop()
    keys = _keys(session)
    downs = [k for k in keys if k.down]
    typed = "".join(k.char for k in downs if k.char)
    assert typed.startswith(text)
    names = [k.key for k in downs]
    for expected in ("Return", "F5", "BackSpace", "Escape", "Shift_L", "Control_L"):
        assert expected in names
    ctrl_a = next(k for k in downs if k.key == "a" and "ctrl" in k.modifiers)
    assert ctrl_a.keycode > 0
    capital_h = next(k for k in downs if k.char == "H")
    assert "shift" in capital_h.modifiers and capital_h.key == "H"
    # every press has a matching release by keycode, later in time
    open_presses: dict[int, KeyEvent] = {}
    for k in keys:
        if k.down:
            open_presses[k.keycode] = k
        else:
            assert k.keycode in open_presses, f"release without press: {k} in {[(e.key, e.down, e.t_ns) for e in keys][-14:]}"
            assert open_presses.pop(k.keycode).t_ns <= k.t_ns
    assert not open_presses
    # raw timestamps are in recording order
    assert [k.t_ns for k in keys] == sorted(k.t_ns for k in keys)


def test_clicks_drags_scrolls_have_exact_coordinates(desk, record):
    proc, wid, state = desk.workbench()
    desk.activate(wid)
    rec = record()
    x = desk.xdotool
    x("mousemove", "700", "150"); x("click", "1")
    x("mousemove", "710", "160"); x("click", "--repeat", "2", "--delay", "80", "1")
    x("mousemove", "720", "170"); x("click", "3")
    x("mousemove", "730", "180"); x("click", "2")
    x("mousemove", "900", "250"); x("click", "5"); x("click", "5"); x("click", "4")
    x("click", "6"); x("click", "7")
    x("mousemove", "700", "500"); x("mousedown", "1")
    for px in range(710, 900, 20):  # human pace: ~30 ms between moves
        x("mousemove", str(px), "560")
        time.sleep(0.03)
    x("mousemove", "900", "600"); x("mouseup", "1")
    time.sleep(0.6)
    session = rec.stop()
    buttons = [e for e in session.events(["mouse_down", "mouse_up"])]
    presses = [(b.x, b.y, b.button) for b in buttons if b.down]
    assert presses == [(700, 150, "left"), (710, 160, "left"), (710, 160, "left"),
                       (720, 170, "right"), (730, 180, "middle"), (700, 500, "left")]
    assert sum(1 for b in buttons if not b.down) == len(presses)
    release = [b for b in buttons if not b.down][-1]
    assert (release.x, release.y) == (900, 600)
    scrolls = [(s.x, s.y, s.dx, s.dy) for s in session.events(["scroll"])]
    assert scrolls == [(900, 250, 0, -1), (900, 250, 0, -1), (900, 250, 0, 1),
                       (900, 250, -1, 0), (900, 250, 1, 0)]
    # the approach path of the drag is kept: moves between press and release
    press_t = [b for b in buttons if b.down][-1].t_ns
    path = [(m.x, m.y) for m in session.events(["move"]) if press_t < m.t_ns < release.t_ns]
    assert len(path) >= 3 and path[-1] == (900, 600)
    # the app really saw the drag (the recording matches what happened on screen)
    import json
    drags = wait_for(lambda: json.loads(state.read_text())["drags"], what="drag in the app")
    x0, y0, x1, y1 = drags[-1]
    assert (x1 - x0, y1 - y0) == (200, 100)


def test_fast_move_bursts_are_coalesced_but_keep_last_position(desk, record):
    from Xlib import X
    from Xlib.display import Display
    from Xlib.ext import xtest

    rec = record()
    d = Display(desk.display)
    for i in range(2000):
        xtest.fake_input(d, X.MotionNotify, x=100 + i % 800, y=100 + (i * 7) % 600)
    d.sync()
    xtest.fake_input(d, X.MotionNotify, x=1234, y=567)
    xtest.fake_input(d, X.ButtonPress, 1)
    xtest.fake_input(d, X.ButtonRelease, 1)
    d.sync()
    d.close()
    time.sleep(0.6)
    session = rec.stop()
    moves = list(session.events(["move"]))
    assert 0 < len(moves) < 2000, "moves are coalesced to at most ~60 Hz"
    press = next(session.events(["mouse_down"]))
    assert (press.x, press.y) == (1234, 567)
    before = [m for m in moves if m.t_ns <= press.t_ns]
    assert (before[-1].x, before[-1].y) == (1234, 567)


def test_pointer_comes_from_xi2_and_stopping_without_input_is_instant_and_clean(desk, record):
    import threading

    rec = record()
    assert rec.backend.pointer_source == "xi2"
    time.sleep(0.5)  # no input at all
    t0 = time.monotonic()
    session = rec.stop()
    assert time.monotonic() - t0 < 1.0
    assert session.meta["screen"]["pointer"] == "xi2" and session.meta["screen"]["keys"] == "xi2"
    left = [t.name for t in threading.enumerate() if t.name.startswith("workprint-")]
    assert left == [], left


def test_record_pointer_source_on_request(desk, record, monkeypatch):
    monkeypatch.setenv("WORKPRINT_X11_POINTER", "record")
    rec = record()
    assert rec.backend.pointer_source == "record" and rec.backend._pointer is None
    x = desk.xdotool
    x("mousemove", "640", "400"); x("click", "1"); x("click", "4")
    time.sleep(0.5)
    session = rec.stop()
    assert session.meta["screen"]["pointer"] == "record"
    assert [(b.x, b.y, b.button, b.down) for b in session.events(["mouse_down", "mouse_up"])] == [
        (640, 400, "left", True), (640, 400, "left", False)]
    assert [(s.x, s.y, s.dy) for s in session.events(["scroll"])] == [(640, 400, 1)]
