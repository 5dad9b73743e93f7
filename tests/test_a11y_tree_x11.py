"""Accessibility trees at keyframes, end to end: ``workprint record`` with ``[capture]
a11y_tree = true`` on a virtual X desktop with a private session bus, the GTK 3 form of the
grounding tests (tests/apps/gtk_form.py, which reports where GTK placed each control) and a
second form the policy denies.

Checked against the app's own truth: the stored tree of the form holds every named control
with its role, name and a box within 4 px of its real geometry, and the password field as a
nameless node with nothing below it; the password typed into it - which the app confirms it
received - appears in no byte written and in no export; the denied app is never asked
anything by the tree reader on the accessibility bus (a ``dbus-monitor`` there sees the
reader's calls to the recorded app and none to the denied one); exports carry the tree.
Prints the tree's size and the time to read it (BENCHMARKS.md quotes them).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
import types

import pytest

from adversarial.leaks import WORKPRINT, assert_no_leak, recording
from test_atspi import PrivateSession
from test_grounding_x11 import (BOX_TOLERANCE_PX, NAMED, SECRET, _has_gtk, a11y_address, box_within, BusMonitor,
                                center, policy_file, start_form, stop_apps)

#: calls only the tree reader makes (the element locator and the watcher make none of them)
TREE_CALLS = ("GetChildAtIndex",)


def _nodes(node: dict):
    yield node
    for c in node.get("children", ()):
        yield from _nodes(c)


@pytest.mark.x11
def test_gtk_window_tree_at_keyframes(desk, tmp_path):
    if not _has_gtk() or shutil.which("dbus-monitor") is None:
        pytest.skip("needs Debian's python3-gi + gir1.2-gtk-3.0 and dbus-monitor (scripts/setup.sh installs them)")
    session = PrivateSession(tmp_path, desk.display)
    data = tmp_path / "data"
    policy = policy_file(tmp_path)
    policy.write_text(policy.read_text() + "\n[capture]\na11y_tree = true\n")
    apps: list[subprocess.Popen] = []
    monitor = None
    try:
        with recording(types.SimpleNamespace(env=session.env), data, policy, settle_s=0.5) as info:
            address = a11y_address(session)
            monitor = BusMonitor(address, tmp_path / "monitor.log")
            form, form_state = start_form(session.env, tmp_path, "Tree Form", "Gtkform", 60, 60)
            vault, vault_state = start_form(session.env, tmp_path, "Vault Form", "Vaultform", 1000, 60)
            apps += [form, vault]
            time.sleep(0.6)
            geo = json.loads(form_state.read_text())["widgets"]
            vgeo = json.loads(vault_state.read_text())["widgets"]
            desk.activate(desk.vd.wait_window("^Tree Form$"))
            time.sleep(0.8)  # the focus frame and its tree
            for name in ("Save", "Bold"):
                desk.xdotool("mousemove", *map(str, center(geo[name])), "click", "1")
                time.sleep(0.8)  # input settles: a frame, then the tree
            desk.xdotool("mousemove", *map(str, center(geo["Password"])), "click", "1")
            time.sleep(0.4)
            desk.xdotool("type", "--delay", "30", SECRET)
            time.sleep(0.3)
            desk.xdotool("key", "Tab")
            time.sleep(0.9)
            # the denied app in front: clicks and typing, long enough for its frames to settle
            for name in ("Save", "File name"):
                desk.xdotool("mousemove", *map(str, center(vgeo[name])), "click", "1")
                time.sleep(0.3)
            desk.xdotool("type", "--delay", "30", "vault text")
            time.sleep(1.2)
            state = json.loads(form_state.read_text())
            vstate = json.loads(vault_state.read_text())
        # the input reached the apps
        assert state["clicks"].get("Save") == 1 and state["clicks"].get("Bold") == 1
        assert state["password_sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()
        assert vstate["clicks"].get("Save") == 1 and vstate["texts"]["File name"] == "vault text"

        res = subprocess.run([*WORKPRINT, "inspect", info["session"], "--data-dir", str(data), "--json"],
                             capture_output=True, text=True, check=True)
        report = json.loads(res.stdout)
        stats = report["meta"]["stats"]["a11y_trees"]
        print("\ntree stats:", json.dumps(stats))
        trees = report["a11y_trees"]
        full = [t for t in trees if t["root"] is not None]
        assert full and all(t["app"] == "Gtkform" for t in trees), [(t["app"], t["t"]) for t in trees]
        tree = full[-1]
        nodes = list(_nodes(tree["root"]))
        assert tree["nodes"] == len(nodes) and not tree["truncated"]
        assert tree["root"]["role"] == "frame" and tree["root"]["name"] == "Tree Form"
        by_name = {(n["role"], n.get("name", "")): n for n in nodes}
        wrong = []
        for name, role in NAMED.items():
            node = by_name.get((role, "" if role == "password text" else name))
            if node is None or not box_within(node["box"], geo[name]):
                wrong.append((name, node))
        assert not wrong, wrong
        password = [n for n in nodes if n["role"] == "password text"]
        assert len(password) == 1 and "name" not in password[0] and "children" not in password[0]
        assert "password" in password[0]["states"]
        bold = by_name[("toggle button", "Bold")]
        assert "pressed" in bold["states"] or "checked" in bold["states"], bold
        size = len(json.dumps(tree["root"], separators=(",", ":")).encode())
        print(f"tree of the form: {len(nodes)} nodes, {size} bytes of JSON; {len(full)} stored whole, "
              f"{len(trees) - len(full)} as repeats; read in {stats['query_ms']} ms "
              f"({stats['source_round_trips']} round trips for {stats['taken']} trees, "
              f"{stats['source_replayed']} replayed)")
        # after the first read of the window, the next ones asked its plan at once
        assert stats["source_replayed"] >= 1, stats
        # a tree before an action: the action rows name it by digest
        digests = {t["digest"] for t in trees}
        assert any(a["a11y_tree"] in digests for a in report["actions"])

        # the denied app was never asked by the tree reader; the recorded one was
        assert stats["apps_asked"] == ["Gtkform"]
        asked = monitor.asked(set(TREE_CALLS))
        assert form.pid in asked, "the monitor saw no tree call to the recorded app"
        assert vault.pid not in asked, "the denied app was asked for its tree"

        # the password is in no byte written nor in any export; the exports carry the tree
        export = tmp_path / "exports"
        assert_no_leak(data, [SECRET], export_dir=export)
        values = [st["value"] for line in (export / "agentnet" / "trajectories.jsonl").read_text().splitlines()
                  for st in json.loads(line)["traj"]]
        with_tree = [v for v in values if "a11y_tree" in v]
        assert with_tree, [v["action"] for v in values]
        root = with_tree[0]["a11y_tree"]["root"]
        save = next(n for n in _nodes(root) if n.get("name") == "Save")
        g = geo["Save"]
        assert save["bbox"] == pytest.approx([g["x"] / 1920, g["y"] / 1080, (g["x"] + g["w"]) / 1920,
                                              (g["y"] + g["h"]) / 1080], abs=BOX_TOLERANCE_PX / 1080)
    finally:
        if monitor is not None:
            monitor.close()
        stop_apps(apps)
        session.close()
