"""Single-key operator actions, decoded by a pure function, and the terminal's cbreak mode.

The keys do what the headless stdin commands do (``ack``, ``pause``, ``mark ...``, ``quit``),
through the same :class:`~monitor.outputs.base.OutputContext` calls, so they produce the same
events. Quitting asks first: ``q`` shows "quit? (y/n)" and only ``y`` quits. Any other key
closes the question; a key that has its own action also does it, so an acknowledge pressed
while the question is open is never lost.
"""

from __future__ import annotations

import contextlib
import enum
import os
import termios
import tty
from collections.abc import Iterator
from dataclasses import dataclass


class Action(enum.Enum):
    ACK = "ack"
    PAUSE = "pause"
    MARK_FREEZE = "freeze"
    MARK_THAW = "thaw"
    MARK_ACTIVE_THAW = "active-thaw"
    MARK_END = "end"
    ASK_QUIT = "ask-quit"
    QUIT = "quit"
    CANCEL = "cancel"

    @property
    def mark(self) -> str | None:
        """The mark name of :meth:`OutputContext.mark` (``freeze``, ``thaw``, ...), if a mark."""
        return self.value if self in _MARKS else None


_MARKS = frozenset({Action.MARK_FREEZE, Action.MARK_THAW, Action.MARK_ACTIVE_THAW,
                    Action.MARK_END})

KEYMAP: dict[str, Action] = {
    "a": Action.ACK, "p": Action.PAUSE, "f": Action.MARK_FREEZE, "t": Action.MARK_THAW,
    "v": Action.MARK_ACTIVE_THAW, "e": Action.MARK_END, "q": Action.ASK_QUIT,
}


@dataclass(frozen=True, slots=True)
class KeyResult:
    """What the key presses asked for, in order, and whether the quit question is now open."""

    actions: tuple[Action, ...]
    quit_prompt: bool


def decode_keys(data: bytes | str, quit_prompt: bool) -> KeyResult:
    """Decode what one read of the terminal returned (one key or several typed quickly).

    Escape sequences (arrow and function keys) are ignored whole, so their letters (``ESC [ A``)
    never trigger an action. Letters are case-insensitive: caps lock must not disable a key.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    actions: list[Action] = []
    for key in _keys(text):
        key = key.lower()
        if quit_prompt:
            quit_prompt = False
            if key == "y":
                actions.append(Action.QUIT)
                continue
            actions.append(Action.CANCEL)
            action = KEYMAP.get(key)
            if action is not None and action is not Action.ASK_QUIT:
                actions.append(action)
            continue
        action = KEYMAP.get(key)
        if action is Action.ASK_QUIT:
            quit_prompt = True
        if action is not None:
            actions.append(action)
    return KeyResult(tuple(actions), quit_prompt)


def _keys(text: str) -> Iterator[str]:
    """Single characters, without escape sequences (CSI ``ESC [ ... final`` and ``ESC O x``)."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\x1b":
            yield ch
            i += 1
            continue
        i += 1
        if i < len(text) and text[i] in "[O":
            lead = text[i]
            i += 1
            if lead == "O":
                i += 1
                continue
            while i < len(text) and not ("@" <= text[i] <= "~"):
                i += 1
            i += 1
        # a lone ESC (or ESC + one key, as Alt sends) is dropped with what follows it
        elif i < len(text):
            i += 1


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[bool]:
    """Single key presses without echo on ``fd`` while inside; the old mode is always restored.

    Yields False (and changes nothing) when ``fd`` is not a terminal. Signals still work in
    cbreak mode, so Ctrl-C reaches the daemon as usual.
    """
    if not os.isatty(fd):
        yield False
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
