"""Full-screen grabs with mss, into buffers that are reused (:mod:`..grab_buffers`).

mss fills a MIT-SHM segment with the screen and hands back a new ``bytearray`` copy of it
for every grab: 8.3 MB of fresh memory at 1080p, page-faulted in each time and freed
between the recorder's small allocations. :class:`ScreenGrabber` makes each of its reused
buffers a MIT-SHM segment of its own (a ``memfd`` the X server maps too) and asks the X
server for the screen straight into a buffer that no frame holds any more: nothing is
copied. When not one pixel changed since the grab before, that buffer is let go at once and
the grab before is returned again. That reaches into mss's XCB/MIT-SHM backend (pinned in
constraints.txt): where a segment of its own cannot be attached, grabs land in mss's own
segment and are copied into the buffers; where mss's backend is not the MIT-SHM one (or it
refused MIT-SHM), grabs go through mss's public ``grab`` and are copied the same way.

mss keeps per-thread X resources: a grabber is used by one thread (the frame scheduler).
"""

from __future__ import annotations

import logging
import mmap
import os

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
        self._segments: dict[int, object] = {}  # id of a buffer -> its MIT-SHM segment
        self.buffers = GrabBuffers(spare=2, new=self._new_buffer, dropped=self._drop_buffer)
        self.direct = True  # False once the segments cannot be read directly
        self.attached = True  # False once a segment of our own cannot be attached
        self._last: np.ndarray | None = None

    def grab(self) -> np.ndarray:
        """The screen now; the array returned last time when not one pixel changed since
        (later stages then know the screen at once: ``is``)."""
        shape = (self._area["height"], self._area["width"])
        if self.direct and self.attached:
            out, buf = self.buffers.take_buffer(shape)
            seg = self._segments.get(id(buf))
            del buf
            if seg is not None and self._into(seg):
                last = self._last
                if last is not None and same_pixels(last, out):
                    return last  # ``out`` is let go: its buffer is free for the next grab
                self._last = out
                return out
            del out
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

    def _impl(self):
        """mss's MIT-SHM backend when it is the one in use and has not given MIT-SHM up."""
        from mss.linux.xshmgetimage import MSSImplXShmGetImage, ShmStatus

        impl = self._sct._impl
        if not isinstance(impl, MSSImplXShmGetImage) or impl.shm_status == ShmStatus.UNAVAILABLE:
            return None
        if impl._buf is None or impl._shmseg is None:
            return None
        return impl

    def _get_image(self, impl, seg) -> bool:
        """``ShmGetImage`` of the whole screen into ``seg``; False when the answer is not in
        the format mss checked at start (let its own grab say why)."""
        from mss.linux import xcb
        from mss.linux.base import ALL_PLANES
        from mss.linux.xshmgetimage import ShmStatus

        a = self._area
        with self._sct._lock:
            reply = xcb.shm_get_image(impl.conn, impl.drawable, a["left"], a["top"], a["width"],
                                      a["height"], ALL_PLANES, xcb.ImageFormat.ZPixmap, seg, 0)
            if reply.depth != impl.drawable_depth or reply.visual != impl.drawable_visual_id:
                return False
            impl.shm_status = ShmStatus.AVAILABLE
            return True

    def _into(self, seg) -> bool:
        """The screen grabbed into a segment of our own; False (and no more tries) when
        that fails - grabs then land in mss's segment and are copied."""
        impl = self._impl()
        try:
            if impl is not None and self._get_image(impl, seg):
                return True
        except Exception as exc:  # noqa: BLE001 - mss's own segment still works (or says why)
            log.info("screen grab: no grab into a segment of our own (%s); copying from mss's", exc)
        self.attached = False
        return False

    def _new_buffer(self, nbytes: int) -> mmap.mmap:
        """A buffer for :class:`GrabBuffers`: a ``memfd`` attached to the X server as a
        MIT-SHM segment, or an anonymous mapping where that cannot be done."""
        impl = self._impl() if self.attached else None
        if impl is not None and hasattr(os, "memfd_create"):
            try:
                return self._attach(impl, nbytes)
            except Exception as exc:  # noqa: BLE001 - grabs are copied from mss's segment then
                log.info("screen grab: cannot attach a MIT-SHM segment of our own (%s)", exc)
                self.attached = False
        return mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE)

    def _attach(self, impl, nbytes: int) -> mmap.mmap:
        from mss.linux import xcb

        fd = os.memfd_create("workprint-grab", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, nbytes)
            buf = mmap.mmap(fd, nbytes, flags=mmap.MAP_SHARED)
        except BaseException:
            os.close(fd)
            raise
        seg = xcb.ShmSeg(xcb.generate_id(impl.conn).value)
        try:
            with self._sct._lock:
                xcb.shm_attach_fd(impl.conn, seg, fd, read_only=False)  # XCB closes the fd
        except BaseException:
            buf.close()
            raise
        self._segments[id(buf)] = seg
        return buf

    def _drop_buffer(self, buf: mmap.mmap) -> None:
        """A buffer given back by the pool: detached from the X server, then unmapped."""
        seg = self._segments.pop(id(buf), None)
        impl = self._impl() if seg is not None else None
        if impl is not None:
            from mss.linux import xcb

            try:
                with self._sct._lock:
                    xcb.shm_detach(impl.conn, seg)
            except Exception as exc:  # noqa: BLE001 - the server frees it with the connection
                log.info("screen grab: MIT-SHM segment not detached (%s)", exc)
        try:
            buf.close()
        except BufferError:  # still exported somewhere: unmapped once that goes
            pass

    def _shm_image(self) -> np.ndarray | None:
        """The screen as mss's MIT-SHM segment holds it after a ``ShmGetImage`` (a read-only
        view of the segment, valid until the next grab), or None where mss's backend is
        not the MIT-SHM one or it has given MIT-SHM up."""
        impl = self._impl()
        if impl is None or not self._get_image(impl, impl._shmseg):
            return None
        a = self._area
        return np.frombuffer(impl._buf, dtype=np.uint32,
                             count=a["width"] * a["height"]).reshape(a["height"], a["width"])

    def close(self) -> None:
        self._sct.close()


__all__ = ["ScreenGrabber"]
