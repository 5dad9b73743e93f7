"""Reading a line again from the glyphs OCR read before.

Text drawn at whole pixels (X core fonts, Xft as Tk and most toolkits draw it, terminals)
puts the same pixels on screen each time the same character is drawn. :class:`GlyphReader`
remembers the pixels of every glyph OCR read and the characters it read there, and how far
apart glyphs stand inside a word and between words (:class:`_Spacing`). A line whose every
glyph was read before, and whose every gap is exactly the one inside a word for its two
glyphs or at least a space wider, is read from them without OCR: the next characters
typed into a field, a number that counts up, a list scrolled to new entries, a
terminal's prompt line.

A glyph is a run of columns holding ink (a pixel farther from the ground than a fringe of
anti-aliasing, ``1/FRINGE`` of the line's contrast), between columns that hold none; a
row of one colour across the crop, or columns of one colour at its ends, are rules (a
field's border), no glyph. Its key is its exact pixels over its ink rows and a row each
way, the ground, and its first ink row counted from the line's baseline (the bottom most of its runs share), so a comma is not an
apostrophe and a hyphen not an underscore. Glyphs that touch make one run: it is learnt
as the characters OCR read there once every other run of the word is known.

Everything else fails closed - OCR reads the line, and what it reads is learnt:

* no colour holds most of the crop (a ground that is not flat: a gradient, an image);
* a pixel not of the ground more than a pixel away from every glyph (faint text beside
  dark text);
* a run that touches the crop's edge (it may go on beyond the line: the crop has a column
  of context each side), a run never read before, a run read fewer than ``CONFIRMED``
  times, or one read as different things (l, I and |; O and 0 in some fonts) none of
  which is far ahead of the rest (``MARGIN``; a colon and a semicolon count alike, as
  the masker's rules take them): that one is not used until one is (a word of fewer
  than ``MIN_CHARS`` characters does not count against a glyph read the same way
  ``CONFIRMED`` times: digits read as letters are folded back by the masker's
  detection anyway);
* a gap between two glyphs whose distance inside a word is not known (they, and glyphs
  linking them, were never read in words together), or that is neither that distance nor
  at least a space more (a space of the font was never read, or kerning);
* a lone solid bar (an l, a |, a dash or a cursor: only OCR tells);
* a crop taller than a line, or a block of lines.

Only words OCR read with ``MIN_CONF`` or more are learnt from, and only when their box
holds their runs (``BOX_SLACK``) and no run lies under two words' boxes. What is no text
at either end of a line is left out: a solid bar reaching at least as high as every other
glyph and ``CARET_DESCENT`` rows below all of them (a text cursor, a terminal's block
cursor, as in :func:`.line_reuse.caret_only`) or a run over every row of the crop whose
every column is one colour (a field's side). Pure numpy over grayscale (uint8) crops.
"""

from __future__ import annotations

import struct
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .line_reuse import CARET_DESCENT
from .redact_pixels import Word

#: crops up to this tall are lines (taller ones are blocks of lines: never read from glyphs)
MAX_ROWS = 44
#: only words OCR is this sure of are learnt from
MIN_CONF = 80.0
#: a word shorter than this (OCR misreads a glyph or two read alone more often) does not
#: stop a glyph read the same way ``CONFIRMED`` times from being used (it teaches new ones)
MIN_CHARS = 3
#: a glyph is read from once OCR read it this many times, always as the same character
CONFIRMED = 2
#: a glyph OCR read as different characters is read as the one it read most when it read
#: that one at least ``CONFIRMED`` times plus ``MARGIN`` times for each other reading (a
#: misread once does not stop a glyph read right many times; one read as two things
#: about as often is not read from)
MARGIN = 3
#: characters OCR takes for one another where the masker's rules take them alike (a
#: prompt's colon may be read as ``;``, :data:`.prompts._COLON_MISREADS`): a glyph read
#: as both is read as the one read more often, however close
_ALIKE = {";": ":"}
#: pixels closer to the ground than 1/FRINGE of the line's contrast part glyphs (their fringes)
FRINGE = 6
#: a space narrower than this many columns is never learnt (OCR parting a word is no space)
MIN_SPACE = 2
#: a learnt word's box and the ink under it may differ by this many columns at each end
BOX_SLACK = 3
#: places (a baseline's screen row, ground) where lines were learnt (crops over none of
#: their rows are not looked at), least recently used forgotten
MAX_PLACES = 512
#: glyphs remembered (no more are learnt once this many are)
MAX_GLYPHS = 4096
#: the confidence given to words read from glyphs
GLYPH_CONF = 99.0


#: the int16 fields ahead of a run's pixels in its key (as numpy lays them out)
_SHAPE = struct.Struct("=3h")
_PLACE = struct.Struct("=2h")


@dataclass(frozen=True, slots=True)
class _Run:
    a: int          # first column
    b: int          # past the last column
    top: int        # first ink row
    bottom: int     # past the last ink row
    pixels: bytes   # its pixels over its ink rows and a row each way, and their shape
    solid: bool     # one colour over its whole box
    cut: bool       # touches the crop's edge: it may go on beyond it
    side: bool      # over every row of the crop, each column one colour (a frame's side)


def glyph_runs(crop: np.ndarray) -> tuple[int, list[_Run]] | None:
    """The ground colour of ``crop`` (the colour of most of its pixels) and its runs of
    ink columns, left to right (columns of faint fringe only, or of ground, part them;
    rows of one colour across the crop and columns of one colour at its ends are rules);
    None when no colour holds most of it (no flat ground to tell glyphs apart on)
    or when a pixel that is not the ground lies more than a pixel away from every run's
    ink (faint text beside dark text is not a fringe). A run's key holds its exact
    pixels, a row beyond its ink each way."""
    h, w = crop.shape
    if h < 3 or w < 3:
        return None
    counts = np.bincount(crop.ravel(), minlength=256)
    g = int(counts.argmax())
    if 2 * counts[g] <= crop.size:
        return None
    diff = np.abs(crop.astype(np.int16) - g)
    # one colour across every column (a field's border, a separator) is no glyph; nor is
    # one colour over every row in the crop's first or last columns (a field's sides)
    diff[(crop == crop[:, :1]).all(axis=1)] = 0
    flat = (crop == crop[:1]).all(axis=0)
    if flat[0] or flat[-1]:
        lead = int(np.argmin(flat)) if not flat.all() else w
        trail = int(np.argmin(flat[::-1])) if not flat.all() else w
        diff[:, :lead] = 0
        diff[:, w - trail:] = 0
    # columns holding only an anti-aliased fringe (within FRINGE of the strongest ink's
    # contrast) part glyphs
    ink = diff > max(1, int(diff.max()) // FRINGE)
    cols = ink.any(axis=0)
    edges = np.flatnonzero(np.diff(cols.view(np.int8), prepend=0, append=0))
    starts, ends = edges[::2], edges[1::2]
    out: list[_Run] = []
    if not len(starts):
        return (g, out) if not diff.any() else None
    rows = np.logical_or.reduceat(ink, starts, axis=1)  # columns between runs hold no ink
    tops = rows.argmax(axis=0).tolist()
    bottoms = (h - rows[::-1].argmax(axis=0)).tolist()
    near = np.zeros((h, w), dtype=bool)  # within a pixel of a run's ink
    for a, b, top, bottom in zip(starts.tolist(), ends.tolist(), tops, bottoms):
        near[max(0, top - 1):bottom + 1, max(0, a - 1):b + 1] = True
        piece = crop[top:bottom, a:b]
        kt, kb = max(0, top - 1), min(h, bottom + 1)  # the key holds a row of fringe each way
        # one colour over its box (its corners first: most glyphs differ there already)
        solid = piece[0, 0] == piece[-1, -1] and piece[0, -1] == piece[-1, 0] \
            and int(piece.min()) == int(piece.max())
        out.append(_Run(a, b, top, bottom,
                        _SHAPE.pack(top - kt, kb - top, b - a) + crop[kt:kb, a:b].tobytes(),
                        bool(solid),
                        a == 0 or b == w or top == 0 or bottom == h,
                        top == 0 and bottom == h and bool((piece == piece[0]).all())))
    if (diff.astype(bool) & ~near).any():
        return None  # something faint stands apart from every glyph (faint text beside dark)
    return g, out


def _bar(run: _Run, rest: list[_Run]) -> bool:
    """Whether ``run`` is a solid bar reaching as high as every glyph of ``rest`` and
    ``CARET_DESCENT`` rows below all of them (a text cursor, a field's side)."""
    return run.solid and run.top <= min(r.top for r in rest) \
        and run.bottom >= max(r.bottom for r in rest) + CARET_DESCENT


def _text_runs(runs: list[_Run], w: int, off: int, line_w: int) -> list[_Run]:
    """``runs`` of a crop ``w`` columns wide holding a line ``line_w`` wide from column
    ``off``: without those wholly beside the line (in the context columns), and without
    what is no text at either end: a cursor after the text (a bar, see :func:`_bar`) or
    a frame's side (over every row of the crop, each column one colour)."""
    runs = [r for r in runs if r.b > off and r.a < off + line_w]
    while len(runs) >= 2 and (runs[-1].side or (runs[-1].b < w and _bar(runs[-1], runs[:-1]))):
        runs = runs[:-1]
    while len(runs) >= 2 and (runs[0].side or (runs[0].a > 0 and _bar(runs[0], runs[1:]))):
        runs = runs[1:]
    return runs


def _keys(runs: list[_Run], ground: int) -> tuple[list[bytes], int]:
    """Each run's key - its pixels, the ground, and its first ink row counted from the
    line's baseline (the bottom most of its glyphs share) - and that baseline's row."""
    base = int(np.bincount([r.bottom for r in runs]).argmax())
    return [_PLACE.pack(ground, r.top - base) + r.pixels for r in runs], base


class _Spacing:
    """How far apart two glyphs stand, learnt from the words OCR read.

    Drawn at whole pixels with no kerning (X core fonts, Xft, terminals), two glyphs side
    by side in a word stand ``r(a) + l(b)`` columns apart: what is blank after ``a``'s ink
    within its advance, and before ``b``'s ink within its own. A space between them adds
    the space's advance. Each pair read inside a word is one equation ``r(a) + l(b) =
    gap``; glyphs linked by such equations (a font, in practice) form a group in which the
    gap of every pair is known, pairs never seen side by side too (1 and 1 in a
    proportional font stand farther apart than any two glyphs read so far, and less than a
    space). A union-find over ``r`` and ``-l`` with each one's offset from its group's
    root. A group whose equations disagree (kerning, a misread) is never used again; each
    group keeps the narrowest space read between two of its glyphs."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._up: dict[bytes, bytes] = {}    # node -> its parent (a root: itself)
        self._off: dict[bytes, int] = {}     # node -> its value less its parent's
        self._space: dict[bytes, int] = {}   # root -> the narrowest space read in its group
        self._bad: set[bytes] = set()        # roots of groups whose gaps disagreed

    def _find(self, node: bytes) -> tuple[bytes, int] | None:
        """The root of ``node``'s group and ``node``'s value less the root's."""
        up = self._up.get(node)
        if up is None:
            return None
        path = []
        while up != node:
            path.append(node)
            node, up = up, self._up[up]
        total = 0
        for n in reversed(path):  # point each straight at the root
            total += self._off[n]
            self._off[n] = total
            self._up[n] = node
        return node, (self._off[path[0]] if path else 0)

    def _node(self, node: bytes) -> tuple[bytes, int] | None:
        found = self._find(node)
        if found is None and len(self._up) < self._limit:
            self._up[node], self._off[node] = node, 0
            found = node, 0
        return found

    def inside(self, a: bytes, b: bytes) -> tuple[int, bytes] | None:
        """The gap between glyphs ``a`` and ``b`` side by side in a word, and their group;
        None when not known."""
        fa, fb = self._find(b"r" + a), self._find(b"l" + b)
        if fa is None or fb is None or fa[0] != fb[0] or fa[0] in self._bad:
            return None
        return fa[1] - fb[1], fa[0]

    def space(self, group: bytes) -> int | None:
        return self._space.get(group)

    def learn_inside(self, a: bytes, b: bytes, gap: int) -> None:
        fa, fb = self._node(b"r" + a), self._node(b"l" + b)
        if fa is None or fb is None:
            return
        (ra, da), (rb, db) = fa, fb
        if ra == rb:
            if da - db != gap:
                self._bad.add(ra)
            return
        self._up[rb], self._off[rb] = ra, da - db - gap  # r(a) - (-l(b)) = gap
        if rb in self._bad:
            self._bad.add(ra)
        if rb in self._space:
            width = self._space.pop(rb)
            self._space[ra] = min(width, self._space.get(ra, width))

    def learn_space(self, a: bytes, b: bytes, gap: int) -> None:
        known = self.inside(a, b)
        if known is not None and gap - known[0] >= MIN_SPACE:
            width, group = gap - known[0], known[1]
            self._space[group] = min(width, self._space.get(group, width))


class _Glyph:
    """What OCR read one glyph as, and how many times each; :attr:`char` is what the
    glyph is read as from now on (None: not confirmed, or read as different characters
    with none far ahead)."""

    __slots__ = ("counts", "best", "char")

    def __init__(self, c: str) -> None:
        self.counts = {c: 1}
        self.best = c
        self.char = self._decide()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Glyph) and (self.counts, self.best) == (other.counts, other.best)

    def add(self, c: str) -> None:
        self.counts[c] = self.counts.get(c, 0) + 1
        if self.counts[c] > self.counts[self.best]:
            self.best = c
        self.char = self._decide()

    def _decide(self) -> str | None:
        n = self.counts[self.best]
        if n < CONFIRMED:
            return None
        kind = _ALIKE.get(self.best, self.best)
        alike = sum(v for c, v in self.counts.items() if c != self.best and _ALIKE.get(c, c) == kind)
        others = sum(self.counts.values()) - n - alike
        if others == 0 and alike == 0:
            return self.best
        return self.best if n > alike and n >= CONFIRMED + MARGIN * others else None


class GlyphReader:
    """Lines read from the glyphs OCR read before (module doc). One per frame stream;
    not thread-safe. Crops are given with a column of context at each side where the
    screen has one (``off`` columns before the line's first): a glyph that goes on past
    the crop is never read from or learnt."""

    def __init__(self) -> None:
        #: glyph key -> what OCR read it as
        self._glyphs: dict[bytes, _Glyph] = {}
        #: how far apart glyphs stand inside a word and between words
        self._spacing = _Spacing(2 * MAX_GLYPHS)
        #: (screen row of the baseline, ground) of the lines learnt, least recently used first
        self._places: "OrderedDict[tuple[int, int], None]" = OrderedDict()
        #: how many places have their baseline on each screen row (a crop with none in its
        #: rows is not looked at: no line was learnt there)
        self._rows: Counter[int] = Counter()
        #: the crop looked at last and its :func:`glyph_runs` (a line OCR reads after
        #: :meth:`read` failed on it is learnt from that very crop)
        self._last: tuple[np.ndarray, tuple[int, list[_Run]] | None] | None = None
        self.reads = 0

    def _runs(self, crop: np.ndarray) -> tuple[int, list[_Run]] | None:
        """:func:`glyph_runs` of ``crop``, not worked out again for the crop of last time."""
        last = self._last
        if last is not None and last[0].shape == crop.shape and np.array_equal(last[0], crop):
            return last[1]
        found = glyph_runs(crop)
        self._last = (crop.copy(), found)
        return found

    def read(self, crop: np.ndarray, y: int, off: int, line_w: int) -> tuple[Word, ...] | None:
        """The words of the line ``line_w`` wide at column ``off`` of ``crop``, whose
        first row is screen row ``y``; boxes relative to the line. None when OCR must
        read it."""
        h, w = crop.shape
        if h > MAX_ROWS or not any(row in self._rows for row in range(y, y + h + 1)):
            return None
        found = self._runs(crop)
        if found is None:
            return None
        ground, runs = found
        runs = _text_runs(runs, w, off, line_w)
        if not runs:
            return ()
        if any(r.cut for r in runs) or (len(runs) == 1 and runs[0].solid):
            return None
        keys, base = _keys(runs, ground)
        chars = []
        for k in keys:
            g = self._glyphs.get(k)
            if g is None or g.char is None:
                return None
            chars.append(g.char)
        words: list[Word] = []
        start = 0
        for i in range(1, len(runs) + 1):
            if i < len(runs):
                gap = runs[i].a - runs[i - 1].b
                known = self._spacing.inside(keys[i - 1], keys[i])
                if known is None:
                    return None  # how far apart these two stand in a word is not known
                if gap == known[0]:
                    continue  # inside a word
                space = self._spacing.space(known[1])
                if space is None or gap < known[0] + space:
                    return None  # neither inside a word nor a space between two
            part = runs[start:i]
            # the box holds the glyphs' fringes too: a pixel beyond their runs each way
            x0, x1 = max(0, part[0].a - 1), min(w, part[-1].b + 1)
            y0, y1 = max(0, min(r.top for r in part) - 1), min(h, max(r.bottom for r in part) + 1)
            words.append(Word("".join(chars[start:i]), x0 - off, y0, x1 - x0, y1 - y0, GLYPH_CONF))
            start = i
        place = (y + base, ground)
        if place in self._places:
            self._places.move_to_end(place)
        self.reads += 1
        return tuple(words)

    def _labels(self, text: str, keys: list[bytes]) -> list[str] | None:
        """What each run of a word OCR read as ``text`` shows: a character each when
        there are as many runs as characters; else, when every run but one shows
        characters known from before and the text begins and ends with theirs, that
        one shows what is left between (glyphs that touch: "rn", "12"). None: nothing
        to learn (or the word's runs disagree with what OCR read)."""
        if len(text) == len(keys):
            return list(text)
        got = [self._glyphs.get(k) for k in keys]  # None: never read
        if any(g is not None and g.char is None and len(g.counts) > 1 for g in got):
            return None  # read as different characters, none far ahead
        unknown = [j for j, g in enumerate(got) if g is None]
        if not unknown:  # read again as read before
            return [g.best for g in got] if "".join(g.best for g in got) == text else None
        if len(unknown) != 1 or any(g is not None and g.char is None for g in got):
            return None
        u = unknown[0]
        head = "".join(got[j].char for j in range(u))
        tail = "".join(got[j].char for j in range(u + 1, len(keys)))
        if len(head) + len(tail) >= len(text) or not text.startswith(head) or not text.endswith(tail):
            return None
        return [got[j].char if j != u else text[len(head):len(text) - len(tail)] for j in range(len(keys))]

    def learn(self, crop: np.ndarray, y: int, off: int, line_w: int, words: Sequence[Word]) -> None:
        """Remember what OCR read (``words``, boxes relative to the line) in the line
        ``line_w`` wide at column ``off`` of ``crop``, whose first row is screen row ``y``."""
        h, w = crop.shape
        if h > MAX_ROWS or not words:
            return
        found = self._runs(crop)
        if found is None:
            return
        ground, runs = found
        runs = _text_runs(runs, w, off, line_w)
        if not runs:
            return
        boxes = [(wd.x + off, wd.x + off + wd.w) for wd in words]
        owner = []  # the one word each run's middle falls in (-1: none, -2: several)
        for r in runs:
            mid = (r.a + r.b) / 2
            inside = [i for i, (x0, x1) in enumerate(boxes) if x0 <= mid < x1]
            owner.append(inside[0] if len(inside) == 1 else -1 - (len(inside) > 1))
        keys, base = _keys(runs, ground)
        parted: dict[int, list[int]] = {}  # word -> its runs (how far apart they stand is learnt)
        for i, wd in enumerate(words):
            mine = [j for j, o in enumerate(owner) if o == i]
            text = wd.text
            if not mine or wd.conf < MIN_CONF or not text or any(c.isspace() for c in text) \
                    or mine != list(range(mine[0], mine[-1] + 1)) \
                    or (mine[0] > 0 and owner[mine[0] - 1] == -2) \
                    or (mine[-1] + 1 < len(runs) and owner[mine[-1] + 1] == -2) \
                    or any(runs[j].cut for j in mine) \
                    or abs(runs[mine[0]].a - boxes[i][0]) > BOX_SLACK \
                    or abs(runs[mine[-1]].b - boxes[i][1]) > BOX_SLACK:
                continue
            parted[i] = mine  # OCR's word: its runs' gaps are inside a word, whatever it read
            labels = self._labels(text, [keys[j] for j in mine])
            if labels is None:
                continue
            short = len(text) < MIN_CHARS
            for j, c in zip(mine, labels):
                g = self._glyphs.get(keys[j])
                if g is None:
                    if len(self._glyphs) < MAX_GLYPHS:
                        self._glyphs[keys[j]] = _Glyph(c)
                elif not (short and g.char is not None and c != g.char):
                    g.add(c)
        if not parted:
            return
        place = (y + base, ground)
        if place not in self._places:
            self._places[place] = None
            self._rows[place[0]] += 1
            while len(self._places) > MAX_PLACES:
                row, _ = self._places.popitem(last=False)[0]
                self._rows[row] -= 1
                if not self._rows[row]:
                    del self._rows[row]
        else:
            self._places.move_to_end(place)
        for i, mine in parted.items():
            for j in mine[1:]:
                self._spacing.learn_inside(keys[j - 1], keys[j], runs[j].a - runs[j - 1].b)
        for i, mine in parted.items():
            nxt = parted.get(i + 1)
            if nxt is not None and nxt[0] == mine[-1] + 1:  # no run between the two words
                self._spacing.learn_space(keys[mine[-1]], keys[nxt[0]], runs[nxt[0]].a - runs[mine[-1]].b)


__all__ = ["GlyphReader", "glyph_runs", "MAX_ROWS", "MIN_CONF", "CONFIRMED"]
