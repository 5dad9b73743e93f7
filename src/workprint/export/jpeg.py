"""JPEG images of stored frames, composed from their tiles without re-encoding the screen.

A stored frame is a grid of content-addressed tiles (``tile`` px square, the last row and
column cut to the screen). A baseline JPEG with *restart markers* every ``blocks`` 8x8
blocks (4:4:4, so one block per MCU) is a sequence of independently coded segments: at
each marker the DC predictors reset and the bit stream restarts on a byte boundary. When
a segment never crosses a tile edge - ``blocks`` divides the tile's width in blocks and
the screen's width in blocks - each segment's bytes are a function of the pixels of one
tile alone. :class:`TiledJpeg` therefore encodes each distinct tile once (libjpeg via
Pillow, the same quality, tables and restart interval), keeps its segments, and writes a
frame by laying the segments of its tiles out in raster order with restart markers
numbered 0-7 in turn. The bytes are identical to Pillow encoding the assembled frame with
the same settings (tested), at the cost of encoding only the tiles a frame changed.

A grid whose width does not split into such segments (``blocks`` would fall below
:data:`MIN_BLOCKS`) is encoded whole by the caller, as before.
"""

from __future__ import annotations

import io
import math
import re
import threading
from collections import OrderedDict
from typing import Any, Callable, Sequence

#: JPEG settings of every exported image (device export and dataset builds alike).
QUALITY = 90
SUBSAMPLING = 0                 # 4:4:4: text stays sharp; one 8x8 block per MCU
#: Fewer blocks per restart interval than this: the markers cost more than they save.
MIN_BLOCKS = 4
#: Encoded tile segments kept per encoder (by tile digest), in bytes.
CACHE_BYTES = 32 * 1024 * 1024
#: Composed bands (rows of tiles) kept per encoder, in bytes: frames share most bands.
BAND_BYTES = 8 * 1024 * 1024
#: New tiles of one width encoded in one call, at most (a strip of 16 256-px tiles: 3 MiB).
STACK = 16

_RST = [bytes((0xFF, 0xD0 + k)) for k in range(8)]
_EOI = b"\xff\xd9"
_SPLIT = re.compile(rb"\xff[\xd0-\xd7]")


def save_jpeg(img, buf, restart_blocks: int = 0) -> None:
    """Pillow's encoder with the export's settings (``restart_blocks`` 0: no markers)."""
    kw = {"restart_marker_blocks": restart_blocks} if restart_blocks else {}
    img.save(buf, format="JPEG", quality=QUALITY, subsampling=SUBSAMPLING, optimize=False, **kw)


def decode_tile(data: bytes):
    """A stored tile (PNG, WebP or JPEG bytes) as an ``(h, w, 3)`` uint8 array: the pixels
    Pillow's ``Image.open(...).convert("RGB")`` gives. Lossless tiles without alpha - 8-bit
    RGB PNG, simple lossless WebP (what the recorder writes) - are decoded by imagecodecs
    where it is installed (the ``build`` extra; ~4x faster than Pillow here, the same pixels:
    lossless), everything else by Pillow."""
    arr = _fast_decode(data)
    if arr is not None:
        return arr
    import numpy as np
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))


_codecs: Any = None


def _fast_decode(data: bytes):
    """An ``(h, w, 3)`` uint8 array of a lossless RGB tile, or None (Pillow decodes it)."""
    global _codecs
    if _codecs is None:
        try:
            import imagecodecs

            _codecs = imagecodecs
        except ImportError:
            _codecs = False
    if not _codecs:
        return None
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if data[24] != 8 or data[25] != 2 or data[28] != 0:       # 8-bit RGB, not interlaced
            return None
        decode = _codecs.png_decode
    elif data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8L" and len(data) > 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        w, h = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if bits >> 28 & 1:                                          # alpha: Pillow's way
            return None
        decode = _codecs.webp_decode
    else:
        return None
    try:
        arr = decode(data)
    except Exception:                   # imagecodecs raises its own types; Pillow says why
        return None
    if arr.shape != (h, w, 3) or arr.dtype.name != "uint8" or not arr.flags.c_contiguous:
        return None
    return arr


def restart_blocks(width: int, tile: int) -> int:
    """Blocks per restart interval that keep every segment inside one tile of a
    ``width``-px grid of ``tile``-px tiles; 0 when no such interval is worth it."""
    if tile <= 0 or tile % 8:
        return 0
    g = math.gcd(tile // 8, -(-width // 8))
    return g if g >= MIN_BLOCKS else 0


def _split(data: bytes) -> tuple[bytes, int, list[bytes]]:
    """(header up to the end of SOS, offset of SOF0 in it, entropy-coded segments)."""
    i, sof = 2, -1
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xC0:
            sof = i
        if marker == 0xDA:
            end = i + 2 + length
            if sof < 0 or data[-2:] != _EOI:
                break
            return data[:end], sof, _SPLIT.split(data[end:-2])
        i += 2 + length
    raise ValueError("not a baseline JPEG as written by the export's encoder")


class TiledJpeg:
    """Composes frames' JPEGs from per-tile segments; thread-safe; a bounded cache."""

    def __init__(self, cache_bytes: int = CACHE_BYTES):
        self._segs: OrderedDict[Any, list[bytes]] = OrderedDict()
        self._bytes = 0
        self._limit = cache_bytes
        self._header: dict[int, tuple[bytes, int]] = {}
        self._lock = threading.Lock()
        self._scope: Any = None
        self._pending: dict[Any, threading.Event] = {}      # tiles being encoded, by key
        self._bands: OrderedDict[Any, bytes] = OrderedDict()
        self._band_bytes, self._band_limit = 0, BAND_BYTES

    def _segments(self, blocks: int, digests: Sequence[Any],
                  tile_bytes: Callable[[Any], bytes]) -> dict[Any, list[bytes]]:
        """Segments of every distinct tile in ``digests``. Missing tiles are claimed, then
        encoded together (:meth:`_encode_tiles`); a tile another thread is encoding
        meanwhile is waited for, not encoded twice (claims are made and published before
        any wait, so two threads never wait on each other)."""
        found: dict[Any, list[bytes]] = {}
        mine: list[Any] = []
        theirs: list[tuple[Any, threading.Event]] = []
        claim = threading.Event()
        with self._lock:
            for d in dict.fromkeys(digests):
                hit = self._segs.get((blocks, d))
                if hit is not None:
                    self._segs.move_to_end((blocks, d))
                    found[d] = hit
                elif (blocks, d) in self._pending:
                    theirs.append((d, self._pending[(blocks, d)]))
                else:
                    self._pending[(blocks, d)] = claim
                    mine.append(d)
        if mine:
            done: dict[Any, list[bytes]] = {}
            try:
                done = self._encode_tiles(blocks, mine, tile_bytes)
            finally:
                with self._lock:
                    for d in mine:
                        del self._pending[(blocks, d)]
                        if d in done:
                            self._keep((blocks, d), done[d])
                claim.set()
            found.update(done)
        for d, ev in theirs:
            ev.wait()
            with self._lock:
                hit = self._segs.get((blocks, d))
            found[d] = hit if hit is not None else self._encode_tiles(blocks, [d], tile_bytes)[d]
        return found

    def _keep(self, key: Any, segs: list[bytes]) -> None:
        """Cache ``segs`` (lock held), dropping the least recently used beyond the limit."""
        if key in self._segs:
            return
        self._segs[key] = segs
        self._bytes += sum(map(len, segs))
        while self._bytes > self._limit and len(self._segs) > 1:
            _, old = self._segs.popitem(last=False)
            self._bytes -= sum(map(len, old))

    def _encode_tiles(self, blocks: int, digests: Sequence[Any],
                      tile_bytes: Callable[[Any], bytes]) -> dict[Any, list[bytes]]:
        """Encode tiles: those of one width whose every restart interval lies within one
        of its 8-px block rows are stacked (up to :data:`STACK` at a time) and encoded in
        one call - a segment depends only on its own blocks, so each tile's segments are
        the bytes it gets encoded alone; any other tile is encoded alone."""
        import numpy as np

        out: dict[Any, list[bytes]] = {}
        stacks: dict[int, list[tuple[Any, Any]]] = {}
        for d in digests:
            arr = decode_tile(tile_bytes(d))
            h, w = arr.shape[:2]
            if h % 8 == 0 and -(-w // 8) % blocks == 0:
                stacks.setdefault(w, []).append((d, arr))
            else:
                out[d] = self._encode_one(blocks, arr)
        for w, items in stacks.items():
            per_row = -(-w // 8) // blocks
            for k in range(0, len(items), STACK):
                batch = items[k:k + STACK]
                if len(batch) == 1:
                    out[batch[0][0]] = self._encode_one(blocks, batch[0][1])
                    continue
                segs = self._encode_one(blocks, np.concatenate([arr for _, arr in batch]))
                counts = [arr.shape[0] // 8 * per_row for _, arr in batch]
                if sum(counts) != len(segs):          # not expected; each alone then
                    out.update((d, self._encode_one(blocks, arr)) for d, arr in batch)
                    continue
                at = 0
                for (d, _), n in zip(batch, counts):
                    out[d] = segs[at:at + n]
                    at += n
        return out

    def _encode_one(self, blocks: int, arr) -> list[bytes]:
        """Segments of an ``(h, w, 3)`` array encoded with ``blocks`` per interval."""
        from PIL import Image

        h, w = arr.shape[:2]
        buf = io.BytesIO()
        save_jpeg(Image.frombuffer("RGB", (w, h), arr, "raw", "RGB", 0, 1), buf, blocks)
        header, sof, segs = _split(buf.getvalue())
        with self._lock:
            self._header.setdefault(blocks, (header, sof))
        return segs

    def encode(self, scope: Any, width: int, height: int, tile: int, digests: Sequence[Any],
               tile_bytes: Callable[[Any], bytes]) -> bytes | None:
        """The frame's JPEG, or None when its grid cannot be composed (encode it whole).
        ``scope`` names where the digests come from (a session): tiles are cached per scope."""
        blocks = restart_blocks(width, tile)
        cols, rows = -(-width // tile), -(-height // tile)
        if not blocks or len(digests) != cols * rows:
            return None
        with self._lock:
            if scope != self._scope:
                self._segs.clear()
                self._bands.clear()
                self._bytes = self._band_bytes = 0
                self._scope = scope
        per_row = [-(-min(tile, width - c * tile) // 8) // blocks for c in range(cols)]
        # A band (one row of tiles) is its segments, each but its last followed by its
        # restart marker: a function of its tiles, its place and the marker it starts at
        # (segments before it, mod 8) - so bands a frame shares with earlier ones are kept.
        keys, offset = [], 0
        for r in range(rows):
            mcu_rows = -(-min(tile, height - r * tile) // 8)
            keys.append((blocks, tile, width, mcu_rows, offset % 8, tuple(digests[r * cols:(r + 1) * cols])))
            offset += mcu_rows * sum(per_row)
        with self._lock:
            bands = [self._bands.get(k) for k in keys]
            for k, b in zip(keys, bands):
                if b is not None:
                    self._bands.move_to_end(k)
        missing = [r for r in range(rows) if bands[r] is None]
        if missing:
            have = self._segments(blocks, [d for r in missing for d in keys[r][-1]], tile_bytes)
            for r in missing:
                band = _band([have[d] for d in keys[r][-1]], keys[r][3], per_row, keys[r][4])
                if band is None:
                    return None              # a tile of another size than its grid place
                bands[r] = band
                with self._lock:
                    if keys[r] not in self._bands:
                        self._bands[keys[r]] = band
                        self._band_bytes += len(band)
                        while self._band_bytes > self._band_limit and len(self._bands) > 1:
                            self._band_bytes -= len(self._bands.popitem(last=False)[1])
        header, sof = self._header[blocks]
        head = bytearray(header)
        head[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
        out: list[bytes] = [bytes(head)]
        for r, band in enumerate(bands):
            out.append(band)
            out.append(_RST[(keys[r + 1][4] - 1) % 8] if r + 1 < rows else _EOI)
        return b"".join(out)


def _band(segs: list[list[bytes]], mcu_rows: int, per_row: list[int], start: int) -> bytes | None:
    """One row of tiles: the segments of its tiles (``segs``, by column) in scan order,
    each but the last followed by its restart marker, counting from marker ``start``."""
    if any(len(s) != mcu_rows * n for s, n in zip(segs, per_row)):
        return None
    flat: list[bytes] = []
    if all(n == 1 for n in per_row):
        for across in zip(*segs):            # one segment per tile and block row
            flat.extend(across)
    else:
        for m in range(mcu_rows):
            for s, n in zip(segs, per_row):
                flat.extend(s[m * n:(m + 1) * n])
    out: list[bytes] = [b""] * (2 * len(flat) - 1)
    out[0::2] = flat
    out[1::2] = (_RST[start:] + _RST * (len(flat) // 8 + 1))[:len(flat) - 1]
    return b"".join(out)
