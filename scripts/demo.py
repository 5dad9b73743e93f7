"""`make demo`: a scripted work session on a virtual screen, recorded end to end.

1. starts a virtual X desktop (Xvfb + openbox) with two real apps: xterm and a Tk work app;
2. runs `workprint record` on it while a scripted "person" works: shell commands in the
   terminal, a form in the Tk app, clicks, a scroll, a drag, window switches;
3. prints where the session is and what it holds (`workprint sessions`, `workprint inspect`).

Everything it starts is stopped at the end. Data goes to ./demo-data (recreated each run).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "demo-data"
WORKBENCH = ROOT / "tests" / "apps" / "workbench.py"
WORKPRINT = [sys.executable, "-m", "workprint.cli"]


def step(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def work(desk, term: int, tk: int) -> None:
    """A human-paced little task: look something up in the shell, fill in the form."""
    x = desk.xdotool
    x("windowactivate", "--sync", str(term))
    x("type", "--delay", "60", "ls -la /etc | head -5")
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
    x("type", "--delay", "50", "Checked 12 invoices; 2 need a follow-up.")
    x("key", "Return")
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


def main() -> int:
    from workprint.virtual_desktop import VirtualDesktop

    if DATA.exists():
        shutil.rmtree(DATA)
    step("starting a virtual 1920x1080 desktop (Xvfb + openbox) with xterm and a Tk app")
    with VirtualDesktop(1920, 1080) as desk:
        desk.spawn(["xterm", "-T", "demo-terminal", "-geometry", "90x30+30+30"])
        term = desk.wait_window("^demo-terminal$")
        state = DATA / "workbench-state.json"
        DATA.mkdir(parents=True)
        desk.spawn([sys.executable, str(WORKBENCH), "--title", "Invoices - Workbench",
                    "--state", str(state), "--geometry", "900x700+700+120"])
        tk = desk.wait_window("^Invoices")
        print(f"   display {desk.display}")

        step(f"recording with `workprint record --data-dir {DATA}`")
        rec = subprocess.Popen([*WORKPRINT, "record", "--data-dir", str(DATA)], env=desk.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        print("   " + rec.stderr.readline().strip())
        time.sleep(0.5)
        t0 = time.monotonic()
        work(desk, term, tk)
        print(f"   scripted work done in {time.monotonic() - t0:.1f}s; stopping the recorder (SIGINT)")
        rec.send_signal(signal.SIGINT)
        out, err = rec.communicate(timeout=60)
        if rec.returncode != 0:
            print(err, file=sys.stderr)
            return rec.returncode
        session_id = out.strip().splitlines()[-1]

    step("what was recorded: `workprint sessions`")
    subprocess.run([*WORKPRINT, "sessions", "--data-dir", str(DATA)], check=True)
    step(f"timeline: `workprint inspect {session_id}`")
    subprocess.run([*WORKPRINT, "inspect", session_id, "--data-dir", str(DATA)], check=True)
    print(f"\nThe session is in {DATA / 'sessions' / session_id} (SQLite: session.db).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
