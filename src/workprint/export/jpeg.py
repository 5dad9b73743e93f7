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

_RST = [bytes((0xFF, 0xD0 + k)) for k in range(8)]
_EOI = b"\xff\xd9"
_SPLIT = re.compile(rb"\xff[\xd0-\xd7]")


def save_jpeg(img, buf, restart_blocks: int = 0) -> None:
    """Pillow's encoder with the export's settings (``restart_blocks`` 0: no markers)."""
    kw = {"restart_marker_blocks": restart_blocks} if restart_blocks else {}
    img.save(buf, format="JPEG", quality=QUALITY, subsampling=SUBSAMPLING, optimize=False, **kw)


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

    def _tile_segments(self, key: Any, data: Callable[[], bytes], blocks: int) -> list[bytes]:
        with self._lock:
            hit = self._segs.get(key)
            if hit is not None:
                self._segs.move_to_end(key)
                return hit
        from PIL import Image

        buf = io.BytesIO()
        save_jpeg(Image.open(io.BytesIO(data())).convert("RGB"), buf, blocks)
        header, sof, segs = _split(buf.getvalue())
        size = sum(map(len, segs))
        with self._lock:
            self._header.setdefault(blocks, (header, sof))
            if key not in self._segs:
                self._segs[key] = segs
                self._bytes += size
                while self._bytes > self._limit and len(self._segs) > 1:
                    _, old = self._segs.popitem(last=False)
                    self._bytes -= sum(map(len, old))
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
                self._bytes = 0
                self._scope = scope
        per_row = [-(-min(tile, width - c * tile) // 8) // blocks for c in range(cols)]
        flat: list[bytes] = []                 # every segment of the frame in scan order
        for r in range(rows):
            segs = [self._tile_segments((blocks, d), lambda d=d: tile_bytes(d), blocks)
                    for d in digests[r * cols:(r + 1) * cols]]
            mcu_rows = -(-min(tile, height - r * tile) // 8)
            if any(len(s) != mcu_rows * n for s, n in zip(segs, per_row)):
                return None                  # a tile of another size than its grid place
            if all(n == 1 for n in per_row):
                for across in zip(*segs):    # one segment per tile and block row
                    flat.extend(across)
            else:
                for m in range(mcu_rows):
                    for s, n in zip(segs, per_row):
                        flat.extend(s[m * n:(m + 1) * n])
        out: list[bytes] = [b""] * (2 * len(flat))
        out[0::2] = flat
        out[1::2] = (_RST * (len(flat) // 8 + 1))[:len(flat)]
        header, sof = self._header[blocks]
        head = bytearray(header)
        head[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
        out[-1] = _EOI
        return bytes(head) + b"".join(out)
