"""A tiny VTE terminal window for the grounding tests (run with Debian's /usr/bin/python3:
PyGObject, gir1.2-gtk-3.0 and gir1.2-vte-2.91 come from apt).

    vte_term.py --title T --wmclass C --state FILE [--x X --y Y]

A GTK 3 window holding a ``Vte.Terminal`` that runs ``/bin/sh`` (no rc files) above a
"Clear" button. Writes FILE (JSON, replaced atomically) once the shell runs and after
every change: its pid, the terminal's and the button's screen geometry as GTK places them,
the button's clicks, and the terminal's visible text (so a test can see that typed input
reached the shell).
"""

from __future__ import annotations

import os

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
gi.require_version("Vte", "2.91")
from gi.repository import Gdk, GLib, Gtk, Vte  # noqa: E402
from appstate import gtk_geometry, parse_args, write_state  # noqa: E402


def main() -> None:
    args = parse_args()
    GLib.set_prgname(args.wmclass.lower())
    Gdk.set_program_class(args.wmclass)

    win = Gtk.Window(title=args.title)
    win.move(args.x, args.y)
    win.set_default_size(760, 480)
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6, margin=8)
    win.add(box)
    term = Vte.Terminal()
    term.set_size(80, 20)
    box.pack_start(term, True, True, 0)
    clear = Gtk.Button(label="Clear")
    clear.set_size_request(120, 36)
    box.pack_start(clear, False, False, 0)
    clicks = {"Clear": 0}
    widgets = {"Terminal": term, "Clear": clear}

    def write():
        text = term.get_text_range(0, 0, term.get_row_count() - 1, term.get_column_count(), None)
        text = text[0] if isinstance(text, tuple) else text
        state = {"title": args.title,
                 "widgets": {n: gtk_geometry(w) for n, w in widgets.items()},
                 "clicks": clicks, "text": text or ""}
        write_state(args.state, state)

    def clicked(_b):
        clicks["Clear"] += 1
        write()

    clear.connect("clicked", clicked)
    term.connect("contents-changed", lambda *_: write())
    env = [f"{k}={v}" for k, v in os.environ.items()] + ["PS1=$ ", "ENV="]
    term.spawn_async(Vte.PtyFlags.DEFAULT, os.environ.get("HOME", "/"), ["/bin/sh"], env,
                     GLib.SpawnFlags.DEFAULT, None, None, -1, None, None, None)

    def mapped(*_):
        GLib.timeout_add(300, lambda: write() and False)
        return False

    win.connect("map-event", mapped)
    win.connect("configure-event", lambda *_: GLib.idle_add(lambda: write() and False) and False)
    win.connect("destroy", Gtk.main_quit)
    win.show_all()
    Gtk.main()


if __name__ == "__main__":
    main()
