"""Every default is written once, in monitor/config/defaults.py, and importing it makes no cycle.

The engine spec, the config schema, the cycle tracker and the drivers must read their defaults
from that module: two copies of a default drift apart (the trend's max_points once was 4096 in
one place and 8192 in another, so benchmarks measured another engine than users ran).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.backoff import Backoff
from drivers.modbus_map import RegisterMap
from drivers.params import DconParams, LineParams, ModbusParams
from monitor.config import defaults
from monitor.config.schema import DconDevice, ModbusDevice, default_config
from monitor.engine.spec import CycleSpec, EngineSpec, TrendSpec

REPO = Path(__file__).resolve().parent.parent

# Modules whose classes carry settings: none may write a default of its own.
SETTINGS_MODULES = ("monitor/engine/spec.py", "monitor/config/schema.py", "drivers/params.py",
                    "drivers/modbus_map.py", "drivers/backoff.py")
NOT_SETTINGS = {("drivers/params.py", "learn_channels")}  # a mode flag, not a device setting


def _literal_defaults(path: str) -> list[str]:
    """``Class.field = <literal>`` and ``def f(x=<literal>)`` with a number, bool or text."""
    tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.value, ast.Constant)
                        and stmt.value.value not in (None, "")
                        and (path, ast.unparse(stmt.target)) not in NOT_SETTINGS):
                    found.append(f"{path}: {node.name}.{ast.unparse(stmt.target)} = "
                                 f"{ast.unparse(stmt.value)}")
        elif isinstance(node, ast.FunctionDef):
            for value in (*node.args.defaults, *node.args.kw_defaults):
                if isinstance(value, ast.Constant) and value.value not in (None, ""):
                    found.append(f"{path}: {node.name}(... = {ast.unparse(value)})")
    return found


@pytest.mark.parametrize("path", SETTINGS_MODULES)
def test_settings_classes_write_no_default_of_their_own(path: str) -> None:
    assert _literal_defaults(path) == []


def test_module_constants_of_the_schema_are_the_defaults_module_values() -> None:
    """The schema re-exports its default names from defaults.py (same objects, not copies)."""
    import monitor.config.schema as schema

    for name in ("LINE_BAUDRATE", "DCON_BAUDRATE", "MODBUS_START_REGISTER", "STATION_NAME",
                 "TREND_MAX_POINTS", "HIGH_COLD_MAX_DELAY_S", "DISPLAY_MAX_REFRESH_HZ"):
        assert getattr(schema, name) is getattr(defaults, name), name


def test_engine_benchmarks_and_users_run_the_same_trend_and_cycles() -> None:
    """EngineSpec() (benchmarks, tests) equals the spec of an empty config (users)."""
    from_config = default_config().engine_spec()
    assert from_config.trend == TrendSpec() == EngineSpec().trend
    assert from_config.trend.max_points == defaults.TREND_MAX_POINTS
    assert from_config.cycles == CycleSpec()
    assert from_config.audio_pause_s == EngineSpec().audio_pause_s
    assert from_config.device_lost_priority is EngineSpec().device_lost_priority


def test_drivers_take_the_config_device_defaults() -> None:
    config = default_config().model_validate({"devices": [
        {"id": "a", "protocol": "line", "port": "/dev/x"},
        {"id": "b", "protocol": "dcon", "port": "/dev/y"},
        {"id": "c", "protocol": "modbus", "port": "/dev/z"}]})
    line, dcon, modbus = config.devices
    assert isinstance(dcon, DconDevice) and isinstance(modbus, ModbusDevice)
    assert LineParams(id="a", port="p").baudrate == line.baudrate
    d = DconParams(id="b", port="p")
    assert (d.baudrate, d.address, d.poll_interval_s, d.timeout_s) == (
        dcon.baudrate, dcon.address, dcon.poll_interval_s, dcon.timeout_s)
    m = ModbusParams(id="c", port="p")
    assert (m.baudrate, m.unit_id, m.start_register, m.count, m.scale, m.open_value) == (
        modbus.baudrate, modbus.unit_id, modbus.start_register, modbus.channel_count,
        modbus.scale, modbus.open_value)
    assert RegisterMap().start_register == modbus.start_register
    assert Backoff().max_s == defaults.RECONNECT_MAX_S


def test_defaults_module_imports_nothing_but_the_model() -> None:
    tree = ast.parse((REPO / "monitor/config/defaults.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m for m in imported if m and m.split(".")[0] in ("monitor", "drivers", "simulators")}
    assert ours == {"monitor.model"}


@pytest.mark.parametrize("module", [
    "monitor.config.defaults", "monitor.engine.spec", "monitor.config.schema",
    "monitor.engine.cycles", "monitor.engine", "drivers.params", "drivers.modbus_map",
    "drivers.backoff", "monitor.display.sparkline"])
def test_each_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """An import cycle shows as an ImportError only when its module is imported first."""
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
