"""CPU spent per pipeline stage, so benchmarks can show where a recording's CPU goes.

``STAGES.measure("grab")`` around a call adds the calling thread's CPU time to that
stage; :meth:`StageCosts.snapshot` gives seconds and call counts per stage. Work done in
child processes (the Tesseract CLI) is added with :meth:`StageCosts.add`. One instance
per recorder process; thread-safe. :func:`thread_cpu` reads each live thread's CPU time
by thread name (threads that already ended are not listed).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator


class StageCosts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cpu_ns: dict[str, int] = {}
        self._calls: dict[str, int] = {}

    @contextlib.contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        t0 = time.thread_time_ns()
        try:
            yield
        finally:
            self.add(stage, time.thread_time_ns() - t0)

    def add(self, stage: str, cpu_ns: int, calls: int = 1) -> None:
        with self._lock:
            self._cpu_ns[stage] = self._cpu_ns.get(stage, 0) + cpu_ns
            self._calls[stage] = self._calls.get(stage, 0) + calls

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {k: {"cpu_s": round(v / 1e9, 3), "calls": self._calls[k]}
                    for k, v in sorted(self._cpu_ns.items())}

    def reset(self) -> None:
        with self._lock:
            self._cpu_ns.clear()
            self._calls.clear()


STAGES = StageCosts()


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by thread name."""
    out: dict[str, float] = {}
    for t in threading.enumerate():
        if t.ident is None:
            continue
        try:
            clock = time.pthread_getcpuclockid(t.ident)
            out[t.name] = round(out.get(t.name, 0.0) + time.clock_gettime(clock), 3)
        except (OSError, ProcessLookupError):
            continue
    return out


__all__ = ["StageCosts", "STAGES", "thread_cpu"]

