from workprint.actions.reduce import ReduceConfig, reduce_events
from workprint.events import (
    ButtonEvent, FocusEvent, GapEvent, KeyEvent, MarkerEvent, MoveEvent, ScrollEvent,
)

from evgen import MS, Stream


def kinds(actions):
    return [a.kind for a in actions]


def test_click_with_approach_path():
    s = Stream().move(10, 10).move(50, 40).move(100, 80)
    t_first_move = s.events[0].t_ns
    s.click(100, 80)
    (a,) = reduce_events(s.events)
    assert (a.kind, a.x, a.y, a.button) == ("click", 100, 80, "left")
    assert a.path == ((10, 10), (50, 40), (100, 80))
    assert a.t_approach == t_first_move
    assert a.t_start == s.events[3].t_ns and a.t_end == s.events[4].t_ns


def test_double_and_triple_click_and_limit():
    s = Stream().click(200, 300).click(202, 301, dt=150).click(201, 299, dt=150)
    s.click(201, 299, dt=150)  # 4th press: a new click
    acts = reduce_events(s.events)
    assert kinds(acts) == ["tripleClick", "click"]
    assert (acts[0].x, acts[0].y) == (200, 300)


def test_multi_click_breaks_on_distance_time_and_button():
    s = Stream().click(10, 10).click(16, 10, dt=100)          # 6 px away
    s.click(16, 10, dt=700)                                    # too late
    s.click(16, 10, "right", dt=100)                           # other button
    assert kinds(reduce_events(s.events)) == ["click", "click", "click", "rightClick"]


def test_right_middle_double_right():
    s = Stream().click(5, 5, "middle").click(50, 50, "right", dt=900).click(50, 50, "right", dt=100)
    acts = reduce_events(s.events)
    assert kinds(acts) == ["middleClick", "doubleClick"]
    assert acts[1].button == "right"


def test_drag_threshold():
    s = Stream().down(100, 100).move(104, 100).up(106, 100)     # exactly 6 px: click
    s.down(300, 300, dt=900).move(320, 330).up(340, 360)
    acts = reduce_events(s.events)
    assert kinds(acts) == ["click", "drag"]
    assert (acts[1].x, acts[1].y, acts[1].x2, acts[1].y2, acts[1].button) == (300, 300, 340, 360, "left")


def test_scroll_merges_until_click_or_key_and_on_direction():
    s = Stream()
    for _ in range(3):
        s.add(ScrollEvent(s.at(30), 500, 400, 0, -1))
    s.add(ScrollEvent(s.at(30), 500, 400, 0, 1))        # direction change
    s.add(ScrollEvent(s.at(30), 500, 400, 2, 0))        # axis change
    s.add(ScrollEvent(s.at(30), 500, 400, 1, 0))
    s.click(500, 400)
    s.add(ScrollEvent(s.at(30), 500, 400, 0, -1))
    s.type("a")
    s.add(ScrollEvent(s.at(30), 500, 400, 0, -1))
    acts = reduce_events(s.events)
    assert kinds(acts) == ["scroll", "scroll", "hscroll", "click", "scroll", "write", "scroll"]
    assert acts[0].dy == -3 and acts[1].dy == 1 and acts[2].dx == 3
    assert (acts[0].x, acts[0].y) == (500, 400)


def test_write_with_backspace_shift_and_space():
    s = Stream().type("Helo\b\bllo World")
    (a,) = reduce_events(s.events)
    assert a.kind == "write" and a.text == "Hello World"


def test_backspace_at_run_start_is_a_press():
    s = Stream().type("ab").click(1, 1).type("\bc")
    acts = reduce_events(s.events)
    assert [(a.kind, a.text or a.keys) for a in acts] == [
        ("write", "ab"), ("click", ()), ("press", ("backspace",)), ("write", "c")]


def test_press_keys_and_hotkeys():
    s = Stream().type("hi").key("Return", "\r").key("Tab", "\t").key("Escape", "\x1b")
    s.key("Left").key("F5").key("Delete", "\x7f").key("Home").key("Page_Down")
    s.chord("ctrl", "c").chord("ctrl", "shift", "T").chord("super", "d").chord("shift", "Tab")
    s.chord("alt", "F4")
    acts = reduce_events(s.events)
    assert [(a.kind, a.text or a.keys) for a in acts] == [
        ("write", "hi"), ("press", ("enter",)), ("press", ("tab",)), ("press", ("esc",)),
        ("press", ("left",)), ("press", ("f5",)), ("press", ("delete",)), ("press", ("home",)),
        ("press", ("pagedown",)), ("hotkey", ("ctrl", "c")), ("hotkey", ("ctrl", "shift", "t")),
        ("hotkey", ("win", "d")), ("hotkey", ("shift", "tab")), ("hotkey", ("alt", "f4"))]


def test_lone_modifiers_dropped_and_release_matched_by_keycode():
    s = Stream()
    s.keydown("Shift_L", 50).keyup("Shift_L", 50)
    s.keydown("Control_L", 37).keyup("Control_L", 37)
    # shift+a pressed as 'A', released as 'a' (after shift up): matched by keycode
    s.keydown("Shift_L", 50).keydown("A", 38, "A", ("shift",)).keyup("Shift_L", 50)
    s.keyup("a", 38, "a")
    s.keydown("Control_L", 37).keydown("c", 54, "c", ("ctrl",)).keyup("c", 54, "c", ("ctrl",))
    s.keyup("Control_L", 37)
    acts = reduce_events(s.events)
    assert [(a.kind, a.text or a.keys) for a in acts] == [("write", "A"), ("hotkey", ("ctrl", "c"))]


def test_hotkey_from_held_keys_even_without_state_bits():
    s = Stream().keydown("Control_L", 37).keydown("v", 55, "v").keyup("v", 55).keyup("Control_L", 37)
    assert [a.keys for a in reduce_events(s.events)] == [("ctrl", "v")]


def test_redacted_keys_become_one_placeholder_per_stretch():
    s = Stream().type("user ")
    for _ in range(5):
        s.add(KeyEvent(s.at(80), True, redacted="PASSWORD"))
        s.add(KeyEvent(s.at(30), False, redacted="PASSWORD"))
    s.type(" x")
    s.add(KeyEvent(s.at(80), True, redacted="PASSWORD"))
    s.type("\b")  # cannot edit unknown text: becomes a press
    (w1, bs) = reduce_events(s.events)
    assert w1.text == "user <PASSWORD> x<PASSWORD>"
    assert bs.keys == ("backspace",)


def test_focus_wait_gap_marker_end():
    s = Stream()
    s.add(FocusEvent(s.at(10), 7, "Doc - Editor", "Editor"))
    s.add(FocusEvent(s.at(10), 7, "Doc - Editor", "Editor"))  # duplicate: dropped
    s.type("ab")
    s.type("c", dt=4000).type("d")                              # long pause -> wait
    s.add(GapEvent(s.at(100), 60_000 * MS, "out_of_scope"))
    s.type("e")
    s.add(MarkerEvent(s.at(100), "task_end", ok=False))
    acts = reduce_events(s.events)
    assert kinds(acts) == ["focus", "write", "wait", "write", "wait", "write", "end"]
    assert acts[0].app_id == "Editor" and acts[0].title == "Doc - Editor"
    assert acts[4].text == "out_of_scope" and acts[4].t_end - acts[4].t_start == 60_000 * MS
    assert acts[-1].ok is False


def test_gap_ends_runs_and_unreleased_press_is_a_click():
    s = Stream().add(ScrollEvent(10 * MS, 1, 1, 0, 1))
    s.down(40, 40)
    s.add(GapEvent(s.at(10), 1000 * MS, "pause"))
    s.add(ScrollEvent(s.at(10), 1, 1, 0, 1))
    acts = reduce_events(s.events)
    assert kinds(acts) == ["scroll", "click", "wait", "scroll"]


def test_ctrl_click_keeps_modifier():
    s = Stream().keydown("Control_L", 37).click(10, 10).keyup("Control_L", 37)
    (a,) = reduce_events(s.events)
    assert a.kind == "click" and a.keys == ("ctrl",)


def test_timestamps_are_raw():
    s = Stream(t0_ms=123_456).type("x")
    (a,) = reduce_events(s.events)
    assert a.t_start == s.events[0].t_ns and a.t_end == s.events[0].t_ns


def test_config_thresholds():
    s = Stream().down(0, 0).up(8, 0)
    assert kinds(reduce_events(s.events, ReduceConfig(drag_px=10))) == ["click"]
    assert kinds(reduce_events(s.events)) == ["drag"]


def test_path_thinned():
    s = Stream()
    for i in range(1000):
        s.move(i, i, dt=1)
    s.click(999, 999)
    (a,) = reduce_events(s.events, ReduceConfig(max_path_points=10))
    assert len(a.path) == 10 and a.path[0] == (0, 0) and a.path[-1] == (999, 999)


def test_nested_buttons_time_ordered():
    s = Stream().down(10, 10).down(10, 10, "right").up(10, 10, "right").up(10, 10)
    acts = reduce_events(s.events)
    assert kinds(acts) == ["click", "rightClick"]
    assert acts[0].t_start <= acts[1].t_start


def test_unmatched_release_ignored():
    s = Stream().up(1, 1).add(ButtonEvent(5000 * MS, True, 3, 3, "left"))
    acts = reduce_events(s.events)
    assert kinds(acts) == ["click"]


def test_drag_motion_is_not_next_approach():
    s = Stream().down(0, 0).move(50, 50).up(100, 100).move(200, 200).click(210, 210, dt=100)
    acts = reduce_events(s.events)
    assert kinds(acts) == ["drag", "click"] and acts[1].path == ((200, 200),)


def test_policy_thresholds_drive_the_reduction():
    from workprint.actions.reduce import ReduceConfig
    from workprint.events import ButtonEvent
    from workprint.policy.model import parse_policy

    ms = 1_000_000
    clicks = [ButtonEvent(0, True, 100, 100, "left"), ButtonEvent(50 * ms, False, 100, 100, "left"),
              ButtonEvent(700 * ms, True, 100, 100, "left"), ButtonEvent(750 * ms, False, 100, 100, "left")]
    default = [a.kind for a in reduce_events(clicks, ReduceConfig())]
    slow = ReduceConfig.from_policy(parse_policy("[actions]\nmulti_click_s = 0.8\n"))
    assert slow.multi_click_s == 0.8
    assert default.count("click") == 2
    assert [a.kind for a in reduce_events(clicks, slow)].count("doubleClick") == 1
