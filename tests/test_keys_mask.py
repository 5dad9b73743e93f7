"""Key events behind redacted text are masked so stored keystrokes cannot spell a secret."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from workprint.events import KeyEvent
from workprint.policy.keys import mask_typing_run
from workprint.policy.redact_text import Redactor


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(username=None, hostname=None)


class Typist:
    """Builds key events like the X11 backend: press/release, Shift for upper case."""

    def __init__(self) -> None:
        self.events: list[KeyEvent] = []
        self.labels: list[str] = []   # per event: "secret" / "plain"
        self.t = 0

    def _ev(self, down: bool, code: int, key: str, char: str | None, label: str,
            mods: tuple[str, ...] = ()) -> None:
        self.t += 1000
        self.events.append(KeyEvent(self.t, down, code, 0, key, char, mods))
        self.labels.append(label)

    def char(self, c: str, label: str) -> None:
        code = 10 + ord(c.lower()) % 200
        shift = c.isupper() or c in '~!@#$%^&*()_+{}|:"<>?'
        if shift:
            self._ev(True, 50, "Shift_L", None, label)
        self._ev(True, code, c, c, label, ("shift",) if shift else ())
        self._ev(False, code, c, c, label, ("shift",) if shift else ())
        if shift:
            self._ev(False, 50, "Shift_L", None, label, ("shift",))

    def text(self, s: str, label: str) -> None:
        for c in s:
            self.char(c, label)

    def backspace(self, label: str) -> None:
        self._ev(True, 22, "BackSpace", None, label)
        self._ev(False, 22, "BackSpace", None, label)


def stored_chars(events: list[KeyEvent]) -> str:
    return "".join(e.char for e in events if e.down and e.char and e.redacted is None)


def is_subsequence(needle: str, hay: str) -> bool:
    it = iter(hay)
    return all(c in it for c in needle)


def test_password_assignment_is_masked_with_typo(redactor):
    ty = Typist()
    ty.text("echo password=hun", "plain")
    ty.char("x", "plain")
    ty.backspace("plain")
    ty.text("Ter2 ok", "plain")
    out, text = mask_typing_run(ty.events, redactor)
    assert text == "echo password=<PASSWORD> ok"
    assert stored_chars(out) == "echo password= ok"
    masked = [e for e in out if e.redacted]
    assert masked and all(e.redacted == "PASSWORD" and e.keycode == 0 and e.key == ""
                          and e.char is None and e.modifiers == () for e in masked)
    # the typo 'x', its BackSpace and the Shift for 'T' are masked too
    assert not any(e.key in ("BackSpace", "Shift_L") for e in out if e.redacted is None)
    assert len(out) == len(ty.events)
    assert [e.t_ns for e in out] == [e.t_ns for e in ty.events]
    assert [e.down for e in out] == [e.down for e in ty.events]


def test_secret_typed_then_erased_is_masked(redactor):
    ty = Typist()
    token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    ty.text("tok " + token, "plain")
    for _ in range(len(token)):
        ty.backspace("plain")
    ty.text("later", "plain")
    out, text = mask_typing_run(ty.events, redactor)
    assert text == "tok later"
    assert not is_subsequence(token[4:], stored_chars(out))
    assert stored_chars(out) == "tok later"


def test_plain_typing_untouched(redactor):
    ty = Typist()
    ty.text("make test && git push", "plain")
    ty.backspace("plain")
    out, text = mask_typing_run(ty.events, redactor)
    assert out == ty.events and text == "make test && git pus"


def test_chords_do_not_type(redactor):
    ty = Typist()
    ty.text("abc", "plain")
    ty._ev(True, 54, "c", "c", "plain", ("ctrl",))
    out, text = mask_typing_run(ty.events, redactor)
    assert text == "abc"


PLAIN = st.text(alphabet=string.ascii_lowercase + " ", min_size=0, max_size=20)
TOKEN_BODY = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=36, max_size=36)
PASSWORD = st.text(alphabet=string.ascii_letters + string.digits + "!#%&*", min_size=6,
                   max_size=16).filter(lambda p: any(c.isdigit() for c in p)
                                       and any(c.isupper() for c in p))


@st.composite
def runs(draw):
    kind = draw(st.sampled_from(["token", "password", "email"]))
    if kind == "token":
        key, secret = "", "ghp_" + draw(TOKEN_BODY)
    elif kind == "password":
        key, secret = "password=", draw(PASSWORD)
    else:
        user = draw(st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=10))
        key, secret = "", f"{user}.{draw(st.sampled_from(['x', 'qa', 'ops']))}@example.org"
    prefix, suffix = draw(PLAIN), draw(PLAIN)
    typos = draw(st.lists(st.tuples(st.integers(0, 200), st.sampled_from("zq!9")),
                          max_size=3))
    return prefix, key, secret, suffix, dict(typos)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
@example(("aaaaa", "password=", "000000000000A", "", {28: "z"}))  # typo right after the secret
def test_property_stored_keys_never_spell_the_secret(redactor, run):
    prefix, key, secret, suffix, typos = run
    ty = Typist()
    pos = 0

    def type_part(s: str, label: str) -> None:
        nonlocal pos
        for c in s:
            if pos in typos:   # a wrong key, corrected at once
                ty.char(typos[pos], label + "-typo")
                ty.backspace(label + "-typo")
            ty.char(c, label)
            pos += 1

    type_part(prefix + " " + key, "plain")
    type_part(secret, "secret")
    type_part(" " + suffix, "plain")
    out, text = mask_typing_run(ty.events, redactor)
    stored = stored_chars(out)
    assert not is_subsequence(secret, stored), (stored, secret)
    assert secret not in text
    # every non-secret character typed is kept, in order; a typo next to the secret may be
    # masked with it (while it stood there it was part of the value)
    plain_typed = "".join(e.char for e, lab in zip(ty.events, ty.labels)
                          if lab == "plain" and e.down and e.char)
    plain_typos = sum(1 for e, lab in zip(ty.events, ty.labels)
                      if lab == "plain-typo" and e.down and e.char)
    assert is_subsequence(plain_typed, stored), (stored, plain_typed)
    assert len(stored) <= len(plain_typed) + plain_typos
    # every event typed inside the secret is masked (its typos too)
    assert all(o.redacted for o, lab in zip(out, ty.labels) if lab.startswith("secret"))
