"""``cryoguard check-config`` as a site runs it: exit codes, every problem listed, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CRYOGUARD = Path(sys.executable).parent / "cryoguard"
SHIPPED = [REPO / "config" / "default.toml", *sorted((REPO / "config" / "examples").glob("*.toml"))]


def check(path: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CRYOGUARD), "check-config", str(path)], capture_output=True,
                          text=True, timeout=30, check=False)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_passes(path: Path) -> None:
    result = check(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: OK\n")
    assert "thresholds in force:" in result.stdout


def test_a_good_file_prints_a_summary_of_what_is_in_force() -> None:
    result = check(REPO / "config" / "examples" / "line.toml")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "station: ct-suite-2 (operator: IR team)" in out
    assert "tcbox: line on /dev/serial/by-id/" in out
    for line in ("L4R      nerve", "SKIN     skin", "PROBE    probe"):
        assert line in out
    assert "role nerve (channels L4R, L4L, EPI):" in out
    assert "below_critical            trip ≤ 10 °C, clear ≥ 11 °C; high, latching" in out
    assert "channel EPI (nerve) overrides:" in out
    assert "trip ≤ 12 °C, clear ≥ 13 °C; high, latching  [channel override]" in out
    assert "[roles override]" in out  # the skin warning priority set under [roles.skin]
    assert result.stderr == ""


def test_a_bad_file_exits_2_listing_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("""
[[devices]]
id = "tcbox"
protocol = "line"
port = "/dev/ttyUSB0"

[[channels]]
id = "L4R"
device = "tcbox"
index = 0
alarms = { below_critical = { trip_c = "cold" } }

[[channels]]
id = "L4R"
device = "tcbox"
index = 1

[roles.nerve.freezing]
trip_c = 0
clear_c = -1

[trend]
windw_s = 20
""", encoding="utf-8")
    result = check(path)
    assert result.returncode == 2
    assert result.stdout == ""
    err = result.stderr
    assert "Traceback" not in err
    assert "4 problem(s)" in err
    lines = [line.strip() for line in err.splitlines()]
    assert any(line.startswith("channels[0].alarms.below_critical.trip_c: not a temperature "
                               "(got 'cold')") for line in lines)
    assert "channels[1].id: duplicate channel id (first at channels[0]) (got 'L4R')" in lines
    assert any(line.startswith("roles.nerve.freezing.clear_c: must be above trip_c") for line in
               lines)
    assert any(line.startswith("trend.windw_s: unknown key (allowed: window_s") for line in lines)


@pytest.mark.parametrize(("content", "expected"), [
    (None, "file not found"),
    (b"[station\nname = 1\n", "not valid TOML"),
    (b'[station]\noperator = "Dr M\xfcller"\n', "not UTF-8"),
    (b"\x00\x01\x02", "not valid TOML"),
])
def test_unreadable_files_exit_2_without_traceback(tmp_path: Path, content: bytes | None,
                                                   expected: str) -> None:
    path = tmp_path / "site.toml"
    if content is not None:
        path.write_bytes(content)
    result = check(path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_help_and_missing_argument() -> None:
    result = subprocess.run([str(CRYOGUARD), "check-config", "--help"], capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0 and "FILE" in result.stdout
    result = subprocess.run([str(CRYOGUARD), "check-config"], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
