"""The text finder as it was at f9439d5 (before issue 13 made it cheaper): the oracle that
tests/test_text_finding_exact.py compares the finder with. Not used by workprint itself;
its code is kept verbatim below (its module docstring left out)."""

from __future__ import annotations

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


def block_background(gray: np.ndarray, block_h: int, block_w: int = BLOCK) -> np.ndarray:
    """The median of each ``block_h`` x ``block_w`` block, spread back to full size."""
    h, w = gray.shape
    rows, cols = -(-h // block_h), -(-w // block_w)
    pad = np.pad(gray, ((0, rows * block_h - h), (0, cols * block_w - w)), mode="edge")
    blocks = pad.reshape(rows, block_h, cols, block_w).transpose(0, 2, 1, 3).reshape(rows, cols, -1)
    med = np.median(blocks, axis=2).astype(np.uint8)
    return np.repeat(np.repeat(med, block_h, axis=0), block_w, axis=1)[:h, :w]


def ink_mask(gray: np.ndarray, block_h: int = BLOCK) -> np.ndarray:
    bg = block_background(gray, block_h)
    return np.abs(gray.astype(np.int16) - bg) > INK_DELTA


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


def _drop_long_runs(ink: np.ndarray, run: int) -> np.ndarray:
    """``ink`` without the pixels of horizontal runs of ``run`` or more columns."""
    h, w = ink.shape
    if w < run:
        return ink
    full = _window(ink, run, np.logical_and)   # a run of ``run`` starts here
    if not full.any():
        return ink
    pad = np.zeros((h, run - 1), dtype=bool)
    return ink & ~_window(np.hstack([pad, full, pad]), run, np.logical_or)


def drop_vertical_structures(ink: np.ndarray, run: int = STRUCTURE_RUN) -> np.ndarray:
    """``ink`` without the pixels of vertical runs of ``run`` or more rows."""
    return _drop_long_runs(ink.T, run).T


def drop_rules(ink: np.ndarray, vertical: int = STRUCTURE_RUN, horizontal: int = RULE_RUN) -> np.ndarray:
    """``ink`` without long vertical runs (borders, scroll bars, pictures) and long
    horizontal ones (field outlines, table rules, underlines)."""
    return _drop_long_runs(drop_vertical_structures(ink, vertical), horizontal)


def bands(ink: np.ndarray) -> list[tuple[int, int]]:
    """Row runs ``[top, bottom)`` holding ink, one per text line: a one-row gap next to a
    sliver (the dot of an i, an accent) does not split a line, and a run is cut where
    only a trace of ink crosses (a ``|`` or a descender joining two lines, the sides of
    a box around a field)."""
    counts = ink.sum(axis=1)
    rows = counts > 0
    runs: list[list[int]] = []
    r, h = 0, len(rows)
    while r < h:
        if rows[r]:
            s = r
            while r < h and rows[r]:
                r += 1
            runs.extend(_split_run(counts, s, r))
        else:
            r += 1
    merged: list[list[int]] = []
    for run in runs:
        if merged and run[0] - merged[-1][1] <= 1 and (
                run[1] - run[0] <= 3 or merged[-1][1] - merged[-1][0] <= 3):
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    return [(a, b) for a, b in merged if b - a >= MIN_BAND]


def _split_run(counts: np.ndarray, top: int, bottom: int) -> list[list[int]]:
    """``[top, bottom)`` cut inside runs of rows whose ink is a trace of the run's busy
    rows, where both sides hold a busy row (the body of a line: ascenders and
    descenders alone never become a line of their own). Nothing is trimmed."""
    if bottom - top < 2 * MIN_BAND + 1:
        return [[top, bottom]]
    c = counts[top:bottom]
    busy_level = np.percentile(c, 75)
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
    crop = gray[seg.y:seg.y + seg.h, seg.x:seg.x + seg.w].astype(np.int16)
    bg = int(np.median(crop))
    ink = np.abs(crop - bg) > INK_DELTA
    starts = (ink[:, 1:] & ~ink[:, :-1]).sum(axis=1) + ink[:, 0]
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
    band = gray[top:bottom, x0:x1].astype(np.int16)
    above = gray[max(0, top - 1), x0:x1].astype(np.int16)
    below = gray[min(h - 1, bottom), x0:x1].astype(np.int16)
    cols = ((np.abs(band - above) > INK_DELTA) | (np.abs(band - below) > INK_DELTA)).any(axis=0)
    gap = max(6, int(GAP_FACTOR * core))
    xs = np.flatnonzero(cols)
    if xs.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(xs) > gap)
    starts = np.concatenate(([xs[0]], xs[breaks + 1]))
    ends = np.concatenate((xs[breaks], [xs[-1]])) + 1
    return list(zip((starts + x0).tolist(), (ends + x0).tolist()))


#: a run of a band is settled to its text rows at most this many times (each pass
#: after the first only drops rows)
SETTLE_PASSES = 4
#: rows above and below a crop looked at to measure the bars that cross it
BAR_REACH = 16


def _ground(g: np.ndarray) -> np.ndarray:
    """The most common value of each ``BLOCK``-column block of ``g`` (all its rows),
    per column: the ground that text in the block is drawn on."""
    h, w = g.shape
    block = np.arange(w) // BLOCK
    n = int(block[-1]) + 1
    hist = np.bincount((block[None, :] * 256 + g).ravel(), minlength=n * 256)
    return hist.reshape(n, 256).argmax(axis=1).astype(np.int16)[block]


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
    ink = np.abs(g.astype(np.int16) - _ground(g)) > INK_DELTA
    same = ink[:, :-1] & ink[:, 1:] & (g[:, :-1] == g[:, 1:])
    if (same.sum(axis=1) >= RULE_RUN - 1).any():
        ink &= ~_solid_runs(same, RULE_RUN)
    counts = ink.sum(axis=1)
    if not counts.any():
        return None
    core = int((counts >= 0.1 * counts.max()).sum())
    tall = max(core + 2, int(1.5 * core) + 1)
    y0, y1 = max(0, top - BAR_REACH), min(h, bottom + BAR_REACH)
    bars = None
    cols = np.flatnonzero(ink.sum(axis=0) >= core)  # a bar crosses the text's core rows
    if y1 - y0 >= tall and len(cols):
        v = gray[y0:y1, x0:x1][:, cols]
        solid = _solid_runs((v[:-1] == v[1:]).T, tall).T[top - y0:bottom - y0] & ink[:, cols]
        if solid.any():
            bars = np.zeros_like(ink)
            bars[:, cols] = solid
    if bars is None:
        rows = np.flatnonzero(counts)
        t, b = int(rows[0]), int(rows[-1]) + 1
    else:
        rows = np.flatnonzero((ink & ~bars).any(axis=1))
        if not len(rows):
            return None
        t, b = int(rows[0]), int(rows[-1]) + 1
        while True:  # a bar is left out only where it crosses all the rows kept: else it is text
            outside = bars.copy()
            outside[t:b] = False
            partial = outside.any(axis=0) & ~bars[t:b].all(axis=0)
            if not partial.any():
                break
            rows = np.flatnonzero(outside[:, partial].any(axis=1))
            t, b = min(t, int(rows[0])), max(b, int(rows[-1]) + 1)
    c = counts[t:b]
    return top + t, top + b, int((c >= 0.1 * c.max()).sum()) if c.any() else core


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


def _settle_once(gray: np.ndarray, x0: int, x1: int, top: int, bottom: int, pad: int,
                 memo: "OrderedDict[bytes, list[Rect]] | None") -> list[Rect]:
    """:func:`_settle`, looked up in ``memo`` by the pixels it depends on: columns
    ``[x0, x1)`` of the rows ``pad`` and ``BAR_REACH`` beyond the band (and where the
    screen's edges cut them)."""
    if memo is None:
        return _settle(gray, x0, x1, top, bottom, pad)
    h, w = gray.shape
    y0, y1 = max(0, top - pad - BAR_REACH), min(h, bottom + pad + BAR_REACH)
    where = np.array([x1 - x0, top - y0, bottom - y0, y1 - y0, pad, min(pad, x0), min(pad, w - x1)],
                     dtype=np.int32)
    key = hashlib.blake2b(np.ascontiguousarray(gray[y0:y1, x0:x1]).tobytes() + where.tobytes(),
                          digest_size=16).digest()
    rel = memo.get(key)
    if rel is None:
        rel = [(x - x0, y - y0, rw, rh) for x, y, rw, rh in _settle(gray, x0, x1, top, bottom, pad)]
        memo[key] = rel
        if len(memo) > SETTLE_MEMO:
            memo.popitem(last=False)
    else:
        memo.move_to_end(key)
    return [(x + x0, y + y0, rw, rh) for x, y, rw, rh in rel]


def find_segments(gray: np.ndarray, boxes: list[Rect], pad: int = 2,
                  memo: "OrderedDict[bytes, list[Rect]] | None" = None) -> list[Segment]:
    """Text segments that intersect any of ``boxes`` (changed parts of the screen), each
    line's settled to its text rows (:func:`_settle`). ``memo`` keeps settled runs by
    the pixels they were settled from (a line found again in the next frame's box)."""
    h, w = gray.shape
    found: dict[Rect, Segment] = {}
    for bx, by, bw, bh in boxes:
        y0, y1 = max(0, by - 48), min(h, by + bh + 48)  # lines cut by the box edge
        x0, x1 = max(0, bx - 8), min(w, bx + bw + 8)
        ink = drop_rules(ink_mask(gray[y0:y1, x0:x1]))
        counts = ink.sum(axis=1)
        for top, bottom in bands(ink):
            c = counts[top:bottom]
            core = int((c >= 0.1 * c.max()).sum())  # the text's height, not its box's
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
                # what a run reads as found is read, settled: a piece too short to look
                # like text on its own (a field's sides added strokes) is read as well
                whole = text_like(gray, seg)
                for rect in _settle_once(gray, sx0, sx1, top, bottom, pad, memo):
                    piece = Segment(*rect)
                    if whole or text_like(gray, piece):
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
    edges = np.flatnonzero(np.diff(np.concatenate(([0], rows.view(np.int8), [0]))))
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
    g = gray.astype(np.int16)
    edges = np.zeros(g.shape, dtype=bool)
    edges[:, :-2] = np.abs(g[:, 2:] - g[:, :-2]) > INK_DELTA
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
    counts = edges.sum(axis=1)
    tops = [max(runs[i - 1][1] if i else 0, a - pad) for i, (a, _) in enumerate(runs)]
    bottoms = [min(runs[i + 1][0] if i + 1 < len(runs) else len(edges), b + pad)
               for i, (_, b) in enumerate(runs)]
    out: list[Segment] = []
    for (a, b), top, bottom in zip(runs, tops, bottoms):
        c = counts[a:b]
        core = int((c >= 0.1 * c.max()).sum())
        xs = np.flatnonzero(edges[a:b].any(axis=0))
        breaks = np.flatnonzero(np.diff(xs) > max(6, int(GAP_FACTOR * core)))
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
    edges = np.flatnonzero(np.concatenate(([True], ~line, [True])))
    return int(np.diff(edges).max()) - 1


def _without_rules(img: np.ndarray) -> np.ndarray:
    """Field outlines and table rules painted white (Tesseract misreads boxed text):
    rows with one unbroken dark run over half the width (and 4 heights), columns with
    one over 88 % of the height."""
    dark = img < 128
    h, w = img.shape
    row_min, col_min = max(w // 2, 4 * h), int(0.88 * h)
    rows = [r for r in np.flatnonzero(dark.sum(axis=1) >= row_min) if _longest_run(dark[r]) >= row_min]
    cols = [c for c in np.flatnonzero(dark.sum(axis=0) >= col_min) if _longest_run(dark[:, c]) >= col_min]
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
    crop = gray[seg.y:seg.y + seg.h, seg.x:seg.x + seg.w].astype(np.int32)
    bg = int(np.median(crop))
    if bg < 128:  # light text on a dark ground
        crop = 255 - crop
        bg = 255 - bg
    ink = int(crop.min())
    span = max(1, bg - ink)
    if span < STRETCH_BELOW:  # low contrast: stretch background..ink to white..black
        out = np.clip((crop - ink) * 255 // span, 0, 255).astype(np.uint8)
    else:
        out = crop.astype(np.uint8)
    out = _without_rules(out)
    s = scale if scale is not None else scale_for(seg.text_h or (seg.h if not seg.multiline else BLOCK_TEXT_H))
    if s > 1:
        out = np.asarray(Image.fromarray(out, mode="L").resize((seg.w * s, seg.h * s), Image.BILINEAR))
    return np.pad(out, margin, constant_values=255), s


__all__ = ["Segment", "find_segments", "split_block", "edge_mask", "lines_to_read", "text_like", "segment_crop", "scale_for", "ink_mask", "bands",
           "drop_vertical_structures", "drop_rules", "block_background"]
