"""A strict reader of exported action code, written from the grammar documented in
README ("Formats") and ``workprint/export/code.py`` - not from any consumer's parser.

``parse(code)`` returns the calls as ``[(function, positional, keywords)]`` and raises
``GrammarError`` on anything outside the grammar; ``check(code)`` also checks each line
against the documented form of its action and returns the decoded action as plain data.
"""

from __future__ import annotations

import re

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
COORD = re.compile(r"(?:0|1)\.\d{4}$")
CALL = re.compile(r"^(pyautogui|computer)\.([A-Za-z]+)\((.*)\)$")
#: escapes the grammar allows inside a string literal
SIMPLE = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
HEX = {"x": 2, "u": 4, "U": 8}


class GrammarError(ValueError):
    pass


def _string(s: str, i: int) -> tuple[str, int]:
    if s[i] != "'":
        raise GrammarError(f"string must open with a single quote at {i}: {s!r}")
    i += 1
    out = []
    while True:
        if i >= len(s):
            raise GrammarError(f"unterminated string: {s!r}")
        ch = s[i]
        if ch == "'":
            return "".join(out), i + 1
        if ch in "\"[]":
            raise GrammarError(f"raw {ch!r} inside a string literal: {s!r}")
        if ch == "\\":
            nxt = s[i + 1]
            if nxt in SIMPLE:
                out.append(SIMPLE[nxt])
                i += 2
            elif nxt in HEX:
                n = HEX[nxt]
                digits = s[i + 2:i + 2 + n]
                if len(digits) != n or not re.fullmatch(r"[0-9a-f]+", digits):
                    raise GrammarError(f"bad \\{nxt} escape in {s!r}")
                out.append(chr(int(digits, 16)))
                i += 2 + n
            else:
                raise GrammarError(f"escape \\{nxt} is not in the grammar: {s!r}")
        else:
            if not ch.isprintable():
                raise GrammarError(f"unprintable {ch!r} not escaped: {s!r}")
            out.append(ch)
            i += 1


def _value(s: str, i: int):
    if s[i] == "'":
        return _string(s, i)
    if s[i] == "[":
        items = []
        i += 1
        while s[i] != "]":
            v, i = _string(s, i)
            items.append(v)
            if s[i] == ",":
                if s[i:i + 2] != ", ":
                    raise GrammarError(f"list items are separated by ', ': {s!r}")
                i += 2
            elif s[i] != "]":
                raise GrammarError(f"bad list: {s!r}")
        return items, i + 1
    m = NUMBER.match(s, i)
    if not m:
        raise GrammarError(f"no value at {i}: {s!r}")
    text = m.group()
    return (float(text) if "." in text else int(text), text), m.end()


def parse_line(line: str) -> tuple[str, list, dict]:
    m = CALL.match(line)
    if not m:
        raise GrammarError(f"not a pyautogui/computer call: {line!r}")
    name = f"{m.group(1)}.{m.group(2)}"
    args, i = m.group(3), 0
    pos: list = []
    kw: dict = {}
    while i < len(args):
        km = re.compile(r"([a-z]+)=").match(args, i)
        if km:
            key = km.group(1)
            if key in kw:
                raise GrammarError(f"repeated keyword {key}: {line!r}")
            kw[key], i = _value(args, km.end())
        else:
            if kw:
                raise GrammarError(f"positional after keyword: {line!r}")
            v, i = _value(args, i)
            pos.append(v)
        if i < len(args):
            if args[i:i + 2] != ", ":
                raise GrammarError(f"arguments are separated by ', ': {line!r}")
            i += 2
    return name, pos, kw


def parse(code: str) -> list[tuple[str, list, dict]]:
    return [parse_line(line) for line in code.split("\n")]


def _coord(v, what: str) -> float:
    if not (isinstance(v, tuple) and COORD.match(v[1])):
        raise GrammarError(f"{what} must be a 4-decimal number in [0, 1], got {v!r}")
    x = v[0]
    if not 0 <= x <= 1:
        raise GrammarError(f"{what} out of [0, 1]: {x}")
    return x


def _keys(v, what: str) -> list[str]:
    if not (isinstance(v, list) and v and all(isinstance(k, str) and k for k in v)):
        raise GrammarError(f"{what} must be a non-empty list of key names, got {v!r}")
    return v


CLICK_FUNCS = {"pyautogui.click": "click", "pyautogui.doubleClick": "doubleClick",
               "computer.tripleClick": "tripleClick", "pyautogui.rightClick": "rightClick",
               "pyautogui.middleClick": "middleClick"}
BUTTONS = {"left", "right", "middle"}


def check(code: str) -> dict:
    """Check ``code`` against the documented form of one action; return it decoded."""
    calls = parse(code)
    name, pos, kw = calls[0]
    if len(calls) == 2:
        if name != "pyautogui.moveTo" or pos or set(kw) != {"x", "y"}:
            raise GrammarError(f"a two-line action starts with moveTo(x=, y=): {code!r}")
        x, y = _coord(kw["x"], "x"), _coord(kw["y"], "y")
        name2, pos2, kw2 = calls[1]
        if name2 == "pyautogui.dragTo":
            if pos2 or not {"x", "y", "button"} <= set(kw2) <= {"x", "y", "button", "modifiers"}:
                raise GrammarError(f"dragTo(x=, y=, button=[, modifiers=]): {code!r}")
            if kw2["button"] not in BUTTONS:
                raise GrammarError(f"bad button: {code!r}")
            return {"kind": "drag", "x": x, "y": y, "x2": _coord(kw2["x"], "x"),
                    "y2": _coord(kw2["y"], "y"), "button": kw2["button"],
                    "modifiers": _keys(kw2["modifiers"], "modifiers") if "modifiers" in kw2 else []}
        if name2 in ("pyautogui.scroll", "pyautogui.hscroll"):
            if kw2 or len(pos2) != 1 or not isinstance(pos2[0], tuple) or not isinstance(pos2[0][0], int):
                raise GrammarError(f"scroll/hscroll take one integer: {code!r}")
            n = pos2[0][0]
            if n == 0:
                raise GrammarError(f"a scroll of 0 ticks: {code!r}")
            return {"kind": name2.split(".")[1], "x": x, "y": y, "ticks": n}
        raise GrammarError(f"moveTo is followed by dragTo, scroll or hscroll: {code!r}")
    if len(calls) != 1:
        raise GrammarError(f"an action is one line, or moveTo + one line: {code!r}")
    if name in CLICK_FUNCS:
        kind = CLICK_FUNCS[name]
        allowed = {"x", "y", "modifiers"} | ({"button"} if kind in ("click", "doubleClick", "tripleClick") else set())
        if pos or not {"x", "y"} <= set(kw) <= allowed:
            raise GrammarError(f"{name}(x=, y=[, button=][, modifiers=]): {code!r}")
        if "button" in kw and kw["button"] not in BUTTONS - {"left"}:
            raise GrammarError(f"button is written only when not left: {code!r}")
        return {"kind": kind, "x": _coord(kw["x"], "x"), "y": _coord(kw["y"], "y"),
                "button": kw.get("button", {"rightClick": "right", "middleClick": "middle"}.get(kind, "left")),
                "modifiers": _keys(kw["modifiers"], "modifiers") if "modifiers" in kw else []}
    if name == "pyautogui.write":
        if pos or set(kw) != {"message"} or not isinstance(kw["message"], str):
            raise GrammarError(f"write(message='...'): {code!r}")
        return {"kind": "write", "text": kw["message"]}
    if name in ("pyautogui.press", "pyautogui.hotkey"):
        if pos or set(kw) != {"keys"}:
            raise GrammarError(f"{name}(keys=[...]): {code!r}")
        keys = _keys(kw["keys"], "keys")
        if name == "pyautogui.press" and len(keys) != 1:
            raise GrammarError(f"press holds one key: {code!r}")
        return {"kind": name.split(".")[1], "keys": keys}
    if name == "computer.wait":
        if pos or kw:
            raise GrammarError(f"wait() takes nothing: {code!r}")
        return {"kind": "wait"}
    if name == "computer.terminate":
        if pos or set(kw) != {"status"} or kw["status"] not in ("success", "failure"):
            raise GrammarError(f"terminate(status='success'|'failure'): {code!r}")
        return {"kind": "end", "status": kw["status"]}
    raise GrammarError(f"{name} is not in the grammar: {code!r}")
