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
from monitor.model import Priority, Reading, Status
from tests.display_helpers import channel_block, channel_value

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
    assert channel_value(lines, "N1") == 31.2


def test_stale_sensor_shows_stale_and_no_number_nor_trend() -> None:
    stale = chan("N2", stale=True, slope=-8.0)
    stale.temp_c = 12.3  # a stale number must never reach the screen
    lines = screen(snap([chan("N1", 31.2), stale]))
    block = "\n".join(channel_block(lines, "N2"))
    assert channel_value(lines, "N2") == "STALE"
    assert "12.3" not in block
    assert "8.0" not in block


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
    snapshot = Snapshot(t=3723.0, channels=(chan("N1"),), alarms=(), audio=QUIET,
                        devices=(("tcbox", "connected"), ("dcon1", "lost")), cycle=2,
                        phase="freeze", phase_started_t=3723.0 - 192, phase_target_s=600.0)
    lines = screen(snapshot, header={"station": "ct-suite-2"})
    assert "ct-suite-2" in lines[0]
    assert "1:02:03" in lines[0]
    assert "cycle 2 FREEZE 03:12 / 10:00" in lines[0]
    assert "tcbox connected" in lines[1] and "dcon1 LOST" in lines[1]


def test_a_viewer_without_an_engine_may_give_the_phase_in_the_header() -> None:
    header = {"station": "ct-suite-2", "phase": "freeze", "cycle": 2, "phase_elapsed_s": 192,
              "phase_target_s": 600}
    lines = screen(snap([chan("N1")]), header=header)
    assert "cycle 2 FREEZE 03:12 / 10:00" in lines[0]
    # Without a target the screen shows none: never a built-in default.
    lines = screen(snap([chan("N1")]), header={"phase": "freeze", "phase_elapsed_s": 10})
    assert "FREEZE 00:10" in lines[0] and "/" not in lines[0].split("FREEZE")[1]


def test_channel_block_shows_rate_and_time_to_limit_in_words_and_minimum() -> None:
    channel = chan("N1", 17.5, slope=-7.2, min_c=17.1)
    channel.seconds_to_limit = 20.8
    channel.limit_c = 15.0
    history = {"N1": [(float(t), 37.0 - t * 0.29) for t in range(0, 100)]}
    lines = screen(snap([channel]), width=120, history=history)
    block = "\n".join(channel_block(lines, "N1"))
    assert "⇊ −7.2 °C/min" in block
    assert "15 °C in 21 s" in block
    assert "min 17.1 °C" in block
    assert "█" in block and "▁" in block  # the sparkline falls
    assert "w15 c10" in block  # the nerve's warning and critical levels
    assert channel_value(lines, "N1") == 17.5


@pytest.mark.parametrize(("secs", "words"), [(56.4, "10 °C in 56 s"), (119.0, "10 °C in 119 s"),
                                              (725.0, "10 °C in 12 min"), (4000.0, None)])
def test_time_to_limit_words(secs: float, words: str | None) -> None:
    from monitor.display.render import limit_text
    channel = chan("N1", 14.0, slope=-3.0)
    channel.seconds_to_limit, channel.limit_c = secs, 10.0
    assert limit_text(channel) == (words or "—")


def test_footer_lists_the_keys_and_the_quit_prompt_replaces_it() -> None:
    from monitor.display.keys import KEYMAP

    wide = screen(snap([chan("N1")]), width=120, height=24)[-1]
    for shown in ("a ack all", "p pause audio", "v active thaw", "c CO2", "s saline",
                  "n note", "q quit"):
        assert shown in wide
    lines = screen(snap([chan("N1")]), width=80, height=24)
    footer = lines[-1]
    # Every key of the display at 80 columns, each with its word, and never without q quit.
    for shown in ("a ack", "p pause", "f freeze", "t thaw", "v active thaw", "e end",
                  "c CO2", "s saline", "n note"):
        assert shown in footer
    assert footer.rstrip().endswith("q quit") and "…" not in footer
    assert {k for k in KEYMAP if k.isalpha()} <= set(footer.split())
    for width in (60, 40, 24):
        assert screen(snap([chan("N1")]), width=width, height=24)[-1].rstrip().endswith(
            "q quit")
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
    assert "a ack" in lines[-1] and lines[-1].rstrip().endswith("q quit")  # the footer stays


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


@pytest.mark.parametrize("value", ["-140.1", "9.9", "37.0", "-3.5", "111.1", "0.0", "8.8"])
@pytest.mark.parametrize(("width", "height"), [(120, 40), (80, 24), (100, 16)])
def test_large_digits_read_back_as_the_value(value: str, width: int, height: int) -> None:
    channel = chan("N1", float(value), min_c=-200.0)
    probe = chan("P1", -140.2, role="probe", label="cryoprobe 1 tip")
    lines = screen(snap([probe, channel]), width=width, height=height)
    assert channel_value(lines, "N1") == float(value)
    assert len(channel_block(lines, "N1")) >= 2  # large digits, several rows tall
    assert channel_value(lines, "P1") == -140.2
    assert len(channel_block(lines, "P1")) == 1  # the probe is one row of text


def test_capture_script_shows_the_critical_alarm_at_both_sizes(tmp_path: Path) -> None:
    import importlib.util
    script = Path(__file__).resolve().parent.parent / "scripts" / "capture_display.py"
    spec = importlib.util.spec_from_file_location("capture_display", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "capture.txt"
    assert module.main(["--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    sections = text.split("=== ")[1:]
    assert len(sections) == 4
    for section in sections:
        title, *lines = section.splitlines()
        width, height = (int(n) for n in title.rsplit(", ", 1)[1].rstrip(" =").split("×"))
        lines = [line for line in lines if line]
        assert len(lines) <= height and all(len(line) <= width for line in lines), title
        assert "10:" in lines[0]  # the wall clock (UTC in the capture)
        block = channel_block(lines, "N1")
        assert "N1 L4 right" in block[0] and block[1].startswith("neuroforamen")  # whole
        if title.startswith("breach"):
            alarms = [line for line in lines if line.lstrip().startswith("***")]
            assert alarms and "below critical" in alarms[0]
            assert "→ consider CO2 / warm saline; consider pausing the freeze" in text
            assert any(" ACK " in line for line in lines)  # the warning was acknowledged
            assert "SOUNDING HIGH" in lines[1]
            assert channel_value(lines, "N1") < 10.0
        else:
            assert "CO2 01:30 ago" in lines[1]
            assert "C" in block[-1].split("w15 c10")[-1]  # the marker under the sparkline


# Readable from 3 m, and what to do ---------------------------------------------------------

def test_nerve_and_skin_get_large_digits_probe_and_reference_one_row() -> None:
    channels = [chan("P1", -140.2, role="probe"), chan("N1", 12.3), chan("S1", 30.1, role="skin"),
                chan("R1", 21.0, role="reference"), chan("X1", 22.0, role="other")]
    lines = screen(snap(channels), width=120, height=40)
    for cid, tall in (("P1", False), ("N1", True), ("S1", True), ("R1", False), ("X1", False)):
        block = channel_block(lines, cid)
        assert (len(block) == 4) is tall and (len(block) == 1) is not tall, (cid, block)
    assert channel_value(lines, "N1") == 12.3 and channel_value(lines, "S1") == 30.1


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40)])
def test_nerve_labels_are_whole(width: int, height: int) -> None:
    labels = {"N1": "L4 right neuroforamen", "N2": "L4 left neuroforamen",
              "N3": "L4 epidural, posterior"}
    channels = [chan("P1", -140.0, role="probe", label="cryoprobe 1 tip")] + [
        chan(cid, 20.0, label=label) for cid, label in labels.items()]
    lines = screen(snap(channels), width=width, height=height)
    for cid, label in labels.items():
        block = channel_block(lines, cid)
        first_column = " ".join(line.split("  ")[0].strip() for line in block)
        assert f"{cid} {label}" in first_column, block
        assert "…" not in first_column


def test_large_digits_survive_80_columns_by_dropping_the_sparkline_first() -> None:
    label = "dorsal-root-ganglion-neuroforamen"  # wraps only at its hyphens
    channel = chan("N1", -12.3, label=label, min_c=-12.3)
    history = {"N1": [(float(t), 20.0 - t * 0.1) for t in range(100)]}
    lines = screen(snap([channel]), width=80, height=24, history=history)
    block = channel_block(lines, "N1")
    assert len(block) == 4 and channel_value(lines, "N1") == -12.3
    assert not any(ch in "▁▂▃▅▆▇" for line in block for ch in line)  # no sparkline
    assert "".join(line[:32].strip() for line in block[:2]) == f"N1 {label}"  # label whole
    wide = screen(snap([channel]), width=140, height=24, history=history)
    assert any(ch in "▁▂▃▅▆▇" for line in channel_block(wide, "N1") for ch in line)


def test_phase_and_target_come_from_the_engine_with_the_site_config() -> None:
    from monitor.config.schema import parse_config
    from monitor.engine import Engine
    config = parse_config({"devices": [{"id": "d", "protocol": "line", "port": "/dev/null"}],
                           "channels": [{"id": "N1", "device": "d", "index": 0}],
                           "cycles": {"freeze_s": 480}}, "test")
    engine = Engine(config.engine_spec(), t0=0.0)
    engine.feed([Reading(0.0, "N1", 37.0)])
    engine.mark(10.0, "freeze")
    engine.feed([Reading(40.0, "N1", 36.0)])
    lines = screen(engine.snapshot(), header={"station": "s"})
    assert "cycle 1 FREEZE 00:30 / 08:00" in lines[0]


def test_alarm_shows_its_trip_record_and_the_live_value_beside_it() -> None:
    fast = chan("N1", 25.0, slope=-12.0)
    rate = AlarmView("N1.falling_fast", "N1", "falling_fast", "physiological", Priority.LOW,
                     10.0, True, False, 34.7, None,
                     "* L4 right: falling fast, -6.02 °C/min at 34.7 °C")
    cold = chan("N2", 8.7, slope=-2.0)
    crit = AlarmView("N2.below_critical", "N2", "below_critical", "physiological",
                     Priority.HIGH, 20.0, True, False, 9.9, 10.0,
                     "*** L4 left: 9.9 °C at or below 10 °C (below critical)")
    lines = screen(snap([fast, cold], [crit, rate]), width=120)
    rate_line = next(line for line in lines if "falling fast" in line)
    crit_line = next(line for line in lines if "below critical" in line)
    assert "now −12.0 °C/min" in rate_line and "-6.02 °C/min" in rate_line
    assert rate_line.index("now") < rate_line.index("-6.02")
    assert "now 8.7 °C" in crit_line and "9.9 °C at or below" in crit_line


def test_action_text_under_active_physiological_alarms_site_configurable() -> None:
    crit = alarm("N1.below_critical", Priority.HIGH, 5.0, message="*** N1 below 10")
    stale = AlarmView("N2.stale", "N2", "stale", "technical", Priority.HIGH, 6.0, True, False,
                      None, None, "*** N2 stale")
    latched = alarm("N3.freezing", Priority.HIGH, 1.0, active=False, message="*** N3 froze")
    channels = [chan("N1", 9.0), chan("N2", stale=True), chan("N3", 5.0)]
    lines = screen(snap(channels, [crit, stale, latched]), width=100)
    text = "\n".join(lines)
    action = "→ consider CO2 / warm saline; consider pausing the freeze"
    assert action in text
    assert lines.index(next(line for line in lines if action in line)) == \
        lines.index(next(line for line in lines if "N1 below 10" in line)) + 1
    assert text.count("→") == 1  # not for the technical alarm nor the latched one
    from monitor.config.schema import DisplayConfig
    site = DisplayConfig(actions={"nerve.below_critical": "call Dr [bold]Ng[/], ext 4411",
                                  "below_warning": ""}).alarm_actions()
    assert "below_warning" not in site and site["nerve.below_warning"]
    lines = screen(snap(channels, [crit]), width=100, header={"actions": site})
    assert any("→ call Dr [bold]Ng[/], ext 4411" in line for line in lines)


def test_control_characters_never_reach_the_terminal_and_markup_is_shown_as_text() -> None:
    import io
    import re
    evil = "\x1b[2J\x1b[H\x1b]0;owned\x07"
    channel = chan("N1", 9.0, label=f"L4{evil} [bold red]right[/]")
    crit = alarm("N1.below_critical", Priority.HIGH, 5.0, message=f"*** N1{evil} below 10")
    header = {"station": f"ct{evil}", "mode": f"demo{evil}", "actions": {
        "nerve.below_critical": f"inject{evil} CO2"},
              "audio_output": {"output": "bell", "problem": f"no{evil} device"}}
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, height=30, force_terminal=True,
                      color_system="truecolor")
    console.print(render_dashboard(snap([channel], [crit]), header, width=100, height=30,
                                   blink_on=True))
    raw = buffer.getvalue()
    assert "owned" in raw  # the text is there, harmless
    others = re.sub(r"\x1b\[[0-9;]*m", "", raw)  # colours are the only escapes left
    assert "\x1b" not in others and "\x07" not in others
    plain = re.sub(r"\x1b\[[0-9;]*m", "", raw)
    assert "ALARMS 1" in plain and "below 10" in plain  # the panel is intact
    assert "[bold red]right[/]" in plain  # markup from a label is text, not a style


def test_wall_clock_follows_the_session_and_a_replay_shows_the_recorded_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        live = {"station": "s", "started": "2026-11-24T10:15:00+00:00", "speed": 20.0,
                "mode": "demo"}
        assert "10:15:30" in screen(snap([chan("N1")], t=600.0), header=live)[0]
        replay = {**live, "mode": "replay"}
        assert "10:25:00" in screen(snap([chan("N1")], t=600.0), header=replay)[0]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_interventions_mark_the_sparkline_and_the_header_says_how_long_ago() -> None:
    history = History(300.0)
    for t in range(0, 301, 2):
        history.record(snap([chan("N1", 30.0 - t / 30), chan("P1", -140.0, role="probe")],
                            t=float(t)))
    history.note_events([{"t": 150.0, "type": "intervention", "kind": "co2"},
                         {"t": 280.0, "type": "intervention", "kind": "saline"},
                         {"t": 290.0, "type": "note", "text": "CO2 again?"}])
    snapshot = snap([chan("N1", 20.0), chan("P1", -140.0, role="probe")], t=300.0)
    lines = screen(snapshot, width=120, height=40, history=history)
    assert "saline 00:20 ago" in lines[1]
    marks = channel_block(lines, "N1")[-1]
    spark_start = lines[next(i for i, line in enumerate(lines) if line.startswith("channel"))
                        ].index("last ")
    cells = marks[spark_start:]
    width = len(cells.rstrip()) if cells.strip() else 0
    assert "C" in cells and "S" in cells and cells.index("C") < cells.index("S")
    assert width > 0
    assert "C" not in channel_block(lines, "P1")[0][spark_start:]  # not on the probe


@pytest.mark.parametrize(("output", "shown"), [
    ({"output": "bell", "requested": "auto", "problem": "no sound output device (x)"},
     "BELL ONLY: no sound output device"),
    ({"output": "off", "requested": "off"}, "AUDIO OFF, silent HIGH"),
    ({"output": "off", "requested": "auto",
      "problem": "no sound output device (x); no terminal for the bell (y)"},
     "AUDIO OFF: no sound output device"),
    ({"output": "speaker", "requested": "auto"}, "(speaker)")])
def test_header_says_what_the_alarm_sound_goes_through(output: dict[str, str], shown: str
                                                       ) -> None:
    sounding = AudioState(False, None, Priority.HIGH)
    lines = screen(snap([chan("N1", 9.0)], [alarm("N1.below_critical", Priority.HIGH, 1.0)],
                        sounding), header={"audio_output": output})
    assert shown in lines[1]


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40)])
def test_a_probe_freezing_fast_shows_its_whole_rate(width: int, height: int) -> None:
    """A cryoprobe falls by hundreds of °C/min: the rate is shown whole, in whole degrees."""
    channels = [chan("P1", -70.4, role="probe", label="cryoprobe 1 tip", slope=-307.5),
                chan("N1", 36.7)]
    row = row_of(screen(snap(channels), width=width, height=height), "P1")
    assert "⇊ −308 °C/min" in row, row
    assert "…" not in row, row


def test_a_reading_just_below_zero_shows_0_0_not_minus_0_0() -> None:
    lines = screen(snap([chan("N1", -0.04, min_c=-0.04), chan("P1", -0.03, role="probe")]),
                   width=120, height=40)
    assert channel_value(lines, "N1") == 0.0
    assert "-0.0" not in "\n".join(lines) and "−0.0" not in "\n".join(lines)
    assert "min 0.0 °C" in "\n".join(channel_block(lines, "N1"))
