"""``workprint review`` lists sessions and whether they may leave this computer;
``workprint approve`` / ``workprint withhold`` record the contributor's decision."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from ._common import add_data_dir, data_dir, print_json


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("review", help="list local sessions and whether they are approved for upload")
    add_data_dir(r)
    r.add_argument("--auto-approve-after-hours", type=float, metavar="H",
                   help="your setting on this device: sessions you neither approve nor withhold count "
                        "as approved H hours after they end; 0 = never (the default). Only you can "
                        "set this; nothing the collector sends approves an upload")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=run_review)
    for name, decision, text in (("approve", "approved", "approve sessions for upload"),
                                 ("withhold", "withheld", "keep sessions from being uploaded")):
        a = sub.add_parser(name, help=text)
        add_data_dir(a)
        a.add_argument("sessions", nargs="*", help="session ids (prefixes are fine)")
        a.add_argument("--all", action="store_true", help="every session awaiting review")
        a.set_defaults(func=run_decide, decision=decision)


def run_review(args: argparse.Namespace) -> int:
    from ..sync.review import Review
    from ..sync.state import sealed, upload_states

    from ..sync.review import auto_approve_seconds

    rv = Review(data_dir(args))
    try:
        if args.auto_approve_after_hours is not None:
            rv.set_auto_approve_after_hours(args.auto_approve_after_hours)
            if not args.json:
                h = args.auto_approve_after_hours
                print(f"auto-approval on this device: {f'{h:g} h after a session ends' if h else 'never'}")
        items = rv.items(auto_approve_seconds(rv.auto_approve_after_hours()))
    finally:
        rv.close()
    states = upload_states(items, sealed(data_dir(args)))
    if args.json:
        print_json([asdict(i) | {"upload": states[i.id].to_dict()} for i in items])
        return 0
    if not items:
        print("no sessions")
    for i in items:
        st = states[i.id]
        if st.state == "refused":
            print(f"{i.id}  REFUSED  {i.start or '?':<29} refused by the collector: {st.reason}")
            print(f"{'':24}   what to do: {st.todo}")
            continue
        if st.state == "erased":
            print(f"{i.id}  ERASED   {i.start or '?':<29} {st.reason}")
            continue
        mark = "ready  " if i.eligible else "waiting"
        why = st.reason if st.state in ("queued", "uploaded") else i.reason
        print(f"{i.id}  {mark}  {i.start or '?':<29} {why}")
    return 0


def run_decide(args: argparse.Namespace) -> int:
    import sys

    from ..errors import CorruptSessionError
    from ..store.session import DataDir
    from ..sync.review import Review
    from ..sync.state import decide

    d = data_dir(args)
    rv = Review(d)
    failed = 0
    try:
        if args.all:
            ids = [i.id for i in rv.items()
                   if i.decision is None and i.state not in ("recording", "corrupt")]
        else:
            ids = []
            for s in args.sessions:
                try:
                    with DataDir(d).open(s) as session:
                        ids.append(session.id)
                except CorruptSessionError as exc:  # the others are decided all the same
                    print(f"workprint: {exc}", file=sys.stderr)
                    failed += 1
        if not ids:
            if failed:
                return CorruptSessionError.exit_code
            print("nothing to do (give session ids or --all)")
            return 2 if not args.all else 0
    finally:
        rv.close()
    for sid in ids:
        note = decide(d, sid, args.decision)
        print(f"{args.decision} {sid}" + (f" ({note})" if note else ""))
    return CorruptSessionError.exit_code if failed else 0
