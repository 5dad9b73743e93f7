"""The recorder's control socket, without X: request/reply, refusal of a second recorder,
private permissions, data dirs too deep for a Unix socket path."""

from __future__ import annotations

import stat

import pytest

from workprint.capture.control import ControlServer, RecorderNotRunning, request
from workprint.errors import WorkprintError


@pytest.mark.parametrize("depth", ["short", "x" * 120])
def test_request_reply_and_clean_stop(tmp_path, depth):
    data = tmp_path / depth
    srv = ControlServer(data, lambda req: {"ok": True, "status": {"seen": req["cmd"]}})
    srv.start()
    try:
        assert request(data, {"cmd": "status"}) == {"ok": True, "status": {"seen": "status"}}
        assert stat.S_IMODE(srv.path.stat().st_mode) == 0o600, "only the person recorded may control it"
        with pytest.raises(WorkprintError, match="already running"):
            ControlServer(data, lambda req: {})
    finally:
        srv.stop()
    assert not srv.path.exists()
    with pytest.raises(RecorderNotRunning, match="No recorder is running"):
        request(data, {"cmd": "status"})


def test_a_stale_socket_from_a_crashed_recorder_is_replaced(tmp_path):
    srv = ControlServer(tmp_path, lambda req: {"ok": True})
    srv._sock.close()  # crashed: the file stays, nobody answers
    assert srv.path.exists()
    again = ControlServer(tmp_path, lambda req: {"ok": True, "status": {}})
    again.start()
    try:
        assert request(tmp_path, {"cmd": "status"})["ok"]
    finally:
        again.stop()
