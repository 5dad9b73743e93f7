"""Test app: a stand-in screen locker / password dialog that takes the keyboard without any
focus change a window manager announces, and records what it received in a JSON state file
(the proof that typed keys reached it).

Modes:
  fullscreen  an override-redirect window over the whole screen, keyboard and pointer grabbed
              (i3lock / xsecurelock style)
  nowindow    the keyboard grabbed on the root window, no window at all (slock-like grab)
  dialog      a small override-redirect window with the keyboard grabbed (pinentry / polkit)
  focus       a small override-redirect window that takes the input focus, no grab
  xi2         a small override-redirect window with the master keyboard grabbed through
              XInput 2 (XIGrabDevice: how GTK 3 dialogs grab, gdk_seat_grab), keys read as
              XI2 events

It unlocks (ungrabs, unmaps, writes ``"unlocked": true``) when Return is typed.
"""

import argparse
import json
import os
import time

from Xlib import X, XK
from Xlib.display import Display

ap = argparse.ArgumentParser()
ap.add_argument("--mode", choices=["fullscreen", "nowindow", "dialog", "focus", "xi2"], required=True)
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

keyboard = None
if args.mode == "focus":
    target.set_input_focus(X.RevertToParent, X.CurrentTime)
    state["grabbed"] = True  # has the keyboard focus
elif args.mode == "xi2":
    from Xlib.ext import xinput

    d.xinput_query_version()
    keyboard = next(dev.deviceid for dev in d.xinput_query_device(xinput.AllMasterDevices).devices
                    if dev.use == xinput.MasterKeyboard)
    for _ in range(100):
        reply = target.xinput_grab_device(keyboard, X.CurrentTime, xinput.GrabModeAsync, xinput.GrabModeAsync,
                                          False, xinput.KeyPressMask | xinput.KeyReleaseMask)
        status = reply.status
        if status == X.GrabSuccess:
            break
        time.sleep(0.05)
    state["grabbed"] = status == X.GrabSuccess
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
    if keyboard is not None:  # XI2 events of the grabbed master keyboard
        if ev.type != 35 or ev.evtype != xinput.KeyPress:  # 35: GenericEvent
            continue
        code, shift = ev.data.detail, ev.data.mods.effective_mods & X.ShiftMask
    elif ev.type != X.KeyPress:
        continue
    else:
        code, shift = ev.detail, ev.state & X.ShiftMask
    sym = d.keycode_to_keysym(code, 1 if shift else 0)
    if sym in (XK.XK_Return, XK.XK_KP_Enter, XK.XK_Linefeed):
        if keyboard is not None:
            d.xinput_ungrab_device(keyboard, X.CurrentTime)
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
