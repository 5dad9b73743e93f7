"""`make demo`: a scripted work session on a virtual screen, recorded end to end.

1. starts a virtual X desktop (Xvfb + openbox) with real apps: xterm, a Tk work app, and a
   window that claims to be a password manager (KeePassXC);
2. checks the team policy and acknowledges the recording notice;
3. runs `workprint record --policy examples/policy.toml` while a scripted "person" works
   inside a task: shell commands, a password prompt, a form with an e-mail address in it,
   clicks, a scroll, a drag, window switches - and a detour into the password manager;
4. shows what was kept (`workprint sessions`, `workprint inspect`), proves the secrets
   typed never reached disk, and exports the session as AgentNet JSONL and as a Hugging
   Face dataset that `datasets.load_dataset` opens offline.

Everything it starts is stopped at the end. Data goes to ./demo-data (recreated each run;
``--data-dir DIR`` for another place). Exits 1 if a secret is found anywhere under it.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "demo-data"  # --data-dir replaces it
POLICY = ROOT / "examples" / "policy.toml"
SECRETS = {"terminal password": "Tr0ub4dor&3-demo", "e-mail": "jane.doe@example.org",
           "password manager": "vault-master-pass"}
WORKBENCH = ROOT / "tests" / "apps" / "workbench.py"
WORKPRINT = [sys.executable, "-m", "workprint.cli"]


def step(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def cli(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    out = subprocess.run([*WORKPRINT, *args], capture_output=True, text=True)
    if not quiet:
        print("   $ workprint " + " ".join(args))
        for line in (out.stdout + out.stderr).strip().splitlines()[-12:]:
            print("     " + line)
    if check and out.returncode != 0:
        raise SystemExit(f"workprint {' '.join(args)} failed ({out.returncode})")
    return out


def work(desk, term: int, tk: int, vault: int) -> None:
    """A human-paced little task: look something up in the shell, fill in the form."""
    x = desk.xdotool
    cli("task", "start", "Record the March invoice check in the workbench", "--data-dir", str(DATA))
    x("windowactivate", "--sync", str(term))
    x("type", "--delay", "60", "ls -la /etc | head -5")
    x("key", "Return")
    time.sleep(0.8)
    x("type", "--delay", "40", "read -s -p 'Password: ' pw; echo unlocked")
    x("key", "Return")
    time.sleep(0.4)
    x("type", "--delay", "40", SECRETS["terminal password"])
    x("key", "Return")
    time.sleep(0.8)
    x("type", "--delay", "60", "grep -c processor /proc/cpuinfo")
    x("key", "Return")
    time.sleep(1.0)
    x("windowactivate", "--sync", str(tk))
    time.sleep(0.5)
    x("mousemove", "--window", str(tk), "300", "34")
    time.sleep(0.3)
    x("click", "1")
    x("type", "--delay", "70", "March invoices")
    time.sleep(0.4)
    x("mousemove", "--window", str(tk), "250", "150")
    time.sleep(0.3)
    x("click", "1")
    x("type", "--delay", "50", f"Checked 12 invoices; ask {SECRETS['e-mail']} about 2.")
    x("key", "Return")
    time.sleep(0.5)
    x("windowactivate", "--sync", str(vault))  # out of scope: leaves only a gap
    x("type", "--delay", "50", SECRETS["password manager"])
    time.sleep(0.5)
    x("windowactivate", "--sync", str(tk))
    time.sleep(0.5)
    for _ in range(2):
        x("mousemove", "--window", str(tk), "580", "34")
        time.sleep(0.3)
        x("click", "1")
        time.sleep(0.6)
    x("mousemove", "--window", str(tk), "700", "170")
    time.sleep(0.3)
    for _ in range(5):
        x("click", "5")
        time.sleep(0.1)
    time.sleep(0.4)
    x("click", "--repeat", "2", "--delay", "90", "1")
    time.sleep(0.5)
    x("mousemove", "--window", str(tk), "100", "400")
    time.sleep(0.2)
    x("mousedown", "1")
    for px in range(120, 500, 40):
        x("mousemove", "--window", str(tk), str(px), str(400 + (px - 100) // 4))
        time.sleep(0.03)
    x("mouseup", "1")
    time.sleep(0.5)
    x("key", "ctrl+s")
    time.sleep(1.0)
    cli("task", "end", "--data-dir", str(DATA))
    time.sleep(0.5)


def leaked(root: Path) -> list[str]:
    """The secrets found in any byte of any file under ``root``."""
    blob = b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
    return [what for what, secret in SECRETS.items() if secret.encode() in blob]


def main() -> int:
    from workprint.virtual_desktop import VirtualDesktop

    global DATA
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DATA,
                    help="where the demo's data goes (deleted and recreated; default ./demo-data)")
    DATA = ap.parse_args().data_dir.resolve()
    if DATA.exists():
        shutil.rmtree(DATA)
    DATA.mkdir(parents=True)
    step("the team policy: which apps may be recorded (default-deny) and how")
    cli("policy", "check", str(POLICY))
    step("the recording notice, acknowledged once for this policy (receipt stored)")
    cli("notice", "--accept", "--policy", str(POLICY), "--data-dir", str(DATA))

    step("a virtual 1920x1080 desktop (Xvfb + openbox): xterm, a Tk app, a 'password manager'")
    # the apps' own files (a form's saved fields hold what was typed in it) live outside
    # the recorder's data dir: everything under that is checked for the secrets below
    with VirtualDesktop(1920, 1080) as desk, tempfile.TemporaryDirectory(prefix="demo-apps-") as apps:
        desk.spawn(["xterm", "-T", "demo-terminal", "-geometry", "90x30+30+30", "-e", "bash", "--norc"])
        term = desk.wait_window("^demo-terminal$")
        desk.spawn([sys.executable, str(WORKBENCH), "--title", "Invoices - Workbench",
                    "--state", str(Path(apps) / "workbench-state.json"), "--geometry", "900x700+700+120"])
        tk = desk.wait_window("^Invoices")
        desk.spawn([sys.executable, str(WORKBENCH), "--title", "Passwords - KeePassXC", "--class", "KeePassXC",
                    "--state", str(Path(apps) / "vault-state.json"), "--geometry", "600x400+100+600"])
        vault = desk.wait_window("^Passwords")
        print(f"   display {desk.display}")

        step(f"recording: workprint record --policy {POLICY.relative_to(ROOT)} --data-dir {DATA.name}")
        rec = subprocess.Popen([*WORKPRINT, "record", "--data-dir", str(DATA), "--policy", str(POLICY)],
                               env=desk.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        print("   " + rec.stderr.readline().strip())  # said once it records
        time.sleep(0.3)
        t0 = time.monotonic()
        work(desk, term, tk, vault)
        print(f"   scripted work done in {time.monotonic() - t0:.1f}s; stopping the recorder (SIGINT)")
        rec.send_signal(signal.SIGINT)
        out, err = rec.communicate(timeout=120)
        if rec.returncode != 0:
            print(err, file=sys.stderr)
            return rec.returncode
        session_id = out.strip().splitlines()[-1]
        # the e-mail really reached the form (else "not on disk" below would prove nothing)
        state = Path(apps) / "workbench-state.json"
        if not state.exists() or SECRETS["e-mail"] not in state.read_text():
            print("the scripted input did not reach the workbench: nothing can be shown", file=sys.stderr)
            return 1

    step("what was recorded")
    cli("sessions", "--data-dir", str(DATA))
    cli("inspect", session_id, "--data-dir", str(DATA))

    step("safeguards: the secrets typed during the session are nowhere on disk")
    found = leaked(DATA)
    from workprint.store.session import DataDir

    with DataDir(DATA).open(session_id) as s:
        placeholders = sorted({k.redacted for k in s.events(["key_down"]) if k.redacted})
        gaps = [(g.reason, round(g.duration_ns / 1e9, 1)) for g in s.events(["gap"])]
    for what in SECRETS:
        print(f"   {what:18} {'LEAKED' if what in found else 'NOT on disk'}")
    if found:
        return 1
    print(f"   placeholders in the key stream: {', '.join(placeholders)}")
    print(f"   gaps (reason, seconds): {gaps}")

    step("training data: AgentNet JSONL and a Hugging Face dataset")
    cli("export", "--format", "agentnet", "--out", str(DATA / "export-agentnet"), "--data-dir", str(DATA))
    cli("export", "--format", "hf", "--out", str(DATA / "export-hf"), "--data-dir", str(DATA))
    import json
    import os

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    line = (DATA / "export-agentnet").glob("*.jsonl").__next__().read_text().splitlines()[0]
    traj = json.loads(line)
    print(f"   agentnet: instruction {traj['instruction']!r}, {len(traj['traj'])} steps; first steps:")
    for st in traj["traj"][:6]:
        print(f"     {st['value']['code'].splitlines()[0]}")
    import datasets

    # a cache of its own: the datasets cache would otherwise serve an earlier demo's export
    ds = datasets.load_dataset(str(DATA / "export-hf"), split="train", cache_dir=str(DATA / "hf-cache"))
    print(f"   hf: datasets.load_dataset(...) -> {ds.num_rows} rows, columns {ds.column_names[:8]}...")
    found = leaked(DATA)
    print(f"   the exports and their cache: {'LEAKED ' + ', '.join(found) if found else 'no secret in them'}")
    if found:
        return 1
    print(f"\nThe session is in {DATA / 'sessions' / session_id} (SQLite: session.db).")
    print(f"Browse it: workprint view --data-dir {DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
