"""The two parallel stages of a build, as plain functions of plain (JSON) data, so any engine
can run them anywhere: in-process, or as Ray Data tasks on other machines.

1. :func:`session_stage` - one session: fetch and verify its chunks, reassemble it, reduce
   and keyframe it with the device export's code (:func:`~workprint.export.common.session_trajectories`,
   :func:`~workprint.export.common.exportable`), apply the trajectory filters, encode the
   images (:class:`~workprint.export.common.ImageEncoder`, named by content, so whichever
   worker writes one writes the same bytes) and stage the kept trajectories. Returns only
   small facts per trajectory (steps, image bytes, dedupe key, ...) to the driver.
2. :func:`shard_stage` - one shard: read the staged trajectories it was given and write
   the shard file with the format's record functions.

Memory per task is bounded by one session (stage 1) or one shard (stage 2), never by the
dataset.
"""

from __future__ import annotations

import os
import pickle
import secrets
from pathlib import Path
from typing import Any

from ..actions.reduce import ReduceConfig
from ..export.code import functions_used
from ..export.common import ImageEncoder, exportable, session_trajectories
from ..export.hf import source_key
from ..sync.chunk import ChunkError
from .filters import Filters, trajectory_key, trajectory_verdict
from .shards import write_shard
from .source import SessionPlan, load_session

_BLOBS: dict[str, Any] = {}


def _blobs(url: str):
    """One blob store client per worker process and URL (S3 clients are costly to make)."""
    store = _BLOBS.get(url)
    if store is None:
        from ..server.blobs import open_blobs

        store = _BLOBS[url] = open_blobs(url)
    return store


def _write_once(path: Path, data: bytes) -> None:
    """Content-addressed file: written whole (temp + rename) unless already there."""
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def staged_path(staging: str, session: str) -> Path:
    return Path(staging) / "sessions" / f"{session}.pickle"


def session_stage(task: dict[str, Any]) -> dict[str, Any]:
    plan = SessionPlan.from_dict(task["plan"])
    filters = Filters.from_dict(task["filters"])
    images = Path(task["images"])
    out: dict[str, Any] = {"session": plan.session, "error": None, "trajectories": [],
                           "drops": {}, "dropped_trajectories": 0, "filtered": {}}
    try:
        session = load_session(_blobs(task["blobs"]), plan)
    except ChunkError as exc:
        out["error"] = str(exc)
        return out
    cfg = ReduceConfig(**dict(plan.reduce)) if plan.reduce else None
    encoder = ImageEncoder(task["image_format"])
    staged = []
    try:
        for index, traj in enumerate(session_trajectories(session, cfg)):
            kept, drops = exportable(traj)
            for why, n in drops.items():
                out["drops"][why] = out["drops"].get(why, 0) + n
            if kept is None:
                out["dropped_trajectories"] += 1
                continue
            texts = [s.structured.get("text") or "" for s in kept.steps if s.action.kind == "write"]
            why = trajectory_verdict(len(kept.steps), kept.unlabelled, texts, filters)
            if why is not None:
                out["filtered"][why] = out["filtered"].get(why, 0) + 1
                continue
            names, size = [], 0
            for name, data in encoder.stream(session, [s.frame for s in kept.steps]):
                images.mkdir(parents=True, exist_ok=True)
                _write_once(images / name, data)
                names.append(name)
                size += len(data)
            staged.append((index, kept, names))
            out["trajectories"].append({
                "index": index, "steps": len(kept.steps), "image_bytes": size,
                "unlabelled": kept.unlabelled, "source": list(source_key(kept)),
                "key": trajectory_key(kept.instruction, [[s.code, n] for s, n in zip(kept.steps, names)]),
                "functions": functions_used([s.code for s in kept.steps])})
    finally:
        session.close()
    if staged:
        path = staged_path(task["staging"], plan.session)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(staged, f, protocol=pickle.HIGHEST_PROTOCOL)
    return out


def shard_stage(task: dict[str, Any]) -> dict[str, Any]:
    """Write shard ``task["path"]`` from the staged trajectories ``task["refs"]``
    (``[session, index]`` pairs in build order)."""
    loaded: dict[str, dict[int, tuple]] = {}

    def items():
        for session, index in task["refs"]:
            if session not in loaded:
                loaded.clear()                   # refs come grouped by session: keep one
                with open(staged_path(task["staging"], session), "rb") as f:
                    loaded[session] = {i: (t, n) for i, t, n in pickle.load(f)}
            yield loaded[session][index]

    images = Path(task["images"])
    num_bytes = write_shard(task["format"], Path(task["path"]), items(), system=task.get("system", ""),
                            image_bytes=lambda name: (images / name).read_bytes())
    return {"path": task["path"], "num_bytes": num_bytes}
