"""The session core with an injected clock: what the daemon decides, without processes or waits.

Every scenario runs through the core and the real recorder in a fraction of a second, and its
session file replays (through the real ``cryoguard replay`` code path) to the same alarm events.
The command grammar, typed inputs, scripted demo actions, the watchdog, failing outputs and the
end of a session are checked here directly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.cli import main as cli
from monitor.commands.demo import scripted_actions
from monitor.daemon.grammar import INTERVENTIONS, MARKS, USAGE, CommandError, Quit, parse_command
from monitor.engine.inputs import (
    Acknowledge,
    DeviceBadData,
    DeviceConnected,
    DeviceLost,
    Intervention,
    Mark,
    Note,
    PauseAudio,
    parse_input,
)
from monitor.errors import CryoGuardError
from monitor.model import Priority
from monitor.outputs.base import WriteWatch
from monitor.sessions.reader import open_session
from simulators.scenarios import SCENARIOS, Spikes
from tests.daemon_helpers import (
    ListOutput,
    alarm_key,
    events,
    feed_scenario,
    raised,
    scenario_core,
)


def _types(records: list[dict[str, Any]]) -> list[str]:
    return [r["type"] for r in records]


# Every scenario, live on the core and replayed from its session file --------------------------

@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_on_the_core_raises_its_alarms_and_replays_identically(
        name: str, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    session = tmp_path / "s.cgsession"
    core, clock, sink, recorder = scenario_core(scenario, session=session,
                                                script=scripted_actions(scenario))
    # Spikes are told from real falls by their speed (> 3 °C faster than 10 °C/s): a 3.2 °C
    # spike needs samples closer than 0.32 s, so those scenarios run at 5 Hz; the others at
    # 2 Hz, ticking as the daemon does at speed ×5.
    spiky = any(isinstance(f, Spikes) for f in scenario.faults)
    feed_scenario(core, clock, scenario, rate_hz=5.0 if spiky else 2.0, tick_s=0.5)
    core.end("duration reached")
    asyncio.run(recorder.close())
    assert recorder.result.complete, recorder.result.lost
    live = sink.records
    assert live[0]["type"] == "session.started" and live[-1]["type"] == "session.ended"
    got = raised(live)
    assert scenario.expected.raised <= got, sorted(scenario.expected.raised - got)
    assert not scenario.expected.not_raised & got, sorted(scenario.expected.not_raised & got)
    out = tmp_path / "replay.jsonl"
    assert cli(["replay", str(session), "--events-out", str(out), "--quiet"]) == 0
    assert alarm_key(events(out)) == alarm_key(live)


# The command grammar and typed inputs -----------------------------------------------------

@pytest.mark.parametrize(("line", "expected"), [
    ("ack", Acknowledge(None, "me")),
    ("ACK N1.below_critical", Acknowledge("N1.below_critical", "me")),
    ("pause", PauseAudio("me")),
    *[(f"mark {m}", Mark(m, "me")) for m in MARKS],
    ("Mark Freeze", Mark("freeze", "me")),
    ("mark co2", Intervention("co2", "me")),
    ("mark SALINE", Intervention("saline", "me")),
    ("note  CO2 started at L4, 20 ml ", Note("CO2 started at L4, 20 ml", "me")),
    ("note Esc\x1b[2J here", Note("Esc\ufffd[2J here", "me")),
])
def test_command_lines_become_typed_inputs(line: str, expected: object) -> None:
    assert parse_command(line, "me") == expected


def test_quit_blank_and_mistakes() -> None:
    assert parse_command("quit", "me") == Quit()
    assert parse_command("   ", "me") is None
    for bad in ("bogus words", "mark lunch", "pause now", "ack a b", "note", "quit now"):
        with pytest.raises(CommandError) as caught:
            parse_command(bad, "me")
        assert "\n" not in str(caught.value)
    with pytest.raises(CommandError, match="use ack"):
        parse_command("bogus", "me")
    assert all(word in USAGE for word in (*MARKS, *INTERVENTIONS, "note TEXT", "quit"))


_text = st.text(max_size=40)
_inputs = st.one_of(
    st.builds(Acknowledge, st.one_of(st.none(), st.text(min_size=1, max_size=20)), _text),
    st.builds(PauseAudio, _text), st.builds(Mark, _text, _text),
    st.builds(Intervention, _text, _text), st.builds(Note, _text, _text),
    st.builds(DeviceConnected, _text, _text), st.builds(DeviceLost, _text, _text),
    st.builds(DeviceBadData, _text, _text))


@given(_inputs)
def test_a_recorded_input_reads_back_as_the_same_value(value: Any) -> None:
    assert parse_input(str(value.kind), value.payload()) == value


def test_payloads_recorded_before_typed_inputs_still_read() -> None:
    """Sessions written by earlier versions: payloads without ``by``, unknown kinds."""
    assert parse_input("ack", {"alarm": None}) == Acknowledge(None, "operator")
    assert parse_input("pause", {}) == PauseAudio("operator")
    assert parse_input("mark", {"mark": "thaw"}) == Mark("thaw", "operator")
    assert parse_input("device.lost", {"device": "sim", "reason": "EOF"}) == DeviceLost(
        "sim", "EOF")
    assert parse_input("telepathy", {"x": 1}) is None


# Operator actions through the core --------------------------------------------------------

def test_commands_interventions_and_notes_are_recorded_and_replayed(tmp_path: Path) -> None:
    scenario = SCENARIOS["co2-rescue"]
    session = tmp_path / "s.cgsession"
    said: list[str] = []
    core, clock, sink, recorder = scenario_core(scenario, session=session)
    core.say = said.append
    feed_scenario(core, clock, scenario, until_s=40.0)
    core.command("mark co2", "stdin")
    core.command("note 20 ml CO2 at L4 right", "stdin")
    core.command("mark lunch", "stdin")
    feed_scenario(core, clock, scenario, until_s=41.0)  # a few more scans after them
    core.end("quit command")
    asyncio.run(recorder.close())
    live = sink.records
    intervention = next(r for r in live if r["type"] == "intervention")
    note = next(r for r in live if r["type"] == "note")
    assert intervention["kind"] == "co2" and intervention["by"] == "operator (stdin)"
    assert note["text"] == "20 ml CO2 at L4 right" and note["time"]
    assert said and "mark lunch" in said[0]
    with open_session(session) as s:
        kinds = [i.kind for i in s.inputs()]
    assert {"intervention", "note"} <= set(kinds)
    out = tmp_path / "replay.jsonl"
    assert cli(["replay", str(session), "--events-out", str(out), "--quiet"]) == 0
    again = events(out)
    for kind in ("intervention", "note"):
        mine = [(r["t"], r.get("kind"), r.get("text")) for r in live if r["type"] == kind]
        theirs = [(r["t"], r.get("kind"), r.get("text")) for r in again if r["type"] == kind]
        assert mine == theirs


def test_a_demo_scenario_s_scripted_actions_come_at_their_time_from_the_simulator() -> None:
    base = SCENARIOS["co2-rescue"]
    scripted = SimpleNamespace(**{f: getattr(base, f) for f in (
        "name", "channels", "generate", "expected")},
        operator_actions=((30.0, "mark co2"), (45.5, "note saline ready")))
    core, clock, sink, _rec = scenario_core(base, script=scripted_actions(scripted))
    feed_scenario(core, clock, base, until_s=29.5)
    assert "intervention" not in _types(sink.records)
    feed_scenario(core, clock, base, until_s=50.0)
    done = [r for r in sink.records if r["type"] in ("intervention", "note")]
    assert [(r["type"], r["by"]) for r in done] == [("intervention", "simulator"),
                                                    ("note", "simulator")]
    assert 30.0 <= done[0]["t"] < 30.2 and 45.5 <= done[1]["t"] < 45.7


def test_quit_and_duration_ask_the_shell_to_end() -> None:
    core, _clock, _sink, _rec = scenario_core(SCENARIOS["demo"])
    core.command("quit", "stdin")
    assert core.quit_reason == "quit command"
    core2, clock2, _s, _r = scenario_core(SCENARIOS["demo"])
    core2.duration_s = 5.0
    clock2.t = 5.0
    core2.heartbeat(5.0)
    assert core2.quit_reason == "duration of 5 s reached"


# Outputs' health and the end ------------------------------------------------------------------

class _Stuck:
    """An output whose writes block until the test lets them go."""

    name = "display"
    fault_priority = Priority.HIGH

    def __init__(self, clock: Any) -> None:
        self.watch = WriteWatch(2.0, clock=clock)

    def on_events(self, records: Any) -> None:
        return None

    def on_snapshot(self, snapshot: Any) -> None:
        return None

    async def run(self, context: Any) -> None:
        return None

    async def close(self) -> None:
        return None


def test_the_watchdog_raises_a_stalled_display_at_high_priority_and_clears_it() -> None:
    now = [0.0]
    stuck = _Stuck(lambda: now[0])
    core, clock, sink, _rec = scenario_core(SCENARIOS["demo"], outputs=[stuck])
    stuck.watch.begin()  # a frame write that does not return
    for step in range(1, 31):
        now[0] = clock.t = step / 10
        core.heartbeat(now[0])
    failed = [r for r in sink.records if r.get("alarm") == "display.output_failed"]
    assert len(failed) == 1 and failed[0]["type"] == "alarm.raised"
    assert failed[0]["priority"] == "high" and failed[0]["t"] == pytest.approx(2.0)
    stuck.watch.end()
    now[0] = clock.t = 3.1
    core.heartbeat(now[0])
    assert sink.records[-1]["type"] == "alarm.cleared"
    assert sink.records[-1]["alarm"] == "display.output_failed"


def test_watchdog_timing_does_not_fire_early() -> None:
    now = [0.0]
    stuck = _Stuck(lambda: now[0])
    core, clock, sink, _rec = scenario_core(SCENARIOS["demo"], outputs=[stuck])
    stuck.watch.begin()
    now[0] = clock.t = 1.99
    core.heartbeat(now[0])
    assert "display.output_failed" not in raised(sink.records)
    now[0] = clock.t = 2.0
    core.heartbeat(now[0])
    assert "display.output_failed" in raised(sink.records)


class _Throws(ListOutput):
    name = "mqtt"

    def on_events(self, records: Any) -> None:
        raise RuntimeError("broker adapter bug")


def test_an_output_that_raises_is_one_technical_alarm_and_the_others_get_everything(
        tmp_path: Path) -> None:
    scenario = SCENARIOS["demo"]
    bad = _Throws()
    core, clock, sink, _rec = scenario_core(scenario, outputs=[bad])
    feed_scenario(core, clock, scenario)
    core.end()
    failed = [r for r in sink.records if r.get("alarm") == "mqtt.output_failed"]
    assert [r["type"] for r in failed] == ["alarm.raised"]
    assert "broker adapter bug" in failed[0]["message"]
    assert scenario.expected.raised <= raised(sink.records)


def test_nothing_follows_session_ended() -> None:
    scenario = SCENARIOS["unplug"]
    core, clock, sink, _rec = scenario_core(scenario)
    feed_scenario(core, clock, scenario, until_s=60.0)
    core.end("signal SIGHUP (terminal closed or connection lost)")
    count = len(sink.records)
    ended = sink.records[-1]
    assert ended["type"] == "session.ended" and "SIGHUP" in ended["reason"]
    clock.t += 30.0  # everything goes stale, outputs fail, keys are pressed: all too late
    core.heartbeat(clock.t)
    core.fault("recorder", "cannot write (disk full)", Priority.MEDIUM)
    core.command("ack", "stdin")
    core.tick()
    assert len(sink.records) == count
    assert core.after_end == ["recorder: cannot write (disk full)"]


# Opening fails: nothing is left behind ----------------------------------------------------------

def test_a_session_file_that_cannot_be_created_leaves_no_thread_or_log_handler(
        tmp_path: Path) -> None:
    from monitor.commands.demo import demo_config
    from monitor.daemon.shell import SessionOptions, SessionShell

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    config = demo_config(SCENARIOS["demo"], "line", tmp_path / "tty")
    before_threads = set(threading.enumerate())
    before_handlers = list(logging.getLogger().handlers)
    options = SessionOptions(mode="demo", events_out=str(tmp_path / "ev.jsonl"),
                             session_path=blocker / "s.cgsession", stdin_commands=False)
    shell = SessionShell(config, [], options)
    with pytest.raises(CryoGuardError):
        asyncio.run(shell.run())
    assert logging.getLogger().handlers == before_handlers
    for _ in range(50):
        left = [t for t in threading.enumerate() if t not in before_threads and t.is_alive()]
        if not left:
            break
        threading.Event().wait(0.02)
    assert not left, left


# The session file under attack: the save result never claims what is not in the file ----------

def _attacked(tmp_path: Path, attack: Callable[[Path], None]) -> Any:
    scenario = SCENARIOS["demo"]
    folder = tmp_path / "sessions"
    folder.mkdir()
    session = folder / "s.cgsession"
    core, clock, _sink, recorder = scenario_core(scenario, session=session)
    feed_scenario(core, clock, scenario, until_s=20.0)
    time.sleep(1.2)  # the recorder commits at least once a second
    attack(session)
    feed_scenario(core, clock, scenario, until_s=40.0)
    core.end("quit command")
    asyncio.run(recorder.close())
    return recorder.result


def test_a_deleted_sessions_directory_is_not_a_saved_session(tmp_path: Path) -> None:
    result = _attacked(tmp_path, lambda path: shutil.rmtree(path.parent))
    assert not result.complete and result.lost
    assert not result.path.exists()


def test_a_deleted_session_file_is_not_a_saved_session(tmp_path: Path) -> None:
    def delete(path: Path) -> None:
        for leftover in path.parent.iterdir():
            leftover.unlink()

    result = _attacked(tmp_path, delete)
    assert not result.complete and result.lost


def test_a_replaced_session_file_is_not_a_saved_session(tmp_path: Path) -> None:
    def replace(path: Path) -> None:
        other = path.with_name("other")
        other.write_bytes(b"not a session")
        os.replace(other, path)

    result = _attacked(tmp_path, replace)
    assert not result.complete and result.lost
