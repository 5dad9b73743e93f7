"""Real X11 capture: focus changes with app identity, and frames around actions."""

from __future__ import annotations

import time

import numpy as np

from workprint.events import FocusEvent

from conftest import wait_for


def test_focus_changes_carry_title_app_id_pid_and_geometry(desk, record):
    term = desk.xterm("alpha-term", geometry="80x24+40+40")
    proc, tk_win, _ = desk.workbench("Tk Workbench - ünïcode")
    desk.activate(term)
    rec = record()
    desk.activate(tk_win)
    time.sleep(0.3)
    desk.activate(term)
    time.sleep(0.3)
    desk.xdotool("type", "--delay", "20", "printf '\\033]0;renamed-term\\007'\n")
    time.sleep(0.8)
    session = rec.stop()
    focus = [e for e in session.events(["focus"])]
    titles = [f.title for f in focus]
    assert titles[:3] == ["alpha-term", "Tk Workbench - ünïcode", "alpha-term"]
    assert "renamed-term" in titles
    tk = focus[1]
    assert (tk.app_id, tk.app_instance) == ("Workbench", "workbench")
    # Tk sets no _NET_WM_PID: the pid comes from X-Resource and names the real process
    assert tk.pid == proc.pid and tk.process.startswith("python")
    assert tk.geometry is not None and tk.geometry.width == 900 and tk.geometry.height == 700
    xterm = focus[0]
    assert xterm.app_id == "XTerm" and xterm.process == "xterm"
    assert all(f.window != 0 for f in focus), "the transient no-window state is debounced"
    summary = session.summary()
    assert summary.apps == ["Workbench", "XTerm"]


def test_frames_exist_before_each_click_and_identical_frames_are_stored_once(desk, record):
    proc, wid, state = desk.workbench()
    desk.activate(wid)
    rec = record()
    for i in range(3):
        desk.xdotool("mousemove", "--window", str(wid), "580", "34", "click", "1")  # "Add one"
        time.sleep(0.9)
    desk.xdotool("mousemove", "900", "600")
    time.sleep(1.0)
    session = rec.stop()
    frames = session.frames()
    clicks = [e for e in session.events(["mouse_down"])]
    assert len(clicks) == 3
    for c in clicks:
        pre = [f for f in frames if f.reason == "pre_click" and f.t_ns <= c.t_ns]
        assert pre, f"no pre-click frame before click at {c.t_ns}"
    post = [f for f in frames if f.reason == "post_action"]
    assert post, "a frame is stored after input settles"
    assert {(f.width, f.height) for f in frames} == {(1920, 1080)}
    # frames decode to the real screen: the last one shows the workbench window
    img = np.asarray(session.frame_image(frames[-1].frame_id))
    assert img.shape == (1080, 1920, 3)
    assert img[200:700, 700:1400].std() > 5, "the window content is in the frame"
    # the same screen is stored once: frame ids repeat, manifests do not
    ids = [f.frame_id for f in frames]
    rows = session._conn.execute("SELECT COUNT(*) FROM manifests").fetchone()[0]
    assert rows == len(set(ids))
    # the counter went up three times in the app, and the frames show different states
    assert wait_for(lambda: __import__("json").loads(state.read_text())["count"] == 3, what="3 clicks")
    assert len(set(ids)) >= 3


def test_frame_tiles_reassemble_the_exact_screen(desk, record):
    desk.xterm("pixels-term")
    rec = record()
    desk.xdotool("type", "--delay", "10", "echo pixels")
    time.sleep(1.0)
    from workprint.capture.linux.x11 import X11Backend

    backend = X11Backend()
    truth = backend.grab()
    backend.close()
    session = rec.stop()
    last = session.frames()[-1]
    img = np.asarray(session.frame_image(last.frame_id)).astype(np.uint32)
    bgrx = img[:, :, 2] | (img[:, :, 1] << 8) | (img[:, :, 0] << 16)
    assert np.array_equal(bgrx, truth & 0xFFFFFF), "lossless tiles reproduce the screen exactly"


def test_screen_geometry_is_in_the_session_metadata(desk, record):
    session = record().stop()
    screen = session.meta["screen"]
    assert (screen["width"], screen["height"], screen["scale"]) == (1920, 1080, 1.0)
    assert screen["monitors"] == [{"x": 0, "y": 0, "width": 1920, "height": 1080, "name": "monitor-1"}]
