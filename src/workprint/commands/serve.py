"""``workprint serve``: run the collector that enrolled devices upload to."""

from __future__ import annotations

import argparse

from ._common import add_data_dir, data_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the collector (receives sealed chunks from devices)",
                       description="Run the collector API. Embedded default: blobs in <data-dir>/collector/blobs, "
                                   "metadata in SQLite. At scale: --blobs s3://bucket?endpoint=URL and "
                                   "--db postgresql://user:pass@host/db. OpenAPI spec at /openapi.json.")
    add_data_dir(p)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8750)
    p.add_argument("--blobs", metavar="URL", help="dir:/path or s3://bucket[/prefix]?endpoint=http://host:port")
    p.add_argument("--db", metavar="URL", help="sqlite:/path or postgresql://user:pass@host:port/db")
    p.add_argument("--certfile", help="TLS certificate (PEM); serve HTTPS")
    p.add_argument("--keyfile", help="TLS private key (PEM)")
    p.add_argument("--workers", type=int, default=1, help="collector processes (default 1)")
    p.add_argument("--max-chunk-mb", type=float, default=16, help="largest chunk accepted (default 16)")
    p.add_argument("--rate-limit", type=float, default=200, help="requests/s per device (default 200)")
    p.add_argument("--retention-days", type=float, help="delete chunks older than this (scheduled)")
    p.add_argument("--quota-gb", type=float, help="keep total chunk bytes under this (oldest go first)")
    p.add_argument("--retention-every-min", type=float, default=60)
    p.add_argument("--header-timeout", type=float, default=10, metavar="S",
                   help="seconds a client has to send a request's line and headers (default 10; else 408)")
    p.add_argument("--body-timeout", type=float, default=20, metavar="S",
                   help="seconds a request body may pause; slower than 2 KiB/s on average after that is "
                        "cut off too (default 20; 408)")
    p.add_argument("--max-connections", type=int, default=8192,
                   help="open connections per process; beyond, the oldest idle one is closed (default 8192)")
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..server.config import CollectorConfig
    from ..server.guard import ConnectionLimits
    from ..server.run import serve
    from ..sync.chunk import Limits

    if bool(args.certfile) != bool(args.keyfile):
        print("workprint serve: give both --certfile and --keyfile for TLS")
        return 2
    cfg = CollectorConfig.load(data_dir(args), args.blobs, args.db)
    cfg.limits = Limits(max_chunk_bytes=int(args.max_chunk_mb * 1024 * 1024))
    cfg.rate_per_s, cfg.rate_burst = args.rate_limit, max(1, int(args.rate_limit * 2))
    retention = {"max_age_days": args.retention_days,
                 "quota_bytes": int(args.quota_gb * 1e9) if args.quota_gb else None,
                 "every_s": args.retention_every_min * 60}
    return serve(cfg, host=args.host, port=args.port, workers=args.workers, certfile=args.certfile,
                 keyfile=args.keyfile, retention=retention, log_level=args.log_level,
                 connections=ConnectionLimits(header_timeout_s=args.header_timeout, body_idle_s=args.body_timeout,
                                              max_connections=args.max_connections))
