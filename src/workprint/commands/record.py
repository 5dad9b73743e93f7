"""``workprint record``: capture this display into a new session."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from .. import __version__
from ..errors import DiskFullError, StoreError
from ..store.session import DataDir
from ._common import add_data_dir, data_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record", help="record this display until Ctrl-C / SIGTERM or --duration",
        description="Record keyboard, mouse, window focus and screenshots of $DISPLAY into a new "
                    "session. Stops on SIGINT/SIGTERM or after --duration, flushes everything, "
                    "prints the session id and exits 0.")
    add_data_dir(p)
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--policy", type=Path, metavar="FILE", help="policy file (TOML) to enforce")
    p.add_argument("--no-frames", action="store_true", help="do not take screenshots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..capture.backend import get_backend
    from ..capture.recorder import Recorder

    backend = get_backend()
    info = backend.screen_info()
    meta = {"screen": info.to_dict(), "backend": backend.name, "workprint_version": __version__}
    if args.policy is not None:
        meta["policy_file"] = str(args.policy)
    writer = DataDir(data_dir(args)).create(meta)
    recorder = Recorder(backend, writer, frames=not args.no_frames)

    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    print(f"recording session {writer.id} on {backend.name} {info.width}x{info.height} "
          f"(Ctrl-C to stop)", file=sys.stderr, flush=True)
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        recorder.start()
        while not stop.is_set() and not recorder.stopped.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            stop.wait(timeout=min(0.2, remaining) if remaining is not None else 0.2)
    finally:
        stats = recorder.stop()
        for s, h in old.items():
            signal.signal(s, h)
        state = "error" if recorder.error else "complete"
        writer.close(state=state, dropped_frames=stats.frames_dropped, stats={
            "events": stats.events, "decoded": stats.decoded, "frames_stored": stats.frames_stored,
            "grabs": stats.grabs, "latency_ms": stats.latency_percentiles()})
        backend.close()
    if recorder.error:
        err = recorder.error
        if isinstance(err, (DiskFullError, StoreError)):
            raise err
        raise StoreError(f"recording stopped early: {err}") from err
    print(writer.id)
    return 0
