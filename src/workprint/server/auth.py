"""Tokens, roles and per-device rate limits.

Tokens are random (``wp_`` + 256 bits); the collector stores only their sha256. A request
authenticates with ``Authorization: Bearer <token>``; the token's role decides what it may
reach. Device tokens have the ``contributor`` role, scoped to that contributor's data.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import Gone, TokenExpired, TooManyRequests, Unauthorized
from .meta import SqlMeta, TokenInfo

ROLES = ("contributor", "curator", "admin", "auditor", "self")
#: ``self``: a contributor's own erasure credential, issued at enrolment beside the device
#: token. It survives device revocation and reaches only ``/v1/me`` (access and erasure).
ERASED = ("this device's data was erased from the collector on request; empty the outbox "
          "(`workprint sync` does) and enrol again to contribute")


#: Lifetime of a role token minted without ``--ttl-days`` (device tokens and the person's own
#: erasure credential do not expire: a device may be offline for weeks, erasure must always work).
ROLE_TOKEN_DAYS = 30.0
MAX_ROLE_TOKEN_DAYS = 366.0


def expired_message(role: str, expires: float) -> str:
    when = datetime.fromtimestamp(expires, timezone.utc).isoformat(timespec="seconds")
    return (f"this {role} token expired at {when}; ask an admin for a new one "
            f"(`workprint admin token --role {role} [--ttl-days N]`) and use it instead")


def new_token() -> str:
    return "wp_" + secrets.token_urlsafe(32)


def new_code() -> str:
    """A one-time enrolment code, easy to read aloud: 4 groups of 5 letters/digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(20))
    return "-".join(raw[i:i + 5] for i in range(0, 20, 5))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    role: str
    token_hash: str
    device_id: str | None = None
    contributor: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller (no secret, no identity)."""
        who = self.device_id or self.token_hash[:12]
        return f"{self.role}:{who}"


class TokenAuthority:
    """Resolves bearer tokens with a cache.

    A token can only stop working through a revocation, and every revocation bumps the
    store's auth epoch. So the cache checks the epoch (one query) at most every
    ``cache_s`` seconds and then trusts known tokens for up to ``max_age_s``; unknown
    tokens are remembered for ``cache_s``. A revocation made by any collector process
    takes effect everywhere within ``cache_s``; ``cache_s = 0`` disables the cache.
    """

    def __init__(self, meta: SqlMeta, cache_s: float = 2.0, max_age_s: float = 60.0):
        self.meta = meta
        self.cache_s = cache_s
        self.max_age_s = max(max_age_s, cache_s)
        self._cache: dict[str, tuple[float, TokenInfo | None]] = {}
        self._lock = threading.Lock()
        self._epoch: str | None = None
        self._epoch_checked = float("-inf")

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._epoch_checked = float("-inf")

    def _lookup(self, h: str, now: float) -> TokenInfo | None:
        if self.cache_s <= 0:
            return self.meta.token(h)
        if now - self._epoch_checked >= self.cache_s:
            epoch = self.meta.auth_epoch()
            with self._lock:
                if epoch != self._epoch:
                    self._cache.clear()
                    self._epoch = epoch
                self._epoch_checked = now
        hit = self._cache.get(h)
        if hit is not None and now - hit[0] < (self.max_age_s if hit[1] is not None else self.cache_s):
            return hit[1]
        info = self.meta.token(h)
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[h] = (now, info)
        return info

    def resolve(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>' "
                               "(enrol with `workprint enroll` or mint one with `workprint admin token`)")
        h = token_hash(authorization[7:])
        info = self._lookup(h, time.monotonic())
        if info is None:
            if self.meta.token_erased(h):
                raise Gone(ERASED)
            raise Unauthorized("token is unknown or revoked")
        if info.expires is not None and time.time() >= info.expires:
            raise TokenExpired(expired_message(info.role, info.expires))
        return Principal(info.role, info.hash, info.device_id, info.contributor)


class RateLimiter:
    """Token bucket per caller (in this collector process)."""

    def __init__(self, rate_per_s: float, burst: int):
        self.rate, self.burst = rate_per_s, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                raise TooManyRequests(f"rate limit of {self.rate:g} requests/s per device exceeded; "
                                      "retry later", retry_after=(1 - tokens) / self.rate)
            self._buckets[key] = (tokens - 1, now)
