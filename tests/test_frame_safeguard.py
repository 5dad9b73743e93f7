"""The first pixel safeguard on fake windows (no X): nothing while not recording, denied
windows black, and no frame when the window layout changed after the grab."""

from __future__ import annotations

import numpy as np
import pytest

from workprint.capture.backend import WindowInfo
from workprint.capture.run import frame_safeguard
from workprint.events import FocusEvent, Geometry
from workprint.policy.gate import SafeguardGate
from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor

POLICY = parse_policy('[scope]\nallow_apps = ["XTerm"]\n')


class FakeBackend:
    def __init__(self):
        self.windows = [WindowInfo(1, "XTerm", "xterm", "t", Geometry(0, 0, 40, 40)),
                        WindowInfo(2, "KeePassXC", "keepassxc", "vault", Geometry(50, 10, 30, 20))]
        self.generation = 7

    def visible_windows(self):
        return self.windows

    def window_generation(self):
        return self.generation


@pytest.fixture(scope="module")
def gate():
    g = SafeguardGate(POLICY, Redactor(username=None, hostname=None))
    g.process(FocusEvent(1, 1, "t", "XTerm", "xterm", 10, "xterm"))
    return g


def test_denied_window_is_black_and_allowed_one_kept(gate):
    backend = FakeBackend()
    redact = frame_safeguard(gate, backend, POLICY)
    pixels = np.full((60, 100), 0x00AABBCC, dtype=np.uint32)
    out = redact(pixels, 5, 7)
    assert out is not None and out is not pixels
    assert (out[10:30, 50:80] == 0).all() and out[0:40, 0:40].min() == 0x00AABBCC
    assert pixels.min() == 0x00AABBCC, "the ring's grab itself is never modified"


def test_no_frame_when_windows_changed_since_the_grab(gate):
    backend = FakeBackend()
    redact = frame_safeguard(gate, backend, POLICY)
    pixels = np.full((60, 100), 1, dtype=np.uint32)
    assert redact(pixels, 5, 6) is None  # grabbed before the vault window closed/moved


def test_no_frame_when_geometry_is_unknown(gate):
    backend = FakeBackend()
    backend.windows.append(WindowInfo(3, "Other", "other", "x", None))
    assert frame_safeguard(gate, backend, POLICY)(np.ones((60, 100), np.uint32), 5, 7) is None


def test_the_same_grab_gets_the_same_blacked_out_copy(gate):
    """Pre-action frames re-store ring grabs: the encoder recognises a repeated frame by
    identity, so the safeguard must not hand it a fresh copy each time."""
    backend = FakeBackend()
    redact = frame_safeguard(gate, backend, POLICY)
    pixels = np.full((60, 100), 7, dtype=np.uint32)
    first = redact(pixels, 5, 7)
    assert redact(pixels, 6, 7) is first
    backend.windows[1] = WindowInfo(2, "KeePassXC", "keepassxc", "vault", Geometry(0, 45, 30, 10))
    moved = redact(pixels, 7, 7)
    assert moved is not first and (moved[45:55, 0:30] == 0).all() and moved[10:30, 50:80].min() == 7
    other = np.full((60, 100), 8, dtype=np.uint32)
    assert redact(other, 8, 7) is not moved
