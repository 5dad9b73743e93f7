"""Engines run a build's stages: ``local`` (in this process, one task after another),
``ray`` (Ray Data) or ``ray-tasks`` (the same map as plain Ray tasks); both Ray engines use a
local Ray started for the build, or an existing cluster at ``--ray-address``. An engine only
maps a stage function over JSON-able tasks and hands the results back; ordering, dedupe and
the shard plan stay in the driver, so the output does not depend on the engine or on how
many workers it had.

``ray`` is Ray Data, made lean (:func:`lean_context`, several tasks per block): its
streaming executor is what a cluster build of a day's fleet data runs on. On small boxes it
costs more than the stages need (figures in BENCHMARKS.md, "Ray Data made lean"): ~20 ms
of driver and worker time per Ray Data task, ~0.5 s per map, and its stats and autoscaling
actors start on the first build (~2-2.5 s of CPU); on the 2-core bench box it came within
0-8 % of plain tasks with one warm worker, 13-23 % behind with two, and 22-49 % behind on a
build right after Ray started. ``ray-tasks`` submits the same map as plain Ray tasks, for
small clusters and single machines; both are tested for the same bytes and measured side by
side by ``bench/bench_build.py``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import Any, Callable

from ..errors import BuildError
from ..extras import require

Stage = Callable[[dict[str, Any]], dict[str, Any]]
#: ``progress(done, total)``: tasks of a map finished so far
Progress = Callable[[int, int], None]
ENGINES = ("local", "ray", "ray-tasks")


class LocalEngine:
    name = "local"
    workers = 1

    def __enter__(self) -> "LocalEngine":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def map(self, stage: Stage, tasks: list[dict[str, Any]],
            progress: Progress | None = None) -> list[dict[str, Any]]:
        out = []
        for t in tasks:
            out.append(stage(t))
            if progress:
                progress(len(out), len(tasks))
        return out

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.workers}


def _run_task(stage: Stage, task: str) -> str:
    """A Ray task: tasks and results travel as JSON text (plain data, small)."""
    return json.dumps(stage(json.loads(task)))


def _run_batch(stage: Stage):
    """A Ray Data batch function over one block of tasks, one after another: rows (``i``,
    ``task``: JSON text, so Arrow never has to guess a schema for nested, ragged data) ->
    (``i``, ``result``: JSON text)."""
    def run(batch):
        import pyarrow as pa

        return pa.table({"i": batch["i"], "result": pa.array(
            [json.dumps(stage(json.loads(t))) for t in batch["task"].to_pylist()], pa.string())})
    return run


def lean_context():
    """A copy of the current Ray Data context with what a map of a few hundred coarse tasks
    does not need switched off: progress bars, stats logging and summaries, per-node and
    object-location metrics, the per-task memory poller, issue detectors. The caller's
    own context is left as it was (the copy is used with ``DataContext.current``)."""
    import copy

    from ray.data import DataContext

    ctx = copy.deepcopy(DataContext.get_current())
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False
    ctx.enable_auto_log_stats = False
    ctx.verbose_stats_logs = False
    ctx.enable_stats_summary_collection = False
    ctx.enable_per_node_metrics = False
    ctx.enable_get_object_locations_for_metrics = False
    ctx.memory_usage_poll_interval_s = None
    ctx.print_on_execution_start = False
    ctx.issue_detectors_config.detectors = []
    ctx.execution_options.verbose_progress = False
    return ctx


class _Ray:
    """A Ray for the build (both Ray engines). Without ``address`` a local Ray is started
    for the build (loopback only, no dashboard, no usage stats, a short temp dir) and
    stopped after it; with one, the build joins that cluster (``ray://host:10001`` or ``auto``). If Ray is
    already running in this process (e.g. a notebook), that Ray is used and left running."""

    name = ""

    def __init__(self, workers: int = 2, address: str | None = None):
        if workers < 1:
            raise BuildError("--workers must be at least 1")
        self.workers, self.address = workers, address
        self._started = False
        self._tmp: str | None = None

    def __enter__(self):
        require("ray", "build", f"--engine {self.name}")
        import ray

        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
            if self.address:
                ray.init(address=self.address, **kw)
            else:
                self._tmp = tempfile.mkdtemp(prefix="wpray-", dir="/tmp")
                ray.init(num_cpus=self.workers, _temp_dir=self._tmp, _node_ip_address="127.0.0.1", **kw)
            self._started = True
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            import ray

            ray.shutdown()
            if self._tmp:
                import shutil

                shutil.rmtree(self._tmp, ignore_errors=True)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.workers}


#: Ray Data spends ~20 ms of driver and worker time per task it runs (its executor's
#: bookkeeping, streaming returns, block metadata; BENCHMARKS.md), so a Ray Data task
#: takes up to this many build tasks (sessions or shards) in a row...
TASKS_PER_BLOCK = 8
#: ...while keeping at least this many Ray Data tasks per worker to even out unequal ones.
BLOCKS_PER_WORKER = 4


def block_count(tasks: int, workers: int) -> int:
    """How many blocks (Ray Data tasks) a map of ``tasks`` build tasks is cut into."""
    return max(1, min(tasks, max(workers * BLOCKS_PER_WORKER, -(-tasks // TASKS_PER_BLOCK))))


class RayDataEngine(_Ray):
    """Ray Data: the tasks become a dataset cut into :func:`block_count` blocks of
    consecutive tasks, mapped with ``map_batches`` (one block, one Ray Data task of one
    CPU; at most ``workers`` at once), under :func:`lean_context`; results stream back
    (``iter_rows``), so ``progress`` hears of each block's tasks as the block finishes."""

    name = "ray"

    def map(self, stage: Stage, tasks: list[dict[str, Any]],
            progress: Progress | None = None) -> list[dict[str, Any]]:
        if not tasks:
            return []
        import ray.data

        out: list[Any] = [None] * len(tasks)
        log = logging.getLogger("ray.data")
        level = log.level
        log.setLevel(logging.ERROR)          # its notices (progress bars off, run finished)
        try:
            done = self._map(ray.data, stage, tasks, out, progress)
        finally:
            log.setLevel(level)
        if done != len(tasks):
            raise BuildError(f"Ray Data returned {done} of {len(tasks)} task results")
        return out

    def _map(self, data, stage: Stage, tasks, out: list[Any], progress: Progress | None) -> int:
        done = 0
        with data.DataContext.current(lean_context()):
            ds = data.from_items([{"i": i, "task": json.dumps(t)} for i, t in enumerate(tasks)],
                                 override_num_blocks=block_count(len(tasks), self.workers))
            ds = ds.map_batches(_run_batch(stage), batch_size=None, batch_format="pyarrow",
                                compute=data.TaskPoolStrategy(size=self.workers), num_cpus=1)
            for row in ds.iter_rows():          # as blocks finish, in any order
                out[row["i"]] = json.loads(row["result"])
                done += 1
                if progress:
                    progress(done, len(tasks))
        return done


class RayTaskEngine(_Ray):
    """Plain Ray tasks: each task a Ray task of one CPU, at most ``workers`` running at a
    time; results in task order; ``progress`` hears of each task as it finishes."""

    name = "ray-tasks"

    def map(self, stage: Stage, tasks: list[dict[str, Any]],
            progress: Progress | None = None) -> list[dict[str, Any]]:
        if not tasks:
            return []
        import ray

        run = ray.remote(num_cpus=1)(_run_task)
        out: list[Any] = [None] * len(tasks)
        running: dict[Any, int] = {}
        submitted = done = 0
        while done < len(tasks):
            while submitted < len(tasks) and len(running) < self.workers:
                running[run.remote(stage, json.dumps(tasks[submitted]))] = submitted
                submitted += 1
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                out[running.pop(ref)] = json.loads(ray.get(ref))
                done += 1
                if progress:
                    progress(done, len(tasks))
        return out


def make_engine(name: str, workers: int = 1, address: str | None = None):
    if name == "local":
        if address:
            raise BuildError("--ray-address needs --engine ray or ray-tasks")
        return LocalEngine()
    if name == "ray":
        return RayDataEngine(workers, address)
    if name == "ray-tasks":
        return RayTaskEngine(workers, address)
    raise BuildError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
