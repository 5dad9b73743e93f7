"""Accessibility trees without a display: the pure rule of what a stored tree holds
(:func:`bound_tree`: showing nodes, password fields, bounds, redaction), the gate's part
(scope, redaction, repeats), the choice of the tree before each action, the stored form, and
the recorder with a scripted backend and a scripted tree source (what is asked, what is
stored, off by default)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from workprint.capture.a11y_tree import TreeTaker, TreeTarget
from workprint.capture.backend import WindowInfo
from workprint.capture.fake import FakeBackend
from workprint.capture.run import record_session, tree_target
from workprint.events import (A11yNode, A11yTreeEvent, Action, ButtonEvent, FocusEvent, Geometry, a11y_digest,
                              from_row, resolve_trees, to_row)
from workprint.actions.keyframes import trees_before
from workprint.export.common import Screen, tree_struct
from workprint.policy.a11y_tree import CUT, SHOWING, TreeBounds, bound_tree
from workprint.policy.gate import SafeguardGate
from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor
from workprint.store.forget import forget_span
from workprint.store.session import DataDir

EMAIL = "jane.roe@example.com"
HIDDEN = "hidden-panel-name"
SECRET_LABEL = "s3cr3t-under-the-password-field"
S = (SHOWING,)


def node(role, name="", kids=(), states=S, box=(0, 0, 10, 10)) -> A11yNode:
    return A11yNode(role, name, tuple(states), Geometry(*box) if box else None, tuple(kids))


def names(root: A11yNode | None) -> list[str]:
    return [n.name for n in root.walk()] if root is not None else []


def form() -> A11yNode:
    return node("frame", "Notes - Workbench", [
        node("push button", "Save", states=S + ("enabled", "focusable", "armed")),
        node("panel", HIDDEN, [node("push button", "Ghost")], states=("enabled",)),   # not showing
        node("password text", "Password", [node("label", SECRET_LABEL)], states=S + ("focused",)),
        node("text", "Qt password", states=S + ("password", "editable")),
        node("label", f"Mail {EMAIL}"),
    ])


@pytest.fixture(scope="module")
def redactor():
    return Redactor(username="alice", hostname="ws-alice-42")


# --- the pure rule ----------------------------------------------------------------------
def test_bound_tree_prunes_hidden_nodes_and_password_fields(redactor):
    root, n, truncated = bound_tree(form(), TreeBounds(), redactor.redact_title)
    kept = names(root)
    assert n == len(kept) == 5 and not truncated
    assert HIDDEN not in kept and "Ghost" not in kept                      # not showing: gone, with what is below
    assert SECRET_LABEL not in json.dumps(root.to_dict())                   # nothing below a password field
    pw = [x for x in root.walk() if x.role == "password text" or "password" in x.states]
    assert [x.name for x in pw] == ["", ""] and all(not x.children for x in pw)
    assert EMAIL not in json.dumps(root.to_dict()) and "<EMAIL_ADDRESS>" in root.children[-1].name
    save = root.children[0]
    assert save.states == ("enabled",) and save.box == Geometry(0, 0, 10, 10)  # kept states only
    assert bound_tree(node("frame", states=()))[0] is None                   # a root not showing: no tree


def test_bound_tree_bounds_nodes_depth_and_bytes():
    wide = node("list", "L", [node("list item", f"row {i}") for i in range(50)])
    root, n, truncated = bound_tree(wide, TreeBounds(max_nodes=10))
    assert n == 10 and truncated and names(root)[1:] == [f"row {i}" for i in range(9)]  # breadth first

    deep = node("frame", "0")
    for i in range(1, 30):
        deep = node("panel", str(i), [deep])
    root, n, truncated = bound_tree(deep, TreeBounds(max_depth=5))
    assert n == 6 and truncated

    root, n, truncated = bound_tree(wide, TreeBounds(max_bytes=1024))
    size = len(json.dumps(root.to_dict(), separators=(",", ":")).encode())
    assert truncated and size <= 1024 and n < 51
    assert bound_tree(wide, TreeBounds())[1:] == (51, False)

    cut = node("frame", "F", [node("table", "T", states=S + (CUT,))])        # the source stopped reading
    root, n, truncated = bound_tree(cut)
    assert truncated and n == 2 and CUT not in root.children[0].states

    page = node("frame", "Docs - Browser", [node("document web", "Docs", [
        node("link", "Home"), node("document web", "ads.example", [node("link", "Tracker")])])])
    root, n, _ = bound_tree(page)
    assert names(root) == ["Docs - Browser", "Docs", "Home", ""] and n == 4  # an iframe: nameless, empty

    long = node("label", "x" * 5000)
    assert len(bound_tree(long)[0].name) == 200


def test_tree_event_rows_and_repeats_round_trip():
    root = bound_tree(form())[0]
    full = A11yTreeEvent(10, "Workbench", root, 5, False, a11y_digest(root))
    again = A11yTreeEvent(20, "Workbench", None, 5, False, full.digest)
    orphan = A11yTreeEvent(30, "Workbench", None, 5, False, "0" * 32)
    rows = [to_row(e) for e in (full, again, orphan)]
    back = [from_row(*r) for r in rows]
    assert back[0] == full and back[1] == again
    resolved = resolve_trees(back)
    assert [(t.t_ns, t.root) for t in resolved] == [(10, root), (20, root)]  # an orphan repeat resolves to nothing


# --- the gate ---------------------------------------------------------------------------
POLICY = parse_policy('[scope]\nallow_apps = ["Workbench"]\n[capture]\na11y_tree = true\n', source="t.toml")
WORK = Geometry(0, 0, 160, 200)
CHAT = Geometry(160, 0, 160, 200)
WINDOWS = (WindowInfo(1, "Workbench", "workbench", "Notes - Workbench", WORK),
           WindowInfo(2, "Signal", "signal", "Signal", CHAT))


def focus(window: int, t: int = 1) -> FocusEvent:
    app = "Workbench" if window == 1 else "Signal"
    return FocusEvent(t, window, WINDOWS[window - 1].title, app, app.lower(), 4000 + window, app.lower(),
                      WINDOWS[window - 1].geometry)


def test_gate_stores_trees_of_the_recorded_window_in_front(redactor):
    gate = SafeguardGate(POLICY, redactor, windows=lambda: list(WINDOWS))
    raw = A11yTreeEvent(5, "Workbench", form())
    assert gate.a11y_tree(raw, 1) == []                      # no window yet: not recording
    gate.process(focus(1))
    [first] = gate.a11y_tree(raw, 1)
    assert first.root is not None and first.nodes == 5 and EMAIL not in json.dumps(first.root.to_dict())
    [repeat] = gate.a11y_tree(A11yTreeEvent(6, "Workbench", form()), 1)
    assert repeat.root is None and repeat.digest == first.digest
    assert gate.a11y_tree(raw, 2) == []                      # read from a window no longer in front
    gate.forget_trees()
    assert gate.a11y_tree(raw, 1)[0].root is not None        # after forget: whole again
    gate.process(focus(2, 2))                                # the denied app in front
    assert gate.a11y_tree(raw, 1) == [] and gate.a11y_tree(raw, 2) == []
    assert gate.trees["stored"] == 2 and gate.trees["repeated"] == 1 and gate.trees["dropped"] == 4


def test_tree_target_is_asked_only_for_the_recorded_window(redactor):
    backend = FakeBackend([], windows=WINDOWS, pids={1: 4001, 2: 4002})
    gate = SafeguardGate(POLICY, redactor, windows=backend.window_stack)
    target = tree_target(gate, backend)
    assert target() is None                                  # nothing in front yet
    gate.process(focus(1))
    assert target() == TreeTarget(1, 4001, "Workbench", WINDOWS[0])
    gate.pause("paused")
    assert target() is None
    gate.resume()
    gate.process(focus(2, 3))
    assert target() is None                                  # denied (not allowed): never asked


# --- the tree before each action ---------------------------------------------------------
def test_trees_before_takes_the_tree_since_the_previous_action():
    acts = [Action("click", 100, 110), Action("write", 200, 300), Action("click", 400, 410)]
    trees = [A11yTreeEvent(t, "A", node("frame")) for t in (50, 150, 160)]
    got = trees_before(acts, trees)
    assert [t.t_ns if t else None for t in got] == [50, 160, None]  # none since the write: none

    screen = Screen(200, 100)
    s = tree_struct(got[0], screen)
    assert s == {"app": "A", "nodes": 0, "truncated": False,
                 "root": {"role": "frame", "states": ["showing"], "bbox": [0.0, 0.0, 0.05, 0.1]}}


# --- the recorder, scripted --------------------------------------------------------------
class Source:
    """A scripted tree source: the form for window 1's process; records who was asked."""

    def __init__(self):
        self.asked: list[int] = []

    def tree(self, pid, window, bounds, deadline):
        self.asked.append(pid)
        return form()

    def close(self):
        pass


def record(tmp, redactor, policy, script):
    backend = FakeBackend(script, windows=WINDOWS, pids={1: 4001, 2: 4002})
    source = Source()
    stop = threading.Event()
    out = {}

    def run():
        out["result"] = record_session(tmp / "data", policy, backend=backend, stop=stop, frames=True,
                                       redactor=redactor, tree_source=source)

    th = threading.Thread(target=run)
    th.start()
    assert backend.finished.wait(20)
    time.sleep(0.9)  # the last input settles: a frame, then its tree
    stop.set()
    th.join(30)
    assert not th.is_alive() and out["result"].error is None
    return out["result"], source, tmp / "data"


def script():
    """The recorded window in front (its focus frame and tree), a click in it, then the
    denied window in front before that click settled: the click's settled frame asks for a
    tree while the denied window is in front."""
    return [(0.05, focus(1)), (0.5, ButtonEvent(0, True, 20, 20, "left")), (0.53, ButtonEvent(0, False, 20, 20, "left")),
            (0.7, focus(2)), (0.9, ButtonEvent(0, True, 200, 20, "left")), (0.93, ButtonEvent(0, False, 200, 20, "left"))]


def test_recorder_stores_redacted_trees_and_never_asks_out_of_scope(tmp_path, redactor):
    result, source, data = record(tmp_path, redactor, POLICY, script())
    assert result.stats.events.get("mouse_down") == 1        # the click in the recorded window was stored
    assert source.asked and set(source.asked) == {4001}      # the denied window's process: never asked
    with DataDir(data).open(result.session_id) as s:
        trees = list(s.events(["a11y_tree"]))
        stats = s.meta["stats"]["a11y_trees"]
    assert trees and trees[0].root is not None and trees[0].app == "Workbench"
    assert stats["apps_asked"] == ["Workbench"] and stats["stored"] == 1 and stats["taken"] >= 1
    assert stats["out_of_scope"] >= 2                        # at the start, and while the denied window was in front
    blob = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    for secret in (EMAIL, SECRET_LABEL, HIDDEN):
        assert secret.encode() not in blob
    label = b"Mail <EMAIL_ADDRESS>"   # a name only the tree holds
    assert label in blob
    # forget takes the trees of its span with it, irrecoverably
    forget_span(data, result.session_id, trees[0].t_ns - 1, trees[-1].t_ns + 1, settle_s=0)
    with DataDir(data).open(result.session_id) as s:
        assert list(s.events(["a11y_tree"])) == []
    assert label not in b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())


def test_trees_are_off_by_default(tmp_path, redactor):
    policy = parse_policy('[scope]\nallow_apps = ["Workbench"]\n', source="t.toml")
    assert policy.capture.a11y_tree is False
    result, source, data = record(tmp_path, redactor, policy, script())
    assert result.stats.events.get("mouse_down") == 1
    assert source.asked == []
    with DataDir(data).open(result.session_id) as s:
        assert list(s.events(["a11y_tree"])) == [] and s.meta["stats"]["a11y_trees"] is None


def test_policy_capture_section_is_validated():
    from workprint.errors import PolicyError
    from workprint.policy.model import A11Y_MAX_BYTES, A11Y_MAX_DEPTH, A11Y_MAX_NODES

    c = parse_policy("[capture]\na11y_tree = true\na11y_max_nodes = 50\n").capture
    assert (c.a11y_tree, c.a11y_max_nodes, c.a11y_max_depth, c.a11y_max_bytes) == (True, 50, A11Y_MAX_DEPTH, A11Y_MAX_BYTES)
    assert TreeBounds.from_policy(parse_policy("")) == TreeBounds(A11Y_MAX_NODES, A11Y_MAX_DEPTH, A11Y_MAX_BYTES)
    for text, says in (("a11y_tree = 1", "capture.a11y_tree: expected true or false"),
                       ("a11y_max_bytes = 10", "capture.a11y_max_bytes: must be between 1024 and 1048576, got 10"),
                       ("a11y_max_depth = 2.5", "capture.a11y_max_depth: expected an integer"),
                       ("a11y_nodes = 3", "capture.a11y_nodes: unknown key")):
        with pytest.raises(PolicyError, match="line 2: " + says):
            parse_policy(f"[capture]\n{text}\n")
