"""A Python with Hugging Face ``datasets`` 3.6 (still pinned by many training repos), so the
hf export is loaded by that release as well as by the project's current one.

A small venv under the test cache (``$WORKPRINT_TEST_CACHE``, default
``~/.cache/workprint-tests``) holds only what 3.6 needs in other versions than the project
venv (datasets itself, fsspec, dill, multiprocess ...); everything else - pyarrow, numpy,
pandas, Pillow - comes from the project venv through a ``.pth`` line after the venv's own
packages. Created once (from PyPI through pip), then reused; a lock keeps parallel runs
from building it twice.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

SPEC = "datasets==3.6.*"
PREFIX = "3.6."


def cache_dir() -> Path:
    root = os.environ.get("WORKPRINT_TEST_CACHE") or Path.home() / ".cache" / "workprint-tests"
    return Path(root)


def _version(python: Path) -> str | None:
    if not python.exists():
        return None
    out = subprocess.run([str(python), "-c", "import datasets; print(datasets.__version__)"],
                         capture_output=True, text=True, timeout=300)
    return out.stdout.strip() if out.returncode == 0 else None


def datasets36_python() -> str:
    """Path of a Python whose ``import datasets`` is release 3.6 (built on first use)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / "venv-datasets-3.6"
    python = venv / "bin" / "python"
    with open(root / ".venv-datasets-3.6.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (_version(python) or "").startswith(PREFIX):
            return str(python)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                       capture_output=True, timeout=600)
        site = next(venv.glob("lib/python*/site-packages"))
        (site / "zz-workprint-project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        res = subprocess.run([str(python), "-m", "pip", "install", "--no-input",
                              "--disable-pip-version-check", "-q", SPEC],
                             capture_output=True, text=True, timeout=1800)
        if res.returncode != 0:
            raise RuntimeError(f"could not install {SPEC} into {venv} (needs PyPI access):\n"
                               f"{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
        got = _version(python)
        if not (got or "").startswith(PREFIX):
            raise RuntimeError(f"{venv} has datasets {got!r}, not {SPEC}")
        return str(python)
