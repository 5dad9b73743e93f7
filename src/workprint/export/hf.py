"""Hugging Face Hub-ready dataset folder: ``README.md`` (card with YAML header) and
``data/train-XXXXX-of-YYYYY.parquet``; one row per step, the screenshot embedded as bytes.

Written with pyarrow alone; the ``huggingface`` schema metadata declares the features
(``image`` is an ``Image`` feature), so ``datasets.load_dataset(OUT, split="train")``
decodes images without network. Deterministic: fixed row-group size, no timestamps,
``created_by`` depends only on the pyarrow version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .common import ImageEncoder, Progress, Trajectory

SHARD_ROWS = 1000
#: Images are already compressed: store them as is, compress the rest.
COMPRESSION = {"image.bytes": "none", "image.path": "zstd", **{
    c: "zstd" for c in ("task_id", "instruction", "code", "text", "keys.list.element",
                        "action_type", "button")}}
ROW_GROUP = 64

# name -> (arrow type name, HF feature dict)
_V = lambda dtype: {"dtype": dtype, "_type": "Value"}  # noqa: E731
COLUMNS: list[tuple[str, str, dict[str, Any]]] = [
    ("task_id", "string", _V("string")),
    ("step", "int32", _V("int32")),
    ("n_steps", "int32", _V("int32")),
    ("instruction", "string", _V("string")),
    ("unlabelled", "bool", _V("bool")),
    ("task_completed", "bool", _V("bool")),
    ("image", "image", {"_type": "Image"}),
    ("code", "string", _V("string")),
    ("action_type", "string", _V("string")),
    ("x", "int32", _V("int32")),
    ("y", "int32", _V("int32")),
    ("x2", "int32", _V("int32")),
    ("y2", "int32", _V("int32")),
    ("nx", "float64", _V("float64")),
    ("ny", "float64", _V("float64")),
    ("nx2", "float64", _V("float64")),
    ("ny2", "float64", _V("float64")),
    ("text", "string", _V("string")),
    ("keys", "list_string", {"feature": _V("string"), "_type": "List"}),
    ("dx", "int32", _V("int32")),
    ("dy", "int32", _V("int32")),
    ("button", "string", _V("string")),
    ("screen_width", "int32", _V("int32")),
    ("screen_height", "int32", _V("int32")),
    ("screen_scale", "float64", _V("float64")),
    ("t_rel_s", "int32", _V("int32")),
]


def schema():
    import pyarrow as pa

    types = {"string": pa.string(), "int32": pa.int32(), "bool": pa.bool_(),
             "float64": pa.float64(), "list_string": pa.list_(pa.string()),
             "image": pa.struct([("bytes", pa.binary()), ("path", pa.string())])}
    features = {name: feat for name, _, feat in COLUMNS}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    return pa.schema([(name, types[t]) for name, t, _ in COLUMNS], metadata=meta)


def step_row(traj: Trajectory, i: int, image: dict[str, Any] | None) -> dict[str, Any]:
    s = traj.steps[i]
    d = s.structured
    a = s.action
    return {
        "task_id": traj.task_id, "step": s.index, "n_steps": len(traj.steps),
        "instruction": traj.instruction, "unlabelled": traj.unlabelled,
        "task_completed": traj.ok, "image": image, "code": s.code, "action_type": a.kind,
        "x": d.get("x"), "y": d.get("y"), "x2": d.get("x2"), "y2": d.get("y2"),
        "nx": d.get("nx"), "ny": d.get("ny"), "nx2": d.get("nx2"), "ny2": d.get("ny2"),
        "text": d.get("text"), "keys": list(a.keys), "dx": a.dx, "dy": a.dy,
        "button": a.button, "screen_width": traj.screen.width,
        "screen_height": traj.screen.height, "screen_scale": traj.screen.scale,
        "t_rel_s": s.t_rel_s,
    }


CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
pretty_name: workprint computer-use trajectories
tags:
- computer-use
- gui-agent
- pyautogui
- workprint
size_categories:
- {size}
---

# workprint computer-use trajectories

Desktop work recorded with workprint (Linux/X11) under its safeguards (scoped apps,
passwords and detected secrets masked at the source), reduced to agent actions.

- **Rows:** {rows} steps in {trajectories} trajectories ({unlabelled} without a task
  instruction: `unlabelled` is true and `instruction` is empty - nothing was invented).
- **Image:** the screen *before* the step's action (the keyframe), embedded.
- **Action:** `code` is pyautogui with coordinates normalised to [0, 1] by the logical
  screen size (`screen_width` x `screen_height`); `x`, `y`, `x2`, `y2` are pixels,
  `nx`..`ny2` normalised; `text`, `keys`, `dx`/`dy` (scroll ticks, dy > 0 up), `button`.
  Each trajectory ends with `computer.terminate(status=...)` ('unknown' when unlabelled).
- **Timing:** `t_rel_s` is whole seconds since the episode start; no per-keystroke timing.
- Masked input appears in typed text as placeholders such as `<PASSWORD>`.

```python
from datasets import load_dataset
ds = load_dataset("path/to/this/folder", split="train")
```
"""


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def write(out: Path, items: Sequence[tuple[Any, Trajectory]], encoder: ImageEncoder,
          progress: Progress | None, total: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = out / "data"
    data.mkdir()
    sch = schema()
    shards: list[Path] = []
    rows: list[dict[str, Any]] = []
    writer = None
    done = 0

    def flush() -> None:
        nonlocal rows
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema=sch), row_group_size=ROW_GROUP)
            rows = []

    in_shard = 0
    for session, traj in items:
        images = encoder.stream(session, [s.frame for s in traj.steps])
        for i, encoded in enumerate(images):
            if writer is None or in_shard >= SHARD_ROWS:
                flush()
                if writer is not None:
                    writer.close()
                path = data / f"train-{len(shards):05d}.parquet"
                shards.append(path)
                writer = pq.ParquetWriter(path, sch, compression=COMPRESSION,
                                          use_dictionary=[c for c, t, _ in COLUMNS
                                                          if t == "string"])
                in_shard = 0
            image = None
            if encoded is not None:
                image = {"bytes": encoded[1], "path": encoded[0]}
            rows.append(step_row(traj, i, image))
            in_shard += 1
            if len(rows) >= ROW_GROUP:
                flush()
            done += 1
            if progress:
                progress(done, total)
    flush()
    if writer is not None:
        writer.close()
    names = []
    for k, path in enumerate(shards):
        final = data / f"train-{k:05d}-of-{len(shards):05d}.parquet"
        path.rename(final)
        names.append(f"data/{final.name}")
    unlabelled = sum(1 for _, t in items if t.unlabelled)
    (out / "README.md").write_text(CARD.format(
        size=_size_category(total), rows=total, trajectories=len(items), unlabelled=unlabelled),
        encoding="utf-8")
    return {"files": ["README.md", *names]}
