"""Every default CryoGuard ships with, each written once, here.

The engine spec (``monitor.engine.spec``), the config schema (``monitor.config.schema``), the
cycle tracker and the drivers read their defaults from this module; none of them writes a
default number of its own. Each value is listed with its source (or "engineering choice") in
``docs/clinical-defaults.md``; ``config/default.toml`` repeats them for the reader and tests
keep the three in step.

This module imports nothing from CryoGuard but :mod:`monitor.model` (which imports only the
standard library), so anything may import it without an import cycle. Conditions are named by
their config key (``"below_critical"``); ``monitor.engine.spec`` turns them into resolved
specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from monitor.model import Priority, Role

H, M, L = Priority.HIGH, Priority.MEDIUM, Priority.LOW

# Per-role alarm conditions ----------------------------------------------------------------
# Keys per condition: the ConditionSpec fields (trip_c, clear_c, horizon_s, ...). Keys left
# out take the ConditionSpec defaults below (enabled, not latching, no delay).

CONDITION_ENABLED = True
CONDITION_LATCHING = False
CONDITION_DELAY_S = 0.0  # engineering choice; a high-priority cold condition may not exceed
HIGH_COLD_MAX_DELAY_S = 1.0  # "never more than one sample" (docs/clinical-defaults.md)

# Sag & Husain 2022: keep the juxtaneural temperature within 10-45 °C; act before 10 °C.
BELOW_WARNING_C = 15.0
BELOW_CRITICAL_C = 10.0
FREEZING_C = 0.0
ABOVE_WARNING_C = 42.0
ABOVE_CRITICAL_C = 45.0
FALLING_FAST_C_PER_MIN = -6.0  # the falling_fast trip; the display's ⇊ arrow starts here too
HYSTERESIS_C = 1.0  # every level clears 1 °C past its trip (thermocouple accuracy ±1 °C)

_COLD_HOT: dict[str, dict[str, Any]] = {
    "below_warning": {"trip_c": BELOW_WARNING_C, "clear_c": BELOW_WARNING_C + HYSTERESIS_C,
                      "priority": M},
    "below_critical": {"trip_c": BELOW_CRITICAL_C, "clear_c": BELOW_CRITICAL_C + HYSTERESIS_C,
                       "priority": H, "latching": True},
    "freezing": {"trip_c": FREEZING_C, "clear_c": FREEZING_C + HYSTERESIS_C, "priority": H,
                 "latching": True},
    "predicted_below_critical": {"horizon_s": 60.0, "clear_horizon_s": 90.0, "priority": M},
    "falling_fast": {"trip_c_per_min": FALLING_FAST_C_PER_MIN, "clear_c_per_min": -4.0,
                     "priority": L},
    "above_warning": {"trip_c": ABOVE_WARNING_C, "clear_c": ABOVE_WARNING_C - HYSTERESIS_C,
                      "priority": M},
    "above_critical": {"trip_c": ABOVE_CRITICAL_C, "clear_c": ABOVE_CRITICAL_C - HYSTERESIS_C,
                       "priority": H, "latching": True},
}

STALE_AFTER_S = 2.0  # no valid reading for 2 s (engineering choice)
JUMP_MIN_STEP_C = 3.0  # a smaller step is never called implausible
JUMP_MAX_C_PER_S = 10.0  # no needle thermocouple (10-15 s lag) moves this fast
PROBE_JUMP_MAX_C_PER_S = 60.0  # a probe tip falls very fast when a freeze starts
STUCK_AFTER_S = 300.0  # engineering choice: a frozen converter repeats one value


def _technical(sensor: Priority, data: Priority, jump_c_per_s: float, stuck: bool
               ) -> dict[str, dict[str, Any]]:
    return {
        "sensor_open": {"priority": sensor},
        "sensor_short": {"priority": sensor},
        "out_of_range": {"priority": sensor},
        "stale": {"after_s": STALE_AFTER_S, "priority": sensor},
        "stuck": {"after_s": STUCK_AFTER_S, "priority": L, "enabled": stuck},
        "bad_data": {"priority": data},
        "implausible_jump": {"max_c_per_s": jump_c_per_s, "min_step_c": JUMP_MIN_STEP_C,
                             "priority": data},
    }


def _disabled(conditions: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c: {**values, "enabled": False} for c, values in conditions.items()}


_SKIN_COLD_HOT: dict[str, dict[str, Any]] = {
    **_COLD_HOT,
    "below_warning": {**_COLD_HOT["below_warning"], "priority": L},
    "below_critical": {**_COLD_HOT["below_critical"], "priority": M, "latching": False},
    "predicted_below_critical": {**_COLD_HOT["predicted_below_critical"], "enabled": False},
    "falling_fast": {**_COLD_HOT["falling_fast"], "enabled": False},
}

ROLE_DEFAULTS: Mapping[Role, Mapping[str, Mapping[str, Any]]] = MappingProxyType({
    # Juxtaneural needles: the protection window 10-45 °C (Sag & Husain 2022).
    Role.NERVE: {**_COLD_HOT, **_technical(H, M, JUMP_MAX_C_PER_S, stuck=True)},
    # Skin: frostbite and burns matter, nerve injury does not: one step lower priorities.
    Role.SKIN: {**_SKIN_COLD_HOT, **_technical(M, M, JUMP_MAX_C_PER_S, stuck=True)},
    # Probe / ice-ball reference: fast and deep by design; only sensor health is alarmed. A
    # probe held at its working temperature may read one value for minutes: no stuck alarm.
    Role.PROBE: {**_disabled(_COLD_HOT), **_technical(M, L, PROBE_JUMP_MAX_C_PER_S, stuck=False)},
    # A reference (ice point, room) may legitimately be constant: no stuck alarm.
    Role.REFERENCE: {**_disabled(_COLD_HOT), **_technical(M, L, JUMP_MAX_C_PER_S, stuck=False)},
    Role.OTHER: {**_disabled(_COLD_HOT), **_technical(M, L, JUMP_MAX_C_PER_S, stuck=False)},
})

# The levels every channel's statistics count time below (cycle summaries), when its own
# conditions do not name them: the nerve levels.
NERVE_LEVELS_C = (BELOW_WARNING_C, BELOW_CRITICAL_C, FREEZING_C)

# Engine: plausibility, technical alarms ---------------------------------------------------

HIGHEST_PLAUSIBLE_C = 2000.0  # above every thermocouple type's range: out_of_range
DEVICE_LOST_PRIORITY = H  # serial disconnect: loss of the only safeguard
DEVICE_BAD_DATA_PRIORITY = M  # one garbled frame is not yet a lost sensor
OUTPUT_FAULT_PRIORITY = M  # an output (recorder, MQTT, ...) failed or fell behind
CYCLE_TARGET_PRIORITY = L  # a phase reached its protocol target: a reminder
UNKNOWN_CHANNEL_ROLE = Role.NERVE  # a channel missing from the config gets the strictest role
TIME_AT_LEVEL_HOLD_S = 2.0  # a sample counts this long at most when a channel has no stale delay

# Trend ([trend]) --------------------------------------------------------------------------

TREND_WINDOW_S = 15.0  # longer than the 10-15 s lag of a needle thermocouple
TREND_MIN_POINTS = 5  # engineering choice
TREND_MAX_GAP_S = 2.0  # engineering choice: the same as the stale delay
TREND_MIN_SPAN_S = 5.0  # engineering choice: a third of the window
TREND_MAX_POINTS = 8192  # memory bound of one channel's trend window

# Alarm handling ([alarms]) ----------------------------------------------------------------

AUDIO_PAUSE_S = 120.0  # typical 2-min audio pause of alarm systems

# Freeze-thaw cycles ([cycles]) ------------------------------------------------------------

CYCLE_DETECT = True
CYCLE_FREEZE_S = 600.0  # 10-min freeze
CYCLE_PASSIVE_THAW_S = 480.0  # 8-min passive thaw (within the 5-10 min of the protocol)
CYCLE_SECOND_FREEZE_S = 600.0  # 10-min second freeze
CYCLE_ACTIVE_THAW_S: float | None = None  # optional target, none by default
CYCLE_FREEZE_BELOW_C = -20.0  # lethal ice about -20 °C
CYCLE_FREEZE_FALL_C_PER_MIN = -20.0
CYCLE_THAW_RISE_C_PER_MIN = 10.0
CYCLE_ACTIVE_THAW_ABOVE_C = 0.0
CYCLE_ACTIVE_THAW_RISE_C_PER_MIN = 30.0

# Station and devices ([station], [[devices]]) ---------------------------------------------

STATION_NAME = "cryoguard"
LINE_BAUDRATE = 115200  # common USB-serial rate of Arduino/MAX31856 boxes
LINE_UNITS: Literal["C", "mV"] = "C"
LINE_CHECKSUM = False  # most line devices send no checksum; *HH (NMEA 0183) when configured
DEVICE_DATA_FORMAT: Literal["auto"] = "auto"  # read from the module at connect, never assumed
SERIAL_BAUDRATE = 9600  # factory setting of RS-485 modules (ADAM-4000, I-7000, M-7000)
DCON_BAUDRATE = SERIAL_BAUDRATE  # ADAM-4000 / I-7000 factory default
DCON_ADDRESS = 1
DCON_CHECKSUM = False  # module factory setting
DCON_CONFIG_ATTEMPTS = 3  # $AAM/$AA2 asked this often at connect before the module is refused
DEVICE_POLL_INTERVAL_S = 0.25  # 4 Hz per channel: acquire at >= 4 Hz
DEVICE_TIMEOUT_S = 0.3  # a DCON/Modbus reply takes a few ms at 9600 baud; 0.3 s is generous
DEVICE_MAX_TIMEOUTS = 3  # consecutive unanswered polls before the device is lost
DEVICE_LOST_AFTER_S = 1.0  # silence after which a polled device is lost
MODBUS_BAUDRATE = SERIAL_BAUDRATE
MODBUS_UNIT_ID = 1
MODBUS_START_REGISTER = 30001  # ICP DAS M-7018 layout: channels 0-7 at 30001-30008
MODBUS_CHANNEL_COUNT = 8
MODBUS_SCALE_C = 0.1  # °C per count, signed int16
MODBUS_OPEN_VALUE = 0x7FFF  # the count that means an open thermocouple
MODBUS_UNDER_VALUE = 0x8000  # the count that means under range
MODBUS_READ_CJC = False  # true: the cold junction is read as a channel with index = "cjc"
MODBUS_CJC_REGISTER = 30129  # M-7018: cold junction at 30129
MODBUS_CJC_SCALE_C = 0.01
RECONNECT_INITIAL_S = 0.2  # reconnect backoff: 0.2 s doubling to 5 s
RECONNECT_FACTOR = 2.0
RECONNECT_MAX_S = 5.0

# Outputs ([recording], [mqtt], [display]) -------------------------------------------------

RECORDING_ENABLED = True
RECORDING_DIRECTORY = "sessions"
RECORDING_COMMIT_INTERVAL_S = 1.0  # the contract: samples committed at least once a second
MQTT_PUBLISH_HZ = 2.0
MQTT_QOS_EVENTS: Literal[0, 1, 2] = 1
MQTT_QUEUE_LIMIT = 10000
MQTT_DISCOVERY = False  # Home Assistant discovery configs only when a site asks for them
DISPLAY_BELL = True
DISPLAY_REFRESH_HZ = 10.0
DISPLAY_MAX_REFRESH_HZ = 10.0  # a 64-row frame costs ~13 ms: 10 Hz is the ceiling
DISPLAY_SPARKLINE_S = 300.0
# Trend arrows: → within ±0.3 °C/min (a needle thermocouple's noise; engineering choice), ↓/↑
# beyond, ⇊/⇈ from the falling_fast rate (the same figure both ways, so ⇊ and the alarm agree).
DISPLAY_ARROW_STEADY_C_PER_MIN = 0.3
DISPLAY_ARROW_FAST_C_PER_MIN = -FALLING_FAST_C_PER_MIN
DISPLAY_COLOUR: Literal["auto", "always", "never"] = "auto"

# What to do, shown under a physiological alarm on the bedside screen ----------------------
# Keys: "<role>.<condition>" or "<condition>"; a site replaces them in [display.actions]. All
# engineering choices, worded after the protection goal (act before the limit: CO2 or warm
# saline, Sag & Husain 2022) and the Strasbourg series (a temporary interruption of the freeze
# and warm saline restored function, Tsoumakidou 2013); docs/display.md lists them and
# docs/clinical-defaults.md gives the sources.
ALARM_ACTIONS: Mapping[str, str] = MappingProxyType({
    "nerve.below_warning": "consider CO2 / warm saline; watch the trend",
    "nerve.predicted_below_critical": "consider CO2 / warm saline now",
    "nerve.falling_fast": "cooling fast: prepare CO2 / warm saline",
    "nerve.below_critical": "consider CO2 / warm saline; consider pausing the freeze",
    "nerve.freezing": "consider stopping the freeze; warm saline",
    "nerve.above_warning": "too warm: stop warm saline",
    "nerve.above_critical": "stop warm saline / heating now",
    "skin.below_warning": "warm the skin at the entry site",
    "skin.below_critical": "warm the skin now; consider pausing the freeze",
    "skin.freezing": "skin freezing: warm it; consider stopping the freeze",
})
ALARM_ACTION_MAX_CHARS = 80  # one line of an 80-column screen
