"""Uploaded chunks carry no keystroke dynamics: key times are coarsened per typing run
before sealing, pointer times stay exact, and the server-side path (verify, store, read
back, reduce to actions) works on the coarsened events."""

from __future__ import annotations

import json
import random

import pytest

import workprint
from workprint.actions.reduce import reduce_events
from workprint.events import ButtonEvent, FrameRef, KeyEvent, MoveEvent, from_row, to_row
from workprint.store.session import DataDir
from workprint.sync import chunk as C

from .helpers import Fleet

pytestmark = pytest.mark.fleet
MS = 1_000_000
T0 = 5_000_000_000_123        # a monotonic clock value, not on the 100 ms grid


def _typing(text: str, t: int, rng: random.Random) -> tuple[list[KeyEvent], int]:
    """Key down/up pairs with varied inter-key intervals and hold times."""
    out = []
    for i, ch in enumerate(text):
        hold = rng.randint(40, 160) * MS
        out.append(KeyEvent(t_ns=t, down=True, keycode=30 + i % 20, key=ch, char=ch))
        out.append(KeyEvent(t_ns=t + hold, down=False, keycode=30 + i % 20, key=ch, char=ch))
        t += rng.randint(60, 420) * MS
    return out, t


def session_events(seed: int) -> list:
    """Type 'hello', pause 4 s, move and click, type 'world' then Enter."""
    rng = random.Random(seed)
    first, t = _typing("hello", T0, rng)
    t += 4000 * MS
    moves = [MoveEvent(t_ns=t + k * 7 * MS + seed, x=10 * k, y=20 + k) for k in range(10)]
    t += 200 * MS
    click = [ButtonEvent(t_ns=t, down=True, x=90, y=29, button="left"),
             ButtonEvent(t_ns=t + 80 * MS, down=False, x=90, y=29, button="left")]
    second, t = _typing("world", t + 500 * MS, rng)
    enter = [KeyEvent(t_ns=t, down=True, keycode=36, key="Return", char="\r"),
             KeyEvent(t_ns=t + 90 * MS, down=False, keycode=36, key="Return", char="\r")]
    return sorted(first + moves + click + second + enter, key=lambda e: e.t_ns)


def seal(tmp_path, events, name: str = "d") -> list[C.Chunk]:
    store = DataDir(tmp_path / name)
    w = store.create(meta={"user": "alice"})
    w.add_events(events)
    w.add_frame(FrameRef(t_ns=T0 - 50 * MS, frame_id="f" * 32, reason="start", width=64, height=64),
                64, [], {})
    sid = w.id
    w.close()
    with store.open(sid) as session:
        return C.seal_session(session, device_key=b"k" * 32)


def chunk_events(chunks: list[C.Chunk]) -> list[list]:
    rows = []
    for ch in chunks:
        parsed = C.parse_chunk(ch.data)                 # what the collector runs
        raw = C.read_entries(parsed)["events.jsonl.gz"]
        rows += [json.loads(line) for line in raw.splitlines()]
    return rows


def key_runs(rows: list[list]) -> list[list[int]]:
    runs, cur = [], []
    for t, kind, _ in rows:
        if kind in ("key_down", "key_up"):
            cur.append(t)
        elif kind != "move" and cur:
            runs.append(cur)
            cur = []
    return runs + ([cur] if cur else [])


def test_chunk_carries_no_per_key_timing(tmp_path):
    events = session_events(seed=1)
    chunks = seal(tmp_path, events)
    assert {c.manifest["version"] for c in chunks} == {C.VERSION} == {3}
    assert {c.manifest["key_timing"] for c in chunks} == {"runs"}
    rows = chunk_events(chunks)
    assert [r[1] for r in rows] == [e.kind for e in events]          # order kept
    runs = key_runs(rows)
    assert [len(r) for r in runs] == [10, 12]                         # hello | world + Enter
    for run in runs:
        assert run[0] % C.GRID_NS == 0                                # coarse start
        steps = {b - a for a, b in zip(run, run[1:])}
        assert max(steps) - min(steps) <= 1                           # evenly spread: no intervals
    # Raw intervals were all different; none survives.
    raw_keys = [e.t_ns for e in events if isinstance(e, KeyEvent)]
    chunk_keys = [t for t, k, _ in rows if k.startswith("key_")]
    assert len({b - a for a, b in zip(raw_keys, raw_keys[1:])}) > 10
    assert not set(chunk_keys) & set(raw_keys)
    # Pointer events keep their exact times.
    assert [r[0] for r in rows if r[1] in ("move", "mouse_down", "mouse_up")] == \
           [e.t_ns for e in events if isinstance(e, (MoveEvent, ButtonEvent))]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_same_runs_typed_with_other_rhythm_give_identical_key_times(tmp_path):
    """Key times depend only on a run's coarse start, coarse end and key count."""
    def with_rhythm(seed: int) -> list:
        rng = random.Random(seed)
        keys = []
        for i, ch in enumerate("password1"):
            t = T0 if i == 0 else T0 + sorted(rng.sample(range(1, 799), 8))[i - 1] * MS
            keys.append(KeyEvent(t_ns=t, down=True, keycode=40 + i, key=ch, char=ch))
        keys.append(KeyEvent(t_ns=T0 + 800 * MS, down=False, keycode=48, key="1", char="1"))
        return keys
    a = chunk_events(seal(tmp_path, with_rhythm(1), "a"))
    b = chunk_events(seal(tmp_path, with_rhythm(2), "b"))
    assert [r[0] for r in a] == [r[0] for r in b]


def test_server_side_build_reduces_coarsened_events_to_the_same_actions(fleet: Fleet, tmp_path):
    events = session_events(seed=7)
    chunks = seal(tmp_path, events)
    dev = fleet.enroll("alice")
    for ch in chunks:
        assert fleet.put(dev, ch.data).status_code == 201
    sessions = fleet.client.get("/v1/sessions", headers=fleet.h("curator")).json()
    listed = fleet.client.get(f"/v1/sessions/{sessions[0]['session']}/chunks", headers=fleet.h("curator")).json()
    rows = []
    for c in listed:
        data = fleet.client.get(f"/v1/chunks/{c['sha256']}", headers=fleet.h("curator")).content
        rows += [json.loads(x) for x in C.read_entries(C.parse_chunk(data))["events.jsonl.gz"].splitlines()]
    built = reduce_events(from_row(t, k, json.dumps(d)) for t, k, d in rows)
    raw = reduce_events(from_row(*to_row(e)) for e in events)

    def shape(actions):
        return [(a.kind, a.text, a.keys, a.x, a.y, a.button) for a in actions]
    assert shape(built) == shape(raw)
    assert [a.kind for a in built] == ["write", "wait", "click", "write", "press"]
    assert [a.text for a in built if a.kind == "write"] == ["hello", "world"]
    click = next(a for a in built if a.kind == "click")
    raw_click = next(a for a in raw if a.kind == "click")
    assert (click.t_start, click.path, click.t_approach) == (raw_click.t_start, raw_click.path, raw_click.t_approach)
    for a, b in zip(built, raw):                 # coarse, but close to the recorded times
        assert abs(a.t_start - b.t_start) < C.GRID_NS and abs(a.t_end - b.t_end) < C.GRID_NS


def test_frames_around_a_run_keep_their_order():
    keys = [[T0 + 30 * MS, "key_down", {"key": "a"}], [T0 + 70 * MS, "key_up", {"key": "a"}],
            [T0 + 130 * MS, "key_down", {"key": "b"}], [T0 + 500 * MS, "key_up", {"key": "b"}]]
    frame_before, frame_inside = T0 + 20 * MS, T0 + 100 * MS      # pre_key, then one between keys
    out = C.coarsen_key_times(keys, [frame_before, frame_inside])
    times = [r[0] for r in out]
    assert times[0] >= frame_before and times[1] <= frame_inside <= times[2]
    assert times == sorted(times)


def test_collector_still_accepts_version_1_and_checks_key_timing_field():
    ev = C.jsonl_entry("events.jsonl.gz", "events", [[1, "key_down", {"key": "a"}]])
    base = {"session": "d" * 32, "index": 0, "count": 1, "policy_hash": "none", "event_version": 1,
            "session_meta": {}}
    v2 = C.encode_chunk(base, [ev])
    C.parse_chunk(v2.data)
    m1 = {k: v for k, v in v2.manifest.items() if k not in ("key_timing", "code")} | {"version": 1}
    C.check_manifest(m1)                                   # sealed by a device before the upgrade
    with pytest.raises(C.ChunkError, match="key_timing"):
        C.check_manifest({k: v for k, v in v2.manifest.items() if k != "key_timing"})
    with pytest.raises(C.ChunkError, match="version"):
        C.check_manifest(v2.manifest | {"version": 4})


def test_version_3_names_the_code_and_version_2_chunks_stay_readable():
    ev = C.jsonl_entry("events.jsonl.gz", "events", [[1, "key_down", {"key": "a"}]])
    base = {"session": "d" * 32, "index": 0, "count": 1, "policy_hash": "none", "event_version": 1,
            "session_meta": {}}
    v3 = C.encode_chunk(base | {"code": {"recorder": "0.0.9"}}, [ev])
    assert C.parse_chunk(v3.data).manifest["code"] == {"recorder": "0.0.9", "sealer": workprint.__version__}
    m2 = {k: v for k, v in v3.manifest.items() if k != "code"} | {"version": 2}
    C.check_manifest(m2)                                   # sealed before chunks named their code
    with pytest.raises(C.ChunkError, match="code"):
        C.check_manifest(m2 | {"code": v3.manifest["code"]})
    for bad in ({"recorder": "0.1"}, {"recorder": "x y", "sealer": "1"}, {"recorder": None, "sealer": 1}):
        with pytest.raises(C.ChunkError, match="code"):
            C.check_manifest(v3.manifest | {"code": bad})


@pytest.mark.parametrize("at_key", [0, 3], ids=["first-key", "mid-run"])
def test_elements_of_typed_keys_carry_no_exact_key_time(tmp_path, at_key):
    # The element of typed text carries the t_ns of the key press it belongs to: left exact,
    # it would hand out that key's time, and ending the run there would time the run's parts
    # apart. It stays inside the run and takes the coarsened time of its key.
    from workprint.events import ElementEvent

    keys, _ = _typing("secret", T0, random.Random(3))
    key = [e for e in keys if e.down][at_key]
    element = ElementEvent(t_ns=key.t_ns, role="text", name="Search", via="focus")
    rows = chunk_events(seal(tmp_path, [element, *keys]))   # stored before or after its key
    raw_keys = {e.t_ns for e in keys}
    assert not {r[0] for r in rows} & raw_keys
    runs = key_runs([r for r in rows if r[1] != "element"])
    assert [len(r) for r in runs] == [12]                     # one run, evenly spread
    steps = {b - a for a, b in zip(runs[0], runs[0][1:])}
    assert max(steps) - min(steps) <= 1
    el = next(r for r in rows if r[1] == "element")
    i = rows.index(el)
    assert rows[i - 1][0] == el[0] if i else True              # the time of the key before it
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    built = reduce_events(from_row(t, k, json.dumps(d)) for t, k, d in rows)
    assert [(a.kind, a.text, a.element.name if a.element else None) for a in built] == \
           [("write", "secret", "Search")]                     # and still joins its action
