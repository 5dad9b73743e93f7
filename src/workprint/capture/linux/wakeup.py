"""A stop signal that a ``select()`` loop can wait on next to its X connection."""

from __future__ import annotations

import os
import threading


class StopSignal:
    """``set()`` marks the loop stopped and wakes its ``select()`` at once (through
    :attr:`fd`); ``close()`` releases the pipe after the thread has been joined."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.fd, self._w = os.pipe()

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        if not self._event.is_set():
            self._event.set()
            os.write(self._w, b"x")

    def stop_thread(self, thread: threading.Thread, timeout: float = 2.0) -> None:
        """Stop the loop, wait for its thread, release the pipe."""
        self.set()
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=timeout)
        os.close(self.fd)
        os.close(self._w)
