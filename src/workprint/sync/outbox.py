"""The outbox: sealed chunks waiting for the collector, with a quota and retry/backoff.

Layout: ``<data-dir>/outbox/outbox.db`` (queue) and ``<data-dir>/outbox/chunks/<sha>.wpc``.
A chunk file is deleted only after the collector acknowledged it (a 2xx answer to its
upload, or the collector listing it as present) - the collector acknowledges only after a
durable commit. Transient failures back off exponentially (capped at ``max_backoff_s``),
so a device offline for days retries a few times an hour and catches up when it is back.
A chunk the collector refuses for good (4xx) is kept as ``rejected`` with the reason and
the time, and its session reads as refused (:meth:`Outbox.sessions`) until the contributor
withholds it (:meth:`Outbox.withdraw`) or approves it again (:meth:`Outbox.retry`).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import CorruptSessionError
from ..store.private import private_dir, private_file
from ..store.session import DataDir
from .chunk import seal_session
from .client import Client, Credential, SyncError
from .review import Review

OUTBOX = "outbox"
DEFAULT_QUOTA = 2 * 1024 ** 3


@dataclass
class FillReport:
    sealed: list[str] = field(default_factory=list)
    chunks: int = 0
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SessionUpload:
    """Where one sealed session stands in the outbox."""

    session: str
    state: str                  # queued | uploaded | refused | erased
    chunks: int
    uploaded: int
    refused: int
    reason: str | None = None   # the collector's words for the first refused chunk
    refused_at: float | None = None
    erased_at: float | None = None   # state erased: when the contributor's data was erased


@dataclass
class SyncReport:
    uploaded: int = 0
    already_present: int = 0
    failed: int = 0
    rejected: list[str] = field(default_factory=list)
    remaining: int = 0
    next_try: float | None = None
    error: str | None = None


class Outbox:
    def __init__(self, data_dir: Path, *, quota_bytes: int = DEFAULT_QUOTA,
                 clock: Callable[[], float] = time.time, base_backoff_s: float = 5.0,
                 max_backoff_s: float = 1800.0, chunk_bytes: int = 4 * 1024 * 1024):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / OUTBOX
        self.files = self.root / "chunks"
        private_dir(self.data_dir)
        private_dir(self.root)
        private_dir(self.files)
        self.quota, self.clock = quota_bytes, clock
        self.base_backoff, self.max_backoff, self.chunk_bytes = base_backoff_s, max_backoff_s, chunk_bytes
        self.db = sqlite3.connect(private_file(self.root / "outbox.db"), isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        for p in (*self.root.glob("outbox.db-*"), *self.files.iterdir()):
            private_file(p)  # left by an older workprint with a wider mode
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, sealed REAL NOT NULL,
                chunks INTEGER NOT NULL, done REAL);
            CREATE TABLE IF NOT EXISTS chunks (sha256 TEXT PRIMARY KEY, session_id TEXT NOT NULL,
                idx INTEGER NOT NULL, size INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'queued',
                attempts INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL DEFAULT 0, error TEXT,
                acked REAL);
            CREATE INDEX IF NOT EXISTS chunks_state ON chunks (state, next_try);
        """)
        if "refused" not in {r[1] for r in self.db.execute("PRAGMA table_info(chunks)")}:
            self.db.execute("ALTER TABLE chunks ADD COLUMN refused REAL")  # outboxes before 0.x
        if "erased" not in {r[1] for r in self.db.execute("PRAGMA table_info(sessions)")}:
            self.db.execute("ALTER TABLE sessions ADD COLUMN erased REAL")  # when purge() ran

    @classmethod
    def existing(cls, data_dir: Path, **kw) -> "Outbox | None":
        """The outbox of ``data_dir`` if one was ever created (None: nothing was sealed;
        reading states never creates an outbox)."""
        if not (Path(data_dir) / OUTBOX / "outbox.db").exists():
            return None
        return cls(data_dir, **kw)

    def close(self) -> None:
        self.db.close()

    # -- filling ---------------------------------------------------------------------------
    def used_bytes(self) -> int:
        return self.db.execute("SELECT COALESCE(SUM(size), 0) FROM chunks WHERE state != 'acked'").fetchone()[0]

    def fill(self, cred: Credential, review: Review, auto_approve_s: float | None = None) -> FillReport:
        """Seal every eligible session not sealed yet, within the quota."""
        report = FillReport()
        done = {r[0] for r in self.db.execute("SELECT session_id FROM sessions")}
        todo = [s for s in review.eligible(auto_approve_s, self.clock()) if s not in done]
        used = self.used_bytes()
        store = DataDir(self.data_dir)
        for i, sid in enumerate(todo):
            try:
                with store.open(sid) as session, session.reading():
                    chunks = seal_session(session, device_key=cred.key, target_bytes=self.chunk_bytes)
            except CorruptSessionError as exc:  # the other sessions are sealed all the same
                report.warnings.append(str(exc))
                continue
            size = sum(len(c.data) for c in chunks)
            if used + size > self.quota:
                report.warnings.append(
                    f"outbox quota reached ({used / 1e6:.1f} of {self.quota / 1e6:.1f} MB): "
                    f"{len(todo) - i} approved session(s) wait until uploads free space "
                    f"(raise it with --outbox-quota-mb)")
                break
            for c in chunks:
                self._write_file(c.sha256, c.data)
            with self._tx():
                self.db.executemany("INSERT OR IGNORE INTO chunks (sha256, session_id, idx, size) VALUES (?, ?, ?, ?)",
                                    [(c.sha256, sid, c.manifest["index"], len(c.data)) for c in chunks])
                self.db.execute("INSERT INTO sessions (session_id, sealed, chunks) VALUES (?, ?, ?)",
                                (sid, self.clock(), len(chunks)))
            used += size
            report.sealed.append(sid)
            report.chunks += len(chunks)
            report.bytes += size
        if not report.warnings and used > 0.8 * self.quota:
            report.warnings.append(f"outbox is {100 * used / self.quota:.0f}% full "
                                   f"({used / 1e6:.1f} of {self.quota / 1e6:.1f} MB)")
        return report

    def _write_file(self, sha: str, data: bytes) -> None:
        tmp = self.files / f".{sha}.tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.files / f"{sha}.wpc")

    def withdraw(self, session_id: str) -> int:
        """Take a session's chunks that are not uploaded yet out of the queue (``forget``
        deleted part of it: they hold what was forgotten). Their files are zero-filled, then
        removed; a session none of whose chunks was uploaded is sealed afresh by the next
        :meth:`fill`. Returns how many chunks were withdrawn."""
        shas = [r[0] for r in self.db.execute(
            "SELECT sha256 FROM chunks WHERE session_id = ? AND state != 'acked'", (session_id,))]
        for sha in shas:
            path = self.files / f"{sha}.wpc"
            try:
                size = path.stat().st_size
                with open(path, "r+b", buffering=0) as f:
                    f.write(bytes(size))
                    os.fsync(f.fileno())
                path.unlink()
            except FileNotFoundError:
                pass
        with self._tx():
            self.db.execute("DELETE FROM chunks WHERE session_id = ? AND state != 'acked'", (session_id,))
            self.db.execute("DELETE FROM sessions WHERE session_id = ? AND erased IS NULL AND NOT EXISTS "
                            "(SELECT 1 FROM chunks WHERE session_id = ?)", (session_id, session_id))
        return len(shas)

    def purge(self, local_sessions: Iterable[str] = ()) -> int:
        """Empty the outbox after an erasure: every chunk not uploaded yet is zero-filled
        and removed. Every session of the outbox, and every one of ``local_sessions`` (the
        sessions on this computer at the time), is marked erased: it reads as erased in
        review and is never sealed or uploaded again, also after enrolling anew. Returns how
        many chunks were dropped."""
        shas = [r[0] for r in self.db.execute("SELECT sha256 FROM chunks WHERE state != 'acked'")]
        for sha in shas:
            path = self.files / f"{sha}.wpc"
            try:
                with open(path, "r+b", buffering=0) as f:
                    f.write(bytes(path.stat().st_size))
                    os.fsync(f.fileno())
                path.unlink()
            except FileNotFoundError:
                pass
        now = self.clock()
        with self._tx():
            self.db.execute("DELETE FROM chunks")
            self.db.execute("UPDATE sessions SET done = COALESCE(done, ?), erased = COALESCE(erased, ?)",
                            (now, now))
            self.db.executemany("INSERT OR IGNORE INTO sessions (session_id, sealed, chunks, done, erased) "
                                "VALUES (?, ?, 0, ?, ?)", [(sid, now, now, now) for sid in local_sessions])
        return len(shas)

    def _tx(self):
        db = self.db

        class _T:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
        return _T()

    # -- sending ---------------------------------------------------------------------------
    def _backoff(self, attempts: int) -> float:
        delay = min(self.max_backoff, self.base_backoff * 2 ** min(attempts - 1, 30))
        return delay * random.uniform(0.8, 1.2)

    def _ack(self, sha: str) -> None:
        with self._tx():
            self.db.execute("UPDATE chunks SET state = 'acked', acked = ?, error = NULL WHERE sha256 = ?",
                            (self.clock(), sha))
            self.db.execute("UPDATE sessions SET done = ? WHERE done IS NULL AND session_id IN "
                            "(SELECT session_id FROM chunks WHERE sha256 = ?) AND NOT EXISTS "
                            "(SELECT 1 FROM chunks c WHERE c.session_id = sessions.session_id "
                            "AND c.state != 'acked')", (self.clock(), sha))
        try:
            (self.files / f"{sha}.wpc").unlink()
        except FileNotFoundError:
            pass

    def _fail(self, sha: str, error: str, permanent: bool) -> None:
        if permanent:
            self.db.execute("UPDATE chunks SET state = 'rejected', error = ?, refused = ? WHERE sha256 = ?",
                            (error, self.clock(), sha))
            return
        attempts = self.db.execute("SELECT attempts FROM chunks WHERE sha256 = ?", (sha,)).fetchone()[0] + 1
        self.db.execute("UPDATE chunks SET attempts = ?, next_try = ?, error = ? WHERE sha256 = ?",
                        (attempts, self.clock() + self._backoff(attempts), error, sha))

    def sync(self, client: Client, *, force: bool = False, deadline_s: float | None = None,
             progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Upload due chunks (all queued ones with ``force``). Stops at the first network
        failure: when the collector is unreachable every chunk waits for its backoff.
        ``progress(done, total)`` as the due chunks are worked through (uploaded, already
        there, refused or failed)."""
        report = SyncReport()
        now = self.clock()
        start = time.monotonic()
        due = [r[0] for r in self.db.execute(
            "SELECT sha256 FROM chunks WHERE state = 'queued' AND (? OR next_try <= ?) ORDER BY session_id, idx",
            (force, now))]
        try:
            missing = set(client.missing(due)) if due else set()
        except SyncError as exc:
            for sha in due:
                self._fail(sha, str(exc), exc.permanent and exc.status != 401)
            report.failed, report.error = len(due), str(exc)
            due = []
        settled = 0
        for sha in due:
            if progress:
                progress(settled, len(due))
            settled += 1
            if sha not in missing:
                self._ack(sha)
                report.already_present += 1
                continue
            if deadline_s is not None and time.monotonic() - start > deadline_s:
                break
            try:
                data = (self.files / f"{sha}.wpc").read_bytes()
            except FileNotFoundError:
                self._fail(sha, "chunk file missing from the outbox", True)
                report.rejected.append(sha)
                continue
            try:
                client.put_chunk(sha, data)
            except SyncError as exc:
                if exc.status == 410:         # erased on request: the caller empties the outbox
                    report.failed, report.error = report.failed + 1, str(exc)
                    break
                if exc.status in (401, 403):  # revoked or not enrolled: keep everything, stop
                    self._fail(sha, str(exc), False)
                    report.failed, report.error = report.failed + 1, str(exc)
                    break
                self._fail(sha, str(exc), exc.permanent)
                if exc.permanent:
                    report.rejected.append(f"{sha[:12]}: {exc}")
                    continue
                report.failed += 1
                report.error = str(exc)
                if exc.status is None or exc.status >= 500 or exc.status == 429:
                    # unreachable / overloaded: let every other chunk wait for its backoff too
                    break
                continue
            self._ack(sha)
            report.uploaded += 1
        if progress and due:
            progress(settled, len(due))
        st = self.status()
        report.remaining, report.next_try = st["queued"], st["next_try"]
        return report

    def status(self) -> dict:
        rows = dict(self.db.execute("SELECT state, COUNT(*) FROM chunks GROUP BY state").fetchall())
        nxt = self.db.execute("SELECT MIN(next_try) FROM chunks WHERE state = 'queued'").fetchone()[0]
        errors = [dict(sha256=s, error=e) for s, e in self.db.execute(
            "SELECT sha256, error FROM chunks WHERE state = 'rejected' ORDER BY sha256 LIMIT 20")]
        return {"queued": rows.get("queued", 0), "acked": rows.get("acked", 0),
                "rejected": rows.get("rejected", 0), "bytes_waiting": self.used_bytes(),
                "quota_bytes": self.quota, "next_try": nxt, "rejected_reasons": errors,
                "sessions_done": self.db.execute("SELECT COUNT(*) FROM sessions WHERE done IS NOT NULL").fetchone()[0],
                "sessions_sealed": self.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]}

    def sessions(self) -> dict[str, SessionUpload]:
        """Every sealed session: ``uploaded`` once all its chunks are acknowledged,
        ``refused`` while any chunk was refused for good (with the first reason),
        ``queued`` otherwise."""
        out: dict[str, SessionUpload] = {}
        for sid, n, at in self.db.execute("SELECT session_id, chunks, erased FROM sessions WHERE erased IS NOT NULL"):
            out[sid] = SessionUpload(sid, "erased", n, 0, 0, None, None, erased_at=at)
        for sid, n, acked, refused in self.db.execute(
                "SELECT session_id, COUNT(*), SUM(state = 'acked'), SUM(state = 'rejected') "
                "FROM chunks GROUP BY session_id"):
            reason = at = None
            if refused:
                reason, at = self.db.execute(
                    "SELECT error, refused FROM chunks WHERE session_id = ? AND state = 'rejected' "
                    "ORDER BY idx LIMIT 1", (sid,)).fetchone()
            if sid in out:
                continue
            state = "refused" if refused else "uploaded" if acked == n else "queued"
            out[sid] = SessionUpload(sid, state, n, acked, refused, reason, at)
        return out

    def retry(self, session_id: str) -> int:
        """Queue a session's refused chunks again (the contributor approved it once more,
        e.g. after the program owner changed the collector). Returns how many."""
        return self.db.execute(
            "UPDATE chunks SET state = 'queued', attempts = 0, next_try = 0, error = NULL, refused = NULL "
            "WHERE session_id = ? AND state = 'rejected'", (session_id,)).rowcount

    def uploaded_sessions(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT session_id FROM sessions WHERE done IS NOT NULL")]


class ForgetHook:
    """What the store's forget functions ask of the outbox
    (:class:`workprint.store.forget.OutboxHook`): the store never opens the outbox."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    def withdraw(self, session_id: str) -> int:
        box = Outbox(self.data_dir)
        try:
            return box.withdraw(session_id)
        finally:
            box.close()

    def warnings(self, session_id: str) -> list[str]:
        """What a person must still do about a session part of which was just forgotten:
        chunks still queued hold the forgotten data; uploaded ones are on the collector."""
        box = Outbox(self.data_dir)
        try:
            rows = dict(box.db.execute(
                "SELECT state = 'acked', COUNT(*) FROM chunks WHERE session_id = ? "
                "GROUP BY state = 'acked'", (session_id,)).fetchall())
        finally:
            box.close()
        out = []
        if rows.get(0):
            out.append(f"{rows[0]} sealed chunk(s) of session {session_id} are still queued for "
                       f"upload in {box.root} and hold the forgotten data; withhold the session "
                       f"before the next `workprint sync`")
        if rows.get(1):
            out.append(f"session {session_id} was already uploaded ({rows[1]} chunk(s)); ask the "
                       f"program owner to erase it on the collector")
        return out


def forget_hook(data_dir: Path) -> ForgetHook | None:
    """The outbox's part in ``forget`` (withdraw a session's unsent chunks, say what is left
    to do), or None when there is no outbox (forget never creates one)."""
    if not (Path(data_dir) / OUTBOX / "outbox.db").exists():
        return None
    return ForgetHook(data_dir)
