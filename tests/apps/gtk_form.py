"""A small GTK 3 form for the grounding tests (run with Debian's /usr/bin/python3: PyGObject
and gir1.2-gtk-3.0 come from apt, not from the venv).

    gtk_form.py --title T --wmclass C --state FILE [--x X --y Y]

Named controls (buttons, check and toggle buttons, labelled text fields, a password field,
a scrolled list). Writes FILE (JSON, replaced atomically) once the window is mapped and
after every change: its pid, each control's screen geometry as GTK itself places it
(toplevel origin + the widget's translated allocation), clicks per button, the text of the
ordinary fields, and of the password field only its length and SHA-256 (its value never
leaves the app).
"""

from __future__ import annotations

import hashlib

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402
from appstate import gtk_geometry, parse_args, write_state  # noqa: E402

BUTTONS = ["Save", "Open", "Close", "Print", "Export", "Import", "Undo", "Redo", "Copy", "Paste",
           "Delete", "Help"]
CHECKS = ["Remember me", "Send copies"]
TOGGLES = ["Bold", "Italic"]
ENTRIES = ["File name", "Comment"]


def main() -> None:
    args = parse_args()
    GLib.set_prgname(args.wmclass.lower())
    Gdk.set_program_class(args.wmclass)

    win = Gtk.Window(title=args.title)
    win.move(args.x, args.y)
    win.set_default_size(900, 620)
    grid = Gtk.Grid(row_spacing=8, column_spacing=8, margin=12)
    win.add(grid)
    widgets: dict[str, Gtk.Widget] = {}
    clicks: dict[str, int] = {}

    def count(_w, name):
        clicks[name] = clicks.get(name, 0) + 1
        write()

    for i, name in enumerate(BUTTONS):
        b = Gtk.Button(label=name)
        b.set_size_request(130, 40)
        b.connect("clicked", count, name)
        grid.attach(b, i % 6, i // 6, 1, 1)
        widgets[name] = b
    for i, name in enumerate(CHECKS):
        c = Gtk.CheckButton(label=name)
        c.connect("toggled", count, name)
        grid.attach(c, i, 2, 1, 1)
        widgets[name] = c
    for i, name in enumerate(TOGGLES):
        t = Gtk.ToggleButton(label=name)
        t.connect("toggled", count, name)
        grid.attach(t, 2 + i, 2, 1, 1)
        widgets[name] = t
    row = 3
    for name in ENTRIES + ["Password"]:
        label = Gtk.Label(label=name + ":", xalign=1.0)
        entry = Gtk.Entry()
        entry.set_size_request(400, 36)
        label.set_mnemonic_widget(entry)
        entry.get_accessible().set_name(name)
        if name == "Password":
            entry.set_visibility(False)
        entry.connect("changed", lambda *_: write())
        grid.attach(label, 0, row, 1, 1)
        grid.attach(entry, 1, row, 3, 1)
        widgets[name] = entry
        row += 1
    rows = Gtk.ListBox()
    for i in range(40):
        rows.add(Gtk.Label(label=f"Row {i + 1}", xalign=0.0))
    scroller = Gtk.ScrolledWindow()
    scroller.set_size_request(500, 200)
    scroller.add(rows)
    scroller.get_accessible().set_name("Files")
    grid.attach(scroller, 0, row, 4, 1)
    widgets["Files"] = scroller

    def write():
        texts = {n: widgets[n].get_text() for n in ENTRIES}
        pw = widgets["Password"].get_text()
        state = {"title": args.title,
                 "widgets": {n: gtk_geometry(w) for n, w in widgets.items()},
                 "clicks": clicks, "texts": texts, "password_len": len(pw),
                 "password_sha256": hashlib.sha256(pw.encode()).hexdigest()}
        write_state(args.state, state)

    def mapped(*_):
        GLib.timeout_add(300, lambda: write() and False)  # after the window manager placed it
        return False

    win.connect("map-event", mapped)
    win.connect("configure-event", lambda *_: GLib.idle_add(lambda: write() and False) and False)
    win.connect("destroy", Gtk.main_quit)
    win.show_all()
    Gtk.main()


if __name__ == "__main__":
    main()
