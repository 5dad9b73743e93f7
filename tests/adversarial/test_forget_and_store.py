"""`forget` means everything grabbed in its window, and the store stays private and robust
(issue 11, classes 7 and 8), through the real CLI on a real X desktop.

* Frames queued for OCR: Tesseract is slowed down, so frames of the forgotten span wait
  (in memory or sealed in the quarantine) when `workprint forget --last` (or `--from
  ... --to ...` over the same seconds) runs; none of them may be stored afterwards. The recorder is given no Tesseract model for the in-process
  library (``TESSDATA_PREFIX`` points nowhere), so it falls back to the ``tesseract``
  command, and a wrapper first on ``PATH`` sleeps before running the real one.
* Permissions: a data dir that already exists with mode 0755, under umask 022.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from workprint.store.session import DataDir

from conftest import wait_for

from .leaks import WORKPRINT, find_leaks, ocr_frames, recording

pytestmark = pytest.mark.x11

POLICY = """
[scope]
allow_apps = ["Workbench"]
[screenshots]
enabled = true
ocr_mask = true
"""


def _slow_tesseract(tmp_path: Path, delay_s: float) -> tuple[dict, Path]:
    """The recorder's environment for a ``tesseract`` that first sleeps as many seconds as
    the returned file says (``delay_s`` until the test writes another number there)."""
    bin_dir = tmp_path / "slow-bin"
    bin_dir.mkdir()
    delay = tmp_path / "tesseract-delay"
    delay.write_text(f"{delay_s}")
    wrapper = bin_dir / "tesseract"
    wrapper.write_text(f"#!/bin/sh\nunset TESSDATA_PREFIX\nsleep \"$(cat {delay})\"\n"
                       f"exec /usr/bin/tesseract \"$@\"\n")
    wrapper.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "TESSDATA_PREFIX": str(tmp_path / "no-models")}, delay


def _forget(data: Path, seconds: int, how: str) -> dict:
    """Forget the last ``seconds``: as ``--last 5s``, or as the span ``--from`` (local
    wall-clock time, as a person writes it) ``--to`` (ISO-8601 with an offset) ending now."""
    if how == "last":
        span = ["--last", f"{seconds}s"]
    else:
        now = datetime.now().astimezone()
        span = ["--from", (now - timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S"),
                "--to", now.isoformat()]
    out = subprocess.run([*WORKPRINT, "forget", *span, "--yes", "--json", "--data-dir", str(data)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("secret,delay,how", [("ZEBRAFORGETONE", 2.0, "last"),
                                              ("QUOKKAFORGETTWO", 3.0, "from-to")])
def test_frames_waiting_for_ocr_are_dropped_by_forget(desk, tmp_path, secret, delay, how):
    _, bench, state = desk.workbench("Notes - Workbench", geometry="900x700+100+100")
    desk.activate(bench)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    data = tmp_path / "data"
    env, delay_file = _slow_tesseract(tmp_path, delay)
    desk.vd.env.update(env)  # the recorder's PATH (not ours)
    x = desk.xdotool
    with recording(desk, data, policy) as info:
        x("mousemove", "--window", str(bench), "300", "34", "click", "1")
        x("type", "--delay", "30", "keepmarker")
        x("key", "Return")
        wait_for(lambda: json.loads(state.read_text())["name"] == "keepmarker", what="marker typed")
        time.sleep(6.0)  # the marker lies well before the span forgotten below
        # the minute to forget: the value shows on screen, then is erased again
        x("type", "--delay", "40", secret)
        wait_for(lambda: secret in json.loads(state.read_text())["name"], what="value reached the app")
        time.sleep(0.8)  # a post-action frame shows it
        x("key", "--repeat", str(len(secret)), "--delay", "20", "BackSpace")
        wait_for(lambda: json.loads(state.read_text())["name"] == "keepmarker", what="value erased")
        time.sleep(0.8)
        quarantine = data / "sessions" / info_session(data) / "quarantine"
        queued = list(quarantine.glob("*.bin")) if quarantine.is_dir() else []
        report = _forget(data, 5, how)
        live = report["recorder"]
        # frames of the span were still held (ring, OCR backlog in memory or quarantine)
        assert live is not None and live["frames"] >= 1, report
        in_span = [p for p in queued if live["since_t_ns"] <= int(p.name.split("-")[0]) <= live["until_t_ns"]]
        assert not [p for p in in_span if p.exists()], "sealed frames of the span destroyed at once"
        # the forget ran while frames waited: from now on Tesseract takes its own time, so the
        # backlog left (frames from before the span, and the ones below) is read and stored
        # when the recorder stops, instead of waiting the slow reads out (30-55 s)
        delay_file.write_text("0")
        # recording goes on: a later click is stored, with frames that pass the OCR
        x("mousemove", "--window", str(bench), "400", "500", "click", "1")
        time.sleep(2.0)  # its post-action frame is grabbed
    sid = info["session"]
    with DataDir(data).open(sid) as s:
        [span] = s.meta["forgotten"]
        frames = s.frames()
        in_span = [f for f in frames if span["since_t_ns"] <= f.t_ns <= span["until_t_ns"]]
        assert not in_span, f"{len(in_span)} frame(s) of the forgotten span were stored after the forget"
        assert [f for f in frames if f.t_ns > span["until_t_ns"]], "frames after the forget are stored"
        chars = "".join(k.char or "" for k in s.events(["key_down"]))
        assert (s.meta.get("stats") or {}).get("frames_forgotten", 0) >= 1
    assert "keepmarker" in chars, "the recorder was recording before the span"
    assert not find_leaks(data, [secret])
    texts = ocr_frames(data, region=(100, 100, 900, 200), scale=2)
    assert any("Name" in t for t in texts), "OCR reads the form (else the check proves nothing)"
    assert not any(secret in t.replace(" ", "") for t in texts)


def info_session(data: Path) -> str:
    [sid] = DataDir(data).session_ids()
    return sid


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_a_recorded_session_is_owner_only_in_a_data_dir_that_was_0755(desk, tmp_path, umask):
    _, bench, state = desk.workbench("Notes - Workbench", geometry="900x700+100+100")
    desk.activate(bench)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.replace("ocr_mask = true", "ocr_mask = false"))
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "sessions").mkdir(mode=0o755)
    os.chmod(data, 0o755)
    os.chmod(data / "sessions", 0o755)
    old = os.umask(umask)
    try:
        with recording(desk, data, policy) as info:
            desk.xdotool("mousemove", "--window", str(bench), "300", "34", "click", "1")
            desk.xdotool("type", "--delay", "30", "perm check")
            wait_for(lambda: json.loads(state.read_text())["name"] == "perm check", what="typed")
            time.sleep(1.0)
            live = sorted(p.name for p in (data / "sessions").rglob("*"))
            assert any(n.endswith("-wal") for n in live), live  # the WAL, while recording
            _assert_private(data)
        subprocess.run([*WORKPRINT, "approve", "--all", "--data-dir", str(data)], check=True,
                       capture_output=True)
        subprocess.run([*WORKPRINT, "export", "--data-dir", str(data), "--format", "agentnet",
                        "--out", str(data / "exports" / "mine")], check=True, capture_output=True)
    finally:
        os.umask(old)
    with DataDir(data).open(info["session"]) as s:
        assert "perm check" in "".join(k.char or "" for k in s.events(["key_down"]))
    _assert_private(data)


def _assert_private(root: Path) -> None:
    bad = []
    for p in [root, *root.rglob("*")]:
        if p.is_symlink() or p.is_socket() or not p.exists():
            continue
        mode = stat.S_IMODE(p.stat().st_mode)
        want = 0o700 if p.is_dir() else 0o600
        if mode != want:
            bad.append(f"{p.relative_to(root)}: {oct(mode)}")
    assert not bad, "not owner-only: " + ", ".join(bad)
