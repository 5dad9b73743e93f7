"""Key names: X keysym names as recorded <-> pyautogui key names as exported.

One table, used by the reducer (keysym -> pyautogui) and by replay (pyautogui -> keysym).
"""

from __future__ import annotations

#: Keysym names of modifier keys and the modifier they stand for.
MODIFIER_OF_KEYSYM: dict[str, str] = {
    "Shift_L": "shift", "Shift_R": "shift",
    "Control_L": "ctrl", "Control_R": "ctrl",
    "Alt_L": "alt", "Alt_R": "alt", "Meta_L": "alt", "Meta_R": "alt",
    "Super_L": "super", "Super_R": "super", "Hyper_L": "super", "Hyper_R": "super",
    "ISO_Level3_Shift": "altgr", "Mode_switch": "altgr",
    "Caps_Lock": "lock", "Shift_Lock": "lock", "Num_Lock": "numlock",
}

#: Order of modifiers inside an exported hotkey.
CHORD_ORDER = ("ctrl", "alt", "shift", "super")

#: pyautogui names of the modifiers in a hotkey.
MODIFIER_PYAUTOGUI = {"ctrl": "ctrl", "alt": "alt", "shift": "shift", "super": "win"}

_SPECIAL: dict[str, str] = {
    "Return": "enter", "KP_Enter": "enter", "Linefeed": "enter", "Tab": "tab", "ISO_Left_Tab": "tab",
    "Escape": "esc", "BackSpace": "backspace", "Delete": "delete", "KP_Delete": "delete",
    "Insert": "insert", "KP_Insert": "insert", "Home": "home", "KP_Home": "home",
    "End": "end", "KP_End": "end", "Page_Up": "pageup", "Prior": "pageup",
    "KP_Page_Up": "pageup", "KP_Prior": "pageup", "Page_Down": "pagedown",
    "Next": "pagedown", "KP_Page_Down": "pagedown", "KP_Next": "pagedown",
    "Left": "left", "Right": "right", "Up": "up", "Down": "down",
    "KP_Left": "left", "KP_Right": "right", "KP_Up": "up", "KP_Down": "down",
    "space": "space", "Menu": "apps", "Print": "printscreen", "Pause": "pause",
    "Scroll_Lock": "scrolllock", "Caps_Lock": "capslock", "Num_Lock": "numlock",
    "XF86AudioRaiseVolume": "volumeup", "XF86AudioLowerVolume": "volumedown",
    "XF86AudioMute": "volumemute", "XF86AudioPlay": "playpause",
    "XF86AudioNext": "nexttrack", "XF86AudioPrev": "prevtrack",
}
for _n in range(1, 25):
    _SPECIAL[f"F{_n}"] = f"f{_n}"

#: pyautogui name -> X keysym name (for replay).
PYAUTOGUI_TO_KEYSYM: dict[str, str] = {}
for _k, _v in _SPECIAL.items():
    PYAUTOGUI_TO_KEYSYM.setdefault(_v, _k)
PYAUTOGUI_TO_KEYSYM.update({
    "enter": "Return", "return": "Return", "escape": "Escape", "esc": "Escape",
    "del": "Delete", "ctrl": "Control_L", "ctrlleft": "Control_L", "ctrlright": "Control_R",
    "alt": "Alt_L", "altleft": "Alt_L", "altright": "Alt_R", "shift": "Shift_L",
    "shiftleft": "Shift_L", "shiftright": "Shift_R", "win": "Super_L", "winleft": "Super_L",
    "winright": "Super_R", "super": "Super_L", "command": "Super_L", "cmd": "Super_L",
    "option": "Alt_L", "pgup": "Page_Up", "pgdn": "Page_Down", "prtsc": "Print",
    "printscreen": "Print", "space": "space", " ": "space",
})

#: Keys that are "press" even though they type a character.
PRESS_KEYS = frozenset({"Return", "KP_Enter", "Linefeed", "Tab", "ISO_Left_Tab", "Escape", "BackSpace",
                        "Delete", "KP_Delete"})


def is_modifier(key: str) -> bool:
    return key in MODIFIER_OF_KEYSYM


def pyautogui_name(key: str, char: str | None) -> str:
    """The pyautogui name of a key from its keysym name (and the char it types)."""
    special = _SPECIAL.get(key)
    if special is not None:
        return special
    if len(key) == 1:
        return key.lower()
    if char is not None and len(char) == 1 and char.isprintable() and not char.isspace():
        return char.lower()
    if key.startswith("KP_") and len(key) == 4:
        return key[3:].lower()
    return key.lower()
