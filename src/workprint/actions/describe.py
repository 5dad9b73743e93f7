"""A plain-English description of one action (what a person did, not why). Pure.

Used for AgentNet's ``value.action`` and Aguvis's "Previous actions" history. It says only
what the recording shows: the kind of action, keys and typed text, and what it acted on -
the UI element when the platform named it ("Click the 'Save' button in Gedit", "Type
'report' into the 'File name' field"), else where on the screen (fractions of the screen).
It never invents intent.
"""

from __future__ import annotations

from typing import Callable

from ..events import Action, ElementEvent

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


#: AT-SPI role names as a person says them (others are used as they are)
_ROLE_WORDS = {"push button": "button", "toggle button": "toggle button", "check box": "checkbox",
               "radio button": "radio button", "text": "field", "entry": "field",
               "password text": "password field", "spin button": "spin box", "combo box": "drop-down",
               "page tab": "tab", "menu item": "menu item", "check menu item": "menu item",
               "radio menu item": "menu item", "table cell": "cell", "list item": "list item",
               "tree item": "item", "document web": "page", "document frame": "document",
               "scroll bar": "scroll bar", "slider": "slider", "link": "link", "label": "label",
               "icon": "icon", "image": "image", "heading": "heading", "menu": "menu"}
_NAME_MAX = 60


def role_word(role: str) -> str:
    return _ROLE_WORDS.get(role, role)


def _quoted(name: str) -> str:
    name = " ".join(name.split())
    if len(name) > _NAME_MAX:
        name = name[:_NAME_MAX - 1] + "…"
    return f"'{name}'"


def element_phrase(el: ElementEvent, *, with_app: bool = True) -> str | None:
    """"the 'Save' button in Gedit" - or None when the element has no name (an unnamed
    element says too little to replace the coordinates)."""
    if not el.name.strip():
        return None
    phrase = f"the {_quoted(el.name)} {role_word(el.role)}"
    if with_app and el.app:
        phrase += f" in {el.app}"
    return phrase


def describe(a: Action, nx: Callable[[int], float], ny: Callable[[int], float]) -> str:
    """One sentence for ``a``; ``nx``/``ny`` normalise pixel coordinates."""
    if a.element is not None:
        text = describe_on_element(a, a.element, nx, ny)
        if text:
            return text
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


def describe_on_element(a: Action, el: ElementEvent, nx: Callable[[int], float],
                        ny: Callable[[int], float]) -> str | None:
    """The sentence naming the element acted on, or None (then coordinates are used)."""
    k = a.kind
    target = element_phrase(el)
    if target is None:
        return None
    if k in _CLICK_WORDS:
        word = _CLICK_WORDS[k]
        if a.button not in (None, "left") and k in ("click", "doubleClick", "tripleClick"):
            word = f"{word} with the {a.button} button"
        if a.keys:
            word = f"{_chord(a.keys)}+" + word[0].lower() + word[1:]
        return f"{word} {target}."
    if k == "drag":
        held = f" holding {_chord(a.keys)}" if a.keys else ""
        return f"Drag from {target} to {_at(nx(a.x2), ny(a.y2))}{held}."
    if k in ("scroll", "hscroll"):
        n = a.dy if k == "scroll" else a.dx
        way = ("up" if n > 0 else "down") if k == "scroll" else ("right" if n > 0 else "left")
        return f"Scroll {way} {_ticks(abs(n))} in {target}."
    inside = element_phrase(el, with_app=False)
    if k == "write":
        return f"Type {a.text or ''!r} into {inside}."
    if k in ("press", "hotkey"):
        return f"Press {_chord(a.keys)} in {inside}."
    return None
