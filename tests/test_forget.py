"""`workprint forget`: what is forgotten is gone from every byte of the session folder."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from workprint.events import FocusEvent, FrameRef, KeyEvent
from workprint.store.forget import GAP_REASON, forget_last, forget_session, parse_duration
from workprint.store.session import DataDir

WORKPRINT = [sys.executable, "-m", "workprint.cli"]
SEC = 1_000_000_000
OLD_TITLE = "KEEP-OLD-TITLE-1234"
NEW_TITLE = "ZZ-FORGET-ME-7781"
OLD_TILE = b"KEEP-OLD-TILE-PIXELS-5150" * 40
NEW_TILE = b"ZZ-SECRET-TILE-PIXELS-9932" * 40
SHARED_TILE = b"SHARED-TILE-BOTH-FRAMES-0001" * 40


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:16]


def _frame(w, t_ns: int, tiles: list[bytes]) -> FrameRef:
    digests = [_digest(t) for t in tiles]
    ref = FrameRef(t_ns, hashlib.sha256(b"".join(digests)).hexdigest()[:32], "action", 512, 256)
    w.add_frame(ref, 256, digests, {_digest(t): ("png", t) for t in tiles})
    return ref


def _session(root: Path, *, minutes_ago: float, sid: str, close: bool = True,
             recent_minutes_ago: float = 2):
    """A session that started ``minutes_ago``: old events at +1 min into it, "recent" ones
    ``recent_minutes_ago``."""
    start = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    w = DataDir(root).create({"start_wall": start.isoformat(timespec="milliseconds"),
                              "start_mono_ns": 0}, session_id=sid)
    old_t, new_t = 60 * SEC, int((minutes_ago - recent_minutes_ago) * 60 * SEC)
    w.add_events([FocusEvent(old_t, window=1, title=OLD_TITLE, app_id="XTerm"),
                  KeyEvent(old_t + SEC, True, 38, 97, "a", "a")])
    _frame(w, old_t + 2 * SEC, [OLD_TILE, SHARED_TILE])
    w.add_events([FocusEvent(new_t, window=2, title=NEW_TITLE, app_id="XTerm"),
                  KeyEvent(new_t + SEC, True, 39, 115, "s", "s")])
    _frame(w, new_t + 2 * SEC, [NEW_TILE, SHARED_TILE])
    if close:
        w.close()
    return w


def _raw_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


def _assert_forgotten(folder: Path) -> None:
    names = {p.name for p in folder.iterdir()}
    assert "session.db" in names
    raw = _raw_bytes(folder)
    assert NEW_TITLE.encode() not in raw
    assert NEW_TILE[:26] not in raw
    # Also as UTF-16, in case text were stored that way.
    assert NEW_TITLE.encode("utf-16-le") not in raw


def _cli(*args: str, input: str | None = None, env: dict | None = None):
    return subprocess.run([*WORKPRINT, *args], capture_output=True, text=True, input=input,
                          timeout=60, env=env)


def test_marker_is_in_the_raw_files_before_forgetting(tmp_path):
    """The irrecoverability test below could pass vacuously if markers never hit the disk."""
    w = _session(tmp_path, minutes_ago=30, sid="s1", close=False)
    raw = _raw_bytes(tmp_path / "sessions" / "s1")
    assert NEW_TITLE.encode() in raw and NEW_TILE[:26] in raw
    w.close()


def test_forget_last_deletes_recent_events_frames_and_their_tiles_irrecoverably(tmp_path):
    _session(tmp_path, minutes_ago=30, sid="s1")
    out = _cli("forget", "--last", "10m", "--data-dir", str(tmp_path), "--yes", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    [rep] = result["sessions"]
    assert rep["session"] == "s1" and not rep["live"] and rep["checkpointed"]
    assert (rep["events"], rep["frames"], rep["manifests"], rep["tiles"]) == (2, 1, 1, 1)
    _assert_forgotten(tmp_path / "sessions" / "s1")

    with DataDir(tmp_path).open("s1") as s:
        events = list(s.events())
        titles = [e.title for e in events if e.kind == "focus"]
        assert titles == [OLD_TITLE]
        assert [e.key for e in events if e.kind == "key_down"] == ["a"]
        [gap] = [e for e in events if e.kind == "gap"]
        assert gap.reason == GAP_REASON and gap.t_ns > 60 * SEC
        [frame] = s.frames()
        assert frame.t_ns == 62 * SEC
        tiles = dict(s._conn.execute("SELECT digest, data FROM tiles").fetchall())
        assert tiles == {_digest(OLD_TILE): OLD_TILE, _digest(SHARED_TILE): SHARED_TILE}
        [forgotten] = s.meta["forgotten"]
        assert forgotten["since_t_ns"] == gap.t_ns
    raw = _raw_bytes(tmp_path / "sessions" / "s1")
    assert OLD_TITLE.encode() in raw and OLD_TILE[:25] in raw


def test_forget_last_spans_sessions_and_leaves_older_sessions_untouched(tmp_path):
    _session(tmp_path, minutes_ago=30, sid="a-recent")
    _session(tmp_path, minutes_ago=300, sid="b-old", recent_minutes_ago=200)  # all > 3 h ago
    before = (tmp_path / "sessions" / "b-old" / "session.db").read_bytes()
    reports = forget_last(tmp_path, parse_duration("3h"))
    assert [r.session for r in reports] == ["a-recent"]
    assert reports[0].events == 4 and reports[0].frames == 2 and reports[0].tiles == 3
    assert (tmp_path / "sessions" / "b-old" / "session.db").read_bytes() == before
    with DataDir(tmp_path).open("a-recent") as s:
        assert [e.kind for e in s.events()] == ["gap"] and s.frames() == []


def test_forget_last_on_a_live_session_catches_late_writes(tmp_path):
    w = _session(tmp_path, minutes_ago=30, sid="live", close=False)
    # The recorder still holds the lock; forget runs in another process.
    proc = subprocess.Popen([*WORKPRINT, "forget", "--last", "10m", "--data-dir", str(tmp_path),
                             "--yes", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(0.6)
    # An event captured before the command but flushed late (clock: start_mono_ns = 0 maps
    # "now" to 30 min), plus one captured after the command that must stay.
    late_t = int(29.99 * 60 * SEC)
    w.add_events([FocusEvent(late_t, window=3, title=NEW_TITLE + "-late", app_id="XTerm")])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    [rep] = json.loads(out)["sessions"]
    assert rep["live"] and rep["events"] == 3
    after_t = int(31 * 60 * SEC)
    w.add_events([FocusEvent(after_t, window=4, title="after-forget", app_id="XTerm")])
    _assert_forgotten(tmp_path / "sessions" / "live")
    w.close()
    _assert_forgotten(tmp_path / "sessions" / "live")
    with DataDir(tmp_path).open("live") as s:
        titles = [e.title for e in s.events(kinds=["focus"])]
        assert titles == [OLD_TITLE, "after-forget"]


def test_live_session_frames_after_forget_stay_readable(tmp_path):
    w = _session(tmp_path, minutes_ago=30, sid="live", close=False)
    forget_last(tmp_path, 600, settle_s=0)
    ref = _frame(w, int(31 * 60 * SEC), [NEW_TILE, SHARED_TILE])  # same screen again
    w.close()
    with DataDir(tmp_path).open("live") as s:
        tiles = {d for (d,) in s._conn.execute("SELECT digest FROM tiles")}
        manifests = {f for (f,) in s._conn.execute("SELECT frame_id FROM manifests")}
    assert _digest(NEW_TILE) in tiles and ref.frame_id in manifests


def test_forget_session_removes_the_folder_and_keeps_the_others(tmp_path):
    _session(tmp_path, minutes_ago=30, sid="20260101-090000-aaaaaa")
    _session(tmp_path, minutes_ago=30, sid="20260101-100000-bbbbbb")
    out = _cli("forget", "--session", "20260101-09", "--data-dir", str(tmp_path), "--yes")
    assert out.returncode == 0, out.stderr
    assert "removed session 20260101-090000-aaaaaa" in out.stdout
    assert "deleted 4 events, 2 frames" in out.stdout
    assert not (tmp_path / "sessions" / "20260101-090000-aaaaaa").exists()
    assert DataDir(tmp_path).session_ids() == ["20260101-100000-bbbbbb"]


def test_forget_session_refuses_while_recording(tmp_path):
    w = _session(tmp_path, minutes_ago=30, sid="rec", close=False)
    try:
        with pytest.raises(Exception, match="being recorded right now"):
            forget_session(tmp_path, "rec")
        assert (tmp_path / "sessions" / "rec" / "session.db").exists()
    finally:
        w.close()
    assert forget_session(tmp_path, "rec").removed


def test_forget_unknown_session_exits_2(tmp_path):
    out = _cli("forget", "--session", "nope", "--data-dir", str(tmp_path), "--yes")
    assert out.returncode == 2 and "not found" in out.stderr


def test_without_yes_and_without_a_terminal_nothing_is_deleted(tmp_path):
    _session(tmp_path, minutes_ago=30, sid="s1")
    out = _cli("forget", "--last", "10m", "--data-dir", str(tmp_path), input="yes\n")
    assert out.returncode == 2 and "--yes" in out.stderr
    with DataDir(tmp_path).open("s1") as s:
        assert len(list(s.events())) == 4


def test_bad_duration_is_a_usage_error(tmp_path):
    out = _cli("forget", "--last", "10 minutes", "--data-dir", str(tmp_path), "--yes")
    assert out.returncode == 2 and "30s, 10m" in out.stderr


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("10m", 600), ("2h", 7200),
                                          ("1d", 86400), ("1h30m", 5400), ("1.5m", 90)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "0m", "10x", "-5m", "10m junk"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("answer,deleted", [("yes", True), ("no", False)])
def test_on_a_terminal_forget_asks_first(tmp_path, answer, deleted):
    import os
    import pty

    _session(tmp_path, minutes_ago=30, sid="s1")
    main, child = pty.openpty()
    try:
        proc = subprocess.Popen([*WORKPRINT, "forget", "--last", "10m", "--data-dir",
                                 str(tmp_path)], stdin=child, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        os.write(main, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(main)
        os.close(child)
    assert "Type yes to delete" in err
    assert proc.returncode == (0 if deleted else 1), err
    with DataDir(tmp_path).open("s1") as s:
        titles = [e.title for e in s.events(kinds=["focus"])]
    assert titles == ([OLD_TITLE] if deleted else [OLD_TITLE, NEW_TITLE])


# --- forget --from/--to: a span of wall-clock time ---------------------------------------

def _local(t: datetime, tz: str) -> str:
    """``t`` as the local wall-clock time of ``tz``, the way a person there writes it."""
    from zoneinfo import ZoneInfo

    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def test_forget_from_to_deletes_the_span_in_every_session_and_keeps_the_rest(tmp_path):
    """Two sessions hold something of the span (their "new" events 20 and 18 minutes ago),
    one started after it; the span is given in local wall-clock time of a zone that is not
    UTC (--from) and as ISO-8601 with an offset (--to). On a terminal a bar counts the
    sessions; piped, nothing but the command's output."""
    from terminal import run_on_a_terminal

    _session(tmp_path, minutes_ago=60, sid="s1", recent_minutes_ago=20)
    _session(tmp_path, minutes_ago=90, sid="s2", recent_minutes_ago=18)
    _session(tmp_path, minutes_ago=10, sid="s3", recent_minutes_ago=2)
    now = datetime.now(timezone.utc)
    tz = "America/Los_Angeles"
    since = _local(now - timedelta(minutes=25), tz)
    until = (now - timedelta(minutes=15)).astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    env = {**__import__("os").environ, "TZ": tz}
    rc, out, shown = run_on_a_terminal([*WORKPRINT, "forget", "--from", since, "--to", until,
                                        "--data-dir", str(tmp_path), "--yes", "--json"], env=env)
    assert rc == 0, shown
    doc = json.loads(out)
    assert sorted(r["session"] for r in doc["sessions"]) == ["s1", "s2"]
    assert doc["totals"]["events"] == 4 and doc["totals"]["frames"] == 2
    assert datetime.fromisoformat(doc["span"]["from"]) == (now - timedelta(minutes=25)).replace(microsecond=0)
    assert "forgetting" in shown and "3/3" in shown  # every session looked at, counted
    for sid in ("s1", "s2"):
        _assert_forgotten(tmp_path / "sessions" / sid)
        with DataDir(tmp_path).open(sid) as s:
            assert [e.title for e in s.events(kinds=["focus"])] == [OLD_TITLE]
            [gap] = [e for e in s.events(kinds=["gap"])]
            assert gap.reason == GAP_REASON
            assert abs(gap.duration_ns - 10 * 60 * SEC) < SEC
    with DataDir(tmp_path).open("s3") as s:
        assert [e.title for e in s.events(kinds=["focus"])] == [OLD_TITLE, NEW_TITLE]

    # piped (no terminal): the same command shows no bar; nothing left in the span (the
    # marks of the forgotten span stay)
    res = _cli("forget", "--from", since, "--to", until, "--data-dir", str(tmp_path), "--yes", env=env)
    assert res.returncode == 0 and "nothing recorded in the span from" in res.stdout
    assert res.stderr == ""


def test_forget_from_to_on_a_live_session_deletes_only_the_span(tmp_path):
    from workprint.store.forget import forget_between

    w = _session(tmp_path, minutes_ago=30, sid="live", close=False, recent_minutes_ago=10)
    try:
        now = datetime.now(timezone.utc)
        seen = []
        [r] = forget_between(tmp_path, now - timedelta(minutes=12), now - timedelta(minutes=5),
                             settle_s=0.05, progress=lambda d, t: seen.append((d, t)))
        assert r.live and r.events == 2 and r.frames == 1 and seen == [(1, 1)]
        w.add_events([KeyEvent(29 * 60 * SEC, True, 40, 100, "d", "d")])  # recording goes on
    finally:
        w.close()
    with DataDir(tmp_path).open("live") as s:
        keys = [e.char for e in s.events(kinds=["key_down"])]
    assert keys == ["a", "d"]
    _assert_forgotten(tmp_path / "sessions" / "live")


def test_forget_from_to_asks_first_on_a_terminal(tmp_path):
    from terminal import run_on_a_terminal

    _session(tmp_path, minutes_ago=30, sid="s1")
    since = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    rc, out, shown = run_on_a_terminal([*WORKPRINT, "forget", "--from", since, "--data-dir",
                                        str(tmp_path)], stdin_text="no\n")
    assert "Irrecoverably delete everything recorded in the span from" in shown and "Type yes" in shown
    assert rc == 1
    with DataDir(tmp_path).open("s1") as s:
        assert len(list(s.events(kinds=["focus"]))) == 2


@pytest.mark.parametrize("args,words", [
    (["--from", "yesterday"], "is not a time"),
    (["--from", "25:00"], "is not a time"),
    (["--from", "2999-01-01T00:00"], "in the future"),
    (["--from", "2026-01-02T10:00", "--to", "2026-01-02T09:00"], "not after --from"),
    (["--last", "10m", "--to", "2026-01-02T09:00"], "--to needs --from"),
    (["--from", "2026-01-02T10:00", "--last", "10m"], "not allowed with"),
])
def test_bad_spans_are_usage_errors_and_delete_nothing(tmp_path, args, words, capsys):
    from workprint.cli import main

    def run(*extra):
        try:
            return main(["forget", *args, "--data-dir", str(tmp_path), "--yes", *extra])
        except SystemExit as exc:  # argparse's own usage errors
            return exc.code

    _session(tmp_path, minutes_ago=30, sid="s1")
    assert run() == 2
    assert words in capsys.readouterr().err
    assert run("--json") == 2
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["code"] == 2 and words in err["message"]
    with DataDir(tmp_path).open("s1") as s:
        assert len(list(s.events())) == 4


def test_parse_time():
    from workprint.store.forget import parse_time

    now = datetime(2026, 12, 5, 6, 30, tzinfo=timezone.utc)
    local = now.astimezone()
    assert parse_time("14:30", now) == local.replace(hour=14, minute=30, second=0, microsecond=0)
    assert parse_time(" 9:05:07 ", now) == local.replace(hour=9, minute=5, second=7, microsecond=0)
    assert parse_time("2026-12-04 23:59", now) == datetime(2026, 12, 4, 23, 59).astimezone()
    assert parse_time("2026-12-05T14:30:00+01:00", now) == datetime(2026, 12, 5, 13, 30, tzinfo=timezone.utc)
    assert parse_time("2026-12-05T14:30Z", now) == datetime(2026, 12, 5, 14, 30, tzinfo=timezone.utc)
    assert parse_time("14:30", now).tzinfo is not None
    for bad in ("", "x", "14", "14:3", "24:00", "1430h", "2026-13-01", "10m"):
        with pytest.raises(ValueError, match="is not a time"):
            parse_time(bad, now)
