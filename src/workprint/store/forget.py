"""Forgetting: irrecoverable deletion of recent recording, or of whole sessions.

``forget_last`` deletes every event and frame whose wall-clock time falls in the last N
seconds, in every session of a data dir. A session's ``meta`` holds ``start_wall`` (ISO,
UTC) and ``start_mono_ns``; its ``t_ns`` come from the same monotonic clock, so an event
happened at ``start_wall + (t_ns - start_mono_ns)``. Manifests no frame uses any more and
tiles no remaining manifest uses are deleted too. Deletion runs with
``PRAGMA secure_delete = ON`` (freed content is overwritten), then ``VACUUM`` (the file is
rebuilt without free pages, its temporary copy kept in memory), then
``PRAGMA wal_checkpoint(TRUNCATE)`` (the write-ahead log, which still held the old pages,
is emptied to zero bytes). A ``gap`` event with reason ``forgotten`` marks the hole so that
later stages do not join actions across it, and ``meta["forgotten"]`` lists when and what
span was forgotten (times only).

``forget_between`` does the same for a span between two wall-clock times, and
``forget_span`` for a span of one session's own clock (the viewer's forget); all three
delete through the same steps.

``forget_session`` zero-fills every file of a session folder, then unlinks them and the
folder.

A session being recorded right now is handled: SQLite serialises the deletion with the
recorder's writes (busy timeout), and because the recorder holds events in memory for up to
about a second before it writes them, the span is deleted a second time after
``settle_s`` seconds. What the recorder captures after the command started is kept.
Limitation (needs the writer's cooperation): ``SessionWriter`` caches which tiles and frame
manifests it already stored; after a live forget deleted some, a later identical frame of
the same recording may reference a tile that is gone. See ``tests/test_forget.py``.

What this cannot promise: copy-on-write file systems, SSD wear levelling and backups may
keep old blocks of any file; full-disk encryption is the remedy there. Data already sealed
into the outbox or uploaded is reported in ``warnings``, not deleted here.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Protocol

from ..errors import CorruptSessionError, StoreError
from .session import DB_NAME, FORGOTTEN, LOCK_NAME, DataDir, Session, SessionEraser, is_corruption

GAP_REASON = FORGOTTEN
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


@dataclass
class ForgetReport:
    """What was deleted from one session."""

    session: str
    events: int = 0
    frames: int = 0
    manifests: int = 0
    tiles: int = 0
    removed: bool = False          # the whole session folder is gone
    live: bool = False             # a recorder was writing to it
    corrupt: bool = False          # its store could not be read: nothing deleted from it
    checkpointed: bool = True      # the WAL was emptied (False: a reader kept it busy)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def deleted_anything(self) -> bool:
        return self.removed or bool(self.events or self.frames or self.manifests or self.tiles)


def parse_duration(text: str) -> float:
    """``"10m"``, ``"2h"``, ``"30s"``, ``"1d"``, ``"1h30m"`` -> seconds (> 0)."""
    s = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(s)
    if not s or "".join(n + u for n, u in parts) != s:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 10m, 2h, 1d or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r}: the duration must be more than zero")
    return seconds


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """A point in time as a person writes it -> an aware datetime. ISO-8601 (``2026-12-05T
    14:30``, ``2026-12-05 14:30:15+01:00``, ``...Z``) or a bare time of day (``14:30``,
    ``14:30:15``: today, by the date of ``now``). Without an offset it is local wall-clock
    time (the computer's time zone)."""
    s = text.strip()
    local_now = (now or datetime.now(timezone.utc)).astimezone()
    when: datetime | None = None
    try:
        if m := _TIME_OF_DAY.fullmatch(s):
            when = local_now.replace(hour=int(m[1]), minute=int(m[2]), second=int(m[3] or 0),
                                     microsecond=0, tzinfo=None)
        else:
            when = datetime.fromisoformat(s)
    except ValueError:
        when = None
    if when is None:
        raise ValueError(f"{text!r} is not a time; write e.g. 14:30, 14:30:15, 2026-12-05 14:30 "
                         f"(local time) or 2026-12-05T14:30:00+01:00")
    return when.astimezone() if when.tzinfo is None else when


def _delete_span(eraser: SessionEraser, since_ns: int, until_ns: int | None,
                 report: ForgetReport) -> int | None:
    last, (events, frames, manifests, tiles) = eraser.delete_span(since_ns, until_ns)
    report.events += events
    report.frames += frames
    report.manifests += manifests
    report.tiles += tiles
    return last


# --- whole data dir --------------------------------------------------------------------------

def _session_clock(meta: dict[str, Any]) -> tuple[datetime, int] | None:
    try:
        start = datetime.fromisoformat(meta["start_wall"])
        mono = int(meta["start_mono_ns"])
    except (KeyError, TypeError, ValueError):
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return start, mono


def _to_mono(clock: tuple[datetime, int], wall: datetime) -> int:
    start, mono = clock
    delta = wall - start
    return mono + (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class OutboxHook(Protocol):
    """What forget asks of the outbox. Its owner supplies it
    (:func:`workprint.sync.outbox.forget_hook`); the store never opens the outbox itself."""

    def withdraw(self, session_id: str) -> int:
        """Take the session's not-yet-uploaded chunks out of the outbox; how many."""

    def warnings(self, session_id: str) -> list[str]:
        """What is left to do about the session's chunks (queued, or already uploaded)."""


def _tell_outbox(outbox: OutboxHook | None, report: ForgetReport) -> None:
    if outbox is None:
        return
    if report.deleted_anything:
        n = outbox.withdraw(report.session)
        if n:
            report.warnings.append(f"{n} sealed chunk(s) of session {report.session} waiting in "
                                   f"the outbox were destroyed with it")
    report.warnings += outbox.warnings(report.session)


def forget_last(data_dir: Path | str, seconds: float, *, now: datetime | None = None,
                settle_s: float = 1.0, outbox: OutboxHook | None = None,
                progress: "Progress | None" = None) -> list[ForgetReport]:
    """Delete what every session recorded in the last ``seconds`` of wall-clock time.

    Returns one report per session that overlapped the span (sessions entirely older are
    not touched). ``settle_s`` is how long to wait before deleting a live session's span
    again, to catch events the recorder still held in memory. ``outbox`` (see
    :class:`OutboxHook`) withdraws the unsent chunks of every session something was
    deleted from and adds what is left to do about its chunks to the report;
    ``progress(done, total)`` after each session looked at.
    """
    store = DataDir(data_dir)
    now = now or datetime.now(timezone.utc)
    since_wall = now - timedelta(seconds=seconds)
    return _each_session(store, lambda sid: _forget_span(store, sid, since_wall, now, settle_s, outbox),
                         progress)


def forget_between(data_dir: Path | str, since: datetime, until: datetime, *,
                   now: datetime | None = None, settle_s: float = 1.0,
                   outbox: OutboxHook | None = None,
                   progress: "Progress | None" = None) -> list[ForgetReport]:
    """Delete what every session recorded between two wall-clock times (aware datetimes).

    Each session's part of the span is deleted as :func:`forget_span` deletes a span of one
    session (the viewer's forget), with the same guarantees as :func:`forget_last`. An
    ``until`` later than ``now`` ends at ``now``: what is recorded after the command started
    is kept. Returns one report per session that held something of the span; raises
    :class:`ValueError` when the span ends before it starts or starts after ``now``.
    """
    now = now or datetime.now(timezone.utc)
    until = min(until, now)
    if since > now:
        raise ValueError(f"{since.isoformat(timespec='seconds')} is in the future: nothing was "
                         f"recorded then yet")
    if until < since:
        raise ValueError("the span to forget must end after it starts")
    store = DataDir(data_dir)

    def one(sid: str) -> ForgetReport | None:
        with Session(store.sessions_dir / sid) as s:
            clock = _session_clock(s.meta)
        if clock is None:
            return ForgetReport(session=sid, warnings=[
                f"session {sid} has no start time in its metadata; not touched"])
        since_ns, until_ns = max(_to_mono(clock, since), clock[1]), _to_mono(clock, until)
        if until_ns < since_ns:
            return None  # the session started after the span
        return _forget_span(store, sid, since, now, settle_s, outbox, span_ns=(since_ns, until_ns))

    return _each_session(store, one, progress)


#: ``progress(done, total)``: sessions looked at so far, of all sessions in the data dir
Progress = Callable[[int, int], None]


def _each_session(store: DataDir, forget_one: Callable[[str], "ForgetReport | None"],
                  progress: "Progress | None" = None) -> list[ForgetReport]:
    """Run ``forget_one`` over every session; a damaged store is reported, never stops the
    others. Sessions it returns None for (nothing of the span) are left out."""
    reports = []
    sids = store.session_ids()
    for done, sid in enumerate(sids, 1):
        try:
            report = forget_one(sid)
        except CorruptSessionError as exc:  # one damaged store never stops the others
            report = ForgetReport(session=sid, corrupt=True, warnings=[str(exc)])
        except Exception as exc:
            if not is_corruption(exc):
                raise
            report = ForgetReport(session=sid, corrupt=True, warnings=[str(CorruptSessionError(
                sid, store.sessions_dir / sid / DB_NAME, str(exc)))])
        if report is not None:
            reports.append(report)
        if progress:
            progress(done, len(sids))
    return reports


def forget_span(data_dir: Path | str, session_id: str, since_t_ns: int, until_t_ns: int, *,
                settle_s: float = 1.0, outbox: OutboxHook | None = None) -> ForgetReport:
    """Delete what one session recorded in ``[since_t_ns, until_t_ns]`` of its own clock
    (the ``t_ns`` of its events), with the same guarantees as :func:`forget_last`:
    overwritten, rebuilt, WAL emptied, a ``forgotten`` gap over the span, a live session's
    span deleted again after ``settle_s``, its unsent outbox chunks withdrawn. Tell a
    running recorder first (:func:`workprint.capture.control.forget_live`) so nothing it
    still holds of the span lands later."""
    if until_t_ns < since_t_ns:
        raise ValueError("the span to forget must end after it starts")
    store = DataDir(data_dir)
    sid = store.resolve(session_id).name
    now = datetime.now(timezone.utc)
    report = _forget_span(store, sid, now, now, settle_s, outbox, span_ns=(since_t_ns, until_t_ns))
    return report if report is not None else ForgetReport(session=sid)


def _forget_span(store: DataDir, sid: str, since_wall: datetime, now: datetime,
                 settle_s: float, outbox: OutboxHook | None = None,
                 span_ns: tuple[int, int] | None = None) -> ForgetReport | None:
    folder = store.sessions_dir / sid
    with Session(folder) as s:
        meta = s.meta
    clock = _session_clock(meta)
    report = ForgetReport(session=sid, live=meta.get("state") == "recording")
    if clock is None:
        report.warnings.append(f"session {sid} has no start time in its metadata; not touched")
        return report
    until_ns: int | None
    if span_ns is not None:  # an explicit span, of a live session or a closed one
        since_ns, until_ns = span_ns
    else:  # a live session keeps what is captured after this command; a closed one has no future
        since_ns = max(_to_mono(clock, since_wall), clock[1])
        until_ns = _to_mono(clock, now) if report.live else None
    with SessionEraser(folder) as eraser:
        if not report.live and not eraser.has_rows(since_ns, until_ns):
            return None  # nothing recorded in the span: leave the session alone (no rebuild)
        last = _delete_span(eraser, since_ns, until_ns, report)
        if report.live:
            time.sleep(settle_s)  # events the recorder held in memory land now
            late = _delete_span(eraser, since_ns, until_ns, report)
            last = max(x for x in (last, late, since_ns) if x is not None)
        if not report.deleted_anything and not report.live:
            return None
        eraser.note_gap(since_ns, until_ns if until_ns is not None else (last or since_ns), now)
        if not eraser.compact():
            report.checkpointed = False
            report.warnings.append(
                "another program kept the session open, so the write-ahead log could not be "
                "emptied yet; it is emptied when that program closes the session")
    _tell_outbox(outbox, report)
    return report


def forget_session(data_dir: Path | str, session_id: str, *,
                   outbox: OutboxHook | None = None) -> ForgetReport:
    """Delete a whole session: zero-fill and unlink every file of its folder.

    Refuses (:class:`StoreError`) while a recorder is writing the session. A session whose
    store is damaged is deleted all the same (``corrupt`` in the report, counts unknown: 0).
    """
    store = DataDir(data_dir)
    folder = store.resolve(session_id)  # unique prefixes too; SessionNotFound otherwise
    sid = folder.name
    report = ForgetReport(session=sid)
    try:
        with SessionEraser(folder) as eraser:
            (report.events, report.frames, report.manifests, report.tiles) = eraser.counts()
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise StoreError(f"Cannot read session {sid} ({folder / DB_NAME}): {exc}") from exc
        report.corrupt = True
    lock_fd = os.open(folder / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                f"Session {sid} is being recorded right now. Stop the recorder first, or use "
                f"`workprint forget --last DURATION` to delete its recent part.") from None
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name != LOCK_NAME:
                _zero_fill(path)
                path.unlink()
    finally:
        os.close(lock_fd)
    shutil.rmtree(folder)
    if folder.exists():
        raise StoreError(f"Could not remove {folder}; delete it by hand.")
    report.removed = True
    _tell_outbox(outbox, report)
    return report


def _zero_fill(path: Path) -> None:
    size = path.stat().st_size
    block = bytes(1 << 20)
    with open(path, "r+b", buffering=0) as f:
        left = size
        while left > 0:
            left -= f.write(block[:min(left, len(block))])
        os.fsync(f.fileno())


__all__ = ["ForgetReport", "forget_between", "forget_last", "forget_session", "forget_span", "parse_duration",
           "parse_time", "GAP_REASON"]
