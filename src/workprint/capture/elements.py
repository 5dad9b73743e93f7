"""The element locator: which UI element each click, scroll and typing run acted on.

Platform-free. The recorder's processor asks (``request``, never blocking: a bounded queue,
full = that input gets no element, counted); one worker thread answers from an
:class:`ElementSource` (Linux: AT-SPI, :mod:`.linux.atspi_elements`) within a deadline and hands
the result - an :class:`~workprint.events.ElementEvent` with the ``t_ns`` of its input - to
``deliver`` (the recorder passes it through the safeguard gate). Nothing runs on the input
hook thread, and a slow or absent source costs "no element", never input.

Scope comes first: a pointer request is answered only when the window under its point is
recorded (``window_at`` returns that window, or None for anything out of scope, unknown or
undecidable); a key request only carries the focused window when the recorder has checked
that the gate records it. Apps that are not recorded are never asked.
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


@dataclass(frozen=True)
class ElementRequest:
    """What the processor asks for one input: ``via`` "point" (x, y: a press, the start of
    a scroll) or "focus" (a key, in the focused window ``window`` of ``pid``/``app``)."""

    t_ns: int
    via: str
    x: int = 0
    y: int = 0
    window: int = 0
    pid: int | None = None
    app: str = ""


class ElementSource(Protocol):
    """Finds elements on one platform. Called on the locator's thread only; must return by
    ``deadline`` (``time.monotonic()``) and answer None on any doubt; never raises for
    ordinary failures (the locator counts exceptions as errors)."""

    def at_point(self, pid: int, window, x: int, y: int, deadline: float) -> ElementEvent | None: ...

    def focused(self, pid: int, deadline: float) -> ElementEvent | None: ...

    def close(self) -> None: ...


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
                       "queue_full": 0, "stale": 0, "late": 0, "errors": 0}
        #: input event -> element delivered, in ms (a bounded reservoir), and its parts:
        #: input event -> the worker starts on it; the source's own time
        self.latency_ms: list[float] = []
        self.wait_ms: list[float] = []
        self.source_ms: list[float] = []
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

    def request(self, req: ElementRequest) -> bool:
        """Queue a request (never blocks); False when the queue is full."""
        self._count("requests")
        try:
            self._queue.put_nowait(req)
            return True
        except queue.Full:
            self._count("queue_full")
            return False

    def stats(self) -> dict:
        with self._lock:
            out: dict = dict(self.counts)
            series = {"latency_ms": sorted(self.latency_ms), "wait_ms": sorted(self.wait_ms),
                      "source_ms": sorted(self.source_ms)}
        for key, xs in series.items():
            if xs:
                pick = lambda q: round(xs[min(len(xs) - 1, int(q * len(xs)))], 2)  # noqa: E731
                out[key] = {"p50": pick(0.5), "p99": pick(0.99), "max": round(xs[-1], 2), "n": len(xs)}
        out["apps_asked"] = sorted(self.apps_asked)
        return out

    # -- worker ---------------------------------------------------------------------------
    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def _run(self) -> None:
        while True:
            req = self._queue.get()
            if req is None:
                return
            try:
                self._answer(req)
            except Exception:  # noqa: BLE001 - a broken source costs elements, never capture
                self._count("errors")

    def _answer(self, req: ElementRequest) -> None:
        begin = time.monotonic_ns()
        if begin - req.t_ns > self.stale_ns:
            self._count("stale")
            return
        deadline = time.monotonic() + self.budget_s
        if req.via == "point":
            win = self.window_at(req.x, req.y)  # the scope decision, before any query
            if win is None:
                self._count("out_of_scope")
                return
            pid = self.window_pid(getattr(win, "window", 0))
            app = getattr(win, "app_id", "")
            el = None
            if pid:
                self.apps_asked.add(app)
                el = self.source.at_point(pid, win, req.x, req.y, deadline)
        else:
            pid, app = req.pid, req.app
            el = None
            if pid:
                self.apps_asked.add(app)
                el = self.source.focused(pid, deadline)
        if el is None:
            self._count("none")
            return
        if time.monotonic() > deadline + 0.005:
            self._count("late")  # answered after its budget: the screen may have moved on
            return
        el = replace(el, t_ns=req.t_ns, app=app, via=req.via)
        done = time.monotonic_ns()
        with self._lock:
            self.counts["found"] += 1
            slot = random.randrange(LATENCY_SAMPLES) if len(self.latency_ms) >= LATENCY_SAMPLES else None
            for xs, sample in ((self.latency_ms, done - req.t_ns), (self.wait_ms, begin - req.t_ns),
                               (self.source_ms, done - begin)):
                if slot is None:
                    xs.append(sample / 1e6)
                else:
                    xs[slot] = sample / 1e6
        self.deliver(el)
