"""A small Tk work app for the test suite: a form, a notes box, a counter button, a list
to scroll and a canvas to drag on. Its state is written as JSON to ``--state FILE`` after
every change, so tests can check what a recorded or replayed session did to it.

Usage: python workbench.py --title "Tk Workbench" --state /tmp/state.json [--geometry 900x700+600+100]
"""

from __future__ import annotations

import argparse
import json
import os
import tkinter as tk


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--title", default="Tk Workbench")
    ap.add_argument("--state", required=True)
    ap.add_argument("--geometry", default="900x700+600+100")
    ap.add_argument("--class", dest="cls", default="Workbench", help="WM_CLASS class to claim")
    ap.add_argument("--no-class", action="store_true", help="remove WM_CLASS once mapped")
    args = ap.parse_args()

    root = tk.Tk(className=args.cls)
    root.title(args.title)
    root.geometry(args.geometry)
    state = {"name": "", "notes": "", "count": 0, "drags": [], "list_top": 0.0, "selected": None,
             "presses": 0, "wheel": 0}

    def save(*_):
        state["name"] = name.get()
        state["notes"] = notes.get("1.0", "end-1c")
        state["list_top"] = round(listbox.yview()[0], 4)
        sel = listbox.curselection()
        state["selected"] = listbox.get(sel[0]) if sel else None
        tmp = args.state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, args.state)

    tk.Label(root, text="Name").place(x=20, y=20)
    name = tk.Entry(root, width=40)
    name.place(x=100, y=20, width=400, height=28)
    name.bind("<KeyRelease>", save)

    count_label = tk.Label(root, text="Count: 0")
    count_label.place(x=660, y=22)

    def bump():
        state["count"] += 1
        count_label.config(text=f"Count: {state['count']}")
        save()

    tk.Button(root, text="Add one", command=bump).place(x=520, y=18, width=120, height=32)

    notes = tk.Text(root)
    notes.place(x=20, y=70, width=480, height=200)
    notes.bind("<KeyRelease>", save)

    listbox = tk.Listbox(root)
    listbox.place(x=520, y=70, width=340, height=200)
    for i in range(200):
        listbox.insert("end", f"Invoice {1000 + i}")
    listbox.bind("<<ListboxSelect>>", save)
    listbox.bind("<MouseWheel>", lambda e: root.after(50, save))
    listbox.bind("<Button-4>", lambda e: root.after(50, save))
    listbox.bind("<Button-5>", lambda e: root.after(50, save))

    canvas = tk.Canvas(root, bg="white")
    canvas.place(x=20, y=300, width=840, height=360)
    drag = {}

    def press(e):
        drag["start"] = (e.x, e.y)

    def release(e):
        if "start" in drag:
            x0, y0 = drag.pop("start")
            canvas.create_line(x0, y0, e.x, e.y, width=3, fill="navy")
            state["drags"].append([x0, y0, e.x, e.y])
            save()

    canvas.bind("<ButtonPress-1>", press)
    canvas.bind("<ButtonRelease-1>", release)
    def pressed(e):  # every button press anywhere in the app (wheel ticks are buttons 4-7)
        if e.num in (4, 5, 6, 7):
            state["wheel"] += 1
        else:
            state["presses"] += 1
        root.after(30, save)

    root.bind_all("<ButtonPress>", pressed, add="+")
    root.bind_all("<MouseWheel>", lambda e: (state.__setitem__("wheel", state["wheel"] + 1),
                                             root.after(30, save)), add="+")
    if args.no_class:
        def drop_class():
            from Xlib import display

            d = display.Display()
            # Tk's wrapper (the client window the WM manages) is the parent of the toplevel
            wrapper = d.create_resource_object("window", root.winfo_id()).query_tree().parent
            if wrapper.get_wm_class() is not None:
                wrapper.delete_property(d.intern_atom("WM_CLASS"))
            d.sync()
            d.close()
        # Tk sets WM_CLASS when it maps the window: take it away once mapped, and again
        # should Tk set it anew
        root.bind("<Map>", lambda e: root.after(100, drop_class), add="+")
        root.after(500, drop_class)
    root.after(100, save)
    root.mainloop()


if __name__ == "__main__":
    main()
