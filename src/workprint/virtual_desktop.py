"""A virtual X11 desktop (Xvfb + openbox) for the demo, the tests and the benchmarks.

``Xvfb -displayfd`` picks a free display number itself (never a fixed one); openbox
provides ``_NET_ACTIVE_WINDOW``. Every process started here is stopped on exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Sequence

#: What an xterm on a virtual desktop runs (``xterm ... *TERMINAL_SHELL``): bash without the
#: user's rc files, whose start-up (pyenv, conda, a stale lock of theirs) can hold the prompt
#: back for a minute while typed commands are only echoed.
TERMINAL_SHELL = ("-e", "bash", "--norc", "--noprofile")


class VirtualDesktop:
    def __init__(self, width: int = 1920, height: int = 1080, *, window_manager: bool = True):
        self.width, self.height = width, height
        self.window_manager = window_manager
        self.display: str | None = None
        self._procs: list[subprocess.Popen] = []
        self.env: dict[str, str] = {}

    def start(self) -> "VirtualDesktop":
        for tool in ("Xvfb",) + (("openbox",) if self.window_manager else ()):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is not installed (run `make setup`, or apt-get install xvfb openbox)")
        r, w = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", f"{self.width}x{self.height}x24",
             "-nolisten", "tcp", "-noreset"],
            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        self._procs.append(xvfb)
        number = b""
        deadline = time.monotonic() + 10
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(r, 16)
            if not chunk:
                break
            number += chunk
        os.close(r)
        if not number.strip():
            self.stop()
            raise RuntimeError("Xvfb did not report a display number")
        self.display = f":{int(number)}"
        self.env = {**os.environ, "DISPLAY": self.display, "NO_AT_BRIDGE": "1"}
        if self.window_manager:
            self._procs.append(subprocess.Popen(
                ["openbox", "--sm-disable"], env=self.env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self._wait_for_wm()
        return self

    def _wait_for_wm(self, timeout: float = 10.0) -> None:
        from Xlib import display

        d = display.Display(self.display)
        try:
            atom = d.intern_atom("_NET_SUPPORTING_WM_CHECK")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if d.screen().root.get_full_property(atom, 0) is not None:
                    return
                time.sleep(0.02)
            raise RuntimeError("openbox did not start")
        finally:
            d.close()

    def spawn(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start an app on this display; it is stopped with the desktop."""
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        env = {**self.env, **kwargs.pop("env", {})}
        p = subprocess.Popen(list(argv), env=env, **kwargs)
        self._procs.insert(len(self._procs), p)
        return p

    def xdotool(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=30)
        if check and out.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def wait_window(self, name: str, timeout: float = 15.0) -> int:
        """Wait until a window whose title matches ``name`` (regex) is mapped; its id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name],
                                 env=self.env, capture_output=True, text=True)
            ids = out.stdout.split()
            if ids:
                return int(ids[0])
            time.sleep(0.05)
        raise TimeoutError(f"no window named {name!r} appeared within {timeout}s")

    def stop(self) -> None:
        for p in reversed(self._procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self._procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._procs.clear()

    def __enter__(self) -> "VirtualDesktop":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
