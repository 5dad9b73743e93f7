"""Engines run a build's stages: ``local`` (in this process, one task after another) or
``ray`` (Ray tasks: a local Ray started for the build, or an existing cluster at
``--ray-address``). An engine only maps a stage function over JSON-able tasks and hands the
results back; ordering, dedupe and the shard plan stay in the driver, so the output does
not depend on the engine or on how many workers it had.

The Ray engine submits plain Ray tasks (one CPU each, at most ``workers`` running) rather
than a Ray Data pipeline: a map of independent session or shard tasks uses nothing of Ray
Data but its scheduling, and Ray Data's executor loop and its stats and autoscaling actors
cost more CPU than the stages themselves on small clusters (BENCHMARKS.md).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable

from ..errors import BuildError
from ..extras import require

Stage = Callable[[dict[str, Any]], dict[str, Any]]
#: ``progress(done, total)``: tasks of a map finished so far
Progress = Callable[[int, int], None]
ENGINES = ("local", "ray")


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


class RayEngine:
    """Ray. Without ``address`` a local Ray is started for the build (loopback only,
    no dashboard, no usage stats, a short temp dir) and stopped after it; with one, the
    build joins that cluster (``ray://host:10001`` or ``auto``). If Ray is already running
    in this process (e.g. a notebook), that Ray is used and left running."""

    name = "ray"

    def __init__(self, workers: int = 2, address: str | None = None):
        if workers < 1:
            raise BuildError("--workers must be at least 1")
        self.workers, self.address = workers, address
        self._started = False
        self._tmp: str | None = None

    def __enter__(self) -> "RayEngine":
        require("ray", "build", "--engine ray")
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

    def map(self, stage: Stage, tasks: list[dict[str, Any]],
            progress: Progress | None = None) -> list[dict[str, Any]]:
        """Each task a Ray task of one CPU, at most ``workers`` running at a time; results
        in task order; ``progress`` hears of each task as it finishes."""
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

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.workers}


def make_engine(name: str, workers: int = 1, address: str | None = None):
    if name == "local":
        if address:
            raise BuildError("--ray-address needs --engine ray")
        return LocalEngine()
    if name == "ray":
        return RayEngine(workers, address)
    raise BuildError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
