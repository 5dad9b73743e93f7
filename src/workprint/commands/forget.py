"""``workprint forget``: irrecoverably delete the last N minutes, or a whole session."""

from __future__ import annotations

import argparse
import sys

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
        verb = "removed session" if r.removed else "session"
        live = " (recording)" if r.live else ""
        print(f"{verb} {r.session}{live}: deleted {r.events} events, {r.frames} frames, "
              f"{r.manifests} frame manifests, {r.tiles} tiles")
    for r in reports:
        for w in r.warnings:
            print(f"warning: {w}", file=sys.stderr)


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
    if args.last is not None:
        reports = forget_last(root, seconds)
    else:
        reports = [forget_session(root, args.session)]
    if args.json:
        print_json({"forgot": what, "sessions": [r.to_dict() for r in reports],
                    "totals": {k: sum(getattr(r, k) for r in reports)
                               for k in ("events", "frames", "manifests", "tiles")}})
    else:
        _print_reports(reports, what)
    return 0
