"""The live bedside display as a daemon output (see :mod:`monitor.display`)."""

from monitor.display.live import LiveDisplay, make_console

__all__ = ["LiveDisplay", "make_console"]
