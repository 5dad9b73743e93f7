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


class KeyTimeWorker:
    """One thread for the checks that must be made as keys are pressed (the attribution
    check, the terminal's tty sample): the input hook's :meth:`key_pressed` only enqueues,
    and each batch of presses wakes this one thread, which runs every job in turn (in the
    order they were added, or first where asked) - instead of one thread per check, all
    woken by the same key. A job is ``job(keys)`` with the presses' monotonic ns; one that
    raises is logged and the others still run (a key without an answer is judged when
    decoded, failing closed). :meth:`wait` lets the decoder take a check still in flight
    instead of making it a second time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: tuple = ()
        self._pending: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._reported = 0  # the latest press reported (t_ns, increasing)
        self._done = 0  # the latest press every job has seen
        self._cond = threading.Condition()

    def add(self, job, first: bool = False) -> None:
        self._jobs = (job, *self._jobs) if first else (*self._jobs, job)

    def remove(self, job) -> None:
        self._jobs = tuple(j for j in self._jobs if j != job)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None:
            self._pending = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._run, args=(self._pending,), name=self.name,
                                            daemon=True)
            self._thread.start()

    def call_soon(self, fn) -> None:
        """Run ``fn()`` once on this thread, before the jobs of the presses queued after it
        (from any thread; e.g. to act on a connection this thread owns). Dropped when the
        worker is not running."""
        if self._thread is not None:
            self._pending.put(fn)

    def key_pressed(self, t_ns: int) -> None:
        """On the input hook thread (before it queues the key itself): enqueue, return at once."""
        self._reported = max(self._reported, t_ns)
        self._pending.put(t_ns)

    def reported(self, t_ns: int) -> bool:
        """Was the press at ``t_ns`` handed to this worker while it runs (its jobs will see it)?"""
        return self._thread is not None and t_ns <= self._reported

    def wait(self, t_ns: int, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until every job has seen the press at ``t_ns``; False
        at once for a press that was never reported (nothing would come), or on time-out."""
        if not self.reported(t_ns) or timeout_s <= 0:
            return self._done >= t_ns
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= t_ns, timeout_s)

    def _run(self, pending: queue.SimpleQueue) -> None:
        import logging

        for items in batches(pending):
            keys = [t for t in items if isinstance(t, int)]
            for fn in items:
                if not isinstance(fn, int):
                    try:
                        fn()
                    except Exception:  # noqa: BLE001 - a one-off call; the key jobs still run
                        logging.getLogger(__name__).exception("key-time call failed")
            if not keys:
                continue
            for job in self._jobs:
                try:
                    job(keys)
                except Exception:  # noqa: BLE001 - that job's answers are missing: judged later
                    logging.getLogger(__name__).exception("key-time job failed")
            with self._cond:
                self._done = max(self._done, *keys)
                self._cond.notify_all()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._pending.put(None)
            thread.join(timeout=2)
