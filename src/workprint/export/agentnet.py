"""AgentNet-style JSONL (as OpenCUA's AgentNet): one trajectory per line.

``OUT/trajectories.jsonl`` + ``OUT/images/<content-hash>.<ext>``. Each step is the screen
*before* the action plus pyautogui code with coordinates normalised by the logical screen
size; ``value.structured`` keeps pixel coordinates, screen size and scale. The last step
is ``computer.terminate(status=...)`` (``'unknown'`` for unlabelled episodes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .common import ImageEncoder, Progress, Trajectory

FILE = "trajectories.jsonl"


def write_image(out: Path, encoded: tuple[str, bytes] | None) -> str | None:
    """Write an encoded frame under ``out/images`` once; return its relative path."""
    if encoded is None:
        return None
    name, data = encoded
    path = out / "images" / name
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    return f"images/{name}"


def trajectory_record(traj: Trajectory, images: list[str | None]) -> dict[str, Any]:
    return {
        "task_id": traj.task_id,
        "instruction": traj.instruction,
        "unlabelled": traj.unlabelled,
        "task_completed": traj.ok,
        "screen": {"width": traj.screen.width, "height": traj.screen.height,
                   "scale": traj.screen.scale},
        "traj": [{
            "index": s.index,
            "image": img,
            "t_rel_s": s.t_rel_s,
            "value": {"code": s.code, "structured": s.structured},
        } for s, img in zip(traj.steps, images)],
    }


def write(out: Path, items: Sequence[tuple[Any, Trajectory]], encoder: ImageEncoder,
          progress: Progress | None, total: int) -> dict[str, Any]:
    done = 0
    images: set[str] = set()
    with open(out / FILE, "w", encoding="utf-8", newline="\n") as f:
        for session, traj in items:
            paths = []
            for encoded in encoder.stream(session, [s.frame for s in traj.steps]):
                p = write_image(out, encoded)
                if p:
                    images.add(p)
                paths.append(p)
                done += 1
                if progress:
                    progress(done, total)
            f.write(json.dumps(trajectory_record(traj, paths), ensure_ascii=False, sort_keys=True))
            f.write("\n")
    return {"files": [FILE], "images": len(images)}
