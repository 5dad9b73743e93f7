"""The prompt reader's line identity (no X, no OCR): which grabs show the same prompt line.
The key-time sampler keeps one grab per prompt line by it, and the reader's cached verdict
is reused by it - typing into a prompt must not make a new line, a new prompt must."""

from __future__ import annotations

import numpy as np

from workprint.capture.linux.terminal_text import PromptReader
from workprint.events import Geometry

CELL_W, ROW_H = 8, 16
WHITE = 0x00FFFFFF


def screen(*lines: str, cursor: bool = True) -> np.ndarray:
    """A terminal window (BGRX) with a text line per argument: each non-space character is a
    glyph-sized box of ink, a block cursor after the last line."""
    img = np.zeros((12 * ROW_H, 60 * CELL_W), dtype=np.uint32)
    for row, text in enumerate(lines):
        y = 4 + row * ROW_H
        for col, ch in enumerate(text):
            if ch != " ":
                x = 4 + col * CELL_W
                # glyph shapes differ by character, so different text differs in pixels
                img[y + 2:y + 13, x + 1:x + 2 + (ord(ch) % 5)] = WHITE
                img[y + 12:y + 13, x + 1:x + 7] = WHITE  # every glyph touches the baseline
    if cursor:
        y, x = 4 + (len(lines) - 1) * ROW_H, 4 + len(lines[-1]) * CELL_W
        img[y + 2:y + 13, x:x + CELL_W - 1] = WHITE
    return img


def test_typing_into_a_prompt_keeps_its_line_and_a_new_prompt_does_not():
    reader = PromptReader(grab=lambda geometry: None)
    first = screen("$ python3 login.py", "Password for alice: ")
    line = reader.prompt_line(first)
    assert line is not None
    for typed in ("T", "Tr0ub4", "Tr0ub4dor-x9q"):
        assert reader.shows(line, screen("$ python3 login.py", "Password for alice: " + typed))
    assert not reader.shows(line, screen("$ python3 login.py", "Password for alice: x", "$ "))  # answered
    assert not reader.shows(line, screen("$ python3 login.py", "Project name: "))  # another prompt
    assert not reader.shows(line, screen("$ python3 login.py", "Pass"))  # erased
    assert not reader.shows(line, None)
    assert reader.prompt_line(np.zeros((100, 100), dtype=np.uint32)) is None  # no text
    assert line.identifies
    # a program reads the line, its prompt is not drawn yet: only the cursor on the last line
    assert not reader.prompt_line(screen("$ python3 login.py", "")).identifies


def test_a_cached_verdict_holds_while_the_grab_shows_its_line():
    reads = []
    reader = PromptReader(grab=lambda geometry: None)
    reader._read = lambda crop: reads.append(crop.shape) or True  # OCR stand-in
    geo, key = Geometry(0, 0, 480, 192), ("window", "/dev/pts/3")
    assert reader(geo, key, pixels=screen("Password for alice: ")) is True
    assert reader(geo, key, pixels=screen("Password for alice: Tr0")) is True
    assert len(reads) == 1  # typing into the prompt: the cached verdict
    reader(geo, key, pixels=screen("Password for alice: Tr0", "$ "))
    assert len(reads) == 2  # a new line: read again


def test_prompts_are_read_in_process_when_libtesseract_loads_else_by_the_cli(monkeypatch):
    from workprint.policy import tesseract_lib
    from workprint.policy.redact_pixels import TesseractOcr

    if tesseract_lib.library() is None:
        import pytest
        pytest.skip("libtesseract is not installed here")
    reader = PromptReader(grab=lambda geometry: None)
    assert isinstance(reader.ocr, tesseract_lib.TesseractLib)  # no process per read
    monkeypatch.setattr(tesseract_lib, "library", lambda: None)
    assert isinstance(PromptReader(grab=lambda geometry: None).ocr, TesseractOcr)


def test_an_engine_shared_by_two_threads_reads_as_it_does_alone():
    """With OCR masking on, the prompt reader shares the masker's libtesseract engine: the
    engine serialises the two threads' calls (its API object is not thread-safe)."""
    import threading

    from PIL import Image, ImageDraw

    from workprint.policy import tesseract_lib
    from workprint.policy.redact_pixels import upscale

    if tesseract_lib.library() is None:
        import pytest
        pytest.skip("libtesseract is not installed here")
    engine = tesseract_lib.TesseractLib()
    assert PromptReader(grab=lambda geometry: None, ocr=engine).ocr is engine
    images = []
    for text in ("[sudo] password for alice:", "Project name: quarterly report"):
        img = Image.new("L", (320, 16), 255)
        ImageDraw.Draw(img).text((2, 2), text, fill=0)
        images.append(upscale(np.asarray(img), 3))
    alone = [[w.text for w in engine.words(im)] for im in images]
    assert alone[0] and alone[1]
    got: list = []

    def read(im, expected):
        for _ in range(6):
            got.append([w.text for w in engine.words(im)] == expected)

    threads = [threading.Thread(target=read, args=(im, exp)) for im, exp in zip(images, alone)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.close()
    assert got == [True] * 12


def _window(text: str) -> np.ndarray:
    """A terminal window (BGRX) showing ``text`` on its last line, dark on light."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (360, 40), 255)
    ImageDraw.Draw(img).text((6, 14), text, fill=0)
    gray = np.asarray(img).astype(np.uint32)
    return gray << 16 | gray << 8 | gray


def test_an_engine_of_its_own_is_closed_after_a_quiet_spell_and_loaded_again_by_the_next_read(monkeypatch):
    """OCR masking off: the reader's own libtesseract model is handed back after a quiet
    spell; the next read loads it again and judges as before, and a read whose engine
    cannot be loaded again answers None (the caller fails closed)."""
    import time

    import pytest

    from workprint.policy import tesseract_lib
    from workprint.policy.redact_pixels import OcrError

    if tesseract_lib.library() is None:
        pytest.skip("libtesseract is not installed here")
    reader = PromptReader(grab=lambda geometry: None, engine_idle_s=0.3)
    geo, key = Geometry(0, 0, 360, 40), ("window", "/dev/pts/3")
    prompt = _window("[sudo] password for alice:")
    assert reader(geo, key, pixels=prompt) is True
    engine = reader.ocr
    assert engine._api is not None
    deadline = time.monotonic() + 5
    while reader.engine_releases == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.engine_releases == 1 and engine._api is None  # the model is handed back
    assert reader(geo, key, pixels=prompt) is True  # the cached verdict: no read
    assert reader.reads == 1
    reader.submitted()
    assert reader(geo, key, pixels=_window("Project name: quarterly report")) is False
    assert reader.reads == 2 and reader.ocr is engine and engine._api is not None  # loaded again
    while reader.engine_releases == 1 and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    assert reader.engine_releases == 2

    def no_model() -> None:
        raise OcrError("Tesseract has no 'eng' model")

    monkeypatch.setattr(engine, "_init", no_model)
    reader.submitted()
    assert reader(geo, key, pixels=prompt) is None  # cannot tell: the gate fails closed
    reader.close()


def test_a_shared_engine_is_never_closed_by_the_reader():
    import time

    import pytest

    from workprint.policy import tesseract_lib

    if tesseract_lib.library() is None:
        pytest.skip("libtesseract is not installed here")
    engine = tesseract_lib.TesseractLib()
    reader = PromptReader(grab=lambda geometry: None, ocr=engine, engine_idle_s=0.05)
    assert reader(Geometry(0, 0, 360, 40), "k", pixels=_window("[sudo] password for alice:")) is True
    time.sleep(0.3)
    reader.close()
    assert reader.engine_releases == 0 and engine._api is not None  # the masker's, still loaded
    engine.close()
