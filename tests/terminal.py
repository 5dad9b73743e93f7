"""Run a command with its stderr on a terminal (a pseudo-terminal of 100 columns), as a person
at a shell sees it; stdout stays a pipe so its JSON can be read."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time


def run_on_a_terminal(argv: list[str], *, timeout: float = 120, env: dict | None = None,
                      stdin_text: str | None = None) -> tuple[int, str, str]:
    """``(returncode, stdout, what the terminal showed on stderr)``. With ``stdin_text``
    stdin is the same terminal and the text is typed into it; else stdin is empty."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.Popen(argv, stdin=child if stdin_text is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=child, env=env)
    finally:
        os.close(child)
    if stdin_text is not None:
        os.write(main, stdin_text.encode())
    shown = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(main, 65536)
            except OSError:      # EIO: every holder of the terminal's other end has closed it
                break
            if not data:
                break
            shown += data
        out = proc.stdout.read()
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        os.close(main)
    return rc, out.decode(), shown.decode(errors="replace")
