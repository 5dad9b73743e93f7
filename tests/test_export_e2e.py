"""Acceptance: a session really recorded on a virtual screen (the `workprint record` command,
the example policy, the Tk workbench driven by xdotool, tasks marked with `workprint task`)
is exported to all three formats with `workprint export` and loaded the way the consumers
load it - AgentNet with images from ``images/``, Aguvis through its yaml dataset list, Hugging
Face with ``datasets.load_dataset`` in the current release and in 3.6. Every step of every
trajectory comes through with its screenshot, and every code line is in the grammar."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ds36 import datasets36_python
from export_load import agentnet_load, aguvis_load, hf_load, python_current

pytestmark = pytest.mark.x11

WORKPRINT = [sys.executable, "-m", "workprint.cli"]
POLICY = Path(__file__).resolve().parent.parent / "examples" / "policy.toml"
TYPED = "It's \"done\" [ok]"


def _wp(desk, data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*WORKPRINT, *args, "--data-dir", str(data)], env=desk.env, check=True,
                          capture_output=True, text=True, timeout=300)


def _glide(desk, wid: int, x: int, y: int) -> None:
    """Move to (x, y) in the window in a few steps, as a hand would."""
    args: list[str] = []
    for i in range(1, 6):
        args += ["mousemove", "--window", str(wid), str(x - 5 * (5 - i)), str(y - 3 * (5 - i)),
                 "sleep", "0.03"]
    desk.xdotool(*args)


def _task_one(desk, wid: int) -> None:
    x = desk.xdotool
    pause = lambda: time.sleep(0.7)  # noqa: E731 - longer than the multi-click window
    _glide(desk, wid, 200, 34); x("click", "1"); pause()
    x("type", "--delay", "60", TYPED); pause()
    _glide(desk, wid, 180, 34); x("click", "--repeat", "3", "--delay", "80", "1"); pause()
    x("key", "ctrl+a"); pause()
    _glide(desk, wid, 250, 160); x("click", "1"); pause()
    x("type", "--delay", "60", "line one"); time.sleep(0.2)
    x("key", "Return"); time.sleep(0.2)
    x("type", "--delay", "60", "two"); pause()
    _glide(desk, wid, 700, 200)
    for _ in range(3):
        x("click", "5"); time.sleep(0.08)
    pause()
    for _ in range(2):
        x("click", "7"); time.sleep(0.08)
    pause()
    _glide(desk, wid, 300, 450); x("click", "3"); pause()
    _glide(desk, wid, 340, 480); x("click", "2"); pause()
    _glide(desk, wid, 640, 113)
    x("keydown", "ctrl"); time.sleep(0.1); x("click", "1"); time.sleep(0.1); x("keyup", "ctrl"); pause()
    _glide(desk, wid, 120, 400)
    x("mousedown", "1")
    for i in range(1, 11):
        x("mousemove", "--window", str(wid), str(120 + 20 * i), str(400 + 8 * i))
        time.sleep(0.03)
    x("mouseup", "1")
    time.sleep(4.0)                     # a pause long enough to be a wait step
    x("key", "ctrl+s"); pause()


def test_recorded_session_exports_to_every_format_and_loads(desk, tmp_path):
    data = tmp_path / "data"
    _, wid, _state = desk.workbench()
    desk.activate(wid)
    subprocess.run([*WORKPRINT, "notice", "--accept", "--data-dir", str(data), "--policy", str(POLICY)],
                   env=desk.env, check=True, capture_output=True)
    proc = subprocess.Popen([*WORKPRINT, "record", "--data-dir", str(data), "--policy", str(POLICY)],
                            env=desk.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "recording session" in proc.stderr.readline()
        time.sleep(1.0)
        _wp(desk, data, "task", "start", "Fill in the form and save it")
        time.sleep(0.5)
        _task_one(desk, wid)
        _wp(desk, data, "task", "end")
        time.sleep(0.5)
        _wp(desk, data, "task", "start", "Add one more invoice")
        time.sleep(0.5)
        _glide(desk, wid, 580, 34); desk.xdotool("click", "1"); time.sleep(0.8)
        _wp(desk, data, "task", "end", "--failed")
        time.sleep(0.8)
        _glide(desk, wid, 200, 34); desk.xdotool("click", "1"); time.sleep(0.7)
        desk.xdotool("type", "--delay", "60", "after"); time.sleep(1.5)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err

    # the three exports read the same session: run side by side (the machine has two cores)
    exports = {fmt: subprocess.Popen([*WORKPRINT, "export", "--data-dir", str(data), "--format", fmt,
                                      "--out", str(tmp_path / fmt), "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for fmt in ("agentnet", "aguvis", "hf")}
    summaries = {}
    for fmt, export in exports.items():
        out, err = export.communicate(timeout=600)
        assert export.returncode == 0, err
        summaries[fmt] = json.loads(out)
    s = summaries["agentnet"]
    assert {k: v["steps"] for k, v in summaries.items()} == {k: s["steps"] for k in summaries}
    assert s["dropped"] == {"steps": 0, "trajectories": 0, "reasons": {}}, s["dropped"]

    # --- AgentNet ---------------------------------------------------------------------
    trajs = agentnet_load(tmp_path / "agentnet")
    assert len(trajs) == s["trajectories"] == 3
    one, two, rest = trajs
    assert (one["instruction"], one["task_completed"]) == ("Fill in the form and save it", True)
    assert (two["instruction"], two["task_completed"]) == ("Add one more invoice", False)
    assert rest["unlabelled"] is True and rest["task_completed"] is None
    codes = [st["value"]["code"] for st in one["traj"]]
    kinds = [st["value"]["structured"]["type"] for st in one["traj"]]
    for kind in ("click", "write", "tripleClick", "hotkey", "press", "scroll", "hscroll",
                 "rightClick", "middleClick", "drag", "wait", "end"):
        assert kind in kinds, (kind, kinds)
    assert kinds[-1] == "end" and codes[-1] == "computer.terminate(status='success')"
    assert two["traj"][-1]["value"]["code"] == "computer.terminate(status='failure')"
    assert all("terminate" not in st["value"]["code"] for st in rest["traj"])
    assert "pyautogui.write(message='It\\x27s \\x22done\\x22 \\x5bok\\x5d')" in codes
    assert any(c.startswith("pyautogui.click(") and c.endswith("modifiers=['ctrl'])") for c in codes), codes
    assert "pyautogui.hotkey(keys=['ctrl', 'a'])" in codes and "pyautogui.press(keys=['enter'])" in codes
    assert "pyautogui.moveTo(x=" in codes[kinds.index("scroll")] and codes[kinds.index("scroll")].endswith(
        "\npyautogui.scroll(-3)")
    assert codes[kinds.index("hscroll")].endswith("\npyautogui.hscroll(2)")
    text = (tmp_path / "agentnet" / "trajectories.jsonl").read_text()
    assert "Tk Workbench" not in text and str(data) not in text

    # --- Aguvis -----------------------------------------------------------------------
    samples = aguvis_load(tmp_path / "aguvis")
    assert len(samples) == s["steps"]
    system = samples[0]["conversations"][0]["value"]
    for fn in ("computer.tripleClick", "computer.wait", "computer.terminate", "pyautogui.hscroll"):
        assert f'"name": "{fn}"' in system
    assert '"name": "mobile.' not in system

    # --- Hugging Face, current release and 3.6 ------------------------------------------
    pythons = (python_current(), datasets36_python())
    with ThreadPoolExecutor(2) as pool:  # each load is its own process: both at once
        loads = list(pool.map(lambda py: hf_load(py, tmp_path / "hf", tmp_path / f"home-{Path(py).parent.parent.name}"),
                              pythons))
    assert sorted(got["version"][:4] == "3.6." for got in loads) == [False, True]
    for got in loads:
        assert len(got["rows"]) == s["steps"], got["version"]
        assert all(r["size"] == [1920, 1080] for r in got["rows"]), got["version"]
        assert [r["code"] for r in got["rows"]] == [st["value"]["code"] for t in trajs for st in t["traj"]]
