"""Action code: one line (or two) of pyautogui / ``computer.*`` per action, in the forms
OpenCUA's AgentNet data uses. Pure functions.

Grammar (``X``, ``Y`` are coordinates normalised to [0, 1] by the logical screen size,
written with 4 decimals; ``S`` and ``K`` are string literals, see below)::

    click        pyautogui.click(x=X, y=Y[, button=S][, modifiers=[K, ...]])
    doubleClick  pyautogui.doubleClick(x=X, y=Y[, button=S][, modifiers=[K, ...]])
    tripleClick  computer.tripleClick(x=X, y=Y[, button=S][, modifiers=[K, ...]])
    rightClick   pyautogui.rightClick(x=X, y=Y[, modifiers=[K, ...]])
    middleClick  pyautogui.middleClick(x=X, y=Y[, modifiers=[K, ...]])
    drag         pyautogui.moveTo(x=X, y=Y)
                 pyautogui.dragTo(x=X, y=Y, button=S[, modifiers=[K, ...]])
    scroll       pyautogui.moveTo(x=X, y=Y)
                 pyautogui.scroll(N)                      N ticks, > 0 up
    hscroll      pyautogui.moveTo(x=X, y=Y)
                 pyautogui.hscroll(N)                     N ticks, > 0 right
    write        pyautogui.write(message=S)
    press        pyautogui.press(keys=[K])
    hotkey       pyautogui.hotkey(keys=[K, K, ...])
    wait         computer.wait()
    end          computer.terminate(status='success' | 'failure')

``button`` is written only when it is not the kind's own button (a right-button double
click). ``modifiers`` lists the pyautogui names of the keys held during a mouse action
(ctrl+click); it is workprint's only addition to the vocabulary, and a keyword argument so
that parsers which do not know it still read the click. A terminate step exists only for
a task whose outcome was labelled.

String literals are single-quoted and never contain a quote character or a square
bracket: inside them ``\\`` is ``\\\\``, ``'`` is ``\\x27``, ``"`` is ``\\x22``, ``[`` is ``\\x5b``,
``]`` is ``\\x5d``, newline/CR/tab are ``\\n``/``\\r``/``\\t`` and other unprintable characters
``\\xNN``/``\\uNNNN``/``\\UNNNNNNNN``. So a Python parser (``ast``) recovers the text exactly,
and a regex that reads from an opening quote to the next quote (or from ``keys=[`` to the
next ``]``) always gets the whole literal, whose escapes then decode to the exact text.
"""

from __future__ import annotations

from typing import Sequence

from ..events import Action

#: Action kinds whose code is a click at one point.
CLICKS = ("click", "doubleClick", "tripleClick", "rightClick", "middleClick")
#: The button a click kind implies (others are written as ``button=``).
OWN_BUTTON = {"click": "left", "doubleClick": "left", "tripleClick": "left",
              "rightClick": "right", "middleClick": "middle"}
#: Function names per action kind (the code line's callee).
FUNCTION = {
    "click": "pyautogui.click", "doubleClick": "pyautogui.doubleClick",
    "tripleClick": "computer.tripleClick", "rightClick": "pyautogui.rightClick",
    "middleClick": "pyautogui.middleClick", "drag": "pyautogui.dragTo",
    "scroll": "pyautogui.scroll", "hscroll": "pyautogui.hscroll",
    "write": "pyautogui.write", "press": "pyautogui.press", "hotkey": "pyautogui.hotkey",
    "wait": "computer.wait", "end": "computer.terminate",
}
_ESCAPES = {"\\": "\\\\", "'": "\\x27", '"': "\\x22", "[": "\\x5b", "]": "\\x5d",
            "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(s: str) -> str:
    """``s`` as a single-quoted Python literal holding no quote character or bracket."""
    out = []
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch.isprintable():
            out.append(ch)
        else:
            n = ord(ch)
            out.append(f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}")
    return "'" + "".join(out) + "'"


def key_list(keys: Sequence[str]) -> str:
    return "[" + ", ".join(quote(k) for k in keys) + "]"


def status_of(ok: bool | None) -> str:
    return "success" if ok is True else "failure" if ok is False else "unknown"


def _xy(x: float, y: float) -> str:
    return f"x={x:.4f}, y={y:.4f}"


def action_code(a: Action, nx, ny) -> str:
    """Code for ``a``; ``nx``/``ny`` map pixel coordinates to [0, 1]."""
    k = a.kind
    mods = f", modifiers={key_list(a.keys)}" if a.keys else ""
    if k in CLICKS:
        button = ""
        if a.button not in (None, OWN_BUTTON[k]) and k in ("click", "doubleClick", "tripleClick"):
            button = f", button={quote(a.button)}"
        return f"{FUNCTION[k]}({_xy(nx(a.x), ny(a.y))}{button}{mods})"
    if k == "drag":
        return (f"pyautogui.moveTo({_xy(nx(a.x), ny(a.y))})\n"
                f"pyautogui.dragTo({_xy(nx(a.x2), ny(a.y2))}, button={quote(a.button or 'left')}{mods})")
    if k == "scroll":
        return f"pyautogui.moveTo({_xy(nx(a.x), ny(a.y))})\npyautogui.scroll({a.dy})"
    if k == "hscroll":
        return f"pyautogui.moveTo({_xy(nx(a.x), ny(a.y))})\npyautogui.hscroll({a.dx})"
    if k == "write":
        return f"pyautogui.write(message={quote(a.text or '')})"
    if k in ("press", "hotkey"):
        return f"{FUNCTION[k]}(keys={key_list(a.keys)})"
    if k == "wait":
        return "computer.wait()"
    if k == "end":
        return f"computer.terminate(status={quote(status_of(a.ok))})"
    raise ValueError(f"no code for action kind {k!r}")


def _fn(name: str, description: str, props: dict[str, tuple[str, str]],
        required: Sequence[str]) -> dict:
    types = {"number": {"type": "number"}, "integer": {"type": "integer"},
             "string": {"type": "string"},
             "keys": {"type": "array", "items": {"type": "string"}}}
    return {"name": name, "description": description, "parameters": {
        "type": "object",
        "properties": {p: {**types[t], "description": d} for p, (t, d) in props.items()},
        "required": list(required)}}


_X = ("number", "The x coordinate, a fraction of the screen width (0 to 1)")
_Y = ("number", "The y coordinate, a fraction of the screen height (0 to 1)")
_MODS = ("keys", "Modifier keys held during the action, e.g. ['ctrl']")
_BUTTON = ("string", "The mouse button: 'left', 'right' or 'middle'")

#: Every function the grammar uses, declared as JSON function specs (the way Aguvis's
#: system prompt declares its plugin functions).
FUNCTION_SPECS: dict[str, dict] = {spec["name"]: spec for spec in (
    _fn("pyautogui.click", "Click at a point", {"x": _X, "y": _Y, "button": _BUTTON,
                                                 "modifiers": _MODS}, ["x", "y"]),
    _fn("pyautogui.doubleClick", "Double click at a point",
        {"x": _X, "y": _Y, "button": _BUTTON, "modifiers": _MODS}, ["x", "y"]),
    _fn("computer.tripleClick", "Triple click at a point",
        {"x": _X, "y": _Y, "button": _BUTTON, "modifiers": _MODS}, ["x", "y"]),
    _fn("pyautogui.rightClick", "Right click at a point",
        {"x": _X, "y": _Y, "modifiers": _MODS}, ["x", "y"]),
    _fn("pyautogui.middleClick", "Middle click at a point",
        {"x": _X, "y": _Y, "modifiers": _MODS}, ["x", "y"]),
    _fn("pyautogui.moveTo", "Move the mouse pointer to a point", {"x": _X, "y": _Y}, ["x", "y"]),
    _fn("pyautogui.dragTo", "Drag from the pointer position to a point with a button held",
        {"x": _X, "y": _Y, "button": _BUTTON, "modifiers": _MODS}, ["x", "y", "button"]),
    _fn("pyautogui.scroll", "Scroll vertically at the pointer; positive is up",
        {"clicks": ("integer", "Scroll wheel ticks")}, ["clicks"]),
    _fn("pyautogui.hscroll", "Scroll horizontally at the pointer; positive is right",
        {"clicks": ("integer", "Scroll wheel ticks")}, ["clicks"]),
    _fn("pyautogui.write", "Type text", {"message": ("string", "The text to type")}, ["message"]),
    _fn("pyautogui.press", "Press a key",
        {"keys": ("keys", "One key name, e.g. ['enter']")}, ["keys"]),
    _fn("pyautogui.hotkey", "Press keys together",
        {"keys": ("keys", "Key names in press order, e.g. ['ctrl', 's']")}, ["keys"]),
    _fn("computer.wait", "Wait for the screen to change", {}, []),
    _fn("computer.terminate", "Terminate the current task and report its completion status",
        {"status": ("string", "'success' or 'failure'")}, ["status"]),
)}
FUNCTION_SPECS["computer.terminate"]["parameters"]["properties"]["status"]["enum"] = [
    "success", "failure"]


def functions_used(codes: Sequence[str]) -> list[str]:
    """The callee names in ``codes``, in first-use order (``pyautogui.moveTo`` included)."""
    seen: dict[str, None] = {}
    for code in codes:
        for line in code.splitlines():
            name = line.split("(", 1)[0].strip()
            if name:
                seen.setdefault(name, None)
    return list(seen)
