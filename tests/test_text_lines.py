"""The text finder settles each line to its text rows: the same line gives the same
segment whatever changed box found it, and what it leaves out of a segment is never a
glyph (policy/text_lines.py, TextMasker with a fake OCR engine)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from workprint.policy.redact_pixels import TextMasker, Word, changed_regions
from workprint.policy.redact_text import Redactor
from workprint.policy.text_lines import find_segments

SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
pytestmark = pytest.mark.skipif(not SANS.exists(), reason="needs fonts-dejavu-core")

W, H = 900, 160
FIELD = (100, 40, 400, 32)            # x, y, w, h of the entry field, as Tk draws it on X11
BUTTON = (540, 41, 120, 28)


def form(text: str = "Invoice 1003Invoice 1002 pq|gy_j", *, focused: bool = True,
         caret: int | None = None, label: str = "Count: 3", fg: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A grey window with a white entry field (a 2-px dark focus ring or a 1-px grey
    border), its text, a text cursor taller than the glyphs at column ``caret``, a button
    with a relief and a label. Returns the luminance and where the text's glyphs are."""
    font = ImageFont.truetype(str(SANS), 11)
    img = Image.new("L", (W, H), 217)
    d = ImageDraw.Draw(img)
    x, y, w, h = FIELD
    d.rectangle((x, y, x + w - 1, y + h - 1), fill=255)
    if focused:
        d.rectangle((x, y, x + w - 1, y + h - 1), outline=0, width=2)
    else:
        d.rectangle((x, y, x + w - 1, y + h - 1), outline=190, width=1)
    glyphs = Image.new("L", (W, H), 0)
    ImageDraw.Draw(glyphs).text((x + 5, y + 9), text, font=font, fill=255)
    d.text((x + 5, y + 9), text, font=font, fill=fg)
    if caret is not None:
        d.rectangle((caret, y + 5, caret + 1, y + h - 7), fill=0)
    bx, by, bw, bh = BUTTON
    d.rectangle((bx, by, bx + bw - 1, by + bh - 1), fill=217)
    d.line((bx, by, bx + bw - 1, by), fill=255)
    d.line((bx, by, bx, by + bh - 1), fill=255)
    d.line((bx, by + bh - 1, bx + bw - 1, by + bh - 1), fill=120)
    d.line((bx + bw - 1, by, bx + bw - 1, by + bh - 1), fill=120)
    d.text((bx + 35, by + 8), "Add one", font=font, fill=0)
    d.text((700, 49), label, font=font, fill=0)
    return np.asarray(img), np.asarray(glyphs) > 0


#: changed boxes that hold the field's text: its middle only, its left edge, the field
#: and the button, the whole row, the whole screen
BOXES = [(200, 0, 128, 128), (64, 0, 128, 128), (64, 0, 640, 128), (0, 0, W, 128), (0, 0, W, H)]


def _field_segments(gray: np.ndarray, box, memo=None) -> list[tuple[int, int, int, int]]:
    x, y, w, h = FIELD
    return sorted(s.rect for s in find_segments(gray, [box], memo=memo)
                  if s.x < x + w and x < s.x + s.w and s.y < y + h and y < s.y + s.h)


def test_a_field_line_is_found_with_the_same_rows_whatever_box_changed() -> None:
    """The finder's band depends on the changed box (a box that holds a field's sides
    gives a band as tall as the field): settled, the field's line is one segment, the
    same for every box, focused or not, the text cursor shown or not, and it lies
    inside the field."""
    found = set()
    for focused in (True, False):
        for caret in (None, 171):
            gray, _ = form(focused=focused, caret=caret)
            for box in BOXES:
                segs = _field_segments(gray, box)
                assert len(segs) == 1, (focused, caret, box, segs)
                found.add(segs[0])
    assert len(found) == 1, found
    sx, sy, sw, sh = found.pop()
    x, y, w, h = FIELD
    assert y + 2 < sy and sy + sh < y + h - 2 and sh < 22     # the text rows, not the field's


def test_the_button_and_the_label_beside_it_are_separate_segments() -> None:
    gray, _ = form()
    rows = {s.rect for s in find_segments(gray, [(0, 0, W, 128)]) if s.x > FIELD[0] + FIELD[2]}
    assert len(rows) == 2, rows                                 # "Add one" and "Count: 3"
    button, label = sorted(rows)
    assert button[0] >= BUTTON[0] and button[0] + button[2] <= BUTTON[0] + BUTTON[2]
    assert label[0] >= 700 - 2                                  # (padded)


@pytest.mark.parametrize("fg", [0, 140])                        # dark, and 2.5:1 grey on white
def test_what_a_settled_segment_leaves_out_is_never_a_glyph(fg: int) -> None:
    """Every pixel of every glyph (descenders, a |, an underscore, with the cursor drawn
    over a glyph) lies inside a segment that is read, whatever box found the line."""
    for caret in (None, 171, 140):
        gray, glyphs = form(caret=caret, fg=fg, focused=caret is None)
        for box in BOXES:
            covered = np.zeros_like(glyphs)
            for s in find_segments(gray, [box]):
                covered[s.y:s.y + s.h, s.x:s.x + s.w] = True
            x, y, w, h = FIELD
            inside = glyphs.copy()
            inside[:, :max(x, box[0])] = False                  # the glyphs in the box's columns
            inside[:, min(x + w, box[0] + box[2]):] = False
            assert not (inside & ~covered).any(), (caret, box, np.argwhere(inside & ~covered)[:5])


def test_a_short_text_in_a_field_is_still_read() -> None:
    """Three glyphs cross fewer than the four strokes a segment needs to look like text;
    found with the field's sides they did, and they are read settled as well."""
    gray, glyphs = form(text=";2}", caret=None)
    for box in BOXES[1:]:
        covered = np.zeros_like(glyphs)
        for s in find_segments(gray, [box]):
            covered[s.y:s.y + s.h, s.x:s.x + s.w] = True
        assert not (glyphs & ~covered).any(), box


def test_a_memo_gives_what_finding_anew_gives() -> None:
    memo: OrderedDict = OrderedDict()
    for caret in (None, 171, None, 140):
        gray, _ = form(caret=caret)
        for box in BOXES:
            assert find_segments(gray, [box], memo=memo) == find_segments(gray, [box])
    assert memo


class CountingOcr:
    def __init__(self) -> None:
        self.calls = 0

    def words(self, image: np.ndarray) -> list[Word]:
        self.calls += 1
        return [Word("w", 6, 6, image.shape[1] - 12, image.shape[0] - 12, 90.0)]


def _bgrx(gray: np.ndarray) -> np.ndarray:
    g = gray.astype(np.uint32)
    return 0xFF000000 | (g << 16) | (g << 8) | g


def test_the_masker_does_not_read_a_line_again_when_its_field_loses_focus() -> None:
    """Focus leaves the field and comes back (its ring changes, the text does not): the
    line is found with the same rows and comes from the read cache."""
    ocr = CountingOcr()
    masker = TextMasker(Redactor(username=None, hostname=None), ocr)
    frames = [form(focused=f)[0] for f in (True, False, True, False)]
    masker.find(_bgrx(frames[0]))
    first = ocr.calls
    assert first >= 3                                          # field, button, label
    for prev, cur in zip(frames, frames[1:]):
        masker.find(_bgrx(cur), changed_regions(_bgrx(prev), _bgrx(cur)))
    assert ocr.calls == first
