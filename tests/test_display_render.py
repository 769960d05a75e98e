"""The dashboard as the operator reads it: rendered on a recorded Console, checked as text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from monitor.display.render import reading_text, render_dashboard
from monitor.display.sparkline import History, Levels, sparkline
from monitor.engine import AlarmView, Snapshot
from monitor.engine.alarms import AudioState
from monitor.engine.channel import ChannelView
from monitor.model import Priority, Status

QUIET = AudioState(False, None, None)


def chan(cid: str, temp: float | None = 30.0, *, status: Status = Status.OK,
         stale: bool = False, role: str = "nerve", label: str = "", slope: float | None = -1.0,
         min_c: float | None = None) -> ChannelView:
    return ChannelView(id=cid, label=label or cid, role=role, t=100.0,
                       temp_c=temp if status is Status.OK and not stale else None,
                       status=status, stale=stale, slope_c_per_min=slope,
                       seconds_to_limit=None, limit_c=None,
                       min_c=min_c if min_c is not None else temp, max_c=temp, readings=100)


def alarm(aid: str, priority: Priority, raised_t: float, *, active: bool = True,
          acknowledged: bool = False, message: str = "") -> AlarmView:
    channel, condition = aid.split(".")
    text = message or f"{priority.marker} {channel}: {condition}"
    return AlarmView(aid, channel, condition, "physiological", priority, raised_t, active,
                     acknowledged, 9.0, 10.0, text)


def snap(channels: Sequence[ChannelView], alarms: Sequence[AlarmView] = (),
         audio: AudioState = QUIET, t: float = 100.0) -> Snapshot:
    return Snapshot(t=t, channels=tuple(channels), alarms=tuple(alarms), audio=audio,
                    devices=(("box", "connected"),))


def screen(snapshot: Snapshot, *, width: int = 100, height: int = 30,
           header: Mapping[str, Any] | None = None, **kwargs: Any) -> list[str]:
    console = Console(record=True, width=width, height=height, force_terminal=True,
                      color_system="truecolor", no_color=bool(kwargs.get("monochrome")))
    console.print(render_dashboard(snapshot, header or {"station": "ct-2"}, width=width,
                                   height=height, blink_on=kwargs.pop("blink_on", True),
                                   **kwargs))
    return console.export_text().rstrip("\n").split("\n")


def row_of(lines: list[str], cid: str) -> str:
    rows = [line for line in lines if line.startswith(f"{cid} ")]
    assert len(rows) == 1, lines
    return rows[0]


@pytest.mark.parametrize(("status", "word"), [
    (Status.OPEN, "OPEN"), (Status.SHORT, "SHORT"), (Status.OVER_RANGE, "OVER RANGE"),
    (Status.UNDER_RANGE, "UNDER RANGE"), (Status.BAD_DATA, "BAD DATA")])
def test_faulty_sensor_shows_a_status_word_not_a_number(status: Status, word: str) -> None:
    faulty = chan("N2", status=status)
    # The view may still hold an old value: the screen must not show it.
    faulty.temp_c = 23.4
    lines = screen(snap([chan("N1", 31.2), faulty]))
    row = row_of(lines, "N2")
    assert word in row
    assert "23.4" not in "\n".join(lines)
    assert "31.2" in row_of(lines, "N1")


def test_stale_sensor_shows_stale_and_no_number_nor_trend() -> None:
    stale = chan("N2", stale=True, slope=-8.0)
    stale.temp_c = 12.3  # a stale number must never reach the screen
    lines = screen(snap([chan("N1", 31.2), stale]))
    row = row_of(lines, "N2")
    assert "STALE" in row
    assert "12.3" not in row
    assert "-8.0" not in row


def test_channel_without_any_reading_says_no_data() -> None:
    waiting = ChannelView(id="N3", label="N3", role="nerve")
    assert reading_text(waiting) == ("NO DATA", True)


def test_highest_alarm_is_at_the_top_of_the_alarm_panel() -> None:
    alarms = [alarm("N1.below_critical", Priority.HIGH, 50.0, message="*** N1 below 10 °C"),
              alarm("N2.below_warning", Priority.MEDIUM, 20.0, message="** N2 below 15 °C"),
              alarm("N3.falling_fast", Priority.LOW, 10.0, message="* N3 falling fast")]
    lines = screen(snap([chan("N1", 9.0), chan("N2", 14.0), chan("N3", 20.0)], alarms))
    alarm_lines = [line for line in lines if "below" in line or "falling fast" in line]
    assert "N1 below 10" in alarm_lines[0] and "***" in alarm_lines[0]
    assert "N2 below 15" in alarm_lines[1] and "**" in alarm_lines[1]
    assert "N3 falling fast" in alarm_lines[2]
    # The panel is above the channel rows: the first alarm comes before every channel row.
    assert lines.index(alarm_lines[0]) < lines.index(row_of(lines, "N1"))


def test_acknowledged_and_latched_alarms_are_marked() -> None:
    alarms = [alarm("N1.below_critical", Priority.HIGH, 50.0, acknowledged=True,
                    message="*** N1 acked one"),
              alarm("N2.freezing", Priority.HIGH, 60.0, active=False, message="*** N2 latched"),
              alarm("N3.below_warning", Priority.MEDIUM, 70.0, message="** N3 fresh")]
    lines = screen(snap([chan("N1", 9.0), chan("N2", 12.0), chan("N3", 14.0)], alarms))
    acked = next(line for line in lines if "acked one" in line)
    latched = next(line for line in lines if "N2 latched" in line)
    fresh = next(line for line in lines if "N3 fresh" in line)
    assert " ACK " in acked and "LATCHED" not in acked
    assert "LATCHED" in latched and " ACK " not in latched
    assert "ACK" not in fresh and "LATCHED" not in fresh


def test_audio_pause_countdown_is_shown() -> None:
    paused = AudioState(True, 100.0 + 95.0, None)
    lines = screen(snap([chan("N1")], [alarm("N1.below_warning", Priority.MEDIUM, 1.0)], paused))
    assert any("PAUSED 01:35" in line for line in lines)


def test_monochrome_shows_priority_by_text() -> None:
    alarms = [alarm("N1.below_critical", Priority.HIGH, 5.0, message="*** N1 critical"),
              alarm("N2.below_warning", Priority.MEDIUM, 6.0, message="** N2 warning"),
              alarm("N3.falling_fast", Priority.LOW, 7.0, message="* N3 falling")]
    console = Console(record=True, width=80, height=24, no_color=True, force_terminal=True)
    console.print(render_dashboard(snap([chan("N1", 9.0), chan("N2"), chan("N3")], alarms),
                                   {}, width=80, height=24, blink_on=True, monochrome=True))
    text = console.export_text(styles=True, clear=False)
    assert "\x1b[3" not in text and "\x1b[4" not in text  # no colour codes at all
    plain = console.export_text()
    high = next(line for line in plain.splitlines() if "N1 critical" in line)
    medium = next(line for line in plain.splitlines() if "N2 warning" in line)
    low = next(line for line in plain.splitlines() if "N3 falling" in line)
    assert high.lstrip().startswith("*** HIGH")
    assert medium.lstrip().startswith("**  MEDIUM")
    assert low.lstrip().startswith("*   LOW")


def test_high_alarm_flashes_and_low_alarm_is_steady() -> None:
    alarms = [alarm("N1.below_critical", Priority.HIGH, 5.0),
              alarm("N3.falling_fast", Priority.LOW, 7.0)]
    snapshot = snap([chan("N1", 9.0), chan("N3")], alarms)

    def styled(blink: bool) -> list[str]:
        console = Console(record=True, width=100, height=30, force_terminal=True,
                          color_system="truecolor")
        console.print(render_dashboard(snapshot, {}, width=100, height=30, blink_on=blink))
        return console.export_text(styles=True).splitlines()
    on, off = styled(True), styled(False)
    high_on = next(line for line in on if "below_critical" in line)
    high_off = next(line for line in off if "below_critical" in line)
    low_on = next(line for line in on if "falling_fast" in line)
    low_off = next(line for line in off if "falling_fast" in line)
    assert high_on != high_off  # the high alarm changes with the flash phase
    assert "41m" in high_on  # red background while on
    assert low_on == low_off  # low priority is steady


def test_header_shows_station_session_time_phase_and_devices() -> None:
    header = {"station": "ct-suite-2", "phase": "freeze", "cycle": 2, "phase_elapsed_s": 192,
              "phase_target_s": 600}
    snapshot = Snapshot(t=3723.0, channels=(chan("N1"),), alarms=(), audio=QUIET,
                        devices=(("tcbox", "connected"), ("dcon1", "lost")))
    lines = screen(snapshot, header=header)
    assert "ct-suite-2" in lines[0]
    assert "1:02:03" in lines[0]
    assert "cycle 2 FREEZE 03:12 / 10:00" in lines[0]
    assert "tcbox connected" in lines[1] and "dcon1 LOST" in lines[1]


def test_channel_row_shows_trend_time_to_limit_and_minimum() -> None:
    channel = chan("N1", 17.5, slope=-7.2, min_c=17.1)
    channel.seconds_to_limit = 20.8
    channel.limit_c = 15.0
    history = {"N1": [(float(t), 37.0 - t * 0.29) for t in range(0, 100)]}
    row = row_of(screen(snap([channel]), width=120, history=history), "N1")
    assert "⇊ -7.2" in row
    assert "15° 21s" in row
    assert "17.1" in row
    assert "█" in row and "▁" in row  # the sparkline falls
    assert "w15 c10" in row  # the nerve's warning and critical levels


def test_footer_lists_the_keys_and_the_quit_prompt_replaces_it() -> None:
    lines = screen(snap([chan("N1")]), width=80, height=24)
    assert "a ack all" in lines[-1] and "q quit" in lines[-1]
    prompt = screen(snap([chan("N1")]), width=80, height=24, quit_prompt=True)
    assert "quit? (y/n)" in prompt[-1]
    remote = screen(snap([chan("N1")]), width=80, height=24, read_only=True)
    assert "read-only" in remote[-1] and "ack all" not in remote[-1]


def many_channels(n: int, faulty_every: int = 0) -> list[ChannelView]:
    out = []
    for i in range(n):
        if faulty_every and i % faulty_every == 0:
            out.append(chan(f"C{i:02d}", status=Status.OPEN))
        else:
            out.append(chan(f"C{i:02d}", 20.0 + i / 10))
    return out


def test_sixty_four_channels_at_80x24_fit_the_screen_in_a_grid() -> None:
    channels = many_channels(64, faulty_every=9)
    alarms = [alarm(f"C{i:02d}.below_warning", Priority.MEDIUM, float(i)) for i in range(5)]
    lines = screen(snap(channels, alarms), width=80, height=24)
    assert len(lines) <= 24
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    for i in range(64):  # every channel is still on screen
        assert f"C{i:02d}" in text
    assert "OPEN" in text
    assert "a ack all" in lines[-1]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 120), n_alarms=st.integers(0, 30), width=st.integers(80, 200),
       height=st.integers(24, 60))
def test_any_dashboard_fits_its_terminal(n: int, n_alarms: int, width: int, height: int
                                         ) -> None:
    channels = many_channels(n, faulty_every=7)
    alarms = [alarm(f"C{i:02d}.stale", Priority(1 + i % 3), float(i)) for i in range(n_alarms)]
    alarms.sort(key=lambda a: (-a.priority, a.raised_t))
    lines = screen(snap(channels, alarms), width=width, height=height)
    assert len(lines) <= height
    assert all(len(line) <= width for line in lines)
    if n_alarms:  # the most urgent alarm is always visible
        assert any(alarms[0].message.lstrip("* ") in line for line in lines)


def test_too_many_channels_keeps_those_in_alarm_and_says_how_many_are_hidden() -> None:
    channels = many_channels(300)
    alarms = [alarm("C299.below_critical", Priority.HIGH, 1.0)]
    lines = screen(snap(channels, alarms), width=80, height=24)
    text = "\n".join(lines)
    assert len(lines) <= 24
    assert "C299" in text.split("ALARMS")[1].split("C299", 1)[1]  # also in the grid
    assert "quiet channels not shown" in text


def test_sparkline_marks_levels_and_leaves_gaps_for_faults() -> None:
    levels = Levels(warning_low=15.0, critical_low=10.0)
    points: list[tuple[float, float | None]] = [(0.0, 30.0), (1.0, None), (2.0, 14.0),
                                                (3.0, 8.0)]
    line = sparkline(points, width=4, span_s=4.0, now=4.0, levels=levels)
    assert line.plain[1] == " "  # the faulty sample is a gap
    zones = [str(span.style) for span in line.spans]
    assert zones == ["green", "bold yellow", "bold red"]


def test_history_is_bounded_and_keeps_the_cold_extreme() -> None:
    history = History(span_s=10.0, points=10)
    for k in range(1000):
        t = k * 0.1
        value = 30.0 - (5.0 if k % 7 == 0 else 0.0)
        history.record(snap([chan("N1", value)], t=t))
    series = history["N1"]
    assert len(series) <= 12
    assert min(v for _, v in series if v is not None) == 25.0
    assert series[0][0] >= 99.9 - 10.0 - 1.0  # the span plus at most one slice


@pytest.mark.parametrize("value", ["-140.1", "9.9", "37.0", "-3.5", "111.1", "0.0"])
def test_block_digits_keep_both_rows_aligned(value: str) -> None:
    channel = chan("N1", float(value), min_c=-200.0)
    lines = screen(snap([channel]), width=120, height=30)
    row = lines.index(row_of(lines, "N1"))
    top, bottom = lines[row], lines[row + 1]
    start = len("N1") + 1
    # Both rows of the number end in the same column, just before the trend column.
    assert top.index("↓") == len(bottom.rstrip()) + 2
    assert value not in top[:top.index("↓")]  # shown as block digits, not text
    assert "█" in top[start:] and "▄" in bottom + top


def test_capture_script_shows_the_critical_alarm(tmp_path: Path) -> None:
    import importlib.util
    script = Path(__file__).resolve().parent.parent / "scripts" / "capture_display.py"
    spec = importlib.util.spec_from_file_location("capture_display", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "capture.txt"
    assert module.main(["--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    alarms = [line for line in lines if line.lstrip().startswith("***")]
    assert alarms and "below critical" in alarms[0]
    assert any(" ACK " in line for line in lines)  # the earlier warning was acknowledged
    assert "SOUNDING HIGH" in lines[1]
    assert all(len(line) <= 100 for line in lines)
