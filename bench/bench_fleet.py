"""Collector load benchmark: 200 simulated devices upload 64 KB chunks concurrently.

Load comes from a separate process (wrk, C, on loopback) replaying pre-sealed unique chunks,
each with its device's bearer token. Reports chunk uploads/s and MB/s per run, per collector
process, and latency percentiles, for the local backend and SeaweedFS + PostgreSQL, with 1
and 2 collector processes. Bounded: every run lasts --duration seconds.

    flock /tmp/workprint-heavy.lock .venv/bin/python bench/bench_fleet.py
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fleet.conftest import Backend  # noqa: E402
from tests.fleet.helpers import LiveServer  # noqa: E402
from tests.fleet.services import Postgres, SeaweedFS, run_dir  # noqa: E402
from workprint.server.collector import Collector  # noqa: E402
from workprint.sync import chunk as C  # noqa: E402


def noise_tiles(n: int, side: int = 146) -> list[bytes]:
    from PIL import Image

    out = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG", compress_level=1)
        out.append(buf.getvalue())
    return out


def prepare(backend: Backend, out: Path, devices: int, chunks: int, threads: int) -> float:
    """Enrol devices and write ``chunks`` sealed ~64 KB chunks split over wrk threads."""
    col = Collector(backend.config())
    tokens = [col.enroll(col.create_enrolment_code("bench", f"dev{i}", 3600)["code"], "bench")["token"]
              for i in range(devices)]
    col.close()
    tiles = noise_tiles(64)
    files = [(open(out / f"bodies-{t}.bin", "wb"), open(out / f"index-{t}.txt", "w")) for t in range(threads)]
    offsets = [0] * threads
    total = 0
    for i in range(chunks):
        tile = tiles[i % len(tiles)]
        ev = C.jsonl_entry("events.jsonl.gz", "events", [[i * 100 + k, "move", {"x": k, "y": i % 997}]
                                                          for k in range(40)])
        d = f"{random.getrandbits(128):032x}"
        ch = C.encode_chunk({"session": f"{i:032x}", "index": 0, "count": 1, "policy_hash": "none",
                             "event_version": 1, "session_meta": {}},
                            [ev, ({"name": f"tiles/{d}.png", "type": "tile", "format": "png"}, tile)])
        t = i % threads
        body, index = files[t]
        body.write(ch.data)
        index.write(f"{tokens[i % devices]} {ch.sha256} {offsets[t]} {len(ch.data)}\n")
        offsets[t] += len(ch.data)
        total += len(ch.data)
    for b, x in files:
        b.close()
        x.close()
    return total / chunks


def run_wrk(url: str, work: Path, connections: int, threads: int, duration: int) -> dict:
    cmd = ["timeout", str(duration + 60), "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
           "--timeout", "10s", "-s", str(ROOT / "bench" / "fleet_wrk.lua"), url, "--", str(work)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    line = [x for x in r.stdout.splitlines() if x.startswith("WRKJSON ")]
    if not line:
        raise RuntimeError(f"wrk failed: {r.stdout}\n{r.stderr}")
    return json.loads(line[0][8:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", nargs="+", default=["local", "s3pg"])
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--chunks", type=int, default=14000, help="unique chunks prepared per run")
    ap.add_argument("--json", type=Path, help="also write results here")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("bench_fleet: wrk is needed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    run = run_dir("wp-bench-")
    services: dict = {}
    results = []
    try:
        for name in args.backends:
            for workers in args.workers:
                tag = f"{name}-w{workers}"
                data = run / tag
                data.mkdir()
                if name == "s3pg":
                    if "sw" not in services:
                        services["sw"] = SeaweedFS.start(run / "seaweed")
                        (run / "pg").mkdir()
                        services["pg"] = Postgres.start(run / "pg")
                    backend = Backend("s3pg", data / "server", blobs=services["sw"].blobs_url(tag),
                                      db=services["pg"].create_db())
                else:
                    backend = Backend("local", data / "server")
                work = data / "wrk"
                work.mkdir()
                avg = prepare(backend, work, args.devices, args.chunks, threads=2)
                server = LiveServer(backend, data, workers=workers,
                                    extra=["--rate-limit", "100000", "--log-level", "error"]).start()
                try:
                    res = run_wrk(server.url, work, args.devices, 2, args.duration)
                finally:
                    server.stop()
                secs = res["duration_us"] / 1e6
                row = {"backend": name, "workers": workers, "devices": args.devices,
                       "chunk_kb": round(avg / 1024, 1), "created": res["created"],
                       "chunks_s": round(res["created"] / secs, 1),
                       "mb_s": round(res["created"] * avg / secs / 1e6, 1),
                       "chunks_s_per_process": round(res["created"] / secs / workers, 1),
                       "p50_ms": res["p50_ms"], "p99_ms": res["p99_ms"], "max_ms": res["max_ms"],
                       "non_2xx": res["other"], "socket_errors": res["socket_errors"],
                       "repeats": res["exists"]}
                results.append(row)
                print(json.dumps(row), flush=True)
                shutil.rmtree(work, ignore_errors=True)
    finally:
        if "sw" in services:
            services["sw"].stop()
            services["pg"].stop()
        shutil.rmtree(run, ignore_errors=True)
    print(f"\nmachine: {os.cpu_count()} cores; load: wrk, {args.devices} connections, {args.duration} s per run")
    print(f"{'backend':<8}{'procs':>6}{'chunks/s':>10}{'MB/s':>8}{'per proc':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for r in results:
        print(f"{r['backend']:<8}{r['workers']:>6}{r['chunks_s']:>10}{r['mb_s']:>8}{r['chunks_s_per_process']:>10}"
              f"{r['p50_ms']:>9}{r['p99_ms']:>9}{r['non_2xx']:>9}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
