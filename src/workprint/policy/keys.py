"""Mask the key events behind redacted text, so stored keystrokes cannot spell a secret.

A typing run is a stretch of key events that produce text: printable characters,
BackSpace, Shift/Caps Lock. :func:`mask_typing_run` replays it as a stack of characters
(BackSpace pops), redacts the text, and replaces every event that contributed to a
redacted value by a bare ``KeyEvent(t_ns, down, redacted=ENTITY)``:

* presses (and their releases, matched by keycode) of characters inside a redacted span;
* characters typed and deleted again while the secret was being typed (typos), and the
  BackSpaces that deleted them - checked against the text just before every deletion
  burst too, so a secret typed and then erased entirely is masked as well;
* Shift/Caps Lock/AltGr events between the first and last masked event of a value (they
  would reveal the value's letter case).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import CHORD_MODIFIERS, KeyEvent
from .redact_text import Redactor

_CASE_KEYS = frozenset({"Shift_L", "Shift_R", "Caps_Lock", "ISO_Level3_Shift",
                        "Mode_switch", "ISO_Level5_Shift", "Shift_Lock"})


@dataclass(slots=True)
class _Typed:
    char: str
    down: int   # index of the press that typed it
    slot: int   # position in the text when typed


def _is_text(e: KeyEvent) -> bool:
    return (e.down and e.char is not None and e.char != "" and e.redacted is None
            and e.key != "BackSpace" and not (CHORD_MODIFIERS & set(e.modifiers))
            and e.char.isprintable())


def _is_backspace(e: KeyEvent) -> bool:
    return e.down and e.key == "BackSpace" and not (CHORD_MODIFIERS & set(e.modifiers))


def mask_typing_run(keys: list[KeyEvent], redactor: Redactor) -> tuple[list[KeyEvent], str]:
    """Return the run's key events with secret-bearing ones masked, and the redacted text."""
    stack: list[_Typed] = []
    deleted: list[tuple[_Typed, int, int]] = []   # (char, backspace index, snapshot no.)
    snapshots: list[list[_Typed]] = []
    prev_bs = False
    for i, e in enumerate(keys):
        if _is_backspace(e):
            if not prev_bs:
                snapshots.append(list(stack))
            prev_bs = True
            if stack:
                deleted.append((stack.pop(), i, len(snapshots)))
        elif _is_text(e):
            prev_bs = False
            stack.append(_Typed(e.char or "", i, len(stack)))
        elif e.down and e.key not in _CASE_KEYS:
            prev_bs = False
    snapshots.append(list(stack))

    masked: dict[int, str] = {}            # event index -> entity
    spans_by_snap: list[list[tuple[int, int, str]]] = []
    for snap in snapshots:
        text = "".join(t.char for t in snap)
        spans = [(sp.start, sp.end, sp.entity) for sp in redactor.detect(text)]
        spans_by_snap.append(spans)
        for s, e_, ent in spans:
            for t in snap[s:e_]:
                masked.setdefault(t.down, ent)
    # a deleted character whose slot lies inside a value redacted in a later snapshot
    for typed, bs_index, snap_no in deleted:
        ent = masked.get(typed.down)
        if ent is None:
            for spans in spans_by_snap[snap_no:]:
                ent = next((en for s, e_, en in spans if s <= typed.slot < e_), None)
                if ent:
                    masked[typed.down] = ent
                    break
        if ent is not None:
            masked[bs_index] = ent

    _mask_case_keys(keys, masked)
    _mask_releases(keys, masked)
    out = [KeyEvent(t_ns=e.t_ns, down=e.down, redacted=masked[i]) if i in masked else e
           for i, e in enumerate(keys)]
    final_text = "".join(t.char for t in snapshots[-1])
    return out, redactor.redact(final_text).text


def _mask_case_keys(keys: list[KeyEvent], masked: dict[int, str]) -> None:
    if not masked:
        return
    idx = sorted(masked)
    for a, b in zip(idx, idx[1:]):
        if masked[a] != masked[b]:
            continue
        for j in range(a + 1, b):
            if keys[j].key in _CASE_KEYS:
                masked[j] = masked[a]
    for m in idx:  # Shift pressed just before the value's first character
        j = m - 1
        while j >= 0 and keys[j].key in _CASE_KEYS:
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
