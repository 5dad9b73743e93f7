"""The secure-input probe of the safeguard gate on Linux: which platform signal answers
"is the focused field reading a secret?" for the window in front.

* terminal emulators: the pty's termios flags (:mod:`.tty`) - a prompt with echo off
  is a password prompt, whatever its wording; a remote shell or multiplexer in front is
  "unknown"; a prompt that echoes or reads in raw mode is judged by its words, read off the
  screen (:mod:`.terminal_text`);
* a browser with the workprint extension (:mod:`..browser_ext`): the extension says whether
  the focused element of the page in front is a password field, without any accessibility
  flag; with AT-SPI too, either one saying "password" is enough;
* every other app: AT-SPI (:mod:`.atspi`) - the last focused accessible of that process is
  a password field (role "password text", or Chromium's ``text-input-type=password``).
  An app that does not speak AT-SPI gives no answer: its keys are treated as ordinary
  text and still pass text redaction. A *browser* that gives no answer (started without
  ``--force-renderer-accessibility``) is "unknown" - any page may hold a password field -
  so the gate fails closed on it (its site is unknown too, so it is only in scope at all
  with ``allow_sites = ["*"]``).

``probe(focus) -> True | False | None``; the gate fails closed on None.
"""

from __future__ import annotations

import os

from ...events import FocusEvent
from ...policy.scope import is_browser
from .tty import TerminalSecretProbe, is_terminal


class LinuxSecureInput:
    def __init__(self, terminal: TerminalSecretProbe | None = None, atspi=None, browser=None):
        self.terminal = terminal or TerminalSecretProbe()
        self.atspi = atspi
        self.browser = browser  # a BrowserBridge (the extension), or None

    @classmethod
    def start(cls, display: str | None = None, remote_terminals: str = "secret",
              browser=None, ocr=None) -> "LinuxSecureInput":
        """With an AT-SPI watcher when a session bus is there (never raises, <= ~2 s),
        and terminal prompts read off the screen of ``display``; ``remote_terminals`` is
        the policy's ``passwords.remote_terminals``; ``ocr``: an engine the prompt reader
        may share (the text masker's), else it loads its own at its first read."""
        from .terminal_text import PromptReader, ScreenRegionGrabber

        watcher = None
        if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            from .atspi import AtspiWatcher

            watcher = AtspiWatcher()
            watcher.start()
        reader = PromptReader(ScreenRegionGrabber(display), ocr=ocr)
        return cls(terminal=TerminalSecretProbe(prompt_reader=reader, remote=remote_terminals),
                   atspi=watcher, browser=browser)

    def attach(self, backend) -> None:
        """Judge terminal keys by the tty state they met: have ``backend`` tell the terminal
        probe of each key press as it happens (call before the backend's input starts). A
        backend with a key-time thread of its own (``key_time_worker``) samples on it."""
        worker = getattr(backend, "key_time_worker", None)
        observer = self.terminal.start_sampling(backend.current_focus, worker=worker)
        if worker is None:
            backend.key_observer = observer

    def submitted(self) -> None:
        """Enter was pressed (the gate tells): a prompt read off the screen is answered."""
        self.terminal.submitted()

    def __call__(self, focus: FocusEvent) -> bool | None:
        if is_terminal(focus.app_id, focus.app_instance):
            return self.terminal(focus)
        verdicts = []
        if self.browser is not None and is_browser(focus.app_id, focus.app_instance):
            verdicts.append(self.browser.secret_focus(focus))
        if self.atspi is not None:
            verdicts.append(self.atspi.secret_focus(focus.pid))
        if True in verdicts:
            return True
        if False in verdicts:
            return False
        if is_browser(focus.app_id, focus.app_instance):
            return None  # web pages have password fields: a browser that tells nothing fails closed
        return False

    def before(self, focus: FocusEvent, t_ns: int, since_ns: int | None = None) -> bool | None:
        """As :meth:`__call__`, but for the field focused just before ``t_ns`` (a Tab or a
        click that ends the keys typed since ``since_ns``): the browser extension knows when
        each field took focus; AT-SPI when each focus event came in (see
        :meth:`.atspi.AtspiWatcher.secret_focus`). A terminal answers by the tty state sampled
        when the key pressed at ``t_ns`` was pressed (see :meth:`attach`), else as now."""
        if is_terminal(focus.app_id, focus.app_instance):
            return self.terminal.at(focus, t_ns)
        atspi = (self.atspi.secret_focus(focus.pid, before_ns=t_ns, since_ns=since_ns)
                 if self.atspi is not None else None)
        if self.browser is not None and is_browser(focus.app_id, focus.app_instance):
            verdict = self.browser.secret_focus(focus, before_ns=t_ns)
            if verdict is not None:
                return True if verdict else atspi is True
        if atspi is not None:
            return atspi
        return self(focus)

    @staticmethod
    def may_have_url(focus: FocusEvent) -> bool:
        """Only browser windows show a URL (other windows are never asked for one again)."""
        return is_browser(focus.app_id, focus.app_instance)

    def browser_url(self, focus: FocusEvent) -> str | None:
        """The URL a browser window shows, when the extension or the accessibility tree can
        tell it for exactly this window (else None: the site is unknown, scope fails closed)."""
        if not is_browser(focus.app_id, focus.app_instance):
            return None
        url = self.browser.url_for(focus) if self.browser is not None else None
        if url is None and self.atspi is not None:
            url = self.atspi.document_url(focus.pid, focus.title)
        return url

    @property
    def knows_urls(self) -> bool:
        return self.browser is not None or (self.atspi is not None and self.atspi.available())

    def describe(self) -> dict:
        """For the session metadata: which signals were in use."""
        atspi = "no session bus" if self.atspi is None else self.atspi.status
        terminal = "termios+screen-prompt" if self.terminal.prompt_reader is not None else "termios"
        if self.terminal.sampling:
            terminal += "+key-time"
        return {"terminal": terminal, "remote_terminals": self.terminal.remote,
                "accessibility": atspi, "browser_extension": self.browser is not None}

    def stop(self) -> None:
        self.terminal.stop_sampling()
        close = getattr(self.terminal.prompt_reader, "close", None)
        if close is not None:
            close()
        if self.atspi is not None:
            self.atspi.stop()
