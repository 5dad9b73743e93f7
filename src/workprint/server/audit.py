"""The audit log's hash chain: each entry's hash covers the previous hash and its own
fields, so changing, removing or reordering any entry breaks every hash after it.

Entries of version 2 name their actor and target through *commitments*: the chain hashes
``sha256(nonce, field, value)`` instead of the value, and the row keeps the value and its
random nonce beside it so anyone can open the commitment. An erasure replaces a value that
names the erased person (contributor id, device ids, token ids) with a tombstone
``erased:<receipt>`` and deletes its nonce: the chain still verifies (the commitment is
unchanged) but the value cannot be recovered or confirmed, even by someone who has a
candidate id. A tombstone is valid only where the erasure entry with that receipt - itself
in the chain, later or the same - lists the entry's sequence number in ``detail.scrubbed``;
so a database writer cannot "erase" a row (say, a curator's read) to hide it.

Version 1 entries (before commitments) hash the raw values; they verify as before and cannot
be scrubbed without breaking the chain (an erasure counts them as ``unscrubbable``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from typing import Any, Iterable

GENESIS = "0" * 64
#: Every append anchors the new head at once; an entry older than this without an anchor at
#: or after it means anchors were removed (or the anchor store was replaced).
ANCHOR_GRACE_S = 120.0
FIELDS = ("seq", "ts", "actor", "action", "target", "detail")
V2_FIELDS = ("seq", "ts", "actor_commit", "action", "target_commit", "detail")
TOMBSTONE = "erased:"


def commit(nonce: str, field: str, value: str) -> str:
    """Hiding, binding commitment to ``value`` (``nonce``: 32 random bytes, hex)."""
    return hashlib.sha256(f"{nonce}\x00{field}\x00{value}".encode()).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(32)


def tombstone(receipt: str) -> str:
    return f"{TOMBSTONE}{receipt}"


def entry_hash(prev: str, entry: dict[str, Any]) -> str:
    if entry.get("v") == 2:
        body = json.dumps({**{k: entry[k] for k in V2_FIELDS}, "v": 2}, sort_keys=True, separators=(",", ":"))
    else:
        body = json.dumps({k: entry[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def seal(entry: dict[str, Any], *, hide_actor: bool = False) -> dict[str, Any]:
    """Add version-2 commitments to a new entry (seq, ts, actor, action, target, detail).
    ``hide_actor``: the actor is committed to and at once replaced by a tombstone whose
    receipt is ``entry["detail"]``'s (an erasure requested by the person themselves)."""
    out = {**entry, "v": 2}
    for field in ("actor", "target"):
        nonce = new_nonce()
        out[f"{field}_commit"] = commit(nonce, field, entry[field])
        out[f"{field}_nonce"] = nonce
    if hide_actor:
        out["actor"] = tombstone(json.loads(entry["detail"])["receipt"])
        out["actor_nonce"] = None
    return out


def _opening_problem(e: dict[str, Any], field: str, pending: dict[int, str]) -> str | None:
    value, nonce = e[field], e.get(f"{field}_nonce")
    if nonce is not None:
        if commit(nonce, field, value) != e[f"{field}_commit"]:
            return f"entry {e['seq']} was altered: its {field} is not the one it was written with"
        return None
    if not value.startswith(TOMBSTONE):
        return f"entry {e['seq']}'s {field} lost its nonce without being erased"
    pending[e["seq"]] = value[len(TOMBSTONE):]
    return None


def verify_chain(entries: Iterable[dict[str, Any]], prev: str = GENESIS, seq: int = 0) -> tuple[bool, str]:
    """Check entries in order. Returns ``(ok, message)``; the message names the first
    broken entry. Also checks that every version-2 value opens its commitment or is a
    tombstone declared by its erasure entry."""
    n = 0
    pending: dict[int, set[str]] = {}     # seq -> receipts its tombstones name
    declared: dict[str, set[int]] = {}    # receipt -> seqs its erasure entry scrubbed
    for e in entries:
        n += 1
        if e["seq"] != seq + 1:
            return False, f"entry {seq + 1} is missing (found {e['seq']} next)"
        if e["prev"] != prev:
            return False, f"entry {e['seq']} does not link to the entry before it"
        if entry_hash(prev, e) != e["hash"]:
            return False, f"entry {e['seq']} was altered (hash mismatch)"
        if e.get("v") == 2:
            found: dict[int, str] = {}
            for field in ("actor", "target"):
                problem = _opening_problem(e, field, found)
                if problem:
                    return False, problem
                if e["seq"] in found:
                    pending.setdefault(e["seq"], set()).add(found.pop(e["seq"]))
            if e["action"] == "contributor.erase":
                try:
                    d = json.loads(e["detail"])
                    declared[str(d["receipt"])] = {int(x) for x in d.get("scrubbed", [])}
                except (ValueError, KeyError, TypeError):
                    return False, f"entry {e['seq']} is an erasure without a readable receipt"
                if any(x > e["seq"] for x in declared[str(d["receipt"])]):
                    return False, f"entry {e['seq']} claims to have scrubbed entries written after it"
        prev, seq = e["hash"], e["seq"]
    for s, receipts in sorted(pending.items()):
        for r in receipts:
            if s not in declared.get(r, set()):
                return False, (f"entry {s} names an erasure ({r}) that did not scrub it: a value was "
                               f"removed from the log without an erasure")
    return True, f"{n} entries verified; chain intact"


def anchor_record(key: bytes, seq: int, head: str) -> bytes:
    """One anchor line: the chain head at ``seq``, MACed with a key kept outside the database."""
    mac = hmac.new(key, f"{seq}:{head}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"seq": seq, "hash": head, "mac": mac}, separators=(",", ":")).encode() + b"\n"


_ANCHOR_NAME = re.compile(r"^(\d+)-([0-9a-f]{64})-([0-9a-f]{64})$")


def anchor_name(record: bytes) -> str:
    """An anchor record as a name (``seq-hash-mac``), for stores that list names cheaply: an
    S3 listing returns a thousand names per request, where reading each anchor object is
    one request per anchor."""
    a = json.loads(record)
    return f"{int(a['seq'])}-{a['hash']}-{a['mac']}"


def record_from_name(name: str) -> bytes | None:
    """The anchor record an :func:`anchor_name` holds, or None when ``name`` is not one (then
    the record is only in the object's body). The MAC is checked by :func:`check_anchors`, as
    for a record read from a body."""
    m = _ANCHOR_NAME.match(name)
    if m is None:
        return None
    return json.dumps({"seq": int(m[1]), "hash": m[2], "mac": m[3]}, separators=(",", ":")).encode()


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


def unanchored_problem(entries: list[dict[str, Any]], last_anchored: int, now: float) -> str | None:
    """Entries after the last anchor that are too old to be waiting for theirs."""
    stale = [e["seq"] for e in entries if e["seq"] > last_anchored and now - e["ts"] > ANCHOR_GRACE_S]
    if not stale:
        return None
    return (f"entries {stale[0]}..{entries[-1]['seq']} have no anchor (the last anchored entry is "
            f"{last_anchored}): anchors were removed or the anchor store was replaced")


def expected_head_problem(entries: list[dict[str, Any]], seq: int, head: str) -> str | None:
    """Compare with a head the auditor kept from an earlier verification (outside the
    collector): detects a log rebuilt from scratch even if every anchor is gone too."""
    by_seq = {e["seq"]: e["hash"] for e in entries}
    if seq not in by_seq:
        return f"entry {seq}, which you kept as a verified head, is no longer in the log (truncated)"
    if by_seq[seq] != head:
        return f"entry {seq} does not have the hash you kept for it: the log was rewritten"
    return None
