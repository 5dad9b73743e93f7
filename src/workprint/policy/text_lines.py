"""A cheap text detector: where on screen are lines of text, cut so that the same line
gives the same crop wherever it moves (for caching OCR by content).

Pure numpy over a grayscale (uint8) screen. Works on the parts of the screen that
changed: in each changed box, rows holding *ink* (pixels that differ from the local
background) form bands; a band is followed left and right across the whole screen and
cut into segments at wide gaps. Long vertical structures (window borders, scroll bars,
table rules, tall pictures) are not ink, so they neither glue lines together nor split a
band. Which rows a band gets depends on what else is in the changed box's columns (the
sides of a field make a band as tall as the field), so each line's segment is then
settled to its own text rows, without the solid lines around it (a field's or a
button's edges, a text cursor taller than the glyphs): the same line gives the same
segment whatever box found it. :func:`lines_to_read` cuts the blocks of lines among
the segments into their lines (where the finder misjudged a ground, a terminal's lines
come as one block), so each line is read, and cached, on its own.

:func:`segment_crop` turns one segment into the image OCR reads: dark text on white,
contrast stretched (grey on grey becomes black on white), upscaled so that small fonts
reach the size Tesseract reads best.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image

Rect = tuple[int, int, int, int]

#: a pixel is ink when it differs from its block's background by more than this (0-255);
#: text at 2.5:1 contrast differs by 60 or more in its cores
INK_DELTA = 28
#: vertical runs of ink at least this tall are structure (borders, rules, pictures)
STRUCTURE_RUN = 40
#: horizontal runs of ink at least this long are rules (outlines, underlines)
RULE_RUN = 48
#: bands lower than this are rules or noise; taller ones are read as a block of lines
MIN_BAND, MAX_LINE_BAND = 4, 44
#: a horizontal gap wider than this many text heights ends a segment
GAP_FACTOR = 1.6
BLOCK = 32
#: text whose ink differs from its background by less than this is contrast-stretched
STRETCH_BELOW = 160


@dataclass(frozen=True, slots=True)
class Segment:
    """One run of text on one line (or a block of touching lines) in screen coordinates."""

    x: int
    y: int
    w: int
    h: int
    #: the height of the text its upscale is chosen by (0: its own height)
    text_h: int = 0

    def __post_init__(self) -> None:
        # plain ints, whatever numpy arithmetic found them: a numpy int reaching the line
        # reuse (``int.to_bytes`` of a span's width) stopped the OCR thread
        for name in ("x", "y", "w", "h", "text_h"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def rect(self) -> Rect:
        return self.x, self.y, self.w, self.h

    @property
    def multiline(self) -> bool:
        return self.h > MAX_LINE_BAND


def _count(mask: np.ndarray, axis: int) -> np.ndarray:
    """``mask.sum(axis=axis)`` of a boolean array (as intp), summed as bytes in 16 bits
    (several times faster than numpy's boolean sum)."""
    acc = np.uint16 if mask.shape[axis] < 65536 else np.intp
    return mask.view(np.uint8).sum(axis=axis, dtype=acc).astype(np.intp)


def _core(counts: np.ndarray) -> int:
    """How many of ``counts`` (ink per row) reach a tenth of the largest: the height of
    a line's text (its core rows), without the slivers around it."""
    return int(np.count_nonzero(counts >= 0.1 * int(counts.max())))


def median_u8(a: np.ndarray) -> int:
    """``int(np.median(a))`` of a non-empty integer array: the mean of its two middle
    values, rounded down (its first value, or a sample's most common one, when that
    fills more than half of it - text crops are mostly ground -, else partitioned out
    of a copy; no float mean)."""
    n = a.size
    first = int(a[(0,) * a.ndim])
    if np.count_nonzero(a == first) > n // 2:  # a value filling more than half is both middle values
        return first
    if a.ndim == 2 and n >= 4096:  # else the most common value of a sample
        common = int(np.bincount(a[::4, ::4].ravel(), minlength=256).argmax())
        if np.count_nonzero(a == common) > n // 2:
            return common
    lo, hi = (n - 1) // 2, n // 2
    flat = np.array(a, copy=True).ravel()
    flat.partition([lo, hi] if hi != lo else lo)
    return (int(flat[lo]) + int(flat[hi])) // 2


def _block_medians(gray: np.ndarray, block_h: int, block_w: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """The blocks of ``gray`` (edge-padded to whole blocks) as ``(rows, block_h, cols,
    block_w)`` and the median of each, ``(rows, cols)`` uint8 (``np.median`` rounded
    down: the two middle values partitioned out and averaged in integers)."""
    h, w = gray.shape
    rows, cols = -(-h // block_h), -(-w // block_w)
    if rows * block_h == h and cols * block_w == w:
        pad = gray
    else:  # np.pad(mode="edge"), without its overhead
        pad = np.empty((rows * block_h, cols * block_w), dtype=gray.dtype)
        pad[:h, :w] = gray
        pad[:h, w:] = gray[:, -1:]
        pad[h:] = pad[h - 1]
    blocks = pad.reshape(rows, block_h, cols, block_w)
    n = block_h * block_w
    lo, hi = (n - 1) // 2, n // 2
    # a value that fills more than half of a block is its median (both middle values):
    # most blocks are mostly ground, and its first pixel is usually ground
    med = blocks[:, 0, :, 0].copy()
    same = pad.reshape(rows, block_h, cols * block_w) == np.repeat(med, block_w, axis=1)[:, None, :]
    filled = same.view(np.uint8).sum(axis=1, dtype=np.int32).reshape(rows, cols, block_w).sum(axis=2)
    ri, ci = (filled <= n // 2).nonzero()
    if len(ri):
        part = np.partition(blocks[ri, :, ci, :].reshape(len(ri), n), [lo, hi], axis=1)
        med[ri, ci] = (part[:, lo].astype(np.uint16) + part[:, hi]) // 2
    return blocks, med


def block_background(gray: np.ndarray, block_h: int, block_w: int = BLOCK) -> np.ndarray:
    """The median of each ``block_h`` x ``block_w`` block, spread back to full size."""
    h, w = gray.shape
    _, med = _block_medians(gray, block_h, block_w)
    return np.repeat(np.repeat(med, block_h, axis=0), block_w, axis=1)[:h, :w]


def _off(g: np.ndarray, ground: np.ndarray | int) -> np.ndarray:
    """``|g - ground| > INK_DELTA`` for uint8 ``g`` and a uint8 (or int) ``ground``
    broadcast against it, without widening ``g``."""
    if isinstance(ground, int):
        return (g > min(ground + INK_DELTA, 255)) | (g < max(ground - INK_DELTA, 0))
    ground = np.asarray(ground, dtype=np.int16)
    hi = np.minimum(ground + INK_DELTA, 255).astype(np.uint8)
    lo = np.maximum(ground - INK_DELTA, 0).astype(np.uint8)
    return (g > hi) | (g < lo)


def ink_mask(gray: np.ndarray, block_h: int = BLOCK) -> np.ndarray:
    h, w = gray.shape
    blocks, med = _block_medians(gray, block_h)
    rows, cols = med.shape
    ground = np.repeat(med, BLOCK, axis=1)[:, None, :]   # each block's median along its rows
    ink = _off(blocks.reshape(rows, block_h, cols * BLOCK), ground)
    return ink.reshape(rows * block_h, -1)[:h, :w]


def _window(a: np.ndarray, n: int, op) -> np.ndarray:
    """``op`` (logical and/or) over each run of ``n`` consecutive columns of ``a``: column
    ``c`` of the result covers columns ``c .. c+n-1`` (windows doubled up to the largest
    power of two <= n, then two of them overlapped)."""
    k = 1
    while 2 * k <= n:
        a = op(a[:, :-k], a[:, k:])
        k *= 2
    m = a.shape[1] - (n - k)
    return op(a[:, :m], a[:, n - k:n - k + m])


def _may_run(ink: np.ndarray, run: int, axis: int) -> np.ndarray:
    """Per row (``axis=1``) or column (``axis=0``) of ``ink``: whether it may hold a
    run of ``run`` or more ink pixels along ``axis``. Such a run covers ``run // step``
    consecutive multiples of ``step`` (about a sixth of ``run``), so only those pixels
    are looked at."""
    step = max(1, run // 6)
    k = run // step
    if axis == 1:
        s = ink[:, ::step]
        if s.shape[1] < k:
            return np.zeros(ink.shape[0], dtype=bool)
        return _window(s, k, np.logical_and).any(axis=1)
    s = ink[::step]
    if s.shape[0] < k:
        return np.zeros(ink.shape[1], dtype=bool)
    return _window_down(s, k, np.logical_and).any(axis=0)


def _drop_long_runs(ink: np.ndarray, run: int) -> np.ndarray:
    """``ink`` without the pixels of horizontal runs of ``run`` or more columns (looked
    for only in the rows that may hold one, :func:`_may_run`)."""
    h, w = ink.shape
    if w < run:
        return ink
    rows = _may_run(ink, run, 1).nonzero()[0]
    if not len(rows):
        return ink
    sub = ink[rows]
    full = _window(sub, run, np.logical_and)   # a run of ``run`` starts here
    if not full.any():
        return ink
    pad = np.zeros((len(rows), run - 1), dtype=bool)
    out = ink.copy()
    out[rows] = sub & ~_window(np.hstack([pad, full, pad]), run, np.logical_or)
    return out


def _window_down(a: np.ndarray, n: int, op) -> np.ndarray:
    """:func:`_window` over rows: row ``r`` of the result covers rows ``r .. r+n-1``."""
    k = 1
    while 2 * k <= n:
        a = op(a[:-k], a[k:])
        k *= 2
    m = a.shape[0] - (n - k)
    return op(a[:m], a[n - k:n - k + m])


def drop_vertical_structures(ink: np.ndarray, run: int = STRUCTURE_RUN) -> np.ndarray:
    """``ink`` without the pixels of vertical runs of ``run`` or more rows (looked for
    only in the columns that may hold one, :func:`_may_run`)."""
    h, w = ink.shape
    if h < run:
        return ink
    cols = _may_run(ink, run, 0).nonzero()[0]
    if not len(cols):
        return ink
    sub = ink[:, cols]
    full = _window_down(sub, run, np.logical_and)   # a run of ``run`` starts here
    if not full.any():
        return ink
    pad = np.zeros((run - 1, len(cols)), dtype=bool)
    out = ink.copy()
    out[:, cols] = sub & ~_window_down(np.vstack([pad, full, pad]), run, np.logical_or)
    return out


def drop_rules(ink: np.ndarray, vertical: int = STRUCTURE_RUN, horizontal: int = RULE_RUN) -> np.ndarray:
    """``ink`` without long vertical runs (borders, scroll bars, pictures) and long
    horizontal ones (field outlines, table rules, underlines)."""
    return _drop_long_runs(drop_vertical_structures(ink, vertical), horizontal)


def bands(ink: np.ndarray) -> list[tuple[int, int]]:
    """Row runs ``[top, bottom)`` holding ink, one per text line: a one-row gap next to a
    sliver (the dot of an i, an accent) does not split a line, and a run is cut where
    only a trace of ink crosses (a ``|`` or a descender joining two lines, the sides of
    a box around a field)."""
    counts = _count(ink, 1)
    edges = np.diff(np.concatenate(([0], (counts > 0).view(np.int8), [0]))).nonzero()[0]
    runs: list[list[int]] = []
    for s, r in zip(edges[::2].tolist(), edges[1::2].tolist()):
        runs.extend(_split_run(counts, s, r))
    merged: list[list[int]] = []
    for run in runs:
        if merged and run[0] - merged[-1][1] <= 1 and (
                run[1] - run[0] <= 3 or merged[-1][1] - merged[-1][0] <= 3):
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    return [(a, b) for a, b in merged if b - a >= MIN_BAND]


def _percentile_75(c: np.ndarray) -> float:
    """``np.percentile(c, 75)`` (linear) of a 1-d array of small non-negative integers:
    the two order statistics around ``0.75 (n - 1)`` interpolated, exactly (the fraction
    is a multiple of 1/4)."""
    n = len(c)
    q4 = 3 * (n - 1)                  # 4 x the virtual index
    k, f = q4 // 4, q4 % 4
    if f == 0:
        return float(np.partition(c, k)[k])
    part = np.partition(c, [k, k + 1])
    a, b = int(part[k]), int(part[k + 1])
    return (4 * a + (b - a) * f) / 4


def _split_run(counts: np.ndarray, top: int, bottom: int) -> list[list[int]]:
    """``[top, bottom)`` cut inside runs of rows whose ink is a trace of the run's busy
    rows, where both sides hold a busy row (the body of a line: ascenders and
    descenders alone never become a line of their own). Nothing is trimmed."""
    if bottom - top < 2 * MIN_BAND + 1:
        return [[top, bottom]]
    c = counts[top:bottom]
    busy_level = _percentile_75(c)
    thin = c <= max(2, int(0.12 * busy_level))
    busy = c >= 0.5 * busy_level
    cuts: list[int] = []
    i, n = 1, bottom - top
    while i < n - 1:
        if not thin[i]:
            i += 1
            continue
        j = i
        while j < n - 1 and thin[j]:
            j += 1
        mid = (i + j) // 2  # the trace rows are shared between the two lines
        last = cuts[-1] if cuts else 0
        if busy[last:i].any() and busy[j:].any() and mid - last >= MIN_BAND and n - mid >= MIN_BAND:
            cuts.append(mid)
        i = j
    edges = [0, *cuts, n]
    return [[top + a, top + b] for a, b in zip(edges, edges[1:])]


def text_like(gray: np.ndarray, seg: "Segment") -> bool:
    """Cheap test that a segment can hold a word: some row crosses four or more separate
    strokes (lines, arrows and drawn shapes cross one to three), and it is wider than
    tall (a lone glyph or a text cursor is not worth reading)."""
    if seg.w < seg.h:
        return False
    crop = gray[seg.y:seg.y + seg.h, seg.x:seg.x + seg.w]
    ink = _off(crop, median_u8(crop))
    starts = _count(ink[:, 1:] > ink[:, :-1], 1) + ink[:, 0]
    return int(starts.max()) >= 4


def _segments_in_band(gray: np.ndarray, top: int, bottom: int, core: int,
                      x0: int = 0, x1: int | None = None) -> list[tuple[int, int]]:
    """Column runs of text across the whole width of one band (or columns ``[x0, x1)``
    of it).

    A column holds text where a pixel of the band differs from the row just above or
    the row just below the band (blank rows where the band was found); a vertical line
    running through the band matches both and is not text."""
    h, w = gray.shape
    x1 = w if x1 is None else x1
    band = gray[top:bottom, x0:x1]
    # some pixel of a column differs from a value by more than INK_DELTA exactly when
    # the column's brightest or its darkest one does
    hi, lo = band.max(axis=0).astype(np.int16), band.min(axis=0).astype(np.int16)
    above = gray[max(0, top - 1), x0:x1].astype(np.int16)
    below = gray[min(h - 1, bottom), x0:x1].astype(np.int16)
    cols = ((hi - above > INK_DELTA) | (above - lo > INK_DELTA)
            | (hi - below > INK_DELTA) | (below - lo > INK_DELTA))
    gap = max(6, int(GAP_FACTOR * core))
    xs = cols.nonzero()[0]
    if xs.size == 0:
        return []
    breaks = (np.diff(xs) > gap).nonzero()[0]
    starts = np.concatenate(([xs[0]], xs[breaks + 1]))
    ends = np.concatenate((xs[breaks], [xs[-1]])) + 1
    return list(zip((starts + x0).tolist(), (ends + x0).tolist()))


#: a run of a band is settled to its text rows at most this many times (each pass
#: after the first only drops rows)
SETTLE_PASSES = 4
#: rows above and below a crop looked at to measure the bars that cross it
BAR_REACH = 16


def _ground(g: np.ndarray) -> np.ndarray | int:
    """The most common value of each ``BLOCK``-column block of ``g`` (all its rows),
    per column: the ground that text in the block is drawn on (the lowest of equally
    common ones); one int when ``g`` is one block wide."""
    h, w = g.shape
    if w <= BLOCK:
        return int(np.bincount(g.ravel(), minlength=256).argmax())
    n = (w - 1) // BLOCK + 1
    # a value filling more than half of its block is the most common one: the first
    # row's value at the block's first column usually is (text is drawn on a ground)
    hist = np.bincount((g + _block_offsets(w)).ravel(), minlength=n * 256)
    return np.repeat(hist.reshape(n, 256).argmax(axis=1).astype(np.int16), BLOCK)[:w]


@functools.lru_cache(maxsize=64)
def _block_offsets(w: int) -> np.ndarray:
    """256 x the ``BLOCK``-column block of each of ``w`` columns."""
    return np.arange(w, dtype=np.intp) // BLOCK * 256


def _solid_runs(same: np.ndarray, n: int) -> np.ndarray:
    """Where ``same`` (pixel ``[:, c]`` equals pixel ``[:, c + 1]``) holds for ``n - 1``
    consecutive columns or more: the pixels of runs of ``n`` or more equal pixels."""
    h, w = same.shape
    if w < n - 1 or n < 2:
        return np.zeros((h, w + 1), dtype=bool)
    full = _window(same, n - 1, np.logical_and)   # a run of n equal pixels starts here
    if not full.any():
        return np.zeros((h, w + 1), dtype=bool)
    pad = np.zeros((h, n - 1), dtype=bool)
    return _window(np.hstack([pad, full, pad]), n, np.logical_or)


def _solid_runs_down(same: np.ndarray, n: int) -> np.ndarray:
    """:func:`_solid_runs` down the columns: ``same`` is pixel ``[r, :]`` equals pixel
    ``[r + 1, :]``; the pixels of vertical runs of ``n`` or more equal pixels."""
    h, w = same.shape
    if h < n - 1 or n < 2:
        return np.zeros((h + 1, w), dtype=bool)
    full = _window_down(same, n - 1, np.logical_and)
    if not full.any():
        return np.zeros((h + 1, w), dtype=bool)
    pad = np.zeros((n - 1, w), dtype=bool)
    return _window_down(np.vstack([pad, full, pad]), n, np.logical_or)


def _text_rows(gray: np.ndarray, x0: int, x1: int, top: int, bottom: int) -> tuple[int, int, int] | None:
    """The rows ``[t, b)`` of ``[top, bottom)`` over columns ``[x0, x1)`` that hold text,
    and the text's core height; None when they hold no ink.

    Ink differs from the ground of its block by more than ``INK_DELTA``. Left out are
    solid lines: rows of one colour ``RULE_RUN`` columns long (a field's or a button's
    edges, a focus ring) and bars of one colour taller than 1.5 core heights (measured
    up to ``BAR_REACH`` rows beyond the rows looked at) that cross all the rows kept (the
    sides of a field or a button, a text cursor taller than the glyphs). So the rows cut
    hold nothing but such lines and ground: no glyph other than a bar, which goes on in
    the rows kept."""
    h, w = gray.shape
    if x1 - x0 < 2:
        return None
    g = gray[top:bottom, x0:x1]
    ink = _off(g, _ground(g))
    if x1 - x0 >= RULE_RUN:  # else no row holds a solid run that long
        same = ink[:, :-1] & ink[:, 1:] & (g[:, :-1] == g[:, 1:])
        lines = (_count(same, 1) >= RULE_RUN - 1).nonzero()[0]
        if len(lines):  # only these rows can hold a solid run
            ink[lines] &= ~_solid_runs(same[lines], RULE_RUN)
    counts = _count(ink, 1)
    most = int(counts.max())
    if not most:
        return None
    core = int(np.count_nonzero(counts >= 0.1 * most))  # as _core(counts)
    tall = max(core + 2, int(1.5 * core) + 1)
    y0, y1 = max(0, top - BAR_REACH), min(h, bottom + BAR_REACH)
    bars = None
    cols = (_count(ink, 0) >= core).nonzero()[0]  # a bar crosses the text's core rows
    if y1 - y0 >= tall and len(cols):
        v = gray[y0:y1, x0:x1][:, cols]
        solid = _solid_runs_down(v[:-1] == v[1:], tall)[top - y0:bottom - y0] & ink[:, cols]
        if solid.any():
            bars = np.zeros_like(ink)
            bars[:, cols] = solid
    if bars is None:  # all the rows with ink: their core is the core
        rows = counts.nonzero()[0]
        return top + int(rows[0]), top + int(rows[-1]) + 1, core
    else:
        rows = (ink & ~bars).any(axis=1).nonzero()[0]
        if not len(rows):
            return None
        t, b = int(rows[0]), int(rows[-1]) + 1
        while True:  # a bar is left out only where it crosses all the rows kept: else it is text
            outside = bars.copy()
            outside[t:b] = False
            partial = outside.any(axis=0) & ~bars[t:b].all(axis=0)
            if not partial.any():
                break
            rows = outside[:, partial].any(axis=1).nonzero()[0]
            t, b = min(t, int(rows[0])), max(b, int(rows[-1]) + 1)
    c = counts[t:b]
    return top + t, top + b, _core(c) if c.any() else core


def _settle(gray: np.ndarray, x0: int, x1: int, top: int, bottom: int, pad: int) -> list[Rect]:
    """The segments of a band's run ``[x0, x1)`` of rows ``[top, bottom)``, each cut to
    its text rows and its columns found again over them, ``pad`` added around: the same
    line gives the same segments whatever band it was found in (a field's sides make a
    band as tall as the field only when the changed box holds them; the finder's rows
    of a band depend on what else is in the box's columns). The text rows are first
    looked for in the rows the segment reads (``pad`` beyond the band); a run whose rows
    are all text, or in which no column of text is found again, stays as it is."""
    h, w = gray.shape
    sy, ey = max(0, top - pad), min(h, bottom + pad)
    rows = _text_rows(gray, x0, x1, sy, ey)
    runs = None
    if rows is not None and rows[:2] != (sy, ey):
        runs = _settled(gray, x0, x1, rows, SETTLE_PASSES)
    if not runs:
        runs = [(x0, x1, top, bottom)]
    out = []
    for a, b, t, u in runs:
        sx, sy = max(0, a - pad), max(0, t - pad)
        out.append((sx, sy, min(w, b + pad) - sx, min(h, u + pad) - sy))
    return out


def _settled(gray: np.ndarray, x0: int, x1: int, rows: tuple[int, int, int],
             passes: int) -> list[tuple[int, int, int, int]]:
    """Runs ``(x0, x1, top, bottom)`` of text rows ``rows`` (top, bottom, core) over
    ``[x0, x1)``: its columns found again over those rows, each run cut to its own text
    rows in turn, until nothing changes (or ``passes`` runs out)."""
    t, b, core = rows
    out = []
    for a, c in _segments_in_band(gray, t, b, core, x0, x1):
        sub = _text_rows(gray, a, c, t, b) if passes > 1 else None
        if sub is None or sub[:2] == (t, b):
            out.append((a, c, t, b))
        else:
            out.extend(_settled(gray, a, c, sub, passes - 1))
    return out


#: settled runs a memo of :func:`find_segments` keeps
SETTLE_MEMO = 1024


def _kept_pieces(gray: np.ndarray, x0: int, x1: int, top: int, bottom: int, pad: int) -> list[Rect]:
    """The segments :func:`_settle` cuts from a band's run ``[x0, x1)`` that are read:
    what a run reads as found is read, settled - a piece too short to look like text
    on its own (a field's sides added strokes) is read when the run as found looks like
    text."""
    h, w = gray.shape
    whole = None
    out = []
    for rect in _settle(gray, x0, x1, top, bottom, pad):
        if not text_like(gray, Segment(*rect)):
            if whole is None:
                sx, sy = max(0, x0 - pad), max(0, top - pad)
                whole = text_like(gray, Segment(sx, sy, min(w, x1 + pad) - sx, min(h, bottom + pad) - sy))
            if not whole:
                continue
        out.append(rect)
    return out


def _settle_once(gray: np.ndarray, x0: int, x1: int, top: int, bottom: int, pad: int,
                 memo: "OrderedDict[bytes, list[Rect]] | None") -> list[Rect]:
    """:func:`_kept_pieces`, looked up in ``memo`` by the pixels it depends on: columns
    ``[x0, x1)`` and ``pad`` beyond of the rows ``pad`` and ``BAR_REACH`` beyond the
    band (and where the screen's edges cut them)."""
    if memo is None:
        return _kept_pieces(gray, x0, x1, top, bottom, pad)
    h, w = gray.shape
    y0, y1 = max(0, top - pad - BAR_REACH), min(h, bottom + pad + BAR_REACH)
    where = np.array([x1 - x0, top - y0, bottom - y0, y1 - y0, pad, min(pad, x0), min(pad, w - x1)],
                     dtype=np.int32)
    region = gray[y0:y1, max(0, x0 - pad):min(w, x1 + pad)]
    digest = hashlib.blake2b(np.ascontiguousarray(region), digest_size=16)
    digest.update(where)  # (the digest of the bytes one after the other, without joining them)
    key = digest.digest()
    rel = memo.get(key)
    if rel is None:
        rel = [(x - x0, y - y0, rw, rh) for x, y, rw, rh in _kept_pieces(gray, x0, x1, top, bottom, pad)]
        memo[key] = rel
        if len(memo) > SETTLE_MEMO:
            memo.popitem(last=False)
    else:
        memo.move_to_end(key)
    return [(x + x0, y + y0, rw, rh) for x, y, rw, rh in rel]


def find_segments(gray: np.ndarray, boxes: list[Rect], pad: int = 2,
                  memo: "OrderedDict[bytes, list[Rect]] | None" = None) -> list[Segment]:
    """Text segments that intersect any of ``boxes`` (changed parts of the screen), each
    line's settled to its text rows (:func:`_settle`). ``memo`` keeps settled runs (the
    pieces read, :func:`_kept_pieces`) by the pixels they were settled from (a line
    found again in the next frame's box)."""
    h, w = gray.shape
    found: dict[Rect, Segment] = {}
    for bx, by, bw, bh in boxes:
        y0, y1 = max(0, by - 48), min(h, by + bh + 48)  # lines cut by the box edge
        x0, x1 = max(0, bx - 8), min(w, bx + bw + 8)
        ink = drop_rules(ink_mask(gray[y0:y1, x0:x1]))
        counts = _count(ink, 1)
        for top, bottom in bands(ink):
            c = counts[top:bottom]
            core = _core(c)  # the text's height, not its box's
            top, bottom = top + y0, bottom + y0
            if bottom <= by or top >= by + bh:
                continue
            for sx0, sx1 in _segments_in_band(gray, top, bottom, core):
                if sx1 <= bx or sx0 >= bx + bw:
                    continue
                sx, sy = max(0, sx0 - pad), max(0, top - pad)
                seg = Segment(sx, sy, min(w, sx1 + pad) - sx, min(h, bottom + pad) - sy)
                if seg.multiline:  # a block of lines: lines_to_read cuts it
                    if text_like(gray, seg):
                        found[seg.rect] = seg
                    continue
                for rect in _settle_once(gray, sx0, sx1, top, bottom, pad, memo):
                    piece = Segment(*rect)
                    found[piece.rect] = piece
    return sorted(found.values(), key=lambda s: (s.y, s.x))


#: blocks of lines, and the lines cut from them, are upscaled as text this tall
BLOCK_TEXT_H = 20
#: a run of ink rows this low next to a blank row is a sliver (the dots of i and j, an
#: accent, an underscore's row): it belongs to the nearer line
SLIVER_ROWS = 3


def _blank_row_runs(rows: np.ndarray) -> list[list[int]]:
    """Runs ``[top, bottom)`` of rows holding ink, cut only at blank rows; a sliver run
    joins its nearer neighbour (across the blank rows between them)."""
    edges = np.diff(np.concatenate(([0], rows.view(np.int8), [0]))).nonzero()[0]
    runs = [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2])]
    i = 0
    while len(runs) > 1 and i < len(runs):
        a, b = runs[i]
        if b - a > SLIVER_ROWS:
            i += 1
            continue
        up = a - runs[i - 1][1] if i > 0 else None
        down = runs[i + 1][0] - b if i + 1 < len(runs) else None
        if down is None or (up is not None and up <= down):
            runs[i - 1][1] = b
        else:
            runs[i + 1][0] = a
        del runs[i]
        i = max(0, i - 1)
    return runs


def edge_mask(gray: np.ndarray) -> np.ndarray:
    """Where a pixel and the one two columns to its right differ by more than
    ``INK_DELTA`` (any ground, any polarity: no background is guessed), without the
    vertical runs of ``STRUCTURE_RUN`` rows or more (window edges, borders)."""
    a, b = gray[:, 2:], gray[:, :-2]
    edges = np.zeros(gray.shape, dtype=bool)
    edges[:, :-2] = np.maximum(a, b) - np.minimum(a, b) > INK_DELTA
    return drop_vertical_structures(edges)


def split_block(gray: np.ndarray, block: Segment, pad: int = 2) -> list[Segment] | None:
    """The lines of a block of lines, each as its own segment, so that each is read - and
    cached - on its own (a terminal that scrolls shows the same lines again, a few rows
    higher), or None when the block holds one run of rows only: read it whole.

    The block is cut at rows where nothing changes from pixel to pixel across the block
    but at vertical structures (:func:`edge_mask`) - no ground is guessed, so a window
    edge whose ground a median misjudges (a stripe of "ink" beside every line) does not
    join lines, and text on any ground still marks its rows. Lines that touch (a
    descender on the next line's ascender) stay together, as one piece read as a block.
    Each piece is cut at wide columns without edges only, so every pixel of the block
    that differs from its neighbours is in a piece that is read. A piece's padding stops
    at its neighbours: its pixels do not depend on the lines around it. Pieces are
    upscaled as the block would be."""
    y0, x0 = block.y, block.x
    edges = edge_mask(gray[y0:y0 + block.h, x0:x0 + block.w])
    runs = _blank_row_runs(edges.any(axis=1))
    if len(runs) < 2:
        return None
    counts = _count(edges, 1)
    tops = [max(runs[i - 1][1] if i else 0, a - pad) for i, (a, _) in enumerate(runs)]
    bottoms = [min(runs[i + 1][0] if i + 1 < len(runs) else len(edges), b + pad)
               for i, (_, b) in enumerate(runs)]
    out: list[Segment] = []
    for (a, b), top, bottom in zip(runs, tops, bottoms):
        c = counts[a:b]
        core = _core(c)
        xs = edges[a:b].any(axis=0).nonzero()[0]
        breaks = (np.diff(xs) > max(6, int(GAP_FACTOR * core))).nonzero()[0]
        starts = np.concatenate(([xs[0]], xs[breaks + 1]))
        ends = np.concatenate((xs[breaks], [xs[-1]])) + 3  # an edge at x is between x and x + 2
        for sx0, sx1 in zip(starts.tolist(), ends.tolist()):
            sx, ex = max(0, sx0 - pad), min(block.w, sx1 + pad)
            out.append(Segment(x0 + sx, y0 + top, ex - sx, bottom - top, BLOCK_TEXT_H))
    return out


def _overlap(a: Segment, b: Segment) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def lines_to_read(gray: np.ndarray, segments: list[Segment]) -> list[Segment]:
    """What to read for ``segments``: each block of lines (with the segments overlapping
    it: the finder may cut a block through a line) becomes the lines
    :func:`split_block` cuts from the box around them, or stays as found when it does not
    split; the other segments stay as they are."""
    clusters: list[list[Segment]] = []
    for seg in segments:
        joined = [seg]
        for c in [c for c in clusters if any(_overlap(seg, o) for o in c)]:
            clusters.remove(c)
            joined.extend(c)
        clusters.append(joined)
    out: list[Segment] = []
    for c in clusters:
        if not any(s.multiline for s in c):
            out.extend(c)
            continue
        x0, y0 = min(s.x for s in c), min(s.y for s in c)
        x1, y1 = max(s.x + s.w for s in c), max(s.y + s.h for s in c)
        out.extend(split_block(gray, Segment(x0, y0, x1 - x0, y1 - y0)) or c)
    return sorted(out, key=lambda s: (s.y, s.x))


def scale_for(height: int) -> int:
    """Upscale factor for a text band ``height`` px tall: small fonts are read best at
    3x, ordinary UI text at 2x, large text as is."""
    return 3 if height < 14 else 2 if height < 30 else 1


def _longest_run(line: np.ndarray) -> int:
    edges = np.concatenate(([True], ~line, [True])).nonzero()[0]
    return int(np.diff(edges).max()) - 1


def _without_rules(img: np.ndarray) -> np.ndarray:
    """Field outlines and table rules painted white (Tesseract misreads boxed text):
    rows with one unbroken dark run over half the width (and 4 heights), columns with
    one over 88 % of the height."""
    dark = img < 128
    h, w = img.shape
    row_min, col_min = max(w // 2, 4 * h), int(0.88 * h)
    rows = [r for r in (_count(dark, 1) >= row_min).nonzero()[0] if _longest_run(dark[r]) >= row_min]
    cols = [c for c in (_count(dark, 0) >= col_min).nonzero()[0] if _longest_run(dark[:, c]) >= col_min]
    if not rows and not cols:
        return img
    out = img.copy()
    out[rows] = 255
    out[:, cols] = 255
    return out


def segment_crop(gray: np.ndarray, seg: Segment, margin: int = 6,
                 scale: int | None = None) -> tuple[np.ndarray, int]:
    """The image OCR reads for ``seg`` and its scale: dark on white, stretched from the
    background to the strongest ink, upscaled, with a white margin (in output pixels)."""
    crop = gray[seg.y:seg.y + seg.h, seg.x:seg.x + seg.w]
    bg = median_u8(crop)
    value = np.arange(256, dtype=np.int32)  # what each grey level becomes
    if bg < 128:  # light text on a dark ground
        value = 255 - value
        bg = 255 - bg
        ink = 255 - int(crop.max())
    else:
        ink = int(crop.min())
    span = max(1, bg - ink)
    if span < STRETCH_BELOW:  # low contrast: stretch background..ink to white..black
        value = np.clip((value - ink) * 255 // span, 0, 255)
    out = value.astype(np.uint8)[crop]
    out = _without_rules(out)
    s = scale if scale is not None else scale_for(seg.text_h or (seg.h if not seg.multiline else BLOCK_TEXT_H))
    if s > 1:
        out = np.asarray(Image.fromarray(out, mode="L").resize((seg.w * s, seg.h * s), Image.BILINEAR))
    framed = np.full((out.shape[0] + 2 * margin, out.shape[1] + 2 * margin), 255, dtype=np.uint8)
    framed[margin:margin + out.shape[0], margin:margin + out.shape[1]] = out
    return framed, s


__all__ = ["Segment", "find_segments", "split_block", "edge_mask", "lines_to_read", "text_like", "segment_crop", "scale_for", "ink_mask", "bands",
           "drop_vertical_structures", "drop_rules", "block_background"]
