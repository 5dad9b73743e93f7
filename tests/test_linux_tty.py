"""The terminal password probe on a real pty: a fake 'terminal' process owns a pty whose
child toggles ECHO like sudo/ssh do when they read a password, or goes raw like readline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from workprint.capture.linux_tty import TerminalSecretProbe, pts_path
from workprint.events import FocusEvent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

CHILD = r"""
import signal, sys, termios, time
status = sys.argv[1]
def set_echo(on):
    a = termios.tcgetattr(0)
    a[3] = (a[3] | termios.ECHO) if on else (a[3] & ~termios.ECHO)
    termios.tcsetattr(0, termios.TCSANOW, a)
    with open(status, "w") as f:
        f.write("on" if on else "off")
def set_raw():
    a = termios.tcgetattr(0)
    a[3] = a[3] & ~termios.ECHO & ~termios.ICANON
    termios.tcsetattr(0, termios.TCSANOW, a)
    with open(status, "w") as f:
        f.write("raw")
signal.signal(signal.SIGUSR1, lambda *_: set_echo(False))
signal.signal(signal.SIGUSR2, lambda *_: set_echo(True))
signal.signal(signal.SIGHUP, lambda *_: set_raw())
set_echo(True)
while True:
    time.sleep(0.05)
"""

TERMINAL = r"""
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-c", sys.argv[1], sys.argv[2]])
print(pid, flush=True)
while True:
    try:
        if not os.read(fd, 1024):
            break
    except OSError:
        break
"""


def _wait_for(path, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if open(path).read() == want:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"child did not report echo {want}")


@pytest.fixture
def fake_terminal(tmp_path):
    status = tmp_path / "status"
    term = subprocess.Popen([sys.executable, "-c", TERMINAL, CHILD, str(status)],
                            stdout=subprocess.PIPE, text=True)
    child = int(term.stdout.readline())
    _wait_for(status, "on")
    yield term.pid, child, status
    for pid in (child, term.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    term.wait(timeout=5)


def probe_for(pid: int, app: str = "XTerm") -> bool | None:
    return TerminalSecretProbe()(FocusEvent(0, 1, "t", app, app.lower(), pid, "term"))


def test_password_prompt_is_seen_and_raw_mode_is_not(fake_terminal):
    term_pid, child, status = fake_terminal
    probe = TerminalSecretProbe()
    focus = FocusEvent(0, 1, "t", "XTerm", "xterm", term_pid, "xterm")
    assert probe(focus) is False
    os.kill(child, signal.SIGUSR1)   # echo off, canonical: a password prompt
    _wait_for(status, "off")
    assert probe(focus) is True
    os.kill(child, signal.SIGUSR2)
    _wait_for(status, "on")
    assert probe(focus) is False
    os.kill(child, signal.SIGHUP)    # raw mode without echo: readline, an editor
    _wait_for(status, "raw")
    assert probe(focus) is False


def test_non_terminals_are_not_probed(fake_terminal):
    term_pid, child, status = fake_terminal
    os.kill(child, signal.SIGUSR1)
    _wait_for(status, "off")
    assert probe_for(term_pid, app="Workbench") is False
    assert probe_for(term_pid) is True


def test_unknown_when_no_pty_or_no_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        assert probe_for(proc.pid) is None   # no descendants at all: fail closed
    finally:
        proc.kill()
        proc.wait()
    assert probe_for(2**22 + 12345) is None
    assert probe_for(0) is None


def test_pts_path_decodes_tty_nr():
    assert pts_path((136 << 8) | 3) == "/dev/pts/3"
    assert pts_path((137 << 8) | 4) == "/dev/pts/260"
    assert pts_path((4 << 8) | 1) is None  # /dev/tty1 is not a pty
