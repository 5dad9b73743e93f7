"""The platform interface of capture. The recorder only ever talks to a :class:`Backend`.

A backend supplies four things:

* an input hook that hands :class:`InputRecord` s (small frozen records of what the
  platform delivered, undecoded) to a sink and returns at once
  (:meth:`Backend.start_input`); :meth:`Backend.decode` turns them into raw events later,
  on the recorder's processing thread, never on the hook thread;
* a window tracker reporting the active window (:meth:`Backend.start_focus`);
* a screen grabber (:meth:`Backend.grab`) returning a ``(height, width)`` uint32 array;
* the screen geometry (:meth:`Backend.screen_info`) and, for safeguards, the stacking
  order of visible windows (:meth:`Backend.visible_windows`).

One package per platform fills it in: ``linux/x11.py`` today; ``darwin/`` and ``win32/``
will follow the same shape. :func:`get_backend` picks one. :mod:`.fake` replays a script
(tests of the recorder and the safeguards without a display).
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..events import FocusEvent, Geometry, RawEvent


@dataclass(frozen=True)
class Monitor:
    x: int
    y: int
    width: int
    height: int
    name: str = ""


@dataclass(frozen=True)
class ScreenInfo:
    """Logical screen size (the coordinate space of input events), scale factor and
    the geometry of every monitor."""

    width: int
    height: int
    scale: float = 1.0
    monitors: tuple[Monitor, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width, "height": self.height, "scale": self.scale,
            "monitors": [{"x": m.x, "y": m.y, "width": m.width, "height": m.height, "name": m.name}
             for m in self.monitors],
            **self.extra,
        }


@dataclass(frozen=True)
class WindowInfo:
    """A top-level window as the safeguards see it (stacking order: bottom first).

    ``geometry`` is the client area; ``frame`` the whole window as it shows on screen,
    with the window manager's decorations (title bar, borders), or None when it has none."""

    window: int
    app_id: str
    app_instance: str
    title: str
    geometry: Geometry | None
    frame: Geometry | None = None

    @property
    def outer(self) -> Geometry | None:
        """Where the window shows on screen, decorations included."""
        return self.frame or self.geometry


@dataclass(frozen=True)
class CaptureLost:
    """What a backend hands its input or focus sink when one of its streams stops on its
    own (the display server went away, the connection was killed). The recorder ends the
    session with a :class:`~workprint.errors.CaptureError`: a lost input stream would lose
    input silently, a lost focus stream would leave scope decisions stale."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class InputRecord:
    """Base of what an input hook hands the recorder: each backend declares its own
    record types (what its hook thread received, as cheaply as it can be kept) and
    decodes them in :meth:`Backend.decode`."""


RawSink = Callable[[InputRecord | CaptureLost], None]
FocusSink = Callable[[FocusEvent], None]


class Backend(ABC):
    """Platform capture backend. Methods are called from recorder threads; each
    ``start_*`` starts its own thread and each ``stop_*`` returns promptly."""

    name = "abstract"
    #: True when :meth:`window_stack` can tell which window lies under a point
    locates_windows = False
    #: ``key_observer(t_ns)``, set before :meth:`start_input`: called on the input hook
    #: thread for each key press, with the same monotonic ns as the key's raw record, so a
    #: secure-input probe can look at the state the key met (see
    #: :meth:`.linux.TerminalSecretProbe.start_sampling`). It must return at once.
    key_observer: "Callable[[int], None] | None" = None
    #: ``pointer_observer(t_ns, x, y, press)``, set before :meth:`start_input`: called on the
    #: input hook thread with each button press (``press`` True; not scroll buttons) and the
    #: pointer's latest motion (False), with the same monotonic ns and root position as the
    #: event's raw record, so the element locator starts on a press before the recorder's
    #: processor has seen it (see :meth:`.elements.ElementLocator.pointer_seen`). It must
    #: return at once (a queue push). See :meth:`observes_pointer`.
    pointer_observer: "Callable[[int, int, int, bool], None] | None" = None

    @abstractmethod
    def screen_info(self) -> ScreenInfo: ...

    @abstractmethod
    def start_input(self, sink: RawSink) -> None: ...

    @abstractmethod
    def stop_input(self) -> None: ...

    @abstractmethod
    def decode(self, raw: InputRecord) -> list[RawEvent]: ...

    @abstractmethod
    def start_focus(self, sink: FocusSink) -> None: ...

    @abstractmethod
    def stop_focus(self) -> None: ...

    def wait_ready(self, timeout: float) -> bool:
        """After :meth:`start_input` and :meth:`start_focus`: wait until input is being
        delivered and the window in front is known, so that "recording" is not said before
        it is true. False if ``timeout`` seconds passed first (recording goes on)."""
        return True

    #: True when :meth:`grab` returns the very array of its previous grab whenever not one
    #: pixel changed, and a new array otherwise: the frame pipeline then does not compare
    #: each grab with the one before a second time
    grab_keeps_unchanged: bool = False

    @abstractmethod
    def grab(self) -> np.ndarray:
        """The whole virtual screen as a ``(height, width)`` uint32 array (BGRX)."""

    def lend_screen(self, shape: tuple[int, int]) -> np.ndarray | None:
        """A ``shape`` uint32 buffer of the grabber's that lies free, for another thread
        to write a whole screen into (the OCR backlog rebuilding a frame): the grabber
        takes it back once no array refers to it, and never writes it while one does.
        Its pixels are stale: the borrower overwrites every one. None: none to lend."""
        return None

    def visible_windows(self) -> list[WindowInfo]:
        return []

    def window_stack(self) -> "list[WindowInfo] | None":
        """The visible windows (bottom first) as they are now, for telling which window lies
        under a pointer event: cheap (cached until the layout changes, see
        :meth:`window_generation`), called on the recorder's processing thread - never on
        an input hook thread. None: this backend cannot tell (the gate then judges pointer
        events by the focused window alone)."""
        return None

    def window_pid(self, window: int) -> int | None:
        """The process id of a top-level window (from :meth:`window_stack`), or None.
        Called off the input hook (the element locator's thread)."""
        return None

    def observes_pointer(self) -> bool:
        """True while :attr:`pointer_observer` is told of every pointer press and motion the
        input hook hands on (the recorder then leaves telling the locator to it); False when
        it is not set or this backend (or its current pointer source) cannot."""
        return False

    def current_focus(self) -> FocusEvent | None:
        """The focus event the window tracker emitted last (read from any thread, no round
        trip): the window in front *now*, while the recorder may still be processing
        input from before it. None when not known."""
        return None

    def window_generation(self) -> int:
        """A counter that changes whenever top-level windows are mapped, unmapped, moved,
        resized or restacked: a frame may only be blacked out with a window list of the
        same generation as its pixels."""
        return 0

    def set_url_lookup(self, lookup: "Callable[[FocusEvent], str | None] | None",
                       applies: "Callable[[FocusEvent], bool] | None" = None) -> None:
        """Where focus events of browser windows get their URL from (call before
        ``start_focus``). ``lookup(focus)`` must answer None when in doubt; the backend
        asks again a few times over ~3 s while the window and title stay the same - only
        for windows ``applies(focus)`` says may have a URL at all (default: every window)."""
        self._url_lookup = lookup
        self._url_applies = applies

    def show_indicator(self, text: str | None) -> None:
        """Show (or with None hide) the visible recording indicator. Default: none."""

    def screen_locked(self) -> bool:
        """True while the screen saver / locker is active (recording pauses then)."""
        return False

    def close(self) -> None:  # pragma: no cover - default no-op
        pass


def get_backend(**kwargs: Any) -> Backend:
    """The backend for this platform (raises :class:`NoDisplayError` when none is usable)."""
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        from .linux.x11 import X11Backend

        return X11Backend(**kwargs)
    raise NotImplementedError(
        f"workprint has no capture backend for {sys.platform} yet (Linux/X11 only for now).")
