"""Running the collector under uvicorn: one or more worker processes, optional TLS, and a
scheduled retention job."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import sys
import threading
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..sync.chunk import Limits
from .app import create_app
from .collector import Collector
from .config import CollectorConfig
from .guard import ConnectionLimits, GuardedHttpProtocol

ENV = "WORKPRINT_COLLECTOR"
log = logging.getLogger("workprint.collector")


def _retention_loop(collector: Collector, stop: threading.Event, every_s: float,
                    max_age_days: float | None, quota_bytes: int | None) -> None:
    while not stop.wait(every_s):
        try:
            collector.retention("scheduler:retention", max_age_days, quota_bytes)
        except Exception as exc:  # keep serving; the next run retries
            log.warning("retention run failed: %s", exc)


def app_from_env():
    """uvicorn factory: rebuilds the collector in each worker from ``$WORKPRINT_COLLECTOR``."""
    spec: dict[str, Any] = json.loads(os.environ[ENV])
    cfg = CollectorConfig(data_dir=Path(spec["data_dir"]), blobs=spec.get("blobs"), db=spec.get("db"),
                          limits=Limits(**spec.get("limits", {})), rate_per_s=spec.get("rate_per_s", 200.0),
                          rate_burst=spec.get("rate_burst", 400), token_cache_s=spec.get("token_cache_s", 2.0))
    GuardedHttpProtocol.limits = ConnectionLimits(**spec.get("connections", {}))
    collector = Collector(cfg)
    app = create_app(collector)
    stop = threading.Event()
    ret = spec.get("retention") or {}

    @asynccontextmanager
    async def lifespan(_app):
        thread = None
        if ret.get("max_age_days") is not None or ret.get("quota_bytes") is not None:
            thread = threading.Thread(target=_retention_loop, daemon=True, name="retention", args=(
                collector, stop, ret.get("every_s", 3600), ret.get("max_age_days"), ret.get("quota_bytes")))
            thread.start()
        yield
        stop.set()
        collector.close()

    app.router.lifespan_context = lifespan
    return app


def serve(cfg: CollectorConfig, *, host: str, port: int, workers: int = 1, certfile: str | None = None,
          keyfile: str | None = None, retention: dict[str, Any] | None = None, log_level: str = "info",
          connections: ConnectionLimits | None = None) -> int:
    import uvicorn

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not certfile:
        print(f"workprint: warning: serving on {host} without TLS; pass --certfile/--keyfile",
              file=sys.stderr)
    # Open once in the parent: creates schema/bucket checks early with a clear error.
    Collector(cfg).close()
    cfg.save()
    os.environ[ENV] = json.dumps({
        "data_dir": str(cfg.data_dir), "blobs": cfg.blobs, "db": cfg.db, "limits": asdict(cfg.limits),
        "rate_per_s": cfg.rate_per_s, "rate_burst": cfg.rate_burst, "token_cache_s": cfg.token_cache_s,
        "retention": retention or {}, "connections": (connections or ConnectionLimits()).to_dict()})
    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    where = cfg.describe()
    print(f"workprint serve: collector at {scheme}://{shown}:{port} (blobs {where['blobs']}, "
          f"metadata {where['db']}, {workers} worker(s)); API spec at /openapi.json; Ctrl+C stops it",
          flush=True)
    uvicorn.run("workprint.server.run:app_from_env", factory=True, host=host, port=port, workers=workers,
                ssl_certfile=certfile, ssl_keyfile=keyfile, log_level=log_level, access_log=False,
                timeout_graceful_shutdown=5, backlog=4096,
                # header/body deadlines, header size, request and connection caps: see guard.py
                http="workprint.server.guard:GuardedHttpProtocol")
    return 0
