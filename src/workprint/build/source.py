"""What a build reads: the collector's stored sessions, as plans and as reassembled sessions.

:func:`plan_sessions` asks the collector's metadata store (SQLite or PostgreSQL) which
sessions are complete - every chunk of them is stored, and only chunks a contributor approved
ever reach a collector - and returns one :class:`SessionPlan` per session, sorted by
pseudonym. :func:`load_session` fetches a plan's chunks from the blob store (a directory or
S3), verifies each one with the collector's own verifier (:func:`~workprint.sync.chunk.parse_chunk`:
framing, every hash, every line and image) and the plan (address, session, index, count),
and reassembles a :class:`ChunkSession`: the same reading interface as a stored session on a
device, so the device export's reduction and keyframing run on it unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from ..errors import BuildError
from ..events import FrameRef, RawEvent, from_row
from ..store.session import assemble_frame
from ..sync.chunk import ChunkError, Limits, parse_chunk


@dataclass(frozen=True)
class SessionPlan:
    """One session to build from: its pseudonym, its chunks in index order, the policy it
    was recorded under, the reduction thresholds of that policy, and the day the collector
    first received it (``YYYY-MM-DD``, UTC; the only time the collector knows). The
    contributor never leaves the driver: only counted for k-anonymous statistics."""

    session: str
    chunks: tuple[str, ...]
    policy_hash: str
    received_day: str
    reduce: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["chunks"], d["reduce"] = list(self.chunks), [list(kv) for kv in self.reduce]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SessionPlan":
        return cls(d["session"], tuple(d["chunks"]), d["policy_hash"], d["received_day"],
                   tuple((k, v) for k, v in d["reduce"]))


def plan_sessions(meta, *, reduce_for=None) -> tuple[list[SessionPlan], dict[str, str]]:
    """Complete sessions in the store, sorted by pseudonym, and the contributor of each
    (pseudonym -> contributor id, for counting only). ``reduce_for(policy_hash)`` gives the
    reduction thresholds as ``((name, value), ...)``."""
    from datetime import datetime, timezone

    by_session: dict[str, list] = {}
    for row in meta.chunks():
        by_session.setdefault(row.session, []).append(row)
    plans, owners = [], {}
    for session in sorted(by_session):
        rows = sorted(by_session[session], key=lambda r: r.idx)
        if len(rows) != rows[0].count or [r.idx for r in rows] != list(range(rows[0].count)):
            continue                      # still uploading: built once complete
        day = datetime.fromtimestamp(min(r.received for r in rows), timezone.utc).strftime("%Y-%m-%d")
        policy = rows[0].policy_hash
        plans.append(SessionPlan(session, tuple(r.sha256 for r in rows), policy, day,
                                 reduce_for(policy) if reduce_for else ()))
        owners[session] = rows[0].contributor
    return plans, owners


class ChunkSession:
    """A session reassembled from its verified chunks; reads like a stored session
    (``id``, ``meta``, ``events()``, ``frames()``, ``frame_image()``, ``reading()``). Its id
    is the pseudonym: nothing in a dataset can name the device's own session id."""

    def __init__(self, pseudonym: str, policy_hash: str, session_meta: dict[str, Any],
                 events: list[tuple[int, str, str]], frames: list[list[Any]],
                 tiles: "Tiles"):
        self.id = pseudonym
        #: chunk format and code versions behind the session (see :func:`code_versions`)
        self.code: dict[str, list] = {}
        self.meta: dict[str, Any] = {"policy_hash": policy_hash}
        w, h = session_meta.get("screen_width"), session_meta.get("screen_height")
        if w and h:
            self.meta["screen"] = {"width": int(w), "height": int(h), "scale": 1.0}
        self._events = events
        self._frames = {row[1]: row for row in frames}
        self._refs = [FrameRef(r[0], r[1], r[2], r[3], r[4]) for r in frames]
        self._tiles = tiles
        #: decoded tiles of the last frame assembled: the next frame shares most of them
        self._decoded: dict[str, Any] = {}

    def reading(self):
        return nullcontext()

    def events(self) -> Iterator[RawEvent]:
        for t, kind, data in self._events:
            yield from_row(t, kind, data)

    def frames(self) -> list[FrameRef]:
        return list(self._refs)

    def frame_grid(self, frame_id: str) -> tuple[int, int, int, list[str]]:
        row = self._frames.get(frame_id)
        if row is None:
            raise BuildError(f"frame {frame_id} is not in session {self.id}")
        _, _, _, width, height, tile, digests = row
        return width, height, tile, digests

    def tile_data(self, digest: str) -> bytes:
        data = self._tiles.get(digest)
        if data is None:
            raise BuildError(f"tile {digest} is in no chunk of session {self.id}")
        return data

    def frame_image(self, frame_id: str):
        width, height, tile, digests = self.frame_grid(frame_id)
        last = self._decoded
        mine = {d: last[d] for d in digests if d in last}
        img = assemble_frame(width, height, tile, digests, self.tile_data, mine)
        self._decoded = mine                # one frame's tiles at most (swapped whole: threads)
        return img

    def close(self) -> None:
        self._tiles.close()
        self._decoded = {}


#: Tile bytes a worker keeps in memory for one session; the rest waits in a private temp
#: folder until the session is done (a long session's tiles can be hundreds of MB).
TILE_MEMORY = 64 * 1024 * 1024


class Tiles:
    """A session's encoded tiles by digest: in memory up to ``budget`` bytes, then on disk."""

    def __init__(self, budget: int | None = None):
        self._mem: dict[str, bytes] = {}
        self._size, self._budget = 0, TILE_MEMORY if budget is None else budget
        self._dir: str | None = None
        self._on_disk: set[str] = set()

    def add(self, digest: str, data: bytes) -> None:
        if digest in self._mem or digest in self._on_disk:
            return
        if self._size + len(data) <= self._budget:
            self._mem[digest] = bytes(data)
            self._size += len(data)
            return
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="wp-tiles-")          # 0700
        with open(os.path.join(self._dir, digest), "wb") as f:        # digest: 32 hex (verified)
            f.write(data)
        self._on_disk.add(digest)

    def get(self, digest: str) -> bytes | None:
        data = self._mem.get(digest)
        if data is None and digest in self._on_disk:
            with open(os.path.join(self._dir, digest), "rb") as f:
                data = f.read()
        return data

    def close(self) -> None:
        self._mem, self._size = {}, 0
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir, self._on_disk = None, set()


def load_session(blobs, plan: SessionPlan, limits: Limits = Limits()) -> ChunkSession:
    """Fetch, verify and reassemble ``plan``'s chunks. Raises :class:`ChunkError` naming
    the chunk and check that failed (the build then leaves the session out and says so)."""
    from ..server.blobs import chunk_key

    #: (time, kind, data as compact JSON): text is a few times smaller than parsed dicts,
    #: and a session's events are held whole (the reduction reads them at once)
    events: list[tuple[int, str, str]] = []
    frames: list[list[Any]] = []
    tiles = Tiles()
    session_meta: dict[str, Any] = {}
    versions: set[tuple[int, str | None, str | None]] = set()
    try:
        for index, sha in enumerate(plan.chunks):
            try:
                data = blobs.get(chunk_key(sha))
            except KeyError:
                raise ChunkError(f"chunk {sha} of session {plan.session} is missing from the blob store") from None
            if hashlib.sha256(data).hexdigest() != sha:
                raise ChunkError(f"chunk {sha} of session {plan.session}: stored bytes do not match its address")
            chunk = parse_chunk(data, limits, keep_rows=True)
            m = chunk.manifest
            if m["session"] != plan.session or m["index"] != index or m["count"] != len(plan.chunks):
                raise ChunkError(f"chunk {sha}: its manifest says session {m['session']} chunk "
                                 f"{m['index']}/{m['count']}, the store says {plan.session} "
                                 f"{index}/{len(plan.chunks)}")
            session_meta.update(m.get("session_meta") or {})
            code = m.get("code") or {}
            versions.add((m["version"], code.get("recorder"), code.get("sealer")))
            # the verifier parsed every line already: its rows are used, not parsed again
            events.extend((t, kind, json.dumps(data, separators=(",", ":")))
                          for t, kind, data in chunk.rows.get("events.jsonl.gz", ()))
            frames.extend(chunk.rows.get("frames.jsonl.gz", ()))
            offset = 0
            for e in m["entries"]:
                if e["name"].startswith("tiles/"):
                    tiles.add(e["name"][6:].split(".", 1)[0], chunk.payload[offset:offset + e["size"]])
                offset += e["size"]
            del chunk, data
    except BaseException:
        tiles.close()               # nothing of a refused session stays on disk
        raise
    events.sort(key=lambda r: r[0])                  # stable: ties keep their stored order
    frames.sort(key=lambda r: r[0])
    session = ChunkSession(plan.session, plan.policy_hash, session_meta, events, frames, tiles)
    session.code = code_versions(versions)
    return session


def code_versions(versions) -> dict[str, list]:
    """What the chunks say about the code behind them: chunk format versions, and the
    workprint versions that recorded and sealed them (version 3 chunks; ``"unknown"`` where
    a chunk or session did not say)."""
    return {"chunk_versions": sorted({v for v, _, _ in versions}),
            "recorded_by": sorted({r or "unknown" for _, r, _ in versions}),
            "sealed_by": sorted({s or "unknown" for _, _, s in versions})}
