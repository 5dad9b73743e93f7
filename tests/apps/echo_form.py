"""A Tk form that shows what was typed elsewhere on screen, for the screen-text masking tests.

One entry; on Return its value is copied to a second entry, shown in a confirmation label
(wrapped at ``--wrap`` pixels, in ``--fg`` on ``--bg``: low contrast when asked) and
appended to ``--echo FILE`` (a terminal can show it with ``tail -f``). The state - the
value as the app received it - is written as JSON to ``--state FILE``.

Usage: python echo_form.py --title "Echo Form" --state /tmp/s.json [--echo /tmp/echo.txt]
       [--font-size 12] [--fg "#202020"] [--bg "#f4f4f4"] [--wrap 600] [--geometry 900x500+20+20]
"""

from __future__ import annotations

import argparse
import json
import os
import tkinter as tk


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--title", default="Echo Form")
    ap.add_argument("--state", required=True)
    ap.add_argument("--echo")
    ap.add_argument("--font-size", type=int, default=12)
    ap.add_argument("--fg", default="#202020")
    ap.add_argument("--bg", default="#f4f4f4")
    ap.add_argument("--wrap", type=int, default=700)
    ap.add_argument("--geometry", default="900x500+20+20")
    ap.add_argument("--class", dest="cls", default="Workbench", help="WM_CLASS class to claim")
    args = ap.parse_args()

    root = tk.Tk(className=args.cls)
    root.title(args.title)
    root.geometry(args.geometry)
    root.configure(bg=args.bg)
    font = ("DejaVu Sans", args.font_size)
    entry = tk.Entry(root, width=48, font=font)
    entry.place(x=20, y=20)
    copy = tk.Entry(root, width=48, font=font)
    copy.place(x=20, y=70)
    label = tk.Label(root, text="Nothing saved yet", font=font, fg=args.fg, bg=args.bg,
                     wraplength=args.wrap, justify="left", anchor="nw")
    label.place(x=20, y=130)
    entry.focus_set()

    def submit(_event=None) -> None:
        value = entry.get()
        copy.delete(0, "end")
        copy.insert(0, value)
        label.configure(text=f"Saved: {value}")
        if args.echo:
            with open(args.echo, "a", encoding="utf-8") as f:
                f.write(f"saved {value}\n")
        tmp = args.state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"value": value}, f)
        os.replace(tmp, args.state)

    entry.bind("<Return>", submit)
    root.mainloop()


if __name__ == "__main__":
    main()
