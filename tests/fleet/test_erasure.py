"""Complete erasure, on every backend: contributors reachable by a stable id and a normalised
label, self-erasure that survives device revocation, devices told to empty their outbox, and
nothing of the erased person left in any table or blob prefix."""

from __future__ import annotations

import hashlib
import json

import pytest

from workprint.sync.client import Client, Credential, SyncError
from workprint.sync.outbox import Outbox
from workprint.sync.review import Review

from .helpers import Fleet, make_chunk
from .test_sync import Switch, record_session

pytestmark = pytest.mark.fleet


def all_rows(fleet: Fleet) -> dict[str, list[str]]:
    """Every row of every table of the metadata store, as text."""
    meta = fleet.collector.meta
    with meta.tx() as cur:
        if meta.dialect == "postgresql":
            tables = [r[0] for r in cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()]
        else:
            tables = [r[0] for r in cur.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall()]
        return {t: [" ".join(map(str, row)) for row in cur.execute(f"SELECT * FROM {t}").fetchall()]
                for t in tables}


def test_labels_are_normalised_and_every_contributor_has_a_listed_id(fleet: Fleet):
    alice = fleet.enroll("Alice  Smith")
    anon = fleet.enroll(None)
    listed = fleet.client.get("/v1/admin/contributors", headers=fleet.h("admin")).json()
    assert {c["contributor"] for c in listed} == {alice.contributor, anon.contributor}
    assert "Alice" not in str(listed) and all(c["devices"] == 1 for c in listed)
    assert fleet.put(alice, make_chunk().data).status_code == 201
    r = fleet.client.delete("/v1/admin/contributors/ alice smith ", headers=fleet.h("admin"))
    assert r.status_code == 200 and r.json() == {"contributor": alice.contributor, "deleted_chunks": 1,
                                                "datasets": []}
    r = fleet.client.delete("/v1/admin/contributors/nobody", headers=fleet.h("admin"))
    assert r.status_code == 404                       # a typo is not a silent "0 deleted"
    r = fleet.client.delete(f"/v1/admin/contributors/{anon.contributor}?by=id", headers=fleet.h("admin"))
    assert r.status_code == 200 and r.json()["contributor"] == anon.contributor
    assert fleet.client.get("/v1/admin/contributors", headers=fleet.h("admin")).json() == []
    actions = [e["action"] for e in fleet.client.get("/v1/audit", headers=fleet.h("auditor")).json()]
    assert "contributors.list" in actions


def test_self_erasure_works_after_revocation_and_devices_are_told(fleet: Fleet):
    dev = fleet.enroll("alice")
    other = fleet.enroll("alice")                      # a second device of the same person
    assert other.contributor == dev.contributor
    assert fleet.put(dev, make_chunk().data).status_code == 201
    fleet.client.post(f"/v1/admin/devices/{dev.device_id}/revoke", headers=fleet.h("admin"))
    assert fleet.client.delete("/v1/me", headers=dev.headers).status_code == 401
    # The erasure credential from enrolment survives the revocation; it reaches /v1/me only.
    self_h = {"Authorization": f"Bearer {dev.erase_token}"}
    assert fleet.put(type(dev)(dev.device_id, dev.erase_token, dev.contributor), make_chunk().data).status_code == 403
    r = fleet.client.delete("/v1/me", headers=self_h)
    assert r.status_code == 200 and r.json()["deleted_chunks"] == 1
    # Every device of the person hears 410: its data was erased, empty the outbox.
    r = fleet.client.get("/v1/policy", headers=other.headers)
    assert r.status_code == 410 and "empty the outbox" in r.json()["error"]
    assert fleet.put(other, make_chunk().data).status_code == 410
    assert fleet.collector.meta.chunks() == []


def test_erasure_empties_the_device_outbox_and_stops_it(fleet: Fleet, tmp_path):
    from workprint.commands.sync import one_round

    dev = fleet.enroll("alice")
    d = tmp_path / "device"
    cred = Credential(server="http://testserver", device_id=dev.device_id, contributor=dev.contributor,
                      token=dev.token, device_key="22" * 32, erase_token=dev.erase_token)
    cred.save(d)
    review = Review(d)
    review.decide(record_session(d), "approved")
    outbox = Outbox(d, chunk_bytes=1024)
    assert outbox.fill(cred, review).chunks >= 2
    # The program owner answers an erasure request while the chunks wait in the outbox.
    assert fleet.client.delete("/v1/admin/contributors/alice", headers=fleet.h("admin")).status_code == 200
    with pytest.raises(SyncError) as err:
        one_round(d, cred, outbox, review, None, True, transport=Switch(fleet.client._transport))
    assert err.value.status == 410
    assert list(outbox.files.iterdir()) == [] and outbox.status()["queued"] == 0
    assert Credential.load(d).erased and outbox.fill(Credential.load(d), review).chunks == 0
    with pytest.raises(SyncError, match="enrol again"):
        one_round(d, Credential.load(d), outbox, review, None, True, transport=Switch(fleet.client._transport))
    assert fleet.collector.meta.chunks() == []
    outbox.close()
    review.close()


def test_nothing_of_an_erased_contributor_remains(fleet: Fleet):
    """Alice: a label, two devices (one revoked), an unused enrolment code, a contributor
    token, chunks in two sessions, read by a curator. After her erasure no table row and no
    blob names her, her devices, tokens, sessions or chunks - except the documented
    tombstones (``erased_sessions`` for dataset builds, ``erased_tokens``: hashes of her
    random tokens); her audit entries keep only commitments to her ids, without the nonces."""
    fleet.client.put("/v1/admin/policy", json={"policy": '[scope]\nallow_apps = ["XTerm"]\n'},
                     headers=fleet.h("admin"))
    a1, a2 = fleet.enroll("alice", name="alice-thinkpad"), fleet.enroll("ALICE", name="alice-desktop")
    bob = fleet.enroll("bob", name="bob-laptop")
    code = fleet.client.post("/v1/admin/enrolment-codes", json={"contributor": "alice"},
                             headers=fleet.h("admin")).json()["code"]
    ctoken = fleet.collector.mint_token("contributor", label="alice")
    policy = fleet.client.get("/v1/policy", headers=bob.headers).json()["hash"]
    fleet.collector._policy_cache = (0.0, set())
    mine = [make_chunk(session="a" * 32, index=i, count=2, policy=policy) for i in range(2)]
    mine.append(make_chunk(session="c" * 32, policy=policy))
    for dev, ch in zip((a1, a1, a2), mine):
        assert fleet.put(dev, ch.data).status_code == 201
    bobs = make_chunk(session="b" * 32, policy=policy)
    assert fleet.put(bob, bobs.data).status_code == 201
    fleet.client.get(f"/v1/chunks/{mine[0].sha256}", headers=fleet.h("curator"))
    fleet.client.post(f"/v1/admin/devices/{a2.device_id}/revoke", headers=fleet.h("admin"))
    assert fleet.client.get("/v1/me", headers={"Authorization": f"Bearer {ctoken}"}).status_code == 200
    assert fleet.client.get("/v1/me", headers={"Authorization": f"Bearer {a1.erase_token}"}).status_code == 200

    r = fleet.client.delete("/v1/me", headers={"Authorization": f"Bearer {a2.erase_token}"})
    assert r.status_code == 200 and r.json()["deleted_chunks"] == 3

    rows = all_rows(fleet)
    assert {"contributors", "devices", "tokens", "enrolment_codes", "chunks", "session_owners",
            "erased_sessions", "erased_tokens", "erasure_receipts", "audit", "settings",
            "policies"} <= set(rows)
    th = lambda t: hashlib.sha256(t.encode()).hexdigest()  # noqa: E731
    label_key = __import__("workprint.sync.chunk", fromlist=["pseudonym"]).pseudonym(
        fleet.collector._key, "alice", "contributor")
    secrets_of_alice = {
        "label": "alice", "label hmac": label_key, "device names": "thinkpad", "device name 2": "desktop",
        "contributor id": a1.contributor, "device 1": a1.device_id, "device 2": a2.device_id,
        "code": th(code), "contributor token": th(ctoken),
        **{f"chunk {i}": c.sha256 for i, c in enumerate(mine)},
        "session a": "a" * 32, "session c": "c" * 32,
        **{f"token {i}": th(t) for i, t in enumerate((a1.token, a2.token, a1.erase_token, a2.erase_token))},
        # how the audit log named tokens without a device (actor: 12 hex, token.revoke: 16)
        **{f"token {i} id": th(t)[:12] for i, t in enumerate((a1.erase_token, a2.erase_token, ctoken))},
    }
    allowed = {"erased_sessions": {"session a", "session c"},
               "erased_tokens": {f"token {i}" for i in range(4)} | {f"token {i} id" for i in range(3)}
               | {"contributor token"},
               "audit": {"chunk 0"}}      # a curator's read of a chunk that is gone
    for table, text in rows.items():
        blob = "\n".join(text).lower()
        for what, value in secrets_of_alice.items():
            if value.lower() in blob:
                assert what in allowed.get(table, set()), f"{what} of the erased contributor left in {table}"
    # The random ids left in the audit log link to nothing: no other table holds them.
    for what in ("contributor id", "device 1", "device 2"):
        others = [t for t, text in rows.items() if t != "audit" and secrets_of_alice[what] in "\n".join(text)]
        assert others == []
    # Bob is untouched; blobs: only his chunk, under every prefix of the store.
    assert [c.sha256 for c in fleet.collector.meta.chunks()] == [bobs.sha256]
    assert fleet.stored_blobs() == [f"chunks/{bobs.sha256[:2]}/{bobs.sha256}"]
    assert fleet.client.get("/v1/audit/verify", headers=fleet.h("auditor")).json()["ok"] is True
    # Erasing again: the credential is gone (410 tells the device why); an admin lookup finds nobody.
    r = fleet.client.delete("/v1/me", headers={"Authorization": f"Bearer {a1.erase_token}"})
    assert r.status_code == 410
    assert fleet.client.delete("/v1/admin/contributors/alice", headers=fleet.h("admin")).status_code == 404


def test_erasure_scrubs_the_audit_log_and_a_db_writer_cannot_fake_one(fleet: Fleet):
    alice, bob = fleet.enroll("alice"), fleet.enroll("bob")
    ch = make_chunk()
    assert fleet.put(alice, ch.data).status_code == 201
    for dev in (alice, bob):
        assert fleet.client.get("/v1/me", headers=dev.headers).status_code == 200
    fleet.client.get(f"/v1/chunks/{ch.sha256}", headers=fleet.h("curator"))
    before = fleet.collector.meta.audit_entries(0, 10000)
    assert any(alice.device_id in e["actor"] for e in before)          # the log did name her
    assert fleet.client.delete("/v1/admin/contributors/alice", headers=fleet.h("admin")).status_code == 200

    after = fleet.collector.meta.audit_entries(0, 10000)
    text = json.dumps(after)
    assert alice.device_id not in text and alice.contributor not in text
    assert bob.device_id in text                                        # others are untouched
    erase = [e for e in after if e["action"] == "contributor.erase"][-1]
    detail = json.loads(erase["detail"])
    dead = [e for e in after if "erased:" in e["actor"] + e["target"]]
    assert sorted(detail["scrubbed"]) == sorted(e["seq"] for e in dead) and len(dead) >= 3
    assert all(e["actor_nonce"] is None or e["target_nonce"] is None for e in dead)
    assert erase["target"] == f"receipt:{detail['receipt']}"
    v = fleet.client.get("/v1/audit/verify", headers=fleet.h("auditor")).json()
    assert v["ok"] is True, v

    # An insider hides Bob's access behind Alice's erasure: the chain hash is untouched, but
    # the erasure entry never declared that row.
    bobs = next(e for e in after if e["actor"] == f"contributor:{bob.device_id}")
    with fleet.collector.meta.tx() as cur:
        cur.execute("UPDATE audit SET actor = ?, actor_nonce = NULL WHERE seq = ?",
                    (f"erased:{detail['receipt']}", bobs["seq"]))
    v = fleet.client.get("/v1/audit/verify", headers=fleet.h("auditor")).json()
    assert v["ok"] is False and f"entry {bobs['seq']}" in v["message"] and "without an erasure" in v["message"]


def test_after_erasure_the_devices_sessions_read_erased_and_never_leave_again(fleet: Fleet, tmp_path):
    """Sealed and not yet sealed sessions both read 'erased' (not 'approved') once the
    device heard 410; withholding and approving again, or enrolling anew, does not send them."""
    from workprint.commands.sync import one_round
    from workprint.sync.state import decide, load_upload_states

    dev = fleet.enroll("alice")
    d = tmp_path / "device"
    cred = Credential(server="http://testserver", device_id=dev.device_id, contributor=dev.contributor,
                      token=dev.token, device_key="33" * 32, erase_token=dev.erase_token)
    cred.save(d)
    review = Review(d)
    sealed_sid, later_sid = record_session(d), record_session(d)
    review.decide(sealed_sid, "approved")
    outbox = Outbox(d, chunk_bytes=1024)
    assert outbox.fill(cred, review).chunks >= 2
    review.decide(later_sid, "approved")                 # approved, not sealed yet
    assert load_upload_states(d)[later_sid].state == "approved"
    assert fleet.client.delete("/v1/admin/contributors/alice", headers=fleet.h("admin")).status_code == 200
    with pytest.raises(SyncError):
        one_round(d, cred, outbox, review, None, True, transport=Switch(fleet.client._transport))
    states = load_upload_states(d)
    for sid in (sealed_sid, later_sid):
        assert states[sid].state == "erased" and "never sent" in states[sid].reason, states[sid]
    # the contributor withholds, then approves again: still erased, nothing queued
    for decision in ("withheld", "approved"):
        decide(d, sealed_sid, decision)
        decide(d, later_sid, decision)
    assert {load_upload_states(d)[s].state for s in (sealed_sid, later_sid)} == {"erased"}
    # enrolled anew: the old sessions stay here; a new one is sealed as usual
    again = fleet.enroll("alice")
    cred2 = Credential(server="http://testserver", device_id=again.device_id, contributor=again.contributor,
                       token=again.token, device_key="33" * 32, erase_token=again.erase_token)
    cred2.save(d)
    new_sid = record_session(d)
    review.decide(new_sid, "approved")
    report = outbox.fill(cred2, review)
    assert report.sealed == [new_sid]
    one_round(d, cred2, outbox, review, None, True, transport=Switch(fleet.client._transport))
    assert {c.session for c in fleet.collector.meta.chunks()} == {
        r.session for r in fleet.collector.meta.chunks(contributor=again.contributor)} and len(
        fleet.collector.meta.chunks()) >= 1
    assert load_upload_states(d)[new_sid].state == "uploaded"
    assert {load_upload_states(d)[s].state for s in (sealed_sid, later_sid)} == {"erased"}
    outbox.close()
    review.close()
