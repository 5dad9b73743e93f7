"""The collector's rules, free of HTTP: enrol, verify and store chunks, serve reads to the
roles allowed them, erase, retain, and write every access to the audit log."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
import time
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..errors import PolicyError
from ..policy.model import Policy, default_policy, parse_policy
from ..sync.chunk import NO_POLICY, ChunkError, declared_work, pseudonym, parse_chunk
from .audit import anchor_record, check_anchors, expected_head_problem, unanchored_problem, verify_chain
from .auth import (MAX_ROLE_TOKEN_DAYS, ROLE_TOKEN_DAYS, Principal, RateLimiter, TokenAuthority, new_code,
                   new_token, token_hash)
from .blobs import chunk_key, open_blobs
from .config import CollectorConfig
from .errors import BadRequest, CollectorError, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, Unprocessable
from .ingest import Ingest, Upload, foreign_session_conflict
from .meta import open_meta

SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Hex key that signs audit anchors (default: ``<data-dir>/collector/audit.key``).
AUDIT_KEY_ENV = "WORKPRINT_AUDIT_KEY"


def normalise_label(label: str) -> str:
    """Labels name the same person whatever their case and spacing."""
    return " ".join(label.split()).casefold()


def check_publishable(body: str) -> Policy:
    """The policy in ``body`` if a collector may publish it; raises :class:`Unprocessable`
    with the parser's message (file, key, line) otherwise."""
    try:
        policy = parse_policy(body, source="published policy")
    except PolicyError as exc:
        raise Unprocessable(f"policy refused: {exc}") from None
    if policy.review.auto_approve_after_hours:
        raise Unprocessable("policy refused: review.auto_approve_after_hours must be 0 in a published "
                            "policy - only contributors approve uploads (each may turn auto-approval "
                            "on for their own device with `workprint review --auto-approve-after-hours`)")
    return policy
#: Uploads whose verification touches at most this many bytes (chunk plus declared
#: uncompressed entries) are verified on the event loop; all others in a worker thread, so
#: a small chunk that decompresses to much cannot stall the loop.
INLINE_VERIFY_BYTES = 256 * 1024


class Collector:
    def __init__(self, config: CollectorConfig):
        self.config = config
        self.limits = config.limits
        self.meta = open_meta(config.db_url)
        try:
            self.blobs = open_blobs(config.blobs_url)
        except BaseException:
            self.meta.close()
            raise
        self.ingest = Ingest(self.blobs, self.meta)
        self.tokens = TokenAuthority(self.meta, config.token_cache_s)
        self.rate = RateLimiter(config.rate_per_s, config.rate_burst)
        self.enrol_rate = RateLimiter(5.0, 20)
        self._key = bytes.fromhex(self.meta.setting("pseudonym_key", lambda: secrets.token_hex(32)) or "")
        self._policy_cache: tuple[float, set[str]] = (0.0, set())
        self._lock = threading.Lock()
        self._akey: bytes | None = None
        #: device id -> uploads in flight in this process (touched on the event loop only)
        self.uploads_in_flight: dict[str, int] = {}
        #: where unfinished uploads beyond a small in-memory part wait (unnamed files)
        self.spool_dir = config.root / "incoming"
        self.spool_dir.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> "Collector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.ingest.close()
        self.blobs.close()
        self.meta.close()

    # -- auth ------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None, roles: tuple[str, ...]) -> Principal:
        p = self.tokens.resolve(authorization)
        self.rate.check(p.device_id or p.token_hash)
        if p.role not in roles:
            raise Forbidden(f"the {p.role} role may not use this endpoint (allowed: {', '.join(roles)})")
        return p

    def audit(self, who: Principal | str, action: str, target: str = "", **detail: Any) -> None:
        """Append to the hash-chained log, then anchor the new chain head outside the
        database (blob store), MACed with the audit key (also outside the database)."""
        actor = who.actor if isinstance(who, Principal) else who
        entry = self.meta.audit_append(actor, action, target, detail)
        self.blobs.append_anchor(anchor_record(self._audit_key(), entry["seq"], entry["hash"]))

    def _audit_key(self) -> bytes:
        """``$WORKPRINT_AUDIT_KEY`` (hex), else ``<data-dir>/collector/audit.key`` (0600, made
        once). Never in the database: whoever can write the database cannot sign anchors."""
        if self._akey is None:
            env = os.environ.get(AUDIT_KEY_ENV, "").strip()
            if env:
                self._akey = bytes.fromhex(env)
            else:
                path = self.config.root / "audit.key"
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w") as f:
                        f.write(secrets.token_hex(32))
                except FileExistsError:
                    pass
                self._akey = bytes.fromhex(path.read_text().strip())
        return self._akey

    # -- enrolment and tokens ------------------------------------------------------------
    def contributor_for(self, label: str, *, create: bool = False) -> str | None:
        """The contributor id of a label (e.g. an employee number), looked up by the keyed
        HMAC of the label normalised (case, surrounding and repeated whitespace). Only the
        collector holds the key; the label itself is never stored."""
        key = pseudonym(self._key, normalise_label(label), "contributor")
        return self.meta.contributor_by_label(key, create)

    def create_enrolment_code(self, who: Principal | str, label: str | None, ttl_s: float) -> dict[str, Any]:
        if not 60 <= ttl_s <= 30 * 86400:
            raise BadRequest("ttl must be between 1 minute and 30 days")
        if label is not None and not normalise_label(label):
            raise BadRequest("the contributor label is empty")
        code = new_code()
        contributor = self.contributor_for(label, create=True) if label else self.meta.new_contributor()
        expires = time.time() + ttl_s
        self.meta.add_enrolment_code(token_hash(code), contributor or "", expires)
        self.audit(who, "enrolment_code.create", contributor or "", ttl_s=ttl_s)
        return {"code": code, "expires": expires, "contributor": contributor}

    def enroll(self, code: str, name: str) -> dict[str, Any]:
        device_id = "dev_" + secrets.token_hex(8)
        token, erase_token = new_token(), new_token()
        contributor = self.meta.redeem_enrolment_code(token_hash(code), device_id, name[:100], token_hash(token),
                                                      token_hash(erase_token))
        if contributor is None:
            raise Unauthorized("enrolment code is unknown, already used or expired; ask for a new one")
        self.audit(f"device:{device_id}", "device.enroll", device_id)
        return {"device_id": device_id, "token": token, "contributor": contributor, "erase_token": erase_token}

    def mint_token(self, role: str, actor: str = "cli:admin", label: str | None = None,
                   ttl_days: float = ROLE_TOKEN_DAYS) -> str:
        """A role token that stops working after ``ttl_days`` (401 saying it expired)."""
        if not 0 < ttl_days <= MAX_ROLE_TOKEN_DAYS:
            raise BadRequest(f"a role token lives between a moment and {MAX_ROLE_TOKEN_DAYS:g} days "
                             f"(--ttl-days); mint a new one when it expires")
        token = new_token()
        contributor = self.contributor_for(label, create=True) if label else None
        self.meta.add_token(token_hash(token), role, contributor, expires=time.time() + ttl_days * 86400)
        self.audit(actor, "token.create", role, ttl_days=ttl_days)
        return token

    def role_tokens(self, who: Principal | str) -> list[dict[str, Any]]:
        rows = self.meta.role_tokens()
        self.audit(who, "tokens.list", "", count=len(rows))
        return rows

    def revoke_role_token(self, who: Principal | str, token_id: str) -> None:
        if not re.fullmatch(r"[0-9a-f]{12,64}", token_id):
            raise BadRequest("a token id is 12 to 64 hex digits, as `workprint admin tokens` lists it")
        full = self.meta.revoke_role_token(token_id)
        if full is None:
            raise NotFound(f"no active role token {token_id!r} (see `workprint admin tokens`)")
        self.tokens.clear()
        self.audit(who, "token.revoke", full[:16])

    def contributors(self, who: Principal | str) -> list[dict[str, Any]]:
        rows = self.meta.contributors()
        self.audit(who, "contributors.list", "", count=len(rows))
        return rows

    def resolve_contributor(self, ref: str, by: str = "label") -> str:
        """A contributor id from a label (normalised) or an id; NotFound otherwise."""
        if by == "id":
            if not self.meta.contributor_exists(ref):
                raise NotFound(f"no contributor with id {ref!r} (see `workprint admin contributors`)")
            return ref
        cid = self.contributor_for(ref)
        if cid is None:
            raise NotFound("no contributor with this label; labels match ignoring case and extra "
                           "spaces - list contributors with `workprint admin contributors`")
        return cid

    def revoke_device(self, who: Principal | str, device_id: str) -> None:
        if not self.meta.revoke_device(device_id):
            raise NotFound(f"no active device {device_id!r}")
        self.tokens.clear()
        self.audit(who, "device.revoke", device_id)

    # -- policy ----------------------------------------------------------------------------
    def set_policy(self, who: Principal | str, body: str) -> str:
        """Publish a policy. It is validated by the parser of ``workprint policy check``
        (unknown keys are errors) and known by :attr:`Policy.hash` - the hash devices stamp
        their sessions with. A policy cannot approve uploads: its auto-approval must be 0."""
        policy = check_publishable(body)
        self.meta.add_policy(policy.hash, body)
        self._policy_cache = (0.0, set())
        self.audit(who, "policy.set", policy.hash)
        return policy.hash

    def accepted_policies(self) -> set[str]:
        """Sessions recorded under any policy this collector ever published are accepted.
        Before the first publication, devices record under the built-in policy (see
        :mod:`workprint.sync.published`), so its hash is accepted, and ``none`` - the stamp
        of a session that carries no policy hash at all."""
        ts, hashes = self._policy_cache
        if time.monotonic() - ts > 5:
            hashes = self.meta.policy_hashes() or {NO_POLICY, default_policy().hash}
            self._policy_cache = (time.monotonic(), hashes)
        return hashes

    # -- upload ----------------------------------------------------------------------------
    def missing(self, p: Principal, shas: list[str]) -> list[str]:
        if len(shas) > 1000:
            raise TooLarge("ask about at most 1000 chunks at a time")
        for s in shas:
            if not SHA256.match(s):
                raise BadRequest(f"{s[:80]!r} is not a sha256 (64 lowercase hex digits)")
        present = self.meta.present(shas, p.contributor or "")
        return [s for s in shas if s not in present]

    def verify_upload(self, p: Principal, sha: str, data: bytes) -> Upload:
        """Every check an upload must pass before a byte of it is stored (no I/O but the
        policy list, cached). Raises the refusal; returns what to store."""
        if not p.contributor or not p.device_id:
            raise Forbidden("only an enrolled device can upload chunks")
        if not SHA256.match(sha):
            raise BadRequest("the chunk address must be its sha256 (64 lowercase hex digits)")
        if len(data) > self.limits.max_chunk_bytes:
            raise TooLarge(f"chunk is larger than {self.limits.max_chunk_bytes} bytes")
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise BadRequest(f"body sha256 is {actual}, not the {sha} in the URL (corrupted in transit?)")
        try:
            chunk = parse_chunk(data, self.limits)
        except ChunkError as exc:
            raise Unprocessable(f"chunk refused: {exc}") from None
        m = chunk.manifest
        accepted = self.accepted_policies()
        if m["policy_hash"] not in accepted:
            raise Unprocessable(f"chunk refused: recorded under policy {m['policy_hash']!r}, which this "
                                f"collector does not accept; run `workprint sync` to fetch the current policy")
        return Upload(sha, m["session"], m["index"], m["count"], p.contributor, p.device_id,
                      m["policy_hash"], data)

    def _refused_but_stored(self, p: Principal, sha: str, exc: CollectorError) -> str:
        """A chunk refused now (e.g. limits changed since) that is already stored answers
        as a retry of a stored chunk did before: ``exists``, or a conflict."""
        if isinstance(exc, (Unprocessable, TooLarge)) and p.contributor and SHA256.match(sha):
            existing = self.meta.chunk(sha)
            if existing is not None:
                if existing.contributor != p.contributor:
                    raise foreign_session_conflict()
                return "exists"
        raise exc

    def accept_chunk(self, p: Principal, sha: str, data: bytes) -> str:
        """Verify completely, then store blob, then metadata (group-committed with other
        uploads). Returns ``created`` or ``exists`` once both are durable. Anything refused
        raises before a single byte is stored."""
        try:
            up = self.verify_upload(p, sha, data)
        except CollectorError as exc:
            return self._refused_but_stored(p, sha, exc)
        return self.ingest.store(up)

    async def accept_chunk_async(self, p: Principal, sha: str, data: bytes) -> str:
        """:meth:`accept_chunk` for the event loop: small chunks are verified right here
        (pure CPU, well under a millisecond; a thread hop would cost more), large ones in
        a worker thread; storing waits for the ingest thread without holding a thread."""
        try:
            if len(data) <= INLINE_VERIFY_BYTES and declared_work(data, self.limits) <= INLINE_VERIFY_BYTES:
                up = self.verify_upload(p, sha, data)
            else:
                up = await run_in_threadpool(self.verify_upload, p, sha, data)
        except CollectorError as exc:
            return await run_in_threadpool(self._refused_but_stored, p, sha, exc)
        return await self.ingest.store_async(up)

    # -- reads -----------------------------------------------------------------------------
    def download(self, p: Principal, sha: str) -> bytes:
        row = self.meta.chunk(sha) if SHA256.match(sha) else None
        if row is None or (p.role == "contributor" and row.contributor != p.contributor):
            raise NotFound("no such chunk")
        try:
            data = self.blobs.get(chunk_key(sha))
        except KeyError:
            raise NotFound("no such chunk") from None
        self.audit(p, "chunk.read", sha)
        return data

    def my_data(self, p: Principal) -> dict[str, Any]:
        if not p.contributor:
            raise Forbidden("this token belongs to no contributor")
        sessions = self.meta.sessions(p.contributor)
        chunks = [{"sha256": c.sha256, "session": c.session, "index": c.idx, "size": c.size}
                  for c in self.meta.chunks(contributor=p.contributor)]
        self.audit(p, "contributor.access", p.contributor, sessions=len(sessions))
        return {"contributor": p.contributor, "sessions": sessions, "chunks": chunks}

    def curator_sessions(self, p: Principal) -> list[dict[str, Any]]:
        sessions = self.meta.sessions()
        self.audit(p, "sessions.list", "", count=len(sessions))
        return sessions

    def session_chunks(self, p: Principal, session: str) -> list[dict[str, Any]]:
        rows = self.meta.chunks(session=session)
        if not rows:
            raise NotFound("no such session")
        self.audit(p, "session.read", session)
        return [{"sha256": c.sha256, "index": c.idx, "count": c.count, "size": c.size,
                 "policy_hash": c.policy_hash} for c in rows]

    # -- erasure and retention -----------------------------------------------------------
    def erase(self, who: Principal | str, contributor: str) -> dict[str, Any]:
        """Erase a contributor: every row naming them goes in one transaction (which
        also fences their uploads in flight and revokes their devices, whose tokens then
        answer 410), then their blobs."""
        if not contributor:
            raise Forbidden("this token belongs to no contributor")
        datasets = self.meta.datasets_holding(contributor)     # before the rows naming them go
        actor = who.actor if isinstance(who, Principal) else who
        own = isinstance(who, Principal) and who.contributor == contributor   # the person asked
        # The erasure's audit entry is written in the erasure's transaction (it declares which
        # entries it scrubbed); its target is the receipt, never the contributor id.
        shas, entry = self.meta.erase_contributor(contributor, actor, hide_actor=own,
                                                  datasets=[f"{n}@v{v}" for n, v in datasets])
        self.tokens.clear()
        self.blobs.append_anchor(anchor_record(self._audit_key(), entry["seq"], entry["hash"]))
        for sha in shas:
            self.blobs.delete(chunk_key(sha))
        due = time.time() + self.config.dataset_rebuild_days * 86400
        self.meta.mark_rebuild_due(datasets, due)
        due_iso = datetime.fromtimestamp(due, timezone.utc).isoformat(timespec="seconds")
        affected = [{"dataset": n, "version": v, "rebuild_due": due_iso} for n, v in datasets]
        return {"contributor": contributor, "deleted_chunks": len(shas), "datasets": affected}

    def retention(self, who: Principal | str, max_age_days: float | None = None,
                  quota_bytes: int | None = None) -> dict[str, Any]:
        drop: set[str] = set()
        if max_age_days is not None:
            drop.update(self.meta.older_than(time.time() - max_age_days * 86400))
        if quota_bytes is not None:
            drop.update(self.meta.over_quota(quota_bytes))
        shas = sorted(drop)
        datasets = self.meta.expire_sessions(shas) if shas else []
        self.meta.delete_chunks(shas)
        for sha in shas:
            self.blobs.delete(chunk_key(sha))
        self.meta.mark_rebuild_due(datasets, time.time() + self.config.dataset_rebuild_days * 86400)
        orphans = self.sweep_orphans()
        self.audit(who, "retention.run", "", deleted=len(shas), orphans=orphans,
                   max_age_days=max_age_days, quota_bytes=quota_bytes,
                   datasets=[f"{n}@v{v}" for n, v in datasets])
        return {"deleted_chunks": len(shas), "orphan_blobs": orphans,
                "datasets": [{"dataset": n, "version": v} for n, v in datasets]}

    def sweep_orphans(self, min_age_s: float = 3600) -> int:
        """Delete blobs no metadata row points at (left by a crash between the two
        writes, or an interrupted erasure). Young blobs may be uploads in flight."""
        known = self.meta.all_chunk_shas()
        cutoff, n = time.time() - min_age_s, 0
        for key, mtime in list(self.blobs.keys()):
            if key.rsplit("/", 1)[-1] not in known and mtime < cutoff:
                self.blobs.delete(key)
                n += 1
        return n

    # -- aggregate health ------------------------------------------------------------------
    def health(self, p: Principal) -> dict[str, Any]:
        k = self.config.k_anonymity
        now = datetime.now(timezone.utc)
        week = [(now - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(7)]
        h = self.meta.health_counts(week[0], week)
        for key in ("devices", "revoked", "active_today", "active_7d"):
            if 0 < h[key] < k:
                h[key] = f"<{k}"
        shown = [g for g in h["by_policy"] if g["contributors"] >= k]
        hidden = [g for g in h["by_policy"] if g["contributors"] < k]
        h["by_policy"] = [{"policy_hash": g["policy_hash"], "contributors": g["contributors"],
                           "chunks": g["chunks"]} for g in shown]
        h["suppressed_groups"] = len(hidden)
        h["k"] = k
        self.audit(p, "fleet.health", "")
        return h

    def audit_log(self, p: Principal, after: int, limit: int) -> list[dict[str, Any]]:
        return self.meta.audit_entries(after, min(max(limit, 1), 5000))

    def audit_verify(self, expect: tuple[int, str] | None = None) -> dict[str, Any]:
        """Check the chain, its commitments and tombstones, every anchor, that no old entry
        is left unanchored, and (``expect``) a head kept by the auditor from an earlier run.
        The answer's ``head`` is what to keep for the next run."""
        entries, after = [], 0
        while True:
            page = self.meta.audit_entries(after, 5000)
            if not page:
                break
            entries.extend(page)
            after = page[-1]["seq"]
        ok, message = verify_chain(entries)
        a_ok, a_message, last = check_anchors(entries, self.blobs.anchors(), self._audit_key())
        if ok and a_ok:
            problem = unanchored_problem(entries, last, time.time()) or (
                expected_head_problem(entries, *expect) if expect else None)
            if problem:
                a_ok, a_message = False, problem
        head = {"seq": entries[-1]["seq"], "hash": entries[-1]["hash"]} if entries else None
        return {"ok": ok and a_ok, "entries": len(entries), "last_anchored": last, "head": head,
                "anchors": self.blobs.anchor_protection(),
                "message": message if not ok else a_message if not a_ok else f"{message}; {a_message}"}

    def describe(self) -> dict[str, Any]:
        return {**self.config.describe(), "limits": asdict(self.limits)}
