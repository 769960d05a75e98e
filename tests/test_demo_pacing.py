"""The demo at high speed on a busy machine: a pause of the process is not a stale sensor.

The emulated device and the daemon share one process and session time = wall time × speed. The
real daemon and the real line emulator run here on a pseudo-terminal at ×60 while a task blocks
the event loop for 120 ms three times (7.2 s of session time each, more than the 2 s stale
delay, and longer than the daemon's 100 ms tick, so a tick always falls in the pause). With the
plain monotonic clock the daemon raises ``stale`` (the control: the test can fail); with
:class:`SteadyClock` shared by both sides, it does not.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from monitor.config.schema import parse_config
from monitor.daemon.devices import device_params
from monitor.daemon.shell import SessionClock, SessionOptions, SessionShell
from monitor.model import Priority
from simulators.emulators import serve
from simulators.emulators.player import SteadyClock
from simulators.scenarios import get

SPEED = 60.0
DURATION_S = 40.0  # session seconds: 0.7 s of wall time at ×60
PAUSE_S = 0.12


# The clock alone, on a hand-driven time source ----------------------------------------------

class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_healthy_loop_sees_plain_wall_time() -> None:
    now = FakeTime()
    clock = SteadyClock(grace_s=0.02, beat_s=0.005, clock=now)
    start = clock()
    for _ in range(1000):
        now.t += 0.005
        clock.beat()
    assert clock() - start == pytest.approx(5.0)
    assert clock.stalls == 0


def test_a_pause_moves_the_clock_by_the_grace_at_most_and_never_backwards() -> None:
    now = FakeTime()
    clock = SteadyClock(grace_s=0.02, beat_s=0.005, clock=now)
    before = clock()
    readings = []
    for _ in range(25):  # a 250 ms pause: no heartbeat, but others read the clock
        now.t += 0.01
        readings.append(clock())
    assert max(readings) - before == pytest.approx(0.02)
    assert readings == sorted(readings)
    clock.beat()  # the loop runs again
    assert clock() == pytest.approx(readings[-1])  # goes on from where it stood
    now.t += 0.005
    clock.beat()
    assert clock() == pytest.approx(readings[-1] + 0.005)
    assert clock.stalls == 1 and clock.longest_stall_s == pytest.approx(0.25)


def test_for_speed_bounds_the_session_step_of_a_pause() -> None:
    for speed in (1.0, 20.0, 60.0, 200.0):
        clock = SteadyClock.for_speed(speed)
        assert clock.grace_s * speed <= 1.0 + 1e-9
        assert 0 < clock.beat_s < clock.grace_s


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="beat_s"):
        SteadyClock(grace_s=0.005, beat_s=0.01)


# The real daemon and emulator, with the loop paused ----------------------------------------

async def run_demo(tmp_path: Path, monotonic: Callable[[], float] | None,
                   heartbeat: Callable[[], Any] | None, *, pause: bool = True,
                   outputs: Sequence[Any] = ()) -> list[dict[str, Any]]:
    scenario = get("demo")
    link = tmp_path / "ttySIM0"
    config = parse_config({
        "station": {"name": "pace"},
        "devices": [{"id": "sim", "protocol": "line", "port": str(link)}],
        "channels": [{"id": c.id, "label": c.label, "device": "sim", "index": c.index,
                      "role": str(c.role)} for c in scenario.channels]}, "pacing test")
    events = tmp_path / f"events-{monotonic is not None}.jsonl"
    options = SessionOptions(mode="demo", events_out=str(events), record=False, speed=SPEED,
                             duration_s=DURATION_S, stdin_commands=False, log=False)
    ready = asyncio.Event()
    clock = SessionClock(SPEED, monotonic=monotonic) if monotonic else SessionClock(SPEED)

    async def device() -> None:
        await serve(scenario, "line", link, speed=SPEED, clock=monotonic,
                    on_ready=lambda _path: ready.set())

    async def pauses() -> None:
        await ready.wait()
        for _ in range(3 if pause else 0):
            await asyncio.sleep(0.1)
            time.sleep(PAUSE_S)  # the whole process stops, as on a busy machine

    tasks: list[Callable[[], Any]] = [device, pauses]
    if heartbeat is not None:
        tasks.append(heartbeat)
    shell = SessionShell(config, device_params(config), options, clock=clock, extra_tasks=tasks,
                         ready=ready, outputs=outputs)
    assert await shell.run() == 0
    return [json.loads(line) for line in events.read_text().splitlines() if line.strip()]


def stale(records: list[dict[str, Any]]) -> list[str]:
    return [r["alarm"] for r in records
            if r["type"] == "alarm.raised" and r.get("condition") == "stale"]


async def test_plain_clock_raises_stale_on_a_pause_steady_clock_does_not(tmp_path: Path
                                                                        ) -> None:
    plain = await run_demo(tmp_path, None, None)
    assert stale(plain), "control: a 120 ms pause at ×60 looks like a stale sensor"
    steady = SteadyClock.for_speed(SPEED)
    paced = await run_demo(tmp_path, steady, steady.run)
    assert stale(paced) == []
    assert steady.stalls >= 3 and steady.longest_stall_s >= PAUSE_S  # taken out
    assert paced[-1]["type"] == "session.ended" and paced[-1]["t"] >= DURATION_S


class SlowToStop:
    """An output whose task takes 100 ms to stop, the event loop running meanwhile (an
    awaited close, as a serial port's or a network connection's)."""

    name = "slow"
    fault_priority = Priority.LOW

    def on_events(self, records: Sequence[Mapping[str, Any]]) -> None:
        return None

    def on_snapshot(self, snapshot: Any) -> None:
        return None

    async def run(self, context: Any) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.1)
            raise

    async def close(self) -> None:
        return None


async def test_a_slow_stop_at_the_end_of_a_demo_is_not_a_stale_sensor(tmp_path: Path) -> None:
    """The session ends at the moment it is asked to (here: its duration). Stopping the tasks
    may take 100 ms of wall time, 6 s of session time at x60: that is not a gap in the
    readings, and the last tick must not call every channel stale just before the end."""
    steady = SteadyClock.for_speed(SPEED)
    events = await run_demo(tmp_path, steady, steady.run, pause=False, outputs=[SlowToStop()])
    assert stale(events) == []
    assert events[-1]["type"] == "session.ended"
    assert DURATION_S <= events[-1]["t"] < DURATION_S + 2.0


# The command itself: `cryoguard demo` paces on the steady clock ----------------------------

def test_cryoguard_demo_refuses_a_speed_above_the_cap_in_one_line() -> None:
    from simulators.emulators.player import MAX_DEMO_SPEED
    from tests.daemon_helpers import cryoguard

    proc = cryoguard("demo", "--headless", "--speed", f"{MAX_DEMO_SPEED + 1:g}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cryoguard demo: --speed: at most 60")
    assert f"at most {MAX_DEMO_SPEED:g}" in " ".join(cryoguard("demo", "--help").stdout.split())


@pytest.mark.timeout(90)
def test_cryoguard_demo_stopped_by_the_machine_shows_no_stale_sensor(tmp_path: Path) -> None:
    """The whole process is stopped (SIGSTOP) three times for 150 ms at x60 (9 s of session
    time each, over four times the 2 s stale delay): the demo's one steady clock stops with
    it, so no channel is reported stale, and the command says it took the pauses out."""
    import signal
    import subprocess

    from tests.daemon_helpers import spawn

    ev = tmp_path / "ev.jsonl"
    proc = spawn("demo", "--headless", "--speed", "60", "--rate", "5", "--duration", "300",
                 "--audio", "off", "--events-out", str(ev), "--session",
                 str(tmp_path / "s.cgsession"), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = ev.read_text() if ev.exists() else ""
            if '"device.connected"' in text:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the demo's device never connected")
        for _ in range(3):
            time.sleep(0.2)
            proc.send_signal(signal.SIGSTOP)
            time.sleep(0.15)
            proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    records = [json.loads(line) for line in ev.read_text().splitlines() if line.strip()]
    assert records[-1]["type"] == "session.ended"
    assert stale(records) == []
    assert "pacing: steady clock shared by the emulated device and the monitor" in err
    taken = re.search(r"demo pacing: (\d+) pause\(s\) of this process taken out of session "
                      r"time \(longest (\d+) ms\)", err)
    assert taken is not None, err[-2000:]
    assert int(taken.group(1)) >= 3 and int(taken.group(2)) >= 140
