"""A capture stream that stops on its own is never silent: keys fall back to RECORD when
the XInput 2 stream is lost; a lost pointer (RECORD) or focus stream ends the session
with a CaptureError, keeping everything recorded up to that moment."""

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


@pytest.mark.parametrize("stream", ["focus", "record"])
def test_a_lost_focus_or_pointer_stream_ends_the_session_with_a_clear_error(desk, record, stream):
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
