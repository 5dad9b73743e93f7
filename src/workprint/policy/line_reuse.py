"""Which words of a line's earlier reading still stand, and which columns must be read again.

A line of text that is edited changes in one place: a key typed at the start or in the
middle of a field shifts everything after it, a deletion shifts it back, a blinking cursor
changes a few columns. The rest of the line is pixel for pixel what was read before, at the
same place or a few pixels off. :func:`plan` compares a line's crop with an earlier one,
column by column, and says which of the earlier words can be taken over (moved by the
shift) and which column spans of the new crop must be read.

The rule is exact: an earlier word is taken over only when every column of its box, and
``margin`` columns either side of it, are identical in both crops over all the new crop's
rows (so nothing new touches it: a glyph typed right against a word makes that word read
again with it), and no earlier word is cut by the edge of what is taken over. Every column
that is not taken over is read. Pure numpy over grayscale (uint8) crops; no OCR here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

#: columns compared as a group when looking for the shift between two crops
KGRAM = 4
#: at most this many shifts are tried (typing in one place gives two: 0 and the insert)
MAX_SHIFTS = 3
#: a shift needs this many matching column groups to be tried
MIN_VOTES = 3
#: rows a crop may have (taller crops are blocks of lines: not compared)
MAX_ROWS = 64
#: a text cursor (caret) is at most this many columns wide
CARET_COLS = 3
#: and reaches at least this many rows below the lowest ink of the line it is drawn on
CARET_DESCENT = 2

_RNG = np.random.default_rng(0x5EED)
_ROW_MULT = _RNG.integers(1, 2**63, size=MAX_ROWS, dtype=np.uint64) | np.uint64(1)
_KGRAM_MULT = _RNG.integers(1, 2**63, size=KGRAM, dtype=np.uint64) | np.uint64(1)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with a new crop: ``taken`` are ``(source, index, d)``: word ``index``
    of earlier reading ``source`` stands, moved ``d`` columns; ``spans`` are the ``[a, b)``
    column spans of the new crop to read; ``kept`` the ``(a, b, source, d)`` spans that
    need no reading (columns ``a..b`` are the source's ``a-d..b-d``)."""

    taken: tuple[tuple[int, int, int], ...]
    spans: tuple[tuple[int, int], ...]
    kept: tuple[tuple[int, int, int, int], ...]

    @property
    def covered(self) -> int:
        return sum(b - a for a, b, _, _ in self.kept)


@dataclass(frozen=True, slots=True)
class Source:
    """An earlier reading: its crop over the new crop's rows, its words' ``(x0, x1)``
    column spans in that crop, and the shift of columns that stayed in place on screen
    (the earlier crop's screen x minus the new one's)."""

    crop: np.ndarray
    words: tuple[tuple[int, int], ...]
    same_place: int = 0
    #: :func:`index` of ``crop``, when the caller keeps it (else it is computed)
    index: "tuple[np.ndarray, np.ndarray] | None" = field(default=None, compare=False)


def _col_hashes(a: np.ndarray) -> np.ndarray:
    return a.T.astype(np.uint64) @ _ROW_MULT[:a.shape[0]]


def _kgrams(h: np.ndarray) -> np.ndarray:
    n = len(h) - KGRAM + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    out = np.zeros(n, dtype=np.uint64)
    for i in range(KGRAM):
        out += h[i:i + n] * _KGRAM_MULT[i]
    return out


def _signature(crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of a crop's groups of ``KGRAM`` columns, and where they hold ink."""
    k = _kgrams(_col_hashes(crop))
    if not len(k):
        return k, np.zeros(0, dtype=np.intp)
    inked = np.convolve((crop.max(axis=0) != crop.min(axis=0)).astype(np.int32),
                        np.ones(KGRAM, dtype=np.int32), mode="valid") > 0
    return k, np.flatnonzero(inked)


def index(old: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hashes (sorted) of the groups of ``KGRAM`` columns with some ink that occur
    once in ``old``, and where they start."""
    ko, io = _signature(old)
    if not len(io):
        return np.zeros(0, dtype=np.uint64), io
    values, first, counts = np.unique(ko[io], return_index=True, return_counts=True)
    return values[counts == 1], io[first[counts == 1]]


def shifts(new: np.ndarray, old: np.ndarray, _new_sig=None, _old_index=None) -> list[int]:
    """Candidate shifts ``d`` (new column ``c`` shows old column ``c - d``), most voted
    first: each group of ``KGRAM`` columns with some ink that occurs once in ``old`` and
    also in ``new`` votes for the shift between its two places."""
    kn, jn = _new_sig if _new_sig is not None else _signature(new)
    if not len(jn):
        return []
    values, at = _old_index if _old_index is not None else index(old)
    if not len(values):
        return []
    probe = kn[jn]
    k = np.minimum(np.searchsorted(values, probe), len(values) - 1)
    hit = values[k] == probe
    if not hit.any():
        return []
    d, v = np.unique(jn[hit] - at[k[hit]], return_counts=True)
    order = np.argsort(-v, kind="stable")[:MAX_SHIFTS]
    return [int(d[i]) for i in order if v[i] >= MIN_VOTES]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _edge(new: np.ndarray, old: np.ndarray, c: int, o: int, end: int, margin: int) -> bool:
    """Whether the edge of a run of identical columns at new column ``c`` (old column
    ``o``) needs no margin: it is an edge of the old crop (``o == end``, 0 or its width)
    and beyond it the new crop either ends too or shows, for ``margin`` columns, the old
    crop's flat edge column (the blank the old reading saw continued: its crop ended in
    padding of the ground)."""
    if o != end:
        return False
    w = new.shape[1]
    if c in (0, w):
        return True
    col = old[:, 0] if end == 0 else old[:, end - 1]
    if col.min() != col.max():
        return False
    beyond = new[:, max(0, c - margin):c] if end == 0 else new[:, c:min(w, c + margin)]
    return bool((beyond == col[0]).all())


def _taken_over(new: np.ndarray, src: Source, d: int, margin: int) -> list[tuple[int, int]]:
    """Column spans ``[a, b)`` of ``new`` that ``src`` read at shift ``d`` and that stand."""
    h, w = new.shape
    old = src.crop
    ow = old.shape[1]
    lo, hi = max(0, d), min(w, ow + d)     # new columns that have an old column
    if hi <= lo:
        return []
    same = (new[:, lo:hi] == old[:, lo - d:hi - d]).all(axis=0)
    out = []
    for a, b in _runs(same):
        a, b = a + lo, b + lo
        a0 = a if _edge(new, old, a, a - d, 0, margin) else a + margin
        b0 = b if _edge(new, old, b, b - d, ow, margin) else b - margin
        moved = True
        while moved and a0 < b0:  # no word may be cut by an edge of what is taken over
            moved = False
            for x0, x1 in src.words:
                x0, x1 = x0 + d, x1 + d
                if x0 < a0 < x1:
                    a0, moved = x1, True
                if x0 < b0 < x1:
                    b0, moved = x0, True
        if b0 > a0:
            out.append((a0, b0))
    return out


def plan(new: np.ndarray, sources: Sequence[Source], *, margin: int = 4,
         min_cover: float = 0.25) -> Plan | None:
    """How to read ``new`` given earlier readings of (some of) its rows and columns.

    Each source's crop holds the same screen rows as ``new``. A shift ``d`` means new
    column ``c`` shows the source's column ``c - d``; the shifts :func:`shifts` finds and
    the source's ``same_place`` are tried, sources in the order given. What a source
    takes over needs ``margin`` identical columns beyond its edges unless an edge is the
    edge of both crops at once (neither reading saw past it) or of the source's crop,
    continued in the new crop by the ground of its edge (see :func:`_edge`), and cuts no
    word of the source. Returns None when less than ``min_cover`` of ``new`` would be taken over
    (reading it whole costs about as much).
    """
    h, w = new.shape
    if h > MAX_ROWS or w == 0:
        return None
    covered: list[tuple[int, int, int, int]] = []   # (a, b, source, d), disjoint
    sig = _signature(new)
    for si, src in enumerate(sources):
        ow = src.crop.shape[1]
        if src.crop.shape[0] != h or ow == 0:
            continue
        cands = shifts(new, src.crop, sig, src.index)
        if src.same_place not in cands and -ow < src.same_place < w:
            cands.append(src.same_place)
        for d in cands:
            for a0, b0 in _taken_over(new, src, d, margin):
                # a part holding no word saves no reading (it would only cut a span)
                if any(a0 <= x0 + d and x1 + d <= b0 for x0, x1 in src.words) \
                        and not any(ca < b0 and a0 < cb for ca, cb, _, _ in covered):
                    covered.append((a0, b0, si, d))
    total = sum(b - a for a, b, _, _ in covered)
    if not covered or total < min_cover * w:
        return None
    covered.sort()
    taken = tuple((si, i, d) for a, b, si, d in covered
                  for i, (x0, x1) in enumerate(sources[si].words) if a <= x0 + d and x1 + d <= b)
    todo, pos = [], 0
    for a, b, _, _ in covered:
        if a > pos:
            todo.append((pos, a))
        pos = b
    if pos < w:
        todo.append((pos, w))
    return Plan(taken, tuple(todo), tuple(covered))


def caret_only(new: np.ndarray, old: np.ndarray) -> bool:
    """Whether ``new`` is ``old`` with a text cursor drawn on it, and nothing else: they
    differ in one run of at most ``CARET_COLS`` columns, one flat colour (the ground) in
    ``old``, where ``new`` shows a solid bar of one colour (no anti-aliased edge) that
    reaches as high as the highest ink of ``old`` and ``CARET_DESCENT`` rows below its
    lowest (a caret spans the line's ascent and descent; a typed l, I or 1 stands on the
    baseline); or, where ``old`` has ink in those columns (a cursor against a glyph), a
    bar over every row of ``new`` while ``old``'s ink keeps ``CARET_DESCENT`` rows off
    its top and bottom (:func:`_caret_over_glyph`). What ``old`` was read as then stands
    for ``new`` - the cursor is no text. Never the other way round: ``old`` with the
    cursor and ``new`` without shows what the cursor hid."""
    if new.shape != old.shape:
        return False
    cols = np.flatnonzero((new != old).any(axis=0))
    if not len(cols) or cols[-1] - cols[0] >= CARET_COLS:
        return False
    a, b = int(cols[0]), int(cols[-1]) + 1
    ground = old[0, a]
    if (old[:, a:b] != ground).any():
        return _caret_over_glyph(new[:, a:b], old, ground)
    rows = np.flatnonzero((new[:, a:b] != ground).any(axis=1))
    bar = new[rows[0]:rows[-1] + 1, a:b]
    if (bar != bar[0, 0]).any():
        return False
    ink = np.flatnonzero((old != ground).any(axis=1))
    return bool(len(ink)) and rows[0] <= ink[0] and rows[-1] >= ink[-1] + CARET_DESCENT


def _caret_over_glyph(bar: np.ndarray, old: np.ndarray, ground) -> bool:
    """Whether ``bar`` (the columns where a line differs from ``old``, which has ink
    there) is a text cursor drawn over a glyph: one colour, not the ground's, over every
    row of the line, where ``old``'s ink keeps ``CARET_DESCENT`` rows off the top and
    the bottom - a bar taller than every glyph of the line. The cursor hides what is
    under it and adds no text: everything else shows as ``old`` showed it."""
    if (bar != bar[0, 0]).any() or bar[0, 0] == ground:
        return False
    ink = np.flatnonzero((old != ground).any(axis=1))
    return bool(len(ink)) and ink[0] >= CARET_DESCENT and ink[-1] < old.shape[0] - CARET_DESCENT


__all__ = ["Plan", "Source", "plan", "caret_only", "shifts", "index", "KGRAM", "MAX_ROWS"]
