"""Helpers for adversarial tests that type with real keycodes (XTEST): keymaps loaded into
the test server through the core protocol, and key presses with modifiers held.

``setxkbmap`` cannot load a layout into this Xvfb (the server compiles the keymap and keeps
the old one), so a layout's keys are loaded through the core protocol; the server turns them
into XKB key types, and clients (xterm's input method included) then type with them. The
server's conversion gives core-loaded keys no ISO level 3, so the AltGr symbols of a layout
are loaded as a second group, reached with ``Mode_switch`` (the XKB group then rides in the
event state's bits 13-14, as with two layouts).
"""

from __future__ import annotations

import time

from workprint.capture.linux.x11_keys import keysym_from_name

#: keycodes of the pc105 evdev keyboard
SHIFT_L, CTRL_L, ALT_R, NUM_LOCK, CAPS, RETURN = 50, 37, 108, 77, 66, 36
#: keypad with Num Lock on: digit -> keycode
KEYPAD = {"7": 79, "8": 80, "9": 81, "4": 83, "5": 84, "6": 85, "1": 87, "2": 88, "3": 89, "0": 90}

#: the German layout (xkeyboard-config ``de``) on the keys the tests use: name -> levels 1-4
GERMAN = {
    52: ("y", "Y", "guillemotright", "U203A"),
    29: ("z", "Z", "leftarrow", "yen"),
    24: ("q", "Q", "at", "Greek_OMEGA"),
    26: ("e", "E", "EuroSign", "EuroSign"),
    20: ("ssharp", "question", "backslash", "questiondown"),
    21: ("dead_acute", "dead_grave", "dead_cedilla", "dead_ogonek"),
    49: ("dead_circumflex", "degree", "U2032", "U2033"),
    34: ("udiaeresis", "Udiaeresis", "dead_diaeresis", "dead_abovering"),
    47: ("odiaeresis", "Odiaeresis", "dead_doubleacute", "dead_doubleacute"),
    48: ("adiaeresis", "Adiaeresis", "dead_circumflex", "dead_caron"),
    19: ("0", "equal", "braceright", "degree"),
    61: ("minus", "underscore", "endash", "emdash"),
    ALT_R: ("Mode_switch", "", "Mode_switch", ""),
}


def load_layout(conn, keys: dict[int, tuple[str, ...]], mode_switch: int = ALT_R) -> None:
    """Load ``keys`` (keycode -> symbols of group 1 levels 1-2, group 2 levels 1-2) as the
    core mapping and bind ``mode_switch`` to Mod3 alone."""
    per = len(conn.get_keyboard_mapping(8, 1)[0])
    for code, names in keys.items():
        syms = [keysym_from_name(n) if n else 0 for n in names]
        row = [syms[0], syms[1], syms[2] or syms[0], syms[3] or syms[1]]
        conn.change_keyboard_mapping(code, [tuple(row + [0] * (per - len(row)))])
    modmap = [[c for c in codes if c and c != mode_switch] for codes in conn.get_modifier_mapping()]
    modmap[5] = [mode_switch]
    for _ in range(50):
        if conn.set_modifier_mapping(modmap) == 0:  # MappingSuccess
            break
        time.sleep(0.05)  # MappingBusy: a key is down
    conn.sync()


def press(conn, code: int, *mods: int, delay: float = 0.03) -> None:
    from Xlib import X
    from Xlib.ext import xtest

    for m in mods:
        xtest.fake_input(conn, X.KeyPress, m)
    xtest.fake_input(conn, X.KeyPress, code)
    xtest.fake_input(conn, X.KeyRelease, code)
    for m in reversed(mods):
        xtest.fake_input(conn, X.KeyRelease, m)
    conn.sync()
    time.sleep(delay)


def type_keys(conn, steps) -> None:
    """``steps``: keycodes, or (keycode, modifier keycodes...) tuples."""
    for step in steps:
        if isinstance(step, int):
            press(conn, step)
        else:
            press(conn, *step)


def text_keys(conn, text: str) -> list:
    """Steps that type ``text`` with the keys of the current map (levels 1 and 2)."""
    by_sym: dict[int, tuple] = {}
    first = conn.display.info.min_keycode
    count = conn.display.info.max_keycode - first + 1
    for i, syms in enumerate(conn.get_keyboard_mapping(first, count)):
        for level, mods in ((1, (SHIFT_L,)), (0, ())):
            if len(syms) > level and syms[level]:
                by_sym[syms[level]] = (first + i, *mods)
    steps = []
    for c in text:
        sym = ord(c) if ord(c) < 0x100 else 0x01000000 + ord(c)
        if c == "\n":
            steps.append(RETURN)
        else:
            steps.append(by_sym[sym])
    return steps


def keymap_chars(conn) -> dict[int, str]:
    """keycode -> the character of its first level (for the leak checks' keycode view)."""
    from workprint.capture.linux.x11_keys import keysym_to_char

    first = conn.display.info.min_keycode
    count = conn.display.info.max_keycode - first + 1
    out = {}
    for i, syms in enumerate(conn.get_keyboard_mapping(first, count)):
        for s in syms[:2]:
            c = keysym_to_char(s) if s else None
            if c:
                out[first + i] = c
                break
    return out
