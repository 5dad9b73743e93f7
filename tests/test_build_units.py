"""The pure parts of dataset builds: filters, shard plans, manifests."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workprint.build import manifest as M
from workprint.build.filters import (A_TASK, NOT_A_TASK, TOO_REDACTED, TOO_SHORT, Filters, k_anonymous,
                                     redacted_share, session_passes, trajectory_key, trajectory_verdict)
from workprint.build.shards import TrajRef, functions_in_order, plan_shards, shard_name
from workprint.errors import BuildError
from workprint.export.code import functions_used


def test_filters_validate_their_values():
    for bad in ({"min_steps": 0}, {"tasks": "some"}, {"max_redacted_share": 1.5},
                {"since": "05/12/2026"}, {"since": "2026-12-05", "until": "2026-12-01"}):
        with pytest.raises(BuildError):
            Filters(**bad)
    f = Filters(min_steps=3, tasks="only", since="2026-12-01")
    assert Filters.from_dict(json.loads(json.dumps(f.to_dict()))) == f


def test_trajectory_verdicts():
    f = Filters(min_steps=3, max_redacted_share=0.5)
    assert trajectory_verdict(2, False, [], f) == TOO_SHORT
    assert trajectory_verdict(3, True, ["hello"], f) is None
    assert trajectory_verdict(3, True, [], Filters(tasks="only")) == NOT_A_TASK
    assert trajectory_verdict(3, False, [], Filters(tasks="none")) == A_TASK
    assert trajectory_verdict(3, False, [], Filters(tasks="only")) is None
    # 15 of 18 characters are a placeholder
    assert trajectory_verdict(3, False, ["<EMAIL_ADDRESS>abc"], f) == TOO_REDACTED
    assert trajectory_verdict(3, False, ["<EMAIL_ADDRESS>abc"], Filters()) is None


def test_redacted_share_counts_placeholder_characters():
    assert redacted_share([]) == 0.0 == redacted_share([""])
    assert redacted_share(["<PASSWORD>"]) == 1.0
    assert redacted_share(["ab", "<SECRET>"]) == pytest.approx(8 / 10)
    assert redacted_share(["a <b> <lower_case> c"]) == 0.0      # not a safeguard's mark


def test_session_dates_are_a_half_open_range():
    f = Filters(since="2026-12-01", until="2026-12-03")
    assert [session_passes(d, f) for d in ("2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03")] == \
        [False, True, True, False]
    assert session_passes("1999-01-01", Filters())


def test_trajectory_key_ignores_nothing_but_ids():
    a = trajectory_key("do it", [("click(0.1, 0.2)", "a.jpg")])
    assert a == trajectory_key("do it", [("click(0.1, 0.2)", "a.jpg")])
    assert a != trajectory_key("do it", [("click(0.1, 0.2)", "b.jpg")])
    assert a != trajectory_key("do that", [("click(0.1, 0.2)", "a.jpg")])


def test_k_anonymity_hides_small_groups():
    assert k_anonymous(500, 9, 10) == "<10"
    assert k_anonymous(500, 10, 10) == 500


refs = st.lists(st.builds(TrajRef, st.just("s"), st.integers(0, 99), st.integers(1, 40),
                          st.integers(0, 5000)), max_size=60)


@given(refs, st.integers(1, 50), st.integers(1, 8000))
def test_shard_plan_keeps_order_and_bounds(rs, max_steps, max_bytes):
    shards = plan_shards(rs, max_steps, max_bytes)
    assert [r for s in shards for r in s] == rs                   # nothing lost, order kept
    assert all(s for s in shards)
    for s in shards:
        if len(s) > 1:                                            # one oversized trajectory alone
            assert sum(r.steps for r in s) <= max_steps
            assert sum(r.image_bytes for r in s) <= max_bytes
    for a, b in zip(shards, shards[1:]):                          # a shard closes only when full
        assert (sum(r.steps for r in a) + b[0].steps > max_steps
                or sum(r.image_bytes for r in a) + b[0].image_bytes > max_bytes)


def test_shard_names():
    assert shard_name("hf", 1, 12) == "data/train-00001-of-00012.parquet"
    assert shard_name("agentnet", 0, 1) == "trajectories-00000-of-00001.jsonl"
    assert shard_name("aguvis", 2, 3) == "aguvis-00002-of-00003.json"


@given(st.lists(st.lists(st.sampled_from(["pyautogui.click(x=0.1, y=0.2)", "pyautogui.write('a')",
                                          "pyautogui.hotkey('ctrl', 's')\npyautogui.press('enter')",
                                          "computer.terminate(status='success')"]), max_size=5),
                max_size=6))
def test_dataset_function_list_equals_the_exports(per_traj):
    assert functions_in_order(functions_used(c) for c in per_traj) == \
        functions_used([c for cs in per_traj for c in cs])


def test_manifest_identity_and_created(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.parquet").write_bytes(b"abc")
    (tmp_path / "aguvis.yaml").write_text("json_path: /somewhere\n")
    files = M.file_entries(tmp_path)
    assert [f["path"] for f in files] == ["aguvis.yaml", "data/a.parquet"]
    d = M.content_digest(files)
    (tmp_path / "aguvis.yaml").write_text("json_path: /elsewhere\n")       # location only
    (tmp_path / M.NAME).write_text("{}")
    assert M.content_digest(M.file_entries(tmp_path)) == d
    (tmp_path / "data" / "a.parquet").write_bytes(b"abd")
    assert M.content_digest(M.file_entries(tmp_path)) != d
    assert M.created_time({"SOURCE_DATE_EPOCH": "1700000000"}) == "2023-11-14T22:13:20+00:00"
    man = M.make_manifest(dataset="d", version=3, created="x", fmt="hf", image_format="jpeg",
                          engine={"name": "local", "workers": 1}, filters=Filters().to_dict(),
                          counts={}, policies=["p2", "p1"], files=files,
                          sessions=[("a" * 32, ["f" * 64])], shard_bounds={})
    assert man["id"] == "d@v3" and man["policy"]["hashes"] == ["p1", "p2"]
    assert man["sessions"] == [{"pseudonym": "a" * 32, "chunks": ["f" * 64]}]
    assert json.loads(M.dumps(man)) == man


def test_session_tiles_beyond_the_memory_budget_wait_on_disk():
    from workprint.build.source import Tiles

    t = Tiles(budget=10)
    t.add("a" * 32, b"12345678")
    t.add("b" * 32, b"abcdefgh")                     # over the budget: to a private temp folder
    t.add("a" * 32, b"ignored")                      # content-addressed: first copy stays
    folder = t._dir
    assert folder and os.listdir(folder) == ["b" * 32] and oct(os.stat(folder).st_mode)[-3:] == "700"
    assert (t.get("a" * 32), t.get("b" * 32), t.get("c" * 32)) == (b"12345678", b"abcdefgh", None)
    t.close()
    assert not os.path.exists(folder)
