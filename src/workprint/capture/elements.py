"""The element locator: which UI element each click, scroll and typing run acted on.

Platform-free. The recorder's processor asks (``request``, never blocking: a bounded queue,
full = that input gets no element, counted) - or, for presses and pointer motion, the
backend's input hook does where it can (``pointer_seen``, a queue push: a press is asked
for before the processor, perhaps busy with earlier input, has decoded it). One worker
thread answers from an :class:`ElementSource` (Linux: AT-SPI, :mod:`.linux.atspi_elements`)
within a deadline and hands the result - an :class:`~workprint.events.ElementEvent` with the
``t_ns`` of its input - to ``deliver`` (the recorder passes it through the safeguard gate).
Nothing but that queue push runs on the input hook thread, and a slow or absent source
costs "no element", never input.

Scope comes first: a pointer request is answered only when the window under its point is
recorded (``window_at`` returns that window, or None for anything out of scope, unknown or
undecidable); a key request only carries the focused window when the recorder has checked
that the gate records it. Apps that are not recorded are never asked.

Warm-up: the input hook or the processor notes where the pointer moves (``note_pointer``:
an assignment, a queue push only after a warm-up); when it has rested ``REST_S`` at a point
the last answer does not cover (the source's ``covers``, else the last element's box), the
worker - if idle - asks the source about that point (``warm``, where the source has it).
The source keeps what it learnt (its frames and the descent there, see
:mod:`.atspi_elements`) and may answer a press that follows with the warm-up's element
where that covers the press. Settling: ``SETTLE_S`` after a press's element, the worker -
if idle - lets the source learn what the press focused (``settle``), so the first key
typed there may be answered at once. Same scope rule for both: a point in a window that
is not recorded is not asked about. Preparing: when a recorded window takes the focus
(``note_focus``), the worker - if idle - lets the source learn what a first press there
needs (``prepare``), after the same scope decision at the window's centre.

A press is told to the source after its question (``pressed``), answered or not: a key
typed within a few ms of a press may precede the focus change the press causes, and the
source judges such a key with the press (the focus tied to the pressed element, or none).
"""

from __future__ import annotations

import queue
import random
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Protocol

from ..events import ElementEvent

#: time one request may take in the source (then: no element)
ELEMENT_BUDGET_S = 0.1
#: a request that waited longer than this behind others is answered "no element" (the
#: screen may have changed since its input)
ELEMENT_STALE_S = 0.25
ELEMENT_QUEUE = 64
LATENCY_SAMPLES = 5000
#: the pointer resting this long at a point warms the source up for it
REST_S = 0.04
#: this long after a press's element, the source may learn what the press focused
SETTLE_S = 0.15
_WAKE = object()


@dataclass(frozen=True)
class ElementRequest:
    """What the processor asks for one input: ``via`` "point" (x, y: a press - ``press``
    True - or the start of a scroll) or "focus" (a key, in the focused window ``window`` of
    ``pid``/``app``)."""

    t_ns: int
    via: str
    x: int = 0
    y: int = 0
    window: int = 0
    pid: int | None = None
    app: str = ""
    asked_ns: int = 0  # when the processor asked (set by ``request``)
    press: bool = False


class ElementSource(Protocol):
    """Finds elements on one platform. Called on the locator's thread only; must return by
    ``deadline`` (``time.monotonic()``) and answer None on any doubt; never raises for
    ordinary failures (the locator counts exceptions as errors)."""

    def at_point(self, pid: int, window, x: int, y: int, deadline: float) -> ElementEvent | None: ...

    def focused(self, pid: int, deadline: float, at_ns: int | None = None) -> ElementEvent | None:
        """The element that had the focus in ``pid``'s program at ``at_ns`` (a key's
        ``t_ns``; None: now) - not the one focused when asked, which a Tab has already
        moved on - or None when that is not known."""

    def close(self) -> None: ...

    # optional: ``settle(pid, deadline)`` - a press in that program's window was answered a
    # moment ago: learn what it focused (a key's ``focused`` may then answer at once);
    # ``warm(pid, window, x, y, deadline)`` - the pointer rests there; learn what a
    # press there will need (its answer is only used where it covers); ``covers(x, y)`` -
    # the last point answer holds at (x, y) too (a rest there needs no warm-up; without it:
    # a rest inside the last element's box needs none); ``pressed(pid, t_ns)`` - the point
    # question just asked (answered or not) was a press at ``t_ns`` in a window of ``pid``
    # (None: out of scope): a key soon after it may precede the focus change it causes;
    # ``prepare(pid, window, deadline)`` - that recorded window took the focus: learn what a
    # first press in it needs


class ElementLocator:
    def __init__(self, source: ElementSource, *, deliver: Callable[[ElementEvent], None],
                 window_at: Callable[[int, int], object | None],
                 window_pid: Callable[[int], int | None],
                 budget_s: float = ELEMENT_BUDGET_S, stale_s: float = ELEMENT_STALE_S,
                 queue_size: int = ELEMENT_QUEUE):
        self.source = source
        self.deliver = deliver
        self.window_at = window_at
        self.window_pid = window_pid
        self.budget_s = budget_s
        self.stale_ns = int(stale_s * 1e9)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="workprint-elements", daemon=True)
        self._lock = threading.Lock()
        self.counts = {"requests": 0, "found": 0, "none": 0, "out_of_scope": 0,
                       "queue_full": 0, "stale": 0, "late": 0, "errors": 0, "warmups": 0, "settles": 0,
                       "prepares": 0}
        self._pointer: tuple[int, int, int] | None = None   # (t_ns, x, y) of the last move
        self._warmed: tuple[int, int, int] | None = None
        self._settle: tuple[int, int, int] | None = None  # (due ns, x, y) after a press
        self._prepare = None  # a recorded window that took the focus (see ``note_focus``)
        self._last_box = None  # the last element's box: a rest inside it needs no warm-up
        #: input event -> element delivered, in ms (a bounded reservoir), and its parts:
        #: input event -> the worker starts on it; the source's own time; and what the
        #: element adds: the processor asked -> element delivered (the time before the ask
        #: is the input pipeline's, which the input event itself goes through too)
        self.latency_ms: list[float] = []
        self.wait_ms: list[float] = []
        self.source_ms: list[float] = []
        self.added_ms: list[float] = []
        #: input event -> element delivered by the kind of request: presses and scrolls
        #: ("point") apart from keys ("focus"), whose typing run is stored later anyway
        self.via_latency_ms: dict[str, list[float]] = {"point": [], "focus": []}
        #: app ids asked (for the session stats: apps outside scope never appear here)
        self.apps_asked: set[str] = set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)
        try:
            self.source.close()
        except Exception:  # noqa: BLE001
            pass

    def note_pointer(self, t_ns: int, x: int, y: int) -> None:
        """The pointer moved to (x, y) (the processor, at its move rate; never blocks). The
        first move after a warm-up wakes the worker, which warms up once it rests."""
        idle = self._pointer is None or self._pointer is self._warmed
        self._pointer = (t_ns, x, y)
        if idle:
            try:
                self._queue.put_nowait(_WAKE)
            except queue.Full:
                pass

    def note_focus(self, focus) -> None:
        """A window took the focus and the gate records it (the processor; never blocks): the
        worker, when idle, lets the source learn what a first press there needs (its
        ``prepare``: AT-SPI's apps and frames of the window's program), once the window is
        still the recorded one at its centre."""
        if getattr(self.source, "prepare", None) is None or not getattr(focus, "pid", None):
            return
        self._prepare = focus
        try:
            self._queue.put_nowait(_WAKE)
        except queue.Full:
            pass

    def pointer_seen(self, t_ns: int, x: int, y: int, press: bool) -> None:
        """A backend's ``pointer_observer``, on its input hook thread: a press is asked for at
        once and a motion noted, without waiting for the processor (which may be busy with
        earlier input or the store). Never blocks, never touches the bus or the gate: the
        scope decision is the worker's, as for every request."""
        if press:
            self.request(ElementRequest(t_ns, "point", x, y, press=True))
        else:
            self.note_pointer(t_ns, x, y)

    def request(self, req: ElementRequest) -> bool:
        """Queue a request (never blocks); False when the queue is full."""
        self._count("requests")
        try:
            self._queue.put_nowait(replace(req, asked_ns=time.monotonic_ns()))
            return True
        except queue.Full:
            self._count("queue_full")
            return False

    def stats(self) -> dict:
        with self._lock:  # (copied under the lock, sorted outside it: the hook counts too)
            out: dict = dict(self.counts)
            series = {"latency_ms": list(self.latency_ms), "wait_ms": list(self.wait_ms),
                      "source_ms": list(self.source_ms), "added_ms": list(self.added_ms),
                      **{f"{via}_latency_ms": list(xs) for via, xs in self.via_latency_ms.items()}}
        for key, xs in series.items():
            xs.sort()
            if xs:
                pick = lambda q: round(xs[min(len(xs) - 1, int(q * len(xs)))], 2)  # noqa: E731
                out[key] = {"p50": pick(0.5), "p99": pick(0.99), "max": round(xs[-1], 2), "n": len(xs)}
        out["apps_asked"] = sorted(self.apps_asked)
        for key in ("calls", "round_trips"):  # the source's own totals, where it counts them
            value = getattr(self.source, key, None)
            if isinstance(value, int):
                out[f"source_{key}"] = value
        return out

    # -- worker ---------------------------------------------------------------------------
    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def _run(self) -> None:
        while True:
            rest, settle, prepare = self._pointer, self._settle, self._prepare
            dues = [settle[0]] if settle is not None else []
            if prepare is not None:
                dues.append(0)
            if rest is not None and rest is not self._warmed:
                dues.append(rest[0] + int(REST_S * 1e9))
            timeout = max(0.0, (min(dues) - time.monotonic_ns()) / 1e9) if dues else None
            try:
                req = self._queue.get(timeout=timeout)
            except queue.Empty:
                now = time.monotonic_ns()
                try:
                    if prepare is not None and prepare is self._prepare:
                        self._prepare = None  # a recorded window took the focus
                        self._prepare_for(prepare)
                    elif settle is not None and settle is self._settle and now >= settle[0]:
                        self._settle = None   # after a press: what it focused
                        self._settle_at(settle[1], settle[2])
                    elif rest is not None and self._pointer is rest and now >= rest[0] + int(REST_S * 1e9):
                        self._warmed = rest   # it rested there: warm up (once per rest)
                        self._warm(rest[1], rest[2])
                except Exception:  # noqa: BLE001
                    self._count("errors")
                continue
            if req is None:
                return
            if req is _WAKE:
                continue
            try:
                self._answer(req)
            except Exception:  # noqa: BLE001 - a broken source costs elements, never capture
                self._count("errors")

    def _warm(self, x: int, y: int) -> None:
        warm = getattr(self.source, "warm", None)
        covers = getattr(self.source, "covers", None)  # else: inside the last element's box
        box = self._last_box
        if warm is None or (covers(x, y) if covers is not None else box is not None and box.contains(x, y)):
            return
        win = self.window_at(x, y)  # the same scope decision as for a press
        if win is None:
            return
        pid = self.window_pid(getattr(win, "window", 0))
        if not pid:
            return
        self._count("warmups")
        el = warm(pid, win, x, y, time.monotonic() + self.budget_s)
        self._last_box = el.box if el is not None else None

    def _prepare_for(self, focus) -> None:
        geo = getattr(focus, "geometry", None)
        if geo is None:
            return
        win = self.window_at(geo.x + geo.width // 2, geo.y + geo.height // 2)  # the scope decision
        if win is None or getattr(win, "window", None) != focus.window:
            return
        pid = self.window_pid(focus.window)
        if pid:
            self._count("prepares")
            self.source.prepare(pid, win, time.monotonic() + self.budget_s)

    def _settle_at(self, x: int, y: int) -> None:
        settle = getattr(self.source, "settle", None)
        win = self.window_at(x, y) if settle is not None else None  # the scope decision again
        pid = self.window_pid(getattr(win, "window", 0)) if win is not None else None
        if pid:
            self._count("settles")
            settle(pid, time.monotonic() + self.budget_s)

    def _answer(self, req: ElementRequest) -> None:
        pressed = getattr(self.source, "pressed", None) if req.press else None
        begin = time.monotonic_ns()
        if begin - req.t_ns > self.stale_ns:
            self._count("stale")
            if pressed is not None:
                pressed(None, req.t_ns)
            return
        deadline = time.monotonic() + self.budget_s
        if req.via == "point":
            win = self.window_at(req.x, req.y)  # the scope decision, before any query
            if win is None:
                self._count("out_of_scope")
                if pressed is not None:
                    pressed(None, req.t_ns)
                return
            pid = self.window_pid(getattr(win, "window", 0))
            app = getattr(win, "app_id", "")
            el = None
            try:
                if pid:
                    self.apps_asked.add(app)
                    el = self.source.at_point(pid, win, req.x, req.y, deadline)
            finally:
                if pressed is not None:
                    pressed(pid, req.t_ns)
        else:
            pid, app = req.pid, req.app
            el = None
            if pid:
                self.apps_asked.add(app)
                el = self.source.focused(pid, deadline, req.t_ns)  # the focus at the key's time
        if el is None:
            self._count("none")
            return
        if time.monotonic() > deadline + 0.005:
            self._count("late")  # answered after its budget: the screen may have moved on
            return
        if req.via == "point":
            self._last_box = el.box
            if hasattr(self.source, "settle"):
                self._settle = (time.monotonic_ns() + int(SETTLE_S * 1e9), req.x, req.y)
        el = replace(el, t_ns=req.t_ns, app=app, via=req.via)
        done = time.monotonic_ns()
        with self._lock:
            self.counts["found"] += 1
            slot = random.randrange(LATENCY_SAMPLES) if len(self.latency_ms) >= LATENCY_SAMPLES else None
            for xs, sample in ((self.latency_ms, done - req.t_ns), (self.wait_ms, begin - req.t_ns),
                               (self.source_ms, done - begin), (self.added_ms, done - (req.asked_ns or req.t_ns))):
                if slot is None:
                    xs.append(sample / 1e6)
                else:
                    xs[slot] = sample / 1e6
            xs = self.via_latency_ms.setdefault(req.via, [])
            if len(xs) < LATENCY_SAMPLES:
                xs.append((done - req.t_ns) / 1e6)
            else:
                xs[random.randrange(LATENCY_SAMPLES)] = (done - req.t_ns) / 1e6
        self.deliver(el)
