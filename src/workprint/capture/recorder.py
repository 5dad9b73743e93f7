"""The platform-free recorder: hook -> queue -> processor -> (gate) -> store, plus frames.

Threads:

* the backend's input hook only enqueues its input records (:class:`~.backend.InputRecord`,
  never blocks, never drops);
* the **processor** decodes records into raw events, coalesces pointer moves (<= 60 Hz,
  keeping the last position before every button/scroll/key), tells the frame pipeline
  about pre-action moments, passes events through the safeguard gate and writes them to
  the store in batches at least every ``flush_interval`` seconds (so a ``kill -9`` loses
  at most that window). While the frame pipeline holds the store (a frame being written)
  the batch waits and is tried again every ``COMMIT_RETRY_S``, so that the processor keeps
  taking input - and asking for its elements - instead of blocking behind the frame;
* the frame pipeline (see :mod:`workprint.capture.frames`);
* optionally the element locator (:mod:`workprint.capture.elements`): the processor asks it,
  without waiting, for the UI element of each press, scroll start and key that may start an
  action (presses and pointer motion: the backend's input hook tells it directly where the
  backend can, ``Backend.pointer_observer``); its answers come back through :meth:`Recorder.inject` and the gate;
* optionally the accessibility tree taker (:mod:`workprint.capture.a11y_tree`): the frame
  pipeline tells it of each settled frame it stores; its trees come back the same way
  (never stored without a gate: the gate bounds and redacts them).
"""

from __future__ import annotations

import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from ..errors import CaptureError, DiskFullError, StoreError
from ..events import (CHORD_MODIFIERS, MODIFIER_KEYS, TYPING_RUN_GAP_NS, A11yTreeEvent, ButtonEvent, ElementEvent,
                      FocusEvent, KeyEvent, MoveEvent, RawEvent, ScrollEvent)
from ..store.session import SessionWriter
from .backend import Backend, CaptureLost
from .a11y_tree import TreeTaker
from .elements import ElementLocator, ElementRequest
from .frames import FramePipeline

LATENCY_SAMPLES = 20_000
INPUT_DELIVERY_NS = 30_000_000  # a key pressed before a grab is queued within this
GATE_TICK_S = 1.0  # idle/lock checks while nothing happens
COMMIT_RETRY_S = 0.004  # a batch that found the store busy (a frame being written) is retried
COMMIT_WAIT_EVENTS = 4096  # a batch this large waits for the store instead


class Gate(Protocol):
    """Safeguards between capture and store (see :mod:`workprint.policy.gate`)."""

    @property
    def recording(self) -> bool: ...

    @property
    def holding(self) -> bool: ...

    def process(self, ev: RawEvent) -> list[RawEvent]: ...

    def tick(self, now_ns: int | None = None, *, locked: bool = False) -> list[RawEvent]: ...

    def flush(self, now_ns: int | None = None) -> list[RawEvent]: ...


@dataclass
class RecorderStats:
    events: dict[str, int] = field(default_factory=dict)
    raw_records: int = 0
    frames_stored: int = 0
    frames_dropped: int = 0
    frames_withheld: int = 0
    grabs: int = 0
    max_queue: int = 0
    error: str | None = None
    #: events decoded from the hook, by kind, before move coalescing and safeguards
    decoded: dict[str, int] = field(default_factory=dict)
    #: hook-to-commit latency samples in ms (a bounded reservoir)
    latency_ms: list[float] = field(default_factory=list)
    #: the same for pointer events only (moves, buttons, scrolls: typing runs, which are
    #: held until they end so they can be redacted whole, dominate the one above)
    pointer_latency_ms: list[float] = field(default_factory=list)

    def latency_percentiles(self, samples: list[float] | None = None) -> dict[str, float]:
        samples = self.latency_ms if samples is None else samples
        if not samples:
            return {}
        xs = sorted(samples)
        pick = lambda q: round(xs[min(len(xs) - 1, int(q * len(xs)))], 2)  # noqa: E731
        return {"p50": pick(0.50), "p99": pick(0.99), "max": round(xs[-1], 2)}


class Recorder:
    def __init__(self, backend: Backend, writer: SessionWriter, *, frames: bool = True,
                 flush_interval: float = 0.25, move_hz: float = 60.0, encoder_delay_s: float = 0.0,
                 gate: Gate | None = None,
                 frame_redactor: Callable | None = None, text_mask=None,
                 elements: ElementLocator | None = None, trees: TreeTaker | None = None):
        self.backend = backend
        self.writer = writer
        self.flush_interval = flush_interval
        self.move_interval_ns = int(1e9 / move_hz)
        self.gate = gate
        self.stats = RecorderStats()
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._buffer: list[RawEvent] = []
        self._pending_move: MoveEvent | None = None
        self._last_move_ns = 0
        self._last_activity_note = 0
        self._last_key_ns = 0
        self._in_typing = False
        self._in_scroll = False
        self._last_lock_check = 0.0
        self._locked = False
        self.elements = elements
        self._focus_seen: FocusEvent | None = None
        self._prev_key_text = False
        self._prev_scroll: tuple[str, bool, int, int] | None = None
        self._commit_due = False
        if elements is not None:
            elements.deliver = self._deliver_element
        self.trees = trees
        if trees is not None:
            trees.deliver = self._deliver_tree
        self._processor = threading.Thread(target=self._process_loop, name="workprint-processor", daemon=True)
        self.frames = FramePipeline(backend.grab, writer, on_error=self._fail,
                                    encoder_delay_s=encoder_delay_s,
                                    redact=frame_redactor, text_mask=text_mask,
                                    generation=backend.window_generation,
                                    grab_keeps_unchanged=backend.grab_keeps_unchanged,
                                    on_stored=trees.frame_stored if trees is not None else None) if frames else None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        if self.elements is not None:
            self.elements.start()
        if self.trees is not None:
            self.trees.start()
        self._processor.start()
        self.backend.start_focus(self._queue.put)
        if self.elements is not None:  # presses are asked for from the input hook, where it can
            self.backend.pointer_observer = self.elements.pointer_seen
        self.backend.start_input(self._queue.put)
        if self.frames:
            self.frames.start()

    def stop(self) -> RecorderStats:
        """Stop capture at once, flush everything, close nothing (the caller closes the
        writer). Safe to call twice."""
        self.backend.stop_input()
        self.backend.stop_focus()
        if self.elements is not None:
            self.elements.stop()  # its last answers are queued before the end marker
        if self.trees is not None:
            self.trees.stop()
        self.stopped.set()
        self._queue.put(None)
        self._processor.join(timeout=10)
        if self.frames:
            self.frames.stop()
            self.stats.frames_stored = self.frames.stored
            self.stats.frames_dropped = self.frames.dropped
            self.stats.frames_withheld = self.frames.withheld
            self.stats.grabs = self.frames.grabs
        if self.error:
            self.stats.error = str(self.error)
        return self.stats

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.stopped.set()

    # -- processing -------------------------------------------------------------------------
    def _timeout(self, now: float, last_write: float, last_tick: float) -> float | None:
        """How long the processor may sleep: until buffered events are due to be written
        (at most one write per ``flush_interval``), a coalesced move has come to rest, or a
        held unit or gesture is due for a gate tick; with nothing pending, until the idle
        tick (or for good without a gate). A batch that found the store busy is retried
        after ``COMMIT_RETRY_S``."""
        if self._commit_due:
            return COMMIT_RETRY_S
        due: list[float] = []
        if self._buffer:
            due.append(last_write + self.flush_interval)
        if self._pending_move is not None:
            due.append(max(last_write + self.flush_interval,
                           (self._pending_move.t_ns + self.move_interval_ns) / 1e9))
        if self.gate is not None and self.gate.holding:
            due.append(last_tick + self.flush_interval)
        if due:
            return max(0.0, min(due) - now)
        return GATE_TICK_S if self.gate is not None else None

    def _process_loop(self) -> None:
        # Writes are batched (one per flush_interval at most) but an event that arrives
        # after a quiet stretch is written at once: the batching clock runs from the last
        # write, not from the last tick of a held unit (a unit is held for seconds, and
        # ticking it must not delay the pointer events that arrive meanwhile).
        last_write = last_tick = time.monotonic()
        try:
            while True:
                timeout = self._timeout(time.monotonic(), last_write, last_tick)
                done = False
                try:
                    item = self._queue.get(timeout=timeout)
                    batch = [item]
                    while True:
                        try:
                            batch.append(self._queue.get_nowait())
                        except queue.Empty:
                            break
                except queue.Empty:
                    batch = []
                self.stats.max_queue = max(self.stats.max_queue, len(batch))
                lost: CaptureLost | None = None
                for item in batch:
                    if item is None:
                        done = True
                        break
                    elif isinstance(item, CaptureLost):  # nothing after it is processed
                        lost, done = item, True
                        break
                    elif isinstance(item, FocusEvent):
                        self._on_event(item)
                    elif callable(item):
                        self._buffer.extend(item())
                    else:
                        self.stats.raw_records += 1
                        for ev in self.backend.decode(item):
                            self._on_event(ev)
                now = time.monotonic()
                if done or now - last_tick >= self.flush_interval or (
                        (self._buffer or self._pending_move is not None)
                        and now - last_write >= self.flush_interval and not self._commit_due):
                    if self._flush(final=done):
                        last_write = now
                    last_tick = now
                elif self._commit_due and self._commit():
                    last_write = now
                if lost is not None:  # everything before it is stored; nothing after it is
                    self._fail(CaptureError(
                        f"Capture stopped: the {lost.source} stream was lost ({lost.reason}). "
                        f"The session is saved up to this moment. Check that the display "
                        f"server is still running, then start `workprint record` again."))
                if done:
                    return
        except BaseException as exc:  # noqa: BLE001 - surfaced to the CLI, recording stops
            self._fail(exc)

    def _emit(self, ev: RawEvent) -> None:
        if self.gate is None:
            self._buffer.append(ev)
        else:
            self._buffer.extend(self.gate.process(ev))

    def forget(self, since_ns: int, until_ns: int) -> dict[str, int]:
        """``workprint forget`` while recording: nothing grabbed or captured in
        ``[since_ns, until_ns]`` is written from now on, wherever it still waits - events
        held by the gate or buffered here, grabs in the frame ring, the encoder queue, the
        OCR quarantine. (What was already written is deleted by the store's forget.)
        Callable from any thread; returns how many frames were dropped at once."""
        self.writer.forget(since_ns, until_ns)  # first: the last barrier before disk
        frames = self.frames.forget(since_ns, until_ns) if self.frames else 0
        forget_trees = getattr(self.gate, "forget_trees", None)
        if forget_trees is not None:
            forget_trees()  # the tree stored last may be gone: store the next one whole
        return {"frames": frames}

    def input_barrier(self, t_ns: int, timeout_s: float = 5.0) -> bool:
        """Wait until every input event captured before ``t_ns`` (a frame's grab time) has
        been through the gate, so that what the gate knows about secrets covers that frame.
        A marker queued behind them is run by the processor in order; ``INPUT_DELIVERY_NS``
        allows for the display server's delivery of the last keys. False on time-out."""
        delay = (t_ns + INPUT_DELIVERY_NS - time.monotonic_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)
        reached = threading.Event()
        self._queue.put(lambda: reached.set() or [])
        deadline = time.monotonic() + timeout_s
        while not reached.wait(0.05):
            if not self._processor.is_alive():
                return True   # stopped: it processed everything queued before its end
            if time.monotonic() > deadline:
                return False
        return True

    def inject(self, fn: Callable[[], list[RawEvent]]) -> None:
        """Run ``fn`` on the processor thread and store what it returns (control
        commands such as pause or task markers use this, from any thread)."""
        self._queue.put(fn)

    def _deliver_element(self, el: ElementEvent) -> None:
        """From the locator's thread: the element joins the stream through the gate."""
        gate = self.gate
        self._queue.put(lambda: gate.element(el) if gate is not None else [el])

    def _deliver_tree(self, tree: A11yTreeEvent, window: int) -> None:
        """From the tree taker's thread: the tree joins the stream through the gate (and
        only through it)."""
        gate = self.gate
        if gate is not None:
            self._queue.put(lambda: gate.a11y_tree(tree, window))

    def _ask_element(self, ev: RawEvent, trigger: str | None) -> None:
        """Ask the locator (never waits) for the element of an input that may start an
        action: a press, a scroll tick that starts a run or moved, a key that may start a
        run or is one of its own (Enter, Tab, chords). Only while the gate records."""
        if self.gate is not None and not self.gate.recording:
            return
        if isinstance(ev, ButtonEvent):
            if ev.down and not self.backend.observes_pointer():  # (else the hook asked)
                self.elements.request(ElementRequest(ev.t_ns, "point", ev.x, ev.y, press=True))
        elif isinstance(ev, ScrollEvent):
            shape = ("v" if ev.dy else "h", (ev.dy or ev.dx) > 0, ev.x, ev.y)
            prev = self._prev_scroll
            self._prev_scroll = shape
            if (trigger is not None or prev is None or prev[:2] != shape[:2]
                    or (prev[2] - ev.x) ** 2 + (prev[3] - ev.y) ** 2 > 36):
                self.elements.request(ElementRequest(ev.t_ns, "point", ev.x, ev.y))
        elif isinstance(ev, KeyEvent) and ev.down and ev.key not in MODIFIER_KEYS:
            text = (ev.char is not None and ev.char.isprintable() and ev.char != ""
                    and not CHORD_MODIFIERS.intersection(ev.modifiers))
            ask = trigger is not None or not text or not self._prev_key_text
            self._prev_key_text = text
            focus = self._focus_seen
            if ask and focus is not None and focus.pid:
                self.elements.request(ElementRequest(ev.t_ns, "focus", window=focus.window,
                                                     pid=focus.pid, app=focus.app_id))

    def _on_event(self, ev: RawEvent) -> None:
        self.stats.decoded[ev.kind] = self.stats.decoded.get(ev.kind, 0) + 1
        if isinstance(ev, MoveEvent):
            if self.elements is not None and not self.backend.observes_pointer() and (
                    self.gate is None or self.gate.recording):
                self.elements.note_pointer(ev.t_ns, ev.x, ev.y)  # a rest warms the locator up
            if ev.t_ns - self._last_move_ns >= self.move_interval_ns:
                self._pending_move = None
                self._last_move_ns = ev.t_ns
                self._emit(ev)
            else:
                self._pending_move = ev
            if self.frames and ev.t_ns - self._last_activity_note > 100_000_000:
                self._last_activity_note = ev.t_ns
                self.frames.note_input(ev.t_ns, None)
            return
        if self._pending_move is not None:
            self._emit(self._pending_move)
            self._last_move_ns = self._pending_move.t_ns
            self._pending_move = None
        trigger = self._trigger(ev)
        if isinstance(ev, FocusEvent):
            self._focus_seen = ev
            self._prev_key_text = False
        elif self.elements is not None:
            self._ask_element(ev, trigger)  # first: the locator starts while the gate works
        self._emit(ev)
        if isinstance(ev, FocusEvent) and self.elements is not None and (self.gate is None or self.gate.recording):
            self.elements.note_focus(ev)  # (the gate has judged it: a recorded window)
        if self.frames and (trigger or not isinstance(ev, FocusEvent)) and (
                self.gate is None or self.gate.recording):
            self.frames.note_input(ev.t_ns, trigger)

    def _trigger(self, ev: RawEvent) -> str | None:
        """Which pre-action frame an event calls for (start of a run, a press, a chord)."""
        if isinstance(ev, FocusEvent):
            self._in_typing = self._in_scroll = False
            return "focus"
        if isinstance(ev, ButtonEvent):
            self._in_typing = self._in_scroll = False
            return "pre_click" if ev.down else None
        if isinstance(ev, ScrollEvent):
            self._in_typing = False
            started = not self._in_scroll
            self._in_scroll = True
            return "pre_scroll" if started else None
        if isinstance(ev, KeyEvent) and ev.down and ev.key not in MODIFIER_KEYS:
            self._in_scroll = False
            chord = bool(CHORD_MODIFIERS.intersection(ev.modifiers))
            gap = ev.t_ns - self._last_key_ns > TYPING_RUN_GAP_NS
            self._last_key_ns = ev.t_ns
            if chord:
                self._in_typing = False
                return "pre_key"
            started = not self._in_typing or gap
            self._in_typing = True
            return "pre_key" if started else None
        return None

    def _flush(self, final: bool = False) -> bool:
        """Ticks the gate and writes what it and the processor hold; True if it wrote."""
        if self._pending_move is not None and (
                final or time.monotonic_ns() - self._pending_move.t_ns >= self.move_interval_ns):
            self._emit(self._pending_move)  # the pointer came to rest: keep where
            self._last_move_ns = self._pending_move.t_ns
            self._pending_move = None
        if self.gate is not None:
            if final:
                self._buffer.extend(self.gate.flush())
            else:
                now = time.monotonic()
                if now - self._last_lock_check >= GATE_TICK_S:
                    self._last_lock_check = now
                    self._locked = self.backend.screen_locked()
                self._buffer.extend(self.gate.tick(locked=self._locked))
        return self._commit(wait=final)

    def _commit(self, wait: bool = False) -> bool:
        """Write the buffered events; True if it wrote. Without ``wait``, only if the store
        is free now (else they stay buffered and ``_commit_due`` has the loop try again
        shortly)."""
        events = self._buffer
        if not events:
            self._commit_due = False
            return False
        try:
            try_add = (None if wait or len(events) >= COMMIT_WAIT_EVENTS
                       else getattr(self.writer, "try_add_events", None))
            written = try_add(events) if try_add is not None else self.writer.add_events(events)
        except (DiskFullError, StoreError) as exc:
            self._fail(exc)
            raise
        if written is None:
            self._commit_due = True
            return False
        self._buffer, self._commit_due = [], False
        for ev in events:
            self.stats.events[ev.kind] = self.stats.events.get(ev.kind, 0) + 1
        now = time.monotonic_ns()
        _sample(self.stats.latency_ms, events, now)
        _sample(self.stats.pointer_latency_ms,
                [ev for ev in events if isinstance(ev, (MoveEvent, ButtonEvent, ScrollEvent))], now)
        return True


def _sample(samples: list[float], events: list[RawEvent], now: int) -> None:
    """Hook-to-commit latencies of (at most 64 of) ``events`` into a bounded reservoir."""
    step = max(1, len(events) // 64)  # bounded work and memory per flush
    for ev in events[::step]:
        if len(samples) >= LATENCY_SAMPLES:
            samples[random.randrange(LATENCY_SAMPLES)] = (now - ev.t_ns) / 1e6
        else:
            samples.append((now - ev.t_ns) / 1e6)
