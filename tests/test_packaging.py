"""`pip install workprint` without extras gives a working recorder; the extras are really
optional (their packages absent, the features that need them say which extra to install)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("WORKPRINT_TEST_CACHE", Path.home() / ".cache" / "workprint-tests"))
POLICY = ROOT / "examples" / "policy.toml"


@pytest.fixture(scope="module")
def default_install() -> Path:
    """A venv with `pip install <repo>` (no extras): dependencies pinned by constraints.txt
    and cached per pyproject/constraints; the project itself reinstalled from this tree."""
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()).hexdigest()[:12]
    venv = CACHE / f"venv-default-{key}"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not (venv / ".ready").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([*pip, "-c", str(ROOT / "constraints.txt"), str(ROOT)], check=True, timeout=1200)
        (venv / ".ready").touch()
    else:
        subprocess.run([*pip, "--no-deps", "--force-reinstall", str(ROOT)], check=True, timeout=600)
    return venv


def wp(venv: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(kw.pop("env", {}))
    return subprocess.run([str(venv / "bin" / "workprint"), *args], capture_output=True, text=True,
                          env=env, timeout=120, **kw)


def test_the_default_install_leaves_the_extras_out(default_install):
    res = wp(default_install, "--version")
    assert res.returncode == 0 and res.stdout.startswith("workprint "), res.stderr
    code = "import importlib.util as u; print([m for m in ('boto3','psycopg','pyarrow','datasets') if u.find_spec(m)])"
    found = subprocess.run([str(default_install / "bin" / "python"), "-c", code], capture_output=True,
                           text=True, check=True).stdout.strip()
    assert found == "[]", f"extras' packages came with the default install: {found}"


def test_features_of_an_extra_name_it(default_install, tmp_path):
    res = wp(default_install, "serve", "--data-dir", str(tmp_path / "c"), "--port", "9",
             "--blobs", "s3://bucket?endpoint=http://127.0.0.1:9")
    assert res.returncode == 10 and "workprint[server]" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_the_browser_extension_ships_in_the_package(default_install):
    import json

    res = wp(default_install, "browser", "extension-path", "--json")
    assert res.returncode == 0, res.stderr
    folder = Path(json.loads(res.stdout)["path"])
    assert folder.is_relative_to(default_install), folder  # the installed copy, not this tree
    assert {"manifest.json", "content.js", "sw.js"} <= {p.name for p in folder.iterdir()}


@pytest.mark.x11
def test_the_default_install_records_and_exports(default_install, desk, tmp_path):
    data = tmp_path / "data"
    env = {"DISPLAY": desk.display}
    assert wp(default_install, "notice", "--accept", "--data-dir", str(data), "--policy", str(POLICY)).returncode == 0
    term = desk.xterm("pkg-term")
    desk.activate(term)
    proc = subprocess.Popen([str(default_install / "bin" / "workprint"), "record", "--data-dir", str(data),
                             "--policy", str(POLICY)], env={**{k: v for k, v in os.environ.items()
                                                               if k != "PYTHONPATH"}, **desk.env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "recording session" in proc.stderr.readline()
    time.sleep(1.0)
    desk.xdotool("type", "--delay", "30", "echo packaged-marker\n")
    time.sleep(1.5)
    proc.send_signal(2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    res = wp(default_install, "export", "--data-dir", str(data), "--format", "agentnet", "--out", str(tmp_path / "ex"), env=env)
    assert res.returncode == 0, res.stderr
    assert "packaged-marker" in (tmp_path / "ex" / "trajectories.jsonl").read_text()
    res = wp(default_install, "export", "--data-dir", str(data), "--format", "hf", "--out", str(tmp_path / "hf"))
    assert res.returncode == 10 and "workprint[export]" in res.stderr
