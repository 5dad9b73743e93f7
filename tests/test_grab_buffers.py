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


@pytest.mark.x11
def test_the_x11_grabber_grabs_what_mss_grabs_into_reused_buffers(desk):
    import mss

    from workprint.capture.linux.x11_grab import ScreenGrabber

    term = desk.xterm("grab-term")
    grabber = ScreenGrabber(desk.display)
    with mss.MSS(display=desk.display) as sct:
        a = grabber.grab()
        shot = sct.grab(sct.monitors[0])
    assert grabber.direct  # read from the MIT-SHM segment, not through a bytearray copy
    assert grabber.grab() is a  # not one pixel changed: the grab before, nothing copied
    assert a.shape == (1080, 1920)
    assert np.array_equal(a, np.frombuffer(shot.raw, dtype=np.uint32).reshape(1080, 1920))
    kept = a.copy()
    desk.activate(term)
    desk.xdotool("type", "--delay", "20", "echo the screen changed")
    changed = wait_for(lambda: not np.array_equal(grabber.grab(), kept), what="the screen to change")
    for _ in range(4):
        grabber.grab()  # dropped at once: the same buffer again
    assert np.array_equal(a, kept)  # the grab still held is never written
    assert changed and grabber.buffers.allocated == 2
    grabber.close()
