"""``workprint`` command line. Thin: parses arguments, calls the modules that do the work.

Each sub-command lives in ``workprint/commands/<name>.py`` with a ``register(subparsers)``
function that adds its parser and sets ``func`` (called with the parsed namespace; it
returns the exit code). Modules are discovered, so a new command is one new file.

Output conventions, the same for every command: errors a person can act on go to stderr as
``workprint: <message>`` and end with the exit code of their class (:mod:`workprint.errors`);
under ``--json`` they go to stdout as ``{"ok": false, "error": {code, type, message}}``
instead, usage errors included. A user's mistake never ends in a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import textwrap

from . import __version__, commands
from .errors import BROKEN_PIPE_EXIT, INTERRUPTED_EXIT, UsageError, WorkprintError, exit_code_help

EPILOG = textwrap.fill(exit_code_help(), 90) + """

Data lives under the platform's user data dir unless --data-dir is given.
"""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors honour ``--json`` (and so do its sub-parsers)."""

    json_mode = False

    def error(self, message: str):  # type: ignore[override]
        if _Parser.json_mode:
            _print_json_error(UsageError(f"{self.prog}: {message}"))
            sys.exit(UsageError.exit_code)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="workprint",
        description="Record how work is really done on this computer - with privacy safeguards "
                    "enforced before anything reaches disk - and turn it into training data "
                    "for computer-use agents.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"workprint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def _print_json_error(err: WorkprintError) -> None:
    json.dump({"ok": False, "error": err.to_dict()}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


def _as_user_error(exc: BaseException) -> WorkprintError | None:
    """Errors from the environment that a person can fix, in their words (else None: a bug)."""
    if isinstance(exc, OSError) and not isinstance(exc, (ConnectionError, TimeoutError)):
        where = f": {exc.filename}" if exc.filename else ""
        return WorkprintError(f"{exc.strerror or exc}{where}; check the path and its permissions")
    if isinstance(exc, EOFError):
        return UsageError("this command asks for confirmation but has no terminal to ask on; "
                          "run it in a terminal or pass --yes")
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _Parser.json_mode = "--json" in argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe is found here, not at exit
        return code
    except KeyboardInterrupt:
        return INTERRUPTED_EXIT
    except BrokenPipeError:
        # whoever read the output stopped reading (`| head`): nothing went wrong here; say
        # nothing more to the closed pipe (Python would complain again at exit)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT
    except Exception as exc:  # noqa: BLE001 - user errors are reported, bugs re-raised
        err = exc if isinstance(exc, WorkprintError) else _as_user_error(exc)
        if err is None:
            raise
        if getattr(args, "json", False):
            _print_json_error(err)
        else:
            print(f"workprint: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
