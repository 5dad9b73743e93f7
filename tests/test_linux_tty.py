"""The terminal password probe on a real pty: a fake 'terminal' process owns a pty whose
child toggles ECHO like sudo/ssh do when they read a password, or goes raw like readline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from workprint.capture.linux.tty import TerminalSecretProbe, pts_path
from workprint.events import FocusEvent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

CHILD = r"""
import signal, sys, termios, time
status = sys.argv[1]
if len(sys.argv) > 2:  # be another program, as far as /proc tells: bash, tmux, pinentry
    with open("/proc/self/comm", "w") as f:
        f.write(sys.argv[2])
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
def read_silently():  # like bash's `read -rs -n N`: raw, no echo, blocked in read()
    set_raw()
    global reading
    reading = True
    with open(status, "w") as f:
        f.write("reading")
reading = False
signal.signal(signal.SIGUSR1, lambda *_: set_echo(False))
signal.signal(signal.SIGUSR2, lambda *_: set_echo(True))
signal.signal(signal.SIGHUP, lambda *_: set_raw())
signal.signal(signal.SIGWINCH, lambda *_: read_silently())
set_echo(True)
import os, select
while True:
    if reading:
        os.read(0, 1)  # blocks in the terminal read
    else:
        select.select([0], [], [], 0.05)  # waits for a key like a line editor
"""

# A stand-in terminal emulator: runs argv[1:] on a new pty, prints its pid, reads its output.
TERMINAL = r"""
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
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


def _start_terminal(status, comm: str | None = None):
    term = subprocess.Popen([sys.executable, "-c", TERMINAL, sys.executable, "-c", CHILD, str(status),
                             *([comm] if comm else [])], stdout=subprocess.PIPE, text=True)
    child = int(term.stdout.readline())
    _wait_for(status, "on")
    return term, child


def _kill(term, child):
    for pid in (child, term.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    term.wait(timeout=5)


@pytest.fixture
def fake_terminal(tmp_path):
    status = tmp_path / "status"
    term, child = _start_terminal(status)
    yield term.pid, child, status
    _kill(term, child)


@pytest.fixture
def terminal_running(tmp_path):
    """fake_terminal whose foreground program calls itself ``comm``."""
    started = []

    def start(comm: str):
        status = tmp_path / f"status-{len(started)}"
        term, child = _start_terminal(status, comm)
        started.append((term, child))
        return term.pid, child, status

    yield start
    for term, child in started:
        _kill(term, child)


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


class FakeReader:
    """Stands in for the screen: says whether the terminal's last line is a prompt."""

    def __init__(self, answer):
        self.answer, self.calls, self.submits = answer, [], 0

    def __call__(self, geometry, key):
        self.calls.append(key)
        return self.answer

    def submitted(self):
        self.submits += 1


def _focus(pid):
    return FocusEvent(0, 1, "t", "XTerm", "xterm", pid, "xterm")


def test_a_visible_line_read_is_judged_by_the_prompt_on_screen(fake_terminal):
    # read -p 'PIN: ' / input("Password: "): canonical mode WITH echo - termios looks
    # ordinary, so only the words on the screen can tell
    term_pid, child, status = fake_terminal
    assert TerminalSecretProbe(prompt_reader=FakeReader(True))(_focus(term_pid)) is True
    reader = FakeReader(False)
    probe = TerminalSecretProbe(prompt_reader=reader)
    assert probe(_focus(term_pid)) is False and len(reader.calls) == 1
    probe.submitted()
    assert reader.submits == 1
    assert TerminalSecretProbe(prompt_reader=FakeReader(None))(_focus(term_pid)) is None  # unreadable
    os.kill(child, signal.SIGUSR1)  # echo off: decided by termios, the screen is not needed
    _wait_for(status, "off")
    reader = FakeReader(False)
    assert TerminalSecretProbe(prompt_reader=reader)(_focus(term_pid)) is True and reader.calls == []


def test_raw_mode_asks_the_screen_unless_a_shell_or_editor_reads(terminal_running):
    reader = FakeReader(True)
    # (an editor with echo off has its last line read: vim's :X encryption key prompt)
    for comm, asked in (("bash", False), ("less", False), ("vim", True), ("python3", True), ("node", True)):
        term_pid, child, status = terminal_running(comm)
        os.kill(child, signal.SIGHUP)  # raw mode, no echo: a line editor or a REPL prompt
        _wait_for(status, "raw")
        reader.calls.clear()
        assert TerminalSecretProbe(prompt_reader=reader)(_focus(term_pid)) is asked, comm
        assert bool(reader.calls) is asked, comm


def test_pinentry_in_raw_mode_is_a_secret_and_multiplexers_are_unknown(terminal_running):
    term_pid, child, status = terminal_running("pinentry-curses")
    assert TerminalSecretProbe()(_focus(term_pid)) is False  # not drawing its box yet
    os.kill(child, signal.SIGHUP)
    _wait_for(status, "raw")
    assert TerminalSecretProbe()(_focus(term_pid)) is True
    for comm in ("tmux: client", "screen"):
        term_pid, _, _ = terminal_running(comm)
        # the pane in front has its own pty elsewhere: its echo flag cannot be read here
        assert TerminalSecretProbe(prompt_reader=FakeReader(False))(_focus(term_pid)) is None, comm


def test_remote_shells_fail_closed_unless_the_policy_asks_for_their_prompt(terminal_running):
    term_pid, child, status = terminal_running("ssh")
    os.kill(child, signal.SIGHUP)  # ssh holds the local tty raw; the remote one decides
    _wait_for(status, "raw")
    assert TerminalSecretProbe(prompt_reader=FakeReader(False))(_focus(term_pid)) is None
    for answer in (True, False, None):
        reader = FakeReader(answer)
        probe = TerminalSecretProbe(prompt_reader=reader, remote="prompt")
        assert probe(_focus(term_pid)) is answer
        assert reader.calls and reader.calls[0][-1] == "remote"
    assert TerminalSecretProbe(remote="prompt")(_focus(term_pid)) is None  # no screen to read


def test_a_real_tmux_client_in_front_is_unknown(tmp_path):
    # A password typed into a tmux pane goes to a pty below the tmux server, not below
    # the terminal; the terminal's own pty is held raw by the client and looks ordinary.
    sock = tmp_path / "tmux.sock"
    term = subprocess.Popen([sys.executable, "-c", TERMINAL, "tmux", "-S", str(sock), "-f", "/dev/null",
                             "new-session", "-s", "t"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "TERM": "xterm"})
    client = int(term.stdout.readline())
    try:
        deadline = time.monotonic() + 10
        while open(f"/proc/{client}/comm").read().strip() != "tmux: client":
            assert time.monotonic() < deadline, "tmux did not start"
            time.sleep(0.05)
        assert TerminalSecretProbe()(_focus(term.pid)) is None
        reader = FakeReader(True)
        assert TerminalSecretProbe(prompt_reader=reader, remote="prompt")(_focus(term.pid)) is True
    finally:
        subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True)
        _kill(term, client)


def test_a_shell_reading_silently_is_told_from_its_line_editor(terminal_running):
    """bash's readline and `read -rs -n 12` both hold the pty raw without echo: the shell
    blocked in a terminal read is a silent read (a secret), waiting in select is its line
    editor; the key that ends the read still counts for a moment after."""
    from workprint.capture.linux import tty as linux_tty

    term_pid, child, status = terminal_running("bash")
    os.kill(child, signal.SIGHUP)
    _wait_for(status, "raw")
    probe = TerminalSecretProbe()
    assert probe(_focus(term_pid)) is False            # the line editor
    os.kill(child, signal.SIGWINCH)
    _wait_for(status, "reading")
    time.sleep(0.05)
    assert linux_tty.reading_terminal(child) is True
    assert probe(_focus(term_pid)) is True             # `read -s -n`: silent
    other = TerminalSecretProbe()
    assert other(_focus(term_pid)) is True
    for comm in ("python3", "vim"):                    # only shells are judged this way
        t2, c2, st2 = terminal_running(comm)
        os.kill(c2, signal.SIGWINCH)
        _wait_for(st2, "reading")
        assert TerminalSecretProbe()(_focus(t2)) is False, comm


def test_a_process_that_cannot_be_read_is_unknown(tmp_path):
    from workprint.capture.linux import tty as linux_tty

    (tmp_path / "77").mkdir()
    (tmp_path / "77" / "wchan").write_text("do_nanosleep")
    assert linux_tty.reading_terminal(77, proc=tmp_path, tries=2) is None
    (tmp_path / "77" / "wchan").write_text("wait_woken")
    assert linux_tty.reading_terminal(77, proc=tmp_path) is True
    (tmp_path / "77" / "wchan").write_text("poll_schedule_timeout.constprop.0")
    assert linux_tty.reading_terminal(77, proc=tmp_path) is False
    assert linux_tty.reading_terminal(78, proc=tmp_path) is None


class GrabbingReader(FakeReader):
    """A prompt reader that also grabs (the sampler grabs with the key; the reader is then
    handed those pixels)."""

    def __init__(self, answer):
        super().__init__(answer)
        self.grabs, self.pixels_seen = 0, []

    def grab(self, geometry):
        self.grabs += 1
        return f"pixels-{self.grabs}"

    def __call__(self, geometry, key, pixels=None, remember=True):
        self.pixels_seen.append(pixels)
        return super().__call__(geometry, key)


def _sampled(probe, t_ns):
    deadline = time.monotonic() + 5
    while t_ns not in probe._samples:
        assert time.monotonic() < deadline, "no sample was taken"
        time.sleep(0.002)


def test_a_key_is_judged_by_the_tty_state_it_met(fake_terminal):
    """Sampled when the key was pressed (echo off: a password prompt), judged late, after
    the prompt closed: still secret; asked about now, ordinary. A key judged at once is
    judged as now; a sample taken too late after the key, or of another window, is not
    used."""
    from workprint.capture.linux.tty import KEY_LATE_NS

    term_pid, child, status = fake_terminal
    focus = _focus(term_pid)
    probe = TerminalSecretProbe()
    key_pressed = probe.start_sampling(lambda: focus)
    try:
        os.kill(child, signal.SIGUSR1)
        _wait_for(status, "off")
        t1 = time.monotonic_ns()
        key_pressed(t1)
        _sampled(probe, t1)
        stale = time.monotonic_ns() - 10 * 10**9  # "pressed" 10 s before its sample
        key_pressed(stale)
        _sampled(probe, stale)
        t2 = time.monotonic_ns()
        key_pressed(t2)
        _sampled(probe, t2)
        os.kill(child, signal.SIGUSR2)  # the prompt is answered and gone
        _wait_for(status, "on")
        fresh = time.monotonic_ns()
        key_pressed(fresh)
        _sampled(probe, fresh)
        assert probe.at(focus, fresh) is False     # judged at once: as the terminal is now
        time.sleep(KEY_LATE_NS / 1e9)              # the recorder fell behind
        assert probe(focus) is False
        assert probe.at(focus, t1) is True
        assert probe.at(focus, stale) is False     # too late to tell: as now
        other = FocusEvent(0, 2, "t", "XTerm", "xterm", term_pid, "xterm")
        assert probe.at(other, t2) is False        # sampled for window 1, asked for window 2
        assert probe.at(focus, time.monotonic_ns()) is False  # never sampled: as now
    finally:
        probe.stop_sampling()
    assert not probe.sampling


def test_a_prompt_only_words_can_tell_is_grabbed_with_the_key_and_grabs_are_bounded(fake_terminal):
    """A reader that cannot tell one prompt line from another: each key keeps its own grab,
    at most MAX_KEPT_GRABS of them; a key judged late whose grab was dropped is read off
    the screen as it is now."""
    from workprint.capture.linux.tty import KEY_LATE_NS, MAX_KEPT_GRABS

    from workprint.events import Geometry

    term_pid, _, _ = fake_terminal  # canonical with echo: the screen must decide
    focus = FocusEvent(0, 1, "t", "XTerm", "xterm", term_pid, "xterm", Geometry(0, 0, 640, 400))
    reader = GrabbingReader(True)
    probe = TerminalSecretProbe(prompt_reader=reader)
    key_pressed = probe.start_sampling(lambda: focus)
    try:
        keys = []
        for _ in range(MAX_KEPT_GRABS + 2):
            keys.append(time.monotonic_ns())
            key_pressed(keys[-1])
            _sampled(probe, keys[-1])
        assert reader.grabs == len(keys)
        time.sleep(KEY_LATE_NS / 1e9)  # judged late: from the grabs
        kept = [probe._samples[k].grab.pixels for k in keys]
        assert kept[:2] == [None, None] and all(p is not None for p in kept[2:])
        assert probe.at(focus, keys[-1]) is True
        assert reader.pixels_seen[-1] == f"pixels-{len(keys)}"  # judged from the key's own grab
        assert probe.at(focus, keys[0]) is True and reader.pixels_seen[-1] is None  # dropped: read now
    finally:
        probe.stop_sampling()


class LineReader(GrabbingReader):
    """A reader that tells prompt lines apart, as PromptReader does by their pixels: a grab
    is (line, keys typed so far); a line is the same prompt however much was typed."""

    def __init__(self, answers):
        super().__init__(None)
        self.answers, self.line, self.typed = answers, "Password:", 0

    def grab(self, geometry):
        self.grabs += 1
        self.typed += 1
        return (self.line, self.typed)

    @staticmethod
    def prompt_line(pixels):
        return pixels[0]

    @staticmethod
    def shows(line, pixels):
        return pixels[0] == line

    def __call__(self, geometry, key, pixels=None, remember=True):
        self.pixels_seen.append(pixels)
        return self.answers[(pixels or (self.line,))[0]]


def test_keys_typed_into_one_prompt_share_its_grab_however_far_behind(fake_terminal):
    """Thirty keys typed into one echoed prompt while the recorder is behind keep one grab,
    and every one of them is judged secret from it; the next prompt line is a grab of its
    own and judged by its own words."""
    from workprint.capture.linux.tty import KEY_LATE_NS, MAX_KEPT_GRABS

    from workprint.events import Geometry

    term_pid, _, _ = fake_terminal
    focus = FocusEvent(0, 1, "t", "XTerm", "xterm", term_pid, "xterm", Geometry(0, 0, 640, 400))
    reader = LineReader({"Password:": True, "Project name:": False, "$": False})
    probe = TerminalSecretProbe(prompt_reader=reader)
    key_pressed = probe.start_sampling(lambda: focus)
    try:
        secret = []
        for _ in range(30):
            secret.append(time.monotonic_ns())
            key_pressed(secret[-1])
            _sampled(probe, secret[-1])
        reader.line = "Project name:"
        ordinary = []
        for _ in range(3):
            ordinary.append(time.monotonic_ns())
            key_pressed(ordinary[-1])
            _sampled(probe, ordinary[-1])
        assert len(probe._grabs) == 2 <= MAX_KEPT_GRABS
        reader.line = "$"  # the screen now: a shell prompt
        time.sleep(KEY_LATE_NS / 1e9)
        assert [probe.at(focus, k) for k in secret] == [True] * 30
        assert reader.pixels_seen == [("Password:", 1)]  # the first key's grab, read once
        assert [probe.at(focus, k) for k in ordinary] == [False] * 3
    finally:
        probe.stop_sampling()


def test_a_grab_that_shows_no_prompt_yet_is_not_the_last_word(fake_terminal):
    """Keys typed ahead of a prompt (the program reads the line, its prompt is not drawn
    yet): their grabs show no prompt. Judged late while the prompt is on screen, the
    terminal now is asked too: secret. (A logged run: python's input("Password for
    alice: ") was slow to start, the first key's grab showed only the command line.)"""
    from workprint.capture.linux.tty import KEY_LATE_NS

    from workprint.events import Geometry

    term_pid, _, _ = fake_terminal
    focus = FocusEvent(0, 1, "t", "XTerm", "xterm", term_pid, "xterm", Geometry(0, 0, 640, 400))
    reader = LineReader({"$ python3 login.py": False, "Password:": True})
    reader.line = "$ python3 login.py"
    probe = TerminalSecretProbe(prompt_reader=reader)
    key_pressed = probe.start_sampling(lambda: focus)
    try:
        ahead = time.monotonic_ns()
        key_pressed(ahead)
        _sampled(probe, ahead)
        reader.line = "Password:"  # drawn
        time.sleep(KEY_LATE_NS / 1e9)
        assert probe.at(focus, ahead) is True
    finally:
        probe.stop_sampling()


def test_a_key_judged_at_once_is_secret_if_the_prompt_it_met_was(fake_terminal, monkeypatch):
    """The last key of a password is judged a few ms after it was pressed, but the Enter
    after it already closed the prompt: the terminal now is ordinary, the state the key met
    was not - secret. A key that met an ordinary terminal and is judged while a prompt is
    open is secret too (either saying so is enough within KEY_LATE_NS)."""
    from workprint.capture.linux import tty as linux_tty

    monkeypatch.setattr(linux_tty, "KEY_LATE_NS", 60 * 10**9)  # every key here is judged "at once"
    term_pid, child, status = fake_terminal
    focus = _focus(term_pid)
    probe = TerminalSecretProbe()
    key_pressed = probe.start_sampling(lambda: focus)
    try:
        before = time.monotonic_ns()
        key_pressed(before)
        _sampled(probe, before)
        os.kill(child, signal.SIGUSR1)
        _wait_for(status, "off")
        assert probe.at(focus, before) is True      # ordinary when pressed, a prompt now
        last = time.monotonic_ns()
        key_pressed(last)
        _sampled(probe, last)
        os.kill(child, signal.SIGUSR2)  # Enter: the prompt is answered and gone
        _wait_for(status, "on")
        assert probe(focus) is False
        assert probe.at(focus, last) is True        # the prompt it met
        after = time.monotonic_ns()
        key_pressed(after)
        _sampled(probe, after)
        assert probe.at(focus, after) is False      # ordinary then and now
    finally:
        probe.stop_sampling()


def test_key_time_workers_take_what_was_queued_in_batches_until_the_stop():
    import queue

    from workprint.capture.linux.wakeup import batches

    q = queue.SimpleQueue()
    for t in (1, 2, 3):
        q.put(t)
    it = batches(q)
    assert next(it) == [1, 2, 3]                 # all that was queued, in one batch
    q.put(4)
    assert next(it) == [4]
    q.put(5)
    q.put(None)
    assert list(it) == []                        # the stop ends it, with what came with it


def test_one_key_time_thread_runs_every_check_for_each_batch_of_presses():
    """The attribution check and the tty sample share one thread woken once per batch; a
    check that fails leaves only its own answers missing; the thread can start again."""
    import threading

    from workprint.capture.linux.wakeup import KeyTimeWorker

    seen, done = [], threading.Event()

    def sample(keys):
        seen.append(("sample", list(keys)))
        done.set()

    def broken(keys):
        raise RuntimeError("X connection gone")

    worker = KeyTimeWorker("test-key-time")
    worker.add(sample)
    worker.add(broken)
    worker.add(lambda keys: seen.append(("check", list(keys))), first=True)
    worker.start()
    worker.key_pressed(1)
    assert done.wait(5)
    worker.stop()
    assert seen == [("check", [1]), ("sample", [1])] and not worker.running
    worker.remove(broken)
    done.clear()
    worker.start()
    worker.key_pressed(2)
    assert done.wait(5)
    worker.stop()
    assert seen[-1] == ("sample", [2])


def test_the_decoder_waits_for_a_key_time_check_in_flight_not_for_one_never_asked():
    import threading
    import time as _time

    from workprint.capture.linux.wakeup import KeyTimeWorker

    release = threading.Event()
    worker = KeyTimeWorker("test-key-time")
    worker.add(lambda keys: release.wait(5))
    worker.start()
    try:
        worker.key_pressed(10)
        assert worker.wait(10, 0.05) is False           # still checking: timed out
        threading.Timer(0.05, release.set).start()
        assert worker.wait(10, 5)                       # done while waiting
        t0 = _time.monotonic()
        assert worker.wait(11, 5) is False              # never reported: no wait at all
        assert _time.monotonic() - t0 < 0.5
    finally:
        worker.stop()
