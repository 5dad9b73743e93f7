"""`make bench`: every benchmark, one after the other (never two at once on 2 cores).

Each prints its own table; results are also left in .bench-out/ where a bench writes
them. Quote the figures in BENCHMARKS.md together with the machine they ran on.
Pass names to run a subset: `python bench/run_all.py capture redact`.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHES = {
    "capture": ["bench/bench_capture.py"],
    "redact": ["bench/bench_redact.py"],
    "pixels": ["bench/bench_pixels.py"],
    "ocr_recall": ["bench/bench_ocr_recall.py"],
    "prompt": ["bench/bench_prompt.py"],
    "reduce": ["bench/bench_reduce.py"],
    "fidelity": ["bench/bench_fidelity.py", "--actions", "100"],
    "fleet": ["bench/bench_fleet.py"],
    "build": ["bench/bench_build.py"],
}


def main() -> int:
    names = sys.argv[1:] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
        return 2
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    failed = []
    for name in names:
        print(f"\n===== {name} =====", flush=True)
        t0 = time.monotonic()
        rc = subprocess.run([sys.executable, *BENCHES[name]], cwd=ROOT, env=env).returncode
        print(f"===== {name}: exit {rc} in {time.monotonic() - t0:.0f}s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
