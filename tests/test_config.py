"""Config loading: every mistake reported at once, with its path; overrides resolve as told."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import thermocouple_its90
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import defaults
from monitor.config.schema import (
    TC_TYPES,
    ChannelConfig,
    ConditionOverrides,
    Config,
    DconDevice,
    LineDevice,
    ModbusDevice,
    default_config,
    describe_thresholds,
    load_config,
    parse_config,
    quick_config,
)
from monitor.engine.spec import Condition, default_engine_spec, role_conditions
from monitor.errors import ConfigError, UsageError
from monitor.model import Priority, Role
from monitor.text import control_characters

REPO = Path(__file__).resolve().parents[1]
SHIPPED = [REPO / "config" / "default.toml", *sorted((REPO / "config" / "examples").glob("*.toml"))]

LINE_DEVICE = {"id": "tcbox", "protocol": "line", "port": "/dev/ttyUSB0"}


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.toml")
    assert info.value.source == "test.toml"
    return info.value.problems


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def channel(cid: str, index: int | str, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "device": "tcbox", "index": index, **extra}


# Every problem at once -------------------------------------------------------------------

MANY_MISTAKES = """
[station]
name = "ct suite 2"

[[devices]]
id = "tcbox"
protocol = "line"
port = "/dev/ttyUSB0"
units = "mV"

[[devices]]
id = "adam"
protocol = "dcon"
port = "/dev/ttyUSB1"
address = 300

[[channels]]
id = "L4R"
device = "tcbox"
index = 0
alarms = { falling_fast = { trip_c = -6 } }

[[channels]]
id = "L4L"
device = "tcbox"
index = 1
alarms = { below_critical = { trip_c = "cold" } }

[[channels]]
id = "EPI"
device = "nowhere"
index = 2
role = "nurse"

[roles.nerve.freezing]
delay_s = "5 s"

[trend]
window_s = "forever"

[display]
refresh_hz = 60

[bogus]
x = 1
"""


def test_a_file_with_many_mistakes_lists_every_one_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, MANY_MISTAKES))
    problems = info.value.problems
    text = "\n".join(problems)
    expected = [
        r"^station\.name: .*\(got 'ct suite 2'\)",
        r"^devices\[0\]\.tc_type: units = 'mV' needs a thermocouple type",
        r"^devices\[0\]\.cjc_c: .*exactly one cold-junction source",
        r"^devices\[1\]\.address: .*255 \(got 300\)",
        r"^channels\[0\]\.alarms\.falling_fast\.trip_c: unknown key \(allowed: trip_c_per_min, "
        r"clear_c_per_min, .*\) \(got -6\)",
        r"^channels\[1\]\.alarms\.below_critical\.trip_c: not a temperature \(got 'cold'\)",
        r"^channels\[2\]\.role: .*'nerve'.*\(got 'nurse'\)",
        r"^channels\[2\]\.device: no such device .*\(got 'nowhere'\)",
        r"^roles\.nerve\.freezing\.delay_s: a high-priority cold condition .*one sample",
        r"^trend\.window_s: not a duration \(got 'forever'\)",
        r"^display\.refresh_hz: .*10 \(got 60\)",
        r"^bogus: unknown section",
    ]
    for pattern in expected:
        assert any(re.search(pattern, p) for p in problems), f"{pattern!r} not in:\n{text}"
    assert len(problems) == len(expected), text
    assert "Traceback" not in str(info.value)
    assert isinstance(info.value, UsageError)  # exit status 2


def test_the_documented_message_format() -> None:
    data = {"devices": [LINE_DEVICE],
            "channels": [channel("A", 0), channel("B", 1, alarms={
                "below_critical": {"trip_c": "cold"}})]}
    problems = problems_of(data)
    assert problems[0].startswith(
        "channels[1].alarms.below_critical.trip_c: not a temperature (got 'cold')")


@pytest.mark.parametrize(("condition", "key", "value"), [
    ("falling_fast", "trip_c", 3), ("below_critical", "horizon_s", 60),
    ("stale", "trip_c", 1), ("sensor_open", "after_s", 2), ("predicted_below_critical",
                                                            "trip_c", 10),
    ("implausible_jump", "clear_c", 1),
])
def test_a_key_of_another_condition_kind_is_an_error(condition: str, key: str,
                                                      value: object) -> None:
    problems = problems_of({"roles": {"nerve": {condition: {key: value}}}})
    assert problems == [problems[0]]
    assert problems[0].startswith(f"roles.nerve.{condition}.{key}: unknown key (allowed: ")


def test_unknown_condition_and_role_name_the_allowed_ones() -> None:
    problems = problems_of({"roles": {"nerve": {"too_cold": {}}, "nurse": {}}})
    assert any(p.startswith("roles.nerve.too_cold: unknown condition (allowed: sensor_open")
               for p in problems)
    assert any(p.startswith("roles.nurse: unknown role (allowed: nerve, skin") for p in problems)


def test_missing_and_wrong_protocol() -> None:
    problems = problems_of({"devices": [{"id": "a", "port": "/dev/x"},
                                        {"id": "b", "protocol": "usb", "port": "/dev/y"},
                                        {"protocol": "dcon"}]})
    assert "devices[0].protocol: required (one of line, dcon, modbus)" in problems
    assert "devices[1].protocol: must be one of line, dcon, modbus (got 'usb')" in problems
    assert "devices[2].id: required" in problems
    assert "devices[2].port: required" in problems


def test_wrong_shapes_are_reported_not_crashed() -> None:
    problems = problems_of({"station": "x", "channels": {"id": "a"}, "devices": [3]})
    assert "station: must be a table (got 'x')" in problems
    assert any(p.startswith("channels: must be a list") for p in problems)
    assert any(p.startswith("devices[0]:") for p in problems)


# Cross-field checks ----------------------------------------------------------------------

@pytest.mark.parametrize(("condition", "trip", "clear", "side"), [
    ("below_critical", 10, 10, "above"), ("below_warning", 15, 14, "above"),
    ("freezing", 0, -1, "above"), ("above_warning", 42, 42, "below"),
    ("above_critical", 45, 46, "below"),
])
def test_clear_must_be_on_the_safe_side_of_trip(condition: str, trip: float, clear: float,
                                                side: str) -> None:
    problems = problems_of({"roles": {"nerve": {condition: {"trip_c": trip, "clear_c": clear}}}})
    assert len(problems) == 1
    assert problems[0].startswith(f"roles.nerve.{condition}.clear_c: must be {side} trip_c")


def test_a_channel_trip_beyond_the_inherited_clear_is_reported_on_the_channel() -> None:
    problems = problems_of({"devices": [LINE_DEVICE], "channels": [
        channel("L4R", 0, alarms={"below_critical": {"trip_c": 12}})]})
    assert problems == ["channels[0].alarms.below_critical.clear_c: must be above trip_c on a "
                        "low-side condition (got trip_c=12, clear_c=11)"]


@pytest.mark.parametrize("condition", ["freezing", "below_critical", "below_warning",
                                       "predicted_below_critical", "falling_fast"])
def test_high_priority_cold_conditions_may_not_be_delayed_beyond_one_sample(
        condition: str) -> None:
    table = {"priority": "high", "delay_s": 1.5}
    problems = problems_of({"roles": {"nerve": {condition: table}}})
    assert len(problems) == 1
    assert problems[0].startswith(f"roles.nerve.{condition}.delay_s: ")
    assert "one sample" in problems[0] and "got 1.5" in problems[0]
    parse_config({"roles": {"nerve": {condition: {**table, "delay_s": "1 s"}}}}, "ok")
    parse_config({"roles": {"nerve": {condition: {"priority": "medium", "delay_s": 5}}}}, "ok")


def test_a_channel_raising_priority_on_a_delayed_condition_is_caught() -> None:
    data = {"roles": {"nerve": {"below_warning": {"delay_s": 3}}},
            "devices": [LINE_DEVICE],
            "channels": [channel("L4R", 0, alarms={"below_warning": {"priority": "high"}})]}
    problems = problems_of(data)
    assert len(problems) == 1
    assert problems[0].startswith("channels[0].alarms.below_warning.delay_s:")


def test_hot_conditions_may_be_delayed() -> None:
    parse_config({"roles": {"nerve": {"above_critical": {"delay_s": 3}}}}, "ok")


def test_ids_devices_and_indexes() -> None:
    data = {
        "devices": [LINE_DEVICE, {**LINE_DEVICE, "port": "/dev/ttyUSB9"},
                    {"id": "adam", "protocol": "dcon", "port": "/dev/ttyUSB1"},
                    {"id": "m", "protocol": "modbus", "port": "/dev/ttyUSB2"}],
        "channels": [channel("A", 0), channel("A", 1), channel("B", 0),
                     {"id": "C", "device": "adam", "index": "k"},
                     {"id": "D", "device": "m", "index": 8},
                     {"id": "E", "device": "ghost", "index": 0}],
    }
    problems = problems_of(data)
    assert "devices[1].id: duplicate device id (first at devices[0]) (got 'tcbox')" in problems
    assert "channels[1].id: duplicate channel id (first at channels[0]) (got 'A')" in problems
    assert "channels[2].index: device 'tcbox' index 0 is already channel 'A' (got 0)" in problems
    assert any(p.startswith("channels[3].index: a dcon device numbers its channels")
               for p in problems)
    assert "channels[4].index: device 'm' has 8 channels (index 0-7) (got 8)" in problems
    assert any(p.startswith("channels[5].device: no such device") for p in problems)
    assert len(problems) == 6


def test_a_poll_interval_as_long_as_the_stale_delay_is_an_error() -> None:
    data = {"devices": [{"id": "adam", "protocol": "dcon", "port": "/dev/x",
                         "poll_interval_s": "2 s"}],
            "channels": [{"id": "A", "device": "adam", "index": 0}]}
    assert problems_of(data) == ["devices[0].poll_interval_s: must be shorter than the stale "
                                 "delay of channel 'A' (after_s = 2 s) (got 2)"]


def test_cross_checks_still_run_when_other_fields_are_wrong() -> None:
    data = {"station": {"name": "bad name"}, "devices": [LINE_DEVICE],
            "channels": [channel("A", 0), channel("A", 0)]}
    problems = problems_of(data)
    assert problems[0].startswith("station.name:")
    assert "channels[1].id: duplicate channel id (first at channels[0]) (got 'A')" in problems


def test_a_channel_on_a_broken_device_is_not_also_called_unknown() -> None:
    data = {"devices": [{**LINE_DEVICE, "baudrate": -1}], "channels": [channel("A", 0)]}
    problems = problems_of(data)
    assert len(problems) == 1 and problems[0].startswith("devices[0].baudrate:")


def test_line_millivolts_needs_type_and_one_cold_junction_source() -> None:
    base = {**LINE_DEVICE, "units": "mV"}
    LineDevice.model_validate({**base, "tc_type": "t", "cjc_c": "73.4 F"})
    LineDevice.model_validate({**base, "tc_type": "K", "cjc_channel": "cj"})
    both = problems_of({"devices": [{**base, "tc_type": "T", "cjc_c": 23, "cjc_channel": 5}]})
    assert both == ["devices[0].cjc_c: units = 'mV' needs exactly one cold-junction source, "
                    "cjc_c or cjc_channel (got both)"]
    unused = problems_of({"devices": [{**LINE_DEVICE, "cjc_c": 23}]})
    assert unused == ["devices[0].cjc_c: a cold-junction source is only used with units = 'mV'"]
    assert any("tc_type" in p for p in problems_of({"devices": [{**base, "tc_type": "X",
                                                                  "cjc_c": 1}]}))


def test_thermocouple_letters_are_known_to_the_conversion_library() -> None:
    assert set(TC_TYPES) <= set(thermocouple_its90.TYPES)


def test_device_defaults() -> None:
    config = parse_config({"devices": [
        LINE_DEVICE, {"id": "adam", "protocol": "dcon", "port": "socket://localhost:4001"},
        {"id": "m", "protocol": "modbus", "port": "/dev/x"}]}, "t")
    line, dcon, modbus = config.devices
    assert isinstance(line, LineDevice) and isinstance(dcon, DconDevice)
    assert isinstance(modbus, ModbusDevice)
    assert (line.baudrate, line.units, line.tc_type) == (115200, "C", None)
    assert (dcon.baudrate, dcon.address, dcon.checksum, dcon.poll_interval_s,
            dcon.timeout_s) == (9600, 1, False, 0.25, 0.3)
    assert (modbus.unit_id, modbus.start_register, modbus.channel_count, modbus.scale,
            modbus.open_value, modbus.cjc_register, modbus.cjc_scale) == (
        1, 30001, 8, 0.1, 0x7FFF, 30129, 0.01)
    assert ModbusDevice.register_address(30001) == (4, 0)
    assert ModbusDevice.register_address(40003) == (3, 2)
    assert problems_of({"devices": [{**LINE_DEVICE, "port": "htp://x"}]})[0].startswith(
        "devices[0].port: unknown serial URL scheme 'htp'")


# Units and overrides ---------------------------------------------------------------------

def test_unit_strings_are_converted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
[roles.nerve.below_critical]
trip_c = "50 F"
clear_c = "284.15 K"
[roles.nerve.falling_fast]
trip_c_per_min = "-0.1 °C/s"
clear_c_per_min = "-7.2 F/min"
[roles.nerve.predicted_below_critical]
horizon_s = "1.5 min"
clear_horizon_s = "2 min"
[roles.nerve.implausible_jump]
max_c_per_s = "300 °C/min"
min_step_c = "9 F"
[roles.nerve.stale]
after_s = "1500 ms"
[trend]
window_s = "0.5 min"
[cycles]
freeze_s = "12 min"
freeze_below_c = "-4 F"
"""))
    nerve = config.engine_spec().role_conditions[Role.NERVE]
    assert nerve[Condition.BELOW_CRITICAL].trip_c == pytest.approx(10.0)
    assert nerve[Condition.BELOW_CRITICAL].clear_c == pytest.approx(11.0)
    assert nerve[Condition.FALLING_FAST].trip_c_per_min == pytest.approx(-6.0)
    assert nerve[Condition.FALLING_FAST].clear_c_per_min == pytest.approx(-4.0)
    assert nerve[Condition.PREDICTED_BELOW_CRITICAL].horizon_s == pytest.approx(90.0)
    assert nerve[Condition.IMPLAUSIBLE_JUMP].max_c_per_s == pytest.approx(5.0)
    assert nerve[Condition.IMPLAUSIBLE_JUMP].min_step_c == pytest.approx(5.0)
    assert nerve[Condition.STALE].after_s == pytest.approx(1.5)
    assert config.engine_spec().trend.window_s == pytest.approx(30.0)
    assert config.cycles.freeze_s == 720.0
    assert config.cycles.freeze_below_c == pytest.approx(-20.0)


def test_role_then_channel_overrides_resolve_in_the_engine_spec() -> None:
    config = parse_config({
        "roles": {"nerve": {"below_critical": {"trip_c": 11, "clear_c": 12.5},
                            "below_warning": {"priority": "high"}},
                  "skin": {"freezing": {"enabled": False}}},
        "alarms": {"audio_pause_s": "90 s", "unknown_channel_role": "skin"},
        "trend": {"window_s": 20, "min_points": 7},
        "devices": [LINE_DEVICE],
        "channels": [channel("L4R", 0, label="L4 right", alarms={
                         "below_critical": {"trip_c": 12, "clear_c": 13, "latching": False}}),
                     channel("L4L", 1), channel("SK", 2, role="skin")],
    }, "t")
    spec = config.engine_spec()
    l4r, l4l, sk = spec.channels
    assert (l4r.id, l4r.label, l4r.device, l4r.index, l4r.role) == (
        "L4R", "L4 right", "tcbox", 0, Role.NERVE)
    crit = l4r.conditions[Condition.BELOW_CRITICAL]
    assert (crit.trip_c, crit.clear_c, crit.latching, crit.priority) == (
        12.0, 13.0, False, Priority.HIGH)
    # the prediction knows the channel's own limit
    assert l4r.conditions[Condition.PREDICTED_BELOW_CRITICAL].trip_c == 12.0
    assert l4l.conditions[Condition.BELOW_CRITICAL].trip_c == 11.0
    assert l4l.conditions[Condition.BELOW_CRITICAL].latching is True
    assert l4l.conditions[Condition.PREDICTED_BELOW_CRITICAL].trip_c == 11.0
    assert l4l.conditions[Condition.BELOW_WARNING].priority is Priority.HIGH
    assert l4l.conditions[Condition.BELOW_WARNING].trip_c == 15.0
    assert sk.enabled(Condition.FREEZING) is None
    assert sk.conditions[Condition.BELOW_WARNING].priority is Priority.LOW
    assert spec.audio_pause_s == 90.0
    assert (spec.trend.window_s, spec.trend.min_points) == (20.0, 7)
    # a channel the config does not name uses the resolved role, not the bare defaults
    unknown = spec.spec_for_unknown("ch9")
    assert unknown.role is Role.SKIN
    assert unknown.enabled(Condition.FREEZING) is None
    assert spec.role_conditions[Role.NERVE][Condition.BELOW_CRITICAL].trip_c == 11.0


def test_every_condition_is_overridable_and_every_role_has_defaults() -> None:
    overridable = set(ConditionOverrides.model_fields)
    assert overridable == {c.value for c in Condition if c is not Condition.DEVICE_LOST}
    for role in Role:
        assert set(defaults.ROLE_DEFAULTS[role]) == overridable


def test_default_config_spec_matches_the_built_in_defaults() -> None:
    spec = default_config().engine_spec()
    assert spec.channels == ()
    for role in Role:
        for condition, built_in in role_conditions(role).items():
            resolved = spec.role_conditions[role][condition]
            if condition is Condition.PREDICTED_BELOW_CRITICAL:
                assert resolved.trip_c == defaults.ROLE_DEFAULTS[role][
                    Condition.BELOW_CRITICAL]["trip_c"]
                resolved = type(resolved)(**{**{f: getattr(resolved, f) for f in
                                                resolved.__slots__}, "trip_c": None})
            assert resolved == built_in
    assert spec.audio_pause_s == defaults.AUDIO_PAUSE_S
    assert spec.trend.window_s == defaults.TREND_WINDOW_S


def test_a_replay_with_no_config_runs_the_default_configs_spec() -> None:
    """``cryoguard replay`` of a plain CSV skips the config layer: the spec must be the same."""
    assert default_engine_spec() == default_config().engine_spec()


# Shipped files ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_toml_loads(path: Path) -> None:
    config = load_config(path)
    assert describe_thresholds(config)
    json.dumps(config.snapshot())


def test_examples_cover_each_protocol_with_channel_overrides() -> None:
    protocols = set()
    for path in SHIPPED[1:]:
        config = load_config(path)
        protocols |= {d.protocol for d in config.devices}
        assert any(list(c.alarms.items()) for c in config.channels), path
    assert protocols == {"line", "dcon", "modbus"}


def test_default_toml_equals_the_built_in_defaults() -> None:
    path = REPO / "config" / "default.toml"
    loaded = load_config(path)
    assert loaded.engine_spec() == default_config().engine_spec()
    assert loaded.model_dump(exclude={"roles"}) == default_config().model_dump(exclude={"roles"})
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    # every role table repeats every built-in value, with no key left implicit
    for role in Role:
        for condition, values in defaults.ROLE_DEFAULTS[role].items():
            table = raw["roles"][role.value][condition]
            for key, value in values.items():
                expected = value.label if isinstance(value, Priority) else value
                assert table[key] == expected, (role, condition, key)
            assert {"priority", "latching", "delay_s", "enabled"} <= set(table)


def _field_names(model: type[Any]) -> set[str]:
    return set(model.model_fields)


def test_default_toml_documents_every_key() -> None:
    text = (REPO / "config" / "default.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    for section in ("station", "trend", "alarms", "cycles", "recording", "mqtt", "display"):
        model = Config.model_fields[section].annotation
        assert model is not None
        for key, info in model.model_fields.items():
            if key in raw.get(section, {}):
                assert raw[section][key] == info.default, (section, key)
            else:
                assert re.search(rf"^# {key} = ", text, re.M), f"[{section}] {key} undocumented"
    for model in (LineDevice, DconDevice, ModbusDevice, ChannelConfig):
        for key in model.model_fields:
            assert re.search(rf"^# {key} = ", text, re.M), f"{model.__name__}.{key} undocumented"


# Loading failures ------------------------------------------------------------------------

def test_toml_syntax_errors_give_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[station]\nname = \n"))
    assert re.search(r"not valid TOML: .*line 2, column \d+", info.value.problems[0])


def test_missing_file_directory_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[station]\noperator = "Dr M\xfcller"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xfc"):
        load_config(bad)


# What TOML can hold that a site never meant: nan and inf, integers of hundreds of digits,
# escape sequences and bidirectional overrides in strings ("\u001b[2J" is valid TOML).
NASTY_CHARS = "\x1b\x07\x00\n\t\x9b\u202e\u2066\x7f"
huge_integers = st.one_of(st.integers(10**12 + 1, 10**500), st.integers(-10**500, -10**12 - 1))
nasty_text = st.text(alphabet=st.sampled_from(list(NASTY_CHARS) + list("ab[2J;0]")),
                     min_size=1, max_size=8).filter(lambda s: any(c in NASTY_CHARS for c in s))
toml_scalars = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                         st.sampled_from([float("nan"), float("inf"), float("-inf")]),
                         huge_integers, st.text(max_size=8), nasty_text, st.booleans())
keys = st.sampled_from(["station", "devices", "channels", "roles", "trend", "alarms", "nerve",
                        "below_critical", "trip_c", "id", "device", "index", "protocol", "port",
                        "line", "dcon", "modbus", "alarms", "delay_s", "priority", "x",
                        "label", "operator", "name", "scale", "mqtt", "queue_limit", "cycles",
                        "freeze_s", "max_points", "publish_hz", "username"])
documents = st.recursive(toml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(keys, documents, max_size=5))
def test_any_document_gives_a_config_or_a_config_error(data: dict[str, Any]) -> None:
    try:
        config = parse_config(data, "fuzz")
    except ConfigError as exc:
        assert exc.problems and all(": " in p for p in exc.problems)
        for problem in exc.problems:  # the messages reach a terminal: nothing raw in them
            assert not control_characters(problem), problem
    else:
        assert_sane(config.model_dump())


def assert_sane(value: Any) -> None:
    """A config that validated holds only finite numbers of sane size and clean text."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert_sane(key)
            assert_sane(item)
    elif isinstance(value, list | tuple):
        for item in value:
            assert_sane(item)
    elif isinstance(value, float):
        assert math.isfinite(value) and abs(value) <= 1e12, value
    elif isinstance(value, int) and not isinstance(value, bool):
        assert abs(value) <= 1e12, value
    elif isinstance(value, str):
        assert not control_characters(value), repr(value)


# Hand-written TOML, as a site would type it: one bad value in an otherwise good file --------

GOOD_TOML = {
    "station": {"name": '"ct-suite-2"', "operator": '"IR team"'},
    "devices": {"id": '"tcbox"', "protocol": '"modbus"', "port": '"/dev/ttyUSB0"',
                "scale": "0.1", "baudrate": "9600"},
    "channels": {"id": '"L4R"', "label": '"L4 right"', "device": '"tcbox"', "index": "0",
                 "role": '"nerve"'},
    "roles.nerve.below_critical": {"trip_c": "10", "clear_c": "11"},
    "trend": {"window_s": "15", "max_points": "8192"},
    "cycles": {"freeze_s": "600", "passive_thaw_s": "480"},
    "mqtt": {"publish_hz": "2.0", "queue_limit": "10000", "username": '"ct"'},
}
NUMBER_FIELDS = [(section, key) for section, table in GOOD_TOML.items()
                 for key, value in table.items() if not value.startswith('"')]
TEXT_FIELDS = [(section, key) for section, table in GOOD_TOML.items()
               for key, value in table.items() if value.startswith('"')
               and key not in ("protocol", "role", "id", "device")]  # ids: see test_ids_*


def toml_text(section: str, key: str, value: str) -> str:
    lines = []
    for name, table in GOOD_TOML.items():
        lines.append(f"[[{name}]]" if name in ("devices", "channels") else f"[{name}]")
        for k, v in table.items():
            lines.append(f"{k} = {value if (name, k) == (section, key) else v}")
    return "\n".join(lines) + "\n"


def toml_string(text: str) -> str:
    """A TOML basic string: control characters as \\uXXXX escapes, which TOML decodes."""
    body = "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f
                   or c in '"\\' else c for c in text)
    return f'"{body}"'


def test_the_good_file_is_good(tmp_path: Path) -> None:
    from monitor.cli import main

    path = write(tmp_path, toml_text("", "", ""))
    assert main(["check-config", str(path)]) == 0


def _check_config_fails_on(tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str,
                           key: str, value: str) -> str:
    from monitor.cli import main

    path = write(tmp_path, toml_text(section, key, value))
    assert main(["check-config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"cryoguard check-config: {path}: 1 problem(s)", err
    field = ("channels[0]" if section == "channels" else "devices[0]"
             if section == "devices" else section) + f".{key}: "
    assert lines[1].startswith(f"  {field}"), err
    assert len(lines) == 2 and "Traceback" not in err
    assert not any(control_characters(line) for line in lines), repr(err)
    return lines[1]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(NUMBER_FIELDS),
       value=st.one_of(st.sampled_from(["nan", "inf", "-inf", "+nan"]),
                       huge_integers.map(str),
                       st.sampled_from(["1e300", "-1e300", "1e13"])))
def test_check_config_names_a_non_finite_or_huge_number(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], field: tuple[str, str],
        value: str) -> None:
    line = _check_config_fails_on(tmp_path, capsys, *field, value)
    assert len(line) < 300  # a 500-digit number is not echoed in full


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(TEXT_FIELDS),
       text=st.tuples(st.text(alphabet="abc -", max_size=4), nasty_text,
                      st.text(alphabet="abc -", max_size=4)).map("".join))
def test_check_config_refuses_control_characters_in_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], field: tuple[str, str],
        text: str) -> None:
    _check_config_fails_on(tmp_path, capsys, *field, toml_string(text))


def test_scale_nan_is_refused_with_the_field_named() -> None:
    problems = problems_of({"devices": [{"id": "m", "protocol": "modbus", "port": "/dev/x",
                                         "scale": float("nan")}]})
    assert problems == ["devices[0].scale: must be a finite number (got nan)"]


def test_a_key_with_an_escape_is_shown_without_it() -> None:
    problems = problems_of({"\x1b[2J": 1})
    assert len(problems) == 1 and "\x1b" not in problems[0] and "unknown section" in problems[0]


# Quick mode, snapshot, summary, credentials ----------------------------------------------

def test_quick_config_names_channels_by_position() -> None:
    config = quick_config("/dev/ttyUSB0", "dcon", [("L4R", "nerve"), ("SK", "skin"), ("P", "")])
    assert [d.id for d in config.devices] == ["dev0"]
    assert config.devices[0].protocol == "dcon" and config.devices[0].port == "/dev/ttyUSB0"
    assert [(c.id, c.index, c.role) for c in config.channels] == [
        ("L4R", 0, Role.NERVE), ("SK", 1, Role.SKIN), ("P", 2, Role.NERVE)]
    empty = quick_config("socket://localhost:5000", "line", None)
    assert empty.channels == [] and empty.engine_spec().channels == ()
    with pytest.raises(ConfigError, match="protocol"):
        quick_config("/dev/x", "usb", None)
    with pytest.raises(ConfigError, match=r"channels\[1\]\.role"):
        quick_config("/dev/x", "line", [("A", "nerve"), ("B", "nurse")])


def test_snapshot_is_json_reparses_and_hides_secrets() -> None:
    config = parse_config({
        "mqtt": {"url": "mqtts://ops:s3cret@broker:8883/ct", "username": "ops",
                 "password": "s3cret"},
        "devices": [LINE_DEVICE], "channels": [channel("A", 0, alarms={
            "below_critical": {"trip_c": "53.6 F", "clear_c": 13}})]}, "t")
    snapshot = config.snapshot()
    text = json.dumps(snapshot)
    assert "s3cret" not in text
    assert snapshot["mqtt"]["url"] == "mqtts://ops@broker:8883/ct"
    again = parse_config(json.loads(text), "snapshot")
    assert again.engine_spec() == config.engine_spec()


def test_describe_thresholds_marks_overrides() -> None:
    config = parse_config({
        "roles": {"nerve": {"below_warning": {"trip_c": 17, "clear_c": 18}}},
        "devices": [LINE_DEVICE],
        "channels": [channel("L4R", 0, alarms={"below_critical": {"trip_c": 12, "clear_c": 13}}),
                     channel("P", 1, role="probe")]}, "t")
    lines = describe_thresholds(config)
    text = "\n".join(lines)
    assert "role nerve (channels L4R):" in lines
    assert "role probe (channels P):" in lines
    assert re.search(r"below_warning +trip ≤ 17 °C, clear ≥ 18 °C; medium +\[roles override\]",
                     text)
    assert re.search(r"below_critical +trip ≤ 12 °C, clear ≥ 13 °C; high, latching "
                     r"+\[channel override\]", text)
    assert "audio pause 120 s" in lines[0]


def test_mqtt_credentials_fall_back_to_the_environment() -> None:
    config = parse_config({"mqtt": {"username": "site"}}, "t")
    env = {"CRYOGUARD_MQTT_USERNAME": "envuser", "CRYOGUARD_MQTT_PASSWORD": "envpass"}
    assert config.mqtt.credentials(env) == ("site", "envpass")
    assert default_config().mqtt.credentials({}) == (None, None)


@pytest.mark.parametrize(("section", "key", "value", "message"), [
    ("recording", "commit_interval_s", 2, "less than or equal to 1"),
    ("display", "colour", "purple", "'auto', 'always' or 'never'"),
    ("mqtt", "url", "http://x", "mqtt:// or mqtts://"),
    ("mqtt", "qos_events", 3, "0, 1 or 2"),
    ("cycles", "freeze_fall_c_per_min", 5, "a fall must be negative"),
    ("trend", "min_points", 1, "greater than or equal to 2"),
    ("alarms", "audio_pause_s", 0, "greater than zero"),
])
def test_section_limits(section: str, key: str, value: object, message: str) -> None:
    problems = problems_of({section: {key: value}})
    assert len(problems) == 1
    assert problems[0].startswith(f"{section}.{key}: ") and message in problems[0]


def test_clinical_defaults_doc_lists_every_condition_and_key() -> None:
    text = (REPO / "docs" / "clinical-defaults.md").read_text(encoding="utf-8")
    for condition in Condition:
        assert f"`{condition.value}`" in text, condition
    for section in ("trend", "alarms", "cycles"):
        model = Config.model_fields[section].annotation
        assert model is not None
        for key in model.model_fields:
            assert f"`{key}`" in text, (section, key)
    for key in ("commit_interval_s", "publish_hz", "refresh_hz", "poll_interval_s", "timeout_s"):
        assert key in text
    assert "NOT FOUND" in text and "protection goal, not an injury point" in text
