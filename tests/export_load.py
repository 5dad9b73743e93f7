"""Load exports the way their consumers do, and check what every consumer needs: every step
has its image, every code line is in the documented grammar."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml
from PIL import Image

from export_grammar import check

HF_SCRIPT = textwrap.dedent("""
    import json, sys, datasets
    for folder in sys.argv[1:]:
        ds = datasets.load_dataset(folder, split="train")
        rows = []
        for r in ds:
            img = r["image"]
            rows.append({"size": list(img.size) if img is not None else None,
                         **{k: r[k] for k in ("task_id", "step", "code", "action_type", "keys", "text",
                                              "x", "nx", "instruction", "action", "observation",
                                              "thought", "policy_hash", "task_completed", "element_role",
                                              "element_name", "element_bbox")}})
        print(json.dumps({"version": datasets.__version__, "columns": ds.column_names,
                          "features": {k: type(v).__name__ for k, v in ds.features.items()},
                          "rows": rows}))
""")


def hf_load_many(python: str, folders: list[Path], home: Path) -> list[dict]:
    """``datasets.load_dataset(folder)`` for each folder in one ``python`` process (its
    import costs more than a small load), offline; every row decoded."""
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", HF_HOME=str(home))
    res = subprocess.run([python, "-c", HF_SCRIPT, *map(str, folders)], env=env, capture_output=True,
                         text=True, cwd=home.parent, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    docs = [json.loads(line) for line in res.stdout.splitlines() if line.startswith('{"version"')]
    assert len(docs) == len(folders), res.stdout[-3000:]
    return docs


def hf_load(python: str, folder: Path, home: Path) -> dict:
    """``datasets.load_dataset(folder)`` in ``python``, offline; every row decoded."""
    return hf_load_many(python, [folder], home)[0]


def agentnet_load(out: Path) -> list[dict]:
    """Read trajectories.jsonl as OpenCUA's tools do (``image_folder`` = ``OUT/images``):
    every step's image opens, every code is in the grammar, indices run from 0."""
    trajs = [json.loads(line) for line in (out / "trajectories.jsonl").read_text().splitlines()]
    for t in trajs:
        assert t["traj"], t["task_id"]
        for i, step in enumerate(t["traj"]):
            assert step["index"] == i
            assert isinstance(step["image"], str) and "/" not in step["image"], step
            with Image.open(os.path.join(out / "images", step["image"])) as img:
                img.load()
            check(step["value"]["code"])
            assert step["value"]["action"]
        last = t["traj"][-1]["value"]["code"]
        if t["task_completed"] is None:
            assert "terminate" not in last
    return trajs


def aguvis_load(out: Path) -> list[dict]:
    """Read aguvis.yaml + aguvis.json the way Aguvis's dataset loader does (yaml list ->
    json_path -> JSON array; image = join(--image_folder, images_folder, image))."""
    spec = yaml.safe_load((out / "aguvis.yaml").read_text())
    samples = []
    for d in spec["datasets"]:
        with open(d["json_path"]) as f:
            data = json.load(f)
        assert isinstance(data, list)
        assert d.get("sampling_strategy", "all") == "all"
        for s in data:
            path = os.path.join("/some/other/image_folder", d["images_folder"], s["image"])
            with Image.open(path) as img:
                img.load()
            samples.append(s)
    # the single-file form works too: --data_path OUT/aguvis.json --image_folder OUT/images
    assert json.loads((out / "aguvis.json").read_text()) == samples
    for s in samples:
        conv = s["conversations"]
        assert conv[0]["from"] == "system" and conv[1]["from"] == "human"
        assert conv[1]["value"].count("<image>") == 1 and conv[1]["value"].startswith("<image>\n")
        assert conv[-1]["from"] == "gpt" and conv[-1]["recipient"] == "os" and conv[-1]["end_turn"] is True
        check(conv[-1]["value"])
        for turn in conv[2:-1]:
            assert turn == {**turn, "from": "gpt", "recipient": "all", "end_turn": False}
    return samples


def python_current() -> str:
    return sys.executable
