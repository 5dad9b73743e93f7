"""Keys as the application received them, from the X11 core keymap (pure; no X connection).

An X client turns a keycode plus the modifier/group state into a keysym with the keyboard's
XKB types; the core keymap the server publishes for old clients holds the same keysyms in
columns ``G1L1 G1L2 G2L1 G2L2 G1L3 G1L4 G2L3 G2L4 ...`` (group 1 is copied into group 2's
columns when a key has one group). :func:`keysym_for` picks the keysym the way the common
XKB key types do:

* the effective group comes from the state bits 13-14 (or ``Mode_switch``); a group the key
  lacks wraps to group 1;
* ISO level 3 (AltGr) selects levels 3/4, level 5 levels 5-8 (when the keymap has one);
* keypad keys: level 2 iff Num Lock XOR Shift (Num Lock on: ``KP_1``; with Shift: ``KP_End``);
* letters (a lower/upper pair): the upper case iff Shift XOR Caps Lock;
* every other key: level 2 iff Shift.

Which modifier bit is Num Lock, level 3 or level 5 is read from the modifier map
(:class:`ModifierRoles`). Dead keys and ``Multi_key`` sequences are composed by
:class:`Composer` from the system's X compose table (the locale's ``Compose`` file), with
Unicode combining characters as the fall-back, so the key that completes a sequence carries
the composed character and the keys before it carry none.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ...events import MODIFIERS

# X11 state mask bits in the order of events.MODIFIERS:
# Shift, Lock, Control, Mod1 (Alt), Mod2 (NumLock), Mod3, Mod4 (Super), Mod5 (AltGr/ISO level 3)
_MASKS = tuple(1 << i for i in range(8))
SHIFT, LOCK = 1, 2

_KEYPAD = {
    0xFFAA: "*", 0xFFAB: "+", 0xFFAC: ",", 0xFFAD: "-", 0xFFAE: ".", 0xFFAF: "/",
    0xFF80: " ", 0xFFBD: "=",
}
_KEYPAD.update({0xFFB0 + i: str(i) for i in range(10)})

NUM_LOCK, MODE_SWITCH = 0xFF7F, 0xFF7E
ISO_LEVEL3_SHIFT, ISO_LEVEL3_LATCH, ISO_LEVEL3_LOCK = 0xFE03, 0xFE04, 0xFE05
ISO_LEVEL5_SHIFT, ISO_LEVEL5_LATCH, ISO_LEVEL5_LOCK = 0xFE11, 0xFE12, 0xFE13
MULTI_KEY = 0xFF20
#: group keysyms (XKB actions as the core keymap shows them)
ISO_NEXT_GROUP, ISO_PREV_GROUP, ISO_FIRST_GROUP, ISO_LAST_GROUP = 0xFE08, 0xFE0A, 0xFE0C, 0xFE0E
GROUP_KEYSYMS = frozenset({ISO_NEXT_GROUP, ISO_PREV_GROUP, ISO_FIRST_GROUP, ISO_LAST_GROUP})


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
    if 0xFF80 <= keysym <= 0xFFBD:
        return _KEYPAD.get(keysym)
    return _legacy_char(keysym)


def is_keypad(keysym: int) -> bool:
    return 0xFF80 <= keysym <= 0xFFBD or 0x11000000 <= keysym <= 0x1100FFFF


def is_modifier(keysym: int) -> bool:
    """Shift/Control/Alt/Super/Hyper, the lock keys and the XKB level/group keys."""
    return 0xFFE1 <= keysym <= 0xFFEE or 0xFE01 <= keysym <= 0xFE13 or keysym in (0xFF7E, 0xFF7F)


def is_dead(keysym: int) -> bool:
    return 0xFE50 <= keysym <= 0xFE93


@dataclass(frozen=True)
class ModifierRoles:
    """Which modifier bits act as Num Lock, ISO level 3 (AltGr), level 5 and Mode_switch
    (group 2) - whatever the modifier map binds their keys to."""

    numlock: int = 0x10   # Mod2 on every common keymap
    level3: int = 0x80    # Mod5
    level5: int = 0
    mode_switch: int = 0

    @classmethod
    def from_modmap(cls, modmap: Sequence[Sequence[int]],
                    keysyms_of: Callable[[int], Sequence[int]]) -> "ModifierRoles":
        roles = {"numlock": 0, "level3": 0, "level5": 0, "mode_switch": 0}
        wanted = {NUM_LOCK: "numlock", ISO_LEVEL3_SHIFT: "level3", ISO_LEVEL3_LATCH: "level3",
                  ISO_LEVEL3_LOCK: "level3", ISO_LEVEL5_SHIFT: "level5", ISO_LEVEL5_LATCH: "level5",
                  ISO_LEVEL5_LOCK: "level5", MODE_SWITCH: "mode_switch"}
        for bit, codes in enumerate(modmap[:8]):
            if bit < 3:  # Shift, Lock, Control have fixed roles
                continue
            for code in codes:
                if not code:
                    continue
                for sym in keysyms_of(code)[:2]:
                    role = wanted.get(sym)
                    if role is not None:
                        roles[role] |= 1 << bit
        if roles["mode_switch"] & roles["level3"]:  # AltGr keys on Mod5 often show both
            roles["mode_switch"] &= ~roles["level3"]
        return cls(**roles)


DEFAULT_ROLES = ModifierRoles()


def state_group(state: int) -> int:
    """The effective XKB group (0-3) in a core event state (bits 13-14)."""
    return (state >> 13) & 3


def _columns(keysyms: Sequence[int], group: int, wide: bool) -> list[int]:
    """The keysyms of ``group`` by level (index 0 = level 1) from core columns."""
    def at(i: int) -> int:
        return keysyms[i] if 0 <= i < len(keysyms) else 0

    extra = 6 if wide else 2  # levels past the second of groups 1 and 2
    if group == 0:
        return [at(0), at(1)] + [at(4 + i) for i in range(extra)]
    if group == 1:
        return [at(2), at(3)] + [at(4 + extra + i) for i in range(extra)]
    start = 4 + 2 * extra + (group - 2) * (2 + extra)
    return [at(start + i) for i in range(2 + extra)]


def _letter_pair(lower: int, upper: int) -> bool:
    a, b = keysym_to_char(lower), keysym_to_char(upper)
    return bool(a and b and len(a) == 1 and a.islower() and a.upper() == b)


def keysym_for(keysyms: Sequence[int], state: int, roles: ModifierRoles = DEFAULT_ROLES) -> int:
    """The keysym a client gets for a key with these core ``keysyms`` in ``state``."""
    if not keysyms:
        return 0
    group = state_group(state)
    if not group and roles.mode_switch and state & roles.mode_switch:
        group = 1
    wide = bool(roles.level5)
    levels = _columns(keysyms, group, wide)
    if group and not any(levels[:2]):
        levels = _columns(keysyms, 0, wide)  # the key lacks that group: wrap to group 1
    shift = bool(state & SHIFT)
    pair = 0
    if roles.level3 and state & roles.level3 and (levels[2] or levels[3]):
        pair = 1
    if wide and roles.level5 and state & roles.level5 and len(levels) > 4:
        pair = 3 if pair else 2
        if not (levels[2 * pair] or levels[2 * pair + 1]):
            pair = 0
    low, high = levels[2 * pair], levels[2 * pair + 1]
    if roles.numlock and state & roles.numlock and is_keypad(high):
        sym = low if shift else high  # Shift cancels Num Lock
    elif _letter_pair(low, high):
        sym = high if shift != bool(state & LOCK) else low
    else:
        sym = high if shift and high else low
    return sym or low or levels[0] or keysyms[0]


def next_group(group: int, keysym: int, groups: int) -> int:
    """The locked group after a press of a group keysym (``ISO_Next_Group``...)."""
    groups = max(1, min(4, groups))
    if keysym == ISO_NEXT_GROUP:
        return (group + 1) % groups
    if keysym == ISO_PREV_GROUP:
        return (group - 1) % groups
    if keysym == ISO_FIRST_GROUP:
        return 0
    if keysym == ISO_LAST_GROUP:
        return groups - 1
    return group


def group_count(keymap: Iterable[Sequence[int]]) -> int:
    """How many groups a core keymap holds: 2 when some key's group-2 columns differ
    from its group-1 columns (one group is copied into both), else 1."""
    for syms in keymap:
        g2 = tuple(syms[2:4])
        if any(g2) and g2 != tuple(syms[0:2]):
            return 2
    return 1


_NAMES: dict[int, str] | None = None
_BY_NAME: dict[str, int] | None = None


#: keysyms with several names, stored under the one the safeguards and reducers speak
#: (0xFF7E is also Arabic_switch, Greek_switch, script_switch, ... in python-xlib's tables)
_PREFERRED_NAMES = {0xFF7E: "Mode_switch"}


def _names() -> dict[int, str]:
    global _NAMES, _BY_NAME
    if _NAMES is None:
        from Xlib import XK

        for group in ("miscellany", "latin1", "latin2", "latin3", "latin4", "greek", "cyrillic",
                      "xkb", "publishing", "currency", "technical", "special", "katakana",
                      "arabic", "hebrew", "thai", "korean", "latin9"):
            try:
                XK.load_keysym_group(group)
            except (ImportError, AttributeError):
                continue
        names: dict[int, str] = {}
        by_name: dict[str, int] = {}
        for attr in sorted(dir(XK)):
            if attr.startswith("XK_"):
                value = getattr(XK, attr)
                names.setdefault(value, attr[3:])
                by_name[attr[3:]] = value
        for name, value in (("EuroSign", 0x20AC),):  # missing from python-xlib's tables
            names.setdefault(value, name)
            by_name.setdefault(name, value)
        names.update(_PREFERRED_NAMES)
        _NAMES, _BY_NAME = names, by_name
    return _NAMES


def keysym_name(keysym: int) -> str:
    """The X keysym name (``"a"``, ``"Return"``, ``"Shift_L"``, ``"U20AC"``)."""
    if not keysym:
        return ""
    name = _names().get(keysym)
    if name:
        return name
    if 0x01000100 <= keysym <= 0x0110FFFF:
        return f"U{keysym - 0x01000000:04X}"
    return f"0x{keysym:x}"


def keysym_from_name(name: str) -> int | None:
    _names()
    assert _BY_NAME is not None
    value = _BY_NAME.get(name)
    if value is not None:
        return value
    m = re.fullmatch(r"U([0-9A-Fa-f]{4,6})", name)
    if m:
        cp = int(m.group(1), 16)
        return cp if 0x20 <= cp <= 0xFF else 0x01000000 + cp
    m = re.fullmatch(r"0x([0-9A-Fa-f]+)", name)
    return int(m.group(1), 16) if m else None


# Legacy keysym ranges that European layouts type: the low byte is the character's code
# in the ISO 8859 part (or KOI8) the range was made from.
_LEGACY_CODECS = {0x1: "iso8859_2", 0x2: "iso8859_3", 0x3: "iso8859_4", 0x13: "iso8859_15",
                  0x6: "koi8_u", 0x7: "iso8859_7"}


def _legacy_char(keysym: int) -> str | None:
    if keysym == 0x20AC:  # EuroSign
        return "\u20ac"
    codec = _LEGACY_CODECS.get(keysym >> 8)
    low = keysym & 0xFF
    if codec is None or low < 0xA1:
        return None
    try:
        char = bytes([low]).decode(codec)
    except UnicodeDecodeError:
        return None
    return char if char.isprintable() else None


# -- dead keys and compose ------------------------------------------------------------------
#: dead keysym -> (combining character, spacing form typed by the dead key + space)
DEAD_KEYS: dict[int, tuple[str, str]] = {
    0xFE50: ("\u0300", "`"), 0xFE51: ("\u0301", "\u00b4"), 0xFE52: ("\u0302", "^"),
    0xFE53: ("\u0303", "~"), 0xFE54: ("\u0304", "\u00af"), 0xFE55: ("\u0306", "\u02d8"),
    0xFE56: ("\u0307", "\u02d9"), 0xFE57: ("\u0308", "\u00a8"), 0xFE58: ("\u030a", "\u02da"),
    0xFE59: ("\u030b", "\u02dd"), 0xFE5A: ("\u030c", "\u02c7"), 0xFE5B: ("\u0327", "\u00b8"),
    0xFE5C: ("\u0328", "\u02db"), 0xFE5D: ("\u0345", "\u037a"), 0xFE60: ("\u0323", "."),
    0xFE61: ("\u0309", "\u0309"), 0xFE62: ("\u031b", "\u031b"), 0xFE64: ("\u0313", "\u0313"),
    0xFE65: ("\u0314", "\u0314"), 0xFE66: ("\u030f", "\u030f"), 0xFE67: ("\u0325", "\u0325"),
    0xFE68: ("\u0331", "\u0331"), 0xFE69: ("\u032d", "\u032d"), 0xFE6A: ("\u0330", "\u0330"),
    0xFE6B: ("\u032e", "\u032e"), 0xFE6C: ("\u0324", "\u0324"), 0xFE6E: ("\u0326", "\u0326"),
}

_SPACE = 0x20
_LINE = re.compile(r'^\s*((?:<[^>]+>\s*)+):\s*"((?:[^"\\]|\\.)*)"')


def parse_compose(lines: Iterable[str], keysym_of: Callable[[str], int | None] = keysym_from_name
                  ) -> dict[tuple[int, ...], str]:
    """Sequences of an X ``Compose`` file that start with a dead key or ``Multi_key``."""
    table: dict[tuple[int, ...], str] = {}
    for line in lines:
        if not line.startswith("<"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        syms = []
        for name in re.findall(r"<([^>]+)>", m.group(1)):
            sym = keysym_of(name)
            if sym is None:
                break
            syms.append(sym)
        else:
            if syms and (syms[0] == MULTI_KEY or is_dead(syms[0])):
                table[tuple(syms)] = re.sub(r"\\(.)", r"\1", m.group(2))
    return table


def compose_file(env: dict | None = None, root: Path = Path("/usr/share/X11/locale")) -> Path | None:
    """The X compose table of the locale (``LC_ALL``/``LC_CTYPE``/``LANG``), as libX11
    finds it through ``compose.dir``; en_US.UTF-8's when the locale has none."""
    env = os.environ if env is None else env
    locale = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    wanted = [locale, "en_US.UTF-8"] if locale and locale not in ("C", "POSIX") else ["en_US.UTF-8"]
    try:
        entries = [line.split() for line in (root / "compose.dir").read_text().splitlines()
                   if line and not line.startswith("#")]
    except OSError:
        return None
    for name in wanted:
        for entry in entries:
            if len(entry) >= 2 and entry[1].rstrip(":") == name and (root / entry[0].rstrip(":")).is_file():
                return root / entry[0].rstrip(":")
    return None


class Composer:
    """Follows dead-key and ``Multi_key`` sequences the way an X input method does:
    ``feed(keysym, char)`` for each key press (not modifiers) returns the character the
    application receives for that press - ``None`` for a key that starts or continues a
    sequence, the composed character for the one that completes it (``dead_acute`` then
    ``e`` -> ``é``), nothing for a sequence that matches no entry."""

    def __init__(self, table: dict[tuple[int, ...], str] | None = None):
        self._table = table
        self._prefixes: set[tuple[int, ...]] | None = None
        self._seq: tuple[int, ...] = ()

    def _load(self) -> None:
        if self._table is None:
            path = compose_file()
            table: dict[tuple[int, ...], str] = {}
            if path is not None:
                try:
                    with open(path, encoding="utf-8", errors="replace") as f:
                        table = parse_compose(f)
                except OSError:
                    table = {}
            self._table = table
        self._prefixes = {seq[:i] for seq in self._table for i in range(1, len(seq))}

    @property
    def pending(self) -> bool:
        return bool(self._seq)

    def reset(self) -> None:
        self._seq = ()

    def feed(self, keysym: int, char: str | None) -> str | None:
        starts = keysym == MULTI_KEY or is_dead(keysym)
        if not self._seq and not starts:
            return char
        if self._prefixes is None:
            self._load()
        assert self._table is not None and self._prefixes is not None
        seq = self._seq + (keysym,)
        if seq in self._table:
            self._seq = ()
            return self._table[seq]
        if seq in self._prefixes or len(seq) == 1:  # a lone dead key / Multi_key waits
            self._seq = seq
            return None
        self._seq = ()
        return _combine(seq)


def _combine(seq: tuple[int, ...]) -> str | None:
    """A dead key + a character the table lacks: the precomposed character if Unicode has
    one (dead key + space or the dead key twice: its spacing form), else nothing."""
    if len(seq) != 2 or not is_dead(seq[0]) or seq[0] not in DEAD_KEYS:
        return None
    mark, spacing = DEAD_KEYS[seq[0]]
    if seq[1] == _SPACE or seq[1] == seq[0]:
        return spacing
    base = keysym_to_char(seq[1])
    if not base:
        return None
    composed = unicodedata.normalize("NFC", base + mark)
    return composed if len(composed) == 1 else None
