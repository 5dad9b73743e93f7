import json
import re

import pytest

from workprint.events import FocusEvent, KeyEvent, MarkerEvent, ScrollEvent
from workprint.export import export_sessions
from workprint.export.aguvis import SYSTEM
from workprint.export.code import FUNCTION_SPECS
from workprint.export.common import DROP_NO_SCREENSHOT, ExportError

from ds36 import datasets36_python
from evgen import Stream
from export_load import agentnet_load, aguvis_load, hf_load_many, python_current
from storegen import make_session, screen_image

META = {"policy_hash": "pol-1234abcd", "workprint_version": "0.1.0", "jurisdiction": "default"}


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
    make_session(root, s.events, frames, meta=META)
    return root


@pytest.fixture(scope="module")
def early_dir(tmp_path_factory):
    """A session whose first action happens before the first screenshot (as when the first
    grab is still being encoded), then a labelled task without a final screenshot."""
    root = tmp_path_factory.mktemp("early")
    s = Stream(t0_ms=10_000)
    s.add(MarkerEvent(s.at(10), "task_start", text="Open the file"))
    s.click(300, 300, dt=100)
    frames = [(s.at(400), screen_image("first"))]
    s.at(800)
    s.type("abc", dt=90)
    s.chord("ctrl", "s", dt=900)
    s.add(MarkerEvent(s.at(10), "task_end", ok=False))
    make_session(root, s.events, frames, meta=META)
    return root


def test_agentnet(data_dir, tmp_path):
    out = tmp_path / "an"
    calls = []
    summary = export_sessions(data_dir, None, "agentnet", out, progress=lambda d, t: calls.append((d, t)))
    trajs = agentnet_load(out)
    assert len(trajs) == 2 == summary["trajectories"]
    assert summary["dropped"] == {"steps": 0, "trajectories": 0, "reasons": {}}
    t1, t2 = trajs
    assert t1["instruction"] == "Write a greeting and save it" and t1["unlabelled"] is False
    assert t1["task_completed"] is True
    assert t2["instruction"] == "" and t2["unlabelled"] is True and t2["task_completed"] is None
    assert t1["screen"] == {"width": 1920, "height": 1080, "scale": 1.0}
    assert t1["source"] == {"policy_hash": "pol-1234abcd", "recorder_version": "0.1.0",
                            "jurisdiction": "default", "export_version": 4}
    codes = [s["value"]["code"] for s in t1["traj"]]
    assert codes == [
        "pyautogui.click(x=0.2604, y=0.4630)",
        "pyautogui.write(message='Hi it\\x27s me')",
        "pyautogui.moveTo(x=0.4688, y=0.5556)\npyautogui.scroll(-3)",
        "pyautogui.write(message='<PASSWORD>')",
        "pyautogui.hotkey(keys=['ctrl', 's'])",
        "pyautogui.moveTo(x=0.0521, y=0.0926)\npyautogui.dragTo(x=0.1562, y=0.1852, button='left')",
        "computer.terminate(status='success')",
    ]
    assert [s["value"]["action"] for s in t1["traj"]][:3] == [
        "Click at (0.2604, 0.4630).", 'Type "Hi it\'s me".', "Scroll down 3 ticks at (0.4688, 0.5556)."]
    # the unlabelled stretch has no outcome, so no terminate step
    assert [s["value"]["code"] for s in t2["traj"]] == [
        "pyautogui.click(x=0.3646, y=0.6481)", "pyautogui.press(keys=['enter'])"]
    # trainer-filled fields are absent, not empty
    for step in t1["traj"]:
        assert set(step["value"]) == {"code", "action", "structured", "element"}
        assert step["value"]["element"] is None  # no accessibility in this session
        assert re.fullmatch(r"[0-9a-f]{32}\.jpg", step["image"])
        assert isinstance(step["t_rel_s"], int)
    st = t1["traj"][0]["value"]["structured"]
    assert (st["x"], st["y"], st["screen"]["width"]) == (500, 500, 1920)
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(
        {s["image"] for t in trajs for s in t["traj"]})
    assert calls[-1] == (summary["steps"], summary["steps"]) and len(calls) == summary["steps"]
    text = (out / "trajectories.jsonl").read_text()
    assert "4242" not in text and "777" not in text and "20260101" not in text
    assert "report.txt - Editor" not in text


def test_keyframes_are_pre_action(data_dir, tmp_path):
    out = tmp_path / "an"
    export_sessions(data_dir, None, "agentnet", out, image_format="png")
    t1 = agentnet_load(out)[0]
    imgs = [s["image"] for s in t1["traj"]]
    assert all(i.endswith(".png") for i in imgs)
    assert imgs[0] != imgs[1]           # click sees "editor", typing sees "editor-focused"
    assert imgs[-1] != imgs[-2]         # terminate shows the screen after the last action


def test_steps_without_a_screenshot_are_left_out_and_counted(early_dir, tmp_path):
    for fmt in ("agentnet", "aguvis", "hf"):
        summary = export_sessions(early_dir, None, fmt, tmp_path / fmt)
        # the click came before any screenshot; the failed task's terminate step has one
        # (the screen after the last action), so it stays
        assert summary["dropped"] == {"steps": 1, "trajectories": 0,
                                      "reasons": {DROP_NO_SCREENSHOT: 1}}, fmt
        assert summary["steps"] == 3
    t = agentnet_load(tmp_path / "agentnet")[0]
    assert [s["value"]["code"] for s in t["traj"]] == [
        "pyautogui.write(message='abc')", "pyautogui.hotkey(keys=['ctrl', 's'])",
        "computer.terminate(status='failure')"]
    assert [s["index"] for s in t["traj"]] == [0, 1, 2]
    assert len(aguvis_load(tmp_path / "aguvis")) == 3


def test_nothing_with_a_screenshot_is_an_error_that_says_why(tmp_path):
    s = Stream(t0_ms=10_000)
    s.click(300, 300)
    make_session(tmp_path / "d", s.events, [])
    with pytest.raises(ExportError, match="1 no screenshot before the action"):
        export_sessions(tmp_path / "d", None, "agentnet", tmp_path / "out")


def test_cli_prints_the_drops(early_dir, tmp_path):
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-m", "workprint.cli", "export", "--data-dir", str(early_dir),
                          "--format", "agentnet", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "left out 1 step(s) without a screenshot: 1 no screenshot before the action" in res.stdout
    assert "exporting" not in res.stderr  # piped: no progress bar


def test_deterministic_and_rerun(data_dir, tmp_path):
    for fmt in ("agentnet", "aguvis", "hf"):
        a, b = tmp_path / f"{fmt}1", tmp_path / f"{fmt}2"
        export_sessions(data_dir, None, fmt, a)
        export_sessions(data_dir, None, fmt, b)
        first = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
        export_sessions(data_dir, None, fmt, b)   # re-run into the same folder: same bytes
        assert first == {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
        fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        fb = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
        assert fa == fb
        for rel in fa:
            da, db = (a / rel).read_bytes(), (b / rel).read_bytes()
            if rel.name == "aguvis.yaml":   # names its own folder by absolute path
                da = da.replace(str(a.resolve()).encode(), b"OUT")
                db = db.replace(str(b.resolve()).encode(), b"OUT")
            assert da == db, rel


def test_refuses_foreign_folder(data_dir, tmp_path):
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(ExportError):
        export_sessions(data_dir, None, "agentnet", tmp_path)


def test_aguvis(data_dir, tmp_path):
    out = tmp_path / "ag"
    summary = export_sessions(data_dir, None, "aguvis", out, image_format="png")
    rows = aguvis_load(out)
    assert len(rows) == 7 + 2 == summary["steps"]
    system = rows[0]["conversations"][0]["value"]
    used = ["pyautogui.click", "pyautogui.write", "pyautogui.moveTo", "pyautogui.scroll",
            "pyautogui.hotkey", "pyautogui.dragTo", "computer.terminate", "pyautogui.press"]
    assert summary["functions"] == used
    assert system == SYSTEM + "".join(f"- {json.dumps(FUNCTION_SPECS[f])}\n" for f in used)
    assert all(r["conversations"][0]["value"] == system for r in rows)
    r = rows[1]
    assert r["image"].endswith(".png") and "/" not in r["image"]
    assert r["conversations"][1:] == [
        {"from": "human", "value": "<image>\nPlease generate the next move according to the ui "
                                   "screenshot, instruction and previous actions.\n\nInstruction: "
                                   "Write a greeting and save it\n\nPrevious actions:\n"
                                   "Step 1: Click at (0.2604, 0.4630).\n"},
        {"from": "gpt", "value": "pyautogui.write(message='Hi it\\x27s me')", "recipient": "os",
         "end_turn": True}]
    assert "Previous actions:\nNone\n" in rows[0]["conversations"][1]["value"]
    yaml_text = (out / "aguvis.yaml").read_text()
    assert f'json_path: "{out.resolve()}/aguvis.json"' in yaml_text


def test_cot_fills_planning_turns_and_history(data_dir, tmp_path):
    """gen_cot's output (an AgentNet JSONL with observation/thought/action per step) feeds
    the Aguvis planning turn, its history and the hf columns."""
    an = tmp_path / "an"
    export_sessions(data_dir, None, "agentnet", an)
    cot = tmp_path / "with_cot.jsonl"
    with open(cot, "w") as f:
        for n, t in enumerate(agentnet_load(an)):
            for st in t["traj"]:
                st["value"].update(observation=f"obs {st['index']}", thought=f"think {st['index']}",
                                   action=f"do {st['index']}", last_step_correct=True, reflection="")
            if n == 0:
                t["traj"][1]["value"]["code"] = "pyautogui.write(message='other')"   # no match
            f.write(json.dumps(t) + "\n")
    summary = export_sessions(data_dir, None, "aguvis", tmp_path / "ag", cot=cot)
    assert summary["cot_steps"] == 9 - 1
    rows = aguvis_load(tmp_path / "ag")
    plan = rows[0]["conversations"][2]
    assert plan == {"from": "gpt", "value": "Observation: obs 0\nThought: think 0\nAction: do 0",
                    "recipient": "all", "end_turn": False}
    assert len(rows[1]["conversations"]) == 3          # the unmatched step has no planning turn
    assert "Step 1: do 0\nStep 2: Type" in rows[2]["conversations"][1]["value"]
    export_sessions(data_dir, None, "agentnet", tmp_path / "an2", cot=cot)
    v = agentnet_load(tmp_path / "an2")[0]["traj"][0]["value"]
    assert (v["observation"], v["thought"], v["action"]) == ("obs 0", "think 0", "do 0")
    with pytest.raises(ExportError, match="not an AgentNet trajectory record"):
        (tmp_path / "bad.jsonl").write_text('{"x": 1}\n')
        export_sessions(data_dir, None, "aguvis", tmp_path / "ag2", cot=tmp_path / "bad.jsonl")


@pytest.fixture(scope="module")
def ds36_python():
    return datasets36_python()


@pytest.mark.parametrize("which", ["current", "3.6"])
def test_hf_loads_offline_with_an_image_in_every_row(data_dir, early_dir, tmp_path, which, ds36_python):
    python = python_current() if which == "current" else ds36_python
    roots = ((data_dir, 9), (early_dir, 3))
    for root, _ in roots:
        export_sessions(root, None, "hf", tmp_path / f"hf-{root.name}", cot=None)
    loaded = hf_load_many(python, [tmp_path / f"hf-{root.name}" for root, _ in roots], tmp_path / "home")
    for got, (_, n) in zip(loaded, roots):
        assert got["version"].startswith("3.6.") == (which == "3.6"), got["version"]
        rows = got["rows"]
        assert len(rows) == n
        assert all(r["size"] == [1920, 1080] for r in rows)      # every row has its image
        for r in rows:
            assert r["policy_hash"] == (META["policy_hash"])
    rows = loaded[0]["rows"]
    r = rows[0]
    assert r["code"] == "pyautogui.click(x=0.2604, y=0.4630)" and r["action_type"] == "click"
    assert r["x"] == 500 and r["nx"] == 0.2604 and r["action"] == "Click at (0.2604, 0.4630)."
    assert rows[4]["keys"] == ["ctrl", "s"] and rows[1]["text"] == "Hi it's me"
    assert r["instruction"] == "Write a greeting and save it" and r["task_completed"] is True
    assert rows[-1]["task_completed"] is None and "terminate" not in rows[-1]["code"]
    cols = loaded[0]["columns"]
    for col in ("action_type", "x", "y", "x2", "y2", "text", "keys", "dx", "dy", "button",
                "nx", "ny", "nx2", "ny2", "image", "code", "action", "observation", "thought"):
        assert col in cols


def test_hf_card_describes_fields_and_provenance(data_dir, tmp_path):
    import yaml

    from workprint.export.hf import COLUMNS

    out = tmp_path / "hf"
    export_sessions(data_dir, None, "hf", out)
    text = (out / "README.md").read_text()
    head = yaml.safe_load(text.split("---\n")[1])
    feats = head["dataset_info"]["features"]
    assert [f["name"] for f in feats] == [c[0] for c in COLUMNS]
    assert {"name": "image", "dtype": "image"} in feats and {"name": "keys", "sequence": "string"} in feats
    assert head["dataset_info"]["splits"][0]["num_examples"] == 9
    for name, _, _, desc in COLUMNS:
        assert f"| `{name}` |" in text and desc in text
    assert "| `pol-1234abcd` | 0.1.0 | 4 | 2 |" in text


def test_aguvis_root_names_where_the_export_will_be_read(data_dir, tmp_path):
    """Exported here, read by Aguvis's loader from elsewhere: the yaml names the --aguvis-root
    folder (Aguvis opens the yaml's paths as given, not relative to the yaml), and after the
    folder is moved there every sample loads with its image. On a terminal the export shows
    a progress bar counting the steps."""
    import sys

    from terminal import run_on_a_terminal

    out, moved = tmp_path / "written" / "ag", tmp_path / "training" / "ag"
    rc, stdout, shown = run_on_a_terminal(
        [sys.executable, "-m", "workprint.cli", "export", "--data-dir", str(data_dir), "--format",
         "aguvis", "--out", str(out), "--aguvis-root", f"{moved}/", "--json"])
    assert rc == 0, shown
    assert json.loads(stdout)["dataset_list_root"] == str(moved)
    assert "exporting" in shown and "9/9" in shown
    yaml_text = (out / "aguvis.yaml").read_text()
    assert str(out) not in yaml_text and f'json_path: "{moved}/aguvis.json"' in yaml_text
    moved.parent.mkdir()
    out.rename(moved)
    assert len(aguvis_load(moved)) == 9
