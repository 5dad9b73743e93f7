"""Builders of synthetic raw event streams for reducer/export tests."""

from __future__ import annotations

from workprint.events import ButtonEvent, KeyEvent, MoveEvent, RawEvent

MS = 1_000_000

_NAMES = {" ": "space", "\n": "Return", "\t": "Tab", "-": "minus", ".": "period", ",": "comma"}


def keysym_name(ch: str) -> str:
    return _NAMES.get(ch, ch)


class Stream:
    """Appends events at an advancing clock (ms resolution)."""

    def __init__(self, t0_ms: int = 1000):
        self.t = t0_ms * MS
        self.events: list[RawEvent] = []

    def at(self, dt_ms: float) -> int:
        self.t += int(dt_ms * MS)
        return self.t

    def add(self, e: RawEvent) -> "Stream":
        self.events.append(e)
        return self

    def move(self, x: int, y: int, dt: float = 10) -> "Stream":
        return self.add(MoveEvent(self.at(dt), x, y))

    def down(self, x: int, y: int, button: str = "left", dt: float = 20) -> "Stream":
        return self.add(ButtonEvent(self.at(dt), True, x, y, button))

    def up(self, x: int, y: int, button: str = "left", dt: float = 60) -> "Stream":
        return self.add(ButtonEvent(self.at(dt), False, x, y, button))

    def click(self, x: int, y: int, button: str = "left", dt: float = 200) -> "Stream":
        self.down(x, y, button, dt)
        return self.up(x, y, button)

    def key(self, key: str, char: str | None = None, keycode: int = 0, mods: tuple = (),
            dt: float = 80, hold: float = 40) -> "Stream":
        code = keycode or (sum(map(ord, key)) % 200) + 9
        self.add(KeyEvent(self.at(dt), True, code, 0, key, char, mods))
        return self.add(KeyEvent(self.at(hold), False, code, 0, key, char, mods))

    def keydown(self, key: str, keycode: int, char: str | None = None, mods: tuple = (), dt: float = 50):
        return self.add(KeyEvent(self.at(dt), True, keycode, 0, key, char, mods))

    def keyup(self, key: str, keycode: int, char: str | None = None, mods: tuple = (), dt: float = 50):
        return self.add(KeyEvent(self.at(dt), False, keycode, 0, key, char, mods))

    def type(self, text: str, dt: float = 80) -> "Stream":
        for ch in text:
            if ch == "\b":
                self.key("BackSpace", "\b", 22, dt=dt)
            elif ch.isupper():
                self.keydown("Shift_L", 50, dt=dt)
                self.key(ch, ch, ord(ch.lower()) % 200 + 9, mods=("shift",), dt=10)
                self.keyup("Shift_L", 50, dt=10)
            else:
                self.key(keysym_name(ch), ch, ord(ch) % 200 + 9, dt=dt)
        return self

    def chord(self, *keys: str, dt: float = 100) -> "Stream":
        mods = {"ctrl": ("Control_L", 37), "alt": ("Alt_L", 64), "shift": ("Shift_L", 50),
                "super": ("Super_L", 133)}
        held: list[str] = []
        for k in keys[:-1]:
            name, code = mods[k]
            self.add(KeyEvent(self.at(dt), True, code, 0, name, None, tuple(held)))
            held.append(k)
        last = keys[-1]
        self.add(KeyEvent(self.at(30), True, 99, 0, last, last if len(last) == 1 else None, tuple(held)))
        self.add(KeyEvent(self.at(30), False, 99, 0, last, last if len(last) == 1 else None, tuple(held)))
        for k in reversed(keys[:-1]):
            name, code = mods[k]
            held.remove(k)
            self.add(KeyEvent(self.at(20), False, code, 0, name, None, tuple(held + [k])))
        return self
