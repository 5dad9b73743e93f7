"""Text as the user composed it: the line-editor model, unit masking and multi-line blocks."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workprint.events import KeyEvent
from workprint.policy.blocks import BlockTracker, body_line, credential_name, random_token
from workprint.policy.compose import compose
from workprint.policy.keys import mask_unit
from workprint.policy.redact_text import Redactor

SECRETS = {  # other values than the issue's, several providers and shapes
    "password": ("password=", "Zk8-vault-Qm3"),
    "db_pass": ("db_pass: ", "S3cure!Pw7x"),
    "github": ("token ", "ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq"),
    "card": ("pay ", "4539 5787 6362 1486"),
    "card2": ("card ", "5500005555555559"),
    "aws_id": ("id ", "AKIAQYLPMN5HHHFPZAM2"),
    "aws_secret": ("AWS_SECRET_ACCESS_KEY=", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    "gitlab": ("use ", "glpat-Xy7Rk2Mn9Pq4Lw8Zt3Vb"),
    "stripe": ("key ", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    "slack": ("bot ", "xoxb-2048-4096-Qw7Er9Ty1Ui3"),
}


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(username=None, hostname=None)


class Typist:
    """Key events like the X11 backend: press/release, Shift for upper case and symbols."""

    def __init__(self) -> None:
        self.events: list[KeyEvent] = []
        self.t = 0

    def _ev(self, down, code, key, char, mods=()):
        self.t += 1000
        self.events.append(KeyEvent(self.t, down, code, 0, key, char, tuple(mods)))

    def char(self, c: str) -> "Typist":
        code = 10 + ord(c.lower()) % 200
        shift = c.isupper() or c in '~!@#$%^&*()_+{}|:"<>?'
        if shift:
            self._ev(True, 50, "Shift_L", None)
        self._ev(True, code, c, c, ("shift",) if shift else ())
        self._ev(False, code, c, c, ("shift",) if shift else ())
        if shift:
            self._ev(False, 50, "Shift_L", None, ("shift",))
        return self

    def text(self, s: str) -> "Typist":
        for c in s:
            self.char(c)
        return self

    def key(self, name: str, *mods: str, times: int = 1) -> "Typist":
        for _ in range(times):
            self._ev(True, 300 + hash(name) % 50, name, None, mods)
            self._ev(False, 300 + hash(name) % 50, name, None, mods)
        return self


def stored(events) -> str:
    return "".join(e.char for e in events if e.down and e.char and e.redacted is None)


def subsequence(needle: str, hay: str) -> bool:
    it = iter(hay)
    return all(c in it for c in needle)


def pieces_of(secret: str) -> list[str]:
    """Distinctive parts (>= 4 chars) of a secret: none may be spelled by stored keys."""
    parts = [p for p in secret.replace(" ", "-").split("-") if len(p) >= 4]
    return parts or [secret]


# -- the line model -----------------------------------------------------------------------------

def test_home_then_typing_inserts_at_the_start():
    ty = Typist().text("vault").key("Home").text("password=hunter2-")
    assert compose(ty.events).text == "password=hunter2-vault"


def test_left_right_delete_and_end():
    ty = (Typist().text("abcdef").key("Left", times=3).text("XY").key("Delete").key("End")
          .text("!").key("Home").key("Right").key("BackSpace"))
    assert compose(ty.events).text == "bcXYef!"


def test_keypad_navigation_names_edit_too():
    ty = Typist().text("1234").key("KP_Home").text("0").key("KP_End").key("KP_Left").key("KP_Delete")
    assert compose(ty.events).text == "0123"


def test_shift_selection_is_replaced_by_typing_and_deleted_by_backspace():
    ty = Typist().text("hello world").key("Left", "shift", times=5).text("there")
    assert compose(ty.events).text == "hello there"
    ty = Typist().text("hello world").key("Home", "shift").key("BackSpace").text("x")
    assert compose(ty.events).text == "x"
    ty = Typist().text("abcdef").key("Left", "shift", times=2).key("Left").text("_")
    assert compose(ty.events).text == "abcd_ef"  # Left collapses a selection to its start


def test_ctrl_word_moves_and_word_deletes():
    ty = Typist().text("one two three").key("Left", "ctrl").text("big ")
    assert compose(ty.events).text == "one two big three"
    ty = Typist().text("one two three").key("BackSpace", "ctrl")
    assert compose(ty.events).text == "one two "
    ty = Typist().text("one two three").key("Home").key("Right", "ctrl").key("Delete", "ctrl")
    assert compose(ty.events).text == "one three"


def test_unknown_edits_start_new_pieces():
    ty = Typist().text("abc").key("a", "ctrl").text("def").key("Tab").text("ghi").key("Up").text("jkl")
    comp = compose(ty.events)
    assert [(p.after, p.text) for p in comp.pieces] == [
        ("start", "abc"), ("jump", "def"), ("field", "ghi"), ("jump", "jkl")]
    assert compose(Typist().text("ab").events, breaks={3: "jump"}).pieces[-1].after == "jump"


def test_dead_keys_and_compose_sequences_do_not_move_the_cursor():
    # what the X11 backend stores for a German "dead_circumflex e" and "Multi_key o c": the
    # keys that start or continue a sequence carry no character, the last one the result
    def ev(t, key, keysym, char):
        return [KeyEvent(t, True, 40, keysym, key, char), KeyEvent(t + 1, False, 40, keysym, key, char)]

    keys = (Typist().text("caf").events + ev(10**7, "dead_circumflex", 0xFE52, None) + ev(10**7 + 10, "e", 0x65, "ê")
            + ev(10**7 + 20, "Multi_key", 0xFF20, None) + ev(10**7 + 30, "o", 0x6F, None) + ev(10**7 + 40, "c", 0x63, "©"))
    comp = compose(keys)
    assert [(p.after, p.text) for p in comp.pieces] == [("start", "cafê©")]


def test_every_character_maps_to_the_press_that_typed_it():
    ty = Typist().text("Ab").key("Home").text("z")
    comp = compose(ty.events)
    assert [(c.char, ty.events[c.press].char) for c in comp.cells()] == [("z", "z"), ("A", "A"), ("b", "b")]


# -- masking what was composed ------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SECRETS))
def test_a_secret_assembled_with_home_is_masked_in_every_key(redactor, name):
    prefix, secret = SECRETS[name]
    cut = len(secret) // 2
    ty = Typist().text(secret[cut:] + " ok").key("Home").text("echo " + prefix + secret[:cut])
    unit = mask_unit(ty.events, redactor)
    assert unit.composed == "echo " + prefix + secret + " ok"
    assert secret not in unit.text
    for part in pieces_of(secret):
        assert part not in stored(unit.events), (name, stored(unit.events))
    assert "echo" in stored(unit.events) and " ok" in stored(unit.events)  # the rest is kept


@pytest.mark.parametrize("name", ["password", "github", "card", "aws_id", "stripe"])
def test_a_secret_edited_with_arrows_and_delete_is_masked(redactor, name):
    prefix, secret = SECRETS[name]
    ty = Typist().text(prefix + secret[:3] + secret[5:]).key("Left", times=len(secret) - 5)
    ty.text(secret[3] + "#" + secret[4]).key("Left").key("BackSpace")   # a typo, fixed
    unit = mask_unit(ty.events, redactor)
    assert unit.composed == prefix + secret
    assert secret not in unit.text
    assert not any(p in stored(unit.events) for p in pieces_of(secret)), stored(unit.events)
    assert "#" not in stored(unit.events)


def test_a_selection_replaced_by_a_secret_is_masked_and_the_replaced_text_is_kept(redactor):
    ty = Typist().text("password=changeme").key("Left", "shift", times=8).text("Rt5-Kp9-Wq2")
    unit = mask_unit(ty.events, redactor)
    assert unit.composed == "password=Rt5-Kp9-Wq2"
    assert "Kp9" not in stored(unit.events) and stored(unit.events).startswith("password=")


def test_after_a_lost_cursor_every_reading_is_judged_and_masking_is_generous(redactor):
    # "vault", a click (cursor anywhere), then "password=hunter2-": stored whole in any order
    ty = Typist().text("Xq7vaultZ")
    n = len(ty.events)
    ty.text("password=Rk4-")
    unit = mask_unit(ty.events, redactor, breaks={n: "jump"})
    assert "Xq7vaultZ" not in stored(unit.events) and "Rk4" not in stored(unit.events)
    # ctrl+a (select all, or Home in a shell) then typing: both readings are judged
    ty = Typist().text("9fLm2").key("a", "ctrl").text("ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka")
    unit = mask_unit(ty.events, redactor)
    assert "Q3xr7" not in stored(unit.events) and "9fLm2" not in stored(unit.events)


def test_plain_text_with_edits_is_untouched(redactor):
    ty = (Typist().text("make test").key("Home").text("cd src && ").key("End").key("BackSpace")
          .text("ts").key("Left", "ctrl").text("-k "))
    unit = mask_unit(ty.events, redactor)
    assert unit.events == ty.events and unit.composed == "cd src && make -k tests"


def test_a_secret_typed_then_erased_with_delete_is_masked(redactor):
    token = "glpat-Xy7Rk2Mn9Pq4Lw8Zt3Vb"
    ty = Typist().text("x " + token + " y").key("Home").key("Right", times=2).key("Delete", times=len(token))
    unit = mask_unit(ty.events, redactor)
    assert unit.composed == "x  y"
    assert not subsequence("Xy7Rk2Mn9", stored(unit.events))


def test_a_cut_masks_its_seam_and_the_continuation_is_judged_with_it(redactor):
    first = Typist().text("word " * 20 + "token ghp_Q3xr7TmLk2Vw9")
    unit1 = mask_unit(first.events, redactor, seam=True)
    assert "Q3xr7" not in stored(unit1.events) and stored(unit1.events).startswith("word word")
    rest = Typist().text("Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq done")
    unit2 = mask_unit(rest.events, redactor, context=unit1.composed[-256:])
    assert "Hc4Nb6" not in stored(unit2.events) and stored(unit2.events).endswith(" done")


# -- property: any insertion order, typos, same verdict -----------------------------------------

@st.composite
def composed_lines(draw):
    name = draw(st.sampled_from(sorted(SECRETS)))
    prefix, secret = SECRETS[name]
    before = draw(st.text(alphabet=string.ascii_lowercase + " ", max_size=12))
    after = draw(st.text(alphabet=string.ascii_lowercase + " ", max_size=12))
    target = f"{before} {prefix}{secret} {after}"
    k = draw(st.integers(1, 5))
    cuts = sorted(draw(st.lists(st.integers(1, len(target) - 1), min_size=k - 1, max_size=k - 1, unique=True)))
    chunks = [target[a:b] for a, b in zip([0, *cuts], [*cuts, len(target)])]
    order = draw(st.permutations(range(len(chunks))))
    moves = draw(st.lists(st.sampled_from(["home", "end", "rel"]), min_size=len(chunks), max_size=len(chunks)))
    typo_at = draw(st.lists(st.integers(0, len(target)), max_size=3))
    return target, secret, chunks, order, moves, set(typo_at)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(composed_lines())
def test_property_a_line_typed_in_any_order_is_judged_as_composed(redactor, case):
    target, secret, chunks, order, moves, typo_at = case
    ty, typed, cursor, count = Typist(), set(), 0, 0
    for j, how in zip(order, moves):
        pos = sum(len(chunks[i]) for i in typed if i < j)
        length = sum(len(chunks[i]) for i in typed)
        if how == "home":
            ty.key("Home").key("Right", times=pos)
        elif how == "end":
            ty.key("End").key("Left", times=length - pos)
        else:
            ty.key("Left" if pos < cursor else "Right", times=abs(pos - cursor))
        for c in chunks[j]:
            if count in typo_at:
                ty.char("#").key("BackSpace")
            ty.char(c)
            count += 1
        typed.add(j)
        cursor = pos + len(chunks[j])
    unit = mask_unit(ty.events, redactor)
    assert unit.composed == target
    assert secret not in unit.text
    for part in pieces_of(secret):
        assert part not in stored(unit.events), (part, stored(unit.events))
    assert not subsequence(secret.replace(" ", ""), stored(unit.events))


# -- multi-line blocks --------------------------------------------------------------------------

OPENSSH = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBm7xQ2k9Lr4vT8cW3nY6pH1sJ0dF5gB2aZ7eK4uM9xRwAAAJiq3Fz8qt
xc/AAAAAtzc2gtZWQyNTUxOQ==
-----END OPENSSH PRIVATE KEY-----"""
RSA = """-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi4mJ5K2vF8GqWnE5dLkR1tYcXp
Qw8ZrT4uN6hJ2mK9sLx3vB7yC1fD5gH0jE4kA6lO2pI9uY8tR3eW5qZ7xV1cN4b
Zm9v
-----END RSA PRIVATE KEY-----"""
CERT = """-----BEGIN CERTIFICATE-----
MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ
RTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYD
-----END CERTIFICATE-----"""
PGP = """-----BEGIN PGP PRIVATE KEY BLOCK-----

lQOYBF3r9ZcBCAC7q8Kx2mN4pL6vR9tY1wZ3aB5cD7eF9gH1jK3lM5nO7pQ9rS1t
=Xk7q
-----END PGP PRIVATE KEY BLOCK-----"""


@pytest.mark.parametrize("block", [OPENSSH, RSA, CERT, PGP], ids=["openssh", "rsa", "cert", "pgp"])
def test_every_line_of_an_armored_block_is_masked_and_the_next_line_is_not(block):
    tracker = BlockTracker()
    lines = ["cat > id <<EOF", *block.splitlines(), "EOF"]
    verdicts = [tracker.judge_line(line) for line in lines]
    assert verdicts[0] is None and verdicts[-1] is None
    assert all(v is not None and v[0] == 0 for v in verdicts[1:-1])


def test_an_unterminated_block_ends_after_the_bound():
    from workprint.policy.blocks import MAX_BLOCK_LINES

    tracker = BlockTracker()
    tracker.judge_line("-----BEGIN EC PRIVATE KEY-----")
    assert all(tracker.judge_line("hello") for _ in range(MAX_BLOCK_LINES))
    assert tracker.judge_line("hello") is None


@pytest.mark.parametrize("line,start", [
    ("DB_PASSWORD=x1", 12), ("export GITHUB_TOKEN=abc", 20), ("apiKey: 42", 8),
    ("SESSION_SECRET='q'", 15), ("SOME_ID=8f3kQ2pLm9Zx7Rt4", 8), ("x-auth-token=zz", 13)])
def test_env_values_of_credentials_or_random_shape_are_masked(line, start):
    assert BlockTracker().judge_line(line) == (start, "SECRET")


@pytest.mark.parametrize("line", ["MONKEY=3", "PORT=8080", "name: build", "ls -la", "LOG_LEVEL=debug"])
def test_ordinary_assignments_are_not(line):
    assert BlockTracker().judge_line(line) is None


def test_an_open_quoted_env_value_masks_the_lines_until_it_closes():
    tracker = BlockTracker()
    lines = ['TLS_KEY="line one', "second line", 'third"', "NEXT=1"]
    assert [tracker.judge_line(x) for x in lines] == [(8, "SECRET"), (0, "SECRET"), (0, "SECRET"), None]
    tracker = BlockTracker()
    assert tracker.judge_line("SIGNING_KEY=abc\\") == (12, "SECRET")
    assert tracker.judge_line("def\\") == (0, "SECRET")
    assert tracker.judge_line("ghi") == (0, "SECRET")
    assert tracker.judge_line("plain") is None


@pytest.mark.parametrize("line,secret", [
    ("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", True),
    ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", True),
    ("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5", True),
    ("hello world this is text", False), ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", False),
    ("/usr/local/lib/python3.11/site-packages", False), ("1234567890123456789012345678901234", False)])
def test_body_lines(line, secret):
    assert body_line(line) is secret


def test_names_and_shapes():
    assert all(credential_name(n) for n in ["pw", "PASS", "db-password", "clientSecret", "X_API_KEY", "otp"])
    assert not any(credential_name(n) for n in ["monkey", "keyboard", "passenger_count"[:9] + "x", "title"])
    assert random_token("Qm9xT2kLr8ZpW4vN") and not random_token("documentation")
