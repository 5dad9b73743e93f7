"""The one vocabulary of workprint: raw events, frames and actions.

Every stage speaks these types. Raw events are what the recorder stores (the source of
truth on the device); actions are what the reducer derives from them. All timestamps are
``time.monotonic_ns()`` values of the recording process (``t_ns``); the session metadata
holds the monotonic and wall-clock times of the session start so both can be related.
Raw timestamps are never rewritten.

Rows are stored as ``(t_ns, kind, data-json)``; :func:`to_row` and :func:`from_row`
convert in both directions and are the only place that knows the mapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

#: Version of the event vocabulary (stored with every session). 2: ``element`` events.
#: 3: ``a11y_tree`` events.
EVENT_VERSION = 3

# --- modifier names -------------------------------------------------------------------
#: Modifier names as stored in ``KeyEvent.modifiers`` (X11 state mask bits on Linux).
MODIFIERS = ("shift", "lock", "ctrl", "alt", "numlock", "mod3", "super", "altgr")
#: Modifiers that turn a key into a chord (``hotkey``) rather than text.
CHORD_MODIFIERS = frozenset({"ctrl", "alt", "super"})
#: Keysym names of keys that only change the modifier state (they never type or edit text):
#: the gate's units, the recorder's pre-action frames and element requests pass them over.
MODIFIER_KEYS = frozenset({
    "Shift_L", "Shift_R", "Control_L", "Control_R", "Alt_L", "Alt_R", "Super_L", "Super_R",
    "Meta_L", "Meta_R", "Hyper_L", "Hyper_R", "ISO_Level3_Shift", "ISO_Level5_Shift",
    "Mode_switch", "Caps_Lock", "Shift_Lock", "Num_Lock", "Scroll_Lock"})
#: Keys that submit a line or a form ("\n" typed by xdotool arrives as Linefeed).
SUBMIT_KEYS = frozenset({"Return", "KP_Enter", "Linefeed"})
#: Keys that move the focus to the next or previous field.
FIELD_SWITCH_KEYS = frozenset({"Tab", "ISO_Left_Tab", "KP_Tab"})
#: A pause this long between two keys ends a typing run: the recorder takes a new
#: pre-action frame, and sealed chunks coarsen key times per run (keystroke timing).
TYPING_RUN_GAP_NS = 1_000_000_000

#: Mouse button names. X11 buttons 8/9 are the "back"/"forward" side buttons.
BUTTONS = ("left", "middle", "right", "x1", "x2")

#: Why a frame was taken.
FRAME_REASONS = (
    "pre_click",   # state just before a mouse press (from the ring of recent grabs)
    "pre_key",     # start of a typing run or a hotkey
    "pre_scroll",  # start of a scroll run
    "post_action", # after input settled
    "focus",       # after the active window changed
    "idle_change", # screen changed with no input (slow cadence)
    "start",       # first frame of the session
)


class Event:
    """Base of all raw events. Subclasses declare ``kind`` and their fields."""

    kind: ClassVar[str] = ""
    t_ns: int


@dataclass(frozen=True, slots=True)
class KeyEvent(Event):
    """A key press (``key_down``) or release (``key_up``).

    ``keycode`` is the hardware keycode (match releases to presses by it, never by
    character), ``key`` the keysym name (``"a"``, ``"Return"``, ``"Shift_L"``), ``char``
    the character it types (``None`` for non-printing keys), ``modifiers`` the modifier
    state *before* the event. A key swallowed by a safeguard keeps only ``t_ns``, ``down``
    and ``redacted`` (e.g. ``"PASSWORD"``); keycode, key and char are then empty.
    """

    t_ns: int
    down: bool
    keycode: int = 0
    keysym: int = 0
    key: str = ""
    char: str | None = None
    modifiers: tuple[str, ...] = ()
    redacted: str | None = None

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "key_down" if self.down else "key_up"


@dataclass(frozen=True, slots=True)
class ButtonEvent(Event):
    """A mouse button press (``mouse_down``) or release (``mouse_up``) at root coordinates."""

    t_ns: int
    down: bool
    x: int
    y: int
    button: str  # one of BUTTONS

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "mouse_down" if self.down else "mouse_up"


@dataclass(frozen=True, slots=True)
class ScrollEvent(Event):
    """One scroll tick: ``dy`` > 0 is up/away from the user, ``dx`` > 0 is right."""

    kind: ClassVar[str] = "scroll"
    t_ns: int
    x: int
    y: int
    dx: int
    dy: int


@dataclass(frozen=True, slots=True)
class MoveEvent(Event):
    """Pointer position. Moves may be coalesced; the last position before every button
    or scroll event is always kept."""

    kind: ClassVar[str] = "move"
    t_ns: int
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class Geometry:
    x: int
    y: int
    width: int
    height: int

    def contains(self, px: int, py: int) -> bool:
        return self.x <= px < self.x + self.width and self.y <= py < self.y + self.height


@dataclass(frozen=True, slots=True)
class FocusEvent(Event):
    """The active window changed (or its title changed).

    ``app_id`` is the platform's application identity (X11: WM_CLASS class, e.g.
    ``"XTerm"``); ``app_instance`` the WM_CLASS instance (``"xterm"``). ``window`` is
    0 when no window is active (after debouncing the momentary gap between switches).
    """

    kind: ClassVar[str] = "focus"
    t_ns: int
    window: int
    title: str = ""
    app_id: str = ""
    app_instance: str = ""
    pid: int | None = None
    process: str = ""
    geometry: Geometry | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class GapEvent(Event):
    """Time during which nothing was recorded: out-of-scope app, pause, lock, password.

    Only the reason and the duration are kept - never what happened inside.
    """

    kind: ClassVar[str] = "gap"
    t_ns: int
    duration_ns: int
    reason: str


#: MarkerEvent names a capture backend sends (never stored) when the keys arriving can no
#: longer be attributed to the focused window - another client grabbed the keyboard (a
#: screen locker, a polkit or pinentry dialog), a full-screen override-redirect window is
#: up, the input focus is outside the active window - with the reason as text, and when
#: they can again. The gate pauses in between (fail closed).
KEYS_UNATTRIBUTED = "keys_unattributed"
KEYS_ATTRIBUTED = "keys_attributed"


@dataclass(frozen=True, slots=True)
class MarkerEvent(Event):
    """An explicit marker: ``task_start`` (with the instruction text), ``task_end``
    (``ok`` False when failed), ``pause``/``resume``, ``screen_change``."""

    kind: ClassVar[str] = "marker"
    t_ns: int
    name: str
    text: str = ""
    ok: bool = True


@dataclass(frozen=True, slots=True)
class FrameRef:
    """A stored screenshot: ``frame_id`` is the content address of the frame's tile
    manifest; identical screens share one id."""

    t_ns: int
    frame_id: str
    reason: str
    width: int
    height: int


#: The states of a UI element that an ``ElementEvent`` keeps (of the platform's many).
ELEMENT_STATES = ("focused", "editable", "checked", "selected", "password")
#: Ancestors an ``ElementEvent`` keeps (nearest last), and the longest name kept.
ELEMENT_PATH_MAX = 6
ELEMENT_NAME_MAX = 200


@dataclass(frozen=True, slots=True)
class ElementEvent(Event):
    """The UI element an input acted on, found after the input (it joins the action later).

    ``t_ns`` is the ``t_ns`` of the input event it belongs to (a mouse press, the first
    scroll tick of a run, a key press), not when it was found. ``via`` says how: ``point``
    (the deepest accessible at the pointer's screen point) or ``focus`` (the focused
    accessible, for keys). ``role`` is the platform's role name (AT-SPI: ``"push button"``,
    ``"text"``, ``"password text"``), ``name``/``description`` its accessible name and
    description - redacted like window titles before storage; a password field's *value*
    is never read. ``states`` is a subset of :data:`ELEMENT_STATES`; ``box`` its extents in
    screen pixels; ``app`` the application id of the window it belongs to (as in
    ``FocusEvent.app_id``); ``path`` the ancestors' ``(role, name)`` from the outermost
    kept to the parent, at most :data:`ELEMENT_PATH_MAX`.

    Elements of web pages (``source`` ``"browser"``, from the workprint browser extension)
    use ARIA role names (``"button"``, ``"textbox"``) and also keep the HTML ``tag``, a CSS
    ``selector`` that finds the element again, its visible ``text`` (truncated; never a
    field's value) - both redacted like titles - and the ``url`` of its frame (redacted like
    URLs; an iframe may show another site than the page).
    """

    kind: ClassVar[str] = "element"
    t_ns: int
    role: str
    name: str = ""
    description: str = ""
    states: tuple[str, ...] = ()
    box: Geometry | None = None
    app: str = ""
    path: tuple[tuple[str, str], ...] = ()
    via: str = "point"
    source: str = "atspi"
    tag: str = ""
    text: str = ""
    selector: str = ""
    url: str | None = None


#: The states a node of an accessibility tree keeps: an element's, and what a grounding
#: model needs to tell a control's use (disabled controls lack ``enabled``).
A11Y_TREE_STATES = ELEMENT_STATES + ("enabled", "expanded", "pressed")


@dataclass(frozen=True, slots=True)
class A11yNode:
    """One node of an accessibility tree: platform role name, accessible name (redacted
    like titles before storage; empty for a password field and everything below it), the
    kept states (:data:`A11Y_TREE_STATES`), its box in screen pixels, its children."""

    role: str
    name: str = ""
    states: tuple[str, ...] = ()
    box: Geometry | None = None
    children: tuple["A11yNode", ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The stored and exported form: ``{"role", "name", "states", "box": [x, y, w, h]
        | null, "children": [...]}`` (empty name, states and children left out)."""
        d: dict[str, Any] = {"role": self.role}
        if self.name:
            d["name"] = self.name
        if self.states:
            d["states"] = list(self.states)
        d["box"] = [self.box.x, self.box.y, self.box.width, self.box.height] if self.box else None
        if self.children:
            d["children"] = [c.to_dict() for c in self.children]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "A11yNode":
        box = d.get("box")
        return cls(str(d.get("role", "")), str(d.get("name", "")), tuple(d.get("states", ())),
                   Geometry(*box) if box else None,
                   tuple(cls.from_dict(c) for c in d.get("children", ())))

    def walk(self):
        """This node and all below it, depth first."""
        yield self
        for c in self.children:
            yield from c.walk()


def a11y_digest(root: A11yNode) -> str:
    """Content address of a tree (its canonical JSON)."""
    import hashlib

    canon = json.dumps(root.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canon.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class A11yTreeEvent(Event):
    """The accessibility tree of the active window at a settled moment (taken right after
    a frame that may become a keyframe; ``t_ns`` is when it was asked for), only with the
    policy's ``[capture] a11y_tree``. ``app`` is the window's application id, ``root`` its
    top-level accessible (the window's frame) pruned to showing nodes and bounded (``nodes``
    kept; ``truncated`` when the bounds cut something). ``digest`` is the tree's content
    address: a tree equal to the one stored last is stored as a repeat - ``root`` None,
    the same ``digest`` - which readers resolve to the latest full tree with that digest
    (:func:`resolve_trees`; a repeat whose full tree was forgotten resolves to nothing)."""

    kind: ClassVar[str] = "a11y_tree"
    t_ns: int
    app: str = ""
    root: A11yNode | None = None
    nodes: int = 0
    truncated: bool = False
    digest: str = ""


def resolve_trees(events) -> list[A11yTreeEvent]:
    """The trees among ``events`` (time order), each repeat replaced by the full tree it
    repeats (dropped when that is not among them)."""
    out: list[A11yTreeEvent] = []
    full: dict[str, A11yTreeEvent] = {}
    for ev in events:
        if not isinstance(ev, A11yTreeEvent):
            continue
        if ev.root is not None:
            full[ev.digest] = ev
            out.append(ev)
        elif ev.digest in full:
            base = full[ev.digest]
            out.append(A11yTreeEvent(ev.t_ns, ev.app or base.app, base.root, base.nodes, base.truncated,
                                     ev.digest))
    return out


RawEvent = (KeyEvent | ButtonEvent | ScrollEvent | MoveEvent | FocusEvent | GapEvent | MarkerEvent
            | ElementEvent | A11yTreeEvent)

_KIND_TO_CLASS: dict[str, type] = {
    "key_down": KeyEvent,
    "key_up": KeyEvent,
    "mouse_down": ButtonEvent,
    "mouse_up": ButtonEvent,
    "scroll": ScrollEvent,
    "move": MoveEvent,
    "focus": FocusEvent,
    "gap": GapEvent,
    "marker": MarkerEvent,
    "element": ElementEvent,
    "a11y_tree": A11yTreeEvent,
}
EVENT_KINDS = tuple(_KIND_TO_CLASS)


def to_row(event: RawEvent) -> tuple[int, str, str]:
    """Serialise an event to ``(t_ns, kind, json)`` for storage."""
    data: dict[str, Any] = {}
    for f in fields(event):  # type: ignore[arg-type]
        if f.name in ("t_ns", "down"):
            continue
        value = getattr(event, f.name)
        if value is None or value == () or (value == "" and f.default == ""):
            continue
        if isinstance(value, Geometry):
            value = [value.x, value.y, value.width, value.height]
        elif isinstance(value, A11yNode):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        data[f.name] = value
    return event.t_ns, event.kind, json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def from_row(t_ns: int, kind: str, data_json: str) -> RawEvent:
    """Inverse of :func:`to_row`."""
    cls = _KIND_TO_CLASS.get(kind)
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    data = json.loads(data_json) if data_json else {}
    if cls in (KeyEvent, ButtonEvent):
        data["down"] = kind.endswith("_down")
    if "modifiers" in data:
        data["modifiers"] = tuple(data["modifiers"])
    if "geometry" in data and data["geometry"] is not None:
        data["geometry"] = Geometry(*data["geometry"])
    if cls is ElementEvent:
        if data.get("box") is not None:
            data["box"] = Geometry(*data["box"])
        data["states"] = tuple(data.get("states", ()))
        data["path"] = tuple((str(r), str(n)) for r, n in data.get("path", ()))
    if cls is A11yTreeEvent and data.get("root") is not None:
        data["root"] = A11yNode.from_dict(data["root"])
    return cls(t_ns=t_ns, **data)


# --- actions (derived by workprint.actions.reduce) --------------------------------------
ACTION_KINDS = (
    "click", "doubleClick", "tripleClick", "rightClick", "middleClick", "drag",
    "scroll", "hscroll", "write", "press", "hotkey",
    "focus", "wait", "end",
)


@dataclass(frozen=True, slots=True)
class Action:
    """One agent-level action reduced from raw events.

    Coordinates are root pixels; exports normalise them by the logical screen size.
    ``path`` holds the approach movement (pixel points) before a mouse action,
    ``t_start``/``t_end`` the span of raw events it was reduced from (raw timestamps).
    Multi-clicks and drags keep ``button``; ``scroll`` sums ``dy`` (> 0 up), ``hscroll``
    sums ``dx`` (> 0 right); ``write`` holds ``text``; ``press``/``hotkey`` hold ``keys``
    (pyautogui key names); ``wait`` has ``text`` = gap reason for recording gaps.
    """

    kind: str
    t_start: int
    t_end: int
    x: int | None = None
    y: int | None = None
    x2: int | None = None
    y2: int | None = None
    button: str | None = None
    text: str | None = None
    keys: tuple[str, ...] = ()
    dx: int = 0
    dy: int = 0
    app_id: str | None = None
    title: str | None = None
    path: tuple[tuple[int, int], ...] = field(default=())
    #: Time of the first approach movement (mouse actions); keyframes look from here.
    t_approach: int | None = None
    #: ``end`` only: True (task done), False (failed), None (unknown).
    ok: bool | None = None
    #: The UI element acted on (mouse actions: at the press / first tick; keys: focused),
    #: when the platform told (see :class:`ElementEvent`), else None.
    element: ElementEvent | None = None
