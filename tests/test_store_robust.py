"""One damaged session never takes the others down, and every file is owner-only.

Each corruption variant is planted among good sessions; the real CLI (`sessions`,
`review`, `approve`, `export`, `forget`) must keep working for the good ones, name the
damaged one with what to do, and `forget --session` must still delete it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from workprint.errors import CorruptSessionError
from workprint.events import FocusEvent, KeyEvent, MarkerEvent
from workprint.store.session import DB_NAME, DataDir

from evgen import Stream
from storegen import make_session, screen_image

WORKPRINT = [sys.executable, "-m", "workprint.cli"]
GOOD = ("20260101-090000-aaaaaa", "20260101-100000-cccccc")
BAD = "20260101-093000-bbbbbb"


def _good_session(root: Path, sid: str) -> None:
    s = Stream(t0_ms=10_000)
    frames = [(s.t, screen_image("desktop"))]
    s.add(FocusEvent(s.at(100), 4242, "report.txt - Editor", "Editor", pid=777))
    s.move(400, 300).move(480, 420)
    s.click(500, 500, dt=700)
    frames.append((s.at(300), screen_image("clicked")))
    s.type("hello there", dt=90)
    s.key("Return", "\r")
    frames.append((s.at(300), screen_image("typed")))
    make_session(root, s.events, frames, session_id=sid)


def _corrupt(db: Path, how: str) -> None:
    data = bytearray(db.read_bytes())
    if how == "garbage":
        db.write_bytes(os.urandom(len(data)))
    elif how == "header":
        data[:100] = b"\xde\xad" * 50
        db.write_bytes(bytes(data))
    elif how == "truncated":
        db.write_bytes(bytes(data[:4096 + 100]))
    elif how == "pages":  # the header and schema survive; every other page is noise
        page = int.from_bytes(data[16:18], "big")
        for off in range(2 * page, len(data), page):
            data[off:off + page] = os.urandom(min(page, len(data) - off))
        db.write_bytes(bytes(data))
    elif how == "empty":
        db.write_bytes(b"")
    else:
        raise ValueError(how)


@pytest.fixture(params=["garbage", "header", "truncated", "pages", "empty"])
def damaged(request, tmp_path):
    root = tmp_path / "data"
    for sid in (GOOD[0], BAD, GOOD[1]):
        _good_session(root, sid)
    _corrupt(root / "sessions" / BAD / DB_NAME, request.param)
    (tmp_path / "damage").write_text(request.param)
    return root


def _cli(*args: str):
    return subprocess.run([*WORKPRINT, *args], capture_output=True, text=True, timeout=120)


def test_the_damaged_session_is_reported_with_what_to_do(damaged):
    sessions, broken = DataDir(damaged).scan()
    try:
        ids = [s.id for s in sessions]
        for s in sessions:  # a damage that only shows deeper in the file is caught there
            try:
                s.summary()
            except CorruptSessionError as exc:
                broken.append(exc)
                ids.remove(s.id)
    finally:
        for s in sessions:
            s.close()
    assert ids == list(GOOD)
    [exc] = broken
    assert exc.session == BAD and f"workprint forget --session {BAD}" in str(exc)


def test_sessions_lists_the_good_ones_and_names_the_bad_one(damaged):
    out = _cli("sessions", "--data-dir", str(damaged), "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {*GOOD, BAD}
    assert rows[BAD]["state"] == "corrupt" and "forget --session" in rows[BAD]["error"]
    assert all(rows[g]["events"] for g in GOOD)
    assert BAD in out.stderr and "corrupt" in out.stderr
    plain = _cli("sessions", "--data-dir", str(damaged))
    assert plain.returncode == 0 and all(g in plain.stdout for g in GOOD) and "corrupt" in plain.stdout


def test_review_and_approve_go_on_past_the_damaged_session(damaged):
    out = _cli("review", "--data-dir", str(damaged), "--json")
    assert out.returncode == 0, out.stderr
    items = {i["id"]: i for i in json.loads(out.stdout)}
    assert set(items) == {*GOOD, BAD}
    # review reads only metadata (cheap): damage past the first pages shows when the
    # session is sealed (see the outbox test below), not here
    if (damaged.parent / "damage").read_text() != "pages":
        assert items[BAD]["state"] == "corrupt" and not items[BAD]["eligible"]
        assert "forget --session" in items[BAD]["reason"]
        out = _cli("approve", "--all", "--data-dir", str(damaged))
        assert out.returncode == 0, out.stderr
        assert all(f"approved {g}" in out.stdout for g in GOOD) and BAD not in out.stdout
        out = _cli("approve", GOOD[0], BAD, GOOD[1], "--data-dir", str(damaged))
        assert out.returncode == 4 and BAD in out.stderr and "corrupt" in out.stderr
    else:
        out = _cli("approve", GOOD[0], BAD, GOOD[1], "--data-dir", str(damaged))
        assert out.returncode == 0, out.stderr
    assert all(f"approved {g}" in out.stdout for g in GOOD)
    items = {i["id"]: i for i in json.loads(_cli("review", "--data-dir", str(damaged), "--json").stdout)}
    assert all(items[g]["eligible"] for g in GOOD)


def test_sealing_for_upload_goes_on_past_the_damaged_session(damaged):
    from workprint.sync.client import Credential
    from workprint.sync.outbox import Outbox
    from workprint.sync.review import Review

    rv = Review(damaged)
    for sid in (*GOOD, BAD):
        rv.decide(sid, "approved")
    box = Outbox(damaged)
    try:
        cred = Credential("https://collector.invalid", "dev-1", "c-1", "tok", "11" * 32)
        report = box.fill(cred, rv)
    finally:
        box.close()
        rv.close()
    assert sorted(report.sealed) == list(GOOD) and report.chunks >= 2
    if (damaged.parent / "damage").read_text() == "pages":  # review could not tell: sealing does
        assert any(BAD in w and "corrupt" in w for w in report.warnings), report.warnings


def test_export_leaves_the_damaged_session_out_and_says_so(damaged, tmp_path):
    out_dir = tmp_path / "export"
    out = _cli("export", "--data-dir", str(damaged), "--format", "agentnet", "--out", str(out_dir), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["sessions"] == 2 and summary["trajectories"] >= 2
    assert [s["session"] for s in summary["skipped"]] == [BAD]
    assert BAD in out.stderr and "forget --session" in out.stderr
    lines = (out_dir / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == summary["trajectories"]


def test_forget_last_does_the_others_and_forget_session_deletes_the_damaged_one(damaged):
    # the good sessions were written just now: `--last 1h` covers them
    out = _cli("forget", "--last", "1h", "--yes", "--data-dir", str(damaged), "--json")
    assert out.returncode == 4, out.stderr  # one session could not be forgotten: not ok
    report = {r["session"]: r for r in json.loads(out.stdout)["sessions"]}
    assert report[BAD]["corrupt"] and "forget --session" in " ".join(report[BAD]["warnings"])
    out = _cli("forget", "--session", BAD[:17], "--yes", "--data-dir", str(damaged), "--json")
    assert out.returncode == 0, out.stderr
    [r] = json.loads(out.stdout)["sessions"]
    assert r["removed"] and r["session"] == BAD
    assert not (damaged / "sessions" / BAD).exists()
    assert DataDir(damaged).session_ids() == list(GOOD)
    out = _cli("sessions", "--data-dir", str(damaged), "--json")
    assert out.returncode == 0 and "corrupt" not in out.stdout + out.stderr


# --- permissions ----------------------------------------------------------------------------

def _modes(root: Path) -> dict[str, int]:
    out = {}
    for p in [root, *root.rglob("*")]:
        if p.is_symlink() or p.is_socket():
            continue
        out[str(p.relative_to(root))] = stat.S_IMODE(p.stat().st_mode)
    return out


def _assert_private(root: Path) -> None:
    modes = _modes(root)
    assert modes, "nothing written"
    for name, mode in modes.items():
        p = root / name
        want = 0o700 if p.is_dir() else 0o600
        assert mode == want, f"{name} is {oct(mode)}, want {oct(want)}"


@pytest.mark.parametrize("live", [False, True], ids=["closed", "live-wal"])
def test_session_files_are_owner_only_whatever_existed_before(tmp_path, live):
    root = tmp_path / "data"
    (root / "sessions").mkdir(parents=True)
    os.chmod(root, 0o755)
    os.chmod(root / "sessions", 0o755)
    # a session folder an older version left world-readable, with a stale -wal
    old = root / "sessions" / "20250101-000000-000000"
    old.mkdir(mode=0o755)
    old_mask = os.umask(0o022)
    try:
        w = DataDir(root).create({"x": 1}, session_id="20260101-000000-dddddd")
        w.add_events([KeyEvent(1, True, 38, 97, "a", "a"), MarkerEvent(2, "task_start", "t")])
        names = {p.name for p in w.folder.iterdir()}
        if live:
            assert DB_NAME + "-wal" in names, names  # the WAL exists while recording
            _assert_private(root / "sessions" / "20260101-000000-dddddd")
        w.close()
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "sessions").stat().st_mode) == 0o700
    _assert_private(root / "sessions" / "20260101-000000-dddddd")


def test_review_outbox_and_exports_under_the_data_dir_are_owner_only(tmp_path):
    from workprint.sync.outbox import Outbox
    from workprint.sync.review import Review

    root = tmp_path / "data"
    root.mkdir(mode=0o755)
    old_mask = os.umask(0o022)
    try:
        _good_session(root, GOOD[0])
        rv = Review(root)
        rv.decide(GOOD[0], "approved")
        rv.close()
        box = Outbox(root)
        box._write_file("ab" * 32, b"sealed chunk bytes")
        box.close()
        out = _cli("export", "--data-dir", str(root), "--format", "agentnet", "--out", str(root / "exports" / "a"))
        assert out.returncode == 0, out.stderr
        policy = Path(__file__).resolve().parent.parent / "examples" / "policy.toml"
        out = _cli("notice", "--accept", "--data-dir", str(root), "--policy", str(policy))
        assert out.returncode == 0, out.stderr
    finally:
        os.umask(old_mask)
    _assert_private(root)


def test_forget_withdraws_a_forgotten_sessions_chunks_from_the_outbox(tmp_path):
    """Chunks sealed before a forget hold the forgotten data: they leave the queue (their
    files zero-filled and removed), and the session is sealed afresh by the next fill."""
    from workprint.store.forget import forget_session
    from workprint.sync.outbox import Outbox, forget_hook

    root = tmp_path / "data"
    _good_session(root, GOOD[0])
    _good_session(root, GOOD[1])
    box = Outbox(root)
    for sid, sha in ((GOOD[0], "aa" * 32), (GOOD[1], "bb" * 32)):
        box._write_file(sha, b"CHUNK-OF-" + sid.encode())
        box.db.execute("INSERT INTO chunks (sha256, session_id, idx, size) VALUES (?, ?, 0, 20)", (sha, sid))
        box.db.execute("INSERT INTO sessions (session_id, sealed, chunks) VALUES (?, 0, 1)", (sid,))
    box.close()

    report = forget_session(root, GOOD[0], outbox=forget_hook(root))
    assert report.removed and any("outbox" in w and "destroyed" in w for w in report.warnings)
    assert not any("queued" in w or "uploaded" in w for w in report.warnings), report.warnings
    files = {p.name for p in (root / "outbox" / "chunks").iterdir()}
    assert files == {"bb" * 32 + ".wpc"}
    box = Outbox(root)
    try:
        assert [r[0] for r in box.db.execute("SELECT session_id FROM chunks")] == [GOOD[1]]
        assert [r[0] for r in box.db.execute("SELECT session_id FROM sessions")] == [GOOD[1]]
        box.db.execute("UPDATE chunks SET state = 'acked'")
    finally:
        box.close()
    # an uploaded session: nothing to withdraw, and the report says who can erase it
    report = forget_session(root, GOOD[1], outbox=forget_hook(root))
    assert any("already uploaded (1 chunk(s))" in w and "erase it on the collector" in w
               for w in report.warnings), report.warnings
