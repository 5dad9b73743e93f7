"""The first pixel safeguard on fake windows (no X): nothing while not recording, denied
windows black, and no frame when the window layout changed after the grab."""

from __future__ import annotations

import numpy as np
import pytest

from workprint.capture.backend import WindowInfo
from workprint.capture.fake import FakeBackend
from workprint.capture.run import frame_safeguard
from workprint.events import FocusEvent, Geometry
from workprint.policy.gate import SafeguardGate
from workprint.policy.model import parse_policy
from workprint.policy.redact_text import Redactor

POLICY = parse_policy('[scope]\nallow_apps = ["XTerm"]\n')


XTERM = WindowInfo(1, "XTerm", "xterm", "t", Geometry(0, 0, 40, 40))
VAULT = WindowInfo(2, "KeePassXC", "keepassxc", "vault", Geometry(50, 10, 30, 20))


def fake_backend(*windows: WindowInfo) -> FakeBackend:
    """The windows (an xterm in scope, a password manager that is not) at generation 7."""
    backend = FakeBackend([], windows=windows or (XTERM, VAULT))
    backend.generation = 7
    return backend


@pytest.fixture(scope="module")
def gate():
    g = SafeguardGate(POLICY, Redactor(username=None, hostname=None))
    g.process(FocusEvent(1, 1, "t", "XTerm", "xterm", 10, "xterm"))
    return g


def test_denied_window_is_black_and_allowed_one_kept(gate):
    backend = fake_backend()
    redact = frame_safeguard(gate, backend, POLICY)
    pixels = np.full((60, 100), 0x00AABBCC, dtype=np.uint32)
    frame = redact(pixels, 5, 7)
    assert frame is not None and frame.rects == ((50, 10, 30, 20),)
    out = frame.full()
    assert out is not pixels
    assert (out[10:30, 50:80] == 0).all() and out[0:40, 0:40].min() == 0x00AABBCC
    assert (frame.tile(0, 1, 64)[10:30, 0:16] == 0).all(), "tiles come masked too"
    assert pixels.min() == 0x00AABBCC, "the ring's grab itself is never modified"


def test_no_frame_when_windows_changed_since_the_grab(gate):
    backend = fake_backend()
    redact = frame_safeguard(gate, backend, POLICY)
    pixels = np.full((60, 100), 1, dtype=np.uint32)
    assert redact(pixels, 5, 6) is None  # grabbed before the vault window closed/moved


def test_no_frame_when_geometry_is_unknown(gate):
    backend = fake_backend(XTERM, VAULT, WindowInfo(3, "Other", "other", "x", None))
    assert frame_safeguard(gate, backend, POLICY)(np.ones((60, 100), np.uint32), 5, 7) is None


def test_the_same_grab_is_the_same_frame_and_moved_windows_are_followed(gate, tmp_path):
    """Pre-action frames re-store ring grabs: the frame is the grab itself plus the
    rectangles (no copy), so the encoder recognises a repeated frame at once; when a
    denied window moved, the new place is black and the old one shows again."""
    from workprint.capture.frames import TileEncoder
    from workprint.store.session import DataDir

    backend = fake_backend()
    redact = frame_safeguard(gate, backend, POLICY)
    encoder = TileEncoder(DataDir(tmp_path).create({}), tile=16)
    pixels = np.full((60, 100), 7, dtype=np.uint32)
    first = redact(pixels, 5, 7)
    assert first.pixels is pixels
    first_id, _, _ = encoder.encode(first)
    again_id, _, new = encoder.encode(redact(pixels, 6, 7))
    assert again_id == first_id and new == {}
    backend.windows = (XTERM, WindowInfo(2, "KeePassXC", "keepassxc", "vault", Geometry(0, 45, 30, 10)))
    moved = redact(pixels, 7, 7)
    out = moved.full()
    assert (out[45:55, 0:30] == 0).all() and out[10:30, 50:80].min() == 7
    assert encoder.encode(moved)[0] != first_id
