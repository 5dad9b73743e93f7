"""The sealed chunk: the unit a device uploads to a collector.

A chunk is self-describing and versioned::

    b"WPCHUNK\\0"                        8 bytes magic
    manifest length                     4 bytes, big-endian unsigned
    manifest                            canonical JSON (sorted keys, no spaces, UTF-8)
    payload                             the entries' bytes, concatenated in manifest order

The manifest names the format version, the session *pseudonym* (a keyed HMAC of the session
id under a key that never leaves the device - never a username, hostname or raw id; the
collector knows the contributor from the device credential, so the chunk does not carry
one), the chunk index and count, the
policy hash the session was recorded under, and for every entry its name, type, size and
sha256 (plus the uncompressed size of compressed entries). The chunk's address is the
sha256 of all its bytes. Sealing is deterministic: the same session sealed twice yields
byte-identical chunks, so a retry can never create a second copy.

Entries:
    ``events.jsonl.gz``  gzip of JSON lines ``[t_ns, kind, data]`` (the store's rows, key
                         timing coarsened - see below)
    ``frames.jsonl.gz``  gzip of JSON lines ``[t_ns, frame_id, reason, w, h, tile, [digest...]]``
    ``tiles/<digest>.png``  one image tile (digest = 32 hex chars, the store's tile digest)

Key timing (version 2): inter-key intervals and key hold times are biometric (keystroke
dynamics), so they never leave the device. :func:`coarsen_key_times` rewrites the times of
key events before sealing: the key events of one typing run (consecutive keys less than
``events.TYPING_RUN_GAP_NS`` apart, with no click, scroll, focus change, gap, marker or frame between
them) get times spread evenly between the run's start (rounded down to ``GRID_NS``) and
its end (rounded to ``GRID_NS``), in their recorded order. Such times are a function of
the run's coarse start, coarse end and number of keys only; pointer events keep their
exact times, and every run stays between the events and frames around it, so merging
events and frames by time and reducing events to actions behave as before (a write keeps
its coarse start and end; a pause of that gap or more between keys still ends a
run and can still become a wait). Pointer moves between two keys of a run, and the
element of a typed key (which carries that key's time), take the time of the key before
them. The manifest says ``"key_timing": "runs"``. Version 1 chunks
(raw times) are still accepted by :func:`parse_chunk` - a device may hold some sealed
before the upgrade - but no longer written.

Code versions (version 3): the manifest's ``code`` says which workprint version recorded
the session (``recorder``, from the session's metadata; null when the session did not
record it) and which sealed the chunk (``sealer``), so a dataset built from chunks names
the code its data came from. Version 1 and 2 chunks carry no ``code`` and stay readable.

:func:`parse_chunk` is the one verifier: the collector calls it before accepting anything.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..events import EVENT_KINDS, EVENT_VERSION, TYPING_RUN_GAP_NS

MAGIC = b"WPCHUNK\x00"
FORMAT = "workprint-chunk"
VERSION = 3
#: Chunk versions :func:`parse_chunk` accepts (1: raw key times, sealed by older devices;
#: 2: no ``code`` versions).
ACCEPTED_VERSIONS = (1, 2, 3)
#: Key timing in version 2 chunks (manifest ``key_timing``), see :func:`coarsen_key_times`.
KEY_TIMING = "runs"
GRID_NS = 100_000_000          # run start/end rounded to 100 ms
_KEY_KINDS = frozenset({"key_down", "key_up"})
#: Events that may sit inside a typing run without ending it; they take the time of the key
#: before them. An element carries the exact time of the key press it belongs to.
_IN_RUN_KINDS = frozenset({"move", "element"})
#: Policy hash used when a session carries none (safeguards not configured).
NO_POLICY = "none"
#: Session metadata keys that may leave the device (nothing identifying).
#: Wall-clock times stay on the device: with a pseudonym they would show when a person works.
META_KEYS = ("state", "event_version", "schema", "dropped_frames", "screen_width", "screen_height")

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CODE_VERSION = re.compile(r"^[0-9A-Za-z.+_-]{1,64}$")
#: Keys of a version 3 manifest's ``code``.
CODE_KEYS = ("recorder", "sealer")
_NAME = re.compile(r"^(events\.jsonl\.gz|frames\.jsonl\.gz|tiles/[0-9a-f]{32}\.(png|webp|jpeg))$")
_TILE_FORMATS = {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG"}


class ChunkError(ValueError):
    """A chunk failed verification. ``str()`` says which check and why."""


@dataclass(frozen=True)
class Limits:
    """What a collector accepts. Defaults suit 1080p sessions sealed at ~4 MiB."""

    max_chunk_bytes: int = 16 * 1024 * 1024
    max_manifest_bytes: int = 256 * 1024
    max_entries: int = 4096
    max_raw_bytes: int = 64 * 1024 * 1024     # uncompressed size of one jsonl entry
    max_ratio: int = 200                      # uncompressed / compressed
    max_tile_side: int = 1024
    max_lines: int = 2_000_000


@dataclass
class Chunk:
    manifest: dict[str, Any]
    payload: bytes
    data: bytes = field(repr=False)
    #: rows of the jsonl entries as :func:`parse_chunk` read them while verifying (deep)
    rows: dict[str, list[Any]] = field(default_factory=dict, repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def pseudonym(key: bytes, value: str, purpose: str) -> str:
    """Keyed HMAC pseudonym (32 hex). ``purpose`` separates the namespaces."""
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def encode_chunk(manifest: dict[str, Any], entries: list[tuple[dict[str, Any], bytes]]) -> Chunk:
    """Assemble a chunk from a manifest skeleton and ``(entry, bytes)`` pairs."""
    payload = b"".join(data for _, data in entries)
    m = dict(manifest)
    from .. import __version__

    m["format"], m["version"] = FORMAT, VERSION
    m["key_timing"] = KEY_TIMING
    m["code"] = {"recorder": m.get("code", {}).get("recorder"), "sealer": __version__}
    m["entries"] = [dict(e, size=len(d), sha256=hashlib.sha256(d).hexdigest()) for e, d in entries]
    m["payload_size"] = len(payload)
    m["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    head = canonical_json(m)
    data = MAGIC + struct.pack(">I", len(head)) + head + payload
    return Chunk(m, payload, data)


def jsonl_entry(name: str, kind: str, rows: Iterable[Any]) -> tuple[dict[str, Any], bytes]:
    raw = b"".join(canonical_json(r) + b"\n" for r in rows)
    return {"name": name, "type": kind, "encoding": "gzip", "raw_size": len(raw)}, _gzip(raw)


def coarsen_key_times(events: list[list[Any]], frame_times: Iterable[int] = ()) -> list[list[Any]]:
    """Events (``[t_ns, kind, data]``, any order) in time order with the key timing of
    every typing run coarsened as described in the module docstring. Rows that change are
    copies; the input is not modified."""
    import bisect

    rows = sorted(events, key=lambda r: (r[0], r[1] == "element"))  # an element after its input
    frames = sorted(frame_times)
    out = list(rows)
    n, i = len(rows), 0
    while i < n:
        if rows[i][1] not in _KEY_KINDS:
            i += 1
            continue
        keys = [i]                       # indexes of the run's key events
        j = i + 1
        while j < n:
            t, kind = rows[j][0], rows[j][1]
            if kind in _KEY_KINDS:
                last = rows[keys[-1]][0]
                if t - last >= TYPING_RUN_GAP_NS:
                    break
                f = bisect.bisect_left(frames, last)    # a frame in [last, t) ends the run
                if f < len(frames) and frames[f] < t:
                    break
                keys.append(j)
            elif kind not in _IN_RUN_KINDS:
                break
            j += 1
        first, end = keys[0], keys[-1]
        t0, t1 = rows[first][0], rows[end][0]
        # Bounds: stay after everything before the run and before everything after it.
        lo = out[first - 1][0] if first else None
        f = bisect.bisect_right(frames, t0)
        if f:
            lo = frames[f - 1] if lo is None else max(lo, frames[f - 1])
        hi = rows[end + 1][0] if end + 1 < n else None
        f = bisect.bisect_left(frames, t1)
        if f < len(frames):
            hi = frames[f] if hi is None else min(hi, frames[f])
        start = t0 // GRID_NS * GRID_NS
        if lo is not None:
            start = max(start, lo)
        stop = (t1 + GRID_NS // 2) // GRID_NS * GRID_NS
        if hi is not None:
            stop = min(stop, hi)
        stop = max(stop, start)
        count = len(keys)
        prev = start
        k = 0
        for idx in range(first, end + 1):
            row = rows[idx]
            if row[1] in _KEY_KINDS:
                prev = start + (stop - start) * k // (count - 1) if count > 1 else start
                k += 1
            out[idx] = [prev, row[1], row[2]]
        i = end + 1
    return out


def seal_rows(*, session: str, policy_hash: str, meta: dict[str, Any],
              events: list[list[Any]], frames: list[list[Any]], tiles: dict[str, tuple[str, bytes]],
              target_bytes: int = 4 * 1024 * 1024) -> list[Chunk]:
    """Pure sealing: split a closed session's rows into chunks of about ``target_bytes``.

    ``events`` rows are ``[t_ns, kind, data]``; ``frames`` rows
    ``[t_ns, frame_id, reason, w, h, tile, [digest hex...]]``; ``tiles`` maps digest hex to
    ``(format, bytes)``. Each frame travels with the tiles it needs that no earlier chunk
    of this session carried.
    """
    events = coarsen_key_times(events, (r[0] for r in frames))
    groups: list[tuple[list, list, list[str]]] = [([], [], [])]
    size = 0
    sent: set[str] = set()
    items: list[tuple[int, int, list[Any]]] = [(r[0], 0, r) for r in events] + \
                                              [(r[0], 1, r) for r in frames]
    items.sort(key=lambda x: (x[0], x[1]))
    for _, is_frame, row in items:
        ev, fr, tl = groups[-1]
        if is_frame:
            need = [d for d in row[6] if d not in sent and d in tiles]
            cost = 64 + sum(len(tiles[d][1]) for d in dict.fromkeys(need))
        else:
            need, cost = [], len(canonical_json(row)) // 4 + 1  # events compress well
        if size and size + cost > target_bytes:
            groups.append(([], [], []))
            ev, fr, tl = groups[-1]
            size = 0
        (fr if is_frame else ev).append(row)
        for d in dict.fromkeys(need):
            sent.add(d)
            tl.append(d)
        size += cost
    count = len(groups)
    safe_meta = {k: meta[k] for k in META_KEYS if k in meta}
    chunks = []
    for index, (ev, fr, tl) in enumerate(groups):
        entries = [jsonl_entry("events.jsonl.gz", "events", ev),
                   jsonl_entry("frames.jsonl.gz", "frames", fr)]
        for d in tl:
            fmt, data = tiles[d]
            entries.append(({"name": f"tiles/{d}.{fmt}", "type": "tile", "format": fmt}, data))
        recorder = meta.get("workprint_version")
        chunks.append(encode_chunk({
            "code": {"recorder": recorder if isinstance(recorder, str) and _CODE_VERSION.match(recorder)
                     else None},
            "session": session, "index": index, "count": count,
            "policy_hash": policy_hash or NO_POLICY, "event_version": EVENT_VERSION,
            "session_meta": safe_meta}, entries))
    return chunks


# --- verification ------------------------------------------------------------------------

def split_chunk(data: bytes, limits: Limits = Limits()) -> tuple[dict[str, Any], bytes]:
    """Split raw bytes into (manifest, payload); checks framing only."""
    if len(data) > limits.max_chunk_bytes:
        raise ChunkError(f"chunk is {len(data)} bytes; the limit is {limits.max_chunk_bytes}")
    if len(data) < 12 or data[:8] != MAGIC:
        raise ChunkError("not a workprint chunk (bad magic bytes)")
    (mlen,) = struct.unpack(">I", data[8:12])
    if mlen > limits.max_manifest_bytes or 12 + mlen > len(data):
        raise ChunkError(f"manifest length {mlen} is out of bounds")
    try:
        manifest = json.loads(data[12:12 + mlen])
    except (UnicodeDecodeError, ValueError) as exc:
        raise ChunkError(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise ChunkError("manifest must be a JSON object")
    return manifest, data[12 + mlen:]


def _want(cond: bool, message: str) -> None:
    if not cond:
        raise ChunkError(message)


def check_manifest(m: dict[str, Any], limits: Limits = Limits()) -> None:
    """Schema of the manifest (versions 1 and 2)."""
    _want(m.get("format") == FORMAT, f"manifest format must be {FORMAT!r}")
    _want(type(m.get("version")) is int and m["version"] in ACCEPTED_VERSIONS,
          f"unsupported chunk version {m.get('version')!r}; this collector reads versions "
          f"{', '.join(map(str, ACCEPTED_VERSIONS))}")
    if m["version"] >= 2:
        _want(m.get("key_timing") == KEY_TIMING,
              f"manifest.key_timing must be {KEY_TIMING!r} in a version {m['version']} chunk")
    else:
        _want("key_timing" not in m, "manifest.key_timing is not part of a version 1 chunk")
    if m["version"] >= 3:
        code = m.get("code")
        _want(isinstance(code, dict) and set(code) == set(CODE_KEYS)
              and isinstance(code["sealer"], str) and bool(_CODE_VERSION.match(code["sealer"]))
              and (code["recorder"] is None or (isinstance(code["recorder"], str)
                                                and bool(_CODE_VERSION.match(code["recorder"])))),
              f"manifest.code must be {{'recorder': version or null, 'sealer': version}} in a "
              f"version {m['version']} chunk")
    else:
        _want("code" not in m, f"manifest.code is not part of a version {m['version']} chunk")
    _want(isinstance(m.get("session"), str) and bool(_HEX32.match(m["session"])),
          "manifest.session must be a 32-hex-digit pseudonym")
    allowed = {"format", "version", "session", "index", "count", "policy_hash", "event_version",
               "session_meta", "entries", "payload_size", "payload_sha256", "key_timing", "code"}
    _want(not set(m) - allowed, f"manifest has unknown keys {sorted(set(m) - allowed)}")
    for key in ("index", "count", "payload_size", "event_version"):
        _want(type(m.get(key)) is int and m[key] >= 0, f"manifest.{key} must be a non-negative integer")
    _want(0 <= m["index"] < m["count"] <= 100_000, "manifest.index must be below manifest.count")
    _want(m["event_version"] <= EVENT_VERSION, f"event_version {m['event_version']} is newer than {EVENT_VERSION}")
    _want(isinstance(m.get("policy_hash"), str) and 0 < len(m["policy_hash"]) <= 128,
          "manifest.policy_hash must be a short string")
    _want(isinstance(m.get("payload_sha256"), str) and bool(_HEX64.match(m["payload_sha256"])),
          "manifest.payload_sha256 must be 64 hex digits")
    _want(isinstance(m.get("session_meta", {}), dict), "manifest.session_meta must be an object")
    extra = set(m.get("session_meta", {})) - set(META_KEYS)
    _want(not extra, f"manifest.session_meta has keys that may identify a person: {sorted(extra)}")
    entries = m.get("entries")
    _want(isinstance(entries, list) and 0 < len(entries) <= limits.max_entries,
          f"manifest.entries must be a list of 1..{limits.max_entries}")
    names = set()
    for e in entries:
        _want(isinstance(e, dict), "every entry must be an object")
        name = e.get("name")
        _want(isinstance(name, str) and bool(_NAME.match(name)),
              f"entry name {name!r} is not allowed (only events.jsonl.gz, frames.jsonl.gz, "
              f"tiles/<32 hex>.png|webp|jpeg - no paths)")
        _want(name not in names, f"entry {name!r} appears twice")
        names.add(name)
        _want(type(e.get("size")) is int and e["size"] >= 0, f"entry {name}: size must be an integer")
        _want(isinstance(e.get("sha256"), str) and bool(_HEX64.match(e["sha256"])),
              f"entry {name}: sha256 must be 64 hex digits")
        if name.endswith(".gz"):
            _want(e.get("encoding") == "gzip" and type(e.get("raw_size")) is int
                  and 0 <= e["raw_size"] <= limits.max_raw_bytes,
                  f"entry {name}: needs encoding 'gzip' and raw_size <= {limits.max_raw_bytes}")
            _want(e["raw_size"] <= max(e["size"], 1) * limits.max_ratio,
                  f"entry {name}: compression ratio above {limits.max_ratio} (decompression bomb?)")
    _want("events.jsonl.gz" in names, "chunk has no events.jsonl.gz entry")
    _want(sum(e["size"] for e in entries) == m["payload_size"], "entry sizes do not add up to payload_size")


def _gunzip_bounded(data: bytes, raw_size: int, name: str) -> bytes:
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(data, raw_size + 1)
    except zlib.error as exc:
        raise ChunkError(f"entry {name}: not valid gzip ({exc})") from None
    if len(out) != raw_size or d.unconsumed_tail or not d.eof:
        raise ChunkError(f"entry {name}: decompresses to more or less than its declared raw_size "
                         f"{raw_size} (refused as a possible decompression bomb)")
    if d.unused_data:
        raise ChunkError(f"entry {name}: {len(d.unused_data)} bytes after the end of the gzip stream")
    return out


def declared_work(data: bytes, limits: Limits = Limits()) -> int:
    """Bytes a full verification of ``data`` will touch, from its manifest alone (chunk
    size plus every entry's declared uncompressed size). 0 when the framing is bad (such a
    chunk is refused at once)."""
    try:
        manifest, _ = split_chunk(data, limits)
        entries = manifest.get("entries") or []
        return len(data) + sum(int(e.get("raw_size") or 0) for e in entries if isinstance(e, dict))
    except (ChunkError, TypeError, ValueError, AttributeError):
        return 0


def _lines(raw: bytes, name: str, limits: Limits) -> Iterator[Any]:
    lines = raw.split(b"\n")
    _want(lines[-1] == b"", f"entry {name}: must end with a newline")
    _want(len(lines) <= limits.max_lines + 1, f"entry {name}: too many lines")
    for i, line in enumerate(lines[:-1], 1):
        try:
            yield json.loads(line)
        except ValueError:
            raise ChunkError(f"entry {name}: line {i} is not JSON") from None


def _check_event(row: Any, i: int) -> None:
    _want(isinstance(row, list) and len(row) == 3 and type(row[0]) is int
          and row[1] in EVENT_KINDS and isinstance(row[2], dict),
          f"events.jsonl.gz line {i}: must be [t_ns, kind, {{...}}] with a known kind")


def _check_frame(row: Any, i: int) -> None:
    _want(isinstance(row, list) and len(row) == 7 and type(row[0]) is int and isinstance(row[1], str)
          and isinstance(row[2], str) and all(type(v) is int and 0 < v <= 65535 for v in row[3:6])
          and isinstance(row[6], list) and all(isinstance(d, str) and _HEX32.match(d) for d in row[6]),
          f"frames.jsonl.gz line {i}: must be [t_ns, frame_id, reason, w, h, tile, [digests]]")


def _check_tile(name: str, data: bytes, limits: Limits) -> None:
    from PIL import Image

    fmt = _TILE_FORMATS[name.rsplit(".", 1)[1]]
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            w, h = img.size
            _want(w <= limits.max_tile_side and h <= limits.max_tile_side,
                  f"entry {name}: image is {w}x{h}; tiles may be at most "
                  f"{limits.max_tile_side}x{limits.max_tile_side} (oversized image)")
            img.verify()
    except ChunkError:
        raise
    except Exception as exc:  # Pillow raises many types for hostile input
        raise ChunkError(f"entry {name}: not a valid {fmt} image ({type(exc).__name__}: {exc})") from None


def parse_chunk(data: bytes, limits: Limits = Limits(), *, deep: bool = True,
                keep_rows: bool = False) -> Chunk:
    """Verify a chunk completely (framing, schema, every hash and size, every line and
    image). Raises :class:`ChunkError` naming the first problem. ``keep_rows``: the
    verified jsonl rows stay in :attr:`Chunk.rows` (a reader saves parsing them again)."""
    manifest, payload = split_chunk(data, limits)
    check_manifest(manifest, limits)
    _want(len(payload) == manifest["payload_size"],
          f"payload is {len(payload)} bytes but the manifest says {manifest['payload_size']} (truncated?)")
    _want(hashlib.sha256(payload).hexdigest() == manifest["payload_sha256"],
          "payload sha256 does not match the manifest")
    offset = 0
    rows: dict[str, list[Any]] = {}
    for e in manifest["entries"]:
        blob = payload[offset:offset + e["size"]]
        offset += e["size"]
        _want(hashlib.sha256(blob).hexdigest() == e["sha256"], f"entry {e['name']}: sha256 mismatch")
        if not deep:
            continue
        if e["name"].endswith(".gz"):
            raw = _gunzip_bounded(blob, e["raw_size"], e["name"])
            check = _check_event if e["name"].startswith("events") else _check_frame
            got: list[Any] = []
            for i, row in enumerate(_lines(raw, e["name"], limits), 1):
                check(row, i)
                if keep_rows:
                    got.append(row)
            if keep_rows:
                rows[e["name"]] = got
        else:
            _check_tile(e["name"], blob, limits)
    return Chunk(manifest, payload, data, rows)


def read_entries(chunk: Chunk) -> dict[str, bytes]:
    """Entry name -> decoded bytes (jsonl entries decompressed). For verified chunks."""
    out, offset = {}, 0
    for e in chunk.manifest["entries"]:
        blob = chunk.payload[offset:offset + e["size"]]
        offset += e["size"]
        out[e["name"]] = gzip.decompress(blob) if e["name"].endswith(".gz") else blob
    return out


# --- sealing a stored session (I/O adapter over the session store) --------------------

def seal_session(session: Any, *, device_key: bytes,
                 target_bytes: int = 4 * 1024 * 1024) -> list[Chunk]:
    """Seal a closed :class:`workprint.store.session.Session` into chunks.

    The session id becomes a keyed pseudonym; only :data:`META_KEYS` of its metadata go
    along; frames and tiles come through the session's reading API.
    """
    from ..events import to_row

    events = [[t, k, json.loads(d)] for t, k, d in (to_row(e) for e in session.events())]
    manifests = session.frame_manifests()
    frames = []
    for ref in session.frames():
        tile, digests = manifests.get(ref.frame_id, (0, []))
        frames.append([ref.t_ns, ref.frame_id, ref.reason, ref.width, ref.height, tile or 1,
                       [d.hex() for d in digests]])
    tiles = {d.hex(): (fmt.lower(), data) for d, fmt, data in session.tiles()}
    return seal_rows(
        session=pseudonym(device_key, session.id, "session"),
        policy_hash=str(session.meta.get("policy_hash") or NO_POLICY), meta=session.meta,
        events=events, frames=frames, tiles=tiles, target_bytes=target_bytes)
