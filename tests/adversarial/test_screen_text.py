"""Screen-text masking on a real X desktop: a value typed into a form and then shown
elsewhere (another field, a confirmation label, a terminal echoing it) must be masked in
every stored frame - also when the label wraps it over lines and shows it in low
contrast - and a frame that cannot be judged in time is dropped, never stored unmasked.

Each test first proves that the value reached the app (its state file), that the
recorder recorded (an ordinary word typed next to it is in the stored keys, frames were
stored after the value appeared) and that unmasked OCR reads the value on the screen
itself (a grab taken by the test), so the test can fail; then it searches every stored
byte, key, export and the OCR of every stored frame.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import APPS, read_state, wait_for
from workprint.store.session import DataDir

from .leaks import assert_no_leak, recording, spelled

pytestmark = pytest.mark.x11


def echo_form(desk, state: Path, *extra: str) -> int:
    desk.vd.spawn([sys.executable, str(APPS / "echo_form.py"), "--state", str(state), *extra])
    return desk.vd.wait_window("^Echo Form$")


def screen_text(desk, region: tuple[int, int, int, int]) -> str:
    """What unmasked OCR reads in ``region`` of the screen now (a grab by the test)."""
    from workprint.capture.linux.x11 import X11Backend
    from workprint.policy.redact_pixels import TesseractOcr, group_lines, to_ocr_gray, upscale

    backend = X11Backend()
    try:
        px = backend.grab()
    finally:
        backend.close()
    x, y, w, h = region
    crop = np.ascontiguousarray(px[y:y + h, x:x + w])
    words = TesseractOcr(psm=6).words(upscale(to_ocr_gray(crop), 2))
    return "\n".join(line.text for line in group_lines(words))


def squeezed(text: str) -> str:
    return "".join(text.split())


def reads(text: str, value: str) -> int:
    """How often OCR'd ``text`` shows ``value``, tolerating OCR slips (O/0, l/1, a lost
    space, one wrong glyph - two from 20 characters on) and lines joined."""
    from workprint.policy.redact_pixels import known_value_spans

    joined = text.replace("\n", "")
    return max(len(known_value_spans(t, [value], fragment_len=10**6)) for t in (text, joined))


def assert_unreadable_in_frames(data: Path, values: list[str]) -> None:
    """No stored frame shows a value, even with OCR slips tolerated (stricter than the
    exact search of :func:`assert_no_leak`)."""
    from .leaks import ocr_frames

    texts = ocr_frames(data)
    assert texts, "no frame was stored"
    for value in values:
        shown = [i for i, t in enumerate(texts) if reads(t, value)]
        assert not shown, f"{value!r} readable in stored frames {shown}"


def frames_after(data: Path, t_ns: int) -> int:
    store = DataDir(data)
    n = 0
    for sid in store.session_ids():
        with store.open(sid) as s:
            n += sum(1 for ref in s.frames() if ref.t_ns >= t_ns)
    return n


def test_a_typed_value_is_masked_in_the_other_field_the_label_and_a_terminal_echo(desk, tmp_path):
    state, echo = tmp_path / "form.json", tmp_path / "echo.txt"
    echo.write_text("")
    form = echo_form(desk, state, "--echo", str(echo), "--geometry", "900x420+20+20")
    desk.vd.spawn(["xterm", "-T", "echo-term", "-geometry", "100x12+20+520", "-e", "tail", "-f", str(echo)])
    desk.vd.wait_window("^echo-term$")
    values = ["5500 0000 0000 0004", "carol.novak@example.org"]
    data = tmp_path / "data"
    with recording(desk, data):
        shown_at = []
        for value in values:
            desk.activate(form)
            desk.xdotool("mousemove", "--window", str(form), "200", "32", "click", "1")
            desk.xdotool("key", "End")
            for _ in range(40):
                desk.xdotool("key", "BackSpace")
            desk.xdotool("type", "--delay", "60", f"ticket {value}")
            desk.xdotool("key", "Return")
            wait_for(lambda v=value: state.exists() and read_state(state)["value"] == f"ticket {v}",
                     what="the form to receive the value")
            wait_for(lambda v=value: v in echo.read_text(), what="the echo file")
            time.sleep(1.5)  # the run ends, the terminal and the label redraw
            shown_at.append(time.monotonic_ns())
            seen = screen_text(desk, (0, 0, 960, 720))
            assert reads(seen, value) >= 3, seen  # field, copy, label, terminal
            desk.xdotool("mousemove", "400", "300", "click", "1")  # an action: frames around it
            time.sleep(2.5)
    assert "ticket" in spelled(data)["chars"]  # the recorder recorded the typing
    assert frames_after(data, shown_at[0]) >= 2
    assert_no_leak(data, values, ocr=True, export_dir=tmp_path / "export")
    assert_unreadable_in_frames(data, values)


def test_wrapped_low_contrast_small_text_is_masked(desk, tmp_path):
    state = tmp_path / "form.json"
    # grey #858585 on #d9d9d9 (2.6:1), 10 px, the label wraps every 230 px
    form = echo_form(desk, state, "--font-size", "10", "--fg", "#858585", "--bg", "#d9d9d9",
                     "--wrap", "230", "--geometry", "700x360+20+20")
    token = "ghp_Zq7RkV2mXw9LbT4nHs6YdP3cFj8GuE5aK1oN"
    data = tmp_path / "data"
    with recording(desk, data):
        desk.activate(form)
        desk.xdotool("mousemove", "--window", str(form), "200", "30", "click", "1")
        desk.xdotool("type", "--delay", "50", f"note {token}")
        desk.xdotool("key", "Return")
        wait_for(lambda: state.exists() and read_state(state)["value"] == f"note {token}",
                 what="the form to receive the token")
        time.sleep(1.5)
        shown_at = time.monotonic_ns()
        label = screen_text(desk, (20, 150, 420, 160))
        lines = [ln for ln in label.splitlines() if ln.strip()]
        assert len(lines) >= 2, label        # the label wraps it
        assert reads(label, token), label    # and unmasked OCR reads it
        desk.xdotool("mousemove", "300", "300", "click", "1")
        time.sleep(2.5)
    assert "note" in spelled(data)["chars"]
    assert frames_after(data, shown_at) >= 1
    pieces = [token, token[:20], token[20:]]  # either line of the wrap on its own
    assert_no_leak(data, pieces, ocr=True)
    assert_unreadable_in_frames(data, pieces)


class SlowOcr:
    """A reader that takes longer than the recording lasts, then fails (a hung Tesseract
    hitting its time-out)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.calls = 0
        self.release = threading.Event()

    def words(self, image):
        from workprint.policy.redact_pixels import OcrError

        self.calls += 1
        self.release.wait(self.seconds)
        raise OcrError("took too long")


def test_a_frame_that_cannot_be_judged_in_time_is_dropped(desk, record, tmp_path):
    from workprint.capture.frames import TextMaskStage
    from workprint.policy.redact_pixels import TextMasker
    from workprint.policy.redact_text import Redactor
    from workprint.store.quarantine import Quarantine

    secret = "dana.whitfield@example.org"
    term = desk.xterm("slow-term", geometry="100x20+20+20")
    desk.activate(term)
    desk.xdotool("type", f"echo {secret}\n")
    time.sleep(0.5)
    assert reads(screen_text(desk, (0, 0, 900, 400)), secret)
    engine = SlowOcr(seconds=4.0)
    quarantine_dir = tmp_path / "quarantine"
    stage = TextMaskStage(TextMasker(Redactor(username=None, hostname=None), engine),
                          Quarantine(quarantine_dir), lambda t_ns: [], drain_s=0.5, memory_slots=1)
    rec = record(text_mask=stage)
    for i in range(4):  # actions: frames before and after each
        desk.xdotool("mousemove", str(200 + 40 * i), "200", "click", "1")
        time.sleep(0.8)
    session = rec.stop()
    engine.release.set()
    assert engine.calls >= 1                       # OCR was asked to judge a frame
    assert stage.spilled >= 1                      # and frames waited in the quarantine
    assert rec.stats.frames_dropped >= 2           # none could be judged: all dropped
    assert stage.stored == 0 and list(session.frames()) == []
    assert list(quarantine_dir.iterdir()) == []    # the waiting ones destroyed
    assert_no_leak(tmp_path / "data", [secret], ocr=True)


def _ocr_stats(data: Path) -> dict:
    import json
    import sqlite3

    out: dict = {}
    for db in (data / "sessions").glob("*/session.db"):
        conn = sqlite3.connect(db)
        meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        conn.close()
        for k, v in ((meta.get("stats") or {}).get("ocr") or {}).items():
            out[k] = out.get(k, 0) + v
    return out


def test_a_card_shown_where_numbers_were_read_is_masked_when_read_from_glyphs(desk, tmp_path):
    """Numbers typed one after another teach the masker the glyphs of the form and the
    terminal (policy.glyphs: lines are read from glyphs OCR read before, without OCR); a
    card number made of the same digits, typed next, is masked in the field, its copy,
    the label and the terminal echo - and lines were read from glyphs in this session."""
    state, echo = tmp_path / "form.json", tmp_path / "echo.txt"
    echo.write_text("")
    form = echo_form(desk, state, "--echo", str(echo), "--geometry", "900x420+20+20")
    desk.vd.spawn(["xterm", "-T", "echo-term", "-geometry", "100x12+20+520", "-e", "tail", "-f", str(echo)])
    desk.vd.wait_window("^echo-term$")
    groups = ["4031", "5926", "5358", "9792", "2384", "6264"]
    card = "4031 5926 2384 9792"  # the same groups (a Visa number: the typed keys are redacted too)
    data = tmp_path / "data"
    with recording(desk, data):
        for i, text in enumerate([f"ticket {groups[i]} {groups[i - 1]}" for i in range(len(groups))] + [card]):
            desk.activate(form)
            desk.xdotool("mousemove", "--window", str(form), "200", "32", "click", "1")
            desk.xdotool("key", "End")
            desk.xdotool("key", "--repeat", "40", "--delay", "5", "BackSpace")
            desk.xdotool("type", "--delay", "40", text)
            desk.xdotool("key", "Return")
            wait_for(lambda t=text: state.exists() and read_state(state)["value"] == t,
                     what="the form to receive the value")
            wait_for(lambda t=text: t in echo.read_text(), what="the echo file")
            time.sleep(0.8)
        seen = screen_text(desk, (0, 0, 960, 720))
        assert reads(seen, card) >= 3, seen  # field, copy, label, terminal
        desk.xdotool("mousemove", "400", "300", "click", "1")
        time.sleep(2.5)
    assert "ticket" in spelled(data)["chars"]  # the recorder recorded the typing
    assert _ocr_stats(data).get("glyph_reads", 0) > 0  # lines were read from glyphs
    assert_no_leak(data, [card], ocr=True, export_dir=tmp_path / "export")
    assert_unreadable_in_frames(data, [card])
