"""The leak checks themselves must find what is there (else every adversarial test proves nothing)."""

from __future__ import annotations

from workprint.events import FocusEvent, KeyEvent

from storegen import make_session, screen_image

from .leaks import find_leaks


def _keys(text: str, t0: int = 1_000, name=lambda c: c, code=lambda c: 0):
    out = []
    for i, c in enumerate(text):
        t = t0 + i * 100
        out += [KeyEvent(t, True, code(c), ord(c), name(c), c), KeyEvent(t + 50, False, code(c), ord(c), name(c), c)]
    return out


def test_a_secret_spelled_by_stored_keys_is_found_and_an_absent_one_is_not(tmp_path):
    data = tmp_path / "data"
    make_session(data, _keys("echo marker hunter2-vault\n"), [])
    assert find_leaks(data, ["absent-value-77"]) == []
    leaks = find_leaks(data, ["hunter2-vault"])
    assert any("(chars)" in w for w in leaks)  # one row per key: not contiguous in the bytes


def test_keypad_names_and_bare_keycodes_still_spell_the_digits(tmp_path):
    data = tmp_path / "data"
    nav = {"1": "KP_End", "2": "KP_Down", "3": "KP_Next", "4": "KP_Left"}
    codes = {"9": 18, "8": 17}
    evs = [KeyEvent(10 + i, True, 0, 0, nav[c]) for i, c in enumerate("4321")]
    evs += [KeyEvent(100 + i, True, codes[c], 0, "", None) for i, c in enumerate("9898")]
    make_session(data, evs, [])
    keymap = {18: "9", 17: "8"}
    leaks = find_leaks(data, ["4321", "9898"], keymap=keymap)
    assert any("'4321'" in w and "(names)" in w for w in leaks)
    assert any("'9898'" in w and "(keycodes)" in w for w in leaks)


def test_titles_are_searched(tmp_path):
    data = tmp_path / "data"
    make_session(data, [FocusEvent(5, 1, title="vault login s.AbCdEf123456", app_id="XTerm", app_instance="xterm")], [])
    leaks = find_leaks(data, ["s.AbCdEf123456"])
    assert any("(titles)" in w for w in leaks) and any("bytes under" in w for w in leaks)


def test_exports_and_the_ocr_of_stored_frames_are_searched(tmp_path):
    """A typed value reaches the three exports (made side by side) and is found in each; a
    value shown on a stored frame is read by OCR, also when an earlier frame showed the same
    screen without it; an absent value is found nowhere."""
    from PIL import ImageDraw, ImageFont

    data = tmp_path / "data"
    before = screen_image("desk", 960, 540)
    ImageDraw.Draw(before).rectangle((40, 460, 700, 530), fill=(255, 255, 255))
    shown = before.copy()
    ImageDraw.Draw(shown).text((60, 475), "key: QX7-PLUM-4412", fill=(0, 0, 0),
                               font=ImageFont.load_default(size=28))
    make_session(data, _keys("echo typed-Vk93-Lumen\n", t0=2_000_000_000),
                 [(1_000_000_000, before), (5_000_000_000, shown)], width=960, height=540)
    leaks = find_leaks(data, ["typed-Vk93-Lumen", "QX7-PLUM-4412", "absent-Zz-0000"],
                       export_dir=tmp_path / "exports", ocr=True)
    assert {f"'typed-Vk93-Lumen' in the {fmt} export" for fmt in ("agentnet", "hf", "aguvis")} <= set(leaks), leaks
    assert "'QX7-PLUM-4412' readable by OCR in stored frame 1" in leaks, leaks
    assert not [w for w in leaks if "absent" in w]
