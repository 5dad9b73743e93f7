"""Lines read again from the glyphs OCR read at the same place (policy.glyphs)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageDraw, ImageFont, features

from workprint.policy.glyphs import CONFIRMED, MARGIN, GlyphReader, glyph_runs
from workprint.policy.redact_pixels import TextMasker, Word
from workprint.policy.redact_text import Redactor

FONTS = Path("/usr/share/fonts/truetype/dejavu")
pytestmark = pytest.mark.skipif(not (FONTS / "DejaVuSans.ttf").exists(), reason="fonts-dejavu-core")
Y = 100  # the screen row of every line's crop below (one place)


def font(size: int = 13, mono: bool = True) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / ("DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf")), size)


def draw(text: str, f: ImageFont.FreeTypeFont | None = None, *, width: int = 0, ground: int = 255,
         ink: int = 0, x0: int = 3) -> tuple[np.ndarray, list[Word]]:
    """A line as a toolkit draws it at whole pixels (each glyph at a whole column), its
    crop with a column of ground each side beyond the line, and each word's ink box
    relative to the line (what OCR reads, exactly)."""
    f = f or font()
    asc, desc = f.getmetrics()
    h = asc + desc + 4
    width = width or x0 + 8 + sum(round(f.getlength(c)) for c in text)
    img = Image.new("L", (width, h), ground)
    d = ImageDraw.Draw(img)
    x = x0
    boxes: list[list] = []
    for word_start, c in _chars(text):
        if c != " ":
            d.text((x, 2), c, font=f, fill=ink)
            b = d.textbbox((x, 2), c, font=f)
            if word_start or not boxes:
                boxes.append([c, b[0], b[1], b[2], b[3]])
            else:
                wb = boxes[-1]
                wb[0] += c
                wb[1], wb[2], wb[3], wb[4] = min(wb[1], b[0]), min(wb[2], b[1]), max(wb[3], b[2]), max(wb[4], b[3])
        x += round(f.getlength(c))
    crop = np.asarray(img)
    return crop, [Word(t, x0_ - 1, y0, x1 - x0_, y1 - y0, 96.0) for t, x0_, y0, x1, y1 in boxes]


def _chars(text: str):
    prev = " "
    for c in text:
        yield prev == " ", c
        prev = c


def learn(reader: GlyphReader, *texts: str, times: int = CONFIRMED, **kw) -> None:
    for _ in range(times):
        for t in texts:
            crop, words = draw(t, **kw)
            reader.learn(crop, Y, 1, crop.shape[1] - 2, words)


def read(reader: GlyphReader, text: str, y: int = Y, **kw):
    crop, _ = draw(text, **kw)
    return reader.read(crop, y, 1, crop.shape[1] - 2)


ALL = "0123456789 abcdefghijklm nopqrstuvwxyz ABCDEFGHIJKLM NOPQRSTUVWXYZ @.-_:"
#: lines whose words put most glyphs side by side with several others: how far apart two
#: glyphs stand in a word is then known for pairs never read side by side too
TEXTS = (ALL, "9876543210 1357924680 2468013579", "The quick brown fox jumps over the lazy dog",
         "PACK MY BOX WITH FIVE DOZEN LIQUOR JUGS", "Invoice 1042 paid to jdoe at example.com",
         "a-b c_d e:f 12:30 x.y z@w", "Sphinx of black quartz, judge my vow")


def test_a_line_of_glyphs_read_before_reads_as_ocr_read_them() -> None:
    reader = GlyphReader()
    learn(reader, *TEXTS, "Invoice 1042 paid", "to jdoe at example")
    for text in ("4111 1111 1111 1111", "paid to jdoe", "example 1042 paid"):
        got = read(reader, text)
        assert got is not None, text
        assert " ".join(w.text for w in got) == text
        _, truth = draw(text)
        for w, t in zip(got, truth):  # each box holds all of its word's ink
            assert w.x <= t.x and w.x + w.w >= t.x + t.w and w.y <= t.y and w.y + w.h >= t.y + t.h


def test_glyphs_that_touch_are_learnt_from_the_rest_of_their_word() -> None:
    """'@' and 'e' touch (one run of ink): a word whose other glyphs are known tells
    what the run shows; a word with two unknown runs teaches nothing."""
    reader = GlyphReader()
    learn(reader, *TEXTS, "to jdoe at example")
    crop, _ = draw("jdoe@example")
    runs = glyph_runs(crop)[1]
    assert len(runs) < len("jdoe@example")             # glyphs that touch
    assert read(reader, "jdoe@example") is None
    learn(reader, "jdoe@example")
    got = read(reader, "jdoe@example")
    assert got is not None and got[0].text == "jdoe@example"
    assert read(reader, "ma@example") is not None
    learn(reader, "%%a&&")                                 # two runs never seen: nothing learnt
    assert read(reader, "%%a&&") is None


def test_a_glyph_read_once_is_not_read_from() -> None:
    reader = GlyphReader()
    learn(reader, ALL, times=1)  # each glyph read once
    assert read(reader, "1042") is None
    learn(reader, "1042", times=CONFIRMED - 1)
    assert read(reader, "1042") is not None


def _text(words) -> str | None:
    return None if words is None else " ".join(w.text for w in words)


def test_a_glyph_read_as_two_characters_is_read_only_as_one_far_ahead() -> None:
    """OCR misreading a glyph once does not stop it from being read as what OCR read
    many times; misread often enough that neither reading is far ahead (``MARGIN``),
    the glyph is not read from until the right one is again."""
    reader = GlyphReader()
    learn(reader, *TEXTS, "Invoice 1042")
    crop, words = draw("Invoice 1042")
    misread = [words[0], Word("lO42", *words[1].rect[:4], conf=96.0)]  # the 1 and the 0 as l and O
    reader.learn(crop, Y, 1, crop.shape[1] - 2, misread)
    assert _text(read(reader, "Invoice 1042")) == "Invoice 1042"
    wrong = 1
    while read(reader, "1042") is not None:
        reader.learn(crop, Y, 1, crop.shape[1] - 2, misread)
        wrong += 1
        assert wrong < 10
    assert wrong > 1
    assert read(reader, "2041") is None  # the 1 and the 0 wherever they stand
    assert _text(read(reader, "Invoice 2")) == "Invoice 2"  # the other glyphs are read as before
    right = 0
    while read(reader, "1042") is None:
        learn(reader, "Invoice 1042", times=1)
        right += 1
        assert right < 10 * MARGIN * wrong
    assert _text(read(reader, "Invoice 2041")) == "Invoice 2041"


def test_a_glyph_read_as_two_characters_from_the_start_waits_for_one_far_ahead() -> None:
    reader = GlyphReader()
    learn(reader, *TEXTS)
    crop, words = draw("Invoice 7#7")
    for text in ("7H7", "7#7", "7H7", "7#7"):  # a glyph never read before, read as H and #
        reader.learn(crop, Y, 1, crop.shape[1] - 2, [words[0], Word(text, *words[1].rect[:4], conf=96.0)])
        assert read(reader, "Invoice 7#7") is None
    for _ in range(CONFIRMED + MARGIN * 2 - 2 - 1):  # read right twice so far: one short of far ahead
        reader.learn(crop, Y, 1, crop.shape[1] - 2, words)
        assert read(reader, "Invoice 7#7") is None
    reader.learn(crop, Y, 1, crop.shape[1] - 2, words)
    assert _text(read(reader, "Invoice 7#7")) == "Invoice 7#7"


def test_a_colon_and_a_semicolon_ocr_takes_for_one_another_are_read_as_read_more_often() -> None:
    """The masker's rules take ``:`` and ``;`` alike (a prompt's colon read as ``;``):
    a glyph read as both is read as the one read more often, however close."""
    reader = GlyphReader()
    learn(reader, *TEXTS)
    crop, words = draw("e;f 12;30")
    colon = [Word(w.text.replace(";", ":"), *w.rect[:4], conf=96.0) for w in words]
    for _ in range(3):
        reader.learn(crop, Y, 1, crop.shape[1] - 2, colon)
    assert _text(read(reader, "f;e 30;12")) == "f:e 30:12"
    for _ in range(4):
        reader.learn(crop, Y, 1, crop.shape[1] - 2, words)
    assert _text(read(reader, "f;e 30;12")) == "f;e 30;12"
    comma = [Word(w.text.replace(";", ","), *w.rect[:4], conf=96.0) for w in words]
    reader.learn(crop, Y, 1, crop.shape[1] - 2, comma)
    reader.learn(crop, Y, 1, crop.shape[1] - 2, comma)
    assert read(reader, "f;e 30;12") is None  # a comma is not taken alike: nothing far ahead


def test_a_word_of_one_or_two_characters_teaches_but_does_not_overrule() -> None:
    """OCR reading a glyph or two alone misreads them more often: such a reading does not
    stop a glyph read the same way twice from being used; it does teach a new one."""
    reader = GlyphReader()
    learn(reader, *TEXTS, "Invoice 1042", "Paid 2410")
    crop, words = draw("Invoice 10")
    words[1] = Word("lO", *words[1].rect[:4], conf=96.0)
    reader.learn(crop, Y, 1, crop.shape[1] - 2, words)
    got = read(reader, "Invoice 1042")
    assert got is not None and got[1].text == "1042"
    assert read(reader, "##") is None
    learn(reader, "Invoice ##")
    got = read(reader, "##")
    assert got is not None and got[0].text == "##"


def test_an_unknown_glyph_font_or_ground_goes_to_ocr() -> None:
    reader = GlyphReader()
    learn(reader, *TEXTS, "0123456789 abc")
    assert read(reader, "2718 cab") is not None
    assert read(reader, "2718 ca%") is None           # % never read
    assert read(reader, "2718 cab", y=Y + 200) is None  # nothing read on these rows
    assert read(reader, "2718", ground=250) is None   # nor on this ground
    assert read(reader, "2718", f=font(14)) is None   # nor in this font


def _joined(left: np.ndarray, right: np.ndarray, gap: int) -> np.ndarray:
    """Two lines' crops side by side, ``gap`` blank columns between their ink."""
    a = np.flatnonzero((left < 200).any(axis=0))[-1] + 1   # strokes, not their fringes
    b = np.flatnonzero((right < 200).any(axis=0))[0]
    return np.concatenate([left[:, :a], np.full((left.shape[0], gap), 255, np.uint8), right[:, b:],
                           ], axis=1)


def test_a_gap_neither_inside_a_word_nor_a_space_goes_to_ocr() -> None:
    reader = GlyphReader()
    learn(reader, "12 34", "1234", "56 78")
    left, right = draw("12")[0], draw("34")[0]
    inside = reader._spacing.inside(*_run_keys(_joined(left, right, 50))[1:3])  # of 2 and 3
    assert inside is not None
    pair, group = inside
    space = reader._spacing.space(group)
    assert space is not None and space >= 2
    for gap, want in ((pair + space, "12 34"), (pair + space + 5, "12 34"), (pair, "1234")):
        line = _joined(left, right, gap)
        got = reader.read(line, Y, 1, line.shape[1] - 2)
        assert got is not None and " ".join(w.text for w in got) == want, gap
    for gap in [g for g in range(1, pair + space) if g != pair]:  # neither: OCR reads it
        line = _joined(left, right, gap)
        assert reader.read(line, Y, 1, line.shape[1] - 2) is None, gap


def _run_keys(crop: np.ndarray) -> list[bytes]:
    from workprint.policy.glyphs import _keys
    ground, runs = glyph_runs(crop)
    return _keys(runs, ground)[0]


#: proportional faces (and one monospaced) as X draws them: in some, two glyphs never read
#: side by side (1 and 1) stand farther apart than any two read inside a word
FACES = [FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSerif.ttf", FONTS / "DejaVuSansMono.ttf"] + [
    Path("/usr/share/fonts/opentype/urw-base35") / f"{n}.otf"
    for n in ("URWGothic-Book", "NimbusSans-Regular", "NimbusRoman-Regular", "URWBookman-Light",
              "NimbusSans-Italic", "P052-Roman")]


def test_glyphs_never_read_side_by_side_are_not_parted_by_a_space() -> None:
    """A card whose 1s were only ever read apart ("code 4 1 7 9") or beside other digits:
    read from glyphs, it is read as it is drawn (one word per group) or not at all - never
    "4 1 1 1 ..." (no rule finds a card in single digits). In URW Gothic two 1s stand
    farther apart than any two glyphs read inside a word, and as far as a space."""
    missing = [f for f in FACES if not f.exists()]
    assert not missing, f"{missing}: scripts/setup.sh installs fonts-dejavu-core and fonts-urw-base35"
    reads = {}
    for face in FACES:
        for size in (9, 12, 13, 15, 16):
            f = ImageFont.truetype(str(face), size)
            reader = GlyphReader()
            learn(reader, *TEXTS, "Invoice 1042 paid", "ref 3957 total 8620", "code 4 1 7 9", "order 2019 of 7483",
                  f=f)
            for text in ("4111 1111 1111 1111", "1111", "11 11", "paid 1111", "7777 0000 3333", "10 01 11",
                         "code 1 1 1 1", "4 1 7 9", "1042 paid"):
                got = read(reader, text, f=f)
                if got is not None:
                    reads[face.stem] = reads.get(face.stem, 0) + 1
                    assert " ".join(w.text for w in got) == text, (face.stem, size)
    assert len(reads) >= len(FACES) - 1, reads  # lines were read from glyphs in (nearly) every face


def draw_kerned(text: str, f: ImageFont.FreeTypeFont, x0: float = 3.0) -> tuple[np.ndarray, list[Word]]:
    """A line drawn whole with kerning and fractional advances (HarfBuzz, as browsers and
    Qt lay text out), and each word's ink box."""
    asc, desc = f.getmetrics()
    img = Image.new("L", (int(x0 + 10 + f.getlength(text)), asc + desc + 4), 255)
    d = ImageDraw.Draw(img)
    d.text((x0, 2), text, font=f, fill=0)
    words = []
    for m in re.finditer(r"\S+", text):
        b = d.textbbox((x0 + f.getlength(text[:m.start()]), 2), m.group(), font=f)
        x = int(b[0]) - 1
        words.append(Word(m.group(), x, int(b[1]), int(round(b[2])) - x, int(b[3] - b[1]), 96.0))
    return np.asarray(img), words


def test_kerned_text_is_read_as_drawn_or_not_at_all() -> None:
    """Kerning pairs (AV, To, Ty) and advances of fractions of a pixel put two glyphs at
    gaps no single r(a) + l(b) explains: the groups whose equations disagree are not used,
    and what is still read from glyphs is read as drawn - never a card parted or words run
    together."""
    if not features.check("raqm"):
        pytest.fail("Pillow without libraqm: no kerned layout to draw with")
    lines = ("AVATAR Today Type 1111 4111 1111 1111 1111", "To Ty Yo Wa We Av LT P. F, 7. 11",
             "Tokyo Wave Yawn Vault", "4111 1111 1111 1111", "code 4 1 7 9", "AT&T Toyota Volvo")
    reads = 0
    for face in FACES:
        for size in (9, 13, 16):
            f = ImageFont.truetype(str(face), size, layout_engine=ImageFont.Layout.RAQM)
            reader = GlyphReader()
            for _ in range(3):
                for text in TEXTS + lines:
                    crop, words = draw_kerned(text, f)
                    reader.learn(crop, Y, 1, crop.shape[1] - 2, words)
            for text in lines + TEXTS + ("Invoice 1042 paid", "1111 4111", "Tokyo 1111"):
                crop, _ = draw_kerned(text, f)
                got = reader.read(crop, Y, 1, crop.shape[1] - 2)
                if got is not None:
                    reads += 1
                    assert " ".join(w.text for w in got) == text, (face.stem, size)
    assert reads, "nothing was read from glyphs: the test saw no kerned line read"


def test_a_glyph_cut_by_the_crop_or_a_ground_that_is_not_flat_goes_to_ocr() -> None:
    reader = GlyphReader()
    learn(reader, *TEXTS)
    crop, _ = draw("2718 cab")
    core = np.flatnonzero((crop < 128).any(axis=0))  # columns of the glyphs' strokes
    assert reader.read(crop, Y, 1, crop.shape[1] - 2) is not None
    cut = crop[:, core[0] + 1:]                    # the first glyph's first stroke is not in the crop
    assert reader.read(cut, Y, 0, cut.shape[1] - 1) is None
    edge = crop[:, core[0]:]                       # it starts at the crop's edge: it may go on beyond
    assert reader.read(edge, Y, 0, edge.shape[1] - 1) is None
    graded = crop.astype(np.int32) - np.linspace(0, 40, crop.shape[1]).astype(np.int32)[None, :]
    graded = np.clip(graded, 0, 255).astype(np.uint8)
    assert reader.read(graded, Y, 1, crop.shape[1] - 2) is None


def test_a_cursor_after_the_text_is_no_text_but_a_lone_bar_goes_to_ocr() -> None:
    reader = GlyphReader()
    learn(reader, *TEXTS)
    crop, _ = draw("2718 cab")
    ink = np.flatnonzero((crop != 255).any(axis=0))
    with_caret = crop.copy()
    with_caret[1:-1, ink[-1] + 3] = 0              # a caret: over the line's ascent and descent
    got = reader.read(with_caret, Y, 1, crop.shape[1] - 2)
    assert got is not None and " ".join(w.text for w in got) == "2718 cab"
    lone = np.full_like(crop, 255)
    lone[1:-1, 10] = 0
    assert reader.read(lone, Y, 1, crop.shape[1] - 2) is None
    short = crop.copy()
    runs = glyph_runs(crop)[1]
    short[min(r.top for r in runs):max(r.bottom for r in runs), ink[-1] + 3] = 0  # an l or a |?
    assert reader.read(short, Y, 1, crop.shape[1] - 2) is None


def test_a_word_box_over_two_words_teaches_nothing() -> None:
    """OCR's box of 'Count:' reached over the '0' after it: its six characters would
    have been given to the wrong glyphs (the 0 taught as ':')."""
    reader = GlyphReader()
    crop, words = draw("Count: 0")
    wide = Word(words[0].text, words[0].x, words[0].y, words[1].x + words[1].w - words[0].x, words[0].h, 96.0)
    for _ in range(3):
        reader.learn(crop, Y, 1, crop.shape[1] - 2, [wide, words[1]])
    assert not [k for k, v in reader._glyphs.items() if v is not None and v[0] == ":"]
    assert read(reader, "0") is None


def test_words_ocr_is_unsure_of_teach_nothing() -> None:
    reader = GlyphReader()
    crop, words = draw("1042")
    for _ in range(3):
        reader.learn(crop, Y, 1, crop.shape[1] - 2, [Word(w.text, *w.rect, conf=40.0) for w in words])
    assert reader._glyphs == {}


# --- through the masker, with Tesseract ----------------------------------------------------

def _screen(crop: np.ndarray, y: int = Y, x: int = 60) -> np.ndarray:
    g = np.full((300, 700), 255, dtype=np.uint8)
    g[y:y + crop.shape[0], x:x + crop.shape[1]] = crop
    g32 = g.astype(np.uint32)
    return 0xFF000000 | (g32 << 16) | (g32 << 8) | g32


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract")
def test_real_tesseract_a_card_typed_where_numbers_were_read_is_masked() -> None:
    """Numbers shown one after another in a field teach its glyphs; a card number shown
    there next is read from them - and masked - without OCR."""
    masker = TextMasker(Redactor(username=None, hostname=None), scale=None)
    f = font(14)
    groups = ["4031", "5926", "5358", "9793", "2384", "6264", "0288", "4592"]
    for i in range(len(groups)):  # each group in two different lines: its glyphs read twice
        masker.find(_screen(draw(f"Invoice {groups[i]} {groups[i - 1]}", f)[0]))
        masker.find(_screen(draw(f"Paid {groups[i - 3]} {groups[i]}", f)[0]))
    calls = masker.ocr_calls
    card = "5926 2384 0288 4592"  # groups shown before (glyphs that touch: "14" would be new)
    screen = _screen(draw(card, f)[0])
    hits = masker.find(screen)
    assert masker.ocr_calls == calls and masker.glyphs.reads >= 1  # read from glyphs
    assert " ".join(w.text for w in masker._words) == card
    masked = masker.mask(screen)
    ink = screen != screen[0, 0]
    assert hits and (masked[ink] == 0).all()  # every pixel of the card blacked out


def test_faint_text_beside_dark_text_is_never_left_out() -> None:
    """Columns of a faint fringe part glyphs; faint text standing apart from every dark
    glyph is not a fringe: the line goes to OCR (it would have been read without it)."""
    reader = GlyphReader()
    learn(reader, *TEXTS, "to jdoe at example")
    dark, _ = draw("1042 paid")
    faint, _ = draw("to jdoe", ink=225)                 # 30 levels off the ground
    line = np.concatenate([dark[:, :-6], faint[:, 3:]], axis=1)
    assert reader.read(dark, Y, 1, dark.shape[1] - 2) is not None
    assert reader.read(line, Y, 1, line.shape[1] - 2) is None


def test_a_field_border_around_the_text_is_no_glyph() -> None:
    """A field's border - a row of one colour across the crop, columns of one colour at
    its ends, faint or not - is a rule, not text: the line inside is read as without."""
    reader = GlyphReader()
    learn(reader, *TEXTS, "to jdoe at example")
    crop, _ = draw("1042 paid")
    for shade in (230, 140):
        boxed = crop.copy()
        boxed[0, :] = shade
        boxed[-1, :] = shade
        boxed[:, :2] = shade
        boxed[:, -1] = shade
        got = reader.read(boxed, Y, 1, boxed.shape[1] - 2)
        assert got is not None and " ".join(w.text for w in got) == "1042 paid", shade
    crossed = crop.copy()
    crossed[crop.shape[0] // 2, :] = 140  # a line through the glyphs changes them: OCR reads it
    assert reader.read(crossed, Y, 1, crossed.shape[1] - 2) is None


# --- the same runs and keys for less CPU (equal to the expressions they replace) ---------

@settings(max_examples=300, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(3, 12), st.integers(3, 24)),
              elements=st.sampled_from([0, 40, 200, 255])),
       st.integers(0, 255))
def test_runs_and_keys_are_the_pixels_numpy_lays_out(crop: np.ndarray, ground: int) -> None:
    """Each run's key bytes, ``solid`` and ``side`` as they were worked out before (numpy
    int16 fields, comparisons over its box): glyphs learnt stay glyphs read."""
    from workprint.policy.glyphs import _keys

    found = glyph_runs(crop)
    if found is None or not found[1]:
        return
    h = crop.shape[0]
    for r in found[1]:
        piece = crop[r.top:r.bottom, r.a:r.b]
        kt, kb = max(0, r.top - 1), min(h, r.bottom + 1)
        assert r.pixels == np.array([r.top - kt, kb - r.top, r.b - r.a], dtype=np.int16).tobytes() \
            + crop[kt:kb, r.a:r.b].tobytes()
        first = piece[0]
        assert r.solid == bool((first == first[0]).all() and (piece == first).all())
        assert r.side == (r.top == 0 and r.bottom == h and bool((piece == first).all()))
    keys, base = _keys(found[1], ground)
    assert keys == [np.array([ground, r.top - base], dtype=np.int16).tobytes() + r.pixels for r in found[1]]


def _state(reader: GlyphReader) -> tuple:
    return reader._glyphs, vars(reader._spacing), list(reader._places)


def test_a_line_ocr_reads_after_a_failed_read_is_learnt_as_from_a_fresh_look() -> None:
    """:meth:`GlyphReader.learn` takes the runs :meth:`~GlyphReader.read` found in the very
    same crop; another crop (even of the same size) is looked at afresh."""
    fresh, again = GlyphReader(), GlyphReader()
    learn(fresh, "abc 123", times=1)
    learn(again, "abc 123", times=1)
    for text in ("abc 123", "abd 124", "xyz 999"):
        crop, words = draw(text)
        assert again.read(crop, Y, 1, crop.shape[1] - 2) is None  # read once: OCR reads it
        again.learn(crop, Y, 1, crop.shape[1] - 2, words)
        fresh.learn(crop, Y, 1, crop.shape[1] - 2, words)
        assert _state(again) == _state(fresh)
    other, words = draw("abd 124")
    other = other.copy()
    other[:, 10:12] = 0                                       # the same size, other pixels
    again.learn(other, Y, 1, other.shape[1] - 2, words)
    fresh.learn(other, Y, 1, other.shape[1] - 2, words)
    assert _state(again) == _state(fresh)
