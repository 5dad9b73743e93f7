"""Collector metadata: SQLite (embedded default) or PostgreSQL (scale), one class each.

Both speak the same SQL (written with ``?`` placeholders; the PostgreSQL store rewrites
them) and share every query in :class:`SqlMeta`; a backend only provides transactions and
the lock that serialises audit-log appends.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ..extras import require
from .audit import GENESIS, entry_hash, seal, tombstone
from .errors import ConfigError

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # A contributor: a random id (stable, listed to admins), and - when enrolled with a
    # label - the keyed HMAC of the normalised label, so the label itself is never stored.
    """CREATE TABLE IF NOT EXISTS contributors (
        id TEXT PRIMARY KEY, label_key TEXT UNIQUE, created DOUBLE PRECISION NOT NULL)""",
    # Token hashes of erased contributors: such a device hears 410 (empty your outbox).
    # The hash of a random secret, linked to nothing else once the erasure ran.
    """CREATE TABLE IF NOT EXISTS erased_tokens (
        hash TEXT PRIMARY KEY, erased DOUBLE PRECISION NOT NULL)""",
    # One row per erasure, naming nobody: a random id, when, how many chunks.
    """CREATE TABLE IF NOT EXISTS erasure_receipts (
        id TEXT PRIMARY KEY, erased DOUBLE PRECISION NOT NULL, chunks INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS enrolment_codes (
        code_hash TEXT PRIMARY KEY, contributor TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
        expires DOUBLE PRECISION NOT NULL, used_by TEXT)""",
    """CREATE TABLE IF NOT EXISTS devices (
        id TEXT PRIMARY KEY, contributor TEXT NOT NULL, name TEXT NOT NULL,
        enrolled DOUBLE PRECISION NOT NULL, revoked DOUBLE PRECISION, last_day TEXT)""",
    """CREATE TABLE IF NOT EXISTS tokens (
        hash TEXT PRIMARY KEY, role TEXT NOT NULL, device_id TEXT, contributor TEXT,
        created DOUBLE PRECISION NOT NULL, revoked DOUBLE PRECISION)""",
    """CREATE TABLE IF NOT EXISTS chunks (
        sha256 TEXT PRIMARY KEY, session TEXT NOT NULL, idx INTEGER NOT NULL, count INTEGER NOT NULL,
        contributor TEXT NOT NULL, device_id TEXT, policy_hash TEXT NOT NULL, size BIGINT NOT NULL,
        received DOUBLE PRECISION NOT NULL, UNIQUE (session, idx))""",
    "CREATE INDEX IF NOT EXISTS chunks_contributor ON chunks (contributor)",
    # A session belongs to the contributor whose device first wrote into it.
    """CREATE TABLE IF NOT EXISTS session_owners (
        session TEXT PRIMARY KEY, contributor TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS session_owners_contributor ON session_owners (contributor)",
    # Stores from before session_owners: every session keeps the owner of its chunks.
    """INSERT INTO session_owners (session, contributor)
        SELECT session, MIN(contributor) FROM chunks GROUP BY session
        ON CONFLICT (session) DO NOTHING""",
    "CREATE INDEX IF NOT EXISTS chunks_received ON chunks (received)",
    """CREATE TABLE IF NOT EXISTS erased_sessions (
        session TEXT PRIMARY KEY, erased DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS policies (
        hash TEXT PRIMARY KEY, body TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)""",
    # Dataset versions built from this store (``workprint build``) and the session
    # pseudonyms each holds: erasure finds the versions a person's sessions are in here.
    """CREATE TABLE IF NOT EXISTS datasets (
        name TEXT NOT NULL, version INTEGER NOT NULL, created DOUBLE PRECISION NOT NULL,
        location TEXT NOT NULL, params TEXT NOT NULL, content_digest TEXT NOT NULL,
        state TEXT NOT NULL, rebuild_due DOUBLE PRECISION, deleted DOUBLE PRECISION,
        PRIMARY KEY (name, version))""",
    """CREATE TABLE IF NOT EXISTS dataset_sessions (
        name TEXT NOT NULL, version INTEGER NOT NULL, session TEXT NOT NULL,
        PRIMARY KEY (name, version, session))""",
    "CREATE INDEX IF NOT EXISTS dataset_sessions_session ON dataset_sessions (session)",
    """CREATE TABLE IF NOT EXISTS audit (
        seq BIGINT PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        target TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)""",
]


#: Columns added after the first release: (table, column, type). Added when missing.
MIGRATIONS = [
    ("tokens", "expires", "DOUBLE PRECISION"),   # role tokens expire; device and self tokens do not
    # audit entries of version 2 chain commitments to actor and target (see audit.py)
    ("audit", "v", "INTEGER"),
    ("audit", "actor_commit", "TEXT"),
    ("audit", "actor_nonce", "TEXT"),
    ("audit", "target_commit", "TEXT"),
    ("audit", "target_nonce", "TEXT"),
]
_AUDIT_COLS = ("seq", "ts", "actor", "action", "target", "detail", "prev", "hash", "v", "actor_commit",
               "actor_nonce", "target_commit", "target_nonce")


def _utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class TokenInfo:
    hash: str
    role: str
    device_id: str | None
    contributor: str | None
    expires: float | None = None


@dataclass(frozen=True)
class ChunkRow:
    sha256: str
    session: str
    idx: int
    count: int
    contributor: str
    device_id: str | None
    policy_hash: str
    size: int
    received: float


_CHUNK_COLS = "sha256, session, idx, count, contributor, device_id, policy_hash, size, received"


class SqlMeta:
    """All queries. Subclasses implement :meth:`tx` and :meth:`_audit_lock`."""

    dialect = "sql"

    @contextmanager
    def tx(self) -> Iterator[Any]:  # yields an object with execute(sql, params) -> cursor
        raise NotImplementedError
        yield

    def _audit_lock(self, cur: Any) -> None:
        raise NotImplementedError

    @contextmanager
    def ro(self) -> Iterator[Any]:
        """A read-only query context (no write lock)."""
        with self.tx() as cur:
            yield cur

    def init_schema(self) -> None:
        with self.tx() as cur:
            for stmt in SCHEMA:
                cur.execute(stmt)
            self._migrate(cur)

    def _has_column(self, cur: Any, table: str, column: str) -> bool:
        return column in {r[1] for r in cur.execute(f"PRAGMA table_info({table})").fetchall()}

    def _migrate(self, cur: Any) -> None:
        for table, column, kind in MIGRATIONS:
            if not self._has_column(cur, table, column):
                cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                if (table, column) == ("tokens", "expires"):
                    # role tokens minted before tokens expired get the default lifetime from now
                    cur.execute("UPDATE tokens SET expires = ? WHERE device_id IS NULL AND role <> 'self'",
                                (time.time() + 30 * 86400,))

    # -- settings ------------------------------------------------------------------------
    def setting(self, key: str, default_factory=None) -> str | None:
        """Read a setting; if absent and ``default_factory`` is given, store its value once
        (first writer wins, also across collector processes)."""
        with self.tx() as cur:
            row = cur.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
            if row or default_factory is None:
                return row[0] if row else None
            cur.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                        (key, default_factory()))
            return cur.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()[0]

    # -- contributors ----------------------------------------------------------------------
    def contributor_by_label(self, label_key: str, create: bool) -> str | None:
        """The contributor id for a label's keyed HMAC; with ``create``, a new random id
        the first time (first writer wins, also across collector processes)."""
        with self.tx() as cur:
            row = cur.execute("SELECT id FROM contributors WHERE label_key = ?", (label_key,)).fetchone()
            if row or not create:
                return row[0] if row else None
            cur.execute("INSERT INTO contributors (id, label_key, created) VALUES (?, ?, ?) "
                        "ON CONFLICT (label_key) DO NOTHING", (secrets.token_hex(16), label_key, time.time()))
            return cur.execute("SELECT id FROM contributors WHERE label_key = ?", (label_key,)).fetchone()[0]

    def new_contributor(self) -> str:
        """A contributor without a label (reachable by its id only)."""
        cid = secrets.token_hex(16)
        with self.tx() as cur:
            cur.execute("INSERT INTO contributors (id, created) VALUES (?, ?)", (cid, time.time()))
        return cid

    def contributor_exists(self, contributor: str) -> bool:
        with self.ro() as cur:
            return cur.execute("SELECT 1 FROM contributors WHERE id = ?", (contributor,)).fetchone() is not None

    def contributors(self) -> list[dict[str, Any]]:
        """Contributors for erasure requests: id, whether a label names them, devices. No activity."""
        with self.tx() as cur:
            rows = cur.execute(
                "SELECT c.id, c.label_key IS NOT NULL, c.created, COUNT(d.id), "
                "SUM(CASE WHEN d.id IS NOT NULL AND d.revoked IS NULL THEN 1 ELSE 0 END) "
                "FROM contributors c LEFT JOIN devices d ON d.contributor = c.id "
                "GROUP BY c.id, c.label_key, c.created ORDER BY c.created, c.id").fetchall()
        return [{"contributor": r[0], "labelled": bool(r[1]), "created": r[2], "devices": int(r[3]),
                 "active_devices": int(r[4] or 0)} for r in rows]

    # -- enrolment, devices, tokens ------------------------------------------------------
    def add_enrolment_code(self, code_hash: str, contributor: str, expires: float) -> None:
        with self.tx() as cur:
            cur.execute("INSERT INTO enrolment_codes (code_hash, contributor, created, expires) "
                        "VALUES (?, ?, ?, ?)", (code_hash, contributor, time.time(), expires))

    def redeem_enrolment_code(self, code_hash: str, device_id: str, name: str, token_hash: str,
                              self_hash: str | None = None) -> str | None:
        """Atomically use a code once: creates the device and its token. Returns the
        contributor pseudonym, or None if the code is unknown, used or expired."""
        now = time.time()
        with self.tx() as cur:
            row = cur.execute(
                "UPDATE enrolment_codes SET used_by = ? WHERE code_hash = ? AND used_by IS NULL "
                "AND expires > ? RETURNING contributor", (device_id, code_hash, now)).fetchone()
            if row is None:
                return None
            cur.execute("INSERT INTO devices (id, contributor, name, enrolled) VALUES (?, ?, ?, ?)",
                        (device_id, row[0], name, now))
            cur.execute("INSERT INTO tokens (hash, role, device_id, contributor, created) "
                        "VALUES (?, 'contributor', ?, ?, ?)", (token_hash, device_id, row[0], now))
            if self_hash:   # the person's own erasure credential: survives device revocation
                cur.execute("INSERT INTO tokens (hash, role, contributor, created) VALUES (?, 'self', ?, ?)",
                            (self_hash, row[0], now))
            return row[0]

    def add_token(self, token_hash: str, role: str, contributor: str | None = None,
                  expires: float | None = None) -> None:
        with self.tx() as cur:
            cur.execute("INSERT INTO tokens (hash, role, contributor, created, expires) VALUES (?, ?, ?, ?, ?)",
                        (token_hash, role, contributor, time.time(), expires))

    def token(self, token_hash: str) -> TokenInfo | None:
        with self.ro() as cur:
            row = cur.execute(
                "SELECT t.hash, t.role, t.device_id, t.contributor, t.expires FROM tokens t "
                "LEFT JOIN devices d ON d.id = t.device_id "
                "WHERE t.hash = ? AND t.revoked IS NULL AND d.revoked IS NULL", (token_hash,)).fetchone()
        return TokenInfo(*row) if row else None

    def role_tokens(self) -> list[dict[str, Any]]:
        """Admin, curator, auditor (and contributor) tokens minted by an admin - not device
        or erasure credentials. Identified by a prefix of their hash; no secret."""
        with self.tx() as cur:
            rows = cur.execute("SELECT hash, role, created, revoked, expires FROM tokens WHERE device_id IS NULL "
                               "AND role <> 'self' ORDER BY created").fetchall()
        return [{"id": r[0][:16], "role": r[1], "created": r[2], "revoked": r[3], "expires": r[4]} for r in rows]

    def revoke_role_token(self, hash_prefix: str) -> str | None:
        """Revoke the one role token whose hash starts with ``hash_prefix`` (>= 12 hex)."""
        with self.tx() as cur:
            rows = cur.execute("SELECT hash FROM tokens WHERE device_id IS NULL AND role <> 'self' "
                               "AND revoked IS NULL AND hash LIKE ?", (hash_prefix + "%",)).fetchall()
            if len(rows) != 1:
                return None
            cur.execute("UPDATE tokens SET revoked = ? WHERE hash = ?", (time.time(), rows[0][0]))
            self._bump_auth_epoch(cur)
            return rows[0][0]

    def token_erased(self, token_hash: str) -> bool:
        with self.ro() as cur:
            return cur.execute("SELECT 1 FROM erased_tokens WHERE hash = ?", (token_hash,)).fetchone() is not None

    def revoke_device(self, device_id: str) -> bool:
        now = time.time()
        with self.tx() as cur:
            n = cur.execute("UPDATE devices SET revoked = ? WHERE id = ? AND revoked IS NULL",
                            (now, device_id)).rowcount
            cur.execute("UPDATE tokens SET revoked = ? WHERE device_id = ? AND revoked IS NULL", (now, device_id))
            self._bump_auth_epoch(cur)
        return n > 0

    @staticmethod
    def _bump_auth_epoch(cur: Any) -> None:
        """Every revocation changes the auth epoch: token caches in every collector
        process see it and drop what they remember."""
        cur.execute("INSERT INTO settings (key, value) VALUES ('auth_epoch', '1') ON CONFLICT (key) "
                    "DO UPDATE SET value = CAST(CAST(settings.value AS INTEGER) + 1 AS TEXT)")

    def auth_epoch(self) -> str | None:
        with self.ro() as cur:
            row = cur.execute("SELECT value FROM settings WHERE key = 'auth_epoch'").fetchone()
        return row[0] if row else None

    def devices(self) -> list[dict[str, Any]]:
        """Devices for enrolment management: no activity data."""
        with self.tx() as cur:
            rows = cur.execute("SELECT id, name, enrolled, revoked, contributor FROM devices "
                               "ORDER BY enrolled").fetchall()
        return [{"id": r[0], "name": r[1], "enrolled": r[2], "revoked": r[3], "contributor": r[4]}
                for r in rows]

    # -- chunks ----------------------------------------------------------------------------
    def chunk(self, sha256: str) -> ChunkRow | None:
        with self.ro() as cur:
            row = cur.execute(f"SELECT {_CHUNK_COLS} FROM chunks WHERE sha256 = ?", (sha256,)).fetchone()
        return ChunkRow(*row) if row else None

    def present(self, shas: list[str], contributor: str) -> set[str]:
        """Which of ``shas`` this contributor has stored (another contributor's chunks
        count as absent: nobody learns whether someone else's chunk exists)."""
        if not shas:
            return set()
        with self.ro() as cur:
            marks = ",".join("?" * len(shas))
            return {r[0] for r in cur.execute(
                f"SELECT sha256 FROM chunks WHERE sha256 IN ({marks}) AND contributor = ?", (*shas, contributor))}

    def chunk_owners(self, shas: list[str]) -> dict[str, str]:
        """sha256 -> contributor for the chunks of ``shas`` already stored."""
        out: dict[str, str] = {}
        with self.ro() as cur:
            for i in range(0, len(shas), 500):
                part = shas[i:i + 500]
                marks = ",".join("?" * len(part))
                out.update(cur.execute(f"SELECT sha256, contributor FROM chunks WHERE sha256 IN ({marks})",
                                       part).fetchall())
        return out

    def add_chunk(self, row: ChunkRow, day: str | None = None) -> str:
        """Insert once. Returns ``created``, ``exists`` (same bytes) or ``conflict``
        (another chunk already holds this session index)."""
        return self.add_chunks([row])[0]

    def add_chunks(self, rows: list[ChunkRow]) -> list[str]:
        """Insert many rows in one transaction (one durable commit); per row the result
        of :meth:`add_chunk`. Devices that uploaded get today's ``last_day``."""
        results: list[str] = []
        with self.tx() as cur:
            for i in range(0, len(rows), 100):
                results += self._insert_chunks(cur, rows[i:i + 100])
        return results

    def _insert_chunks(self, cur: Any, rows: list[ChunkRow]) -> list[str]:
        """Per row ``created``, ``exists``, ``conflict`` (index taken), ``foreign`` (the
        session belongs to another contributor, or was erased) or ``fenced`` (the device
        was revoked or erased while the upload was in flight: nothing is stored)."""
        marks = lambda xs: ",".join("?" * len(xs))  # noqa: E731
        # Lock the uploading devices' rows (PostgreSQL) so a concurrent revocation or
        # erasure either waits for this batch (and then deletes it) or fences it out.
        device_ids = sorted({r.device_id for r in rows if r.device_id})
        lock = " FOR SHARE" if self.dialect == "postgresql" else ""
        active = {r[0] for r in cur.execute(
            f"SELECT id FROM devices WHERE id IN ({marks(device_ids)}) AND revoked IS NULL{lock}",
            device_ids).fetchall()} if device_ids else set()
        sessions = sorted({r.session for r in rows})
        erased = {r[0] for r in cur.execute(
            f"SELECT session FROM erased_sessions WHERE session IN ({marks(sessions)})", sessions).fetchall()}
        for r in rows:
            if r.device_id in active and r.session not in erased:
                cur.execute("INSERT INTO session_owners (session, contributor) VALUES (?, ?) "
                            "ON CONFLICT (session) DO NOTHING", (r.session, r.contributor))
        owners = dict(cur.execute(
            f"SELECT session, contributor FROM session_owners WHERE session IN ({marks(sessions)})",
            sessions).fetchall())
        verdict: dict[int, str] = {}
        ok: list[ChunkRow] = []
        for i, r in enumerate(rows):
            if r.device_id not in active:
                verdict[i] = "fenced"
            elif r.session in erased or owners.get(r.session) != r.contributor:
                verdict[i] = "foreign"
            else:
                ok.append(r)
        created: set[str] = set()
        if ok:
            values = ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(ok))
            params = [v for r in ok for v in (r.sha256, r.session, r.idx, r.count, r.contributor,
                                              r.device_id, r.policy_hash, r.size, r.received)]
            created = {r[0] for r in cur.execute(
                f"INSERT INTO chunks ({_CHUNK_COLS}) VALUES {values} ON CONFLICT DO NOTHING RETURNING sha256",
                params).fetchall()}
        devices = sorted({r.device_id for r in ok if r.device_id and r.sha256 in created})
        if devices:
            day = _utc_day(max(r.received for r in rows))
            cur.execute(f"UPDATE devices SET last_day = ? WHERE id IN ({marks(devices)}) "
                        "AND (last_day IS NULL OR last_day <> ?)", (day, *devices, day))
        others = [r.sha256 for r in ok if r.sha256 not in created]
        present = set()
        if others:
            present = {r[0] for r in cur.execute(
                f"SELECT sha256 FROM chunks WHERE sha256 IN ({marks(others)})", others).fetchall()}
        return [verdict.get(i) or ("created" if r.sha256 in created else "exists" if r.sha256 in present
                                   else "conflict") for i, r in enumerate(rows)]

    def sessions(self, contributor: str | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE contributor = ?", (contributor,)) if contributor else ("", ())
        with self.tx() as cur:
            rows = cur.execute(
                f"SELECT session, COUNT(*), MAX(count), SUM(size), MIN(policy_hash) FROM chunks {where} "
                "GROUP BY session ORDER BY session", args).fetchall()
        return [{"session": r[0], "chunks": r[1], "count": r[2], "bytes": int(r[3]), "policy_hash": r[4],
                 "complete": r[1] == r[2]} for r in rows]

    def chunks(self, *, session: str | None = None, contributor: str | None = None) -> list[ChunkRow]:
        where, args = [], []
        if session is not None:
            where.append("session = ?")
            args.append(session)
        if contributor is not None:
            where.append("contributor = ?")
            args.append(contributor)
        sql = f"SELECT {_CHUNK_COLS} FROM chunks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.tx() as cur:
            return [ChunkRow(*r) for r in cur.execute(sql + " ORDER BY session, idx", args).fetchall()]

    def delete_chunks(self, shas: list[str]) -> int:
        n = 0
        with self.tx() as cur:
            for i in range(0, len(shas), 500):
                part = shas[i:i + 500]
                n += cur.execute(f"DELETE FROM chunks WHERE sha256 IN ({','.join('?' * len(part))})",
                                 part).rowcount
        return n

    def erase_contributor(self, contributor: str, actor: str, hide_actor: bool = False,
                          datasets: list[str] | None = None) -> tuple[list[str], dict]:
        """Remove every row that names a contributor, in one transaction: devices (their
        rows are deleted first, which fences uploads in flight - see :meth:`_insert_chunks`),
        tokens (their hashes move to ``erased_tokens`` so devices hear 410), enrolment codes,
        chunks and session ownership (sessions become ``erased_sessions`` tombstones for
        dataset builds), and the contributor row with its label HMAC; audit entries naming the
        contributor, their devices or their tokens get a tombstone instead (see audit.py).
        What stays: an ``erasure_receipts`` row naming nobody, the erasure's own audit
        entry (appended in the same transaction; ``hide_actor`` when the person asked), and
        - until ``workprint build --rebuild`` deletes the dataset versions holding them -
        ``dataset_sessions`` rows with the session pseudonyms (linked to nobody any more).
        Returns the blob hashes to delete and the audit entry."""
        now = time.time()
        receipt = secrets.token_hex(8)
        with self.tx() as cur:
            devices = [r[0] for r in cur.execute("SELECT id FROM devices WHERE contributor = ?",
                                                 (contributor,)).fetchall()]
            hashes = [r[0] for r in cur.execute("SELECT hash FROM tokens WHERE contributor = ?",
                                                (contributor,)).fetchall()]
            cur.execute("DELETE FROM devices WHERE contributor = ?", (contributor,))
            for h in hashes:
                cur.execute("INSERT INTO erased_tokens (hash, erased) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING",
                            (h, now))
            cur.execute("DELETE FROM tokens WHERE contributor = ?", (contributor,))
            cur.execute("DELETE FROM enrolment_codes WHERE contributor = ?", (contributor,))
            shas = [r[0] for r in cur.execute("SELECT sha256 FROM chunks WHERE contributor = ?",
                                              (contributor,)).fetchall()]
            for (session,) in cur.execute("SELECT session FROM session_owners WHERE contributor = ? UNION "
                                          "SELECT DISTINCT session FROM chunks WHERE contributor = ?",
                                          (contributor, contributor)).fetchall():
                cur.execute("INSERT INTO erased_sessions (session, erased) VALUES (?, ?) "
                            "ON CONFLICT (session) DO UPDATE SET erased = excluded.erased", (session, now))
            cur.execute("DELETE FROM chunks WHERE contributor = ?", (contributor,))
            cur.execute("DELETE FROM session_owners WHERE contributor = ?", (contributor,))
            cur.execute("DELETE FROM contributors WHERE id = ?", (contributor,))
            cur.execute("INSERT INTO erasure_receipts (id, erased, chunks) VALUES (?, ?, ?)",
                        (receipt, now, len(shas)))
            # how Principal.actor and the collector's audit calls name this person
            ids = [*devices, *(h[:12] for h in hashes)]
            actors = {f"{role}:{i}" for i in ids for role in ("contributor", "device", "self")}
            targets = {contributor, *devices, *(h[:16] for h in hashes)}      # token.revoke names 16
            scrubbed, legacy = self._scrub_audit(cur, actors, targets, receipt)
            entry = self._audit_insert(cur, actor, "contributor.erase", f"receipt:{receipt}", {
                "receipt": receipt, "chunks": len(shas), "scrubbed": scrubbed, "datasets": datasets or [],
                **({"unscrubbable": legacy} if legacy else {})}, hide_actor=hide_actor)
            self._bump_auth_epoch(cur)
        return shas, entry

    def erased_sessions(self, since: float = 0.0) -> list[dict[str, Any]]:
        """Sessions erased since ``since``: dataset builds drop them from earlier builds."""
        with self.tx() as cur:
            rows = cur.execute("SELECT session, erased FROM erased_sessions WHERE erased >= ? "
                               "ORDER BY erased, session", (since,)).fetchall()
        return [{"session": r[0], "erased": r[1]} for r in rows]

    def older_than(self, ts: float) -> list[str]:
        with self.tx() as cur:
            return [r[0] for r in cur.execute("SELECT sha256 FROM chunks WHERE received < ?", (ts,)).fetchall()]

    def over_quota(self, quota_bytes: int) -> list[str]:
        """Oldest chunks to drop so the total stays within ``quota_bytes``."""
        with self.tx() as cur:
            rows = cur.execute("SELECT sha256, size FROM chunks ORDER BY received DESC, sha256").fetchall()
        total, drop = 0, []
        for sha, size in rows:
            total += size
            if total > quota_bytes:
                drop.append(sha)
        return drop

    def all_chunk_shas(self) -> set[str]:
        with self.tx() as cur:
            return {r[0] for r in cur.execute("SELECT sha256 FROM chunks").fetchall()}

    # -- aggregate health (no per-person figures) -----------------------------------------
    def health_counts(self, today: str, week_days: list[str]) -> dict[str, Any]:
        marks = ",".join("?" * len(week_days))
        with self.tx() as cur:
            dev = cur.execute(
                "SELECT COUNT(*), SUM(CASE WHEN revoked IS NULL THEN 0 ELSE 1 END), "
                "SUM(CASE WHEN last_day = ? THEN 1 ELSE 0 END), "
                f"SUM(CASE WHEN last_day IN ({marks}) THEN 1 ELSE 0 END) FROM devices",
                [today, *week_days]).fetchone()
            ch = cur.execute("SELECT COUNT(*), COALESCE(SUM(size), 0), COUNT(DISTINCT session) FROM chunks").fetchone()
            by_policy = cur.execute(
                "SELECT policy_hash, COUNT(DISTINCT contributor), COUNT(*) FROM chunks GROUP BY policy_hash").fetchall()
        return {"devices": dev[0], "revoked": int(dev[1] or 0), "active_today": int(dev[2] or 0),
                "active_7d": int(dev[3] or 0), "chunks": ch[0], "bytes": int(ch[1]), "sessions": ch[2],
                "by_policy": [{"policy_hash": r[0], "contributors": r[1], "chunks": r[2]} for r in by_policy]}

    # -- policy ----------------------------------------------------------------------------
    def add_policy(self, digest: str, body: str) -> None:
        with self.tx() as cur:
            cur.execute("INSERT INTO policies (hash, body, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        (digest, body, time.time()))
            cur.execute("INSERT INTO settings (key, value) VALUES ('current_policy', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (digest,))

    def current_policy(self) -> tuple[str, str] | None:
        with self.tx() as cur:
            row = cur.execute("SELECT p.hash, p.body FROM policies p JOIN settings s "
                              "ON s.key = 'current_policy' AND s.value = p.hash").fetchone()
        return (row[0], row[1]) if row else None

    def policy_body(self, digest: str) -> str | None:
        with self.tx() as cur:
            row = cur.execute("SELECT body FROM policies WHERE hash = ?", (digest,)).fetchone()
        return row[0] if row else None

    def policy_hashes(self) -> set[str]:
        with self.tx() as cur:
            return {r[0] for r in cur.execute("SELECT hash FROM policies").fetchall()}

    # -- dataset versions ---------------------------------------------------------------
    _DATASET_COLS = ("name", "version", "created", "location", "params", "content_digest", "state",
                     "rebuild_due", "deleted")

    def reserve_dataset_version(self, name: str, location_root: str, params: dict[str, Any]) -> int:
        """The next version number of dataset ``name``, held as ``building`` until
        :meth:`finish_dataset_version` (or :meth:`discard_dataset_version`)."""
        with self.tx() as cur:
            row = cur.execute("SELECT MAX(version) FROM datasets WHERE name = ?", (name,)).fetchone()
            version = (row[0] or 0) + 1
            cur.execute("INSERT INTO datasets (name, version, created, location, params, content_digest, state) "
                        "VALUES (?, ?, ?, ?, ?, '', 'building')",
                        (name, version, time.time(), location_root, json.dumps(params, sort_keys=True)))
        return version

    def finish_dataset_version(self, name: str, version: int, location: str, content_digest: str,
                               sessions: list[str]) -> None:
        with self.tx() as cur:
            cur.execute("UPDATE datasets SET location = ?, content_digest = ?, state = 'built' "
                        "WHERE name = ? AND version = ?", (location, content_digest, name, version))
            for s in sessions:
                cur.execute("INSERT INTO dataset_sessions (name, version, session) VALUES (?, ?, ?) "
                            "ON CONFLICT DO NOTHING", (name, version, s))

    def discard_dataset_version(self, name: str, version: int) -> None:
        with self.tx() as cur:
            cur.execute("DELETE FROM dataset_sessions WHERE name = ? AND version = ?", (name, version))
            cur.execute("DELETE FROM datasets WHERE name = ? AND version = ?", (name, version))

    def dataset_versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every built or deleted version (of ``name``), oldest first."""
        where, args = ("AND name = ?", (name,)) if name else ("", ())
        with self.tx() as cur:
            rows = cur.execute(f"SELECT {', '.join(self._DATASET_COLS)} FROM datasets "
                               f"WHERE state <> 'building' {where} ORDER BY name, version", args).fetchall()
        out = [dict(zip(self._DATASET_COLS, r)) for r in rows]
        for d in out:
            d["params"] = json.loads(d["params"])
        return out

    def dataset_sessions(self, name: str, version: int) -> list[str]:
        with self.tx() as cur:
            return [r[0] for r in cur.execute("SELECT session FROM dataset_sessions WHERE name = ? AND "
                                              "version = ? ORDER BY session", (name, version)).fetchall()]

    def datasets_holding(self, contributor: str) -> list[tuple[str, int]]:
        """Built (not deleted) dataset versions that hold a session of ``contributor``."""
        with self.tx() as cur:
            rows = cur.execute(
                "SELECT DISTINCT d.name, d.version FROM datasets d JOIN dataset_sessions ds "
                "ON ds.name = d.name AND ds.version = d.version "
                "WHERE d.state = 'built' AND ds.session IN (SELECT session FROM session_owners "
                "WHERE contributor = ? UNION SELECT session FROM chunks WHERE contributor = ?) "
                "ORDER BY d.name, d.version", (contributor, contributor)).fetchall()
        return [(r[0], int(r[1])) for r in rows]

    def expire_sessions(self, shas: list[str]) -> list[tuple[str, int]]:
        """Retention is deleting ``shas``: their sessions become ``erased_sessions``
        tombstones (dataset builds drop them) and the built dataset versions holding them
        are returned (to be rebuilt). Call before the chunk rows go."""
        sessions: set[str] = set()
        with self.tx() as cur:
            for i in range(0, len(shas), 500):
                part = shas[i:i + 500]
                sessions.update(r[0] for r in cur.execute(
                    f"SELECT DISTINCT session FROM chunks WHERE sha256 IN ({','.join('?' * len(part))})",
                    part).fetchall())
            now, found = time.time(), set()
            for s in sorted(sessions):
                cur.execute("INSERT INTO erased_sessions (session, erased) VALUES (?, ?) "
                            "ON CONFLICT (session) DO UPDATE SET erased = excluded.erased", (s, now))
                found.update((r[0], int(r[1])) for r in cur.execute(
                    "SELECT d.name, d.version FROM datasets d JOIN dataset_sessions ds ON ds.name = d.name "
                    "AND ds.version = d.version WHERE d.state = 'built' AND ds.session = ?", (s,)).fetchall())
        return sorted(found)

    def datasets_with_erased_sessions(self, name: str) -> list[int]:
        """Built versions of ``name`` that hold a session erased since they were built."""
        with self.tx() as cur:
            rows = cur.execute(
                "SELECT DISTINCT d.version FROM datasets d JOIN dataset_sessions ds "
                "ON ds.name = d.name AND ds.version = d.version JOIN erased_sessions e "
                "ON e.session = ds.session WHERE d.name = ? AND d.state = 'built' ORDER BY d.version",
                (name,)).fetchall()
        return [int(r[0]) for r in rows]

    def mark_rebuild_due(self, versions: list[tuple[str, int]], due: float) -> None:
        """Versions that must be rebuilt without an erased person by ``due`` (the earliest
        deadline stays)."""
        with self.tx() as cur:
            for name, version in versions:
                cur.execute("UPDATE datasets SET rebuild_due = ? WHERE name = ? AND version = ? AND "
                            "(rebuild_due IS NULL OR rebuild_due > ?)", (due, name, version, due))

    def delete_dataset_version(self, name: str, version: int, state: str = "deleted") -> None:
        """The version's objects are gone (``state`` ``withdrawn``: a tombstone is left in
        their place): forget which sessions it held."""
        if state not in ("deleted", "withdrawn"):
            raise ValueError(f"dataset version state {state!r}")
        with self.tx() as cur:
            cur.execute("DELETE FROM dataset_sessions WHERE name = ? AND version = ?", (name, version))
            cur.execute("UPDATE datasets SET state = ?, deleted = ?, rebuild_due = NULL "
                        "WHERE name = ? AND version = ?", (state, time.time(), name, version))

    # -- audit log (append-only, hash-chained) --------------------------------------------
    def audit_append(self, actor: str, action: str, target: str, detail: dict[str, Any]) -> dict[str, Any]:
        with self.tx() as cur:
            return self._audit_insert(cur, actor, action, target, detail)

    def _audit_insert(self, cur: Any, actor: str, action: str, target: str, detail: dict[str, Any],
                      *, hide_actor: bool = False) -> dict[str, Any]:
        self._audit_lock(cur)
        last = cur.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        if hide_actor:     # the erasure entry's own actor is the person: it scrubs itself too
            detail = {**detail, "scrubbed": [*detail["scrubbed"], seq]}
        entry = seal({"seq": seq, "ts": round(time.time(), 6), "actor": actor, "action": action,
                      "target": target, "detail": json.dumps(detail, sort_keys=True, separators=(",", ":"))},
                     hide_actor=hide_actor)
        entry["prev"] = prev
        entry["hash"] = entry_hash(prev, entry)
        cur.execute(f"INSERT INTO audit ({', '.join(_AUDIT_COLS)}) VALUES ({', '.join('?' * len(_AUDIT_COLS))})",
                    tuple(entry[k] for k in _AUDIT_COLS))
        return entry

    def _scrub_audit(self, cur: Any, actors: set[str], targets: set[str], receipt: str) -> tuple[list[int], int]:
        """Replace every actor/target value in ``actors``/``targets`` by the erasure's tombstone
        and drop its nonce (the commitment stays, so the chain still verifies). Returns the
        sequence numbers scrubbed and how many version-1 entries name them (not scrubbable)."""
        scrubbed, legacy = set(), 0
        dead = tombstone(receipt)
        for field, values in (("actor", sorted(actors)), ("target", sorted(targets))):
            for i in range(0, len(values), 500):
                part = values[i:i + 500]
                marks = ",".join("?" * len(part))
                rows = cur.execute(f"SELECT seq, v FROM audit WHERE {field} IN ({marks})", part).fetchall()
                legacy += sum(1 for r in rows if r[1] != 2)
                seqs = [r[0] for r in rows if r[1] == 2]
                for j in range(0, len(seqs), 500):
                    sp = seqs[j:j + 500]
                    cur.execute(f"UPDATE audit SET {field} = ?, {field}_nonce = NULL WHERE seq IN "
                                f"({','.join('?' * len(sp))})", (dead, *sp))
                scrubbed.update(seqs)
        return sorted(scrubbed), legacy

    def audit_entries(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self.tx() as cur:
            rows = cur.execute(f"SELECT {', '.join(_AUDIT_COLS)} FROM audit "
                               "WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall()
        return [dict(zip(_AUDIT_COLS, r)) for r in rows]

    def close(self) -> None:
        pass


class SqliteMeta(SqlMeta):
    """One file, WAL mode, one connection per thread; writers serialise on a lock
    (in-process) and ``busy_timeout`` (across collector processes)."""

    dialect = "sqlite"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self.init_schema()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")   # an acknowledged chunk survives a crash
            conn.execute("PRAGMA busy_timeout = 30000")
            self._local.conn = conn
            self._conns.append(conn)
        return conn

    @contextmanager
    def tx(self) -> Iterator[Any]:
        conn = self._conn()
        with self._write:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def ro(self) -> Iterator[Any]:
        yield self._conn()   # autocommit reads see the last committed state (WAL)

    def _audit_lock(self, cur: Any) -> None:
        pass  # BEGIN IMMEDIATE already holds the database write lock

    def close(self) -> None:
        for c in self._conns:
            try:
                c.close()
            except sqlite3.Error:
                pass


class _PgCursor:
    """Adapts ``?`` placeholders to psycopg's ``%s``."""

    def __init__(self, conn: Any):
        self._conn = conn

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self._conn.execute(sql.replace("%", "%%").replace("?", "%s"), params)


class PostgresMeta(SqlMeta):
    dialect = "postgresql"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 16):
        require("psycopg", "server", "the PostgreSQL metadata store")
        ConnectionPool = require("psycopg_pool", "server", "the PostgreSQL metadata store").ConnectionPool
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                                   kwargs={"connect_timeout": 10})
        try:
            self.pool.open(wait=True, timeout=15)
        except Exception as exc:
            raise ConfigError(f"cannot connect to PostgreSQL at {url.split('@')[-1]}: {exc}") from None
        with self.tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(7474)")  # one schema creator at a time
            for stmt in SCHEMA:
                cur.execute(stmt)
            self._migrate(cur)

    def init_schema(self) -> None:
        pass

    def _has_column(self, cur: Any, table: str, column: str) -> bool:
        return cur.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                           "AND table_name = ? AND column_name = ?", (table, column)).fetchone() is not None

    @contextmanager
    def tx(self) -> Iterator[Any]:
        with self.pool.connection() as conn:
            with conn.transaction():
                yield _PgCursor(conn)

    def _audit_lock(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(7475)")

    def close(self) -> None:
        self.pool.close()


def open_meta(url: str) -> SqlMeta:
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresMeta(url)
    if url.startswith("sqlite:"):
        return SqliteMeta(Path(url[7:]))
    if "://" in url:
        raise ConfigError(f"--db {url!r}: use sqlite:/path/meta.db or postgresql://user:pass@host:port/db")
    return SqliteMeta(Path(url))
