from workprint.actions.keyframes import FrameIndex, KeyframeConfig, final_frame, keyframe, keyframes
from workprint.events import Action, FrameRef

MS = 1_000_000


def fr(t_ms, fid):
    return FrameRef(t_ms * MS, fid, "idle_change", 100, 100)


def click(t_ms, approach_ms=None):
    return Action("click", t_ms * MS, t_ms * MS + 50 * MS, x=1, y=1,
                  t_approach=None if approach_ms is None else approach_ms * MS)


def test_mouse_start_of_last_stable_stretch_in_window():
    frames = [fr(0, "A"), fr(1000, "B"), fr(1200, "C"), fr(1300, "C"), fr(1400, "C"),
              fr(1900, "HOVER"), fr(2050, "RESULT")]
    k = keyframe(click(2000, approach_ms=1100), FrameIndex(frames))
    assert (k.frame_id, k.t_ns) == ("C", 1200 * MS)


def test_mouse_stretch_clamped_to_approach_start():
    frames = [fr(0, "A"), fr(100, "A"), fr(900, "A"), fr(1800, "HOVER")]
    k = keyframe(click(2000, approach_ms=500), FrameIndex(frames))
    assert (k.frame_id, k.t_ns) == ("A", 900 * MS)


def test_mouse_screen_unchanged_since_before_approach():
    frames = [fr(0, "A"), fr(1950, "HOVER")]
    k = keyframe(click(2000, approach_ms=1000), FrameIndex(frames))
    assert k.frame_id == "A"


def test_mouse_fallback_latest_before_press_never_after():
    frames = [fr(1800, "PRE"), fr(2000, "AT_PRESS"), fr(2100, "AFTER")]
    k = keyframe(click(2000, approach_ms=1700), FrameIndex(frames))
    assert k.frame_id == "PRE"
    assert keyframe(click(2000), FrameIndex([fr(2000, "X"), fr(2100, "Y")])) is None


def test_keys_and_scroll_lead():
    frames = [fr(0, "A"), fr(1400, "B"), fr(1600, "C")]
    w = Action("write", 2000 * MS, 2500 * MS, text="x")
    s = Action("scroll", 1550 * MS, 1600 * MS, dy=-1)
    idx = FrameIndex(frames)
    assert keyframe(w, idx).frame_id == "B"
    assert keyframe(s, idx).frame_id == "A"
    assert keyframe(w, idx, KeyframeConfig(lead_s=0.1)).frame_id == "C"
    # fallback: nothing 0.5 s before -> latest before the action
    assert keyframe(Action("press", 300 * MS, 300 * MS, keys=("enter",)), FrameIndex([fr(100, "Z")])).frame_id == "Z"


def test_keyframes_list_and_final_frame():
    frames = [fr(0, "A"), fr(3000, "B"), fr(9000, "NEXT_EPISODE")]
    acts = [click(1000), Action("press", 2000 * MS, 2000 * MS, keys=("enter",))]
    assert [k.frame_id for k in keyframes(acts, frames)] == ["A", "A"]
    assert final_frame(acts[-1], frames, until_ns=5000 * MS).frame_id == "B"
    assert final_frame(acts[-1], frames).frame_id == "NEXT_EPISODE"
