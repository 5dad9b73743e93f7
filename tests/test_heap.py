"""The recorder's C heap settings (workprint.heap): freed screens go back to the system."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

from workprint import cli, heap

SRC = str(Path(heap.__file__).resolve().parent.parent)

# Allocates a screen-sized array, frees it, allocates another: with glibc's own thresholds the
# first one freed raises the mmap threshold above a screen's size, so the second comes from the
# heap (and stays resident once freed); with the thresholds fixed it is mapped again.
SCREEN_AFTER_A_SCREEN = """
import ctypes, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from workprint import heap

class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Mallinfo2
print(sorted(heap.tune()))
a = np.ones((1080, 1920), dtype=np.uint32)
del a
b = np.ones((1080, 1920), dtype=np.uint32)
print(mallinfo2().hblkhd >= b.nbytes)
"""


def _glibc_with_mallinfo2() -> bool:
    try:
        ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return False
    return True


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="glibc malloc only")
def test_a_screen_freed_does_not_keep_the_next_ones_in_the_heap():
    out = subprocess.run([sys.executable, "-c", SCREEN_AFTER_A_SCREEN, SRC], capture_output=True,
                         text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    applied, mapped = out.stdout.split("\n")[:2]
    assert applied == "['mmap_threshold', 'trim_threshold']"
    assert mapped == "True", "the second screen came from the heap"


def test_a_setting_the_user_made_is_left_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "_MALLOPT", lambda *a: calls.append(a) or 1)
    env = {"MALLOC_MMAP_THRESHOLD_": "65536", "GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}
    assert heap.tune(env) == {} and calls == []
    assert heap.tune({}) == {"mmap_threshold": heap.MMAP_THRESHOLD, "trim_threshold": heap.TRIM_THRESHOLD}
    assert len(calls) == 2


def test_not_glibc_changes_nothing(monkeypatch):
    monkeypatch.setattr(heap, "_MALLOPT", None)
    monkeypatch.setattr(heap, "_TRIM", None)
    assert heap.tune({}) == {}
    heap.release_free_heap()  # a no-op, no error


def test_record_tunes_the_heap_before_it_starts(monkeypatch, tmp_path):
    class Started(Exception):
        pass

    def tune(*a):
        raise Started  # the first thing the recorder does: stop there

    monkeypatch.setattr(heap, "tune", tune)
    with pytest.raises(Started):
        cli.main(["record", "--data-dir", str(tmp_path)])
