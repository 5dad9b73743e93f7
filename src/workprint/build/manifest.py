"""``manifest.json``: what a dataset version is, how it was made, and what it holds.

Pure functions. The manifest names the dataset and version, when it was created, the code
that built it (workprint, export and event versions) and the code behind its data (chunk
format versions, the workprint versions that recorded and sealed the sessions, as their
chunks say), the policy versions, the filters, the engine, aggregate counts, every
file with its sha256, and for every session its pseudonym and chunk digests - never a
contributor id or label, and no per-session counts (they would be activity figures).

Identity: ``content_digest`` is the sha256 over the sorted (path, sha256, size) of every
file except ``manifest.json`` itself and ``aguvis.yaml`` (which names the dataset's folder by
absolute path). Two builds of the same input and filters have the same ``content_digest``
on any engine and worker count. ``created`` is the build's wall time, or the time in
``$SOURCE_DATE_EPOCH`` (reproducible builds' convention) when set.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

FORMAT = "workprint-dataset"
VERSION = 1
NAME = "manifest.json"
#: Files a dataset's identity does not cover (see the module docstring).
NOT_CONTENT = frozenset({NAME, "aguvis.yaml"})


def created_time(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    raw = env.get("SOURCE_DATE_EPOCH", "").strip()
    ts = int(raw) if raw.isdigit() else time.time()
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def file_entries(root: Path) -> list[dict[str, Any]]:
    """Every file under ``root`` but the manifest: relative path, size, sha256; sorted."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.relative_to(root).as_posix() != NAME:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out.append({"path": p.relative_to(root).as_posix(), "size": p.stat().st_size,
                        "sha256": h.hexdigest()})
    return out


def content_digest(files: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f["path"]):
        if f["path"] not in NOT_CONTENT:
            h.update(f"{f['path']}\0{f['sha256']}\0{f['size']}\n".encode())
    return h.hexdigest()


def make_manifest(*, dataset: str, version: int, created: str, fmt: str, image_format: str,
                  engine: dict[str, Any], filters: dict[str, Any], counts: dict[str, Any],
                  policies: list[str], files: list[dict[str, Any]],
                  sessions: list[tuple[str, list[str]]], shard_bounds: dict[str, int],
                  data_code: dict[str, list] | None = None) -> dict[str, Any]:
    """``data_code``: what the kept sessions' chunks say about the code behind them
    (``chunk_versions``, ``recorded_by``, ``sealed_by``); the build's own versions beside it."""
    from .. import __version__
    from ..events import EVENT_VERSION
    from ..export.common import EXPORT_VERSION

    return {
        "format": FORMAT, "manifest_version": VERSION,
        "dataset": dataset, "version": version, "id": f"{dataset}@v{version}", "created": created,
        "content_digest": content_digest(files),
        "data_format": fmt, "image_format": image_format,
        "code": {"workprint": __version__, "export_version": EXPORT_VERSION,
                 "event_version": EVENT_VERSION, **(data_code or {})},
        # Redaction runs at the source under the recording policy: the policy hash is the
        # version of the scope and redaction rules every session went through.
        "policy": {"hashes": sorted(policies), "redaction": "at the source, under these policies"},
        "engine": engine, "filters": filters, "shards": shard_bounds, "counts": counts,
        "files": files,
        "sessions": [{"pseudonym": s, "chunks": list(c)} for s, c in sessions],
    }


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
