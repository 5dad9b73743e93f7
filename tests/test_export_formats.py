import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workprint.events import FocusEvent, KeyEvent, MarkerEvent, ScrollEvent
from workprint.export import export_sessions
from workprint.export.common import ExportError

from evgen import MS, Stream
from storegen import make_session, screen_image


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    s = Stream(t0_ms=10_000)
    frames = [(s.t, screen_image("desktop"))]
    s.add(FocusEvent(s.at(100), 4242, "report.txt - Editor", "Editor", pid=777))
    s.add(MarkerEvent(s.at(100), "task_start", text="Write a greeting and save it"))
    s.move(400, 300).move(480, 420)
    frames.append((s.at(50), screen_image("editor")))
    s.at(700)
    s.click(500, 500)
    frames.append((s.at(300), screen_image("editor-focused")))
    s.at(800)
    s.type("Hi it's me", dt=90)
    for _ in range(3):
        s.add(ScrollEvent(s.at(40), 900, 600, 0, -1))
    s.add(KeyEvent(s.at(80), True, 0, redacted="PASSWORD"))
    s.add(KeyEvent(s.at(30), False, 0, redacted="PASSWORD"))
    s.chord("ctrl", "s")
    frames.append((s.at(400), screen_image("saved")))
    s.down(100, 100, dt=900).move(150, 150).up(300, 200)
    frames.append((s.at(200), screen_image("dragged")))
    s.add(MarkerEvent(s.at(500), "task_end", ok=True))
    # unlabelled work afterwards
    s.click(700, 700, dt=2000).key("Return", "\r")
    frames.append((s.at(300), screen_image("after")))
    make_session(root, s.events, frames)
    return root


def test_agentnet(data_dir, tmp_path):
    out = tmp_path / "an"
    calls = []
    summary = export_sessions(data_dir, None, "agentnet", out, progress=lambda d, t: calls.append((d, t)))
    lines = (out / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 2 == summary["trajectories"]
    t1, t2 = (json.loads(l) for l in lines)
    assert t1["instruction"] == "Write a greeting and save it" and t1["unlabelled"] is False
    assert t2["instruction"] == "" and t2["unlabelled"] is True
    assert t1["screen"] == {"width": 1920, "height": 1080, "scale": 1.0}
    codes = [s["value"]["code"] for s in t1["traj"]]
    assert codes == [
        "pyautogui.click(x=0.2604, y=0.4630)",
        "pyautogui.write(message='Hi it\\'s me')",
        "pyautogui.scroll(-3, x=0.4688, y=0.5556)",
        "pyautogui.write(message='<PASSWORD>')",
        "pyautogui.hotkey('ctrl', 's')",
        "pyautogui.moveTo(x=0.0521, y=0.0926)\npyautogui.dragTo(x=0.1562, y=0.1852, button='left')",
        "computer.terminate(status='success')",
    ]
    assert t2["traj"][-1]["value"]["code"] == "computer.terminate(status='unknown')"
    assert [s["index"] for s in t1["traj"]] == list(range(7))
    st = t1["traj"][0]["value"]["structured"]
    assert (st["x"], st["y"], st["screen"]["width"]) == (500, 500, 1920)
    for step in t1["traj"] + t2["traj"]:
        assert (out / step["image"]).is_file()
        assert isinstance(step["t_rel_s"], int)
    # the click's keyframe shows the editor before the click (not the focused result)
    from PIL import Image
    img = Image.open(out / t1["traj"][0]["image"])
    assert img.size == (1920, 1080)
    assert calls[-1] == (summary["steps"], summary["steps"]) and len(calls) == summary["steps"]
    text = (out / "trajectories.jsonl").read_text()
    assert "4242" not in text and "777" not in text and "20260101" not in text
    assert "report.txt - Editor" not in text


def test_keyframes_are_pre_action(data_dir, tmp_path):
    out = tmp_path / "an"
    export_sessions(data_dir, None, "agentnet", out)
    t1 = json.loads((out / "trajectories.jsonl").read_text().splitlines()[0])
    imgs = [s["image"] for s in t1["traj"]]
    assert imgs[0] != imgs[1]           # click sees "editor", typing sees "editor-focused"
    assert imgs[-1] != imgs[-2]         # terminate shows the screen after the last action


def test_deterministic_and_rerun(data_dir, tmp_path):
    for fmt in ("agentnet", "aguvis", "hf"):
        a, b = tmp_path / f"{fmt}1", tmp_path / f"{fmt}2"
        export_sessions(data_dir, None, fmt, a)
        export_sessions(data_dir, None, fmt, b)
        export_sessions(data_dir, None, fmt, b)   # re-run into the same folder
        fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        fb = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
        assert fa == fb
        for rel in fa:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_refuses_foreign_folder(data_dir, tmp_path):
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(ExportError):
        export_sessions(data_dir, None, "agentnet", tmp_path)


def test_aguvis(data_dir, tmp_path):
    out = tmp_path / "ag"
    export_sessions(data_dir, None, "aguvis", out, image_format="png")
    rows = [json.loads(l) for l in (out / "aguvis.jsonl").read_text().splitlines()]
    assert len(rows) == 7 + 3
    r = rows[1]
    human, gpt = r["conversations"]
    assert human["from"] == "human" and human["value"].startswith("<image>\n")
    assert "Instruction: Write a greeting and save it" in human["value"]
    assert "Step 1: pyautogui.click(x=0.2604, y=0.4630)" in human["value"]
    assert gpt == {"from": "gpt", "value": "pyautogui.write(message='Hi it\\'s me')",
                   "recipient": "os", "end_turn": True}
    assert r["image"].endswith(".png") and (out / r["image"]).is_file()


def test_hf_loads_offline_with_embedded_images(data_dir, tmp_path):
    out = tmp_path / "hf"
    export_sessions(data_dir, None, "hf", out)
    assert (out / "README.md").read_text().startswith("---\nconfigs:")
    shards = sorted((out / "data").glob("train-*.parquet"))
    assert [p.name for p in shards] == ["train-00000-of-00001.parquet"]
    script = textwrap.dedent(f"""
        import json, datasets
        ds = datasets.load_dataset({str(out)!r}, split="train")
        r = ds[0]
        print(json.dumps({{"n": len(ds), "size": list(r["image"].size), "mode": r["image"].mode,
            "code": r["code"], "type": r["action_type"], "x": r["x"], "nx": r["nx"],
            "keys": ds[4]["keys"], "text": ds[1]["text"], "instr": r["instruction"],
            "cols": sorted(ds.column_names)}}))
    """)
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1",
               HF_HOME=str(tmp_path / "hfhome"))
    # a copy with the files only: images must be embedded, not referenced
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["n"] == 10 and got["size"] == [1920, 1080]
    assert got["code"] == "pyautogui.click(x=0.2604, y=0.4630)" and got["type"] == "click"
    assert got["x"] == 500 and got["nx"] == 0.2604
    assert got["keys"] == ["ctrl", "s"] and got["text"] == "Hi it's me"
    assert got["instr"] == "Write a greeting and save it"
    for col in ("action_type", "x", "y", "x2", "y2", "text", "keys", "dx", "dy", "button",
                "nx", "ny", "nx2", "ny2", "image", "code"):
        assert col in got["cols"]
