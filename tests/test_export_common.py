"""Action code conformance: every action kind workprint emits has its code line in the
documented form (checked by tests/export_grammar.py, written from the grammar), values
round-trip exactly, and the literals survive the common ways consumers read them."""

import ast
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from workprint.actions.describe import describe
from workprint.actions.episodes import STEP_KINDS
from workprint.events import Action
from workprint.export.code import FUNCTION_SPECS, functions_used, quote
from workprint.export.common import Screen, action_code, action_struct

from export_grammar import GrammarError, check, parse

SCREEN = Screen(1920, 1080)


def code(kind, **kw):
    return action_code(Action(kind, 0, 0, **kw), SCREEN)


#: (action, the exact code expected) - at least one per kind, with the variants that change
#: the form (non-default button, modifiers held, text/keys needing escapes).
CASES = [
    (Action("click", 0, 0, x=500, y=500, button="left"), "pyautogui.click(x=0.2604, y=0.4630)"),
    (Action("click", 0, 0, x=1, y=1, button="left", keys=("ctrl",)),
     "pyautogui.click(x=0.0005, y=0.0009, modifiers=['ctrl'])"),
    (Action("click", 0, 0, x=1, y=1, button="left", keys=("ctrl", "shift")),
     "pyautogui.click(x=0.0005, y=0.0009, modifiers=['ctrl', 'shift'])"),
    (Action("doubleClick", 0, 0, x=0, y=1079, button="left"), "pyautogui.doubleClick(x=0.0000, y=0.9991)"),
    (Action("doubleClick", 0, 0, x=0, y=0, button="right"),
     "pyautogui.doubleClick(x=0.0000, y=0.0000, button='right')"),
    (Action("tripleClick", 0, 0, x=10, y=10, button="left"), "computer.tripleClick(x=0.0052, y=0.0093)"),
    (Action("tripleClick", 0, 0, x=10, y=10, button="right"),
     "computer.tripleClick(x=0.0052, y=0.0093, button='right')"),
    (Action("rightClick", 0, 0, x=1919, y=0, button="right"), "pyautogui.rightClick(x=0.9995, y=0.0000)"),
    (Action("rightClick", 0, 0, x=1919, y=0, button="right", keys=("alt",)),
     "pyautogui.rightClick(x=0.9995, y=0.0000, modifiers=['alt'])"),
    (Action("middleClick", 0, 0, x=960, y=540, button="middle"), "pyautogui.middleClick(x=0.5000, y=0.5000)"),
    (Action("drag", 0, 0, x=100, y=100, x2=200, y2=300, button="left"),
     "pyautogui.moveTo(x=0.0521, y=0.0926)\npyautogui.dragTo(x=0.1042, y=0.2778, button='left')"),
    (Action("drag", 0, 0, x=100, y=100, x2=200, y2=300, button="left", keys=("shift",)),
     "pyautogui.moveTo(x=0.0521, y=0.0926)\n"
     "pyautogui.dragTo(x=0.1042, y=0.2778, button='left', modifiers=['shift'])"),
    (Action("scroll", 0, 0, x=960, y=540, dy=-3), "pyautogui.moveTo(x=0.5000, y=0.5000)\npyautogui.scroll(-3)"),
    (Action("scroll", 0, 0, x=960, y=540, dy=5), "pyautogui.moveTo(x=0.5000, y=0.5000)\npyautogui.scroll(5)"),
    (Action("hscroll", 0, 0, x=960, y=540, dx=2), "pyautogui.moveTo(x=0.5000, y=0.5000)\npyautogui.hscroll(2)"),
    (Action("hscroll", 0, 0, x=960, y=540, dx=-1), "pyautogui.moveTo(x=0.5000, y=0.5000)\npyautogui.hscroll(-1)"),
    (Action("write", 0, 0, text="Hi it's me"), "pyautogui.write(message='Hi it\\x27s me')"),
    (Action("write", 0, 0, text="read -s -p 'Password: '"),
     "pyautogui.write(message='read -s -p \\x27Password: \\x27')"),
    (Action("write", 0, 0, text="<PASSWORD>"), "pyautogui.write(message='<PASSWORD>')"),
    (Action("press", 0, 0, keys=("enter",)), "pyautogui.press(keys=['enter'])"),
    (Action("press", 0, 0, keys=("]",)), "pyautogui.press(keys=['\\x5d'])"),
    (Action("hotkey", 0, 0, keys=("ctrl", "s")), "pyautogui.hotkey(keys=['ctrl', 's'])"),
    (Action("hotkey", 0, 0, keys=("ctrl", "'")), "pyautogui.hotkey(keys=['ctrl', '\\x27'])"),
    (Action("wait", 0, 0), "computer.wait()"),
    (Action("wait", 0, 0, text="paused"), "computer.wait()"),
    (Action("end", 0, 0, ok=True), "computer.terminate(status='success')"),
    (Action("end", 0, 0, ok=False), "computer.terminate(status='failure')"),
]


def test_every_emitted_kind_has_a_case():
    assert {a.kind for a, _ in CASES} == set(STEP_KINDS) | {"end"}


def test_codes_are_exact_and_in_the_documented_form():
    for a, want in CASES:
        got = action_code(a, SCREEN)
        assert got == want, a
        decoded = check(got)
        assert decoded["kind"] == a.kind
        if a.kind in ("click", "doubleClick", "tripleClick", "rightClick", "middleClick", "drag"):
            assert round(decoded["x"] * 1920) == a.x and round(decoded["y"] * 1080) == a.y
            assert decoded["modifiers"] == list(a.keys)
            assert decoded["button"] == a.button
        if a.kind == "drag":
            assert round(decoded["x2"] * 1920) == a.x2 and round(decoded["y2"] * 1080) == a.y2
        if a.kind in ("scroll", "hscroll"):
            assert decoded["ticks"] == (a.dy if a.kind == "scroll" else a.dx)
        if a.kind == "write":
            assert decoded["text"] == a.text
        if a.kind in ("press", "hotkey"):
            assert decoded["keys"] == list(a.keys)
        if a.kind == "end":
            assert decoded["status"] == ("success" if a.ok else "failure")


def test_the_grammar_checker_rejects_the_old_and_foreign_forms():
    """The checker can fail: each of these was written by an earlier export or is a form
    some consumer cannot read."""
    for bad in ("pyautogui.press('enter')", "pyautogui.hotkey('ctrl', 's')",
                "pyautogui.scroll(-5, x=0.5000, y=0.5000)", "pyautogui.tripleClick(x=0.1000, y=0.1000)",
                "pyautogui.keyDown('ctrl')\npyautogui.click(x=0.1000, y=0.1000)\npyautogui.keyUp('ctrl')",
                "pyautogui.write(message='it\\'s')", 'pyautogui.write(message="it\'s")',
                "computer.terminate(status='unknown')", "pyautogui.click(x=0.5, y=0.5)",
                "pyautogui.press(keys=[']'])"):
        try:
            check(bad)
        except GrammarError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_python_parsers_read_the_same_values():
    """ast (what a Python-based parser such as OpenCUA's action schema uses) reads the
    same keyword values and positional numbers as the grammar."""
    for a, _ in CASES:
        for (name, pos, kw), line in zip(parse(action_code(a, SCREEN)), action_code(a, SCREEN).split("\n")):
            call = ast.parse(line).body[0].value
            assert ast.unparse(call.func) == name
            assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == {
                k: (v[0] if isinstance(v, tuple) else v) for k, v in kw.items()}
            assert [ast.literal_eval(p) for p in call.args] == [v[0] for v in pos]


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_write_text_survives_every_reader(text):
    line = code("write", text=text)
    # the grammar and Python read it exactly
    assert check(line)["text"] == text
    assert ast.literal_eval(ast.parse(line).body[0].value.keywords[0].value) == text
    # a regex reading from the opening quote to the *next* quote gets the whole literal
    body = re.search(r"message=(['\"])(.*?)['\"]", line).group(2)
    assert "'" + body + "'" == line[len("pyautogui.write(message="):-1]
    assert ast.literal_eval("'" + body + "'") == text


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_key_lists_survive_every_reader(keys):
    line = code("hotkey", keys=tuple(keys))
    assert check(line)["keys"] == keys
    inner = re.search(r"keys=\[(.*?)\]", line).group(1)     # up to the *first* ']'
    assert "[" + inner + "]" == line[len("pyautogui.hotkey(keys="):-1]
    assert [ast.literal_eval(q) for q in re.findall(r"'[^'\"]*'", inner)] == keys


def test_quote_never_holds_a_quote_or_bracket():
    for s in ("'", '"', "[", "]", "\\", "\n", "\x00", "\u2028", "\U0001F600", "é"):
        q = quote(s)
        assert not set(q[1:-1]) & set("'\"[]") and ast.literal_eval(q) == s


def test_functions_used_lists_each_callee_once():
    codes = [c for _, c in CASES]
    used = functions_used(codes)
    assert len(used) == len(set(used))
    assert set(used) == set(FUNCTION_SPECS)     # every declared function is one the grammar uses


def test_descriptions_say_what_was_done():
    nx, ny = SCREEN.nx, SCREEN.ny
    assert describe(Action("click", 0, 0, x=960, y=540, button="left"), nx, ny) == "Click at (0.5000, 0.5000)."
    assert describe(Action("click", 0, 0, x=960, y=540, button="left", keys=("ctrl",)), nx, ny) == \
        "Ctrl+click at (0.5000, 0.5000)."
    assert describe(Action("scroll", 0, 0, x=960, y=540, dy=-3), nx, ny) == "Scroll down 3 ticks at (0.5000, 0.5000)."
    assert describe(Action("hotkey", 0, 0, keys=("ctrl", "s")), nx, ny) == "Press Ctrl+S."
    assert describe(Action("press", 0, 0, keys=("enter",)), nx, ny) == "Press Enter."
    assert describe(Action("write", 0, 0, text="it's"), nx, ny) == 'Type "it\'s".'
    for a, _ in CASES:
        assert describe(a, nx, ny)


def test_normalized_coordinates_roundtrip_exactly():
    for w, h in ((1920, 1080), (3840, 2160), (1366, 768)):
        s = Screen(w, h)
        for x in range(0, w, 7):
            assert round(s.nx(x) * w) == x


def test_struct_keeps_pixels_and_screen():
    d = action_struct(Action("drag", 0, 0, x=1, y=2, x2=3, y2=4, button="left"), Screen(1920, 1080, 2.0))
    assert d["x"] == 1 and d["y2"] == 4 and d["screen"] == {"width": 1920, "height": 1080, "scale": 2.0}
    assert d["type"] == "drag" and d["button"] == "left" and 0 <= d["nx2"] <= 1
