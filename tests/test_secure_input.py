"""The Linux secure-input probe's routing: terminals, AT-SPI apps, browsers (pure: the
platform signals are stand-ins; tests/test_linux_tty.py and tests/test_atspi.py cover
them for real)."""

from __future__ import annotations

from workprint.capture.linux.secure_input import LinuxSecureInput
from workprint.events import FocusEvent


class Atspi:
    def __init__(self, answers):
        self.answers = answers

    def secret_focus(self, pid):
        return self.answers.get(pid)


class Terminal:
    prompt_reader = None

    def __init__(self):
        self.submits = 0

    def __call__(self, focus):
        return "terminal"

    def submitted(self):
        self.submits += 1


def focus(app, pid):
    return FocusEvent(0, 1, "t", app, app.lower(), pid, app.lower())


def test_accessibility_answers_for_apps_and_browsers():
    probe = LinuxSecureInput(terminal=Terminal(), atspi=Atspi({10: True, 11: False}))
    assert probe(focus("Chromium", 10)) is True
    assert probe(focus("Chromium", 11)) is False
    assert probe(focus("Gedit", 10)) is True


def test_a_browser_that_tells_nothing_fails_closed_other_apps_do_not():
    # A browser without its accessibility tree (no --force-renderer-accessibility) may be
    # showing a login form: unknown. A Tk or Xt app without AT-SPI has no such signal at
    # all; its keys are ordinary text (and still pass text redaction).
    for atspi in (None, Atspi({})):
        probe = LinuxSecureInput(terminal=Terminal(), atspi=atspi)
        assert probe(focus("Chromium", 10)) is None
        assert probe(focus("firefox", 10)) is None
        assert probe(focus("Workbench", 10)) is False


def test_terminals_go_to_the_terminal_probe_and_hear_of_enter():
    term = Terminal()
    probe = LinuxSecureInput(terminal=term, atspi=Atspi({10: False}))
    assert probe(focus("XTerm", 10)) == "terminal"
    probe.submitted()
    assert term.submits == 1
