"""Test helpers: an in-process collector with a TestClient, devices, and chunk makers."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from workprint.server.app import create_app
from workprint.server.collector import Collector
from workprint.sync import chunk as C

from .services import free_port, wait_for


def make_chunk(session: str | None = None, index: int = 0, count: int = 1, *, n_events: int = 20,
               policy: str = "none", tiles: int = 0, seed: int | None = None) -> C.Chunk:
    """A valid chunk with ``n_events`` move events and ``tiles`` small PNG tiles."""
    from PIL import Image

    session = session or secrets.token_hex(16)
    seed = secrets.randbits(32) if seed is None else seed
    events = [[seed + i, "move", {"x": i, "y": seed % 1000}] for i in range(n_events)]
    entries = [C.jsonl_entry("events.jsonl.gz", "events", events)]
    frame_digests = []
    for t in range(tiles):
        img = Image.frombytes("RGB", (32, 32), hashlib.sha256(f"{seed}-{t}".encode()).digest() * 96)
        buf = io.BytesIO()
        img.save(buf, "PNG")
        d = hashlib.blake2b(buf.getvalue(), digest_size=16).hexdigest()
        frame_digests.append(d)
        entries.append(({"name": f"tiles/{d}.png", "type": "tile", "format": "png"}, buf.getvalue()))
    if tiles:
        entries.insert(1, C.jsonl_entry("frames.jsonl.gz", "frames",
                                        [[seed, "f" * 32, "start", 32 * tiles, 32, 32, frame_digests]]))
    return C.encode_chunk({"session": session, "index": index, "count": count, "policy_hash": policy,
                           "event_version": 1, "session_meta": {"state": "complete"}}, entries)


def raw_chunk(manifest: dict[str, Any], payload: bytes) -> bytes:
    """A chunk with a hand-made manifest (for malicious-input tests)."""
    import struct

    head = json.dumps(manifest).encode()
    return C.MAGIC + struct.pack(">I", len(head)) + head + payload


@dataclass
class Device:
    device_id: str
    token: str
    contributor: str
    erase_token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Fleet:
    """A collector on one backend, driven in-process through a TestClient."""

    def __init__(self, backend, collector: Collector):
        self.backend, self.collector = backend, collector
        self.client = TestClient(create_app(collector), raise_server_exceptions=False)
        self.tokens = {r: collector.mint_token(r) for r in ("admin", "curator", "auditor")}

    @classmethod
    def start(cls, backend, **kw) -> "Fleet":
        kw.setdefault("token_cache_s", 0.0)
        return cls(backend, Collector(backend.config(**kw)))

    def close(self) -> None:
        self.client.close()
        self.collector.close()

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def enroll(self, label: str | None = None, name: str = "laptop") -> Device:
        r = self.client.post("/v1/admin/enrolment-codes", json={"contributor": label}, headers=self.h("admin"))
        assert r.status_code == 200, r.text
        r = self.client.post("/v1/enroll", json={"code": r.json()["code"], "name": name})
        assert r.status_code == 200, r.text
        return Device(**r.json())

    def put(self, dev: Device, data: bytes, sha: str | None = None) -> httpx.Response:
        sha = sha or hashlib.sha256(data).hexdigest()
        return self.client.put(f"/v1/chunks/{sha}", content=data,
                               headers={**dev.headers, "Content-Type": "application/octet-stream"})

    def stored_blobs(self) -> list[str]:
        return [k for k, _ in self.collector.blobs.keys()]


class LiveServer:
    """``workprint serve`` in a subprocess (real uvicorn)."""

    def __init__(self, backend, tmp: Path, *, workers: int = 1, extra: list[str] | None = None,
                 scheme: str = "http"):
        self.backend, self.tmp, self.workers = backend, tmp, workers
        self.extra = extra or []
        self.port = free_port()
        self.scheme = scheme
        self.proc: subprocess.Popen | None = None
        self.log = tmp / f"serve-{self.port}.log"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "LiveServer":
        cmd = [sys.executable, "-m", "workprint.cli", "serve", *self.backend.cli_args(),
               "--port", str(self.port), "--workers", str(self.workers), *self.extra]
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                return httpx.get(f"{self.url}/v1/health", timeout=1, verify=False).status_code == 200
            except httpx.HTTPError:
                return False
        wait_for(up, timeout, "workprint serve", self.log)
        return self

    def kill9(self) -> None:
        """SIGKILL the whole process group (uvicorn and its workers)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def cli(*args: str, check: bool = True, input: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "workprint.cli", *args], capture_output=True, text=True,
                       timeout=120, input=input, env={**os.environ, **env} if env else None)
    if check and r.returncode != 0:
        raise AssertionError(f"workprint {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def wait_until(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
