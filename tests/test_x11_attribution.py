"""KeyAttribution's decisions over a stand-in X connection (pure; the adversarial tests
run it against real lockers on a real X server)."""

from __future__ import annotations

from types import SimpleNamespace as NS

from Xlib import X

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
        self.focus: object = None
        self.net_active = 0
        self.round_trips = 0
        self.display = NS(info=NS(resource_id_mask=MASK))

    def screen(self):
        return NS(root=FakeWindow(self, ROOT), width_in_pixels=1920, height_in_pixels=1080)

    def create_resource_object(self, kind, wid):
        return FakeWindow(self, wid)

    def get_input_focus(self):
        self.round_trips += 1
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
    assert att.check() is None
    own = APP + 0x30                                      # the active app's own full-screen view
    conn.geometry[own] = (0, 0, 1920, 1080)
    state["overrides"] = frozenset({own})
    assert att.check() is None


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
