"""Dataset build throughput: exported steps/s per worker for `--engine local`, `--engine ray`
(Ray Data) and `--engine ray-tasks` (plain Ray tasks) with 1 and 2 workers, reading from the S3 + PostgreSQL store (SeaweedFS and
PostgreSQL started here), JPEG images of 1920x1080 screens, a dataset more than 10x the
shard size; peak RSS of the driver and of the largest Ray worker.

Each configuration runs in its own process (clean memory figures) and builds twice: the
first build right after Ray started (Ray's start-up timed apart), then a warm one on the
same Ray (workers and Ray Data's actors up, as on a running cluster). All builds must give
the same content digest.
    python bench/bench_build.py [--sessions 40] [--tasks 5] [--shard-steps 80] [--tile 256]
                                [--tile-format png|webp] [--configs local:1,ray:2,...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "tests")]   # this tree, not the installed one

#: ``ray``: Ray Data; ``ray-tasks``: the same map as plain Ray tasks; both in one run, same store
CONFIGS = [("local", 1), ("ray-tasks", 1), ("ray", 1), ("ray-tasks", 2), ("ray", 2)]
#: Process titles of Ray Data's own actors (a baseline tree that ran its builds on Ray Data)
RAY_DATA_ACTORS = ("ray::_StatsActor", "ray::_AutoscalingCoordinator")


class PeakRss:
    """Samples this process and its descendants every 50 ms: the driver's peak, the
    largest peak of any Ray worker process (``ray::`` in its title) and the CPU time the
    worker processes used (last sample of each; start-up included). Ray Data's own actors
    (:data:`RAY_DATA_ACTORS`) are counted apart from the workers that ran the build's tasks."""

    def __init__(self):
        import psutil

        self.me = psutil.Process()
        self.worker_peak = 0
        self.worker_cpu: dict[int, float] = {}
        self.helpers: set[int] = set()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        while not self._stop.wait(0.05):
            for p in self.me.children(recursive=True):
                try:
                    title = " ".join(p.cmdline()[:1])
                    if "ray::" in title:
                        if title.startswith(RAY_DATA_ACTORS):
                            self.helpers.add(p.pid)
                        else:
                            self.worker_peak = max(self.worker_peak, p.memory_info().rss)
                        t = p.cpu_times()
                        self.worker_cpu[p.pid] = t.user + t.system
                except psutil.Error:
                    pass

    def cpu(self, before: dict[int, float], helpers: bool) -> float:
        return sum(t - before.get(pid, 0.0) for pid, t in self.worker_cpu.items()
                   if (pid in self.helpers) == helpers)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def measure(engine: str, workers: int, data_dir: str, blobs: str, db: str, out: str, shard_steps: int) -> dict:
    from workprint.build import build_dataset
    from workprint.server.config import CollectorConfig

    cfg = CollectorConfig(data_dir=Path(data_dir), blobs=blobs, db=db)
    startup = 0.0
    if engine.startswith("ray"):
        import tempfile

        import ray

        os.environ.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
        tmp = tempfile.mkdtemp(prefix="wpb", dir="/tmp")
        t0 = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, _temp_dir=tmp, _node_ip_address="127.0.0.1",
                 log_to_driver=False, configure_logging=False)
        startup = time.perf_counter() - t0
    runs = []
    try:
        with PeakRss() as rss:
            for _ in ("cold", "warm"):   # warm: a second build on the same Ray (as on a running cluster)
                cpu0 = time.process_time()
                worker_cpu0 = dict(rss.worker_cpu)
                t0 = time.perf_counter()
                man = build_dataset(cfg, name=f"bench-{engine}-{workers}", fmt="agentnet", out=out,
                                    engine=engine, workers=workers, shard_steps=shard_steps)
                dt = time.perf_counter() - t0
                driver_cpu = time.process_time() - cpu0
                time.sleep(0.1)              # one more sample of the workers' CPU
                runs.append((man, dt, driver_cpu, rss.cpu(worker_cpu0, False), rss.cpu(worker_cpu0, True)))
    finally:
        if engine.startswith("ray"):
            ray.shutdown()
            shutil.rmtree(tmp, ignore_errors=True)
    (man, dt, driver_cpu, worker_cpu, helper_cpu), warm = runs
    steps = man["counts"]["steps"]
    assert warm[0]["content_digest"] == man["content_digest"]
    return {"driver_cpu_ms_per_step": driver_cpu / steps * 1e3,
            "worker_cpu_ms_per_step": worker_cpu / steps * 1e3,
            "ray_actors_cpu_ms_per_step": helper_cpu / steps * 1e3, "engine": engine, "workers": workers, "steps": steps, "shards": man["counts"]["shards"],
            "seconds": dt, "ray_startup_s": startup, "steps_per_s": steps / dt,
            "steps_per_s_per_worker": steps / dt / workers,
            "warm_seconds": warm[1], "warm_steps_per_s": steps / warm[1],
            "warm_driver_cpu_ms_per_step": warm[2] / steps * 1e3,
            "warm_worker_cpu_ms_per_step": warm[3] / steps * 1e3,
            "warm_ray_actors_cpu_ms_per_step": warm[4] / steps * 1e3,
            "driver_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_mb": rss.worker_peak / 2**20, "digest": man["content_digest"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--tasks", type=int, default=5)
    ap.add_argument("--shard-steps", type=int, default=80)
    ap.add_argument("--tile", type=int, default=256, help="stored tile side in px (the recorder: 128)")
    ap.add_argument("--tile-format", choices=("png", "webp"), default="png",
                    help="stored tiles (the recorder writes lossless WebP)")
    ap.add_argument("--configs", default=",".join(f"{e}:{w}" for e, w in CONFIGS),
                    help="ENGINE:WORKERS,... to run (default: %(default)s)")
    ap.add_argument("--measure", nargs=7, metavar="X", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        e, w, d, b, db, out, shard = args.measure
        print(json.dumps(measure(e, int(w), d, b, db, out, int(shard))))
        return 0

    from tests.fleet.buildgen import populate
    from tests.fleet.conftest import Backend
    from tests.fleet.helpers import Fleet
    from tests.fleet.services import Postgres, SeaweedFS, run_dir

    run = run_dir("wp-bench-build-")
    sw = pg = None
    try:
        sw = SeaweedFS.start(run / "seaweed")
        (run / "pg").mkdir()
        pg = Postgres.start(run / "pg")
        backend = Backend("s3pg", run / "server", blobs=sw.blobs_url("bench"), db=pg.create_db())
        fleet = Fleet.start(backend)
        t0 = time.perf_counter()
        people = {f"p{i}": list(range(i * 1000, i * 1000 + args.sessions // 4)) for i in range(4)}
        populate(fleet, run, people, n_tasks=args.tasks, width=1920, height=1080, partial=True,
                 tile=args.tile, tile_format=args.tile_format)
        fleet.close()
        print(f"store: {args.sessions} sessions recorded, sealed and uploaded to SeaweedFS + PostgreSQL "
              f"in {time.perf_counter() - t0:.0f}s")
        rows = []
        configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.configs.split(",")]
        for engine, workers in configs:
            out = run / f"out-{engine}-{workers}"
            r = subprocess.run([sys.executable, __file__, "--measure", engine, str(workers),
                                str(backend.data_dir), backend.blobs, backend.db, str(out),
                                str(args.shard_steps)], capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                   [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])})
            if r.returncode:
                print(r.stdout[-2000:], r.stderr[-4000:])
                return 1
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(f"\n{rows[0]['steps']} steps in {rows[0]['shards']} shards of <= {args.shard_steps} steps, "
              f"agentnet, JPEG, 1920x1080 from {args.tile}-px {args.tile_format} tiles; "
              f"machine: {os.cpu_count()} cores")
        print(f"{'engine':<10}{'workers':>8}{'build s':>9}{'steps/s':>9}{'/worker':>9}{'ray start s':>12}"
              f"{'driver MB':>10}{'worker MB':>10}{'driver ms':>10}{'worker ms':>10}{'actors ms':>10}"
              f"{'| warm s':>9}{'steps/s':>9}{'driver ms':>10}{'worker ms':>10}{'actors ms':>10}")
        for r in rows:
            print(f"{r['engine']:<10}{r['workers']:>8}{r['seconds']:>9.1f}{r['steps_per_s']:>9.0f}"
                  f"{r['steps_per_s_per_worker']:>9.0f}{r['ray_startup_s']:>12.1f}"
                  f"{r['driver_peak_mb']:>10.0f}{r['worker_peak_mb']:>10.0f}"
                  f"{r['driver_cpu_ms_per_step']:>10.1f}{r['worker_cpu_ms_per_step']:>10.1f}"
                  f"{r['ray_actors_cpu_ms_per_step']:>10.1f}"
                  f"{r['warm_seconds']:>9.1f}{r['warm_steps_per_s']:>9.0f}{r['warm_driver_cpu_ms_per_step']:>10.1f}"
                  f"{r['warm_worker_cpu_ms_per_step']:>10.1f}{r['warm_ray_actors_cpu_ms_per_step']:>10.1f}")
        print("ms: process CPU time (user+system) per exported step: the driver's; the Ray workers' "
              "(start-up included in the first build, both stages); Ray Data's own actors' (stats, "
              "autoscaling coordinator). First build: Ray just started; warm: a second build of the "
              "same store on the same Ray (workers and Ray Data's actors already up, as on a running "
              "cluster). Peak RSS over both builds.")
        by = {(r["engine"], r["workers"]): r for r in rows}
        for e in ("ray", "ray-tasks"):
            if (e, 1) in by and (e, 2) in by:
                print(f"{e} 2 workers / 1 worker: {by[e, 2]['steps_per_s'] / by[e, 1]['steps_per_s']:.2f}x "
                      f"(warm {by[e, 2]['warm_steps_per_s'] / by[e, 1]['warm_steps_per_s']:.2f}x)")
        for w in (1, 2):
            if ("ray", w) in by and ("ray-tasks", w) in by:
                print(f"{w} worker(s): Ray Data / Ray tasks: "
                      f"{by['ray', w]['steps_per_s'] / by['ray-tasks', w]['steps_per_s']:.2f}x "
                      f"(warm {by['ray', w]['warm_steps_per_s'] / by['ray-tasks', w]['warm_steps_per_s']:.2f}x)")
        digests = {r["digest"] for r in rows}
        print("identical content on every engine and worker count:", len(digests) == 1)
        (ROOT / ".bench-out").mkdir(exist_ok=True)
        (ROOT / ".bench-out" / "build.json").write_text(json.dumps(rows, indent=1))
        return 0 if len(digests) == 1 else 1
    finally:
        if pg:
            pg.stop()
        if sw:
            sw.stop()
        shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
