"""Actions -> episodes (one task attempt each). Pure functions.

An episode starts at a ``task_start`` marker (its text is the instruction) and ends at
the matching ``task_end`` (``ok`` says whether the task succeeded) - or at the next
``task_start``, or at the end of the session. Unmarked stretches of work become episodes
split at long idle gaps; they get instruction ``""`` and ``unlabelled=True`` - nothing is
invented. Labelled tasks are never split by idle time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..events import Action, MarkerEvent

#: Kinds that are agent steps (everything else is context).
STEP_KINDS = frozenset({
    "click", "doubleClick", "tripleClick", "rightClick", "middleClick", "drag",
    "scroll", "hscroll", "write", "press", "hotkey", "wait",
})


@dataclass(frozen=True)
class EpisodeConfig:
    idle_split_s: float = 300.0   # an unlabelled stretch splits at a pause this long


@dataclass
class Episode:
    index: int
    instruction: str
    unlabelled: bool
    ok: bool | None                       # task outcome; None = unknown
    actions: list[Action] = field(default_factory=list)
    t_start: int = 0                      # first event of the episode (marker or action)
    t_end: int = 0                        # last action end (or task_end marker)

    @property
    def steps(self) -> list[Action]:
        """The agent steps (no context, no ``end``)."""
        return [a for a in self.actions if a.kind in STEP_KINDS]


def _trim_waits(actions: list[Action]) -> list[Action]:
    lo, hi = 0, len(actions)
    while lo < hi and actions[lo].kind == "wait":
        lo += 1
    while hi > lo and actions[hi - 1].kind == "wait":
        hi -= 1
    return actions[lo:hi]


def split_episodes(actions: Sequence[Action], markers: Iterable[MarkerEvent],
                   config: EpisodeConfig | None = None) -> list[Episode]:
    """Group time-ordered ``actions`` into episodes using task markers and idle gaps.

    Episodes without a single agent step are dropped; leading/trailing waits are trimmed.
    """
    cfg = config or EpisodeConfig()
    idle_ns = int(cfg.idle_split_s * 1e9)
    task_markers = sorted((m for m in markers if m.name in ("task_start", "task_end")),
                          key=lambda m: m.t_ns)
    episodes: list[Episode] = []
    cur = Episode(0, "", True, None)
    last_t: int | None = None

    def close(next_ep: Episode) -> Episode:
        nonlocal last_t
        cur.actions = _trim_waits(cur.actions)
        if any(a.kind in STEP_KINDS for a in cur.actions):
            cur.index = len(episodes)
            if cur.actions:
                cur.t_start = cur.t_start or cur.actions[0].t_start
                cur.t_end = max(cur.t_end, cur.actions[-1].t_end)
            episodes.append(cur)
        last_t = None
        return next_ep

    mi = 0
    for a in actions:
        while mi < len(task_markers) and task_markers[mi].t_ns <= a.t_start:
            m = task_markers[mi]
            mi += 1
            if m.name == "task_start":
                cur = close(Episode(0, m.text, False, None, t_start=m.t_ns))
            elif not cur.unlabelled:
                cur.ok = m.ok
                cur.t_end = m.t_ns
                if a.kind == "end" and a.t_start == m.t_ns:
                    cur.actions.append(a)
                    a = None  # type: ignore[assignment]
                cur = close(Episode(0, "", True, None))
            if a is None:
                break
        if a is None:
            continue
        if a.kind == "end":       # task_end with no open task: nothing to close
            continue
        if (cur.unlabelled and last_t is not None and a.t_start - last_t >= idle_ns):
            cur = close(Episode(0, "", True, None))
        cur.actions.append(a)
        last_t = a.t_end if a.kind != "wait" else last_t
        if last_t is None:
            last_t = a.t_start
    for m in task_markers[mi:]:
        if m.name == "task_end" and not cur.unlabelled:
            cur.ok = m.ok
            cur.t_end = m.t_ns
            break
    close(cur)
    return episodes
