"""The recorder's core and the safeguard gate through it, with a scripted backend (no display).

``FakeBackend`` replays raw records, focus changes, windows and screens in real time; the
recorder, the gate, the frame pipeline, the control socket and the store are the real ones
(``record_session``). Each test first checks that its input reached the recorder, then
reads what was stored - every byte, where a secret is involved.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from workprint.capture.backend import CaptureLost, WindowInfo
from workprint.capture.control import forget_live, request
from workprint.capture.fake import FakeBackend, Screen, Windows, type_text
from workprint.capture.run import record_session
from workprint.errors import CaptureError
from workprint.events import ButtonEvent, FocusEvent, GapEvent, Geometry, KeyEvent, MoveEvent
from workprint.policy.gate import POINTER_GAP
from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor
from workprint.store.forget import forget_span
from workprint.store.session import DataDir

POLICY = parse_policy('[scope]\nallow_apps = ["Workbench"]\n', source="t.toml")
WORK = Geometry(0, 0, 160, 200)
CHAT = Geometry(160, 0, 160, 200)
WINDOWS = (WindowInfo(1, "Workbench", "workbench", "Notes - Workbench", WORK),
           WindowInfo(2, "Signal", "signal", "Signal", CHAT))


def focus(window: int = 1, title: str = "Notes - Workbench", app: str = "Workbench") -> FocusEvent:
    geometry = WORK if window == 1 else CHAT
    return FocusEvent(0, window, title, app, app.lower(), 4000 + window, app.lower(), geometry)


def click(at: float, x: int, y: int) -> list:
    return [(at, ButtonEvent(0, True, x, y, "left")), (at + 0.03, ButtonEvent(0, False, x, y, "left"))]


@pytest.fixture(scope="module")
def redactor():
    return Redactor(username="alice", hostname="ws-alice-42")


class Run:
    """One ``record_session`` over a fake backend, stopped once the script has played
    (plus ``linger`` seconds), or by the test."""

    def __init__(self, tmp: Path, redactor, script, *, windows=None, secure_input=None, frames=False,
                 linger: float = 0.0):
        self.data = tmp / "data"
        self.backend = FakeBackend(script, windows=windows)
        self.stop = threading.Event()
        self.result = None
        self.started = threading.Event()

        def stop_when_played():
            if self.backend.finished.wait(20):
                time.sleep(linger)
            self.stop.set()

        def run():
            self.result = record_session(self.data, POLICY, backend=self.backend, stop=self.stop,
                                         frames=frames, redactor=redactor, secure_input=secure_input,
                                         on_start=lambda sid: self.started.set())

        self.thread = threading.Thread(target=run)
        self.thread.start()
        threading.Thread(target=stop_when_played, daemon=True).start()

    def wait(self):
        self.thread.join(30)
        assert not self.thread.is_alive(), "the recorder did not stop"
        return self.result

    def session(self):
        return DataDir(self.data).open(self.result.session_id)


def typed(events) -> str:
    return "".join(e.char or "" for e in events if isinstance(e, KeyEvent) and e.down and not e.redacted)


def every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_a_typing_run_in_a_recorded_window_is_stored_with_its_frames(tmp_path, redactor):
    pixels = np.full((200, 320), 0x00336699, dtype=np.uint32)
    script = [(0.0, Screen(pixels)), (0.0, focus()), *type_text("hello world\n", at=0.05)]
    run = Run(tmp_path, redactor, script, frames=True, linger=0.3)
    result = run.wait()
    assert result.error is None
    assert result.stats.decoded.get("key_down") == 12, "every key reached the recorder"
    with run.session() as s:
        events = list(s.events())
        assert typed(events) == "hello world"
        assert any(isinstance(e, KeyEvent) and e.down and e.key == "Return" for e in events)
        stored_focus = [e for e in events if isinstance(e, FocusEvent)]
        assert [f.app_id for f in stored_focus] == ["Workbench"]
        assert [e.t_ns for e in events] == sorted(e.t_ns for e in events)
        frames = s.frames()
        assert frames, "a recorded window with input has frames"
        assert (frames[0].width, frames[0].height) == (320, 200)
        assert s.meta["state"] == "complete" and s.meta["backend"] == "fake"


def test_keys_typed_into_a_password_field_are_swallowed(tmp_path, redactor):
    asked = []

    def probe(f: FocusEvent):  # the platform's "is the focused field a password field"
        asked.append(f.title)
        return f.title == "Sign in - Workbench"

    secret = "Tr0ub4dor-x9q"
    script = [(0.0, focus()), *type_text("user", at=0.02, every=0.01),
              (0.1, focus(title="Sign in - Workbench")), *type_text(secret + "\n", at=0.12, every=0.01),
              (0.4, focus()), *type_text("after", at=0.42, every=0.01)]
    run = Run(tmp_path, redactor, script, secure_input=probe, linger=0.1)
    result = run.wait()
    assert result.error is None
    assert result.stats.decoded.get("key_down") == 4 + len(secret) + 1 + 5, "the secret reached the recorder"
    assert "Sign in - Workbench" in asked
    with run.session() as s:
        events = list(s.events())
        assert typed(events) == "userafter"
        assert [e.redacted for e in events if isinstance(e, KeyEvent) and e.redacted] == ["PASSWORD", "PASSWORD"]
        folder = s.folder
    stored = every_byte(folder)
    for part in (secret, "Tr0ub", "4dor", "x9q"):
        assert part.encode() not in stored


def test_clicks_on_a_window_out_of_scope_are_dropped_and_leave_a_gap(tmp_path, redactor):
    script = [(0.0, focus()), (0.02, MoveEvent(0, 40, 40)), *click(0.05, 50, 60),
              (0.15, MoveEvent(0, 200, 60)), *click(0.2, 250, 60), *click(0.21, 260, 70),
              (0.35, MoveEvent(0, 60, 60)), *click(0.4, 60, 70)]
    run = Run(tmp_path, redactor, script, windows=WINDOWS)
    result = run.wait()
    assert result.error is None
    assert result.stats.decoded.get("mouse_down") == 4, "every press reached the recorder"
    with run.session() as s:
        events = list(s.events())
    presses = [(e.x, e.y) for e in events if isinstance(e, ButtonEvent) and e.down]
    assert presses == [(50, 60), (60, 70)], "only presses on the recorded window remain"
    assert not any(getattr(e, "x", 0) >= 160 for e in events), "nothing over the other window"
    gaps = [e for e in events if isinstance(e, GapEvent) and e.reason == POINTER_GAP]
    assert len(gaps) == 1
    assert gaps[0].duration_ns >= 10_000_000, "the gap spans both dropped clicks"


def test_focus_on_an_app_out_of_scope_drops_its_keys_and_titles(tmp_path, redactor):
    script = [(0.0, focus()), *type_text("in", at=0.02),
              (0.1, focus(2, "Alice - private chat", "Signal")), *type_text("hidden", at=0.12),
              (0.35, focus()), *type_text("back", at=0.37)]
    run = Run(tmp_path, redactor, script)
    result = run.wait()
    assert result.stats.decoded.get("key_down") == 12
    with run.session() as s:
        events = list(s.events())
        folder = s.folder
    assert typed(events) == "inback"
    assert [e.reason for e in events if isinstance(e, GapEvent)] == ["out_of_scope"]
    stored = every_byte(folder)
    assert b"hidden" not in stored and b"private chat" not in stored and b"Signal" not in stored


def test_forget_drops_a_span_while_recording(tmp_path, redactor):
    script = [(0.0, focus()), *type_text("kept\n", at=0.0, every=0.01),
              *type_text("forgotten", at=0.6),  # held by the gate (its unit goes on) ...
              *type_text("later\n", at=1.4)]     # ... until this Enter, after the forget
    run = Run(tmp_path, redactor, script)
    assert run.started.wait(10)
    time.sleep(0.35)
    since = time.monotonic_ns()
    time.sleep(0.65)  # "forgotten" is typed meanwhile (0.6 s to 0.78 s)
    until = time.monotonic_ns()
    # what `workprint forget` does: the recorder drops what it still holds, then the store
    # deletes what was written
    live = forget_live(run.data, since_t_ns=since, until_t_ns=until)
    assert live is not None and live["since_t_ns"] == since
    forget_span(run.data, live["session"], since, until, settle_s=0.2)
    result = run.wait()
    assert result.stats.decoded.get("key_down") == 5 + 9 + 6, "every key reached the recorder"
    with run.session() as s:
        events = list(s.events())
        counts = s.event_counts()
    assert typed(events) == "keptlater"
    assert counts["key_down"] == 5 + 6, "no row of the forgotten keys is left"
    assert [e.reason for e in events if isinstance(e, GapEvent)] == ["forgotten"]
    assert not [e for e in events if since <= e.t_ns <= until and not isinstance(e, GapEvent)]


def test_stop_flushes_a_unit_the_gate_still_holds(tmp_path, redactor):
    script = [(0.0, focus()), *type_text("unfinished line", at=0.02, every=0.005)]
    run = Run(tmp_path, redactor, script)  # stopped right after the last key: no Enter, no pause
    result = run.wait()
    assert result.error is None
    with run.session() as s:
        assert typed(s.events()) == "unfinished line"
        assert s.meta["state"] == "complete"


def test_a_lost_input_stream_ends_the_session_with_what_came_before(tmp_path, redactor):
    script = [(0.0, focus()), *type_text("saved\n", at=0.02),
              (0.3, CaptureLost("fake input", "the display went away")),
              *type_text("never", at=0.3, every=0.001)]  # queued right behind the loss
    run = Run(tmp_path, redactor, script)
    result = run.wait()
    assert isinstance(result.error, CaptureError)
    assert "fake input" in str(result.error)
    assert result.stats.decoded.get("key_down") == 6, "nothing after the loss was processed"
    with run.session() as s:
        assert typed(s.events()) == "saved"
        assert s.meta["state"] == "error"


def test_frames_of_a_window_out_of_scope_are_blacked_out(tmp_path, redactor):
    pixels = np.full((200, 320), 0x00FFFFFF, dtype=np.uint32)
    script = [(0.0, Screen(pixels)), (0.0, Windows(WINDOWS)), (0.0, focus()),
              *type_text("abc", at=0.05), *click(0.2, 40, 40)]
    run = Run(tmp_path, redactor, script, windows=WINDOWS, frames=True, linger=0.3)
    result = run.wait()
    assert result.error is None
    with run.session() as s:
        frames = s.frames()
        assert frames
        img = np.asarray(s.frame_image(frames[-1].frame_id).convert("RGB"))
    assert img[:, :160].min() > 200, "the recorded window shows"
    assert img[:, 170:].max() < 30, "the chat window is black"


def test_pause_and_resume_over_the_control_socket_leave_a_gap(tmp_path, redactor):
    script = [(0.0, focus()), *type_text("before\n", at=0.0, every=0.01),
              *type_text("during\n", at=0.45, every=0.01),
              *type_text("after\n", at=0.9, every=0.01)]
    run = Run(tmp_path, redactor, script)
    assert run.started.wait(10)
    time.sleep(0.25)
    assert request(run.data, {"cmd": "pause"})["status"]["recording"] is False
    time.sleep(0.4)  # "during" is typed meanwhile (0.45 s to 0.52 s)
    assert request(run.data, {"cmd": "resume"})["status"]["recording"] is True
    result = run.wait()
    assert result.stats.decoded.get("key_down") == 7 + 7 + 6, "every key reached the recorder"
    with run.session() as s:
        events = list(s.events())
    assert typed(events) == "beforeafter"
    assert [e.reason for e in events if isinstance(e, GapEvent)] == ["paused"]
