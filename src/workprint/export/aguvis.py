"""Aguvis-style chat JSONL: one sample per step.

``OUT/aguvis.jsonl`` + ``OUT/images/``: ``{"image": "images/<hash>.jpg", "conversations":
[{"from": "human", "value": "<image>\\n..."}, {"from": "gpt", "value": <pyautogui code>,
"recipient": "os", "end_turn": true}]}`` - the ``<image>`` token, the human/gpt turns and
the ``recipient``/``end_turn`` keys are what Aguvis-family data loaders read. The human
turn carries the instruction and the previous actions' code (no natural-language step
descriptions are invented).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .agentnet import write_image
from .common import ImageEncoder, Progress, Trajectory

FILE = "aguvis.jsonl"

PROMPT = ("<image>\nPlease generate the next move according to the UI screenshot, "
          "instruction and previous actions.\n\nInstruction: {instruction}\n\n"
          "Previous actions:\n{previous}")


def sample(traj: Trajectory, index: int, image: str | None) -> dict[str, Any]:
    previous = "\n".join(f"Step {s.index + 1}: {s.code}" for s in traj.steps[:index])
    step = traj.steps[index]
    return {
        "id": f"{traj.task_id}-{index:04d}",
        "image": image,
        "unlabelled": traj.unlabelled,
        "conversations": [
            {"from": "human", "value": PROMPT.format(instruction=traj.instruction,
                                                      previous=previous or "None")},
            {"from": "gpt", "value": step.code, "recipient": "os", "end_turn": True},
        ],
    }


def write(out: Path, items: Sequence[tuple[Any, Trajectory]], encoder: ImageEncoder,
          progress: Progress | None, total: int) -> dict[str, Any]:
    done = 0
    with open(out / FILE, "w", encoding="utf-8", newline="\n") as f:
        for session, traj in items:
            images = encoder.stream(session, [s.frame for s in traj.steps])
            for i, encoded in enumerate(images):
                img = write_image(out, encoded)
                f.write(json.dumps(sample(traj, i, img), ensure_ascii=False, sort_keys=True))
                f.write("\n")
                done += 1
                if progress:
                    progress(done, total)
    return {"files": [FILE]}
