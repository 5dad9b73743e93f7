"""Replay an exported AgentNet trajectory on a live screen, at human pace.

The platform-free part turns a trajectory's steps (their ``value.structured`` actions,
coordinates normalised) into a flat list of input operations for the *current* screen
size (:func:`plan_steps`) and runs them through an :class:`Injector` with pauses
(:func:`execute`). :class:`~workprint.capture.linux.xtest.X11Injector` drives a real X
server through XTEST; :class:`RecordingInjector` records calls for tests.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from .common import ExportError

Op = tuple  # ("move", x, y) | ("button", name, down) | ("key", name, down) | ("char", c)
#             | ("scroll", dx, dy) | ("sleep", seconds)


class Injector(Protocol):
    """What replay needs from a platform: synthetic input and the screen size."""

    def screen_size(self) -> tuple[int, int]: ...
    def pointer(self) -> tuple[int, int]: ...
    def move(self, x: int, y: int) -> None: ...
    def button(self, button: str, down: bool) -> None: ...
    def scroll(self, dx: int, dy: int) -> None: ...     # one tick: dx, dy in -1..1
    def key(self, name: str, down: bool) -> None: ...   # pyautogui key name
    def type_char(self, ch: str) -> None: ...           # press + release typing ch
    def close(self) -> None: ...


@dataclass(frozen=True)
class Pace:
    """Human-like timing in seconds (divided by ``speed``)."""

    between_steps: float = 0.6
    move_min: float = 0.15
    move_per_px: float = 0.0004
    hold: float = 0.06
    multi_click_gap: float = 0.1
    per_char: float = 0.05
    key_gap: float = 0.04
    wait_step: float = 1.5


# --- loading ---------------------------------------------------------------------------
def iter_trajectories(export: Path) -> Iterator[dict[str, Any]]:
    export = Path(export)
    files = [export] if export.is_file() else sorted(export.glob("*.jsonl"))
    if not files:
        raise ExportError(f"No AgentNet *.jsonl in {export}. Export one with "
                          f"`workprint export --format agentnet --out {export}`.")
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    rec = json.loads(line)
                    if "traj" in rec:
                        yield rec


def load_trajectory(export: Path, task_id: str) -> dict[str, Any]:
    ids = []
    for rec in iter_trajectories(export):
        if rec.get("task_id") == task_id:
            return rec
        ids.append(rec.get("task_id"))
    hint = ", ".join(map(str, ids[:5])) + (" ..." if len(ids) > 5 else "")
    raise ExportError(f"Trajectory {task_id!r} is not in {export} (it holds {len(ids)}: {hint}).")


# --- planning (pure) -------------------------------------------------------------------
def _glide(x0: int, y0: int, x1: int, y1: int, pace: Pace, speed: float) -> list[Op]:
    dist = math.hypot(x1 - x0, y1 - y0)
    if dist < 1:
        return [("move", x1, y1)]
    n = max(4, min(40, int(dist / 30)))
    dt = (pace.move_min + dist * pace.move_per_px) / speed / n
    ops: list[Op] = []
    for i in range(1, n + 1):
        f = i / n
        f = f * f * (3 - 2 * f)  # ease in/out
        ops += [("move", round(x0 + (x1 - x0) * f), round(y0 + (y1 - y0) * f)), ("sleep", dt)]
    return ops


def _px(a: dict[str, Any], key: str, size: int, fallback: str) -> int:
    n = a.get(key)
    if n is None:
        return int(a[fallback])
    return min(size - 1, max(0, round(n * size)))


def plan_step(a: dict[str, Any], size: tuple[int, int], cursor: tuple[int, int],
              pace: Pace = Pace(), speed: float = 1.0) -> tuple[list[Op], tuple[int, int]]:
    """Ops for one structured action; returns (ops, cursor after)."""
    w, h = size
    kind = a["type"]
    ops: list[Op] = []
    s = speed
    if "nx" in a or "x" in a:
        x, y = _px(a, "nx", w, "x"), _px(a, "ny", h, "y")
    mods = [m for m in a.get("keys", [])] if kind not in ("press", "hotkey") else []
    if kind in ("click", "doubleClick", "tripleClick", "rightClick", "middleClick"):
        button = {"rightClick": "right", "middleClick": "middle"}.get(kind, a.get("button") or "left")
        clicks = {"doubleClick": 2, "tripleClick": 3}.get(kind, 1)
        ops += _glide(*cursor, x, y, pace, s)
        ops += [op for m in mods for op in (("key", m, True), ("sleep", pace.key_gap / s))]
        for c in range(clicks):
            if c:
                ops.append(("sleep", pace.multi_click_gap / s))
            ops += [("button", button, True), ("sleep", pace.hold / s), ("button", button, False)]
        ops += [("key", m, False) for m in reversed(mods)]
        cursor = (x, y)
    elif kind == "drag":
        x2, y2 = _px(a, "nx2", w, "x2"), _px(a, "ny2", h, "y2")
        button = a.get("button") or "left"
        ops += _glide(*cursor, x, y, pace, s)
        ops += [("key", m, True) for m in mods]
        ops += [("button", button, True), ("sleep", pace.hold / s)]
        ops += _glide(x, y, x2, y2, pace, s * 0.5)
        ops += [("sleep", pace.hold / s), ("button", button, False)]
        ops += [("key", m, False) for m in reversed(mods)]
        cursor = (x2, y2)
    elif kind in ("scroll", "hscroll"):
        ops += _glide(*cursor, x, y, pace, s)
        dx, dy = int(a.get("dx", 0)), int(a.get("dy", 0))
        n = abs(dy) if kind == "scroll" else abs(dx)
        for _ in range(n):
            if kind == "scroll":
                ops += [("scroll", 0, 1 if dy > 0 else -1), ("sleep", pace.key_gap / s)]
            else:
                ops += [("scroll", 1 if dx > 0 else -1, 0), ("sleep", pace.key_gap / s)]
        cursor = (x, y)
    elif kind == "write":
        for ch in a.get("text", ""):
            ops += [("char", ch), ("sleep", pace.per_char / s)]
    elif kind == "press":
        for k in a["keys"]:
            ops += [("key", k, True), ("sleep", pace.key_gap / s), ("key", k, False)]
    elif kind == "hotkey":
        keys = a["keys"]
        for k in keys:
            ops += [("key", k, True), ("sleep", pace.key_gap / s)]
        for k in reversed(keys):
            ops += [("key", k, False), ("sleep", pace.key_gap / s)]
    elif kind == "wait":
        ops.append(("sleep", pace.wait_step / s))
    elif kind in ("end", "focus"):
        pass
    else:
        raise ExportError(f"Cannot replay action type {kind!r}.")
    return ops, cursor


def plan_steps(traj: dict[str, Any], size: tuple[int, int], cursor: tuple[int, int] = (0, 0),
               pace: Pace = Pace(), speed: float = 1.0) -> list[list[Op]]:
    """Ops per step of an AgentNet trajectory record, for a screen of ``size``."""
    if speed <= 0:
        raise ExportError("--speed must be greater than 0.")
    out = []
    for step in traj["traj"]:
        ops, cursor = plan_step(step["value"]["structured"], size, cursor, pace, speed)
        out.append(ops)
    return out


def execute(ops: list[Op], injector: Injector, sleep: Callable[[float], None] = time.sleep) -> None:
    for op in ops:
        kind = op[0]
        if kind == "sleep":
            sleep(op[1])
        elif kind == "move":
            injector.move(op[1], op[2])
        elif kind == "button":
            injector.button(op[1], op[2])
        elif kind == "key":
            injector.key(op[1], op[2])
        elif kind == "char":
            injector.type_char(op[1])
        elif kind == "scroll":
            injector.scroll(op[1], op[2])


def replay(traj: dict[str, Any], injector: Injector, *, speed: float = 1.0, pace: Pace = Pace(),
           sleep: Callable[[float], None] = time.sleep,
           on_step: Callable[[int, dict[str, Any]], None] | None = None) -> int:
    """Execute a trajectory; returns the number of steps run."""
    steps = plan_steps(traj, injector.screen_size(), injector.pointer(), pace, speed)
    for i, (step, ops) in enumerate(zip(traj["traj"], steps)):
        if on_step:
            on_step(i, step)
        execute(ops, injector, sleep)
        if i + 1 < len(steps):
            sleep(pace.between_steps / speed)
    return len(steps)


# --- test double -----------------------------------------------------------------------
@dataclass
class RecordingInjector:
    """Records every call; for unit tests."""

    size: tuple[int, int] = (1920, 1080)
    calls: list[tuple] = field(default_factory=list)
    cursor: tuple[int, int] = (0, 0)

    def screen_size(self) -> tuple[int, int]:
        return self.size

    def pointer(self) -> tuple[int, int]:
        return self.cursor

    def move(self, x: int, y: int) -> None:
        self.cursor = (x, y)
        self.calls.append(("move", x, y))

    def button(self, button: str, down: bool) -> None:
        self.calls.append(("button", button, down))

    def scroll(self, dx: int, dy: int) -> None:
        self.calls.append(("scroll", dx, dy))

    def key(self, name: str, down: bool) -> None:
        self.calls.append(("key", name, down))

    def type_char(self, ch: str) -> None:
        self.calls.append(("char", ch))

    def close(self) -> None:
        self.calls.append(("close",))
