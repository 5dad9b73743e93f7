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


class IdleLoad:
    """``n`` connections held open during a run, half of them idle (nothing sent), half
    half-open (a request line and one header, never finished), plus a probe that asks
    ``/v1/health`` every 0.2 s and keeps the slowest answer. Connections the collector
    closes (header timeout) are opened again, so ``n`` stay open throughout."""

    def __init__(self, port: int, n: int):
        import socket
        import threading

        self.port, self.n, self.socket = port, n, socket
        self.socks: list = []
        self.stop = threading.Event()
        self.health_ms: list[float] = []
        self.health_errors = 0
        self.reopened = 0
        self.threads = [threading.Thread(target=self._probe, daemon=True),
                        threading.Thread(target=self._keep, daemon=True)]

    def _open(self, i: int):
        s = self.socket.create_connection(("127.0.0.1", self.port), timeout=10)
        if i % 2:
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: bench\r\n")
        return s

    def __enter__(self) -> "IdleLoad":
        self.socks = [self._open(i) for i in range(self.n)]
        for t in self.threads:
            t.start()
        return self

    def _keep(self) -> None:
        import selectors

        sel = selectors.DefaultSelector()          # epoll: thousands of descriptors
        for i, s in enumerate(self.socks):
            sel.register(s, selectors.EVENT_READ, i)
        while not self.stop.is_set():
            for key, _ in sel.select(0.5):
                i = key.data
                sel.unregister(key.fileobj)
                key.fileobj.close()
                try:
                    self.socks[i] = self._open(i)
                    sel.register(self.socks[i], selectors.EVENT_READ, i)
                    self.reopened += 1
                except OSError:
                    pass
        sel.close()

    def _probe(self) -> None:
        import httpx

        with httpx.Client(timeout=10) as c:
            while not self.stop.wait(0.2):
                t0 = time.monotonic()
                try:
                    ok = c.get(f"http://127.0.0.1:{self.port}/v1/health").status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    self.health_ms.append((time.monotonic() - t0) * 1000)
                else:
                    self.health_errors += 1

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)
        for s in self.socks:
            s.close()


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
    ap.add_argument("--idle", type=int, default=0,
                    help="also hold this many idle/half-open connections open during each run and "
                         "probe /v1/health (e.g. 2000)")
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
                idle = None
                try:
                    if args.idle:
                        with IdleLoad(server.port, args.idle) as idle:
                            res = run_wrk(server.url, work, args.devices, 2, args.duration)
                    else:
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
                       "repeats": res["exists"], "idle_connections": args.idle}
                if idle is not None:
                    row.update(health_probes=len(idle.health_ms), health_errors=idle.health_errors,
                               health_max_ms=round(max(idle.health_ms, default=0), 1),
                               idle_reopened=idle.reopened)
                results.append(row)
                print(json.dumps(row), flush=True)
                shutil.rmtree(work, ignore_errors=True)
    finally:
        if "sw" in services:
            services["sw"].stop()
            services["pg"].stop()
        shutil.rmtree(run, ignore_errors=True)
    print(f"\nmachine: {os.cpu_count()} cores; load: wrk, {args.devices} connections, {args.duration} s per run")
    print(f"{'backend':<8}{'procs':>6}{'idle':>6}{'chunks/s':>10}{'MB/s':>8}{'per proc':>10}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'non-2xx':>9}{'health max ms':>15}{'health err':>11}")
    for r in results:
        print(f"{r['backend']:<8}{r['workers']:>6}{r['idle_connections']:>6}{r['chunks_s']:>10}{r['mb_s']:>8}"
              f"{r['chunks_s_per_process']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['non_2xx']:>9}"
              f"{r.get('health_max_ms', '-'):>15}{r.get('health_errors', '-'):>11}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
