"""Pointer input from XInput 2: every motion, button and scroll, with its root position.

:class:`~workprint.capture.linux.x11.X11Backend` takes the pointer from here (unless
``WORKPRINT_X11_POINTER=record`` or the server lacks XInput 2); see the end of this
docstring for how it is wired in.

Why not RECORD. On Xorg/Xvfb 21.1 the RECORD stream loses pointer (and key) events once
the recording client's socket backs up, *while other clients also receive input events*:
each delivery to another client runs ``FlushClient`` -> ``FlushCallback`` ->
``RecordFlushAllContexts``, so RECORD writes one tiny reply per event; the unix socket then
holds only ~280 of them (kernel ``truesize`` accounting of 212,992 bytes); and once the
recording client is "output pending", ``FlushAllOutput`` calls ``FlushClient`` on it, whose
``FlushCallback`` makes RECORD append its buffered reply to the *same* client's output
buffer after ``notWritten`` was computed, and ``FlushClient`` then sets ``oco->count`` to the
stale ``notWritten`` (or 0), discarding it (os/io.c ``FlushClient``; record/record.c
``RecordFlushReplyBuffer``). Measured: a RECORD client that does not read for 0.5 s got 279
of 1,000 motions next to one XI2 raw client, and 5,000 of 5,000 when it was alone.

What this module uses instead, all selected on the root window of its own connection:

* ``XI_RawMotion``/``XI_RawButtonPress``/``XI_RawButtonRelease`` for the master devices:
  one raw event per motion/button the server processes; delivered to every selecting
  client whatever the windows select and (XI >= 2.1, announced here) during grabs; never
  taken away from another client. Raw events carry no screen position.
* ``XI_Motion`` for each **slave** pointer device (not ``XIAllDevices``/``XIAllMasterDevices``:
  those would match the master event too, and an XI2 delivery on a window suppresses the
  core delivery to other clients of that window). Its valuators hold the new position in
  root coordinates for devices without an axis range (mice, touchpads, the XTEST pointer;
  clamped to the screen); its ``root_x/root_y`` is the position *before* the motion, i.e.
  the exact position after the previous event. Pointer warps arrive as slave motions with
  no raw event. Buttons are not selected (``XI_ButtonPress`` selections are exclusive and
  start implicit grabs): a button's position is confirmed by the root of the next slave
  motion, else by a ``QueryPointer`` asked at once (the position after the motion before
  it is only the fall-back, flagged ``exact=False``).
* Slave motions do not reach the root window when a window under the pointer selects XI2
  motion for ``XIAllDevices`` or that slave (Chromium/Electron windows do), nor while a
  button pressed on a client window is held under a window manager that grabs buttons for
  click-to-focus (openbox, measured) - then only the raw event arrives. The position is
  then taken from a ``QueryPointer`` round trip when the connection is idle (events are
  ordered against the reply by their sequence number); the motions of a burst before that
  answer are replayed from their raw valuators (as absolute coordinates or as deltas,
  whichever lands exactly on the answer), else interpolated and flagged ``exact=False``.
* Warps send no raw event, so in those states, and for warps of the master itself (before
  any slave device has sent an event the master has no "last slave", and a warp is an
  event of the master alone), nothing arrives. A position that differs from the known one
  (a slave motion's root, a query answer) becomes a ``"warp"`` move before the event that
  told; while a button is held and nothing arrives the position is asked every
  :data:`HOLD_POLL_S`, so a drag made of warps (``xdotool mousemove``) keeps its path. With
  no button held and no event, the listener never wakes up.

Wiring: ``X11Backend.start_input`` starts :class:`XI2PointerListener` next to the key
listener with a sink that enqueues ``PointerSamples([sample, ...])`` (a batch in server order,
at most one per :data:`DRAIN_EVERY` events); ``X11Backend.decode`` turns each sample into
``MoveEvent``/``ButtonEvent``/``ScrollEvent`` via :func:`to_events` (the recorder then
coalesces moves as before). The RECORD context records only
``KeyPress..KeyRelease`` (auto-repeat presses, the key fall-back) while this listener runs;
if its stream ends on its own, ``on_lost`` is called once after the samples still held
have been handed on, and the backend widens RECORD to the pointer again.

Smooth scrolling (touchpads, hi-res wheels): the server turns each scroll increment into
an emulated button 4-7 press/release with a raw event of its own (``XIPointerEmulated``),
which arrives here like a wheel click; the scroll valuators themselves are ignored.
"""

from __future__ import annotations

import select
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from .wakeup import StopSignal

GENERIC_EVENT = 35
XI_BUTTON_PRESS, XI_BUTTON_RELEASE, XI_MOTION = 4, 5, 6
XI_HIERARCHY_CHANGED = 11
XI_RAW_BUTTON_PRESS, XI_RAW_BUTTON_RELEASE, XI_RAW_MOTION = 15, 16, 17
XI_ALL_DEVICES, XI_ALL_MASTER_DEVICES = 0, 1
XI_MASTER_POINTER, XI_SLAVE_POINTER = 1, 3
XI_VALUATOR_CLASS = 2

SCROLL = {4: (0, 1), 5: (0, -1), 6: (-1, 0), 7: (1, 0)}
BUTTONS = {1: "left", 2: "middle", 3: "right", 8: "x1", 9: "x2"}
#: an unresolved motion is given an estimated position after this long
MAX_UNRESOLVED_NS = 200_000_000
#: while a button is held and no event comes, the pointer position is asked this often:
#: warps (XWarpPointer, ``xdotool mousemove``) during a drag send no event here when the
#: window manager's click-to-focus grab keeps slave events from the root window
HOLD_POLL_S = 1 / 60
#: during a flood, settled samples are handed on after every this many events (not only
#: once the connection has nothing more to read, which may be the end of the flood)
DRAIN_EVERY = 64
#: buttons whose hold is polled (QueryPointer's mask reports buttons 1-5; 4/5 are scrolls)
HELD_BUTTONS = {1: 1 << 8, 2: 1 << 9, 3: 1 << 10}


# --- wire format ----------------------------------------------------------------------------
def _fp3232(buf: bytes, off: int) -> float:
    integral, frac = struct.unpack_from("=iI", buf, off)
    return integral + frac / 4294967296.0


def _valuators(buf: bytes, off: int, mask_words: int) -> tuple[dict[int, float], int]:
    """(axis -> value, offset after the values) of a valuator mask followed by FP3232s."""
    words = struct.unpack_from(f"={mask_words}I", buf, off)
    off += 4 * mask_words
    out: dict[int, float] = {}
    for w, word in enumerate(words):
        bit = 0
        while word:
            if word & 1:
                out[32 * w + bit] = _fp3232(buf, off)
                off += 8
            word >>= 1
            bit += 1
    return out, off


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """An XIDeviceEvent. ``root_x/root_y``: the sprite position when it was processed."""

    evtype: int
    deviceid: int
    sourceid: int
    time: int
    detail: int
    root_x: float
    root_y: float
    valuators: dict[int, float]


@dataclass(frozen=True, slots=True)
class RawEvent:
    evtype: int
    deviceid: int
    sourceid: int
    time: int
    detail: int
    valuators: dict[int, float]  # after transformation/acceleration
    raw_values: dict[int, float]


def parse_device_event(evtype: int, data: bytes) -> DeviceEvent:
    """``data``: the event from its ``deviceid`` field on (python-xlib's GenericEvent.data),
    in the connection's (native) byte order."""
    (deviceid, time_, detail, _root, _event, _child, rx, ry, _ex, _ey, buttons_len, valuators_len,
     sourceid) = struct.unpack_from("=HIIIIIiiiiHHH", data, 0)
    vals, _ = _valuators(data, 70 + 4 * buttons_len, valuators_len)
    return DeviceEvent(evtype, deviceid, sourceid, time_, detail, rx / 65536.0, ry / 65536.0, vals)


def parse_raw_event(evtype: int, data: bytes) -> RawEvent:
    deviceid, time_, detail, sourceid, valuators_len = struct.unpack_from("=HIIHH", data, 0)
    vals, off = _valuators(data, 22, valuators_len)
    raw = {}
    for axis in sorted(vals):
        raw[axis] = _fp3232(data, off)
        off += 8
    return RawEvent(evtype, deviceid, sourceid, time_, detail, vals, raw)


# --- pure tracking logic --------------------------------------------------------------------
@dataclass(slots=True)
class PointerSample:
    """One pointer event in server order. ``exact`` is False only for a motion whose slave
    event was not delivered and whose position could neither be queried nor replayed from
    its raw valuators (interpolated, or accelerated fractional deltas)."""

    kind: str  # "move" | "button" | "scroll"
    t_ns: int
    server_ms: int
    x: int
    y: int
    button: int = 0
    down: bool = False
    exact: bool = True
    source: str = "device"  # device | raw (slave event not delivered) | warp (no raw event)
    device: int = 0


class _Rec:
    __slots__ = ("kind", "master", "src", "t_ns", "server_ms", "source", "button", "down",
                 "x", "y", "exact", "resolved", "after", "prev", "emitted", "raw", "base")

    def __init__(self, kind: str, master: int, src: int, t_ns: int, server_ms: int, source: str,
                 button: int = 0, down: bool = False):
        self.kind, self.master, self.src = kind, master, src
        self.t_ns, self.server_ms, self.source = t_ns, server_ms, source
        self.button, self.down = button, down
        self.x: float | None = None
        self.y: float | None = None
        self.exact = self.resolved = self.emitted = False
        self.after: _Rec | None = None  # a button: the motion whose position it takes
        self.base: tuple[float, float] | None = None  # a button: the position known when it came
        self.prev: _Rec | None = None   # a motion: the motion of the same master before it
        self.raw: dict[int, float] | None = None  # a motion: its raw event's x/y valuators


class PointerTracker:
    """Pairs raw events with slave motions and hands out samples in server order, each
    with a position. Feed it events in the order the connection received them."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self._out: deque[_Rec] = deque()
        self._master_of: dict[int, int] = {}      # slave id -> master id
        self._screen_axes: dict[int, bool] = {}   # slave id -> axes 0/1 are root coordinates
        self._ranges: dict[int, dict[int, tuple[float, float]]] = {}
        self._pos: dict[int, tuple[float, float]] = {}     # master -> position after last event
        self._last_move: dict[int, _Rec] = {}
        self._open_raw: dict[int, _Rec | None] = {}        # raw motion waiting for its slave event
        self._prev_point: dict[int, tuple[float, float]] = {}  # last resolved move position
        self._verify: dict[int, list[_Rec]] = {}  # master -> buttons waiting for their position
        self._verify_after: dict[int, _Rec | None] = {}  # master -> last move before them
        self._held: dict[int, set[int]] = {}  # master -> buttons (1-3) held down
        self.stats = {"raw_motions": 0, "device_motions": 0, "warps": 0, "blocked": 0,
                      "anchored": 0, "replayed": 0, "interpolated": 0, "late_anchor": 0, "mismatch": 0,
                      "buttons": 0, "scrolls": 0, "verified": 0, "unverified": 0, "unseen_warps": 0}

    # devices ------------------------------------------------------------------------------
    def set_slave(self, slave: int, master: int, ranges: dict[int, tuple[float, float]]) -> None:
        self._master_of[slave] = master
        self._ranges[slave] = ranges
        self._screen_axes[slave] = all(ranges.get(a, (0.0, 0.0))[0] >= ranges.get(a, (0.0, 0.0))[1]
                                       for a in (0, 1))

    def set_position(self, master: int, x: float, y: float) -> None:
        self._pos[master] = (x, y)
        self._prev_point.setdefault(master, (x, y))

    # events --------------------------------------------------------------------------------
    def raw_motion(self, ev: RawEvent, t_ns: int) -> None:
        m = ev.deviceid
        self._close_raw(m)
        rec = _Rec("move", m, ev.sourceid, t_ns, ev.time, "raw")
        rec.raw = {a: v for a, v in ev.valuators.items() if a < 2}
        if 0 not in ev.valuators and 1 not in ev.valuators:
            rec.kind = "none"  # scroll valuators only: the pointer did not move
            self._open_raw[m] = rec
            return
        self.stats["raw_motions"] += 1
        rec.prev = self._last_move.get(m)
        self._out.append(rec)
        self._open_raw[m] = rec
        self._last_move[m] = rec

    def raw_button(self, ev: RawEvent, t_ns: int) -> None:
        m = ev.deviceid
        self._close_raw(m)
        kind = "scroll" if ev.detail in SCROLL else "button"
        if kind == "scroll" and ev.evtype != XI_RAW_BUTTON_PRESS:
            return
        rec = _Rec(kind, m, ev.sourceid, t_ns, ev.time, "raw", ev.detail, ev.evtype == XI_RAW_BUTTON_PRESS)
        rec.after = self._last_move.get(m)
        if rec.after is None or rec.after.emitted:
            rec.after = None
        if rec.after is None or rec.after.resolved:
            rec.base = self._pos.get(m, (0.0, 0.0))
            rec.x, rec.y = rec.base
        # the position is confirmed by the next slave motion (its root is the position
        # before it) or a pointer query: a warp the listener cannot see (one of the master
        # itself before any slave device was used, or one a window swallowed) moves the
        # pointer without any event here
        if not self._verify.get(m):
            self._verify[m] = []
            self._verify_after[m] = self._last_move.get(m)
        self._verify[m].append(rec)
        self.stats["buttons" if kind == "button" else "scrolls"] += 1
        self._out.append(rec)
        if ev.detail in HELD_BUTTONS:
            held = self._held.setdefault(m, set())
            if rec.down:
                held.add(ev.detail)
            else:
                held.discard(ev.detail)

    def held(self, master: int | None = None) -> bool:
        """Is a button (1-3) of ``master`` (or of some master) held down?"""
        if master is not None:
            return bool(self._held.get(master))
        return any(self._held.values())

    def set_buttons(self, master: int, mask: int) -> None:
        """The buttons the server says are down (a QueryPointer mask): corrects the held
        state should a release never arrive (a device unplugged mid-drag)."""
        self._held[master] = {b for b, bit in HELD_BUTTONS.items() if mask & bit}

    def verifying(self, master: int | None = None) -> bool:
        """Are buttons (of ``master``) waiting for their position?"""
        if master is not None:
            return bool(self._verify.get(master))
        return any(self._verify.values())

    def _verified(self, master: int, x: float, y: float, t_ns: int) -> None:
        """The buttons waiting for their position were at ``(x, y)``. If that is not
        where the pointer was known to be, it got there by a warp no event reported: a
        move to it goes before them."""
        recs = self._verify.pop(master, None)
        self._verify_after.pop(master, None)
        if not recs:
            return
        first = recs[0]
        if first.base is not None and (int(first.base[0]) != int(x) or int(first.base[1]) != int(y)):
            # 1 ns before the button: it happened before it (the store orders by time)
            warp = _Rec("move", master, first.src, first.t_ns - 1, first.server_ms, "warp")
            warp.x, warp.y, warp.exact, warp.resolved = x, y, True, True
            warp.prev = first.after
            self._insert_before(first, warp)
            self.stats["unseen_warps"] += 1
        for rec in recs:
            rec.x, rec.y, rec.exact, rec.resolved, rec.after = x, y, True, True, None
            self.stats["verified"] += 1
        self._pos[master] = (x, y)

    def _unverified(self, master: int) -> None:
        """No exact position for the waiting buttons: the motion before them (or the
        position known when they came), flagged inexact."""
        self._verify_after.pop(master, None)
        for rec in self._verify.pop(master, None) or ():
            rec.resolved = True
            self.stats["unverified"] += 1

    def _insert_before(self, rec: _Rec, new: _Rec) -> None:
        for i in range(len(self._out) - 1, -1, -1):
            if self._out[i] is rec:
                self._out.insert(i, new)
                return
        self._out.append(new)

    def device_motion(self, ev: DeviceEvent, t_ns: int) -> None:
        m = self._master_of.get(ev.deviceid)
        if m is None:
            return
        if self._verify.get(m):  # the position before this motion: where the buttons were
            self._verified(m, ev.root_x, ev.root_y, t_ns)
        rec = self._open_raw.get(m)
        self._open_raw[m] = None
        if rec is not None and rec.src == ev.deviceid and rec.server_ms == ev.time:
            # its root is the sprite position before it: exact for the motion before
            self._anchor(m, rec.prev, ev.root_x, ev.root_y, from_event=True, before=rec)
            if rec.kind == "none":
                return
            rec.source = "device"
            self.stats["device_motions"] += 1
        else:
            if rec is not None:
                self._blocked(rec)
            self._anchor(m, self._last_move.get(m), ev.root_x, ev.root_y, from_event=True,
                         before=_Rec("move", m, ev.deviceid, t_ns, ev.time, "warp"))
            if 0 not in ev.valuators and 1 not in ev.valuators:
                return
            rec = _Rec("move", m, ev.deviceid, t_ns, ev.time, "warp")  # no raw event: a warp
            rec.prev = self._last_move.get(m)
            self.stats["warps"] += 1
            self._out.append(rec)
            self._last_move[m] = rec
        x, y = self._pos.get(m, (0.0, 0.0))
        if self._screen_axes.get(ev.deviceid, True):
            x, y = ev.valuators.get(0, x), ev.valuators.get(1, y)
            rec.x, rec.y, rec.exact, rec.resolved = x, y, True, True
        else:  # absolute axes with a range: scaled estimate until the next anchor
            rng = self._ranges[ev.deviceid]
            if 0 in ev.valuators:
                x = self._scale(ev.valuators[0], rng.get(0), self.width)
            if 1 in ev.valuators:
                y = self._scale(ev.valuators[1], rng.get(1), self.height)
            rec.x, rec.y = x, y
        self._pos[m] = (x, y)

    def anchor(self, master: int, x: float, y: float, t_ns: int | None = None) -> None:
        """The exact position after the latest event of ``master`` seen so far (a
        QueryPointer answer, received at ``t_ns``)."""
        if self._verify.get(master):
            if self._last_move.get(master) is self._verify_after.get(master):
                self._verified(master, x, y, 0)  # nothing moved since the buttons
            else:  # a motion after them whose slave event never came
                self._unverified(master)
        self._anchor(master, self._last_move.get(master), x, y, t_ns=t_ns)

    def _anchor(self, master: int, rec: _Rec | None, x: float, y: float, from_event: bool = False,
                before: _Rec | None = None, t_ns: int | None = None) -> None:
        """``(x, y)`` is the exact position after motion ``rec`` (and anything before it).
        ``before``: the motion whose slave event said so (from_event)."""
        cur = self._pos.get(master)
        if rec is not None and not rec.exact:
            if rec.emitted:
                self.stats["late_anchor"] += 1
            else:
                rec.x, rec.y, rec.exact, rec.resolved = x, y, True, True
                self.stats["anchored"] += 1
        elif cur is not None and (int(cur[0]) != int(x) or int(cur[1]) != int(y)):
            # the pointer got there without an event here: a warp of the master itself
            # (before any slave device was used) or one a grab or window kept from the root
            # window; also confinement. That position wins from now on, and a move to it
            # is kept (before the motion whose event told, or now for a query answer).
            if from_event:
                self.stats["mismatch"] += 1
            self.stats["unseen_warps"] += 1
            last = before if before is not None else rec
            when = before.t_ns - 1 if before is not None else (t_ns or time.monotonic_ns())
            warp = _Rec("move", master, last.src if last else 0, when, last.server_ms if last else 0,
                        "warp")
            warp.x, warp.y, warp.exact, warp.resolved = x, y, True, True
            warp.prev = rec
            if before is not None:
                self._insert_before(before, warp)
            else:
                self._out.append(warp)
                self._last_move[master] = warp
        if cur is None or int(cur[0]) != int(x) or int(cur[1]) != int(y):
            self._pos[master] = (x, y)

    def unresolved(self, master: int | None = None) -> bool:
        return any(not r.resolved and (master is None or r.master == master) for r in self._out)

    def pending(self) -> bool:
        return bool(self._out)

    def drain(self, now_ns: int, max_unresolved_ns: int | None = MAX_UNRESOLVED_NS,
              patient: int | None = None) -> list[PointerSample]:
        """Samples whose position is settled, in order. ``max_unresolved_ns``: give up
        waiting for a position after that long (None: wait for an anchor); the master
        ``patient`` always waits for an anchor (its position gets queried)."""
        self._interpolate(now_ns, max_unresolved_ns, patient)
        out: list[PointerSample] = []
        while self._out:
            rec = self._out[0]
            if not rec.resolved:
                break
            self._out.popleft()
            if rec.after is not None:  # an unverified button after a motion
                rec.x, rec.y, rec.exact = rec.after.x, rec.after.y, False
            rec.emitted = True
            if rec.kind == "move":
                self._prev_point[rec.master] = (rec.x, rec.y)
            out.append(PointerSample(rec.kind, rec.t_ns, rec.server_ms, self._ix(rec.x, self.width),
                                     self._ix(rec.y, self.height), rec.button, rec.down, rec.exact,
                                     rec.source, rec.src))
        return out

    # internals -----------------------------------------------------------------------------
    def _close_raw(self, master: int) -> None:
        rec = self._open_raw.get(master)
        if rec is not None:
            self._open_raw[master] = None
            if rec.kind == "move":
                self._blocked(rec)

    def _blocked(self, rec: _Rec) -> None:
        self.stats["blocked"] += 1

    def _interpolate(self, now_ns: int, max_age: int | None, patient: int | None = None) -> None:
        """Unresolved motions followed by a known position of the same master are filled
        in by :meth:`_fill`; ones older than ``max_age`` with nothing after them get the
        last known position, flagged inexact."""
        waiting: dict[int, list[_Rec]] = {}
        prev = dict(self._prev_point)
        for rec in self._out:
            if rec.kind != "move":
                continue
            m = rec.master
            if not rec.resolved:
                if rec is not self._open_raw.get(m):  # still waiting for its slave event
                    waiting.setdefault(m, []).append(rec)
                continue
            run = waiting.pop(m, None)
            start = prev.get(m, (rec.x, rec.y))
            if run:
                self._fill(run, start, rec)
            prev[m] = (rec.x, rec.y)
        if max_age is not None:
            for m, recs in list(self._verify.items()):
                if recs and m != patient and now_ns - recs[0].t_ns >= max_age:
                    self._unverified(m)
        for m, run in waiting.items():
            if run and max_age is not None and m != patient and now_ns - run[0].t_ns >= max_age:
                x, y = self._pos.get(m, prev.get(m, (0.0, 0.0)))
                for r in run:
                    r.x, r.y, r.resolved = x, y, True
                    self.stats["interpolated"] += 1

    def _fill(self, run: list[_Rec], start: tuple[float, float], end: _Rec) -> None:
        """Positions for motions whose slave event was not delivered, between the known
        position ``start`` and the exact position of ``end``. The raw valuators are either
        absolute root coordinates (XTEST absolute moves, no-range absolute devices) or
        deltas (mice, XTEST relative moves), and the device class does not say which (the
        XTEST pointer is "relative"): replay both, clamped to the screen like the server
        does, and keep the one that lands exactly on ``end``. Otherwise interpolate."""
        seq = run + [end]
        want = (self._ix(end.x, self.width), self._ix(end.y, self.height))
        if all(r.raw is not None for r in seq):
            for absolute in (True, False):
                px, py = start
                pts = []
                for r in seq:
                    if absolute:
                        px, py = r.raw.get(0, px), r.raw.get(1, py)
                    else:
                        px, py = px + r.raw.get(0, 0.0), py + r.raw.get(1, 0.0)
                    px = min(max(px, 0.0), self.width - 1.0)
                    py = min(max(py, 0.0), self.height - 1.0)
                    pts.append((px, py))
                if (self._ix(pts[-1][0], self.width), self._ix(pts[-1][1], self.height)) == want:
                    integral = all(float(v).is_integer() for r in seq for v in r.raw.values())
                    for r, (px, py) in zip(run, pts):
                        r.x, r.y, r.resolved, r.exact = px, py, True, integral
                        self.stats["replayed"] += 1
                    return
        n = len(run) + 1
        for i, r in enumerate(run, 1):
            r.x = start[0] + (end.x - start[0]) * i / n
            r.y = start[1] + (end.y - start[1]) * i / n
            r.resolved = True
            self.stats["interpolated"] += 1

    @staticmethod
    def _scale(v: float, rng: tuple[float, float] | None, size: int) -> float:
        if not rng or rng[1] <= rng[0]:
            return v
        return (v - rng[0]) * (size - 1) / (rng[1] - rng[0])

    @staticmethod
    def _ix(v: float | None, size: int) -> int:
        if v is None:
            return 0
        return max(0, min(size - 1, int(v // 1)))


def to_events(sample: PointerSample) -> list[Any]:
    """The workprint raw events for one sample (button releases of scroll buttons: none)."""
    from ...events import ButtonEvent, MoveEvent, ScrollEvent

    if sample.kind == "move":
        return [MoveEvent(sample.t_ns, sample.x, sample.y)]
    if sample.kind == "scroll":
        dx, dy = SCROLL[sample.button]
        return [ScrollEvent(sample.t_ns, sample.x, sample.y, dx, dy)]
    name = BUTTONS.get(sample.button, f"button{sample.button}")
    return [ButtonEvent(sample.t_ns, sample.down, sample.x, sample.y, name)]


def tell_pointer(observer: Callable[[int, int, int, bool], None], samples: list[PointerSample]) -> None:
    """Hand ``observer`` (a backend's ``pointer_observer``, on the listener thread) each button
    press of ``samples`` (not scroll buttons), each with the last motion before it, and the
    batch's last motion: where the pointer is, without a call per motion of a flood."""
    last = None
    for sample in samples:
        if sample.kind == "move":
            last = sample
        elif sample.kind == "button" and sample.down:
            if last is not None:
                observer(last.t_ns, last.x, last.y, False)
                last = None
            observer(sample.t_ns, sample.x, sample.y, True)
    if last is not None:
        observer(last.t_ns, last.x, last.y, False)


# --- the X connection -----------------------------------------------------------------------
def _seq_before(seq: int, serial: int) -> bool:
    """Was an event with sequence number ``seq`` generated before request ``serial`` ran?"""
    d = (serial - seq) & 0xFFFF
    return 0 < d < 0x8000


class XI2PointerListener:
    """A thread on its own connection that hands :class:`PointerSample` objects to ``sink``
    (which must only enqueue), one by one or, with ``batches``, as lists in server order. It blocks in ``select()`` without a timeout while nothing is
    held back, so an idle pointer costs no wake-ups. ``stop()`` returns at once. If the
    stream ends on its own (X error, connection killed), ``on_lost(reason)`` is called once
    from the listener thread, after the samples it still held went to ``sink``."""

    def __init__(self, open_display: Callable[[], Any], sink: Callable[[Any], None],
                 on_lost: Callable[[str], None] | None = None, idle_query: bool = True,
                 batches: bool = False):
        self._conn = conn = open_display()
        try:
            self._setup(conn)
        except BaseException:
            conn.close()
            raise
        self._sink = sink
        self._batches = batches  # sink gets lists of samples (fewer queue items in a flood)
        self._on_lost = on_lost
        self._idle_query = idle_query
        self.queries = 0
        self._stop = StopSignal()
        self._thread = threading.Thread(target=self._run, name="workprint-x11-pointer", daemon=True)

    @property
    def connection(self) -> Any:
        return self._conn

    def _setup(self, conn: Any) -> None:
        from Xlib.ext import xinput

        self._xi = xinput
        conn.display.ge_event_data = {}  # keep XI2 events as bytes: python-xlib drops valuators
        info = conn.query_extension("XInputExtension")
        if not info.present:
            raise RuntimeError("the X server lacks XInputExtension")
        self._op = info.major_opcode
        # XI >= 2.1 semantics: raw events keep coming while another client holds a grab
        # (python-xlib's xinput_query_version() would announce 2.0, which loses them)
        xinput.XIQueryVersion(display=conn.display, opcode=self._op, major_version=2, minor_version=2)
        self._root = conn.screen().root
        geo = self._root.get_geometry()
        self.tracker = PointerTracker(geo.width, geo.height)
        self._client_master: int | None = None
        self._slaves: set[int] = set()
        self._root.xinput_select_events([
            (XI_ALL_MASTER_DEVICES, xinput.RawMotionMask | xinput.RawButtonPressMask
             | xinput.RawButtonReleaseMask),
            (XI_ALL_DEVICES, xinput.HierarchyChangedMask)])
        self._refresh_devices()
        qp = self._root.query_pointer()
        if self._client_master is not None:
            self.tracker.set_position(self._client_master, qp.root_x, qp.root_y)
        conn.sync()

    def _refresh_devices(self) -> None:
        xi = self._xi
        new = []
        for dev in self._conn.xinput_query_device(XI_ALL_DEVICES).devices:
            if dev.use == XI_MASTER_POINTER and self._client_master is None:
                self._client_master = dev.deviceid  # the core pointer (lowest master id)
            if dev.use != XI_SLAVE_POINTER:
                continue
            ranges = {c.number: (c.min, c.max) for c in dev.classes if c.type == XI_VALUATOR_CLASS}
            self.tracker.set_slave(dev.deviceid, dev.attachment, ranges)
            if dev.deviceid not in self._slaves:
                self._slaves.add(dev.deviceid)
                new.append((dev.deviceid, xi.MotionMask))
        if new:
            self._root.xinput_select_events(new)

    def start(self) -> None:
        self._thread.start()

    def _handle(self, ev: Any) -> None:
        if ev.type != GENERIC_EVENT or ev.extension != self._op:
            return
        evtype, data, now = ev.evtype, bytes(ev.data), time.monotonic_ns()
        if evtype == XI_RAW_MOTION:
            self.tracker.raw_motion(parse_raw_event(evtype, data), now)
        elif evtype in (XI_RAW_BUTTON_PRESS, XI_RAW_BUTTON_RELEASE):
            self.tracker.raw_button(parse_raw_event(evtype, data), now)
        elif evtype == XI_MOTION:
            self.tracker.device_motion(parse_device_event(evtype, data), now)
        elif evtype == XI_HIERARCHY_CHANGED:
            self._refresh_devices()

    def _query(self) -> None:
        """Exact position after the last event received before the reply."""
        from Xlib.protocol import request

        req = request.QueryPointer(display=self._conn.display, window=self._root)
        self.queries += 1
        later = []
        while self._conn.pending_events():
            ev = self._conn.next_event()
            if later or not _seq_before(ev.sequence_number, req._serial):
                later.append(ev)
            else:
                self._handle(ev)
        if self._client_master is not None:
            self.tracker.anchor(self._client_master, req.root_x, req.root_y, time.monotonic_ns())
            self.tracker.set_buttons(self._client_master, req.mask)
        for ev in later:
            self._handle(ev)

    def _run(self) -> None:
        conn, tracker, stop = self._conn, self.tracker, self._stop
        fd = conn.fileno()
        lost: str | None = None
        try:
            while not stop.is_set():
                # queries answer for the client's master pointer only (other masters' held
                # back events get estimated positions after MAX_UNRESOLVED_NS)
                asks = self._client_master if self._idle_query else None
                if not conn.pending_events():
                    # idle (nothing held back, no button down): block without a timeout
                    if asks is not None and tracker.unresolved(asks):
                        timeout = 0.005
                    elif asks is not None and tracker.held(asks):
                        timeout = HOLD_POLL_S
                    else:
                        timeout = 0.05 if tracker.pending() else None
                    ready, _, _ = select.select([fd, stop.fd], [], [], timeout)
                    if stop.fd in ready:
                        break
                    if not ready and asks is not None and (tracker.unresolved(asks) or tracker.held(asks)):
                        self._query()
                n = 0
                while conn.pending_events():
                    self._handle(conn.next_event())
                    n += 1
                    if n % DRAIN_EVERY == 0:  # a flood: hand on what is settled as it goes
                        self._hand_on(tracker.drain(time.monotonic_ns(), MAX_UNRESOLVED_NS, asks))
                # a button's position: asked at once (a warp may follow it any moment)
                # unless a slave motion after it has already told; a query answers it
                while asks is not None and tracker.verifying(asks):
                    self._query()
                # with idle queries every unresolved motion gets an anchor after it once the
                # connection goes quiet: never guess while events are still flowing
                self._hand_on(tracker.drain(time.monotonic_ns(), MAX_UNRESOLVED_NS, asks))
        except Exception as exc:  # noqa: BLE001 - the connection ended (or was closed at stop)
            if not stop.is_set():
                lost = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            try:  # what is held back goes out first: exact if the server still answers
                if lost is None and self._idle_query and tracker.unresolved(self._client_master):
                    try:
                        while conn.pending_events():
                            self._handle(conn.next_event())
                        self._query()
                    except Exception:  # noqa: BLE001 - then the last known positions
                        pass
                self._hand_on(tracker.drain(time.monotonic_ns(), 0))
            finally:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001
                    pass
        if lost is not None and self._on_lost is not None:
            self._on_lost(lost)

    def _hand_on(self, samples: list[PointerSample]) -> None:
        if not samples:
            return
        if self._batches:
            self._sink(samples)
        else:
            for sample in samples:
                self._sink(sample)

    def stop(self) -> None:
        """Stop at once (samples still held back are handed to the sink first)."""
        started = self._thread.ident is not None
        self._stop.stop_thread(self._thread)
        if not started:
            self._conn.close()


__all__ = ["DeviceEvent", "PointerSample", "PointerTracker", "RawEvent", "XI2PointerListener",
           "parse_device_event", "parse_raw_event", "tell_pointer", "to_events"]
