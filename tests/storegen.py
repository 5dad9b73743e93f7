"""Build real session stores (events + tiled frames) for export tests and benchmarks."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image, ImageDraw

from workprint.events import FrameRef
from workprint.store.session import DataDir, SessionWriter

TILE = 256


def screen_image(label: str, width: int = 1920, height: int = 1080, seed: int = 0) -> Image.Image:
    img = Image.new("RGB", (width, height), (240, 240, 240))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, width, 32), fill=(40, 60, 90))
    for i, y in enumerate(range(50, height - 20, 22)):
        d.text((20 + (seed * 7 + i) % 40, y), f"{label} line {i} " + "lorem ipsum dolor sit amet " * 3,
               fill=(20, 20, 20))
    d.rectangle((width // 3, height // 3, width // 3 + 300, height // 3 + 40), outline=(0, 0, 0))
    d.text((width // 3 + 10, height // 3 + 12), label, fill=(200, 0, 0))
    return img


def add_image_frame(w: SessionWriter, t_ns: int, img: Image.Image, reason: str = "idle_change",
                    cache: dict | None = None, *, tile: int = TILE, tile_format: str = "png") -> FrameRef:
    """``tile_format``: ``png`` (level 1), or ``webp`` - the recorder's own tile encoder
    (:func:`~workprint.capture.frames.encode_tile`, lossless WebP)."""
    width, height = img.size
    digests: list[bytes] = []
    new: dict[bytes, tuple[str, bytes]] = {}
    for ty in range(0, height, tile):
        for tx in range(0, width, tile):
            part = img.crop((tx, ty, min(tx + tile, width), min(ty + tile, height)))
            raw = part.tobytes()
            d = hashlib.sha256(raw + bytes(str(part.size), "ascii")).digest()[:16]
            digests.append(d)
            if not w.has_tile(d) and d not in new:
                new[d] = (tile_format, _encode_tile(part, tile_format))
    frame_id = hashlib.sha256(b"".join(digests)).hexdigest()[:32]
    ref = FrameRef(t_ns, frame_id, reason, width, height)
    w.add_frame(ref, tile, digests, new)
    return ref


def _encode_tile(part: Image.Image, fmt: str) -> bytes:
    if fmt == "webp":
        import numpy as np

        from workprint.capture.frames import encode_tile

        bgrx = np.ascontiguousarray(np.asarray(part.convert("RGBA"))[..., [2, 1, 0, 3]])
        return encode_tile(bgrx.view(np.uint32).reshape(part.size[1], part.size[0]))
    buf = io.BytesIO()
    part.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def make_session(root: Path, events, frames: list[tuple[int, Image.Image]], *,
                 width: int = 1920, height: int = 1080, session_id: str = "20260101-090000-abcdef",
                 meta: dict | None = None, tile: int = TILE, tile_format: str = "png"):
    w = DataDir(root).create({"screen": {"width": width, "height": height, "scale": 1.0,
                                         "monitors": [{"x": 0, "y": 0, "width": width, "height": height}]},
                              **(meta or {})},
                             session_id=session_id)
    w.add_events(events)
    for t, img in frames:
        add_image_frame(w, t, img, tile=tile, tile_format=tile_format)
    w.close()
    return session_id
