"""Recorder benchmark on a virtual 1920x1080 screen (run by `make bench`).

Scenarios, each with its own `workprint record` process measured from outside (psutil):

* ``session`` - (policy without OCR masking) a scripted, human-paced work session (typing in a terminal, a form in a Tk
  app, clicks, scrolls, drags, window switches) for ``--minutes`` (default 5): average CPU of
  one core, peak and final RSS, storage per active hour, bytes per frame.
* ``session_ocr`` - the same with OCR text masking on (examples/policy.toml, the default
  policy), as long by default. Both session rows report the whole process tree (recorder
  plus OCR subprocesses): CPU including start-up and in steady state (after 30 s), peak
  RSS, and the CPU per pipeline stage (grab, diff, encode, window query, quarantine, text
  detection, OCR) and per thread, as the recorder measured it; and the recorder's minor
  page faults (per second in steady state: new memory touched, such as screens mapped afresh).
* ``idle`` - a static screen with no input for ``--idle-seconds`` (default 60): CPU.
* ``burst`` - 5,000 pointer moves and 2,000 key events injected through XTEST as fast as
  the server takes them (waiting for it every 25 events, ~10,000 events/s), then once more
  without ever waiting: events decoded by the recorder vs injected and vs the motions the
  server produced (an XI2 raw-motion witness), and hook-to-disk latency p50/p99 reported by
  the recorder. The target is zero lost events in both; a burst that loses any makes the
  benchmark exit 1. (Unthrottled, Xvfb delivers only part of the burst to RECORD clients,
  which is why keys and the pointer come from XInput 2 - see BENCHMARKS.md.)

``--soak MINUTES`` runs the session scenario that long and reports RSS growth after warm-up.
Each session row also gives ``machine_speed_s``: the CPU seconds of a fixed piece of work
before and after it (other work on the cores shows there; not all of this VM's drift does).
Prints a table and writes .bench-out/capture.json. The session rows are checked against
the budget (``TARGETS``: default policy <= 4 % of a core steady and <= 200 MB, OCR masking
off <= 2 % and <= 150 MB, both <= 30 MB per active hour); a miss, like a lost event,
exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
WORKBENCH = ROOT / "tests" / "apps" / "workbench.py"
from workprint.virtual_desktop import TERMINAL_SHELL  # noqa: E402 - after the path
WORKPRINT = [sys.executable, "-m", "workprint.cli"]


#: issue 13's budget per session scenario (whole process tree, steady state after 30 s)
TARGETS = {
    "session_ocr": {"tree CPU steady %": 4.0, "peak RSS MB": 200.0, "MB per active hour": 30.0},
    "session": {"tree CPU steady %": 2.0, "peak RSS MB": 150.0, "MB per active hour": 30.0},
}

POLICY = ROOT / "examples" / "policy.toml"
NO_OCR_POLICY = ROOT / "bench" / "policy-no-ocr.toml"


def start_recorder(desk, data: Path, policy: Path = NO_OCR_POLICY) -> subprocess.Popen:
    subprocess.run([*WORKPRINT, "notice", "--accept", "--data-dir", str(data), "--policy", str(policy)],
                   check=True, capture_output=True)
    proc = subprocess.Popen([*WORKPRINT, "record", "--data-dir", str(data), "--policy", str(policy)],
                            env=desk.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stderr.readline()
    return proc


LAST_CHILD_CPU = {"s": 0.0}


def stop_recorder(proc: subprocess.Popen) -> tuple[str, float]:
    """Stops the recorder; returns its session id and its own CPU seconds. The CPU of
    its OCR subprocesses (tesseract) is left in LAST_CHILD_CPU."""
    cpu = psutil.Process(proc.pid).cpu_times()
    cpu_s = cpu.user + cpu.system
    LAST_CHILD_CPU["s"] = cpu.children_user + cpu.children_system
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"recorder failed: {err}")
    return out.strip().splitlines()[-1], cpu_s


def session_stats(data: Path, sid: str) -> dict:
    db = data / "sessions" / sid / "session.db"
    conn = sqlite3.connect(db)
    meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    frames = conn.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    unique = conn.execute("SELECT COUNT(*) FROM manifests").fetchone()[0]
    tile_bytes = conn.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM tiles").fetchone()[0]
    manifest_bytes = conn.execute("SELECT COALESCE(SUM(LENGTH(digests)), 0) FROM manifests").fetchone()[0]
    events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    conn.close()
    disk = sum(p.stat().st_size for p in db.parent.iterdir() if p.is_file())
    return {"meta": meta, "frames": frames, "unique_frames": unique, "frame_bytes": tile_bytes + manifest_bytes,
            "events": events, "bytes_on_disk": disk}


def tree_rss(proc: psutil.Process, own: int | None = None, kids: list | None = None) -> int:
    """RSS of a process plus its live children (Tesseract subprocesses)."""
    total = proc.memory_info().rss if own is None else own
    for c in proc.children(recursive=True) if kids is None else kids:
        try:
            total += c.memory_info().rss
        except psutil.Error:
            pass
    return total


def minor_faults(pid: int) -> int:
    """The minor page faults of a process so far (``/proc/PID/stat``'s minflt; 0 where
    there is no such file): each page of new memory touched costs one - a full-screen
    array mapped afresh ~500-2,000 (huge pages or not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[7])
    except (OSError, IndexError, ValueError):
        return 0


def tree_cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process and its children that ended (live children are
    short-lived OCR calls, counted once they are reaped)."""
    c = proc.cpu_times()
    return c.user + c.system + c.children_user + c.children_system


class TreeSampler:
    """Samples the recorder tree's RSS every 0.25 s (and the recorder's own, with the time
    and how many child processes it had) and its CPU once warm-up is over."""

    def __init__(self, pid: int, warmup_s: float = 30.0):
        import threading

        self.proc = psutil.Process(pid)
        self.rss: list[int] = []
        self.own: list[tuple[float, int]] = []  # (seconds since start, the recorder's RSS)
        self.children_max = 0
        self.warm: tuple[float, float] | None = None
        self.warm_faults = 0  # the recorder's minor faults when warm-up ended
        self.end_faults = 0
        self.warmup_s = warmup_s
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                own = self.proc.memory_info().rss
                kids = self.proc.children(recursive=True)
                self.children_max = max(self.children_max, len(kids))
                self.own.append((time.monotonic() - self.t0, own))
                self.rss.append(tree_rss(self.proc, own, kids))
                if self.warm is None and time.monotonic() - self.t0 >= self.warmup_s:
                    self.warm = (time.monotonic(), tree_cpu(self.proc))
                    self.warm_faults = minor_faults(self.proc.pid)
            except psutil.Error:
                return

    def stop(self) -> tuple[float, float]:
        """Stops sampling; returns (now, tree CPU seconds now)."""
        self._stop.set()
        self._t.join(timeout=2)
        self.end_faults = minor_faults(self.proc.pid)
        return time.monotonic(), tree_cpu(self.proc)


def rss_floors(own: list[tuple[float, int]], warmup_s: float) -> dict:
    """The recorder's RSS sampled every 0.25 s: its peak, and the lowest RSS of each
    minute after warm-up (RSS swings by tens of MB within a minute as frames wait for OCR,
    so the growth of the floor is what says whether memory is kept: the difference
    between two single samples says mostly where in a swing each fell)."""
    if not own:
        return {}
    peak = max(r for _, r in own)
    floors: list[float] = []
    last = 0.0
    for t, r in own:
        if t < warmup_s:
            continue
        i = int((t - warmup_s) // 60)
        if i == len(floors):
            floors.append(r)
        floors[i] = min(floors[i], r)
        last = t - warmup_s - 60 * i
    if len(floors) > 1 and last < 30:
        floors.pop()  # the minute the session ended in, if less than half of it was seen
    out = {"recorder_rss_peak_mb": round(peak / 2**20, 1),
           "rss_floor_per_minute_mb": [round(f / 2**20, 1) for f in floors]}
    if len(floors) >= 2:
        out["rss_floor_growth_mb"] = round((floors[-1] - floors[0]) / 2**20, 1)
    return out


def human_work(desk, term: int, tk: int, seconds: float, rss_samples: list, pid: int) -> int:
    """Human-paced scripted work until ``seconds`` elapse; returns the number of actions."""
    x = desk.xdotool
    proc = psutil.Process(pid)
    deadline = time.monotonic() + seconds
    actions = 0
    i = 0

    def pause(s: float) -> None:
        rss_samples.append(proc.memory_info().rss)
        time.sleep(s)

    while time.monotonic() < deadline:
        i += 1
        x("windowactivate", "--sync", str(term)); actions += 1
        x("type", "--delay", "120", f"echo step {i}; ls /usr | head -3"); actions += 1
        x("key", "Return"); actions += 1
        pause(1.5)
        x("windowactivate", "--sync", str(tk)); actions += 1
        pause(0.8)
        x("mousemove", "--window", str(tk), "300", "34"); pause(0.4)
        x("click", "1"); actions += 1
        x("key", "ctrl+a"); actions += 1
        x("type", "--delay", "140", f"Invoice {1000 + i}"); actions += 1
        pause(0.8)
        x("mousemove", "--window", str(tk), "580", "34"); pause(0.5)
        x("click", "1"); actions += 1
        pause(1.0)
        x("mousemove", "--window", str(tk), "700", "170"); pause(0.4)
        for _ in range(3):
            x("click", "5"); time.sleep(0.15)
        actions += 1
        pause(1.0)
        x("mousemove", "--window", str(tk), "100", "420"); pause(0.3)
        x("mousedown", "1")
        for px in range(140, 420, 40):
            x("mousemove", "--window", str(tk), str(px), str(420 + (i * 7 + px) % 200)); time.sleep(0.04)
        x("mouseup", "1"); actions += 1
        pause(1.2)
    return actions


def setup_apps(desk, tmp: Path) -> tuple[int, int]:
    desk.spawn(["xterm", "-T", "bench-term", "-geometry", "100x35+20+20", *TERMINAL_SHELL])
    term = desk.wait_window("^bench-term$")
    desk.spawn([sys.executable, str(WORKBENCH), "--title", "Bench Workbench",
                "--state", str(tmp / "state.json"), "--geometry", "900x700+800+150"])
    tk = desk.wait_window("^Bench Workbench")
    return term, tk


def machine_speed() -> float:
    """CPU seconds a fixed piece of work takes here now (the best of three; lower is
    faster). It shows a machine slowed by other work on its cores; it does not follow all
    of this VM's hour-to-hour drift (the same recorder code read 3.2 % and 3.9 % in hours
    this figure called equal: BENCHMARKS.md, "Latest"), so a CPU claim still needs its
    baseline run in the same job."""
    import zlib

    import numpy as np

    data = np.random.default_rng(1).integers(0, 256, 2**23, dtype=np.uint8)
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        counts: dict[int, int] = {}
        for i in range(800_000):  # bytecode and dicts, as the recorder's Python
            counts[i % 997] = counts.get(i % 997, 0) + i
        zlib.compress(data.tobytes(), 6)  # memory-bound C, as encoding and compares
        int((data.reshape(-1, 1024).astype(np.int32) * 77 >> 8).sum())
        best = min(best, time.process_time() - t0)
    return round(best, 4)


def run_session(desk, tmp: Path, minutes: float, label: str, policy: Path = NO_OCR_POLICY) -> dict:
    speed_before = machine_speed()
    term, tk = setup_apps(desk, tmp)
    data = tmp / label
    proc = start_recorder(desk, data, policy)
    rss: list[int] = []
    sampler = TreeSampler(proc.pid)
    t0 = time.monotonic()
    actions = human_work(desk, term, tk, minutes * 60, rss, proc.pid)
    wall = time.monotonic() - t0
    t_end, tree_end = sampler.stop()
    sid, cpu_s = stop_recorder(proc)
    st = session_stats(data, sid)
    speed_after = machine_speed()
    hours = wall / 3600
    warm = rss[len(rss) // 10:] or rss
    stats = st["meta"].get("stats", {})
    steady = faults = None
    if sampler.warm is not None:
        steady = round(100 * (tree_end - sampler.warm[1]) / (t_end - sampler.warm[0]), 2)
        faults = round((sampler.end_faults - sampler.warm_faults) / (t_end - sampler.warm[0]), 1)
    stages = {k: round(100 * v["cpu_s"] / wall, 2) for k, v in stats.get("stage_cpu", {}).items()}
    return {
        "scenario": label, "wall_s": round(wall, 1), "actions": actions,
        "machine_speed_s": [speed_before, speed_after],
        "cpu_pct_one_core": round(100 * cpu_s / wall, 2),
        "ocr_subprocess_cpu_pct": round(100 * LAST_CHILD_CPU["s"] / wall, 2),
        "tree_cpu_pct_incl_startup": round(100 * (cpu_s + LAST_CHILD_CPU["s"]) / wall, 2),
        "tree_cpu_pct_steady": steady,
        "recorder_minor_faults_per_s_steady": faults,
        "recorder_minor_faults": sampler.end_faults,
        "tree_rss_peak_mb": round(max(sampler.rss or [0]) / 2**20, 1),
        "tree_children_max": sampler.children_max,
        **rss_floors(sampler.own, sampler.warmup_s),
        "stage_cpu_pct": stages,
        "stage_calls": {k: v["calls"] for k, v in stats.get("stage_cpu", {}).items()},
        "thread_cpu_pct": {k: round(100 * v / wall, 2) for k, v in stats.get("thread_cpu_s", {}).items()
                           if v >= 0.01 * wall / 100},
        "ocr_max_backlog": st["meta"].get("stats", {}).get("ocr_max_backlog"),
        "ocr_reads": stats.get("ocr"),  # engine calls, cache hits, pixels read
        "ocr_spilled_to_quarantine": stats.get("ocr_spilled_to_quarantine"),
        "rss_peak_mb": round(max(rss) / 2**20, 1), "rss_after_warmup_mb": round(warm[0] / 2**20, 1),
        "rss_final_mb": round(rss[-1] / 2**20, 1), "rss_growth_mb": round((rss[-1] - warm[0]) / 2**20, 1),
        "frames": st["frames"], "unique_frames": st["unique_frames"],
        "bytes_per_frame": round(st["frame_bytes"] / max(1, st["unique_frames"])),
        "bytes_per_frame_row": round(st["frame_bytes"] / max(1, st["frames"])),
        "storage_mb_per_hour": round(st["bytes_on_disk"] / 2**20 / hours, 1),
        "events": st["events"], "dropped_frames": st["meta"].get("dropped_frames", 0),
        "pointer_source": st["meta"].get("screen", {}).get("pointer", "record"),
        "latency_ms": st["meta"].get("stats", {}).get("latency_ms"),
        "pointer_latency_ms": st["meta"].get("stats", {}).get("pointer_latency_ms"),
    }


def run_idle(desk, tmp: Path, seconds: float) -> dict:
    desk.spawn(["xterm", "-T", "idle-term", "-geometry", "80x24+20+20", *TERMINAL_SHELL])
    desk.wait_window("^idle-term$")
    data = tmp / "idle"
    proc = start_recorder(desk, data)
    time.sleep(3)  # start-up (imports, first frame) is not idle time
    p = psutil.Process(proc.pid)
    c0 = p.cpu_times()
    t0 = time.monotonic()
    time.sleep(seconds)
    c1 = p.cpu_times()
    wall = time.monotonic() - t0
    stop_recorder(proc)
    used = (c1.user + c1.system) - (c0.user + c0.system)
    return {"scenario": "idle", "wall_s": round(wall, 1), "cpu_pct_one_core": round(100 * used / wall, 3)}


class RawMotionWitness:
    """Counts XI2 raw motion events on its own connection: how many pointer motions the
    X server really processed (it merges queued motion events when it falls behind)."""

    def __init__(self, display: str):
        import threading

        from Xlib.display import Display
        from Xlib.ext import xinput

        self.count, self._xi = 0, xinput
        self._d = Display(display)
        self._d.screen().root.xinput_select_events([(xinput.AllMasterDevices, xinput.RawMotionMask)])
        self._d.sync()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        import select

        while not self._stop.is_set():
            select.select([self._d.fileno()], [], [], 0.2)
            while self._d.pending_events():
                if getattr(self._d.next_event(), "evtype", None) == self._xi.RawMotion:
                    self.count += 1

    def stop(self) -> int:
        self._stop.set()
        self._t.join(timeout=2)
        self._d.close()
        return self.count


def run_burst(desk, tmp: Path, moves: int = 5000, keys: int = 1000, sync_every: int = 0) -> dict:
    """``sync_every`` > 0 waits for the X server every that many injected events (still
    ~10,000 events/s); 0 injects without waiting at all."""
    from Xlib import X
    from Xlib.display import Display
    from Xlib.ext import xtest

    desk.spawn(["xterm", "-T", "burst-term", "-geometry", "80x24+20+20", *TERMINAL_SHELL])
    term = desk.wait_window("^burst-term$")
    desk.xdotool("windowactivate", "--sync", str(term))
    data = tmp / f"burst-{sync_every}"
    proc = start_recorder(desk, data)
    witness = RawMotionWitness(desk.display)  # what the server itself produced
    time.sleep(2)
    d = Display(desk.display)
    t0 = time.monotonic()
    for i in range(moves):
        xtest.fake_input(d, X.MotionNotify, x=10 + i % 1800, y=10 + (i * 13) % 1000)
        if sync_every and i % sync_every == sync_every - 1:
            d.sync()
    kc = d.keysym_to_keycode(ord("x"))
    for i in range(keys):  # keys presses + keys releases = 2 * keys key events
        xtest.fake_input(d, X.KeyPress, kc)
        xtest.fake_input(d, X.KeyRelease, kc)
        if sync_every and (2 * i + 2) % sync_every == 0:
            d.sync()
    d.sync()
    inject_s = time.monotonic() - t0
    d.close()
    time.sleep(2)
    server_moves = witness.stop()
    sid, _ = stop_recorder(proc)
    meta = session_stats(data, sid)["meta"]
    decoded = meta["stats"]["decoded"]
    stored = meta["stats"]["events"]
    hook_moves = decoded.get("move", 0)
    hook_keys = decoded.get("key_down", 0) + decoded.get("key_up", 0)
    lost = max(0, moves - hook_moves) + (keys - decoded.get("key_down", 0)) + (keys - decoded.get("key_up", 0))
    return {"scenario": f"burst_sync{sync_every}" if sync_every else "burst_unthrottled",
            "pointer_source": meta["screen"].get("pointer", "record"),
            "key_source": meta["screen"].get("keys", "record"),
            "injected_moves": moves, "injected_key_events": 2 * keys,
            "inject_s": round(inject_s, 3), "hook_moves": hook_moves,
            "server_raw_motions": server_moves,
            "moves_vs_server": f"{hook_moves}/{server_moves}",
            "moves_lost_vs_server": server_moves - hook_moves,
            "hook_key_events": hook_keys, "keys_vs_injected": f"{hook_keys}/{2 * keys}",
            "stored_key_events": stored.get("key_down", 0) + stored.get("key_up", 0),
            "stored_moves_coalesced": stored.get("move", 0), "lost": lost,
            "latency_ms": meta["stats"]["latency_ms"],
            "pointer_latency_ms": meta["stats"].get("pointer_latency_ms")}


def target_misses(results: list[dict]) -> list[str]:
    """Prints each session scenario's figures against :data:`TARGETS`; returns the misses."""
    over = []
    for r in results:
        limits = TARGETS.get(r["scenario"])
        if not limits:
            continue
        got = {"tree CPU steady %": r["tree_cpu_pct_steady"], "peak RSS MB": r["tree_rss_peak_mb"],
               "MB per active hour": r["storage_mb_per_hour"]}
        print(f"\ntargets for {r['scenario']} (machine speed {r['machine_speed_s']} s): "
              + ", ".join(f"{k} {got[k]} <= {v}" for k, v in limits.items()))
        over += [f"{r['scenario']} {k} {got[k]} > {v}" for k, v in limits.items()
                 if got[k] is None or got[k] > v]
    if over:
        print("TARGET MISSED: " + "; ".join(over))
    elif any(r["scenario"] in TARGETS for r in results):
        print("targets: met")
    return over


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--idle-seconds", type=float, default=60)
    ap.add_argument("--soak", type=float, default=0, metavar="MINUTES")
    ap.add_argument("--only", help="comma-separated scenarios: session, session_ocr, idle, burst")
    ap.add_argument("--ocr-minutes", type=float, default=5,
                    help="length of the session scenario with OCR text masking on")
    args = ap.parse_args()
    from workprint.virtual_desktop import VirtualDesktop

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plan = args.only.split(",") if args.only else ["session", "session_ocr", "idle", "burst"]
        if args.soak:
            plan = ["soak"]
        for name in plan:
            with VirtualDesktop(1920, 1080) as desk:
                if name == "session":
                    results.append(run_session(desk, tmp, args.minutes, "session"))
                elif name == "session_ocr":
                    results.append(run_session(desk, tmp, args.ocr_minutes, "session_ocr", POLICY))
                elif name == "soak":
                    results.append(run_session(desk, tmp, args.soak, "soak"))
                elif name == "idle":
                    results.append(run_idle(desk, tmp, args.idle_seconds))
                else:
                    results.append(run_burst(desk, tmp, sync_every=25))
            if name == "burst":
                print(json.dumps(results[-1]), flush=True)
                with VirtualDesktop(1920, 1080) as desk:
                    results.append(run_burst(desk, tmp, sync_every=0))
            print(json.dumps(results[-1]), flush=True)
    out = ROOT / ".bench-out"
    out.mkdir(exist_ok=True)
    (out / "capture.json").write_text(json.dumps(results, indent=2))
    print("\nscenario  metric                     value")
    for r in results:
        for k, v in r.items():
            if k != "scenario":
                print(f"{r['scenario']:9} {k:26} {v}")
    missed = [r["scenario"] for r in results if r["scenario"].startswith("burst")
              and (r["lost"] or r["moves_lost_vs_server"] or r["hook_moves"] != r["injected_moves"])]
    if missed:
        print(f"\nTARGET MISSED: input events lost in {', '.join(missed)}")
    over = target_misses(results)
    return 1 if missed or over else 0


if __name__ == "__main__":
    sys.exit(main())
