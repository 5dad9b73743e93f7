"""Exports: reduced, keyframed episodes in formats agent-training code already reads.

``export_sessions(data_dir, session_ids, fmt, out)`` is the one entry point; each format
lives in its own module (``agentnet``, ``hf``, ``aguvis``) with a ``write`` function.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Sequence

from ..extras import require
from ..store.private import private_dir, private_tree
from .common import ExportError, ImageEncoder, Progress, prepare_out, session_trajectories

FORMATS = ("agentnet", "hf", "aguvis")


def export_sessions(data_dir: Path | str, session_ids: Sequence[str] | None, fmt: str,
                    out: Path | str, progress: Progress | None = None, *,
                    image_format: str = "jpeg", reduce_cfg=None) -> dict[str, Any]:
    """Export sessions (all when ``session_ids`` is None) to ``out`` as ``fmt``.

    ``reduce_cfg`` (a :class:`~workprint.actions.reduce.ReduceConfig`, e.g. from the policy)
    sets the reduction thresholds. ``progress(done_steps, total_steps)`` is called as steps
    are written. Returns a
    summary dict (counts and output paths). Re-running gives byte-identical files.
    """
    from ..errors import CorruptSessionError
    from ..store.session import DataDir

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "hf":
        require("pyarrow", "export", "the hf export")
    writer = importlib.import_module(f"{__name__}.{fmt}")
    store = DataDir(data_dir)
    ids = list(session_ids) if session_ids else store.session_ids()
    if not ids:
        raise ExportError(f"No sessions to export in {store.root}. Record one with `workprint record`.")
    # one damaged session is left out and reported (``skipped``); the others are exported
    sessions, skipped = [], []
    for sid in ids:
        try:
            sessions.append(store.open(sid))
        except CorruptSessionError as exc:
            skipped.append(exc)
    try:
        sessions.sort(key=lambda s: s.id)
        items = []
        for s in list(sessions):
            try:
                with s.reading():
                    items += [(s, t) for t in session_trajectories(s, reduce_cfg)]
            except CorruptSessionError as exc:
                skipped.append(exc)
                sessions.remove(s)
                s.close()
        total = sum(len(t.steps) for _, t in items)
        if not items:
            why = "".join(f" {e}" for e in skipped)
            raise ExportError(
                f"The selected sessions hold no actions to export "
                f"({', '.join(s.id for s in sessions) or 'none readable'}).{why}")
        out_dir = prepare_out(Path(out))
        encoder = ImageEncoder(image_format)
        summary = writer.write(out_dir, items, encoder, progress, total)
    finally:
        for s in sessions:
            s.close()
    if _under(out_dir, store.root):  # an export kept inside the data dir is as private as it
        private_tree(out_dir)
        for parent in out_dir.resolve().parents:  # folders made on the way to it, too
            if parent == store.root.resolve():
                break
            private_dir(parent)
    summary.update(format=fmt, sessions=len(sessions), trajectories=len(items), steps=total,
                   out=str(out_dir),
                   skipped=[{"session": e.session, "error": str(e)} for e in skipped])
    return summary


def _under(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False
