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

    def at_point(self, pid, window, x, y, deadline):
        self.asked.append(("point", pid, x, y))
        time.sleep(self.delay)
        return ElementEvent(0, "push button", "Save") if time.monotonic() < deadline else None

    def focused(self, pid, deadline):
        self.asked.append(("focus", pid))
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
    assert [(e.t_ns, e.app, e.via) for e in got] == [(t + 1, "Editor", "point"), (t + 2, "Editor", "focus")]
    st = loc.stats()
    assert st["out_of_scope"] == 1 and st["found"] == 2 and st["apps_asked"] == ["Editor"]


def test_locator_slow_source_gives_no_element_and_a_full_queue_never_blocks():
    src, got = FakeSource(delay=0.08), []
    loc = locator(src, got, budget_s=0.03, queue_size=2)
    t0 = time.monotonic()
    accepted = [loc.request(ElementRequest(time.monotonic_ns(), "point", 1, 1)) for _ in range(20)]
    assert time.monotonic() - t0 < 0.05                         # request() never waits
    assert accepted.count(False) >= 15
    wait_idle(loc)
    time.sleep(0.3)
    loc.stop()
    assert got == []                                            # past the deadline: no element
    st = loc.stats()
    assert st["queue_full"] == accepted.count(False) and st["found"] == 0
    assert st["none"] + st["stale"] + st["late"] >= 1


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
