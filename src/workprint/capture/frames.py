"""Screenshots: when to grab, what changed, how it is encoded - off the input thread.

Two threads:

* the **scheduler** grabs the screen into a small ring of recent grabs (a few per
  second while input is active, every couple of seconds when idle, every four once the
  screen has stayed the same for five idle grabs) and decides which
  grabs become stored frames: the grab just *before* each mouse press / typing run /
  hotkey / scroll (taken from the ring, so the pre-action state is available), one after
  input settles, one after each focus change, and - with no input - one when the screen
  changed (slow cadence).
* the **encoder** passes each frame through the pixel safeguards (a frame comes back as
  the grab plus the rectangles to black out, see
  :class:`~workprint.policy.redact_pixels.MaskedFrame`), splits it into tiles, masks and
  hashes the tiles that changed since the previous frame and encodes only tiles the
  session has never stored (lossless WebP), then hands the manifest to the store.
  Identical frames share one manifest.

The queue between them is bounded; when the encoder falls behind, frames are dropped and
counted. Input events never pass through here.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import queue
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

import numpy as np
from PIL import Image
from PIL import WebPImagePlugin  # noqa: F401 - registered, saving a tile loads no other plugin (~3 MB)

from ..costs import STAGES
from ..heap import release_free_heap
from ..events import FrameRef
from ..policy.redact_pixels import MaskedFrame, TileMasks, as_masked_frame
from ..store.session import ForgottenSpans
from .grab_buffers import same_bytes, same_pixels

TILE = 128
RING_SIZE = 3
ACTIVE_GRAB_INTERVAL_S = 0.5
IDLE_GRAB_INTERVAL_S = 2.0
STATIC_GRAB_INTERVAL_S = 4.0  # idle and the screen has not changed for STATIC_AFTER grabs
STATIC_AFTER = 5
ACTIVE_WINDOW_S = 1.5
SETTLE_S = 0.5
FOCUS_DELAY_S = 0.3
IDLE_FRAME_MIN_INTERVAL_S = 10.0
ENCODER_QUEUE = 4


class FrameSink(Protocol):
    def stored_tiles(self, digests: list[bytes]) -> set[bytes]: ...

    def add_frame(self, ref: FrameRef, tile: int, digests: list[bytes],
                  new_tiles: dict[bytes, tuple[str, bytes]]) -> bool: ...


def tile_digest(block: np.ndarray) -> bytes:
    """Content address of a tile: its pixel bytes followed by its height and width."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.ascontiguousarray(block))
    h.update(block.shape[0].to_bytes(2, "little") + block.shape[1].to_bytes(2, "little"))
    return h.digest()


def changed_tiles(prev: np.ndarray | None, cur: np.ndarray, tile: int = TILE) -> np.ndarray:
    """Boolean grid ``(rows, cols)``: which tiles differ between two frames.

    Compared one band of tile rows at a time: a band whose bytes are all the same is told
    by :func:`~.grab_buffers.same_bytes` (no temporaries); another one's difference mask
    stays small and in cache, reduced to one flag per pixel column first."""
    h, w = cur.shape
    rows, cols = -(-h // tile), -(-w // tile)
    if prev is None or prev.shape != cur.shape:
        return np.ones((rows, cols), dtype=bool)
    grid = np.zeros((rows, cols), dtype=bool)
    if prev is cur:
        return grid
    pad = np.zeros(cols * tile - w, dtype=bool)
    for r in range(rows):
        band = slice(r * tile, (r + 1) * tile)
        a, b = prev[band], cur[band]
        if same_bytes(a, b):
            continue  # (a band of a C-contiguous frame is contiguous itself)
        columns = (a != b).any(axis=0)
        if pad.size:
            columns = np.concatenate((columns, pad))
        grid[r] = columns.reshape(cols, tile).any(axis=1)
    return grid


def changed_masks(prev: TileMasks, cur: TileMasks, shape: tuple[int, int]) -> np.ndarray:
    """Boolean grid of ``shape``: tiles whose blacked-out parts differ between two frames."""
    grid = np.zeros(shape, dtype=bool)
    for key in prev.keys() | cur.keys():
        if prev.get(key) != cur.get(key):
            grid[key] = True
    return grid


class ScreenSample:
    """A strided subsample of a grab (two interleaved grids of every 4th pixel, 1/8 of
    it, ~1 MB at 1080p): enough to tell cheaply whether a later grab changed (all but
    single-pixel edits) without keeping the grab itself alive.

    ``held=True``: the grab is kept instead, and the subsample taken only when
    :meth:`let_go` is called - for a grab that something else holds anyway (the frame
    scheduler's ring: it lets go once the ring does, and most grabs stored are followed
    by another one stored before that, so their subsample is never needed). Either way
    :meth:`changed` compares the same pixels (the subsample's)."""

    __slots__ = ("shape", "_a", "_b", "_grab", "_held")

    def __init__(self, pixels: np.ndarray, held: bool = False):
        self.shape = pixels.shape
        self._a = self._b = None
        self._held: np.ndarray | None = pixels if held else None
        if not held:
            self._a, self._b = pixels[::4, ::4].copy(), pixels[2::4, 2::4].copy()
        self._grab = weakref.ref(pixels)

    @property
    def held(self) -> np.ndarray | None:
        """The grab itself while it is kept (``held=True`` and not let go of yet)."""
        return self._held

    def let_go(self) -> None:
        """Take the subsample and stop keeping the grab (a no-op when it is not kept)."""
        grab = self._held
        if grab is not None:
            self._a, self._b = grab[::4, ::4].copy(), grab[2::4, 2::4].copy()
            self._held = None  # (after the subsample: a compare meanwhile uses the grab)

    def of(self, pixels: np.ndarray) -> bool:
        """Whether this is a sample of ``pixels`` itself (the same array)."""
        return self._grab() is pixels

    def changed(self, cur: np.ndarray) -> bool:
        if cur.shape != self.shape:
            return True
        if self.of(cur):
            return False
        grab = self._held
        a, b = (grab[::4, ::4], grab[2::4, 2::4]) if grab is not None else (self._a, self._b)
        return not np.array_equal(a, cur[::4, ::4]) or not np.array_equal(b, cur[2::4, 2::4])


TILE_FORMAT = "webp"


#: libwebp's lossless effort: below 25 it skips most of its search for a smaller coding -
#: offline a third less time for a fifth more bytes per tile, in the bench session ~0.04
#: points of a core for 5 % more bytes (BENCHMARKS.md, "OCR off, seventh sitting")
TILE_WEBP_QUALITY = 20


def encode_tile(pixels: np.ndarray) -> bytes:
    """Lossless WebP of a BGRX tile: the pixels stay exact (text included), and on screen
    content it is ~2.5x smaller than PNG. ``method=4`` is both faster and smaller than
    ``method=1..3`` on the benchmark's terminal and form screens."""
    h, w = pixels.shape
    img = Image.frombuffer("RGB", (w, h), np.ascontiguousarray(pixels), "raw", "BGRX", 0, 1)
    buf = io.BytesIO()
    img.save(buf, "WEBP", lossless=True, method=4, quality=TILE_WEBP_QUALITY)
    return buf.getvalue()


@dataclass(frozen=True)
class TilesSince:
    """A compare made already: the ``tile``-sized tiles (a boolean grid) in which a
    frame's pixels differ from ``pixels``."""

    pixels: np.ndarray
    grid: np.ndarray
    tile: int = TILE


class TileEncoder:
    """Turns full-screen grabs into (frame id, tile digests, new encoded tiles).

    A frame is a grab or a :class:`MaskedFrame` (a grab plus rectangles to black out).
    Tiles are masked one by one as they are needed, and digests and encodings are always
    made from the masked tile. A tile keeps the previous frame's digest only when both
    its grabbed pixels and its blacked-out parts are the same as in the previous frame.
    """

    def __init__(self, sink: FrameSink, tile: int = TILE):
        self.sink = sink
        self.tile = tile
        self._prev: MaskedFrame | None = None
        self._prev_digests: list[bytes] | None = None
        self._prev_id = ""

    def reset(self) -> None:
        self._prev, self._prev_digests, self._prev_id = None, None, ""

    def _changed(self, frame: MaskedFrame, since: "TilesSince | None" = None) -> np.ndarray | None:
        """Tiles to digest again; None when the frame is the previous one."""
        t, prev = self.tile, self._prev
        if prev is None or self._prev_digests is None:
            return changed_tiles(None, frame.pixels, t)
        same_masks = prev.masks(t) == frame.masks(t)
        if frame.pixels is prev.pixels and same_masks:
            return None
        if (since is not None and since.pixels is prev.pixels and since.tile == t
                and prev.shape == frame.shape):
            grid = since.grid.copy()  # a compare of these very two frames, made before
        else:
            grid = changed_tiles(prev.pixels, frame.pixels, t)
        if not same_masks and prev.shape == frame.shape:
            grid |= changed_masks(prev.masks(t), frame.masks(t), grid.shape)
        return grid

    def encode(self, frame: "np.ndarray | MaskedFrame", since: "TilesSince | None" = None
               ) -> tuple[str, list[bytes], dict[bytes, tuple[str, bytes]]]:
        """``since``: the tiles in which ``frame``'s pixels differ from some earlier
        pixels, as a caller compared them already; used when those are the pixels of
        the frame encoded last (else the two are compared here)."""
        frame = as_masked_frame(frame)
        t = self.tile
        h, w = frame.shape
        with STAGES.measure("diff"):
            grid = self._changed(frame, since)
        if grid is None:
            return self._prev_id, self._prev_digests, {}
        rows, cols = grid.shape
        digests: list[bytes] = []
        new: dict[bytes, tuple[str, bytes]] = {}
        with STAGES.measure("encode"):
            self._encode_tiles(frame, grid, digests, new)
        frame_id = hashlib.blake2b(b"".join(digests) + f"{w}x{h}/{t}".encode(), digest_size=16).hexdigest()
        self._prev, self._prev_digests, self._prev_id = frame, digests, frame_id
        return frame_id, digests, new

    def _encode_tiles(self, frame: MaskedFrame, grid: np.ndarray, digests: list[bytes],
                      new: dict[bytes, tuple[str, bytes]]) -> None:
        t = self.tile
        rows, cols = grid.shape
        changed: dict[bytes, tuple[int, int]] = {}
        for r in range(rows):
            for c in range(cols):
                if not grid[r, c]:
                    digests.append(self._prev_digests[r * cols + c])
                    continue
                d = tile_digest(frame.tile(r, c, t))  # masked: the only pixels hashed or encoded
                digests.append(d)
                changed.setdefault(d, (r, c))
        if changed:
            stored = self.sink.stored_tiles(list(changed))  # one look at the store a frame
            for d, (r, c) in changed.items():
                if d not in stored:
                    new[d] = (TILE_FORMAT, encode_tile(frame.tile(r, c, t)))


@dataclass
class _Grab:
    t_ns: int
    pixels: np.ndarray
    generation: int = 0  # window layout generation when grabbed


def settle_postponed(before: int | None, after: int | None) -> bool:
    """True when more input only pushed a pending settle deadline further out: the
    scheduler is already active and will wake by the old deadline, so it need not be
    woken now (typing would otherwise wake it for every key)."""
    return before is not None and after is not None and after >= before


class FramePipeline:
    """Scheduler + encoder threads. Call :meth:`note_input` from the event processor
    (never the input hook) with each decoded event's time and a trigger name."""

    def __init__(self, grab: Callable[[], np.ndarray], sink: FrameSink, *,
                 on_error: Callable[[BaseException], None] | None = None,
                 encoder_delay_s: float = 0.0,
                 redact: Callable[[np.ndarray, int, int], "np.ndarray | MaskedFrame | None"] | None = None,
                 text_mask: "TextMaskStage | None" = None,
                 generation: Callable[[], int] = lambda: 0,
                 on_stored: Callable[[int, str], None] | None = None,
                 grab_keeps_unchanged: bool = False):
        self._text_mask = text_mask
        #: ``grab`` already returns the grab before for an unchanged screen (the backend's
        #: :attr:`~.backend.Backend.grab_keeps_unchanged`): no second compare here
        self._grab_keeps_unchanged = grab_keeps_unchanged
        #: told (on the scheduler thread; must return at once) of each grab queued to be
        #: stored, with its reason (the accessibility tree taker listens)
        self._on_stored = on_stored
        self._generation = generation
        self._grab_fn = grab
        self._sink = sink
        self._encoder = TileEncoder(sink)
        self._on_error = on_error
        self._encoder_delay_s = encoder_delay_s
        self._redact = redact
        self._ring: collections.deque[_Grab] = collections.deque(maxlen=RING_SIZE)
        self._queue: queue.Queue[tuple[int, str, np.ndarray] | None] = queue.Queue(maxsize=ENCODER_QUEUE)
        self._cond = threading.Condition()
        self._triggers: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._last_input_ns = 0
        self._last_stored_grab_ns = 0
        self._post_due_ns: int | None = None
        self._focus_due_ns: int | None = None
        #: what the grab stored last showed (a sample: the grab itself may go back to the
        #: grabber once the ring and the queues let go of it; kept whole while the ring
        #: holds it, see :meth:`_let_go_of_stored`)
        self._last_stored: ScreenSample | None = None
        self._last_idle_frame_ns = 0
        self.dropped = 0
        self.withheld = 0  # frames not stored because recording was not allowed (pause, scope)
        self.forgotten = 0  # frames dropped because `forget` covered their grab time
        self._forgotten = ForgottenSpans()
        self.stored = 0
        self.grabs = 0
        self._sched = threading.Thread(target=self._schedule_loop, name="workprint-frames", daemon=True)
        self._enc = threading.Thread(target=self._encode_loop, name="workprint-encoder", daemon=True)

    # -- public ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._text_mask is not None:
            self._text_mask.start(self._store_encoded, self._on_error)
        self._sched.start()
        self._enc.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._sched.join(timeout=5)
        self._queue.put(None)
        self._enc.join(timeout=30)
        if self._text_mask is not None:
            self.dropped += self._text_mask.stop()

    def forget(self, since_ns: int, until_ns: int) -> int:
        """``forget`` covered ``[since_ns, until_ns]``: drop every grab of that span the
        pipeline still holds - in the ring, the encoder queue, the OCR quarantine, the
        frame being masked - and never store one later. Returns how many were dropped now."""
        self._forgotten.add(since_ns, until_ns)
        with self._cond:
            kept = [g for g in list(self._ring) if not self._forgotten.covers(g.t_ns)]
            n = len(self._ring) - len(kept)
            self._ring = collections.deque(kept, maxlen=RING_SIZE)
            self._let_go_of_stored()
        if self._text_mask is not None:
            n += self._text_mask.forget(self._forgotten.covers)
        self.forgotten += n
        return n

    def note_input(self, t_ns: int, trigger: str | None) -> None:
        """``trigger``: ``pre_click``/``pre_key``/``pre_scroll`` (store the pre-action
        frame), ``focus`` (store a frame shortly after), or ``None`` (activity only)."""
        with self._cond:
            settle_was = self._post_due_ns
            if trigger != "focus":
                self._last_input_ns = max(self._last_input_ns, t_ns)
                self._post_due_ns = t_ns + int(SETTLE_S * 1e9)
            if trigger == "focus":
                self._focus_due_ns = t_ns + int(FOCUS_DELAY_S * 1e9)
            elif trigger:
                self._triggers.append((t_ns, trigger))
            if trigger or not settle_postponed(settle_was, self._post_due_ns):
                self._cond.notify()

    # -- scheduler ------------------------------------------------------------------------
    def _grab(self) -> _Grab:
        t = time.monotonic_ns()
        gen = self._generation()
        with STAGES.measure("grab"):
            pixels = self._grab_fn()
        if not self._grab_keeps_unchanged:
            last = self._ring[-1].pixels if self._ring else None
            with STAGES.measure("diff"):
                if same_pixels(last, pixels):
                    # the screen did not change: the grab before stands for it, so the
                    # ring, the queues and the OCR backlog hold one array for it, not one
                    # per grab, and every later stage knows it at once (``is``)
                    pixels = last
        g = _Grab(t, pixels, gen)
        self.grabs += 1
        self._ring.append(g)
        self._let_go_of_stored()
        return g

    def _let_go_of_stored(self) -> None:
        """The grab stored last is kept whole (no subsample taken) only while the ring
        holds it too: once the ring lets go of it, its subsample is taken."""
        sample = self._last_stored
        grab = sample.held if sample is not None else None
        # (the ring copied at once: ``forget`` calls this from another thread)
        if grab is not None and not any(g.pixels is grab for g in tuple(self._ring)):
            sample.let_go()

    def _store(self, g: _Grab, reason: str) -> None:
        if self._forgotten.covers(g.t_ns):
            return
        self._last_stored_grab_ns = g.t_ns
        if self._last_stored is None or not self._last_stored.of(g.pixels):
            # (a grab of the ring: kept whole until the ring lets go of it)
            self._last_stored = ScreenSample(g.pixels, held=True)
            self._let_go_of_stored()
        try:
            self._queue.put_nowait((g.t_ns, reason, g.pixels, g.generation))
        except queue.Full:
            self.dropped += 1
            return
        if self._on_stored is not None:
            self._on_stored(g.t_ns, reason)

    def _pre_action(self, t_ns: int, reason: str) -> None:
        before = [g for g in self._ring if g.t_ns <= t_ns]
        g = before[-1] if before else None
        if g is None:
            g = self._grab()  # nothing older: the closest we have
        self._store(g, reason)  # a grab stored before costs only a row: same frame id

    def _schedule_loop(self) -> None:
        try:
            g = self._grab()
            self._store(g, "start")
            next_grab = time.monotonic_ns()
            static = 0  # idle grabs in a row that found the screen unchanged
            while not self._stop.is_set():
                with self._cond:
                    now = time.monotonic_ns()
                    active = now - self._last_input_ns < ACTIVE_WINDOW_S * 1e9
                    interval = (ACTIVE_GRAB_INTERVAL_S if active else IDLE_GRAB_INTERVAL_S
                                if static < STATIC_AFTER else STATIC_GRAB_INTERVAL_S)
                    if self._ring:  # input just started: do not wait out the idle interval
                        next_grab = min(next_grab, self._ring[-1].t_ns + int(interval * 1e9))
                    deadlines = [next_grab]
                    for due in (self._post_due_ns, self._focus_due_ns):
                        if due is not None:
                            deadlines.append(due)
                    wait = max(0, min(deadlines) - now) / 1e9
                    if not self._triggers and wait > 0:
                        self._cond.wait(timeout=min(wait, interval))
                    triggers, self._triggers = self._triggers, []
                    now = time.monotonic_ns()
                    post_due = self._post_due_ns is not None and now >= self._post_due_ns
                    focus_due = self._focus_due_ns is not None and now >= self._focus_due_ns
                    if post_due:
                        self._post_due_ns = None
                    if focus_due:
                        self._focus_due_ns = None
                if self._stop.is_set():
                    break
                for t_ns, reason in triggers:
                    self._pre_action(t_ns, reason)
                if post_due or focus_due:
                    g = self._grab()  # stored even when unchanged: the encoder dedupes it
                    self._store(g, "focus" if focus_due else "post_action")
                    next_grab = g.t_ns + int(interval * 1e9)
                elif now >= next_grab:
                    prev = self._ring[-1].pixels if self._ring else None
                    g = self._grab()
                    # the back-off counts idle grabs that found the screen as it was (a
                    # grab of an unchanged screen is the array before it)
                    static = 0 if active or g.pixels is not prev else static + 1
                    next_grab = g.t_ns + int(interval * 1e9)
                    if (not active and now - self._last_idle_frame_ns >= IDLE_FRAME_MIN_INTERVAL_S * 1e9
                            and (self._last_stored is None or self._last_stored.changed(g.pixels))):
                        self._last_idle_frame_ns = now
                        self._store(g, "idle_change")
        except BaseException as exc:  # noqa: BLE001 - report, never kill the recorder silently
            if self._on_error and not self._stop.is_set():
                self._on_error(exc)

    # -- encoder --------------------------------------------------------------------------
    def _store_encoded(self, t_ns: int, reason: str, frame: "np.ndarray | MaskedFrame",
                       since: "TilesSince | None" = None) -> bool:
        frame_id, digests, new = self._encoder.encode(frame, since)
        h, w = frame.shape
        if self._sink.add_frame(FrameRef(t_ns, frame_id, reason, w, h), self._encoder.tile,
                                digests, new) is False:
            self._encoder.reset()  # tiles were forgotten meanwhile: start afresh
            self.dropped += 1
            return False
        self.stored += 1
        return True

    def _encode_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            t_ns, reason, pixels, generation = item
            if self._forgotten.covers(t_ns):  # forgotten while it waited here
                self.forgotten += 1
                continue
            try:
                if self._encoder_delay_s:
                    time.sleep(self._encoder_delay_s)
                frame = pixels
                if self._redact is not None:
                    with STAGES.measure("window_query"):
                        frame = self._redact(pixels, t_ns, generation)
                    if frame is None:
                        self.withheld += 1
                        continue
                if self._text_mask is not None:  # the grab and what to black out in it
                    if not self._text_mask.submit(t_ns, reason, as_masked_frame(frame)):
                        self.dropped += 1
                    continue
                self._store_encoded(t_ns, reason, frame)
            except BaseException as exc:  # noqa: BLE001
                if self._on_error:
                    self._on_error(exc)
                return


def changed_boxes(prev: np.ndarray | None, cur: np.ndarray, tile: int = TILE) -> list[tuple[int, int, int, int]] | None:
    """Boxes ``(x, y, w, h)`` of the runs of changed tiles on each tile row; None when
    there is no previous frame of that shape (everything changed)."""
    if prev is None or prev.shape != cur.shape:
        return None
    return grid_boxes(changed_tiles(prev, cur, tile), cur.shape, tile)


def grid_boxes(grid: np.ndarray, shape: tuple[int, int], tile: int = TILE) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x, y, w, h)`` of the runs of flagged tiles of ``grid`` on each tile row
    (clipped to a screen of ``shape``)."""
    h, w = shape
    boxes = []
    for r in range(grid.shape[0]):
        cols = np.flatnonzero(grid[r])
        if cols.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(cols) > 1)
        for a, b in zip(np.concatenate(([cols[0]], cols[breaks + 1])),
                        np.concatenate((cols[breaks], [cols[-1]]))):
            x0, y0 = int(a) * tile, r * tile
            boxes.append((x0, y0, min(w, (int(b) + 1) * tile) - x0, min(h, y0 + tile) - y0))
    return boxes


#: frames held in memory (never on disk) while the OCR worker keeps up; more wait in
#: the encrypted quarantine. They wait as the tiles that differ from the frame before
#: them (consecutive frames share most of the screen), so a burst costs what changed, and ...
MEMORY_SLOTS = 32
#: ... at most this many bytes of changed tiles wait in memory
MEMORY_DELTA_BYTES = 24 * 2**20


def _block(pixels: np.ndarray, key: tuple[int, int], tile: int) -> np.ndarray:
    r, c = key
    return pixels[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]


def _refs_of_a_local() -> int:
    """What ``sys.getrefcount`` says of an array only a local name holds (the
    interpreter's own count: 2 on CPython 3.11, the name and the call's argument)."""
    a = np.empty(1)
    return sys.getrefcount(a)


_SOLE_REFS = _refs_of_a_local()


def _grid(shape: tuple[int, int], keys: Iterable[tuple[int, int]], tile: int) -> np.ndarray:
    h, w = shape
    grid = np.zeros((-(-h // tile), -(-w // tile)), dtype=bool)
    for key in keys:
        grid[key] = True
    return grid


@dataclass(frozen=True)
class TileChanges:
    """The tiles (a boolean grid, as :func:`changed_tiles` gives it) in which a frame
    differs from the frame taken before it, whose pixels ``since`` refers to (weakly: it
    keeps no frame alive). Whoever still holds those very pixels may take the grid for a
    compare of the two frames (:meth:`against`)."""

    since: "weakref.ref[np.ndarray]"
    grid: np.ndarray
    tile: int

    def against(self, pixels: np.ndarray | None, tile: int = TILE) -> np.ndarray | None:
        """The grid of ``tile``-sized tiles when ``pixels`` is the frame it was made
        against, else None."""
        ok = pixels is not None and tile == self.tile and self.since() is pixels
        return self.grid if ok else None


class FrameBacklog:
    """Frames waiting in memory, oldest first, each as the tiles that differ from the
    frame before it (copied out of its grab); the first one waiting as the tiles that
    differ from the frame taken last, whose taker holds it anyway (to diff the next frame
    against), or whole when there is none (nothing taken yet, the screen resized).

    No waiting frame keeps its grab alive: while a grab is held elsewhere (the
    scheduler's ring, a queue) its frame comes back as that very array, and once nothing
    else holds it, its buffer goes back to the grabber and the frame is rebuilt from its
    tiles when it is taken (on the pixels of the frame taken before it). So while OCR
    waits (a typing run being judged) the grabs the ring lets go of are not kept by the
    backlog: a burst costs what changed, not a screen per frame. :meth:`popleft` hands
    frames back whole, exactly as they were grabbed. Not thread-safe (the owner locks).

    ``screen(shape)``: a screen-sized buffer nothing refers to, lent by the grabber (a
    grab buffer lying free: :meth:`.grab_buffers.GrabBuffers.lend`), or None. A frame is
    rebuilt into one, every pixel of it written, instead of into a new array (a screen's
    worth of fresh pages, faulted in and zeroed, then unmapped)."""

    def __init__(self, tile: int = TILE,
                 screen: Callable[[tuple[int, int]], np.ndarray | None] | None = None):
        self.tile = tile
        self._screen = screen
        self.lent = 0  # frames rebuilt into a buffer lent by ``screen``
        #: [t_ns, reason, rects, pixels or None, {(row, col): tile pixels}, weak grab or None]
        self._items: collections.deque[list] = collections.deque()
        #: the pixels of the frame taken last
        self._base: np.ndarray | None = None
        #: what the newest frame waiting shows: ``_anchor`` with the tiles of ``_overlay``
        #: on it (the anchor is the base, or the newest frame that waits whole); new frames
        #: are diffed against it
        self._anchor: np.ndarray | None = None
        self._anchor_is_base = True
        self._overlay: dict[tuple[int, int], np.ndarray] = {}
        self.delta_bytes = 0
        #: the tiles in which the frame taken last differs from the one taken before it
        #: (None: not known), and whether its pixels were rebuilt here (no grab)
        self._base_keys: frozenset[tuple[int, int]] | None = None
        self._base_owned = False
        #: pixels rebuilt here that show the frame taken before the last one
        self._spare: np.ndarray | None = None
        #: where the frame :meth:`popleft` gave last differs from the frame taken before it
        self.changes: TileChanges | None = None

    def __len__(self) -> int:
        return len(self._items)

    def times(self) -> list[int]:
        """Grab times of the frames waiting, oldest first."""
        return [item[0] for item in self._items]

    def delta_for(self, pixels: np.ndarray) -> dict[tuple[int, int], np.ndarray] | None:
        """The tiles of ``pixels`` that differ from the newest frame waiting (or, with
        none waiting, from the frame taken last), as copies; None when it must wait whole
        (no frame to diff against, or the screen size changed)."""
        anchor, over, t = self._anchor, self._overlay, self.tile
        if anchor is None or anchor.shape != pixels.shape:
            return None
        grid = changed_tiles(anchor, pixels, t)
        delta = {}
        for r, c in zip(*np.nonzero(grid)):
            key = (int(r), int(c))
            if key not in over:
                delta[key] = _block(pixels, key, t).copy()
        for key, shown in over.items():
            cur = _block(pixels, key, t)
            if not np.array_equal(cur, shown):
                delta[key] = cur.copy()
        return delta

    @staticmethod
    def size(delta: dict[tuple[int, int], np.ndarray] | None) -> int:
        return 0 if delta is None else sum(b.nbytes for b in delta.values())

    def append(self, t_ns: int, reason: str, frame: MaskedFrame,
               delta: dict[tuple[int, int], np.ndarray] | None) -> None:
        """Add ``frame``; ``delta`` is :meth:`delta_for` of its pixels (None: whole)."""
        self._push(t_ns, reason, frame.rects, frame.pixels, delta)

    def _push(self, t_ns: int, reason: str, rects, pixels: np.ndarray,
              delta: dict[tuple[int, int], np.ndarray] | None) -> None:
        if delta is None:
            self._items.append([t_ns, reason, rects, pixels, {}, None])
            self._anchor, self._anchor_is_base, self._overlay = pixels, False, {}
        else:
            self._items.append([t_ns, reason, rects, None, delta, weakref.ref(pixels)])
            self._overlay.update(delta)
            self.delta_bytes += self.size(delta)

    def popleft(self) -> tuple[int, str, MaskedFrame]:
        """The oldest frame, whole. :attr:`changes` then says where it differs from the
        frame taken before it (None when it waited whole)."""
        t_ns, reason, rects, pixels, delta, grab = self._items.popleft()
        before, before_keys, before_owned = self._base, self._base_keys, self._base_owned
        spare, self._spare = self._spare, None
        keys, owned, self.changes = None, False, None
        if pixels is None:
            keys = frozenset(delta)
            pixels = grab() if delta and grab is not None else None
            if not delta:
                pixels, owned = before, before_owned  # the same screen: the same array
            elif pixels is None:
                if (spare is not None and before_keys is not None and spare.shape == before.shape
                        and sys.getrefcount(spare) <= _SOLE_REFS):
                    # nothing but this local name holds it: no frame handed out earlier
                    # shows it any more (a view of it would hold it too)
                    out, owned = spare, True
                    self._paste(out, {k: _block(before, k, self.tile) for k in before_keys})
                else:
                    out, owned = self._copy(before)
                pixels = self._paste(out, delta)
            self.changes = TileChanges(weakref.ref(before), _grid(before.shape, keys, self.tile), self.tile)
            self.delta_bytes -= self.size(delta)
            for key, block in delta.items():
                if self._overlay.get(key) is block:
                    del self._overlay[key]  # the newest frame shows there what this one shows
        del spare
        self._base, self._base_keys, self._base_owned = pixels, keys, owned
        if self._items and before_owned and before is not pixels:
            # rebuilt here, and shows the frame before the one taken now: the next frame
            # rebuilt is pasted into it (what changed since is known), not into a new
            # copy - by then the frame taken now is the one its takers hold
            self._spare = before
        if not self._items:
            self._anchor, self._anchor_is_base, self._overlay = pixels, True, {}
        elif self._anchor_is_base or self._anchor is pixels:
            # (the frame that waited whole, taken: the anchor is the base from now on, so
            # it follows the frames taken after it, whose tiles leave the overlay)
            self._anchor, self._anchor_is_base = pixels, True
        return t_ns, reason, MaskedFrame(pixels, rects)

    def _copy(self, pixels: np.ndarray) -> tuple[np.ndarray, bool]:
        """A copy of ``pixels`` to paste a frame's tiles into, and whether it is an array
        of this backlog's own: in a buffer lent by ``screen`` (overwritten whole here:
        nothing of what was grabbed into it before is left), else a new array. (A lent
        buffer never becomes ``_spare``: views of it refer to the buffer, not to the
        array, so :func:`sys.getrefcount` of the array could not tell it is unused.)"""
        out = self._screen(pixels.shape) if self._screen is not None else None
        if out is None or out.shape != pixels.shape or out.dtype != pixels.dtype:
            return pixels.copy(), True
        np.copyto(out, pixels)
        self.lent += 1
        return out, False

    def _paste(self, out: np.ndarray, tiles: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
        t = self.tile
        for (r, c), block in tiles.items():
            out[r * t:r * t + block.shape[0], c * t:c * t + block.shape[1]] = block
        return out

    def _whole(self, delta: dict[tuple[int, int], np.ndarray], grab, before: np.ndarray) -> np.ndarray:
        """The pixels of a frame waiting as ``delta`` on ``before`` (those of the frame
        before it): the frame before's own array for the same screen, its grab while that
        is still held elsewhere, else rebuilt."""
        if not delta:
            return before  # the same screen: the same array (the encoder knows it at once)
        pixels = grab() if grab is not None else None
        if pixels is not None:
            return pixels
        return self._paste(self._copy(before)[0], delta)

    def remove(self, covers: Callable[[int], bool]) -> int:
        """Drop the frames ``covers(t_ns)`` says are forgotten; the frame after a dropped
        one takes over the tiles it shared with it. Returns how many were dropped."""
        kept, before, n = [], self._base, 0
        for t_ns, reason, rects, pixels, delta, grab in self._items:
            if pixels is None:
                pixels = self._whole(delta, grab, before)
            before = pixels
            if covers(t_ns):
                n += 1
            else:
                kept.append((t_ns, reason, rects, pixels))
        self._items.clear()
        self._anchor, self._anchor_is_base, self._overlay = self._base, True, {}
        self.delta_bytes = 0
        self._spare = None
        for t_ns, reason, rects, pixels in kept:  # waiting as tiles again
            self._push(t_ns, reason, rects, pixels, self.delta_for(pixels))
        return n

    def clear(self) -> None:
        self._items.clear()
        self._base = self._anchor = self._spare = self.changes = None
        self._base_keys, self._base_owned = None, False
        self._anchor_is_base, self._overlay = True, {}
        self.delta_bytes = 0


#: how long a frame waits for a typing run around it to be judged (its secrets known)
HOLD_WAIT_S = 15.0
#: the OCR worker hands the C heap's free pages back at most this often (seconds): the
#: pages of OCR's own short-lived buffers, which its next reads fault in again (X11 grabs
#: do not come from the heap: :mod:`.grab_buffers`)
HEAP_TRIM_S = 1.0


class TextMaskStage:
    """OCR masking of sensitive text, behind an encrypted quarantine.

    Frames (a grab and the rectangles of out-of-scope windows to black out in it) wait
    for a worker thread that takes them oldest first, masks sensitive text (OCR of new
    text in the regions that changed, plus values the input side knows are secret), and
    only then encodes and stores them: the word boxes join the rectangles, and the
    encoder blacks them out tile by tile (the grab is never copied whole). While the
    worker keeps up, up to ``memory_slots`` frames wait in memory (a
    :class:`FrameBacklog`: as the tiles that changed, at most ``memory_delta_bytes`` of
    them, none keeping its grab alive); any more are blacked
    out and sealed into the encrypted quarantine on disk, so no unmasked pixels are ever
    readable on disk and a slow OCR builds a bounded, encrypted backlog instead of
    blocking capture. A frame is masked only once the gate has seen every key typed
    before its grab (``input_barrier``; a frame for which that cannot be had in time is
    dropped), and, when a typing run that began before the grab is still held by the
    gate, once that run is judged (waiting up to ``hold_wait_s``): the values it knows
    then cover what the frame can show. The worker runs at low CPU priority. At stop the
    backlog is drained for up to ``drain_s`` seconds; what is left is destroyed and
    counted. A frame whose OCR fails is dropped (it cannot be judged).
    """

    def __init__(self, masker, quarantine, known_values: Callable[[int], list[str]], *,
                 drain_s: float = 30.0, input_barrier: Callable[[int], bool] | None = None,
                 held_since: Callable[[], int | None] = lambda: None,
                 memory_slots: int = MEMORY_SLOTS, memory_delta_bytes: int = MEMORY_DELTA_BYTES,
                 hold_wait_s: float = HOLD_WAIT_S, nice: int = 10,
                 screen_buffer: Callable[[tuple[int, int]], np.ndarray | None] | None = None):
        self.masker = masker
        self.quarantine = quarantine
        self.known_values = known_values
        #: waits until the gate has seen all input up to a grab time (False: it could not)
        self.input_barrier = input_barrier
        self.held_since = held_since
        self.drain_s = drain_s
        self.memory_slots = memory_slots
        self.memory_delta_bytes = memory_delta_bytes
        self.hold_wait_s = hold_wait_s
        self.nice = nice
        #: ``screen_buffer``: lends a free grab buffer to rebuild a waiting frame into
        #: (:meth:`.backend.Backend.lend_screen`)
        self._memory = FrameBacklog(screen=screen_buffer)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._prev: MaskedFrame | None = None  # the frame masked last
        self._next_trim = 0.0
        self._thread = threading.Thread(target=self._loop, name="workprint-ocr", daemon=True)
        self._forgotten: Callable[[int], bool] = lambda t_ns: False
        self.stored = 0
        self.dropped = 0
        self.forgotten = 0
        self.max_backlog = 0
        self.spilled = 0  # frames that waited in the quarantine on disk

    def start(self, store: Callable[[int, str, MaskedFrame, "TilesSince | None"], bool],
              on_error: Callable[[BaseException], None] | None) -> None:
        self._store, self._on_error = store, on_error
        self._thread.start()

    def submit(self, t_ns: int, reason: str, frame: "np.ndarray | MaskedFrame") -> bool:
        """Queue a frame (a grab and the rectangles to black out in it, or a grab with
        nothing to black out). In memory it waits as the tiles that changed (the grab
        itself is never written to); a frame that must wait on disk is blacked out first
        and sealed."""
        from ..store.quarantine import QuarantineFull

        frame = as_masked_frame(frame)
        with self._lock:
            # memory only while nothing waits on disk: the oldest frames are always the
            # ones in memory, so taking memory first keeps the order
            placed = False
            if len(self.quarantine) == 0 and len(self._memory) < self.memory_slots:
                with STAGES.measure("backlog"):
                    delta = self._memory.delta_for(frame.pixels)
                if self._memory.delta_bytes + FrameBacklog.size(delta) <= self.memory_delta_bytes:
                    self._memory.append(t_ns, reason, frame, delta)
                    placed = True
            if not placed:
                try:
                    with STAGES.measure("quarantine"):
                        self.quarantine.put(t_ns, reason, frame.full())
                except QuarantineFull:
                    return False
                self.spilled += 1
            self.max_backlog = max(self.max_backlog, len(self._memory) + len(self.quarantine))
        self._wake.set()
        return True

    def forget(self, covers: Callable[[int], bool]) -> int:
        """Destroy the waiting frames ``covers(t_ns)`` says are forgotten (in memory and
        in the quarantine), and drop the one being masked now if it is (checked again
        before it would be stored)."""
        with self._lock:
            self._forgotten = covers
            n = self._memory.remove(covers)
            n += self.quarantine.discard(covers)
        self.forgotten += n
        return n

    @property
    def backlog(self) -> int:
        with self._lock:
            return len(self._memory) + len(self.quarantine)

    def _take(self) -> "tuple[tuple[int, str, MaskedFrame | np.ndarray] | None, TileChanges | None]":
        """The oldest frame waiting (None: none), and where it differs from the frame
        taken before it when the backlog knows (it waited as those tiles)."""
        with self._lock:
            if len(self._memory):
                with STAGES.measure("backlog"):
                    return self._memory.popleft(), self._memory.changes
            with STAGES.measure("quarantine"):
                return self.quarantine.take(), None

    def _wait_for_judged_run(self, t_ns: int) -> None:
        """Wait while a typing run that began before the frame was grabbed is still held
        (its secrets are not known yet), up to ``hold_wait_s``."""
        deadline = time.monotonic() + self.hold_wait_s
        while time.monotonic() < deadline and not self._stop.is_set():
            since = self.held_since()
            if since is None or since > t_ns:
                return
            time.sleep(0.05)

    def _loop(self) -> None:
        from ..policy.redact_pixels import OcrError

        try:  # low priority: OCR yields the CPU to the user's apps and to capture
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        except (OSError, AttributeError):
            pass
        deadline = None
        while True:
            if self._stop.is_set() and deadline is None:
                deadline = time.monotonic() + self.drain_s
            # the frame masked before the last one is let go of first: the backlog may
            # rebuild the next frame in its pixels
            prev = grid = None
            item, changes = self._take()
            if item is None:
                if self._stop.is_set():
                    return
                self._wake.wait(timeout=0.5)
                self._wake.clear()
                continue
            if deadline is not None and time.monotonic() > deadline:
                self.dropped += 1
                continue
            t_ns, reason, frame = item
            frame = as_masked_frame(frame)  # from the quarantine: blacked out already
            if self.input_barrier is not None and not self.input_barrier(t_ns):
                self.dropped += 1  # the secrets typed before it are not known yet: fail closed
                continue
            try:
                self._wait_for_judged_run(t_ns)
                prev = self._prev.pixels if self._prev is not None else None
                # the tiles that differ from the frame masked last: the backlog's, when it
                # made them against those very pixels (the frame waited as them), else compared
                grid = changes.against(prev) if changes is not None else None
                with STAGES.measure("diff"):
                    if grid is None and prev is not None and prev.shape == frame.shape:
                        grid = changed_tiles(prev, frame.pixels)
                regions = None if grid is None else grid_boxes(grid, frame.shape)
                if regions is not None and self._prev.rects != frame.rects:
                    # a rectangle that came or went hides or reveals text: read there again
                    regions += list(set(self._prev.rects) ^ set(frame.rects))
                reads = getattr(self.masker, "ocr_calls", 0)
                masked = self.masker.mask_frame(frame, regions, self.known_values(t_ns))
                now = time.monotonic()
                if getattr(self.masker, "ocr_calls", 0) != reads and now >= self._next_trim:
                    # what OCR used is not kept resident (not after every frame: what is
                    # handed back is faulted in again by the next reads)
                    self._next_trim = now + HEAP_TRIM_S
                    with STAGES.measure("heap_trim"):
                        release_free_heap()
            except OcrError:
                self.masker.reset()
                self._prev = None
                self.dropped += 1  # cannot tell what is on it: fail closed
                continue
            except BaseException as exc:  # noqa: BLE001
                if self._on_error:
                    self._on_error(exc)
                return
            self._prev = frame
            if self._forgotten(t_ns):  # forgotten while OCR looked at it
                self.forgotten += 1
                continue
            try:
                # the encoder compares with the frame it stored last: the same grid when
                # that is the frame masked before this one (it checks)
                stored = self._store(t_ns, reason, masked,
                                     None if grid is None else TilesSince(prev, grid))
            except BaseException as exc:  # noqa: BLE001 - a full disk: the recorder must stop, not hang
                if self._on_error:
                    self._on_error(exc)
                return
            if stored:
                self.stored += 1

    def stop(self) -> int:
        """Drain (bounded), destroy the rest; returns frames dropped by this stage."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.drain_s + 60)
        with self._lock:
            left = len(self._memory) + self.quarantine.purge()
            self._memory.clear()
        close = getattr(self.masker, "close", None)
        if close is not None and not self._thread.is_alive():
            close()
        return self.dropped + left
