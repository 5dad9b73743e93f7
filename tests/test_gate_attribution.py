"""Keys the capture backend cannot attribute to a window pause the gate (pure)."""

from __future__ import annotations

import pytest

from workprint.events import KEYS_ATTRIBUTED, KEYS_UNATTRIBUTED, GapEvent, KeyEvent, MarkerEvent
from workprint.policy.gate import UNATTRIBUTABLE, SafeguardGate
from workprint.policy.redact_text import Redactor

from test_gate import MS, POLICY, chars, focus, typed


@pytest.fixture(scope="module")
def redactor():
    return Redactor(username="alice", hostname="ws-alice-42")


def grab(t, why="the keyboard is grabbed by another client"):
    return MarkerEvent(t, KEYS_UNATTRIBUTED, why)


def ungrab(t):
    return MarkerEvent(t, KEYS_ATTRIBUTED)


def feed(gate, events):
    out = []
    for e in events:
        out += gate.process(e)
    return out


def test_keys_between_the_markers_leave_only_a_gap(redactor):
    gate = SafeguardGate(POLICY, redactor)
    before, t = typed(10 * MS, "ls -l")
    secret, t2 = typed(t + 2000 * MS, "locker-pass-77")
    after, t3 = typed(t2 + 2000 * MS, "pwd")
    out = feed(gate, [focus(0, "XTerm"), *before, grab(t + 1000 * MS)])
    assert gate.status()["paused"] == UNATTRIBUTABLE
    assert gate.status()["unattributable"] == "the keyboard is grabbed by another client"
    assert gate.recording is False
    out += feed(gate, [*secret, ungrab(t2 + 1000 * MS), *after])
    out += gate.flush(t3 + 2000 * MS)
    assert chars(out) == "ls -lpwd"
    assert not any(isinstance(e, MarkerEvent) for e in out)  # the markers are not stored
    gaps = [e for e in out if isinstance(e, GapEvent)]
    assert [g.reason for g in gaps] == [UNATTRIBUTABLE]
    assert gaps[0].t_ns == t + 1000 * MS and gaps[0].duration_ns == t2 - t
    assert gate.status()["unattributable"] is None and gate.recording


def test_a_held_run_is_judged_when_the_grab_starts_not_joined_to_the_locker_keys(redactor):
    gate = SafeguardGate(POLICY, redactor)
    run, t = typed(10 * MS, "echo hi")
    out = feed(gate, [focus(0, "XTerm"), *run, grab(t)])
    assert chars(out) == "echo hi"


def test_a_user_pause_is_kept_when_the_keys_become_attributable(redactor):
    gate = SafeguardGate(POLICY, redactor)
    feed(gate, [focus(0, "XTerm")])
    gate.pause("paused", t_ns=5 * MS)
    feed(gate, [grab(10 * MS)])
    assert gate.status()["paused"] == "paused"           # the user's pause is not replaced
    feed(gate, [ungrab(20 * MS)])
    assert gate.status()["paused"] == "paused"           # and not lifted
    keys, _ = typed(30 * MS, "abc")
    assert chars(feed(gate, keys)) == ""


def test_an_idle_pause_becomes_unattributable_and_ends_with_it(redactor):
    gate = SafeguardGate(POLICY, redactor)
    feed(gate, [focus(0, "XTerm")])
    gate.pause("idle", t_ns=5 * MS)
    feed(gate, [grab(10 * MS)])
    assert gate.status()["paused"] == UNATTRIBUTABLE
    keys, t = typed(20 * MS, "secret-9")
    assert chars(feed(gate, keys)) == ""                  # input does not end this pause
    feed(gate, [ungrab(t)])
    after, _ = typed(t + 10 * MS, "ok")
    out = feed(gate, after) + gate.flush(t + 3000 * MS)
    assert chars(out) == "ok"


def test_a_password_prompt_open_when_the_grab_starts_is_closed(redactor):
    gate = SafeguardGate(POLICY, redactor, secure_input=lambda f: True)
    keys, t = typed(10 * MS, "hunter2")
    out = feed(gate, [focus(0, "XTerm"), *keys, grab(t)])
    out += gate.flush(t + 3000 * MS)
    assert chars(out) == ""
    pw = [e for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"]
    assert [e.down for e in pw] == [True, False]
