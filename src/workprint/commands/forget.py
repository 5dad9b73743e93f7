"""``workprint forget``: irrecoverably delete the last N minutes, or a whole session."""

from __future__ import annotations

import argparse
import sys

from ..errors import StoreError
from ..store.forget import ForgetReport, forget_last, forget_session, parse_duration
from ._common import add_data_dir, data_dir, print_json

EXIT_USAGE = 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "forget", help="irrecoverably delete the last N minutes or a whole session",
        description="Delete recorded events and screenshots irrecoverably from this computer: "
                    "everything recorded in the last DURATION of wall-clock time (across all "
                    "sessions, including one being recorded now), or one whole session. "
                    "Deleted rows are overwritten, the database rebuilt and its write-ahead "
                    "log emptied; a whole session's files are zero-filled, then removed.")
    add_data_dir(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--last", metavar="DURATION", help="e.g. 30s, 10m, 2h, 1h30m")
    what.add_argument("--session", metavar="ID", help="session id (or a unique prefix)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _confirm(question: str) -> bool:
    sys.stderr.write(f"{question} Type yes to delete: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() == "yes"


def _print_reports(reports: list[ForgetReport], what: str) -> None:
    if not reports:
        print(f"nothing recorded in {what}; nothing deleted")
    for r in reports:
        if r.corrupt and not r.removed:
            print(f"session {r.session}: corrupt, nothing could be deleted from it (see below)")
            continue
        verb = "removed session" if r.removed else "session"
        live = " (recording)" if r.live else " (was corrupt)" if r.corrupt else ""
        print(f"{verb} {r.session}{live}: deleted {r.events} events, {r.frames} frames, "
              f"{r.manifests} frame manifests, {r.tiles} tiles")
    for r in reports:
        for w in r.warnings:
            print(f"warning: {w}", file=sys.stderr)


def _tell_recorder(root, seconds: float) -> dict | None:
    """A recorder running on this data dir drops what it still holds of the span (frame
    ring, encoder queue, OCR quarantine, held events) and never writes it; only then is
    the span deleted from disk, so nothing of it can land after the deletion."""
    from ..capture.control import forget_live

    return forget_live(root, seconds=seconds)


def run(args: argparse.Namespace) -> int:
    root = data_dir(args)
    if args.last is not None:
        try:
            seconds = parse_duration(args.last)
        except ValueError as exc:
            print(f"workprint: --last: {exc}", file=sys.stderr)
            return EXIT_USAGE
        what = f"the last {args.last}"
    else:
        what = f"session {args.session}"
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"workprint: refusing to delete {what} without confirmation; add --yes "
                  f"(nothing was deleted)", file=sys.stderr)
            return EXIT_USAGE
        if not _confirm(f"Irrecoverably delete everything recorded in {what} from {root}?"):
            print("nothing deleted", file=sys.stderr)
            return 1
    from ..sync.outbox import withdrawer

    withdraw = withdrawer(root)
    live = None
    if args.last is not None:
        live = _tell_recorder(root, seconds)
        reports = forget_last(root, seconds, withdraw=withdraw)
        if live is not None and not args.json:
            print(f"the running recorder dropped {live.get('frames', 0)} frame(s) of the span it "
                  f"still held and will store nothing from it")
    else:
        reports = [forget_session(root, args.session, withdraw=withdraw)]
    if args.json:
        print_json({"forgot": what, "sessions": [r.to_dict() for r in reports],
                    "recorder": live if args.last is not None else None,
                    "totals": {k: sum(getattr(r, k) for r in reports)
                               for k in ("events", "frames", "manifests", "tiles")}})
    else:
        _print_reports(reports, what)
    if any(r.corrupt and not r.removed for r in reports):
        return StoreError.exit_code  # the others were done; this one still holds its data
    return 0
