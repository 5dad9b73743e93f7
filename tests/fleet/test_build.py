"""`workprint build` over a real collector store, on both backends (local dir + SQLite, and
SeaweedFS + PostgreSQL): sessions recorded into a device store, sealed by the device code,
uploaded, then built into datasets; filters; erasure reaching datasets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from workprint.build import Filters, build_dataset, rebuild_dataset
from workprint.build.filters import DUPLICATE, TOO_REDACTED
from workprint.errors import EmptyDatasetError
from workprint.export import export_sessions

from export_load import agentnet_load
from terminal import run_on_a_terminal

from .buildgen import device_session, populate, seal, upload
from .conftest import make_backend
from .helpers import Fleet

pytestmark = pytest.mark.fleet


def dataset_files(vdir: Path) -> dict[str, bytes]:
    return {p.relative_to(vdir).as_posix(): p.read_bytes() for p in sorted(vdir.rglob("*")) if p.is_file()}


def shard_records(vdir: Path) -> list[dict]:
    return [json.loads(line) for p in sorted(vdir.glob("trajectories-*.jsonl"))
            for line in p.read_text().splitlines()]


def test_build_matches_the_device_export_and_is_deterministic(fleet: Fleet, tmp_path, monkeypatch):
    people = populate(fleet, tmp_path, {"alice": [1, 2], "bob": [3]})
    bob = people["bob"]
    # bob's device also uploads a second copy of the same work under another session id
    again = device_session(bob.root, 3, label="bob", session_id="20260102-090000-000003")
    upload(fleet, bob.device, seal(bob.root, again, bob.key))
    cfg = fleet.collector.config
    man = build_dataset(cfg, name="an", fmt="agentnet", out=tmp_path / "an", shard_steps=8)
    vdir = tmp_path / "an" / "v0001"
    assert man["id"] == "an@v1" and man["engine"] == {"name": "local", "workers": 1}
    # the code behind the data, as the chunks say (the devices recorded with "0.1.0")
    assert {k: man["code"][k] for k in ("chunk_versions", "recorded_by")} == \
        {"chunk_versions": [3], "recorded_by": ["0.1.0"]}
    c = man["counts"]
    assert (c["sessions"], c["trajectories"]) == (3, 9)
    assert c["left_out"]["by_filter"] == {DUPLICATE: 3}      # the copy's three trajectories
    assert c["contributors"] == "<10" and c["by_policy"][0]["steps"] == "<10"

    # every session's pseudonym and chunk digests; nobody's id or label
    listed = {s["pseudonym"]: s["chunks"] for s in man["sessions"]}
    # of bob's two identical sessions, the first in build (pseudonym) order is kept
    expected = {min(bob.pseudonym(bob.sessions[0]), bob.pseudonym(again))} | \
        {people["alice"].pseudonym(s) for s in people["alice"].sessions}
    assert set(listed) == expected
    for p, chunks in listed.items():
        assert chunks == [r["sha256"] for r in fleet.client.get(
            f"/v1/sessions/{p}/chunks", headers=fleet.h("curator")).json()]
    everything = b"".join(dataset_files(vdir).values())
    for person in people.values():
        d = person.device
        for secret in (d.contributor, d.device_id, d.token, *person.sessions, again):
            assert secret.encode() not in everything
    assert b"alice" not in everything and b"bob" not in everything

    # shards of bounded size (no trajectory here has more than 8 steps)
    shards = sorted(vdir.glob("trajectories-*.jsonl"))
    assert len(shards) == c["shards"] > 1
    for s in shards:
        assert sum(len(json.loads(x)["traj"]) for x in s.read_text().splitlines()) <= 8
    records = shard_records(vdir)
    assert sum(len(r["traj"]) for r in records) == c["steps"]
    for r in records:
        for st in r["traj"]:
            assert (vdir / "images" / st["image"]).is_file()

    # the same reduction, keyframes and images as the device's own export of that session
    alice = people["alice"]
    export_sessions(alice.root, [alice.sessions[0]], "agentnet", tmp_path / "device-export")
    own = agentnet_load(tmp_path / "device-export")
    built = [r for r in records if r["instruction"].endswith("session 1")] + \
            [r for r in records if r["unlabelled"] and r["traj"][0]["image"] in
             {s["image"] for t in own for s in t["traj"]}]
    assert len(own) == 3 and len(built) == 3
    for mine, theirs in zip(own, built):
        assert mine["instruction"] == theirs["instruction"]
        assert [(s["value"]["code"], s["image"]) for s in mine["traj"]] == \
            [(s["value"]["code"], s["image"]) for s in theirs["traj"]]
        assert (tmp_path / "device-export" / "images" / mine["traj"][0]["image"]).read_bytes() == \
            (vdir / "images" / theirs["traj"][0]["image"]).read_bytes()

    # deterministic: a second build of the same store gives the same bytes - also when a
    # worker keeps almost none of a session's tiles in memory (the rest wait on disk)
    from workprint.build import source

    monkeypatch.setattr(source, "TILE_MEMORY", 20_000)
    man2 = build_dataset(cfg, name="an", fmt="agentnet", out=tmp_path / "an", shard_steps=8)
    assert man2["version"] == 2 and man2["content_digest"] == man["content_digest"]
    a, b = dataset_files(vdir), dataset_files(tmp_path / "an" / "v0002")
    a.pop("manifest.json"), b.pop("manifest.json")
    assert a == b

    # hf: parquet shards with the images embedded
    import pyarrow.parquet as pq

    hman = build_dataset(cfg, name="hf", fmt="hf", out=tmp_path / "hf", shard_steps=8)
    hdir = tmp_path / "hf" / "v0001"
    tables = [pq.read_table(p) for p in sorted((hdir / "data").glob("train-*.parquet"))]
    assert len(tables) == hman["counts"]["shards"] and sum(t.num_rows for t in tables) == c["steps"]
    img = tables[0].column("image")[0].as_py()
    assert img["bytes"][:2] == b"\xff\xd8" and (vdir / "images" / img["path"]).read_bytes() == img["bytes"]
    assert "num_examples: %d" % c["steps"] in (hdir / "README.md").read_text()
    assert fleet.collector.meta.dataset_sessions("hf", 1) == sorted(expected)


def test_filters(tmp_path, request):
    fleet = Fleet.start(make_backend("local", request, tmp_path))
    try:
        populate(fleet, tmp_path, {"carol": [5]})
        populate(fleet, tmp_path, {"dave": [6]}, secret_share=True)
        cfg = fleet.collector.config

        def build(**kw):
            return build_dataset(cfg, name="f", fmt="agentnet", out=tmp_path / "f", filters=Filters(**kw))

        assert build()["counts"]["trajectories"] == 6
        only = build(tasks="only")
        assert only["counts"]["trajectories"] == 4
        recs = shard_records(tmp_path / "f" / f"v{only['version']:04d}")
        assert all(not r["unlabelled"] for r in recs)
        assert build(tasks="none")["counts"]["trajectories"] == 2
        assert build(min_steps=4)["counts"]["trajectories"] == 4       # tasks have 4 steps (with terminate)
        clean = build(max_redacted_share=0.5)
        assert clean["counts"]["left_out"]["by_filter"] == {TOO_REDACTED: 2}
        from datetime import date, timedelta

        today = date.today()
        assert build(since=today.isoformat())["counts"]["trajectories"] == 6
        with pytest.raises(EmptyDatasetError):
            build(since=(today + timedelta(days=1)).isoformat())
        with pytest.raises(EmptyDatasetError):
            build(until=today.isoformat())
        # a failed build leaves no version behind
        assert [v["version"] for v in fleet.collector.meta.dataset_versions("f")] == [1, 2, 3, 4, 5, 6]
        # the command at a terminal: a progress bar counts the sessions as they are built
        rc, out, shown = run_on_a_terminal([sys.executable, "-m", "workprint.cli", "build",
                                            *fleet.backend.cli_args(), "--format", "agentnet",
                                            "--name", "cli", "--out", str(tmp_path / "cli"), "--json"])
        assert rc == 0, shown
        assert "building" in shown and "2/2" in shown, shown
        assert json.loads(out)["counts"]["trajectories"] == 6
    finally:
        fleet.close()


def test_a_damaged_chunk_is_left_out_and_reported(tmp_path, request):
    fleet = Fleet.start(make_backend("local", request, tmp_path))
    try:
        people = populate(fleet, tmp_path, {"erin": [7, 8]})
        bad = people["erin"].pseudonym(people["erin"].sessions[0])
        sha = fleet.client.get(f"/v1/sessions/{bad}/chunks", headers=fleet.h("curator")).json()[0]["sha256"]
        blob = tmp_path / "server" / "collector" / "blobs" / "chunks" / sha[:2] / sha
        data = bytearray(blob.read_bytes())
        data[-10] ^= 0xFF
        blob.write_bytes(bytes(data))
        man = build_dataset(fleet.collector.config, name="d", fmt="agentnet", out=tmp_path / "d")
        failed = man["counts"]["left_out"]["sessions_failed_verification"]
        assert [f["pseudonym"] for f in failed] == [bad] and "do not match" in failed[0]["error"]
        assert [s["pseudonym"] for s in man["sessions"]] == [people["erin"].pseudonym(people["erin"].sessions[1])]
    finally:
        fleet.close()


def test_erasure_reaches_datasets(fleet: Fleet, tmp_path):
    people = populate(fleet, tmp_path, {"alice": [11], "bob": [12]})
    cfg = fleet.collector.config
    build_dataset(cfg, name="ds", fmt="agentnet", out=tmp_path / "ds")
    other = build_dataset(cfg, name="only-bob", fmt="agentnet", out=tmp_path / "ob",
                          filters=Filters(tasks="only"))
    assert other["counts"]["sessions"] == 2
    r = fleet.client.delete("/v1/admin/contributors/alice", headers=fleet.h("admin"))
    assert r.status_code == 200, r.text
    affected = r.json()["datasets"]
    assert [(d["dataset"], d["version"]) for d in affected] == [("ds", 1), ("only-bob", 1)]
    assert all(d["rebuild_due"] > "2026" for d in affected)

    got = rebuild_dataset(cfg, "ds")
    assert got["deleted"] == [1] and got["built"]["version"] == 2
    assert not (tmp_path / "ds" / "v0001").exists()
    alice = people["alice"]
    gone = alice.pseudonym(alice.sessions[0])
    v2 = dataset_files(tmp_path / "ds" / "v0002")
    assert gone.encode() not in b"".join(v2.values())
    assert [s["pseudonym"] for s in got["built"]["sessions"]] == [people["bob"].pseudonym(people["bob"].sessions[0])]
    assert all("alice" not in r["instruction"] and "11" not in r["instruction"]
               for r in shard_records(tmp_path / "ds" / "v0002"))
    states = {(d["name"], d["version"]): d["state"] for d in fleet.collector.meta.dataset_versions()}
    assert states == {("ds", 1): "deleted", ("ds", 2): "built", ("only-bob", 1): "built"}
    actions = [(e["action"], e["target"]) for e in fleet.client.get("/v1/audit", headers=fleet.h("auditor")).json()]
    assert ("dataset.build", "ds@v2") in actions and ("dataset.delete", "ds@v1") in actions
    # a dataset that no longer holds the erased person's sessions is not due any more
    assert fleet.collector.meta.dataset_sessions("ds", 1) == []

    # retention applies to datasets too: bob's sessions age out, the versions holding them
    # are due, and a rebuild with nothing left only deletes
    with fleet.collector.meta.tx() as cur:
        cur.execute("UPDATE chunks SET received = received - 40 * 86400")
    r = fleet.client.post("/v1/admin/retention", json={"max_age_days": 30}, headers=fleet.h("admin"))
    assert r.json()["datasets"] == [{"dataset": "ds", "version": 2}, {"dataset": "only-bob", "version": 1}]
    due = {(d["name"], d["version"]): d["rebuild_due"] for d in fleet.collector.meta.dataset_versions()}
    assert due[("ds", 2)] and due[("only-bob", 1)]
    got = rebuild_dataset(cfg, "ds")
    assert got == {"built": None, "deleted": [2], "withdraw": "delete"} and not (tmp_path / "ds" / "v0002").exists()


def test_s3_output_and_tombstones(tmp_path, request):
    """--out s3://: the same objects as a folder build, written by the stages straight to
    S3 (SeaweedFS) with the collector's S3 settings; erasure then withdraws the old version
    there, leaving only a tombstone that names nobody."""
    from workprint.server.blobs import S3Blobs

    backend = make_backend("s3pg", request, tmp_path)
    fleet = Fleet.start(backend)
    try:
        people = populate(fleet, tmp_path, {"alice": [41], "bob": [42]})
        cfg = fleet.collector.config
        bucket = backend.extra["seaweed"].bucket
        out = f"s3://{bucket}/datasets/{tmp_path.name}"           # endpoint and keys from --blobs
        local = build_dataset(cfg, name="dir", fmt="aguvis", out=tmp_path / "dir", shard_steps=5)
        man = build_dataset(cfg, name="s3ds", fmt="aguvis", out=out, shard_steps=5)
        assert man["content_digest"] == local["content_digest"] and man["counts"]["shards"] > 1
        assert man["location"].startswith(f"s3://{bucket}/datasets/{tmp_path.name}/v0001?endpoint=http")
        client = S3Blobs(backend.blobs).client

        def objects(prefix: str) -> dict[str, bytes]:
            keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]
            return {k[len(prefix):]: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}
        v1 = objects(f"datasets/{tmp_path.name}/v0001/")
        mine = dataset_files(tmp_path / "dir" / "v0001")
        for name in ("manifest.json", "aguvis.yaml"):               # name their own location
            v1.pop(name), mine.pop(name)
        assert v1 == mine and not any(k.startswith(".staging") for k in v1)

        r = fleet.client.delete("/v1/admin/contributors/alice", headers=fleet.h("admin"))
        assert r.status_code == 200, r.text
        got = rebuild_dataset(cfg, "s3ds", withdraw="tombstone")
        assert got["deleted"] == [1] and got["built"]["version"] == 2
        left = objects(f"datasets/{tmp_path.name}/v0001/")
        assert list(left) == ["TOMBSTONE.json"]
        stone = json.loads(left["TOMBSTONE.json"])
        assert (stone["id"], stone["replaced_by"], stone["content_digest"]) == \
            ("s3ds@v1", "s3ds@v2", man["content_digest"])
        alice = people["alice"]
        gone = alice.pseudonym(alice.sessions[0]).encode()
        everything = b"".join(objects(f"datasets/{tmp_path.name}/").values())
        assert gone not in everything and b"alice" not in everything
        assert people["bob"].pseudonym(people["bob"].sessions[0]).encode() in everything
        states = {d["version"]: d["state"] for d in fleet.collector.meta.dataset_versions("s3ds")}
        assert states == {1: "withdrawn", 2: "built"}
        audit = [(e["action"], e["target"]) for e in fleet.client.get("/v1/audit", headers=fleet.h("auditor")).json()]
        assert ("dataset.withdraw", "s3ds@v1") in audit
    finally:
        fleet.close()
