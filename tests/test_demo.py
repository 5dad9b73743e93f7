"""`make demo` as a newcomer runs it: the scripted session recorded end to end on its own
virtual desktop, the secrets typed in it nowhere under its data dir, and both exports
loadable. Runs ``scripts/demo.py`` itself (what `make demo` runs after setup)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scripts" / "demo.py"

pytestmark = pytest.mark.x11


def demo_secrets() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("workprint_demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SECRETS


def test_make_demo_records_the_session_and_no_secret_reaches_disk(tmp_path):
    data = tmp_path / "demo-data"
    run = subprocess.run([sys.executable, str(DEMO), "--data-dir", str(data)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    secrets = demo_secrets()
    for what in secrets:
        assert f"{what:18} NOT on disk" in run.stdout, run.stdout
    assert "no secret in them" in run.stdout and "LEAKED" not in run.stdout
    # what the demo claims, checked here on every byte it left behind
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name == "session.db" for p in files)
    blob = b"".join(p.read_bytes() for p in files)
    assert not [w for w, s in secrets.items() if s.encode() in blob]
    # the secrets were typed and kept as placeholders, so the check above means something
    assert "PASSWORD" in run.stdout.split("placeholders in the key stream:")[1].splitlines()[0]
    [jsonl] = (data / "export-agentnet").glob("*.jsonl")
    traj = json.loads(jsonl.read_text().splitlines()[0])
    assert traj["instruction"] == "Record the March invoice check in the workbench"
    assert len(traj["traj"]) >= 10 and all(st["value"]["code"] for st in traj["traj"])
    assert "datasets.load_dataset(...) -> " in run.stdout
