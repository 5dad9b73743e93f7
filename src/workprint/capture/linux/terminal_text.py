"""Read a terminal's prompt off the screen, for the password-prompt heuristic.

The pty's echo flag (:mod:`.tty`) catches every prompt that hides its input. A
prompt that echoes (``read -p "PIN: "``, ``input("Password: ")``) or draws its own
input field in raw mode (a REPL's password prompt) keeps the tty looking ordinary; for
those only the words on the screen tell. :class:`PromptReader` grabs the terminal
window, finds its last lines of text by their pixels, reads them with Tesseract and
asks :func:`..policy.prompts.asks_for_secret`.

An engine the reader loaded itself (OCR masking off: no masker's engine to share) is closed
after ``ENGINE_IDLE_S`` without a read and loaded again by the next read; the verdicts stay
cached, and a read whose engine cannot be loaded again answers "cannot tell" (None).

OCR costs tens of milliseconds, so a verdict is cached per pty and program (the caller's
``key``) and per :class:`PromptLine` (the prompt line's position and a digest of its
pixels left of where typing began). Typing into the line (echo, the moving cursor) does
not change it; a new prompt, a new line or an erased one does. ``submitted()`` (Enter)
drops every cached verdict. The key-time sampler (:mod:`.tty`) uses the same identity to
keep one grab per prompt rather than one per key. Nothing read here is stored: the text
only decides.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Hashable, NamedTuple

import numpy as np

from ...costs import STAGES
from ...heap import release_free_heap
from ...events import Geometry
from ...policy.prompts import asks_for_secret
from ...policy.redact_pixels import OcrEngine, OcrError, TesseractOcr, group_lines, luminance, upscale
from ...policy.tesseract_lib import PSM_BLOCK, TesseractLib

log = logging.getLogger(__name__)

#: an engine the reader loaded itself is closed after this long without a read: its model
#: (~14 MB of the ~24 MB libtesseract holds) goes back to the system, and the next read
#: loads it again (~0.12 s of CPU, as the first read did)
ENGINE_IDLE_S = 30.0

#: rows whose pixels differ this much (luminance) from the background hold text
_INK_DELTA = 48
_BORDER = 2  # px ignored at each window edge (borders, focus rings)


def green(pixels: np.ndarray) -> np.ndarray:
    """The green byte of a BGRX (uint32) image, as a view (no copy): close enough to
    luminance to tell text rows from the background, at no cost."""
    h, w = pixels.shape
    return np.ascontiguousarray(pixels).view(np.uint8).reshape(h, w, 4)[..., 1]


def _background(gray: np.ndarray) -> int:
    """The most common shade (from a sample)."""
    return int(np.bincount(gray[::3, ::3].ravel(), minlength=256).argmax())


def _ink(gray: np.ndarray) -> np.ndarray:
    """Pixels that differ from the background."""
    bg = _background(gray)
    lo, hi = max(0, bg - _INK_DELTA), min(255, bg + _INK_DELTA)
    return (gray < lo) | (gray > hi)


def text_bands(gray: np.ndarray) -> list[tuple[int, int]]:
    """(top, bottom) row ranges of text lines: maximal runs of rows holding pixels that
    differ from the background."""
    if gray.size == 0:
        return []
    rows = _ink(gray).any(axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], rows, [False])).astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def ink_right_edge(gray: np.ndarray) -> int:
    """x just after the rightmost text pixel (0 if none)."""
    cols = np.flatnonzero(_ink(gray).any(axis=0))
    return int(cols[-1]) + 1 if cols.size else 0


@dataclass(frozen=True)
class PromptLine:
    """Which prompt a grab shows: its last text line's rows, and a digest of that line's
    pixels left of ``cut`` - where typing began (two glyph cells before the line's ink
    ended when it was first seen). Typing into the line (echo, the moving cursor) happens
    right of ``cut`` and keeps the line the same; a new prompt, a new line or an erased one
    does not."""

    band: tuple[int, int]
    cut: int
    digest: bytes

    @property
    def identifies(self) -> bool:
        """False when nothing lies left of where typing began (an empty line with a cursor,
        a prompt not drawn yet): such a line matches any later line in the same rows."""
        return self.cut > 0


@dataclass
class _Verdict:
    line: PromptLine
    secret: bool


class _Grab(NamedTuple):
    inner_px: np.ndarray   # the window without its border
    top: int               # first row of the line above the last one (OCR reads both)
    band: tuple[int, int]  # rows of the last text line
    rows: np.ndarray       # the green bytes of those rows


def _last_line(pixels: np.ndarray) -> "_Grab | None":
    """The last text line of a window grab; None when the window shows no text."""
    h, w = pixels.shape
    inner_px = pixels[_BORDER:h - _BORDER, _BORDER:w - _BORDER]
    inner = green(pixels)[_BORDER:h - _BORDER, _BORDER:w - _BORDER]
    bands = [b for b in text_bands(inner) if b[1] - b[0] >= 3]
    if not bands:
        return None
    last = bands[-1]
    top = bands[-2][0] if len(bands) > 1 else last[0]
    return _Grab(inner_px, top, last, inner[last[0]:last[1]])


def _digest(rows: np.ndarray, cut: int) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(rows[:, :cut]).tobytes(), digest_size=16).digest()


def _shows(line: PromptLine, grab: "_Grab | None") -> bool:
    return grab is not None and grab.band == line.band and _digest(grab.rows, line.cut) == line.digest


class PromptReader:
    """``reader(geometry, key) -> True | False | None``: does the terminal window at
    ``geometry`` show a password prompt on its last line? None when the window cannot be
    read (grab or OCR failed): the caller fails closed."""

    def __init__(self, grab: Callable[[Geometry], "np.ndarray | None"],
                 ocr: OcrEngine | None = None, scale: int = 3, engine_idle_s: float = ENGINE_IDLE_S):
        self.grab = grab
        self._ocr = ocr
        self._owns_ocr = ocr is None  # a shared engine is its owner's to close
        self.scale = scale
        self.engine_idle_s = engine_idle_s
        self._cache: dict[Hashable, _Verdict] = {}
        self._lock = threading.Lock()
        self._ocr_lock = threading.Lock()
        self._last_read = 0.0
        self._idle_timer: threading.Timer | None = None
        self.reads = 0  # OCR calls made (for tests and benchmarks)
        self.engine_releases = 0  # times its own engine was closed after a quiet spell

    @property
    def ocr(self) -> OcrEngine:
        """The engine given (the text masker's, shared: one model in memory), else
        libtesseract in-process, loaded at the first read (~0.12 s of CPU and ~24 MB
        resident, then ~35 ms a read), else the Tesseract CLI (~0.15 s a read: it loads the
        model again each time, and its process adds ~30 MB to the recorder's while it runs)."""
        if self._ocr is None:
            try:
                self._ocr = TesseractLib(psm=PSM_BLOCK)
            except OcrError as exc:
                log.info("terminal prompt: libtesseract unavailable (%s); using the tesseract CLI", exc)
                self._ocr = TesseractOcr(psm=6)
        return self._ocr

    def submitted(self) -> None:
        """A line was submitted (Enter): the next prompt is a new question."""
        with self._lock:
            self._cache.clear()

    @staticmethod
    def prompt_line(pixels: "np.ndarray | None") -> PromptLine | None:
        """The prompt line a window grab shows (no OCR: rows and a digest); None when it
        shows no text."""
        if pixels is None or pixels.size == 0:
            return None
        grab = _last_line(pixels)
        if grab is None:
            return None
        cut = _typing_cut(grab.rows)
        return PromptLine(grab.band, cut, _digest(grab.rows, cut))

    @staticmethod
    def shows(line: PromptLine, pixels: "np.ndarray | None") -> bool:
        """Does a window grab show ``line`` (the same prompt, typed into or not)?"""
        return pixels is not None and pixels.size != 0 and _shows(line, _last_line(pixels))

    def __call__(self, geometry: Geometry | None, key: Hashable, pixels: "np.ndarray | None" = None,
                 remember: bool = True) -> bool | None:
        """``pixels``: the window as grabbed earlier (when the key being judged was pressed);
        without them the window is grabbed now. ``remember=False``: a cached verdict may
        answer, but what is read is not cached (a grab from another moment - a key's own,
        taken before its echo or before the prompt was drawn - must not answer for the
        screen as it is now)."""
        if geometry is None or geometry.width < 8 or geometry.height < 8:
            return None
        if pixels is None:
            try:
                pixels = self.grab(geometry)
            except Exception as exc:  # noqa: BLE001 - an unreadable window is "cannot tell"
                log.warning("terminal prompt: grab failed: %s", exc)
                return None
        if pixels is None or pixels.size == 0:
            return None
        grab = _last_line(pixels)
        if grab is None:
            return False  # an empty terminal asks nothing
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and _shows(hit.line, grab):
            return hit.secret
        cut = _typing_cut(grab.rows)
        line = PromptLine(grab.band, cut, _digest(grab.rows, cut))
        try:
            secret = self._read(luminance(grab.inner_px[max(0, grab.top - 2):grab.band[1] + 2]))
        except OcrError as exc:
            log.warning("terminal prompt: OCR failed: %s", exc)
            return None
        if remember:
            with self._lock:
                self._cache[key] = _Verdict(line, secret)
        return secret

    def _read(self, crop: np.ndarray) -> bool:
        """OCR the last two text lines; the last one with letters is the prompt line."""
        self.reads += 1
        image = upscale(to_ocr_gray_line(without_block_cursor(crop)), self.scale)
        with self._ocr_lock, STAGES.measure("prompt_ocr"):  # one read at a time
            ocr = self.ocr
            words = ocr.words(image, psm=PSM_BLOCK) if isinstance(ocr, TesseractLib) else ocr.words(image)
            self._last_read = time.monotonic()
            if self._owns_ocr and isinstance(ocr, TesseractLib) and self._idle_timer is None:
                self._arm(self.engine_idle_s)
        lines = group_lines(words)
        for line in reversed(lines):
            if any(c.isalpha() for c in line.text):
                return asks_for_secret(line.text)
        return False

    def _arm(self, delay_s: float) -> None:
        timer = threading.Timer(delay_s, self._release_if_idle)
        timer.name, timer.daemon = "workprint-prompt-engine", True
        self._idle_timer = timer
        timer.start()

    def _release_if_idle(self) -> None:
        """Close the reader's own engine when no read came for ``engine_idle_s`` (else wait
        out the rest of the spell); the next read loads it again."""
        with self._ocr_lock:
            if self._idle_timer is not threading.current_thread():
                return  # closed meanwhile
            left = self._last_read + self.engine_idle_s - time.monotonic()
            if left > 0:
                self._arm(left)
                return
            self._idle_timer = None
            self._ocr.close()
            self.engine_releases += 1
        release_free_heap()  # the model's pages go back to the system now

    def close(self) -> None:
        """Stop the idle timer and close the reader's own engine (a shared one is left to
        its owner)."""
        with self._ocr_lock:
            timer, self._idle_timer = self._idle_timer, None
            if timer is not None:
                timer.cancel()
            if self._owns_ocr and isinstance(self._ocr, TesseractLib):
                self._ocr.close()


def _typing_cut(rows: np.ndarray) -> int:
    """Where typing into the last line began, as far as one grab tells: two glyph cells left
    of the right edge of the line's bottom third (the baseline every glyph of that line
    touches; lines can touch, so a band may hold two). Echo and the cursor stay right of it
    while the prompt is answered."""
    height = rows.shape[0]
    return max(0, ink_right_edge(rows[height - max(2, height // 3):]) - 2 * min(height, 24))


def without_block_cursor(gray: np.ndarray, min_height: int = 8) -> np.ndarray:
    """The crop with a block cursor on its last text line painted over: OCR reads a solid
    cell after ``Password:`` as more letters (``com't i``), hiding the colon. A block
    cursor is a run of >= 4 columns that are solid ink for at least ``min_height`` rows
    up from the line's lowest ink row; glyph strokes are thinner."""
    ink = _ink(gray)
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return gray
    bottom = int(rows[-1]) + 1
    if bottom < min_height:
        return gray
    solid = ink[bottom - min_height:bottom].all(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], solid, [False])).astype(np.int8)))
    runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= 4]
    if not runs:
        return gray
    left, right = runs[-1]
    top = bottom - min_height
    while top > 0 and ink[top - 1, left:right].all():
        top -= 1
    if right - left > 1.5 * (bottom - top):
        return gray  # a wide bar (a selection, a status line), not one cell
    out = gray.copy()
    out[top:bottom, left:right] = _background(gray)
    return out


def to_ocr_gray_line(gray: np.ndarray) -> np.ndarray:
    """Dark text on a light ground (terminals are often the reverse)."""
    if gray.mean() < 128:
        return (255 - gray).astype(np.uint8)
    return gray


class ScreenRegionGrabber:
    """``grab(geometry)`` with mss, one mss instance per calling thread; clipped to the
    screen. Returns BGRX uint32 pixels, or None when the window is off screen."""

    def __init__(self, display: str | None = None):
        self.display = display or os.environ.get("DISPLAY")
        self._local = threading.local()

    def __call__(self, geometry: Geometry) -> "np.ndarray | None":
        import mss

        sct = getattr(self._local, "sct", None)
        if sct is None:
            sct = self._local.sct = mss.MSS(display=self.display)
            self._local.screen = dict(sct.monitors[0])
        scr = self._local.screen
        x0, y0 = max(geometry.x, scr["left"]), max(geometry.y, scr["top"])
        x1 = min(geometry.x + geometry.width, scr["left"] + scr["width"])
        y1 = min(geometry.y + geometry.height, scr["top"] + scr["height"])
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        shot = sct.grab({"left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0})
        return np.frombuffer(shot.raw, dtype=np.uint32).reshape(shot.height, shot.width)
