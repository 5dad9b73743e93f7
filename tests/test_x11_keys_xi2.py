"""Keys come from XInput2 raw events (lossless), auto-repeat still from RECORD."""

from __future__ import annotations

import time

from workprint.capture.linux.x11_xi2 import KeyState

SHIFT_L, SHIFT_R, CAPS, CTRL, A = 50, 62, 66, 37, 38
MODMAP = [[SHIFT_L, SHIFT_R], [CAPS], [CTRL], [], [], [], [], []]


def test_state_reports_modifiers_before_each_event():
    ks = KeyState(MODMAP, {CAPS})
    assert ks.raw(SHIFT_L, True, 0) == 0          # the shift press itself: no shift before it
    assert ks.raw(A, True, 10) == 1               # shift held
    ks.raw(A, False, 20)
    assert ks.raw(SHIFT_R, True, 30) == 1         # both shifts down
    ks.raw(SHIFT_L, False, 40)
    assert ks.raw(A, True, 50) == 1               # right shift still holds the modifier
    ks.raw(A, False, 60)
    ks.raw(SHIFT_R, False, 70)
    assert ks.raw(A, True, 80) == 0
    ks.raw(A, False, 90)
    assert ks.raw(A, False, 95) is None           # a release of a key that is not down


def test_initial_state_keys_already_held_are_not_known():
    ks = KeyState(MODMAP, {CAPS})
    assert ks.raw(CTRL, False, 5) is None          # held before recording started


def test_lock_toggles_on_press_only():
    ks = KeyState(MODMAP, {CAPS})
    ks.raw(CAPS, True, 0); ks.raw(CAPS, False, 10)
    assert ks.raw(A, True, 20) == 2               # caps lock on after press+release
    ks.raw(A, False, 30)
    ks.raw(CAPS, True, 40); ks.raw(CAPS, False, 50)
    assert ks.raw(A, True, 60) == 0


def test_initial_mask_seeds_state_and_repeat_needs_a_held_key():
    ks = KeyState(MODMAP, {CAPS}, initial_mask=2 | 0x100)  # caps on; button bits ignored
    assert ks.raw(A, True, 1000) == 2
    assert not ks.is_repeat(A, 1010)              # RECORD's copy of the raw press
    assert ks.is_repeat(A, 1660)                  # 660 ms later: the server's auto-repeat
    assert ks.is_repeat(A, (1000 + 700) % 2**32)
    assert not ks.is_repeat(A, 990)               # a late copy of an EARLIER press
    ks.raw(A, False, 1700)
    assert not ks.is_repeat(A, 1740)              # released: not a repeat
    ks2 = KeyState(MODMAP, set())
    ks2.raw(A, True, 2**32 - 50)                  # server time wraps around
    assert ks2.is_repeat(A, 650)


def test_unthrottled_key_burst_loses_nothing(desk, record):
    from Xlib import X
    from Xlib.display import Display
    from Xlib.ext import xtest

    wid = desk.xterm("burst-term")
    desk.activate(wid)
    rec = record()
    d = Display(desk.display)
    kc = d.keysym_to_keycode(ord("x"))
    for _ in range(1000):  # no sync, no delay: as fast as XTEST takes them
        xtest.fake_input(d, X.KeyPress, kc)
        xtest.fake_input(d, X.KeyRelease, kc)
    d.sync()
    d.close()
    time.sleep(1.5)
    session = rec.stop()
    keys = [k for k in session.events(["key_down", "key_up"]) if k.keycode == kc]
    assert sum(k.down for k in keys) == 1000
    assert sum(not k.down for k in keys) == 1000


def test_held_key_keeps_its_auto_repeats_and_shift_state(desk, record):
    wid = desk.xterm("repeat-term")
    desk.activate(wid)
    rec = record()
    desk.xdotool("keydown", "BackSpace")
    time.sleep(1.5)  # X default: repeats after 660 ms, 25/s
    desk.xdotool("keyup", "BackSpace")
    desk.xdotool("key", "shift+a", "b")
    time.sleep(1.2)
    session = rec.stop()
    keys = list(session.events(["key_down", "key_up"]))
    bs = [k for k in keys if k.key == "BackSpace"]
    assert sum(k.down for k in bs) >= 10, "auto-repeat presses of a held key are kept"
    assert sum(not k.down for k in bs) == 1
    downs = [k for k in keys if k.down and k.char]
    assert [(k.char, "shift" in k.modifiers) for k in downs if k.char in "Abab"] == [("A", True), ("b", False)]


def test_raw_key_packets_are_read_from_the_bytes_the_server_sent():
    """The listener parses the few fields it needs itself: raw presses and releases of the
    XInput extension, every other packet skipped whole, a packet cut short left for later."""
    import struct

    from workprint.capture.linux.x11_xi2 import raw_key_packets

    XI = 131

    def raw(evtype, server_ms, keycode, length=2, ext=XI):
        head = struct.pack("=BBHIHHII", 35, ext, 7, length, evtype, 3, server_ms, keycode)
        return head + b"\0" * (32 + 4 * length - len(head))

    mapping_notify = bytes([34]) + b"\0" * 31
    motion = raw(17, 5, 0, length=6)                           # XI_RawMotion: not a key
    other_ext = raw(13, 6, 40, ext=XI + 1)                     # another extension's event 13
    stream = (raw(13, 1000, 38) + mapping_notify + motion + other_ext + raw(14, 1090, 38)
              + raw(13, 1100, 50)[:20])                        # the last one not all read yet
    keys, used = raw_key_packets(stream, XI)
    assert keys == [(True, 1000, 38), (False, 1090, 38)]
    assert used == len(stream) - 20
    rest = stream[used:] + raw(13, 1100, 50)[20:]
    assert raw_key_packets(rest, XI) == ([(True, 1100, 50)], len(rest))
