"""Cost of judging a composed unit (policy/keys.mask_unit) as it grows: a typical command
line, a paragraph, a line edited in the middle, and the cap (MAX_UNIT_KEYS key events).

Prints, per shape: characters, key events, median ms per judgement, and us per key event -
the last must stay flat as units grow (no quadratic work over a long held unit).

Run (serialised with other heavy jobs on this machine):
    heavy .venv/bin/python bench/bench_compose.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from workprint.events import KeyEvent  # noqa: E402
from workprint.policy.gate import MAX_UNIT_KEYS  # noqa: E402
from workprint.policy.keys import mask_unit  # noqa: E402
from workprint.policy.redact_text import Redactor  # noqa: E402

WORDS = ("deploy the service to staging and check the logs for errors before the review "
         "meeting with the team tomorrow morning").split()


def keys_for(text: str, edits: int = 0, seed: int = 1) -> list[KeyEvent]:
    rnd = random.Random(seed)
    out, t = [], 0
    for i, c in enumerate(text):
        t += 1000
        out += [KeyEvent(t, True, 10 + ord(c) % 80, 0, c, c), KeyEvent(t + 500, False, 10 + ord(c) % 80, 0, c, c)]
        if edits and rnd.random() < edits / max(1, len(text)):
            out += [KeyEvent(t + 600, True, 113, 0, "Left"), KeyEvent(t + 700, False, 113, 0, "Left"),
                    KeyEvent(t + 800, True, 22, 0, "BackSpace"), KeyEvent(t + 900, False, 22, 0, "BackSpace"),
                    KeyEvent(t + 950, True, 115, 0, "End"), KeyEvent(t + 990, False, 115, 0, "End")]
    return out


def text_of(n: int, seed: int = 2) -> str:
    rnd = random.Random(seed)
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < n:
        words.append(rnd.choice(WORDS))
    return " ".join(words)[:n]


def main() -> None:
    red = Redactor(username=None, hostname=None)
    shapes = [("command line", keys_for("git commit -m 'fix the parser' && git push origin main")),
              ("paragraph 400", keys_for(text_of(400))),
              ("paragraph 1000", keys_for(text_of(1000))),
              ("1000, 40 edits", keys_for(text_of(1000), edits=40)),
              ("2000 + token", keys_for(text_of(2000) + " token ghp_Q3xr7TmLk2Vw9Hc4Nb6Yp1Zd8Fs5Gj0Ka2Lq")),
              (f"cap ({MAX_UNIT_KEYS} keys)", keys_for(text_of(MAX_UNIT_KEYS // 2))[:MAX_UNIT_KEYS])]
    mask_unit(shapes[0][1], red)  # warm up the detectors
    print(f"{'unit':<22}{'chars':>7}{'keys':>7}{'ms median':>11}{'us/key':>9}")
    for name, keys in shapes:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            unit = mask_unit(keys, red)
            times.append((time.perf_counter() - t0) * 1000)
        ms = statistics.median(times)
        print(f"{name:<22}{len(unit.composed):>7}{len(keys):>7}{ms:>11.2f}{ms * 1000 / len(keys):>9.1f}")


if __name__ == "__main__":
    main()
