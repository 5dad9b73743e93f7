"""A capture stream that stops on its own is never silent: keys and the pointer fall back
to RECORD when their XInput 2 stream is lost; a lost RECORD or focus stream ends the
session with a CaptureError, keeping everything recorded up to that moment."""

from __future__ import annotations

import time

import pytest

from conftest import wait_for
from workprint.errors import CaptureError


def _cut(conn) -> None:
    """Cut one of the recorder's X connections, as a dying server or a killed client
    would: its reader sees the connection end."""
    import socket

    conn.display.socket.shutdown(socket.SHUT_RDWR)


def test_keys_fall_back_to_record_when_the_xi2_stream_is_lost(desk, record):
    wid = desk.xterm("fallback-term")
    desk.activate(wid)
    rec = record()
    assert rec.backend.key_source == "xi2"
    desk.xdotool("type", "--delay", "30", "before")
    time.sleep(0.5)
    _cut(rec.backend._keys.connection)
    wait_for(lambda: rec.backend.key_source == "record", what="keys to fall back to RECORD")
    desk.xdotool("type", "--delay", "30", "after")
    desk.xdotool("key", "shift+x")
    time.sleep(1.5)
    assert not rec.recorder.stopped.is_set(), "losing XI2 alone must not end the session"
    session = rec.stop()
    downs = [k for k in session.events(["key_down"]) if k.char]
    assert "".join(k.char for k in downs) == "beforeafterX"
    ups = [k for k in session.events(["key_up"]) if k.char]
    assert len(ups) == len(downs), "each press has exactly one release (no duplicates)"
    markers = [m for m in session.events(["marker"]) if m.name == "input_source"]
    assert len(markers) == 1 and "record" in markers[0].text


def test_pointer_falls_back_to_record_when_the_xi2_stream_is_lost(desk, record):
    wid = desk.xterm("pointer-term", geometry="80x24+40+40")
    desk.activate(wid)
    rec = record()
    assert rec.backend.pointer_source == "xi2"
    x = desk.xdotool
    x("mousemove", "300", "200"); x("click", "1")
    x("mousemove", "310", "210"); x("click", "5")
    time.sleep(0.5)
    _cut(rec.backend._pointer.connection)
    wait_for(lambda: rec.backend.pointer_source == "record", what="the pointer to fall back to RECORD")
    x("mousemove", "400", "250"); x("click", "3")
    x("mousemove", "410", "260"); x("click", "4")
    x("mousemove", "420", "270")
    time.sleep(1.0)
    assert not rec.recorder.stopped.is_set(), "losing the XI2 pointer alone must not end the session"
    session = rec.stop()
    assert session.meta["screen"]["pointer"] == "xi2"  # the source the session started with
    buttons = list(session.events(["mouse_down", "mouse_up"]))
    assert [(b.x, b.y, b.button, b.down) for b in buttons] == [
        (300, 200, "left", True), (300, 200, "left", False),
        (400, 250, "right", True), (400, 250, "right", False)], "each click once, none lost"
    assert [(s.x, s.y, s.dx, s.dy) for s in session.events(["scroll"])] == [
        (310, 210, 0, -1), (410, 260, 0, 1)]
    markers = [m for m in session.events(["marker"]) if m.name == "input_source"]
    assert len(markers) == 1 and markers[0].text == "pointer: record (XInput 2 stream lost)"
    moves = [(m.x, m.y) for m in session.events(["move"]) if m.t_ns > markers[0].t_ns]
    assert moves and moves[-1] == (420, 270), "moves after the cut are stored"
    assert buttons[2].t_ns > markers[0].t_ns


@pytest.mark.parametrize("stream", ["focus", "record"])
def test_a_lost_focus_or_record_stream_ends_the_session_with_a_clear_error(desk, record, stream):
    wid = desk.xterm("lost-term")
    desk.activate(wid)
    rec = record()
    desk.xdotool("type", "--delay", "30", "kept")
    desk.xdotool("key", "Return")
    time.sleep(0.8)
    if stream == "focus":
        conn = rec.backend._focus.connection
    else:
        conn = rec.backend._record_conn
    _cut(conn)
    wait_for(rec.recorder.stopped.is_set, timeout=5, what="the recorder to stop")
    err = rec.recorder.error
    assert isinstance(err, CaptureError)
    assert "lost" in str(err) and "workprint record" in str(err)
    session = rec.stop()
    typed = "".join(k.char for k in session.events(["key_down"]) if k.char)
    assert typed == "kept"
