"""Fidelity target of the recorder + reducer on scripted sessions with known ground truth:
action recall >= 0.98, precision >= 0.98, typed text exact, coordinates within 5 px.

A seeded ~40-action session (every action kind at least once) is driven with xdotool at
human pace over an xterm and the Tk workbench on a virtual screen, recorded, reduced and
aligned to the script (see tests/fidelity.py). The longer run is bench/bench_fidelity.py.
"""

from __future__ import annotations

from fidelity import ALL_KINDS, run_scripted, score


def test_scripted_session_recall_precision_text_and_coordinates(desk, record):
    result = run_scripted(desk.vd, record, seed=7, n=40,
                          workbench=lambda: desk.workbench()[1])
    sc = result["score"]
    assert result["recorder"].stats.error is None
    report = sc.table() + "\n" + sc.explain()
    print(report)
    assert {t.kind for t in result["truth"]} == set(ALL_KINDS), "the script covers every kind"
    assert sc.truth >= 40
    assert sc.recall >= 0.98, report
    assert sc.precision >= 0.98, report
    assert sc.writes_exact == sc.writes, report          # typed text exact
    assert sc.max_coord_err <= 5, report
    # the script can tell a wrong reducer apart: merging scroll ticks across a pointer move
    # (the old rule) loses the forced "scroll here, then the same way over there" pair
    from workprint.actions.reduce import ReduceConfig, reduce_events

    merged = reduce_events(result["events"], ReduceConfig(scroll_move_px=float("inf")))
    assert score(result["truth"], merged).recall < sc.recall


# --- reducer rules the scripted sessions exposed (no X server needed) ---------------------
def _scroll_stream(ticks):
    from workprint.events import MoveEvent, ScrollEvent

    evs, t = [], 1_000_000_000
    for x, y, dx, dy in ticks:
        t += 70_000_000
        evs.append(MoveEvent(t - 1, x, y))
        evs.append(ScrollEvent(t, x, y, dx, dy))
    return evs


def test_scroll_run_splits_when_the_pointer_moved_elsewhere():
    """Scrolling down in one pane, moving the pointer, scrolling down in another: two scrolls
    at their own places (merging them replays all ticks in the first pane)."""
    from workprint.actions.reduce import reduce_events

    acts = reduce_events(_scroll_stream([(400, 230, 0, 1), (400, 230, 0, 1), (171, 258, 0, 1),
                                         (171, 258, 0, 1), (171, 258, 0, 1)]))
    assert [(a.kind, a.x, a.y, a.dy) for a in acts] == [("scroll", 400, 230, 2), ("scroll", 171, 258, 3)]


def test_scroll_run_tolerates_a_little_pointer_drift():
    from workprint.actions.reduce import ReduceConfig, reduce_events

    drift = [(500 + i * 2, 300 + i, 1, 0) for i in range(6)]     # ~2 px per tick, 12 px overall
    acts = reduce_events(_scroll_stream(drift))
    assert [(a.kind, a.x, a.y, a.dx) for a in acts] == [("hscroll", 500, 300, 6)]
    # the threshold is a policy setting
    acts = reduce_events(_scroll_stream(drift), ReduceConfig(scroll_move_px=1.0))
    assert len(acts) == 6 and sum(a.dx for a in acts) == 6
