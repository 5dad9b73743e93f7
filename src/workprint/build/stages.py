"""The two parallel stages of a build, as plain functions of plain (JSON) data, so any engine
can run them anywhere: in-process, or as Ray tasks on other machines.

1. :func:`session_stage` - one session: fetch and verify its chunks, reassemble it, reduce
   and keyframe it with the device export's code (:func:`~workprint.export.common.session_trajectories`,
   :func:`~workprint.export.common.exportable`), apply the trajectory filters, encode the
   images (:class:`~workprint.export.common.ImageEncoder`, named by content, so whichever
   worker writes one writes the same bytes) and stage the kept trajectories. Returns only
   small facts per trajectory (steps, image bytes, dedupe key, ...) to the driver.
2. :func:`shard_stage` - one shard: read the staged trajectories it was given and write
   the shard file with the format's record functions.

Both write through the dataset's output (:mod:`.output`: a folder or S3), so a worker needs
no shared file system with the driver, and both report each file's sha256 and size, so the
driver lists a version without reading its files back.

Memory per task: stage 1 holds one session's events and frame list, at most
:data:`~workprint.build.source.TILE_MEMORY` of its tiles (the rest wait on local disk) and
the encoder's caches (:data:`~workprint.export.jpeg.CACHE_BYTES` of tile segments,
:data:`~workprint.export.jpeg.BAND_BYTES` of composed bands); stage 2 one shard's
staged trajectories. Never the dataset.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

from ..actions.reduce import ReduceConfig
from ..export.code import functions_used
from ..export.common import ImageEncoder, exportable, session_trajectories
from ..export.hf import source_key
from ..sync.chunk import ChunkError
from .filters import Filters, trajectory_key, trajectory_verdict
from .output import open_output
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


def staged_key(staging: str, session: str) -> str:
    return f"{staging}/sessions/{session}.pickle"


def session_stage(task: dict[str, Any]) -> dict[str, Any]:
    plan = SessionPlan.from_dict(task["plan"])
    filters = Filters.from_dict(task["filters"])
    store = open_output(task["out"])
    out: dict[str, Any] = {"session": plan.session, "error": None, "trajectories": [],
                           "drops": {}, "dropped_trajectories": 0, "filtered": {}, "files": []}
    written: set[str] = set()
    try:
        session = load_session(_blobs(task["blobs"]), plan)
    except ChunkError as exc:
        out["error"] = str(exc)
        return out
    out["code"] = session.code
    cfg = ReduceConfig(**dict(plan.reduce)) if plan.reduce else None
    encoder = ImageEncoder(task["image_format"], keep_digests=True)
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
                digest = encoder.digests.pop(name, None)
                if name not in written:
                    written.add(name)
                    store.put_once(f"{task['images']}/{name}", data)
                    if task["list_images"]:
                        out["files"].append([f"{task['images_rel']}/{name}",
                                             digest or hashlib.sha256(data).hexdigest(), len(data)])
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
        store.put(staged_key(task["staging"], plan.session), pickle.dumps(staged, protocol=pickle.HIGHEST_PROTOCOL))
    return out


def shard_stage(task: dict[str, Any]) -> dict[str, Any]:
    """Write shard ``task["path"]`` from the staged trajectories ``task["refs"]``
    (``[session, index]`` pairs in build order)."""
    store = open_output(task["out"])
    loaded: dict[str, dict[int, tuple]] = {}

    def items():
        for session, index in task["refs"]:
            if session not in loaded:
                loaded.clear()                   # refs come grouped by session: keep one
                staged = pickle.loads(store.get(staged_key(task["staging"], session)))
                loaded[session] = {i: (t, n) for i, t, n in staged}
            yield loaded[session][index]

    with store.writable(task["key"]) as path:
        num_bytes = write_shard(task["format"], path, items(), system=task.get("system", ""),
                                image_bytes=lambda name: store.get(f"{task['images']}/{name}"))
        digest, size = _file_digest(path)
    return {"path": task["rel"], "num_bytes": num_bytes, "sha256": digest, "size": size}


def _file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest(), path.stat().st_size
