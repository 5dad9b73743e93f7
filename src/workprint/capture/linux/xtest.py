"""Synthetic input on X11 through the XTEST extension: the injector of ``workprint replay``
(an :class:`~workprint.export.replay.Injector`)."""

from __future__ import annotations

import os
import time

from ...actions.keys import PYAUTOGUI_TO_KEYSYM
from ...errors import NoDisplayError
from ...export.common import ExportError

_BUTTONS = {"left": 1, "middle": 2, "right": 3, "x1": 8, "x2": 9}
_CHAR_KEYSYMS = {"\n": "Return", "\r": "Return", "\t": "Tab", " ": "space", "\b": "BackSpace"}


class X11Injector:
    """Synthetic input through the XTEST extension (python-xlib)."""

    def __init__(self, display_name: str | None = None):
        from Xlib import X, XK, display as xdisplay, error as xerror  # noqa: F401
        from Xlib.ext import xtest

        name = display_name or os.environ.get("DISPLAY")
        if not name:
            raise NoDisplayError("No X display: DISPLAY is not set. Run replay inside an X session "
                                 "(or start one, e.g. `Xvfb -displayfd 1`), or use --dry-run.")
        try:
            self.d = xdisplay.Display(name)
        except Exception as exc:  # Xlib raises several unrelated types here
            raise NoDisplayError(f"Cannot open X display {name!r}: {exc}. Check DISPLAY/XAUTHORITY, "
                                 f"or use --dry-run.") from exc
        if not self.d.query_extension("XTEST").present:
            self.d.close()
            raise NoDisplayError(f"X display {name!r} lacks the XTEST extension needed to replay.")
        self.X, self.XK, self.xtest = X, XK, xtest
        self.root = self.d.screen().root
        self._free: list[int] | None = None
        self._bound: dict[int, int] = {}   # keysym -> keycode bound by us

    def screen_size(self) -> tuple[int, int]:
        s = self.d.screen()
        return s.width_in_pixels, s.height_in_pixels

    def pointer(self) -> tuple[int, int]:
        p = self.root.query_pointer()
        return p.root_x, p.root_y

    def _fake(self, event: int, detail: int = 0, x: int = 0, y: int = 0) -> None:
        if event == self.X.MotionNotify:
            self.xtest.fake_input(self.d, event, x=x, y=y)
        else:
            self.xtest.fake_input(self.d, event, detail)
        self.d.sync()

    def move(self, x: int, y: int) -> None:
        self._fake(self.X.MotionNotify, x=x, y=y)

    def button(self, button: str, down: bool) -> None:
        n = _BUTTONS.get(button)
        if n is None:
            raise ExportError(f"Cannot replay mouse button {button!r}.")
        self._fake(self.X.ButtonPress if down else self.X.ButtonRelease, n)

    def scroll(self, dx: int, dy: int) -> None:
        n = (4 if dy > 0 else 5) if dy else (7 if dx > 0 else 6)
        self._fake(self.X.ButtonPress, n)
        self._fake(self.X.ButtonRelease, n)

    # keys
    def _keysym(self, name: str) -> int:
        xname = PYAUTOGUI_TO_KEYSYM.get(name, name)
        sym = self.XK.string_to_keysym(xname)
        if not sym and len(name) == 1:
            sym = self._char_keysym(name)
        if not sym:
            raise ExportError(f"Unknown key {name!r}; cannot replay it.")
        return sym

    @staticmethod
    def _char_keysym(ch: str) -> int:
        o = ord(ch)
        if 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xFF:
            return o
        return 0x01000000 | o

    def _keycode(self, sym: int) -> tuple[int, int]:
        """(keycode, shift level 0/1) for a keysym, binding a spare keycode if needed."""
        for code, index in self.d.keysym_to_keycodes(sym):
            if index in (0, 1):
                return code, index
        return self._bind_spare(sym), 0

    def _bind_spare(self, sym: int) -> int:
        """Bind ``sym`` to a free keycode (each keysym its own, round-robin when they run
        out) so a client that resolves keysyms late still sees the right character."""
        if sym in self._bound:
            return self._bound[sym]
        if self._free is None:
            first = self.d.display.info.min_keycode
            count = self.d.display.info.max_keycode - first + 1
            mapping = self.d.get_keyboard_mapping(first, count)
            self._free = [first + i for i, syms in enumerate(mapping) if not any(syms)]
            if not self._free:
                raise ExportError("No free keycode to type a character this keyboard map lacks.")
        code = self._free[len(self._bound) % len(self._free)]
        for old, c in list(self._bound.items()):
            if c == code:
                del self._bound[old]
        self.d.change_keyboard_mapping(code, [(sym, sym)])
        self.d.sync()
        time.sleep(0.02)  # let clients pick up the MappingNotify
        self._bound[sym] = code
        return code

    def key(self, name: str, down: bool) -> None:
        code, _ = self._keycode(self._keysym(name))
        self._fake(self.X.KeyPress if down else self.X.KeyRelease, code)

    def type_char(self, ch: str) -> None:
        name = _CHAR_KEYSYMS.get(ch)
        sym = self.XK.string_to_keysym(name) if name else self._char_keysym(ch)
        code, level = self._keycode(sym)
        shift = self.d.keysym_to_keycode(self.XK.string_to_keysym("Shift_L")) if level else 0
        if shift:
            self._fake(self.X.KeyPress, shift)
        self._fake(self.X.KeyPress, code)
        self._fake(self.X.KeyRelease, code)
        if shift:
            self._fake(self.X.KeyRelease, shift)

    def close(self) -> None:
        for code in sorted(set(self._bound.values())):
            self.d.change_keyboard_mapping(code, [(0, 0)])
        self._bound.clear()
        self.d.sync()
        self.d.close()
