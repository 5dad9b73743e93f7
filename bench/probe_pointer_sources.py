"""Which X input mechanisms see every pointer motion of an XTEST flood? (evidence for
capture/linux/x11_xi2_pointer.py; run it under ``flock /tmp/workprint-heavy.lock``, ~30 s).

Each listener is its own process and X connection on a private Xvfb (no window manager).
The injector sends 5,000 absolute XTEST motions to distinct positions without ever waiting
for the server, then one round trip. Scenarios:

* ``record-alone-stalled`` - only a RECORD client, which reads nothing for 0.5 s;
* ``record-stalled+raw``   - the same next to one XI2 raw-motion client;
* ``all``                  - python-xlib RECORD (as x11.py uses it), XI2 raw motion, the
  prototype XI2PointerListener, a core PointerMotion client on the root window.

Printed: motions received per listener.
"""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
MOVES = 5000


def _pos(i: int) -> tuple[int, int]:
    return 10 + i % 1800, 10 + (i * 13) % 1000


def _record_ctx(conn):
    from Xlib import X
    from Xlib.ext import record

    return conn.record_create_context(0, [record.AllClients], [{
        "core_requests": (0, 0), "core_replies": (0, 0), "ext_requests": (0, 0, 0, 0),
        "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
        "device_events": (X.MotionNotify, X.MotionNotify), "errors": (0, 0),
        "client_started": False, "client_died": False}])


def listener(mode: str) -> None:
    """Child process: set up, print "ready", count until stdin says stop (+1.5 s quiet)."""
    import threading

    from Xlib import X, display
    from Xlib.ext import xinput
    from Xlib.protocol import rq

    d = display.Display()
    root = d.screen().root
    n = [0]
    if mode == "record-stalled":  # enable by hand, then recv() raw bytes only after a pause
        ctx = _record_ctx(d)
        d.sync()
        sock = d.display.socket
        sock.sendall(struct.pack("=BBHI", d.query_extension("RECORD").major_opcode, 5, 2, ctx))
        print("ready", flush=True)
        sys.stdin.readline()
        time.sleep(0.5)
        buf = bytearray()
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            if select.select([sock], [], [], 0.2)[0]:
                buf += sock.recv(1 << 20)
        off = 0
        while off + 32 <= len(buf):
            length = struct.unpack_from("=I", buf, off + 4)[0]
            data = buf[off + 32: off + 32 + 4 * length]
            if buf[off + 1] == 0:  # FromServer
                n[0] += sum(1 for j in range(0, len(data) - 31, 32) if data[j] & 0x7F == X.MotionNotify)
            off += 32 + 4 * length
        print(json.dumps({mode: n[0]}), flush=True)
        return
    if mode == "record":  # like capture/linux/x11.py: python-xlib parses every reply
        ctx = _record_ctx(d)
        field = rq.EventField(None)

        def cb(reply):
            data = bytes(reply.data) if reply.category == 0 else b""
            while len(data) >= 32:
                ev, data = field.parse_binary_value(data, d.display, None, None)
                n[0] += ev.type & 0x7F == X.MotionNotify

        threading.Thread(target=lambda: d.record_enable_context(ctx, cb), daemon=True).start()
        print("ready", flush=True)
        sys.stdin.readline()
        time.sleep(1.5)
        print(json.dumps({mode: n[0]}), flush=True)
        os._exit(0)
    if mode == "xi2-pointer":
        from workprint.capture.linux.x11_xi2_pointer import XI2PointerListener

        got: list = []
        lst = XI2PointerListener(lambda: display.Display(), got.append)
        lst.start()
        print("ready", flush=True)
        sys.stdin.readline()
        time.sleep(1.5)
        lst.stop()
        mv = [s for s in got if s.kind == "move"]
        ok = [(s.x, s.y) for s in mv] == [_pos(i) for i in range(MOVES)]
        print(json.dumps({mode: len(mv), "exact": sum(s.exact for s in mv), "positions_ok": ok}), flush=True)
        return
    if mode == "core-root":
        root.change_attributes(event_mask=X.PointerMotionMask)
    elif mode == "xi2-raw":
        root.xinput_select_events([(xinput.AllMasterDevices, xinput.RawMotionMask)])
    d.sync()
    print("ready", flush=True)
    stop_at = None
    while stop_at is None or time.monotonic() < stop_at:
        ready = select.select([d.fileno(), sys.stdin], [], [], 0.2)[0]
        if sys.stdin in ready and stop_at is None:
            sys.stdin.readline()
            stop_at = time.monotonic() + 1.5
        while d.pending_events():
            ev = d.next_event()
            n[0] += ev.type == X.MotionNotify or getattr(ev, "evtype", None) == xinput.RawMotion
    print(json.dumps({mode: n[0]}), flush=True)


def scenario(modes: list[str]) -> dict:
    from Xlib import X, display
    from Xlib.ext import xtest

    from workprint.virtual_desktop import VirtualDesktop

    with VirtualDesktop(1920, 1080, window_manager=False) as vd:
        env = dict(os.environ, DISPLAY=vd.display)
        procs = [subprocess.Popen([sys.executable, __file__, "--listener", m], env=env, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE) for m in modes]
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        d = display.Display(vd.display)
        for i in range(MOVES):
            xtest.fake_input(d, X.MotionNotify, x=_pos(i)[0], y=_pos(i)[1])
        d.sync()
        d.close()
        out: dict = {}
        for p in procs:
            p.stdin.write("stop\n")
            p.stdin.flush()
        for p in procs:
            out.update(json.loads(p.stdout.readline()))
            p.wait(timeout=10)
        return out


def main() -> int:
    if sys.argv[1:2] == ["--listener"]:
        listener(sys.argv[2])
        return 0
    for name, modes in (("record-alone-stalled", ["record-stalled"]),
                        ("record-stalled+raw", ["record-stalled", "xi2-raw"]),
                        ("all", ["record", "xi2-raw", "xi2-pointer", "core-root"])):
        print(name, json.dumps(scenario(modes)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
