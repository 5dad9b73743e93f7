"""Grounded actions end to end: ``workprint record`` on a virtual X desktop with a private
session bus (D-Bus activation starts the accessibility bus), a real GTK 3 form
(tests/apps/gtk_form.py under Debian's Python with PyGObject) that reports its own widget
geometry, and a second GTK form the policy denies.

Checked against the app's own truth: every click on a named control carries that control's
role and name and its box within 4 px of where GTK placed it; typing carries the focused
field; a scroll the list under the pointer; the denied app is never asked anything element-
related on the accessibility bus (a ``dbus-monitor`` on that bus sees every Component call,
and does see them for the recorded app); the password typed into the password field - which
the app confirms it received - appears nowhere on disk, in stored keys, or in any export.
Prints the grounding rate and the input-to-element latency (BENCHMARKS.md quotes them).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
import types
from pathlib import Path

import pytest

from adversarial.leaks import ROOT, WORKPRINT, assert_no_leak, recording
from conftest import wait_for
from test_atspi import PrivateSession

APPS = Path(__file__).parent / "apps"
GTK_FORM = APPS / "gtk_form.py"
SYSTEM_PYTHON = "/usr/bin/python3"
SECRET = "Tr0ub4dor&3-horse"
NAMED = {  # control -> AT-SPI role name GTK 3 gives it
    **{b: "push button" for b in ("Save", "Open", "Close", "Print", "Export", "Import", "Undo", "Redo",
                                  "Copy", "Paste", "Delete", "Help")},
    "Remember me": "check box", "Send copies": "check box", "Bold": "toggle button", "Italic": "toggle button",
    "File name": "text", "Comment": "text", "Password": "password text",
}
BOX_TOLERANCE_PX = 4


def _has_gtk() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    res = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('Gtk', '3.0'); "
                          "from gi.repository import Gtk"], capture_output=True)
    return res.returncode == 0


def policy_file(tmp: Path) -> Path:
    text = (ROOT / "examples" / "policy.toml").read_text()
    text = text.replace('allow_apps  = ["XTerm"', 'allow_apps  = ["Gtkform", "XTerm"')
    text = text.replace('deny_apps   = ["*slack*"', 'deny_apps   = ["Vaultform", "*slack*"')
    text = text.replace("ocr_mask = true", "ocr_mask = false")
    assert "Gtkform" in text and "Vaultform" in text and "ocr_mask = false" in text
    path = tmp / "policy.toml"
    path.write_text(text)
    return path


def a11y_address(session: PrivateSession) -> str:
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(session.address) as conn:
        reply = conn.send_and_get_reply(new_method_call(
            DBusAddress("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus"), "GetAddress"), timeout=5)
    return reply.body[0]


def bus_pids(address: str, names: set[str]) -> dict[str, int]:
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    out = {}
    with open_dbus_connection(address) as conn:
        for name in names:
            reply = conn.send_and_get_reply(new_method_call(
                DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus"),
                "GetConnectionUnixProcessID", "s", (name,)), timeout=5)
            if reply.body:
                out[name] = int(reply.body[0])
    return out


class BusMonitor:
    """``dbus-monitor`` on the accessibility bus, logging method calls (``match``) to a file:
    :meth:`asked` tells which processes were sent which calls."""

    def __init__(self, address: str, log: Path, match: str = "type='method_call'"):
        self.address, self.log = address, log
        self._out = open(log, "w")
        self.proc = subprocess.Popen(["dbus-monitor", "--address", address, match],
                                     stdout=self._out, stderr=subprocess.STDOUT)

    def asked(self, members: set[str]) -> set[int | None]:
        """Stop monitoring; the pids of the bus names sent one of ``members``."""
        time.sleep(0.2)
        self.close()
        calls = re.findall(r"method call .*? destination=(\S+) .*?member=(\w+)", self.log.read_text())
        pids = bus_pids(self.address, {d for d, _ in calls})
        return {pids.get(d) for d, m in calls if m in members}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        self._out.close()


def start_form(env: dict, tmp: Path, title: str, wmclass: str, x: int, y: int, script: Path = GTK_FORM):
    """A test app (tests/apps, under Debian's Python) placed at (x, y): its process and the state
    file it writes (see tests/apps/appstate.py), once written."""
    state = tmp / f"{wmclass}.json"
    proc = subprocess.Popen([SYSTEM_PYTHON, str(script), "--title", title, "--wmclass", wmclass,
                             "--state", str(state), "--x", str(x), "--y", str(y)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: state.exists(), timeout=20, what=f"{title} state file")
    return proc, state


def stop_apps(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def center(g: dict) -> tuple[int, int]:
    return g["x"] + g["w"] // 2, g["y"] + g["h"] // 2


def box_within(box: list | None, g: dict) -> bool:
    """An element's box (x, y, w, h) lies within BOX_TOLERANCE_PX of where the app's toolkit
    placed the control (``g``, from its state file)."""
    return box is not None and all(abs(p - q) <= BOX_TOLERANCE_PX
                                   for p, q in zip(box, (g["x"], g["y"], g["w"], g["h"])))


def grounded(actions: list[dict], clicked: list[tuple[str, str]], geo: dict, app: str) -> list:
    """The clicks, one per (control name, role) in ``clicked``, whose element is not that
    control of ``app`` with its box: (name, t, element) of each."""
    clicks = [a for a in actions if a["kind"] in ("click", "doubleClick", "tripleClick")]
    assert len(clicks) == len(clicked), [a["kind"] for a in actions]
    wrong = []
    for (name, role), a in zip(clicked, clicks):
        el = a["element"]
        if not (el is not None and el["role"] == role and el["name"] == name and el["app"] == app
                and box_within(el["box"], geo[name])):
            wrong.append((name, a["t"], el))
    return wrong


@pytest.mark.x11
def test_gtk_actions_carry_their_elements(desk, tmp_path):
    if not _has_gtk() or shutil.which("dbus-monitor") is None:
        pytest.skip("needs Debian's python3-gi + gir1.2-gtk-3.0 and dbus-monitor (scripts/setup.sh installs them)")
    session = PrivateSession(tmp_path, desk.display)
    data = tmp_path / "data"
    apps: list[subprocess.Popen] = []
    monitor = None
    try:
        with recording(types.SimpleNamespace(env=session.env), data, policy_file(tmp_path), settle_s=0.5) as info:
            address = a11y_address(session)
            monitor = BusMonitor(address, tmp_path / "monitor.log",
                                 "type='method_call',interface='org.a11y.atspi.Component'")
            form, form_state = start_form(session.env, tmp_path, "Grounding Form", "Gtkform", 60, 60)
            vault, vault_state = start_form(session.env, tmp_path, "Vault Form", "Vaultform", 1000, 60)
            apps += [form, vault]
            time.sleep(0.6)  # both placed by the window manager; the state files say where
            geo = json.loads(form_state.read_text())["widgets"]
            vgeo = json.loads(vault_state.read_text())["widgets"]
            wid = desk.vd.wait_window("^Grounding Form$")
            desk.activate(wid)

            clicked = []
            for round_ in range(2):
                for name in NAMED:
                    if name in ("File name", "Comment", "Password"):
                        continue
                    x, y = center(geo[name])
                    desk.xdotool("mousemove", str(x), str(y), "click", "1")
                    clicked.append(name)
                    time.sleep(0.12)
            for name, text in (("File name", "quarterly report"), ("Password", SECRET), ("Comment", "all done")):
                x, y = center(geo[name])
                desk.xdotool("mousemove", str(x), str(y), "click", "1")
                clicked.append(name)
                time.sleep(0.4)  # the field's focus event reaches the watcher first
                desk.xdotool("type", "--delay", "30", text)
                time.sleep(0.3)
                desk.xdotool("key", "Tab")
                time.sleep(0.3)
            x, y = center(geo["Files"])
            desk.xdotool("mousemove", str(x), str(y), "click", "--repeat", "3", "--delay", "40", "5")
            time.sleep(0.4)
            # the denied app: clicks on its controls (it comes to the front: out of scope)
            for name in ("Save", "Open", "File name"):
                x, y = center(vgeo[name])
                desk.xdotool("mousemove", str(x), str(y), "click", "1")
                time.sleep(0.15)
            desk.xdotool("type", "--delay", "30", "vault text")
            time.sleep(0.5)

            state = json.loads(form_state.read_text())
            vstate = json.loads(vault_state.read_text())
        # the input reached the apps
        assert all(state["clicks"].get(n) == 2 for n in NAMED if n not in ("File name", "Comment", "Password"))
        assert state["texts"] == {"File name": "quarterly report", "Comment": "all done"}
        assert state["password_len"] == len(SECRET)
        assert state["password_sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()
        assert vstate["clicks"].get("Save") == 1 and vstate["texts"]["File name"] == "vault text"

        res = subprocess.run([*WORKPRINT, "inspect", info["session"], "--data-dir", str(data), "--json"],
                             capture_output=True, text=True, check=True)
        report = json.loads(res.stdout)
        actions = report["actions"]
        stats = report["meta"]["stats"]["elements"]
        print("\nelement stats:", json.dumps(stats))
        # accessibility trees are off by default ([capture] a11y_tree): none read, none stored
        assert report["a11y_trees"] == [] and report["meta"]["stats"]["a11y_trees"] is None
        assert all(a["a11y_tree"] is None for a in actions)

        # every click on a named control of the recorded form: role, name, box
        wrong = grounded(actions, [(n, NAMED[n]) for n in clicked], geo, "Gtkform")
        right = len(clicked) - len(wrong)
        clicks = [a for a in actions if a["kind"] in ("click", "doubleClick", "tripleClick")]
        writes = [a for a in actions if a["kind"] == "write"]
        # the password run is one <PASSWORD> placeholder without an element
        typed = [a for a in writes if a["element"] is not None]
        # both ordinary runs are stored as typed: the Tab after each leads to a field whose
        # focus event (pending, or a password field's) is often in before the Tab is judged
        assert {"quarterly report", "all done"} <= {a["text"] for a in writes}, [a["text"] for a in writes]
        assert typed and all((a["element"]["name"], a["element"]["role"]) in (("File name", "text"), ("Comment", "text"))
                             for a in typed), [(a["text"], a["element"]) for a in writes]
        assert all("focused" in a["element"]["states"] and "editable" in a["element"]["states"] for a in typed)
        right_typed = sum((a["element"]["name"], a["text"]) in (("File name", "quarterly report"), ("Comment", "all done"))
                          for a in typed)
        assert not [a for a in actions if a["element"] and "password" in a["element"]["states"]
                    and a["kind"] == "write"]
        pw_click = clicks[clicked.index("Password")]["element"]
        assert pw_click["role"] == "password text" and "password" in pw_click["states"]
        total = len(clicked) + 2
        rate = (right + right_typed) / total
        print(f"grounding rate on named controls: {right} of {len(clicked)} clicks, {right_typed} of 2 typed "
              f"runs: {right + right_typed}/{total} = {rate:.3f}")
        assert rate >= 0.95, (wrong, [(a["text"], a["element"]) for a in writes])

        scrolls = [a for a in actions if a["kind"] == "scroll"]
        assert scrolls and scrolls[0]["element"] is not None
        assert ["scroll pane", "Files"] in scrolls[0]["element"]["path"]

        # nothing of the denied app: no element, no query on the accessibility bus
        assert "Vaultform" not in stats["apps_asked"] and stats["apps_asked"] == ["Gtkform"]
        assert all(a["element"] is None or a["element"]["app"] == "Gtkform" for a in actions)
        asked = monitor.asked({"GetAccessibleAtPoint", "GetExtents"})
        assert form.pid in asked, "the monitor saw no Component call to the recorded app"
        assert vault.pid not in asked, "the denied app was asked on the accessibility bus"

        lat = stats["latency_ms"]
        print(f"input -> element latency: p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms, n {lat['n']}")
        print("  input -> locator starts:", stats["wait_ms"], " in AT-SPI:", stats["source_ms"],
              " processor asks -> element:", stats.get("added_ms"))
        # the target is p99 <= 20 ms (BENCHMARKS.md has the measured figures); here only that
        # answers come well inside the locator's budget
        assert stats["found"] >= len(clicked) and lat["p50"] <= 50

        # the exports: AgentNet's element and description; the secret nowhere
        export = tmp_path / "exports"
        assert_no_leak(data, [SECRET], export_dir=export)
        traj = [json.loads(line) for line in (export / "agentnet" / "trajectories.jsonl").read_text().splitlines()]
        values = [st["value"] for t in traj for st in t["traj"]]
        save = next(v for v in values if v["action"] == "Click the 'Save' button in Gtkform.")
        g = geo["Save"]
        assert save["element"]["role"] == "push button" and save["element"]["source"] == "atspi"
        assert save["element"]["bbox"] == pytest.approx([g["x"] / 1920, g["y"] / 1080, (g["x"] + g["w"]) / 1920,
                                                         (g["y"] + g["h"]) / 1080], abs=BOX_TOLERANCE_PX / 1080)
        assert any(v["action"] == "Type 'quarterly report' into the 'File name' field." for v in values)
    finally:
        if monitor is not None:
            monitor.close()
        stop_apps(apps)
        session.close()


@pytest.mark.x11
def test_gtk_tab_carries_the_field_it_was_pressed_in(desk, tmp_path):
    """A key's element is the element that had the focus when the key was pressed: a Tab
    pressed in 'File name' moves the focus to 'Comment', and its element is 'File name' (the
    focus when the locator answers is already 'Comment'); the run typed after it gets
    'Comment'. Twice: once with a pause before the Tab, once with the Tab right after the
    last letter."""
    if not _has_gtk():
        pytest.skip("needs Debian's python3-gi + gir1.2-gtk-3.0 (scripts/setup.sh installs them)")
    session = PrivateSession(tmp_path, desk.display)
    data = tmp_path / "data"
    apps: list[subprocess.Popen] = []
    try:
        with recording(types.SimpleNamespace(env=session.env), data, policy_file(tmp_path), settle_s=0.5) as info:
            form, form_state = start_form(session.env, tmp_path, "Grounding Form", "Gtkform", 60, 60)
            apps.append(form)
            time.sleep(0.6)
            geo = json.loads(form_state.read_text())["widgets"]
            desk.activate(desk.vd.wait_window("^Grounding Form$"))
            for first, second, pause in (("north", "south", 0.3), ("east", "west", 0.0)):
                desk.xdotool("mousemove", *map(str, center(geo["File name"])), "click", "1")
                time.sleep(0.4)  # the field's focus event reaches the watcher first
                desk.xdotool("key", "ctrl+a")
                time.sleep(0.2)
                desk.xdotool("type", "--delay", "30", first)
                time.sleep(pause)
                desk.xdotool("key", "Tab")
                time.sleep(0.4)
                desk.xdotool("type", "--delay", "30", second)
                time.sleep(0.4)
            state = json.loads(form_state.read_text())
        # the input reached the app: the last two runs are in the two fields (a Tab into a
        # filled GTK entry selects its text, so "west" may replace "south")
        assert state["texts"]["File name"] == "east" and state["texts"]["Comment"] in ("west", "southwest"), \
            state["texts"]

        res = subprocess.run([*WORKPRINT, "inspect", info["session"], "--data-dir", str(data), "--json"],
                             capture_output=True, text=True, check=True)
        actions = json.loads(res.stdout)["actions"]
        keys = [(a["kind"], a.get("text") or a.get("keys"), a["element"] and a["element"]["name"])
                for a in actions if a["kind"] in ("write", "press")]
        print("\nkey actions (kind, text/keys, element name):", keys)
        tabs = [a for a in actions if a["kind"] == "press" and a["keys"] == ["tab"]]
        assert len(tabs) == 2, keys
        # each Tab: the field it was pressed in, never the one it moved the focus to
        assert [t["element"] and (t["element"]["name"], t["element"]["role"]) for t in tabs] == \
            [("File name", "text")] * 2, keys
        writes = {a["text"]: a["element"] and a["element"]["name"] for a in actions if a["kind"] == "write"}
        assert writes == {"north": "File name", "south": "Comment", "east": "File name", "west": "Comment"}, keys
    finally:
        stop_apps(apps)
        session.close()


@pytest.mark.x11
def test_gtk_keys_typed_right_after_a_click_never_get_the_previous_field(desk, tmp_path):
    """A key pressed within the few ms before the focus event of the click that moved the
    focus reaches the watcher: its element is the clicked field or none, never the field
    the focus was in before the click. XTEST click then keys 3-14 ms after the release,
    from field to field and after a button took the focus; each run must carry its own
    field or no element, and most of them the field."""
    if not _has_gtk():
        pytest.skip("needs Debian's python3-gi + gir1.2-gtk-3.0 (scripts/setup.sh installs them)")
    from workprint.capture.linux.xtest import X11Injector

    session = PrivateSession(tmp_path, desk.display)
    data = tmp_path / "data"
    apps: list[subprocess.Popen] = []
    xt = None
    try:
        with recording(types.SimpleNamespace(env=session.env), data, policy_file(tmp_path), settle_s=0.5) as info:
            form, form_state = start_form(session.env, tmp_path, "Grounding Form", "Gtkform", 60, 60)
            apps.append(form)
            time.sleep(0.6)
            geo = json.loads(form_state.read_text())["widgets"]
            desk.activate(desk.vd.wait_window("^Grounding Form$"))
            xt = X11Injector(desk.display)

            def click(name):
                xt.move(*center(geo[name]))
                time.sleep(0.05)
                xt.button("left", True)
                xt.button("left", False)

            # keys 3-14 ms after the release (a key sooner may reach GTK before the press,
            # which the window manager's click-to-focus grab holds back: it then rightly goes
            # to the field before); 12 words keep each field's text short of the click point
            words = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
                     "kilo", "lima")
            runs = [(("File name", "Comment")[i % 2], w, 0.003 + 0.001 * i, "Save" if i % 5 == 4 else None)
                    for i, w in enumerate(words)]
            for field, word, gap, before in runs:
                if before is not None:  # a button takes the focus first
                    click(before)
                    time.sleep(0.3)
                click(field)
                time.sleep(gap)
                for ch in word:
                    xt.type_char(ch)
                    time.sleep(0.02)
                time.sleep(0.4)
            state = json.loads(form_state.read_text())
        res = subprocess.run([*WORKPRINT, "inspect", info["session"], "--data-dir", str(data), "--json"],
                             capture_output=True, text=True, check=True)
        actions = json.loads(res.stdout)["actions"]
        writes = [(a["text"], a["element"] and (a["element"]["name"], a["element"]["role"]))
                  for a in actions if a["kind"] == "write"]
        print("\nwrites (text, element):", writes, "\ntexts:", state["texts"])
        # the input reached the app: each field holds its own words
        for field, word, _, _ in runs:
            assert word in state["texts"][field], state["texts"]
        # every word whole: a first key typed while the clicked field's focus is still being
        # resolved waits for its role, it is not swallowed as a password's
        assert [t for t, _ in writes] == [w for _, w, *_ in runs], writes
        wrong = [(t, el) for (t, el), (field, *_) in zip(writes, runs) if el is not None and el != (field, "text")]
        assert not wrong, writes
        assert sum(el is not None for _, el in writes) >= len(runs) // 2, writes
    finally:
        if xt is not None:
            xt.close()
        stop_apps(apps)
        session.close()
