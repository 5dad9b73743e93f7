"""The safeguard gate on synthetic event streams (pure; the recorder wires it to X11)."""

from __future__ import annotations

import re

import pytest

from workprint.events import ButtonEvent, FocusEvent, GapEvent, KeyEvent, MarkerEvent, MoveEvent
from workprint.policy.gate import SafeguardGate
from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor

POLICY = parse_policy('''
[scope]
allow_apps = ["XTerm", "Workbench"]
allow_sites = ["*.corp.example.com"]
[pause]
hotkey = "ctrl+alt+p"
''', source="test.toml")

MS = 1_000_000


@pytest.fixture(scope="module")
def redactor():
    return Redactor(username="alice", hostname="ws-alice-42")


def focus(t, app, title="win", url=None, wid=1, pid=100):
    return FocusEvent(t, wid, title, app, app.lower(), pid, app.lower(), None, url)


def typed(t0: int, text: str, step=50 * MS, code0=10):
    out, t = [], t0
    for i, ch in enumerate(text):
        code = code0 + (ord(ch) % 60)
        out.append(KeyEvent(t, True, code, ord(ch), ch, ch))
        out.append(KeyEvent(t + 10 * MS, False, code, ord(ch), ch, ch))
        t += step
    return out, t


def run(gate, events, end_ns=None):
    out = []
    for e in events:
        out += gate.process(e)
    out += gate.flush(end_ns if end_ns is not None else events[-1].t_ns + 2_000 * MS)
    return out


def chars(events):
    return "".join(e.char or "" for e in events if isinstance(e, KeyEvent) and e.down)


def probed_gate(redactor, secret, lag_ns=MS):
    """A gate whose secure-input probe answers ``state["secret"]`` (change it to move
    focus between ordinary and secret fields), asked ``lag_ns`` after each event it
    processes (a recorder that keeps up: 1 ms)."""
    state = {"secret": secret, "now": 0}
    gate = SafeguardGate(POLICY, redactor, secure_input=lambda f: state["secret"],
                         clock=lambda: state["now"])
    process = gate.process

    def process_at_event_time(ev):
        state["now"] = max(state["now"], ev.t_ns + lag_ns)
        return process(ev)

    gate.process = process_at_event_time
    return gate, state


def tab(t, key="Tab"):
    sym = {"Tab": 0xFF09, "ISO_Left_Tab": 0xFE20, "KP_Tab": 0xFF89}[key]
    return [KeyEvent(t, True, 23, sym, key, None), KeyEvent(t + MS, False, 23, sym, key, None)]


def test_out_of_scope_app_leaves_only_a_gap(redactor):
    gate = SafeguardGate(POLICY, redactor)
    keys1, t = typed(10 * MS, "ls")
    secret_keys, t2 = typed(2_000 * MS, "private chat text")
    keys3, t3 = typed(6_000 * MS, "pwd")
    events = [focus(0, "XTerm", "shell"), *keys1,
              focus(1_000 * MS, "Signal", "Chat with Bob", wid=2),
              ButtonEvent(1_500 * MS, True, 10, 20, "left"), ButtonEvent(1_600 * MS, False, 10, 20, "left"),
              MoveEvent(1_700 * MS, 11, 21), *secret_keys,
              focus(5_000 * MS, "XTerm", "shell"), *keys3]
    out = run(gate, events)
    assert chars(out) == "lspwd"
    assert not any(isinstance(e, ButtonEvent) for e in out)
    assert not any(isinstance(e, FocusEvent) and e.app_id == "Signal" for e in out)
    assert "Bob" not in repr(out) and "private" not in repr(out)
    [gap] = [e for e in out if isinstance(e, GapEvent)]
    assert gap.reason == "out_of_scope" and gap.t_ns == 1_000 * MS and gap.duration_ns == 4_000 * MS


def test_builtin_denies_cannot_be_allowed_by_policy(redactor):
    policy = parse_policy('[scope]\nallow_apps = ["*"]\nallow_sites = ["*"]\n')
    gate = SafeguardGate(policy, redactor)
    k, _ = typed(1_100 * MS, "hunter2")
    out = run(gate, [focus(0, "KeePassXC", "Passwords.kdbx"), *k])
    assert out == [GapEvent(0, out[0].duration_ns, "out_of_scope")]
    gate = SafeguardGate(policy, redactor)
    k, _ = typed(100 * MS, "balance")
    out = run(gate, [focus(0, "Chromium", "My Bank", url="https://online.examplebank.com/acct"), *k])
    assert chars(out) == ""


def test_typed_secrets_are_masked_in_the_keystrokes(redactor):
    gate = SafeguardGate(POLICY, redactor)
    k, t = typed(10 * MS, "mail bob.smith@example.org now")
    out = run(gate, [focus(0, "XTerm"), *k])
    stored = chars(out)
    assert "bob.smith" not in stored and "example.org" not in stored
    assert stored.startswith("mail ") and stored.endswith(" now")
    masked = [e for e in out if isinstance(e, KeyEvent) and e.redacted == "EMAIL_ADDRESS"]
    assert masked and all(e.keycode == 0 and e.char is None for e in masked)
    assert "bob.smith@example.org" in gate.known_secrets()


def test_release_after_the_run_ended_stays_masked(redactor):
    gate = SafeguardGate(POLICY, redactor)
    k, t = typed(10 * MS, "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")
    last_release = k.pop()  # released only after Enter was pressed (key rollover)
    enter = KeyEvent(t, True, 36, 0xFF0D, "Return", None)
    out = run(gate, [focus(0, "XTerm"), *k, enter, last_release])
    assert "ghp_" not in chars(out)
    tail = out[-1]
    assert tail.redacted and tail.char is None and not tail.down


def test_terminal_password_prompt_leaves_one_placeholder(redactor):
    gate, state = probed_gate(redactor, False)
    k1, t = typed(10 * MS, "sudo ls")
    enter = lambda t: [KeyEvent(t, True, 36, 0xFF0D, "Return", None), KeyEvent(t + MS, False, 36, 0xFF0D, "Return", None)]
    events = [focus(0, "XTerm"), *k1, *enter(t)]
    out = [e for ev in events for e in gate.process(ev)]
    state["secret"] = True
    pw, t2 = typed(t + 500 * MS, "S3cr3t-pass!")
    for ev in pw:
        out += gate.process(ev)
    out += gate.process(KeyEvent(t2, True, 36, 0xFF0D, "Return", None))
    state["secret"] = False
    k3, _ = typed(t2 + 500 * MS, "ok")
    for ev in [KeyEvent(t2 + MS, False, 36, 0xFF0D, "Return", None), *k3]:
        out += gate.process(ev)
    out += gate.flush(t2 + 5_000 * MS)
    assert chars(out) == "sudo lsok"
    placeholders = [e for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"]
    assert [p.down for p in placeholders] == [True, False], "one press/release, no length or timing"
    assert "S3cr3t" not in repr(out)


def test_unknown_secure_input_state_fails_closed(redactor):
    gate = SafeguardGate(POLICY, redactor, secure_input=lambda f: None)
    k, _ = typed(10 * MS, "whatever")
    out = run(gate, [focus(0, "XTerm"), *k])
    assert chars(out) == ""


def test_pause_hotkey_and_command_leave_only_gaps(redactor):
    gate = SafeguardGate(POLICY, redactor)
    hot = lambda t: [KeyEvent(t, True, 33, ord("p"), "p", "p", ("ctrl", "alt")),
                     KeyEvent(t + MS, False, 33, ord("p"), "p", "p", ())]
    k1, _ = typed(2_000 * MS, "during pause")
    k2, _ = typed(6_000 * MS, "after")
    out = run(gate, [focus(0, "XTerm"), *hot(1_000 * MS), *k1, *hot(5_000 * MS), *k2])
    assert chars(out) == "after"
    [gap] = [e for e in out if isinstance(e, GapEvent)]
    assert gap.reason == "paused" and gap.duration_ns == 4_000 * MS
    assert not any(isinstance(e, KeyEvent) and e.key == "p" and "ctrl" in e.modifiers for e in out)
    after = out[out.index(gap) + 1]  # the window in front is stated again on resume
    assert isinstance(after, FocusEvent) and after.app_id == "XTerm" and after.t_ns == 5_000 * MS


def test_titles_and_urls_are_redacted_before_storage(redactor):
    gate = SafeguardGate(POLICY, redactor)
    out = run(gate, [focus(0, "XTerm", "alice@ws-alice-42: /home/alice/payroll"),
                     focus(10 * MS, "Chromium", "Ticket", url="https://jira.corp.example.com/x?token=ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")],
              end_ns=20 * MS)
    text = repr(out)
    assert "alice" not in text and "ws-alice-42" not in text and "ghp_" not in text
    assert any(isinstance(e, FocusEvent) and e.url and "jira.corp.example.com" in e.url for e in out)


def test_episodes_only_records_inside_tasks(redactor):
    policy = parse_policy('[jurisdiction]\nprofile = "eu"\n[scope]\nallow_apps = ["XTerm"]\n')
    gate = SafeguardGate(policy, redactor)
    k1, _ = typed(100 * MS, "before")
    out = [e for ev in [focus(0, "XTerm"), *k1] for e in gate.process(ev)]
    out += gate.tick(3_000 * MS)
    gate.clock = lambda: 3_000 * MS
    out += gate.task(True, "Reconcile invoices for bob@example.org")
    k2, _ = typed(3_100 * MS, "inside")
    for ev in k2:
        out += gate.process(ev)
    gate.clock = lambda: 6_000 * MS
    out += gate.task(False)
    k3, _ = typed(6_100 * MS, "after")
    for ev in k3:
        out += gate.process(ev)
    out += gate.flush(9_000 * MS)
    assert chars(out) == "inside"
    start = next(e for e in out if isinstance(e, MarkerEvent) and e.name == "task_start")
    assert start.text == "Reconcile invoices for <EMAIL_ADDRESS>"


def test_keys_typed_ahead_of_a_password_prompt_are_swallowed_too(redactor):
    gate, state = probed_gate(redactor, False)
    cmd, t = typed(10 * MS, "sudo ls")
    enter = KeyEvent(t, True, 36, 0xFF0D, "Return", None)
    out = [e for ev in [focus(0, "XTerm"), *cmd] for e in gate.process(ev)]
    state["secret"] = True  # the prompt is already up when the Return that started it is seen
    out += gate.process(enter)
    ahead, t2 = typed(t + 20 * MS, "hunter2x")
    early, late = ahead[:6], ahead[6:]
    state["secret"] = False
    for ev in early:        # typed before the prompt was up
        out += gate.process(ev)
    state["secret"] = True
    for ev in late:         # the prompt is up now
        out += gate.process(ev)
    out += gate.process(KeyEvent(t2, True, 36, 0xFF0D, "Return", None))
    out += gate.flush(t2 + 5_000 * MS)
    assert chars(out) == "sudo ls"
    assert "hunter" not in repr(out)
    assert [e.down for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"] == [True, False]
    assert sum(1 for e in out if isinstance(e, KeyEvent) and e.key == "Return" and e.down) == 2


def test_long_idle_pauses_and_input_resumes(redactor):
    policy = parse_policy('[scope]\nallow_apps = ["XTerm"]\n[pause]\nidle_minutes = 0.05\n')  # 3 s
    gate = SafeguardGate(policy, redactor)
    k1, t = typed(10 * MS, "a")
    out = [e for ev in [focus(0, "XTerm"), *k1] for e in gate.process(ev)]
    out += gate.tick(t + 1_000 * MS)
    assert gate.recording
    out += gate.tick(t + 5_000 * MS)
    assert not gate.recording and gate.status()["paused"] == "idle"
    k2, _ = typed(t + 9_000 * MS, "b")
    for ev in k2:
        out += gate.process(ev)
    out += gate.flush(t + 12_000 * MS)
    assert gate.recording and chars(out) == "ab"
    [gap] = [e for e in out if isinstance(e, GapEvent)]
    assert gap.reason == "idle" and gap.t_ns == k1[-1].t_ns + 3_000 * MS
    assert gap.t_ns + gap.duration_ns == k2[0].t_ns


def test_screen_lock_pauses_until_unlocked(redactor):
    gate = SafeguardGate(POLICY, redactor)
    out = [e for ev in [focus(0, "XTerm"), *typed(10 * MS, "x")[0]] for e in gate.process(ev)]
    out += gate.tick(1_000 * MS, locked=True)
    k, _ = typed(1_500 * MS, "typed at the lock screen")
    for ev in k:
        out += gate.process(ev)
    out += gate.tick(4_000 * MS, locked=False)
    out += gate.flush(5_000 * MS)
    assert chars(out) == "x"
    [gap] = [e for e in out if isinstance(e, GapEvent)]
    assert gap.reason == "locked" and gap.duration_ns == 3_000 * MS


def test_password_key_released_after_enter_leaves_nothing(redactor):
    gate, state = probed_gate(redactor, True)
    pw, t = typed(10 * MS, "Zq9!kept")
    last_release = pw.pop()  # rollover: let go only after Enter was pressed
    enter = KeyEvent(t, True, 36, 0xFF0D, "Return", None)
    out = [e for ev in [focus(0, "XTerm"), *pw, enter] for e in gate.process(ev)]
    state["secret"] = False
    nxt, _ = typed(t + 5 * MS, "ls")  # a new run is already being typed
    out += gate.process(nxt[0])
    out += gate.process(last_release)
    for ev in nxt[1:]:
        out += gate.process(ev)
    out += gate.flush(t + 5_000 * MS)
    keys = [e for e in out if isinstance(e, KeyEvent)]
    assert not any(k.keycode == last_release.keycode and k.char == "t" for k in keys)
    assert [k.down for k in keys if k.redacted == "PASSWORD"] == [True, False]
    assert chars(out) == "ls"


def test_password_ends_when_focus_moves_on_to_an_ordinary_field(redactor):
    """A web form: password field, then Tab to the next field - the platform says the
    field is ordinary again, so the next keys are ordinary text, and the Tab itself and
    every key typed while the field was secret leave nothing but the placeholder."""
    gate, state = probed_gate(redactor, True)
    pw, t = typed(10 * MS, "hunter2-Xy!")
    out = [e for ev in [focus(0, "XTerm"), *pw, *tab(t)] for e in gate.process(ev)]
    state["secret"] = None  # unknown for a moment: keeps swallowing (fail closed)
    k0, t = typed(t + 100 * MS, "z", code0=60)
    out += [e for ev in k0 for e in gate.process(ev)]
    state["secret"] = False  # the focus event of the next field has arrived
    k, t = typed(t + 100 * MS, "next field", code0=70)
    for ev in k:
        out += gate.process(ev)
    out += gate.flush(t + 5_000 * MS)
    assert chars(out) == "next field"
    placeholders = [e for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"]
    assert [p.down for p in placeholders] == [True, False]
    assert "hunter2" not in repr(out) and "'z'" not in repr(out)


def test_a_late_ordinary_answer_does_not_end_a_password(redactor):
    """The recorder fell behind (OCR of a prompt, a busy machine): the password keys are
    judged after the prompt was answered and the terminal is ordinary again. That late
    "ordinary" says nothing about when the keys were typed: they stay secret until Enter."""
    gate, state = probed_gate(redactor, True, lag_ns=400 * MS)
    pw, t = typed(10 * MS, "hu")
    out = [e for ev in [focus(0, "XTerm"), *pw] for e in gate.process(ev)]
    state["secret"] = False  # by the time the rest is judged, the prompt is gone
    rest, t = typed(t + 30 * MS, "nter2-Xy!", code0=60)
    out += [e for ev in rest for e in gate.process(ev)]
    out += gate.process(KeyEvent(t + 20 * MS, True, 36, 0xFF0D, "Return", None))
    out += gate.flush(t + 5_000 * MS)
    assert chars(out) == ""
    assert "nter2" not in repr(out) and "Xy!" not in repr(out)
    assert [e.down for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"] == [True, False]


class KeyTimeProbe:
    """A probe that, like the terminal probe with its key-time sampler, can answer for the
    moment a key was pressed (``before(focus, t_ns)``) as well as for now."""

    def __init__(self, secret_spans):
        self.spans = secret_spans  # [(from_ns, to_ns)] during which a prompt read a secret
        self.now_secret = False
        self.asked_at: list[int] = []

    def __call__(self, focus):
        return self.now_secret

    def before(self, focus, t_ns, since_ns=None):
        self.asked_at.append(t_ns)
        return any(a <= t_ns < b for a, b in self.spans)


def test_a_prompt_opened_and_answered_while_the_gate_lags_is_judged_by_key_time(redactor):
    """The recorder is 2 s behind: a command, then a password typed at a prompt that opened
    and closed again before the gate saw any of it. Asked now, the terminal is ordinary; the
    probe's key-time answer makes the password keys secret and keeps the command."""
    cmd, t = typed(10 * MS, "sudo -k")
    enter = KeyEvent(t + 20 * MS, True, 36, 0xFF0D, "Return", None)
    pw, t2 = typed(t + 300 * MS, "hunter2-Xy!", code0=60)
    enter2 = KeyEvent(t2 + 20 * MS, True, 36, 0xFF0D, "Return", None)
    after, t3 = typed(t2 + 400 * MS, "ls", code0=90)
    probe = KeyTimeProbe([(t + 250 * MS, t2 + 25 * MS)])
    now = {"t": 0}
    gate = SafeguardGate(POLICY, redactor, secure_input=probe, clock=lambda: now["t"])
    out = []
    for ev in [focus(0, "XTerm"), *cmd, enter, *pw, enter2, *after]:
        now["t"] = max(now["t"], ev.t_ns + 2_000 * MS)
        out += gate.process(ev)
    out += gate.flush(t3 + 5_000 * MS)
    assert chars(out) == "sudo -kls"
    assert "hunter2" not in repr(out) and "Xy!" not in repr(out)
    assert any(isinstance(e, KeyEvent) and e.redacted == "PASSWORD" for e in out)
    assert pw[0].t_ns in probe.asked_at  # the first password key was judged by its own time


def test_the_last_keys_of_a_prompt_closed_before_they_are_judged_stay_in_it(redactor):
    """The gate is 120 ms behind - less than VERDICT_FRESH_NS, so "ordinary now" would be
    believed: the prompt was answered and closed by the time its last keys are judged. The
    key-time answer keeps them in the secret: one placeholder, not a key of it stored, and
    the command after it kept. (With the terminal's key-time sampler attached, judging the
    password's last keys by the terminal as it was then split an echoed-prompt password
    into 2-3 placeholders, the keys between them held as text until the next one.)"""
    pw, t = typed(10 * MS, "hunter2-Xy!", step=30 * MS, code0=60)
    enter = KeyEvent(t, True, 36, 0xFF0D, "Return", None)
    after, t2 = typed(t + 400 * MS, "ls", code0=90)
    closed_ns = enter.t_ns + 5 * MS  # the program got Enter and left
    probe = KeyTimeProbe([(0, closed_ns)])
    now = {"t": 0}
    gate = SafeguardGate(POLICY, redactor, secure_input=probe, clock=lambda: now["t"])
    out = []
    for ev in [focus(0, "XTerm"), *pw, enter, *after]:
        now["t"] = max(now["t"], ev.t_ns + 120 * MS)
        probe.now_secret = now["t"] < closed_ns
        out += gate.process(ev)
    out += gate.flush(t2 + 5_000 * MS)
    assert chars(out) == "ls"
    assert "hunter2" not in repr(out) and "Xy!" not in repr(out)
    assert [e.down for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"] == [True, False]


def test_a_timely_ordinary_answer_ends_a_password(redactor):
    """The same keys judged as they come (1 ms late): the platform's "ordinary" is
    believed, as in a form whose focus moved on (the control for the test above)."""
    gate, state = probed_gate(redactor, True)
    pw, t = typed(10 * MS, "hu")
    out = [e for ev in [focus(0, "XTerm"), *pw] for e in gate.process(ev)]
    state["secret"] = False
    rest, t = typed(t + 30 * MS, "next", code0=60)
    out += [e for ev in rest for e in gate.process(ev)]
    out += gate.flush(t + 5_000 * MS)
    assert chars(out) == "next"


@pytest.mark.parametrize("key", ["Tab", "ISO_Left_Tab", "KP_Tab"])
def test_keys_typed_before_the_password_fields_focus_event_are_swallowed(redactor, key):
    """The focus event of a password field arrives 5-20 ms after the click or Tab that
    moved focus there: a short password typed in that window, then nothing more, must
    still leave nothing but the placeholder - and the field before it stays text, whichever
    key moved the focus (Shift+Tab, the keypad's Tab)."""
    gate, state = probed_gate(redactor, False)
    user, t = typed(10 * MS, "m.rossi")
    out = [e for ev in [focus(0, "Workbench"), *user, *tab(t, key)] for e in gate.process(ev)]
    pw, t2 = typed(t + 3 * MS, "Q7", step=2 * MS, code0=61)  # typed ahead of the focus event
    for ev in pw:
        out += gate.process(ev)
    state["secret"] = True  # the field's focus event is in now; no further key comes
    out += gate.tick(t2 + 1_500 * MS)
    out += gate.flush(t2 + 3_000 * MS)
    assert chars(out) == "m.rossi"
    assert "'Q'" not in repr(out) and "'7'" not in repr(out)
    assert [e.down for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"] == [True, False]


def test_late_focus_event_then_more_password_keys_leave_one_placeholder(redactor):
    gate, state = probed_gate(redactor, False)
    out = gate.process(focus(0, "Workbench"))
    out += [e for ev in [ButtonEvent(5 * MS, True, 10, 10, "left")] for e in gate.process(ev)]
    early, t = typed(8 * MS, "s3", step=3 * MS)
    for ev in early:
        out += gate.process(ev)
    state["secret"] = True
    out += gate.tick(t + 1_100 * MS)  # a pause in the middle of the password
    late, t = typed(t + 1_200 * MS, "cr3t!", code0=5)
    for ev in late:
        out += gate.process(ev)
    out += gate.process(KeyEvent(t, True, 36, 0xFF0D, "Return", None))
    out += gate.flush(t + 2_000 * MS)
    assert chars(out) == ""
    assert [e.down for e in out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"] == [True, False]
    assert [e.key for e in out if isinstance(e, KeyEvent) and e.key] == ["Return"]


def test_enter_that_starts_a_password_prompt_keeps_the_command_typed_before_it(redactor):
    gate, state = probed_gate(redactor, False)
    cmd, t = typed(10 * MS, "sudo apt update")
    out = [e for ev in [focus(0, "XTerm"), *cmd] for e in gate.process(ev)]
    state["secret"] = True  # sudo turned echo off before the gate saw the Return
    out += gate.process(KeyEvent(t, True, 36, 0xFF0D, "Return", None))
    out += gate.flush(t + 2_000 * MS)
    assert chars(out) == "sudo apt update"


def test_each_enter_tells_the_probe_that_a_prompt_was_answered(redactor):
    # A probe that reads prompts off the screen caches its verdict per line; Enter
    # (in a password or after an ordinary line) must tell it, or the next prompt on
    # the same terminal would be judged by the previous one.
    class ScreenProbe:
        def __init__(self):
            self.secret, self.submits = False, []

        def __call__(self, focus):
            return self.secret

        def submitted(self):
            self.submits.append(self.secret)

    probe = ScreenProbe()
    gate = SafeguardGate(POLICY, redactor, secure_input=probe)
    enter = lambda t: [KeyEvent(t, True, 36, 0xFF0D, "Return", None), KeyEvent(t + MS, False, 36, 0xFF0D, "Return", None)]
    name, t = typed(10 * MS, "bob")
    out = run(gate, [focus(0, "XTerm"), *name, *enter(t)], end_ns=t + 10 * MS)
    assert probe.submits == [False] and chars(out) == "bob"
    probe.secret = True
    pin, t = typed(t + 100 * MS, "4711")
    out = [e for ev in [*pin, *enter(t)] for e in gate.process(ev)]
    assert probe.submits == [False, True]
    assert "4711" not in chars(out) and [e.down for e in out if isinstance(e, KeyEvent) and e.redacted] == [True, False]
    out = [e for ev in tab(t + 100 * MS) for e in gate.process(ev)]
    assert probe.submits == [False, True], "Tab submits nothing"


def test_a_swallowed_secret_is_known_to_the_frame_masker_but_never_emitted(redactor):
    # A prompt that echoes shows the secret on screen: the frames' OCR masking must be
    # able to search for it, while the stored events hold only the placeholder.
    gate, state = probed_gate(redactor, True)
    pw, t = typed(10 * MS, "pin-4711x")
    bs = [KeyEvent(t, True, 22, 0xFF08, "BackSpace", None), KeyEvent(t + MS, False, 22, 0xFF08, "BackSpace", None)]
    out = [e for ev in [focus(0, "XTerm"), *pw, *bs] for e in gate.process(ev)]
    assert gate.known_secrets() == ["pin-4711"], "the open secret, as typed (BackSpace applied)"
    out += gate.process(KeyEvent(t + 5 * MS, True, 36, 0xFF0D, "Return", None))
    assert gate.known_secrets() == ["pin-4711"], "still known after Enter, for frames not yet masked"
    assert "4711" not in chars(out) and "4711" not in repr(out)


def test_known_secrets_are_found_by_the_time_of_the_frame_not_of_the_masking(redactor):
    # A frame can wait in the OCR backlog for minutes: it must still be masked for the
    # values typed around the time it was grabbed.
    clock = {"now": 0}
    gate = SafeguardGate(POLICY, redactor, clock=lambda: clock["now"])
    k, t = typed(10 * MS, "mail bob.smith@example.org now")
    run(gate, [focus(0, "XTerm"), *k])
    clock["now"] = t + 600_000 * MS  # ten minutes later, the backlog reaches the frame
    assert gate.known_secrets() == []
    assert "bob.smith@example.org" in gate.known_secrets(at_ns=t + 500 * MS)
    assert gate.known_secrets(at_ns=t + 300_000 * MS) == []


def test_a_value_still_held_in_a_typing_run_is_known_to_the_frame_masker(redactor):
    # A run is held until it ends, but its characters are on screen already: a frame
    # masked meanwhile must know the secrets in it (judged as the gate will judge them).
    gate = SafeguardGate(POLICY, redactor)
    k, _ = typed(10 * MS, "key AKIAIOSFODNN7EXAMPLQ")
    out = [e for ev in [focus(0, "XTerm"), *k] for e in gate.process(ev)]
    assert gate.holding and not [e for e in out if isinstance(e, KeyEvent)], "the run is still held"
    assert "AKIAIOSFODNN7EXAMPLQ" in gate.known_secrets()
    ordinary, _ = typed(10 * MS, "plain words only")
    gate2 = SafeguardGate(POLICY, redactor)
    for ev in [focus(0, "XTerm"), *ordinary]:
        gate2.process(ev)
    assert gate2.known_secrets() == []


@pytest.mark.parametrize("shown_as", ["itself", "with-spaces", "one-glyph-misread"])
def test_a_secret_shown_in_a_title_or_a_name_is_replaced_there_too(redactor, shown_as):
    # A password swallowed into its placeholder, and a value the text rules redacted, can
    # be shown by the app afterwards: in its window title, in a label's accessible name (an
    # element clicked, a node of a stored tree). Those are stored redacted with the values the
    # gate knows, matched as loosely as the frames' masking matches them.
    from workprint.events import A11yNode, A11yTreeEvent, ElementEvent

    secret, typed_value = "Tr0ub4dor-Quay", "password=hunter2-vault"
    gate, state = probed_gate(redactor, True)
    pw, t = typed(10 * MS, secret)
    out = [e for ev in [focus(0, "Workbench"), *pw] for e in gate.process(ev)]
    out += gate.process(KeyEvent(t, True, 36, 0xFF0D, "Return", None))
    state["secret"] = False
    line, t = typed(t + 100 * MS, typed_value, code0=5)
    out += [e for ev in line for e in gate.process(ev)]
    out += gate.process(KeyEvent(t, True, 36, 0xFF0D, "Return", None))
    assert secret not in chars(out) and "hunter2-vault" not in chars(out)   # the key stream: as before

    shown = {"itself": secret, "with-spaces": "Tr0ub4dor - Quay",
             "one-glyph-misread": "Tr0ub4d0r-Quay"}[shown_as]
    [title] = [e for e in gate.process(focus(t + 200 * MS, "Workbench", title=f"Welcome {shown} | notes"))
               if isinstance(e, FocusEvent)]
    click = ButtonEvent(t + 300 * MS, True, 10, 10, "left")
    gate.process(click)
    gate.process(ButtonEvent(t + 350 * MS, False, 10, 10, "left"))
    [el] = gate.element(ElementEvent(click.t_ns, "label", f"Your key: {shown}", text="hunter2-vault"))
    tree = A11yNode("frame", "Workbench", ("showing",), None, (
        A11yNode("label", f"saved {shown}", ("showing",), None, ()),
        A11yNode("label", "vault hunter2-vault", ("showing",), None, ()),
        A11yNode("push button", "Save", ("showing",), None, ())))
    [stored] = gate.a11y_tree(A11yTreeEvent(t + 400 * MS, "Workbench", tree), 1)
    texts = [title.title, el.name, el.text, *(n.name for n in stored.root.walk())]
    for text in texts:
        assert "Tr0ub4d" not in text and "hunter2" not in text, texts
    assert title.title == "Welcome <SECRET> | notes" and el.name == "Your key: <SECRET>"
    assert [n.name for n in stored.root.walk()] == ["Workbench", "saved <SECRET>", "vault <SECRET>", "Save"]


@pytest.mark.parametrize("encoded", ["plain", "percent", "plus-for-space"])
def test_a_secret_the_gate_knows_is_replaced_in_urls_whatever_their_names(redactor, encoded):
    # A login form sent with GET puts the password field's value into the URL under the
    # field's own name (here "p", "x" and a path segment, which no credential-name rule
    # knows); the page's URL is stored with the focus event and the element. The values the
    # gate swallowed or redacted are replaced there too, after decoding.
    from workprint.events import ElementEvent

    secret = "Tr0ub4dor Quay!"
    gate, state = probed_gate(redactor, True)
    app = "Chromium"
    site = "https://intra.corp.example.com"
    out = [e for e in gate.process(focus(0, app, url=f"{site}/login")) if isinstance(e, FocusEvent)]
    assert out and out[0].url == f"{site}/login"    # the browser and site are in scope
    pw, t = typed(10 * MS, secret)
    out = [e for ev in pw for e in gate.process(ev)]
    out += gate.process(KeyEvent(t, True, 36, 0xFF0D, "Return", None))
    assert secret not in chars(out) and any(getattr(e, "redacted", None) == "PASSWORD" for e in out)
    state["secret"] = False
    value = {"plain": secret, "percent": "Tr0ub4dor%20Quay%21", "plus-for-space": "Tr0ub4dor+Quay%21"}[encoded]
    urls = [f"{site}/login?user=ann&p={value}&next=%2Fhome",
            f"{site}/u/{value.replace('+', '%20')}/done",
            f"{site}/app#/welcome?x={value}"]
    stored = []
    for i, url in enumerate(urls):
        [ev] = [e for e in gate.process(focus(t + (i + 1) * 100 * MS, app, title="Portal", url=url))
                if isinstance(e, FocusEvent)]
        stored.append(ev.url)
    click = ButtonEvent(t + 900 * MS, True, 10, 10, "left")
    gate.process(click)
    gate.process(ButtonEvent(t + 950 * MS, False, 10, 10, "left"))
    [el] = gate.element(ElementEvent(click.t_ns, "link", "Home", url=urls[0]))
    stored.append(el.url)
    for url in stored:
        assert "Tr0ub4d" not in url and "Quay" not in url, stored
    assert stored[0] == f"{site}/login?user=ann&p=<SECRET>&next=%2Fhome"
    assert stored[1] == f"{site}/u/<SECRET>/done"
    assert stored[2] == f"{site}/app#/welcome?x=<SECRET>"


@pytest.mark.parametrize("secret", ["ab/Tr0ub4dor&Qu=y9", "x7/Kestrel/Harbor",
                                    "Gale;7#Morrow?sk"])
def test_a_known_value_with_url_separators_in_it_is_masked_whole(redactor, secret):
    # Put into a path, a route or a query unencoded, a value with "/", "&", "=", "#", ";"
    # or "?" in it falls into pieces; each alone is too short or too inner for the
    # per-piece match (a middle piece is neither prefix nor suffix of the value).
    gate, state = probed_gate(redactor, True)
    app, site = "Chromium", "https://intra.corp.example.com"
    gate.process(focus(0, app, url=f"{site}/login"))
    pw, t = typed(10 * MS, secret)
    out = [e for ev in pw for e in gate.process(ev)]
    out += gate.process(KeyEvent(t, True, 36, 0xFF0D, "Return", None))
    assert secret not in chars(out) and any(getattr(e, "redacted", None) == "PASSWORD" for e in out)
    state["secret"] = False
    pieces = [p for p in re.split(r"[/&=;#?]", secret) if p]
    urls = [f"{site}/u/{secret}/done", f"{site}/app#/welcome/{secret}/x",
            f"{site}/find?q={secret}&page=2"]
    for i, url in enumerate(urls):
        [ev] = [e for e in gate.process(focus(t + (i + 1) * 100 * MS, app, title="Portal", url=url))
                if isinstance(e, FocusEvent)]
        assert "<SECRET>" in ev.url, ev.url
        left = ev.url.replace(site, "")
        assert not [p for p in pieces if len(p) >= 2 and p in left], (url, ev.url)
        assert left.startswith(url.replace(site, "")[:3]), ev.url   # the rest is kept
    # a URL without the value is stored as it is
    [ev] = [e for e in gate.process(focus(t + 900 * MS, app, title="Portal",
                                          url=f"{site}/u/ann/done?page=2#top"))
            if isinstance(e, FocusEvent)]
    assert ev.url == f"{site}/u/ann/done?page=2#top"
