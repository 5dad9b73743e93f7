"""The text a user composed, rebuilt from key events: a pure line-editor model.

:func:`compose` replays the key presses of one unit (a line or field, see the gate) through
a small line editor - a cursor, BackSpace and Delete, Home/End, Left/Right, ctrl+Left/Right
word moves, ctrl+BackSpace/ctrl+Delete word deletes, a selection made with shift+moves that
typing or a deletion replaces - and returns, for every character, the key press that typed
it (:class:`Cell`), plus every character deleted on the way and the text as it stood before
each deletion, so that a value detected anywhere maps back to the key events behind it.

Where the edit cannot be known, the model does not guess silently: a click (the gate marks
it), an unmodelled chord (ctrl+a is select-all in one app and Home in another), Up/Down,
Page keys, Insert or Escape leave the cursor somewhere unknown, and the text typed after it
starts a new :class:`Piece` with ``after="jump"``. A Tab starts a piece with
``after="field"`` (the next field of a form, or a completion in a shell). Callers judge the
pieces alone, joined, and - across a jump - in the other order too (the cursor may have
gone to the start), and mask generously around a jump; see :func:`workprint.policy.keys.mask_unit`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..events import CHORD_MODIFIERS, FIELD_SWITCH_KEYS, MODIFIER_KEYS, SUBMIT_KEYS, KeyEvent
#: Keys that reveal a character's case (masked with the characters they shift).
CASE_KEYS = frozenset({"Shift_L", "Shift_R", "Caps_Lock", "ISO_Level3_Shift", "Mode_switch",
                       "ISO_Level5_Shift", "Shift_Lock"})
_NO_EDIT = frozenset({f"F{i}" for i in range(1, 36)} | {"Print", "Pause", "Menu", "Sys_Req"}
                     | {k for k in ("XF86AudioRaiseVolume", "XF86AudioLowerVolume",
                                    "XF86AudioMute", "XF86AudioPlay", "XF86AudioNext",
                                    "XF86AudioPrev")})
_HOME = frozenset({"Home", "KP_Home", "Begin", "KP_Begin"})
_END = frozenset({"End", "KP_End"})
_LEFT = frozenset({"Left", "KP_Left"})
_RIGHT = frozenset({"Right", "KP_Right"})
_DELETE = frozenset({"Delete", "KP_Delete"})
_FIELD = SUBMIT_KEYS | FIELD_SWITCH_KEYS

#: characters kept before and after the cursor in a pre-deletion snapshot (bounds the
#: work per deletion burst: judging a long unit stays linear)
SNAPSHOT_BEFORE = 256
SNAPSHOT_AFTER = 64


@dataclass(eq=False, slots=True)
class Cell:
    """One typed character: ``press`` is the index of the key event that typed it."""

    char: str
    press: int
    piece: int
    mask: str | None = None    # entity, once a judge decided the character is secret


@dataclass(eq=False, slots=True)
class Deleted:
    """A character removed by the key at index ``by``; ``near`` are the characters around the
    spot at that moment (left, right) and the one typed there next, if any: a typo inside a
    secret is masked with the secret."""

    cell: Cell
    by: int
    near: list[Cell]


@dataclass(eq=False, slots=True)
class Piece:
    """Text typed with a known cursor. ``after`` says what came before it: ``"start"``, a
    ``"jump"`` (cursor moved somewhere unknown) or a ``"field"`` boundary (Tab)."""

    after: str
    cells: list[Cell] = field(default_factory=list)
    cursor: int = 0
    anchor: int | None = None  # selection anchor (shift+moves), None when nothing is selected

    @property
    def text(self) -> str:
        return "".join(c.char for c in self.cells)


@dataclass(eq=False, slots=True)
class Composition:
    pieces: list[Piece]
    deleted: list[Deleted]
    snapshots: list[list[Cell]]   # the text around the cursor before each deletion burst

    @property
    def text(self) -> str:
        """The pieces joined in typing order (the cursor-stayed-at-the-end reading)."""
        return "".join(p.text for p in self.pieces)

    def cells(self) -> list[Cell]:
        return [c for p in self.pieces for c in p.cells]


def is_text_key(e: KeyEvent) -> bool:
    return (e.down and bool(e.char) and e.redacted is None and e.key != "BackSpace"
            and not (CHORD_MODIFIERS & set(e.modifiers)) and (e.char or "").isprintable()
            and e.key not in _FIELD)


def is_composing_key(e: KeyEvent) -> bool:
    """A key of a dead-key or ``Multi_key`` sequence that gave the application no character
    (the dead key itself, or a printable key in the middle of a sequence): it neither edits
    the text nor moves the cursor - the character the sequence composes arrives with the key
    that completes it."""
    if e.char:
        return False
    if e.key.startswith("dead_") or e.key == "Multi_key":
        return True
    k = e.keysym
    return 0x20 <= k <= 0x7E or 0xA0 <= k <= 0xFF or 0x01000100 <= k <= 0x0110FFFF


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


def compose(keys: list[KeyEvent], breaks: Mapping[int, str] | None = None) -> Composition:
    """Replay ``keys``; ``breaks`` maps an index to ``"jump"``/``"field"`` for a boundary the
    keys do not show (the gate marks a click before the key at that index)."""
    pieces = [Piece("start")]
    deleted: list[Deleted] = []
    snapshots: list[list[Cell]] = []
    pending: list[Deleted] = []     # deleted at the cursor, waiting for the next character
    in_burst = False
    breaks = breaks or {}

    def new_piece(kind: str) -> Piece:
        nonlocal in_burst
        pending.clear()
        in_burst = False
        last = pieces[-1]
        if not last.cells:  # nothing typed since the last boundary: the stronger one wins
            if kind == "jump" and len(pieces) > 1:
                last.after = "jump"
            return last
        pieces.append(Piece(kind))
        return pieces[-1]

    def snapshot(p: Piece) -> None:
        nonlocal in_burst
        if not in_burst:
            lo = max(0, p.cursor - SNAPSHOT_BEFORE)
            snapshots.append(p.cells[lo:p.cursor + SNAPSHOT_AFTER])
            in_burst = True

    def remove(p: Piece, lo: int, hi: int, by: int) -> None:
        lo, hi = max(0, lo), min(len(p.cells), hi)
        if hi <= lo:
            return
        left = p.cells[lo - 1] if lo > 0 else None
        right = p.cells[hi] if hi < len(p.cells) else None
        gone = p.cells[lo:hi]
        del p.cells[lo:hi]
        p.cursor, p.anchor = lo, None
        for c in gone:
            d = Deleted(c, by, [x for x in (left, right) if x is not None])
            deleted.append(d)
            pending.append(d)

    def selection(p: Piece) -> tuple[int, int] | None:
        if p.anchor is None or p.anchor == p.cursor:
            return None
        return min(p.anchor, p.cursor), max(p.anchor, p.cursor)

    def move(p: Piece, to: int, extend: bool) -> None:
        nonlocal in_burst
        to = max(0, min(len(p.cells), to))
        if extend:
            if p.anchor is None:
                p.anchor = p.cursor
        else:
            p.anchor = None
        p.cursor = to
        pending.clear()
        in_burst = False

    def word_left(p: Piece) -> int:
        i = p.cursor
        while i > 0 and not _is_word(p.cells[i - 1].char):
            i -= 1
        while i > 0 and _is_word(p.cells[i - 1].char):
            i -= 1
        return i

    def word_right(p: Piece) -> int:
        i, n = p.cursor, len(p.cells)
        while i < n and not _is_word(p.cells[i].char):
            i += 1
        while i < n and _is_word(p.cells[i].char):
            i += 1
        return i

    for i, e in enumerate(keys):
        kind = breaks.get(i)
        if kind:
            new_piece(kind)
        if (not e.down or e.redacted is not None or e.key in MODIFIER_KEYS or e.key in _NO_EDIT
                or is_composing_key(e)):
            continue
        p = pieces[-1]
        mods = set(e.modifiers)
        chord = CHORD_MODIFIERS & mods
        shift = "shift" in mods
        if is_text_key(e):
            sel = selection(p)
            if sel:
                snapshot(p)
                remove(p, sel[0], sel[1], i)
            cell = Cell(e.char or "", i, len(pieces) - 1)
            p.cells.insert(p.cursor, cell)
            p.cursor += 1
            p.anchor = None
            for d in pending:
                d.near.append(cell)
            pending.clear()
            in_burst = False
        elif e.key == "BackSpace" and chord <= {"ctrl"}:
            snapshot(p)
            sel = selection(p)
            if sel:
                remove(p, sel[0], sel[1], i)
            elif chord:
                remove(p, word_left(p), p.cursor, i)
            else:
                remove(p, p.cursor - 1, p.cursor, i)
        elif e.key in _DELETE and chord <= {"ctrl"}:
            snapshot(p)
            sel = selection(p)
            if sel:
                remove(p, sel[0], sel[1], i)
            elif chord:
                remove(p, p.cursor, word_right(p), i)
            else:
                remove(p, p.cursor, p.cursor + 1, i)
        elif not chord and e.key in _HOME:
            move(p, 0, shift)
        elif not chord and e.key in _END:
            move(p, len(p.cells), shift)
        elif e.key in _LEFT and chord <= {"ctrl"}:
            sel = selection(p)
            if sel and not shift and not chord:
                move(p, sel[0], False)
            else:
                move(p, word_left(p) if chord else p.cursor - 1, shift)
        elif e.key in _RIGHT and chord <= {"ctrl"}:
            sel = selection(p)
            if sel and not shift and not chord:
                move(p, sel[1], False)
            else:
                move(p, word_right(p) if chord else p.cursor + 1, shift)
        elif e.key in _FIELD and not chord:
            new_piece("field")
        else:
            # an unmodelled chord, Up/Down, Page keys, Insert, Escape, anything unknown:
            # where the cursor is now (and what the app did to the text) is not known
            new_piece("jump")
    return Composition(pieces, deleted, snapshots)
