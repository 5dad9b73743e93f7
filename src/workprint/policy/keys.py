"""Mask the key events behind redacted text, so stored keystrokes cannot spell a secret.

A unit (see the gate: a line or field as the user composed it) is replayed through the
line-editor model of :mod:`workprint.policy.compose`; the composed text is redacted, and
every event that contributed to a redacted value becomes a bare
``KeyEvent(t_ns, down, redacted=ENTITY)``:

* presses (and their releases, matched by keycode) of characters inside a redacted span,
  wherever in the unit they were typed (before a Home, after a Left...);
* characters typed and deleted again next to a secret or inside it (typos), and the keys
  that deleted them; the text around the cursor before every deletion burst is judged too,
  so a secret typed and then erased entirely is masked as well;
* Shift/Caps Lock/AltGr events between the first and last masked event of a value (they
  would reveal the value's letter case).

Where the model lost the cursor (a click, an unmodelled chord), the pieces are judged
alone, joined, and in the other order, and a value that reaches the edge of a piece masks
the pieces on the far side of that unknown edit too (generous: fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from ..events import KeyEvent
from .compose import CASE_KEYS, SNAPSHOT_BEFORE, Cell, Composition, compose
from .redact_text import Redactor

#: At a cut (a unit longer than the gate's cap), the characters before the cut that are
#: masked whatever they are: a value the next keys complete may have begun there.
SEAM_MIN, SEAM_MAX = 32, 256

#: (cells or None for context characters, their text)
_Candidate = tuple[list["Cell | None"], str]


@dataclass(slots=True)
class UnitMask:
    """A judged unit: its events (secret-bearing ones masked), the composed text with
    placeholders, the composed text as typed (memory only) and the values found in it."""

    events: list[KeyEvent]
    text: str
    composed: str
    secrets: list[str]

    @property
    def masked(self) -> bool:
        return any(e.redacted for e in self.events)


def mask_typing_run(keys: list[KeyEvent], redactor: Redactor) -> tuple[list[KeyEvent], str]:
    """Return the run's key events with secret-bearing ones masked, and the redacted text."""
    unit = mask_unit(keys, redactor)
    return unit.events, unit.text


def mask_unit(keys: list[KeyEvent], redactor: Redactor, *,
              breaks: Mapping[int, str] | None = None, context: str = "",
              line_rule: Callable[[str], "tuple[int, str] | None"] | None = None,
              seam: bool = False) -> UnitMask:
    """Judge one unit. ``breaks``: boundaries the keys do not show (index -> ``"jump"``);
    ``context``: text typed just before the unit (already stored, judged with it);
    ``line_rule(text)``: ``(start, entity)`` when ``text[start:]`` must be masked whatever
    the detectors say (a line inside a key block, a credential's value); ``seam``: the unit is cut here by a cap - mask its trailing token."""
    comp = compose(keys, breaks)
    composed = comp.text
    secrets: list[str] = []
    rule = line_rule(composed) if line_rule is not None else None
    if rule is not None:
        start, entity = rule
        _mask_all(comp.cells()[start:], entity)
        if start == 0:
            _mask_all([d.cell for d in comp.deleted], entity)
        if composed[start:].strip():
            secrets.append(composed[start:].strip())
    for cells, text in _candidates(comp, context):
        for sp in redactor.detect(text):
            hit = [c for c in cells[sp.start:sp.end] if c is not None]
            if not hit:
                continue
            secrets.append(text[sp.start:sp.end])
            _mask_all(hit, sp.entity)
            _spread_across_jumps(comp, hit, sp.entity)
    for snap in comp.snapshots:
        text = "".join(c.char for c in snap)
        for sp in redactor.detect(text):
            _mask_all(snap[sp.start:sp.end], sp.entity)
    if seam:
        _mask_seam(comp)
    for d in reversed(comp.deleted):   # latest first: a typo next to a deleted typo
        if d.cell.mask is None:
            d.cell.mask = next((n.mask for n in d.near if n.mask), None)

    masked: dict[int, str] = {}
    for c in comp.cells():
        if c.mask:
            masked[c.press] = c.mask
    for d in comp.deleted:
        if d.cell.mask:
            masked.setdefault(d.cell.press, d.cell.mask)
            masked.setdefault(d.by, d.cell.mask)
    _mask_case_keys(keys, masked)
    _mask_releases(keys, masked)
    out = [KeyEvent(t_ns=e.t_ns, down=e.down, redacted=masked[i]) if i in masked else e
           for i, e in enumerate(keys)]
    return UnitMask(out, _placeholder_text(comp), composed, list(dict.fromkeys(secrets)))


def _candidates(comp: Composition, context: str) -> list[_Candidate]:
    """The readings of a unit to judge: all pieces joined (after ``context``); and when the
    cursor was lost, each piece alone and, across a jump, the piece before the start of the
    previous piece and before the start of the unit (bounded heads: linear work)."""
    pieces = [p for p in comp.pieces if p.cells]
    joined: list[Cell | None] = [None] * len(context)
    joined += comp.cells()
    out: list[_Candidate] = [(joined, context + comp.text)]
    if len(pieces) > 1:
        before: list[Cell] = []
        for k, p in enumerate(pieces):
            out.append((list(p.cells), p.text))
            if k and p.after == "jump":
                prev = pieces[k - 1].cells[:SNAPSHOT_BEFORE]
                heads = [prev] if before[:len(prev)] == prev else [prev, before[:SNAPSHOT_BEFORE]]
                for head in heads:
                    cells: list[Cell | None] = [*p.cells, *head]
                    out.append((cells, "".join(c.char for c in cells if c is not None)))
            before += p.cells
    return out


def _spread_across_jumps(comp: Composition, hit: list[Cell], entity: str) -> None:
    """A value that reaches the edge of a piece next to an unknown edit may continue on the
    other side of it: mask that neighbouring piece whole."""
    pieces = comp.pieces
    touched = {c.piece for c in hit}
    for k in touched:
        cells = pieces[k].cells
        if not cells:
            continue
        if cells[0] in hit and k > 0 and pieces[k].after == "jump":
            _mask_all(pieces[k - 1].cells, entity)
        if cells[-1] in hit and k + 1 < len(pieces) and pieces[k + 1].after == "jump":
            _mask_all(pieces[k + 1].cells, entity)


def _mask_all(cells: list[Cell], entity: str) -> None:
    for c in cells:
        if c.mask is None:
            c.mask = entity


def _mask_seam(comp: Composition) -> None:
    cells = comp.cells()
    n, i = len(cells), len(cells)
    while i > 0 and (n - i < SEAM_MIN or not cells[i - 1].char.isspace()) and n - i < SEAM_MAX:
        i -= 1
    _mask_all(cells[i:], "SECRET")


def _placeholder_text(comp: Composition) -> str:
    out: list[str] = []
    last: str | None = None
    for c in comp.cells():
        if c.mask:
            if c.mask != last:
                out.append(f"<{c.mask}>")
        else:
            out.append(c.char)
        last = c.mask
    return "".join(out)


def _mask_case_keys(keys: list[KeyEvent], masked: dict[int, str]) -> None:
    if not masked:
        return
    idx = sorted(masked)
    for a, b in zip(idx, idx[1:]):
        if masked[a] != masked[b]:
            continue
        for j in range(a + 1, b):
            if keys[j].key in CASE_KEYS:
                masked[j] = masked[a]
    for m in idx:  # Shift pressed just before the value's first character
        j = m - 1
        while j >= 0 and keys[j].key in CASE_KEYS:
            masked.setdefault(j, masked[m])
            j -= 1


def _mask_releases(keys: list[KeyEvent], masked: dict[int, str]) -> None:
    """A release is masked iff its press (same keycode, most recent open) is."""
    open_press: dict[tuple[int, str], int] = {}
    for i, e in enumerate(keys):
        ident = (e.keycode, e.key if not e.keycode else "")
        if e.down:
            open_press[ident] = i
        else:
            j = open_press.pop(ident, None)
            if j is not None and j in masked:
                masked[i] = masked[j]
