"""Benchmark: capture + reduction fidelity on a long scripted session with known ground
truth (xterm running cat + the Tk workbench on a virtual screen, driven by xdotool at human
pace). Prints recall/precision per action kind, typed-text exactness and coordinate error.

Target (the issue): recall >= 0.98, precision >= 0.98, typed text exact, coordinates <= 5 px.

Run alone (2-core machines):
``flock /tmp/workprint-heavy.lock .venv/bin/python bench/bench_fidelity.py [--actions 200] [--seed 1]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import Desk, Recording  # noqa: E402
from fidelity import run_scripted  # noqa: E402
from workprint.virtual_desktop import VirtualDesktop  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--actions", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-frames", action="store_true", help="record without screenshots")
    ap.add_argument("--verbose", "-v", action="store_true", help="list missed and extra actions")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="wp-fidelity-") as tmp, VirtualDesktop(1920, 1080) as vd:
        os.environ["DISPLAY"] = vd.display
        desk = Desk(vd, Path(tmp))
        t0 = time.monotonic()
        result = run_scripted(vd, lambda: Recording(Path(tmp) / "data", frames=not args.no_frames),
                              args.seed, args.actions, workbench=lambda: desk.workbench()[1])
        rec = result["recorder"]
        sc = result["score"]
        print(f"fidelity: seed {args.seed}, {args.actions} scripted actions (+1 initial focus), "
              f"{len(result['events'])} raw events, scripted for {result['elapsed_s']:.1f} s "
              f"(total {time.monotonic() - t0:.1f} s), frames stored {rec.stats.frames_stored}, "
              f"dropped {rec.stats.frames_dropped}, recorder error: {rec.stats.error}")
        print(sc.table())
        ok = (sc.recall >= 0.98 and sc.precision >= 0.98 and sc.writes_exact == sc.writes
              and sc.max_coord_err <= 5)
        if args.verbose or not ok:
            print(sc.explain())
        print("target met" if ok else "TARGET MISSED")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
