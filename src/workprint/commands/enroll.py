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
    return 0
