"""Test app: an override-redirect popup (like a menu or a notification), optionally
owned by a managed window of the same X client. Fills both with a solid colour."""

import argparse
import time

from Xlib import X, Xatom
from Xlib.display import Display

ap = argparse.ArgumentParser()
ap.add_argument("--popup", required=True, help="x,y,w,h of the override-redirect popup")
ap.add_argument("--main", help="x,y,w,h of a managed main window of the same client")
ap.add_argument("--class", dest="cls", default="", help="WM_CLASS class ('' = none)")
ap.add_argument("--popup-class", action="store_true", help="set WM_CLASS on the popup too")
ap.add_argument("--colour", default="0xff00ff")
args = ap.parse_args()

d = Display()
s = d.screen()
colour = int(args.colour, 16)


def window(geom: str, override: bool, with_class: bool):
    x, y, w, h = (int(v) for v in geom.split(","))
    win = s.root.create_window(x, y, w, h, 0, s.root_depth, X.InputOutput, X.CopyFromParent,
                               background_pixel=colour, override_redirect=override,
                               event_mask=X.ExposureMask)
    if with_class:
        win.set_wm_class(args.cls.lower(), args.cls)
    win.set_wm_name(f"{args.cls or 'anonymous'} {'popup' if override else 'main'}")
    win.change_property(d.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32, [__import__("os").getpid()])
    win.map()
    return win


if args.main:
    window(args.main, False, bool(args.cls))
window(args.popup, True, bool(args.cls) and args.popup_class)
d.sync()
while True:
    while d.pending_events():
        d.next_event()
    time.sleep(0.1)
