"""AgentNet JSONL (the format of OpenCUA's AgentNet release): one trajectory per line.

``OUT/trajectories.jsonl`` + ``OUT/images/<content-hash>.<ext>``. ``traj[].image`` is a bare
file name inside ``images/`` (as in the AgentNet release, so OpenCUA's tools take
``--image_folder OUT/images``); it is the screen *before* the step's action, and every step
has one. ``value.code`` is the action in the grammar of :mod:`.code`; ``value.action`` a
plain description (naming the UI element when it is known); ``value.element`` the element
acted on - ``{"role", "name", "app", "bbox": [x0, y0, x1, y1] (0-1 of the screen), "source"}``
- or null; ``value.a11y_tree`` (only in sessions recorded with ``[capture] a11y_tree``, and
only on steps that have one) the accessibility tree of the window before the action (see
:func:`~.common.tree_struct`); ``value.structured`` (workprint's addition) pixel coordinates, screen size and
scale. Fields that CoT synthesis fills later (``observation``, ``thought``,
``reflection``, ``last_step_correct``, ``last_step_redundant``; trajectory scores) are
absent, not empty: OpenCUA's gen_cot writes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .common import EXPORT_VERSION, ImageEncoder, Progress, Trajectory, json_line

FILE = "trajectories.jsonl"
IMAGES = "images"


def write_image(out: Path, encoded: tuple[str, bytes]) -> str:
    """Write an encoded frame as ``out/images/<name>`` once; return the bare name."""
    name, data = encoded
    path = out / IMAGES / name
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    return name


def step_value(s) -> dict[str, Any]:
    v: dict[str, Any] = {"code": s.code, "action": s.description, "structured": s.structured,
                         "element": s.element}
    if s.observation:
        v["observation"] = s.observation
    if s.thought:
        v["thought"] = s.thought
    if s.a11y_tree is not None:
        v["a11y_tree"] = s.a11y_tree
    return v


def trajectory_record(traj: Trajectory, images: list[str]) -> dict[str, Any]:
    return {
        "task_id": traj.task_id,
        "instruction": traj.instruction,
        "unlabelled": traj.unlabelled,
        "task_completed": traj.ok,
        "screen": {"width": traj.screen.width, "height": traj.screen.height,
                   "scale": traj.screen.scale},
        "source": {**traj.source, "export_version": EXPORT_VERSION},
        "traj": [{
            "index": s.index,
            "image": img,
            "t_rel_s": s.t_rel_s,
            "value": step_value(s),
        } for s, img in zip(traj.steps, images)],
    }


def write(out: Path, items: Sequence[tuple[Any, Trajectory]], encoder: ImageEncoder,
          progress: Progress | None, total: int) -> dict[str, Any]:
    done = 0
    images: set[str] = set()
    with open(out / FILE, "w", encoding="utf-8", newline="\n") as f:
        for session, traj in items:
            names = []
            for encoded in encoder.stream(session, [s.frame for s in traj.steps]):
                name = write_image(out, encoded)
                images.add(name)
                names.append(name)
                done += 1
                if progress:
                    progress(done, total)
            f.write(json_line(trajectory_record(traj, names)) + "\n")
    return {"files": [FILE], "images": len(images), "image_folder": IMAGES}
