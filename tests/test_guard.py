"""The connection guard's rules (pure functions; the live behaviour is in
tests/fleet/test_limits_live.py)."""

from __future__ import annotations

from workprint.server.guard import ConnectionLimits, body_verdict, error_response, pick_eviction

L = ConnectionLimits(body_idle_s=10, min_body_bytes_per_s=1000)


def test_a_body_that_keeps_moving_fast_enough_is_left_alone():
    assert body_verdict(now=5, started=0, last_byte=4.9, received=0, limits=L) is None     # grace period
    assert body_verdict(now=60, started=0, last_byte=59.9, received=60_000, limits=L) is None


def test_a_pause_as_long_as_the_idle_limit_ends_it():
    assert "no request body bytes for 10 s" in body_verdict(now=10, started=0, last_byte=0, received=0, limits=L)
    assert body_verdict(now=19.9, started=0, last_byte=10, received=10**9, limits=L) is None
    assert body_verdict(now=20, started=0, last_byte=10, received=10**9, limits=L) is not None


def test_a_body_that_stalled_right_after_its_start_is_told_a_stall_not_a_trickle():
    """Its last byte came a moment after the body began: when the idle limit since the
    start is reached, it is not yet idle that long; it is ended as a stall once it is
    (the live test saw "slower than" first, by a fraction of a millisecond)."""
    assert body_verdict(now=10.0, started=0, last_byte=0.001, received=1000, limits=L) is None
    assert "no request body bytes" in body_verdict(now=10.001, started=0, last_byte=0.001, received=1000,
                                                   limits=L)


def test_a_trickle_that_never_pauses_is_ended_by_its_average_rate():
    # one byte a second: never idle, but 1 B/s on average after the grace period
    assert body_verdict(now=9.9, started=0, last_byte=9.5, received=10, limits=L) is None
    assert "slower than 1000 bytes/s" in body_verdict(now=10, started=0, last_byte=9.5, received=10, limits=L)
    # a fast start does not buy an endless trickle later: the average keeps falling
    assert body_verdict(now=30, started=0, last_byte=29.9, received=29_999, limits=L) is not None


def test_eviction_picks_the_oldest_connection_not_handling_a_request():
    assert pick_eviction([("a", True, 1.0), ("b", False, 3.0), ("c", False, 2.0)]) == "c"
    assert pick_eviction([("a", True, 1.0), ("b", True, 2.0)]) is None
    assert pick_eviction([]) is None


def test_error_responses_close_the_connection_and_say_why():
    raw = error_response(408, "Request Timeout", 'say "why"')
    head, body = raw.split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout") and b"connection: close" in head
    assert f"content-length: {len(body)}".encode() in head and body == b'{"error": "say \\"why\\""}'
