"""The cheaper text finder finds exactly what it found before (issue 13): the same
segments, the same lines to read, the same crops for OCR, on random rendered screens
(policy/text_lines.py against its copy at f9439d5, tests/text_lines_f9439d5.py), and
the masker's cheaper luminance, line reuse and known-value matching answer as before."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

import text_lines_f9439d5 as old
from workprint.policy import line_reuse, text_lines as new
from workprint.policy.redact_pixels import TextMasker, Word, changed_regions, known_value_spans, luminance
from workprint.policy.redact_text import Redactor

FONTS = Path("/usr/share/fonts/truetype/dejavu")
FACES = ["DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf"]
pytestmark = pytest.mark.skipif(not (FONTS / FACES[0]).exists(), reason="needs fonts-dejavu-core")

W, H = 360, 150
TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;|_-=/()[]{}@#$gjpqy",
               min_size=1, max_size=30)


def _font(face: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / face), size)


@st.composite
def screens(draw) -> np.ndarray:
    """A grey screen: lines of text in any font, size and contrast (dark on light, light
    on dark, grey on grey), some in a field (a ring or a border), a caret, a button's
    relief, window edges and rules; lines may be close enough to touch."""
    ground = draw(st.sampled_from([255, 240, 217, 30, 0, 128]))
    img = Image.new("L", (W, H), ground)
    d = ImageDraw.Draw(img)
    for _ in range(draw(st.integers(1, 5))):
        x, y = draw(st.integers(-10, W - 20)), draw(st.integers(-6, H - 10))
        size = draw(st.integers(7, 22))
        fg = draw(st.integers(0, 255))
        if draw(st.booleans()):                         # a field around the line
            fw, fh = draw(st.integers(30, 300)), size + draw(st.integers(4, 16))
            d.rectangle((x - 4, y - 4, x + fw, y + fh), fill=draw(st.integers(0, 255)),
                        outline=draw(st.integers(0, 255)), width=draw(st.integers(1, 2)))
        d.text((x, y), draw(TEXT), font=_font(draw(st.sampled_from(FACES)), size), fill=fg)
        if draw(st.booleans()):                         # a caret, taller than the glyphs
            cx = x + draw(st.integers(0, 200))
            d.rectangle((cx, y - 2, cx + draw(st.integers(0, 2)), y + size + 2), fill=fg)
        if draw(st.booleans()):                         # the next line, touching or not
            d.text((x, y + size + draw(st.integers(-2, 4))), draw(TEXT), font=_font(FACES[1], size), fill=fg)
    for _ in range(draw(st.integers(0, 3))):            # window edges, rules, reliefs
        x, y = draw(st.integers(0, W - 1)), draw(st.integers(0, H - 1))
        if draw(st.booleans()):
            d.line((x, 0, x, H), fill=draw(st.integers(0, 255)), width=draw(st.integers(1, 3)))
        else:
            d.line((0, y, x + 60, y), fill=draw(st.integers(0, 255)), width=draw(st.integers(1, 2)))
    return np.asarray(img)


@st.composite
def boxes(draw) -> list[tuple[int, int, int, int]]:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        x, y = draw(st.integers(0, W - 1)), draw(st.integers(0, H - 1))
        out.append((x, y, draw(st.integers(1, W - x)), draw(st.integers(1, H - y))))
    return out


def _rects(segments) -> list[tuple[int, int, int, int, int]]:
    return [(s.x, s.y, s.w, s.h, s.text_h) for s in segments]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(screens(), boxes())
def test_the_finder_finds_what_it_found_before(gray: np.ndarray, changed) -> None:
    """The same segments (with a memo, twice, and without), the same lines to read and
    the same crops OCR reads, the same ink, bands and rows on the way."""
    segs = old.find_segments(gray, changed)
    memo: OrderedDict = OrderedDict()
    for _ in range(2):
        assert _rects(new.find_segments(gray, changed, memo=memo)) == _rects(segs)
    assert _rects(new.find_segments(gray, changed)) == _rects(segs)
    reads = old.lines_to_read(gray, segs)
    assert _rects(new.lines_to_read(gray, new.find_segments(gray, changed))) == _rects(reads)
    for seg in reads:
        a, sa = old.segment_crop(gray, seg)
        b, sb = new.segment_crop(gray, new.Segment(seg.x, seg.y, seg.w, seg.h, seg.text_h))
        assert sa == sb and a.dtype == b.dtype and np.array_equal(a, b)
    for seg in segs:
        assert new.text_like(gray, new.Segment(*seg.rect)) == old.text_like(gray, seg)
    ink = old.ink_mask(gray)
    assert np.array_equal(new.ink_mask(gray), ink)
    assert np.array_equal(new.drop_rules(ink), old.drop_rules(ink))
    assert new.bands(old.drop_rules(ink)) == old.bands(old.drop_rules(ink))
    assert np.array_equal(new.edge_mask(gray), old.edge_mask(gray))
    for x, y, w, h in changed:
        assert new._text_rows(gray, x, x + w, y, y + h) == old._text_rows(gray, x, x + w, y, y + h)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 70), st.sampled_from([2, 3, 256]), st.floats(0, 1), st.integers(0, 2**32 - 1))
def test_medians_grounds_and_percentiles_are_exact(h: int, w: int, levels: int, fill: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, levels, (h, w)).astype(np.uint8)
    a[rng.random((h, w)) < fill] = rng.integers(0, levels)          # a ground filling some of it
    assert new.median_u8(a) == int(np.median(a))
    assert new.median_u8(a[:, ::2]) == int(np.median(a[:, ::2]))
    assert np.array_equal(np.broadcast_to(new._ground(a), (w,)), old._ground(a))
    bh, bw = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    assert np.array_equal(new.block_background(a, bh, bw), old.block_background(a, bh, bw))
    counts = rng.integers(0, rng.choice([3, 40, 3000]), h)
    assert new._percentile_75(counts) == np.percentile(counts, 75)
    ink = a > levels // 2
    for run in (1, 2, 3, 5, 40, 48):
        assert np.array_equal(new.drop_rules(ink, run, run), old.drop_rules(ink, run, run))


def _old_luminance(pixels: np.ndarray) -> np.ndarray:
    p = pixels.astype(np.uint32)
    return ((((p >> 16) & 0xFF) * 77 + ((p >> 8) & 0xFF) * 150 + (p & 0xFF) * 29) >> 8).astype(np.uint8)


def test_luminance_is_exact_for_every_colour() -> None:
    rgb = np.arange(1 << 24, dtype=np.uint32).reshape(4096, 4096)
    for x in (0, 0xFF000000):
        assert np.array_equal(luminance(rgb | np.uint32(x)), _old_luminance(rgb))
    assert np.array_equal(luminance(rgb[7:300:3, 5:900:2]), _old_luminance(rgb[7:300:3, 5:900:2]))


# -- line reuse ----------------------------------------------------------------------------

def _old_sources(masker: TextMasker, seg, crop) -> list[tuple[int, bytes, tuple]]:
    """The earlier lines :meth:`TextMasker._reread` compared a line with, as it went
    through all the lines kept (newest first): (same_place, crop, word spans) each."""
    out = []
    for (ox, oy, ow, oh), (top, rows, rel, *_) in reversed(masker._lines.items()):
        if ox >= seg.x + seg.w or seg.x >= ox + ow or top > seg.y or top + rows.shape[0] < seg.y + seg.h:
            continue
        old_crop = rows[seg.y - top:seg.y - top + seg.h]
        if ox == seg.x and ow == seg.w and line_reuse.caret_only(crop, old_crop):
            return []
        out.append((ox - seg.x, old_crop.tobytes(), tuple((w.x, w.x + w.w) for w in rel)))
        if len(out) >= 6:
            break
    return out


class InkRuns:
    """Reads a word per run of inked columns (split at 6 blank columns)."""

    def words(self, image: np.ndarray) -> list[Word]:
        cols = np.flatnonzero((image < 128).any(axis=0))
        if not len(cols):
            return []
        cut = np.flatnonzero(np.diff(cols) > 6)
        starts, ends = np.r_[cols[0], cols[cut + 1]], np.r_[cols[cut], cols[-1]] + 1
        return [Word("w%d" % int(a), int(a), 6, int(b - a), image.shape[0] - 12, 90.0) for a, b in zip(starts, ends)]


def _bgrx(gray: np.ndarray) -> np.ndarray:
    g = gray.astype(np.uint32)
    return 0xFF000000 | (g << 16) | (g << 8) | g


def _typing(text: str, at: int, size: int) -> list[np.ndarray]:
    """Frames of ``text`` typed at ``at`` into a line of a terminal, one key a frame."""
    font = _font(FACES[1], size)
    frames = []
    lines = ["$ ls -la /tmp", "total 48", "drwxrwxrwt 12 root root 4096 ."]
    for i in range(len(text) + 1):
        img = Image.new("L", (W, H), 255)
        d = ImageDraw.Draw(img)
        for n, line in enumerate(lines):
            d.text((4, 4 + n * (size + 3)), line, font=font, fill=0)
        typed = lines[2][:at] + text[:i] + lines[2][at:]
        d.text((4, 4 + 4 * (size + 3)), typed, font=font, fill=0)
        frames.append(np.asarray(img))
    return frames


@settings(max_examples=15, deadline=None)
@given(st.text(alphabet="abcxyz019 ", min_size=3, max_size=8), st.integers(0, 30), st.integers(9, 14),
       st.integers(2500, 40000))
def test_line_reuse_compares_with_the_lines_it_compared_with_before(text, at, size, budget) -> None:
    """The lines kept are looked up by row: a line is compared with the same earlier
    lines, in the same order, as going through all of them; the index kept per line
    gives the plan computing it anew gives."""
    masker = TextMasker(Redactor(username=None, hostname=None), InkRuns(), reuse_bytes=budget)
    expected, got = [], []
    real_reread, real_plan = masker._reread, line_reuse.plan

    def reread(gray, seg, crop):
        expected.append(_old_sources(masker, seg, crop))
        got.append([])
        return real_reread(gray, seg, crop)

    def plan(crop, sources, **kw):
        got[-1] = [(s.same_place, s.crop.tobytes(), s.words) for s in sources]
        assert all(s.index is not None for s in sources)
        return real_plan(crop, sources, **kw)

    masker._reread = reread
    line_reuse.plan = plan
    try:
        prev = None
        for f in _typing(text, at, size):
            masker.find(_bgrx(f), None if prev is None else changed_regions(_bgrx(prev), _bgrx(f)))
            prev = f
            for rect, (top, rows, rel, indexes, _) in masker._lines.items():
                assert rect in masker._lines_at[top]
                for (dy, h), (values, at_) in indexes.items():
                    v, a = line_reuse.index(rows[dy:dy + h])
                    assert np.array_equal(v, values) and np.array_equal(a, at_)
    finally:
        line_reuse.plan = real_plan
    assert got == expected
    assert sum(map(len, masker._lines_at.values())) == len(masker._lines)
    assert budget < 20000 or masker.partial_reads     # (a small budget keeps few lines)


def test_known_values_are_matched_again_when_they_change() -> None:
    """Matches of known values are kept per line text and values: other values find
    what they find on a fresh masker."""
    font = _font(FACES[0], 13)
    img = Image.new("L", (W, 60), 255)
    ImageDraw.Draw(img).text((4, 10), "user hunter2 logged in", font=font, fill=0)
    frame = _bgrx(np.asarray(img))

    class Reads:
        def words(self, image):
            return [Word(t, 6 + 40 * i, 6, 36, 12, 90.0) for i, t in enumerate(["user", "hunter2", "logged", "in"])]

    masker = TextMasker(Redactor(username=None, hostname=None), Reads())
    for known in [("hunter2",), (), ("logged",), ("hunter2",)]:
        fresh = TextMasker(Redactor(username=None, hostname=None), Reads())
        assert masker.find(frame, None, known) == fresh.find(frame, None, known)
    assert known_value_spans("user hunter2 logged in", ("hunter2",))
