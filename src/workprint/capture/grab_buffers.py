"""Full-screen buffers for screen grabs, reused once nothing holds them any more.

A 1080p grab is 8.3 MB. Allocated afresh for every grab, each one costs page faults
(~1.5 ms to write 8 MB into new memory here) and, freed in between the recorder's small
allocations, leaves holes the C heap keeps resident. :class:`GrabBuffers` keeps the grabs'
memory apart: each buffer is an anonymous mapping of its own, handed out again once no
array refers to it (the ring, the encoder, the OCR backlog let go of it), and unmapped -
given back to the system at once - when more than ``spare`` of them lie unused.

A buffer is free when its reference count is back to what the pool alone holds: every
array and view of its pixels refers to it (NumPy views keep the buffer that owns the
memory as their base), so no thread can still read it.

A backend may make the buffers itself (``new``) and be told when one is given back
(``dropped``): the X11 grabber makes each one a MIT-SHM segment the X server writes the
screen into directly.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
import threading
from typing import Callable

import numpy as np


def _refs(bufs: list, i: int) -> int:
    return sys.getrefcount(bufs[i])


#: what :func:`_refs` counts for an object held by its list alone
_HELD_BY_LIST = _refs([object()], 0)


def _libc_memcmp():
    try:
        fn = ctypes.CDLL(None).memcmp
    except (OSError, AttributeError, TypeError):  # no C library to look it up in
        return None
    fn.restype = ctypes.c_int
    fn.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
    return fn


_MEMCMP = _libc_memcmp()


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool | None:
    """Do two integer arrays of one shape and dtype hold exactly the same values? Told by the
    C library's ``memcmp`` over their memory (no temporaries, stops at the first difference,
    the GIL released meanwhile: a 1080p screen out of cache in ~0.47 ms, NumPy's compare in
    ~0.66 ms - ~0.2 against ~0.65 ms in cache); None when
    it cannot be told that way (not both C-contiguous, not integers, no ``memcmp``)."""
    if (_MEMCMP is None or a.shape != b.shape or a.dtype != b.dtype or a.dtype.kind not in "uib"
            or not a.flags.c_contiguous or not b.flags.c_contiguous):
        return None
    # (for integers equal bytes are equal values; both arrays stay referenced during the call)
    return _MEMCMP(a.__array_interface__["data"][0], b.__array_interface__["data"][0], a.nbytes) == 0


def same_pixels(prev: np.ndarray | None, cur: np.ndarray, rows: int = 64) -> bool:
    """Exactly the same pixels? Compared with :func:`same_bytes` where it can tell (grabs
    can), else a band of ``rows`` rows
    at a time, so that the comparison's temporaries stay small and a screen that changed near
    the top is told at once."""
    if prev is None or prev.shape != cur.shape or prev.dtype != cur.dtype:
        return False
    if prev is cur:
        return True
    same = same_bytes(prev, cur)
    if same is not None:
        return same
    for y in range(0, cur.shape[0], rows):
        if not np.array_equal(prev[y:y + rows], cur[y:y + rows]):
            return False
    return True


def _anonymous(nbytes: int) -> mmap.mmap:
    return mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE)


class GrabBuffers:
    """``take(shape)`` -> a writable uint32 array of ``shape`` that nothing else refers to.

    ``new(nbytes)`` makes a buffer (an anonymous private mapping by default);
    ``dropped(buffer)`` is called, outside the pool's lock, for each one given back."""

    def __init__(self, spare: int = 1, new: Callable[[int], mmap.mmap] = _anonymous,
                 dropped: Callable[[mmap.mmap], None] | None = None):
        self.spare = spare
        self._new = new
        self._dropped = dropped
        self._bufs: list[mmap.mmap] = []
        self._lock = threading.Lock()
        self.allocated = 0  # buffers mapped so far (for tests)
        self.lent = 0  # buffers lent so far (:meth:`lend`)

    def take(self, shape: tuple[int, int]) -> np.ndarray:
        """A buffer no array refers to (a new one when all are in use), as an array."""
        return self.take_buffer(shape)[0]

    def take_buffer(self, shape: tuple[int, int]) -> tuple[np.ndarray, mmap.mmap]:
        """:meth:`take`, with the buffer under the array (the caller lets go of both)."""
        nbytes = shape[0] * shape[1] * 4
        gone: list[mmap.mmap] = []
        with self._lock:
            bufs = self._bufs
            free = [i for i in range(len(bufs)) if _refs(bufs, i) == _HELD_BY_LIST]
            fits = [i for i in free if len(bufs[i]) == nbytes]
            # unused buffers beyond the spares, and unused ones of another size (the screen
            # was resized), are unmapped: given back to the system
            drop = set(fits[1 + self.spare:]) | {i for i in free if len(bufs[i]) != nbytes}
            buf = bufs[fits[0]] if fits else None
            if drop:
                gone = [bufs[i] for i in drop]
                self._bufs = bufs = [b for i, b in enumerate(bufs) if i not in drop]
            if buf is None:
                buf = self._new(nbytes)
                bufs.append(buf)
                self.allocated += 1
        if self._dropped is not None:
            for b in gone:
                self._dropped(b)
        return np.frombuffer(buf, dtype=np.uint32, count=shape[0] * shape[1]).reshape(shape), buf

    def lend(self, shape: tuple[int, int], keep: int = 1) -> np.ndarray | None:
        """A buffer of ``shape`` that no array refers to, as an array, for someone other
        than the grabber to fill whole (the OCR backlog rebuilding a frame from its tiles);
        None unless more than ``keep`` such buffers lie free (the grabber's next grab
        finds one without mapping a new one). Nothing is made or given back here: the pool
        stays the grabber's. The buffer is the pool's again, as any grab, once no array
        or view of it is left; its pixels are whatever was grabbed into it last, so the
        borrower must overwrite every pixel before they are read."""
        nbytes = shape[0] * shape[1] * 4
        with self._lock:
            bufs = self._bufs
            fits = [i for i in range(len(bufs))
                    if len(bufs[i]) == nbytes and _refs(bufs, i) == _HELD_BY_LIST]
            if len(fits) <= keep:
                return None
            buf = bufs[fits[-1]]  # (held by this name: no longer free for anyone else)
            self.lent += 1
        return np.frombuffer(buf, dtype=np.uint32, count=shape[0] * shape[1]).reshape(shape)

    def __len__(self) -> int:
        with self._lock:
            return len(self._bufs)


__all__ = ["GrabBuffers", "same_bytes", "same_pixels"]
