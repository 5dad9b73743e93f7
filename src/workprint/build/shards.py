"""Shards: how a dataset's trajectories are cut into files of bounded size, and each
format's shard writer (built on the device export's record functions, not a copy).

:func:`plan_shards` is pure: trajectories in build order go into consecutive shards, a
shard closing before it would exceed ``max_steps`` rows or ``max_bytes`` of images (a
trajectory is never split; one larger than a bound gets a shard of its own). The plan
depends on the kept trajectories alone, so every engine and worker count cuts the same
shards. Shard files are named ``<stem>-NNNNN-of-MMMMM.<ext>`` like the HF export's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..export import agentnet, aguvis, hf
from ..export.common import Trajectory, json_line

#: Defaults: the HF export's rows per shard, and ~256 MiB of images.
SHARD_STEPS = hf.SHARD_ROWS
SHARD_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class TrajRef:
    """Where a kept trajectory is staged (session pseudonym, index in that session) and
    what the shard plan needs of it."""

    session: str
    index: int
    steps: int
    image_bytes: int


def plan_shards(refs: Sequence[TrajRef], max_steps: int = SHARD_STEPS,
                max_bytes: int = SHARD_BYTES) -> list[list[TrajRef]]:
    shards: list[list[TrajRef]] = []
    steps = size = 0
    for r in refs:
        if shards and shards[-1] and (steps + r.steps > max_steps or size + r.image_bytes > max_bytes):
            shards.append([])
            steps = size = 0
        if not shards:
            shards.append([])
        shards[-1].append(r)
        steps += r.steps
        size += r.image_bytes
    return shards


def shard_name(fmt: str, k: int, n: int) -> str:
    """Relative path of shard ``k`` of ``n`` in a dataset of format ``fmt``."""
    if fmt == "hf":
        return f"data/train-{k:05d}-of-{n:05d}.parquet"
    if fmt == "aguvis":
        return f"aguvis-{k:05d}-of-{n:05d}.json"
    return f"trajectories-{k:05d}-of-{n:05d}.jsonl"


Item = tuple[Trajectory, list[str]]          # a trajectory and its steps' image names


def write_shard(fmt: str, path: Path, items: Iterable[Item], *, system: str = "",
                image_bytes: Callable[[str], bytes] | None = None) -> int:
    """Write one shard; returns the in-memory size of its rows (HF card ``num_bytes``;
    0 for the JSON formats). ``system`` is the Aguvis system message of the whole dataset;
    ``image_bytes(name)`` gives an image's bytes for HF rows (embedded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "hf":
        writer = hf.open_shard(path)
        num_bytes, rows = 0, []
        try:
            for traj, names in items:
                for i, name in enumerate(names):
                    rows.append(hf.step_row(traj, i, {"bytes": image_bytes(name), "path": name}))
                    if len(rows) >= hf.ROW_GROUP:
                        num_bytes += hf.write_rows(writer, rows)
                        rows = []
            if rows:
                num_bytes += hf.write_rows(writer, rows)
        finally:
            writer.close()
        return num_bytes
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        if fmt == "agentnet":
            for traj, names in items:
                f.write(json_line(agentnet.trajectory_record(traj, names)) + "\n")
            return 0
        f.write("[")
        first = True
        for traj, names in items:
            for i, name in enumerate(names):
                f.write("\n" if first else ",\n")
                first = False
                f.write(json_line(aguvis.sample(traj, i, name, system)))
        f.write("\n]\n")
    return 0


def finish(fmt: str, location: str, shard_files: list[str], *, rows: int, num_bytes: int,
           trajectories: int, unlabelled: int, sources: dict[tuple[str, str], int]) -> dict[str, str]:
    """Files a format writes beside its shards (Aguvis dataset list, HF card), by name;
    ``location`` is where the version lives (a folder or an ``s3://`` URL)."""
    if fmt == "aguvis":
        url = location.startswith("s3://")
        return {aguvis.YAML: aguvis.dataset_list(Path(location), shard_files,
                                                 root=location.partition("?")[0] if url else None)}
    if fmt == "hf":
        return {"README.md": hf.card_from_counts(rows, num_bytes, trajectories, unlabelled, sources)}
    return {}


def functions_in_order(per_trajectory: Iterable[Sequence[str]]) -> list[str]:
    """The Aguvis function list of a dataset: callee names in first-use order over its
    trajectories in build order (the export's :func:`~workprint.export.code.functions_used`
    over all codes gives the same list)."""
    seen: dict[str, None] = {}
    for names in per_trajectory:
        for n in names:
            seen.setdefault(n, None)
    return list(seen)


def image_folder(fmt: str) -> str | None:
    """Images alongside the shards (agentnet, aguvis) or embedded (hf: None)."""
    return None if fmt == "hf" else agentnet.IMAGES
