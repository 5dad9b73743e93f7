"""``workprint view``: the contributor's own view of what was recorded, in a local web page."""

from __future__ import annotations

import argparse

from ._common import add_data_dir, data_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "view", help="see what was recorded about you in a local web page (loopback only)",
        description="Serve a web page on 127.0.0.1 that shows what was recorded: each day's "
                    "timeline (recorded, paused, idle, out of scope, forgotten - with reasons "
                    "and lengths), where each session stands (pending review, approved, "
                    "uploaded, withheld, refused by the collector and why), search over the "
                    "stored (redacted) text, titles and app names, forgetting a span (with "
                    "confirmation; as `workprint forget`), a legend of placeholders and black "
                    "areas, and the episodes step by step (keyframe, action overlay, app and "
                    "window title). Every request needs the random token in the printed URL "
                    "(last line of the output). Serves until Ctrl-C.")
    add_data_dir(p)
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free port)")
    p.add_argument("--image-format", choices=("jpeg", "png"), default="jpeg",
                   help="how keyframes are sent to the page (default jpeg; png is lossless)")
    p.add_argument("--browser", dest="browser", action="store_true",
                   help="also open the page in the default browser")
    p.add_argument("--no-browser", dest="browser", action="store_false",
                   help="do not open a browser (the default)")
    p.set_defaults(func=run, browser=False)


def run(args: argparse.Namespace) -> int:
    from ..viewer.server import serve

    def ready(url: str) -> None:
        print("workprint view: serving the sessions of", data_dir(args), "- press Ctrl-C to stop.")
        print(url, flush=True)
        if args.browser:
            import webbrowser

            webbrowser.open(url)

    try:
        serve(data_dir(args), port=args.port, image_format=args.image_format, on_ready=ready)
    except OSError as exc:
        print(f"workprint view: cannot listen on 127.0.0.1:{args.port}: {exc}")
        return 1
    return 0
