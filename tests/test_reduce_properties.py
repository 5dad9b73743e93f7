"""Property tests of reducer invariants over random realistic event streams."""

from hypothesis import given, settings, strategies as st

from workprint.actions.reduce import reduce_events
from workprint.events import ButtonEvent, KeyEvent, MoveEvent, ScrollEvent

MS = 1_000_000
MOUSE_KINDS = {"click", "doubleClick", "tripleClick", "rightClick", "middleClick", "drag"}
CLICKS = {"click": 1, "rightClick": 1, "middleClick": 1, "doubleClick": 2, "tripleClick": 3, "drag": 1}
MODS = [("Shift_L", 50, "shift"), ("Control_L", 37, "ctrl"), ("Alt_L", 64, "alt")]

op = st.one_of(
    st.tuples(st.just("char"), st.sampled_from("abcXYZ 19.-é")),
    st.tuples(st.just("bs"), st.none()),
    st.tuples(st.just("click"), st.tuples(st.integers(0, 30), st.integers(0, 30),
                                          st.sampled_from(["left", "right", "middle"]),
                                          st.integers(0, 12))),
    st.tuples(st.just("move"), st.tuples(st.integers(0, 1919), st.integers(0, 1079))),
    st.tuples(st.just("scroll"), st.sampled_from([(0, 1), (0, -1), (1, 0), (-1, 0)])),
    st.tuples(st.just("mod"), st.sampled_from(MODS)),
    st.tuples(st.just("press"), st.sampled_from(["Return", "Left", "F2", "Escape"])),
)


def build(ops, gaps):
    t = 0
    events = []
    typed_ops = []  # text-affecting key ops in order, for the reference model
    for (kind, arg), gap in zip(ops, gaps):
        t += gap * MS
        if kind == "char":
            code = ord(arg) % 200 + 9
            events += [KeyEvent(t, True, code, 0, arg if arg != " " else "space", arg),
                       KeyEvent(t + MS, False, code, 0, arg if arg != " " else "space", arg)]
            typed_ops.append(arg)
        elif kind == "bs":
            events += [KeyEvent(t, True, 22, 0, "BackSpace", "\b"), KeyEvent(t + MS, False, 22, 0, "BackSpace", "\b")]
            typed_ops.append("\b")
        elif kind == "click":
            x, y, b, d = arg
            events += [ButtonEvent(t, True, x, y, b), ButtonEvent(t + MS, False, x + d, y, b)]
        elif kind == "move":
            events.append(MoveEvent(t, *arg))
        elif kind == "scroll":
            events.append(ScrollEvent(t, 5, 5, *arg))
        elif kind == "mod":
            name, code, _ = arg
            events += [KeyEvent(t, True, code, 0, name), KeyEvent(t + MS, False, code, 0, name)]
        elif kind == "press":
            events += [KeyEvent(t, True, 70, 0, arg), KeyEvent(t + MS, False, 70, 0, arg)]
        t += 2 * MS
    return events, typed_ops


streams = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.lists(op, min_size=n, max_size=n), st.lists(st.integers(0, 900), min_size=n, max_size=n)))


@settings(max_examples=300, deadline=None)
@given(streams)
def test_reducer_invariants(data):
    ops, gaps = data
    events, typed = build(ops, gaps)
    actions = reduce_events(events)

    # time-ordered, raw timestamps within the stream
    starts = [a.t_start for a in actions]
    assert starts == sorted(starts)
    ts = {e.t_ns for e in events}
    for a in actions:
        if a.kind != "wait":
            assert a.t_start in ts and a.t_end in ts and a.t_start <= a.t_end

    # every mouse_down belongs to exactly one mouse action
    downs = sum(1 for e in events if isinstance(e, ButtonEvent) and e.down)
    assert downs == sum(CLICKS[a.kind] for a in actions if a.kind in MOUSE_KINDS)

    # no lone modifier action, no empty write
    for a in actions:
        if a.kind in ("press", "hotkey"):
            assert a.keys[-1] not in ("shift", "ctrl", "alt", "win")
        if a.kind == "write":
            assert a.text

    # the writes (with BackSpace presses applied) type exactly what the key stream types
    expected = ""
    for ch in typed:
        expected = expected[:-1] if ch == "\b" else expected + ch
    got = ""
    for a in actions:
        if a.kind == "write":
            got += a.text
        elif a.kind == "press" and a.keys == ("backspace",):
            got = got[:-1]
    assert got == expected

    # scroll ticks are conserved
    assert sum(e.dy for e in events if isinstance(e, ScrollEvent)) == sum(
        a.dy for a in actions if a.kind in ("scroll", "hscroll"))
    assert sum(e.dx for e in events if isinstance(e, ScrollEvent)) == sum(
        a.dx for a in actions if a.kind in ("scroll", "hscroll"))
