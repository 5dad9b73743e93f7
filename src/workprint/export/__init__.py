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
from .common import (ExportError, ImageEncoder, Progress, apply_cot, exportable, load_cot,
                     prepare_out, session_trajectories)

FORMATS = ("agentnet", "hf", "aguvis")


def export_sessions(data_dir: Path | str, session_ids: Sequence[str] | None, fmt: str,
                    out: Path | str, progress: Progress | None = None, *,
                    image_format: str = "jpeg", reduce_cfg=None,
                    cot: Path | str | None = None, aguvis_root: str | None = None) -> dict[str, Any]:
    """Export sessions (all when ``session_ids`` is None) to ``out`` as ``fmt``.

    ``reduce_cfg`` (a :class:`~workprint.actions.reduce.ReduceConfig`, e.g. from the policy)
    sets the reduction thresholds. ``cot`` names an AgentNet JSONL written by CoT synthesis
    (OpenCUA's gen_cot) from an AgentNet export of the same sessions: its observation,
    thought and action texts fill the matching steps. ``progress(done_steps, total_steps)``
    is called as steps are written. ``aguvis_root`` (aguvis only): the absolute path the
    export will have when Aguvis reads it, for its dataset list (default: ``out``). Every exported step has its screenshot (the screen
    before the action); steps without one are left out and counted in ``summary["dropped"]``
    by reason.
    Returns a summary dict (counts and output paths). Re-running gives byte-identical files.
    """
    from ..errors import CorruptSessionError
    from ..store.session import DataDir

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "hf":
        require("pyarrow", "export", "the hf export")
    writer = importlib.import_module(f"{__name__}.{fmt}")
    opts: dict[str, Any] = {}
    if aguvis_root is not None:
        if fmt != "aguvis":
            raise ExportError("--aguvis-root applies to --format aguvis only")
        writer.dataset_root(Path(out), aguvis_root)  # refused here, before anything is written
        opts["root"] = aguvis_root
    cot_steps = load_cot(Path(cot)) if cot else None
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
        reasons: dict[str, int] = {}
        dropped_trajectories = 0
        for s in list(sessions):
            try:
                with s.reading():
                    trajs = session_trajectories(s, reduce_cfg)
            except CorruptSessionError as exc:
                skipped.append(exc)
                sessions.remove(s)
                s.close()
                continue
            for traj in trajs:
                kept, drops = exportable(traj)
                for why, n in drops.items():
                    reasons[why] = reasons.get(why, 0) + n
                if kept is None:
                    dropped_trajectories += 1
                else:
                    items.append((s, kept))
        cot_filled = sum(apply_cot(t, cot_steps) for _, t in items) if cot_steps else 0
        total = sum(len(t.steps) for _, t in items)
        dropped = {"steps": sum(reasons.values()), "trajectories": dropped_trajectories,
                   "reasons": dict(sorted(reasons.items()))}
        if not items:
            why = ""
            if dropped["steps"]:
                why = (f" ({dropped['steps']} step(s) left out: "
                       + "; ".join(f"{n} {r}" for r, n in dropped["reasons"].items()) + ")")
            why += "".join(f" {e}" for e in skipped)
            raise ExportError(
                f"The selected sessions hold no actions with screenshots to export "
                f"({', '.join(s.id for s in sessions) or 'none readable'}){why}")
        out_dir = prepare_out(Path(out))
        encoder = ImageEncoder(image_format)
        summary = writer.write(out_dir, items, encoder, progress, total, **opts)
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
                   dropped=dropped, out=str(out_dir),
                   skipped=[{"session": e.session, "error": str(e)} for e in skipped])
    if cot_steps is not None:
        summary["cot_steps"] = cot_filled
    return summary


def _under(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False
