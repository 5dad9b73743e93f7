"""`--engine ray` (Ray Data) and `--engine ray-tasks` (plain Ray tasks) give the bytes of
`--engine local`, whatever the worker count, on both store backends. Ray starts once for the module (local, loopback only, no dashboard,
no usage stats, a short temp dir) and always shuts down; the CLI test lets the engine start
and stop its own Ray in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest

from workprint.build import build_dataset
from workprint.build.engine import BLOCKS_PER_WORKER, TASKS_PER_BLOCK, block_count

from .buildgen import populate
from .conftest import make_backend
from .helpers import Fleet, cli

pytestmark = pytest.mark.fleet
ray = pytest.importorskip("ray", reason="needs the [build] extra (ray[data])")
#: No usage reporting; no token file in ~/.ray (a loopback-only test cluster).
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def files_of(vdir):
    return {p.relative_to(vdir).as_posix(): p.read_bytes() for p in sorted(vdir.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def same_manifest(a: dict, b: dict) -> bool:
    strip = lambda m: {k: v for k, v in m.items() if k not in ("version", "id", "created", "engine", "location")}  # noqa: E731
    return strip(a) == strip(b)


def test_cli_ray_engine_starts_and_stops_its_own_ray(tmp_path, request):
    fleet = Fleet.start(make_backend("local", request, tmp_path))
    try:
        populate(fleet, tmp_path, {"frank": [21, 22]})
    finally:
        fleet.close()
    data = ["--data-dir", str(tmp_path / "server")]
    from workprint.server.config import CollectorConfig

    # the local build in this process (a CLI run of it would only add a start-up)
    build_dataset(CollectorConfig.load(tmp_path / "server"), name="workprint", fmt="agentnet",
                  out=tmp_path / "d")
    before = set(os.listdir("/tmp"))
    got = json.loads(cli("build", *data, "--format", "agentnet", "--out", str(tmp_path / "d"),
                         "--engine", "ray", "--workers", "2", "--json",
                         env=RAY_ENV).stdout)
    assert got["engine"] == {"name": "ray", "workers": 2} and got["id"] == "workprint@v2"
    assert files_of(tmp_path / "d" / "v0001") == files_of(tmp_path / "d" / "v0002")
    assert not {n for n in set(os.listdir("/tmp")) - before if n.startswith("wpray-")}   # temp dir removed
    listed = cli("build", *data, "--list").stdout
    assert "workprint@v1  built  agentnet" in listed and "workprint@v2  built" in listed


def test_ray_data_blocks_take_several_tasks_but_leave_every_worker_several_blocks():
    assert block_count(1, 4) == 1 and block_count(0, 2) == 1
    assert block_count(5, 2) == 5                                 # few tasks: one each
    assert block_count(40, 2) == 2 * BLOCKS_PER_WORKER            # 5 sessions a block
    assert block_count(40, 64) == 40
    assert block_count(10_000, 2) == -(-10_000 // TASKS_PER_BLOCK)
    for n in range(1, 300, 7):
        for w in (1, 2, 3, 16):
            b = block_count(n, w)
            assert min(n, w * BLOCKS_PER_WORKER) <= b <= n and -(-n // b) <= TASKS_PER_BLOCK


@pytest.fixture(scope="module")
def local_ray():
    tmp = tempfile.mkdtemp(prefix="wpr", dir="/tmp")
    os.environ.update(RAY_ENV)
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=tmp, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("name", ["local", "s3pg"])
def test_ray_builds_are_byte_identical_to_local_builds(local_ray, name, tmp_path, request):
    fleet = Fleet.start(make_backend(name, request, tmp_path))
    try:
        populate(fleet, tmp_path, {"gina": [31, 32], "hal": [33]})
        cfg = fleet.collector.config
        fmt = "hf" if name == "local" else "agentnet"
        runs = [("local", 1), ("ray", 1), ("ray", 2), ("ray-tasks", 1), ("ray-tasks", 2)]
        if name == "local":
            out, versions = tmp_path / "d", lambda v: files_of(tmp_path / "d" / f"v{v:04d}")
        else:                      # the Ray workers write straight to S3 (SeaweedFS)
            from workprint.server.blobs import S3Blobs

            bucket, client = fleet.backend.extra["seaweed"].bucket, S3Blobs(fleet.backend.blobs).client
            out = f"s3://{bucket}/ds-{tmp_path.name}"

            def versions(v):
                prefix = f"ds-{tmp_path.name}/v{v:04d}/"
                keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]
                return {k[len(prefix):]: client.get_object(Bucket=bucket, Key=k)["Body"].read()
                        for k in keys if not k.endswith("/manifest.json")}
        import ray.data

        ctx = ray.data.DataContext.get_current()
        bars = ctx.enable_progress_bars
        heard: dict[tuple, list] = {}
        mans = [build_dataset(cfg, name="d", fmt=fmt, out=out, engine=e, workers=w, shard_steps=6,
                              progress=lambda d, n, k=(e, w): heard.setdefault(k, []).append((d, n)))
                for e, w in runs]
        # sessions counted as they finish, up to all three, on every engine
        for k, calls in heard.items():
            assert calls[-1] == (3, 3) and [d for d, _ in calls] == sorted(d for d, _ in calls), k
        assert set(heard) == set(runs)
        # the lean settings of a build do not leak into the caller's Ray Data context
        assert ray.data.DataContext.get_current() is ctx and ctx.enable_progress_bars == bars
        assert [m["engine"] for m in mans] == [{"name": e, "workers": w} for e, w in runs]
        assert mans[0]["counts"]["shards"] > 1 and mans[0]["counts"]["sessions"] == 3
        first = versions(1)
        assert len(first) > mans[0]["counts"]["shards"]            # shards and images
        for v, m in enumerate(mans[1:], 2):
            assert versions(v) == first
            assert same_manifest(m, mans[0])
    finally:
        fleet.close()
