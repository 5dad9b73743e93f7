"""A frame is masked only once the gate has seen every key typed before it was grabbed:
else a secret still in the input queue (the processor busy, e.g. reading a prompt off the
screen) is not yet known to the masker and stays readable in the stored frame."""

from __future__ import annotations

import threading
import time

import numpy as np

from workprint.capture.fake import FakeBackend
from workprint.capture.frames import TextMaskStage
from workprint.capture.recorder import Recorder
from workprint.events import KeyEvent
from workprint.store.quarantine import Quarantine


class Writer:
    def add_events(self, events):
        return len(list(events))


def test_the_barrier_returns_only_after_the_keys_queued_before_it_were_processed():
    backend = FakeBackend([], decode_delay_s=0.2)  # decodes slowly, as a processor busy with a prompt
    rec = Recorder(backend, Writer(), frames=False)
    rec.start()
    key = lambda i: KeyEvent(time.monotonic_ns(), True, 10 + i, 0x61, "a", "a")  # noqa: E731
    try:
        for i in range(3):
            backend.send(key(i))
        t_grab = time.monotonic_ns()
        assert rec.input_barrier(t_grab, timeout_s=5)
        assert [k.keycode for k in backend.decoded] == [10, 11, 12], "every key typed before the grab went through first"
        backend.send(key(3))
        assert not rec.input_barrier(time.monotonic_ns(), timeout_s=0.05), "a busy processor times out"
    finally:
        rec.stop()
    assert rec.input_barrier(time.monotonic_ns(), timeout_s=1), "a stopped recorder has processed all"


class PassMasker:
    def __init__(self):
        self.calls = 0

    def mask_frame(self, frame, regions, known):
        self.calls += 1
        return frame

    def reset(self):
        pass


def test_a_frame_whose_input_cannot_be_caught_up_with_is_dropped_never_stored(tmp_path):
    stored: list[int] = []
    masker = PassMasker()
    stage = TextMaskStage(masker, Quarantine(tmp_path / "q"), lambda t: [],
                          input_barrier=lambda t_ns: t_ns != 2)
    stage.start(lambda t, reason, px, since=None: stored.append(t) or True, None)
    for t in (1, 2, 3):
        assert stage.submit(t, "post_action", np.zeros((8, 8), dtype=np.uint32))
    deadline = time.monotonic() + 10
    while len(stored) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    stage.stop()
    assert stored == [1, 3] and stage.dropped == 1 and masker.calls == 2
