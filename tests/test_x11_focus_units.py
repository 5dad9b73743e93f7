"""The X11 focus tracker's URL retries, over a stand-in connection (pure; the browser
tests run it against real windows)."""

from __future__ import annotations

from types import SimpleNamespace as NS

from workprint.capture.linux import x11
from workprint.capture.linux.secure_input import LinuxSecureInput
from workprint.events import FocusEvent


class _Conn:
    def create_resource_object(self, kind, wid):
        return NS(change_attributes=lambda event_mask: None)


def test_only_windows_that_may_show_a_url_are_described_again_for_it(monkeypatch):
    windows = {1: ("XTerm", "xterm", "bash"), 2: ("Firefox", "Navigator", "Mozilla Firefox")}
    described = []

    def describe(d, wid, t_ns=None):
        described.append(wid)
        app, inst, title = windows[wid]
        return FocusEvent(1, wid, title, app, inst, 10 + wid, "p")

    monkeypatch.setattr(x11, "describe_window", describe)
    asked = []
    tracker = x11._FocusTracker(None, lambda ev: None, url_lookup=lambda ev: asked.append(ev.window),
                                url_applies=LinuxSecureInput.may_have_url)
    tracker._emit(_Conn(), 1)                  # a terminal: no URL to wait for
    assert tracker._url_retry == [] and asked == [1]
    tracker._emit(_Conn(), 2)                  # a browser whose URL is not known yet: asked again
    assert len(tracker._url_retry) == len(x11.URL_RETRY_S)
    tracker._emit(_Conn(), 1)                  # back to the terminal: the browser's retries end
    assert tracker._url_retry == []
    everyone = x11._FocusTracker(None, lambda ev: None, url_lookup=lambda ev: None)
    everyone._emit(_Conn(), 1)                 # without the predicate every window is asked again
    assert len(everyone._url_retry) == len(x11.URL_RETRY_S)
