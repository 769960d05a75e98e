"""Device and channel config for issue 14: formats, scan width, per-channel thermocouple types."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from drivers.params import DconParams, LineParams, ModbusParams
from monitor.config.schema import parse_config
from monitor.daemon.devices import channel_tc_types, device_params
from monitor.errors import ConfigError

BASE = """
[[devices]]
id = "box"
protocol = "line"
port = "/dev/ttyUSB0"
units = "mV"
tc_type = "T"
cjc_c = 23.0
scan_width = 3
checksum = true

[[devices]]
id = "adam"
protocol = "dcon"
port = "/dev/ttyUSB1"

[[devices]]
id = "m7018"
protocol = "modbus"
port = "/dev/ttyUSB2"
data_format = "hex"
read_cjc = true

[[channels]]
id = "L4R"
device = "box"
index = 0

[[channels]]
id = "L5R"
device = "box"
index = 1
tc_type = "k"

[[channels]]
id = "A0"
device = "adam"
index = 0
tc_type = "T"

[[channels]]
id = "A1"
device = "adam"
index = 1

[[channels]]
id = "CJ"
device = "m7018"
index = "cjc"
role = "reference"
"""


def test_device_params_carry_formats_width_and_types() -> None:
    config = parse_config(tomllib.loads(BASE), "t.toml")
    line, dcon, modbus = device_params(config)
    assert isinstance(line, LineParams) and line.scan_width == 3 and line.checksum
    assert line.settings().type_of(1) == "K" and line.settings().type_of(0) == "T"
    assert isinstance(dcon, DconParams) and dcon.data_format == "auto"
    assert dcon.tc_types == {"A0": "T"}
    assert isinstance(modbus, ModbusParams) and modbus.data_format == "hex"
    assert modbus.cjc_register == 30129 and modbus.channel_map == {"cjc": "CJ"}
    assert channel_tc_types(config) == {"L4R": "T", "L5R": "K", "A0": "T", "A1": None,
                                        "CJ": None}


def test_modbus_reads_no_cold_junction_unless_asked() -> None:
    text = BASE.replace("read_cjc = true\n", "")
    with pytest.raises(ConfigError, match="read_cjc"):
        parse_config(tomllib.loads(text), "t.toml")
    config = parse_config(tomllib.loads(text.split("[[channels]]\nid = \"CJ\"")[0]), "t.toml")
    assert device_params(config)[2].cjc_register is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("change", "words"), [
    (("index = 1\ntc_type", "index = 3\ntc_type"), "sends 3 fields"),
    (('data_format = "hex"', 'data_format = "percent"'), "data_format"),
    (("scan_width = 3", "scan_width = 0"), "scan_width"),
])
def test_bad_device_settings_name_the_field(change: tuple[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_config(tomllib.loads(BASE.replace(*change)), "t.toml")


def test_check_config_shows_each_channels_thermocouple_type(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(BASE)
    result = subprocess.run([sys.executable, "-m", "monitor.cli", "check-config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()
             if line.startswith("  ") and line.split() and line.split()[0] in
             ("L4R", "L5R", "A0", "A1")}
    assert "type T" in lines["L4R"] and "type K" in lines["L5R"]
    assert "type T" in lines["A0"] and "type: the module's" in lines["A1"]
    assert "3 fields per scan" in result.stdout and "*HH checksum" in result.stdout
    assert "data format hex (config)" in result.stdout
    assert "data format checked at connect" in result.stdout
