"""The audit chain with commitments (server/audit.py): scrubbing an erased person's ids keeps
the chain verifiable; every other edit, including a fake "erasure", is detected."""

from __future__ import annotations

import json

import pytest

from workprint.server.audit import GENESIS, commit, entry_hash, seal, tombstone, verify_chain


def chain(rows: list[tuple[str, str, str, dict]], hide_last_actor: bool = False) -> list[dict]:
    out, prev = [], GENESIS
    for i, (actor, action, target, detail) in enumerate(rows, 1):
        e = seal({"seq": i, "ts": float(i), "actor": actor, "action": action, "target": target,
                  "detail": json.dumps(detail, sort_keys=True)},
                 hide_actor=hide_last_actor and i == len(rows))
        e["prev"], e["hash"] = prev, entry_hash(prev, e)
        prev = e["hash"]
        out.append(e)
    return out


def scrub(e: dict, field: str, receipt: str) -> None:
    e[field], e[f"{field}_nonce"] = tombstone(receipt), None


HISTORY = [("device:dev_a", "device.enroll", "dev_a", {}),
           ("curator:c1", "chunk.read", "f" * 64, {}),
           ("contributor:dev_a", "contributor.access", "alice-id", {}),
           ("admin:x", "contributor.erase", "receipt:r1", {"receipt": "r1", "scrubbed": [1, 3]})]


def test_an_erasure_scrubs_ids_and_the_chain_still_verifies():
    entries = chain(HISTORY)
    assert verify_chain(entries)[0]
    for field in ("actor", "target"):
        scrub(entries[0], field, "r1")
        scrub(entries[2], field, "r1")
    ok, msg = verify_chain(entries)
    assert ok, msg
    text = json.dumps(entries)
    assert "dev_a" not in text and "alice-id" not in text


def test_the_persons_own_erasure_hides_its_actor_and_declares_itself():
    entries = chain(HISTORY[:3] + [("self:abc", "contributor.erase", "receipt:r1",
                                    {"receipt": "r1", "scrubbed": [1, 3]})], hide_last_actor=True)
    assert entries[3]["actor"] == "erased:r1" and entries[3]["actor_nonce"] is None
    assert json.loads(entries[3]["detail"])["scrubbed"] == [1, 3]   # seal leaves detail; meta adds seq
    assert not verify_chain(entries)[0]        # its own tombstone is not declared: refused
    rows = HISTORY[:3] + [("self:abc", "contributor.erase", "receipt:r1", {"receipt": "r1", "scrubbed": [1, 3, 4]})]
    entries = chain(rows, hide_last_actor=True)
    assert verify_chain(entries)[0]


@pytest.mark.parametrize("receipt", ["r1", "r-unknown"])
def test_a_database_writer_cannot_hide_a_row_behind_a_fake_erasure(receipt):
    entries = chain(HISTORY)
    scrub(entries[1], "actor", receipt)       # the curator's read, not part of erasure r1
    ok, msg = verify_chain(entries)
    assert not ok and "entry 2" in msg and "without an erasure" in msg


def test_dropping_a_nonce_or_changing_an_opened_value_is_detected():
    entries = chain(HISTORY)
    entries[1]["actor_nonce"] = None
    assert "lost its nonce" in verify_chain(entries)[1]
    entries = chain(HISTORY)
    entries[1]["actor"] = "curator:someone-else"          # relabel without touching the hash
    assert "not the one it was written with" in verify_chain(entries)[1]
    entries = chain(HISTORY)                               # frame someone: a new value, a new nonce
    entries[1]["actor"], entries[1]["actor_nonce"] = "curator:c2", "0" * 64
    assert not verify_chain(entries)[0]


def test_an_erasure_cannot_claim_rows_written_after_it():
    rows = HISTORY + [("curator:c1", "chunk.read", "e" * 64, {})]
    rows[3] = ("admin:x", "contributor.erase", "receipt:r1", {"receipt": "r1", "scrubbed": [1, 5]})
    entries = chain(rows)
    assert "written after it" in verify_chain(entries)[1]


def test_version_1_entries_still_verify_and_mix_with_version_2():
    v1 = {"seq": 1, "ts": 1.0, "actor": "admin:x", "action": "policy.set", "target": "h", "detail": "{}"}
    v1["prev"], v1["hash"] = GENESIS, entry_hash(GENESIS, v1)
    v2 = seal({"seq": 2, "ts": 2.0, "actor": "a", "action": "b", "target": "c", "detail": "{}"})
    v2["prev"], v2["hash"] = v1["hash"], entry_hash(v1["hash"], v2)
    assert verify_chain([v1, v2])[0]
    v1["actor"] = "admin:y"
    assert "altered" in verify_chain([v1, v2])[1]


def test_a_commitment_hides_its_value_and_binds_it():
    a, b = commit("n1", "actor", "dev_a"), commit("n2", "actor", "dev_a")
    assert a != b and len(a) == 64 and "dev_a" not in a
    assert commit("n1", "actor", "dev_b") != a and commit("n1", "target", "dev_a") != a


def test_old_entries_without_an_anchor_mean_anchors_were_removed():
    from workprint.server.audit import ANCHOR_GRACE_S, unanchored_problem

    entries = chain(HISTORY)
    for e in entries:
        e["ts"] = 1000.0 + e["seq"]
    assert unanchored_problem(entries, 4, now=10**6) is None                   # all anchored
    assert unanchored_problem(entries, 2, now=1004 + ANCHOR_GRACE_S - 1) is None   # just written
    msg = unanchored_problem(entries, 2, now=1004 + ANCHOR_GRACE_S + 1)
    assert msg and "entries 3..4 have no anchor" in msg
    assert "entries 1..4" in unanchored_problem(entries, 0, now=10**6)


def test_a_kept_head_detects_truncation_and_rewrites():
    from workprint.server.audit import expected_head_problem

    entries = chain(HISTORY)
    assert expected_head_problem(entries, 3, entries[2]["hash"]) is None
    assert "truncated" in expected_head_problem(entries[:2], 3, entries[2]["hash"])
    assert "rewritten" in expected_head_problem(entries, 3, "0" * 64)
