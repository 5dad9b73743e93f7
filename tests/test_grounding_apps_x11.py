"""Grounded actions in more toolkits: a Qt 5 form (PyQt5, its own AT-SPI bridge) and a VTE
terminal (GTK 3 + Vte), each recorded by ``workprint record`` on a virtual X desktop with a
private session bus, as in tests/test_grounding_x11.py (GTK 3).

Checked against each app's own truth (it writes where its toolkit placed every widget):
every click on a named control carries that control's role and name and its box within
4 px; typing carries the focused field (Qt) or the terminal (VTE); the input reached the
app (clicks counted by the app, the typed text read back from the field or the terminal);
a Qt password field's value appears nowhere on disk.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import types
from pathlib import Path

import pytest

from adversarial.leaks import ROOT, WORKPRINT, assert_no_leak, recording
from conftest import wait_for
from test_atspi import PrivateSession
from test_grounding_x11 import APPS, SYSTEM_PYTHON, box_within, center, grounded, start_form, stop_apps

SECRET = "Qt-s3cret-Pw9"
QT_ENV = {"QT_ACCESSIBILITY": "1", "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1"}


def _imports(*modules: str) -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    code = "; ".join(modules)
    return subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True).returncode == 0


def policy_file(tmp: Path, app: str) -> Path:
    text = (ROOT / "examples" / "policy.toml").read_text()
    text = text.replace('allow_apps  = ["XTerm"', f'allow_apps  = ["{app}", "XTerm"')
    text = text.replace("ocr_mask = true", "ocr_mask = false")
    assert app in text and "ocr_mask = false" in text
    path = tmp / "policy.toml"
    path.write_text(text)
    return path


def start_app(script: str, env: dict, tmp: Path, title: str, wmclass: str):
    return start_form(env, tmp, title, wmclass, 80, 80, script=APPS / script)


def click(desk, g: dict) -> None:
    """Move onto the control, rest as a person does (the element worker warms up), click."""
    x, y = center(g)
    desk.xdotool("mousemove", str(x), str(y))
    time.sleep(0.12)
    desk.xdotool("click", "1")


def inspect(data: Path, session: str) -> dict:
    res = subprocess.run([*WORKPRINT, "inspect", session, "--data-dir", str(data), "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


QT_CONTROLS = {**{b: "push button" for b in ("Save", "Open", "Close", "Print", "Export", "Help")},
               "Remember me": "check box", "File name": "text", "Password": "password text"}


@pytest.mark.x11
def test_qt_actions_carry_their_elements(desk, tmp_path):
    if not _imports("from PyQt5.QtWidgets import QApplication"):
        pytest.skip("needs Debian's python3-pyqt5 (scripts/setup.sh installs it)")
    session = PrivateSession(tmp_path, desk.display)
    data = tmp_path / "data"
    procs: list[subprocess.Popen] = []
    try:
        with recording(types.SimpleNamespace(env=session.env), data, policy_file(tmp_path, "Qtform"),
                       settle_s=0.5) as info:
            form, state_file = start_app("qt_form.py", {**session.env, **QT_ENV}, tmp_path, "Qt Grounding", "Qtform")
            procs.append(form)
            time.sleep(0.5)
            geo = json.loads(state_file.read_text())["widgets"]
            desk.activate(desk.vd.wait_window("^Qt Grounding$"))
            clicked = []
            for name, role in QT_CONTROLS.items():
                if role in ("text", "password text"):
                    continue
                click(desk, geo[name])
                clicked.append((name, role))
                time.sleep(0.15)
            for name, text in (("File name", "budget 2027"), ("Password", SECRET)):
                click(desk, geo[name])
                clicked.append((name, QT_CONTROLS[name]))
                time.sleep(0.4)
                desk.xdotool("type", "--delay", "30", text)
                time.sleep(0.3)
            desk.xdotool("key", "Tab")
            time.sleep(0.5)
            state = json.loads(state_file.read_text())
        assert all(state["clicks"].get(n) == 1 for n, r in clicked if r not in ("text", "password text"))
        assert state["texts"] == {"File name": "budget 2027"}
        assert state["password_sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()

        report = inspect(data, info["session"])
        actions = report["actions"]
        stats = report["meta"]["stats"]["elements"]
        wrong = grounded(actions, clicked, geo, "Qtform")
        print(f"\nQt grounding: {len(clicked) - len(wrong)}/{len(clicked)} clicks; element stats: {json.dumps(stats)}")
        assert not wrong, wrong
        writes = [a for a in actions if a["kind"] == "write"]
        typed = [a for a in writes if a["text"] == "budget 2027"]
        assert typed and typed[0]["element"] is not None, [(a["text"], a["element"]) for a in writes]
        el = typed[0]["element"]
        assert (el["role"], el["name"]) == ("text", "File name") and "focused" in el["states"]
        assert_no_leak(data, [SECRET], export_dir=tmp_path / "exports")
    finally:
        stop_apps(procs)
        session.close()


@pytest.mark.x11
def test_vte_terminal_actions_carry_their_elements(desk, tmp_path):
    if not _imports("import gi", "gi.require_version('Gtk', '3.0')", "gi.require_version('Vte', '2.91')",
                    "from gi.repository import Vte"):
        pytest.skip("needs Debian's python3-gi + gir1.2-vte-2.91 (scripts/setup.sh installs them)")
    session = PrivateSession(tmp_path, desk.display)
    data = tmp_path / "data"
    procs: list[subprocess.Popen] = []
    try:
        with recording(types.SimpleNamespace(env=session.env), data, policy_file(tmp_path, "Vteterm"),
                       settle_s=0.5) as info:
            term, state_file = start_app("vte_term.py", session.env, tmp_path, "VTE Grounding", "Vteterm")
            procs.append(term)
            time.sleep(0.5)
            geo = json.loads(state_file.read_text())["widgets"]
            desk.activate(desk.vd.wait_window("^VTE Grounding$"))
            clicked = []
            for name in ("Terminal", "Clear", "Terminal"):
                click(desk, geo[name])
                clicked.append((name, "terminal" if name == "Terminal" else "push button"))
                time.sleep(0.3)
            desk.xdotool("type", "--delay", "30", "echo grounded-$((6*7))")
            desk.xdotool("key", "Return")
            wait_for(lambda: "grounded-42" in json.loads(state_file.read_text())["text"], timeout=10,
                     what="the shell's answer in the terminal")
            state = json.loads(state_file.read_text())
        assert state["clicks"]["Clear"] == 1

        report = inspect(data, info["session"])
        actions = report["actions"]
        stats = report["meta"]["stats"]["elements"]
        wrong = grounded(actions, clicked, geo, "Vteterm")
        print(f"\nVTE grounding: {len(clicked) - len(wrong)}/{len(clicked)} clicks; element stats: {json.dumps(stats)}")
        assert not wrong, wrong
        writes = [a for a in actions if a["kind"] == "write"]
        typed = [a for a in writes if "echo grounded" in a["text"]]
        assert typed and typed[0]["element"] is not None, [(a["text"], a["element"]) for a in writes]
        el = typed[0]["element"]
        assert el["role"] == "terminal" and "focused" in el["states"]
        assert box_within(el["box"], geo["Terminal"]), (el["box"], geo["Terminal"])
    finally:
        stop_apps(procs)
        session.close()
