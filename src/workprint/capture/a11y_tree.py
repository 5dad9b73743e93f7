"""Accessibility trees of the active window at keyframes (policy ``[capture] a11y_tree``).

Platform-free. The frame pipeline tells the :class:`TreeTaker` when it stored a frame of a
settled screen (``start``, ``post_action``, ``focus``, ``idle_change``: the frames that
become the keyframes of the next action); one worker thread then asks a :class:`TreeSource`
(Linux: AT-SPI, :mod:`.linux.atspi_tree`) for the tree of the window in front, within a
deadline, and hands it to ``deliver`` with that window's id (the recorder passes it
through the safeguard gate, which bounds it and redacts its names with
:func:`~workprint.policy.a11y_tree.bound_tree` and stores it only while that window is the
recorded one in front). Frames taken before an action (``pre_*``) ask for nothing: by the
time a query could run the action has begun, and its result could leak into the tree.

Scope comes first: ``target()`` answers the window in front only when the gate records it
(in scope, not paused), else None - then nothing is asked. A request that finds the worker
busy replaces the one waiting (the newest screen wins); nothing runs on the input hook
thread or the frame threads, and a slow or absent source costs "no tree", never input.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from ..events import A11yNode, A11yTreeEvent
from ..policy.a11y_tree import SHOWING, TreeBounds

#: time one tree may take in the source (then: no tree)
TREE_BUDGET_S = 0.5
#: frame reasons after which a tree is taken (settled screens; never ``pre_*``)
TREE_REASONS = frozenset({"start", "post_action", "focus", "idle_change"})
LATENCY_SAMPLES = 2000


class TreeSource(Protocol):
    """Reads the tree of one window on one platform. Called on the taker's thread only;
    must return by ``deadline`` (``time.monotonic()``), answer None on any doubt, and
    mark showing nodes with the state :data:`SHOWING`; it should stop reading at the
    bounds (the gate's :func:`~workprint.policy.a11y_tree.bound_tree` applies them) and never read a password field's
    name, value or descendants."""

    def tree(self, pid: int, window, bounds: TreeBounds, deadline: float) -> A11yNode | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TreeTarget:
    """The window in front, recorded: its id, process and the window as the backend lists
    it (for telling its top-level accessible), and its app id."""

    window: int
    pid: int
    app: str
    info: object = None


class TreeTaker:
    def __init__(self, source: TreeSource, *, target: Callable[[], TreeTarget | None],
                 deliver: Callable[[A11yTreeEvent, int], None], bounds: TreeBounds = TreeBounds(),
                 budget_s: float = TREE_BUDGET_S):
        self.source = source
        self.target = target
        self.deliver = deliver
        self.bounds = bounds
        self.budget_s = budget_s
        self._cond = threading.Condition()
        self._pending: int | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="workprint-a11y-tree", daemon=True)
        self.counts = {"requests": 0, "taken": 0, "none": 0, "out_of_scope": 0, "replaced": 0,
                       "late": 0, "errors": 0}
        #: ms from the ask to the tree read, and the nodes read (before the gate bounds them)
        self.query_ms: list[float] = []
        self.nodes: list[int] = []
        self.apps_asked: set[str] = set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout)
        try:
            self.source.close()
        except Exception:  # noqa: BLE001
            pass

    def frame_stored(self, t_ns: int, reason: str) -> None:
        """The frame pipeline stored (queued) a frame grabbed at ``t_ns`` (never blocks)."""
        if reason not in TREE_REASONS:
            return
        with self._cond:
            self.counts["requests"] += 1
            if self._pending is not None:
                self.counts["replaced"] += 1
            self._pending = t_ns
            self._cond.notify()

    def stats(self) -> dict:
        out: dict = dict(self.counts)
        for key, xs in (("query_ms", self.query_ms), ("nodes_read", self.nodes)):
            xs = sorted(xs)
            if xs:
                pick = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]  # noqa: E731
                out[key] = {"p50": round(pick(0.5), 2), "p99": round(pick(0.99), 2), "max": round(xs[-1], 2),
                            "n": len(xs)}
        out["apps_asked"] = sorted(self.apps_asked)
        for key in ("calls", "round_trips", "replayed"):  # the source's own totals, where it counts them
            value = getattr(self.source, key, None)
            if isinstance(value, int):
                out[f"source_{key}"] = value
        return out

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                self._pending = None
            try:
                self._take()
            except Exception:  # noqa: BLE001 - a broken source costs trees, never capture
                self.counts["errors"] += 1

    def _sample(self, xs: list, value) -> None:
        if len(xs) >= LATENCY_SAMPLES:
            xs[random.randrange(LATENCY_SAMPLES)] = value
        else:
            xs.append(value)

    def _take(self) -> None:
        target = self.target()  # the scope decision, before any query
        if target is None:
            self.counts["out_of_scope"] += 1
            return
        t_ns = time.monotonic_ns()
        deadline = time.monotonic() + self.budget_s
        self.apps_asked.add(target.app)
        raw = self.source.tree(target.pid, target.info, self.bounds, deadline)
        if raw is None or SHOWING not in raw.states:
            self.counts["none"] += 1
            return
        if time.monotonic() > deadline + 0.005:
            self.counts["late"] += 1
            return
        self.counts["taken"] += 1
        self._sample(self.query_ms, (time.monotonic_ns() - t_ns) / 1e6)
        self._sample(self.nodes, sum(1 for _ in raw.walk()))
        self.deliver(A11yTreeEvent(t_ns, target.app, raw), target.window)
