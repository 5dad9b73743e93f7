"""Benchmarks: reduction throughput, export throughput (with image embedding) and the
size of a one-hour session's export. Prints a table.

Run alone (2-core machines): ``flock /tmp/workprint-heavy.lock .venv/bin/python bench/bench_reduce.py``
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from PIL import ImageDraw  # noqa: E402

from storegen import add_image_frame, screen_image  # noqa: E402
from workprint.actions.reduce import reduce_events  # noqa: E402
from workprint.events import ButtonEvent, KeyEvent, MoveEvent, ScrollEvent  # noqa: E402
from workprint.export import export_sessions  # noqa: E402
from workprint.store.session import DataDir  # noqa: E402

MS = 1_000_000
WORDS = "the quick brown fox jumps over lazy dog report budget meeting invoice".split()


def synthetic_stream(n_actions: int, seed: int = 1, moves_per_approach: int = 40):
    """A realistic mix: approach moves + clicks, typed words, hotkeys, scroll bursts."""
    rng = random.Random(seed)
    t = 10_000 * MS
    ev: list = []
    x, y = 500, 500
    for _ in range(n_actions):
        r = rng.random()
        t += rng.randint(300, 2500) * MS
        if r < 0.45:                                   # move + click (sometimes double)
            tx, ty = rng.randint(0, 1919), rng.randint(0, 1079)
            for i in range(1, moves_per_approach + 1):
                t += 8 * MS
                ev.append(MoveEvent(t, x + (tx - x) * i // moves_per_approach, y + (ty - y) * i // moves_per_approach))
            x, y = tx, ty
            for _ in range(2 if rng.random() < 0.1 else 1):
                t += 90 * MS
                ev.append(ButtonEvent(t, True, x, y, "left"))
                t += 70 * MS
                ev.append(ButtonEvent(t, False, x, y, "left"))
        elif r < 0.85:                                 # a typed phrase
            for ch in " ".join(rng.sample(WORDS, 3)):
                t += rng.randint(60, 160) * MS
                code = ord(ch) % 200 + 9
                name = "space" if ch == " " else ch
                ev.append(KeyEvent(t, True, code, 0, name, ch))
                t += 40 * MS
                ev.append(KeyEvent(t, False, code, 0, name, ch))
        elif r < 0.93:                                 # ctrl+s
            t += 50 * MS
            ev.append(KeyEvent(t, True, 37, 0, "Control_L"))
            ev.append(KeyEvent(t + 60 * MS, True, 39, 0, "s", "s", ("ctrl",)))
            ev.append(KeyEvent(t + 100 * MS, False, 39, 0, "s", "s", ("ctrl",)))
            ev.append(KeyEvent(t + 140 * MS, False, 37, 0, "Control_L", None, ("ctrl",)))
            t += 150 * MS
        else:                                          # scroll burst
            for _ in range(rng.randint(2, 8)):
                t += 30 * MS
                ev.append(ScrollEvent(t, x, y, 0, -1))
    return ev


def bench_reduce(n_actions: int) -> tuple[int, float, int]:
    events = synthetic_stream(n_actions)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        actions = reduce_events(events)
        best = min(best, time.perf_counter() - t0)
    return len(events), best, len(actions)


def build_session(root: Path, n_actions: int, change_every: int, seed: int = 2) -> tuple[str, int]:
    """A session with frames: a new (slightly changed) 1920x1080 screen every few actions."""
    events = synthetic_stream(n_actions, seed)
    w = DataDir(root).create({"screen": {"width": 1920, "height": 1080, "scale": 1.0, "monitors": []}},
                             session_id="20260101-090000-bench0")
    w.add_events(events)
    base = screen_image("bench")
    rng = random.Random(seed)
    downs = [e.t_ns for e in events if isinstance(e, ButtonEvent) and e.down]
    keys = [e.t_ns for e in events if isinstance(e, KeyEvent) and e.down]
    times = sorted(set(downs[::1] + keys[::12]))
    n_frames = 0
    add_image_frame(w, events[0].t_ns - 1000 * MS, base)
    for i, t in enumerate(times):
        if i % change_every:
            continue
        img = base.copy()
        d = ImageDraw.Draw(img)
        x0, y0 = rng.randint(0, 1500), rng.randint(40, 900)   # a few percent of the screen changes
        d.rectangle((x0, y0, x0 + 420, y0 + 160), fill=(rng.randint(0, 255), 230, 230))
        d.text((x0 + 10, y0 + 10), f"state {i} " * 6, fill=(0, 0, 0))
        add_image_frame(w, t - 700 * MS, img)
        n_frames += 1
    w.close()
    return "20260101-090000-bench0", n_frames


def folder_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actions", type=int, default=20_000, help="actions in the reduction stream")
    ap.add_argument("--export-actions", type=int, default=300)
    ap.add_argument("--hour-actions", type=int, default=2000, help="actions in an active hour")
    args = ap.parse_args()
    rows = []
    n, secs, n_act = bench_reduce(args.actions)
    rows.append(("reduce", f"{n:,} raw events -> {n_act:,} actions", f"{n / secs:,.0f} events/s",
                 ">= 200,000 events/s"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        _, n_frames = build_session(root, args.export_actions, change_every=2)
        for fmt, img in (("hf", "jpeg"), ("agentnet", "jpeg"), ("hf", "png")):
            out = Path(tmp) / f"out-{fmt}-{img}"
            t0 = time.perf_counter()
            s = export_sessions(root, None, fmt, out, image_format=img)
            dt = time.perf_counter() - t0
            rows.append((f"export {fmt} ({img})", f"{s['steps']} steps, {n_frames} changed frames",
                         f"{s['steps'] / dt:,.0f} steps/s", ">= 100 steps/s"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        _, n_frames = build_session(root, args.hour_actions, change_every=2, seed=3)
        store_mb = folder_size(root) / 1e6
        for fmt, img in (("hf", "jpeg"), ("agentnet", "jpeg"), ("hf", "png")):
            out = Path(tmp) / f"hour-{fmt}-{img}"
            t0 = time.perf_counter()
            s = export_sessions(root, None, fmt, out, image_format=img)
            dt = time.perf_counter() - t0
            rows.append((f"1 h export {fmt} ({img})",
                         f"{s['steps']} steps, {n_frames} frames, store {store_mb:.0f} MB",
                         f"{folder_size(out) / 1e6:,.0f} MB in {dt:.0f} s", "size report"))
    w = [max(len(r[i]) for r in rows + [("what", "input", "result", "target")]) for i in range(4)]
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(("what", "input", "result", "target"))))
    for r in rows:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
