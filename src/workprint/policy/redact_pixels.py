"""Pixel safeguards: black out out-of-scope windows and sensitive text in screenshots.

Frames are ``(height, width)`` uint32 arrays in BGRX byte order (little-endian
``0xXXRRGGBB``), as the capture backends grab them. Everything here works on such arrays
and plain rectangles ``(x, y, w, h)`` in root-window coordinates; nothing imports a
platform module.

* :func:`blackout` paints rectangles black on a copy (the input is shared with the
  scheduler's ring buffer and is never mutated).
* :class:`MaskedFrame` is a grab plus the rectangles to black out, masked tile by tile
  as the encoder asks for tiles (:func:`tile_masks` says which part of which tile), so
  blacking out a small window does not copy the whole frame.
* :func:`out_of_scope_rects` lists the rectangles of visible windows that are out of
  scope, or returns ``None`` when a window's geometry cannot be trusted (drop the frame).
* :class:`TextMasker` finds sensitive text with OCR (Debian's Tesseract: in-process
  through libtesseract, :mod:`.tesseract_lib`, else the CLI over pipes - never a temp
  file) and the text :class:`~workprint.policy.redact_text.Redactor`, plus values the
  input side knows are secret, then blacks out the word boxes. Only new text is read: a
  cheap detector (:mod:`.text_lines`) finds the text lines in the regions that changed,
  and each line's OCR is cached by a digest of its pixels; a line edited in places
  takes over the words of its earlier reading where the pixels are proven the same,
  shifted or not (:mod:`.line_reuse`), and only the rest is read; detection still runs
  over every line on screen, wrapped lines joined.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import subprocess
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Protocol, Sequence

import numpy as np
from PIL import Image

from ..costs import STAGES
from .prompts import answer_start

if TYPE_CHECKING:  # the capture layer depends on policy, never the other way round
    from ..capture.backend import WindowInfo
    from .redact_text import Redactor

Rect = tuple[int, int, int, int]
"""``(x, y, width, height)`` in root-window (screen) coordinates."""

BLACK = 0  # BGRX: all channels zero


# --- rectangles ---------------------------------------------------------------------------

def clip_rect(rect: Rect, width: int, height: int) -> Rect | None:
    """``rect`` clipped to a ``width`` x ``height`` screen, or None if nothing is left."""
    x, y, w, h = rect
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def pad_rect(rect: Rect, pad: int) -> Rect:
    x, y, w, h = rect
    return x - pad, y - pad, w + 2 * pad, h + 2 * pad


def rects_touch(a: Rect, b: Rect, gap: int = 0) -> bool:
    """True if ``a`` and ``b`` overlap or are at most ``gap`` pixels apart."""
    return (a[0] - gap < b[0] + b[2] and b[0] - gap < a[0] + a[2]
            and a[1] - gap < b[1] + b[3] and b[1] - gap < a[1] + a[3])


def _touching(words: Sequence["Word"], rects: Sequence[Rect]) -> list[bool]:
    """For each word, whether its box overlaps any of ``rects`` (:func:`rects_touch`
    with no gap, for many at once)."""
    if not words or not rects:
        return [False] * len(words)
    a = np.array([(w.x, w.y, w.w, w.h) for w in words], dtype=np.int64)[:, None, :]
    b = np.array(rects, dtype=np.int64)[None, :, :]
    hit = ((a[..., 0] < b[..., 0] + b[..., 2]) & (b[..., 0] < a[..., 0] + a[..., 2])
           & (a[..., 1] < b[..., 1] + b[..., 3]) & (b[..., 1] < a[..., 1] + a[..., 3]))
    return hit.any(axis=1).tolist()


def _union(a: Rect, b: Rect) -> Rect:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return x0, y0, x1 - x0, y1 - y0


def merge_rects(rects: Iterable[Rect], gap: int = 0) -> list[Rect]:
    """Bounding boxes of groups of rectangles that overlap or lie within ``gap`` px."""
    out: list[Rect] = []
    for r in rects:
        if r[2] <= 0 or r[3] <= 0:
            continue
        merged = True
        while merged:  # a grown box may now touch boxes it missed before
            merged = False
            for i, o in enumerate(out):
                if rects_touch(r, o, gap):
                    r = _union(r, out.pop(i))
                    merged = True
                    break
        out.append(r)
    return sorted(out, key=lambda b: (b[1], b[0]))


# --- blackout and scope -------------------------------------------------------------------

def blackout(pixels: np.ndarray, rects: Iterable[Rect]) -> np.ndarray:
    """A copy of ``pixels`` with every rectangle (clipped to the screen) painted black.

    Returns ``pixels`` itself when there is nothing to paint; never mutates it.
    """
    h, w = pixels.shape
    clipped = [c for c in (clip_rect(r, w, h) for r in rects) if c is not None]
    if not clipped:
        return pixels
    out = pixels.copy()
    for x, y, cw, ch in clipped:
        out[y:y + ch, x:x + cw] = BLACK
    return out


TileMasks = dict[tuple[int, int], tuple[Rect, ...]]
"""``(row, col)`` of a tile -> the parts of the rectangles to black out inside it, in the
tile's own coordinates. Tiles no rectangle touches are absent."""


def tile_masks(rects: Iterable[Rect], width: int, height: int, tile: int) -> TileMasks:
    """Where ``rects`` fall on a ``width`` x ``height`` frame cut into ``tile``-sized
    tiles (the last row and column may be smaller), per tile, clipped to it."""
    out: dict[tuple[int, int], list[Rect]] = {}
    for rect in rects:
        c = clip_rect(rect, width, height)
        if c is None:
            continue
        x, y, w, h = c
        for row in range(y // tile, (y + h - 1) // tile + 1):
            for col in range(x // tile, (x + w - 1) // tile + 1):
                tx, ty = col * tile, row * tile
                local = clip_rect((x - tx, y - ty, w, h), min(tile, width - tx), min(tile, height - ty))
                if local is not None:
                    out.setdefault((row, col), []).append(local)
    return {k: tuple(v) for k, v in out.items()}


class MaskedFrame:
    """A grab plus the rectangles that must be black in it, masked tile by tile.

    The encoder works per tile, so the whole frame need not be copied to black out a few
    windows (the always-present recording indicator among them): :meth:`tile` hands out
    one tile with its part of the rectangles painted black - a copy for the tiles a
    rectangle touches, a read-only view of the grab for the others. :meth:`full` is the
    whole frame blacked out (for stages that need all of it, such as OCR masking).
    ``pixels`` itself is the unmasked grab: only compare it, never store or encode it.
    """

    __slots__ = ("pixels", "rects", "_masks")

    def __init__(self, pixels: np.ndarray, rects: Iterable[Rect]):
        h, w = pixels.shape
        self.pixels = pixels
        self.rects: tuple[Rect, ...] = tuple(c for c in (clip_rect(r, w, h) for r in rects) if c)
        self._masks: dict[int, TileMasks] = {}

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape

    def masks(self, tile: int) -> TileMasks:
        m = self._masks.get(tile)
        if m is None:
            h, w = self.pixels.shape
            m = self._masks[tile] = tile_masks(self.rects, w, h, tile)
        return m

    def tile(self, row: int, col: int, tile: int) -> np.ndarray:
        block = self.pixels[row * tile:(row + 1) * tile, col * tile:(col + 1) * tile]
        local = self.masks(tile).get((row, col))
        if local is None:
            view = block.view()
            view.flags.writeable = False
            return view
        return blackout(block, local)

    def full(self) -> np.ndarray:
        return blackout(self.pixels, self.rects)


def as_masked_frame(frame: "np.ndarray | MaskedFrame") -> "MaskedFrame":
    """``frame`` as a :class:`MaskedFrame` (a plain array has nothing to black out)."""
    return frame if isinstance(frame, MaskedFrame) else MaskedFrame(frame, ())


def out_of_scope_rects(windows: Sequence["WindowInfo"],
                       in_scope: Callable[["WindowInfo"], bool]) -> list[Rect] | None:
    """Rectangles of the visible ``windows`` (bottom first) that are out of scope.

    An out-of-scope window is blacked out as a whole - with its window manager frame
    (title bar, borders) when it has one - even where an in-scope window
    stacked above it covers part of it (stacking can change between the window query and
    the grab: fail closed). Returns ``None`` - drop the frame - when any window has no
    geometry or a negative size. Zero-sized windows show nothing and are skipped.
    Exceptions from ``in_scope`` propagate (the caller drops the frame).
    """
    rects: list[Rect] = []
    for win in windows:
        g = win.geometry
        if g is None or g.width < 0 or g.height < 0:
            return None
        if g.width == 0 or g.height == 0:
            continue
        if not in_scope(win):
            # the whole window as it shows: the title bar and borders of its frame too
            o = getattr(win, "frame", None) or g
            rects.append((o.x, o.y, o.width, o.height))
    return rects


def changed_regions(prev: np.ndarray | None, cur: np.ndarray, tile: int = 128,
                    gap: int = 32) -> list[Rect] | None:
    """Merged boxes of the ``tile``-sized tiles that differ; None = everything changed."""
    if prev is None or prev.shape != cur.shape:
        return None
    h, w = cur.shape
    rows, cols = -(-h // tile), -(-w // tile)
    diff = np.zeros((rows * tile, cols * tile), dtype=bool)
    diff[:h, :w] = prev != cur
    grid = diff.reshape(rows, tile, cols, tile).any(axis=(1, 3))
    tiles = [(c * tile, r * tile, tile, tile) for r, c in zip(*np.nonzero(grid))]
    return [c for c in (clip_rect(b, w, h) for b in merge_rects(tiles, gap)) if c]


# --- OCR ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Word:
    """One OCR'd word; box in the coordinates of the image given to the engine."""

    text: str
    x: int
    y: int
    w: int
    h: int
    conf: float = -1.0

    @property
    def rect(self) -> Rect:
        return self.x, self.y, self.w, self.h


class OcrEngine(Protocol):
    def words(self, image: np.ndarray) -> list[Word]:
        """Words in a ``(h, w)`` uint8 grayscale image (dark text on a light ground)."""
        ...


class OcrError(RuntimeError):
    """The OCR engine failed; the caller should drop (or quarantine) the frame."""


class TesseractOcr:
    """Debian's ``tesseract`` CLI over pipes: a PGM goes in on stdin, TSV comes back on
    stdout. No image ever touches the disk. ``OMP_THREAD_LIMIT=1`` keeps it to one core
    (and is ~3x faster than letting OpenMP spin)."""

    def __init__(self, *, psm: int = 11, lang: str = "eng", timeout_s: float = 30.0,
                 binary: str = "tesseract"):
        path = shutil.which(binary)
        if path is None:
            raise OcrError(f"{binary!r} not found; install it with "
                           f"'apt-get install tesseract-ocr' or turn off screenshots.ocr_mask")
        self.cmd = [path, "stdin", "stdout", "--psm", str(psm), "-l", lang, "tsv"]
        self.timeout_s = timeout_s
        self.env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def words(self, image: np.ndarray) -> list[Word]:
        h, w = image.shape
        pgm = b"P5\n%d %d\n255\n" % (w, h) + np.ascontiguousarray(image, dtype=np.uint8).tobytes()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            proc = subprocess.run(self.cmd, input=pgm, capture_output=True,
                                  timeout=self.timeout_s, env=self.env, check=False)
        except subprocess.TimeoutExpired:
            raise OcrError(f"tesseract took longer than {self.timeout_s:g} s") from None
        finally:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            STAGES.add("ocr_subprocess", int(1e9 * (after.ru_utime + after.ru_stime
                                                   - before.ru_utime - before.ru_stime)))
        if proc.returncode != 0:
            msg = proc.stderr.decode(errors="replace").strip()[-300:]
            raise OcrError(f"tesseract exited with {proc.returncode}: {msg}")
        return parse_tsv(proc.stdout.decode("utf-8", errors="replace"))


def parse_tsv(tsv: str) -> list[Word]:
    """Word rows (level 5, non-blank text) of Tesseract's TSV output."""
    out: list[Word] = []
    for line in tsv.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        try:
            x, y, w, h = (int(c) for c in cols[6:10])
            conf = float(cols[10])
        except ValueError:
            continue
        out.append(Word(text, x, y, w, h, conf))
    return out


def luminance(pixels: np.ndarray, rows_per_step: int = 64) -> np.ndarray:
    """uint8 luminance of a BGRX (uint32) image (computed a band of rows at a time, so
    a full screen needs no full-size temporaries)."""
    out = np.empty(pixels.shape, dtype=np.uint8)
    for y in range(0, pixels.shape[0], rows_per_step):
        p = pixels[y:y + rows_per_step].astype(np.uint32, copy=False)
        # (77 R + 150 G + 29 B) >> 8 in two multiplications: R and B side by side times
        # 77 + 29 << 16 puts 77 R + 29 B in the top half (29 R << 32 falls off, 77 B stays
        # in the bottom half); G << 8 times 150 << 8 adds 150 G there. The sum is below
        # 65536, so the top byte is the luminance.
        acc = p & 0xFF00FF
        acc *= 0x1D004D
        g = p & 0xFF00
        g *= 0x9600
        acc += g
        acc >>= 24
        out[y:y + rows_per_step] = acc
    return out


def to_ocr_gray(pixels: np.ndarray, tile: int = 64) -> np.ndarray:
    """uint8 luminance of a BGRX crop, with each ``tile`` block flipped to dark-on-light
    when its mean is dark (Tesseract reads dark text on light grounds best and fastest;
    terminals are usually the reverse)."""
    gray = luminance(pixels)
    h, w = gray.shape
    rows, cols = -(-h // tile), -(-w // tile)
    sums = np.zeros((rows * tile, cols * tile), dtype=np.uint32)
    sums[:h, :w] = gray
    counts = np.zeros((rows * tile, cols * tile), dtype=np.uint32)
    counts[:h, :w] = 1
    block_sum = sums.reshape(rows, tile, cols, tile).sum(axis=(1, 3))
    block_n = counts.reshape(rows, tile, cols, tile).sum(axis=(1, 3))
    dark = block_sum < 128 * np.maximum(block_n, 1)
    flip = np.repeat(np.repeat(dark, tile, axis=0), tile, axis=1)[:h, :w]
    return np.where(flip, 255 - gray, gray).astype(np.uint8)


def upscale(gray: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upscaling; Tesseract reads small UI text much better at 2x."""
    if factor == 1:
        return gray
    h, w = gray.shape
    img = Image.fromarray(gray, mode="L").resize((w * factor, h * factor), Image.BILINEAR)
    return np.asarray(img)


# --- lines, spans and boxes ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Line:
    """Words on one visual line, joined by single spaces; ``starts[i]`` is the offset of
    ``words[i]`` in ``text``."""

    words: tuple[Word, ...]
    text: str
    starts: tuple[int, ...]

    def words_in(self, start: int, end: int) -> list[Word]:
        """Words overlapping the character span ``[start, end)``."""
        return [w for w, s in zip(self.words, self.starts) if s < end and start < s + len(w.text)]


def group_lines(words: Iterable[Word], gap_factor: float = 3.0) -> list[Line]:
    """Group words into visual lines by vertical overlap, left to right; a horizontal gap
    wider than ``gap_factor`` x the line height starts a new line (separate columns)."""
    rows: list[list[Word]] = []
    spans: list[list[int]] = []  # [top, bottom] of the words in each row so far
    for w in sorted(words, key=lambda w: (w.y + w.h / 2, w.x)):
        cy = w.y + w.h / 2
        for row, span in zip(reversed(rows[-3:]), reversed(spans[-3:])):
            top, bottom = span
            if top <= cy <= bottom and w.y < bottom and top < w.y + w.h:
                row.append(w)
                span[0], span[1] = min(top, w.y), max(bottom, w.y + w.h)
                break
        else:
            rows.append([w])
            spans.append([w.y, w.y + w.h])
    lines: list[Line] = []
    for row in rows:
        row.sort(key=lambda w: w.x)
        height = max(1, max(w.h for w in row))
        seg: list[Word] = [row[0]]
        for prev, cur in zip(row, row[1:]):
            if cur.x - (prev.x + prev.w) > gap_factor * height:
                lines.append(_line(seg))
                seg = []
            seg.append(cur)
        lines.append(_line(seg))
    return lines


def wrapped_pairs(lines: Sequence[Line]) -> list[tuple[Line, Line]]:
    """Pairs of lines where the second may continue the first (a wrapped value): the
    second starts right below the first, at about the same left edge or at the left edge
    of the first line's last word's column."""
    tops = sorted((min(w.y for w in b.words), i) for i, b in enumerate(lines))
    keys = [t for t, _ in tops]
    out = []
    for a in lines:
        ax0 = a.words[0].x
        ah = max(w.h for w in a.words)
        abottom = max(w.y + w.h for w in a.words)
        below = sorted(i for _, i in tops[bisect_left(keys, abottom):bisect_right(keys, abottom + ah)])
        for i in below:
            b = lines[i]
            if b is not a and abs(b.words[0].x - ax0) <= 2 * ah:
                out.append((a, b))
    return out


def join_lines(a: Line, b: Line) -> Line:
    """``a`` followed by ``b`` with nothing between its last and ``b``'s first word."""
    text = a.text + b.text
    starts = a.starts + tuple(len(a.text) + s for s in b.starts)
    return Line(a.words + b.words, text, starts)


#: words closer than this x their line's height (and than half the line's usual space)
#: have no space between them: OCR put one inside a token it read
GLUE_GAP = 0.15
#: a piece of a token cut in two: long, and letters of both cases or letters and digits
#: (what OCR's token rules look at in a line with the cut closed)
_TOKENISH = re.compile(r"(?=\S*[A-Za-z])(?=\S*(?:\d|[a-z]\S*[A-Z]|[A-Z]\S*[a-z]))[A-Za-z0-9_+=-]{12,}")


def glue_gap(words: Sequence[Word]) -> float:
    """The widest gap between two of a line's ``words`` (two or more) that is no space:
    at most a pixel; or a fraction of the height below half the line's usual space."""
    gaps = sorted(b.x - (a.x + a.w) for a, b in zip(words, words[1:]))
    return max(1, min(GLUE_GAP * max(w.h for w in words), gaps[len(gaps) // 2] / 2))


def glue_touching(line: Line) -> Line | None:
    """``line`` with the words that (nearly) touch joined without a space; None when no
    two do."""
    words = line.words
    if len(words) < 2:
        return None
    gaps = [b.x - (a.x + a.w) for a, b in zip(words, words[1:])]
    most = glue_gap(words)
    glue = [g <= most for g in gaps]
    if not any(glue):
        return None
    starts, pos, parts = [0], len(words[0].text), [words[0].text]
    for w, g in zip(words[1:], glue):
        pos += 0 if g else 1
        starts.append(pos)
        parts.append(w.text if g else " " + w.text)
        pos += len(w.text)
    return Line(words, "".join(parts), tuple(starts))


def _line(words: list[Word]) -> Line:
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w.text) + 1
    return Line(tuple(words), " ".join(w.text for w in words), tuple(starts))


# OCR confuses these glyphs; both sides of a known-value match are folded onto one class.
_CONFUSABLE = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1",
                             "|": "1", "i": "1", "!": "1", "S": "5", "s": "5", "B": "8",
                             "Z": "2", "z": "2", "G": "6", "q": "9", "g": "9",
                             "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                             "\u2014": "-", "\u2013": "-"})


def _fold(text: str) -> tuple[str, list[int]]:
    """Whitespace removed and confusable glyphs folded, with the original index of each
    remaining character (OCR adds and drops spaces inside long tokens)."""
    chars, index = [], []
    for i, c in enumerate(text):
        if c.isspace():
            continue
        chars.append(c)
        index.append(i)
    return "".join(chars).translate(_CONFUSABLE), index


def _approx_ends(pattern: str, text: str, k: int) -> list[int]:
    """End positions (exclusive) in ``text`` where ``pattern`` matches with at most ``k``
    edits (Sellers' dynamic programme: a match may start anywhere)."""
    m = len(pattern)
    prev = list(range(m + 1))
    ends = []
    for j, c in enumerate(text, 1):
        cur = [0]
        for i in range(1, m + 1):
            cost = 0 if pattern[i - 1] == c else 1
            cur.append(min(prev[i - 1] + cost, prev[i] + 1, cur[i - 1] + 1))
        if cur[m] <= k:
            ends.append(j)
        prev = cur
    return ends


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j - 1] + (ca != cb), prev[j] + 1, cur[j - 1] + 1))
        prev = cur
    return prev[-1]


def _distances_ending_at(pattern: str, text: str, lo: int, end: int) -> list[int]:
    """``out[j]``: the edit distance of ``pattern`` and ``text[end - j:end]``, for every
    ``j`` up to ``end - lo`` (one table over the reversed strings, instead of one per
    start)."""
    rp, seg, m = pattern[::-1], text[lo:end][::-1], len(pattern)
    col = list(range(m + 1))
    out = [m]
    for c in seg:
        new = [col[0] + 1]
        for i in range(1, m + 1):
            new.append(min(col[i - 1] + (rp[i - 1] != c), col[i] + 1, new[i - 1] + 1))
        col = new
        out.append(col[m])
    return out


def _fuzzy_spans(pattern: str, text: str, k: int) -> list[tuple[int, int]]:
    """Spans of ``text`` within ``k`` edits of ``pattern``; of overlapping candidates only
    the closest ones are kept (an exact match does not swallow its neighbours)."""
    m = len(pattern)
    found = set()
    for end in _approx_ends(pattern, text, k):
        lo = max(0, end - m - k)
        dist = _distances_ending_at(pattern, text, lo, end)
        found.update((st, end, dist[end - st]) for st in range(lo, max(0, end - m + k) + 1))
    cands = sorted(found)
    cands = [c for c in cands if c[2] <= k]
    out: list[tuple[int, int]] = []
    cluster: list[tuple[int, int, int]] = []
    for c in cands + [(len(text) + 1, len(text) + 1, -1)]:
        if cluster and c[0] >= max(e for _, e, _ in cluster):
            best = min(d for _, _, d in cluster)
            keep = [(st, e) for st, e, d in cluster if d == best]
            out.append((min(st for st, _ in keep), max(e for _, e in keep)))
            cluster = []
        cluster.append(c)
    return out


def _fragments(fv: str, folded: str, index: list[int], min_len: int) -> list[tuple[int, int]]:
    """Spans (in ``folded``) of a prefix or a suffix of ``fv``, at least ``min_len``
    characters, that starts and ends where a word starts and ends: a value shown while it
    is being typed, or the visible tail of a value in a narrow field."""
    def boundary(i: int) -> bool:  # a word boundary between folded[i-1] and folded[i]
        return i <= 0 or i >= len(folded) or index[i] - index[i - 1] > 1

    out = []
    head = fv[:min_len]
    st = folded.find(head)
    while st >= 0:
        k = min_len
        while k < len(fv) and st + k < len(folded) and folded[st + k] == fv[k]:
            k += 1
        if boundary(st) and boundary(st + k):
            out.append((st, st + k))
        st = folded.find(head, st + 1)
    tail = fv[-min_len:]
    e = folded.find(tail)
    while e >= 0:
        end = e + min_len
        k = min_len
        while k < len(fv) and end - k - 1 >= 0 and folded[end - k - 1] == fv[-k - 1]:
            k += 1
        if boundary(end - k) and boundary(end):
            out.append((end - k, end))
        e = folded.find(tail, e + 1)
    return out


#: a known value of ``fuzzy_len`` characters or more may differ by one edit per this many
#: characters (Tesseract misreads two or three glyphs of a 12-character password in 8-9 px
#: text a person reads without trouble)
FUZZY_CHARS_PER_EDIT = 5


def known_value_spans(text: str, values: Sequence[str], *, min_len: int = 4,
                      fuzzy_len: int = 8, fragment_len: int = 6,
                      edits: Callable[[int], int] | None = None) -> list[tuple[int, int]]:
    """Character spans of ``text`` that show one of ``values``.

    Case-sensitive, but tolerant to OCR noise: whitespace is ignored (OCR adds and drops
    spaces, a wrapped value is joined), confusable glyphs (O/0, l/1/I, S/5, ...) are
    folded, and values of ``fuzzy_len`` or more characters may differ by one edit per
    ``FUZZY_CHARS_PER_EDIT`` characters (small text misreads a few glyphs of a value;
    ``edits`` gives another number of edits for a value's length).
    A whole word that is a prefix or a suffix of such a value,
    ``fragment_len`` characters or more, counts too (a value still being typed, or
    scrolled in a narrow field). Values shorter than ``min_len`` are skipped (they would
    match everywhere).
    """
    folded, index = _fold(text)
    if not folded:
        return []
    spans: list[tuple[int, int]] = []
    for value in values:
        fv, _ = _fold(value)
        if len(fv) < min_len:
            continue
        if len(fv) >= fuzzy_len:
            k = edits(len(fv)) if edits is not None else len(fv) // FUZZY_CHARS_PER_EDIT
            # k edits leave one of k+1 pieces intact: a cheap exact filter
            step = len(fv) // (k + 1)
            pieces = [fv[i * step:(i + 1) * step] for i in range(k)] + [fv[k * step:]]
            found = _fuzzy_spans(fv, folded, k) if any(p in folded for p in pieces) else []
            if len(fv) > fragment_len:
                found += _fragments(fv, folded, index, fragment_len)
        else:
            found = [m.span() for m in re.finditer(re.escape(fv), folded)]
        spans.extend((index[st], index[e - 1] + 1) for st, e in found if e > st)
    spans = sorted(set(spans), key=lambda sp: (sp[0], -sp[1]))
    return [sp for i, sp in enumerate(spans)  # drop spans inside another one
            if not any(o[0] <= sp[0] and sp[1] <= o[1] for o in spans[:i])]


# Detectors for what OCR garbles: a misread glyph (AKIAITOSF... with 17 characters) makes
# the exact text rules miss a key, so token-shaped words are masked as well.
_OCR_TOKENS = [
    ("AWS_ACCESS_KEY", re.compile(r"(?:AKIA|ASIA|AK1A|AKlA|A5IA)(?: ?[A-Z0-9]){12,20}")),
    ("CREDIT_CARD", re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?!\d)")),  # Luhn may fail
    ("TOKEN_LIKE", re.compile(
        r"(?<![A-Za-z0-9_+=-])(?=[A-Za-z0-9_+=-]*\d)(?=[A-Za-z0-9_+=-]*[A-Za-z])"
        r"[A-Za-z0-9_+=-]{20,}")),
    # an address whatever its domain, with OCR's spaces, and '@' read as a look-alike
    ("EMAIL_ADDRESS", re.compile(
        r"[A-Za-z0-9._%+-]+ ?[@\u00a9\u00ae] ?[A-Za-z0-9-]+(?: ?\. ?[A-Za-z0-9-]+)+")),
    ("EMAIL_ADDRESS", re.compile(r"[A-Za-z0-9._%+-]*[a-z]S[a-z0-9-]+(?:\.[A-Za-z0-9-]+)+")),
    # an IBAN or an SSN with a space OCR put inside, or a digit it doubled
    ("IBAN_CODE", re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,30}(?![A-Za-z0-9])")),
    ("US_SSN", re.compile(r"(?<![\d-])\d(?: ?\d){2} ?- ?\d(?: ?\d){1,2} ?- ?\d(?: ?\d){3}(?![\d-])")),
]
def ocr_token_spans(text: str) -> list[tuple[int, int, str]]:
    """Token-shaped runs (20+ letters and digits mixed, AWS key prefixes, 13-19 digit
    numbers whatever their checksum) and addresses, IBANs and SSNs as OCR garbles them
    (spaces inside, look-alike glyphs) in OCR'd text."""
    return [(m.start(), m.end(), entity) for entity, rx in _OCR_TOKENS for m in rx.finditer(text)]


# a run of digits and glyphs that look like digits, single spaces or dashes between them
_DIGITISH = re.compile(r"[0-9ODQoIl|i!SsBZzGgq](?:[ -]?[0-9ODQoIl|i!SsBZzGgq])+")
_TO_DIGIT = str.maketrans({"O": "0", "D": "0", "Q": "0", "o": "0", "I": "1", "l": "1", "|": "1",
                           "i": "1", "!": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2",
                           "G": "6", "g": "9", "q": "9"})


def fold_digit_lookalikes(text: str) -> str | None:
    """``text`` with the glyphs that look like digits (O/0, l/I/1, S/5, B/8 ...) made
    digits inside every run of such glyphs that holds a digit (``4lll l1l1 ...``: a number
    read, or learnt, in a font where 1 and l are drawn alike); the same length. None when
    nothing changes."""
    out, changed = list(text), False
    for m in _DIGITISH.finditer(text):
        run = m.group()
        if not any(c.isdigit() for c in run):
            continue
        folded = run.translate(_TO_DIGIT)
        if folded != run:
            out[m.start():m.end()] = folded
            changed = True
    return "".join(out) if changed else None


_PUNCT_SPACE = re.compile(r"(?<=[.@/_-]) +| +(?=[.@/_-])")


def close_punct_gaps(text: str) -> tuple[str, list[int]] | None:
    """``text`` without the spaces OCR puts next to ``. @ / _ -`` (``alice. smith@x.
    com``), with the original index of each kept character; None if there are none."""
    if not _PUNCT_SPACE.search(text):
        return None
    keep = [True] * len(text)
    for m in _PUNCT_SPACE.finditer(text):
        for i in range(m.start(), m.end()):
            keep[i] = False
    index = [i for i, k in enumerate(keep) if k]
    return "".join(text[i] for i in index), index


_KEY_BEGIN = re.compile(r"BEGIN[A-Z0-9 ]{0,30}PRIVATE\s*KEY", re.I)
_KEY_END = re.compile(r"-{2,}\s*END\b|END[A-Z0-9 ]{0,30}PRIVATE\s*KEY", re.I)


def private_key_lines(lines: Sequence[Line]) -> list[int]:
    """Indices of lines inside a ``BEGIN ... PRIVATE KEY`` block (header to footer; to the
    bottom when the footer is not on screen). Lines are ordered top to bottom; key bodies
    are never matched by per-line detectors."""
    out: list[int] = []
    inside_x: tuple[int, int] | None = None
    for i, line in enumerate(lines):
        if _KEY_BEGIN.search(line.text):
            first = line.words[0]
            inside_x = (first.x - 4 * first.h, first.x + 4 * first.h)
            out.append(i)
            continue
        if inside_x is not None:
            x = line.words[0].x
            if inside_x[0] <= x <= inside_x[1]:  # the same column
                out.append(i)
                if _KEY_END.search(line.text):
                    inside_x = None
    return out


#: Reason of a box masked because it follows a password prompt on its line.
PROMPT_ANSWER = "PROMPT_ANSWER"


@dataclass(frozen=True, slots=True)
class Hit:
    """A box to black out (screen coordinates, unpadded) and why."""

    rect: Rect
    entity: str


def whole_glyphs(gray: np.ndarray, rect: Rect) -> Rect:
    """``rect`` widened, each side by at most its height, until the column beyond it holds
    no ink over its rows: OCR's word box can end inside a glyph (the last stroke of an
    ``E`` left out), and a box blacked out must leave no part of a glyph it cut readable.
    Ink is what stands farther from the ground (the commonest grey around the box) than
    ``1/FRINGE`` of the strongest contrast there, as :mod:`.glyphs` parts glyphs; a row
    of it across the whole band is a rule (a table's border), not a glyph."""
    from .glyphs import FRINGE

    h, w = gray.shape
    box = clip_rect(rect, w, h)
    if box is None:
        return rect
    x, y, bw, bh = box
    lo, hi = max(0, x - bh), min(w, x + bw + bh)
    band = gray[y:y + bh, lo:hi]
    ground = int(np.bincount(band.ravel(), minlength=256).argmax())
    diff = np.abs(band.astype(np.int16) - ground)
    marks = diff > max(1, int(diff.max()) // FRINGE)
    marks &= ~marks.all(axis=1, keepdims=True)  # a rule across the band (a border) is no glyph
    ink = marks.any(axis=0)  # per column, lo..hi
    left, right = x - lo, x + bw - lo  # the box's first column and the one past its last
    while left > 0 and ink[left - 1]:
        left -= 1
    while right < len(ink) and ink[right]:
        right += 1
    x0, x1 = min(rect[0], lo + left), max(rect[0] + rect[2], lo + right)
    return x0, rect[1], x1 - x0, rect[3]


def _span_hits(words: Sequence[Word], entity: str) -> list[Hit]:
    """The boxes of the words of one value, and of the gap between two of them side by
    side on a line: OCR's word boxes can leave out a thin glyph between them (the ``!``
    of ``Quartz!Moon46`` read as two words, the ``.`` of an address)."""
    hits = [Hit(w.rect, entity) for w in words]
    for a, b in zip(words, words[1:]):
        top, bottom = min(a.y, b.y), max(a.y + a.h, b.y + b.h)
        if b.x > a.x + a.w and min(a.y + a.h, b.y + b.h) > max(a.y, b.y):
            hits.append(Hit((a.x + a.w, top, b.x - a.x - a.w, bottom - top), entity))
    return hits


#: a piece of a token OCR parted from the rest: 6+ characters of a token's alphabet, with
#: a digit or a lower-case letter followed by a capital (``ghp_O9UGgD1``, ``avET1LOzx``;
#: not ``Invoice``, not ``weekly``)
_TOKEN_PIECE = re.compile(r"(?=\S*(?:\d|[a-z]\S*[A-Z]))[A-Za-z0-9_+/=.-]{6,}")


def default_engine() -> OcrEngine:
    """libtesseract in-process when it loads, else the Tesseract CLI."""
    try:
        from .tesseract_lib import TesseractLib
        return TesseractLib()
    except OcrError:
        return TesseractOcr()


@dataclass(frozen=True, slots=True)
class _CaretOnly:
    """An earlier line's words standing for the same line with a text cursor drawn on."""

    words: tuple[Word, ...]


def _within_rows(words: Iterable[Word], dy: int, h: int) -> tuple[Word, ...]:
    """``words`` moved ``dy`` rows, their boxes clipped to rows ``0..h`` (words taken
    over from a line found a row higher or lower stay inside the new one's rows)."""
    out = []
    for wd in words:
        y0, y1 = max(0, wd.y + dy), min(h, wd.y + dy + wd.h)
        if y1 > y0:
            out.append(Word(wd.text, wd.x, y0, wd.w, y1 - y0, wd.conf))
    return tuple(out)


def _digest(crop: np.ndarray, width: int) -> bytes:
    """The read cache's key of a crop: the digest of its pixels and its width (fed one
    after the other, without copying them into one string)."""
    digest = hashlib.blake2b(np.ascontiguousarray(crop), digest_size=16)
    digest.update(width.to_bytes(4, "little"))
    return digest.digest()


def only_rules_around(crop: np.ndarray, rect: Rect) -> bool:
    """Whether everything in ``crop`` outside ``rect`` (inside it, in its coordinates)
    is ground and rules, exactly: each row above and below ``rect`` one colour over its
    columns, each column beside it one colour over its rows, and each pixel of the
    corners the colour of its row there or of its column there (a field's border running
    round a line). Any other pixel (a glyph, faint or not) makes it False."""
    x, y, w, h = rect
    rows = np.r_[0:y, y + h:crop.shape[0]]
    cols = np.r_[0:x, x + w:crop.shape[1]]
    band = crop[rows, x:x + w]        # above and below, over the rect's columns
    side = crop[y:y + h][:, cols]     # beside, over its rows
    if (band != band[:, :1]).any() or (side != side[:1]).any():
        return False
    if not len(rows) or not len(cols):
        return True
    corner = crop[np.ix_(rows, cols)]
    return bool(((corner == band[:, :1]) | (corner == side[:1])).all())


#: lines up to this tall are kept to be compared with their next reading
MAX_REUSE_ROWS = 44
#: rows kept above and below a line (the finder may place the same line a row off)
REUSE_CONTEXT = 3
#: earlier lines (the latest that overlap) a changed line is compared with
REUSE_SOURCES = 6


#: a word read in a line's new part this close (x the line's rows) to one taken over is the
#: same word: reading the part alone cut it where no space is (a token typed or changed
#: in the middle would be two short words, neither one a token)
JOIN_GAP = 0.1


def _joined_gap(rows: int) -> int:
    return max(1, round(JOIN_GAP * rows))


def _join_words(a: Word, b: Word) -> Word:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    return Word(a.text + b.text, x0, y0, x1 - x0, y1 - y0, min(a.conf, b.conf))


#: a line fewer rows tall than this (its padding included) is small type: Tesseract misreads
#: such text a person reads without trouble, and the first reading is not the only one
SMALL_TEXT_ROWS = 14
#: a word Tesseract gives less confidence than this is a reading it is unsure of
UNSURE_CONF = 80.0
#: small type read unsure (or read as nothing) is read again at this upscale, and both
#: readings are judged (:meth:`TextMasker._second_read`)
SECOND_SCALE = 5
#: second readings kept by the pixels they were read from
SECOND_CACHE = 1024


def _relative(read: Sequence[Word], s: int, seg, margin: int = 6) -> list[Word]:
    """Words OCR read in a segment's crop (upscaled ``s`` times, ``margin`` white pixels
    around: :func:`.text_lines.segment_crop`) as boxes relative to the segment."""
    out = []
    for wd in read:
        x0 = max(0, (wd.x - margin) // s)
        y0 = max(0, (wd.y - margin) // s)
        x1 = min(seg.w, -(-(wd.x + wd.w - margin) // s))
        y1 = min(seg.h, -(-(wd.y + wd.h - margin) // s))
        if x1 > x0 and y1 > y0:
            out.append(Word(wd.text, x0, y0, x1 - x0, y1 - y0, wd.conf))
    return out


class TextMasker:
    """Masks sensitive text in frames with OCR + the text :class:`Redactor`.

    ``mask(pixels, regions, known_values)``: ``regions`` are rectangles that changed
    since the previous frame given to this masker (``None`` = the whole screen). In them
    a cheap detector (:mod:`.text_lines`) finds the segments of text lines (blocks of
    lines cut into their lines where they part); each segment is read once per distinct
    content - OCR results are cached by a digest of the segment's pixels, so text that
    scrolls, moves or comes back (a window switched to again) is not read twice. A line
    that is new as a whole but edited in places (a key typed before or inside it, a
    blinking cursor) is compared with the lines read lately at its rows: the words whose
    pixels and surroundings are identical, shifted or not, are taken over and the other
    columns are read (:mod:`.line_reuse`); a segment that holds a line read before and
    nothing but ground and rules around it (a field found with its sides) takes that
    line's words (:meth:`_inner_line`). Words
    found in earlier frames outside the changed regions are reused, so detection always
    covers the whole screen while OCR covers only new text. A line of small type that
    Tesseract read unsure of itself is read a second time at another scale, and both
    readings are judged (:meth:`_second_read`). ``known_values`` are strings
    the input side knows to be secret (values the text redactor caught, swallowed
    passwords); they are matched in the OCR'd text too. One instance per frame stream;
    not thread-safe.
    """

    def __init__(self, redactor: "Redactor", engine: OcrEngine | None = None, *,
                 scale: int | None = None, pad: int = 2, full_ratio: float = 0.6,
                 line_gap_factor: float = 3.0, cache_size: int = 4096,
                 reuse_bytes: int = 2 << 20, glyphs: bool = True):
        from .glyphs import GlyphReader

        self.redactor = redactor
        #: lines read from the glyphs OCR read before (None: OCR reads every line)
        self.glyphs = GlyphReader() if glyphs else None
        self.engine: OcrEngine = engine if engine is not None else default_engine()
        self.scale = scale
        self.pad = pad
        self.full_ratio = full_ratio
        self.line_gap_factor = line_gap_factor
        self.cache_size = cache_size
        self._words: list[Word] = []
        #: second readings of small type (:meth:`_second_read`), in screen coordinates:
        #: judged as lines of their own, beside the first readings
        self._second_words: list[Word] = []
        self._second_cache: "OrderedDict[bytes, tuple[Word, ...]]" = OrderedDict()
        self._shape: tuple[int, int] | None = None
        #: the luminance of the frame given last, as OCR sees it (black where hidden)
        self._gray: np.ndarray | None = None
        #: the last answer of detection: (words it judged, known values, hits)
        self._last_hits: tuple[frozenset[Word], tuple[str, ...], list[Hit]] | None = None
        self._detect_cache: dict[str, list[tuple[int, int, str]]] = {}
        self._spans_cache: dict[str, list[tuple[int, int, str]]] = {}
        self._known_cache: dict[tuple[str, tuple[str, ...]], list[tuple[int, int]]] = {}
        self._read_cache: "OrderedDict[bytes, tuple[Word, ...]]" = OrderedDict()
        #: lines settled to their text rows lately (:func:`.text_lines.find_segments`)
        self._settled: "OrderedDict[bytes, list[Rect]]" = OrderedDict()
        #: lines read lately: segment rect -> (screen row of its first kept row, the
        #: kept rows, its words relative to the segment, the :func:`.line_reuse.index`
        #: of its rows by (first row, rows) compared), oldest first
        self._lines: "OrderedDict[Rect, tuple[int, np.ndarray, tuple[Word, ...], dict, int]]" = OrderedDict()
        self._line_bytes = 0
        #: the rects of ``_lines`` by the screen row of their first kept row, the number
        #: each was kept as (a later one is newer), and the most rows any is kept with
        self._lines_at: dict[int, set[Rect]] = {}
        self._line_seq = 0
        self._line_rows = 0
        self.reuse_bytes = reuse_bytes
        self.partial_reads = 0
        self.reused_words = 0
        self.caret_reads = 0
        #: segments read as a line inside them read before (:meth:`_inner_line`)
        self.inner_reads = 0
        self.ocr_calls = 0
        self.ocr_pixels = 0
        self.cache_hits = 0
        #: Tesseract calls that read small type a second time (counted in ``ocr_calls`` too)
        self.second_reads = 0

    def reset(self) -> None:
        """Forget the previous frame: the next call looks at the whole screen."""
        self._words, self._shape, self._gray = [], None, None
        self._second_words = []

    def close(self) -> None:
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def mask(self, pixels: np.ndarray, regions: Sequence[Rect] | None = None,
             known_values: Sequence[str] = ()) -> np.ndarray:
        """A copy of ``pixels`` with sensitive words blacked out (``pixels`` itself when
        nothing was found). Raises :class:`OcrError` when OCR fails - drop the frame."""
        hits = self.find(pixels, regions, known_values)
        return blackout(pixels, self._boxes(hits))

    def mask_frame(self, frame: "MaskedFrame", regions: Sequence[Rect] | None = None,
                   known_values: Sequence[str] = ()) -> "MaskedFrame":
        """:meth:`mask` without copying the frame: the grab stays as it is and the word
        boxes join the rectangles to black out (the encoder masks tile by tile). What
        ``frame`` blacks out already is read as black. ``regions`` must cover where its
        rectangles changed since the previous frame (they hide or reveal text)."""
        hits = self.find(frame.pixels, regions, known_values, hide=frame.rects)
        return MaskedFrame(frame.pixels, frame.rects + tuple(self._boxes(hits)))

    def _boxes(self, hits: Sequence[Hit]) -> list[Rect]:
        """What is blacked out for ``hits``: each box carried on to the end of the ink its
        sides cut through (:func:`whole_glyphs`), then padded."""
        gray = self._gray
        if gray is None:
            return [pad_rect(h.rect, self.pad) for h in hits]
        return [pad_rect(whole_glyphs(gray, h.rect), self.pad) for h in hits]

    def find(self, pixels: np.ndarray, regions: Sequence[Rect] | None = None,
             known_values: Sequence[str] = (), hide: Sequence[Rect] = ()) -> list[Hit]:
        """The boxes :meth:`mask` blacks out. Detection is a function of the words on
        screen and the known values only: when neither changed since the last frame (no
        new text was read), its answer is reused."""
        self._update_words(pixels, regions, hide)
        known = tuple(known_values)
        last = self._last_hits
        # a re-read of the same text gives the same words
        words = (frozenset(self._words), frozenset(self._second_words))
        if last is not None and last[1] == known and last[0] == words:
            return list(last[2])
        with STAGES.measure("text_detection"):
            hits = self._hits(group_lines(self._words, self.line_gap_factor), known)
            if self._second_words:  # small type read again: either reading masks
                seen = {h.rect for h in hits}
                hits += [h for h in self._hits(group_lines(self._second_words, self.line_gap_factor), known)
                         if h.rect not in seen]
        self._last_hits = (words, known, hits)
        return list(hits)

    # -- OCR of new text in changed regions ----------------------------------------------
    def _update_words(self, pixels: np.ndarray, regions: Sequence[Rect] | None,
                      hide: Sequence[Rect] = ()) -> None:
        from .text_lines import find_segments, lines_to_read

        h, w = pixels.shape
        if regions is None or self._shape != (h, w):
            boxes: list[Rect] = [(0, 0, w, h)]
        else:
            boxes = [c for c in (clip_rect(r, w, h) for r in merge_rects(regions)) if c]
        if sum(b[2] * b[3] for b in boxes) >= self.full_ratio * w * h:
            boxes = [(0, 0, w, h)]
        if not boxes:
            self._shape = (h, w)
            return
        try:
            with STAGES.measure("text_find"):
                gray = self._gray_of(pixels, boxes, hide)
                segments = find_segments(gray, boxes, memo=self._settled)
                reads = lines_to_read(gray, segments)  # blocks of lines, line by line
            fresh: list[Word] = []
            second: list[Word] = []
            for seg in reads:
                got = self._read(gray, seg)
                fresh.extend(got)
                second.extend(self._second_read(gray, seg, got))
        except BaseException:
            self.reset()  # the words no longer match any frame
            raise
        touched = boxes + [s.rect for s in segments] + [s.rect for s in reads]
        kept = [wd for wd, hit in zip(self._words, _touching(self._words, touched)) if not hit]
        self._words, self._shape = kept + fresh, (h, w)
        if self._second_words or second:
            kept = [wd for wd, hit in zip(self._second_words, _touching(self._second_words, touched)) if not hit]
            self._second_words = kept + second

    def _gray_of(self, pixels: np.ndarray, boxes: Sequence[Rect], hide: Sequence[Rect]) -> np.ndarray:
        """The luminance of ``pixels``, black inside ``hide``: the previous frame's with
        ``boxes`` computed again (outside them the screen, and what is hidden, is as it
        was: the contract of :meth:`find`'s ``regions``), or all of it when ``boxes`` is
        the whole screen (no previous frame). Text lines are followed across the whole
        width of the screen, so a frame that changed in one tile would otherwise need
        the luminance of full-width rows around it."""
        h, w = pixels.shape
        gray = self._gray
        if gray is None or gray.shape != (h, w):
            gray, boxes = np.empty((h, w), dtype=np.uint8), [(0, 0, w, h)]
        self._gray = None  # until it is whole again (an error midway leaves no stale rows)
        for x, y, bw, bh in boxes:
            gray[y:y + bh, x:x + bw] = luminance(pixels[y:y + bh, x:x + bw])
            for r in hide:
                x0, y0 = max(x, r[0]), max(y, r[1])
                x1, y1 = min(x + bw, r[0] + r[2]), min(y + bh, r[1] + r[3])
                if x1 > x0 and y1 > y0:
                    gray[y0:y1, x0:x1] = BLACK
        self._gray = gray
        return gray

    def _read(self, gray: np.ndarray, seg) -> list[Word]:
        """Words of one segment in screen coordinates, from the cache when the same
        pixels were read before; a line that changed in places takes over the words of
        its earlier reading where the pixels are the same (:mod:`.line_reuse`)."""
        crop = gray[seg.y:seg.y + seg.h, seg.x:seg.x + seg.w]
        key = _digest(crop, seg.w)
        rel = self._read_cache.get(key)
        if rel is not None:
            self.cache_hits += 1
            self._read_cache.move_to_end(key)
        else:
            rel, keep = self._inner_line(gray, seg, crop), True
            if rel is None:
                rel = self._reread(gray, seg, crop)
            if rel is None:
                rel = self._ocr(gray, seg)
            elif isinstance(rel, _CaretOnly):
                rel, keep = rel.words, False  # compare the next change with the line unmarked
            self._cache(key, rel)
            if not keep:
                return [Word(wd.text, seg.x + wd.x, seg.y + wd.y, wd.w, wd.h, wd.conf) for wd in rel]
        self._remember(gray, seg, rel)
        return [Word(wd.text, seg.x + wd.x, seg.y + wd.y, wd.w, wd.h, wd.conf) for wd in rel]

    def _inner_line(self, gray: np.ndarray, seg, crop: np.ndarray) -> tuple[Word, ...] | None:
        """The words of a line read before that is all there is to read in ``seg``: a
        line kept for reuse whose rect lies inside the segment's and whose pixels are in
        the read cache, with nothing but ground and rules around it (:func:`only_rules_around`).
        The finder gives a field's text rows, or the field with its sides when the box
        that changed holds them; the second is the first, read again for nothing. None
        when there is no such line."""
        if not self._lines:
            return None
        x0, y0, x1, y1 = seg.x, seg.y, seg.x + seg.w, seg.y + seg.h
        for top in range(max(0, y0 - REUSE_CONTEXT), y1):
            for lx, ly, lw, lh in self._lines_at.get(top, ()):
                if not (x0 <= lx and ly >= y0 and lx + lw <= x1 and ly + lh <= y1) \
                        or (lw, lh) == (seg.w, seg.h):
                    continue
                rel = self._read_cache.get(_digest(gray[ly:ly + lh, lx:lx + lw], lw))
                if rel is None or not only_rules_around(crop, (lx - x0, ly - y0, lw, lh)):
                    continue
                self.inner_reads += 1
                return tuple(Word(w.text, w.x + lx - x0, w.y + ly - y0, w.w, w.h, w.conf) for w in rel)
        return None

    def _cache(self, key: bytes, rel: tuple[Word, ...]) -> None:
        self._read_cache[key] = rel
        if len(self._read_cache) > self.cache_size:
            self._read_cache.popitem(last=False)

    def _glyph_crop(self, gray: np.ndarray, seg) -> tuple[np.ndarray | None, int]:
        """A line's crop for :mod:`.glyphs`, with a column of context each side where
        the screen has one (is a glyph cut there?), and where the line starts in it."""
        if self.glyphs is None or seg.multiline:
            return None, 0
        off = min(1, seg.x)
        return gray[seg.y:seg.y + seg.h, seg.x - off:seg.x + seg.w + 1], off

    def _glyph_read(self, gray: np.ndarray, seg) -> tuple[Word, ...] | None:
        """A line read from the glyphs OCR read before; None: OCR reads it."""
        line, off = self._glyph_crop(gray, seg)
        if line is None:
            return None
        with STAGES.measure("glyphs"):
            return self.glyphs.read(line, seg.y, off, seg.w)

    def _ocr(self, gray: np.ndarray, seg) -> tuple[Word, ...]:
        """OCR of one segment; word boxes relative to it. A line whose every glyph was
        read before is read from those (:mod:`.glyphs`), and what OCR reads of a line is
        learnt."""
        from .text_lines import segment_crop

        got = self._glyph_read(gray, seg)
        if got is not None:
            return got
        line, off = self._glyph_crop(gray, seg)
        with STAGES.measure("text_find"):
            image, s = segment_crop(gray, seg, scale=self.scale)
        self.ocr_calls += 1
        self.ocr_pixels += image.size
        with STAGES.measure("ocr"):
            # a block, not a line: bands of touching lines (or a line touching a
            # black box) come as one segment; on single lines it reads the same
            read = self.engine.words(image)
        rel_words = _relative(read, s, seg)
        if line is not None:
            with STAGES.measure("glyphs"):
                self.glyphs.learn(line, seg.y, off, seg.w, rel_words)
        return tuple(rel_words)

    def _second_read(self, gray: np.ndarray, seg, words: Sequence[Word]) -> list[Word]:
        """A second reading of a line of small type (fewer than ``SMALL_TEXT_ROWS`` rows)
        whose first reading has a word Tesseract is unsure of, or no word at all: read
        again at ``SECOND_SCALE``, in screen coordinates (nothing for other lines).
        Tesseract reads 8-9 px text at 2.5-3:1 as other words at one scale and as what a
        person reads at another, and which scale reads a line right changes from line to
        line: both readings are judged, so a value either one shows is masked. Kept by
        the line's pixels (a line seen again is not read a third time)."""
        from .text_lines import segment_crop

        if seg.multiline or seg.h >= SMALL_TEXT_ROWS:
            return []
        if words and not any(0 <= wd.conf < UNSURE_CONF for wd in words):
            return []
        crop = gray[seg.y:seg.y + seg.h, seg.x:seg.x + seg.w]
        if int(crop.max()) == int(crop.min()):
            return []
        key = _digest(crop, seg.w)
        rel = self._second_cache.get(key)
        if rel is None:
            with STAGES.measure("text_find"):
                image, s = segment_crop(gray, seg, scale=SECOND_SCALE)
            self.ocr_calls += 1
            self.second_reads += 1
            self.ocr_pixels += image.size
            with STAGES.measure("ocr"):
                rel = tuple(_relative(self.engine.words(image), s, seg))
            self._second_cache[key] = rel
            if len(self._second_cache) > SECOND_CACHE:
                self._second_cache.popitem(last=False)
        else:
            self._second_cache.move_to_end(key)
        return [Word(wd.text, seg.x + wd.x, seg.y + wd.y, wd.w, wd.h, wd.conf) for wd in rel]

    # -- lines read before, in places ------------------------------------------------------
    def _remember(self, gray: np.ndarray, seg, rel: tuple[Word, ...]) -> None:
        """Keep a line's pixels (with ``REUSE_CONTEXT`` rows above and below, so a line
        found a row higher or lower next time still falls inside) and its words."""
        if seg.h > MAX_REUSE_ROWS or seg.h * seg.w > 65536:
            return
        top = max(0, seg.y - REUSE_CONTEXT)
        rows = gray[top:seg.y + seg.h + REUSE_CONTEXT, seg.x:seg.x + seg.w].copy()
        old = self._lines.pop(seg.rect, None)
        if old is not None:
            self._line_bytes -= old[1].nbytes
            self._forget_line(old[0], seg.rect)
        self._line_seq += 1
        self._lines[seg.rect] = (top, rows, rel, {}, self._line_seq)
        self._lines_at.setdefault(top, set()).add(seg.rect)
        self._line_rows = max(self._line_rows, rows.shape[0])
        self._line_bytes += rows.nbytes
        while self._line_bytes > self.reuse_bytes and self._lines:
            rect, (t, r, _, _, _) = self._lines.popitem(last=False)
            self._line_bytes -= r.nbytes
            self._forget_line(t, rect)

    def _forget_line(self, top: int, rect: Rect) -> None:
        at = self._lines_at[top]
        at.discard(rect)
        if not at:
            del self._lines_at[top]

    def _reread(self, gray: np.ndarray, seg, crop: np.ndarray) -> "tuple[Word, ...] | _CaretOnly | None":
        """The words of a line that changed in places: those of an earlier reading of
        the same rows that stand (:func:`.line_reuse.plan`: identical pixels around each,
        shifted or not) plus a reading of the column spans that are new; or, when the
        line is an earlier one at the same place with a text cursor drawn on it
        (:func:`.line_reuse.caret_only`), that one's words. None when no earlier line
        covers enough of it (read it whole)."""
        from .line_reuse import Source, caret_only, index, plan
        from .text_lines import Segment

        if seg.h > MAX_REUSE_ROWS or not self._lines:
            return None
        with STAGES.measure("text_reuse"):
            sources, reads = [], []
            x0, x1, y0, y1 = seg.x, seg.x + seg.w, seg.y, seg.y + seg.h
            # the lines kept over these rows (their first row at most _line_rows above
            # the segment's last), newest first: as going through all of them backwards
            near = []
            for t in range(max(0, y1 - self._line_rows), y0 + 1):
                at = self._lines_at.get(t)
                if at:
                    near.extend((self._lines[r][4], r) for r in at)
            near.sort(reverse=True)
            for _, (ox, oy, ow, oh) in near:
                top, rows, rel, indexes, _ = self._lines[ox, oy, ow, oh]
                if ox >= x1 or x0 >= ox + ow or top > y0 or top + rows.shape[0] < y1:
                    continue
                old = rows[y0 - top:y1 - top]
                if ox == seg.x and ow == seg.w and caret_only(crop, old):
                    self.caret_reads += 1
                    return _CaretOnly(_within_rows(rel, oy - seg.y, seg.h))
                ix = indexes.get((y0 - top, seg.h))
                if ix is None:  # the same rows of an earlier line are compared again and again
                    ix = indexes[y0 - top, seg.h] = index(old)
                sources.append(Source(old, tuple((w.x, w.x + w.w) for w in rel), ox - seg.x, ix))
                reads.append((rel, oy - seg.y))
                if len(sources) >= REUSE_SOURCES:
                    break
            found = plan(crop, sources, margin=max(4, seg.h // 3)) if sources else None
        if found is None:
            return None
        words = []
        for si, i, d in found.taken:
            rel, dy = reads[si]
            words.append(Word(rel[i].text, rel[i].x + d, rel[i].y + dy, rel[i].w, rel[i].h, rel[i].conf))
        taken = set(words)
        text_h = seg.text_h or seg.h
        todo = []
        for a, b in found.spans:
            part = crop[:, a:b]
            if int(part.max()) == int(part.min()):
                continue  # one flat colour: no text
            key = _digest(part, int(b - a))
            todo.append((a, b, key, self._read_cache.get(key)))
        if any(got is None for *_, got in todo):
            whole = self._glyph_read(gray, seg)  # the whole line from glyphs: no span to read
            if whole is not None:
                return whole
        self.partial_reads += 1
        self.reused_words += len(words)
        for a, b, key, got in todo:
            if got is None:
                got = self._ocr(gray, Segment(seg.x + a, seg.y, b - a, seg.h, text_h))
                self._cache(key, got)
            else:
                self.cache_hits += 1
            got = [Word(wd.text, wd.x + a, wd.y, wd.w, wd.h, wd.conf) for wd in got]
            if got and words:  # a word read right against one taken over: no space was seen
                near = max((w for w in words if w.x + w.w <= got[0].x), key=lambda w: w.x + w.w, default=None)
                if near is not None and got[0].x - (near.x + near.w) <= _joined_gap(seg.h):
                    words.remove(near)
                    got[0] = _join_words(near, got[0])
            words.extend(got)
        words.sort(key=lambda w: w.x)
        for i in range(len(words) - 1, 0, -1):  # and a word taken over right after one read
            a_, b_ = words[i - 1], words[i]
            if b_ in taken and a_ not in taken and b_.x - (a_.x + a_.w) <= _joined_gap(seg.h):
                words[i - 1:i + 1] = [_join_words(a_, b_)]
        return _within_rows(words, 0, seg.h)

    # -- detection -----------------------------------------------------------------------
    def _detect(self, text: str) -> list[tuple[int, int, str]]:
        hit = self._detect_cache.get(text)
        if hit is None:
            hit = [(sp.start, sp.end, sp.entity) for sp in self.redactor.detect(text)]
            if len(self._detect_cache) > 4096:
                self._detect_cache.clear()
            self._detect_cache[text] = hit
        return hit

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        """Detector spans over the line as read and over the line with OCR's stray
        spaces around punctuation closed (mapped back to the line as read)."""
        hit = self._spans_cache.get(text)
        if hit is None:
            hit = self._line_spans(text)
            if len(self._spans_cache) > 4096:
                self._spans_cache.clear()
            self._spans_cache[text] = hit
        return hit

    def _line_spans(self, text: str) -> list[tuple[int, int, str]]:
        spans = self._detect(text) + ocr_token_spans(text)
        closed = close_punct_gaps(text)
        if closed is not None:
            joined, index = closed
            for st, e, ent in self._detect(joined) + ocr_token_spans(joined):
                spans.append((index[st], index[e - 1] + 1, ent))
        digits = fold_digit_lookalikes(text)
        if digits is not None:  # the same length: spans hold as they are
            spans += self._detect(digits) + ocr_token_spans(digits)
        return spans

    def _known(self, text: str, known_values: tuple[str, ...]) -> list[tuple[int, int]]:
        """:func:`known_value_spans`, kept by text and values (the lines that did not
        change are matched again whenever a word elsewhere changes)."""
        key = (text, known_values)
        hit = self._known_cache.get(key)
        if hit is None:
            hit = known_value_spans(text, known_values)
            if len(self._known_cache) > 4096:
                self._known_cache.clear()
            self._known_cache[key] = hit
        return hit

    def _value_hits(self, line: Line, words: list[Word], entity: str) -> list[Hit]:
        """The boxes of a value found in ``line`` (its ``words``), the words OCR parted
        from it included (:meth:`_whole_value`)."""
        return _span_hits(self._whole_value(line, words), entity)

    def _whole_value(self, line: Line, words: list[Word]) -> list[Word]:
        """``words`` (a value found in ``line``) with the words beside them that are part of
        the same value OCR parted: one that (nearly) touches it (:func:`glue_gap`: the
        ``.`` of ``dave.jones@...`` dropped inside the box of ``dave``), or a token piece
        beside a token piece (a proportional ``1`` before a capital read as a space). Else
        what OCR split off stays readable: the name before an address, the first
        characters of a token. (Ink between two boxes tells nothing: OCR's boxes start
        and end up to a few columns off the ink.)"""
        if not words:
            return words
        ws = line.words
        try:
            i0, i1 = ws.index(words[0]), ws.index(words[-1])
        except ValueError:
            return words
        touch = glue_gap(ws) if len(ws) > 1 else 1

        def joined(a: Word, b: Word) -> bool:
            gap = b.x - (a.x + a.w)
            if gap > max(a.h, b.h):
                return False
            return gap <= touch or bool(_TOKEN_PIECE.fullmatch(a.text) and _TOKEN_PIECE.fullmatch(b.text))

        while i0 > 0 and joined(ws[i0 - 1], ws[i0]):
            i0 -= 1
        while i1 + 1 < len(ws) and joined(ws[i1], ws[i1 + 1]):
            i1 += 1
        return list(ws[i0:i1 + 1])

    def _hits(self, lines: Sequence[Line], known_values: Sequence[str]) -> list[Hit]:
        known_values = tuple(known_values)
        hits: list[Hit] = []
        for line in lines:
            for start, end, entity in self._spans(line.text):
                hits.extend(self._value_hits(line, line.words_in(start, end), entity))
            glued = glue_touching(line)
            if glued is not None:  # a token OCR cut in two where no space shows
                for start, end, entity in ocr_token_spans(glued.text):
                    words = glued.words_in(start, end)
                    if any(_TOKENISH.fullmatch(w.text) for w in words):
                        hits.extend(self._value_hits(line, words, entity))
            if known_values:
                for start, end in self._known(line.text, known_values):
                    hits.extend(self._value_hits(line, line.words_in(start, end), "KNOWN_VALUE"))
            answer = answer_start(line.text)
            if answer is not None:  # what was typed at a password prompt, however it was read
                hits.extend(_span_hits(line.words_in(answer, len(line.text)), PROMPT_ANSWER))
        for i in private_key_lines(lines):
            hits.extend(_span_hits(lines[i].words, "PRIVATE_KEY"))
        for a, b in wrapped_pairs(lines):
            if answer_start(a.text) is not None:  # the answer goes on on the next line
                hits.extend(_span_hits(b.words, PROMPT_ANSWER))
            joined = join_lines(a, b)
            cut = len(a.text)
            # the text rules only: OCR's token heuristic would glue any two words together
            found = [(st, e, ent) for st, e, ent in self._detect(joined.text) if st < cut < e]
            if known_values:
                found += [(st, e, "KNOWN_VALUE") for st, e in self._known(joined.text, known_values)
                          if st < cut < e]
            for start, end, entity in found:
                hits.extend(_span_hits(joined.words_in(start, end), entity))
        unique: dict[Rect, Hit] = {}
        for h in hits:  # first reason wins: exact text rules come before OCR heuristics
            unique.setdefault(h.rect, h)
        return list(unique.values())


__all__ = [
    "Rect", "blackout", "tile_masks", "TileMasks", "MaskedFrame", "as_masked_frame",
    "out_of_scope_rects", "changed_regions", "merge_rects", "clip_rect",
    "Word", "OcrEngine", "OcrError", "TesseractOcr", "default_engine", "parse_tsv", "Line", "group_lines",
    "wrapped_pairs", "join_lines",
    "known_value_spans", "ocr_token_spans", "whole_glyphs", "glue_gap", "PROMPT_ANSWER", "close_punct_gaps", "private_key_lines", "Hit", "TextMasker",
]
