"""``--mqtt`` URLs: what parses, what is refused with a clear message, and never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import UsageError
from monitor.mqtt.topics import TopicRef, Topics, parse_topic
from monitor.mqtt.url import MqttUrl, MqttUrlError, parse_mqtt_url


@pytest.mark.parametrize(("text", "expected"), [
    ("mqtt://broker/ct-suite-2", MqttUrl("mqtt", "broker", 1883, "ct-suite-2")),
    ("mqtts://broker/ct-suite-2", MqttUrl("mqtts", "broker", 8883, "ct-suite-2")),
    ("MQTT://127.0.0.1:1884/room-a", MqttUrl("mqtt", "127.0.0.1", 1884, "room-a")),
    ("mqtt://alice:s3cr%40t@broker:2000/or.3",
     MqttUrl("mqtt", "broker", 2000, "or.3", "alice", "s3cr@t")),
    ("mqtt://alice@broker/x", MqttUrl("mqtt", "broker", 1883, "x", "alice", None)),
    ("mqtt://broker", MqttUrl("mqtt", "broker", 1883, None)),
    ("mqtt://broker/", MqttUrl("mqtt", "broker", 1883, None)),
    ("mqtt://[::1]:1883/x", MqttUrl("mqtt", "::1", 1883, "x")),
    ("  mqtt://broker/x  ", MqttUrl("mqtt", "broker", 1883, "x")),
])
def test_good_urls(text: str, expected: MqttUrl) -> None:
    assert parse_mqtt_url(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("http://broker/x", "mqtt:// or mqtts://"),
    ("broker:1883/x", "mqtt:// or mqtts://"),
    ("mqtt:///x", "no broker host"),
    ("mqtt://broker:99999/x", "Port out of range"),
    ("mqtt://broker:abc/x", "Port could not be cast"),
    ("mqtt://broker:0/x", "port 0"),
    ("mqtt://broker/a/b", "one station name"),
    ("mqtt://broker/room+1", "station"),
    ("mqtt://broker/#", "#"),
    ("mqtt://broker/x?retain=1", "query"),
    ("mqtt://broker/-x", "station"),
])
def test_bad_urls_are_usage_errors_naming_the_problem(text: str, reason: str) -> None:
    with pytest.raises(MqttUrlError, match=None) as caught:
        parse_mqtt_url(text)
    assert isinstance(caught.value, UsageError)  # exit status 2
    assert reason.lower() in str(caught.value).lower()


def test_password_never_printed() -> None:
    url = parse_mqtt_url("mqtt://alice:hunter2@broker/x")
    assert "hunter2" not in url.redacted() and "alice:***@" in url.redacted()
    with pytest.raises(MqttUrlError) as caught:
        parse_mqtt_url("mqtt://alice:hunter2@broker:notaport/x")
    assert "hunter2" not in str(caught.value)


@given(st.text(max_size=80))
def test_any_text_parses_or_is_a_usage_error(text: str) -> None:
    try:
        url = parse_mqtt_url(text)
    except MqttUrlError:
        return
    assert url.scheme in ("mqtt", "mqtts") and url.host and 0 < url.port < 65536
    assert url.station is None or ("/" not in url.station and "+" not in url.station
                                   and "#" not in url.station)


stations = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){0,2}", fullmatch=True)


@given(st.sampled_from(["mqtt", "mqtts"]), hosts, st.none() | st.integers(1, 65535),
       stations, st.none() | st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True))
def test_round_trip(scheme: str, host: str, port: int | None, station: str,
                    user: str | None) -> None:
    text = f"{scheme}://{user + '@' if user else ''}{host}{':' + str(port) if port else ''}" \
           f"/{station}"
    url = parse_mqtt_url(text)
    assert (url.scheme, url.host, url.station, url.username) == (scheme, host, station, user)
    assert url.port == (port or (1883 if scheme == "mqtt" else 8883))
    assert parse_mqtt_url(url.redacted()).station == station


@given(stations, st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", fullmatch=True))
def test_topics_parse_back(station: str, channel: str) -> None:
    topics = Topics(station)
    assert parse_topic(topics.status) == TopicRef(station, "status")
    assert parse_topic(topics.event) == TopicRef(station, "event")
    assert parse_topic(topics.alarms) == TopicRef(station, "alarms")
    assert parse_topic(topics.channel(channel)) == TopicRef(station, "channel", channel)


@pytest.mark.parametrize("topic", ["other/x/status", "cryoguard/x", "cryoguard//status",
                                   "cryoguard/x/unknown", "cryoguard/x/channel",
                                   "cryoguard/x/channel/a/b"])
def test_foreign_topics_are_ignored(topic: str) -> None:
    assert parse_topic(topic) is None
