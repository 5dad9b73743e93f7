"""Is a terminal emulator's foreground program reading a password? (Linux, no X needed)

Programs that read passwords (sudo, ssh, passwd, gpg, git credential prompts) switch the
terminal's ECHO flag off. That is robust regardless of prompt text or language, so the
recorder asks it whenever a terminal window has focus:

:class:`TerminalSecretProbe` walks ``/proc`` for descendants of the terminal emulator,
collects the pseudo-terminals (``/dev/pts/N``) they are attached to, and reads their
termios flags: ECHO off with ICANON on means a password prompt; a remote shell in the
foreground or an unreadable pty means "unknown", on which the caller fails closed.

Echo and canonical mode alone miss prompts that echo (``read -p "PIN: "``) or that read
in raw mode (a REPL's password prompt, pinentry-curses). While a program other than a
shell, editor or pager reads the terminal - or any program reads a visible line in
canonical mode - the probe asks a *prompt reader* (:mod:`.terminal_text`: the words on
the terminal's last line) whether that line asks for a secret. Remote shells (ssh) and
terminal multiplexers (tmux, screen) hide the pty that reads the keys: unknown, unless the
policy lets their prompts be judged by the screen (``passwords.remote_terminals``).

Raw mode without echo is how bash's line editor holds the terminal, and also how its
``read -rs -n N`` builtin reads a secret: what the shell is doing tells them apart - its
line editor waits in select/poll, the builtin blocks in a read of the terminal
(``/proc/PID/wchan``, else ``/proc/PID/syscall``); cannot tell: unknown (fail closed). The
key that completes such a read is judged after the shell has left it, so a read stays
secret for ``SILENT_READ_GRACE_S`` after it was last seen (sampled while it lasts). Editors
with echo off have their last line read off the screen (vim's ``:X`` encryption key).
"""

from __future__ import annotations

import os
import termios
from pathlib import Path
from typing import Callable, NamedTuple

from ...policy.scope import TERMINAL_APPS

_PROC = Path("/proc")


#: A key's tty state is taken from a sample at most this long after it was pressed; a later
#: sample (the sampler itself fell behind) could describe a prompt opened since, so the key
#: is then judged as the probe finds things when asked.
KEY_SAMPLE_FRESH_NS = 50_000_000
#: A key judged within this of being pressed is secret if the state sampled when it was
#: pressed or the terminal as it is now says so (the two are moments apart: either may be
#: the one that saw the prompt). A key judged later is judged by the sampled state alone
#: where the tty decides; where the screen decides, a grab that shows no prompt is not the
#: last word (it may predate the prompt's drawing): the terminal now is asked too.
KEY_LATE_NS = 100_000_000
#: samples kept for keys the gate has not judged yet (oldest dropped first), and how many
#: window grabs (for a prompt read off the screen) they keep: one per prompt line shown -
#: the keys typed into one prompt share its grab - so this bounds memory, not the lag
#: covered. A key whose grab was dropped (more prompt lines came while the recorder was
#: behind) is read off the screen as it is when judged.
MAX_KEY_SAMPLES = 4096
MAX_KEPT_GRABS = 4


class _PtyFacts(NamedTuple):
    """One pty of a terminal as sampled: its foreground process, (echo, canonical), and for
    a line-editing shell in raw mode without echo whether a silent read holds it."""

    path: str
    fg_pid: int
    fg: str
    mode: "tuple[bool, bool] | None"
    silent: "bool | None"
    remote: bool = False
    known: bool = True


class _KeptGrab:
    """A window grab kept for the keys whose prompt line it shows (``pixels`` is dropped,
    for all of them at once, when newer grabs push it out), with what was read off it."""

    __slots__ = ("window", "pixels", "line", "verdicts")

    def __init__(self, window: int, pixels, line):
        self.window, self.pixels, self.line = window, pixels, line
        self.verdicts: dict = {}  # prompt reader key -> verdict read off these pixels


class _KeySample(NamedTuple):
    window: int
    sampled_ns: int
    facts: "tuple[_PtyFacts, ...] | bool | None"
    grab: "_KeptGrab | None"  # the window as the key met it, where only the screen can tell


def _read(path: str) -> bytes:
    """A small /proc file's bytes (plain ``os`` calls: this runs at every key press)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _read_stat(pid: int, proc: Path = _PROC) -> tuple[int, int, int] | None:
    """(ppid, tty_nr, tpgid) of a process, or None if it is gone."""
    try:
        raw = _read(f"{proc}/{pid}/stat")
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the LAST ')'
    rest = raw[raw.rfind(b")") + 2:].split()
    try:
        return int(rest[1]), int(rest[4]), int(rest[5])
    except (IndexError, ValueError):
        return None


def _descendants(root: int, proc: Path = _PROC) -> dict[int, tuple[int, int, int]]:
    """Stat of every process below ``root`` (excluding root)."""
    stats: dict[int, tuple[int, int, int]] = {}
    for name in os.listdir(proc):
        if name.isdigit():
            st = _read_stat(int(name), proc)
            if st is not None:
                stats[int(name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, tuple[int, int, int]] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out[pid] = stats[pid]
        todo.extend(children.get(pid, []))
    return out


def pts_path(tty_nr: int) -> str | None:
    """``/dev/pts/N`` for a tty_nr from /proc stat (Unix98 pty majors 136-143)."""
    major = (tty_nr >> 8) & 0xFFF
    minor = (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return f"/dev/pts/{(major - 136) * 256 + minor}"
    return None


def _lflag(path: str) -> int | None:
    """The local-mode flags of a tty device, or None if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return termios.tcgetattr(fd)[3]
    except termios.error:
        return None
    finally:
        os.close(fd)


def tty_mode(path: str) -> tuple[bool, bool] | None:
    """(echo, canonical) of a tty, or None if it cannot be read."""
    lflag = _lflag(path)
    if lflag is None:
        return None
    return bool(lflag & termios.ECHO), bool(lflag & termios.ICANON)


def secret_input_mode(path: str) -> bool | None:
    """True if the tty reads a line without echo (ECHO off, ICANON on) - how getpass,
    sudo, passwd and ssh's own prompts read secrets. Raw mode (ICANON off, e.g. bash's
    readline, editors) is not a password prompt. None if unreadable."""
    lflag = _lflag(path)
    if lflag is None:
        return None
    return not (lflag & termios.ECHO) and bool(lflag & termios.ICANON)


#: Foreground programs whose password prompts happen on another machine: what is typed
#: there cannot be judged locally, so the caller treats it as secret (fail closed).
REMOTE_SHELLS = frozenset({"ssh", "mosh-client", "telnet", "rlogin", "sshpass"})
#: Multiplexer clients: the pane in front has its own pty, not below the terminal.
MULTIPLEXERS = ("tmux", "screen", "zellij", "byobu", "dtach", "abduco")
#: Programs that are reading a secret whenever they hold the terminal in raw mode
#: (gpg's curses pinentry draws its passphrase box on gpg's terminal).
SECRET_READERS = ("pinentry", "gpg", "gpg2", "ssh-askpass", "systemd-ask-password", "systemd-tty-ask")
#: Raw-mode programs whose input is ordinary work (the shell's line editor, editors,
#: pagers): their last line is not asked for each keystroke.
ORDINARY_RAW = frozenset({
    "bash", "zsh", "fish", "sh", "dash", "ksh", "mksh", "tcsh", "csh", "nu", "elvish", "xonsh",
    "vi", "vim", "nvim", "view", "nano", "pico", "micro", "emacs", "emacs-nox", "mg", "joe",
    "ne", "kak", "hx", "helix", "less", "more", "most", "man", "top", "htop", "btop", "atop",
    "watch", "tig", "mc", "ranger", "nnn", "lf", "fzf", "ncdu", "mutt", "neomutt", "irssi",
    "weechat",
})


#: Shells whose line editor waits for a key in select/poll (bash's readline), while
#: their ``read`` builtin blocks in read() on the terminal: in raw mode without echo, which
#: of the two holds the terminal tells a silent ``read -s -n N`` from the command line.
LINE_EDITOR_SHELLS = frozenset({"bash"})
#: Editors whose own prompts may read a secret (vim's ``:X`` encryption key) in the raw mode
#: they always hold: with echo off their last line is read off the screen.
EDITORS = frozenset({"vi", "vim", "vim.basic", "vim.tiny", "view", "nvim", "emacs", "emacs-nox", "mg",
                     "nano", "pico", "micro", "joe", "ne", "kak", "hx", "helix"})
#: How long after a silent read was last seen a key still counts as typed into it (the
#: key that completes ``read -n N`` is judged after the shell has left the read).
SILENT_READ_GRACE_S = 0.15
_SAMPLE_S = 0.02

# kernel functions a process sleeps in (/proc/PID/wchan): waiting in select/poll/epoll, or
# blocked in a terminal read
_WAITS_MULTIPLEXED = ("poll_schedule_timeout", "do_select", "do_sys_poll", "ep_poll", "core_sys_select")
_WAITS_IN_READ = ("wait_woken", "n_tty_read")


#: syscall numbers (/proc/PID/syscall), when the kernel hides wchan: read, and the
#: select/poll family (x86_64; aarch64 and other generic-table ports)
_SYSCALLS = {"x86_64": ({0}, {7, 23, 232, 270, 271, 281}), "aarch64": ({63}, {72, 73, 22})}


def _wait_state(pid: int, proc: Path) -> str:
    """'read' (blocked reading), 'multiplexed' (select/poll), 'gone', or 'other'."""
    try:
        wchan = _read(f"{proc}/{pid}/wchan").decode(errors="replace").strip()
    except OSError:
        return "gone" if not os.path.exists(f"{proc}/{pid}") else "other"
    if wchan.startswith(_WAITS_IN_READ):
        return "read"
    if wchan.startswith(_WAITS_MULTIPLEXED):
        return "multiplexed"
    if wchan in ("", "0"):  # hidden: the syscall it sleeps in (needs ptrace rights)
        import platform

        reads, waits = _SYSCALLS.get(platform.machine(), (set(), set()))
        try:
            first = _read(f"{proc}/{pid}/syscall").split()[0]
            nr = int(first)
        except (OSError, ValueError, IndexError):
            return "other"
        return "read" if nr in reads else "multiplexed" if nr in waits else "other"
    return "other"


def reading_terminal(pid: int, proc: Path = _PROC, tries: int = 5) -> bool | None:
    """Is ``pid`` blocked reading its terminal (True), waiting in select/poll (False), or
    neither / cannot tell (None)? From ``/proc/PID/wchan`` (the kernel function it sleeps
    in; readable without ptrace rights), else ``/proc/PID/syscall``. A process that is
    running at that moment is asked again a few times, 1 ms apart."""
    import time as _time

    for attempt in range(tries):
        state = _wait_state(pid, proc)
        if state == "read":
            return True
        if state == "multiplexed":
            return False
        if state == "gone":
            return None
        if attempt + 1 < tries:
            _time.sleep(0.001)
    return None


def _comm(pid: int) -> str:
    try:
        return _read(f"/proc/{pid}/comm").decode(errors="replace").strip()
    except OSError:
        return ""



def is_terminal(app_id: str, app_instance: str = "") -> bool:
    return (app_id or "").lower() in TERMINAL_APPS or (app_instance or "").lower() in TERMINAL_APPS


class TerminalSecretProbe:
    """``probe(focus) -> bool | None`` for the safeguard gate, cheap enough per key.

    The pty set of a terminal is found once by walking ``/proc`` (and again every few
    seconds); each call then only reads the termios flags and the foreground process
    group of those ptys. Non-terminal windows answer False; terminals without a known pid
    answer None. When the tty state cannot rule out a prompt that echoes, the optional
    ``prompt_reader(geometry, key)`` (:class:`.terminal_text.PromptReader`) reads the
    terminal's last line off the screen.
    """

    def __init__(self, refresh_s: float = 5.0, prompt_reader=None, remote: str = "secret"):
        import time as _time

        self.remote = remote  # "secret" | "prompt" (policy passwords.remote_terminals)
        self._time = _time
        self._refresh_s = refresh_s
        self._cache: dict[int, tuple[float, list[tuple[str, int]]]] = {}
        self.prompt_reader = prompt_reader
        import threading as _threading

        self._threading = _threading
        self._silent_seen: dict[str, float] = {}  # pty -> monotonic time a silent read was last seen
        self._watching: set[str] = set()
        from collections import OrderedDict, deque

        self._lock = _threading.Lock()
        self._samples: OrderedDict[int, _KeySample] = OrderedDict()  # key t_ns -> state it met
        self._grabs: deque[_KeptGrab] = deque()  # grabs still kept, oldest first
        self._sampler = None  # the KeyTimeWorker that samples at each key press
        self._own_sampler = False
        self._focus_now = None

    def _ptys(self, pid: int) -> list[tuple[str, int]]:
        """(pty path, a process attached to it) for each pty of the terminal."""
        now = self._time.monotonic()
        hit = self._cache.get(pid)
        if hit and now - hit[0] < self._refresh_s and all(os.path.exists(f"/proc/{q}") for _, q in hit[1]):
            return hit[1]
        try:
            procs = _descendants(pid)
        except OSError:
            procs = {}
        found: dict[str, int] = {}
        for q, (_, tty, _) in sorted(procs.items()):
            path = pts_path(tty) if tty else None
            if path and path not in found:
                found[path] = q
        paths = sorted(found.items())
        self._cache[pid] = (now, paths)
        return paths

    def _silent_read(self, path: str, pid: int) -> bool | None:
        """A shell in raw mode without echo: True while its ``read`` builtin (or a program
        it runs in its place) reads the terminal, and for ``SILENT_READ_GRACE_S`` after
        (sampled every 20 ms by a short-lived thread while the read lasts); False while
        its line editor waits; None when that cannot be told."""
        now = self._time.monotonic()
        state = reading_terminal(pid)
        if state:
            self._silent_seen[path] = now
            self._watch(path, pid)
            return True
        if now - self._silent_seen.get(path, -1e9) <= SILENT_READ_GRACE_S:
            return True
        return state if state is None else False

    def _watch(self, path: str, pid: int) -> None:
        if path in self._watching:
            return
        self._watching.add(path)

        def run() -> None:
            try:
                deadline = self._time.monotonic() + 600
                while self._time.monotonic() < deadline:
                    state = _wait_state(pid, _PROC)
                    if state == "read":
                        self._silent_seen[path] = self._time.monotonic()
                    elif state in ("multiplexed", "gone"):
                        return  # the read is over: the last time it was seen stands
                    self._time.sleep(_SAMPLE_S)
            finally:
                self._watching.discard(path)

        self._threading.Thread(target=run, name="workprint-silent-read", daemon=True).start()

    def submitted(self) -> None:
        """Enter was pressed: a prompt read off the screen is answered."""
        if self.prompt_reader is not None:
            self.prompt_reader.submitted()

    def __call__(self, focus) -> bool | None:
        return self._judge(focus, self._facts(focus))

    def _facts(self, focus) -> "tuple[_PtyFacts, ...] | bool | None":
        """What the terminal's ptys are doing now, or the verdict when that alone decides
        (not a terminal: False; no process, no pty, a remote shell the policy does not let
        the screen judge: None)."""
        if not is_terminal(focus.app_id, focus.app_instance):
            return False
        if not focus.pid or not os.path.exists(f"/proc/{focus.pid}"):
            return None
        paths = self._ptys(focus.pid)
        if not paths:
            return None
        facts = []
        for path, member in paths:
            st = _read_stat(member)
            fg_pid = st[2] if st is not None and st[2] > 0 else 0
            fg = _comm(fg_pid) if fg_pid else ""
            if fg in REMOTE_SHELLS or fg.startswith(MULTIPLEXERS):
                # the pty that reads the keys is on another machine or in another pane:
                # its echo flag cannot be seen here
                if self.remote != "prompt" or self.prompt_reader is None:
                    return None
                facts.append(_PtyFacts(path, fg_pid, fg, None, None, remote=True))
                continue
            mode = tty_mode(path)
            silent = None
            if mode is not None and mode == (False, False) and fg in LINE_EDITOR_SHELLS and st is not None:
                # readline and `read -rs -n 12` hold the terminal the same way: what the
                # shell is doing tells them apart (unknown: fail closed)
                silent = self._silent_read(path, st[2])
            facts.append(_PtyFacts(path, fg_pid, fg, mode, silent, remote=False,
                                   known=st is not None))
        return tuple(facts)

    def _judge(self, focus, facts, kept: "_KeptGrab | None" = None) -> bool | None:
        """The verdict for ``facts`` (from :meth:`_facts`); a prompt that only the screen can
        judge is read from ``kept`` (the window grabbed when the key was pressed: read once
        per reader key, and never cached by the reader as the screen now) or, without it,
        from the screen now."""
        if not isinstance(facts, tuple):
            return facts
        verdicts: list[bool | None] = []
        ask: list[tuple] = []  # ptys whose screen text must decide
        for f in facts:
            if f.remote:
                verdicts.append(False)
                ask.append((f.path, f.fg_pid, "remote"))
                continue
            if f.mode is None:
                verdicts.append(None)
                continue
            echo, canonical = f.mode
            if canonical and not echo:
                verdicts.append(True)  # getpass, sudo, ssh, passwd: a password prompt
            elif not canonical and f.fg.startswith(SECRET_READERS):
                verdicts.append(True)
            elif not canonical and not echo and f.fg in LINE_EDITOR_SHELLS and f.known:
                verdicts.append(f.silent if f.silent is None else bool(f.silent))
            else:
                verdicts.append(False)
                if canonical or f.fg not in ORDINARY_RAW or (not echo and f.fg in EDITORS):
                    ask.append((f.path, f.fg_pid, echo, canonical))
        if any(v is True for v in verdicts):
            return True
        if not verdicts or any(v is None for v in verdicts):
            return None
        if ask and self.prompt_reader is not None:
            key = (focus.window, *ask[0])
            if kept is None or kept.pixels is None or not getattr(kept.line, "identifies", True):
                # no grab of the key's moment (failed, or pushed out by newer prompt lines),
                # or nothing of a prompt left of the typing in it (a line just begun, a
                # prompt not drawn yet): the screen as it is now
                return self.prompt_reader(focus.geometry, key)
            if key not in kept.verdicts:
                verdict = self.prompt_reader(focus.geometry, key, pixels=kept.pixels, remember=False)
                if verdict is None:
                    return None
                kept.verdicts[key] = verdict
            return kept.verdicts[key]
        return False

    @staticmethod
    def _needs_screen(facts) -> bool:
        """Would :meth:`_judge` read the screen for these facts (no tty signal decides)?"""
        if not isinstance(facts, tuple) or not facts:
            return False
        decided = False
        screen = False
        for f in facts:
            if f.remote:
                screen = True
            elif f.mode is None:
                decided = True
            else:
                echo, canonical = f.mode
                if (canonical and not echo) or (not canonical and f.fg.startswith(SECRET_READERS)):
                    decided = True
                elif not canonical and not echo and f.fg in LINE_EDITOR_SHELLS and f.known:
                    decided = decided or f.silent is not False
                elif canonical or f.fg not in ORDINARY_RAW or (not echo and f.fg in EDITORS):
                    screen = True
        return screen and not decided

    # -- the state each key met ---------------------------------------------------------
    def start_sampling(self, focus_now: Callable[[], "object | None"], worker=None) -> Callable[[int], None]:
        """Sample the tty state of the terminal in front at each key press, off the input
        hook, and return the callback for the input hook (``key_pressed(t_ns)``: it only
        enqueues). :meth:`at` then judges a key by the state it met, however far behind the
        recorder's processing is: a prompt opened and answered while the recorder was busy
        still made its keys secret. Where the prompt can only be told by its words, the
        window is grabbed with the sample (its OCR stays on the processor). ``worker``: a
        :class:`.wakeup.KeyTimeWorker` whose thread samples (the backend's, shared with its
        key-time checks; its owner starts and stops it), else a thread of its own."""
        from .wakeup import KeyTimeWorker

        if self._sampler is not None:
            return self._sampler.key_pressed
        self._focus_now = focus_now
        self._own_sampler = worker is None
        self._sampler = worker if worker is not None else KeyTimeWorker("workprint-tty-sampler")
        self._sampler.add(self._sample_keys)
        if self._own_sampler:
            self._sampler.start()
        return self._sampler.key_pressed

    @property
    def sampling(self) -> bool:
        """True while keys are judged by the tty state sampled when they were pressed."""
        return self._sampler is not None

    def stop_sampling(self) -> None:
        if self._sampler is not None:
            self._sampler.remove(self._sample_keys)
            if self._own_sampler:
                self._sampler.stop()
            self._sampler = None

    def _sample_keys(self, keys: list[int]) -> None:
        try:
            self._sample(keys)
        except Exception:  # noqa: BLE001 - no sample: those keys are judged as now
            import logging

            logging.getLogger(__name__).exception("tty sample failed")

    def _sample(self, keys: list[int]) -> None:
        focus = self._focus_now()
        if focus is None or not is_terminal(focus.app_id, focus.app_instance):
            return
        sampled_ns = self._time.monotonic_ns()
        facts = self._facts(focus)
        kept = None
        grab = getattr(self.prompt_reader, "grab", None)
        if self._needs_screen(facts) and grab is not None and focus.geometry is not None:
            try:
                pixels = grab(focus.geometry)
            except Exception:  # noqa: BLE001 - no grab: the key cannot be told if judged late
                pixels = None
            kept = self._keep(focus.window, pixels)
        with self._lock:
            for t_ns in keys:
                self._samples[t_ns] = _KeySample(focus.window, sampled_ns, facts, kept)
            while len(self._samples) > MAX_KEY_SAMPLES:
                self._samples.popitem(last=False)

    def _keep(self, window: int, pixels) -> _KeptGrab:
        """The kept grab for ``pixels``: the newest one, when it shows the same prompt line
        (the keys typed into one prompt share one grab and what is read off it, as the
        prompt reader's own cache has it), else ``pixels`` kept as a new one - at most
        ``MAX_KEPT_GRABS`` (the oldest one's pixels are dropped for all its keys). A line
        with nothing left of where typing began (no prompt drawn yet) is shared by none."""
        if pixels is None:
            return _KeptGrab(window, None, None)
        same = getattr(self.prompt_reader, "shows", None)
        line_of = getattr(self.prompt_reader, "prompt_line", None)
        with self._lock:
            newest = self._grabs[-1] if self._grabs else None
        if (newest is not None and newest.window == window and newest.pixels is not None
                and newest.line is not None and getattr(newest.line, "identifies", True)
                and same is not None and same(newest.line, pixels)):
            return newest
        kept = _KeptGrab(window, pixels, line_of(pixels) if line_of is not None else None)
        with self._lock:
            self._grabs.append(kept)
            while len(self._grabs) > MAX_KEPT_GRABS:
                self._grabs.popleft().pixels = None
        return kept

    def at(self, focus, t_ns: int) -> bool | None:
        """The verdict for a key pressed at ``t_ns`` into ``focus``, by the tty state sampled
        when it was pressed (if a sample of that window was taken within
        ``KEY_SAMPLE_FRESH_NS``; else as now): a prompt answered and closed by the time its
        last keys are judged still holds them. Asked within ``KEY_LATE_NS`` of the key, the
        terminal as it is now is asked too: "secret" from either makes it secret, else it is
        as now. Asked later, where the sample left it to a grab that showed no prompt
        (grabbed before the prompt was drawn, or misread), "secret" now makes it secret too.
        A key whose grab was dropped or failed, or shows nothing left of the typing, is read
        off the screen as it is now."""
        with self._lock:
            sample = self._samples.get(t_ns)
        if (sample is None or sample.window != focus.window
                or sample.sampled_ns - t_ns > KEY_SAMPLE_FRESH_NS):
            return self(focus)
        if self._time.monotonic_ns() - t_ns <= KEY_LATE_NS:
            # now first: the sample's grab usually shows the line just read (no second OCR).
            # The sample only adds "secret": a shell caught busy with the key as it was
            # sampled (its silent read cannot be told) is judged as it is now.
            now = self(focus)
            return True if now is True or self._judge(focus, sample.facts, sample.grab) is True else now
        met = self._judge(focus, sample.facts, sample.grab)
        if met is True or met is None or sample.grab is None or not self._needs_screen(sample.facts):
            return met  # the tty decided, as the key met it (or it cannot be told)
        return True if self(focus) is True else met
