"""Shared fixtures: a real virtual X desktop (Xvfb -displayfd + openbox) and real apps.

Every process started here is stopped at the end of the test that started it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

APPS = Path(__file__).parent / "apps"


class Desk:
    """The virtual desktop plus helpers to start the test apps and wait on state."""

    def __init__(self, vd, tmp: Path):
        self.vd = vd
        self.tmp = tmp
        self.display = vd.display
        self.env = vd.env

    def xdotool(self, *args: str) -> str:
        return self.vd.xdotool(*args)

    def xterm(self, title: str = "work-term", geometry: str = "80x24+40+40") -> int:
        from workprint.virtual_desktop import TERMINAL_SHELL

        self.vd.spawn(["xterm", "-T", title, "-geometry", geometry, *TERMINAL_SHELL])
        return self.vd.wait_window(f"^{title}$")

    def workbench(self, title: str = "Tk Workbench", geometry: str = "900x700+600+100"):
        state = self.tmp / f"state-{int(time.monotonic_ns())}.json"
        proc = self.vd.spawn([sys.executable, str(APPS / "workbench.py"), "--title", title,
                              "--state", str(state), "--geometry", geometry])
        ascii_prefix = title.encode("ascii", "ignore").decode().split(" - ")[0]
        wid = self.vd.wait_window("^" + re.escape(ascii_prefix))
        wait_for(lambda: state.exists(), what="workbench state file")
        return proc, wid, state

    def activate(self, wid: int) -> None:
        self.xdotool("windowactivate", "--sync", str(wid))


def wait_for(pred, timeout: float = 10.0, what: str = "condition", interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_state(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture
def desk(tmp_path):
    from workprint.virtual_desktop import VirtualDesktop

    vd = VirtualDesktop(1920, 1080).start()
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = vd.display
    try:
        yield Desk(vd, tmp_path)
    finally:
        vd.stop()
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old


class Recording:
    """An in-process recorder on the test desktop; ``stop()`` returns the open Session."""

    def __init__(self, data_dir: Path, **recorder_kwargs):
        from workprint.capture.recorder import Recorder
        from workprint.capture.linux.x11 import X11Backend
        from workprint.store.session import DataDir

        self.store = DataDir(data_dir)
        self.backend = X11Backend()
        info = self.backend.screen_info()
        self.writer = self.store.create({"screen": info.to_dict()})
        self.recorder = Recorder(self.backend, self.writer, **recorder_kwargs)
        self.recorder.start()
        time.sleep(0.3)  # let the hook and the first grab settle

    def stop(self):
        stats = self.recorder.stop()
        self.writer.close(dropped_frames=stats.frames_dropped)
        self.backend.close()
        self.stats = stats
        return self.store.open(self.writer.id)


@pytest.fixture
def record(desk, tmp_path):
    started: list[Recording] = []

    def start(**kwargs) -> Recording:
        rec = Recording(tmp_path / "data", **kwargs)
        started.append(rec)
        return rec

    yield start
    for rec in started:
        if not rec.recorder.stopped.is_set():
            rec.stop()
