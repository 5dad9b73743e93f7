"""Sessions for dataset-build tests and the build bench: stored on a device (real session
store, tiled frames), sealed with the device's sealing code and uploaded to a collector."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from workprint.events import FocusEvent, MarkerEvent
from workprint.store.session import DataDir
from workprint.sync.chunk import pseudonym, seal_session

from PIL import ImageDraw

from evgen import Stream
from storegen import make_session, screen_image


def device_session(root: Path, seed: int, *, n_tasks: int = 2, width: int = 640, height: int = 400,
                   secret_share: bool = False, session_id: str | None = None, label: str = "",
                   policy_hash: str = "none", partial: bool = False, tile: int = 256,
                   tile_format: str = "png") -> str:
    """A session with ``n_tasks`` labelled tasks (click, type, hotkey; a frame after each
    action) and some unlabelled work after them. ``secret_share``: the typing is mostly a
    placeholder. ``label`` is drawn on every screen (to find a person's images later).
    ``partial``: each new screen changes only a region of the first (as real screens do)
    instead of all of it. ``tile``, ``tile_format``: the stored tiles (the recorder writes
    128-px lossless WebP)."""
    s = Stream(t0_ms=10_000 + seed)
    first = screen_image(f"{label} desk {seed}", width, height, seed)
    screen = screen_image
    if partial:
        def screen(text, w, h, n):                             # a region of the first changes
            img = first.copy()
            x0, y0 = (n * 97) % max(w - 420, 1), 40 + (n * 53) % max(h - 200, 1)
            d = ImageDraw.Draw(img)
            d.rectangle((x0, y0, x0 + 420, y0 + 160), fill=(n % 256, 230, 230))
            d.text((x0 + 10, y0 + 10), f"{text} " * 3, fill=(0, 0, 0))
            return img
    frames = [(s.t, first)]
    s.add(FocusEvent(s.at(100), 4242, "notes - Editor", "Editor", pid=777))
    for t in range(n_tasks):
        s.add(MarkerEvent(s.at(200), "task_start", text=f"Task {t} of session {seed}"))
        s.move(100 + seed % 50, 100).move(120 + t * 10, 150)
        frames.append((s.at(50), screen(f"{label} before {seed}-{t}", width, height, seed + t)))
        s.at(700)
        s.click(200 + t * 7, 200 + seed % 90)
        frames.append((s.at(300), screen(f"{label} clicked {seed}-{t}", width, height, seed + t + 1)))
        s.at(800)
        s.type("<EMAIL_ADDRESS>" if secret_share else f"note {seed} {t}", dt=90)
        frames.append((s.at(400), screen(f"{label} typed {seed}-{t}", width, height, seed + t + 2)))
        s.at(700)
        s.chord("ctrl", "s")
        frames.append((s.at(400), screen(f"{label} saved {seed}-{t}", width, height, seed + t + 3)))
        s.add(MarkerEvent(s.at(500), "task_end", ok=True))
    s.click(300, 300, dt=2000).key("Return", "\r")
    frames.append((s.at(300), screen(f"{label} after {seed}", width, height, seed + 9)))
    return make_session(root, s.events, frames, width=width, height=height,
                        session_id=session_id or f"20260101-090000-{seed:06x}",
                        meta={"policy_hash": policy_hash, "workprint_version": "0.1.0", "state": "complete"},
                        tile=tile, tile_format=tile_format)


def seal(root: Path, session_id: str, device_key: bytes) -> list[bytes]:
    with DataDir(root).open(session_id) as s:
        return [c.data for c in seal_session(s, device_key=device_key, target_bytes=256 * 1024)]


def upload(fleet, dev, chunks: list[bytes]) -> None:
    for data in chunks:
        r = fleet.put(dev, data)
        assert r.status_code in (200, 201), r.text


@dataclass
class Contributor:
    device: object
    root: Path            # the device's data dir
    key: bytes            # the device's pseudonym key
    sessions: list[str] = field(default_factory=list)

    def pseudonym(self, session_id: str) -> str:
        return pseudonym(self.key, session_id, "session")


def populate(fleet, tmp: Path, people: dict[str, list[int]], **kw) -> dict[str, Contributor]:
    """Enrol one device per person and upload their sessions (seeds)."""
    out = {}
    for person, seeds in people.items():
        c = Contributor(fleet.enroll(person), tmp / f"device-{person}", secrets.token_bytes(32))
        for seed in seeds:
            sid = device_session(c.root, seed, label=person, **kw)
            upload(fleet, c.device, seal(c.root, sid, c.key))
            c.sessions.append(sid)
        out[person] = c
    return out
