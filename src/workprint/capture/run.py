"""One recording from start to stop: backend + safeguards + store + control socket.

``workprint record`` calls :func:`record_session`; so can scripts. The safeguard gate
sits between capture and store; frames pass the pixel safeguards before encoding.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__
from ..costs import STAGES, thread_cpu
from ..errors import CaptureError, DiskFullError, StoreError
from ..policy.a11y_tree import TreeBounds
from ..policy.gate import SafeguardGate
from ..policy.model import Policy
from ..policy.redact_pixels import MaskedFrame, out_of_scope_rects
from ..policy.redact_text import Redactor
from ..store.session import DataDir
from .backend import Backend
from .control import ControlServer
from .a11y_tree import TreeSource, TreeTaker, TreeTarget
from .elements import ElementLocator, ElementSource
from .recorder import Recorder, RecorderStats


#: how often the main loop refreshes the indicator (pause/resume show within this)
INDICATOR_REFRESH_S = 0.5
#: how long "recording" waits for input to flow and the window in front to be known
READY_TIMEOUT_S = 5.0
#: a live ``forget --last N`` also covers this much before N (the command's own clock and
#: the recorder's are read a few ms apart)
FORGET_MARGIN_S = 0.5


@dataclass
class RecordingResult:
    session_id: str
    stats: RecorderStats
    error: BaseException | None


def frame_safeguard(gate: SafeguardGate, backend: Backend,
                    policy: Policy) -> Callable[[np.ndarray, int, int], MaskedFrame | None]:
    """The first pixel safeguards, applied to every frame before anything else: nothing
    while not recording; out-of-scope windows blacked out (frame dropped when the window
    geometry cannot be trusted). Text masking follows in :class:`TextMaskStage`.

    The frame comes back as a :class:`MaskedFrame`: the grab (never modified; the ring
    shares it) and the rectangles to black out. The encoder masks it tile by tile before
    any tile is hashed or encoded, so a frame need not be copied whole to black out a
    small window such as the recording indicator."""

    def in_scope(w) -> bool:
        return gate.window_in_scope(w)  # the focused window's URL counts; others have none

    def redact(pixels: np.ndarray, t_ns: int, generation: int) -> MaskedFrame | None:
        if not policy.screenshots.enabled or not gate.recording:
            return None
        windows = backend.visible_windows()
        if backend.window_generation() != generation:
            return None  # windows changed since the grab: the list may not match the pixels
        rects = out_of_scope_rects(windows, in_scope)
        if rects is None:
            return None
        return MaskedFrame(pixels, rects)

    return redact


def tree_target(gate: SafeguardGate, backend: Backend) -> Callable[[], TreeTarget | None]:
    """Which window an accessibility tree may be read from now: the window in front, only
    when the gate records it (in scope, not paused), the backend says the same window is
    in front and lists it, and its pid is known; else None (nothing is asked)."""

    def target() -> TreeTarget | None:
        focus = gate.recorded_focus()
        now = backend.current_focus()
        if focus is None or not focus.window or (now is not None and now.window != focus.window):
            return None
        win = next((w for w in backend.window_stack() or () if w.window == focus.window), None)
        if win is None or not gate.window_in_scope(win):
            return None
        pid = focus.pid or backend.window_pid(focus.window)
        return TreeTarget(focus.window, pid, focus.app_id, win) if pid else None

    return target


def _ocr_stats(masker) -> dict | None:
    if masker is None:
        return None
    glyphs = getattr(masker, "glyphs", None)
    return {"calls": masker.ocr_calls, "cache_hits": getattr(masker, "cache_hits", 0),
            "pixels": masker.ocr_pixels, "glyph_reads": glyphs.reads if glyphs is not None else 0}


def indicator_text(status: dict) -> str | None:
    """What the visible indicator says for a gate status (None: hidden, not recording)."""
    if not status.get("recording"):
        return None
    task = status.get("task")
    return "[REC] workprint is recording" + (f" - task: {task[:40]}" if task else "")


def record_session(data_dir: Path, policy: Policy, *, backend: Backend,
                   stop: threading.Event, duration: float | None = None,
                   frames: bool = True, meta: dict | None = None,
                   on_start: Callable[[str], None] | None = None,
                   redactor: Redactor | None = None, secure_input=None,
                   masker=None, encoder_delay_s: float = 0.0,
                   element_source: ElementSource | None = None, browser=None,
                   tree_source: TreeSource | None = None) -> RecordingResult:
    """``browser``: a :class:`~.browser_ext.BrowserBridge` fed over the control socket
    (``cmd`` ``browser``, from the extension's native host); ``element_source`` may use it.
    ``tree_source`` reads accessibility trees; used only with the policy's
    ``[capture] a11y_tree``."""
    info = backend.screen_info()
    redactor = redactor or Redactor.from_policy(policy)
    gate = SafeguardGate(policy, redactor, secure_input=secure_input,
                         windows=backend.window_stack if backend.locates_windows else None)
    store = DataDir(data_dir)
    base_meta = {"screen": info.to_dict(), "backend": backend.name, "workprint_version": __version__,
                 "policy_hash": policy.hash, "jurisdiction": policy.jurisdiction.profile,
                 **(meta or {})}
    writer = store.create(base_meta)
    text_mask = None
    if masker is not None:
        from ..store.quarantine import Quarantine
        from .frames import TextMaskStage

        text_mask = TextMaskStage(masker, Quarantine(writer.folder / "quarantine"), gate.known_secrets,
                                  held_since=gate.held_since, screen_buffer=backend.lend_screen)
    locator = None
    if element_source is not None and backend.locates_windows:
        # scope first: only windows the gate records are ever asked (recorded_window_at)
        locator = ElementLocator(element_source, deliver=lambda el: None,
                                 window_at=gate.recorded_window_at, window_pid=backend.window_pid)
    trees = None
    if tree_source is not None and policy.capture.a11y_tree and backend.locates_windows:
        trees = TreeTaker(tree_source, target=tree_target(gate, backend), deliver=lambda tree, window: None,
                          bounds=TreeBounds.from_policy(policy))
    recorder = Recorder(backend, writer, frames=frames and policy.screenshots.enabled, gate=gate,
                        frame_redactor=frame_safeguard(gate, backend, policy), text_mask=text_mask,
                        encoder_delay_s=encoder_delay_s, elements=locator, trees=trees)
    if text_mask is not None:
        text_mask.input_barrier = recorder.input_barrier

    def handle(req: dict) -> dict:
        cmd = req.get("cmd")
        if cmd == "browser":
            if browser is None:
                return {"ok": False, "error": "this recorder takes no browser messages"}
            reply = browser.handle(req.get("msg"), req.get("peer_pid"))
            return {**reply, "session": writer.id} if reply.get("ok") else reply
        now = time.monotonic_ns()
        if cmd == "pause":
            until = now + int(float(req["for_s"]) * 1e9) if req.get("for_s") else None
            recorder.inject(lambda: gate.pause("paused", until_ns=until, t_ns=now))
        elif cmd == "resume":
            recorder.inject(lambda: gate.resume(now))
        elif cmd == "task_start":
            recorder.inject(lambda: gate.task(True, str(req.get("text", ""))))
        elif cmd == "task_end":
            recorder.inject(lambda: gate.task(False, ok=bool(req.get("ok", True))))
        elif cmd == "forget":
            if req.get("since_t_ns") is not None:  # an explicit span of this session
                since, until = int(req["since_t_ns"]), int(req["until_t_ns"])
                if not until > since:
                    return {"ok": False, "error": "forget: the span must end after it starts"}
            else:  # the last N seconds
                seconds = float(req["seconds"])
                if not seconds > 0:
                    return {"ok": False, "error": "forget: seconds must be more than zero"}
                since, until = now - int((seconds + FORGET_MARGIN_S) * 1e9), now
            dropped = recorder.forget(since, until)
            return {"ok": True, "forgot": {"session": writer.id, "since_t_ns": since,
                                           "until_t_ns": until, **dropped}}
        elif cmd != "status":
            return {"ok": False, "error": f"unknown command {cmd!r}"}
        if cmd != "status":
            time.sleep(0.05)  # let the processor apply it, so the reply shows the new state
        status = gate.status()
        status["session"] = writer.id
        if browser is not None:
            status["browser_extension"] = browser.describe()
        return {"ok": True, "status": status}

    control = ControlServer(data_dir, handle)
    control.start()
    deadline = time.monotonic() + duration if duration else None
    try:
        recorder.start()
        backend.wait_ready(READY_TIMEOUT_S)
        if on_start:  # said once input is delivered and the window in front is known
            on_start(writer.id)
        while not stop.is_set() and not recorder.stopped.is_set():
            if policy.jurisdiction.indicator:
                backend.show_indicator(indicator_text(gate.status()))
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            stop.wait(timeout=min(INDICATOR_REFRESH_S, remaining) if remaining is not None
                      else INDICATOR_REFRESH_S)
    finally:
        if policy.jurisdiction.indicator:
            try:
                backend.show_indicator(None)
            except Exception:  # noqa: BLE001 - never let the indicator stop the flush
                pass
        threads = thread_cpu()  # before the threads end
        stats = recorder.stop()
        control.stop()
        state = "error" if recorder.error else "complete"
        writer.close(state=state, dropped_frames=stats.frames_dropped, stats={
            "events": stats.events, "decoded": stats.decoded, "frames_stored": stats.frames_stored,
            "grabs": stats.grabs, "latency_ms": stats.latency_percentiles(),
            "pointer_latency_ms": stats.latency_percentiles(stats.pointer_latency_ms),
            "frames_withheld": stats.frames_withheld, "redacted_runs": gate.redacted_values,
            "frames_forgotten": recorder.frames.forgotten if recorder.frames else 0,
            "ocr_max_backlog": text_mask.max_backlog if text_mask else None,
            "ocr_spilled_to_quarantine": text_mask.spilled if text_mask else None,
            "ocr": _ocr_stats(masker),
            "elements": ({**locator.stats(), "stored": gate.elements_stored,
                          "dropped_by_gate": gate.elements_dropped} if locator else None),
            "a11y_trees": {**trees.stats(), **gate.trees} if trees is not None else None,
            "browser_extension": browser.describe() if browser is not None else None,
            "stage_cpu": STAGES.snapshot(), "thread_cpu_s": threads})
        if text_mask is not None:
            try:
                (writer.folder / "quarantine").rmdir()
            except OSError:
                pass
    err = recorder.error
    if err is not None and not isinstance(err, (DiskFullError, StoreError, CaptureError)):
        err = StoreError(f"recording stopped early: {err}")
    return RecordingResult(writer.id, stats, err)
