"""What a closed session file holds, in words: :class:`SaveResult` and the sentence of loss.

Kept apart from the recorder thread so the wording is tested and read on its own; the recorder
(:mod:`monitor.sessions.recorder`, which re-exports :class:`SaveResult`) fills it in at close.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitor.sessions.backlog import Dropped
from monitor.sessions.writer import file_identity


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What :meth:`Recorder.close` could save. ``lost`` is one sentence of what is NOT in the
    file (empty when ``complete``); the counts are what the file at ``path`` holds."""

    path: Path
    complete: bool
    readings_written: int
    events_written: int
    lost: str = ""



def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def describe_loss(*, unsaved: tuple[int, int], unsaved_since: float | None, t_end: float,
                  reason: str, dropped: Dropped, before_recreation: tuple[int, int] | None,
                  recreated_t: float | None, file_state: str) -> str:
    """The sentence a user reads when the file is not complete (empty when nothing is lost).

    ``unsaved``: (readings, events) handed over but never committed; ``dropped``: readings
    the backlog policy dropped; ``before_recreation``: (readings, events) committed into a
    file that was deleted before it was re-created; ``file_state``: "" when the path still
    names the file written, else what happened to it.
    """
    parts: list[str] = []
    if file_state:
        parts.append(file_state)
    readings, events = unsaved
    if readings or events:
        span = (f"the last {max(t_end - unsaved_since, 0.0):,.0f} s"
                if unsaved_since is not None else "the end of the session")
        parts.append(f"{span} ({plural(readings, 'reading')}, {plural(events, 'event')}) "
                     f"could not be written: {reason or 'the disk did not answer in time'}")
    if dropped.count:
        span = (f" from {dropped.first_t:,.1f} s to {dropped.last_t:,.1f} s"
                if dropped.first_t is not None and dropped.last_t is not None else "")
        parts.append(f"{plural(dropped.count, 'reading')}{span} were dropped while the file "
                     "could not be written")
    if before_recreation is not None and not file_state:
        readings, events = before_recreation
        when = f" at {recreated_t:,.1f} s" if recreated_t is not None else ""
        parts.append(f"the file was deleted{when} and re-created: what came before "
                     f"({plural(readings, 'reading')}, {plural(events, 'event')}) is not in it")
    return "; ".join(parts)


def describe_file(path: Path, identity: tuple[int, int]) -> str:
    """'' when ``path`` still names the file written (``identity``), else what happened."""
    try:
        same = file_identity(path) == identity
    except FileNotFoundError:
        if not path.parent.is_dir():
            return "the session directory was deleted: nothing of this session is on disk"
        return "the file was deleted: nothing of this session is on disk"
    except OSError as exc:
        return f"the file cannot be checked ({exc.strerror or exc})"
    if not same:
        return "the file was replaced by another file: this session is not in it"
    return ""
