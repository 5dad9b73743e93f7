"""``workprint replay``: run an exported AgentNet trajectory on the current X display."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..export.replay import Pace, load_trajectory, plan_steps, replay


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay", help="replay an exported trajectory on this screen",
        description="Execute the steps of an AgentNet export (workprint export --format agentnet) "
                    "on $DISPLAY through XTEST, at human pace, with coordinates scaled to the "
                    "current screen. Typed placeholders such as <PASSWORD> are typed literally.")
    p.add_argument("export", type=Path, metavar="EXPORT",
                   help="an AgentNet export folder or one of its .jsonl files")
    p.add_argument("--trajectory", required=True, metavar="ID", help="task_id of the trajectory")
    p.add_argument("--dry-run", action="store_true", help="only print the steps")
    p.add_argument("--speed", type=float, default=1.0, metavar="F",
                   help="pace multiplier (2 = twice as fast; default 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    traj = load_trajectory(args.export, args.trajectory)
    n = len(traj["traj"])
    head = f"trajectory {traj['task_id']}: {traj.get('instruction') or '(unlabelled)'} - {n} steps"
    if args.dry_run:
        screen = traj["screen"]
        plans = plan_steps(traj, (screen["width"], screen["height"]), speed=args.speed)
        print(head)
        for step, ops in zip(traj["traj"], plans):
            events = sum(1 for op in ops if op[0] != "sleep")
            print(f"{step['index']:4d}  {step['value']['code'].replace(chr(10), '; ')}"
                  f"   [{events} input events]")
        return 0
    from ..capture.linux.xtest import X11Injector

    injector = X11Injector()
    try:
        print(head)
        replay(traj, injector, speed=args.speed, pace=Pace(),
               on_step=lambda i, s: print(f"{i:4d}  {s['value']['code'].replace(chr(10), '; ')}",
                                          flush=True))
    finally:
        injector.close()
    return 0
