"""Where each local session stands on its way off this computer, in the contributor's words.

One answer for ``review``, ``sessions``, ``status`` and the viewer: the contributor's
decision (:mod:`.review`, owner of ``review.db``) combined with what the outbox did with the
session (:mod:`.outbox`, owner of the outbox). :func:`upload_states` is a pure function of
the two; :func:`load_upload_states` asks both owners. A session the collector refused stays
``refused`` - with the collector's reason and what to do - until it is uploaded after all
(approved again) or withheld.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .outbox import Outbox, SessionUpload
from .review import Review, ReviewItem, auto_approve_seconds

#: state -> short label shown beside a session
LABELS = {
    "recording": "recording",
    "corrupt": "corrupt",
    "redaction_pending": "redaction pending",
    "pending_review": "pending review",
    "withheld": "withheld",
    "approved": "approved",
    "queued": "approved, waiting to upload",
    "uploaded": "uploaded",
    "refused": "refused by the collector",
    "erased": "erased from the collector",
}


@dataclass(frozen=True)
class UploadState:
    session: str
    state: str              # one of LABELS
    label: str
    reason: str             # why, in words (the collector's reason for a refusal)
    todo: str | None = None  # what the contributor can do about it
    refused_at: str | None = None
    chunks: int = 0
    chunks_uploaded: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def refusal_todo(session: str) -> str:
    return (f"it stays on this computer and is not sent again as it is: withhold it "
            f"(`workprint withhold {session}`) to keep it here only, delete it "
            f"(`workprint forget --session {session}`), or ask your program owner about the "
            f"reason and approve it again (`workprint approve {session}`) to send it once more")


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else None


def upload_state(item: ReviewItem, upload: SessionUpload | None) -> UploadState:
    """One session's state from its review item and its outbox record (if sealed)."""
    sid = item.id
    extra: dict[str, Any] = {}
    if upload is not None:
        extra = {"chunks": upload.chunks, "chunks_uploaded": upload.uploaded}
    if upload is not None and upload.state == "erased":
        return UploadState(sid, "erased", LABELS["erased"],
                           f"your data on the collector was erased on request ({_iso(upload.erased_at)}); "
                           f"this session stays on this computer and is never sent",
                           f"delete it here too if you like (`workprint forget --session {sid}`)",
                           **extra)
    if item.state == "corrupt":
        state, reason = "corrupt", item.reason
    elif item.decision == "withheld":
        state, reason = "withheld", item.reason
    elif upload is not None and upload.state == "refused":
        return UploadState(sid, "refused", LABELS["refused"], upload.reason or "no reason given",
                           refusal_todo(sid), _iso(upload.refused_at), **extra)
    elif upload is not None and upload.state == "uploaded":
        state, reason = "uploaded", f"all {upload.chunks} chunk(s) acknowledged by the collector"
    elif upload is not None:
        state, reason = "queued", (f"sealed; {upload.uploaded} of {upload.chunks} chunk(s) "
                                   f"uploaded (`workprint sync`)")
    elif item.state == "recording":
        state, reason = "recording", item.reason
    elif item.reason == "redaction not finished":
        state, reason = "redaction_pending", item.reason
    elif item.eligible:
        state, reason = "approved", f"{item.reason}; sealed at the next `workprint sync`"
    else:
        state, reason = "pending_review", item.reason
    return UploadState(sid, state, LABELS[state], reason, **extra)


def upload_states(items: list[ReviewItem], uploads: dict[str, SessionUpload]) -> dict[str, UploadState]:
    return {i.id: upload_state(i, uploads.get(i.id)) for i in items}


def review_items(rv: Review) -> list[ReviewItem]:
    """The review's items under the contributor's own auto-approval setting."""
    return rv.items(auto_approve_seconds(rv.auto_approve_after_hours()))


def load_upload_states(data_dir: Path) -> dict[str, UploadState]:
    """Every local session's state (asks the review and the outbox; never creates an
    outbox)."""
    rv = Review(data_dir)
    try:
        items = review_items(rv)
    finally:
        rv.close()
    return upload_states(items, sealed(data_dir))


def sealed(data_dir: Path) -> dict[str, SessionUpload]:
    """The outbox's record of every sealed session (empty when there is no outbox)."""
    box = Outbox.existing(data_dir)
    if box is None:
        return {}
    try:
        return box.sessions()
    finally:
        box.close()


def refused(data_dir: Path) -> list[UploadState]:
    """Sessions the collector refused that the contributor has not withheld yet."""
    return [s for s in load_upload_states(data_dir).values() if s.state == "refused"]


def decide(data_dir: Path, session_id: str, decision: str) -> str | None:
    """Record the contributor's decision and apply it to the outbox: withholding takes the
    session's chunks that are not uploaded out of the outbox (zero-filled), approving a
    refused session queues its refused chunks again. Returns a note for the contributor."""
    rv = Review(data_dir)
    try:
        rv.decide(session_id, decision)
    finally:
        rv.close()
    box = Outbox.existing(data_dir)
    if box is None:
        return None
    try:
        if decision == "withheld":
            n = box.withdraw(session_id)
            return f"{n} sealed chunk(s) taken out of the outbox" if n else None
        n = box.retry(session_id)
        return f"{n} refused chunk(s) queued again for the next `workprint sync`" if n else None
    finally:
        box.close()
