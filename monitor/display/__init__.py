"""The bedside display: a pure renderer, key decoding, the bell and the live output."""

from monitor.display.render import blink_phases, render_dashboard
from monitor.display.sparkline import History, Levels, spec_levels

__all__ = ["History", "Levels", "blink_phases", "render_dashboard", "spec_levels"]
