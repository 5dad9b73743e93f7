"""`forget` reaches every stage of a running recorder that still holds grabs: the frame
ring, the encoder queue, the OCR quarantine and the frame being masked right now. Without
X: a scripted screen, a real session store and a real (encrypted) quarantine; the OCR
stage is held up on purpose so frames pile up in front of it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from workprint.capture.frames import FramePipeline, TextMaskStage
from workprint.store.quarantine import Quarantine
from workprint.store.session import DataDir

from conftest import wait_for


class Screen:
    """Each grab shows a new solid value (so every frame is distinct)."""

    def __init__(self):
        self.n = 0

    def __call__(self) -> np.ndarray:
        self.n += 1
        return np.full((256, 384), 0x00101010 * (self.n % 15 + 1), dtype=np.uint32)


class BlockedOcr:
    """An OCR masker that waits until released (a slow Tesseract) and records what it saw."""

    def __init__(self):
        self.go = threading.Event()
        self.seen: list[int] = []
        self.busy = threading.Event()

    def mask_frame(self, frame, regions, known):
        self.busy.set()
        self.go.wait(timeout=30)
        self.seen.append(int(frame.pixels[0, 0]))
        return frame

    def reset(self):
        pass


def _pipeline(tmp_path, memory_slots=2):
    writer = DataDir(tmp_path / "data").create({})
    ocr = BlockedOcr()
    stage = TextMaskStage(ocr, Quarantine(writer.folder / "quarantine"), lambda t: [], drain_s=10,
                          memory_slots=memory_slots)
    pipe = FramePipeline(Screen(), writer, text_mask=stage)
    return writer, ocr, stage, pipe


@pytest.mark.parametrize("where", ["quarantine", "memory"])
@pytest.mark.parametrize("when", ["queued", "being-masked"])
def test_frames_waiting_for_ocr_are_dropped_by_forget(tmp_path, when, where):
    writer, ocr, stage, pipe = _pipeline(tmp_path, memory_slots=2 if where == "quarantine" else 32)
    pipe.start()
    try:
        wait_for(ocr.busy.is_set, what="OCR busy with the first frame")
        for _ in range(4):  # pre-action frames pile up behind the blocked OCR
            pipe.note_input(time.monotonic_ns(), "pre_click")
            time.sleep(0.15)
        if where == "quarantine":
            wait_for(lambda: len(stage.quarantine) >= 3, what="frames queued for OCR")
            files = list((writer.folder / "quarantine").glob("*.bin"))
            assert len(files) >= 3, "the queued frames sit (sealed) in the quarantine"
            first = min(int(p.name.split("-")[0]) for p in files)
        else:
            wait_for(lambda: stage.backlog >= 3, what="frames queued for OCR")
            assert len(stage.quarantine) == 0, "the queued frames wait in memory"
            first = stage._memory.times()[0]
        since = 0 if when == "being-masked" else first  # 0: the frame in the OCR's hands too
        until = time.monotonic_ns()
        writer.forget(since, until)
        dropped = pipe.forget(since, until)
        assert dropped >= 3
        assert stage.backlog == 0, "destroyed at once"
        assert not list((writer.folder / "quarantine").glob("*.bin")), "destroyed at once"
        ocr.go.set()
        time.sleep(0.5)
        pipe.note_input(time.monotonic_ns(), "pre_click")  # after the span: stored
        wait_for(lambda: pipe.stored >= 1, timeout=10, what="a frame after the forget stored")
    finally:
        ocr.go.set()
        pipe.stop()
        writer.close()
    with DataDir(tmp_path / "data").open(writer.id) as s:
        times = [f.t_ns for f in s.frames()]
    assert times and all(not (since <= t <= until) for t in times), "a forgotten frame was stored"
    assert pipe.forgotten >= 3


def test_the_ring_and_the_encoder_queue_honour_forget(tmp_path):
    """Without OCR: grabs still in the ring or waiting for the (slow) encoder are dropped;
    a pre-action frame asked for after the forget never takes a forgotten grab."""
    writer = DataDir(tmp_path / "data").create({})
    pipe = FramePipeline(Screen(), writer, encoder_delay_s=0.4)
    pipe.start()
    try:
        for _ in range(3):
            pipe.note_input(time.monotonic_ns(), "pre_key")
            time.sleep(0.1)
        until = time.monotonic_ns()
        writer.forget(0, until)
        pipe.forget(0, until)
        assert all(g.t_ns > until for g in pipe._ring)
        pipe.note_input(until + 1, "pre_click")  # the ring holds no grab from before: grabs anew
        time.sleep(1.5)
    finally:
        pipe.stop()
        writer.close()
    with DataDir(tmp_path / "data").open(writer.id) as s:
        times = [f.t_ns for f in s.frames()]
    assert times, "frames after the span are stored"
    assert all(t > until for t in times)


def test_the_writer_drops_late_events_of_a_forgotten_span(tmp_path):
    from workprint.events import KeyEvent

    writer = DataDir(tmp_path / "data").create({})
    writer.forget(100, 200)
    assert writer.add_events([KeyEvent(150, True, 38, 97, "a", "a"), KeyEvent(250, True, 39, 98, "b", "b")]) == 1
    writer.close()
    with DataDir(tmp_path / "data").open(writer.id) as s:
        assert [k.t_ns for k in s.events()] == [250]
