"""Resource exhaustion against a real ``workprint serve`` (uvicorn + the connection guard),
driven with raw sockets the way a hostile client would: slow and endless headers, stalled
and trickled bodies, thousands of idle and half-open connections, oversized and unfinished
uploads. The HTTP layer is the same on both backends, so this runs on the local one."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from workprint.server.collector import Collector

from .conftest import Backend
from .helpers import LiveServer, make_chunk

pytestmark = pytest.mark.fleet
HEADER_S, BODY_S = 1.0, 1.5


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    backend = Backend("local", tmp / "server")
    setup = Collector(backend.config())
    tokens = [setup.enroll(setup.create_enrolment_code("test", f"p{i}", 3600)["code"], "d")["token"]
              for i in range(6)]
    setup.close()
    server = LiveServer(backend, tmp, extra=[
        "--header-timeout", str(HEADER_S), "--body-timeout", str(BODY_S), "--max-chunk-mb", "8",
        "--max-connections", "3000"]).start()
    server.tokens = tokens
    yield server
    server.stop()


def connect(server: LiveServer) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_until_closed(s: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed."""
    s.settimeout(timeout)
    t0, got = time.monotonic(), b""
    try:
        while True:
            part = s.recv(65536)
            if not part:
                break
            got += part
    except (socket.timeout, ConnectionResetError):
        pytest.fail(f"the server kept the connection open for {timeout} s; got {got[:200]!r}")
    return got, time.monotonic() - t0


def status_and_error(raw: bytes) -> tuple[int, str]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)["error"] if body.startswith(b"{") else body.decode()


def health_ok(server: LiveServer, within: float = 1.5) -> float:
    t0 = time.monotonic()
    r = httpx.get(f"{server.url}/v1/health", timeout=within)
    assert r.status_code == 200, r.text
    return time.monotonic() - t0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("send", [
    pytest.param([], id="nothing-sent"),
    pytest.param([b"G"], id="one-byte"),
    pytest.param([b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"] + [b"X-Slow: 1\r\n"] * 12, id="trickled-headers"),
])
def test_slow_request_headers_get_408_and_the_connection_closes(live, send):
    s = connect(live)
    t0 = time.monotonic()
    for part in send:                      # one piece every 0.15 s: always "active", never done
        try:
            s.sendall(part)
        except OSError:                    # closed by the server (after its 408)
            break
        time.sleep(0.15)
        if time.monotonic() - t0 > HEADER_S + 0.5:
            break
    got, _ = read_until_closed(s, HEADER_S + 3)
    took = time.monotonic() - t0
    assert status_and_error(got)[0] == 408 and b"request headers not received" in got
    assert HEADER_S - 0.1 <= took <= HEADER_S + 1.5
    s.close()


def test_slow_headers_on_a_kept_alive_connection_get_408(live):
    s = connect(live)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    t0 = time.monotonic()
    s.sendall(b"GET /v1/health HTTP/1.1\r\n")            # the second request never finishes
    for _ in range(10):
        time.sleep(0.2)
        try:
            s.sendall(b"X: y\r\n")
        except OSError:
            break
    got, _ = read_until_closed(s, 5)
    assert status_and_error(got)[0] == 408 and time.monotonic() - t0 <= HEADER_S + 1.5


@pytest.mark.parametrize("shape", ["many-lines", "one-endless-value", "endless-url"])
def test_endless_headers_get_431_before_they_fill_memory(live, shape):
    s = connect(live)
    head = {"many-lines": b"GET /v1/health HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 90 + b"\r\n",
            "one-endless-value": b"GET /v1/health HTTP/1.1\r\nX-Pad: ",
            "endless-url": b"GET /v1/health?"}[shape]
    s.sendall(head)
    filler = b"X-Pad: " + b"a" * 90 + b"\r\n" if shape == "many-lines" else b"a" * 100
    sent = len(head)
    try:
        while sent < 4 * 1024 * 1024:        # far more than the 64 KiB allowed
            s.sendall(filler * 100)
            sent += len(filler) * 100
    except OSError:                           # the server closed on us: expected
        pass
    got, _ = read_until_closed(s, 5)
    assert sent < 4 * 1024 * 1024 or got, "4 MiB of headers were accepted"
    code = status_and_error(got)[0] if got else None
    assert code == 431, got[:200]
    health_ok(live)


def _put_head(token: str | None, sha: str, length: int | None) -> bytes:
    lines = [f"PUT /v1/chunks/{sha} HTTP/1.1", "Host: x", "Content-Type: application/octet-stream"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("pattern", ["stall", "trickle"])
def test_stalled_or_trickled_body_gets_408(live, pattern):
    s = connect(live)
    s.sendall(_put_head(live.tokens[0], "a" * 64, 200_000) + b"x" * 1000)
    t0 = time.monotonic()
    if pattern == "trickle":                 # a byte every 0.2 s: never idle, far too slow
        for _ in range(int((BODY_S + 2) / 0.2)):
            try:
                s.sendall(b"x")
            except OSError:
                break
            time.sleep(0.2)
    got, _ = read_until_closed(s, BODY_S + 4)
    code, error = status_and_error(got)
    assert code == 408, got[:300]
    assert ("no request body bytes" in error) if pattern == "stall" else ("slower than" in error)
    assert time.monotonic() - t0 <= BODY_S + 2.5
    health_ok(live)


def test_a_refused_request_does_not_keep_reading_its_body(live):
    """401 before the body is read; trickling the rest must not hold the connection."""
    s = connect(live)
    s.sendall(_put_head("wp_not_a_token", "b" * 64, 5_000_000) + b"x" * 100)
    t0 = time.monotonic()
    got = b""
    s.settimeout(0.2)
    for _ in range(40):
        try:
            s.sendall(b"x" * 10)
            part = s.recv(65536)
            if not part:
                break
            got += part
        except socket.timeout:
            continue
        except OSError:
            break
    assert got.startswith(b"HTTP/1.1 401")
    assert time.monotonic() - t0 < BODY_S + 1.5


def test_oversized_uploads_are_refused_while_reading(live):
    # declared too large: 413 before a byte of the body is read
    s = connect(live)
    s.sendall(_put_head(live.tokens[1], "c" * 64, 9 * 1024 * 1024))
    got, _ = read_until_closed(s, 5)
    assert status_and_error(got)[0] == 413
    # chunked, no declared length: cut off once 8 MiB went past, not after the 64 MiB sent
    s = connect(live)
    s.sendall(_put_head(live.tokens[1], "d" * 64, None))
    piece = b"%x\r\n%s\r\n" % (1024 * 1024, b"z" * 1024 * 1024)
    sent = 0
    try:
        for _ in range(64):
            s.sendall(piece)
            sent += 1
    except OSError:
        pass
    got, _ = read_until_closed(s, 5)
    code, error = status_and_error(got)
    assert code == 413 and "limit of 8388608 bytes" in error, got[:300]
    assert sent < 64, "the server read 64 MiB of a chunk limited to 8 MiB"
    health_ok(live)


def test_unfinished_uploads_do_not_pile_up_in_memory(live):
    """40 uploads of 4 MiB (5 devices x 8) stopped just short of their end: the server
    holds them on disk, not in memory; a device's ninth upload is refused."""
    pid = live.proc.pid
    before = rss_kib(pid)
    socks = []
    part = b"u" * (4 * 1024 * 1024 - 10)
    for token in live.tokens[1:6]:
        for _ in range(8):
            s = connect(live)
            s.sendall(_put_head(token, make_chunk().sha256, 4 * 1024 * 1024) + part)
            socks.append(s)
    time.sleep(0.5)
    held = rss_kib(pid)
    ninth = connect(live)
    ninth.sendall(_put_head(live.tokens[1], "e" * 64, 100) + b"x" * 100)
    ninth.settimeout(5)
    assert ninth.recv(65536).startswith(b"HTTP/1.1 429")
    for s in socks:
        s.close()
    grew_mib = (held - before) / 1024
    print(f"\nserver RSS {before / 1024:.0f} MiB -> {held / 1024:.0f} MiB with 160 MiB of unfinished uploads")
    assert grew_mib < 48, f"the server grew by {grew_mib:.0f} MiB holding unfinished uploads"


def test_health_answers_with_2000_idle_and_half_open_connections(live):
    socks = []
    try:
        for i in range(2000):
            s = socket.create_connection(("127.0.0.1", live.port), timeout=10)
            if i % 2:
                s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")     # half-open request
            socks.append(s)
        worst = max(health_ok(live, within=2.0) for _ in range(5))
        print(f"\nhealth with 2,000 idle/half-open connections open: worst {worst * 1000:.0f} ms")
        assert worst < 1.0
        # and the guard reclaims them: every one is answered 408 and closed
        deadline = time.monotonic() + HEADER_S + 5
        closed = 0
        for s in socks:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                while s.recv(65536):
                    pass
                closed += 1
            except (socket.timeout, ConnectionResetError):
                pass
        assert closed == len(socks)
    finally:
        for s in socks:
            s.close()


def test_past_the_connection_cap_idle_connections_make_room(live):
    """3,200 connections against a cap of 3,000: the oldest idle ones are closed, and a
    real request still gets through."""
    socks = []
    try:
        for _ in range(3200):
            socks.append(socket.create_connection(("127.0.0.1", live.port), timeout=10))
        health_ok(live, within=2.0)
        time.sleep(0.2)
        answers = []
        for s in socks:
            try:
                answers.append(s.recv(65536, socket.MSG_DONTWAIT)[:12])
            except BlockingIOError:
                answers.append(None)
        evicted = [i for i, a in enumerate(answers) if a == b"HTTP/1.1 503"]
        assert len(evicted) >= 150, (len(evicted), answers.count(None))
        assert max(evicted) < 1000, "a newer connection was evicted before older idle ones"
    finally:
        for s in socks:
            s.close()


def test_slow_headers_of_a_pipelined_request_get_408(live):
    """A complete request followed at once by the start of a second one, whose headers then
    trickle in: the first is answered, the second cut off in time."""
    s = connect(live)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/health HTTP/1.1\r\n")
    t0 = time.monotonic()
    for _ in range(12):
        time.sleep(0.2)
        try:
            s.sendall(b"X: y\r\n")
        except OSError:
            break
    got, _ = read_until_closed(s, 5)
    assert got.startswith(b"HTTP/1.1 200") and got.count(b"HTTP/1.1 ") == 2, got[:400]
    assert b"HTTP/1.1 408" in got and time.monotonic() - t0 <= HEADER_S + 1.5
