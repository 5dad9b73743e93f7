"""Raw events -> agent actions. A pure function: events in, actions out, no I/O.

Rules (thresholds in :class:`ReduceConfig`):

* mouse moves are never actions; they become the approach ``path`` of the next mouse action
* press + release of one button within ``drag_px`` -> a click; further presses of the same
  button within ``multi_click_s`` and ``multi_click_px`` of the previous press upgrade it to
  ``doubleClick``/``tripleClick``; farther apart -> ``drag`` (x, y -> x2, y2)
* consecutive scroll ticks on one axis and in one direction merge (``scroll``/``hscroll``)
  while the pointer stays put; a tick more than ``scroll_move_px`` from the previous one
  (the pointer was moved to scroll somewhere else) starts a new scroll
* printable keys (shift included) merge into ``write``; BackSpace edits the run; keys a
  safeguard masked leave one ``<REASON>`` placeholder per contiguous masked stretch
* Enter, Tab, Escape, arrows, F-keys... -> ``press``; chords with ctrl/alt/super (or shift
  with a non-printing key) -> ``hotkey``; lone modifiers are dropped
* a click, key, scroll of another kind, focus change, long pause, gap or marker ends runs
* the UI element of an action (an ``ElementEvent`` with the ``t_ns`` of its input) joins
  it: a mouse action takes the element of its (first) press or first scroll tick, a key
  action the first element of the keys it was reduced from
* ``wait`` for long pauses and for recording gaps (``text`` = gap reason), ``focus`` when
  the active app/title changes, ``end`` at a ``task_end`` marker

Raw timestamps are kept: ``t_start``/``t_end`` are those of the events reduced.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Iterable

from ..events import (
    Action, ButtonEvent, ElementEvent, FocusEvent, GapEvent, KeyEvent, MarkerEvent, MoveEvent,
    RawEvent, ScrollEvent,
)
from .keys import CHORD_ORDER, MODIFIER_OF_KEYSYM, MODIFIER_PYAUTOGUI, PRESS_KEYS, pyautogui_name

_CHORD = frozenset({"ctrl", "alt", "super"})


@dataclass(frozen=True)
class ReduceConfig:
    """Reduction thresholds (a policy may supply its own)."""

    multi_click_s: float = 0.5     # next press within this time of the previous press
    multi_click_px: float = 5.0    # ... and closer than this (exclusive)
    max_clicks: int = 3            # up to triple click
    drag_px: float = 6.0           # press/release farther apart than this -> drag
    scroll_move_px: float = 6.0    # a scroll tick this far from the previous one -> new scroll
    wait_s: float = 3.0            # a pause this long between inputs -> wait action
    max_path_points: int = 256     # approach path is thinned to at most this many points

    @classmethod
    def from_policy(cls, policy) -> "ReduceConfig":
        """Thresholds from a policy's ``[actions]`` section (others keep their defaults)."""
        a = policy.actions
        return cls(multi_click_s=a.multi_click_s, multi_click_px=a.multi_click_px,
                   drag_px=a.drag_px, wait_s=a.wait_s)


@dataclass(slots=True)
class _Press:
    t: int
    x: int
    y: int
    path: tuple[tuple[int, int], ...]
    t_approach: int | None
    mods: tuple[str, ...]


@dataclass(slots=True)
class _Click:
    index: int      # position of the click action in the output
    button: str
    t_down: int
    x: int
    y: int
    count: int


def _thin(path: list[tuple[int, int]], limit: int) -> tuple[tuple[int, int], ...]:
    n = len(path)
    if n <= limit:
        return tuple(path)
    step = (n - 1) / (limit - 1)
    return tuple(path[round(i * step)] for i in range(limit))


def _click_kind(button: str, count: int) -> str:
    if count == 3:
        return "tripleClick"
    if count == 2:
        return "doubleClick"
    if button == "right":
        return "rightClick"
    if button == "middle":
        return "middleClick"
    return "click"


class _Reducer:
    """Single pass state machine behind :func:`reduce_events`."""

    def __init__(self, cfg: ReduceConfig):
        self.cfg = cfg
        self.out: list[Action] = []
        self.path: list[tuple[int, int]] = []
        self.path_t0: int | None = None
        self.pressed: dict[str, _Press] = {}
        self.last_click: _Click | None = None
        # scroll run: [t_start, t_end, x, y, dx, dy, axis, sign, path, t_approach, last_x, last_y]
        self.scroll: list | None = None
        self.text: list[str] = []
        self.text_t: tuple[int, int] = (0, 0)
        self.text_real: list[bool] = []    # parallel to text: True = a real char
        self.in_mask = False
        self.held: dict[int, str] = {}     # keycode -> modifier name
        self.last_input: int | None = None
        self.focus: tuple[str, str] | None = None
        self.wait_ns = int(cfg.wait_s * 1e9)
        self.mc_ns = int(cfg.multi_click_s * 1e9)
        self.mc_px2 = cfg.multi_click_px ** 2
        self.drag_px2 = cfg.drag_px ** 2
        self.scroll_px2 = cfg.scroll_move_px ** 2

    # -- runs ---------------------------------------------------------------------------
    def flush_text(self) -> None:
        if self.text:
            self.out.append(Action("write", self.text_t[0], self.text_t[1], text="".join(self.text)))
            self.last_click = None
        self.text = []
        self.text_real = []
        self.in_mask = False

    def flush_scroll(self) -> None:
        s = self.scroll
        if s is not None:
            kind = "scroll" if s[6] == "v" else "hscroll"
            self.out.append(Action(kind, s[0], s[1], x=s[2], y=s[3], dx=s[4], dy=s[5],
                                   path=s[8], t_approach=s[9]))
            self.scroll = None
            self.last_click = None

    def flush_runs(self) -> None:
        self.flush_text()
        self.flush_scroll()
        self.last_click = None

    def emit(self, action: Action) -> None:
        self.out.append(action)
        self.last_click = None

    def take_path(self) -> tuple[tuple[tuple[int, int], ...], int | None]:
        path, t0 = _thin(self.path, self.cfg.max_path_points), self.path_t0
        self.path = []
        self.path_t0 = None
        return path, t0

    def held_mods(self, event_mods: Iterable[str]) -> set[str]:
        mods = set(event_mods)
        mods.update(self.held.values())
        return mods

    def check_wait(self, t: int) -> None:
        last = self.last_input
        if last is not None and t - last >= self.wait_ns and not self.pressed:
            self.flush_runs()
            self.emit(Action("wait", last, t))
        self.last_input = t

    # -- mouse --------------------------------------------------------------------------
    def button(self, e: ButtonEvent) -> None:
        if e.down:
            self.check_wait(e.t_ns)
            self.flush_text()
            self.flush_scroll()
            if e.button in self.pressed:          # release was lost: close the old press
                self.finish_press(e.button, None)
            mods = self.held_mods(())
            chord = tuple(MODIFIER_PYAUTOGUI[m] for m in CHORD_ORDER if m in mods)
            path, t0 = self.take_path()
            self.pressed[e.button] = _Press(e.t_ns, e.x, e.y, path, t0, chord)
        elif e.button in self.pressed:
            self.finish_press(e.button, e)

    def finish_press(self, button: str, up: ButtonEvent | None) -> None:
        p = self.pressed.pop(button)
        ux, uy, t_end = (up.x, up.y, up.t_ns) if up is not None else (p.x, p.y, p.t)
        ddx, ddy = ux - p.x, uy - p.y
        if ddx * ddx + ddy * ddy > self.drag_px2:
            self.emit(Action("drag", p.t, t_end, x=p.x, y=p.y, x2=ux, y2=uy, button=button,
                             keys=p.mods, path=p.path, t_approach=p.t_approach))
            return
        lc = self.last_click
        if (lc is not None and lc.button == button and lc.index == len(self.out) - 1
                and p.t - lc.t_down < self.mc_ns and lc.count < self.cfg.max_clicks
                and (p.x - lc.x) ** 2 + (p.y - lc.y) ** 2 < self.mc_px2):
            prev = self.out[lc.index]
            lc.count += 1
            lc.t_down = p.t
            self.out[lc.index] = Action(
                _click_kind(button, lc.count), prev.t_start, t_end, x=prev.x, y=prev.y,
                button=button, keys=prev.keys, path=prev.path, t_approach=prev.t_approach)
            return
        self.emit(Action(_click_kind(button, 1), p.t, t_end, x=p.x, y=p.y, button=button,
                         keys=p.mods, path=p.path, t_approach=p.t_approach))
        self.last_click = _Click(len(self.out) - 1, button, p.t, p.x, p.y, 1)

    def finish_all_presses(self) -> None:
        for button in sorted(self.pressed, key=lambda b: self.pressed[b].t):
            self.finish_press(button, None)

    def scroll_tick(self, e: ScrollEvent) -> None:
        self.check_wait(e.t_ns)
        self.flush_text()
        axis = "v" if e.dy else "h"
        sign = (e.dy if e.dy else e.dx) > 0
        s = self.scroll
        if (s is not None and s[6] == axis and s[7] == sign
                and (e.x - s[10]) ** 2 + (e.y - s[11]) ** 2 <= self.scroll_px2):
            s[1] = e.t_ns
            s[10], s[11] = e.x, e.y
            s[4] += e.dx
            s[5] += e.dy
            return
        self.flush_scroll()
        self.last_click = None
        path, t0 = self.take_path()
        self.scroll = [e.t_ns, e.t_ns, e.x, e.y, e.dx, e.dy, axis, sign, path, t0, e.x, e.y]

    # -- keys ---------------------------------------------------------------------------
    def key(self, e: KeyEvent) -> None:
        if not e.down:
            self.held.pop(e.keycode, None)
            return
        self.check_wait(e.t_ns)
        if e.redacted is not None:
            self.flush_scroll()
            self.last_click = None
            if not self.in_mask:
                self.add_text(f"<{e.redacted}>", e.t_ns, real=False)
                self.in_mask = True
            else:
                self.text_t = (self.text_t[0], e.t_ns)
            return
        key = e.key
        if not key:
            return
        mod = MODIFIER_OF_KEYSYM.get(key)
        if mod is not None:
            self.held[e.keycode] = mod
            return
        self.in_mask = False
        self.flush_scroll()
        self.path = []
        self.path_t0 = None
        mods = self.held_mods(e.modifiers)
        char = e.char
        name = pyautogui_name(key, char)
        if mods & _CHORD:
            self.flush_text()
            chord = tuple(MODIFIER_PYAUTOGUI[m] for m in CHORD_ORDER if m in mods)
            self.emit(Action("hotkey", e.t_ns, e.t_ns, keys=chord + (name,)))
        elif key == "BackSpace":
            if self.text and self.text_real[-1]:
                self.text.pop()
                self.text_real.pop()
                self.text_t = (self.text_t[0], e.t_ns)
            else:
                self.flush_text()
                self.emit(Action("press", e.t_ns, e.t_ns, keys=(name,)))
        elif char is not None and char.isprintable() and char != "" and key not in PRESS_KEYS:
            self.add_text(char, e.t_ns, real=True)
        else:
            self.flush_text()
            if "shift" in mods:
                self.emit(Action("hotkey", e.t_ns, e.t_ns, keys=("shift", name)))
            else:
                self.emit(Action("press", e.t_ns, e.t_ns, keys=(name,)))

    def add_text(self, piece: str, t: int, *, real: bool) -> None:
        if not self.text:
            self.text_t = (t, t)
        else:
            self.text_t = (self.text_t[0], t)
        self.text.append(piece)
        self.text_real.append(real)
        self.last_click = None

    # -- context ------------------------------------------------------------------------
    def focus_change(self, e: FocusEvent) -> None:
        if not e.window:
            return
        ident = (e.app_id, e.title)
        if ident == self.focus:
            return
        self.focus = ident
        self.flush_runs()
        self.emit(Action("focus", e.t_ns, e.t_ns, app_id=e.app_id, title=e.title))

    def gap(self, e: GapEvent) -> None:
        self.flush_runs()
        self.finish_all_presses()
        self.held.clear()
        self.emit(Action("wait", e.t_ns, e.t_ns + e.duration_ns, text=e.reason))
        self.last_input = e.t_ns + e.duration_ns

    def marker(self, e: MarkerEvent) -> None:
        self.flush_runs()
        self.finish_all_presses()
        if e.name == "task_end":
            self.emit(Action("end", e.t_ns, e.t_ns, ok=e.ok))
        self.last_input = e.t_ns

    def finish(self) -> list[Action]:
        self.flush_runs()
        self.finish_all_presses()
        out = self.out
        if any(out[i].t_start > out[i + 1].t_start for i in range(len(out) - 1)):
            out.sort(key=lambda a: a.t_start)
        return out


_POINT_KINDS = frozenset({"click", "doubleClick", "tripleClick", "rightClick", "middleClick",
                          "drag", "scroll", "hscroll"})
_KEY_KINDS = frozenset({"write", "press", "hotkey"})


def join_elements(actions: list[Action], elements: dict[int, ElementEvent]) -> list[Action]:
    """Each action with its element: a mouse action the one of the input at its start
    (press, first scroll tick), a key action the first one among its span's keys."""
    if not elements:
        return actions
    times = sorted(elements)
    out = []
    for a in actions:
        el = None
        if a.kind in _POINT_KINDS:
            el = elements.get(a.t_start)
        elif a.kind in _KEY_KINDS:
            i = bisect_left(times, a.t_start)
            if i < len(times) and times[i] <= a.t_end:
                el = elements[times[i]]
        out.append(replace(a, element=el) if el is not None else a)
    return out


def reduce_events(events: Iterable[RawEvent], config: ReduceConfig | None = None) -> list[Action]:
    """Reduce raw events (in time order) to actions (ordered by ``t_start``)."""
    r = _Reducer(config or ReduceConfig())
    elements: dict[int, ElementEvent] = {}
    path_append = r.path.append
    for e in events:
        cls = type(e)
        if cls is MoveEvent:
            if r.pressed:           # motion of a drag, not the approach of what follows
                continue
            if r.path_t0 is None:
                r.path_t0 = e.t_ns
                path_append = r.path.append
            path_append((e.x, e.y))
        elif cls is KeyEvent:
            r.key(e)  # type: ignore[arg-type]
        elif cls is ButtonEvent:
            r.button(e)  # type: ignore[arg-type]
        elif cls is ScrollEvent:
            r.scroll_tick(e)  # type: ignore[arg-type]
        elif cls is FocusEvent:
            r.focus_change(e)  # type: ignore[arg-type]
        elif cls is GapEvent:
            r.gap(e)  # type: ignore[arg-type]
        elif cls is MarkerEvent:
            r.marker(e)  # type: ignore[arg-type]
        elif cls is ElementEvent:
            elements.setdefault(e.t_ns, e)  # type: ignore[arg-type]
    return join_elements(r.finish(), elements)
