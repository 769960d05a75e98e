"""Single-key operator actions, decoded by a pure function, and the terminal's key mode.

The keys do what the headless stdin commands do (``ack``, ``pause``, ``mark ...``, ``note``,
``quit``: monitor/daemon/grammar.py), through the same
:class:`~monitor.outputs.base.OutputContext` calls, so they produce the same events. ``c`` and
``s`` record a CO2 or warm-saline intervention; ``n`` opens a one-line note (Enter saves it,
Esc cancels, Backspace deletes; while it is open letters are text, not actions). Quitting asks
first: ``q`` or Ctrl-C shows "quit? (y/n)" and only ``y`` quits. Any other key closes the
question; a key that has its own action also does it, so an acknowledge pressed while the
question is open is never lost.
"""

from __future__ import annotations

import contextlib
import enum
import os
import termios
import tty
from collections.abc import Iterator
from dataclasses import dataclass

from monitor.daemon.grammar import NOTE_MAX_CHARS


class Action(enum.Enum):
    ACK = "ack"
    PAUSE = "pause"
    MARK_FREEZE = "freeze"
    MARK_THAW = "thaw"
    MARK_ACTIVE_THAW = "active-thaw"
    MARK_END = "end"
    CO2 = "co2"
    SALINE = "saline"
    ASK_NOTE = "ask-note"
    NOTE = "note"  # a note was entered: its text is in KeyResult.notes, in order
    ASK_QUIT = "ask-quit"
    QUIT = "quit"
    CANCEL = "cancel"

    @property
    def mark(self) -> str | None:
        """The mark name of :meth:`OutputContext.mark` (``freeze``, ``thaw``, ...), if a mark."""
        return self.value if self in _MARKS else None

    @property
    def intervention(self) -> str | None:
        """``co2`` or ``saline`` for :meth:`OutputContext.intervention`, if an intervention."""
        return self.value if self in _INTERVENTIONS else None


_MARKS = frozenset({Action.MARK_FREEZE, Action.MARK_THAW, Action.MARK_ACTIVE_THAW,
                    Action.MARK_END})
_INTERVENTIONS = frozenset({Action.CO2, Action.SALINE})
CTRL_C = "\x03"
ESC = "\x1b"

KEYMAP: dict[str, Action] = {
    "a": Action.ACK, "p": Action.PAUSE, "f": Action.MARK_FREEZE, "t": Action.MARK_THAW,
    "v": Action.MARK_ACTIVE_THAW, "e": Action.MARK_END, "c": Action.CO2, "s": Action.SALINE,
    "n": Action.ASK_NOTE, "q": Action.ASK_QUIT, CTRL_C: Action.ASK_QUIT,
}


@dataclass(frozen=True, slots=True)
class KeyResult:
    """What the key presses asked for, in order, and the state they leave: whether the quit
    question is open, and the note being typed (``None``: no note open)."""

    actions: tuple[Action, ...]
    quit_prompt: bool
    note: str | None = None
    notes: tuple[str, ...] = ()  # the text of each Action.NOTE, in order


def decode_keys(data: bytes | str, quit_prompt: bool, note: str | None = None) -> KeyResult:
    """Decode what one read of the terminal returned (one key or several typed quickly).

    Escape sequences (arrow and function keys) are ignored whole, so their letters (``ESC [ A``)
    never trigger an action. Letters are case-insensitive: caps lock must not disable a key.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    actions: list[Action] = []
    notes: list[str] = []
    for key in _keys(text):
        if note is not None:
            note = _note_key(note, key, actions, notes)
            if note is None and actions and actions[-1] is Action.ASK_QUIT:
                quit_prompt = True
            continue
        if key == ESC:
            continue  # a lone Esc (or an Alt chord) does nothing outside a note
        lowered = key.lower()
        if quit_prompt:
            quit_prompt = False
            if lowered == "y":
                actions.append(Action.QUIT)
                continue
            actions.append(Action.CANCEL)
            action = KEYMAP.get(lowered)
            # "n" answers the question (no); it does not open a note here.
            if action is not None and action not in (Action.ASK_QUIT, Action.ASK_NOTE):
                actions.append(action)
            continue
        action = KEYMAP.get(lowered)
        if action is Action.ASK_QUIT:
            quit_prompt = True
        elif action is Action.ASK_NOTE:
            note = ""
        if action is not None:
            actions.append(action)
    return KeyResult(tuple(actions), quit_prompt, note, tuple(notes))


def _note_key(note: str, key: str, actions: list[Action], notes: list[str]) -> str | None:
    """One key while a note is open; the note's new text, or ``None`` when it closed."""
    if key in ("\r", "\n"):
        text = note.strip()
        if text:
            actions.append(Action.NOTE)
            notes.append(text)
        return None
    if key == ESC:
        return None
    if key == CTRL_C:  # leave the note and ask to quit, as Ctrl-C does elsewhere
        actions.append(Action.ASK_QUIT)
        return None
    if key in ("\x7f", "\b"):
        return note[:-1]
    if key == "\x15":  # Ctrl-U: clear the line
        return ""
    if key.isprintable() and len(note) < NOTE_MAX_CHARS:
        return note + key
    return note


def _keys(text: str) -> Iterator[str]:
    """Single characters; CSI (``ESC [ ... final``) and SS3 (``ESC O x``) sequences are
    skipped whole; a lone ESC, or ESC + one key as Alt sends, yields one ESC."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != ESC:
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
            continue
        if i < len(text):
            i += 1  # Alt + key: the key is not an action
        yield ESC


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[bool]:
    """The display's key mode on ``fd`` while inside; the old mode is always restored.

    Single key presses without echo (cbreak), and no flow control and no signal keys: with
    IXON on, a stray Ctrl-S stops the terminal's output and freezes the screen while alarms
    fire; with ISIG on, Ctrl-C would end monitoring without the confirmation ``q`` asks for
    (Ctrl-C arrives as a key instead, and Ctrl-Z cannot suspend the monitor). Signals sent
    with ``kill`` still work. The old mode comes back with TCSANOW: waiting for output to
    drain (TCSADRAIN) would hang on a terminal that stopped reading. Yields False (and
    changes nothing) when ``fd`` is not a terminal.
    """
    if not os.isatty(fd):
        yield False
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        mode = termios.tcgetattr(fd)
        mode[0] &= ~(termios.IXON | termios.IXOFF)  # iflag: no Ctrl-S / Ctrl-Q flow control
        mode[3] &= ~(termios.ISIG | termios.IEXTEN)  # lflag: Ctrl-C, Ctrl-Z, Ctrl-V are keys
        termios.tcsetattr(fd, termios.TCSANOW, mode)
        yield True
    finally:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSANOW, saved)
