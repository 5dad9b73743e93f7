"""``workprint export``: sessions -> AgentNet JSONL, HF dataset folder or Aguvis chat JSONL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..export import FORMATS, export_sessions
from ..export.common import IMAGE_FORMATS
from ._common import add_data_dir, add_policy, data_dir, print_json, progress_bar, resolve_policy


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export sessions as agent training data",
        description="Reduce sessions to actions, pick a keyframe before each, cut episodes at "
                    "task markers and idle gaps, and write them as training data. Output holds "
                    "no per-keystroke timing and no identities; re-running gives the same bytes.")
    add_data_dir(p)
    add_policy(p, help="policy whose [actions] thresholds (multi-click, drag, wait) drive the "
                       "reduction (default: $WORKPRINT_POLICY, else built-in defaults)")
    p.add_argument("--session", action="append", metavar="ID",
                   help="session id or unique prefix (repeatable; default: all sessions)")
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="agentnet: trajectories.jsonl + images/ (OpenCUA); hf: Hub-ready parquet "
                        "dataset folder; aguvis: aguvis.json + aguvis.yaml + images/")
    p.add_argument("--out", required=True, type=Path, metavar="OUT",
                   help="output folder (new, empty, or a previous export to replace)")
    p.add_argument("--image-format", choices=IMAGE_FORMATS, default="jpeg",
                   help="screenshot encoding (default: jpeg q90 4:4:4; png is lossless, slower)")
    p.add_argument("--cot", type=Path, metavar="JSONL",
                   help="fill observation/thought/action text from the JSONL that CoT synthesis "
                        "(OpenCUA's gen_cot) wrote from an agentnet export of these sessions")
    p.add_argument("--aguvis-root", metavar="PATH",
                   help="aguvis: the absolute path this export will have where Aguvis trains on it "
                        "(copied or mounted elsewhere); aguvis.yaml names its files under PATH "
                        "(default: --out, resolved). Aguvis opens the yaml's paths as given, not "
                        "relative to the yaml")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..actions.reduce import ReduceConfig

    with progress_bar("exporting", "steps") as progress:
        summary = export_sessions(data_dir(args), args.session, args.format, args.out, progress,
                                  image_format=args.image_format,
                                  reduce_cfg=ReduceConfig.from_policy(resolve_policy(args.policy, data_dir(args))),
                                  cot=args.cot, aguvis_root=args.aguvis_root)
    for skipped in summary.get("skipped", []):
        print(f"workprint: not exported: {skipped['error']}", file=sys.stderr)
    if args.json:
        print_json(summary)
    else:
        print(f"exported {summary['steps']} steps in {summary['trajectories']} trajectories from "
              f"{summary['sessions']} session(s) as {args.format} to {summary['out']}")
        dropped = summary["dropped"]
        if dropped["steps"]:
            print(f"left out {dropped['steps']} step(s) without a screenshot"
                  + (f" ({dropped['trajectories']} trajectory(ies) had none left)"
                     if dropped["trajectories"] else "") + ": "
                  + "; ".join(f"{n} {why}" for why, n in dropped["reasons"].items()))
        if "cot_steps" in summary:
            print(f"CoT text filled in {summary['cot_steps']} step(s) from {args.cot}")
    return 0
