"""The native-messaging host of the workprint browser extension.

Chromium starts it (``workprint browser install`` writes the host manifest that names
it) when the extension's service worker calls ``connectNative``, with the extension's
origin as its first argument, and talks to it over stdin/stdout: each message is a 4-byte
length in native byte order followed by that many bytes of UTF-8 JSON. The host forwards
every message to the recorder running on its data dir over the recorder's control socket
(``{"cmd": "browser", "msg": ...}``). Only the browser can write to its stdin, and only
the extension named in the host manifest can connect, so a web page can neither read nor
forge what reaches the recorder; the recorder in turn takes browser messages only from a
process whose parent is a browser (it checks the socket peer, see
:mod:`workprint.capture.browser_ext`).

The host keeps the latest state messages (window focus, active tabs, password focus per
frame) and sends them again whenever it reaches a recorder that has not seen them (a
recorder started after the browser, or restarted), so the recorder never has to guess.
When no recorder runs, messages are dropped (nothing is buffered on disk).
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import threading
from pathlib import Path
from typing import BinaryIO

from ..errors import RecorderNotRunning
from .control import request

#: Chromium sends at most 64 MiB per message; ours are small: anything larger is dropped.
MAX_MESSAGE = 1 << 20
RETRY_S = 1.0


def read_message(stream: BinaryIO) -> dict | None:
    """The next message, {} for one to skip (too large, not a JSON object), None at EOF."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack("=I", head)
    if size > MAX_MESSAGE:
        while size > 0:  # skip it whole
            chunk = stream.read(min(size, 65536))
            if not chunk:
                return None
            size -= len(chunk)
        return {}
    body = stream.read(size)
    if len(body) < size:
        return None
    try:
        msg = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return msg if isinstance(msg, dict) else {}


def encode_message(msg: dict) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode()
    return struct.pack("=I", len(body)) + body


class Forwarder:
    """Sends messages to the recorder of ``data_dir``; replays the state after a gap."""

    def __init__(self, data_dir: Path, timeout: float = 2.0):
        self.data_dir = data_dir
        self.timeout = timeout
        self._state: dict[tuple, dict] = {}
        self._session: str | None = None
        self._lock = threading.Lock()
        self.sent = 0

    @staticmethod
    def _state_key(msg: dict) -> tuple | None:
        t = msg.get("t")
        if t in ("win", "nofocus"):
            return ("win", msg.get("windowId")) if t == "win" else ("nofocus",)
        if t == "secure":
            tab = msg.get("tab") or {}
            return ("secure", tab.get("id"), msg.get("frameId"))
        return None

    def _send(self, msg: dict) -> str | None:
        reply = request(self.data_dir, {"cmd": "browser", "msg": msg}, timeout=self.timeout)
        return reply.get("session") if reply.get("ok") else None

    def forward(self, msg: dict) -> bool:
        with self._lock:
            if msg.get("t") == "closed":  # what was said about a closed window or tab is over
                for k in [k for k in self._state if (k[0] == "win" and k[1] == msg.get("windowId"))
                          or (k[0] == "secure" and k[1] == msg.get("tabId"))]:
                    del self._state[k]
            key = self._state_key(msg)
            if key is not None:
                if key == ("nofocus",) or (key[0] == "win" and msg.get("focused")):
                    # only the latest focus report counts
                    for k in [k for k, m in self._state.items() if k == ("nofocus",) or m.get("focused")]:
                        m = self._state.pop(k)
                        if k != ("nofocus",):
                            self._state[k] = {**m, "focused": False}
                self._state.pop(key, None)
                self._state[key] = msg
                if msg.get("t") == "secure" and msg.get("reset") and msg.get("frameId") == 0:
                    tab = (msg.get("tab") or {}).get("id")
                    for k in [k for k in self._state if k[0] == "secure" and k[1] == tab and k != key]:
                        del self._state[k]
            return self._deliver(msg)

    def retry(self) -> bool:
        with self._lock:
            return self._session is not None or self._deliver(None)

    def _deliver(self, msg: dict | None) -> bool:
        try:
            if self._session is None:  # a recorder that may not have seen the state yet
                session = self._send({"t": "hello"})
                if session is None:
                    return False
                self._session = session
                for state in list(self._state.values()):
                    self._send(state)
                if msg is not None and self._state_key(msg) is None:
                    self._send(msg)
                    self.sent += 1
                return True
            if msg is not None:
                got = self._send(msg)
                self.sent += 1
                if got != self._session:  # the recorder was restarted: tell it everything
                    self._session = None
                    if got is not None:
                        return self._deliver(None)
            return True
        except (RecorderNotRunning, OSError, ValueError):
            self._session = None
            return False


def serve(data_dir: Path, stdin: BinaryIO, stdout: BinaryIO) -> int:
    fwd = Forwarder(data_dir)
    done = threading.Event()

    def retry_loop() -> None:
        while not done.wait(RETRY_S):
            fwd.retry()

    threading.Thread(target=retry_loop, name="workprint-host-retry", daemon=True).start()
    try:
        while True:
            msg = read_message(stdin)
            if msg is None:
                return 0
            if msg:
                fwd.forward(msg)
    finally:
        done.set()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="workprint-browser-host",
                                description="Native-messaging host of the workprint browser extension "
                                            "(started by the browser, not by hand).")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="the recorder's data dir (default: $WORKPRINT_DATA_DIR or the platform's)")
    p.add_argument("origin", nargs="?", help="the calling extension's origin (given by the browser)")
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)  # e.g. --parent-window on Windows
    args = p.parse_args(argv)
    if args.data_dir is None:
        from ..paths import default_data_dir

        args.data_dir = default_data_dir()
    return serve(args.data_dir, sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
