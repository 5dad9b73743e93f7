"""Grab buffers: a full-screen buffer is handed out again only once no array or view of it
is left (a frame still in the ring, the encoder or the OCR backlog keeps its pixels), and
unused ones beyond a spare are given back. The X11 grabber fills them from the MIT-SHM
segment and grabs the same pixels as mss itself."""

from __future__ import annotations

import numpy as np
import pytest

from workprint.capture.grab_buffers import GrabBuffers

from conftest import wait_for


def test_a_buffer_is_reused_only_once_nothing_refers_to_it():
    pool = GrabBuffers(spare=1)
    first = pool.take((8, 16))
    first[:] = 7
    view = first[2:4, 3:9]  # what the encoder keeps of a frame: a tile
    held = memoryview(first[5:])  # what an image library may hold
    del first
    for _ in range(3):
        other = pool.take((8, 16))
        other[:] = 0  # written by the next grabs: never into the buffer still referred to
        del other
    assert (view == 7).all() and (np.asarray(held) == 7).all()
    assert pool.allocated == 2
    del view, held
    again = pool.take((8, 16))
    again2 = pool.take((8, 16))
    assert pool.allocated == 2  # both buffers free again: reused, nothing new mapped
    del again, again2


def test_unused_buffers_beyond_the_spare_are_given_back():
    pool = GrabBuffers(spare=1)
    held = [pool.take((4, 4)) for _ in range(5)]  # a burst: five grabs alive at once
    assert len(pool) == 5
    held.clear()
    last = pool.take((4, 4))
    assert len(pool) == 2  # the one in use and one spare
    del last
    pool.take((2, 2))  # the screen was resized: buffers of the old size go
    assert len(pool) == 1


def test_a_backend_makes_the_buffers_and_is_told_when_each_is_given_back():
    import mmap

    made, dropped = [], []  # ids: a reference held here would keep a buffer in use

    def new(nbytes):
        buf = mmap.mmap(-1, nbytes)
        made.append(id(buf))
        return buf

    pool = GrabBuffers(spare=0, new=new, dropped=lambda buf: dropped.append(id(buf)))
    a, buf = pool.take_buffer((2, 2))
    assert id(buf) == made[0] and a.nbytes == 16
    del buf
    b = pool.take((2, 2))
    assert len(made) == 2 and not dropped
    del a, b
    pool.take((2, 2))  # both free: one is kept (no spare), the other given back
    assert len(dropped) == 1 and dropped[0] in made and len(pool) == 1


def test_a_buffer_is_lent_only_while_nothing_refers_to_it_and_one_more_lies_free():
    """(the OCR backlog rebuilds a frame into a grab buffer lying free: never into one a
    frame or a view of it still shows, never the grabber's last free one; the grabber
    takes it back once the rebuilt frame is let go)"""
    pool = GrabBuffers(spare=2)
    grabs = [pool.take((8, 16)) for _ in range(3)]
    for i, g in enumerate(grabs):
        g[:] = i
    assert pool.lend((8, 16)) is None  # all three held
    tile = grabs[0][2:4, 3:9]  # a view: its buffer is not free
    del grabs[:2]
    assert pool.lend((8, 16)) is None  # one free only: kept for the next grab
    assert pool.lend((8, 16), keep=0) is not None  # (and let go at once)
    assert pool.lend((4, 4), keep=0) is None  # never one of another size
    del tile
    lent = pool.lend((8, 16))
    assert lent is not None and lent.shape == (8, 16) and pool.lent == 2
    assert pool.lend((8, 16)) is None  # the other free one stays the grabber's
    assert pool.allocated == 3 and len(pool) == 3  # nothing mapped or given back
    lent[:] = 99
    taken = pool.take((8, 16))  # the grabber's next grab: into the one left free
    taken[:] = 5
    assert pool.allocated == 3 and (lent == 99).all()
    assert (grabs[0] == 2).all()  # the grab still held is never lent nor taken
    del taken
    view = lent[1:3]
    del lent
    assert (view == 99).all()
    assert all(not np.shares_memory(pool.take((8, 16)), view) for _ in range(3))
    del view
    again = [pool.take((8, 16)) for _ in range(2)]  # (the third one is still held)
    assert pool.allocated == 3 and any((a == 99).all() for a in again)  # back in the pool


@pytest.mark.x11
def test_the_x11_grabber_grabs_what_mss_grabs_into_reused_buffers(desk):
    import mss

    from workprint.capture.linux.x11_grab import ScreenGrabber

    term = desk.xterm("grab-term")
    grabber = ScreenGrabber(desk.display)
    with mss.MSS(display=desk.display) as sct:
        a = grabber.grab()
        shot = sct.grab(sct.monitors[0])
    assert grabber.direct and grabber.attached  # the X server wrote it into our buffer
    assert grabber.grab() is a  # not one pixel changed: the grab before, the new one let go
    assert a.shape == (1080, 1920)
    assert np.array_equal(a, np.frombuffer(shot.raw, dtype=np.uint32).reshape(1080, 1920))
    kept = a.copy()
    desk.activate(term)
    desk.xdotool("type", "--delay", "20", "echo the screen changed")
    changed = wait_for(lambda: not np.array_equal(grabber.grab(), kept), what="the screen to change")
    for _ in range(4):
        grabber.grab()  # grabbed into the one buffer free, dropped at once when unchanged
    assert np.array_equal(a, kept)  # the grab still held is never written
    # ``a``, the grab returned last and the one buffer each grab lands in first
    assert changed and grabber.buffers.allocated == 3 and grabber.attached
    assert len(grabber._segments) == len(grabber.buffers)  # each one a segment of ours
    shot = np.frombuffer(sct_grab(desk), dtype=np.uint32).reshape(1080, 1920)
    assert np.array_equal(grabber.grab(), shot)
    grabber.attached = False  # mss's segment, copied into the buffers: the same pixels
    assert np.array_equal(grabber.grab(), shot)
    grabber.close()


def sct_grab(desk) -> bytes:
    import mss

    with mss.MSS(display=desk.display) as sct:
        return sct.grab(sct.monitors[0]).raw


@pytest.mark.x11
def test_the_x11_grabber_gives_segments_back_with_their_buffers(desk):
    from workprint.capture.linux.x11_grab import ScreenGrabber

    term = desk.xterm("grab-term")
    grabber = ScreenGrabber(desk.display)
    held = [grabber.grab()]
    desk.activate(term)
    for i in range(5):  # each grab of a changed screen is held: a buffer each
        desk.xdotool("type", "--delay", "0", f"{i}")
        wait_for(lambda: held.append(grabber.grab()) or held[-1] is not held[-2],
                 what="the screen to change")
    held = list({id(g): g for g in held}.values())
    assert len(grabber.buffers) >= len(held) >= 6
    assert len(grabber._segments) == len(grabber.buffers)
    del held
    grabber.grab()
    grabber.grab()
    assert len(grabber.buffers) <= 4  # the grab held, the one grabbed into, two spare
    assert len(grabber._segments) == len(grabber.buffers)  # the others detached
    grabber.close()


# -- compares by memcmp: the same answers as NumPy's compare (the code before it) ----------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from workprint.capture import grab_buffers  # noqa: E402
from workprint.capture.frames import changed_tiles  # noqa: E402


def _old_same_pixels(prev, cur, rows=64):
    if prev is None or prev.shape != cur.shape or prev.dtype != cur.dtype:
        return False
    if prev is cur:
        return True
    return all(np.array_equal(prev[y:y + rows], cur[y:y + rows]) for y in range(0, cur.shape[0], rows))


def _old_changed_tiles(prev, cur, tile):
    h, w = cur.shape
    rows, cols = -(-h // tile), -(-w // tile)
    if prev is None or prev.shape != cur.shape:
        return np.ones((rows, cols), dtype=bool)
    grid = np.zeros((rows, cols), dtype=bool)
    pad = np.zeros(cols * tile - w, dtype=bool)
    for r in range(rows):
        band = slice(r * tile, (r + 1) * tile)
        columns = (prev[band] != cur[band]).any(axis=0)
        if pad.size:
            columns = np.concatenate((columns, pad))
        grid[r] = columns.reshape(cols, tile).any(axis=1)
    return grid


@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), tile=st.sampled_from([4, 8, 16]),
       dtype=st.sampled_from([np.uint32, np.int64, np.uint8, np.float64]),
       layout=st.sampled_from(["contiguous", "strided", "transposed", "one_view"]),
       edits=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59), st.integers(1, 255)), max_size=5))
def test_memcmp_compares_answer_as_numpy_compares(h, w, tile, dtype, layout, edits):
    base = np.arange(2 * h * 2 * w).reshape(2 * h, 2 * w).astype(dtype)
    other = base.copy()
    for y, x, v in edits:
        other[y % (2 * h), x % (2 * w)] += v
    if layout == "contiguous":
        prev, cur = base[:h].copy()[:, :w].copy(), other[:h].copy()[:, :w].copy()
    elif layout == "strided":
        prev, cur = base[::2, ::2], other[::2, ::2]
    elif layout == "transposed":
        prev, cur = base[:w, :h].T, other[:w, :h].T
    else:
        prev, cur = base[:h, :w].copy(), other[::2, ::2]
    assert grab_buffers.same_pixels(prev, cur) == _old_same_pixels(prev, cur)
    assert grab_buffers.same_pixels(prev, prev.copy()) and grab_buffers.same_pixels(cur, cur)
    assert np.array_equal(changed_tiles(prev, cur, tile), _old_changed_tiles(prev, cur, tile))
    told = grab_buffers.same_bytes(prev, cur)
    if prev.flags.c_contiguous and cur.flags.c_contiguous and dtype is not np.float64:
        assert told is (_old_same_pixels(prev, cur))  # told by memcmp itself
    else:
        assert told is None  # not contiguous, or not integers: NumPy compares
    if layout == "contiguous" and dtype is not np.float64:
        assert told is not None


def test_a_difference_in_the_last_byte_of_a_screen_is_told():
    a = np.zeros((1080, 1920), dtype=np.uint32)
    b = a.copy()
    b[-1, -1] = 1
    assert grab_buffers.same_bytes(a, b) is False and grab_buffers.same_bytes(a, a.copy()) is True
    assert not grab_buffers.same_pixels(a, b)
    assert changed_tiles(a, b, 128).sum() == 1 and changed_tiles(a, b, 128)[-1, -1]
