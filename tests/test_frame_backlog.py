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
    stage.start(lambda t, reason, f, since=None: stored.append((t, f.full())) or (len(stored) == 10 and done.set()) or True,
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


# --- what the backlog knows of each frame it hands out (no compare twice, no fresh copy) ----

def test_a_rebuilt_frame_goes_into_the_pixels_of_a_frame_nobody_holds_any_more():
    """Taken one at a time as the OCR worker does (it holds the frame before the one it
    masks), frames rebuilt from their tiles alternate between two arrays: the next
    frame is pasted into the pixels of the one before last, not into a fresh copy (a
    screen's worth of new pages per frame); a frame still held is never written to."""
    grabs = frames(8, seed=11)
    copies = [g.copy() for g in grabs]
    b = FrameBacklog(tile=64)
    for t, px in enumerate(grabs):
        push(b, t, px)
    del grabs[:], px
    gc.collect()
    held = None
    seen = []
    for t in range(8):
        frame = b.popleft()[2]
        assert np.array_equal(frame.pixels, copies[t])
        if t >= 3:  # frames 1 and 2 went into new arrays; 3 into 1's, 4 into 2's, ...
            assert frame.pixels is seen[t - 2]()
        seen.append(weakref.ref(frame.pixels))
        held, frame = frame, None  # the worker holds the frame it masked last
        assert np.array_equal(held.pixels, copies[t])


@pytest.mark.parametrize("seed", range(30))
def test_what_the_backlog_says_changed_is_a_compare_of_the_two_frames(seed):
    """Any sequence of frames pushed, taken (the taker holding some of them, or not),
    and forgotten: each frame comes back exact, no frame handed out earlier and still
    held changes, and ``changes`` is the tile compare of the frame with the one taken
    before it (when it says it was made against those very pixels)."""
    from workprint.capture.frames import changed_tiles

    rng = np.random.default_rng(seed)
    shape = (200, 300)
    cur = rng.integers(0, 4, size=shape, dtype=np.uint32)
    b = FrameBacklog(tile=64)
    copies: dict[int, np.ndarray] = {}
    grabs: dict[int, np.ndarray] = {}
    held: list[tuple[np.ndarray, np.ndarray]] = []  # (pixels handed out, their copy)
    last = None  # the pixels of the frame taken last, as the taker holds them
    last_copy = None
    forgotten: set[int] = set()
    t = compared = 0
    for _ in range(60):
        op = rng.random()
        if op < 0.5:
            if rng.random() < 0.8:  # a new screen, or the same one again
                cur = cur.copy()
                for _ in range(rng.integers(1, 4)):
                    y, x = rng.integers(0, shape[0] - 10), rng.integers(0, shape[1] - 10)
                    cur[y:y + rng.integers(1, 60), x:x + rng.integers(1, 90)] = rng.integers(0, 4)
            copies[t] = cur.copy()
            grabs[t] = cur
            push(b, t, cur)
            if rng.random() < 0.7:
                grabs.pop(t)  # the ring let go of the grab
            t += 1
        elif op < 0.9 and len(b):
            got_t, _, frame = b.popleft()
            assert np.array_equal(frame.pixels, copies[got_t])
            grid = b.changes.against(last, 64) if b.changes is not None else None
            if grid is not None:
                assert np.array_equal(grid, changed_tiles(last_copy, copies[got_t], 64))
                compared += 1
            last, last_copy = frame.pixels, copies[got_t]
            if rng.random() < 0.2:
                held.append((frame.pixels, copies[got_t]))
            del frame
        elif len(b):
            gone = {x for x in b.times() if rng.random() < 0.3}
            forgotten |= gone
            assert b.remove(lambda x: x in gone) == len(gone)
        for px, copy in held:
            assert np.array_equal(px, copy)
        if last is not None:
            assert np.array_equal(last, last_copy)
    assert compared > 0


def test_a_tile_that_changes_back_after_the_first_frame_taken_is_rebuilt_as_grabbed():
    """The first frame waits whole; once it and the frame after it are taken, the next
    frames are diffed against what the newest one shows - also in the tiles the taken
    frame after the whole one changed (a tile that changes back, as a blinking caret
    does, must not come back as it was before)."""
    a = frames(1, seed=12, shape=(128, 192))[0]
    b_, c = a.copy(), a.copy()
    b_[0:10, 0:10] += 1       # frame 1 changes a tile ...
    c[100:110, 100:110] += 1  # frame 2 another one, and keeps frame 1's
    c[0:10, 0:10] += 1
    d = c.copy()
    d[0:10, 0:10] -= 1        # frame 3: the first tile as in frame 0 again
    copies = [x.copy() for x in (a, b_, c, d)]
    fb = FrameBacklog(tile=64)
    push(fb, 0, a)
    push(fb, 1, b_)
    push(fb, 2, c)
    assert fb.popleft()[2].pixels is a
    del b_, c
    gc.collect()
    assert np.array_equal(fb.popleft()[2].pixels, copies[1])
    push(fb, 3, d)
    del d
    gc.collect()
    assert np.array_equal(fb.popleft()[2].pixels, copies[2])
    assert np.array_equal(fb.popleft()[2].pixels, copies[3])


class MemorySink:
    def __init__(self):
        self.tiles: set[bytes] = set()

    def stored_tiles(self, digests):
        return self.tiles & set(digests)

    def add_frame(self, ref, tile, digests, new_tiles):
        self.tiles |= set(new_tiles)
        return True


class RecordingMasker(HeldMasker):
    """Waits like :class:`HeldMasker` before the first frame, records the regions it is
    given, and masks a box in each frame (the encoder's masks change too)."""

    def __init__(self):
        super().__init__()
        self.regions, self.seen, self.reused = [], [], []

    def mask_frame(self, frame, regions=None, known_values=()):
        self.entered.set()
        self.release.wait(10)
        self.regions.append(regions)
        self.reused.append(len(self.seen) >= 2 and self.seen[-2]() is frame.pixels)
        self.seen.append(weakref.ref(frame.pixels))
        n = len(self.regions)
        return MaskedFrame(frame.pixels, frame.rects + ((n * 7 % 300, 20, 30, 10),))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_ocr_worker_takes_the_backlogs_compare_and_the_encoder_the_workers(tmp_path, seed, monkeypatch):
    """Frames that waited as tiles are not compared again in the OCR worker (for the
    regions to read, nor by the encoder for the tiles to store): what the backlog found
    is used, and it gives the same regions and the same stored frames as the compares."""
    import threading

    from workprint.capture import frames as fr
    from workprint.store.quarantine import Quarantine

    calls = []
    compare = fr.changed_tiles

    def counted(prev, cur, tile=fr.TILE):
        if prev is not None and threading.current_thread().name == "workprint-ocr":
            calls.append(1)
        return compare(prev, cur, tile)

    monkeypatch.setattr(fr, "changed_tiles", counted)
    grabs = frames(12, seed=20 + seed, shape=(300, 420))
    grabs.insert(5, grabs[4])  # the same screen twice
    copies = [g.copy() for g in grabs]
    n = len(grabs)
    sink, encoder = MemorySink(), fr.TileEncoder(MemorySink())
    stored, done = [], threading.Event()

    def store(t, reason, frame, since=None):
        stored.append((t, encoder.encode(frame, since)[0], frame.rects))
        if len(stored) == n:
            done.set()
        return True

    masker = RecordingMasker()
    stage = fr.TextMaskStage(masker, Quarantine(tmp_path / "q"), lambda t: [])
    stage.start(store, None)
    assert stage.submit(0, "post_action", MaskedFrame(grabs[0], []))
    assert masker.entered.wait(10)
    for t in range(1, n):
        assert stage.submit(t, "post_action", MaskedFrame(grabs[t], [(10, 10, 40, 40)] if t % 3 else []))
    del grabs[2:]  # most grabs gone: their frames are rebuilt
    gc.collect()
    masker.release.set()
    assert done.wait(10)
    stage.stop()
    assert calls == []  # every compare was the backlog's
    # rebuilt into the pixels of the frame before the last one (none holds them then)
    assert sum(masker.reused) >= 5
    fresh = fr.TileEncoder(sink)
    for t, (got_t, frame_id, rects) in enumerate(stored):
        assert got_t == t
        assert frame_id == fresh.encode(MaskedFrame(copies[t].copy(), rects))[0]
        want = fr.changed_boxes(copies[t - 1], copies[t]) if t else None
        rects_changed = t > 0 and (t % 3 == 0) != ((t - 1) % 3 == 0)
        extra = [(10, 10, 40, 40)] if rects_changed else []
        assert masker.regions[t] == (None if want is None else want + extra)


# --- frames rebuilt into grab buffers lying free (stale pixels in them) -------------------

STALE = 0xDEADBEEF


class StaleLender:
    """Lends buffers of a grab pool as the X11 grabber's are lent: whatever was grabbed
    into them last is still there (here every pixel a value no frame has)."""

    def __init__(self, pool):
        self.pool, self.lent = pool, []

    def __call__(self, shape):
        out = self.pool.lend(shape, keep=0)
        if out is not None:
            out[:] = STALE
            self.lent.append(weakref.ref(out))
        return out


@pytest.mark.parametrize("seed", range(25))
def test_a_frame_rebuilt_into_a_lent_buffer_shows_nothing_of_what_was_in_it(seed):
    """Any sequence of frames grabbed into a pool's buffers (the grabber writes into each
    one it takes), pushed, taken (the taker holding frames, or views of them as the
    encoder's tiles), and forgotten, with frames rebuilt into buffers of the same pool
    lent full of stale pixels: each frame comes back exact (not one stale pixel), and no
    frame or view handed out earlier and still held is written to."""
    from workprint.capture.grab_buffers import GrabBuffers

    rng = np.random.default_rng(100 + seed)
    shape = (200, 300)
    pool = GrabBuffers(spare=3)
    lender = StaleLender(pool)
    b = FrameBacklog(tile=64, screen=lender)
    screen = rng.integers(0, 4, size=shape, dtype=np.uint32)
    copies: dict[int, np.ndarray] = {}
    ring: list[np.ndarray] = []
    held: list[tuple[np.ndarray, np.ndarray]] = []
    t = 0
    for _ in range(80):
        op = rng.random()
        if op < 0.45:
            if rng.random() < 0.8:
                screen = screen.copy()
                for _ in range(rng.integers(1, 4)):
                    y, x = rng.integers(0, shape[0] - 10), rng.integers(0, shape[1] - 10)
                    screen[y:y + rng.integers(1, 60), x:x + rng.integers(1, 90)] = rng.integers(0, 4)
            grab = pool.take(shape)  # a buffer nothing refers to, grabbed into
            np.copyto(grab, screen)
            copies[t] = screen.copy()
            push(b, t, grab)
            ring = (ring + [grab])[-int(rng.integers(0, 3)):] if rng.random() < 0.5 else []
            del grab  # the ring lets go of grabs: their buffers go back to the pool
            t += 1
        elif op < 0.85 and len(b):
            got_t, _, frame = b.popleft()
            assert np.array_equal(frame.pixels, copies[got_t])
            keep = rng.random()
            if keep < 0.2:
                held.append((frame.pixels, copies[got_t]))
            elif keep < 0.4:  # a tile of it (a view refers to the buffer, not to the array)
                y, x = rng.integers(0, shape[0] - 64), rng.integers(0, shape[1] - 64)
                held.append((frame.pixels[y:y + 64, x:x + 64], copies[got_t][y:y + 64, x:x + 64]))
            del frame
        elif len(b):
            gone = {x for x in b.times() if rng.random() < 0.3}
            assert b.remove(lambda x: x in gone) == len(gone)
        for px, copy in held:
            assert np.array_equal(px, copy)
        if rng.random() < 0.3:
            held = held[-3:]
    ring.clear()
    while len(b):
        got_t, _, frame = b.popleft()
        assert np.array_equal(frame.pixels, copies[got_t])
        del frame
    assert b.lent > 0 and pool.lent == len(lender.lent)


def test_the_ocr_stage_stores_frames_rebuilt_into_lent_buffers_exactly(tmp_path):
    """The stage lends from the grabber's pool (``screen_buffer``): every frame stored
    is the frame grabbed, masked as the masker said, and none the worker let go of is
    written to while the encoder holds it."""
    import threading

    from workprint.capture.frames import TextMaskStage
    from workprint.capture.grab_buffers import GrabBuffers
    from workprint.store.quarantine import Quarantine

    shape = (256, 384)
    pool = GrabBuffers(spare=2)
    lender = StaleLender(pool)
    screens = frames(10, seed=30, shape=shape)
    stored, done = [], threading.Event()
    masker = RecordingMasker()
    stage = TextMaskStage(masker, Quarantine(tmp_path / "q"), lambda t: [], screen_buffer=lender)

    def store(t, reason, f, since=None):
        stored.append((t, f.pixels, f.full().copy()))  # (the pixels held, as an encoder's)
        if len(stored) == 10:
            done.set()
        return True

    stage.start(store, None)
    for t, screen in enumerate(screens):
        grab = pool.take(shape)
        np.copyto(grab, screen)
        assert stage.submit(t, "post_action", MaskedFrame(grab, [(t, 0, 5, 5)]))
        del grab  # the ring let go: the buffer is free for the next grab, or to be lent
        assert masker.entered.wait(10)
    masker.release.set()
    assert done.wait(10)
    stage.stop()
    assert stage._memory.lent > 0
    for t, pixels, full in stored:
        assert np.array_equal(pixels, screens[t])
        want = screens[t].copy()
        want[0:5, t:t + 5] = 0
        want[20:30, (t + 1) * 7 % 300:(t + 1) * 7 % 300 + 30] = 0
        assert np.array_equal(full, want)
