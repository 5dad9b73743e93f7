"""Replay a recorded session's frames through the screen-text masker, pure CPU (no X).

The masker's own work - text finding, line reuse, glyph reading, Tesseract, detection - on
the very frames a session stored, so a change to it can be measured in seconds and its
output compared frame by frame. Record the session with OCR masking off (its frames are
then the screens as grabbed, losslessly stored)::

    python bench/replay_masker.py --record DATA [--minutes 5]   # the bench's human-paced session
    python bench/replay_masker.py DATA [--prof out.prof] [--dump crops.npz]

Prints Tesseract calls, read-cache hits, partial reads, lines read from glyphs, boxes
masked and each stage's CPU seconds as JSON. The frames are decoded once into
``DATA/frames.npy``. ``--dump`` keeps every image Tesseract was given (and what it read).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def record(data: Path, minutes: float) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_capture
    from workprint.virtual_desktop import VirtualDesktop

    data.mkdir(parents=True, exist_ok=True)
    with VirtualDesktop(1920, 1080) as desk:
        print(json.dumps(bench_capture.run_session(desk, data, minutes, "session")))


def frames(data: Path) -> np.ndarray:
    """Every stored frame of the first session under ``data`` as BGRX (uint32) screens."""
    from workprint.store.session import DataDir

    cache = data / "frames.npy"
    if not cache.exists():
        roots = [p for p in (data / "session", data) if (p / "sessions").is_dir()]
        if not roots:
            raise SystemExit(f"no recorded session under {data}")
        session = DataDir(roots[0]).sessions()[0]
        screens = []
        for ref in session.frames():
            rgb = np.asarray(session.frame_image(ref.frame_id).convert("RGB")).astype(np.uint32)
            screens.append(0xFF000000 | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])
        np.save(cache, np.stack(screens))
    return np.load(cache, mmap_mode="r")


def replay(screens: np.ndarray, dump: str | None) -> dict:
    from workprint.costs import STAGES
    from workprint.policy import model, redact_pixels as rp
    from workprint.policy.redact_text import Redactor

    redactor = Redactor.from_policy(model.load_policy(ROOT / "examples" / "policy.toml"))
    engine, images = rp.default_engine(), []

    class Recording:
        def words(self, image):
            got = engine.words(image)
            if dump:
                images.append((np.array(image), " ".join(w.text for w in got)))
            return got

        def close(self):
            engine.close()

    masker = rp.TextMasker(redactor, engine=Recording())
    prev, boxes, t0 = None, 0, time.process_time()
    for screen in screens:
        screen = np.ascontiguousarray(screen)
        boxes += len(masker.find(screen, None if prev is None else rp.changed_regions(prev, screen)))
        prev = screen
    out = {"frames": len(screens), "cpu_s": round(time.process_time() - t0, 2),
           "tesseract_calls": masker.ocr_calls, "cache_hits": masker.cache_hits,
           "partial_reads": masker.partial_reads, "inner_reads": getattr(masker, "inner_reads", 0),
           "boxes": boxes,
           "glyph_reads": masker.glyphs.reads if masker.glyphs is not None else 0,
           "stages_cpu_s": {k: round(v["cpu_s"], 2) for k, v in STAGES.snapshot().items()}}
    if dump:
        np.savez_compressed(dump, **{f"c{i}": im for i, (im, _) in enumerate(images)})
        Path(dump + ".txt").write_text("".join(f"{i}\t{im.shape}\t{t}\n" for i, (im, t) in enumerate(images)))
    masker.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="the data dir of a session recorded with OCR masking off")
    ap.add_argument("--record", action="store_true", help="record the bench's session into DATA first (X)")
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--prof", help="write a cProfile of the replay here")
    ap.add_argument("--dump", help="keep every image Tesseract read (npz, and .txt with what it read)")
    args = ap.parse_args()
    if args.record:
        record(args.data, args.minutes)
    screens = frames(args.data)
    if args.prof:
        import cProfile

        result: dict = {}
        cProfile.runctx("result.update(replay(screens, args.dump))", globals(), locals(), args.prof)
    else:
        result = replay(screens, args.dump)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
