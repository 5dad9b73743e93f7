"""Linux capture: X11 input, focus and screen, XInput 2, AT-SPI, ttys, secure input, the indicator."""
