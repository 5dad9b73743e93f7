"""``workprint`` command line. Thin: parses arguments, calls the modules that do the work.

Each sub-command lives in ``workprint/commands/<name>.py`` with a ``register(subparsers)``
function that adds its parser and sets ``func`` (called with the parsed namespace; it
returns the exit code). Modules are discovered, so a new command is one new file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import commands
from .errors import WorkprintError

EPILOG = """\
exit codes: 0 ok, 1 error, 2 not found / bad usage, 3 no display, 4 store error,
5 disk full, 6 policy error, 7 notice not acknowledged, 8 no recorder running.
Data lives under the platform's user data dir unless --data-dir is given.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workprint",
        description="Record how work is really done on this computer - with privacy safeguards "
                    "enforced before anything reaches disk - and turn it into training data "
                    "for computer-use agents.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except WorkprintError as err:
        print(f"workprint: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
