"""A backend that replays a script: the recorder and its safeguards, tested without a display.

The way httpx tests with a mock transport: the recorder, the safeguard gate, the frame
pipeline and the store run for real; only the platform is scripted. A script is a list of
``(seconds, step)`` pairs, replayed in real time from :meth:`FakeBackend.start_input`,
each step at its offset from that moment. A step is

* an input event (``KeyEvent``, ``ButtonEvent``, ``ScrollEvent``, ``MoveEvent``, or a
  ``MarkerEvent`` such as ``keys_unattributed``): handed to the input sink as a
  :class:`Scripted` record and decoded on the recorder's thread, as a platform's are;
* a ``FocusEvent``: handed to the focus sink;
* :class:`Screen`: what :meth:`FakeBackend.grab` returns from then on;
* :class:`Windows`: the visible windows from then on (the window generation changes);
* :class:`~.backend.CaptureLost`: handed to the input sink, as a backend whose stream
  stopped does (the recorder ends the session).

Every event's ``t_ns`` becomes the monotonic time at which it is handed on, so timestamps
are real and in order; ``finished`` is set once the replay is over (the last step handed
on, or input stopped).

A test that needs to hand on a step at a moment of its own choosing (while it holds a lock
of the recorder, say) calls :meth:`FakeBackend.send` instead: the step is handed on at once,
on the caller's thread, as a platform's hook thread would, and an event keeps its
``t_ns``. Like a platform's hook, handing on a move or a press tells the
``pointer_observer`` (when one is set) after it is enqueued. ``decode_delay_s`` makes each decode take that long (a processor busy, e.g.
reading a prompt off the screen); ``decoded`` lists the events decoded, in order.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from ..events import ButtonEvent, Event, FocusEvent, KeyEvent, MoveEvent, RawEvent
from .backend import Backend, CaptureLost, FocusSink, InputRecord, RawSink, ScreenInfo, WindowInfo


@dataclass(frozen=True, slots=True)
class Scripted(InputRecord):
    """The input record of the fake backend: one event, decoded as it is."""

    event: RawEvent


@dataclass(frozen=True)
class Screen:
    """The screen from this step on: a ``(height, width)`` uint32 array (BGRX)."""

    pixels: np.ndarray


@dataclass(frozen=True)
class Windows:
    """The visible top-level windows from this step on, bottom first."""

    windows: tuple[WindowInfo, ...]


Step = Event | Screen | Windows | CaptureLost


def type_text(text: str, at: float, every: float = 0.02, keycode: int = 38) -> list[tuple[float, Step]]:
    """Press and release each character of ``text`` (plain keys, no modifiers; ``"\\n"``
    is Return), starting at ``at`` seconds, one key every ``every`` seconds."""
    steps: list[tuple[float, Step]] = []
    for i, ch in enumerate(text):
        name, char = ("Return", None) if ch == "\n" else (ch, ch)
        code = 36 if ch == "\n" else keycode + i % 20
        t = at + i * every
        steps.append((t, KeyEvent(0, True, code, ord(ch), name, char)))
        steps.append((t + every / 2, KeyEvent(0, False, code, ord(ch), name, char)))
    return steps


class FakeBackend(Backend):
    """Replays ``script`` (see the module docstring). ``windows``: the visible windows at
    the start; with them the backend locates windows (the gate judges the pointer by the
    window under it), without them it does not. ``pids``: window -> process id.
    ``decode_delay_s``: how long each decode takes."""

    name = "fake"

    def __init__(self, script: Iterable[tuple[float, Step]], *, size: tuple[int, int] = (320, 200),
                 windows: Sequence[WindowInfo] | None = None, pids: dict[int, int] | None = None,
                 decode_delay_s: float = 0.0):
        self.script = sorted(script, key=lambda item: item[0])
        self.width, self.height = size
        self.pixels = np.zeros((self.height, self.width), dtype=np.uint32)
        self.windows = tuple(windows or ())
        self.locates_windows = windows is not None
        self.pids = dict(pids or {})
        self.generation = 0
        self.decode_delay_s = decode_delay_s
        self.decoded: list[RawEvent] = []
        self.finished = threading.Event()
        self.indicator: list[str | None] = []
        self._focus: FocusSink | None = None
        self._sink: RawSink | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def screen_info(self) -> ScreenInfo:
        return ScreenInfo(self.width, self.height)

    def start_focus(self, sink: FocusSink) -> None:
        self._focus = sink

    def stop_focus(self) -> None:
        self._focus = None

    def start_input(self, sink: RawSink) -> None:
        self._sink = sink
        self._thread = threading.Thread(target=self._replay, args=(sink,), name="workprint-fake-input",
                                        daemon=True)
        self._thread.start()

    def stop_input(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _replay(self, sink: RawSink) -> None:
        try:
            self._play(sink)
        finally:
            self.finished.set()

    def _play(self, sink: RawSink) -> None:
        start = time.monotonic()
        for offset, step in self.script:
            if self._stop.wait(max(0.0, start + offset - time.monotonic())):
                return
            if isinstance(step, Event):
                step = replace(step, t_ns=time.monotonic_ns())
            self._hand_on(sink, step)

    def send(self, step: Step) -> None:
        """Hand ``step`` on now, on the caller's thread (after :meth:`start_input`); an event
        keeps the ``t_ns`` it was made with."""
        if self._sink is None:
            raise RuntimeError("FakeBackend.send before start_input")
        self._hand_on(self._sink, step)

    def _hand_on(self, sink: RawSink, step: Step) -> None:
        if isinstance(step, Screen):
            self.pixels = step.pixels
        elif isinstance(step, Windows):
            self.windows = step.windows
            self.generation += 1
        elif isinstance(step, CaptureLost):
            sink(step)
        elif isinstance(step, FocusEvent):
            if self._focus is not None:
                self._focus(step)
        else:
            sink(Scripted(step))
            observer = self.pointer_observer
            if observer is not None and isinstance(step, (MoveEvent, ButtonEvent)) and (
                    isinstance(step, MoveEvent) or step.down):
                observer(step.t_ns, step.x, step.y, isinstance(step, ButtonEvent))

    def observes_pointer(self) -> bool:
        return self.pointer_observer is not None

    def decode(self, raw: InputRecord) -> list[RawEvent]:
        if not isinstance(raw, Scripted):
            raise TypeError(f"FakeBackend cannot decode {type(raw).__name__}")
        if self.decode_delay_s:
            time.sleep(self.decode_delay_s)
        self.decoded.append(raw.event)
        return [raw.event]

    def grab(self) -> np.ndarray:
        return self.pixels

    def visible_windows(self) -> list[WindowInfo]:
        return list(self.windows)

    def window_stack(self) -> list[WindowInfo] | None:
        return list(self.windows) if self.locates_windows else None

    def window_pid(self, window: int) -> int | None:
        return self.pids.get(window)

    def window_generation(self) -> int:
        return self.generation

    def show_indicator(self, text: str | None) -> None:
        if not self.indicator or self.indicator[-1] != text:
            self.indicator.append(text)
