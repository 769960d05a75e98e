"""Text that reaches a terminal: no control characters from config, devices, files or network.

A label, an operator name, a device's bad line or an MQTT payload can carry escape sequences
that clear the screen, retitle the window or hide the alarm panel. Everything shown on a
terminal or written to a log line passes through :func:`printable`; ``check-config`` refuses
names that contain control characters (:func:`control_characters`). Why: docs/reliability.md.
"""

from __future__ import annotations

import re

# C0 controls (tab and newline included: every shown field is one line), DEL, C1 controls
# (0x9b is a one-byte CSI), and the Unicode bidirectional overrides and isolates, which can
# make a label read differently from what it is.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
REPLACEMENT = "\N{REPLACEMENT CHARACTER}"


def printable(text: object) -> str:
    """``text`` as one line safe for a terminal: each control character becomes U+FFFD."""
    shown = text if isinstance(text, str) else str(text)
    return _CONTROL.sub(REPLACEMENT, shown)


def control_characters(text: str) -> list[str]:
    """The control characters in ``text``, as ``U+001B``-style names (empty: it is clean)."""
    return [f"U+{ord(c):04X}" for c in dict.fromkeys(_CONTROL.findall(text))]
