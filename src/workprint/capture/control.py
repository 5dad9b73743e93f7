"""Talking to a running recorder: ``workprint pause/resume/status/task`` use this.

The recorder listens on a Unix socket ``<data-dir>/control.sock`` (mode 0600, so only the
person recorded can control it). One JSON request per connection, one JSON reply. The
handler sees the request with ``peer_pid`` set to the connecting process (from the kernel,
whatever the client sent).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from pathlib import Path
from typing import Any, Callable

from ..errors import RecorderNotRunning, StoreError, WorkprintError  # noqa: F401  (re-exported)

SOCKET_NAME = "control.sock"


def socket_path(data_dir: Path) -> Path:
    """``<data-dir>/control.sock``; for data dirs too deep for a Unix socket path (~107
    bytes), a per-user runtime dir (or the temp dir) with a name derived from the data dir."""
    path = Path(data_dir).resolve() / SOCKET_NAME
    if len(str(path).encode()) < 100:
        return path
    import hashlib
    import tempfile

    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    return base / f"workprint-{os.getuid()}-{digest}.sock"


class ControlServer:
    """Serves requests with ``handler(request) -> reply`` on a background thread."""

    def __init__(self, data_dir: Path, handler: Callable[[dict], dict]):
        self.path = socket_path(data_dir)
        self.handler = handler
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            try:  # a live recorder already answers here: refuse to start a second one
                request(data_dir, {"cmd": "status"}, timeout=1.0)
            except RecorderNotRunning:
                self.path.unlink()
            else:
                raise WorkprintError(
                    f"A recorder is already running for {data_dir}. Stop it first "
                    f"(workprint status --data-dir {data_dir} shows it).")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self._sock.bind(str(self.path))
        finally:
            os.umask(old)
        self._sock.listen(8)
        self._sock.settimeout(0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="workprint-control", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:  # wake the accept() at once (else it returns within its 0.5 s time-out)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as wake:
                wake.settimeout(0.5)
                wake.connect(str(self.path))
        except OSError:
            pass
        self._thread.join(timeout=2)
        self._sock.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            if self._stop.is_set():  # the wake-up from stop()
                conn.close()
                break
            with conn:
                conn.settimeout(2)
                try:
                    data = b""
                    while not data.endswith(b"\n") and len(data) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    req = json.loads(data or b"{}")
                    if isinstance(req, dict):
                        req["peer_pid"] = _peer_pid(conn)  # what the kernel says, never the client
                    reply = self.handler(req) if isinstance(req, dict) else {"ok": False, "error": "bad request"}
                except Exception as exc:  # noqa: BLE001 - a bad client must not stop recording
                    reply = {"ok": False, "error": str(exc)}
                try:
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError:
                    pass


def _peer_pid(conn: socket.socket) -> int | None:
    """The pid of the process at the other end of a Unix socket (Linux), else None."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        return None
    try:
        pid, _uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i")))
    except OSError:
        return None
    return pid or None


def request(data_dir: Path, req: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    path = socket_path(data_dir)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
        s.sendall(json.dumps(req).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (FileNotFoundError, ConnectionRefusedError, socket.timeout) as exc:
        raise RecorderNotRunning(
            f"No recorder is running for {data_dir} (start one with `workprint record"
            f" --data-dir {data_dir}`).") from exc
    finally:
        s.close()
    return json.loads(data or b"{}")


def forget_live(data_dir: Path, *, seconds: float | None = None, since_t_ns: int | None = None,
                until_t_ns: int | None = None) -> dict[str, Any] | None:
    """Ask a recorder running on ``data_dir`` to drop what it still holds of a span (frame
    ring, encoder queue, OCR quarantine, held events) and never write it: the last
    ``seconds``, or ``[since_t_ns, until_t_ns]`` of its session's clock. Call it before the
    store deletes the span, so nothing of it can land after the deletion. Returns the
    recorder's answer (``session``, the span, ``frames`` dropped), or None when no recorder
    runs; raises :class:`StoreError` when it refuses (then delete nothing)."""
    req: dict[str, Any] = {"cmd": "forget"}
    if since_t_ns is not None:
        req.update(since_t_ns=since_t_ns, until_t_ns=until_t_ns)
    else:
        req["seconds"] = seconds
    try:
        reply = request(data_dir, req, timeout=10.0)
    except RecorderNotRunning:
        return None
    if not reply.get("ok"):
        raise StoreError(f"The running recorder refused to forget: {reply.get('error')}. "
                         f"Nothing was deleted; stop the recorder (Ctrl+C) and try again.")
    return reply.get("forgot") or {}
