"""Connection guard for ``workprint serve``: what uvicorn leaves to a proxy in front of it.

uvicorn has no deadline for request headers, no limit on their size and no deadline for a
request body, and its ``limit_concurrency`` counts idle connections, so a few thousand
half-open connections make every request answer 503. :class:`GuardedHttpProtocol` (uvicorn's
httptools protocol plus these rules) closes that gap for a collector that faces devices
directly:

* the request line and headers must arrive within ``header_timeout_s`` of the connection (or
  of the request's first byte on a kept-alive connection) - else 408 and the connection closes;
* they may take at most ``max_header_bytes`` - else 431 and the connection closes;
* a body must keep moving: no byte for ``body_idle_s``, or an average under
  ``min_body_bytes_per_s`` once ``body_idle_s`` has passed, ends it with 408;
* a response sent before the request body was read completely (a refusal) closes the
  connection, so an unread body cannot keep it open;
* only requests being handled count against ``max_requests`` (503 beyond); idle and
  half-open connections do not. Past ``max_connections`` a new connection evicts the oldest
  one that is not handling a request (or is refused if every connection is busy).

The rules are pure functions (:func:`body_verdict`, :func:`pick_eviction`) over plain numbers;
the protocol class only keeps the clocks and counters.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    max_header_bytes: int = 64 * 1024
    body_idle_s: float = 20.0
    min_body_bytes_per_s: float = 2048.0
    max_requests: int = 1024          # requests being handled at once, per process
    max_connections: int = 8192       # open connections per process (idle ones are evicted)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the rules (pure) ----------------------------------------------------------------------
def body_verdict(now: float, started: float, last_byte: float, received: int,
                 limits: ConnectionLimits) -> str | None:
    """Why a request body that is still arriving must be cut off now, or None."""
    if now - last_byte >= limits.body_idle_s:
        return (f"no request body bytes for {limits.body_idle_s:g} s; send the body without pauses "
                f"and retry")
    elapsed = now - started
    # too slow on average, while bytes still come (a body silent for half the idle limit is
    # a stall: the rule above says so within the other half, not "too slow" by a hair first)
    if (elapsed >= limits.body_idle_s and now - last_byte < limits.body_idle_s / 2
            and received < limits.min_body_bytes_per_s * elapsed):
        return (f"request body arrives slower than {limits.min_body_bytes_per_s:g} bytes/s; retry "
                f"on a faster connection")
    return None


def pick_eviction(conns: Iterable[tuple[Any, bool, float]]) -> Any | None:
    """Of ``(connection, busy, opened_at)``, the oldest connection not handling a request
    (None if every one is busy)."""
    idle = [(opened, i, c) for i, (c, busy, opened) in enumerate(conns) if not busy]
    return min(idle, key=lambda t: (t[0], t[1]))[2] if idle else None


def error_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 response that closes the connection, in the API's error shape."""
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


# -- the protocol --------------------------------------------------------------------------
class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the rules above (set ``limits`` before serving)."""

    limits = ConnectionLimits()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._g_opened = time.monotonic()
        self._g_phase = "headers"        # headers | body | handling | idle (between requests)
        self._g_hdr_pending = True       # a request has begun whose headers are not complete
        self._g_header_bytes = 0
        self._g_body_started = self._g_last_byte = 0.0
        self._g_body_bytes = 0
        self._g_timer = None
        super().connection_made(transport)
        self.limit_concurrency = None    # replaced by max_requests (see on_headers_complete)
        if len(self.connections) > self.limits.max_connections:
            victim = pick_eviction((c, getattr(c, "_g_phase", "idle") in ("body", "handling"),
                                    getattr(c, "_g_opened", 0.0)) for c in self.connections)
            if victim is None or victim is self:
                self._g_refuse(503, "Service Unavailable", "the collector has too many open connections; "
                               "retry in a few seconds")
                return
            victim._g_refuse(503, "Service Unavailable", "connection closed to make room for others; "
                             "reconnect when you have a request to send")
        self._g_arm(self.limits.header_timeout_s, self._g_header_timeout)

    def connection_lost(self, exc) -> None:
        self._g_cancel()
        super().connection_lost(exc)

    # timers
    def _g_arm(self, delay: float, fn) -> None:
        self._g_cancel()
        self._g_timer = self.loop.call_later(delay, fn)

    def _g_cancel(self) -> None:
        if self._g_timer is not None:
            self._g_timer.cancel()
            self._g_timer = None

    def _g_refuse(self, status: int, reason: str, message: str) -> None:
        """Answer ``status`` (unless a response already started) and close the connection;
        the application, if it waits for the body, sees the client disconnect."""
        self._g_cancel()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._g_hdr_pending:
            # the cycle (if any) is the previous request's: answer only once its response is out
            if cycle is None or cycle.response_complete:
                self.transport.write(error_response(status, reason, message))
        elif cycle is None or not cycle.response_started:
            self.transport.write(error_response(status, reason, message))
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _g_header_timeout(self) -> None:
        self._g_timer = None
        if not self._g_hdr_pending:
            return       # between requests uvicorn's keep-alive timeout applies
        self._g_refuse(408, "Request Timeout", f"request headers not received within "
                       f"{self.limits.header_timeout_s:g} s; send the whole request at once")

    def _g_body_check(self) -> None:
        self._g_timer = None
        if self._g_phase != "body":
            return
        now = time.monotonic()
        why = body_verdict(now, self._g_body_started, self._g_last_byte, self._g_body_bytes, self.limits)
        if why is not None:
            self._g_refuse(408, "Request Timeout", why)
            return
        self._g_arm(min(1.0, self.limits.body_idle_s / 2), self._g_body_check)

    # parser and data callbacks
    def data_received(self, data: bytes) -> None:
        reading_headers = self._g_hdr_pending or self._g_phase == "idle"
        super().data_received(data)
        if reading_headers and self._g_hdr_pending and not self.transport.is_closing():
            self._g_header_bytes += len(data)
            if self._g_header_bytes > self.limits.max_header_bytes:
                self._g_refuse(431, "Request Header Fields Too Large", f"request line and headers "
                               f"exceed {self.limits.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._g_hdr_pending:       # the next request (kept alive, or pipelined)
            self._g_hdr_pending, self._g_header_bytes = True, 0
            if self._g_phase == "idle":
                self._g_phase = "headers"
            self._g_arm(self.limits.header_timeout_s, self._g_header_timeout)

    def on_headers_complete(self) -> None:
        self._g_cancel()
        self._g_hdr_pending = False
        if len(self.tasks) >= self.limits.max_requests:
            self.limit_concurrency = 0    # uvicorn answers this one 503
        super().on_headers_complete()
        self.limit_concurrency = None
        now = time.monotonic()
        self._g_phase = "body"
        self._g_body_started = self._g_last_byte = now
        self._g_body_bytes = 0
        self._g_arm(min(1.0, self.limits.body_idle_s / 2), self._g_body_check)

    def on_body(self, body: bytes) -> None:
        self._g_body_bytes += len(body)
        self._g_last_byte = time.monotonic()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._g_cancel()
        self._g_phase = "handling"
        super().on_message_complete()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        if self._g_phase == "body" or (cycle is not None and cycle.more_body):
            # answered before the body was read (a refusal): do not keep reading it
            self._g_cancel()
            super().on_response_complete()
            self.transport.close()
            return
        if self._g_phase == "handling":
            self._g_phase = "idle"
        super().on_response_complete()
