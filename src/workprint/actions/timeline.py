"""What happened when in a session: recorded, paused, idle, out of scope, forgotten.

A pure function of a session's gap, focus and marker events (see :mod:`workprint.events`):
:func:`spans` cuts ``[start_ns, end_ns]`` into consecutive spans, each either ``recorded``
(with the app and window title in front) or a gap with its reason, in the contributor's
words. Where gaps overlap (a span forgotten across a pause), the stronger one is shown:
forgotten, then paused, idle, out of scope, other gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..events import FocusEvent, GapEvent, MarkerEvent, RawEvent

#: Gap reason (as the gate and ``forget`` write it) -> (kind shown, what it means).
GAP_KINDS: dict[str, tuple[str, str]] = {
    "paused": ("paused", "you paused recording (pause key or `workprint pause`)"),
    "locked": ("paused", "the screen was locked"),
    "no task": ("paused", "no task was running (this policy records only during tasks)"),
    "idle": ("idle", "no input for a while, so recording paused itself until the next input"),
    "out_of_scope": ("out_of_scope", "an app or site your policy does not record was in front; "
                                     "nothing of it was kept"),
    "forgotten": ("forgotten", "you deleted this span (`workprint forget` or this page)"),
}
#: kind -> what it means (the viewer's legend of the day timeline)
KIND_WORDS: dict[str, str] = {
    "recorded": "recorded: the app or site in front was in your policy's scope",
    "paused": "paused: by you, by the screen lock, or between tasks - nothing was recorded",
    "idle": "idle: no input for a while - nothing was recorded until you came back",
    "out_of_scope": "out of scope: an app or site your policy does not record - nothing was kept",
    "forgotten": "forgotten: you deleted it - gone from this computer",
    "not_recorded": "not recorded, for the reason shown",
}
#: Kinds in the order they win where gaps overlap (first wins); then ``recorded``.
KINDS = ("forgotten", "paused", "idle", "out_of_scope", "not_recorded", "recorded")
_RANK = {k: i for i, k in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class Span:
    kind: str                 # one of KINDS
    start_ns: int
    end_ns: int
    reason: str = ""          # the gap reason as stored ("" for recorded)
    words: str = ""           # what it means, for a person
    app: str = ""             # recorded: the app in front ("" when no window was)
    title: str = ""           # recorded: its (redacted) window title

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class Marker:
    t_ns: int
    name: str                 # task_start | task_end | ...
    text: str = ""
    ok: bool = True


def gap_kind(reason: str) -> tuple[str, str]:
    return GAP_KINDS.get(reason, ("not_recorded", f"not recorded ({reason})"))


def spans(events: Iterable[RawEvent], start_ns: int, end_ns: int) -> list[Span]:
    """Consecutive spans covering ``[start_ns, end_ns]`` (widened to the events and gaps
    that lie outside it). ``events`` need only the gap and focus events, in time order."""
    gaps: list[tuple[int, int, str]] = []
    focus: list[tuple[int, str, str]] = []
    for ev in events:
        if isinstance(ev, GapEvent):
            gaps.append((ev.t_ns, ev.t_ns + max(0, ev.duration_ns), ev.reason))
        elif isinstance(ev, FocusEvent):
            focus.append((ev.t_ns, ev.app_id if ev.window else "", ev.title if ev.window else ""))
        else:
            continue
        start_ns = min(start_ns, ev.t_ns)
        end_ns = max(end_ns, gaps[-1][1] if isinstance(ev, GapEvent) else ev.t_ns)
    cuts = sorted({start_ns, end_ns, *(t for g in gaps for t in g[:2]), *(f[0] for f in focus)})
    focus.sort(key=lambda f: f[0])
    out: list[Span] = []
    fi, app, title = 0, "", ""
    for a, b in zip(cuts, cuts[1:]):
        while fi < len(focus) and focus[fi][0] <= a:
            _, app, title = focus[fi]
            fi += 1
        covering = [gap_kind(r) + (r,) for g0, g1, r in gaps if g0 <= a and b <= g1]
        if covering:
            kind, words, reason = min(covering, key=lambda c: _RANK[c[0]])
            span = Span(kind, a, b, reason, words)
        else:
            span = Span("recorded", a, b, "", "", app, title)
        prev = out[-1] if out else None
        if prev is not None and (prev.kind, prev.reason, prev.app, prev.title) == \
                (span.kind, span.reason, span.app, span.title):
            out[-1] = Span(prev.kind, prev.start_ns, b, prev.reason, prev.words, prev.app, prev.title)
        else:
            out.append(span)
    return out


def markers(events: Iterable[RawEvent]) -> list[Marker]:
    return [Marker(e.t_ns, e.name, e.text, e.ok) for e in events if isinstance(e, MarkerEvent)]


def totals(all_spans: Iterable[Span]) -> dict[str, float]:
    """Seconds per kind."""
    out = {k: 0.0 for k in KINDS}
    for s in all_spans:
        out[s.kind] += s.duration_ns / 1e9
    return {k: round(v, 3) for k, v in out.items()}
