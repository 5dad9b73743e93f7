"""The visible recording indicator on X11: a small red label in the bottom-right corner
of the screen while workprint records ("[REC] workprint is recording - task: ...").

It is an override-redirect window (no window manager decoration, always on top: raised
again when another window has come above it), with an empty input shape so clicks go
through to whatever is below it. Its WM_CLASS is ``Workprint``, an app no policy allows,
so the pixel safeguard blacks it out in stored frames: the indicator is for the person,
not for the dataset.
"""

from __future__ import annotations

import time

BACKGROUND = 0xB00020
FOREGROUND = 0xFFFFFF
HEIGHT = 20
CHAR_W = 6  # the core "fixed" font
MARGIN = 4
RAISE_EVERY_S = 3.0


class X11Indicator:
    def __init__(self, open_display):
        from Xlib import X
        from Xlib.ext import shape

        self._X = X
        self._d = open_display()
        s = self._d.screen()
        self._screen_w, self._screen_h = s.width_in_pixels, s.height_in_pixels
        try:
            font = self._d.open_font("fixed")
        except Exception:  # noqa: BLE001 - no core fonts: a plain red box still shows
            font = None
        self._win = s.root.create_window(
            self._screen_w - 100, self._screen_h - HEIGHT - MARGIN, 100, HEIGHT, 0, s.root_depth,
            X.InputOutput, X.CopyFromParent, background_pixel=BACKGROUND, override_redirect=True,
            event_mask=X.ExposureMask)
        self._win.set_wm_class("workprint-indicator", "Workprint")
        self._win.set_wm_name("workprint recording indicator")
        if self._d.has_extension("SHAPE"):
            self._win.shape_rectangles(shape.SO.Set, shape.SK.Input, X.Unsorted, 0, 0, [])
        gc_args = {"foreground": FOREGROUND, "background": BACKGROUND}
        if font is not None:
            gc_args["font"] = font
        self._gc = self._win.create_gc(**gc_args)
        self._has_font = font is not None
        self._text: str | None = None
        self._raised = 0.0
        self._d.flush()

    @property
    def text(self) -> str | None:
        return self._text

    @property
    def window_id(self) -> int:
        return self._win.id

    def show(self, text: str | None) -> None:
        """Show ``text`` (None hides the indicator)."""
        if text == self._text:
            return
        self._text = text
        if text is None:
            self._win.unmap()
        else:
            width = CHAR_W * len(text) + 2 * MARGIN
            self._win.configure(x=max(0, self._screen_w - width - MARGIN),
                                y=self._screen_h - HEIGHT - MARGIN, width=width, height=HEIGHT,
                                stack_mode=self._X.Above)
            self._win.map()
            self._raised = time.monotonic()
            self._draw()
        self._d.flush()

    def tick(self) -> None:
        """Redraw after exposure and stay on top (call every fraction of a second)."""
        exposed = False
        while self._d.pending_events():
            if self._d.next_event().type == self._X.Expose:
                exposed = True
        if self._text is not None:
            if time.monotonic() - self._raised >= RAISE_EVERY_S:
                self._raised = time.monotonic()
                children = self._d.screen().root.query_tree().children
                if children and children[-1].id != self._win.id:  # something came on top
                    self._win.configure(stack_mode=self._X.Above)
                    exposed = True
            if exposed:
                self._draw()
            self._d.flush()

    def _draw(self) -> None:
        if self._text is not None and self._has_font:
            self._win.clear_area()
            self._win.image_text(self._gc, MARGIN, HEIGHT - 6, self._text.encode("latin-1", "replace"))

    def close(self) -> None:
        try:
            self._win.destroy()
            self._d.close()
        except Exception:  # noqa: BLE001 - the X server may be gone
            pass
