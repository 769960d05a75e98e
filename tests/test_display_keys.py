"""Keys, bell and the live output: pure decoding and scheduling, then the output on a real pty."""

from __future__ import annotations

import asyncio
import itertools
import os
import termios
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from monitor.audio.spec import BURSTS
from monitor.config.schema import DisplayConfig
from monitor.display.bell import REPEAT_S, BellScheduler
from monitor.display.keys import Action, cbreak, decode_keys
from monitor.display.live import LiveDisplay
from monitor.engine import AlarmView, Snapshot
from monitor.engine.alarms import AudioState
from monitor.engine.channel import ChannelView
from monitor.model import Priority, Status

H, M, L = Priority.HIGH, Priority.MEDIUM, Priority.LOW


# Key decoding ------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "action"), [
    ("a", Action.ACK), ("p", Action.PAUSE), ("f", Action.MARK_FREEZE),
    ("t", Action.MARK_THAW), ("v", Action.MARK_ACTIVE_THAW), ("e", Action.MARK_END),
    ("A", Action.ACK), ("P", Action.PAUSE)])
def test_single_keys_map_to_the_headless_commands(key: str, action: Action) -> None:
    result = decode_keys(key.encode(), quit_prompt=False)
    assert result.actions == (action,)
    assert result.quit_prompt is False


def test_marks_name_the_headless_mark_words() -> None:
    marks = [decode_keys(k, False).actions[0].mark for k in "ftve"]
    assert marks == ["freeze", "thaw", "active-thaw", "end"]
    assert Action.ACK.mark is None


def test_q_asks_and_only_y_quits() -> None:
    asked = decode_keys(b"q", quit_prompt=False)
    assert asked.actions == (Action.ASK_QUIT,) and asked.quit_prompt
    assert decode_keys(b"y", quit_prompt=True).actions == (Action.QUIT,)
    assert decode_keys(b"Y", quit_prompt=True).actions == (Action.QUIT,)
    assert decode_keys(b"y", quit_prompt=False).actions == ()  # y alone does nothing
    no = decode_keys(b"n", quit_prompt=True)
    assert no.actions == (Action.CANCEL,) and not no.quit_prompt
    again = decode_keys(b"q", quit_prompt=True)
    assert again.actions == (Action.CANCEL,) and not again.quit_prompt


def test_an_action_key_during_the_quit_question_is_not_lost() -> None:
    result = decode_keys(b"a", quit_prompt=True)
    assert result.actions == (Action.CANCEL, Action.ACK)
    assert not result.quit_prompt


def test_several_keys_in_one_read_and_escape_sequences() -> None:
    assert decode_keys(b"ap", False).actions == (Action.ACK, Action.PAUSE)
    assert decode_keys(b"qy", False).actions == (Action.ASK_QUIT, Action.QUIT)
    # Arrow keys (ESC [ A), F1 (ESC O P), F5 (ESC [ 1 5 ~) and Alt-a carry letters: ignored.
    for seq in (b"\x1b[A", b"\x1bOP", b"\x1b[15~", b"\x1ba", b"\x1b"):
        assert decode_keys(seq, False).actions == ()
    assert decode_keys(b"\x1b[Aa", False).actions == (Action.ACK,)
    assert decode_keys(b"xyz\n ", False).actions == ()


@given(st.binary(max_size=40), st.booleans())
def test_decoding_never_fails_and_never_quits_without_a_question(data: bytes, prompt: bool
                                                                 ) -> None:
    result = decode_keys(data, prompt)
    quits = result.actions.count(Action.QUIT)
    asks = result.actions.count(Action.ASK_QUIT) + int(prompt)
    assert quits <= asks
    for before, action in zip(result.actions, result.actions[1:], strict=False):
        if action is Action.QUIT:
            assert before is Action.ASK_QUIT


def test_cbreak_restores_the_terminal_even_after_an_exception() -> None:
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        with pytest.raises(RuntimeError), cbreak(slave) as active:
            assert active
            lflag = termios.tcgetattr(slave)[3]
            assert not lflag & termios.ICANON and not lflag & termios.ECHO
            raise RuntimeError("boom")
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)
    read, write = os.pipe()
    try:
        with cbreak(read) as active:  # not a terminal: nothing to change
            assert not active
    finally:
        os.close(read)
        os.close(write)


# Bell --------------------------------------------------------------------------------------

def run_bell(bell: BellScheduler, timeline: list[tuple[float, Priority | None]]
             ) -> list[tuple[float, int]]:
    return [(t, n) for t, sounding in timeline if (n := bell.due(t, sounding))]


def ticks(start: float, end: float, sounding: Priority | None, step: float = 0.1
          ) -> list[tuple[float, Priority | None]]:
    n = round((end - start) / step)
    return [(round(start + i * step, 3), sounding) for i in range(n)]


HIGH_REPEAT = REPEAT_S[H]
MEDIUM_REPEAT = REPEAT_S[M]


def test_bell_repeat_intervals_are_inside_iec_60601_1_8() -> None:
    # Interburst interval (end of a burst to the start of the next): high 2.5-15 s, medium
    # 2.5-30 s; low is not repeated (docs/audio.md).
    assert HIGH_REPEAT is not None and MEDIUM_REPEAT is not None
    assert 2.5 <= HIGH_REPEAT - BURSTS[H].duration_s <= 15.0
    assert 2.5 <= MEDIUM_REPEAT - BURSTS[M].duration_s <= 30.0
    assert REPEAT_S[L] is None


def test_high_rings_ten_pulses_at_its_repeat_interval() -> None:
    assert HIGH_REPEAT is not None
    rings = run_bell(BellScheduler(), ticks(0.0, 2 * HIGH_REPEAT + 0.5, H))
    starts = [t for t, _ in rings]
    assert [n for _, n in rings] == [10, 10, 10]
    assert starts[0] == 0.0
    assert all(abs(b - a - HIGH_REPEAT) < 0.11 for a, b in itertools.pairwise(starts))


def test_medium_rings_three_pulses_at_its_interval_and_low_once() -> None:
    assert MEDIUM_REPEAT is not None
    rings = run_bell(BellScheduler(), ticks(0.0, 2 * MEDIUM_REPEAT + 0.5, M))
    assert [n for _, n in rings] == [3, 3, 3]
    assert all(abs(b[0] - a[0] - MEDIUM_REPEAT) < 0.11 for a, b in itertools.pairwise(rings))
    assert run_bell(BellScheduler(), ticks(0.0, 60.0, L)) == [(0.0, 1)]


def test_a_new_low_alarm_rings_once_more() -> None:
    bell = BellScheduler()
    assert bell.due(0.0, L) == 1
    assert bell.due(5.0, L) == 0
    assert bell.due(6.0, L, new_alarm=True) == 1


def test_a_higher_priority_rings_at_once_and_silence_stops_the_bell() -> None:
    timeline = ticks(0.0, 2.0, M) + ticks(2.0, 3.0, H) + ticks(3.0, 20.0, None) + \
        ticks(20.0, 21.0, M)
    assert run_bell(BellScheduler(), timeline) == [(0.0, 3), (2.0, 10), (20.0, 3)]


def test_after_acknowledging_the_high_alarm_medium_keeps_its_interval() -> None:
    assert MEDIUM_REPEAT is not None
    timeline = ticks(0.0, 1.0, H) + ticks(1.0, 2 * MEDIUM_REPEAT + 0.5, M)
    rings = run_bell(BellScheduler(), timeline)
    assert rings[0] == (0.0, 10)
    # Medium counts from the high burst: no burst sooner than its own interval.
    assert rings[1][1] == 3 and abs(rings[1][0] - MEDIUM_REPEAT) < 0.11


def test_bell_off_in_config_never_rings() -> None:
    assert run_bell(BellScheduler(enabled=False), ticks(0.0, 20.0, H)) == []


# The live output on a real pseudo-terminal ---------------------------------------------------

@dataclass
class FakeContext:
    """Records what the display asked the daemon to do."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    quit: asyncio.Event = field(default_factory=asyncio.Event)
    header: Mapping[str, Any] = field(default_factory=lambda: {"station": "pty-test"})

    def fault(self, output: str, message: str, priority: Priority) -> None:
        self.calls.append(("fault", (output, message, priority)))

    def recovered(self, output: str, message: str) -> None:
        self.calls.append(("recovered", (output, message)))

    def fault_threadsafe(self, output: str, message: str, priority: Priority) -> None:
        self.fault(output, message, priority)

    def recovered_threadsafe(self, output: str, message: str) -> None:
        self.recovered(output, message)

    def acknowledge(self, alarm: str | None = None) -> None:
        self.calls.append(("acknowledge", alarm))

    def pause_audio(self) -> None:
        self.calls.append(("pause_audio", None))

    def mark(self, mark: str) -> None:
        self.calls.append(("mark", mark))

    def request_quit(self) -> None:
        self.calls.append(("request_quit", None))
        self.quit.set()

    def snapshot(self) -> Snapshot:
        raise AssertionError("the display works from on_snapshot")

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def snapshot(t: float, sounding: Priority | None = None, temp: float = 9.4) -> Snapshot:
    channel = ChannelView(id="N1", label="L4 right", role="nerve", t=t, temp_c=temp,
                          status=Status.OK, stale=False, slope_c_per_min=-7.0, readings=10,
                          min_c=temp, max_c=37.0)
    faulty = ChannelView(id="N2", label="epidural", role="nerve", t=t, status=Status.OPEN,
                         stale=False, readings=10)
    alarm = AlarmView("N1.below_critical", "N1", "below_critical", "physiological", H, 1.0,
                      True, False, temp, 10.0, f"*** L4 right: {temp} °C below 10 °C")
    return Snapshot(t=t, channels=(channel, faulty), alarms=(alarm,),
                    audio=AudioState(False, None, sounding), devices=(("box", "connected"),))


@dataclass
class Pty:
    master: int
    slave: int
    output: bytearray


@pytest.fixture
async def pty() -> AsyncIterator[Pty]:
    master, slave = os.openpty()
    os.set_blocking(master, False)
    out = bytearray()
    loop = asyncio.get_running_loop()

    def drain() -> None:
        try:
            out.extend(os.read(master, 65536))
        except OSError:
            loop.remove_reader(master)
    loop.add_reader(master, drain)
    try:
        yield Pty(master, slave, out)
    finally:
        loop.remove_reader(master)
        os.close(master)
        os.close(slave)


def pty_console(pty: Pty) -> Console:
    file = open(os.dup(pty.slave), "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    return Console(file=file, force_terminal=True, width=100, height=30,
                   color_system="standard")


async def until(predicate: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_keys_on_the_terminal_reach_the_daemon_and_quit_restores_it(pty: Pty) -> None:
    before = termios.tcgetattr(pty.slave)
    context = FakeContext()
    display = LiveDisplay(DisplayConfig(bell=False), pty_console(pty), stdin_fd=pty.slave)
    task = asyncio.create_task(display.run(context))
    display.on_snapshot(snapshot(100.0))
    await until(lambda: b"OPEN" in pty.output and b"below 10" in pty.output)
    assert b"\x1b[?1049h" in pty.output  # alternate screen
    assert not termios.tcgetattr(pty.slave)[3] & termios.ICANON  # single keys
    for key in b"apftve":
        os.write(pty.master, bytes([key]))
        await asyncio.sleep(0.03)
    await until(lambda: len(context.calls) >= 6)
    assert context.calls == [("acknowledge", None), ("pause_audio", None),
                             ("mark", "freeze"), ("mark", "thaw"), ("mark", "active-thaw"),
                             ("mark", "end")]
    os.write(pty.master, b"q")
    await until(lambda: b"quit? (y/n)" in pty.output)
    os.write(pty.master, b"n")
    await asyncio.sleep(0.15)
    assert "request_quit" not in context.names()
    os.write(pty.master, b"qy")
    await asyncio.wait_for(context.quit.wait(), 3.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await display.close()
    await until(lambda: b"\x1b[?1049l" in pty.output)  # back to the normal screen
    assert termios.tcgetattr(pty.slave) == before


async def test_a_failing_frame_is_a_technical_alarm_and_the_display_goes_on(pty: Pty) -> None:
    context = FakeContext()
    display = LiveDisplay(DisplayConfig(bell=False), pty_console(pty), stdin_fd=None)
    real = display.render
    failures = [RuntimeError("terminal said no")]

    def flaky(snap: Snapshot, fast: bool, slow: bool) -> Any:
        if failures:
            raise failures.pop()
        return real(snap, fast, slow)
    display.render = flaky  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(display.run(context))
    display.on_snapshot(snapshot(10.0))
    await until(lambda: "fault" in context.names())
    _, (output, message, priority) = context.calls[0]
    assert output == "display" and "terminal said no" in message and priority is M
    for i in range(15):  # snapshots keep coming; the display recovers
        display.on_snapshot(snapshot(11.0 + i, temp=8.0 + i / 10))
        await asyncio.sleep(0.1)
        if "recovered" in context.names():
            break
    assert "recovered" in context.names()
    await until(lambda: b"L4 right" in pty.output)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_bell_rings_while_sounding_and_not_when_off(pty: Pty) -> None:
    for enabled in (True, False):
        pty.output.clear()
        display = LiveDisplay(DisplayConfig(bell=enabled), pty_console(pty), stdin_fd=None)
        task = asyncio.create_task(display.run(FakeContext()))
        for i in range(8):
            display.on_snapshot(snapshot(10.0 + i / 10, sounding=H))
            await asyncio.sleep(0.1)
        await until(lambda: b"below 10" in pty.output)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        if enabled:
            assert pty.output.count(b"\a") >= 3  # a burst is under way
        else:
            assert b"\a" not in pty.output


async def test_on_snapshot_and_on_events_return_at_once_and_invent_no_phase() -> None:
    display = LiveDisplay(DisplayConfig(), Console(file=open(os.devnull, "w"), width=80,  # noqa: SIM115
                                                    height=24), stdin_fd=None)
    display.on_events([{"t": 20.0, "type": "cycle.phase", "phase": "freeze", "cycle": 1}])
    snap = snapshot(212.0)
    display.on_snapshot(snap)
    header = display.header(snap)
    # The phase and its target are the engine's (the snapshot's), never taken from an event
    # and completed with a built-in default (a site's freeze_s = 480 must show 08:00).
    assert not {"phase", "cycle", "phase_elapsed_s", "phase_target_s"} & set(header)
