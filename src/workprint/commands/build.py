"""``workprint build``: the collector's approved chunks -> a versioned training dataset."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from ..errors import UsageError
from ._common import add_data_dir, data_dir, print_json, progress_bar


def register(sub: argparse._SubParsersAction) -> None:
    from ..build.engine import ENGINES
    from ..build.shards import SHARD_BYTES, SHARD_STEPS
    from ..export import FORMATS
    from ..export.common import IMAGE_FORMATS

    p = sub.add_parser(
        "build", help="build a versioned training dataset from the collector's store",
        description="Run next to the collector's store (the same store options as `serve`). Reads "
                    "every complete session, verifies its chunks, reduces and keyframes it with the "
                    "code of `workprint export`, applies the filters and writes OUT/v<N>/: shards of "
                    "bounded size, images, manifest.json. The same input gives the same bytes on "
                    "every engine and worker count. --rebuild NAME writes a new version without "
                    "erased contributors and deletes the versions that held them.")
    add_data_dir(p)
    p.add_argument("--blobs", metavar="URL", help="the collector's blob store (as for `serve`)")
    p.add_argument("--db", metavar="URL", help="the collector's metadata database (as for `serve`)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--format", choices=FORMATS, help="agentnet (JSONL shards + images/), hf "
                      "(parquet shards, images embedded) or aguvis (JSON shards + aguvis.yaml + images/)")
    what.add_argument("--rebuild", metavar="DATASET",
                      help="rebuild DATASET without erased contributors (same parameters as its "
                           "latest version), then delete the versions that held them")
    what.add_argument("--list", action="store_true", help="list dataset versions (with --json: all fields)")
    p.add_argument("--name", default="workprint", metavar="DATASET", help="dataset name (default workprint)")
    p.add_argument("--out", metavar="DIR|s3://BUCKET/PREFIX",
                   help="where the dataset goes (a folder or S3; each version under v<N>/). An s3:// URL "
                        "without ?endpoint=, region or credentials takes them from the collector's S3 --blobs")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: in this process; ray: Ray Data (a local Ray, or --ray-address); "
                        "ray-tasks: the same as plain Ray tasks (lighter on small clusters, BENCHMARKS.md)")
    p.add_argument("--ray-address", metavar="ADDR", help="an existing Ray cluster (e.g. ray://head:10001)")
    p.add_argument("--workers", type=int, default=2, help="Ray tasks in parallel (default 2)")
    p.add_argument("--withdraw", choices=("delete", "tombstone"),
                   help="with --rebuild: delete the versions that held erased contributors (default), or "
                        "delete their objects and leave TOMBSTONE.json saying the version was withdrawn")
    p.add_argument("--image-format", choices=IMAGE_FORMATS, default="jpeg")
    p.add_argument("--shard-steps", type=int, default=SHARD_STEPS, help=f"steps per shard at most (default {SHARD_STEPS})")
    p.add_argument("--shard-mb", type=float, default=SHARD_BYTES / 2**20,
                   help=f"image MiB per shard at most (default {SHARD_BYTES // 2**20})")
    f = p.add_argument_group("filters")
    f.add_argument("--min-steps", type=int, default=1, help="trajectories with at least N steps")
    tasks = f.add_mutually_exclusive_group()
    tasks.add_argument("--tasks-only", action="store_true", help="only labelled tasks")
    tasks.add_argument("--no-tasks", action="store_true", help="only unlabelled work")
    f.add_argument("--max-redacted-share", type=float, default=1.0, metavar="S",
                   help="leave out trajectories whose typed text is more than S placeholders (0-1)")
    f.add_argument("--keep-duplicates", action="store_true", help="keep identical trajectories")
    f.add_argument("--since", metavar="YYYY-MM-DD", help="sessions the collector received on or after")
    f.add_argument("--until", metavar="YYYY-MM-DD", help="sessions the collector received before")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..build import Filters, build_dataset, list_datasets, rebuild_dataset
    from ..server.config import CollectorConfig

    cfg = CollectorConfig.load(data_dir(args), args.blobs, args.db)
    if args.list:
        rows = list_datasets(cfg)
        if args.json:
            print_json(rows)
        else:
            for d in rows:
                due = (f"  rebuild due {datetime.fromtimestamp(d['rebuild_due'], timezone.utc):%Y-%m-%d %H:%M} UTC"
                       if d.get("rebuild_due") else "")
                print(f"{d['name']}@v{d['version']}  {d['state']}  {d['format']}  {d['location']}{due}")
        return 0
    if args.rebuild:
        got = rebuild_dataset(cfg, args.rebuild, engine=args.engine, workers=args.workers,
                              ray_address=args.ray_address, withdraw=args.withdraw)
        if args.json:
            print_json(got)
        else:
            built = got["built"]
            print(f"built {built['id']} in {built['engine']['name']}: {built['counts']['steps']} steps"
                  if built else "nothing left to build without the erased sessions")
            print(f"{'withdrawn (tombstone left)' if got['withdraw'] == 'tombstone' else 'deleted'} "
                  f"version(s): {', '.join(map(str, got['deleted'])) or 'none'}")
        return 0
    if args.out is None:
        raise UsageError("give --out DIR: where the dataset's versions go")
    filters = Filters(min_steps=args.min_steps,
                      tasks="only" if args.tasks_only else "none" if args.no_tasks else "all",
                      max_redacted_share=args.max_redacted_share, dedupe=not args.keep_duplicates,
                      since=args.since, until=args.until)
    with progress_bar("building", "sessions") as progress:
        man = build_dataset(cfg, name=args.name, fmt=args.format, out=args.out, engine=args.engine,
                            workers=args.workers, ray_address=args.ray_address, filters=filters,
                            image_format=args.image_format, shard_steps=args.shard_steps,
                            shard_bytes=int(args.shard_mb * 2**20), progress=progress)
    where = man["location"]
    if args.json:
        print_json({k: v for k, v in man.items() if k not in ("files", "sessions", "location")} | {"out": where})
    else:
        c = man["counts"]
        print(f"built {man['id']}: {c['steps']} steps in {c['trajectories']} trajectories from "
              f"{c['sessions']} session(s), {c['shards']} shard(s), {args.format}, engine "
              f"{man['engine']['name']} -> {where}")
    return 0
