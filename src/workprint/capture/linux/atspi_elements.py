"""AT-SPI element source (Linux): the accessible at a screen point, or the focused one.

An :class:`~workprint.capture.elements.ElementSource` over its own connection to the
accessibility bus that :class:`~workprint.capture.linux.atspi.AtspiWatcher` found (the watcher's
focus records give the focused object for keys). Used only from the element locator's
thread; every call is bounded by the caller's deadline and answers None on any doubt.

* **At a point** (press, scroll): the app's accessible of the window's process (registry
  children whose bus pid is the window's pid or of its program family), its top-level
  frames with their screen extents (cached per window generation: a window that moves
  bumps it; after a bump the last known apps and frames are asked again in one pipelined
  round trip and used when the app still lists them), the frame that fits the X window
  under the point, then ``Component.GetAccessibleAtPoint(x, y, SCREEN)`` from that frame
  down to the deepest accessible. The descent is the ancestor path.
* **Round trips**: every round trip waits for the app's main loop, which is busy with the
  very click being asked about, so the descent is *guessed and checked in one pipelined
  batch*: the children met in earlier descents are remembered with their extents (hints,
  per frame), the chain of remembered boxes that contain the point is the guess, and one
  batch asks ``GetAccessibleAtPoint`` of every node on it plus the description of the
  guessed element. The answer is exactly what a level-by-level descent gives: each level's
  answer must be the next node guessed and the last one must have no deeper child, else
  the descent goes on from the app's own answer (each further level one round trip, its
  description pipelined with it). A control seen before costs one round trip; ancestors'
  roles and names are kept per window generation.
* **Focused** (keys): the watcher's focus record of that program at the key's time (the
  last one received before the key: the focus a Tab moves on is not its element, and none
  that old kept means no element) - except for a key soon after a press in that program
  with no record since: the press's focus record may still be on its way, so the key
  takes only a focus tied to the pressed element (its record, waited for briefly; see
  ``_focus_after_press``), else no element; its ancestors as a descent met them (a field clicked
  before typing), else by ``Parent`` with the field's description pipelined into the
  first round trip (cached per object and window generation). An editable element's
  answer stands for ``FOCUS_ANSWER_S`` (same record, same generation); the locator has
  it described shortly after a press (``settle``), so the first key typed into a clicked
  field costs no round trip.
* **Prepared** (``prepare``): when a recorded window takes the focus, its program's apps
  and frames are asked for then, not at the first press there.
* What is read: role name, ``Name``, ``Description``, state set, ``GetAttributes`` (for
  Chromium's ``text-input-type=password``) and screen extents - pipelined in one round
  trip. **Never** the ``Text`` interface: a password field's value is never read; its name
  (the label, e.g. "Password") is.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ...events import ELEMENT_NAME_MAX, ELEMENT_PATH_MAX, ElementEvent, Geometry
from .atspi import (_ACCESSIBLE, _DBUS_NAME, _DBUS_PATH, _REGISTRY, _ROOT_PATH, FOCUS_DELIVERY_NS, ROLE_PASSWORD_TEXT,
                    STATE_DEFUNCT, STATE_SHOWING, AtspiWatcher, _call, _get_prop, _Link, _ok, _role_of, _states,
                    _variant_value, same_program_family)

_COMPONENT = "org.a11y.atspi.Component"
COORD_SCREEN = 0
_NULL = "/org/a11y/atspi/null"
MAX_DEPTH = 32
#: remembered children (hints for the guessed descent) and ancestors' names, each bounded
MAX_HINTS = 4096
#: a warm-up's answer stands for a press inside its element's box this long after it
REST_ANSWER_S = 1.0
#: a focused editable element's answer stands for keys typed into it this long after it
FOCUS_ANSWER_S = 5.0
#: AtspiRoles a press may focus to type into (password text, spin button, terminal, text,
#: paragraph, autocomplete, editbar, entry): what ``settle`` describes ahead of the keys
_TYPED_ROLES = frozenset({40, 52, 60, 61, 73, 76, 77, 79})
#: a key pressed this soon after a press waits at most until then for the focus record the
#: press causes (it arrives 5-22 ms after the press on a quiet machine)
PRESS_FOCUS_WAIT_NS = 80_000_000
# AtspiStateType bits kept (see events.ELEMENT_STATES)
STATE_ACTIVE = 1
STATE_FOCUSABLE = 11
_KEPT_STATES = (("focused", 12), ("editable", 7), ("checked", 4), ("selected", 23))
_PASSWORD_ROLE = "password text"
_DESCRIBE_N = 8  # calls in _describe_msgs


def _ref(msg) -> tuple[str, str] | None:
    body = _ok(msg)
    if not body or not isinstance(body[0], tuple) or len(body[0]) != 2:
        return None
    bus, path = body[0]
    return None if not bus or path == _NULL else (bus, path)


def _extents(msg) -> Geometry | None:
    body = _ok(msg)
    if not body or not isinstance(body[0], tuple) or len(body[0]) != 4:
        return None
    x, y, w, h = body[0]
    return Geometry(int(x), int(y), int(w), int(h)) if w > 0 and h > 0 else None


def _text(value, limit: int = ELEMENT_NAME_MAX) -> str:
    return value[:limit] if isinstance(value, str) else ""


class AtspiElementSource:
    def __init__(self, watcher: AtspiWatcher, generation=lambda: 0, *, connect_timeout: float = 1.0):
        self.watcher = watcher
        self.generation = generation
        self.connect_timeout = connect_timeout
        self._link: _Link | None = None
        self._broken = False
        self._pid_of: dict[str, int] = {}
        self._frames: dict[tuple[int, int], list[tuple[tuple[str, str], Geometry | None, int]]] = {}
        self._paths: dict[tuple[int, str, str], tuple[tuple[str, str], ...]] = {}
        self._kids: dict[tuple[str, str], dict[tuple[str, str], Geometry]] = {}
        self._parent_of: dict[tuple[str, str], tuple[str, str]] = {}
        self._hint_count = 0
        self._info: dict[tuple[int, str, str], tuple[str, str]] = {}
        self._known_frames: dict[int, tuple[list[tuple[str, str]], dict[tuple[str, str], list]]] = {}
        self.calls = 0  # D-Bus calls sent (for measurements)
        self.round_trips = 0  # batches of them waited for
        self._rest: tuple[int, int, ElementEvent, float] | None = None  # see warm()
        #: the last point answer: (generation, pid, element, x, y, has no children)
        self._answered: tuple[int, int, ElementEvent, int, int, bool] | None = None
        self._focus_answers: dict[tuple[int, str, str], tuple[ElementEvent, float]] = {}
        self._settled: tuple[int, str, str] | None = None
        #: the nodes of the last point answer, root first (its element last), and whether
        #: that element takes the focus; then, once the locator says it was a press's:
        #: (press t_ns, pid or None: out of scope, those nodes or None: no answer, focusable)
        self._point_nodes: tuple[tuple[tuple[str, str], ...], bool] | None = None
        self._press: tuple[int, int | None, tuple[tuple[str, str], ...] | None, bool] | None = None

    # -- connection -----------------------------------------------------------------------
    def _conn(self, deadline: float) -> _Link | None:
        """The connection, made within the caller's deadline on first use; a bus that does
        not answer then is not tried again (no elements for this recording)."""
        if self._link is None and not self._broken:
            address = self.watcher.a11y_address
            if not address or not self.watcher.available():
                return None
            try:
                self._link = _Link(address, min(deadline, time.monotonic() + self.connect_timeout))
            except Exception:  # noqa: BLE001 - no bus: no elements
                self._broken = True
        return self._link

    def close(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def _many(self, link: _Link, msgs, deadline: float):
        self.calls += len(msgs)
        self.round_trips += 1
        return link.call_many(msgs, deadline)

    # -- the element ----------------------------------------------------------------------
    @staticmethod
    def _describe_msgs(node: tuple[str, str]) -> list:
        b, p = node
        return [_call(b, p, _ACCESSIBLE, "GetRoleName"), _get_prop(b, p, _ACCESSIBLE, "Name"),
                _get_prop(b, p, _ACCESSIBLE, "Description"), _call(b, p, _ACCESSIBLE, "GetState"),
                _call(b, p, _COMPONENT, "GetExtents", "u", (COORD_SCREEN,)),
                _call(b, p, _ACCESSIBLE, "GetAttributes"), _call(b, p, _ACCESSIBLE, "GetRole"),
                _get_prop(b, p, _ACCESSIBLE, "ChildCount")]

    @staticmethod
    def _element_from(r, path) -> ElementEvent | None:
        """The element from the replies to :meth:`_describe_msgs` (None: gone, no answer)."""
        role = _ok(r[0])
        states = _states(r[3])
        if not role or not isinstance(role[0], str) or states is None or states >> STATE_DEFUNCT & 1:
            return None
        role = role[0]
        if _role_of(r[6]) == ROLE_PASSWORD_TEXT:
            role = _PASSWORD_ROLE  # Qt 5 names its password fields' role "text" (GetRole: 40)
        attrs_body = _ok(r[5])
        attrs = attrs_body[0] if attrs_body and isinstance(attrs_body[0], dict) else {}
        kept = [name for name, bit in _KEPT_STATES if states >> bit & 1]
        if role == _PASSWORD_ROLE or str(attrs.get("text-input-type", "")).lower() == "password":
            kept.append("password")
        return ElementEvent(0, role, _text(_variant_value(r[1])), _text(_variant_value(r[2])), tuple(kept),
                            _extents(r[4]), "", tuple(path[-ELEMENT_PATH_MAX:]))

    @staticmethod
    def _names_msgs(nodes) -> list:
        msgs = []
        for b, p in nodes:
            msgs += [_call(b, p, _ACCESSIBLE, "GetRoleName"), _get_prop(b, p, _ACCESSIBLE, "Name")]
        return msgs

    @staticmethod
    def _names_from(r, n: int) -> list[tuple[str, str]]:
        out = []
        for i in range(n):
            role = _ok(r[2 * i])
            out.append((role[0] if role and isinstance(role[0], str) else "", _text(_variant_value(r[2 * i + 1]))))
        return out

    def _names(self, link: _Link, nodes, deadline: float) -> list[tuple[str, str]]:
        msgs = self._names_msgs(nodes)
        return self._names_from(self._many(link, msgs, deadline) if msgs else [], len(nodes))

    # -- at a point -----------------------------------------------------------------------
    def _apps(self, link: _Link, pid: int, deadline: float) -> list[tuple[str, str]]:
        body = _ok(link.call(_call(_REGISTRY, _ROOT_PATH, _ACCESSIBLE, "GetChildren"), deadline))
        self.calls += 1
        self.round_trips += 1
        if not body:
            return []
        apps = [(b, p) for b, p in body[0] if b and p != _NULL]
        unknown = [b for b, _ in apps if b not in self._pid_of]
        if unknown:
            replies = self._many(link, [_call(_DBUS_NAME, _DBUS_PATH, _DBUS_NAME, "GetConnectionUnixProcessID",
                                              "s", (b,)) for b in unknown], deadline)
            for b, reply in zip(unknown, replies):
                got = _ok(reply)
                if reply is not None:  # (no reply in time: asked again next time)
                    self._pid_of[b] = int(got[0]) if got else 0  # 0: no pid (of no program)
        return [(b, p) for b, p in apps if self._pid_of.get(b) and same_program_family(pid, self._pid_of[b])]

    @staticmethod
    def _frame_msgs(kids) -> list:
        msgs = []
        for b, p in kids:
            msgs += [_call(b, p, _COMPONENT, "GetExtents", "u", (COORD_SCREEN,)), _call(b, p, _ACCESSIBLE, "GetState")]
        return msgs

    @staticmethod
    def _showing(kids, r) -> list:
        out = []
        for i, kid in enumerate(kids):
            states = _states(r[2 * i + 1])
            if states is not None and states >> STATE_SHOWING & 1:
                out.append((kid, _extents(r[2 * i]), states))
        return out

    @staticmethod
    def _kids_of(reply) -> list[tuple[str, str]] | None:
        body = _ok(reply)
        return None if body is None else [(b, p) for b, p in body[0] if b and p != _NULL]

    def _frames_again(self, link: _Link, pid: int, deadline: float):
        """After a generation bump: the apps and frames known from before, asked again in
        one round trip (registry children, each app's children, each frame's extents and
        states); None when the app lists differ (then they are asked afresh)."""
        known = self._known_frames.get(pid)
        if known is None:
            return None
        apps, kids_of = known
        order = [k for app in apps for k in kids_of[app]]
        msgs = [_call(_REGISTRY, _ROOT_PATH, _ACCESSIBLE, "GetChildren")]
        msgs += [_call(b, p, _ACCESSIBLE, "GetChildren") for b, p in apps]
        msgs += self._frame_msgs(order)
        r = self._many(link, msgs, deadline)
        listed = self._kids_of(r[0])
        if listed is None or any(app not in listed for app in apps):
            return None
        if any(b not in self._pid_of for b, _ in listed):
            return None  # a new app on the bus: it may be of this program
        if [a for a in listed if self._pid_of[a[0]] and same_program_family(pid, self._pid_of[a[0]])] != apps:
            return None
        for i, app in enumerate(apps):
            if self._kids_of(r[1 + i]) != kids_of[app]:
                return None
        return self._showing(order, r[1 + len(apps):])

    def _frames_of(self, link: _Link, pid: int, deadline: float):
        key = (self.generation(), pid)
        hit = self._frames.get(key)
        if hit is not None:
            return hit
        frames = self._frames_again(link, pid, deadline)
        if frames is None:
            frames = []
            apps = self._apps(link, pid, deadline)
            kids_of = {}
            for app in apps:
                kids = self._kids_of(self._many(link, [_call(app[0], app[1], _ACCESSIBLE, "GetChildren")],
                                                deadline)[0]) or []
                kids_of[app] = kids
                if kids:
                    frames += self._showing(kids, self._many(link, self._frame_msgs(kids), deadline))
            if time.monotonic() < deadline:
                if len(self._known_frames) > 64:
                    self._known_frames.clear()
                self._known_frames[pid] = (apps, kids_of)
        if time.monotonic() < deadline:  # a partial answer is not cached
            if len(self._frames) > 64:
                self._frames.clear()
            self._frames[key] = frames
        return frames

    @staticmethod
    def _fitting(frames, window):
        """The frame whose box is the X window's (``window.geometry``), active first."""
        geo = getattr(window, "geometry", None)

        def fit(f) -> tuple[int, int]:
            box = f[1]
            off = (abs(box.x - geo.x) + abs(box.y - geo.y) + abs(box.width - geo.width)
                   + abs(box.height - geo.height)) if geo is not None else 0
            return (off, 0 if f[2] >> STATE_ACTIVE & 1 else 1)

        return min(frames, key=fit)

    def frame_of(self, pid: int, window, deadline: float):
        """The top-level accessible of the X window ``window`` (of process ``pid``): its
        ``(bus, path)``, screen box and state bits, or None. Frames are cached per window
        generation, as for elements."""
        link = self._conn(deadline)
        if link is None:
            return None
        frames = [f for f in self._frames_of(link, pid, deadline) if f[1] is not None]
        return self._fitting(frames, window) if frames else None

    def prepare(self, pid: int, window, deadline: float) -> None:
        """A window of ``pid`` took the focus: ask for its program's apps and frames now
        (cached per window generation), not at the first press there, which waits for the
        app's main loop busy with that very press."""
        self.frame_of(pid, window, deadline)

    def at_point(self, pid: int, window, x: int, y: int, deadline: float) -> ElementEvent | None:
        rested = self._rest_answer(pid, x, y)
        if rested is not None:
            return rested  # (its nodes are the warm-up's, kept with it)
        self._answered = self._point_nodes = None
        link = self._conn(deadline)
        if link is None:
            return None
        frames = [f for f in self._frames_of(link, pid, deadline) if f[1] is not None and f[1].contains(x, y)]
        if not frames:
            return None
        frame = self._fitting(frames, window)[0]
        gen = self.generation()
        chain: list[tuple[str, str]] = []   # checked: each node is the answer of the one before
        batch = self._guess(frame, x, y, chain)
        leaf = None
        while leaf is None:
            if not batch or len(chain) + len(batch) > MAX_DEPTH:
                return None
            msgs, spans = [], []
            for j, node in enumerate(batch):
                described = j == len(batch) - 1 or (gen, *node) not in self._info
                spans.append((len(msgs), described))
                msgs.append(_call(node[0], node[1], _COMPONENT, "GetAccessibleAtPoint", "iiu", (x, y, COORD_SCREEN)))
                if described:
                    msgs += self._describe_msgs(node)
            r = self._many(link, msgs, deadline)
            if time.monotonic() > deadline:
                return None
            nxt = None
            for j, node in enumerate(batch):
                at, described = spans[j]
                replies = r[at + 1:at + 1 + _DESCRIBE_N] if described else None
                if replies is not None:
                    self._note(gen, chain[-1] if chain else None, node, replies)
                chain.append(node)
                kid = _ref(r[at])
                if kid is None or kid == node or kid in chain:   # the deepest accessible
                    leaf = replies if replies is not None else self._many(link, self._describe_msgs(node), deadline)
                    break
                if j + 1 < len(batch) and batch[j + 1] == kid:
                    continue  # the guess holds at this level
                nxt = kid     # the app answers otherwise (or deeper than known): go on from there
                break
            if leaf is None:
                batch = self._guess(nxt, x, y, chain)
        if time.monotonic() > deadline:
            return None
        path = [self._info.get((gen, *n), ("", "")) for n in chain[:-1][-ELEMENT_PATH_MAX:]]
        el = self._element_from(leaf, path)
        if el is not None:
            states = _states(leaf[3]) or 0
            self._point_nodes = (tuple(chain), bool(states >> STATE_FOCUSABLE & 1))
        if el is not None and el.box is not None:
            kids = _variant_value(leaf[7])
            self._answered = (gen, pid, el, x, y, isinstance(kids, int) and kids == 0)
        return el

    def pressed(self, pid: int | None, t_ns: int) -> None:
        """The locator's last point question (answered or not) was a press at ``t_ns`` in a
        window of ``pid`` (None: out of scope or of no known process). A key pressed soon
        after it is judged with it (see :meth:`focused`)."""
        nodes, self._point_nodes = self._point_nodes, None  # (used for one press only)
        nodes = nodes if pid else None
        self._press = (t_ns, pid, nodes[0] if nodes else None, nodes[1] if nodes else False)

    def warm(self, pid: int, window, x: int, y: int, deadline: float) -> ElementEvent | None:
        """A pointer rests at (x, y): the same query as a press. What it learns (the frames,
        the descent there) is at hand when the press comes, and the answer itself is the
        press's if it comes within ``REST_ANSWER_S`` where that answer :meth:`covers`, with
        no other question asked meanwhile (the element as it was just before the press: its
        states are those the user saw)."""
        self._rest = None
        el = self.at_point(pid, window, x, y, deadline)
        if el is not None and el.box is not None:
            self._rest = (self.generation(), pid, el, time.monotonic())
        return el

    def covers(self, x: int, y: int) -> bool:
        """Is the last point answer also the answer at (x, y)? In the same window generation,
        at the same point, or anywhere in its box when it has no children (a container - a
        panel the pointer rested on between its controls - answers only for its point: a
        control inside it is deeper)."""
        answered = self._answered
        if answered is None or answered[0] != self.generation():
            return False
        _, _, el, ax, ay, leaf = answered
        return (ax, ay) == (x, y) or (leaf and el.box.contains(x, y))

    def _rest_answer(self, pid: int, x: int, y: int) -> ElementEvent | None:
        rest, self._rest = self._rest, None  # used once
        if rest is None:
            return None
        gen, rest_pid, el, t = rest
        answered = self._answered
        if (gen == self.generation() and rest_pid == pid and answered is not None and answered[2] is el
                and self.covers(x, y) and time.monotonic() - t <= REST_ANSWER_S):
            return el
        return None

    def _guess(self, node: tuple[str, str], x: int, y: int, chain) -> list[tuple[str, str]]:
        """``node`` and the remembered children below it whose boxes contain the point (the
        smallest box at each level): the descent as it was last seen there."""
        guess = [node]
        for _ in range(MAX_DEPTH):
            kids = self._kids.get(guess[-1])
            inside = [(k, box) for k, box in (kids or {}).items()
                      if box.contains(x, y) and k not in guess and k not in chain]
            if not inside:
                break
            guess.append(min(inside, key=lambda kb: kb[1].width * kb[1].height)[0])
        return guess

    def _note(self, gen: int, parent, node, replies) -> None:
        """Remember a described node: its role and name (this generation) and, under its
        parent, its box (a hint for later guesses)."""
        role = _ok(replies[0])
        if role and isinstance(role[0], str):
            if len(self._info) > MAX_HINTS:
                self._info.clear()
            self._info[(gen, *node)] = (role[0], _text(_variant_value(replies[1])))
        box = _extents(replies[4])
        if parent is not None and box is not None:
            if self._hint_count > MAX_HINTS:
                self._kids.clear()
                self._parent_of.clear()
                self._hint_count = 0
            kids = self._kids.setdefault(parent, {})
            if node not in kids:
                self._hint_count += 1
            kids[node] = box
            self._parent_of[node] = parent

    # -- focused --------------------------------------------------------------------------
    def focused(self, pid: int, deadline: float, at_ns: int | None = None) -> ElementEvent | None:
        """The element focused in ``pid``'s program - with ``at_ns`` (a key's time), the one
        focused at that moment (the watcher's last focus record received before it), not
        the one focused now: a Tab moves the focus before its request is answered, and a
        key answered late would get whatever has the focus by then. No record that old:
        None. An element that has lost the focus since is described as it is now, with
        ``focused`` kept (it had the focus when the key was pressed)."""
        self._rest = self._answered = None  # a key may change what is under the pointer
        if at_ns is None:
            return self._focused(pid, deadline)
        rec = self.watcher.focus_at(pid, at_ns)
        press = self._press
        if (press is not None and press[0] < at_ns <= press[0] + FOCUS_DELIVERY_NS
                and (rec is None or rec.t_ns <= press[0])):
            rec = self._focus_after_press(pid, press, rec, deadline)
        if rec is None:
            return None
        el = self._focused(pid, deadline, rec)
        if el is not None and "focused" not in el.states:
            el = replace(el, states=("focused", *el.states))
        return el

    def _focus_after_press(self, pid: int, press, before, deadline: float):
        """The focus at a key pressed soon after a press, before any focus record came in
        since that press: the press may have moved the focus, and its record may still be on
        its way (a record arrives 5-22 ms after its input). The focus is taken only where it
        is tied to the pressed element: at once the record before the press (``before``) if
        it names the pressed element (a press on the focused field leaves the focus there);
        else the first record received after the press (waited for until
        ``PRESS_FOCUS_WAIT_NS`` after it) if it names the pressed element - or, when that
        element does not take the focus itself, one of its ancestors (a link around the
        pressed text). Any other case - a press in another program or out of scope, a press
        without an element, no record by then, a record naming something else (which the
        key itself may have focused) - is None: no element rather than a wrong one."""
        t_press, press_pid, nodes, focusable = press
        if not press_pid or not nodes or not same_program_family(pid, press_pid):
            return None
        if before is not None and (before.sender, before.path) == nodes[-1]:
            return before
        wait = getattr(self.watcher, "focus_after", None)
        until = min(deadline - 0.005, time.monotonic() + (t_press + PRESS_FOCUS_WAIT_NS - time.monotonic_ns()) / 1e9)
        first = wait(pid, t_press, until) if wait is not None else None
        if first is None:
            return None
        node = (first.sender, first.path)
        return first if node == nodes[-1] or (not focusable and node in nodes) else None

    def settle(self, pid: int, deadline: float) -> None:
        """A press in a window of ``pid`` was answered a moment ago: describe what has the
        focus there now, so that a key typed into it soon answers without a round trip
        (see :meth:`_focused`) - when that is a new focus, of a role typed into (or one
        the watcher has not resolved yet)."""
        rec = self.watcher.last_focus(pid)
        if rec is None or (rec.role is not None and rec.role not in _TYPED_ROLES):
            return
        key = (self.generation(), rec.sender, rec.path)
        if key != self._settled:
            self._settled = key
            self._focused(pid, deadline)

    def _focused(self, pid: int, deadline: float, rec=None) -> ElementEvent | None:
        """The element of focus record ``rec`` (default: the watcher's last focus record of
        ``pid``). An editable one (a text field: its role, name, box and kept states do not
        change while it is typed into) answers again for ``FOCUS_ANSWER_S`` in its window generation, without a
        round trip: the app is busy with the very key being asked about."""
        if rec is None:
            rec = self.watcher.last_focus(pid)
        if rec is None:
            return None  # no focus event from that program yet
        # (a record whose role the watcher is still resolving names the object all the same)
        node = (rec.sender, rec.path)
        gen = self.generation()
        key = (gen, rec.sender, rec.path)
        known = self._focus_answers.get(key)
        if known is not None and time.monotonic() - known[1] <= FOCUS_ANSWER_S:
            return known[0]
        el = self._describe_focused(node, key, deadline)
        if el is not None and "editable" in el.states and time.monotonic() < deadline:
            if len(self._focus_answers) > 64:
                self._focus_answers.clear()
            self._focus_answers[key] = (el, time.monotonic())
        return el

    def _describe_focused(self, node, key, deadline: float) -> ElementEvent | None:
        link = self._conn(deadline)
        if link is None:
            return None
        gen = key[0]
        path = self._paths.get(key)
        if path is None:
            path = self._known_path(gen, node)
        if path is not None:
            return self._element_from(self._many(link, self._describe_msgs(node), deadline), list(path))
        # the ancestors by Parent, one level per round trip; the element's own description
        # rides with the first one
        r = self._many(link, self._describe_msgs(node) + [_get_prop(node[0], node[1], _ACCESSIBLE, "Parent")],
                       deadline)
        leaf, parent = r[:_DESCRIBE_N], _variant_value(r[_DESCRIBE_N])
        ancestors = []
        for _ in range(ELEMENT_PATH_MAX + 1):
            if not isinstance(parent, tuple) or len(parent) != 2 or not parent[0] or parent[1] == _NULL \
                    or parent[1] == _ROOT_PATH:
                break
            cur = (parent[0], parent[1])
            ancestors.append(cur)
            parent = _variant_value(self._many(link, [_get_prop(cur[0], cur[1], _ACCESSIBLE, "Parent")],
                                               deadline)[0])
        named = self._names(link, ancestors[::-1], deadline)
        path = tuple(n for n in named if n[0] != "application")[-ELEMENT_PATH_MAX:]
        if time.monotonic() < deadline:
            if len(self._paths) > 256:
                self._paths.clear()
            self._paths[key] = path
        return self._element_from(leaf, list(path))

    def _known_path(self, gen: int, node) -> tuple[tuple[str, str], ...] | None:
        """The ancestors of ``node`` as an earlier descent met them (its parents up to a
        frame, each named in this generation), or None."""
        chain = []
        cur = node
        for _ in range(MAX_DEPTH):
            cur = self._parent_of.get(cur)
            if cur is None:
                break
            info = self._info.get((gen, *cur))
            if info is None:
                return None
            chain.append(info)
        if not chain:
            return None  # (every remembered chain of parents ends at a frame a descent began at)
        return tuple(chain[::-1])[-ELEMENT_PATH_MAX:]
