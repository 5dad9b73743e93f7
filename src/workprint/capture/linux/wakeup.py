"""Waiting without polling: a stop signal that a ``select()`` loop can wait on next to its X
connection, and the batches a worker thread takes from what the input hook queued."""

from __future__ import annotations

import os
import queue
import threading
from typing import Iterator


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


def batches(pending: queue.SimpleQueue) -> Iterator[list]:
    """What the input hook queued on ``pending``, a batch at a time: waits for the first item,
    then takes whatever else is queued; ends when ``None`` (the stop) is among them."""
    while True:
        items = [pending.get()]
        try:
            while True:
                items.append(pending.get_nowait())
        except queue.Empty:
            pass
        if None in items:
            return
        yield items
