"""X11 capture backend: XInput 2 for input (pointer: raw events + slave-device motion; keys:
raw key events), X RECORD for key auto-repeats and as the fall-back, EWMH + X-Resource for
focus, mss for pixels.

Threads and connections (X connections are not shared between threads); every input thread
only enqueues what it reads and returns, decoding happens later on the recorder's thread:

* ``pointer`` thread (``workprint-x11-pointer``, :mod:`.x11_xi2_pointer`) - every motion,
  button and scroll with its exact root position, on its own connection; RECORD loses
  pointer events under load (the server drops its replies once its socket backs up).
  Blocks in ``select()`` on the connection and a stop pipe, without a timeout while idle.
  Without XInput 2 (or with ``WORKPRINT_X11_POINTER=record``) the pointer comes from
  RECORD; if the XI2 stream is lost mid-session, the running RECORD context is widened to
  buttons and motion again and the pointer comes from it (an ``input_source`` marker says
  so). ``screen_info().extra["pointer"]`` says which source a session started with.
* ``keys`` thread (``workprint-x11-keys``) - XI2 raw key events on its own connection
  (RECORD drops key events under load, see :mod:`.x11_xi2`); RECORD then contributes only
  auto-repeat presses. Without XInput 2 (or with ``WORKPRINT_X11_KEYS=record``) keys come
  from RECORD, and if the XI2 stream is lost mid-session they fall back to RECORD (an
  ``input_source`` marker says so).
* ``record`` thread (``workprint-x11-record``) - blocks in ``record_enable_context`` on its
  own connection; the callback only appends ``(monotonic_ns, bytes)`` to the sink. While
  XI2 has the pointer, the context records only ``KeyPress..KeyRelease``, so the server
  sends it no pointer events at all; while XI2 has the keys too, only ``KeyPress`` (the
  auto-repeats), and a lost XI2 stream widens the range again before decoding switches
  over. Stopping disables the context from a *separate*
  connection, so it takes effect at once, input or not. A lost RECORD or focus stream ends
  the session (:class:`CaptureLost`).
* ``focus`` thread - its own connection, PropertyNotify on the root window for
  ``_NET_ACTIVE_WINDOW`` and on the active window for its title; ``select()`` on the
  connection and a wake-up pipe so stopping is instant. Without a window manager it
  falls back to polling the input focus.
* decoding (keysyms, pointer samples into ``MoveEvent``/``ButtonEvent``/``ScrollEvent``)
  happens on the caller's thread with a lookup connection; the recorder coalesces moves.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import select
import struct
import threading
import time
from typing import Any, Callable

import numpy as np

from ...errors import NoDisplayError
from ...events import (KEYS_ATTRIBUTED, KEYS_UNATTRIBUTED, ButtonEvent, FocusEvent, Geometry, KeyEvent,
                       MarkerEvent, MoveEvent, RawEvent,
                       ScrollEvent)
from ..backend import Backend, CaptureLost, FocusSink, InputRecord, Monitor, RawSink, ScreenInfo, WindowInfo
from .x11_keys import (GROUP_KEYSYMS, Composer, ModifierRoles, group_count, is_modifier, keysym_for, keysym_name,
                       keysym_to_char, modifier_names, next_group)
from .wakeup import KeyTimeWorker, StopSignal
from .x11_attribution import KeyAttribution, KeyTimeAttribution
from .x11_xi2 import LOCK_KEYSYMS, KeyState, RawKey, RawKeyListener, xi2_available
from .x11_xi2_pointer import XI2PointerListener, tell_pointer, to_events

_BUTTONS = {1: "left", 2: "middle", 3: "right", 8: "x1", 9: "x2"}
_SCROLL = {4: (0, 1), 5: (0, -1), 6: (-1, 0), 7: (1, 0)}
_NO_WINDOW_DEBOUNCE_S = 0.25
URL_RETRY_S = (0.1, 0.3, 0.7, 1.5, 3.0)  # browser URL not known yet: ask again


# What the input threads hand the recorder (decoded by X11Backend.decode); besides these,
# the key listener hands x11_xi2.RawKey.
@dataclasses.dataclass(frozen=True, slots=True)
class RecordReply(InputRecord):
    """The core events of one X RECORD reply: keys (auto-repeats, or all keys without
    XInput 2), and buttons and motion while RECORD has the pointer."""

    t_ns: int
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class PointerSamples(InputRecord):
    """A batch of XInput 2 pointer samples (see :mod:`.x11_xi2_pointer`), in server order."""

    samples: list


@dataclasses.dataclass(frozen=True, slots=True)
class SourceLost(InputRecord):
    """An XInput 2 stream stopped (``stream``: "pointer" or "keys"); RECORD takes over."""

    t_ns: int
    stream: str
    reason: str
    what: str = "XInput 2 stream lost"


def _record_range(last_device_event: int) -> dict[str, Any]:
    """The RECORD context's protocol range: core device events ``KeyPress`` (2) up to
    ``last_device_event`` (``KeyRelease`` 3: keys only; ``MotionNotify`` 6: keys, buttons,
    motion), nothing else."""
    from Xlib import X

    return {"core_requests": (0, 0), "core_replies": (0, 0),
            "ext_requests": (0, 0, 0, 0), "ext_replies": (0, 0, 0, 0),
            "delivered_events": (0, 0), "device_events": (X.KeyPress, last_device_event),
            "errors": (0, 0), "client_started": False, "client_died": False}


def _open_display(name: str | None = None):
    from Xlib import display, error

    name = name or os.environ.get("DISPLAY")
    if not name:
        hint = (" A Wayland session was detected: run workprint inside an X11 session "
                "(XWayland does not expose other apps' input)." if os.environ.get("WAYLAND_DISPLAY") else "")
        raise NoDisplayError(
            "No X display: $DISPLAY is not set." + hint + " Run workprint from a desktop "
            "session, or start a virtual one: `Xvfb :1 -screen 0 1920x1080x24 & openbox & "
            "export DISPLAY=:1` (Debian: apt-get install xvfb openbox).")
    try:
        return display.Display(name)
    except (error.DisplayError, error.DisplayNameError, ConnectionError, OSError) as exc:
        raise NoDisplayError(
            f"Cannot connect to X display {name!r}: {exc}. Check that the X server is running and "
            f"that you may connect to it (xhost/xauth), or start a virtual display with Xvfb.") from exc


class X11Backend(Backend):
    name = "x11"
    locates_windows = True

    def __init__(self, display_name: str | None = None):
        self.display_name = display_name or os.environ.get("DISPLAY")
        self._lookup = _open_display(self.display_name)
        from Xlib.ext import record

        if not self._lookup.has_extension("RECORD"):
            raise NoDisplayError(
                f"The X server on {self.display_name} lacks the RECORD extension, which workprint "
                f"needs to observe input. Enable it (Xorg: Load \"record\" in the Module section).")
        self._record_mod = record
        self._keymap_cache: dict[int, list[int]] = {}
        self._roles: ModifierRoles | None = None  # from the modifier map, on first key
        self._groups = 1
        self._composer = Composer()
        self._press_chars: dict[int, str | None] = {}  # keycode -> char of its last press
        self._last_key_ns = 0
        self._attribution: KeyAttribution | None = None
        self._key_time: KeyTimeAttribution | None = None
        #: the thread of the checks made as each key is pressed (attribution here, the
        #: terminal's tty sample where the secure-input probe joins it): one wake-up a key
        self.key_time_worker = KeyTimeWorker("workprint-x11-key-time")
        self._unattributed: str | None = None  # why keys cannot be attributed now
        self._unattributed_codes: set[int] = set()  # pressed while unattributed, not released
        self._last_attribution_ns = 0
        self._record_conn = None
        self._record_ctx = None
        self._record_last = 0  # the last core device event type RECORD records
        self._record_lock = threading.Lock()
        self._record_thread: threading.Thread | None = None
        self._keys = None  # XI2 raw key listener (None: keys come from RECORD)
        self._pointer: XI2PointerListener | None = None  # None: the pointer comes from RECORD
        self._input_stopping = False
        self._indicator = None
        self.key_source = ("xi2" if os.environ.get("WORKPRINT_X11_KEYS", "xi2") != "record"
                           and xi2_available(self._lookup) else "record")
        self._key_state = None
        self.pointer_source = ("xi2" if os.environ.get("WORKPRINT_X11_POINTER", "xi2") != "record"
                               and xi2_available(self._lookup) else "record")
        self._focus: _FocusTracker | None = None
        self._grabber = None
        self._grab_thread: int | None = None
        self._local = threading.local()
        self._thread_conns: list = []
        self._stack_lock = threading.Lock()
        self._stack_cache: tuple[int, list[WindowInfo]] | None = None

    # -- screen ---------------------------------------------------------------------------
    def screen_info(self) -> ScreenInfo:
        import mss

        root = self._lookup.screen().root
        geo = root.get_geometry()
        with mss.MSS(display=self.display_name) as sct:
            monitors = tuple(Monitor(m["left"], m["top"], m["width"], m["height"], f"monitor-{i}")
                             for i, m in enumerate(sct.monitors[1:], 1))
        scale = 1.0
        try:
            resources = self._lookup.screen().root.get_full_property(
                self._lookup.get_atom("RESOURCE_MANAGER"), 0)
            for line in (resources.value.decode(errors="replace").splitlines() if resources else []):
                if line.startswith("Xft.dpi:"):
                    scale = round(float(line.split(":", 1)[1]) / 96.0, 3)
        except Exception:  # noqa: BLE001 - a missing/odd resource string means scale 1
            scale = 1.0
        return ScreenInfo(geo.width, geo.height, scale, monitors or (Monitor(0, 0, geo.width, geo.height),),
                          extra={"backend": "x11", "display": self.display_name,
                                 "keys": self.key_source, "pointer": self.pointer_source})

    grab_keeps_unchanged = True  # ScreenGrabber compares each grab with the one before

    def grab(self) -> np.ndarray:
        from .x11_grab import ScreenGrabber

        # mss keeps per-thread X resources: create it on the thread that grabs.
        if self._grabber is None or self._grab_thread != threading.get_ident():
            self._grabber = ScreenGrabber(self.display_name)
            self._grab_thread = threading.get_ident()
        return self._grabber.grab()

    def lend_screen(self, shape: tuple[int, int]) -> np.ndarray | None:
        grabber = self._grabber  # (made on the frames thread; called from the OCR thread)
        return grabber.buffers.lend(shape) if grabber is not None else None

    # -- input ----------------------------------------------------------------------------
    def start_input(self, sink: RawSink) -> None:
        from Xlib import X

        self._input_stopping = False
        tracker = lambda: self._focus  # noqa: E731 - started before input, replaced on restart
        overrides = lambda: self._foreign_overrides(tracker())  # noqa: E731
        self._attribution = KeyAttribution(
            self._lookup, active=lambda: tracker().active_window if tracker() else 0,
            overrides=overrides, drain=self._refresh_keymap)
        self._key_time = KeyTimeAttribution(
            lambda: _open_display(self.display_name),
            active=lambda: tracker().active_window if tracker() else 0,
            overrides=overrides, worker=self.key_time_worker)
        self.key_time_worker.start()
        self._key_time.watch_active()  # the window already in front (start_focus came first)
        observers = [self.key_time_worker.key_pressed] + ([self.key_observer] if self.key_observer else [])
        key_observer = observers[0] if len(observers) == 1 else (lambda t_ns: [o(t_ns) for o in observers])
        if self.pointer_source == "xi2":
            def pointer_lost(reason: str) -> None:  # listener thread, mid-session
                sink(SourceLost(time.monotonic_ns(), "pointer", reason))
                self._widen_record(sink, X.MotionNotify, "X pointer input", reason)

            pointer_observer = self.pointer_observer

            def pointer_sink(samples: list) -> None:  # the pointer hook thread: enqueue, then tell
                sink(PointerSamples(samples))
                if pointer_observer is not None:
                    tell_pointer(pointer_observer, samples)

            try:
                self._pointer = XI2PointerListener(lambda: _open_display(self.display_name),
                                                   pointer_sink, pointer_lost, batches=True)
            except Exception as exc:  # noqa: BLE001 - RECORD has the pointer then, and says so
                self.pointer_source = "record"
                sink(SourceLost(time.monotonic_ns(), "pointer", f"{type(exc).__name__}: {exc}"[:200],
                                "XInput 2 pointer unavailable"))
        record = self._record_mod
        conn = _open_display(self.display_name)
        # with the pointer from XI2, RECORD sends only keys: pointer events would cost CPU
        # here and crowd RECORD's socket, whose backlog is where the server drops events;
        # with the keys from XI2 too, only key presses (auto-repeats are presses)
        last = (X.MotionNotify if self._pointer is None
                else X.KeyPress if self.key_source == "xi2" else X.KeyRelease)
        self._record_last = last
        ctx = conn.record_create_context(0, [record.AllClients], [_record_range(last)])
        from_server = record.FromServer
        now = time.monotonic_ns
        observer = key_observer if self.key_source != "xi2" else None

        enabled = self._record_enabled = threading.Event()
        start_of_data = record.StartOfData

        def callback(reply: Any) -> None:  # hook thread: enqueue and return
            if reply.category == from_server and not reply.client_swapped and reply.data:
                t_ns = now()
                if observer is not None and reply.data[0] & 0x7F == X.KeyPress:
                    observer(t_ns)
                sink(RecordReply(t_ns, bytes(reply.data)))
            elif reply.category == start_of_data:
                enabled.set()

        def run() -> None:
            reason = "the X server ended the RECORD context"
            try:
                conn.record_enable_context(ctx, callback)
            except Exception as exc:  # noqa: BLE001 - reported below unless stopping
                reason = f"{type(exc).__name__}: {exc}"[:200]
            finally:
                enabled.set()  # ended without data: nobody waits for it
                try:
                    conn.record_free_context(ctx)
                    conn.close()
                except Exception:  # noqa: BLE001 - the server may be gone at shutdown
                    pass
            if not self._input_stopping:
                sink(CaptureLost("X RECORD input", reason))

        if self.key_source == "xi2":
            modmap, locks = self._modmap()
            mask = self._lookup.screen().root.query_pointer().mask
            self._key_state = KeyState(modmap, locks, mask)

            def keys_lost(reason: str) -> None:  # listener thread: enqueue, decode switches
                # RECORD sends releases too from here on, before the switch is queued: the
                # RECORD items decoded after it hold every press and release
                if self._widen_record(sink, X.KeyRelease, "X key input", reason):
                    sink(SourceLost(time.monotonic_ns(), "keys", reason))

            def key_sink(rec: RawKey) -> None:  # the key hook thread: tell, then enqueue
                if rec.down:  # (told first: the decoder may wait for the check it starts)
                    key_observer(rec.t_ns)
                sink(rec)
            self._keys = RawKeyListener(lambda: _open_display(self.display_name), key_sink, keys_lost)
            self._keys.start()
        self._record_conn, self._record_ctx = conn, ctx
        self._record_thread = threading.Thread(target=run, name="workprint-x11-record", daemon=True)
        self._record_thread.start()
        if self._pointer is not None:
            self._pointer.start()

    def _foreign_overrides(self, tracker) -> "frozenset[int] | None":
        """The override-redirect windows a full-screen one among which would take the keys
        (:mod:`.x11_attribution`): all of them but this recorder's own indicator, which
        selects no input, has an empty input shape and is never focused - so the key
        checks do not ask its geometry at every key."""
        ids = tracker.override_windows if tracker is not None else None
        indicator = self._indicator
        if ids and indicator is not None and indicator.window_id in ids:
            return ids - {indicator.window_id}
        return ids

    def _widen_record(self, sink: RawSink, last: int, stream: str, reason: str) -> bool:
        """An XI2 stream was lost: have the running RECORD context record core device events
        up to ``last`` (``KeyRelease``: keys, ``MotionNotify``: the pointer too) from now on;
        re-registering its clients with the wider range takes effect at once. Its new items
        reach the queue after the caller's :class:`SourceLost` item where the caller queues
        that first (the pointer), which switches decoding over. If RECORD cannot take over,
        the session ends (False)."""
        if self._input_stopping:
            return False
        with self._record_lock:
            if self._record_last >= last:
                return True
            try:
                d = _open_display(self.display_name)
                try:
                    d.record_register_clients(self._record_ctx, 0, [self._record_mod.AllClients],
                                              [_record_range(last)])
                    d.sync()
                finally:
                    d.close()
                self._record_last = last
                return True
            except Exception as exc:  # noqa: BLE001 - no source left for that input
                if not self._input_stopping:
                    sink(CaptureLost(stream, f"XInput 2 stream lost ({reason}); RECORD could "
                                     f"not take over: {type(exc).__name__}: {exc}"[:300]))
                return False

    def _modmap(self) -> tuple[list[list[int]], set[int]]:
        modmap = [list(codes) for codes in self._lookup.get_modifier_mapping()]
        locks = {c for codes in modmap for c in codes
                 if c and LOCK_KEYSYMS.intersection(self._keysyms(c)[:1])}
        return modmap, locks

    def stop_input(self) -> None:
        self._input_stopping = True
        self.key_time_worker.stop()
        if self._key_time is not None:
            self._key_time.stop()
        if self._pointer is not None:  # its last samples are enqueued before it returns
            self._pointer.stop()
            self._pointer = None
        if self._keys is not None:
            self._keys.stop()
            self._keys = None
        if self._record_thread is None:
            return
        try:
            stopper = _open_display(self.display_name)
            stopper.record_disable_context(self._record_ctx)
            stopper.sync()
            stopper.close()
        except Exception:  # noqa: BLE001 - X server already gone: the thread ends by itself
            pass
        self._record_thread.join(timeout=2)
        self._record_thread = None

    def _keysyms(self, keycode: int) -> list[int]:
        syms = self._keymap_cache.get(keycode)
        if syms is None:
            syms = list(self._lookup.get_keyboard_mapping(keycode, 1)[0])
            self._keymap_cache[keycode] = syms
        return syms

    def _keyboard(self) -> ModifierRoles:
        """Modifier roles and the number of groups, read again after a MappingNotify."""
        if self._roles is None:
            first = self._lookup.display.info.min_keycode
            count = self._lookup.display.info.max_keycode - first + 1
            for i, syms in enumerate(self._lookup.get_keyboard_mapping(first, count)):
                self._keymap_cache[first + i] = list(syms)
            self._groups = group_count(self._keymap_cache.values())
            modmap = [list(codes) for codes in self._lookup.get_modifier_mapping()]
            self._roles = ModifierRoles.from_modmap(modmap, self._keysyms)
        return self._roles

    def _key_event(self, t_ns: int, down: bool, keycode: int, state: int) -> KeyEvent:
        """A key as the focused application receives it: level, group, Num Lock and
        compose sequences applied (see :mod:`.x11_keys`). XI2 and RECORD keys both end
        here, so both decode the same."""
        roles = self._keyboard()
        syms = self._keysyms(keycode)
        keysym = keysym_for(syms, state, roles)
        char = keysym_to_char(keysym)
        if not down:
            char = self._press_chars.pop(keycode, char)  # a release types what its press did
        elif not is_modifier(keysym):
            if state & 0x0C:  # Control or Alt: a shortcut, not text for an input method
                self._composer.reset()
            else:
                char = self._composer.feed(keysym, char)
            self._press_chars[keycode] = char
            if self._key_state is not None and keysym in GROUP_KEYSYMS:
                self._key_state.set_group(next_group(self._key_state.group, keysym, self._groups))
        return KeyEvent(t_ns, down, keycode, keysym, keysym_name(keysym), char,
                        modifier_names(state))

    def _resync_group(self, t_ns: int) -> None:
        """Raw key events carry no group: after a pause in typing, ask the server (a
        layout switch by another client - a tray applet, setxkbmap - is seen here)."""
        if self._key_state is None or self._key_state.held or t_ns - self._last_key_ns < 500_000_000:
            return
        try:
            self._key_state.set_group(self._lookup.screen().root.query_pointer().mask >> 13)
        except Exception:  # noqa: BLE001 - keep the tracked group
            pass

    def _attributed(self, key: KeyEvent) -> list[RawEvent]:
        """``key``, preceded by a marker when whether keys can be attributed to the active
        window changed (see :mod:`.x11_attribution`); the release of a key pressed while
        they could not is dropped."""
        out: list[RawEvent] = []
        if key.down:
            # as the key was pressed, where that check was made in time (within
            # KEY_CHECK_FRESH_NS, x11_attribution.KeyTimeAttribution): the key went where
            # the server delivered it then, and a check now could only add a grab or a focus
            # change that began after it. Without such an answer, checked now (fail closed:
            # a focus that cannot be read is unattributable).
            found, reason = (self._key_time.answer(key.t_ns) if self._key_time is not None
                             else (False, None))
            if self._attribution is not None:
                if found:
                    self._attribution.watch_active()  # grabs stay seen for the pointer's re-checks
                else:
                    reason = self._attribution.check()
            self._last_attribution_ns = key.t_ns
            if reason != self._unattributed:
                out.append(MarkerEvent(key.t_ns, KEYS_UNATTRIBUTED if reason else KEYS_ATTRIBUTED,
                                       reason or ""))
                self._unattributed = reason
                self._composer.reset()
            if reason:
                self._unattributed_codes.add(key.keycode)
        elif key.keycode in self._unattributed_codes:
            self._unattributed_codes.discard(key.keycode)
            return out
        out.append(key)
        return out

    def _recheck_attribution(self, t_ns: int) -> list[RawEvent]:
        """While keys are unattributable, pointer input asks again (<= 10 times a second),
        so recording resumes when the grab ends even before the next key."""
        if self._unattributed is None or self._attribution is None or t_ns - self._last_attribution_ns < 100_000_000:
            return []
        self._last_attribution_ns = t_ns
        self._refresh_keymap()
        reason = self._attribution.check()
        if reason == self._unattributed:
            return []
        self._unattributed = reason
        return [MarkerEvent(t_ns, KEYS_UNATTRIBUTED if reason else KEYS_ATTRIBUTED, reason or "")]

    def _record_repeats(self, raw: RecordReply) -> list[RawEvent]:
        """Keys come from XI2 and the pointer too: RECORD adds auto-repeat presses only.
        A core key event is 32 bytes: type, keycode, sequence, time (4), ..., state (at 28),
        in the connection's byte order - read the fields, not the whole event. The lookup
        connection's events (a keymap change, the attribution's focus events) are read
        before a repeat is decoded, as before any key: a reply without one (nearly all of
        them: RECORD's copy of a press XI2 delivered) decodes nothing and reads nothing -
        the next key decoded reads them first."""
        from Xlib import X

        t_ns, data = raw.t_ns, raw.data
        out: list[RawEvent] = []
        refreshed = False
        for off in range(0, len(data) - 31, 32):
            if data[off] & 0x7F != X.KeyPress:
                continue
            code = data[off + 1]
            server_ms, = struct.unpack_from("=I", data, off + 4)
            if self._key_state.is_repeat(code, server_ms):
                if not refreshed:
                    self._refresh_keymap()
                    refreshed = True
                state, = struct.unpack_from("=H", data, off + 28)
                out += self._attributed(self._key_event(t_ns, True, code, state))
        return out

    def _refresh_keymap(self) -> None:
        from Xlib import X

        while self._lookup.pending_events():
            ev = self._lookup.next_event()
            if ev.type in KeyAttribution.EVENTS:
                if self._attribution is not None:
                    self._attribution.on_event(ev)
            elif ev.type == X.MappingNotify:
                self._keymap_cache.clear()
                self._roles = None
                if self._key_state is not None:
                    self._key_state.set_modmap(*self._modmap())

    def decode(self, raw: InputRecord) -> list[RawEvent]:
        if self._attribution is not None:
            self._attribution.watch_active()  # a window new in front: see its grabs from now on
        if isinstance(raw, PointerSamples):  # in server order
            events = [ev for sample in raw.samples for ev in to_events(sample)]
            if self._unattributed is not None and events:
                events = self._recheck_attribution(events[0].t_ns) + events
            return events
        if isinstance(raw, SourceLost) and raw.stream == "pointer":  # RECORD has the pointer now
            logging.getLogger(__name__).warning("%s (%s); the pointer now comes from X RECORD",
                                                raw.what, raw.reason)
            self.pointer_source = "record"
            return [MarkerEvent(raw.t_ns, "input_source", f"pointer: record ({raw.what})")]
        from Xlib import X
        from Xlib.protocol import rq

        pointer = self.pointer_source == "record"  # else XI2 has it: RECORD's copy is dropped
        if isinstance(raw, RecordReply) and self._key_state is not None and not pointer:
            return self._record_repeats(raw)
        self._refresh_keymap()
        if isinstance(raw, RawKey):  # a raw key event (see x11_xi2)
            t_ns, code, down = raw.t_ns, raw.keycode, raw.down
            if self._key_state is None:
                return []  # a straggler after the fall-back to RECORD, which has it too
            if down:
                self._resync_group(t_ns)
                self._last_key_ns = t_ns
            state = self._key_state.raw(code, down, raw.server_ms)
            return [] if state is None else self._attributed(self._key_event(t_ns, down, code, state))
        if isinstance(raw, SourceLost):  # the XI2 key stream stopped: RECORD keys from here on
            logging.getLogger(__name__).warning("XInput 2 key events stopped (%s); keys now come "
                                                "from X RECORD", raw.reason)
            self._key_state, self.key_source = None, "record"
            return [MarkerEvent(raw.t_ns, "input_source", "keys: record (XInput 2 stream lost)")]
        if not isinstance(raw, RecordReply):
            raise TypeError(f"X11Backend cannot decode {type(raw).__name__}")
        t_ns, data = raw.t_ns, raw.data
        out: list[RawEvent] = []
        field = rq.EventField(None)
        while len(data) >= 32:
            ev, data = field.parse_binary_value(data, self._lookup.display, None, None)
            etype = ev.type & 0x7F
            if etype in (X.KeyPress, X.KeyRelease):
                if self._key_state is not None:  # keys come from XI2: RECORD adds repeats only
                    if etype == X.KeyPress and self._key_state.is_repeat(ev.detail, ev.time):
                        out += self._attributed(self._key_event(t_ns, True, ev.detail, ev.state))
                    continue
                out += self._attributed(self._key_event(t_ns, etype == X.KeyPress, ev.detail, ev.state))
            elif not pointer:
                continue
            elif etype in (X.ButtonPress, X.ButtonRelease):
                if ev.detail in _SCROLL:
                    if etype == X.ButtonPress:
                        dx, dy = _SCROLL[ev.detail]
                        out.append(ScrollEvent(t_ns, ev.root_x, ev.root_y, dx, dy))
                else:
                    button = _BUTTONS.get(ev.detail, f"button{ev.detail}")
                    out.append(ButtonEvent(t_ns, etype == X.ButtonPress, ev.root_x, ev.root_y, button))
            elif etype == X.MotionNotify:
                out.append(MoveEvent(t_ns, ev.root_x, ev.root_y))
        return out

    # -- focus ----------------------------------------------------------------------------
    def start_focus(self, sink: FocusSink) -> None:
        def on_focus(ev: FocusEvent) -> None:
            # a grab that begins before the first key typed into this window is only
            # announced to connections already selecting its focus events
            key_time = self._key_time
            if key_time is not None:
                key_time.watch_active()
            sink(ev)

        self._focus = _FocusTracker(self.display_name, on_focus, getattr(self, "_url_lookup", None),
                                    getattr(self, "_url_applies", None))
        self._focus.start()

    def wait_ready(self, timeout: float) -> bool:
        """The window in front is known and RECORD has started its data (XInput 2 keys and
        pointer select their events before :meth:`start_input` returns)."""
        deadline = time.monotonic() + timeout
        waits = [getattr(self._focus, "ready", None), getattr(self, "_record_enabled", None)]
        return all(ev.wait(max(0.0, deadline - time.monotonic())) for ev in waits if ev is not None)

    def stop_focus(self) -> None:
        if self._focus:
            self._focus.stop()
            self._focus = None

    def observes_pointer(self) -> bool:
        """The XInput 2 listener tells ``pointer_observer`` (until its stream is lost and
        RECORD has the pointer: decoding switches ``pointer_source`` in order)."""
        return self.pointer_observer is not None and self.pointer_source == "xi2"

    def window_generation(self) -> int:
        return self._focus.generation if self._focus is not None else 0

    def current_focus(self) -> FocusEvent | None:
        tracker = self._focus
        return tracker.current if tracker is not None else None

    def screen_locked(self) -> bool:
        """MIT-SCREEN-SAVER says the saver is on (lockers such as xscreensaver,
        light-locker and xss-lock-driven ones activate it). Called on the processor thread,
        which owns the lookup connection."""
        try:
            info = self._lookup.screen().root.screensaver_query_info()
            return info.state == 1  # ScreenSaverOn
        except Exception:  # noqa: BLE001 - extension missing: not known to be locked
            return False

    def visible_windows(self) -> list[WindowInfo]:
        """Asked afresh at most once per window layout generation (the frame safeguard and
        the pointer's scope share the answer): while nothing is mapped, moved or restacked,
        no round trip to the X server."""
        for _ in range(3):
            gen = self.window_generation()
            with self._stack_lock:
                cached = self._stack_cache
            if cached is not None and cached[0] == gen and self._focus is not None:
                return cached[1]
            # X connections are not thread-safe: the caller's thread gets its own
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = _open_display(self.display_name)
                self._thread_conns.append(conn)
            tracked = self._focus.override_windows if self._focus is not None else None
            windows = _visible_windows(conn, tracked)
            if self.window_generation() == gen:  # nothing moved while we asked
                with self._stack_lock:
                    self._stack_cache = (gen, windows)
                return windows
        return windows  # the layout keeps changing: the latest answer (not cached)

    def window_pid(self, window: int) -> int | None:
        """_NET_WM_PID or the X-Resource client pid; cached per window generation."""
        gen = self.window_generation()
        cache = getattr(self._local, "pids", None)
        if cache is None or cache[0] != gen:
            cache = self._local.pids = (gen, {})
        if window in cache[1]:
            return cache[1][window]
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _open_display(self.display_name)
            self._thread_conns.append(conn)
        try:
            pid = _pid(conn, conn.create_resource_object("window", window))
        except Exception:  # noqa: BLE001 - window gone
            pid = None
        cache[1][window] = pid
        return pid

    def window_stack(self) -> list[WindowInfo] | None:
        try:
            return self.visible_windows()
        except Exception:  # noqa: BLE001 - X error or vanished windows: cannot tell
            return None

    def show_indicator(self, text: str | None) -> None:
        if self._indicator is None:
            if text is None:
                return
            from .x11_indicator import X11Indicator

            self._indicator = X11Indicator(lambda: _open_display(self.display_name))
        self._indicator.show(text)
        self._indicator.tick()

    def close(self) -> None:
        self.stop_input()
        self.stop_focus()
        if self._indicator is not None:
            self._indicator.close()
            self._indicator = None
        for conn in [self._lookup, *self._thread_conns]:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
        self._thread_conns.clear()


# --- window inspection (shared by the focus tracker and the safeguards) --------------------
def _prop(d, win, name: str):
    atom = d.get_atom(name)  # cached; intern_atom would cost a round trip every time
    p = win.get_full_property(atom, 0)
    return p.value if p is not None else None


def _title(d, win) -> str:
    value = _prop(d, win, "_NET_WM_NAME")
    if value is None:
        value = _prop(d, win, "WM_NAME")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value or "")


def _pid(d, win) -> int | None:
    value = _prop(d, win, "_NET_WM_PID")
    if value is not None and len(value):
        return int(value[0])
    try:
        from Xlib.ext import res

        reply = d.res_query_client_ids([{"client": win.id, "mask": res.LocalClientPIDMask}])
        for cid in reply.ids:
            if cid.value:
                return int(cid.value[0])
    except Exception:  # noqa: BLE001 - extension missing or window gone
        return None
    return None


def _process_name(pid: int | None) -> str:
    if not pid:
        return ""
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def _geometry(d, win) -> Geometry | None:
    try:
        g = win.get_geometry()
        pos = win.translate_coords(d.screen().root, 0, 0)
        return Geometry(-pos.x, -pos.y, g.width, g.height)
    except Exception:  # noqa: BLE001 - window vanished
        return None


def describe_window(d, win_id: int, t_ns: int | None = None) -> FocusEvent:
    """Everything workprint records about a window (title, app id, pid, geometry)."""
    t_ns = t_ns or time.monotonic_ns()
    if not win_id:
        return FocusEvent(t_ns, 0)
    win = d.create_resource_object("window", win_id)
    wm_class = win.get_wm_class() or ("", "")
    pid = _pid(d, win)
    return FocusEvent(t_ns, win_id, _title(d, win), wm_class[1] or "", wm_class[0] or "",
                      pid, _process_name(pid), _geometry(d, win))


def _frame_geometry(d, win, inner: Geometry | None) -> Geometry | None:
    """The whole window as it shows on screen: the window manager's frame (the ancestor
    that is a child of the root: title bar, borders), united with ``_NET_FRAME_EXTENTS``
    around the client. None when the window is not decorated."""
    from Xlib import error

    if inner is None:
        return None
    rects = []
    try:
        root = d.screen().root
        w, top = win, None
        for _ in range(8):  # client -> (wrappers) -> frame -> root
            parent = w.query_tree().parent
            if not parent or parent == root or parent.id == root.id:
                break
            top = w = parent
        if top is not None:
            g = top.get_geometry()
            b = g.border_width
            rects.append((g.x, g.y, g.width + 2 * b, g.height + 2 * b))
    except error.XError:
        pass
    ext = _prop(d, win, "_NET_FRAME_EXTENTS")
    if ext is not None and len(ext) == 4:
        left, right, top_, bottom = (int(v) for v in ext)
        rects.append((inner.x - left, inner.y - top_, inner.width + left + right,
                      inner.height + top_ + bottom))
    if not rects:
        return None
    x0 = min(r[0] for r in rects + [(inner.x, inner.y, inner.width, inner.height)])
    y0 = min(r[1] for r in rects + [(inner.x, inner.y, inner.width, inner.height)])
    x1 = max(r[0] + r[2] for r in rects + [(inner.x, inner.y, inner.width, inner.height)])
    y1 = max(r[1] + r[3] for r in rects + [(inner.x, inner.y, inner.width, inner.height)])
    outer = Geometry(x0, y0, x1 - x0, y1 - y0)
    return None if outer == inner else outer


def _visible_windows(d, override_ids: "frozenset[int] | None" = None) -> list[WindowInfo]:
    from Xlib import error

    root = d.screen().root
    stack = _prop(d, root, "_NET_CLIENT_LIST_STACKING")
    if stack is None:  # no EWMH window manager: the root's own children, bottom first
        stack = _unmanaged_clients(d, root)
    out = []
    for wid in (stack or []):
        try:
            win = d.create_resource_object("window", int(wid))
            attrs = win.get_attributes()
            if attrs.map_state != 2:  # IsViewable
                continue
            wm_class = win.get_wm_class() or ("", "")  # not cached: window ids get reused
            geometry = _geometry(d, win)
            out.append(WindowInfo(int(wid), wm_class[1] or "", wm_class[0] or "", _title(d, win),
                                  geometry, _frame_geometry(d, win, geometry)))
        except error.XError:
            continue
    return out + _override_redirect_windows(d, out, override_ids)


def _unmanaged_clients(d, root) -> list[int]:
    """Without a window manager: the viewable children of the root that are not
    override-redirect (those are listed separately), bottom first."""
    from Xlib import error

    out = []
    try:
        children = root.query_tree().children
    except error.XError:
        return out
    for win in children:
        try:
            attrs = win.get_attributes()
            if attrs.map_state == 2 and not attrs.override_redirect:
                out.append(win.id)
        except error.XError:
            continue
    return out


def _override_redirect_windows(d, managed: list[WindowInfo],
                               ids: "frozenset[int] | None" = None) -> list[WindowInfo]:
    """Mapped override-redirect windows (menus, tooltips, popups, notifications): the
    window manager does not list them, yet they show content. Each is attributed to the
    app of a managed window created by the same X client (same resource-id base);
    otherwise to its own WM_CLASS; otherwise to no app at all - which no policy allows,
    so an unattributable popup is blacked out (fail closed). Top-most last."""
    from Xlib import error

    mask = d.display.info.resource_id_mask
    owners = {w.window & ~mask: w for w in managed}
    out = []
    if ids is not None:  # mapped ones, as the focus tracker saw them (no tree walk)
        children = [d.create_resource_object("window", wid) for wid in sorted(ids)]
    else:
        try:
            children = d.screen().root.query_tree().children  # bottom first
        except error.XError:
            return out
    for win in children:
        try:
            attrs = win.get_attributes()
            if not attrs.override_redirect or attrs.map_state != 2:
                continue
            geometry = _geometry(d, win)
            owner = owners.get(win.id & ~mask)
            if owner is not None:
                out.append(WindowInfo(win.id, owner.app_id, owner.app_instance, owner.title, geometry))
                continue
            wm_class = win.get_wm_class() or ("", "")
            out.append(WindowInfo(win.id, wm_class[1] or "", wm_class[0] or "", _title(d, win), geometry))
        except error.XError:
            continue
    return out


class _FocusTracker:
    """Follows the active window and its title; emits debounced FocusEvents."""

    def __init__(self, display_name: str | None, sink: FocusSink,
                 url_lookup: Callable[[FocusEvent], str | None] | None = None,
                 url_applies: Callable[[FocusEvent], bool] | None = None):
        self.display_name = display_name
        self.sink = sink
        self.url_lookup = url_lookup
        self.url_applies = url_applies  # None: any window may have a URL
        self._url_retry: list[float] = []  # monotonic times to ask again for the URL
        self._stop = StopSignal()
        self._thread = threading.Thread(target=self._run, name="workprint-x11-focus", daemon=True)
        self._last: tuple[int, str, str | None] | None = None
        #: bumped on every top-level window layout change (read from other threads)
        self.generation = 0
        #: mapped override-redirect children of the root (menus, popups), or None before
        #: the tracker has looked; replaced, never mutated, so other threads may read it
        self.override_windows: frozenset[int] | None = None
        self.connection = None  # the tracker thread's own X connection, once it runs
        #: the FocusEvent emitted last (replaced, never mutated: read from other threads)
        self.current: FocusEvent | None = None
        #: set once the window in front at start is known (or the tracker has ended)
        self.ready = threading.Event()

    @property
    def active_window(self) -> int:
        """The window last reported as active (0: none); read from other threads."""
        last = self._last
        return last[0] if last else 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.stop_thread(self._thread)

    def _active(self, d) -> int | None:
        """The active window id, ``0`` for none, ``None`` if no EWMH window manager."""
        from Xlib import X, error

        root = d.screen().root
        check = _prop(d, root, "_NET_SUPPORTING_WM_CHECK")
        if check is not None and len(check):
            try:
                d.create_resource_object("window", int(check[0])).get_attributes()
                value = _prop(d, root, "_NET_ACTIVE_WINDOW")
                return int(value[0]) if value is not None and len(value) else 0
            except error.XError:
                pass  # stale property: the window manager is gone
        # No window manager: the focus window, or the client under the pointer.
        focus = d.get_input_focus().focus
        if isinstance(focus, int) or focus in (X.PointerRoot, X.NONE) or focus == root:
            focus = root.query_pointer().child
            if not focus or isinstance(focus, int):
                return 0
        win = focus
        while win and win != root:
            if win.get_wm_class():
                return win.id
            win = win.query_tree().parent
        return 0

    def _emit(self, d, win_id: int) -> None:
        from Xlib import X, error

        try:
            ev = describe_window(d, win_id)
        except error.XError:
            ev = FocusEvent(time.monotonic_ns(), 0)
        if self.url_lookup is not None and ev.window and ev.title:
            try:
                url = self.url_lookup(ev)
            except Exception:  # noqa: BLE001 - no URL is the fail-closed answer
                url = None
            if url:
                ev = dataclasses.replace(ev, url=url)
            if self._last is None or self._last[:2] != (ev.window, ev.title):
                # a new window or title: ask again while no URL - if it can have one (each
                # time, the window is described again: ~10 round trips)
                now = time.monotonic()
                applies = self.url_applies is None or self.url_applies(ev)
                self._url_retry = [now + dt for dt in URL_RETRY_S] if applies else []
            if url:
                self._url_retry = []
        key = (ev.window, ev.title, ev.url)
        if key != self._last:
            self._last = key
            self.current = ev
            if ev.window:
                try:
                    d.create_resource_object("window", ev.window).change_attributes(
                        event_mask=X.PropertyChangeMask)
                except error.XError:
                    pass
            self.sink(ev)

    def _run(self) -> None:
        from Xlib import X

        d = self.connection = _open_display(self.display_name)
        try:
            root = d.screen().root
            # SubstructureNotify: every map, unmap, move, resize or restack of a top-level
            # window bumps the generation, so frames grabbed before it are not blacked out
            # with a window list taken after it
            root.change_attributes(event_mask=X.PropertyChangeMask | X.SubstructureNotifyMask)
            layout_events = {X.MapNotify, X.UnmapNotify, X.ConfigureNotify, X.DestroyNotify,
                             X.CirculateNotify, X.ReparentNotify, X.GravityNotify}
            net_active = d.get_atom("_NET_ACTIVE_WINDOW")
            title_atoms = {d.get_atom("_NET_WM_NAME"), d.get_atom("WM_NAME")}
            fd = d.fileno()
            pending_zero_since: float | None = None
            overrides = set()
            for child in root.query_tree().children:
                try:
                    a = child.get_attributes()
                    if a.override_redirect and a.map_state != X.IsUnmapped:
                        overrides.add(child.id)
                except Exception:  # noqa: BLE001 - gone meanwhile
                    pass
            self.override_windows = frozenset(overrides)
            self._emit(d, self._active(d) or 0)
            self.ready.set()
            ewmh = _prop(d, root, "_NET_SUPPORTING_WM_CHECK") is not None
            while not self._stop.is_set():
                timeout = 0.5 if not ewmh else 5.0  # without a WM, poll the focus
                if pending_zero_since is not None:
                    timeout = max(0.0, pending_zero_since + _NO_WINDOW_DEBOUNCE_S - time.monotonic())
                if self._url_retry:
                    timeout = min(timeout, max(0.0, self._url_retry[0] - time.monotonic()))
                if not d.pending_events():
                    ready, _, _ = select.select([fd, self._stop.fd], [], [], timeout)
                    if self._stop.fd in ready:
                        break
                recheck = not ewmh or pending_zero_since is not None
                if self._url_retry and time.monotonic() >= self._url_retry[0]:
                    self._url_retry.pop(0)
                    recheck = True
                while d.pending_events():
                    ev = d.next_event()
                    if ev.type in layout_events:
                        # a popup joins the list before the generation moves on, and leaves
                        # it only after: a reader never sees an old generation with a list
                        # that lacks a popup its frame may show
                        if ev.type == X.MapNotify and ev.override:
                            overrides.add(ev.window.id)
                            self.override_windows = frozenset(overrides)
                        self.generation += 1
                        if ev.type in (X.UnmapNotify, X.DestroyNotify) and ev.window.id in overrides:
                            overrides.discard(ev.window.id)
                            self.override_windows = frozenset(overrides)
                    elif ev.type == X.PropertyNotify:
                        if ev.atom == net_active and ev.window == root:
                            recheck = True
                        elif ev.atom in title_atoms and self._last and ev.window.id == self._last[0]:
                            recheck = True
                if not recheck:
                    continue
                active = self._active(d)
                if active is None:
                    continue
                if active == 0:
                    if self._last and self._last[0] != 0:
                        if pending_zero_since is None:
                            pending_zero_since = time.monotonic()
                        elif time.monotonic() - pending_zero_since >= _NO_WINDOW_DEBOUNCE_S:
                            pending_zero_since = None
                            self._emit(d, 0)
                    continue
                pending_zero_since = None
                self._emit(d, active)
        except Exception as exc:  # noqa: BLE001 - the X server went away, the link was killed
            if not self._stop.is_set():
                logging.getLogger(__name__).exception("focus tracking stopped")
                # scope decisions would go stale: the recorder ends the session
                self.sink(CaptureLost("X window focus", f"{type(exc).__name__}: {exc}"[:200]))
        finally:
            self.ready.set()  # ended before it knew: nobody waits for it
            try:
                d.close()
            except Exception:  # noqa: BLE001
                pass
