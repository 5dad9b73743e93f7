"""``workprint pause | resume | status | task``: control the running recorder."""

from __future__ import annotations

import argparse
import re
import sys

from ..errors import RecorderNotRunning, WorkprintError
from ._common import add_data_dir, data_dir, print_json


def parse_duration(text: str) -> float:
    """``30m`` / ``2h`` / ``45s`` / ``1h30m`` -> seconds."""
    m = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not m or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 30m, 2h, 90s)")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pause", help="pause the running recorder (only a gap marker remains)")
    add_data_dir(p)
    p.add_argument("--for", dest="for_s", type=parse_duration, metavar="DURATION",
                   help="resume by itself after this long (e.g. 30m)")
    p.set_defaults(func=lambda a: _send(a, {"cmd": "pause", "for_s": a.for_s}))

    p = sub.add_parser("resume", help="resume a paused recorder")
    add_data_dir(p)
    p.set_defaults(func=lambda a: _send(a, {"cmd": "resume"}))

    p = sub.add_parser("status", help="is a recorder running, recording or paused, and why; "
                                      "sessions the collector refused")
    add_data_dir(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_status)

    p = sub.add_parser("task", help="mark the start or end of a task (its text becomes the "
                                    "instruction of the episode)")
    tsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = tsub.add_parser("start", help="start a task")
    add_data_dir(s)
    s.add_argument("text", help='what the task is, e.g. "Reconcile the March invoices"')
    s.set_defaults(func=lambda a: _send(a, {"cmd": "task_start", "text": a.text}))
    e = tsub.add_parser("end", help="end the current task")
    add_data_dir(e)
    e.add_argument("--failed", action="store_true", help="the task was not completed")
    e.set_defaults(func=lambda a: _send(a, {"cmd": "task_end", "ok": not a.failed}))


def _refusals(args: argparse.Namespace) -> list:
    from ..sync.state import refused

    root = data_dir(args)
    return refused(root) if (root / "sessions").is_dir() else []


def _status(args: argparse.Namespace) -> int:
    """The recorder's state, then every session the collector refused (until it is
    uploaded or withheld) - also when no recorder runs."""
    refusals = _refusals(args)
    try:
        return _send(args, {"cmd": "status"}, refusals)
    except RecorderNotRunning:
        if not args.json:
            _print_refusals(refusals, sys.stderr)
        raise


def _print_refusals(refusals: list, out) -> None:
    for r in refusals:
        print(f"upload refused: session {r.session}: {r.reason}", file=out)
        print(f"  what to do: {r.todo}", file=out)


def _send(args: argparse.Namespace, req: dict, refusals: list | None = None) -> int:
    from ..capture.control import request

    reply = request(data_dir(args), req)
    if not reply.get("ok"):
        raise WorkprintError(f"the recorder refused: {reply.get('error', 'unknown error')}")
    status = reply.get("status", {})
    if getattr(args, "json", False):
        if refusals is not None:
            status["refused_uploads"] = [r.to_dict() for r in refusals]
        print_json(status)
        return 0
    if status.get("recording"):
        state = f"recording {status.get('app') or ''}".strip()
    elif status.get("paused"):
        why = f": {status['unattributable']}" if status.get("unattributable") else ""
        state = f"paused ({status['paused']}{why})"
    else:
        state = f"not recording: {status.get('scope_reason', 'out of scope')}"
    extra = f"; task: {status['task']}" if status.get("task") else ""
    print(f"{state}{extra}; session {status.get('session', '?')}")
    _print_refusals(refusals or [], sys.stdout)
    return 0
