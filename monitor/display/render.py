"""The bedside dashboard as a pure function of a snapshot: no clock, no terminal, no state.

Everything the screen shows comes from the arguments, so the live display, the remote viewer
(``cryoguard watch``), the capture script and the tests all draw the same picture. The layout is
computed line by line so the frame always fits the terminal: alarms first (they must never be
scrolled away), then one row per channel, or a compact grid when the rows do not fit, then the
keys. Priority is always shown by text (``***``/``**``/``*`` and a word) as well as by colour, and
a faulty or stale sensor shows a status word, never its last number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Group, RenderableType
from rich.text import Text

from monitor.config.defaults import DISPLAY_SPARKLINE_S
from monitor.display.sparkline import Levels, Point, levels_for, sparkline
from monitor.engine import AlarmView, Snapshot
from monitor.engine.channel import ChannelView
from monitor.model import Priority, Status

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
KEYS = (("a", "ack all"), ("p", "pause audio"), ("f", "freeze"), ("t", "thaw"),
        ("v", "active thaw"), ("e", "end"), ("q", "quit"))

# Two-row block digits: about twice the height of a text row, readable from a few metres.
BIG_DIGITS: Mapping[str, tuple[str, str]] = {
    "0": ("█▀█", "█▄█"), "1": ("▀█ ", "▄█▄"), "2": ("▀▀█", "█▄▄"), "3": ("▀▀█", "▄▄█"),
    "4": ("█ █", "▀▀█"), "5": ("█▀▀", "▄▄█"), "6": ("█▄▄", "█▄█"), "7": ("▀▀█", "  █"),
    "8": ("█▄█", "█▄█"), "9": ("█▀█", "▀▀█"), "-": ("▄▄ ", "   "), "+": ("▄█▄", " ▀ "),
    ".": (" ", "▄"), " ": ("  ", "  "),
}
BIG_MIN_WIDTH = 100  # below this the block digits leave no room for the sparkline
_MIN_SPARK = 8


def render_dashboard(snapshot: Snapshot, header: Mapping[str, Any], *, width: int, height: int,
                     blink_on: bool,
                     history: Mapping[str, Sequence[Point]] | None = None,
                     quit_prompt: bool = False, read_only: bool = False,
                     monochrome: bool = False, blink_slow: bool | None = None,
                     span_s: float = DISPLAY_SPARKLINE_S) -> RenderableType:
    """The whole screen for ``snapshot``, at most ``height`` lines of ``width`` columns.

    ``blink_on`` is the phase of the ~2 Hz flash of high-priority alarms and ``blink_slow`` that
    of the ~0.5 Hz flash of medium ones (the caller derives both from its clock, see
    :func:`blink_phases`; ``None`` reuses ``blink_on``). ``history`` holds recent ``(t, temp_c)``
    per channel for the sparklines covering the last ``span_s`` seconds.
    """
    width = max(20, width)
    height = max(8, height)
    slow = blink_on if blink_slow is None else blink_slow
    style = _Style(monochrome, blink_on, slow)
    parts: list[RenderableType] = []
    head = _header(snapshot, header, width, style)
    foot = _footer(width, quit_prompt, read_only, style, replay=header.get("mode") == "replay")
    body = height - len(head) - 1
    alarm_room = max(2, min(1 + max(1, len(snapshot.alarms)), body // 3 + 1))
    alarm_lines = _alarm_panel(snapshot, width, alarm_room, style)
    channel_room = body - len(alarm_lines)
    parts.extend(head)
    parts.extend(alarm_lines)
    parts.append(_channels(snapshot, header, width, channel_room, history or {}, span_s, style))
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


# Header ------------------------------------------------------------------------------------

def clock(seconds: float) -> str:
    """``H:MM:SS`` (or ``MM:SS`` under an hour) of a session time; never negative."""
    seconds = max(0, int(seconds)) if math.isfinite(seconds) else 0
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _header(snapshot: Snapshot, header: Mapping[str, Any], width: int, style: _Style
            ) -> list[Text]:
    station = str(header.get("station") or "cryoguard")
    first = Text(no_wrap=True, overflow="ellipsis")
    first.append(" CRYOGUARD ", style="bold reverse")
    first.append(f" {station}", style="bold")
    first.append(f"   session {clock(snapshot.t)}")
    mode = header.get("mode")
    if mode and mode not in ("live", "run"):
        first.append(f"   [{mode}]", style=style.colour("magenta"))
    phase = header.get("phase")
    if phase:
        first.append("   ")
        cycle = header.get("cycle")
        if cycle is not None:
            first.append(f"cycle {cycle} ")
        first.append(str(phase).upper().replace("_", " "), style="bold")
        elapsed = _number(header.get("phase_elapsed_s"))
        target = _number(header.get("phase_target_s"))
        if elapsed is not None:
            first.append(f" {clock(elapsed)}")
            if target is not None:
                first.append(f" / {clock(target)}")
                if elapsed >= target:
                    first.append(" TARGET REACHED", style=style.priority(Priority.LOW, False)
                                 or "bold")
    second = Text(no_wrap=True, overflow="ellipsis")
    second.append(" devices:")
    if not snapshot.devices:
        second.append(" none")
    for device, state in snapshot.devices:
        if state == "connected":
            second.append(f" {device} ", style="")
            second.append("connected", style=style.colour("green"))
        else:
            second.append(f" {device} ", style="bold")
            second.append(state.upper(), style=style.bad())
    second.append("   audio: ")
    second.append_text(_audio(snapshot, style))
    return [first, second]


def _audio(snapshot: Snapshot, style: _Style) -> Text:
    audio = snapshot.audio
    text = Text()
    if audio.paused and audio.paused_until is not None:
        left = max(0.0, audio.paused_until - snapshot.t)
        text.append(f"PAUSED {clock(math.ceil(left))}", style=style.priority(Priority.MEDIUM,
                                                                              False))
        if audio.sounding is not None:
            text.append(f", sounding {PRIORITY_WORDS[audio.sounding]}")
        return text
    if audio.sounding is not None:
        text.append(f"SOUNDING {PRIORITY_WORDS[audio.sounding]}",
                    style=style.priority(audio.sounding, False))
        return text
    text.append("quiet" if snapshot.alarms else "on")
    return text


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# Alarms ------------------------------------------------------------------------------------

def _alarm_panel(snapshot: Snapshot, width: int, room: int, style: _Style) -> list[Text]:
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
    shown = alarms if len(alarms) <= room - 1 else alarms[:max(0, room - 2)]
    for alarm in shown:
        lines.append(_alarm_line(alarm, snapshot.t, width, style))
    if len(shown) < len(alarms):
        rest = alarms[len(shown):]
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


def _alarm_line(alarm: AlarmView, now: float, width: int, style: _Style) -> Text:
    flashing = alarm.active
    line = Text(no_wrap=True, overflow="ellipsis")
    head = f" {alarm.priority.marker:<3} {PRIORITY_WORDS[alarm.priority]:<6} "
    line.append(head, style=style.priority(alarm.priority, flashing))
    line.append(f" {clock(alarm.raised_t)} ")
    if alarm.acknowledged:
        line.append("ACK", style="bold")
        line.append(" ")
    if not alarm.active:
        line.append("LATCHED", style="bold")
        line.append(" ")
    message = alarm.message.lstrip("*").strip() or alarm.id
    line.append(message, style=style.priority(alarm.priority, False))
    line.truncate(width, overflow="ellipsis")
    return line


# Channels ----------------------------------------------------------------------------------

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
    return f"{channel.temp_c:.1f}", False


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


def trend_text(channel: ChannelView) -> str:
    """Arrow and °C/min; nothing when the reading is not current (a stale trend is no trend)."""
    slope = channel.slope_c_per_min
    if slope is None or reading_text(channel)[1]:
        return "   —"
    if abs(slope) < 0.05:
        slope = 0.0
    if slope <= -6.0:
        arrow = "⇊"
    elif slope <= -0.3:
        arrow = "↓"
    elif slope >= 6.0:
        arrow = "⇈"
    elif slope >= 0.3:
        arrow = "↑"
    else:
        arrow = "→"
    return f"{arrow}{slope:+5.1f}"


def limit_text(channel: ChannelView) -> str:
    """Seconds to the nearest limit the trend points at: ``10° 45s``."""
    secs = channel.seconds_to_limit
    if secs is None or channel.limit_c is None or reading_text(channel)[1] or secs < 0:
        return "—"
    if secs >= 3600:
        return "—"
    shown = f"{secs:.0f}s" if secs < 600 else f"{secs / 60:.0f}m"
    return f"{channel.limit_c:g}° {shown}"


def _big(value: str) -> tuple[str, str]:
    """The two rows of ``value`` in block digits, both the same width."""
    top = " ".join(BIG_DIGITS.get(c, ("?", "?"))[0] for c in value)
    bottom = " ".join(BIG_DIGITS.get(c, ("?", "?"))[1] for c in value)
    width = max(len(top.rstrip()), len(bottom.rstrip()))
    return top[:width].ljust(width), bottom[:width].ljust(width)


def _big_width(value: str) -> int:
    return len(_big(value)[0])


def _channels(snapshot: Snapshot, header: Mapping[str, Any], width: int, room: int,
              history: Mapping[str, Sequence[Point]], span_s: float, style: _Style
              ) -> RenderableType:
    channels = snapshot.channels
    if room <= 0:
        return Text("")
    if not channels:
        return Text(" no channels yet", no_wrap=True)
    if len(channels) + 1 <= room:
        big = width >= BIG_MIN_WIDTH and 2 * len(channels) + 1 <= room
        return _table(snapshot, header, width, history, span_s, style, big)
    return _grid(snapshot, header, width, room, style)


def _fit(text: str, width: int, right: bool = False) -> str:
    """``text`` in exactly ``width`` cells: cut with an ellipsis, padded left or right."""
    if cell_len(text) > width:
        text = set_cell_size(text, max(0, width - 1)) + "…" if width > 0 else ""
    return set_cell_size(text, width) if not right else " " * (width - cell_len(text)) + text


def _table(snapshot: Snapshot, header: Mapping[str, Any], width: int,
           history: Mapping[str, Sequence[Point]], span_s: float, style: _Style, big: bool
           ) -> Group:
    """One row per channel (two with block digits), built line by line: a rich Table costs
    several times more per frame and this layout needs none of its measuring."""
    worst = _worst_alarms(snapshot)
    values = [reading_text(c) for c in snapshot.channels]
    if big:
        value_w = max([10] + [_big_width(v) if not w else len(v) for v, w in values])
    else:
        value_w = max([8] + [len(v) + (0 if w else 3) for v, w in values])
    longest = max(len(_label(c)) for c in snapshot.channels)
    label_w = min(22 if width >= 100 else 16, max(8, longest))
    widths = (label_w, 7, value_w, 7, 9, 6)
    spark_w = width - sum(widths) - len(widths)  # one space between columns
    show_spark = spark_w >= _MIN_SPARK
    titles = ("channel", "role", "°C", "°C/min", "to limit", "min")
    head = " ".join(_fit(t, w, right=i >= 2) for i, (t, w) in enumerate(zip(titles, widths,
                                                                           strict=True)))
    if show_spark:
        head += " " + _fit(f"last {clock(span_s)}", spark_w)
    lines: list[Text] = [Text(head, style="dim", no_wrap=True, overflow="crop")]
    blank_left = " " * (label_w + 1 + 7 + 1)
    for channel, (value, word) in zip(snapshot.channels, values, strict=True):
        levels = levels_for(channel.id, channel.role, header)
        alarm = worst.get(channel.id)
        vstyle = _value_style(channel, word, alarm, levels, style)
        line = Text(no_wrap=True, overflow="crop")
        label = _label(channel)
        if alarm is not None and style.mono:
            label = alarm.priority.marker + label
        line.append(_fit(label, label_w),
                    style="bold" if alarm is None or style.mono
                    else style.priority(alarm.priority, False))
        line.append(" ")
        line.append(_fit(channel.role, 7), style="dim")
        line.append(" ")
        second = ""
        if big and not word:
            top, second = _big(value)
            line.append(_fit(top, value_w, right=True), style=vstyle)
            second = _fit(second, value_w, right=True)
        else:
            line.append(_fit(value if word else f"{value} °C", value_w, right=True),
                        style=vstyle)
        low = f"{channel.min_c:.1f}" if channel.min_c is not None else "—"
        line.append(" " + _fit(trend_text(channel), 7, right=True))
        line.append(" " + _fit(limit_text(channel), 9, right=True))
        line.append(" " + _fit(low, 6, right=True))
        if show_spark:
            legend = levels.legend()
            room = spark_w - len(legend) - 1 if legend and spark_w >= 20 else spark_w
            line.append(" ")
            line.append_text(sparkline(history.get(channel.id, ()), width=room,
                                       span_s=span_s, now=snapshot.t, levels=levels,
                                       monochrome=style.mono))
            if room < spark_w:
                line.append(" " + legend, style="dim")
        lines.append(line)
        if big:
            below = Text(blank_left, no_wrap=True, overflow="crop")
            below.append(second or " " * value_w, style=vstyle if second else "")
            lines.append(below)
    return Group(*lines)


def _label(channel: ChannelView) -> str:
    if channel.label and channel.label != channel.id:
        return f"{channel.id} {channel.label}"
    return channel.id


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
    longest = min(8, max(len(c.id) for c in channels))
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
            name = channel.id if len(channel.id) <= id_w else channel.id[:id_w - 1] + "…"
            line.append(f"{name:<{id_w}} ", style="bold" if alarm else "")
            shown = _SHORT_WORDS.get(value, value) if word else value
            line.append(f"{shown[:_GRID_VALUE_W]:>{_GRID_VALUE_W}}",
                        style=_value_style(channel, word, alarm, levels, style))
            arrow = trend_text(channel).strip()[:1] if not word else " "
            line.append(arrow or " ")
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
    for key, words in KEYS:
        line.append(f" {key}", style="bold reverse")
        line.append(f" {words} ")
    return line
