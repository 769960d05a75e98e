"""The alarm sound wired into ``cryoguard demo`` / ``run``, checked on a real pseudo-terminal.

The process runs as a user starts it; its standard error (and input) is a pty whose far side
this test reads, so every BEL the terminal would ring arrives here with the time it arrived.
What is checked is what the room hears: a high-priority alarm rings the IEC 60601-1-8 burst
(10 pulses, 3 + 2, pause, 3 + 2) and repeats it; ``ack`` stops the burst in progress and
nothing rings after; ``--audio off`` rings nothing and says so; speakers asked for on a
machine without a sound device are a technical alarm; with the live display the burst is
heard once, not twice (the display's own bell is off). The waveform itself is measured in
tests/test_audio_signals.py; the rhythm on simulated time in tests/test_audio_output.py.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.audio.spec import BURSTS
from monitor.model import Priority
from monitor.sessions.reader import open_session
from tests.daemon_helpers import CLI, ENV, until
from tests.tmux_helpers import PROMPT, Tmux

HIGH = BURSTS[Priority.HIGH]
SPEED = "60"  # the demo scenario's 10 °C alarm comes 187 s in: about 3 s of wall time


class PtyReader:
    """Both sides of a pty; a thread reads the far side and notes when each BEL arrived."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.bells: list[float] = []
        self.text = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            now = time.monotonic()
            with self._lock:
                self.bells += [now] * chunk.count(b"\a")
                self.text += chunk

    def bells_between(self, start: float, end: float = float("inf")) -> list[float]:
        with self._lock:
            return [t for t in self.bells if start <= t < end]

    def plain(self) -> str:
        with self._lock:
            raw = bytes(self.text)
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw.decode("utf-8", "replace"))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        """Close the slave (the reader then gets EIO and ends), wait for the reader, then
        close the master: a reader left running could read a later test's pty that reuses
        the descriptor number."""
        with contextlib.suppress(OSError):
            os.close(self.slave)
        self._thread.join(5.0)
        assert not self._thread.is_alive(), "the pty reader did not end"
        with contextlib.suppress(OSError):
            os.close(self.master)


@pytest.fixture
def pty() -> Iterator[PtyReader]:
    reader = PtyReader()
    try:
        yield reader
    finally:
        reader.close()


def _demo(pty: PtyReader, tmp_path: Path, *args: str, display: bool = False
          ) -> subprocess.Popen[bytes]:
    """``cryoguard demo`` with standard input and error on the pty (and output too, with the
    live display); events to a file, read while it runs."""
    argv = [*CLI, "demo", "--speed", SPEED, "--rate", "5", "--events-out",
            str(tmp_path / "ev.jsonl"), "--session", str(tmp_path / "s.cgsession"), *args]
    if not display:
        argv.append("--headless")
    return subprocess.Popen(
        argv, stdin=pty.slave, stderr=pty.slave,
        stdout=pty.slave if display else subprocess.DEVNULL,
        env={**ENV, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"},
        start_new_session=True)


class Events:
    """The event stream file, with the time each record was first seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self.seen: list[float] = []

    def poll(self) -> None:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return
        now = time.monotonic()
        for line in lines[len(self.records):]:
            try:
                record = json.loads(line)
            except ValueError:
                return  # a line being written: next time
            self.records.append(record)
            self.seen.append(now)

    def wait(self, what: str, match: Callable[[dict[str, Any]], bool], timeout: float = 40.0
             ) -> tuple[dict[str, Any], float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            for record, seen in zip(self.records, self.seen, strict=True):
                if match(record):
                    return record, seen
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; got "
                             f"{[(r['type'], r.get('alarm')) for r in self.records]}")


def _high_raised(record: dict[str, Any]) -> bool:
    """The demo's high-priority alarm: the nerve reaches 10 °C."""
    return (record["type"] == "alarm.raised" and record.get("priority") == "high"
            and record.get("condition") == "below_critical")


_until = functools.partial(until, poll_s=0.01)


def _gap_kinds(bells: list[float]) -> list[str]:
    """Each gap between pulses as short (x + td, 0.25 s), mid (2x + td, 0.5 s) or long (the
    0.85 s pause between the two halves): bins half-way between the designed gaps, so a
    scheduling delay of a tenth of a second cannot change a kind."""
    kinds = []
    for a, b in itertools.pairwise(bells):
        gap = b - a
        kinds.append("short" if gap < 0.375 else "mid" if gap < 0.675 else "long")
    return kinds


def _after_quiet(bells: list[float], quiet_s: float = 2.5) -> float | None:
    """The first BEL that follows a quiet interval (the next burst), if one has come."""
    for a, b in itertools.pairwise(bells):
        if b - a > quiet_s:
            return b
    return None


def _finish(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


@pytest.mark.timeout(120)
def test_a_high_alarm_rings_the_burst_on_the_terminal_and_ack_stops_it(
        pty: PtyReader, tmp_path: Path) -> None:
    # 1100 session s at x60: the high alarm at 187 s, two bursts, the ack, then over 7 s of
    # wall time in which a third burst would have started had the ack not silenced it.
    proc = _demo(pty, tmp_path, "--audio", "bell", "--duration", "1100")
    try:
        stream = Events(tmp_path / "ev.jsonl")
        started, _ = stream.wait("session.started", lambda r: r["type"] == "session.started")
        assert started["audio"] == "bell" and started["audio_requested"] == "bell"
        _, raised_at = stream.wait("the high alarm", _high_raised)
        # The first high burst ends with a quiet interburst interval; a medium burst may have
        # been ringing when the high alarm came (it stops at once and the high one starts).
        second = _until("the second burst", lambda: _after_quiet(
            pty.bells_between(raised_at - 0.5)), 20.0)
        burst = pty.bells_between(raised_at - 0.5, second)[-HIGH.pulses:]
        assert burst[0] >= raised_at - 0.3  # this burst is the high alarm's
        assert len(pty.bells_between(burst[0], second)) == HIGH.pulses == 10
        # 3 + 2, pause, 3 + 2: the designed gaps, told apart at their mid-points.
        assert _gap_kinds(burst) == ["short", "short", "mid", "short", "long",
                                     "short", "short", "mid", "short"]
        # It repeats: the next burst starts an interburst interval after this one ends.
        assert second - burst[-1] > 2.5
        _until("the second pulse of the second burst", lambda: len(pty.bells_between(second))
               >= 2, 5.0)
        pty.type("ack\n")
        acked_at = time.monotonic()
        stream.wait("the acknowledge", lambda r: r["type"] == "alarm.acknowledged")
        end = stream.wait("the end", lambda r: r["type"] == "session.ended", 60.0)[1]
        assert _finish(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # The burst in progress stopped at once (at most the pulse already on its way rang),
    # and nothing rang again for the rest of the session.
    in_second = pty.bells_between(second, acked_at + 0.6)
    assert 2 <= len(in_second) <= 3 < HIGH.pulses
    assert pty.bells_between(acked_at + 0.6) == []
    assert end - acked_at > HIGH.repeat_s + 0.5  # long enough for a repeat to have shown
    # The session file keeps what the sound went through.
    with open_session(tmp_path / "s.cgsession") as session:
        first_event = session.events()[0]
    assert first_event["type"] == "session.started" and first_event["audio"] == "bell"
    assert "alarm sound: terminal bell only" in pty.plain()


@pytest.mark.timeout(60)
def test_audio_off_rings_nothing_says_so_and_is_no_fault(pty: PtyReader, tmp_path: Path
                                                         ) -> None:
    proc = _demo(pty, tmp_path, "--audio", "off", "--duration", "230")
    assert _finish(proc) == 0
    stream = Events(tmp_path / "ev.jsonl")
    stream.poll()
    records = stream.records
    assert any(_high_raised(r) for r in records)  # a high alarm, and not a sound
    assert pty.bells == []
    assert records[0]["audio"] == "off" and records[0]["audio_requested"] == "off"
    assert not [r for r in records if r.get("alarm") == "audio.output_failed"]
    assert "alarm sound: AUDIO OFF (--audio off)" in pty.plain()


def _has_sound_device() -> bool:
    from monitor.audio.player import BackendFailed, sound_device

    try:
        sound_device()
    except BackendFailed:
        return False
    return True


@pytest.mark.timeout(60)
def test_speakers_asked_for_without_a_sound_device_are_a_technical_alarm_and_the_bell_rings(
        pty: PtyReader, tmp_path: Path) -> None:
    if _has_sound_device():
        pytest.skip("this machine has a sound output device")
    proc = _demo(pty, tmp_path, "--audio", "speaker", "--duration", "450")  # a whole burst
    assert _finish(proc) == 0
    stream = Events(tmp_path / "ev.jsonl")
    stream.poll()
    records = stream.records
    assert records[0]["audio"] == "bell" and records[0]["audio_requested"] == "speaker"
    assert "sound" in records[0]["audio_problem"]
    failed = [r for r in records if r.get("alarm") == "audio.output_failed"
              and r["type"] == "alarm.raised"]
    assert failed and failed[0]["priority"] == "medium"
    assert "terminal bell only" in failed[0]["message"]
    assert len(pty.bells) >= HIGH.pulses  # the fallback is heard
    assert "alarm sound: terminal bell only (no sound" in pty.plain()


@pytest.mark.timeout(90)
def test_with_the_live_display_the_burst_is_heard_once_and_the_key_a_stops_it(
        pty: PtyReader, tmp_path: Path) -> None:
    proc = _demo(pty, tmp_path, "--audio", "bell", "--duration", "1100", display=True)
    try:
        stream = Events(tmp_path / "ev.jsonl")
        _, raised_at = stream.wait("the high alarm", _high_raised)
        first = _until("the first BEL of the high burst",
                       lambda: pty.bells_between(raised_at - 0.2))[0]
        time.sleep(HIGH.duration_s + 0.8)
        # Ten pulses, not twenty: the display's own bell is off while the audio output rings.
        assert len(pty.bells_between(first, first + HIGH.duration_s + 0.5)) == HIGH.pulses
        pty.type("a")
        acked_at = time.monotonic()
        stream.wait("the acknowledge", lambda r: r["type"] == "alarm.acknowledged")
        time.sleep(HIGH.repeat_s + 0.5)
        assert pty.bells_between(acked_at + 0.6) == []
        screen = pty.plain()
        assert "BELL ONLY" in screen and "q quit" in screen and "c CO2" in screen
        pty.type("q")
        time.sleep(0.3)
        pty.type("y")
        assert _finish(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.timeout(60)
def test_a_bell_blocked_on_a_terminal_that_stopped_reading_is_a_high_alarm(tmp_path: Path
                                                                            ) -> None:
    """The terminal stops reading (its buffer full, as when an SSH session stalls): the BEL
    write blocks in the sound thread, never on the alarm path; the watchdog raises
    ``audio.output_failed`` at high priority (no sound can be trusted), and ``quit`` still
    ends the session at once."""
    master, slave = os.openpty()

    def fill() -> None:  # nobody reads the master: this blocks once the terminal is full
        with contextlib.suppress(OSError):
            while True:
                os.write(slave, b"x" * 4096)

    filler = threading.Thread(target=fill, daemon=True)
    filler.start()
    try:
        ev = tmp_path / "ev.jsonl"
        proc = subprocess.Popen(
            [*CLI, "demo", "--headless", "--speed", SPEED, "--rate", "5", "--audio", "bell",
             "--duration", "1500", "--events-out", str(ev), "--session",
             str(tmp_path / "s.cgsession")],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=slave, env=ENV,
            start_new_session=True)
        assert proc.stdin is not None
        stream = Events(ev)
        try:
            failed, _ = stream.wait("audio.output_failed", lambda r: r.get("alarm") ==
                                    "audio.output_failed" and r["type"] == "alarm.raised")
            assert failed["priority"] == "high" and "stalled" in failed["message"]
            # Detection went on meanwhile.
            stream.wait("the 10 °C alarm", _high_raised)
            proc.stdin.write(b"quit\n")
            proc.stdin.flush()
            assert _finish(proc, 5.0) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    finally:
        for fd in (master, slave):  # closing the master ends the filler's blocked write
            with contextlib.suppress(OSError):
                os.close(fd)
        filler.join(5.0)
    stream.poll()
    assert stream.records[-1]["type"] == "session.ended"
    assert stream.records[-1]["reason"] == "quit command"


# `cryoguard run` in a real terminal (tmux) at 80×24 ------------------------------------------

SITE_ACTION = "SITE: inject CO2 now, call Dr Rossi"


def _tmux_80x24(tmp_path: Path) -> Tmux:
    server = Tmux(tmp_path)
    server.start(80, 24)
    server.wait("the shell prompt", lambda screen: PROMPT.strip() in screen)
    return server


@pytest.mark.timeout(90)
@pytest.mark.skipif(__import__("shutil").which("tmux") is None
                    and os.environ.get("CI") != "true", reason="tmux is not installed")
def test_run_shows_audio_off_the_site_action_text_and_every_key_at_80x24(tmp_path: Path
                                                                         ) -> None:
    import shlex

    link = tmp_path / "ttyTC0"
    config = tmp_path / "site.toml"
    config.write_text(f"""
[station]
name = "ct-suite-2"

[[devices]]
id = "tcbox"
protocol = "line"
port = "{link}"

[[channels]]
id = "P1"
label = "cryoprobe 1 tip"
device = "tcbox"
index = 0
role = "probe"

[[channels]]
id = "N1"
label = "L4 right neuroforamen"
device = "tcbox"
index = 1
role = "nerve"

[[channels]]
id = "N2"
label = "L4 epidural"
device = "tcbox"
index = 2
role = "nerve"

[display]
actions = {{ "nerve.below_critical" = "{SITE_ACTION}" }}
""")
    device = subprocess.Popen([*CLI, "simulate", "--scenario", "demo", "--protocol", "line",
                               "--link", str(link), "--speed", "30"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    server = _tmux_80x24(tmp_path)
    try:
        _until("the emulated device", link.exists, 20.0)
        argv = [*CLI, "run", "--config", str(config), "--audio", "off", "--session",
                str(tmp_path / "s.cgsession"), "--events-out", str(tmp_path / "ev.jsonl")]
        server.type(" ".join(shlex.quote(a) for a in argv)
                    + f"; echo EXIT=$? > {tmp_path / 'exit'}", enter=True)
        # The demo scenario reaches 10 °C about 187 s in: about 6 s at x30.
        def shown() -> str | None:
            text: str = server.screen()
            return text if SITE_ACTION in text else None

        screen = _until("the high alarm with the site's action text", shown, 40.0)
        lines = screen.splitlines()
        assert "audio: AUDIO OFF" in lines[1]  # the inactivation state, always in view
        assert "*** HIGH" in screen
        footer = next(line for line in reversed(lines) if line.strip())
        assert footer.rstrip().endswith("q quit")
        for key in ("a ack", "p pause", "c CO2", "s saline", "n note"):
            assert key in footer
        server.type("q")
        _until("the quit question", lambda: "quit? (y/n)" in server.screen(), 5.0)
        server.type("y")
        _until("the exit status", (tmp_path / "exit").exists, 10.0)
        assert (tmp_path / "exit").read_text().strip() == "EXIT=0"
    finally:
        server.kill()
        device.terminate()
        device.wait(10)
    started = json.loads((tmp_path / "ev.jsonl").read_text().splitlines()[0])
    assert started["type"] == "session.started" and started["audio"] == "off"
