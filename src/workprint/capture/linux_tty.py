"""Is a terminal emulator's foreground program reading a password? (Linux, no X needed)

Programs that read passwords (sudo, ssh, passwd, gpg, git credential prompts) switch the
terminal's ECHO flag off. That is robust regardless of prompt text or language, so the
recorder asks it whenever a terminal window has focus:

:func:`terminal_echo_off` walks ``/proc`` for descendants of the terminal emulator,
collects the pseudo-terminals (``/dev/pts/N``) they are attached to, and reads their
termios flags. ``True``: some pty whose foreground process group belongs to the terminal
has ECHO off; ``False``: echo on everywhere; ``None``: unknown (caller fails closed).
"""

from __future__ import annotations

import os
import termios
from pathlib import Path

_PROC = Path("/proc")


def _read_stat(pid: int, proc: Path = _PROC) -> tuple[int, int, int] | None:
    """(ppid, tty_nr, tpgid) of a process, or None if it is gone."""
    try:
        raw = (proc / str(pid) / "stat").read_bytes()
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
    for entry in proc.iterdir():
        if entry.name.isdigit():
            st = _read_stat(int(entry.name), proc)
            if st is not None:
                stats[int(entry.name)] = st
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


def echo_off(path: str) -> bool | None:
    """ECHO flag of a tty device: True if off, None if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        lflag = termios.tcgetattr(fd)[3]
    except termios.error:
        return None
    finally:
        os.close(fd)
    return not (lflag & termios.ECHO)


def terminal_echo_off(terminal_pid: int) -> bool | None:
    """True if a pty of ``terminal_pid``'s descendants has ECHO off in the foreground."""
    if terminal_pid <= 0 or not (_PROC / str(terminal_pid)).exists():
        return None
    try:
        procs = _descendants(terminal_pid)
    except OSError:
        return None
    ttys: set[int] = set()
    for pid, (_, tty_nr, tpgid) in procs.items():
        # the pty's foreground process group is one of the terminal's descendants
        if tty_nr and tpgid > 0 and (tpgid in procs or tpgid == pid):
            ttys.add(tty_nr)
    if not ttys:
        return None
    results = [echo_off(p) for p in map(pts_path, sorted(ttys)) if p]
    if any(r is True for r in results):
        return True
    if results and all(r is False for r in results):
        return False
    return None
