"""Device side: review gate, outbox quota, retry/backoff, offline for a simulated day."""

from __future__ import annotations

import hashlib
import io

import httpx
import pytest

from workprint.events import FrameRef, KeyEvent, MoveEvent
from workprint.store.session import DataDir
from workprint.sync.chunk import parse_chunk
from workprint.sync.client import Client, Credential
from workprint.sync.outbox import Outbox
from workprint.sync.review import Review

from .helpers import Fleet

pytestmark = pytest.mark.fleet


def record_session(data_dir, n_events: int = 200, frames: int = 3, **meta) -> str:
    from PIL import Image

    w = DataDir(data_dir).create(meta={"hostname": "pc-alice", "user": "alice", **meta})
    w.add_events(MoveEvent(t_ns=1000 + i, x=i, y=i) for i in range(n_events))
    w.add_events([KeyEvent(t_ns=5000, down=True, keycode=38, key="a", char="a")])
    for f in range(frames):
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (f * 40, 0, 0)).save(buf, "PNG")
        d = hashlib.blake2b(buf.getvalue(), digest_size=16).digest()
        w.add_frame(FrameRef(t_ns=2000 + f, frame_id=f"{f:032x}", reason="start", width=64, height=64),
                    64, [d], {d: ("png", buf.getvalue())})
    w.close()
    return w.id


class Switch(httpx.BaseTransport):
    """Forwards to the in-process collector unless offline; can lose responses."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner, self.offline, self.lose_responses, self.requests = inner, False, 0, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.offline:
            raise httpx.ConnectError("network is unreachable", request=request)
        inner = self.inner.handle_request(request)
        resp = httpx.Response(inner.status_code, headers=inner.headers, content=inner.read())
        if self.lose_responses and request.method == "PUT":
            self.lose_responses -= 1
            raise httpx.ReadError("connection reset before the answer arrived", request=request)
        return resp


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def device(fleet: Fleet, tmp_path):
    dev = fleet.enroll("alice")
    cred = Credential(server="http://testserver", device_id=dev.device_id, contributor=dev.contributor,
                      token=dev.token, device_key="11" * 32)
    d = tmp_path / "device"
    cred.save(d)
    switch = Switch(fleet.client._transport)
    client = Client.for_device(cred, transport=switch)
    yield d, cred, client, switch
    client.close()


def test_only_approved_redacted_closed_sessions_are_uploaded(fleet: Fleet, device):
    d, cred, client, _ = device
    approved = record_session(d)
    waiting = record_session(d)
    unredacted = record_session(d, redaction="pending")
    live = DataDir(d).create()                       # still recording (lock held)
    review = Review(d)
    review.decide(approved, "approved")
    review.decide(unredacted, "approved")
    outbox = Outbox(d, chunk_bytes=2048)
    fill = outbox.fill(cred, review)
    assert fill.sealed == [approved] and fill.chunks >= 2
    rep = outbox.sync(client)
    assert rep.uploaded == fill.chunks and rep.remaining == 0
    assert list((outbox.files).iterdir()) == []       # deleted only after acknowledgement
    server = fleet.collector.meta.chunks()
    assert len(server) == fill.chunks and {c.contributor for c in server} == {cred.contributor}
    for c in server:
        data = fleet.collector.blobs.get(f"chunks/{c.sha256[:2]}/{c.sha256}")
        parse_chunk(data)
        for secret in (approved.encode(), b"pc-alice", b"alice", b"start_wall"):
            assert secret not in data                 # no raw id, host, user or wall time leaves
    items = {i.id: i for i in review.items()}
    assert "awaiting your review" in items[waiting].reason
    assert items[unredacted].reason == "redaction not finished"
    assert items[live.id].reason == "still recording"
    live.close()
    outbox.close()
    review.close()


def test_auto_approve_after_policy_delay(fleet: Fleet, device):
    d, cred, client, _ = device
    sid = record_session(d)
    review = Review(d)
    clock = Clock()
    import time as _t
    assert review.eligible(3600, now=_t.time()) == []
    assert review.eligible(3600, now=_t.time() + 7200) == [sid]
    review.decide(sid, "withheld")
    assert review.eligible(3600, now=_t.time() + 7200) == []
    review.close()
    del clock


class Forge(Switch):
    """A malicious collector: answers ``GET /v1/policy`` with a document of its choosing."""

    def __init__(self, inner, answer):
        super().__init__(inner)
        self.answer = answer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/v1/policy":
            return httpx.Response(200, json=self.answer)
        return super().handle_request(request)


@pytest.mark.parametrize("doc", [
    "auto_approve_hours = 0\n",                                       # the key sync used to read
    "[review]\nauto_approve_after_hours = 0.0001\n",                  # valid syntax, not publishable
])
def test_nothing_the_collector_sends_approves_an_upload(fleet: Fleet, device, doc: str):
    from workprint.commands.sync import one_round
    from workprint.policy.model import parse_policy
    from workprint.errors import PolicyError

    d, cred, _, _ = device
    try:
        answer = {"hash": parse_policy(doc).hash, "policy": doc}
    except PolicyError:
        answer = {"hash": "0" * 64, "policy": doc}
    forge = Forge(fleet.client._transport, answer)
    sid = record_session(d)
    review, outbox = Review(d), Outbox(d)
    import time as _t
    _t.sleep(0.5)
    got = one_round(d, cred, outbox, review, None, True, transport=forge)
    assert got["sealed_sessions"] == 0 and got["uploaded"] == 0
    assert fleet.collector.meta.chunks() == []
    # Only the contributor's own setting (same key, same meaning) auto-approves.
    review.set_auto_approve_after_hours(0)
    assert one_round(d, cred, outbox, review, None, True, transport=forge)["uploaded"] == 0
    review.set_auto_approve_after_hours(0.0001)                    # 0.36 s after it ended
    got = one_round(d, cred, outbox, review, None, True, transport=forge)
    assert got["sealed_sessions"] == 1 and got["uploaded"] >= 1
    [item] = [i for i in review.items(auto_approve_s=0.36) if i.id == sid]
    assert item.reason.startswith("auto-approved")
    outbox.close()
    review.close()


def test_review_setting_is_the_contributors_own(tmp_path):
    from workprint.sync.review import auto_approve_seconds

    rv = Review(tmp_path)
    assert rv.auto_approve_after_hours() == 0 and auto_approve_seconds(0) is None
    rv.set_auto_approve_after_hours(24)
    assert Review(tmp_path).auto_approve_after_hours() == 24 and auto_approve_seconds(24) == 86400
    with pytest.raises(ValueError):
        rv.set_auto_approve_after_hours(-1)
    rv.close()


def test_outbox_quota_warns_and_keeps_sessions_waiting(fleet: Fleet, device):
    d, cred, client, _ = device
    sid = record_session(d)
    review = Review(d)
    review.decide(sid, "approved")
    outbox = Outbox(d, quota_bytes=100)
    fill = outbox.fill(cred, review)
    assert fill.sealed == [] and "quota" in fill.warnings[0] and "1 approved session" in fill.warnings[0]
    outbox.close()
    review.close()


def test_lost_acknowledgement_keeps_the_chunk_until_confirmed(fleet: Fleet, device):
    d, cred, client, switch = device
    review = Review(d)
    review.decide(record_session(d), "approved")
    clock = Clock()
    outbox = Outbox(d, clock=clock, chunk_bytes=2048)
    n = outbox.fill(cred, review).chunks
    switch.lose_responses = 1                          # stored server-side, answer lost
    rep = outbox.sync(client)
    assert rep.failed == 1 and len(list(outbox.files.iterdir())) == n
    clock.t += 3600
    rep = outbox.sync(client)
    assert rep.already_present + rep.uploaded == n and rep.remaining == 0
    assert len(fleet.collector.meta.chunks()) == n    # exactly once
    outbox.close()
    review.close()


def test_offline_for_a_day_then_catches_up_with_nothing_lost(fleet: Fleet, device):
    d, cred, client, switch = device
    review = Review(d)
    clock = Clock()
    outbox = Outbox(d, clock=clock, chunk_bytes=600, base_backoff_s=5, max_backoff_s=1800)
    switch.offline = True
    expected = 0
    attempts_offline = 0
    for hour in range(24):                             # a working day offline, sync every 10 min
        if hour % 3 == 0:
            sid = record_session(d, n_events=300)
            review.decide(sid, "approved")
        for _ in range(6):
            expected += outbox.fill(cred, review).chunks
            before = switch.requests
            rep = outbox.sync(client)
            attempts_offline += switch.requests - before
            assert rep.uploaded == 0 and (rep.error is None or "unreachable" in rep.error)
            clock.t += 600
    assert outbox.status()["queued"] == expected and expected >= 16
    assert 10 <= attempts_offline <= 24 * 6            # backing off: at most one probe per round
    switch.offline = False
    clock.t += 1800                                    # backoff is capped: next round sends all
    rep = outbox.sync(client)
    assert rep.uploaded == expected and rep.remaining == 0
    server = fleet.collector.meta.chunks()
    assert len(server) == expected == len({c.sha256 for c in server})
    assert outbox.status()["sessions_done"] == 8
    outbox.close()
    review.close()


def test_refused_chunk_is_kept_with_its_reason(fleet: Fleet, device):
    d, cred, client, _ = device
    r = fleet.client.put("/v1/admin/policy", json={"policy": '[scope]\nallow_apps = ["XTerm"]\n'},
                         headers=fleet.h("admin"))
    assert r.status_code == 200, r.text
    review = Review(d)
    review.decide(record_session(d), "approved")
    outbox = Outbox(d, chunk_bytes=1 << 20)
    outbox.fill(cred, review)
    rep = outbox.sync(client)
    assert len(rep.rejected) == 1 and "policy" in rep.rejected[0]
    st = outbox.status()
    assert st["rejected"] == 1 and len(list(outbox.files.iterdir())) == 1
    outbox.close()
    review.close()
