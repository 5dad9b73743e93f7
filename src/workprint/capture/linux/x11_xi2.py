"""Keys from XInput2 raw events: lossless where RECORD is not.

Measured on Xvfb (2 cores): with a terminal focused, 2,000 key events injected through
XTEST as fast as the client can send them reach a plain RECORD client only 48-88 % of the
time (the terminal itself receives every one), while an XI2 ``RawKeyPress/Release``
listener on the root window receives 2,000 of 2,000 in every run. Pointer events are lost
the same way once other clients also receive input (see :mod:`.x11_xi2_pointer`, which is
now the pointer source).

Raw events carry neither the modifier state nor the server's auto-repeat presses, so:

* :class:`KeyState` tracks the modifier mask from the raw presses and releases (seeded
  from ``QueryPointer`` at start, lock modifiers toggle on press), pure and testable;
* auto-repeat presses still come from RECORD (which then records presses only): a RECORD
  press of a key the raw stream says is held since at least ``REPEAT_MIN_MS`` is a
  repeat; every other RECORD press is a duplicate of a raw one and is dropped.

The listener reads its own connection after set-up and takes the few fields it needs from
each packet (:func:`raw_key_packets`) instead of building python-xlib's event objects (the
CPU this saves per key: BENCHMARKS.md, "OCR off, sixth sitting").
"""

from __future__ import annotations

import select
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..backend import InputRecord
from .wakeup import StopSignal

REPEAT_MIN_MS = 100  # X auto-repeat delays are >= 200 ms in practice
LOCK_KEYSYMS = frozenset({0xFFE5, 0xFFE6, 0xFF7F})  # Caps_Lock, Shift_Lock, Num_Lock


@dataclass(frozen=True, slots=True)
class RawKey(InputRecord):
    """What the listener hands to the sink: one raw key press or release."""

    t_ns: int  # monotonic, when the listener read it
    keycode: int
    down: bool
    server_ms: int  # the X server's event time


class KeyState:
    """Modifier mask and held keys, from raw key presses/releases (X server semantics:
    the state reported with an event is the state *before* it)."""

    def __init__(self, modmap: list[list[int]], lock_keycodes: set[int], initial_mask: int = 0):
        self.mask = initial_mask & 0xFF
        #: the locked XKB group (state bits 13-14); raw events do not carry it, so it is
        #: seeded from the server, follows group keys (see :meth:`set_group`) and is
        #: re-read from the server by the backend after a pause in typing
        self.group = (initial_mask >> 13) & 3
        self.set_modmap(modmap, lock_keycodes)
        self._down: dict[int, int] = {}  # keycode -> server time of its raw press

    def set_modmap(self, modmap: list[list[int]], lock_keycodes: set[int]) -> None:
        self._mod_of: dict[int, int] = {}
        for bit, codes in enumerate(modmap[:8]):
            for code in codes:
                if code:
                    self._mod_of[code] = bit
        self._locks = set(lock_keycodes)

    def raw(self, keycode: int, down: bool, server_ms: int) -> int | None:
        """Apply a raw key event; returns the state before it (modifier mask, group in
        bits 13-14), or None for a release of a key that is not down (XTEST clients such
        as xdotool send those; the server's core processing drops them, and so do we)."""
        before = self.mask | (self.group << 13)
        if down:
            self._down[keycode] = server_ms
        elif self._down.pop(keycode, None) is None:
            return None
        bit = self._mod_of.get(keycode)
        if bit is not None:
            if keycode in self._locks:
                if down:
                    self.mask ^= 1 << bit
            elif down:
                self.mask |= 1 << bit
            elif not any(self._mod_of.get(k) == bit for k in self._down):
                self.mask &= ~(1 << bit)
        return before

    def set_group(self, group: int) -> None:
        self.group = group & 3

    @property
    def held(self) -> bool:
        """Is any key down?"""
        return bool(self._down)

    def is_repeat(self, keycode: int, server_ms: int) -> bool:
        """Is a RECORD press of ``keycode`` at ``server_ms`` an auto-repeat of a held key?"""
        pressed = self._down.get(keycode)
        if pressed is None:
            return False
        since = (server_ms - pressed) % 2**32  # server time wraps after ~49 days
        # RECORD may deliver its copy of an earlier press after the raw stream has moved
        # on to a later press of the same key: "before the press" is never a repeat
        return REPEAT_MIN_MS <= since < 2**31


def _raw_time_detail(data: Any) -> tuple[int, int]:
    """(server time ms, keycode) of an XIRawEvent. python-xlib leaves raw events'
    payload unparsed: after evtype come deviceid CARD16, time CARD32, detail CARD32,
    in the connection's (native) byte order."""
    if isinstance(data, (bytes, bytearray)):
        _device, server_ms, detail = struct.unpack_from("=HII", data, 0)
        return server_ms, detail
    return data.time, data.detail


_GENERIC_EVENT = 35
_RAW_KEY_PRESS, _RAW_KEY_RELEASE = 13, 14  # XI_RawKeyPress, XI_RawKeyRelease


def raw_key_packets(buf: bytes, xi_opcode: int) -> tuple[list[tuple[bool, int, int]], int]:
    """The raw key events among the complete X packets at the start of ``buf`` (bytes from
    the server, in the connection's native byte order): ``(down, server time ms, keycode)``
    each, and how many bytes they used (a packet cut at the end of ``buf`` is left for the
    next read). A packet is 32 bytes; a reply or a GenericEvent has 4 bytes more per unit
    of its length field (at byte 4). GenericEvent: byte 1 the extension's major opcode,
    evtype CARD16 at 8; an XIRawEvent has deviceid CARD16 at 10, time and detail CARD32 at
    12 and 16. Every other packet (MappingNotify goes to every client) is skipped."""
    keys: list[tuple[bool, int, int]] = []
    off, end = 0, len(buf)
    while end - off >= 32:
        kind = buf[off] & 0x7F
        size = 32 + 4 * struct.unpack_from("=I", buf, off + 4)[0] if kind in (1, _GENERIC_EVENT) else 32
        if end - off < size:
            break
        if kind == _GENERIC_EVENT and buf[off + 1] == xi_opcode:
            evtype, = struct.unpack_from("=H", buf, off + 8)
            if evtype == _RAW_KEY_PRESS or evtype == _RAW_KEY_RELEASE:
                server_ms, detail = struct.unpack_from("=II", buf, off + 12)
                keys.append((evtype == _RAW_KEY_PRESS, server_ms, detail))
        off += size
    return keys, off


def _read_raw_keys(sock, buf: bytes, xi_opcode: int, sink: Callable[["RawKey"], None],
                   stop: StopSignal) -> None:
    """Reads the listener's connection until ``stop`` (returns) or the server ends it
    (raises): each raw key press/release to ``sink``, stamped when read."""
    now = time.monotonic_ns
    fd, stop_fd = sock.fileno(), stop.fd
    while True:
        keys, used = raw_key_packets(buf, xi_opcode)
        for down, server_ms, keycode in keys:  # stamped one by one: a key's t_ns is its id
            sink(RawKey(now(), keycode, down, server_ms))
        buf = buf[used:]
        ready, _, _ = select.select([fd, stop_fd], [], [])
        if stop_fd in ready:
            return
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the X server closed the connection")
        buf += data


def xi2_available(display) -> bool:
    try:
        if not display.has_extension("XInputExtension"):
            return False
        v = display.xinput_query_version()  # python-xlib announces 2.0 itself
        return (v.major_version, v.minor_version) >= (2, 0)
    except Exception:  # noqa: BLE001 - any protocol surprise: not available
        return False


class RawKeyListener:
    """A thread on its own connection that forwards raw key presses/releases to ``sink``
    (never blocks: the sink only enqueues). ``stop()`` returns at once. If the stream
    ends on its own (X error, connection killed), ``on_lost(reason)`` is called once from
    the listener thread, so the backend can fall back to RECORD for keys."""

    def __init__(self, open_display: Callable[[], Any], sink: Callable[[RawKey], None],
                 on_lost: Callable[[str], None] | None = None):
        from Xlib.ext import xinput

        self._xinput = xinput
        self._conn = open_display()
        root = self._conn.screen().root
        root.xinput_select_events([(xinput.AllMasterDevices,
                                    xinput.RawKeyPressMask | xinput.RawKeyReleaseMask)])
        self._conn.sync()
        self._sink = sink
        self._on_lost = on_lost
        self._stop = StopSignal()
        self._thread = threading.Thread(target=self._run, name="workprint-x11-keys", daemon=True)

    @property
    def connection(self) -> Any:
        return self._conn

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        xi = self._xinput
        conn, sink, now = self._conn, self._sink, time.monotonic_ns
        try:
            # what python-xlib read with the set-up's sync is in its queue and buffer; from
            # here on this thread alone reads the connection and sends nothing
            while conn.pending_events():
                ev = conn.next_event()
                evtype = getattr(ev, "evtype", None)
                if evtype == xi.RawKeyPress or evtype == xi.RawKeyRelease:
                    server_ms, keycode = _raw_time_detail(ev.data)
                    sink(RawKey(now(), keycode, evtype == xi.RawKeyPress, server_ms))
            left = conn.display.data_recv  # bytes, or python-xlib's view of them
            _read_raw_keys(conn.display.socket, left[:] if left else b"",
                           conn.display.get_extension_major(xi.extname), sink, self._stop)
        except Exception as exc:  # noqa: BLE001 - stopped on its own: say so
            if not self._stop.is_set() and self._on_lost is not None:
                self._on_lost(f"{type(exc).__name__}: {exc}"[:200])
        finally:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def stop(self) -> None:
        self._stop.stop_thread(self._thread)
