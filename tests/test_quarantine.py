"""Encrypted quarantine: round trip, nothing readable on disk, key loss, quota."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from workprint.store.quarantine import Quarantine, QuarantineFull

PATTERN = np.array([0x57A1C0DE, 0x0BADF00D, 0x5EC12E75, 0xC0FFEE42], dtype=np.uint32)


def frame(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**32, size=(h, w), dtype=np.uint32)


def patterned(h: int = 256, w: int = 256) -> np.ndarray:
    return np.tile(PATTERN, h * w // len(PATTERN)).reshape(h, w)


def test_round_trip_oldest_first_and_files_removed(tmp_path: Path) -> None:
    q = Quarantine(tmp_path)
    a, b, c = frame(seed=1), frame(seed=2), frame(60, 80, seed=3)
    q.put(300, "post_action", c)
    q.put(100, "pre_click", a)
    q.put(200, "focus", b)
    assert len(q) == 3 and q.bytes_used == sum(p.stat().st_size for p in tmp_path.glob("*.bin"))
    got = [q.take() for _ in range(3)]
    assert [(t, r) for t, r, _ in got] == [(100, "pre_click"), (200, "focus"), (300, "post_action")]
    assert np.array_equal(got[0][2], a) and np.array_equal(got[1][2], b) and np.array_equal(got[2][2], c)
    assert got[2][2].shape == (60, 80)
    assert q.take() is None and len(q) == 0 and q.bytes_used == 0
    assert list(tmp_path.iterdir()) == []


def test_file_holds_no_raw_pixels(tmp_path: Path) -> None:
    q = Quarantine(tmp_path)
    px = patterned()
    fid = q.put(1, "pre_key", px)
    data = (tmp_path / f"{fid}.bin").read_bytes()
    run = PATTERN.tobytes()
    assert run not in data
    assert PATTERN[:2].tobytes() not in data and PATTERN[2:].tobytes() not in data
    assert len(data) < px.nbytes // 10          # compressed before sealing
    assert b"pre_key" not in data               # the header is sealed too
    assert [p.name for p in tmp_path.iterdir()] == [f"{fid}.bin"]  # no temp file left
    assert oct((tmp_path / f"{fid}.bin").stat().st_mode & 0o777) == "0o600"
    t, r, back = q.take()  # type: ignore[misc]
    assert (t, r) == (1, "pre_key") and np.array_equal(back, px)


def test_another_key_cannot_read_and_purges(tmp_path: Path) -> None:
    q1 = Quarantine(tmp_path, key=os.urandom(32))
    for i in range(3):
        q1.put(i, "pre_click", frame(seed=i))
    (tmp_path / ".00000000000000000009-00000009.tmp").write_bytes(b"half written")
    q2 = Quarantine(tmp_path)  # a new run: new key
    assert q2.purged == 4 and len(q2) == 0 and q2.take() is None
    assert list(tmp_path.iterdir()) == []


def test_same_key_adopts_files_and_tampering_is_detected(tmp_path: Path) -> None:
    key = os.urandom(32)
    q1 = Quarantine(tmp_path, key=key)
    q1.put(5, "a", frame(seed=5))
    fid = q1.put(6, "b", frame(seed=6))
    q2 = Quarantine(tmp_path, key=key)
    assert len(q2) == 2 and q2.purged == 0
    path = tmp_path / f"{fid}.bin"
    data = bytearray(path.read_bytes())
    data[40] ^= 1
    path.write_bytes(bytes(data))
    t, _, _ = q2.take()  # type: ignore[misc]
    assert t == 5
    assert q2.take() is None and q2.lost == 1 and list(tmp_path.iterdir()) == []
    # a file renamed to another id fails too (the id is authenticated)
    f3 = q2.put(7, "c", frame(seed=7))
    (tmp_path / f"{f3}.bin").rename(tmp_path / "00000000000000000001-00000001.bin")
    assert len(Quarantine(tmp_path, key=key)) == 0


def test_quota(tmp_path: Path) -> None:
    q = Quarantine(tmp_path, quota_bytes=250_000)
    n = 0
    with pytest.raises(QuarantineFull, match="full"):
        while True:
            q.put(n, "idle_change", frame(seed=n))  # random pixels: ~77 KB each
            n += 1
    assert n == 3 and len(q) == 3 and q.bytes_used <= 250_000
    assert len(list(tmp_path.glob("*.bin"))) == 3 and not list(tmp_path.glob(".*"))
    q.take()
    q.put(99, "idle_change", frame(seed=99))  # room again
    assert q.purge() == 3 and len(q) == 0 and list(tmp_path.iterdir()) == []


def test_bad_key_length(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Quarantine(tmp_path, key=b"short")


def test_a_quarantine_nothing_waits_in_loads_no_cipher(tmp_path):
    """While OCR keeps up no frame is sealed: the recorder does not load cryptography
    (~8 MB resident) for a quarantine that stays empty."""
    import subprocess
    import sys

    code = ("import sys; from workprint.store.quarantine import Quarantine; "
            f"q = Quarantine({str(tmp_path / 'q')!r}); assert q.take() is None and len(q) == 0; "
            "q.discard(lambda t: True); q.purge(); "
            "assert not any(m.startswith('cryptography') for m in sys.modules), 'loaded'")
    subprocess.run([sys.executable, "-c", code], check=True)
