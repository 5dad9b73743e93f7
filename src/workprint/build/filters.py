"""Which sessions and trajectories a dataset keeps, and what may be said about them.

Pure functions over plain data: a session passes on the day the collector received it
(``--since``/``--until``); a trajectory passes on its exported steps (``--min-steps``), on
whether it was a labelled task (``--tasks-only`` / ``--no-tasks``) and on the share of its
typed text that safeguards replaced with placeholders (``--max-redacted-share``); identical
trajectories are kept once (:func:`trajectory_key`, first in build order wins). Statistics
leave a build only as counts over at least ``k`` contributors (:func:`k_anonymous`): never
per person, never activity over time.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from ..errors import BuildError

#: A placeholder a safeguard left in typed text (``<EMAIL_ADDRESS>``, ``<PASSWORD>``, ...).
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")

#: Why a trajectory is left out by a filter (counted in the manifest).
TOO_SHORT = "fewer steps than --min-steps"
NOT_A_TASK = "no labelled task (--tasks-only)"
A_TASK = "a labelled task (--no-tasks)"
TOO_REDACTED = "redacted text share above --max-redacted-share"
DUPLICATE = "identical to an earlier trajectory"


@dataclass(frozen=True)
class Filters:
    min_steps: int = 1
    tasks: str = "all"                   # all | only (labelled tasks) | none (unlabelled work)
    max_redacted_share: float = 1.0
    dedupe: bool = True
    since: str | None = None             # YYYY-MM-DD, inclusive (day the collector received it)
    until: str | None = None             # YYYY-MM-DD, exclusive

    def __post_init__(self) -> None:
        if self.min_steps < 1:
            raise BuildError("--min-steps must be at least 1")
        if self.tasks not in ("all", "only", "none"):
            raise BuildError(f"tasks filter {self.tasks!r}: use all, only or none")
        if not 0.0 <= self.max_redacted_share <= 1.0:
            raise BuildError("--max-redacted-share is a share between 0 and 1 (e.g. 0.2)")
        for name in ("since", "until"):
            v = getattr(self, name)
            if v is not None:
                try:
                    date.fromisoformat(v)
                except ValueError:
                    raise BuildError(f"--{name} {v!r}: give a day as YYYY-MM-DD") from None
        if self.since and self.until and self.until <= self.since:
            raise BuildError(f"--until {self.until} is not after --since {self.since}: nothing could match")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Filters":
        return cls(**d)


def session_passes(received_day: str, f: Filters) -> bool:
    """The day the collector first received a session (UTC) is inside [since, until)."""
    return (f.since is None or received_day >= f.since) and (f.until is None or received_day < f.until)


def redacted_share(texts: list[str]) -> float:
    """Characters of placeholders over all characters of the typed texts (0 with no text)."""
    total = sum(len(t) for t in texts)
    if not total:
        return 0.0
    return sum(len(m) for t in texts for m in PLACEHOLDER.findall(t)) / total


def trajectory_verdict(n_steps: int, unlabelled: bool, texts: list[str], f: Filters) -> str | None:
    """None if a trajectory passes the filters, else the reason it is left out.
    ``n_steps`` counts its exported steps (with screenshot), ``texts`` its typed runs."""
    if n_steps < f.min_steps:
        return TOO_SHORT
    if f.tasks == "only" and unlabelled:
        return NOT_A_TASK
    if f.tasks == "none" and not unlabelled:
        return A_TASK
    if redacted_share(texts) > f.max_redacted_share:
        return TOO_REDACTED
    return None


def trajectory_key(instruction: str, steps: list[tuple[str, str]]) -> str:
    """Identity of a trajectory's content: its instruction and each step's code and image
    (content hash). Two sessions that hold the same work give the same key."""
    return hashlib.sha256(json.dumps([instruction, steps], ensure_ascii=False,
                                     separators=(",", ":")).encode()).hexdigest()


def k_anonymous(count: int, contributors: int, k: int) -> int | str:
    """``count`` when at least ``k`` contributors stand behind it, else ``"<k"``."""
    return count if contributors >= k else f"<{k}"
