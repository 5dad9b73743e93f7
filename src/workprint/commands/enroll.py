"""``workprint enroll URL [CODE]``: join this device to a collector."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UsageError
from ._common import add_data_dir, data_dir

#: Environment variable holding the one-time enrolment code (kept out of the process list).
CODE_ENV = "WORKPRINT_ENROLL_CODE"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enroll", help="enrol this device with a collector using a one-time code")
    p.add_argument("url", help="collector URL, e.g. https://collector.example:8750")
    p.add_argument("code", nargs="?",
                   help="one-time enrolment code from the program owner. A code given here is visible "
                        f"to other users of this machine (the process list): prefer '-' to read it from "
                        f"standard input, ${CODE_ENV}, or no CODE to be asked for it")
    p.add_argument("--name", help="device name shown to the admin (default: a generic label)")
    p.add_argument("--cacert", help="CA certificate to trust for an HTTPS collector")
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sync.client import enroll_device

    # The hostname is not sent by default: it identifies the person.
    name = args.name or "device"
    cred = enroll_device(data_dir(args), args.url, enrolment_code(args.code), name, args.cacert)
    print(f"enrolled as {cred.device_id}; credential stored in {data_dir(args) / 'device.json'} (mode 0600)")
    policy = fetch_policy(data_dir(args), cred)
    if policy is None:
        print("the collector publishes no policy: recording uses the built-in policy (records nothing "
              "until apps are allowed)")
    else:
        print(f"recording follows the collector's policy {policy.hash[:12]} (`workprint policy show`); "
              "acknowledge its notice with `workprint notice`")
    return 0


def enrolment_code(given: str | None) -> str:
    """The code from the argument, '-' (standard input), the environment, or a prompt."""
    if given is not None and given != "-":
        code = given
    elif given is None and os.environ.get(CODE_ENV):
        code = os.environ[CODE_ENV]
    elif given is None and sys.stdin.isatty():
        import getpass

        code = getpass.getpass("Enrolment code (from the program owner): ")
    else:
        code = sys.stdin.readline()
    code = code.strip()
    if not code:
        raise UsageError(f"no enrolment code: pass it on standard input ('-'), in ${CODE_ENV}, or as CODE; "
                         f"the program owner creates one with `workprint admin enrolment-code`")
    return code


def fetch_policy(root, cred):
    """Fetch and keep the collector's policy (see :mod:`workprint.sync.published`)."""
    from ..sync.client import Client
    from ..sync.published import save_published

    with Client.for_device(cred) as client:
        return save_published(root, client.policy(), cred.server)
