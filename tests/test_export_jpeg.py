"""JPEGs composed from encoded tiles are the bytes Pillow writes for the assembled frame."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from storegen import make_session, screen_image
from workprint.export.common import ImageEncoder
from workprint.export.jpeg import TiledJpeg, restart_blocks, save_jpeg
from workprint.store.session import DataDir, assemble_frame


def _grid(img: Image.Image, tile: int) -> tuple[list[str], dict[str, bytes]]:
    w, h = img.size
    digests, tiles = [], {}
    for ty in range(0, h, tile):
        for tx in range(0, w, tile):
            t = img.crop((tx, ty, min(tx + tile, w), min(ty + tile, h)))
            buf = io.BytesIO()
            t.save(buf, "PNG", compress_level=1)
            d = hashlib.sha256(t.tobytes() + str(t.size).encode()).hexdigest()[:32]
            digests.append(d)
            tiles[d] = buf.getvalue()
    return digests, tiles


def _whole(img: Image.Image, blocks: int) -> bytes:
    buf = io.BytesIO()
    save_jpeg(img, buf, blocks)
    return buf.getvalue()


@pytest.mark.parametrize("size,tile", [((1920, 1080), 128), ((1440, 900), 128), ((1020, 517), 64),
                                       ((1280, 803), 256), ((220, 100), 128)])
def test_composed_bytes_equal_the_whole_frame_encoded(size, tile):
    enc = TiledJpeg()
    first = screen_image("first", *size, seed=1)
    second = first.copy()
    ImageDraw.Draw(second).rectangle((50, 40, 190, 95), fill=(200, 30, 30))   # a few tiles change
    for img in (first, second, first):
        digests, tiles = _grid(img, tile)
        blocks = restart_blocks(size[0], tile)
        assert blocks >= 4
        got = enc.encode("s", *size, tile, digests, tiles.__getitem__)
        assert got == _whole(assemble_frame(*size, tile, digests, tiles.__getitem__), blocks)
        decoded = np.asarray(Image.open(io.BytesIO(got)).convert("RGB")).astype(int)
        assert np.abs(decoded - np.asarray(img).astype(int)).mean() < 3      # a faithful JPEG


def test_grids_without_tile_aligned_intervals_are_left_to_the_whole_encoder():
    assert restart_blocks(1366, 128) == 0          # 171 blocks wide: no interval divides it
    assert restart_blocks(1920, 100) == 0          # tiles not on 8-px blocks
    assert restart_blocks(1920, 128) == 16 and restart_blocks(1440, 128) == 4
    img = screen_image("odd", 1366, 768)
    digests, tiles = _grid(img, 128)
    assert TiledJpeg().encode("s", 1366, 768, 128, digests, tiles.__getitem__) is None


def test_only_new_tiles_are_encoded_and_the_cache_is_bounded():
    img = screen_image("cache", 1024, 512)
    digests, tiles = _grid(img, 128)
    asked: list[str] = []

    def fetch(d):
        asked.append(d)
        return tiles[d]
    enc = TiledJpeg()
    a = enc.encode("s", 1024, 512, 128, digests, fetch)
    n = len(asked)
    assert n == len(set(digests))
    assert enc.encode("s", 1024, 512, 128, digests, fetch) == a and len(asked) == n
    small = TiledJpeg(cache_bytes=1)                # keeps one tile at a time: still correct
    assert small.encode("s", 1024, 512, 128, digests, fetch) == a


def test_the_device_export_composes_its_jpegs(tmp_path):
    """A stored session's frames: the encoder composes them (same bytes as the whole frame
    with restart markers) and a PNG export still encodes the assembled frame."""
    make_session(tmp_path, [], [(1_000_000_000, screen_image("dev", 1920, 1080))])
    s = DataDir(tmp_path).open("20260101-090000-abcdef")
    fid = s.frames()[0].frame_id
    w, h, tile, digests = s.frame_grid(fid)
    got = ImageEncoder("jpeg").frame_bytes(s, fid)
    assert got == _whole(s.frame_image(fid), restart_blocks(w, tile))
    png = ImageEncoder("png").frame_bytes(s, fid)
    assert Image.open(io.BytesIO(png)).tobytes() == s.frame_image(fid).tobytes()


def _tile_variants() -> dict[str, tuple[bytes, bool]]:
    """Tile encodings a chunk may carry -> (bytes, whether the fast decoder takes them)."""
    from workprint.capture.frames import encode_tile

    rgb = screen_image("tile", 128, 96, seed=3)
    rgba = rgb.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    out = {}
    for name, img, fmt, kw, fast in [
            ("png rgb", rgb, "PNG", {"compress_level": 1}, True),
            ("png rgba", rgba, "PNG", {}, False),
            ("png grey", rgb.convert("L"), "PNG", {}, False),
            ("png palette", rgb.convert("P"), "PNG", {}, False),
            ("png rgb16", rgb.convert("I;16"), "PNG", {}, False),
            ("webp lossless rgba", rgba, "WEBP", {"lossless": True}, False),
            ("webp lossy", rgb, "WEBP", {"quality": 80}, False),
            ("jpeg", rgb, "JPEG", {"quality": 90}, False)]:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        out[name] = (buf.getvalue(), fast)
    bgrx = np.ascontiguousarray(np.asarray(rgb.convert("RGBA"))[..., [2, 1, 0, 3]])
    out["webp as the recorder writes it"] = (encode_tile(bgrx.view(np.uint32).reshape(96, 128)), True)
    out["truncated png"] = (out["png rgb"][0][:200], None)
    return out


@pytest.mark.parametrize("name", list(_tile_variants()))
def test_tiles_decode_to_the_pixels_pillow_gives(name):
    """The fast path (imagecodecs) takes lossless RGB tiles only and gives Pillow's pixels;
    every other tile is Pillow's own decoding."""
    from workprint.export.jpeg import _fast_decode, decode_tile

    data, fast = _tile_variants()[name]
    if fast is None:                                # broken: Pillow's error, as before
        assert _fast_decode(data) is None
        with pytest.raises(OSError):
            decode_tile(data)
        return
    assert (_fast_decode(data) is not None) == fast
    got = decode_tile(data)
    want = Image.open(io.BytesIO(data)).convert("RGB")
    assert got.shape == (want.size[1], want.size[0], 3) and got.dtype == np.uint8
    assert got.tobytes() == want.tobytes()


def test_threads_composing_frames_that_share_new_tiles_encode_each_tile_once():
    """Frames encoded in parallel (the export's thread pool) share the tiles they both
    changed: one thread encodes a tile, the other waits for it, whatever the interleaving."""
    import threading

    first = screen_image("threads", 1024, 512)
    second = first.copy()
    ImageDraw.Draw(second).rectangle((100, 100, 700, 300), fill=(10, 200, 10))
    d1, t1 = _grid(first, 128)
    d2, t2 = _grid(second, 128)
    tiles = {**t1, **t2}
    asked: list[str] = []

    def fetch(d):
        asked.append(d)
        return tiles[d]
    enc = TiledJpeg()
    got: dict[int, bytes] = {}
    start = threading.Barrier(4)

    def run(k):
        start.wait()
        got[k] = enc.encode("s", 1024, 512, 128, d1 if k % 2 else d2, fetch)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(asked) == sorted(set(d1) | set(d2))
    assert got[1] == got[3] == _whole(first, restart_blocks(1024, 128))
    assert got[0] == got[2] == _whole(second, restart_blocks(1024, 128))
