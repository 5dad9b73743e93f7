"""HTTP API of the collector (FastAPI). Thin: each route authenticates, then calls
:class:`~workprint.server.collector.Collector`. Errors come back as ``{"error": reason}``."""


import tempfile
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect

from .. import __version__ as VERSION
from .auth import Principal
from .collector import Collector
from .errors import BadRequest, CollectorError, TooLarge, TooManyRequests

SHA = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="sha256 of the chunk bytes")]
#: Bytes of one unfinished upload kept in memory; the rest is spooled to an unnamed temp file.
SPOOL_MEMORY = 256 * 1024
_bearer = HTTPBearer(auto_error=False, description="Device credential (from `workprint enroll`) "
                     "or a role token (from `workprint admin token`).")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrollIn(_Model):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(default="device", max_length=100)


class EnrollOut(_Model):
    device_id: str
    token: str
    contributor: str
    erase_token: str = Field(description="the person's own credential for GET/DELETE /v1/me; it "
                                         "survives revocation of the device")


class MissingIn(_Model):
    chunks: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(max_length=1000)


class MissingOut(_Model):
    missing: list[str]


class UploadOut(_Model):
    sha256: str
    status: str


class CodeIn(_Model):
    contributor: str | None = Field(default=None, max_length=200,
                                    description="label of the person (e.g. employee number); stored only as a keyed pseudonym")
    ttl_hours: float = Field(default=72, ge=0.02, le=720)


class CodeOut(_Model):
    code: str
    expires: float
    contributor: str = Field(description="stable contributor id (for erasure requests)")


class PolicyIn(_Model):
    policy: str = Field(min_length=1, max_length=512 * 1024)


class PolicyOut(_Model):
    hash: str
    policy: str | None = None


class RetentionIn(_Model):
    max_age_days: float | None = Field(default=None, ge=0, le=36500)
    quota_bytes: int | None = Field(default=None, ge=0)


class DatasetDue(_Model):
    dataset: str
    version: int
    rebuild_due: str = Field(description="UTC time by which `workprint build --rebuild` must "
                                         "replace this version with one without the person")


class ErasureOut(_Model):
    contributor: str
    deleted_chunks: int
    datasets: list[DatasetDue] = Field(default_factory=list, description=(
        "dataset versions that held the person's sessions; each is rebuilt without them "
        "and its objects deleted by the due time"))


def _limit_body(collector: Collector):
    """ASGI middleware: refuse declared bodies over the limit before reading them."""
    limits = collector.config

    def wrap(app):
        async def middleware(scope, receive, send):
            if scope["type"] == "http":
                limit = limits.limits.max_chunk_bytes if scope["path"].startswith("/v1/chunks/") \
                    else limits.max_json_bytes
                length = dict(scope["headers"]).get(b"content-length")
                if length is not None and (not length.isdigit() or int(length) > limit):
                    resp = JSONResponse({"error": f"request body over the limit of {limit} bytes"}, 413)
                    return await resp(scope, receive, send)
                seen = 0

                async def counting_receive():
                    nonlocal seen
                    message = await receive()
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        raise TooLarge(f"request body over the limit of {limit} bytes")
                    return message
                return await app(scope, counting_receive, send)
            return await app(scope, receive, send)
        return middleware
    return wrap


def create_app(collector: Collector) -> FastAPI:
    app = FastAPI(
        title="workprint collector", version=VERSION,
        description="Receives sealed, pseudonymous session chunks from enrolled devices. The data "
                    "serves AI training only: no endpoint computes per-person productivity, activity "
                    "or idle time. Every read of contributor data, export and deletion is audited.")
    app.state.collector = collector
    app.add_middleware(_MiddlewareShim, factory=_limit_body(collector))

    @app.exception_handler(CollectorError)
    async def _collector_error(request: Request, exc: CollectorError) -> JSONResponse:
        headers = {"Retry-After": f"{max(1, round(exc.retry_after))}"} if isinstance(exc, TooManyRequests) else None
        return JSONResponse({"error": str(exc)}, exc.status, headers=headers)

    def role(*roles: str):
        async def dep(cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
            header = f"Bearer {cred.credentials}" if cred else None
            return collector.authenticate(header, roles)   # cached token lookup: no thread hop
        return dep

    Contributor = Annotated[Principal, Depends(role("contributor"))]
    Curator = Annotated[Principal, Depends(role("curator"))]
    Admin = Annotated[Principal, Depends(role("admin"))]
    Auditor = Annotated[Principal, Depends(role("auditor"))]
    Reader = Annotated[Principal, Depends(role("contributor", "curator"))]
    Person = Annotated[Principal, Depends(role("contributor", "self"))]
    Anyone = Annotated[Principal, Depends(role("contributor", "curator", "admin", "auditor"))]
    errors: dict[int | str, dict[str, Any]] = {
        c: {"description": d, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"error": {"type": "string"}}}}}}
        for c, d in [(400, "bad request"), (401, "no or unknown token"), (403, "role not allowed"),
                     (404, "not found"), (409, "conflict"), (410, "erased: empty the outbox"),
                     (413, "too large"), (422, "refused"),
                     (429, "rate limited")]}

    @app.get("/v1/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness only (no data)."""
        return {"status": "ok", "version": VERSION}

    @app.post("/v1/enroll", tags=["devices"], responses=errors)
    def enroll(body: EnrollIn, request: Request) -> EnrollOut:
        """Exchange a one-time enrolment code for a device credential."""
        collector.enrol_rate.check("enroll:" + (request.client.host if request.client else "?"))
        return EnrollOut(**collector.enroll(body.code, body.name))

    @app.get("/v1/policy", tags=["devices"], responses=errors)
    def get_policy(p: Anyone) -> PolicyOut:
        """The current recording policy (distributed to devices)."""
        current = collector.meta.current_policy()
        return PolicyOut(hash=current[0], policy=current[1]) if current else PolicyOut(hash="none")

    @app.post("/v1/chunks/missing", tags=["upload"], responses=errors)
    def missing(body: MissingIn, p: Contributor) -> MissingOut:
        """Which of these chunks the collector does not hold yet (to resume uploads)."""
        return MissingOut(missing=collector.missing(p, body.chunks))

    @app.put("/v1/chunks/{sha256}", tags=["upload"], status_code=201, responses={
        **errors, 200: {"description": "already stored (idempotent retry)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UploadOut"}}}}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}}}})
    async def put_chunk(sha256: SHA, request: Request, p: Contributor) -> Any:
        """Upload one sealed chunk. Verified completely before it is stored; a retry of
        a stored chunk answers 200 and stores nothing twice."""
        ctype = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
        if ctype != "application/octet-stream":
            raise BadRequest("send the chunk as application/octet-stream")
        dev, cap = p.device_id or p.token_hash, collector.config.max_uploads_per_device
        if collector.uploads_in_flight.get(dev, 0) >= cap:   # before a byte of the body is read
            raise TooManyRequests(f"this device already has {cap} uploads in flight; send one "
                                  "after another", retry_after=1)
        collector.uploads_in_flight[dev] = collector.uploads_in_flight.get(dev, 0) + 1
        try:
            # Streamed: at most SPOOL_MEMORY bytes of an unfinished upload stay in memory, the
            # rest waits in an unnamed temp file; the limit is enforced as bytes arrive.
            limit = collector.limits.max_chunk_bytes
            with tempfile.SpooledTemporaryFile(SPOOL_MEMORY, dir=collector.spool_dir) as spool:
                size = 0
                try:
                    async for part in request.stream():
                        size += len(part)
                        if size > limit:
                            raise TooLarge(f"chunk is larger than {limit} bytes; seal smaller chunks "
                                           f"(`workprint sync` does)")
                        spool.write(part)
                except ClientDisconnect:
                    return Response(status_code=400)   # nobody is listening any more
                spool.seek(0)
                data = spool.read()
            status = await collector.accept_chunk_async(p, sha256, data)
        finally:
            left = collector.uploads_in_flight[dev] - 1
            if left:
                collector.uploads_in_flight[dev] = left
            else:
                del collector.uploads_in_flight[dev]
        return JSONResponse({"sha256": sha256, "status": status}, 201 if status == "created" else 200)

    @app.get("/v1/chunks/{sha256}", tags=["read"], response_class=Response, responses={
        **errors, 200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    def get_chunk(sha256: SHA, p: Reader) -> Response:
        """Download a chunk (curators: any; contributors: their own). Audited."""
        return Response(collector.download(p, sha256), media_type="application/octet-stream")

    @app.get("/v1/me", tags=["contributor"], responses=errors)
    def me(p: Person) -> dict[str, Any]:
        """Everything stored about the caller (access / portability request). Audited."""
        return collector.my_data(p)

    @app.delete("/v1/me", tags=["contributor"], responses=errors)
    def erase_me(p: Person) -> ErasureOut:
        """Erase all of the caller's data from the collector (erasure request). Works with
        the device token or the erasure credential from enrolment (which survives device
        revocation). Revokes every device of the caller; their tokens then answer 410. Audited."""
        return ErasureOut(**collector.erase(p, p.contributor or ""))

    @app.get("/v1/sessions", tags=["read"], responses=errors)
    def sessions(p: Curator) -> list[dict[str, Any]]:
        """Pseudonymous sessions for dataset builds (no contributor, no times). Audited."""
        return collector.curator_sessions(p)

    @app.get("/v1/sessions/{session}/chunks", tags=["read"], responses=errors)
    def session_chunks(session: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], p: Curator) -> list[dict[str, Any]]:
        """The chunks of one session. Audited."""
        return collector.session_chunks(p, session)

    @app.get("/v1/erasures", tags=["read"], responses=errors)
    def erasures(p: Curator, since: Annotated[float, Query(ge=0, le=1e11)] = 0) -> list[dict[str, Any]]:
        """Sessions erased since a time: dataset builds must drop them. Audited."""
        rows = collector.meta.erased_sessions(since)
        collector.audit(p, "erasures.list", "", since=since, count=len(rows))
        return rows

    @app.post("/v1/admin/enrolment-codes", tags=["admin"], responses=errors)
    def enrolment_code(body: CodeIn, p: Admin) -> CodeOut:
        """Create a one-time enrolment code."""
        return CodeOut(**collector.create_enrolment_code(p, body.contributor, body.ttl_hours * 3600))

    @app.get("/v1/admin/devices", tags=["admin"], responses=errors)
    def devices(p: Admin) -> list[dict[str, Any]]:
        """Enrolled devices (for revocation; no activity data). Audited."""
        rows = collector.meta.devices()
        collector.audit(p, "devices.list", "", count=len(rows))
        return rows

    @app.get("/v1/admin/contributors", tags=["admin"], responses=errors)
    def contributors(p: Admin) -> list[dict[str, Any]]:
        """Contributors by stable id, with their device counts (for erasure requests; no
        labels, no activity data). Audited."""
        return collector.contributors(p)

    @app.post("/v1/admin/devices/{device_id}/revoke", tags=["admin"], responses=errors)
    def revoke(device_id: Annotated[str, Path(pattern=r"^dev_[0-9a-f]{16}$")], p: Admin) -> dict[str, str]:
        """Revoke a device: its credential stops working at once."""
        collector.revoke_device(p, device_id)
        return {"revoked": device_id}

    @app.put("/v1/admin/policy", tags=["admin"], responses=errors)
    def put_policy(body: PolicyIn, p: Admin) -> PolicyOut:
        """Publish a new recording policy to devices."""
        return PolicyOut(hash=collector.set_policy(p, body.policy))

    @app.get("/v1/admin/health", tags=["admin"], responses=errors)
    def fleet_health(p: Admin) -> dict[str, Any]:
        """Fleet health in aggregate; groups smaller than k are suppressed."""
        return collector.health(p)

    @app.post("/v1/admin/retention", tags=["admin"], responses=errors)
    def retention(body: RetentionIn, p: Admin) -> dict[str, Any]:
        """Apply retention by age and/or total quota now (also runs on a schedule)."""
        return collector.retention(p, body.max_age_days, body.quota_bytes)

    @app.delete("/v1/admin/contributors/{ref}", tags=["admin"], responses=errors)
    def erase_contributor(ref: Annotated[str, Path(min_length=1, max_length=200)], p: Admin,
                          by: Annotated[str, Query(pattern="^(label|id)$")] = "label") -> ErasureOut:
        """Answer an erasure request made to the program owner: by the label given at
        enrolment (case and extra spaces ignored) or by contributor id (``?by=id``, see
        ``GET /v1/admin/contributors``)."""
        return ErasureOut(**collector.erase(p, collector.resolve_contributor(ref, by)))

    @app.get("/v1/audit", tags=["audit"], responses=errors)
    def audit(p: Auditor, after: Annotated[int, Query(ge=0, le=2**62)] = 0,
              limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> list[dict[str, Any]]:
        """Audit log entries after a sequence number."""
        return collector.audit_log(p, after, limit)

    @app.get("/v1/audit/verify", tags=["audit"], responses=errors)
    def audit_verify(p: Auditor, seq: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                     hash: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None) -> dict[str, Any]:
        """Check the whole hash chain and its anchors. Keep the answer's ``head`` outside the
        collector and pass it back (``seq``, ``hash``) next time: that detects a log rebuilt
        from scratch even by someone who could also remove anchors."""
        if (seq is None) != (hash is None):
            raise BadRequest("give both seq and hash of the head you kept, or neither")
        return collector.audit_verify((seq, hash) if seq is not None else None)

    return app


class _MiddlewareShim:
    """Lets a plain ASGI wrapper be used with ``add_middleware``."""

    def __init__(self, app, factory):
        self._app = factory(app)

    async def __call__(self, scope, receive, send):
        await self._app(scope, receive, send)
