"""``workprint policy``: validate a policy file, show the effective policy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import PolicyError
from ..policy.lint import policy_warnings
from ..policy.model import find_key_line, load_policy
from ._common import add_data_dir, data_dir, print_json
from .notice import policy_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("policy", help="check a policy file or show the effective policy",
                       description="Validate policy files and show the effective policy "
                                   "(file values over defaults, plus the built-in safeguards "
                                   "no policy can switch off).")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    check = verbs.add_parser("check", help="validate a policy file",
                             description="Exit 0 and print 'ok: <hash>' when FILE is valid; "
                                         "exit 6 naming the file, key and line otherwise. Patterns "
                                         "that allow more than likely meant ('*', globs that also "
                                         "match browsers or terminals) are warned about.")
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--strict", action="store_true",
                       help="warnings are errors (exit 6): check with this before publishing a "
                            "policy to a fleet")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(func=run_check)
    show = verbs.add_parser("show", help="print the effective policy",
                            description="Print the effective policy: the file's values over "
                                        "the defaults, and the built-in deny lists and detectors. "
                                        "Without --policy: $WORKPRINT_POLICY, else the policy the "
                                        "collector this device is enrolled with publishes, else "
                                        "the built-in defaults.")
    show.add_argument("--policy", type=Path, metavar="FILE", help="policy file (TOML)")
    add_data_dir(show)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=run_show)


def run_check(args: argparse.Namespace) -> int:
    policy = load_policy(args.file)  # PolicyError -> exit 6 with file, key and line
    warnings = policy_warnings(policy)
    lines = args.file.read_text(encoding="utf-8").splitlines()
    where = {w: find_key_line(lines, w.key) for w in warnings}
    if warnings and args.strict:
        first = warnings[0]
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        raise PolicyError(f"{args.file}, line {where[first]}: {first.key}: {first.pattern!r} "
                          f"{first.message}{more}; --strict makes warnings errors")
    if args.json:
        print_json({"ok": True, "file": str(args.file), "hash": policy.hash,
                    "warnings": [{**w.to_dict(), "line": where[w]} for w in warnings]})
        return 0
    for w in warnings:
        print(f"warning: {args.file}, line {where[w]}: {w.key}: {w.pattern!r} {w.message}",
              file=sys.stderr)
    print(f"ok: {policy.hash}" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return 0


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {v!r}")


def to_toml(d: dict[str, Any], prefix: str = "") -> str:
    """Render the effective-policy dict as TOML (tables, arrays of tables for lists of dicts)."""
    scalars = [(k, v) for k, v in d.items() if not isinstance(v, dict)
               and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))]
    tables = [(k, v) for k, v in d.items() if isinstance(v, dict)]
    arrays = [(k, v) for k, v in d.items() if isinstance(v, list) and v
              and all(isinstance(x, dict) for x in v)]
    out = [f"{k} = {_toml_value(v)}" for k, v in scalars]
    for k, v in tables:
        name = f"{prefix}{k}"
        out += ["", f"[{name}]", to_toml(v, f"{name}.").strip("\n")]
    for k, items in arrays:
        for item in items:
            out += ["", f"[[{prefix}{k}]]", to_toml(item).strip("\n")]
    return "\n".join(line for line in out) + "\n"


def run_show(args: argparse.Namespace) -> int:
    policy = policy_from_args(args.policy, data_dir(args))
    d = policy.to_dict()
    if args.json:
        print_json({"source": policy.source, "hash": policy.hash, "policy": d})
        return 0
    print(f"# effective policy from {policy.source}")
    print(f"# hash {policy.hash}")
    print("# [builtin] lists safeguards that no policy can switch off")
    print(to_toml(d), end="")
    return 0
