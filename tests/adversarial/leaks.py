"""Where a secret could have gone, look: the leak checks every adversarial test shares.

A leak test first proves that its input reached the app and that the recorder was recording
(:func:`spelled` must show an ordinary marker typed in the same session, the app's own state
must show the secret arrived); then :func:`assert_no_leak` searches

* every byte of every file under the data dir (``session.db`` and its ``-wal``/``-shm``, the
  quarantine, the outbox, anything else a stage left there);
* the text the stored key events spell, three ways: their characters, their key names (a
  keypad digit stored as ``KP_End`` still spells ``1``) and their keycodes read through the
  test server's keymap (``keyboard.keymap_chars``: a key stored with a wrong or missing character still spells it);
* the focus events' titles and URLs;
* all three exports, parquet decoded to text;
* optionally, OCR of every distinct stored frame (or a region of it).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from workprint.store.session import DataDir

ROOT = Path(__file__).resolve().parents[2]
WORKPRINT = [sys.executable, "-m", "workprint.cli"]
DEFAULT_POLICY = ROOT / "examples" / "policy.toml"
EXPORT_FORMATS = ("agentnet", "hf", "aguvis")

# keypad keysym names -> what they type with Num Lock on (a digit stored under its
# navigation name still spells the digit)
_KEYPAD_SPELLING = {
    "KP_Insert": "0", "KP_End": "1", "KP_Down": "2", "KP_Next": "3", "KP_Page_Down": "3",
    "KP_Left": "4", "KP_Begin": "5", "KP_Right": "6", "KP_Home": "7", "KP_Up": "8",
    "KP_Prior": "9", "KP_Page_Up": "9", "KP_Delete": ".", "KP_Decimal": ".",
    "KP_Add": "+", "KP_Subtract": "-", "KP_Multiply": "*", "KP_Divide": "/",
    **{f"KP_{i}": str(i) for i in range(10)},
}


# -- recording ---------------------------------------------------------------------------------
def accept_notice(data: Path, policy: Path = DEFAULT_POLICY) -> None:
    subprocess.run([*WORKPRINT, "notice", "--accept", "--data-dir", str(data), "--policy", str(policy)],
                   check=True, capture_output=True)


#: ``workprint record`` exactly as ``python -m workprint.cli`` runs it, in a process of its own,
#: with one seam for tests: while the file named by ``WORKPRINT_TEST_STALL`` exists, the
#: recorder's processing thread waits before decoding its next input record (without the
#: GIL: the input hook and the key-time sampler go on hooking, sampling and queueing, as when
#: the processor is busy) and writes when it began to wait to that file + ``.held``. A stall
#: made from outside cannot be aimed at that thread alone: SIGSTOP stops the hook too, and a
#: thread stopped by ptrace or starved of CPU may hold the GIL and so stop every thread.
_STALLABLE_CLI = """
import os, sys, time
from workprint.capture.linux import x11
flag = os.environ["WORKPRINT_TEST_STALL"]
decode = x11.X11Backend.decode
def stallable(self, raw):
    if os.path.exists(flag):
        with open(flag + ".held", "w") as fh:
            fh.write(str(time.monotonic_ns()))
        while os.path.exists(flag):
            time.sleep(0.005)
    return decode(self, raw)
x11.X11Backend.decode = stallable
from workprint.cli import main
sys.exit(main(sys.argv[1:]))
"""


class CliStall:
    """Hold and release the processing thread of ``recording(..., stall=CliStall(path))``."""

    def __init__(self, flag: Path):
        self.flag = flag
        self.held = Path(f"{flag}.held")

    def hold(self, nudge) -> None:
        """Stall the processor at the next input it decodes; ``nudge()`` makes some input
        (a lone modifier key), and this returns once the processor waits."""
        self.flag.touch()
        nudge()
        deadline = time.monotonic() + 10
        while not self.held.exists():
            assert time.monotonic() < deadline, "the recorder's processor never reached the stall"
            time.sleep(0.01)

    @property
    def holding(self) -> bool:
        return self.flag.exists() and self.held.exists()

    def release(self) -> None:
        self.flag.unlink()


@contextlib.contextmanager
def recording(desk, data: Path, policy: Path = DEFAULT_POLICY, *extra: str,
              settle_s: float = 1.0, stall: CliStall | None = None) -> Iterator[dict]:
    """``workprint record`` on the test desktop for the duration of the block. On exit it is
    stopped with SIGINT (as Ctrl+C would) and ``info["session"]`` holds the session id.
    With ``stall``, its processing thread can be held (see ``_STALLABLE_CLI``)."""
    accept_notice(data, policy)
    cli, env = WORKPRINT, desk.env
    if stall is not None:
        cli, env = [sys.executable, "-c", _STALLABLE_CLI], {**desk.env, "WORKPRINT_TEST_STALL": str(stall.flag)}
    proc = subprocess.Popen([*cli, "record", "--data-dir", str(data), "--policy", str(policy), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    info: dict = {"proc": proc}
    try:
        seen = []  # warnings may come first (e.g. a library's own stderr): skip them
        while not seen or "recording session" not in seen[-1]:
            line = proc.stderr.readline()
            if not line:  # the recorder ended before it started recording
                break
            seen.append(line)
        assert seen and "recording session" in seen[-1], "".join(seen)
        time.sleep(settle_s)
        yield info
    finally:
        if stall is not None and stall.flag.exists():
            stall.release()
        if proc.poll() is None:
            proc.send_signal(2)
        out, err = proc.communicate(timeout=60)
        info["stderr"] = err
    assert proc.returncode == 0, f"workprint record exited {proc.returncode}: {err[-2000:]}"
    info["session"] = out.strip().splitlines()[-1]


class _Lagging:
    def __init__(self, recorder):
        self.recorder = recorder

    def stall(self, seconds: float) -> float:
        """Hold the recorder's processing thread for ``seconds`` (input keeps being hooked and
        queued, as when it is busy); returns the monotonic time the stall ends."""
        until = time.monotonic() + seconds
        self.recorder.inject(lambda: time.sleep(seconds) or [])
        return until


@contextlib.contextmanager
def lagging_recorder(data: Path, policy: Path = DEFAULT_POLICY) -> Iterator[_Lagging]:
    """The recorder's real pieces assembled as ``workprint record`` assembles them (X11
    backend, the Linux secure-input probe attached to its key hook, the gate with the
    policy, the store), in this process without frames, so a test can stall the processing
    thread (``.stall(s)``) while input goes on."""
    from workprint.capture.linux.secure_input import LinuxSecureInput
    from workprint.capture.linux.x11 import X11Backend
    from workprint.capture.recorder import Recorder
    from workprint.policy.gate import SafeguardGate
    from workprint.policy.model import load_policy
    from workprint.policy.redact_text import Redactor

    pol = load_policy(policy)
    backend = X11Backend()
    probe = LinuxSecureInput.start(backend.display_name)
    probe.attach(backend)
    gate = SafeguardGate(pol, Redactor.from_policy(pol), secure_input=probe, windows=backend.window_stack)
    writer = DataDir(data).create({"screen": backend.screen_info().to_dict()})
    recorder = Recorder(backend, writer, frames=False, gate=gate)
    recorder.start()
    try:
        time.sleep(0.5)
        yield _Lagging(recorder)
    finally:
        stats = recorder.stop()
        writer.close(dropped_frames=stats.frames_dropped)
        probe.stop()
        backend.close()


# -- what was written --------------------------------------------------------------------------
def written_bytes(data: Path) -> bytes:
    """Every byte of every file under the data dir."""
    return b"".join(p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file())


def spelled(data: Path, keymap: dict[int, str] | None = None) -> dict[str, str]:
    """The text stored key events spell, per view: ``chars``, ``names``, ``keycodes`` (when a
    keymap is given), and ``titles`` (titles and URLs of stored focus events)."""
    chars, names, codes, titles = [], [], [], []
    store = DataDir(data)
    for sid in store.session_ids():
        with store.open(sid) as s:
            for k in s.events(["key_down"]):
                if k.redacted:
                    continue
                chars.append(k.char or "")
                if k.key in _KEYPAD_SPELLING:
                    names.append(_KEYPAD_SPELLING[k.key])
                elif len(k.key) == 1:
                    names.append(k.key)
                if keymap is not None and k.keycode in keymap:
                    codes.append(keymap[k.keycode])
            for f in s.events(["focus"]):
                titles.append(f"{f.title}\n{f.url or ''}")
    views = {"chars": "".join(chars), "names": "".join(names), "titles": "\n".join(titles)}
    if keymap is not None:
        views["keycodes"] = "".join(codes)
    return views


def exported_text(data: Path, out: Path) -> dict[str, str]:
    """Export every session in every format under ``out`` and return each export's text
    (JSONL/JSON/YAML/markdown as written, parquet decoded row by row). The exports read the
    same data dir and run side by side (each is its own ``workprint export`` process)."""
    procs = {fmt: subprocess.Popen([*WORKPRINT, "export", "--data-dir", str(data), "--format", fmt,
                                    "--out", str(out / fmt)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
             for fmt in EXPORT_FORMATS}
    failed = []
    for fmt, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            failed.append(f"export {fmt} failed: {err[-2000:]}")
    assert not failed, "\n".join(failed)
    texts: dict[str, str] = {}
    for fmt in EXPORT_FORMATS:
        parts = []
        for p in sorted((out / fmt).rglob("*")):
            if not p.is_file():
                continue
            if p.suffix == ".parquet":
                import pyarrow.parquet as pq
                rows = pq.read_table(p).to_pylist()
                parts.append(json.dumps(rows, default=lambda v: None if isinstance(v, bytes) else str(v)))
            elif p.suffix in (".jsonl", ".json", ".yaml", ".yml", ".md", ".txt"):
                parts.append(p.read_text(errors="replace"))
        texts[fmt] = "\n".join(parts)
    return texts


#: OCR text of images already read, by (digest of every pixel, scale): the same pixels read
#: the same, so a test that looks at its frames twice pays once
_OCR_SEEN: dict[tuple[bytes, int], str] = {}


def ocr_frames(data: Path, region: tuple[int, int, int, int] | None = None, scale: int = 2) -> list[str]:
    """OCR of every distinct stored frame (optionally a region x, y, w, h of it), one text per
    frame, lines joined by newlines. Frames are told apart by a digest of all their pixels;
    two Tesseract processes read at once (the machine has two cores)."""
    import hashlib
    from concurrent.futures import Future, ThreadPoolExecutor

    from workprint.policy.redact_pixels import TesseractOcr, group_lines, to_ocr_gray, upscale

    ocr = TesseractOcr(psm=6)

    def read(key: tuple[bytes, int], rgb: np.ndarray) -> str:
        if key not in _OCR_SEEN:
            img = rgb.astype(np.uint32)
            bgrx = (img[..., 0] << 16) | (img[..., 1] << 8) | img[..., 2]
            words = ocr.words(upscale(to_ocr_gray(bgrx), scale))
            _OCR_SEEN[key] = "\n".join(line.text for line in group_lines(words))
        return _OCR_SEEN[key]

    texts: list[Future] = []
    seen: set[bytes] = set()
    store = DataDir(data)
    with ThreadPoolExecutor(2) as pool:
        for sid in store.session_ids():
            with store.open(sid) as s:
                for ref in s.frames():
                    rgb = np.asarray(s.frame_image(ref.frame_id).convert("RGB"))
                    if region is not None:
                        x, y, w, h = region
                        rgb = rgb[max(0, y):y + h, max(0, x):x + w]
                    digest = hashlib.blake2b(np.ascontiguousarray(rgb).tobytes(), digest_size=20).digest()
                    if digest in seen:
                        continue
                    seen.add(digest)
                    if len(texts) >= 2:
                        texts[-2].result()  # at most three frames decoded and waiting
                    texts.append(pool.submit(read, (digest, scale), rgb))
    return [t.result() for t in texts]


# -- the check ---------------------------------------------------------------------------------
def _forms(secret: str) -> set[str]:
    """The secret as typed, and with separators removed (a card number typed with spaces is
    still a card number without them)."""
    forms = {secret}
    squeezed = re.sub(r"[\s\-_.]", "", secret)
    if len(squeezed) >= 4:
        forms.add(squeezed)
    return forms


def find_leaks(data: Path, secrets: Iterable[str], *, export_dir: Path | None = None,
               keymap: dict[int, str] | None = None, ocr: bool = False,
               ocr_region: tuple[int, int, int, int] | None = None) -> list[str]:
    """Where any of ``secrets`` (or a form of it) can be found; empty when nowhere."""
    secrets = [s for s in secrets if s]
    found: list[str] = []
    blob = written_bytes(data)
    views = spelled(data, keymap)
    exports = exported_text(data, export_dir) if export_dir is not None else {}
    frames = ocr_frames(data, ocr_region) if ocr else []
    for secret in secrets:
        for form in _forms(secret):
            if form.encode() in blob:
                found.append(f"{form!r} in the bytes under {data}")
            for view, text in views.items():
                hay = text.lower() if view == "keycodes" else text
                if (form.lower() if view == "keycodes" else form) in hay:
                    found.append(f"{form!r} spelled by stored key events ({view})")
            for fmt, text in exports.items():
                if form in text or json.dumps(form)[1:-1] in text:
                    found.append(f"{form!r} in the {fmt} export")
            for i, text in enumerate(frames):
                if form in text or form in text.replace(" ", "").replace("\n", ""):
                    found.append(f"{form!r} readable by OCR in stored frame {i}")
    return found


def assert_no_leak(data: Path, secrets: Iterable[str], **kw) -> None:
    leaks = find_leaks(data, secrets, **kw)
    assert not leaks, "secrets reached the outputs:\n" + "\n".join(leaks)
