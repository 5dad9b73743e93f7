"""UI elements of actions, without X: the vocabulary, the gate (an element is stored only
with its input; names redacted; a swallowed key's element never), the reducer's join, the
descriptions, the exports (AgentNet, hf loaded by datasets current and 3.6, Aguvis) and the
element locator's bounds (scope before any query, deadline, full queue)."""

from __future__ import annotations

import time

import pytest

from workprint.actions.describe import describe
from workprint.actions.reduce import reduce_events
from workprint.capture.elements import ElementLocator, ElementRequest
from workprint.events import (ButtonEvent, ElementEvent, FocusEvent, Geometry, KeyEvent, MarkerEvent,
                              ScrollEvent, from_row, to_row)
from workprint.export import export_sessions
from workprint.policy.gate import SafeguardGate

from evgen import Stream
from export_load import agentnet_load, aguvis_load, hf_load, python_current
from storegen import make_session, screen_image
from test_gate import MS, POLICY, focus, typed

SAVE = ElementEvent(0, "push button", "Save", "", (), Geometry(960, 540, 96, 54), "Editor",
                    (("frame", "report.txt - Editor"), ("panel", "")))
FIELD = ElementEvent(0, "text", "File name", "", ("focused", "editable"), Geometry(192, 108, 384, 36), "Editor",
                     (("frame", "report.txt - Editor"),), via="focus")


def at(el: ElementEvent, t_ns: int, **kw) -> ElementEvent:
    from dataclasses import replace
    return replace(el, t_ns=t_ns, **kw)


def test_element_row_round_trip():
    ev = at(SAVE, 123, states=("focused", "checked"))
    t, kind, data = to_row(ev)
    assert kind == "element" and t == 123
    assert from_row(t, kind, data) == ev
    bare = ElementEvent(5, "label")
    assert from_row(*to_row(bare)) == bare


# --- the gate ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def redactor():
    from workprint.policy.redact_text import Redactor
    return Redactor(username="alice", hostname="ws-alice-42")


def test_gate_stores_an_element_with_its_stored_input_and_redacts_names(redactor):
    g = SafeguardGate(POLICY, redactor)
    g.process(focus(1 * MS, "Workbench"))
    down = ButtonEvent(100 * MS, True, 10, 10, "left")
    assert down in g.process(down)
    g.process(ButtonEvent(150 * MS, False, 10, 10, "left"))
    el = at(SAVE, down.t_ns, name="Send to alice@example.com", description="ghp_" + "a" * 36,
            path=(("frame", "Inbox of alice@example.com"),))
    out = g.element(el)
    assert len(out) == 1 and out[0].t_ns == down.t_ns
    stored = out[0]
    assert "alice@example.com" not in stored.name and "<EMAIL_ADDRESS>" in stored.name
    assert "ghp_" not in stored.description
    assert "alice@example.com" not in stored.path[0][1]
    # an element of an input that never passed (unknown t_ns) is dropped
    assert g.element(at(SAVE, 999 * MS)) == [] and g.elements_dropped == 1


def test_gate_holds_a_typed_units_element_until_the_unit_is_stored(redactor):
    g = SafeguardGate(POLICY, redactor)
    g.process(focus(1 * MS, "Workbench"))
    keys, t = typed(100 * MS, "report")
    out = []
    for k in keys[:2]:
        out += g.process(k)
    assert out == []                                   # the unit is held
    assert g.element(at(FIELD, keys[0].t_ns)) == []    # so is its element
    for k in keys[2:]:
        out += g.process(k)
    out += g.process(KeyEvent(t, True, 36, 0, "Return", "\r"))
    els = [e for e in out if isinstance(e, ElementEvent)]
    assert [e.t_ns for e in els] == [keys[0].t_ns] and els[0].name == "File name"
    assert out.index(els[0]) > out.index(keys[0])      # after its input


def test_gate_never_stores_the_element_of_a_swallowed_key(redactor):
    state = {"secret": False}
    g = SafeguardGate(POLICY, redactor, secure_input=lambda f: state["secret"])
    g.process(focus(1 * MS, "Workbench"))
    keys, t = typed(100 * MS, "hunter2")
    out = g.process(keys[0])
    pw = at(FIELD, keys[0].t_ns, name="Password", role="password text", states=("password",))
    assert g.element(pw) == []                         # parked with the held key
    state["secret"] = True                             # the focus event of the password field
    for k in keys[1:]:
        out += g.process(k)
    out += g.process(KeyEvent(t, True, 36, 0, "Return", "\r"))
    out += g.flush(t + 2000 * MS)
    assert [e.redacted for e in out if isinstance(e, KeyEvent) and e.down][0] == "PASSWORD"
    assert not [e for e in out if isinstance(e, ElementEvent)]
    assert g.elements_dropped == 1
    # and one that arrives after the swallowing is dropped too
    assert g.element(at(FIELD, keys[3].t_ns)) == []


def test_gate_drops_the_element_of_a_gesture_that_left_scope(redactor):
    from workprint.capture.backend import WindowInfo
    wins = [WindowInfo(1, "Workbench", "workbench", "win", Geometry(0, 0, 500, 500)),
            WindowInfo(2, "Secrets", "secrets", "vault", Geometry(500, 0, 500, 500))]
    g = SafeguardGate(POLICY, redactor, windows=lambda: wins)
    g.process(focus(1 * MS, "Workbench"))
    down = ButtonEvent(100 * MS, True, 100, 100, "left")
    g.process(down)
    assert g.element(at(SAVE, down.t_ns)) == []        # held with the gesture
    out = g.process(ButtonEvent(200 * MS, False, 700, 100, "left"))  # released over a denied app
    assert not [e for e in out if isinstance(e, ElementEvent)] and g.elements_dropped == 1
    assert g.recorded_window_at(700, 100) is None      # the denied window is never asked
    assert g.recorded_window_at(100, 100).window == 1


# --- reduction, descriptions, exports -----------------------------------------------------------
def element_session(root):
    s = Stream(t0_ms=10_000)
    frames = [(s.t, screen_image("desktop"))]
    s.add(FocusEvent(s.at(100), 4242, "report.txt - Editor", "Editor", pid=777))
    s.add(MarkerEvent(s.at(100), "task_start", text="Save the report"))
    s.click(1000, 560, dt=700)
    press = [e for e in s.events if isinstance(e, ButtonEvent)][-1 - 1]
    s.add(at(SAVE, press.t_ns))
    frames.append((s.at(300), screen_image("dialog")))
    s.at(800)
    s.type("q3 report", dt=90)
    first_key = next(e for e in s.events if isinstance(e, KeyEvent) and e.char == "q")
    s.add(at(FIELD, first_key.t_ns))
    s.key("Return", "\r")
    enter = [e for e in s.events if isinstance(e, KeyEvent) and e.key == "Return"][0]
    s.add(at(FIELD, enter.t_ns))
    s.add(ScrollEvent(s.at(300), 900, 600, 0, -1))
    s.add(ScrollEvent(s.at(40), 900, 600, 0, -1))
    s.click(50, 50, dt=500)                            # no element for this one
    frames.append((s.at(300), screen_image("saved")))
    s.add(MarkerEvent(s.at(500), "task_end", ok=True))
    events = sorted(s.events, key=lambda e: e.t_ns)   # as the store returns them
    make_session(root, events, frames, meta={"policy_hash": "p", "workprint_version": "0",
                                             "jurisdiction": "default"})
    return events


def test_reduce_joins_elements_and_describes_them(tmp_path):
    events = element_session(tmp_path)
    actions = [a for a in reduce_events(events) if a.kind not in ("focus",)]
    by_kind: dict = {}
    for a in actions:
        by_kind.setdefault(a.kind, a)
    assert by_kind["click"].element.name == "Save"
    assert by_kind["write"].element.name == "File name" and by_kind["press"].element.name == "File name"
    assert by_kind["scroll"].element is None
    assert [a.element for a in actions if a.kind == "click"][1] is None
    nx = lambda x: round(x / 1920, 4)  # noqa: E731
    ny = lambda y: round(y / 1080, 4)  # noqa: E731
    assert describe(by_kind["click"], nx, ny) == "Click the 'Save' button in Editor."
    assert describe(by_kind["write"], nx, ny) == "Type 'q3 report' into the 'File name' field."
    assert describe(by_kind["press"], nx, ny) == "Press Enter in the 'File name' field."
    assert describe([a for a in actions if a.kind == "click"][1], nx, ny) == "Click at (0.0260, 0.0463)."


def test_exports_carry_the_element(tmp_path):
    element_session(tmp_path / "data")
    export_sessions(tmp_path / "data", None, "agentnet", tmp_path / "an", cot=None)
    (traj,) = agentnet_load(tmp_path / "an")
    values = [st["value"] for st in traj["traj"]]
    click = values[0]
    assert click["action"] == "Click the 'Save' button in Editor."
    assert click["element"] == {"role": "push button", "name": "Save", "app": "Editor",
                                "bbox": [0.5, 0.5, 0.55, 0.55], "source": "atspi"}
    assert values[1]["element"]["name"] == "File name" and values[1]["action"].startswith("Type 'q3 report'")
    assert all("element" in v for v in values)
    assert [v["element"] for v in values if v["structured"]["type"] == "scroll"] == [None]
    export_sessions(tmp_path / "data", None, "aguvis", tmp_path / "ag", cot=None)
    rows = aguvis_load(tmp_path / "ag")
    assert "Step 1: Click the 'Save' button in Editor." in rows[2]["conversations"][1]["value"]
    assert "Step 2: Type 'q3 report' into the 'File name' field." in rows[2]["conversations"][1]["value"]


@pytest.mark.parametrize("which", ["current", "3.6"])
def test_hf_element_columns_load(tmp_path, which):
    element_session(tmp_path / "data")
    export_sessions(tmp_path / "data", None, "hf", tmp_path / "hf", cot=None)
    if which == "current":
        python = python_current()
    else:
        from ds36 import datasets36_python
        python = datasets36_python()
    got = hf_load(python, tmp_path / "hf", tmp_path / "home")
    rows = got["rows"]
    assert rows[0]["element_role"] == "push button" and rows[0]["element_name"] == "Save"
    assert rows[0]["element_bbox"] == [0.5, 0.5, 0.55, 0.55]
    assert [r["element_bbox"] for r in rows if r["action_type"] == "scroll"] == [None]


# --- the locator ---------------------------------------------------------------------------------
class FakeSource:
    """Answers after ``delay`` seconds; records every pid it was asked about."""

    def __init__(self, delay=0.0):
        self.delay = delay
        self.asked: list[tuple] = []
        self.at_ns: list[int | None] = []

    def at_point(self, pid, window, x, y, deadline):
        self.asked.append(("point", pid, x, y))
        time.sleep(self.delay)
        return ElementEvent(0, "push button", "Save") if time.monotonic() < deadline else None

    def warm(self, pid, window, x, y, deadline):
        return self.at_point(pid, window, x, y, deadline)

    def focused(self, pid, deadline, at_ns=None):
        self.asked.append(("focus", pid))
        self.at_ns.append(at_ns)
        time.sleep(self.delay)
        return ElementEvent(0, "text", "File name")

    def close(self):
        pass


class Win:
    def __init__(self, window, app_id):
        self.window, self.app_id, self.geometry = window, app_id, Geometry(0, 0, 100, 100)


def locator(source, got, **kw):
    scope = {(1, 1): Win(11, "Editor")}  # (2, 2) lies in a window the gate does not record
    loc = ElementLocator(source, deliver=got.append, window_at=lambda x, y: scope.get((x, y)),
                         window_pid=lambda w: {11: 111}.get(w), **kw)
    loc.start()
    return loc


def wait_idle(loc):
    deadline = time.monotonic() + 2
    while loc._queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)


def test_locator_asks_only_recorded_windows_and_fills_in_its_input():
    src, got = FakeSource(), []
    loc = locator(src, got)
    t = time.monotonic_ns()
    assert loc.request(ElementRequest(t, "point", 2, 2))      # out of scope
    assert loc.request(ElementRequest(t + 1, "point", 1, 1))
    assert loc.request(ElementRequest(t + 2, "focus", pid=111, app="Editor"))
    wait_idle(loc)
    loc.stop()
    assert src.asked == [("point", 111, 1, 1), ("focus", 111)]   # never the out-of-scope point
    assert src.at_ns == [t + 2]   # a key's element: the focus at the key's time, not when asked
    assert [(e.t_ns, e.app, e.via) for e in got] == [(t + 1, "Editor", "point"), (t + 2, "Editor", "focus")]
    st = loc.stats()
    assert st["out_of_scope"] == 1 and st["found"] == 2 and st["apps_asked"] == ["Editor"]


def test_locator_slow_source_gives_no_element_and_a_full_queue_never_blocks():
    src, got = FakeSource(delay=0.08), []
    loc = locator(src, got, budget_s=0.03, queue_size=2)
    t0 = time.monotonic()
    accepted = [loc.request(ElementRequest(time.monotonic_ns(), "point", 1, 1)) for _ in range(20)]
    # request() never waits: a blocking one would take 20 x 80 ms; 0.5 s leaves room for a
    # loaded machine (a mechanism check, not a latency figure: those are make bench's)
    assert time.monotonic() - t0 < 0.5
    assert accepted.count(False) >= 15
    wait_idle(loc)
    time.sleep(0.3)
    loc.stop()
    assert got == []                                            # past the deadline: no element
    st = loc.stats()
    assert st["queue_full"] == accepted.count(False) and st["found"] == 0
    assert st["none"] + st["stale"] + st["late"] >= 1


def test_locator_warms_up_where_the_pointer_rests_only_in_recorded_windows():
    """A rest in a recorded window asks the source about that point once (its answer is
    dropped); a rest in a window that is not recorded asks nothing; moving on without a rest
    asks nothing; a press is answered by its own query."""
    src, got = FakeSource(), []
    loc = locator(src, got)
    try:
        loc.note_pointer(time.monotonic_ns(), 2, 2)          # out of scope
        time.sleep(0.15)
        assert src.asked == [] and loc.stats()["warmups"] == 0
        for _ in range(5):                                    # passing over, no rest
            loc.note_pointer(time.monotonic_ns(), 1, 1)
            time.sleep(0.01)
            loc.note_pointer(time.monotonic_ns(), 2, 2)
            time.sleep(0.01)
        loc.note_pointer(time.monotonic_ns(), 1, 1)           # rests here
        time.sleep(0.15)
        assert src.asked == [("point", 111, 1, 1)] and loc.stats()["warmups"] == 1 and got == []
        t = time.monotonic_ns()
        assert loc.request(ElementRequest(t, "point", 1, 1))
        wait_idle(loc)
        assert src.asked == [("point", 111, 1, 1)] * 2 and [e.t_ns for e in got] == [t]
    finally:
        loc.stop()


def test_locator_settles_after_a_press_only_in_recorded_windows():
    """SETTLE_S after a press's element the source is let learn what the press focused (for
    the pid of the window under the press, asked again); a press outside scope: nothing."""
    from workprint.capture.elements import SETTLE_S

    class Source(FakeSource):
        warm = None

        def settle(self, pid, deadline):
            self.asked.append(("settle", pid))

    src, got = Source(), []
    loc = locator(src, got)
    try:
        assert loc.request(ElementRequest(time.monotonic_ns(), "point", 2, 2))   # out of scope
        time.sleep(SETTLE_S + 0.1)
        assert src.asked == []
        assert loc.request(ElementRequest(time.monotonic_ns(), "point", 1, 1))
        time.sleep(SETTLE_S / 2)
        assert src.asked == [("point", 111, 1, 1)]
        time.sleep(SETTLE_S)
        assert src.asked == [("point", 111, 1, 1), ("settle", 111)] and loc.stats()["settles"] == 1
        time.sleep(SETTLE_S)
        assert len(src.asked) == 2                               # once per press
    finally:
        loc.stop()


def test_a_warm_up_never_takes_a_browsers_press_report():
    """In a browser the extension reports, a press's element is its report (each answers
    once): a pointer rest there asks nothing; elsewhere it goes to AT-SPI's warm-up."""
    from workprint.capture.browser_ext import BrowserElementSource

    class Bridge:
        def reports_for(self, pid):
            return pid == 7

        def element_at(self, pid, x, y, deadline):
            raise AssertionError("a warm-up took the press report")

    src = BrowserElementSource(Bridge(), FakeSource())
    fallback = src.fallback
    assert src.warm(7, None, 1, 1, time.monotonic() + 0.1) is None and fallback.asked == []
    assert src.warm(8, None, 1, 1, time.monotonic() + 0.1) is not None
    assert fallback.asked == [("point", 8, 1, 1)]


def test_a_press_is_asked_for_at_once_while_a_frame_holds_the_store(tmp_path):
    """The processor does not block behind a frame being written: a press that arrives while
    the store is busy is handed to the locator within milliseconds, and every event is
    stored once the store is free."""
    from workprint.capture.fake import FakeBackend
    from workprint.capture.recorder import Recorder
    from workprint.events import MoveEvent
    from workprint.store.session import DataDir

    writer = DataDir(tmp_path).create({})
    asked: list[int] = []

    class Source(FakeSource):
        def at_point(self, pid, window, x, y, deadline):
            asked.append(time.monotonic_ns())
            return super().at_point(pid, window, x, y, deadline)

    got: list = []
    loc = ElementLocator(Source(), deliver=got.append, window_at=lambda x, y: Win(11, "Editor"),
                         window_pid=lambda w: 111)
    backend = FakeBackend([])
    rec = Recorder(backend, writer, frames=False, flush_interval=0.02, elements=loc)
    rec.start()
    try:
        with writer._mutex:                                   # a frame being written, 400 ms
            backend.send(MoveEvent(time.monotonic_ns(), 5, 5))
            time.sleep(0.06)                                  # its flush found the store busy
            press = ButtonEvent(time.monotonic_ns(), True, 1, 1, "left")
            backend.send(press)
            backend.send(ButtonEvent(time.monotonic_ns(), False, 1, 1, "left"))
            deadline = time.monotonic() + 0.3
            while not asked and time.monotonic() < deadline:
                time.sleep(0.002)
            assert asked, "the locator was not asked while the store was busy"
            assert (asked[0] - press.t_ns) / 1e6 < 30
            time.sleep(0.4 - (time.monotonic_ns() - press.t_ns) / 1e9)
    finally:
        rec.stop()
    writer.close()
    with DataDir(tmp_path).open(writer.id) as s:
        kinds = [e.kind for e in s.events()]
    assert kinds == ["move", "mouse_down", "element", "mouse_up"]


def test_a_press_is_asked_for_from_the_input_hook_while_the_processor_is_busy(tmp_path):
    """A backend that tells the locator of presses from its input hook: the element is asked
    for while the processor is still decoding earlier input (each decode 400 ms here), once
    per press (the processor does not ask again), and a motion before it is noted from the
    hook too; the element is stored with its press."""
    from workprint.capture.fake import FakeBackend
    from workprint.capture.recorder import Recorder
    from workprint.events import MoveEvent
    from workprint.store.session import DataDir

    writer = DataDir(tmp_path).create({})
    asked: list[tuple[int, int, int]] = []

    class Source(FakeSource):
        def at_point(self, pid, window, x, y, deadline):
            asked.append((time.monotonic_ns(), x, y))
            return super().at_point(pid, window, x, y, deadline)

        warm = None  # (no warm-ups: every ask is a press's)

    got: list = []
    loc = ElementLocator(Source(), deliver=got.append, window_at=lambda x, y: Win(11, "Editor"),
                         window_pid=lambda w: 111)
    backend = FakeBackend([], decode_delay_s=0.4)
    rec = Recorder(backend, writer, frames=False, flush_interval=0.02, elements=loc)
    rec.start()
    try:
        assert backend.observes_pointer()
        backend.send(MoveEvent(time.monotonic_ns(), 5, 5))        # the processor: busy 400 ms
        press = ButtonEvent(time.monotonic_ns(), True, 7, 8, "left")
        backend.send(press)
        backend.send(ButtonEvent(time.monotonic_ns(), False, 7, 8, "left"))
        deadline = time.monotonic() + 0.35
        while not asked and time.monotonic() < deadline:
            time.sleep(0.002)
        assert asked and asked[0][1:] == (7, 8)
        # the processor decodes the press 400 ms after it at the earliest (a mechanism check
        # with room for a loaded machine, not a latency figure)
        assert (asked[0][0] - press.t_ns) / 1e6 < 300, "the press waited for the busy processor"
        assert loc._pointer is not None and loc._pointer[1:] == (5, 5)  # the motion, from the hook
        time.sleep(1.4)                                            # all three decoded
    finally:
        rec.stop()
    writer.close()
    assert len(asked) == 1, asked                                  # not asked again by the processor
    with DataDir(tmp_path).open(writer.id) as s:
        events = list(s.events())
    assert [e.kind for e in events] == ["move", "mouse_down", "element", "mouse_up"]
    assert events[2].t_ns == press.t_ns


def test_tell_pointer_hands_presses_and_the_last_motion_before_each():
    from workprint.capture.linux.x11_xi2_pointer import PointerSample, tell_pointer

    told: list = []
    samples = [PointerSample("move", 1, 0, 10, 10), PointerSample("move", 2, 0, 11, 11),
               PointerSample("button", 3, 0, 11, 11, 1, True), PointerSample("button", 4, 0, 11, 11, 1, False),
               PointerSample("scroll", 5, 0, 11, 11, 4, True), PointerSample("move", 6, 0, 12, 12),
               PointerSample("button", 7, 0, 12, 12, 3, True), PointerSample("move", 8, 0, 20, 20),
               PointerSample("move", 9, 0, 21, 22)]
    tell_pointer(lambda *a: told.append(a), samples)
    assert told == [(2, 11, 11, False), (3, 11, 11, True), (6, 12, 12, False), (7, 12, 12, True),
                    (9, 21, 22, False)]
    told.clear()
    tell_pointer(lambda *a: told.append(a), samples[3:5])       # a release, a scroll: nothing
    assert told == []


def test_atspi_source_on_a_silent_bus_answers_none_within_its_deadline(tmp_path):
    """An accessibility bus that accepts the connection and never answers: no element, on
    time, and the source does not try it again."""
    import socket

    from workprint.capture.linux.atspi_elements import AtspiElementSource

    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "silent"))
    server.listen(4)

    class Watcher:
        a11y_address = f"unix:path={tmp_path}/silent"

        def available(self):
            return True

        def last_focus(self, pid):
            return None

    try:
        src = AtspiElementSource(Watcher())
        for ask in (lambda d: src.at_point(1234, None, 5, 5, d), lambda d: src.focused(1234, d)):
            t0 = time.monotonic()
            assert ask(t0 + 0.1) is None
            assert time.monotonic() - t0 < 0.3
        assert src._broken and src.calls == 0
        src.close()
    finally:
        server.close()


# --- the AT-SPI source's descent, against an app's own tree (a scripted bus) ----------------
class _Node:
    def __init__(self, path, role, name, box, kids=()):
        self.path, self.role, self.name, self.box, self.kids = path, role, name, box, list(kids)


class _ScriptedBus:
    """Answers the AT-SPI calls the element source makes from a tree of ``_Node`` (what the
    app itself lays out); each ``call_many``/``call`` is one round trip."""

    BUS = ":1.9"

    def __init__(self, frame: _Node):
        import os

        self.frame, self.pid, self.round_trips = frame, os.getpid(), 0

    def nodes(self):
        todo = [self.frame]
        while todo:
            n = todo.pop()
            yield n
            todo += n.kids

    def deepest(self, x, y) -> list[_Node]:
        """The app's truth: the chain of topmost children containing the point."""
        chain = [self.frame]
        while True:
            inside = [k for k in chain[-1].kids if k.box.contains(x, y)]
            if not inside:
                return chain
            chain.append(inside[-1])

    def _answer(self, msg):
        from types import SimpleNamespace

        from jeepney import HeaderFields, MessageType

        f = msg.header.fields
        path, member, body = f[HeaderFields.path], f[HeaderFields.member], msg.body
        nodes = {n.path: n for n in self.nodes()}
        ret = lambda *b: SimpleNamespace(header=SimpleNamespace(message_type=MessageType.method_return), body=b)  # noqa: E731
        if member == "GetConnectionUnixProcessID":
            return ret(self.pid)
        if path == "/org/a11y/atspi/accessible/root" and member == "GetChildren":
            return ret([(self.BUS, "/app")])
        if path == "/app" and member == "GetChildren":
            return ret([(self.BUS, self.frame.path)])
        n = nodes.get(path)
        if n is None:
            return None
        g = n.box
        if member == "GetExtents":
            return ret((g.x, g.y, g.width, g.height))
        if member == "GetState":
            focusable = 1 << 11 if n.role in ("text", "push button") else 0
            return ret([1 << 25 | focusable | (1 << 7 if n.role == "text" else 0), 0])  # showing (editable)
        if member == "GetRoleName":
            return ret(n.role)
        if member == "GetRole":
            return ret({"push button": 43, "frame": 23}.get(n.role, 0))
        if member == "Get" and body[1] == "Parent":
            up = next((p for p in self.nodes() if n in p.kids), None)
            return ret(("(so)", (self.BUS, up.path if up else "/org/a11y/atspi/accessible/root")))
        if member == "Get" and body[1] == "ChildCount":
            return ret(("i", len(n.kids)))
        if member == "Get":
            return ret(("s", n.name if body[1] == "Name" else ""))
        if member == "GetAttributes":
            return ret({})
        if member == "GetAccessibleAtPoint":
            inside = [k for k in n.kids if k.box.contains(body[0], body[1])]
            return ret((self.BUS, inside[-1].path if inside else "/org/a11y/atspi/null"))
        raise AssertionError(member)

    def call_many(self, msgs, deadline):
        self.round_trips += 1
        return [self._answer(m) for m in msgs]

    def call(self, msg, deadline):
        return self.call_many([msg], deadline)[0]


def _form_tree() -> _Node:
    buttons = [_Node(f"/b{i}", "push button", f"Button {i}", Geometry(20 + 140 * (i % 5), 60 + 50 * (i // 5), 130, 40))
               for i in range(10)]
    grid = _Node("/grid", "panel", "", Geometry(10, 50, 720, 110), buttons)
    rows = [_Node(f"/r{i}", "table cell", f"row {i}", Geometry(20, 200 + 30 * i, 300, 28)) for i in range(5)]
    table = _Node("/table", "table", "Files", Geometry(20, 200, 300, 150), rows)
    pane = _Node("/pane", "scroll pane", "", Geometry(10, 190, 320, 170), [table])
    entry = _Node("/entry", "text", "File name", Geometry(400, 250, 300, 30))
    filler = _Node("/filler", "filler", "", Geometry(0, 30, 800, 570), [grid, pane, entry])
    return _Node("/frame", "frame", "Form", Geometry(0, 0, 800, 600), [filler])


def test_atspi_descent_is_guessed_from_earlier_ones_and_checked_level_by_level():
    """The element at a point is the app's own deepest accessible there (role, name, box,
    ancestors), whatever was remembered; a control asked before costs one round trip, and
    a layout change inside the window (no new window generation) is still answered right."""
    from types import SimpleNamespace

    from workprint.capture.linux.atspi_elements import AtspiElementSource

    bus = _ScriptedBus(_form_tree())
    watcher = SimpleNamespace(a11y_address="unix:path=/nonexistent", available=lambda: True)
    gen = {"n": 1}
    src = AtspiElementSource(watcher, lambda: gen["n"])
    src._link = bus
    window = SimpleNamespace(geometry=Geometry(0, 0, 800, 600))

    def ask(x, y):
        before = bus.round_trips
        el = src.at_point(bus.pid, window, x, y, time.monotonic() + 5)
        truth = bus.deepest(x, y)
        leaf = truth[-1]
        assert el is not None and (el.role, el.name, el.box) == (leaf.role, leaf.name, leaf.box)
        assert list(el.path) == [(n.role, n.name) for n in truth[:-1]][-len(el.path):]
        return bus.round_trips - before

    cold = ask(30, 70)                    # Button 0, nothing known yet
    assert cold >= 4
    assert ask(35, 75) == 1               # the same button again: one round trip
    assert ask(180, 70) == 2              # a sibling: the grid is guessed, one level more
    assert ask(185, 75) == 1
    assert ask(40, 215) >= 2              # the list's first row
    assert ask(40, 245) == 2              # the next row: the table is guessed
    # the app moves Button 0 and 1 apart (no new window generation): answers stay the app's
    b = bus.frame.kids[0].kids[0].kids
    b[0].box, b[1].box = b[1].box, b[0].box
    assert ask(30, 70) <= 2
    assert ask(180, 70) <= 2
    b.pop(2)                              # a control goes away: its point is the grid now
    assert ask(300, 70) <= 2
    gen["n"] += 1                         # a window moved: frames asked again in one trip
    assert ask(30, 70) == 2
    for x, y in ((25, 65), (725, 155), (5, 40), (700, 500), (21, 201)):
        ask(x, y)

    # the focused element (keys): its ancestors from earlier descents cost no round trip
    def focused(path):
        watcher.last_focus = lambda pid: SimpleNamespace(sender=bus.BUS, path=path)
        before = bus.round_trips
        el = src.focused(bus.pid, time.monotonic() + 5)
        node = next(n for n in bus.nodes() if n.path == path)
        truth = bus.deepest(node.box.x + 1, node.box.y + 1)
        assert (el.role, el.name, el.box) == (node.role, node.name, node.box)
        assert list(el.path) == [(n.role, n.name) for n in truth[:-1]]
        return bus.round_trips - before

    # a pointer rest warms up: a press inside that element soon after costs no round trip;
    # the rest's answer is used once, in its window generation, within its time
    assert src.warm(bus.pid, window, 30, 70, time.monotonic() + 5).name == bus.deepest(30, 70)[-1].name
    assert ask(31, 71) == 0
    assert ask(31, 71) == 1
    src.warm(bus.pid, window, 30, 70, time.monotonic() + 5)
    gen["n"] += 1
    assert ask(31, 71) >= 1
    src.warm(bus.pid, window, 30, 70, time.monotonic() + 5)
    assert ask(180, 70) >= 1              # outside the rested element's box
    src.warm(bus.pid, window, 30, 70, time.monotonic() + 5)
    src._rest = src._rest[:3] + (time.monotonic() - 2,)
    assert ask(31, 71) >= 1               # too long ago
    # a rest between controls answers the container there (the grid): it covers its own
    # point only - a press on a control inside it is asked for, and a rest there warms up
    assert src.warm(bus.pid, window, 15, 55, time.monotonic() + 5).role == "panel"
    assert src.covers(15, 55) and not src.covers(30, 70)
    assert ask(30, 70) >= 1
    assert src.warm(bus.pid, window, 15, 55, time.monotonic() + 5).role == "panel"
    assert ask(15, 55) == 0               # at its own point it is the answer
    src.warm(bus.pid, window, 30, 70, time.monotonic() + 5)
    assert src.covers(40, 80) and not src.covers(180, 70)   # a control without children: its box
    gen["n"] += 1
    assert not src.covers(40, 80)         # another window generation
    ask(31, 71)

    assert focused("/b0") == 1            # clicked before (this generation)
    assert focused("/b9") >= 3            # never met: its parents are asked
    assert focused("/b9") == 1
    assert focused("/b9") == 1            # a button's answer is asked for every time
    # a text field clicked: once settled (what the press focused, described), keys typed
    # into it cost no round trip - in its window generation, for FOCUS_ANSWER_S
    assert ask(450, 260) >= 1
    watcher.last_focus = lambda pid: SimpleNamespace(sender=bus.BUS, path="/b1", role=43)
    before = bus.round_trips
    src.settle(bus.pid, time.monotonic() + 5)
    assert bus.round_trips == before      # a push button took the focus: nothing to type into
    watcher.last_focus = lambda pid: SimpleNamespace(sender=bus.BUS, path="/entry", role=61)
    src.settle(bus.pid, time.monotonic() + 5)
    assert bus.round_trips - before == 1
    src.settle(bus.pid, time.monotonic() + 5)
    assert bus.round_trips - before == 1  # the same focus: once
    assert focused("/entry") == 0
    assert focused("/entry") == 0
    gen["n"] += 1
    assert focused("/entry") >= 1         # another window generation: asked again
    for key, (el, _) in list(src._focus_answers.items()):
        src._focus_answers[key] = (el, time.monotonic() - 6)
    assert focused("/entry") == 1         # too long ago


def test_watcher_focus_at_a_moment_is_the_last_record_received_before_it():
    from workprint.capture.linux.atspi import AtspiWatcher, FocusRecord

    w = AtspiWatcher(enable=False)
    assert w.focus_at(42, 10**12) is None                  # nothing reported
    for t, path in ((100, "/a"), (200, "/b"), (300, "/c")):
        w._store(FocusRecord(t_ns=t, sender=":1.5", path=path, pid=42))
    assert [w.focus_at(42, t) and w.focus_at(42, t).path for t in (50, 100, 150, 200, 299, 301)] == \
        [None, None, "/a", "/a", "/b", "/c"]                # a record of the very moment came after it


def test_atspi_key_element_is_the_focus_at_the_keys_time():
    """A Tab pressed in the entry moved the focus to a button before the key was answered:
    its element is the entry (with ``focused``: it had the focus then), never the button;
    with no focus record as old as the key, no element and no query."""
    from types import SimpleNamespace

    from workprint.capture.linux.atspi_elements import AtspiElementSource

    bus = _ScriptedBus(_form_tree())
    records = [SimpleNamespace(t_ns=100, sender=bus.BUS, path="/entry", role=61),
               SimpleNamespace(t_ns=200, sender=bus.BUS, path="/b1", role=43)]  # after the Tab
    watcher = SimpleNamespace(a11y_address="unix:path=/nonexistent", available=lambda: True,
                              last_focus=lambda pid: records[-1],
                              focus_at=lambda pid, t: next((r for r in records[::-1] if r.t_ns < t), None))
    src = AtspiElementSource(watcher, lambda: 1)
    src._link = bus
    deadline = time.monotonic() + 5
    assert src.focused(bus.pid, deadline).name == "Button 1"          # now: the button
    tab = src.focused(bus.pid, deadline, at_ns=150)                    # the Tab's time
    assert (tab.role, tab.name) == ("text", "File name") and "focused" in tab.states
    assert src.focused(bus.pid, deadline, at_ns=250).name == "Button 1"  # a key typed after it
    before = bus.round_trips
    assert src.focused(bus.pid, deadline, at_ns=50) is None and bus.round_trips == before


def test_watcher_focus_after_a_moment_waits_for_the_first_record_received_after_it():
    import threading

    from workprint.capture.linux.atspi import AtspiWatcher, FocusRecord

    w = AtspiWatcher(enable=False)
    w._store(FocusRecord(t_ns=100, sender=":1.5", path="/a", pid=42))
    assert w.focus_after(42, 50, time.monotonic()).path == "/a"      # already in: at once
    assert w.focus_after(42, 100, time.monotonic() + 0.05) is None    # none came by then
    later = threading.Timer(0.05, lambda: [w._store(FocusRecord(t_ns=t, sender=":1.5", path=p, pid=42))
                                           for t, p in ((300, "/b"), (400, "/c"))])
    later.start()
    assert w.focus_after(42, 100, time.monotonic() + 5).path == "/b"  # the first one after the moment
    later.join()


def test_atspi_key_right_after_a_press_gets_the_pressed_field_or_none():
    """A key pressed before the focus record of the press before it came in (a record
    arrives 5-22 ms after its input): its element is the field the press focused, once that
    record names it (waited for), or none - never the field focused before the press."""
    from types import SimpleNamespace

    from workprint.capture.linux.atspi import FOCUS_DELIVERY_NS
    from workprint.capture.linux.atspi_elements import AtspiElementSource

    bus = _ScriptedBus(_form_tree())
    rec = lambda t, path: SimpleNamespace(t_ns=t, sender=bus.BUS, path=path, role=None)  # noqa: E731
    records, coming = [], []   # received; received during a wait for them (the press's)

    def focus_after(pid, t, until):
        later = [r for r in records if r.t_ns > t]
        if not later and coming:
            records.extend(coming)
            coming.clear()
            later = [r for r in records if r.t_ns > t]
        return later[0] if later else None

    watcher = SimpleNamespace(a11y_address="unix:path=/nonexistent", available=lambda: True,
                              last_focus=lambda pid: records[-1] if records else None,
                              focus_at=lambda pid, t: next((r for r in records[::-1] if r.t_ns < t), None),
                              focus_after=focus_after)
    src = AtspiElementSource(watcher, lambda: 1)
    src._link = bus
    window = SimpleNamespace(geometry=Geometry(0, 0, 800, 600))

    def key_after_press(x, y, before, comes, *, pid=None, gap_ns=1_000_000):
        """The element of a key ``gap_ns`` after a press at (x, y), with ``before`` focused
        before the press and ``comes`` the record the press causes (received after the key)."""
        t = time.monotonic_ns()
        records[:] = [rec(t - 10**9, before)] if before else []
        coming[:] = [rec(t + gap_ns + 5_000_000, comes)] if comes else []
        src.at_point(bus.pid, window, x, y, time.monotonic() + 5)
        src.pressed(bus.pid if pid is None else pid, t)
        el = src.focused(bus.pid, time.monotonic() + 5, at_ns=t + gap_ns)
        return el and el.name

    entry, grid = (450, 260), (15, 55)
    assert key_after_press(*entry, "/b1", "/entry") == "File name"   # the press's record, waited for
    assert key_after_press(*entry, "/b1", None) is None               # none came: not the button
    assert key_after_press(*entry, "/b1", "/b2") is None              # another focus (the key's own?)
    assert key_after_press(*entry, "/entry", None) == "File name"     # a press on the focused field
    assert key_after_press(*entry, "/b1", "/entry", pid=0) is None    # the press was out of scope
    assert key_after_press(*entry, "/b1", "/entry", pid=1) is None    # ... or in another program
    # a press on what takes no focus (a panel): a record of it or around it (which the
    # press focused), else no element
    assert key_after_press(*grid, "/b1", "/filler") == ""
    assert key_after_press(*grid, "/b1", "/b2") is None
    assert key_after_press(*grid, "/filler", None) is None
    # a key long after the press, or a record in before the key: as always
    assert key_after_press(*entry, "/b1", None, gap_ns=FOCUS_DELIVERY_NS + 1) == "Button 1"
    t = time.monotonic_ns()
    records[:] = [rec(t - 10**9, "/b1"), rec(t + 500, "/entry")]
    coming.clear()
    src.at_point(bus.pid, window, *entry, time.monotonic() + 5)
    src.pressed(bus.pid, t)
    assert src.focused(bus.pid, time.monotonic() + 5, at_ns=t + 1000).name == "File name"
    # a press the source was not asked about (a browser's, a stale one): no element
    src.at_point(bus.pid, window, *entry, time.monotonic() + 5)
    src.pressed(bus.pid, t)
    src.pressed(bus.pid, t + 10)
    records[:] = [rec(t - 10**9, "/entry")]
    assert src.focused(bus.pid, time.monotonic() + 5, at_ns=t + 20) is None


def test_locator_prepares_a_recorded_window_that_took_the_focus():
    """A focus change to a recorded window lets the source learn its frames before the first
    press; a window that is not the recorded one at its centre (out of scope, covered) is
    never asked about."""
    from workprint.events import FocusEvent

    class Preparing(FakeSource):
        def prepare(self, pid, window, deadline):
            self.asked.append(("prepare", pid, window.window))

    src, got = Preparing(), []
    scope = {(50, 50): Win(11, "Editor"), (250, 250): Win(12, "Other")}
    loc = ElementLocator(src, deliver=got.append, window_at=lambda x, y: scope.get((x, y)),
                         window_pid=lambda w: {11: 111, 12: 112}.get(w))
    loc.start()
    t = time.monotonic_ns()
    loc.note_focus(FocusEvent(t, 11, app_id="Editor", pid=111, geometry=Geometry(0, 0, 100, 100)))
    wait_idle(loc)
    loc.note_focus(FocusEvent(t, 13, app_id="Vault", pid=113, geometry=Geometry(200, 200, 100, 100)))  # covered
    wait_idle(loc)
    loc.note_focus(FocusEvent(t, 14, app_id="Denied", pid=114, geometry=Geometry(400, 400, 100, 100)))  # no scope
    wait_idle(loc)
    loc.stop()
    assert src.asked == [("prepare", 111, 11)] and loc.stats()["prepares"] == 1
