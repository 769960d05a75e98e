"""Home Assistant discovery against a real mosquitto, checked with Home Assistant's own rules.

The checker below is written from Home Assistant's MQTT integration (homeassistant/components/
mqtt: ``discovery.py`` TOPIC_MATCHER, ``schemas.py`` availability/device/origin schemas,
``sensor.py`` and ``binary_sensor.py`` platform schemas), not from our code: required keys,
their types, the topic form, the device-identifier rule. The configs are read back with
``mosquitto_sub`` as Home Assistant would receive them (retained).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from typing import Any

import pytest

from monitor.config.schema import MqttConfig
from monitor.engine.channel import ChannelView
from monitor.mqtt.connection import MqttSettings
from monitor.mqtt.discovery import Discovery
from monitor.outputs.mqtt import MqttOutput
from tests.mqtt_broker import Broker, broker, require_tool  # noqa: F401  (fixture)
from tests.test_mqtt_publisher import FakeContext, Running, connected, snapshot, until

# Home Assistant's rules -----------------------------------------------------------------------

TOPIC_MATCHER = re.compile(r"homeassistant/(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)"
                           r"?(?P<object_id>[a-zA-Z0-9_-]+)/config")
SENSOR_DEVICE_CLASSES = {"temperature", "humidity", "pressure", "voltage", "current", "power",
                         "energy", "battery", "duration", "signal_strength", "timestamp"}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
BINARY_DEVICE_CLASSES = {"battery", "cold", "connectivity", "door", "gas", "heat", "lock",
                         "moisture", "motion", "occupancy", "opening", "plug", "power",
                         "presence", "problem", "running", "safety", "smoke", "sound",
                         "tamper", "update", "vibration", "window"}
COMMON = {"availability_topic": "topic", "availability_template": str,
          "payload_available": str, "payload_not_available": str, "availability": list,
          "availability_mode": str, "device": "device", "origin": "origin",
          "enabled_by_default": bool, "entity_category": str, "icon": str,
          "json_attributes_topic": "topic", "json_attributes_template": str,
          "object_id": str, "unique_id": str, "name": str, "qos": int,
          "state_topic": "topic", "value_template": str, "encoding": str,
          "expire_after": "positive_int", "force_update": bool}
PLATFORM = {
    "sensor": {"device_class": SENSOR_DEVICE_CLASSES, "state_class": STATE_CLASSES,
               "unit_of_measurement": str, "last_reset_value_template": str,
               "suggested_display_precision": int},
    "binary_sensor": {"device_class": BINARY_DEVICE_CLASSES, "payload_on": str,
                      "payload_off": str, "off_delay": int},
}


def valid_subscribe_topic(value: object) -> bool:
    if not isinstance(value, str) or not value or "\0" in value:
        return False
    if len(value.encode("utf-8")) > 65535:
        return False
    levels = value.split("/")
    return all(level in ("+", "#") or ("+" not in level and "#" not in level)
               for level in levels) and ("#" not in value or value.endswith("#"))


def check_ha_config(topic: str, config: dict[str, Any]) -> str:
    """Raise AssertionError where Home Assistant would refuse; returns the component."""
    match = TOPIC_MATCHER.fullmatch(topic)
    assert match, f"{topic}: not a discovery topic Home Assistant reads"
    component = match["component"]
    assert component in PLATFORM, component
    assert "state_topic" in config, f"{topic}: state_topic is required"
    assert not ("availability_topic" in config and "availability" in config), \
        "availability_topic and availability are exclusive"
    rules = {**COMMON, **PLATFORM[component]}
    for key, value in config.items():
        assert key in rules, f"{topic}: {key} is not a key of the {component} schema"
        rule = rules[key]
        if rule == "topic":
            assert valid_subscribe_topic(value), (key, value)
        elif rule == "positive_int":
            assert isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif rule == "device":
            assert isinstance(value, dict)
            ids, links = value.get("identifiers", []), value.get("connections", [])
            assert ids or links, "a device needs identifiers or connections"
            ids = ids if isinstance(ids, list) else [ids]
            assert all(isinstance(i, str) for i in ids)
            assert all(isinstance(v, str) for k, v in value.items() if k not in
                       ("identifiers", "connections"))
        elif rule == "origin":
            assert isinstance(value, dict) and isinstance(value.get("name"), str)
        elif isinstance(rule, set):
            assert value in rule, (key, value)
        else:
            assert isinstance(value, rule) and not (rule is int and isinstance(value, bool)), \
                (key, value)
    return component


# Against the broker -------------------------------------------------------------------------

def retained(server: Broker, pattern: str = "homeassistant/#") -> dict[str, bytes]:
    """Every retained message under ``pattern``, read by mosquitto_sub (as HA subscribes)."""
    tool = require_tool("mosquitto_sub", "mosquitto-clients")
    out = subprocess.run([tool, "-h", server.host, "-p", str(server.port), "-t", pattern,
                          "-v", "--retained-only", "-W", "1", "-F", "%t\t%p"],
                         capture_output=True, timeout=20, check=False).stdout
    found = {}
    for line in out.decode("utf-8").splitlines():
        topic, _, payload = line.partition("\t")
        found[topic] = payload.encode("utf-8")
    return found


def views(*ids: str) -> tuple[ChannelView, ...]:
    return tuple(ChannelView(id=c, label=f"L4 {c} foramen", role="nerve", t=1.0,
                             temp_c=30.0) for c in ids)


def output_for(server: Broker, station: str, discovery: bool | None) -> MqttOutput:
    config = MqttConfig() if discovery is None else MqttConfig(discovery=discovery)
    settings = MqttSettings.resolve(server.url(station), config, env={}, warn=lambda m: None)
    fields = {f: getattr(settings, f) for f in settings.__dataclass_fields__}
    fields.update(backoff_min_s=0.05, backoff_max_s=0.2, publish_hz=20.0)
    return MqttOutput(None, settings=MqttSettings(**fields))


async def test_discovery_configs_follow_home_assistants_schema(broker: Broker) -> None:  # noqa: F811
    state = snapshot(*views("L4R", "L5L"))
    output = output_for(broker, "ct.suite-9", True)
    async with Running(output, FakeContext(state)):
        await connected(output)
        output.on_snapshot(state)
        await until(lambda: not output.publisher._retained)
        found = await asyncio.to_thread(retained, broker)
        ours = {t: json.loads(p) for t, p in found.items() if "cryoguard_ct_suite-9" in t}
        assert set(ours) == {"homeassistant/sensor/cryoguard_ct_suite-9_L4R/config",
                             "homeassistant/sensor/cryoguard_ct_suite-9_L5L/config",
                             "homeassistant/binary_sensor/cryoguard_ct_suite-9_alarm/config"}
        for topic, config in ours.items():
            component = check_ha_config(topic, config)
            assert config["availability_topic"] == "cryoguard/ct.suite-9/status"
            assert config["device"]["identifiers"] == ["cryoguard_ct_suite-9_station"]
            if component == "sensor":
                assert config["state_topic"].startswith("cryoguard/ct.suite-9/channel/")
                assert (config["unit_of_measurement"], config["device_class"]) == \
                    ("°C", "temperature")
                assert config["value_template"] == "{{ value_json.temp_c }}"
            else:
                assert config["state_topic"] == "cryoguard/ct.suite-9/alarms"
        unique = [c["unique_id"] for c in ours.values()]
        assert len(set(unique)) == len(unique)
        # The channel states these templates read are the contract's JSON, with temp_c.
        states = await asyncio.to_thread(_one_state, broker, "cryoguard/ct.suite-9/channel/L4R")
        assert json.loads(states)["temp_c"] == 30.0
        # A channel leaves the station: its entity is removed (empty retained config).
        output.on_snapshot(snapshot(*views("L4R")))
        await until(lambda: not output.publisher._retained)
        after = await asyncio.to_thread(retained, broker)
        assert "homeassistant/sensor/cryoguard_ct_suite-9_L5L/config" not in after
        assert "homeassistant/sensor/cryoguard_ct_suite-9_L4R/config" in after


def _one_state(server: Broker, topic: str) -> str:
    tool = require_tool("mosquitto_sub", "mosquitto-clients")
    return subprocess.run([tool, "-h", server.host, "-p", str(server.port), "-t", topic,
                           "-C", "1", "-W", "5"], capture_output=True, text=True, timeout=20,
                          check=True).stdout


async def test_discovery_is_off_unless_asked_and_false_clears_a_station(
        broker: Broker) -> None:  # noqa: F811
    state = snapshot(*views("A1"))
    for discovery in (True, None, False):
        output = output_for(broker, "room-ha", discovery)
        async with Running(output, FakeContext(state)):
            await connected(output)
            output.on_snapshot(state)
            await until(lambda out=output: not out.publisher._retained)  # type: ignore[misc]
            found = await asyncio.to_thread(retained, broker)
        ours = [t for t in found if "cryoguard_room-ha" in t]
        if discovery in (True, None):
            assert len(ours) == 2  # published by the first run, untouched by the second
        else:
            assert ours == []  # "discovery = false" set explicitly removed the station


@pytest.mark.parametrize("station", ["ct-suite-2", "or.3", "A_b-9.x"])
def test_every_config_passes_the_checker(station: str) -> None:
    discovery = Discovery(station, True)
    changes = discovery.changes(snapshot(*views("L4R", "EPI_1")))
    assert len(changes) == 3
    for topic, config in changes:
        assert config is not None
        check_ha_config(topic, json.loads(json.dumps(config)))
    assert discovery.changes(snapshot(*views("L4R", "EPI_1"))) == []  # nothing new to send


def test_the_checker_refuses_what_home_assistant_refuses() -> None:
    good = Discovery("s", True).changes(snapshot(*views("L4R")))[1]
    topic, config = good[0], dict(good[1] or {})
    for broken in ({**config, "state_topic": "a/#/b"},
                   {k: v for k, v in config.items() if k != "state_topic"},
                   {**config, "device": {"name": "no id"}},
                   {**config, "device_class": "temp"},
                   {**config, "expire_after": "5"},
                   {**config, "availability": [{"topic": "x"}]},
                   {**config, "colour": "red"}):
        with pytest.raises(AssertionError):
            check_ha_config(topic, broken)
    with pytest.raises(AssertionError):
        check_ha_config("homeassistant/sensor/cryoguard_a.b_c/config", config)
