"""Scripted sessions with known ground truth, for measuring capture + reduction fidelity.

``plan_session(seed, n)`` picks a seeded sequence of actions (clicks, multi-clicks, right and
middle clicks, drags, vertical and horizontal scrolls, typing runs with BackSpace
corrections, Enter/Tab/arrow presses, hotkeys, window switches) over two windows: an xterm
running ``cat`` (so typed lines are harmless) and the Tk workbench. ``ScriptDriver`` plays
the plan on a live X display with xdotool at human pace and returns the ground truth in
root coordinates; ``score`` aligns the reduced actions to it (order-preserving maximum
matching: same kind, coordinates within ``tol_px``, exact text/keys/ticks/app) and reports
recall and precision per kind.

Used by ``tests/test_fidelity.py`` (a short session) and ``bench/bench_fidelity.py``.
"""

from __future__ import annotations

import random
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from workprint.events import Action

#: Workbench widgets, client-area rectangles (x0, y0, x1, y1); see tests/apps/workbench.py.
WB_REGIONS = {
    "entry": (100, 20, 500, 48),
    "button": (520, 18, 640, 50),
    "notes": (20, 70, 500, 270),
    "list": (520, 70, 860, 270),
    "canvas": (20, 300, 860, 660),
}
MARGIN = 8
WORDS = ("invoice report Budget meeting Q3 draft Alice's notes: total=42; ship v2.1 (final) "
         "check #17 review, OK! paid? 50% due@noon a/b x-y email_list [todo] {x} <tag> ~home").split()
TYPO_CHARS = "qzjxk"
#: (xdotool key spec, expected keys of the action, action kind)
PRESSES = [("Return", ("enter",), "press"), ("Tab", ("tab",), "press"),
           ("Escape", ("esc",), "press"), ("Left", ("left",), "press"),
           ("Right", ("right",), "press"), ("Down", ("down",), "press"),
           ("Home", ("home",), "press"), ("End", ("end",), "press")]
HOTKEYS = [("ctrl+a", ("ctrl", "a"), "hotkey"), ("ctrl+e", ("ctrl", "e"), "hotkey"),
           ("ctrl+l", ("ctrl", "l"), "hotkey"), ("ctrl+shift+k", ("ctrl", "shift", "k"), "hotkey"),
           ("alt+b", ("alt", "b"), "hotkey"), ("ctrl+Home", ("ctrl", "home"), "hotkey"),
           ("shift+Tab", ("shift", "tab"), "hotkey")]
MOUSE_KINDS = ("click", "doubleClick", "tripleClick", "rightClick", "middleClick", "drag",
               "scroll", "hscroll")
ALL_KINDS = MOUSE_KINDS + ("write", "press", "hotkey", "focus")
WEIGHTS = {"click": 14, "doubleClick": 5, "tripleClick": 2, "rightClick": 4, "middleClick": 2,
           "drag": 7, "scroll": 9, "hscroll": 4, "write": 16, "press": 9, "hotkey": 7,
           "focus": 6}


@dataclass
class Step:
    """One scripted action: what to do (window-relative) and what it must reduce to."""

    kind: str
    win: str                              # "wb" or "term": the window it happens in
    x: int | None = None                  # client-relative
    y: int | None = None
    x2: int | None = None
    y2: int | None = None
    ticks: int = 0                        # scroll: signed ticks (> 0 up / right)
    text: str = ""                        # write: the intended text
    typos: tuple[int, ...] = ()           # write: positions where a wrong char + BackSpace goes
    key: str = ""                         # press/hotkey: xdotool key spec
    keys: tuple[str, ...] = ()            # press/hotkey: expected pyautogui names
    delay_ms: int = 80                    # typing delay
    pause_s: float = 0.5                  # pause after the action


@dataclass
class Truth:
    kind: str
    x: int | None = None
    y: int | None = None
    x2: int | None = None
    y2: int | None = None
    text: str | None = None
    keys: tuple[str, ...] = ()
    dx: int = 0
    dy: int = 0
    app_id: str | None = None
    index: int = 0


def _rand_in(rng: random.Random, rect, margin: int = MARGIN) -> tuple[int, int]:
    x0, y0, x1, y1 = rect
    return rng.randint(x0 + margin, x1 - margin), rng.randint(y0 + margin, y1 - margin)


def _text(rng: random.Random) -> str:
    s = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
    return s.lstrip("-") or "x"


def plan_session(seed: int, n: int, term_size: tuple[int, int]) -> list[Step]:
    """``n`` scripted actions (window switches included); every kind at least once when
    ``n`` allows. Starts in the workbench. ``term_size`` is the xterm's client size."""
    rng = random.Random(seed)
    term_rect = (0, 0, term_size[0], term_size[1])
    kinds = list(ALL_KINDS) if n >= len(ALL_KINDS) else []
    pool = list(WEIGHTS)
    wts = [WEIGHTS[k] for k in pool]
    while len(kinds) < n:
        kinds.append(rng.choices(pool, wts)[0])
    head = kinds[:len(ALL_KINDS)] if n >= len(ALL_KINDS) else []
    rng.shuffle(head)
    if head:
        # a scroll right after a scroll the same way, elsewhere: must stay two actions
        at = head.index("scroll") + 1
        head.insert(at, "scroll_again")
        kinds.pop()
    kinds = head + kinds[len(head) - 1 if head else 0:]
    # no two writes in a row (they would be one typing run)
    for i in range(1, len(kinds)):
        if kinds[i] == "write" and kinds[i - 1] == "write":
            kinds[i] = "press"
    win = "wb"
    last_press: tuple[int, int] | None = None
    last_scroll: tuple[str, int, int, int] | None = None   # (win, sign-axis, x, y)
    steps: list[Step] = []
    for kind in kinds:
        pause = rng.uniform(0.45, 0.9)
        if kind == "focus":
            win = "term" if win == "wb" else "wb"
            steps.append(Step("focus", win, pause_s=pause))
            last_press = None
            continue
        again = kind == "scroll_again"
        if again:
            kind = "scroll"
        if kind in MOUSE_KINDS:
            if win == "wb":
                if kind == "drag":
                    region = rng.choice(["canvas", "canvas", "notes"])
                elif kind == "middleClick":
                    region = "canvas"                 # middle elsewhere pastes PRIMARY
                elif kind in ("scroll", "hscroll"):
                    region = rng.choice(["list", "notes", "canvas"])
                else:
                    region = rng.choice(list(WB_REGIONS))
                rect = WB_REGIONS[region]
            else:
                rect = term_rect                      # (a middle click pastes into cat: harmless)
            avoid = [p for p in (last_press, last_scroll[2:] if last_scroll else None) if p]
            for _ in range(50):                       # stay clear of the previous press
                x, y = _rand_in(rng, rect)
                if all(abs(x - p[0]) + abs(y - p[1]) > 40 for p in avoid):
                    break
            step = Step(kind, win, x, y, pause_s=pause)
            if kind == "drag":
                for _ in range(100):
                    x2, y2 = _rand_in(rng, rect)
                    if abs(x2 - x) + abs(y2 - y) > 40:
                        break
                step.x2, step.y2 = x2, y2
            if kind in ("scroll", "hscroll"):
                step.ticks = rng.choice([-1, 1]) * rng.randint(1, 5)
                if again and last_scroll is not None:     # the same way as the last scroll
                    step.ticks = abs(step.ticks) * (1 if last_scroll[1].endswith("+") else -1)
                axis = kind + ("+" if step.ticks > 0 else "-")
                if last_scroll is not None and last_scroll[:2] == (win, axis) and (
                        abs(x - last_scroll[2]) + abs(y - last_scroll[3]) < 40):
                    step.ticks = -step.ticks          # same spot, same way: flip direction
                    axis = kind + ("+" if step.ticks > 0 else "-")
                last_scroll = (win, axis, x, y)
            else:
                last_scroll = None
            last_press = (x, y) if kind not in ("scroll", "hscroll") else last_press
            steps.append(step)
            continue
        last_scroll = None
        if kind == "write":
            text = _text(rng)
            typos = tuple(sorted(rng.sample(range(1, len(text) + 1), k=min(len(text), rng.choice([0, 0, 1, 1, 2])))))
            steps.append(Step("write", win, text=text, typos=typos,
                              delay_ms=rng.randint(55, 130), pause_s=pause))
        else:
            spec, keys, k = rng.choice(PRESSES if kind == "press" else HOTKEYS)
            steps.append(Step(k, win, key=spec, keys=keys, pause_s=pause))
    return steps


class ScriptDriver:
    """Plays a plan with xdotool on ``display``: windows ``wb`` and ``term`` (ids known)."""

    def __init__(self, display: str, windows: dict[str, int], env: dict[str, str] | None = None):
        from Xlib.display import Display

        self.display = display
        self.env = env
        self.wids = windows
        d = Display(display)
        try:
            self.app_id = {}
            for name, wid in windows.items():
                wm_class = d.create_resource_object("window", wid).get_wm_class() or ("", "")
                self.app_id[name] = wm_class[1]
        finally:
            d.close()
        self.origin = {name: self._geometry(wid)[:2] for name, wid in windows.items()}
        loc = self._kv(self.x("getmouselocation", "--shell"))
        self.cursor = (int(loc["X"]), int(loc["Y"]))

    @staticmethod
    def _kv(out: str) -> dict[str, str]:
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def x(self, *args: str) -> str:
        out = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(args[:6])} failed: {out.stderr.strip()}")
        return out.stdout

    def _geometry(self, wid: int) -> tuple[int, int, int, int]:
        g = self._kv(self.x("getwindowgeometry", "--shell", str(wid)))
        return int(g["X"]), int(g["Y"]), int(g["WIDTH"]), int(g["HEIGHT"])

    def client_size(self, name: str) -> tuple[int, int]:
        return self._geometry(self.wids[name])[2:]

    def _glide(self, x: int, y: int, steps: int = 7) -> list[str]:
        x0, y0 = self.cursor
        args: list[str] = []
        for i in range(1, steps + 1):
            f = i / steps
            f = f * f * (3 - 2 * f)
            args += ["mousemove", str(round(x0 + (x - x0) * f)), str(round(y0 + (y - y0) * f)),
                     "sleep", "0.02"]
        self.cursor = (x, y)
        return args

    def activate(self, name: str) -> None:
        self.x("windowactivate", "--sync", str(self.wids[name]))
        time.sleep(0.2)

    def run(self, steps: Sequence[Step]) -> list[Truth]:
        """Play ``steps``; the ground truth (root coordinates) of what was done."""
        truth: list[Truth] = []
        for i, s in enumerate(steps):
            truth.append(self._do(s, i))
            time.sleep(s.pause_s)
        return truth

    def _do(self, s: Step, index: int) -> Truth:
        ox, oy = self.origin[s.win]
        ax = ay = ax2 = ay2 = None
        if s.x is not None:
            ax, ay = ox + s.x, oy + s.y
        if s.x2 is not None:
            ax2, ay2 = ox + s.x2, oy + s.y2
        k = s.kind
        if k == "focus":
            self.activate(s.win)
            return Truth("focus", app_id=self.app_id[s.win], index=index)
        if k in ("click", "doubleClick", "tripleClick", "rightClick", "middleClick"):
            button = {"rightClick": "3", "middleClick": "2"}.get(k, "1")
            repeat = {"doubleClick": "2", "tripleClick": "3"}.get(k, "1")
            self.x(*self._glide(ax, ay), "sleep", "0.05",
                   "click", "--repeat", repeat, "--delay", "90", button)
            return Truth(k, ax, ay, index=index)
        if k == "drag":
            args = self._glide(ax, ay) + ["sleep", "0.05", "mousedown", "1", "sleep", "0.05"]
            n = 12
            for j in range(1, n + 1):
                args += ["mousemove", str(round(ax + (ax2 - ax) * j / n)),
                         str(round(ay + (ay2 - ay) * j / n)), "sleep", "0.03"]
            args += ["sleep", "0.05", "mouseup", "1"]
            self.x(*args)
            self.cursor = (ax2, ay2)
            return Truth("drag", ax, ay, ax2, ay2, index=index)
        if k in ("scroll", "hscroll"):
            if k == "scroll":
                button = "4" if s.ticks > 0 else "5"
            else:
                button = "7" if s.ticks > 0 else "6"
            self.x(*self._glide(ax, ay), "sleep", "0.05",
                   "click", "--repeat", str(abs(s.ticks)), "--delay", "70", button)
            if k == "scroll":
                return Truth(k, ax, ay, dy=s.ticks, index=index)
            return Truth(k, ax, ay, dx=s.ticks, index=index)
        if k == "write":
            delay = str(s.delay_ms)
            cuts = [0, *s.typos]
            for a, b in zip(cuts, cuts[1:] + [len(s.text)]):
                if b > a:
                    self.x("type", "--delay", delay, "--", s.text[a:b])
                if b in s.typos:
                    self.x("type", "--delay", delay, "--", TYPO_CHARS[b % len(TYPO_CHARS)])
                    time.sleep(s.delay_ms / 1000)
                    self.x("key", "BackSpace")
                    time.sleep(s.delay_ms / 1000)
            return Truth("write", text=s.text, index=index)
        if k in ("press", "hotkey"):
            self.x("key", s.key)
            return Truth(k, keys=s.keys, index=index)
        raise ValueError(k)


# --- scoring ---------------------------------------------------------------------------
SCORED_OUT = ("wait", "end")      # derived from idle time / markers, not scripted


def matches(t: Truth, a: Action, tol_px: int = 5) -> bool:
    if t.kind != a.kind:
        return False
    if t.x is not None:
        if a.x is None or abs(a.x - t.x) > tol_px or abs(a.y - t.y) > tol_px:
            return False
    if t.x2 is not None:
        if a.x2 is None or abs(a.x2 - t.x2) > tol_px or abs(a.y2 - t.y2) > tol_px:
            return False
    if t.kind == "write":
        return a.text == t.text
    if t.kind in ("press", "hotkey"):
        return tuple(a.keys) == t.keys
    if t.kind == "scroll":
        return a.dy == t.dy and a.dx == 0
    if t.kind == "hscroll":
        return a.dx == t.dx and a.dy == 0
    if t.kind == "focus":
        return a.app_id == t.app_id
    return True


def align(truth: Sequence[Truth], acts: Sequence[Action], tol_px: int = 5) -> list[tuple[int, int]]:
    """Order-preserving maximum matching (LCS over the ``matches`` relation)."""
    n, m = len(truth), len(acts)
    dp = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best = max(dp[i + 1][j], dp[i][j + 1])
            if matches(truth[i], acts[j], tol_px):
                best = max(best, dp[i + 1][j + 1] + 1)
            dp[i][j] = best
    pairs = []
    i = j = 0
    while i < n and j < m:
        if matches(truth[i], acts[j], tol_px) and dp[i][j] == dp[i + 1][j + 1] + 1:
            pairs.append((i, j))
            i += 1
            j += 1
        elif dp[i + 1][j] >= dp[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


@dataclass
class Score:
    truth: int
    actions: int
    matched: int
    per_kind: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: int = 0
    writes_exact: int = 0
    max_coord_err: int = 0
    waits: int = 0
    missed: list[Truth] = field(default_factory=list)
    extra: list[Action] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.actions if self.actions else 1.0

    def table(self) -> str:
        rows = [f"{'kind':<12} {'truth':>5} {'reduced':>7} {'matched':>7} {'recall':>7} {'precision':>9}"]
        for k, v in sorted(self.per_kind.items()):
            rows.append(f"{k:<12} {v['truth']:>5} {v['actions']:>7} {v['matched']:>7} "
                        f"{v['recall']:>7.3f} {v['precision']:>9.3f}")
        rows.append(f"{'ALL':<12} {self.truth:>5} {self.actions:>7} {self.matched:>7} "
                    f"{self.recall:>7.3f} {self.precision:>9.3f}")
        rows.append(f"typed runs exact: {self.writes_exact}/{self.writes}; max coordinate error of "
                    f"matched mouse actions: {self.max_coord_err} px; wait actions (not scored): {self.waits}")
        return "\n".join(rows)

    def explain(self) -> str:
        lines = [f"missed: {t}" for t in self.missed] + [f"extra: {a.kind} x={a.x} y={a.y} x2={a.x2} "
                                                         f"y2={a.y2} text={a.text!r} keys={a.keys} dx={a.dx} "
                                                         f"dy={a.dy} app={a.app_id}" for a in self.extra]
        return "\n".join(lines)


def score(truth: Sequence[Truth], actions: Sequence[Action], tol_px: int = 5) -> Score:
    acts = [a for a in actions if a.kind not in SCORED_OUT]
    pairs = align(truth, acts, tol_px)
    mt = {i for i, _ in pairs}
    ma = {j for _, j in pairs}
    sc = Score(len(truth), len(acts), len(pairs),
               waits=sum(1 for a in actions if a.kind == "wait"))
    for k in sorted({t.kind for t in truth} | {a.kind for a in acts}):
        tk = [i for i, t in enumerate(truth) if t.kind == k]
        ak = [j for j, a in enumerate(acts) if a.kind == k]
        m_t = sum(1 for i in tk if i in mt)
        m_a = sum(1 for j in ak if j in ma)
        sc.per_kind[k] = {"truth": len(tk), "actions": len(ak), "matched": m_t,
                          "recall": m_t / len(tk) if tk else 1.0,
                          "precision": m_a / len(ak) if ak else 1.0}
    writes = [i for i, t in enumerate(truth) if t.kind == "write"]
    sc.writes = len(writes)
    sc.writes_exact = sum(1 for i in writes if i in mt)
    for i, j in pairs:
        t, a = truth[i], acts[j]
        for tv, av in ((t.x, a.x), (t.y, a.y), (t.x2, a.x2), (t.y2, a.y2)):
            if tv is not None:
                sc.max_coord_err = max(sc.max_coord_err, abs(tv - av))
    sc.missed = [t for i, t in enumerate(truth) if i not in mt]
    sc.extra = [a for j, a in enumerate(acts) if j not in ma]
    return sc


def run_scripted(vd, start_recording, seed: int, n: int, workbench) -> dict[str, Any]:
    """Start the xterm and workbench on ``vd``, record ``n`` scripted actions, reduce them.

    ``workbench()`` starts the Tk app and returns its window id; ``start_recording()``
    starts a recorder and returns an object whose ``stop()`` returns the stored Session.
    """
    from workprint.actions.reduce import reduce_events

    term = start_term(vd)
    wb = workbench()
    driver = ScriptDriver(vd.display, {"wb": wb, "term": term}, env=vd.env)
    steps = plan_session(seed, n, driver.client_size("term"))
    driver.activate("wb")
    rec = start_recording()
    t0 = time.monotonic()
    truth = [Truth("focus", app_id=driver.app_id["wb"], index=-1)]   # the window at start
    truth += driver.run(steps)
    elapsed = time.monotonic() - t0
    time.sleep(0.5)
    session = rec.stop()
    events = list(session.events())
    session.close()
    actions = reduce_events(events)
    return {"truth": truth, "actions": actions, "steps": steps, "events": events,
            "elapsed_s": elapsed, "score": score(truth, actions), "recorder": rec}


def start_term(vd, title: str = "fidelity-term", geometry: str = "80x24+40+40") -> int:
    """An xterm running ``cat``: typed lines and Enter are harmless; no shell runs them."""
    vd.spawn(["xterm", "-T", title, "-geometry", geometry, "-e", "cat"])
    return vd.wait_window(f"^{title}$")
