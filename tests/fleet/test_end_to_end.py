"""One policy identity, end to end, on both backends: a real `workprint serve` publishes a
policy, a device enrols and records a real session on Xvfb under it with `workprint record`,
the contributor approves it, `workprint sync` uploads it, and a curator downloads and parses
every chunk. Then a second contributor's device syncs a session, `workprint build` makes a
dataset of both, the first contributor erases herself (`account erase` names the dataset),
`workprint build --rebuild` replaces it, and none of her steps, images or pseudonyms is left
in any dataset object."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from workprint.sync import chunk as C

from .buildgen import device_session
from .helpers import LiveServer, cli

pytestmark = [pytest.mark.fleet, pytest.mark.x11]

POLICY = (Path(__file__).resolve().parents[2] / "examples" / "policy.toml").read_text()
TYPED = "hello collector"


def test_recorded_session_reaches_the_curator_under_the_published_policy(backend, desk, tmp_path):
    server = LiveServer(backend, tmp_path).start()
    try:
        admin = cli("admin", "token", "--role", "admin", *backend.cli_args()).stdout.splitlines()[-1]
        curator = cli("admin", "token", "--role", "curator", *backend.cli_args()).stdout.splitlines()[-1]
        r = httpx.put(f"{server.url}/v1/admin/policy", json={"policy": POLICY},
                      headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200, r.text
        published = r.json()["hash"]
        device = tmp_path / "device"
        code = cli("admin", "enrolment-code", "--server", server.url, "--contributor", "alice",
                   env={"WORKPRINT_TOKEN": admin}).stdout.splitlines()[-1]
        # the code on standard input, not in the process list
        out = cli("enroll", server.url, "-", "--data-dir", str(device), input=code + "\n").stdout
        assert published[:12] in out

        # The device works under the collector's policy: the same hash as `policy check`.
        shown = json.loads(cli("policy", "show", "--json", "--data-dir", str(device)).stdout)
        assert shown["hash"] == published and shown["source"].startswith("<collector ")
        policy_file = tmp_path / "p.toml"
        policy_file.write_text(POLICY)
        assert cli("policy", "check", str(policy_file)).stdout.strip() == f"ok: {published}"
        cli("notice", "--accept", "--data-dir", str(device))

        wid = desk.xterm("e2e-term")
        desk.activate(wid)
        env = {k: v for k, v in desk.env.items() if k != "WORKPRINT_POLICY"}
        rec = subprocess.Popen([sys.executable, "-m", "workprint.cli", "record", "--data-dir", str(device)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = rec.stderr.readline()
        assert "recording session" in line, line + rec.stderr.read()
        time.sleep(0.5)
        desk.xdotool("type", "--delay", "40", TYPED)
        desk.xdotool("mousemove", "200", "200", "click", "1")
        time.sleep(1.0)
        rec.send_signal(signal.SIGINT)
        stdout, stderr = rec.communicate(timeout=60)
        assert rec.returncode == 0, stderr
        assert "will refuse" not in stderr
        sid = stdout.strip().splitlines()[-1]

        # Nothing leaves before the contributor approves.
        waiting = json.loads(cli("sync", "--json", "--data-dir", str(device)).stdout)
        assert waiting["sealed_sessions"] == 0 and waiting["uploaded"] == 0
        cli("approve", sid, "--data-dir", str(device))
        got = json.loads(cli("sync", "--json", "--data-dir", str(device)).stdout)
        assert got["rejected"] == [] and got["error"] is None, got
        assert got["uploaded"] >= 1 and got["remaining"] == 0

        cur = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {curator}"})
        [session] = cur.get("/v1/sessions").json()
        assert session["policy_hash"] == published and session["complete"]
        chunks = cur.get(f"/v1/sessions/{session['session']}/chunks").json()
        assert len(chunks) == got["uploaded"]
        typed, kinds, tiles = "", set(), 0
        for ch in chunks:
            data = cur.get(f"/v1/chunks/{ch['sha256']}").content
            parsed = C.parse_chunk(data)
            assert parsed.manifest["policy_hash"] == published
            for name, raw in C.read_entries(parsed).items():
                if name == "events.jsonl.gz":
                    for row in raw.decode().splitlines():
                        t_ns, kind, body = json.loads(row)
                        kinds.add(kind)
                        if kind == "key_down":
                            typed += body.get("char") or ""
                elif name.startswith("tiles/"):
                    tiles += 1
        cur.close()
        assert TYPED in typed, typed                     # the input reached the app and the collector
        assert {"key_down", "mouse_down"} <= kinds and tiles >= 1
        assert sid.encode() not in b"".join(
            httpx.get(f"{server.url}/v1/chunks/{c['sha256']}",
                      headers={"Authorization": f"Bearer {curator}"}).content for c in chunks)
        build_erase_rebuild(backend, server, admin, device, session["session"], published, tmp_path)
    finally:
        server.stop()


def dataset_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def build_erase_rebuild(backend, server, admin: str, alice_device: Path, alice_session: str,
                        policy: str, tmp_path: Path) -> None:
    bob = tmp_path / "device-bob"
    code = cli("admin", "enrolment-code", "--server", server.url, "--contributor", "bob",
               env={"WORKPRINT_TOKEN": admin}).stdout.splitlines()[-1]
    cli("enroll", server.url, code, "--data-dir", str(bob))
    bob_sid = device_session(bob, 41, label="bob", policy_hash=policy)
    cli("approve", bob_sid, "--data-dir", str(bob))
    got = json.loads(cli("sync", "--json", "--data-dir", str(bob)).stdout)
    assert got["uploaded"] >= 1 and got["remaining"] == 0 and got["rejected"] == [], got

    out = tmp_path / "datasets"
    store = backend.cli_args()
    v1 = json.loads(cli("build", *store, "--format", "agentnet", "--out", str(out), "--json").stdout)
    assert v1["counts"]["sessions"] == 2, v1["counts"]
    manifest = json.loads((out / "v0001" / "manifest.json").read_text())
    assert alice_session in {s["pseudonym"] for s in manifest["sessions"]}
    records = [json.loads(x) for p in sorted((out / "v0001").glob("trajectories-*.jsonl"))
               for x in p.read_text().splitlines()]
    hers = [r for r in records if r["screen"]["width"] != 640]       # bob's screens are 640 wide
    assert hers and any(TYPED in s["value"]["code"] for r in hers for s in r["traj"])
    her_images = {s["image"] for r in hers for s in r["traj"]}
    her_bytes = [(out / "v0001" / "images" / n).read_bytes() for n in sorted(her_images)]

    erased = cli("account", "erase", "--yes", "--data-dir", str(alice_device)).stdout
    assert "dataset workprint version 1 held your sessions" in erased, erased
    rebuilt = json.loads(cli("build", *store, "--rebuild", "workprint", "--json").stdout)
    assert rebuilt["deleted"] == [1] and rebuilt["built"]["version"] == 2
    assert not (out / "v0001").exists()
    left = dataset_bytes(out)                                         # every remaining object
    assert left and b"bob" not in left
    assert rebuilt["built"]["counts"]["sessions"] == 1
    for needle in (alice_session.encode(), TYPED.encode(), *(n.encode() for n in her_images)):
        assert needle not in left, needle
    assert not any(b in left for b in her_bytes)
    assert not (set(p.name for p in out.rglob("*")) & her_images)
