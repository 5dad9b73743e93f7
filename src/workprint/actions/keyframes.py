"""Which stored frame shows the screen *before* each action. Pure functions.

Frames are event-driven: a new :class:`FrameRef` appears only when the screen changed (or
at a reason such as focus), and consecutive refs with the same ``frame_id`` are identical
screens, i.e. a visually stable stretch.

* mouse actions: the frame at the start of the last stable stretch between the start of
  the approach movement and ``lead_s`` before the press - no hover state, nothing of the
  action's result. Only frames taken before the press are ever considered.
* keys, scroll and the rest: the last frame at or before ``lead_s`` before the action,
  else the latest frame before it.
* the observation after the last action of an episode: :func:`final_frame`.
* the accessibility tree before each action (where recorded): :func:`trees_before`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Sequence

from ..events import A11yTreeEvent, Action, FrameRef

MOUSE_KINDS = frozenset({"click", "doubleClick", "tripleClick", "rightClick", "middleClick",
                         "drag"})


@dataclass(frozen=True)
class KeyframeConfig:
    lead_s: float = 0.5   # how long before the action the screen is taken
    settle_s: float = 2.0  # the final screen is looked for up to this long after the end


class FrameIndex:
    """Frames sorted by time with a bisectable time list."""

    def __init__(self, frames: Sequence[FrameRef]):
        self.frames = sorted(frames, key=lambda f: f.t_ns)
        self.times = [f.t_ns for f in self.frames]

    def last_at_or_before(self, t: int) -> int:
        """Index of the last frame with ``t_ns <= t`` (-1 if none)."""
        return bisect_right(self.times, t) - 1

    def last_before(self, t: int) -> int:
        """Index of the last frame with ``t_ns < t`` (-1 if none)."""
        return bisect_left(self.times, t) - 1


def mouse_keyframe(action: Action, index: FrameIndex, lead_ns: int) -> FrameRef | None:
    press = action.t_start
    approach = action.t_approach if action.t_approach is not None else press
    i = min(index.last_at_or_before(press - lead_ns), index.last_before(press))
    if i < 0:
        j = index.last_before(press)
        return index.frames[j] if j >= 0 else None
    frames = index.frames
    fid = frames[i].frame_id
    while i > 0 and frames[i - 1].frame_id == fid and frames[i - 1].t_ns >= approach:
        i -= 1
    return frames[i]


def before_keyframe(t: int, index: FrameIndex, lead_ns: int) -> FrameRef | None:
    i = min(index.last_at_or_before(t - lead_ns), index.last_before(t))
    if i < 0:
        i = index.last_before(t)
    return index.frames[i] if i >= 0 else None


def keyframe(action: Action, index: FrameIndex, config: KeyframeConfig | None = None) -> FrameRef | None:
    """The frame showing the screen before ``action``."""
    lead_ns = int((config or KeyframeConfig()).lead_s * 1e9)
    if action.kind in MOUSE_KINDS:
        return mouse_keyframe(action, index, lead_ns)
    if action.kind in ("wait", "end", "focus"):
        i = index.last_at_or_before(action.t_start)
        return index.frames[i] if i >= 0 else None
    return before_keyframe(action.t_start, index, lead_ns)


def keyframes(actions: Sequence[Action], frames: Sequence[FrameRef] | FrameIndex,
              config: KeyframeConfig | None = None) -> list[FrameRef | None]:
    """One keyframe (or None when no frame precedes it) per action."""
    index = frames if isinstance(frames, FrameIndex) else FrameIndex(frames)
    return [keyframe(a, index, config) for a in actions]


def final_frame(last_action: Action, frames: Sequence[FrameRef] | FrameIndex,
                until_ns: int | None = None) -> FrameRef | None:
    """The screen after ``last_action``: the latest frame at or before ``until_ns`` (e.g.
    the start of the next episode; default: the last frame), never one from before the
    action's end if a later one exists."""
    index = frames if isinstance(frames, FrameIndex) else FrameIndex(frames)
    limit = until_ns if until_ns is not None else (index.times[-1] if index.times else 0)
    i = index.last_at_or_before(max(limit, last_action.t_end))
    return index.frames[i] if i >= 0 else None


def trees_before(actions: Sequence[Action], trees: Sequence[A11yTreeEvent]) -> list[A11yTreeEvent | None]:
    """For each action (time order), the accessibility tree of the screen before it: the
    latest tree taken after the previous action ended and at or before the action starts
    (trees are taken at settled screens, so this is the state the action met); None when
    there is none - never a tree from before the previous action."""
    times = [t.t_ns for t in trees]
    out: list[A11yTreeEvent | None] = []
    prev_end: int | None = None
    for a in actions:
        i = bisect_right(times, a.t_start) - 1
        out.append(trees[i] if i >= 0 and (prev_end is None or times[i] > prev_end) else None)
        prev_end = a.t_end if prev_end is None else max(prev_end, a.t_end)
    return out
