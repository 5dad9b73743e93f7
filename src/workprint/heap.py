"""The C heap of the recorder: glibc malloc's thresholds fixed at start, free pages handed back.

The recorder makes and drops full-screen arrays (8.3 MB at 1080p: a frame waiting for OCR
rebuilt from its tiles, a copy of the screen). glibc gives an allocation above its *mmap
threshold* a mapping of its own, unmapped when it is freed; but the first such mapping freed
raises that threshold to its own size (up to 32 MiB) and the *trim threshold* to twice that.
From then on every array of a screen's size comes from the heap of the calling thread's
arena, and what is freed at the top of a thread's arena stays resident until that top
exceeds the trim threshold (then ~16.6 MiB); :func:`release_free_heap` (``malloc_trim``)
hands back free pages inside an arena, never a thread arena's top. In the bench session
that kept ~20 MB of freed screens resident in the OCR thread's arena for good
(BENCHMARKS.md, "Tenth sitting").

:func:`tune` fixes both thresholds (setting one stops glibc raising either), once, at the
start of ``workprint record`` - before the recorder's threads allocate:

* :data:`MMAP_THRESHOLD`: arrays of 4 MiB and more (a screen, 8.3 MB) are mapped and go back
  to the system when freed, at the price of faulting in fresh pages each time; smaller
  buffers - libwebp's 1 MiB hash table per tile encoded, the 2 MB luminance of a screen -
  stay in the heap and are reused without page faults (a 1 MiB threshold, measured in the
  sixth sitting, doubled the encode stage: those tables were mapped afresh per tile).
* :data:`TRIM_THRESHOLD`: the top of an arena is given back once it holds more than this.

Where the C library is not glibc (no ``mallopt``) nothing is changed. A setting the user
made in the environment (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
``GLIBC_TUNABLES=glibc.malloc...``) is left as it is.
"""

from __future__ import annotations

import ctypes
import os

#: allocations of at least this many bytes get a mapping of their own (glibc's default
#: is 128 KiB, raised on its own as large blocks are freed: see above)
MMAP_THRESHOLD = 4 * 2**20
#: an arena's free top beyond this many bytes is given back to the system
TRIM_THRESHOLD = 4 * 2**20

# mallopt(3) parameter numbers (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: what :func:`tune` sets: (mallopt parameter, value, the environment variable and the
#: glibc tunable through which a user may have set it already)
_SETTINGS = (
    (_M_MMAP_THRESHOLD, MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold"),
    (_M_TRIM_THRESHOLD, TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", "glibc.malloc.trim_threshold"),
)


def _libc_function(name: str):
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError, TypeError):  # not glibc (or no C library to look in)
        return None


_MALLOPT = _libc_function("mallopt")
_TRIM = _libc_function("malloc_trim")


def _set_by_user(env_name: str, tunable: str, environ) -> bool:
    return env_name in environ or tunable in environ.get("GLIBC_TUNABLES", "")


def tune(environ=os.environ) -> dict[str, int]:
    """Fix glibc malloc's mmap and trim thresholds (see the module's docstring). Returns
    what was set, by name; empty where nothing could be (not glibc) or the user set it."""
    done: dict[str, int] = {}
    if _MALLOPT is None:
        return done
    for param, value, env_name, tunable in _SETTINGS:
        if _set_by_user(env_name, tunable, environ):
            continue
        if _MALLOPT(ctypes.c_int(param), ctypes.c_int(value)) == 1:
            done[tunable.rsplit(".", 1)[1]] = value
    return done


def release_free_heap() -> None:
    """Hand the free pages of the C heap back to the system (glibc's ``malloc_trim``).
    Work with many short-lived buffers in a thread of its own (OCR: Tesseract's and
    numpy's) otherwise keeps them resident after they are freed. A no-op where the C
    library has no such call."""
    if _TRIM is not None:
        _TRIM(0)


__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "release_free_heap", "tune"]
