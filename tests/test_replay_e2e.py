"""Acceptance: record a scripted task in the Tk workbench on a virtual screen, export it as
AgentNet, replay the trajectory on a *fresh* virtual screen running the same app, and check
the app ends in the same state as after the recorded run.

The recorded run is driven by xdotool at human pace; the replay goes through the
exported JSONL only (``iter_trajectories`` + ``replay`` + ``X11Injector``), so everything in
between - capture, reduction, episodes, export - has to be right for the states to match.
"""

from __future__ import annotations

import os
import time

from workprint.capture.linux.xtest import X11Injector
from workprint.export import export_sessions
from workprint.export.replay import iter_trajectories, replay
from workprint.virtual_desktop import VirtualDesktop

from conftest import Desk, read_state, wait_for

GEOMETRY = "900x700+600+100"
NAME = "Ada Lovelace-Byron, Jr."
NOTE_1 = "Call the bank at 9:30!"
NOTE_2_TYPED = "Then file it (v2)x"     # the trailing x is corrected with BackSpace
NOTE_2 = "Then file it (v2)"


def _client_origin(desk: Desk, wid: int) -> tuple[int, int]:
    out = desk.xdotool("getwindowgeometry", "--shell", str(wid))
    vals = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return int(vals["X"]), int(vals["Y"])


def _move(desk: Desk, wid: int, x: int, y: int, steps: int = 6) -> None:
    """Glide to (x, y) in the window's client area in a few steps, like a hand would."""
    ox, oy = _client_origin(desk, wid)
    loc = desk.xdotool("getmouselocation", "--shell")
    cur = dict(line.split("=", 1) for line in loc.splitlines() if "=" in line)
    x0, y0 = int(cur["X"]) - ox, int(cur["Y"]) - oy
    args: list[str] = []
    for i in range(1, steps + 1):
        f = i / steps
        args += ["mousemove", "--window", str(wid), str(round(x0 + (x - x0) * f)),
                 str(round(y0 + (y - y0) * f)), "sleep", "0.02"]
    desk.xdotool(*args)


def _scripted_task(desk: Desk, wid: int) -> None:
    x = desk.xdotool
    pause = lambda: time.sleep(0.6)  # noqa: E731 - between actions: > multi-click window
    # 1. the name field, a name with capitals and punctuation
    _move(desk, wid, 200, 34); x("click", "1"); pause()
    x("type", "--delay", "70", NAME); pause()
    # 2. the notes box: a line, Return, a second line with a BackSpace correction
    _move(desk, wid, 250, 160); x("click", "1"); pause()
    x("type", "--delay", "70", NOTE_1); time.sleep(0.2)
    x("key", "Return"); time.sleep(0.2)
    x("type", "--delay", "70", NOTE_2_TYPED); time.sleep(0.15)
    x("key", "BackSpace"); pause()
    # 3. the "Add one" button
    _move(desk, wid, 580, 34); x("click", "1"); pause()
    # 4. double-click the third list item
    _move(desk, wid, 640, 113); x("click", "--repeat", "2", "--delay", "90", "1"); pause()
    # 5. scroll the list down four ticks
    _move(desk, wid, 700, 200)
    for _ in range(4):
        x("click", "5"); time.sleep(0.08)
    pause()
    # 6. drag on the canvas
    _move(desk, wid, 120, 400)
    x("mousedown", "1")
    for i in range(1, 13):
        x("mousemove", "--window", str(wid), str(120 + 25 * i), str(400 + 10 * i))
        time.sleep(0.03)
    x("mouseup", "1")
    time.sleep(0.8)


def _settled(path, pred, what):
    """The app's state once ``pred`` holds and it has stopped changing for a moment."""
    wait_for(lambda: pred(read_state(path)), what=what, timeout=15)
    last = read_state(path)
    for _ in range(25):
        time.sleep(0.4)
        now = read_state(path)
        if now == last:
            return now
        last = now
    raise AssertionError(f"{what}: the app state kept changing")


def _assert_same_state(replayed: dict, recorded: dict) -> None:
    for key in ("name", "notes", "count", "selected", "list_top"):
        assert replayed[key] == recorded[key], f"{key}: replay {replayed[key]!r} != recorded {recorded[key]!r}"
    assert len(replayed["drags"]) == len(recorded["drags"]), (replayed["drags"], recorded["drags"])
    for got, want in zip(replayed["drags"], recorded["drags"]):
        assert all(abs(g - w) <= 5 for g, w in zip(got, want)), f"drag {got} vs recorded {want}"


def test_recorded_task_replays_to_the_same_app_state(desk, record, tmp_path):
    # --- record on the first virtual screen --------------------------------------------
    _, wid, state = desk.workbench(geometry=GEOMETRY)
    desk.activate(wid)
    origin = _client_origin(desk, wid)
    rec = record()
    _scripted_task(desk, wid)
    session = rec.stop()
    assert rec.stats.error is None
    recorded = _settled(state, lambda s: s["drags"] and s["count"] == 1, "recorded run state")

    # the recorded run did what the script says (so equal states mean something)
    assert recorded["name"] == NAME
    assert recorded["notes"] == NOTE_1 + "\n" + NOTE_2
    assert recorded["count"] == 1
    assert recorded["selected"] == "Invoice 1002"
    assert recorded["list_top"] > 0
    assert len(recorded["drags"]) == 1
    x0, y0, x1, y1 = recorded["drags"][0]
    assert (x1 - x0, y1 - y0) == (300, 120)

    # --- export -----------------------------------------------------------------------
    out = tmp_path / "export"
    summary = export_sessions(rec.store.root, [session.id], "agentnet", out)
    session.close()
    assert summary["trajectories"] == 1
    trajs = list(iter_trajectories(out))
    assert len(trajs) == 1
    traj = trajs[0]
    kinds = [s["value"]["structured"]["type"] for s in traj["traj"]]
    assert kinds == ["click", "write", "click", "write", "press", "write", "click",
                     "doubleClick", "scroll", "drag"], kinds
    # no task was marked, so no outcome and no terminate step; every step has its screenshot
    assert summary["dropped"]["steps"] == 0, summary["dropped"]
    assert all((out / "images" / s["image"]).is_file() for s in traj["traj"])

    # --- replay on a fresh virtual screen ---------------------------------------------
    desk.vd.stop()
    fresh = VirtualDesktop(1920, 1080).start()
    old_display = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = fresh.display
    try:
        desk2 = Desk(fresh, tmp_path / "replay")
        desk2.tmp.mkdir()
        _, wid2, state2 = desk2.workbench(geometry=GEOMETRY)
        desk2.activate(wid2)
        assert _client_origin(desk2, wid2) == origin, "same app, same place on the fresh screen"
        fresh_start = read_state(state2)
        assert fresh_start["name"] == "" and fresh_start["count"] == 0 and not fresh_start["drags"]
        injector = X11Injector(fresh.display)
        try:
            steps = replay(traj, injector)
        finally:
            injector.close()
        assert steps == len(traj["traj"])
        replayed = _settled(state2, lambda s: s["drags"] and s["count"] >= 1, "replayed state")
    finally:
        fresh.stop()
        if old_display is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old_display

    _assert_same_state(replayed, recorded)
