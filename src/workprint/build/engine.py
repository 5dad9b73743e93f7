"""Engines run a build's stages: ``local`` (in this process, one task after another) or
``ray`` (Ray Data: a local Ray started for the build, or an existing cluster at
``--ray-address``). An engine only maps a stage function over JSON-able tasks and hands the
results back; ordering, dedupe and the shard plan stay in the driver, so the output does
not depend on the engine or on how many workers it had.
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


def _run_stage(stage: Stage) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A Ray Data row function: tasks and results travel as JSON text (one column), so
    Arrow never has to guess a schema for nested, ragged data."""
    def row(r: dict[str, Any]) -> dict[str, Any]:
        return {"result": json.dumps(stage(json.loads(r["task"])))}
    return row


class RayEngine:
    """Ray Data. Without ``address`` a local Ray is started for the build (loopback only,
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
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
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
        """``progress`` hears of the tasks when the whole map is done (Ray Data hands the
        rows back together)."""
        if not tasks:
            return []
        import ray.data

        ds = ray.data.from_items([{"task": json.dumps(t)} for t in tasks],
                                 override_num_blocks=len(tasks))
        rows = ds.map(_run_stage(stage), compute=ray.data.TaskPoolStrategy(size=self.workers),
                      num_cpus=1).take_all()
        if progress:
            progress(len(rows), len(tasks))
        return [json.loads(r["result"]) for r in rows]

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
