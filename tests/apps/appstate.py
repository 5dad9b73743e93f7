"""What the grounding test apps (gtk_form.py, qt_form.py, vte_term.py) share: their command
line and the state file through which they tell a test what their toolkit did.

    SCRIPT --title T --wmclass C --state FILE [--x X --y Y]

Imported by the apps themselves (run as scripts, so this folder is first on their path),
under Debian's /usr/bin/python3: standard library only.
"""

from __future__ import annotations

import argparse
import json
import os


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--title", required=True)
    ap.add_argument("--wmclass", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--x", type=int, default=100)
    ap.add_argument("--y", type=int, default=100)
    return ap.parse_args()


def write_state(path: str, state: dict) -> None:
    """Replace the state file atomically (a test never reads half a file); the app's pid is
    added."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"pid": os.getpid(), **state}, f)
    os.replace(tmp, path)


def gtk_geometry(widget) -> dict | None:
    """A GTK 3 widget's screen box as GTK places it: the toplevel's origin plus the widget's
    position in it, and its allocated size. None before the toplevel has a window."""
    top = widget.get_toplevel().get_window()
    if top is None:
        return None
    _, ox, oy = top.get_origin()
    x, y = widget.translate_coordinates(widget.get_toplevel(), 0, 0)
    return {"x": ox + x, "y": oy + y, "w": widget.get_allocated_width(), "h": widget.get_allocated_height()}
