"""A line's earlier reading taken over where its pixels are the same, shifted or not
(policy/line_reuse.py, TextMasker with a fake and the real Tesseract)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from workprint.policy.line_reuse import Plan, Source, caret_only, plan
from workprint.policy.redact_pixels import TesseractOcr, TextMasker, Word, to_ocr_gray, upscale
from workprint.policy.redact_text import Redactor

SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
real_ocr = pytest.mark.skipif(not (shutil.which("tesseract") and SANS.exists()),
                              reason="needs tesseract-ocr and fonts-dejavu-core")


def glyphs(n: int, seed: int, h: int = 14) -> np.ndarray:
    """``n`` distinct 'glyphs' (5 columns of ink patterns, 2 blank) on white."""
    rng = np.random.default_rng(seed)
    out = np.full((h, 7 * n), 255, dtype=np.uint8)
    for i in range(n):
        out[2:h - 2, 7 * i:7 * i + 5] = rng.integers(0, 200, size=(h - 4, 5))
    return out


def line(*parts: np.ndarray, gap: int = 8, lead: int = 2) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Words (glyph runs) separated by ``gap`` white columns; returns the crop and each
    word's (x0, x1)."""
    h = parts[0].shape[0]
    cols, spans, x = [np.full((h, lead), 255, np.uint8)], [], lead
    for p in parts:
        spans.append((x, x + p.shape[1] - 2))   # the last 2 columns are blank
        cols += [p, np.full((h, gap), 255, np.uint8)]
        x += p.shape[1] + gap
    return np.hstack(cols), spans


def check(p: Plan, new: np.ndarray, sources: list[Source], margin: int) -> None:
    """What any plan must hold: spans and kept parts tile the crop; each kept part is
    the source's pixels; no source word is cut by a kept part's edge; margins hold."""
    w = new.shape[1]
    parts = sorted([(a, b) for a, b in p.spans] + [(a, b) for a, b, _, _ in p.kept])
    assert parts[0][0] == 0 and parts[-1][1] == w
    assert all(x[1] == y[0] for x, y in zip(parts, parts[1:]))
    for a, b, si, d in p.kept:
        old = sources[si].crop
        assert np.array_equal(new[:, a:b], old[:, a - d:b - d])
        lo, hi, ow = max(0, a - margin), min(w, b + margin), old.shape[1]
        # a margin of the same pixels, unless the old crop ends there and the new one
        # ends too or goes on with the old crop's flat edge column
        if a - d == 0 and len(set(old[:, 0].tolist())) == 1:
            assert (new[:, lo:a] == old[0, 0]).all()
        elif not (a == 0 and a - d == 0):
            assert lo - d >= 0 and np.array_equal(new[:, lo:a], old[:, lo - d:a - d])
        if b - d == ow and len(set(old[:, -1].tolist())) == 1:
            assert (new[:, b:hi] == old[0, -1]).all()
        elif not (b == w and b - d == ow):
            assert hi - d <= ow and np.array_equal(new[:, b:hi], old[:, b - d:hi - d])
        for x0, x1 in sources[si].words:
            assert not (x0 + d < a < x1 + d) and not (x0 + d < b < x1 + d)
    for si, i, d in p.taken:
        x0, x1 = sources[si].words[i]
        assert any(s == si and dd == d and a <= x0 + d and x1 + d <= b for a, b, s, dd in p.kept)


def test_text_typed_before_a_line_keeps_the_shifted_words() -> None:
    w = [glyphs(4, s) for s in range(5)]
    old, spans = line(*w[1:])
    new, new_spans = line(w[0], *w[1:])          # a word typed at the start shifts the rest
    src = Source(old, tuple(spans))
    p = plan(new, [src], margin=4)
    assert p is not None
    check(p, new, [src], 4)
    d = new_spans[1][0] - spans[0][0]
    assert sorted(p.taken) == [(0, i, d) for i in range(4)]   # every old word, moved
    assert p.spans == ((0, d),)                   # the new word (up to the old crop), read alone


def test_a_glyph_typed_against_a_word_makes_it_read_again() -> None:
    w = [glyphs(4, s) for s in range(3)]
    old, spans = line(*w)
    glued = np.hstack([w[1], glyphs(1, 9)])                    # a key typed at the end of word 1
    new, _ = line(w[0], glued, w[2])
    src = Source(old, tuple(spans))
    p = plan(new, [src], margin=4)
    assert p is not None
    check(p, new, [src], 4)
    assert 1 not in {i for _, i, _ in p.taken}                 # the word that grew is read
    assert {i for _, i, _ in p.taken} == {0, 2}


def test_a_changed_pixel_inside_a_word_is_never_taken_over() -> None:
    w = [glyphs(4, s) for s in range(3)]
    old, spans = line(*w)
    new = old.copy()
    x0, x1 = spans[1]
    new[6, (x0 + x1) // 2] ^= 0x40                               # one pixel, same place
    src = Source(old, tuple(spans))
    p = plan(new, [src], margin=4)
    assert p is not None and {i for _, i, _ in p.taken} == {0, 2}
    check(p, new, [src], 4)


def test_nothing_in_common_reads_the_whole_line() -> None:
    old, spans = line(glyphs(6, 1), glyphs(6, 2))
    new, _ = line(glyphs(6, 3), glyphs(6, 4))
    assert plan(new, [Source(old, tuple(spans))]) is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=6), st.integers(0, 6), st.integers(0, 5),
       st.integers(0, 3), st.integers(0, 40))
def test_plans_only_keep_identical_pixels(sizes: list[int], at: int, insert: int, delete: int,
                                          blink: int) -> None:
    """Words of random glyphs; an edit inserts and deletes glyphs at a word and a 'cursor'
    bar may show: whatever the plan keeps is proven identical, the rest is read."""
    words = [glyphs(n, 10 + i) for i, n in enumerate(sizes)]
    old, spans = line(*words)
    at = min(at, len(words) - 1)
    edited = list(words)
    body = edited[at][:, :max(0, edited[at].shape[1] - 7 * delete)]
    edited[at] = np.hstack([glyphs(insert, 99), body]) if insert else body
    if edited[at].shape[1] == 0:
        del edited[at]
    new, _ = line(*edited) if edited else line(glyphs(1, 5))
    if blink and blink < new.shape[1]:
        new = new.copy()
        new[:, blink] = 0
    src = Source(old, tuple(spans))
    p = plan(new, [src], margin=4)
    if p is not None:
        check(p, new, [src], 4)


def test_a_caret_drawn_in_a_gap_is_no_change_but_a_typed_stem_is() -> None:
    old, spans = line(glyphs(4, 1, h=18), glyphs(4, 2, h=18))    # ink on rows 2..15
    gap = spans[0][1] + 4
    caret = old.copy()
    caret[1:18, gap:gap + 2] = 0                                  # full line height, solid
    assert caret_only(caret, old)
    stem = old.copy()
    stem[2:16, gap:gap + 1] = 0                                   # an l on the baseline
    assert not caret_only(stem, old)
    soft = caret.copy()
    soft[1:18, gap + 1] = 90                                      # an anti-aliased edge: a glyph
    assert not caret_only(soft, old)
    over = old.copy()
    over[1:18, spans[0][1] - 3:spans[0][1] - 1] = 0               # drawn over ink
    assert not caret_only(over, old)
    two = caret.copy()
    two[1:18, gap + 20:gap + 22] = 0
    assert not caret_only(two, old) and not caret_only(old, old)


def test_a_caret_over_a_glyph_is_no_change_only_when_taller_than_every_glyph() -> None:
    """A cursor drawn against a glyph hides a column or two of it and adds no text: the
    line without it stands for it, when the bar is one colour over every row of the line
    and the line's ink keeps 2 rows off its top and bottom (a bar taller than every
    glyph). Never the other way round: the line without the cursor shows what the bar
    hid."""
    old, spans = line(glyphs(4, 1, h=18), glyphs(4, 2, h=18))    # ink on rows 2..15
    x = spans[0][0] + 9                                           # inside the first word
    over = old.copy()
    over[:, x:x + 2] = 0
    assert caret_only(over, old)
    assert not caret_only(old, over)                              # the glyph shows again
    short = old.copy()
    short[1:18, x:x + 2] = 0                                      # not the line's whole height
    assert not caret_only(short, old)
    soft = over.copy()
    soft[:, x + 1] = 90                                           # an anti-aliased edge: a glyph
    assert not caret_only(soft, old)
    tall = old.copy()
    tall[1:17, spans[1][0]:spans[1][0] + 3] = 40                  # a glyph of the line reaches row 1
    assert not caret_only(np.where(np.arange(tall.shape[1]) == x, 0, tall), tall)
    wide = old.copy()
    wide[:, x:x + 4] = 0                                          # wider than a cursor
    assert not caret_only(wide, old)


# --- the masker ---------------------------------------------------------------------------

class RunOcr:
    """Fake OCR for glyph lines: a word per run of non-white columns (gaps of 4+ white
    columns), its text the digest of its pixels (so equal words read equal)."""

    def __init__(self) -> None:
        self.widths: list[int] = []

    def words(self, image: np.ndarray) -> list[Word]:
        self.widths.append(image.shape[1])
        ink = (image < 250).any(axis=0)
        out, x, w = [], 0, len(ink)
        while x < w:
            if not ink[x]:
                x += 1
                continue
            s, blank = x, 0
            while x < w and blank < 4:
                blank = 0 if ink[x] else blank + 1
                x += 1
            e = x - blank
            rows = np.flatnonzero((image[:, s:e] < 250).any(axis=1))
            text = f"w{abs(hash(image[rows[0]:rows[-1] + 1, s:e].tobytes())) % 10**6}"
            out.append(Word(text, s, int(rows[0]), e - s, int(rows[-1] - rows[0] + 1), 90.0))
        return out


def _screen(crop: np.ndarray, x: int = 40, y: int = 30) -> np.ndarray:
    g = np.full((120, 700), 255, dtype=np.uint8)
    g[y:y + crop.shape[0], x:x + crop.shape[1]] = crop
    g32 = g.astype(np.uint32)
    return 0xFF000000 | (g32 << 16) | (g32 << 8) | g32


def test_masker_reads_only_the_new_part_of_an_edited_line() -> None:
    w = [glyphs(6, s) for s in range(8)]
    ocr = RunOcr()
    masker = TextMasker(Redactor(username=None, hostname=None), ocr, scale=1)
    old_line, _ = line(*w[1:])
    masker.find(_screen(old_line))
    first = ocr.widths[-1]
    before = {wd.text: wd for wd in masker._words}
    new_line, _ = line(*w)                       # a word typed at the start
    masker.find(_screen(new_line), regions=[(0, 0, 700, 120)])
    assert masker.partial_reads == 1
    assert ocr.widths[-1] < 0.3 * first          # the typed word (and its margin) only
    after = {wd.text: wd for wd in masker._words}
    shift = 7 * 6 + 8
    for text, wd in before.items():              # old words, moved with the line
        assert (after[text].x, after[text].y, after[text].w) == (wd.x + shift, wd.y, wd.w)
    assert len(after) == len(before) + 1


def test_masker_edits_a_line_whose_segment_was_found_with_numpy_ints(monkeypatch) -> None:
    """The finder's band arithmetic can give numpy ints (a replayed bench session did):
    a segment keeps plain ints, so the partial read of an edited line does not stop
    the OCR thread (``int.to_bytes`` of a span's width)."""
    from workprint.policy import text_lines

    real = text_lines.find_segments

    def numpy_found(*args, **kwargs):
        return [text_lines.Segment(np.int64(s.x), np.int64(s.y), np.int64(s.w), np.int64(s.h),
                                   np.int64(s.text_h)) for s in real(*args, **kwargs)]

    monkeypatch.setattr(text_lines, "find_segments", numpy_found)
    w = [glyphs(6, s) for s in range(8)]
    ocr = RunOcr()
    masker = TextMasker(Redactor(username=None, hostname=None), ocr, scale=1)
    masker.find(_screen(line(*w[1:])[0]))
    masker.find(_screen(line(*w)[0]), regions=[(0, 0, 700, 120)])
    assert masker.partial_reads == 1
    assert all(type(v) is int for wd in masker._words for v in (wd.x, wd.y, wd.w, wd.h))


class SpaceInsideOcr(RunOcr):
    """RunOcr that also breaks a word at a single blank column (Tesseract's space inside
    a token drawn in small type); glyphs are two blank columns apart."""

    def words(self, image: np.ndarray) -> list[Word]:
        out = []
        for wd in super().words(image):
            ink = (image[:, wd.x:wd.x + wd.w] < 250).any(axis=0)
            cuts = [i for i in range(1, len(ink) - 1) if not ink[i] and ink[i - 1] and ink[i + 1]]
            edges = [0] + cuts + [len(ink)]
            for a, b in zip(edges, edges[1:]):
                a += int(not ink[a])
                out.append(Word(f"{wd.text}.{a}", wd.x + a, wd.y, b - a, wd.h, wd.conf))
        return out


def test_a_word_read_right_against_one_taken_over_is_joined_to_it() -> None:
    """OCR read a token as two words (a space where none is); the token changes after its
    first part: that part is taken over and the rest read alone - the two are one word
    (two short words would not look like a token)."""
    head, tail = glyphs(6, 21), glyphs(8, 22)
    new_tail = np.hstack([tail[:, :21], glyphs(5, 23)])  # the same first three glyphs
    def token_line(t: np.ndarray) -> np.ndarray:
        return line(glyphs(5, 20), np.hstack([head[:, :-1], t]))[0]  # one blank column between
    ocr = SpaceInsideOcr()
    masker = TextMasker(Redactor(username=None, hostname=None), ocr, scale=1)
    masker.find(_screen(token_line(tail)))
    assert len(masker._words) == 3                            # the token read as two words
    masker.find(_screen(token_line(new_tail)), regions=[(0, 0, 700, 120)])
    assert masker.partial_reads == 1
    words = sorted(masker._words, key=lambda w: w.x)
    assert len(words) == 2                                    # 'Bearer' and the token, whole
    x0 = 40 + 2 + 35 + 8                                      # where the token starts on screen
    assert words[1].x <= x0 + 1 and words[1].x + words[1].w >= x0 + head.shape[1] + new_tail.shape[1] - 4


def test_masker_takes_a_line_with_a_caret_for_the_line_without() -> None:
    ocr = RunOcr()
    masker = TextMasker(Redactor(username=None, hostname=None), ocr, scale=1)
    text, spans = line(glyphs(6, 1, h=18), glyphs(6, 2, h=18), glyphs(6, 3, h=18))
    masker.find(_screen(text))
    words, calls = sorted(masker._words, key=lambda w: w.x), len(ocr.widths)
    blink = text.copy()
    blink[0:18, spans[1][1] + 4:spans[1][1] + 6] = 0          # the caret shows after word 2
    for _ in range(3):                                          # on, off, on
        masker.find(_screen(blink), regions=[(0, 0, 700, 120)])
        masker.find(_screen(text), regions=[(0, 0, 700, 120)])
    assert len(ocr.widths) == calls and masker.caret_reads == 1  # then from the read cache
    assert sorted(masker._words, key=lambda w: w.x) == words


def test_masker_takes_a_line_for_the_line_with_a_caret_over_a_glyph() -> None:
    ocr = RunOcr()
    masker = TextMasker(Redactor(username=None, hostname=None), ocr, scale=1)
    text, spans = line(glyphs(6, 1, h=18), glyphs(6, 2, h=18), glyphs(6, 3, h=18))
    masker.find(_screen(text))
    words, calls = sorted(masker._words, key=lambda w: w.x), len(ocr.widths)
    blink = _screen(text)
    x = 40 + spans[1][0] + 10                                     # inside word 2 (at x 40 on screen)
    blink[30 - 6:30 + 18 + 6, x:x + 2] = 0xFF000000               # a cursor taller than the glyphs
    masker.find(blink, regions=[(0, 0, 700, 120)])
    assert len(ocr.widths) == calls and masker.caret_reads == 1
    assert sorted(masker._words, key=lambda w: w.x) == words
    masker.find(_screen(text), regions=[(0, 0, 700, 120)])      # off again: from the read cache
    assert len(ocr.widths) == calls


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(username="jdoe", hostname="box17")


def _draw(text: str, size: int = 13, h: int = 24) -> np.ndarray:
    """``text`` rendered on white, 4 px of white before and after it."""
    font = ImageFont.truetype(str(SANS), size)
    img = Image.new("L", (int(font.getlength(text)) + 8, h), 255)
    ImageDraw.Draw(img).text((4, 4), text, font=font, fill=0)
    return np.asarray(img)


def _row(*parts: np.ndarray, gap: int = 6) -> np.ndarray:
    h = parts[0].shape[0]
    out = [np.full((h, 4), 255, np.uint8)]
    for p in parts:
        out += [p, np.full((h, gap), 255, np.uint8)]
    return np.hstack(out)


def _on_screen(crop: np.ndarray) -> np.ndarray:
    g = np.full((200, 800), 250, dtype=np.uint8)
    g[60:60 + crop.shape[0], 100:100 + crop.shape[1]] = crop
    g32 = g.astype(np.uint32)
    return 0xFF000000 | (g32 << 16) | (g32 << 8) | g32


def _read_back(px: np.ndarray) -> str:
    gray = to_ocr_gray(px[50:100, 90:790])
    return " ".join(w.text for w in TesseractOcr(psm=6).words(upscale(gray, 2))).replace(" ", "")


@real_ocr
def test_real_tesseract_a_key_completed_in_a_field_is_read_whole_and_masked(redactor: Redactor) -> None:
    """A key typed on to the end of a line: its first part was read before, alone; the
    glyphs typed against it make the whole word read again, so the key is masked."""
    masker = TextMasker(redactor)
    masker.find(_on_screen(_row(_draw("cd /srv/app && export KEY=AKIAIOSF"))))
    full = _on_screen(_row(_draw("cd /srv/app && export KEY=AKIAIOSFODNN7EXAMPLE")))
    assert "AKIAIOSFODNN7EXAMPLE" in _read_back(full)          # OCR can read it: can fail
    out = masker.mask(full, regions=[(0, 0, 800, 200)])
    assert masker.partial_reads == 1                           # 'cd /srv/app' was taken over
    after = _read_back(out)
    assert "AKIA" not in after and "EXAMPLE" not in after and "export" in after


@real_ocr
def test_real_tesseract_words_moved_by_typing_stay_masked(redactor: Redactor) -> None:
    """Text typed at the start of a field moves a card number read before: its words are
    taken over, moved, and masked where they now are. A word typed into the middle of a
    line completes a known value with the word after it: both are masked."""
    masker = TextMasker(redactor)
    card, rest = _draw("4111 1111 1111 1111 pin"), _draw("7Qv93Zk ok")
    masker.find(_on_screen(_row(card, rest, gap=0)))          # one line (8 px between parts)
    parts = (_draw("Note:"), card, _draw("Plum"), rest)
    new_w = sum(p.shape[1] for p in parts)
    new = _on_screen(_row(*parts, gap=0))
    seen = _read_back(new)
    assert "4111111111111111" in seen and "Plum7Qv93Zk" in seen
    calls = masker.ocr_calls
    out = masker.mask(new, regions=[(0, 0, 800, 200)], known_values=["Plum7Qv93Zk"])
    assert masker.partial_reads == 1 and masker.ocr_calls - calls == 2   # 'Note:', 'Plum'
    after = _read_back(out)
    for gone in ("4111", "1111", "Plum", "7Qv93Zk"):
        assert gone not in after
    note_w, ok_x = _draw("Note:").shape[1], 100 + 4 + new_w - 12
    assert np.array_equal(out[60:84, 100:100 + note_w], new[60:84, 100:100 + note_w])  # kept
    assert np.array_equal(out[60:84, ok_x:ok_x + 12], new[60:84, ok_x:ok_x + 12])


# --- a line read before, found again inside a taller segment (a field with its sides) -----

def _field_screen(text: np.ndarray, *, x: int = 40, y: int = 30) -> np.ndarray:
    """``text`` (white ground) at ``x, y`` of a grey screen, inside a white field with a
    dark 1-pixel outline 6 rows above and below it and 4 columns beside it."""
    g = np.full((120, 700), 217, dtype=np.uint8)
    h, w = text.shape
    g[y - 6:y + h + 6, x - 4:x + w + 4] = 80                 # the outline
    g[y - 5:y + h + 5, x - 3:x + w + 3] = 255                # the field
    g[y:y + h, x:x + w] = text
    return g


def test_masker_reads_a_field_found_with_its_sides_as_its_line_read_before() -> None:
    """The finder gives a field's text rows, or - when the box that changed holds the
    field's sides - the field with them: the second is the line read before and nothing
    else (ground and the field's outline round it), so it is not read again."""
    from workprint.policy.text_lines import Segment

    ocr = RunOcr()
    masker = TextMasker(Redactor(username=None, hostname=None), ocr, scale=1, glyphs=False)
    text, _ = line(glyphs(6, 1), glyphs(6, 2))
    gray = _field_screen(text)
    h, w = text.shape
    inner = Segment(38, 28, w + 4, h + 4)                    # the text rows, a pad round them
    first = masker._read(gray, inner)
    calls = len(ocr.widths)
    outer = Segment(33, 21, w + 14, h + 18)                  # the field with its outline and ground
    got = masker._read(gray, outer)
    assert len(ocr.widths) == calls and masker.inner_reads == 1
    assert sorted((wd.text, wd.x, wd.y, wd.w, wd.h) for wd in got) == \
        sorted((wd.text, wd.x, wd.y, wd.w, wd.h) for wd in first)


@pytest.mark.parametrize("where", ["above", "beside", "corner", "faint"])
def test_masker_reads_the_taller_segment_when_anything_else_shows_in_it(where: str) -> None:
    """A glyph above the line (a label over the field), beside it, in a corner, or one
    grey level off the field's white: the taller segment is read, never taken for the line."""
    from workprint.policy.text_lines import Segment

    ocr = RunOcr()
    masker = TextMasker(Redactor(username=None, hostname=None), ocr, scale=1, glyphs=False)
    text, _ = line(glyphs(6, 1), glyphs(6, 2))
    gray = _field_screen(text)
    h, w = text.shape
    masker._read(gray, Segment(38, 28, w + 4, h + 4))
    calls = len(ocr.widths)
    # (the line's segment: rows 28-45, columns 38-...; the taller one from row 21, column 33)
    y, x = {"above": (23, 60), "beside": (32, 35), "corner": (23, 35), "faint": (47, 70)}[where]
    gray[y:y + 2, x:x + 2] = 254 if where == "faint" else 0
    masker._read(gray, Segment(33, 21, w + 14, h + 18))
    assert len(ocr.widths) == calls + 1 and masker.inner_reads == 0
