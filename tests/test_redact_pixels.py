"""Pixel safeguards: blackout, scope rectangles, OCR text masking (fake and real Tesseract)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from workprint.capture.backend import WindowInfo
from workprint.events import Geometry
from hypothesis import given, settings
from hypothesis import strategies as st

from workprint.policy.redact_pixels import (
    MaskedFrame, OcrError, TesseractOcr, TextMasker, Word, as_masked_frame, blackout, changed_regions,
    group_lines, close_punct_gaps, known_value_spans, merge_rects, ocr_token_spans, out_of_scope_rects,
    parse_tsv, private_key_lines, tile_masks,
)
from workprint.policy.redact_text import Redactor

MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
HAVE_TESSERACT = shutil.which("tesseract") is not None
real_ocr = pytest.mark.skipif(not (HAVE_TESSERACT and MONO.exists()),
                              reason="needs tesseract-ocr and fonts-dejavu-core")


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(username="jdoe", hostname="box17")


def to_bgrx(img: Image.Image) -> np.ndarray:
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint32)
    return (0xFF000000 | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]).astype(np.uint32)


def from_bgrx(px: np.ndarray) -> Image.Image:
    h, w = px.shape
    return Image.frombuffer("RGB", (w, h), np.ascontiguousarray(px).tobytes(), "raw", "BGRX", 0, 1)


def render_terminal(lines: list[str], *, width: int = 1920, height: int = 1080, size: int = 15,
                    bg: tuple[int, int, int] = (30, 30, 30), fg: tuple[int, int, int] = (220, 220, 220),
                    origin: tuple[int, int] = (8, 4)) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A terminal-like screenshot; returns pixels and each line's (top, bottom) rows."""
    font = ImageFont.truetype(str(MONO), size)
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    step = int(size * 1.4)
    rows = []
    for i, text in enumerate(lines):
        y = origin[1] + i * step
        draw.text((origin[0], y), text, font=font, fill=fg)
        rows.append((y, y + step))
    return to_bgrx(img), rows


# --- blackout / scope ---------------------------------------------------------------------

def test_blackout_paints_clipped_rects_on_a_copy() -> None:
    px = np.full((10, 20), 0xFF123456, dtype=np.uint32)
    before = px.copy()
    out = blackout(px, [(-5, -5, 8, 7), (18, 8, 10, 10), (100, 100, 5, 5)])
    assert np.array_equal(px, before)  # input untouched
    assert out is not px
    assert (out[0:2, 0:3] == 0).all() and (out[8:10, 18:20] == 0).all()
    assert int((out == 0).sum()) == 2 * 3 + 2 * 2
    assert blackout(px, []) is px and blackout(px, [(50, 50, 3, 3)]) is px


def test_tile_masks_cut_rects_into_tile_local_parts() -> None:
    # 50 x 30 screen, 16 px tiles: 4 columns (last 2 px wide), 2 rows (last 14 px high)
    masks = tile_masks([(10, 12, 10, 6), (-5, -5, 3, 3), (60, 0, 5, 5), (48, 28, 9, 9)], 50, 30, 16)
    assert masks == {
        (0, 0): ((10, 12, 6, 4),), (0, 1): ((0, 12, 4, 4),),
        (1, 0): ((10, 0, 6, 2),), (1, 1): ((0, 0, 4, 2),),
        (1, 3): ((0, 12, 2, 2),),
    }
    assert tile_masks([], 50, 30, 16) == {} and tile_masks([(0, 0, 0, 5)], 50, 30, 16) == {}


rects_st = st.lists(st.tuples(st.integers(-20, 80), st.integers(-20, 60), st.integers(-5, 60),
                              st.integers(-5, 40)), max_size=5)


@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 80), tile=st.sampled_from([7, 16, 32]), rects=rects_st)
def test_masked_frame_tiles_are_the_tiles_of_the_blacked_out_frame(h, w, tile, rects) -> None:
    px = (np.arange(h * w, dtype=np.uint32).reshape(h, w) * 2654435761) | 0x01010101
    before = px.copy()
    frame = MaskedFrame(px, rects)
    whole = blackout(px, rects)
    assert np.array_equal(frame.full(), whole)
    for r in range(-(-h // tile)):
        for c in range(-(-w // tile)):
            part = frame.tile(r, c, tile)
            assert np.array_equal(part, whole[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile])
            if (r, c) not in frame.masks(tile):
                assert not part.flags.writeable, "an untouched tile is a read-only view of the grab"
    assert np.array_equal(px, before), "the grab is never painted"


def test_as_masked_frame_wraps_a_plain_grab() -> None:
    px = np.ones((4, 4), dtype=np.uint32)
    frame = as_masked_frame(px)
    assert frame.pixels is px and frame.rects == () and frame.full() is px
    assert as_masked_frame(frame) is frame
    assert MaskedFrame(px, [(10, 10, 2, 2), (1, 1, 0, 3)]).rects == ()  # off-screen, empty


def _win(i: int, app: str, geo: Geometry | None) -> WindowInfo:
    return WindowInfo(window=i, app_id=app, app_instance=app, title=f"t{i}", geometry=geo)


def test_out_of_scope_rects_fail_closed() -> None:
    in_scope = lambda w: w.app_id == "code"  # noqa: E731
    wins = [_win(1, "chat", Geometry(0, 0, 800, 600)),       # bottom, out of scope
            _win(2, "code", Geometry(100, 100, 800, 600)),   # covers part of it
            _win(3, "empty", Geometry(5, 5, 0, 0))]          # zero-sized: shows nothing
    assert out_of_scope_rects(wins, in_scope) == [(0, 0, 800, 600)]
    assert out_of_scope_rects(wins[1:2], in_scope) == []
    assert out_of_scope_rects(wins + [_win(4, "code", None)], in_scope) is None
    assert out_of_scope_rects([_win(5, "code", Geometry(0, 0, -3, 10))], in_scope) is None


def test_changed_regions_and_merge() -> None:
    a = np.zeros((512, 1024), dtype=np.uint32)
    b = a.copy()
    b[10, 10] = 1
    b[10, 140] = 1      # neighbouring tile: merged with the first
    b[400, 900] = 1     # far away: its own box
    assert changed_regions(None, b) is None
    assert changed_regions(a, a) == []
    assert changed_regions(a, b) == [(0, 0, 256, 128), (896, 384, 128, 128)]
    assert merge_rects([(0, 0, 10, 10), (30, 0, 10, 10)], gap=5) == [(0, 0, 10, 10), (30, 0, 10, 10)]
    assert merge_rects([(0, 0, 10, 10), (30, 0, 10, 10)], gap=25) == [(0, 0, 40, 10)]


# --- text -> boxes with a fake OCR engine ---------------------------------------------------

class PatchOcr:
    """Fake OCR: each word is a patch of vertical strokes (2 px of a unique gray level,
    3 px of white) on a white screen, so the masker's text detector sees word-like ink;
    it is 'read' wherever that level shows up in the image the masker hands over, so
    crops, polarity flips and scaling are all exercised."""

    def __init__(self) -> None:
        self.levels: dict[int, str] = {}
        self.images: list[np.ndarray] = []

    def draw(self, px: np.ndarray, text: str, x: int, y: int, w: int, h: int = 12) -> Word:
        level = 20 + 3 * len(self.levels)
        assert level < 250
        self.levels[level] = text
        stroke = (np.arange(w) % 5) < 2
        stroke[-2:] = True  # the word ends in ink: its box ends where the word does
        block = px[y:y + h, x:x + w]
        block[:, stroke] = 0xFF000000 | (level << 16) | (level << 8) | level
        return Word(text, x, y, w, h)

    def words(self, image: np.ndarray) -> list[Word]:
        self.images.append(image)
        out = []
        for level, text in self.levels.items():
            # the masker may hand the patch over inverted (it reads a mostly dark crop as
            # light text on a dark ground)
            ys, xs = np.nonzero((image == level) | (image == 255 - level))
            if len(xs):
                out.append(Word(text, int(xs.min()), int(ys.min()),
                                int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1), 90.0))
        return out


def white(h: int = 400, w: int = 800) -> np.ndarray:
    return np.full((h, w), 0xFFFFFFFF, dtype=np.uint32)


def test_spans_map_to_word_boxes(redactor: Redactor) -> None:
    ocr, px = PatchOcr(), white()
    ocr.draw(px, "contact", 10, 10, 60)
    ocr.draw(px, "alice.smith@example.com", 80, 10, 200)
    ocr.draw(px, "today", 290, 10, 40)
    ocr.draw(px, "ordinary", 10, 40, 70)
    ocr.draw(px, "words", 90, 40, 50)
    masker = TextMasker(redactor, ocr, scale=1, pad=2)
    hits = masker.find(px)
    assert [(h.rect, h.entity) for h in hits] == [((80, 10, 200, 12), "EMAIL_ADDRESS")]
    out = masker.mask(px)
    assert (out[8:24, 78:282] == 0).all()                 # padded box is black
    assert np.array_equal(out[:, :76], px[:, :76])        # the rest is untouched
    assert np.array_equal(out[:, 284:], px[:, 284:])
    assert np.array_equal(out[26:], px[26:])


def test_secret_split_over_words_masks_every_word(redactor: Redactor) -> None:
    ocr, px = PatchOcr(), white()
    ocr.draw(px, "card", 10, 100, 40)
    for i, part in enumerate("4111 1111 1111 1111".split()):
        ocr.draw(px, part, 60 + 50 * i, 100, 40)
    ocr.draw(px, "ok", 300, 100, 20)
    hits = TextMasker(redactor, ocr, scale=1).find(px)
    # each word, and the gaps between them (a glyph OCR's boxes left out stays hidden)
    assert sorted(h.rect[0] for h in hits) == [60, 100, 110, 150, 160, 200, 210]
    assert {h.entity for h in hits} == {"CREDIT_CARD"}


def test_a_glyph_between_the_words_of_a_value_is_masked_with_them(redactor: Redactor) -> None:
    """Tesseract read a known password on a confirmation label in 9-px text as two words
    whose boxes left out the thin '!' between them: the value is masked from its first word to its last, gap and
    all; the words around it are not."""
    ocr, px = PatchOcr(), white()
    ocr.draw(px, "Confirmed:", 10, 100, 70)
    ocr.draw(px, "Quartz", 96, 100, 40)
    px[101:110, 142] = 0xFF000000                      # the '!' no word box holds
    ocr.draw(px, "!Moon46", 148, 100, 40)
    ocr.draw(px, "saved", 200, 100, 30)
    masker = TextMasker(redactor, ocr, scale=1)
    out = masker.mask(px, None, ["Quartz!Moon46"])
    assert (out[100:112, 96:188] == 0).all()
    assert np.array_equal(out[:, :90], px[:, :90]) and np.array_equal(out[:, 195:], px[:, 195:])


def test_dark_ground_and_scaling_map_back(redactor: Redactor) -> None:
    ocr = PatchOcr()
    px = np.full((300, 600), 0xFF101010, dtype=np.uint32)  # dark terminal
    word = ocr.draw(px, "AKIAIOSFODNN7EXAMPLE", 100, 200, 180)
    block = px[200:212, 100:280]
    block[block != 0xFF101010] = 0xFFDCDCDC  # light strokes on the dark ground
    ocr.levels = {0xDC: "AKIAIOSFODNN7EXAMPLE"}
    hits = TextMasker(redactor, ocr, scale=2).find(px)
    assert len(hits) == 1 and hits[0].entity == "AWS_ACCESS_KEY"
    x, y, w, h = hits[0].rect
    assert abs(x - word.x) <= 1 and abs(y - word.y) <= 1
    assert abs(w - word.w) <= 2 and abs(h - word.h) <= 2
    img = ocr.images[0]
    assert img.shape[0] >= 2 * 12 and img.shape[1] >= 2 * 180   # upscaled crop of the line
    assert img.size < px.size                                   # not the whole screen


def test_only_changed_regions_are_ocrd_and_old_hits_stay(redactor: Redactor) -> None:
    ocr, px = PatchOcr(), white(600, 1200)
    ocr.draw(px, "mail", 10, 10, 40)
    ocr.draw(px, "bob@example.org", 60, 10, 150)
    masker = TextMasker(redactor, ocr, scale=1)
    assert len(masker.find(px)) == 1
    px2 = px.copy()
    ocr.draw(px2, "token", 800, 500, 50)
    ocr.draw(px2, "ghp_abcdefghijklmnopqrstuvwxyz0123456789", 860, 500, 300)
    # the regions cover what changed (the token ends at x=1160), as the frame stage's do
    hits = masker.find(px2, regions=[(768, 480, 128, 40), (896, 480, 128, 40), (1024, 480, 128, 40),
                                     (1152, 480, 128, 40)])
    assert {h.entity for h in hits} == {"EMAIL_ADDRESS", "GITHUB_TOKEN"}  # old one still masked
    assert ocr.images[-1].size < 0.1 * px.size                              # small crop only
    out = masker.mask(px2, regions=[], known_values=())
    assert (out[10:22, 60:210] == 0).all() and (out[500:512, 860:1160] == 0).all()


def test_word_straddling_a_region_is_reread_whole(redactor: Redactor) -> None:
    ocr, px = PatchOcr(), white(600, 1200)
    ocr.draw(px, "password=", 100, 300, 90)
    masker = TextMasker(redactor, ocr, scale=1)
    assert masker.find(px) == []
    px2 = px.copy()
    ocr.draw(px2, "Sup3rSecretValue", 195, 300, 160)  # typed after the label
    # the changed tiles start at x=128: the label (x 100..190) is only half inside them
    hits = masker.find(px2, regions=[(128, 256, 256, 128)])
    assert [(h.rect, h.entity) for h in hits] == [((195, 300, 160, 12), "PASSWORD")]
    last = ocr.images[-1]
    assert last.shape[1] >= 255   # the crop holds the whole line, label included
    assert ("password=", 90) in {(w.text, w.w) for w in masker._words}


def test_known_values_and_private_keys(redactor: Redactor) -> None:
    ocr, px = PatchOcr(), white()
    ocr.draw(px, "echo", 10, 10, 40)
    ocr.draw(px, "correct-h0rse", 60, 10, 120)   # OCR read o as 0
    ocr.draw(px, "-----BEGIN", 10, 60, 90)
    ocr.draw(px, "OPENSSH", 110, 60, 60)
    ocr.draw(px, "PRIVATE", 180, 60, 60)
    ocr.draw(px, "KEY-----", 250, 60, 70)
    ocr.draw(px, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU", 10, 80, 280)
    ocr.draw(px, "pad", 10, 100, 30)        # a body line no text rule would catch
    ocr.draw(px, "-----END", 10, 120, 80)   # footer half-read
    ocr.draw(px, "after", 10, 140, 50)
    masker = TextMasker(redactor, ocr, scale=1)
    assert not any(h.rect[0] == 60 for h in masker.find(px))
    hits = masker.find(px, regions=[], known_values=["correct-horse"])
    assert (60, 10, 120, 12) in {h.rect for h in hits}
    rows = {h.rect[1] for h in hits}
    assert {60, 80, 100, 120} <= rows and 140 not in rows
    assert (10, 100, 30, 12) in {h.rect for h in hits if h.entity == "PRIVATE_KEY"}


def test_ocr_failure_propagates_and_resets(redactor: Redactor) -> None:
    class Broken:
        def words(self, image: np.ndarray) -> list[Word]:
            raise OcrError("boom")

    masker = TextMasker(redactor, Broken(), scale=1)
    px = white()
    PatchOcr().draw(px, "text", 10, 10, 40)
    with pytest.raises(OcrError):
        masker.mask(px)
    assert masker._shape is None  # reset: the next frame is read whole


class SmallTypeOcr(PatchOcr):
    """Reads patches as :class:`PatchOcr` does, but small type upscaled less than 5x as
    Tesseract reads 8-px text at 2.5:1: other words, with little confidence."""

    def __init__(self, misread: dict[str, str]) -> None:
        super().__init__()
        self.misread = misread

    def words(self, image: np.ndarray) -> list[Word]:
        got = super().words(image)
        if image.shape[0] >= 5 * 12:  # a 12-row line at 5x (its margin included)
            return got
        return [Word(self.misread[w.text], w.x, w.y, w.w, w.h, 40.0) if w.text in self.misread else w
                for w in got]


def test_small_type_read_unsure_is_read_again_and_either_reading_masks(redactor: Redactor) -> None:
    """A known value in small type that the first reading shows as other words, with
    little confidence, is read again at another scale and masked; a small line read
    sure of itself, and larger type however it was read, are read once; a line seen
    again is not read again; ordinary words read twice stay."""
    ocr, px = SmallTypeOcr({"Quartz&Moon79": "Quanz Mcon 7'9", "weekly": "weeldy", "notes": "n0tes"}), white()
    ocr.draw(px, "Confirm:", 10, 100, 50, h=8)                      # small type: 12-row segments
    value = ocr.draw(px, "Quartz&Moon79", 66, 100, 80, h=8)
    ocr.draw(px, "weekly", 10, 140, 40, h=8)
    ocr.draw(px, "budget", 56, 140, 40, h=8)
    ocr.draw(px, "planning", 10, 180, 50, h=8)                      # small, read sure of itself
    ocr.draw(px, "notes", 10, 220, 40, h=16)                        # larger type
    masker = TextMasker(redactor, ocr)
    out = masker.mask(px, None, ["Quartz&Moon79"])
    assert (out[value.y:value.y + value.h, value.x:value.x + value.w] == 0).all()
    assert masker.second_reads == 2                                 # the value's line and weekly's
    assert np.array_equal(out[:, :62], px[:, :62])                  # Confirm:, ordinary words kept
    assert np.array_equal(out[130:], px[130:])
    calls = masker.ocr_calls
    masker.reset()
    again = masker.mask(px, None, ["Quartz&Moon79"])
    assert masker.ocr_calls == calls and np.array_equal(again, out)  # both readings from cache


@real_ocr
def test_real_tesseract_masks_a_known_value_in_small_low_contrast_type(redactor: Redactor) -> None:
    """8-px Nimbus Sans at 2.5:1, as in the recall corpus: Tesseract reads the password
    as 'Quanz&Moon7'9' at 3x (three slips: no match); a person reads it. Every stroke
    of it is black; the ordinary line under it, in the same type, is kept."""
    nimbus = "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf"
    if not os.path.exists(nimbus):
        pytest.skip("needs fonts-urw-base35")
    font = ImageFont.truetype(nimbus, 8)
    img = Image.new("RGB", (320, 40), (245, 245, 245))
    draw = ImageDraw.Draw(img)
    draw.text((6, 6), "Confirm: Quartz&Moon79", font=font, fill=(157, 157, 157))
    draw.text((6, 22), "weekly budget planning notes", font=font, fill=(157, 157, 157))
    strokes = Image.new("L", img.size, 0)
    ImageDraw.Draw(strokes).text((6 + font.getlength("Confirm: "), 6), "Quartz&Moon79", font=font, fill=255)
    ink = np.asarray(strokes) >= 128
    px = to_bgrx(img)
    out = TextMasker(redactor).mask(px, None, ["Quartz&Moon79"])
    assert (out[ink] == 0).all()
    assert np.array_equal(out[20:], px[20:])


# --- pure helpers -----------------------------------------------------------------------

def test_known_value_spans_tolerate_ocr_noise_but_not_case() -> None:
    assert known_value_spans("pw is hunter2 ok", ["hunter2"]) == [(6, 13)]
    assert known_value_spans("pw is HUNTER2 ok", ["hunter2"]) == []
    assert known_value_spans("a b c", ["abc"]) == []                     # too short
    text = "login: Tr0ub4dor &3x now"
    [(s, e)] = known_value_spans(text, ["Tr0ub4dor&3x"])                  # OCR added a space
    assert text[s:e] == "Tr0ub4dor &3x"
    spans = known_value_spans("key S3cretPassw0rd!", ["S3cretPassword!"])  # 0/o folded
    assert spans and spans[0][1] == len("key S3cretPassw0rd!")
    noisy = "val=correcthorsebattery_staple"
    [(s, e)] = known_value_spans(noisy, ["correcthorsebatterystaple"])    # one edit
    assert noisy[s:e] == "correcthorsebattery_staple"
    assert known_value_spans("horse battery", ["correcthorsebatterystaple"]) == []  # from its middle
    # a value being typed (a prefix) or the tail of one in a narrow field, as whole words
    assert known_value_spans("typed correct horse battery", ["correcthorsebatterystaple"]) == [(6, 27)]
    assert known_value_spans("field: rsebatterystaple", ["correcthorsebatterystaple"]) == [(7, 23)]
    assert known_value_spans("incorrecthorse", ["correcthorsebatterystaple"]) == []  # not a word start


def test_a_known_value_is_matched_through_one_misread_per_5_characters() -> None:
    """A 66-character token in 11-px text on a confirmation label, as Tesseract read it
    in the recall corpus (four edits after folding); a password and an address in 8-px
    text at 2.5:1, as it read them there (two and five edits: both plain to a person);
    another token of the same shape, and ordinary words like a password, are not matched."""
    token = "eyJhbGciOiJIUzI1NiJ9.eyJE0tbpvomGIyLza7wk38p.uJuFrs4nsdXbkJeM3wCQdH"
    read = "Confirm: eyJhbGciOWIUz!1 NU9.eyJ E0tbpvomG lyLza7wk38p.uJuF rs 4nsdXbkJeM 3wCQdH"
    assert known_value_spans(read, [token]) == [(9, len(read))]
    other = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.abc"
    assert known_value_spans(read, [other]) == []
    assert known_value_spans("Password: Quatz&Moon73", ["Quartz&Moon79"]) == [(10, 22)]
    assert known_value_spans("E-mal: trank jones@comp axample.org", ["frank.jones@corp.example.org"]) \
        == [(7, 35)]
    assert known_value_spans("Quarter Moonlight at 79 Main", ["Quartz&Moon79"]) == []
    assert known_value_spans("grace.novak@corp.example.org", ["frank.jones@corp.example.org"]) == []


def test_ocr_token_spans_catch_garbled_keys() -> None:
    text = "export KEY=AKIAITOSFODNN7EXAMPLE # misread: 17 chars after AKIA"
    assert {e for _, _, e in ocr_token_spans(text)} == {"AWS_ACCESS_KEY", "TOKEN_LIKE"}
    assert ocr_token_spans("On branch main, your branch is up to date with origin") == []
    assert ocr_token_spans("see test_redact_pixels_module for more") == []


def test_ocr_spacing_and_misread_card_digits(redactor: Redactor) -> None:
    text, index = close_punct_gaps("mail alice. smith@example. com now")  # type: ignore[misc]
    assert text == "mail alice.smith@example.com now" and index[10] == 10 and index[11] == 12
    assert close_punct_gaps("plain words") is None
    assert [e for _, _, e in ocr_token_spans("card 5500 9000 9000 90004 ok")] == ["CREDIT_CARD"]
    ocr, px = PatchOcr(), white()
    for i, part in enumerate(["to", "alice.", "smith@example.", "com", "today"]):
        ocr.draw(px, part, 10 + 130 * i, 10, 120)
    hits = TextMasker(redactor, ocr, scale=1).find(px)
    assert sorted(h.rect[0] for h in hits) == [140, 260, 270, 390, 400]  # the words, the gaps between


def test_group_lines_splits_columns() -> None:
    ws = [Word("b", 60, 12, 30, 14), Word("a", 10, 10, 40, 14), Word("far", 600, 11, 30, 14),
          Word("next", 10, 40, 40, 14)]
    lines = group_lines(ws)
    assert [ln.text for ln in lines] == ["a b", "far", "next"]
    assert lines[0].words_in(2, 3) == [ws[0]]
    assert private_key_lines(lines) == []


def _group_lines_as_written_first(words, gap_factor=3.0):
    """group_lines as it was first written (each row's extent recomputed for every word)."""
    from workprint.policy.redact_pixels import _line

    rows = []
    for w in sorted(words, key=lambda w: (w.y + w.h / 2, w.x)):
        cy = w.y + w.h / 2
        for row in reversed(rows[-3:]):
            top, bottom = min(r.y for r in row), max(r.y + r.h for r in row)
            if top <= cy <= bottom and w.y < bottom and top < w.y + w.h:
                row.append(w)
                break
        else:
            rows.append([w])
    lines = []
    for row in rows:
        row.sort(key=lambda w: w.x)
        height = max(1, max(w.h for w in row))
        seg = [row[0]]
        for prev, cur in zip(row, row[1:]):
            if cur.x - (prev.x + prev.w) > gap_factor * height:
                lines.append(_line(seg))
                seg = []
            seg.append(cur)
        lines.append(_line(seg))
    return lines


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 120), st.integers(1, 60), st.integers(1, 30)),
                max_size=40))
def test_group_lines_keeps_each_rows_extent_as_it_grows(boxes) -> None:
    """(the rows' top and bottom are kept as words join them: the same lines as when
    they were recomputed for every word)"""
    words = [Word(f"w{i}", x, y, w, h) for i, (x, y, w, h) in enumerate(boxes)]
    assert group_lines(words) == _group_lines_as_written_first(words)


def test_parse_tsv() -> None:
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "1\t1\t0\t0\t0\t0\t0\t0\t100\t50\t-1\t\n"
           "5\t1\t1\t1\t1\t1\t3\t4\t20\t10\t91.5\thello\n"
           "5\t1\t1\t1\t1\t2\t30\t4\t20\t10\t95\t \n")
    assert parse_tsv(tsv) == [Word("hello", 3, 4, 20, 10, 91.5)]


# --- real Tesseract on rendered text ------------------------------------------------------

SECRETS = {"email": "alice.smith@example.com", "aws": "AKIAIOSFODNN7EXAMPLE",
           "card": "4111 1111 1111 1111"}
TERMINAL = [
    "$ git status",
    "On branch main, your branch is up to date with origin",
    f"$ mail -s report {SECRETS['email']}",
    "$ ls build dist docs",
    f"export AWS_ACCESS_KEY_ID={SECRETS['aws']}",
    "$ make test",
    f"card number {SECRETS['card']} expires soon",
    "all tests passed in the build",
]
ORDINARY = [0, 1, 3, 5, 7]


def _ocr_text(px: np.ndarray, ocr: TesseractOcr) -> str:
    from workprint.policy.redact_pixels import to_ocr_gray, upscale
    return " ".join(w.text for w in ocr.words(upscale(to_ocr_gray(px), 2)))


@real_ocr
@pytest.mark.parametrize("size,theme", [(15, "dark"), (12, "light")])
def test_real_tesseract_masks_secrets_on_a_terminal(redactor: Redactor, size: int, theme: str) -> None:
    bg, fg = ((30, 30, 30), (220, 220, 220)) if theme == "dark" else ((250, 250, 245), (20, 20, 20))
    px, rows = render_terminal(TERMINAL, width=960, height=260, size=size, bg=bg, fg=fg)
    ocr = TesseractOcr()
    before = _ocr_text(px, ocr).replace(" ", "")
    for seen in ("alice.smith@example.com", "AKIA", "EXAMPLE", "4111111111111111"):
        assert seen in before  # OCR reads the secrets (maybe garbled): the test can fail
    masker = TextMasker(redactor, ocr)
    out = masker.mask(px)
    after = _ocr_text(out, ocr).replace(" ", "")
    for gone in ("alice", "@example", "AKIA", "EXAMPLE", "4111", "1111"):
        assert gone not in after
    for i in ORDINARY:   # ordinary lines are untouched, pixel for pixel
        top, bottom = rows[i]
        assert np.array_equal(out[top + 3:bottom - 3], px[top + 3:bottom - 3]), TERMINAL[i]
    for i in (2, 4, 6):
        top, bottom = rows[i]
        assert (out[top:bottom] == 0).any()


@real_ocr
def test_real_tesseract_known_value_and_region(redactor: Redactor) -> None:
    lines = ["$ ssh deploy@build", "Enter passphrase for key:", "$ echo PlumbTree-Orbit77",
             "PlumbTree-Orbit77", "$ exit"]
    px, rows = render_terminal(lines, width=900, height=200, size=15)
    masker = TextMasker(redactor)
    assert masker.find(px) == []   # the text redactor alone sees nothing here
    hits = masker.find(px, regions=[], known_values=["PlumbTree-Orbit77"])
    ys = sorted({h.rect[1] for h in hits})
    assert len(ys) == 2 and rows[2][0] - 2 <= ys[0] <= rows[2][1] and rows[3][0] - 2 <= ys[1] <= rows[3][1]


@real_ocr
def test_tesseract_writes_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("TMP", str(tmp_path))
    px, _ = render_terminal(["hello temp files"], width=400, height=40)
    cwd = os.getcwd()
    monkeypatch.chdir(tmp_path)
    from workprint.policy.redact_pixels import to_ocr_gray
    words = TesseractOcr().words(to_ocr_gray(px))
    assert "hello" in [w.text for w in words]
    assert list(tmp_path.iterdir()) == []
    os.chdir(cwd)


def test_detection_is_reused_only_while_words_and_known_values_stay(redactor: Redactor) -> None:
    ocr, px = PatchOcr(), white()
    ocr.draw(px, "mail", 10, 10, 40)
    ocr.draw(px, "bob@example.org", 60, 10, 150)
    ocr.draw(px, "Tr0ub4dor-x9q", 10, 40, 120)
    masker = TextMasker(redactor, ocr, scale=1)
    calls = []
    judge = masker._hits
    masker._hits = lambda lines, known: calls.append(known) or judge(lines, known)
    first = masker.find(px)
    assert {h.entity for h in first} == {"EMAIL_ADDRESS"}
    assert masker.find(px, regions=[]) == first and len(calls) == 1   # nothing new: reused
    known = masker.find(px, regions=[], known_values=["Tr0ub4dor-x9q"])
    assert {h.entity for h in known} == {"EMAIL_ADDRESS", "KNOWN_VALUE"} and len(calls) == 2
    px2 = px.copy()
    ocr.draw(px2, "alice@example.org", 300, 200, 160)
    again = masker.find(px2, regions=[(256, 128, 256, 128)], known_values=["Tr0ub4dor-x9q"])
    assert len(calls) == 3 and len(again) == 3                         # new text: judged again


def test_text_revealed_when_a_blacked_out_window_goes_is_read_and_masked(redactor: Redactor, tmp_path: Path) -> None:
    """The OCR stage passes frames on as the grab plus rectangles (no copies). A window
    blacked out in one frame and in scope in the next, its pixels unchanged, must be read
    then: its secret is masked in the second frame; in the first, black is all there is."""
    import threading
    import time

    from workprint.capture.frames import TextMaskStage
    from workprint.store.quarantine import Quarantine

    ocr, px = PatchOcr(), white(400, 800)
    ocr.draw(px, "mail", 10, 10, 40)
    ocr.draw(px, "token", 400, 300, 50)
    ocr.draw(px, "ghp_abcdefghijklmnopqrstuvwxyz0123456789", 460, 300, 300)
    stored: list[MaskedFrame] = []
    done = threading.Event()
    stage = TextMaskStage(TextMasker(redactor, ocr, scale=1), Quarantine(tmp_path / "q"), lambda t: [])
    stage.start(lambda t, reason, f, since=None: stored.append(f) or (len(stored) == 2 and done.set()) or True, None)
    window = (380, 280, 420, 60)
    stage.submit(1, "post_action", MaskedFrame(px, [window]))   # out of scope: blacked out
    stage.submit(2, "post_action", MaskedFrame(px, []))         # now in scope, same pixels
    assert done.wait(10)
    stage.stop()
    first, second = stored
    assert first.pixels is px and second.pixels is px             # the grab itself, never copied
    assert first.rects == (window,)
    out = second.full()
    assert (out[300:312, 460:760] == 0).all()                      # the token is masked
    assert np.array_equal(out[:280], px[:280])                     # the rest is as grabbed


# --- blocks of lines read line by line ------------------------------------------------------

XTERM = Path(__file__).parent / "data" / "xterm_6x13_lines.png"


class CountingOcr:
    """Reads nothing; counts the images handed over and their pixels."""

    def __init__(self) -> None:
        self.calls = self.pixels = 0

    def words(self, image: np.ndarray) -> list[Word]:
        self.calls += 1
        self.pixels += image.size
        return []


def _gray_to_bgrx(gray: np.ndarray) -> np.ndarray:
    g = gray.astype(np.uint32)
    return 0xFF000000 | (g << 16) | (g << 8) | g


def test_terminal_block_is_read_line_by_line_with_all_its_ink() -> None:
    """A grab of the bench's xterm (6x13 font, 13-px rows, the window edge in a 32-px
    block whose ground the finder misjudges, so its lines come as blocks up to 189 px
    tall): what is read is one piece per text line, and every dark pixel of the text area
    is inside a piece that is read."""
    from workprint.policy.text_lines import MAX_LINE_BAND, find_segments, lines_to_read

    gray = np.asarray(Image.open(XTERM))
    h, w = gray.shape
    segs = find_segments(gray, [(0, 0, w, h)])
    assert any(s.multiline for s in segs)                 # the finder alone gives blocks
    reads = lines_to_read(gray, segs)
    text = [s for s in reads if 40 < s.y < 460 and s.x < 30]   # the lines under the title bar
    assert len(text) == 33 and all(s.h <= 15 for s in text), text
    assert not any(s.h > MAX_LINE_BAND for s in reads)
    covered = np.zeros_like(gray, dtype=bool)
    for s in reads:
        covered[s.y:s.y + s.h, s.x:s.x + s.w] = True
    area = (slice(42, 498), slice(22, 600))               # text area, inside the window edges
    assert not (gray[area] < 128)[~covered[area]].any()


def test_a_scrolled_terminal_block_reads_only_its_new_line(redactor: Redactor) -> None:
    gray = np.asarray(Image.open(XTERM))
    px = _gray_to_bgrx(gray)
    ocr = CountingOcr()
    masker = TextMasker(redactor, ocr)
    masker.find(px)
    first = ocr.pixels
    scrolled = px.copy()
    scrolled[42:460 - 13, 19:628] = px[42 + 13:460, 19:628]   # every line one row up
    scrolled[460 - 13:460, 19:628] = px[41, 100]              # a blank row comes in at the bottom
    calls, pixels = ocr.calls, ocr.pixels
    masker.find(scrolled, changed_regions(px, scrolled))
    assert ocr.calls - calls <= 2                  # the lines next to the blank row, no more
    assert ocr.pixels - pixels < 0.2 * first       # (blocks read whole again: ~100 %)


def test_luminance_kept_between_frames_is_that_of_each_frame(redactor: Redactor) -> None:
    """The masker keeps the luminance of the frame before and computes it again only where
    the screen changed (the regions given; windows blacked out that came or went are in
    them too): after any sequence of such frames it is the luminance of the frame, black
    where it is hidden, as if computed whole."""
    from workprint.policy.redact_pixels import luminance

    rng = np.random.default_rng(13)
    h, w = 240, 640
    px = white(h, w)
    masker = TextMasker(redactor, CountingOcr())
    hide: tuple[tuple[int, int, int, int], ...] = ()
    masker.find(px)
    for step in range(40):
        px = px.copy()
        regions = []
        for _ in range(int(rng.integers(0, 3))):
            x, y = int(rng.integers(-20, w)), int(rng.integers(-20, h))
            r = (x, y, int(rng.integers(1, 160)), int(rng.integers(1, 90)))
            c = (max(0, x), max(0, y), min(w, x + r[2]), min(h, y + r[3]))
            if c[2] > c[0] and c[3] > c[1]:
                px[c[1]:c[3], c[0]:c[2]] = rng.integers(0, 2**24, size=(c[3] - c[1], c[2] - c[0]),
                                                        dtype=np.uint32)
            regions.append(r)
        if step % 3 == 0:  # a window blacked out comes or goes
            new_hide = tuple((int(rng.integers(-30, w)), int(rng.integers(-30, h)), 90, 60)
                             for _ in range(int(rng.integers(0, 3))))
            regions += list(set(hide) ^ set(new_hide))
            hide = new_hide
        masker.find(px, regions, hide=hide)
        expect = luminance(px)
        for x, y, rw, rh in hide:
            expect[max(0, y):max(0, y + rh), max(0, x):max(0, x + rw)] = 0
        assert np.array_equal(masker._gray, expect), step


@real_ocr
def test_real_tesseract_masks_a_secret_inside_a_block_of_terminal_lines(redactor: Redactor) -> None:
    """The bench's xterm grab with a key written over one of its lines: the finder gives
    that line inside a block of lines; read line by line, the key is still read and
    masked, and the lines around it are kept."""
    from workprint.policy.redact_pixels import to_ocr_gray, upscale
    from workprint.policy.text_lines import find_segments

    img = Image.open(XTERM).copy()
    draw = ImageDraw.Draw(img)
    draw.rectangle((22, 133, 620, 145), fill=255)
    draw.text((23, 132), "export AWS_KEY=AKIAIOSFODNN7EXAMPLE", font=ImageFont.truetype(str(MONO), 11), fill=0)
    gray = np.asarray(img)
    h, w = gray.shape
    assert any(s.multiline and s.y < 139 < s.y + s.h for s in find_segments(gray, [(0, 0, w, h)]))
    px = _gray_to_bgrx(gray)
    ocr = TesseractOcr()
    area = (slice(120, 160), slice(0, 640))
    assert "AKIA" in _ocr_text(px[area], ocr)
    masker = TextMasker(redactor)
    out = masker.mask(px)
    assert masker.ocr_calls >= 20                  # line by line (repeated lines cached), not 6 blocks
    after = _ocr_text(out[area], ocr)
    assert "AKIA" not in after and "EXAMPLE" not in after
    assert "export" in after                       # the rest of its line is kept


@settings(max_examples=300, deadline=None)
@given(st.text("ab01", min_size=8, max_size=24), st.text("ab01 ", max_size=60), st.integers(1, 4))
def test_fuzzy_spans_measure_each_start_as_the_edit_distance_does(pattern: str, text: str, k: int) -> None:
    """The distances of every start to an end, from one table, are the edit distances."""
    from workprint.policy.redact_pixels import _approx_ends, _distance, _distances_ending_at

    m = len(pattern)
    for end in _approx_ends(pattern, text, k):
        lo = max(0, end - m - k)
        dist = _distances_ending_at(pattern, text, lo, end)
        assert dist == [_distance(pattern, text[end - j:end]) for j in range(end - lo + 1)]


def test_digits_read_as_look_alike_letters_are_still_a_card(redactor: Redactor) -> None:
    """A number read (or learnt from glyphs) in a font that draws 1 and l, 0 and O alike:
    the look-alikes inside a run that holds a digit count as digits."""
    from workprint.policy.redact_pixels import fold_digit_lookalikes

    assert fold_digit_lookalikes("4lll llll llll llll") == "4111 1111 1111 1111"
    assert fold_digit_lookalikes("Invoice 1O42 paid") == "Invoice 1042 paid"
    assert fold_digit_lookalikes("hello world") is None and fold_digit_lookalikes("Illinois") is None
    for card in ("4lll llll llll llll", "4111-l1l1-O000-OOO4", "5S55 5555 5555 4444"):
        ocr, px = PatchOcr(), white()
        ocr.draw(px, "card", 10, 10, 40)
        groups = [ocr.draw(px, g, 60 + 50 * i, 10, 40) for i, g in enumerate(card.split(" "))]
        hits = TextMasker(redactor, ocr, scale=1, pad=2).find(px)
        masked = {h.rect for h in hits}
        assert all(g.rect in masked for g in groups), card
        assert (10, 10, 40, 12) not in masked



def test_a_token_ocr_cut_where_no_space_shows_is_masked(redactor: Redactor) -> None:
    """Small type: OCR put spaces inside a token and read its digits as letters; no part
    is a token alone. Where no space shows between them (the pieces touch) and a piece
    looks like part of a token, the pieces are one token. Touching words that do not
    look like one (a list's 'Invoice 1003' read across lines) stay as they are."""
    ocr, px = PatchOcr(), white()
    ocr.draw(px, "branch", 10, 10, 50)
    parts = [ocr.draw(px, "ghp_ORLZSTROSPofbciOxSgy", 70, 10, 160), ocr.draw(px, "1", 231, 10, 6),
             ocr.draw(px, "CJdObOIRpFqaDZe", 238, 10, 100)]        # one column between the pieces
    ocr.draw(px, "server", 348, 10, 50)
    lists = [ocr.draw(px, "1003Invoice", 10, 40, 70), ocr.draw(px, "1002Invoice", 81, 40, 70),
             ocr.draw(px, "1001Invoice", 152, 40, 70)]
    masked = {h.rect for h in TextMasker(redactor, ocr, scale=1, pad=2).find(px)}
    assert all(p.rect in masked for p in parts)
    assert not any(w.rect in masked for w in lists)
    assert (10, 10, 50, 12) not in masked and (348, 10, 50, 12) not in masked


def test_a_box_that_ends_inside_a_glyph_is_carried_to_the_end_of_its_ink() -> None:
    """OCR's word box can stop short of a word's last stroke (``ghp_...E`` with 4 pixels
    of the E left out); what is blacked out goes on to the first column without ink, and
    no farther than the box is tall. A border across the rows is no glyph."""
    from PIL import Image, ImageDraw, ImageFont

    from workprint.policy.redact_pixels import whole_glyphs

    f = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 13)
    img = Image.new("L", (300, 30), 235)
    d = ImageDraw.Draw(img)
    d.text((20, 6), "ghp_16dqE", font=f, fill=90)
    d.text((150, 6), "next", font=f, fill=90)
    gray = np.asarray(img)
    cols = np.flatnonzero((gray < 200).any(axis=0))
    first, last = int(cols[0]), int(cols[cols < 140][-1])
    short = (first, 4, last - 4 - first, 20)  # 4 columns short of the E's end
    x, y, w, h = whole_glyphs(gray, short)
    assert (y, h) == (4, 20)
    assert x <= first and x + w > last  # every column of the value's ink
    assert x + w < 150  # not into the next word
    whole = (first - 1, 4, last + 2 - (first - 1), 20)
    assert whole_glyphs(gray, whole) == whole  # a box that holds its ink is left as it is
    ruled = gray.copy()
    ruled[22, :] = 0  # a border under the text, across the screen
    assert whole_glyphs(ruled, whole) == whole
    assert whole_glyphs(ruled, short)[2] == w


def test_masking_blacks_out_the_glyph_a_word_box_cut(redactor: Redactor) -> None:
    """Through the masker: OCR's box of a card's last word ends where the ink of its last
    glyph goes on for 6 more columns; those are blacked out too (the padding alone
    leaves 4), the word after the card is not."""
    ocr, px = PatchOcr(), white()
    for i, part in enumerate("4111 1111 1111 1111".split()):
        ocr.draw(px, part, 60 + 50 * i, 100, 40)
    px[100:112, 250:256] = 0xFF000000 | (120 << 16) | (120 << 8) | 120  # ink OCR's box left out
    ocr.draw(px, "ok", 300, 100, 20)
    out = TextMasker(redactor, ocr, scale=1, pad=2).mask(px)
    assert (out[100:112, 60:256] == 0).all()
    assert np.array_equal(out[:, 280:], px[:, 280:])


def test_a_value_ocr_parted_is_masked_with_the_part_it_split_off(redactor: Redactor) -> None:
    """OCR reads ``dave.jones@corp.example.org`` as ``dave`` + ``jones@...`` (the ``.``
    dropped inside the first box, the boxes touching) and a GitHub token as two token
    pieces with a space-wide gap (a proportional ``1`` before a capital): the rule finds
    one part, the other is masked with it. Words beside them that are neither touching
    nor token pieces are kept."""
    ocr, px = PatchOcr(), white()
    ocr.draw(px, "weekly", 10, 10, 60)
    ocr.draw(px, "dave", 80, 10, 40)
    ocr.draw(px, "jones@corp.example.org", 121, 10, 200)  # its box touches the one before
    ocr.draw(px, "today", 330, 10, 50)
    ocr.draw(px, "token", 10, 40, 50)
    ocr.draw(px, "ghp_O9UGgD1", 70, 40, 100)
    ocr.draw(px, "RzIk99mKEXfixXNdzpdxcaSM9nDth", 176, 40, 260)
    ocr.draw(px, "ordinary", 10, 70, 70)
    out = TextMasker(redactor, ocr, scale=1, pad=2).mask(px)
    assert (out[10:22, 80:321] == 0).all()  # the name before the address too
    assert (out[40:52, 70:436] == 0).all()  # the token's first piece too
    assert np.array_equal(out[8:24, :76], px[8:24, :76])  # "weekly"
    assert np.array_equal(out[8:24, 326:], px[8:24, 326:])  # "today"
    assert np.array_equal(out[38:54, :66], px[38:54, :66])  # "token"
    assert np.array_equal(out[66:], px[66:])


def test_token_pieces_and_touching_words_are_told_apart_from_ordinary_ones() -> None:
    from workprint.policy.redact_pixels import _TOKEN_PIECE, glue_gap

    assert all(_TOKEN_PIECE.fullmatch(t) for t in ("ghp_O9UGgD1", "avET1LOzxKbPFc", "RzIk99mKEX", "a1b2c3"))
    assert not any(_TOKEN_PIECE.fullmatch(t) for t in ("Invoice", "weekly", "dave", "ORDER", "1042", "v1"))
    words = [Word("a", 0, 0, 20, 12), Word("b", 26, 0, 20, 12), Word("c", 52, 0, 20, 12), Word("d", 73, 0, 9, 12)]
    assert glue_gap(words) == pytest.approx(1.8)  # 0.15 x the height, below half the usual space (6)
