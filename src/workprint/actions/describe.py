"""A plain-English description of one action (what a person did, not why). Pure.

Used for AgentNet's ``value.action`` and Aguvis's "Previous actions" history. It says only
what the recording shows: the kind of action, where on the screen (as fractions of the
screen), keys and typed text. It never names the element clicked - workprint does not
know it - and never invents intent.
"""

from __future__ import annotations

from typing import Callable

from ..events import Action

_CLICK_WORDS = {"click": "Click", "doubleClick": "Double-click", "tripleClick": "Triple-click",
                "rightClick": "Right-click", "middleClick": "Middle-click"}
_KEY_WORDS = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "win": "Super", "esc": "Escape",
              "pageup": "Page Up", "pagedown": "Page Down", "backspace": "Backspace"}


def key_word(key: str) -> str:
    if key in _KEY_WORDS:
        return _KEY_WORDS[key]
    return key.upper() if len(key) == 1 else key.capitalize()


def _chord(keys) -> str:
    return "+".join(key_word(k) for k in keys)


def _at(x: float, y: float) -> str:
    return f"({x:.4f}, {y:.4f})"


def _ticks(n: int) -> str:
    return f"{n} tick" + ("s" if n != 1 else "")


def describe(a: Action, nx: Callable[[int], float], ny: Callable[[int], float]) -> str:
    """One sentence for ``a``; ``nx``/``ny`` normalise pixel coordinates."""
    k = a.kind
    if k in _CLICK_WORDS:
        word = _CLICK_WORDS[k]
        if a.button not in (None, "left") and k in ("click", "doubleClick", "tripleClick"):
            word = f"{word} with the {a.button} button"
        held = f"{_chord(a.keys)}+" if a.keys else ""
        if held:
            word = held + word[0].lower() + word[1:]
        return f"{word} at {_at(nx(a.x), ny(a.y))}."
    if k == "drag":
        held = f" holding {_chord(a.keys)}" if a.keys else ""
        return (f"Drag from {_at(nx(a.x), ny(a.y))} to {_at(nx(a.x2), ny(a.y2))}"
                f"{held}.")
    if k == "scroll":
        return f"Scroll {'up' if a.dy > 0 else 'down'} {_ticks(abs(a.dy))} at {_at(nx(a.x), ny(a.y))}."
    if k == "hscroll":
        return f"Scroll {'right' if a.dx > 0 else 'left'} {_ticks(abs(a.dx))} at {_at(nx(a.x), ny(a.y))}."
    if k == "write":
        return f"Type {a.text or ''!r}."
    if k == "press":
        return f"Press {_chord(a.keys)}."
    if k == "hotkey":
        return f"Press {_chord(a.keys)}."
    if k == "wait":
        return "Wait for the screen to change."
    if k == "end":
        return {True: "The task is done.", False: "The task failed."}.get(a.ok, "Stop.")
    return ""
