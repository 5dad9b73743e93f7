"""OCR masking speed at 1920x1080 on one core, and a long-day backlog model.

(a) full screen of terminal-like text read line by line (libtesseract, upscale chosen per
    line or fixed 1x/2x), with recall (of the planted secrets, how many are masked);
(b) a typical changed region (two 128x128 tiles of new text);
(c) a window-switch-sized change (~900x700 of new text);
plus the quarantine's seal/open cost and sealed size per 1080p frame.

Then the "long day": Poisson arrivals at 0.8 stored frames/s while active (20% of them
large changes), active stretches ~15 min, idle ~5 min, 8 hours, one core for OCR. Frames
OCR cannot take at once wait in the quarantine: its peak count and bytes are printed.

Run (serialised with other heavy jobs on this machine):
    flock /tmp/workprint-heavy.lock .venv/bin/python bench/bench_pixels.py
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
os.environ["OMP_THREAD_LIMIT"] = "1"

import numpy as np  # noqa: E402

from test_redact_pixels import render_terminal  # noqa: E402
from workprint.policy.redact_pixels import TextMasker, changed_regions, default_engine, group_lines  # noqa: E402
from workprint.policy.redact_text import Redactor  # noqa: E402
from workprint.store.quarantine import Quarantine  # noqa: E402

W, H = 1920, 1080
WORDS = ("the quick brown fox jumps over lazy dog build test deploy server config main "
         "src error warning info debug commit branch merge request review").split()
SECRETS = ["alice.smith@example.com", "AKIAIOSFODNN7EXAMPLE", "4111 1111 1111 1111",
           "bob.jones@corp.example.org", "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
           "5500 0000 0000 0004"]


def terminal_lines(n: int, seed: int) -> tuple[list[str], dict[int, str]]:
    rnd = random.Random(seed)
    lines, planted = [], {}
    for i in range(n):
        line = "$ " + " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 16)))
        if i % 9 == 4:
            planted[i] = SECRETS[(i // 9) % len(SECRETS)]
            line += " " + planted[i]
        lines.append(line)
    return lines, planted


def full_screen(size: int = 14, seed: int = 1) -> tuple[np.ndarray, list, dict[int, str]]:
    lines, planted = terminal_lines(H // int(size * 1.4) - 1, seed)
    px, rows = render_terminal(lines, width=W, height=H, size=size)
    return px, rows, planted


def secret_recall(out: np.ndarray, rows: list, planted: dict[int, str]) -> float:
    """A planted secret counts as masked if its line has black pixels (the terminal
    ground is (30,30,30), never 0)."""
    hit = sum(1 for i in planted if (out[rows[i][0]:rows[i][1]] & 0xFFFFFF == 0).any())
    return hit / max(1, len(planted))


def timed(fn, reps: int) -> tuple[float, object]:
    times, res = [], None
    for _ in range(reps):
        t = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), res


def bench_full(redactor: Redactor) -> dict[str, float]:
    print("(a) full 1920x1080 terminal screen, 14 px DejaVu Sans Mono, 1 core")
    print("    line by line (libtesseract in-process, psm 6 per text segment), no cache")
    print(f"{'scale':>5} {'s/frame':>8} {'frames/s':>9} {'secrets masked':>15}")
    px, rows, planted = full_screen()
    engine = default_engine()
    out: dict[str, float] = {}
    for scale in (None, 1, 2):
        sec, res = timed(lambda: TextMasker(redactor, engine, scale=scale).mask(px), 2)
        rec = secret_recall(res, rows, planted)  # type: ignore[arg-type]
        out[f"{scale or 'auto'}"] = sec
        print(f"{scale or 'auto':>5} {sec:>8.2f} {1 / sec:>9.2f} {rec:>14.0%}")
    # small text, where upscaling matters most
    px, rows, planted = full_screen(size=11, seed=2)
    for scale in (None, 2):
        sec, res = timed(lambda: TextMasker(redactor, engine, scale=scale).mask(px), 1)
        print(f"  11 px text: scale {scale or 'auto'}: {sec:.2f} s, secrets masked "
              f"{secret_recall(res, rows, planted):.0%}")  # type: ignore[arg-type]
    return out


def paste(base: np.ndarray, patch: np.ndarray, x: int, y: int) -> np.ndarray:
    out = base.copy()
    h, w = patch.shape
    out[y:y + h, x:x + w] = patch
    return out


def bench_changes(redactor: Redactor) -> tuple[float, float]:
    base, _, _ = full_screen()
    masker = TextMasker(redactor)
    # (b) two 128x128 tiles of new text (a typed line in a terminal)
    small = []
    for k in range(4):
        patch, _ = render_terminal([f"$ deploy {k} to server", f"user{k}@example.com ok"],
                                   width=256, height=128, size=14, bg=(30, 30, 30))
        small.append(paste(base, patch, 512, 640))
    # (c) a window switch: a 900x700 window full of other text
    large = []
    for k in range(3):
        lines, _ = terminal_lines(34, seed=10 + k)
        patch, _ = render_terminal([ln[:80] for ln in lines], width=900, height=700, size=14,
                                   bg=(250, 250, 245), fg=(20, 20, 20))
        large.append(paste(base, patch, 400, 200))

    def run(frames: list[np.ndarray]) -> float:
        masker.mask(base)  # warm: whole screen OCR'd once
        prev, times = base, []
        for f in frames:
            regions = changed_regions(prev, f)
            t = time.perf_counter()
            masker.mask(f, regions, ())
            times.append(time.perf_counter() - t)
            prev = f
        return statistics.median(times)

    t_small = run(small)
    print(f"(b) two 128x128 tiles changed: {t_small:.3f} s/frame = {1 / t_small:.1f} frames/s")
    t_large = run(large)
    print(f"(c) 900x700 window switch:     {t_large:.3f} s/frame = {1 / t_large:.1f} frames/s")
    masker.mask(base)
    t_same, _ = timed(lambda: masker.mask(base, [], ()), 5)
    print(f"    unchanged frame (no OCR):  {t_same * 1000:.1f} ms/frame")
    return t_small, t_large


def bench_quarantine() -> int:
    px, _, _ = full_screen()
    with tempfile.TemporaryDirectory() as d:
        q = Quarantine(d)
        t_put, _ = timed(lambda: q.put(1, "bench", px), 5)
        size = q.bytes_used // len(q)
        t_take, _ = timed(q.take, 5)
    print(f"quarantine 1080p terminal frame: put {t_put * 1000:.0f} ms, take {t_take * 1000:.0f} ms, "
          f"{size / 1024:.0f} KiB sealed")
    return size


def long_day(t_small: float, t_large: float, sealed: int, *, rate: float = 0.8,
             large_share: float = 0.2, hours: float = 8.0, seed: int = 7) -> None:
    rnd = random.Random(seed)
    mean = (1 - large_share) * t_small + large_share * t_large
    print(f"\nlong day model: {rate} frames/s while active, {large_share:.0%} large, 1 core")
    print(f"  mean OCR cost {mean:.2f} s/frame -> load while active {rate * mean:.2f} "
          f"(>1 means the backlog grows while active)")
    end, t, busy_until = hours * 3600, 0.0, 0.0
    queue: list[float] = []   # arrival times of frames waiting (quarantined)
    peak, waits, active = 0, [], True
    next_switch = rnd.expovariate(1 / 900)
    while t < end:
        if active:
            t += rnd.expovariate(rate)
        else:
            t = next_switch
        if t >= next_switch:
            active = not active
            next_switch = t + rnd.expovariate(1 / (900 if active else 300))
            continue
        # serve what finished before this arrival
        while queue and busy_until <= t:
            start = max(busy_until, queue[0])
            waits.append(start - queue.pop(0))
            busy_until = start + (t_large if rnd.random() < large_share else t_small)
        if busy_until <= t:
            busy_until = t + (t_large if rnd.random() < large_share else t_small)
            waits.append(0.0)
        else:
            queue.append(t)
            peak = max(peak, len(queue))
    print(f"  8 h: peak quarantine {peak} frames = {peak * sealed / 2**20:.0f} MiB, "
          f"at end {len(queue)} frames; median wait {statistics.median(waits):.1f} s, "
          f"max wait {max(waits):.0f} s")


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.python_version()}, OMP_THREAD_LIMIT=1")
    redactor = Redactor(username="jdoe", hostname="box17")
    bench_full(redactor)
    t_small, t_large = bench_changes(redactor)
    sealed = bench_quarantine()
    long_day(t_small, t_large, sealed)
    long_day(t_small, t_large, sealed, large_share=0.5)


if __name__ == "__main__":
    main()
