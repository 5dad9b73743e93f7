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

from .common import EXPORT_VERSION, ImageEncoder, Progress, Trajectory

SHARD_ROWS = 1000
#: Images are already compressed: store them as is, compress the rest.
COMPRESSION = {"image.bytes": "none", "image.path": "zstd", **{
    c: "zstd" for c in ("task_id", "instruction", "code", "action", "observation", "thought",
                        "text", "keys.list.element", "action_type", "button", "policy_hash",
                        "element_role", "element_name", "element_bbox.list.element", "a11y_tree")}}
ROW_GROUP = 64

# name -> (arrow type, HF feature, description). Features are written in the form both
# `datasets` 3.x and 4.x+ read (``Sequence`` for the string list, not 4.x's ``List``).
_V = lambda dtype: {"dtype": dtype, "_type": "Value"}  # noqa: E731
COLUMNS: list[tuple[str, str, dict[str, Any], str]] = [
    ("task_id", "string", _V("string"), "Trajectory id (a hash; the same in every format)."),
    ("step", "int32", _V("int32"), "Step index in the trajectory, from 0."),
    ("n_steps", "int32", _V("int32"), "Number of steps in the trajectory."),
    ("instruction", "string", _V("string"),
     "Task instruction given at task start; empty when `unlabelled`."),
    ("unlabelled", "bool", _V("bool"), "True for work recorded without a task marker."),
    ("task_completed", "bool", _V("bool"),
     "Labelled outcome: true (success), false (failure), null (not labelled)."),
    ("image", "image", {"_type": "Image"},
     "Screenshot of the screen *before* the action (embedded bytes; every row has one)."),
    ("code", "string", _V("string"),
     "The action as pyautogui / computer.* code, coordinates normalised to [0, 1]."),
    ("action", "string", _V("string"), "Plain description of the action (or CoT action text)."),
    ("observation", "string", _V("string"), "CoT observation text when added with --cot, else empty."),
    ("thought", "string", _V("string"), "CoT thought text when added with --cot, else empty."),
    ("action_type", "string", _V("string"),
     "click, doubleClick, tripleClick, rightClick, middleClick, drag, scroll, hscroll, write, "
     "press, hotkey, wait or end (terminate)."),
    ("x", "int32", _V("int32"), "Pointer x in pixels of the logical screen (mouse actions)."),
    ("y", "int32", _V("int32"), "Pointer y in pixels."),
    ("x2", "int32", _V("int32"), "Drag end x in pixels."),
    ("y2", "int32", _V("int32"), "Drag end y in pixels."),
    ("nx", "float64", _V("float64"), "x / screen_width (4 decimals), as in `code`."),
    ("ny", "float64", _V("float64"), "y / screen_height."),
    ("nx2", "float64", _V("float64"), "x2 / screen_width."),
    ("ny2", "float64", _V("float64"), "y2 / screen_height."),
    ("text", "string", _V("string"), "Typed text (write); masked input shows as placeholders."),
    ("keys", "list_string", {"feature": _V("string"), "_type": "Sequence"},
     "Keys (press, hotkey) or modifiers held (mouse actions), pyautogui names."),
    ("dx", "int32", _V("int32"), "Horizontal scroll ticks, > 0 right."),
    ("dy", "int32", _V("int32"), "Vertical scroll ticks, > 0 up."),
    ("button", "string", _V("string"), "Mouse button: left, right or middle."),
    ("screen_width", "int32", _V("int32"), "Logical screen width in pixels."),
    ("screen_height", "int32", _V("int32"), "Logical screen height in pixels."),
    ("screen_scale", "float64", _V("float64"), "Device pixels per logical pixel."),
    ("t_rel_s", "int32", _V("int32"), "Whole seconds since the trajectory start."),
    ("policy_hash", "string", _V("string"), "Hash of the recording policy (scope and redaction)."),
    ("element_role", "string", _V("string"),
     "Role of the UI element acted on (accessibility role name, e.g. `push button`), or null."),
    ("element_name", "string", _V("string"),
     "Accessible name of that element (redacted like window titles), or null."),
    ("element_bbox", "list_float64", {"feature": _V("float64"), "_type": "Sequence"},
     "Its box [x0, y0, x1, y1] as fractions of the screen, or null."),
    ("a11y_tree", "string", _V("string"),
     "Accessibility tree of the window before the action (JSON: app, nodes, truncated, root with "
     "role, name, states, bbox as fractions of the screen, children), or null where none was recorded."),
]


def schema():
    import pyarrow as pa

    types = {"string": pa.string(), "int32": pa.int32(), "bool": pa.bool_(),
             "float64": pa.float64(), "list_string": pa.list_(pa.string()),
             "list_float64": pa.list_(pa.float64()),
             "image": pa.struct([("bytes", pa.binary()), ("path", pa.string())])}
    features = {name: feat for name, _, feat, _ in COLUMNS}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    return pa.schema([(name, types[t]) for name, t, _, _ in COLUMNS], metadata=meta)


def step_row(traj: Trajectory, i: int, image: dict[str, Any]) -> dict[str, Any]:
    s = traj.steps[i]
    el = s.element
    d = s.structured
    a = s.action
    return {
        "task_id": traj.task_id, "step": s.index, "n_steps": len(traj.steps),
        "instruction": traj.instruction, "unlabelled": traj.unlabelled,
        "task_completed": traj.ok, "image": image, "code": s.code, "action": s.description,
        "observation": s.observation, "thought": s.thought, "action_type": a.kind,
        "x": d.get("x"), "y": d.get("y"), "x2": d.get("x2"), "y2": d.get("y2"),
        "nx": d.get("nx"), "ny": d.get("ny"), "nx2": d.get("nx2"), "ny2": d.get("ny2"),
        "text": d.get("text"), "keys": list(a.keys), "dx": a.dx, "dy": a.dy,
        "button": a.button, "screen_width": traj.screen.width,
        "screen_height": traj.screen.height, "screen_scale": traj.screen.scale,
        "t_rel_s": s.t_rel_s, "policy_hash": traj.source.get("policy_hash", ""),
        "element_role": el["role"] if el else None, "element_name": el["name"] if el else None,
        "element_bbox": el["bbox"] if el else None,
        "a11y_tree": json.dumps(s.a11y_tree, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if s.a11y_tree is not None else None,
    }


def _yaml_feature(name: str, feat: dict[str, Any]) -> str:
    if feat["_type"] == "Image":
        return f"  - name: {name}\n    dtype: image\n"
    if feat["_type"] == "Sequence":
        return f"  - name: {name}\n    sequence: {feat['feature']['dtype']}\n"
    return f"  - name: {name}\n    dtype: {feat['dtype']}\n"


def _type_name(feat: dict[str, Any]) -> str:
    if feat["_type"] == "Sequence":
        return "list of " + feat["feature"]["dtype"]
    return feat.get("dtype") or feat["_type"].lower()


def source_key(traj: Trajectory) -> tuple[str, str]:
    """(policy hash, recorder version) of a trajectory, as the card's provenance counts it."""
    return (traj.source.get("policy_hash") or "(none recorded)",
            traj.source.get("recorder_version") or "(unknown)")


def card(rows: int, num_bytes: int, items: Sequence[tuple[Any, Trajectory]]) -> str:
    """The dataset card: YAML header (configs, dataset_info with features and the split),
    field descriptions and provenance."""
    trajectories = [t for _, t in items]
    sources: dict[tuple[str, str], int] = {}
    for t in trajectories:
        sources[source_key(t)] = sources.get(source_key(t), 0) + 1
    return card_from_counts(rows, num_bytes, len(trajectories),
                            sum(1 for t in trajectories if t.unlabelled), sources)


def card_from_counts(rows: int, num_bytes: int, n_trajectories: int, unlabelled: int,
                     sources: dict[tuple[str, str], int]) -> str:
    """:func:`card` from counts alone (dataset builds never hold all trajectories at once)."""
    from .. import __version__

    head = ("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
            "    path: data/train-*.parquet\n"
            "dataset_info:\n  features:\n"
            + "".join(_yaml_feature(n, f) for n, _, f, _ in COLUMNS)
            + f"  splits:\n  - name: train\n    num_bytes: {num_bytes}\n"
            f"    num_examples: {rows}\n"
            "pretty_name: workprint computer-use trajectories\n"
            "task_categories:\n- image-text-to-text\n"
            "tags:\n- computer-use\n- gui-agent\n- pyautogui\n- workprint\n"
            f"size_categories:\n- {_size_category(rows)}\n---\n\n")
    fields = "".join(f"| `{n}` | {_type_name(f)} | {d} |\n" for n, _, f, d in COLUMNS)
    prov = "".join(f"| `{p}` | {v} | {EXPORT_VERSION} | {n} |\n"
                   for (p, v), n in sorted(sources.items()))
    return head + f"""# workprint computer-use trajectories

Desktop work recorded with workprint (Linux/X11) under its safeguards - only apps and sites
the policy allows, passwords and detected secrets masked at the source, screens of other
windows blacked out - and reduced to agent actions. One row per step.

- **Rows:** {rows} steps in {n_trajectories} trajectories ({unlabelled} of them without a
  task instruction: `unlabelled` is true and `instruction` is empty - nothing was invented).
- **Image:** every row holds the screenshot of the screen *before* its action (embedded);
  steps without one were left out of the export.
- **Action:** `code` uses pyautogui with coordinates normalised to [0, 1] by the logical
  screen size, plus `computer.tripleClick`, `computer.wait` and
  `computer.terminate(status='success'|'failure')`, which ends a trajectory only when its
  outcome was labelled. The grammar is in workprint's README ("Formats").
- **Timing:** `t_rel_s` is whole seconds since the trajectory start; no per-keystroke timing.
- **Identity:** no user names, host names, window titles, process or session ids.

## Fields

| field | type | description |
|---|---|---|
{fields}
## How it was produced

Recorded and redacted at the source by workprint under the policy named by its hash, then
exported by workprint {__version__} (export format version {EXPORT_VERSION}). The recorder
version is the version of the redaction rules that ran.

| policy hash | recorder version | export version | trajectories |
|---|---|---|---|
{prov}
## Load

```python
from datasets import load_dataset   # datasets >= 3.6
ds = load_dataset("path/to/this/folder", split="train")
ds[0]["image"]    # PIL image of the screen before the first action
```
"""


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def open_shard(path: Path):
    """A Parquet writer for one shard: the schema, per-column compression and dictionary
    encoding every workprint HF shard uses."""
    import pyarrow.parquet as pq

    return pq.ParquetWriter(path, schema(), compression=COMPRESSION,
                            use_dictionary=[c for c, t, _, _ in COLUMNS if t == "string"])


def write_rows(writer, rows: list[dict[str, Any]]) -> int:
    """Append rows (:func:`step_row`) as row groups of :data:`ROW_GROUP`; returns their
    in-memory size (the card's ``num_bytes``)."""
    import pyarrow as pa

    table = pa.Table.from_pylist(rows, schema=writer.schema)
    writer.write_table(table, row_group_size=ROW_GROUP)
    return table.nbytes


def write(out: Path, items: Sequence[tuple[Any, Trajectory]], encoder: ImageEncoder,
          progress: Progress | None, total: int) -> dict[str, Any]:
    data = out / "data"
    data.mkdir()
    shards: list[Path] = []
    rows: list[dict[str, Any]] = []
    writer = None
    done = 0
    num_bytes = 0

    def flush() -> None:
        nonlocal rows, num_bytes
        if rows:
            num_bytes += write_rows(writer, rows)
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
                writer = open_shard(path)
                in_shard = 0
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
    (out / "README.md").write_text(card(total, num_bytes, items), encoding="utf-8")
    return {"files": ["README.md", *names]}
