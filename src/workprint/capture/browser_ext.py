"""What the workprint browser extension tells the recorder, as the recorder uses it.

The extension (``capture/browser_extension/``, Chromium MV3) reports through its
native-messaging host (:mod:`.browser_host`) over the recorder's control socket:

* ``win`` / ``nofocus``: which browser window has focus (as the extension sees it: a
  private window, which it is never allowed into, shows as "no focus") and the URL and
  title of each window's active tab, with the window's bounds;
* ``secure``: whether the focused element of a frame is a password field (``<input
  type=password>``, or a field whose autocomplete says it holds a password), from the
  content script - no accessibility flag needed;
* ``el``: the element a trusted mouse press (``point``) or focus change (``focus``) landed
  on (tag, role, name, text, selector, box in the frame's viewport plus window metrics and
  the page zoom), or ``blur``: the frame's focused element lost the focus to nothing.

:class:`BrowserBridge` keeps that state and answers the recorder's questions for a browser
window in front (a :class:`~workprint.events.FocusEvent`): its URL (:meth:`url_for`), and
whether its focused field reads a secret (:meth:`secret_focus`: True / False / None, the
gate fails closed on None and swallows keys on True). A window the extension cannot vouch
for - another browser program, a private window, a title that does not match the tab it
reports, no report yet - gets None for both.

Elements: :class:`BrowserElementSource` is the element locator's source
(:mod:`.elements`) for browser windows: for a mouse press it answers with the extension's
report of that press (same screen point, reported within the locator's budget), for a
key with the element that last took focus in the tab in front; other windows go to the
fallback source (AT-SPI). Reports become :class:`~workprint.events.ElementEvent` with
``source`` "browser" and the box in screen pixels (:func:`screen_box`); the gate stores
them only with their input, like any element.

Trust: messages are taken only from a process whose parent runs the same executable as
the browser it reports about (the kernel's peer pid of the control-socket connection, see
:mod:`.control`) - a page script cannot reach the native port at all, and a local process
that is not the browser's host cannot speak for the browser. Which process is whose parent
and runs which program, the platform answers (Linux: the ``/proc`` helpers of
:mod:`.linux.atspi`, passed in by ``workprint record``).
"""

from __future__ import annotations

import bisect
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..events import ElementEvent, FocusEvent, Geometry
from ..policy.scope import is_browser

#: Name of the native-messaging host (``workprint browser install`` registers it).
HOST_NAME = "org.workprint.recorder"
#: Longest strings kept from a report (longer ones are cut).
MAX_NAME = 200
MAX_TEXT = 200
MAX_SELECTOR = 400
MAX_URL = 2048
#: An element report older than this when it arrives is dropped.
MAX_ELEMENT_AGE_NS = 5_000_000_000
#: How far (px) the window bounds the extension reports may be from the X window's.
BOUNDS_SLACK_PX = 16
_TITLE_SEPARATORS = (" - ", " \u2014 ", " \u2013 ")

#: Presses remembered for the locator (a press waits at most its budget for its report).
MAX_POINTS = 32
#: focus reports kept per tab (``focused_element(at_ns=)``: the one that held at a key's time)
FOCUS_HISTORY = 16
#: a key pressed this soon after a press in a browser is judged with that press (the focus
#: report the press causes may still be on its way), waiting for it until
#: ``PRESS_FOCUS_WAIT_NS`` after the press
PRESS_FOCUS_NS = 250_000_000
PRESS_FOCUS_WAIT_NS = 80_000_000
POINT_MATCH_PX = 3
POINT_MAX_AGE_NS = 1_000_000_000


def screen_box(geom: dict, zoom: float) -> Geometry | None:
    """An element's box in screen pixels from a content script's report.

    ``geom`` has the element ``rect`` (x, y, w, h in CSS px of its frame's viewport), the
    window metrics (``screenX``/``screenY``/``outerWidth``/``outerHeight`` in screen DIPs,
    ``innerWidth``/``innerHeight`` in CSS px, ``dpr``, ``top``: the top frame) and
    ``calib``, the last trusted pointer event of that frame (``sx``/``sy`` screen DIPs,
    ``cx``/``cy`` CSS px, ``wx``/``wy`` the window's screenX/Y then). The frame's viewport
    origin in DIPs is, from the pointer event, ``sx - cx * zoom`` moved by how far the
    window moved since (exact in iframes too); without one, for the top frame only, the
    window's outer box minus its borders (side borders equal, the bottom border as wide as
    a side one, the rest is the toolbar). DIPs become pixels by ``dpr / zoom``. None when
    it cannot be told (an iframe never pointed at, a report that does not add up).
    """
    try:
        zoom = float(zoom) if zoom else 1.0
        dpr = float(geom.get("dpr") or 1.0)
        rect = geom["rect"]
        rx, ry, rw, rh = (float(rect[k]) for k in ("x", "y", "w", "h"))
        sx_now, sy_now = float(geom["screenX"]), float(geom["screenY"])
        calib = geom.get("calib")
        if isinstance(calib, dict):
            ox = float(calib["sx"]) - float(calib["cx"]) * zoom - float(calib["wx"]) + sx_now
            oy = float(calib["sy"]) - float(calib["cy"]) * zoom - float(calib["wy"]) + sy_now
        elif geom.get("top") is True:
            side = (float(geom["outerWidth"]) - float(geom["innerWidth"]) * zoom) / 2
            top = float(geom["outerHeight"]) - float(geom["innerHeight"]) * zoom - side
            if side < 0 or top < 0:
                return None
            ox, oy = sx_now + side, sy_now + top
        else:
            return None
    except (KeyError, TypeError, ValueError):
        return None
    values = (zoom, dpr, rx, ry, rw, rh, ox, oy)
    if not all(math.isfinite(v) for v in values) or zoom <= 0 or dpr <= 0 or rw < 0 or rh < 0:
        return None
    dsf = dpr / zoom
    x0, y0 = dsf * (ox + rx * zoom), dsf * (oy + ry * zoom)
    x1, y1 = dsf * (ox + (rx + rw) * zoom), dsf * (oy + (ry + rh) * zoom)
    return Geometry(round(x0), round(y0), max(0, round(x1) - round(x0)), max(0, round(y1) - round(y0)))


def screen_point(geom: dict, zoom: float) -> tuple[int, int] | None:
    """Where on the screen (pixels) the pointer was at the frame's last trusted pointer
    event (``calib``): its screen DIPs scaled by ``dpr / zoom``."""
    calib = geom.get("calib")
    try:
        zoom = float(zoom) if zoom else 1.0
        dsf = float(geom.get("dpr") or 1.0) / zoom
        x, y = float(calib["sx"]) * dsf, float(calib["sy"]) * dsf
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    return round(x), round(y)


def same_place(g: Geometry, bounds: tuple[int, int, int, int]) -> bool:
    """Is the X window at ``g`` (pixels) the browser window at ``bounds`` (left, top, width,
    height in screen DIPs: pixels divided by the device scale factor, which the same ratio
    on all four tells)?"""
    left, top, width, height = bounds
    if width <= 0 or height <= 0:
        return False
    scale = g.width / width
    if not 0.5 <= scale <= 4.0:
        return False
    return max(abs(g.x - left * scale), abs(g.y - top * scale), abs(g.height - height * scale)) <= BOUNDS_SLACK_PX


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def title_shows(window_title: str, tab_title: str) -> bool:
    """Is ``window_title`` the title a browser gives a window whose active tab is
    ``tab_title`` (``"<tab title> - Chromium"``; the URL when the page has no title)?"""
    if not window_title or not tab_title:
        return False
    if window_title == tab_title:
        return True
    return any(window_title.startswith(tab_title + sep) and sep not in window_title[len(tab_title) + len(sep):]
               for sep in _TITLE_SEPARATORS)


@dataclass
class _Window:
    window_id: int
    url: str = ""
    title: str = ""
    tab_id: int | None = None
    bounds: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class _Blur:
    """In a tab's focus history: its frame's focused element lost the focus to nothing."""

    t_ns: int


@dataclass
class _State:
    windows: dict[int, _Window] = field(default_factory=dict)
    focused: int | None = None  # the extension's focused window; None: none it can see
    # (tab, frame) -> its last answers: (since t_ns, password focused)
    secure: dict[tuple[int, int], list[tuple[int, bool]]] = field(default_factory=dict)
    #: tab -> the elements that took focus there, by the time it happened in the page, oldest first
    focus_el: dict[int, list[ElementEvent | _Blur]] = field(default_factory=dict)


class BrowserBridge:
    """The extension's state per browser program, fed by :meth:`handle` (the control
    socket's thread), read by the recorder's threads."""

    def __init__(self, *,
                 parent_of: Callable[[int], int | None],
                 same_program: Callable[[int, int], bool],
                 exe_of: Callable[[int], str | None],
                 clock: Callable[[], int] = time.monotonic_ns,
                 wall: Callable[[], int] = time.time_ns):
        self.clock = clock
        self.wall = wall
        self.parent_of = parent_of
        self.same_program = same_program
        self.exe_of = exe_of
        self._lock = threading.Condition()
        self._browsers: dict[int, _State] = {}  # browser pid -> its state
        # recent presses: (browser pid, received t_ns, screen x, y, element)
        self._points: deque[tuple[int, int, int, int, ElementEvent]] = deque(maxlen=MAX_POINTS)
        self.messages = 0
        self.refused = 0
        self.elements = 0

    # -- fed by the native host -------------------------------------------------------------
    def handle(self, msg: Any, peer_pid: int | None) -> dict:
        """One message from the native host connected as ``peer_pid``."""
        browser = self.parent_of(peer_pid) if peer_pid else None
        exe = self.exe_of(browser) if browser else None
        if browser is None or browser <= 1 or not isinstance(msg, dict) or not exe or not _looks_like_browser(exe):
            self.refused += 1
            return {"ok": False, "error": "browser messages are taken from the browser's native host only"}
        self.messages += 1
        t = msg.get("t")
        ev = None
        with self._lock:
            state = self._browsers.setdefault(browser, _State())
            if t == "win":
                self._on_window(state, msg)
            elif t == "nofocus":
                state.focused = None
            elif t == "closed":
                self._on_closed(state, msg)
            elif t == "secure":
                self._on_secure(state, msg, self._when(msg))
            elif t == "el" and msg.get("cause") == "blur":
                tab = msg.get("tab") if isinstance(msg.get("tab"), dict) else {}
                if state.focused is not None and tab.get("windowId") == state.focused:
                    self._add_focus(state, tab.get("id"), _Blur(self._when(msg)))
            elif t == "el":
                found = self._element(state, msg)
                if found is not None:
                    self.elements += 1
                    ev, point = found
                    if ev.via == "point" and point is not None:
                        self._points.append((browser, self.clock(), point[0], point[1], ev))
                        self._lock.notify_all()
                    elif ev.via == "focus":
                        self._add_focus(state, (msg.get("tab") or {}).get("id"), ev)
            elif t != "hello":
                return {"ok": False, "error": f"unknown browser message {t!r}"}
        return {"ok": True}

    def _add_focus(self, state: _State, tab, entry: ElementEvent | _Blur) -> None:
        """(Under the lock.) A focus report into its tab's history, in page time order
        (frames report apart)."""
        history = state.focus_el.setdefault(tab, [])
        bisect.insort(history, entry, key=lambda e: e.t_ns)
        del history[:-FOCUS_HISTORY]
        self._lock.notify_all()

    @staticmethod
    def _on_window(state: _State, msg: dict) -> None:
        wid = msg.get("windowId")
        if not isinstance(wid, int):
            return
        win = state.windows.setdefault(wid, _Window(wid))
        tab = msg.get("tab") if isinstance(msg.get("tab"), dict) else {}
        win.url = _text(tab.get("url"), MAX_URL)
        win.title = _text(tab.get("title"), MAX_NAME * 4)
        win.tab_id = tab.get("id") if isinstance(tab.get("id"), int) else None
        b = msg.get("bounds")
        try:
            win.bounds = (int(b["left"]), int(b["top"]), int(b["width"]), int(b["height"]))
        except (TypeError, KeyError, ValueError):
            win.bounds = None
        if msg.get("focused") is True:
            state.focused = wid
        elif state.focused == wid:
            state.focused = None  # the browser says it lost focus

    @staticmethod
    def _on_closed(state: _State, msg: dict) -> None:
        """A window or tab was closed: forget it."""
        wid, tab = msg.get("windowId"), msg.get("tabId")
        if isinstance(wid, int):
            state.windows.pop(wid, None)
            if state.focused == wid:
                state.focused = None
        if isinstance(tab, int):
            state.focus_el.pop(tab, None)
            for key in [k for k in state.secure if k[0] == tab]:
                del state.secure[key]

    def _when(self, msg: dict) -> int:
        """When a report's page event happened, on the recorder's clock (at most a few
        seconds back, never ahead)."""
        now = self.clock()
        ts = msg.get("ts")
        if isinstance(ts, (int, float)) and math.isfinite(ts):
            return min(max(now - (self.wall() - int(ts * 1e6)), now - MAX_ELEMENT_AGE_NS), now)
        return now

    @staticmethod
    def _on_secure(state: _State, msg: dict, since: int) -> None:
        tab, frame = (msg.get("tab") or {}).get("id"), msg.get("frameId")
        if not isinstance(tab, int) or not isinstance(frame, int):
            return
        if msg.get("reset") and frame == 0:  # a new page: its old frames are gone
            for key in [k for k in state.secure if k[0] == tab]:
                del state.secure[key]
            state.focus_el.pop(tab, None)
        history = state.secure.setdefault((tab, frame), [])
        history.append((since, msg.get("password") is True))
        del history[:-8]

    def _element(self, state: _State, msg: dict) -> tuple[ElementEvent, tuple[int, int] | None] | None:
        """An element report as an event (t_ns: when it happened in the page) and, for a
        press, its screen point."""
        tab = msg.get("tab") if isinstance(msg.get("tab"), dict) else {}
        el = msg.get("el")
        if not isinstance(el, dict) or state.focused is None or tab.get("windowId") != state.focused:
            return None  # only the window in front (a private one is never reported)
        via = {"point": "point", "focus": "focus"}.get(msg.get("cause"))
        if via is None:
            return None
        t_ns = self._when(msg)
        geom = msg.get("geom") if isinstance(msg.get("geom"), dict) else {}
        rect = el.get("rect") if isinstance(el.get("rect"), dict) else None
        zoom = msg.get("zoom") or 1.0
        box = screen_box({**geom, "rect": rect}, zoom) if rect else None
        password = el.get("password") is True
        states = tuple(s for s, on in (("focused", via == "focus"), ("password", password)) if on)
        ev = ElementEvent(
            t_ns=t_ns, role=_text(el.get("role"), 40), name=_text(el.get("name"), MAX_NAME), states=states,
            box=box, via=via, source="browser", tag=_text(el.get("tag"), 40),
            text="" if password else _text(el.get("text"), MAX_TEXT),
            selector=_text(el.get("selector"), MAX_SELECTOR), url=_text(msg.get("url"), MAX_URL) or None)
        return ev, (screen_point(geom, zoom) if via == "point" else None)

    # -- asked by the recorder --------------------------------------------------------------
    def _window_for(self, focus: FocusEvent) -> tuple[_State, _Window] | None:
        """The extension's window behind the X window in front, when it vouches for it:
        a browser program it reports about, its focused window, the tab title in the
        window title, and (when both are known) the same place on screen."""
        if focus.pid is None or not focus.window or not is_browser(focus.app_id, focus.app_instance):
            return None
        with self._lock:
            for browser, state in self._browsers.items():
                if state.focused is None or not self.same_program(browser, focus.pid):
                    continue
                win = state.windows.get(state.focused)
                if win is None or not title_shows(focus.title, win.title):
                    continue
                if focus.geometry is not None and win.bounds is not None and not same_place(focus.geometry, win.bounds):
                    continue
                return state, win
        return None

    def url_for(self, focus: FocusEvent) -> str | None:
        """The URL of the active tab of the browser window in front, or None (unknown)."""
        found = self._window_for(focus)
        return found[1].url or None if found else None

    def secret_focus(self, focus: FocusEvent, before_ns: int | None = None) -> bool | None:
        """True when a frame of the active tab of the window in front says a password field
        has focus; False when the page's frames said so otherwise; None when the extension
        cannot vouch for that window or its page has not reported (a browser page the
        extension does not run in, e.g. the browser's own pages). With ``before_ns``: what
        the frames said had focus just before that moment (a press moves the focus; its
        report may be in before the press is judged); None when they said nothing before."""
        found = self._window_for(focus)
        if found is None:
            return None
        state, win = found
        with self._lock:
            frames = []
            for (tab, _frame), history in state.secure.items():
                if tab != win.tab_id:
                    continue
                said = [v for since, v in history if before_ns is None or since < before_ns]
                if said:
                    frames.append(said[-1])
        if not frames:
            return None
        return any(frames)

    def reports_for(self, pid: int | None) -> bool:
        """Does the extension report for the browser program that ``pid`` belongs to?"""
        if pid is None:
            return False
        with self._lock:
            browsers = list(self._browsers)
        return any(self.same_program(b, pid) for b in browsers)

    def element_at(self, pid: int, x: int, y: int, deadline: float) -> ElementEvent | None:
        """The element of the press at screen ``(x, y)`` in ``pid``'s browser, waiting for
        its report until ``deadline`` (``time.monotonic()``); each report answers once."""
        with self._lock:
            while True:
                now = self.clock()
                for i, (browser, seen, px, py, ev) in enumerate(self._points):
                    if (now - seen <= POINT_MAX_AGE_NS and abs(px - x) <= POINT_MATCH_PX
                            and abs(py - y) <= POINT_MATCH_PX and self.same_program(browser, pid)):
                        del self._points[i]
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)

    def _focus_history(self, pid: int) -> list[ElementEvent | _Blur]:
        """(Under the lock.) The focus reports of the active tab of ``pid``'s browser window
        in front (as the extension sees it), oldest first."""
        for browser, state in self._browsers.items():
            if state.focused is None or not self.same_program(browser, pid):
                continue
            win = state.windows.get(state.focused)
            if win is not None and win.tab_id in state.focus_el:
                return state.focus_el[win.tab_id]
        return []

    def focused_element(self, pid: int, at_ns: int | None = None) -> ElementEvent | None:
        """The element that took focus in the active tab of ``pid``'s browser window in
        front: the last one, or with ``at_ns`` (a key's time) the last one that took it
        before that moment - a Tab's report of the field it moved to is not its element -
        and None when none reported is that old or the focus had gone to nothing."""
        with self._lock:
            history = self._focus_history(pid)
            prior = [e for e in history if at_ns is None or e.t_ns < at_ns]
            return prior[-1] if prior and isinstance(prior[-1], ElementEvent) else None

    def focus_after(self, pid: int, t_ns: int, until: float) -> ElementEvent | None:
        """The first element that took focus in that tab at or after ``t_ns`` (page time, as
        reported), waiting for its report until ``until`` (``time.monotonic()``); None
        when none came by then, or the focus went to nothing first."""
        with self._lock:
            while True:
                later = [e for e in self._focus_history(pid) if e.t_ns >= t_ns]
                if later:
                    return later[0] if isinstance(later[0], ElementEvent) else None
                left = until - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)

    def describe(self) -> dict:
        return {"messages": self.messages, "refused": self.refused, "elements": self.elements,
                "browsers": len(self._browsers)}


_BROWSER_EXES = ("chrom", "chrome", "brave", "vivaldi", "opera", "msedge", "edge", "thorium", "yandex")


def _looks_like_browser(exe: str) -> bool:
    name = os.path.basename(exe).lower()
    return any(part in name for part in _BROWSER_EXES)


class BrowserElementSource:
    """The element locator's source (:class:`~.elements.ElementSource`): the browser
    extension for the browsers it reports about, ``fallback`` (AT-SPI, or None) for every
    other window."""

    def __init__(self, bridge: BrowserBridge, fallback=None):
        self.bridge = bridge
        self.fallback = fallback
        self._point: ElementEvent | None = None  # the last press report answered
        #: the last press: (its t_ns, its window's pid or None: out of scope, the
        #: browser's report of it or None)
        self._press: tuple[int, int, ElementEvent | None] | None = None

    def at_point(self, pid: int, window, x: int, y: int, deadline: float) -> ElementEvent | None:
        if self.bridge.reports_for(pid):
            self._point = self.bridge.element_at(pid, x, y, deadline)
            return self._point
        return self.fallback.at_point(pid, window, x, y, deadline) if self.fallback is not None else None

    def focused(self, pid: int, deadline: float, at_ns: int | None = None) -> ElementEvent | None:
        """A browser's: the element focused in the page when the key was pressed (see
        :meth:`BrowserBridge.focused_element`); a key soon after a press in that browser is
        judged with the press, as AT-SPI's (:meth:`_focus_after_press`)."""
        if not self.bridge.reports_for(pid):
            return self.fallback.focused(pid, deadline, at_ns) if self.fallback is not None else None
        if at_ns is None:
            return self.bridge.focused_element(pid)
        el = self.bridge.focused_element(pid, at_ns)
        press = self._press
        if press is not None and press[0] < at_ns <= press[0] + PRESS_FOCUS_NS:
            if not press[1] or not self.bridge.same_program(press[1], pid):
                return None  # a press elsewhere just before: the key may have gone there
            if el is None or press[2] is None or el.t_ns < press[2].t_ns:
                return self._focus_after_press(pid, press, el, deadline)
        return el

    def _focus_after_press(self, pid: int, press, before: ElementEvent | None, deadline: float):
        """A key soon after a press whose focus report (if it moved the focus) has not come in
        yet: the element focused before if it is the pressed element (a press on the focused
        field), else the first element that took focus at or after the press in the page,
        waited for until ``PRESS_FOCUS_WAIT_NS`` after the press, if it is the pressed
        element; else None - no element rather than one the focus had left."""
        t_press, _, report = press
        if report is None:
            return None
        same = lambda e: e is not None and e.selector == report.selector and e.url == report.url  # noqa: E731
        if same(before):
            return before  # a press on the focused field leaves the focus there
        until = min(deadline - 0.005, time.monotonic() + (t_press + PRESS_FOCUS_WAIT_NS - time.monotonic_ns()) / 1e9)
        first = self.bridge.focus_after(pid, report.t_ns, until)
        return first if same(first) else None

    def warm(self, pid: int, window, x: int, y: int, deadline: float) -> ElementEvent | None:
        """A pointer rest (see :class:`~.elements.ElementLocator`): AT-SPI windows only - a
        browser's element comes with its press's report, which a warm-up must not take."""
        if self.bridge.reports_for(pid) or self.fallback is None:
            return None
        warm = getattr(self.fallback, "warm", None)
        return warm(pid, window, x, y, deadline) if warm is not None else None

    def prepare(self, pid: int, window, deadline: float) -> None:
        """A window took the focus (see :class:`~.elements.ElementLocator`): AT-SPI windows only."""
        prepare = getattr(self.fallback, "prepare", None)
        if prepare is not None and not self.bridge.reports_for(pid):
            prepare(pid, window, deadline)

    def settle(self, pid: int, deadline: float) -> None:
        """After a press (see :class:`~.elements.ElementLocator`): AT-SPI windows only."""
        settle = getattr(self.fallback, "settle", None)
        if settle is not None and not self.bridge.reports_for(pid):
            settle(pid, deadline)

    def pressed(self, pid: int | None, t_ns: int) -> None:
        """A press (see :class:`~.elements.ElementLocator`): for the fallback, a press in a
        browser window it was not asked about is a press elsewhere."""
        browser = pid is not None and self.bridge.reports_for(pid)
        point, self._point = self._point, None  # (used for one press only)
        self._press = (t_ns, pid, point if browser else None)
        pressed = getattr(self.fallback, "pressed", None)
        if pressed is not None:
            pressed(None if browser else pid, t_ns)

    def covers(self, x: int, y: int) -> bool:
        """The fallback's last point answer holds at (x, y) too (no warm-up needed there)."""
        covers = getattr(self.fallback, "covers", None)
        return bool(covers(x, y)) if covers is not None else False

    @property
    def calls(self) -> int | None:
        return getattr(self.fallback, "calls", None)

    @property
    def round_trips(self) -> int | None:
        return getattr(self.fallback, "round_trips", None)

    def close(self) -> None:
        if self.fallback is not None:
            self.fallback.close()
