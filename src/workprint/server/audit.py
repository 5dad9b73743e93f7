"""The audit log's hash chain: each entry's hash covers the previous hash and its own
fields, so changing, removing or reordering any entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import hmac
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


def anchor_record(key: bytes, seq: int, head: str) -> bytes:
    """One anchor line: the chain head at ``seq``, MACed with a key kept outside the database."""
    mac = hmac.new(key, f"{seq}:{head}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"seq": seq, "hash": head, "mac": mac}, separators=(",", ":")).encode() + b"\n"


def check_anchors(entries: list[dict[str, Any]], records: Iterable[bytes], key: bytes) -> tuple[bool, str, int]:
    """Compare the database's entries with the anchors written beside them. Detects entries
    removed (also at the end: truncation) or rewritten and re-hashed after they were
    anchored, and forged anchors. Returns ``(ok, message, last anchored seq)``."""
    by_seq = {e["seq"]: e["hash"] for e in entries}
    anchored: dict[int, str] = {}
    for raw in records:
        try:
            a = json.loads(raw)
            seq, head, mac = int(a["seq"]), str(a["hash"]), str(a["mac"])
        except (ValueError, KeyError, TypeError):
            return False, "an audit anchor is unreadable", max(anchored, default=0)
        if not hmac.compare_digest(mac, hmac.new(key, f"{seq}:{head}".encode(), hashlib.sha256).hexdigest()):
            return False, f"the anchor of entry {seq} is not signed by this collector's audit key", 0
        anchored[seq] = head
    last = max(anchored, default=0)
    for seq in sorted(anchored):
        if seq not in by_seq:
            what = "the log was truncated" if seq > max(by_seq, default=0) else "it was removed"
            return False, f"entry {seq} was anchored but is not in the database ({what})", last
        if by_seq[seq] != anchored[seq]:
            return False, f"entry {seq} was rewritten after it was anchored", last
    return True, f"{len(anchored)} anchors match; last anchored entry {last}", last
