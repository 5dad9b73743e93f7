"""Full-screen grabs with mss, into buffers that are reused (:mod:`..grab_buffers`).

mss fills a MIT-SHM segment with the screen and hands back a new ``bytearray`` copy of it
for every grab: 8.3 MB of fresh memory at 1080p, page-faulted in each time and freed
between the recorder's small allocations. :class:`ScreenGrabber` asks the X server for the
same image into mss's segment and copies it straight into a buffer of its own that no
frame holds any more - or, when not one pixel changed since the grab before, copies nothing
and returns that grab again. That reaches into mss's XCB/MIT-SHM backend (pinned in
constraints.txt): where it is not there (another backend, MIT-SHM refused, another mss),
grabs go through mss's public ``grab`` and are copied into the buffers the same way.

mss keeps per-thread X resources: a grabber is used by one thread (the frame scheduler).
"""

from __future__ import annotations

import logging

import numpy as np

from ..grab_buffers import GrabBuffers, same_pixels

log = logging.getLogger(__name__)


class ScreenGrabber:
    """``grab() -> np.ndarray``: the whole screen as BGRX ``uint32`` pixels ``(h, w)``, in
    a buffer of :class:`GrabBuffers` (never written again while any array refers to it)."""

    def __init__(self, display: str | None):
        import mss

        self._sct = mss.MSS(display=display)
        self._area = dict(self._sct.monitors[0])  # querying monitors costs ~20 ms
        self.buffers = GrabBuffers(spare=2)
        self.direct = True  # False once the segment cannot be read directly
        self._last: np.ndarray | None = None

    def grab(self) -> np.ndarray:
        """The screen now; the array returned last time when not one pixel changed since
        (nothing is copied then, and later stages know the screen at once: ``is``)."""
        shape = (self._area["height"], self._area["width"])
        shm = None
        if self.direct:
            try:
                shm = self._shm_image()
            except Exception as exc:  # noqa: BLE001 - mss's public grab still works (or says why)
                log.info("screen grab: MIT-SHM segment not readable directly (%s); using mss.grab", exc)
            if shm is None:
                self.direct = False
        if shm is None:
            shot = self._sct.grab(self._area)
            shape = (shot.height, shot.width)
            shm = np.frombuffer(shot.raw, dtype=np.uint32).reshape(shape)
        last = self._last
        if last is not None and same_pixels(last, shm):
            return last
        out = self.buffers.take(shape)
        np.copyto(out, shm)
        self._last = out
        return out

    def _shm_image(self) -> np.ndarray | None:
        """The screen as mss's MIT-SHM segment holds it after a ``ShmGetImage`` (a read-only
        view of the segment, valid until the next grab), or None where mss's backend is
        not the MIT-SHM one or it has given MIT-SHM up."""
        from mss.linux import xcb
        from mss.linux.base import ALL_PLANES
        from mss.linux.xshmgetimage import MSSImplXShmGetImage, ShmStatus

        impl = self._sct._impl
        if not isinstance(impl, MSSImplXShmGetImage) or impl.shm_status == ShmStatus.UNAVAILABLE:
            return None
        if impl._buf is None or impl._shmseg is None:
            return None
        a = self._area
        with self._sct._lock:
            reply = xcb.shm_get_image(impl.conn, impl.drawable, a["left"], a["top"], a["width"],
                                      a["height"], ALL_PLANES, xcb.ImageFormat.ZPixmap, impl._shmseg, 0)
            if reply.depth != impl.drawable_depth or reply.visual != impl.drawable_visual_id:
                return None  # not the format mss checked at start: let its own grab say why
            impl.shm_status = ShmStatus.AVAILABLE
            return np.frombuffer(impl._buf, dtype=np.uint32,
                                 count=a["width"] * a["height"]).reshape(a["height"], a["width"])

    def close(self) -> None:
        self._sct.close()


__all__ = ["ScreenGrabber"]
