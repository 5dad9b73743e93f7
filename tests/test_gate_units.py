"""The gate judges the unit the user composed: pauses, clicks, chords and long lines do not
split it, lines are judged with the lines before them (pure; synthetic event streams)."""

from __future__ import annotations

import pytest

from workprint.events import ButtonEvent, FocusEvent, KeyEvent, ScrollEvent
from workprint.policy import gate as gate_mod
from workprint.policy.gate import SafeguardGate
from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor

POLICY = parse_policy('[scope]\nallow_apps = ["XTerm", "Workbench"]\n', source="t.toml")
MS = 1_000_000


@pytest.fixture(scope="module")
def redactor():
    return Redactor(username="alice", hostname="ws-alice-42")


class Feed:
    """Drives a gate with typed keys on a clock; collects what it releases."""

    def __init__(self, redactor, secure=None, app="XTerm"):
        self.gate = SafeguardGate(POLICY, redactor, secure_input=secure)
        self.t = 0
        self.out = []
        self.send(FocusEvent(0, 1, "win", app, app.lower(), 100, app.lower(), None, None))

    def send(self, ev):
        self.out += self.gate.process(ev)
        return self

    def key(self, name, char=None, mods=(), code=None):
        code = code if code is not None else 100 + sum(map(ord, name)) % 100
        self.t += 40 * MS
        self.send(KeyEvent(self.t, True, code, 0, name, char, tuple(mods)))
        self.t += 10 * MS
        return self.send(KeyEvent(self.t, False, code, 0, name, char, tuple(mods)))

    def text(self, s):
        for c in s:
            if c.isupper():
                self.t += 5 * MS
                self.send(KeyEvent(self.t, True, 50, 0, "Shift_L", None))
            self.key(c, c, ("shift",) if c.isupper() else (), code=10 + ord(c) % 90)
            if c.isupper():
                self.send(KeyEvent(self.t + MS, False, 50, 0, "Shift_L", None, ("shift",)))
        return self

    def enter(self):
        return self.key("Return")

    def pause(self, seconds):
        self.t += int(seconds * 1e9)
        self.out += self.gate.tick(self.t)
        return self

    def click(self):
        self.t += 100 * MS
        self.send(ButtonEvent(self.t, True, 50, 50, "left"))
        return self.send(ButtonEvent(self.t + 50 * MS, False, 50, 50, "left"))

    def done(self):
        self.out += self.gate.flush(self.t + 5_000 * MS)
        return self

    @property
    def stored(self):
        return "".join(e.char or "" for e in self.out if isinstance(e, KeyEvent) and e.down and not e.redacted)


def no_part(stored: str, secret: str):
    parts = [p for p in secret.replace(" ", "-").replace("=", "-").split("-") if len(p) >= 4] or [secret]
    assert not any(p in stored for p in parts), (stored, secret)


# -- pauses -------------------------------------------------------------------------------------

@pytest.mark.parametrize("head,tail,pause", [
    ("password=Zk8q", "-vault-Qm3", 1.5),
    ("export GITHUB_TOKEN=ghp_Q3xr7TmLk2Vw9H", "c4Nb6Yp1Zd8Fs5Gj0Ka2Lq", 3.0),
    ("pay 4539 5787", " 6362 1486", 12.0),
    ("id AKIAQYLP", "MN5HHHFPZAM2", 60.0),
])
def test_a_secret_split_by_a_pause_is_judged_whole(redactor, head, tail, pause):
    f = Feed(redactor).text("echo start ").text(head).pause(pause)
    assert f.stored == "" and f.gate.holding, "nothing of the unit is released at a pause"
    f.text(tail).enter().done()
    secret = (head + tail).split(" ", 1)[-1].split("=", 1)[-1]
    no_part(f.stored, secret)
    assert f.stored.startswith("echo start")


def test_a_pause_still_asks_the_secure_input_probe_once(redactor):
    calls = {"n": 0, "secret": False}

    def probe(_):
        calls["n"] += 1
        return calls["secret"]

    f = Feed(redactor, secure=probe).text("s3cr")
    calls["secret"] = True  # the password field's focus event came in
    before = calls["n"]
    f.pause(1.5)
    assert calls["n"] == before + 1
    f.pause(3).pause(3)
    assert calls["n"] == before + 1, "one probe per idle stretch"
    f.text("et!").enter().done()
    assert f.stored == ""
    assert [e.down for e in f.out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"] == [True, False]


# -- long lines ---------------------------------------------------------------------------------

@pytest.mark.parametrize("secret", ["ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq", "4539 5787 6362 1486",
                                    "password=Rt5-Kp9-Wq2x"])
def test_a_secret_across_the_old_run_limit_is_judged_whole(redactor, secret):
    filler = "lorem ipsum dolor " * 14   # 252 keys: the secret straddles key event 512
    f = Feed(redactor).text(filler + secret + " end").enter().done()
    no_part(f.stored, secret.split("=")[-1])
    assert f.stored.startswith("lorem ipsum") and f.stored.endswith(" end")


@pytest.mark.parametrize("secret", ["ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq", "4539 5787 6362 1486",
                                    "password=Rt5-Kp9-Wq2x"])
def test_a_secret_across_the_unit_cap_is_masked_on_both_sides(redactor, secret, monkeypatch):
    monkeypatch.setattr(gate_mod, "MAX_UNIT_KEYS", 400)
    for offset in (0, 5, 12, 20):   # where in the secret the cut falls
        f = Feed(redactor).text("ab " * ((400 - 2 * offset) // 6) + "q" * (offset % 3) + " ")
        f.text(secret + " tail").enter().done()
        no_part(f.stored, secret.split("=")[-1])
        assert f.stored.endswith(" tail") and f.stored.startswith("ab ab")


def test_a_unit_holds_at_most_the_cap(redactor, monkeypatch):
    monkeypatch.setattr(gate_mod, "MAX_UNIT_KEYS", 300)
    f = Feed(redactor).text("word " * 200)
    assert len(f.gate._run) < 300 and f.stored.startswith("word word")


# -- clicks, chords, Tab ------------------------------------------------------------------------

@pytest.mark.parametrize("first,second", [
    ("Xq7vaultZ", "password=Rk4-"), ("Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq", "token ghp_Q3xr7TmLk2Vw9"),
    ("6362 1486", "pay 4539 5787 ")])
def test_a_click_inside_a_line_does_not_split_it(redactor, first, second):
    f = Feed(redactor).text(first).click()
    assert f.stored == ""
    f.text(second).enter().done()
    no_part(f.stored, first)
    no_part(f.stored, second.split(" ", 1)[-1].split("=")[-1])
    assert any(isinstance(e, ButtonEvent) for e in f.out), "the click itself is stored at once"


def test_scrolls_and_chords_do_not_end_a_unit(redactor):
    f = Feed(redactor).text("password=Wq2")
    f.send(ScrollEvent(f.t + MS, 10, 10, 0, -1))
    f.key("Left", mods=("ctrl",)).key("End").text("-Zt9x").enter().done()
    no_part(f.stored, "Wq2-Zt9x")


def test_tab_into_a_password_field_swallows_only_that_field(redactor):
    state = {"secret": False}
    f = Feed(redactor, secure=lambda _: state["secret"], app="Workbench").text("m.rossi").key("Tab")
    f.text("Q7")            # typed ahead of the password field's focus event
    state["secret"] = True
    f.text("x!k9").enter().done()
    assert f.stored == "m.rossi"
    assert [e.down for e in f.out if isinstance(e, KeyEvent) and e.redacted == "PASSWORD"] == [True, False]


def test_a_click_into_a_password_field_keeps_the_field_before(redactor):
    state = {"secret": False}
    f = Feed(redactor, secure=lambda _: state["secret"], app="Workbench").text("Bob Miller").click()
    state["secret"] = True
    f.text("hunter2-Xy").enter().done()
    assert f.stored == "Bob Miller" and "hunter" not in repr(f.out)


# -- lines judged together ----------------------------------------------------------------------

PEM = ["-----BEGIN RSA PRIVATE KEY-----",
       "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi4mJ5K2vF8GqWnE5dLkR1tYcXp",
       "Qw8ZrT4uN6hJ2mK9sLx3vB7yC1fD5gH0jE4kA6lO2pI9uY8tR3eW5qZ7xV1cN4b",
       "Zm9v", "-----END RSA PRIVATE KEY-----"]
OPENSSH = ["-----BEGIN OPENSSH PRIVATE KEY-----",
           "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
           "QyNTUxOQAAACBm7xQ2k9Lr4vT8cW3nY6pH1sJ0dF5gB2aZ7eK4uM9xRwAAAJiq3Fz8qt",
           "xc/AAAAAtzc2g", "-----END OPENSSH PRIVATE KEY-----"]
CERT = ["-----BEGIN CERTIFICATE-----", "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ",
        "RTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYD", "-----END CERTIFICATE-----"]


@pytest.mark.parametrize("block", [PEM, OPENSSH, CERT], ids=["rsa", "openssh", "cert"])
@pytest.mark.parametrize("pause", [0, 2.0])
def test_a_key_block_typed_line_by_line_is_masked_to_its_end(redactor, block, pause):
    f = Feed(redactor).text("cat > k.pem").enter()
    for line in block:
        f.text(line[:10]).pause(pause).text(line[10:]).enter()
    f.text("ls after").enter().done()
    for line in block[1:-1]:
        no_part(f.stored, line[:12])
        no_part(f.stored, line[-8:])
    assert "BEGIN" not in f.stored and "END" not in f.stored
    assert f.stored == "cat > k.pemls after"


def test_block_state_is_per_window(redactor):
    f = Feed(redactor).text(PEM[0]).enter()
    f.send(FocusEvent(f.t + MS, 2, "other", "Workbench", "workbench", 101, "wb", None, None))
    f.text("plain words").enter()
    f.send(FocusEvent(f.t + MS, 1, "win", "XTerm", "xterm", 100, "xterm", None, None))
    f.text(PEM[1]).enter().done()
    assert f.stored == "plain words"


@pytest.mark.parametrize("lines,secrets,kept", [
    (["DB_HOST=db1", "DB_PASSWORD=Wq2x9", "STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
     ["Wq2x9", "4eC39HqLyjWD"], ["DB_HOST=db1", "DB_PASSWORD=", "STRIPE_KEY="]),
    (['TLS_KEY="MIIEowIBAAKCAQEA3Tz2', "Qw8ZrT4uN6hJ2mK9", 'Zm9v"', "PORT=8080"],
     ["MIIEowIBAAKCAQEA3Tz2", "Qw8ZrT4uN6hJ2mK9", "Zm9v"], ["TLS_KEY=", "PORT=8080"]),
    (["export SESSION_SALT=k3", "export APP_ID=9f3kQ2pLm9Zx7Rt4wV"], ["k3", "9f3kQ2pLm9Zx7Rt4wV"],
     ["export SESSION_SALT=", "export APP_ID="]),
])
def test_env_blocks(redactor, lines, secrets, kept):
    f = Feed(redactor)
    for line in lines:
        f.text(line).enter()
    f.done()
    for s in secrets:
        assert s not in f.stored, (s, f.stored)
    for k in kept:
        assert k in f.stored


def test_a_held_unit_is_known_to_the_frame_masker(redactor):
    f = Feed(redactor).text("token ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq")
    assert "ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq" in f.gate.known_secrets()
    assert f.stored == ""
