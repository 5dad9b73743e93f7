"""Frames waiting for OCR in memory as tile deltas (capture.frames.FrameBacklog): pure,
no X server. Every frame comes back as it was grabbed, in order, whatever is forgotten
in between."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from workprint.capture.frames import FrameBacklog
from workprint.policy.redact_pixels import MaskedFrame


def frames(n: int, seed: int, shape=(300, 500)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    cur = rng.integers(0, 2**32, size=shape, dtype=np.uint32)
    out = [cur]
    for _ in range(n - 1):
        cur = cur.copy()  # a new grab: the old one is never written to
        y, x = rng.integers(0, shape[0] - 20), rng.integers(0, shape[1] - 40)
        cur[y:y + 20, x:x + 40] = rng.integers(0, 2**32, size=(20, 40), dtype=np.uint32)
        out.append(cur)
    return out


def push(backlog: FrameBacklog, t: int, px: np.ndarray) -> None:
    backlog.append(t, f"r{t}", MaskedFrame(px, [(t, 0, 5, 5)]), backlog.delta_for(px))


def test_frames_come_back_whole_in_order_and_later_ones_wait_as_tiles():
    grabs = frames(12, seed=1)
    b = FrameBacklog(tile=64)
    for t, px in enumerate(grabs):
        push(b, t, px)
    assert len(b) == 12
    assert 0 < b.delta_bytes <= 11 * 4 * 64 * 64 * 4  # at most 4 tiles changed per frame
    for t, px in enumerate(grabs):
        got_t, reason, frame = b.popleft()
        assert (got_t, reason, frame.rects) == (t, f"r{t}", ((t, 0, 5, 5),))
        assert np.array_equal(frame.pixels, px)
    assert len(b) == 0 and b.delta_bytes == 0


def test_no_waiting_frame_keeps_its_grab_alive():
    """Once the ring lets go of a grab, its buffer can go back to the grabber: the frame
    waits as its tiles and is rebuilt exactly when it is taken (the first one on the
    frame taken before it)."""
    grabs = frames(8, seed=8)
    copies = [g.copy() for g in grabs]
    b = FrameBacklog(tile=64)
    push(b, 0, grabs[0])
    assert b.popleft()[2].pixels is grabs[0]  # taken at once: the grab itself
    for t in range(1, 8):
        push(b, t, grabs[t])
    alive = [weakref.ref(g) for g in grabs[1:]]
    del grabs[1:]
    gc.collect()
    assert not any(r() for r in alive)
    assert 0 < b.delta_bytes <= 7 * 4 * 64 * 64 * 4  # the first one waiting is tiles too
    for t in range(1, 8):
        got_t, _, frame = b.popleft()
        assert got_t == t and np.array_equal(frame.pixels, copies[t])
    assert len(b) == 0 and b.delta_bytes == 0


def test_a_frame_whose_grab_is_still_held_comes_back_as_that_grab():
    """(no copy is made while the ring still holds it)"""
    grabs = frames(3, seed=2)
    b = FrameBacklog(tile=64)
    for t, px in enumerate(grabs):
        push(b, t, px)
    got = [b.popleft()[2].pixels for _ in range(3)]
    assert all(g is px for g, px in zip(got, grabs))


def test_a_frame_waits_as_its_tiles_until_it_is_taken():
    """Taking the oldest frame does not rebuild the next one yet: a full-screen copy would
    wait beside the frame being masked (one more grab's memory per backlog)."""
    grabs = frames(4, seed=3)
    copies = [g.copy() for g in grabs]
    b = FrameBacklog(tile=64)
    for t, px in enumerate(grabs):
        push(b, t, px)
    del grabs[1:]
    waiting = b.delta_bytes
    assert b.popleft()[2].pixels is grabs[0]
    assert b.delta_bytes == waiting  # frames 1 to 3 still wait as tiles
    taken = b.popleft()[2].pixels
    assert np.array_equal(taken, copies[1]) and b.delta_bytes < waiting
    assert np.array_equal(b.popleft()[2].pixels, copies[2])
    assert np.array_equal(b.popleft()[2].pixels, copies[3])
    assert len(b) == 0 and b.delta_bytes == 0


def test_a_frame_that_shows_the_same_screen_comes_back_as_the_same_array():
    """(the encoder then knows at once that it is the frame before: no diff, no encode)"""
    a, b = frames(2, seed=7)
    fb = FrameBacklog(tile=64)
    for t, px in enumerate((a, b, b.copy(), b, a)):
        push(fb, t, px)
    got = [fb.popleft()[2].pixels for _ in range(5)]
    assert got[0] is a and got[2] is got[1] and got[3] is got[1]
    assert np.array_equal(got[1], b) and got[4] is a


def test_a_frame_of_another_size_waits_whole():
    b = FrameBacklog(tile=64)
    small, big = frames(1, 3, (100, 100))[0], frames(1, 4, (200, 300))[0]
    push(b, 0, small)
    assert b.delta_for(big) is None
    push(b, 1, big)
    assert b.popleft()[2].pixels is small and b.popleft()[2].pixels is big


@pytest.mark.parametrize("held", [True, False])
@pytest.mark.parametrize("taken", [0, 2])
@pytest.mark.parametrize("forgotten", [{0}, {5}, {11}, {0, 1, 2}, {3, 4, 10, 11}, set(range(12))])
def test_forgetting_any_frames_leaves_the_others_exact(forgotten, taken, held):
    """(also once some were taken: the first one waiting is then still its tiles; and
    whether the grabs are still held elsewhere or not)"""
    grabs = frames(14, seed=5)
    copies = [g.copy() for g in grabs]
    b = FrameBacklog(tile=64)
    for t, px in enumerate(grabs[:12]):
        push(b, t, px)
    if not held:
        grabs[:12] = [None] * 12
        gc.collect()
    for t in range(taken):
        assert np.array_equal(b.popleft()[2].pixels, copies[t])
    forgotten = {t for t in forgotten if t >= taken}
    assert b.remove(lambda t: t in forgotten) == len(forgotten)
    for t in (12, 13):  # frames that come after diff against the newest one still waiting
        push(b, t, grabs[t])
    kept = [t for t in range(taken, 14) if t not in forgotten]
    assert len(b) == len(kept)
    for t in kept:
        got_t, _, frame = b.popleft()
        assert got_t == t and np.array_equal(frame.pixels, copies[t])
    assert b.delta_bytes == 0


class HeldMasker:
    """Masks nothing and waits for ``release`` before the first frame (a slow OCR)."""

    def __init__(self):
        import threading

        self.release, self.entered = threading.Event(), threading.Event()

    def mask_frame(self, frame, regions=None, known_values=()):
        self.entered.set()
        self.release.wait(10)
        return frame

    def reset(self):
        pass


@pytest.mark.parametrize("delta_budget, spilled", [(24 * 2**20, 0), (0, 9)])
def test_a_burst_waits_in_memory_within_its_budget_then_in_the_quarantine(tmp_path, delta_budget, spilled):
    import threading

    from workprint.capture.frames import TextMaskStage
    from workprint.store.quarantine import Quarantine

    grabs = frames(10, seed=6, shape=(256, 384))
    stored, done = [], threading.Event()
    masker = HeldMasker()
    stage = TextMaskStage(masker, Quarantine(tmp_path / "q"), lambda t: [], memory_delta_bytes=delta_budget)
    stage.start(lambda t, reason, f: stored.append((t, f.full())) or (len(stored) == 10 and done.set()) or True,
                None)
    assert stage.submit(0, "post_action", MaskedFrame(grabs[0], []))
    assert masker.entered.wait(10)
    for t, px in enumerate(grabs[1:], 1):
        assert stage.submit(t, "post_action", MaskedFrame(px, []))
    # the worker took the first and waits in OCR; frames 1-9 wait: in memory (as the
    # tiles that changed) while the budget holds, else sealed
    assert stage.spilled == spilled
    masker.release.set()
    assert done.wait(10)
    stage.stop()
    assert [t for t, _ in stored] == list(range(10))
    assert all(np.array_equal(f, grabs[t]) for t, f in stored)
