"""The collector API, run against every backend (local dir + SQLite, SeaweedFS + PostgreSQL)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import time

import pytest

from workprint.server.collector import Collector
from workprint.sync import chunk as C

from .helpers import Fleet, make_chunk, raw_chunk

pytestmark = pytest.mark.fleet


def test_openapi_declares_bearer_scheme(fleet: Fleet):
    spec = fleet.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    secured = [op for path in spec["paths"].values() for op in path.values() if op.get("security")]
    assert len(secured) >= 15
    words = json.dumps(spec["paths"]).lower()
    for banned in ("productivity", "idle", "activity_time", "per_person"):
        assert banned not in words


def test_enrol_upload_retry_and_read_back(fleet: Fleet):
    dev = fleet.enroll("alice")
    ch = make_chunk(tiles=2)
    r = fleet.put(dev, ch.data)
    assert r.status_code == 201 and r.json()["status"] == "created"
    r = fleet.put(dev, ch.data)                         # a retry never duplicates
    assert r.status_code == 200 and r.json()["status"] == "exists"
    assert fleet.stored_blobs() == [f"chunks/{ch.sha256[:2]}/{ch.sha256}"]
    me = fleet.client.get("/v1/me", headers=dev.headers).json()
    assert [c["sha256"] for c in me["chunks"]] == [ch.sha256]
    sessions = fleet.client.get("/v1/sessions", headers=fleet.h("curator")).json()
    assert sessions == [{"session": ch.manifest["session"], "chunks": 1, "count": 1,
                         "bytes": len(ch.data), "policy_hash": "none", "complete": True}]
    assert "contributor" not in json.dumps(sessions)     # curators see no person
    got = fleet.client.get(f"/v1/chunks/{ch.sha256}", headers=fleet.h("curator"))
    assert got.status_code == 200 and got.content == ch.data
    parsed = C.parse_chunk(got.content)
    assert C.read_entries(parsed)["events.jsonl.gz"].count(b"\n") == 20


def test_missing_lists_only_absent_chunks(fleet: Fleet):
    dev = fleet.enroll()
    a, b = make_chunk(), make_chunk()
    fleet.put(dev, a.data)
    r = fleet.client.post("/v1/chunks/missing", json={"chunks": [a.sha256, b.sha256]}, headers=dev.headers)
    assert r.json() == {"missing": [b.sha256]}


def test_enrolment_code_is_single_use(fleet: Fleet):
    code = fleet.client.post("/v1/admin/enrolment-codes", json={}, headers=fleet.h("admin")).json()["code"]
    assert fleet.client.post("/v1/enroll", json={"code": code}).status_code == 200
    r = fleet.client.post("/v1/enroll", json={"code": code})
    assert r.status_code == 401 and "already used" in r.json()["error"]
    assert fleet.client.post("/v1/enroll", json={"code": "nope"}).status_code == 401


def test_tokens_are_stored_hashed(fleet: Fleet):
    dev = fleet.enroll()
    with fleet.collector.meta.tx() as cur:
        stored = [r[0] for r in cur.execute("SELECT hash FROM tokens").fetchall()]
    assert dev.token not in stored
    assert hashlib.sha256(dev.token.encode()).hexdigest() in stored


def test_revoked_device_is_refused(fleet: Fleet):
    dev = fleet.enroll()
    assert fleet.put(dev, make_chunk().data).status_code == 201
    r = fleet.client.post(f"/v1/admin/devices/{dev.device_id}/revoke", headers=fleet.h("admin"))
    assert r.status_code == 200
    r = fleet.put(dev, make_chunk().data)
    assert r.status_code == 401 and "revoked" in r.json()["error"]


def test_contributor_sees_only_own_data(fleet: Fleet):
    alice, bob = fleet.enroll("alice"), fleet.enroll("bob")
    ch = make_chunk()
    fleet.put(alice, ch.data)
    assert fleet.client.get(f"/v1/chunks/{ch.sha256}", headers=bob.headers).status_code == 404
    assert fleet.client.get("/v1/me", headers=bob.headers).json()["chunks"] == []
    assert fleet.client.get(f"/v1/chunks/{ch.sha256}", headers=alice.headers).content == ch.data


def test_same_index_with_different_bytes_conflicts(fleet: Fleet):
    dev = fleet.enroll()
    a = make_chunk(session="a" * 32, index=0, count=2, seed=1)
    b = make_chunk(session="a" * 32, index=0, count=2, seed=2)
    assert fleet.put(dev, a.data).status_code == 201
    r = fleet.put(dev, b.data)
    assert r.status_code == 409 and "immutable" in r.json()["error"]
    assert fleet.stored_blobs() == [f"chunks/{a.sha256[:2]}/{a.sha256}"]


# --- corrupt and malicious input: 4xx with a reason, nothing left behind ------------------

def _png(w: int, h: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (w, h)).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _with(entries, **manifest_overrides) -> bytes:
    base = {"session": "b" * 32, "index": 0, "count": 1, "policy_hash": "none", "event_version": 1,
            "session_meta": {}}
    base.update(manifest_overrides)
    return C.encode_chunk(base, entries).data


def _ev(rows=None):
    return C.jsonl_entry("events.jsonl.gz", "events", rows if rows is not None else [[1, "move", {"x": 1}]])


def _bomb() -> bytes:
    raw = b"\n" * (60 * 1024 * 1024)            # 60 MB of newlines compress ~1000:1
    payload = gzip.compress(raw, mtime=0)
    return _with([({"name": "events.jsonl.gz", "type": "events", "encoding": "gzip", "raw_size": 100}, payload)])


def _lying_ratio() -> bytes:
    payload = gzip.compress(b"\n" * 5_000_000, mtime=0)
    return _with([({"name": "events.jsonl.gz", "type": "events", "encoding": "gzip",
                    "raw_size": 5_000_000}, payload)])


def _manifest_tamper(key, value) -> bytes:
    ch = make_chunk()
    m = dict(ch.manifest)
    m[key] = value
    return raw_chunk(m, ch.payload)


def _entry_tamper(**kw) -> bytes:
    ch = make_chunk()
    m = dict(ch.manifest, entries=[dict(ch.manifest["entries"][0], **kw)])
    return raw_chunk(m, ch.payload)


BAD = {
    "bad magic": (lambda: b"PK\x03\x04" + b"\0" * 100, 422, "magic"),
    "manifest not json": (lambda: C.MAGIC + b"\0\0\0\x05" + b"{nope" + b"x", 422, "not valid JSON"),
    "manifest length past end": (lambda: C.MAGIC + b"\x00\x10\x00\x00{}", 422, "out of bounds"),
    "wrong version": (lambda: _manifest_tamper("version", 99), 422, "unsupported chunk version"),
    "raw session id": (lambda: _manifest_tamper("session", "20261125-163825-3f9a2c"), 422, "pseudonym"),
    "identifying meta": (lambda: _with([_ev()], session_meta={"username": "alice"}), 422, "identify"),
    "unknown manifest key": (lambda: _manifest_tamper("hostname", "pc-17"), 422, "unknown keys"),
    "path traversal": (lambda: _with([_ev(), ({"name": "../../etc/passwd", "type": "tile"}, b"x")]),
                       422, "not allowed"),
    "absolute path": (lambda: _with([_ev(), ({"name": "/etc/passwd", "type": "tile"}, b"x")]), 422, "not allowed"),
    "tile dir trick": (lambda: _with([_ev(), ({"name": "tiles/../x.png", "type": "tile"}, b"x")]),
                       422, "not allowed"),
    "duplicate entry": (lambda: _with([_ev(), _ev()]), 422, "twice"),
    "gzip bomb": (_bomb, 422, "decompression bomb"),
    "raw size lie": (lambda: _with([({"name": "events.jsonl.gz", "type": "events", "encoding": "gzip",
                                      "raw_size": 10}, gzip.compress(b"[1,\"move\",{}]\n" * 50, mtime=0))]),
                     422, "decompression bomb"),
    "ratio bomb declared": (_lying_ratio, 422, "ratio"),
    "oversized image": (lambda: _with([_ev(), ({"name": f"tiles/{'c' * 32}.png", "type": "tile",
                                                "format": "png"}, _png(5000, 5000))]), 422, "oversized"),
    "not an image": (lambda: _with([_ev(), ({"name": f"tiles/{'c' * 32}.png", "type": "tile",
                                             "format": "png"}, b"\x89PNG garbage")]), 422, "not a valid PNG"),
    "unknown event kind": (lambda: _with([_ev([[1, "keylogger", {}]])]), 422, "known kind"),
    "entry hash mismatch": (lambda: _entry_tamper(sha256="0" * 64), 422, "sha256"),
    "truncated payload": (lambda: make_chunk().data[:-5], 422, "truncated"),
    "policy not accepted": (lambda: _with([_ev()], policy_hash="f" * 64), 422, "policy"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_chunk_refused_with_reason_and_nothing_stored(fleet: Fleet, case: str):
    dev = fleet.enroll()
    make, status, reason = BAD[case]
    r = fleet.put(dev, make())
    assert r.status_code == status, r.text
    assert reason.lower() in r.json()["error"].lower()
    assert fleet.stored_blobs() == []
    assert fleet.collector.meta.chunks() == []


def test_hash_mismatch_and_size_limits(fleet: Fleet):
    dev = fleet.enroll()
    ch = make_chunk()
    r = fleet.put(dev, ch.data, sha="0" * 64)
    assert r.status_code == 400 and "sha256" in r.json()["error"]
    big = b"\0" * (fleet.collector.limits.max_chunk_bytes + 1)
    r = fleet.put(dev, big, sha=hashlib.sha256(big).hexdigest())
    assert r.status_code == 413
    r = fleet.client.put(f"/v1/chunks/{ch.sha256}", content=ch.data,
                         headers={**dev.headers, "Content-Type": "text/plain"})
    assert r.status_code == 400 and "octet-stream" in r.json()["error"]
    r = fleet.client.post("/v1/admin/policy", content=b"x" * (2 * 1024 * 1024),
                          headers={**fleet.h("admin"), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert fleet.stored_blobs() == []


# --- roles ----------------------------------------------------------------------------------

def _endpoints(sha: str, session: str, device: str):
    return [
        ("GET", "/v1/policy", None, {"contributor", "curator", "admin", "auditor"}),
        ("POST", "/v1/chunks/missing", {"chunks": [sha]}, {"contributor"}),
        ("PUT", f"/v1/chunks/{sha}", b"x", {"contributor"}),
        ("GET", f"/v1/chunks/{sha}", None, {"contributor", "curator"}),
        ("GET", "/v1/me", None, {"contributor", "self"}),
        ("DELETE", "/v1/me", None, {"contributor", "self"}),
        ("GET", "/v1/sessions", None, {"curator"}),
        ("GET", f"/v1/sessions/{session}/chunks", None, {"curator"}),
        ("GET", "/v1/erasures", None, {"curator"}),
        ("POST", "/v1/admin/enrolment-codes", {}, {"admin"}),
        ("GET", "/v1/admin/devices", None, {"admin"}),
        ("GET", "/v1/admin/contributors", None, {"admin"}),
        ("POST", f"/v1/admin/devices/{device}/revoke", None, {"admin"}),
        ("PUT", "/v1/admin/policy", {"policy": "x"}, {"admin"}),
        ("GET", "/v1/admin/health", None, {"admin"}),
        ("POST", "/v1/admin/retention", {}, {"admin"}),
        ("DELETE", "/v1/admin/contributors/alice", None, {"admin"}),
        ("GET", "/v1/audit", None, {"auditor"}),
        ("GET", "/v1/audit/verify", None, {"auditor"}),
    ]


def test_every_role_is_refused_where_it_must_not_go(fleet: Fleet):
    dev = fleet.enroll("alice")
    ch = make_chunk()
    fleet.put(dev, ch.data)
    headers = {"contributor": dev.headers, "self": {"Authorization": f"Bearer {dev.erase_token}"},
               **{r: fleet.h(r) for r in ("curator", "admin", "auditor")}}
    spec_paths = fleet.client.get("/openapi.json").json()["paths"]
    endpoints = _endpoints(ch.sha256, ch.manifest["session"], dev.device_id)
    declared = {(m.upper(), p) for p, ops in spec_paths.items() for m in ops} - {("GET", "/v1/health"),
                                                                             ("POST", "/v1/enroll")}
    assert len(declared) == len(endpoints)             # every protected endpoint is covered
    tried = 0
    for method, path, body, allowed in endpoints:
        kw = {"content": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
        r = fleet.client.request(method, path, **kw)
        assert r.status_code == 401, (method, path)
        r = fleet.client.request(method, path, headers={"Authorization": "Bearer wp_forged"}, **kw)
        assert r.status_code == 401, (method, path)
        for role in {"contributor", "self", "curator", "admin", "auditor"} - allowed:
            r = fleet.client.request(method, path, headers=headers[role], **kw)
            assert r.status_code == 403, (role, method, path, r.text)
            assert role in r.json()["error"]
            tried += 1
    assert tried >= 55
    assert fleet.client.get(f"/v1/chunks/{ch.sha256}", headers=dev.headers).status_code == 200


# --- audit ----------------------------------------------------------------------------------

def test_reads_exports_deletions_are_audited_and_chain_shows_tampering(fleet: Fleet):
    dev = fleet.enroll("alice")
    ch = make_chunk()
    fleet.put(dev, ch.data)
    fleet.client.get(f"/v1/chunks/{ch.sha256}", headers=fleet.h("curator"))
    fleet.client.get("/v1/me", headers=dev.headers)
    fleet.client.delete("/v1/me", headers=dev.headers)
    log = fleet.client.get("/v1/audit", headers=fleet.h("auditor")).json()
    actions = [e["action"] for e in log]
    for a in ("enrolment_code.create", "device.enroll", "chunk.read", "contributor.access", "contributor.erase"):
        assert a in actions
    assert fleet.client.get("/v1/audit/verify", headers=fleet.h("auditor")).json()["ok"] is True
    with fleet.collector.meta.tx() as cur:
        cur.execute("UPDATE audit SET target = ? WHERE action = ?", ("someone-else", "chunk.read"))
    v = fleet.client.get("/v1/audit/verify", headers=fleet.h("auditor")).json()
    assert v["ok"] is False and "altered" in v["message"]
    with fleet.collector.meta.tx() as cur:
        cur.execute("DELETE FROM audit WHERE seq = 2")
    v = fleet.client.get("/v1/audit/verify", headers=fleet.h("auditor")).json()
    assert v["ok"] is False and "missing" in v["message"]


# --- erasure and retention ------------------------------------------------------------------

def test_erasure_removes_blobs_and_metadata_and_is_listed_for_builds(fleet: Fleet):
    alice, bob = fleet.enroll("alice"), fleet.enroll("bob")
    a = [make_chunk(session="a" * 32, index=i, count=2) for i in range(2)]
    b = make_chunk()
    for c in a:
        assert fleet.put(alice, c.data).status_code == 201
    fleet.put(bob, b.data)
    r = fleet.client.delete("/v1/me", headers=alice.headers)
    assert r.json()["deleted_chunks"] == 2
    assert fleet.stored_blobs() == [f"chunks/{b.sha256[:2]}/{b.sha256}"]
    sessions = fleet.client.get("/v1/sessions", headers=fleet.h("curator")).json()
    assert [s["session"] for s in sessions] == [b.manifest["session"]]
    erased = fleet.client.get("/v1/erasures", headers=fleet.h("curator")).json()
    assert [e["session"] for e in erased] == ["a" * 32]
    # the program owner can answer an erasure request by label, too
    r = fleet.client.delete("/v1/admin/contributors/bob", headers=fleet.h("admin"))
    assert r.json()["deleted_chunks"] == 1 and fleet.stored_blobs() == []


def test_retention_by_age_and_quota(fleet: Fleet):
    dev = fleet.enroll()
    chunks = [make_chunk() for _ in range(4)]
    for c in chunks:
        fleet.put(dev, c.data)
    with fleet.collector.meta.tx() as cur:
        cur.execute("UPDATE chunks SET received = received - 40 * 86400 WHERE sha256 = ?", (chunks[0].sha256,))
    r = fleet.client.post("/v1/admin/retention", json={"max_age_days": 30}, headers=fleet.h("admin"))
    assert r.json()["deleted_chunks"] == 1
    # the chunks' sizes differ by a few bytes (their events are random): a quota one byte short
    # of the three left drops exactly one of them, whatever their sizes
    left = sum(len(c.data) for c in chunks[1:])
    r = fleet.client.post("/v1/admin/retention", json={"quota_bytes": left - 1}, headers=fleet.h("admin"))
    assert r.json()["deleted_chunks"] == 1
    assert len(fleet.stored_blobs()) == 2 and len(fleet.collector.meta.chunks()) == 2


def test_scheduled_retention_runs_by_itself(fleet: Fleet):
    """The collector's retention job (serve --retention-days, every --retention-every-min)
    deletes old chunks without anybody calling the endpoint, and is audited."""
    import threading

    from workprint.server.run import _retention_loop

    dev = fleet.enroll()
    old, new = make_chunk(), make_chunk()
    fleet.put(dev, old.data)
    fleet.put(dev, new.data)
    with fleet.collector.meta.tx() as cur:
        cur.execute("UPDATE chunks SET received = received - 40 * 86400 WHERE sha256 = ?", (old.sha256,))
    stop = threading.Event()
    job = threading.Thread(target=_retention_loop, args=(fleet.collector, stop, 0.1, 30, None), daemon=True)
    job.start()
    try:
        deadline = time.monotonic() + 10
        while len(fleet.collector.meta.chunks()) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        job.join(timeout=5)
    assert [c.sha256 for c in fleet.collector.meta.chunks()] == [new.sha256]
    assert len(fleet.stored_blobs()) == 1
    log = fleet.client.get("/v1/audit", headers=fleet.h("auditor")).json()
    assert any(e["action"] == "retention.run" and e["actor"] == "scheduler:retention" for e in log), log[-3:]


def test_orphan_blobs_from_a_crash_are_swept(fleet: Fleet):
    from workprint.server.blobs import chunk_key

    fleet.collector.blobs.put(chunk_key("e" * 64), b"left by a crash")
    assert fleet.collector.sweep_orphans(min_age_s=-10) == 1
    assert fleet.stored_blobs() == []


# --- admin: health, policy, limits ----------------------------------------------------------

def test_fleet_health_suppresses_small_groups(fleet: Fleet):
    for i in range(3):
        fleet.put(fleet.enroll(f"p{i}"), make_chunk().data)
    h = fleet.client.get("/v1/admin/health", headers=fleet.h("admin")).json()
    assert h["devices"] == "<10" and h["active_today"] == "<10"
    assert h["by_policy"] == [] and h["suppressed_groups"] == 1 and h["k"] == 10
    assert h["chunks"] == 3


POLICY_A = '[scope]\nallow_apps = ["XTerm"]\n'
POLICY_B = '[scope]\nallow_apps = ["XTerm", "code"]\n'


def test_policy_distribution_and_policy_check(fleet: Fleet):
    from workprint.policy.model import default_policy, parse_policy

    dev = fleet.enroll()
    assert fleet.client.get("/v1/policy", headers=dev.headers).json() == {"hash": "none", "policy": None}
    # Before any publication: sessions under the built-in policy (or with no stamp) are accepted.
    assert fleet.put(dev, make_chunk(policy=default_policy().hash).data).status_code == 201
    assert fleet.put(dev, make_chunk(policy="none").data).status_code == 201
    r = fleet.client.put("/v1/admin/policy", json={"policy": POLICY_A}, headers=fleet.h("admin"))
    digest = r.json()["hash"]
    assert digest == parse_policy(POLICY_A).hash            # the one identity: `policy check`'s hash
    got = fleet.client.get("/v1/policy", headers=dev.headers).json()
    assert got == {"hash": digest, "policy": POLICY_A}
    fleet.collector._policy_cache = (0.0, set())
    r = fleet.put(dev, make_chunk(policy="none").data)
    assert r.status_code == 422 and "policy" in r.json()["error"]
    assert fleet.put(dev, make_chunk(policy=default_policy().hash).data).status_code == 422
    assert fleet.put(dev, make_chunk(policy=digest).data).status_code == 201
    # A newer policy does not strand sessions recorded under an earlier one.
    r = fleet.client.put("/v1/admin/policy", json={"policy": POLICY_B}, headers=fleet.h("admin"))
    assert r.json()["hash"] == parse_policy(POLICY_B).hash != digest
    fleet.collector._policy_cache = (0.0, set())
    assert fleet.put(dev, make_chunk(policy=digest).data).status_code == 201
    assert fleet.put(dev, make_chunk(policy=r.json()["hash"]).data).status_code == 201


@pytest.mark.parametrize("body,why", [
    ("auto_approve_hours = 0\n", "auto_approve_hours"),                 # unknown key (the old name)
    ("[scope]\nallow_app = ['x']\n", "scope.allow_app"),                # a typo never passes
    ("[review]\nauto_approve_after_hours = 24\n", "only contributors approve"),
    ("not toml = = 1", "TOML"),
])
def test_published_policy_is_validated_like_policy_check(fleet: Fleet, body: str, why: str):
    r = fleet.client.put("/v1/admin/policy", json={"policy": body}, headers=fleet.h("admin"))
    assert r.status_code == 422 and why in r.json()["error"], r.text
    assert fleet.client.get("/v1/policy", headers=fleet.h("admin")).json()["hash"] == "none"


def test_rate_limit_per_device(backend):
    f = Fleet.start(backend, rate_per_s=1.0, rate_burst=3)
    try:
        dev = f.enroll()
        codes = [f.client.get("/v1/policy", headers=dev.headers).status_code for _ in range(6)]
        assert codes[:3] == [200] * 3 and 429 in codes[3:]
        r = f.client.get("/v1/policy", headers=dev.headers)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        other = f.enroll()                              # another device is not affected
        assert f.client.get("/v1/policy", headers=other.headers).status_code == 200
    finally:
        f.close()


def test_revocation_reaches_other_collector_processes_within_the_cache_time(backend):
    """Token caches trust a known token until the auth epoch changes; a revocation made
    through another collector (process) bumps it, so it takes effect within cache_s."""
    a = Fleet.start(backend, token_cache_s=0.3)
    b = Collector(backend.config(token_cache_s=0.3))
    try:
        dev = a.enroll()
        assert a.put(dev, make_chunk().data).status_code == 201      # token now cached in a
        b.revoke_device("test", dev.device_id)
        time.sleep(0.35)
        r = a.put(dev, make_chunk().data)
        assert r.status_code == 401 and "revoked" in r.json()["error"]
    finally:
        b.close()
        a.close()


def test_concurrent_uploads_are_group_committed_exactly_once(fleet: Fleet):
    """Many uploads at once (including the same chunk twice, by the same and by another
    contributor, and two chunks for one session index) are stored in shared batches and
    each gets the answer it would get alone."""
    from concurrent.futures import ThreadPoolExecutor

    alice, bob = fleet.enroll("alice"), fleet.enroll("bob")
    fleet.collector.config.max_uploads_per_device = 64    # 16 at once from one device here
    chunks = [make_chunk(tiles=1) for _ in range(40)]
    twin_a = make_chunk(session="c" * 32, seed=1)
    twin_b = make_chunk(session="c" * 32, seed=2)
    jobs = [(alice, c.data) for c in chunks] + [(alice, chunks[0].data), (bob, chunks[1].data),
                                               (alice, twin_a.data), (alice, twin_b.data)]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda j: fleet.put(*j).status_code, jobs))
    assert codes[2:40] == [201] * 38
    assert sorted([codes[0], codes[40]]) == [200, 201]               # a retry: stored once
    assert sorted([codes[1], codes[41]]) == [201, 409]               # same bytes, other contributor
    assert sorted(codes[42:]) == [201, 409]                          # one chunk per session index
    stored = {k.rsplit("/", 1)[1] for k in fleet.stored_blobs()}
    assert stored == {c.sha256 for c in chunks} | ({twin_a.sha256} if codes[42] == 201 else {twin_b.sha256})
    assert len(fleet.collector.meta.all_chunk_shas()) == 41
