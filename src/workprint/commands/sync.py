"""``workprint sync``: seal approved sessions into the outbox and upload them."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

from ._common import add_data_dir, data_dir, print_json, progress_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="upload approved sessions to the collector (with retry and backoff)")
    add_data_dir(p)
    p.add_argument("--watch", action="store_true", help="keep running in the background (alongside record)")
    p.add_argument("--interval", type=float, default=60, help="seconds between rounds with --watch")
    p.add_argument("--outbox-quota-mb", type=float, default=2048)
    p.add_argument("--auto-approve-after-hours", type=float, metavar="H",
                   help="for this run: sessions you neither approved nor withheld count as approved "
                        "H hours after they end; 0 = never (default: your setting from "
                        "`workprint review --auto-approve-after-hours`, else never)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def one_round(d, cred, outbox, review, auto_hours: float | None, force: bool, transport=None,
              progress=None) -> dict:
    """Fetch the collector's policy (what the next recordings follow), seal what the
    contributor approved, upload. Approval comes only from this device: the contributor's
    decisions and their own auto-approval setting, never from the collector."""
    from ..errors import PolicyError
    from ..sync.client import Client, SyncError
    from ..sync.published import save_published
    from ..sync.review import auto_approve_seconds

    from ..sync.client import forget_collector

    warnings: list[str] = []
    if cred.erased:
        raise SyncError("the collector erased this device's data on request; nothing is uploaded "
                        "any more - enrol again (`workprint enroll`) to contribute")
    with Client.for_device(cred, transport=transport) as client:
        try:
            save_published(d, client.policy(), cred.server)
        except SyncError as exc:
            if exc.status == 410:
                dropped = forget_collector(d, cred)
                raise SyncError(f"{exc}; {dropped} chunk(s) were dropped from the outbox", 410) from None
            # offline: keep the policy fetched last time; the upload below reports it
        except PolicyError as exc:
            warnings.append(str(exc))
        hours = review.auto_approve_after_hours() if auto_hours is None else auto_hours
        fill = outbox.fill(cred, review, auto_approve_seconds(hours))
        rep = outbox.sync(client, force=force, progress=progress)
    return {"sealed_sessions": len(fill.sealed), "sealed_chunks": fill.chunks,
            "warnings": warnings + fill.warnings, **asdict(rep)}


def run(args: argparse.Namespace) -> int:
    from ..sync.client import Credential
    from ..sync.outbox import Outbox
    from ..sync.review import Review
    from ..sync.state import refused

    d = data_dir(args)
    cred = Credential.load(d)
    outbox = Outbox(d, quota_bytes=int(args.outbox_quota_mb * 1024 * 1024))
    review = Review(d)
    try:
        while True:
            with progress_bar("uploading", "chunks") as progress:
                result = one_round(d, cred, outbox, review, args.auto_approve_after_hours,
                                   force=not args.watch, progress=progress)
            for w in result["warnings"]:
                print(f"workprint sync: warning: {w}", file=sys.stderr)
            # every refused session, this round's and earlier ones, until withheld or uploaded
            result["refused_sessions"] = [r.to_dict() for r in refused(d)]
            if args.json:
                print_json(result)
            else:
                print(f"sealed {result['sealed_sessions']} session(s); uploaded {result['uploaded']}, "
                      f"already there {result['already_present']}, waiting {result['remaining']}"
                      + (f"; last error: {result['error']}" if result["error"] else ""))
                for r in result["refused_sessions"]:
                    print(f"  session {r['session']} refused by the collector: {r['reason']}\n"
                          f"    what to do: {r['todo']}", file=sys.stderr)
            if not args.watch:
                return 1 if result["error"] or result["rejected"] or result["refused_sessions"] else 0
            time.sleep(args.interval)
    finally:
        outbox.close()
        review.close()
