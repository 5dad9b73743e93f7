"""The session store without X: versioning, listing, reading back exactly what was written."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys

import pytest
from PIL import Image

from workprint.errors import SessionNotFound, StoreVersionError
from workprint.events import (ButtonEvent, FocusEvent, FrameRef, GapEvent, Geometry, KeyEvent,
                              MarkerEvent, MoveEvent, ScrollEvent)
from workprint.store.session import SCHEMA_VERSION, DataDir

EVENTS = [
    FocusEvent(10, 5, "Report – Q3", "XTerm", "xterm", 42, "xterm", Geometry(0, 0, 800, 600)),
    KeyEvent(20, True, 38, 0x61, "a", "a", ("shift",)),
    KeyEvent(21, False, 38, 0x61, "a", "a", ()),
    KeyEvent(22, True, redacted="PASSWORD"),
    MoveEvent(30, 1, 2),
    ButtonEvent(31, True, 1, 2, "left"),
    ButtonEvent(32, False, 3, 4, "left"),
    ScrollEvent(40, 5, 6, 0, -1),
    GapEvent(50, 1_000_000_000, "out_of_scope"),
    MarkerEvent(60, "task_start", "Reconcile invoices"),
]


def _png(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buf, "PNG")
    return buf.getvalue()


def test_events_and_frames_round_trip(tmp_path):
    store = DataDir(tmp_path)
    w = store.create({"screen": {"width": 8, "height": 4}})
    w.add_events(EVENTS)
    red, blue = b"r" * 16, b"b" * 16
    w.add_frame(FrameRef(70, "f1", "start", 8, 4), 4, [red, blue], {red: ("png", _png("red")), blue: ("png", _png("blue"))})
    w.add_frame(FrameRef(80, "f1", "post_action", 8, 4), 4, [red, blue], {})
    w.close()
    with store.open(w.id) as s:
        assert list(s.events()) == EVENTS
        assert [f.reason for f in s.frames()] == ["start", "post_action"]
        img = s.frame_image("f1")
        assert img.getpixel((0, 0)) == (255, 0, 0) and img.getpixel((7, 3)) == (0, 0, 255)
        summary = s.summary()
        assert summary.frames == 2 and summary.unique_frames == 1
        assert summary.events["key_down"] == 2 and summary.apps == ["XTerm"]
        assert summary.state == "complete" and not summary.interrupted
        assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_fails_with_a_clear_error(tmp_path):
    store = DataDir(tmp_path)
    w = store.create()
    w.close()
    db = tmp_path / "sessions" / w.id / "session.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreVersionError, match="newer workprint"):
        store.open(w.id)
    out = subprocess.run([sys.executable, "-m", "workprint.cli", "inspect", w.id, "--data-dir", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 4 and "Upgrade workprint" in out.stderr


def test_unknown_session_names_the_command_to_list_them(tmp_path):
    with pytest.raises(SessionNotFound, match="workprint sessions"):
        DataDir(tmp_path).open("nope")


def test_sessions_and_inspect_json(tmp_path):
    store = DataDir(tmp_path)
    w = store.create({"screen": {"width": 8, "height": 4}})
    w.add_events(EVENTS)
    w.close()
    run = lambda *a: subprocess.run([sys.executable, "-m", "workprint.cli", *a, "--data-dir", str(tmp_path)],
                                    capture_output=True, text=True, check=True).stdout
    [row] = json.loads(run("sessions", "--json"))
    for key in ("id", "start", "end", "duration_s", "events", "frames", "dropped_frames", "apps",
                "bytes_on_disk", "interrupted"):
        assert key in row
    assert row["bytes_on_disk"] > 0
    info = json.loads(run("inspect", w.id, "--json"))
    window = info["timeline"][0]
    assert window["app"] == "XTerm" and window["keys"] == 2 and window["clicks"] == 1 and window["scrolls"] == 1
    assert [r["type"] for r in info["timeline"][1:]] == ["gap", "marker"]
    assert "XTerm" in run("sessions")
    # the text output shows what the JSON has: the gap's length, the task's text
    text = run("inspect", w.id)
    assert "[gap] out_of_scope for 1.0 s" in text
    assert "[marker] task_start 'Reconcile invoices'" in text
