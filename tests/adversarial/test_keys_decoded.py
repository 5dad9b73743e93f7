"""Keys are judged as the application received them (issue 11, class 2).

A terminal runs ``cat > file``: the file is what the application received. Keys are typed
by keycode through XTEST, with Num Lock, Shift, dead keys and a second group (the German
layout's AltGr symbols, see :mod:`.keyboard`), on the US layout and on the German one. For each key source (XInput 2, and RECORD as the
fall-back), the stored key events must spell exactly what the file holds for ordinary text,
and a secret typed that way must be judged - masked - like one typed plainly.
"""

from __future__ import annotations

import time

import pytest

from conftest import wait_for

from .keyboard import (ALT_R, GERMAN, KEYPAD, NUM_LOCK, RETURN, SHIFT_L, keymap_chars, load_layout,
                       press, text_keys, type_keys)
from .leaks import assert_no_leak, recording, spelled

pytestmark = pytest.mark.x11


@pytest.fixture(params=["xi2", "record"])
def key_source(request, desk):
    desk.env["WORKPRINT_X11_KEYS"] = request.param  # the recorder's key source
    return request.param


def _cat_terminal(desk, out):
    term = desk.xterm("decode-term", geometry="100x20+20+20")
    desk.activate(term)
    desk.xdotool("type", "--delay", "15", f"cat > {out}\n")
    time.sleep(0.4)
    return term


def _conn():
    from Xlib.display import Display

    return Display()


def test_keypad_digits_with_num_lock_are_digits(desk, tmp_path, key_source):
    out = tmp_path / "received.txt"
    _cat_terminal(desk, out)
    conn = _conn()
    card = "4539148803436467"  # a Luhn-valid test number
    data = tmp_path / "data"
    with recording(desk, data):
        type_keys(conn, text_keys(conn, "keypad-ok "))
        press(conn, NUM_LOCK)
        type_keys(conn, [KEYPAD[d] for d in "2024"])                # ordinary digits
        type_keys(conn, text_keys(conn, " card "))
        type_keys(conn, [KEYPAD[d] for d in card])
        press(conn, RETURN)
        type_keys(conn, [(KEYPAD[d], SHIFT_L) for d in "31"])        # Shift cancels Num Lock
        type_keys(conn, text_keys(conn, "nav-ok\n"))
        press(conn, NUM_LOCK)                                         # off again
        type_keys(conn, [KEYPAD["8"]])
        type_keys(conn, text_keys(conn, "end-ok\n"))
        received = wait_for(lambda: "end-ok" in out.read_text() and out.read_text(), what="cat output")
    conn.close()
    assert f"keypad-ok 2024 card {card}\n" in received  # the input reached the application
    views = spelled(data)
    assert "keypad-ok 2024 card " in views["chars"]      # recorded, and decoded as received
    assert "nav-ok" in views["chars"] and "end-ok" in views["chars"]
    assert "31" not in views["chars"]                     # navigation keys type nothing
    assert_no_leak(data, [card], export_dir=tmp_path / "export", keymap=keymap_chars(_conn()))


def test_german_layout_altgr_and_dead_keys(desk, tmp_path, key_source):
    out = tmp_path / "received.txt"
    _cat_terminal(desk, out)
    conn = _conn()
    load_layout(conn, GERMAN)
    time.sleep(0.3)
    data = tmp_path / "data"
    AT = (24, ALT_R)
    ACUTE = 21
    with recording(desk, data):
        # ordinary text: z/y swapped, umlauts, a dead key, AltGr
        type_keys(conn, text_keys(conn, "marker y z "))
        type_keys(conn, [34, 47, 48, 20])                              # ü ö ä ß
        type_keys(conn, [ACUTE, 26, 61, 49, 26])                       # é - ê
        type_keys(conn, text_keys(conn, " mail "))
        # an email address whose @ is AltGr+q
        type_keys(conn, text_keys(conn, "mueller.k") + [AT] + text_keys(conn, "example.org"))
        press(conn, RETURN)
        # a password assignment whose value has dead-key and AltGr characters
        type_keys(conn, text_keys(conn, "password=Cr") + [49, 26] + text_keys(conn, "me-br")
                  + [49] + text_keys(conn, "ul") + [ACUTE, 26, (26, ALT_R)] + text_keys(conn, "42"))
        press(conn, RETURN)
        type_keys(conn, text_keys(conn, "end-ok\n"))
        received = wait_for(lambda: "end-ok" in out.read_text() and out.read_text(), what="cat output")
    assert "marker y z üöäßé-ê mail mueller.k@example.org\n" in received
    assert "password=Crême-brûlé€42\n" in received
    views = spelled(data)
    assert "marker y z üöäßé-ê mail " in views["chars"]
    assert "end-ok" in views["chars"]
    assert_no_leak(data, ["mueller.k@example.org", "mueller.kqexample", "Crême-brûlé€42", "Crme-brl", "Creme-brule"],
                   export_dir=tmp_path / "export")
    conn.close()
