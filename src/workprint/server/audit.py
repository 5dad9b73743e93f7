"""The audit log's hash chain: each entry's hash covers the previous hash and its own
fields, so changing, removing or reordering any entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

GENESIS = "0" * 64
FIELDS = ("seq", "ts", "actor", "action", "target", "detail")


def entry_hash(prev: str, entry: dict[str, Any]) -> str:
    body = json.dumps({k: entry[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def verify_chain(entries: Iterable[dict[str, Any]], prev: str = GENESIS, seq: int = 0) -> tuple[bool, str]:
    """Check entries in order. Returns ``(ok, message)``; the message names the first
    broken entry."""
    n = 0
    for e in entries:
        n += 1
        if e["seq"] != seq + 1:
            return False, f"entry {seq + 1} is missing (found {e['seq']} next)"
        if e["prev"] != prev:
            return False, f"entry {e['seq']} does not link to the entry before it"
        if entry_hash(prev, e) != e["hash"]:
            return False, f"entry {e['seq']} was altered (hash mismatch)"
        prev, seq = e["hash"], e["seq"]
    return True, f"{n} entries verified; chain intact"
