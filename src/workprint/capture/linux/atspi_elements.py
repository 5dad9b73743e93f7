"""AT-SPI element source (Linux): the accessible at a screen point, or the focused one.

An :class:`~workprint.capture.elements.ElementSource` over its own connection to the
accessibility bus that :class:`~workprint.capture.linux.atspi.AtspiWatcher` found (the watcher's
focus records give the focused object for keys). Used only from the element locator's
thread; every call is bounded by the caller's deadline and answers None on any doubt.

* **At a point** (press, scroll): the app's accessible of the window's process (registry
  children whose bus pid is the window's pid or of its program family), its top-level
  frames with their screen extents (cached per window generation: a window that moves
  bumps it), the frame that fits the X window under the point, then
  ``Component.GetAccessibleAtPoint(x, y, SCREEN)`` from that frame down to the deepest
  accessible (one round trip per level). The descent is the ancestor path.
* **Focused** (keys): the watcher's last focus record of that program; its ancestors by
  ``Parent`` (cached per object and window generation).
* What is read: role name, ``Name``, ``Description``, state set, ``GetAttributes`` (for
  Chromium's ``text-input-type=password``) and screen extents - pipelined in one round
  trip. **Never** the ``Text`` interface: a password field's value is never read; its name
  (the label, e.g. "Password") is.
"""

from __future__ import annotations

import time

from ...events import ELEMENT_NAME_MAX, ELEMENT_PATH_MAX, ElementEvent, Geometry
from .atspi import (_ACCESSIBLE, _DBUS_NAME, _DBUS_PATH, _REGISTRY, _ROOT_PATH, STATE_DEFUNCT, STATE_SHOWING,
                    AtspiWatcher, _call, _get_prop, _Link, _ok, _states, _variant_value, same_program_family)

_COMPONENT = "org.a11y.atspi.Component"
COORD_SCREEN = 0
_NULL = "/org/a11y/atspi/null"
MAX_DEPTH = 32
# AtspiStateType bits kept (see events.ELEMENT_STATES)
STATE_ACTIVE = 1
_KEPT_STATES = (("focused", 12), ("editable", 7), ("checked", 4), ("selected", 23))
_PASSWORD_ROLE = "password text"


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
        self.calls = 0  # D-Bus calls sent (for measurements)

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
        return link.call_many(msgs, deadline)

    # -- the element ----------------------------------------------------------------------
    @staticmethod
    def _describe_msgs(node: tuple[str, str]) -> list:
        b, p = node
        return [_call(b, p, _ACCESSIBLE, "GetRoleName"), _get_prop(b, p, _ACCESSIBLE, "Name"),
                _get_prop(b, p, _ACCESSIBLE, "Description"), _call(b, p, _ACCESSIBLE, "GetState"),
                _call(b, p, _COMPONENT, "GetExtents", "u", (COORD_SCREEN,)),
                _call(b, p, _ACCESSIBLE, "GetAttributes")]

    @staticmethod
    def _element_from(r, path) -> ElementEvent | None:
        """The element from the replies to :meth:`_describe_msgs` (None: gone, no answer)."""
        role = _ok(r[0])
        states = _states(r[3])
        if not role or not isinstance(role[0], str) or states is None or states >> STATE_DEFUNCT & 1:
            return None
        role = role[0]
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
        if not body:
            return []
        apps = [(b, p) for b, p in body[0] if b and p != _NULL]
        unknown = [b for b, _ in apps if b not in self._pid_of]
        if unknown:
            replies = self._many(link, [_call(_DBUS_NAME, _DBUS_PATH, _DBUS_NAME, "GetConnectionUnixProcessID",
                                              "s", (b,)) for b in unknown], deadline)
            for b, reply in zip(unknown, replies):
                got = _ok(reply)
                if got:
                    self._pid_of[b] = int(got[0])
        return [(b, p) for b, p in apps if b in self._pid_of and same_program_family(pid, self._pid_of[b])]

    def _frames_of(self, link: _Link, pid: int, deadline: float):
        key = (self.generation(), pid)
        hit = self._frames.get(key)
        if hit is not None:
            return hit
        frames: list[tuple[tuple[str, str], Geometry | None, int]] = []
        for app in self._apps(link, pid, deadline):
            body = _ok(self._many(link, [_call(app[0], app[1], _ACCESSIBLE, "GetChildren")], deadline)[0])
            kids = [(b, p) for b, p in (body[0] if body else []) if b and p != _NULL]
            if not kids:
                continue
            msgs = []
            for b, p in kids:
                msgs += [_call(b, p, _COMPONENT, "GetExtents", "u", (COORD_SCREEN,)),
                         _call(b, p, _ACCESSIBLE, "GetState")]
            r = self._many(link, msgs, deadline)
            for i, kid in enumerate(kids):
                states = _states(r[2 * i + 1])
                if states is None or not states >> STATE_SHOWING & 1:
                    continue
                frames.append((kid, _extents(r[2 * i]), states))
        if time.monotonic() < deadline:  # a partial answer is not cached
            if len(self._frames) > 64:
                self._frames.clear()
            self._frames[key] = frames
        return frames

    def at_point(self, pid: int, window, x: int, y: int, deadline: float) -> ElementEvent | None:
        link = self._conn(deadline)
        if link is None:
            return None
        frames = [f for f in self._frames_of(link, pid, deadline) if f[1] is not None and f[1].contains(x, y)]
        if not frames:
            return None
        geo = getattr(window, "geometry", None)

        def fit(f) -> tuple[int, int]:  # the frame whose box is the X window's, active first
            box = f[1]
            off = (abs(box.x - geo.x) + abs(box.y - geo.y) + abs(box.width - geo.width)
                   + abs(box.height - geo.height)) if geo is not None else 0
            return (off, 0 if f[2] >> STATE_ACTIVE & 1 else 1)

        node = min(frames, key=fit)[0]
        chain = [node]
        for _ in range(MAX_DEPTH):
            kid = _ref(self._many(link, [_call(node[0], node[1], _COMPONENT, "GetAccessibleAtPoint", "iiu",
                                               (x, y, COORD_SCREEN))], deadline)[0])
            if kid is None or kid == node or kid in chain:
                break
            chain.append(kid)
            node = kid
        if time.monotonic() > deadline:
            return None
        ancestors = chain[:-1][-ELEMENT_PATH_MAX:]
        names = self._names_msgs(ancestors)  # one round trip for the element and its path
        r = self._many(link, names + self._describe_msgs(chain[-1]), deadline)
        return self._element_from(r[len(names):], self._names_from(r, len(ancestors)))

    # -- focused --------------------------------------------------------------------------
    def focused(self, pid: int, deadline: float) -> ElementEvent | None:
        link = self._conn(deadline)
        if link is None:
            return None
        rec = self.watcher.last_focus(pid)
        if rec is None:
            return None  # no focus event from that program yet
        # (a record whose role the watcher is still resolving names the object all the same)
        node = (rec.sender, rec.path)
        key = (self.generation(), rec.sender, rec.path)
        path = self._paths.get(key)
        if path is None:
            ancestors = []
            cur = node
            for _ in range(ELEMENT_PATH_MAX + 1):
                parent = _variant_value(self._many(link, [_get_prop(cur[0], cur[1], _ACCESSIBLE, "Parent")],
                                                   deadline)[0])
                if not isinstance(parent, tuple) or len(parent) != 2 or not parent[0] or parent[1] == _NULL \
                        or parent[1] == _ROOT_PATH:
                    break
                cur = (parent[0], parent[1])
                ancestors.append(cur)
            named = self._names(link, ancestors[::-1], deadline)
            path = tuple(n for n in named if n[0] != "application")[-ELEMENT_PATH_MAX:]
            if time.monotonic() < deadline:
                if len(self._paths) > 256:
                    self._paths.clear()
                self._paths[key] = path
        return self._element_from(self._many(link, self._describe_msgs(node), deadline), list(path))
