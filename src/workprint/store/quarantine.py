"""Encrypted quarantine for frames waiting for OCR masking.

When OCR cannot keep up inline, unmasked frames wait here instead of being dropped. They
are sealed with AES-GCM under a key that exists only in this process's memory (a fresh
``os.urandom(32)`` per recorder run): after a crash the files are unreadable by design and
are deleted by the next :class:`Quarantine` opened on the folder.

File ``<folder>/<id>.bin`` = 12-byte nonce + AES-GCM ciphertext (the id is the associated
data, so files cannot be swapped) of ``header + zlib(raw frame)``; the header holds
``t_ns``, the frame shape and the reason. Writes go to a temp name, are fsynced, then
renamed. Nothing in plain text reaches the disk. The cipher (and the ``cryptography``
package, ~8 MB resident) is loaded when a frame is first sealed or opened: while OCR keeps
up, frames wait in memory and a recorder never loads it.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

_HEADER = struct.Struct("<qIIH")  # t_ns, height, width, len(reason)
_NONCE = 12
_SUFFIX = ".bin"


class QuarantineFull(Exception):
    """The quarantine reached its quota; drop the frame (and count it)."""


class Quarantine:
    """Frames sealed on disk under an in-memory key; :meth:`take` returns oldest first.

    ``quota_bytes`` bounds the folder; :meth:`put` raises :class:`QuarantineFull` beyond
    it. Files that this key cannot open (a previous run's) are deleted when opening.
    Not thread-safe: one owner (the recorder's redaction stage).
    """

    def __init__(self, folder: str | Path, key: bytes | None = None, *,
                 quota_bytes: int = 512 * 1024 * 1024, level: int = 1):
        if key is not None and len(key) != 32:
            raise ValueError("quarantine key must be 32 bytes (AES-256)")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._key = key if key is not None else os.urandom(32)
        self._cipher = None  # AES-GCM under the key, made at its first use
        self.quota_bytes = quota_bytes
        self.level = level
        self._seq = 0
        self._index: dict[str, int] = {}  # id -> file size
        self.purged = 0  # files of earlier runs deleted at open
        self.lost = 0    # files that failed to open in take() and were deleted
        self._adopt_or_purge()

    # -- public ------------------------------------------------------------------------
    def put(self, t_ns: int, reason: str, pixels: np.ndarray) -> str:
        """Seal one frame; returns its id. Raises :class:`QuarantineFull`."""
        h, w = pixels.shape
        rb = reason.encode()
        plain = _HEADER.pack(t_ns, h, w, len(rb)) + rb + zlib.compress(
            np.ascontiguousarray(pixels, dtype=np.uint32).tobytes(), self.level)
        self._seq += 1
        fid = f"{t_ns:020d}-{self._seq:08d}"
        nonce = os.urandom(_NONCE)
        blob = nonce + self._aead().encrypt(nonce, plain, fid.encode())
        if self.bytes_used + len(blob) > self.quota_bytes:
            raise QuarantineFull(f"quarantine {self.folder} is full "
                                 f"({self.bytes_used} of {self.quota_bytes} bytes)")
        tmp = self.folder / f".{fid}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.folder / (fid + _SUFFIX))
        self._index[fid] = len(blob)
        return fid

    def take(self) -> tuple[int, str, np.ndarray] | None:
        """The oldest frame ``(t_ns, reason, pixels)``, its file deleted; None when empty.
        A file that fails to decrypt is deleted and counted in :attr:`lost`."""
        if not self._index:
            return None
        from cryptography.exceptions import InvalidTag

        while self._index:
            fid = min(self._index)
            path = self.folder / (fid + _SUFFIX)
            try:
                item = self._open(fid, path.read_bytes())
            except (OSError, InvalidTag, ValueError, zlib.error, struct.error):
                item = None
                self.lost += 1
            self._unlink(fid)
            if item is not None:
                return item
        return None

    def discard(self, covers) -> int:
        """Delete the frames whose grab time ``covers(t_ns)`` is true (``forget`` of a span
        while they wait); their times are in the file names, nothing is decrypted."""
        gone = [fid for fid in self._index if covers(int(fid.split("-", 1)[0]))]
        for fid in gone:
            self._unlink(fid)
        return len(gone)

    def purge(self) -> int:
        """Delete every quarantine file in the folder; returns how many."""
        n = 0
        for p in self.folder.iterdir():
            if p.name.endswith(_SUFFIX) or p.name.endswith(".tmp"):
                p.unlink(missing_ok=True)
                n += 1
        self._index.clear()
        return n

    def __len__(self) -> int:
        return len(self._index)

    @property
    def bytes_used(self) -> int:
        return sum(self._index.values())

    # -- internals ---------------------------------------------------------------------
    def _aead(self):
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._cipher = AESGCM(self._key)
        return self._cipher

    def _open(self, fid: str, blob: bytes) -> tuple[int, str, np.ndarray]:
        plain = self._aead().decrypt(blob[:_NONCE], blob[_NONCE:], fid.encode())
        t_ns, h, w, n = _HEADER.unpack_from(plain)
        off = _HEADER.size
        reason = plain[off:off + n].decode()
        raw = zlib.decompress(plain[off + n:])
        pixels = np.frombuffer(raw, dtype=np.uint32).reshape(h, w).copy()
        return t_ns, reason, pixels

    def _unlink(self, fid: str) -> None:
        (self.folder / (fid + _SUFFIX)).unlink(missing_ok=True)
        self._index.pop(fid, None)

    def _adopt_or_purge(self) -> None:
        """Keep files this key opens (same run re-opening the folder); delete the rest
        (a crashed run's, whose key is gone) and half-written temp files."""
        for p in sorted(self.folder.iterdir()):
            if p.name.endswith(".tmp"):
                p.unlink(missing_ok=True)
                self.purged += 1
            elif p.name.endswith(_SUFFIX):
                from cryptography.exceptions import InvalidTag

                fid = p.name[:-len(_SUFFIX)]
                try:
                    blob = p.read_bytes()
                    self._aead().decrypt(blob[:_NONCE], blob[_NONCE:], fid.encode())
                except (OSError, InvalidTag, ValueError):
                    p.unlink(missing_ok=True)
                    self.purged += 1
                    continue
                self._index[fid] = len(blob)
                self._seq = max(self._seq, int(fid.rsplit("-", 1)[-1] or 0))


__all__ = ["Quarantine", "QuarantineFull"]
