"""``workprint enroll URL CODE``: join this device to a collector."""

from __future__ import annotations

import argparse

from ._common import add_data_dir, data_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enroll", help="enrol this device with a collector using a one-time code")
    p.add_argument("url", help="collector URL, e.g. https://collector.example:8750")
    p.add_argument("code", help="one-time enrolment code from the program owner")
    p.add_argument("--name", help="device name shown to the admin (default: a generic label)")
    p.add_argument("--cacert", help="CA certificate to trust for an HTTPS collector")
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sync.client import enroll_device

    # The hostname is not sent by default: it identifies the person.
    name = args.name or "device"
    cred = enroll_device(data_dir(args), args.url, args.code, name, args.cacert)
    print(f"enrolled as {cred.device_id}; credential stored in {data_dir(args) / 'device.json'} (mode 0600)")
    policy = fetch_policy(data_dir(args), cred)
    if policy is None:
        print("the collector publishes no policy: recording uses the built-in policy (records nothing "
              "until apps are allowed)")
    else:
        print(f"recording follows the collector's policy {policy.hash[:12]} (`workprint policy show`); "
              "acknowledge its notice with `workprint notice`")
    return 0


def fetch_policy(root, cred):
    """Fetch and keep the collector's policy (see :mod:`workprint.sync.published`)."""
    from ..sync.client import Client
    from ..sync.published import save_published

    with Client.for_device(cred) as client:
        return save_published(root, client.policy(), cred.server)
