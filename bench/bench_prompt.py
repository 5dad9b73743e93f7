"""Terminal prompts read off the screen (capture/linux/terminal_text.PromptReader), on Xvfb.

For each terminal set-up (xterm's default bitmap font at 80x24, xterm with DejaVu Sans
Mono 13 px maximised to 1920x1080, light-on-dark colours) a script shows prompts that
echo (``read -p``), some asking for a secret and some not. Reported per set-up:

* detection: secret prompts recognised (recall) and ordinary prompts left alone;
* cost: the first read of a prompt (grab + OCR, once per prompt line) and the per-key
  check while the answer is typed (grab + pixel signature, cached verdict).

Run: ``python bench/bench_prompt.py`` (or ``make bench``); needs Xvfb, openbox, xterm,
xdotool and tesseract (``make setup`` installs them).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from workprint.capture.linux.terminal_text import PromptReader, ScreenRegionGrabber  # noqa: E402
from workprint.capture.linux.x11 import _open_display, describe_window  # noqa: E402
from workprint.virtual_desktop import TERMINAL_SHELL, VirtualDesktop  # noqa: E402

SECRET_PROMPTS = ["Password: ", "Enter PIN: ", "[sudo] password for alice: ",
                  "Enter passphrase for key '/home/alice/.ssh/id_ed25519': ", "Vault password: ",
                  "Passwort: ", "Verification code: ", "Password for 'https://alice@git.example.com': "]
ORDINARY_PROMPTS = ["Project name: ", "Continue? [y/N] ", "Enter the file name: ", "Branch to deploy: "]
SETUPS = {
    "xterm-fixed-80x24": ["-geometry", "80x24+20+20"],
    "xterm-dejavu13-fullscreen": ["-fa", "DejaVu Sans Mono", "-fs", "10", "-geometry", "200x60+0+0",
                                  "-maximized"],
    "xterm-dark-dejavu": ["-fa", "DejaVu Sans Mono", "-fs", "11", "-bg", "#1e1e1e", "-fg", "#d0d0d0",
                          "-geometry", "100x30+40+40"],
}


def run_setup(vd: VirtualDesktop, name: str, args: list[str]) -> dict:
    title = f"prompt-{name}"
    vd.spawn(["xterm", "-T", title, *args, *TERMINAL_SHELL])
    wid = vd.wait_window(f"^{title}$")
    vd.xdotool("windowactivate", "--sync", str(wid))
    time.sleep(0.5)
    geometry = describe_window(_open_display(vd.display), wid).geometry
    reader = PromptReader(ScreenRegionGrabber(vd.display))
    hits, misses, false_alarms, first_ms, key_ms = 0, [], [], [], []
    for i, prompt in enumerate(SECRET_PROMPTS + ORDINARY_PROMPTS):
        secret = prompt in SECRET_PROMPTS
        vd.xdotool("type", "--delay", "5", f"clear; read -p \"{prompt}\" v\n" if i % 3 == 0
                   else f"read -p \"{prompt}\" v\n")
        time.sleep(0.6)
        reader.submitted()
        t = time.perf_counter()
        verdict = reader(geometry, (wid, i))
        first_ms.append((time.perf_counter() - t) * 1000)
        for ch in "x7k2q":
            vd.xdotool("type", ch)
            time.sleep(0.05)
            t = time.perf_counter()
            again = reader(geometry, (wid, i))
            key_ms.append((time.perf_counter() - t) * 1000)
            verdict = verdict if again == verdict else again
        vd.xdotool("key", "Return")
        time.sleep(0.2)
        if secret and verdict is True:
            hits += 1
        elif secret:
            misses.append(prompt.strip())
        elif verdict is not False:
            false_alarms.append(prompt.strip())
    reads = reader.reads
    vd.xdotool("windowkill", str(wid))
    n = len(SECRET_PROMPTS + ORDINARY_PROMPTS)
    return {"setup": name, "window": f"{geometry.width}x{geometry.height}",
            "recall": f"{hits}/{len(SECRET_PROMPTS)}", "missed": misses,
            "ordinary_flagged": false_alarms, "ocr_reads": f"{reads} for {n} prompts x 6 checks",
            "first_read_ms_median": round(statistics.median(first_ms), 1),
            "first_read_ms_max": round(max(first_ms), 1),
            "per_key_ms_median": round(statistics.median(key_ms), 2),
            "per_key_ms_p90": round(sorted(key_ms)[int(0.9 * len(key_ms))], 2)}


def main() -> int:
    vd = VirtualDesktop().start()
    try:
        results = [run_setup(vd, name, args) for name, args in SETUPS.items()]
    finally:
        vd.stop()
    for r in results:
        print(r)
    bad = [r for r in results if r["missed"] or r["ordinary_flagged"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
