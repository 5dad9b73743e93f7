"""Keysym and modifier translation for X11 (pure; no X connection)."""

from __future__ import annotations

from ..events import MODIFIERS

# X11 state mask bits in the order of events.MODIFIERS:
# Shift, Lock, Control, Mod1 (Alt), Mod2 (NumLock), Mod3, Mod4 (Super), Mod5 (AltGr/ISO level 3)
_MASKS = tuple(1 << i for i in range(8))

_KEYPAD = {
    0xFFAA: "*", 0xFFAB: "+", 0xFFAC: ",", 0xFFAD: "-", 0xFFAE: ".", 0xFFAF: "/",
    0xFF80: " ", 0xFFBD: "=",
}
_KEYPAD.update({0xFFB0 + i: str(i) for i in range(10)})


def modifier_names(state: int) -> tuple[str, ...]:
    """Names of the modifiers set in an X11 event state."""
    return tuple(name for name, mask in zip(MODIFIERS, _MASKS) if state & mask)


def keysym_to_char(keysym: int) -> str | None:
    """The character a keysym types, or ``None`` for non-printing keys.

    Return, Tab and BackSpace are *not* characters here: the reducer turns them into
    ``press`` actions (or edits of a typing run).
    """
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if 0x01000100 <= keysym <= 0x0110FFFF:
        return chr(keysym - 0x01000000)
    return _KEYPAD.get(keysym)


def level_index(state: int, keysyms: list[int]) -> int:
    """Index into a keycode's keysym list for the given state (group 1 only, plus ISO
    level 3 via Mod5). Shift selects the upper level; Caps Lock upper-cases letters."""
    shift = bool(state & 1)
    altgr = bool(state & 0x80)
    base = 4 if altgr and len(keysyms) > 4 and keysyms[4] else 0
    index = base + (1 if shift else 0)
    if index >= len(keysyms) or not keysyms[index]:
        index = base
    if state & 2 and index == base:  # Caps Lock: upper-case letters only
        lower = keysyms[base] if base < len(keysyms) else 0
        upper = keysyms[base + 1] if base + 1 < len(keysyms) else 0
        if upper and (0x61 <= lower <= 0x7A or 0xE0 <= lower <= 0xFE):
            index = base + 1
    return index


_NAMES: dict[int, str] | None = None


def keysym_name(keysym: int) -> str:
    """The X keysym name (``"a"``, ``"Return"``, ``"Shift_L"``, ``"U20AC"``)."""
    global _NAMES
    if _NAMES is None:
        from Xlib import XK

        for group in ("miscellany", "latin1", "latin2", "latin3", "latin4", "greek", "cyrillic",
                      "xkb", "publishing", "currency"):
            try:
                XK.load_keysym_group(group)
            except (ImportError, AttributeError):
                continue
        names: dict[int, str] = {}
        for attr in sorted(dir(XK)):
            if attr.startswith("XK_"):
                names.setdefault(getattr(XK, attr), attr[3:])
        _NAMES = names
    if not keysym:
        return ""
    name = _NAMES.get(keysym)
    if name:
        return name
    if 0x01000100 <= keysym <= 0x0110FFFF:
        return f"U{keysym - 0x01000000:04X}"
    return f"0x{keysym:x}"
