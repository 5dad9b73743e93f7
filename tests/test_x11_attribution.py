"""KeyAttribution's decisions over a stand-in X connection (pure; the adversarial tests
run it against real lockers on a real X server)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest
from Xlib import X

from conftest import wait_for
from workprint.capture.linux.x11_attribution import KeyAttribution

ROOT = 1
MASK = 0x1FFFFF  # resource id mask: a client's windows share the bits above it


class FakeWindow:
    def __init__(self, conn, wid):
        self.conn, self.id = conn, wid

    def change_attributes(self, event_mask):
        self.conn.selected[self.id] = event_mask

    def query_tree(self):
        parent = self.conn.parents.get(self.id, ROOT)
        return NS(parent=FakeWindow(self.conn, parent) if parent else None)

    def get_geometry(self):
        self.conn.asked.append((self.id, self.conn.selected.get(self.id, 0)))
        x, y, w, h = self.conn.geometry[self.id]
        return NS(x=x, y=y, width=w, height=h)

    def get_full_property(self, atom, type_):
        return NS(value=[self.conn.net_active])

    def __eq__(self, other):
        return isinstance(other, FakeWindow) and other.id == self.id


class FakeConn:
    def __init__(self):
        self.selected: dict[int, int] = {}
        self.parents: dict[int, int] = {}
        self.geometry: dict[int, tuple] = {}
        self.asked: list[tuple[int, int]] = []  # (window, events selected on it when asked)
        self.focus: object = None
        self.net_active = 0
        self.round_trips = 0
        self.sent: dict[int, int] = {}  # selections flushed to the server
        self.display = NS(info=NS(resource_id_mask=MASK))

    def flush(self):
        self.sent = dict(self.selected)

    def screen(self):
        return NS(root=FakeWindow(self, ROOT), width_in_pixels=1920, height_in_pixels=1080)

    def create_resource_object(self, kind, wid):
        return FakeWindow(self, wid)

    def get_input_focus(self):
        self.round_trips += 1
        self.flush()  # a request with a reply sends what was queued before it
        return NS(focus=self.focus)

    def get_atom(self, name):
        return 99


APP, APP_CHILD, OTHER = 0x400001, 0x400007, 0x800002


def make(overrides=frozenset()):
    conn = FakeConn()
    conn.parents = {APP: ROOT, APP_CHILD: APP, OTHER: ROOT}
    conn.focus = FakeWindow(conn, APP_CHILD)
    state = {"overrides": overrides}
    att = KeyAttribution(conn, active=lambda: APP, overrides=lambda: state["overrides"])
    return conn, att, state


def test_keys_into_the_active_window_or_inside_it_are_attributed():
    conn, att, _ = make()
    assert att.check() is None
    assert conn.selected[APP] == X.FocusChangeMask      # grabs will be seen on it
    assert conn.round_trips == 1                         # one round trip per key press
    conn.focus = FakeWindow(conn, APP)
    assert att.check() is None


def test_a_grab_by_another_client_until_it_ends():
    conn, att, _ = make()
    att.on_event(NS(type=X.FocusOut, mode=X.NotifyGrab))
    assert att.check() == "the keyboard is grabbed by another client"
    att.on_event(NS(type=X.FocusOut, mode=X.NotifyNormal))
    assert att.check() is not None
    att.on_event(NS(type=X.FocusIn, mode=X.NotifyUngrab))
    assert att.check() is None


def test_focus_taken_by_another_window_is_not_attributed():
    conn, att, _ = make()
    conn.focus = FakeWindow(conn, OTHER)
    assert att.check() == "the input focus is outside the active window"
    conn.net_active = OTHER        # the window manager already made it active: not a theft
    assert att.check() is None
    conn.focus = X.NONE
    assert att.check() == "no window has the input focus"
    conn.focus = X.PointerRoot
    assert att.check() is None


def test_full_screen_override_redirect_windows_of_another_client():
    conn, att, state = make(frozenset({OTHER}))
    conn.geometry[OTHER] = (0, 0, 1920, 1080)
    assert att.check() == "a full-screen window of another client covers the screen"
    conn.geometry[OTHER] = (700, 400, 420, 160)         # a small popup: not a locker
    att.on_event(NS(type=X.ConfigureNotify, window=NS(id=OTHER), width=420, height=160))
    assert att.check() is None
    own = APP + 0x30                                      # the active app's own full-screen view
    conn.geometry[own] = (0, 0, 1920, 1080)
    state["overrides"] = frozenset({own})
    assert att.check() is None


def test_an_override_windows_size_is_asked_once_then_followed_by_its_configure_events():
    conn, att, state = make(frozenset({OTHER}))
    conn.geometry[OTHER] = (700, 400, 420, 160)
    assert att.check() is None and att.check() is None
    # asked once, with its resizes already selected (none can slip between)
    assert conn.asked == [(OTHER, X.StructureNotifyMask)]
    conn.geometry[OTHER] = (0, 0, 1920, 1080)  # it grew: the server tells with ConfigureNotify
    att.on_event(NS(type=X.ConfigureNotify, window=NS(id=OTHER), width=1920, height=1080))
    assert att.check() == "a full-screen window of another client covers the screen"
    att.on_event(NS(type=X.ConfigureNotify, window=NS(id=OTHER), width=420, height=160))
    assert att.check() is None and len(conn.asked) == 1
    att.on_event(NS(type=X.DestroyNotify, window=NS(id=OTHER)))  # its id may come back
    conn.geometry[OTHER] = (0, 0, 1920, 1080)
    assert att.check() == "a full-screen window of another client covers the screen"
    assert len(conn.asked) == 2
    conn.focus = FakeWindow(conn, APP)  # the active window: focus changes and resizes both
    state["overrides"] = frozenset({APP + 0x800000})
    conn.geometry[APP + 0x800000] = (0, 0, 10, 10)
    assert att.check() is None and conn.selected[APP] == X.FocusChangeMask


def test_the_recorders_own_indicator_is_not_asked_at_every_key_but_others_still_are():
    from workprint.capture.linux.x11 import X11Backend

    indicator = 0xC00001                                  # the recorder's own connection
    tracker = NS(override_windows=frozenset({indicator, OTHER}))
    backend = NS(_indicator=NS(window_id=indicator))
    foreign = X11Backend._foreign_overrides(backend, tracker)
    assert foreign == frozenset({OTHER})
    assert X11Backend._foreign_overrides(NS(_indicator=None), tracker) == tracker.override_windows
    assert X11Backend._foreign_overrides(backend, None) is None
    conn, att, state = make(foreign)
    asked = []
    geometry = FakeWindow.get_geometry
    FakeWindow.get_geometry = lambda self: asked.append(self.id) or geometry(self)
    try:
        conn.geometry[OTHER] = (0, 0, 1920, 1080)         # a locker of another client: found
        assert att.check() == "a full-screen window of another client covers the screen"
    finally:
        FakeWindow.get_geometry = geometry
    assert asked == [OTHER]


class _KeyTime:
    """Stands in for KeyTimeAttribution: the answers of the checks made as keys were pressed."""

    def __init__(self, answers):
        self.answers = answers

    def answer(self, t_ns):
        return self.answers.get(t_ns, (False, None))


def _decoder(answers):
    """X11Backend's key attribution step over the fake connection, without an X server."""
    from workprint.capture.linux.x11 import X11Backend
    from workprint.capture.linux.x11_keys import Composer

    conn, att, state = make()
    backend = X11Backend.__new__(X11Backend)
    backend._attribution, backend._key_time = att, _KeyTime(answers)
    backend._unattributed, backend._unattributed_codes = None, set()
    backend._last_attribution_ns, backend._composer = 0, Composer()
    return conn, att, backend


def _key(t_ns, down=True, code=38):
    from workprint.events import KeyEvent

    return KeyEvent(t_ns, down, code, 0x61, "a", "a", ())


def test_a_key_checked_as_it_was_pressed_is_not_checked_again_when_decoded():
    """One X round trip per key press, not two: the check made as the key was pressed
    decides; the decoder only keeps watching the active window for grabs."""
    conn, att, backend = _decoder({1: (True, None), 2: (True, "the keyboard is grabbed by another client")})
    assert backend._attributed(_key(1)) == [_key(1)]
    assert conn.round_trips == 0 and conn.selected[APP] == X.FocusChangeMask
    out = backend._attributed(_key(2, code=39))      # pressed into a grab: its check says so
    assert [getattr(e, "name", None) for e in out] == ["keys_unattributed", None]
    assert backend._attributed(_key(3, down=False, code=39)) == []   # its release is dropped too
    assert conn.round_trips == 0


def test_a_key_without_a_check_in_time_is_checked_when_decoded_and_fails_closed():
    """No check within KEY_CHECK_FRESH_NS of the press (the key-time thread fell behind, or
    its check failed): the decoder asks the server now, and a focus it cannot read makes the
    key unattributable."""
    from Xlib import error

    conn, att, backend = _decoder({})
    assert backend._attributed(_key(1)) == [_key(1)]
    assert conn.round_trips == 1
    att.on_event(NS(type=X.FocusOut, mode=X.NotifyGrab))   # seen on the decoder's connection
    out = backend._attributed(_key(2))
    assert [getattr(e, "name", None) for e in out] == ["keys_unattributed", None]

    def unreadable():
        raise error.XError(None, b"\0" * 32)

    conn2, att2, backend2 = _decoder({})
    conn2.get_input_focus = unreadable
    out = backend2._attributed(_key(5))
    assert [getattr(e, "name", None) for e in out] == ["keys_unattributed", None]
    assert out[0].text == "the input focus cannot be read"


def test_the_decoder_takes_the_check_of_its_key_without_waiting_for_the_tty_sample():
    """The decoder waits for the attribution check of a press still in flight (woken by the
    same key, it is often first), not for the slower jobs after it on the key-time thread."""
    import threading
    import time

    from workprint.capture.linux.wakeup import KeyTimeWorker
    from workprint.capture.linux.x11_attribution import KeyTimeAttribution

    conn = FakeConn()
    conn.parents = {APP: ROOT, APP_CHILD: APP}
    conn.focus = FakeWindow(conn, APP_CHILD)
    conn.pending_events = lambda: 0
    release = threading.Event()
    worker = KeyTimeWorker("test-key-time")
    worker.add(lambda keys: release.wait(5))          # a slow tty sample, added first
    key_time = KeyTimeAttribution(lambda: conn, active=lambda: APP, worker=worker)
    worker.start()
    try:
        t_ns = time.monotonic_ns()
        worker.key_pressed(t_ns)
        deadline = time.monotonic() + 5
        while key_time._checked_ns < t_ns:               # its own check, made first
            assert time.monotonic() < deadline
            time.sleep(0.001)
        assert not release.is_set()                      # the slow job still runs
        assert key_time.answer(t_ns)[0] is True or time.monotonic_ns() - t_ns > 50_000_000
        assert key_time.answer(t_ns + 1) == (False, None)   # never reported: no wait
    finally:
        release.set()
        worker.stop()
        key_time.stop()


def test_a_window_becoming_active_is_watched_for_grabs_before_any_key():
    """The focus tracker asks, as a window becomes active: the key-time thread selects focus
    events on it at once, on its own connection - no key needed, so that the FocusOut of a
    grab that begins before the first key reaches the checker. One-off calls run on the
    worker's thread; they are not key presses (no check is made, no job runs)."""
    import threading
    import time

    from workprint.capture.linux.wakeup import KeyTimeWorker
    from workprint.capture.linux.x11_attribution import KeyTimeAttribution

    conn = FakeConn()
    conn.parents = {APP: ROOT}
    conn.focus = FakeWindow(conn, APP)
    conn.pending_events = lambda: 0
    worker = KeyTimeWorker("test-key-time")
    jobs: list = []
    worker.add(lambda keys: jobs.append(keys))
    key_time = KeyTimeAttribution(lambda: conn, active=lambda: APP, worker=worker)
    worker.start()
    try:
        on_thread: list = []
        worker.call_soon(lambda: on_thread.append(threading.current_thread().name))
        key_time.watch_active()
        deadline = time.monotonic() + 5
        while conn.sent.get(APP) != X.FocusChangeMask:         # sent, not only queued
            assert time.monotonic() < deadline, conn.sent
            time.sleep(0.001)
        assert on_thread == ["test-key-time"]
        assert conn.round_trips == 0 and jobs == []     # no check, no key job
    finally:
        worker.stop()
        key_time.stop()


@pytest.mark.x11
def test_an_override_window_that_grows_to_full_screen_after_it_was_asked(desk):
    """Real X: the size of a foreign override-redirect window is asked at the first check;
    when it grows to cover the screen later, the next check sees it (its ConfigureNotify,
    selected before the size was asked, is read by the check's round trip)."""
    from Xlib import display

    other = display.Display(desk.display)  # the other client
    win = other.screen().root.create_window(700, 400, 420, 160, 0, other.screen().root_depth,
                                            override_redirect=True)
    win.map()
    other.sync()
    app = display.Display(desk.display)  # the active window's client (unmanaged: mapped at once)
    front = app.screen().root.create_window(0, 0, 200, 100, 0, app.screen().root_depth,
                                            override_redirect=True)
    front.map()
    app.sync()
    front.set_input_focus(X.RevertToParent, X.CurrentTime)
    app.sync()
    wait_for(lambda: app.get_input_focus().focus == front, what="the window to take the focus")
    conn = display.Display(desk.display)
    att = KeyAttribution(conn, active=lambda: front.id,
                         overrides=lambda: frozenset({win.id}),
                         drain=lambda: [att.on_event(conn.next_event()) for _ in range(conn.pending_events())])
    try:
        assert att.check() is None  # a small popup: asked once
        win.configure(x=0, y=0, width=1920, height=1080)
        other.sync()
        assert att.check() == "a full-screen window of another client covers the screen"
        win.configure(width=300, height=200)
        other.sync()
        assert att.check() is None
    finally:
        for d in (other, app, conn):
            d.close()


def test_a_record_reply_without_a_repeat_reads_nothing_and_a_repeat_reads_first():
    """With keys and the pointer from XInput 2, RECORD's replies add auto-repeat presses
    only. A reply without one (RECORD's copy of a press XI2 delivered) decodes nothing and
    does not read the lookup connection (no syscall: the next key decoded reads it first);
    a repeat reads it - a keymap change, a grab's focus events - before it is decoded."""
    import struct

    from workprint.capture.linux.x11 import RecordReply
    from workprint.capture.linux.x11_xi2 import KeyState

    conn, att, backend = _decoder({})
    calls: list = []
    backend.pointer_source = "xi2"
    backend._key_state = KeyState([[] for _ in range(8)], set())
    backend._refresh_keymap = lambda: calls.append("read")
    backend._key_event = lambda t_ns, down, code, state: calls.append(("decode", code, state)) or _key(t_ns, code=code)
    backend._attributed = lambda key: [key]

    def press(code: int, server_ms: int, state: int = 0) -> bytes:
        ev = bytearray(32)
        ev[0], ev[1] = X.KeyPress, code
        struct.pack_into("=I", ev, 4, server_ms)
        struct.pack_into("=H", ev, 28, state)
        return bytes(ev)

    backend._key_state.raw(38, True, 1000)          # XI2: the key went down at 1000 ms
    assert backend.decode(RecordReply(5, press(38, 1000))) == []   # RECORD's copy of it
    assert calls == []
    out = backend.decode(RecordReply(6, press(38, 1700, state=1)))  # held: the server repeats it
    assert calls == ["read", ("decode", 38, 1)] and [k.keycode for k in out] == [38]
    calls.clear()
    out = backend.decode(RecordReply(7, press(38, 1000) + press(38, 1740) + press(38, 1780)))
    assert calls == ["read", ("decode", 38, 0), ("decode", 38, 0)] and len(out) == 2  # read once
