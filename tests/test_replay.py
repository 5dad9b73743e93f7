import json

import pytest

from workprint.cli import main
from workprint.export import export_sessions
from workprint.export.common import ExportError
from workprint.export.replay import RecordingInjector, load_trajectory, plan_steps, replay

from test_export_formats import data_dir  # noqa: F401  (module fixture)


def traj_of(steps, w=1920, h=1080):
    return {"task_id": "t", "screen": {"width": w, "height": h},
            "traj": [{"index": i, "value": {"code": "", "structured": s}} for i, s in enumerate(steps)]}


def no_sleep(_):
    pass


def test_replay_ops_scaled_to_current_screen():
    traj = traj_of([
        {"type": "doubleClick", "x": 960, "y": 540, "nx": 0.5, "ny": 0.5, "button": "left"},
        {"type": "write", "text": "Hi!"},
        {"type": "hotkey", "keys": ["ctrl", "s"]},
        {"type": "scroll", "x": 0, "y": 0, "nx": 0.1, "ny": 0.1, "dx": 0, "dy": -2},
        {"type": "drag", "nx": 0.1, "ny": 0.1, "nx2": 0.2, "ny2": 0.3, "button": "left"},
        {"type": "rightClick", "nx": 0.25, "ny": 0.25, "button": "right", "keys": ["shift"]},
        {"type": "end", "status": "success"},
    ])
    inj = RecordingInjector(size=(1000, 500))
    assert replay(traj, inj, sleep=no_sleep) == 7
    calls = [c for c in inj.calls if c[0] != "move"]
    assert calls == [
        ("button", "left", True), ("button", "left", False),
        ("button", "left", True), ("button", "left", False),
        ("char", "H"), ("char", "i"), ("char", "!"),
        ("key", "ctrl", True), ("key", "s", True), ("key", "s", False), ("key", "ctrl", False),
        ("scroll", 0, -1), ("scroll", 0, -1),
        ("button", "left", True), ("button", "left", False),
        ("key", "shift", True), ("button", "right", True), ("button", "right", False),
        ("key", "shift", False),
    ]
    moves = [c for c in inj.calls if c[0] == "move"]
    assert ("move", 500, 250) in moves and ("move", 100, 50) in moves and ("move", 200, 150) in moves
    assert inj.cursor == (250, 125)


def test_pace_scales_with_speed():
    traj = traj_of([{"type": "write", "text": "abcd"}, {"type": "wait"}])
    slow = sum(op[1] for ops in plan_steps(traj, (100, 100)) for op in ops if op[0] == "sleep")
    fast = sum(op[1] for ops in plan_steps(traj, (100, 100), speed=2) for op in ops if op[0] == "sleep")
    assert fast == pytest.approx(slow / 2) and slow > 1


def test_replay_exported_trajectory_and_cli_dry_run(data_dir, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "an"
    export_sessions(data_dir, None, "agentnet", out)
    first = json.loads((out / "trajectories.jsonl").read_text().splitlines()[0])
    traj = load_trajectory(out, first["task_id"])
    inj = RecordingInjector()
    replay(traj, inj, sleep=no_sleep)
    assert ("move", 500, 500) in inj.calls
    typed = "".join(c[1] for c in inj.calls if c[0] == "char")
    assert typed == "Hi it's me<PASSWORD>"
    with pytest.raises(ExportError):
        load_trajectory(out, "nope")
    assert main(["replay", str(out), "--trajectory", first["task_id"], "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "pyautogui.click(x=0.2604, y=0.4630)" in text and "computer.terminate" in text


def test_cli_export(data_dir, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "cli"
    rc = main(["export", "--data-dir", str(data_dir), "--format", "agentnet", "--out", str(out), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trajectories"] == 2 and (out / "trajectories.jsonl").exists()
    assert main(["export", "--data-dir", str(tmp_path / "empty"), "--format", "hf", "--out", str(out)]) == 2
    assert "No sessions" in capsys.readouterr().err
