"""Line noise never becomes temperatures: `cryoguard run --config` with two line devices.

Issue 14, point 5: one device sends seeded random bytes at full speed for 10 s while the
other's nerve channel falls through 10 °C. No physiological alarm may come from the noisy
device's channels, the noisy device must raise a technical alarm, and the other channel's
critical alarm must come from the very reading that crossed 10 °C (no sample of delay), and
it must never go stale. Real pseudo-terminals, the real command, the real session file.
"""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

from monitor.sessions.reader import open_session
from tests.daemon_helpers import ENV, spawn
from tests.peers.ptys import PeerPty

NOISE_S = 10.0
SEED = 14


def config(noisy: Path, good: Path) -> str:
    channels = "".join(
        f'[[channels]]\nid = "N{i}"\ndevice = "noisy"\nindex = {i}\nrole = "nerve"\n\n'
        for i in range(4))
    return f"""
[station]
name = "noise"

[[devices]]
id = "noisy"
protocol = "line"
port = "{noisy}"

[[devices]]
id = "good"
protocol = "line"
port = "{good}"

{channels}
[[channels]]
id = "G1"
device = "good"
index = 0
role = "nerve"
tc_type = "K"
"""


def good_values() -> list[float]:
    """10 Hz: 20 °C for 1 s, then -2 °C/s down to 9 °C, then 9 °C: crosses 10 °C at ~6 s."""
    values = [20.0] * 10
    v = 20.0
    while v > 9.0:
        v = round(v - 0.2, 1)
        values.append(v)
    return values + [9.0] * int((NOISE_S + 3) * 10)


@pytest.mark.timeout(90)
def test_noise_on_one_line_device_raises_no_physiological_alarm(tmp_path: Path) -> None:
    noisy = PeerPty(tmp_path / "dev" / "noisy")
    good = PeerPty(tmp_path / "dev" / "good")
    cfg = tmp_path / "two.toml"
    cfg.write_text(config(noisy.path, good.path))
    events_path = tmp_path / "events.jsonl"
    session_path = tmp_path / "noise.cgsession"
    stop = threading.Event()
    crossed: list[float] = []

    def play_good() -> None:
        start = time.monotonic()
        good.write(b"\n")
        for k, value in enumerate(good_values()):
            if stop.is_set():
                return
            delay = start + 0.1 * k - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if value <= 10.0 and not crossed:
                crossed.append(value)
            good.write(f"{value:.1f}\n".encode())
            good.read()  # nothing comes back; keep the master drained

    def play_noise() -> None:
        rng = random.Random(SEED)
        noisy.write(b"\n" + b"21.0,21.1,21.2,21.3\n" * 5)  # a healthy start: shape learned
        end = time.monotonic() + NOISE_S
        while time.monotonic() < end and not stop.is_set():
            noisy.write(rng.randbytes(4096))  # as fast as the pty takes it

    run = spawn("run", "--config", str(cfg), "--headless", "--events-out", str(events_path),
                "--session", str(session_path), stdin=subprocess.PIPE, env=ENV)
    threads = [threading.Thread(target=play_good, daemon=True),
               threading.Thread(target=play_noise, daemon=True)]
    try:
        time.sleep(1.5)  # the command opens both ports (each reader skips to a newline)
        for thread in threads:
            thread.start()
        threads[1].join(NOISE_S + 20)
        time.sleep(1.0)
        assert run.stdin is not None
        run.stdin.write("quit\n")
        run.stdin.flush()
        _out, err = run.communicate(timeout=30)
        assert run.returncode == 0, err
    finally:
        stop.set()
        if run.poll() is None:
            run.kill()
        for thread in threads:
            thread.join(5)
        noisy.close()
        good.close()

    records = [json.loads(line) for line in events_path.read_text().splitlines() if line]
    raised = [e for e in records if e["type"] == "alarm.raised"]
    noisy_channels = {f"N{i}" for i in range(4)}
    physiological = [e["alarm"] for e in raised if e["channel"] in noisy_channels
                     and e["category"] == "physiological"]
    assert physiological == []
    technical = {e["alarm"] for e in raised if e["category"] == "technical"}
    assert "noisy.bad_data" in technical
    assert not any(e["alarm"] == "G1.stale" for e in raised)

    critical = [e for e in raised if e["alarm"] == "G1.below_critical"]
    assert len(critical) == 1
    with open_session(session_path) as session:
        assert {c.id for c in session.channels} == {*noisy_channels, "G1"}  # no phantoms
        assert {c.id: c.tc_type for c in session.channels}["G1"] == "K"
        readings = [r for _, r in session.iter_readings()]
    first_cross = next(r for r in readings if r.channel == "G1" and r.temp_c is not None
                       and r.temp_c <= 10.0)
    # Raised by the reading that crossed (no sample of delay), with that reading's value.
    assert critical[0]["value"] == first_cross.temp_c == crossed[0]
    assert critical[0]["t"] == pytest.approx(first_cross.t, abs=1e-6)  # events: µs
    # Nothing but the healthy start ever became a number on the noisy channels.
    noisy_numbers = {r.temp_c for r in readings if r.channel in noisy_channels
                     and r.temp_c is not None}
    assert noisy_numbers <= {21.0, 21.1, 21.2, 21.3}
