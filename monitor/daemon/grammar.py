"""The operator's commands: one grammar for stdin, the display keys and scripted demo actions.

::

    ack [ALARM]                          acknowledge all alarms, or one
    pause                                audio pause
    mark freeze|thaw|active-thaw|end     procedure marks
    mark co2|saline                      an intervention near the nerve
    note TEXT                            free text, one line
    quit                                 end the session

Words are case-insensitive (not the note's text). The display's keys send these same lines
(``c`` = ``mark co2``), and a demo scenario's scripted actions are lines too, so every way in
gives the same typed input and the same events. Imports only the standard library at module
level: ``cryoguard --help`` shows :data:`USAGE` without loading the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.engine.inputs import Input

MARKS = ("freeze", "thaw", "active-thaw", "end")
INTERVENTIONS = ("co2", "saline")  # carbon dioxide or warm saline injected near the nerve
NOTE_MAX_CHARS = 500  # one line in the log and the report (engineering choice)

USAGE = (f"ack [ALARM] | pause | mark {'|'.join(MARKS + INTERVENTIONS)} | note TEXT | quit")


@dataclass(frozen=True, slots=True)
class Quit:
    """``quit``: end the session."""


class CommandError(ValueError):
    """A line that is not a command; the message says what to type instead."""


def parse_command(line: str, by: str) -> Input | Quit | None:
    """The input a command line asks for, on behalf of ``by``; ``None`` for a blank line.

    Raises :class:`CommandError` with one readable line for anything else.
    """
    from monitor.engine.inputs import Acknowledge, Intervention, Mark, Note, PauseAudio
    from monitor.text import printable

    words = line.split()
    if not words:
        return None
    verb, rest = words[0].lower(), words[1:]
    if verb == "ack" and len(rest) <= 1:
        return Acknowledge(rest[0] if rest else None, by)
    if verb == "pause" and not rest:
        return PauseAudio(by)
    if verb == "mark" and len(rest) == 1:
        what = rest[0].lower()
        if what in MARKS:
            return Mark(what, by)
        if what in INTERVENTIONS:
            return Intervention(what, by)
    if verb == "note":
        text = printable(line.strip()[len(words[0]):].strip())
        if not text:
            raise CommandError("note needs its text on the same line: note TEXT")
        if len(text) > NOTE_MAX_CHARS:
            raise CommandError(f"note too long ({len(text)} characters; at most "
                               f"{NOTE_MAX_CHARS})")
        return Note(text, by)
    if verb == "quit" and not rest:
        return Quit()
    shown = printable(line.strip())
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise CommandError(f"unknown command {shown!r}: use {USAGE}")
