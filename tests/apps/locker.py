"""Test app: a stand-in screen locker / password dialog that takes the keyboard without any
focus change a window manager announces, and records what it received in a JSON state file
(the proof that typed keys reached it).

Modes:
  fullscreen  an override-redirect window over the whole screen, keyboard and pointer grabbed
              (i3lock / xsecurelock style)
  nowindow    the keyboard grabbed on the root window, no window at all (slock-like grab)
  dialog      a small override-redirect window with the keyboard grabbed (pinentry / polkit)
  focus       a small override-redirect window that takes the input focus, no grab

It unlocks (ungrabs, unmaps, writes ``"unlocked": true``) when Return is typed.
"""

import argparse
import json
import os
import time

from Xlib import X, XK
from Xlib.display import Display

ap = argparse.ArgumentParser()
ap.add_argument("--mode", choices=["fullscreen", "nowindow", "dialog", "focus"], required=True)
ap.add_argument("--state", required=True)
ap.add_argument("--exit-after-unlock", action="store_true")
args = ap.parse_args()

d = Display()
s = d.screen()
root = s.root
state = {"mode": args.mode, "grabbed": False, "typed": "", "unlocked": False, "pid": os.getpid()}


def save() -> None:
    tmp = args.state + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, args.state)


win = None
if args.mode != "nowindow":
    if args.mode == "fullscreen":
        geo = (0, 0, s.width_in_pixels, s.height_in_pixels)
    else:
        geo = (700, 400, 420, 160)
    win = root.create_window(*geo, 0, s.root_depth, X.InputOutput, X.CopyFromParent,
                             background_pixel=0x202020, override_redirect=True,
                             event_mask=X.KeyPressMask | X.KeyReleaseMask | X.ExposureMask)
    win.map()
    d.sync()
    time.sleep(0.2)
target = win if win is not None else root

if args.mode == "focus":
    target.set_input_focus(X.RevertToParent, X.CurrentTime)
    state["grabbed"] = True  # has the keyboard focus
else:
    for _ in range(100):  # the window manager may hold a grab for a moment
        status = target.grab_keyboard(False, X.GrabModeAsync, X.GrabModeAsync, X.CurrentTime)
        if status == X.GrabSuccess:
            break
        time.sleep(0.05)
    state["grabbed"] = status == X.GrabSuccess
    if args.mode == "fullscreen":
        target.grab_pointer(False, X.ButtonPressMask, X.GrabModeAsync, X.GrabModeAsync, X.NONE, X.NONE,
                            X.CurrentTime)
d.sync()
save()

while not state["unlocked"]:
    ev = d.next_event()
    if ev.type != X.KeyPress:
        continue
    shift = ev.state & X.ShiftMask
    sym = d.keycode_to_keysym(ev.detail, 1 if shift else 0)
    if sym in (XK.XK_Return, XK.XK_KP_Enter, XK.XK_Linefeed):
        d.ungrab_keyboard(X.CurrentTime)
        d.ungrab_pointer(X.CurrentTime)
        if win is not None:
            win.unmap()
        d.sync()
        state["unlocked"] = True
    elif sym == XK.XK_BackSpace:
        state["typed"] = state["typed"][:-1]
    elif 0x20 <= sym <= 0x7E:
        state["typed"] += chr(sym)
    save()

save()
if not args.exit_after_unlock:
    while True:
        time.sleep(0.2)
        while d.pending_events():
            d.next_event()
