"""Attacks on the collector, on every backend: a second contributor, a malicious device, and
(in test_erasure / test_audit) someone with write access to the metadata database."""

from __future__ import annotations

import pytest

from workprint.server.auth import Principal

from .helpers import Fleet, make_chunk

pytestmark = pytest.mark.fleet


def test_second_contributor_cannot_write_into_a_session(fleet: Fleet):
    alice, mallory = fleet.enroll("alice"), fleet.enroll("mallory")
    session = "5" * 32
    first = make_chunk(session=session, index=0, count=2)
    assert fleet.put(alice, first.data).status_code == 201
    planted = make_chunk(session=session, index=1, count=2)
    r = fleet.put(mallory, planted.data)
    assert r.status_code == 409 and "belongs to another contributor" in r.json()["error"]
    own = make_chunk(session=session, index=1, count=2)
    assert fleet.put(alice, own.data).status_code == 201          # the owner is not locked out
    chunks = fleet.client.get(f"/v1/sessions/{session}/chunks", headers=fleet.h("curator")).json()
    assert sorted(c["sha256"] for c in chunks) == sorted([first.sha256, own.sha256])
    assert planted.sha256 not in "".join(fleet.stored_blobs())      # nothing of the attempt is kept
    assert fleet.client.get("/v1/me", headers=mallory.headers).json()["sessions"] == []


def test_squatting_a_session_first_does_not_capture_the_owners_data(fleet: Fleet):
    """Whoever writes first owns the session id; a device's session ids are keyed HMACs
    nobody else can predict, so a squatter can only take ids nobody will use."""
    mallory, alice = fleet.enroll("mallory"), fleet.enroll("alice")
    session = "6" * 32
    assert fleet.put(mallory, make_chunk(session=session).data).status_code == 201
    r = fleet.put(alice, make_chunk(session=session, index=0, count=1).data)
    assert r.status_code == 409
    assert fleet.client.get("/v1/me", headers=alice.headers).json()["chunks"] == []


def test_missing_tells_nothing_about_other_contributors_chunks(fleet: Fleet):
    alice, mallory = fleet.enroll("alice"), fleet.enroll("mallory")
    ch, absent = make_chunk(), make_chunk()
    assert fleet.put(alice, ch.data).status_code == 201
    ask = {"chunks": [ch.sha256, absent.sha256]}
    r = fleet.client.post("/v1/chunks/missing", json=ask, headers=mallory.headers)
    assert r.json() == {"missing": [ch.sha256, absent.sha256]}     # stored and absent look alike
    r = fleet.client.post("/v1/chunks/missing", json=ask, headers=alice.headers)
    assert r.json() == {"missing": [absent.sha256]}


def test_upload_in_flight_when_the_device_is_revoked_is_fenced(fleet: Fleet):
    """The request authenticated before the revocation; the chunk reaches the ingest
    thread after it. It must not land (no row, no blob)."""
    dev = fleet.enroll("alice")
    p = fleet.collector.tokens.resolve(f"Bearer {dev.token}")
    assert isinstance(p, Principal)
    ch = make_chunk()
    up = fleet.collector.verify_upload(p, ch.sha256, ch.data)       # verified while still enrolled
    fleet.collector.revoke_device("test", dev.device_id)
    with pytest.raises(Exception) as err:
        fleet.collector.ingest.store(up)
    assert getattr(err.value, "status", None) == 401
    assert fleet.collector.meta.chunks() == [] and fleet.stored_blobs() == []


def test_erased_session_cannot_be_written_again(fleet: Fleet):
    alice, mallory = fleet.enroll("alice"), fleet.enroll("mallory")
    session = "7" * 32
    assert fleet.put(alice, make_chunk(session=session, count=2).data).status_code == 201
    assert fleet.client.delete("/v1/me", headers=alice.headers).status_code == 200
    r = fleet.put(mallory, make_chunk(session=session, index=1, count=2).data)
    assert r.status_code == 409
    assert fleet.collector.meta.chunks() == []


def test_malicious_device_trailing_gzip_data_is_refused(fleet: Fleet):
    import gzip

    from workprint.sync import chunk as C

    dev = fleet.enroll("mallory")
    raw = b'[1,"move",{"x":1,"y":2}]\n'
    entry = ({"name": "events.jsonl.gz", "type": "events", "encoding": "gzip", "raw_size": len(raw)},
             gzip.compress(raw, mtime=0) + b"\x00" * 4096)
    data = C.encode_chunk({"session": "8" * 32, "index": 0, "count": 1, "policy_hash": "none",
                           "event_version": 1, "session_meta": {}}, [entry]).data
    r = fleet.put(dev, data)
    assert r.status_code == 422 and "after the end of the gzip stream" in r.json()["error"]
    assert fleet.stored_blobs() == []


def test_small_chunk_that_decompresses_to_much_is_verified_off_the_event_loop():
    """A 130 KB chunk declaring 26 MB of events is no longer verified inline (it blocked
    /v1/health for seconds); a normal small chunk still is."""
    import zlib

    from workprint.server.collector import INLINE_VERIFY_BYTES
    from workprint.sync import chunk as C

    raw = b'[1,"move",{"x":1,"y":2}]\n' * (26_000_000 // 25)
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    packed = z.compress(raw) + z.flush()
    entry = ({"name": "events.jsonl.gz", "type": "events", "encoding": "gzip", "raw_size": len(raw)}, packed)
    data = C.encode_chunk({"session": "9" * 32, "index": 0, "count": 1, "policy_hash": "none",
                           "event_version": 1, "session_meta": {}}, [entry]).data
    assert len(data) < INLINE_VERIFY_BYTES < C.declared_work(data)
    assert C.declared_work(make_chunk().data) <= INLINE_VERIFY_BYTES


def test_role_tokens_are_listed_and_revoked_without_their_secret(fleet: Fleet):
    import hashlib

    extra = fleet.collector.mint_token("curator")
    rows = fleet.collector.role_tokens("test")
    assert {r["role"] for r in rows} == {"admin", "curator", "auditor"} and len(rows) == 4
    assert all(extra not in str(r) and len(r["id"]) == 16 for r in rows)
    assert not any(r["id"] == hashlib.sha256(t.encode()).hexdigest() for r in rows for t in [extra])
    tid = hashlib.sha256(extra.encode()).hexdigest()[:16]
    h = {"Authorization": f"Bearer {extra}"}
    assert fleet.client.get("/v1/sessions", headers=h).status_code == 200
    fleet.collector.revoke_role_token("test", tid)
    assert fleet.client.get("/v1/sessions", headers=h).status_code == 401
    assert fleet.client.get("/v1/sessions", headers=fleet.h("curator")).status_code == 200
    with pytest.raises(Exception):
        fleet.collector.revoke_role_token("test", tid)              # already revoked: not found
    actions = [e["action"] for e in fleet.client.get("/v1/audit", headers=fleet.h("auditor")).json()]
    assert "tokens.list" in actions and "token.revoke" in actions


def _rehash_all(fleet: Fleet) -> None:
    """What an attacker with write access to the metadata DB does after editing entries:
    recompute the whole chain so it is self-consistent again."""
    from workprint.server.audit import GENESIS, commit, entry_hash

    entries = fleet.collector.meta.audit_entries(0, 100000)
    prev = GENESIS
    with fleet.collector.meta.tx() as cur:
        for e in entries:
            for field in ("actor", "target"):      # the nonces are in the database too
                if e.get(f"{field}_nonce"):
                    e[f"{field}_commit"] = commit(e[f"{field}_nonce"], field, e[field])
            h = entry_hash(prev, e)
            cur.execute("UPDATE audit SET prev = ?, hash = ?, actor_commit = ?, target_commit = ? WHERE seq = ?",
                        (prev, h, e.get("actor_commit"), e.get("target_commit"), e["seq"]))
            prev = h


def _verify(fleet: Fleet) -> dict:
    return fleet.client.get("/v1/audit/verify", headers=fleet.h("auditor")).json()


def _some_history(fleet: Fleet) -> None:
    dev = fleet.enroll("alice")
    ch = make_chunk()
    assert fleet.put(dev, ch.data).status_code == 201
    for _ in range(3):
        fleet.client.get(f"/v1/chunks/{ch.sha256}", headers=fleet.h("curator"))


def test_db_writer_relabelling_reads_and_rehashing_is_detected(fleet: Fleet):
    _some_history(fleet)
    v = _verify(fleet)
    assert v["ok"] is True and v["last_anchored"] == v["entries"] >= 5
    with fleet.collector.meta.tx() as cur:
        cur.execute("UPDATE audit SET actor = 'curator:someone-else' WHERE action = 'chunk.read'")
    _rehash_all(fleet)
    from workprint.server.audit import verify_chain
    assert verify_chain(fleet.collector.meta.audit_entries(0, 100000))[0] is True   # chain alone: fooled
    v = _verify(fleet)
    assert v["ok"] is False and "rewritten after it was anchored" in v["message"]


def test_db_writer_truncating_the_log_is_detected(fleet: Fleet):
    _some_history(fleet)
    last = _verify(fleet)["last_anchored"]
    with fleet.collector.meta.tx() as cur:
        cur.execute("DELETE FROM audit WHERE seq > ?", (last - 2,))
    v = _verify(fleet)
    assert v["ok"] is False and "truncated" in v["message"] and v["last_anchored"] >= last


def test_forged_anchor_without_the_key_is_detected(fleet: Fleet):
    from workprint.server.audit import anchor_record

    _some_history(fleet)
    fleet.collector.blobs.append_anchor(anchor_record(b"\x00" * 32, 1, "f" * 64))
    v = _verify(fleet)
    assert v["ok"] is False and "not signed" in v["message"]


def test_one_device_cannot_hold_more_than_its_share_of_uploads_open(fleet: Fleet):
    """A device with the maximum of uploads in flight is refused another before its body is
    read (40 unfinished 15 MiB uploads from one device used to take ~600 MiB)."""
    dev, other = fleet.enroll("mallory"), fleet.enroll("alice")
    cap = fleet.collector.config.max_uploads_per_device
    fleet.collector.uploads_in_flight[dev.device_id] = cap        # as if cap bodies were still arriving
    r = fleet.put(dev, make_chunk().data)
    assert r.status_code == 429 and "in flight" in r.json()["error"] and r.headers["Retry-After"] == "1"
    assert fleet.put(other, make_chunk().data).status_code == 201  # nobody else is affected
    fleet.collector.uploads_in_flight[dev.device_id] = cap - 1
    assert fleet.put(dev, make_chunk().data).status_code == 201
    assert fleet.collector.uploads_in_flight == {dev.device_id: cap - 1}   # every finished upload is released


def _remove_all_anchors(fleet: Fleet) -> int:
    """What someone who controls the anchor store too does (without Object Lock)."""
    blobs = fleet.collector.blobs
    if hasattr(blobs, "root"):
        (blobs.root / ".audit-anchors.log").unlink()
        return 1
    n = 0
    for page in blobs.client.get_paginator("list_objects_v2").paginate(
            Bucket=blobs.bucket, Prefix=f"{blobs.prefix}audit-anchors/"):
        for obj in page.get("Contents", []):
            blobs.client.delete_object(Bucket=blobs.bucket, Key=obj["Key"])
            n += 1
    return n


def test_a_rebuilt_log_with_its_anchors_removed_is_caught_by_the_head_the_auditor_kept(fleet: Fleet):
    _some_history(fleet)
    kept = _verify(fleet)["head"]
    assert kept["seq"] >= 5
    r = fleet.client.get("/v1/audit/verify", params=kept, headers=fleet.h("auditor")).json()
    assert r["ok"] is True
    # the insider cuts the tail, re-hashes, and removes every anchor
    with fleet.collector.meta.tx() as cur:
        cur.execute("DELETE FROM audit WHERE seq > ?", (kept["seq"] - 2,))
    _rehash_all(fleet)
    assert _remove_all_anchors(fleet) >= 1
    assert _verify(fleet)["ok"] is True                       # fresh entries: nothing to notice yet
    r = fleet.client.get("/v1/audit/verify", params=kept, headers=fleet.h("auditor")).json()
    assert r["ok"] is False and "truncated" in r["message"]
    # or a same-length rewrite of the kept entry
    fleet.client.get("/v1/sessions", headers=fleet.h("curator"))
    fleet.client.get("/v1/sessions", headers=fleet.h("curator"))
    _rehash_all(fleet)
    r = fleet.client.get("/v1/audit/verify", params=kept, headers=fleet.h("auditor")).json()
    assert r["ok"] is False and "rewritten" in r["message"]
    assert fleet.client.get("/v1/audit/verify", params={"seq": 3},
                            headers=fleet.h("auditor")).status_code == 400


def test_object_locked_anchors_survive_an_attacker_with_bucket_write_access(request, tmp_path):
    """SeaweedFS honours S3 Object Lock: with lock_days each anchor is written under a
    COMPLIANCE retention, so deleting it only adds a delete marker (its version stays and
    verification reads every version) and deleting the version is refused. Chunks are not
    locked: an erasure removes every version of them."""
    import secrets as _s

    from .conftest import Backend

    sw = request.getfixturevalue("seaweed")
    pg = request.getfixturevalue("postgres")
    bucket = f"locked-{_s.token_hex(4)}"
    url = f"s3://{sw.key}:{sw.secret}@{bucket}/wp?endpoint={sw.endpoint}&create=1&lock_days=1"
    fleet = Fleet.start(Backend("s3pg", tmp_path / "server", blobs=url, db=pg.create_db()))
    try:
        blobs = fleet.collector.blobs
        assert blobs.versioned and "Object Lock" in _verify(fleet)["anchors"]
        dev = fleet.enroll("alice")
        ch = make_chunk()
        assert fleet.put(dev, ch.data).status_code == 201
        fleet.client.get(f"/v1/chunks/{ch.sha256}", headers=fleet.h("curator"))
        kept = _verify(fleet)
        assert kept["ok"] is True
        # the attacker: delete every anchor object (delete markers), then try the versions
        _remove_all_anchors(fleet)
        refused = 0
        for page in blobs.client.get_paginator("list_object_versions").paginate(
                Bucket=blobs.bucket, Prefix=f"{blobs.prefix}audit-anchors/"):
            for v in page.get("Versions", []):
                try:
                    blobs.client.delete_object(Bucket=blobs.bucket, Key=v["Key"], VersionId=v["VersionId"])
                except blobs._client_error:
                    refused += 1
        assert refused >= kept["entries"]
        with fleet.collector.meta.tx() as cur:                # and cuts the log's tail
            cur.execute("DELETE FROM audit WHERE seq > ?", (kept["last_anchored"] - 2,))
        v = _verify(fleet)
        assert v["ok"] is False and "truncated" in v["message"], v
        # erasure still removes the chunk itself, every version of it
        assert fleet.client.delete("/v1/me", headers=dev.headers).status_code == 200
        key = f"{blobs.prefix}chunks/{ch.sha256[:2]}/{ch.sha256}"
        left = blobs.client.list_object_versions(Bucket=blobs.bucket, Prefix=key)
        assert left.get("Versions", []) == [] and left.get("DeleteMarkers", []) == []
    finally:
        fleet.close()


def test_s3_anchors_are_read_from_their_names_and_older_ones_from_their_bodies(request, tmp_path):
    """An S3 anchor carries its record in its name (verification lists a thousand a request
    instead of reading each); anchors named before that (a random suffix, the record only in
    the body) are read from their bodies. Either way a record that is not signed by the
    collector's audit key fails the check, and an anchor removed is missed."""
    import secrets as _s
    import time as _t

    from workprint.server.audit import anchor_name

    from .conftest import make_backend

    fleet = Fleet.start(make_backend("s3pg", request, tmp_path))
    try:
        blobs = fleet.collector.blobs
        prefix = f"{blobs.prefix}audit-anchors/"
        _some_history(fleet)
        keys = [o["Key"] for o in blobs.client.list_objects_v2(Bucket=blobs.bucket, Prefix=prefix)["Contents"]]
        bodies = {k: blobs.client.get_object(Bucket=blobs.bucket, Key=k)["Body"].read() for k in keys}
        assert len(keys) >= 5 and all(k.endswith(anchor_name(b)) for k, b in bodies.items())
        v = _verify(fleet)
        assert v["ok"] is True and v["last_anchored"] == v["entries"], v
        # half of them as a collector of before wrote them: a random suffix, the record in the body
        for k in keys[::2]:
            old = f"{prefix}{k[len(prefix):].split('-')[0]}-{_s.token_hex(4)}"
            blobs.client.put_object(Bucket=blobs.bucket, Key=old, Body=bodies[k])
            blobs.client.delete_object(Bucket=blobs.bucket, Key=k)
        v = _verify(fleet)
        assert v["ok"] is True and v["last_anchored"] == v["entries"], v
        # a forged anchor, in either form: not signed with the audit key
        seq, head = v["head"]["seq"], v["head"]["hash"]
        forged = f'{{"seq":{seq},"hash":"{head}","mac":"{"0" * 64}"}}'.encode()
        for key, body in ((f"{prefix}{_t.time_ns():020d}-{anchor_name(forged)}", b""),
                          (f"{prefix}{_t.time_ns():020d}-{_s.token_hex(4)}", forged)):
            blobs.client.put_object(Bucket=blobs.bucket, Key=key, Body=body)
            v = _verify(fleet)
            assert v["ok"] is False and "not signed" in v["message"], v
            blobs.client.delete_object(Bucket=blobs.bucket, Key=key)
        assert _verify(fleet)["ok"] is True
        # the newest anchor removed: the entries after the one before it are not anchored
        listed = blobs.client.list_objects_v2(Bucket=blobs.bucket, Prefix=prefix)["Contents"]
        blobs.client.delete_object(Bucket=blobs.bucket, Key=max(o["Key"] for o in listed))
        v = _verify(fleet)
        assert v["last_anchored"] < v["entries"], v
    finally:
        fleet.close()
