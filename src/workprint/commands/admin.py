"""``workprint admin``: program-owner tasks on the collector (server side).

Most actions open the collector's store directly (``--data-dir`` of ``serve``, or
``--db``/``--blobs``); ``enrolment-code`` can also ask a running collector over HTTP
(``--server URL`` with an admin token from ``$WORKPRINT_TOKEN`` or ``--token-file``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import add_data_dir, data_dir, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("admin", help="collector administration: tokens, enrolment codes, devices, policy, audit")
    verbs = p.add_subparsers(dest="admin_command", metavar="ACTION")

    def verb(name: str, help: str) -> argparse.ArgumentParser:
        v = verbs.add_parser(name, help=help)
        add_data_dir(v)
        v.add_argument("--db", metavar="URL", help="metadata URL (default: as saved by `serve` in the data dir)")
        v.add_argument("--blobs", metavar="URL", help="blob store URL (default: as saved by `serve`)")
        return v

    t = verb("token", "mint an API token for a role; printed as the last line")
    t.add_argument("--role", required=True, choices=["admin", "curator", "auditor", "contributor"])
    t.add_argument("--contributor", help="for --role contributor: the person's label")
    t.add_argument("--ttl-days", type=float, default=30,
                   help="the token stops working after this many days (default 30, at most 366); "
                        "mint a new one then")
    t.set_defaults(func=_token)

    e = verb("enrolment-code", "create a one-time enrolment code for a device")
    e.add_argument("--contributor", help="label of the person (stored only as a keyed pseudonym)")
    e.add_argument("--ttl-hours", type=float, default=72)
    e.add_argument("--server", help="ask a running collector at this URL instead of the data dir")
    e.add_argument("--token-file", metavar="FILE",
                   help="file holding the admin token for --server, or - to read it from stdin "
                        "(default: $WORKPRINT_TOKEN)")
    e.add_argument("--token", help=argparse.SUPPRESS)   # removed: refused with what to do instead
    e.add_argument("--cacert", help="CA certificate for an HTTPS --server")
    e.set_defaults(func=_code)

    d = verb("devices", "list enrolled devices")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_devices)

    r = verb("revoke", "revoke device credentials")
    r.add_argument("device_ids", nargs="+")
    r.set_defaults(func=_revoke)

    pol = verb("policy", "publish a policy file to devices")
    pol.add_argument("file", type=Path)
    pol.set_defaults(func=_policy)

    ret = verb("retention", "apply retention now (by age and/or quota)")
    ret.add_argument("--max-age-days", type=float)
    ret.add_argument("--quota-gb", type=float)
    ret.set_defaults(func=_retention)

    er = verb("erase", "erase all data of a contributor (an erasure request made to you)")
    er.add_argument("contributor", nargs="?", help="the person's label, as given at enrolment "
                                                  "(case and extra spaces ignored)")
    er.add_argument("--id", dest="contributor_id", help="the contributor id instead of a label "
                                                        "(see `workprint admin contributors`)")
    er.set_defaults(func=_erase)

    tl = verb("tokens", "list role tokens (admin, curator, auditor, contributor) by id")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(func=_tokens)

    tr = verb("revoke-token", "revoke a role token by the id `admin tokens` lists")
    tr.add_argument("token_id")
    tr.set_defaults(func=_revoke_token)

    co = verb("contributors", "list contributors by id, with their devices (for erasure requests)")
    co.add_argument("--json", action="store_true")
    co.set_defaults(func=_contributors)

    av = verb("audit-verify", "check the audit log: hash chain, and the anchors kept outside the database "
                              "(reports the last anchored entry and any break)")
    av.add_argument("--expect", metavar="SEQ:HASH",
                    help="the head an earlier run printed (keep it outside the collector): fail "
                         "unless that entry is still in the log with that hash")
    av.set_defaults(func=_audit_verify)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _collector(args: argparse.Namespace):
    from ..server.collector import Collector
    from ..server.config import CollectorConfig

    return Collector(CollectorConfig.load(data_dir(args), args.blobs, args.db))


def _token(args: argparse.Namespace) -> int:
    if args.role == "contributor" and not args.contributor:
        print("workprint admin token: --role contributor needs --contributor LABEL", file=sys.stderr)
        return 2
    with _collector(args) as c:
        token = c.mint_token(args.role, label=args.contributor, ttl_days=args.ttl_days)
    print(f"# {args.role} token, valid {args.ttl_days:g} days - shown once; the collector keeps only "
          f"its hash", file=sys.stderr)
    print(token)
    return 0


TOKEN_ENV = "WORKPRINT_TOKEN"


def _admin_token(args: argparse.Namespace) -> str | None:
    """The token for --server: --token-file (``-``: stdin), else $WORKPRINT_TOKEN. Never argv:
    every user of the machine can read a process's arguments."""
    import os

    from ..errors import UsageError

    if args.token is not None:
        raise UsageError("--token was removed: a token in the command line is visible to every user "
                         "in the process list. Put it in $WORKPRINT_TOKEN, or in a file readable only "
                         "by you and pass --token-file FILE, or pipe it in with --token-file -")
    if args.token_file == "-":
        return sys.stdin.readline().strip()
    if args.token_file:
        try:
            return Path(args.token_file).read_text().strip()
        except OSError as exc:
            raise UsageError(f"--token-file {args.token_file}: {exc.strerror}; give a file holding "
                             f"the admin token (or - for stdin)") from None
    return os.environ.get(TOKEN_ENV, "").strip()


def _code(args: argparse.Namespace) -> int:
    if args.server:
        from ..sync.client import Client

        token = _admin_token(args)
        if not token:
            print("workprint admin enrolment-code: --server needs an admin token in $WORKPRINT_TOKEN, "
                  "--token-file FILE or --token-file - (stdin)", file=sys.stderr)
            return 2
        with Client(args.server, token, cacert=args.cacert) as cl:
            got = cl.enrolment_code(args.contributor, args.ttl_hours)
    else:
        with _collector(args) as c:
            got = c.create_enrolment_code("cli:admin", args.contributor, args.ttl_hours * 3600)
    print(f"# one-time code, valid {args.ttl_hours:g} h: on the device run `workprint enroll URL CODE`",
          file=sys.stderr)
    print(got["code"])
    return 0


def _devices(args: argparse.Namespace) -> int:
    with _collector(args) as c:
        devs = c.meta.devices()
        c.audit("cli:admin", "devices.list", "", count=len(devs))
    if args.json:
        print_json(devs)
    else:
        for d in devs:
            print(f"{d['id']}  {d['name']:<24} {'revoked' if d['revoked'] else 'active'}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with _collector(args) as c:
        for dev in args.device_ids:
            c.revoke_device("cli:admin", dev)
            print(f"revoked {dev}")
    return 0


def _policy(args: argparse.Namespace) -> int:
    with _collector(args) as c:
        print(c.set_policy("cli:admin", args.file.read_text()))
    return 0


def _retention(args: argparse.Namespace) -> int:
    with _collector(args) as c:
        print_json(c.retention("cli:admin", args.max_age_days,
                               int(args.quota_gb * 1e9) if args.quota_gb is not None else None))
    return 0


def _erase(args: argparse.Namespace) -> int:
    from ..errors import UsageError

    if bool(args.contributor) == bool(args.contributor_id):
        raise UsageError("give the person's label or --id CONTRIBUTOR_ID (one of them)")
    with _collector(args) as c:
        who = c.resolve_contributor(args.contributor_id, "id") if args.contributor_id \
            else c.resolve_contributor(args.contributor)
        print_json(c.erase("cli:admin", who))
    return 0


def _tokens(args: argparse.Namespace) -> int:
    with _collector(args) as c:
        rows = c.role_tokens("cli:admin")
    if args.json:
        print_json(rows)
    else:
        import time

        for r in rows:
            state = "revoked" if r["revoked"] else "expired" if r["expires"] and r["expires"] <= time.time() \
                else "active"
            until = time.strftime("%Y-%m-%d", time.gmtime(r["expires"])) if r["expires"] else "never"
            print(f"{r['id']}  {r['role']:<11} {state:<8} expires {until}")
    return 0


def _revoke_token(args: argparse.Namespace) -> int:
    with _collector(args) as c:
        c.revoke_role_token("cli:admin", args.token_id)
    print(f"revoked {args.token_id}")
    return 0


def _contributors(args: argparse.Namespace) -> int:
    with _collector(args) as c:
        rows = c.contributors("cli:admin")
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            print(f"{r['contributor']}  {'labelled' if r['labelled'] else 'no label':<9} "
                  f"devices {r['active_devices']}/{r['devices']} active")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from ..errors import UsageError

    expect = None
    if args.expect:
        seq, _, head = args.expect.partition(":")
        if not seq.isdigit() or len(head) != 64:
            raise UsageError("--expect takes SEQ:HASH as printed under 'head' by an earlier audit-verify")
        expect = (int(seq), head)
    with _collector(args) as c:
        result = c.audit_verify(expect)
    print_json(result)
    return 0 if result["ok"] else 1
