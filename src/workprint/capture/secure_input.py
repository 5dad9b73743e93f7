"""The secure-input probe of the safeguard gate on Linux: which platform signal answers
"is the focused field reading a secret?" for the window in front.

* terminal emulators: the pty's termios flags (:mod:`.linux_tty`) - a prompt with echo off
  is a password prompt, whatever its wording; a remote shell in front is "unknown";
* every other app: AT-SPI (:mod:`.atspi`) - the last focused accessible of that process is
  a password field (role "password text", or Chromium's ``text-input-type=password``).
  An app that does not speak AT-SPI (or a browser started without
  ``--force-renderer-accessibility``) gives no answer: its keys are treated as ordinary
  text and still pass text redaction.

``probe(focus) -> True | False | None``; the gate fails closed on None.
"""

from __future__ import annotations

import os

from ..events import FocusEvent
from .linux_tty import TerminalSecretProbe, is_terminal


class LinuxSecureInput:
    def __init__(self, terminal: TerminalSecretProbe | None = None, atspi=None):
        self.terminal = terminal or TerminalSecretProbe()
        self.atspi = atspi

    @classmethod
    def start(cls) -> "LinuxSecureInput":
        """With an AT-SPI watcher when a session bus is there (never raises, <= ~2 s)."""
        watcher = None
        if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            from .atspi import AtspiWatcher

            watcher = AtspiWatcher()
            watcher.start()
        return cls(atspi=watcher)

    def __call__(self, focus: FocusEvent) -> bool | None:
        if is_terminal(focus.app_id, focus.app_instance):
            return self.terminal(focus)
        if self.atspi is not None:
            verdict = self.atspi.secret_focus(focus.pid)
            if verdict is not None:
                return verdict
        return False

    def browser_url(self, focus: FocusEvent) -> str | None:
        """The URL a browser window shows, when the accessibility tree can tell it for
        exactly this window title (else None: the site is unknown, scope fails closed)."""
        from ..policy.scope import is_browser

        if self.atspi is None or not is_browser(focus.app_id, focus.app_instance):
            return None
        return self.atspi.document_url(focus.pid, focus.title)

    def describe(self) -> dict:
        """For the session metadata: which signals were in use."""
        atspi = "no session bus" if self.atspi is None else self.atspi.status
        return {"terminal": "termios", "accessibility": atspi}

    def stop(self) -> None:
        if self.atspi is not None:
            self.atspi.stop()
