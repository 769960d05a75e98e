"""The bedside dashboard as a pure function of a snapshot: no clock, no terminal, no state.

Everything the screen shows comes from the arguments, so the live display, the remote viewer
(``cryoguard watch``), the capture script and the tests all draw the same picture. The layout is
computed line by line so the frame always fits the terminal: alarms first (they must never be
scrolled away), then the channels, or a compact grid when they do not fit, then the keys.
Nerve and skin channels get large digits, as tall as the room allows (four rows, then two, then
text); probe and reference channels one row. Priority is always shown by text
(``***``/``**``/``*`` and a word) as well as by colour, and a faulty or stale sensor shows a
status word, never its last number. Every text from outside (labels, messages, names, action
texts) passes through :func:`monitor.text.printable` and is appended as plain text, never parsed
as rich markup. Layout and reasons: docs/display.md.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Group, RenderableType
from rich.text import Text

from monitor.config.defaults import (
    ALARM_ACTIONS,
    DISPLAY_ARROW_FAST_C_PER_MIN,
    DISPLAY_ARROW_STEADY_C_PER_MIN,
    DISPLAY_SPARKLINE_S,
)
from monitor.display.digits import FONT2, big_rows, big_width
from monitor.display.sparkline import (
    Levels,
    Point,
    levels_for,
    marker_row,
    overlay_markers,
    sparkline,
    sparkline_rows,
)
from monitor.engine import AlarmView, Snapshot
from monitor.engine.channel import ChannelView
from monitor.model import Priority, Status, celsius
from monitor.text import printable

STATUS_WORDS: Mapping[Status, str] = {
    Status.OPEN: "OPEN",
    Status.SHORT: "SHORT",
    Status.OVER_RANGE: "OVER RANGE",
    Status.UNDER_RANGE: "UNDER RANGE",
    Status.BAD_DATA: "BAD DATA",
}
PRIORITY_WORDS: Mapping[Priority, str] = {
    Priority.HIGH: "HIGH", Priority.MEDIUM: "MEDIUM", Priority.LOW: "LOW"}

# (flash phase on, flash phase off): high and medium flash, low is steady (IEC 60601-1-8).
_COLOUR: Mapping[Priority, tuple[str, str]] = {
    Priority.HIGH: ("bold bright_white on red", "bold red"),
    Priority.MEDIUM: ("bold black on yellow", "bold yellow"),
    Priority.LOW: ("cyan", "cyan"),
}
_MONO: Mapping[Priority, tuple[str, str]] = {
    Priority.HIGH: ("bold reverse", "bold"),
    Priority.MEDIUM: ("reverse", ""),
    Priority.LOW: ("", ""),
}
# The footer's keys (monitor/display/keys.py), each with its long and short words. The footer
# takes the longest form that fits; "q quit" is always kept (docs/display.md, "Keys").
KEYS = (("a", "ack all", "ack"), ("p", "pause audio", "pause"), ("f", "freeze", "freeze"),
        ("t", "thaw", "thaw"), ("v", "active thaw", "active thaw"), ("e", "end", "end"),
        ("c", "CO2", "CO2"), ("s", "saline", "saline"), ("n", "note", "note"),
        ("q", "quit", "quit"))
# When even the short compact form is too wide, keys go in this order (q never).
_FOOTER_DROP = ("e", "v", "n", "t", "f", "s", "c", "p", "a")
BIG_DIGITS = FONT2  # the two-row font (kept for callers that read the screen back)
BIG_ROLES = frozenset({"nerve", "skin"})  # the channels read from across the room
DIGIT_ROWS = (4, 2)  # large-digit heights tried, tallest first
MINUS = "\N{MINUS SIGN}"
INJECTIONS: Mapping[str, str] = {"co2": "CO2", "saline": "saline"}
_MIN_SPARK = 8
_INFO_W = 16  # "⇊ −12.3 °C/min", "10 °C in 56 s", "min −12.3 °C"
_INFO_ONE_ROW_W = 30  # both of the first two on one row
_LABEL_MIN = 10
_LABEL_MAX = 32


def render_dashboard(snapshot: Snapshot, header: Mapping[str, Any], *, width: int, height: int,
                     blink_on: bool,
                     history: Mapping[str, Sequence[Point]] | None = None,
                     quit_prompt: bool = False, read_only: bool = False,
                     monochrome: bool = False, blink_slow: bool | None = None,
                     span_s: float = DISPLAY_SPARKLINE_S,
                     interventions: Sequence[tuple[float, str]] | None = None
                     ) -> RenderableType:
    """The whole screen for ``snapshot``, at most ``height`` lines of ``width`` columns.

    ``blink_on`` is the phase of the ~2 Hz flash of high-priority alarms and ``blink_slow`` that
    of the ~0.5 Hz flash of medium ones (the caller derives both from its clock, see
    :func:`blink_phases`; ``None`` reuses ``blink_on``). ``history`` holds recent ``(t, temp_c)``
    per channel for the sparklines covering the last ``span_s`` seconds. ``interventions`` are
    ``(t, "co2" | "saline")``; by default those ``history`` collected from the event records.
    """
    width = max(20, width)
    height = max(8, height)
    slow = blink_on if blink_slow is None else blink_slow
    style = _Style(monochrome, blink_on, slow)
    if interventions is None:
        interventions = tuple(getattr(history, "interventions", ()))
    parts: list[RenderableType] = []
    head = _header(snapshot, header, width, style, interventions)
    foot = _footer(width, quit_prompt, read_only, style, replay=header.get("mode") == "replay")
    body = height - len(head) - 1
    alarm_room = max(2, body // 3 + 1)
    alarm_lines = _alarm_panel(snapshot, header, width, alarm_room, style)
    channel_room = body - len(alarm_lines)
    parts.extend(head)
    parts.extend(alarm_lines)
    parts.append(_channels(snapshot, header, width, channel_room, history or {}, span_s, style,
                           interventions))
    parts.append(foot)
    return Group(*parts)


def blink_phases(now: float) -> tuple[bool, bool]:
    """Flash phases at ``now`` seconds: (high ~2 Hz, medium ~0.5 Hz), each on half the period."""
    return (now * 2.0) % 1.0 < 0.5, (now * 0.5) % 1.0 < 0.5


class _Style:
    def __init__(self, monochrome: bool, fast: bool, slow: bool) -> None:
        self.mono = monochrome
        self.fast = fast
        self.slow = slow

    def priority(self, priority: Priority, flashing: bool = True) -> str:
        on, off = (_MONO if self.mono else _COLOUR)[priority]
        if not flashing:
            return off
        phase = self.fast if priority is Priority.HIGH else self.slow
        return on if phase else off

    def colour(self, colour: str) -> str:
        return "" if self.mono else colour

    def bad(self) -> str:
        return "bold reverse" if self.mono else "bold bright_white on red"

    def technical(self) -> str:
        return "bold reverse" if self.mono else "bold black on yellow"


# Header ------------------------------------------------------------------------------------

def clock(seconds: float) -> str:
    """``H:MM:SS`` (or ``MM:SS`` under an hour) of a session time; never negative."""
    seconds = max(0, int(seconds)) if math.isfinite(seconds) else 0
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def wall_clock(snapshot: Snapshot, header: Mapping[str, Any]) -> str | None:
    """Local time of day of the snapshot: the session's wall start plus the session time (slowed
    by the demo's speed; a replay shows the recorded time). ``None`` without a start."""
    started = header.get("started")
    if not isinstance(started, str):
        return None
    try:
        start = datetime.fromisoformat(started)
    except ValueError:
        return None
    speed = _number(header.get("speed"))
    scale = 1.0 if header.get("mode") == "replay" or not speed or speed <= 0 else speed
    try:
        moment = start + timedelta(seconds=snapshot.t / scale)
        return moment.astimezone().strftime("%H:%M:%S")
    except (OverflowError, ValueError, OSError):
        return None


def phase_text(snapshot: Snapshot, header: Mapping[str, Any]) -> tuple[str, str, bool] | None:
    """("cycle 1 FREEZE", "03:16 / 10:00", target reached) from the engine's snapshot.

    Only a viewer without an engine (``cryoguard watch``) may pass the phase in the header
    (``phase``, ``cycle``, ``phase_elapsed_s``, ``phase_target_s``); targets are never guessed.
    """
    cycle: Any
    if snapshot.phase != "idle" or snapshot.phase_started_t is not None:
        phase, cycle = snapshot.phase, snapshot.cycle
        elapsed = (None if snapshot.phase_started_t is None
                   else max(0.0, snapshot.t - snapshot.phase_started_t))
        target = snapshot.phase_target_s
    elif header.get("phase"):
        phase, cycle = str(header["phase"]), header.get("cycle")
        elapsed = _number(header.get("phase_elapsed_s"))
        target = _number(header.get("phase_target_s"))
    else:
        return None
    name = printable(phase).upper().replace("_", " ")
    words = f"cycle {cycle} {name}" if isinstance(cycle, int) and cycle > 0 else name
    timer = ""
    reached = False
    if elapsed is not None:
        timer = clock(elapsed)
        if target is not None:
            timer += f" / {clock(target)}"
            reached = elapsed >= target
    return words, timer, reached


def _header(snapshot: Snapshot, header: Mapping[str, Any], width: int, style: _Style,
            interventions: Sequence[tuple[float, str]]) -> list[Text]:
    station = printable(header.get("station") or "cryoguard")
    mode = header.get("mode")
    phase = phase_text(snapshot, header)
    wall = wall_clock(snapshot, header)
    # Segments in order, each (text, style, drop rank): the widest first go when space is short.
    segments: list[tuple[str, str, int]] = [(" CRYOGUARD ", "bold reverse", 1),
                                            (f" {station}", "bold", 2)]
    if wall is not None:
        segments.append((f"  {wall}", "bold", 9))
    segments.append((f"  session {clock(snapshot.t)}", "", 8))
    if mode and mode not in ("live", "run"):
        segments.append((f"  [{printable(mode)}]", style.colour("magenta"), 3))
    if phase is not None:
        words, timer, reached = phase
        segments.append((f"  {words}", "bold", 7))
        if timer:
            segments.append((f" {timer}", "", 6))
        if reached:
            segments.append((" TARGET REACHED", style.priority(Priority.LOW, False) or "bold",
                             5))
    first = _fit_segments(segments, width)
    second = Text(no_wrap=True, overflow="ellipsis")
    second.append(" audio: ")
    second.append_text(_audio(snapshot, header, style))
    last = _last_injection(snapshot, interventions)
    if last:
        second.append("   ")
        second.append(last, style="bold")
    second.append("   devices:")
    if not snapshot.devices:
        second.append(" none")
    for device, state in snapshot.devices:
        second.append(f" {printable(device)} ", style="" if state == "connected" else "bold")
        if state == "connected":
            second.append("connected", style=style.colour("green"))
        else:
            second.append(printable(state).upper(), style=style.bad())
    second.truncate(width, overflow="ellipsis")
    return [first, second]


def _fit_segments(segments: list[tuple[str, str, int]], width: int) -> Text:
    """Drop the lowest-ranked segments until the line fits; then cut with an ellipsis."""
    kept = list(segments)
    while sum(cell_len(s) for s, _, _ in kept) > width and len(kept) > 1:
        kept.remove(min(kept, key=lambda s: s[2]))
    line = Text(no_wrap=True, overflow="ellipsis")
    for text, seg_style, _ in kept:
        line.append(text, style=seg_style)
    line.truncate(width, overflow="ellipsis")
    return line


def _audio(snapshot: Snapshot, header: Mapping[str, Any], style: _Style) -> Text:
    audio = snapshot.audio
    text = Text()
    output = header.get("audio_output")
    out = output.get("output") if isinstance(output, Mapping) else None
    if out == "off":
        text.append("AUDIO OFF", style=style.bad())
        problem = output.get("problem") if isinstance(output, Mapping) else None
        if problem:  # not asked for: nothing could sound (no device, no terminal)
            text.append(f": {printable(problem).split(' (')[0]}", style=style.technical())
        if audio.sounding is not None:
            text.append(f", silent {PRIORITY_WORDS[audio.sounding]}")
        return text
    if audio.paused and audio.paused_until is not None:
        left = max(0.0, audio.paused_until - snapshot.t)
        text.append(f"PAUSED {clock(math.ceil(left))}", style=style.priority(Priority.MEDIUM,
                                                                              False))
        if audio.sounding is not None:
            text.append(f", sounding {PRIORITY_WORDS[audio.sounding]}")
    elif audio.sounding is not None:
        text.append(f"SOUNDING {PRIORITY_WORDS[audio.sounding]}",
                    style=style.priority(audio.sounding, False))
    else:
        text.append("quiet" if snapshot.alarms else "on")
    if out == "bell":
        # A technical condition, not silence: the room may not hear a terminal bell.
        problem = output.get("problem") if isinstance(output, Mapping) else None
        text.append(" ")
        reason = printable(problem).split(" (")[0] if problem else ""
        text.append(f"BELL ONLY{': ' + reason if reason else ''}", style=style.technical())
    elif out == "speaker":
        text.append(" (speaker)", style="dim")
    return text


def _last_injection(snapshot: Snapshot, interventions: Sequence[tuple[float, str]]) -> str:
    """``CO2 02:15 ago``: the most recent injection up to the snapshot's time."""
    past = [(t, kind) for t, kind in interventions if t <= snapshot.t + 1e-9]
    if not past:
        return ""
    t, kind = max(past, key=lambda item: item[0])
    return f"{INJECTIONS.get(kind, printable(kind))} {clock(snapshot.t - t)} ago"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# Alarms ------------------------------------------------------------------------------------

def action_for(alarm: AlarmView, role: str | None, actions: Mapping[str, str]) -> str:
    """The site's (or built-in) action text for an active physiological alarm, else ``""``."""
    if not alarm.active or alarm.category != "physiological":
        return ""
    for key in (f"{role}.{alarm.condition}", alarm.condition):
        text = actions.get(key)
        if text:
            return printable(text)
    return ""


def _actions(header: Mapping[str, Any]) -> Mapping[str, str]:
    given = header.get("actions")
    if isinstance(given, Mapping):
        return {str(k): str(v) for k, v in given.items() if isinstance(v, str)}
    return ALARM_ACTIONS


def _alarm_panel(snapshot: Snapshot, header: Mapping[str, Any], width: int, room: int,
                 style: _Style) -> list[Text]:
    alarms = snapshot.alarms
    title = Text(no_wrap=True, overflow="ellipsis")
    if not alarms:
        title.append(" ALARMS: none ", style=style.colour("green"))
        return [_rule(title, width)]
    active = sum(1 for a in alarms if a.active)
    title.append(f" ALARMS {len(alarms)}", style="bold")
    if active != len(alarms):
        title.append(f" ({active} active, {len(alarms) - active} latched)")
    title.append(" ")
    lines = [_rule(title, width)]
    channels = {c.id: c for c in snapshot.channels}
    actions = _actions(header)
    texts = [action_for(a, channels[a.channel].role if a.channel in channels else None, actions)
             for a in alarms]
    available = max(1, room - 1)
    if len(alarms) <= available:
        shown, spare = len(alarms), available - len(alarms)
    else:  # one line says how many more; the most urgent alarm keeps its action if it has one
        shown, spare = max(1, available - 1), 0
        if texts[0] and shown >= 2:
            shown, spare = shown - 1, 1
    for alarm, action in zip(alarms[:shown], texts[:shown], strict=True):
        lines.append(_alarm_line(alarm, channels.get(alarm.channel), width, style))
        if action and spare > 0:
            spare -= 1
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("      → ", style="bold")
            line.append(action, style=style.priority(alarm.priority, False) or "bold")
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
    if shown < len(alarms):
        rest = alarms[shown:]
        worst = max(a.priority for a in rest)
        more = Text(no_wrap=True, overflow="ellipsis")
        more.append(f" {worst.marker:<3} +{len(rest)} more alarms (worst {PRIORITY_WORDS[worst]})",
                    style=style.priority(worst, False))
        lines.append(more)
    return lines


def _rule(title: Text, width: int) -> Text:
    line = Text("─", no_wrap=True, overflow="crop")
    line.append_text(title)
    line.append("─" * max(0, width - title.cell_len - 1))
    line.truncate(width)
    return line


def live_value(alarm: AlarmView, channel: ChannelView | None) -> str:
    """The channel's value now, beside an alarm's trip record: ``now 8.7 °C``, ``now −12.0
    °C/min`` for a rate alarm, ``now STALE`` for a sensor that says nothing. ``""`` when the
    alarm is not about a channel."""
    if channel is None:
        return ""
    value, word = reading_text(channel)
    if word:
        return f"now {value}"
    if alarm.condition == "falling_fast":
        slope = channel.slope_c_per_min
        return f"now {_signed(slope)} °C/min" if slope is not None else f"now {value} °C"
    if alarm.condition == "predicted_below_critical":
        limit = limit_text(channel)
        return f"now {value} °C" + (f", {limit}" if limit != "—" else "")
    return f"now {value} °C"


def _alarm_line(alarm: AlarmView, channel: ChannelView | None, width: int, style: _Style
                ) -> Text:
    flashing = alarm.active
    line = Text(no_wrap=True, overflow="ellipsis")
    head = f" {alarm.priority.marker:<3} {PRIORITY_WORDS[alarm.priority]:<6} "
    line.append(head, style=style.priority(alarm.priority, flashing))
    now = live_value(alarm, channel) if alarm.active else ""
    if now:
        line.append(f" {now} ", style="bold")
        line.append("│", style="dim")
    line.append(f" {clock(alarm.raised_t)} ")
    if alarm.acknowledged:
        line.append("ACK", style="bold")
        line.append(" ")
    if not alarm.active:
        line.append("LATCHED", style="bold")
        line.append(" ")
    message = printable(alarm.message).lstrip("*").strip() or printable(alarm.id)
    label = printable(channel.label) if channel is not None else ""
    if (line.cell_len + cell_len(message) > width and channel is not None and label
            and label != channel.id and message.startswith(label)):
        # Short of room: the channel's id instead of its label keeps the condition visible.
        message = printable(channel.id) + message[len(label):]
    line.append(message, style=style.priority(alarm.priority, False))
    line.truncate(width, overflow="ellipsis")
    return line


# Channels: words ---------------------------------------------------------------------------

def reading_text(channel: ChannelView) -> tuple[str, bool]:
    """What to show for the value: ``("-3.2", False)`` or a status word ``("OPEN", True)``.

    A device fault wins over staleness (it says why); a stale or faulty channel never shows a
    number, even one the view still carries.
    """
    if channel.status is not Status.OK:
        return STATUS_WORDS.get(channel.status, channel.status.name), True
    if channel.stale:
        return ("STALE" if channel.readings else "NO DATA"), True
    if channel.temp_c is None or not math.isfinite(channel.temp_c):
        return "NO DATA", True
    return celsius(channel.temp_c), False


def _signed(value: float) -> str:
    """``−9.4``; from 100 on whole numbers (a probe's ``−308`` fits its one-row column)."""
    if abs(value) < 0.05:
        return "0.0"
    digits = 0 if abs(value) >= 99.95 else 1
    return f"{MINUS if value < 0 else '+'}{abs(value):.{digits}f}"


def trend_text(channel: ChannelView) -> str:
    """Arrow and rate in words: ``⇊ −9.4 °C/min``; a dash when the reading is not current."""
    slope = channel.slope_c_per_min
    if slope is None or reading_text(channel)[1]:
        return "—"
    fast, steady = DISPLAY_ARROW_FAST_C_PER_MIN, DISPLAY_ARROW_STEADY_C_PER_MIN
    if slope <= -fast:
        arrow = "⇊"
    elif slope <= -steady:
        arrow = "↓"
    elif slope >= fast:
        arrow = "⇈"
    elif slope >= steady:
        arrow = "↑"
    else:
        arrow = "→"
    return f"{arrow} {_signed(slope)} °C/min"


def limit_text(channel: ChannelView) -> str:
    """The nearest limit the trend heads for and when: ``10 °C in 56 s``, ``10 °C in 12 min``."""
    secs = channel.seconds_to_limit
    if (secs is None or channel.limit_c is None or reading_text(channel)[1] or secs < 0
            or not math.isfinite(secs) or secs >= 3600):
        return "—"
    limit = f"{channel.limit_c:.1f}".rstrip("0").rstrip(".")
    when = f"{secs:.0f} s" if secs < 120 else f"{secs / 60:.0f} min"
    return f"{limit} °C in {when}"


def min_text(channel: ChannelView) -> str:
    return f"min {celsius(channel.min_c)} °C" if channel.min_c is not None else "min —"


def _worst_alarms(snapshot: Snapshot) -> dict[str, AlarmView]:
    worst: dict[str, AlarmView] = {}
    for alarm in snapshot.alarms:  # most urgent first
        if alarm.active and alarm.channel not in worst:
            worst[alarm.channel] = alarm
    return worst


def _value_style(channel: ChannelView, word: bool, alarm: AlarmView | None, levels: Levels,
                 style: _Style) -> str:
    if word:
        return style.bad()
    if alarm is not None and alarm.category == "physiological":
        return style.priority(alarm.priority)
    if channel.temp_c is not None and levels.zone(channel.temp_c) == 2:
        return style.priority(Priority.HIGH, False)
    if channel.temp_c is not None and levels.zone(channel.temp_c) == 1:
        return style.priority(Priority.MEDIUM, False)
    return "bold"


def _label(channel: ChannelView) -> str:
    cid, label = printable(channel.id), printable(channel.label)
    if label and label != cid:
        return f"{cid} {label}"
    return cid


def _fit(text: str, width: int, right: bool = False) -> str:
    """``text`` in exactly ``width`` cells: cut with an ellipsis, padded left or right."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        text = set_cell_size(text, max(0, width - 1)) + "…"
    return set_cell_size(text, width) if not right else " " * (width - cell_len(text)) + text


def _wrap(text: str, width: int, rows: int) -> list[str]:
    """``text`` wrapped into at most ``rows`` lines of ``width``; the last cut with an ellipsis
    only if the whole does not fit."""
    lines = textwrap.wrap(text, width=max(1, width), break_long_words=True,
                          break_on_hyphens=True) or [""]
    if len(lines) > rows:
        lines = [*lines[:rows - 1], _fit(" ".join(lines[rows - 1:]), width)]
    return lines


# Channels: layout --------------------------------------------------------------------------

class _Layout:
    """Column widths for one table: label, value, info, sparkline (0: none)."""

    def __init__(self, label: int, value: int, info: int, spark: int, rows: int) -> None:
        self.label, self.value, self.info, self.spark, self.rows = label, value, info, spark, rows


def _value_width(value: str, word: bool, rows: int) -> int:
    if word:
        return cell_len(value)
    if rows > 1:
        return big_width(value, rows) + 3  # digits, then " °C" on the first row
    return cell_len(value) + 3


def _layout(snapshot: Snapshot, width: int, rows: int) -> _Layout | None:
    """Widths for large digits ``rows`` tall (1: text), or ``None`` when they do not fit."""
    values = [reading_text(c) for c in snapshot.channels]
    big = [c.role in BIG_ROLES for c in snapshot.channels]
    value_w = max([8] + [_value_width(v, w, rows if b else 1)
                         for (v, w), b in zip(values, big, strict=True)])
    info_w = _INFO_W if rows > 1 else _INFO_ONE_ROW_W
    free = width - value_w - info_w - 2  # one space between columns
    if free < _LABEL_MIN:
        return None
    # A large-digit block wraps its label over its rows (one left for the role); a one-row
    # channel needs its label on one line.
    needed = [_LABEL_MIN]
    for channel, is_big in zip(snapshot.channels, big, strict=True):
        label = _label(channel)
        if is_big and rows > 1:
            longest_word = max((cell_len(w) for w in label.split()), default=0)
            needed.append(max(longest_word, math.ceil(cell_len(label) / (rows - 1)) + 3))
        else:
            needed.append(cell_len(label))
    wanted = min(_LABEL_MAX, max(needed))
    if free >= wanted + 1 + _MIN_SPARK:  # the labels whole and a sparkline
        return _Layout(wanted, value_w, info_w, free - wanted - 1, rows)
    return _Layout(min(free, wanted), value_w, info_w, 0, rows)


def _channels(snapshot: Snapshot, header: Mapping[str, Any], width: int, room: int,
              history: Mapping[str, Sequence[Point]], span_s: float, style: _Style,
              interventions: Sequence[tuple[float, str]]) -> RenderableType:
    channels = snapshot.channels
    if room <= 0:
        return Text("")
    if not channels:
        return Text(" no channels yet", no_wrap=True)
    n_big = sum(1 for c in channels if c.role in BIG_ROLES)
    for rows in DIGIT_ROWS:
        if n_big and 1 + n_big * rows + (len(channels) - n_big) <= room:
            # The tallest digits that fit: the sparkline goes first, then the height.
            layout = _layout(snapshot, width, rows)
            if layout is not None:
                return _table(snapshot, header, layout, history, span_s, style, interventions)
    if len(channels) + 1 <= room:
        layout = _layout(snapshot, width, 1)
        if layout is not None:
            return _table(snapshot, header, layout, history, span_s, style, interventions)
    return _grid(snapshot, header, width, room, style)


def _table(snapshot: Snapshot, header: Mapping[str, Any], layout: _Layout,
           history: Mapping[str, Sequence[Point]], span_s: float, style: _Style,
           interventions: Sequence[tuple[float, str]]) -> Group:
    """Channel blocks built line by line: a rich Table costs several times more per frame and
    this layout needs none of its measuring."""
    worst = _worst_alarms(snapshot)
    titles = [_fit("channel", layout.label), _fit("°C", layout.value, right=True),
              _fit("trend, limit" if layout.rows > 1 else "trend       time to limit",
                   layout.info)]
    if layout.spark:
        marks = "  C CO2  S saline" if layout.spark >= 30 else ""
        titles.append(_fit(f"last {clock(span_s)}{marks}", layout.spark))
    lines: list[Text] = [Text(" ".join(titles), style="dim", no_wrap=True, overflow="crop")]
    for channel in snapshot.channels:
        rows = layout.rows if channel.role in BIG_ROLES else 1
        lines.extend(_block(channel, rows, snapshot, header, layout, history, span_s, style,
                            worst.get(channel.id), interventions))
    return Group(*lines)


def _block(channel: ChannelView, rows: int, snapshot: Snapshot, header: Mapping[str, Any],
           layout: _Layout, history: Mapping[str, Sequence[Point]], span_s: float,
           style: _Style, alarm: AlarmView | None,
           interventions: Sequence[tuple[float, str]]) -> list[Text]:
    value, word = reading_text(channel)
    levels = levels_for(channel.id, channel.role, header)
    vstyle = _value_style(channel, word, alarm, levels, style)
    label = _label(channel)
    if alarm is not None and style.mono:
        label = alarm.priority.marker + label
    label_style = ("bold" if alarm is None or style.mono
                   else style.priority(alarm.priority, False))
    label_lines = _wrap(label, layout.label, rows) if rows > 1 else [_fit(label, layout.label)]
    label_styles = [label_style] * len(label_lines)
    if len(label_lines) < rows:
        label_lines.append(printable(channel.role))
        label_styles.append("dim")
    # Value column.
    if word:
        value_lines = [_fit(value, layout.value, right=True)] + [" " * layout.value] * (rows - 1)
    elif rows > 1:
        digits = big_rows(value, rows)
        value_lines = [_fit(d + (" °C" if i == 0 else "   "), layout.value, right=True)
                       for i, d in enumerate(digits)]
    else:
        value_lines = [_fit(f"{value} °C", layout.value, right=True)]
    # Information column.
    trend, limit = trend_text(channel), limit_text(channel)
    if rows == 1:
        info = [f"{_fit(trend, 14)} {limit if limit != '—' else ''}"]
    else:
        info = [trend, limit if limit != "—" else min_text(channel)]
        if rows > 2:
            info.append(min_text(channel) if limit != "—" else "")
            info.append(levels.legend())
    # Sparkline column.
    spark_lines: list[Text] = []
    points = history.get(channel.id, ())
    if layout.spark:
        legend = levels.legend() if rows <= 2 else ""
        room = layout.spark - len(legend) - 1 if legend and layout.spark >= 20 else layout.spark
        marks = channel.role in BIG_ROLES and bool(interventions)
        if rows > 2:
            spark_lines = sparkline_rows(points, width=room, rows=rows - 1, span_s=span_s,
                                         now=snapshot.t, levels=levels,
                                         monochrome=style.mono)
            spark_lines.append(marker_row(interventions if marks else (), width=room,
                                          span_s=span_s, now=snapshot.t,
                                          monochrome=style.mono))
        else:
            first = sparkline(points, width=room, span_s=span_s, now=snapshot.t,
                              levels=levels, monochrome=style.mono)
            if rows == 1 and marks:
                first = overlay_markers(first, interventions, width=room, span_s=span_s,
                                        now=snapshot.t, monochrome=style.mono)
            if room < layout.spark:
                first.append(" " + legend, style="dim")
            spark_lines = [first]
            if rows == 2:
                spark_lines.append(marker_row(interventions if marks else (), width=room,
                                              span_s=span_s, now=snapshot.t,
                                              monochrome=style.mono))
    out: list[Text] = []
    for r in range(rows):
        line = Text(no_wrap=True, overflow="crop")
        if r < len(label_lines):
            line.append(_fit(label_lines[r], layout.label), style=label_styles[r])
        else:
            line.append(" " * layout.label)
        line.append(" ")
        line.append(value_lines[r] if r < len(value_lines) else " " * layout.value,
                    style=vstyle if (r < len(value_lines) and value_lines[r].strip()) else "")
        line.append(" ")
        line.append(_fit(info[r] if r < len(info) else "", layout.info),
                    style="bold" if r == 0 and not word else "dim" if r >= 2 else "")
        if layout.spark and r < len(spark_lines):
            line.append(" ")
            line.append_text(spark_lines[r])
        out.append(line)
    return out


_SHORT_WORDS = {"OVER RANGE": "OVER", "UNDER RANGE": "UNDER", "BAD DATA": "BAD",
                "NO DATA": "NODATA"}
_GRID_VALUE_W = 6  # "-140.2", "STALE", "NODATA"


def _grid(snapshot: Snapshot, header: Mapping[str, Any], width: int, room: int, style: _Style
          ) -> RenderableType:
    """More channels than rows: marker, id, value and arrow per cell, read down the columns.

    Ids are cut only when nothing else makes the grid fit; if even that fails, quiet channels
    are left out (those with an alarm or a fault always stay) and the count says so.
    """
    worst = _worst_alarms(snapshot)
    channels = list(snapshot.channels)
    longest = min(8, max(cell_len(printable(c.id)) for c in channels))
    for id_w in range(longest, 2, -1):
        cols = max(1, width // (id_w + 12))
        if math.ceil(len(channels) / cols) <= room:
            break
    else:  # channels will be left out anyway: keep the ids whole
        id_w = longest
        cols = max(1, width // (id_w + 12))
    hidden = 0
    if len(channels) > cols * room:
        capacity = cols * (room - 1)  # one line says how many are hidden
        def urgency(c: ChannelView) -> tuple[int, int]:
            alarm = worst.get(c.id)
            return (-(int(alarm.priority) if alarm else 0), -int(reading_text(c)[1]))
        keep = {id(c) for c in sorted(channels, key=urgency)[:capacity]}
        hidden = len(channels) - len(keep)
        channels = [c for c in channels if id(c) in keep]
    rows = math.ceil(len(channels) / cols)
    cell_w = width // cols
    lines: list[Text] = []
    for r in range(rows):
        line = Text(no_wrap=True, overflow="crop")
        for c in range(cols):
            i = c * rows + r
            if i >= len(channels):
                break
            channel = channels[i]
            value, word = reading_text(channel)
            alarm = worst.get(channel.id)
            levels = levels_for(channel.id, channel.role, header)
            marker = alarm.priority.marker if alarm else ""
            line.append(f"{marker:>3}", style=style.priority(alarm.priority, False)
                        if alarm else "")
            name = _fit(printable(channel.id), id_w)
            line.append(f"{name} ", style="bold" if alarm else "")
            shown = _SHORT_WORDS.get(value, value) if word else value
            line.append(f"{shown[:_GRID_VALUE_W]:>{_GRID_VALUE_W}}",
                        style=_value_style(channel, word, alarm, levels, style))
            arrow = trend_text(channel)[:1] if not word else " "
            line.append(arrow if arrow != "—" else " ")
            line.append(" " * max(1, cell_w - id_w - 11))
        line.truncate(width)
        lines.append(line)
    if hidden:
        lines.append(Text(f" +{hidden} quiet channels not shown (enlarge the terminal)",
                          style="dim", no_wrap=True, overflow="ellipsis"))
    return Group(*lines)


# Footer ------------------------------------------------------------------------------------

def _footer(width: int, quit_prompt: bool, read_only: bool, style: _Style, *,
            replay: bool = False) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    if quit_prompt:
        line.append(" quit? (y/n) ", style="bold reverse")
        line.append("  y quits, any other key goes back")
        return line
    if read_only and replay:
        line.append(" replay, read-only ", style="reverse")
        line.append("  it shows what happened; q quits")
        return line
    if read_only:
        line.append(" read-only remote view ", style="reverse")
        line.append("  acknowledge and pause at the bedside station; Ctrl-C leaves")
        return line
    for key, words, gap in _footer_keys(width):
        line.append(f" {key}", style="bold reverse")
        line.append(f" {words}{gap}")
    line.truncate(width, overflow="ellipsis")
    return line


def _footer_keys(width: int) -> list[tuple[str, str, str]]:
    """(key, words, gap after) for the widest footer that fits ``width``: long words, then
    short words, then short words with one space between keys (the key's reverse video
    still sets it apart), then keys dropped in :data:`_FOOTER_DROP` order."""
    def size(items: list[tuple[str, str, str]]) -> int:
        return sum(2 + 1 + cell_len(words) + len(gap) for _, words, gap in items)

    forms = ([(k, long, " ") for k, long, _ in KEYS], [(k, short, " ") for k, _, short in KEYS])
    for form in forms:
        if size(form) <= width:
            return form
    compact = [(k, short, "") for k, _, short in KEYS]
    for key in _FOOTER_DROP:
        if size(compact) <= width:
            break
        compact = [item for item in compact if item[0] != key]
    return compact
