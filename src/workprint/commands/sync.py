"""``workprint sync``: seal approved sessions into the outbox and upload them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict

from ._common import add_data_dir, data_dir, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="upload approved sessions to the collector (with retry and backoff)")
    add_data_dir(p)
    p.add_argument("--watch", action="store_true", help="keep running in the background (alongside record)")
    p.add_argument("--interval", type=float, default=60, help="seconds between rounds with --watch")
    p.add_argument("--outbox-quota-mb", type=float, default=2048)
    p.add_argument("--auto-approve-hours", type=float,
                   help="approve unreviewed sessions this long after they end (default: from the policy)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def one_round(d, cred, outbox, review, auto_s, force: bool) -> dict:
    from ..sync.client import Client, SyncError
    from ..sync.review import auto_approve_from_policy

    policy_path = outbox.root / "policy.json"
    with Client.for_device(cred) as client:
        try:
            pol = client.policy()
            policy_path.write_text(json.dumps(pol))
        except SyncError:
            pol = json.loads(policy_path.read_text()) if policy_path.exists() else {}
        if auto_s is None:
            auto_s = auto_approve_from_policy(pol.get("policy"))
        fill = outbox.fill(cred, review, auto_s)
        rep = outbox.sync(client, force=force)
    return {"sealed_sessions": len(fill.sealed), "sealed_chunks": fill.chunks, "warnings": fill.warnings,
            **asdict(rep)}


def run(args: argparse.Namespace) -> int:
    from ..sync.client import Credential
    from ..sync.outbox import Outbox
    from ..sync.review import Review

    d = data_dir(args)
    cred = Credential.load(d)
    outbox = Outbox(d, quota_bytes=int(args.outbox_quota_mb * 1024 * 1024))
    review = Review(d)
    auto_s = args.auto_approve_hours * 3600 if args.auto_approve_hours is not None else None
    try:
        while True:
            result = one_round(d, cred, outbox, review, auto_s, force=not args.watch)
            for w in result["warnings"]:
                print(f"workprint sync: warning: {w}", file=sys.stderr)
            if args.json:
                print_json(result)
            else:
                print(f"sealed {result['sealed_sessions']} session(s); uploaded {result['uploaded']}, "
                      f"already there {result['already_present']}, waiting {result['remaining']}"
                      + (f"; last error: {result['error']}" if result["error"] else ""))
                for r in result["rejected"]:
                    print(f"  refused by the collector: {r}", file=sys.stderr)
            if not args.watch:
                return 1 if result["error"] or result["rejected"] else 0
            time.sleep(args.interval)
    finally:
        outbox.close()
        review.close()
