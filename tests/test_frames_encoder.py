"""The tile encoder on its own (no X): change detection, and per-tile masking that stores
exactly what a whole-frame blackout would - never a pixel of a blacked-out rectangle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workprint.capture.frames import TileEncoder, changed_masks, changed_tiles, tile_digest
from workprint.events import FrameRef
from workprint.policy.redact_pixels import MaskedFrame, blackout, tile_masks
from workprint.store.session import DataDir

SECRET = 0x00C0FFEE  # a colour only the out-of-scope window shows


def naive_changed(prev: np.ndarray, cur: np.ndarray, tile: int) -> np.ndarray:
    h, w = cur.shape
    rows, cols = -(-h // tile), -(-w // tile)
    return np.array([[not np.array_equal(prev[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile],
                                         cur[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile])
                      for c in range(cols)] for r in range(rows)])


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 70), w=st.integers(1, 70), tile=st.sampled_from([8, 16, 32]),
       edits=st.lists(st.tuples(st.integers(0, 69), st.integers(0, 69)), max_size=6))
def test_changed_tiles_matches_a_tile_by_tile_comparison(h, w, tile, edits):
    prev = np.arange(h * w, dtype=np.uint32).reshape(h, w)
    cur = prev.copy()
    for y, x in edits:
        cur[y % h, x % w] ^= 0x10101
    assert np.array_equal(changed_tiles(prev, cur, tile), naive_changed(prev, cur, tile))
    assert not changed_tiles(cur, cur, tile).any()
    assert changed_tiles(None, cur, tile).all()
    if w > 1:
        assert changed_tiles(prev[:, :-1].copy(), cur, tile).all(), "another size: all changed"


def test_changed_masks_flags_tiles_whose_black_parts_differ():
    a = tile_masks([(0, 0, 10, 10)], 64, 64, 16)
    b = tile_masks([(0, 0, 10, 10), (40, 40, 4, 4)], 64, 64, 16)
    grid = changed_masks(a, b, (4, 4))
    assert grid.sum() == 1 and grid[2, 2]
    assert not changed_masks(a, dict(a), (4, 4)).any()


class Store:
    """A real session store in a temporary folder, plus what it takes to read it back."""

    def __init__(self, root: Path):
        self.data = DataDir(root)
        self.writer = self.data.create({})
        self.encoder = TileEncoder(self.writer, tile=16)
        self.t = 0
        self.closed = False

    def add(self, frame) -> str:
        frame_id, digests, new = self.encoder.encode(frame)
        h, w = frame.shape
        self.t += 1
        assert self.writer.add_frame(FrameRef(self.t, frame_id, "test", w, h), 16, digests, new)
        return frame_id

    def image(self, frame_id: str) -> np.ndarray:
        if not self.closed:
            self.writer.close()
            self.closed = True
        with self.data.open(self.writer.id) as session:
            img = np.asarray(session.frame_image(frame_id)).astype(np.uint32)
        return (img[:, :, 0] << 16) | (img[:, :, 1] << 8) | img[:, :, 2]


def screen(seed: int, h: int = 50, w: int = 70) -> np.ndarray:
    rng = np.random.default_rng(seed)
    px = rng.integers(0, 4, size=(h, w), dtype=np.uint32) * 0x00404040  # a few grey levels
    px[10:30, 20:50] = SECRET  # the out-of-scope window
    return px


RECT = (20, 10, 30, 20)


def test_masked_frame_is_stored_exactly_as_the_blacked_out_frame(tmp_path):
    grab = screen(1)
    before = grab.copy()
    store = Store(tmp_path)
    frame_id = store.add(MaskedFrame(grab, [RECT]))
    reference = TileEncoder(store.writer, tile=16).encode(blackout(grab, [RECT]))
    assert frame_id == reference[0], "digests come from the masked pixels"
    stored = store.image(frame_id)
    assert np.array_equal(stored, blackout(grab, [RECT]) & 0xFFFFFF)
    assert not (stored == SECRET).any()
    assert np.array_equal(grab, before), "the grab itself is never painted"


def test_same_grab_same_rects_is_recognised_without_work(tmp_path):
    grab = screen(2)
    store = Store(tmp_path)
    first = store.encoder.encode(MaskedFrame(grab, [RECT]))
    again = store.encoder.encode(MaskedFrame(grab, [RECT]))
    assert again[0] == first[0] and again[2] == {}


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, 3),  # which grab
                                st.lists(st.tuples(st.integers(-10, 69), st.integers(-10, 49),
                                                   st.integers(0, 40), st.integers(0, 30)),
                                         max_size=3)),
                      min_size=1, max_size=8))
def test_any_sequence_of_grabs_and_rects_matches_whole_frame_blackout(tmp_path_factory, steps):
    """Digests reused from the previous frame are never stale: after any sequence of
    grabs (repeated or new) and moving rectangles, each frame's digests are those of its
    whole-frame blackout, and what is stored reads back as exactly that."""
    grabs = [screen(10 + i) for i in range(4)]
    grabs[3] = grabs[2].copy()  # equal pixels, another array
    store = Store(tmp_path_factory.mktemp("enc"))
    fresh = TileEncoder(store.writer, tile=16)
    ids = []
    for which, rects in steps:
        rects = [RECT, *rects]  # the secret window is always out of scope
        frame_id = store.add(MaskedFrame(grabs[which], rects))
        fresh.reset()
        assert frame_id == fresh.encode(blackout(grabs[which], rects))[0]
        ids.append((frame_id, blackout(grabs[which], rects)))
    for frame_id, expected in ids[-2:]:
        stored = store.image(frame_id)
        assert np.array_equal(stored, expected & 0xFFFFFF)
        assert not (stored == SECRET).any()


def test_tile_digest_is_the_content_address_of_the_tile_bytes():
    import hashlib

    block = screen(3)[0:16, 16:32]
    raw = np.ascontiguousarray(block).tobytes() + (16).to_bytes(2, "little") + (16).to_bytes(2, "little")
    assert tile_digest(block) == hashlib.blake2b(raw, digest_size=16).digest()


@pytest.mark.parametrize("shape", [(50, 70), (16, 16), (1, 1)])
def test_plain_grab_still_encodes(tmp_path, shape):
    store = Store(tmp_path)
    px = np.full(shape, 0x00112233, dtype=np.uint32)
    frame_id = store.add(px)
    assert np.array_equal(store.image(frame_id), px & 0xFFFFFF)


def test_settle_deadline_pushed_out_needs_no_wake_up():
    from workprint.capture.frames import settle_postponed

    assert settle_postponed(100, 150) and settle_postponed(100, 100)
    assert not settle_postponed(None, 150), "a new settle deadline wakes the scheduler"
    assert not settle_postponed(150, 100), "an earlier deadline wakes it too"


def test_pipeline_stores_pre_and_settled_frames_masked(tmp_path):
    """The scheduler and encoder threads with a synthetic screen: a typing run gives a
    pre-action frame and, once input settles, a post-action frame (the scheduler is not
    woken for each key, yet keeps its settle deadline); every stored frame is masked."""
    import time

    from workprint.capture.frames import SETTLE_S, FramePipeline

    data = DataDir(tmp_path)
    writer = data.create({})
    grabs: list[np.ndarray] = []

    def grab() -> np.ndarray:
        grabs.append(screen(len(grabs)))
        return grabs[-1]

    pipe = FramePipeline(grab, writer, redact=lambda px, t, gen: MaskedFrame(px, [RECT]))
    pipe.start()
    try:
        time.sleep(0.3)
        for i in range(8):  # a key every 100 ms
            last = time.monotonic_ns()
            pipe.note_input(last, "pre_key" if i == 0 else None)
            time.sleep(0.1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                f.reason == "post_action" for f in _frames(data, writer.id)):
            time.sleep(0.05)
    finally:
        pipe.stop()
    writer.close()
    with data.open(writer.id) as session:
        frames = session.frames()
        reasons = [f.reason for f in frames]
        assert reasons[0] == "start" and "pre_key" in reasons and "post_action" in reasons
        post = next(f for f in frames if f.reason == "post_action")
        assert last + SETTLE_S * 1e9 <= post.t_ns <= last + (SETTLE_S + 1.0) * 1e9
        for f in frames:
            img = np.asarray(session.frame_image(f.frame_id)).astype(np.uint32)
            bgrx = (img[:, :, 0] << 16) | (img[:, :, 1] << 8) | img[:, :, 2]
            assert not (bgrx == SECRET).any() and (bgrx[10:30, 20:50] == 0).all()


def _frames(data: DataDir, session_id: str):
    with data.open(session_id) as session:
        return session.frames()


def test_a_grab_of_an_unchanged_screen_is_the_grab_before_it(tmp_path):
    """Every grab comes as a new array, also when the screen did not change: the pipeline
    keeps the grab before in its place (the ring, the queues and the OCR backlog hold one
    array for an unchanged screen), and one changed pixel anywhere makes a grab of its own."""
    from workprint.capture.frames import FramePipeline, same_pixels

    base = screen(1, h=300, w=200)  # several bands of rows
    changed = base.copy()
    changed[-1, -1] ^= 1  # one pixel, in the last band
    shots = [base.copy(), base.copy(), base.copy(), changed, changed.copy(), base.copy()]
    it = iter(shots)
    writer = DataDir(tmp_path).create({})
    pipe = FramePipeline(lambda: next(it), writer)
    g = [pipe._grab().pixels for _ in shots]
    assert g[1] is g[0] and g[2] is g[0]
    assert g[3] is shots[3] and g[4] is g[3]
    assert g[5] is shots[5]
    assert len({id(g.pixels) for g in pipe._ring}) == 2
    # a backend whose grab already returns the grab before for an unchanged screen (X11's
    # ScreenGrabber) is not compared again: equal copies stay apart, the same array passes
    it = iter([base, base, base.copy()])
    pipe = FramePipeline(lambda: next(it), writer, grab_keeps_unchanged=True)
    g = [pipe._grab().pixels for _ in range(3)]
    assert g[1] is g[0] is base and g[2] is not base
    writer.close()
    assert same_pixels(base, base.copy()) and not same_pixels(base, changed)
    assert not same_pixels(None, base) and not same_pixels(base[:10], base)
    assert not same_pixels(base, base.astype(np.int64))


def test_a_tile_reads_back_pixel_for_pixel():
    """Tiles are lossless at the encoder's effort setting: text, noise and flat areas alike."""
    import io

    from PIL import Image

    from workprint.capture.frames import encode_tile

    rng = np.random.default_rng(7)
    tile = np.zeros((128, 128), dtype=np.uint32) + 0x00F0F0F0
    tile[10:30, 5:120] = rng.integers(0, 2**24, size=(20, 115), dtype=np.uint32)  # noise
    tile[50:60, :] = 0x00101010  # a dark rule
    tile[70:90:2, 8:100:3] = 0x000000FF  # a sparse pattern like glyphs
    for block in (tile, tile[:40, :77]):  # a whole tile and a clipped one at the screen edge
        back = np.asarray(Image.open(io.BytesIO(encode_tile(np.ascontiguousarray(block)))).convert("RGB"))
        want = np.stack([(block >> 16) & 255, (block >> 8) & 255, block & 255], axis=-1).astype(np.uint8)
        assert np.array_equal(back, want)


def test_a_screen_sample_tells_a_changed_screen_without_keeping_the_grab():
    """(the scheduler keeps one of the grab stored last, for idle frames: the grab itself
    can go back to the grabber)"""
    import gc
    import weakref

    from workprint.capture.frames import ScreenSample

    grab = np.arange(64 * 96, dtype=np.uint32).reshape(64, 96)
    sample, ref = ScreenSample(grab), weakref.ref(grab)
    assert sample.of(grab) and not sample.changed(grab) and not sample.changed(grab.copy())
    for y, x in [(0, 0), (2, 2), (8, 12), (62, 94)]:  # on either of the sampled grids
        edited = grab.copy()
        edited[y, x] ^= 0x10101
        assert sample.changed(edited)
    assert sample.changed(np.zeros((64, 97), dtype=np.uint32))
    del grab
    gc.collect()
    assert ref() is None  # the sample does not hold the grab
    assert not sample.changed(np.arange(64 * 96, dtype=np.uint32).reshape(64, 96))


def test_a_compare_made_against_other_pixels_than_the_frame_before_is_not_taken(tmp_path):
    """The encoder takes a grid compared already only when it was made against the very
    pixels of the frame it encoded last (and of its tile size); else it compares."""
    from workprint.capture.frames import TilesSince

    a, b = screen(30), screen(31)
    b_copy = b.copy()
    nothing = np.zeros((4, 5), dtype=bool)  # a wrong answer: "nothing changed"
    for since in (TilesSince(a.copy(), nothing, 16),  # equal pixels, another array
                  TilesSince(a, nothing, 32)):        # another tile size
        store = Store(tmp_path / str(since.tile) / str(id(since)))
        store.add(MaskedFrame(a, [RECT]))
        got = store.encoder.encode(MaskedFrame(b, [RECT]), since)[0]
        assert got == TileEncoder(store.writer, tile=16).encode(blackout(b_copy, [RECT]))[0]
    store = Store(tmp_path / "right")
    store.add(MaskedFrame(a, [RECT]))
    right = TilesSince(a, changed_tiles(a, b, 16), 16)
    assert store.encoder.encode(MaskedFrame(b, [RECT]), right)[0] == \
        TileEncoder(store.writer, tile=16).encode(blackout(b_copy, [RECT]))[0]


def test_the_grab_stored_last_is_subsampled_only_once_the_ring_lets_go_of_it(tmp_path):
    """The scheduler keeps the grab it stored last whole while its ring holds that grab
    anyway (a grab stored again before it leaves the ring never needs a subsample), and
    takes the subsample as the ring lets go of it (a later grab, or ``forget``): the grab
    then goes back to the grabber as before, and the idle compare answers as the eager
    subsample does all along."""
    import gc
    import weakref

    from workprint.capture.frames import RING_SIZE, FramePipeline, ScreenSample

    shots = [screen(i, h=40, w=56) for i in range(1, 12)]
    it = (s.copy() for s in shots)
    writer = DataDir(tmp_path).create({})
    pipe = FramePipeline(lambda: next(it), writer)
    edits = []
    for y, x in [(0, 0), (2, 2), (1, 3), (38, 54)]:
        e = shots[0].copy()
        e[y, x] ^= 0x10101
        edits.append(e)

    def agrees(eager: ScreenSample) -> None:
        for cur in [shots[0], shots[0].copy(), shots[1], *edits, np.zeros((40, 57), np.uint32)]:
            assert pipe._last_stored.changed(cur) == eager.changed(cur)

    g = pipe._grab()
    pipe._store(g, "start")
    pipe._queue.get_nowait()  # (what the encoder would take)
    eager = ScreenSample(g.pixels)
    assert pipe._last_stored.held is g.pixels  # kept whole: no subsample taken yet
    agrees(eager)
    ref = weakref.ref(g.pixels)
    del g
    for _ in range(RING_SIZE - 1):
        pipe._grab()
        assert pipe._last_stored.held is not None and ref() is not None
    pipe._grab()  # the ring let go of it: subsampled, and no longer kept
    assert pipe._last_stored.held is None
    gc.collect()
    assert ref() is None
    agrees(eager)
    # a grab stored while the ring holds it, then forgotten: let go of at once
    g = pipe._ring[-1]
    pipe._store(g, "pre_click")
    assert pipe._last_stored.held is g.pixels
    pipe.forget(g.t_ns, g.t_ns)
    assert pipe._last_stored.held is None and not any(x is g for x in pipe._ring)
    writer.close()
