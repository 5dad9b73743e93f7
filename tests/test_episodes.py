from workprint.actions.episodes import EpisodeConfig, split_episodes
from workprint.actions.reduce import reduce_events
from workprint.events import Action, MarkerEvent

from evgen import MS, Stream

S = 1_000_000_000


def act(kind, t_s, **kw):
    return Action(kind, int(t_s * S), int(t_s * S), **kw)


def test_unlabelled_split_on_idle():
    acts = [act("click", 1, x=1, y=1), act("write", 2, text="a"), act("wait", 2, text=None),
            act("click", 400, x=1, y=1)]
    eps = split_episodes(acts, [])
    assert len(eps) == 2
    assert all(e.unlabelled and e.instruction == "" and e.ok is None for e in eps)
    assert [a.kind for a in eps[0].actions] == ["click", "write"]  # trailing wait trimmed
    assert len(split_episodes(acts, [], EpisodeConfig(idle_split_s=1000))) == 1


def test_task_markers_define_labelled_episodes():
    s = Stream()
    s.type("before")
    s.add(MarkerEvent(s.at(100), "task_start", text="Rename the file to report.txt"))
    s.click(10, 10).type("report.txt").key("Return", "\r")
    s.add(MarkerEvent(s.at(100), "task_end", ok=True))
    s.click(50, 50, dt=500)
    s.add(MarkerEvent(s.at(100), "task_start", text="Second"))
    s.click(60, 60, dt=1_000_000)                 # idle inside a task: no split
    s.add(MarkerEvent(s.at(100), "task_end", ok=False))
    markers = [e for e in s.events if isinstance(e, MarkerEvent)]
    eps = split_episodes(reduce_events(s.events), markers)
    assert [(e.instruction, e.unlabelled, e.ok) for e in eps] == [
        ("", True, None), ("Rename the file to report.txt", False, True), ("", True, None),
        ("Second", False, False)]
    assert [a.kind for a in eps[1].actions] == ["click", "write", "press", "end"]
    assert eps[1].t_start == markers[0].t_ns and eps[1].t_end == markers[1].t_ns
    assert [a.kind for a in eps[1].steps] == ["click", "write", "press"]
    assert [e.index for e in eps] == [0, 1, 2, 3]


def test_task_without_end_has_unknown_outcome_and_empty_tasks_dropped():
    s = Stream()
    s.add(MarkerEvent(s.at(10), "task_start", text="Empty"))
    s.add(MarkerEvent(s.at(10), "task_start", text="Open"))
    s.click(1, 1)
    markers = [e for e in s.events if isinstance(e, MarkerEvent)]
    eps = split_episodes(reduce_events(s.events), markers)
    assert [(e.instruction, e.ok) for e in eps] == [("Open", None)]


def test_task_end_after_last_action():
    s = Stream()
    s.add(MarkerEvent(s.at(10), "task_start", text="T"))
    s.click(1, 1)
    markers = [e for e in s.events if isinstance(e, MarkerEvent)] + [
        MarkerEvent(s.at(100), "task_end", ok=True)]
    eps = split_episodes(reduce_events(s.events), markers)
    assert eps[0].ok is True
