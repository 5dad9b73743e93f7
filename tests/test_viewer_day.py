"""The contributor's own view (`workprint view`): the day's timeline with its gaps and
reasons, each session's review/upload state (refusals with their reason), search over the
stored text, forgetting a span from the page (then its bytes are gone from the session), and
the legend - through the API (TestClient) and in a real headless Chromium (Debian's
/usr/bin/chromium via Playwright)."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from workprint.actions import timeline as tl
from workprint.errors import SyncError
from workprint.events import FocusEvent, GapEvent, KeyEvent, MarkerEvent
from workprint.policy.legend import PLACEHOLDERS
from workprint.policy.model import MANDATORY_ENTITIES, OPTIONAL_ENTITIES
from workprint.policy.redact_text import PRIORITY
from workprint.store.session import DataDir
from workprint.sync.client import Credential
from workprint.sync.outbox import Outbox
from workprint.sync.review import Review
from workprint.viewer.server import create_app

from evgen import Stream
from storegen import add_image_frame, screen_image
from test_viewer import CHROMIUM, CHROMIUM_ARGS, Viewer

SEC = 1_000_000_000
MS = 1_000_000
TOKEN = "day-token-0123456789abcdefgh"
MONO0 = 7_000 * SEC                       # the sessions' clock at their start
DAY = "2026-03-02"
MORNING = "20260302-090000-aaaaaa"
AFTERNOON = "20260302-140000-bbbbbb"
FORGET_TITLE = "budget-FORGETME-9931.ods - Sheets"
KEEP_TITLE = "notes-KEEP-2207.txt - Editor"


def _local(hour: int) -> datetime:
    return datetime(2026, 3, 2, hour, 0, 0).astimezone(timezone.utc)   # naive = local time


def _ms(start: datetime, t_ns: int) -> int:
    return round(start.timestamp() * 1000 + (t_ns - MONO0) / 1e6)


def _masked(s: Stream, entity: str, n: int) -> None:
    for _ in range(n):
        s.add(KeyEvent(s.at(80), True, redacted=entity))
        s.add(KeyEvent(s.at(40), False, redacted=entity))


def _write(root: Path, sid: str, start: datetime, s: Stream, frames: list, end_ns: int) -> None:
    w = DataDir(root).create({"start_wall": start.isoformat(timespec="milliseconds"),
                              "start_mono_ns": MONO0,
                              "screen": {"width": 1920, "height": 1080, "scale": 1.0, "monitors": []}},
                             session_id=sid)
    w.add_events(s.events)
    for t, img in frames:
        add_image_frame(w, t, img)
    w.close(end_mono_ns=end_ns)


def build_day(root: Path) -> Path:
    """Two sessions on one local day. The morning: a task in the Editor (an email address
    masked at the source), a pause, an out-of-scope app, a spreadsheet (the span the tests
    forget), back in the Editor, idle, a last click. The afternoon: a terminal, and a span
    forgotten earlier."""
    s = Stream(t0_ms=MONO0 // MS)
    frames = []
    s.at(1000)
    s.add(FocusEvent(s.t, 11, KEEP_TITLE, "Editor", pid=100))
    s.add(MarkerEvent(s.at(100), "task_start", text="Write the weekly report"))
    frames.append((s.at(300), screen_image("notes")))
    s.click(500, 500)
    s.type("hello team ")
    _masked(s, "EMAIL_ADDRESS", 5)
    s.type(" thanks")
    s.add(GapEvent(MONO0 + 20 * SEC, 60 * SEC, "paused"))
    s.t = MONO0 + 80 * SEC
    s.add(FocusEvent(s.t, 11, KEEP_TITLE, "Editor", pid=100))
    s.type("more")
    s.add(GapEvent(MONO0 + 100 * SEC, 30 * SEC, "out_of_scope"))
    s.t = MONO0 + 130 * SEC
    s.add(FocusEvent(s.t, 12, FORGET_TITLE, "Sheets", pid=101))
    frames.append((s.at(500), screen_image("FORGOTTEN-SHEET", seed=3)))
    s.click(900, 300)
    s.type("sheetwork")
    s.t = MONO0 + 160 * SEC
    s.add(FocusEvent(s.t, 11, KEEP_TITLE, "Editor", pid=100))
    s.type("bye")
    s.add(MarkerEvent(MONO0 + 170 * SEC, "task_end", ok=True))
    s.add(GapEvent(MONO0 + 200 * SEC, 120 * SEC, "idle"))
    s.t = MONO0 + 320 * SEC
    s.click(700, 700)
    frames.append((s.at(300), screen_image("end")))
    _write(root, MORNING, _local(9), s, frames, MONO0 + 400 * SEC)

    s = Stream(t0_ms=MONO0 // MS)
    s.at(2000)
    s.add(FocusEvent(s.t, 21, "bash - XTerm", "XTerm", pid=200))
    s.type("afternoon work")
    s.key("Return", "\r")
    s.add(GapEvent(MONO0 + 30 * SEC, 30 * SEC, "forgotten"))
    s.t = MONO0 + 60 * SEC
    s.type("ls")
    _write(root, AFTERNOON, _local(14), s, [(MONO0 + 3 * SEC, screen_image("term"))], MONO0 + 90 * SEC)
    return root


class RefusingClient:
    """Stands in for the collector in API tests: every upload is refused (a 422 with the
    collector's reason). The CLI test in tests/fleet uses a real collector."""

    def missing(self, shas):
        return list(shas)

    def put_chunk(self, sha, data):
        raise SyncError("collector answered 422: chunk refused: recorded under policy 'p0', which "
                        "this collector does not accept", 422)


def refuse(root: Path, sid: str) -> None:
    rv = Review(root)
    rv.decide(sid, "approved")
    box = Outbox(root)
    try:
        box.fill(Credential("http://collector", "dev", "c", "t", "11" * 32), rv)
        rep = box.sync(RefusingClient(), force=True)
        assert rep.rejected
    finally:
        box.close()
        rv.close()


@pytest.fixture(scope="module")
def day_dir(tmp_path_factory):
    return build_day(tmp_path_factory.mktemp("day"))


@pytest.fixture()
def copy(day_dir, tmp_path):
    return Path(shutil.copytree(day_dir, tmp_path / "data"))


def client_for(root: Path) -> TestClient:
    return TestClient(create_app(root, TOKEN), base_url="http://127.0.0.1")


def get(c, path, **params):
    return c.get(path, params={"token": TOKEN, **params})


def _raw(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


# --- the pure timeline ---------------------------------------------------------------------
def test_spans_cut_the_session_at_gaps_and_focus_changes():
    ev = [FocusEvent(10, 1, "a", "A"), GapEvent(20, 10, "paused"), FocusEvent(30, 1, "a", "A"),
          FocusEvent(40, 2, "b", "B"), GapEvent(45, 20, "out_of_scope"), GapEvent(50, 5, "forgotten"),
          GapEvent(70, 5, "screensaver")]
    got = [(s.kind, s.start_ns, s.end_ns, s.app) for s in tl.spans(ev, 0, 100)]
    assert got == [("recorded", 0, 10, ""), ("recorded", 10, 20, "A"), ("paused", 20, 30, ""),
                   ("recorded", 30, 40, "A"), ("recorded", 40, 45, "B"), ("out_of_scope", 45, 50, ""),
                   ("forgotten", 50, 55, ""), ("out_of_scope", 55, 65, ""), ("recorded", 65, 70, "B"),
                   ("not_recorded", 70, 75, ""), ("recorded", 75, 100, "B")]
    totals = tl.totals(tl.spans([GapEvent(2 * SEC, 3 * SEC, "paused")], 0, 10 * SEC))
    assert (totals["paused"], totals["recorded"], totals["idle"]) == (3.0, 7.0, 0.0)
    # events past the given end widen it
    assert tl.spans([GapEvent(90, 30, "idle")], 0, 100)[-1].end_ns == 120


def test_legend_explains_every_placeholder_the_safeguards_write():
    produced = set(MANDATORY_ENTITIES) | set(OPTIONAL_ENTITIES) | (set(PRIORITY) - {"CUSTOM"})
    assert produced <= set(PLACEHOLDERS), produced - set(PLACEHOLDERS)
    assert all(len(v) > 10 for v in PLACEHOLDERS.values())


# --- API -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path", [
    ("get", "/api/days"), ("get", f"/api/days/{DAY}"), ("get", f"/api/sessions/{MORNING}/timeline"),
    ("get", "/api/search?q=Editor"), ("get", "/api/legend"), ("post", f"/api/sessions/{MORNING}/forget")])
def test_new_routes_need_the_token(day_dir, method, path):
    c = client_for(day_dir)
    kw = {"json": {"since_ms": 0, "until_ms": 1, "confirm": True}} if method == "post" else {}
    assert getattr(c, method)(path, **kw).status_code == 403
    assert getattr(c, method)(path, params={"token": "nope"}, **kw).status_code == 403


def test_session_timeline(day_dir):
    t = get(client_for(day_dir), f"/api/sessions/{MORNING}/timeline").json()
    start = _local(9)
    rows = [(s["kind"], s["reason"], s["app"], s["start_ms"] - _ms(start, MONO0), s["duration_s"])
            for s in t["spans"]]
    assert rows == [
        ("recorded", "", "", 0, 1.0),
        ("recorded", "", "Editor", 1000, 19.0),
        ("paused", "paused", "", 20000, 60.0),
        ("recorded", "", "Editor", 80000, 20.0),
        ("out_of_scope", "out_of_scope", "", 100000, 30.0),
        ("recorded", "", "Sheets", 130000, 30.0),
        ("recorded", "", "Editor", 160000, 40.0),
        ("idle", "idle", "", 200000, 120.0),
        ("recorded", "", "Editor", 320000, 80.0)]
    paused = t["spans"][2]
    assert "paused" in paused["words"] and paused["end_ms"] - paused["start_ms"] == 60000
    assert t["spans"][5]["title"] == FORGET_TITLE
    assert t["totals"]["paused"] == 60 and t["totals"]["idle"] == 120 and t["totals"]["out_of_scope"] == 30
    assert [(m["name"], m["text"]) for m in t["markers"]] == [("task_start", "Write the weekly report"),
                                                             ("task_end", "")]
    assert get(client_for(day_dir), "/api/sessions/nope/timeline").status_code == 404


def test_days_and_one_day(day_dir):
    c = client_for(day_dir)
    [d] = get(c, "/api/days").json()
    assert d["day"] == DAY and d["sessions"] == [MORNING, AFTERNOON]
    assert d["totals"]["forgotten"] == 30 and d["totals"]["paused"] == 60
    day = get(c, f"/api/days/{DAY}").json()
    assert day["start_ms"] == round(datetime(2026, 3, 2).timestamp() * 1000)
    assert [s["session"] for s in day["spans"]].count(AFTERNOON) == 4
    forgotten = [s for s in day["spans"] if s["kind"] == "forgotten"]
    assert len(forgotten) == 1 and forgotten[0]["duration_s"] == 30 and "deleted" in forgotten[0]["words"]
    assert [s["start_ms"] for s in day["spans"]] == sorted(s["start_ms"] for s in day["spans"])
    assert get(c, "/api/days/2026-03-03").json()["spans"] == []
    assert get(c, "/api/days/not-a-day").status_code == 404


def test_search_typed_text_titles_apps_and_placeholders(day_dir):
    c = client_for(day_dir)
    hits = get(c, "/api/search", q="THANKS").json()["results"]
    [h] = hits
    assert h["session"] == MORNING and h["kind"] == "typed" and h["episode"] == 0
    assert "hello team <EMAIL_ADDRESS> thanks" in h["text"]
    ep = get(c, f"/api/sessions/{MORNING}/episodes/0").json()
    assert ep["steps"][h["step"]]["kind"] == "write"
    placeholder = get(c, "/api/search", q="<email_address>").json()["results"]
    assert [r["kind"] for r in placeholder] == ["typed"]
    titles = get(c, "/api/search", q="FORGETME").json()["results"]
    assert {(r["kind"], r["text"]) for r in titles} == {("title", FORGET_TITLE)}
    apps = get(c, "/api/search", q="xterm").json()["results"]
    assert {(r["kind"], r["session"]) for r in apps} >= {("app", AFTERNOON), ("title", AFTERNOON)}
    task = get(c, "/api/search", q="weekly").json()["results"]
    assert [(r["kind"], r["episode"], r["step"]) for r in task] == [("task", 0, 0)]
    assert get(c, "/api/search", q="nothing-like-this").json()["results"] == []
    assert get(c, "/api/search", q="  ").json()["results"] == []


def test_legend_route(day_dir):
    L = get(client_for(day_dir), "/api/legend").json()
    assert {p["placeholder"] for p in L["placeholders"]} >= {"<PASSWORD>", "<EMAIL_ADDRESS>", "<SECRET>"}
    assert any("black" in a["name"] for a in L["areas"])
    assert {t["kind"] for t in L["timeline"]} >= {"recorded", "paused", "idle", "out_of_scope", "forgotten"}


def test_upload_states_and_a_refusal_that_stays(copy):
    c = client_for(copy)
    states = {s["id"]: s["upload"] for s in get(c, "/api/sessions").json()}
    assert states[MORNING]["state"] == states[AFTERNOON]["state"] == "pending_review"
    refuse(copy, MORNING)
    for _ in range(2):   # it stays, however often the page asks
        s = {s["id"]: s for s in get(c, "/api/sessions").json()}
        up = s[MORNING]["upload"]
        assert s[MORNING]["review"] == "approved"
        assert up["state"] == "refused" and "does not accept" in up["reason"]
        assert f"workprint withhold {MORNING}" in up["todo"] and up["refused_at"]
    # approving it again queues it again; withholding it ends the refusal and the chunks
    r = c.post(f"/api/sessions/{MORNING}/review", params={"token": TOKEN}, json={"decision": "approved"})
    assert r.json()["upload"]["state"] == "queued" and "queued again" in r.json()["note"]
    refuse(copy, MORNING)
    r = c.post(f"/api/sessions/{MORNING}/review", params={"token": TOKEN}, json={"decision": "withheld"})
    assert r.json()["upload"]["state"] == "withheld"
    assert list((copy / "outbox" / "chunks").iterdir()) == []
    assert get(c, "/api/sessions").json()[0]["upload"]["state"] == "withheld"


def test_forget_a_span_through_the_api(copy):
    c = client_for(copy)
    folder = copy / "sessions" / MORNING
    assert FORGET_TITLE.encode() in _raw(folder)
    p = f"/api/sessions/{MORNING}/forget"
    assert c.post(p, params={"token": TOKEN}, json={"since_ms": 0, "until_ms": 1}).status_code == 400
    assert c.post(p, params={"token": TOKEN}, json={"confirm": True}).status_code == 400
    assert c.post(p, params={"token": TOKEN}, json={"since_ms": 5, "until_ms": 1, "confirm": True}).status_code == 400
    span = [s for s in get(c, f"/api/sessions/{MORNING}/timeline").json()["spans"] if s["app"] == "Sheets"][0]
    r = c.post(p, params={"token": TOKEN}, json={"since_t_ns": span["start_t_ns"],
                                                  "until_t_ns": str(int(span["end_t_ns"]) - 1), "confirm": True})
    assert r.status_code == 200, r.text
    rep = r.json()["report"]
    assert rep["frames"] == 1 and rep["events"] > 10 and rep["checkpointed"] and r.json()["recorder"] is None
    assert FORGET_TITLE.encode() not in _raw(folder)
    assert KEEP_TITLE.encode() in _raw(folder)
    spans = get(c, f"/api/sessions/{MORNING}/timeline").json()["spans"]
    assert [(s["kind"], s["duration_s"]) for s in spans][5:7] == [("forgotten", 30.0), ("recorded", 40.0)]
    assert spans[6]["app"] == "Editor"   # the focus event that ended the span is kept
    assert get(c, "/api/search", q="FORGETME").json()["results"] == []


# --- the page in a real browser ----------------------------------------------------------
def _unique_tiles(root: Path, sid: str, t_ns: int) -> list[bytes]:
    """The stored tiles only the frame grabbed at ``t_ns`` uses (what forgetting it must erase)."""
    with DataDir(root).open(sid) as s:
        conn = s._conn
        [fid] = [f.frame_id for f in s.frames() if f.t_ns == t_ns]
        split = lambda b: {b[i:i + 16] for i in range(0, len(b), 16)}   # noqa: E731
        mine = split(conn.execute("SELECT digests FROM manifests WHERE frame_id = ?", (fid,)).fetchone()[0])
        others = set()
        for (b,) in conn.execute("SELECT digests FROM manifests WHERE frame_id != ?", (fid,)):
            others |= split(b)
        return [conn.execute("SELECT data FROM tiles WHERE digest = ?", (d,)).fetchone()[0]
                for d in mine - others]


def test_the_day_search_legend_refusal_and_forget_in_headless_chromium(copy):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    refuse(copy, AFTERNOON)
    folder = copy / "sessions" / MORNING
    # the end of each tile's PNG (its IDAT checksums): unique to it; a tile longer than a
    # database page is not stored in one piece, so only pieces found whole before count
    tiles = [t[-40:-12] for t in _unique_tiles(copy, MORNING, MONO0 + 130 * SEC + 500 * MS)]
    tiles = [t for t in tiles if t in _raw(folder)]
    assert len(tiles) >= 4                                   # the check below can fail
    assert FORGET_TITLE.encode() in _raw(folder)
    before = hashlib.sha256(_raw(folder)).hexdigest()
    n_spans = len(get(client_for(copy), f"/api/days/{DAY}").json()["spans"])

    problems: list[str] = []
    viewer = Viewer(copy)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
                page.goto(viewer.url)
                page.wait_for_selector("body[data-ready='1']", timeout=20_000)

                # -- the day: every span, with its kind, length and reason
                assert page.get_attribute("#day-name", "data-day") == DAY
                assert page.locator("#daybar .span").count() == n_spans
                kinds = page.eval_on_selector_all("#daybar .span", "es => es.map(e => e.dataset.kind)")
                assert {"recorded", "paused", "idle", "out_of_scope", "forgotten"} <= set(kinds)
                assert "paused 1 min" in page.inner_text("#day-totals")
                assert "forgotten 30 s" in page.inner_text("#day-totals")
                paused = page.locator("#daybar .span[data-kind='paused']")
                assert "1 min" in paused.get_attribute("title")
                paused.click()
                info = page.inner_text("#span-info")
                assert info.startswith("paused") and "(1 min)" in info and "you paused recording" in info
                assert page.is_hidden("#forget-button")      # nothing was recorded there
                page.locator("#daybar .span[data-kind='idle']").click()
                assert "(2 min)" in page.inner_text("#span-info")
                assert "no input" in page.inner_text("#span-info")
                page.locator("#daybar .span[data-kind='out_of_scope']").click()
                assert "(30 s)" in page.inner_text("#span-info") and "policy" in page.inner_text("#span-info")
                # the spans are drawn in time order, wide as they are long
                paused_w = page.eval_on_selector("#daybar .span[data-kind='paused']", "e => e.getBoundingClientRect().width")
                idle_w = page.eval_on_selector("#daybar .span[data-kind='idle']", "e => e.getBoundingClientRect().width")
                assert abs(idle_w / paused_w - 2) < 0.1
                page.click(f"#sessions li[data-session='{MORNING}']")
                page.click("#day-zoom")                     # the bar fits the morning session
                zoomed = page.eval_on_selector("#daybar .span[data-kind='paused']", "e => e.getBoundingClientRect().width")
                assert zoomed > 10 * paused_w
                page.click("#day-zoom")

                # -- upload states: the afternoon was refused, with the reason and what to do
                assert page.is_visible("#refusals")
                assert "does not accept" in page.inner_text("#refusals")
                aft = page.locator(f"#sessions li[data-session='{AFTERNOON}']")
                assert aft.locator(".badge.upload").inner_text() == "refused by the collector"
                assert f"workprint withhold {AFTERNOON}" in aft.locator(".refusal").inner_text()
                assert page.locator(f"#sessions li[data-session='{MORNING}'] .badge.upload").inner_text() == "pending review"

                # -- legend: every placeholder, the black areas, the day's colours
                assert page.is_hidden("#legend")
                page.click("#legend-button")
                assert page.is_visible("#legend")
                terms = page.eval_on_selector_all("#legend-placeholders dt", "es => es.map(e => e.textContent)")
                assert set(terms) == {f"<{n}>" for n in PLACEHOLDERS}
                areas = page.inner_text("#legend-areas")
                assert "black" in areas and "policy" in areas and "no screenshot" in areas
                assert page.locator("#legend-timeline .swatch").count() >= 5
                page.click("#legend-button")
                assert page.is_hidden("#legend")

                # -- search: typed text (with its placeholder explained), then to the step
                page.fill("#search", "thanks")
                page.press("#search", "Enter")
                page.wait_for_selector("#results:not([hidden]) .hit")
                assert page.locator("#results .hit").count() == 1
                assert page.inner_text("#results .hit mark") == "thanks"
                page.click("#results .hit")
                page.wait_for_function("() => (document.querySelector('#typed') || {}).textContent"
                                       "?.includes('thanks')")
                assert page.inner_text("#kind") == "write"
                assert f"session={MORNING}" in page.url
                assert "<EMAIL_ADDRESS>" in page.inner_text("#typed")
                assert "email address" in page.get_attribute("#typed .ph", "title")
                assert page.inner_text("#instruction") == "Write the weekly report"
                pos = page.inner_text("#pos")
                page.keyboard.press("ArrowRight")                 # episodes still step through
                assert page.inner_text("#pos") != pos and "step" in page.inner_text("#pos")
                page.fill("#search", "FORGETME")
                page.press("#search", "Enter")
                page.wait_for_function("() => document.querySelector('#results-count').textContent.startsWith('1 match')")
                page.click("#results-close")

                # -- forget the spreadsheet span from the page: cancel first, then confirm
                sheet = page.locator(f"#daybar .span[title*='{FORGET_TITLE}']")
                sheet.click()
                assert "(30 s) in Sheets" in page.inner_text("#span-info")
                page.click("#forget-button")
                assert page.is_visible("#confirm")
                assert "30 s" in page.inner_text("#confirm-text") and MORNING in page.inner_text("#confirm-text")
                page.click("#confirm-cancel")
                assert page.is_hidden("#confirm")
                assert hashlib.sha256(_raw(folder)).hexdigest() == before   # nothing deleted
                page.click("#forget-button")
                page.click("#confirm-forget")
                page.wait_for_selector("body[data-forgot='1']", timeout=20_000)
                assert page.inner_text("#status").startswith("forgotten:")
                page.wait_for_function(
                    "() => [...document.querySelectorAll('#daybar .span')].filter(e => e.dataset.kind === 'forgotten').length === 2")
                assert page.locator(f"#daybar .span[title*='{FORGET_TITLE}']").count() == 0
            finally:
                browser.close()
    finally:
        viewer.stop()
    assert problems == []

    # every byte of that span is gone from the session folder; the rest is still there
    raw = _raw(folder)
    assert FORGET_TITLE.encode() not in raw and FORGET_TITLE.encode("utf-16-le") not in raw
    assert not any(t in raw for t in tiles)
    assert KEEP_TITLE.encode() in raw
    with DataDir(copy).open(MORNING) as s:
        events = list(s.events())
        assert not [e for e in events if MONO0 + 130 * SEC <= e.t_ns < MONO0 + 160 * SEC and e.kind != "gap"]
        [gap] = [e for e in events if e.kind == "gap" and e.reason == "forgotten"]
        assert (gap.t_ns, gap.t_ns + gap.duration_ns) == (MONO0 + 130 * SEC, MONO0 + 160 * SEC - 1)
        assert [e.app_id for e in events if e.kind == "focus"] == ["Editor", "Editor", "Editor"]
        assert len(s.frames()) == 2
