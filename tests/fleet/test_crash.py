"""kill -9 the collector in the middle of many concurrent uploads, restart it, let the
devices retry: every chunk is present exactly once and none is corrupt."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from workprint.server.collector import Collector
from workprint.sync.chunk import parse_chunk

from .helpers import LiveServer, make_chunk

pytestmark = pytest.mark.fleet
DEVICES, PER_DEVICE = 20, 15


def test_kill9_mid_upload_then_retry_gives_exactly_once(backend, tmp_path):
    setup = Collector(backend.config())
    codes = [setup.create_enrolment_code("test", f"p{i}", 3600)["code"] for i in range(DEVICES)]
    devices = [setup.enroll(c, "d") for c in codes]
    setup.close()
    work = [(d["token"], make_chunk(n_events=400, tiles=2)) for d in devices for _ in range(PER_DEVICE)]
    server = LiveServer(backend, tmp_path, workers=2).start()
    done = threading.Event()
    accepted_before_kill = []

    def upload(item):
        token, ch = item
        deadline = time.monotonic() + 90
        with httpx.Client(base_url=server.url, timeout=10) as c:
            while time.monotonic() < deadline:
                try:
                    r = c.put(f"/v1/chunks/{ch.sha256}", content=ch.data, headers={
                        "Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
                    if r.status_code in (200, 201):
                        if not done.is_set():
                            accepted_before_kill.append(ch.sha256)
                        return r.status_code
                    assert r.status_code >= 500 or r.status_code == 429, r.text
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise AssertionError("upload never succeeded")

    try:
        with ThreadPoolExecutor(32) as pool:
            futures = [pool.submit(upload, w) for w in work]
            while len(accepted_before_kill) < len(work) // 3:
                time.sleep(0.01)
            server.kill9()
            done.set()
            killed_at = len(accepted_before_kill)
            time.sleep(0.5)
            server.start()
            results = [f.result() for f in futures]
    finally:
        server.stop()
    assert 0 < killed_at < len(work)
    assert set(results) <= {200, 201}
    check = Collector(backend.config())
    try:
        rows = check.meta.chunks()
        shas = [r.sha256 for r in rows]
        assert len(shas) == len(set(shas)) == len(work)
        assert set(shas) == {ch.sha256 for _, ch in work}
        blob_keys = [k for k, _ in check.blobs.keys()]
        assert sorted(k.rsplit("/", 1)[1] for k in blob_keys) == sorted(shas)
        for sha in shas:
            data = check.blobs.get(f"chunks/{sha[:2]}/{sha}")
            assert hashlib.sha256(data).hexdigest() == sha
            parse_chunk(data)
    finally:
        check.close()
    print(f"\ncrash [{backend.name}]: {len(work)} chunks from {DEVICES} devices, killed after "
          f"{killed_at} accepted; after restart+retry: {len(shas)} present, 0 duplicates, 0 corrupt")
