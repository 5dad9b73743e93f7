"""Where a dataset's versions go: a folder (``--out DIR``) or S3 (``--out s3://bucket/prefix``).

Both speak a few verbs over keys relative to the dataset's root (``v0001/images/<sha>.jpg``),
so the build's stages write images, staged trajectories and shards the same way wherever
they run - a Ray worker on another machine writes straight to S3. The S3 output uses the
client settings of the collector's S3 blob store (:func:`~workprint.server.blobs.s3_client`);
an ``s3://`` URL without ``endpoint``, ``region`` or credentials takes them from the
collector's ``--blobs`` URL when that is S3 (else boto3's usual environment and files).

A version's *location* as the registry keeps it names no credentials: a folder path, or
``s3://bucket/prefix/v0001`` (plus ``?endpoint=...&region=...`` when the URL gave them).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, urlencode, urlsplit

from ..errors import BuildError

_OPEN: dict[str, "DirOutput | S3Output"] = {}


class DirOutput:
    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser().resolve()
        self.spec = self.url = str(self.root)

    def location(self, key: str) -> str:
        return str(self.root / key)

    def put(self, key: str, data: bytes) -> None:
        """Written whole (temp + rename)."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def put_once(self, key: str, data: bytes) -> None:
        """A content-addressed object: written unless already there."""
        if not (self.root / key).exists():
            self.put(key, data)

    def get(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    @contextmanager
    def writable(self, key: str) -> Iterator[Path]:
        """A local file path to write ``key`` through (here: the file itself)."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        yield path

    def keys(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.root / prefix, ignore_errors=True)


class S3Output:
    def __init__(self, url: str, blobs_url: str | None = None):
        from ..server.blobs import s3_client
        from ..server.config import parse_s3_url
        from ..server.errors import ConfigError

        try:
            loc = parse_s3_url(url)
        except ConfigError as exc:
            raise BuildError(str(exc).replace("--blobs", "--out")) from None
        query = urlsplit(url).query
        if blobs_url and blobs_url.startswith("s3://"):
            b = parse_s3_url(blobs_url)
            loc = replace(loc, endpoint=loc.endpoint or b.endpoint,
                          region=loc.region if "region=" in query else b.region,
                          access_key=loc.access_key or b.access_key,
                          secret_key=loc.secret_key or b.secret_key)
        self.bucket, self.prefix = loc.bucket, loc.prefix.strip("/")
        q = urlencode({k: v for k, v in (("endpoint", loc.endpoint), ("region", loc.region)) if v})
        path = f"{self.bucket}/{self.prefix}".rstrip("/")
        self.url = f"s3://{path}?{q}"
        cred = (f"{quote(loc.access_key, safe='')}:{quote(loc.secret_key or '', safe='')}@"
                if loc.access_key else "")
        self.spec = f"s3://{cred}{path}?{q}"            # for workers; never stored or printed
        self.client = s3_client(loc)
        from botocore.exceptions import ClientError

        self._client_error = ClientError
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            raise BuildError(f"S3 bucket {self.bucket!r} at {loc.endpoint or 'AWS'} is not usable for "
                             f"--out: {exc.response.get('Error', {}).get('Code') or exc}") from None
        try:
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        except ClientError:
            status = None                  # a store without versioning keeps no old versions
        self.versioned = status in ("Enabled", "Suspended")

    def _k(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def location(self, key: str) -> str:
        base, _, q = self.url.partition("?")
        return f"{base}/{key}" + (f"?{q}" if q else "")

    def put(self, key: str, data: bytes) -> None:
        import base64
        import hashlib

        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()   # S3 verifies the body
        self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data, ContentMD5=md5)

    put_once = put          # content-addressed: a second PUT writes the same bytes

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._k(key))["Body"].read()
        except self._client_error as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise KeyError(key) from None
            raise

    @contextmanager
    def writable(self, key: str) -> Iterator[Path]:
        """A local temp file; uploaded to ``key`` when the block ends without error."""
        fd, tmp = tempfile.mkstemp(prefix="wp-shard-")
        os.close(fd)
        try:
            yield Path(tmp)
            self.client.upload_file(tmp, self.bucket, self._k(key))
        finally:
            os.unlink(tmp)

    def keys(self, prefix: str) -> list[str]:
        out = []
        cut = len(self._k(""))
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                          Prefix=self._k(prefix)):
            out.extend(o["Key"][cut:] for o in page.get("Contents", []))
        return sorted(out)

    def delete_prefix(self, prefix: str) -> None:
        """Every object under ``prefix``; in a versioned bucket every version of each (a
        delete marker alone would leave the bytes behind)."""
        full = self._k(prefix)
        batch: list[dict] = []

        def flush():
            if batch:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": list(batch), "Quiet": True})
                batch.clear()
        if self.versioned:
            pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=full)
            for page in pages:
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    batch.append({"Key": v["Key"], "VersionId": v["VersionId"]})
                    if len(batch) == 1000:
                        flush()
        else:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                for o in page.get("Contents", []):
                    batch.append({"Key": o["Key"]})
                    if len(batch) == 1000:
                        flush()
        flush()


def open_output(out: str | Path, blobs_url: str | None = None) -> DirOutput | S3Output:
    """The output at ``out`` (a folder, or an ``s3://`` URL); one per worker process."""
    key = f"{out}\0{blobs_url}"
    got = _OPEN.get(key)
    if got is None:
        s = str(out)
        got = _OPEN[key] = S3Output(s, blobs_url) if s.startswith("s3://") else DirOutput(s)
    return got


def split_location(location: str) -> tuple[str, str]:
    """A registered version's location -> (the dataset root as an ``--out`` value, the
    version's key prefix), e.g. ``s3://b/p/v0002?endpoint=E`` -> (``s3://b/p?endpoint=E``, ``v0002``)."""
    base, sep, q = location.partition("?")
    root, _, vdir = base.rstrip("/").rpartition("/")
    return root + (f"?{q}" if sep else ""), vdir
