"""Collector configuration: where blobs and metadata live, chosen by URL.

* blobs: ``dir:/path`` (or a plain path) | ``s3://[KEY:SECRET@]bucket[/prefix]?endpoint=URL&region=R``
  (plain S3, path-style addressing, so AWS S3, MinIO, Ceph and SeaweedFS all work; without
  KEY:SECRET the usual AWS environment variables / config files are used)
* db: ``sqlite:/path/meta.db`` (or a plain path) | ``postgresql://user:pass@host:port/db``

Defaults keep everything in ``<data-dir>/collector/``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..sync.chunk import Limits
from .errors import ConfigError

CONFIG_NAME = "config.json"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    create: bool = False
    lock_days: float | None = None    # audit anchors under S3 Object Lock (COMPLIANCE) this long


def parse_s3_url(url: str) -> S3Location:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.hostname:
        raise ConfigError(f"--blobs {url!r}: expected s3://bucket[/prefix]?endpoint=http://host:port")
    q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(q) - {"endpoint", "region", "create", "lock_days"}
    if unknown:
        raise ConfigError(f"--blobs: unknown option(s) {sorted(unknown)}; known: endpoint, region, create, "
                          f"lock_days")
    lock_days = None
    if "lock_days" in q:
        try:
            lock_days = float(q["lock_days"])
        except ValueError:
            lock_days = -1.0
        if not 0 < lock_days <= 36500:
            raise ConfigError("--blobs: lock_days is how long each audit anchor stays locked (days, "
                              "more than 0, e.g. lock_days=400)")
    # urlsplit lowercases hostname; bucket names are lowercase anyway.
    return S3Location(
        bucket=parts.hostname, prefix=parts.path.strip("/"), endpoint=q.get("endpoint"),
        region=q.get("region", "us-east-1"),
        access_key=unquote(parts.username) if parts.username else None,
        secret_key=unquote(parts.password) if parts.password else None,
        create=q.get("create", "0") in ("1", "true", "yes"), lock_days=lock_days)


@dataclass
class CollectorConfig:
    data_dir: Path
    blobs: str | None = None
    db: str | None = None
    limits: Limits = field(default_factory=Limits)
    rate_per_s: float = 200.0          # sustained requests per second per device token
    rate_burst: int = 400
    max_json_bytes: int = 1024 * 1024
    token_cache_s: float = 2.0         # revocation takes effect within this time
    max_uploads_per_device: int = 8    # uploads one device may have in flight in one process
    k_anonymity: int = 10
    #: Days within which a dataset version holding an erased person must be rebuilt
    #: without them (``workprint build --rebuild``); erasure answers say when.
    dataset_rebuild_days: float = 30.0
    #: What `build --rebuild` leaves of a version that held an erased person: nothing
    #: (``delete``) or a ``TOMBSTONE.json`` saying it existed and was withdrawn (``tombstone``).
    dataset_withdrawal: str = "delete"

    @property
    def root(self) -> Path:
        return Path(self.data_dir) / "collector"

    @property
    def blobs_url(self) -> str:
        return self.blobs or f"dir:{self.root / 'blobs'}"

    @property
    def db_url(self) -> str:
        return self.db or f"sqlite:{self.root / 'meta.db'}"

    def save(self) -> None:
        """Remember the backend URLs so ``workprint admin --data-dir D`` finds them (0600)."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / CONFIG_NAME
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"blobs": self.blobs, "db": self.db}, f)

    @classmethod
    def load(cls, data_dir: Path, blobs: str | None = None, db: str | None = None) -> "CollectorConfig":
        path = Path(data_dir) / "collector" / CONFIG_NAME
        saved = json.loads(path.read_text()) if path.exists() else {}
        return cls(data_dir=Path(data_dir), blobs=blobs or saved.get("blobs"), db=db or saved.get("db"))

    def describe(self) -> dict[str, str]:
        """URLs with any password hidden (for logs)."""
        def hide(u: str) -> str:
            p = urlsplit(u)
            if p.password:
                return u.replace(f":{p.password}@", ":***@")
            return u
        return {"blobs": hide(self.blobs_url), "db": hide(self.db_url),
                "limits": json.dumps(asdict(self.limits))}
