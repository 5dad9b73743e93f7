"""Review before upload: which local sessions the contributor approved (or withheld).

Decisions live in ``<data-dir>/review.db``. A session may enter the outbox only when it is
closed, its redaction is not pending, and the contributor approved it - or the contributor
turned auto-approval on *on this device* and its delay has passed since the session ended
without the contributor withholding it.

Auto-approval has one name and one meaning everywhere (policy file ``[review]``, this
device's setting, the ``--auto-approve-after-hours`` options): ``auto_approve_after_hours``
= hours after a session ends at which a session the contributor neither approved nor
withheld counts as approved; ``0`` = never. Only the local setting is ever applied: nothing
a collector publishes can approve an upload (a published policy must say 0, and the device
ignores the policy's value anyway).

Redaction contract with the session store: ``meta["redaction"] == "pending"`` blocks a
session; absent or any other value means the safeguards finished before disk.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..store.private import private_dir, private_file
from ..store.session import DataDir

REVIEW_DB = "review.db"
#: The one name of the auto-approval setting (see the module docstring).
AUTO_APPROVE_KEY = "auto_approve_after_hours"


def auto_approve_seconds(hours: float | None) -> float | None:
    """``auto_approve_after_hours`` as a delay in seconds; None (0 or unset) means never."""
    return float(hours) * 3600 if hours else None


@dataclass
class ReviewItem:
    id: str
    start: str | None
    end: str | None
    state: str
    decision: str | None        # approved | withheld | None
    eligible: bool
    reason: str                 # why (not) eligible, in words


def _ts(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


class Review:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        private_dir(self.data_dir)
        self._db = sqlite3.connect(private_file(self.data_dir / REVIEW_DB), isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        for suffix in ("-wal", "-shm"):  # created with review.db's mode; older ones fixed here
            if (self.data_dir / (REVIEW_DB + suffix)).exists():
                private_file(self.data_dir / (REVIEW_DB + suffix))
        self._db.execute("CREATE TABLE IF NOT EXISTS decisions (session_id TEXT PRIMARY KEY, "
                         "decision TEXT NOT NULL, decided REAL NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def auto_approve_after_hours(self) -> float:
        """The contributor's own auto-approval setting on this device (0 = never)."""
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (AUTO_APPROVE_KEY,)).fetchone()
        return float(row[0]) if row else 0.0

    def set_auto_approve_after_hours(self, hours: float) -> None:
        if not 0 <= hours <= 24 * 365:
            raise ValueError(f"{AUTO_APPROVE_KEY} must be between 0 (never) and 8760 hours")
        self._db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                         "SET value = excluded.value", (AUTO_APPROVE_KEY, repr(float(hours))))

    def close(self) -> None:
        self._db.close()

    def decide(self, session_id: str, decision: str) -> None:
        if decision not in ("approved", "withheld"):
            raise ValueError(decision)
        self._db.execute("INSERT INTO decisions (session_id, decision, decided) VALUES (?, ?, ?) "
                         "ON CONFLICT (session_id) DO UPDATE SET decision = excluded.decision, "
                         "decided = excluded.decided", (session_id, decision, time.time()))

    def decisions(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT session_id, decision FROM decisions"))

    def items(self, auto_approve_s: float | None = None, now: float | None = None) -> list[ReviewItem]:
        now = time.time() if now is None else now
        decided = self.decisions()
        out = []
        sessions, broken = DataDir(self.data_dir).scan()
        for exc in broken:  # never eligible; the reason says which and what to do
            out.append(ReviewItem(exc.session, None, None, "corrupt", decided.get(exc.session),
                                  False, str(exc)))
        for session in sessions:
            try:
                m = session.meta
                state = m.get("state", "unknown")
                end = m.get("end_wall") or m.get("start_wall")
                decision = decided.get(session.id)
                if state == "recording":
                    ok, why = False, "still recording"
                elif m.get("redaction") == "pending":
                    ok, why = False, "redaction not finished"
                elif decision == "withheld":
                    ok, why = False, "withheld by you"
                elif decision == "approved":
                    ok, why = True, "approved by you"
                elif auto_approve_s is not None and (_ts(end) or now) + auto_approve_s <= now:
                    ok, why = True, f"auto-approved ({auto_approve_s / 3600:g} h after it ended)"
                elif auto_approve_s is not None:
                    due = (_ts(end) or now) + auto_approve_s
                    ok, why = False, f"awaiting your review (auto-approve in {(due - now) / 3600:.1f} h)"
                else:
                    ok, why = False, "awaiting your review (`workprint approve`)"
                out.append(ReviewItem(session.id, m.get("start_wall"), m.get("end_wall"), state,
                                      decision, ok, why))
            finally:
                session.close()
        return sorted(out, key=lambda i: i.id)

    def eligible(self, auto_approve_s: float | None = None, now: float | None = None) -> list[str]:
        return [i.id for i in self.items(auto_approve_s, now) if i.eligible]
