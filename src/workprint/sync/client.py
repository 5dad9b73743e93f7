"""HTTP client of a device (or an admin) talking to a collector, and the device credential.

The credential is kept in ``<data-dir>/device.json``, created with mode 0600 (the OS keyring
is not used: headless work machines rarely have an unlocked one). It holds the collector URL,
the device token, and the device key under which session ids become pseudonyms - that key
never leaves the device.
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from ..errors import NotEnrolled, SyncError, WorkprintError  # noqa: F401  (re-exported)

CREDENTIAL_NAME = "device.json"


@dataclass
class Credential:
    server: str
    device_id: str
    contributor: str
    token: str
    device_key: str
    cacert: str | None = None
    #: The person's own credential for /v1/me (access, erasure); survives device revocation.
    erase_token: str | None = None
    #: Set once the collector erased this contributor: the device uploads nothing more.
    erased: bool = False

    @classmethod
    def load(cls, data_dir: Path) -> "Credential":
        path = Path(data_dir) / CREDENTIAL_NAME
        if not path.exists():
            raise NotEnrolled(f"this device is not enrolled (no {path}); run `workprint enroll URL CODE` "
                              "with a code from your program owner")
        return cls(**json.loads(path.read_text()))

    def save(self, data_dir: Path) -> Path:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        path = Path(data_dir) / CREDENTIAL_NAME
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f)
        os.replace(tmp, path)
        return path

    @property
    def key(self) -> bytes:
        return bytes.fromhex(self.device_key)


class Client:
    """Thin, typed wrapper over the collector API."""

    def __init__(self, server: str, token: str | None = None, *, cacert: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # --cacert pins the collector's CA: only certificates it issued are trusted.
        verify: Any = ssl.create_default_context(cafile=cacert) if cacert else True
        self.http = httpx.Client(base_url=server.rstrip("/"), headers=headers, verify=verify,
                                 timeout=timeout, transport=transport)

    @classmethod
    def for_device(cls, cred: Credential, **kw: Any) -> "Client":
        return cls(cred.server, cred.token, cacert=cred.cacert, **kw)

    @classmethod
    def for_person(cls, cred: Credential, **kw: Any) -> "Client":
        """For /v1/me: the erasure credential when the device has one (it outlives a revoked
        device token), else the device token."""
        return cls(cred.server, cred.erase_token or cred.token, cacert=cred.cacert, **kw)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            r = self.http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise SyncError(f"cannot reach the collector at {self.http.base_url}: {exc}") from None
        if r.status_code >= 400:
            try:
                reason = r.json().get("error") or r.json().get("detail") or r.text
            except ValueError:
                reason = r.text[:300]
            retry = r.headers.get("Retry-After")
            raise SyncError(f"collector answered {r.status_code}: {reason}", r.status_code,
                            float(retry) if retry and retry.isdigit() else None)
        return r

    # -- device ------------------------------------------------------------------------------
    def enroll(self, code: str, name: str) -> dict[str, Any]:
        return self._call("POST", "/v1/enroll", json={"code": code, "name": name}).json()

    def policy(self) -> dict[str, Any]:
        return self._call("GET", "/v1/policy").json()

    def missing(self, shas: list[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(shas), 1000):
            out += self._call("POST", "/v1/chunks/missing", json={"chunks": shas[i:i + 1000]}).json()["missing"]
        return out

    def put_chunk(self, sha: str, data: bytes) -> str:
        r = self._call("PUT", f"/v1/chunks/{sha}", content=data,
                       headers={"Content-Type": "application/octet-stream"})
        return r.json()["status"]

    def get_chunk(self, sha: str) -> bytes:
        return self._call("GET", f"/v1/chunks/{sha}").content

    def me(self) -> dict[str, Any]:
        return self._call("GET", "/v1/me").json()

    def erase_me(self) -> dict[str, Any]:
        return self._call("DELETE", "/v1/me").json()

    # -- admin -------------------------------------------------------------------------------
    def enrolment_code(self, contributor: str | None, ttl_hours: float) -> dict[str, Any]:
        return self._call("POST", "/v1/admin/enrolment-codes",
                          json={"contributor": contributor, "ttl_hours": ttl_hours}).json()


def enroll_device(data_dir: Path, server: str, code: str, name: str, cacert: str | None = None,
                  transport: httpx.BaseTransport | None = None) -> Credential:
    with Client(server, cacert=cacert, transport=transport) as c:
        got = c.enroll(code, name)
    try:  # keep the device key: the same session must keep the same pseudonym
        key = Credential.load(data_dir).device_key
    except NotEnrolled:
        key = secrets.token_hex(32)
    cred = Credential(server=server.rstrip("/"), device_id=got["device_id"], contributor=got["contributor"],
                      token=got["token"], device_key=key,
                      cacert=str(Path(cacert).resolve()) if cacert else None,
                      erase_token=got.get("erase_token"))
    cred.save(data_dir)
    return cred


def forget_collector(data_dir: Path, cred: Credential) -> int:
    """The collector erased this contributor (or is asked to): empty the outbox, and mark
    the credential erased so nothing is uploaded any more. Returns chunks dropped."""
    from .outbox import Outbox

    from ..store.session import DataDir

    outbox = Outbox(data_dir)
    try:
        dropped = outbox.purge(DataDir(data_dir).session_ids())
    finally:
        outbox.close()
    cred.erased, cred.token, cred.erase_token = True, "", None
    cred.save(data_dir)
    return dropped
