"""Group commit for verified uploads.

Requests hand a verified chunk to one ingest thread per collector process. The thread takes
everything queued since its last round as one batch and, for the batch:

1. asks the metadata store once which of the chunks it already holds (idempotent retries);
2. stores the new blobs durably (local: write a temp file, fsync, rename, then fsync each
   touched directory once; S3: parallel PUTs, each verified by the object store);
3. inserts every metadata row in one transaction (one durable commit for the batch);
4. only then answers every request of the batch.

So an upload is acknowledged only once its blob and its row are durable, a crash at any
point leaves at most orphan blobs (no row points at them; ``sweep_orphans`` removes them),
and the per-upload costs of a commit, a thread hand-off and a wake-up of the event loop are
paid once per batch instead of once per chunk.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .blobs import BlobStore, chunk_key
from .errors import Conflict, Unauthorized
from .meta import ChunkRow, SqlMeta


@dataclass(eq=False)
class Upload:
    """A verified chunk waiting to be stored."""

    sha256: str
    session: str
    idx: int
    count: int
    contributor: str
    device_id: str
    policy_hash: str
    data: bytes = field(repr=False)
    result: str | None = None
    error: BaseException | None = None
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    future: asyncio.Future | None = field(default=None, repr=False)
    event: threading.Event | None = field(default=None, repr=False)

    def row(self, received: float) -> ChunkRow:
        return ChunkRow(self.sha256, self.session, self.idx, self.count, self.contributor,
                        self.device_id, self.policy_hash, len(self.data), received)


def foreign_session_conflict() -> Conflict:
    """The one answer to a write into a session that is not the uploader's (taken by
    another contributor, or erased) - the same whatever the reason, and for a chunk whose
    bytes another contributor already stored."""
    return Conflict("this session id belongs to another contributor or was erased; "
                    "a device never reuses a session id, so seal the session again")


def _fenced() -> Unauthorized:
    return Unauthorized("token is unknown or revoked")


def _settle(items: list[Upload]) -> None:
    """Runs on an event loop: wakes the requests waiting for these uploads."""
    for it in items:
        fut = it.future
        if fut is None or fut.done():
            continue
        if it.error is not None:
            fut.set_exception(it.error)
        else:
            fut.set_result(it.result)


class Ingest:
    def __init__(self, blobs: BlobStore, meta: SqlMeta, *, max_batch: int = 128):
        self.blobs, self.meta, self.max_batch = blobs, meta, max_batch
        self._queue: list[Upload] = []
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self.batches = 0          # statistics (tests, benchmarks)
        self.stored = 0

    # -- submitting ------------------------------------------------------------------------
    def _submit(self, up: Upload) -> None:
        with self._cv:
            if self._closing:
                raise RuntimeError("the collector is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
                self._thread.start()
            self._queue.append(up)
            if len(self._queue) == 1:
                self._cv.notify()

    async def store_async(self, up: Upload) -> str:
        loop = asyncio.get_running_loop()
        up.loop, up.future = loop, loop.create_future()
        self._submit(up)
        return await up.future

    def store(self, up: Upload) -> str:
        up.event = threading.Event()
        self._submit(up)
        up.event.wait()
        if up.error is not None:
            raise up.error
        return up.result  # type: ignore[return-value]

    def close(self, timeout: float = 30) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- the ingest thread -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closing:
                    self._cv.wait()
                if not self._queue:
                    return
                batch = self._queue[:self.max_batch]
                del self._queue[:self.max_batch]
            try:
                self._store(batch)
            except BaseException as exc:  # noqa: BLE001 - every waiter must hear about it
                for it in batch:
                    if it.result is None and it.error is None:
                        it.error = exc
            self._answer(batch)

    @staticmethod
    def _answer(batch: list[Upload]) -> None:
        by_loop: dict[Any, list[Upload]] = {}
        for it in batch:
            if it.result is None and it.error is None:
                it.error = RuntimeError("upload was not stored")
            if it.event is not None:
                it.event.set()
            elif it.loop is not None:
                by_loop.setdefault(it.loop, []).append(it)
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, items)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    def _store(self, batch: list[Upload]) -> None:
        # Same chunk twice in one batch (a retry racing its original): store it once.
        first: dict[str, Upload] = {}
        repeats: list[Upload] = []
        for it in batch:
            if it.sha256 in first:
                repeats.append(it)
            else:
                first[it.sha256] = it
        owners = self.meta.chunk_owners(list(first))
        new: list[Upload] = []
        for sha, it in first.items():
            owner = owners.get(sha)
            if owner is None:
                new.append(it)
            elif owner == it.contributor:
                it.result = "exists"
            else:
                it.error = foreign_session_conflict()
        if new:
            errors = self.blobs.put_many([(chunk_key(it.sha256), it.data) for it in new])
            stored = []
            for it, err in zip(new, errors):
                if err is None:
                    stored.append(it)
                else:
                    it.error = err
            if stored:
                now = time.time()
                results = self.meta.add_chunks([it.row(now) for it in stored])
                for it, res in zip(stored, results):
                    if res in ("conflict", "foreign", "fenced"):
                        self.blobs.delete(chunk_key(it.sha256))
                        it.error = (_fenced() if res == "fenced" else foreign_session_conflict()
                                    if res == "foreign" else Conflict(
                                        f"session {it.session} already has a different chunk {it.idx}; "
                                        "chunks are immutable once accepted"))
                    else:
                        it.result = res
                self.stored += len(stored)
        for it in repeats:
            done = first[it.sha256]
            if done.error is not None:
                it.error = done.error
            elif done.contributor == it.contributor:
                it.result = "exists"
            else:
                it.error = foreign_session_conflict()
        self.batches += 1
