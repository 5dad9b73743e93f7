"""``workprint sessions``: list recorded sessions."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from ..errors import CorruptSessionError

from ..store.session import DataDir
from ._common import add_data_dir, data_dir, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sessions", help="list recorded sessions",
                       description="List sessions with start, end, duration, event counts by kind, "
                                   "frames, dropped frames, apps seen, bytes on disk, state and "
                                   "where each stands on its way to the collector (pending review, "
                                   "approved, uploaded, withheld, or refused - with the reason and "
                                   "what to do).")
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def run(args: argparse.Namespace) -> int:
    from ..sync.state import load_upload_states

    store = DataDir(data_dir(args))
    summaries = []
    sessions, broken = store.scan()
    for s in sessions:
        with s:
            try:
                summaries.append(s.summary())
            except CorruptSessionError as exc:
                broken.append(exc)
    broken.sort(key=lambda e: e.session)
    for exc in broken:
        print(f"workprint: {exc}", file=sys.stderr)
    uploads = load_upload_states(store.root) if summaries or broken else {}

    def upload(sid: str) -> dict | None:
        return uploads[sid].to_dict() if sid in uploads else None

    if args.json:
        print_json([asdict(s) | {"upload": upload(s.id)} for s in summaries] +
                   [{"id": e.session, "state": "corrupt", "error": str(e), "upload": upload(e.session)}
                    for e in broken])
        return 0
    if not summaries and not broken:
        print(f"no sessions in {store.root}")
        return 0
    print(f"{'SESSION':24} {'START':20} {'DURATION':>9} {'EVENTS':>7} {'FRAMES':>7} {'DROP':>5} "
          f"{'SIZE':>9}  STATE        UPLOAD          APPS")
    for s in summaries:
        total = sum(s.events.values())
        dur = f"{s.duration_s:.1f}s" if s.duration_s is not None else "-"
        start = (s.start or "-")[:19].replace("T", " ")
        up = uploads.get(s.id)
        word = ("REFUSED" if up.state == "refused" else up.state.replace("_", " ")) if up else "-"
        print(f"{s.id:24} {start:20} {dur:>9} {total:>7} {s.frames:>7} {s.dropped_frames:>5} "
              f"{_size(s.bytes_on_disk):>9}  {s.state:12} {word:15} {', '.join(s.apps)}")
        if up is not None and up.state == "refused":
            print(f"{'':26}refused by the collector: {up.reason}")
            print(f"{'':26}what to do: {up.todo}")
    for e in broken:
        print(f"{e.session:24} {'-':20} {'-':>9} {'-':>7} {'-':>7} {'-':>5} {'-':>9}  corrupt      "
              f"{'-':15} (delete: workprint forget --session {e.session})")
    return 0
