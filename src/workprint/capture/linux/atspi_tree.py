"""AT-SPI tree source (Linux): the accessibility tree of one window, level by level.

A :class:`~workprint.capture.a11y_tree.TreeSource` over its own connection to the
accessibility bus (an :class:`~.atspi_elements.AtspiElementSource` of its own finds the
window's top-level frame: the apps of the window's program, their showing frames, the one
whose box fits the X window - cached per window generation). Used only from the tree
taker's thread; every call is bounded by the caller's deadline; any doubt (the bus, the
app or the deadline) answers None.

Breadth first from the frame, two pipelined round trips per level:

1. for every node of the level: role name, role, state set, screen extents, attributes
   (Chromium's ``text-input-type=password``) and child count;
2. for the nodes that are showing and are no password field: their ``Name``, and their
   children (``GetChildAtIndex``, never more than the nodes left in the bounds).

So a name is asked only once the node is known to be showing and not a password field,
and nothing below a password field is ever asked (nor in a web document embedded in another,
an iframe, which may show another site); nodes that are not showing are left out
with everything below them. The ``Text`` interface (a field's value) is never used.
Reading stops at the bounds' nodes and depth (a node whose children were left unread is
marked ``CUT``; the gate cuts by bytes too).

Each read leaves a plan - the nodes it asked about and what it met - kept per window
generation, process, frame and bounds. The next read of that window asks the plan's
questions all at once (one round trip instead of two per level; of a node that was not
showing only its state) and uses the answers only
if they have the plan's shape: the same nodes showing, with the same roles, child counts and
children - then they are exactly what a level-by-level read would give. Anything else (a
dialog opened, a row added) reads level by level again. Every round trip waits for the
app's main loop, so this is what makes a tree cheap while the window stays as it was.
"""

from __future__ import annotations

import time

from ...events import ELEMENT_NAME_MAX, A11yNode, Geometry
from ...policy.a11y_tree import CUT, DOCUMENT_ROLES, PASSWORD_ROLE, SHOWING, TreeBounds
from .atspi import (_ACCESSIBLE, ROLE_PASSWORD_TEXT, STATE_DEFUNCT, STATE_SHOWING, AtspiWatcher, _call, _get_prop,
                    _ok, _role_of, _states, _variant_value)
from .atspi_elements import _COMPONENT, COORD_SCREEN, AtspiElementSource, _extents, _ref

#: AtspiStateType bits a tree node keeps (events.A11Y_TREE_STATES; "password" is derived)
_STATE_BITS = (("focused", 12), ("editable", 7), ("checked", 4), ("selected", 23), ("enabled", 8),
               ("expanded", 10), ("pressed", 20))
_PER_NODE = 6  # calls per node in the first round trip of a level


def is_password_node(d: dict) -> bool:
    return d["role"] == PASSWORD_ROLE or "password" in d["states"]


def _shape(got) -> tuple | None:
    """What of a node's answer decides what a read asks next: showing or not, its role, a
    password field or not, its child count (its other states and box may change freely)."""
    if got is None:
        return None
    d, count = got
    return d["role"], is_password_node(d), count


class _Plan:
    """What a level-by-level read asked and met, for asking it all again at once: the nodes
    asked about (in order) and their answers' shape - showing or not, role, child count -
    and for each node whose children were asked, how many and which."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.shape: dict[tuple[str, str], tuple | None] = {}
        self.children: dict[tuple[str, str], list] = {}   # opened node -> children met (refs or None)


class AtspiTreeSource:
    def __init__(self, watcher: AtspiWatcher, generation=lambda: 0):
        self.frames = AtspiElementSource(watcher, generation)  # own connection and caches
        self.generation = generation
        self._plans: dict[tuple, _Plan] = {}
        self.replayed = 0  # trees read in one round trip from a plan (for measurements)

    @property
    def calls(self) -> int:
        return self.frames.calls

    @property
    def round_trips(self) -> int:
        return self.frames.round_trips

    def close(self) -> None:
        self.frames.close()

    def tree(self, pid: int, window, bounds: TreeBounds, deadline: float) -> A11yNode | None:
        frame = self.frames.frame_of(pid, window, deadline)
        link = self.frames._link
        if frame is None or link is None or time.monotonic() > deadline:
            return None
        root = frame[0]
        key = (self.generation(), pid, root, bounds)
        plan = self._plans.get(key)
        if plan is not None:
            got = self._replay(link, root, plan, bounds, deadline)
            if got is not None:
                self.replayed += 1
                return got
            if time.monotonic() > deadline:
                return None
        plan = _Plan()
        got = self._read(link, root, bounds, deadline, plan)
        if got is not None:
            if len(self._plans) > 32:
                self._plans.clear()
            self._plans[key] = plan
        return got

    @staticmethod
    def _describe(node) -> list:
        b, p = node
        return [_call(b, p, _ACCESSIBLE, "GetRoleName"), _call(b, p, _ACCESSIBLE, "GetRole"),
                _call(b, p, _ACCESSIBLE, "GetState"), _call(b, p, _COMPONENT, "GetExtents", "u", (COORD_SCREEN,)),
                _call(b, p, _ACCESSIBLE, "GetAttributes"), _get_prop(b, p, _ACCESSIBLE, "ChildCount")]

    @staticmethod
    def _open_msgs(node, n: int) -> list:
        b, p = node
        return [_get_prop(b, p, _ACCESSIBLE, "Name")] + [
            _call(b, p, _ACCESSIBLE, "GetChildAtIndex", "i", (j,)) for j in range(n)]

    def _read(self, link, root, bounds: TreeBounds, deadline: float, plan: _Plan) -> A11yNode | None:
        """Breadth first, two pipelined round trips per level (see the module doc)."""
        info: dict[tuple[str, str], dict] = {}
        kids: dict[tuple[str, str], list[tuple[str, str]]] = {}
        in_doc: set[tuple[str, str]] = set()  # nodes below a web document
        level, depth, kept = [root], 0, 0
        while level:
            msgs = [m for node in level for m in self._describe(node)]
            r = self.frames._many(link, msgs, deadline)
            if time.monotonic() > deadline:
                return None
            plan.asked += level
            opened: list[tuple[tuple[str, str], int]] = []  # showing, no password: (node, children)
            for i, node in enumerate(level):
                got = self._node(r[i * _PER_NODE:(i + 1) * _PER_NODE])
                plan.shape[node] = _shape(got)
                if got is None:
                    continue  # gone, not showing or no answer: left out with what is below it
                d, count = got
                info[node] = d
                kept += 1
                if is_password_node(d) or (node in in_doc and d["role"] in DOCUMENT_ROLES):
                    continue  # a password field, an embedded document: nothing more is asked
                opened.append((node, count))
            left = bounds.max_nodes - kept if depth < bounds.max_depth else 0
            msgs, asks = [], []
            for node, count in opened:
                n = max(0, min(count, left))
                left -= n
                if n < count:  # the bounds leave children unread
                    info[node]["states"] += (CUT,)
                asks.append(n)
                msgs += self._open_msgs(node, n)
            if not msgs:
                break
            r = self.frames._many(link, msgs, deadline)
            if time.monotonic() > deadline:
                return None
            nxt, at = [], 0
            for (node, _), n in zip(opened, asks):
                name = _variant_value(r[at])
                info[node]["name"] = name[:ELEMENT_NAME_MAX] if isinstance(name, str) else ""
                refs = [_ref(m) for m in r[at + 1:at + 1 + n]]
                plan.children[node] = refs
                children = [c for c in refs if c is not None and c not in info]
                kids[node] = children
                nxt += children
                if node in in_doc or info[node]["role"] in DOCUMENT_ROLES:
                    in_doc.update(children)
                at += 1 + n
            level, depth = list(dict.fromkeys(nxt)), depth + 1
        return self._build(root, info, kids)

    def _replay(self, link, root, plan: _Plan, bounds: TreeBounds, deadline: float) -> A11yNode | None:
        """The same read as the plan's, asked in one pipelined round trip: every node the
        plan asked about, and for each node it opened its name and children. Used only when
        every answer has the plan's shape (the same nodes showing, roles, child counts and
        children), so the result is what a level-by-level read gives now; else None."""
        opened = list(plan.children.items())
        msgs = []
        for node in plan.asked:  # a node that was not showing: is it still not? (its state)
            msgs += self._describe(node) if plan.shape[node] is not None else [
                _call(node[0], node[1], _ACCESSIBLE, "GetState")]
        for node, refs in opened:
            msgs += self._open_msgs(node, len(refs))
        r = self.frames._many(link, msgs, deadline)
        if time.monotonic() > deadline:
            return None
        info: dict[tuple[str, str], dict] = {}
        at = 0
        for node in plan.asked:
            if plan.shape[node] is None:
                states = _states(r[at])
                at += 1
                if states is not None and not states >> STATE_DEFUNCT & 1 and states >> STATE_SHOWING & 1:
                    return None  # showing now: read it level by level
                continue
            got = self._node(r[at:at + _PER_NODE])
            at += _PER_NODE
            if _shape(got) != plan.shape[node]:
                return None  # something changed: read it level by level
            info[node] = got[0]
        kids: dict[tuple[str, str], list[tuple[str, str]]] = {}
        seen = set()
        for node, refs in opened:
            n = len(refs)
            got_refs = [_ref(m) for m in r[at + 1:at + 1 + n]]
            if got_refs != refs:
                return None
            if n < plan.shape[node][2]:
                info[node]["states"] += (CUT,)
            name = _variant_value(r[at])
            info[node]["name"] = name[:ELEMENT_NAME_MAX] if isinstance(name, str) else ""
            seen.add(node)
            kids[node] = [c for c in refs if c is not None and c != root and c not in seen]
            at += 1 + n
        return self._build(root, info, kids)

    @staticmethod
    def _build(root, info: dict, kids: dict) -> A11yNode | None:
        if root not in info:
            return None

        def build(node, seen) -> A11yNode:
            d = info[node]
            seen.add(node)
            below = tuple(build(k, seen) for k in kids.get(node, ()) if k in info and k not in seen)
            return A11yNode(d["role"], d.get("name", ""), d["states"], d["box"], below)

        return build(root, set())

    @staticmethod
    def _node(r) -> tuple[dict, int] | None:
        """A node's role, states (with :data:`SHOWING`) and box, and its child count, from
        the replies of the first round trip; None when it is gone or not showing."""
        role = _ok(r[0])
        states = _states(r[2])
        if not role or not isinstance(role[0], str) or states is None or states >> STATE_DEFUNCT & 1:
            return None
        if not states >> STATE_SHOWING & 1:
            return None
        role = role[0]
        if _role_of(r[1]) == ROLE_PASSWORD_TEXT:
            role = PASSWORD_ROLE  # Qt 5 names its password fields' role "text"
        attrs = _ok(r[4])
        attrs = attrs[0] if attrs and isinstance(attrs[0], dict) else {}
        kept = [name for name, bit in _STATE_BITS if states >> bit & 1]
        if role == PASSWORD_ROLE or str(attrs.get("text-input-type", "")).lower() == "password":
            kept.append("password")
        kept.append(SHOWING)
        count = _variant_value(r[5])
        box: Geometry | None = _extents(r[3])
        return {"role": role, "states": tuple(kept), "box": box}, count if isinstance(count, int) and count > 0 else 0
