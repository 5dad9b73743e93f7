"""A session the collector refuses stays visible - in `sync`, `review`, `sessions`, `status`
and the viewer, with the collector's reason and what to do - until it is withheld; a real
collector (`workprint serve`, local backend) refuses a session recorded under a policy it
never published."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from workprint.capture.control import ControlServer

from terminal import run_on_a_terminal

from .conftest import Backend
from .helpers import LiveServer, cli
from .test_sync import record_session

pytestmark = pytest.mark.fleet

EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "policy.toml"


def test_a_refused_session_stays_visible_with_its_reason_until_withheld(tmp_path):
    backend = Backend("local", tmp_path / "server")
    server = LiveServer(backend, tmp_path).start()
    control = None
    try:
        srv = str(backend.data_dir)
        policy = tmp_path / "team.toml"
        shutil.copy(EXAMPLE_POLICY, policy)
        published = cli("admin", "policy", str(policy), "--data-dir", srv).stdout.split()[-1]
        code = cli("admin", "enrolment-code", "--contributor", "alice", "--data-dir", srv).stdout.split()[-1]
        device = tmp_path / "device"
        dd = ["--data-dir", str(device)]
        cli("enroll", server.url, *dd, env={"WORKPRINT_ENROLL_CODE": code})
        good = record_session(device, policy_hash=published)
        bad = record_session(device, policy_hash="f" * 64)   # a policy the collector never published
        cli("approve", good, bad, *dd)

        # the first sync: uploads one, is refused the other (run at a terminal: a progress
        # bar counts the chunks it works through; piped, as below, there is none)
        rc, stdout, shown = run_on_a_terminal([sys.executable, "-m", "workprint.cli", "sync",
                                               "--json", *dd])
        assert rc == 1, stdout + shown
        assert "uploading" in shown and "2/2" in shown, shown
        out = json.loads(stdout)
        assert out["uploaded"] >= 1 and out["rejected"] and out["remaining"] == 0
        [ref] = out["refused_sessions"]
        assert ref["session"] == bad and ref["state"] == "refused"
        assert "does not accept" in ref["reason"] and "f" * 64 in ref["reason"]
        assert f"workprint withhold {bad}" in ref["todo"]

        # the next sync has nothing to send, and still says so (and exits 1)
        again = cli("sync", *dd, check=False)
        assert again.returncode == 1 and "uploading" not in again.stderr
        assert f"session {bad} refused by the collector" in again.stderr and "does not accept" in again.stderr
        assert "what to do" in again.stderr
        again = json.loads(cli("sync", "--json", *dd, check=False).stdout)
        assert again["uploaded"] == 0 and again["rejected"] == [] and [r["session"] for r in again["refused_sessions"]] == [bad]

        # review: no longer just "approved"
        text = cli("review", *dd).stdout
        [line] = [ln for ln in text.splitlines() if ln.startswith(bad)]
        assert "REFUSED" in line and "does not accept" in line
        assert f"workprint withhold {bad}" in text
        items = {i["id"]: i for i in json.loads(cli("review", "--json", *dd).stdout)}
        assert items[bad]["decision"] == "approved" and items[bad]["upload"]["state"] == "refused"
        assert items[good]["upload"]["state"] == "uploaded"

        # sessions, text and JSON
        rows = {r["id"]: r for r in json.loads(cli("sessions", "--json", *dd).stdout)}
        assert rows[bad]["upload"]["state"] == "refused" and "does not accept" in rows[bad]["upload"]["reason"]
        assert rows[good]["upload"]["state"] == "uploaded"
        text = cli("sessions", *dd).stdout
        assert "REFUSED" in [ln for ln in text.splitlines() if ln.startswith(bad)][0]
        assert "refused by the collector: collector answered 422" in text

        # status: without a recorder (exit 8, the refusal still told), and with one
        st = cli("status", *dd, check=False)
        assert st.returncode == 8 and f"upload refused: session {bad}" in st.stderr
        control = ControlServer(device, lambda req: {"ok": True, "status": {"recording": True, "app": "XTerm",
                                                                          "session": "s-live"}})
        control.start()
        st = cli("status", *dd)
        assert st.stdout.startswith("recording XTerm") and f"upload refused: session {bad}" in st.stdout
        st = json.loads(cli("status", "--json", *dd).stdout)
        assert [r["session"] for r in st["refused_uploads"]] == [bad]
        control.stop()
        control = None

        # the viewer
        from workprint.viewer.server import create_app

        with TestClient(create_app(device, "tok-" + "x" * 24), base_url="http://127.0.0.1") as c:
            up = {s["id"]: s["upload"] for s in c.get("/api/sessions", params={"token": "tok-" + "x" * 24}).json()}
        assert up[bad]["state"] == "refused" and up[good]["state"] == "uploaded"

        # approving it again sends it once more (refused again: the collector did not change)
        out = cli("approve", bad, *dd).stdout
        assert "queued again" in out
        items = {i["id"]: i for i in json.loads(cli("review", "--json", *dd).stdout)}
        assert items[bad]["upload"]["state"] == "queued"
        third = json.loads(cli("sync", "--json", *dd, check=False).stdout)
        assert third["rejected"] and [r["session"] for r in third["refused_sessions"]] == [bad]

        # withholding ends it: the chunks leave the outbox, sync is clean again
        out = cli("withhold", bad, *dd).stdout
        assert "taken out of the outbox" in out
        assert list((device / "outbox" / "chunks").iterdir()) == []
        clean = cli("sync", "--json", *dd)
        assert json.loads(clean.stdout)["refused_sessions"] == []
        items = {i["id"]: i for i in json.loads(cli("review", "--json", *dd).stdout)}
        assert items[bad]["upload"]["state"] == "withheld"
        assert "upload refused" not in cli("status", *dd, check=False).stderr
    finally:
        if control is not None:
            control.stop()
        server.stop()
