"""A slow encoder drops frames (counted) but never input events, and memory stays bounded."""

from __future__ import annotations

import time

import psutil
from Xlib import X
from Xlib.display import Display
from Xlib.ext import xtest


def test_slow_encoder_drops_frames_not_events(desk, record):
    wid = desk.xterm("busy-term", geometry="200x60+0+0")
    desk.activate(wid)
    desk.xdotool("type", "while :; do date +%N; done\n")  # the screen changes all the time
    proc = psutil.Process()
    rec = record(encoder_delay_s=1.0)
    rss_start = proc.memory_info().rss
    d = Display(desk.display)
    clicks = 0
    peak = rss_start
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        for i in range(20):
            xtest.fake_input(d, X.MotionNotify, x=400 + i * 10, y=700)
        xtest.fake_input(d, X.ButtonPress, 3)
        xtest.fake_input(d, X.ButtonRelease, 3)
        d.sync()
        clicks += 1
        time.sleep(0.05)
        peak = max(peak, proc.memory_info().rss)
    d.close()
    time.sleep(0.5)
    session = rec.stop()
    assert rec.stats.frames_dropped > 0, "frames were offered faster than the encoder could take them"
    assert sum(1 for e in session.events(["mouse_down"])) == clicks, "no input event lost"
    assert session.summary().dropped_frames == rec.stats.frames_dropped
    # ring (3) + encoder queue (4) of 8 MB grabs bound the growth, whatever the backlog
    assert peak - rss_start < 120 * 1024 * 1024
