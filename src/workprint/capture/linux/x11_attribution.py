"""Can the keys arriving now be attributed to the active window? (X11)

Keys go to the focused window unless another client holds the keyboard. A screen locker
(i3lock, slock, xsecurelock), a polkit or pinentry dialog grabs the keyboard without any
focus change the window manager would announce, so its password would be recorded as typing
into the window that was in front. :class:`KeyAttribution` answers, for each key press, why
the keys are *not* attributable (or ``None`` when they are):

* **a keyboard grab by another client** - the X server tells the window losing the keyboard
  with ``FocusOut`` (mode ``NotifyGrab``) and gives it back with ``FocusIn``
  (``NotifyUngrab``); focus-change events are selected on every window that has been active
  - as it becomes active (the focus tracker asks) and again at each key - on the
  connection of the thread that checks;
* **the input focus outside the active window** - a client that set the focus on a window of
  its own (an override-redirect prompt), checked with ``GetInputFocus``;
* **a full-screen override-redirect window** of a client other than the active window's
  (each one's size is asked once, after selecting its ``ConfigureNotify``: the check's
  round trip reads every resize the server sent before it).

The check runs off the input threads - as each key is pressed on the key-time thread
(:class:`KeyTimeAttribution`), and on the decoding thread for a key without that answer:
one round trip per check (``GetInputFocus``), which also guarantees that every focus event
the server sent before it has been read. The recorder never grabs anything itself.
"""

from __future__ import annotations

from typing import Any, Callable

FULL_SCREEN_SHARE = 0.9  # an override-redirect window covering this much of the screen


class KeyAttribution:
    def __init__(self, conn: Any, active: Callable[[], int],
                 overrides: Callable[[], "frozenset[int] | None"] = lambda: None,
                 drain: Callable[[], None] | None = None):
        self._conn = conn
        self._active = active
        self._overrides = overrides
        self._drain = drain or (lambda: None)
        self._watched: set[int] = set()
        #: override-redirect windows' areas, kept current by their ConfigureNotify
        self._areas: dict[int, int] = {}
        self.grabbed = False  # another client holds the keyboard (FocusOut NotifyGrab seen)
        self._inside: dict[tuple[int, int], bool] = {}
        root = conn.screen().root
        self._root = root.id
        self._screen_area = conn.screen().width_in_pixels * conn.screen().height_in_pixels
        self._id_mask = conn.display.info.resource_id_mask

    # -- events -------------------------------------------------------------------------
    #: the events :meth:`on_event` wants (the drains pass these on)
    EVENTS = (9, 10, 22, 17)  # FocusIn, FocusOut, ConfigureNotify, DestroyNotify

    def on_event(self, ev: Any) -> None:
        """A FocusIn/FocusOut, ConfigureNotify or DestroyNotify read from the connection."""
        from Xlib import X

        if ev.type == X.FocusOut and ev.mode == X.NotifyGrab:
            self.grabbed = True
        elif ev.type == X.FocusIn and ev.mode == X.NotifyUngrab:
            self.grabbed = False
        elif ev.type == X.ConfigureNotify:
            if self._areas.get(ev.window.id, -1) >= 0:
                self._areas[ev.window.id] = ev.width * ev.height
        elif ev.type == X.DestroyNotify:
            self._areas.pop(ev.window.id, None)

    def _watch(self, wid: int) -> bool:
        """Select focus events on ``wid`` (queued, not sent); True when it was not yet."""
        if not wid or wid in self._watched:
            return False
        if len(self._watched) > 4096:  # windows come and go: keep the set bounded
            self._watched.clear()
        self._watched.add(wid)
        self._select(wid)
        return True

    def _watch_size(self, wid: int) -> None:
        """Select ``ConfigureNotify`` and ``DestroyNotify`` on ``wid`` (queued, not sent)."""
        self._areas[wid] = -1  # selected, size not asked yet
        self._select(wid)

    def _select(self, wid: int) -> None:
        """Select on ``wid`` every event this connection wants from it (one mask per client
        and window: each selection repeats the other)."""
        from Xlib import X, error

        mask = ((X.FocusChangeMask if wid in self._watched else 0)
                | (X.StructureNotifyMask if wid in self._areas else 0))
        try:
            self._conn.create_resource_object("window", wid).change_attributes(event_mask=mask)
        except error.XError:
            pass

    def watch_active(self) -> None:
        """Select focus events on the active window without checking (no round trip, but
        sent at once: a grab that begins before the next request on this connection must
        find it selected): a grab that starts later is seen by the next :meth:`check`."""
        if self._watch(self._active() or 0):
            try:
                self._conn.flush()
            except Exception:  # noqa: BLE001 - the next check's round trip sends it, or fails closed
                pass

    # -- the check ----------------------------------------------------------------------
    def check(self) -> str | None:
        """Why keys pressed now cannot be attributed to the active window, or None."""
        from Xlib import X, error

        active = self._active() or 0
        self._watch(active)
        try:
            focus = self._conn.get_input_focus().focus  # a round trip: earlier events are in
        except error.XError:
            return "the input focus cannot be read"
        self._drain()
        if self.grabbed:
            return "the keyboard is grabbed by another client"
        if not active:
            return None  # no window in front: out of scope anyway
        reason = self._full_screen_override(active)
        if reason:
            return reason
        if isinstance(focus, int) or focus in (X.PointerRoot, X.NONE):
            return None if focus == X.PointerRoot else "no window has the input focus"
        fid = focus.id
        if fid == self._root or self._within(fid, active):
            return None
        fresh = self._net_active()  # the focus tracker may be a moment behind the window manager
        if fresh and fresh != active and self._within(fid, fresh):
            return None
        return "the input focus is outside the active window"

    def _within(self, wid: int, top: int) -> bool:
        """Is ``wid`` the window ``top``, inside it, or one of its frame ancestors?"""
        key = (wid, top)
        hit = self._inside.get(key)
        if hit is not None:
            return hit
        if len(self._inside) > 1024:
            self._inside.clear()
        inside = wid == top or self._ancestor(top, wid) or self._ancestor(wid, top)
        self._inside[key] = inside
        return inside

    def _ancestor(self, wid: int, candidate: int) -> bool:
        from Xlib import error

        win = self._conn.create_resource_object("window", wid)
        try:
            for _ in range(64):
                parent = win.query_tree().parent
                if not parent or parent.id == self._root:
                    return False
                if parent.id == candidate:
                    return True
                win = parent
        except error.XError:
            return False
        return False

    def _net_active(self) -> int:
        from Xlib import error

        try:
            root = self._conn.screen().root
            prop = root.get_full_property(self._conn.get_atom("_NET_ACTIVE_WINDOW"), 0)
            return int(prop.value[0]) if prop is not None and len(prop.value) else 0
        except error.XError:
            return 0

    def _full_screen_override(self, active: int) -> str | None:
        from Xlib import error

        ids = self._overrides()
        if not ids:
            return None
        for wid in ids:
            if wid & ~self._id_mask == active & ~self._id_mask:
                continue  # the active window's own client (its menus, its full-screen view)
            area = self._areas.get(wid, -1)
            if area < 0:
                # a window may grow after it is mapped: its ConfigureNotify is selected
                # before its size is asked, so no resize after the answer goes unseen
                if wid not in self._areas:
                    self._watch_size(wid)
                try:
                    g = self._conn.create_resource_object("window", wid).get_geometry()
                except error.XError:
                    continue
                area = self._areas[wid] = g.width * g.height
            if area >= FULL_SCREEN_SHARE * self._screen_area:
                return "a full-screen window of another client covers the screen"
        if len(self._areas) > len(ids) + 256:  # unmapped ones: asked again if mapped again
            self._areas = {w: a for w, a in self._areas.items() if w in ids}
        return None


#: A key's attribution is taken from a check made at most this long after it was pressed;
#: a later one (the checking thread itself fell behind) is not used - the key then has only
#: the check made when it is decoded.
KEY_CHECK_FRESH_NS = 50_000_000
#: How long the decoder waits for a key's check still in flight (the key-time thread may be
#: busy with an earlier key's tty sample); after that it checks for itself, as without one.
KEY_CHECK_WAIT_NS = 5_000_000
MAX_KEY_CHECKS = 4096


class KeyTimeAttribution:
    """:meth:`KeyAttribution.check` made for each key press as it happens, on an X
    connection of its own and on the backend's key-time thread (:class:`.wakeup.KeyTimeWorker`,
    shared with the terminal's tty sample; woken by the key hook, which only enqueues).

    The decoding thread may be seconds behind the keyboard (OCR of a prompt, a busy
    machine). Checked only when a key is decoded, a locker that grabbed the keyboard, read
    its password and let go in that time would have ended its grab before the check: its
    FocusOut and FocusIn carry no time, so both are read and the keys look attributable.
    Checked here within milliseconds of each press, the grab is still on. :meth:`answer`
    gives the decoder the reason for a key (None: attributable), or says there is no fresh
    check for it - then the decoder checks for itself (a focus it cannot read: not
    attributable)."""

    def __init__(self, open_display: Callable[[], Any], active: Callable[[], int],
                 overrides: Callable[[], "frozenset[int] | None"] = lambda: None,
                 worker=None):
        import threading
        from collections import OrderedDict

        from .wakeup import KeyTimeWorker

        self._conn = open_display()
        self._attr = KeyAttribution(self._conn, active, overrides, drain=self._drain)
        self._lock = threading.Lock()
        self._checked = threading.Condition(self._lock)  # notified when a batch is checked
        self._checked_ns = 0  # the latest press checked (or whose check failed)
        self._answers: OrderedDict[int, tuple[int, str | None]] = OrderedDict()
        self._own = worker is None
        self._worker = worker if worker is not None else KeyTimeWorker("workprint-x11-attribution")
        self._worker.add(self._check, first=True)  # a grab is seen while it is still on
        if self._own:
            self._worker.start()

    def watch_active(self) -> None:
        """From any thread (the focus tracker, as a window becomes active): have this
        checker's connection select focus events on the active window now, so that a grab
        that begins before the first key typed into it is seen (its FocusOut is sent only to
        windows that select it, when the grab begins)."""
        self._worker.call_soon(self._attr.watch_active)

    def key_pressed(self, t_ns: int) -> None:
        """On the key hook thread: enqueue, return at once."""
        self._worker.key_pressed(t_ns)

    def answer(self, t_ns: int) -> tuple[bool, str | None]:
        """(found, reason) for the key pressed at ``t_ns``; found is False when no check was
        made within ``KEY_CHECK_FRESH_NS`` of it. A check still in flight (the decoder and
        this thread are woken by the same key) is waited for, until it would be too late."""
        import time

        with self._checked:
            hit = self._answers.pop(t_ns, None)
            if hit is None and self._worker.reported(t_ns):  # this check, not the other jobs
                now = time.monotonic_ns()
                timeout = min(KEY_CHECK_WAIT_NS, t_ns + KEY_CHECK_FRESH_NS - now) / 1e9
                if timeout > 0 and self._checked.wait_for(lambda: self._checked_ns >= t_ns, timeout):
                    hit = self._answers.pop(t_ns, None)
        if hit is None or hit[0] - t_ns > KEY_CHECK_FRESH_NS:
            return False, None
        return True, hit[1]

    def _drain(self) -> None:
        from Xlib import X

        while self._conn.pending_events():
            ev = self._conn.next_event()
            if ev.type in KeyAttribution.EVENTS:
                self._attr.on_event(ev)

    def _check(self, keys: list[int]) -> None:
        """On the key-time thread: one check for a batch of presses. If it raises, those
        keys have no answer and the decoder checks for itself."""
        import time

        checked_ns = time.monotonic_ns()
        try:
            reason = self._attr.check()
        except BaseException:
            with self._checked:  # no answers: the decoder, waiting, checks for itself
                self._checked_ns = max(self._checked_ns, *keys)
                self._checked.notify_all()
            raise
        with self._checked:
            for t_ns in keys:
                self._answers[t_ns] = (checked_ns, reason)
            while len(self._answers) > MAX_KEY_CHECKS:
                self._answers.popitem(last=False)
            self._checked_ns = max(self._checked_ns, *keys)
            self._checked.notify_all()

    def stop(self) -> None:
        """Stops checking (the worker's thread, when it is this one's own, ends first; a
        shared one is stopped by its owner before this)."""
        self._worker.remove(self._check)
        if self._own:
            self._worker.stop()
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - the server may be gone
            pass
