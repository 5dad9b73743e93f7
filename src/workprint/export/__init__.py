"""Exports: reduced, keyframed episodes in formats agent-training code already reads.

``export_sessions(data_dir, session_ids, fmt, out)`` is the one entry point; each format
lives in its own module (``agentnet``, ``hf``, ``aguvis``) with a ``write`` function.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Sequence

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
    from ..store.session import DataDir

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    writer = importlib.import_module(f"{__name__}.{fmt}")
    store = DataDir(data_dir)
    ids = list(session_ids) if session_ids else store.session_ids()
    if not ids:
        raise ExportError(f"No sessions to export in {store.root}. Record one with `workprint record`.")
    sessions = [store.open(s) for s in ids]
    try:
        sessions.sort(key=lambda s: s.id)
        items = [(s, t) for s in sessions for t in session_trajectories(s, reduce_cfg)]
        total = sum(len(t.steps) for _, t in items)
        if not items:
            raise ExportError(
                f"The selected sessions hold no actions to export ({', '.join(s.id for s in sessions)}).")
        out_dir = prepare_out(Path(out))
        encoder = ImageEncoder(image_format)
        summary = writer.write(out_dir, items, encoder, progress, total)
    finally:
        for s in sessions:
            s.close()
    summary.update(format=fmt, sessions=len(sessions), trajectories=len(items), steps=total,
                   out=str(out_dir))
    return summary
