"""The sound output follows the engine: bursts start, stop on acknowledge and pause, and a higher
priority sounds through a pause. Driven by the real engine; the terminal bell writes into a real
pipe, read back with the simulated time of each BEL. This machine has no sound card, so the
speaker path is checked for its fallback, and its sample feeding with a stand-in PortAudio."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pytest

from monitor.audio import player
from monitor.audio.player import AudioStatus, BellBackend, SpeakerBackend, TerminalBell
from monitor.audio.spec import BURSTS
from monitor.engine import Engine
from monitor.engine.spec import EngineSpec
from monitor.model import Priority, Reading
from monitor.outputs.audio import AudioOutput
from tests.engine_helpers import engine

H, M, L = Priority.HIGH, Priority.MEDIUM, Priority.LOW


@dataclass
class Pipe:
    read: int
    write: int

    def drain(self) -> bytes:
        chunks = []
        while True:
            try:
                chunk = os.read(self.read, 4096)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    r, w = os.pipe()
    os.set_blocking(r, False)
    yield Pipe(r, w)
    for fd in (r, w):
        with contextlib.suppress(OSError):
            os.close(fd)


def bell_output(pipe: Pipe) -> AudioOutput:
    backend = BellBackend(TerminalBell(fd=pipe.write))
    return AudioOutput("bell", backend=(backend, AudioStatus("bell", "bell")))


class Session:
    """The engine, the output and a simulated clock; ``run`` steps the output every 10 ms and
    returns the times at which a BEL was written."""

    def __init__(self, out: AudioOutput, pipe: Pipe, eng: Engine | None = None) -> None:
        self.out, self.pipe, self.engine = out, pipe, eng or engine()
        self.t = 0.0

    def reading(self, value: float) -> None:
        self.engine.feed([Reading(round(self.t, 6), "N1", value)])
        self.out.on_snapshot(self.engine.snapshot())

    def run(self, seconds: float) -> list[float]:
        rings = []
        for _ in range(round(seconds / 0.01)):
            self.out.step(self.t)
            if self.pipe.drain():
                rings.append(round(self.t, 2))
            self.t = round(self.t + 0.01, 6)
        return rings


def offsets(rings: list[float]) -> list[float]:
    return [round(t - rings[0], 2) for t in rings]


def test_a_medium_alarm_rings_its_burst_pattern(pipe: Pipe) -> None:
    s = Session(bell_output(pipe), pipe)
    s.reading(14.0)  # below 15 °C: below_warning, medium
    rings = s.run(1.5)
    assert offsets(rings) == list(BURSTS[M].onsets_s)
    assert s.out.bursts_started == 1


def test_acknowledge_silences_the_burst_in_progress(pipe: Pipe) -> None:
    s = Session(bell_output(pipe), pipe)
    s.reading(14.0)
    assert s.run(0.3) == [0.0]
    s.engine.acknowledge(s.t)
    s.out.on_snapshot(s.engine.snapshot())
    assert s.run(BURSTS[M].repeat_s or 10.0) == []  # the rest of the burst never comes


def test_audio_pause_silences_and_a_higher_alarm_sounds_through_it(pipe: Pipe) -> None:
    s = Session(bell_output(pipe), pipe)
    s.reading(14.0)
    s.run(0.2)
    s.engine.pause_audio(s.t)
    s.out.on_snapshot(s.engine.snapshot())
    assert s.run(10.0) == []  # paused: nothing, not even the next medium burst
    s.reading(9.0)  # below 10 °C: below_critical, high, louder than the pause allows
    assert s.engine.snapshot().audio.sounding is H
    rings = s.run(4.0)
    assert len(rings) == 10
    assert offsets(rings) == list(BURSTS[H].onsets_s)


def test_a_low_alarm_rings_once_and_again_for_a_new_low_alarm(pipe: Pipe) -> None:
    eng = Engine(EngineSpec(channels=()), t0=0.0)  # technical alarms only: no stale channel
    s = Session(bell_output(pipe), pipe, eng)
    eng.output_fault(0.0, "mqtt", "broker away", L)
    s.out.on_snapshot(eng.snapshot())
    assert eng.snapshot().audio.sounding is L
    assert s.run(30.0) == [0.0]  # once, not repeated
    # Another low alarm: heard although the sounding priority did not change.
    eng.output_fault(s.t, "recorder", "slow disk", L)
    s.out.on_snapshot(eng.snapshot())
    assert s.run(5.0) == [30.0]


def test_audio_off_never_sounds(pipe: Pipe) -> None:
    out = AudioOutput("off")
    assert out.status.output == "off" and out.backend is None
    s = Session(out, pipe)
    s.reading(5.0)
    assert s.run(5.0) == []
    assert out.header_entry() == {"output": "off", "requested": "off"}


def test_a_terminal_that_goes_away_is_a_high_technical_alarm(pipe: Pipe) -> None:
    context = FakeContext()
    out = bell_output(pipe)
    out._context = context  # type: ignore[assignment]  # as run() sets it
    s = Session(out, pipe)
    s.reading(9.0)
    s.run(0.05)
    os.close(pipe.read)  # the terminal is gone: writing the bell fails (EPIPE)
    pipe.read = os.open(os.devnull, os.O_RDONLY | os.O_NONBLOCK)
    s.run(1.0)
    assert [(name, prio) for name, _, prio in context.faults] == [("audio", H)]
    assert "no alarm sound left" in context.faults[0][1]
    assert out.status.output == "off"


@dataclass
class FakeContext:
    faults: list[tuple[str, str, Priority]] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)

    def fault(self, output: str, message: str, priority: Priority) -> None:
        self.faults.append((output, message, priority))

    def fault_threadsafe(self, output: str, message: str, priority: Priority) -> None:
        self.faults.append((output, message, priority))

    def recovered(self, output: str, message: str) -> None: ...

    def recovered_threadsafe(self, output: str, message: str) -> None: ...


async def test_speakers_asked_for_but_missing_fall_back_to_the_bell_and_say_so(pipe: Pipe
                                                                              ) -> None:
    out = AudioOutput("speaker", bell=TerminalBell(fd=pipe.write))
    if out.status.output == "speaker":
        await out.close()
        pytest.skip("this machine has a sound device")
    assert out.status.output == "bell"
    assert "sound" in out.status.problem  # why: no library, no PortAudio or no device
    assert out.header_entry()["problem"] == out.status.problem
    context = FakeContext()
    task = asyncio.create_task(out.run(context))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert context.faults and context.faults[0][0] == "audio"
    assert context.faults[0][2] is M


async def test_auto_mode_falls_back_quietly_but_the_header_tells(pipe: Pipe) -> None:
    out = AudioOutput("auto", bell=TerminalBell(fd=pipe.write))
    if out.status.output == "speaker":
        await out.close()
        pytest.skip("this machine has a sound device")
    assert out.header_entry()["output"] == "bell"
    assert out.header_entry()["problem"]
    await out.close()


async def test_the_sound_thread_rings_from_snapshots_without_blocking(pipe: Pipe) -> None:
    out = bell_output(pipe)
    eng = engine()
    eng.feed([Reading(0.0, "N1", 9.0)])
    task = asyncio.create_task(out.run(FakeContext()))  # type: ignore[arg-type]
    out.on_snapshot(eng.snapshot())
    out.on_events([{"t": 0.0, "type": "alarm.raised"}])
    for _ in range(50):
        await asyncio.sleep(0.01)
        if out.bursts_started:
            break
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert out.bursts_started == 1
    assert pipe.drain().count(b"\a") >= 1


# The speaker path with a stand-in for PortAudio (there is no sound card here) --------------

class FakeStream:
    instances: ClassVar[list[FakeStream]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.callback = kwargs["callback"]
        self.active = False
        FakeStream.instances.append(self)

    def start(self) -> None:
        self.active = True

    def abort(self) -> None:
        self.active = False

    def close(self) -> None: ...

    def pull(self, frames: int) -> np.ndarray:
        out = np.full((frames, 1), 9.0, dtype=np.float32)
        self.callback(out, frames, None, None)
        return out[:, 0]


class FakeSoundDevice:
    OutputStream = FakeStream


@pytest.fixture
def fake_speaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    FakeStream.instances.clear()
    monkeypatch.setattr(player, "sound_device", lambda: (FakeSoundDevice, "test device"))
    yield


def test_speaker_callback_plays_the_burst_then_silence_and_stop_fades(fake_speaker: None
                                                                      ) -> None:
    speaker = SpeakerBackend()
    stream = FakeStream.instances[0]
    assert stream.pull(100).tolist() == [0.0] * 100  # nothing to play: silence, not garbage
    speaker.start(BURSTS[H], 0.0)
    first = stream.pull(4410)  # 100 ms: inside the first pulse
    assert np.max(np.abs(first)) > 0.5
    speaker.stop()
    tail = stream.pull(4410)
    fade = round(0.005 * speaker.rate_hz)
    assert np.all(tail[fade:] == 0.0)  # silent within 5 ms of the stop
    assert np.all(np.abs(np.diff(tail[:fade + 1])) < 0.2)  # faded, no click
    speaker.start(BURSTS[L], 1.0)
    assert speaker.busy(1.1)
    whole = stream.pull(44100)
    assert np.max(np.abs(whole)) > 0.5 and whole[-1] == 0.0
    assert not speaker.busy(2.0)
    stream.active = False  # the device went away
    with pytest.raises(player.BackendFailed):
        speaker.tick(2.0)


def test_a_failing_speaker_falls_back_to_the_bell_mid_burst(fake_speaker: None,
                                                            pipe: Pipe) -> None:
    context = FakeContext()
    out = AudioOutput("speaker", bell=TerminalBell(fd=pipe.write))
    assert out.status.output == "speaker" and out.status.device == "test device"
    out._context = context  # type: ignore[assignment]  # as run() sets it
    s = Session(out, pipe)
    s.reading(9.0)
    assert s.run(0.1) == []  # on the speakers, not the bell
    FakeStream.instances[0].active = False  # unplugged in the middle of the burst
    rings = s.run(4.0)
    assert out.status.output == "bell" and "stopped" in out.status.problem
    assert [(name, prio) for name, _, prio in context.faults] == [("audio", M)]
    # The burst goes on, on the bell, from its start: the failure never silences the alarm.
    assert offsets(rings) == list(BURSTS[H].onsets_s)


class NoTerminal(TerminalBell):
    """A bell with no terminal to ring (a service without a controlling terminal)."""

    def __init__(self) -> None:
        super().__init__(fd=-1)
        self.fd = None
        self.problem = "no terminal for the bell (No such device or address)"


@pytest.mark.parametrize("mode", ["auto", "speaker", "bell"])
async def test_nothing_that_can_sound_is_audio_off_and_a_technical_alarm(
        mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_device() -> Any:
        raise player.BackendFailed("no sound output device (Error querying device -1)")

    monkeypatch.setattr(player, "sound_device", no_device)
    out = AudioOutput(mode, bell=NoTerminal())  # type: ignore[arg-type]
    assert out.backend is None and out.status.output == "off"
    assert "no terminal for the bell" in out.status.problem
    assert out.header_entry()["output"] == "off" and out.header_entry()["problem"]
    assert out.started_fields()["audio"] == "off"
    context = FakeContext()
    task = asyncio.create_task(out.run(context))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [(name, prio) for name, _, prio in context.faults] == [("audio", M)]
    assert "no alarm sound" in context.faults[0][1]


async def test_audio_off_on_purpose_is_no_technical_alarm() -> None:
    out = AudioOutput("off")
    context = FakeContext()
    task = asyncio.create_task(out.run(context))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert context.faults == []
    assert out.started_fields() == {"audio": "off", "audio_requested": "off"}


def test_the_header_entry_follows_a_fall_back_in_place(fake_speaker: None, pipe: Pipe) -> None:
    out = AudioOutput("auto", bell=TerminalBell(fd=pipe.write))
    entry = out.header_entry()  # what the session header holds for the whole session
    assert entry == {"output": "speaker", "requested": "auto", "device": "test device"}
    assert out.started_fields() == {"audio": "speaker", "audio_requested": "auto",
                                    "audio_device": "test device"}
    out._context = FakeContext()  # type: ignore[assignment]
    s = Session(out, pipe)
    s.reading(9.0)
    s.run(0.1)
    FakeStream.instances[0].active = False
    s.run(0.5)
    assert out.header_entry() is entry
    assert entry["output"] == "bell" and "stopped" in entry["problem"]
    assert "device" not in entry


def test_speakers_failing_with_no_terminal_left_is_a_high_alarm(fake_speaker: None,
                                                                pipe: Pipe) -> None:
    context = FakeContext()
    out = AudioOutput("auto", bell=NoTerminal())
    out._context = context  # type: ignore[assignment]
    s = Session(out, pipe)
    s.reading(9.0)
    s.run(0.1)
    FakeStream.instances[0].active = False
    s.run(0.5)
    assert out.backend is None and out.header_entry()["output"] == "off"
    assert [(name, prio) for name, _, prio in context.faults] == [("audio", H)]
    assert "no alarm sound left" in context.faults[0][1]


def test_the_sound_thread_ticks_only_during_a_burst(pipe: Pipe) -> None:
    """10 ms ticks while a burst plays (pulse onsets on time); between bursts it sleeps until
    the next one is due, and an idle monitor does not poll at all (snapshots wake it)."""
    from monitor.outputs import audio

    out = bell_output(pipe)
    assert out._sleep_s(0.0) == audio.IDLE_S  # nothing sounding
    s = Session(out, pipe)
    s.reading(9.0)  # below critical: high
    s.run(0.02)
    assert out.playing is H and out._sleep_s(s.t) == audio.TICK_S
    s.run(BURSTS[H].duration_s)  # the burst is over; the next one is due an interval later
    assert out.playing is None
    due = BURSTS[H].repeat_s - s.t
    assert out._sleep_s(s.t) == pytest.approx(min(audio.IDLE_S, due))
    s.t = BURSTS[H].repeat_s - 0.3
    assert out._sleep_s(s.t) == pytest.approx(0.3)
