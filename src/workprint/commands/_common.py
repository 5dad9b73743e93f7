"""Helpers shared by the command modules: data dir option, JSON output, progress bars."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import StoreError
from ..paths import default_data_dir


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=None, metavar="D",
        help=f"where sessions are kept (default: {default_data_dir()}; env WORKPRINT_DATA_DIR)")


def data_dir(args: argparse.Namespace) -> Path:
    """The data dir a command works on; a path that exists but is not a folder is refused
    here, once, with the fix (rather than as an OS error deep inside a command)."""
    path = args.data_dir or default_data_dir()
    if path.exists() and not path.is_dir():
        raise StoreError(f"the data dir {path} is a file, not a folder; give --data-dir a folder "
                         f"(it is created if missing) or set WORKPRINT_DATA_DIR")
    return path


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


@contextmanager
def progress_bar(label: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback for long work: a bar on stderr (tqdm: count, rate,
    time left) when stderr is a terminal, nothing at all otherwise - pipes, logs and CI see
    only the command's own output. The bar is closed when the block ends."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from tqdm import tqdm

    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=label, unit=f" {unit}", file=sys.stderr, leave=True,
                       dynamic_ncols=True)
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def add_policy(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--policy", type=Path, metavar="FILE", default=None,
                        help=help or "policy file (TOML; default: $WORKPRINT_POLICY, else the policy "
                                     "your collector publishes once enrolled, else the built-in "
                                     "policy, which records nothing until apps are allowed)")


def resolve_policy(path: Path | None, data_dir: Path | None = None):
    """The policy a command works under: --policy, else $WORKPRINT_POLICY, else the policy
    the collector this data dir is enrolled with publishes (as last fetched by ``enroll`` or
    ``sync``), else built-in."""
    import os

    from ..policy.model import default_policy, load_policy

    path = path or (Path(os.environ["WORKPRINT_POLICY"]) if os.environ.get("WORKPRINT_POLICY") else None)
    if path is not None:
        return load_policy(path)
    if data_dir is not None:
        from ..sync.published import load_published

        published = load_published(data_dir)
        if published is not None:
            return published
    return default_policy()
