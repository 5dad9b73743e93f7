"""The embedded session store: one folder per session, SQLite in WAL mode.

Layout of a data dir::

    <data-dir>/sessions/<session-id>/session.db    events, frames, tiles, metadata
    <data-dir>/sessions/<session-id>/recorder.lock  held (flock) while a recorder writes

Frames are stored as content-addressed tiles: a frame is a manifest (grid of tile
digests), a tile is an image stored once per session however many frames show it.
Identical frames share one manifest. Everything of a session lives in one SQLite file
so that deleting (``forget``) can be made irrecoverable with ``secure_delete`` + VACUUM.

Durability: the writer commits at least every ``flush_interval`` seconds with
``synchronous=NORMAL`` in WAL mode, so a ``kill -9`` of the recorder loses at most that
window. A session whose ``state`` is still ``recording`` while nobody holds its lock was
interrupted; opening it marks it so.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..errors import CorruptSessionError, DiskFullError, SessionNotFound, StoreError, StoreVersionError
from ..events import EVENT_VERSION, FrameRef, GapEvent, RawEvent, from_row, to_row
from .private import private_dir, private_file, private_tree

#: Version of the on-disk schema. Bump on incompatible change.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, t_ns INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_t ON events (t_ns);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY, t_ns INTEGER NOT NULL, frame_id TEXT NOT NULL,
    reason TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS frames_t ON frames (t_ns);
CREATE TABLE IF NOT EXISTS manifests (
    frame_id TEXT PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL,
    tile INTEGER NOT NULL, digests BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tiles (
    digest BLOB PRIMARY KEY, format TEXT NOT NULL, data BLOB NOT NULL);
"""

DB_NAME = "session.db"
LOCK_NAME = "recorder.lock"
DIGEST_BYTES = 16


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and (
        "disk is full" in str(exc) or "database or disk is full" in str(exc))


def new_session_id(now: datetime | None = None) -> str:
    """Sortable, unique: ``20261125-163825-3f9a2c``."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def is_corruption(exc: BaseException) -> bool:
    """True when ``exc`` says the database file itself is damaged or is no session store
    (as opposed to busy, locked, read-only or out of space)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(exc)
    return (code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text
            or "not a database" in text or "no such table" in text or "no such column" in text)


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def _check_version(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{path} was written by a newer workprint (store schema {version}, this version "
            f"reads up to {SCHEMA_VERSION}). Upgrade workprint to open it.")


@dataclass
class SessionSummary:
    """What ``workprint sessions`` shows for one session."""

    id: str
    path: str
    start: str | None
    end: str | None
    duration_s: float | None
    events: dict[str, int]
    frames: int
    unique_frames: int
    dropped_frames: int
    apps: list[str]
    bytes_on_disk: int
    interrupted: bool
    state: str
    extra: dict[str, Any] = field(default_factory=dict)


class ForgottenSpans:
    """Spans of ``t_ns`` that ``forget`` covered while the session was being recorded:
    whatever of them any stage still held is never written. Thread-safe."""

    def __init__(self) -> None:
        self._spans: tuple[tuple[int, int], ...] = ()
        self._lock = threading.Lock()

    def add(self, since_ns: int, until_ns: int) -> None:
        with self._lock:
            self._spans = self._spans + ((since_ns, until_ns),)

    def covers(self, t_ns: int) -> bool:
        return any(a <= t_ns <= b for a, b in self._spans)  # replaced, never mutated

    def __bool__(self) -> bool:
        return bool(self._spans)


class SessionWriter:
    """Appends one session's events and frames. Thread-safe; commits in batches.

    Call :meth:`flush` regularly (the recorder does, every ~0.25 s) and :meth:`close`
    at the end. Raises :class:`DiskFullError` when the disk is full; the store stays
    consistent (the failing transaction is rolled back).
    """

    def __init__(self, folder: Path, session_id: str, meta: dict[str, Any]):
        self.folder = folder
        self.id = session_id
        private_dir(folder)
        self._lock_fd = os.open(private_file(folder / LOCK_NAME), os.O_RDWR)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        private_file(folder / DB_NAME)  # 0600 before SQLite opens it: its -wal/-shm inherit that
        self._conn = _connect(folder / DB_NAME)
        self._mutex = threading.Lock()
        self._pending = 0
        self._closed = False
        #: spans ``forget`` covered while recording: nothing in them is written any more
        self.forgotten = ForgottenSpans()
        self.forgotten_writes = 0  # events and frames not written because of that
        c = self._conn
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA synchronous = NORMAL")
        c.execute("PRAGMA secure_delete = ON")
        c.execute("PRAGMA journal_size_limit = 1048576")  # keep the WAL small after checkpoints
        _check_version(c, folder / DB_NAME)
        c.executescript(_SCHEMA)
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        private_tree(folder)  # files an earlier run or another tool left with a wider mode
        self._known_tiles: set[bytes] = set()
        self._known_frames: set[str] = set()
        self._data_version = c.execute("PRAGMA data_version").fetchone()[0]
        now = datetime.now(timezone.utc)
        base = {
            "id": session_id,
            "schema": SCHEMA_VERSION,
            "event_version": EVENT_VERSION,
            "start_wall": now.isoformat(timespec="milliseconds"),
            "start_mono_ns": time.monotonic_ns(),
            "state": "recording",
            "dropped_frames": 0,
        }
        base.update(meta)
        self._guard(lambda: self._write_meta(base))

    # -- writing ------------------------------------------------------------------------
    def _write_meta(self, items: dict[str, Any]) -> None:
        self._conn.execute("BEGIN")
        self._conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()])
        self._conn.execute("COMMIT")

    def _guard(self, fn):
        try:
            return fn()
        except (sqlite3.OperationalError, OSError) as exc:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if _is_disk_full(exc):
                raise DiskFullError(
                    f"The disk holding {self.folder} is full; recording stopped. Everything "
                    f"written before this point is intact. Free some space (or record to "
                    f"another --data-dir) and start again.") from exc
            raise StoreError(f"Could not write to {self.folder / DB_NAME}: {exc}") from exc

    def set_meta(self, **items: Any) -> None:
        with self._mutex:
            self._guard(lambda: self._write_meta(items))

    def forget(self, since_ns: int, until_ns: int) -> None:
        """From now on, write no event or frame whose ``t_ns`` lies in the span (the
        recorder's stages may still hold some; :func:`~workprint.store.forget.forget_last`
        deletes what was written before). A write in progress finishes first."""
        with self._mutex:
            self.forgotten.add(since_ns, until_ns)

    def add_events(self, events: Iterable[RawEvent]) -> int:
        """Write events (those inside a forgotten span are dropped); how many were written."""
        return self._add_events(events, True)

    def try_add_events(self, events: Iterable[RawEvent]) -> int | None:
        """As :meth:`add_events`, but None - nothing written - when another write (a frame)
        holds the store at this moment, so that the caller can go on and try again."""
        return self._add_events(events, False)

    def _add_events(self, events: Iterable[RawEvent], wait: bool) -> int | None:
        if not self._mutex.acquire(blocking=wait):
            return None
        try:
            rows = [to_row(e) for e in events]
            if self.forgotten:  # held by a stage while forget covered their time
                kept = [r for r in rows if not self.forgotten.covers(r[0])]
                self.forgotten_writes += len(rows) - len(kept)
                rows = kept
            if not rows:
                return 0

            def write():
                self._conn.execute("BEGIN")
                self._conn.executemany("INSERT INTO events (t_ns, kind, data) VALUES (?, ?, ?)", rows)
                self._conn.execute("COMMIT")

            self._guard(write)
            return len(rows)
        finally:
            self._mutex.release()

    def _sync_cache(self) -> bool:
        """Forget what we believe is stored if another connection changed the database
        (``workprint forget`` on a live session). True if the cache was dropped."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version:
            return False
        self._data_version = version
        self._known_tiles.clear()
        self._known_frames.clear()
        return True

    def has_tile(self, digest: bytes) -> bool:
        return bool(self.stored_tiles((digest,)))

    def stored_tiles(self, digests: Iterable[bytes]) -> set[bytes]:
        """Which of ``digests`` this session has stored (one look at the store for all of
        them: a frame's changed tiles are asked together)."""
        with self._mutex:
            self._sync_cache()
            return {d for d in digests if d in self._known_tiles}

    def add_frame(self, ref: FrameRef, tile: int, digests: Sequence[bytes],
                  new_tiles: dict[bytes, tuple[str, bytes]]) -> bool:
        """Store one frame: its manifest (unless an identical frame exists) and any tiles
        not stored yet. ``new_tiles`` maps digest -> (format, encoded bytes). Returns False
        (nothing written) if a tile it relies on was deleted meanwhile; the caller then
        re-encodes from scratch."""

        def write():
            self._conn.execute("BEGIN")
            fresh = [(d, fmt, data) for d, (fmt, data) in new_tiles.items()
                     if d not in self._known_tiles]
            if fresh:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO tiles (digest, format, data) VALUES (?, ?, ?)", fresh)
            if ref.frame_id not in self._known_frames:
                self._conn.execute(
                    "INSERT OR IGNORE INTO manifests (frame_id, width, height, tile, digests) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (ref.frame_id, ref.width, ref.height, tile, b"".join(digests)))
            self._conn.execute(
                "INSERT INTO frames (t_ns, frame_id, reason, width, height) VALUES (?, ?, ?, ?, ?)",
                (ref.t_ns, ref.frame_id, ref.reason, ref.width, ref.height))
            self._conn.execute("COMMIT")
            self._known_tiles.update(d for d, _, _ in fresh)
            self._known_frames.add(ref.frame_id)

        with self._mutex:
            if self.forgotten.covers(ref.t_ns):
                self.forgotten_writes += 1
                return False  # grabbed inside a forgotten span: never written
            if self._sync_cache():
                relied = list({d for d in digests if d not in new_tiles})
                present = set()
                for i in range(0, len(relied), 500):
                    part = relied[i:i + 500]
                    present.update(d for (d,) in self._conn.execute(
                        f"SELECT digest FROM tiles WHERE digest IN ({','.join('?' * len(part))})", part))
                if len(present) != len(relied):
                    return False
                self._known_tiles.update(present)
            self._guard(write)
        return True

    def close(self, *, state: str = "complete", **meta: Any) -> None:
        if self._closed:
            return
        self._closed = True
        final = {"state": state, "end_wall": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                 "end_mono_ns": time.monotonic_ns(), **meta}
        try:
            with self._mutex:
                self._guard(lambda: self._write_meta(final))
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except (StoreError, sqlite3.Error):
            pass  # disk full at close: the session reads as interrupted, data intact
        finally:
            self._conn.close()
            os.close(self._lock_fd)


class Session:
    """Read access to one stored session."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.id = folder.name
        db = folder / DB_NAME
        if not db.exists():
            raise SessionNotFound(f"No session at {folder}.")
        self._conn = _connect(db)
        try:
            with self.reading():
                _check_version(self._conn, db)
                self.meta = self._read_meta()
                if self.meta.get("state") == "recording" and not self._writer_alive():
                    self.meta["state"] = "interrupted"
                    self._mark_interrupted()
        except BaseException:
            self._conn.close()
            raise

    def reading(self) -> "_Reading":
        """``with session.reading(): ...`` turns a damaged database file met inside into a
        :class:`CorruptSessionError` naming this session (other errors pass unchanged)."""
        return _Reading(self)

    def _read_meta(self) -> dict[str, Any]:
        rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        try:
            return {k: json.loads(v) for k, v in rows}
        except (TypeError, ValueError) as exc:
            raise CorruptSessionError(self.id, self.folder / DB_NAME, f"unreadable metadata: {exc}") from exc

    def _writer_alive(self) -> bool:
        lock = self.folder / LOCK_NAME
        if not lock.exists():
            return False
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def _mark_interrupted(self) -> None:
        last = self._conn.execute(
            "SELECT MAX(t) FROM (SELECT MAX(t_ns) AS t FROM events UNION ALL SELECT MAX(t_ns) FROM frames)"
        ).fetchone()[0]
        try:
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('state', ?), ('last_t_ns', ?)",
                (json.dumps("interrupted"), json.dumps(last)))
        except sqlite3.OperationalError:
            pass  # read-only media: still reported as interrupted
        self.meta["last_t_ns"] = last

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------
    @property
    def interrupted(self) -> bool:
        return self.meta.get("state") == "interrupted"

    def events(self, kinds: Iterable[str] | None = None,
               since_ns: int | None = None, until_ns: int | None = None) -> Iterator[RawEvent]:
        """Events in time order (ties in insertion order)."""
        sql = "SELECT t_ns, kind, data FROM events"
        where, args = [], []
        if kinds is not None:
            kinds = list(kinds)
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args += kinds
        if since_ns is not None:
            where.append("t_ns >= ?")
            args.append(since_ns)
        if until_ns is not None:
            where.append("t_ns < ?")
            args.append(until_ns)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY t_ns, id"
        for t, k, d in self._conn.execute(sql, args):
            yield from_row(t, k, d)

    def event_counts(self) -> dict[str, int]:
        return dict(self._conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())

    def frames(self) -> list[FrameRef]:
        return [FrameRef(*r) for r in self._conn.execute(
            "SELECT t_ns, frame_id, reason, width, height FROM frames ORDER BY t_ns, id")]

    def frame_grid(self, frame_id: str) -> tuple[int, int, int, list[bytes]]:
        """A frame's tile grid: (width, height, tile, tile digests row by row)."""
        row = self._conn.execute(
            "SELECT width, height, tile, digests FROM manifests WHERE frame_id = ?", (frame_id,)).fetchone()
        if row is None:
            raise StoreError(f"frame {frame_id} is not in session {self.id}")
        width, height, tile, blob = row
        return width, height, tile, [blob[i:i + DIGEST_BYTES] for i in range(0, len(blob), DIGEST_BYTES)]

    def tile_data(self, digest: bytes) -> bytes:
        """A tile's stored (encoded) bytes."""
        data = self._conn.execute("SELECT data FROM tiles WHERE digest = ?", (digest,)).fetchone()
        if data is None:
            raise StoreError(f"tile {digest.hex()} is missing in session {self.id}")
        return data[0]

    def frame_image(self, frame_id: str):
        """The full frame as a PIL image (RGB), assembled from its tiles."""
        return assemble_frame(*self.frame_grid(frame_id), self.tile_data)

    def frame_manifests(self) -> dict[str, tuple[int, list[bytes]]]:
        """Every stored frame's tile grid: frame id -> (tile side, tile digests row by row)."""
        return {fid: (tile, [blob[i:i + DIGEST_BYTES] for i in range(0, len(blob), DIGEST_BYTES)])
                for fid, tile, blob in self._conn.execute("SELECT frame_id, tile, digests FROM manifests")}

    def tiles(self) -> Iterator[tuple[bytes, str, bytes]]:
        """Every stored tile: (digest, image format as stored, encoded bytes)."""
        yield from self._conn.execute("SELECT digest, format, data FROM tiles")

    def bytes_on_disk(self) -> int:
        return sum(p.stat().st_blocks * 512 for p in self.folder.iterdir() if p.is_file())

    def summary(self) -> SessionSummary:
        with self.reading():
            return self._summary()

    def _summary(self) -> SessionSummary:
        m = self.meta
        counts = self.event_counts()
        n_frames, n_unique = self._conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT frame_id) FROM frames").fetchone()
        apps = sorted({json.loads(d).get("app_id", "") for (d,) in self._conn.execute(
            "SELECT data FROM events WHERE kind = 'focus'")} - {""})
        start_mono = m.get("start_mono_ns")
        end_mono = m.get("end_mono_ns") or m.get("last_t_ns")
        duration = (end_mono - start_mono) / 1e9 if start_mono and end_mono else None
        end = m.get("end_wall")
        if end is None and duration is not None and m.get("start_wall"):
            start_dt = datetime.fromisoformat(m["start_wall"])
            end = datetime.fromtimestamp(start_dt.timestamp() + duration, timezone.utc).isoformat(
                timespec="milliseconds")
        return SessionSummary(
            id=self.id, path=str(self.folder), start=m.get("start_wall"), end=end,
            duration_s=round(duration, 3) if duration is not None else None,
            events=counts, frames=n_frames, unique_frames=n_unique,
            dropped_frames=int(m.get("dropped_frames", 0)), apps=apps,
            bytes_on_disk=self.bytes_on_disk(), interrupted=self.interrupted,
            state=m.get("state", "unknown"))


#: Gap reason of a span deleted by ``forget`` (its mark holds no content, only the hole).
FORGOTTEN = "forgotten"


class SessionEraser:
    """Irrecoverable deletion from one session's database, for :mod:`.forget` (works beside
    a live writer: SQLite serialises the two, with a busy time-out). Deleted content is
    overwritten (``secure_delete``) and :meth:`compact` rebuilds the file and empties its
    write-ahead log."""

    def __init__(self, folder: Path):
        self._conn = conn = sqlite3.connect(folder / DB_NAME, isolation_level=None, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA temp_store = MEMORY")  # VACUUM's copy never touches a temp file

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "SessionEraser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def counts(self) -> tuple[int, int, int, int]:
        """How many events, frames, frame manifests and tiles the session holds."""
        return self._conn.execute(
            "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM frames), "
            "(SELECT COUNT(*) FROM manifests), (SELECT COUNT(*) FROM tiles)").fetchone()

    def has_rows(self, since_ns: int, until_ns: int | None = None) -> bool:
        """Whether an event or frame lies in ``[since_ns, until_ns]`` (None: no end)."""
        until = until_ns if until_ns is not None else 2 ** 63 - 1
        return self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM events WHERE t_ns >= ? AND t_ns <= ?) OR "
            "EXISTS (SELECT 1 FROM frames WHERE t_ns >= ? AND t_ns <= ?)",
            (since_ns, until, since_ns, until)).fetchone()[0] == 1

    def delete_span(self, since_ns: int, until_ns: int | None) -> tuple[int | None, tuple[int, int, int, int]]:
        """Delete events and frames in ``[since_ns, until_ns]`` and what only they used.
        Returns the latest deleted ``t_ns`` (None when nothing was in the span) and how many
        events, frames, manifests and tiles were deleted."""
        conn = self._conn
        where, args = "t_ns >= ?", [since_ns]
        if until_ns is not None:
            where += " AND t_ns <= ?"
            args.append(until_ns)
        conn.execute("BEGIN IMMEDIATE")
        try:
            last = conn.execute(
                f"SELECT MAX(t) FROM (SELECT MAX(t_ns) AS t FROM events WHERE {where} "
                f"UNION ALL SELECT MAX(t_ns) FROM frames WHERE {where})", args * 2).fetchone()[0]
            # the marks of spans forgotten before stay: they hold no content, only the hole
            events = conn.execute(
                f"DELETE FROM events WHERE {where} AND NOT (kind = 'gap' AND "
                f"json_extract(data, '$.reason') = '{FORGOTTEN}')", args).rowcount
            frames = conn.execute(f"DELETE FROM frames WHERE {where}", args).rowcount
            manifests = conn.execute(
                "DELETE FROM manifests WHERE frame_id NOT IN (SELECT frame_id FROM frames)").rowcount
            tiles = self._delete_unused_tiles()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return last, (events, frames, manifests, tiles)

    def _delete_unused_tiles(self) -> int:
        used: set[bytes] = set()
        for (blob,) in self._conn.execute("SELECT digests FROM manifests"):
            used.update(blob[i:i + DIGEST_BYTES] for i in range(0, len(blob), DIGEST_BYTES))
        unused = [(d,) for (d,) in self._conn.execute("SELECT digest FROM tiles") if d not in used]
        self._conn.executemany("DELETE FROM tiles WHERE digest = ?", unused)
        return len(unused)

    def note_gap(self, since_ns: int, until_ns: int, at: datetime) -> None:
        """A ``gap`` event (reason :data:`FORGOTTEN`) over the span and a
        ``meta["forgotten"]`` entry saying when it was forgotten (times only)."""
        conn = self._conn
        t, kind, data = to_row(GapEvent(t_ns=since_ns, duration_ns=max(0, until_ns - since_ns),
                                        reason=FORGOTTEN))
        row = conn.execute("SELECT value FROM meta WHERE key = 'forgotten'").fetchone()
        spans = json.loads(row[0]) if row else []
        spans.append({"since_t_ns": since_ns, "until_t_ns": until_ns,
                      "at": at.isoformat(timespec="milliseconds")})
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO events (t_ns, kind, data) VALUES (?, ?, ?)", (t, kind, data))
        conn.execute("INSERT INTO meta (key, value) VALUES ('forgotten', ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (json.dumps(spans),))
        conn.execute("COMMIT")

    def compact(self, attempts: int = 20) -> bool:
        """Rebuild the file without free pages, then empty the WAL (retrying while busy).
        False when another program kept the session open, so the WAL could not be emptied."""
        self._conn.execute("VACUUM")
        for _ in range(attempts):
            busy, _log, _done = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(0.1)
        return False


def change_stamp(folder: Path) -> tuple:
    """Changes whenever the database of the session in ``folder`` is written (names, mtimes
    and sizes of its files), for caches of what is computed from a session."""
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                 for p in sorted(folder.iterdir()) if p.name.startswith(DB_NAME))


def assemble_frame(width: int, height: int, tile: int, digests: Sequence[Any],
                   tile_bytes: Callable[[Any], bytes], decoded: dict[Any, Any] | None = None):
    """A full frame (PIL, RGB) from its tile grid: ``digests`` row by row, each tile's
    encoded bytes from ``tile_bytes(digest)`` (decoded once per distinct digest; tiles
    already in ``decoded`` - e.g. the previous frame's - are not decoded again, and this
    frame's decoded tiles are added to it). Shared by the session store and dataset builds
    (frames reassembled from sealed chunks)."""
    from PIL import Image

    cols = -(-width // tile)
    canvas = Image.new("RGB", (width, height))
    cache: dict[Any, Any] = {} if decoded is None else decoded
    for i, d in enumerate(digests):
        img = cache.get(d)
        if img is None:
            img = cache[d] = Image.open(io.BytesIO(tile_bytes(d))).convert("RGB")
        canvas.paste(img, ((i % cols) * tile, (i // cols) * tile))
    return canvas


class _Reading:
    def __init__(self, session: "Session"):
        self.session = session

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and is_corruption(exc):
            s = self.session
            raise CorruptSessionError(s.id, s.folder / DB_NAME, str(exc)) from exc
        return False


class DataDir:
    """A workprint data dir holding many sessions."""

    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser()
        self.sessions_dir = self.root / "sessions"

    def create(self, meta: dict[str, Any] | None = None, session_id: str | None = None) -> SessionWriter:
        session_id = session_id or new_session_id()
        try:
            private_dir(self.root)
            private_dir(self.sessions_dir)
            return SessionWriter(self.sessions_dir / session_id, session_id, meta or {})
        except OSError as exc:
            if _is_disk_full(exc):
                raise DiskFullError(f"The disk holding {self.root} is full; cannot start a session.") from exc
            raise StoreError(f"Cannot create a session under {self.root}: {exc}") from exc

    def session_ids(self) -> list[str]:
        if not self.sessions_dir.is_dir():
            return []
        return sorted(p.name for p in self.sessions_dir.iterdir() if (p / DB_NAME).exists())

    def open(self, session_id: str) -> Session:
        return Session(self.resolve(session_id))

    def resolve(self, session_id: str) -> Path:
        """The folder of a session id or unique prefix (without opening its store)."""
        folder = self.sessions_dir / session_id
        if not (folder / DB_NAME).exists():
            matches = [s for s in self.session_ids() if s.startswith(session_id)] if session_id else []
            if len(matches) == 1:
                folder = self.sessions_dir / matches[0]
            else:
                hint = "ambiguous prefix" if matches else "no such session"
                raise SessionNotFound(
                    f"Session {session_id!r} not found in {self.root} ({hint}). "
                    f"Run `workprint sessions --data-dir {self.root}` to list sessions.")
        return folder

    def sessions(self) -> list[Session]:
        """Every session, opened (raises on the first one that cannot be read; see
        :meth:`scan` to go on past damaged ones)."""
        return [Session(self.sessions_dir / s) for s in self.session_ids()]

    def scan(self) -> tuple[list[Session], list[CorruptSessionError]]:
        """Every readable session, opened, and one error per session whose store is
        damaged: one bad file never hides the others."""
        good, bad = [], []
        for sid in self.session_ids():
            try:
                good.append(Session(self.sessions_dir / sid))
            except CorruptSessionError as exc:
                bad.append(exc)
        return good, bad
