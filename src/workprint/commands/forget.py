"""``workprint forget``: irrecoverably delete the last N minutes, a span of time, or a whole
session."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone

from ..errors import StoreError, UsageError
from ..store.forget import (ForgetReport, forget_between, forget_last, forget_session,
                            parse_duration, parse_time)
from ._common import add_data_dir, data_dir, print_json, progress_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "forget", help="irrecoverably delete the last N minutes, a span of time or a whole session",
        description="Delete recorded events and screenshots irrecoverably from this computer: "
                    "everything recorded in the last DURATION of wall-clock time, or between "
                    "two times (across all sessions, including one being recorded now), or one "
                    "whole session. Deleted rows are overwritten, the database rebuilt and its "
                    "write-ahead log emptied; a whole session's files are zero-filled, then "
                    "removed.")
    add_data_dir(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--last", metavar="DURATION", help="e.g. 30s, 10m, 2h, 1h30m")
    what.add_argument("--from", dest="since", metavar="TIME",
                      help="the start of a span to delete: 14:30 or 14:30:15 (today), "
                           "2026-12-05 14:30 (local time) or ISO-8601 with an offset")
    what.add_argument("--session", metavar="ID", help="session id (or a unique prefix)")
    p.add_argument("--to", dest="until", metavar="TIME",
                   help="with --from: the end of the span (same forms; default: now)")
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


def _span(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    """``--from``/``--to`` as aware datetimes; ``--to`` later than now ends now."""
    try:
        since = parse_time(args.since, now)
        until = parse_time(args.until, now) if args.until else now
    except ValueError as exc:
        raise UsageError(f"--from/--to: {exc}") from None
    if since > now:
        raise UsageError(f"--from {args.since}: that is in the future; nothing was recorded "
                         f"then yet (a time of day means today; for another day give the date, "
                         f"e.g. {(now.astimezone() - timedelta(days=1)):%Y-%m-%d} {args.since}; "
                         f"nothing was deleted)")
    if min(until, now) <= since:
        raise UsageError(f"--to {args.until or 'now'} is not after --from {args.since}; give the "
                         f"earlier time first (nothing was deleted)")
    return since, min(until, now)


def _local(t: datetime) -> str:
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def run(args: argparse.Namespace) -> int:
    root = data_dir(args)
    now = datetime.now(timezone.utc)
    if args.until is not None and args.since is None:
        raise UsageError("--to needs --from: the span to forget starts at --from")
    if args.last is not None:
        try:
            seconds = parse_duration(args.last)
        except ValueError as exc:
            raise UsageError(f"--last: {exc}") from None
        what = f"the last {args.last}"
    elif args.since is not None:
        since, until = _span(args, now)
        what = f"the span from {_local(since)} to {_local(until)}"
    else:
        what = f"session {args.session}"
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to delete {what} without confirmation; add --yes "
                             f"(nothing was deleted)")
        if not _confirm(f"Irrecoverably delete everything recorded in {what} from {root}?"):
            print("nothing deleted", file=sys.stderr)
            return 1
    from ..capture.control import forget_live
    from ..sync.outbox import forget_hook

    outbox = forget_hook(root)
    live = None
    if args.session is not None:
        reports = [forget_session(root, args.session, outbox=outbox)]
    else:
        # A recorder running on this data dir first drops what it still holds of the span
        # (frame ring, encoder queue, OCR quarantine, held events) and never writes it; only
        # then is the span deleted from disk, so nothing of it can land after the deletion.
        if args.last is not None:
            live = forget_live(root, seconds=seconds)
        else:  # the recorder's clock is this machine's monotonic clock
            mono_now, wall_now = time.monotonic_ns(), datetime.now(timezone.utc)
            live = forget_live(root, since_t_ns=mono_now - _ns(wall_now - since),
                               until_t_ns=mono_now - _ns(wall_now - until))
        with progress_bar("forgetting", "sessions") as progress:
            if args.last is not None:
                reports = forget_last(root, seconds, outbox=outbox, progress=progress)
            else:
                reports = forget_between(root, since, until, now=now, outbox=outbox,
                                         progress=progress)
        if live is not None and not args.json:
            print(f"the running recorder dropped {live.get('frames', 0)} frame(s) of the span it "
                  f"still held and will store nothing from it")
    if args.json:
        print_json({"forgot": what,
                    "span": ({"from": since.isoformat(), "to": until.isoformat()}
                             if args.since is not None else None),
                    "sessions": [r.to_dict() for r in reports], "recorder": live,
                    "totals": {k: sum(getattr(r, k) for r in reports)
                               for k in ("events", "frames", "manifests", "tiles")}})
    else:
        _print_reports(reports, what)
    if any(r.corrupt and not r.removed for r in reports):
        return StoreError.exit_code  # the others were done; this one still holds its data
    return 0


def _ns(delta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
