"""Aguvis training data: ``OUT/aguvis.json`` (a JSON array, one sample per step),
``OUT/aguvis.yaml`` (Aguvis's dataset list naming it) and ``OUT/images/``.

A sample is ``{"id", "image": <bare name in images/>, "conversations": [...]}`` with the
turns Aguvis's trainer reads:

- ``system``: Aguvis's agent system message, declaring as JSON function specs exactly the
  functions this export's code uses (the same list in every sample);
- ``human``: ``<image>`` and Aguvis's instruction prompt - the task instruction and the
  previous steps as ``Step N: <description>``;
- ``gpt`` with ``recipient: "all"``, ``end_turn: false`` (the planning turn), only when the
  step has observation or thought text (from CoT synthesis, see ``--cot``);
- ``gpt`` with ``recipient: "os"``, ``end_turn: true``: the step's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .agentnet import IMAGES, write_image
from .code import FUNCTION_SPECS, functions_used
from .common import ExportError, ImageEncoder, Progress, Trajectory, json_line

FILE = "aguvis.json"
YAML = "aguvis.yaml"

SYSTEM = ("You are a GUI agent. You are given a task and a screenshot of the screen. You need to "
          "perform a series of pyautogui actions to complete the task.\n\n"
          "You have access to the following functions:\n")
PROMPT = ("<image>\nPlease generate the next move according to the ui screenshot, instruction "
          "and previous actions.\n\nInstruction: {instruction}\n\nPrevious actions:\n{previous}\n")


def system_message(functions: Sequence[str]) -> str:
    return SYSTEM + "".join(f"- {json.dumps(FUNCTION_SPECS[f])}\n" for f in functions)


def planning_text(step) -> str:
    lines = []
    if step.observation:
        lines.append(f"Observation: {step.observation}")
    if step.thought:
        lines.append(f"Thought: {step.thought}")
    lines.append(f"Action: {step.description}")
    return "\n".join(lines)


def sample(traj: Trajectory, index: int, image: str, system: str) -> dict[str, Any]:
    previous = "\n".join(f"Step {s.index + 1}: {s.description}" for s in traj.steps[:index])
    step = traj.steps[index]
    turns: list[dict[str, Any]] = [
        {"from": "system", "value": system},
        {"from": "human", "value": PROMPT.format(instruction=traj.instruction,
                                                  previous=previous or "None")},
    ]
    if step.observation or step.thought:
        turns.append({"from": "gpt", "value": planning_text(step), "recipient": "all",
                      "end_turn": False})
    turns.append({"from": "gpt", "value": step.code, "recipient": "os", "end_turn": True})
    return {"id": f"{traj.task_id}-{index:04d}", "image": image, "unlabelled": traj.unlabelled,
            "conversations": turns}


def dataset_root(out: Path, root: str | None = None) -> str:
    """The folder the dataset list names: ``root`` (where the export will sit when training
    reads it - copied to another machine or mounted elsewhere), else where it is written."""
    if root is None:
        return str(out.resolve())
    if not root.startswith(("/", "s3://")):                  # s3://: a dataset build's output
        raise ExportError(f"the Aguvis root {root!r} is not an absolute path; Aguvis opens the "
                          f"dataset list's paths from the trainer's working folder, so give the "
                          f"absolute path the export will have there (e.g. /data/workprint-export)")
    return root.rstrip("/") or "/"


def dataset_list(out: Path, files: Sequence[str] = (FILE,), root: str | None = None) -> str:
    """Aguvis's ``--data_path`` yaml naming this export's JSON file(s) by absolute path.

    Aguvis's loader opens ``json_path`` as given (relative to the trainer's working folder,
    not to the yaml's) and joins ``--image_folder`` with ``images_folder`` (an absolute one
    wins), so absolute paths are the form that works wherever training runs from and with any
    ``--image_folder``; ``root`` moves them (:func:`dataset_root`)."""
    base = dataset_root(out, root).rstrip("/")
    return ("# Aguvis dataset list for this workprint export: train.py --data_path <this file>\n"
            "datasets:\n"
            + "".join(f"  - json_path: {json.dumps(f'{base}/{f}')}\n"
                      f"    images_folder: {json.dumps(f'{base}/{IMAGES}/')}\n"
                      "    sampling_strategy: \"all\"\n" for f in files))


def write(out: Path, items: Sequence[tuple[Any, Trajectory]], encoder: ImageEncoder,
          progress: Progress | None, total: int, root: str | None = None) -> dict[str, Any]:
    functions = functions_used([s.code for _, t in items for s in t.steps])
    system = system_message(functions)
    done = 0
    first = True
    with open(out / FILE, "w", encoding="utf-8", newline="\n") as f:
        f.write("[")
        for session, traj in items:
            images = encoder.stream(session, [s.frame for s in traj.steps])
            for i, encoded in enumerate(images):
                img = write_image(out, encoded)
                f.write("\n" if first else ",\n")
                first = False
                f.write(json_line(sample(traj, i, img, system)))
                done += 1
                if progress:
                    progress(done, total)
        f.write("\n]\n")
    (out / YAML).write_text(dataset_list(out, root=root), encoding="utf-8")
    return {"files": [FILE, YAML], "image_folder": IMAGES, "functions": functions,
            "dataset_list_root": dataset_root(out, root)}
