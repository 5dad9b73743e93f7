"""The safeguard gate: every captured event passes here before it can reach the store.

It enforces, in order:

1. **pause** (command, hotkey, idle, no active task in episodes-only mode, keys the
   capture backend cannot attribute to a window - a keyboard grab by a screen locker or a
   password dialog, see ``events.KEYS_UNATTRIBUTED``) and **scope**
   (default-deny apps/sites, built-in denies): while either holds, nothing passes - no
   keys, no pointer, no title. When recording resumes, a single ``GapEvent`` with the
   reason and duration is all that remains.
2. **secure input**: while the platform says the focused field reads a secret (terminal
   password prompt, password field) or cannot tell for a window that might (fail closed),
   keys collapse into one ``<PASSWORD>`` placeholder press/release (no count, no timing)
   until Enter - or until the platform says the field in front is an ordinary one again
   (focus moved on by Tab or a click) and, where it can tell, that the key met an ordinary
   one when it was pressed (a terminal prompt answered and closed before its last keys are
   judged holds them still); "unknown" keeps swallowing. A held run that ends
   while the field in front reads a secret is swallowed too (its focus event came late).
2b. **pointer target**: a click, scroll or drag is judged by the window under its point,
   not only by the focused one (``windows`` gives the visible windows). A press is held
   until every button is released; the gesture - press, the moves and scrolls during it,
   release - is stored only if each of its points lies in an in-scope window, else all of
   it is dropped and a ``pointer_out_of_scope`` gap is all that remains. A scroll tick or
   a move whose point lies in an out-of-scope window, on the bare desktop, or where the
   window list cannot be had, is dropped the same way (moves leave no gap).
3. **text redaction, as the user composed it**: the keys of a *unit* - the line or field
   being composed - are **held in memory until the unit ends** and judged as a whole; no
   key of it reaches the store before. A unit ends at Enter, a focus change, pause, a task
   marker or stop - never at a pause in typing, a click, a Tab or a chord: those stay
   inside the unit, and the line-editor model (:mod:`.compose`) rebuilds the text from
   them (cursor moves, deletions, selections; a click or an unmodelled chord loses the
   cursor and the unit is judged in every reading, masking generously, see
   :func:`.keys.mask_unit`). Lines are judged with the lines before them in the same
   window (:mod:`.blocks`: key/certificate blocks, ``.env`` values). The key events
   behind a redacted value are masked. Titles and URLs are redacted before storage.

   Bounds: a unit holds at most ``MAX_UNIT_KEYS`` key events (about 4,000 characters,
   under 2 MB). At the cap it is judged and stored, its last token (``SEAM_MIN``..
   ``SEAM_MAX`` characters back to a space) is masked whatever it is, and its last
   ``CARRY_CHARS`` characters stay in memory as context for judging what follows: a value
   typed across the cut is masked on both sides. An edit that reaches back behind a cut
   cannot be undone in the store (the one place committed keys are not rewritten). Held
   keys live in memory only: a crash loses them (fails closed). The idle pause
   ``RUN_IDLE_NS`` no longer ends a unit; it only asks the secure-input probe again.

4. **UI elements** (``ElementEvent``, found after their input by the element locator):
   an element is stored only with its input - at once when that input was stored, with it
   when the input is still held (a typing unit, a pointer gesture), never when the input
   was dropped or swallowed (a password key's element is not stored). Its name,
   description and ancestor names (a web element's text and selector too) are redacted
   like titles; a web element whose own frame shows a site out of scope is dropped.
5. **Accessibility trees** (``A11yTreeEvent``, with the policy's ``[capture] a11y_tree``):
   stored only while recording, and only for the window still in front (recorded, in
   scope); bounded, pruned and named by :func:`.a11y_tree.bound_tree` with the same title
   redaction as elements (no name at or below a password field). A tree equal to the one
   stored last is stored as a repeat (its digest only).

The gate is platform-free: the secure-input probe and the clock are injected.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from ..events import (CHORD_MODIFIERS, FIELD_SWITCH_KEYS, KEYS_ATTRIBUTED, KEYS_UNATTRIBUTED, MODIFIER_KEYS,
                      SUBMIT_KEYS, A11yTreeEvent, ButtonEvent, ElementEvent, FocusEvent, GapEvent, KeyEvent,
                      MarkerEvent, MoveEvent, RawEvent, ScrollEvent, a11y_digest, to_row)
from .a11y_tree import TreeBounds, bound_tree
from .blocks import BlockTracker
from .compose import is_text_key
from .keys import mask_unit
from .model import Policy
from .redact_text import Redactor
from .scope import ScopeDecision, decide, window_at

#: a pause in a held unit after which the secure-input probe is asked again
#: the pause (and gap) reason while keys cannot be attributed to a window
UNATTRIBUTABLE = "unattributable"
RUN_IDLE_NS = 1_000_000_000
#: key events one unit may hold before it is cut (see the module docstring)
MAX_UNIT_KEYS = 8192
#: characters of a cut unit kept (memory only) to judge the keys that continue it
CARRY_CHARS = 256
#: windows whose multi-line state (key blocks, open .env values) is remembered
MAX_TRACKED_WINDOWS = 32
KNOWN_SECRET_TTL_NS = 120 * 1_000_000_000
#: A secure-input probe answers for the screen and terminal as they are when it is asked.
#: Asked longer than this after the key was pressed (the recorder fell behind: OCR of a
#: prompt, a busy machine), "ordinary" may describe what came after keys not judged yet -
#: a prompt already answered and gone - so it does not end a secret being typed.
VERDICT_FRESH_NS = 150_000_000
_RUN_ENDING_KEYS = SUBMIT_KEYS | FIELD_SWITCH_KEYS | {"Escape"}
_MODIFIER_KEYS = MODIFIER_KEYS
_SUBMIT_KEYS = SUBMIT_KEYS
_FIELD_KEYS = FIELD_SWITCH_KEYS

#: Gap reason of pointer input dropped because its point lay outside the recorded windows.
POINTER_GAP = "pointer_out_of_scope"
#: Moves kept while a gesture is held (a long drag keeps its first and latest ones).
MAX_GESTURE_MOVES = 2048
#: Stored inputs remembered for elements that arrive after them, and elements waiting for
#: their held input.
ELEMENT_MEMORY = 1024
MAX_PARKED_ELEMENTS = 256

#: windows() -> the visible windows, bottom first (objects with window, app_id,
#: app_instance, title, geometry, frame), or None when they cannot be had now
WindowList = Callable[[], "Sequence[object] | None"]

#: probe(focus) -> True (secret input now), False (ordinary), None (unknown); a probe may
#: also have ``submitted()``, called at each Enter (a prompt it read is then answered)
SecureInputProbe = Callable[[FocusEvent], "bool | None"]


@dataclass
class _Gap:
    start_ns: int
    reason: str


@dataclass
class _Gesture:
    """A pointer gesture held from its first press until every button is released."""

    events: list[RawEvent]
    buttons: set[str]
    ok: bool


def parse_hotkey(spec: str) -> tuple[frozenset[str], str]:
    """``"ctrl+alt+shift+p"`` -> ({"ctrl","alt","shift"}, "p")."""
    parts = [p.strip().lower() for p in spec.split("+") if p.strip()]
    return frozenset(parts[:-1]), parts[-1]


class SafeguardGate:
    def __init__(self, policy: Policy, redactor: Redactor, *,
                 secure_input: SecureInputProbe | None = None,
                 windows: WindowList | None = None,
                 clock: Callable[[], int] = time.monotonic_ns):
        self.policy = policy
        self.redactor = redactor
        self.secure_input = secure_input
        self.windows = windows  # None: pointer events are judged by the focused window alone
        self._gesture: _Gesture | None = None
        self._ptr_gap: tuple[int, int] | None = None  # dropped pointer input: first, last t_ns
        self.dropped_pointer = 0
        self.clock = clock
        self._lock = threading.RLock()
        self._focus: FocusEvent | None = None
        self._in_scope = False
        self._scope_reason = "no window yet"
        self._pause_reason: str | None = None
        self._pause_until_ns: int | None = None
        self._task: str | None = None
        self._gap: _Gap | None = _Gap(clock(), "starting")
        # the held unit: its key events, where a click lost the cursor (index -> "jump"),
        # where the current segment starts (after the last click/Tab: what a password
        # field reached by them would swallow), and the text of a cut unit it continues
        self._run: list[KeyEvent] = []
        self._breaks: dict[int, str] = {}
        self._seg = 0
        self._carry = ""
        self._run_last_ns = 0
        self._idle_asked = False
        self._blocks: dict[int, BlockTracker] = {}
        self._held_cache: tuple[tuple[int, int] | None, list[str]] = (None, [])
        self._password: bool = False
        self._password_open_code: int | None = None
        # what the open secret spells, in memory only: a prompt that echoes shows it on
        # screen, so frames must mask it (see known_secrets)
        self._password_text: list[str] = []
        self._hotkey = parse_hotkey(policy.pause.hotkey)
        self._hotkey_codes: set[int] = set()
        self._known: deque[tuple[int, str]] = deque(maxlen=512)  # outlives a long OCR backlog
        self._last_input_ns = 0
        self._masked_codes: dict[int, str] = {}  # keycode -> entity of a masked, unreleased press
        self._swallowed: set[int] = set()  # keycodes of password presses not released yet
        self.dropped_out_of_scope = 0
        self.redacted_values = 0
        self._unattributed: str | None = None  # why keys cannot be attributed now
        self.episodes_only = policy.jurisdiction.episodes_only
        if self.episodes_only:
            self._pause_reason = "no task"
        # elements: inputs stored lately (t_ns), elements waiting for their held input
        self._stored_inputs: set[int] = set()
        self._stored_order: deque[int] = deque()
        self._parked: dict[int, ElementEvent] = {}
        self._redacted_names: dict[str, str] = {}
        self._names_known: tuple[str, ...] = ()   # the known values _redacted_names was made with
        self._known_sig: tuple | None = None      # what _known_values was last computed from
        self._known_cached: tuple[str, ...] = ()
        self.elements_stored = 0
        self.elements_dropped = 0
        # accessibility trees: the digest stored last (a tree equal to it is a repeat)
        self._tree_bounds = TreeBounds.from_policy(policy)
        self._last_tree: str | None = None
        self.trees = {"stored": 0, "repeated": 0, "dropped": 0, "truncated": 0, "max_nodes": 0, "max_bytes": 0,
                      "max_ms": 0.0}

    # -- state seen by the recorder / frames / control ------------------------------------
    @property
    def recording(self) -> bool:
        """True when input and frames may currently be stored."""
        with self._lock:
            return self._in_scope and self._pause_reason is None

    def status(self) -> dict:
        with self._lock:
            return {"recording": self._in_scope and self._pause_reason is None,
                    "paused": self._pause_reason, "pause_until_ns": self._pause_until_ns,
                    "in_scope": self._in_scope, "scope_reason": self._scope_reason,
                    "task": self._task, "app": self._focus.app_id if self._focus and self._in_scope else None,
                    "unattributable": self._unattributed}

    @property
    def holding(self) -> bool:
        """True while something is held that :meth:`tick` will release."""
        return bool(self._run) or self._ptr_gap is not None

    def known_secrets(self, at_ns: int | None = None) -> list[str]:
        """Values redacted (or swallowed as a password) around ``at_ns`` - a frame's grab
        time, default now - for masking them in that frame. Relative to the frame, not to
        when it is masked: a frame that waited long in the OCR backlog still gets the
        values typed shortly before or after it was grabbed."""
        at_ns = self.clock() if at_ns is None else at_ns
        with self._lock:
            values = [v for t, v in self._known if t - at_ns > -KNOWN_SECRET_TTL_NS]
            if self._password and self._password_text:
                values.append("".join(self._password_text))
            return values + self._held_secrets()

    def _held_secrets(self) -> list[str]:
        """Values in the unit still held (not judged for storage yet, but on screen now)."""
        if not self._run:
            return []
        key = (len(self._run), self._run[-1].t_ns)
        if self._held_cache[0] != key:
            tracker = self._tracker()
            unit = mask_unit(self._run, self.redactor, breaks=self._breaks, context=self._carry,
                             line_rule=lambda t: tracker.judge_line(t, final=False) if t.strip() else None)
            self._held_cache = (key, unit.secrets)
        return list(self._held_cache[1])

    def held_since(self) -> int | None:
        """Time of the first key of the typing run held now (not yet judged, so its
        secrets are not known yet), or None. Frame masking waits for it."""
        with self._lock:
            return self._run[0].t_ns if self._run else None

    def in_scope_window(self, app_id: str, app_instance: str, title: str, url: str | None = None) -> bool:
        return decide(self.policy, app_id=app_id, app_instance=app_instance, title=title, url=url).allowed

    def window_scope(self, win) -> ScopeDecision:
        """Scope of a visible window (frames, pointer targets). Only the focused window's
        URL is known (from its focus event); any other browser window is out of scope."""
        focus = self._focus
        if focus is not None and focus.window and getattr(win, "window", None) == focus.window:
            return decide(self.policy, app_id=focus.app_id, app_instance=focus.app_instance,
                          title=focus.title, url=focus.url)
        return decide(self.policy, app_id=win.app_id, app_instance=win.app_instance,
                      title=win.title, url=None)

    def recorded_focus(self) -> FocusEvent | None:
        """The focus event of the window in front as the gate knows it, when it is recorded
        (in scope, not paused); else None (callable from any thread)."""
        with self._lock:
            return self._focus if self._in_scope and self._pause_reason is None else None

    def window_in_scope(self, win) -> bool:
        return self.window_scope(win).allowed

    def recorded_window_at(self, x: int, y: int):
        """The window under root ``(x, y)`` when it is recorded (in scope, not paused),
        else None - also when the window list cannot be had. The element locator asks this
        before it queries any app (callable from any thread)."""
        if not self.recording or self.windows is None:
            return None
        try:
            wins = self.windows()
        except Exception:  # noqa: BLE001 - cannot tell: nothing is queried
            return None
        if wins is None or any(getattr(w, "geometry", None) is None for w in wins):
            return None
        win = window_at(wins, x, y)
        return win if win is not None and self.window_scope(win).allowed else None

    # -- control --------------------------------------------------------------------------
    def pause(self, reason: str = "paused", until_ns: int | None = None,
              t_ns: int | None = None) -> list[RawEvent]:
        with self._lock:
            return self._post(self._pause(reason, until_ns, t_ns))

    def _pause(self, reason: str, until_ns: int | None, t_ns: int | None) -> list[RawEvent]:
        self._drop_gesture()
        out = self._end_run() + self._close_ptr_gap()
        if self._password:
            out += self._close_password(t_ns or self.clock())
        self._pause_reason = reason
        self._pause_until_ns = until_ns
        if self._gap is not None and self._gap.reason not in ("starting",):
            return out  # already in a gap (out of scope): it continues
        out += self._open_gap(t_ns or self.clock(), reason)
        return out

    def resume(self, t_ns: int | None = None) -> list[RawEvent]:
        with self._lock:
            return self._post(self._resume(t_ns))

    def _resume(self, t_ns: int | None) -> list[RawEvent]:
        t_ns = t_ns or self.clock()
        self._pause_reason = None if not (self.episodes_only and not self._task) else "no task"
        self._pause_until_ns = None
        out = self._reopen(t_ns)
        if out and self._focus is not None:  # say again which window is in front
            out.append(self._stored_focus(self._focus, t_ns))
        return out

    def task(self, start: bool, text: str = "", ok: bool = True) -> list[RawEvent]:
        """Mark a task boundary (its text becomes the episode instruction)."""
        with self._lock:
            return self._post(self._task_marker(start, text, ok))

    def _task_marker(self, start: bool, text: str, ok: bool) -> list[RawEvent]:
        now = self.clock()
        out = self._end_run()
        if self._password:
            out += self._close_password(now)
        if start:
            self._task = text
            if self.episodes_only and self._pause_reason == "no task":
                self._pause_reason = None
                out += self._reopen(now)
            out.append(MarkerEvent(now, "task_start", self.redactor.redact(text).text))
        else:
            out.append(MarkerEvent(now, "task_end", "", ok))
            self._task = None
            if self.episodes_only:
                self._pause_reason = "no task"
                out += self._open_gap(now, "no task")
        return out

    # -- the filter -----------------------------------------------------------------------
    def process(self, ev: RawEvent) -> list[RawEvent]:
        """Events to store for one captured event (often none yet: runs are held)."""
        with self._lock:
            if isinstance(ev, ElementEvent):
                return self._element(ev)
            if isinstance(ev, MarkerEvent) and ev.name in (KEYS_UNATTRIBUTED, KEYS_ATTRIBUTED):
                return self._post(self._attribution(ev))
            resumed: list[RawEvent] = []
            if not isinstance(ev, FocusEvent):
                self._last_input_ns = ev.t_ns
                if self._pause_reason == "idle":  # input ends an idle pause
                    resumed = self._resume(ev.t_ns)
            return self._post(resumed + self._process(ev))

    # -- UI elements: stored with their input, or not at all ------------------------------
    def element(self, ev: ElementEvent) -> list[RawEvent]:
        """Events to store for an element found after its input (see the module doc, 4)."""
        with self._lock:
            return self._element(ev)

    def _element(self, ev: ElementEvent) -> list[RawEvent]:
        if ev.url is not None and not self._frame_in_scope(ev.url):
            self.elements_dropped += 1  # an iframe of a site that is not recorded
            return []
        if ev.t_ns in self._stored_inputs:
            return [self._stored_element(ev)]
        if ev.t_ns in self._held_inputs() and len(self._parked) < MAX_PARKED_ELEMENTS:
            self._parked[ev.t_ns] = ev
            return []
        self.elements_dropped += 1  # its input was dropped, swallowed or is long gone
        return []

    # -- accessibility trees ---------------------------------------------------------------
    def a11y_tree(self, ev: A11yTreeEvent, window: int) -> list[RawEvent]:
        """Events to store for the tree read from ``window`` (see the module doc, 5): none
        unless recording with that window still in front; else the tree bounded, pruned and
        redacted, or a repeat of the tree stored last."""
        began = time.perf_counter()
        try:
            with self._lock:
                return self._a11y_tree(ev, window)
        finally:  # its cost on the processing thread (bounding, redaction, digest)
            ms = (time.perf_counter() - began) * 1e3
            self.trees["max_ms"] = round(max(self.trees["max_ms"], ms), 2)

    def _a11y_tree(self, ev: A11yTreeEvent, window: int) -> list[RawEvent]:
        focus = self._focus
        if (not self.recording or ev.root is None or focus is None or not window
                or focus.window != window):
            self.trees["dropped"] += 1
            return []
        root, nodes, truncated = bound_tree(ev.root, self._tree_bounds, self._redact_name)
        if root is None:
            self.trees["dropped"] += 1
            return []
        digest = a11y_digest(root)
        if digest == self._last_tree:
            self.trees["repeated"] += 1
            return [A11yTreeEvent(ev.t_ns, ev.app, None, nodes, truncated, digest)]
        self._last_tree = digest
        out = A11yTreeEvent(ev.t_ns, ev.app, root, nodes, truncated, digest)
        t = self.trees
        t["stored"] += 1
        t["truncated"] += truncated
        t["max_nodes"] = max(t["max_nodes"], nodes)
        t["max_bytes"] = max(t["max_bytes"], len(to_row(out)[2].encode()))
        return [out]

    def forget_trees(self) -> None:
        """``forget`` may have deleted the tree stored last: the next one is stored whole."""
        with self._lock:
            self._last_tree = None

    def _held_inputs(self) -> set[int]:
        held = {k.t_ns for k in self._run if k.down}
        if self._gesture is not None:
            held.update(e.t_ns for e in self._gesture.events if isinstance(e, (ButtonEvent, ScrollEvent)))
        return held

    def _post(self, out: list[RawEvent]) -> list[RawEvent]:
        """Remember which inputs ``out`` stores; their parked elements follow them."""
        res: list[RawEvent] = []
        for ev in out:
            res.append(ev)
            if (isinstance(ev, ScrollEvent) or (isinstance(ev, ButtonEvent) and ev.down)
                    or (isinstance(ev, KeyEvent) and ev.down and ev.redacted != "PASSWORD")):
                if ev.t_ns not in self._stored_inputs:
                    self._stored_inputs.add(ev.t_ns)
                    self._stored_order.append(ev.t_ns)
                    if len(self._stored_order) > ELEMENT_MEMORY:
                        self._stored_inputs.discard(self._stored_order.popleft())
                el = self._parked.pop(ev.t_ns, None)
                if el is not None:
                    res.append(self._stored_element(el))
        if self._parked:
            held = self._held_inputs()
            for t in [t for t in self._parked if t not in held]:
                del self._parked[t]
                self.elements_dropped += 1
        return res

    def _frame_in_scope(self, url: str) -> bool:
        """Is the site of a web element's own frame recorded in the window in front?"""
        focus = self._focus
        return focus is not None and decide(self.policy, app_id=focus.app_id, app_instance=focus.app_instance,
                                            title=focus.title, url=url).allowed

    def _stored_element(self, el: ElementEvent) -> ElementEvent:
        """The element as it may be stored: names, description, text and selector redacted
        like titles, a URL like URLs."""
        self.elements_stored += 1
        return replace(el, name=self._redact_name(el.name), description=self._redact_name(el.description),
                       path=tuple((role, self._redact_name(name)) for role, name in el.path),
                       text=self._redact_name(el.text), selector=self._redact_name(el.selector),
                       url=self._redact_url(el.url) if el.url else None)

    def _redact_name(self, text: str) -> str:
        """A window title, an element's or a tree node's name or text as it may be stored: the
        text redactor's title rules, and every value the gate knows to be secret (a swallowed
        password, a value it redacted, the unit it holds now) replaced by ``<SECRET>`` wherever
        it shows - with the tolerance the frames' masking uses. A label or a title can show
        what was typed into a password field or an echoing prompt."""
        if not text:
            return ""
        with self._lock:
            known = self._known_values()
            if known != self._names_known:
                self._names_known = known
                self._redacted_names.clear()
            hit = self._redacted_names.get(text)
            if hit is None:
                hit = self.redactor.redact_title(text)
                if known:
                    from .redact_pixels import known_value_spans

                    for start, end in reversed(known_value_spans(hit, known)):
                        hit = f"{hit[:start]}<SECRET>{hit[end:]}"
                if len(self._redacted_names) > 2048:
                    self._redacted_names.clear()
                self._redacted_names[text] = hit
            return hit

    def _redact_url(self, url: str) -> str:
        """A URL as it may be stored: the text redactor's URL rules, and every value the gate
        knows to be secret replaced by ``<SECRET>`` in the piece that shows it, decoded (a
        form sent with GET puts a password field's value into the query under any name)."""
        with self._lock:
            known = self._known_values()
        if known:  # first, while the value is whole: the URL rules may take a part of it
            from .redact_pixels import known_value_spans
            from .redact_text import mask_url_values

            url = mask_url_values(url, lambda text: known_value_spans(text, known))
        return self.redactor.redact_url(url)

    def _known_values(self) -> tuple[str, ...]:
        """Every secret value the gate knows (all of :attr:`_known`, not only the recent ones
        frames use: a title may show a value long after it was typed)."""
        typed = "".join(self._password_text) if self._password else ""
        sig = (len(self._known), self._known[-1] if self._known else None, typed,
               len(self._run), self._run[-1].t_ns if self._run else None)
        if self._known_sig != sig:  # a tree's hundreds of names ask with nothing changed
            values = {v for _, v in self._known}
            if typed:
                values.add(typed)
            values.update(self._held_secrets())
            self._known_sig, self._known_cached = sig, tuple(sorted(values))
        return self._known_cached

    def _process(self, ev: RawEvent) -> list[RawEvent]:
        if self._pause_until_ns is not None and ev.t_ns >= self._pause_until_ns:
            self._pause_reason, self._pause_until_ns = None, None
            if self.episodes_only and not self._task:
                self._pause_reason = "no task"
        if isinstance(ev, KeyEvent) and self._is_hotkey(ev):
            if ev.down:
                if self._pause_reason == "paused":
                    return self._resume(ev.t_ns)
                return self._pause("paused", None, ev.t_ns)
            return []
        if isinstance(ev, FocusEvent):
            return self._on_focus(ev)
        if not (self._in_scope and self._pause_reason is None):
            self._drop_gesture()
            if self._gap is None:
                return self._open_gap(ev.t_ns, self._pause_reason or "out_of_scope")
            return []
        out = self._reopen(ev.t_ns)
        if isinstance(ev, KeyEvent):
            out += self._on_key(ev)
        elif isinstance(ev, (ButtonEvent, ScrollEvent, MoveEvent)):
            if isinstance(ev, ButtonEvent) and ev.down:
                out += self._lose_cursor(ev.t_ns)
            out += self._on_pointer(ev)
        else:
            out.append(ev)
        return out

    # -- keys that cannot be attributed (a capture backend says so; see events.KEYS_*) ------
    def _attribution(self, ev: MarkerEvent) -> list[RawEvent]:
        """Another client holds the keyboard (a locker, a polkit/pinentry dialog) or the
        focus is not where the keys go: pause - nothing is stored, a gap marker with reason
        ``unattributable`` remains - until the backend says keys are attributable again.
        A pause of another kind (the user's, idle, lock) is left as it is."""
        if ev.name == KEYS_UNATTRIBUTED:
            self._unattributed = ev.text or "keys cannot be attributed to a window"
            if self._pause_reason in (None, "idle"):
                return self._pause(UNATTRIBUTABLE, None, ev.t_ns)
            return []
        self._unattributed = None
        if self._pause_reason == UNATTRIBUTABLE:
            return self._resume(ev.t_ns)
        return []

    # -- pointer: judged by the window under the point ------------------------------------
    def _target(self, x: int, y: int) -> bool:
        """May pointer input at root ``(x, y)`` be stored?"""
        try:
            wins = self.windows()
        except Exception:  # noqa: BLE001 - cannot tell: fail closed
            wins = None
        if wins is None or any(getattr(w, "geometry", None) is None for w in wins):
            return False
        win = window_at(wins, x, y)
        return win is not None and self.window_scope(win).allowed

    def _on_pointer(self, ev: RawEvent) -> list[RawEvent]:
        if self.windows is None:  # the backend cannot tell: the focused window's scope holds
            return [ev]
        g = self._gesture
        if isinstance(ev, ButtonEvent):
            if g is None:
                if not ev.down:  # a release whose press was not seen here: nothing to pair
                    return self._drop_pointer(ev.t_ns, ev.t_ns) if not self._target(ev.x, ev.y) \
                        else self._close_ptr_gap() + [ev]
                g = self._gesture = _Gesture([], set(), True)
            g.events.append(ev)
            g.ok = g.ok and self._target(ev.x, ev.y)
            if ev.down:
                g.buttons.add(ev.button)
                return []
            g.buttons.discard(ev.button)
            if g.buttons:
                return []
            self._gesture = None
            if not g.ok:
                return self._drop_pointer(g.events[0].t_ns, ev.t_ns)
            return self._close_ptr_gap() + g.events
        if g is not None:  # moves and scrolls while a button is held belong to the gesture
            if isinstance(ev, MoveEvent) and len(g.events) > MAX_GESTURE_MOVES:
                if isinstance(g.events[-1], MoveEvent):
                    g.events[-1] = ev
                    return []
            g.events.append(ev)
            if isinstance(ev, ScrollEvent):
                g.ok = g.ok and self._target(ev.x, ev.y)
            return []
        if self._target(ev.x, ev.y):
            return self._close_ptr_gap() + [ev]
        if isinstance(ev, ScrollEvent):
            return self._drop_pointer(ev.t_ns, ev.t_ns)
        return []  # a move over a window that is not recorded: its path stays unknown

    def _drop_pointer(self, first_ns: int, last_ns: int) -> list[RawEvent]:
        self.dropped_pointer += 1
        if self._ptr_gap is None:
            self._ptr_gap = (first_ns, last_ns)
        else:
            self._ptr_gap = (min(self._ptr_gap[0], first_ns), max(self._ptr_gap[1], last_ns))
        return []

    def _close_ptr_gap(self) -> list[RawEvent]:
        """The marker of pointer input dropped since the last stored pointer event."""
        if self._ptr_gap is None:
            return []
        (first, last), self._ptr_gap = self._ptr_gap, None
        return [GapEvent(first, max(0, last - first), POINTER_GAP)]

    def _drop_gesture(self) -> None:
        """A held gesture that cannot be finished in scope (pause, focus left scope)."""
        g, self._gesture = self._gesture, None
        if g is not None and g.events:
            self._drop_pointer(g.events[0].t_ns, g.events[-1].t_ns)

    def tick(self, now_ns: int | None = None, *, locked: bool = False) -> list[RawEvent]:
        """Call periodically: releases a typing run that has been idle long enough, and
        pauses on long idle (``pause.idle_minutes``) or while the screen is locked
        (``pause.on_lock``); both resume by themselves (idle: at the next input)."""
        now_ns = now_ns if now_ns is not None else self.clock()
        with self._lock:
            return self._post(self._tick(now_ns, locked))

    def _tick(self, now_ns: int, locked: bool) -> list[RawEvent]:
        out: list[RawEvent] = []
        if self._run and not self._idle_asked and now_ns - self._run_last_ns >= RUN_IDLE_NS:
            # a pause does not end the unit; but the focus event of a password field
            # the keys went into may have come in meanwhile
            self._idle_asked = True
            if self._segment_types() and self._secret_now():
                out += self._swallow_run(self._run_last_ns)
        if self._ptr_gap is not None and now_ns - self._ptr_gap[1] >= RUN_IDLE_NS:
            out += self._close_ptr_gap()
        idle_ns = int(self.policy.pause.idle_minutes * 60e9)
        if (idle_ns and self._pause_reason is None and self._last_input_ns
                and now_ns - self._last_input_ns >= idle_ns):
            out += self._pause("idle", None, self._last_input_ns + idle_ns)
        if self.policy.pause.on_lock:
            if locked and self._pause_reason in (None, "idle"):
                out += self._pause("locked", None, now_ns)
            elif not locked and self._pause_reason == "locked":
                out += self._resume(now_ns)
        return out

    def flush(self, now_ns: int | None = None) -> list[RawEvent]:
        """Everything still held (at stop): the open run, and the open gap's marker."""
        now_ns = now_ns if now_ns is not None else self.clock()
        with self._lock:
            return self._post(self._flush(now_ns))

    def _flush(self, now_ns: int) -> list[RawEvent]:
        out = self._end_run()
        g, self._gesture = self._gesture, None
        if g is not None:  # stopped with a button held: its release is never seen
            if g.ok:
                out += g.events
            else:
                self._drop_pointer(g.events[0].t_ns, g.events[-1].t_ns)
        out += self._close_ptr_gap()
        if self._password:
            out += self._close_password(now_ns)
        if self._gap is not None and self._gap.reason != "starting":
            out.append(GapEvent(self._gap.start_ns, now_ns - self._gap.start_ns, self._gap.reason))
            self._gap = None
        return out

    # -- internals ------------------------------------------------------------------------
    def _is_hotkey(self, ev: KeyEvent) -> bool:
        mods, key = self._hotkey
        if not ev.down:
            if ev.keycode in self._hotkey_codes:
                self._hotkey_codes.discard(ev.keycode)
                return True
            return False
        name = (ev.key or "").lower()
        if name == key and mods <= set(ev.modifiers):
            self._hotkey_codes.add(ev.keycode)
            return True
        return False

    def _open_gap(self, t_ns: int, reason: str) -> list[RawEvent]:
        if self._gap is None or self._gap.reason == "starting":
            self._gap = _Gap(t_ns, reason)
        return []

    def _reopen(self, t_ns: int) -> list[RawEvent]:
        """Close an open gap if recording is allowed again; emits its marker."""
        if self._gap is None or not (self._in_scope and self._pause_reason is None):
            return []
        gap, self._gap = self._gap, None
        if gap.reason == "starting":
            return []
        return [GapEvent(gap.start_ns, max(0, t_ns - gap.start_ns), gap.reason)]

    def _on_focus(self, ev: FocusEvent) -> list[RawEvent]:
        out = self._end_run()
        if self._password:
            out += self._close_password(ev.t_ns)
        self._focus = ev
        decision = decide(self.policy, app_id=ev.app_id, app_instance=ev.app_instance,
                          title=ev.title, url=ev.url)
        self._in_scope, self._scope_reason = decision.allowed, decision.reason
        if not (self._in_scope and self._pause_reason is None):
            if not self._in_scope:
                self.dropped_out_of_scope += 1
            self._drop_gesture()  # a press that led into a window not recorded
            return out + self._close_ptr_gap() + self._open_gap(ev.t_ns, self._pause_reason or "out_of_scope")
        out += self._reopen(ev.t_ns)
        out.append(self._stored_focus(ev, ev.t_ns))
        return out

    def _stored_focus(self, ev: FocusEvent, t_ns: int) -> FocusEvent:
        """The focus event as it may be stored: title (with the known secrets) and URL redacted."""
        return replace(ev, t_ns=t_ns, title=self._redact_name(ev.title),
                       url=self._redact_url(ev.url) if ev.url else None)

    def _probe(self, before_ns: int | None = None, since_ns: int | None = None) -> bool | None:
        """The probe's verdict for the window in front; with ``before_ns``, for the field that
        had focus just before that moment, when the probe can tell (``before(focus, t_ns,
        since_ns)``: a press or a Tab moves the focus, and the report of the field it moved to
        may already be in when the keys typed before it are judged; ``since_ns`` is when those
        keys began), else as now."""
        if self.secure_input is None or self._focus is None:
            return False
        before = getattr(self.secure_input, "before", None) if before_ns is not None else None
        if before is not None:
            return before(self._focus, before_ns, since_ns)
        return self.secure_input(self._focus)

    def _submitted(self) -> None:
        """Tell the probe a line was submitted: a prompt it read off the screen is answered."""
        notify = getattr(self.secure_input, "submitted", None)
        if notify is not None:
            notify()

    def _secret_when_pressed(self, t_ns: int) -> bool:
        """Does the probe, asked for the moment a key was pressed, say the field or prompt
        it met reads a secret (or cannot tell)? False when the probe only knows now."""
        if getattr(self.secure_input, "before", None) is None or self._focus is None:
            return False
        return self._secret_now(t_ns, t_ns)

    def _secret_now(self, before_ns: int | None = None, since_ns: int | None = None) -> bool:
        return self._probe(before_ns, since_ns) is not False  # None = cannot tell for a window that may read secrets

    def _on_key(self, ev: KeyEvent) -> list[RawEvent]:
        if not ev.down:
            # A release can come after the run or the password it belongs to has ended
            # (key rollover: the last character is let go after Enter is pressed).
            if ev.keycode in self._swallowed:
                self._swallowed.discard(ev.keycode)
                return []  # a password key: nothing at all remains
            entity = self._masked_codes.pop(ev.keycode, None)
            if entity:
                return [KeyEvent(ev.t_ns, False, redacted=entity)]
        if self._password:
            if not ev.down:
                return []
            if ev.key in _SUBMIT_KEYS and not (CHORD_MODIFIERS & set(ev.modifiers)):
                self._submitted()
                return self._close_password(ev.t_ns) + [ev]
            asked_ns = self.clock()
            if (ev.key in _MODIFIER_KEYS or self._probe() is not False
                    or asked_ns - ev.t_ns > VERDICT_FRESH_NS or self._secret_when_pressed(ev.t_ns)):
                self._swallowed.add(ev.keycode)
                _spell(self._password_text, ev)
                return []
            # the platform says the field in front is an ordinary one again, and so does the
            # field or prompt the key met when it was pressed, where the probe can tell (focus
            # left the password field by Tab or a click): the secret is over, this key is not
            # part of it. (A prompt answered and closed by the time its last keys are judged
            # is ordinary now, but not for those keys: they stay in the secret.)
            return self._close_password(ev.t_ns) + self._on_key(ev)
        if (ev.down and ev.key not in _MODIFIER_KEYS and ev.key not in _RUN_ENDING_KEYS
                and self._secret_now(ev.t_ns, ev.t_ns)):
            # Judged by the field or prompt the key met when it was pressed, where the probe
            # can tell (the recorder may be behind: a prompt opened and answered meanwhile).
            # Keys held since the last Enter were typed ahead into this prompt (the prompt
            # may appear after the first keys arrive): they belong to the secret too.
            self._swallowed.add(ev.keycode)
            out = self._swallow_run(ev.t_ns)
            _spell(self._password_text, ev)
            return out
        if ev.down and ev.key in _SUBMIT_KEYS:
            # Enter ends the unit without asking again: the command it submits (sudo, ssh)
            # may already have turned echo off, yet the line was typed before it.
            out = self._end_run(recheck=False)
            self._submitted()
            out.append(ev)
            return out
        if not self._run and not (ev.down and (is_text_key(ev) or ev.key in _MODIFIER_KEYS)):
            return [ev]  # nothing held: a release, a chord or a move has nothing to join
        out = []
        if ev.down and ev.key in _FIELD_KEYS and not CHORD_MODIFIERS & set(ev.modifiers):
            out = self._segment_end(before_ns=ev.t_ns)  # judged by the field the keys went to
        self._run.append(ev)
        self._run_last_ns = ev.t_ns
        self._idle_asked = False
        if ev.down and ev.key in _FIELD_KEYS:
            self._seg = len(self._run)
        if len(self._run) >= MAX_UNIT_KEYS:
            out += self._judge_held(cut=True)
        return out

    def _close_password(self, t_ns: int) -> list[RawEvent]:
        self._password = False
        if self._password_text:
            self._known.append((self.clock(), "".join(self._password_text)))
            self._password_text = []
        return [KeyEvent(t_ns, False, redacted="PASSWORD")]

    def _segment_typed_from(self) -> int | None:
        """When the first typed key of the current segment (since the last click/Tab) was
        pressed; None when the segment holds none."""
        return next((k.t_ns for k in self._run[self._seg:]
                     if k.down and k.key not in _MODIFIER_KEYS and k.key not in _FIELD_KEYS), None)

    def _segment_types(self) -> bool:
        """True when the current segment (since the last click/Tab) holds a typed key."""
        return self._segment_typed_from() is not None

    def _segment_end(self, before_ns: int | None = None) -> list[RawEvent]:
        """A click or Tab: the keys since the previous one were typed into the field in front
        until now. If the platform says (perhaps only now: its focus event can arrive a few
        ms after the first keys typed into a password field) that field reads a secret,
        they are that secret."""
        since_ns = self._segment_typed_from()
        if since_ns is not None and self._secret_now(before_ns, since_ns):
            return self._swallow_run(self._run_last_ns)
        return []

    def _lose_cursor(self, t_ns: int | None = None) -> list[RawEvent]:
        """A click inside the unit: the cursor may have moved anywhere (or text was
        selected): the unit goes on, read in every order (see keys.mask_unit)."""
        if not self._run:
            return []
        out = self._segment_end(before_ns=t_ns)  # the field the keys went to, not the one clicked
        if self._run:
            self._breaks[len(self._run)] = "jump"
            self._seg = len(self._run)
        return out

    def _swallow_run(self, t_ns: int) -> list[RawEvent]:
        """The held segment becomes the start of a secret: one placeholder press, no keys.
        What the unit held before the segment (another field) is judged and stored."""
        head, seg = self._run[:self._seg], self._run[self._seg:]
        # releases of keys pressed before the segment belong with them
        open_head = {k.keycode for k in head if k.down} - {k.keycode for k in head if not k.down}
        moved = [k for k in seg if not k.down and k.keycode in open_head
                 and not any(p.down and p.keycode == k.keycode and p.t_ns <= k.t_ns for p in seg)]
        seg = [k for k in seg if not any(k is m for m in moved)]
        out: list[RawEvent] = []
        if head:
            self._run = head + moved
            out = self._judge_held()
        first = next((k.t_ns for k in seg if k.down), t_ns)
        released = {k.keycode for k in seg if not k.down}
        self._swallowed.update(k.keycode for k in seg if k.down and k.keycode not in released)
        self._password_text = []
        for k in seg:
            _spell(self._password_text, k)
        self._clear_run()
        self._password = True
        return out + [KeyEvent(first, True, redacted="PASSWORD")]

    def _clear_run(self) -> None:
        self._run, self._breaks, self._seg = [], {}, 0

    def _end_run(self, recheck: bool = True) -> list[RawEvent]:
        if not self._run:
            return []
        if recheck:
            out = self._segment_end()
            if not self._run:
                return out
        return self._judge_held()

    def _tracker(self) -> BlockTracker:
        wid = self._focus.window if self._focus is not None else 0
        tracker = self._blocks.pop(wid, None) or BlockTracker()
        self._blocks[wid] = tracker  # most recent last
        while len(self._blocks) > MAX_TRACKED_WINDOWS:
            del self._blocks[next(iter(self._blocks))]
        return tracker

    def _judge_held(self, cut: bool = False) -> list[RawEvent]:
        """Judge the held unit and release it (masked). ``cut``: the unit reached
        ``MAX_UNIT_KEYS`` and goes on after this (its seam is masked, its tail kept)."""
        run, breaks, carry = self._run, self._breaks, self._carry
        self._clear_run()
        tracker = self._tracker()

        def line_rule(text: str) -> tuple[int, str] | None:
            return tracker.judge_line(text, final=not cut) if text.strip() else None

        unit = mask_unit(run, self.redactor, breaks=breaks, context=carry,
                         line_rule=line_rule, seam=cut)
        self._carry = (carry + unit.composed)[-CARRY_CHARS:] if cut else ""
        open_codes: dict[int, str] = {}
        for orig, k in zip(run, unit.events):
            if orig.down:
                if k.redacted:
                    open_codes[orig.keycode] = k.redacted
                else:
                    open_codes.pop(orig.keycode, None)
            else:
                open_codes.pop(orig.keycode, None)
        self._masked_codes.update(open_codes)
        if unit.masked:
            self.redacted_values += 1
            now = self.clock()
            for value in unit.secrets:
                self._known.append((now, value))
        return list(unit.events)


def _spell(chars: list[str], k: KeyEvent) -> None:
    """Apply one key press to the text it types (BackSpace erases)."""
    if not k.down:
        return
    if k.key == "BackSpace":
        if chars:
            chars.pop()
    elif k.char and k.char.isprintable():
        chars.append(k.char)
