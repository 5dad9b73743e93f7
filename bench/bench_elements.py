"""UI-element latency and grounding on a virtual 1920x1080 screen (issue 15).

``workprint record`` with a private session bus (D-Bus activation starts the accessibility
bus) and the GTK 3 form of the grounding test (tests/apps/gtk_form.py, run by Debian's
Python), clicked the way a person does: the pointer moves to a control, rests there
``--hover`` seconds (default: drawn from 0.05-0.6 s), clicks; every named control in turn,
``--rounds`` times (default 6: 96 clicks), with a typed run into a text field after each
round. With ``--no-rest`` each click is one ``xdotool mousemove X Y click 1`` (the pointer
jumps onto the control and clicks at once, as in tests/test_grounding_x11.py), 0.12 s apart.
The policy is bench/policy-no-ocr.toml with the form allowed.

Reports the element locator's figures from the session's stats (input event -> element
handed to the gate, p50/p99/max; its parts: input -> the locator starts on it, and the
time inside AT-SPI; and ``added_ms``, the processor's ask -> element handed to the gate:
what the element adds to the input pipeline the event goes through anyway; and the
input -> element latency of presses and of keys apart) and the
grounding rate: clicks whose element has the control's role
and name and a box within 4 px of where GTK placed it (the app writes its own widget
geometry). Prints a table and writes .bench-out/elements.json.

    heavy env PYTHONPATH=src .venv/bin/python bench/bench_elements.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
WORKPRINT = [sys.executable, "-m", "workprint.cli"]
FIELDS = ("File name", "Comment", "Password")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--hover", type=float, default=None, help="fixed rest before each click (s)")
    ap.add_argument("--no-rest", action="store_true",
                    help="no rest: each click is one `xdotool mousemove X Y click 1` (as in the grounding test)")
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    from test_atspi import PrivateSession  # the private bus of the accessibility tests
    from test_grounding_x11 import BOX_TOLERANCE_PX, NAMED, center, policy_file, start_form

    from workprint.virtual_desktop import VirtualDesktop

    rnd = random.Random(args.seed)
    controls = [n for n in NAMED if n not in FIELDS]
    with tempfile.TemporaryDirectory() as tmp, VirtualDesktop(1920, 1080) as desk:
        tmp = Path(tmp)
        session = PrivateSession(tmp, desk.display)
        form = None
        try:
            policy = policy_file(tmp)
            data = tmp / "data"
            subprocess.run([*WORKPRINT, "notice", "--accept", "--data-dir", str(data), "--policy", str(policy)],
                           check=True, capture_output=True)
            rec = subprocess.Popen([*WORKPRINT, "record", "--data-dir", str(data), "--policy", str(policy)],
                                   env=session.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            while "recording session" not in (line := rec.stderr.readline()):
                if not line:
                    raise RuntimeError("the recorder did not start")
            form, state = start_form(session.env, tmp, "Grounding Form", "Gtkform", 60, 60)
            time.sleep(0.6)
            geo = json.loads(state.read_text())["widgets"]
            desk.xdotool("windowactivate", "--sync", str(desk.wait_window("^Grounding Form$")))
            time.sleep(0.3)
            clicked = []
            t0 = time.monotonic()
            for r in range(args.rounds):
                for name in controls:
                    x, y = center(geo[name])
                    if args.no_rest:
                        desk.xdotool("mousemove", str(x), str(y), "click", "1")
                        clicked.append(name)
                        time.sleep(0.12)
                        continue
                    desk.xdotool("mousemove", str(x - 30), str(y - 12))
                    time.sleep(0.03)
                    desk.xdotool("mousemove", str(x), str(y))
                    time.sleep(args.hover if args.hover is not None else rnd.uniform(0.05, 0.6))
                    desk.xdotool("click", "1")
                    clicked.append(name)
                    time.sleep(0.1)
                field = FIELDS[r % 2]
                x, y = center(geo[field])
                if args.no_rest:
                    desk.xdotool("mousemove", str(x), str(y), "click", "1")
                else:
                    desk.xdotool("mousemove", str(x), str(y))
                    time.sleep(0.2)
                    desk.xdotool("click", "1")
                clicked.append(field)
                time.sleep(0.3)
                desk.xdotool("type", "--delay", "60", f"entry {r}")
                desk.xdotool("key", "Tab")
                time.sleep(0.3)
            seconds = time.monotonic() - t0
            rec.send_signal(signal.SIGINT)
            out, err = rec.communicate(timeout=120)
            if rec.returncode != 0:
                raise RuntimeError(f"recorder failed: {err[-2000:]}")
            sid = out.strip().splitlines()[-1]
            report = json.loads(subprocess.run([*WORKPRINT, "inspect", sid, "--data-dir", str(data), "--json"],
                                               capture_output=True, text=True, check=True).stdout)
        finally:
            if form is not None:
                form.terminate()
                form.wait(timeout=5)
            session.close()
    stats = report["meta"]["stats"]["elements"]
    clicks = [a for a in report["actions"] if a["kind"] in ("click", "doubleClick", "tripleClick")]
    right = 0
    for name, a in zip(clicked, clicks):
        el, g = a["element"], geo[name]
        right += bool(el and el["role"] == NAMED[name] and el["name"] == name and el["box"] and all(
            abs(p - q) <= BOX_TOLERANCE_PX for p, q in zip(el["box"], (g["x"], g["y"], g["w"], g["h"]))))
    result = {"mode": "no-rest" if args.no_rest else ("hover %.2f s" % args.hover if args.hover is not None
                                                        else "rest 0.05-0.6 s"),
              "clicks": len(clicked), "clicks_stored": len(clicks), "grounded": right,
              "grounding_rate": round(right / len(clicked), 4), "seconds": round(seconds, 1),
              "latency_ms": stats.get("latency_ms"), "wait_ms": stats.get("wait_ms"),
              "source_ms": stats.get("source_ms"), "added_ms": stats.get("added_ms"),
              "point_latency_ms": stats.get("point_latency_ms"), "focus_latency_ms": stats.get("focus_latency_ms"),
              "counts": {k: stats[k] for k in ("requests", "found", "none", "stale", "late", "errors",
                                                "queue_full", "warmups", "source_calls", "source_round_trips")
                         if k in stats}}
    asked = stats.get("found", 0) + stats.get("none", 0) + stats.get("warmups", 0)
    if asked and "source_round_trips" in stats:
        result["round_trips_per_query"] = round(stats["source_round_trips"] / asked, 2)
        result["calls_per_query"] = round(stats["source_calls"] / asked, 2)
    out_dir = ROOT / ".bench-out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / ("elements-no-rest.json" if args.no_rest else "elements.json")).write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    print("\nmetric                      value")
    for k in ("latency_ms", "wait_ms", "source_ms", "added_ms", "point_latency_ms", "focus_latency_ms"):
        v = result[k] or {}
        print(f"{k:27} p50 {v.get('p50')}  p99 {v.get('p99')}  max {v.get('max')}  n {v.get('n')}")
    print(f"{'grounding (clicks)':27} {right}/{len(clicked)} = {result['grounding_rate']:.3f}")
    print(f"{'per query (incl. warm-ups)':27} {result.get('round_trips_per_query')} round trips, "
          f"{result.get('calls_per_query')} calls; {result['counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
