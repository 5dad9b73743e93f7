"""Keys decoded as the application receives them: pure tests over keymaps as data.

The keymaps are core keyboard mappings as an XKB server publishes them for the US and the
German layout (columns G1L1 G1L2 G2L1 G2L2 G1L3 G1L4 ...; one group is copied into both).
"""

from __future__ import annotations

import pytest

from workprint.capture.linux.x11_keys import (Composer, ModifierRoles, group_count, keysym_for,
                                              keysym_name, keysym_to_char, next_group, parse_compose,
                                              compose_file)
from workprint.capture.linux.x11_xi2 import KeyState

SHIFT, LOCK, CTRL, MOD1, MOD2, MOD5 = 1, 2, 4, 8, 0x10, 0x80


def sym(name: str) -> int:
    from workprint.capture.linux.x11_keys import keysym_from_name

    value = keysym_from_name(name)
    assert value is not None, name
    return value


def row(*names: str) -> list[int]:
    syms = [sym(n) if n else 0 for n in names]
    return syms + [0] * (7 - len(syms))


US = {
    24: row("q", "Q", "q", "Q"),
    26: row("e", "E", "e", "E"),
    52: row("z", "Z", "z", "Z"),
    29: row("y", "Y", "y", "Y"),
    10: row("1", "exclam", "1", "exclam"),
    87: row("KP_End", "KP_1", "KP_End", "KP_1"),
    88: row("KP_Down", "KP_2", "KP_Down", "KP_2"),
    91: row("KP_Delete", "KP_Decimal", "KP_Delete", "KP_Decimal"),
    106: row("KP_Divide", "KP_Divide", "KP_Divide", "KP_Divide"),
    77: row("Num_Lock", "", "Num_Lock"),
    66: row("Caps_Lock", "", "Caps_Lock"),
    50: row("Shift_L", "", "Shift_L"),
    92: row("ISO_Level3_Shift", "", "ISO_Level3_Shift"),
}
DE = dict(US)
DE.update({
    24: row("q", "Q", "q", "Q", "at", "Greek_OMEGA"),
    26: row("e", "E", "e", "E", "EuroSign", "EuroSign"),
    52: row("y", "Y", "y", "Y", "guillemotright", "U203A"),
    29: row("z", "Z", "z", "Z", "leftarrow", "yen"),
    11: row("2", "quotedbl", "2", "quotedbl", "twosuperior", "oneeighth"),
    20: row("ssharp", "question", "ssharp", "question", "backslash", "questiondown"),
    21: row("dead_acute", "dead_grave", "dead_acute", "dead_grave", "dead_cedilla", "dead_ogonek"),
    49: row("dead_circumflex", "degree", "dead_circumflex", "degree", "U2032", "U2033"),
    47: row("odiaeresis", "Odiaeresis", "odiaeresis", "Odiaeresis", "dead_doubleacute"),
    108: row("ISO_Level3_Shift", "", "ISO_Level3_Shift"),
})
# two layouts at once (setxkbmap -layout us,ru): group 2 in columns 2-3
US_RU = dict(US)
US_RU.update({
    24: row("q", "Q", "Cyrillic_shorti", "Cyrillic_SHORTI"),
    26: row("e", "E", "Cyrillic_u", "Cyrillic_U"),
})
MODMAP = [[50, 62], [66], [37, 105], [64, 108, 204, 205], [77], [], [133, 134, 206, 207], [92, 203]]


def roles(keymap) -> ModifierRoles:
    return ModifierRoles.from_modmap(MODMAP, lambda code: keymap.get(code, [0]))


def char(keymap, code, state):
    return keysym_to_char(keysym_for(keymap[code], state, roles(keymap)))


def test_roles_come_from_the_modifier_map():
    r = roles(US)
    assert (r.numlock, r.level3, r.level5, r.mode_switch) == (MOD2, MOD5, 0, 0)
    odd = [[50], [66], [37], [64], [], [77], [], [92]]   # Num Lock bound to Mod3
    assert ModifierRoles.from_modmap(odd, lambda c: US.get(c, [0])).numlock == 0x20


@pytest.mark.parametrize("state,expect", [
    (0, None), (SHIFT, "1"), (MOD2, "1"), (MOD2 | SHIFT, None),  # Shift cancels Num Lock
    (MOD2 | LOCK, "1"), (MOD2 | CTRL, "1"),
])
def test_keypad_level_follows_numlock_xor_shift(state, expect):
    assert char(US, 87, state) == expect
    assert keysym_name(keysym_for(US[87], state, roles(US))) == ("KP_1" if expect else "KP_End")


def test_keypad_digits_decimal_and_operators():
    assert [char(US, c, MOD2) for c in (87, 88, 91, 106)] == ["1", "2", ".", "/"]
    assert [char(US, c, 0) for c in (87, 88, 91)] == [None, None, None]
    assert char(US, 106, 0) == "/"                    # not a two-level keypad key


def test_numlock_on_another_modifier_bit():
    odd = [[50], [66], [37], [64], [], [77], [], [92]]
    r = ModifierRoles.from_modmap(odd, lambda c: US.get(c, [0]))
    assert keysym_to_char(keysym_for(US[87], 0x20, r)) == "1"
    assert keysym_to_char(keysym_for(US[87], MOD2, r)) is None


@pytest.mark.parametrize("state,expect", [
    (0, "q"), (SHIFT, "Q"), (LOCK, "Q"), (LOCK | SHIFT, "q"), (MOD2, "q"), (CTRL, "q"),
])
def test_letters_shift_xor_caps_lock(state, expect):
    assert char(US, 24, state) == expect


def test_caps_lock_leaves_digits_alone():
    assert char(US, 10, LOCK) == "1"
    assert char(US, 10, LOCK | SHIFT) == "!"


def test_german_layout_altgr_levels():
    assert char(DE, 24, MOD5) == "@"
    assert char(DE, 24, MOD5 | SHIFT) == "Ω"
    assert char(DE, 26, MOD5) == "€"
    assert char(DE, 20, MOD5) == "\\"
    assert char(DE, 20, SHIFT) == "?"
    assert char(DE, 20, 0) == "ß"
    assert char(DE, 11, MOD5) == "²"
    assert char(DE, 10, MOD5) == "1"                  # a key without level 3 stays on level 1
    assert char(DE, 52, 0) == "y" and char(US, 52, 0) == "z"
    assert char(DE, 47, SHIFT) == "Ö"
    assert char(DE, 47, LOCK) == "Ö"                  # umlauts are letters for Caps Lock


def test_altgr_on_mod3_when_the_keymap_says_so():
    modmap = [[50], [66], [37], [64], [77], [92], [], []]
    r = ModifierRoles.from_modmap(modmap, lambda c: DE.get(c, [0]))
    assert r.level3 == 0x20
    assert keysym_to_char(keysym_for(DE[24], 0x20, r)) == "@"
    assert keysym_to_char(keysym_for(DE[24], MOD5, r)) == "q"


def test_second_group_from_state_bits():
    r = roles(US_RU)
    assert keysym_to_char(keysym_for(US_RU[24], 0, r)) == "q"
    assert keysym_to_char(keysym_for(US_RU[24], 1 << 13, r)) == "й"
    assert keysym_to_char(keysym_for(US_RU[26], (1 << 13) | SHIFT, r)) == "У"
    assert keysym_to_char(keysym_for(US_RU[26], (1 << 13) | LOCK, r)) == "У"
    # a key without a second group wraps to the first
    assert keysym_to_char(keysym_for(US_RU[10], 1 << 13, r)) == "1"
    assert keysym_to_char(keysym_for(US_RU[87], (1 << 13) | MOD2, r)) == "1"
    assert group_count(US_RU.values()) == 2 and group_count(US.values()) == 1


def test_mode_switch_selects_group_two():
    keymap = dict(US_RU)
    keymap[108] = row("Mode_switch", "", "Mode_switch")
    modmap = [[50], [66], [37], [64], [77], [108], [], [92]]
    r = ModifierRoles.from_modmap(modmap, lambda c: keymap.get(c, [0]))
    assert r.mode_switch == 0x20
    assert keysym_to_char(keysym_for(keymap[24], 0x20, r)) == "й"


def test_group_keys_cycle_the_locked_group():
    from workprint.capture.linux.x11_keys import ISO_FIRST_GROUP, ISO_LAST_GROUP, ISO_NEXT_GROUP, ISO_PREV_GROUP

    assert next_group(0, ISO_NEXT_GROUP, 2) == 1
    assert next_group(1, ISO_NEXT_GROUP, 2) == 0
    assert next_group(0, ISO_PREV_GROUP, 3) == 2
    assert next_group(2, ISO_FIRST_GROUP, 3) == 0 and next_group(0, ISO_LAST_GROUP, 3) == 2
    ks = KeyState(MODMAP, {66, 77}, initial_mask=(1 << 13) | MOD2)
    assert ks.raw(24, True, 0) == (1 << 13) | MOD2   # the group rides in bits 13-14
    ks.set_group(0)
    ks.raw(24, False, 5)
    assert ks.raw(24, True, 10) == MOD2


def test_numlock_toggles_in_the_raw_key_state():
    ks = KeyState(MODMAP, {66, 77})
    ks.raw(77, True, 0); ks.raw(77, False, 5)
    state = ks.raw(87, True, 10)
    assert state == MOD2 and keysym_to_char(keysym_for(US[87], state, roles(US))) == "1"


def test_legacy_keysyms_type_their_characters():
    assert keysym_to_char(sym("lstroke")) == "ł"
    assert keysym_to_char(sym("Cyrillic_a")) == "а"
    assert keysym_to_char(sym("EuroSign")) == "€"
    assert keysym_to_char(sym("KP_Enter")) is None
    assert keysym_to_char(sym("dead_acute")) is None


TABLE = parse_compose([
    '<dead_acute> <e>\t: "é"\teacute # LATIN SMALL LETTER E WITH ACUTE',
    '<Multi_key> <o> <c>\t: "©"\tcopyright',
    '<Multi_key> <apostrophe> <e> : "é"',
    '<dead_circumflex> <dead_acute> <e>\t: "ế"',
    '<a> <b> : "x"  # not a compose sequence: ignored',
    '<Multi_key> <backslash> <quotedbl> : "\\""',
])


def test_compose_file_lines_parse():
    assert TABLE[(sym("dead_acute"), sym("e"))] == "é"
    assert TABLE[(sym("Multi_key"), sym("o"), sym("c"))] == "©"
    assert TABLE[(sym("Multi_key"), sym("backslash"), sym("quotedbl"))] == '"'
    assert (sym("a"), sym("b")) not in TABLE


def feed(comp: Composer, names: str) -> list[str | None]:
    return [comp.feed(sym(n), keysym_to_char(sym(n))) for n in names.split()]


def test_dead_key_then_letter_is_one_composed_character():
    comp = Composer(TABLE)
    assert feed(comp, "dead_acute e") == [None, "é"]
    assert feed(comp, "Multi_key o c") == [None, None, "©"]
    assert feed(comp, "dead_circumflex dead_acute e x") == [None, None, "ế", "x"]


def test_sequences_missing_from_the_table_use_unicode():
    comp = Composer({})
    assert feed(comp, "dead_diaeresis u") == [None, "ü"]
    assert feed(comp, "dead_diaeresis U") == [None, "Ü"]
    assert feed(comp, "dead_circumflex space") == [None, "^"]
    assert feed(comp, "dead_acute dead_acute") == [None, "´"]
    assert feed(comp, "dead_acute 1 2") == [None, None, "2"]   # no such character: nothing typed
    assert feed(comp, "Multi_key q q a") == [None, None, "q", "a"]  # a failed sequence is dropped


def test_the_system_compose_table_when_there_is_one():
    path = compose_file({"LANG": "de_DE.UTF-8"})
    if path is None:
        pytest.skip("no X compose tables installed (libx11-data)")
    comp = Composer()
    assert feed(comp, "dead_grave a") == [None, "à"]
    assert feed(comp, "Multi_key s s") == [None, None, "ß"]
    assert feed(comp, "Multi_key o c") == [None, None, "©"]


def test_every_key_name_the_safeguards_rely_on_is_the_name_decoding_gives():
    # A keysym with several names decoded under another one (0xFF7E as "Arabic_switch")
    # is an unknown key to the line model: it ended the composed line's reading and the
    # ordinary text around a German AltGr '@' was masked as the e-mail in it.
    from workprint.capture.linux.x11_keys import keysym_from_name, keysym_name
    from workprint.policy import compose, gate

    names = set(compose.MODIFIER_KEYS) | compose.CASE_KEYS | compose._HOME | compose._END
    names |= compose._LEFT | compose._RIGHT | compose._DELETE | compose._FIELD
    for value in vars(gate).values():
        if isinstance(value, frozenset) and all(isinstance(x, str) for x in value):
            names |= value
    assert "Mode_switch" in names
    for name in sorted(names):
        sym = keysym_from_name(name)
        if sym and name not in ("Prior", "Next"):  # Page_Up/Page_Down: either name is a jump
            assert keysym_name(sym) == name, f"{name} decodes as {keysym_name(sym)}"
