"""The Linux secure-input probe's routing: terminals, AT-SPI apps, browsers (pure: the
platform signals are stand-ins; tests/test_linux_tty.py and tests/test_atspi.py cover
them for real)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from workprint.capture.linux.atspi import ROLE_PASSWORD_TEXT, AtspiWatcher, FocusRecord
from workprint.capture.linux.secure_input import LinuxSecureInput
from workprint.events import FocusEvent, KeyEvent
from workprint.policy.gate import SafeguardGate
from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor


class Atspi:
    def __init__(self, answers):
        self.answers = answers

    def secret_focus(self, pid, before_ns=None, since_ns=None):
        return self.answers.get(pid)


class Terminal:
    prompt_reader = None

    def __init__(self):
        self.submits = 0

    def __call__(self, focus):
        return "terminal"

    def submitted(self):
        self.submits += 1


def focus(app, pid):
    return FocusEvent(0, 1, "t", app, app.lower(), pid, app.lower())


def test_accessibility_answers_for_apps_and_browsers():
    probe = LinuxSecureInput(terminal=Terminal(), atspi=Atspi({10: True, 11: False}))
    assert probe(focus("Chromium", 10)) is True
    assert probe(focus("Chromium", 11)) is False
    assert probe(focus("Gedit", 10)) is True


def test_a_browser_that_tells_nothing_fails_closed_other_apps_do_not():
    # A browser without its accessibility tree (no --force-renderer-accessibility) may be
    # showing a login form: unknown. A Tk or Xt app without AT-SPI has no such signal at
    # all; its keys are ordinary text (and still pass text redaction).
    for atspi in (None, Atspi({})):
        probe = LinuxSecureInput(terminal=Terminal(), atspi=atspi)
        assert probe(focus("Chromium", 10)) is None
        assert probe(focus("firefox", 10)) is None
        assert probe(focus("Workbench", 10)) is False


def test_terminals_go_to_the_terminal_probe_and_hear_of_enter():
    term = Terminal()
    probe = LinuxSecureInput(terminal=term, atspi=Atspi({10: False}))
    assert probe(focus("XTerm", 10)) == "terminal"
    probe.submitted()
    assert term.submits == 1


# -- the field the keys went to: AT-SPI's focus records by the time they came in ---------------
# (the real watcher's bookkeeping; its bus events are fed by hand with the times they came in)

MS = 1_000_000
PID = 4242
ROLE_TEXT = 61
GATE_POLICY = parse_policy("[scope]\nallow_apps = [\"Gtkform\"]\n", source="test.toml")
REDACTOR = Redactor(username="alice", hostname="ws-alice-42")


class FedWatcher(AtspiWatcher):
    def __init__(self):
        super().__init__()
        self._available = True

    def focus(self, t_ns: int, path: str, role: int | None = None) -> FocusRecord:
        """A focus event that came in at ``t_ns``; ``role`` None: still being resolved."""
        rec = FocusRecord(t_ns, ":1.4", path, PID)
        self._store(rec)
        if role is not None:
            self.resolve(rec, role)
        return rec

    def resolve(self, rec: FocusRecord, role: int) -> None:
        self._resolve(rec, replace(rec, role=role, secret=role == ROLE_PASSWORD_TEXT, resolved_ns=rec.t_ns))


def test_watcher_answers_for_the_field_focused_before_a_moment():
    w = FedWatcher()
    w.focus(100 * MS, "/a", ROLE_TEXT)
    b = w.focus(1_002 * MS, "/b")                      # the Tab at 1,000 ms moved focus on
    assert w.secret_focus(PID) is True                   # now: pending counts as secret
    assert w.secret_focus(PID, before_ns=1_000 * MS) is False
    assert w.secret_focus(PID, before_ns=1_000 * MS, since_ns=400 * MS) is False
    # keys that began 10 ms before the Tab: a focus event in after the Tab may still be the
    # one of the field they went to - any of those that counts as secret makes them secret
    assert w.secret_focus(PID, before_ns=1_000 * MS, since_ns=990 * MS) is True
    w.resolve(b, ROLE_TEXT)
    assert w.secret_focus(PID, before_ns=1_000 * MS, since_ns=990 * MS) is False
    w.focus(1_500 * MS, "/pw", ROLE_PASSWORD_TEXT)
    assert w.secret_focus(PID, before_ns=2_000 * MS) is True
    assert w.secret_focus(PID, before_ns=1_400 * MS) is False
    assert w.secret_focus(PID, before_ns=50 * MS) is True  # nothing before it: as now
    assert w.secret_focus(PID + 1, before_ns=2_000 * MS) is None  # another program


def test_a_focus_still_being_resolved_is_waited_for_not_taken_for_a_secret():
    """A key typed 3 ms after a click, judged while the clicked field's role is still being
    asked: the answer waits for the role (an ordinary field: not secret) instead of failing
    closed on it. A role that never comes counts as secret once the resolver's deadline is
    past, and a password field found meanwhile is secret at once."""
    w = FedWatcher()
    now = time.monotonic_ns()
    w.focus(now - 5_000 * MS, "/before", ROLE_TEXT)
    key_t = now - 3 * MS
    clicked = w.focus(now, "/clicked")                          # pending
    threading.Timer(0.03, w.resolve, (clicked, ROLE_TEXT)).start()
    t0 = time.monotonic()
    assert w.secret_focus(PID, before_ns=key_t, since_ns=key_t) is False
    assert 0.02 <= time.monotonic() - t0 < 0.5

    stuck_t = time.monotonic_ns() - int(0.45e9)                 # asked 450 ms ago, no answer yet
    w2 = FedWatcher()
    w2.focus(stuck_t - 5_000 * MS, "/before", ROLE_TEXT)
    w2.focus(stuck_t, "/stuck")
    t0 = time.monotonic()
    assert w2.secret_focus(PID, before_ns=stuck_t - MS, since_ns=stuck_t - MS) is True
    assert 0.05 <= time.monotonic() - t0 < 0.4                  # waited until the deadline, no longer

    w3 = FedWatcher()
    t = time.monotonic_ns()
    w3.focus(t - 5_000 * MS, "/before", ROLE_TEXT)
    w3.focus(t - 2 * MS, "/pw", ROLE_PASSWORD_TEXT)
    w3.focus(t, "/pending")
    t0 = time.monotonic()
    assert w3.secret_focus(PID, before_ns=t - 4 * MS, since_ns=t - 4 * MS) is True
    assert time.monotonic() - t0 < 0.01                         # known secret: no wait


def _gate(watcher: FedWatcher, clock: dict) -> SafeguardGate:
    probe = LinuxSecureInput(terminal=Terminal(), atspi=watcher)
    gate = SafeguardGate(GATE_POLICY, REDACTOR, secure_input=probe,
                         clock=lambda: clock["now"])
    gate.process(FocusEvent(0, 7, "Grounding Form", "Gtkform", "gtkform", PID, "gtkform"))
    return gate


def _keys(t0: int, text: str, step: int = 30 * MS, code0: int = 10):
    out, t = [], t0
    for ch in text:
        code = code0 + ord(ch) % 60
        out += [KeyEvent(t, True, code, ord(ch), ch, ch), KeyEvent(t + 5 * MS, False, code, ord(ch), ch, ch)]
        t += step
    return out, t


def _tab(t: int):
    return [KeyEvent(t, True, 23, 0xFF09, "Tab", None), KeyEvent(t + MS, False, 23, 0xFF09, "Tab", None)]


def _typed(out) -> str:
    return "".join(e.char or "" for e in out if isinstance(e, KeyEvent) and e.down and not e.redacted)


@pytest.mark.parametrize("next_field", [ROLE_TEXT, ROLE_PASSWORD_TEXT])
def test_a_tab_whose_focus_event_is_in_before_the_gate_judges_it_keeps_the_field_before(next_field):
    """The run typed into an ordinary field is kept when the Tab after it leads to a field
    whose focus event came in (and is still being resolved, or is a password field) before
    the gate judged the Tab (the grounding test lost 'quarterly report' this way in ~1 run
    of 5). What is typed into the next field is judged by that field."""
    w, clock = FedWatcher(), {"now": 0}
    gate = _gate(w, clock)
    w.focus(100 * MS, "/file-name", ROLE_TEXT)
    out = []
    keys, t = _keys(500 * MS, "quarterly report")
    for ev in keys:
        clock["now"] = ev.t_ns + MS
        out += gate.process(ev)
    tab_t = t + 300 * MS
    nxt = w.focus(tab_t + 2 * MS, "/next")                 # in 2 ms after the Tab, pending
    for ev in _tab(tab_t):
        clock["now"] = ev.t_ns + 5 * MS                     # the gate judges it 5 ms late
        out += gate.process(ev)
    w.resolve(nxt, next_field)
    more, t = _keys(tab_t + 400 * MS, "Zq7!w", code0=70)
    for ev in [*more, KeyEvent(t, True, 36, 0xFF0D, "Return", None)]:
        clock["now"] = ev.t_ns + MS
        out += gate.process(ev)
    out += gate.flush(t + 2_000 * MS)
    if next_field == ROLE_PASSWORD_TEXT:
        assert _typed(out) == "quarterly report"
        assert [e.down for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"] == [True, False]
    else:
        assert _typed(out) == "quarterly reportZq7!w"


def test_keys_typed_fast_into_a_password_field_whose_focus_event_came_after_the_tab_are_swallowed():
    """Fail closed: a click into a password field, keys typed within ms, then Tab - the
    field's focus event comes in only after the Tab was pressed (but before it is judged).
    The record before the Tab is the field before; the one after it may be the keys' own."""
    w, clock = FedWatcher(), {"now": 0}
    gate = _gate(w, clock)
    w.focus(100 * MS, "/user", ROLE_TEXT)
    out = []
    keys, t = _keys(1_000 * MS, "Q7x", step=8 * MS)        # typed ahead of the focus event
    for ev in keys:
        clock["now"] = ev.t_ns + MS
        out += gate.process(ev)
    tab_t = t
    w.focus(tab_t + 3 * MS, "/pw", ROLE_PASSWORD_TEXT)     # the click's focus event, late
    for ev in _tab(tab_t):
        clock["now"] = ev.t_ns + 6 * MS
        out += gate.process(ev)
    out += gate.flush(tab_t + 2_000 * MS)
    assert _typed(out) == ""
    assert [e.down for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"] == [True, False]
