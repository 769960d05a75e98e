"""``cryoguard simulate`` and ``cryoguard scenarios`` as a user runs them."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drivers.line import LineParser
from simulators.scenarios import SCENARIOS

CRYOGUARD = [sys.executable, "-m", "monitor.cli"]
pytestmark = pytest.mark.timeout(30)


def test_scenarios_lists_every_scenario_on_one_line() -> None:
    out = subprocess.run([*CRYOGUARD, "scenarios"], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIOS)
    assert all(SCENARIOS[line.split()[0]].summary in line for line in lines)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_simulate_serves_a_line_and_exits_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    link = tmp_path / "dev" / "tc0"
    proc = subprocess.Popen([*CRYOGUARD, "simulate", "--scenario", "demo", "--protocol", "line",
                             "--link", str(link), "--speed", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "simulate printed nothing"
        assert proc.stdout.readline().strip() == str(link)
        fd = os.open(link, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"\n") < 3 and time.monotonic() < deadline:
            try:
                data += os.read(fd, 4096)
            except BlockingIOError:
                time.sleep(0.02)
        os.close(fd)
        scans = LineParser().feed(data)
        assert len(scans) >= 2 and len(scans[-1].values) == 3
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
        assert not os.path.lexists(link)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_simulate_rejects_an_unknown_scenario(tmp_path: Path) -> None:
    out = subprocess.run([*CRYOGUARD, "simulate", "--scenario", "nope", "--protocol", "line",
                          "--link", str(tmp_path / "x")], capture_output=True, text=True)
    assert out.returncode == 2
    assert "unknown scenario 'nope'" in out.stderr and "routine" in out.stderr


def test_simulate_refuses_to_replace_a_real_file(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    out = subprocess.run([*CRYOGUARD, "simulate", "--scenario", "demo", "--protocol", "dcon",
                          "--link", str(target)], capture_output=True, text=True)
    assert out.returncode == 2 and target.read_text() == "keep me"
