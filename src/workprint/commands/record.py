"""``workprint record``: capture this display into a new session, under the policy."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..errors import PolicyError
from ._common import add_data_dir, add_policy, data_dir, resolve_policy


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record", help="record this display until Ctrl-C / SIGTERM or --duration",
        description="Record keyboard, mouse, window focus and screenshots of $DISPLAY into a new "
                    "session, under the policy: only allowed apps/sites, passwords never stored, "
                    "secrets redacted before anything reaches disk. The first run asks you to "
                    "acknowledge the recording notice (or run `workprint notice --accept`). "
                    "Stops on SIGINT/SIGTERM or after --duration, flushes everything, prints the "
                    "session id and exits 0.")
    add_data_dir(p)
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    add_policy(p)
    p.add_argument("--no-frames", action="store_true", help="do not take screenshots")
    p.add_argument("--sync", action="store_true",
                   help="also run `workprint sync --watch` in the background (uploads approved "
                        "sessions to the enrolled collector; needs `workprint enroll` first)")
    p.set_defaults(func=run)


def _start_sync(root) -> "subprocess.Popen":
    import subprocess

    return subprocess.Popen([sys.executable, "-m", "workprint.cli", "sync", "--watch", "--data-dir", str(root)],
                            stdin=subprocess.DEVNULL)


def _warn_if_collector_refuses(root, policy) -> None:
    """An enrolled device recording under another policy than its collector publishes
    would record sessions the collector refuses: say so before recording."""
    from ..sync.published import load_published

    published = load_published(root)
    if published is not None and published.hash != policy.hash:
        print(f"workprint: warning: your collector publishes policy {published.hash[:12]}, but this "
              f"session is recorded under {policy.hash[:12]} ({policy.source}); the collector will "
              "refuse it. Drop --policy / $WORKPRINT_POLICY to record under the collector's policy.",
              file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from .. import heap
    from ..capture.backend import get_backend
    from ..capture.browser_ext import BrowserBridge, BrowserElementSource
    from ..capture.linux.atspi import executable, parent_pid, same_program_family
    from ..capture.linux.secure_input import LinuxSecureInput
    from ..capture.run import record_session
    from ..identity import contributor_pseudonym
    from ..policy.notice import require_acknowledged

    heap.tune()  # before the recorder's threads allocate (freed screens leave the heap)
    root = data_dir(args)
    policy = resolve_policy(args.policy, root)
    _warn_if_collector_refuses(root, policy)
    backend = get_backend()  # fails early and clearly without a display
    try:
        receipt = require_acknowledged(root, policy, interactive=sys.stdin.isatty() and sys.stdout.isatty())
        if not (policy.scope.allow_apps or policy.scope.allow_sites):
            print("workprint: the policy allows no app or site, so only gap markers will be "
                  "recorded. Pass --policy FILE with [scope] allow_apps.", file=sys.stderr)
        stop = threading.Event()
        old = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        info = backend.screen_info()

        def started(session_id: str) -> None:
            print(f"recording session {session_id} on {backend.name} {info.width}x{info.height} "
                  f"(Ctrl-C to stop; `workprint pause` to pause)", file=sys.stderr, flush=True)

        masker = None
        if policy.screenshots.enabled and policy.screenshots.ocr_mask and not args.no_frames:
            from ..policy.redact_pixels import OcrError, TextMasker
            from ..policy.redact_text import Redactor

            redactor = Redactor.from_policy(policy)
            try:
                masker = TextMasker(redactor)
            except OcrError as exc:
                raise PolicyError(f"The policy asks to mask text in screenshots "
                                  f"(screenshots.ocr_mask) but OCR is unavailable: {exc}") from exc
        syncer = _start_sync(root) if args.sync else None
        # the browser extension's reports, if it is installed; the platform tells which
        # process is a browser's (its native host's parent)
        browser = BrowserBridge(parent_of=parent_pid, same_program=same_program_family, exe_of=executable)
        # with OCR masking on, terminal prompts are read by the masker's engine (one model
        # in memory; the engine serialises the two threads' calls)
        shared_ocr = None
        if masker is not None:
            from ..policy.tesseract_lib import TesseractLib

            shared_ocr = masker.engine if isinstance(masker.engine, TesseractLib) else None
        secure_input = LinuxSecureInput.start(getattr(backend, "display_name", None),
                                              policy.passwords.remote_terminals, browser=browser,
                                              ocr=shared_ocr)
        secure_input.attach(backend)  # terminal keys are judged by the tty state they met
        if secure_input.knows_urls:
            backend.set_url_lookup(secure_input.browser_url, applies=secure_input.may_have_url)
        atspi_elements = None
        if secure_input.atspi is not None and secure_input.atspi.available():
            from ..capture.linux.atspi_elements import AtspiElementSource

            atspi_elements = AtspiElementSource(secure_input.atspi, backend.window_generation)
        # browser pages: the extension knows their elements; everything else: AT-SPI
        element_source = BrowserElementSource(browser, fallback=atspi_elements)
        tree_source = None
        if policy.capture.a11y_tree and secure_input.atspi is not None and secure_input.atspi.available():
            from ..capture.linux.atspi_tree import AtspiTreeSource

            tree_source = AtspiTreeSource(secure_input.atspi, backend.window_generation)
        try:
            result = record_session(
                root, policy, backend=backend, stop=stop, duration=args.duration,
                frames=not args.no_frames, on_start=started, secure_input=secure_input,
                masker=masker, redactor=masker.redactor if masker else None,
                element_source=element_source, browser=browser, tree_source=tree_source,
                meta={"contributor": contributor_pseudonym(root), "secure_input": secure_input.describe(),
                      "notice": {"sha256": receipt.notice_sha256, "accepted_at": receipt.accepted_at}})
        finally:
            secure_input.stop()
            for s, h in old.items():
                signal.signal(s, h)
            if syncer is not None:
                syncer.terminate()
                syncer.wait(timeout=30)
    finally:
        backend.close()
    if result.error is not None:
        raise result.error
    print(result.session_id)
    return 0
