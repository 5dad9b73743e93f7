"""``workprint notice``: show the recording notice, or acknowledge it ahead of time."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..policy.model import Policy
from ..policy.notice import accept, notice_text, receipt_status
from ._common import resolve_policy, add_data_dir, data_dir, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notice", help="show the recording notice and whether it was acknowledged",
        description="Print what is recorded, why, for how long and your rights, and whether "
                    "you acknowledged it for this policy. With --accept, record the "
                    "acknowledgement now (for scripted set-ups); `workprint record` asks on "
                    "a terminal otherwise. A changed policy needs a new acknowledgement.")
    add_data_dir(p)
    p.add_argument("--policy", type=Path, metavar="FILE",
                   help="policy file (TOML) the notice is for (default: $WORKPRINT_POLICY, else "
                        "the policy your collector publishes, else the built-in policy)")
    p.add_argument("--accept", action="store_true",
                   help="acknowledge the notice for this policy and store the receipt")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def policy_from_args(path: Path | None, root: Path | None = None) -> Policy:
    return resolve_policy(path, root)


def run(args: argparse.Namespace) -> int:
    root = data_dir(args)
    policy = policy_from_args(args.policy, root)
    if args.accept:
        receipt = accept(root, policy, how="cli")
        if args.json:
            print_json({"accepted": True, "receipt": receipt.to_dict(), "path": receipt.path})
        else:
            print(f"acknowledged: notice v{receipt.notice_version} for policy "
                  f"{receipt.policy_hash[:12]} (receipt {receipt.path})")
        return 0
    text = notice_text(policy)
    receipt, why = receipt_status(root, policy)
    if args.json:
        print_json({"notice": text, "policy_hash": policy.hash, "acknowledged": receipt is not None,
                    "status": why, "receipt": receipt.to_dict() if receipt else None})
        return 0
    print(text)
    if receipt is not None:
        print(f"Status: {why}.")
    else:
        print(f"Status: not acknowledged - {why}. "
              f"Acknowledge with `workprint notice --accept` (same --data-dir/--policy).")
    return 0
