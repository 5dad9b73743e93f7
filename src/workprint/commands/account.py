"""``workprint account``: what the collector holds about me - list, download all, erase all.

Access, portability and erasure requests, each answered by one command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UsageError
from ._common import add_data_dir, data_dir, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("account", help="your data on the collector: list, export, erase")
    verbs = p.add_subparsers(dest="account_command", metavar="ACTION")
    ls = verbs.add_parser("list", help="what the collector holds about you")
    add_data_dir(ls)
    ls.set_defaults(func=_list)
    ex = verbs.add_parser("export", help="download everything the collector holds about you")
    add_data_dir(ex)
    ex.add_argument("out", type=Path, help="folder to write to")
    ex.set_defaults(func=_export)
    er = verbs.add_parser("erase", help="delete everything the collector holds about you")
    add_data_dir(er)
    er.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    er.set_defaults(func=_erase)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _client(args, person: bool = False):
    from ..sync.client import Client, Credential

    cred = Credential.load(data_dir(args))
    return Client.for_person(cred) if person else Client.for_device(cred)


def _list(args: argparse.Namespace) -> int:
    with _client(args, person=True) as c:
        print_json(c.me())
    return 0


def _export(args: argparse.Namespace) -> int:
    import hashlib

    with _client(args) as c:
        me = c.me()
        args.out.mkdir(parents=True, exist_ok=True)
        for ch in me["chunks"]:
            data = c.get_chunk(ch["sha256"])
            if hashlib.sha256(data).hexdigest() != ch["sha256"]:
                raise SystemExit(f"chunk {ch['sha256']} arrived corrupted; run export again")
            (args.out / f"{ch['sha256']}.wpc").write_bytes(data)
    (args.out / "index.json").write_text(json.dumps(me, indent=2))
    print(f"exported {len(me['chunks'])} chunk(s) of {len(me['sessions'])} session(s) to {args.out}")
    return 0


def _erase(args: argparse.Namespace) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("erasing needs confirmation and there is no terminal to ask on; "
                             "pass --yes to erase without asking (nothing was deleted)")
        answer = input("Delete everything the collector holds about you? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    from ..sync.client import Client, Credential, SyncError, forget_collector

    d = data_dir(args)
    cred = Credential.load(d)
    try:
        with Client.for_person(cred) as c:
            got = c.erase_me()
    except SyncError as exc:
        if exc.status != 410:
            raise
        got = {"deleted_chunks": 0}      # erased before (e.g. by the program owner)
    dropped = forget_collector(d, cred)
    print(f"erased {got['deleted_chunks']} chunk(s) from the collector; dataset builds exclude you from now on; "
          f"{dropped} chunk(s) waiting in the outbox were dropped and this device uploads nothing more "
          "(enrol again to contribute)")
    for d in got.get("datasets") or []:
        print(f"dataset {d['dataset']} version {d['version']} held your sessions: it is rebuilt without "
              f"you and deleted by {d['rebuild_due']}")
    return 0
