"""Keys that cannot be attributed to the window in front are never stored (issue 11, class 4).

A stand-in locker (``tests/apps/locker.py``) takes the keyboard while an allowed terminal is
the active window - by a grab with a full-screen override-redirect window (i3lock,
xsecurelock), a grab without any window (slock-like), a grab with a small dialog (pinentry,
polkit) - by the core protocol or by XInput 2 (GTK 3's seat grab) - or by taking the input
focus without a grab - and an unlock password is typed into
it. Each test proves the locker received the password and that the recorder recorded the
terminal before and after, then searches every byte written for the password.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import read_state, wait_for
from workprint.store.session import DataDir

from .leaks import WORKPRINT, assert_no_leak, lagging_recorder, recording, spelled

pytestmark = pytest.mark.x11
LOCKER = Path(__file__).resolve().parents[1] / "apps" / "locker.py"


def _status(data: Path) -> dict:
    res = subprocess.run([*WORKPRINT, "status", "--json", "--data-dir", str(data)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _status_text(data: Path) -> str:
    res = subprocess.run([*WORKPRINT, "status", "--data-dir", str(data)], capture_output=True, text=True,
                         timeout=30)
    return res.stdout


def _finish_and_unlock(desk, state: Path, data: Path, term: int, secret: str, typed: str = "") -> None:
    """Type the rest of ``secret`` into the locker (``typed`` is in already), unlock it with
    Return, and type an ordinary line into ``term`` once recording resumed."""
    desk.xdotool("type", "--delay", "40", secret[len(typed):])
    wait_for(lambda: read_state(state)["typed"] == secret, what="the password at the locker")
    desk.xdotool("key", "Return")
    wait_for(lambda: read_state(state)["unlocked"], what="locker unlocked")
    time.sleep(0.3)
    desk.activate(term)
    desk.xdotool("type", "--delay", "20", "echo after-unlock\n")
    wait_for(lambda: _status(data)["recording"], what="recording again")
    time.sleep(1.2)


@pytest.mark.parametrize("mode,secret", [
    ("fullscreen", "unlock-Pw-4417"),
    ("nowindow", "slock+pass=9921"),
    ("dialog", "pinentry-Secret-58"),
    ("focus", "stolen-focus-Pw-73"),
    ("xi2", "seat-grab-Pw-61"),
])
def test_a_password_typed_into_a_locker_is_not_recorded(desk, tmp_path, mode, secret):
    term = desk.xterm("attr-term", geometry="90x20+20+20")
    desk.activate(term)
    data = tmp_path / "data"
    state = tmp_path / "locker.json"
    x = desk.xdotool
    with recording(desk, data):
        x("type", "--delay", "20", "echo before-lock\n")
        time.sleep(1.2)
        desk.vd.spawn([sys.executable, str(LOCKER), "--mode", mode, "--state", str(state)])
        wait_for(lambda: state.exists() and read_state(state)["grabbed"], what="locker has the keyboard")
        x("type", "--delay", "40", secret[:3])
        wait_for(lambda: read_state(state)["typed"] == secret[:3], what="first keys at the locker")
        status = _status(data)                 # the state is visible while it lasts
        assert status["recording"] is False and status["paused"] == "unattributable", status
        assert status["unattributable"], status
        assert "unattributable" in _status_text(data)
        time.sleep(1.3)                        # a pause longer than a typing run's
        _finish_and_unlock(desk, state, data, term, secret, typed=secret[:3])
    views = spelled(data)
    assert "echo before-lock" in views["chars"] and "echo after-unlock" in views["chars"], views["chars"]
    assert_no_leak(data, [secret], export_dir=tmp_path / "export")
    store = DataDir(data)
    with store.open(store.session_ids()[0]) as s:
        gaps = [g.reason for g in s.events(["gap"])]
        names = [m.name for m in s.events(["marker"])]
    assert "unattributable" in gaps
    assert not any(n.startswith("keys_") for n in names)  # the backend's markers are not stored


@pytest.mark.parametrize("mode,secret", [
    ("nowindow", "lagged-slock-Pw-31"),
    ("fullscreen", "lagged-i3lock-Pw-77"),
])
def test_a_locker_that_came_and_went_while_the_recorder_was_behind(desk, tmp_path, mode, secret):
    """The recorder's processing is stalled while a locker takes the keyboard, is typed its
    password and lets go again: when those keys are decoded, the grab (or the stolen focus)
    is over. Each key was checked as it was pressed, on a thread of its own, so they are still
    not attributed to the terminal. Real recorder pieces in this process (see
    ``leaks.lagging_recorder``), so the stall can be made."""
    term = desk.xterm("lag-attr-term", geometry="90x20+20+20")
    desk.activate(term)
    data, state = tmp_path / "data", tmp_path / "locker.json"
    x = desk.xdotool
    with lagging_recorder(data) as rec:
        x("type", "--delay", "20", "echo before-lock\n")
        time.sleep(1.0)
        stalled_until = rec.stall(6.0)
        desk.vd.spawn([sys.executable, str(LOCKER), "--mode", mode, "--state", str(state), "--exit-after-unlock"])
        wait_for(lambda: state.exists() and read_state(state)["grabbed"], what="locker has the keyboard")
        x("type", "--delay", "30", secret)
        x("key", "Return")
        wait_for(lambda: read_state(state)["unlocked"], what="locker unlocked")
        assert read_state(state)["typed"] == secret
        desk.activate(term)
        assert time.monotonic() < stalled_until, "the locker outlasted the stall: nothing was proved"
        time.sleep(max(0.0, stalled_until - time.monotonic()) + 0.5)
        x("type", "--delay", "20", "echo after-unlock\n")
        time.sleep(1.5)
    views = spelled(data)
    assert "echo before-lock" in views["chars"] and "echo after-unlock" in views["chars"], views["chars"]
    assert_no_leak(data, [secret])


@pytest.mark.parametrize("mode,secret", [
    ("nowindow", "fresh-slock-Pw-52"),
    ("dialog", "fresh-pinentry-Pw-08"),
    ("xi2", "fresh-seat-grab-Pw-19"),
])
def test_a_locker_that_grabs_a_window_nobody_typed_into_yet(desk, tmp_path, mode, secret):
    """The window in front has just become active and no key was typed into it when the
    keyboard is grabbed: the grab's FocusOut goes only to connections that selected focus
    events on that window before the grab began - the recorder selects them as the window
    becomes active, not at its first key. (A grab without a window or with a small one
    leaves the input focus where it was and covers nothing: only the FocusOut tells.)"""
    first = desk.xterm("fresh-a", geometry="80x12+20+20")
    second = desk.xterm("fresh-b", geometry="80x12+20+300")
    desk.activate(first)
    data, state = tmp_path / "data", tmp_path / "locker.json"
    x = desk.xdotool
    with recording(desk, data):
        x("type", "--delay", "20", "echo before-lock\n")
        time.sleep(1.2)
        desk.activate(second)                  # in front now; not one key typed into it
        time.sleep(0.8)
        desk.vd.spawn([sys.executable, str(LOCKER), "--mode", mode, "--state", str(state)])
        wait_for(lambda: state.exists() and read_state(state)["grabbed"], what="locker has the keyboard")
        _finish_and_unlock(desk, state, data, second, secret)
    views = spelled(data)
    assert "echo before-lock" in views["chars"] and "echo after-unlock" in views["chars"], views["chars"]
    assert_no_leak(data, [secret])
    store = DataDir(data)
    with store.open(store.session_ids()[0]) as s:
        assert "unattributable" in [g.reason for g in s.events(["gap"])]
