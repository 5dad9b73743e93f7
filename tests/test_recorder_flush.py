"""The processor writes events in batches (one write per flush interval at most), yet an
event that comes after a quiet stretch is written at once - also while the gate holds a
typing unit for seconds and the processor ticks it every flush interval."""

from __future__ import annotations

import threading
import time

from workprint.capture.fake import FakeBackend
from workprint.capture.recorder import Recorder
from workprint.events import ButtonEvent, MoveEvent


class HoldingGate:
    """A gate that always holds a typing unit (as during a long form entry) and lets
    pointer events through."""

    recording = True
    holding = True

    def process(self, ev):
        return [ev]

    def tick(self, now_ns=None, *, locked=False):
        return []

    def flush(self, now_ns=None):
        return []


class TimedWriter:
    def __init__(self):
        self.writes: list[tuple[int, list]] = []
        self.lock = threading.Lock()

    def add_events(self, events):
        with self.lock:
            self.writes.append((time.monotonic_ns(), list(events)))
        return len(events)


def test_a_click_while_a_unit_is_held_is_written_at_once():
    writer = TimedWriter()
    rec = Recorder(FakeBackend([]), writer, frames=False, gate=HoldingGate())
    rec.start()
    try:
        latencies = []
        for i in range(6):
            time.sleep(0.37)  # a quiet stretch, at a phase of the 0.25 s tick that varies
            t = time.monotonic_ns()
            rec.backend.send(ButtonEvent(t, True, 10 + i, 10, "left"))
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                with writer.lock:
                    done = [w for w, evs in writer.writes if any(e.t_ns == t for e in evs)]
                if done:
                    latencies.append((done[0] - t) / 1e6)
                    break
                time.sleep(0.002)
    finally:
        rec.stop()
    assert len(latencies) == 6
    # before: written at the next 0.25 s tick of the held unit (p50 ~180 ms in the bench)
    assert max(latencies) < 100, latencies


def test_a_stream_of_moves_is_still_written_in_batches():
    writer = TimedWriter()
    rec = Recorder(FakeBackend([]), writer, frames=False, gate=HoldingGate(), move_hz=1000)
    rec.start()
    try:
        t_end = time.monotonic() + 1.0
        i = 0
        while time.monotonic() < t_end:
            rec.backend.send(MoveEvent(time.monotonic_ns(), i % 500, 10))
            i += 1
            time.sleep(0.005)
        time.sleep(0.3)
    finally:
        rec.stop()
    n_events = sum(len(evs) for _, evs in writer.writes)
    assert n_events >= 100
    assert len(writer.writes) <= 7, [len(evs) for _, evs in writer.writes]  # ~4 a second
