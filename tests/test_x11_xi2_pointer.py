"""Prototype XI2 pointer source (x11_xi2_pointer): no lost motion, exact root positions.

The X tests run their own Xvfb without a window manager (fast) and inject through XTEST
without ever waiting for the server - the flood under which RECORD drops motions.
"""

from __future__ import annotations

import select
import struct
import threading
import time

import pytest

from workprint.capture.linux.x11_xi2_pointer import (
    XI_MOTION, XI_RAW_BUTTON_PRESS, XI_RAW_BUTTON_RELEASE, XI_RAW_MOTION, DeviceEvent,
    PointerTracker, RawEvent, parse_device_event, parse_raw_event, to_events)

M, XTEST = 2, 4  # master pointer, XTEST slave pointer


def _raw(t, x=None, y=None, evtype=XI_RAW_MOTION, detail=0, src=XTEST, extra=None):
    vals = {k: v for k, v in ((0, x), (1, y)) if v is not None} | (extra or {})
    return RawEvent(evtype, M, src, t, detail, vals, dict(vals))


def _dev(t, before, x=None, y=None, src=XTEST):
    vals = {k: v for k, v in ((0, x), (1, y)) if v is not None}
    return DeviceEvent(XI_MOTION, src, src, t, 0, before[0], before[1], vals)


def _tracker():
    tr = PointerTracker(1920, 1080)
    tr.set_slave(XTEST, M, {0: (-1.0, -1.0), 1: (-1.0, -1.0)})  # no range: root coordinates
    tr.set_position(M, 960, 540)
    return tr


# --- pure logic ---------------------------------------------------------------------------
def test_raw_and_slave_motion_pair_into_exact_moves():
    tr = _tracker()
    tr.raw_motion(_raw(1, 10, 10), 100)
    tr.device_motion(_dev(1, (960, 540), 10, 10), 101)
    tr.raw_motion(_raw(2, 4, -2), 102)           # relative: the raw values are deltas ...
    tr.device_motion(_dev(2, (10, 10), 14.0), 103)  # ... the slave valuators the new x only
    out = tr.drain(200)
    assert [(s.kind, s.x, s.y, s.exact, s.source) for s in out] == [
        ("move", 10, 10, True, "device"), ("move", 14, 10, True, "device")]
    assert tr.stats["mismatch"] == 0


def test_blocked_motions_are_counted_and_anchored_or_interpolated():
    tr = _tracker()
    for i in range(1, 4):                        # slave events not delivered (pointer over a
        tr.raw_motion(_raw(i, 100 * i, 100), i)  # window selecting XIAllDevices)
    assert tr.drain(10) == [] and tr.unresolved()
    tr.anchor(M, 300, 100)                       # QueryPointer answer after the third raw:
    out = tr.drain(20)                           # absolute raw values replay onto it exactly
    assert [(s.x, s.y, s.exact, s.source) for s in out] == [
        (100, 100, True, "raw"), (200, 100, True, "raw"), (300, 100, True, "raw")]
    tr.raw_motion(_raw(9, 400, 400), 30)
    tr.device_motion(_dev(10, (420, 410), 421, 410), 31)  # the pointer left the window: the
    out = tr.drain(40)                                    # root of the next slave event is
    assert [(s.x, s.y, s.exact) for s in out][0] == (420, 410, True)  # exact for the raw one
    assert out[1].source == "warp"  # a slave motion with no raw event of its own


def test_blocked_relative_motions_replay_as_deltas_else_interpolate():
    tr = _tracker()
    for i in range(1, 5):
        tr.raw_motion(_raw(i, 10, -5), i)        # deltas (a mouse, or XTEST relative)
    tr.anchor(M, 1000, 520)
    assert [(s.x, s.y, s.exact) for s in tr.drain(9)] == [
        (970, 535, True), (980, 530, True), (990, 525, True), (1000, 520, True)]
    for i in range(5, 8):
        tr.raw_motion(_raw(i, 3.5, 0), i)        # fractional (accelerated) and off by a warp
    tr.anchor(M, 1100, 520)
    out = tr.drain(9)
    assert [(s.x, s.y, s.exact) for s in out] == [(1033, 520, False), (1066, 520, False),
                                                  (1100, 520, True)]
    assert tr.stats["replayed"] == 3 and tr.stats["interpolated"] == 2


def test_buttons_take_the_position_after_the_motion_before_them():
    tr = _tracker()
    tr.raw_motion(_raw(1, 50, 60), 1)
    tr.raw_button(_raw(2, evtype=XI_RAW_BUTTON_PRESS, detail=1), 2)  # slave motion 1 never came
    tr.raw_button(_raw(3, evtype=XI_RAW_BUTTON_RELEASE, detail=1), 3)
    tr.raw_button(_raw(4, evtype=XI_RAW_BUTTON_PRESS, detail=5), 4)
    tr.raw_button(_raw(5, evtype=XI_RAW_BUTTON_RELEASE, detail=5), 5)  # scroll release: nothing
    assert tr.drain(6) == []
    tr.anchor(M, 50, 60)
    out = tr.drain(7)
    assert [(s.kind, s.x, s.y, s.button, s.down, s.exact) for s in out] == [
        ("move", 50, 60, 0, False, True), ("button", 50, 60, 1, True, True),
        ("button", 50, 60, 1, False, True), ("scroll", 50, 60, 5, True, True)]
    kinds = [type(e).__name__ for s in out for e in to_events(s)]
    assert kinds == ["MoveEvent", "ButtonEvent", "ButtonEvent", "ScrollEvent"]


def test_scroll_valuator_motion_is_not_a_move_and_old_unresolved_ones_time_out():
    tr = _tracker()
    tr.raw_motion(_raw(1, extra={3: 15.0}), 1)            # smooth scrolling only
    tr.device_motion(DeviceEvent(XI_MOTION, XTEST, XTEST, 1, 0, 960, 540, {3: 15.0}), 2)
    assert tr.drain(3) == [] and not tr.pending()
    tr.raw_motion(_raw(2, 7, 7), 10)
    tr.raw_button(_raw(3, evtype=XI_RAW_BUTTON_PRESS, detail=1), 11)  # closes the raw motion
    assert tr.drain(12, max_unresolved_ns=1000) == []
    out = tr.drain(11 + 1000, max_unresolved_ns=1000)  # the button waits as long itself
    assert [(s.kind, s.x, s.y, s.exact) for s in out] == [("move", 960, 540, False),
                                                          ("button", 960, 540, False)]


def test_a_button_waits_for_its_position_and_an_unseen_warp_becomes_a_move():
    tr = _tracker()
    tr.raw_button(_raw(1, evtype=XI_RAW_BUTTON_PRESS, detail=1), 1)  # the pointer was warped
    tr.raw_button(_raw(2, evtype=XI_RAW_BUTTON_RELEASE, detail=1), 2)  # with no event here
    assert tr.drain(3) == [] and tr.unresolved()
    tr.anchor(M, 300, 200)                       # QueryPointer answer: nothing moved since
    out = tr.drain(4)
    assert [(s.kind, s.x, s.y, s.down, s.exact, s.source) for s in out] == [
        ("move", 300, 200, False, True, "warp"), ("button", 300, 200, True, True, "raw"),
        ("button", 300, 200, False, True, "raw")]
    tr.raw_button(_raw(5, evtype=XI_RAW_BUTTON_PRESS, detail=4), 5)  # no warp this time
    tr.raw_motion(_raw(6, 320, 210), 6)          # the slave motion after it confirms it: its
    tr.device_motion(_dev(6, (300, 200), 320, 210), 7)  # root is where the pointer was
    assert [(s.kind, s.x, s.y, s.exact) for s in tr.drain(8)] == [
        ("scroll", 300, 200, True), ("move", 320, 210, True)]
    assert tr.stats["unseen_warps"] == 1 and tr.stats["verified"] == 3


def test_a_slave_motion_from_elsewhere_keeps_a_move_to_where_it_started():
    tr = _tracker()                              # the master warped itself to (300, 200)
    tr.raw_motion(_raw(1, 310, 200), 1)
    tr.device_motion(_dev(1, (300, 200), 310, 200), 2)
    assert [(s.x, s.y, s.source) for s in tr.drain(3)] == [(300, 200, "warp"), (310, 200, "device")]
    tr.device_motion(_dev(2, (400, 400), 410, 400), 4)  # a warp's slave motion, from elsewhere
    assert [(s.x, s.y, s.source) for s in tr.drain(5)] == [(400, 400, "warp"), (410, 400, "warp")]


def test_a_button_after_a_blocked_motion_is_not_guessed_early():
    tr = _tracker()
    tr.raw_button(_raw(1, evtype=XI_RAW_BUTTON_PRESS, detail=1), 1)
    tr.raw_motion(_raw(2, 50, 60), 2)            # its slave event never comes
    tr.anchor(M, 50, 60)                          # the answer is after the motion: not the button's
    out = tr.drain(3)
    assert [(s.kind, s.x, s.y, s.exact) for s in out] == [("button", 960, 540, False),
                                                          ("move", 50, 60, True)]
    assert tr.stats["unverified"] == 1


def test_wire_parsers_read_valuators():
    # raw: deviceid, time, detail, sourceid, valuators_len, flags, pad, mask, values, raw values
    raw = struct.pack("=HIIHHI4xI", 2, 77, 0, 4, 1, 0, 0b101) + struct.pack(
        "=iIiI", 12, 2**31, -3, 0) + struct.pack("=iIiI", 24, 0, -6, 0)
    ev = parse_raw_event(XI_RAW_MOTION, raw)
    assert (ev.deviceid, ev.sourceid, ev.time) == (2, 4, 77)
    assert ev.valuators == {0: 12.5, 2: -3.0} and ev.raw_values == {0: 24.0, 2: -6.0}
    dev = struct.pack("=HIIIIIiiiiHHH2xI", 4, 78, 0, 1, 1, 0, 10 << 16, 20 << 16, 0, 0, 1, 1, 4, 0)
    dev += bytes(20) + struct.pack("=I", 0) + struct.pack("=I", 0b11) + struct.pack("=iIiI", 11, 0, 23, 0)
    ev = parse_device_event(XI_MOTION, dev)
    assert (ev.deviceid, ev.root_x, ev.root_y, ev.valuators) == (4, 10.0, 20.0, {0: 11.0, 1: 23.0})


# --- a real X server ----------------------------------------------------------------------
@pytest.fixture
def xvfb():
    from workprint.virtual_desktop import VirtualDesktop

    with VirtualDesktop(1920, 1080, window_manager=False) as vd:
        yield vd.display


class Collector:
    def __init__(self, display: str):
        from Xlib.display import Display

        from workprint.capture.linux.x11_xi2_pointer import XI2PointerListener

        self.samples: list = []
        self.listener = XI2PointerListener(lambda: Display(display), self.samples.append)
        self.listener.start()

    def wait(self, n: int, timeout: float = 20.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.samples) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # nothing more should come
        return list(self.samples)

    def stop(self):
        self.listener.stop()


def _expected(i: int) -> tuple[int, int]:  # bench/bench_capture.py run_burst's positions
    return 10 + i % 1800, 10 + (i * 13) % 1000


def test_unthrottled_flood_every_motion_with_its_exact_position(xvfb):
    from Xlib import X
    from Xlib.display import Display
    from Xlib.ext import xtest

    bystander = Display(xvfb)  # a window-manager-like core client on the root window
    bystander.screen().root.change_attributes(
        event_mask=X.PointerMotionMask | X.ButtonPressMask | X.ButtonReleaseMask)
    bystander.sync()
    col = Collector(xvfb)
    d = Display(xvfb)
    moves = 5000
    for i in range(moves):
        xtest.fake_input(d, X.MotionNotify, x=_expected(i)[0], y=_expected(i)[1])
    for b in (1, 3, 4, 5):
        xtest.fake_input(d, X.ButtonPress, b)
        xtest.fake_input(d, X.ButtonRelease, b)
    xtest.fake_input(d, X.MotionNotify, x=5000, y=-40)  # clamped by the server
    d.sync()
    got = col.wait(moves + 1 + 6)
    col.stop()
    mv = [s for s in got if s.kind == "move"]
    assert len(mv) == moves + 1
    assert [(s.x, s.y) for s in mv[:moves]] == [_expected(i) for i in range(moves)]
    assert (mv[-1].x, mv[-1].y) == (1919, 0)
    assert all(s.exact for s in got) and all(s.source == "device" for s in mv)
    last = _expected(moves - 1)
    assert [(s.kind, s.button, s.down, s.x, s.y) for s in got if s.kind != "move"] == [
        ("button", 1, True, *last), ("button", 1, False, *last), ("button", 3, True, *last),
        ("button", 3, False, *last), ("scroll", 4, True, *last), ("scroll", 5, True, *last)]
    assert col.listener.tracker.stats["mismatch"] == 0
    # the bystander's core events were not taken away. It read nothing so far: the server
    # holds the rest of its events until its socket has room, so read until quiet
    kinds: dict[int, int] = {}
    while select.select([bystander.fileno()], [], [], 0.5)[0] or bystander.pending_events():
        while bystander.pending_events():
            e = bystander.next_event()
            kinds[e.type] = kinds.get(e.type, 0) + 1
    assert kinds == {X.MotionNotify: moves + 1, X.ButtonPress: 4, X.ButtonRelease: 4}
    d.close()
    bystander.close()


def _xi_all_devices_window(display: str):
    """A full-screen window of another client selecting XI2 motion for XIAllDevices, as
    Chromium does on its windows: slave events then stop there, not at the root window."""
    from Xlib import X
    from Xlib.display import Display
    from Xlib.ext import xinput

    c = Display(display)
    root = c.screen().root
    win = root.create_window(0, 0, 1920, 1080, 0, X.CopyFromParent, X.InputOutput,
                             X.CopyFromParent, override_redirect=True)
    win.xinput_select_events([(xinput.AllDevices, xinput.MotionMask)])
    win.map()
    c.sync()
    stop = threading.Event()

    def drain():  # keep its socket empty
        try:
            while not stop.is_set():
                while c.pending_events():
                    c.next_event()
                time.sleep(0.01)
        except Exception:  # noqa: BLE001 - the server went away first
            pass

    t = threading.Thread(target=drain, daemon=True)
    t.start()

    def close():
        stop.set()
        t.join(1)
        c.close()

    return close


def test_motions_over_a_window_that_takes_slave_events_are_still_all_there(xvfb):
    from Xlib import X
    from Xlib.display import Display
    from Xlib.ext import xtest

    close = _xi_all_devices_window(xvfb)
    col = Collector(xvfb)
    d = Display(xvfb)
    for i in range(100):  # paced: each answered by its own position query
        xtest.fake_input(d, X.MotionNotify, x=200 + i, y=300 + i)
        d.sync()
        time.sleep(0.01)
    got = col.wait(100)
    assert [(s.x, s.y) for s in got] == [(200 + i, 300 + i) for i in range(100)]
    assert all(s.exact and s.source == "raw" for s in got)
    burst = 2000
    for i in range(burst):  # unthrottled: every motion counted, the last one exact
        xtest.fake_input(d, X.MotionNotify, x=_expected(i)[0], y=_expected(i)[1])
    xtest.fake_input(d, X.ButtonPress, 1)
    xtest.fake_input(d, X.ButtonRelease, 1)
    d.sync()
    got = col.wait(100 + burst + 2)[100:]
    col.stop()
    mv = [s for s in got if s.kind == "move"]
    assert len(mv) == burst  # none lost; positions replayed from the raw values onto the
    assert [(s.x, s.y) for s in mv] == [_expected(i) for i in range(burst)]  # queried ones
    assert all(s.exact for s in mv)
    assert [(s.kind, s.x, s.y, s.exact) for s in got[-2:]] == [("button", *_expected(burst - 1), True)] * 2
    assert col.listener.queries >= 100
    d.close()
    close()


def test_warps_of_the_master_before_any_device_was_used(xvfb):
    """Until a slave device has sent an event, the master pointer has no "last slave" and
    a warp (XWarpPointer, `xdotool mousemove`) is an event of the master alone, which the
    listener does not select (that would take core events away from other clients)."""
    from Xlib import X
    from Xlib.display import Display
    from Xlib.ext import xtest

    col = Collector(xvfb)
    d = Display(xvfb)
    for x, y in ((300, 200), (320, 220)):
        d.screen().root.warp_pointer(x, y)
        d.sync()
    xtest.fake_input(d, X.ButtonPress, 1)
    xtest.fake_input(d, X.ButtonRelease, 1)
    d.sync()
    got = col.wait(3)
    d.screen().root.warp_pointer(640, 480)  # the master has a last slave now: seen
    xtest.fake_input(d, X.MotionNotify, x=700, y=500)
    d.sync()
    got = col.wait(5)
    col.stop()
    assert [(s.kind, s.down, s.x, s.y, s.exact) for s in got] == [
        ("move", False, 320, 220, True), ("button", True, 320, 220, True),
        ("button", False, 320, 220, True), ("move", False, 640, 480, True),
        ("move", False, 700, 500, True)]
    d.close()


def test_warps_and_another_clients_pointer_grab(xvfb):
    from Xlib import X
    from Xlib.display import Display
    from Xlib.ext import xtest

    col = Collector(xvfb)
    d = Display(xvfb)
    xtest.fake_input(d, X.MotionNotify, x=100, y=100)
    d.sync()
    d.screen().root.warp_pointer(640, 480)  # an application moves the pointer
    d.sync()
    g = Display(xvfb)
    g.screen().root.grab_pointer(False, X.PointerMotionMask | X.ButtonPressMask, X.GrabModeAsync,
                                 X.GrabModeAsync, 0, 0, X.CurrentTime)
    g.sync()
    for i in range(50):
        xtest.fake_input(d, X.MotionNotify, x=700 + i, y=500)
    xtest.fake_input(d, X.ButtonPress, 1)
    xtest.fake_input(d, X.ButtonRelease, 1)
    d.sync()
    got = col.wait(54)
    col.stop()
    assert [(s.kind, s.x, s.y, s.source) for s in got[:2]] == [
        ("move", 100, 100, "device"), ("move", 640, 480, "warp")]
    assert [(s.x, s.y) for s in got[2:52]] == [(700 + i, 500) for i in range(50)]
    assert [(s.kind, s.down, s.x, s.y) for s in got[52:]] == [("button", True, 749, 500),
                                                              ("button", False, 749, 500)]
    assert all(s.exact for s in got)
    g.close()
    d.close()
